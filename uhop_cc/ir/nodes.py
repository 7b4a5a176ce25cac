"""The UIR syntax tree: plain frozen dataclasses.

Source locations never take part in equality, so a program printed and parsed
back compares equal to the original. The checker fills `dtype` (and `kind`
for names) by building new nodes with `dataclasses.replace`; those fields do
not take part in equality either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union


@dataclass(frozen=True)
class Loc:
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0


NOLOC = Loc(0, 0)


def _loc() -> Loc:
    return field(default=NOLOC, compare=False, repr=False)


def _meta(default=None):
    return field(default=default, compare=False, repr=False)


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Const:
    value: Union[int, float]
    is_float: bool
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()


@dataclass(frozen=True)
class Name:
    """A scalar parameter, a size symbol or an index variable.

    `kind` is set by the checker: 'scalar', 'size' or 'index'."""
    name: str
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()
    kind: Optional[str] = _meta()


@dataclass(frozen=True)
class Access:
    tensor: str
    indices: Tuple["Expr", ...]
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()


@dataclass(frozen=True)
class Unary:
    op: str  # '-' or 'not'
    operand: "Expr"
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / % == != < <= > >= and or
    lhs: "Expr"
    rhs: "Expr"
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()


@dataclass(frozen=True)
class Call:
    """A math function, a cast (`f32(x)`) or `select(c, a, b)`."""
    fn: str
    args: Tuple["Expr", ...]
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()


@dataclass(frozen=True)
class RVar:
    """A reduction variable, with an optional explicit half-open range lo..hi."""
    name: str
    lo: Optional["Expr"] = None
    hi: Optional["Expr"] = None
    loc: Loc = _loc()


@dataclass(frozen=True)
class Reduce:
    op: str  # sum max min prod
    vars: Tuple[RVar, ...]
    body: "Expr"
    loc: Loc = _loc()
    dtype: Optional[str] = _meta()


Expr = Union[Const, Name, Access, Unary, Binary, Call, Reduce]


# ---------------------------------------------------------------- structure
@dataclass(frozen=True)
class Param:
    name: str
    dtype: str
    shape: Optional[Tuple[Expr, ...]]  # None: a scalar; (): a 0-d tensor
    loc: Loc = _loc()

    @property
    def is_scalar(self) -> bool:
        return self.shape is None


@dataclass(frozen=True)
class Stmt:
    target: str
    indices: Tuple[str, ...]
    value: Expr
    loc: Loc = _loc()
    index_locs: Tuple[Loc, ...] = _meta(())


@dataclass(frozen=True)
class Kernel:
    name: str
    inputs: Tuple[Param, ...]
    outputs: Tuple[Param, ...]
    body: Tuple[Stmt, ...]
    loc: Loc = _loc()


@dataclass(frozen=True)
class Program:
    kernels: Tuple[Kernel, ...]
    filename: str = field(default="<input>", compare=False)

    def kernel(self, name: Optional[str] = None) -> Kernel:
        if name is None:
            if len(self.kernels) != 1:
                names = ", ".join(k.name for k in self.kernels)
                raise KeyError(f"the file holds several kernels ({names}); choose one with --kernel")
            return self.kernels[0]
        for k in self.kernels:
            if k.name == name:
                return k
        names = ", ".join(k.name for k in self.kernels)
        raise KeyError(f"no kernel named `{name}` (the file holds: {names})")


def children(e: Expr) -> Tuple[Expr, ...]:
    """Direct sub-expressions, in source order (range bounds excluded)."""
    if isinstance(e, Access):
        return e.indices
    if isinstance(e, Unary):
        return (e.operand,)
    if isinstance(e, Binary):
        return (e.lhs, e.rhs)
    if isinstance(e, Call):
        return e.args
    if isinstance(e, Reduce):
        return (e.body,)
    return ()


def walk(e: Expr):
    """Pre-order traversal of an expression.

    An explicit stack, not recursion: a flat chain `a + b + ...` is as deep as it is long."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))
