"""Targets: the registry, the one place target names are listed.

    from uhop_cc import targets
    t = targets.get("opencl")                 # the Target object (targets/common.py: the contract)
    src = t.renderer(64).generic(checked)     # its C dialect; t.templates(), t.open_device(), ...
    targets.names()                           # ('opencl', 'cuda', 'ttmetal'): CLI choices, configs

One folder per target (`opencl/`, `cuda/`, `ttmetal/`) holds its renderer, templates, runtime and
host-project emitter; `common.py` the contracts and the runtime types every device returns;
`hostgen.py` and `placement.py` what the C-style targets' hosts and runtimes share.
"""
from __future__ import annotations

from typing import Dict, Tuple

from .common import Target
from .cuda import TARGET as _CUDA
from .opencl import TARGET as _OPENCL
from .ttmetal import TARGET as _TTMETAL

__all__ = ["get", "names", "renderer", "c_style", "runnable", "DEFAULT", "Target"]

_REGISTRY: Dict[str, Target] = {t.name: t for t in (_OPENCL, _CUDA, _TTMETAL)}
DEFAULT = "opencl"


def names() -> Tuple[str, ...]:
    """Every target's name, the default first."""
    return tuple(_REGISTRY)


def runnable() -> Tuple[str, ...]:
    """Targets whose devices launch kernels (the others write projects)."""
    return tuple(n for n, t in _REGISTRY.items() if t.runs_kernels)


def c_style() -> Tuple[str, ...]:
    """Targets rendered by the C-style renderer (generic lowering and templates)."""
    return tuple(n for n, t in _REGISTRY.items() if t.c_style)


def get(name: str) -> Target:
    """The target called `name`; ValueError listing the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown target `{name}` (known: {', '.join(_REGISTRY)})") from None


def renderer(name: str, index_bits: int = 32):
    """The C-style renderer of target `name` at `index_bits` (32 or 64)."""
    return get(name).renderer(index_bits)
