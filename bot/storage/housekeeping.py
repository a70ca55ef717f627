"""Small stores: the audit trail, deliveries already acted on, once-per-period jobs, the
scheduler's leader lease, and pruning of what is no longer needed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select

import bot.storage.chain as chain
from bot.core.clock import Clock, iso
from bot.storage.chain import NO_KEYS, Keyring
from bot.storage.database import insert_ignore, serialise, upsert
from bot.storage.schema import audit, conversations, events, job_runs, leases


class AuditTrail:
    """Who did what, as a keyed hash chain (like the decision log): refusals, claims, resolutions,
    exports, purges, and the state of every escalation after each change."""

    def __init__(self, conn: Connection, clock: Clock, keyring: Keyring = NO_KEYS):
        self.conn, self.clock, self.keyring = conn, clock, keyring

    def add(self, actor: str, action: str, target: str = "", detail: str = "") -> int:
        serialise(self.conn, "audit")
        last = self._last()
        prev, next_id = (last[1] or chain.GENESIS, last[0] + 1) if last else (chain.GENESIS, 1)
        row = {"id": next_id, "at": iso(self.clock.now()), "actor": actor, "action": action,
               "target": target, "detail": detail, "key_id": self.keyring.kid, "prev_hash": prev}
        row["row_hash"] = chain.link_hash(prev, row, chain.AUDIT_FIELDS, self.keyring.current)
        self.conn.execute(audit.insert().values(**row))
        return next_id

    def rows(self, action: str | None = None) -> list[dict[str, Any]]:
        query = select(audit).order_by(audit.c.id)
        if action:
            query = query.where(audit.c.action == action)
        return [dict(r) for r in self.conn.execute(query).mappings()]

    def latest_for(self, target: str, action: str) -> dict[str, Any] | None:
        row = self.conn.execute(select(audit).where(audit.c.target == target, audit.c.action == action)
                                .order_by(audit.c.id.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def targets(self, action: str) -> list[str]:
        """Every distinct target audited with `action`."""
        query = select(audit.c.target).where(audit.c.action == action).distinct()
        return [r[0] for r in self.conn.execute(query)]

    def _last(self) -> Any:
        query = select(audit.c.id, audit.c.row_hash).order_by(audit.c.id.desc()).limit(1)
        return self.conn.execute(query).first()

    def head(self) -> tuple[int, str]:
        last = self._last()
        return (int(last[0]), last[1] or "") if last else (0, chain.GENESIS)

    def verify(self) -> chain.Walk:
        query = select(audit).order_by(audit.c.id)
        rows = self.conn.execution_options(yield_per=5000).execute(query).mappings()
        return chain.walk("audit", rows, self.keyring, chain.GENESIS, 0, lambda _row: chain.AUDIT_FIELDS)


HEARTBEAT = "heartbeat"  # job_runs rows whose `period` names who beats and `ran_at` says when


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

    def forget_job(self, job: str, period: str) -> None:
        """Undo `claim_job(job, period)` (a mark whose purpose was served another way)."""
        self.conn.execute(job_runs.delete().where(job_runs.c.job == job, job_runs.c.period == period))

    def job_ran(self, job: str, period: str) -> bool:
        """Whether `claim_job(job, period)` has happened (a mark read by another process)."""
        return self.conn.execute(select(job_runs.c.job).where(
            job_runs.c.job == job, job_runs.c.period == period)).first() is not None

    def beat(self, name: str) -> None:
        """Record that `name` (the clock, a readiness probe) ran just now: one row per name in
        `job_runs`, overwritten, so the database says when each last ran."""
        upsert(self.conn, job_runs, {"job": HEARTBEAT, "period": name, "ran_at": iso(self.clock.now())},
               ["job", "period"])

    def last_beat(self, name: str) -> datetime | None:
        """When `name` last beat, or None if it never has."""
        value = self.conn.execute(select(job_runs.c.ran_at).where(
            job_runs.c.job == HEARTBEAT, job_runs.c.period == name)).scalar()
        return datetime.fromisoformat(value) if value else None

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
