"""Random *valid* UIR programs by category, deterministic from a seed.

    from uhop_cc.campaign.generator import generate, CATEGORIES, Limits
    g = generate("stencil2d", seed=1234)          # GeneratedProgram
    g.source                                      # canonical UIR text (printer output)
    bound = g.bind()                              # checked and bound for g.sizes

Programs are built as syntax trees (`uhop_cc.ir.nodes`), printed with the canonical printer
and checked from the tree, so no parse is needed on the hot path (`parse(g.source)` gives the
same tree back). Every program checks and binds for its sizes by construction: accesses use
index variables whose ranges match the tensor dims, shifted accesses are either inside an
interior output (`H - 2`) or guarded by a `select`, divisions and logarithms see values kept
away from zero, and exponentials see bounded arguments, so validation against the reference
interpreter is meaningful.

Categories (`CATEGORIES`) and the lowering category (`uhop_cc.lower.category`) each one
classifies as: arithmetic, math_chain and select are `elementwise`; transform is `transform`;
reduction is `reduction`; matrix is `matmul`; stencil2d and stencil3d are `stencil`; pooling
is `pooling`; fused is `fused`; vector (BLAS-1 style kernels) spans several (`ALLOWED`).

Where the parts live: `gen_tree.py` (syntax-tree constructors), `gen_base.py` (`Limits` and the
`ProgramBuilder`: random stream, names, sizes, elementwise expressions), and one builder function
per category in `gen_elementwise.py`, `gen_reduce.py`, `gen_stencil.py` and `gen_fused.py`
(`BUILDERS` below maps each category to it).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from ..ir import bind_shapes
from ..ir import nodes as N
from ..ir import printer
from ..ir.checker import check_program
from ..ir.errors import SourceText
from .gen_base import Limits, ProgramBuilder
from .gen_elementwise import cat_arithmetic, cat_math_chain, cat_select, cat_transform
from .gen_fused import cat_fused
from .gen_reduce import cat_matrix, cat_reduction, cat_vector
from .gen_stencil import cat_pooling, cat_stencil2d, cat_stencil3d

__all__ = ["CATEGORIES", "INTENDED", "ALLOWED", "Limits", "GeneratedProgram", "generate", "derive_seed",
           "GENERATOR_VERSION"]

GENERATOR_VERSION = 1

CATEGORIES = ("arithmetic", "math_chain", "transform", "reduction", "matrix", "vector", "stencil2d",
              "stencil3d", "pooling", "select", "fused")

# The lower/category.py category each generator category classifies as (None: it spans several).
INTENDED: Dict[str, Optional[str]] = {
    "arithmetic": "elementwise", "math_chain": "elementwise", "transform": "transform",
    "reduction": "reduction", "matrix": "matmul", "vector": None, "stencil2d": "stencil",
    "stencil3d": "stencil", "pooling": "pooling", "select": "elementwise", "fused": "fused",
}
ALLOWED: Dict[str, FrozenSet[str]] = {
    c: frozenset([v]) if v else frozenset({"elementwise", "reduction", "matmul", "transform"})
    for c, v in INTENDED.items()
}

# Each category's builder: draws one program from the builder's random stream, returns (variant, kernel).
BUILDERS: Dict[str, Callable[[ProgramBuilder], Tuple[str, N.Kernel]]] = {
    "arithmetic": cat_arithmetic, "math_chain": cat_math_chain, "transform": cat_transform,
    "reduction": cat_reduction, "matrix": cat_matrix, "vector": cat_vector, "stencil2d": cat_stencil2d,
    "stencil3d": cat_stencil3d, "pooling": cat_pooling, "select": cat_select, "fused": cat_fused,
}
assert set(BUILDERS) == set(CATEGORIES)


@dataclass(frozen=True)
class GeneratedProgram:
    category: str
    seed: int
    name: str
    variant: str
    source: str
    sizes: Dict[str, int]
    program: N.Program = field(compare=False, repr=False)

    @property
    def intended(self) -> Optional[str]:
        return INTENDED[self.category]

    @property
    def kernel(self) -> N.Kernel:
        return self.program.kernels[0]

    def check(self):
        """The CheckedKernel (checked from the tree: no parse). Raises UirError."""
        return check_program(self.program, SourceText(self.source, f"<{self.name}>"))[0]

    def bind(self, checked=None):
        ck = checked if checked is not None else self.check()
        return bind_shapes(ck, {s: self.sizes[s] for s in ck.sizes})

    def to_json(self) -> dict:
        return {"category": self.category, "seed": self.seed, "name": self.name, "variant": self.variant,
                "source": self.source, "sizes": dict(self.sizes)}


def derive_seed(campaign_seed: int, category: str, n: int) -> int:
    """A stable 63-bit seed for the n-th program of a category (independent of Python's hash seed)."""
    h = hashlib.sha256(f"uhopc-campaign:{int(campaign_seed)}:{category}:{int(n)}".encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def generate(category: str, seed: int, limits: Optional[Limits] = None, index: Optional[int] = None) \
        -> GeneratedProgram:
    """One random program of `category`, fully determined by (category, seed, limits)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category `{category}` (known: {', '.join(CATEGORIES)})")
    g = ProgramBuilder(int(seed), limits or Limits())
    variant, kernel = BUILDERS[category](g)
    name = f"{variant}_{index if index is not None else int(seed) % 1000000}"
    kernel = N.Kernel(name, kernel.inputs, kernel.outputs, kernel.body)
    program = N.Program((kernel,), filename=f"<{name}>")
    used = _used_sizes(kernel)
    sizes = {s: g.sizes[s] for s in used}
    return GeneratedProgram(category, int(seed), name, variant, printer.program(program), sizes, program)


def _used_sizes(k: N.Kernel) -> List[str]:
    out: List[str] = []
    for p in k.inputs + k.outputs:
        for d in p.shape or ():
            for node in N.walk(d):
                if isinstance(node, N.Name) and node.name not in out:
                    out.append(node.name)
    return out
