"""Storage: versioned migrations (including a database made by the previous release), WAL,
compare-and-set, one decision per check, the outbox, the lease, and concurrent writers."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.dsl.model import DeliveryKind
from bot.storage import LATEST, ConflictError, Decision, DuplicateDecision, Storage, StorageError
from tests.conftest import MONDAY_10AM, ROOT, decisions, record, verify


@pytest.fixture
def storage(store):
    """Every store test below runs on SQLite and on PostgreSQL."""
    return store


def decision(**extra) -> Decision:
    base = dict(created_at=MONDAY_10AM, channel="test", user_id="u", flow_id="f", flow_version="v",
                guidance_edition="e", answers={"q": "a"}, outcome_id="O07",
                verdict="do_not_share_yet_seek_advice", consent_position="not_applicable",
                rules=["GR7"], gateways=[], dsl_alert="routine", decision="deferred")
    return Decision(**{**base, **extra})


def test_a_new_postgresql_database_is_created_current(postgres, clock):
    url = postgres.create_database()
    store = Storage(url, clock)
    assert store.schema_version() == LATEST and store.dialect == "postgresql"
    assert Storage(url, clock).migrate() == (LATEST, LATEST)
    assert "postgres@127.0.0.1" in store.where and "password" not in store.where
    store.close()


def test_a_new_database_is_created_current_private_and_in_wal(tmp_path, clock):
    path = tmp_path / "data" / "m.db"
    store = Storage(path, clock)
    assert store.schema_version() == LATEST
    Storage(path, clock).migrate()  # a second start-up changes nothing
    assert store.schema_version() == LATEST
    with store.read() as tx:
        assert tx.conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    record(store, decision())  # a write: the WAL and its index now exist, as private as the file
    for private in (path, path.with_name("m.db-wal"), path.with_name("m.db-shm")):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def old_release(tmp_path: Path) -> Path:
    """A database as the previous release left it (schema 3), from its SQL dump."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((ROOT / "tests" / "fixtures" / "release_schema3.sql").read_text())
    conn.close()
    return path


def test_an_older_schema_is_refused_until_migrated(tmp_path, clock):
    path = old_release(tmp_path)
    with pytest.raises(StorageError, match="schema is version 3, older than this code's .*canishare db migrate"):
        Storage(path, clock)
    before, after = Storage(path, clock, check_schema=False).migrate()
    assert (before, after) == (3, LATEST)
    store = Storage(path, clock)
    assert verify(store) == (4, None)  # the old chain still verifies
    with store.read() as tx:
        # an escalation whose card never reached Slack is healed: its card is queued now
        lost = tx.escalations.get(2)
        assert lost.card_state.value == "pending"
        assert [d.key for d in tx.outbox.pending()] == ["card:2"]
        posted = tx.escalations.get(1)
        assert posted.card_state.value == "delivered" and posted.card_ref["ts"] == "1700000000.000100"
        assert tx.profiles.load("slack", "U1") == {"jurisdiction": "england"}


def test_one_decision_per_check_even_on_a_migrated_log(tmp_path, clock):
    path = old_release(tmp_path)
    Storage(path, clock, check_schema=False).migrate()
    store = Storage(path, clock)
    with pytest.raises(DuplicateDecision) as info:  # c1 already had (two) decisions
        record(store, decision(channel="slack", user_id="U1", conversation_id="c1"))
    assert info.value.decision_id == 1
    assert record(store, decision(channel="slack", user_id="U1", conversation_id="c9")) == 5
    with pytest.raises(DuplicateDecision):
        record(store, decision(channel="slack", user_id="U1", conversation_id="c9"))
    # checks without a conversation id (imports, benchmarks) are not limited
    assert record(store, decision(conversation_id="")) == 6
    assert record(store, decision(conversation_id="")) == 7


def test_a_newer_schema_is_refused(tmp_path, clock):
    path = tmp_path / "n.db"
    store = Storage(path, clock)
    with store.transaction() as tx:
        tx.conn.execute(text("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'x')"))
    with pytest.raises(StorageError, match="newer than this code"):
        Storage(path, clock)


