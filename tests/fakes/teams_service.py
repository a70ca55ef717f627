"""A fake Microsoft side for Teams tests: token issuer, key set and Bot Connector, on loopback.

Runs on 127.0.0.1, port 0, on its own thread. It must not share the bot's event loop: the SDK
fetches the key set with blocking urllib (PyJWT's `PyJWKClient`) inside the bot's loop, so a fake
on that loop would deadlock into 401s.

What it does, the way the real services do it:
- mints RS256 tokens with a fixed `kid` (`mint`) and serves the OpenID metadata and key set the
  bot validates them against (`openid_metadata_url`); `mint(key="other")` signs with a key it
  does not publish, for tests that must be refused;
- implements the Bot Connector `/v3` calls the bot makes (create, reply, update and delete an
  activity; create a conversation; list and get members), refusing a call without a bearer token
  it minted itself (`mint_outbound`);
- plays a OneDrive upload session for files offered with a FileConsentCard (`upload_url`): a
  PUT there needs no bearer token (the session URL is its own authority) and is kept in `uploads`;
- records every call (`calls`, `calls_to`), and can be told to fail the way the service does
  (`fail`): HTTP 500, 429 with Retry-After, 412, 502, 504, or "lost": the call takes effect and
  the connection closes before the answer. Creating a personal chat with someone who has not
  installed the app fails with `MemberNotFoundInConversation` (403), as Teams does.

Test-only: it reads the wall clock because real JWT validation (PyJWT) compares `exp` with it.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "canishare-test-key"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"  # PUBLIC.token_issuer in the SDK
TENANT_ID = "6f1c1a3e-0b6e-4a55-9a39-3d9b2b0f6c11"
CLIENT_ID = "2b7e1a7c-3d4f-4c1e-8a8e-5f0d7c9b1a22"
CLIENT_SECRET = "test-secret-not-real"
DSL_TEAM_ID = "19:dslteam0000000000000000000000000@thread.tacv2"
DSL_CHANNEL_ID = "19:dslchannel00000000000000000000000@thread.tacv2"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Call:
    """One request the bot made, as the fake saw it."""

    method: str
    path: str
    body: Any
    authorization: str
    status: int
    at: float = field(default_factory=time.perf_counter)  # when it arrived (benchmarks time it)


@dataclass
class Failure:
    """A planned failure: `times` matching calls answer `status` (or are lost)."""

    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: int | None = None
    code: str = ""
    lost: bool = False
    delay: float = 0.0  # answer normally, but only after this many seconds (status is then ignored)


@dataclass
class Member:
    """A person as the roster API returns them (TeamsChannelAccount)."""

    aad_object_id: str
    name: str
    id: str = ""
    email: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or f"29:{self.aad_object_id}"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id,
                "email": self.email, "userPrincipalName": self.email, "tenantId": TENANT_ID,
                "userRole": "user"}


@dataclass
class Conversation:
    id: str
    members: list[Member] = field(default_factory=list)
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


class FakeTeamsService:
    """Start with `.start()`, stop with `.stop()`; `base_url` is both issuer host and serviceUrl."""

    def __init__(self, client_id: str = CLIENT_ID) -> None:
        self.client_id = client_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._outbound_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.calls: list[Call] = []
        self.key_fetches = 0
        self.conversations: dict[str, Conversation] = {}
        self.team_channels: dict[str, list[str]] = {}  # team id -> its channel ids
        self.installed: set[str] = set()  # Entra object ids who have the app in personal scope
        self.uploads: dict[str, bytes] = {}  # upload session id -> the bytes written to it
        self._failures: list[Failure] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeTeamsService:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-teams",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "call start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def service_url(self) -> str:
        """What activities carry as `serviceUrl` (the bot calls `/v3/...` under it)."""
        return self.base_url + "/teams/"

    @property
    def openid_metadata_url(self) -> str:
        return self.base_url + "/v1/.well-known/openidconfiguration"

    # --- tokens ----------------------------------------------------------------------------
    def mint(self, *, key: str = "good", kid: str = KID, **claims: Any) -> str:
        """An inbound Bot Framework token; claims override the valid defaults. Pass a claim as
        None to leave it out."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": BOT_FRAMEWORK_ISSUER, "aud": self.client_id, "iat": now, "nbf": now,
            "exp": now + 3600, "serviceurl": self.service_url,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        signer = {"good": self._key, "other": self._other_key}[key]
        return jwt.encode(payload, signer, algorithm="RS256", headers={"kid": kid})

    def mint_outbound(self, scope: str = "", tenant: str | None = None) -> str:
        """What the bot's token function returns: a JWT-shaped token this fake accepts on `/v3`.
        Its signature matches `token=` in `App(...)`: `(scope, tenant) -> str`."""
        now = int(time.time())
        return jwt.encode({"aud": "https://api.botframework.com", "appid": self.client_id,
                           "tid": tenant or TENANT_ID, "iat": now, "exp": now + 3600,
                           "scp": scope}, self._outbound_key, algorithm="RS256")

    def _outbound_ok(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ")
        try:
            jwt.decode(token, self._outbound_key.public_key(), algorithms=["RS256"],
                       audience="https://api.botframework.com")
        except jwt.InvalidTokenError:
            return False
        return authorization.startswith("Bearer ")

    def _jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
                          "n": _b64(numbers.n), "e": _b64(numbers.e), "endorsements": ["msteams"]}]}

    # --- people and conversations ----------------------------------------------------------
    def add_team(self, team_id: str, members: list[Member], channels: list[str] | None = None) -> None:
        """A team the bot is installed in; the roster API returns `members`, the channel list
        the General channel (whose id is the team's) and `channels`."""
        with self._lock:
            self.conversations[team_id] = Conversation(team_id, list(members))
            self.team_channels[team_id] = [team_id, *(channels or [])]

    def install_for(self, *aad_object_ids: str) -> None:
        """The app is installed in these people's personal scope (proactive chat works)."""
        with self._lock:
            self.installed.update(aad_object_ids)

    def upload_url(self, session: str) -> str:
        """An upload session the bot may PUT a file to (what Teams sends when a file is accepted)."""
        return f"{self.base_url}/upload/{session}"

    def activities_in(self, conversation_id: str) -> list[dict[str, Any]]:
        """Activities still in a conversation (threads included), oldest first."""
        with self._lock:
            found = []
            for conv_id, conv in self.conversations.items():
                if conv_id.split(";messageid=")[0] == conversation_id:
                    found += [a for i, a in conv.activities.items() if i not in conv.deleted]
            return found

    # --- failures and records --------------------------------------------------------------
    def reset(self) -> None:
        """Forget calls, planned failures and conversations (one server shared by many tests)."""
        with self._lock:
            self.calls.clear()
            self._failures.clear()
            self.conversations.clear()
            self.team_channels.clear()
            self.installed.clear()
            self.uploads.clear()

    def fail(self, method: str, path_regex: str, status: int, *, times: int = 1,
             retry_after: int | None = None, code: str = "", lost: bool = False) -> None:
        """The next `times` calls whose path matches `path_regex` fail with `status` (429 with
        `Retry-After` when given). `lost=True`: the call takes effect, then the connection
        closes with no answer, as when a response is lost on the way back."""
        with self._lock:
            self._failures.append(Failure(method.upper(), re.compile(path_regex), status, times,
                                          retry_after, code, lost))

    def slow(self, method: str, path_regex: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` matching calls take `seconds` before they are answered (normally)."""
        with self._lock:
            self._failures.append(Failure(method.upper(), re.compile(path_regex), 200, times, delay=seconds))

    def calls_to(self, method: str | None = None, path_regex: str = ".*") -> list[Call]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [c for c in self.calls
                    if (method is None or c.method == method.upper()) and pattern.search(c.path)]

    @property
    def outbound(self) -> list[Call]:
        """Every Bot Connector call (anything but the key set and metadata)."""
        return self.calls_to(path_regex=r"^/teams/v3/")

    def _planned_failure(self, method: str, path: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.times > 0 and failure.method == method and failure.pattern.search(path):
                    failure.times -= 1
                    return failure
        return None

    # --- the Bot Connector -----------------------------------------------------------------
    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """The effect of one `/v3` call: (status, JSON body)."""
        parts = [p for p in path.removeprefix("/teams/v3/").split("/") if p]
        if parts == ["conversations"] and method == "POST":
            return self._create_conversation(body)
        if len(parts) == 3 and parts[0] == "teams" and parts[2] == "conversations" and method == "GET":
            with self._lock:
                if parts[1] not in self.team_channels:  # the bot is not in that team
                    return 404, _error("BotNotInConversationRoster", "The bot is not part of the roster")
                return 200, {"conversations": [{"id": c, "type": "standard"}
                                               for c in self.team_channels[parts[1]]]}
        if len(parts) < 2 or parts[0] != "conversations":
            return 404, _error("NotFound", "unknown endpoint")
        conv_id = parts[1]
        rest = parts[2:]
        with self._lock:
            if rest in (["members"], ["pagedMembers"]) and conv_id not in self.conversations:
                # a roster the bot is not in (a wrong team id, or the app not added to the team)
                return 404, _error("BotNotInConversationRoster", "The bot is not part of the roster")
            conv = self.conversations.setdefault(conv_id, Conversation(conv_id))
            if rest == ["activities"] and method == "POST":
                activity_id = f"1{next(self._ids):012d}"
                conv.activities[activity_id] = {**(body or {}), "id": activity_id}
                return 201, {"id": activity_id}
            if len(rest) == 2 and rest[0] == "activities":
                activity_id = rest[1]
                if method == "POST":  # reply to an activity (legacy form)
                    new_id = f"1{next(self._ids):012d}"
                    conv.activities[new_id] = {**(body or {}), "id": new_id, "replyToId": activity_id}
                    return 201, {"id": new_id}
                if activity_id not in conv.activities or activity_id in conv.deleted:
                    return 404, _error("ActivityNotFoundInConversation", "no such activity")
                if method == "PUT":
                    conv.activities[activity_id] = {**(body or {}), "id": activity_id}
                    return 200, {"id": activity_id}
                if method == "DELETE":
                    conv.deleted.add(activity_id)
                    return 200, {}
            if rest == ["members"] and method == "GET":
                return 200, [m.as_json() for m in conv.members]
            if rest == ["pagedMembers"] and method == "GET":
                return 200, {"members": [m.as_json() for m in conv.members]}
            if len(rest) == 2 and rest[0] == "members" and method == "GET":
                for member in conv.members:
                    if rest[1] in (member.id, member.aad_object_id):
                        return 200, member.as_json()
                return 404, _error("MemberNotFoundInConversation", "The member is not in the roster")
        return 405, _error("BadArgument", f"{method} not supported on {path}")

    def _create_conversation(self, body: Any) -> tuple[int, Any]:
        members = (body or {}).get("members") or []
        if not members:
            return 400, _error("BadArgument", "members are required")
        who = members[0].get("aadObjectId") or members[0].get("id", "").removeprefix("29:")
        with self._lock:
            if who not in self.installed:
                return 403, _error("MemberNotFoundInConversation",
                                   "The app is not installed for this user")
            conv_id = f"a:personal-{who}"
            self.conversations.setdefault(conv_id, Conversation(conv_id, [Member(who, "")]))
        return 201, {"id": conv_id, "serviceUrl": self.service_url}

    # --- HTTP ------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every answer, which is the fake's, not Teams'.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:  # not JSON, or not even text (a file being uploaded)
                    body = raw.decode(errors="replace")
                if path == "/v1/.well-known/openidconfiguration":
                    self._answer(200, {"issuer": BOT_FRAMEWORK_ISSUER,
                                       "jwks_uri": fake.base_url + "/v1/.well-known/keys",
                                       "id_token_signing_alg_values_supported": ["RS256"]})
                    return
                if path == "/v1/.well-known/keys":
                    with fake._lock:
                        fake.key_fetches += 1
                    self._answer(200, fake._jwks())
                    return
                authorization = self.headers.get("Authorization") or ""
                if path.startswith("/upload/") and method == "PUT":
                    with fake._lock:
                        fake.uploads[path.removeprefix("/upload/")] = raw
                        fake.calls.append(Call(method, path, None, authorization, 201))
                    self._answer(201, {"id": path.removeprefix("/upload/")})
                    return
                status, answer, headers = self._connector(method, path, body, authorization)
                with fake._lock:
                    fake.calls.append(Call(method, path, body, authorization, status))
                if status == 0:  # lost: the effect happened, the answer never arrives
                    self.close_connection = True
                    return
                self._answer(status, answer, headers)

            def _connector(self, method: str, path: str, body: Any,
                           authorization: str) -> tuple[int, Any, dict[str, str]]:
                if not path.startswith("/teams/v3/"):
                    return 404, _error("NotFound", "unknown endpoint"), {}
                if not fake._outbound_ok(authorization):
                    return 401, _error("Unauthorized", "missing or invalid bearer token"), {}
                failure = fake._planned_failure(method, path)
                if failure and failure.delay:
                    time.sleep(failure.delay)
                    failure = None
                if failure and not failure.lost:
                    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                    code = failure.code or {429: "TooManyRequests", 412: "PreconditionFailed",
                                            500: "InternalServerError", 502: "BadGateway",
                                            504: "GatewayTimeout"}.get(failure.status, "Error")
                    return failure.status, _error(code, "injected failure"), headers
                status, answer = fake._route(method, path, body)
                if failure and failure.lost:
                    return 0, None, {}
                return status, answer, {}

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                self._handle("DELETE")

        return Handler


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def new_user_id() -> str:
    """A fresh Entra object id."""
    return str(uuid.uuid4())
