"""The decision log and conversation state in SQLite: the only module that speaks SQL.

One short-lived connection per unit of work, because Bolt runs listeners on a thread pool and
sqlite3 connections belong to their thread. WAL mode and a busy timeout let several processes
(web workers, the clock, the CLI) write without losing rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1, _migration_2]


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
        row = decision.model_dump(mode="json")
        row["created_at"] = iso(decision.created_at)
        for key in ("answers", "rules", "gateways"):
            row[key] = json.dumps(row[key])
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction(durable=True) as db:
            sql = f"INSERT INTO decisions ({columns}) VALUES ({marks})"
            cursor = db.execute(sql, list(row.values()))
            return int(cursor.lastrowid or 0)

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
