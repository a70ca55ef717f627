"""Tamper evidence and retention: `log verify` finds an edited, a deleted and a reordered row;
a purge keeps the chain verifiable and is itself logged."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from bot.storage import Storage
from tests.test_export import decision


def five(storage: Storage) -> Storage:
    for day in range(5):
        storage.record_decision(decision(day, what=f"row {day + 1}"))
    return storage


def raw(storage: Storage, sql: str, *params) -> None:
    conn = sqlite3.connect(storage.path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def test_intact_chain(storage, run_cli):
    five(storage)
    assert storage.verify_chain() == (5, None)


def test_edited_row(storage):
    five(storage)
    raw(storage, "UPDATE decisions SET verdict = 'do_not_share' WHERE id = 3")
    count, problem = storage.verify_chain()
    assert problem == "row 3: its content was changed after it was logged"


def test_deleted_row(storage):
    five(storage)
    raw(storage, "DELETE FROM decisions WHERE id = 3")
    assert storage.verify_chain()[1] == ("row 4: does not follow row 2 (a row was deleted or rows "
                                         "were reordered)")


def test_reordered_rows(storage):
    five(storage)
    # swap rows 2 and 3 wholesale, hashes included, by renumbering them
    raw(storage, "UPDATE decisions SET id = 100 WHERE id = 2")
    raw(storage, "UPDATE decisions SET id = 2 WHERE id = 3")
    raw(storage, "UPDATE decisions SET id = 3 WHERE id = 100")
    problem = storage.verify_chain()[1]
    assert problem is not None and problem.startswith("row 2:")


def test_cli_verify_exit_codes(storage, run_cli):
    five(storage)
    ok = run_cli("log", "verify", env={"CANISHARE_DATABASE": str(storage.path)})
    assert ok.returncode == 0 and "ok: 5 decisions" in ok.stdout
    raw(storage, "UPDATE decisions SET reasons = 'changed' WHERE id = 4")
    bad = run_cli("log", "verify", env={"CANISHARE_DATABASE": str(storage.path)})
    assert bad.returncode == 1 and "row 4: its content was changed" in bad.stdout


def test_purge_keeps_the_chain_verifiable_and_is_logged(storage):
    five(storage)
    cutoff = datetime(2026, 11, 11, 12, tzinfo=UTC)  # rows 1-3 (9th, 10th, 11th at 00:00) go
    assert storage.purge(cutoff, actor="tester", dry_run=True) == (3, 3)
    assert len(storage.decisions()) == 5
    assert storage.purge(cutoff, actor="tester") == (3, 3)
    assert [r["id"] for r in storage.decisions()] == [4, 5]
    assert storage.verify_chain() == (2, None)
    storage.record_decision(decision(6))
    assert storage.verify_chain() == (3, None)
    [audit] = storage.audit_rows("purge")
    assert audit["actor"] == "tester" and "3 decisions" in audit["detail"]
    raw(storage, "DELETE FROM decisions WHERE id = 4")  # tampering after a purge still shows
    assert storage.verify_chain()[1].startswith("row 5:")


def test_purge_everything_then_continue(storage):
    five(storage)
    assert storage.purge(datetime(2030, 1, 1, tzinfo=UTC), actor="t") == (5, 5)
    storage.record_decision(decision(10))
    assert storage.decisions()[0]["id"] == 6 and storage.verify_chain() == (1, None)


def test_cli_purge(run_cli, tmp_path):
    store = Storage(tmp_path / "cli.db")
    store.record_decision(decision(0, created_at=datetime.now(UTC) - timedelta(days=4000)))
    store.record_decision(decision(0, created_at=datetime.now(UTC)))
    dry = run_cli("purge", "--dry-run")
    assert "would delete 1 decisions" in dry.stdout and len(store.decisions()) == 2
    done = run_cli("purge")
    assert "deleted 1 decisions" in done.stdout and len(store.decisions()) == 1
    assert run_cli("log", "verify").returncode == 0
