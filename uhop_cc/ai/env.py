"""Settings from the environment and from a `.env` file in the working directory.

The `.env` file never overrides the environment: `settings()` is the .env values updated
with os.environ. Lines: `KEY=VALUE`, `export KEY=VALUE`, `# comments`, values optionally in
single or double quotes (double quotes understand \\n, \\t, \\" and \\\\), `KEY=value # comment`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

__all__ = ["read_dotenv", "settings", "get", "get_int", "get_float", "get_bool"]

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def _value(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        q = raw[0]
        end = raw.find(q, 1)
        while q == '"' and end > 0 and raw[end - 1] == "\\":
            end = raw.find(q, end + 1)
        body = raw[1:end] if end > 0 else raw[1:]
        if q == '"':
            body = re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
        return body
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def read_dotenv(path: Optional[Union[str, Path]] = None) -> Dict[str, str]:
    """The variables of `path` (default ./.env); {} when there is none or it cannot be read."""
    p = Path(path) if path is not None else Path.cwd() / ".env"
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    out: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = _value(m.group(2))
    return out


def settings(environ: Optional[Mapping[str, str]] = None, dotenv: Optional[Union[str, Path]] = None) -> Dict[str, str]:
    """.env values overridden by the environment (never the other way round)."""
    merged = read_dotenv(dotenv)
    merged.update(os.environ if environ is None else environ)
    return merged


def get(env: Mapping[str, str], name: str, default: Optional[str] = None) -> Optional[str]:
    v = env.get(name)
    return v.strip() if isinstance(v, str) and v.strip() else default


def get_int(env: Mapping[str, str], name: str, default: int) -> int:
    v = get(env, name)
    try:
        return int(v) if v is not None else default
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {v!r}") from None


def get_float(env: Mapping[str, str], name: str, default: float) -> float:
    v = get(env, name)
    try:
        return float(v) if v is not None else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {v!r}") from None


def get_bool(env: Mapping[str, str], name: str) -> bool:
    return (get(env, name) or "").lower() in ("1", "true", "yes", "on")
