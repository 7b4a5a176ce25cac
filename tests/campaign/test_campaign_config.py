"""Campaign TOML configs."""
from __future__ import annotations

import pytest

from campaign_helpers import ROOT

from uhop_cc.campaign import CATEGORIES, ConfigError, config_from_dict, load_config


def test_example_config_loads():
    cfg = load_config(ROOT / "examples" / "campaign.toml")
    assert cfg.categories == CATEGORIES and cfg.targets == ("opencl",) and cfg.ai is False
    assert cfg.limits.max_elements == 4096 and cfg.batch_build and cfg.dedup_kernel
    assert cfg.groups() == ("opencl/default",)
    assert len(cfg.fingerprint()) == 16


def test_sections_and_errors(tmp_path):
    cfg = config_from_dict({"campaign": {"name": "x", "categories": ["matrix"], "records_per_category": 3},
                            "shapes": {"max_size": 8, "dtypes": ["f32"]}, "runner": {"workers": 0},
                            "ai": {"provider": "openai", "rounds": 2}, "ray": {"resources": {"gpu_host": 1}}})
    assert cfg.categories == ("matrix",) and cfg.limits.max_size == 8 and cfg.limits.dtypes == ("f32",)
    assert cfg.workers == 0 and cfg.ai_provider == "openai" and cfg.ray_resources == {"gpu_host": 1.0}
    assert cfg.worker_settings()["ai_settings"]["rounds"] == 2
    for bad in ({"campaign": {"nmae": "x"}}, {"oops": {}}, {"campaign": {"categories": ["nope"]}},
                {"campaign": {"targets": ["ttmetal"]}}, {"runner": {"workers": "two"}},
                {"shapes": {"dtypes": ["f8"]}}, {"campaign": {"keep_failures": "yes"}}):
        with pytest.raises(ConfigError):
            config_from_dict(bad)
    p = tmp_path / "bad.toml"
    p.write_text("[campaign\nname = 1")
    with pytest.raises(ConfigError):
        load_config(p)


def test_fingerprint_ignores_what_may_change_on_resume():
    a = config_from_dict({"campaign": {"records_per_category": 1}, "runner": {"workers": 1}})
    b = config_from_dict({"campaign": {"records_per_category": 9}, "runner": {"workers": 4, "batch_size": 2}})
    c = config_from_dict({"campaign": {"seed": 7}})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
