"""`uhopc compile` per target through one pipeline: CUDA without a GPU goes through the same stages as
every target (launch lines, the static analyzer, an NVRTC build) and ends NOT_RUN; the CLI's
--target choices and `uhopc devices` come from the registry."""
import json
from pathlib import Path

import pytest

from uhop_cc import targets
from uhop_cc.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
RELU = ROOT / "examples" / "relu.uir"


def _nvrtc_without_gpu() -> bool:
    return targets.get("cuda").mode()[0] == "nvrtc"


needs_nvrtc_only = pytest.mark.skipif(not _nvrtc_without_gpu(), reason="needs NVRTC without a CUDA GPU")


@needs_nvrtc_only
def test_compile_only_cuda_runs_the_static_analyzer(tmp_path, capsys):
    rc = main(["compile", str(RELU), "--target", "cuda", "--shapes", "N=1000", "-o", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0] == "relu [elementwise] (N=1000) on none (NVRTC compile check only)"
    assert lines[1].startswith("  kernel     elementwise")
    assert lines[2].startswith("  analysis   0 errors, 0 warnings")
    assert "  status     NOT_RUN: compiled with NVRTC only: no CUDA device to validate or time on" in lines
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["status"] == "NOT_RUN" and report["compile_only"] and report["analysis"]["ok"]
    assert report["build"]["ok"] and report["validation"] is None and report["timing"] is None
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["kernel.cu", "report.json", "spec.json"]


@needs_nvrtc_only
def test_compile_only_cuda_analyzer_rejection_falls_back(tmp_path, monkeypatch, capsys):
    """The analyzer now judges compile-only CUDA too: a template it rejects falls back to generic."""
    from uhop_cc import stages
    real = stages.candidates

    def bad_template_first(bound, target, strategy, params, hardware, notes=None, use_cache=True):
        out = real(bound, target, strategy, params, hardware, notes, use_cache)
        src = out[0].source.replace("{", "{ __shared__ float big[1 << 20]; big[0] = 0;", 1)
        return [type(out[0])(out[0].target, src, out[0].entry, out[0].strategy, dict(out[0].params),
                             out[0].file_name)] + out[1:]

    monkeypatch.setattr(stages, "candidates", bad_template_first)
    rc = main(["compile", str(RELU), "--target", "cuda", "--shapes", "N=1000", "--json", "-o", str(tmp_path / "o")])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["status"] == "NOT_RUN" and d["strategy"] == "generic"
    assert d["attempts"][0]["status"] == "analysis_rejected"


def test_target_choices_come_from_the_registry():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices = {name: next(a.choices for a in p._actions if a.dest == "target")
               for name, p in sub.choices.items() if any(a.dest == "target" for a in p._actions)}
    assert tuple(choices["compile"]) == targets.names() and tuple(choices["analyze"]) == targets.names()
    assert tuple(choices["tune"]) == targets.runnable()


def test_devices_json_lists_every_running_target(capsys):
    rc = main(["devices", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and tuple(d) == targets.runnable()


@pytest.mark.parametrize("extra", [["--strategy", "elementwise"], ["--kernel-source", "k.cpp"], ["--no-validate"],
                                   ["--emit-host"]])
def test_a_project_target_refuses_options_it_cannot_honour(tmp_path, capsys, extra):
    """`--target ttmetal` writes a project: candidate, validation and host options are refused (exit
    2, one line), not silently ignored."""
    rc = main(["compile", str(RELU), "--target", "ttmetal", "-o", str(tmp_path / "p"), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and extra[0] in err and "does not apply" in err.replace("do(es)", "does"), err
    assert not (tmp_path / "p").exists()
