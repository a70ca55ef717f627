"""The terminal chat: the same flows as Slack, over stdin/stdout, for trying the bot and for
people with no Slack. It only translates between lines of text and `Conversations`."""

from __future__ import annotations

import re
import sys
from typing import TextIO

from bot.core.conversations import (
    AlreadyRecorded,
    Answer,
    Back,
    Conversations,
    IdentifiersFound,
    Restart,
    StaleAction,
    Turn,
)
from bot.core.engine import EngineError, NothingToUndo, OutcomeStep, QuestionStep
from bot.core.presentation import outcome_text, outcome_view
from bot.core.privacy import describe, normalise, scan, suggest_edit
from bot.core.record import DECISIONS, FIELDS_BY_ID, FREE_TEXT_FIELDS, RecordErrors, parse_record

CHANNEL = "terminal"
KEYS_HELP = "Type a number to answer, b = back, r = restart, ? = help, q = quit."
FIELD_PROMPTS = {f: FIELDS_BY_ID[f].prompt for f in FREE_TEXT_FIELDS}


class Quit(Exception):
    pass


class TerminalChat:
    def __init__(self, conversations: Conversations, user_id: str,
                 stdin: TextIO | None = None, stdout: TextIO | None = None):
        self.conv = conversations
        self.user_id = user_id
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout

    # --- I/O ------------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def ask(self, prompt: str) -> str:
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        if not self.stdin.isatty():
            self.stdout.write("\n")
        return line.rstrip("\r\n")

    def yes(self, prompt: str, default: bool) -> bool:
        hint = "[Y/n]" if default else "[y/N]"
        while True:
            reply = self.ask(f"{prompt} {hint} ").strip().lower()
            if not reply:
                return default
            if reply in ("y", "yes"):
                return True
            if reply in ("n", "no"):
                return False
            if reply == "q":
                raise Quit
            self.say("Please answer y or n.")

    # --- the conversation ---------------------------------------------------------------
    def run(self) -> int:
        bundle = self.conv.engine.bundle
        self.say("canishare: can I share this information to keep a child safe?")
        self.say(f"{bundle.manifest.jurisdiction_covered} {bundle.manifest.disclaimer}")
        self.say("Please do not type names or other details that identify anyone.")
        self.say(KEYS_HELP)
        try:
            turn = self.resume_or_start()
            while True:
                turn = self.loop(turn)
                if not self.yes("Start another check?", default=False):
                    self.say("Goodbye.")
                    return 0
                turn = self.conv.start(self.user_id)
        except Quit:
            self.say("Stopped. Your place is saved: run `canishare chat` to carry on.")
            return 0
        except (EOFError, KeyboardInterrupt):
            self.say("\nStopped. Nothing half-written was saved; your place in the check is kept.")
            return 130 if sys.exc_info()[0] is KeyboardInterrupt else 0

    def resume_or_start(self) -> Turn:
        turn = self.conv.resume_latest(self.user_id)
        if turn is not None and turn.state.history:
            number = len(turn.state.history) + 1
            if self.yes(f"You have an unfinished check (at question {number}). Carry on?", True):
                self.notices(turn)
                return turn
        return self.conv.start(self.user_id)

    def notices(self, turn: Turn) -> None:
        if "flows_changed" in turn.notices:
            self.say("The guidance was updated since you began; your earlier answers were "
                     "checked again and you continue from the first question they no longer "
                     "answer.")

    def loop(self, turn: Turn) -> Turn:
        while not isinstance(turn.step, OutcomeStep):
            turn = self.question(turn)
        view = outcome_view(self.conv.engine.bundle, turn.step.outcome)
        self.say()
        self.say(outcome_text(view))
        if self.yes("Record your decision in the log now (golden rule 7)?", default=True):
            self.record(turn)
        return turn

    def question(self, turn: Turn) -> Turn:
        step = turn.step
        assert isinstance(step, QuestionStep)
        q = step.question
        self.say()
        self.say(f"Q{step.number}. {q.text}")
        for number, choice in enumerate(q.choices, 1):
            self.say(f"  {number}. {choice.label}")
        if q.multi:
            self.say("  (choose all that apply: numbers separated by commas, e.g. 1,3)")
        reply = self.ask("> ").strip().lower()
        action = None
        if reply in ("q", "quit", "exit"):
            raise Quit
        if reply in ("?", "h", "help"):
            self.say(q.help or "No extra help for this question. " + KEYS_HELP)
            for choice in q.choices:
                if choice.help:
                    self.say(f"  {choice.label}: {choice.help}")
            return turn
        if reply in ("b", "back"):
            action = Back()
        elif reply in ("r", "restart"):
            action = Restart()
        else:
            value = self.parse_choice(reply, q.choices, q.multi)
            if value is None:
                self.say(f"Please type {'numbers' if q.multi else 'a number'} from 1 to "
                         f"{len(q.choices)}. {KEYS_HELP}")
                return turn
            action = Answer(q.id, value)
        try:
            return self.conv.act(self.user_id, turn.conversation_id, turn.version, action)
        except NothingToUndo:
            self.say("This is the first question: there is nothing to go back to.")
        except StaleAction:
            self.say("That check changed elsewhere; showing where it is now.")
            return self.conv.load(self.user_id, turn.conversation_id)
        except EngineError as exc:
            self.say(f"Sorry, that answer did not fit: {exc}")
        return turn

    @staticmethod
    def parse_choice(reply: str, choices, multi: bool) -> str | list[str] | None:
        parts = [p for p in re.split(r"[\s,]+", reply) if p]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= len(choices) for p in parts):
            return None
        if not multi:
            return choices[int(parts[0]) - 1].id if len(parts) == 1 else None
        return [choices[int(p) - 1].id for p in dict.fromkeys(parts)]

    # --- recording ------------------------------------------------------------------------
    def record(self, turn: Turn) -> None:
        self.say("Record your decision. Describe roles and information in general terms: no "
                 "names, dates of birth, addresses, NHS numbers, phone numbers or emails.")
        for number, (_, label) in enumerate(DECISIONS, 1):
            self.say(f"  {number}. {label}")
        decision = None
        while decision is None:
            reply = self.ask("Decision> ").strip()
            if reply.lower() == "q":
                raise Quit
            if reply.isdigit() and 1 <= int(reply) <= len(DECISIONS):
                decision = DECISIONS[int(reply) - 1][0]
            else:
                self.say("Please type 1, 2 or 3.")
        values = {name: self.free_text(name) for name in FREE_TEXT_FIELDS}
        while True:
            try:
                form = parse_record({"decision": decision, **values})
                break
            except RecordErrors as exc:
                for name, problem in exc.errors.items():
                    self.say(f"{FIELDS_BY_ID[name].label}: {problem}")
                    values[name] = self.free_text(name)
        try:
            decision_id = self.conv.record(self.user_id, turn.conversation_id, form)
        except IdentifiersFound as exc:  # the prompts above make this unreachable in practice
            self.say(f"Not saved: {', '.join(exc.findings)} still look like identifiers.")
            return
        except AlreadyRecorded as exc:
            self.say(f"This check is already recorded as decision #{exc.decision_id}.")
            return
        self.say(f"Saved: decision #{decision_id} is in the log. Keep your own full record "
                 "in your organisation's case system.")

    def free_text(self, name: str) -> str:
        """Ask for one field; if it holds an identifier, say what kind (masked, never the identifier
        itself) and offer an edit with each whole identifier replaced."""
        text = self.ask(f"{FIELD_PROMPTS[name]}> ")
        while True:
            findings = scan(text)
            if not findings:
                return normalise(text).strip()
            self.say(f"Warning: this looks like it holds {describe(findings)}.")
            suggestion = suggest_edit(text, findings)
            self.say("The log must not identify anyone. Suggested edit:")
            self.say(f"  {suggestion}")
            reply = self.ask("Use the suggested edit (a), or type it again (e)? [A/e] ")
            if reply.strip().lower() in ("", "a", "y", "yes"):
                text = suggestion
            elif reply.strip().lower() == "q":
                raise Quit
            else:
                text = self.ask(f"{FIELD_PROMPTS[name]}> ")
