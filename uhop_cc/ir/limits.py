"""Size and depth limits of UIR input, and a big stack for the passes that recurse.

Every pass over expressions (checker, interpreter, printer, bounds check, lowering,
code generators) recurses on the tree. Two shapes of tree are deep:

* genuine nesting (`-(-(-x))`, `exp(exp(...))`, `a + (b + (c + ...))`): refused at
  parse time past MAX_NESTING levels, with a located error, before any pass runs;
* long flat chains (`a + b + c + ...`): legitimate programs. The parser builds them
  left-leaning, exactly as they evaluate, so a chain of N operands is N levels deep.
  They are not rebalanced: float `+` is not associative, and the reference semantics
  and generated code keep left-to-right order. Instead the recursive passes run,
  when the caller's stack is too small, on a helper thread with a big stack and a
  raised recursion limit (`deep`). MAX_DEPTH bounds what that stack must hold.

Rewriting every walker (including those in code generators) as an explicit-stack
loop would be the alternative; one bounded helper protects all of them at once.
"""
from __future__ import annotations

import functools
import sys
import threading
from typing import Callable, List, Tuple, TypeVar

from . import nodes as N

MAX_FILE_BYTES = 1024 * 1024  # parse + check of a file this size takes seconds, not minutes
MAX_NESTING = 200  # nested parentheses-like levels: unary operators, calls, indices, reductions, rhs operands
MAX_DEPTH = 10_000  # levels of a whole expression tree, flat chains included

# Frames a pass may spend per tree level (checker: 2, printer: 2, interpreter: up to 4), with room.
_FRAMES_PER_LEVEL = 8
_STACK_BYTES = 512 * 1024 * 1024  # virtual; pages are committed only as the recursion touches them

T = TypeVar("T")
_local = threading.local()
_limit_lock = threading.Lock()
_raised = [0]  # helper threads running with the raised recursion limit
_saved_limit = [0]


def nesting_violation(e: N.Expr) -> Tuple[str, N.Loc]:
    """("", NOLOC) when e is within limits, else (the message, where). Iterative: e may be deep.

    A Binary's left operand continues a flat chain and adds no nesting; any other
    child (right operand, unary operand, argument, index, reduction body) adds one."""
    stack: List[Tuple[N.Expr, int, int]] = [(e, 0, 0)]
    while stack:
        node, nest, depth = stack.pop()
        if nest > MAX_NESTING:
            return (f"expression nested too deeply: more than {MAX_NESTING} levels of unary operators, "
                    "calls, indices, reductions or parenthesised right operands"), node.loc
        if depth > MAX_DEPTH:
            return f"expression too long: more than {MAX_DEPTH} levels (operators in one chain)", e.loc
        if isinstance(node, N.Binary):
            stack.append((node.lhs, nest, depth + 1))
            stack.append((node.rhs, nest + 1, depth + 1))
            continue
        for child in N.children(node):
            stack.append((child, nest + 1, depth + 1))
        if isinstance(node, N.Reduce):
            for v in node.vars:
                stack.extend((b, nest + 1, depth + 1) for b in (v.lo, v.hi) if b is not None)
    return "", N.NOLOC


def in_big_stack(fn: Callable[..., T], *args, **kwargs) -> T:
    """fn(*args, **kwargs) on a helper thread whose stack holds MAX_DEPTH-deep recursion.

    Results and exceptions come back to the caller. Inside a helper thread it just calls fn."""
    if getattr(_local, "deep", False):
        return fn(*args, **kwargs)
    box: dict = {}

    def body():
        _local.deep = True
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed back to the calling thread, which re-raises it
            box["error"] = e

    with _limit_lock:
        # The limit is per interpreter: raise it while any helper runs, restore after the last.
        if _raised[0] == 0:
            _saved_limit[0] = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit[0], _FRAMES_PER_LEVEL * (MAX_DEPTH + MAX_NESTING)))
        _raised[0] += 1
        old_size = threading.stack_size(_STACK_BYTES)
        try:
            worker = threading.Thread(target=body, name="uhopc-deep", daemon=True)
            worker.start()
        except BaseException:
            _raised[0] -= 1
            if _raised[0] == 0:
                sys.setrecursionlimit(_saved_limit[0])
            raise
        finally:
            threading.stack_size(old_size)
    try:
        worker.join()
    finally:
        with _limit_lock:
            _raised[0] -= 1
            if _raised[0] == 0:
                sys.setrecursionlimit(_saved_limit[0])
    if "error" in box:
        raise box["error"]
    return box["value"]


def deep(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a recursive pass: run it here, and again on a big stack if this stack is too small.

    The passes it wraps are pure (they build new values), so running one again is safe;
    ordinary programs never pay for the helper thread."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_local, "deep", False):
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            return in_big_stack(fn, *args, **kwargs)
    return wrapper
