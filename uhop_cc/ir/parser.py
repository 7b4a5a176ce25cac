"""UIR text -> syntax tree (`nodes.Program`), with friendly syntax errors."""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Iterator, Optional, Union

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.lark import PostLex

from . import nodes as N
from .errors import SourceText, UirError
from .limits import MAX_DEPTH, MAX_FILE_BYTES, deep, nesting_violation

REDUCTIONS = ("sum", "max", "min", "prod")


def grammar_text() -> str:
    # A source tree (editable install) wins over the copy installed into the package.
    in_tree = Path(__file__).resolve().parents[2] / "grammar" / "uir.lark"
    if in_tree.is_file():
        return in_tree.read_text(encoding="utf-8")
    return resources.files("uhop_cc").joinpath("grammar/uir.lark").read_text(encoding="utf-8")


class _ParenNewlines(PostLex):
    """Drops newlines inside ( ) and [ ] so expressions may span lines there."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(depth - 1, 0)
            elif tok.type == "_NL" and depth:
                continue
            yield tok


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", postlex=_ParenNewlines(),
                propagate_positions=True, maybe_placeholders=True)


def _loc(meta) -> N.Loc:
    if getattr(meta, "empty", False):
        return N.NOLOC
    return N.Loc(meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_loc(t: Token) -> N.Loc:
    return N.Loc(t.line, t.column, t.end_line or t.line, t.end_column or t.column + len(t))


class _Syntax(Exception):
    """A rule the grammar cannot express, found while building the tree."""

    def __init__(self, message: str, loc: N.Loc, note: str = None):
        super().__init__(message)
        self.loc, self.note = loc, note


@v_args(meta=True)
class _ToIR(Transformer):
    def start(self, meta, kernels):
        return tuple(kernels)

    def kernel(self, meta, ch):
        name, inputs, outputs, *stmts = ch
        return N.Kernel(str(name), tuple(inputs or ()), tuple(outputs), tuple(stmts), _loc(meta))

    def params(self, meta, ps):
        return tuple(ps)

    def param(self, meta, ch):
        name, dtype, shape = ch
        return N.Param(str(name), str(dtype), shape, _loc(meta))

    def shape(self, meta, dims):
        return tuple(d for d in dims if d is not None)

    def stmt(self, meta, ch):
        (target, idx, idx_locs), value = ch
        return N.Stmt(target, idx, value, _loc(meta), idx_locs)

    def lhs(self, meta, ch):
        name, shape = ch
        shape = shape or ()
        names, locs = [], []
        for e in shape:
            if not isinstance(e, N.Name):
                raise _Syntax("the left-hand side takes index variables only, one per dimension",
                              e.loc, "write T[i, j] = ...; shift or scale indices on the right-hand side")
            names.append(e.name)
            locs.append(e.loc)
        return (str(name), tuple(names), tuple(locs))

    # expressions
    def int_lit(self, meta, ch):
        return N.Const(int(ch[0]), False, _tok_loc(ch[0]))

    def float_lit(self, meta, ch):
        return N.Const(float(ch[0]), True, _tok_loc(ch[0]))

    def name(self, meta, ch):
        return N.Name(str(ch[0]), _tok_loc(ch[0]))

    def access(self, meta, ch):
        return N.Access(str(ch[0]), ch[1], _loc(meta))

    def unop(self, meta, ch):
        op, x = ch
        return N.Unary(str(op), x, _loc(meta))

    def binop(self, meta, ch):
        a, op, b = ch
        return N.Binary(str(op), a, b, _loc(meta))

    def items(self, meta, ch):
        return tuple(c for c in ch if c is not None)

    def ranged(self, meta, ch):
        name, lo, hi = ch
        return N.RVar(str(name), lo, hi, _loc(meta))

    def call(self, meta, ch):
        fn, args = ch
        for a in args:
            if isinstance(a, N.RVar):
                raise _Syntax(f"`{a.name} in ..` ranges belong to reductions, not to a call of `{fn}`", a.loc,
                              "a reduction needs a body after its variables: sum(k in 0..K) X[k]")
        return N.Call(str(fn), args, _loc(meta))

    def reduction(self, meta, ch):
        fn, items, body = ch
        op = str(fn)
        if op not in REDUCTIONS:
            raise _Syntax(f"`{op}(...)` is followed by an expression, but `{op}` is not a reduction",
                          _tok_loc(fn), "reductions are sum, max, min and prod; did you forget an operator?")
        if not items:
            raise _Syntax(f"reduction `{op}` needs at least one variable", _tok_loc(fn))
        rvars = []
        for it in items:
            if isinstance(it, N.RVar):
                rvars.append(it)
            elif isinstance(it, N.Name):
                rvars.append(N.RVar(it.name, None, None, it.loc))
            else:
                raise _Syntax(f"reduction `{op}` takes variable names (`k` or `k in 0..K`), not expressions",
                              it.loc)
        return N.Reduce(op, tuple(rvars), body, _loc(meta))


# Human names for grammar terminals in "expected ..." lists.
_TERMINAL_NAMES = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "_NL": "a new line",
    "CMPOP": "a comparison", "MULOP": "'*', '/' or '%'", "PLUS": "'+'", "MINUS": "'-'",
    "OR": "'or'", "AND": "'and'", "NOT": "'not'", "$END": "end of file",
}


def _expected_text(parser: Lark, expected) -> str:
    by_name = {t.name: t for t in parser.terminals}
    words = set()
    for name in expected:
        if name in _TERMINAL_NAMES:
            words.add(_TERMINAL_NAMES[name])
        elif name in by_name and by_name[name].pattern.type == "str":
            words.add(repr(by_name[name].pattern.value))
        else:
            words.add(name.lower())
    return ", ".join(sorted(words))


def _token_text(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    return f"'{tok}'"


def _syntax_error(src: SourceText, parser: Lark, err: UnexpectedInput) -> UirError:
    loc = N.Loc(getattr(err, "line", 0) or 0, getattr(err, "column", 0) or 0)
    if isinstance(err, UnexpectedCharacters):
        ch = src.text[err.pos_in_stream] if err.pos_in_stream < len(src.text) else "?"
        hint = None
        if ch == ".":
            hint = "numbers need digits on both sides of the point (1.0, not 1.)"
        return src.error(f"unexpected character {ch!r}", loc, hint)
    if isinstance(err, UnexpectedEOF):
        last = len(src.lines) or 1
        return src.error(f"unexpected end of file; expected {_expected_text(parser, err.expected)}",
                         N.Loc(last, len(src.line(last) or "") + 1))
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            last = len(src.lines) or 1
            loc = N.Loc(last, len(src.line(last) or "") + 1)
        hint = None
        if tok.type == "$END" and "RBRACE" in err.expected:
            hint = "a kernel body is closed by '}'"
        expected = getattr(err, "accepts", None) or err.expected
        return src.error(f"unexpected {_token_text(tok)}; expected {_expected_text(parser, expected)}",
                         loc, hint)
    return src.error(str(err).splitlines()[0], loc)


def decode(data: Union[bytes, str], filename: str = "<input>") -> str:
    """Bytes -> text, with a located error for undecodable bytes."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise SourceText("", filename).error(
            f"the file is not valid UTF-8 text: byte 0x{data[e.start]:02x} cannot be decoded",
            N.Loc(line, col)) from None


