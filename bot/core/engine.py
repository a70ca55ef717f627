"""The flow engine: a pure state machine over a `FlowBundle`. No I/O, no clock, no channels.

A conversation is a small immutable `ConversationState`; every operation returns a new one, so
any channel can persist it between messages and resume after a crash. Errors are specific so
that adapters can turn them into a friendly message without guessing.

Guidance edition 2 (C0) adds three run-wide rules, all data in `conventions.yaml`:
- implied answers: a question whose answer is already known (answered on another route, or
  implied by another answer) is skipped, so one fact is asked once and decided once;
- record-then-refer: a request or record that reveals an unreferred risk finishes its own
  questions, its outcome is *held*, and the run continues into the referral questions;
- primary and secondary outcomes: the most protective raised outcome is the answer, the
  others are shown under it ("Also:").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.flows.law import Law
from bot.flows.loader import FlowBundle
from bot.flows.schema import (
    URGENCY_ORDER,
    ActionItem,
    ConsentPosition,
    DslAlert,
    Outcome,
    Question,
    Target,
    Urgency,
    Verdict,
    default_urgency,
)

AnswerValue = str | list[str]
NATIONS = frozenset({"england", "wales", "scotland", "northern_ireland"})
ALERT_ORDER = {DslAlert.none: 0, DslAlert.routine: 1, DslAlert.urgent: 2}
_TERM = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
_CITE = "cite_"
ENGLAND_ONLY_PREFIX = "If the child is in England: "


class LawNoteView(BaseModel):
    """A note about the law under an answer (E3 `notes[]`): `coming` = passed but not in force,
    never a duty (T5); `info` = in force, for information."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["coming", "info"]
    id: str
    title: str
    text: str
    source: str
_MAX_AUTOMATIC_MOVES = 100  # implied answers and hand-overs per answer; the checker forbids cycles