def test_no_database_is_an_error_when_not_creating(tmp_path, clock):
    with pytest.raises(StorageError, match="no database at"):
        Storage(tmp_path / "missing.db", clock, create=False)
    assert not (tmp_path / "missing.db").exists()


def test_compare_and_set(storage):
    with storage.transaction() as tx:
        assert tx.conversations.save("c", "u", "id1", {"n": 1}, 0) == 1
    with pytest.raises(ConflictError), storage.transaction() as tx:
        tx.conversations.save("c", "u", "id1", {"n": 1}, 0)
    with storage.transaction() as tx:
        assert tx.conversations.save("c", "u", "id1", {"n": 2}, 1) == 2
    with pytest.raises(ConflictError), storage.transaction() as tx:
        tx.conversations.save("c", "u", "id1", {"n": 3}, 1)
    with storage.read() as tx:
        assert tx.conversations.load("c", "u", "id1").state == {"n": 2}


def test_a_failed_transaction_leaves_nothing(storage):
    with pytest.raises(RuntimeError), storage.transaction() as tx:
        tx.conversations.save("c", "u", "id1", {"n": 1}, 0)
        tx.escalations.create("k1", channel="slack", requester="u", conversation_id="id1",
                              kind="outcome", urgency="urgent")
        raise RuntimeError("crash before commit")
    with storage.read() as tx:
        assert tx.conversations.load("c", "u", "id1") is None
        assert tx.escalations.by_dedupe_key("k1") is None


def test_event_ids_are_seen_once(storage):
    with storage.transaction() as tx:
        assert tx.housekeeping.first_delivery("Ev1") is True
        assert tx.housekeeping.first_delivery("Ev1") is False


def test_profile_round_trip(storage):
    with storage.transaction() as tx:
        assert tx.profiles.load("slack", "U1") == {}
        tx.profiles.save("slack", "U1", {"jurisdiction": "wales"})
        tx.profiles.save("slack", "U1", {"jurisdiction": "england", "org_type": "nhs_health"})
        assert tx.profiles.load("slack", "U1") == {"jurisdiction": "england", "org_type": "nhs_health"}


def test_decisions_filtered_by_time(storage):
    record(storage, decision(created_at=MONDAY_10AM - timedelta(days=10)))
    record(storage, decision(created_at=MONDAY_10AM - timedelta(days=1), outcome_id="O08"))
    rows = decisions(storage, since=MONDAY_10AM - timedelta(days=7))
    assert [r["outcome_id"] for r in rows] == ["O08"]


def test_outbox_keys_are_idempotent_and_claims_exclusive(storage, clock):
    with storage.transaction() as tx:
        first = tx.outbox.enqueue("card:1", "slack", DeliveryKind.card, escalation_id=1)
        assert tx.outbox.enqueue("card:1", "slack", DeliveryKind.card, escalation_id=1) is None
    with storage.transaction() as tx:
        assert tx.outbox.claim_due(["slack"], "a", 60, 10) == [first]
        assert tx.outbox.claim_due(["slack"], "b", 60, 10) == []  # someone else is sending it
        assert tx.outbox.claim_due(["teams"], "b", 60, 10) == []  # not that channel's either
    clock.advance(seconds=61)  # a's process died: its claim runs out
    with storage.transaction() as tx:
        assert tx.outbox.claim_due(["slack"], "b", 60, 10) == [first]
        assert tx.outbox.failed(first, "a", "late", clock.now()) is False  # a no longer holds it
        assert tx.outbox.failed(first, "b", "Slack: ratelimited", clock.now() + timedelta(seconds=30),
                                retry_after=30) is True
        assert tx.outbox.claim_due(["slack"], "b", 60, 10) == []  # not due yet
    clock.advance(seconds=31)
    with storage.transaction() as tx:
        assert tx.outbox.claim_due(["slack"], "b", 60, 10) == [first]
        tx.outbox.delivered(first, {"ts": "1.2"})
        assert [a["ok"] for a in tx.outbox.attempts(first)] == [0, 0, 1]
        assert tx.outbox.get(first).status.value == "delivered"


