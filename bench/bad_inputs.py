"""A hostile user's sweep of `uhopc` (issue 14): bad input and faults against the real CLI.

    .venv/bin/python bench/bad_inputs.py [--out bench/results/bad_inputs.json] [--only SUBSTR] [--list]

Every case runs `python -m uhop_cc ...` as a child process in a temporary folder of its own, with
HOME, XDG_CACHE_HOME and UHOP_DATASET_DIR pointing inside it (no API keys, no UHOP_* settings from
the caller's environment), under a timeout. A case is handled cleanly when no "Traceback" appears,
it finished in time, the exit status is the one the case expects (2 with a short message naming
the problem for bad input, 1 for a rejected kernel, 0 for input that must work, whose output is
then checked), and its own check passes (an old output folder byte-identical after a failed write,
comments kept by `fmt -w`, records exported, no secret in any file). Prints a table and
"N bad inputs tried, M handled cleanly", writes JSON, and exits 0 whatever the verdicts.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
# bench/cuda.py would shadow the `cuda` package of cuda-bindings: drop this folder from the path
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SECRET = "sk-bench-hostile-0123456789abcdef"
RELU_UIR = "kernel relu(X: f32[N]) -> (Y: f32[N]) { Y[i] = relu(X[i]) }\n"
HEAD = ("// @launch global=(roundup(N, 64)) local=(64)\n"
        "__kernel void relu(__global const float* X, __global float* Y, const int N) {\n"
        "    int i = get_global_id(0);\n")
GOOD_CL = HEAD + "    if (i < N) Y[i] = fmax(X[i], 0.0f);\n}\n"
CONV_0_WIDE = "N=1,C=1,H=2,W=2,K=1,R=3,S=3"  # a 3x3 filter on a 2x2 image


@dataclass
class Result:
    rc: Optional[int]
    seconds: float
    out: str
    err: str
    timed_out: bool = False
    command: str = ""


@dataclass
class Ctx:
    """One case's temporary folder, environment and whatever its setup wants its check to see."""
    T: Path
    env: Dict[str, str]
    state: dict = field(default_factory=dict)


Check = Callable[[Ctx, Result], Optional[str]]


@dataclass
class Case:
    name: str
    argv: Sequence[str] = ()            # after `uhopc`; {T} is the case's folder, {EX} the examples
    rc: Union[int, Tuple[int, ...]] = 2
    err_has: Sequence[str] = ()         # substrings stderr must hold
    setup: Optional[Callable[[Ctx], None]] = None
    out_has: Sequence[str] = ()         # substrings stdout must hold
    check: Optional[Check] = None
    env: Dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    max_err_lines: int = 6              # "one or few lines" for a refused input (rc 2)
    preexec: Optional[Callable[[], None]] = None
    runner: Optional[Callable[["Case", Ctx], Result]] = None  # a case that is more than one command


# ---------------------------------------------------------------------------------- running
def base_env(T: Path, shared: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UHOP_", "OPENAI", "DEEPSEEK", "GROQ", "ANTHROPIC"))
           and not re.search(r"KEY|TOKEN|SECRET|PASSWORD", k, re.I)}
    home = T / "home"
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), UHOP_DATASET_DIR=str(home / "dataset"),
               POCL_CACHE_DIR=str(shared / "pocl-cache"), PYTHONDONTWRITEBYTECODE="1",
               UHOP_DATASET_LOCK_TIMEOUT="0.3")
    return env


def fill(argv: Sequence[str], ctx: Ctx) -> List[str]:
    return [a.replace("{T}", str(ctx.T)).replace("{EX}", str(EX)) for a in argv]


def shown(argv: Sequence[str]) -> str:
    return "uhopc " + shlex.join([a.replace(str(EX), "examples") for a in argv])


def uhopc(argv: Sequence[str], ctx: Ctx, timeout: float, env: Optional[dict] = None,
          preexec: Optional[Callable[[], None]] = None) -> Result:
    """`python -m uhop_cc ARGV` in the case's folder; on a timeout its whole process group is killed."""
    full = dict(ctx.env, **{k: fill([v], ctx)[0] for k, v in (env or {}).items()})
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "uhop_cc", *argv], cwd=ctx.T, env=full, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=preexec)
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        timed_out = True
    dec = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return Result(None if timed_out else p.returncode, time.monotonic() - t0, dec(out), dec(err), timed_out,
                  shown(argv))


