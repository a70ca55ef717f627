"""Versioned schema migrations, run by `canishare db migrate` and checked by every process at
start-up: code never runs on a schema older (or newer) than it was written for.

A new, empty database is created at the latest version in one step from `schema.metadata`.
Versions 2 and 3 exist only in SQLite files made by earlier releases; from version 4 every
migration is written for both SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, inspect, select

import bot.storage.chain as chain
import bot.storage.schema as schema
from bot.core.clock import Clock, iso
from bot.storage.chain import NO_KEYS, Keyring
from bot.storage.database import StorageError, is_sqlite, serialise
from bot.storage.escalations import EscalationStore

LATEST = 6


ADDED_IN = {5: ("law_as_at", "commencements", "how_soon", "personal_duties"),
            4: ("secondary", "check_key", "key_id")}


def _columns_before(version: int, table):
    """The table's columns as they stood before schema `version` (a migration step runs on the
    schema of its own time, not the latest)."""
    later = {c for v, cols in ADDED_IN.items() if v >= version for c in cols}
    return [c for c in table.c if c.name not in later]


def _v2(conn: Connection) -> None:
    """Find a check's decision quickly (duplicate submissions are refused)."""
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS idx_decisions_channel_user_id_conversation_id "
                         "ON decisions (channel, user_id, conversation_id)")


def _v3(conn: Connection) -> None:
    """DSL side: escalations, audit, jobs and the hash chain over existing decisions."""
    for table in (schema.audit, schema.job_runs, schema.chain_anchor):
        table.create(conn, checkfirst=True)
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS escalations (id INTEGER PRIMARY KEY, created_at TEXT, channel "
        "TEXT, requester TEXT, conversation_id TEXT, dedupe_key TEXT, kind TEXT, urgency TEXT, "
        "flow_id TEXT, outcome_id TEXT, verdict TEXT, rules TEXT, gateways TEXT, answers TEXT, "
        "case_reference TEXT, status TEXT, card_channel TEXT, card_ts TEXT, claimed_by TEXT, "
        "claimed_at TEXT, resolved_by TEXT, resolved_at TEXT, resolution_note TEXT, reminders_sent "
        "INTEGER, next_reminder_at TEXT)")
    conn.exec_driver_sql("CREATE UNIQUE INDEX IF NOT EXISTS idx_escalations_dedupe_key "
                         "ON escalations (dedupe_key)")
    conn.exec_driver_sql("ALTER TABLE decisions ADD COLUMN prev_hash TEXT")
    conn.exec_driver_sql("ALTER TABLE decisions ADD COLUMN row_hash TEXT")
    prev = chain.GENESIS
    rows = conn.execute(select(*_columns_before(4, schema.decisions))
                        .order_by(schema.decisions.c.id)).mappings().all()
    for row in rows:
        digest = chain.link_hash(prev, row, chain.LEGACY_FIELDS, None)
        conn.execute(schema.decisions.update().where(schema.decisions.c.id == row["id"])
                     .values(prev_hash=prev, row_hash=digest))
        prev = digest


