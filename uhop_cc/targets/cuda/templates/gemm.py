"""The block-tiled GEMM main loop that the CUDA `sgemm` and `conv2d` (implicit GEMM) templates share.

    tile = GemmTile(BM=128, BN=128, BK=8, TM=8, TN=8)      # 256 threads, 8x8 outputs each
    lines = tile.prologue() + mainloop(tile, a_loader, b_loader) + tile.epilogue(store)

A block computes a BM x BN tile of C = A (M x K) * B (K x N). Its TX x TY threads
(TX = BN / TN, TY = BM / TM) each hold TM x TN accumulators: TM / 4 groups of four rows
(group g covers rows g * 4 TY + 4 ty .. + 3) by TN / 4 groups of four columns, so every
shared-memory read of a fragment is one float4 and a warp's reads do not conflict. k
advances in tiles of BK through two shared buffers `_uAs[2][BK][BM]` and `_uBs[2][BK][BN]`
(k-major): while the tile in one buffer is multiplied, the next tile's global loads are in
flight in registers, then stored into the other buffer; one barrier per k-tile.

What differs between users is how a k-tile is fetched from global memory: a *loader*
(`setup` lines once per thread, `load(k)` into registers, `store(buf)` into shared memory).
`RowMajorA` reads rows contiguous in k (a matrix, or a conv filter viewed as K x CRS, with an
optional offset function for partial ranges); `RowMajorB` reads rows contiguous in n;
callers supply their own (the im2col gather of `cuda_conv2d`).

Names the caller provides before the main loop: `_uK` (reduction length), and `_uM`/`_uN` when
the built-in loaders or the epilogue need them (`prologue` declares `_ui0`/`_uj0`).

Index width: `it` ("int" or "long long", from `templates.base.index_width`) types everything that
is a row, column or k index of the whole problem (`_ui0`, `_uj0`, `_uk`, `_ui`, `_uj`...); what
stays inside a tile (thread positions, fragment and loader offsets, unrolled counters) is `int`.
The grid has a block per BM rows along y, where CUDA allows 65535 blocks: `grid_fits` says
whether a problem fits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, List, Mapping

__all__ = ["GemmTile", "RowMajorA", "RowMajorB", "mainloop", "MAX_GRID"]

MAX_GRID = (2 ** 31 - 1, 65535, 65535)  # CUDA blocks per grid axis (x, y, z)


@dataclass(frozen=True)
class GemmTile:
    BM: int = 128
    BN: int = 128
    BK: int = 8
    TM: int = 8
    TN: int = 8

    @classmethod
    def of(cls, params: Mapping) -> "GemmTile":
        """The tile named by a template's parameters (other keys are ignored)."""
        return cls(*(int(params[k]) for k in ("BM", "BN", "BK", "TM", "TN")))

    @classmethod
    def renders(cls, params: Mapping, a_elems_per_load: int = 4, b_elems_per_load: int = 4) -> bool:
        try:
            cls.of(params).check(a_elems_per_load, b_elems_per_load)
        except ValueError:
            return False
        return True

    def params(self) -> dict:
        return asdict(self)

    @property
    def tx(self) -> int:
        return self.BN // self.TN

    @property
    def ty(self) -> int:
        return self.BM // self.TM

    @property
    def threads(self) -> int:
        return self.tx * self.ty

    @property
    def shared_bytes(self) -> int:
        return 2 * self.BK * (self.BM + self.BN) * 4

    def check(self, a_elems_per_load: int = 4, b_elems_per_load: int = 4) -> None:
        """Raise ValueError unless the tile renders: fragments of four, whole loads per thread."""
        BM, BN, BK, TM, TN = self.BM, self.BN, self.BK, self.TM, self.TN
        why = []
        if min(BM, BN, BK, TM, TN) < 1:
            why.append("every size must be positive")
        if TM % 4 or TN % 4:
            why.append("TM and TN must be multiples of 4")
        if TM and TN and (BM % TM or BN % TN):
            why.append("TM must divide BM and TN divide BN")
        if not why:
            t = self.threads
            if t % 32 or not 32 <= t <= 1024:
                why.append(f"{t} threads per block (need a multiple of 32 up to 1024)")
            elif (BM * BK) % (a_elems_per_load * t) or (BK * BN) % (b_elems_per_load * t):
                why.append(f"the {BM}x{BK} and {BK}x{BN} tiles do not split into whole loads over {t} threads")
            if BK % 4:
                why.append("BK must be a multiple of 4")
            if self.shared_bytes > 48 * 1024:
                why.append(f"{self.shared_bytes} bytes of shared memory (48 KiB static limit)")
        if why:
            raise ValueError(f"invalid GEMM tile {self}: " + "; ".join(why))

    def grid_fits(self, cols: int, rows: int) -> bool:
        """Whether the grid of a `rows` x `cols` problem (`launch`) fits CUDA's limits."""
        return -(-int(cols) // self.BN) <= MAX_GRID[0] and -(-int(rows) // self.BM) <= MAX_GRID[1]

    def launch(self, cols: str, rows: str) -> str:
        """The @launch annotation: a block per BN columns (x) and BM rows (y) of C."""
        return f"// @launch grid=(cdiv({cols}, {self.BN}), cdiv({rows}, {self.BM})) block=({self.threads}, 1)"

    @property
    def bounds(self) -> str:
        return f"__launch_bounds__({self.threads}, {2 if self.threads <= 256 else 1})"

    def prologue(self, it: str = "int") -> List[str]:
        """Shared buffers, the thread's position, the block's first row `_ui0` and column `_uj0`."""
        cast = "" if it == "int" else f"({it})"  # a block's first row or column in 64 bits when wide
        return [
            f"    __shared__ __align__(16) float _uAs[2][{self.BK}][{self.BM}];",
            f"    __shared__ __align__(16) float _uBs[2][{self.BK}][{self.BN}];",
            f"    const int _utid = threadIdx.x, _utx = _utid % {self.tx}, _uty = _utid / {self.tx};",
            f"    const {it} _ui0 = {cast}blockIdx.y * {self.BM}, _uj0 = {cast}blockIdx.x * {self.BN};",
        ]

    def epilogue(self, body: Callable[[], List[str]], it: str = "int") -> List[str]:
        """Loops over the thread's outputs: `_ui` (row, < _uM), `_uj` (first of four columns),
        `_uacc[_um][_uh * 4 + _uq]` the accumulator of column `_uj + _uq`; `body()` gives the
        lines run for each (row, four columns)."""
        L = ["    #pragma unroll",
             f"    for (int _um = 0; _um < {self.TM}; ++_um) {{",
             f"        const {it} _ui = _ui0 + (_um >> 2) * {4 * self.ty} + _uty * 4 + (_um & 3);",
             "        if (_ui >= _uM) continue;",
             "        #pragma unroll",
             f"        for (int _uh = 0; _uh < {self.TN // 4}; ++_uh) {{",
             f"            const {it} _uj = _uj0 + _uh * {4 * self.tx} + _utx * 4;"]
        L += body()
        L += ["        }", "    }"]
        return L


class RowMajorA:
    """A k-tile of the BM x K operand whose rows are contiguous in k: one float4 per load,
    transposed into `_uAs[buf][k][m]`. `ptr` is the row-0, k-0 address, `ld` the row stride;
    `off(x)` maps a k index to an element offset in the row (identity for a matrix), `vec` is
    the C condition under which four consecutive k are four consecutive floats, aligned."""

    def __init__(self, tile: GemmTile, ptr: str, ld: str, vec: str, off: Callable[[str], str] = lambda x: x,
                 it: str = "int"):
        self.t, self.ptr, self.ld, self.vec, self.off, self.it = tile, ptr, ld, vec, off, it
        self.n = tile.BM * tile.BK // (4 * tile.threads)

    def setup(self) -> List[str]:
        t, q = self.t, self.t.BK // 4
        L = [f"    const bool _uvA = {self.vec};"]
        for l in range(self.n):
            f = f"(_utid + {t.threads * l})"
            L += [f"    const int _uar{l} = {f} / {q}, _uac{l} = ({f} % {q}) * 4;",
                  f"    const bool _urowA{l} = _ui0 + _uar{l} < _uM;",
                  f"    const float* _uArow{l} = {self.ptr} + (size_t)(_urowA{l} ? _ui0 + _uar{l} : 0) * {self.ld};",
                  f"    float4 _ura{l};"]
        return L

    def load(self, k: str) -> List[str]:
        L = []
        for l in range(self.n):
            L += ["{",
                  f"    const {self.it} _uka = {k} + _uac{l};",
                  f"    if (_uvA && _urowA{l} && _uka + 3 < _uK) {{",
                  f"        _ura{l} = *reinterpret_cast<const float4*>(_uArow{l} + _uka);",
                  "    } else {"]
            for q, lane in enumerate("xyzw"):
                elem = self.off(f"_uka + {q}")
                L.append(f"        _ura{l}.{lane} = (_urowA{l} && _uka + {q} < _uK) ? _uArow{l}[{elem}] : 0.0f;")
            L += ["    }", "}"]
        return L

    def store(self, buf: str) -> List[str]:
        return [f"_uAs[{buf}][_uac{l} + {q}][_uar{l}] = _ura{l}.{lane};"
                for l in range(self.n) for q, lane in enumerate("xyzw")]


class RowMajorB:
    """A k-tile of the K x BN operand whose rows are contiguous in n: one float4 per load."""

    def __init__(self, tile: GemmTile, ptr: str, ld: str, vec: str, it: str = "int"):
        self.t, self.ptr, self.ld, self.vec, self.it = tile, ptr, ld, vec, it
        self.n = tile.BK * tile.BN // (4 * tile.threads)

    def setup(self) -> List[str]:
        t, q = self.t, self.t.BN // 4
        L = [f"    const bool _uvB = {self.vec};"]
        for l in range(self.n):
            f = f"(_utid + {t.threads * l})"
            if self.it == "int":
                L.append(f"    const int _ubr{l} = {f} / {q}, _ubc{l} = ({f} % {q}) * 4, _ujB{l} = _uj0 + _ubc{l};")
            else:  # the column is global: wide; the tile position stays int
                L += [f"    const int _ubr{l} = {f} / {q}, _ubc{l} = ({f} % {q}) * 4;",
                      f"    const {self.it} _ujB{l} = _uj0 + _ubc{l};"]
            L.append(f"    float4 _urb{l};")
        return L

    def load(self, k: str) -> List[str]:
        L = []
        for l in range(self.n):
            L += ["{",
                  f"    const {self.it} _ukb = {k} + _ubr{l};",
                  "    const bool _urowB = _ukb < _uK;",
                  f"    const float* _uBrow = {self.ptr} + (size_t)(_urowB ? _ukb : 0) * {self.ld};",
                  f"    if (_uvB && _urowB && _ujB{l} + 3 < _uN) {{",
                  f"        _urb{l} = *reinterpret_cast<const float4*>(_uBrow + _ujB{l});",
                  "    } else {"]
            for q, lane in enumerate("xyzw"):
                L.append(f"        _urb{l}.{lane} = (_urowB && _ujB{l} + {q} < _uN) ? _uBrow[_ujB{l} + {q}] : 0.0f;")
            L += ["    }", "}"]
        return L

    def store(self, buf: str) -> List[str]:
        return [f"*reinterpret_cast<float4*>(&_uBs[{buf}][_ubr{l}][_ubc{l}]) = _urb{l};" for l in range(self.n)]


def _indent(lines: List[str], n: int) -> List[str]:
    pad = " " * n
    return [pad + ln for ln in lines]


def mainloop(t: GemmTile, a, b, it: str = "int") -> List[str]:
    """Zeroed accumulators, the first k-tile, then the double-buffered loop over k (k indices typed `it`)."""
    GM, GN = t.TM // 4, t.TN // 4
    L = a.setup() + b.setup()
    L += [f"    float _uacc[{t.TM}][{t.TN}];",
          "    #pragma unroll",
          f"    for (int _um = 0; _um < {t.TM}; ++_um) {{",
          "        #pragma unroll",
          f"        for (int _un = 0; _un < {t.TN}; ++_un) _uacc[_um][_un] = 0.0f;",
          "    }",
          "    {",
          f"        const {it} _uk = 0;"]
    L += _indent(a.load("_uk") + b.load("_uk") + a.store("0") + b.store("0"), 8)
    L += ["    }",
          "    __syncthreads();",
          "    int _ubuf = 0;",
          f"    for ({it} _uk0 = 0; _uk0 < _uK; _uk0 += {t.BK}) {{",
          f"        const bool _unext = _uk0 + {t.BK} < _uK;",
          "        if (_unext) {",
          f"            const {it} _uk = _uk0 + {t.BK};"]
    L += _indent(a.load("_uk") + b.load("_uk"), 12)
    L += ["        }",
          "        #pragma unroll",
          f"        for (int _ukk = 0; _ukk < {t.BK}; ++_ukk) {{",
          f"            float _ua[{t.TM}], _ub[{t.TN}];"]
    fragments = (("_ua", "_uAs", GM, 4 * t.ty, "_uty"), ("_ub", "_uBs", GN, 4 * t.tx, "_utx"))
    for frag, buf, groups, stride, pos in fragments:  # four floats of A (B) per float4 read of shared memory
        for g in range(groups):
            lanes = " ".join(f"{frag}[{4 * g + q}] = _uv.{c};" for q, c in enumerate("xyzw"))
            L.append(f"            {{ const float4 _uv = *reinterpret_cast<const float4*>(&{buf}[_ubuf][_ukk]"
                     f"[{g * stride} + {pos} * 4]); {lanes} }}")
    L += ["            #pragma unroll",
          f"            for (int _um = 0; _um < {t.TM}; ++_um) {{",
          "                #pragma unroll",
          f"                for (int _un = 0; _un < {t.TN}; ++_un) _uacc[_um][_un] = fmaf(_ua[_um], _ub[_un], "
          "_uacc[_um][_un]);",
          "            }",
          "        }",
          "        if (_unext) {"]
    L += _indent(a.store("_ubuf ^ 1") + b.store("_ubuf ^ 1"), 12)
    L += ["            __syncthreads();",
          "            _ubuf ^= 1;",
          "        }",
          "    }"]
    return L