def judge(case: Case, r: Result, ctx: Ctx) -> List[str]:
    problems = []
    if "Traceback" in r.out + r.err:
        problems.append("Traceback")
    if r.timed_out:
        problems.append(f"timed out after {case.timeout:.0f} s")
    want = case.rc if isinstance(case.rc, tuple) else (case.rc,)
    if not r.timed_out and r.rc not in want:
        problems.append(f"rc {r.rc}, expected {'/'.join(map(str, want))}")
    # the case's folder is named after the case: match the text with it hidden, so a path never matches
    err, out = r.err.replace(str(ctx.T), "$T"), r.out.replace(str(ctx.T), "$T")
    for s in case.err_has:
        if s not in err:
            problems.append(f"stderr lacks {s!r}")
    for s in case.out_has:
        if s not in out:
            problems.append(f"stdout lacks {s!r}")
    lines = [ln for ln in r.err.splitlines() if ln.strip() and not ln.startswith("uhopc: building")
             and not ln.startswith("uhopc: validating")]
    if r.rc == 2 and case.argv and len(lines) > case.max_err_lines:
        problems.append(f"{len(lines)} lines on stderr (at most {case.max_err_lines})")
    if case.check is not None and not r.timed_out:
        try:
            why = case.check(ctx, r)
        except Exception as e:  # noqa: BLE001 - a broken check is a finding, not a crash of the sweep
            why = f"check failed: {type(e).__name__}: {e}"
        if why:
            problems.append(why)
    return problems


def run_case(case: Case, base: Path, shared: Path) -> dict:
    T = Path(tempfile.mkdtemp(prefix=re.sub(r"\W", "_", case.name) + "-", dir=base))
    (T / "home").mkdir()
    ctx = Ctx(T, base_env(T, shared))
    try:
        if case.setup:
            case.setup(ctx)
        if case.runner:
            r = case.runner(case, ctx)
        else:
            r = uhopc(fill(case.argv, ctx), ctx, case.timeout, case.env, case.preexec)
        problems = judge(case, r, ctx)
    except Exception as e:  # noqa: BLE001 - a case the sweep could not build is reported as such
        r = Result(None, 0.0, "", "", False, shown(fill(case.argv, ctx)) if case.argv else case.name)
        problems = [f"could not build the case: {type(e).__name__}: {e}"]
    first = next((ln.strip() for ln in r.err.splitlines() if ln.strip()), "")
    return {"case": case.name, "command": r.command.replace(str(T), "$T"), "rc": r.rc,
            "expected_rc": case.rc, "seconds": round(r.seconds, 2), "clean": not problems, "problems": problems,
            "first_stderr_line": first.replace(str(T), "$T"),
            "stderr": r.err.replace(str(T), "$T")[-3000:], "stdout": r.out.replace(str(T), "$T")[-2000:]}


