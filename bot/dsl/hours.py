"""Working hours: outside them, escalation cards carry the out-of-hours route."""

from __future__ import annotations

from datetime import datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo


class Hours(Protocol):
    timezone: str
    working_hours: str
    working_days: str

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def working_days(spec: str) -> set[int]:
    """'mon-fri', 'mon,wed,fri' or 'mon-thu,sat' -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        start, end = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    return days


def in_working_hours(moment: datetime, settings: Hours) -> bool:
    local = moment.astimezone(ZoneInfo(settings.timezone))
    start_text, _, end_text = settings.working_hours.partition("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    return local.weekday() in working_days(settings.working_days) and start <= local.time() < end
