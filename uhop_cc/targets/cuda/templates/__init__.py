"""First-tier CUDA templates: tiled SGEMM, fused row reductions (softmax, layernorm...), and
vectorised elementwise kernels.

    from uhop_cc.targets.cuda.templates import TEMPLATES, select_template
    found = select_template(bound)            # (template, match) or None
    if found:
        t, m = found
        kernel = t.render(m, t.space(m, fingerprint)[0])   # GeneratedKernel(target='cuda', ...)

Each template recognises a program structurally on the typed IR (`match` returns None when it
does not apply, `why_not` says why), proposes parameters (`space`, best first) and renders
CUDA C++ under the generic lowering's ABI (inputs, outputs, then every size symbol as
`const int`, or `const long long` with 64-bit indices where the shape needs them or
`params["index_bits"]` asks; these kernels take no temporaries) with a `// @launch grid=(...)
block=(...)` annotation. Sizes stay kernel arguments: the same source serves every shape (`rowreduce` sizes
its register path for the bound row length and keeps a loop path for longer rows).

* `sgemm`: one statement `C[i, j] = epilogue(sum(k) A[i, k] * B[k, j])` over f32 2-D
  row-major A, B. Block tile BM x BN, threads of TM x TN outputs, k-tiles of BK in double
  buffered shared memory (the main loop of `cuda_gemm`), float4 global loads and stores where
  aligned, guarded loads and stores at the edges (any M, N, K). The epilogue (bias, relu...)
  runs per output. Default 128x128x8 with 8x8 per thread; smaller tiles when the grid would
  leave SMs idle.
* `rowreduce`: every statement is either per row (`m[r] = f(reductions over c)`) or per
  element of an R x C grid (`Y[r, c] = ...`): softmax, layernorm, cosine. THREADS threads per
  row, ROWS rows per block. With REGS > 0 and C <= 4 * THREADS * REGS, the row's 2-D f32 inputs
  are read once, as float4, into registers (thread t holds columns 4 * (t + THREADS * k) .. +3)
  and every reduction and output works from them (float4 loads of per-column inputs, float4
  stores); longer rows (or REGS=0) take strided loops, the row cached in shared memory when
  CACHE=1. Block reductions: warp shuffles and one barrier through two alternating shared
  buffers; per-row values live in registers; 2-D temporaries are recomputed at their uses.
* `elementwise`: one statement, no reduction, every access at the statement's own indices
  (same shape as the output) or 0-d: float4 loads and stores, U float4 per thread in
  flight, grid-stride loop, scalar tail.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ....ir import nodes as N
from ....ir import symbolic
from ....ir.typed import BoundKernel
from ....codegen.cstyle import GeneratedKernel, _Emitter, c_name
from ..renderer import CUDARenderer
from .gemm import MAX_GRID, GemmTile, RowMajorA, RowMajorB, mainloop
from ....codegen.template import Match, NoMatch, index_width
from .base import (HookEmitter, Template, cuda_launch_expr, fingerprint_int, finish, index_uses, is_var, is_zero,
                   names_clash, signature, with_bits)

__all__ = ["TEMPLATES", "Template", "Match", "NoMatch", "select_template", "get_template", "SgemmTemplate",
           "RowReduceTemplate", "ElementwiseTemplate"]


class SgemmTemplate(Template):
    name = "sgemm"

    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if names_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        if len(ck.body) != 1:
            raise NoMatch("sgemm needs a single statement")
        s = ck.body[0]
        out = ck.tensors[s.target]
        if out.role != "output" or out.dtype != "f32" or out.rank != 2:
            raise NoMatch("the target must be a 2-D f32 output")
        reds = [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]
        if len(reds) != 1:
            raise NoMatch("exactly one reduction expected")
        red = reds[0]
        if red.op != "sum" or len(red.vars) != 1 or red.dtype != "f32":
            raise NoMatch("the reduction must be an f32 sum over one variable")
        kv = red.vars[0]
        i, j, k = s.indices[0], s.indices[1], kv.name
        if len({i, j, k}) != 3:
            raise NoMatch("index variables must be distinct")
        for b in (kv.lo, kv.hi):
            if any(isinstance(n, N.Name) and n.kind == "index" for n in N.walk(b)):
                raise NoMatch("the k range must not depend on the output indices")
        body = red.body
        if not (isinstance(body, N.Binary) and body.op == "*"
                and isinstance(body.lhs, N.Access) and isinstance(body.rhs, N.Access)):
            raise NoMatch("the reduction body must be the product of two accesses")
        roles = {}
        for acc in (body.lhs, body.rhs):
            info = ck.tensors[acc.tensor]
            if info.role != "input" or info.dtype != "f32" or info.rank != 2:
                raise NoMatch("operands must be 2-D f32 inputs")
            if not all(is_var(x) for x in acc.indices):
                raise NoMatch("operand indices must be bare variables")
            names = [x.name for x in acc.indices]
            if names == [i, k]:
                role = "A"
            elif names == [k, j]:
                role = "B"
            else:
                raise NoMatch("operands must be A[i, k] and B[k, j] (row-major, not transposed)")
            if role in roles:
                raise NoMatch("both operands play the same role")
            roles[role] = acc.tensor
        # the epilogue may use i, j and other tensors, but not k
        uses: List[str] = []
        index_uses(s.value, uses)
        info = {"stmt": s, "red": red, "i": i, "j": j, "k": k, "A": roles["A"], "B": roles["B"],
                "epilogue": s.value is not red,
                "launch": {"M": cuda_launch_expr(out.shape[0]), "N": cuda_launch_expr(out.shape[1])},
                "M": bound.shapes[s.target][0], "N": bound.shapes[s.target][1]}
        if -(-int(info["M"]) // 256) > MAX_GRID[1]:  # 256: the tallest tile of `space`
            raise NoMatch(f"{info['M']} rows need more than {MAX_GRID[1]} blocks along the grid's y axis")
        return Match(self.name, bound, info)

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        """Block tiles, best first: 128x128 (k-tiles of 8) unless the grid would leave SMs idle,
        then the largest tile that still gives every SM a block."""
        cands = [dict(BM=128, BN=128, BK=8, TM=8, TN=8), dict(BM=128, BN=128, BK=16, TM=8, TN=8),
                 dict(BM=256, BN=128, BK=16, TM=8, TN=8), dict(BM=128, BN=256, BK=16, TM=8, TN=8),
                 dict(BM=128, BN=64, BK=8, TM=8, TN=8), dict(BM=64, BN=128, BK=8, TM=8, TN=8),
                 dict(BM=64, BN=64, BK=16, TM=4, TN=4), dict(BM=128, BN=128, BK=16, TM=8, TN=4)]
        max_threads = fingerprint_int(device_fingerprint, "max_threads_per_block", 1024)
        M, N = int(match.info["M"]), int(match.info["N"])
        cands = [p for p in cands if GemmTile.renders(p) and GemmTile.of(p).threads <= max_threads
                 and GemmTile.of(p).grid_fits(N, M)]
        sms = fingerprint_int(device_fingerprint, "sm_count", 132)
        blocks = lambda p: -(-M // p["BM"]) * -(-N // p["BN"])  # noqa: E731
        if blocks(cands[0]) < sms:
            enough = [p for p in cands if blocks(p) >= sms]
            first = max(enough, key=lambda p: p["BM"] * p["BN"]) if enough else max(cands, key=blocks)
            cands.remove(first)
            cands.insert(0, first)
        return cands

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(self.space(match)[0])
        p.update(params or {})
        p.pop("THREADS", None)  # implied by the tile (kept by schedules cached before it was derived)
        tile = GemmTile.of(p)
        tile.check()
        ck = match.checked
        info = match.info
        if not tile.grid_fits(info["N"], info["M"]):
            raise ValueError(f"sgemm tile {tile} at {info['M']} x {info['N']}: more than {MAX_GRID[1]} blocks "
                             "along the grid's y axis")
        bits = index_width(match, p)
        it = CUDARenderer(bits).index_ctype  # rows, columns, k and sizes; tile-local positions stay int
        s: N.Stmt = info["stmt"]
        red: N.Reduce = info["red"]
        kv = red.vars[0]
        em = _Emitter(CUDARenderer(bits), ck)
        out = ck.tensors[s.target]
        A, B = ck.tensors[info["A"]], ck.tensors[info["B"]]
        An, Bn, Cn = c_name(info["A"]), c_name(info["B"]), c_name(s.target)
        la = info["launch"]
        L: List[str] = [tile.launch(la["N"], la["M"]), signature(ck, c_name(ck.name), tile.bounds, bits) + "\n{"]
        w = L.append
        L.extend(tile.prologue(it))
        w(f"    const {it} _uM = {em.int_expr(out.shape[0])}, _uN = {em.int_expr(out.shape[1])};")
        w(f"    const {it} _ulda = {em.int_expr(A.shape[1])}, _uldb = {em.int_expr(B.shape[1])};")
        w(f"    const {it} _uklo = {em.int_expr(kv.lo)}, _uK = {em.int_expr(kv.hi)} - _uklo;")
        w(f"    const float* __restrict__ _uA = {An} + _uklo;")
        w(f"    const float* __restrict__ _uB = {Bn} + (size_t)_uklo * _uldb;")
        a = RowMajorA(tile, "_uA", "_ulda",
                      "((_ulda & 3) == 0) && ((reinterpret_cast<unsigned long long>(_uA) & 15ull) == 0ull)", it=it)
        b = RowMajorB(tile, "_uB", "_uldb",
                      "((_uldb & 3) == 0) && ((reinterpret_cast<unsigned long long>(_uB) & 15ull) == 0ull)", it)
        L.extend(mainloop(tile, a, b, it))
        w("    const bool _uvC = ((_uN & 3) == 0) && "
          f"((reinterpret_cast<unsigned long long>({Cn}) & 15ull) == 0ull);")

        def store() -> List[str]:
            S = [f"            float* _uCrow = {Cn} + (size_t)_ui * _uN;"]
            if not info["epilogue"]:
                return S + [
                    "            if (_uvC && _uj + 3 < _uN) {",
                    "                *reinterpret_cast<float4*>(_uCrow + _uj) = make_float4(_uacc[_um][_uh * 4 + 0], "
                    "_uacc[_um][_uh * 4 + 1], _uacc[_um][_uh * 4 + 2], _uacc[_um][_uh * 4 + 3]);",
                    "            } else {",
                    "                #pragma unroll",
                    "                for (int _uq = 0; _uq < 4; ++_uq)",
                    "                    if (_uj + _uq < _uN) _uCrow[_uj + _uq] = _uacc[_um][_uh * 4 + _uq];",
                    "            }"]
            S += ["            #pragma unroll",
                  "            for (int _uq = 0; _uq < 4; ++_uq) {",
                  "                if (_uj + _uq >= _uN) continue;",
                  f"                const {it} {c_name(info['i'])} = _ui;",
                  f"                const {it} {c_name(info['j'])} = _uj + _uq;"]
            epi = HookEmitter(ck, reduce=lambda e: "_uacc[_um][_uh * 4 + _uq]" if e is red else None,
                               index_bits=bits)
            body: List[str] = []
            val = epi.value(s.value, body, " " * 16)
            return S + body + [f"                _uCrow[_uj + _uq] = {val};", "            }"]

        L.extend(tile.epilogue(store, it))
        w("}")
        return finish(ck, ["\n".join(L)], self.name, with_bits(tile.params(), bits))


# ------------------------------------------------------------------ row reductions
class RowReduceTemplate(Template):
    name = "rowreduce"
    categorical = ("CACHE",)
    CACHE_LIMIT = 96 * 1024  # bytes of shared memory for cached rows

    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if names_clash(ck):
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
                "launch_R": cuda_launch_expr(Rd), "launch_C": cuda_launch_expr(Cd), "col_inputs": sorted(col_inputs)}
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
        ck = match.checked
        info = match.info
        if -(-int(info["rows"]) // RB) > MAX_GRID[0]:
            raise ValueError(f"rowreduce ROWS={RB}: {info['rows']} rows need more than {MAX_GRID[0]} blocks")
        bits = index_width(match, p)
        r = CUDARenderer(bits)
        it = r.index_ctype  # rows, columns and sizes; thread positions and register-path offsets stay int
        em0 = _Emitter(r, ck)
        f32_grid = [n for n in info["grid_inputs"] if ck.tensors[n].dtype == "f32"]
        f32_cols = [n for n in info.get("col_inputs", []) if ck.tensors[n].dtype == "f32"]
        cached = f32_grid if (int(p.get("CACHE", 0)) and K == 0) else []
        defs: Dict[str, N.Stmt] = {s.target: s for s in ck.body if ck.tensors[s.target].rank == 2}
        NW = T // 32
        Y = "_uy" if RB > 1 else "0"
        LANES = "xyzw"

        L: List[str] = []
        w = L.append
        smem = f" smem=({info['launch_C']} * {4 * len(cached) * RB})" if cached else ""
        grid = info["launch_R"] if RB == 1 else f"cdiv({info['launch_R']}, {RB}), 1"
        block = f"{T}" if RB == 1 else f"{T}, {RB}"
        w(f"// @launch grid=({grid}) block=({block}){smem}")
        bounds = f"__launch_bounds__({T * RB}, {MINB})" if MINB else f"__launch_bounds__({T * RB})"
        w(signature(ck, c_name(ck.name), bounds, bits) + "\n{")
        if cached:
            w("    extern __shared__ __align__(16) float _ush[];")
        red_types = sorted({r.ctype(n.dtype) for s in ck.body for n in N.walk(s.value) if isinstance(n, N.Reduce)})
        if NW > 1:
            for ct in red_types:
                w(f"    __shared__ {ct} _uw_{ct}[2][{RB}][32];")
        w(f"    const {it} _uC = {em0.int_expr(info['C'])};")
        if RB == 1:
            w(f"    const {it} _ur = blockIdx.x;")
        else:
            w(f"    const {it} _uR = {em0.int_expr(info['R'])};")
            w("    const int _uy = threadIdx.y;")
            w(f"    const {it} _urg = {'' if bits == 32 else f'({it})'}blockIdx.x * {RB} + _uy;")
            w("    const bool _uact = _urg < _uR;")
            w(f"    const {it} _ur = _uact ? _urg : _uR - 1;")
        w("    const int _ut = threadIdx.x;")
        w("    const size_t _urow = (size_t)_ur * (size_t)_uC;")
        act = "_uact" if RB > 1 else ""

        def aligned(cn: str) -> str:
            return f"((reinterpret_cast<unsigned long long>({cn}) & 15ull) == 0ull)"

        def col_refs(e: N.Expr, seen: Optional[set] = None) -> List[str]:
            """f32 per-column inputs read by `e`, through substituted per-element temporaries."""
            seen = set() if seen is None else seen
            for n in N.walk(e):
                if not isinstance(n, N.Access) or n.tensor in seen:
                    continue
                seen.add(n.tensor)
                if n.tensor in defs and ck.tensors[n.tensor].role != "input":
                    col_refs(defs[n.tensor].value, seen)
            return [n for n in f32_cols if n in seen]

        # lane state while emitting the register path: which float4 lane is being computed
        st: Dict[str, object] = {"lane": None}

        def access(e: N.Access, out: List[str], ind: str) -> Optional[str]:
            t = ck.tensors[e.tensor]
            cn = c_name(e.tensor)
            lane = st["lane"]
            if len(e.indices) == 2:
                col = em.names[e.indices[1].name]
                if e.tensor in defs and t.role != "input":
                    d = defs[e.tensor]
                    saved = em.names
                    em.names = {d.indices[0]: "_ur", d.indices[1]: col}
                    try:
                        return f"({em.value(d.value, out, ind)})"
                    finally:
                        em.names = saved
                if lane is not None and e.tensor in f32_grid:
                    return f"_ux_{cn}[_uk].{lane}"
                if e.tensor in cached:
                    return f"_uc_{cn}[{col}]"
                return r.load(cn, f"_urow + {col}", t.dtype)
            if len(e.indices) == 1:
                role_text = em.names[e.indices[0].name]
                if role_text == "_ur":
                    if t.role == "input":
                        return r.load(cn, "_ur", t.dtype)
                    return rowvals[e.tensor]
                if lane is not None and e.tensor in f32_cols:
                    return f"_ug_{cn}.{lane}"
                return r.load(cn, role_text, t.dtype)
            return r.load(cn, "0", t.dtype)

        em = HookEmitter(ck, access=access, index_bits=bits)
        rowvals: Dict[str, str] = {}
        nred = [0]

        def block_reduce(ind: str, red: N.Reduce, acc: str) -> None:
            """Combine the per-thread partial `_ua` of every thread of the row into `acc`."""
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
                buf = f"_uw_{ct}[{nred[0] % 2}][{Y}]"
                nred[0] += 1
                w(f"{ind}if ((_ut & 31) == 0) {buf}[_ut >> 5] = _ua;")
                w(f"{ind}__syncthreads();")
                if NW == 32:
                    w(f"{ind}_ua = {buf}[_ut & 31];")
                else:
                    w(f"{ind}_ua = (_ut & 31) < {NW} ? {buf}[_ut & 31] : {r.identity(red.op, red.dtype)};")
                w(shfl)
            w(f"{ind}{acc} = _ua;")

        def col_loads(ind: str, names: List[str]) -> None:
            for n in names:
                cn = c_name(n)
                w(f"{ind}float4 _ug_{cn};")
                w(f"{ind}if ({aligned(cn)} && _ucb + 3 < _uC) {{")
                w(f"{ind}    _ug_{cn} = *reinterpret_cast<const float4*>({cn} + _ucb);")
                w(f"{ind}}} else {{")
                for j, ln in enumerate(LANES):
                    w(f"{ind}    _ug_{cn}.{ln} = _ucb + {j} < _uC ? {cn}[_ucb + {j}] : 0.0f;")
                w(f"{ind}}}")

        def emit_rowstmt(s: N.Stmt, ind: str, done: Dict[int, str]) -> None:
            t = ck.tensors[s.target]
            cn = c_name(s.target)
            em.reduce_hook = lambda e: done.get(id(e))
            em.names = {s.indices[0]: "_ur"}
            st["lane"] = None
            body: List[str] = []
            val = em.value(s.value, body, ind)
            em.reduce_hook = None
            L.extend(body)
            reg = f"_urv_{cn}"
            w(f"{ind}const {r.ctype(t.dtype)} {reg} = {val};")
            rowvals[s.target] = reg
            if t.role == "output":
                cond = f"_ut == 0 && {act}" if act else "_ut == 0"
                w(f"{ind}if ({cond}) {r.store(cn, '_ur', reg, t.dtype)}")

        def emit_loop_path(ind: str) -> None:
            """Any row length: strided loops over the row (cached in shared memory if asked)."""
            for k, name in enumerate(cached):
                cn = c_name(name)
                w(f"{ind}float* _uc_{cn} = _ush + (size_t)({Y} * {len(cached)} + {k}) * _uC;")
                w(f"{ind}if ((_uC & 3) == 0 && {aligned(cn)}) {{")
                w(f"{ind}    const float4* _usrc = reinterpret_cast<const float4*>({cn} + _urow);")
                w(f"{ind}    float4* _udst = reinterpret_cast<float4*>(_uc_{cn});")
                w(f"{ind}    for ({it} _uv = _ut; _uv < (_uC >> 2); _uv += {T}) _udst[_uv] = _usrc[_uv];")
                w(f"{ind}}} else {{")
                w(f"{ind}    for ({it} _uv = _ut; _uv < _uC; _uv += {T}) _uc_{cn}[_uv] = {cn}[_urow + _uv];")
                w(f"{ind}}}")
            if cached:
                w(f"{ind}__syncthreads();")
            nr = 0
            for s in ck.body:
                t = ck.tensors[s.target]
                cn = c_name(s.target)
                if t.rank == 2:
                    if t.role == "output":
                        if act:
                            w(f"{ind}if ({act})")
                        w(f"{ind}for ({it} _uc = _ut; _uc < _uC; _uc += {T}) {{")
                        em.names = {s.indices[0]: "_ur", s.indices[1]: "_uc"}
                        body: List[str] = []
                        val = em.value(s.value, body, ind + "    ")
                        L.extend(body)
                        w(ind + "    " + r.store(cn, "_urow + _uc", val, t.dtype))
                        w(f"{ind}}}")
                    continue
                done: Dict[int, str] = {}
                for red in [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]:
                    nr += 1
                    ct = r.ctype(red.dtype)
                    acc = f"_ured{nr}"
                    w(f"{ind}{ct} {acc};")
                    w(f"{ind}{{")
                    w(f"{ind}    {ct} _ua = {r.identity(red.op, red.dtype)};")
                    w(f"{ind}    for ({it} _uc = _ut; _uc < _uC; _uc += {T}) {{")
                    em.names = {s.indices[0]: "_ur", red.vars[0].name: "_uc"}
                    body = []
                    val = em.value(red.body, body, ind + "        ")
                    L.extend(body)
                    w(f"{ind}        {r.combine(red.op, red.dtype, '_ua', val)}")
                    w(f"{ind}    }}")
                    block_reduce(ind + "    ", red, acc)
                    w(f"{ind}}}")
                    done[id(red)] = acc
                emit_rowstmt(s, ind, done)

        def emit_reg_path(ind: str) -> None:
            """Rows of at most 4 * THREADS * REGS columns: thread t holds columns 4 * (t + THREADS * k) .. + 3
            of every f32 row input in registers (float4 `_ux_X[k]`); one read of the row from memory."""
            ldx = "__ldcs" if HINT else "__ldg"
            for name in f32_grid:
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
            nr = 0
            for s in ck.body:
                t = ck.tensors[s.target]
                cn = c_name(s.target)
                if t.rank == 2:
                    if t.role != "output":
                        continue
                    i2 = ind
                    if act:
                        w(f"{ind}if ({act}) {{")
                        i2 = ind + "    "
                    vec = t.dtype == "f32"
                    if vec:
                        w(f"{i2}const bool _uvo = (_uC & 3) == 0 && {aligned(cn)};")
                    w(f"{i2}#pragma unroll")
                    w(f"{i2}for (int _uk = 0; _uk < {K}; ++_uk) {{")
                    w(f"{i2}    const int _ucb = (_uk * {T} + _ut) * 4;")
                    w(f"{i2}    if (_ucb < _uC) {{")
                    i3 = i2 + "        "
                    col_loads(i3, col_refs(s.value))
                    if vec:
                        w(f"{i3}float4 _uo = make_float4(0.0f, 0.0f, 0.0f, 0.0f);")
                    for j, ln in enumerate(LANES):
                        w(f"{i3}if (_ucb + {j} < _uC) {{" if j else f"{i3}{{")
                        em.names = {s.indices[0]: "_ur", s.indices[1]: f"(_ucb + {j})"}
                        st["lane"] = ln
                        body = []
                        val = em.value(s.value, body, i3 + "    ")
                        st["lane"] = None
                        L.extend(body)
                        if vec:
                            w(f"{i3}    _uo.{ln} = {val};")
                        else:
                            w(f"{i3}    " + r.store(cn, f"_urow + _ucb + {j}", val, t.dtype))
                        w(f"{i3}}}")
                    if vec:
                        st_ = "__stcs(reinterpret_cast<float4*>(" + cn + " + _urow + _ucb), _uo);" if HINT else \
                            "*reinterpret_cast<float4*>(" + cn + " + _urow + _ucb) = _uo;"
                        w(f"{i3}if (_uvo && _ucb + 3 < _uC) {{")
                        w(f"{i3}    {st_}")
                        w(f"{i3}}} else {{")
                        for j, ln in enumerate(LANES):
                            w(f"{i3}    if (_ucb + {j} < _uC) {cn}[_urow + _ucb + {j}] = _uo.{ln};")
                        w(f"{i3}}}")
                    w(f"{i2}    }}")
                    w(f"{i2}}}")
                    if act:
                        w(f"{ind}}}")
                    continue
                done: Dict[int, str] = {}
                for red in [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]:
                    nr += 1
                    ct = r.ctype(red.dtype)
                    acc = f"_ured{nr}"
                    w(f"{ind}{ct} {acc};")
                    w(f"{ind}{{")
                    w(f"{ind}    {ct} _ua = {r.identity(red.op, red.dtype)};")
                    w(f"{ind}    #pragma unroll")
                    w(f"{ind}    for (int _uk = 0; _uk < {K}; ++_uk) {{")
                    w(f"{ind}        const int _ucb = (_uk * {T} + _ut) * 4;")
                    w(f"{ind}        if (_ucb < _uC) {{")
                    i3 = ind + "            "
                    col_loads(i3, col_refs(red.body))
                    for j, ln in enumerate(LANES):
                        w(f"{i3}if (_ucb + {j} < _uC) {{" if j else f"{i3}{{")
                        em.names = {s.indices[0]: "_ur", red.vars[0].name: f"(_ucb + {j})"}
                        st["lane"] = ln
                        body = []
                        val = em.value(red.body, body, i3 + "    ")
                        st["lane"] = None
                        L.extend(body)
                        w(f"{i3}    {r.combine(red.op, red.dtype, '_ua', val)}")
                        w(f"{i3}}}")
                    w(f"{ind}        }}")
                    w(f"{ind}    }}")
                    block_reduce(ind + "    ", red, acc)
                    w(f"{ind}}}")
                    done[id(red)] = acc
                emit_rowstmt(s, ind, done)

        if K > 0:
            w(f"    if (_uC <= {4 * T * K}) {{")
            emit_reg_path("        ")
            w("    } else {")
            nred[0] = 0
            rowvals.clear()
            emit_loop_path("        ")
            w("    }")
        else:
            emit_loop_path("    ")
        w("}")
        used = {"THREADS": T, "ROWS": RB, "REGS": K, "CACHE": int(bool(cached))}
        if MINB:
            used["MINB"] = MINB
        if HINT:
            used["HINT"] = HINT
        return finish(ck, ["\n".join(L)], self.name, with_bits(used, bits))


# ------------------------------------------------------------------ elementwise
class ElementwiseTemplate(Template):
    name = "elementwise"

    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if names_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        if len(ck.body) != 1:
            raise NoMatch("elementwise needs a single statement")
        s = ck.body[0]
        out = ck.tensors[s.target]
        if out.role != "output" or out.dtype != "f32" or out.rank < 1:
            raise NoMatch("the target must be an f32 output of rank >= 1")
        if any(isinstance(n, N.Reduce) for n in N.walk(s.value)):
            raise NoMatch("elementwise statements have no reductions")
        uses: List[str] = []
        index_uses(s.value, uses)
        if uses:
            raise NoMatch("index variables used as values")
        flat, scalar = set(), set()
        for n in N.walk(s.value):
            if not isinstance(n, N.Access):
                continue
            t = ck.tensors[n.tensor]
            if t.role != "input":
                raise NoMatch("only inputs can be read")
            if not n.indices:
                scalar.add(n.tensor)
                continue
            if t.dtype != "f32":
                raise NoMatch("tensor operands must be f32")
            if len(n.indices) != len(s.indices) or not all(is_var(x, v) for x, v in zip(n.indices, s.indices)):
                raise NoMatch("accesses must use the statement's own indices, in order")
            if not all(symbolic.same(a, b) for a, b in zip(t.shape, out.shape)):
                raise NoMatch(f"`{n.tensor}` does not have the output's shape")
            flat.add(n.tensor)
        total = " * ".join(cuda_launch_expr(d) for d in out.shape)
        return Match(self.name, bound, {"stmt": s, "flat": sorted(flat), "scalar": sorted(scalar), "total": total})

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        return [dict(THREADS=256, UNROLL=4), dict(THREADS=256, UNROLL=2), dict(THREADS=512, UNROLL=4),
                dict(THREADS=128, UNROLL=8), dict(THREADS=256, UNROLL=1)]

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(self.space(match)[0])
        p.update(params or {})
        T, U = int(p["THREADS"]), int(p["UNROLL"])
        if T % 32 or not 32 <= T <= 1024 or not 1 <= U <= 16:
            raise ValueError(f"bad elementwise parameters {p}")
        ck = match.checked
        info = match.info
        bits = index_width(match, p)  # the body already indexes in 64 bits: only the size arguments widen
        s: N.Stmt = info["stmt"]
        out = ck.tensors[s.target]
        r = CUDARenderer(bits)
        em0 = _Emitter(r, ck)
        flat = [c_name(n) for n in info["flat"]]
        On = c_name(s.target)
        per_block = T * U
        L: List[str] = []
        w = L.append
        w(f"// @launch grid=(cdiv({info['total']}, {4 * per_block})) block=({T})")
        w(signature(ck, c_name(ck.name), f"__launch_bounds__({T})", bits) + "\n{")
        total = " * ".join(f"(long long)({em0.int_expr(d)})" for d in out.shape)
        w(f"    const long long _un = {total};")
        w("    const long long _unv = _un >> 2;")
        ptrs = " | ".join(f"reinterpret_cast<unsigned long long>({n})" for n in flat + [On])
        w(f"    const bool _uvec = (({ptrs}) & 15ull) == 0ull;")
        w(f"    const long long _ustride = (long long)gridDim.x * {per_block};")
        w("    long long _utail = 0;")
        w("    if (_uvec) {")
        w("        _utail = _unv << 2;")
        w(f"        for (long long _ub = (long long)blockIdx.x * {per_block} + threadIdx.x; _ub < _unv; "
          f"_ub += _ustride) {{")
        for n in flat:
            w(f"            float4 _ux_{n}[{U}];")
        w("            #pragma unroll")
        w(f"            for (int _uu = 0; _uu < {U}; ++_uu) {{")
        w(f"                const long long _uv = _ub + (long long)_uu * {T};")
        w("                if (_uv < _unv) {")
        for n in flat:
            w(f"                    _ux_{n}[_uu] = reinterpret_cast<const float4*>({n})[_uv];")
        w("                }")
        w("            }")
        w("            #pragma unroll")
        w(f"            for (int _uu = 0; _uu < {U}; ++_uu) {{")
        w(f"                const long long _uv = _ub + (long long)_uu * {T};")
        w("                if (_uv < _unv) {")
        w("                    float4 _uo;")
        for lane in "xyzw":
            def access(e: N.Access, out_: List[str], ind: str, lane=lane) -> Optional[str]:
                if not e.indices:
                    return r.load(c_name(e.tensor), "0", ck.tensors[e.tensor].dtype)
                return f"_ux_{c_name(e.tensor)}[_uu].{lane}"
            em = HookEmitter(ck, access=access, index_bits=bits)
            em.counter = 1000 * ("xyzw".index(lane) + 1)
            body: List[str] = []
            val = em.value(s.value, body, " " * 20)
            L.extend(body)
            w(f"                    _uo.{lane} = {val};")
        w(f"                    reinterpret_cast<float4*>({On})[_uv] = _uo;")
        w("                }")
        w("            }")
        w("        }")
        w("    }")
        w(f"    for (long long _ui = _utail + (long long)blockIdx.x * {T} + threadIdx.x; _ui < _un; "
          f"_ui += (long long)gridDim.x * {T}) {{")

        def access_s(e: N.Access, out_: List[str], ind: str) -> Optional[str]:
            if not e.indices:
                return r.load(c_name(e.tensor), "0", ck.tensors[e.tensor].dtype)
            return f"{c_name(e.tensor)}[_ui]"
        em = HookEmitter(ck, access=access_s, index_bits=bits)
        body = []
        val = em.value(s.value, body, " " * 8)
        L.extend(body)
        w(f"        {On}[_ui] = {val};")
        w("    }")
        w("}")
        return finish(ck, ["\n".join(L)], self.name, with_bits({"THREADS": T, "UNROLL": U}, bits))


SGEMM = SgemmTemplate()
ROWREDUCE = RowReduceTemplate()
ELEMENTWISE = ElementwiseTemplate()
from .conv2d import CONV2D  # noqa: E402  (implicit GEMM on the shared main loop)

from .stencil import TEMPLATE as STENCIL  # noqa: E402  (the shared schedule, codegen/stencil.py)

TEMPLATES: List[Template] = [SGEMM, ROWREDUCE, ELEMENTWISE, CONV2D, STENCIL]


def get_template(name: str) -> Template:
    for t in TEMPLATES:
        if t.name == name:
            return t
    raise KeyError(f"no CUDA template named `{name}` (known: {', '.join(t.name for t in TEMPLATES)})")


def select_template(bound: BoundKernel, device: Optional[dict] = None) -> Optional[Tuple[Template, Match]]:
    """The first CUDA template that matches, with its match (None when none does)."""
    for t in TEMPLATES:
        m = t.match(bound)
        if m is not None:
            return t, m
    return None