# ---------------------------------------------------------------------------------- helpers
def write(path: Path, data: Union[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def put(name: str, data: Union[str, bytes, Callable[[], Union[str, bytes]]]) -> Callable[[Ctx], None]:
    return lambda ctx: write(ctx.T / name, data() if callable(data) else data)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> List[str]:
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def value_file(value: str, params: str = "X: f32[N]") -> str:
    return f"kernel deep({params}) -> (Y: f32[N]) {{\n    Y[i] = {value}\n}}\n"


def chain_source(n: int) -> str:
    """n distinct terms X[i, t], some scaled by s: order and values show (tests/ir/test_deep_nesting.py)."""
    terms = []
    for t in range(n):
        op = "" if t == 0 else (" - " if t % 3 == 2 else " + ")
        terms.append(f"{op}X[i, {t}]" + (" * s" if t % 5 == 4 else ""))
    return f"kernel chain(X: f32[N, {n}], s: f32) -> (Y: f32[N]) {{\n    Y[i] = {''.join(terms)}\n}}\n"


SUM500 = ("kernel s500(X: f32[N]) -> (Y: f32[N]) {\n    Y[i] = X[i] - X[i]"
          + "".join(f" + {t}.0" for t in range(1, 499)) + "\n}\n")  # 500 terms; the value is 498*499/2
SUM500_VALUE = 498 * 499 // 2


def big_file() -> str:
    kernel = "kernel k{n}(X: f32[N]) -> (Y: f32[N]) {{\n    Y[i] = X[i] + 1.0  # add one\n}}\n\n"
    return "".join(kernel.format(n=n) for n in range(75_000))  # about 5 MB


def json_out(pred: Callable[[dict], bool], what: str) -> Check:
    def check(ctx: Ctx, r: Result) -> Optional[str]:
        try:
            data = json.loads(r.out)
        except ValueError:
            return "stdout is not JSON"
        return None if pred(data) else what
    return check


def all_checks(*checks: Check) -> Check:
    def check(ctx: Ctx, r: Result) -> Optional[str]:
        return next((why for why in (c(ctx, r) for c in checks) if why), None)
    return check


def absent(path: str) -> Check:
    return lambda ctx, r: f"{path} was created" if (ctx.T / path).exists() else None


# ---------------------------------------------------------------------------------- dataset setup
def archive(root: Path, n: int) -> List[str]:
    """`n` attempts written through the dataset API (alternately PASSED and INCORRECT); their ids."""
    from uhop_cc.dataset.records import AttemptRecord, new_attempt_id
    from uhop_cc.dataset.store import DatasetStore
    st = DatasetStore(root)
    ids = []
    for i in range(n):
        rec = AttemptRecord(id=new_attempt_id("axpy"), created=f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                            kernel="axpy", uir_hash="h", category="elementwise", target="opencl", device="dev",
                            sizes={"N": 300}, provider="p", model="m", round=1, sample=i,
                            status="PASSED" if i % 2 == 0 else "INCORRECT", median_s=1e-6, verified=i % 2 == 0)
        st.add(rec, {"kernel.cl": f"// kernel {i}\n", "prompt.txt": "the prompt"})
        ids.append(rec.id)
    return ids


def dataset(n: int, damage: Optional[str] = None) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        root = ctx.T / "ds"
        ids = archive(root, n)
        db = root / "index.sqlite"
        if damage == "empty":
            db.write_bytes(b"")
        elif damage == "garbage":
            db.write_bytes(b"this is not a database\n" * 400)
        elif damage == "truncated":
            data = db.read_bytes()
            assert len(data) > 8192, f"index only {len(data)} bytes"
            db.write_bytes(data[:5000])
        elif damage == "deleted":
            shutil.rmtree(root / ids[0])
        ctx.state.update(ids=ids, index=db.read_bytes() if db.exists() else None)
    return setup


def exported(path: str, n: int) -> Check:
    def check(ctx: Ctx, r: Result) -> Optional[str]:
        p = ctx.T / path
        got = len(p.read_text().splitlines()) if p.exists() else 0
        return None if got == n else f"{path} holds {got} records, expected {n}"
    return check


def deleted_named(ctx: Ctx, r: Result) -> Optional[str]:
    return None if ctx.state["ids"][0] in r.err else "the skipped record's id is not named on stderr"


def locked_run(case: Case, ctx: Ctx) -> Result:
    """The command while a Python child holds BEGIN EXCLUSIVE (rollback journal) on the index."""
    db = ctx.T / "ds" / "index.sqlite"
    code = ("import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "con.execute('PRAGMA journal_mode = DELETE')\ncon.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\nsys.stdin.read()\ncon.execute('ROLLBACK')\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        if holder.stdout.readline().strip() != "locked":
            raise RuntimeError("the lock holder did not start")
        return uhopc(fill(case.argv, ctx), ctx, case.timeout, case.env)
    finally:
        holder.stdin.close()
        holder.wait(10)


# ---------------------------------------------------------------------------------- composite runners
def fmt_examples(case: Case, ctx: Ctx) -> Result:
    """`fmt -w` on a copy of every example keeps every comment (in order), then `fmt --check` passes."""
    problems, outs, errs, rc, t0 = [], [], [], 0, time.monotonic()
    comments = lambda text: [ln[ln.index("#"):].rstrip() for ln in text.splitlines() if "#" in ln]  # noqa: E731
    total = 0
    for src in sorted(EX.glob("*.uir")):
        copy = ctx.T / src.name
        shutil.copy(src, copy)
        before = comments(src.read_text())
        total += len(before)
        for argv in (["fmt", "-w", str(copy)], ["fmt", "--check", str(copy)]):
            r = uhopc(argv, ctx, case.timeout)
            outs.append(r.out)
            errs.append(r.err)
            if r.rc != 0:
                rc = r.rc if r.rc is not None else 124
                problems.append(f"{shown(argv)}: rc {r.rc}")
        after = comments(copy.read_text())
        if after != before:
            problems.append(f"{src.name}: {len(before)} comments before, {len(after)} after")
    ctx.state.update(problems=problems, comments=total)
    return Result(rc, time.monotonic() - t0, "".join(outs), "".join(errs) + "".join(p + "\n" for p in problems),
                  False, f"for f in examples/*.uir: uhopc fmt -w f; uhopc fmt --check f ({total} comment lines)")


def composite_problems(ctx: Ctx, r: Result) -> Optional[str]:
    return "; ".join(ctx.state["problems"][:3]) or None


CAMPAIGN_TOML = """\
shapes = {{ max_elements = 512, max_size = 24 }}
runner = {{ workers = 0, batch_size = 2, progress = false }}
validation = {{ time_budget_s = 0.005 }}
[campaign]
name = "bad-inputs"
seed = 7
records_per_category = {records}
out = "{out}"
categories = ["arithmetic", "reduction", "transform", "select"]
"""


def concurrent_campaigns(case: Case, ctx: Ctx) -> Result:
    """A second `campaign run` while the first holds the folder: refused (rc 2) naming the first's pid."""
    from uhop_cc.campaign.lock import LOCK_NAME, lock_owner
    out = ctx.T / "out"
    cfg = write(ctx.T / "c.toml", CAMPAIGN_TOML.format(records=3, out=out))
    argv = ["campaign", "run", str(cfg), "--no-progress"]
    first = subprocess.Popen([sys.executable, "-m", "uhop_cc", *argv], cwd=ctx.T, env=ctx.env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=open(ctx.T / "first.err", "w"))
    try:
        deadline = time.monotonic() + 60
        while lock_owner(out / LOCK_NAME).get("pid") != first.pid:
            if first.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the first run never held the lock (rc {first.poll()})")
            time.sleep(0.05)
        r = uhopc(argv, ctx, case.timeout)
        ctx.state.update(first_pid=first.pid, first_alive=first.poll() is None)
        try:
            ctx.state["first_rc"] = first.wait(150)
        except subprocess.TimeoutExpired:
            ctx.state["first_rc"] = "still running after 150 s (killed)"
        return r
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)


def second_refused(ctx: Ctx, r: Result) -> Optional[str]:
    if f"pid {ctx.state['first_pid']}" not in r.err:
        return "the refusal does not name the first run's pid"
    if not ctx.state["first_alive"]:
        return "the first run had ended before the second was refused (inconclusive)"
    if ctx.state["first_rc"] != 0:
        return f"the first run ended with {ctx.state['first_rc']}"
    return None


def full_disk(target: str) -> Callable[[Case, Ctx], Result]:
    """Compile into -o once, then again with RLIMIT_FSIZE cutting a file part-way (SIGXFSZ ignored,
    so the write fails with EFBIG): the old folder must be left byte-identical, no temporary folder."""
    def runner(case: Case, ctx: Ctx) -> Result:
        out = ctx.T / "o"
        first = uhopc(["compile", str(ctx.T / "relu.uir"), "--shapes", "N=1000", "--target", target, "-o", str(out),
                       "--no-time"], ctx, case.timeout)
        if first.rc != 0:
            raise RuntimeError(f"the first compile failed (rc {first.rc}): {first.err[-300:]}")
        ctx.state["before"] = snapshot(out)
        assert max(len(b) for b in ctx.state["before"].values()) > 1200, "no file large enough to be cut"

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1200, 1200))
        return uhopc(["compile", str(ctx.T / "relu.uir"), "--shapes", "N=2000", "--target", target, "-o", str(out),
                      "--no-time"], ctx, case.timeout, preexec=limit)
    return runner