def test_one_lease_holder_at_a_time(storage, clock):
    with storage.transaction() as tx:
        assert tx.housekeeping.hold_lease("scheduler", "a", 30) is True
        assert tx.housekeeping.hold_lease("scheduler", "b", 30) is False
        assert tx.housekeeping.hold_lease("scheduler", "a", 30) is True  # renewal
    clock.advance(seconds=31)
    with storage.transaction() as tx:
        assert tx.housekeeping.hold_lease("scheduler", "b", 30) is True
        assert tx.housekeeping.hold_lease("scheduler", "a", 30) is False


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from bot.storage import Decision, Storage
    store = Storage(sys.argv[1])
    for n in range(int(sys.argv[3])):
        with store.transaction() as tx:
            tx.decisions.record(Decision(created_at=datetime(2026, 11, 16, tzinfo=UTC), channel="proc",
                user_id=sys.argv[2], flow_id="f", flow_version="v", guidance_edition="e",
                answers={"n": str(n)}, outcome_id="O07", verdict="do_not_share_yet_seek_advice",
                consent_position="not_applicable", rules=["GR7"], gateways=[], dsl_alert="routine",
                decision="deferred"))
""")


def test_two_processes_writing_lose_nothing(database, clock):
    path = database
    Storage(path, clock).close()
    count = 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), who, str(count)])
             for who in ("writer-a", "writer-b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Storage(path, clock)
    rows = decisions(store)
    assert len(rows) == 2 * count and verify(store) == (2 * count, None)
    for who in ("writer-a", "writer-b"):
        mine = [r["answers"]["n"] for r in rows if r["user_id"] == who]
        assert sorted(mine, key=int) == [str(n) for n in range(count)]


def test_prune_old_events_and_conversations(storage, clock):
    with storage.transaction() as tx:
        tx.housekeeping.first_delivery("EvOld")
        tx.conversations.save("c", "u", "old", {"n": 1}, 0)
    later = clock.advance(days=3)
    with storage.transaction() as tx:
        assert tx.housekeeping.prune(events_before=later, conversations_before=later) == (1, 1)
        assert tx.housekeeping.first_delivery("EvOld") is True
        assert tx.conversations.load("c", "u", "old") is None
        tx.conversations.save("c", "u", "new", {"n": 1}, 0)
        past = later - timedelta(days=1)
        assert tx.housekeeping.prune(events_before=past, conversations_before=past) == (0, 0)


def test_contacts_round_trip(storage):
    with storage.transaction() as tx:
        assert tx.contacts.load("teams", "aad-1") is None
        tx.contacts.save("teams", "aad-1", {"conversation_id": "a:1", "service_url": "https://x/"})
        tx.contacts.save("teams", "aad-1", {"conversation_id": "a:2", "service_url": "https://x/"})
        assert tx.contacts.load("teams", "aad-1") == {"conversation_id": "a:2", "service_url": "https://x/"}


def test_db_copy_from_a_populated_sqlite_file_to_postgresql(run_cli, tmp_path, postgres):
    from bot.storage import Key, Keyring

    key = "k1:" + "c" * 40
    keyring = Keyring(Key.parse(key))
    source = Storage(tmp_path / "cli.db", keyring=keyring)
    for n in range(3):
        record(source, decision(conversation_id=f"c{n}", what=f"row {n}"))
    with source.transaction() as tx:
        escalation_id = tx.escalations.create("k", channel="slack", requester="U1", conversation_id="c1",
                                              kind="outcome", urgency="urgent")
        tx.escalations.update(escalation_id, status="claimed", claimed_by="UDSL")
        tx.outbox.enqueue("card:1", "slack", DeliveryKind.card, escalation_id=escalation_id)
        tx.conversations.save("slack", "U1", "c9", {"n": 1}, 0)
        tx.profiles.save("slack", "U1", {"jurisdiction": "england"})
        tx.checkpoints.write("test")
    source.close()
    target = postgres.create_database()
    env = {"CANISHARE_LOG_KEY": key}
    copied = run_cli("db", "copy", "--from", str(tmp_path / "cli.db"), "--to", target, env=env)
    assert copied.returncode == 0, copied.stdout + copied.stderr
    assert "decisions: 3 rows" in copied.stdout and "ok: the copy verifies" in copied.stdout
    verified = run_cli("log", "verify", env={**env, "DATABASE_URL": target})
    assert verified.returncode == 0 and "ok: 3 decisions" in verified.stdout, verified.stdout
    copy = Storage(target, keyring=keyring)
    with copy.transaction() as tx:
        assert tx.escalations.get(1).claimed_by == "UDSL"
        assert tx.outbox.by_key("card:1") is not None
        assert tx.profiles.load("slack", "U1") == {"jurisdiction": "england"}
        # new rows continue the copied ids and chains
        assert tx.escalations.create("k2", channel="slack", requester="U2", conversation_id="c2",
                                     kind="outcome", urgency="routine") == 2
    record(copy, decision(conversation_id="c-new"))
    with copy.read() as tx:
        assert tx.verify().ok
    copy.close()
    again = run_cli("db", "copy", "--from", str(tmp_path / "cli.db"), "--to", target, env=env)
    assert again.returncode == 2 and "already holds data" in again.stderr


BUSY_WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from bot.storage import Decision, Storage
    store = Storage(sys.argv[1])
    n = 0
    while True:
        with store.transaction() as tx:
            tx.decisions.record(Decision(created_at=datetime(2026, 11, 16, tzinfo=UTC), channel="busy",
                user_id="w", flow_id="f", flow_version="v", guidance_edition="e", answers={"n": str(n)},
                outcome_id="O07", verdict="do_not_share_yet_seek_advice", consent_position="not_applicable",
                rules=["GR7"], gateways=[], dsl_alert="routine", decision="deferred"))
        n += 1
""")


