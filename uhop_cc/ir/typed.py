"""The checked program: what every later stage reads.

`CheckedKernel` is symbolic (shapes are expressions over size symbols);
`BoundKernel` adds concrete sizes and has passed the bounds check.
In the typed tree every expression node carries `dtype`, every `Name` its
`kind` ('scalar', 'size', 'index'), every reduction variable an explicit
half-open range, and implicit conversions are explicit casts (`Call('f32', ...)`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

from . import nodes as N
from . import symbolic

DTYPES = ("f32", "f16", "f64", "i32")
FLOAT_DTYPES = ("f16", "f32", "f64")
NUMPY_DTYPE = {"f32": "float32", "f16": "float16", "f64": "float64", "i32": "int32", "bool": "bool"}
C_TYPE = {"f32": "float", "f16": "half", "f64": "double", "i32": "int", "bool": "int"}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: Tuple[N.Expr, ...]  # symbolic dims
    role: str  # 'input', 'output' or 'temp'
    loc: N.Loc = field(default=N.NOLOC, compare=False)

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class CheckedKernel:
    kernel: N.Kernel  # the typed tree
    sizes: Tuple[str, ...]  # size symbols, in order of first appearance in the signature
    scalars: Dict[str, str]  # scalar parameter -> dtype
    tensors: Dict[str, TensorInfo]  # inputs, outputs, then temporaries in definition order
    filename: str = "<input>"
    source_text: str = field(default="", compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.kernel.name

    @property
    def inputs(self) -> Tuple[N.Param, ...]:
        return self.kernel.inputs

    @property
    def outputs(self) -> Tuple[N.Param, ...]:
        return self.kernel.outputs

    @property
    def body(self) -> Tuple[N.Stmt, ...]:
        return self.kernel.body

    def temps(self) -> Tuple[TensorInfo, ...]:
        return tuple(t for t in self.tensors.values() if t.role == "temp")


@dataclass(frozen=True)
class BoundKernel:
    checked: CheckedKernel
    sizes: Dict[str, int]
    shapes: Dict[str, Tuple[int, ...]]  # every tensor, temporaries included

    @property
    def name(self) -> str:
        return self.checked.name

    @property
    def kernel(self) -> N.Kernel:
        return self.checked.kernel

    def dim(self, e: N.Expr) -> int:
        return symbolic.evaluate(e, self.sizes)

    def range_of(self, v: N.RVar) -> Tuple[int, int]:
        """Concrete half-open range of a (typed) reduction variable."""
        return self.dim(v.lo), self.dim(v.hi)

    def stmt_ranges(self, s: N.Stmt) -> Tuple[Tuple[int, int], ...]:
        return tuple((0, n) for n in self.shapes[s.target])

    def dtype(self, tensor: str) -> str:
        return self.checked.tensors[tensor].dtype

    def input_shapes(self) -> Dict[str, Tuple[int, ...]]:
        return {p.name: self.shapes[p.name] for p in self.checked.inputs if not p.is_scalar}

    def output_shapes(self) -> Dict[str, Tuple[int, ...]]:
        return {p.name: self.shapes[p.name] for p in self.checked.outputs}


