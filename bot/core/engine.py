"""The flow engine: a pure state machine over a `FlowBundle`. No I/O, no clock, no channels.

A conversation is a small immutable `ConversationState`; every operation returns a new one, so
any channel can persist it between messages and resume after a crash. Errors are specific so
that adapters can turn them into a friendly message without guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from bot.flows.loader import FlowBundle
from bot.flows.schema import (
    ConsentPosition,
    DslAlert,
    Outcome,
    Question,
    Target,
    Verdict,
)

AnswerValue = str | list[str]


class Position(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    flow: str
    node: str


class ConversationState(BaseModel):
    """Everything needed to resume a check: serialisable, small, no free text."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    entry_flow: str
    version: str
    position: Position
    answers: dict[str, AnswerValue] = Field(default_factory=dict)
    history: list[Position] = Field(default_factory=list)

    @property
    def path(self) -> list[tuple[str, AnswerValue]]:
        """The questions answered so far, in order, with their answers."""
        return [(key, self.answers[key]) for key in self.asked_keys if key in self.answers]

    @property
    def asked_keys(self) -> list[str]:
        return list(self.answers)


class EngineError(Exception):
    """Base class: something an adapter should explain to the person, not crash on."""


class FlowChanged(EngineError):
    """The flows were edited after this conversation began."""


class StaleAnswer(EngineError):
    """An answer to a question that is not the current one (an old button, a double click)."""


class InvalidAnswer(EngineError):
    """An answer id the current question does not offer, or a wrong multi-select."""


class NothingToUndo(EngineError):
    """`back` at the first question."""


class DeadEnd(EngineError):
    """No transition applies; the checker prevents this for shipped flows."""


class ResolvedOutcome(BaseModel):
    """An outcome with its conditional extras applied for one set of answers."""

    model_config = ConfigDict(frozen=True)
    id: str
    flow: str
    verdict: Verdict
    consent_position: ConsentPosition
    headline: str
    summary: str | None
    rules: list[str]
    gateways: list[str]
    what_to_share: str
    share_checklist: list[str]
    tell_family: str
    record: list[str]
    dsl_alert: DslAlert
    next_steps: list[str]
    notes: list[str]


@dataclass(frozen=True)
class QuestionStep:
    flow: str
    question: Question
    number: int

    @property
    def multi(self) -> bool:
        return self.question.multi


@dataclass(frozen=True)
class OutcomeStep:
    flow: str
    outcome: ResolvedOutcome


Step = QuestionStep | OutcomeStep


def _add(items: list[str], more: list[str]) -> None:
    items.extend(item for item in more if item not in items)


