"""The outbox: what must reach a person, written with the change that causes it, then claimed by
one deliverer at a time (a short lease per row, and SKIP LOCKED on PostgreSQL), with every
attempt and its error recorded."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select

from bot.core.clock import Clock, iso
from bot.dsl.model import Delivery, DeliveryKind
from bot.storage.database import insert_ignore_returning_id, is_sqlite
from bot.storage.schema import delivery_attempts, outbox

o = outbox.c


def _model(row: Any) -> Delivery:
    data = {k: v for k, v in dict(row).items() if v not in (None, "")}
    for key in ("payload", "result"):
        data[key] = json.loads(data[key]) if data.get(key) else {}
    data["last_error"] = row["last_error"] or ""
    return Delivery.model_validate(data)


class OutboxStore:
    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def enqueue(self, key: str, channel: str, kind: DeliveryKind, *, escalation_id: int | None = None,
                payload: dict[str, Any] | None = None, not_before: datetime | None = None) -> int | None:
        """A new delivery, unless one with `key` exists (idempotent: returns None then)."""
        now = self.clock.now()
        return insert_ignore_returning_id(self.conn, outbox, {
            "key": key, "channel": channel, "kind": kind.value, "escalation_id": escalation_id,
            "payload": json.dumps(payload or {}), "status": "pending", "attempts": 0,
            "created_at": iso(now), "next_attempt_at": iso(not_before or now)})

    def get(self, delivery_id: int) -> Delivery | None:
        row = self.conn.execute(select(outbox).where(o.id == delivery_id)).mappings().first()
        return _model(row) if row else None

    def by_key(self, key: str) -> Delivery | None:
        row = self.conn.execute(select(outbox).where(o.key == key)).mappings().first()
        return _model(row) if row else None

    def for_escalation(self, escalation_id: int) -> list[Delivery]:
        rows = self.conn.execute(select(outbox).where(o.escalation_id == escalation_id).order_by(o.id))
        return [_model(r) for r in rows.mappings()]

    def claim_due(self, channels: Iterable[str], holder: str, seconds: float, limit: int,
                  only: Iterable[int] | None = None) -> list[int]:
        """Take up to `limit` due rows for `seconds`, so no other process sends them meanwhile:
        chosen and claimed in this one transaction (rows another process is choosing are skipped
        on PostgreSQL, and the claim itself is a compare-and-set on both backends)."""
        now = self.clock.now()
        query = (select(o.id).where(o.status == "pending", o.channel.in_(list(channels)),
                                    o.next_attempt_at <= iso(now),
                                    or_(o.claimed_until.is_(None), o.claimed_until < iso(now)))
                 .order_by(o.next_attempt_at, o.id).limit(limit))
        if only is not None:
            query = query.where(o.id.in_(list(only)))
        if not is_sqlite(self.conn):
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for (delivery_id,) in self.conn.execute(query).all():
            taken = self.conn.execute(outbox.update().where(
                o.id == delivery_id, o.status == "pending",
                or_(o.claimed_until.is_(None), o.claimed_until < iso(now)),
            ).values(claimed_until=iso(now + timedelta(seconds=seconds)), claimed_by=holder)).rowcount
            if taken == 1:
                claimed.append(int(delivery_id))
        return claimed

    def delivered(self, delivery_id: int, result: dict[str, Any] | None = None) -> None:
        """The message went out: recorded whoever holds the row now (it cannot be unsent)."""
        now = self.clock.now()
        self.conn.execute(outbox.update().where(o.id == delivery_id).values(
            status="delivered", delivered_at=iso(now), attempts=o.attempts + 1,
            result=json.dumps(result or {}), claimed_until=None, last_error=""))
        self._attempt(delivery_id, ok=True)

    def failed(self, delivery_id: int, holder: str, error: str, retry_at: datetime,
               retry_after: float | None = None) -> bool:
        """Record a failed attempt, if `holder` still holds the row (else another process took
        it over after our claim ran out, and its bookkeeping wins). True if recorded."""
        recorded = self.conn.execute(outbox.update().where(
            o.id == delivery_id, o.claimed_by == holder, o.status == "pending").values(
            attempts=o.attempts + 1, last_error=error[:500], next_attempt_at=iso(retry_at),
            claimed_until=None)).rowcount == 1
        self._attempt(delivery_id, ok=False, error=error, retry_after=retry_after)
        return recorded

    def overdue(self, older_than: datetime, kinds: Iterable[str]) -> list[Delivery]:
        """Pending DSL-bound rows older than `older_than` that have not fallen back yet."""
        rows = self.conn.execute(select(outbox).where(
            o.status == "pending", o.fallback_at.is_(None), o.created_at < iso(older_than),
            o.kind.in_(list(kinds))).order_by(o.id))
        return [_model(r) for r in rows.mappings()]

    def oldest_pending_since(self) -> datetime | None:
        """When the longest-waiting undelivered row became due (None: nothing is waiting).
        A row queued for later (a reminder, a retry) counts from when it was first due."""
        value = self.conn.execute(select(func.min(o.created_at)).where(
            o.status == "pending", o.created_at <= iso(self.clock.now()))).scalar()
        return datetime.fromisoformat(value) if value else None

    def fell_back(self, delivery_id: int) -> None:
        self.conn.execute(outbox.update().where(o.id == delivery_id).values(
            fallback_at=iso(self.clock.now())))

    def abandon(self, delivery_id: int, reason: str) -> None:
        self.conn.execute(outbox.update().where(o.id == delivery_id).values(
            status="abandoned", last_error=reason[:500], claimed_until=None))

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(select(delivery_attempts).where(
            delivery_attempts.c.outbox_id == delivery_id).order_by(delivery_attempts.c.id))
        return [dict(r) for r in rows.mappings()]

    def pending(self, channel: str | None = None) -> list[Delivery]:
        query = select(outbox).where(o.status == "pending").order_by(o.id)
        if channel:
            query = query.where(o.channel == channel)
        return [_model(r) for r in self.conn.execute(query).mappings()]

    def _attempt(self, delivery_id: int, ok: bool, error: str = "", retry_after: float | None = None) -> None:
        self.conn.execute(delivery_attempts.insert().values(
            outbox_id=delivery_id, at=iso(self.clock.now()), ok=int(ok), error=error[:500],
            retry_after=None if retry_after is None else str(retry_after)))
