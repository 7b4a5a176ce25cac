"""TT-Metal through the compile pipeline: a compile-only device of its target (the project's syntax
check) after the same stages as every target, the static analyzer included; the CLI writes the
project folder the emitter writes, plus report.json, and refuses what TT-Metal cannot express."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from uhop_cc import ir, targets
from uhop_cc.cli import main
from uhop_cc.pipeline import compile_bound, open_device
from uhop_cc.stages import device_runs
from uhop_cc.targets.ttmetal import emit_ttmetal_project
from uhop_cc.targets.ttmetal.device import TTMetalDevice, project_candidate

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HAVE_GXX = shutil.which("g++") is not None or shutil.which("c++") is not None


def _bound(name: str, size: int = 1024):
    k = ir.load_file(EXAMPLES / f"{name}.uir")[0]
    return ir.bind_shapes(k, {s: size for s in k.sizes})


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_compile_only_device_is_the_syntax_check():
    dev = open_device("ttmetal")
    assert isinstance(dev, TTMetalDevice) and not device_runs(dev)
    assert targets.get("ttmetal").compile_only_device() is not None


@pytest.mark.parametrize("name", ["relu", "matmul"])
def test_a_project_goes_through_the_stages(tmp_path, monkeypatch, name):
    monkeypatch.delenv("TT_METAL_HOME", raising=False)
    b = _bound(name)
    r = compile_bound(b, target="ttmetal", outdir=tmp_path / "o", params={"cores": "multi", "arch": "blackhole"})
    assert r.ok and r.status == "NOT_RUN" and r.compile_only and r.reason == TTMetalDevice.not_run_reason
    assert r.analysis is not None and r.analysis["errors"] == 0  # the analyzer ran on the kernels
    assert [(a.strategy, a.status) for a in r.attempts] == [("generic", "ok")]
    assert r.kernel.params == {"cores": "multi", "arch": "blackhole"}
    assert "// ==== compute ====" in r.kernel.source and "kernels/compute/compute.cpp" in r.kernel.files
    if HAVE_GXX:
        assert r.build["ok"] and r.build["syntax_check"]["results"]
    assert r.build["project"]["cores"] == "multi" and r.build["project"]["arch"] == "blackhole"
    want = tmp_path / "want"
    emit_ttmetal_project(b, want, cores="multi", arch="blackhole")
    got = _tree(tmp_path / "o")
    assert json.loads(got.pop("report.json"))["status"] == "NOT_RUN"
    assert got == _tree(want)  # the project the emitter writes, byte for byte


def test_a_failing_syntax_check_is_a_build_error(tmp_path, monkeypatch):
    monkeypatch.delenv("TT_METAL_HOME", raising=False)
    if not HAVE_GXX:
        pytest.skip("no C++ compiler")
    k = project_candidate(_bound("relu"))
    files = dict(k.files, **{"kernels/compute/compute.cpp": b"void kernel_main() { not_a_call(); }\n"})
    build = TTMetalDevice().build(k.source, files=files)
    assert not build.ok and "FAILED" in build.log and build.to_json()["syntax_check"]["ok"] is False


def test_a_program_ttmetal_cannot_express_is_a_failed_result():
    r = compile_bound(_bound("softmax", 64), target="ttmetal")
    assert not r.ok and r.status == "FAILED" and r.kernel is None
    assert [a.status for a in r.attempts] == ["unsupported"] and "reductions other than matmul" in r.reason


def test_cli_writes_the_project_and_rewrites_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TT_METAL_HOME", raising=False)
    out = tmp_path / "relu"
    for _ in range(2):  # the second run replaces the folder the first wrote
        rc = main(["compile", str(EXAMPLES / "relu.uir"), "--target", "ttmetal", "-o", str(out)])
        text = capsys.readouterr().out
        assert rc == (0 if HAVE_GXX else 1)
    assert "TT-Metal project (single-core, wormhole_b0)" in text and "status     NOT_RUN" in text
    assert "reader   kernels/dataflow/reader.cpp  (3 runtime args)" in text and "host     relu.cpp" in text
    assert {"relu.cpp", "README.md", "CMakeLists.txt", "plan.json", "spec.json", "report.json", "data", "kernels",
            "sdk_decls"} == {p.name for p in out.iterdir()}
    rc = main(["compile", str(EXAMPLES / "matmul.uir"), "--target", "ttmetal", "--json", "-o", str(tmp_path / "m")])
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "NOT_RUN" and report["build"]["project"]["host_file"] == "matmul.cpp"


def test_cli_refuses_a_program_it_cannot_lower(tmp_path, capsys):
    rc = main(["compile", str(EXAMPLES / "softmax.uir"), "--target", "ttmetal", "-o", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and "reductions other than matmul are not supported (`max(c)`" in err
    assert not (tmp_path / "s").exists()


def test_cli_keeps_foreign_files(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_:  # refused before any work, like every target's -o
        main(["compile", str(EXAMPLES / "relu.uir"), "--target", "ttmetal", "-o", str(folder)])
    assert exit_.value.code == 2 and "did not write (notes.txt)" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
