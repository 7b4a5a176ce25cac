"""CUDA `conv2d`: direct NCHW convolution (valid padding, stride 1) as an implicit GEMM.

Matches what the OpenCL `conv2d` template matches (`Y[n, k, y, x] = epilogue(sum(c, r, s)
X[n, c, y + r, x + s] * F[k, c, r, s])`, f32, reduction ranges independent of the output
indices) and renders it on the shared GEMM main loop (`cuda_gemm`):

* GEMM rows are output channels k: the filter viewed as a K x (C R S) matrix, rows contiguous
  in the flattened reduction index, read as float4 when the ranges cover the whole filter
  (otherwise each index is decomposed into (c, r, s)).
* GEMM columns are output pixels (n, y, x) flattened, N * OH * OW of them; column j of a
  k-tile is the im2col gather X[n, c, y + r, x + s] = X[base(j) + offset(c, r, s)] with
  base(j) = (n C H + y) W + x computed once per thread and offset(c, r, s) = (c H + r) W + s
  once per k row and tile. Consecutive threads read consecutive pixels.
* The epilogue decomposes each column back into (n, y, x) and evaluates the statement with
  the sum replaced by the accumulator (bias, relu...), storing Y[n, k, y, x].

Params: the block tile BM (channels) x BN (pixels) x BK and the per-thread TM x TN.

Index width (`index_bits`, chosen per shape): with 64 bits, channels, pixels, reduction indices,
offsets and sizes are `long long` (the (c, r, s) helpers too); positions inside a tile stay
`int`. Channels past 65535 blocks of BM along the grid's y axis are refused.
"""
from __future__ import annotations

from typing import List, Optional

import re

from ....ir import nodes as N
from ....ir.typed import BoundKernel
from ....codegen.cstyle import GeneratedKernel, c_name
from ..renderer import CUDARenderer
from .gemm import MAX_GRID, GemmTile, RowMajorA, mainloop
from ....codegen.template import Match, NoMatch, index_var, index_width
from ....codegen.template import Template as _SharedTemplate
from .base import HookEmitter, finish, signature
from ....codegen.conv2d_match import match_conv2d, operands

__all__ = ["Conv2dTemplate", "CONV2D"]


class _Im2colB:
    """The k-tile of im2col(X): element (kk, j) = X[base(j) + off(kk)], zero past either edge."""

    def __init__(self, tile: GemmTile, x: str, off: str, it: str = "int"):
        self.t, self.x, self.off, self.it = tile, x, off, it
        self.n = tile.BK * tile.BN // tile.threads

    def _decl(self, local: str, col: str) -> str:
        """`local` (tile positions, int) and `col` (a global column, `it`) in one or two declarations."""
        if self.it == "int":
            return f"    const int {local}, {col};"
        return f"    const int {local};\n    const {self.it} {col};"

    def setup(self) -> List[str]:
        t = self.t
        self.shared = t.threads % t.BN == 0  # every load of a thread is in one column: one base, rows step
        if self.shared:
            return ["    float " + ", ".join(f"_urb{l}" for l in range(self.n)) + ";",
                    self._decl(f"_ubr = _utid / {t.BN}, _ubc = _utid % {t.BN}", "_ucol = _uj0 + _ubc"),
                    "    const bool _ucok = _ucol < _uN;"] + self._base("_ucol", "_ubase")
        L = []
        for l in range(self.n):
            e = f"(_utid + {t.threads * l})"
            L += [self._decl(f"_ubr{l} = {e} / {t.BN}", f"_ucol{l} = _uj0 + {e} % {t.BN}"),
                  f"    const bool _ucok{l} = _ucol{l} < _uN;",
                  f"    float _urb{l};"] + self._base(f"_ucol{l}", f"_ubase{l}")
        return L

    def _base(self, col: str, name: str) -> List[str]:
        return [f"    size_t {name} = 0;",
                f"    if ({col} < _uN) {{",
                f"        const {self.it} _un = {col} / _uPQ, _upq = {col} - _un * _uPQ;",
                f"        const {self.it} _up = _upq / _uOW;",
                f"        {name} = ((size_t)_un * _uXC * _uXH + _up) * _uXW + (_upq - _up * _uOW);",
                "    }"]

    def _row(self, l: int) -> str:
        return f"(_ubr + {l * (self.t.threads // self.t.BN)})" if self.shared else f"_ubr{l}"

    def load(self, k: str) -> List[str]:
        L = []
        for l in range(self.n):
            ok, base = ("_ucok", "_ubase") if self.shared else (f"_ucok{l}", f"_ubase{l}")
            L += ["{",
                  f"    const {self.it} _ukk = {k} + {self._row(l)};",
                  f"    _urb{l} = ({ok} && _ukk < _uK) ? {self.x}[{base} + {self.off.format('_ukk')}] : 0.0f;",
                  "}"]
        return L

    def store(self, buf: str) -> List[str]:
        if self.shared:
            return [f"_uBs[{buf}][{self._row(l)}][_ubc] = _urb{l};" for l in range(self.n)]
        return [f"_uBs[{buf}][_ubr{l}][_ucol{l} - _uj0] = _urb{l};" for l in range(self.n)]


