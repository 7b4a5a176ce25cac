"""Every front-end rule: its message and its location."""
import pytest

from uhop_cc import ir

SIG = "kernel f(X: f32[N], a: f32) -> (Y: f32[N]) {\n"


def diag(text, shapes=None, kernel=None):
    res = ir.check_source(text, "t.uir")
    if res.ok and shapes is not None:
        try:
            ir.bind_shapes(ir.select_kernel(res.kernels, kernel), shapes)
        except ir.UirError as e:
            return e.first
        pytest.fail("expected a binding error")
    assert not res.ok, "expected an error"
    assert len(res.diagnostics) == 1
    return res.diagnostics[0]


CASES = [
    # (id, source, message fragment, line, col)
    ("syntax-expected", SIG + "  Y[i] = X[i] +\n}", "unexpected end of line; expected '(', '-', a name, a number", 2, 16),
    ("syntax-unclosed", SIG + "  Y[i] = X[i]\n", "unexpected end of file", 2, 14),
    ("syntax-char", SIG + "  Y[i] = X[i] $ 2\n}", "unexpected character '$'", 2, 15),
    ("syntax-float", SIG + "  Y[i] = 1.\n}", "unexpected character '.'", 2, 11),
    ("syntax-two-exprs", SIG + "  Y[i] = X[i] X[i]\n}", "unexpected 'X'", 2, 15),
    ("lhs-not-var", SIG + "  Y[i + 1] = X[i]\n}", "left-hand side takes index variables only", 2, 5),
    ("not-a-reduction", SIG + "  Y[i] = foo(k) X[k]\n}", "`foo` is not a reduction", 2, 10),
    ("reduction-needs-body", SIG + "  Y[i] = sum(k) -X[k]\n}", "`sum(...)` is a reduction and needs a body", 2, 10),
    ("unknown-function", SIG + "  Y[i] = softplus(X[i])\n}", "unknown function `softplus`", 2, 10),
    ("arity", SIG + "  Y[i] = pow(X[i])\n}", "`pow` takes 2 argument(s), got 1", 2, 10),
    ("undefined-tensor", SIG + "  Y[i] = Z[i]\n}", "undefined tensor `Z`", 2, 10),
    ("write-input", SIG + "  X[i] = 1.0\n  Y[i] = X[i]\n}", "write to input `X`", 2, 3),
    ("write-scalar", SIG + "  a = 1.0\n  Y[i] = X[i]\n}", "write to scalar parameter `a`", 2, 3),
    ("unbound-index", SIG + "  Y[i] = X[j]\n}", "index `j` is unbound", 2, 12),
    ("range-conflict",
     "kernel mm(A: f32[M, K], B: f32[J, N]) -> (C: f32[M, N]) {\n  C[i, j] = sum(k) A[i, k] * B[k, j]\n}",
     "range conflict for `k` between K (A dim 2) and J (B dim 1)", 2, 32),
    ("never-assigned", "kernel f(X: f32[N]) -> (Y: f32[N], Z: f32[N]) {\n  Y[i] = X[i]\n}",
     "output `Z` is never assigned", 1, 36),
    ("assigned-twice", SIG + "  Y[i] = X[i]\n  Y[i] = a\n}", "output `Y` is assigned twice", 3, 3),
    ("duplicate-param", "kernel f(X: f32[N], X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i]\n}",
     "duplicate parameter `X`", 1, 21),
    ("unknown-dtype", "kernel f(X: f8[N]) -> (Y: f32[N]) {\n  Y[i] = 1.0\n}", "unknown dtype `f8`", 1, 10),
    ("empty-file", "# nothing here\n\n", "empty file: no kernel found", 1, 1),
    ("nul-byte", "kernel\x00", "NUL byte", 1, 7),
    ("used-before-assigned", SIG + "  Y[i] = t[i]\n  t[i] = X[i]\n}", "`t` is used before it is assigned (line 3)", 2, 10),
    ("rank-mismatch", SIG + "  Y[i] = X[i, i]\n}", "`X` has 1 dimension(s) but is indexed with 2", 2, 10),
    ("lhs-rank", SIG + "  Y[i, j] = X[i]\n}", "`Y` has 1 dimension(s) but is assigned with 2", 2, 3),
    ("lhs-duplicate-index", "kernel f(X: f32[N, N]) -> (Y: f32[N, N]) {\n  Y[i, i] = X[i, i]\n}",
     "index `i` appears twice", 2, 8),
    ("type-mix", "kernel f(X: f32[N], Z: f64[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] + Z[i]\n}",
     "`+` mixes f32 and f64", 2, 10),
    ("float-into-int", "kernel f(X: i32[N]) -> (Y: i32[N]) {\n  Y[i] = X[i] * 0.5\n}",
     "`*` mixes a float with i32", 2, 10),
    ("assign-type", "kernel f(X: f64[N]) -> (Y: f32[N]) {\n  Y[i] = X[i]\n}",
     "assignment to `Y`: expected f32, got f64", 2, 10),
    ("bool-store", SIG + "  Y[i] = X[i] > 0.0\n}", "`Y` would hold a boolean", 2, 10),
    ("select-cond", SIG + "  Y[i] = select(X[i], 1.0, 0.0)\n}", "the condition of `select` needs a boolean", 2, 17),
    ("non-affine-index", "kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i * i]\n}",
     "multiplies two index expressions", 2, 12),
    ("indirect-index", "kernel f(X: f32[N], I: i32[N]) -> (Y: f32[N]) {\n  Y[i] = X[I[i]]\n}",
     "indirect indexing is not supported", 2, 12),
    ("float-index", SIG + "  Y[i] = X[1.5]\n}", "uses the float 1.5", 2, 12),
    ("shadow-size", SIG + "  Y[N] = X[N]\n}", "index variable `N` shadows the size symbol `N`", 2, 5),
    ("reduction-shadow", SIG + "  Y[i] = sum(i) X[i]\n}", "reduction variable `i` shadows an index variable", 2, 14),
    ("reduction-range", SIG + "  Y[i] = sum(k) a\n}", "cannot infer the range of reduction variable `k`", 2, 14),
    ("temp-range", SIG + "  t[j] = a\n  Y[i] = X[i]\n}", "cannot infer the range of index `j`", 2, 5),
    ("scalar-indexed", SIG + "  Y[i] = a[i]\n}", "`a` is a scalar, not a tensor", 2, 10),
    ("tensor-bare", SIG + "  Y[i] = X\n}", "tensor `X` needs 1 index(es)", 2, 10),
    ("scalar-output", "kernel f(X: f32[N]) -> (Y: f32) {\n  Y = 1.0\n}", "output `Y` must be a tensor", 1, 25),
    ("duplicate-kernel", SIG + "  Y[i] = X[i]\n}\n" + SIG + "  Y[i] = X[i]\n}", "duplicate kernel `f`", 4, 1),
    ("float-dim", "kernel f(X: f32[2.5]) -> (Y: f32[1]) {\n  Y[i] = 1.0\n}", "must be an integer", 1, 17),
    ("not-bool", SIG + "  Y[i] = select(not X[i], 1.0, 0.0)\n}", "`not` needs a boolean, got f32", 2, 21),
    ("exp-int", "kernel f(X: i32[N]) -> (Y: f32[N]) {\n  Y[i] = exp(X[i])\n}", "`exp` needs a float argument", 2, 10),
    ("output-read-early", "kernel f(X: f32[N]) -> (Y: f32[N], Z: f32[N]) {\n  Z[i] = Y[i]\n  Y[i] = X[i]\n}",
     "output `Y` is read before it is assigned (line 3)", 2, 10),
    ("range-bound-var", SIG + "  Y[i] = sum(k in 0..i) X[k]\n}", "the range of `k` uses `i`", 2, 22),
]


