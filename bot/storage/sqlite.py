"""The decision log and conversation state in SQLite: the only module that speaks SQL.

One short-lived connection per unit of work, because Bolt runs listeners on a thread pool and
sqlite3 connections belong to their thread. WAL mode and a busy timeout let several processes
(web workers, the clock, the CLI) write without losing rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
from pydantic import BaseModel, Field

BUSY_TIMEOUT_MS = 10_000
DecisionChoice = Literal["shared", "not_shared", "deferred"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Decision(BaseModel):
    """One logged decision: ids and enums about the check, plus what the person recorded.
    No child's name or identifier: free text is scanned before it reaches this model."""

    created_at: datetime = Field(default_factory=utcnow)
    channel: str
    user_id: str
    conversation_id: str = ""
    flow_id: str
    flow_version: str
    guidance_edition: str
    jurisdiction: str = ""
    answers: dict[str, str | list[str]]
    outcome_id: str
    verdict: str
    consent_position: str
    rules: list[str]
    gateways: list[str]
    dsl_alert: str
    decision: DecisionChoice
    what: str = ""
    with_whom: str = ""
    purpose: str = ""
    reasons: str = ""
    case_reference: str = ""


class ConversationRow(BaseModel):
    channel: str
    user_id: str
    conversation_id: str
    state: dict[str, Any]
    version: int
    status: str
    updated_at: str


def _migration_1(db: sqlite_utils.Database) -> None:
    db["conversations"].create(
        {
            "channel": str, "user_id": str, "conversation_id": str, "state": str,
            "version": int, "status": str, "updated_at": str,
        },
        pk=("channel", "user_id", "conversation_id"),
    )
    db["decisions"].create(
        {
            "id": int, "created_at": str, "channel": str, "user_id": str,
            "conversation_id": str, "flow_id": str, "flow_version": str,
            "guidance_edition": str, "jurisdiction": str, "answers": str, "outcome_id": str,
            "verdict": str, "consent_position": str, "rules": str, "gateways": str,
            "dsl_alert": str, "decision": str, "what": str, "with_whom": str, "purpose": str,
            "reasons": str, "case_reference": str,
        },
        pk="id",
    )
    db["decisions"].create_index(["created_at"])
    db["events"].create({"event_id": str, "received_at": str}, pk="event_id")
    db["profiles"].create(
        {"channel": str, "user_id": str, "answers": str, "updated_at": str},
        pk=("channel", "user_id"),
    )


def _migration_2(db: sqlite_utils.Database) -> None:
    """Find a check's decision quickly (duplicate submissions are refused)."""
    db["decisions"].create_index(["channel", "user_id", "conversation_id"])


def _migration_3(db: sqlite_utils.Database) -> None:
    """DSL side: escalations, an audit log, exactly-once scheduled jobs, and a hash chain over
    decisions (existing rows are chained in id order)."""
    db["escalations"].create(
        {
            "id": int, "created_at": str, "channel": str, "requester": str, "conversation_id": str,
            "dedupe_key": str, "kind": str, "urgency": str, "flow_id": str, "outcome_id": str,
            "verdict": str, "rules": str, "gateways": str, "answers": str, "case_reference": str,
            "status": str, "card_channel": str, "card_ts": str, "claimed_by": str, "claimed_at": str,
            "resolved_by": str, "resolved_at": str, "resolution_note": str, "reminders_sent": int,
            "next_reminder_at": str,
        },
        pk="id",
    )
    db["escalations"].create_index(["dedupe_key"], unique=True)
    db["escalations"].create_index(["status", "next_reminder_at"])
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "target": str, "detail": str}, pk="id"
    )
    db["job_runs"].create({"job": str, "period": str, "ran_at": str}, pk=("job", "period"))
    db["chain_anchor"].create({"id": int, "hash": str, "purged_through": int, "at": str}, pk="id")
    db.execute("ALTER TABLE decisions ADD COLUMN prev_hash TEXT")
    db.execute("ALTER TABLE decisions ADD COLUMN row_hash TEXT")
    prev = GENESIS
    for row in list(db.query("SELECT * FROM decisions ORDER BY id")):
        digest = chain_hash(prev, row)
        db.execute("UPDATE decisions SET prev_hash = ?, row_hash = ? WHERE id = ?",
                   [prev, digest, row["id"]])
        prev = digest


