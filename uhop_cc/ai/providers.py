"""LLM providers, all through the `openai` SDK (chat completions).

| provider            | key variable       | model variable (default)                          | base URL |
| openai              | OPENAI_API_KEY     | UHOP_OPENAI_MODEL (gpt-4o-mini)                   | https://api.openai.com/v1 (or OPENAI_BASE_URL) |
| deepseek            | DEEPSEEK_API_KEY   | UHOP_DEEPSEEK_MODEL (deepseek-coder)              | https://api.deepseek.com |
| groq                | GROQ_API_KEY       | UHOP_GROQ_MODEL (llama-3.3-70b-versatile)         | https://api.groq.com/openai/v1 |
| anthropic           | ANTHROPIC_API_KEY  | UHOP_ANTHROPIC_MODEL (claude-sonnet-4-5)          | https://api.anthropic.com/v1/ (OpenAI-compatible endpoint) |
| openai-compatible   | UHOP_AI_API_KEY (optional) | UHOP_AI_MODEL (required)                  | --base-url or UHOP_AI_BASE_URL (vLLM, Ollama, llama.cpp, ...) |

UHOP_AI_PROVIDER picks the default provider (else openai-compatible when a base URL is given,
else openai); UHOP_AI_MODEL is a fallback model for every provider. UHOP_AI_MAX_RETRIES (3)
bounds the retries of transient errors (429, 408/409, 5xx, timeouts, dropped connections) with
exponential backoff from UHOP_AI_BACKOFF seconds (1.0), honouring Retry-After;
UHOP_AI_TIMEOUT (60 s) is the total deadline of one request attempt (connect, send, headers and
body: a server trickling its reply a byte at a time is cut off), so a call lasts at most
(retries + 1) * timeout plus the backoff sleeps; UHOP_AI_DEBUG=1 logs each request and reply
to stderr without secrets. Settings come from the environment, then ./.env (see env.py).

Replies are read with caps: at most MAX_REPLY_BYTES of body (gzip decoded under the same cap)
and MAX_REPLY_CHARS of text handed on (longer text is cut, with Reply.truncated). Base URLs
are logged and archived through `redact_url` (no user:password@, no ?api_key=... values).
"""
from __future__ import annotations

import contextvars
import email.utils
import functools
import importlib
import logging
import random
import re
import sys
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import env as _env

__all__ = ["require_sdk", "PROVIDERS", "ProviderInfo", "ProviderConfig", "ProviderConfigError", "ProviderError", "Reply",
           "ChatClient", "resolve_config", "make_client", "redact_url", "url_secrets", "MAX_REPLY_CHARS",
           "MAX_REPLY_BYTES"]

log = logging.getLogger("uhop_cc.ai")

# A hostile or broken server must not be able to hand on (or make us hold) an unbounded reply:
# 1M characters is ~50x the longest kernel reply seen; JSON escapes can make the body several
# times the text, hence the larger byte cap before a body is refused outright.
MAX_REPLY_CHARS = 1_000_000
MAX_REPLY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    key_env: Optional[str]
    model_env: str
    default_model: Optional[str]
    base_url: Optional[str]
    key_required: bool = True


PROVIDERS: Dict[str, ProviderInfo] = {
    "openai": ProviderInfo("openai", "OPENAI_API_KEY", "UHOP_OPENAI_MODEL", "gpt-4o-mini", "https://api.openai.com/v1"),
    "deepseek": ProviderInfo("deepseek", "DEEPSEEK_API_KEY", "UHOP_DEEPSEEK_MODEL", "deepseek-coder",
                             "https://api.deepseek.com"),
    "groq": ProviderInfo("groq", "GROQ_API_KEY", "UHOP_GROQ_MODEL", "llama-3.3-70b-versatile",
                         "https://api.groq.com/openai/v1"),
    "anthropic": ProviderInfo("anthropic", "ANTHROPIC_API_KEY", "UHOP_ANTHROPIC_MODEL", "claude-sonnet-4-5",
                              "https://api.anthropic.com/v1/"),
    "openai-compatible": ProviderInfo("openai-compatible", "UHOP_AI_API_KEY", "UHOP_AI_MODEL", None, None,
                                      key_required=False),
}
_ALIASES = {"openai_compatible": "openai-compatible", "compatible": "openai-compatible", "local": "openai-compatible",
            "vllm": "openai-compatible", "ollama": "openai-compatible", "llama.cpp": "openai-compatible",
            "claude": "anthropic"}


