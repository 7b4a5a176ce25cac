"""`rowreduce`: row-wise reduction chains (softmax, layernorm, RMS-norm, cosine...) in ONE kernel.

Matches programs whose statements all iterate a shared row axis: per-row values `t[r]`
and per-element values `t[r, c]`, where every reduction runs over one variable used
only as the LAST index of the accesses that depend on it (contiguous in memory), its
range not depending on the row. Per-element temporaries are never stored: they are
substituted (recomputed) where they are read; per-row values live in registers.

Schedule: a work-group of LC x RG work-items handles RG rows, LC work-items per row.
Reductions run in passes (those independent of each other share a pass): each
work-item folds columns lid*VW, lid*VW + LC*VW, ... on floatVW vectors (plus a scalar
tail), then a tree reduction in local memory combines the LC partials; every work-item
then computes the per-row values that depend on the pass. Per-element outputs are
written by a final column loop. VW > 1 applies to loops whose body is f32 arithmetic and
math (see `base.vector_safe`); other loops run element by element.

Index width (`index_bits`, from the shape): with 64 bits rows, columns, column-loop bounds and
sizes are `long`; work-item ids, slots in local memory and lane counters stay `int`.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from ....ir import nodes as N
from ....ir import symbolic
from ....ir.typed import BoundKernel
from ....codegen.cstyle import GeneratedKernel, c_name
from .base import (Match, NoMatch, Template, TemplateEmitter, device_kind, finish, index_ctype, index_names,
                   index_var, index_width, lanes, launch_expr, max_work_group, rename, reserved_clash, signature,
                   tree_map, vector_safe, vtype)

ROW, COL, LANE = "_urow", "_ucol", "_ucoll"


def _guarded_reduce(e: N.Expr, guarded: bool = False) -> bool:
    """A reduction sits in a lazily evaluated position (select branch, right of and/or)."""
    if isinstance(e, N.Reduce) and guarded:
        return True
    if isinstance(e, N.Call) and e.fn == "select":
        return (_guarded_reduce(e.args[0], guarded) or _guarded_reduce(e.args[1], True)
                or _guarded_reduce(e.args[2], True))
    if isinstance(e, N.Binary) and e.op in ("and", "or"):
        return _guarded_reduce(e.lhs, guarded) or _guarded_reduce(e.rhs, True)
    return any(_guarded_reduce(c, guarded) for c in N.children(e))


def _inner_ok(e: N.Expr, var: str) -> bool:
    """Every access that depends on `var` has it, bare, as its last index and nowhere else."""
    for n in N.walk(e):
        if isinstance(n, N.Access) and n.indices:
            dep = [var in index_names(i) for i in n.indices]
            if not any(dep):
                continue
            last = n.indices[-1]
            if not (isinstance(last, N.Name) and last.name == var) or any(dep[:-1]):
                return False
    return True


def _contiguous(a: N.Access) -> bool:
    last = a.indices[-1] if a.indices else None
    return isinstance(last, N.Name) and last.name == COL


class RowReduceTemplate(Template):
    name = "rowreduce"

    # ------------------------------------------------------------ match
    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        rows, rowvals, elems, rowset = _fuse(ck)
        rowvals = _live_rowvals(ck, rowvals, elems, rowset)
        level, reds = _passes(rowvals, elems)
        if not reds:
            raise NoMatch("no reduction: not a row reduction")
        R = bound.dim(rows)
        ncols = max([bound.range_of(r.vars[0])[1] - bound.range_of(r.vars[0])[0] for r in reds]
                    + [bound.shapes[t][1] for t, _ in elems], default=1)
        info = {"rows": rows, "rows_launch": launch_expr(rows), "rowvals": rowvals, "elems": elems,
                "reds": reds, "level": level, "vector": _any_vector_loop(ck, reds, elems), "R": R, "C": ncols}
        return Match(self.name, bound, info)

    # ------------------------------------------------------------ space
    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        kind = device_kind(device_fingerprint)
        wg = max_work_group(device_fingerprint, 256)
        C = match.info["C"]
        if kind == "CPU":
            # a work-item per row (no barriers) unless there are too few rows to share out
            cands = [dict(LC=1, RG=4, VW=16), dict(LC=4, RG=1, VW=16), dict(LC=16, RG=1, VW=16),
                     dict(LC=1, RG=16, VW=8), dict(LC=64, RG=1, VW=4), dict(LC=8, RG=2, VW=1)]
            if match.info["R"] < 16 and C >= 1024:
                cands.insert(0, cands.pop(2))
        else:
            cands = [dict(LC=256, RG=1, VW=4), dict(LC=128, RG=1, VW=1), dict(LC=64, RG=4, VW=1),
                     dict(LC=32, RG=8, VW=1), dict(LC=512, RG=1, VW=4), dict(LC=1024, RG=1, VW=4)]
            if C < 2048:  # short rows: about four columns per work-item, several rows per work-group
                lc = 32
                while lc < 256 and lc * 8 <= C:
                    lc *= 2
                cands.insert(0, dict(LC=lc, RG=256 // lc, VW=1))
        out = []
        for p in cands:
            if p["LC"] * p["RG"] > wg:
                continue
            if not match.info["vector"]:
                p = dict(p, VW=1)
            if p not in out:
                out.append(p)
        return out or [dict(LC=1, RG=1, VW=1)]

    # ------------------------------------------------------------ render
    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(params or self.space(match)[0])
        LC, RG, VW = int(p.get("LC", 64)), int(p.get("RG", 1)), int(p.get("VW", 1))
        if LC < 1 or LC & (LC - 1) or RG < 1 or VW not in (1, 2, 4, 8, 16):
            raise ValueError(f"invalid rowreduce parameters {p} (LC must be a power of two)")
        bits = index_width(match, p)
        source = RowReduceWriter(match, LC, RG, VW, bits).source()
        used = {"LC": LC, "RG": RG, "VW": VW}
        if bits == 64:
            used["index_bits"] = 64
        return finish(match, [source], self.name, used)


# ------------------------------------------------------------ match stages
def _fuse(ck) -> Tuple[N.Expr, List[Tuple[str, N.Expr]], List[Tuple[str, N.Expr]], Set[str]]:
    """Every statement on the shared row axis, its per-element temporaries substituted: (rows,
    per-row statements, per-element outputs, names of the per-row tensors)."""
    rows = None
    rowvals: List[Tuple[str, N.Expr]] = []  # per-row statements (renamed, inlined)
    elems: List[Tuple[str, N.Expr]] = []  # per-element outputs
    defs: Dict[str, Tuple[Tuple[str, ...], N.Expr]] = {}  # per-element tensors, substituted at uses
    rowset: Set[str] = set()
    row = index_var(ROW)

    def inline(e: N.Expr) -> N.Expr:
        def fn(x):
            if isinstance(x, N.Access):
                if x.tensor in defs:
                    if x.indices[0] != row:
                        raise NoMatch(f"`{x.tensor}` must be read in the same row")
                    lhs, val = defs[x.tensor]
                    return rename(val, {lhs[0]: row, lhs[1]: x.indices[1]})
                if x.tensor in rowset and tuple(x.indices) != (row,):
                    raise NoMatch(f"per-row `{x.tensor}` must be read at the same row")
            return None
        return tree_map(e, fn)

    for s in ck.body:
        info = ck.tensors[s.target]
        if info.rank not in (1, 2):
            raise NoMatch("statements must be per row ([R]) or per element ([R, C])")
        if rows is None:
            rows = info.shape[0]
        elif not symbolic.same(rows, info.shape[0]):
            raise NoMatch("statements must share the row axis")
        mapping = {s.indices[0]: row}
        if info.rank == 2:
            mapping[s.indices[1]] = index_var(COL)
        val = inline(rename(s.value, mapping))
        _check_statement(val, info.rank)
        if info.rank == 1:
            rowvals.append((s.target, val))
            rowset.add(s.target)
        else:
            defs[s.target] = ((ROW, COL), val)
            if info.role == "output":
                elems.append((s.target, val))
    return rows, rowvals, elems, rowset


def _check_statement(val: N.Expr, rank: int) -> None:
    """A statement (rows and columns renamed) that one work-group can evaluate per row."""
    if _guarded_reduce(val):
        raise NoMatch("reductions under select/and/or are evaluated lazily; not fused")
    free = {ROW, COL} if rank == 2 else {ROW}
    if not index_names(val) <= free:
        raise NoMatch("unexpected index variables")
    if rank == 2 and not _inner_ok(val, COL):
        raise NoMatch("per-element accesses must index the column last")
    for red in (n for n in N.walk(val) if isinstance(n, N.Reduce)):
        if len(red.vars) != 1:
            raise NoMatch("reductions must run over one variable")
        v = red.vars[0]
        if index_names(v.lo) or index_names(v.hi):
            raise NoMatch("reduction ranges must not depend on the row")
        if any(isinstance(n, N.Reduce) for n in N.walk(red.body) if n is not red):
            raise NoMatch("nested reductions")
        if not index_names(red.body) <= {ROW, v.name}:
            raise NoMatch("a reduction may only depend on the row and its own variable")
        if not _inner_ok(red.body, v.name):
            raise NoMatch("reductions must run over the last axis")


def _live_rowvals(ck, rowvals: List[Tuple[str, N.Expr]], elems: List[Tuple[str, N.Expr]],
                  rowset: Set[str]) -> List[Tuple[str, N.Expr]]:
    """The per-row statements an output needs (liveness, backwards)."""
    outputs = {p.name for p in ck.outputs}

    def rowrefs(e: N.Expr) -> Set[str]:
        return {n.tensor for n in N.walk(e) if isinstance(n, N.Access) and n.tensor in rowset}

    need: Set[str] = set()
    for _, v in elems:
        need |= rowrefs(v)
    for t, v in reversed(rowvals):
        if t in outputs or t in need:
            need |= rowrefs(v)
    return [(t, v) for t, v in rowvals if t in outputs or t in need]


def _passes(rowvals: List[Tuple[str, N.Expr]], elems: List[Tuple[str, N.Expr]]) \
        -> Tuple[Dict[str, int], Dict[N.Reduce, int]]:
    """The pass of each per-row value and of each reduction (structurally deduplicated): a
    reduction runs one pass after the per-row values it reads."""
    level: Dict[str, int] = {}
    reds: Dict[N.Reduce, int] = {}

    def deps(e: N.Expr) -> int:
        return max([level[n.tensor] for n in N.walk(e) if isinstance(n, N.Access) and n.tensor in level],
                   default=0)

    def schedule(e: N.Expr) -> int:
        lv = deps(e)
        for red in (n for n in N.walk(e) if isinstance(n, N.Reduce)):
            if red not in reds:
                reds[red] = deps(red.body) + 1
            lv = max(lv, reds[red])
        return lv

    for t, v in rowvals:
        level[t] = schedule(v)
    for _, v in elems:
        schedule(v)
    return level, reds


def _any_vector_loop(ck, reds: Dict[N.Reduce, int], elems: List[Tuple[str, N.Expr]]) -> bool:
    """Whether some column loop (a reduction or a per-element output) can run on float vectors."""
    vec_loops = []
    for red in reds:
        body = rename(red.body, {red.vars[0].name: index_var(COL)})
        vec_loops.append(red.dtype == "f32" and vector_safe(
            body, {COL}, lambda a: _contiguous(a) and ck.tensors[a.tensor].dtype == "f32"))
    for t, v in elems:
        vec_loops.append(ck.tensors[t].dtype == "f32" and vector_safe(
            v, {COL}, lambda a: _contiguous(a) and ck.tensors[a.tensor].dtype == "f32"))
    return any(vec_loops)


# ------------------------------------------------------------ render
class RowReduceWriter:
    """The lines of one rowreduce kernel for a schedule (LC work-items per row, RG rows per
    work-group, VW-wide vectors) and the names its pieces share."""

    def __init__(self, match: Match, LC: int, RG: int, VW: int, bits: int):
        self.ck, self.info = match.checked, match.info
        self.LC, self.RG, self.VW, self.bits = LC, RG, VW, bits
        self.reds: Dict[N.Reduce, int] = self.info["reds"]
        self.level: Dict[str, int] = self.info["level"]
        self.it = index_ctype(bits)  # rows, columns, sizes; work-item ids and local slots stay int
        self.em0 = self.emitter()
        self.r = self.em0.r
        self.rslot = {red: n for n, red in enumerate(self.reds)}
        self.regs = {t: f"_uv_{t}" for t, _ in self.info["rowvals"]}
        self.rowname, self.colname = c_name(ROW), c_name(COL)
        self.L: List[str] = []

    def w(self, line: str) -> None:
        self.L.append(line)

    def emitter(self, **kw) -> TemplateEmitter:
        return TemplateEmitter(self.ck, index_bits=self.bits, **kw)

    # ------------------------------------------------------------ hooks
    def row_hook(self, a: N.Access) -> Optional[str]:
        return self.regs.get(a.tensor)

    def red_hook(self, red: N.Reduce) -> Optional[str]:
        return f"_ur{self.rslot[red]}" if red in self.rslot else None

    def vec_hook(self, a: N.Access) -> Optional[str]:
        if a.tensor in self.regs:
            return self.regs[a.tensor]
        if a.indices and _contiguous(a):
            return f"vload{self.VW}(0, {c_name(a.tensor)} + {self.em0.flat_index(a.tensor, a.indices)})"
        return None

    def vec_ok(self, e: N.Expr, dtype: str) -> bool:
        return self.VW > 1 and dtype == "f32" and vector_safe(
            e, {COL}, lambda a: _contiguous(a) and self.ck.tensors[a.tensor].dtype == "f32")

    # ------------------------------------------------------------ kernel
    def source(self) -> str:
        self.header()
        npass = max(list(self.reds.values()) + [0])
        self.emit_rowvals(0)
        for ps in range(1, npass + 1):
            self.reduction_pass(ps)
            self.emit_rowvals(ps)
        if self.info["elems"]:
            self.elements()
        self.w("}")
        return "\n".join(self.L)

    def header(self) -> None:
        """The launch annotation, the signature, local buffers and the row of this work-item."""
        ck, info, it, w, LC, RG = self.ck, self.info, self.it, self.w, self.LC, self.RG
        rows_g = info["rows_launch"] if RG == 1 else f"roundup({info['rows_launch']}, {RG})"
        w(f"// @launch global=({LC}, {rows_g}) local=({LC}, {RG})")
        w(signature(ck, ck.name, False, f"__attribute__((reqd_work_group_size({LC}, {RG}, 1)))", self.bits) + "\n{")
        if LC > 1:
            for red, n in self.rslot.items():
                w(f"    __local {self.r.ctype(red.dtype)} _ured{n}[{LC * RG}];")
        w("    const int _ulid = (int)get_local_id(0);")
        w(f"    const {it} _urowg = ({it})get_group_id(1) * {RG} + ({it})get_local_id(1);")
        w(f"    const {it} _unrows = {self.em0.int_expr(info['rows'])};")
        w(f"    const {it} {self.rowname} = min(_urowg, _unrows - 1);")
        w("    const int _uactive = _urowg < _unrows;")
        if LC > 1:
            w(f"    const int _uslot = (int)get_local_id(1) * {LC};")

    def col_loop(self, lo: str, hi: str, ind: str, emit_vec, emit_scalar, vector: bool) -> List[str]:
        """Columns lo..hi split over the LC work-items of the row: vectors, then the scalar tail."""
        it, colname, VW, LC = self.it, self.colname, self.VW, self.LC
        out = [f"{ind}{{", f"{ind}    const {it} _ulo = {lo}, _uhi = {hi};"]
        tail = "_ulo"
        if vector:
            out.append(f"{ind}    const {it} _uvend = _ulo + (_uhi - _ulo) / {VW * LC} * {VW * LC};")
            out.append(f"{ind}    for ({it} {colname} = _ulo + _ulid * {VW}; {colname} < _uvend; "
                       f"{colname} += {VW * LC}) {{")
            out.extend(emit_vec(ind + "        "))
            out.append(f"{ind}    }}")
            tail = "_uvend"
        if LC == 1:
            out.append(f"{ind}    for ({it} {colname} = {tail}; {colname} < _uhi; ++{colname}) {{")
        else:
            out.append(f"{ind}    for ({it} {colname} = {tail} + _ulid; {colname} < _uhi; {colname} += {LC}) {{")
        out.extend(emit_scalar(ind + "        "))
        out.append(f"{ind}    }}")
        out.append(f"{ind}}}")
        return out

    def emit_rowvals(self, lv: int) -> None:
        """The per-row values of pass `lv` into registers (outputs stored by the row's first work-item)."""
        ck, r, w = self.ck, self.r, self.w
        for t, v in self.info["rowvals"]:
            if self.level[t] != lv:
                continue
            em = self.emitter(access=self.row_hook, reduce=self.red_hook)
            dtype = ck.tensors[t].dtype
            body: List[str] = []
            val = em.value(v, body, "    ")
            self.L.extend(body)
            w(f"    const {r.ctype(dtype)} {self.regs[t]} = {val};")
            if ck.tensors[t].role == "output":
                w("    if (_uactive && _ulid == 0) " + r.store(c_name(t), self.rowname, self.regs[t], dtype))

    # ------------------------------------------------------------ reductions
    def reduction_pass(self, ps: int) -> None:
        """The reductions of pass `ps`: one column loop per distinct range, then the LC partials combined."""
        r, w, rslot = self.r, self.w, self.rslot
        group = [red for red, lv in self.reds.items() if lv == ps]
        w(f"    // pass {ps}: " + ", ".join(f"_ur{rslot[x]}" for x in group))
        for red in group:
            n = rslot[red]
            w(f"    {r.ctype(red.dtype)} _us{n} = {r.identity(red.op, red.dtype)};")
        ranges: List[Tuple[N.Expr, N.Expr]] = []
        for red in group:
            key = (red.vars[0].lo, red.vars[0].hi)
            if key not in ranges:
                ranges.append(key)
        for lo, hi in ranges:
            self.range_loop([x for x in group if (x.vars[0].lo, x.vars[0].hi) == (lo, hi)], lo, hi)
        self.combine_partials(group)

    def range_loop(self, members: List[N.Reduce], lo: N.Expr, hi: N.Expr) -> None:
        """One column loop folding every reduction of `members` (same range) into its partial `_usN`:
        the vectorisable ones through a float vector `_upN`, reduced over its lanes after the loop."""
        r, w, rslot, VW, it = self.r, self.w, self.rslot, self.VW, self.it
        bodies = {x: rename(x.body, {x.vars[0].name: index_var(COL)}) for x in members}
        vec = [x for x in members if self.vec_ok(bodies[x], x.dtype)]
        vt = vtype("float", VW)
        for x in vec:
            w(f"    {vt} _up{rslot[x]} = ({vt})({r.identity(x.op, x.dtype)});")

        def emit_vec(ind):
            out: List[str] = []
            em = self.emitter(access=self.vec_hook, vector=VW, varying={COL})
            ems = self.emitter(access=self.row_hook)
            for x in members:
                nx = rslot[x]
                if x in vec:
                    val = em.value(bodies[x], out, ind)
                    out.append(ind + r.combine(x.op, x.dtype, f"_up{nx}", val))
                else:  # this reduction is not vectorisable: lanes one by one
                    out.append(f"{ind}for (int _ulane = 0; _ulane < {VW}; ++_ulane) {{")
                    out.append(f"{ind}    const {it} {c_name(LANE)} = {self.colname} + _ulane;")
                    sub = rename(bodies[x], {COL: index_var(LANE)})
                    inner: List[str] = []
                    val = ems.value(sub, inner, ind + "    ")
                    out.extend(inner)
                    out.append(ind + "    " + r.combine(x.op, x.dtype, f"_us{nx}", val))
                    out.append(f"{ind}}}")
            return out

        def emit_scalar(ind):
            out: List[str] = []
            em = self.emitter(access=self.row_hook)
            for x in members:
                val = em.value(bodies[x], out, ind)
                out.append(ind + r.combine(x.op, x.dtype, f"_us{rslot[x]}", val))
            return out

        self.L.extend(self.col_loop(self.em0.int_expr(lo), self.em0.int_expr(hi), "    ", emit_vec, emit_scalar,
                                    bool(vec)))
        for x in vec:
            nx = rslot[x]
            for lane in lanes(f"_up{nx}", VW):
                w("    " + r.combine(x.op, x.dtype, f"_us{nx}", lane))

    def combine_partials(self, group: List[N.Reduce]) -> None:
        """`_urN` of each reduction of the pass: the LC partials of the row, tree-reduced in local memory."""
        r, w, rslot, LC = self.r, self.w, self.rslot, self.LC
        if LC > 1:
            for red in group:
                w(f"    _ured{rslot[red]}[_uslot + _ulid] = _us{rslot[red]};")
            w("    barrier(CLK_LOCAL_MEM_FENCE);")
            s = LC // 2
            while s >= 1:
                w(f"    if (_ulid < {s}) {{")
                for red in group:
                    buf = f"_ured{rslot[red]}"
                    w("        " + r.combine(red.op, red.dtype, f"{buf}[_uslot + _ulid]",
                                             f"{buf}[_uslot + _ulid + {s}]"))
                w("    }")
                w("    barrier(CLK_LOCAL_MEM_FENCE);")
                s //= 2
            for red in group:
                w(f"    const {r.ctype(red.dtype)} _ur{rslot[red]} = _ured{rslot[red]}[_uslot];")
        else:
            for red in group:
                w(f"    const {r.ctype(red.dtype)} _ur{rslot[red]} = _us{rslot[red]};")

    # ------------------------------------------------------------ per-element outputs
    def elements(self) -> None:
        """Per-element outputs: one column loop each, on active rows."""
        ck, r, VW = self.ck, self.r, self.VW
        self.w("    if (_uactive) {")
        for t, v in self.info["elems"]:
            dtype = ck.tensors[t].dtype
            dims = ck.tensors[t].shape
            flat = self.em0.flat_index(t, (index_var(ROW), index_var(COL)))

            def emit_vec(ind, v=v, t=t, flat=flat):
                out: List[str] = []
                em = self.emitter(access=self.vec_hook, reduce=self.red_hook, vector=VW, varying={COL})
                val = em.value(v, out, ind)
                out.append(f"{ind}vstore{VW}({val}, 0, {c_name(t)} + {flat});")
                return out

            def emit_scalar(ind, v=v, t=t, flat=flat, dtype=dtype):
                out: List[str] = []
                em = self.emitter(access=self.row_hook, reduce=self.red_hook)
                val = em.value(v, out, ind)
                out.append(ind + r.store(c_name(t), flat, val, dtype))
                return out

            self.L.extend(self.col_loop("0", self.em0.int_expr(dims[1]), "        ", emit_vec, emit_scalar,
                                        self.vec_ok(v, dtype)))
        self.w("    }")


TEMPLATE = RowReduceTemplate()
