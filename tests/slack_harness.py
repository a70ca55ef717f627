"""Drive the real Bolt app over HTTP with correctly signed requests, its WebClient pointed at
the fake Slack Web API. Listeners run inline, so each request's work is done when it returns."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_sdk.signature import SignatureVerifier

from bot.channels.slack.app import CHANNEL, SlackChannel, create_app
from bot.channels.slack.server import wsgi
from bot.core.clock import SYSTEM_CLOCK, Clock
from bot.flows.loader import FlowBundle
from bot.services import Services
from bot.settings import Settings
from bot.storage import Storage
from tests.conftest import answer_for, profile_fill
from tests.fakes.slack_api import FakeSlack

SECRET = "test-signing-secret"


class InlineExecutor(Executor):
    """Run listeners on the request thread: deterministic tests, no sleeps."""

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - hand the error to the future, like a pool
            future.set_exception(exc)
        return future


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections when twenty arrive at once


def settings_for(fake: FakeSlack, db: Path, **extra: Any) -> Settings:
    return Settings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                    slack_api_base_url=fake.base_url, database=db, **extra)


@dataclass
class Response:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SignedClient:
    """Sends correctly signed Slack requests to `url`, as Slack would; `fake` is the fake Web API
    the app talks to (for reading back what the bot showed)."""

    def __init__(self, url: str, fake: FakeSlack):
        self.url, self.fake = url, fake
        self._event_n = 0
        self._trigger_n = itertools.count(1)

    def trigger(self) -> str:
        return f"trig-{next(self._trigger_n)}-{uuid.uuid4().hex[:6]}"

    # --- sending ---------------------------------------------------------------------------
    def post(self, body: str, content_type: str, *, timestamp: int | None = None,
             sign: bool = True, headers: dict[str, str] | None = None) -> Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        all_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
        if sign:
            all_headers["X-Slack-Signature"] = SignatureVerifier(SECRET).generate_signature(
                timestamp=ts, body=body)
        all_headers.update(headers or {})
        request = urllib.request.Request(self.url, data=body.encode(), headers=all_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Response(response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read().decode())

    def command(self, text: str = "", user: str = "U1", trigger: str | None = None, **kw: Any) -> Response:
        body = urlencode({"command": "/canishare", "text": text, "user_id": user, "channel_id": "C1",
                          "team_id": "T1", "trigger_id": trigger or self.trigger(),
                          "response_url": f"{self.fake.url}/respond"})
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def event(self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None,
              **kw: Any) -> Response:
        self._event_n += 1
        payload = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event": event,
                   "event_id": event_id or f"Ev{self._event_n}", "event_time": int(time.time())}
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(json.dumps(payload), "application/json", headers=headers, **kw)

    def dm(self, text: str, user: str = "U1", **kw: Any) -> Response:
        return self.event({"type": "message", "channel_type": "im", "channel": f"D{user}", "user": user,
                           "text": text, "ts": f"{time.time():.6f}"}, **kw)

    def interact(self, payload: dict[str, Any], **kw: Any) -> Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw)

    # --- reading what the bot showed ------------------------------------------------------------
    def last_message(self, user: str | None = None) -> dict[str, Any]:
        """The latest check message (posted or updated) with its channel and ts (of `user`'s)."""
        calls = [c for c in self.fake.calls if c.method in ("chat.postMessage", "chat.update")
                 and "blocks" in c.params and not c.params.get("thread_ts") and c.took_effect
                 and str(c.params.get("channel", "")).startswith(f"D{user or ''}")]
        call = calls[-1]
        ts = call.params.get("ts") or call.response["ts"]
        return {"channel": call.params["channel"], "ts": ts, "blocks": call.params["blocks"]}

    def click(self, action_id: str, user: str = "U1", message: dict[str, Any] | None = None,
              picked: list[str] | None = None, **kw: Any) -> Response:
        message = message or self.last_message()
        element = find_element(message["blocks"], action_id)
        state = {"values": {}}
        if picked is not None:
            state["values"]["multi"] = {"multi_pick": {"type": "checkboxes", "selected_options": [
                {"value": v} for v in picked]}}
        return self.interact({
            "type": "block_actions", "user": {"id": user}, "api_app_id": "A1", "team": {"id": "T1"},
            "trigger_id": kw.pop("trigger", None) or self.trigger(), "token": "legacy",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"]},
            "channel": {"id": message["channel"]}, "state": state,
            "actions": [{"action_id": action_id, "block_id": "b", "type": element["type"],
                         "value": element.get("value"), "action_ts": "1"}],
        }, **kw)

    def submit_modal(self, view: dict[str, Any], values: dict[str, str], user: str = "U1") -> Response:
        state = {block: {"value": {"type": "plain_text_input", "value": v}} for block, v in values.items()}
        return self.interact({"type": "view_submission", "user": {"id": user}, "team": {"id": "T1"},
                              "api_app_id": "A1", "trigger_id": self.trigger(),
                              "view": {**view, "id": "V2", "state": {"values": state}}})

    def submit_record(self, values: dict[str, str], metadata: str, user: str = "U1",
                      trigger: str | None = None) -> Response:
        state = {}
        for block_id, value in values.items():
            if block_id == "decision":
                state[block_id] = {"value": {"type": "radio_buttons",
                                             "selected_option": {"value": value} if value else None}}
            else:
                state[block_id] = {"value": {"type": "plain_text_input", "value": value}}
        return self.interact({"type": "view_submission", "user": {"id": user}, "team": {"id": "T1"},
                              "api_app_id": "A1", "trigger_id": trigger or self.trigger(),
                              "view": {"id": "V1", "type": "modal", "callback_id": "record_decision",
                                       "private_metadata": metadata, "state": {"values": state}}})


class SlackApp(SignedClient):
    """A running app in this process: `url` takes signed requests; `fake` records what it sent."""

    def __init__(self, fake: FakeSlack, channel: SlackChannel, storage: Storage, url: str, server: WSGIServer,
                 services: Services, desk: Any = None, settings: Any = None):
        super().__init__(url, fake)
        self.channel, self.storage, self.server, self.services = channel, storage, server, services
        self.desk, self.settings = desk, settings

    def click(self, action_id: str, user: str = "U1", message: dict[str, Any] | None = None,
              picked: list[str] | None = None, **kw: Any) -> Response:
        """As a person clicks; a profile question the walk does not answer is answered first
        (`tests.conftest.profile_fill`), so walks name only the answers they are about."""
        if action_id.startswith("answer:") and message is None:
            self.fill_profile(action_id.removeprefix("answer:"), user)
        return super().click(action_id, user, message, picked, **kw)

    def walk_answers(self, answers: dict[str, str | list[str]], user: str = "U1") -> None:
        """Answer each question on screen from {question key: answer id} until the answer shows
        (`tests.conftest.answer_for`: profile questions left out get the usual profile)."""
        for _ in range(60):
            message = self.last_message(user)
            question = question_on(message["blocks"])
            if question is None:
                return
            value = answer_for(self.channel.bundle, question, answers)
            response = (super().click("multi_continue", user, message, picked=value) if isinstance(value, list)
                        else super().click(f"answer:{value}", user, message))
            assert response.status == 200, (question, value, response.body)
        raise AssertionError("no answer after 60 questions")

    def fill_profile(self, wanted: str, user: str) -> None:
        for _ in range(len(self.channel.bundle.manifest.profile_questions)):
            try:
                message = self.last_message(user)
            except IndexError:  # nothing shown to this person yet
                return
            question = question_on(message["blocks"])
            fill = profile_fill(self.channel.bundle, question, wanted) if question else None
            if fill is None:
                return
            response = super().click(f"answer:{fill}", user, message)
            assert response.status == 200, (fill, response.body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.storage.close()  # return the database connections (PostgreSQL counts them)


def find_element(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no element {action_id!r} in message: {actions_in(blocks)}")


def question_on(blocks: list[dict[str, Any]]) -> str | None:
    """The question id a check message asks (every button under a question names it), if any."""
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and str(element.get("value", "")).startswith("{"):
                question = json.loads(element["value"]).get("n")
                if question:
                    return question
    return None


def actions_in(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("action_id"):
                found.append(element["action_id"])
    return found


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def start_app(fake: FakeSlack, bundle: FlowBundle, db: Path, clock: Clock | None = None,
              **settings: Any) -> SlackApp:
    """The real app over HTTP on 127.0.0.1, wired by the composition root as in production."""
    config = settings_for(fake, db, **settings)
    clock = clock or SYSTEM_CLOCK
    services = Services(config, clock, storage=Storage(db, clock))
    services.__dict__["bundle"] = bundle
    app, channel = create_app(config, services.conversations(CHANNEL), services.desk,
                              practice=services.conversations(CHANNEL, practice=True),
                              listener_executor=InlineExecutor())
    server = make_server("127.0.0.1", 0, wsgi(app, channel, readiness=services.readiness, metrics=services.metrics()),
                         server_class=_ThreadingWSGIServer,
                         handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    app_ref = SlackApp(fake, channel, services.storage, f"http://{host}:{port}/slack/events", server,
                    services, desk=services.desk, settings=config)
    app_ref.bolt = app  # the Bolt app itself, for Socket Mode-style dispatch without the HTTP gate
    return app_ref
