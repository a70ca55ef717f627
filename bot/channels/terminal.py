"""The terminal chat: the same flows as Slack and Teams, over stdin/stdout, for trying the bot and
for people with neither. It only translates between lines of text and `Conversations`.

Under stress a person needs the danger question first and the verdict on one screen: the first
question is never behind another prompt, the short answer fits an 80x24 terminal, and `m` shows
the rest. `b`, `r`, `?` and `q` work at every prompt; quitting keeps your place, including at the
record step.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from bot.core.answer import PRACTICE, ShortAnswer, details, short_answer
from bot.core.conversations import (
    AlreadyRecorded,
    Answer,
    Back,
    Conversations,
    IdentifiersFound,
    NotFinished,
    StaleAction,
    Turn,
)
from bot.core.engine import EngineError, NothingToUndo, OutcomeStep, QuestionStep
from bot.core.glossary import explained, terms_in
from bot.core.presentation import answer_problem, profile_line, step_view
from bot.core.privacy import describe, normalise, scan, suggest_edit
from bot.core.record import DECISIONS, FIELDS_BY_ID, RECORD_FIELDS, RecordErrors, parse_record

CHANNEL = "terminal"
KEYS = "b = back · r = start again · ? = why we ask · q = quit"


ANSWER_PROMPT = "b = back · r = new check · q = quit > "


def wrapped(text: str, width: int, indent: str = "") -> list[str]:
    """`text` as the terminal shows it: each paragraph wrapped to `width` (never mid-word)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width - 1, initial_indent=indent, subsequent_indent=indent,
                               break_long_words=False, break_on_hyphens=False) or [""]
    return lines


def short_screen(answer: ShortAnswer, width: int) -> list[str]:
    """The short answer between two bars: any duty of the person's own first, then the verdict,
    who does what by when, how soon, consent, the DSL line, one line per further answer ("Also:")
    and the date of the law applied; the rest waits behind m."""
    bar = "=" * min(width - 1, 78)
    duties = [f"YOUR OWN DUTY: {duty}" for duty in answer.duties]
    return ["", bar, *([PRACTICE] if answer.practice else []), *duties, answer.verdict.upper(), answer.action,
            *([f"How soon: {answer.urgency}"] if answer.urgency else []),
            f"Consent: {answer.consent}", f"DSL: {answer.dsl}", *[f"Also: {line}" for line in answer.also],
            *([answer.law_as_at] if answer.law_as_at else []), bar]


def record_prompt(answer: ShortAnswer) -> list[str]:
    """Under the short answer: the verdict again, then what each key does."""
    return [f"{answer.verdict}.", "Practice: y = pretend to record · n = finish · m = more" if answer.practice
            else "y = record your decision now (golden rule 7) · n = not now · m = more"]


class Quit(Exception):
    """The person typed q: their place is kept."""