GENESIS = "0" * 64
CHAINED_FIELDS = (
    "id", "created_at", "channel", "user_id", "conversation_id", "flow_id", "flow_version",
    "guidance_edition", "jurisdiction", "answers", "outcome_id", "verdict", "consent_position",
    "rules", "gateways", "dsl_alert", "decision", "what", "with_whom", "purpose", "reasons",
    "case_reference",
)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The row's hash covers its id (so order and deletions show) and every recorded field."""
    content = json.dumps([row.get(k) for k in CHAINED_FIELDS], separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{content}".encode()).hexdigest()


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1, _migration_2, _migration_3]


class ConflictError(Exception):
    """Compare-and-set lost: someone else (a double click, a retry) changed the row first."""


class Storage:
    """All persistence. Construct once; each method opens its own connection."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread, kept open: opening and closing per call costs more than
        the query (closing the last WAL connection checkpoints), and sqlite3 connections must
        stay on their own thread."""
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=True)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is crash-safe in WAL mode; decision writes raise it to FULL (see below).
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def db(self) -> Iterator[sqlite_utils.Database]:
        yield sqlite_utils.Database(self._connection())

    def close(self) -> None:
        """Close this thread's connection (tests and short-lived tools)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite_utils.Database]:
        """BEGIN IMMEDIATE: take the write lock up front so concurrent writers queue, not fail.
        `durable` syncs to disk on commit: a logged decision must survive a power cut."""
        with self.db() as db:
            if durable:
                db.conn.execute("PRAGMA synchronous = FULL")
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.conn.execute("ROLLBACK")
                raise
            db.conn.execute("COMMIT")
            if durable:
                db.conn.execute("PRAGMA synchronous = NORMAL")

    # --- schema ---------------------------------------------------------------------------
    def migrate(self) -> int:
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
            for number, migration in enumerate(MIGRATIONS, start=1):
                if number not in done:
                    migration(db)
                    db.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        [number, iso(utcnow())],
                    )
            return len(MIGRATIONS)

    def schema_version(self) -> int:
        with self.db() as db:
            row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0)

    # --- conversations --------------------------------------------------------------------
    def load_conversation(
        self, channel: str, user_id: str, conversation_id: str
    ) -> ConversationRow | None:
        with self.db() as db:
            row = db.execute(
                "SELECT channel, user_id, conversation_id, state, version, status, updated_at "
                "FROM conversations WHERE channel = ? AND user_id = ? AND conversation_id = ?",
                [channel, user_id, conversation_id],
            ).fetchone()
        if row is None:
            return None
        keys = ["channel", "user_id", "conversation_id", "state", "version", "status", "updated_at"]
        data = dict(zip(keys, row, strict=True))
        data["state"] = json.loads(data["state"])
        return ConversationRow(**data)

    def save_conversation(
        self,
        channel: str,
        user_id: str,
        conversation_id: str,
        state: dict[str, Any],
        expected_version: int,
        status: str = "active",
    ) -> int:
        """Write `state` if the stored version is still `expected_version` (0: new row).
        Returns the new version; raises `ConflictError` when someone got there first."""
        payload, now = json.dumps(state, sort_keys=True), iso(utcnow())
        with self.db() as db:
            if expected_version == 0:
                cursor = db.execute(
                    "INSERT INTO conversations (channel, user_id, conversation_id, state, version, "
                    "status, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING",
                    [channel, user_id, conversation_id, payload, status, now],
                )
            else:
                cursor = db.execute(
                    "UPDATE conversations SET state = ?, version = version + 1, status = ?, "
                    "updated_at = ? WHERE channel = ? AND user_id = ? AND conversation_id = ? "
                    "AND version = ?",
                    [payload, status, now, channel, user_id, conversation_id, expected_version],
                )
            if cursor.rowcount != 1:
                raise ConflictError(f"conversation {conversation_id} changed (expected "
                                    f"version {expected_version})")
        return expected_version + 1

    def latest_active_conversation(self, channel: str, user_id: str) -> ConversationRow | None:
        with self.db() as db:
            row = db.execute(
                "SELECT conversation_id FROM conversations WHERE channel = ? AND user_id = ? "
                "AND status = 'active' ORDER BY updated_at DESC, rowid DESC LIMIT 1",
                [channel, user_id],
            ).fetchone()
        return self.load_conversation(channel, user_id, row[0]) if row else None

    # --- decisions ------------------------------------------------------------------------
    def record_decision(self, decision: Decision) -> int:
        """Append a decision to the hash chain (inside one write transaction, so concurrent
        writers chain in order)."""
        row = decision.model_dump(mode="json")
        row["created_at"] = iso(decision.created_at)
        for key in ("answers", "rules", "gateways"):
            row[key] = json.dumps(row[key])
        with self.transaction(durable=True) as db:
            return self._append(db, row)

    def _append(self, db: sqlite_utils.Database, row: dict[str, Any]) -> int:
        last = db.execute("SELECT id, row_hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
        if last is None:
            anchor = db.execute("SELECT hash, purged_through FROM chain_anchor ORDER BY id DESC "
                                "LIMIT 1").fetchone()
            prev, next_id = (anchor[0], anchor[1] + 1) if anchor else (GENESIS, 1)
        else:
            prev, next_id = last[1], last[0] + 1
        row = {**row, "id": next_id}
        row["prev_hash"], row["row_hash"] = prev, chain_hash(prev, row)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(f"INSERT INTO decisions ({columns}) VALUES ({marks})", list(row.values()))
        return next_id

    def bulk_record(self, decisions: Iterable[Decision] | Iterable[dict[str, Any]],
                    batch: int = 10_000) -> int:
        """Append many decisions quickly (benchmarks, imports): one transaction per batch."""
        count, pending = 0, []
        for decision in decisions:
            pending.append(decision)
            if len(pending) >= batch:
                count += self._bulk(pending)
                pending = []
        return count + (self._bulk(pending) if pending else 0)

    def _bulk(self, decisions: list[Decision] | list[dict[str, Any]]) -> int:
        with self.transaction(durable=True) as db:
            for decision in decisions:
                if isinstance(decision, Decision):
                    row = decision.model_dump(mode="json")
                    row["created_at"] = iso(decision.created_at)
                    for key in ("answers", "rules", "gateways"):
                        row[key] = json.dumps(row[key])
                else:
                    row = decision  # already a stored row (answers, rules, gateways as JSON)
                self._append(db, row)
        return len(decisions)

    def decision_id_for(self, channel: str, user_id: str, conversation_id: str) -> int | None:
        with self.db() as db:
            row = db.execute(
                "SELECT id FROM decisions WHERE channel = ? AND user_id = ? AND conversation_id = ?",
                [channel, user_id, conversation_id],
            ).fetchone()
        return int(row[0]) if row else None

    def decisions(
        self, since: datetime | None = None, until: datetime | None = None,
        user_id: str | None = None, limit: int | None = None, newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        return list(self.iter_decisions(since, until, user_id, limit, newest_first))

    def iter_decisions(
        self, since: datetime | None = None, until: datetime | None = None,
        user_id: str | None = None, limit: int | None = None, newest_first: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Stream decisions in time order without loading them all (exports of a million)."""
        clauses, params = [], []
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(iso(since))
        if until is not None:
            clauses.append("created_at < ?")
            params.append(iso(until))
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM decisions {where} ORDER BY created_at {order}, id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.db() as db:
            cursor = db.execute(sql, params)
            names = [d[0] for d in cursor.description]
            for values in cursor:
                row = dict(zip(names, values, strict=True))
                for key in ("answers", "rules", "gateways"):
                    row[key] = json.loads(row[key])
                yield row

    # --- events (Slack retries) -----------------------------------------------------------
    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen; retries of the same event return False."""
        with self.db() as db:
            cursor = db.execute(
                "INSERT INTO events (event_id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [event_id, iso(utcnow())],
            )
            return cursor.rowcount == 1

    # --- profiles (remembered nation / organisation type) --------------------------------
    def load_profile(self, channel: str, user_id: str) -> dict[str, str]:
        with self.db() as db:
            row = db.execute(
                "SELECT answers FROM profiles WHERE channel = ? AND user_id = ?",
                [channel, user_id],
            ).fetchone()
        return json.loads(row[0]) if row else {}

    def save_profile(self, channel: str, user_id: str, answers: dict[str, str]) -> None:
        with self.db() as db:
            db.execute(
                "INSERT INTO profiles (channel, user_id, answers, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (channel, user_id) DO UPDATE SET answers = excluded.answers, "
                "updated_at = excluded.updated_at",
                [channel, user_id, json.dumps(answers, sort_keys=True), iso(utcnow())],
            )

    # --- tamper evidence --------------------------------------------------------------------
    def verify_chain(self) -> tuple[int, str | None]:
        """Walk the decision chain. Returns (rows checked, first problem or None)."""
        with self.db() as db:
            anchor = db.execute("SELECT hash, purged_through FROM chain_anchor ORDER BY id DESC "
                                "LIMIT 1").fetchone()
            expected, previous_id = (anchor[0], anchor[1]) if anchor else (GENESIS, 0)
            cursor = db.execute("SELECT * FROM decisions ORDER BY id")
            names = [d[0] for d in cursor.description]
            count = 0
            for values in cursor:
                row = dict(zip(names, values, strict=True))
                count += 1
                if chain_hash(row["prev_hash"] or "", row) != row["row_hash"]:
                    return count, f"row {row['id']}: its content was changed after it was logged"
                if row["prev_hash"] != expected or row["id"] != previous_id + 1:
                    return count, (f"row {row['id']}: does not follow row {previous_id} (a row was "
                                   "deleted or rows were reordered)")
                expected, previous_id = row["row_hash"], row["id"]
        return count, None

    # --- retention --------------------------------------------------------------------------
    def purge(self, cutoff: datetime, actor: str, dry_run: bool = False) -> tuple[int, int]:
        """Delete the oldest decisions logged before `cutoff` (a prefix of the chain, so it stays
        verifiable: the last purged hash becomes the new anchor). Returns (rows, last id)."""
        with self.transaction(durable=True) as db:
            first_kept = db.execute("SELECT MIN(id) FROM decisions WHERE created_at >= ?",
                                    [iso(cutoff)]).fetchone()[0]
            limit_sql, params = ("id < ?", [first_kept]) if first_kept else ("1 = 1", [])
            count, last = db.execute(
                f"SELECT COUNT(*), MAX(id) FROM decisions WHERE {limit_sql}", params).fetchone()
            if dry_run or not count:
                return int(count or 0), int(last or 0)
            last_hash = db.execute("SELECT row_hash FROM decisions WHERE id = ?", [last]).fetchone()[0]
            db.execute("INSERT INTO chain_anchor (hash, purged_through, at) VALUES (?, ?, ?)",
                       [last_hash, last, iso(utcnow())])
            db.execute(f"DELETE FROM decisions WHERE {limit_sql}", params)
            self._audit(db, actor, "purge", f"decisions 1-{last}",
                        f"{count} decisions logged before {iso(cutoff)}")
            return int(count), int(last)

    # --- audit ------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        with self.transaction() as db:
            self._audit(db, actor, action, target, detail)

    @staticmethod
    def _audit(db: sqlite_utils.Database, actor: str, action: str, target: str, detail: str) -> None:
        db.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                   [iso(utcnow()), actor, action, target, detail])

    def audit_rows(self, action: str | None = None) -> list[dict[str, Any]]:
        with self.db() as db:
            sql = "SELECT * FROM audit" + (" WHERE action = ?" if action else "") + " ORDER BY id"
            return list(db.query(sql, [action] if action else []))

    # --- scheduled jobs -----------------------------------------------------------------------
    def claim_job(self, job: str, period: str) -> bool:
        """True exactly once per (job, period), across restarts and processes."""
        with self.db() as db:
            cursor = db.execute(
                "INSERT INTO job_runs (job, period, ran_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [job, period, iso(utcnow())])
            return cursor.rowcount == 1

    # --- escalations ------------------------------------------------------------------------
    def create_escalation(self, row: dict[str, Any]) -> int | None:
        """Insert unless the same escalation (dedupe_key) exists; returns the new id or None."""
        data = {**row}
        for key in ("rules", "gateways", "answers"):
            data[key] = json.dumps(data.get(key) or ([] if key != "answers" else {}))
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        with self.db() as db:
            cursor = db.execute(
                f"INSERT INTO escalations ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                list(data.values()))
            return int(cursor.lastrowid) if cursor.rowcount == 1 else None

    def escalation(self, escalation_id: int) -> dict[str, Any] | None:
        with self.db() as db:
            rows = list(db.query("SELECT * FROM escalations WHERE id = ?", [escalation_id]))
        return self._escalation(rows[0]) if rows else None

    @staticmethod
    def _escalation(row: dict[str, Any]) -> dict[str, Any]:
        for key in ("rules", "gateways", "answers"):
            row[key] = json.loads(row[key] or "null")
        return row

    def update_escalation(self, escalation_id: int, when_status: tuple[str, ...] | None = None,
                          **changes: Any) -> bool:
        """Change fields; with `when_status`, only if the status is one of those (compare-and-set:
        two DSLs pressing Claim at once cannot both win)."""
        sets = ", ".join(f"{k} = ?" for k in changes)
        sql = f"UPDATE escalations SET {sets} WHERE id = ?"
        params = [*changes.values(), escalation_id]
        if when_status:
            sql += f" AND status IN ({', '.join('?' for _ in when_status)})"
            params.extend(when_status)
        with self.db() as db:
            return db.execute(sql, params).rowcount == 1

    def escalations_for(self, channel: str, requester: str, conversation_id: str) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.query("SELECT * FROM escalations WHERE channel = ? AND requester = ? AND "
                            "conversation_id = ? ORDER BY id", [channel, requester, conversation_id])
            return [self._escalation(r) for r in rows]

    def due_reminders(self, now: datetime) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.query("SELECT * FROM escalations WHERE status = 'open' AND next_reminder_at "
                            "IS NOT NULL AND next_reminder_at <= ? ORDER BY id", [iso(now)])
            return [self._escalation(r) for r in rows]

    def escalations_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.query("SELECT * FROM escalations WHERE created_at >= ? AND created_at < ? "
                            "ORDER BY id", [iso(since), iso(until)])
            return [self._escalation(r) for r in rows]

    def release_job(self, job: str, period: str) -> None:
        with self.db() as db:
            db.execute("DELETE FROM job_runs WHERE job = ? AND period = ?", [job, period])

    def iter_decision_rows(self, columns: list[str], since: datetime, until: datetime,
                           ids: tuple[int, int] | None = None) -> Iterator[tuple]:
        """Raw tuples in id order for exports (no per-row dicts or JSON decoding); `ids` limits
        the scan to an id range, so parallel exports split the table by rowid."""
        assert all(c.isidentifier() for c in columns)
        first, last = ids or self.id_range(since, until)
        with self.db() as db:
            yield from db.execute(
                f"SELECT {', '.join(columns)} FROM decisions WHERE id BETWEEN ? AND ? "
                "AND created_at >= ? AND created_at < ? ORDER BY id",
                [first, last, iso(since), iso(until)])

    def id_range(self, since: datetime, until: datetime) -> tuple[int, int]:
        """Lowest and highest decision id logged in [since, until) ((0, -1) when none)."""
        with self.db() as db:
            low, high = db.execute("SELECT MIN(id), MAX(id) FROM decisions WHERE created_at >= ? "
                                   "AND created_at < ?", [iso(since), iso(until)]).fetchone()
        return (low, high) if low is not None else (0, -1)

    def prune(self, events_before: datetime, conversations_before: datetime) -> tuple[int, int]:
        """Housekeeping: retry-dedupe ids older than a day or so are never needed again, and
        conversation states (ids only, no free text) are kept only while a check could resume."""
        with self.db() as db:
            events = db.execute("DELETE FROM events WHERE received_at < ?", [iso(events_before)]).rowcount
            conversations = db.execute("DELETE FROM conversations WHERE updated_at < ?",
                                       [iso(conversations_before)]).rowcount
        return events, conversations
