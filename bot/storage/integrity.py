"""Checking the whole log: the decision chain, the audit chain, every escalation's seal, purge
anchors, and (given one published earlier) a checkpoint. Also writing checkpoints.

What can be proven depends on the key: with it, that no row was changed, forged, deleted from
the middle or reordered, and (against a checkpoint) that nothing that existed then was removed
since; without it, only that the rows still link up and run on without gaps, which anyone who
can write the database could fake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, select

import bot.storage.chain as chain
from bot.core.clock import Clock, iso
from bot.storage.chain import Checkpoint, Keyring
from bot.storage.decisions import DecisionLog
from bot.storage.escalations import EscalationStore
from bot.storage.housekeeping import AuditTrail
from bot.storage.schema import audit, chain_anchor, checkpoints, decisions


@dataclass
class LogReport:
    decisions: chain.Walk
    audit: chain.Walk
    escalations_checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Checkpoints:
    def __init__(self, conn: Connection, clock: Clock, keyring: Keyring, decisions: DecisionLog,
                 audit_trail: AuditTrail):
        self.conn, self.clock, self.keyring = conn, clock, keyring
        self.decisions, self.audit = decisions, audit_trail

    def write(self, reason: str) -> Checkpoint:
        """The heads of both chains now, signed: publish the text outside the database."""
        point = Checkpoint.make(self.keyring.current, iso(self.clock.now()), self.decisions.head(),
                                self.audit.head())
        self.conn.execute(checkpoints.insert().values(at=point.at, reason=reason, text=point.text()))
        return point

    def latest(self) -> Checkpoint | None:
        row = self.conn.execute(select(checkpoints.c.text).order_by(checkpoints.c.id.desc()).limit(1)).first()
        return Checkpoint.parse(row[0]) if row else None


def verify_log(conn: Connection, keyring: Keyring, decision_log: DecisionLog, audit_trail: AuditTrail,
               escalation_store: EscalationStore, checkpoint: Checkpoint | None = None) -> LogReport:
    report = LogReport(decision_log.walk(), audit_trail.verify())
    report.problems += report.decisions.problems + report.audit.problems
    report.escalations_checked, problems, unverifiable = escalation_store.verify()
    report.problems += problems
    if keyring.current is None:
        report.notes.append("no log key is set: only that rows link up without gaps could be checked; "
                            "anyone who can write the database could have rewritten them consistently")
    missing = report.decisions.unverifiable + report.audit.unverifiable + unverifiable
    if missing:
        report.notes.append(f"{missing} row(s) carry a log key's hash: with the key set, they would be "
                            "proved too")
    if checkpoint is not None:
        report.problems += _against(conn, keyring, checkpoint, report.notes)
    return report


def _against(conn: Connection, keyring: Keyring, point: Checkpoint, notes: list[str]) -> list[str]:
    problems = []
    if not point.kid or not point.signature:
        notes.append("the checkpoint is unsigned: it shows what was there, not that canishare wrote it")
    else:
        key = keyring.get(point.kid)
        if key is None:
            notes.append(f"the checkpoint's key {point.kid} is not held here: its signature was not checked")
        elif not chain.signed(key, point.body(), point.signature):
            return [f"checkpoint of {point.at}: its signature does not match (changed, or not canishare's)"]
    purged = conn.execute(select(chain_anchor.c.purged_through).order_by(chain_anchor.c.id.desc())
                          .limit(1)).scalar() or 0
    if point.decisions_id > 0:
        if point.decisions_id <= purged:
            notes.append(f"decisions up to #{point.decisions_id} at the checkpoint were purged since "
                         f"(the log is purged through #{purged})")
        else:
            query = select(decisions.c.row_hash).where(decisions.c.id == point.decisions_id)
            row = conn.execute(query).first()
            if row is None:
                problems.append(f"decision #{point.decisions_id} was in the log at the checkpoint of "
                                f"{point.at} and has been removed (with any after it)")
            elif not (row[0] or "").startswith(point.decisions_hash):
                problems.append(f"decision #{point.decisions_id} is not the one in the log at the "
                                f"checkpoint of {point.at}")
    if point.audit_id > 0:
        row = conn.execute(select(audit.c.row_hash).where(audit.c.id == point.audit_id)).first()
        if row is None:
            problems.append(f"audit row #{point.audit_id} was there at the checkpoint of {point.at} "
                            "and has been removed")
        elif not (row[0] or "").startswith(point.audit_hash):
            problems.append(f"audit row #{point.audit_id} is not the one there at the checkpoint of "
                            f"{point.at}")
    return problems
