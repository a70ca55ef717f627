"""Is this deployment able to keep its promises? One channel-neutral answer for the Slack and
Teams servers' `/readyz`, and for anything else that asks (an operator's check, a monitor).

Liveness (`/healthz`) only says the process answers. Readiness says that what the person is
told will come true: the database takes writes, its schema is the one this code was written
for, the clock (reminders, exports, purge) has ticked within three of its intervals, and
nothing owed to anyone has waited past the fallback deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.clock import Clock
from bot.storage import LATEST, Storage, StorageError

CLOCK = "clock"  # the heartbeat row every clock tick writes
PROBE = "readiness"  # the heartbeat row each readiness check writes (proves the database takes writes)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def text(self) -> str:
        """One line per check, failures first: what a monitor shows and an operator reads."""
        ordered = sorted(self.checks, key=lambda c: c.ok)
        return "\n".join(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in ordered) + "\n"


def beat(storage: Storage, name: str = CLOCK) -> None:
    """Record that `name` ran now (the clock calls this every tick)."""
    with storage.transaction() as tx:
        tx.housekeeping.beat(name)


def clock_heartbeat_at(storage: Storage) -> datetime | None:
    """When a clock process last ticked (as the leader), or None if none ever has."""
    with storage.read() as tx:
        return tx.housekeeping.last_beat(CLOCK)


def readiness(storage: Storage, clock: Clock, *, clock_interval: float,
              fallback_minutes: float) -> Readiness:
    """Every check, each on its own: one failing (even the database refusing) never hides the
    others' answers."""
    now = clock.now()
    checks = [_writable(storage), _schema(storage)]
    checks.append(_clock(storage, now, clock_interval))
    checks.append(_outbox(storage, now, fallback_minutes))
    return Readiness(checks)


def _writable(storage: Storage) -> Check:
    try:
        beat(storage, PROBE)
    except StorageError as exc:
        return Check("database", False, f"cannot write to {storage.where}: {exc}")
    return Check("database", True, f"{storage.where} takes writes")


def _schema(storage: Storage) -> Check:
    try:
        version = storage.schema_version()
    except StorageError as exc:
        return Check("schema", False, f"cannot read the schema version: {exc}")
    if version != LATEST:
        return Check("schema", False, f"version {version}, this code needs {LATEST}: run "
                                      "`canishare db migrate`")
    return Check("schema", True, f"version {version}")


def _clock(storage: Storage, now: datetime, interval: float) -> Check:
    try:
        last = clock_heartbeat_at(storage)
    except StorageError as exc:
        return Check("clock", False, f"cannot read the clock's heartbeat: {exc}")
    if last is None:
        return Check("clock", False, "no `canishare clock` has ever run here: reminders, the weekly "
                                     "export and the purge need one")
    age = (now - last).total_seconds()
    limit = 3 * interval
    if age > limit:
        return Check("clock", False, f"last tick {age:.0f} s ago (more than three intervals, {limit:g} s): "
                                     "is `canishare clock` running?")
    return Check("clock", True, f"last tick {age:.0f} s ago")


def _outbox(storage: Storage, now: datetime, fallback_minutes: float) -> Check:
    try:
        with storage.read() as tx:
            since = tx.outbox.oldest_pending_since()
    except StorageError as exc:
        return Check("deliveries", False, f"cannot read the outbox: {exc}")
    if since is None:
        return Check("deliveries", True, "nothing waiting")
    waited = now - since
    if waited > timedelta(minutes=fallback_minutes):
        return Check("deliveries", False, f"a delivery has waited {waited.total_seconds() / 60:.0f} min "
                                          f"(the fallback deadline is {fallback_minutes:g} min)")
    return Check("deliveries", True, f"oldest waiting {waited.total_seconds():.0f} s")
