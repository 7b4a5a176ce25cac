"""The Python wrapper: types, ordering, spec conversion, JSON, thread safety."""
import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from cases import CASES
from uhop_cc import ir
from uhop_cc.analyze import AnalysisReport, Finding, analyze, analyze_dict
from uhop_cc.targets import renderer
from uhop_cc.lower.spec import build_spec

SRC = """
// @launch global=(roundup(N, 64)) local=(64)
__kernel void k(__global float* X, const int N)
{
    __local float t[64];
    const int lid = get_local_id(0);
    t[lid] = X[lid];
    if (lid < 32) barrier(CLK_LOCAL_MEM_FENCE);
    printf("x");
    X[lid * 2] = t[lid];
}
"""


def test_report_types_are_plain_and_frozen():
    r = analyze(SRC)
    assert isinstance(r, AnalysisReport) and r.target == "opencl"
    assert all(isinstance(f, Finding) for f in r.findings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.target = "cuda"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.findings[0].code = "x"

    def plain(v):
        if isinstance(v, (str, int, float, bool, type(None))):
            return True
        if isinstance(v, (list, tuple)):
            return all(plain(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        if dataclasses.is_dataclass(v):
            return all(plain(getattr(v, f.name)) for f in dataclasses.fields(v))
        return False

    assert plain(r) and plain(r.abi) and plain(r.launch)
    assert plain(analyze_dict(SRC))  # the native result: only dicts, lists, str, int, bool, None


def test_findings_sorted_by_severity_then_location():
    r = analyze(SRC)
    keys = [(f.rank, f.line, f.col) for f in r.findings]
    assert keys == sorted(keys)
    assert [f.severity for f in r.errors] == ["error"] * len(r.errors)
    assert r.errors and r.warnings and r.infos and not r.ok and not r.clean
    assert r.by_code("safety.printf")[0].line == 9
    assert "sync.barrier-divergent" in r.codes


def test_json_round_trip():
    r = analyze(SRC)
    j = json.loads(json.dumps(r.to_json()))
    assert j["ok"] is False and j["errors"] == len(r.errors)
    assert j["findings"][0] == r.findings[0].to_json()
    assert j["abi"]["entry"] == "k" and j["abi"]["kernels"][0]["args"][0]["name"] == "X"
    assert j["launch"][0]["global"] == ["roundup(N, 64)"]
    assert AnalysisReport.from_dict(analyze_dict(SRC)) == r


def test_str_and_bytes_give_the_same_report():
    assert analyze(SRC) == analyze(SRC.encode())


def test_spec_objects_json_and_dicts():
    k = ir.load_file("examples/relu.uir")[0]
    spec = build_spec(ir.bind_shapes(k, {s: 16 for s in k.sizes}))
    src = renderer("opencl").generic(k).source
    a = analyze(src, "opencl", spec)
    b = analyze(src, "opencl", spec.to_json())
    c = analyze(src, "opencl", {"name": "relu", "args": [dict(name=x.name, kind=x.kind, dtype=x.dtype)
                                                         for x in spec.abi]})
    assert a.clean and a == b == c


def test_hardware_limits_from_the_spec():
    k = ir.load_file("examples/relu.uir")[0]
    spec = build_spec(ir.bind_shapes(k, {s: 16 for s in k.sizes}), hardware={"local_mem_size": 1024,
                                                                           "max_work_group_size": 32})
    src = renderer("opencl").generic(k).source  # local=(64)
    r = analyze(src, "opencl", spec)
    assert [f.code for f in r.errors] == ["res.work-group-size"]


def test_threads_share_nothing():
    jobs = [(c.source, c.target) for c in CASES] * 3
    expect = [analyze_dict(s, t) for s, t in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda j: analyze_dict(*j), jobs))
    assert got == expect


def test_rule_table_covers_every_code():
    import re
    from pathlib import Path

    from uhop_cc.analyze import RULES
    root = Path(__file__).resolve().parents[2] / "cpp" / "analyzer"
    emitted = set()
    for f in root.glob("*.cpp"):
        emitted |= set(re.findall(r'"((?:lex|parse|input|res|sync|mem|abi|launch|safety|tt|report)\.[a-z-]+)"',
                                  f.read_text())) - {"report.hpp", "launch.hpp"}
    assert emitted == set(RULES)
    from cases import CASES
    seen = {code for c in CASES for _, code in c.marks()}
    hazards = {k for k, v in RULES.items() if v[0] != "info" and not k.startswith(("lex.", "parse.", "input."))}
    hazards -= {"abi.no-kernel", "abi.kernel-name", "abi.entry-not-last", "abi.arg-count", "abi.arg-order",
                "abi.address-space", "abi.arg-type", "abi.arg-name"}  # tested in test_abi.py
    assert hazards <= seen, sorted(hazards - seen)
