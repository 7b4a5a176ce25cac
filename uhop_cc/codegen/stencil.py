"""`stencil`: 2-D/3-D neighbourhood kernels with the input tile (plus halo) in local memory.

Matches one statement over a 2-D or 3-D f32 output without reductions (sums over constant
ranges, like the 3x3 window of a blur, are unrolled first) in which every access to a
tensor of the output's rank is at the output's own indices plus integer constants per
dimension (`X[i + 1, j - 1]`, `X[1 + i, j]`, `X[i, j]`); scalars and 0-d tensors may be
read too, `select` and index variables used as values are fine. At least one input must
be read at two or more distinct offsets (otherwise `elementwise` is the template). Each
such input's halo is the min/max of its offsets per dimension.

Schedule: the output is cut into tiles of T = L * E outputs per dimension (LX, LY, LZ
work-items, EX, EY, EZ outputs per work-item; x is the last, contiguous dimension). A
work-group (CUDA: thread block) owns one tile -- a 3-D tile for 3-D outputs, no z-march,
so the single barrier stays outside any loop. Work-item l computes the outputs
origin + l + e * L (e < E): consecutive work-items touch consecutive x, whatever EX is.
With LOCAL=1 the group first copies, for every input read at several offsets, the input
box origin + min offset .. origin + T + max offset into local (shared) memory, one flat
strided loop over the box with bounds guards (cells outside the input hold 0 and are only
read where a `select` discards them); one barrier; every output then reads its
neighbourhood from local memory at constant offsets from a per-output base. With LOCAL=0
every access is a direct global load (CPUs, PoCL included, already cache the neighbourhood
and lose to the copy). Outputs past the edge of the iteration space are not computed and
not stored. Sizes stay runtime arguments: one kernel serves every shape.

The template is written once over a small dialect object: each target's templates/stencil.py
instantiates `StencilTemplate` with its `Dialect` (targets/opencl, targets/cuda).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..ir import nodes as N
from ..ir.typed import BoundKernel, CheckedKernel
from .cstyle import CStyleRenderer, GeneratedKernel, c_name
from .template import (ExprEmitter, Match, NoMatch, Template, device_kind, index_names, index_var, index_width,
                       launch_expr, rename, reserved_clash, tree_map)

MAX_UNROLL = 64  # terms per unrolled reduction
MAX_HALO = 16  # max - min offset per dimension
AXES = "XYZ"  # parameter suffix per hardware axis: X is the output's last dimension


# ------------------------------------------------------------------ dialects
@dataclass(frozen=True)
class Dialect:
    """What differs between targets in a tiled kernel with one barrier (each target's
    templates/stencil.py builds its own)."""
    target: str
    renderer: Callable[[int], CStyleRenderer]  # index_bits -> renderer
    local_decl: str  # qualifier of a local/shared array declared in the kernel body
    barrier: str
    local_id: Callable[[int], str]
    group_id: Callable[[int, str], str]  # (axis, index C type) -> the group's id as that type
    max_grid: Tuple[int, ...]  # groups (blocks) per hardware axis
    launch: Callable[[Sequence[str], Sequence[int]], str]  # (groups per axis, group size) -> @launch line
    signature: Callable[[CheckedKernel, Sequence[int], int], str]  # (kernel, group size, index bits)
    finish: Callable[[Match, str, str, dict], GeneratedKernel]  # (match, code, template name, params)
    limits: Callable[[Optional[dict]], Tuple[int, int]]  # fingerprint -> (max group size, local bytes)


class _DialectEmitter(ExprEmitter):
    """`ExprEmitter` (access hook) writing the dialect's math names, literals and loads."""

    def __init__(self, ck: CheckedKernel, renderer: CStyleRenderer, access: Callable[[N.Access], Optional[str]]):
        super().__init__(renderer, ck, access=access)


# ------------------------------------------------------------------ IR analysis
def _const_int(e: N.Expr) -> int:
    """The value of an integer expression made of literals only (NoMatch otherwise)."""
    if isinstance(e, N.Const) and not e.is_float:
        return int(e.value)
    if isinstance(e, N.Unary) and e.op == "-":
        return -_const_int(e.operand)
    if isinstance(e, N.Call) and e.fn == "i32" and len(e.args) == 1:
        return _const_int(e.args[0])
    if isinstance(e, N.Binary) and e.op in ("+", "-", "*"):
        a, b = _const_int(e.lhs), _const_int(e.rhs)
        return a + b if e.op == "+" else a - b if e.op == "-" else a * b
    raise NoMatch("not an integer constant")


