"""The only source of time. Everything that needs "now" is handed a `Clock`; tests freeze it.

A test at fixed "todays" must see the same behaviour whatever the real date is, so no other
module may read the wall clock (a test checks this).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait (a frozen clock advances instead, so retries and backoff run instantly)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that moves only when told to: `advance()` or `set()`. Thread-safe."""

    def __init__(self, moment: datetime):
        self._now = _aware(moment)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = _aware(moment)

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds=seconds)


def _aware(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def today(clock: Clock, timezone: str = "Europe/London") -> date:
    """The local date for `clock` in `timezone`."""
    return clock.now().astimezone(ZoneInfo(timezone)).date()


def iso(moment: datetime) -> str:
    """The stored form of a moment: UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


SYSTEM_CLOCK = SystemClock()
