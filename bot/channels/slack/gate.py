"""Only Slack gets in: a WSGI gate in front of Bolt that checks every request before Bolt parses
anything, in the order that leaks least.

1. A body over the size limit gets 413 before it is read (from Content-Length; a body without
   one is read only up to the limit).
2. A missing, malformed, stale or wrong timestamp or signature gets 401, and nothing else happens:
   no Web API call, no direct message, no log line carrying the body. (Bolt's verifier calls
   int() on the timestamp, so "abc" used to raise inside Bolt and reach an error handler that
   acted on a user id from the unverified body.)
3. A verified request with the wrong content type or a malformed body gets 400.
4. A verified request from another workspace or enterprise (Slack Connect, a shared channel, a
   second installation) gets 403 and is audited: only the installed workspace's people act here.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from bot.core.clock import Clock

log = logging.getLogger("canishare.slack.gate")
MAX_BODY_BYTES = 1 << 20  # Slack's largest payloads (view submissions) are far smaller
FORM, JSON_TYPE = "application/x-www-form-urlencoded", "application/json"
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class _SlackClock:
    """slack_sdk's verifier asks its clock for seconds since the epoch; ours is the request clock."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


class Refused(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class SlackGate:
    def __init__(self, app: WSGIApp, signing_secret: str, clock: Clock, *, team_id: str = "",
                 enterprise_id: str = "", on_foreign: Callable[[dict[str, str]], None] | None = None,
                 max_body: int = MAX_BODY_BYTES):
        self.app, self.max_body = app, max_body
        self.verifier = SignatureVerifier(signing_secret, clock=_SlackClock(clock))  # type: ignore[arg-type]
        self.team_id, self.enterprise_id = team_id, enterprise_id
        self.on_foreign = on_foreign

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            body = self._check(environ)
        except Refused as refused:
            log.warning("refused a request to %s: %s", environ.get("PATH_INFO"), refused.reason)
            data = refused.reason.encode()
            start_response(refused.status, [("Content-Type", "text/plain; charset=utf-8"),
                                            ("Content-Length", str(len(data)))])
            return [data]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    # --- the checks, in order -----------------------------------------------------------------
    def _check(self, environ: dict) -> bytes:
        if environ.get("REQUEST_METHOD") != "POST":
            raise Refused("405 Method Not Allowed", "POST only")
        body = self._read(environ)
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise Refused("401 Unauthorized", "missing or malformed X-Slack-Request-Timestamp")
        if not (signature.startswith("v0=") and len(signature) == 67):
            raise Refused("401 Unauthorized", "missing or malformed X-Slack-Signature")
        try:
            valid = self.verifier.is_valid(body, timestamp, signature)
        except UnicodeDecodeError:  # Slack signs UTF-8 text: these bytes cannot be from Slack
            valid = False
        if not valid:
            raise Refused("401 Unauthorized", "invalid or stale signature")
        payload = self._parse(environ, body)
        foreign = self._foreign(payload)
        if foreign:
            if self.on_foreign is not None:
                self.on_foreign(foreign)
            raise Refused("403 Forbidden", "this app serves one workspace only")
        return body

    def _read(self, environ: dict) -> bytes:
        length_text = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if length_text:
            if not length_text.isdigit():
                raise Refused("400 Bad Request", "malformed Content-Length")
            length = int(length_text)
            if length > self.max_body:
                raise Refused("413 Content Too Large", f"body over {self.max_body} bytes")
            return stream.read(length)
        data = stream.read(self.max_body + 1)
        if len(data) > self.max_body:
            raise Refused("413 Content Too Large", f"body over {self.max_body} bytes")
        return data

    @staticmethod
    def _parse(environ: dict, body: bytes) -> dict[str, Any]:
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            text = body.decode("utf-8")
            if content_type == JSON_TYPE:
                data = json.loads(text)
            elif content_type == FORM:
                fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
                form = {k: v[0] for k, v in fields.items()}
                data = json.loads(form["payload"]) if "payload" in form else form
                if "payload" in form and not isinstance(data, dict):
                    raise ValueError("payload is not an object")
                if "payload" not in form and "command" not in form:
                    raise ValueError("a form body is a slash command or a payload")
            else:
                raise ValueError(f"content type {content_type or 'missing'}")
        except (UnicodeDecodeError, ValueError, KeyError) as exc:
            raise Refused("400 Bad Request", f"malformed body ({exc})") from None
        if not isinstance(data, dict):
            raise Refused("400 Bad Request", "the body is not an object")
        if content_type == JSON_TYPE and "type" not in data:
            raise Refused("400 Bad Request", "an Events API body needs a type")
        return data

    def _foreign(self, payload: dict[str, Any]) -> dict[str, str]:
        return foreign(payload, self.team_id, self.enterprise_id)


def foreign(payload: dict[str, Any], team_id: str, enterprise_id: str) -> dict[str, str]:
    """The first team or enterprise id in the payload that is not the installed workspace's
    (with the user who sent it), or {} when everything in it is ours."""
    if not team_id:
        return {}
    teams, enterprises = _ids(payload)
    for team in teams:
        if team != team_id:
            return {"team_id": team, "user": _user(payload)}
    for enterprise in enterprises:
        if enterprise != enterprise_id:
            return {"enterprise_id": enterprise, "user": _user(payload)}
    return {}


def _ids(payload: dict[str, Any]) -> tuple[list[str], list[str]]:
    teams, enterprises = [], []

    def add(target: list[str], value: Any) -> None:
        if isinstance(value, str) and value:
            target.append(value)

    add(teams, payload.get("team_id"))
    add(teams, (payload.get("team") or {}).get("id") if isinstance(payload.get("team"), dict) else None)
    user = payload.get("user")
    if isinstance(user, dict):
        add(teams, user.get("team_id"))
    event = payload.get("event")
    if isinstance(event, dict):
        add(teams, event.get("team"))
        add(teams, event.get("user_team"))
    add(enterprises, payload.get("enterprise_id"))
    enterprise = payload.get("enterprise")
    add(enterprises, enterprise.get("id") if isinstance(enterprise, dict) else None)
    return teams, enterprises


def _user(payload: dict[str, Any]) -> str:
    user = payload.get("user")
    if isinstance(user, dict):
        return str(user.get("id") or "")
    return str(payload.get("user_id") or (payload.get("event") or {}).get("user") or "")