def old_folder_kept(ctx: Ctx, r: Result) -> Optional[str]:
    if snapshot(ctx.T / "o") != ctx.state["before"]:
        return "the old output folder was changed"
    left = leftovers(ctx.T)
    return f"temporary folders left: {left}" if left else None


def no_secret_anywhere(ctx: Ctx, r: Result) -> Optional[str]:
    if SECRET in r.out or SECRET in r.err:
        return "the API key was printed"
    files = [p for p in ctx.T.rglob("*") if p.is_file()]
    hit = [str(p.relative_to(ctx.T)) for p in files if SECRET.encode() in p.read_bytes()]
    return f"the API key was written to {hit}" if hit else None


# ---------------------------------------------------------------------------------- the cases
U, RELU, MM, CONV, DS = "{T}/k.uir", "{EX}/relu.uir", "{EX}/matmul.uir", "{EX}/conv2d.uir", "{T}/ds"
GARBAGE_DB = b"garbage garbage" * 100


def keep(*files: Tuple[str, Union[str, bytes]]) -> Callable[[Ctx], None]:
    """Setup: write these files and remember their bytes for the `kept` check."""
    def setup(ctx: Ctx) -> None:
        for name, data in files:
            ctx.state.setdefault("kept", {})[name] = write(ctx.T / name, data).read_bytes()
    return setup


def kept(ctx: Ctx, r: Result) -> Optional[str]:
    changed = [n for n, b in ctx.state["kept"].items() if not (ctx.T / n).is_file() or (ctx.T / n).read_bytes() != b]
    return f"changed: {', '.join(changed)}" if changed else None


def campaign_dir(**files: bytes) -> Callable[[Ctx], None]:
    """A campaign folder T/camp holding these damaged files, and T/c.toml pointing at it."""
    def setup(ctx: Ctx) -> None:
        keep(*((f"camp/{k.replace('__', '/')}.sqlite", v) for k, v in files.items()))(ctx)
        write(ctx.T / "c.toml", CAMPAIGN_TOML.format(records=1, out=ctx.T / "camp"))
    return setup


def moved_aside() -> Check:
    """Exactly one index.sqlite.bad-* beside the index, byte for byte the damaged one."""
    def check(ctx: Ctx, r: Result) -> Optional[str]:
        aside = [p.read_bytes() for p in (ctx.T / "ds").glob("index.sqlite.bad-*")]
        return None if aside == [ctx.state["index"]] else f"{len(aside)} copies moved aside, expected the damaged one"
    return check


def deep(name: str, value: str) -> Case:
    return Case(name, ["check", U], 2, ["k.uir:2:", "nested too deeply"], setup=put("k.uir", value_file(value)))


def ks(name: str, text: str, says: Sequence[str] = ("verdict    ANALYSIS_REJECTED",)) -> Case:
    """`compile --kernel-source` of a hostile file: rejected (rc 1) with its verdict."""
    return Case(name, ["compile", "{T}/relu.uir", "--shapes", "N=1000", "--kernel-source", "{T}/mine.cl",
                       "--no-roofline", "--no-time"], 1, out_has=says, timeout=120,
                setup=keep(("relu.uir", RELU_UIR), ("mine.cl", text)))