def _offset(e: N.Expr, var: str) -> int:
    """c when e is `var + c` (any arrangement of +/- with integer literals), else NoMatch."""
    if isinstance(e, N.Name) and e.kind == "index" and e.name == var:
        return 0
    if isinstance(e, N.Binary) and e.op in ("+", "-"):
        if var in index_names(e.lhs):
            return _offset(e.lhs, var) + (_const_int(e.rhs) if e.op == "+" else -_const_int(e.rhs))
        if e.op == "+":
            return _const_int(e.lhs) + _offset(e.rhs, var)
    raise NoMatch(f"index `{var}` must be used as `{var} + constant`")


def _unroll(e: N.Expr, budget: List[int]) -> N.Expr:
    """e with every sum over constant ranges replaced by its terms (left to right, row-major)."""

    def expand(x: N.Expr) -> Optional[N.Expr]:
        if not isinstance(x, N.Reduce):
            return None  # rebuilt from its children by tree_map
        if x.op != "sum":
            raise NoMatch(f"only sums over constant ranges are unrolled (found `{x.op}`)")
        try:
            ranges = [range(_const_int(v.lo), _const_int(v.hi)) for v in x.vars]
        except NoMatch:
            raise NoMatch("reduction ranges must be integer constants to be unrolled") from None
        terms = math.prod(len(r) for r in ranges)
        budget[0] -= terms
        if terms > MAX_UNROLL or budget[0] < 0:
            raise NoMatch(f"reductions longer than {MAX_UNROLL} terms are not unrolled")
        body = _unroll(x.body, budget)
        out: Optional[N.Expr] = None
        for point in itertools.product(*ranges):
            term = rename(body, {v.name: N.Const(c, False, dtype="i32") for v, c in zip(x.vars, point)})
            out = term if out is None else N.Binary("+", out, term, dtype=x.dtype)
        return out if out is not None else N.Const(0.0, True, dtype=x.dtype)

    return tree_map(e, expand)


def _accesses(e: N.Expr) -> List[N.Access]:
    return [n for n in N.walk(e) if isinstance(n, N.Access)]


def _candidates(rank: int, kind: str) -> List[dict]:
    """The schedules `space` orders and filters, for a 2-D or 3-D output on a CPU or GPU."""
    if rank == 2:
        # (LOCAL, LX, LY, EX, EY)
        if kind == "CPU":  # PoCL: direct reads win (measured 2-7x over generic; local copies lose)
            rows = [(0, 64, 1, 1, 4), (0, 64, 1, 1, 1), (0, 32, 4, 1, 2), (1, 64, 4, 1, 4), (1, 32, 8, 1, 2)]
        else:
            rows = [(1, 32, 8, 1, 4), (1, 32, 4, 1, 4), (1, 64, 4, 1, 2), (1, 16, 16, 1, 1), (0, 32, 8, 1, 2),
                    (0, 32, 4, 1, 1)]
        cands = [dict(LOCAL=a, LX=b, LY=c, EX=d, EY=e) for a, b, c, d, e in rows]
    else:
        # (LOCAL, LX, LY, LZ, EX, EY, EZ)
        if kind == "CPU":
            rows = [(0, 32, 8, 1, 1, 1, 1), (0, 64, 1, 1, 1, 1, 1), (0, 64, 1, 1, 1, 4, 1),
                    (0, 32, 2, 2, 1, 2, 2), (1, 32, 4, 2, 1, 2, 4)]
        else:
            rows = [(1, 32, 4, 2, 1, 2, 4), (1, 32, 8, 1, 1, 1, 4), (1, 32, 4, 2, 1, 1, 2), (1, 16, 8, 2, 1, 2, 2),
                    (0, 32, 4, 2, 1, 2, 2), (0, 32, 8, 1, 1, 1, 1)]
        cands = [dict(LOCAL=a, LX=b, LY=c, LZ=d, EX=e, EY=f, EZ=g) for a, b, c, d, e, f, g in rows]
    return cands


