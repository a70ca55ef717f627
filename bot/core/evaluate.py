"""`canishare evaluate`: run a flow on a set of answers and say where it ends, as JSON.

Audits and tests run thousands of cases through this, so it reuses one loaded engine and never
touches storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.engine import Engine, EngineError, OutcomeStep, QuestionStep


def evaluate(engine: Engine, answers: Mapping[str, Any], flow_id: str | None = None) -> dict:
    """The outcome for `answers`, the first question still unanswered, or the first error."""
    if not isinstance(answers, Mapping):
        return {"status": "error", "question": None, "message": "answers must be a JSON object"}
    state = engine.start(flow_id)
    used: set[str] = set()
    while True:
        step = engine.current(state)
        if isinstance(step, OutcomeStep):
            outcome = step.outcome
            alert = outcome.dsl_alert.value
            unused = sorted(set(answers) - used)
            result = {
                "status": "outcome",
                "outcome_id": outcome.id,
                "verdict": outcome.verdict.value,
                "consent_position": outcome.consent_position.value,
                "rules": outcome.rules,
                "gateways": outcome.gateways,
                "dsl_alert": False if alert == "none" else alert,
                "path": [{"question": k, "answer": v} for k, v in state.path],
            }
            if unused:
                result["unused_answers"] = unused
            return result
        assert isinstance(step, QuestionStep)
        question = step.question
        if question.key not in answers:
            return {
                "status": "needs_answer",
                "question": question.key,
                "multi": question.multi,
                "choices": [{"id": c.id, "label": c.label} for c in question.choices],
            }
        try:
            state = engine.answer(state, question.id, answers[question.key])
        except EngineError as exc:
            return {"status": "error", "question": question.key, "message": str(exc)}
        used.add(question.key)


EXIT_CODES = {"outcome": 0, "needs_answer": 3, "error": 4}
