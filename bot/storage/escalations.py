"""Escalations to DSLs. Every change is compare-and-set (on status or version), so two DSLs
pressing Claim at once, or one pressing it twice, change the row once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

import bot.storage.chain as chain
from bot.core.clock import Clock, iso
from bot.dsl.model import Escalation
from bot.storage.chain import NO_KEYS, Keyring
from bot.storage.database import insert_ignore_returning_id, is_sqlite, serialise
from bot.storage.housekeeping import AuditTrail
from bot.storage.schema import escalations

e = escalations.c
JSON_FIELDS = ("rules", "gateways", "answers", "secondary", "card_ref", "personal_duties")
TIME_FIELDS = ("created_at", "claimed_at", "resolved_at", "more_info_at", "next_reminder_at")


def seal_record(version: int, digest: str) -> str:
    return f"v{version} {digest[:32]}"


def _model(row: Any) -> Escalation:
    data = {k: v for k, v in dict(row).items() if v is not None}
    for key in JSON_FIELDS:
        if key in data:
            data[key] = json.loads(data[key]) if data[key] else None
            if data[key] is None:
                del data[key]
    for key in TIME_FIELDS:
        if data.get(key) == "":
            del data[key]
    return Escalation.model_validate(data)


def _stored(changes: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in changes.items():
        if key in JSON_FIELDS:
            value = json.dumps(value)
        elif isinstance(value, datetime):
            value = iso(value)
        elif hasattr(value, "value"):  # enums
            value = value.value
        out[key] = value
    return out


class EscalationStore:
    """Every change a person makes to an escalation is sealed: a keyed MAC over what a DSL is
    accountable for (status, who, when, the note...), and a record of that state in the audit
    chain, so an edit, a rollback or a deletion of the row shows in `log verify`."""

    def __init__(self, conn: Connection, clock: Clock, keyring: Keyring = NO_KEYS,
                 audit: AuditTrail | None = None):
        self.conn, self.clock, self.keyring = conn, clock, keyring
        self.audit = audit or AuditTrail(conn, clock, keyring)

    def create(self, dedupe_key: str, **values: Any) -> int | None:
        """A new open escalation, unless one with `dedupe_key` exists (returns None then)."""
        # Numbered here, one writer at a time, as the last number + 1: a PostgreSQL sequence
        # jumps (by 32 after a crash), and DSLs read a gap in the numbers as cases missing.
        serialise(self.conn, "escalation-number")
        if self.conn.execute(select(e.id).where(e.dedupe_key == dedupe_key)).first() is not None:
            return None
        number = int(self.conn.execute(select(func.coalesce(func.max(e.id), 0))).scalar() or 0) + 1
        row = _stored({"id": number, "dedupe_key": dedupe_key, "status": "open", "card_state": "pending",
                       "version": 1, "reminders_sent": 0, "card_ref": {}, "case_reference": "",
                       "secondary": [], "rules": [], "gateways": [], "answers": {},
                       "created_at": self.clock.now(), **values})
        escalation_id = insert_ignore_returning_id(self.conn, escalations, row)
        if escalation_id is not None:
            self._seal(escalation_id)
        return escalation_id

    def _seal(self, escalation_id: int, columns: Sequence[Any] | None = None) -> None:
        """`columns`: the table's columns as a migration step sees them (default: all)."""
        query = select(*columns) if columns is not None else select(escalations)
        row = dict(self.conn.execute(query.where(e.id == escalation_id)).mappings().one())
        row["key_id"] = self.keyring.kid
        digest = chain.mac(self.keyring.current, chain.escalation_fields(row), row)
        self.conn.execute(escalations.update().where(e.id == escalation_id).values(
            row_mac=digest, key_id=self.keyring.kid))
        self.audit.add("canishare", "escalation", f"escalation {escalation_id}",
                       seal_record(row["version"], digest))

    def verify(self) -> tuple[int, list[str], int]:
        """Check every escalation's MAC and that the audit chain holds its latest state.
        Returns (checked, problems, unverifiable)."""
        checked, problems, unverifiable = 0, [], 0
        strict = self.keyring.current is not None
        for row in self.conn.execute(select(escalations).order_by(e.id)).mappings():
            checked += 1
            key = self.keyring.get(row["key_id"])
            if row["row_mac"] is None or (strict and key is None):
                problems.append(f"escalation {row['id']}: not sealed with the log key (changed outside "
                                "canishare?)")
                continue
            if row["key_id"] and key is None:
                unverifiable += 1
            elif chain.mac(key, chain.escalation_fields(row), row) != row["row_mac"]:
                problems.append(f"escalation {row['id']}: changed outside canishare (its seal does "
                                "not match)")
                continue
            latest = self.audit.latest_for(f"escalation {row['id']}", "escalation")
            if latest is None or latest["detail"] != seal_record(row["version"], row["row_mac"]):
                problems.append(f"escalation {row['id']}: not in the state the audit trail last recorded "
                                "(rolled back or replaced)")
        for seal in self.audit.targets("escalation"):
            escalation_id = int(seal.removeprefix("escalation "))
            if self.conn.execute(select(e.id).where(e.id == escalation_id)).first() is None:
                problems.append(f"escalation {escalation_id}: recorded in the audit trail but deleted")
        return checked, problems, unverifiable

    def by_dedupe_key(self, dedupe_key: str) -> Escalation | None:
        row = self.conn.execute(select(escalations).where(e.dedupe_key == dedupe_key)).mappings().first()
        return _model(row) if row else None

    def get(self, escalation_id: int) -> Escalation | None:
        row = self.conn.execute(select(escalations).where(e.id == escalation_id)).mappings().first()
        return _model(row) if row else None

    def update(self, escalation_id: int, *, when_status: tuple[str, ...] | None = None,
               when_version: int | None = None, **changes: Any) -> bool:
        """Change fields and bump the version; with `when_status` / `when_version` only if the row
        still has one of those statuses / that version. True if the row changed."""
        statement = escalations.update().where(e.id == escalation_id)
        if when_status:
            statement = statement.where(e.status.in_(when_status))
        if when_version is not None:
            statement = statement.where(e.version == when_version)
        values = {**_stored(changes), "version": e.version + 1}
        changed = self.conn.execute(statement.values(**values)).rowcount == 1
        if changed:
            self._seal(escalation_id)
        return changed

    def set_card(self, escalation_id: int, state: str, ref: dict[str, Any] | None = None) -> None:
        """Delivery bookkeeping: not a change a DSL made, so the version stays."""
        values: dict[str, Any] = {"card_state": state}
        if ref is not None:
            values["card_ref"] = json.dumps(ref)
        self.conn.execute(escalations.update().where(e.id == escalation_id).values(**values))

    def set_reminder(self, escalation_id: int, reminders_sent: int, next_at: datetime | None) -> None:
        """Scheduler bookkeeping: not a DSL's change, so the version (on the buttons) stays."""
        self.conn.execute(escalations.update().where(e.id == escalation_id).values(
            reminders_sent=reminders_sent, next_reminder_at=iso(next_at) if next_at else None))

    def for_conversation(self, channel: str, requester: str, conversation_id: str) -> list[Escalation]:
        rows = self.conn.execute(select(escalations).where(
            e.channel == channel, e.requester == requester, e.conversation_id == conversation_id)
            .order_by(e.id)).mappings()
        return [_model(r) for r in rows]

    def due_reminder(self, escalation_id: int, now: datetime) -> Escalation | None:
        """This escalation if its reminder is due, locked until the transaction ends (on
        PostgreSQL; a scheduler holding it makes another skip it)."""
        query = select(escalations).where(e.id == escalation_id, e.status == "open",
                                          e.next_reminder_at.is_not(None), e.next_reminder_at <= iso(now))
        if not is_sqlite(self.conn):
            query = query.with_for_update(skip_locked=True)
        row = self.conn.execute(query).mappings().first()
        return _model(row) if row else None

    def due_reminders(self, now: datetime, limit: int = 100) -> list[Escalation]:
        """Open escalations whose reminder is due. On PostgreSQL the rows are locked until the
        transaction ends and rows another scheduler holds are skipped."""
        query = (select(escalations).where(e.status == "open", e.next_reminder_at.is_not(None),
                                           e.next_reminder_at <= iso(now))
                 .order_by(e.id).limit(limit))
        if not is_sqlite(self.conn):
            query = query.with_for_update(skip_locked=True)
        return [_model(r) for r in self.conn.execute(query).mappings()]

    def between(self, since: datetime, until: datetime) -> list[Escalation]:
        rows = self.conn.execute(select(escalations).where(
            e.created_at >= iso(since), e.created_at < iso(until)).order_by(e.id)).mappings()
        return [_model(r) for r in rows]