def with_id(index: int) -> Callable[[Case, Ctx], Result]:
    """Run the case with ID in its command replaced by the id of the index-th archived attempt."""
    return lambda case, ctx: uhopc([a.replace("ID", ctx.state["ids"][index]) for a in fill(case.argv, ctx)], ctx,
                                   case.timeout)


def uir_cases() -> List[Case]:
    f = "kernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = "
    return [
        Case("uir/empty-file", ["check", U], 2, ["k.uir:1:1: error: empty file"], put("k.uir", "")),
        Case("uir/binary-garbage", ["check", U], 2, ["not valid UTF-8"],
             put("k.uir", lambda: random.Random(14).randbytes(4000))),
        Case("uir/ascii-garbage", ["check", U], 2, ["k.uir:1:", "error:"],
             put("k.uir", "}{ ]] kernel kernel -> -> ((( 1e999 @@@ \n" * 20)),
        Case("uir/missing-brace", ["check", U], 2, ["k.uir:2:", "a kernel body is closed by '}'"],
             put("k.uir", f + "X[i]\n")),
        Case("uir/unknown-function", ["check", U], 2, ["k.uir:2:10: error: unknown function `softplus`"],
             put("k.uir", f + "softplus(X[i])\n}\n")),
        Case("uir/type-error", ["check", U], 2, ["k.uir:2:", "mixes i32 and f32"],
             put("k.uir", "kernel f(X: i32[N], Z: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] + Z[i]\n}\n")),
        Case("uir/nonexistent-file", ["check", "{T}/nope.uir"], 2, ["cannot read file"]),
        Case("uir/directory-as-file", ["run", "{T}", "--shapes", "N=4"], 2, ["cannot read file", "directory"]),
        Case("uir/non-utf8", ["check", U], 2, ["not valid UTF-8"], put("k.uir", b"\xff\xfe\x00kernel")),
        Case("uir/sum-500-terms-check", ["check", U], 0, [], put("k.uir", SUM500), out_has=["kernel s500: ok"]),
        Case("uir/sum-500-terms-run", ["run", U, "--shapes", "N=5", "--json"], 0, [], put("k.uir", SUM500),
             check=json_out(lambda d: d["outputs"]["Y"]["shape"] == [5]
                            and d["outputs"]["Y"]["min"] == d["outputs"]["Y"]["max"] == SUM500_VALUE,
                            f"Y is not {SUM500_VALUE} everywhere")),
        Case("uir/sum-2000-terms-spec", ["spec", U, "--shapes", "N=4", "--no-device"], 0, [],
             put("k.uir", chain_source(2000)),
             check=json_out(lambda d: d["flops"] == 4 * (1999 + 400), "flops is not 4 * (1999 + 400)")),
        deep("uir/500-unary-minus", "-" * 500 + "X[i]"),
        deep("uir/300-nested-calls", "exp(" * 300 + "X[i]" + ")" * 300),
        deep("uir/300-nested-parens", "X[i] + (" * 300 + "X[i]" + ")" * 300),
        Case("uir/5MB-file", ["check", U], 2, ["UIR files are limited to 1 MB"], put("k.uir", big_file), timeout=20),
        Case("uir/5MB-file-fmt", ["fmt", U], 2, ["limited to 1 MB"], put("k.uir", big_file), timeout=20),
        Case("uir/reduction-body-on-next-line", ["check", U], (0, 2), ["reduction"],
             put("k.uir", "kernel r(X: f32[N, K]) -> (Y: f32[N]) {\n    Y[i] = sum(k)\n        X[i, k]\n}\n")),
        Case("uir/several-kernels-no-choice", ["run", "{EX}/mlp.uir", "--shapes", "N=8"], 2,
             ["choose one with --kernel"]),
        Case("uir/unknown-kernel-name", ["run", "{EX}/mlp.uir", "--kernel", "nope", "--shapes", "N=8"], 2,
             ["no kernel named `nope`"]),
    ]


