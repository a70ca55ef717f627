"""Tamper evidence that holds against someone who can write the database file (issue 9): every
class of tampering, with the key, without it, and against a published checkpoint; a purge that
only the command can make; key rotation."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.clock import SYSTEM_CLOCK
from bot.storage import Checkpoint, Key, Keyring, Storage, chain
from bot.storage.decisions import ChainBroken
from tests.conftest import decisions, record
from tests.test_export import decision

KEY = Key.parse("k1:" + "s" * 40)
NEW_KEY = Key.parse("k2:" + "t" * 40)


@pytest.fixture
def keyed(tmp_path, clock):
    store = Storage(tmp_path / "keyed.db", clock, keyring=Keyring(KEY))
    yield store
    store.close()


def five(storage: Storage) -> Storage:
    for day in range(5):
        record(storage, decision(day, what=f"row {day + 1}"))
    return storage


def raw(storage: Storage, sql: str, *params) -> None:
    conn = sqlite3.connect(storage.path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def report(storage: Storage, checkpoint: Checkpoint | None = None):
    with storage.read() as tx:
        return tx.verify(checkpoint)


def problems(storage: Storage, checkpoint: Checkpoint | None = None) -> list[str]:
    return report(storage, checkpoint).problems


def checkpoint(storage: Storage) -> Checkpoint:
    with storage.transaction() as tx:
        return tx.checkpoints.write("test")


def reopened(storage: Storage, keyring: Keyring) -> Storage:
    return Storage(storage.path, storage.clock, keyring=keyring)


def test_an_intact_log_verifies_with_the_key(keyed):
    five(keyed)
    result = report(keyed)
    assert result.ok and result.decisions.checked == 5 and result.decisions.keyed == 5
    assert result.notes == []


def test_an_edited_row(keyed):
    five(keyed)
    raw(keyed, "UPDATE decisions SET verdict = 'do_not_share' WHERE id = 3")
    assert problems(keyed) == ["decisions row 3: changed after it was logged, or not written by canishare "
                               "(its keyed hash does not match)"]


def test_a_row_rewritten_with_every_hash_recomputed(keyed):
    """The attacker knows the algorithm but not the key: plain SHA-256 or a guessed key fails."""
    five(keyed)
    conn = sqlite3.connect(keyed.path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM decisions ORDER BY id")]
    rows[2]["reasons"] = "rewritten"
    prev = rows[1]["row_hash"]
    for row in rows[2:]:
        row["prev_hash"] = prev
        row["row_hash"] = prev = chain.link_hash(prev, row, chain.DECISION_FIELDS, Key.parse("x" * 40))
        conn.execute("UPDATE decisions SET reasons = ?, prev_hash = ?, row_hash = ? WHERE id = ?",
                     [row["reasons"], row["prev_hash"], row["row_hash"], row["id"]])
    conn.commit()
    conn.close()
    assert problems(keyed)[0].startswith("decisions row 3: changed after it was logged")


def test_a_row_deleted_from_the_middle_and_reordered_rows(keyed):
    five(keyed)
    raw(keyed, "DELETE FROM decisions WHERE id = 3")
    assert problems(keyed)[0].startswith("decisions row 4: does not follow row 2")


@pytest.mark.parametrize("how_many", [1, 5, "all"])
def test_deleting_the_newest_rows_shows_against_a_checkpoint(keyed, how_many):
    five(keyed)
    published = checkpoint(keyed)
    record(keyed, decision(6))  # logged after the checkpoint
    doomed = 6 if how_many == "all" else how_many
    raw(keyed, "DELETE FROM decisions WHERE id > ?", 6 - doomed)
    assert problems(keyed) == []  # a shorter chain is still a chain: the checkpoint is what shows it
    found = problems(keyed, published)
    if how_many == 1:  # only the row logged after the checkpoint went: nothing it vouches for
        assert found == []
    else:
        assert found and "was in the log at the checkpoint" in found[0]


def test_a_forged_row_appended(keyed):
    five(keyed)
    conn = sqlite3.connect(keyed.path)
    conn.row_factory = sqlite3.Row
    last = dict(conn.execute("SELECT * FROM decisions ORDER BY id DESC LIMIT 1").fetchone())
    forged = {**last, "id": 6, "prev_hash": last["row_hash"], "what": "forged", "check_key": None}
    for key_id, digest_key in ((KEY.kid, Key.parse("y" * 40)), (None, None)):  # guessed key; plain SHA
        forged["key_id"] = key_id
        forged["row_hash"] = chain.link_hash(forged["prev_hash"], forged, chain.DECISION_FIELDS, digest_key)
        conn.execute("DELETE FROM decisions WHERE id = 6")
        conn.execute(f"INSERT INTO decisions ({', '.join(forged)}) VALUES ({', '.join('?' * len(forged))})",
                     list(forged.values()))
        conn.commit()
        found = problems(keyed)
        assert found and found[0].startswith("decisions row 6:"), found
    conn.close()


def test_a_hand_made_purge_anchor(keyed):
    five(keyed)
    conn = sqlite3.connect(keyed.path)
    row3 = conn.execute("SELECT row_hash FROM decisions WHERE id = 3").fetchone()[0]
    conn.execute("DELETE FROM decisions WHERE id <= 3")
    conn.execute("INSERT INTO chain_anchor (hash, purged_through, at, table_name) VALUES (?, 3, 'x', 'decisions')",
                 [row3])
    conn.commit()
    assert problems(keyed)[0].startswith("purge anchor 1: not signed")
    conn.execute("UPDATE chain_anchor SET key_id = ?, signature = 'deadbeef' WHERE id = 1", [KEY.kid])
    conn.commit()
    conn.close()
    assert problems(keyed)[0].startswith("purge anchor 1: its signature does not match")


def test_back_dated_rows_cannot_be_purged_away(keyed):
    five(keyed)
    # make recent decisions look old enough for the retention purge to remove them
    raw(keyed, "UPDATE decisions SET created_at = '2010-01-01T00:00:00+00:00' WHERE id <= 4")
    with pytest.raises(ChainBroken, match="decisions row 1"), keyed.transaction() as tx:
        tx.decisions.purge(datetime(2015, 1, 1, tzinfo=UTC))
    assert len(decisions(keyed)) == 5  # nothing went


def test_audit_rows_are_chained(keyed):
    with keyed.transaction() as tx:
        for n in range(3):
            tx.audit.add("UDSL", "claim", f"escalation {n}")
    raw(keyed, "UPDATE audit SET actor = 'USOMEONE' WHERE id = 2")
    assert problems(keyed)[0].startswith("audit row 2: changed after it was logged")
    raw(keyed, "DELETE FROM audit WHERE id = 2")
    assert problems(keyed)[0].startswith("audit row 3: does not follow row 1")


def escalate(storage: Storage) -> int:
    with storage.transaction() as tx:
        escalation_id = tx.escalations.create("k", channel="slack", requester="U1", conversation_id="c",
                                              kind="outcome", urgency="urgent")
        tx.escalations.update(escalation_id, when_status=("open",), status="claimed", claimed_by="UDSL")
    return escalation_id


def test_escalation_changes_are_sealed(keyed):
    escalation_id = escalate(keyed)
    assert problems(keyed) == []
    raw(keyed, "UPDATE escalations SET status = 'resolved', resolution_note = 'closed' WHERE id = ?", escalation_id)
    assert problems(keyed) == [f"escalation {escalation_id}: changed outside canishare (its seal does not match)"]


def test_an_escalation_rolled_back_to_an_earlier_sealed_state(keyed):
    with keyed.transaction() as tx:
        escalation_id = tx.escalations.create("k", channel="slack", requester="U1", conversation_id="c",
                                              kind="outcome", urgency="urgent")
    conn = sqlite3.connect(keyed.path)
    conn.row_factory = sqlite3.Row
    before = dict(conn.execute("SELECT * FROM escalations WHERE id = ?", [escalation_id]).fetchone())
    with keyed.transaction() as tx:
        tx.escalations.update(escalation_id, status="resolved", resolved_by="UDSL", resolution_note="done")
    conn.execute("UPDATE escalations SET status = ?, resolved_by = ?, resolution_note = ?, version = ?, "
                 "row_mac = ? WHERE id = ?", [before["status"], before["resolved_by"], before["resolution_note"],
                                              before["version"], before["row_mac"], escalation_id])
    conn.commit()
    assert problems(keyed) == [f"escalation {escalation_id}: not in the state the audit trail last recorded "
                               "(rolled back or replaced)"]
    conn.execute("DELETE FROM escalations WHERE id = ?", [escalation_id])
    conn.commit()
    conn.close()
    assert problems(keyed) == [f"escalation {escalation_id}: recorded in the audit trail but deleted"]


def test_every_kind_of_unsealed_or_foreign_row_is_a_problem_with_the_key(keyed):
    five(keyed)
    escalate(keyed)
    forged = [
        ("UPDATE decisions SET verdict = 'do_not_share', key_id = 'zzz' WHERE id = 2", "decisions row 2: made with"),
        ("UPDATE escalations SET status = 'resolved', row_mac = NULL", "escalation 1: not sealed"),
        ("UPDATE escalations SET claimed_by = 'UX', key_id = 'zzz'", "escalation 1: not sealed"),
    ]
    for sql, expected in forged:
        raw(keyed, sql)
        found = problems(keyed)
        assert any(p.startswith(expected) for p in found), (sql, found)


def test_a_log_wiped_behind_a_forged_anchor_fails_against_a_checkpoint(keyed):
    five(keyed)
    published = checkpoint(keyed)
    raw(keyed, "DELETE FROM decisions")
    raw(keyed, "INSERT INTO chain_anchor (hash, purged_through, at, table_name, key_id, signature) "
               "VALUES ('x', 999, 'x', 'decisions', 'zzz', 'y')")
    assert "signed with a key that is not set here" in problems(keyed, published)[0]


def test_stripping_the_key_to_pass_rows_off_as_old_ones_fails(keyed):
    five(keyed)
    conn = sqlite3.connect(keyed.path)
    conn.row_factory = sqlite3.Row
    prev = chain.GENESIS
    for row in [dict(r) for r in conn.execute("SELECT * FROM decisions ORDER BY id")]:
        row.update(key_id=None, secondary=None, prev_hash=prev)
        row["row_hash"] = prev = chain.link_hash(prev, row, chain.LEGACY_FIELDS, None)
        conn.execute("UPDATE decisions SET key_id = NULL, secondary = NULL, prev_hash = ?, row_hash = ? "
                     "WHERE id = ?", [row["prev_hash"], row["row_hash"], row["id"]])
    conn.commit()
    conn.close()
    assert problems(keyed)[0].startswith("decisions row 1: not keyed")


def test_without_the_key_verify_says_what_it_can_still_prove(keyed):
    five(keyed)
    no_key = reopened(keyed, Keyring())
    result = report(no_key)
    assert result.ok and result.decisions.unverifiable == 5
    assert any("no log key is set: only that rows link up" in n for n in result.notes)
    raw(keyed, "DELETE FROM decisions WHERE id = 3")  # a gap still shows without the key
    assert problems(no_key)[0].startswith("decisions row 4: does not follow row 2")


def test_a_published_checkpoint_is_signed(keyed):
    five(keyed)
    published = checkpoint(keyed)
    assert published.kid == KEY.kid and published.signature
    parsed = Checkpoint.parse("posted in #dsl: " + published.text() + " (weekly)")
    assert parsed == published and problems(keyed, parsed) == []
    altered = Checkpoint.parse(published.text().replace("decisions=5:", "decisions=4:"))
    assert "its signature does not match" in problems(keyed, altered)[0]


def test_key_rotation(keyed):
    five(keyed)
    published = checkpoint(keyed)
    rotated = reopened(keyed, Keyring(NEW_KEY, old=(KEY,)))
    record(rotated, decision(6))
    result = report(rotated, published)
    assert result.ok and result.decisions.keyed == 6
    with rotated.read() as tx:
        assert [r["key_id"] for r in tx.decisions.iter()][-2:] == ["k1", "k2"]
    forgot_the_old_key = report(reopened(keyed, Keyring(NEW_KEY)))  # a forger's rows look like this
    assert not forgot_the_old_key.ok and "CANISHARE_LOG_OLD_KEYS" in forgot_the_old_key.problems[0]


def test_purge_keeps_the_chain_verifiable_and_signs_its_anchor(keyed):
    five(keyed)
    cutoff = datetime(2026, 11, 11, 12, tzinfo=UTC)  # rows 1-3 (9th, 10th, 11th at 00:00) go
    with keyed.transaction() as tx:
        assert tx.decisions.purge(cutoff, dry_run=True) == (3, 3)
    assert len(decisions(keyed)) == 5
    before = checkpoint(keyed)
    with keyed.transaction() as tx:
        assert tx.decisions.purge(cutoff) == (3, 3)
    assert [r["id"] for r in decisions(keyed)] == [4, 5] and problems(keyed) == []
    assert problems(keyed, before) == []  # purged by the command: not a removal
    record(keyed, decision(6))
    assert problems(keyed) == []
    raw(keyed, "DELETE FROM decisions WHERE id = 4")  # tampering after a purge still shows
    assert problems(keyed)[0].startswith("decisions row 5:")


def test_purge_everything_then_continue(keyed):
    five(keyed)
    with keyed.transaction() as tx:
        assert tx.decisions.purge(datetime(2030, 1, 1, tzinfo=UTC)) == (5, 5)
    record(keyed, decision(10))
    assert decisions(keyed)[0]["id"] == 6 and problems(keyed) == []


# --- the commands ----------------------------------------------------------------------------------
KEY_ENV = {"CANISHARE_LOG_KEY": "k1:" + "s" * 40}


def test_cli_verify_exit_codes_and_a_checkpoint_from_an_export_file(run_cli, tmp_path):
    store = Storage(tmp_path / "cli.db", keyring=Keyring(KEY))
    now = SYSTEM_CLOCK.now()  # the CLI runs on the real clock
    for n in range(4):
        record(store, decision(0, created_at=now - timedelta(days=2, hours=n)))
    ok = run_cli("log", "verify", env=KEY_ENV)
    assert ok.returncode == 0 and "ok: 4 decisions" in ok.stdout and "keyed hash chain intact" in ok.stdout
    exported = tmp_path / "week.csv"
    done = run_cli("export", "--from", (now - timedelta(days=6)).date().isoformat(), "--out", str(exported),
                   env=KEY_ENV)
    assert done.returncode == 0, done.stderr
    assert "#checkpoint" in exported.read_text()
    assert run_cli("log", "verify", "--checkpoint", str(exported), env=KEY_ENV).returncode == 0
    raw(store, "DELETE FROM decisions WHERE id >= 3")
    gone = run_cli("log", "verify", "--checkpoint", str(exported), env=KEY_ENV)
    assert gone.returncode == 1 and "decision #4 was in the log at the checkpoint" in gone.stdout
    without_key = run_cli("log", "verify", "--no-key")  # e.g. a DSL holding a copy, not the key
    assert "note: no log key is set: only that rows link up" in without_key.stdout
    bad = run_cli("log", "verify", "--checkpoint", "nothing here", env=KEY_ENV)
    assert bad.returncode == 2 and "no canishare checkpoint" in bad.stderr


def test_cli_purge_is_logged_and_refused_on_a_broken_log(run_cli, tmp_path):
    store = Storage(tmp_path / "cli.db", keyring=Keyring(KEY))
    now = SYSTEM_CLOCK.now()
    record(store, decision(0, created_at=now - timedelta(days=4000)))
    record(store, decision(0, created_at=now))
    dry = run_cli("purge", "--dry-run", env=KEY_ENV)
    assert "would delete 1 decisions" in dry.stdout and len(decisions(store)) == 2
    done = run_cli("purge", env=KEY_ENV)
    assert "deleted 1 decisions" in done.stdout and "checkpoint: canishare-checkpoint v1" in done.stdout
    assert len(decisions(store)) == 1 and run_cli("log", "verify", env=KEY_ENV).returncode == 0
    with store.read() as tx:
        [audit] = tx.audit.rows("purge")
    assert "1 decisions" in audit["detail"]
    record(store, decision(0, created_at=now))
    raw(store, "UPDATE decisions SET created_at = '2010-01-01T00:00:00+00:00'")
    refused = run_cli("purge", env=KEY_ENV)
    assert refused.returncode == 1 and "not purging: the log does not verify" in refused.stderr


def test_cli_log_key_and_a_key_that_is_too_short(run_cli):
    made = run_cli("log", "key")
    assert made.returncode == 0 and Key.parse(made.stdout.strip()).secret
    short = run_cli("log", "verify", env={"CANISHARE_LOG_KEY": "tooshort"})
    assert short.returncode == 2 and "CANISHARE_LOG_KEY" in short.stderr and "tooshort" not in short.stderr
