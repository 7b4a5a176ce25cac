"""Campaign configuration: a TOML file (see examples/campaign.toml).

    cfg = load_config("campaign.toml")           # CampaignConfig; raises ConfigError
    cfg = CampaignConfig(records_per_category=2)  # or built in code

Relative paths (`out`, `dataset`) are relative to the current directory. Unknown keys are
errors (a typo must not silently change a campaign). `fingerprint()` covers every setting that
decides *which* records a campaign produces; a campaign directory refuses to resume under a
config whose fingerprint differs (the stop condition, workers, batching and progress may change).
"""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from .. import targets as target_registry
from .generator import CATEGORIES, Limits

__all__ = ["CampaignConfig", "ConfigError", "load_config", "config_from_dict", "TARGETS"]

TARGETS = target_registry.runnable()  # targets whose devices run kernels


class ConfigError(ValueError):
    """A campaign config that cannot be used (one line naming the key)."""


@dataclass
class CampaignConfig:
    # [campaign]
    name: str = "campaign"
    seed: int = 0
    out: str = "campaign-out"
    dataset: str = ""  # the DatasetStore root; "" -> <out>/dataset
    categories: Tuple[str, ...] = CATEGORIES
    records_per_category: int = 10  # validated records per category (and target/device) to reach
    max_programs_per_category: int = 0  # generated programs per category before giving up (0: 4x + 20)
    targets: Tuple[str, ...] = (target_registry.DEFAULT,)
    devices: Tuple[str, ...] = ("default",)  # OpenCL device selectors: default, an index, a name part
    keep_failures: bool = True  # archive failing kernels too (COMPILE_ERROR, INCORRECT, ...)
    ai: bool = False  # also ask the LLM loop (uhop_cc.ai.loop.improve) with the [ai] settings
    # [shapes]
    limits: Limits = field(default_factory=Limits)
    # [lowering]
    strategy: str = "auto"
    analysis: bool = True  # run the static analyzer on every kernel
    analysis_gate: bool = False  # refuse kernels with analyzer errors (ANALYSIS_REJECTED) before building
    # [validation]
    validate: bool = True
    seeds: Tuple[int, ...] = (1, 2)
    time: bool = True
    time_budget_s: float = 0.02
    # [dedup]
    dedup_uir: bool = True
    dedup_kernel: bool = True
    dedup_sizes: bool = True  # a program at another shape is not a duplicate
    # [runner]
    workers: int = 2  # 0: run in the driver process
    batch_size: int = 8  # work items per task (and kernels per batched OpenCL build)
    batch_build: bool = True
    progress: bool = True
    # [ray]
    ray_address: str = ""
    ray_num_cpus: float = 1.0
    ray_num_gpus: float = 0.0
    ray_resources: Dict[str, float] = field(default_factory=dict)
    ray_max_in_flight: int = 0  # 0: 2x the cluster's CPUs
    # [ai]
    ai_provider: str = ""
    ai_model: str = ""
    ai_base_url: str = ""
    ai_samples: int = 2
    ai_rounds: int = 1
    path: Optional[str] = None  # the file it was read from

    def __post_init__(self):
        self.categories = tuple(self.categories)
        self.targets = tuple(self.targets)
        self.devices = tuple(str(d) for d in self.devices)
        self.seeds = tuple(int(s) for s in self.seeds)
        if isinstance(self.limits, Mapping):
            self.limits = _limits(self.limits)
        self.validate_values()

    def validate_values(self) -> None:
        bad = [c for c in self.categories if c not in CATEGORIES]
        if bad or not self.categories:
            raise ConfigError(f"campaign.categories: unknown {bad} (known: {', '.join(CATEGORIES)})")
        if len(set(self.categories)) != len(self.categories):
            raise ConfigError("campaign.categories: listed twice")
        bad = [t for t in self.targets if t not in TARGETS]
        if bad or not self.targets:
            raise ConfigError(f"campaign.targets: unknown {bad} (known: {', '.join(TARGETS)})")
        if not self.devices:
            raise ConfigError("campaign.devices: at least one device selector")
        if self.records_per_category < 0:
            raise ConfigError("campaign.records_per_category must be >= 0")
        if self.batch_size < 1:
            raise ConfigError("runner.batch_size must be >= 1")
        if self.workers < 0:
            raise ConfigError("runner.workers must be >= 0")
        if self.strategy not in ("auto", "generic") and not self.strategy.isidentifier():
            raise ConfigError("lowering.strategy: auto, generic or a template name")
        if not self.name or not all(ch.isalnum() or ch in "-_" for ch in self.name):
            raise ConfigError("campaign.name: letters, digits, - and _ only")

    # -- derived
    @property
    def max_programs(self) -> int:
        return self.max_programs_per_category or 4 * self.records_per_category + 20

    def out_dir(self) -> Path:
        return Path(self.out).expanduser()

    def dataset_dir(self, out_dir: Optional[Path] = None) -> Path:
        if self.dataset:
            return Path(self.dataset).expanduser()
        return Path(out_dir or self.out_dir()) / "dataset"

    def groups(self) -> Tuple[str, ...]:
        """Balance groups: one per (target, device)."""
        return tuple(f"{t}/{d}" for t in self.targets for d in self.devices)

    def fingerprint(self) -> str:
        keep = {"name": self.name, "seed": self.seed, "categories": list(self.categories),
                "targets": list(self.targets), "devices": list(self.devices), "limits": asdict(self.limits),
                "strategy": self.strategy, "dedup": [self.dedup_uir, self.dedup_kernel, self.dedup_sizes],
                "validate": self.validate, "seeds": list(self.seeds)}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def worker_settings(self) -> Dict[str, Any]:
        """What a worker needs (plain data: it crosses process and host boundaries)."""
        return {"name": self.name, "seed": self.seed, "limits": asdict(self.limits), "strategy": self.strategy,
                "analysis": self.analysis, "analysis_gate": self.analysis_gate, "validate": self.validate,
                "seeds": list(self.seeds), "time": self.time, "time_budget_s": self.time_budget_s,
                "batch_build": self.batch_build, "dedup_sizes": self.dedup_sizes, "ai": self.ai,
                "ai_settings": {"provider": self.ai_provider or None, "model": self.ai_model or None,
                                "base_url": self.ai_base_url or None, "samples": self.ai_samples,
                                "rounds": self.ai_rounds}}

    def to_json(self) -> Dict[str, Any]:
        from ..ai.providers import redact_url
        d = asdict(self)
        d["limits"] = asdict(self.limits)
        d["ai_base_url"] = redact_url(self.ai_base_url) or ""  # written to the campaign's folder
        return d