class Command(Exception):
    """A navigation key typed at a prompt (b, r, ?, m, p, c, n)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def launcher() -> str:
    """A command that starts the chat again from here, as this person ran it."""
    program = Path(sys.argv[0])
    if program.name == "canishare" and shutil.which("canishare") != str(program.resolve()):
        if (Path.cwd() / "Makefile").exists() and program.resolve().parent.parent.name == ".venv":
            return "make chat"
        try:
            return f"{program.resolve().relative_to(Path.cwd())} chat"
        except ValueError:
            return f"{program.resolve()} chat"
    if program.name == "__main__.py":
        return "python -m bot chat"
    return "canishare chat"


class TerminalChat:
    def __init__(self, conversations: Conversations, user_id: str, stdin: TextIO | None = None,
                 stdout: TextIO | None = None, where: str = ""):
        self.conv, self.user_id, self.where = conversations, user_id, where
        self.stdin, self.stdout = stdin or sys.stdin, stdout or sys.stdout
        self.bundle = conversations.engine.bundle
        self.width = max(40, min(shutil.get_terminal_size((80, 24)).columns, 100))
        self.explained: set[str] = set()  # glossary terms already explained on a question screen

    # --- I/O ---------------------------------------------------------------------------------
    def say(self, text: str = "", indent: str = "") -> None:
        self.stdout.write("\n".join(wrapped(text, self.width, indent)) + "\n")
        self.stdout.flush()

    def ask(self, prompt: str, commands: str = "brq?") -> str:
        """One line of input. A single letter in `commands` raises `Command`; q raises `Quit`."""
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        if not self.stdin.isatty():
            self.stdout.write("\n")
        reply = line.rstrip("\r\n")
        key = reply.strip().lower()
        if key in ("q", "quit", "exit"):
            raise Quit
        if len(key) == 1 and key in commands:
            raise Command(key)
        return reply

    # --- the session --------------------------------------------------------------------------
    def run(self) -> int:
        self.say("canishare: can I share this information to keep a child safe?")
        if self.conv.practice:
            self.say(PRACTICE)
        self.say(f"{self.bundle.manifest.jurisdiction_covered} {self.bundle.manifest.disclaimer}")
        self.say("Please do not type names or other details that identify anyone. " + KEYS)
        if self.where and not self.conv.practice:
            self.say(f"Your decisions are logged in {self.where}")
        try:
            turn = self.begin()
            while True:
                turn = self.check(turn)
                if turn is None:
                    self.say("Goodbye.")
                    return 0
        except Quit:
            self.say(f"Stopped. Your place is saved: run `{launcher()}` to carry on.")
            return 0
        except (EOFError, KeyboardInterrupt):
            self.say(f"\nStopped. Nothing half-written was saved; your place is kept (`{launcher()}`).")
            return 130 if sys.exc_info()[0] is KeyboardInterrupt else 0

    def begin(self) -> Turn:
        """A new check, its danger question first. An earlier check left unfinished, or answered
        but not recorded, is offered on the same screen (c = carry on, n = discard)."""
        earlier = self.conv.resume_latest(self.user_id, include_unrecorded=True)
        while earlier is not None and not earlier.state.history and not earlier.finished:
            # a blank check (one started, then quit) is nothing to offer: look past it, so an
            # answered or half-done check behind it is still offered, never silently dropped
            self.conv.discard(self.user_id, earlier.conversation_id)
            earlier = self.conv.resume_latest(self.user_id, include_unrecorded=True)
        turn = self.conv.start(self.user_id)
        self.offer = earlier
        return turn

    def check(self, turn: Turn) -> Turn | None:
        """Run one check to its end. Returns the next check to run, or None to stop."""
        while True:
            try:
                if isinstance(turn.step, OutcomeStep):
                    return self.outcome(turn)
                turn = self.question(turn)
            except Command as command:
                turn = self.navigate(turn, command.key)

    def navigate(self, turn: Turn, key: str) -> Turn:
        try:
            if key == "b":
                return self.conv.act(self.user_id, turn.conversation_id, turn.version, Back())
            if key == "r":
                self.say("Starting again.")
                return self.conv.restart(self.user_id, turn.conversation_id, turn.version)
            if key == "p" and turn.uses_profile:
                self.say("Your remembered answers are cleared: you will be asked them again.")
                return self.conv.forget_profile(self.user_id, turn.conversation_id)
            if key in ("c", "n") and self.offer is not None:
                return self.take_offer(turn, key)
        except NothingToUndo:
            self.say("This is the first question: there is nothing to go back to.")
        except StaleAction:
            self.say("That check changed elsewhere; showing where it is now.")
            return self.conv.load(self.user_id, turn.conversation_id)
        return turn

    def take_offer(self, turn: Turn, key: str) -> Turn:
        earlier, self.offer = self.offer, None
        assert earlier is not None
        if key == "n":
            self.conv.discard(self.user_id, earlier.conversation_id)
            self.say("The earlier check is discarded.")
            return turn
        self.conv.discard(self.user_id, turn.conversation_id)
        if "flows_changed" in earlier.notices:
            self.say("The guidance was updated since you began; your earlier answers were checked "
                     "again and you continue from the first question they no longer answer.")
        return earlier

    # --- a question ------------------------------------------------------------------------------
    def question(self, turn: Turn) -> Turn:
        step = turn.step
        assert isinstance(step, QuestionStep)
        q = step.question
        self.say()
        if self.conv.practice:
            self.say("[Practice]")
        if turn.uses_profile:
            self.say(f"You are answering as: {profile_line(self.bundle, turn.profile)} (p = change)")
        self.say(f"Q{step.number}. {q.text}")
        for number, choice in enumerate(q.choices, 1):
            self.say(f"{number}. {choice.label}", indent="  ")
        if q.multi:
            self.say("Choose all that apply: numbers with commas, e.g. 1,3", indent="  ")
        for entry in terms_in([q.text, *(c.label for c in q.choices)], self.bundle.glossary, self.explained):
            self.say(f"({explained(entry)})", indent="  ")  # once a session, where it first appears
        commands = "brq?"
        if turn.uses_profile:
            commands += "p"
        if self.offer is not None and step.number == 1:
            commands += "cn"
            when = "answered, not recorded" if self.offer.finished else \
                f"unfinished at question {len(self.offer.state.history) + 1}"
            self.say(f"(Earlier check, {when}: c = carry on, n = discard.)")
        try:
            reply = self.ask("> ", commands)
        except Command as command:
            if command.key == "?":
                self.explain(q)
                return turn
            raise
        value = self.parse_choice(reply, q.choices, q.multi)
        if value is None:
            self.say(f"Please type {'numbers' if q.multi else 'a number'} from 1 to {len(q.choices)}. {KEYS}")
            return turn
        try:
            return self.conv.act(self.user_id, turn.conversation_id, turn.version, Answer(q.id, value))
        except StaleAction:
            self.say("That check changed elsewhere; showing where it is now.")
            return self.conv.load(self.user_id, turn.conversation_id)
        except EngineError:
            self.say(answer_problem(q, value))
            return turn

    def explain(self, q) -> None:
        self.say(q.help or "No extra help for this question.")
        for choice in q.choices:
            if choice.help:
                self.say(f"{choice.label}: {choice.help}", indent="  ")
        helps = [q.help or "", *(c.help or "" for c in q.choices)]
        for entry in terms_in(helps, self.bundle.glossary, self.explained):
            self.say(f"({explained(entry)})", indent="  ")

    @staticmethod
    def parse_choice(reply: str, choices, multi: bool) -> str | list[str] | None:
        parts = [p for p in re.split(r"[\s,]+", reply.strip()) if p]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= len(choices) for p in parts):
            return None
        if not multi:
            return choices[int(parts[0]) - 1].id if len(parts) == 1 else None
        return [choices[int(p) - 1].id for p in dict.fromkeys(parts)]

    # --- the answer ------------------------------------------------------------------------------
    def outcome(self, turn: Turn) -> Turn | None:
        assert isinstance(turn.step, OutcomeStep)
        view = step_view(self.bundle, turn.step)
        answer = short_answer(view, turn.escalation, practice=self.conv.practice)
        for line in short_screen(answer, self.width):
            self.say(line)
        recorded = None if self.conv.practice else self.conv.decision_for(self.user_id, turn.conversation_id)
        if recorded is not None:
            self.say(f"This check is recorded as decision #{recorded}.")
            return self.after()
        while True:
            for line in record_prompt(answer):
                self.say(line)
            try:
                self.ask(ANSWER_PROMPT, "brqm?yn")
            except Command as command:
                if command.key == "m":
                    self.more(view)
                    continue
                if command.key == "?":
                    self.say("The verdict above is what to do now; m shows why, the law and what to record.")
                    continue
                if command.key == "y":
                    if self.record(turn, answer.verdict):
                        return self.after()
                    continue
                if command.key == "n":
                    if not self.conv.practice:
                        self.say("Golden rule 7: record the decision and your reasons, whether or not you "
                                 "share. You can record it later: this check waits for you (run "
                                 f"`{launcher()}`).")
                    return self.after()
                raise
            self.say("Please type y, n, m, b, r or q.")

    def after(self) -> Turn | None:
        try:
            reply = self.ask("Start another check? [y/N] ", "q").strip().lower()
        except Command:
            reply = ""
        if reply in ("y", "yes"):
            return self.conv.start(self.user_id)
        return None

    def more(self, view) -> None:
        """Why, the law and what to record. About a hundred lines: on a terminal they come a
        screen at a time from the top (Enter = next, q = back to the answer), never scrolled past."""
        lines: list[str] = []
        texts: list[str] = []
        for section in details(view):
            lines += ["", *wrapped(section.title, self.width)]
            texts += [section.title, *section.lines]
            for line in section.lines:
                lines += wrapped(line, self.width, "  ")
        words = terms_in(texts, self.bundle.glossary)  # this screen's own list: all it uses
        if words:
            lines += ["", "Words used above"]
            for entry in words:
                lines += wrapped(explained(entry), self.width, "  ")
        self.page(lines)

    def page(self, lines: list[str]) -> None:
        height = shutil.get_terminal_size((80, 24)).lines - 1  # the prompt's line
        if not (self.stdin.isatty() and self.stdout.isatty()) or len(lines) <= height:
            self.stdout.write("".join(line + "\n" for line in lines))
            self.stdout.flush()
            return
        pages = [lines[start:start + height] for start in range(0, len(lines), height)]
        for number, chunk in enumerate(pages, 1):
            self.stdout.write("".join(line + "\n" for line in chunk))
            if number == len(pages):
                break
            self.stdout.write(f"-- page {number} of {len(pages)}: Enter = next page, "
                              "q = back to the answer > ")
            self.stdout.flush()
            reply = self.stdin.readline()
            if not reply or reply.strip().lower() in ("q", "b"):
                break
        self.stdout.flush()

    # --- recording ------------------------------------------------------------------------------
    def record(self, turn: Turn, verdict: str) -> bool:
        """The record form. b goes back a field (or to the answer), ? explains; True if saved."""
        if self.conv.practice:
            self.say("Practice: in a real check you would now record your decision and reasons; "
                     "nothing is saved.")
            return True
        self.say("Record your decision. Describe roles and information in general terms: no names, "
                 "dates of birth, addresses, NHS numbers, phone numbers or emails.")
        values: dict[str, str] = {}
        fields = ["decision", *[f.id for f in RECORD_FIELDS]]
        index = 0
        while index < len(fields):
            name = fields[index]
            try:
                if name == "decision":
                    values[name] = self.decision()
                else:
                    values[name] = self.free_text(name)
                index += 1
            except Command as command:
                if command.key == "b":
                    if index == 0:
                        return False
                    index -= 1
                elif command.key == "r":
                    raise
                elif command.key == "?":
                    self.say(FIELDS_BY_ID[name].hint if name != "decision"
                             else "Shared: you shared it. Not shared: you decided not to. Deferred: "
                                  "you are waiting (for advice, or more information).")
        try:
            form = parse_record(values)
            decision_id = self.conv.record(self.user_id, turn.conversation_id, form)
        except RecordErrors as exc:
            for name, problem in exc.errors.items():
                self.say(f"{FIELDS_BY_ID[name].label if name in FIELDS_BY_ID else name}: {problem}")
            return False
        except IdentifiersFound as exc:  # the prompts make this unreachable in practice
            self.say("Not saved: " + "; ".join(f"{FIELDS_BY_ID[n].label}: {describe(f)}"
                                               for n, f in exc.findings.items()))
            return False
        except AlreadyRecorded as exc:
            self.say(f"This check is already recorded as decision #{exc.decision_id}.")
            return True
        except NotFinished:
            self.say("This check has no answer to record yet.")
            return False
        self.say(f"Saved: decision #{decision_id} ({verdict}) is in the log. Keep your own full record "
                 "in your organisation's case system.")
        return True

    def decision(self) -> str:
        choices = "  ".join(f"{n}. {label}" for n, (_, label) in enumerate(DECISIONS, 1))
        while True:
            reply = self.ask(f"Your decision ({choices}) > ").strip().lower()
            reply = reply.replace("-", " ").replace("_", " ")
            for number, (value, label) in enumerate(DECISIONS, 1):
                if reply in (str(number), label.lower(), value.replace("_", " ")):
                    return value
            self.say("Please type 1, 2 or 3, or shared, not shared or deferred.")

    def free_text(self, name: str) -> str:
        field = FIELDS_BY_ID[name]
        text = self.ask(f"{field.prompt}> ")
        while True:
            text = normalise(text)
            if len(text) > field.max_length:  # checked before the scan, as in every channel
                self.say(f"Too long: {len(text)} characters, the limit is {field.max_length}. "
                         "Keep it short and general.")
                text = self.ask(f"{field.prompt}> ")
                continue
            findings = scan(text)
            if not findings:
                return text.strip()
            self.say(f"Warning: this looks like it holds {describe(findings)}.")
            suggestion = suggest_edit(text, findings)
            self.say("The log must not identify anyone. Suggested edit:")
            self.say(suggestion, indent="  ")
            reply = self.ask("Use the suggested edit (a), or type it again (e)? [A/e] ", "bq").strip().lower()
            if reply in ("", "a", "y", "yes"):
                text = suggestion
            else:
                text = self.ask(f"{field.prompt}> ")
