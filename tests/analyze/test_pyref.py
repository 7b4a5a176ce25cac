"""The pure-Python reference (tests/analyze/pyref.py, the parity oracle and speed baseline) reports exactly what the native
analyzer reports: same findings, summaries and ABI/launch data on the whole corpus and on
random inputs."""
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyref
from cases import CASES
from test_fuzz import TOKENS
from uhop_cc import _native, ir
from uhop_cc.analyze import expected_from_spec
from uhop_cc.targets import renderer
from uhop_cc.lower.spec import build_spec

ROOT = Path(__file__).resolve().parents[2]
KERNELS = Path(__file__).resolve().parent / "kernels"


def corpus():
    out = []
    for path in sorted((ROOT / "examples").glob("*.uir")):
        for k in ir.load_file(str(path)):
            spec = build_spec(ir.bind_shapes(k, {s: 32 for s in k.sizes}))
            out.append((k.name, "opencl", renderer("opencl").generic(k).source, expected_from_spec(spec)))
    ext = {".cl": "opencl", ".cu": "cuda", ".cpp": "ttmetal"}
    for p in sorted(KERNELS.iterdir()):
        if p.suffix in ext:
            out.append((p.name, ext[p.suffix], p.read_text(), None))
    for c in CASES:
        out.append((c.name, c.target, c.source, c.expected))
    from test_clean import CUDA_KERNELS, TEMPLATE_KERNELS, TT_KERNELS
    for name, src, bound in TEMPLATE_KERNELS[::3]:
        out.append((f"opencl-{name}", "opencl", src, expected_from_spec(build_spec(bound))))
    for name, src, bound in CUDA_KERNELS[::2]:
        out.append((f"cuda-{name}", "cuda", src, expected_from_spec(build_spec(bound), "cuda")))
    for name, src in TT_KERNELS:
        out.append((f"tt-{name}", "ttmetal", src, None))
    return out


CORPUS = corpus()


@pytest.mark.parametrize("name,target,source,expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_same_report(name, target, source, expected):
    a = _native.analyze(source, target, expected)
    b = pyref.analyze_dict(source, target, expected)
    assert b == a


def _same(source, target):
    a = _native.analyze(source, target, None)
    b = pyref.analyze_dict(source, target, None)
    fa = [(f["severity"], f["code"], f["line"], f["col"]) for f in a["findings"]]
    fb = [(f["severity"], f["code"], f["line"], f["col"]) for f in b["findings"]]
    assert fa == fb, source
    for key in ("resources", "sync", "memory", "abi", "launch", "stats"):
        assert a[key] == b[key], (key, source)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=150), st.sampled_from(pyref.TARGETS), st.booleans())
def test_same_findings_on_token_soups(tokens, target, wrap):
    body = " ".join(tokens)
    if wrap:
        body = {"opencl": "// @launch global=(N) local=(64)\n__kernel void k(__global float* X, const int N) {",
                "cuda": "// @launch grid=(N) block=(64)\n__global__ void k(float* X, const int N) {",
                "ttmetal": "void kernel_main() {"}[target] + body + "}\n"
    _same(body, target)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(pyref.TARGETS))
def test_same_findings_on_random_bytes(data, target):
    _same(data, target)


def test_same_findings_on_mutated_kernels():
    rnd = random.Random(7)
    sources = [c[2] for c in CORPUS[:20]]
    for _ in range(150):
        src = rnd.choice(sources)
        chars = list(src)
        for _ in range(rnd.randint(1, 6)):
            i = rnd.randrange(len(chars))
            op = rnd.randrange(3)
            if op == 0:
                del chars[i]
            elif op == 1:
                chars.insert(i, rnd.choice("{}()[];,=+-*/<>!&|\n x0"))
            else:
                j = rnd.randrange(len(chars))
                chars[i], chars[j] = chars[j], chars[i]
        _same("".join(chars), rnd.choice(pyref.TARGETS))