def test_backup_while_the_database_is_being_written_to(run_cli, tmp_path):
    import stat
    import time

    path = tmp_path / "cli.db"
    Storage(path).close()
    writer = subprocess.Popen([sys.executable, "-c", BUSY_WRITER, str(path)])
    try:
        deadline = time.monotonic() + 30
        while not decisions(Storage(path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        result = run_cli("backup", "--out", str(tmp_path / "backup.db"))
        assert result.returncode == 0, result.stderr
    finally:
        writer.kill()
        writer.wait()
    assert "backed up" in result.stdout and "decisions" in result.stdout
    copy = Storage(tmp_path / "backup.db")
    count, problem = verify(copy)
    assert problem is None and count > 0  # a consistent snapshot: the chain verifies
    assert count <= len(decisions(Storage(path)))
    assert stat.S_IMODE((tmp_path / "backup.db").stat().st_mode) == 0o600
    again = run_cli("backup", "--out", str(tmp_path / "backup.db"))
    assert again.returncode == 2 and "exists: choose a new file" in again.stderr


def test_migrating_with_the_log_key_rechains_the_old_log_and_refuses_a_broken_one(tmp_path, clock):
    from bot.storage import Key, Keyring

    keyring = Keyring(Key.parse("k1:" + "m" * 40))
    path = old_release(tmp_path)
    Storage(path, clock, check_schema=False, keyring=keyring).migrate()
    store = Storage(path, clock, keyring=keyring)
    with store.read() as tx:
        result = tx.verify()
        assert result.ok, result.problems
        assert result.decisions.keyed == 4 and result.audit.keyed == result.audit.checked
        assert {r["key_id"] for r in tx.decisions.iter()} == {"k1"}
    broken = tmp_path / "broken"
    broken.mkdir()
    path = old_release(broken)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE decisions SET reasons = 'changed' WHERE id = 2")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="does not verify .*decisions row 2.*not migrating"):
        Storage(path, clock, check_schema=False, keyring=keyring).migrate()
    with pytest.raises(StorageError, match="older than this code"):  # nothing was half-done
        Storage(path, clock, keyring=keyring)
