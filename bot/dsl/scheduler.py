"""The clock process (`canishare clock`, the Procfile's `clock:`): reminders, the weekly export
to the DSL channel, and the daily retention purge.

Every job is claimed in the database for its period before it runs, so a job runs once per
period whatever the number of processes or restarts; a run missed while the process was down is
caught up at the next start, once.
"""

from __future__ import annotations

import logging
import signal
import time as clock_time
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

from bot.dsl.desk import DslDesk
from bot.dsl.export import last_full_week
from bot.dsl.hours import DAYS
from bot.settings import Settings
from bot.storage import Storage

log = logging.getLogger("canishare.clock")
CONVERSATION_DAYS = 90  # an unfinished check can be resumed for this long


class Scheduler:
    def __init__(self, settings: Settings, storage: Storage, desk: DslDesk, client: WebClient):
        self.settings, self.storage, self.desk, self.client = settings, storage, desk, client
        self.tz = ZoneInfo(settings.timezone)

    def latest_weekly_slot(self, now: datetime) -> datetime:
        """The most recent scheduled weekly export time at or before `now`."""
        local = now.astimezone(self.tz)
        hour, minute = map(int, self.settings.weekly_export_time.split(":"))
        day = DAYS.index(self.settings.weekly_export_day)
        date = local.date() - timedelta(days=(local.weekday() - day) % 7)
        slot = datetime.combine(date, time(hour, minute), self.tz)
        return slot if slot <= local else slot - timedelta(days=7)

    def weekly_export(self, now: datetime) -> bool:
        slot = self.latest_weekly_slot(now)
        period = slot.date().isoformat()
        if not self.storage.claim_job("weekly_export", period):
            return False
        start, end = last_full_week(slot, self.settings.timezone)
        try:
            self.desk.post_export(self.client, start, end)
        except Exception:
            self.storage.release_job("weekly_export", period)  # try again at the next tick
            raise
        self.storage.audit("scheduler", "export", "decisions", f"weekly {start.date()} to {end.date()}")
        log.info("weekly export for %s posted", period)
        return True

    def daily_purge(self, now: datetime) -> int:
        if not self.storage.claim_job("purge", now.astimezone(self.tz).date().isoformat()):
            return 0
        cutoff = now - timedelta(days=self.settings.retention_days)
        count, _ = self.storage.purge(cutoff, actor="scheduler")
        self.storage.prune(events_before=now - timedelta(days=2),
                           conversations_before=now - timedelta(days=CONVERSATION_DAYS))
        return count

    def tick(self, now: datetime | None = None) -> dict[str, int]:
        now = now or self.desk.clock()
        return {
            "reminders": self.desk.send_reminders(self.client, now),
            "weekly_export": int(self.weekly_export(now)),
            "purged": self.daily_purge(now),
        }

    def run_forever(self, interval: float = 30.0) -> None:
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a failed tick is logged and retried, never fatal
                log.exception("scheduler tick failed")
            deadline = clock_time.monotonic() + interval
            while not stopping and clock_time.monotonic() < deadline:
                clock_time.sleep(0.5)
