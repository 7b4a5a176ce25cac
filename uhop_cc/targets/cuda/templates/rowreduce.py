"""CUDA `rowreduce`: every statement is either per row (`m[r] = f(reductions over c)`) or per
element of an R x C grid (`Y[r, c] = ...`): softmax, layernorm, cosine.

THREADS threads per row, ROWS rows per block. With REGS > 0 and C <= 4 * THREADS * REGS, the
row's 2-D f32 inputs are read once, as float4, into registers (thread t holds columns
4 * (t + THREADS * k) .. +3) and every reduction and output works from them (float4 loads of
per-column inputs, float4 stores); longer rows (or REGS=0) take strided loops, the row cached in
shared memory when CACHE=1. Block reductions: warp shuffles and one barrier through two
alternating shared buffers; per-row values live in registers; 2-D temporaries are recomputed at
their uses. The source sizes its register path for the bound row length and keeps the loop path
for longer rows, so it serves every shape.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from ....codegen.cstyle import GeneratedKernel, c_name
from ....codegen.template import Match, NoMatch, index_width, launch_expr, reserved_clash
from ....ir import nodes as N
from ....ir import symbolic
from ....ir.typed import BoundKernel
from ..renderer import CUDARenderer
from .base import HookEmitter, Template, fingerprint_int, finish, is_var, is_zero, signature, with_bits
from .gemm import MAX_GRID

__all__ = ["RowReduceTemplate", "RowReduceWriter", "TEMPLATE"]


class RowReduceTemplate(Template):
    name = "rowreduce"
    categorical = ("CACHE",)
    CACHE_LIMIT = 96 * 1024  # bytes of shared memory for cached rows

    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        Rd: Optional[N.Expr] = None
        Cd: Optional[N.Expr] = None

        def same(a, b):
            return symbolic.same(a, b)

        def set_c(d: N.Expr):
            nonlocal Cd
            if Cd is None:
                Cd = d
            elif not same(Cd, d):
                raise NoMatch("all rows must have the same length")

        defined: Dict[str, int] = {}  # tensor -> rank (1: per row, 2: per element)
        stmts = []
        n_red = 0
        col_inputs, row_inputs, grid_inputs = set(), set(), set()
        for s in ck.body:
            t = ck.tensors[s.target]
            if t.rank not in (1, 2):
                raise NoMatch("every statement must write a per-row [R] or per-element [R, C] tensor")
            if Rd is None:
                Rd = t.shape[0]
            elif not same(Rd, t.shape[0]):
                raise NoMatch("all statements must share the row dimension")
            if t.rank == 2:
                set_c(t.shape[1])
            roles = {s.indices[0]: "row"}
            if t.rank == 2:
                roles[s.indices[1]] = "col"
            reds = [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]
            if t.rank == 2 and reds:
                raise NoMatch("per-element statements cannot reduce")
            if t.rank == 1 and not reds:
                pass  # a per-row value computed from other per-row values
            for red in reds:
                if len(red.vars) != 1 or red.op not in ("sum", "max", "min", "prod"):
                    raise NoMatch("reductions must be over one column variable")
                v = red.vars[0]
                if not is_zero(v.lo):
                    raise NoMatch("reductions must start at column 0")
                set_c(v.hi)
                if any(isinstance(n, N.Reduce) for n in N.walk(red.body)):
                    raise NoMatch("nested reductions")
                n_red += 1
            self._check_accesses(ck, s.value, roles, defined, Rd, lambda: Cd, same,
                                 col_inputs, row_inputs, grid_inputs)
            defined[s.target] = t.rank
            stmts.append(s)
        if Cd is None or n_red == 0:
            raise NoMatch("no reduction over the columns")
        for name in col_inputs:
            if not same(ck.tensors[name].shape[0], Cd):
                raise NoMatch(f"`{name}` is indexed by the column but its length differs")
        info = {"R": Rd, "C": Cd, "rows": bound.dim(Rd), "cols": bound.dim(Cd), "grid_inputs": sorted(grid_inputs),
                "passes": n_red + sum(1 for s in ck.body if ck.tensors[s.target].rank == 2
                                      and ck.tensors[s.target].role == "output"),
                "launch_R": launch_expr(Rd), "launch_C": launch_expr(Cd), "col_inputs": sorted(col_inputs)}
        if int(info["rows"]) > MAX_GRID[0]:
            raise NoMatch(f"{info['rows']} rows need more blocks than CUDA's grid allows ({MAX_GRID[0]})")
        return Match(self.name, bound, info)

    @staticmethod
    def _check_accesses(ck, e: N.Expr, roles, defined, Rd, get_c, same, col_inputs, row_inputs, grid_inputs):
        def go(x: N.Expr, roles):
            if isinstance(x, N.Reduce):
                inner = dict(roles)
                inner[x.vars[0].name] = "col"
                go(x.body, inner)
                return
            if isinstance(x, N.Name) and x.kind == "index" and x.name not in roles:
                raise NoMatch(f"index `{x.name}` has no row/column role")
            if isinstance(x, N.Access):
                t = ck.tensors[x.tensor]
                if not all(is_var(i) for i in x.indices):
                    raise NoMatch("accesses must use bare index variables")
                kinds = [roles.get(i.name) for i in x.indices]
                if None in kinds:
                    raise NoMatch("an access uses an index without a role")
                if t.role != "input" and x.tensor not in defined:
                    raise NoMatch(f"`{x.tensor}` is read before it is written")
                if kinds == ["row", "col"]:
                    if not same(t.shape[0], Rd) or (get_c() is not None and not same(t.shape[1], get_c())):
                        raise NoMatch(f"`{x.tensor}` is not an R x C grid")
                    if t.role == "input":
                        grid_inputs.add(x.tensor)
                    elif defined.get(x.tensor) != 2:
                        raise NoMatch(f"`{x.tensor}` shape mismatch")
                elif kinds == ["row"]:
                    if not same(t.shape[0], Rd):
                        raise NoMatch(f"`{x.tensor}` is not a per-row vector")
                    if t.role == "input":
                        row_inputs.add(x.tensor)
                    elif defined.get(x.tensor) != 1:
                        raise NoMatch(f"`{x.tensor}` shape mismatch")
                elif kinds == ["col"]:
                    if t.role != "input":
                        raise NoMatch("per-column vectors must be inputs")
                    col_inputs.add(x.tensor)
                elif kinds == []:
                    if t.role != "input":
                        raise NoMatch("0-d tensors must be inputs")
                else:
                    raise NoMatch(f"access {x.tensor}[{', '.join(kinds)}] does not fit the row pattern")
                return
            for c in N.children(x):
                go(c, roles)

        go(e, roles)

    # default register-resident schedule: about KT float4 of each cached input per thread
    KT = 2
    MAX_REG_FLOATS = 32  # register-held floats per thread over all cached inputs

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        C = max(int(match.info["cols"]), 1)
        maxt = min(1024, fingerprint_int(device_fingerprint, "max_threads_per_block", 1024))
        maxt = max(32, maxt // 32 * 32)
        ck = match.checked
        cached = [n for n in match.info["grid_inputs"] if ck.tensors[n].dtype == "f32"]
        out: List[dict] = []

        def add(p: dict) -> None:
            if p is not None and p["THREADS"] * p["ROWS"] <= maxt and p not in out:
                out.append(p)

        # rows held in registers: THREADS threads per row, REGS float4 of each f32 row input per thread
        nv = -(-C // 4)
        kmax = max(1, self.MAX_REG_FLOATS // (4 * max(1, len(cached))))

        def regs(kt: int) -> Optional[dict]:
            t = min(maxt, max(32, -(-(-(-nv // kt)) // 32) * 32))
            k = -(-nv // t)
            if k > kmax:
                return None
            rows = max(1, min(8, 256 // t)) if t < 256 else 1
            return dict(THREADS=t, ROWS=rows, REGS=k, CACHE=0)

        for kt in (self.KT, 2 * self.KT, max(1, self.KT // 2), 4 * self.KT):
            add(regs(min(kt, kmax)))
        # streaming loops over the row (any C): the row cached in shared memory when read more than once
        threads = min(maxt, max(32, -(-(-(-C // 8)) // 32) * 32))
        optin = fingerprint_int(device_fingerprint, "shared_mem_per_block_optin", self.CACHE_LIMIT)
        cache = bool(cached) and match.info["passes"] > 1 and C * 4 * len(cached) <= min(self.CACHE_LIMIT, optin)
        add(dict(THREADS=threads, ROWS=1, REGS=0, CACHE=int(cache)))
        if cache:
            add(dict(THREADS=threads, ROWS=1, REGS=0, CACHE=0))
        for t in (256, 512, 1024, 128):
            add(dict(THREADS=t, ROWS=1, REGS=0, CACHE=int(cache)))
        return out

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = self._params(match, params)
        bits = index_width(match, p)
        writer = RowReduceWriter(match, p, bits)
        used = {"THREADS": writer.T, "ROWS": writer.RB, "REGS": writer.K, "CACHE": int(bool(writer.cached))}
        if writer.MINB:
            used["MINB"] = writer.MINB
        if writer.HINT:
            used["HINT"] = writer.HINT
        return finish(match.checked, [writer.source()], self.name, with_bits(used, bits))

    def _params(self, match: Match, params: Optional[dict]) -> dict:
        """The schedule's parameters over the space's first, checked; THREADS, ROWS, REGS, MINB and HINT
        resolved to ints."""
        given = dict(params or {})
        p = dict(self.space(match)[0])
        if "CACHE" in given and "REGS" not in given:  # the former parameters: strided loops only
            p.update(ROWS=1, REGS=0)
        p.update(given)
        T = int(p["THREADS"])
        RB = int(p.get("ROWS", 1))
        if "ROWS" not in given and T * RB > 1024:  # THREADS overridden alone: fewer rows per block
            RB = max(1, 1024 // T)
        K = int(p.get("REGS", 0))
        MINB = int(p.get("MINB", 0))
        HINT = int(p.get("HINT", 0))
        if T % 32 or not 32 <= T <= 1024:
            raise ValueError(f"rowreduce THREADS must be a multiple of 32 in 32..1024, got {T}")
        if RB < 1 or T * RB > 1024:
            raise ValueError(f"rowreduce ROWS must be >= 1 with THREADS * ROWS <= 1024, got {p}")
        if not 0 <= K <= 16 or not 0 <= MINB <= 32 or HINT not in (0, 1):
            raise ValueError(f"bad rowreduce parameters {p}")
        info = match.info
        if -(-int(info["rows"]) // RB) > MAX_GRID[0]:
            raise ValueError(f"rowreduce ROWS={RB}: {info['rows']} rows need more than {MAX_GRID[0]} blocks")
        return dict(p, THREADS=T, ROWS=RB, REGS=K, MINB=MINB, HINT=HINT)


LANES = "xyzw"


def aligned(cn: str) -> str:
    """C test that pointer `cn` is 16-byte aligned (float4 access)."""
    return f"((reinterpret_cast<unsigned long long>({cn}) & 15ull) == 0ull)"


class RowReduceWriter:
    """The lines of one rowreduce kernel, and the state its emitters share while writing them: the
    float4 lane being computed on the register path, the registers of per-row values, the count of
    block reductions (which alternate two shared buffers)."""

    def __init__(self, match: Match, p: dict, bits: int):
        ck = match.checked
        info = match.info
        self.ck, self.info, self.bits = ck, info, bits
        self.T, self.RB, self.K = p["THREADS"], p["ROWS"], p["REGS"]
        self.MINB, self.HINT = p["MINB"], p["HINT"]
        self.r = CUDARenderer(bits)
        self.it = self.r.index_ctype  # rows, columns and sizes; thread positions and register-path offsets stay int
        self.em0 = HookEmitter(ck, index_bits=bits)
        self.f32_grid = [n for n in info["grid_inputs"] if ck.tensors[n].dtype == "f32"]
        self.f32_cols = [n for n in info.get("col_inputs", []) if ck.tensors[n].dtype == "f32"]
        self.cached = self.f32_grid if (int(p.get("CACHE", 0)) and self.K == 0) else []
        self.defs: Dict[str, N.Stmt] = {s.target: s for s in ck.body if ck.tensors[s.target].rank == 2}
        self.NW = self.T // 32
        self.Y = "_uy" if self.RB > 1 else "0"
        self.act = "_uact" if self.RB > 1 else ""
        self.L: List[str] = []
        self.lane: Optional[str] = None
        self.rowvals: Dict[str, str] = {}
        self.nred = 0
        self.em = HookEmitter(ck, access=self.access, index_bits=bits)

    def w(self, line: str) -> None:
        self.L.append(line)

    def source(self) -> str:
        T, K = self.T, self.K
        self.header()
        if K > 0:
            self.w(f"    if (_uC <= {4 * T * K}) {{")
            self.reg_path("        ")
            self.w("    } else {")
            self.nred = 0
            self.rowvals.clear()
            self.loop_path("        ")
            self.w("    }")
        else:
            self.loop_path("    ")
        self.w("}")
        return "\n".join(self.L)

    def header(self) -> None:
        """The launch annotation, the signature, shared buffers and the row this thread works on."""
        ck, info, r, it, w = self.ck, self.info, self.r, self.it, self.w
        T, RB, cached = self.T, self.RB, self.cached
        smem = f" smem=({info['launch_C']} * {4 * len(cached) * RB})" if cached else ""
        grid = info["launch_R"] if RB == 1 else f"cdiv({info['launch_R']}, {RB}), 1"
        block = f"{T}" if RB == 1 else f"{T}, {RB}"
        w(f"// @launch grid=({grid}) block=({block}){smem}")
        bounds = f"__launch_bounds__({T * RB}, {self.MINB})" if self.MINB else f"__launch_bounds__({T * RB})"
        w(signature(ck, c_name(ck.name), bounds, self.bits) + "\n{")
        if cached:
            w("    extern __shared__ __align__(16) float _ush[];")
        red_types = sorted({r.ctype(n.dtype) for s in ck.body for n in N.walk(s.value) if isinstance(n, N.Reduce)})
        if self.NW > 1:
            for ct in red_types:
                w(f"    __shared__ {ct} _uw_{ct}[2][{RB}][32];")
        w(f"    const {it} _uC = {self.em0.int_expr(info['C'])};")
        if RB == 1:
            w(f"    const {it} _ur = blockIdx.x;")
        else:
            w(f"    const {it} _uR = {self.em0.int_expr(info['R'])};")
            w("    const int _uy = threadIdx.y;")
            w(f"    const {it} _urg = {'' if self.bits == 32 else f'({it})'}blockIdx.x * {RB} + _uy;")
            w("    const bool _uact = _urg < _uR;")
            w(f"    const {it} _ur = _uact ? _urg : _uR - 1;")
        w("    const int _ut = threadIdx.x;")
        w("    const size_t _urow = (size_t)_ur * (size_t)_uC;")

    # ------------------------------------------------------------ expressions
    def col_refs(self, e: N.Expr, seen: Optional[set] = None) -> List[str]:
        """f32 per-column inputs read by `e`, through substituted per-element temporaries."""
        seen = set() if seen is None else seen
        for n in N.walk(e):
            if not isinstance(n, N.Access) or n.tensor in seen:
                continue
            seen.add(n.tensor)
            if n.tensor in self.defs and self.ck.tensors[n.tensor].role != "input":
                self.col_refs(self.defs[n.tensor].value, seen)
        return [n for n in self.f32_cols if n in seen]

    def access(self, e: N.Access, out: List[str], ind: str) -> Optional[str]:
        """Loads: per-element temporaries recomputed, register/shared copies of the row, per-row registers."""
        em, r = self.em, self.r
        t = self.ck.tensors[e.tensor]
        cn = c_name(e.tensor)
        lane = self.lane
        if len(e.indices) == 2:
            col = em.names[e.indices[1].name]
            if e.tensor in self.defs and t.role != "input":
                d = self.defs[e.tensor]
                saved = em.names
                em.names = {d.indices[0]: "_ur", d.indices[1]: col}
                try:
                    return f"({em.value(d.value, out, ind)})"
                finally:
                    em.names = saved
            if lane is not None and e.tensor in self.f32_grid:
                return f"_ux_{cn}[_uk].{lane}"
            if e.tensor in self.cached:
                return f"_uc_{cn}[{col}]"
            return r.load(cn, f"_urow + {col}", t.dtype)
        if len(e.indices) == 1:
            role_text = em.names[e.indices[0].name]
            if role_text == "_ur":
                if t.role == "input":
                    return r.load(cn, "_ur", t.dtype)
                return self.rowvals[e.tensor]
            if lane is not None and e.tensor in self.f32_cols:
                return f"_ug_{cn}.{lane}"
            return r.load(cn, role_text, t.dtype)
        return r.load(cn, "0", t.dtype)

    def value(self, e: N.Expr, names: Dict[str, str], ind: str, lane: Optional[str] = None) -> str:
        """C text of `e` with index variables bound to `names` (on float4 lane `lane`); the statements
        it needs are written first."""
        self.em.names = names
        self.lane = lane
        body: List[str] = []
        val = self.em.value(e, body, ind)
        self.lane = None
        self.L.extend(body)
        return val

    # ------------------------------------------------------------ shared pieces
    def block_reduce(self, ind: str, red: N.Reduce, acc: str) -> None:
        """Combine the per-thread partial `_ua` of every thread of the row into `acc`."""
        r, w, NW = self.r, self.w, self.NW
        ct = r.ctype(red.dtype)
        comb = (lambda a, b: f"({a} + {b})") if red.op == "sum" else \
            (lambda a, b: f"({a} * {b})") if red.op == "prod" else \
            (lambda a, b, op=red.op, dt=red.dtype: r.math(op, dt, [a, b]))
        shfl = (f"{ind}#pragma unroll\n{ind}for (int _uo = 16; _uo > 0; _uo >>= 1) "
                f"_ua = {comb('_ua', '__shfl_xor_sync(0xffffffffu, _ua, _uo)')};")
        w(shfl)
        if NW > 1:
            # one barrier per reduction: the two buffers alternate, and the barrier of the
            # reduction in between orders the reads of one use before the writes of the next
            buf = f"_uw_{ct}[{self.nred % 2}][{self.Y}]"
            self.nred += 1
            w(f"{ind}if ((_ut & 31) == 0) {buf}[_ut >> 5] = _ua;")
            w(f"{ind}__syncthreads();")
            if NW == 32:
                w(f"{ind}_ua = {buf}[_ut & 31];")
            else:
                w(f"{ind}_ua = (_ut & 31) < {NW} ? {buf}[_ut & 31] : {r.identity(red.op, red.dtype)};")
            w(shfl)
        w(f"{ind}{acc} = _ua;")

    def col_loads(self, ind: str, names: List[str]) -> None:
        """float4 `_ug_X` of each per-column input at columns _ucb .. _ucb + 3 (zero past the row)."""
        w = self.w
        for n in names:
            cn = c_name(n)
            w(f"{ind}float4 _ug_{cn};")
            w(f"{ind}if ({aligned(cn)} && _ucb + 3 < _uC) {{")
            w(f"{ind}    _ug_{cn} = *reinterpret_cast<const float4*>({cn} + _ucb);")
            w(f"{ind}}} else {{")
            for j, ln in enumerate(LANES):
                w(f"{ind}    _ug_{cn}.{ln} = _ucb + {j} < _uC ? {cn}[_ucb + {j}] : 0.0f;")
            w(f"{ind}}}")

    def rowstmt(self, s: N.Stmt, ind: str, done: Dict[int, str]) -> None:
        """A per-row statement into a register (its reductions already in `done`), stored if an output."""
        r, em, w = self.r, self.em, self.w
        t = self.ck.tensors[s.target]
        cn = c_name(s.target)
        em.reduce_hook = lambda e: done.get(id(e))
        val = self.value(s.value, {s.indices[0]: "_ur"}, ind)
        em.reduce_hook = None
        reg = f"_urv_{cn}"
        w(f"{ind}const {r.ctype(t.dtype)} {reg} = {val};")
        self.rowvals[s.target] = reg
        if t.role == "output":
            cond = f"_ut == 0 && {self.act}" if self.act else "_ut == 0"
            w(f"{ind}if ({cond}) {r.store(cn, '_ur', reg, t.dtype)}")

    def statements(self, ind: str, write_grid: Callable[[N.Stmt, str], None],
                   fold: Callable[[N.Stmt, N.Reduce, str], None]) -> None:
        """Every statement in order: per-element outputs by `write_grid`; per-row values after their
        reductions, each folded into the thread's `_ua` by `fold` then combined over the row."""
        r, w = self.r, self.w
        nr = 0
        for s in self.ck.body:
            t = self.ck.tensors[s.target]
            if t.rank == 2:
                if t.role == "output":
                    write_grid(s, ind)
                continue
            done: Dict[int, str] = {}
            for red in [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]:
                nr += 1
                ct = r.ctype(red.dtype)
                acc = f"_ured{nr}"
                w(f"{ind}{ct} {acc};")
                w(f"{ind}{{")
                w(f"{ind}    {ct} _ua = {r.identity(red.op, red.dtype)};")
                fold(s, red, ind)
                self.block_reduce(ind + "    ", red, acc)
                w(f"{ind}}}")
                done[id(red)] = acc
            self.rowstmt(s, ind, done)

    # ------------------------------------------------------------ loop path
    def loop_path(self, ind: str) -> None:
        """Any row length: strided loops over the row (cached in shared memory if asked)."""
        w, it, T = self.w, self.it, self.T
        for k, name in enumerate(self.cached):
            cn = c_name(name)
            w(f"{ind}float* _uc_{cn} = _ush + (size_t)({self.Y} * {len(self.cached)} + {k}) * _uC;")
            w(f"{ind}if ((_uC & 3) == 0 && {aligned(cn)}) {{")
            w(f"{ind}    const float4* _usrc = reinterpret_cast<const float4*>({cn} + _urow);")
            w(f"{ind}    float4* _udst = reinterpret_cast<float4*>(_uc_{cn});")
            w(f"{ind}    for ({it} _uv = _ut; _uv < (_uC >> 2); _uv += {T}) _udst[_uv] = _usrc[_uv];")
            w(f"{ind}}} else {{")
            w(f"{ind}    for ({it} _uv = _ut; _uv < _uC; _uv += {T}) _uc_{cn}[_uv] = {cn}[_urow + _uv];")
            w(f"{ind}}}")
        if self.cached:
            w(f"{ind}__syncthreads();")
        self.statements(ind, self.loop_grid, self.loop_fold)

    def loop_grid(self, s: N.Stmt, ind: str) -> None:
        w, it = self.w, self.it
        t = self.ck.tensors[s.target]
        if self.act:
            w(f"{ind}if ({self.act})")
        w(f"{ind}for ({it} _uc = _ut; _uc < _uC; _uc += {self.T}) {{")
        val = self.value(s.value, {s.indices[0]: "_ur", s.indices[1]: "_uc"}, ind + "    ")
        w(ind + "    " + self.r.store(c_name(s.target), "_urow + _uc", val, t.dtype))
        w(f"{ind}}}")

    def loop_fold(self, s: N.Stmt, red: N.Reduce, ind: str) -> None:
        w = self.w
        w(f"{ind}    for ({self.it} _uc = _ut; _uc < _uC; _uc += {self.T}) {{")
        val = self.value(red.body, {s.indices[0]: "_ur", red.vars[0].name: "_uc"}, ind + "        ")
        w(f"{ind}        {self.r.combine(red.op, red.dtype, '_ua', val)}")
        w(f"{ind}    }}")

    # ------------------------------------------------------------ register path
    def reg_path(self, ind: str) -> None:
        """Rows of at most 4 * THREADS * REGS columns: thread t holds columns 4 * (t + THREADS * k) .. + 3
        of every f32 row input in registers (float4 `_ux_X[k]`); one read of the row from memory."""
        w, T, K = self.w, self.T, self.K
        ldx = "__ldcs" if self.HINT else "__ldg"
        for name in self.f32_grid:
            cn = c_name(name)
            w(f"{ind}float4 _ux_{cn}[{K}];")
            w(f"{ind}{{")
            w(f"{ind}    const bool _uvec = (_uC & 3) == 0 && {aligned(cn)};")
            w(f"{ind}    #pragma unroll")
            w(f"{ind}    for (int _uk = 0; _uk < {K}; ++_uk) {{")
            w(f"{ind}        const int _ucb = (_uk * {T} + _ut) * 4;")
            w(f"{ind}        if (_uvec && _ucb < _uC) {{")
            w(f"{ind}            _ux_{cn}[_uk] = {ldx}(reinterpret_cast<const float4*>({cn} + _urow + _ucb));")
            w(f"{ind}        }} else {{")
            for j, ln in enumerate(LANES):
                w(f"{ind}            _ux_{cn}[_uk].{ln} = _ucb + {j} < _uC ? {cn}[_urow + _ucb + {j}] : 0.0f;")
            w(f"{ind}        }}")
            w(f"{ind}    }}")
            w(f"{ind}}}")
        self.statements(ind, self.reg_grid, self.reg_fold)

    def reg_grid(self, s: N.Stmt, ind: str) -> None:
        """A per-element output from the registers: four lanes per float4, stored as float4 when f32."""
        w, act = self.w, self.act
        t = self.ck.tensors[s.target]
        cn = c_name(s.target)
        i2 = ind
        if act:
            w(f"{ind}if ({act}) {{")
            i2 = ind + "    "
        vec = t.dtype == "f32"
        if vec:
            w(f"{i2}const bool _uvo = (_uC & 3) == 0 && {aligned(cn)};")
        w(f"{i2}#pragma unroll")
        w(f"{i2}for (int _uk = 0; _uk < {self.K}; ++_uk) {{")
        w(f"{i2}    const int _ucb = (_uk * {self.T} + _ut) * 4;")
        w(f"{i2}    if (_ucb < _uC) {{")
        i3 = i2 + "        "
        self.col_loads(i3, self.col_refs(s.value))
        if vec:
            w(f"{i3}float4 _uo = make_float4(0.0f, 0.0f, 0.0f, 0.0f);")
        for j, ln in enumerate(LANES):
            w(f"{i3}if (_ucb + {j} < _uC) {{" if j else f"{i3}{{")
            val = self.value(s.value, {s.indices[0]: "_ur", s.indices[1]: f"(_ucb + {j})"}, i3 + "    ", ln)
            if vec:
                w(f"{i3}    _uo.{ln} = {val};")
            else:
                w(f"{i3}    " + self.r.store(cn, f"_urow + _ucb + {j}", val, t.dtype))
            w(f"{i3}}}")
        if vec:
            self.store_float4(cn, i3)
        w(f"{i2}    }}")
        w(f"{i2}}}")
        if act:
            w(f"{ind}}}")

    def store_float4(self, cn: str, ind: str) -> None:
        """Store `_uo` at columns _ucb .. _ucb + 3 of the row: one float4 when aligned and inside."""
        w = self.w
        st_ = "__stcs(reinterpret_cast<float4*>(" + cn + " + _urow + _ucb), _uo);" if self.HINT else \
            "*reinterpret_cast<float4*>(" + cn + " + _urow + _ucb) = _uo;"
        w(f"{ind}if (_uvo && _ucb + 3 < _uC) {{")
        w(f"{ind}    {st_}")
        w(f"{ind}}} else {{")
        for j, ln in enumerate(LANES):
            w(f"{ind}    if (_ucb + {j} < _uC) {cn}[_urow + _ucb + {j}] = _uo.{ln};")
        w(f"{ind}}}")

    def reg_fold(self, s: N.Stmt, red: N.Reduce, ind: str) -> None:
        w = self.w
        w(f"{ind}    #pragma unroll")
        w(f"{ind}    for (int _uk = 0; _uk < {self.K}; ++_uk) {{")
        w(f"{ind}        const int _ucb = (_uk * {self.T} + _ut) * 4;")
        w(f"{ind}        if (_ucb < _uC) {{")
        i3 = ind + "            "
        self.col_loads(i3, self.col_refs(red.body))
        for j, ln in enumerate(LANES):
            w(f"{i3}if (_ucb + {j} < _uC) {{" if j else f"{i3}{{")
            val = self.value(red.body, {s.indices[0]: "_ur", red.vars[0].name: f"(_ucb + {j})"}, i3 + "    ", ln)
            w(f"{i3}    {self.r.combine(red.op, red.dtype, '_ua', val)}")
            w(f"{i3}}}")
        w(f"{ind}        }}")
        w(f"{ind}    }}")


TEMPLATE = RowReduceTemplate()
