"""First-tier fast kernel templates (OpenCL).

    from uhop_cc.targets.opencl.templates import select_template
    found = select_template(bound)            # (Template, Match) or None
    if found:
        tpl, m = found
        params = tpl.space(m, device_fingerprint)[0]
        kernel = tpl.render(m, params)        # GeneratedKernel(target='opencl', strategy=tpl.name, ...)

Every template renders sources under the generic lowering's ABI (inputs, outputs,
temporaries only when a stage needs them -- these templates never do --, then every size
symbol as `const int`, or `const long` where the shape needs 64-bit indices: see
lower/indexing.py), with `// @launch` annotations; sizes stay runtime arguments, so a rendered
kernel serves every shape of its index width that the program accepts.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from ....ir.typed import BoundKernel
from .base import Match, NoMatch, Template, device_kind
from .conv2d import TEMPLATE as CONV2D
from .elementwise import TEMPLATE as ELEMENTWISE
from .matmul import TEMPLATE as MATMUL
from .rowreduce import TEMPLATE as ROWREDUCE
from .stencil import TEMPLATE as STENCIL

TEMPLATES: List[Template] = [ELEMENTWISE, STENCIL, MATMUL, ROWREDUCE, CONV2D]

__all__ = ["Template", "Match", "NoMatch", "TEMPLATES", "select_template", "get_template", "device_kind"]


def get_template(name: str) -> Template:
    for t in TEMPLATES:
        if t.name == name:
            return t
    raise KeyError(f"no template named `{name}` (known: {', '.join(t.name for t in TEMPLATES)})")


def select_template(bound: BoundKernel, device: Optional[dict] = None) -> Optional[Tuple[Template, Match]]:
    """The first template that matches the bound kernel, with its match (None when none does).

    `device` (a fingerprint) does not change which template matches; pass it to `space`."""
    for t in TEMPLATES:
        m = t.match(bound)
        if m is not None:
            return t, m
    return None
