"""KernelSpec: the contract every generator and checker reads.

Built from a bound kernel (concrete shapes) plus an optional hardware
fingerprint; JSON-serialisable so LLM prompts, the dataset and the emitted
host projects all read the same facts.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from ..ir import nodes as N
from ..ir import printer
from ..ir.typed import BoundKernel
from .category import categorize
from .cost import statement_flops
from .indexing import index_bits

DTYPE_BYTES = {"f32": 4, "f16": 2, "f64": 8, "i32": 4}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: Tuple[int, ...]
    dims: Tuple[str, ...]  # symbolic, as written

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.elements * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class AbiArg:
    """One kernel argument, target-neutral: each renderer writes its C type (`abi_decl`)."""
    name: str
    kind: str  # input, scalar, output, temp, size
    dtype: str  # sizes: i32, or i64 where the shapes need 64-bit indices


@dataclass(frozen=True)
class StatementSpec:
    target: str
    text: str
    indices: Tuple[Tuple[str, int], ...]  # (variable, extent)
    reductions: Tuple[Dict[str, object], ...]  # {op, vars: [(name, lo, hi)]}
    flops: int


@dataclass(frozen=True)
class KernelSpec:
    name: str
    source_file: str
    uir: str
    sizes: Dict[str, int]
    scalars: Tuple[Tuple[str, str], ...]
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    temps: Tuple[TensorSpec, ...]
    abi: Tuple[AbiArg, ...]
    statements: Tuple[StatementSpec, ...]
    flops: int
    bytes_min: int
    category: str
    schedule_constraints: Dict[str, object] = field(default_factory=dict)
    hardware: Dict[str, object] = field(default_factory=dict)
    index_bits: int = 32  # 64 when some index at these shapes passes 2^31 - 1 (sizes are then `long`)

    @property
    def arithmetic_intensity(self) -> float:
        return self.flops / self.bytes_min if self.bytes_min else 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["arithmetic_intensity"] = round(self.arithmetic_intensity, 4)
        return d

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


def _tensor(b: BoundKernel, name: str) -> TensorSpec:
    t = b.checked.tensors[name]
    return TensorSpec(name, t.dtype, b.shapes[name], tuple(printer.expr(d) for d in t.shape))


def abi(b: BoundKernel) -> Tuple[AbiArg, ...]:
    """The kernel ABI: inputs and scalars in declaration order, outputs, then the size symbols."""
    out: List[AbiArg] = []
    ck = b.checked
    for p in ck.inputs:
        out.append(AbiArg(p.name, "scalar" if p.is_scalar else "input", p.dtype))
    for p in ck.outputs:
        out.append(AbiArg(p.name, "output", p.dtype))
    size = "i64" if index_bits(b) == 64 else "i32"
    out.extend(AbiArg(s, "size", size) for s in ck.sizes)
    return tuple(out)


def _reductions(e: N.Expr, b: BoundKernel) -> List[Dict[str, object]]:
    out = []
    for node in N.walk(e):
        if isinstance(node, N.Reduce):
            out.append({"op": node.op, "vars": [(v.name, *b.range_of(v)) for v in node.vars]})
    return out


def build_spec(b: BoundKernel, hardware: Optional[Dict[str, object]] = None,
               constraints: Optional[Dict[str, object]] = None) -> KernelSpec:
    ck = b.checked
    statements = []
    for s in ck.body:
        extents = tuple(zip(s.indices, b.shapes[s.target]))
        statements.append(StatementSpec(s.target, printer.stmt(s), extents, tuple(_reductions(s.value, b)),
                                        statement_flops(s, b)))
    inputs = tuple(_tensor(b, p.name) for p in ck.inputs if not p.is_scalar)
    outputs = tuple(_tensor(b, p.name) for p in ck.outputs)
    temps = tuple(_tensor(b, t.name) for t in ck.temps())
    hw = dict(hardware or {})
    sc = dict(constraints or {})
    if hw:
        sc.setdefault("max_work_group_size", hw.get("max_work_group_size"))
        sc.setdefault("local_mem_bytes", hw.get("local_mem_bytes", hw.get("local_mem_size")))
    return KernelSpec(
        name=ck.name, source_file=ck.filename, uir=printer.kernel(ck.kernel), sizes=dict(b.sizes),
        scalars=tuple(ck.scalars.items()), inputs=inputs, outputs=outputs, temps=temps, abi=abi(b),
        statements=tuple(statements), flops=sum(s.flops for s in statements),
        bytes_min=sum(t.nbytes for t in inputs + outputs), category=categorize(ck),
        schedule_constraints=sc, hardware=hw, index_bits=index_bits(b))