class ProviderConfigError(ValueError):
    """A provider that cannot be used as configured (unknown name, missing key, ...). One line."""


class ProviderError(RuntimeError):
    """A request that failed for good (after the retries of transient errors)."""

    def __init__(self, message: str, *, kind: str = "error", status: Optional[int] = None, attempts: int = 1,
                 history: Optional[List[Dict[str, Any]]] = None):
        super().__init__(message)
        self.kind = kind  # timeout, connection, rate_limit, server, auth, bad_request, too_large, empty, error
        self.status = status
        self.attempts = attempts
        self.history = history or []


@dataclass(frozen=True)
class ProviderConfig:
    provider: str
    model: str
    base_url: str
    api_key: Optional[str] = field(default=None, repr=False)
    key_env: Optional[str] = None
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 1.0
    debug: bool = False

    def to_json(self) -> Dict[str, Any]:
        """Everything but the key (and the URL's credentials: see redact_url)."""
        return {"provider": self.provider, "model": self.model, "base_url": redact_url(self.base_url),
                "key_env": self.key_env, "has_key": bool(self.api_key), "timeout_s": self.timeout_s,
                "max_retries": self.max_retries, "backoff_s": self.backoff_s}

    def __repr__(self) -> str:  # reprs end up in logs and tracebacks: no key, no URL credentials
        return (f"ProviderConfig(provider={self.provider!r}, model={self.model!r}, "
                f"base_url={redact_url(self.base_url)!r}, key_env={self.key_env!r}, timeout_s={self.timeout_s!r}, "
                f"max_retries={self.max_retries!r}, backoff_s={self.backoff_s!r}, debug={self.debug!r})")


# ------------------------------------------------------------------ URL credentials
# Query (or fragment) parameters whose name says it holds a credential: api_key, access_token,
# X-Amz-Signature, sig, password, auth, ...
_SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|sig|auth|cred|session", re.I)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _split_url(url: str) -> Optional[urllib.parse.SplitResult]:
    # "user:pw@host:8000/v1" without a scheme would parse as scheme "user": parse it as //authority
    try:
        return urllib.parse.urlsplit(url if _SCHEME.match(url) else "//" + url)
    except ValueError:
        return None


def _params(q: str):
    """(name, value) of each `name=value` item of a query string or fragment, undecoded."""
    for item in q.split("&"):
        name, eq, value = item.partition("=")
        yield name, (value if eq else None)


def _secret_param(name: str, value: Optional[str]) -> bool:
    return bool(value) and bool(_SECRET_PARAM.search(urllib.parse.unquote_plus(name)))


def redact_url(url: Optional[str]) -> Optional[str]:
    """`url` fit for logs and archives: userinfo and the values of secret-looking parameters become
    [REDACTED] (http://u:pw@host/v1?api_key=K -> http://[REDACTED]@host/v1?api_key=[REDACTED])."""
    if not url:
        return url
    parts = _split_url(url)
    if parts is None:
        return "[REDACTED URL]"  # unparseable: say nothing rather than leak

    def params(q: str) -> str:
        return "&".join(f"{n}=[REDACTED]" if _secret_param(n, v) else (n if v is None else f"{n}={v}")
                        for n, v in _params(q)) if q else q

    netloc = parts.netloc
    if "@" in netloc:
        netloc = "[REDACTED]@" + netloc.rpartition("@")[2]
    out = urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=params(parts.query),
                                                 fragment=params(parts.fragment)))
    return out if _SCHEME.match(url) else out[2:]


def url_secrets(url: Optional[str]) -> List[str]:
    """The credentials inside `url`, to scrub from any text: the userinfo password (or a lone
    user name, often a token), and the values of secret-looking parameters, raw and decoded."""
    parts = _split_url(url) if url else None
    if parts is None:
        return []
    found: List[str] = []
    if "@" in parts.netloc:
        user, colon, password = parts.netloc.rpartition("@")[0].partition(":")
        v = password if colon else user
        found += [v, urllib.parse.unquote(v)]
    for q in (parts.query, parts.fragment):
        for n, v in (_params(q) if q else ()):
            if _secret_param(n, v):
                found += [v, urllib.parse.unquote_plus(v)]
    return [v for v in dict.fromkeys(found) if v]


