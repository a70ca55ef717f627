"""The terminal chat through a real pseudo-terminal at 80x24, read back through a terminal
emulator: what a worried person sees when the prompt appears. The answers are given by question
id and answer id and turned into the numbers on screen, so the tests follow the flows."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.conftest import GMC_NOTE, REAL_FLOWS, REQUEST_REVEALING_RISK, clean_env

REFERRAL = {"immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body",
            "profession": "teacher", "wales_relevant_partner": "no", "situation": "share_concern",
            "subject": "child", "recipient": "childrens_social_care", "info_kind": "observations_disclosures",
            "harm_level": "significant_harm", "perpetrator_in_family": "yes", "safe_to_inform": "no"}


class Screen:
    """`canishare chat` in a pty of 24 rows by 80 columns, with a VT100 emulator reading it."""

    def __init__(self, tmp_path: Path, user: str):
        env = clean_env(CANISHARE_DATABASE=str(tmp_path / "screen.db"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                        TERM="xterm", COLUMNS="80", LINES="24")
        self.child = pexpect.spawn(sys.executable, ["-m", "bot", "--flows", str(REAL_FLOWS), "chat", "--user", user],
                                   cwd=str(tmp_path), env=env, dimensions=(24, 80), encoding="utf-8", timeout=30)
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.Stream(self.screen)
        self.bundle = None
        self.transcript = ""  # everything written, including what scrolled off the screen

    def wait(self) -> list[str]:
        """Read until the program waits at a prompt; the visible screen's lines."""
        self.child.expect(r"> $|\] $")
        self.feed(self.child.before + self.child.after)
        deadline = time.monotonic() + 0.15  # anything still coming after the prompt
        while time.monotonic() < deadline:
            try:
                self.feed(self.child.read_nonblocking(4096, timeout=0.1))
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
        return [line.rstrip() for line in self.screen.display]

    def feed(self, data: str) -> None:
        self.stream.feed(data)
        self.transcript += data

    def send(self, text: str) -> list[str]:
        self.child.sendline(text)
        return self.wait()

    def answer(self, answers: dict[str, str | list[str]], bundle) -> list[str]:
        """Answer questions from `answers` until an outcome shows."""
        lines = self.wait()
        for _ in range(40):
            text = "\n".join(lines)
            asked = re.findall(r"Q\d+\. (.+)", text)
            if not asked or "y = record your decision" in text or "Practice: y" in text:
                return lines
            question = question_by_text(bundle, asked[-1], text)
            value = answers.get(question.key, question.choices[0].id)
            values = value if isinstance(value, list) else [value]
            numbers = [str(i) for i, c in enumerate(question.choices, 1) if c.id in values]
            lines = self.send(",".join(numbers))
        raise AssertionError("no outcome after 40 answers")

    def close(self) -> None:
        self.child.close(force=True)


def question_by_text(bundle, start: str, screen: str):
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if getattr(node, "text", None) and node.text.startswith(start.strip()[:40]):
                return node
    raise AssertionError(f"no question starts {start!r}:\n{screen}")


@pytest.fixture
def screen(tmp_path):
    sessions = []

    def start(user: str = "pat") -> Screen:
        session = Screen(tmp_path, user)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()


def on_screen(lines: list[str], *texts: str) -> None:
    flat = " ".join(" ".join(lines).split())
    for text in texts:
        assert " ".join(text.split()) in flat, f"{text!r} not on screen:\n" + "\n".join(lines)


def expected(bundle, answers: dict) -> tuple[str, str]:
    """The verdict and one-line action the flows give for `answers` (as `canishare evaluate`)."""
    from bot.core.answer import action_line
    from bot.core.engine import Engine, OutcomeStep
    from bot.core.presentation import outcome_view

    engine = Engine(bundle)
    state = engine.start()
    for _ in range(60):
        step = engine.current(state)
        if isinstance(step, OutcomeStep):
            view = outcome_view(bundle, step.outcome)
            return view.verdict_label.upper(), action_line(view)
        question = step.question
        state = engine.answer(state, question.id, answers.get(question.key, question.choices[0].id))
    raise AssertionError("no outcome")


def test_the_999_answer_is_on_screen_when_the_prompt_appears(screen, real_bundle):
    session = screen()
    lines = session.answer({"immediate_danger": "yes"}, real_bundle)
    verdict, action = expected(real_bundle, {"immediate_danger": "yes"})
    on_screen(lines, verdict, action)
    assert verdict == "CALL 999 NOW"
    assert any("y = record your decision" in line for line in lines)


