"""IR -> canonical UIR text. `parse(print_program(p)) == p` for every program."""
from __future__ import annotations

from . import nodes as N
from .limits import deep

_LEVEL = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
          "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_ATOM = 8


def _const(c: N.Const) -> str:
    if c.is_float:
        text = repr(float(c.value))
        if text in ("inf", "nan", "-inf") or text.startswith("-"):
            raise ValueError(f"constant {text} has no UIR spelling")
        return text
    return str(int(c.value))


def _level(e: N.Expr) -> int:
    if isinstance(e, N.Binary):
        return _LEVEL[e.op]
    if isinstance(e, N.Unary):
        return 3 if e.op == "not" else 7
    if isinstance(e, N.Reduce):
        return 0
    return _ATOM


@deep  # flat chains `a + b + ...` recurse as deep as they are long
def expr(e: N.Expr) -> str:
    """Print an expression standing alone (statement value, argument, index)."""
    return _expr(e, 0, True)


def _expr(e: N.Expr, need: int, tail: bool) -> str:
    # A reduction's body runs to the end of the enclosing group, so a reduction
    # is bare only in tail position; anything else binds by precedence.
    if isinstance(e, N.Reduce):
        text = _reduce(e, tail)
        return text if tail else f"({text})"
    text = _plain(e, tail)
    return text if _level(e) >= need else f"({_plain(e, True)})"


def _reduce(e: N.Reduce, tail: bool) -> str:
    rvars = []
    for v in e.vars:
        rvars.append(v.name if v.lo is None else f"{v.name} in {_expr(v.lo, 5, False)}..{_expr(v.hi, 5, False)}")
    body = _expr(e.body, 0, True)
    if body.startswith("-"):
        body = f"({body})"
    return f"{e.op}({', '.join(rvars)}) {body}"


def _plain(e: N.Expr, tail: bool) -> str:
    if isinstance(e, N.Const):
        return _const(e)
    if isinstance(e, N.Name):
        return e.name
    if isinstance(e, N.Access):
        return f"{e.tensor}[{', '.join(expr(i) for i in e.indices)}]"
    if isinstance(e, N.Call):
        return f"{e.fn}({', '.join(expr(a) for a in e.args)})"
    if isinstance(e, N.Unary):
        if e.op == "not":
            return "not " + _expr(e.operand, 3, tail)
        return "-" + _expr(e.operand, 7, tail)
    if isinstance(e, N.Binary):
        lvl = _LEVEL[e.op]
        left_need = lvl + 1 if lvl == 4 else lvl  # comparisons do not chain
        return f"{_expr(e.lhs, left_need, False)} {e.op} {_expr(e.rhs, lvl + 1, tail)}"
    raise TypeError(f"not an expression: {e!r}")


def dims(shape) -> str:
    return "[" + ", ".join(expr(d) for d in shape) + "]"


def param(p: N.Param) -> str:
    return f"{p.name}: {p.dtype}" + ("" if p.shape is None else dims(p.shape))


def stmt(s: N.Stmt) -> str:
    lhs = s.target + (f"[{', '.join(s.indices)}]" if s.indices else "")
    return f"{lhs} = {expr(s.value)}"


def kernel_head(k: N.Kernel) -> str:
    return (f"kernel {k.name}({', '.join(param(p) for p in k.inputs)}) -> "
            f"({', '.join(param(p) for p in k.outputs)}) {{")


def kernel(k: N.Kernel) -> str:
    return "\n".join([kernel_head(k), *("    " + stmt(s) for s in k.body), "}"])


def program(p: N.Program) -> str:
    return "\n\n".join(kernel(k) for k in p.kernels) + "\n"
