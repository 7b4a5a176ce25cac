"""Checks of an emitted TT-Metal project that need no Tenstorrent hardware.

* `syntax_check(project_dir)`: `g++ -std=c++17 -fsyntax-only` of the host program and the three
  kernels against the bundled API declarations (sdk_decls/), each kernel with the defines the
  JIT build gives its processor (the compute kernel three times: UNPACK, MATH, PACK). Used only
  when TT_METAL_HOME is unset (with the SDK present, building the project is the check).
* `check_structure(kernels, host)`: the TT-Metal rules of the static analyzer, on the emitted
  sources: per circular buffer, reserve->push and wait->pop pairing and producer/consumer
  balance (symbolic in the loop bounds); a read/write barrier after async NoC reads/writes
  before the CB push/pop that publishes them; the tile-register protocol
  acquire -> commit -> wait -> release with math between acquire and commit and pack_tile
  between wait and release; each kernel's runtime-arg count (max `get_arg_val<uint32_t>(N)`
  index + 1) equal to the length of the host's SetRuntimeArgs vector for it; and as many
  TensorAccessorArgs in each dataflow kernel as the host appends to its compile-time args.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ["SYNTAX_FLAGS", "syntax_commands", "syntax_check", "SyntaxReport", "check_structure",
           "runtime_arg_count", "host_runtime_arg_counts", "DECLS_DIR"]

DECLS_DIR = Path(__file__).with_name("sdk_decls")
SYNTAX_FLAGS = ("-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Wno-missing-field-initializers")
_ARCH_DEFINE = {"wormhole_b0": "ARCH_WORMHOLE", "blackhole": "ARCH_BLACKHOLE"}


# ---------------------------------------------------------------- syntax check
def syntax_commands(project_dir, arch: str, host_file: str, decls: Optional[Path] = None,
                    cxx: str = "g++") -> List[Tuple[str, List[str]]]:
    """(label, argv) of every syntax-check compile, with paths relative to the project folder
    (run them there) unless `decls` is given as an absolute folder."""
    d = str(decls) if decls is not None else "sdk_decls"
    arch_def = f"-D{_ARCH_DEFINE[arch]}"
    host = [cxx, *SYNTAX_FLAGS, f"-I{d}/host", f"-I{d}/common", host_file]
    dev = [*SYNTAX_FLAGS, f"-I{d}/device", f"-I{d}/common", arch_def]
    cmds = [("host", host),
            ("reader", [cxx, *dev, "-DCOMPILE_FOR_NCRISC", "kernels/dataflow/reader.cpp"]),
            ("writer", [cxx, *dev, "-DCOMPILE_FOR_BRISC", "kernels/dataflow/writer.cpp"])]
    for stage in ("UNPACK", "MATH", "PACK"):
        cmds.append((f"compute[{stage.lower()}]", [cxx, *dev, "-DCOMPILE_FOR_TRISC", f"-DTRISC_{stage}",
                                                    "kernels/compute/compute.cpp"]))
    return cmds


@dataclass
class SyntaxReport:
    ok: bool
    skipped: Optional[str] = None  # why nothing ran
    results: List[Tuple[str, int, str]] = field(default_factory=list)  # (label, returncode, output)

    def failures(self) -> List[Tuple[str, int, str]]:
        return [r for r in self.results if r[1] != 0]

    def format(self) -> str:
        if self.skipped:
            return f"syntax check skipped: {self.skipped}"
        lines = [f"{label}: {'ok' if rc == 0 else f'FAILED ({rc})'}" + (f"\n{out}" if rc else "")
                 for label, rc, out in self.results]
        return "\n".join(lines)


def syntax_check(project_dir, *, arch: Optional[str] = None, host_file: Optional[str] = None, cxx: Optional[str] = None,
                 force: bool = False, extra_flags: Sequence[str] = ("-Werror",)) -> SyntaxReport:
    """Compile the project's host and kernels with -fsyntax-only against its sdk_decls/ folder."""
    root = Path(project_dir)
    if os.environ.get("TT_METAL_HOME") and not force:
        return SyntaxReport(True, skipped="TT_METAL_HOME is set: build the project against the SDK instead")
    cxx = cxx or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        return SyntaxReport(False, skipped="no C++ compiler (g++) found")
    if arch is None or host_file is None:
        import json
        plan = json.loads((root / "plan.json").read_text())
        arch = arch or plan["arch"]
        host_file = host_file or plan["host_file"]
    if not (root / "sdk_decls").is_dir():
        return SyntaxReport(False, skipped=f"{root}/sdk_decls is missing")
    rep = SyntaxReport(True)
    cmds = [(label, argv[:2] + list(extra_flags) + argv[2:])
            for label, argv in syntax_commands(root, arch, host_file, cxx=cxx)]

    def run(item):
        label, argv = item
        p = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        return label, p.returncode, (p.stdout + p.stderr).strip()

    with ThreadPoolExecutor(max_workers=min(len(cmds), os.cpu_count() or 1)) as pool:
        rep.results = list(pool.map(run, cmds))
    rep.ok = all(rc == 0 for _, rc, _ in rep.results)
    return rep


