"""A fake Slack Web API on 127.0.0.1 (port 0) that records every call, the way bolt-python's
own tests use a mock Web API server. Answers what canishare calls with plausible payloads."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = "UBOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0  # time.perf_counter() when the call arrived (for latency benchmarks)


@dataclass
class FakeSlack:
    """Start with `FakeSlack().start()`; `base_url` goes into the app's WebClient."""

    calls: list[Call] = field(default_factory=list)
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    fail_methods: dict[str, str] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                fake.handle(self, raw)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 drops SYNs under load (1 s retries)
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/api/"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # --- recording ------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        path = handler.path.split("?")[0]
        method = path.removeprefix("/api/").strip("/")
        content_type = handler.headers.get("Content-Type", "")
        params: dict[str, Any]
        if method.startswith("upload/"):
            params = {"_bytes": len(raw)}
        elif "json" in content_type:
            params = json.loads(raw or b"{}")
        elif "x-www-form-urlencoded" in content_type:
            params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            for key in ("blocks", "view", "files", "attachments"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        else:
            params = {"_raw": raw}
        if "?" in handler.path:
            params.update({k: v[0] for k, v in parse_qs(handler.path.split("?", 1)[1]).items()})
        body = self.answer(method, params)
        with self._lock:
            self.calls.append(Call(method, params, dict(handler.headers), body, time.perf_counter()))
            self._lock.notify_all()
        data = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method in self.fail_methods:
            return {"ok": False, "error": self.fail_methods[method]}
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1",
                    "user": "canishare", "team": "Test", "url": "https://test.slack.com/"}
        if method == "conversations.open":
            users = params.get("users", "")
            return {"ok": True, "channel": {"id": f"D{users}"}}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts") or ts,
                    "message_ts": ts, "message": {"text": params.get("text", ""), "ts": ts}}
        if method == "conversations.members":
            return {"ok": True, "members": self.channel_members.get(params.get("channel", ""), []),
                    "response_metadata": {"next_cursor": ""}}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "upload_url": f"{self.url}/upload/F{ts}", "file_id": f"F{ts}"}
        if method.startswith("upload/"):
            return {"ok": True}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                          for f in params.get("files", [])]}
        if method.startswith("views."):
            return {"ok": True, "view": {"id": f"V{ts}", **(params.get("view") or {})}}
        return {"ok": True}

    # --- reading --------------------------------------------------------------------------
    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def last(self, method: str) -> Call:
        found = self.of(method)
        assert found, f"no {method} call; calls: {[c.method for c in self.calls]}"
        return found[-1]

    def wait_for(self, predicate, timeout: float = 10.0) -> Call | None:
        """Block until a recorded call satisfies `predicate` (newest first); None on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for call in reversed(self.calls):
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._lock.wait(remaining):
                    return None

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