@pytest.mark.parametrize("concern", ["sexual_abuse", "fii"])
def test_a_referral_verdict_and_its_action_are_on_screen_at_the_prompt(screen, real_bundle, concern):
    session = screen()
    answers = {**REFERRAL, "concern_type": [concern]}
    lines = session.answer(answers, real_bundle)
    verdict, action = expected(real_bundle, answers)
    assert verdict in ("REFER TO CHILDREN'S SOCIAL CARE", "REPORT TO THE POLICE")
    on_screen(lines, verdict, action)
    assert any(line.startswith("Consent:") for line in lines) and any(line.startswith("DSL:") for line in lines)
    assert any("y = record your decision" in line for line in lines)
    assert all(len(line) <= 80 for line in lines)


def test_quit_at_the_record_step_and_the_record_prompt_is_back(screen, real_bundle):
    first = screen()
    first.answer({**REFERRAL, "concern_type": ["sexual_abuse"]}, real_bundle)
    first.child.sendline("q")
    first.child.expect(pexpect.EOF)
    second = screen()
    lines = second.wait()
    on_screen(lines, "Is a child, or anyone else, in immediate danger", "c = carry on")
    lines = second.send("c")
    on_screen(lines, "y = record your decision now")


def test_n_discards_the_unfinished_check(screen, real_bundle):
    first = screen()
    first.wait()
    first.send("2")  # not in danger
    first.child.sendline("q")
    first.child.expect(pexpect.EOF)
    second = screen()
    on_screen(second.wait(), "c = carry on, n = discard")
    on_screen(second.send("n"), "The earlier check is discarded.")
    second.child.sendline("q")
    second.child.expect(pexpect.EOF)
    third = screen()
    assert "c = carry on" not in " ".join(third.wait())


def test_the_remembered_profile_is_used_and_can_be_changed(screen, real_bundle):
    first = screen()
    first.answer({**REFERRAL, "concern_type": ["sexual_abuse"]}, real_bundle)
    first.child.sendline("n")
    first.wait()
    first.child.sendline("n")
    first.child.expect(pexpect.EOF)
    second = screen()
    second.wait()
    lines = second.send("2")  # not in danger: nation, organisation and role are not asked again
    on_screen(lines, "You are answering as: England, public body, teacher (p = change)")
    assert not any("Where is the child" in line or "What is your role" in line for line in lines)
    lines = second.send("p")
    on_screen(lines, "Your remembered answers are cleared")
    lines = second.send("2")
    on_screen(lines, "Where is the child")
    second.send("1")  # England
    on_screen(second.send("2"), "What is your role?")  # NHS or health: every profile question again


@pytest.mark.parametrize("profession", ["doctor", "teacher"])
def test_a_request_revealing_an_unreferred_risk_shows_the_request_under_the_referral(screen, real_bundle,
                                                                                    profession):
    session = screen(profession)
    answers = {**REQUEST_REVEALING_RISK, "profession": profession}
    lines = session.answer(answers, real_bundle)
    verdict, action = expected(real_bundle, answers)
    assert verdict == "REFER TO CHILDREN'S SOCIAL CARE"  # the referral is the answer
    on_screen(lines, verdict, action, "Also: Don't share yet - get advice today: Ask the police for a written request")
    assert any("y = record your decision" in line for line in lines) and all(len(line) <= 80 for line in lines)
    assert GMC_NOTE not in " ".join(session.transcript.split())  # notes for your profession wait behind m
    before = len(session.transcript)
    page = session.send("m")
    pages = 1
    while "Enter = next page" in page[-1]:  # `m` opens at the top, a screen at a time
        assert all(len(line) <= 80 for line in page)
        page = session.send("")
        pages += 1
    assert pages > 1 and "y = record your decision" in " ".join(page)
    more = " ".join(session.transcript[before:].split())
    assert more.index("Why this applies") < more.index("Next steps") < more.index("Golden rules")
    also = more[more.index("Also: Don't share yet - get advice today"):]
    assert "What to share: Nothing yet." in also and "Crime and taxation exemption" in also
    assert "For your profession" in more
    assert (GMC_NOTE in more) == (profession == "doctor")  # GMC notes for doctors only (W3)
    assert ("Keeping children safe in education" in more) == (profession == "teacher")