class Conv2dTemplate(_SharedTemplate):
    name = "conv2d"

    def __repr__(self) -> str:
        return f"<cuda template {self.name}>"

    def _match(self, bound: BoundKernel) -> Match:
        m = match_conv2d(bound, self.name)
        if -(-int(m.info["shape"][1]) // 128) > MAX_GRID[1]:  # 128: the tallest tile of `space`
            raise NoMatch(f"{m.info['shape'][1]} output channels need more than {MAX_GRID[1]} blocks along "
                          "the grid's y axis")
        return m

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        """Tiles best first: BM follows the channel count (no half-empty blocks for K <= 64)."""
        n, k, oh, ow = match.info["shape"]
        cands = [dict(BM=128, BN=128, BK=8, TM=8, TN=8), dict(BM=64, BN=128, BK=8, TM=8, TN=8),
                 dict(BM=128, BN=128, BK=16, TM=8, TN=8), dict(BM=64, BN=256, BK=16, TM=8, TN=8),
                 dict(BM=128, BN=64, BK=8, TM=8, TN=8), dict(BM=64, BN=64, BK=16, TM=4, TN=4),
                 dict(BM=32, BN=128, BK=16, TM=4, TN=8)]
        cands = [p for p in cands if GemmTile.renders(p, 4, 1) and GemmTile.of(p).grid_fits(n * oh * ow, k)]
        if k <= 64:
            cands.sort(key=lambda p: (p["BM"] < k or p["BM"] > max(32, k), -p["BN"] * p["BM"]))
        sms = 132
        if device_fingerprint and device_fingerprint.get("sm_count"):
            sms = int(device_fingerprint["sm_count"])
        blocks = lambda p: -(-k // p["BM"]) * -(-(n * oh * ow) // p["BN"])  # noqa: E731
        if blocks(cands[0]) < sms:
            cands.sort(key=lambda p: -min(blocks(p), sms))  # stable: ties keep the order above
        return cands

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:

        p = dict(self.space(match)[0])
        p.update(params or {})
        tile = GemmTile.of(p)
        tile.check(4, 1)
        ck = match.checked
        info = match.info
        n_, k_, oh_, ow_ = (int(d) for d in info["shape"])
        if not tile.grid_fits(n_ * oh_ * ow_, k_):
            raise ValueError(f"conv2d tile {tile}: {k_} output channels need more than {MAX_GRID[1]} blocks "
                             "along the grid's y axis")
        bits = index_width(match, p)
        it = CUDARenderer(bits).index_ctype  # channels, pixels, reduction indices, offsets, sizes
        s: N.Stmt = info["stmt"]
        red: N.Reduce = info["red"]
        em = HookEmitter(ck, index_bits=bits)
        ie = em.int_expr
        Yd, Xd, Fd, Xp, Fp = operands(match, em)
        cv, rv, sv = info["c"], info["r"], info["s"]
        la = info["launch"]  # N, K, OH, OW
        L: List[str] = [tile.launch(f"{la[0]} * {la[2]} * {la[3]}", la[1]),
                        signature(ck, c_name(ck.name), tile.bounds, bits) + "\n{"]
        w = L.append
        L.extend(tile.prologue(it))
        w(f"    const {it} _uM = {Yd[1]}, _uOH = {Yd[2]}, _uOW = {Yd[3]}, _uPQ = _uOH * _uOW;")
        w(f"    const {it} _uN = {Yd[0]} * _uPQ;")
        w(f"    const {it} _uXC = {Xd[1]}, _uXH = {Xd[2]}, _uXW = {Xd[3]};")
        w(f"    const {it} _uFC = {Fd[1]}, _uFR = {Fd[2]}, _uFS = {Fd[3]};")
        w(f"    const {it} _uclo = {ie(cv.lo)}, _urlo = {ie(rv.lo)}, _uslo = {ie(sv.lo)};")
        w(f"    const {it} _uRR = {ie(rv.hi)} - _urlo, _uSS = {ie(sv.hi)} - _uslo, _uRS = _uRR * _uSS;")
        w(f"    const {it} _uK = ({ie(cv.hi)} - _uclo) * _uRS;")
        w("    const bool _ufull = _uclo == 0 && _urlo == 0 && _uslo == 0 && _uK == _uFC * _uFR * _uFS;")
        w(f"    const float* __restrict__ _uF = {Fp};")

        # (c, r, s) of a flattened reduction index by multiply-high with precomputed magics: exact while
        # index * divisor < 2^32 (checked once; otherwise m = 0 and _udiv divides)
        w("    const bool _ufast = (unsigned long long)_uK * (unsigned long long)_uRS < 4294967296ull;")
        w("    const unsigned _umRS = _ufast ? 0xFFFFFFFFu / (unsigned)_uRS + 1u : 0u;")
        w("    const unsigned _umSS = _ufast ? 0xFFFFFFFFu / (unsigned)_uSS + 1u : 0u;")

        def decompose(x: str, hdim: str, wdim: str) -> str:
            return f"{c_name(ck.name)}__uoff({x}, _uRS, _umRS, _uSS, _umSS, _uclo, _urlo, _uslo, {hdim}, {wdim})"

        a = RowMajorA(tile, "_uF", "(_uFC * _uFR * _uFS)",
                      "_ufull && ((_uK & 3) == 0) && ((reinterpret_cast<unsigned long long>(_uF) & 15ull) == 0ull)",
                      off=lambda x: f"(_ufull ? ({x}) : {decompose(x, '_uFR', '_uFS')})", it=it)
        b = _Im2colB(tile, Xp, decompose("{0}", "_uXH", "_uXW"), it)
        L.extend(mainloop(tile, a, b, it))
        n, k, y, x = info["vars"]
        epi = HookEmitter(ck, reduce=lambda e: "_uacc[_um][_uh * 4 + _uq]" if e is red else None, index_bits=bits)

        def store() -> List[str]:
            body: List[str] = []
            val = epi.value(s.value, body, " " * 16)
            flat = em.flat_index(s.target, tuple(index_var(v) for v in (n, k, y, x)))
            out = ck.tensors[s.target]
            return ["            #pragma unroll",
                    "            for (int _uq = 0; _uq < 4; ++_uq) {",
                    f"                const {it} _ucol = _uj + _uq;",
                    "                if (_ucol >= _uN) continue;",
                    f"                const {it} {c_name(n)} = _ucol / _uPQ, _urem = _ucol - {c_name(n)} * _uPQ;",
                    f"                const {it} {c_name(k)} = _ui;",
                    f"                const {it} {c_name(y)} = _urem / _uOW, {c_name(x)} = _urem - {c_name(y)} * _uOW;",
                    ] + body + ["                " + em.r.store(c_name(s.target), flat, val, out.dtype),
                                "            }"]

        L.extend(tile.epilogue(store, it))
        w("}")
        helpers = _HELPERS.replace("NAME", c_name(ck.name))
        used = tile.params()
        if bits == 64:  # offsets of (c, r, s) in 64 bits; the multiply-high path is unchanged (x * RS < 2^32)
            helpers = re.sub(r"\bint\b", it, helpers)
            used["index_bits"] = 64
        return finish(ck, [helpers, "\n".join(L)], self.name, used)


_HELPERS = """static __device__ __forceinline__ int NAME__udiv(int n, unsigned m, int d)
{
    return m ? (int)__umulhi((unsigned)n, m) : n / d;
}

// element offset of flattened reduction index x = ((c - clo) * RR + r - rlo) * SS + s - slo in a [.., C, H, W] row
static __device__ __forceinline__ int NAME__uoff(int x, int rs, unsigned mrs, int ss, unsigned mss, int clo, int rlo,
                                                 int slo, int h, int w)
{
    const int c = NAME__udiv(x, mrs, rs), rem = x - c * rs;
    const int r = NAME__udiv(rem, mss, ss);
    return ((clo + c) * h + rlo + r) * w + slo + rem - r * ss;
}"""


CONV2D = Conv2dTemplate()