# ------------------------------------------------------------------ TOML
_SECTIONS: Dict[str, Dict[str, str]] = {
    "campaign": {"name": "name", "seed": "seed", "out": "out", "dataset": "dataset", "categories": "categories",
                 "records_per_category": "records_per_category",
                 "max_programs_per_category": "max_programs_per_category", "targets": "targets",
                 "devices": "devices", "keep_failures": "keep_failures", "ai": "ai"},
    "shapes": {"min_size": "limits.min_size", "max_size": "limits.max_size", "max_elements": "limits.max_elements",
               "dtypes": "limits.dtypes", "max_depth": "limits.max_depth"},
    "lowering": {"strategy": "strategy", "analysis": "analysis", "analysis_gate": "analysis_gate"},
    "validation": {"enabled": "validate", "seeds": "seeds", "time": "time", "time_budget_s": "time_budget_s"},
    "dedup": {"uir": "dedup_uir", "kernel": "dedup_kernel", "sizes": "dedup_sizes"},
    "runner": {"workers": "workers", "batch_size": "batch_size", "batch_build": "batch_build",
               "progress": "progress"},
    "ray": {"address": "ray_address", "num_cpus": "ray_num_cpus", "num_gpus": "ray_num_gpus",
            "resources": "ray_resources", "max_in_flight": "ray_max_in_flight"},
    "ai": {"enabled": "ai", "provider": "ai_provider", "model": "ai_model", "base_url": "ai_base_url",
           "samples": "ai_samples", "rounds": "ai_rounds"},
}
_TYPES = {f.name: f.type for f in fields(CampaignConfig)}


def _limits(d: Mapping[str, Any]) -> Limits:
    try:
        kw = dict(d)
        if "dtypes" in kw:
            kw["dtypes"] = tuple(kw["dtypes"])
        return Limits(**kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"shapes: {e}") from None


def config_from_dict(data: Mapping[str, Any], path: Optional[Union[str, Path]] = None) -> CampaignConfig:
    kw: Dict[str, Any] = {}
    limits: Dict[str, Any] = {}
    for section, body in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section [{section}] (known: {', '.join(_SECTIONS)})")
        if not isinstance(body, Mapping):
            raise ConfigError(f"[{section}] must be a table")
        for key, value in body.items():
            target = _SECTIONS[section].get(key)
            if target is None:
                raise ConfigError(f"unknown key {section}.{key} (known: {', '.join(_SECTIONS[section])})")
            if target.startswith("limits."):
                limits[target[7:]] = value
            else:
                kw[target] = _coerce(f"{section}.{key}", target, value)
    if limits:
        kw["limits"] = _limits(limits)
    kw["path"] = str(path) if path else None
    try:
        return CampaignConfig(**kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e)) from None


def _coerce(where: str, name: str, value: Any) -> Any:
    want = str(_TYPES.get(name, ""))
    try:
        if want.startswith("Tuple"):
            if isinstance(value, (str, int)):
                value = [value]
            return tuple(value)
        if want == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if want == "int":
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if want == "float":
            return float(value)
        if want == "str":
            return str(value)
        if want.startswith("Dict"):
            return {str(k): float(v) for k, v in dict(value).items()}
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {want.lower()}, got {value!r}") from None
    return value


def load_config(path: Union[str, Path]) -> CampaignConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    return config_from_dict(data, path)
