"""The schedule search and its cache, on PoCL."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from uhop_cc import ir
from uhop_cc.tune import cache as tune_cache
from uhop_cc.tune.search import _neighbours, space

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("pyopencl")


@pytest.fixture(scope="module")
def device():
    from uhop_cc.targets.opencl.runtime import OpenCLDevice, OpenCLUnavailable
    try:
        return OpenCLDevice.open()
    except OpenCLUnavailable:
        pytest.skip("no OpenCL device")


def bound(name, shapes):
    return ir.bind_shapes(ir.load_file(ROOT / "examples" / name)[0], shapes)


def test_neighbours_move_powers_of_two_only():
    n = _neighbours({"TM": 64, "VW": 16, "PAD": 0, "X": 3})
    assert {"TM": 128, "VW": 16, "PAD": 0, "X": 3} in n and {"TM": 32, "VW": 16, "PAD": 0, "X": 3} in n
    assert all(p["X"] == 3 and p["PAD"] == 0 for p in n)
    # choices (an algorithm, a switch) never move: ALGO=1 has no neighbour ALGO=2
    n = _neighbours({"ALGO": 1, "TM": 64}, fixed=("ALGO",))
    assert n and all(p["ALGO"] == 1 for p in n)


def test_conv_space_has_no_invalid_algorithms():
    from uhop_cc.targets.opencl.templates import get_template
    t = get_template("conv2d")
    m = t.match(bound("conv2d.uir", "N=1,C=64,H=34,W=34,K=64,R=3,S=3"))
    cands = space(t, m, {"device_type": "GPU", "compute_units": 80})
    assert {p.get("ALGO", 0) for p in cands} == {0, 1}  # both algorithms searched, no ALGO=2


def test_space_starts_with_the_device_default(device):
    from uhop_cc.targets.opencl.templates import select_template
    b = bound("matmul.uir", "M=64,N=64,K=64")
    t, m = select_template(b)
    fp = device.fingerprint()
    s = space(t, m, fp, limit=10)
    assert s[0] == t.space(m, fp)[0] and len(s) == len({tuple(sorted(p.items())) for p in s})


@pytest.mark.opencl
def test_tune_caches_and_compile_uses_it(device, tmp_path, monkeypatch):
    from uhop_cc.pipeline import compile_bound
    from uhop_cc.tune import tune
    monkeypatch.setenv("UHOP_TUNE_CACHE", str(tmp_path / "tune.json"))
    b = bound("softmax.uir", "R=64,C=96")
    res = tune(b, device, budget_s=8, max_candidates=6, progress=False)
    assert res.template == "rowreduce" and res.best is not None
    assert all(c.status in ("timed", "valid", "pruned", "build_error", "invalid") for c in res.candidates)
    hit = tune_cache.lookup(device.fingerprint()["name"], "opencl", b)
    assert hit is not None and hit.params == res.best.params
    r = compile_bound(b, device=device, time=False)
    assert r.ok and r.kernel.params.get("tuned") is True
    assert {k: v for k, v in r.kernel.params.items() if k != "tuned"} == res.best.params
    # another shape is a different key: no tuned schedule there
    r2 = compile_bound(bound("softmax.uir", "R=65,C=96"), device=device, time=False)
    assert "tuned" not in r2.kernel.params


@pytest.mark.opencl
def test_no_template_means_nothing_to_tune(device, tmp_path, monkeypatch):
    from uhop_cc.tune import tune
    monkeypatch.setenv("UHOP_TUNE_CACHE", str(tmp_path / "tune.json"))
    res = tune(bound("stats.uir", "N=9"), device, budget_s=2, progress=False)
    assert res.best is None and "no template" in res.reason


def test_damaged_cache_is_empty(tmp_path, monkeypatch):
    p = tmp_path / "tune.json"
    p.write_text("{not json")
    monkeypatch.setenv("UHOP_TUNE_CACHE", str(p))
    assert tune_cache.load_all() == []
    b = bound("relu.uir", "N=8")
    tune_cache.store("dev", "opencl", b, "elementwise", {"VW": 4}, 1e-3, 2e-3, 3)
    assert tune_cache.lookup("dev", "opencl", b).params == {"VW": 4}
    assert json.loads(p.read_text())


@pytest.mark.opencl
def test_cli_tune_and_show(tmp_path):
    env = {"UHOP_TUNE_CACHE": str(tmp_path / "t.json")}
    import os
    env = dict(os.environ, **env)
    r = subprocess.run([sys.executable, "-m", "uhop_cc", "tune", str(ROOT / "examples/relu.uir"), "--shapes",
                        "N=100000", "--budget", "6", "--max-candidates", "4"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "template elementwise" in r.stdout and "best" in r.stdout
    r = subprocess.run([sys.executable, "-m", "uhop_cc", "tune", "--show", "--json"], capture_output=True,
                       text=True, env=env, timeout=60)
    entries = json.loads(r.stdout)
    assert entries[0]["kernel"] == "relu" and entries[0]["sizes"] == {"N": 100000}


def test_a_damaged_tune_cache_warns_keeps_what_it_can_and_is_backed_up(tmp_path, capsys):
    import json as _json

    from uhop_cc import ir as _ir
    from uhop_cc.tune import cache as tc
    path = tmp_path / "tune.json"
    b1 = _ir.bind_shapes(_ir.select_kernel(_ir.load("kernel r(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }")),
                         {"N": 64})
    b2 = _ir.bind_shapes(b1.checked, {"N": 128})
    tc.store("dev", "opencl", b1, "elementwise", {"VW": 4}, 1e-3, 2e-3, 3, path=path)
    tc.store("dev", "opencl", b2, "elementwise", {"VW": 8}, 1e-3, 2e-3, 3, path=path)
    whole = path.read_text()
    path.write_text(whole[: int(len(whole) * 0.8)])  # truncated: the second entry is cut
    kept = [s.params["VW"] for s in tc.load_all(path)]
    assert len(kept) == 1 and kept[0] in (4, 8)  # the entry the cut did not reach
    assert "is damaged; 1 readable entry kept" in capsys.readouterr().err
    b3 = _ir.bind_shapes(b1.checked, {"N": 256})
    tc.store("dev", "opencl", b3, "elementwise", {"VW": 16}, 1e-3, 2e-3, 3, path=path)
    assert sorted(s.params["VW"] for s in tc.load_all(path)) == sorted(kept + [16])  # merged, not overwritten
    backups = list(tmp_path.glob("tune.json.damaged-*"))
    assert len(backups) == 1 and backups[0].read_text() == whole[: int(len(whole) * 0.8)]
    assert isinstance(_json.loads(path.read_text()), dict)
