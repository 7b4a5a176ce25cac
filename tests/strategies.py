"""Hypothesis strategies for random *valid* UIR programs with random shapes.

Programs are built so that they check and bind by construction: every access
indexes with variables whose ranges match the tensor's dims, shifted accesses
sit under a select that guards them, divisions are by values kept away from 0.
"""
from __future__ import annotations

from hypothesis import strategies as st

SYMS = ("N", "M", "K")


@st.composite
def programs(draw, max_depth: int = 3):
    nsyms = draw(st.integers(1, 3))
    syms = SYMS[:nsyms]
    inputs = []
    for t in range(draw(st.integers(1, 3))):
        rank = draw(st.integers(1, 2))
        dims = tuple(draw(st.sampled_from(syms)) for _ in range(rank))
        inputs.append((f"X{t}", dims))
    has_scalar = draw(st.booleans())
    out_rank = draw(st.integers(0, 2))
    out_dims = tuple(draw(st.sampled_from(syms)) for _ in range(out_rank))
    lhs_vars = ["i", "j"][:out_rank]
    sig_syms = sorted({d for _, dims in inputs for d in dims} | set(out_dims))
    counter = [0]

    def fresh():
        counter[0] += 1
        return f"r{counter[0]}"

    def access(env):
        """An access of a random input; dims without a matching variable are reduced over.

        Returns (text, reductions to wrap around it). Sometimes one index is shifted by one
        and the access is guarded by a select."""
        name, dims = draw(st.sampled_from(inputs))
        idx, reds, shift = [], [], None
        for d in dims:
            choices = [v for v, s in env if s == d]
            if choices and draw(st.integers(0, 3)) > 0:
                v = draw(st.sampled_from(choices))
                if shift is None and draw(st.integers(0, 4)) == 0:
                    shift = (v, d)
                    idx.append(f"{v} + 1")
                else:
                    idx.append(v)
            else:
                r = fresh()
                reds.append((r, d))
                idx.append(r)
        text = f"{name}[{', '.join(idx)}]"
        if shift is not None:
            v, d = shift
            text = f"select({v} + 1 < {d}, {text}, {draw(st.sampled_from(['0.0', '1.5']))})"
        return text, reds

    def point(env, depth):
        kind = draw(st.integers(0, 9 if depth < max_depth else 2))
        if kind == 0:
            return draw(st.sampled_from(["1.0", "0.5", "2", "3.25"]))
        if kind == 1 and has_scalar:
            return "a"
        if kind <= 2:
            text, reds = access(env)
            for r, d in reversed(reds):
                op = draw(st.sampled_from(["sum", "max", "min"]))
                text = f"({op}({r}) {text})"
            return text
        if kind == 3:
            fn = draw(st.sampled_from(["exp", "tanh", "sigmoid", "relu", "abs", "sqrt", "log"]))
            x = point(env, depth + 1)
            if fn == "exp":
                return f"exp(tanh({x}))"
            if fn in ("sqrt", "log"):
                return f"{fn}(abs({x}) + 1.0)"
            return f"{fn}({x})"
        if kind in (4, 5, 6):
            op = draw(st.sampled_from(["+", "-", "*", "/"]))
            a, b = point(env, depth + 1), point(env, depth + 1)
            if op == "/":
                return f"({a} / (abs({b}) + 1.0))"
            return f"({a} {op} {b})"
        if kind == 7:
            fn = draw(st.sampled_from(["min", "max"]))
            return f"{fn}({point(env, depth + 1)}, {point(env, depth + 1)})"
        if kind == 8:
            cmp = draw(st.sampled_from(["<", ">", "<=", ">="]))
            # the offset keeps operands that are equal up to rounding (s vs (s - a) + a) away from a tie,
            # where float32 and the float64 reference may take different branches
            return f"select({point(env, depth + 1)} {cmp} {point(env, depth + 1)} + 0.37, " \
                   f"{point(env, depth + 1)}, {point(env, depth + 1)})"
        # a reduction over a fresh variable with a random range
        r, d = fresh(), draw(st.sampled_from(sig_syms))
        op = draw(st.sampled_from(["sum", "max"]))
        return f"({op}({r} in 0..{d}) {point(env + [(r, d)], depth + 1)})"

    env = list(zip(lhs_vars, out_dims))
    stmts = []
    use_temp = out_rank >= 1 and draw(st.booleans())
    if use_temp:
        # a temporary over the first output dim, read back in the output statement
        tv = [("t0", out_dims[0])]
        body = point(tv, 1)
        # the temporary's index must be used bare at least once for its range
        first = next((n for n, dims in inputs if dims and dims[0] == out_dims[0] and len(dims) == 1), None)
        anchor = f"{first}[t0]" if first else None
        if anchor is None:
            use_temp = False
        else:
            stmts.append(f"T[t0] = {anchor} + {body}")
    value = point(env, 0)
    if use_temp:
        value = f"T[{lhs_vars[0]}] * 0.5 + {value}"
    lhs = "Y" + (f"[{', '.join(lhs_vars)}]" if lhs_vars else "")
    stmts.append(f"{lhs} = {value}")
    params = [f"{n}: f32[{', '.join(d)}]" for n, d in inputs]
    if has_scalar:
        params.append("a: f32")
    text = (f"kernel rand({', '.join(params)}) -> (Y: f32[{', '.join(out_dims)}]) {{\n"
            + "".join(f"    {s}\n" for s in stmts) + "}\n")
    used = sorted({d for _, dims in inputs for d in dims} | set(out_dims) |
                  {s for s in syms if f"0..{s}" in text})
    sizes = {s: draw(st.integers(1, 9)) for s in used}
    return text, sizes
