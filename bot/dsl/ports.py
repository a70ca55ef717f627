"""The small seams between the DSL desk and a chat channel. Slack and Teams each implement them;
the desk and the outbox never see a chat SDK.

Words are built here as `Message`s: plain text pieces and references to people. A channel turns
a `Person` into its own mention and escapes every text piece, so text someone typed can never
become a link, a mention or formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.dsl.model import Delivery


@dataclass(frozen=True)
class Person:
    """Someone to mention (a Slack user id, an Entra object id)."""

    id: str


@dataclass(frozen=True)
class DslGroup:
    """The DSL group mention (a Slack user group, or the channel)."""


Segment = str | Person | DslGroup
Message = tuple[Segment, ...]


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class CardView:
    """What an escalation card says, for any channel. No case details: channel posts appear in
    notification previews and are kept by the workspace's retention."""

    escalation_id: int
    version: int
    urgent: bool
    title: str  # "Urgent safeguarding escalation #12"
    requester: Person
    what: str  # the verdict, or "Asked to talk to a DSL now"
    also: list[str]  # secondary verdicts
    answers: list[Fact]
    rules: list[str]
    gateways: list[str]
    raised_at: str  # local time, e.g. "Mon 16 Nov 10:00"
    case_reference: str
    out_of_hours: str  # the route to show outside working hours, else ""
    status: Message  # e.g. ("Claimed by ", Person("U1"), " at Mon 16 Nov 10:04")
    can_claim: bool
    can_resolve: bool
    can_ask: bool


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content: bytes
    title: str
    summary: list[str]  # lines of the weekly summary, plain text
    requested_by: Person | None = None
    checkpoint: str = ""  # the log's signed checkpoint, published with the file


class DeliveryError(Exception):
    """A delivery did not happen. `retry_after`: seconds the service asked us to wait;
    `permanent`: retrying as is will not help (wrong channel, not invited), so fall back now."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after, self.permanent = retry_after, permanent


class DslNotifier(Protocol):
    """Posts to one channel's DSL desk. Every method raises `DeliveryError` on failure and
    returns what the channel needs to find the message again (a card reference)."""

    channel: str

    def post_card(self, card: CardView, delivery: Delivery) -> dict[str, Any]: ...

    def update_card(self, card: CardView, card_ref: dict[str, Any]) -> None: ...

    def post_note(self, card_ref: dict[str, Any], message: Message, delivery: Delivery,
                  broadcast: bool = False) -> dict[str, Any]: ...

    def tell(self, person: str, message: Message, delivery: Delivery,
             card: CardView | None = None) -> dict[str, Any]:
        """A direct message; with `card`, the escalation card and its buttons under it (a DSL
        messaged directly can claim from there)."""
        ...

    def deliver_export(self, export: ExportFile, delivery: Delivery) -> dict[str, Any]: ...


class DslDirectory(Protocol):
    """Who the DSLs are in one channel."""

    def is_dsl(self, user_id: str) -> bool: ...

    def deputies(self) -> list[str]: ...

    def fallback_people(self) -> list[str]:
        """Who to message directly when the DSL channel cannot be reached."""
        ...


@dataclass(frozen=True)
class DeskPolicy:
    """The desk's settings, channel-neutral (built from `Settings` by the composition root)."""

    timezone: str = "Europe/London"
    remind_urgent_minutes: int = 10
    remind_routine_minutes: int = 60
    working_hours: str = "08:00-18:00"
    working_days: str = "mon-fri"
    out_of_hours_route: str = ("Out of hours: call your local children's social care emergency "
                               "duty team, or 999 if a child is in immediate danger.")
    fallback_attempts: int = 3
    fallback_minutes: int = 5


@dataclass
class EscalationNotice:
    """What to tell the person who raised an escalation: only "alerted" once it was delivered."""

    escalation_id: int
    delivered: bool
    by_direct_message: bool = False  # the channel post failed; DSLs were messaged directly
    already: bool = False  # this press repeated an earlier one
    route: str = ""  # what to do meanwhile when not delivered (out-of-hours route)
    extra: dict[str, Any] = field(default_factory=dict)
    sending: bool = False  # shown while the card is being sent: this message updates in a moment

    def text(self) -> str:
        ref = f"(escalation #{self.escalation_id})"
        if self.sending:
            return (f"Alerting your DSLs now {ref}: this message will say when they have been. "
                    "If a child is in immediate danger, call 999.")
        if self.delivered:
            how = " by direct message" if self.by_direct_message else ""
            again = "already been" if self.already else "been"
            return (f"Your DSLs have {again} alerted{how} {ref}: a DSL will contact you. "
                    "If a child is in immediate danger, call 999.")
        return (f"We have not reached your DSLs yet {ref}: we will keep trying, and tell you here "
                f"when we have. Please contact your DSL directly now. {self.route}").strip()


@dataclass
class DeskResult:
    """The outcome of a DSL action, for the channel to show. `error` keys a form field."""

    ok: bool
    message: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    changed: bool = False
    at: datetime | None = None


def encode_message(message: Message) -> list[dict[str, str]]:
    """A message as JSON for the outbox (what to say is stored, not a channel's markup)."""
    out = []
    for segment in message:
        if isinstance(segment, Person):
            out.append({"person": segment.id})
        elif isinstance(segment, DslGroup):
            out.append({"group": "dsl"})
        else:
            out.append({"text": segment})
    return out


def decode_message(data: list[dict[str, str]]) -> Message:
    segments: list[Segment] = []
    for item in data:
        if "person" in item:
            segments.append(Person(item["person"]))
        elif "group" in item:
            segments.append(DslGroup())
        else:
            segments.append(item.get("text", ""))
    return tuple(segments)
