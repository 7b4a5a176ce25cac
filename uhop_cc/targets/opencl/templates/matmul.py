"""`matmul`: C[(b,) i, j] = epilogue(sum(k) A[..] * B[..]), tiled in local memory with register blocking.

Matches one statement whose value holds exactly one `sum` over one variable k (with a
range that does not depend on i, j, b) of the product of two input accesses: A indexed by
{i, k} (either order) and B by {k, j} (either order), each optionally batched by a leading
variable shared with C (a 2-D operand is shared by every batch). Whatever surrounds the
sum (bias, relu, scaling...) is the epilogue, evaluated per output element by the generic
expression compiler in a helper function.

Schedule (params): a work-group computes a TM x TN tile of C with (TN/WN) x (TM/WM)
work-items (`reqd_work_group_size`); each work-item accumulates WM x WN outputs in
registers, as WM rows (strided by TM/WM, or contiguous with RC=1) of WN/VW floatVW
vectors (strided by TN/WN*VW columns). Each TK-step of k copies an A tile and a B tile
into local memory with VL-wide vector loads when the whole tile is inside the matrices,
element by element with zero fill otherwise, so any M, N, K works. B[j, k] tiles are
transposed during the copy (row padding PAD); A tiles keep A's layout unless AKM=1.

DB=1 double-buffers the local tiles: the next k-tile's global loads go into registers
before the current tile's FMAs, are stored into the other buffer after them, and one
barrier per k-step replaces two (twice the local memory). UK=n puts `#pragma unroll n`
on the k loop inside a tile. Both are absent by default (DB=0, UK=1: the single-buffer
schedule, rendered exactly as before these params existed).

Index width (`index_bits`, from the shape): with 64 bits every row, column, k and batch index of
the whole problem, each leading dimension and size is `long`; positions inside a tile (work-item
ids, copy offsets, register and local-memory indices) stay `int`.
"""
from __future__ import annotations

from typing import List, Optional

from ....ir import nodes as N
from ....ir.typed import BoundKernel
from ....codegen.cstyle import GeneratedKernel, c_name
from .base import (Match, NoMatch, Template, TemplateEmitter, abi_args, compute_units, device_kind, finish,
                   index_ctype, index_names, index_width, lanes, launch_expr, local_mem, max_work_group,
                   reserved_clash, signature, store_helper, vtype, fma_step)


