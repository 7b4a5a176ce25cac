"""See what the compiler sees: expand an untrusted kernel source before analysing it.

Macros, line continuations, trigraphs and digraphs can hide recursion (`#define CALL f`),
`while(1)`, a redefined `barrier` or `goto` from a text-level analyzer. Untrusted sources are
therefore checked in three steps:

1. the raw text: bidirectional and other invisible format characters (Trojan Source) are
   errors anywhere, comments included; `#define`/`#undef` of a built-in function, keyword or
   type (`barrier`, `get_global_id`, `__syncthreads`, `for`, `float`, ...) is an error;
   conditional compilation may only test macros the source defines or the dialect's standard
   ones (so no branch is chosen differently by the real compiler than here);
2. the C preprocessor (GNU cpp, `-undef -nostdinc -trigraphs`, the dialect's predefined
   macros) in a child process under memory, CPU and output-size limits (a macro bomb is an
   error, not a dead machine); `// @launch` lines survive as `#pragma uhop_launch`;
3. the expanded text goes to the analyzer; a function *defined* with a built-in's name in it
   is an error too, and so are reads of memory nobody wrote (uninit.py) and read-modify-writes
   of one global element by every work-item (races.py).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple

from .. import targets
from ..targets.dialect import KEYWORDS, PLAIN_C, Dialect

__all__ = ["Expanded", "expand", "invisible_chars", "redefinitions", "dialect_of", "MAX_EXPANDED_BYTES"]

MAX_EXPANDED_BYTES = 2 << 20
_TIMEOUT_S = 20

_ALWAYS_KNOWN = {"defined", "__LINE__", "__FILE__", "__STDC__", "__STDC_VERSION__"}
# allowed SDK headers (checks.precheck vetted them): removed before expansion, their names stay unknown
_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*<[^>\n]*>[ \t]*$", re.M)
_LAUNCH = re.compile(r"^([ \t]*)//[ \t]*@launch\b(.*)$", re.M)
_PRAGMA_LAUNCH = re.compile(r"^([ \t]*)#[ \t]*pragma[ \t]+uhop_launch\b(.*)$", re.M)
_DIRECTIVE = re.compile(r"^[ \t]*(?:#|%:)[ \t]*(define|undef|if|ifdef|ifndef|elif)\b(.*)$", re.M)
_IDENT = re.compile(r"[A-Za-z_]\w*")


def dialect_of(target: str) -> Dialect:
    """The target's dialect tables (targets/<name>/dialect.py); plain C for a target without one."""
    return targets.get(target).dialect or PLAIN_C


@dataclass
class Expanded:
    ok: bool
    text: str  # the expanded source ('' when not ok)
    findings: List[Tuple[str, str, int, int]] = field(default_factory=list)  # (code, message, line, col)
    tool: str = ""


def invisible_chars(source: str) -> List[Tuple[str, str, int, int]]:
    """Bidi controls and other invisible format characters (Unicode category Cf, line/paragraph
    separators), anywhere in the text: each is an error."""
    out = []
    line, col0 = 1, 0
    for pos, ch in enumerate(source):
        if ch == "\n":
            line, col0 = line + 1, pos + 1
            continue
        if ord(ch) < 128:
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Zl", "Zp", "Co", "Cn") or ch == "\u00ad":
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            out.append(("safety.invisible-char", f"invisible or bidirectional control character {name} "
                        f"(U+{ord(ch):04X}): it can make the code read differently from what it does", line,
                        pos - col0 + 1))
            if len(out) >= 20:
                break
    return out


def _logical(source: str) -> str:
    """Trigraphs replaced and line continuations spliced (what cpp does first: `#def\\<newline>ine`
    is `#define`); line numbers after a continuation shift by one."""
    tri = {"=": "#", "/": "\\", "'": "^", "(": "[", ")": "]", "!": "|", "<": "{", ">": "}", "-": "~"}
    text = re.sub(r"\?\?([=/'()!<>\-])", lambda m: tri[m.group(1)], source)
    return re.sub(r"\\[ \t]*\r?\n", "", text)


def redefinitions(source: str, target: str) -> List[Tuple[str, str, int, int]]:
    """`#define`/`#undef` of a built-in, and conditions on macros nobody defined."""
    text = _logical(source)
    dialect = dialect_of(target)
    builtins = dialect.reserved
    defined = {m.group(2).split("(")[0].strip().split()[0] for m in _DIRECTIVE.finditer(text)
               if m.group(1) == "define" and m.group(2).strip()}
    known = set(dialect.predefined) | defined | _ALWAYS_KNOWN
    out = []
    for m in _DIRECTIVE.finditer(text):
        kind, rest = m.group(1), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if kind in ("define", "undef"):
            name = (_IDENT.match(rest.strip()) or re.match("", "")).group(0)
            if name in builtins:
                out.append(("safety.redefine-builtin", f"`#{kind} {name}` changes a built-in or keyword: the "
                            "kernel would not mean what it reads", line, 1))
            continue
        rest = re.sub(r"//.*|/\*.*?\*/", " ", rest)
        for name in _IDENT.findall(rest):
            if name not in known and not name.isdigit():
                out.append(("safety.unknown-macro", f"`#{kind}` tests `{name}`, which the source does not define: "
                            "the real compiler could choose another branch than the analysed one", line, 1))
                break
    return out


