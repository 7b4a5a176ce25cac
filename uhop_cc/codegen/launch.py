"""`// @launch` annotations: launch geometry declared inside kernel source.

    // @launch global=(roundup(N, 16), roundup(M, 16)) local=(16, 16)
    __kernel void matmul(...)

Each annotation applies to the next kernel function in the source; stages run
in source order. Expressions are integers over size symbols with + - * /
(floor division), parentheses, cdiv(a, b) and roundup(a, b). They are parsed
by a small recursive-descent parser and evaluated on integers: never `eval`.
CUDA sources use `grid=(...) block=(...) [smem=BYTES]` instead of global/local;
`global` is then derived as grid * block.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple, Union

_ANNOT = re.compile(r"^[ \t]*//[ \t]*@launch\b(?P<body>[^\n]*)$", re.M)
# A kernel definition in any C-style dialect: OpenCL's `__kernel void f(` (or `kernel`, with an
# optional attribute) and CUDA's `__global__ void f(`. One pattern serves both: neither spelling
# can appear in the other dialect's source (`__global` pointers are not `__global__`).
_KERNEL = re.compile(r"(?:(?:__kernel|\bkernel)\s+(?:__attribute__\s*\(\(.*?\)\)\s*)?"
                     r"|__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?)void\s+([A-Za-z_]\w*)\s*\(", re.S)
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(.))")


class LaunchError(ValueError):
    """A missing or malformed @launch annotation."""


# ------------------------------------------------------------------ expressions
Node = Union[int, str, Tuple]


class _ExprParser:
    def __init__(self, text: str):
        self.text = text
        self.toks: List[Tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            if m.group(1):
                self.toks.append(("int", m.group(1)))
            elif m.group(2):
                self.toks.append(("name", m.group(2)))
            elif m.group(3) and not m.group(3).isspace():
                self.toks.append(("op", m.group(3)))
        self.i = 0

    def peek(self) -> Optional[Tuple[str, str]]:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: Optional[str] = None) -> Tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            want = f"'{value}'" if value else "an expression"
            raise LaunchError(f"in `{self.text.strip()}`: expected {want}, got {tok[1] if tok else 'the end'}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.sum()
        if self.peek() is not None:
            raise LaunchError(f"in `{self.text.strip()}`: unexpected `{self.peek()[1]}`")
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.peek() and self.peek()[1] in "+-":
            op = self.take()[1]
            node = (op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.atom()
        while self.peek() and self.peek()[1] in "*/":
            op = self.take()[1]
            node = (op, node, self.atom())
        return node

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "int":
            return int(value)
        if kind == "name":
            if self.peek() and self.peek()[1] == "(":
                if value not in ("cdiv", "roundup"):
                    raise LaunchError(f"unknown function `{value}` in @launch (use cdiv or roundup)")
                self.take("(")
                a = self.sum()
                self.take(",")
                b = self.sum()
                self.take(")")
                return (value, a, b)
            return value
        if value == "(":
            node = self.sum()
            self.take(")")
            return node
        if value == "-":
            return ("-", 0, self.atom())
        raise LaunchError(f"in `{self.text.strip()}`: unexpected `{value}`")


def evaluate(node: Node, sizes: Mapping[str, int]) -> int:
    if isinstance(node, int):
        return node
    if isinstance(node, str):
        if node not in sizes:
            raise LaunchError(f"@launch uses `{node}`, which is not a size symbol")
        return int(sizes[node])
    op, a, b = node
    x, y = evaluate(a, sizes), evaluate(b, sizes)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        raise LaunchError("division by zero in @launch")
    if op == "/":
        return x // y
    if op == "cdiv":
        return -(-x // y)
    return -(-x // y) * y  # roundup


def _split_top(text: str) -> List[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _tuple(text: str) -> Tuple[Node, ...]:
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return (_ExprParser(text).parse(),)
    items = _split_top(text[1:-1])
    if not 1 <= len(items) <= 3:
        raise LaunchError(f"`{text}`: launch dimensions take 1 to 3 values")
    return tuple(_ExprParser(t).parse() for t in items)


def _fields(body: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    i, n = 0, len(body)
    while i < n:
        m = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*").match(body, i)
        if not m:
            if body[i:].strip():
                raise LaunchError(f"cannot read `{body.strip()}`: expected key=value fields")
            break
        key, i = m.group(1), m.end()
        if i < n and body[i] == "(":
            depth, j = 0, i
            while j < n:
                depth += body[j] == "("
                depth -= body[j] == ")"
                j += 1
                if depth == 0:
                    break
            if depth:
                raise LaunchError(f"unbalanced parentheses in `{body.strip()}`")
            out[key], i = body[i:j], j
        else:
            m2 = re.compile(r"[^\s]+").match(body, i)
            out[key], i = m2.group(0), m2.end()
    return out


# ------------------------------------------------------------------ stages
@dataclass(frozen=True)
class LaunchGeometry:
    global_size: Tuple[int, ...]
    local_size: Optional[Tuple[int, ...]]
    shared_bytes: int = 0

    @property
    def work_items(self) -> int:
        n = 1
        for g in self.global_size:
            n *= g
        return n

    def to_json(self) -> dict:
        return {"global": list(self.global_size),
                "local": list(self.local_size) if self.local_size else None, "shared_bytes": self.shared_bytes}


@dataclass(frozen=True)
class Stage:
    kernel_name: str
    annotation: str
    global_expr: Tuple[Node, ...]
    local_expr: Optional[Tuple[Node, ...]]
    shared_expr: Optional[Node] = None
    grid_style: bool = False  # CUDA: global_expr holds the grid, not the total work items

    def geometry(self, sizes: Mapping[str, int]) -> LaunchGeometry:
        glob = tuple(evaluate(e, sizes) for e in self.global_expr)
        loc = tuple(evaluate(e, sizes) for e in self.local_expr) if self.local_expr else None
        if any(g < 0 for g in glob) or (loc and any(v <= 0 for v in loc)):
            raise LaunchError(f"{self.kernel_name}: negative or empty launch size {glob} / {loc}")
        if self.grid_style:
            loc = loc or (1,) * len(glob)
            glob = tuple(g * l for g, l in zip(glob, loc))
        elif loc is not None:
            if len(loc) != len(glob):
                raise LaunchError(f"{self.kernel_name}: global has {len(glob)} dims but local has {len(loc)}")
            bad = [(g, v) for g, v in zip(glob, loc) if g % v]
            if bad:
                raise LaunchError(f"{self.kernel_name}: global size {glob} is not a multiple of local size {loc}")
        shared = evaluate(self.shared_expr, sizes) if self.shared_expr is not None else 0
        return LaunchGeometry(glob, loc, shared)


def parse_annotation(line: str, kernel_name: str = "?") -> Stage:
    body = _ANNOT.match(line)
    body = body.group("body") if body else line
    f = _fields(body)
    unknown = set(f) - {"global", "local", "grid", "block", "smem"}
    if unknown:
        raise LaunchError(f"unknown @launch field(s): {', '.join(sorted(unknown))}")
    if "grid" in f:
        if "block" not in f:
            raise LaunchError("@launch grid=(...) needs block=(...)")
        return Stage(kernel_name, line.strip(), _tuple(f["grid"]), _tuple(f["block"]),
                     _ExprParser(f["smem"]).parse() if "smem" in f else None, grid_style=True)
    if "global" not in f:
        raise LaunchError("@launch needs global=(...) (or grid=(...) block=(...) for CUDA)")
    local = None if f.get("local", "auto").strip() in ("auto", "null", "none") else _tuple(f["local"])
    return Stage(kernel_name, line.strip(), _tuple(f["global"]), local)


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def _blank_comments(source: str) -> str:
    """`source` with every comment replaced by spaces (newlines kept, so offsets stay): a kernel
    spelled in a comment (`// a kernel void f(` in CUDA, `/* __global__ void g( */`) is no stage."""
    return _COMMENTS.sub(lambda m: "".join(c if c == "\n" else " " for c in m.group(0)), source)


def parse_launch(source: str) -> Tuple[Stage, ...]:
    """Every kernel function (of any C-style dialect) with the @launch annotation above it, in source order."""
    kernels = [(m.start(), m.group(1)) for m in _KERNEL.finditer(_blank_comments(source))]
    annots = [(m.start(), m.group(0)) for m in _ANNOT.finditer(source)]
    if not kernels:
        raise LaunchError("no kernel function found in the source")
    if not annots:
        raise LaunchError("no `// @launch global=(...) local=(...)` annotation found")
    stages, used = [], set()
    for pos, name in kernels:
        before = [a for a in annots if a[0] < pos and a[0] not in used]
        if not before:
            raise LaunchError(f"kernel `{name}` has no @launch annotation above it")
        apos, text = before[-1]
        used.update(a[0] for a in before)
        stages.append(parse_annotation(text, name))
    return tuple(stages)
