"""Binding size symbols to integers, and the static bounds check that needs them."""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Tuple

from . import nodes as N
from . import printer, symbolic
from .errors import Diagnostic, SourceText, UirError
from .limits import deep
from .typed import BoundKernel, CheckedKernel


def _shape_error(message: str, note: Optional[str] = None, origin: str = "--shapes") -> UirError:
    return UirError([Diagnostic(message, origin, note=note)])


def sizes_from_arrays(checked: CheckedKernel, shapes: Mapping[str, Tuple[int, ...]]) -> Dict[str, int]:
    """Sizes from the shapes of the input arrays of a Python call, {input name: array shape}. Errors
    speak of the call's arrays and count axes from 0, as NumPy does (`B.shape[0]`), never of --shapes."""
    tensors = [p for p in checked.inputs if not p.is_scalar]
    sizes: Dict[str, int] = {}
    _solve(tensors, [tuple(int(d) for d in shapes[p.name]) for p in tensors], sizes, origin="arguments")
    return sizes


def parse_shapes(spec: str, checked: CheckedKernel) -> Dict[str, int]:
    """`M=1024,N=2048` and/or positional `1024x512,512x2048` (one per input tensor) -> sizes."""
    spec = (spec or "").strip()
    named: Dict[str, int] = {}
    positional: List[Tuple[int, ...]] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        if "=" in item:
            name, _, value = item.partition("=")
            name = name.strip()
            if name not in checked.sizes:
                known = ", ".join(checked.sizes) or "none"
                raise _shape_error(f"`{name}` is not a size symbol of kernel `{checked.name}` (sizes: {known})")
            if name in named:
                raise _shape_error(f"`{name}` is given twice ({name}={named[name]} and {item.strip()})")
            named[name] = _int(value, item)
        elif item in ("()", "[]", "-"):
            positional.append(())
        else:
            if not re.fullmatch(r"\s*\d+(\s*[xX]\s*\d+)*\s*", item):
                raise _shape_error(f"cannot read shape `{item}`",
                                   "write NAME=VALUE pairs (M=1024,K=512) or shapes per input (1024x512,512x2048)")
            positional.append(tuple(int(v) for v in re.split(r"\s*[xX]\s*", item.strip())))
    sizes = dict(named)
    if positional:
        tensors = [p for p in checked.inputs if not p.is_scalar]
        if len(positional) != len(tensors):
            raise _shape_error(f"{len(positional)} shape(s) given for {len(tensors)} input tensor(s) "
                               f"({', '.join(p.name for p in tensors)})")
        _solve(tensors, positional, sizes)
    missing = [s for s in checked.sizes if s not in sizes]
    if missing:
        raise _shape_error(f"size(s) not bound: {', '.join(missing)}",
                           "pass them with --shapes " + ",".join(f"{m}=..." for m in missing))
    return sizes


def _int(value: str, item: str) -> int:
    try:
        v = int(value.strip())
    except ValueError:
        raise _shape_error(f"`{item}`: the size must be an integer") from None
    if v < 0:
        raise _shape_error(f"`{item}`: sizes cannot be negative")
    return v


def _solve(tensors, shapes, sizes: Dict[str, int], origin: str = "--shapes"):
    """Bind symbols from concrete input shapes; dims that are expressions are checked once known.
    `origin` "--shapes" (the CLI: dimensions counted from 1) or "arguments" (arrays: `X.shape[d]`)."""
    cli = origin == "--shapes"
    given = "the shape given" if cli else "the array"

    def axis(p, d: int) -> str:
        return f"input `{p.name}` dim {d + 1}" if cli else f"`{p.name}.shape[{d}]`"

    pending = []
    for p, shape in zip(tensors, shapes):
        if len(shape) != len(p.shape):
            raise _shape_error(f"input `{p.name}` has {len(p.shape)} dimension(s) {printer.dims(p.shape)}, "
                               f"but {given} has {len(shape)}", origin=origin)
        pending.extend((p, d, dim, v) for d, (dim, v) in enumerate(zip(p.shape, shape)))
    while pending:
        rest = []
        for p, d, dim, v in pending:
            unknown = {n for n in symbolic.names(dim) if n not in sizes}
            if not unknown:
                have = symbolic.evaluate(dim, sizes)
                if have != v:
                    raise _shape_error(f"{axis(p, d)} is {printer.expr(dim)} = {have}, but {given} "
                                       f"{'says' if cli else 'has'} {v}", origin=origin)
            elif isinstance(dim, N.Name):
                sizes[dim.name] = v
            else:
                rest.append((p, d, dim, v))
        if len(rest) == len(pending):
            p, d, dim, _ = rest[0]
            unknown = sorted(set(symbolic.names(dim)) - set(sizes))
            raise _shape_error(f"cannot solve {printer.expr(dim)} ({axis(p, d)}) for its sizes",
                               ("bind them by name: --shapes " + ",".join(f"{n}=..." for n in unknown)) if cli else
                               "bind them by name: compile(..., shapes={" + ", ".join(f"'{n}': ..." for n in unknown)
                               + "})", origin=origin)
        pending = rest


