"""The entry points: check_memory and launches_for."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

from ..preprocess import dialect_of
from .model import ArgValue, Launch, MemFinding, MemReport
from .lexer import Stop
from .run import Run
from .program import program_of


def _shared_bytes(source: str, target: str, launch: Launch) -> Optional[int]:
    """Dynamic shared memory of a CUDA stage (`smem=` of its @launch line), at the launch's sizes."""
    if not dialect_of(target).launch_shared_memory or "smem" not in source:
        return None
    try:
        from ...codegen.launch import evaluate, parse_launch
        sizes = {a.name: a.value for a in launch.args if a.kind == "int" and a.value is not None and a.name}
        for st in parse_launch(source):
            if st.kernel_name == launch.kernel and st.shared_expr is not None:
                return int(evaluate(st.shared_expr, sizes))
    except Exception:  # noqa: BLE001 - unknown size: the accesses become unproven
        return None
    return None


def _give_up(launch: Launch, out, why: str) -> None:
    for a in launch.args:
        if a.kind == "buffer":
            out[1][a.name] = (None, None)
            k = (launch.kernel, 0, a.name, True)
            out[0].setdefault(k, MemFinding("mem.unproven-write", "warning",
                                            f"{launch.kernel}: accesses of {a.name} not analysed: {why}",
                                            0, launch.kernel, a.name))


def check_memory(source: str, target: str, launches: Sequence[Launch]) -> MemReport:
    """Check every access of the launched kernels against its buffer, for each concrete launch."""
    out: tuple = ({}, {})
    prog, why = None, ""
    try:
        prog = program_of(str(source), target)
    except Exception as exc:  # noqa: BLE001 - never raise on weird input
        why = f"the source cannot be read ({exc})"
    for launch in launches:
        if any(int(g) <= 0 for g in launch.global_size):
            continue  # no work-item runs
        fn = prog.funcs.get(launch.kernel) if prog else None
        if fn is None:
            _give_up(launch, out, why or f"no function `{launch.kernel}` in the source")
            continue
        try:
            Run(prog, launch, target, out, _shared_bytes(source, target, launch)).kernel(fn)
        except Exception as exc:  # noqa: BLE001 - never raise on weird input
            _give_up(launch, out, f"analysis incomplete ({type(exc).__name__}: {exc})")
    findings = sorted(out[0].values(), key=lambda f: (f.kernel, f.line, f.buffer, f.code))
    return MemReport(findings, dict(out[1]))


def launches_for(source: str, target: str, bound) -> List[Launch]:
    """The launches of a generated source under the uhopc ABI, for a BoundKernel's sizes.

    Arguments: inputs in declaration order (tensors as buffers, i32 scalars as ints of unknown
    value, float scalars), outputs, the temporaries when the stage takes them, then the sizes."""
    from ...codegen.cstyle import c_name
    from ...codegen.launch import parse_launch
    ck = bound.checked

    def tensor(name: str) -> ArgValue:
        return ArgValue("buffer", elements=math.prod(bound.shapes[name]), name=name)

    base = [(ArgValue("int" if p.dtype == "i32" else "float", name=p.name) if p.is_scalar else tensor(p.name))
            for p in ck.inputs] + [tensor(p.name) for p in ck.outputs]
    temps = [tensor(t.name) for t in ck.temps()]
    sizes = [ArgValue("int", value=int(bound.sizes[s]), name=s) for s in ck.sizes]
    env = dict(bound.sizes)
    env.update({c_name(s): v for s, v in bound.sizes.items()})
    try:
        funcs = program_of(source, target).funcs
    except (Stop, RecursionError):
        funcs = {}
    out = []
    for st in parse_launch(source):
        geo = st.geometry(env)
        fn = funcs.get(st.kernel_name)
        with_temps = bool(temps) and fn is not None and len(fn.params) == len(base) + len(temps) + len(sizes)
        args = tuple(base + (temps if with_temps else []) + sizes)
        out.append(Launch(st.kernel_name, args, tuple(geo.global_size),
                          tuple(geo.local_size) if geo.local_size else None))
    return out
