"""Attach the DSL desk to the Slack app when a DSL channel is configured."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.channels.slack.app import ack_now
from bot.dsl.desk import Clock, DslDesk, system_clock
from bot.settings import Settings
from bot.storage import Storage


def attach_dsl(app: App, channel: Any, settings: Settings, storage: Storage,
               clock: Clock = system_clock) -> DslDesk | None:
    """Without CANISHARE_DSL_CHANNEL nothing is posted: escalation buttons say so."""
    if not settings.dsl_channel:
        return None
    desk = DslDesk(settings, storage, channel.bundle, clock)
    channel.escalations = desk
    guard = channel.guard
    app.action("dsl_claim")(ack=ack_now, lazy=[guard(desk.on_claim)])
    app.action("dsl_resolve")(ack=ack_now, lazy=[guard(desk.on_resolve_open)])
    app.action("dsl_more_info")(ack=ack_now, lazy=[guard(desk.on_more_info)])
    app.view("dsl_resolve_note")(guard(desk.ack_resolve))
    return desk
