"""First-tier CUDA templates, one file per category, and their registry.

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
block=(...)` annotation. Sizes stay kernel arguments: the same source serves every shape.

* `sgemm.py`: tiled SGEMM with an epilogue, on the shared main loop of `gemm.py`.
* `rowreduce.py`: fused row reductions (softmax, layernorm, cosine...).
* `elementwise.py`: vectorised elementwise kernels.
* `conv2d.py`: direct NCHW convolution as an implicit GEMM on the same main loop.
* `stencil.py`: the shared tiled-neighbourhood schedule (codegen/stencil.py) in CUDA's dialect.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from ....codegen.template import Match, NoMatch
from ....ir.typed import BoundKernel
from .base import Template
from .conv2d import CONV2D
from .elementwise import TEMPLATE as ELEMENTWISE, ElementwiseTemplate
from .rowreduce import TEMPLATE as ROWREDUCE, RowReduceTemplate
from .sgemm import TEMPLATE as SGEMM, SgemmTemplate
from .stencil import TEMPLATE as STENCIL

__all__ = ["TEMPLATES", "Template", "Match", "NoMatch", "select_template", "get_template", "SgemmTemplate",
           "RowReduceTemplate", "ElementwiseTemplate", "SGEMM", "ROWREDUCE", "ELEMENTWISE", "CONV2D", "STENCIL"]

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