# ---------------------------------------------------------------- a small C++ scanner
@dataclass(frozen=True)
class _Call:
    name: str
    targs: str
    args: Tuple[str, ...]
    loops: Tuple[str, ...]  # bounds of the enclosing for loops, outermost first
    pos: int


_SKIP = {"if", "while", "switch", "return", "sizeof", "static_cast", "reinterpret_cast", "const_cast", "for",
         "defined"}


def _strip(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), src, flags=re.S)
    src = re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), src)
    src = re.sub(r'"(?:\\.|[^"\\])*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', src)
    return re.sub(r"^\s*#[^\n]*", lambda m: " " * len(m.group(0)), src, flags=re.M)


def _close(s: str, i: int) -> int:
    """Index of the ')' matching the '(' at s[i]."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced parentheses")


def _split_args(text: str) -> Tuple[str, ...]:
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    tail = "".join(cur).strip()
    if tail or out:
        out.append(tail)
    return tuple(out)


_TOKEN = re.compile(r"\bfor\s*\(|\{|\}|\b([A-Za-z_]\w*)\s*(<[^<>();{}]*>)?\s*\(")


def _calls(src: str) -> List[_Call]:
    s = _strip(src)
    calls: List[_Call] = []
    stack: List[Optional[str]] = []
    pending: Optional[str] = None
    i = 0
    while True:
        m = _TOKEN.search(s, i)
        if not m:
            break
        tok = m.group(0)
        if tok.startswith("for"):
            j = _close(s, m.end() - 1)
            header = s[m.end():j]
            parts = header.split(";")
            bound = None
            if len(parts) == 3:
                bm = re.match(r"\s*\w+\s*<\s*(.+?)\s*$", parts[1])
                bound = bm.group(1) if bm else parts[1].strip()
            pending = bound or "?"
            i = j + 1
            continue
        if tok == "{":
            stack.append(pending)
            pending = None
            i = m.end()
            continue
        if tok == "}":
            if stack:
                stack.pop()
            i = m.end()
            continue
        name = m.group(1)
        if name in _SKIP:
            i = m.end()
            continue
        j = _close(s, m.end() - 1)
        loops = tuple(b for b in stack if b is not None)
        calls.append(_Call(name, (m.group(2) or "").strip(), _split_args(s[m.end():j]), loops, m.start()))
        i = m.end()
    return calls


def _cb_indices(src: str) -> Dict[str, int]:
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"constexpr\s+(?:uint32_t|auto)\s+(\w+)\s*=\s*tt::CBIndex::c_(\d+)\s*;", src)}


def _count(c: _Call) -> Counter:
    n = c.args[1] if len(c.args) > 1 else "1"
    key = tuple(sorted(c.loops))
    try:
        return Counter({key: int(n)})
    except ValueError:
        return Counter({tuple(sorted(c.loops + (n,))): 1})


def _fmt(total: Counter) -> str:
    if not total:
        return "0"
    return " + ".join(f"{v}" + "".join(f"*{s}" for s in k) for k, v in sorted(total.items()))


def runtime_arg_count(src: str) -> Tuple[int, List[int]]:
    """(max get_arg_val<uint32_t>(N) index + 1, the indices read) of a kernel source."""
    idx = [int(m.group(1)) for m in re.finditer(r"get_arg_val\s*<\s*(?:std::)?uint32_t\s*>\s*\(\s*(\d+)\s*\)", _strip(src))]
    return (max(idx) + 1 if idx else 0), sorted(idx)


def host_runtime_arg_counts(host_src: str) -> Dict[str, List[int]]:
    """Per kernel role, the lengths of the vectors the host passes to SetRuntimeArgs for it."""
    s = _strip_keep_strings(host_src)
    roles = {}
    for m in re.finditer(r"KernelHandle\s+(\w+)\s*=\s*CreateKernel\s*\([^;]*?\"/?([\w/]+?)\.cpp\"", s, flags=re.S):
        path = m.group(2)
        roles[m.group(1)] = "reader" if path.endswith("reader") else "writer" if path.endswith("writer") else "compute"
    out: Dict[str, List[int]] = {}
    for m in re.finditer(r"SetRuntimeArgs\s*\(\s*\w+\s*,\s*(\w+)\s*,\s*[^,]+,\s*\{([^{}]*)\}\s*\)", s):
        role = roles.get(m.group(1), m.group(1))
        out.setdefault(role, []).append(len(_split_args(m.group(2))))
    return out


def _strip_keep_strings(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


# ---------------------------------------------------------------- the rules
_MATH_EXCLUDE = {"pack_tile"}


def _is_math(name: str) -> bool:
    if name.endswith("_init") or name in _MATH_EXCLUDE or name.startswith("noc_"):
        return False
    return name.endswith("_tile") or name.endswith("_tiles") or name == "copy_tile"


def check_structure(kernels: Mapping[str, str], host: Optional[str] = None,
                    expected_runtime_args: Optional[Mapping[str, int]] = None) -> List[str]:
    """Problems found in a project's kernels (role -> source) and host source; [] when clean."""
    problems: List[str] = []
    calls = {role: _calls(src) for role, src in kernels.items()}
    cbs = {role: _cb_indices(src) for role, src in kernels.items()}

    produced: Dict[int, List[Tuple[str, Counter]]] = {}
    consumed: Dict[int, List[Tuple[str, Counter]]] = {}
    for role, cs in calls.items():
        names = cbs[role]

        def cb_of(c: _Call) -> Optional[int]:
            a = c.args[0] if c.args else ""
            if a in names:
                return names[a]
            m = re.fullmatch(r"tt::CBIndex::c_(\d+)", a)
            return int(m.group(1)) if m else (int(a) if a.isdigit() else None)

        # R1/R2: pairing and balance per CB within the kernel
        totals: Dict[Tuple[int, str], Counter] = {}
        open_: Dict[Tuple[int, str], int] = Counter()
        pair = {"cb_push_back": "cb_reserve_back", "cb_pop_front": "cb_wait_front"}
        for c in cs:
            if c.name not in ("cb_reserve_back", "cb_push_back", "cb_wait_front", "cb_pop_front"):
                continue
            cb = cb_of(c)
            if cb is None:
                problems.append(f"{role}: {c.name}({', '.join(c.args)}) names an unknown circular buffer")
                continue
            totals.setdefault((cb, c.name), Counter()).update(_count(c))
            if c.name in pair:
                if open_[(cb, pair[c.name])] <= 0:
                    problems.append(f"{role}: {c.name} on CB {cb} without a preceding {pair[c.name]}")
                else:
                    open_[(cb, pair[c.name])] -= 1
            else:
                open_[(cb, c.name)] += 1
        for (cb, name), n in open_.items():
            if n:
                problems.append(f"{role}: {name} on CB {cb} is never followed by its "
                                f"{'cb_push_back' if name == 'cb_reserve_back' else 'cb_pop_front'}")
        for cb in {k[0] for k in totals}:
            r, p = totals.get((cb, "cb_reserve_back"), Counter()), totals.get((cb, "cb_push_back"), Counter())
            w, q = totals.get((cb, "cb_wait_front"), Counter()), totals.get((cb, "cb_pop_front"), Counter())
            if r != p:
                problems.append(f"{role}: CB {cb} reserves {_fmt(r)} tiles but pushes {_fmt(p)}")
            if w != q:
                problems.append(f"{role}: CB {cb} waits for {_fmt(w)} tiles but pops {_fmt(q)}")
            if p:
                produced.setdefault(cb, []).append((role, p))
            if q:
                consumed.setdefault(cb, []).append((role, q))

        # R3: barriers between async NoC transfers and the CB operation that publishes them
        pending_reads = pending_writes = 0
        for c in cs:
            if c.name in ("noc_async_read_tile", "noc_async_read"):
                pending_reads += 1
            elif c.name == "noc_async_read_barrier":
                pending_reads = 0
            elif c.name in ("noc_async_write_tile", "noc_async_write"):
                pending_writes += 1
            elif c.name in ("noc_async_write_barrier", "noc_async_writes_flushed"):
                pending_writes = 0
            elif c.name == "cb_push_back" and pending_reads:
                problems.append(f"{role}: cb_push_back after {pending_reads} async read(s) without "
                                "noc_async_read_barrier")
                pending_reads = 0
            elif c.name == "cb_pop_front" and pending_writes:
                problems.append(f"{role}: cb_pop_front after {pending_writes} async write(s) without "
                                "noc_async_write_barrier")
                pending_writes = 0
        if pending_reads or pending_writes:
            problems.append(f"{role}: async NoC transfers left without a barrier at the end of the kernel")

        # R4: tile register protocol
        regs = [c for c in cs if c.name.startswith("tile_regs_") or _is_math(c.name) or c.name == "pack_tile"]
        if any(c.name.startswith("tile_regs_") or _is_math(c.name) for c in regs):
            order = {"tile_regs_acquire": ("idle", "acquired"), "tile_regs_commit": ("acquired", "committed"),
                     "tile_regs_wait": ("committed", "waited"), "tile_regs_release": ("waited", "idle")}
            state, loops = "idle", None
            for c in regs:
                if c.name in order:
                    want, nxt = order[c.name]
                    if state != want:
                        problems.append(f"{role}: {c.name} while the tile registers are {state} "
                                        "(expected acquire -> commit -> wait -> release)")
                    if c.name == "tile_regs_acquire":
                        loops = c.loops
                    elif loops is not None and c.loops != loops:
                        problems.append(f"{role}: {c.name} is not in the same loop as its tile_regs_acquire")
                    state = nxt
                elif c.name == "pack_tile":
                    if state != "waited":
                        problems.append(f"{role}: pack_tile outside tile_regs_wait .. tile_regs_release")
                elif state != "acquired":
                    problems.append(f"{role}: {c.name} outside tile_regs_acquire .. tile_regs_commit")
            if state != "idle":
                problems.append(f"{role}: the tile registers are left {state} at the end of the kernel")

    for cb in sorted(set(produced) | set(consumed)):
        ps, qs = produced.get(cb, []), consumed.get(cb, [])
        if len(ps) != 1 or len(qs) != 1:
            problems.append(f"CB {cb}: produced by {[r for r, _ in ps] or 'no kernel'}, consumed by "
                            f"{[r for r, _ in qs] or 'no kernel'} (need exactly one of each)")
            continue
        (pr, p), (qr, q) = ps[0], qs[0]
        if p != q:
            problems.append(f"CB {cb}: {pr} pushes {_fmt(p)} tiles but {qr} pops {_fmt(q)}")

    # R5: runtime-arg counts
    host_counts = host_runtime_arg_counts(host) if host is not None else {}
    for role, src in kernels.items():
        n, idx = runtime_arg_count(src)
        if idx != list(range(n)):
            problems.append(f"{role}: runtime args read are {idx}, not 0..{n - 1}")
        if expected_runtime_args is not None and expected_runtime_args.get(role) != n:
            problems.append(f"{role}: reads {n} runtime args, the plan has {expected_runtime_args.get(role)}")
        if host is not None:
            lens = host_counts.get(role)
            if not lens:
                problems.append(f"host: no SetRuntimeArgs for the {role} kernel")
            elif any(m != n for m in lens):
                problems.append(f"{role}: reads {n} runtime args but the host passes {sorted(set(lens))}")

    # R6: TensorAccessorArgs: host appends == kernel consumes
    if host is not None:
        for role, var in (("reader", "reader_ct_args"), ("writer", "writer_ct_args")):
            if role not in kernels:
                continue
            k = len(re.findall(r"TensorAccessorArgs\s*<", _strip(kernels[role])))
            h = len(re.findall(rf"TensorAccessorArgs\s*\([^;]*\)\s*\.\s*append_to\s*\(\s*{var}\s*\)", host))
            if k != h:
                problems.append(f"{role}: {k} TensorAccessorArgs in the kernel but the host appends {h}")
    return problems
