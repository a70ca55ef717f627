"""Channel-neutral conversations: the engine plus storage, shared by every adapter.

Adapters (terminal, Slack, Teams) call this and only translate. Every change is written with
compare-and-set, so a double click, an old button or a retried delivery is a quiet no-op, and a
process restart resumes from the stored state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, field_validator

from bot.core.engine import (
    AnswerValue,
    ConversationState,
    Engine,
    FlowChanged,
    OutcomeStep,
    Step,
)
from bot.core.privacy import Finding, scan
from bot.storage import ConflictError, Decision, DecisionChoice, Storage

FREE_TEXT_FIELDS = ("what", "with_whom", "purpose", "reasons", "case_reference")


class StaleAction(Exception):
    """The action was for an older version of the conversation: ignore it quietly."""


class UnknownConversation(Exception):
    """No stored conversation with that id for this person."""


class IdentifiersFound(Exception):
    """Free text looks like it holds personal identifiers; `findings` maps field -> findings."""

    def __init__(self, findings: dict[str, list[Finding]]):
        self.findings = findings
        super().__init__(", ".join(findings))


class AlreadyRecorded(Exception):
    """This check's decision is already in the log; `decision_id` says which row."""

    def __init__(self, decision_id: int):
        self.decision_id = decision_id
        super().__init__(f"already recorded as decision #{decision_id}")


class RecordForm(BaseModel):
    """What the person records about their decision (golden rule 7)."""

    decision: DecisionChoice
    what: str = Field("", max_length=1000)
    with_whom: str = Field("", max_length=300)
    purpose: str = Field("", max_length=1000)
    reasons: str = Field("", max_length=2000)
    case_reference: str = Field("", max_length=60)

    @field_validator(*FREE_TEXT_FIELDS)
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def identifier_findings(self) -> dict[str, list[Finding]]:
        found = {name: scan(getattr(self, name)) for name in FREE_TEXT_FIELDS}
        return {name: items for name, items in found.items() if items}


@dataclass
class Turn:
    """Where a conversation stands after an action: what to show next."""

    conversation_id: str
    version: int
    state: ConversationState
    step: Step
    notices: list[str] = field(default_factory=list)
    previous: Step | None = None  # the step the last action was taken on (for answer trails)

    @property
    def finished(self) -> bool:
        return isinstance(self.step, OutcomeStep)


@dataclass(frozen=True)
class Answer:
    node_id: str
    value: AnswerValue


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Restart:
    pass


Action = Answer | Back | Restart


