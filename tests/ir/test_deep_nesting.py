"""Deep and long input: flat chains work everywhere, genuine nesting and huge files get located errors."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from uhop_cc import ir
from uhop_cc.ir import interpreter, limits, printer
from uhop_cc.ir.parser import parse
from uhop_cc.lower import build_spec


def uhopc(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "uhop_cc", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def chain_source(n: int) -> str:
    """Y[i] = X[i, 0] + X[i, 1] - X[i, 2] * s + ...: n distinct terms, so order and values show."""
    terms = []
    for t in range(n):
        op = "" if t == 0 else (" - " if t % 3 == 2 else " + ")
        terms.append(f"{op}X[i, {t}]" + (" * s" if t % 5 == 4 else ""))
    return f"kernel chain(X: f32[N, {n}], s: f32) -> (Y: f32[N]) {{\n    Y[i] = {''.join(terms)}\n}}\n"


def chain_reference(x: np.ndarray, s: float, n: int) -> np.ndarray:
    """The sum left to right in float64 (the reference semantics), rounded to f32 at the store."""
    x = x.astype(np.float64)
    acc = x[:, 0]
    for t in range(1, n):
        term = x[:, t] * np.float64(np.float32(s)) if t % 5 == 4 else x[:, t]
        acc = acc - term if t % 3 == 2 else acc + term
    return acc.astype(np.float32)


@pytest.mark.parametrize("n", [500, 2000])
def test_flat_chain_checks_runs_and_prints(n):
    text = chain_source(n)
    (k,) = ir.load(text, "chain.uir")
    bound = ir.bind_shapes(k, {"N": 6})
    rng = np.random.default_rng(n)
    x = rng.uniform(-1, 1, size=(6, n)).astype(np.float32)
    got = interpreter.run(bound, {"X": x, "s": 0.75})["Y"]
    np.testing.assert_allclose(got, chain_reference(x, 0.75, n), rtol=1e-6, atol=1e-6)
    # printing keeps the left-to-right order: the text parses back to the same tree
    again = printer.program(parse(text))
    assert again == text
    assert limits.in_big_stack(lambda: parse(again) == parse(text))
    spec = build_spec(bound)
    assert spec.flops == 6 * ((n - 1) + n // 5)  # one op per + / -, one per * s


def test_flat_chain_spec_fmt_run_through_cli(tmp_path):
    path = tmp_path / "chain.uir"
    path.write_text(chain_source(2000))
    r = uhopc("spec", path, "--shapes", "N=4")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads(r.stdout)["flops"] == 4 * (1999 + 400)
    for cmd in (("check", path), ("run", path, "--shapes", "N=4"), ("fmt", "--check", path)):
        r = uhopc(*cmd)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (cmd, r.stderr)


def _value_file(tmp_path, value: str, extra_inputs: str = ""):
    path = tmp_path / "deep.uir"
    path.write_text(f"kernel deep(X: f32[N]{extra_inputs}) -> (Y: f32[N]) {{\n    Y[i] = {value}\n}}\n")
    return path


@pytest.mark.parametrize("value", ["-" * 500 + "X[i]", "exp(" * 300 + "X[i]" + ")" * 300,
                                   "X[i] + (" * 300 + "X[i]" + ")" * 300, "sum(k) " * 250 + "X[i]"])
def test_genuine_nesting_gets_a_located_error(tmp_path, value):
    path = _value_file(tmp_path, value)
    r = uhopc("check", path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"{path}:2:") and "error: expression nested too deeply" in first, first


def test_nesting_within_the_limit_works():
    value = "-" * 150 + "X[i]"  # an even count: the value is X
    (k,) = ir.load(f"kernel k(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = {value}\n}}\n")
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(interpreter.run(ir.bind_shapes(k, {"N": 5}), {"X": x})["Y"], x)
    calls = "abs(" * 150 + "X[i]" + ")" * 150
    assert ir.check_source(f"kernel k(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = {calls}\n}}\n").ok


def test_chain_longer_than_the_limit_is_a_located_error():
    n = limits.MAX_DEPTH + 10
    res = ir.check_source("kernel k(X: f32[N]) -> (Y: f32[N]) {\n    Y[i] = " + " + ".join(["X[i]"] * n) + "\n}\n",
                          "long.uir")
    assert not res.ok
    d = res.diagnostics[0]
    assert (d.loc.line, d.loc.col) == (2, 12) and "expression too long" in d.message


def test_pathological_depth_within_the_size_limit_has_no_traceback(tmp_path):
    path = _value_file(tmp_path, "-" * 40_000 + "X[i]")  # refused before the recursive passes see it
    t0 = time.monotonic()
    r = uhopc("check", path, timeout=300)
    assert time.monotonic() - t0 < 30
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{path}:2:") and "nested too deeply" in r.stderr


def test_too_large_file_is_refused_quickly(tmp_path):
    path = tmp_path / "big.uir"
    kernel = "kernel k{n}(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = X[i] + 1.0  # add one\n}}\n\n"
    path.write_text("".join(kernel.format(n=n) for n in range(40_000)))  # about 2.7 MB
    t0 = time.monotonic()
    r = uhopc("check", path)
    assert time.monotonic() - t0 < 20
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "MB" in r.stderr and f"UIR files are limited to {limits.MAX_FILE_BYTES // 2**20} MB" in r.stderr
    r = uhopc("fmt", path)
    assert r.returncode == 2 and "limited to" in r.stderr
    with pytest.raises(ir.UirError, match="limited to"):
        parse(path.read_text())