class Position(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    flow: str
    node: str


class Held(BaseModel):
    """An outcome held by record-then-refer: shown as a secondary under the referral.

    `at` is the number of answered questions when it was held, so going back past that
    answer releases it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    outcome: str
    flow: str
    at: int


class ConversationState(BaseModel):
    """Everything needed to resume a check: serialisable, small, no free text."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    entry_flow: str
    version: str
    position: Position
    answers: dict[str, AnswerValue] = Field(default_factory=dict)
    history: list[Position] = Field(default_factory=list)
    held: list[Held] = Field(default_factory=list)

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
    """An outcome with its conditional extras applied for one set of answers.

    Fields added by guidance edition 2 (the presentation shows `headline` first as the one-line
    action, then the rest on demand):
    - `verdict_label`: the verdict in the nation's own words ("Refer to social work services").
    - `because`: one or two sentences naming the exception or condition the person's answers
      triggered (W2), e.g. why the family is not told first. Never a generic list.
    - `actions`: the ordered steps, each `who` does `what` `by_when` (W6); `headline` is the
      first of them in one line of at most 120 characters (W5).
    - `protect_identities`: the golden rule 5 lines that fit this case (W9), present whenever
      the outcome carries GR5.
    - `profession_notes`: notes for the person's own profession only (W3: GMC for doctors, NMC
      for nurses and midwives...). Empty when the profession is unknown or has none.
    - `raised_by`: why this outcome is part of the answer: `reached` (the path ended here),
      `held` (record-then-refer kept it while the referral was decided) or `added` (an answer
      adds it, e.g. private fostering).
    """

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
    verdict_label: str = ""
    because: list[str] = Field(default_factory=list)
    actions: list[ActionItem] = Field(default_factory=list)
    protect_identities: list[str] = Field(default_factory=list)
    profession_notes: list[str] = Field(default_factory=list)
    raised_by: Literal["reached", "held", "added"] = "reached"
    # Edition 3 (C0 T1-T9, U1-U5): how soon, the person's own duties, the law's date, and notes
    # of law passed but not yet in force.
    urgency: Urgency = Urgency.routine
    personal_duties: list[str] = Field(default_factory=list)
    law_as_at: date = date.max
    law_notes: list[LawNoteView] = Field(default_factory=list)


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
    """Where a run ends: the primary outcome (the most protective raised one, C0 S1) and the
    secondary outcomes shown under it, ordered by precedence (empty when there are none)."""

    flow: str
    outcome: ResolvedOutcome
    secondary: tuple[ResolvedOutcome, ...] = ()

    @property
    def outcomes(self) -> tuple[ResolvedOutcome, ...]:
        return (self.outcome, *self.secondary)


Step = QuestionStep | OutcomeStep


def _add(items: list, more: list) -> None:
    items.extend(item for item in more if item not in items)


def _texts_by_answer(tables: Mapping[str, Mapping[str, str]], facts: Mapping[str, AnswerValue]) -> list[str]:
    """The texts the answers on a path choose (`{key: {answer: text}}` in conventions), once
    each, in table order."""
    texts: list[str] = []
    for key, table in tables.items():
        value = facts.get(key)
        for answer in value if isinstance(value, list) else [value]:
            text = table.get(answer) if isinstance(answer, str) else None
            if text and text not in texts:
                texts.append(text)
    return texts


class Engine:
    """Runs flows from a bundle. Stateless itself: all state is in `ConversationState`.

    It evaluates the law at one date (`law`, C0 T1-T3): dated branches, extras, gateways, notes
    and citations apply only while in force. The engine reads no clock: the conversation hands
    it the day (`at`); without one it uses the manifest's `checks_at` (path checks, reviews)."""

    def __init__(self, bundle: FlowBundle, law: Law | None = None):
        self.bundle = bundle
        self.conventions = bundle.conventions
        self.law = law or Law(on=bundle.manifest.checks_at or date.max)
        self._rank = {v: i for i, v in enumerate(self.conventions.precedence)}
        self._implying_keys = {a.question for rule in self.conventions.implications
                               for a in rule.when.atoms()}

    def at(self, on: date) -> Engine:
        """The same engine evaluating the law as at `on` (cheap: shares the bundle)."""
        if on == self.law.on:
            return self
        other = copy.copy(self)
        other.law = Law(on=on, commencements=self.law.commencements)
        return other

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
            nation = self.nation(self.facts(state.answers))
            return QuestionStep(state.position.flow, self.localise_question(node, nation),
                                len(state.history) + 1)
        if isinstance(node, Outcome):
            return self.conclude(state.position, state.answers, state.held)
        raise DeadEnd(f"no node {state.position.node!r} in flow {state.position.flow!r}")

    # --- facts: answers plus what they imply ---------------------------------------------
    def facts(self, answers: Mapping[str, AnswerValue]) -> dict[str, AnswerValue]:
        """The answers plus every answer they imply (C0 'implied by'); an answer given always
        wins over an implication, and the first implication that applies wins."""
        facts = dict(answers)
        for rule in self.conventions.implications:
            if rule.when.holds(answers):
                for key, value in rule.implies.items():
                    facts.setdefault(key, value)
        return facts

    def facts_after(self, facts: Mapping[str, AnswerValue], answers: Mapping[str, AnswerValue],
                    key: str) -> dict[str, AnswerValue]:
        """`facts(answers)` when `answers` adds `key` to the answers `facts` came from: cheap
        when no implication reads `key`."""
        if key in self._implying_keys:
            return self.facts(answers)
        return {**facts, key: answers[key]}

    def nation(self, facts: Mapping[str, AnswerValue]) -> str:
        value = facts.get(self.bundle.manifest.jurisdiction_question or "")
        return value if isinstance(value, str) else "default"

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
        question = self.bundle.node(state.position.flow, node_id)
        assert isinstance(question, Question)
        value = self.validate_answer(question, value)
        answers = {**state.answers, question.key: value}
        history = [*state.history, state.position]
        position, held = self.advance(
            state.position.flow, question, value, answers, tuple(state.held), len(history)
        )
        return state.model_copy(
            update={"answers": answers, "history": history, "position": position,
                    "held": list(held)}
        )

    def advance(
        self, flow_id: str, question: Question, value: AnswerValue,
        answers: Mapping[str, AnswerValue], held: tuple[Held, ...], answered: int,
        facts: Mapping[str, AnswerValue] | None = None,
    ) -> tuple[Position, tuple[Held, ...]]:
        """Where an answer leads: its transition, then every automatic move after it (questions
        already answered or implied are skipped; record-then-refer may hold an outcome)."""
        facts = self.facts(answers) if facts is None else facts
        target, _ = self.route(question, value, facts)
        return self.settle(self.resolve_target(flow_id, target), answers, held, answered, facts)

    def settle(
        self, position: Position, answers: Mapping[str, AnswerValue], held: tuple[Held, ...],
        answered: int, facts: Mapping[str, AnswerValue] | None = None,
    ) -> tuple[Position, tuple[Held, ...]]:
        facts = self.facts(answers) if facts is None else facts
        for _ in range(_MAX_AUTOMATIC_MOVES):
            node = self.bundle.node(position.flow, position.node)
            if isinstance(node, Question):
                known = facts.get(node.key)
                if known is None or not self._offers(node, known):
                    return position, held
                target, _ = self.route(node, known, facts)
                position = self.resolve_target(position.flow, target)
                continue
            if isinstance(node, Outcome) and not held:
                handover = self._handover(position, node, answers, facts)
                if handover is not None:
                    held = (Held(outcome=node.id, flow=position.flow, at=answered),)
                    position = handover
                    continue
            return position, held
        raise DeadEnd(f"more than {_MAX_AUTOMATIC_MOVES} automatic moves from {position}")

    def _handover(
        self, position: Position, outcome: Outcome, answers: Mapping[str, AnswerValue],
        facts: Mapping[str, AnswerValue],
    ) -> Position | None:
        """The record-then-refer target for an outcome just reached, if one applies: not when
        the referral questions have already been answered on this path, nor to itself."""
        for rule in self.conventions.record_then_refer:
            if not rule.when.holds(facts):
                continue
            target = self.resolve_target(position.flow, rule)
            node = self.bundle.node(target.flow, target.node)
            if isinstance(node, Question) and node.key in answers:
                return None
            if isinstance(node, Outcome) and node.id == outcome.id:
                return None
            return target
        return None

    @staticmethod
    def _offers(question: Question, value: AnswerValue) -> bool:
        ids = {c.id for c in question.choices}
        if question.multi:
            return isinstance(value, list) and bool(value) and set(value) <= ids
        return isinstance(value, str) and value in ids

    def answer_known(
        self, state: ConversationState, known: Mapping[str, AnswerValue]
    ) -> ConversationState:
        """Answer, in order, every current question whose key is in `known` (profile, replay).
        Retired ids are first mapped to their current ones (`upgrade_answers`). Stops before
        the first known answer that no longer fits, keeping the progress so far."""
        known = self.upgrade_answers(known)
        while True:
            step = self.current(state)
            if not isinstance(step, QuestionStep) or step.question.key not in known:
                return state
            try:
                state = self.answer(state, step.question.id, known[step.question.key])
            except InvalidAnswer:
                return state

    def upgrade_answers(self, answers: Mapping[str, AnswerValue]) -> dict[str, AnswerValue]:
        """Map answers saved under retired ids (manifest `retired`) to today's ids. A question
        retired without a replacement, or an answer whose meaning split in two, is dropped,
        so the current question is asked again rather than guessed."""
        upgraded = dict(answers)
        for retired in self.bundle.manifest.retired:
            if retired.key not in upgraded:
                continue
            value = upgraded[retired.key]
            if retired.answer is None:
                upgraded.pop(retired.key)
                if retired.now_key and retired.now_key not in upgraded:
                    upgraded[retired.now_key] = value
                continue
            values = value if isinstance(value, list) else [value]
            if retired.answer not in values:
                continue
            if retired.now_answer is None:
                upgraded.pop(retired.key)
            elif isinstance(value, list):
                upgraded[retired.key] = [retired.now_answer if v == retired.answer else v
                                         for v in value]
            else:
                upgraded[retired.key] = retired.now_answer
        return upgraded

    def back(self, state: ConversationState) -> ConversationState:
        self.check_version(state)
        if not state.history:
            raise NothingToUndo("this is the first question")
        previous = state.history[-1]
        node = self.bundle.node(previous.flow, previous.node)
        answers = dict(state.answers)
        if isinstance(node, Question):
            answers.pop(node.key, None)
        history = state.history[:-1]
        held = [h for h in state.held if h.at <= len(history)]
        return state.model_copy(
            update={"answers": answers, "history": history, "position": previous, "held": held}
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

    def route(
        self, question: Question, value: AnswerValue, answers: Mapping[str, AnswerValue]
    ) -> tuple[Target, str]:
        """Pick the transition: first matching branch, else the default. Returns a label too,
        so the checker can report branches that no path ever takes. `answers` are the facts."""
        if question.multi:
            branches, default, prefix = question.branches, question, ""
        else:
            choice = question.choice(str(value))
            assert choice is not None
            branches, default, prefix = choice.branches, choice, f"{choice.id}:"
        for index, branch in enumerate(branches):
            if branch.dated and not self.law.applies(branch):
                continue  # T2: a branch whose law is not in force is skipped as if absent
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

    # --- outcomes ----------------------------------------------------------------------------
    def conclude(
        self, position: Position, answers: Mapping[str, AnswerValue], held: list[Held] | tuple
    ) -> OutcomeStep:
        """The primary and secondary outcomes of a finished run (C0 S1-S4)."""
        facts = self.facts(answers)
        node = self.bundle.node(position.flow, position.node)
        assert isinstance(node, Outcome)
        raised: list[ResolvedOutcome] = [self._resolve(node, facts, position.flow)]
        for item in held:
            kept = self.bundle.node(item.flow, item.outcome)
            if isinstance(kept, Outcome):
                raised.append(self._resolve(kept, facts, item.flow, "held"))
        follow: set[str] = set()
        for rule in self.conventions.raises:
            outcome = self.bundle.shared_outcome(rule.outcome)
            if outcome is not None and rule.when.holds(facts):
                raised.append(self._resolve(outcome, facts, "", "added"))
                if rule.consent == "follow_primary":
                    follow.add(outcome.id)
        unique: dict[str, ResolvedOutcome] = {}
        for outcome in raised:
            unique.setdefault(outcome.id, outcome)
        ordered = sorted(unique.values(), key=lambda o: self._rank.get(o.verdict, 99))
        primary, secondary = self._dont_tell_first(facts, ordered[0], ordered[1:])
        secondary = [s.model_copy(update={"consent_position": primary.consent_position})
                     if s.id in follow and s.raised_by == "added" else s for s in secondary]
        alert = max((o.dsl_alert for o in ordered), key=ALERT_ORDER.__getitem__)
        urgency = max((o.urgency for o in ordered), key=URGENCY_ORDER.__getitem__)  # S4
        duties: list[str] = []
        law_notes: list[LawNoteView] = []
        for outcome in ordered:  # U5: a duty stands whichever outcome raised it
            _add(duties, outcome.personal_duties)
            _add(law_notes, outcome.law_notes)
        primary = primary.model_copy(update={"dsl_alert": alert, "urgency": urgency,
                                             "personal_duties": duties, "law_notes": law_notes})
        return OutcomeStep(position.flow, primary, tuple(secondary))

    def _dont_tell_first(
        self, facts: Mapping[str, AnswerValue], primary: ResolvedOutcome,
        secondary: list[ResolvedOutcome],
    ) -> tuple[ResolvedOutcome, list[ResolvedOutcome]]:
        """C0 S3: when anything on the path makes telling the family unsafe, nobody is told to
        inform the family first, and the primary's consent position says so. A held outcome
        never sets the referral's consent position (RR)."""
        rule = self.conventions.dont_tell_family
        if rule is None:
            return primary, secondary
        unsafe = ConsentPosition.not_sought_unsafe
        triggered = rule.when.holds(facts) or any(
            o.consent_position == unsafe for o in (primary, *secondary) if o.raised_by != "held"
        )
        if not triggered:
            return primary, secondary
        nation = self.nation(facts)
        text = self.localise(rule.tell_family, nation)

        def quiet(outcome: ResolvedOutcome, is_primary: bool) -> ResolvedOutcome:
            update: dict = {}
            if outcome.consent_position != unsafe:
                update["tell_family"] = text
                if is_primary or outcome.consent_position not in rule.keep_consent:
                    update["consent_position"] = unsafe
            return outcome.model_copy(update=update) if update else outcome

        return quiet(primary, True), [quiet(s, False) for s in secondary]

    def resolve(
        self, outcome: Outcome, answers: Mapping[str, AnswerValue], flow: str = "",
        raised_by: Literal["reached", "held", "added"] = "reached",
    ) -> ResolvedOutcome:
        """Apply the outcome's extras (lawful basis by org type, nation notes...) to answers,
        then the nation filter (N1, G1-G2), the W2/W3/W9 texts and the nation's own terms."""
        return self._resolve(outcome, self.facts(answers), flow, raised_by)

    def _resolve(
        self, outcome: Outcome, facts: Mapping[str, AnswerValue], flow: str,
        raised_by: Literal["reached", "held", "added"] = "reached",
    ) -> ResolvedOutcome:
        rules, gateways = list(outcome.rules), list(outcome.gateways)
        consent, alert = outcome.consent_position, outcome.dsl_alert
        notes: list[str] = []
        steps, record = list(outcome.next_steps), list(outcome.record)
        tell_family, headline = outcome.tell_family, outcome.headline
        actions, because_extra = list(outcome.actions), []
        urgency = outcome.urgency
        duties, note_ids = list(outcome.personal_duties), []
        removed: list[str] = []
        for extra in self.bundle.extras_for(outcome):
            if not extra.when.holds(facts):
                continue
            if extra.dated and not self.law.applies(extra):
                continue
            _add(rules, extra.add_rules)
            _add(gateways, extra.add_gateways)
            _add(removed, extra.remove_gateways)
            _add(notes, extra.add_notes)
            _add(steps, extra.add_next_steps)
            _add(record, extra.add_record)
            _add(actions, extra.add_actions)
            _add(because_extra, extra.add_because)
            consent = extra.set_consent_position or consent
            alert = extra.set_dsl_alert or alert
            tell_family = extra.set_tell_family or tell_family
            headline = extra.set_headline or headline
            urgency = extra.set_urgency or urgency
            _add(duties, extra.add_personal_duties)
            _add(note_ids, extra.add_law_notes)
        _add(notes, _texts_by_answer(self.conventions.notes_by_answer, facts))
        nation = self.nation(facts)
        gateways = self._nation_gateways([g for g in gateways if g not in removed], facts)
        gateways, law_notes = self._gateways_in_force(gateways, nation)
        law_notes += self._law_notes(note_ids, nation)
        return ResolvedOutcome(
            id=outcome.id,
            flow=flow,
            verdict=outcome.verdict,
            consent_position=consent,
            headline=self.localise(headline, nation),
            summary=self.localise(outcome.summary, nation) if outcome.summary else None,
            rules=rules,
            gateways=gateways,
            what_to_share=self.localise(outcome.what_to_share, nation),
            share_checklist=list(outcome.share_checklist),
            tell_family=self.localise(tell_family, nation),
            record=record,
            dsl_alert=alert,
            next_steps=[self.localise(s, nation) for s in steps],
            notes=[self.localise(n, nation) for n in notes],
            verdict_label=self.localise(
                self.bundle.manifest.verdict_labels.get(outcome.verdict, outcome.verdict.value),
                nation),
            because=[self.localise(b, nation) for b in self._because(outcome, facts) + because_extra],
            actions=[self._localise_action(a, nation) for a in actions],
            protect_identities=[self.localise(line, nation)
                                for line in self._identity_lines(rules, facts)],
            profession_notes=[self.localise(n, nation) for n in self._profession_notes(facts)],
            raised_by=raised_by,
            urgency=urgency or default_urgency(outcome.verdict, alert),
            personal_duties=duties,
            law_as_at=self.law.on,
            law_notes=law_notes,
        )

    def _gateways_in_force(self, gateways: list[str], nation: str) -> tuple[list[str], list[LawNoteView]]:
        """T2/T5: a gateway out of force at the decision date is dropped; a `coming` one (not
        yet commenced) becomes a note, never a gateway."""
        kept, notes = [], []
        for gid in gateways:
            gateway = self.bundle.gateways.get(gid)
            if gateway is None or self.law.applies(gateway, gid):
                kept.append(gid)
            elif self.law.is_coming(gateway, gid):
                notes.append(LawNoteView(kind="coming", id=gid, title=gateway.title,
                                         text=self.localise(gateway.permits, nation), source=gateway.source))
        return kept, notes

    def _law_notes(self, ids: list[str], nation: str) -> list[LawNoteView]:
        """Catalogue notes: `coming` while not in force, `info` while in force; a note about law
        of some nations only is never shown elsewhere, and with the nation unknown it says
        which nation it is about (T8)."""
        shown = []
        for nid in ids:
            note = self.bundle.law_notes.get(nid)
            if note is None:
                continue
            if note.kind == "coming" and not self.law.is_coming(note, nid):
                continue
            if note.kind == "info" and not self.law.applies(note, nid):
                continue
            text = self.localise(note.text, nation)
            if nation in NATIONS and nation not in note.jurisdictions:
                continue
            if nation not in NATIONS and not NATIONS <= set(note.jurisdictions):
                if note.jurisdictions != ["england"]:
                    continue
                text = ENGLAND_ONLY_PREFIX + text
            shown.append(LawNoteView(kind=note.kind, id=nid, title=note.title, text=text,
                                     source=note.source))
        return shown

    def _localise_action(self, action: ActionItem, nation: str) -> ActionItem:
        """The action in the nation's terms (the same item when it names no term)."""
        who, what, by_when = (self.localise(t, nation) for t in (action.who, action.what, action.by_when))
        if (who, what, by_when) == (action.who, action.what, action.by_when):
            return action
        return action.model_copy(update={"who": who, "what": what, "by_when": by_when})

    def _nation_gateways(self, gateways: list[str], facts: Mapping[str, AnswerValue]) -> list[str]:
        """G1: a nation-specific gateway only where it applies; G2: an unknown nation gets the
        UK-wide ones only; a gateway that `requires_one_of` (legal obligation) only with one
        of those duties still attached."""
        catalogue = self.bundle.gateways
        nation = facts.get(self.bundle.manifest.jurisdiction_question or "")
        if isinstance(nation, str):
            gateways = [
                g for g in gateways if g not in catalogue
                or (nation in catalogue[g].jurisdictions if nation in NATIONS
                    else NATIONS <= set(catalogue[g].jurisdictions))
            ]
        return [
            g for g in gateways
            if g not in catalogue or not catalogue[g].requires_one_of
            or any(d in gateways for d in catalogue[g].requires_one_of)
        ]

    def _because(self, outcome: Outcome, facts: Mapping[str, AnswerValue]) -> list[str]:
        """W2: the exception the answers triggered, from the per-answer table, else the
        outcome's own sentence. At most two, most specific first."""
        lines: list[str] = []
        for entry in outcome.because_from:
            key, _, only = entry.partition("=")
            table = self.conventions.because.get(key, {})
            value = facts.get(key)
            for answer in value if isinstance(value, list) else [value]:
                if not isinstance(answer, str) or (only and answer != only):
                    continue
                text = table.get(answer)
                if text and text not in lines:
                    lines.append(text)
        if lines:
            return lines[:2]
        return [outcome.because] if outcome.because else []

    def _identity_lines(self, rules: list[str], facts: Mapping[str, AnswerValue]) -> list[str]:
        """W9: the golden rule 5 line that fits each trigger on the path (only with GR5)."""
        if "GR5" not in rules:
            return []
        lines = _texts_by_answer(self.conventions.identity_lines, facts)
        if not lines and self.conventions.identity_default:
            lines.append(self.conventions.identity_default)
        return lines

    def _profession_notes(self, facts: Mapping[str, AnswerValue]) -> list[str]:
        profession = facts.get(self.conventions.profession_question or "")
        return list(self.conventions.profession_notes.get(profession, [])) if isinstance(
            profession, str) else []

    # --- nation terms (W4) -----------------------------------------------------------------
    def localise(self, text: str, nation: str) -> str:
        """Replace `{term}` with the nation's own term (`{Term}` capitalised)."""
        terms = self.bundle.manifest.terms
        citations = self.bundle.manifest.citations
        if not (terms or citations) or "{" not in text:
            return text

        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith(_CITE) and name[len(_CITE):] in citations:
                return self.citation(name[len(_CITE):]) or match.group(0)
            options = terms.get(name.lower())
            if options is None:
                return match.group(0)
            value = options.get(nation, options.get("default", match.group(0)))
            if "{" + _CITE in value:  # a term naming a dated citation ("{cite_working_together}")
                value = _TERM.sub(lambda m: self.citation(m.group(1)[len(_CITE):]) or m.group(0)
                                  if m.group(1).startswith(_CITE) else m.group(0), value)
            return value[:1].upper() + value[1:] if name[0].isupper() else value

        return _TERM.sub(swap, text)

    def citation(self, key: str) -> str | None:
        """T7: the last edition of a cited document in force at the decision date."""
        all_editions = self.bundle.manifest.citations.get(key, [])
        editions = [c for c in all_editions if self.law.applies(c)]
        if not editions:  # before the first dated edition: the earliest one listed
            return all_editions[0].text if all_editions else None
        return editions[-1].text

    def localise_question(self, question: Question, nation: str) -> Question:
        if not (self.bundle.manifest.terms or self.bundle.manifest.citations):
            return question
        return question.model_copy(update={
            "text": self.localise(question.text, nation),
            "help": self.localise(question.help, nation) if question.help else None,
            "choices": [c.model_copy(update={
                "label": self.localise(c.label, nation),
                "help": self.localise(c.help, nation) if c.help else None,
            }) for c in question.choices],
        })
