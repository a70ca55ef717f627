"""The Bot Connector for code that is not on the bot's event loop: the DSL desk's notifier and
directory, called from worker threads of `canishare teams serve` and from `canishare clock`.

teams.py is async and the desk and outbox are synchronous. The connector owns a private event
loop on its own thread with its own teams.py client; each call blocks its caller until the call
finishes there. So a handler never waits on its own loop (it calls the core from a worker
thread), and the clock process needs no server at all.

teams.py raises on the first 4xx/5xx and never retries or reads `Retry-After`
(docs/teams-sdk.md). Every failure here becomes a `DeliveryError` the outbox understands: 429
waits `Retry-After`; 412, 5xx and a dropped connection are retried with backoff; a person
without the app, a team the bot was removed from or a refused token fall back at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import httpx
from microsoft_teams.api import Account, ActivityParams, ApiClient
from microsoft_teams.api.clients.conversation.params import CreateConversationParams

from bot.channels.teams.config import TeamsConfig
from bot.channels.teams.server import TokenFunction, build_app
from bot.dsl.ports import DeliveryError

T = TypeVar("T")
log = logging.getLogger("canishare.teams")
NOT_INSTALLED = "MemberNotFoundInConversation"
# Codes after which the same call will fail again: fall back now rather than in a few minutes.
PERMANENT_CODES = {NOT_INSTALLED, "ConversationNotFound", "BotNotInConversationRoster", "BadArgument",
                   "ConversationBlockedByUser", "BotDisabledByAdmin", "Forbidden"}


class NotInstalled(DeliveryError):
    """The person has not got canishare in Teams, so a personal chat cannot be opened or used."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def delivery_error(exc: BaseException, what: str) -> DeliveryError:
    """A teams.py / httpx failure as the outbox sees it. `what` says which call it was."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        status, code = exc.response.status_code, _code(exc.response)
        label = f"Teams: {what}: HTTP {status}" + (f" {code}" if code else "")
        if code == NOT_INSTALLED:
            return NotInstalled(f"{label}: canishare is not installed for this person in Teams "
                                "(add it for everyone with an app setup policy)", permanent=True)
        if status == 429:
            return DeliveryError(label, retry_after=_retry_after(exc.response))
        if status in (408, 412) or status >= 500:
            return DeliveryError(label, retry_after=_retry_after(exc.response))
        return DeliveryError(label, permanent=status in (400, 401, 403, 404) or code in PERMANENT_CODES)
    if isinstance(exc, (httpx.TransportError, FutureTimeout, TimeoutError)):
        return DeliveryError(f"Teams unreachable: {what}: {type(exc).__name__}: {exc}"[:300])
    return DeliveryError(f"Teams: {what}: {type(exc).__name__}: {exc}"[:300])


class TeamsConnector:
    """Blocking calls to the Bot Connector, made on the connector's own loop and thread."""

    def __init__(self, config: TeamsConfig, token: TokenFunction | None = None, timeout: float = 15.0):
        self.config, self.timeout = config, timeout
        self._app = build_app(config, token=token, timeout=timeout)
        self._clients: dict[str, ApiClient] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="teams-connector", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _api(self, service_url: str) -> ApiClient:
        url = service_url.rstrip("/")
        if url not in self._clients:
            self._clients[url] = self._app.api.clone(service_url=url)
        return self._clients[url]

    def _run(self, work: Coroutine[Any, Any, T], what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(work, self.timeout), self._loop)
        try:
            return future.result(self.timeout + 5)
        except Exception as exc:  # noqa: BLE001 - every failure is a DeliveryError for the outbox
            future.cancel()
            raise delivery_error(exc, what) from exc

    # --- messages ------------------------------------------------------------------------------
    def send(self, service_url: str, conversation_id: str, activity: ActivityParams) -> str:
        """Post a message (a channel post, a thread reply with `;messageid=`, a personal chat
        message); returns its activity id."""
        sent = self._run(self._api(service_url).conversations.create_activity(conversation_id, activity),
                         "post a message")
        return sent.id

    def update(self, service_url: str, conversation_id: str, activity_id: str,
               activity: ActivityParams) -> None:
        """Replace a posted message for everyone who sees it."""
        api = self._api(service_url)
        self._run(api.conversations.update_activity(conversation_id, activity_id, activity),
                  "update a message")

    def open_personal_chat(self, service_url: str, user_id: str, aad_object_id: str) -> str:
        """The personal chat between the bot and someone who has the app (else `NotInstalled`)."""
        params = CreateConversationParams(
            members=[Account(id=user_id or aad_object_id, aad_object_id=aad_object_id)],
            tenant_id=self.config.tenant_id, is_group=False)
        resource = self._run(self._api(service_url).conversations.create(params), "open a personal chat")
        return resource.id

    # --- people ---------------------------------------------------------------------------------
    def team_members(self, service_url: str, team_id: str) -> dict[str, str]:
        """The team's roster, Entra object id -> display name (the bot's roster API: no Graph)."""
        members = self._run(self._api(service_url).conversations.get_members(team_id), "read the team roster")
        return {m.aad_object_id: m.name or "" for m in members if m.aad_object_id}

    def team_channels(self, service_url: str, team_id: str) -> set[str]:
        """The ids of the team's channels the bot can see (the General channel's id is the team's)."""
        channels = self._run(self._api(service_url).teams.get_conversations(team_id),
                             "list the team's channels")
        return {c.id for c in channels if c.id}

    def can_get_token(self) -> None:
        """Ask Entra ID (or the test issuer) for the bot's token, as every outbound call does;
        raises `DeliveryError` with what went wrong. teams.py has no public call for this, so the
        app's own token provider is asked (docs/teams-sdk.md)."""
        token = self._run(self._app._get_bot_token(), "get the bot's token from Entra ID")
        if token is None:
            raise DeliveryError("Teams: no token: the app has no client secret")
