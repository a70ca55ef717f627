"""The clock process (`canishare clock`, the Procfile's `clock:`): deliveries still owed,
reminders, the weekly export, the daily retention purge and housekeeping.

One leader at a time: a lease row in the database, renewed every tick, so two clock processes
(or two machines) never both send; if the leader dies its lease expires and another takes over.
Each job runs on its own and each row inside a job on its own: an error is logged, counted and
skipped, and everything else goes on. The purge and pruning need no chat service at all.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.clock import Clock
from bot.dsl import health
from bot.dsl.desk import DslDesk
from bot.dsl.export import last_full_week
from bot.dsl.hours import DAYS
from bot.dsl.outbox import FALLS_BACK, default_holder
from bot.storage import ChainBroken, Storage

log = logging.getLogger("canishare.clock")
CONVERSATION_DAYS = 90  # an unfinished check can be resumed for this long
LEASE = "scheduler"
OVERDUE_KINDS = [k.value for k in FALLS_BACK]


@dataclass(frozen=True)
class Schedule:
    timezone: str = "Europe/London"
    weekly_export_day: str = "mon"
    weekly_export_time: str = "08:00"
    retention_days: int = 2190


class Scheduler:
    def __init__(self, storage: Storage, clock: Clock, schedule: Schedule, desk: DslDesk | None = None,
                 *, holder: str | None = None, interval: float = 10.0, fallback_minutes: float = 5.0):
        self.storage, self.clock, self.schedule, self.desk = storage, clock, schedule, desk
        self.tz = ZoneInfo(schedule.timezone)
        self.holder = holder or default_holder()
        self.interval, self.fallback_minutes = interval, fallback_minutes
        self.errors = 0
        self._reported: set[int] = set()

    # --- one tick -------------------------------------------------------------------------
    def tick(self) -> dict[str, int]:
        """Run every job once if this process holds the lease (renewed between jobs, so a slow
        job never leaves two leaders). Returns what each job did."""
        if not self._lead():
            return {"leader": 0}
        result = {"leader": 1}
        try:
            health.beat(self.storage)  # readiness reads it: the jobs below are running
        except Exception:  # noqa: BLE001 - the database may be read-only: the jobs say more
            log.exception("scheduler: could not record the heartbeat")
        jobs: list[tuple[str, Callable[[], int]]] = []
        desk = self.desk
        if desk is not None and desk.channels:
            jobs += [("reminders", desk.send_reminders),
                     ("weekly_export", self.weekly_export),
                     ("delivered", lambda: desk.outbox.deliver_due(self.budget)["delivered"]),
                     ("overdue", desk.outbox.sweep_overdue)]
        jobs += [("unserved", self.unserved), ("purged", self.daily_purge)]
        for name, job in jobs:
            if not self._lead():
                result["leader"] = 0
                break
            try:
                result[name] = job()
            except Exception:  # noqa: BLE001 - one failed job never stops the others
                log.exception("scheduler job %s failed", name)
                result[name] = 0
                result["errors"] = result.get("errors", 0) + 1
                self.errors += 1
        return result

    @property
    def budget(self) -> float:
        """How long one tick may spend delivering (a slow service must not starve the rest)."""
        return max(2 * self.interval, 1.0)

    def _lead(self) -> bool:
        # Three ticks: a crashed leader is replaced within that. Correctness never rests on the
        # lease alone: every message has an idempotency key and every delivery its own claim.
        lease_seconds = max(3 * self.interval, self.budget + self.interval, 1.0)
        try:
            with self.storage.transaction() as tx:
                return tx.housekeeping.hold_lease(LEASE, self.holder, lease_seconds)
        except Exception:  # noqa: BLE001 - the database may be down: try again next tick
            log.exception("scheduler: could not take the lease")
            self.errors += 1
            return False

    def unserved(self) -> int:
        """Deliveries for the DSLs that no process here can send (a channel whose settings this
        clock lacks): an ERROR for the operator, once per row per process. Another clock that
        serves the channel still delivers them and falls back as usual."""
        served = set(self.desk.channels) if self.desk is not None else set()
        cutoff = self.clock.now() - timedelta(minutes=self.fallback_minutes)
        with self.storage.read() as tx:
            stuck = [d for d in tx.outbox.overdue(cutoff, OVERDUE_KINDS) if d.channel not in served]
        for delivery in stuck:
            if delivery.id not in self._reported:
                self._reported.add(delivery.id)
                log.error("DELIVERY STUCK %s %s: pending since %s and this clock has no %s settings "
                          "to deliver it: run `canishare clock` with them", delivery.kind.value, delivery.key,
                          delivery.created_at.isoformat(timespec="seconds"), delivery.channel)
        return len(stuck)

    def resign(self) -> None:
        """Hand the lease back (on exit), so the next clock leads at once."""
        try:
            with self.storage.transaction() as tx:
                tx.housekeeping.release_lease(LEASE, self.holder)
        except Exception:  # noqa: BLE001 - it expires on its own
            log.exception("scheduler: could not release the lease")

    # --- jobs -----------------------------------------------------------------------------
    def latest_weekly_slot(self, now: datetime) -> datetime:
        """The most recent scheduled weekly export time at or before `now`."""
        local = now.astimezone(self.tz)
        hour, minute = map(int, self.schedule.weekly_export_time.split(":"))
        day = DAYS.index(self.schedule.weekly_export_day)
        date = local.date() - timedelta(days=(local.weekday() - day) % 7)
        slot = datetime.combine(date, time(hour, minute), self.tz)
        return slot if slot <= local else slot - timedelta(days=7)

    def weekly_export(self) -> int:
        """Queue the latest week's export once (a run missed while the process was down is
        caught up once); the outbox marks it done only after the upload succeeded."""
        assert self.desk is not None
        slot = self.latest_weekly_slot(self.clock.now())
        start, end = last_full_week(slot, self.schedule.timezone)
        return self.desk.queue_weekly_export(slot.date().isoformat(), start, end)

    def daily_purge(self) -> int:
        now = self.clock.now()
        with self.storage.transaction(durable=True) as tx:
            if not tx.housekeeping.claim_job("purge", now.astimezone(self.tz).date().isoformat()):
                return 0
            tx.housekeeping.prune(events_before=now - timedelta(days=2),
                                  conversations_before=now - timedelta(days=CONVERSATION_DAYS))
        cutoff = now - timedelta(days=self.schedule.retention_days)
        try:
            return self.storage.purge_decisions(cutoff, "scheduler").count
        except ChainBroken as exc:
            log.error("NOT PURGING: the decision log does not verify (%s): run `canishare log verify`", exc)
            return 0

    # --- the process ------------------------------------------------------------------------
    def run_forever(self) -> None:
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("clock started (%s), every %ss; database %s", self.holder, self.interval, self.storage.where)
        while not stopping:
            self.tick()
            waited = 0.0
            while not stopping and waited < self.interval:
                step = min(0.25, self.interval - waited)
                self.clock.sleep(step)
                waited += step
        self.resign()
        log.info("clock stopped")


DELIVERY_LEASE = "deliveries"


class DeliveryLoop:
    """Deliveries need no extra process: every web process runs this on a background thread,
    and the one holding the `deliveries` lease retries what is due and falls back what is
    overdue, every `interval` seconds. A deployment with only the web process still keeps its
    promises; the clock stays the home of reminders, exports and the purge (and delivers too:
    each row has its own claim, so two deliverers never send one message twice)."""

    def __init__(self, storage: Storage, clock: Clock, desk: DslDesk, *, interval: float = 10.0,
                 holder: str | None = None):
        self.storage, self.clock, self.desk, self.interval = storage, clock, desk, interval
        self.holder = holder or default_holder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> dict[str, int]:
        budget = max(2 * self.interval, 1.0)
        try:
            with self.storage.transaction() as tx:
                if not tx.housekeeping.hold_lease(DELIVERY_LEASE, self.holder,
                                                  max(3 * self.interval, budget + self.interval)):
                    return {"leader": 0}
        except Exception:  # noqa: BLE001 - the database may be down: try again next time
            log.exception("deliveries: could not take the lease")
            return {"leader": 0}
        result = {"leader": 1}
        for name, job in (("delivered", lambda: self.desk.outbox.deliver_due(budget)["delivered"]),
                          ("overdue", self.desk.outbox.sweep_overdue)):
            try:
                result[name] = job()
            except Exception:  # noqa: BLE001 - one failed job never stops the other
                log.exception("deliveries: %s failed", name)
        return result

    def start(self) -> DeliveryLoop:
        self._thread = threading.Thread(target=self._run, name="canishare-deliveries", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        try:
            with self.storage.transaction() as tx:
                tx.housekeeping.release_lease(DELIVERY_LEASE, self.holder)
        except Exception:  # noqa: BLE001 - it expires on its own
            log.exception("deliveries: could not release the lease")
