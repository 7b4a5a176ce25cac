"""What the source analyzers (analyze/preprocess.py, races.py, bounds/) need to know about a C
dialect: its built-in words, predefined macros, how cpp reads it, and where its address spaces
and vector sizes differ from plain C. Each C-style target exposes one as `target.dialect`
(tables in targets/<name>/dialect.py); `PLAIN_C` is the fallback for anything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, Mapping, Tuple

__all__ = ["Dialect", "KEYWORDS", "MATH", "PLAIN_C"]

# C keywords and type names every dialect reserves (a source may not #define them)
KEYWORDS = frozenset({
    "if", "else", "for", "while", "do", "return", "break", "continue", "goto", "switch", "case", "default",
    "const", "volatile", "restrict", "static", "inline", "extern", "typedef", "struct", "union", "enum",
    "sizeof", "void", "char", "short", "int", "long", "float", "double", "half", "bool", "unsigned",
    "signed", "uchar", "ushort", "uint", "ulong", "size_t", "true", "false"})
# math functions of both dialects (a source may not redefine them)
MATH = frozenset({
    "exp", "log", "sqrt", "rsqrt", "fabs", "abs", "sin", "cos", "tanh", "pow", "fmax", "fmin", "max", "min",
    "mad", "fma", "floor", "ceil", "native_exp", "native_log", "expf", "logf", "sqrtf", "rsqrtf", "fabsf",
    "sinf", "cosf", "tanhf", "powf", "fmaxf", "fminf", "floorf", "ceilf", "__expf", "__logf", "clamp", "select"})


@dataclass(frozen=True)
class Dialect:
    """A C dialect as the text-level analyzers see it.

    builtins: the dialect's own built-in functions, qualifiers and variables (with MATH), which a
    source may neither #define nor define as functions; predefined: the macros its compiler
    predefines (the only ones `#if` may test besides the source's own); cpp_args: how GNU cpp
    reads it; bare_qualifiers: address-space and access words without underscores (OpenCL's
    `global`, `local`, ...); local_spaces: the words that put a variable in work-group memory;
    vec3_lanes: the lanes a 3-vector occupies (OpenCL pads it to 4); pointers_global: every
    pointer parameter of a kernel points to global memory (no `__global` needed);
    launch_shared_memory: a stage's @launch line may size its dynamic shared memory (`smem=`)."""
    name: str = "c"
    file_name: str = "kernel.c"
    builtins: FrozenSet[str] = MATH
    predefined: Mapping[str, str] = field(default_factory=dict)
    cpp_args: Tuple[str, ...] = ("-x", "c", "-std=c11")
    bare_qualifiers: FrozenSet[str] = frozenset()
    local_spaces: FrozenSet[str] = frozenset({"__local", "local", "__shared__"})
    vec3_lanes: int = 3
    pointers_global: bool = False
    launch_shared_memory: bool = False

    @property
    def reserved(self) -> FrozenSet[str]:
        """Every word a source may not #define or #undef: the keywords and the built-ins."""
        return KEYWORDS | self.builtins


PLAIN_C = Dialect()