# ------------------------------------------------------------------ the template
class StencilTemplate(Template):
    name = "stencil"
    categorical = ("LOCAL",)

    def __init__(self, dialect: Dialect):
        self.dialect = dialect

    def __repr__(self) -> str:
        return f"<{self.dialect.target} template {self.name}>"

    # ------------------------------------------------------------ match
    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        if len(ck.body) != 1:
            raise NoMatch("stencil needs a single statement")
        s = ck.body[0]
        out = ck.tensors[s.target]
        if out.role != "output" or out.dtype != "f32" or out.rank not in (2, 3):
            raise NoMatch("the target must be a 2-D or 3-D f32 output")
        rank = out.rank
        value = _unroll(s.value, [4 * MAX_UNROLL])
        offsets: Dict[str, set] = {}
        for acc in _accesses(value):
            t = ck.tensors[acc.tensor]
            if t.role != "input":
                raise NoMatch("only inputs can be read")
            if not acc.indices:
                continue
            if t.rank != rank:
                raise NoMatch(f"`{acc.tensor}` must be 0-d or have the output's rank {rank}")
            if t.dtype != "f32":
                raise NoMatch(f"`{acc.tensor}`: neighbourhood tensors must be f32")
            try:
                off = tuple(_offset(i, v) for i, v in zip(acc.indices, s.indices))
            except NoMatch as e:
                raise NoMatch(f"`{acc.tensor}` is not read at the output's indices plus constants ({e})") from None
            offsets.setdefault(acc.tensor, set()).add(off)
        halo = {}
        for name, offs in offsets.items():
            lo = tuple(min(o[d] for o in offs) for d in range(rank))
            hi = tuple(max(o[d] for o in offs) for d in range(rank))
            if any(h - l > MAX_HALO for l, h in zip(lo, hi)):
                raise NoMatch(f"`{name}`: halo wider than {MAX_HALO}")
            if len(offs) > 1:
                halo[name] = (lo, hi)
        if not halo:
            raise NoMatch("no input is read at two or more offsets: not a stencil")
        info = {"stmt": s, "value": value, "rank": rank, "halo": halo,
                "launch": [launch_expr(d) for d in out.shape], "shape": bound.shapes[s.target]}
        match = Match(self.name, bound, info)
        if not any(self.grid_fits(match, p) for kind in ("CPU", "GPU") for p in _candidates(rank, kind)):
            raise NoMatch(f"the output {list(info['shape'])} needs more {self.dialect.target} blocks along an "
                          f"outer axis than the grid allows ({self.dialect.max_grid[1]})")
        return match

    # ------------------------------------------------------------ space
    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        rank = match.info["rank"]
        max_wg, lmem = self.dialect.limits(device_fingerprint)

        def usable(cands: List[dict]) -> List[dict]:
            return [p for p in cands if self._group(p, rank) <= max_wg and self.local_bytes(match, p) <= lmem]

        ok = usable(_candidates(rank, device_kind(device_fingerprint)))
        out = [p for p in ok if self.grid_fits(match, p)]
        if ok and not out:  # none of this kind's tiles is tall enough for the grid: any that is
            out = [p for p in usable(_candidates(rank, "GPU") + _candidates(rank, "CPU")) if self.grid_fits(match, p)]
        return out or [self._smallest(rank)]

    def grid_fits(self, match: Match, p: dict) -> bool:
        """Whether the launch of tile `p` at the match's shape stays within the groups (CUDA: blocks)
        per hardware axis (CUDA: 65535 along y and z)."""
        rank = match.info["rank"]
        tile = self._tile(p, rank)
        shape = [int(d) for d in match.info["shape"]]
        return all(-(-shape[rank - 1 - a] // tile[rank - 1 - a]) <= self.dialect.max_grid[a] for a in range(rank))

    @staticmethod
    def _group(p: dict, rank: int) -> int:
        return math.prod(int(p.get("L" + AXES[a], 1)) for a in range(rank))

    @staticmethod
    def _smallest(rank: int) -> dict:
        p = dict(LOCAL=0, LX=1, LY=1, EX=1, EY=1)
        return p if rank == 2 else dict(p, LZ=1, EZ=1)

    def local_bytes(self, match: Match, params: dict) -> int:
        if not int(params.get("LOCAL", 0)):
            return 0
        tile = self._tile(params, match.info["rank"])
        return sum(4 * math.prod(t + h - l for t, l, h in zip(tile, lo, hi))
                   for lo, hi in match.info["halo"].values())

    @staticmethod
    def _tile(p: dict, rank: int) -> List[int]:
        """Outputs per group along each output dimension (outermost first)."""
        return [int(p.get("L" + AXES[rank - 1 - d], 1)) * int(p.get("E" + AXES[rank - 1 - d], 1))
                for d in range(rank)]

    # ------------------------------------------------------------ render
    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        info = match.info
        rank = info["rank"]
        p = dict(self.space(match)[0])
        p.update(params or {})
        keys = ["LOCAL"] + ["L" + AXES[a] for a in range(rank)] + ["E" + AXES[a] for a in range(rank)]
        p = {k: int(p[k]) for k in keys}
        Ls = [p["L" + AXES[rank - 1 - d]] for d in range(rank)]  # per output dimension, outermost first
        Es = [p["E" + AXES[rank - 1 - d]] for d in range(rank)]
        if p["LOCAL"] not in (0, 1) or min(Ls + Es) < 1 or math.prod(Ls) > 1024 or math.prod(Es) > 64:
            raise ValueError(f"invalid stencil parameters {p}")
        if not self.grid_fits(match, p):
            raise ValueError(f"stencil tile {p} at shape {list(info['shape'])}: more blocks along an outer axis "
                             f"than the {self.dialect.target} grid allows ({self.dialect.max_grid[1]})")
        bits = index_width(match, params)
        if bits == 64:
            p["index_bits"] = 64
        use_local = bool(p["LOCAL"])
        ck = match.checked
        dl = self.dialect
        s: N.Stmt = info["stmt"]
        T = [l * e for l, e in zip(Ls, Es)]
        axis = [rank - 1 - d for d in range(rank)]  # hardware axis of each output dimension
        halo = info["halo"] if use_local else {}
        pitch = {n: [T[d] + hi[d] - lo[d] for d in range(rank)] for n, (lo, hi) in halo.items()}
        em0 = _DialectEmitter(ck, dl.renderer(bits), None)
        it = em0.r.index_ctype  # output coordinates, sizes, global offsets; tile-local indices stay `int`
        ie = em0.int_expr
        odims = [ie(x) for x in ck.tensors[s.target].shape]
        group = math.prod(Ls)

        def local_flat(n: str, idx: Sequence[str]) -> str:
            text = idx[0]
            for d in range(1, rank):
                text = f"({text}) * {pitch[n][d]} + {idx[d]}"
            return text

        L: List[str] = []
        w = L.append
        block = [Ls[rank - 1 - a] for a in range(rank)]  # per hardware axis
        grid = [f"cdiv({info['launch'][rank - 1 - a]}, {T[rank - 1 - a]})" for a in range(rank)]
        w(dl.launch(grid, block))
        w(dl.signature(ck, block, bits) + "\n{")
        for d in range(rank):
            w(f"    const {it} _un{d} = {odims[d]};")
            w(f"    const int _ul{d} = {dl.local_id(axis[d])};")
            w(f"    const {it} _uo{d} = {dl.group_id(axis[d], it)} * {T[d]};")
        for n, (lo, hi) in halo.items():
            cn = c_name(n)
            cells = math.prod(pitch[n])
            xd = [ie(x) for x in ck.tensors[n].shape]
            w(f"    {dl.local_decl} float _ush_{cn}[{cells}];")
            lid = f"_ul{rank - 1}"
            for d in range(rank - 2, -1, -1):
                lid = f"{lid} + _ul{d} * {math.prod(Ls[d + 1:])}"
            w(f"    for (int _ut = {lid}; _ut < {cells}; _ut += {group}) {{")
            rest = "_ut"
            for d in range(rank - 1, -1, -1):
                cell = rest if d == 0 else f"{rest} % {pitch[n][d]}"
                shift = f" + {lo[d]}" if lo[d] > 0 else f" - {-lo[d]}" if lo[d] < 0 else ""
                w(f"        const {it} _ug{d} = _uo{d}{shift} + {cell};")
                rest = f"({rest} / {pitch[n][d]})" if rest != "_ut" else f"_ut / {pitch[n][d]}"
            guard = " && ".join((f"_ug{d} >= 0 && " if lo[d] < 0 else "") + f"_ug{d} < {xd[d]}" for d in range(rank))
            flat = "_ug0"
            for d in range(1, rank):
                flat = f"({flat}) * ({xd[d]}) + _ug{d}"
            w(f"        _ush_{cn}[_ut] = ({guard}) ? {cn}[{flat}] : 0.0f;")
            w("    }")
        if halo:
            w(f"    {dl.barrier}")

        def hook(acc: N.Access) -> Optional[str]:
            if acc.tensor not in halo:
                return None
            lo = halo[acc.tensor][0]
            off = [_offset(i, v) - lo[d] for d, (i, v) in enumerate(zip(acc.indices, s.indices))]
            const = sum(off[d] * math.prod(pitch[acc.tensor][d + 1:]) for d in range(rank))
            return f"_ush_{c_name(acc.tensor)}[_ulb_{c_name(acc.tensor)} + {const}]"

        em = _DialectEmitter(ck, dl.renderer(bits), hook)
        out_dtype = ck.tensors[s.target].dtype
        for e in itertools.product(*(range(x) for x in Es)):
            w("    {")
            pos = [f"_ul{d}" + (f" + {e[d] * Ls[d]}" if e[d] else "") for d in range(rank)]
            for d, v in enumerate(s.indices):
                w(f"        const {it} {c_name(v)} = _uo{d} + {pos[d]};")
            w("        if (" + " && ".join(f"{c_name(v)} < _un{d}" for d, v in enumerate(s.indices)) + ") {")
            for n in halo:
                w(f"            const int _ulb_{c_name(n)} = {local_flat(n, pos)};")
            body: List[str] = []
            val = em.value(info["value"], body, " " * 12)
            L.extend(body)
            flat = em.flat_index(s.target, tuple(index_var(v) for v in s.indices))
            w("            " + em.r.store(c_name(s.target), flat, val, out_dtype))
            w("        }")
            w("    }")
        w("}")
        return dl.finish(match, "\n".join(L), self.name, p)


