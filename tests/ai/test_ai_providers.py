"""Provider configuration and the HTTP client against a real local server."""
from __future__ import annotations

import time

import pytest

from ai.fake_llm import FAKE_KEY, drop, reply, slow, status
from uhop_cc.ai.env import read_dotenv, settings
from uhop_cc.ai.providers import ChatClient, ProviderConfigError, ProviderError, resolve_config


def test_dotenv_does_not_override_environment(tmp_path):
    (tmp_path / ".env").write_text('# comment\nexport OPENAI_API_KEY="from-dotenv-123456"\nUHOP_OPENAI_MODEL=dot-model '
                                   "# trailing\nUHOP_AI_TIMEOUT='12'\n")
    d = read_dotenv(tmp_path / ".env")
    assert d == {"OPENAI_API_KEY": "from-dotenv-123456", "UHOP_OPENAI_MODEL": "dot-model", "UHOP_AI_TIMEOUT": "12"}
    env = {"OPENAI_API_KEY": "from-environment-123456"}
    assert settings(env, tmp_path / ".env")["OPENAI_API_KEY"] == "from-environment-123456"
    cfg = resolve_config("openai", environ=env, dotenv=tmp_path / ".env")
    assert cfg.api_key == "from-environment-123456" and cfg.model == "dot-model" and cfg.timeout_s == 12.0
    assert cfg.base_url == "https://api.openai.com/v1" and "from-environment" not in repr(cfg)
    assert "from-environment" not in str(cfg.to_json())


def test_dotenv_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    (tmp_path / ".env").write_text("DEEPSEEK_API_KEY=ds-key-from-dotenv\n")
    cfg = resolve_config("deepseek")
    assert cfg.api_key == "ds-key-from-dotenv" and cfg.model == "deepseek-coder"
    assert cfg.base_url == "https://api.deepseek.com"


@pytest.mark.parametrize("provider,var", [("openai", "OPENAI_API_KEY"), ("deepseek", "DEEPSEEK_API_KEY"),
                                          ("groq", "GROQ_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_key_is_one_line_naming_the_variable(provider, var, tmp_path):
    with pytest.raises(ProviderConfigError) as e:
        resolve_config(provider, environ={}, dotenv=tmp_path / "none.env")
    msg = str(e.value)
    assert var in msg and "\n" not in msg


def test_provider_defaults(tmp_path):
    none = tmp_path / "none.env"
    env = {"GROQ_API_KEY": "g" * 20, "ANTHROPIC_API_KEY": "a" * 20, "UHOP_AI_PROVIDER": "groq"}
    assert resolve_config(environ=env, dotenv=none).base_url == "https://api.groq.com/openai/v1"
    assert resolve_config("anthropic", environ=env, dotenv=none).base_url == "https://api.anthropic.com/v1/"
    c = resolve_config(base_url="http://127.0.0.1:9/v1", model="m", environ={}, dotenv=none)
    assert c.provider == "openai-compatible" and c.api_key is None and c.max_retries == 3 and c.timeout_s == 60
    with pytest.raises(ProviderConfigError, match="UHOP_AI_BASE_URL"):
        resolve_config("openai-compatible", model="m", environ={}, dotenv=none)
    with pytest.raises(ProviderConfigError, match="unknown AI provider"):
        resolve_config("nope", environ={}, dotenv=none)


def _client(llm, **env) -> ChatClient:
    e = {"UHOP_AI_API_KEY": FAKE_KEY, "UHOP_AI_MODEL": "fake", "UHOP_AI_BACKOFF": "0.01", **env}
    return ChatClient(resolve_config("openai-compatible", base_url=llm.url, environ=e, dotenv="/nonexistent"))


def test_retries_429_500_and_dropped_connection(llm):
    llm.queue(status(429, retry_after=0), status(500), drop(), reply("hello"))
    r = _client(llm, UHOP_AI_MAX_RETRIES="3").complete([{"role": "user", "content": "hi"}])
    assert r.text == "hello" and r.attempts == 4 and len(llm.requests) == 4
    assert [h["kind"] for h in r.history] == ["rate_limit", "server", "connection"]
    assert llm.requests[0]["authorization"] == f"Bearer {FAKE_KEY}"


def test_retry_after_is_honoured(llm):
    llm.queue(status(429, retry_after=1), reply("ok"))
    t0 = time.perf_counter()
    r = _client(llm).complete([{"role": "user", "content": "hi"}])
    assert r.text == "ok" and time.perf_counter() - t0 >= 0.9 and r.history[0]["retry_in_s"] == 1.0


def test_retries_are_bounded(llm):
    llm.queue(*[status(503)] * 5)
    with pytest.raises(ProviderError) as e:
        _client(llm, UHOP_AI_MAX_RETRIES="2").complete([{"role": "user", "content": "hi"}])
    assert e.value.attempts == 3 and len(llm.requests) == 3 and "503" in str(e.value)


def test_client_errors_are_not_retried(llm):
    llm.queue(status(401), reply("never"))
    with pytest.raises(ProviderError) as e:
        _client(llm).complete([{"role": "user", "content": "hi"}])
    assert e.value.kind == "auth" and len(llm.requests) == 1 and "UHOP_AI_API_KEY" in str(e.value)


def test_slow_reply_times_out_quickly(llm):
    llm.queue(slow(3.0), slow(3.0))
    t0 = time.perf_counter()
    with pytest.raises(ProviderError) as e:
        _client(llm, UHOP_AI_TIMEOUT="0.3", UHOP_AI_MAX_RETRIES="1").complete([{"role": "user", "content": "hi"}])
    assert e.value.kind == "timeout" and e.value.attempts == 2 and time.perf_counter() - t0 < 2.5


def test_debug_log_has_no_key(llm, capfd):
    llm.queue(reply("x"))
    _client(llm, UHOP_AI_DEBUG="1").complete([{"role": "user", "content": "hi"}])
    err = capfd.readouterr().err
    assert "chat/completions" in err and FAKE_KEY not in err
