"""`conv2d`: NCHW convolution (direct or implicit GEMM), valid padding, stride 1, with an optional epilogue.

Matches one statement `Y[n, k, y, x] = epilogue(sum(c, r, s) X[n, c, y + r, x + s] * F[k, c, r, s])`
(factors in either order, `y + r` or `r + y`), f32, reduction ranges independent of the
output indices.

Two algorithms, chosen by the param ALGO (absent means 0, so schedules cached before it
existed keep rendering the same kernel).

ALGO=0, direct (KB, XB, XV, LX, LK): work-item (tx, y, tk) computes KB output channels x XB consecutive output
columns of one output row: XB/XV floatXV accumulators per channel. For every (c, r, s)
the KB filter taps are loaded once into registers and reused across the XB columns, the
XB input values (vloadXV) across the KB channels. Work-items whose columns run past the
row end take a guarded scalar path; channel blocks past K read a clamped filter and do
not store. Launch: dim 0 column blocks (LX per group), dim 1 output rows, dim 2 images
x channel blocks (LK per group).

ALGO=1, implicit GEMM (TM, TN, TK, WM, WN, VW): the conv as C[k, npq] = sum(crs) A[k, crs] *
B[crs, npq] with A the filter viewed as [K, C*R*S] and B = im2col(X), B[crs, npq] =
X[n, c, p + r, q + s], never materialised. Tiled like `matmul`: a work-group computes a
TM (channels) x TN (output pixels) tile with (TN/WN) x (TM/WM) work-items, each holding
WM rows (strided by TM/WM) x WN/VW floatVW accumulators. Per TK-step of crs, the filter
tile is copied straight (vload4 rows; through an offset table when the reduction ranges
do not cover the whole filter) and the im2col tile is gathered: a work-item's columns
(n, p, q) are decomposed once before the k loop into X offsets, the TK rows' (c, r, s)
offsets come from a small local table computed one step ahead, so the copy is one add
per element; zero fill past C*R*S, rows past K / columns past N*OH*OW are clamped (they
only feed outputs that are not stored). The epilogue goes through the same store helper,
(n, p, q) decomposed once per column. Validity (ValueError otherwise): TM % WM == TN % WN
== WN % VW == 0, (TM*TK) divisible by the work-group size NT, NT and TN multiples of one
another, TK a multiple of NT/TN.

Index width (`index_bits`, from the shape): offsets are 32-bit while every tensor and size fits
`int` with margin; otherwise every image, channel, row, column, reduction index, offset (the local
offset tables included) and size is `long`. Work-item ids and positions inside a tile stay `int`.
"""
from __future__ import annotations

from typing import List, Optional

from ....ir import nodes as N
from ....ir.typed import BoundKernel
from ....codegen.conv2d_match import match_conv2d, operands
from ....codegen.cstyle import GeneratedKernel
from .base import (Match, Template, TemplateEmitter, abi_args, compute_units, device_kind, finish, fma_step,
                   index_ctype, index_width, lanes, local_mem, max_work_group, signature, store_helper, vtype)