def require_sdk():
    """The `openai` module; ProviderConfigError (one line) when the optional SDK is missing."""
    try:
        import openai
    except ImportError:
        raise ProviderConfigError("the openai SDK is not installed: pip install 'uhopc[ai]' (or pip install openai)") \
            from None
    return openai


def resolve_config(provider: Optional[str] = None, model: Optional[str] = None, base_url: Optional[str] = None, *,
                   environ: Optional[Mapping[str, str]] = None, dotenv=None) -> ProviderConfig:
    """The provider settings from the arguments, the environment and ./.env (in that order).

    Raises ProviderConfigError, with a one-line message naming the variable to set."""
    env = _env.settings(environ, dotenv)
    name = (provider or _env.get(env, "UHOP_AI_PROVIDER") or "").strip().lower()
    if not name:
        name = "openai-compatible" if (base_url or _env.get(env, "UHOP_AI_BASE_URL")) else "openai"
    name = _ALIASES.get(name, name)
    info = PROVIDERS.get(name)
    if info is None:
        raise ProviderConfigError(f"unknown AI provider `{name}` (choose one of: {', '.join(PROVIDERS)})")
    url = base_url or None
    if url is None:
        if name == "openai-compatible":
            url = _env.get(env, "UHOP_AI_BASE_URL")
            if not url:
                raise ProviderConfigError("the openai-compatible provider needs a server: pass --base-url URL or set "
                                          "UHOP_AI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama)")
        elif name == "openai":
            url = _env.get(env, "OPENAI_BASE_URL") or info.base_url
        else:
            url = info.base_url
    key = _env.get(env, info.key_env) if info.key_env else None
    if info.key_required and not key:
        raise ProviderConfigError(f"{info.key_env} is not set: export {info.key_env}=... or put it in ./.env "
                                  f"(provider {name})")
    chosen = model or _env.get(env, info.model_env) or _env.get(env, "UHOP_AI_MODEL") or info.default_model
    if not chosen:
        raise ProviderConfigError(f"no model for provider {name}: pass --model M or set {info.model_env}")
    try:
        timeout = _env.get_float(env, "UHOP_AI_TIMEOUT", 60.0)
        retries = _env.get_int(env, "UHOP_AI_MAX_RETRIES", 3)
        backoff = _env.get_float(env, "UHOP_AI_BACKOFF", 1.0)
    except ValueError as e:
        raise ProviderConfigError(str(e)) from None
    if timeout <= 0:
        raise ProviderConfigError("UHOP_AI_TIMEOUT must be a positive number of seconds")
    return ProviderConfig(name, chosen, url, key, info.key_env, timeout, max(0, retries), max(0.0, backoff),
                          _env.get_bool(env, "UHOP_AI_DEBUG"))


@dataclass
class Reply:
    text: str
    model: str
    finish_reason: Optional[str] = None
    usage: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    attempts: int = 1  # HTTP requests made, retries included
    history: List[Dict[str, Any]] = field(default_factory=list)  # the failed tries: kind, status, delay
    truncated: bool = False  # the text was cut to MAX_REPLY_CHARS

    def to_json(self) -> Dict[str, Any]:
        return {"model": self.model, "finish_reason": self.finish_reason, "usage": self.usage,
                "seconds": self.seconds, "attempts": self.attempts, "history": self.history,
                "truncated": self.truncated}


def _retry_after(headers) -> Optional[float]:
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        v = headers.get("retry-after")
    except Exception:  # noqa: BLE001
        return None
    if v is None:
        return None
    v = str(v).strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(v)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# ------------------------------------------------------------------ HTTP with a total deadline
# httpx timeouts bound each socket operation, not the request: a server sending one byte every
# second never trips a 5 s read timeout (a run once stalled 562 s so). The SDK is given an httpx
# client whose httpcore network backend cuts every connect, read, write and TLS handshake to what
# is left of a per-attempt deadline (a context variable set around the SDK call), so the socket
# read itself stops at the deadline: no watchdog thread, nothing left reading in the background.
_deadline: "contextvars.ContextVar[Optional[float]]" = contextvars.ContextVar("uhop_ai_deadline", default=None)


