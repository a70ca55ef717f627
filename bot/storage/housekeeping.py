"""Small stores: the audit trail, deliveries already acted on, once-per-period jobs, the
scheduler's leader lease, and pruning of what is no longer needed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select

from bot.core.clock import Clock, iso
from bot.storage.database import insert_ignore
from bot.storage.schema import audit, conversations, events, job_runs, leases


class AuditTrail:
    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def add(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        self.conn.execute(audit.insert().values(at=iso(self.clock.now()), actor=actor, action=action,
                                                target=target, detail=detail))

    def rows(self, action: str | None = None) -> list[dict[str, Any]]:
        query = select(audit).order_by(audit.c.id)
        if action:
            query = query.where(audit.c.action == action)
        return [dict(r) for r in self.conn.execute(query).mappings()]


class Housekeeping:
    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def first_delivery(self, key: str) -> bool:
        """True the first time `key` (an event id, a trigger id) is seen; False for a repeat."""
        return insert_ignore(self.conn, events, {"event_id": key, "received_at": iso(self.clock.now())})

    def claim_job(self, job: str, period: str) -> bool:
        """True exactly once per (job, period), across restarts and processes."""
        return insert_ignore(self.conn, job_runs, {"job": job, "period": period,
                                                   "ran_at": iso(self.clock.now())})

    def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds`. True if `holder` has it now: a second
        scheduler gets False until the first stops renewing (crashed, or stopped)."""
        now = self.clock.now()
        until = iso(now + timedelta(seconds=seconds))
        renewed = self.conn.execute(leases.update().where(
            leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at < iso(now)),
        ).values(holder=holder, expires_at=until)).rowcount
        if renewed:
            return True
        return insert_ignore(self.conn, leases, {"name": name, "holder": holder, "expires_at": until})

    def release_lease(self, name: str, holder: str) -> None:
        self.conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    def prune(self, events_before: datetime, conversations_before: datetime) -> tuple[int, int]:
        """Retry ids older than a day or two are never needed again; unfinished checks (ids only,
        no free text) are kept only while they could be resumed."""
        gone_events = self.conn.execute(events.delete().where(
            events.c.received_at < iso(events_before))).rowcount
        gone_checks = self.conn.execute(conversations.delete().where(
            conversations.c.updated_at < iso(conversations_before))).rowcount
        return gone_events, gone_checks