class Conv2dTemplate(Template):
    name = "conv2d"
    categorical = ("ALGO",)

    def _match(self, bound: BoundKernel) -> Match:
        return match_conv2d(bound, self.name)

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        kind = device_kind(device_fingerprint)
        wg = max_work_group(device_fingerprint, 256)
        lm = local_mem(device_fingerprint)
        n, k, oh, ow = match.info["shape"]
        npq = n * oh * ow
        if kind == "CPU":
            cands = [dict(KB=8, XB=16, XV=16, LX=1, LK=1), dict(KB=4, XB=16, XV=16, LX=1, LK=1),
                     dict(KB=8, XB=8, XV=8, LX=1, LK=1), dict(KB=4, XB=32, XV=16, LX=1, LK=1),
                     dict(KB=16, XB=8, XV=8, LX=1, LK=1), dict(KB=2, XB=4, XV=4, LX=4, LK=2)]
            # PoCL (2-core EPYC): implicit GEMM 38 GFLOP/s vs direct 47 at N=1 C=K=64 56x56 3x3, on par at
            # C=K=256 16x16 (29 vs 29): the direct schedule stays first
            gemm = [dict(TM=64, TN=64, TK=64, WM=8, WN=32, VW=16), dict(TM=32, TN=64, TK=64, WM=8, WN=32, VW=16),
                    dict(TM=16, TN=16, TK=16, WM=4, WN=4, VW=4)]
        else:
            cands = [dict(KB=8, XB=4, XV=4, LX=16, LK=8), dict(KB=8, XB=8, XV=4, LX=8, LK=8),
                     dict(KB=4, XB=2, XV=2, LX=32, LK=4), dict(KB=4, XB=1, XV=1, LX=32, LK=8),
                     dict(KB=2, XB=1, XV=1, LX=64, LK=2), dict(KB=1, XB=1, XV=1, LX=64, LK=1)]
            # the most work per item that still leaves ~300 items per compute unit (H100: best of those tried)
            want = 300 * compute_units(device_fingerprint)
            items = lambda p: n * oh * -(-k // p["KB"]) * -(-ow // p["XB"])  # noqa: E731
            fit = [p for p in cands if items(p) >= want]
            first = max(fit, key=lambda p: p["KB"] * p["XB"]) if fit else cands[-2]
            cands.remove(first)
            cands.insert(0, first)
            gemm = [dict(TM=128, TN=128, TK=16, WM=8, WN=8, VW=4), dict(TM=64, TN=64, TK=16, WM=4, WN=4, VW=4),
                    dict(TM=64, TN=128, TK=16, WM=8, WN=8, VW=4), dict(TM=32, TN=32, TK=16, WM=2, WN=2, VW=2)]
        direct = [dict(p, ALGO=0) for p in cands if p["LX"] * p["LK"] <= wg] or [dict(KB=1, XB=1, XV=1, LX=1, LK=1)]
        gemm = [dict(p, ALGO=1) for p in gemm if self.igemm_valid(p, wg, lm)]
        if kind == "GPU" and gemm and k >= 32 and npq >= 1024:
            # a large GEMM (M = K channels, N*OH*OW columns): the largest tile that still gives ~a group
            # per compute unit goes first; without enough groups, the direct schedule keeps the lead
            def groups(p):
                return -(-k // p["TM"]) * -(-npq // p["TN"])
            enough = [p for p in gemm if groups(p) * 4 >= compute_units(device_fingerprint) * 3]
            if enough:
                best = max(enough, key=lambda p: p["TM"] * p["TN"])
                gemm.remove(best)
                return [best] + gemm + direct
        return direct[:1] + gemm + direct[1:]

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(params or self.space(match)[0])
        try:
            algo = int(p.get("ALGO", 0))
        except (TypeError, ValueError):
            raise ValueError(f"invalid conv2d parameters {p}") from None
        if algo == 1:
            return self._render_igemm(match, p)
        if algo != 0 or any(k in p for k in self.IGEMM_KEYS):
            raise ValueError(f"invalid conv2d parameters {p}")
        KB, XB, XV, LX, LK = (int(p.get(k, 1)) for k in ("KB", "XB", "XV", "LX", "LK"))
        if min(KB, XB, XV, LX, LK) < 1 or XV not in (1, 2, 4, 8, 16) or XB % XV:
            raise ValueError(f"invalid conv2d parameters {p}")
        ck = match.checked
        info = match.info
        s: N.Stmt = info["stmt"]
        red = info["red"]
        bits = index_width(match, p)
        it = index_ctype(bits)  # images, channels, rows, columns, (c, r, s), offsets, sizes
        em = TemplateEmitter(ck, index_bits=bits)
        ie = em.int_expr
        Yd, Xd, Fd, Xp, Fp = operands(match, em)
        NV = XB // XV
        ft = vtype("float", XV)
        la = info["launch"]  # N, K, OH, OW
        L: List[str] = []
        w = L.append
        w(f"// @launch global=(cdiv({la[3]}, {XB * LX}) * {LX}, {la[2]}, {la[0]} * cdiv({la[1]}, {KB * LK}) * {LK}) "
          f"local=({LX}, 1, {LK})")
        args = abi_args(ck, bits)
        w(signature(ck, ck.name, False, f"__attribute__((reqd_work_group_size({LX}, 1, {LK})))", bits) + "\n{")
        w(f"    const {it} _uN = {Yd[0]}, _uK = {Yd[1]}, _uOH = {Yd[2]}, _uOW = {Yd[3]};")
        w(f"    const {it} _uKT = ({Yd[1]} + {KB * LK - 1}) / {KB * LK};")
        w(f"    const {it} _ug2 = ({it})get_group_id(2);")
        w(f"    const {it} _un = _ug2 / _uKT;")
        w(f"    const {it} _uk0 = ((_ug2 % _uKT) * {LK} + (int)get_local_id(2)) * {KB};")
        w(f"    const {it} _uy = ({it})get_global_id(1);")
        w(f"    const {it} _ux0 = ({it})get_global_id(0) * {XB};")
        w("    if (_un >= _uN || _uy >= _uOH) return;")
        cv, rv, sv = info["c"], info["r"], info["s"]
        w(f"    const {it} _uclo = {ie(cv.lo)}, _uchi = {ie(cv.hi)};")
        w(f"    const {it} _urlo = {ie(rv.lo)}, _urhi = {ie(rv.hi)};")
        w(f"    const {it} _uslo = {ie(sv.lo)}, _ushi = {ie(sv.hi)};")
        # filter rows of this work-item's channels (clamped past K)
        for kb in range(KB):
            w(f"    __global const float* _uf{kb} = {Fp} + (size_t)min(_uk0 + {kb}, _uK - 1) * "
              f"({Fd[1]}) * ({Fd[2]}) * ({Fd[3]});")
        for kb in range(KB):
            w("    " + " ".join(f"{ft} _uacc{kb}_{v} = 0.0f;" for v in range(NV)))

        def nest(full: bool, ind: str):
            w(f"{ind}for ({it} _uc = _uclo; _uc < _uchi; ++_uc) {{")
            w(f"{ind}    for ({it} _ur = _urlo; _ur < _urhi; ++_ur) {{")
            w(f"{ind}        __global const float* _uxrow = {Xp} + ((size_t)(_un * ({Xd[1]}) + _uc) * ({Xd[2]}) "
              f"+ _uy + _ur) * ({Xd[3]}) + _ux0;")
            w(f"{ind}        const {it} _ufo = (_uc * ({Fd[2]}) + _ur) * ({Fd[3]});")
            w(f"{ind}        for ({it} _us = _uslo; _us < _ushi; ++_us) {{")
            i2 = ind + "            "
            for v in range(NV):
                if full:
                    if XV == 1:
                        w(f"{i2}const float _uxv{v} = _uxrow[_us + {v}];")
                    else:
                        w(f"{i2}const {ft} _uxv{v} = vload{XV}(0, _uxrow + _us + {v * XV});")
                else:
                    items = [f"(_ux0 + {v * XV + l} < _uOW ? _uxrow[_us + {v * XV + l}] : 0.0f)" for l in range(XV)]
                    w(f"{i2}const {ft} _uxv{v} = " + (items[0] if XV == 1 else f"(({ft})({', '.join(items)}))") + ";")
            for kb in range(KB):
                w(f"{i2}const float _uw{kb} = _uf{kb}[_ufo + _us];")
            for kb in range(KB):
                wv = f"_uw{kb}" if XV == 1 else f"(({ft})(_uw{kb}))"
                w(i2 + " ".join(f"_uacc{kb}_{v} = fma({wv}, _uxv{v}, _uacc{kb}_{v});" for v in range(NV)))
            w(f"{ind}        }}")
            w(f"{ind}    }}")
            w(f"{ind}}}")

        w(f"    if (_ux0 + {XB} <= _uOW) {{")
        nest(True, "        ")
        w("    } else {")
        nest(False, "        ")
        w("    }")
        call = ", ".join(a for _, a in args)
        for kb in range(KB):
            w(f"    if (_uk0 + {kb} < _uK) {{")
            for v in range(NV):
                for l, lane in enumerate(lanes(f"_uacc{kb}_{v}", XV)):
                    xo = v * XV + l
                    w(f"        if (_ux0 + {xo} < _uOW) {ck.name}__ustore({call}, _un, _uk0 + {kb}, _uy, "
                      f"_ux0 + {xo}, {lane});")
            w("    }")
        w("}")
        helper = store_helper(ck, s, red, list(info["vars"]), f"{ck.name}__ustore", bits)
        used = {"KB": KB, "XB": XB, "XV": XV, "LX": LX, "LK": LK}
        if "ALGO" in p:  # schedules from before ALGO existed render exactly as they did
            used["ALGO"] = 0
        if bits == 64:
            used["index_bits"] = 64
        return finish(match, [helper, "\n".join(L)], self.name, used)

    # ------------------------------------------------------------ implicit GEMM (ALGO=1)
    IGEMM_KEYS = ("TM", "TN", "TK", "WM", "WN", "VW")

    @staticmethod
    def igemm_valid(p: dict, max_wg: int = 1 << 30, local_bytes: int = 1 << 30) -> bool:
        """Whether implicit-GEMM parameters are consistent (and fit a work-group / local memory budget)."""
        try:
            TM, TN, TK, WM, WN, VW = (int(p[k]) for k in Conv2dTemplate.IGEMM_KEYS)
        except (KeyError, TypeError, ValueError):
            return False
        if min(TM, TN, TK, WM, WN, VW) <= 0 or VW not in (1, 2, 4, 8, 16):
            return False
        if TM % WM or TN % WN or WN % VW:
            return False
        nt = (TM // WM) * (TN // WN)
        if nt > max_wg or (TM * TK) % nt:
            return False
        if nt % TN and TN % nt:  # the im2col copy gives each work-item whole columns or whole rows
            return False
        if TK % max(nt // TN, 1):
            return False
        return (TM * TK + TK * TN + 4 * TK) * 4 <= local_bytes

    def _render_igemm(self, match: Match, p: dict) -> GeneratedKernel:
        if not self.igemm_valid(p) or any(k in p for k in ("KB", "XB", "XV", "LX", "LK")):
            raise ValueError(f"invalid conv2d implicit-GEMM parameters {p}")
        TM, TN, TK, WM, WN, VW = (int(p[k]) for k in self.IGEMM_KEYS)
        ck = match.checked
        info = match.info
        s: N.Stmt = info["stmt"]
        red = info["red"]
        bits = index_width(match, p)
        it = index_ctype(bits)  # channels, pixels, crs, offsets (the tables too), sizes; tile positions int
        cast = "" if bits == 32 else f"({it})"
        zero = "0" if bits == 32 else "0L"  # OpenCL's max() takes one integer type
        em = TemplateEmitter(ck, index_bits=bits)
        ie = em.int_expr
        Yd, Xd, Fd, Xp, Fp = operands(match, em)
        cv, rv, sv = info["c"], info["r"], info["s"]
        # full reduction ranges: a filter row is C*R*S contiguous floats, copied straight
        straight = all(ie(v.lo) == "0" and ie(v.hi) == d for v, d in zip((cv, rv, sv), Fd[1:]))
        LX, LY = TN // WN, TM // WM
        NT = LX * LY
        CW = WN // VW
        CPT, RS = max(TN // NT, 1), max(NT // TN, 1)  # im2col copy: columns per work-item, row step
        ft = vtype("float", VW)
        la = info["launch"]  # N, K, OH, OW
        L: List[str] = []
        w = L.append
        w(f"// @launch global=(cdiv({la[0]} * {la[2]} * {la[3]}, {TN}) * {LX}, cdiv({la[1]}, {TM}) * {LY}) "
          f"local=({LX}, {LY})")
        args = abi_args(ck, bits)
        w(signature(ck, ck.name, False, f"__attribute__((reqd_work_group_size({LX}, {LY}, 1)))", bits) + "\n{")
        w(f"    __local float _uAs[{TM * TK}];")
        w(f"    __local float _uBs[{TK * TN}];")
        w(f"    __local {it} _uxo[{2 * TK}];")
        if not straight:
            w(f"    __local {it} _ufo[{2 * TK}];")
        w("    const int _utx = get_local_id(0), _uty = get_local_id(1);")
        w(f"    const int _utid = _uty * {LX} + _utx;")
        w(f"    const {it} _ui0 = {cast}get_group_id(1) * {TM}, _uj0 = {cast}get_group_id(0) * {TN};")
        w(f"    const {it} _uN = {Yd[0]}, _uK = {Yd[1]}, _uOH = {Yd[2]}, _uOW = {Yd[3]};")
        w(f"    const {it} _uOHW = _uOH * _uOW, _uNPQ = _uN * _uOHW;")
        w(f"    const {it} _uclo = {ie(cv.lo)}, _urlo = {ie(rv.lo)}, _uslo = {ie(sv.lo)};")
        w(f"    const {it} _uRr = max({ie(rv.hi)} - _urlo, {zero}), _uSs = max({ie(sv.hi)} - _uslo, {zero});")
        w(f"    const {it} _uRS = _uRr * _uSs;")
        w(f"    const {it} _uCRS = max({ie(cv.hi)} - _uclo, {zero}) * _uRS;")
        w(f"    const {it} _uXW = {Xd[3]}, _uXHW = ({Xd[2]}) * ({Xd[3]});")
        w(f"    const {it} _uFk = ({Fd[1]}) * ({Fd[2]}) * ({Fd[3]});")
        # im2col columns of this work-item: the offset of X[n, 0, p, q], clamped past N*OH*OW (those
        # columns only feed outputs that are not stored)
        for c in range(CPT):
            w(f"    {it} _ucb{c};")
            w(f"    {{ {it} _uq = min(_uj0 + _utid % {TN} + {c * NT}, _uNPQ - 1);")
            w(f"      const {it} _un = _uq / _uOHW; _uq -= _un * _uOHW;")
            w(f"      const {it} _up = _uq / _uOW; _uq -= _up * _uOW;")
            w(f"      _ucb{c} = _un * ({Xd[1]}) * _uXHW + _up * _uXW + _uq; }}")

        def table(k0: str, buf: str, ind: str):
            """Offsets of rows k0 .. k0+TK of the im2col matrix: X[0, c, r, s] (and F[0, c, r, s]); -1 past C*R*S."""
            if NT >= TK:
                w(f"{ind}if (_utid < {TK}) {{")
                w(f"{ind}    const int _ut = _utid;")
            else:
                w(f"{ind}for (int _ut = _utid; _ut < {TK}; _ut += {NT}) {{")
            w(f"{ind}    const {it} _ucrs = {k0} + _ut;")
            w(f"{ind}    {it} _uo = -1{', _uf = 0' if not straight else ''};")
            w(f"{ind}    if (_ucrs < _uCRS) {{")
            w(f"{ind}        const {it} _uc = _ucrs / _uRS, _urs = _ucrs - _uc * _uRS;")
            w(f"{ind}        const {it} _ur = _urs / _uSs, _us = _urs - _ur * _uSs;")
            w(f"{ind}        _uo = (_uclo + _uc) * _uXHW + (_urlo + _ur) * _uXW + _uslo + _us;")
            if not straight:
                w(f"{ind}        _uf = ((_uclo + _uc) * ({Fd[2]}) + _urlo + _ur) * ({Fd[3]}) + _uslo + _us;")
            w(f"{ind}    }}")
            w(f"{ind}    _uxo[{buf} * {TK} + _ut] = _uo;")
            if not straight:
                w(f"{ind}    _ufo[{buf} * {TK} + _ut] = _uf;")
            w(f"{ind}}}")

        for r in range(WM):
            w("    " + " ".join(f"{ft} _uc{r}_{c} = 0.0f;" for c in range(CW)))
        table("0", "0", "    ")
        w("    barrier(CLK_LOCAL_MEM_FENCE);")
        w("    int _ubuf = 0;")
        w(f"    for ({it} _uk0 = 0; _uk0 < _uCRS; _uk0 += {TK}) {{")
        w(f"        const int _ufull = _uk0 + {TK} <= _uCRS;")
        # ---- filter tile [TM][TK] (rows past K clamped: they only feed outputs that are not stored)
        vl = 4 if straight else 1
        while vl > 1 and (TK % vl or (TM * TK // vl) % NT):
            vl //= 2
        per = TM * TK // NT
        frow = f"{Fp} + (size_t)min(_ui0 + _urow, _uK - 1) * _uFk"
        w("        if (_ufull) {")
        w(f"            for (int _ul = 0; _ul < {per // vl}; ++_ul) {{")
        w(f"                const int _uidx = _ul * {NT} + _utid;")
        w(f"                const int _urow = _uidx / {TK // vl}, _ucol = (_uidx % {TK // vl}) * {vl};")
        if straight:
            g = f"{frow} + _uk0 + _ucol"
            if vl == 1:
                w(f"                _uAs[_urow * {TK} + _ucol] = *({g});")
            else:
                w(f"                vstore{vl}(vload{vl}(0, {g}), 0, _uAs + _urow * {TK} + _ucol);")
        else:
            w(f"                _uAs[_urow * {TK} + _ucol] = ({frow})[_ufo[_ubuf * {TK} + _ucol]];")
        w("            }")
        w("        } else {")
        w(f"            for (int _ul = 0; _ul < {per}; ++_ul) {{")
        w(f"                const int _uidx = _ul * {NT} + _utid;")
        w(f"                const int _urow = _uidx / {TK}, _ucol = _uidx % {TK};")
        if straight:
            w(f"                _uAs[_urow * {TK} + _ucol] = _uk0 + _ucol < _uCRS ? ({frow})[_uk0 + _ucol] : 0.0f;")
        else:
            w(f"                _uAs[_urow * {TK} + _ucol] = _uxo[_ubuf * {TK} + _ucol] >= 0 ? "
              f"({frow})[_ufo[_ubuf * {TK} + _ucol]] : 0.0f;")
        w("            }")
        w("        }")
        # ---- im2col tile [TK][TN], gathered: X offset = column base + row offset
        w(f"        for (int _ul = 0; _ul < {TK // RS}; ++_ul) {{")
        w(f"            const int _ukk = _utid / {TN} + _ul * {RS};")
        w(f"            const {it} _uo = _uxo[_ubuf * {TK} + _ukk];")
        w(f"            __global const float* _ux = {Xp} + _uo;")
        w("            if (_ufull) {")
        for c in range(CPT):
            w(f"                _uBs[_ukk * {TN} + _utid % {TN} + {c * NT}] = _ux[_ucb{c}];")
        w("            } else {")
        for c in range(CPT):
            w(f"                _uBs[_ukk * {TN} + _utid % {TN} + {c * NT}] = _uo >= 0 ? _ux[_ucb{c}] : 0.0f;")
        w("            }")
        w("        }")
        table(f"_uk0 + {TK}", "(_ubuf ^ 1)", "        ")
        w("        barrier(CLK_LOCAL_MEM_FENCE);")
        w(f"        for (int _ukk = 0; _ukk < {TK}; ++_ukk) {{")
        L.extend(fma_step(lambda r: f"({r * LY} + _uty) * {TK} + _ukk",
                          lambda c: f"_ukk * {TN} + ({c * LX} + _utx) * {VW}", WM, CW, VW, "            "))
        w("        }")
        w("        barrier(CLK_LOCAL_MEM_FENCE);")
        w("        _ubuf ^= 1;")
        w("    }")
        # ---- epilogue: a column's (n, p, q) is decomposed once for the WM rows it feeds
        call = ", ".join(a for _, a in args)
        for c in range(CW):
            for l, _ in enumerate(lanes("x", VW)):
                w(f"    {{ const {it} _uj = _uj0 + ({c * LX} + _utx) * {VW} + {l};")
                w("      if (_uj < _uNPQ) {")
                w(f"        const {it} _un = _uj / _uOHW, _urem = _uj - _un * _uOHW;")
                w(f"        const {it} _up = _urem / _uOW, _uq = _urem - _up * _uOW;")
                for r in range(WM):
                    acc = lanes(f"_uc{r}_{c}", VW)[l]
                    w(f"        {{ const {it} _uk = _ui0 + {r * LY} + _uty; if (_uk < _uK) "
                      f"{ck.name}__ustore({call}, _un, _uk, _up, _uq, {acc}); }}")
                w("      }")
                w("    }")
        w("}")
        helper = store_helper(ck, s, red, list(info["vars"]), f"{ck.name}__ustore", bits)
        out = {k: int(p[k]) for k in self.IGEMM_KEYS}
        out["ALGO"] = 1
        if bits == 64:
            out["index_bits"] = 64
        return finish(match, [helper, "\n".join(L)], self.name, out)


TEMPLATE = Conv2dTemplate()