class MatmulTemplate(Template):
    name = "matmul"
    categorical = ("DB",)

    # ------------------------------------------------------------ match
    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        if len(ck.body) != 1:
            raise NoMatch("matmul needs a single statement")
        s = ck.body[0]
        out = ck.tensors[s.target]
        if out.role != "output" or out.dtype != "f32" or out.rank not in (2, 3):
            raise NoMatch("the target must be a 2-D or 3-D f32 output")
        reds = [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]
        if len(reds) != 1:
            raise NoMatch("exactly one reduction expected")
        red = reds[0]
        if red.op != "sum" or len(red.vars) != 1 or red.dtype != "f32":
            raise NoMatch("the reduction must be an f32 sum over one variable")
        kv = red.vars[0]
        if index_names(kv.lo) or index_names(kv.hi):
            raise NoMatch("the k range must not depend on the output indices")
        body = red.body
        if not (isinstance(body, N.Binary) and body.op == "*"
                and isinstance(body.lhs, N.Access) and isinstance(body.rhs, N.Access)):
            raise NoMatch("the reduction body must be the product of two accesses")
        batch = s.indices[0] if out.rank == 3 else None
        i, j, k = s.indices[-2], s.indices[-1], kv.name
        if len({i, j, k, batch} - {None}) != (4 if batch else 3):
            raise NoMatch("index variables must be distinct")
        roles = {}
        for acc in (body.lhs, body.rhs):
            info = ck.tensors[acc.tensor]
            if info.role != "input" or info.dtype != "f32":
                raise NoMatch("operands must be f32 inputs")
            if not all(isinstance(x, N.Name) and x.kind == "index" for x in acc.indices):
                raise NoMatch("operand indices must be bare variables")
            names = [x.name for x in acc.indices]
            batched = False
            if len(names) == 3:
                if batch is None or names[0] != batch:
                    raise NoMatch("a 3-D operand must lead with the batch variable")
                names, batched = names[1:], True
            elif len(names) != 2:
                raise NoMatch("operands must be 2-D or batched 3-D")
            if set(names) == {i, k}:
                role, layout = "A", "ik" if names == [i, k] else "ki"
            elif set(names) == {k, j}:
                role, layout = "B", "kj" if names == [k, j] else "jk"
            else:
                raise NoMatch("operands must be indexed by {i, k} and {k, j}")
            if role in roles:
                raise NoMatch("both operands play the same role")
            roles[role] = {"tensor": acc.tensor, "layout": layout, "batched": batched}
        dims = {"M": out.shape[-2], "N": out.shape[-1]}
        launch = {"M": launch_expr(dims["M"]), "N": launch_expr(dims["N"])}
        if batch:
            launch["B"] = launch_expr(out.shape[0])
        M, Nn = bound.shapes[s.target][-2:]
        lo, hi = bound.range_of(kv)
        info = {"stmt": s, "red": red, "i": i, "j": j, "k": k, "batch": batch, "A": roles["A"], "B": roles["B"],
                "launch": launch, "epilogue": s.value is not red, "M": M, "N": Nn, "K": max(hi - lo, 0),
                "batches": bound.shapes[s.target][0] if batch else 1}
        return Match(self.name, bound, info)

    # ------------------------------------------------------------ schedule space
    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        kind = device_kind(device_fingerprint)
        if kind == "CPU":
            cands = [
                # PoCL (2-core EPYC), 1024^3: UK=4 55 GFLOP/s vs 52 without; DB=1 21 (private staging
                # registers live across the barrier cost more than the barrier saved)
                dict(TM=64, TN=64, TK=64, WM=8, WN=32, VW=16, UK=4),
                dict(TM=64, TN=64, TK=64, WM=8, WN=32, VW=16),
                dict(TM=32, TN=64, TK=128, WM=8, WN=32, VW=16),
                dict(TM=64, TN=128, TK=64, WM=8, WN=32, VW=16),
                dict(TM=64, TN=64, TK=64, WM=4, WN=64, VW=16),
                dict(TM=32, TN=32, TK=32, WM=4, WN=16, VW=8),
                dict(TM=16, TN=16, TK=16, WM=4, WN=4, VW=4),
            ]
        else:
            cands = [
                dict(TM=128, TN=128, TK=16, WM=8, WN=8, VW=4),
                dict(TM=64, TN=64, TK=16, WM=4, WN=4, VW=4),
                dict(TM=64, TN=128, TK=16, WM=8, WN=8, VW=4),
                dict(TM=128, TN=64, TK=32, WM=8, WN=4, VW=4),
                dict(TM=32, TN=32, TK=32, WM=2, WN=4, VW=4),
                dict(TM=16, TN=16, TK=16, WM=1, WN=1, VW=1),
                # double-buffered (one barrier per k-step, next tile's loads in flight during the FMAs):
                # unmeasured on GPUs here, so after the single-buffer tiles for the tuner to try
                dict(TM=128, TN=128, TK=16, WM=8, WN=8, VW=4, DB=1, UK=4),
                dict(TM=64, TN=64, TK=16, WM=4, WN=4, VW=4, DB=1, UK=4),
            ]
        wg = max_work_group(device_fingerprint, 256)
        lm = local_mem(device_fingerprint)
        out = []
        for p in cands:
            p = dict(p, PAD=1 if kind == "GPU" else 0)
            if self.valid(p, wg, lm):
                out.append(p)
        if not out:
            out.append(dict(TM=8, TN=8, TK=8, WM=1, WN=1, VW=1, PAD=0))
        info = match.info
        if info["M"] * info["N"] * info["batches"] < 64 * 64:
            # tiny problems: the smallest tile wastes least
            out.sort(key=lambda p: p["TM"] * p["TN"])
        elif kind == "GPU":
            # too few tiles to fill the device: the largest tile that still gives a group per unit
            def groups(p):
                return -(-info["M"] // p["TM"]) * -(-info["N"] // p["TN"]) * info["batches"]
            enough = [p for p in out if groups(p) * 4 >= compute_units(device_fingerprint) * 3]
            best = (max(enough, key=lambda p: p["TM"] * p["TN"]) if enough
                    else max(out, key=groups))
            out.remove(best)
            out.insert(0, best)
        return out

    @staticmethod
    def valid(p: dict, max_wg: int = 1 << 30, local_bytes: int = 1 << 30) -> bool:
        try:
            TM, TN, TK, WM, WN, VW = (int(p[k]) for k in ("TM", "TN", "TK", "WM", "WN", "VW"))
        except (KeyError, TypeError, ValueError):
            return False
        try:
            pad, db, uk = int(p.get("PAD", 0)), int(p.get("DB", 0)), int(p.get("UK", 1))
        except (TypeError, ValueError):
            return False
        if min(TM, TN, TK, WM, WN, VW) <= 0 or VW not in (1, 2, 4, 8, 16):
            return False
        if db not in (0, 1) or not 1 <= uk <= 64:
            return False
        if TM % WM or TN % WN or WN % VW:
            return False
        nt = (TM // WM) * (TN // WN)
        if nt > max_wg or (TM * TK) % nt or (TK * TN) % nt:
            return False
        return (1 + db) * TK * (TM + TN + pad) * 4 <= local_bytes

    # ------------------------------------------------------------ render
    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(params or self.space(match)[0])
        if not self.valid(p):
            raise ValueError(f"invalid matmul parameters {p}")
        TM, TN, TK, WM, WN, VW = (int(p[k]) for k in ("TM", "TN", "TK", "WM", "WN", "VW"))
        pad = int(p.get("PAD", 0))
        info = match.info
        ck = match.checked
        s: N.Stmt = info["stmt"]
        red: N.Reduce = info["red"]
        A, B = info["A"], info["B"]
        batch = info["batch"]
        LX, LY = TN // WN, TM // WM
        NT = LX * LY
        CW = WN // VW  # vector columns per work-item
        akm = bool(int(p.get("AKM", 0)))  # A tile stored k-major even when A is [i, k]
        rc = bool(int(p.get("RC", 0)))  # a work-item's WM rows are contiguous (else strided by TM / WM)

        def rowoff(r: int) -> str:
            return f"_uty * {WM} + {r}" if rc else f"{r * LY} + _uty"

        padb = pad if B["layout"] == "jk" else 0  # the only transposing copy gets padded
        TNP = TN + padb
        bits = index_width(match, p)
        it = index_ctype(bits)  # global rows, columns, k, batch, sizes; tile positions stay int
        cast = "" if bits == 32 else f"({it})"
        em = TemplateEmitter(ck, index_bits=bits)
        out = ck.tensors[s.target]
        Mx, Nx = em.int_expr(out.shape[-2]), em.int_expr(out.shape[-1])
        kv = red.vars[0]
        ft = vtype("float", VW)

        L = []
        w = L.append
        la = info["launch"]
        if batch:
            w(f"// @launch global=(cdiv({la['N']}, {TN}) * {LX}, cdiv({la['M']}, {TM}) * {LY}, {la['B']}) "
              f"local=({LX}, {LY}, 1)")
        else:
            w(f"// @launch global=(cdiv({la['N']}, {TN}) * {LX}, cdiv({la['M']}, {TM}) * {LY}) local=({LX}, {LY})")
        args = abi_args(ck, bits)
        w(signature(ck, ck.name, False, f"__attribute__((reqd_work_group_size({LX}, {LY}, 1)))", bits) + "\n{")
        db = int(p.get("DB", 0))  # double-buffered local tiles, register-staged prefetch of the next k-tile
        uk = int(p.get("UK", 1))  # `#pragma unroll UK` on the k loop inside a tile
        w(f"    __local float _uAs[{(1 + db) * TK * TM}];")
        w(f"    __local float _uBs[{(1 + db) * TK * TNP}];")
        w("    const int _utx = get_local_id(0), _uty = get_local_id(1);")
        w(f"    const int _utid = _uty * {LX} + _utx;")
        w(f"    const {it} _ui0 = {cast}get_group_id(1) * {TM}, _uj0 = {cast}get_group_id(0) * {TN};")
        w(f"    const {it} _uM = {Mx}, _uN = {Nx};")
        w(f"    const {it} _uklo = {em.int_expr(kv.lo)}, _ukhi = {em.int_expr(kv.hi)};")
        bvar = c_name(batch) if batch else None
        if batch:
            w(f"    const {it} {bvar} = get_group_id(2);")
        ptrs = {}
        for role, d in (("A", A), ("B", B)):
            t = ck.tensors[d["tensor"]]
            ld = em.int_expr(t.shape[-1])
            w(f"    const {it} _uld{role} = {ld};")
            base = c_name(d["tensor"])
            if d["batched"]:
                stride = f"{em.int_expr(t.shape[1])} * {em.int_expr(t.shape[2])}"
                w(f"    __global const float* _u{role} = {base} + (size_t){bvar} * ({stride});")
            else:
                w(f"    __global const float* _u{role} = {base};")
            ptrs[role] = f"_u{role}"
        for r in range(WM):
            w("    " + " ".join(f"{ft} _uc{r}_{c} = 0.0f;" for c in range(CW)))
        VL = int(p.get("VL", VW))

        def layout(role: str, d: dict, k0: str) -> dict:
            """How one operand's tile is copied: (rows, cols) of the global tile (cols contiguous), the global
            row/col offsets, how the local array is indexed by (row, col), the bounds of row and col."""
            lay = d["layout"]
            if role == "A":
                if lay == "ik":
                    rows, cols, r0, c0, rlim, clim = TM, TK, "_ui0", k0, "_uM", "_ukhi"
                    if akm:  # transposed into k-major
                        dst = lambda rr, cc: f"({cc}) * {TM} + ({rr})"  # noqa: E731
                    else:
                        dst = lambda rr, cc: f"({rr}) * {TK} + ({cc})"  # noqa: E731
                else:
                    rows, cols, r0, c0, rlim, clim = TK, TM, k0, "_ui0", "_ukhi", "_uM"
                    dst = lambda rr, cc: f"({rr}) * {TM} + ({cc})"  # noqa: E731
                arr = "_uAs"
            else:
                if lay == "kj":
                    rows, cols, r0, c0, rlim, clim = TK, TN, k0, "_uj0", "_ukhi", "_uN"
                    dst = lambda rr, cc: f"({rr}) * {TNP} + ({cc})"  # noqa: E731
                else:
                    rows, cols, r0, c0, rlim, clim = TN, TK, "_uj0", k0, "_uN", "_ukhi"
                    dst = lambda rr, cc: f"({cc}) * {TNP} + ({rr})"  # noqa: E731
                arr = "_uBs"
            straight = not ((role == "B" and lay == "jk") or (role == "A" and lay == "ik" and akm))
            vl = VL
            while vl > 1 and (cols % vl or (rows * cols // vl) % NT):
                vl //= 2
            return dict(rows=rows, cols=cols, r0=r0, c0=c0, rlim=rlim, clim=clim, dst=dst, arr=arr,
                        straight=straight, src=f"_u{role}", ld=f"_uld{role}", vl=vl,
                        per=rows * cols // vl // NT, cv=cols // vl)

        def compute(buf: str, ind: str):
            """FMA over the TK-slice in local memory (A at _uAs + buf, B at _uBs + buf)."""
            ao = f"{buf} * {TK * TM} + " if buf else ""
            bo = f"{buf} * {TK * TNP} + " if buf else ""
            if uk > 1:
                w(f"{ind}#pragma unroll {uk}")
            w(f"{ind}for (int _ukk = 0; _ukk < {TK}; ++_ukk) {{")
            if A["layout"] == "ik" and not akm:
                a_index = lambda r: f"{ao}({rowoff(r)}) * {TK} + _ukk"  # noqa: E731
            else:
                a_index = lambda r: f"{ao}_ukk * {TM} + {rowoff(r)}"  # noqa: E731
            L.extend(fma_step(a_index, lambda c: f"{bo}_ukk * {TNP} + ({c * LX} + _utx) * {VW}", WM, CW, VW,
                              ind + "    "))
            w(f"{ind}}}")

        if not db:
            w(f"    for ({it} _uk0 = _uklo; _uk0 < _ukhi; _uk0 += {TK}) {{")
            # ---- tiles: each operand's tile is copied row by row along its contiguous axis
            w(f"        const int _ufull = (_ui0 + {TM} <= _uM) && (_uj0 + {TN} <= _uN) && (_uk0 + {TK} <= _ukhi);")
            for role, d in (("A", A), ("B", B)):
                g_ = layout(role, d, "_uk0")
                rows, cols, r0, c0, rlim, clim = (g_[k] for k in ("rows", "cols", "r0", "c0", "rlim", "clim"))
                dst, arr, straight, src, ld = (g_[k] for k in ("dst", "arr", "straight", "src", "ld"))
                vl, per, cv = g_["vl"], g_["per"], g_["cv"]
                w("        if (_ufull) {")
                w(f"            for (int _ul = 0; _ul < {per}; ++_ul) {{")
                w(f"                const int _uidx = _ul * {NT} + _utid;")
                w(f"                const int _urow = _uidx / {cv}, _ucol = (_uidx % {cv}) * {vl};")
                g = f"{src} + ({r0} + _urow) * {ld} + {c0} + _ucol"
                if vl == 1:
                    w(f"                {arr}[{dst('_urow', '_ucol')}] = *({g});")
                else:
                    vt = vtype("float", vl)
                    w(f"                const {vt} _uv = vload{vl}(0, {g});")
                    if straight:
                        w(f"                vstore{vl}(_uv, 0, {arr} + {dst('_urow', '_ucol')});")
                    else:
                        for l, lane in enumerate(lanes("_uv", vl)):
                            w(f"                {arr}[{dst('_urow', f'_ucol + {l}')}] = {lane};")
                w("            }")
                w("        } else {")
                per1 = rows * cols // NT
                w(f"            for (int _ul = 0; _ul < {per1}; ++_ul) {{")
                w(f"                const int _uidx = _ul * {NT} + _utid;")
                w(f"                const int _urow = _uidx / {cols}, _ucol = _uidx % {cols};")
                w(f"                {arr}[{dst('_urow', '_ucol')}] = ({r0} + _urow < {rlim} && {c0} + _ucol < {clim}) ? "
                  f"{src}[({r0} + _urow) * {ld} + {c0} + _ucol] : 0.0f;")
                w("            }")
                w("        }")
            w("        barrier(CLK_LOCAL_MEM_FENCE);")
            compute("", "        ")
            w("        barrier(CLK_LOCAL_MEM_FENCE);")
            w("    }")
        else:
            # ---- double buffering: the next k-tile is loaded into registers (_up*) before the current
            # tile's FMAs and stored into the other local buffer after them; one barrier per k-step.
            lays = [(role, layout(role, d, "_ukn")) for role, d in (("A", A), ("B", B))]
            for role, g_ in lays:
                w(f"    {vtype('float', g_['vl'])} _up{role}[{g_['per']}];")

            def load(ind: str):
                w(f"{ind}const int _ufull = (_ui0 + {TM} <= _uM) && (_uj0 + {TN} <= _uN) && (_ukn + {TK} <= _ukhi);")
                for full in (True, False):
                    w(f"{ind}{'if (_ufull) {' if full else '} else {'}")
                    for role, g_ in lays:
                        r0, c0, rlim, clim, src, ld = (g_[k] for k in ("r0", "c0", "rlim", "clim", "src", "ld"))
                        vl, cv = g_["vl"], g_["cv"]
                        vt = vtype("float", vl)
                        w(f"{ind}    for (int _ul = 0; _ul < {g_['per']}; ++_ul) {{")
                        w(f"{ind}        const int _uidx = _ul * {NT} + _utid;")
                        w(f"{ind}        const int _urow = _uidx / {cv}, _ucol = (_uidx % {cv}) * {vl};")
                        if full:
                            g = f"{src} + ({r0} + _urow) * {ld} + {c0} + _ucol"
                            v = f"*({g})" if vl == 1 else f"vload{vl}(0, {g})"
                        else:
                            items = [f"({r0} + _urow < {rlim} && {c0} + _ucol + {e} < {clim} ? "
                                     f"{src}[({r0} + _urow) * {ld} + {c0} + _ucol + {e}] : 0.0f)" for e in range(vl)]
                            v = items[0] if vl == 1 else f"(({vt})({', '.join(items)}))"
                        w(f"{ind}        _up{role}[_ul] = {v};")
                        w(f"{ind}    }}")
                w(f"{ind}}}")

            def store(buf: str, ind: str):
                for role, g_ in lays:
                    dst, arr, straight, vl, cv = (g_[k] for k in ("dst", "arr", "straight", "vl", "cv"))
                    size = TK * TM if role == "A" else TK * TNP
                    base = f"({arr} + {buf} * {size})"
                    w(f"{ind}for (int _ul = 0; _ul < {g_['per']}; ++_ul) {{")
                    w(f"{ind}    const int _uidx = _ul * {NT} + _utid;")
                    w(f"{ind}    const int _urow = _uidx / {cv}, _ucol = (_uidx % {cv}) * {vl};")
                    if vl == 1:
                        w(f"{ind}    {base}[{dst('_urow', '_ucol')}] = _up{role}[_ul];")
                    elif straight:
                        w(f"{ind}    vstore{vl}(_up{role}[_ul], 0, {base} + {dst('_urow', '_ucol')});")
                    else:
                        w(f"{ind}    const {vtype('float', vl)} _uv = _up{role}[_ul];")
                        for e, lane in enumerate(lanes("_uv", vl)):
                            w(f"{ind}    {base}[{dst('_urow', f'_ucol + {e}')}] = {lane};")
                    w(f"{ind}}}")

            w("    if (_uklo < _ukhi) {")
            w(f"        const {it} _ukn = _uklo;")
            load("        ")
            store("0", "        ")
            w("    }")
            w("    barrier(CLK_LOCAL_MEM_FENCE);")
            w("    int _ubuf = 0;")
            w(f"    for ({it} _uk0 = _uklo; _uk0 < _ukhi; _uk0 += {TK}) {{")
            w(f"        const {it} _ukn = _uk0 + {TK};")
            w("        if (_ukn < _ukhi) {")
            load("            ")
            w("        }")
            compute("_ubuf", "        ")
            w("        if (_ukn < _ukhi) {")
            store("(_ubuf ^ 1)", "            ")
            w("        }")
            w("        barrier(CLK_LOCAL_MEM_FENCE);")
            w("        _ubuf ^= 1;")
            w("    }")
        # ---- epilogue and stores, one helper call per element
        for r in range(WM):
            w(f"    {{ const {it} _urow = _ui0 + {rowoff(r)};")
            w("      if (_urow < _uM) {")
            for c in range(CW):
                for l, v in enumerate(lanes(f"_uc{r}_{c}", VW)):
                    col = f"_uj0 + ({c * LX} + _utx) * {VW} + {l}"
                    call_args = ", ".join(n for _, n in args)
                    w(f"        {{ const {it} _ucol = {col}; if (_ucol < _uN) {ck.name}__ustore({call_args}, "
                      f"{bvar + ', ' if batch else ''}_urow, _ucol, {v}); }}")
            w("      }")
            w("    }")
        w("}")
        kernel = "\n".join(L)
        idx = ([info["batch"]] if batch else []) + [info["i"], info["j"]]
        helper = store_helper(ck, s, red, idx, f"{ck.name}__ustore", bits)
        p.pop("index_bits", None)
        if bits == 64:
            p["index_bits"] = 64
        return finish(match, [helper, kernel], self.name, p)


TEMPLATE = MatmulTemplate()
