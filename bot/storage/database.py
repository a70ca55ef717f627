"""Connecting to SQLite or PostgreSQL through one SQLAlchemy Core engine, and the few places where
the two dialects differ (insert-or-ignore, upsert, write locks).

SQLite: WAL mode and a busy timeout let web workers, the clock and the CLI write side by side;
write transactions start with BEGIN IMMEDIATE so concurrent writers queue instead of failing
half-way. The file and its folder are created readable by the owner only.
PostgreSQL: psycopg 3 with a connection pool; serialised appends use transaction-scoped advisory
locks (session locks break behind PgBouncer).
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 10_000


class StorageError(Exception):
    """The database could not do what was asked: one line, no driver traceback for people."""


# `scheme:` at the start of a value: a URL, never a file name (RFC 3986 3.1). One letter is a
# Windows drive (C:\\...), so a scheme here has at least two characters.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")
POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}


def database_url_problem(value: str) -> str | None:
    """What is wrong with a `DATABASE_URL` value, in one line that never repeats the value (it
    may hold a password); None when canishare can use it. Only SQLite (a file path or `sqlite:`)
    and PostgreSQL (`postgresql://`, `postgres://`, `postgresql+psycopg://`) are accepted, so a
    typo is an error and never a new SQLite file in a folder named after the URL. Schemes are
    case-insensitive (RFC 3986 3.1): `PostgreSQL://` is PostgreSQL."""
    if not value.strip():
        return "is empty: give a SQLite file path or a postgresql:// URL"
    if value != value.strip():
        return ("starts or ends with a space: remove it (in .env, no space after DATABASE_URL= and "
                "no quotes around part of the value)")
    match = _SCHEME.match(value)
    if match is None:
        return None  # a file path
    scheme = match.group(1).lower()
    if scheme == "sqlite":
        return None
    if scheme.startswith(("postgres", "postgresql+")) and scheme not in POSTGRES_SCHEMES:
        if scheme.startswith("postgresql+"):
            return (f"the driver {scheme.split('+', 1)[1]!r} is not installed: canishare uses psycopg 3, "
                    "write postgresql://user:password@host/database (or postgresql+psycopg://)")
        return (f"{scheme}:// is not a database canishare knows: did you mean postgresql://? "
                "(write postgresql://user:password@host/database)")
    if scheme not in POSTGRES_SCHEMES:
        return (f"{scheme}: databases are not supported: canishare stores its log in SQLite (a file "
                "path) or PostgreSQL (postgresql://user:password@host/database)")
    if not value[match.end():].startswith("//"):
        return "a PostgreSQL URL looks like postgresql://user:password@host/database"
    try:
        make_url(_sqlalchemy_url(value)).port  # noqa: B018 - reading the port checks it
    except Exception:  # noqa: BLE001 - SQLAlchemy's ArgumentError and ValueError (a bad port)
        return ("is not a URL SQLAlchemy can read (a bad port, or a character in the password "
                "that must be %-encoded, e.g. @ as %40): postgresql://user:password@host/database")
    return None


def normalise_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a `DATABASE_URL` value, a SQLite URL or a plain file path. A value
    `database_url_problem` refuses is a `StorageError` (one line, no password), never a file."""
    value = str(target)
    if value == ":memory:":
        return "sqlite://"
    problem = database_url_problem(value)
    if problem:
        raise StorageError(f"database: {problem}")
    return _sqlalchemy_url(value)


def _sqlalchemy_url(value: str) -> str:
    match = _SCHEME.match(value)
    if match is None:
        return "sqlite:///" + str(Path(value).expanduser().resolve())
    scheme, rest = match.group(1).lower(), value[match.end():]
    return ("sqlite:" if scheme == "sqlite" else "postgresql+psycopg:") + rest


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def describe_url(url: str) -> str:
    """Where the data lives, for people: a file path, or the PostgreSQL URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return make_url(url).render_as_string(hide_password=True)


def _private_file(path: Path) -> None:
    """Create the database file (and its folder) readable by the owner only, before SQLite does."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StorageError(f"cannot create the database at {path} ({exc.strerror or exc})") from None


def connect(url: str, *, pool_size: int = 10, create: bool = True) -> Engine:
    """An engine for `url`. With `create=False` a missing SQLite file is an error, not a new one."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            if not create:
                raise StorageError(f"no database at {path}: nothing has been logged there yet "
                                   "(run `canishare db migrate` to create it, or set DATABASE_URL "
                                   "to the database you meant)")
            _private_file(path)
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2,
                               connect_args={"check_same_thread": False,
                                             "timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_events(engine, wal=True)
        return engine
    if make_url(url).get_backend_name() == "sqlite":  # in memory: one shared connection
        from sqlalchemy.pool import StaticPool

        engine = create_engine(url, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
        _sqlite_events(engine, wal=False)
        return engine
    # READ COMMITTED pinned (whatever the server's default): an append takes its advisory lock
    # first, then reads the chain's head, which must be the head as of the lock, not as of the
    # transaction's first statement.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         isolation_level="READ COMMITTED")


def _sqlite_events(engine: Engine, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL is crash-safe in WAL mode; durable transactions raise it to FULL.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("canishare_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")


def is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING. True if the row was inserted. (RETURNING says so on
    both backends; a driver's rowcount for this statement is not reliable.)"""
    dialect = sqlite_dialect if is_sqlite(conn) else pg_dialect
    key = next(iter(table.primary_key.columns))
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return conn.execute(statement).first() is not None


def insert_ignore_returning_id(conn: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """Insert unless a unique key already exists; the new row's id, or None."""
    dialect = sqlite_dialect if is_sqlite(conn) else pg_dialect
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    row = conn.execute(statement).first()
    return int(row[0]) if row else None


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    dialect = sqlite_dialect if is_sqlite(conn) else pg_dialect
    statement = dialect.insert(table).values(**values)
    updates = {k: statement.excluded[k] for k in values if k not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))


def serialise(conn: Connection, name: str) -> None:
    """Hold a lock named `name` until the transaction ends: one writer at a time for appends that
    must not interleave (the hash chain). SQLite's BEGIN IMMEDIATE already serialises writers."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})


def _lock_key(name: str) -> int:
    return zlib.crc32(f"canishare:{name}".encode())


def set_durable(conn: Connection, on: bool) -> None:
    """SQLite: sync this connection's commits to disk (FULL) or at checkpoints (NORMAL, crash-safe
    in WAL mode). Must run outside a transaction; PostgreSQL commits durably already."""
    if is_sqlite(conn):
        conn.connection.driver_connection.execute(f"PRAGMA synchronous = {'FULL' if on else 'NORMAL'}")
