"""One archived LLM attempt: the row of the index and the folder's metadata.json."""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional

__all__ = ["STATUSES", "SUCCESS", "AttemptRecord", "new_attempt_id", "sha256", "Scrubber", "secret_values"]

# Every candidate ends in exactly one of these.
STATUSES = ("PASSED", "SLOWER", "ANALYSIS_REJECTED", "COMPILE_ERROR", "RUNTIME_ERROR", "TIMEOUT",
            "OUT_OF_BOUNDS", "INCORRECT", "NO_CODE", "PROVIDER_ERROR", "NOT_RUN", "SUSPICIOUS")
# The statuses of kernels that passed every check (PASSED: and beat the baseline, or there was none).
SUCCESS = ("PASSED", "SLOWER")


def sha256(text: Optional[str]) -> Optional[str]:
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def new_attempt_id(kernel: str = "") -> str:
    """Sortable, unique and safe as a folder name: 20250101T120000-123456-axpy-1a2b3c4d."""
    t = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"-{int((t % 1) * 1e6):06d}"
    name = re.sub(r"[^A-Za-z0-9_]", "_", kernel)[:40]
    return f"{stamp}-{name}-{secrets.token_hex(4)}" if name else f"{stamp}-{secrets.token_hex(4)}"


@dataclass
class AttemptRecord:
    id: str
    created: str  # ISO 8601, UTC
    kernel: str
    uir_hash: str
    category: str  # the operation category (elementwise, reduction, matmul, ...)
    target: str
    device: str
    sizes: Dict[str, int]
    provider: str
    model: str
    round: int
    sample: int
    status: str
    reason: str = ""
    median_s: Optional[float] = None
    baseline_s: Optional[float] = None
    speedup: Optional[float] = None
    source_hash: Optional[str] = None
    verified: bool = False  # validated and timed on a device (not only analysed/compiled)
    session: str = ""  # the improve() run this attempt belongs to
    extra: Dict[str, Any] = field(default_factory=dict)  # stages, findings, validation, timing, ...

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r} (known: {', '.join(STATUSES)})")

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "AttemptRecord":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


# ------------------------------------------------------------------ secrets
_SECRET_NAME = re.compile(r"(API_?KEY|_KEY$|TOKEN|SECRET|PASSWORD)", re.I)
_URL_NAME = re.compile(r"(_URL|_URI|_PROXY)$", re.I)  # UHOP_AI_BASE_URL, OPENAI_BASE_URL, HTTPS_PROXY, ...
# Credentials inside a URL (user:PASSWORD@, ?api_key=VALUE) are scrubbed down to this length: a
# URL says for sure they are secrets, where an 8-char floor guards the guesses made from names.
MIN_URL_SECRET = 3


def secret_values(extra: Iterable[Optional[str]] = (), environ: Optional[Mapping[str, str]] = None,
                  urls: Iterable[Optional[str]] = ()) -> List[str]:
    """Values that must never be written: every environment variable whose name says key, token,
    secret or password (and the .env file's), plus `extra` (short values, < 8 chars, are ignored);
    and the credentials inside `urls` and inside the environment's *_URL / *_PROXY variables
    (userinfo password, secret-looking query values; down to MIN_URL_SECRET chars)."""
    env = dict(os.environ if environ is None else environ)
    try:
        from ..ai.env import read_dotenv
        for k, v in read_dotenv().items():
            env.setdefault(k, v)
    except Exception:  # noqa: BLE001 - a belt-and-braces check must not break archiving
        pass
    vals = {v for k, v in env.items() if _SECRET_NAME.search(k) and v}
    vals.update(v for v in extra if v)
    out = {v for v in vals if len(v) >= 8}
    from ..ai.providers import url_secrets  # stdlib only: no SDK import
    for url in [*urls, *(v for k, v in env.items() if _URL_NAME.search(k))]:
        out.update(v for v in url_secrets(url) if len(v) >= MIN_URL_SECRET)
    return sorted(out, key=len, reverse=True)


class Scrubber:
    """Replaces every secret value in text (and in JSON-like data) by [REDACTED]."""

    def __init__(self, extra: Iterable[Optional[str]] = (), environ: Optional[Mapping[str, str]] = None,
                 urls: Iterable[Optional[str]] = ()):
        self.values = secret_values(extra, environ, urls)

    @classmethod
    def for_config(cls, config: Any, environ: Optional[Mapping[str, str]] = None) -> "Scrubber":
        """The Scrubber of an LLM run: the provider key and the base URL's credentials too
        (`config`: a uhop_cc.ai.providers.ProviderConfig)."""
        return cls([getattr(config, "api_key", None)], environ, [getattr(config, "base_url", None)])

    def text(self, s: str) -> str:
        for v in self.values:
            if v in s:
                s = s.replace(v, "[REDACTED]")
        return s

    def data(self, x: Any) -> Any:
        if isinstance(x, str):
            return self.text(x)
        if isinstance(x, dict):
            return {self.text(str(k)) if isinstance(k, str) else k: self.data(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [self.data(v) for v in x]
        return x

    def json(self, x: Any) -> str:
        return self.text(json.dumps(self.data(x), indent=2, default=str))
