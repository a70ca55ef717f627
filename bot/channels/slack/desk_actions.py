"""Slack listeners for the DSL desk: Claim, Resolved (a modal with a note), Need more info, and
`/canishare export` / `/canishare log`. They translate; the desk decides and delivers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.channels.slack import blocks
from bot.channels.slack.metadata import MetadataSigner, TamperedMetadata
from bot.dsl import export
from bot.dsl.desk import DslDesk
from bot.settings import Settings


class SlackChannel(Protocol):
    """What the desk listeners need of the Slack channel (a protocol, so this module does not
    import the app that imports it)."""

    def guard(self, listener: Callable[..., Any]) -> Callable[..., Any]: ...

    def ephemeral(self, client: WebClient, body: dict[str, Any], user: str, text: str) -> None: ...

CHANNEL = "slack"
EXPORT_USAGE = "Usage: `/canishare export [YYYY-MM-DD] [YYYY-MM-DD]` (default: last week)"


def _escalation_ref(body: dict[str, Any]) -> tuple[int, int] | None:
    try:
        value = json.loads(body["actions"][0]["value"])
        return int(value["e"]), int(value.get("v", 0))
    except (KeyError, IndexError, TypeError, ValueError):
        return None


class SlackDeskActions:
    def __init__(self, desk: DslDesk, settings: Settings, signer: MetadataSigner, channel: SlackChannel):
        self.desk, self.settings, self.signer, self.channel = desk, settings, signer, channel

    def register(self, app: App, lazily: Callable[[Callable[..., Any]], dict[str, Any]]) -> None:
        guard = self.channel.guard
        app.action("dsl_claim")(**lazily(self.on_claim))
        app.action("dsl_resolve")(**lazily(self.on_resolve_open))
        app.action("dsl_more_info")(**lazily(self.on_more_info))
        app.view("dsl_resolve_note")(ack=guard(self.ack_resolve), lazy=lazily(self.on_resolved)["lazy"])

    def _refuse(self, client: WebClient, body: dict[str, Any], user: str, text: str) -> None:
        self.channel.ephemeral(client, body, user, text)

    def on_claim(self, body: dict[str, Any], client: WebClient) -> None:
        user, ref = body["user"]["id"], _escalation_ref(body)
        if ref is None:
            return
        result = self.desk.claim(CHANNEL, user, ref[0])
        if not result.ok:
            self._refuse(client, body, user, result.message)

    def on_resolve_open(self, body: dict[str, Any], client: WebClient) -> None:
        user, ref = body["user"]["id"], _escalation_ref(body)
        if ref is None:
            return
        if not self.desk.is_dsl(CHANNEL, user):
            self._refuse(client, body, user, self.desk.resolve(CHANNEL, user, ref[0], None).message)
            return
        meta = self.signer.sign({"e": ref[0]}, user)
        client.views_open(trigger_id=body["trigger_id"], view=blocks.resolve_modal(meta))

    def ack_resolve(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        try:
            escalation_id = int(self.signer.verify(view.get("private_metadata") or "", user)["e"])
        except (TamperedMetadata, KeyError, TypeError, ValueError):
            ack(response_action="errors", errors={
                "note": "This form could not be checked: close it and press Resolved again."})
            return
        result = self.desk.resolve(CHANNEL, user, escalation_id, blocks.modal_values(view).get("note"),
                                   deliver=False)  # the card and the requester follow after the ack
        if result.errors:
            ack(response_action="errors", errors=result.errors)
            return
        ack()

    def on_resolved(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            meta = self.signer.verify(view.get("private_metadata") or "", body["user"]["id"])
            escalation_id = int(meta["e"])
        except (TamperedMetadata, KeyError, TypeError, ValueError):
            return
        self.desk.deliver_for([escalation_id])

    def on_more_info(self, body: dict[str, Any], client: WebClient) -> None:
        user, ref = body["user"]["id"], _escalation_ref(body)
        if ref is None:
            return
        result = self.desk.more_info(CHANNEL, user, ref[0], ref[1])
        if not result.ok:
            self._refuse(client, body, user, result.message)

    # --- commands ---------------------------------------------------------------------------
    def on_export_command(self, command: dict[str, Any], respond: Any) -> None:
        """Answers go back through the command's response URL: they reach the person wherever
        they typed it, including a channel the bot is not in."""
        user = command["user_id"]
        parts = (command.get("text") or "").split()[1:]
        tz = self.settings.timezone
        try:
            start, end = export.period(parts, self.desk.clock.now(), tz)
        except ValueError:
            respond(text=EXPORT_USAGE, response_type="ephemeral")
            return
        key = command.get("trigger_id") or f"{user}:{start.date()}:{end.date()}"
        result = self.desk.request_export(CHANNEL, user, start, end, key)
        respond(text=blocks.escape(result.message), response_type="ephemeral")

    def log_text(self, command: dict[str, Any]) -> str:
        result = self.desk.latest_decisions(CHANNEL, command["user_id"])
        if not result.ok:
            return result.message
        title, _, rest = result.message.partition("\n")
        return f"*{title}*\n{blocks.escape(rest)}"
