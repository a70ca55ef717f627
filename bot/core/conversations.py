"""Channel-neutral checks: the engine plus storage, shared by every channel.

Channels (terminal, Slack, Teams) call this and only translate. Every change is written with
compare-and-set, so a double click, an old button or a retried delivery is a quiet no-op, and a
restart resumes from the stored state. The finished check, its escalation and the outbox row that
delivers the card are one transaction: an escalation cannot be lost between saving an answer
and posting a card, whatever fails after.

What is not a channel's business lives here too: the remembered profile (nation, organisation
type...), "start again" at an answer (a new check, keeping the finished one), and what follows a
recorded decision (the case reference reaches the DSL card).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from bot.core.clock import Clock
from bot.core.engine import (
    AnswerValue,
    ConversationState,
    Engine,
    FlowChanged,
    OutcomeStep,
    Step,
)
from bot.core.presentation import profile_line
from bot.core.privacy import Finding
from bot.core.record import RecordForm
from bot.dsl.desk import DslDesk
from bot.dsl.ports import EscalationNotice
from bot.storage import ConflictError, Decision, DuplicateDecision, Storage, Tx


class StaleAction(Exception):
    """The action was for an older version of the conversation: ignore it quietly."""


class UnknownConversation(Exception):
    """No stored conversation with that id for this person."""


class NotFinished(Exception):
    """Recording needs a check that has reached its answer."""


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


@dataclass
class Turn:
    """Where a check stands after an action: what to show next."""

    conversation_id: str
    version: int
    state: ConversationState
    step: Step
    notices: list[str] = field(default_factory=list)
    previous: Step | None = None  # the step the last action was taken on (for answer trails)
    profile: dict[str, str] = field(default_factory=dict)  # remembered answers this check used
    escalation: EscalationNotice | None = None  # set when this action raised one
    practice: bool = False
    owed: list[int | None] = field(default_factory=list)  # deliveries the channel sends after answering

    @property
    def finished(self) -> bool:
        return isinstance(self.step, OutcomeStep)

    @property
    def uses_profile(self) -> bool:
        return bool(self.profile) and all(self.state.answers.get(k) == v for k, v in self.profile.items())


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
    """Checks for one channel ("terminal", "slack", "teams").

    `desk` is the DSL desk when this channel has one; `practice` runs the same flows with nothing
    written to the decision log and no escalation sent (training days)."""

    def __init__(self, engine: Engine, storage: Storage, channel: str, clock: Clock, *,
                 desk: DslDesk | None = None, practice: bool = False):
        self.engine, self.storage, self.channel, self.clock = engine, storage, channel, clock
        self.desk = desk if desk is not None and desk.serves(channel) and not practice else None
        self.practice = practice
        self.profile_keys = list(engine.bundle.manifest.profile_questions)

    def refused(self, actor: str, target: str, reason: str) -> None:
        """Audit a request refused for who it came from (another workspace, a forged form)."""
        with self.storage.transaction() as tx:
            tx.audit.add(actor or "unknown", "refused", target, f"{reason} ({self.channel})")

    def first_time(self, key: str) -> bool:
        """True the first time `key` (a delivery id, a button press) is seen; a repeat is False."""
        with self.storage.transaction() as tx:
            return tx.housekeeping.first_delivery(key)

    # --- the remembered profile -------------------------------------------------------------
    def profile(self, user_id: str) -> dict[str, str]:
        with self.storage.read() as tx:
            return tx.profiles.load(self.channel, user_id)

    def profile_labels(self, profile: dict[str, str]) -> str:
        """ "England, NHS or health, nurse or midwife" for the "You are answering as" line."""
        return profile_line(self.engine.bundle, profile)

    def _remember(self, tx: Tx, user_id: str, state: ConversationState,
                  profile: dict[str, str]) -> dict[str, str]:
        """Save this check's profile answers; returns the profile as it now stands."""
        answers = {k: v for k, v in state.answers.items() if k in self.profile_keys and isinstance(v, str)}
        merged = {**profile, **answers}
        if answers and merged != profile:
            tx.profiles.save(self.channel, user_id, merged)
        return merged

    def forget_profile(self, user_id: str, conversation_id: str) -> Turn:
        """"Change" on the profile line: forget it and ask the profile questions again, in a
        fresh check. Only the person's own check can be changed."""
        with self.storage.transaction() as tx:
            if tx.conversations.load(self.channel, user_id, conversation_id) is None:
                raise UnknownConversation(conversation_id)
            tx.profiles.save(self.channel, user_id, {})
        return self.start(user_id)

    # --- starting and loading ---------------------------------------------------------------
    def start(self, user_id: str, *, conversation_id: str | None = None, flow_id: str | None = None,
              use_profile: bool = True) -> Turn:
        """A new check; remembered profile answers are filled in (and skipped)."""
        with self.storage.transaction() as tx:
            return self._new_check(tx, user_id, conversation_id, flow_id, use_profile)

    def _new_check(self, tx: Tx, user_id: str, conversation_id: str | None, flow_id: str | None,
                   use_profile: bool) -> Turn:
        profile = tx.profiles.load(self.channel, user_id) if use_profile else {}
        state = self.engine.start(flow_id)
        if profile:
            state = self.engine.answer_known(state, profile)
        conversation_id = conversation_id or uuid.uuid4().hex[:16]
        version = tx.conversations.save(self.channel, user_id, conversation_id,
                                        state.model_dump(mode="json"), 0, status=self._status(state))
        return Turn(conversation_id, version, state, self.engine.current(state), profile=profile,
                    practice=self.practice)

    def load(self, user_id: str, conversation_id: str) -> Turn:
        with self.storage.read() as tx:
            row = tx.conversations.load(self.channel, user_id, conversation_id)
            profile = tx.profiles.load(self.channel, user_id)
        if row is None:
            raise UnknownConversation(conversation_id)
        state = ConversationState.model_validate(row.state)
        try:
            step = self.engine.current(state)
        except FlowChanged:
            state, version = self._replay(user_id, conversation_id, state, row.version)
            return Turn(conversation_id, version, state, self.engine.current(state),
                        ["flows_changed"], profile=profile, practice=self.practice)
        return Turn(conversation_id, row.version, state, step, profile=profile, practice=self.practice)

    def current(self, user_id: str, conversation_id: str) -> Turn:
        """The check as saved, with the truth about its answer's escalation: what an old
        message is redrawn with, so a redraw that never happened costs the person nothing."""
        turn = self.load(user_id, conversation_id)
        if self.desk is not None and isinstance(turn.step, OutcomeStep):
            turn.escalation = self.desk.outcome_notice(self.channel, user_id, conversation_id)
        return turn

    def resume_latest(self, user_id: str, include_unrecorded: bool = False) -> Turn | None:
        """The person's latest unfinished check; with `include_unrecorded`, also one that reached
        its answer but whose decision was never recorded (golden rule 7), whichever is newer."""
        with self.storage.read() as tx:
            rows = [tx.conversations.latest(self.channel, user_id)]
            if include_unrecorded and not self.practice:
                finished = tx.conversations.latest(self.channel, user_id, status="finished")
                if finished and tx.decisions.id_for(self.channel, user_id, finished.conversation_id) is None:
                    rows.append(finished)
        found = [r for r in rows if r is not None]
        if not found:
            return None
        newest = max(found, key=lambda r: r.updated_at)
        return self.load(user_id, newest.conversation_id)

    def discard(self, user_id: str, conversation_id: str) -> None:
        """The person does not want to carry on with an unfinished check."""
        with self.storage.transaction() as tx:
            tx.conversations.set_status(self.channel, user_id, conversation_id, "discarded")

    def _replay(self, user_id: str, conversation_id: str, state: ConversationState,
                version: int) -> tuple[ConversationState, int]:
        """The flows changed mid-check: re-apply the earlier answers to the new flows and stop at
        the first question they no longer answer, so nobody is sent down a stale path."""
        fresh = self.engine.answer_known(self.engine.start(state.entry_flow), state.answers)
        with self.storage.transaction() as tx:
            new_version = tx.conversations.save(self.channel, user_id, conversation_id,
                                                fresh.model_dump(mode="json"), version,
                                                status=self._status(fresh))
        return fresh, new_version

    # --- acting -----------------------------------------------------------------------------
    def act(self, user_id: str, conversation_id: str, expected_version: int, action: Action, *,
            deliver: bool = True) -> Turn:
        """Apply an action if the check is still at `expected_version`.

        Raises `StaleAction` for an old or repeated action (the channel acknowledges quietly) and
        the engine's errors (`InvalidAnswer`, `StaleAnswer`, `NothingToUndo`) for the channel to
        explain. Remembered profile answers are filled in after an answer, never going back."""
        turn = self.load(user_id, conversation_id)
        if turn.version != expected_version:
            raise StaleAction(f"version {expected_version} is not current ({turn.version})")
        if isinstance(action, Answer):
            state = self.engine.answer(turn.state, action.node_id, action.value)
            if turn.profile:
                state = self.engine.answer_known(state, turn.profile)
        elif isinstance(action, Back):
            state = self.engine.back(turn.state)
        else:
            state = self.engine.restart(turn.state)
            if turn.profile:
                state = self.engine.answer_known(state, turn.profile)
        step = self.engine.current(state)
        raised, profile = None, turn.profile
        try:
            with self.storage.transaction() as tx:
                version = tx.conversations.save(self.channel, user_id, conversation_id,
                                                state.model_dump(mode="json"), expected_version,
                                                status=self._status(state))
                if isinstance(action, Answer):
                    profile = self._remember(tx, user_id, state, turn.profile)
                if self.desk is not None and isinstance(step, OutcomeStep) and isinstance(action, Answer):
                    raised = self.desk.raise_for_outcome(tx, self.channel, user_id, conversation_id,
                                                         step, state.answers)
        except ConflictError as exc:
            raise StaleAction(str(exc)) from exc
        result = Turn(conversation_id, version, state, step, turn.notices, previous=turn.step,
                      profile=profile, practice=self.practice)
        if raised is not None and self.desk is not None:
            if deliver:
                self.desk.deliver_now([raised.delivery_id, *raised.also])
                result.escalation = self.desk.notice(raised.escalation_id)
            else:  # answer first: the channel shows this, then calls `deliver_owed`
                result.owed = [raised.delivery_id, *raised.also]
                result.escalation = self.desk.notice(raised.escalation_id, sending=True)
        return result

    def deliver_owed(self, turn: Turn) -> Turn:
        """After the answer is on the person's screen: deliver what it owes (the card) and
        return the turn with the truth about it, for the channel to redraw. A hung or failing
        chat service delays only this second drawing, never the answer."""
        if self.desk is None or turn.escalation is None:
            return turn
        turn.escalation = self.desk.deliver_and_tell(turn.escalation.escalation_id, turn.owed)
        turn.owed = []
        return turn

    def restart(self, user_id: str, conversation_id: str, expected_version: int) -> Turn:
        """"Start again": in place mid-check; at an answer, a new check (the finished one, and
        the decision recorded for it, stay as they are)."""
        turn = self.load(user_id, conversation_id)
        if turn.version != expected_version:
            raise StaleAction(f"version {expected_version} is not current ({turn.version})")
        if not turn.finished:
            return self.act(user_id, conversation_id, expected_version, Restart())
        try:  # the finished check moves on a version, so a second press of its button is stale
            with self.storage.transaction() as tx:
                tx.conversations.save(self.channel, user_id, conversation_id,
                                      turn.state.model_dump(mode="json"), expected_version,
                                      status="finished")
                return self._new_check(tx, user_id, None, None, True)
        except ConflictError as exc:
            raise StaleAction(str(exc)) from exc

    def talk_to_dsl(self, user_id: str, conversation_id: str) -> EscalationNotice | None:
        """"Talk to a DSL now" at any step. None when this channel has no DSL desk."""
        if self.desk is None:
            return None
        turn = self.load(user_id, conversation_id)
        return self.desk.talk_now(self.channel, user_id, conversation_id, turn.version, turn.step,
                                  turn.state.answers)

    def _status(self, state: ConversationState) -> str:
        return "finished" if isinstance(self.engine.current(state), OutcomeStep) else "active"

    # --- recording --------------------------------------------------------------------------
    def record(self, user_id: str, conversation_id: str, form: RecordForm, *, deliver: bool = True) -> int:
        """Write the decision to the log (golden rule 7) and show its case reference on the
        check's DSL cards. Refuses free text that looks like an identifier; a second record for
        the same check raises `AlreadyRecorded` (the database holds one decision per check)."""
        findings = form.identifier_findings()
        if findings:
            raise IdentifiersFound(findings)
        if self.practice:
            raise NotFinished("practice checks are not recorded")
        turn = self.load(user_id, conversation_id)
        if not isinstance(turn.step, OutcomeStep):
            raise NotFinished("this check has not reached an answer yet")
        decision = self._decision(user_id, conversation_id, turn, form)
        updates: list[int | None] = []
        try:
            with self.storage.transaction(durable=True) as tx:
                decision_id = tx.decisions.record(decision)
                if self.desk is not None:
                    updates = self.desk.on_recorded(tx, self.channel, user_id, conversation_id,
                                                    form.case_reference)
        except DuplicateDecision as exc:
            raise AlreadyRecorded(exc.decision_id) from None
        if updates and self.desk is not None and deliver:
            self.desk.deliver_now(updates)
        return decision_id

    def deliver_for(self, user_id: str, conversation_id: str) -> None:
        """Send what a record left pending for this check's DSL cards (the case reference)."""
        if self.desk is not None:
            self.desk.deliver_for(self.desk.escalations_of(self.channel, user_id, conversation_id))

    def decision_for(self, user_id: str, conversation_id: str) -> int | None:
        with self.storage.read() as tx:
            return tx.decisions.id_for(self.channel, user_id, conversation_id)

    def recent_decisions(self, user_id: str, limit: int = 5) -> list[dict[str, Any]]:
        with self.storage.read() as tx:
            return list(tx.decisions.iter(user_id=user_id, limit=limit, newest_first=True))

    def _decision(self, user_id: str, conversation_id: str, turn: Turn, form: RecordForm) -> Decision:
        assert isinstance(turn.step, OutcomeStep)
        outcome = turn.step.outcome
        manifest = self.engine.bundle.manifest
        jurisdiction = turn.state.answers.get(manifest.jurisdiction_question or "", "")
        secondary = [{"outcome_id": s.id, "verdict": s.verdict.value}
                     for s in (getattr(turn.step, "secondary", ()) or ())]
        return Decision(
            created_at=self.clock.now(), channel=self.channel, user_id=user_id,
            conversation_id=conversation_id, flow_id=turn.step.flow, flow_version=turn.state.version,
            guidance_edition=manifest.guidance_edition,
            jurisdiction=jurisdiction if isinstance(jurisdiction, str) else "",
            answers=turn.state.answers, outcome_id=outcome.id, verdict=outcome.verdict.value,
            consent_position=outcome.consent_position.value, rules=outcome.rules,
            gateways=outcome.gateways, dsl_alert=outcome.dsl_alert.value, secondary=secondary,
            **form.model_dump())
