"""Fixtures of the LLM-loop tests: the scripted OpenAI-compatible server (ai/fake_llm.py) and an
environment pointing at it (tests/ is on sys.path: see tests/conftest.py)."""
from __future__ import annotations

import pytest

from ai.fake_llm import FAKE_KEY, FakeLLM


@pytest.fixture(scope="module")
def fake_llm():
    llm = FakeLLM().start()
    yield llm
    llm.stop()


@pytest.fixture
def llm(fake_llm, monkeypatch, tmp_path):
    """The module's server, reset, with the environment pointing at it and a fresh dataset dir."""
    fake_llm.reset()
    for k in ("OPENAI_API_KEY", "DEEPSEEK_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY", "UHOP_AI_PROVIDER",
              "UHOP_AI_MODEL", "UHOP_AI_BASE_URL", "UHOP_AI_DEBUG"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("UHOP_AI_PROVIDER", "openai-compatible")
    monkeypatch.setenv("UHOP_AI_BASE_URL", fake_llm.url)
    monkeypatch.setenv("UHOP_AI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("UHOP_AI_MODEL", "fake-coder")
    monkeypatch.setenv("UHOP_AI_MAX_RETRIES", "2")
    monkeypatch.setenv("UHOP_AI_BACKOFF", "0.01")
    monkeypatch.setenv("UHOP_AI_TIMEOUT", "10")
    monkeypatch.setenv("UHOP_DATASET_DIR", str(tmp_path / "dataset"))
    monkeypatch.setenv("UHOP_NO_CACHE", "0")
    yield fake_llm
    fake_llm.reset()
