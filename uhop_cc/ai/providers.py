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
UHOP_AI_TIMEOUT (60 s) is the request timeout; UHOP_AI_DEBUG=1 logs each request and reply
to stderr without secrets. Settings come from the environment, then ./.env (see env.py).
"""
from __future__ import annotations

import email.utils
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import env as _env

__all__ = ["require_sdk", "PROVIDERS", "ProviderInfo", "ProviderConfig", "ProviderConfigError", "ProviderError", "Reply",
           "ChatClient", "resolve_config", "make_client"]

log = logging.getLogger("uhop_cc.ai")


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
        self.kind = kind  # timeout, connection, rate_limit, server, auth, bad_request, empty, error
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
        """Everything but the key."""
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url, "key_env": self.key_env,
                "has_key": bool(self.api_key), "timeout_s": self.timeout_s, "max_retries": self.max_retries,
                "backoff_s": self.backoff_s}


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

    def to_json(self) -> Dict[str, Any]:
        return {"model": self.model, "finish_reason": self.finish_reason, "usage": self.usage,
                "seconds": self.seconds, "attempts": self.attempts, "history": self.history}


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
        self._client = openai.OpenAI(api_key=config.api_key or "not-needed", base_url=config.base_url,
                                     timeout=config.timeout_s, max_retries=0)
        self._debug = config.debug
        if self._debug and not log.handlers:
            h = logging.StreamHandler(sys.stderr)
            h.setFormatter(logging.Formatter("uhopc ai: %(message)s"))
            log.addHandler(h)
            log.setLevel(logging.DEBUG)

    def _say(self, msg: str) -> None:
        if self._debug:
            key = self.config.api_key
            if key and len(key) >= 4:
                msg = msg.replace(key, "[REDACTED]")
            log.debug(msg)

    def _classify(self, e: BaseException):
        """(kind, status, retryable, retry_after, message)"""
        o = self._openai
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
                                                            f"served at {self.config.base_url}? {body}")
            return "bad_request", status, False, None, f"request refused (HTTP {status}): {body}"
        return "error", None, False, None, f"{type(e).__name__}: {e}"[:300]

    def complete(self, messages: Sequence[Mapping[str, str]], *, temperature: Optional[float] = None,
                 max_tokens: Optional[int] = None) -> Reply:
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
            self._say(f"POST {cfg.base_url.rstrip('/')}/chat/completions provider={cfg.provider} model={cfg.model} "
                      f"messages={len(messages)} chars={chars} try={attempt + 1}/{cfg.max_retries + 1}")
            t1 = time.perf_counter()
            try:
                resp = self._client.chat.completions.create(**kwargs)
            except self._openai.OpenAIError as e:
                kind, status, retryable, ra, msg = self._classify(e)
            except Exception as e:  # noqa: BLE001 - e.g. a malformed reply the SDK cannot parse
                kind, status, retryable, ra, msg = "error", None, False, None, f"{type(e).__name__}: {e}"[:300]
            else:
                try:
                    choice = resp.choices[0] if resp.choices else None
                    text = (choice.message.content or "") if choice is not None and choice.message else ""
                    usage = resp.usage.model_dump() if getattr(resp, "usage", None) is not None else {}
                    reply = Reply(text, getattr(resp, "model", None) or cfg.model,
                                  getattr(choice, "finish_reason", None), usage, time.perf_counter() - t0,
                                  attempt + 1, history)
                except Exception as e:  # noqa: BLE001
                    raise ProviderError(f"unreadable reply: {type(e).__name__}: {e}", kind="error",
                                        attempts=attempt + 1, history=history) from None
                self._say(f"reply in {time.perf_counter() - t1:.2f} s: {len(reply.text)} chars, "
                          f"finish_reason={reply.finish_reason}")
                return reply
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
