"""CUDA `elementwise`: one statement, no reduction, every access at the statement's own indices
(same shape as the output) or 0-d.

float4 loads and stores, UNROLL float4 per thread in flight, grid-stride loop, scalar tail.
"""
from __future__ import annotations

from typing import List, Optional

from ....codegen.cstyle import GeneratedKernel, c_name
from ....codegen.template import Match, NoMatch, index_width, launch_expr, reserved_clash
from ....ir import nodes as N
from ....ir import symbolic
from ....ir.typed import BoundKernel
from ..renderer import CUDARenderer
from .base import HookEmitter, Template, finish, index_uses, is_var, signature, with_bits

__all__ = ["ElementwiseTemplate", "TEMPLATE"]


class ElementwiseTemplate(Template):
    name = "elementwise"

    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
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
        total = " * ".join(launch_expr(d) for d in out.shape)
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
        em0 = HookEmitter(ck, index_bits=bits)
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


TEMPLATE = ElementwiseTemplate()
