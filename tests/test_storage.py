"""The decision log: versioned migrations, WAL, compare-and-set, and concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.storage import MIGRATIONS, ConflictError, Decision, Storage


def decision(**extra) -> Decision:
    base = dict(channel="test", user_id="u", flow_id="f", flow_version="v", guidance_edition="e",
                answers={"q": "a"}, outcome_id="O07", verdict="do_not_share_yet_seek_advice",
                consent_position="not_applicable", rules=["GR7"], gateways=[], dsl_alert="routine",
                decision="deferred")
    return Decision(**{**base, **extra})


def test_migrations_are_versioned_and_idempotent(tmp_path):
    path = tmp_path / "m.db"
    store = Storage(path)
    assert store.schema_version() == len(MIGRATIONS)
    Storage(path).migrate()  # a second start-up changes nothing
    assert store.schema_version() == len(MIGRATIONS)
    with store.db() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {"decisions", "conversations", "events", "profiles", "schema_migrations"} <= set(db.table_names())


def test_compare_and_set(storage):
    assert storage.save_conversation("c", "u", "id1", {"n": 1}, 0) == 1
    with pytest.raises(ConflictError):
        storage.save_conversation("c", "u", "id1", {"n": 1}, 0)
    assert storage.save_conversation("c", "u", "id1", {"n": 2}, 1) == 2
    with pytest.raises(ConflictError):
        storage.save_conversation("c", "u", "id1", {"n": 3}, 1)
    assert storage.load_conversation("c", "u", "id1").state == {"n": 2}


def test_event_ids_are_seen_once(storage):
    assert storage.first_delivery("Ev1") is True
    assert storage.first_delivery("Ev1") is False


def test_profile_round_trip(storage):
    assert storage.load_profile("slack", "U1") == {}
    storage.save_profile("slack", "U1", {"jurisdiction": "wales"})
    storage.save_profile("slack", "U1", {"jurisdiction": "england", "org_type": "nhs_health"})
    assert storage.load_profile("slack", "U1") == {"jurisdiction": "england", "org_type": "nhs_health"}


def test_decisions_filtered_by_time(storage):
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    storage.record_decision(decision(created_at=now - timedelta(days=10)))
    storage.record_decision(decision(created_at=now - timedelta(days=1), outcome_id="O08"))
    rows = storage.decisions(since=now - timedelta(days=7))
    assert [r["outcome_id"] for r in rows] == ["O08"]


WRITER = textwrap.dedent("""
    import sys
    from bot.storage import Decision, Storage
    store = Storage(sys.argv[1])
    for n in range(int(sys.argv[3])):
        store.record_decision(Decision(channel="proc", user_id=sys.argv[2], flow_id="f",
            flow_version="v", guidance_edition="e", answers={"n": str(n)}, outcome_id="O07",
            verdict="do_not_share_yet_seek_advice", consent_position="not_applicable",
            rules=["GR7"], gateways=[], dsl_alert="routine", decision="deferred"))
""")


def test_two_processes_writing_lose_nothing(tmp_path: Path):
    path = tmp_path / "concurrent.db"
    Storage(path)
    count = 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), who, str(count)])
             for who in ("writer-a", "writer-b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    rows = Storage(path).decisions()
    assert len(rows) == 2 * count
    for who in ("writer-a", "writer-b"):
        mine = [r["answers"]["n"] for r in rows if r["user_id"] == who]
        assert sorted(mine, key=int) == [str(n) for n in range(count)]


def test_prune_old_events_and_conversations(storage):
    from datetime import UTC, datetime, timedelta

    storage.first_delivery("EvOld")
    storage.save_conversation("c", "u", "old", {"n": 1}, 0)
    future = datetime.now(UTC) + timedelta(seconds=5)
    assert storage.prune(events_before=future, conversations_before=future) == (1, 1)
    assert storage.first_delivery("EvOld") is True
    assert storage.load_conversation("c", "u", "old") is None
    storage.save_conversation("c", "u", "new", {"n": 1}, 0)
    past = datetime.now(UTC) - timedelta(days=1)
    assert storage.prune(events_before=past, conversations_before=past) == (0, 0)
