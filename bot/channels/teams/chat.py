"""The personal chat: checks, the outcome and the record dialog, over the channel-neutral core.

It only translates: an activity becomes a `Conversations` call, a `Turn` becomes an Adaptive
Card. No flow, record or escalation logic lives here. Every method is synchronous (it runs on a
worker thread) and returns a `Reply` that `bot/channels/teams/app.py` sends.

Repeats are quiet: buttons carry the check's version, so a retried or stale invoke changes
nothing and is answered with the card as it stands now; buttons that start something (Start a
check, Start a new check, change my profile) act once per card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from microsoft_teams.api import MessageActivityInput

from bot.channels.teams import cards
from bot.channels.teams.cards import Alert, Verb
from bot.channels.teams.incoming import Incoming
from bot.channels.teams.server import card_message, invoke_message
from bot.core.answer import short_answer
from bot.core.conversations import (
    Action,
    AlreadyRecorded,
    Answer,
    Back,
    Conversations,
    IdentifiersFound,
    NotFinished,
    StaleAction,
    Turn,
    UnknownConversation,
)
from bot.core.engine import EngineError, OutcomeStep, QuestionStep
from bot.core.presentation import answer_label, decision_label, profile_line, question_text, step_view
from bot.core.privacy import describe, scan
from bot.core.record import FREE_TEXT_FIELDS, RecordErrors, parse_record
from bot.dsl.ports import EscalationNotice
from bot.storage import StorageError

CHANNEL = "teams"
log = logging.getLogger("canishare.teams")
START_WORDS = ("start", "restart", "new", "start again")
HELP_WORDS = ("help", "?")
FLOWS_CHANGED = "The guidance was updated since you began: your answers were checked again against it."
GONE = "That check is no longer here: type start to begin a new one."
NO_DESK = ("No DSL team is set up for canishare yet: please contact your DSL or safeguarding lead "
           "directly. If a child is in immediate danger, call 999.")
RECORDED = "Recorded as decision #{id}. Keep your full record in your organisation's case system."


@dataclass
class Reply:
    """What to answer and send for one activity.

    `answer`: the invoke's answer (a replacement card, a message, a dialog). `card`: the card that
    now stands in the clicked message, written there for every device too. `send`: new messages
    in this conversation. `late`: what to say in the chat instead of `answer` if the work took
    longer than Teams waits (a card is written into its message anyway)."""

    answer: dict[str, Any] | None = None
    card: cards.Card | None = None
    send: list[MessageActivityInput] = field(default_factory=list)
    late: str = ""
    after: Callable[[], cards.Card] | None = None  # run once answered (the card post): its card follows




class TeamsChat:
    def __init__(self, conversations: Conversations):
        self.conv = conversations
        self.bundle = conversations.engine.bundle

    # --- rendering -----------------------------------------------------------------------------
    def render(self, turn: Turn, *, escalation: EscalationNotice | None = None, no_desk: bool = False,
               error: str | None = None) -> cards.Card:
        """The card for where the check stands. `escalation`: what "Talk to a DSL now" just did
        (the desk's truthful notice); `no_desk`: it was pressed but no DSL team is set up."""
        notice = FLOWS_CHANGED if "flows_changed" in turn.notices else None
        escalation = escalation or turn.escalation
        if isinstance(turn.step, OutcomeStep):
            view = step_view(self.bundle, turn.step)
            answer = short_answer(view, escalation, practice=turn.practice)
            if no_desk:
                answer = replace(answer, dsl=NO_DESK, delivered=False)
            return cards.outcome_card(answer, view, turn.conversation_id, turn.version, notice=notice,
                                      answers=self.answers(turn))
        alert = (Alert(False, NO_DESK) if no_desk else
                 Alert(escalation.delivered, escalation.text()) if escalation is not None else None)
        assert isinstance(turn.step, QuestionStep)
        profile = profile_line(self.bundle, turn.profile) if turn.uses_profile else None
        return cards.question_card(turn.step, turn.conversation_id, turn.version,
                                   can_go_back=bool(turn.state.history), profile_line=profile,
                                   notice=notice, error=error, alert=alert, answers=self.answers(turn))

    def answers(self, turn: Turn) -> list[tuple[str, str]]:
        """(question, answer) in the words the person saw, for "Your answers"."""
        pairs = []
        for key, value in turn.state.answers.items():
            values = value if isinstance(value, list) else [value]
            pairs.append((question_text(self.bundle, key, turn.state.answers),
                          ", ".join(answer_label(self.bundle, key, str(v), turn.state.answers)
                                    for v in values)))
        return pairs

    @staticmethod
    def preview(turn: Turn) -> str:
        """The notification preview of a check message: the question or the headline."""
        if isinstance(turn.step, OutcomeStep):
            return turn.step.outcome.headline
        return turn.step.question.text

    def message(self, turn: Turn, **render: Any) -> MessageActivityInput:
        return card_message(self.render(turn, **render), self.preview(turn))

    def replace(self, turn: Turn, **render: Any) -> Reply:
        """Answer the click with the card as it now stands, in the same message."""
        built = self.render(turn, **render)
        return Reply(answer=cards.replace_card(built), card=built)

    # --- messages -------------------------------------------------------------------------------
    def welcome(self) -> Reply:
        return Reply(send=[card_message(cards.welcome_card(), "canishare: can I share this?")])

    def on_message(self, inc: Incoming) -> Reply:
        """Any message starts a check or carries on the last one; `help`, `restart`, `log`."""
        word = inc.text.strip().lower()
        if word in HELP_WORDS:
            return self.welcome()
        if word == "log":
            return Reply(send=[card_message(self.recent(inc.user), "Your recent decisions")])
        reply = Reply()
        findings = scan(inc.text)
        if findings:
            reply.send.append(card_message(cards.text_card(
                f"Please don't type identifying details here: that looked like {describe(findings)}. "
                "Just use the buttons."), "Please don't type identifying details here"))
        turn = None if word in START_WORDS else self.conv.resume_latest(inc.user)
        turn = turn or self.conv.start(inc.user)
        reply.send.append(self.message(turn))
        return reply

    def recent(self, user: str) -> cards.Card:
        rows = self.conv.recent_decisions(user, limit=5)
        lines = []
        for r in rows:
            ref = f" · ref {r['case_reference']}" if r.get("case_reference") else ""
            verdict = decision_label(self.bundle, r) if r.get("verdict") else "a check"
            lines.append(f"#{r['id']} {r['created_at'][:16].replace('T', ' ')} · "
                         f"{verdict} · {r['decision'].replace('_', ' ')}{ref}")
        return cards.text_card("\n".join(lines) or "None yet.", title="Your recent decisions")

    def start_card(self, user: str) -> MessageActivityInput:
        """A new check as a new message (the channel's `start`, sent to the personal chat)."""
        return self.message(self.conv.start(user))

    # --- card actions ----------------------------------------------------------------------------
    def on_action(self, inc: Incoming) -> Reply:
        if not inc.personal:
            return Reply(answer=invoke_message("Checks happen in your personal chat with canishare."))
        user, data, verb = inc.user, inc.data, inc.verb
        if verb == Verb.START_CHECK:
            return self._start_from_card(inc)
        conversation = str(data.get("c") or "")
        try:
            version = int(data.get("v", -1))
        except (TypeError, ValueError):
            version = -1
        if not conversation:
            return Reply(answer=invoke_message(GONE))
        try:
            if verb == Verb.ANSWER:
                return self._act(user, conversation, version, Answer(str(data.get("n")), str(data.get("a"))))
            if verb == Verb.MULTI_CONTINUE:
                values = cards.multi_values(data.get(cards.MULTI_INPUT_ID))
                if not values:
                    return self.replace(self.conv.load(user, conversation),
                                        error="Tick at least one box, then press Continue.")
                return self._act(user, conversation, version, Answer(str(data.get("n")), values))
            if verb == Verb.BACK:
                return self._act(user, conversation, version, Back())
            if verb == Verb.RESTART:
                return self._restart(inc, conversation, version)
            if verb == Verb.PROFILE_CHANGE:
                if not self.conv.first_time(f"teams:profile:{user}:{conversation}:{version}"):
                    return self._latest(user)
                return self.replace(self.conv.forget_profile(user, conversation))
            if verb == Verb.TALK_TO_DSL:
                notice = self.conv.talk_to_dsl(user, conversation)
                return self.replace(self.conv.load(user, conversation), escalation=notice,
                                    no_desk=notice is None)
        except UnknownConversation:
            return Reply(answer=invoke_message(GONE))
        return Reply(answer=invoke_message("That button is not one canishare knows: type help."))

    def _act(self, user: str, conversation: str, version: int, action: Action) -> Reply:
        try:
            turn = self.conv.act(user, conversation, version, action, deliver=False)
            reply = self.replace(turn)
            if turn.owed:  # answer first; the card goes out after the invoke is answered
                reply.after = lambda: self.render(self.conv.deliver_owed(turn))
            return reply
        except StaleAction:  # a repeat, or a card whose redraw never happened: show where it stands
            return self.replace(self.conv.current(user, conversation))
        except EngineError as exc:
            turn = self.conv.load(user, conversation)
            error = ("Sorry, that answer did not fit this question. Please choose again."
                     if turn.version == version else None)
            log.info("refused answer in %s: %s", conversation, exc)
            return self.replace(turn, error=error)

    def _restart(self, inc: Incoming, conversation: str, version: int) -> Reply:
        """Start again: in place mid-check; at an answer, a new check in a new message, once per
        answer card (the finished one stays, with its record)."""
        turn = self.conv.current(inc.user, conversation)
        if not turn.finished:
            try:
                return self.replace(self.conv.restart(inc.user, conversation, version))
            except StaleAction:
                return self.replace(turn)
        if turn.version != version:  # an old card of a check now answered: show the answer first
            return self.replace(turn)
        first = self.conv.first_time(f"teams:new:{inc.user}:{conversation}:{version}")
        if not first:
            return Reply(answer=invoke_message("Your new check is in a message below."))
        fresh = self.conv.restart(inc.user, conversation, version)
        return Reply(answer=invoke_message("A new check has started in a message below."),
                     send=[self.message(fresh)])

    def _start_from_card(self, inc: Incoming) -> Reply:
        """The welcome (or apology) card's Start a check: one check per card, in that message."""
        key = f"teams:start:{inc.user}:{inc.reply_to_id or inc.activity_id}"
        if self.conv.first_time(key):
            return self.replace(self.conv.start(inc.user))
        return self._latest(inc.user)

    def _latest(self, user: str) -> Reply:
        turn = self.conv.resume_latest(user) or self.conv.start(user)
        return self.replace(turn)

    # --- the record dialog --------------------------------------------------------------------------
    def open_record(self, inc: Incoming) -> Reply:
        conversation = str(inc.data.get("c") or "")
        try:
            turn = self.conv.load(inc.user, conversation)
        except UnknownConversation:
            return Reply(answer=cards.dialog_closed(GONE))
        decision = self.conv.decision_for(inc.user, conversation)
        if decision is not None:
            return Reply(answer=cards.dialog_closed(
                f"This check is already recorded as decision #{decision}."))
        if not turn.finished:
            return Reply(answer=cards.dialog_closed("This check has no answer to record yet."))
        return Reply(answer=cards.dialog(cards.record_dialog_card(conversation, turn.version),
                                         "Record your decision"))

    def submit_record(self, inc: Incoming) -> Reply:
        """Validate and save; every refusal shows in the dialog, which stays open with what was
        typed. A second submission stores nothing new."""
        conversation = str(inc.data.get("c") or "")
        raw_version = str(inc.data.get("v") or "0")
        version = int(raw_version) if raw_version.isdigit() else 0
        values = {name: str(inc.data.get(name) or "") for name in ("decision", *FREE_TEXT_FIELDS)}

        def again(errors: dict[str, str]) -> Reply:
            card = cards.record_dialog_card(conversation, version, values=values, errors=errors)
            note = "; ".join(errors.values())
            return Reply(answer=cards.dialog(card, "Record your decision"),
                         late=f"Your decision was not recorded: {note} Press Record my decision again.")

        try:
            form = parse_record(values)
            decision_id = self.conv.record(inc.user, conversation, form)
        except RecordErrors as exc:
            return again(exc.errors)
        except IdentifiersFound as exc:
            return again({name: f"This looks like it holds {describe(found)}. The log must not identify "
                                "anyone: describe roles and information in general terms."
                          for name, found in exc.findings.items()})
        except AlreadyRecorded as exc:
            return again({cards.FORM_ERROR: f"This check is already recorded as decision #{exc.decision_id}: "
                                            "nothing new was stored."})
        except (NotFinished, UnknownConversation):
            return again({cards.FORM_ERROR: "This check has no answer to record yet."})
        except StorageError:
            log.exception("could not store a decision for %s", conversation)
            return again({cards.FORM_ERROR: "Sorry, your decision could not be stored just now. Nothing "
                                            "was saved: please press Save again in a minute."})
        text = RECORDED.format(id=decision_id)
        return Reply(answer=cards.dialog_closed(text),
                     send=[card_message(cards.text_card(text, title="📝 Recorded"), "Decision recorded")])