@pytest.mark.parametrize("text,message,line,col", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(text, message, line, col):
    d = diag(text)
    assert message in d.message, d.format()
    assert (d.loc.line, d.loc.col) == (line, col), d.format()
    formatted = d.format()
    assert formatted.startswith(f"t.uir:{line}:{col}: error: ")
    # the offending line is quoted with a caret under the column
    lines = formatted.splitlines()
    if line <= len(text.splitlines()):
        assert lines[1].strip() == text.splitlines()[line - 1].strip().replace("\x00", "\x00")
        assert lines[2].index("^") == 4 + col - 1


def test_undecodable_bytes():
    res = ir.check_source(b"kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] \xff\n}", "t.uir")
    assert not res.ok
    d = res.diagnostics[0]
    assert "not valid UTF-8" in d.message and "0xff" in d.message
    assert (d.loc.line, d.loc.col) == (2, 15)


def test_out_of_bounds_needs_shapes():
    text = "kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i + 1]\n}"
    d = diag(text, shapes="N=8")
    assert "access out of bounds: index 1 of `X` (`i + 1`) takes values 1..8, but the dimension is N = 8" in d.message
    assert (d.loc.line, d.loc.col) == (2, 10)


def test_out_of_bounds_reduction_range():
    text = "kernel f(X: f32[N]) -> (Y: f32[]) {\n  Y = sum(k in 0..N + 1) X[k]\n}"
    d = diag(text, shapes="N=4")
    assert "takes values 0..4" in d.message


def test_select_guards_access():
    text = "kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = select(i > 0, X[i - 1], 0.0)\n}"
    k = ir.load(text)[0]
    assert ir.bind_shapes(k, "N=5").shapes["Y"] == (5,)


def test_negative_dim():
    text = "kernel f(X: f32[N]) -> (Y: f32[N - 4]) {\n  Y[i] = X[i]\n}"
    d = diag(text, shapes="N=2")
    assert "`Y` dim 1 is N - 4 = -2, which is negative for N = 2" in d.message


@pytest.mark.parametrize("shapes,message", [
    ("M=4", "size(s) not bound: K, N"),
    ("Q=3", "`Q` is not a size symbol of kernel `mm` (sizes: M, K, N)"),
    ("4x8", "1 shape(s) given for 2 input tensor(s) (A, B)"),
    ("4x8,9x2", "input `B` dim 1 is K = 8, but the shape given says 9"),
    ("4x8x1,8x2", "input `A` has 2 dimension(s) [M, K], but the shape given has 3"),
    ("M=abc", "the size must be an integer"),
    ("4by8", "cannot read shape `4by8`"),
])
def test_shape_errors(shapes, message):
    k = ir.load("kernel mm(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) {\n C[i, j] = sum(k) A[i, k] * B[k, j]\n}")[0]
    with pytest.raises(ir.UirError) as e:
        ir.bind_shapes(k, shapes)
    assert message in e.value.first.message
    assert e.value.first.format().startswith("--shapes: error: ")


def test_positional_and_named_shapes_agree():
    k = ir.load("kernel mm(A: f32[M, K], B: f32[K, N]) -> (C: f32[M, N]) {\n C[i, j] = sum(k) A[i, k] * B[k, j]\n}")[0]
    a = ir.bind_shapes(k, "1024x512,512x2048")
    b = ir.bind_shapes(k, "M=1024,N=2048,K=512")
    assert a.sizes == b.sizes == {"M": 1024, "K": 512, "N": 2048}
    assert a.shapes["C"] == (1024, 2048)


def test_positional_shapes_solve_expressions():
    k = ir.load("kernel f(X: f32[N, N + 2]) -> (Y: f32[N]) {\n Y[i] = X[i, i + 2]\n}")[0]
    assert ir.bind_shapes(k, "3x5").sizes == {"N": 3}
    with pytest.raises(ir.UirError, match="N \\+ 2 = 5, but the shape given says 6"):
        ir.bind_shapes(k, "3x6")


def test_weak_types_and_casts():
    k = ir.load("kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] / N + i + 1\n}")[0]
    from uhop_cc.ir import printer
    # size symbols and index variables are converted explicitly in the typed tree
    assert printer.stmt(k.body[0]) == "Y[i] = X[i] / f32(N) + f32(i) + 1"
    assert k.body[0].value.dtype == "f32"


def test_integer_division_stays_integer():
    k = ir.load("kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] * (N / 2)\n}")[0]
    from uhop_cc.ir import printer
    assert printer.stmt(k.body[0]) == "Y[i] = X[i] * f32(N / 2)"


def test_index_division_needs_nonnegative_dividend():
    text = "kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = select(i > 0, X[(i - 1) / 2], 0.0)\n}"
    d = diag(text, shapes="N=6")
    assert "divides `i - 1`, which can be negative (-1)" in d.message


def test_and_guards_its_right_side():
    text = "kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = select(i > 0 and X[i - 1] > 0.0, 1.0, 0.0)\n}"
    assert ir.bind_shapes(ir.load(text)[0], "N=4").shapes["Y"] == (4,)


def test_reserved_kernel_name():
    d = diag("kernel mix(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i]\n}")
    assert "kernel name `mix` clashes with a C/OpenCL/CUDA keyword or built-in" in d.message
    assert (d.loc.line, d.loc.col) == (1, 1)
