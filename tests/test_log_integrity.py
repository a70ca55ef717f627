"""Tamper evidence and retention: `log verify` finds an edited, a deleted and a reordered row;
a purge keeps the chain verifiable and is itself logged."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from bot.core.clock import SYSTEM_CLOCK
from bot.storage import Storage
from tests.conftest import decisions, record, verify
from tests.test_export import decision


def five(storage: Storage) -> Storage:
    for day in range(5):
        record(storage, decision(day, what=f"row {day + 1}"))
    return storage


def purge(storage: Storage, cutoff: datetime, dry_run: bool = False) -> tuple[int, int]:
    with storage.transaction() as tx:
        return tx.decisions.purge(cutoff, dry_run=dry_run)


def raw(storage: Storage, sql: str, *params) -> None:
    conn = sqlite3.connect(storage.path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def test_intact_chain(storage, run_cli):
    five(storage)
    assert verify(storage) == (5, None)


def test_edited_row(storage):
    five(storage)
    raw(storage, "UPDATE decisions SET verdict = 'do_not_share' WHERE id = 3")
    count, problem = verify(storage)
    assert problem == "row 3: its content was changed after it was logged"


def test_deleted_row(storage):
    five(storage)
    raw(storage, "DELETE FROM decisions WHERE id = 3")
    assert verify(storage)[1] == ("row 4: does not follow row 2 (a row was deleted or rows "
                                         "were reordered)")


def test_reordered_rows(storage):
    five(storage)
    # swap rows 2 and 3 wholesale, hashes included, by renumbering them
    raw(storage, "UPDATE decisions SET id = 100 WHERE id = 2")
    raw(storage, "UPDATE decisions SET id = 2 WHERE id = 3")
    raw(storage, "UPDATE decisions SET id = 3 WHERE id = 100")
    problem = verify(storage)[1]
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
    assert purge(storage, cutoff, dry_run=True) == (3, 3)
    assert len(decisions(storage)) == 5
    assert purge(storage, cutoff) == (3, 3)
    assert [r["id"] for r in decisions(storage)] == [4, 5]
    assert verify(storage) == (2, None)
    record(storage, decision(6))
    assert verify(storage) == (3, None)
    raw(storage, "DELETE FROM decisions WHERE id = 4")  # tampering after a purge still shows
    assert verify(storage)[1].startswith("row 5:")


def test_purge_everything_then_continue(storage):
    five(storage)
    assert purge(storage, datetime(2030, 1, 1, tzinfo=UTC)) == (5, 5)
    record(storage, decision(10))
    assert decisions(storage)[0]["id"] == 6 and verify(storage) == (1, None)


def test_cli_purge_is_logged(run_cli, tmp_path):
    store = Storage(tmp_path / "cli.db")
    now = SYSTEM_CLOCK.now()  # the CLI runs on the real clock
    record(store, decision(0, created_at=now - timedelta(days=4000)))
    record(store, decision(0, created_at=now))
    dry = run_cli("purge", "--dry-run")
    assert "would delete 1 decisions" in dry.stdout and len(decisions(store)) == 2
    done = run_cli("purge")
    assert "deleted 1 decisions" in done.stdout and len(decisions(store)) == 1
    assert run_cli("log", "verify").returncode == 0
    with store.read() as tx:
        [audit] = tx.audit.rows("purge")
    assert "1 decisions" in audit["detail"]
