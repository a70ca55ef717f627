"""The reminder ladder, as a pure function: an unclaimed escalation first nudges the DSL group in
its card's thread, then goes to the deputies (a thread note and a direct message each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.dsl.model import DeliveryKind, Escalation, Urgency
from bot.dsl.ports import DeskPolicy, DslGroup, Message, Person


@dataclass(frozen=True)
class ReminderStep:
    number: int  # 1 = the group reminder, 2 = the deputy step
    kind: DeliveryKind
    note: Message  # posted in the card's thread, broadcast to the channel
    direct: list[tuple[str, Message]] = field(default_factory=list)  # (person, message)
    next_at: datetime | None = None


def minutes_for(urgency: Urgency, policy: DeskPolicy) -> int:
    return policy.remind_urgent_minutes if urgency is Urgency.urgent else policy.remind_routine_minutes


def next_step(escalation: Escalation, policy: DeskPolicy, deputies: list[str],
              now: datetime) -> ReminderStep | None:
    minutes = minutes_for(escalation.urgency, policy)
    label = f"{escalation.urgency.value} escalation #{escalation.id}"
    if escalation.reminders_sent == 0:
        return ReminderStep(1, DeliveryKind.reminder,
                            (DslGroup(), f" Reminder: {label} is still unclaimed after {minutes} minutes."),
                            next_at=now + timedelta(minutes=minutes))
    if escalation.reminders_sent == 1:
        who: Message = tuple(x for d in deputies for x in (Person(d), " ")) or (DslGroup(), " ")
        direct = [(d, (f"{escalation.urgency.value.title()} escalation #{escalation.id} is unclaimed: "
                       "please claim it in the DSL channel.",)) for d in deputies]
        return ReminderStep(2, DeliveryKind.deputy,
                            (*who, f"Escalated to the deputy DSL: {label} is still unclaimed."),
                            direct=direct, next_at=None)
    return None
