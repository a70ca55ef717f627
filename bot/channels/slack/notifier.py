"""The Slack side of the DSL desk's ports: posting cards, notes, direct messages and exports, and
knowing who the DSLs are. Every Slack failure becomes a `DeliveryError` the outbox understands
(retry after `Retry-After`, or fall back now for a channel the bot cannot post in).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

from bot.channels.slack import blocks
from bot.dsl.model import Delivery
from bot.dsl.ports import CardView, DeliveryError, ExportFile, Message
from bot.settings import Settings

T = TypeVar("T")
log = logging.getLogger("canishare.slack")
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed",
             "account_inactive", "token_revoked", "missing_scope", "restricted_action",
             "user_not_found", "cannot_dm_bot", "user_disabled"}
DELIVERY_EVENT = "canishare_delivery"


class RatelimitedRetryHandler(RetryHandler):
    """Slack also says `ratelimited` as an `ok: false` answer with HTTP 200, which slack_sdk's
    429 handler never sees: ride that out once too, after the default short backoff."""

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        body = getattr(response, "body", None)
        return isinstance(body, dict) and body.get("error") == "ratelimited"


def web_client(settings: Settings, *, retries: bool) -> WebClient:
    """The app's client. `retries`: a person is waiting on this call (redrawing their check), so
    ride out one 429, 5xx or dropped connection; the outbox's own client retries nothing itself
    (it records each attempt and backs off)."""
    assert settings.slack_bot_token is not None
    handlers = [ConnectionErrorRetryHandler(max_retry_count=1),
                RateLimitErrorRetryHandler(max_retry_count=1),
                RatelimitedRetryHandler(max_retry_count=1),
                ServerErrorRetryHandler(max_retry_count=1)] if retries else []
    return WebClient(token=settings.slack_bot_token.get_secret_value(),
                     base_url=settings.slack_api_base_url, retry_handlers=handlers, timeout=15)


def delivery_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, SlackApiError):
        response = exc.response
        code = (response.data or {}).get("error") if isinstance(response.data, dict) else None
        status = response.status_code
        retry_after = None
        for name, value in (response.headers or {}).items():
            if name.lower() == "retry-after":
                try:
                    retry_after = float(value if isinstance(value, str) else value[0])
                except (TypeError, ValueError):
                    retry_after = None
        what = code or f"HTTP {status}"
        return DeliveryError(f"Slack: {what}", retry_after=retry_after, permanent=code in PERMANENT)
    return DeliveryError(f"Slack unreachable: {type(exc).__name__}: {exc}"[:300])


def _call(work: Callable[[], T]) -> T:
    try:
        return work()
    except (SlackClientError, OSError) as exc:
        raise delivery_error(exc) from exc


class SlackNotifier:
    channel = "slack"

    def __init__(self, client: WebClient, settings: Settings):
        self.client, self.settings = client, settings
        self.dsl_channel = settings.dsl_channel or ""
        # draws a person's check message as saved ({user, conversation, channel, ts, practice}),
        # set by the app (which knows how to render a check); None until it is built
        self.drawer: Callable[[WebClient, dict[str, Any]], None] | None = None

    def redraw(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A person's check message whose redraw failed, drawn now as the check stands."""
        drawer = self.drawer
        if drawer is None:
            raise DeliveryError("Slack: this process cannot draw check messages")
        _call(lambda: drawer(self.client, payload))
        return {"channel": payload.get("channel"), "ts": payload.get("ts")}

    def _metadata(self, delivery: Delivery) -> dict[str, Any]:
        return {"event_type": DELIVERY_EVENT, "event_payload": {"key": delivery.key}}

    def post_card(self, card: CardView, delivery: Delivery) -> dict[str, Any]:
        if delivery.maybe_sent:
            found = self._already_posted(delivery)
            if found:
                return found
        response = _call(lambda: self.client.chat_postMessage(
            channel=self.dsl_channel, text=blocks.card_text(card), blocks=blocks.card_blocks(card),
            metadata=self._metadata(delivery), unfurl_links=False, unfurl_media=False))
        return {"channel": response["channel"], "ts": response["ts"]}

    def _already_posted(self, delivery: Delivery, channel: str | None = None,
                        thread_ts: str | None = None) -> dict[str, Any] | None:
        """After a failure that may have reached Slack (a lost response, a kill mid-post), look
        for the message before posting again, by the delivery key carried in its metadata: in
        the channel, in a card's thread (reminders, notes) or in a person's DM (notices)."""
        channel = channel or self.dsl_channel
        try:
            oldest = (delivery.created_at - timedelta(minutes=1)).timestamp()
            where = {"channel": channel, "oldest": f"{oldest:.6f}", "include_all_metadata": True,
                     "limit": 200}
            history = (self.client.conversations_replies(ts=thread_ts, **where) if thread_ts
                       else self.client.conversations_history(**where))
        except (SlackClientError, OSError):
            return None
        for message in history.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == delivery.key:
                return {"channel": channel, "ts": message["ts"], "found": True}
        return None

    def update_card(self, card: CardView, card_ref: dict[str, Any]) -> None:
        _call(lambda: self.client.chat_update(channel=card_ref["channel"], ts=card_ref["ts"],
                                              text=blocks.card_text(card), blocks=blocks.card_blocks(card)))

    def post_note(self, card_ref: dict[str, Any], message: Message, delivery: Delivery,
                  broadcast: bool = False) -> dict[str, Any]:
        group = self.settings.dsl_group_mention
        thread = {"thread_ts": card_ref["ts"], "reply_broadcast": broadcast} if card_ref.get("ts") else {}
        if delivery.maybe_sent:
            found = self._already_posted(delivery, card_ref.get("channel"), card_ref.get("ts"))
            if found:
                return found
        response = _call(lambda: self.client.chat_postMessage(
            channel=card_ref.get("channel") or self.dsl_channel, text=blocks.message_text(message, group),
            blocks=[blocks.message_block(message, group)], metadata=self._metadata(delivery),
            unfurl_links=False, unfurl_media=False, **thread))
        return {"channel": response["channel"], "ts": response["ts"]}

    def tell(self, person: str, message: Message, delivery: Delivery,
             card: CardView | None = None) -> dict[str, Any]:
        group = self.settings.dsl_group_mention
        extra = blocks.card_blocks(card) if card is not None else []
        if delivery.maybe_sent:
            found = self._already_told(person, delivery)
            if found:
                return found
        response = _call(lambda: self.client.chat_postMessage(
            channel=person, text=blocks.message_text(message, group),
            blocks=[blocks.message_block(message, group), *extra], metadata=self._metadata(delivery),
            unfurl_links=False, unfurl_media=False))
        return {"channel": response["channel"], "ts": response["ts"]}

    def _already_shared(self, export: ExportFile, delivery: Delivery) -> dict[str, Any] | None:
        """The export's file shared in the DSL channel since the delivery was queued (found in
        the channel's history by its title: files carry no metadata)."""
        try:
            oldest = (delivery.created_at - timedelta(minutes=1)).timestamp()
            history = self.client.conversations_history(channel=self.dsl_channel, oldest=f"{oldest:.6f}",
                                                        limit=200)
        except (SlackClientError, OSError):
            return None
        for message in history.get("messages") or []:
            files = [f for f in message.get("files") or [] if f.get("title") == export.title]
            if files:
                return {"files": [f.get("id") for f in files], "found": True}
        return None

    def _already_told(self, person: str, delivery: Delivery) -> dict[str, Any] | None:
        """A direct message that may have arrived: look in the person's DM with the bot first."""
        try:
            channel = self.client.conversations_open(users=person)["channel"]["id"]
        except (SlackClientError, OSError, KeyError, TypeError):
            return None
        return self._already_posted(delivery, channel)

    def deliver_export(self, export: ExportFile, delivery: Delivery) -> dict[str, Any]:
        if delivery.maybe_sent:  # a lost response or a kill after the upload: is it there already?
            found = self._already_shared(export, delivery)
            if found:
                return found
        comment = blocks.export_comment(export)
        response = _call(lambda: self.client.files_upload_v2(
            channel=self.dsl_channel, content=export.content, filename=export.filename,
            title=export.title, initial_comment=comment))
        files = response.get("files") or [response.get("file") or {}]
        return {"files": [f.get("id") for f in files if f]}


