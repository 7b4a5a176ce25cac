"""Printer/parser round trips and parser robustness (hypothesis)."""
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhop_cc import ir
from uhop_cc.ir import nodes as N
from uhop_cc.ir import printer
from uhop_cc.ir.parser import parse

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.uir"))

NAMES = st.sampled_from(["i", "j", "k", "x", "y", "N", "M", "a", "b2", "A", "X", "W_t"])
FUNCS = st.sampled_from(["exp", "log", "max", "min", "select", "f32", "i32", "pow", "relu", "abs"])
REDS = st.sampled_from(["sum", "max", "min", "prod"])
BINOPS = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"])

consts = st.one_of(
    st.integers(0, 10**6).map(lambda v: N.Const(v, False)),
    st.floats(0, 1e20, allow_nan=False, allow_infinity=False).map(lambda v: N.Const(v, True)),
)


def _exprs():
    leaves = st.one_of(consts, NAMES.map(N.Name))

    def extend(inner):
        rvar = st.builds(N.RVar, NAMES, st.none(), st.none()) | st.builds(
            lambda n, lo, hi: N.RVar(n, lo, hi), NAMES, inner, inner)
        return st.one_of(
            st.builds(N.Access, NAMES, st.lists(inner, max_size=3).map(tuple)),
            st.builds(N.Unary, st.sampled_from(["-", "not"]), inner),
            st.builds(N.Binary, BINOPS, inner, inner),
            st.builds(N.Call, FUNCS, st.lists(inner, min_size=0, max_size=3).map(tuple)),
            st.builds(N.Reduce, REDS, st.lists(rvar, min_size=1, max_size=3).map(tuple), inner),
        )
    return st.recursive(leaves, extend, max_leaves=12)


EXPRS = _exprs()
PARAMS = st.builds(N.Param, NAMES, st.sampled_from(["f32", "f16", "f64", "i32"]),
                   st.none() | st.lists(EXPRS, max_size=3).map(tuple))
STMTS = st.builds(N.Stmt, NAMES, st.lists(NAMES, max_size=3).map(tuple), EXPRS)
KERNELS = st.builds(N.Kernel, NAMES, st.lists(PARAMS, max_size=3).map(tuple),
                    st.lists(PARAMS, min_size=1, max_size=2).map(tuple), st.lists(STMTS, max_size=4).map(tuple))
PROGRAMS = st.lists(KERNELS, min_size=1, max_size=3).map(lambda ks: N.Program(tuple(ks)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS)
def test_expression_round_trip(e):
    text = f"kernel k(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = {printer.expr(e)}\n}}\n"
    assert parse(text).kernels[0].body[0].value == e


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_program_round_trip(p):
    text = printer.program(p)
    back = parse(text)
    assert back == p
    assert printer.program(back) == text  # the canonical form is a fixed point


def test_examples_round_trip_and_typed_tree_reparses():
    assert len(EXAMPLES) >= 7
    for path in EXAMPLES:
        text = path.read_text()
        p = parse(text, str(path))
        assert parse(printer.program(p)) == p
        # the typed tree (explicit ranges and casts) prints to a program that checks to the same tree
        for k in ir.load(text, str(path)):
            again = ir.load(printer.kernel(k.kernel))[0]
            assert again.kernel == k.kernel
            assert again.tensors == k.tensors


def test_precedence_and_reduction_scope():
    k = parse("kernel f(X: f32[N]) -> (Y: f32[N]) {\n Y[i] = b[o] + sum(i) X[n, i] * W[o, i]\n}").kernels[0]
    v = k.body[0].value
    assert isinstance(v, N.Binary) and v.op == "+" and isinstance(v.rhs, N.Reduce)
    assert isinstance(v.rhs.body, N.Binary) and v.rhs.body.op == "*"
    # a parenthesis ends the body
    v = parse("kernel f(X: f32[N]) -> (Y: f32[N]) {\n Y[i] = (sum(k) X[k]) + 1\n}").kernels[0].body[0].value
    assert v.op == "+" and isinstance(v.lhs, N.Reduce)
    # max(a, b) followed by a minus is a call, not a reduction
    v = parse("kernel f(X: f32[N]) -> (Y: f32[N]) {\n Y[i] = max(X[i], 0) - 1\n}").kernels[0].body[0].value
    assert v.op == "-" and isinstance(v.lhs, N.Call)


def test_statement_separators_and_continuations():
    text = ("# leading comment\n\nkernel f(X: f32[N]) -> (Y: f32[N], Z: f32[N])\n{\n"
            "  Y[i] = (X[i]  # comment inside parens\n     + 1.0); Z[i] = X[\n i]\n\n}\n")
    k = parse(text).kernels[0]
    assert [s.target for s in k.body] == ["Y", "Z"]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data):
    res = ir.check_source(data, "fuzz.uir")
    if not res.ok:
        d = res.diagnostics[0]
        assert d.message and d.format().startswith("fuzz.uir")


TOKENS = ["kernel", "f", "(", ")", "[", "]", "X", ":", "f32", "->", "{", "}", "\n", "=", "sum", "max", "in",
          "..", "0", "1.5", ",", "+", "-", "*", "/", "i", "N", ";", "select", "<", "and", "not", "#c\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_soup_gives_located_errors(tokens):
    text = "kernel f(X: f32[N]) -> (Y: f32[N]) {\n Y[i] = " + " ".join(tokens) + "\n}\n"
    res = ir.check_source(text, "soup.uir")
    if not res.ok:
        d = res.diagnostics[0]
        assert d.loc.line >= 1 and d.loc.col >= 1, d.format()
