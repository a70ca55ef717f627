"""Edition 2 retired ids (manifest `retired`): a check saved under edition 1 still resumes, with
`c_harm_level` read as `harm_level` and the answers whose meaning split (`c_exception`, the one
`fgm` answer) asked again rather than guessed."""

from __future__ import annotations

from bot.analysis.load import load_bundle
from bot.core.conversations import Answer
from bot.core.engine import Engine, QuestionStep
from bot.storage import Storage
from tests.conftest import ROOT, conversations

EDITION1 = ROOT / "tests" / "fixtures" / "edition1_flows"
PROFILE = {"immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body",
           "profession": "teacher"}
MAIN = {**PROFILE, "situation": "share_concern", "subject": "child", "recipient": "childrens_social_care",
        "info_kind": "observations_disclosures"}


def current_key(engine: Engine, state) -> str:
    step = engine.current(state)
    assert isinstance(step, QuestionStep), step
    return step.question.key


def test_an_old_harm_answer_is_read_as_the_new_one(real_engine):
    state = real_engine.answer_known(real_engine.start(), {**MAIN, "c_harm_level": "significant_harm"})
    assert state.answers["harm_level"] == "significant_harm" and "c_harm_level" not in state.answers
    assert current_key(real_engine, state) == "concern_type"  # the next question after harm_level


def test_a_split_answer_is_asked_again_not_guessed(real_engine):
    known = {**MAIN, "harm_level": "significant_harm", "concern_type": ["fgm"], "c_exception": "yes"}
    state = real_engine.answer_known(real_engine.start(), known)
    assert current_key(real_engine, state) == "concern_type"
    assert "concern_type" not in state.answers and "c_exception" not in state.answers
    # a multi-select holding the split answer is asked again whole: its other ticks alone could
    # route past the FGM questions
    assert real_engine.upgrade_answers({"concern_type": ["fgm", "neglect"], "harm_level": "welfare_need"}) == {
        "harm_level": "welfare_need"}
    assert real_engine.upgrade_answers({"concern_type": ["neglect"]}) == {"concern_type": ["neglect"]}


def test_a_check_saved_under_edition_1_resumes_under_edition_2(real_engine, tmp_path):
    old_engine = Engine(load_bundle(EDITION1))
    assert old_engine.bundle.version_hash != real_engine.bundle.version_hash
    storage = Storage(tmp_path / "retired.db")
    old = conversations(old_engine, storage, "terminal")
    turn = old.start("amy")
    for key in ("immediate_danger", "jurisdiction", "org_type", "situation", "c_harm_level"):
        value = {**MAIN, "situation": "consent_question", "c_harm_level": "welfare_need"}[key]
        turn = old.act("amy", turn.conversation_id, turn.version, Answer(turn.step.question.id, value))
    assert isinstance(turn.step, QuestionStep) and turn.step.question.key == "c_child_age_band"

    new = conversations(real_engine, storage, "terminal")
    resumed = new.load("amy", turn.conversation_id)
    assert "flows_changed" in resumed.notices
    assert resumed.state.version == real_engine.bundle.version_hash
    # the answers still valid are kept; edition 2 asks the person's role next (a new question)
    assert {k: resumed.state.answers[k] for k in ("immediate_danger", "jurisdiction", "org_type")} == {
        "immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body"}
    assert isinstance(resumed.step, QuestionStep) and resumed.step.question.key == "profession"
    again = new.act("amy", resumed.conversation_id, resumed.version, Answer(resumed.step.question.id, "teacher"))
    assert isinstance(again.step, QuestionStep)  # carries on under edition 2, no error