def _limits():
    from ..verify.sandbox import Limits, apply_limits
    return lambda: apply_limits(Limits(1 << 30, _TIMEOUT_S, 64 << 20))


def expand(source: str, target: str) -> Expanded:
    """The source as the compiler will see it (see the module docstring); findings as tuples."""
    findings = invisible_chars(source) + redefinitions(source, target)
    cpp = shutil.which("cpp")
    if cpp is None:
        return Expanded(False, "", findings + [("safety.no-preprocessor", "no C preprocessor (cpp) to expand the "
                                                "source with: install g++", 0, 0)])
    text = _INCLUDE.sub("", _LAUNCH.sub(lambda m: f"{m.group(1)}#pragma uhop_launch{m.group(2)}", source))
    dialect = dialect_of(target)
    argv = [cpp, "-P", "-undef", "-nostdinc", "-trigraphs", *dialect.cpp_args]
    argv += [f"-D{k}={v}" for k, v in dialect.predefined.items()]
    with tempfile.TemporaryDirectory(prefix="uhop-cpp-") as d:
        src = Path(d) / dialect.file_name
        src.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            p = subprocess.Popen(argv + [str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 preexec_fn=_limits(), cwd=d)
        except OSError as e:
            return Expanded(False, "", findings + [("safety.preprocessor", f"cpp could not start: {e}", 0, 0)])
        out, err, why = _bounded_output(p)
    if why:
        return Expanded(False, "", findings + [("safety.macro-expansion", why, 0, 0)], "cpp")
    if p.returncode:
        msg = err.decode("utf-8", "replace").replace(str(src), src.name).strip().splitlines()
        return Expanded(False, "", findings + [("safety.preprocessor", "the preprocessor failed: "
                                                + (msg[0] if msg else f"exit {p.returncode}"), 0, 0)], "cpp")
    expanded = _PRAGMA_LAUNCH.sub(lambda m: f"{m.group(1)}// @launch{m.group(2)}", out.decode("utf-8", "replace"))
    findings += _builtin_definitions(expanded, target)
    from .races import global_races
    from .uninit import uninitialised
    findings += uninitialised(expanded) + global_races(expanded, target)
    return Expanded(not any(f for f in findings), expanded, findings, "cpp")


def _bounded_output(p: subprocess.Popen) -> Tuple[bytes, bytes, str]:
    """Read at most MAX_EXPANDED_BYTES of stdout within the time limit; kill the process beyond."""
    import selectors
    import time
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    sel.register(p.stderr, selectors.EVENT_READ)
    out, err, why = bytearray(), bytearray(), ""
    deadline = time.monotonic() + _TIMEOUT_S
    open_streams = 2
    while open_streams and not why:
        left = deadline - time.monotonic()
        if left <= 0:
            why = f"macro expansion did not finish in {_TIMEOUT_S} s"
            break
        for key, _ in sel.select(timeout=left):
            chunk = key.fileobj.read1(65536) if hasattr(key.fileobj, "read1") else key.fileobj.read(65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            (out if key.fileobj is p.stdout else err).extend(chunk)
            if len(out) > MAX_EXPANDED_BYTES:
                why = f"macro expansion produces more than {MAX_EXPANDED_BYTES >> 20} MiB (a macro bomb?)"
                break
    if why:
        p.kill()
    p.wait()
    if not why and p.returncode and p.returncode < 0:
        why = f"the preprocessor was stopped by signal {-p.returncode} (its memory or CPU limit)"
    return bytes(out), bytes(err), why


def _builtin_definitions(expanded: str, target: str) -> List[Tuple[str, str, int, int]]:
    """A function defined (not called) under a built-in's name: `void barrier(int f) { }`."""
    builtins = dialect_of(target).builtins - KEYWORDS
    out = []
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*\{", expanded):
        name = m.group(1)
        before = expanded[max(0, m.start() - 80):m.start()]
        if name in builtins and re.search(r"\b(?:void|int|float|double|half|uint|bool|size_t|\w+\s*\*?)\s*$", before):
            line = expanded.count("\n", 0, m.start()) + 1
            out.append(("safety.redefine-builtin", f"a function named `{name}` replaces a built-in", line, 1))
    return out
