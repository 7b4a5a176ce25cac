"""CUDA `sgemm`: one statement `C[i, j] = epilogue(sum(k) A[i, k] * B[k, j])` over f32 2-D
row-major A, B.

Block tile BM x BN, threads of TM x TN outputs, k-tiles of BK in double buffered shared memory
(the main loop of `gemm.py`), float4 global loads and stores where aligned, guarded loads and
stores at the edges (any M, N, K). The epilogue (bias, relu...) runs per output. Default
128x128x8 with 8x8 per thread; smaller tiles when the grid would leave SMs idle.
"""
from __future__ import annotations

from typing import List, Optional

from ....codegen.cstyle import GeneratedKernel, c_name
from ....codegen.template import Match, NoMatch, index_width, launch_expr, reserved_clash
from ....ir import nodes as N
from ....ir.typed import BoundKernel
from ..renderer import CUDARenderer
from .base import HookEmitter, Template, fingerprint_int, finish, index_uses, is_var, signature, with_bits
from .gemm import MAX_GRID, GemmTile, RowMajorA, RowMajorB, mainloop

__all__ = ["SgemmTemplate", "TEMPLATE"]


class SgemmTemplate(Template):
    name = "sgemm"

    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
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
                "launch": {"M": launch_expr(out.shape[0]), "N": launch_expr(out.shape[1])},
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
        em = HookEmitter(ck, index_bits=bits)
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


TEMPLATE = SgemmTemplate()