class Conversations:
    def __init__(self, engine: Engine, storage: Storage, channel: str):
        self.engine, self.storage, self.channel = engine, storage, channel

    # --- starting and loading ---------------------------------------------------------------
    def start(
        self, user_id: str, known: dict[str, AnswerValue] | None = None,
        conversation_id: str | None = None, flow_id: str | None = None,
    ) -> Turn:
        """A new check. `known` answers (a remembered profile) are filled in automatically."""
        state = self.engine.start(flow_id)
        if known:
            state = self.engine.answer_known(state, known)
        conversation_id = conversation_id or uuid.uuid4().hex[:16]
        version = self.storage.save_conversation(
            self.channel, user_id, conversation_id, state.model_dump(mode="json"), 0,
            status=self._status(state),
        )
        return Turn(conversation_id, version, state, self.engine.current(state))

    def load(self, user_id: str, conversation_id: str) -> Turn:
        row = self.storage.load_conversation(self.channel, user_id, conversation_id)
        if row is None:
            raise UnknownConversation(conversation_id)
        state = ConversationState.model_validate(row.state)
        notices: list[str] = []
        try:
            step = self.engine.current(state)
        except FlowChanged:
            state, version = self._replay(user_id, conversation_id, state, row.version)
            return Turn(conversation_id, version, state, self.engine.current(state),
                        ["flows_changed"])
        return Turn(conversation_id, row.version, state, step, notices)

    def resume_latest(self, user_id: str) -> Turn | None:
        row = self.storage.latest_active_conversation(self.channel, user_id)
        return self.load(user_id, row.conversation_id) if row else None

    def _replay(
        self, user_id: str, conversation_id: str, state: ConversationState, version: int
    ) -> tuple[ConversationState, int]:
        """The flows changed mid-check: re-apply the earlier answers to the new flows and stop
        at the first question they no longer answer, so nobody is sent down a stale path."""
        fresh = self.engine.answer_known(self.engine.start(state.entry_flow), state.answers)
        new_version = self.storage.save_conversation(
            self.channel, user_id, conversation_id, fresh.model_dump(mode="json"), version,
            status=self._status(fresh),
        )
        return fresh, new_version

    # --- acting ---------------------------------------------------------------------------
    def act(
        self, user_id: str, conversation_id: str, expected_version: int, action: Action,
        known: dict[str, AnswerValue] | None = None,
    ) -> Turn:
        """Apply an action if the conversation is still at `expected_version`.

        Raises `StaleAction` for an old or repeated action (the adapter acknowledges quietly),
        and the engine's errors (`InvalidAnswer`, `StaleAnswer`, `NothingToUndo`) for the
        adapter to explain. `known` answers (a remembered profile) are filled in after an
        answer, so a repeat check skips them."""
        turn = self.load(user_id, conversation_id)
        if turn.version != expected_version:
            raise StaleAction(f"version {expected_version} is not current ({turn.version})")
        if isinstance(action, Answer):
            state = self.engine.answer(turn.state, action.node_id, action.value)
            if known:  # remembered profile answers are skipped going forward, never going back
                state = self.engine.answer_known(state, known)
        elif isinstance(action, Back):
            state = self.engine.back(turn.state)
        else:
            state = self.engine.restart(turn.state)
        try:
            version = self.storage.save_conversation(
                self.channel, user_id, conversation_id, state.model_dump(mode="json"),
                expected_version, status=self._status(state),
            )
        except ConflictError as exc:
            raise StaleAction(str(exc)) from exc
        return Turn(conversation_id, version, state, self.engine.current(state), turn.notices,
                    previous=turn.step)

    def _status(self, state: ConversationState) -> str:
        return "finished" if isinstance(self.engine.current(state), OutcomeStep) else "active"

    # --- recording ------------------------------------------------------------------------
    def record(
        self, user_id: str, conversation_id: str, form: RecordForm, when=None
    ) -> int:
        """Write the decision to the log. Refuses free text that looks like an identifier, and
        returns the existing id if this check was already recorded (a retried submission)."""
        findings = form.identifier_findings()
        if findings:
            raise IdentifiersFound(findings)
        existing = self.storage.decision_id_for(self.channel, user_id, conversation_id)
        if existing is not None:
            raise AlreadyRecorded(existing)
        turn = self.load(user_id, conversation_id)
        if not isinstance(turn.step, OutcomeStep):
            raise StaleAction("this check has not reached an answer yet")
        outcome = turn.step.outcome
        manifest = self.engine.bundle.manifest
        jurisdiction = turn.state.answers.get(manifest.jurisdiction_question or "", "")
        decision = Decision(
            channel=self.channel,
            user_id=user_id,
            conversation_id=conversation_id,
            flow_id=turn.step.flow,
            flow_version=turn.state.version,
            guidance_edition=manifest.guidance_edition,
            jurisdiction=jurisdiction if isinstance(jurisdiction, str) else "",
            answers=turn.state.answers,
            outcome_id=outcome.id,
            verdict=outcome.verdict.value,
            consent_position=outcome.consent_position.value,
            rules=outcome.rules,
            gateways=outcome.gateways,
            dsl_alert=outcome.dsl_alert.value,
            **form.model_dump(),
            **({"created_at": when} if when else {}),
        )
        return self.storage.record_decision(decision)
