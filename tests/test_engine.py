"""The pure engine: start, answer, back, restart, outcomes with extras, specific errors."""

from __future__ import annotations

import pytest

from bot.core.engine import (
    ConversationState,
    Engine,
    FlowChanged,
    InvalidAnswer,
    NothingToUndo,
    OutcomeStep,
    QuestionStep,
    StaleAnswer,
)


def walk(engine: Engine, *answers):
    state = engine.start()
    for node, value in answers:
        state = engine.answer(state, node, value)
    return state


def test_start_shows_first_question(sample_engine):
    state = sample_engine.start()
    step = sample_engine.current(state)
    assert isinstance(step, QuestionStep)
    assert step.question.id == "nation" and step.number == 1
    assert state.version == sample_engine.bundle.version_hash


def test_answers_reach_an_outcome_with_extras(sample_engine):
    state = walk(sample_engine, ("nation", "england"), ("danger", "no"), ("kinds", ["sad"]),
                 ("consent_q", "no"))
    step = sample_engine.current(state)
    assert isinstance(step, OutcomeStep)
    assert step.outcome.id == "NOSHARE"
    assert step.outcome.next_steps == ["Keep it under review."]
    assert state.answers == {"nation": "england", "danger": "no", "kinds": ["sad"], "consent": "no"}


def test_when_depends_on_earlier_answers(sample_engine):
    wales = walk(sample_engine, ("nation", "wales"), ("danger", "no"), ("kinds", ["sad"]),
                 ("consent_q", "no"))
    assert sample_engine.current(wales).outcome.id == "ADVICE"
    assert sample_engine.current(wales).outcome.notes == [
        "Wales: follow the Wales Safeguarding Procedures."
    ]


def test_gateways_follow_answers_and_jurisdiction(sample_engine):
    england = walk(sample_engine, ("nation", "england"), ("danger", "no"), ("kinds", ["hurt"]))
    wales = walk(sample_engine, ("nation", "wales"), ("danger", "no"), ("kinds", ["hurt"]))
    assert sample_engine.current(england).outcome.gateways == ["england-only", "public-task"]
    assert sample_engine.current(wales).outcome.gateways == ["public-task"]


def test_goto_flow_hands_over(sample_engine):
    state = walk(sample_engine, ("nation", "england"), ("danger", "yes"))
    step = sample_engine.current(state)
    assert step.flow == "emergency" and step.outcome.verdict.value == "emergency_call_999"


def test_back_undoes_one_answer_and_restart_clears(sample_engine):
    state = walk(sample_engine, ("nation", "england"), ("danger", "no"))
    back = sample_engine.back(state)
    assert sample_engine.current(back).question.id == "danger"
    assert back.answers == {"nation": "england"}
    again = sample_engine.answer(back, "danger", "not_sure")
    assert sample_engine.current(again).outcome.id == "ADVICE"
    fresh = sample_engine.restart(again)
    assert fresh.answers == {} and sample_engine.current(fresh).question.id == "nation"
    with pytest.raises(NothingToUndo):
        sample_engine.back(fresh)


def test_back_across_a_flow_handover(sample_engine):
    state = walk(sample_engine, ("nation", "england"), ("danger", "yes"))
    back = sample_engine.back(state)
    assert sample_engine.current(back).question.id == "danger"


def test_invalid_answers_raise_specific_errors(sample_engine):
    state = sample_engine.start()
    with pytest.raises(InvalidAnswer, match="unknown answer 'france'"):
        sample_engine.answer(state, "nation", "france")
    with pytest.raises(StaleAnswer):
        sample_engine.answer(state, "danger", "no")
    state = walk(sample_engine, ("nation", "england"), ("danger", "no"))
    with pytest.raises(InvalidAnswer, match="cannot be combined"):
        sample_engine.answer(state, "kinds", ["none", "sad"])
    with pytest.raises(InvalidAnswer, match="at least one"):
        sample_engine.answer(state, "kinds", [])
    with pytest.raises(InvalidAnswer, match="not a list"):
        sample_engine.answer(walk(sample_engine), "nation", ["england"])
    done = sample_engine.answer(state, "kinds", ["hurt"])
    with pytest.raises(StaleAnswer, match="already reached"):
        sample_engine.answer(done, "kinds", ["hurt"])


def test_multi_answers_are_normalised(sample_engine):
    state = walk(sample_engine, ("nation", "england"), ("danger", "no"), ("kinds", ["sad", "hurt", "sad"]))
    assert state.answers["kinds"] == ["hurt", "sad"]


def test_state_round_trips_through_json(sample_engine):
    state = walk(sample_engine, ("nation", "wales"), ("danger", "no"))
    again = ConversationState.model_validate_json(state.model_dump_json())
    assert again == state
    assert sample_engine.current(again).question.id == "kinds"


def test_changed_flows_are_detected(sample_engine):
    state = sample_engine.start().model_copy(update={"version": "0" * 12})
    with pytest.raises(FlowChanged):
        sample_engine.current(state)


def test_answer_known_skips_profile_questions(sample_engine):
    state = sample_engine.answer_known(sample_engine.start(), {"nation": "wales", "consent": "yes"})
    assert sample_engine.current(state).question.id == "danger"
