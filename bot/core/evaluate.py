"""`canishare evaluate`: run a flow on a set of answers and say where it ends, as JSON.

Audits and tests run thousands of cases through this, so it reuses one loaded engine and never
touches storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.engine import Engine, EngineError, OutcomeStep, QuestionStep, ResolvedOutcome


def _alert(outcome: ResolvedOutcome) -> str | bool:
    value = outcome.dsl_alert.value
    return False if value == "none" else value


def evaluate(engine: Engine, answers: Mapping[str, Any], flow_id: str | None = None) -> dict:
    """The outcome for `answers`, the first question still unanswered, or the first error.

    Answers saved under retired ids (an old log, an old test) are mapped to today's ids first;
    the result lists what was mapped under `retired_answers`."""
    if not isinstance(answers, Mapping):
        return {"status": "error", "question": None, "message": "answers must be a JSON object"}
    upgraded = engine.upgrade_answers(answers)
    state = engine.start(flow_id)
    used: set[str] = set()
    while True:
        step = engine.current(state)
        if isinstance(step, OutcomeStep):
            outcome = step.outcome
            unused = sorted(set(upgraded) - used)
            result = {
                "status": "outcome",
                "outcome_id": outcome.id,
                "verdict": outcome.verdict.value,
                "consent_position": outcome.consent_position.value,
                "rules": outcome.rules,
                "gateways": outcome.gateways,
                "dsl_alert": _alert(outcome),
                "urgency": outcome.urgency.value,
                "personal_duties": outcome.personal_duties,
                "law_as_at": outcome.law_as_at.isoformat(),
                "notes": [n.model_dump() for n in outcome.law_notes],
                "secondary": [
                    {"outcome_id": s.id, "verdict": s.verdict.value,
                     "consent_position": s.consent_position.value, "dsl_alert": _alert(s)}
                    for s in step.secondary
                ],
                "path": [{"question": k, "answer": v} for k, v in state.path],
            }
            if unused:
                result["unused_answers"] = unused
            retired = sorted(k for k in answers if upgraded.get(k) != answers[k])
            if retired:
                result["retired_answers"] = retired
            return result
        assert isinstance(step, QuestionStep)
        question = step.question
        if question.key not in upgraded:
            return {
                "status": "needs_answer",
                "question": question.key,
                "multi": question.multi,
                "choices": [{"id": c.id, "label": c.label} for c in question.choices],
            }
        try:
            state = engine.answer(state, question.id, upgraded[question.key])
        except EngineError as exc:
            return {"status": "error", "question": question.key, "message": str(exc)}
        used.add(question.key)


EXIT_CODES = {"outcome": 0, "needs_answer": 3, "error": 4}
