"""Issue 11: in `canishare chat` a new user reaches each outcome edition 2 added in a handful of
taps, and can back out of it. Driven through stdin as a person types (numbers for answers), with
the real flows, from a fresh database (so the profile questions are asked too)."""

from __future__ import annotations

import pytest

from bot.core.engine import Engine, OutcomeStep, QuestionStep
from tests.test_guidance_outcomes import TABLE

NEW = [f"O{n}" for n in range(40, 53)]
# answers after the profile questions (asked once, then remembered), the danger question included:
# most take 3 to 9; the longest, a parent asking for what a competent young person told you in
# confidence (O47, the CP-core), takes 13
HANDFUL = 13


def keys_for(engine: Engine, answers: dict) -> tuple[list[str], str, str]:
    """The numbers a person types to give `answers`, the last question's text and the verdict."""
    state, keys, last = engine.start(), [], ""
    while isinstance(step := engine.current(state), QuestionStep):
        question = step.question
        value = answers[question.key]
        ids = [c.id for c in question.choices]
        chosen = value if isinstance(value, list) else [value]
        keys.append(",".join(str(ids.index(v) + 1) for v in chosen))
        last = question.text
        state = engine.answer(state, question.id, value)
    assert isinstance(step, OutcomeStep)
    return keys, last, step.outcome.verdict_label


@pytest.mark.parametrize("outcome_id", NEW)
def test_a_new_user_reaches_each_new_outcome_and_can_back_out(run_cli, real_engine, outcome_id):
    keys, last_question, verdict = keys_for(real_engine, TABLE[outcome_id])
    profile = [k for k in real_engine.bundle.manifest.profile_questions if k in TABLE[outcome_id]]
    assert len(keys) - len(profile) <= HANDFUL, f"{outcome_id} takes {len(keys)} taps"
    result = run_cli("chat", "--user", f"new-{outcome_id}", input="\n".join([*keys, "b", "q"]) + "\n")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert verdict.upper() in out, (outcome_id, verdict)
    after = out[out.index(verdict.upper()):]
    # b at the verdict goes back to the last question, asked again with its answers
    assert " ".join(last_question.split()) in after
    assert "Saved: decision" not in out and "Traceback" not in result.stderr