def shape_cases() -> List[Case]:
    return [
        Case("shapes/given-twice", ["compile", MM, "--shapes", "M=4,M=8,N=2,K=3"], 2, ["`M` is given twice"]),
        Case("shapes/negative", ["check", MM, "--shapes", "M=-4,N=2,K=3"], 2, ["cannot be negative"]),
        Case("shapes/non-integer", ["run", MM, "--shapes", "M=4.5,N=2,K=3"], 2, ["must be an integer"]),
        Case("shapes/unknown-symbol", ["spec", MM, "--shapes", "M=4,N=2,K=3,Q=3"], 2, ["`Q` is not a size symbol"]),
        Case("shapes/missing-size", ["run", MM, "--shapes", "M=3"], 2, ["size(s) not bound: K, N"]),
        Case("shapes/wrong-positional-count", ["check", MM, "--shapes", "4x3"], 2,
             ["1 shape(s) given for 2 input tensor(s)"]),
        Case("shapes/garbage", ["compile", RELU, "--shapes", "N==,,x"], 2, ["--shapes"]),
        Case("shapes/zero-run", ["run", MM, "--shapes", "M=0,N=4,K=3"], 0, out_has=["C: f32[0, 4]  empty"]),
        Case("shapes/zero-spec", ["spec", MM, "--shapes", "M=0,N=4,K=3", "--no-device"], 0,
             check=json_out(lambda d: d["flops"] == 0, "flops is not 0")),
        Case("shapes/zero-compile", ["compile", RELU, "--shapes", "N=0", "-o", "{T}/o", "--no-roofline"], 0,
             out_has=["not timed: every output is empty", "PASS"], timeout=120),
        Case("shapes/conv-0-wide-run", ["run", CONV, "--shapes", CONV_0_WIDE], 0,
             out_has=["Y: f32[1, 1, 0, 0]  empty"]),
        Case("shapes/conv-0-wide-compile", ["compile", CONV, "--shapes", CONV_0_WIDE, "-o", "{T}/o", "--json"], 0,
             timeout=120, check=json_out(lambda d: d["status"] == "PASSED" and d["timing"] is None,
                                         "status is not PASSED with no timing")),
        Case("shapes/run-beyond-memory", ["run", RELU, "--shapes", "N=6000000000000"], 2,
             ["needs about", "use smaller --shapes"]),
        Case("shapes/compile-beyond-memory-limit", ["compile", RELU, "--shapes", "N=10000000", "-o", "{T}/o"], 2,
             ["100 MB available ($UHOP_MEMORY_LIMIT_MB)"], env={"UHOP_MEMORY_LIMIT_MB": "100"}, check=absent("o")),
    ]


def compile_and_output_cases() -> List[Case]:
    i32 = "kernel k(X: i32[N]) -> (Y: i32[N]) {\n    Y[i] = relu(5) + X[i]\n}\n"
    return [
        Case("compile/strategy-unknown", ["compile", RELU, "--shapes", "N=64", "--strategy", "nope"], 2,
             ["is unknown for opencl", "strategies that apply to `relu`"]),
        Case("compile/strategy-does-not-apply", ["compile", RELU, "--shapes", "N=64", "--strategy", "matmul"], 2,
             ["does not apply to kernel `relu`", "strategies that apply to `relu`: auto, generic, elementwise"]),
        Case("compile/target-bogus", ["compile", RELU, "--shapes", "N=64", "--target", "bogus"], 2,
             ["invalid choice: 'bogus'"], max_err_lines=12),
        Case("compile/i32-relu-of-literal", ["compile", U, "--shapes", "N=50", "-o", "{T}/o", "--no-time"], 0, [],
             put("k.uir", i32), out_has=["validation PASS"], timeout=120,
             check=lambda ctx, r: "5.0f" in (ctx.T / "o" / "kernel.cl").read_text() and "kernel has 5.0f" or None),
        Case("compile/300-term-sum", ["compile", U, "--shapes", "N=64", "-o", "{T}/o", "--no-time"], 0, [],
             put("k.uir", chain_source(300)), out_has=["validation PASS"], timeout=180),
        Case("output/o-is-a-file", ["compile", RELU, "--shapes", "N=64", "-o", "{T}/report.txt"], 2,
             ["exists and is not a folder"], keep(("report.txt", "keep me")), check=kept),
        Case("output/o-under-a-file", ["compile", RELU, "--shapes", "N=64", "-o", "{T}/report.txt/sub"], 2,
             ["is not a folder"], keep(("report.txt", "keep me")), check=kept),
        Case("output/o-holds-someone-elses-file", ["compile", RELU, "--shapes", "N=64", "-o", "{T}/mine"], 2,
             ["holds files uhopc did not write (notes.md)"], keep(("mine/notes.md", "mine")),
             check=all_checks(kept, lambda ctx, r: None if snapshot(ctx.T / "mine") == {"notes.md": b"mine"}
                              else "files were added to the folder")),
        Case("output/full-disk-cuda", [], 2, [], put("relu.uir", RELU_UIR), timeout=180, runner=full_disk("cuda"),
             out_has=["could not write the outputs", "the old folder is unchanged"], check=old_folder_kept),
        Case("output/full-disk-opencl", [], (1, 2), ["File too large"], put("relu.uir", RELU_UIR), timeout=180,
             runner=full_disk("opencl"), check=old_folder_kept),
        ks("kernel-source/empty", ""),
        ks("kernel-source/garbage", "\x00\x01garbage{{{"),
        ks("kernel-source/wrong-entry-name", GOOD_CL.replace("void relu(", "void not_relu(")),
        ks("kernel-source/wrong-values", GOOD_CL.replace("fmax(X[i], 0.0f)", "clamp(X[i], 0.0f, 1.0f)"),
           ("verdict    INCORRECT",)),
        Case("kernel-source/too-large", ["compile", RELU, "--shapes", "N=64", "--kernel-source", "{T}/big.cl"], 2,
             ["larger than"], put("big.cl", GOOD_CL + "// " + "x" * (300 * 1024) + "\n")),
        Case("kernel-source/nonexistent", ["compile", RELU, "--shapes", "N=64", "--kernel-source", "{T}/none.cl"], 2,
             ["cannot read --kernel-source"]),
    ]


