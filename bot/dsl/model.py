"""What the DSL side is made of, with no chat service in it: escalations and deliveries.

An escalation is the safety net for a worker who was unsure, so its delivery state is data, not
a side effect: every card, reminder and notice is a `Delivery` row first, and the outbox says
what reached a person and what did not.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Urgency(StrEnum):
    routine = "routine"
    urgent = "urgent"


class Status(StrEnum):
    open = "open"
    claimed = "claimed"
    resolved = "resolved"


class Kind(StrEnum):
    outcome = "outcome"  # the check reached an answer that alerts the DSL
    talk_now = "talk_now"  # "Talk to a DSL now", at any step


class CardState(StrEnum):
    """Whether the DSLs have been reached about this escalation."""

    pending = "pending"  # not yet delivered: the outbox keeps trying
    delivered = "delivered"  # the card is in the DSL channel
    fallback = "fallback"  # the card could not be posted; DSLs and deputies were messaged directly


class Escalation(BaseModel):
    """One escalation as stored. Ids, enums and answer ids only: never free text that could
    identify a child (the resolution note and case reference are scanned before they get here)."""

    model_config = ConfigDict(frozen=True)

    id: int
    created_at: datetime
    channel: str  # the chat channel of the requester; its DSL desk handles the escalation
    requester: str
    conversation_id: str
    kind: Kind
    urgency: Urgency
    flow_id: str = ""
    outcome_id: str = ""
    verdict: str = ""
    secondary: list[dict[str, str]] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    gateways: list[str] = Field(default_factory=list)
    answers: dict[str, Any] = Field(default_factory=dict)
    case_reference: str = ""
    status: Status = Status.open
    claimed_by: str = ""
    claimed_at: datetime | None = None
    resolved_by: str = ""
    resolved_at: datetime | None = None
    resolution_note: str = ""
    more_info_by: str = ""
    more_info_at: datetime | None = None
    reminders_sent: int = 0
    next_reminder_at: datetime | None = None
    card_state: CardState = CardState.pending
    card_ref: dict[str, Any] = Field(default_factory=dict)  # where the channel put the card
    version: int = 1  # bumped by every change: buttons carry it, so a repeat acts once

    @property
    def open(self) -> bool:
        return self.status is not Status.resolved


class DeliveryKind(StrEnum):
    """What the outbox delivers. Each kind is rendered by the channel's notifier."""

    card = "card"  # post the escalation card in the DSL channel
    card_update = "card_update"  # redraw it after a claim, a resolve, a case reference
    reminder = "reminder"  # nudge the DSL group in the card's thread
    deputy = "deputy"  # re-escalate to the deputies: thread note and a direct message each
    more_info = "more_info"  # a DSL asks the requester for more, in the card's thread
    note = "note"  # the card's own case moved on (the check finished after Talk to a DSL now)
    redraw = "redraw"  # the person's own check message, after its redraw failed: drawn as saved
    notice = "notice"  # tell the requester what happened (claimed, resolved, more info)
    fallback = "fallback"  # a direct message to a DSL or deputy when the channel post failed
    export = "export"  # the weekly (or requested) export to the DSLs


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    abandoned = "abandoned"  # gave up (after the fallback), kept for the record


class Delivery(BaseModel):
    """One row of the outbox: written in the same transaction as the change that causes it."""

    model_config = ConfigDict(frozen=True)

    id: int
    key: str  # idempotency key: the same change never makes two rows
    channel: str
    kind: DeliveryKind
    escalation_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    status: DeliveryStatus = DeliveryStatus.pending
    attempts: int = 0
    created_at: datetime
    next_attempt_at: datetime
    last_error: str = ""
    delivered_at: datetime | None = None
    fallback_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    # not stored: set by the deliverer when an earlier attempt may have reached the service (it
    # failed, or a process died holding the row), so a channel that can look first does
    maybe_sent: bool = False