def _v4(conn: Connection, clock: Clock, keyring: Keyring) -> None:
    """Channel-neutral DSL desk: an outbox for every delivery, one decision per check enforced by
    the database, a scheduler lease, secondary outcomes; escalations whose card never arrived
    get an outbox row, so they are delivered now. Tamper evidence that holds: a keyed chain on
    new decisions, the audit trail chained, escalations sealed, purge anchors signed,
    checkpoints (existing rows are chained or sealed with the key given to the migration)."""
    add = "ALTER TABLE {} ADD COLUMN {} {}"
    for column, kind in (("secondary", "TEXT"), ("check_key", "TEXT"), ("key_id", "TEXT")):
        conn.exec_driver_sql(add.format("decisions", column, kind))
    for column, kind in (("secondary", "TEXT"), ("card_state", "TEXT"), ("card_ref", "TEXT"),
                         ("version", "INTEGER"), ("more_info_by", "TEXT"), ("more_info_at", "TEXT"),
                         ("row_mac", "TEXT"), ("key_id", "TEXT")):
        conn.exec_driver_sql(add.format("escalations", column, kind))
    for column in ("prev_hash", "row_hash", "key_id"):
        conn.exec_driver_sql(add.format("audit", column, "TEXT"))
    for column in ("table_name", "key_id", "signature"):
        conn.exec_driver_sql(add.format("chain_anchor", column, "TEXT"))
    d = schema.decisions.c
    firsts = (select(func.min(d.id)).where(d.conversation_id != "")
              .group_by(d.channel, d.user_id, d.conversation_id))
    for (first_id,) in conn.execute(firsts).all():
        row = conn.execute(select(d.channel, d.user_id, d.conversation_id).where(d.id == first_id)).one()
        conn.execute(schema.decisions.update().where(d.id == first_id)
                     .values(check_key=":".join(row)))
    for table in (schema.outbox, schema.delivery_attempts, schema.leases, schema.contacts,
                  schema.checkpoints):
        table.create(conn, checkfirst=True)
    for index in (*schema.decisions.indexes, *schema.events.indexes, *schema.conversations.indexes,
                  *schema.escalations.indexes, *schema.audit.indexes):
        if index.name in ("ux_decisions_check_key", "ix_events_received_at", "ix_conversations_latest",
                          "ix_escalations_conversation", "ix_audit_target"):
            index.create(conn, checkfirst=True)
    _rekey_decisions(conn, keyring)
    _chain_audit(conn, keyring)
    _sign_anchors(conn, keyring)
    e = schema.escalations.c
    for row in conn.execute(select(e.id, e.card_channel, e.card_ts, e.status, e.channel,
                                   e.created_at)).all():
        delivered = bool(row.card_ts)
        conn.execute(schema.escalations.update().where(e.id == row.id).values(
            version=1, secondary="[]", card_state="delivered" if delivered else "pending",
            card_ref=json.dumps({"channel": row.card_channel, "ts": row.card_ts} if delivered else {})))
        if not delivered and row.status != "resolved":
            conn.execute(schema.outbox.insert().values(
                key=f"card:{row.id}", channel=row.channel, kind="card", escalation_id=row.id,
                payload="{}", status="pending", attempts=0, created_at=row.created_at,
                next_attempt_at=row.created_at))
    store = EscalationStore(conn, clock, keyring)
    for (escalation_id,) in conn.execute(select(e.id).order_by(e.id)).all():
        store._seal(escalation_id, _columns_before(5, schema.escalations))


def _rekey_decisions(conn: Connection, keyring: Keyring) -> None:
    """The decisions an earlier release chained with plain SHA-256, checked as they stand and
    chained again with the log key, so that from now on every row must be keyed (a forger
    without the key cannot pass a row off as an old, unkeyed one). A chain that does not verify
    stops the migration: re-keying must never launder a change."""
    if keyring.current is None:
        return
    d = schema.decisions.c
    anchor = conn.execute(select(schema.chain_anchor).order_by(schema.chain_anchor.c.id.desc())
                          .limit(1)).mappings().first()
    start = (anchor["hash"], anchor["purged_through"]) if anchor else (chain.GENESIS, 0)
    rows = conn.execute(select(*_columns_before(5, schema.decisions)).order_by(d.id)).mappings().all()
    legacy = chain.walk("decisions", rows, NO_KEYS, start[0], start[1], chain.decision_fields)
    if legacy.problems or legacy.unverifiable:
        raise StorageError(f"the decision log does not verify ({(legacy.problems or ['keyed rows'])[0]}): "
                           "not migrating; keep this database for investigation")
    prev = start[0]
    for row in rows:
        data = {**row, "key_id": keyring.kid, "prev_hash": prev, "secondary": row["secondary"] or "[]"}
        data["row_hash"] = chain.link_hash(prev, data, chain.DECISION_FIELDS, keyring.current)
        conn.execute(schema.decisions.update().where(d.id == row["id"]).values(
            key_id=keyring.kid, prev_hash=prev, row_hash=data["row_hash"], secondary=data["secondary"]))
        prev = data["row_hash"]


def _chain_audit(conn: Connection, keyring: Keyring) -> None:
    """Chain the audit rows an earlier release wrote, in id order (renumbered from 1 if needed)."""
    a = schema.audit.c
    prev = chain.GENESIS
    rows = conn.execute(select(schema.audit).order_by(a.id)).mappings().all()
    for number, row in enumerate(rows, start=1):
        data = {**row, "id": number, "key_id": keyring.kid, "prev_hash": prev}
        data["row_hash"] = chain.link_hash(prev, data, chain.AUDIT_FIELDS, keyring.current)
        conn.execute(schema.audit.update().where(a.id == row["id"]).values(
            id=number, key_id=keyring.kid, prev_hash=prev, row_hash=data["row_hash"]))
        prev = data["row_hash"]