@deep  # the bounds check recurses on expressions, as deep as a flat chain is long
def bind(checked: CheckedKernel, sizes: Mapping[str, int], src: Optional[SourceText] = None) -> BoundKernel:
    """Concrete shapes for every tensor, then a bounds check of every access."""
    src = src or SourceText(checked.source_text, checked.filename)
    sizes = {s: int(sizes[s]) for s in checked.sizes if s in sizes}
    missing = [s for s in checked.sizes if s not in sizes]
    if missing:
        raise _shape_error(f"size(s) not bound: {', '.join(missing)}", origin="shapes")
    shapes: Dict[str, Tuple[int, ...]] = {}
    for t in checked.tensors.values():
        try:
            shape = tuple(symbolic.evaluate(d, sizes) for d in t.shape)
        except ZeroDivisionError:
            raise src.error(f"shape of `{t.name}` divides by zero", t.loc) from None
        for d, (expr, v) in enumerate(zip(t.shape, shape)):
            if v < 0:
                raise src.error(f"`{t.name}` dim {d + 1} is {printer.expr(expr)} = {v}, which is negative "
                                f"for {_env_text(expr, sizes)}", t.loc)
        shapes[t.name] = shape
    bound = BoundKernel(checked, dict(sizes), shapes)
    for s in checked.body:
        ranges = {v: (0, n - 1) for v, n in zip(s.indices, shapes[s.target])}
        if all(n > 0 for n in shapes[s.target]):
            _check_bounds(s.value, ranges, bound, src)
    return bound


def _env_text(e: N.Expr, sizes: Mapping[str, int]) -> str:
    used = sorted(set(symbolic.names(e)))
    return ", ".join(f"{n} = {sizes[n]}" for n in used if n in sizes) or "these sizes"


def _check_bounds(e: N.Expr, ranges: Dict[str, Tuple[int, int]], bound: BoundKernel, src: SourceText,
                  guarded: bool = False):
    """Every unguarded access stays in bounds; every index division has a non-negative dividend.

    Accesses in a `select` branch or on the right of `and`/`or` are guarded by a
    condition: the interpreter and the kernels evaluate them lazily, and they are
    checked where they run. Index `/` and `%` must not see negative dividends
    anywhere, so that floor (the language) and C truncation (the kernels) agree.
    """
    if isinstance(e, N.Call) and e.fn == "select":
        _check_bounds(e.args[0], ranges, bound, src, guarded)
        for branch in e.args[1:]:
            _check_bounds(branch, ranges, bound, src, True)
        return
    if isinstance(e, N.Binary) and e.op in ("and", "or"):
        _check_bounds(e.lhs, ranges, bound, src, guarded)
        _check_bounds(e.rhs, ranges, bound, src, True)
        return
    if isinstance(e, N.Reduce):
        inner = dict(ranges)
        for v in e.vars:
            lo, hi = bound.range_of(v)
            if hi <= lo:
                return  # the body never runs
            inner[v.name] = (lo, hi - 1)
        _check_bounds(e.body, inner, bound, src, guarded)
        return
    if isinstance(e, N.Access):
        shape = bound.shapes[e.tensor]
        env = dict(ranges)
        env.update({s: (v, v) for s, v in bound.sizes.items()})
        for d, (idx, n) in enumerate(zip(e.indices, shape)):
            for node in N.walk(idx):
                if isinstance(node, N.Binary) and node.op in ("/", "%"):
                    lo, _ = symbolic.interval(node.lhs, env)
                    if lo < 0:
                        raise src.error(
                            f"index {d + 1} of `{e.tensor}` divides `{printer.expr(node.lhs)}`, which can be "
                            f"negative ({lo})", node.loc,
                            "index division and remainder need non-negative dividends; shift the expression")
            if guarded:
                continue
            lo, hi = symbolic.interval(idx, env)
            if lo < 0 or hi >= n:
                dim = bound.checked.tensors[e.tensor].shape[d]
                size_text = str(n) if isinstance(dim, N.Const) else f"{printer.expr(dim)} = {n}"
                raise src.error(
                    f"access out of bounds: index {d + 1} of `{e.tensor}` (`{printer.expr(idx)}`) "
                    f"takes values {lo}..{hi}, but the dimension is {size_text}", e.loc,
                    "guard the access with select(...) or shrink the iteration space")
    for c in N.children(e):
        _check_bounds(c, ranges, bound, src, guarded)