class Engine:
    """Runs flows from a bundle. Stateless itself: all state is in `ConversationState`."""

    def __init__(self, bundle: FlowBundle):
        self.bundle = bundle

    # --- starting and reading ---------------------------------------------------------------
    def start(self, flow_id: str | None = None) -> ConversationState:
        flow_id = flow_id or self.bundle.entry
        flow = self.bundle.flows.get(flow_id)
        if flow is None:
            raise InvalidAnswer(f"unknown flow {flow_id!r}")
        return ConversationState(
            entry_flow=flow_id,
            version=self.bundle.version_hash,
            position=Position(flow=flow_id, node=flow.start),
        )

    def check_version(self, state: ConversationState) -> None:
        if state.version != self.bundle.version_hash:
            raise FlowChanged(
                f"flows changed since this check began ({state.version} -> "
                f"{self.bundle.version_hash})"
            )

    def current(self, state: ConversationState) -> Step:
        self.check_version(state)
        node = self.bundle.node(state.position.flow, state.position.node)
        if isinstance(node, Question):
            return QuestionStep(state.position.flow, node, len(state.history) + 1)
        if isinstance(node, Outcome):
            return OutcomeStep(
                state.position.flow, self.resolve(node, state.answers, state.position.flow)
            )
        raise DeadEnd(f"no node {state.position.node!r} in flow {state.position.flow!r}")

    # --- moving ------------------------------------------------------------------------------
    def answer(
        self, state: ConversationState, node_id: str, value: AnswerValue
    ) -> ConversationState:
        """Answer the current question. `node_id` guards against stale buttons."""
        step = self.current(state)
        if not isinstance(step, QuestionStep):
            raise StaleAnswer("this check has already reached its answer")
        if step.question.id != node_id:
            raise StaleAnswer(
                f"answer for {node_id!r} but the current question is {step.question.id!r}"
            )
        value = self.validate_answer(step.question, value)
        answers = {**state.answers, step.question.key: value}
        target, _ = self.route(step.question, value, answers)
        return state.model_copy(
            update={
                "answers": answers,
                "history": [*state.history, state.position],
                "position": self.resolve_target(state.position.flow, target),
            }
        )

    def answer_known(
        self, state: ConversationState, known: Mapping[str, AnswerValue]
    ) -> ConversationState:
        """Answer, in order, every current question whose key is in `known` (profile, replay).
        Stops before the first known answer that no longer fits, keeping the progress so far."""
        while True:
            step = self.current(state)
            if not isinstance(step, QuestionStep) or step.question.key not in known:
                return state
            try:
                state = self.answer(state, step.question.id, known[step.question.key])
            except InvalidAnswer:
                return state

    def back(self, state: ConversationState) -> ConversationState:
        self.check_version(state)
        if not state.history:
            raise NothingToUndo("this is the first question")
        previous = state.history[-1]
        node = self.bundle.node(previous.flow, previous.node)
        answers = dict(state.answers)
        if isinstance(node, Question):
            answers.pop(node.key, None)
        return state.model_copy(
            update={"answers": answers, "history": state.history[:-1], "position": previous}
        )

    def restart(self, state: ConversationState) -> ConversationState:
        return self.start(state.entry_flow)

    # --- rules of movement (shared with path enumeration and checks) -------------------------
    @staticmethod
    def validate_answer(question: Question, value: AnswerValue) -> AnswerValue:
        valid = [choice.id for choice in question.choices]
        if question.multi:
            values = [value] if isinstance(value, str) else list(value)
            if not values:
                raise InvalidAnswer(f"{question.key}: choose at least one option")
            unknown = [v for v in values if v not in valid]
            if unknown:
                raise InvalidAnswer(
                    f"{question.key}: unknown answer {unknown[0]!r} (expected: {', '.join(valid)})"
                )
            exclusive = [c.id for c in question.choices if c.exclusive and c.id in values]
            if exclusive and len(values) > 1:
                raise InvalidAnswer(f"{question.key}: {exclusive[0]!r} cannot be combined")
            return sorted(set(values), key=valid.index)
        if not isinstance(value, str):
            raise InvalidAnswer(f"{question.key}: choose one option, not a list")
        if value not in valid:
            raise InvalidAnswer(
                f"{question.key}: unknown answer {value!r} (expected: {', '.join(valid)})"
            )
        return value

    @staticmethod
    def route(
        question: Question, value: AnswerValue, answers: Mapping[str, AnswerValue]
    ) -> tuple[Target, str]:
        """Pick the transition: first matching branch, else the default. Returns a label too,
        so the checker can report branches that no path ever takes."""
        if question.multi:
            branches, default, prefix = question.branches, question, ""
        else:
            choice = question.choice(str(value))
            assert choice is not None
            branches, default, prefix = choice.branches, choice, f"{choice.id}:"
        for index, branch in enumerate(branches):
            if branch.when.holds(answers):
                return branch, f"{prefix}branch{index}"
        if not default.is_set:
            raise DeadEnd(f"{question.id}: no branch applies and there is no default `next`")
        return default, f"{prefix}next"

    def resolve_target(self, flow_id: str, target: Target) -> Position:
        if target.goto_flow:
            flow = self.bundle.flows[target.goto_flow]
            return Position(flow=flow.id, node=target.at or flow.start)
        assert target.next is not None
        return Position(flow=flow_id, node=target.next)

    def resolve(
        self, outcome: Outcome, answers: Mapping[str, AnswerValue], flow: str = ""
    ) -> ResolvedOutcome:
        """Apply the outcome's extras (lawful basis by org type, nation notes...) to answers."""
        rules, gateways = list(outcome.rules), list(outcome.gateways)
        consent, alert = outcome.consent_position, outcome.dsl_alert
        notes: list[str] = []
        steps, record = list(outcome.next_steps), list(outcome.record)
        tell_family = outcome.tell_family
        removed: list[str] = []
        for extra in self.bundle.extras_for(outcome):
            if not extra.when.holds(answers):
                continue
            _add(rules, extra.add_rules)
            _add(gateways, extra.add_gateways)
            _add(removed, extra.remove_gateways)
            _add(notes, extra.add_notes)
            _add(steps, extra.add_next_steps)
            _add(record, extra.add_record)
            consent = extra.set_consent_position or consent
            alert = extra.set_dsl_alert or alert
            tell_family = extra.set_tell_family or tell_family
        gateways = [g for g in gateways if g not in removed]
        jurisdiction = answers.get(self.bundle.manifest.jurisdiction_question or "")
        if isinstance(jurisdiction, str):
            gateways = [
                g for g in gateways
                if g not in self.bundle.gateways
                or jurisdiction in self.bundle.gateways[g].jurisdictions
            ]
        return ResolvedOutcome(
            id=outcome.id,
            flow=flow,
            verdict=outcome.verdict,
            consent_position=consent,
            headline=outcome.headline,
            summary=outcome.summary,
            rules=rules,
            gateways=gateways,
            what_to_share=outcome.what_to_share,
            share_checklist=list(outcome.share_checklist),
            tell_family=tell_family,
            record=record,
            dsl_alert=alert,
            next_steps=steps,
            notes=notes,
        )