def _sign_anchors(conn: Connection, keyring: Keyring) -> None:
    """Purge anchors from before they were signed: signed now, by whoever migrates with the key."""
    if keyring.current is None:
        return
    c = schema.chain_anchor.c
    for row in conn.execute(select(schema.chain_anchor)).mappings().all():
        text = chain.anchor_text("decisions", row["purged_through"], row["hash"], row["at"])
        conn.execute(schema.chain_anchor.update().where(c.id == row["id"]).values(
            table_name="decisions", key_id=keyring.kid, signature=chain.sign(keyring.current, text)))


def _v5(conn: Connection) -> None:
    """Guidance edition 3 (T6): each decision logs the date the law was applied at and the
    commencement settings used. Existing rows keep NULL there, and with it their hash's field
    list, so the chain over them verifies unchanged."""
    for column in ("law_as_at", "commencements"):
        conn.exec_driver_sql(f"ALTER TABLE decisions ADD COLUMN {column} TEXT")
    for column in ("how_soon", "personal_duties", "law_as_at"):  # the DSL card says them (U1-U5)
        conn.exec_driver_sql(f"ALTER TABLE escalations ADD COLUMN {column} TEXT")


def _v6(conn: Connection) -> None:
    """The web console: its daily counts, the queue's indexes, a term's trends from the index."""
    schema.console_daily.create(conn, checkfirst=True)
    for index in (schema.decisions.indexes | schema.escalations.indexes):
        if index.name in ("ix_decisions_trends", "ix_escalations_queue", "ix_escalations_resolved",
                          "ix_escalations_created"):
            index.create(conn, checkfirst=True)


STEPS: dict[int, Callable[[Connection, Clock, Keyring], None]] = {
    2: lambda conn, _clock, _keys: _v2(conn), 3: lambda conn, _clock, _keys: _v3(conn), 4: _v4,
    5: lambda conn, _clock, _keys: _v5(conn), 6: lambda conn, _clock, _keys: _v6(conn)}


def current_version(conn: Connection) -> int | None:
    """The schema version, or None for an empty database (no tables at all)."""
    tables = set(inspect(conn).get_table_names())
    if "schema_migrations" not in tables:
        return None if not tables else 0
    return int(conn.execute(select(func.max(schema.schema_migrations.c.version))).scalar() or 0)


def migrate(engine: Engine, clock: Clock, keyring: Keyring = NO_KEYS) -> tuple[int, int]:
    """Bring the schema to LATEST. Returns (version before, version after); safe to run from
    several processes at once (the second finds nothing to do)."""
    with engine.connect().execution_options(canishare_write=True) as conn, conn.begin():
        serialise(conn, "migrate")
        before = current_version(conn)
        if before is None:
            schema.metadata.create_all(conn)
            conn.execute(schema.schema_migrations.insert(),
                         [{"version": v, "applied_at": iso(clock.now())} for v in range(1, LATEST + 1)])
            return 0, LATEST
        if before > LATEST:
            raise StorageError(f"the database schema is version {before}, newer than this "
                               f"code's {LATEST}: upgrade canishare")
        if before < 1:
            raise StorageError("this database was not made by canishare (no schema version)")
        if before < 4 and not is_sqlite(conn):
            raise StorageError(f"schema version {before} on PostgreSQL cannot be migrated")
        for version in range(before + 1, LATEST + 1):
            STEPS[version](conn, clock, keyring)
            conn.execute(schema.schema_migrations.insert().values(version=version,
                                                                  applied_at=iso(clock.now())))
        return before, LATEST


def require_current(engine: Engine) -> None:
    """Refuse to run on a schema this code was not written for, with the command that fixes it."""
    with engine.connect() as conn:
        version = current_version(conn)
        conn.rollback()
    if version == LATEST:
        return
    if version is None:
        raise StorageError("the database is empty: run `canishare db migrate` first")
    if version > LATEST:
        raise StorageError(f"the database schema is version {version}, newer than this code's "
                           f"{LATEST}: upgrade canishare")
    raise StorageError(f"the database schema is version {version}, older than this code's "
                       f"{LATEST}: run `canishare db migrate`")

