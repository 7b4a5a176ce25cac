"""`uhopc fmt` keeps comments: in order, at their place, idempotently, without changing the IR."""
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhop_cc.ir import printer
from uhop_cc.ir.comments import format_program, scan
from uhop_cc.ir.parser import parse
from test_roundtrip import PROGRAMS

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.uir"))


def uhopc(*args):
    return subprocess.run([sys.executable, "-m", "uhop_cc", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def texts(text: str):
    return [c.text for c in scan(text)]


def assert_formats_well(text: str):
    out = format_program(parse(text), text)
    assert texts(out) == texts(text)  # every comment kept, in order
    assert parse(out) == parse(text)  # the same IR
    assert format_program(parse(out), out) == out  # idempotent
    return out


def test_fmt_write_keeps_the_comments_of_every_example(tmp_path):
    assert sum(bool(scan(p.read_text())) for p in EXAMPLES) >= 10
    for p in EXAMPLES:
        copy = tmp_path / p.name
        shutil.copy(p, copy)
        r = uhopc("fmt", "-w", copy)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        out = copy.read_text()
        assert texts(out) == texts(p.read_text()), p.name
        assert parse(out) == parse(p.read_text()), p.name
        assert format_program(parse(out), out) == out, p.name  # what `fmt --check` compares
        assert_formats_well(p.read_text())
    assert uhopc("fmt", "--check", copy).returncode == 0


def test_comments_stay_at_their_place():
    text = ("# top\nkernel k(X: f32[N],  # x\n  s: f32) -> (Y: f32[N], Z: f32[N])\n{  # open\n  # lead\n"
            "  Y[i] = (X[i] +  # mid\n     s)  # tail\n  T[i] = X[i]; Z[i] = T[i] # semi\n  # before close\n"
            "}  # close\n\n# between\nkernel q() -> (Y: f32[]) { Y = 1.0 }  # one-liner\n# end\n")
    assert assert_formats_well(text) == (
        "# top\n# x\nkernel k(X: f32[N], s: f32) -> (Y: f32[N], Z: f32[N]) {  # open\n"
        "    # lead\n    # mid\n    Y[i] = X[i] + s  # tail\n    T[i] = X[i]\n    Z[i] = T[i]  # semi\n"
        "    # before close\n}  # close\n\n# between\nkernel q() -> (Y: f32[]) {\n    Y = 1.0\n}  # one-liner\n"
        "# end\n")


def test_comment_with_a_unicode_line_separator_keeps_its_line():
    text = "kernel k(X: f32[N]) -> (Y: f32[N]) {\n    # a\u2028b \x85c\n    Y[i] = X[i]  # \u2029 tail\n}\n"
    assert assert_formats_well(text) == text


def test_without_comments_fmt_is_the_printer():
    text = EXAMPLES[0].read_text()
    plain = "\n".join(line.split("#")[0].rstrip() for line in text.splitlines()) + "\n"
    p = parse(plain)
    assert format_program(p, plain) == printer.program(p)


COMMENT_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(lambda s: "#" + s)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS, st.lists(st.tuples(st.integers(0, 10**6), st.booleans(), COMMENT_TEXT), max_size=6))
def test_comments_survive_fmt_of_any_program(p, inserts):
    try:
        text = printer.program(p)
    except ValueError:
        return  # a constant with no UIR spelling
    lines = text.splitlines()
    for at, own_line, comment in inserts:
        n = at % (len(lines) + 1)
        if own_line or n == len(lines):
            lines.insert(n, "  " + comment)
        else:
            lines[n] = lines[n] + "  " + comment
    assert_formats_well("\n".join(lines) + "\n")
