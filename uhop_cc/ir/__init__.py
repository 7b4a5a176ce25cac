"""The UIR front end: text -> syntax tree -> typed, checked kernels -> bound kernels.

`load` raises `UirError`; `check_source` is the boundary form that returns a
`CheckResult` value instead, for callers that handle untrusted text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple, Union

from . import nodes
from .bind import bind, parse_shapes, sizes_from_arrays
from .checker import check_program
from .errors import Diagnostic, SourceText, UirError
from .limits import deep
from .parser import decode, parse, read_source
from .typed import BoundKernel, CheckedKernel, TensorInfo

__all__ = ["load", "load_file", "check_source", "select_kernel", "bind", "bind_shapes", "parse_shapes",
           "sizes_from_arrays", "CheckResult", "CheckedKernel", "BoundKernel", "TensorInfo", "UirError", "Diagnostic", "nodes"]


def load(text: Union[str, bytes], filename: str = "<input>") -> Tuple[CheckedKernel, ...]:
    """Parse and check every kernel of a UIR source. Raises UirError."""
    program = parse(text, filename)
    return deep(check_program)(program, SourceText(decode(text, filename), filename))


def load_file(path: Union[str, Path]) -> Tuple[CheckedKernel, ...]:
    return load(read_source(path), str(path))


def select_kernel(kernels: Tuple[CheckedKernel, ...], name: Optional[str] = None) -> CheckedKernel:
    names = ", ".join(k.name for k in kernels)
    filename = kernels[0].filename if kernels else "<input>"
    if name is None:
        if len(kernels) == 1:
            return kernels[0]
        raise UirError([Diagnostic(f"the file holds several kernels ({names}); choose one with --kernel", filename)])
    for k in kernels:
        if k.name == name:
            return k
    raise UirError([Diagnostic(f"no kernel named `{name}` (the file holds: {names})", filename)])


def bind_shapes(checked: CheckedKernel, shapes: Union[str, Mapping[str, int]]) -> BoundKernel:
    """Bind sizes given as a --shapes string or a mapping, and run the bounds check."""
    sizes = parse_shapes(shapes, checked) if isinstance(shapes, str) else dict(shapes)
    return bind(checked, sizes)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    kernels: Tuple[CheckedKernel, ...] = ()
    diagnostics: Tuple[Diagnostic, ...] = field(default=())

    def format(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)


def check_source(text: Union[str, bytes], filename: str = "<input>") -> CheckResult:
    try:
        return CheckResult(True, load(text, filename))
    except UirError as e:
        return CheckResult(False, (), tuple(e.diagnostics))
