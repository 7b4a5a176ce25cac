"""`dataset analyze` and `dataset export` on a campaign's dataset, and the CLI."""
from __future__ import annotations

import json

import pytest

from campaign_helpers import cli, needs_opencl

from uhop_cc.campaign import CATEGORIES
from uhop_cc.dataset.analyze import PATTERNS, analyze_dataset, render_html, render_text
from uhop_cc.dataset.export import export, resolve_dataset

pytestmark = [pytest.mark.opencl, needs_opencl]


def test_analyze_report(small_campaign, tmp_path):
    _cfg, _res, out = small_campaign
    r = analyze_dataset(out)
    assert r["records"] >= len(CATEGORIES) and set(CATEGORIES) <= set(r["categories"])
    for d in r["categories"].values():
        assert d["records"] == d["passed"] + d["failed"]
    assert r["providers"] == {"deterministic": r["records"]}
    assert r["targets"] == {"opencl": r["records"]} and len(r["devices"]) == 1
    for key in ("kernel_source_chars", "uir_chars", "kernel_source_lines", "uir_statements"):
        d = r["complexity"][key]
        assert d["min"] <= d["median"] <= d["max"] and d["min"] <= d["mean"] <= d["max"]
    assert r["operations"]["total"]["access"] > 0 and "reduce:sum" in r["operations"]["total"]
    p = r["patterns"]
    assert set(p["counts"]) == set(PATTERNS)
    if p["analysed"]:  # the analyzer is built: the templates use local memory and barriers somewhere
        assert p["counts"]["fixed_work_group"] > 0
    text = render_text(r)
    assert "category" in text and "complexity" in text
    html = render_html(r, tmp_path / "r.html").read_text()
    assert html.startswith("<!doctype html>") and "Pattern coverage" in html
    try:
        import matplotlib
    except ImportError:
        matplotlib = None
    assert ("data:image/png;base64," in html) if matplotlib is not None else ("Plots skipped" in html)


def test_html_without_matplotlib(small_campaign, tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    r = analyze_dataset(small_campaign[2], reanalyze=False)
    html = render_html(r, tmp_path / "r.html").read_text()
    assert "Plots skipped" in html and "data:image/png" not in html


def test_export_jsonl(small_campaign, tmp_path):
    out = small_campaign[2]
    n = export(out, tmp_path / "d.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert n == len(rows) >= len(CATEGORIES)
    assert all(r["status"] in ("PASSED", "SLOWER") for r in rows)
    for r in rows:
        assert r["uir"].startswith("kernel ") and "__kernel" in r["kernel_source"]
        assert r["spec"]["name"] == r["kernel_name"] and r["median_s"] > 0 and r["category"] in CATEGORIES
    all_n = export(out, tmp_path / "all.jsonl", include_failures=True)
    assert all_n >= n
    assert resolve_dataset(out) == out / "dataset"


def test_export_parquet(small_campaign, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    n = export(small_campaign[2], tmp_path / "d.parquet", fmt="parquet")
    t = pq.read_table(str(tmp_path / "d.parquet"))
    assert t.num_rows == n
    rows = t.to_pylist()
    assert {"uir", "kernel_source", "spec_json", "median_s", "category"} <= set(t.column_names)
    assert json.loads(rows[0]["spec_json"])["name"] == rows[0]["kernel_name"]


def test_cli_status_analyze_export(small_campaign, tmp_path, capsys):
    out = small_campaign[2]
    assert cli(["campaign", "status", out]) == 0
    text = capsys.readouterr().out
    assert "category" in text and "balance opencl/default: min 1, max 1" in text
    assert cli(["campaign", "status", out, "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["balance"]["opencl/default"] == {c: 1 for c in CATEGORIES}
    assert st["summary"]["categories"]["matrix"]["success_rate"] is not None
    assert cli(["dataset", "analyze", out, "--json", "--html", tmp_path / "r.html"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["records"] >= len(CATEGORIES) and (tmp_path / "r.html").is_file()
    assert cli(["dataset", "export", out, "--format", "jsonl", "-o", tmp_path / "x.jsonl"]) == 0
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) >= len(CATEGORIES)
    assert cli(["campaign", "status", tmp_path / "nothing"]) == 2


def test_cli_run(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[campaign]
name = "clirun"
categories = ["arithmetic", "pooling"]
records_per_category = 1
out = "{tmp_path / 'out'}"
[shapes]
max_elements = 256
[runner]
workers = 0
progress = false
[validation]
time_budget_s = 0.002
""")
    assert cli(["campaign", "run", cfg]) == 0
    text = capsys.readouterr().out
    assert "2 records this run" in text and "balance opencl/default: min 1, max 1" in text
    assert (tmp_path / "out" / "campaign.toml").is_file() and (tmp_path / "out" / "stats.json").is_file()
    assert cli(["campaign", "run", cfg, "--records", "2", "--json", "--no-progress"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["resumed"] and res["records_this_run"] == 2 and res["complete"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[campaign]\nrecords = 3\n")
    assert cli(["campaign", "run", bad]) == 2
    assert "unknown key campaign.records" in capsys.readouterr().err


def test_cli_registered_in_uhopc():
    """Once the lead registers uhop_cc.cli.campaign, `uhopc campaign` and `uhopc dataset` exist."""
    from uhop_cc import cli as top
    from uhop_cc.cli import campaign
    if campaign not in getattr(top, "COMMANDS", ()):
        pytest.skip("uhop_cc.cli.campaign is not registered in uhop_cc.cli yet")
    with pytest.raises(SystemExit) as e:
        top.main(["campaign", "--help"])
    assert e.value.code == 0
