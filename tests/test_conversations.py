"""Engine + storage: resume after restart, stale and duplicate actions, edits mid-check,
recording decisions without identifiers."""

from __future__ import annotations

import pytest

from bot.analysis.load import load_bundle
from bot.core.conversations import (
    Answer,
    Back,
    Conversations,
    IdentifiersFound,
    NotFinished,
    Restart,
    StaleAction,
)
from bot.core.engine import Engine
from bot.core.record import RecordForm
from bot.storage import Storage
from tests.conftest import SAMPLE_FLOWS, conversations, decisions


def test_resume_after_process_restart(sample_engine, tmp_path, clock):
    db = tmp_path / "c.db"
    first = conversations(sample_engine, Storage(db, clock))
    turn = first.start("u1")
    turn = first.act("u1", turn.conversation_id, turn.version, Answer("nation", "wales"))
    turn = first.act("u1", turn.conversation_id, turn.version, Answer("danger", "no"))
    # a new process: new engine, new storage object, same file
    second = conversations(Engine(load_bundle(SAMPLE_FLOWS)), Storage(db, clock))
    resumed = second.resume_latest("u1")
    assert resumed is not None
    assert resumed.step.question.id == "kinds"
    assert resumed.state.answers == {"nation": "wales", "danger": "no"}
    assert resumed.version == turn.version


def test_duplicate_and_stale_actions_change_nothing(sample_engine, storage):
    conv = conversations(sample_engine, storage)
    turn = conv.start("u1")
    after = conv.act("u1", turn.conversation_id, turn.version, Answer("nation", "england"))
    with pytest.raises(StaleAction):  # the same click delivered twice
        conv.act("u1", turn.conversation_id, turn.version, Answer("nation", "england"))
    with pytest.raises(StaleAction):  # an old button from an earlier message
        conv.act("u1", turn.conversation_id, turn.version, Back())
    now = conv.load("u1", turn.conversation_id)
    assert now.version == after.version and now.state == after.state


def test_back_and_restart_are_persisted(sample_engine, storage):
    conv = conversations(sample_engine, storage)
    turn = conv.start("u1")
    turn = conv.act("u1", turn.conversation_id, turn.version, Answer("nation", "england"))
    turn = conv.act("u1", turn.conversation_id, turn.version, Back())
    assert conv.load("u1", turn.conversation_id).step.question.id == "nation"
    turn = conv.act("u1", turn.conversation_id, turn.version, Answer("nation", "wales"))
    turn = conv.act("u1", turn.conversation_id, turn.version, Restart())
    assert conv.load("u1", turn.conversation_id).state.answers == {}


def test_flow_edited_mid_conversation_replays_answers(flows_copy, tmp_path, clock):
    folder = flows_copy()
    db = Storage(tmp_path / "edit.db", clock)
    conv = conversations(Engine(load_bundle(folder)), db)
    turn = conv.start("u1")
    for node, value in (("nation", "wales"), ("danger", "no")):
        turn = conv.act("u1", turn.conversation_id, turn.version, Answer(node, value))
    # a safeguarding lead rewords a question while this check is open
    text = (folder / "start_here.yaml").read_text()
    (folder / "start_here.yaml").write_text(text.replace("What kind of concern?", "What is the concern?"))
    edited = conversations(Engine(load_bundle(folder)), db)
    resumed = edited.load("u1", turn.conversation_id)
    assert resumed.notices == ["flows_changed"]
    assert resumed.step.question.text.startswith("What is the concern?")
    assert resumed.state.answers == {"nation": "wales", "danger": "no"}
    assert resumed.state.version == edited.engine.bundle.version_hash
    # a click made on the old message (old version) is stale, not applied
    with pytest.raises(StaleAction):
        edited.act("u1", turn.conversation_id, turn.version, Answer("kinds", ["hurt"]))
    after = edited.act("u1", turn.conversation_id, resumed.version, Answer("kinds", ["hurt"]))
    assert after.step.outcome.id == "REFER"


def test_flow_edit_that_invalidates_an_answer_stops_there(flows_copy, tmp_path, clock):
    folder = flows_copy()
    db = Storage(tmp_path / "edit2.db", clock)
    conv = conversations(Engine(load_bundle(folder)), db)
    turn = conv.start("u1")
    turn = conv.act("u1", turn.conversation_id, turn.version, Answer("nation", "wales"))
    turn = conv.act("u1", turn.conversation_id, turn.version, Answer("danger", "not_sure"))
    text = (folder / "start_here.yaml").read_text()
    (folder / "start_here.yaml").write_text(text.replace("{id: not_sure,", "{id: unsure,"))
    edited = conversations(Engine(load_bundle(folder)), db)
    resumed = edited.load("u1", turn.conversation_id)
    assert resumed.step.question.id == "danger"
    assert resumed.state.answers == {"nation": "wales"}


def finish(conv: Conversations, user: str = "u1"):
    turn = conv.start(user)
    for node, value in (("nation", "england"), ("danger", "no"), ("kinds", ["hurt"])):
        turn = conv.act(user, turn.conversation_id, turn.version, Answer(node, value))
    return turn


def test_record_writes_ids_and_recorded_fields(sample_engine, storage):
    conv = conversations(sample_engine, storage)
    turn = finish(conv)
    decision_id = conv.record("u1", turn.conversation_id, RecordForm(
        decision="shared", what="summary of concern", with_whom="social worker, children's social care",
        purpose="child protection referral", reasons="risk of significant harm", case_reference="CS-1042"))
    [row] = decisions(storage)
    assert row["id"] == decision_id
    assert row["outcome_id"] == "REFER" and row["verdict"] == "refer_to_childrens_social_care"
    assert row["answers"] == {"nation": "england", "danger": "no", "kinds": ["hurt"]}
    assert row["flow_version"] == sample_engine.bundle.version_hash
    assert row["guidance_edition"] == "Sample edition (tests only)"
    assert row["jurisdiction"] == "england" and row["dsl_alert"] == "urgent"
    assert row["gateways"] == ["england-only", "public-task"]
    assert row["case_reference"] == "CS-1042" and row["decision"] == "shared"


def test_record_refuses_identifiers(sample_engine, storage):
    conv = conversations(sample_engine, storage)
    turn = finish(conv)
    with pytest.raises(IdentifiersFound) as info:
        conv.record("u1", turn.conversation_id, RecordForm(
            decision="shared", what="told DSL about Jane Smith", reasons="call 07700 900123"))
    assert set(info.value.findings) == {"what", "reasons"}
    assert decisions(storage) == []


def test_record_before_an_outcome_is_refused(sample_engine, storage):
    conv = conversations(sample_engine, storage)
    turn = conv.start("u1")
    with pytest.raises(NotFinished):
        conv.record("u1", turn.conversation_id, RecordForm(decision="deferred"))
