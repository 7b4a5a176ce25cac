"""A hostile or broken provider: slowloris replies, huge and compressed bodies, credentials in the
base URL, replies built to make code extraction slow. Against the real loopback server."""
from __future__ import annotations

import gzip
import json
import time

import pytest

from ai.fake_llm import FAKE_KEY, raw, reply, trickle
from uhop_cc.ai import providers
from uhop_cc.ai.extract import extract_code, fenced_blocks, kernel_names
from uhop_cc.ai.providers import ChatClient, ProviderError, resolve_config

HI = [{"role": "user", "content": "hi"}]


def _client(llm, base_url=None, **env) -> ChatClient:
    e = {"UHOP_AI_API_KEY": FAKE_KEY, "UHOP_AI_MODEL": "fake", "UHOP_AI_BACKOFF": "0.01",
         "UHOP_AI_MAX_RETRIES": "0", **env}
    return ChatClient(resolve_config("openai-compatible", base_url=base_url or llm.url, environ=e,
                                     dotenv="/nonexistent"))


def _completion(text: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}]}).encode()


def _hung_up(action, within: float):
    """When the server saw the client close the connection (None: not within `within` s)."""
    end = time.monotonic() + within
    while action["hung_up_after_s"] is None and time.monotonic() < end:
        time.sleep(0.05)
    return action["hung_up_after_s"]


# ------------------------------------------------------------------ slowloris
@pytest.mark.parametrize("where", ["body", "headers"])
def test_trickled_reply_stops_at_the_total_deadline(llm, where):
    """A byte every 0.5 s never trips a per-read timeout; the 2 s deadline covers the whole attempt,
    and the socket is really closed (the server's next writes fail), not left read by a thread."""
    action = trickle(0.5, where=where)
    llm.queue(action)
    t0 = time.perf_counter()
    with pytest.raises(ProviderError) as e:
        _client(llm, UHOP_AI_TIMEOUT="2").complete(HI)
    took = time.perf_counter() - t0
    assert e.value.kind == "timeout" and e.value.attempts == 1, e.value
    assert 1.9 <= took < 3.5, took
    hung_up = _hung_up(action, 3.0)
    assert hung_up is not None and hung_up < 4.0, hung_up


def test_retries_of_a_trickled_reply_are_bounded(llm):
    llm.queue(trickle(0.3), trickle(0.3), trickle(0.3))
    t0 = time.perf_counter()
    with pytest.raises(ProviderError) as e:
        _client(llm, UHOP_AI_TIMEOUT="1", UHOP_AI_MAX_RETRIES="1").complete(HI)
    took = time.perf_counter() - t0
    assert e.value.kind == "timeout" and e.value.attempts == 2 and len(llm.requests) == 2
    assert took < 2 * 1.0 + 1.0, took  # (retries + 1) * timeout, plus a 0.01 s backoff and slack


# ------------------------------------------------------------------ huge and compressed replies
def test_long_reply_text_is_cut_to_the_cap(llm):
    llm.queue(reply("x" * (providers.MAX_REPLY_CHARS + 500_000)))
    r = _client(llm).complete(HI)
    assert len(r.text) == providers.MAX_REPLY_CHARS and r.truncated and r.to_json()["truncated"]
    llm.queue(reply("short"))
    r = _client(llm).complete(HI)
    assert r.text == "short" and not r.truncated


@pytest.mark.parametrize("declared", [True, False])
def test_body_over_the_byte_cap_is_refused_not_retried(llm, monkeypatch, declared):
    monkeypatch.setattr(providers, "MAX_REPLY_BYTES", 1 << 20)
    body = _completion("y" * (3 << 20))
    llm.queue(raw(body, {} if declared else {"Content-Length": None}), reply("never"))
    with pytest.raises(ProviderError) as e:
        _client(llm, UHOP_AI_MAX_RETRIES="2").complete(HI)
    assert e.value.kind == "too_large" and e.value.attempts == 1 and len(llm.requests) == 1, e.value


def test_gzip_bomb_is_refused(llm):
    """~20 KB on the wire, 20 MB decoded: the cap applies to the decoded body."""
    bomb = gzip.compress(b'{"choices": [' + b" " * (20 << 20) + b"]}", compresslevel=9)
    assert len(bomb) < 100_000
    llm.queue(raw(bomb, {"Content-Encoding": "gzip"}))
    t0 = time.perf_counter()
    with pytest.raises(ProviderError) as e:
        _client(llm).complete(HI)
    assert e.value.kind == "too_large" and time.perf_counter() - t0 < 2.0, e.value


def test_gzip_reply_is_decoded_and_others_refused(llm):
    llm.queue(raw(gzip.compress(_completion("zipped")), {"Content-Encoding": "gzip"}),
              raw(_completion("brotli?"), {"Content-Encoding": "br"}))
    c = _client(llm)
    assert c.complete(HI).text == "zipped"
    assert llm.requests[0]["accept_encoding"] == "gzip"
    with pytest.raises(ProviderError, match="content-encoding"):
        c.complete(HI)


# ------------------------------------------------------------------ credentials in the base URL
def test_url_credentials_never_shown(llm, capfd):
    url = llm.url.replace("http://", "http://user:sekret@") + "?api_key=XYZ"
    cfg = resolve_config("openai-compatible", base_url=url, environ={"UHOP_AI_MODEL": "m"}, dotenv="/nonexistent")
    port = llm.url.split(":")[-1].split("/")[0]
    assert cfg.to_json()["base_url"] == f"http://[REDACTED]@127.0.0.1:{port}/v1?api_key=[REDACTED]"
    for text in (json.dumps(cfg.to_json()), repr(cfg)):
        assert "sekret" not in text and "XYZ" not in text, text
    c = _client(llm, base_url=url, UHOP_AI_DEBUG="1")
    with pytest.raises(ProviderError) as e:  # the script is empty: HTTP 400 (or a 404 echoing the path)
        c.complete(HI)
    shown = str(e.value) + json.dumps(e.value.history) + capfd.readouterr().err
    assert "chat/completions" in shown and "sekret" not in shown and "XYZ" not in shown, shown


# ------------------------------------------------------------------ extraction stays linear
def adversarial_reply(n: int = 1_000_000, fenced: bool = True) -> str:
    """Pieces that made the old extraction quadratic: unclosed comments and attributes, kernels
    without braces, parens, quotes, unterminated fences, long lines of backticks."""
    pieces = ["__kernel __attribute__((", "__global__ __launch_bounds__(", "__kernel void f(", "((((((", "{{{{",
              "'\\'\"", "kernel void g(__global float* x) { ", "  \n", "__kernel void f(\n", "// x /*",
              "```opencl\n", "~~~~cl\n", "`" * 997 + "\n", "/* "]
    if not fenced:
        pieces = [p for p in pieces if "`" not in p and "~" not in p]
    per = n // len(pieces)
    body = "".join((p * (per // len(p) + 1))[:per] for p in pieces)
    body = ("```opencl\n" if fenced else "") + body
    return (body + " " * n)[:n]


@pytest.mark.parametrize("fenced", [True, False])
@pytest.mark.parametrize("target", ["opencl", "cuda", "ttmetal"])
def test_adversarial_megabyte_reply_extracts_quickly(fenced, target):
    text = adversarial_reply(fenced=fenced)
    assert len(text) == 1_000_000
    t0 = time.perf_counter()
    extract_code(text, target, "f")
    fenced_blocks(text)
    kernel_names(text, target)
    assert time.perf_counter() - t0 < 2.0