def fmt_tune_dataset_cases() -> List[Case]:
    broken = "# mine\nkernel f(X: f32[N]) -> (Y: f32[N]) {\n  Y[i] = X[i] +\n}\n"
    return [
        Case("fmt/write-keeps-comments-of-every-example", [], 0, runner=fmt_examples, check=composite_problems),
        Case("fmt/write-on-a-broken-file-leaves-it", ["fmt", "-w", U], 2, ["k.uir:3:"], keep(("k.uir", broken)),
             check=kept),
        Case("tune/garbage-cache-show", ["tune", "--show"], 0, ["tune cache", "damaged"],
             put("home/.cache/uhopc/tune.json", "garbage{{{ not json\x00\n")),
        Case("tune/garbage-cache-via-env", ["tune", "--show", "--json"], 0, ["damaged"],
             put("t.json", '{"version": 1, "entries": {"a": [1, 2'), env={"UHOP_TUNE_CACHE": "{T}/t.json"}),
        Case("dataset/zero-byte-index-ai-list", ["ai", "--dataset", DS, "list"], 2,
             ["12 attempt folders", "uhopc dataset reindex"], dataset(12, "empty")),
        Case("dataset/zero-byte-index-export", ["dataset", "export", DS, "-o", "{T}/all.jsonl", "--include-failures"],
             0, ["wrote 12 records", "reindex"], dataset(12, "empty"), check=exported("all.jsonl", 12)),
        Case("dataset/garbage-index-ai-list", ["ai", "--dataset", DS, "list"], 2, ["damaged", "reindex"],
             dataset(12, "garbage")),
        Case("dataset/truncated-index-ai-query", ["ai", "--dataset", DS, "query", "--success-only"], 2,
             ["damaged", "reindex"], dataset(40, "truncated")),
        Case("dataset/locked-index-ai-list", ["ai", "--dataset", DS, "list"], 2, ["is locked"], dataset(6),
             runner=locked_run),
        Case("dataset/locked-index-reindex", ["dataset", "reindex", DS], 2, ["is locked"], dataset(6),
             runner=locked_run, check=lambda ctx, r: "moved aside" if list((ctx.T / "ds").glob("*.bad-*")) else None),
        Case("dataset/locked-index-export", ["dataset", "export", DS, "-o", "{T}/x.jsonl", "--include-failures"], 0,
             ["wrote 6 records", "locked"], dataset(6), runner=locked_run, check=exported("x.jsonl", 6)),
        Case("dataset/deleted-folder-ai-show", ["ai", "--dataset", DS, "show", "ID"], 2, ["missing", "fsck"],
             dataset(6, "deleted"), runner=with_id(0)),
        Case("dataset/deleted-folder-export", ["dataset", "export", DS, "-o", "{T}/p.jsonl", "--include-failures"], 1,
             ["skipped 1 record", "folder is missing", "wrote 5 records"], dataset(6, "deleted"),
             check=all_checks(deleted_named, exported("p.jsonl", 5))),
        Case("dataset/fsck-deleted-folder", ["dataset", "fsck", DS, "--json"], 1, [], dataset(6, "deleted"),
             check=json_out(lambda d: len(d["rows_without_folders"]) == 1, "fsck does not list the missing folder")),
        Case("dataset/garbage-index-ai-show", ["ai", "--dataset", DS, "show", "ID", "--json"], 0, [],
             dataset(12, "garbage"), runner=with_id(3),
             check=json_out(lambda d: d["status"] == "INCORRECT", "the attempt was not read from its folder")),
        Case("dataset/path-is-a-file", ["ai", "--dataset", "{T}/f", "list"], 2, ["is a file, not a folder"],
             keep(("f", "x")), check=kept),
        Case("dataset/path-is-a-file-export", ["dataset", "export", "{T}/f", "-o", "{T}/o.jsonl"], 2,
             ["$T/f", "not a dataset or campaign directory"], keep(("f", "x")),
             check=all_checks(kept, absent("o.jsonl"))),
        Case("dataset/fsck-damaged-index", ["dataset", "fsck", DS, "--json"], 1, [], dataset(12, "garbage"),
             check=json_out(lambda d: d["index_state"] != "ok" and len(d["folders_without_rows"]) == 12,
                            "fsck does not report the damaged index and its 12 folders")),
        Case("dataset/reindex-damaged-index", ["dataset", "reindex", DS], 0, [], dataset(12, "garbage"),
             out_has=["moved aside", "indexed 12 attempts"], check=moved_aside()),
        Case("dataset/reindex-zero-byte-index", ["dataset", "reindex", DS], 0, [], dataset(12, "empty"),
             out_has=["indexed 12 attempts"], check=moved_aside()),
    ]


