"""`canishare db copy`: move an install's data from one database to another (SQLite to PostgreSQL
when an organisation outgrows one machine), rows unchanged, so the copy's hash chains still
verify with the same key."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, func, select, text

import bot.storage.schema as schema
from bot.storage.database import StorageError, is_sqlite

# Everything but the schema version (the target has its own) and the scheduler lease (runtime).
TABLES: tuple[Table, ...] = (
    schema.conversations, schema.profiles, schema.contacts, schema.events, schema.decisions,
    schema.chain_anchor, schema.escalations, schema.audit, schema.checkpoints, schema.outbox,
    schema.delivery_attempts, schema.job_runs,
)


def copy_database(source, target, batch: int = 2000,
                  progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every row of `source` into `target` (both `Storage`, both at the current schema;
    the target must hold no data). Returns rows copied per table."""
    with target.read() as tx:
        for table in TABLES:
            if tx.conn.execute(select(func.count()).select_from(table)).scalar():
                raise StorageError(f"{target.where} already holds data (table {table.name}): copy into "
                                   "an empty, migrated database")
    counts: dict[str, int] = {}
    with source.read() as src, target.transaction() as dst:
        for table in TABLES:
            copied, rows = 0, []
            result = src.conn.execution_options(yield_per=batch).execute(select(table))
            for row in result.mappings():
                rows.append(dict(row))
                if len(rows) >= batch:
                    dst.conn.execute(table.insert(), rows)
                    copied += len(rows)
                    rows = []
            if rows:
                dst.conn.execute(table.insert(), rows)
                copied += len(rows)
            counts[table.name] = copied
            if progress:
                progress(table.name, copied)
        if not is_sqlite(dst.conn):
            _reset_sequences(dst.conn)
    return counts


def _reset_sequences(conn) -> None:
    """PostgreSQL hands out serial ids from sequences: move each past the ids just copied."""
    for table in TABLES:
        column = table.c.get("id")
        if column is None or column.autoincrement is False:
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
