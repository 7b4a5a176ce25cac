"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers from a script.

    llm = FakeLLM().start()
    llm.queue(reply("```opencl ...```"), status(429, retry_after=0), drop(), slow(2.0, "..."))
    ... llm.url is the base URL (http://127.0.0.1:PORT/v1); llm.requests holds what was asked.

Hostile actions: trickle() (a slowloris: a byte every `interval` seconds, in the body or in the
headers; the action records `hung_up_after_s`, when the client closed the connection) and raw()
(any status, headers and body bytes, e.g. a gzip bomb).

Every request pops one action; when the script is exhausted the server answers HTTP 400
(not retried), so request counts stay bounded.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

FAKE_KEY = "sk-uhop-test-FAKEKEY-9f8e7d6c5b4a39281706"


def reply(text: str) -> Dict[str, Any]:
    return {"kind": "reply", "text": text}


def status(code: int, retry_after=None, body: str = "") -> Dict[str, Any]:
    return {"kind": "status", "code": code, "retry_after": retry_after, "body": body}


def drop() -> Dict[str, Any]:
    return {"kind": "drop"}


def slow(seconds: float, text: str = "too late") -> Dict[str, Any]:
    return {"kind": "slow", "seconds": seconds, "text": text}


def trickle(interval: float = 0.5, content_length: int = 1_000_000, where: str = "body",
            max_seconds: float = 60.0) -> Dict[str, Any]:
    return {"kind": "trickle", "interval": interval, "content_length": content_length, "where": where,
            "max_seconds": max_seconds, "hung_up_after_s": None}


def raw(body: bytes, headers=None, code: int = 200) -> Dict[str, Any]:
    """headers override the defaults; {"Content-Length": None} sends none (the body ends at close)."""
    return {"kind": "raw", "body": body, "headers": dict(headers or {}), "code": code}


def _trickle(handler: BaseHTTPRequestHandler, action: Dict[str, Any]) -> None:
    """A valid start, then one byte per interval until the client hangs up (or max_seconds)."""
    handler.close_connection = True
    if action["where"] == "body":
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(action["content_length"]))
        handler.end_headers()
        handler.wfile.flush()
        drip = b'{"id": "chatcmpl-slow", "choices": ' + b" " * action["content_length"]
    else:  # the status line, then a header that never ends
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Pad: ")
        drip = b"a" * action["content_length"]
    t0 = time.monotonic()
    try:
        for i in range(len(drip)):
            if time.monotonic() - t0 > action["max_seconds"]:
                return
            handler.wfile.write(drip[i:i + 1])
            time.sleep(action["interval"])
    except (BrokenPipeError, ConnectionResetError):
        action["hung_up_after_s"] = time.monotonic() - t0
        raise


def _send_raw(handler: BaseHTTPRequestHandler, action: Dict[str, Any]) -> None:
    handler.send_response(action["code"])
    # Connection: close: the client may hang up mid-body, so no keep-alive read after it
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(action["body"])), "Connection": "close",
            **action["headers"]}
    if hdrs["Content-Length"] is None:  # no length: the body runs to the connection's end
        del hdrs["Content-Length"]
    for k, v in hdrs.items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(action["body"])
    handler.wfile.flush()


class FakeLLM:
    def __init__(self):
        self.script: List[Dict[str, Any]] = []
        self.requests: List[Dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def queue(self, *actions: Dict[str, Any]) -> "FakeLLM":
        with self.lock:
            self.script.extend(actions)
        return self

    def reset(self) -> None:
        with self.lock:
            self.script.clear()
            self.requests.clear()

    def prompts(self) -> List[str]:
        """Each request's messages joined into one text."""
        return ["\n".join(m.get("content") or "" for m in r["body"].get("messages", [])) for r in self.requests]

    def start(self) -> "FakeLLM":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, payload: Dict[str, Any], headers=None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def _completion(self, text: str, model: str) -> Dict[str, Any]:
                return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                        "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with fake.lock:
                    fake.requests.append({"path": self.path, "body": body,
                                          "authorization": self.headers.get("Authorization"),
                                          "accept_encoding": self.headers.get("Accept-Encoding")})
                    action = fake.script.pop(0) if fake.script else None
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if action is None:
                    return self._send(400, {"error": {"message": "script exhausted", "type": "invalid_request_error"}})
                kind = action["kind"]
                try:
                    if kind == "reply":
                        self._send(200, self._completion(action["text"], body.get("model", "fake")))
                    elif kind == "status":
                        hdrs = {}
                        if action.get("retry_after") is not None:
                            hdrs["Retry-After"] = str(action["retry_after"])
                        self._send(action["code"], {"error": {"message": action.get("body") or f"HTTP {action['code']}",
                                                              "type": "server_error"}}, hdrs)
                    elif kind == "drop":
                        self.close_connection = True  # no response at all: the client sees a dropped connection
                    elif kind == "slow":
                        time.sleep(action["seconds"])
                        self._send(200, self._completion(action["text"], body.get("model", "fake")))
                    elif kind == "trickle":
                        _trickle(self, action)
                    elif kind == "raw":
                        _send_raw(self, action)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
