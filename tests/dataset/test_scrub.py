"""Secrets in base URLs (user:password@, ?api_key=...) and huge files in the attempt archive."""
from __future__ import annotations

import json

from uhop_cc.ai.providers import ProviderConfig, redact_url, resolve_config
from uhop_cc.dataset import store as store_mod
from uhop_cc.dataset.records import AttemptRecord, Scrubber, new_attempt_id
from uhop_cc.dataset.store import MAX_ARCHIVED_CHARS, DatasetStore

URL = "http://user:sekret@host/v1?api_key=XYZ"
KEY = "sk-scrub-test-KEY-0123456789abcdef"


def _config(url: str = URL) -> ProviderConfig:
    return resolve_config("openai-compatible", base_url=url, environ={"UHOP_AI_MODEL": "m", "UHOP_AI_API_KEY": KEY},
                          dotenv="/nonexistent")


def _rec(**kw) -> AttemptRecord:
    d = dict(id=new_attempt_id("k"), created="2025-01-01T00:00:00Z", kernel="k", uir_hash="h", category="elementwise",
             target="opencl", device="Dev", sizes={"N": 1}, provider="openai-compatible", model="m", round=1,
             sample=1, status="NO_CODE")
    d.update(kw)
    return AttemptRecord(**d)


def test_config_json_has_no_url_credentials():
    cfg = _config()
    assert cfg.to_json()["base_url"] == "http://[REDACTED]@host/v1?api_key=[REDACTED]"
    for text in (json.dumps(cfg.to_json()), repr(cfg), str(cfg)):
        assert "sekret" not in text and "XYZ" not in text and KEY not in text, text


def test_redact_url_keeps_what_is_not_secret():
    assert redact_url("https://api.example.com/v1") == "https://api.example.com/v1"
    assert redact_url("http://h:8000/v1?model=x&access_token=t0k&sig=a%2Fb") == \
        "http://h:8000/v1?model=x&access_token=[REDACTED]&sig=[REDACTED]"
    assert redact_url("https://tok-in-user-name@h/v1") == "https://[REDACTED]@h/v1"
    assert redact_url("user:pw@localhost:11434/v1") == "[REDACTED]@localhost:11434/v1"  # no scheme


def test_scrubber_for_config_scrubs_url_credentials_anywhere():
    s = Scrubber.for_config(_config(), environ={})
    text = "GET http://user:sekret@host/v1?api_key=XYZ failed; password sekret, key XYZ, " + KEY
    out = s.text(text)
    assert "sekret" not in out and "XYZ" not in out and KEY not in out, out
    assert "user" in out and "host/v1" in out  # the user name and the host are no secrets
    assert "sekret" not in s.json({"url": URL, "echo": ["sekret", "XYZ"]})
    # the same through the urls argument, and from a *_URL variable of the environment
    assert "sekret" not in Scrubber(urls=[URL], environ={}).text("a sekret b")
    assert Scrubber(environ={"UHOP_AI_BASE_URL": URL}).text("XYZ and sekret") == "[REDACTED] and [REDACTED]"
    assert Scrubber(environ={"UHOP_AI_BASE_URL": "http://localhost:11434/v1"}).values == []


def test_store_archives_no_url_credentials(tmp_path):
    st = DatasetStore(tmp_path)
    cfg = _config()
    folder = st.add(_rec(extra={"provider": cfg.to_json()}), {"reply.txt": f"I was called at {URL}"},
                    Scrubber.for_config(cfg, environ={}))
    for p in folder.iterdir():
        data = p.read_text()
        assert "sekret" not in data and "XYZ" not in data, p


def test_huge_reply_is_archived_truncated(tmp_path):
    """A 5 MB reply keeps 256 KiB on disk, a closing note, and its length in metadata."""
    n = 5 * 1024 * 1024
    reply = ("x" * 1000 + "\n") * (n // 1001) + "y" * (n % 1001)
    assert len(reply) == n
    st = DatasetStore(tmp_path)
    folder = st.add(_rec(), {"reply.txt": reply, "prompt.txt": "short prompt",
                             "kernel.cl": "k" * (MAX_ARCHIVED_CHARS + 1)})
    kept = (folder / "reply.txt").read_text()
    note = f"\n[... truncated by uhopc: {n} characters in all, {MAX_ARCHIVED_CHARS} kept]\n"
    assert kept == reply[:MAX_ARCHIVED_CHARS] + note
    assert (folder / "prompt.txt").read_text() == "short prompt"
    assert (folder / "kernel.cl").read_text().endswith(
        f"\n[... truncated by uhopc: {MAX_ARCHIVED_CHARS + 1} characters in all, {MAX_ARCHIVED_CHARS} kept]\n")
    meta = st.get(folder.name)
    assert meta["extra"]["truncated"] == {"reply.txt": n, "kernel.cl": MAX_ARCHIVED_CHARS + 1}
    assert st.read(folder.name, "prompt.txt") == "short prompt"


def test_truncation_never_leaves_part_of_a_secret(tmp_path, monkeypatch):
    """A key across the cut is redacted whole (the cut moves back), not left as a prefix."""
    monkeypatch.setattr(store_mod, "MAX_ARCHIVED_CHARS", 100)
    text = "a" * 90 + KEY + "b" * 500
    folder = DatasetStore(tmp_path).add(_rec(), {"reply.txt": text}, Scrubber([KEY], environ={}))
    kept = (folder / "reply.txt").read_text()
    assert kept.startswith("a" * 90 + "\n[... truncated by uhopc:") and KEY[:5] not in kept, kept