class _HostileReply(Exception):
    """A reply refused while it is read (too large, an unknown encoding): not retried."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _time_left(timeout: Optional[float], expired: Callable[[str], BaseException]) -> Optional[float]:
    """`timeout` cut to what is left of the current deadline; raises expired(...) once it has passed."""
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """An httpcore network stream whose every operation ends by the deadline."""

    def __init__(self, inner, core):
        self._inner, self._core = inner, core

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, self._core.ReadTimeout))

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        # in pieces: the inner write gives each send() the whole timeout, a slow reader could stretch it
        for i in range(0, max(len(buffer), 1), 1 << 16):
            self._inner.write(buffer[i:i + (1 << 16)], _time_left(timeout, self._core.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout, self._core.ConnectTimeout))
        return _DeadlineStream(inner, self._core)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """An httpcore network backend handing out _DeadlineStreams (connecting within the deadline)."""

    def __init__(self, inner, core):
        self._inner, self._core = inner, core

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        t = _time_left(timeout, self._core.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, timeout=t, local_address=local_address,
                                                       socket_options=socket_options), self._core)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        t = _time_left(timeout, self._core.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout=t, socket_options=socket_options),
                               self._core)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _http_modules(openai):
    """(httpx, httpcore) as the installed SDK speaks them: httpx2/httpcore2 (SDK 3.x) or httpx/httpcore."""
    base = importlib.import_module("openai._base_client")
    hx = getattr(base, "httpx2", None) or getattr(base, "httpx")
    return hx, importlib.import_module("httpcore2" if hx.__name__ == "httpx2" else "httpcore")


def _arm(transport, core) -> bool:
    """Put the deadline backend under an httpx transport; False where its layout is unknown."""
    pool = getattr(transport, "_pool", None)  # HTTPTransport takes no network backend; its httpcore pool does
    inner = getattr(pool, "_network_backend", None)
    if inner is None:
        return False
    if not isinstance(inner, _DeadlineBackend):
        pool._network_backend = _DeadlineBackend(inner, core)
    return True


@functools.lru_cache(maxsize=None)
def _capped_stream_type(hx):
    class CappedStream(hx.SyncByteStream):  # httpx wants its own base class here
        """The response body, refused past `limit` bytes (after gzip decoding, done here under the
        same cap: a 50 KB gzip bomb must not become gigabytes), checking the deadline per chunk."""

        def __init__(self, inner, gzipped: bool, limit: int):
            self._inner, self._gzipped, self._limit = inner, gzipped, limit

        def __iter__(self):
            dec = zlib.decompressobj(zlib.MAX_WBITS | 32) if self._gzipped else None  # gzip or zlib header
            total = 0
            for raw in self._inner:
                _time_left(None, hx.ReadTimeout)
                try:
                    data = dec.decompress(raw, self._limit - total + 1) if dec else raw
                    over = bool(dec and dec.unconsumed_tail)
                except zlib.error as e:
                    raise _HostileReply("error", f"undecodable compressed reply: {e}") from None
                total += len(data)
                if over or total > self._limit:
                    raise _HostileReply("too_large", f"reply larger than {self._limit} bytes: refused")
                if data:
                    yield data

        def close(self) -> None:
            self._inner.close()

    return CappedStream


def _cap_body(hx, limit_bytes: Callable[[], int]):
    """A response hook: refuse a declared length over the cap, decode gzip ourselves, cap the body."""
    def hook(response) -> None:
        limit = limit_bytes()
        encs = [e.strip().lower() for e in response.headers.get_list("content-encoding", split_commas=True)]
        encs = [e for e in encs if e and e != "identity"]
        if len(encs) > 1 or (encs and encs[0] not in ("gzip", "x-gzip", "deflate")):
            raise _HostileReply("error", f"unsupported content-encoding {', '.join(encs)} (asked for gzip)")
        declared = (response.headers.get("content-length") or "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise _HostileReply("too_large", f"reply of {declared} bytes (over {limit}): refused")
        response.stream = _capped_stream_type(hx)(response.stream, bool(encs), limit)
        if encs:
            del response.headers["content-encoding"]  # decoded above: httpx must not decode again
    return hook


def _http_client(openai, timeout_s: float):
    """The SDK's default httpx client, with the deadline backend under every transport (proxies
    from the environment included) and the body cap; None where the layout is not the known one."""
    try:
        hx, core = _http_modules(openai)
        cls = getattr(openai, "DefaultHttpxClient", None) or hx.Client

        def ask_gzip(request) -> None:  # only encodings we can decode under the cap
            request.headers["Accept-Encoding"] = "gzip"

        client = cls(timeout=timeout_s, event_hooks={"request": [ask_gzip],
                                                     "response": [_cap_body(hx, lambda: MAX_REPLY_BYTES)]})
        transports = [client._transport] + [t for t in getattr(client, "_mounts", {}).values() if t is not None]
    except Exception:  # noqa: BLE001 - an SDK layout we do not know: plain client, per-read timeouts only
        return None
    if not all(_arm(t, core) for t in transports):
        client.close()
        return None
    return client


def _hostile(e: BaseException) -> Optional[_HostileReply]:
    """The _HostileReply behind `e` (the 1.x SDK wraps unknown errors in APIConnectionError)."""
    for _ in range(8):
        if e is None or isinstance(e, _HostileReply):
            return e
        e = e.__cause__ or e.__context__
    return None


class ChatClient:
    """Chat completions with bounded retries of transient errors. `complete` returns a Reply or
    raises ProviderError; it never raises anything else for what the server or network does."""

    max_retry_after_s = 60.0
    max_backoff_s = 30.0

    def __init__(self, config: ProviderConfig, *, sleep: Callable[[float], None] = time.sleep):
        openai = require_sdk()
        self.config = config
        self._openai = openai
        self._sleep = sleep
        self._url = redact_url(config.base_url)
        # what must not show in a message or log line: the key and the URL's credentials
        self._secrets = sorted({v for v in [config.api_key, *url_secrets(config.base_url)] if v and len(v) >= 3},
                               key=len, reverse=True)
        http = _http_client(openai, config.timeout_s)
        self.hard_deadline = http is not None  # False: an unknown SDK layout, per-read timeouts only
        self._client = openai.OpenAI(api_key=config.api_key or "not-needed", base_url=config.base_url,
                                     timeout=config.timeout_s, max_retries=0,
                                     **({"http_client": http} if http is not None else {}))
        self._debug = config.debug
        if self._debug and not log.handlers:
            h = logging.StreamHandler(sys.stderr)
            h.setFormatter(logging.Formatter("uhopc ai: %(message)s"))
            log.addHandler(h)
            log.setLevel(logging.DEBUG)
        if not self.hard_deadline:
            self._say("unknown openai SDK layout: UHOP_AI_TIMEOUT bounds each read, not the whole request")

    def _clean(self, msg: str) -> str:
        for v in self._secrets:
            msg = msg.replace(v, "[REDACTED]")
        return msg

    def _say(self, msg: str) -> None:
        if self._debug:
            log.debug(self._clean(msg))

    def _classify(self, e: BaseException):
        """(kind, status, retryable, retry_after, message)"""
        o = self._openai
        hostile = _hostile(e)
        if hostile is not None:
            return hostile.kind, None, False, None, str(hostile)
        if isinstance(e, o.APITimeoutError):
            return "timeout", None, True, None, f"no reply within {self.config.timeout_s:g} s"
        if isinstance(e, o.APIConnectionError):
            cause = e.__cause__ or e.__context__
            detail = f": {type(cause).__name__}: {cause}" if cause else ""
            return "connection", None, True, None, f"connection failed{detail}"[:300]
        if isinstance(e, o.APIStatusError):
            status = int(e.status_code)
            ra = _retry_after(getattr(e.response, "headers", None))
            body = str(getattr(e, "message", "") or e)[:300]
            if status == 429:
                return "rate_limit", status, True, ra, f"rate limited (HTTP 429): {body}"
            if status in (408, 409) or status >= 500:
                return "server", status, True, ra, f"server error (HTTP {status}): {body}"
            if status in (401, 403):
                hint = f": check {self.config.key_env}" if self.config.key_env else ""
                return "auth", status, False, None, f"authentication failed (HTTP {status}){hint}"
            if status == 404:
                return "bad_request", status, False, None, (f"not found (HTTP 404): is model `{self.config.model}` "
                                                            f"served at {self._url}? {body}")
            return "bad_request", status, False, None, f"request refused (HTTP {status}): {body}"
        return "error", None, False, None, f"{type(e).__name__}: {e}"[:300]

    def _call(self, kwargs: Dict[str, Any]):
        """One attempt under its total deadline: (response, None) or (None, (kind, status, retryable,
        retry_after, message))."""
        token = _deadline.set(time.monotonic() + self.config.timeout_s)
        try:
            return self._client.chat.completions.create(**kwargs), None
        except self._openai.OpenAIError as e:
            return None, self._classify(e)
        except Exception as e:  # noqa: BLE001 - e.g. a malformed reply the SDK cannot parse, a refused body
            h = _hostile(e)
            if h is not None:
                return None, (h.kind, None, False, None, str(h))
            return None, ("error", None, False, None, f"{type(e).__name__}: {e}"[:300])
        finally:
            _deadline.reset(token)

    def _reply(self, resp, t0: float, attempts: int, history: List[Dict[str, Any]]) -> Reply:
        choice = resp.choices[0] if resp.choices else None
        text = (choice.message.content or "") if choice is not None and choice.message else ""
        usage = resp.usage.model_dump() if getattr(resp, "usage", None) is not None else {}
        cap = MAX_REPLY_CHARS  # read here, not bound at import: tests and callers may lower it
        return Reply(text[:cap], getattr(resp, "model", None) or self.config.model,
                     getattr(choice, "finish_reason", None), usage, time.perf_counter() - t0, attempts, history,
                     truncated=len(text) > cap)

    def complete(self, messages: Sequence[Mapping[str, str]], *, temperature: Optional[float] = None,
                 max_tokens: Optional[int] = None) -> Reply:
        """Each attempt ends within config.timeout_s (connect to last byte); the call within
        (max_retries + 1) * timeout_s plus the backoff sleeps (each at most max_backoff_s, or
        max_retry_after_s when the server sent Retry-After)."""
        cfg = self.config
        history: List[Dict[str, Any]] = []
        t0 = time.perf_counter()
        chars = sum(len(m.get("content") or "") for m in messages)
        kwargs: Dict[str, Any] = {"model": cfg.model, "messages": [dict(m) for m in messages]}
        if temperature is not None:
            kwargs["temperature"] = float(temperature)
        if max_tokens is not None:
            kwargs["max_tokens"] = int(max_tokens)
        for attempt in range(cfg.max_retries + 1):
            self._say(f"POST {self._url.rstrip('/')}/chat/completions provider={cfg.provider} model={cfg.model} "
                      f"messages={len(messages)} chars={chars} try={attempt + 1}/{cfg.max_retries + 1}")
            t1 = time.perf_counter()
            resp, failure = self._call(kwargs)
            if failure is None:
                try:
                    reply = self._reply(resp, t0, attempt + 1, history)
                except Exception as e:  # noqa: BLE001
                    raise ProviderError(self._clean(f"unreadable reply: {type(e).__name__}: {e}"), kind="error",
                                        attempts=attempt + 1, history=history) from None
                self._say(f"reply in {time.perf_counter() - t1:.2f} s: {len(reply.text)} chars"
                          f"{' (truncated)' if reply.truncated else ''}, finish_reason={reply.finish_reason}")
                return reply
            kind, status, retryable, ra, msg = failure
            msg = self._clean(msg)
            delay = None
            if retryable and attempt < cfg.max_retries:
                delay = ra if ra is not None else cfg.backoff_s * (2 ** attempt) * random.uniform(0.5, 1.5)
                delay = min(delay, self.max_retry_after_s if ra is not None else self.max_backoff_s)
            history.append({"try": attempt + 1, "kind": kind, "status": status, "message": msg,
                            "seconds": round(time.perf_counter() - t1, 3),
                            "retry_in_s": None if delay is None else round(delay, 3)})
            self._say(f"failed: {msg}" + (f"; retrying in {delay:.2f} s" if delay is not None else ""))
            if delay is None:
                tries = attempt + 1
                what = f"{msg} (after {tries} tries)" if tries > 1 else msg
                raise ProviderError(f"{cfg.provider}: {what}", kind=kind, status=status, attempts=tries,
                                    history=history)
            self._sleep(delay)
        raise AssertionError("unreachable")


def make_client(provider: Optional[str] = None, model: Optional[str] = None, base_url: Optional[str] = None,
                **kw) -> ChatClient:
    return ChatClient(resolve_config(provider, model, base_url, **kw))