def campaign_ai_analyze_cases() -> List[Case]:
    paren = "__kernel void k(__global float* Y) { Y[0] = " + "(" * 300 + "1.0f" + ")" * 300 + "; }\n"
    run = ["campaign", "run", "{T}/c.toml", "--no-progress"]
    ai_env = {"UHOP_AI_PROVIDER": "openai-compatible", "UHOP_AI_API_KEY": SECRET, "UHOP_AI_MODEL": "m",
              "UHOP_AI_MAX_RETRIES": "1", "UHOP_AI_BACKOFF": "0.01", "UHOP_AI_TIMEOUT": "5"}
    return [
        Case("campaign/status-of-a-plain-folder", ["campaign", "status", "{T}/plain"], 2,
             ["is not a campaign directory"], put("plain/readme.txt", "hi")),
        Case("campaign/garbage-state-sqlite", ["campaign", "status", "{T}/camp"], 2, ["damaged"],
             campaign_dir(state=GARBAGE_DB), check=kept),
        Case("campaign/status-zero-byte-state", ["campaign", "status", "{T}/camp"], 2, ["state.sqlite", "empty"],
             campaign_dir(state=b""), check=kept),
        Case("campaign/run-on-garbage-state-sqlite", run, 2, ["damaged"], campaign_dir(state=GARBAGE_DB), check=kept),
        Case("campaign/run-on-garbage-dataset-index", run, 2, ["index.sqlite is damaged", "reindex"],
             campaign_dir(dataset__index=GARBAGE_DB), check=kept),
        Case("campaign/garbage-config", ["campaign", "run", "{T}/bad.toml", "--no-progress"], 2, ["bad.toml"],
             put("bad.toml", "[campaign\nname = = \n\x00")),
        Case("campaign/config-wrong-types", ["campaign", "run", "{T}/bad.toml", "--no-progress"], 2,
             ["records_per_category"],
             put("bad.toml", '[campaign]\nrecords_per_category = "many"\ncategories = ["no-such-category"]\n')),
        Case("campaign/second-run-on-a-busy-folder", ["campaign", "run", "c.toml", "--no-progress"], 2,
             ["in use by another run"], timeout=60, runner=concurrent_campaigns, check=second_refused),
        Case("ai/closed-port-network-fault", ["compile", "{T}/relu.uir", "--shapes", "N=1000", "--ai", "--samples",
                                              "1", "--rounds", "1", "--base-url", "http://127.0.0.1:9/v1", "-o",
                                              "{T}/o", "--no-time", "--no-roofline"], 0, [],
             put("relu.uir", RELU_UIR), out_has=["validation PASS"], timeout=120, check=no_secret_anywhere,
             env=ai_env),
        Case("analyze/nonexistent", ["analyze", "{T}/nope.cl"], 2, ["cannot read"]),
        Case("analyze/directory", ["analyze", "{T}"], 2, ["cannot read"]),
        Case("analyze/binary-garbage", ["analyze", "{T}/g.cl"], (1, 2), [],
             put("g.cl", lambda: random.Random(7).randbytes(4000)), max_err_lines=40),
        Case("analyze/300-nested-parens", ["analyze", "{T}/p.cl"], 1, [], put("p.cl", paren),
             out_has=["nested deeper than"]),
    ]


def cases() -> List[Case]:
    groups = (uir_cases, shape_cases, compile_and_output_cases, fmt_tune_dataset_cases, campaign_ai_analyze_cases)
    return [c for group in groups for c in group()]


# ---------------------------------------------------------------------------------- main
def cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "bad_inputs.json"))
    ap.add_argument("--only", help="run the cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = ap.parse_args()
    chosen = [c for c in cases() if not args.only or args.only in c.name]
    if args.list:
        for c in chosen:
            argv = " ".join(c.argv).replace("{T}", "$T").replace("{EX}", "examples")
            print(f"{c.name:<45} {'uhopc ' + argv if c.argv else '(several commands)'}")
        return 0
    base = Path(tempfile.mkdtemp(prefix="uhopc-bad-inputs-"))
    shared = base / "shared"
    shared.mkdir()
    rows, t0 = [], time.monotonic()
    print(f"{'case':<44} {'command':<52} {'rc':>4} {'sec':>6}  {'verdict':<8} first stderr line")
    try:
        for c in chosen:
            row = run_case(c, base, shared)
            rows.append(row)
            verdict = "clean" if row["clean"] else "NOT CLEAN"
            print(f"{cut(c.name, 44):<44} {cut(row['command'], 52):<52} {str(row['rc']):>4} {row['seconds']:>6.2f}  "
                  f"{verdict:<8} {cut(row['first_stderr_line'], 90)}", flush=True)
            if not row["clean"]:
                print(f"{'':<44}   -> {'; '.join(row['problems'])}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    total = time.monotonic() - t0
    clean = sum(r["clean"] for r in rows)
    print(f"\n{len(rows)} bad inputs tried, {clean} handled cleanly ({total:.0f} s)")
    for r in rows:
        if not r["clean"]:
            print(f"  NOT CLEAN {r['case']}: {'; '.join(r['problems'])}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"tried": len(rows), "clean": clean, "seconds": round(total, 1),
                               "python": sys.version.split()[0], "machine": platform.platform(),
                               "cpus": os.cpu_count(), "only": args.only, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