class SlackDirectory:
    """DSLs are the listed user ids plus the members of the DSL channel (cached for a minute, so a
    click costs no extra Web API call), if that channel is private: anyone can join a public
    channel, and membership would then hand anyone the log. Deputies are listed."""

    def __init__(self, client: WebClient, settings: Settings, cache_seconds: float = 60.0):
        self.client, self.settings, self.cache_seconds = client, settings, cache_seconds
        self._members: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()
        self._warned = False

    def members(self) -> frozenset[str]:
        if not self.settings.dsl_channel:
            return frozenset()
        with self._lock:
            if self._members and time.monotonic() - self._members[0] < self.cache_seconds:
                return self._members[1]
        info = self.client.conversations_info(channel=self.settings.dsl_channel)
        if not (info.get("channel") or {}).get("is_private"):
            if not self._warned:
                self._warned = True
                log.error("CANISHARE_DSL_CHANNEL %s is a public channel: its members are NOT treated as "
                          "DSLs (anyone could join); only CANISHARE_DSL_USER_IDS are. Use a private channel.",
                          self.settings.dsl_channel)
            members = frozenset()
            with self._lock:
                self._members = (time.monotonic(), members)
            return members
        found: set[str] = set()
        cursor = None
        while True:
            page = self.client.conversations_members(channel=self.settings.dsl_channel, limit=1000,
                                                     **({"cursor": cursor} if cursor else {}))
            found.update(page.get("members") or [])
            cursor = ((page.get("response_metadata") or {}).get("next_cursor")) or None
            if not cursor:
                break
        members = frozenset(found)
        with self._lock:
            self._members = (time.monotonic(), members)
        return members

    def is_dsl(self, user_id: str) -> bool:
        if user_id in self.settings.dsl_ids:
            return True
        try:
            return user_id in self.members()
        except (SlackClientError, OSError):
            return False  # cannot check: refuse, and the refusal is audited

    def deputies(self) -> list[str]:
        return sorted(self.settings.deputy_ids)

    def fallback_people(self) -> list[str]:
        return sorted(self.settings.dsl_ids | self.settings.deputy_ids)


def slack_desk(settings: Settings) -> tuple[SlackNotifier, SlackDirectory]:
    client = web_client(settings, retries=False)
    return SlackNotifier(client, settings), SlackDirectory(client, settings)
