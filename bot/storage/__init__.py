"""Persistence behind one layer: nothing outside this package speaks SQL, and no driver exception
leaves it (callers see `StorageError`, `ConflictError` or `DuplicateDecision`).

Work happens in units: `with storage.transaction() as tx:` gives one transaction with every store
on it (`tx.conversations`, `tx.decisions`, `tx.escalations`, `tx.outbox`, ...), so a finished check,
its escalation and the outbox row that delivers the card commit together or not at all.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.core.clock import SYSTEM_CLOCK, Clock, iso
from bot.storage.chain import NO_KEYS, Checkpoint, Key, Keyring
from bot.storage.console import ConsoleQueries, LogFilter
from bot.storage.conversations import ContactStore, ConversationStore, ProfileStore
from bot.storage.database import (
    StorageError,
    connect,
    describe_url,
    normalise_url,
    set_durable,
    sqlite_path,
)
from bot.storage.decisions import ChainBroken, DecisionLog
from bot.storage.escalations import EscalationStore
from bot.storage.housekeeping import AuditTrail, Housekeeping
from bot.storage.integrity import Checkpoints, LogReport, verify_log
from bot.storage.migrations import LATEST, current_version, migrate, require_current
from bot.storage.models import ConflictError, ConversationRow, Decision, DecisionChoice, DuplicateDecision
from bot.storage.outbox import OutboxStore

__all__ = [
    "LATEST", "NO_KEYS", "ChainBroken", "Checkpoint", "ConflictError", "ConversationRow", "Decision",
    "DecisionChoice", "DuplicateDecision", "Key", "Keyring", "LogReport", "Purge", "Storage", "StorageError",
    "LogFilter", "Tx", "iso",
]


class Tx:
    """One unit of work: every store, on one connection and one transaction."""

    def __init__(self, conn: Connection, clock: Clock, keyring: Keyring = NO_KEYS):
        self.conn, self.clock, self.keyring = conn, clock, keyring

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.conn, self.clock)

    @cached_property
    def profiles(self) -> ProfileStore:
        return ProfileStore(self.conn, self.clock)

    @cached_property
    def contacts(self) -> ContactStore:
        return ContactStore(self.conn, self.clock)

    @cached_property
    def decisions(self) -> DecisionLog:
        return DecisionLog(self.conn, self.clock, self.keyring)

    @cached_property
    def escalations(self) -> EscalationStore:
        return EscalationStore(self.conn, self.clock, self.keyring, self.audit)

    @cached_property
    def checkpoints(self) -> Checkpoints:
        return Checkpoints(self.conn, self.clock, self.keyring, self.decisions, self.audit)

    def verify(self, checkpoint: Checkpoint | None = None) -> LogReport:
        """The whole log: both chains, every escalation's seal, anchors, and a checkpoint."""
        return verify_log(self.conn, self.keyring, self.decisions, self.audit, self.escalations, checkpoint)

    @cached_property
    def console(self) -> ConsoleQueries:
        return ConsoleQueries(self.conn)

    @cached_property
    def outbox(self) -> OutboxStore:
        return OutboxStore(self.conn, self.clock)

    @cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.conn, self.clock, self.keyring)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        return Housekeeping(self.conn, self.clock)


@dataclass(frozen=True)
class Purge:
    count: int
    last: int
    checkpoint: Checkpoint | None


class Storage:
    """The database. `url` is a `DATABASE_URL` (postgresql://...), a SQLite URL or a file path.

    A new empty database is created at the latest schema; an existing one must already be at
    the schema this code was written for (`canishare db migrate` brings it there), else
    `StorageError` says so. With `create=False` a missing SQLite file is an error instead."""

    def __init__(self, url: str | Path, clock: Clock = SYSTEM_CLOCK, *, create: bool = True,
                 pool_size: int = 10, check_schema: bool = True, keyring: Keyring = NO_KEYS):
        self.url, self.clock, self.keyring = normalise_url(url), clock, keyring
        try:
            self.engine = connect(self.url, pool_size=pool_size, create=create)
            if check_schema:
                self._ready()
        except SQLAlchemyError as exc:
            raise StorageError(f"{self.where}: {_one_line(exc)}") from None

    def _ready(self) -> None:
        with self.engine.connect() as conn:
            empty = current_version(conn) is None
            conn.rollback()
        if empty:
            migrate(self.engine, self.clock, self.keyring)
        else:
            require_current(self.engine)

    @property
    def where(self) -> str:
        """Where the data lives (file path, or the URL without its password)."""
        return describe_url(self.url)

    @property
    def path(self) -> Path | None:
        return sqlite_path(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[Tx]:
        """A write transaction: committed when the block ends, rolled back if it raises.
        `durable`: the commit reaches the disk before this returns (SQLite FULL sync)."""
        try:
            with self.engine.connect().execution_options(canishare_write=True) as conn:
                if durable:
                    set_durable(conn, True)
                try:
                    with conn.begin():
                        yield Tx(conn, self.clock, self.keyring)
                finally:
                    if durable:
                        set_durable(conn, False)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StorageError(f"decision log error: {_one_line(exc)}") from None

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only unit of work (no write lock)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield Tx(conn, self.clock, self.keyring)
        except SQLAlchemyError as exc:
            raise StorageError(f"decision log error: {_one_line(exc)}") from None

    def migrate(self) -> tuple[int, int]:
        try:
            return migrate(self.engine, self.clock, self.keyring)
        except SQLAlchemyError as exc:
            raise StorageError(f"{self.where}: {_one_line(exc)}") from None

    def purge_decisions(self, cutoff: datetime, actor: str, dry_run: bool = False) -> Purge:
        """The only way decisions leave the log: the chain is walked first (without holding the
        write lock), then the purge, its signed anchor, an audit row and a checkpoint commit
        together. Raises `ChainBroken` when the log does not verify."""
        with self.read() as tx:
            report = tx.decisions.walk()
        if report.problems or report.unverifiable:
            raise ChainBroken(report.problems[0] if report.problems else
                              "rows made with a key that is not set here cannot be checked")
        with self.transaction(durable=True) as tx:
            count, last = tx.decisions.purge(cutoff, dry_run=dry_run, verified_through=report.last_id)
            point = None
            if count and not dry_run:
                tx.audit.add(actor, "purge", f"decisions up to {last}",
                             f"{count} decisions logged before {cutoff.date()}")
                point = tx.checkpoints.write("purge")
        return Purge(count, last, point)

    def backup(self, target: Path) -> Path:
        """An online-safe copy of a SQLite database (VACUUM INTO: one consistent snapshot while
        others keep writing), readable by the owner only. PostgreSQL has pg_dump for this."""
        if self.path is None:
            raise StorageError("backups of PostgreSQL are made with pg_dump (see the README)")
        target = Path(target).resolve()
        if target.exists() and target.stat().st_size:
            raise StorageError(f"{target} exists: choose a new file for the backup")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            with self.engine.connect() as conn:  # outside any transaction: VACUUM needs that
                conn.connection.driver_connection.execute("VACUUM INTO ?", (str(target),))
        except (SQLAlchemyError, sqlite3.Error) as exc:
            target.unlink(missing_ok=True)
            raise StorageError(f"backup to {target} failed: {_one_line(exc)}") from None
        return target

    def schema_version(self) -> int:
        with self.read() as tx:
            return current_version(tx.conn) or 0

    def close(self) -> None:
        self.engine.dispose()


def _one_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0] if str(original) else type(original).__name__

