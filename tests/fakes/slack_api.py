"""A fake Slack Web API on 127.0.0.1 (port 0) that records every call, the way bolt-python's own
tests use a mock Web API server, and fails the way Slack does when told to: HTTP 500, 429 with
`Retry-After`, `ok: false` errors (`ratelimited`, `not_in_channel`...), `channel_not_found` for a
post with no or an unknown channel (always, as Slack does), and a response lost after the call
took effect. It keeps the messages it was sent, so `conversations.history` can find them."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = "UBOT"
POSTS = ("chat.postMessage", "chat.postEphemeral", "chat.update")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0  # time.perf_counter() when the call arrived (for latency benchmarks)
    failed: str = ""  # how the fake failed this call ("" when it answered normally)

    @property
    def took_effect(self) -> bool:
        return self.failed in ("", "lost")


@dataclass
class Failure:
    """Fail the next `times` calls of `method` that match `when`, the way `mode` says."""

    method: str
    mode: str  # "500", "429" (with Retry-After), "lost", "hold", "hold_after", or an ok:false code
    # such as "ratelimited", "not_in_channel" or "channel_not_found" (HTTP 200, as Slack sends)
    times: int = 1
    when: Callable[[dict[str, Any]], bool] | None = None
    retry_after: int = 1


@dataclass
class FakeSlack:
    """Start with `FakeSlack().start()`; `base_url` goes into the app's WebClient."""

    calls: list[Call] = field(default_factory=list)
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    fail_methods: dict[str, str] = field(default_factory=dict)
    unknown_channels: set[str] = field(default_factory=set)
    public_channels: set[str] = field(default_factory=set)
    # Channels the bot is not in: a private one is then invisible to it (channel_not_found), as
    # in Slack; a public one says is_member false.
    outside_channels: set[str] = field(default_factory=set)
    unknown_users: set[str] = field(default_factory=set)  # users.info says user_not_found
    deleted_users: set[str] = field(default_factory=set)  # deactivated accounts
    # What Slack sends in X-OAuth-Scopes on every answer: the token's granted scopes.
    scopes: str = ("commands,chat:write,im:history,im:write,channels:read,groups:read,channels:history,"
                   "groups:history,files:write,users:read")
    failures: list[Failure] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    held: threading.Event = field(default_factory=threading.Event)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                self.oauth_scopes = fake.scopes
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
        self.held.set()
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

    # --- failing like Slack -------------------------------------------------------------------
    def fail(self, method: str, mode: str, times: int = 1, when: Callable[[dict[str, Any]], bool] | None = None,
             retry_after: int = 1) -> Failure:
        failure = Failure(method, mode, times, when, retry_after)
        with self._lock:
            self.failures.append(failure)
        return failure

    def _failure_for(self, method: str, params: dict[str, Any]) -> Failure | None:
        with self._lock:
            for failure in self.failures:
                if failure.method == method and failure.times > 0 and (failure.when is None or failure.when(params)):
                    failure.times -= 1
                    return failure
        return None

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
            for key in ("blocks", "view", "files", "attachments", "metadata"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        else:
            params = {"_raw": raw}
        if "?" in handler.path:
            params.update({k: v[0] for k, v in parse_qs(handler.path.split("?", 1)[1]).items()})
        failure = self._failure_for(method, params)
        if failure is not None and failure.mode in ("hold", "hold_after"):
            # "hold": the call never reaches Slack; "hold_after": it takes effect, and the response
            # never comes. Either way the caller waits until the test kills it.
            body = self.answer(method, params) if failure.mode == "hold_after" else {}
            self._record(Call(method, params, dict(handler.headers), body, time.perf_counter(),
                              "lost" if failure.mode == "hold_after" else "held"))
            self.held.set()
            time.sleep(3600)
            return
        if failure is not None and failure.mode in ("500", "429"):
            status = int(failure.mode)
            body = {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
            self._record(Call(method, params, dict(handler.headers), body, time.perf_counter(), failure.mode))
            headers = {"Retry-After": str(failure.retry_after)} if status == 429 else {}
            self._send(handler, status, body, headers)
            return
        if failure is not None and failure.mode != "lost":
            body = {"ok": False, "error": failure.mode}
            self._record(Call(method, params, dict(handler.headers), body, time.perf_counter(), failure.mode))
            self._send(handler, 200, body)
            return
        body = self.answer(method, params)
        self._record(Call(method, params, dict(handler.headers), body, time.perf_counter(),
                          "lost" if failure is not None else ("" if body.get("ok") else body.get("error", "?"))))
        if failure is not None:  # the call took effect; the response never arrives
            handler.close_connection = True
            try:
                handler.connection.shutdown(2)
            except OSError:
                pass
            return
        self._send(handler, 200, body)

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if fake_scopes := getattr(handler, "oauth_scopes", None):
            handler.send_header("X-OAuth-Scopes", fake_scopes)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
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
        if method in POSTS or method == "files.completeUploadExternal":
            channel = params.get("channel") or params.get("channel_id") or ""
            if not channel or channel in self.unknown_channels:
                return {"ok": False, "error": "channel_not_found"}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            message_ts = params.get("ts") or ts
            if method == "chat.postMessage":
                with self._lock:  # a post to a person's user id lands in their DM, as on Slack
                    where = f"D{params['channel']}" if params["channel"].startswith("U") else params["channel"]
                    self.messages.setdefault(where, []).append(
                        {"ts": ts, "text": params.get("text", ""), "metadata": params.get("metadata"),
                         "thread_ts": params.get("thread_ts")})
            return {"ok": True, "channel": params.get("channel"), "ts": message_ts,
                    "message_ts": ts, "message": {"text": params.get("text", ""), "ts": message_ts}}
        if method == "conversations.replies":  # the thread's parent, then its replies
            with self._lock:
                thread = params.get("ts")
                found = [m for m in self.messages.get(params.get("channel", ""), [])
                         if m["ts"] == thread or m["thread_ts"] == thread]
            return {"ok": True, "messages": found, "has_more": False}
        if method == "conversations.history":
            with self._lock:
                found = [m for m in self.messages.get(params.get("channel", ""), []) if not m["thread_ts"]]
            return {"ok": True, "messages": list(reversed(found)), "has_more": False}
        if method == "conversations.info":
            channel = params.get("channel", "")
            private = channel not in self.public_channels
            if channel in self.unknown_channels or (private and channel in self.outside_channels):
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": {"id": channel, "is_private": private,
                                            "is_member": channel not in self.outside_channels}}
        if method == "users.info":
            user = params.get("user", "")
            if user in self.unknown_users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "name": user.lower(), "real_name": f"Person {user}",
                                         "deleted": user in self.deleted_users, "is_bot": user == BOT_USER}}
        if method == "conversations.members":
            return {"ok": True, "members": self.channel_members.get(params.get("channel", ""), []),
                    "response_metadata": {"next_cursor": ""}}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "upload_url": f"{self.url}/upload/F{ts}", "file_id": f"F{ts}"}
        if method.startswith("upload/"):
            return {"ok": True}
        if method == "files.completeUploadExternal":
            shared = [{"id": f["id"], "title": f.get("title", "")} for f in params.get("files", [])]
            with self._lock:  # shared into the channel as a message with the files, as Slack does
                self.messages.setdefault(params.get("channel_id", ""), []).append(
                    {"ts": ts, "text": params.get("initial_comment", ""), "metadata": None,
                     "thread_ts": None, "files": shared})
            return {"ok": True, "files": shared}
        if method.startswith("views."):
            return {"ok": True, "view": {"id": f"V{ts}", **(params.get("view") or {})}}
        return {"ok": True}

    # --- reading --------------------------------------------------------------------------
    def of(self, method: str, effective: bool = True) -> list[Call]:
        """Calls of `method`; by default only those that took effect (as Slack saw them)."""
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.took_effect or not effective)]

    def last(self, method: str) -> Call:
        found = self.of(method)
        assert found, f"no {method} call; calls: {[c.method for c in self.calls]}"
        return found[-1]

    def posts_to(self, channel: str, *, thread: bool | None = None) -> list[Call]:
        """chat.postMessage calls that reached `channel` (top-level, in a thread, or both)."""
        return [c for c in self.of("chat.postMessage") if c.params.get("channel") == channel
                and (thread is None or bool(c.params.get("thread_ts")) == thread)]

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