def _size_error(size: int, filename: str) -> UirError:
    return SourceText("", filename).error(
        f"the file is {size / 2**20:.2f} MB ({size} bytes); UIR files are limited to "
        f"{MAX_FILE_BYTES // 2**20} MB", note="split it into several files, one or a few kernels each")


def read_source(path: Union[str, Path]) -> bytes:
    """The bytes of a UIR file, refusing (without reading it all) a file over MAX_FILE_BYTES."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                size = path.stat().st_size if path.is_file() else len(data)
                raise _size_error(max(size, len(data)), str(path))
    except OSError as e:
        raise SourceText("", str(path)).error(f"cannot read file: {e.strerror}") from None
    return data


def _deepest(tree: Tree, limit: int) -> Optional[N.Loc]:
    """Where the parse tree first goes past `limit` levels, or None (iterative: it may be too deep to recurse)."""
    stack = [(tree, 0)]
    deepest = (-1, N.NOLOC)
    while stack:
        node, depth = stack.pop()
        if depth > deepest[0] and not getattr(node.meta, "empty", True):
            deepest = (depth, _loc(node.meta))
            if limit and depth > limit:
                return deepest[1]
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return None if limit else deepest[1]


def _transform(tree: Tree):
    try:
        return _ToIR().transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, RecursionError):
            raise err.orig_exc from None  # the stack ran out inside a callback: `deep` retries on a big one
        raise


def _check_nesting(kernels, src: SourceText) -> None:
    """Refuse over-deep expressions here, before any recursive pass sees them."""
    for k in kernels:
        exprs = [d for p in k.inputs + k.outputs for d in (p.shape or ())] + [s.value for s in k.body]
        for e in exprs:
            message, loc = nesting_violation(e)
            if message:
                raise src.error(message, loc, "split the expression with temporaries (T[i] = ...), "
                                              "or write a long sum as a flat chain a + b + c")


def parse(text: Union[str, bytes], filename: str = "<input>") -> N.Program:
    """Parse UIR source into a syntax tree. Raises UirError with located diagnostics."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise _size_error(size, filename)
    text = decode(text, filename)
    src = SourceText(text, filename)
    if "\x00" in text:
        i = text.index("\x00")
        line = text.count("\n", 0, i) + 1
        raise src.error("the file contains a NUL byte; UIR files are text",
                        N.Loc(line, i - (text.rfind("\n", 0, i) + 1) + 1))
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(src, parser, err) from None
    too_deep = _deepest(tree, 2 * MAX_DEPTH)  # the transform slows down sharply past that depth
    if too_deep is not None:
        raise src.error(f"expression nested too deeply: more than {2 * MAX_DEPTH} levels", too_deep)
    try:
        # The transform recurses: a flat chain `a + b + ...` of N operands is a tree N levels deep.
        kernels = deep(_transform)(tree)
    except RecursionError:
        raise src.error("expression nested too deeply", _deepest(tree, 0) or N.NOLOC) from None
    except VisitError as err:
        inner = err.orig_exc
        if isinstance(inner, _Syntax):
            raise src.error(str(inner), inner.loc, inner.note) from None
        raise
    _check_nesting(kernels, src)
    if not kernels:
        raise src.error("empty file: no kernel found", N.Loc(1, 1),
                        "a file holds one or more `kernel name(...) -> (...) { ... }` definitions")
    return N.Program(tuple(kernels), filename)


def parse_file(path: Union[str, Path]) -> N.Program:
    return parse(read_source(path), str(path))
