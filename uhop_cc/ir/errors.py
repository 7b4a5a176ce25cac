"""Diagnostics: every user-facing error about UIR text goes through here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from .nodes import Loc, NOLOC


@dataclass(frozen=True)
class Diagnostic:
    message: str
    filename: str = "<input>"
    loc: Loc = NOLOC
    source_line: Optional[str] = None
    severity: str = "error"
    note: Optional[str] = None

    def format(self) -> str:
        where = self.filename
        if self.loc.line:
            where += f":{self.loc.line}:{self.loc.col}"
        out = [f"{where}: {self.severity}: {self.message}"]
        if self.source_line is not None and self.loc.line:
            line = self.source_line.rstrip("\r\n").expandtabs(1)
            out.append("    " + line)
            width = 1
            if self.loc.end_line == self.loc.line and self.loc.end_col > self.loc.col:
                width = self.loc.end_col - self.loc.col
            out.append("    " + " " * max(self.loc.col - 1, 0) + "^" + "~" * (width - 1))
        if self.note:
            out.append(f"  note: {self.note}")
        return "\n".join(out)

    def to_json(self) -> dict:
        return {"severity": self.severity, "message": self.message, "file": self.filename,
                "line": self.loc.line, "col": self.loc.col, "note": self.note}


class UirError(Exception):
    """Raised inside the front end; turned into a value at the API boundary."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics: List[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


class SourceText:
    """The text being compiled, kept to quote lines in diagnostics."""

    def __init__(self, text: str, filename: str = "<input>"):
        self.text = text
        self.filename = filename
        self.lines = text.splitlines()

    def line(self, n: int) -> Optional[str]:
        return self.lines[n - 1] if 1 <= n <= len(self.lines) else None

    def diag(self, message: str, loc: Loc = NOLOC, note: Optional[str] = None) -> Diagnostic:
        return Diagnostic(message, self.filename, loc, self.line(loc.line), note=note)

    def error(self, message: str, loc: Loc = NOLOC, note: Optional[str] = None) -> UirError:
        return UirError([self.diag(message, loc, note)])
