"""Nothing internal in what people read (issue 12): every question and every outcome of every
flow, rendered as each channel renders it (terminal text, Slack blocks, Teams cards), and every
message an answer or a record can be refused with, holds no seed file name, no gateway, answer,
question or node id, no unexpanded placeholder and no reviewer's note."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.analysis.paths import walk
from bot.channels.slack import blocks
from bot.channels.teams import cards
from bot.core.answer import details, short_answer
from bot.core.engine import Engine, OutcomeStep, QuestionStep
from bot.core.presentation import answer_problem, decision_label, profile_line, step_view
from bot.core.record import RecordErrors, parse_note, parse_record
from bot.flows.schema import Outcome, Question
from bot.services import Services
from bot.settings import Settings

SEED = re.compile(r"\b\d{3}_[0-9a-f]{16}(\.txt)?\b|\bseed\s+00\d", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}|\{\{|\}\}|<[a-z_]+>")
NODE_ID = re.compile(r"\bO\d{2}\b")
# a reviewer's note left in the words ("CHECK COMMENCEMENT", "verify"), or a nation's term put
# after an article it already has ("the the HSC Trust Gateway team")
NOTE = re.compile(r"\bCHECK [A-Z]{4,}|\bTODO\b|\bTBC\b|: verify\b|(?i:\b(the|a|an|of|to|and) \1\b)")
HIDDEN_KEYS = {"action_id", "block_id", "value", "data", "verb", "id", "private_metadata", "metadata",
               "url", "style", "type", "fallbackText"}


def visible(obj: Any) -> list[str]:
    """The strings a person can see in a Slack block list or an Adaptive Card."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in HIDDEN_KEYS:
                continue
            if isinstance(value, str) and key in ("text", "title", "label", "placeholder", "errorMessage"):
                found.append(value)
            else:
                found += visible(value)
    elif isinstance(obj, list):
        for item in obj:
            found += visible(item)
    return found


@pytest.fixture(scope="module")
def forbidden(real_bundle) -> re.Pattern:
    """Internal ids with an underscore or a hyphen (ordinary words such as "yes" or "child" are
    ids too, but also just words): gateway ids, question and answer ids, flow ids."""
    ids = set(real_bundle.gateways)
    for flow in real_bundle.flows.values():
        ids.add(flow.id)
        for node in flow.nodes:
            ids.add(node.id)
            if isinstance(node, Question):
                ids.add(node.key)
                ids.update(c.id for c in node.choices)
    ids = {i for i in ids if "_" in i or "-" in i}
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
                      + r")(?![\w-])")


def check(texts: list[str], forbidden: re.Pattern, where: str) -> None:
    for text in texts:
        for pattern in (SEED, PLACEHOLDER, NODE_ID, NOTE, forbidden):
            match = pattern.search(text)
            assert match is None, f"{where}: {match.group(0)!r} in {text!r}"


NATIONS = ("england", "wales", "scotland", "northern_ireland", "not_sure")


def every_question(bundle) -> list[QuestionStep]:
    """Every question node of every flow, in the words of each nation (and of none)."""
    engine = Engine(bundle)
    return [QuestionStep(flow.id, engine.localise_question(node, nation), 1)
            for flow in bundle.flows.values() for node in flow.nodes if isinstance(node, Question)
            for nation in (*NATIONS[:4], "default")]


def every_outcome(bundle) -> list[tuple[OutcomeStep, dict]]:
    """Every outcome as a finished check shows it: one path for each way a run can end (where it
    ended, what was held, which answers add an outcome, which nation), so every primary with its
    secondary outcomes and every nation's terms are rendered; then every outcome node on its own
    in each nation, reachable or not. Each with the answers that led there."""
    engine = Engine(bundle)
    chosen: dict[tuple, tuple[OutcomeStep, dict]] = {}
    for end in walk(bundle).ends:
        path = end.path
        facts = engine.facts(path.answers)
        key = (path.end.flow, path.end.node, tuple(h.outcome for h in path.held),
               tuple(rule.when.holds(facts) for rule in bundle.conventions.raises), facts.get("jurisdiction"))
        if key not in chosen:
            chosen[key] = (engine.conclude(path.end, path.answers, path.held), path.answers)
    alone = [(OutcomeStep(flow.id, engine.resolve(node, {"jurisdiction": nation}, flow.id)),
              {"jurisdiction": nation})
             for flow in bundle.flows.values() for node in flow.nodes if isinstance(node, Outcome)
             for nation in NATIONS]
    alone += [(OutcomeStep("", engine.resolve(node, {"jurisdiction": nation})), {"jurisdiction": nation})
              for node in bundle.shared.outcomes for nation in NATIONS]
    return [*chosen.values(), *alone]


@pytest.fixture(scope="module")
def questions(real_bundle) -> list[QuestionStep]:
    return every_question(real_bundle)


@pytest.fixture(scope="module")
def outcomes(real_bundle) -> list[tuple[OutcomeStep, dict]]:
    return every_outcome(real_bundle)


def test_every_question_in_every_channel(real_bundle, questions, forbidden):
    assert len(questions) > 20 * 5
    for step in questions:
        q = step.question
        terminal = [q.text, q.help or "", *(c.label for c in q.choices), *(c.help or "" for c in q.choices)]
        check(terminal, forbidden, f"terminal {q.id}")
        slack = blocks.question_blocks(step, "c1", 1, can_go_back=True, profile_line="England, NHS",
                                       show_help=True)
        check(visible(slack), forbidden, f"slack {q.id}")
        teams = cards.question_card(step, "c1", 1, can_go_back=True, profile_line="England, NHS")
        check(visible(teams), forbidden, f"teams {q.id}")


def test_every_outcome_in_every_channel(real_bundle, outcomes, forbidden):
    assert len({s.outcome.id for s, _ in outcomes}) >= 46
    assert any(s.secondary for s, _ in outcomes)  # primaries with "Also:" answers are among them
    for step, _ in outcomes:
        view = step_view(real_bundle, step)
        answer = short_answer(view)
        where = f"{step.outcome.id} (+{','.join(s.id for s in step.secondary)})"
        terminal = [answer.verdict, answer.action, answer.consent, answer.dsl, *answer.also]
        terminal += [line for section in details(view) for line in [section.title, *section.lines]]
        check(terminal, forbidden, f"terminal {where}")
        for more in (False, True):
            slack = blocks.outcome_blocks(answer, view, "c1", 1, show_more=more)
            check(visible(slack), forbidden, f"slack {where}")
        teams = cards.outcome_card(answer, view, "c1", 1)
        check(visible(teams), forbidden, f"teams {where}")


def test_every_profile_line(real_bundle, forbidden):
    """"You are answering as: ..." for every remembered answer, and a short wording for each."""
    lines = []
    for key in real_bundle.manifest.profile_questions:
        question = next(q for f in real_bundle.flows.values() for q in f.nodes
                        if isinstance(q, Question) and q.key == key)
        for choice in question.choices:
            assert choice.id in real_bundle.manifest.profile_labels.get(key, {}) or key == "jurisdiction", (
                f"no short wording for the profile answer {key}={choice.id} (manifest profile_labels)")
            lines.append(profile_line(real_bundle, {key: choice.id}))
    check(lines, forbidden, "profile line")
    assert profile_line(real_bundle, {"jurisdiction": "england", "org_type": "nhs_health",
                                      "profession": "nurse_midwife"}) == "England, NHS or health, nurse or midwife"


def test_every_refusal_in_plain_words(real_bundle, forbidden):
    texts = []
    for flow in real_bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question):
                texts.append(answer_problem(node, ["not-a-choice"]))
                if node.multi:
                    texts.append(answer_problem(node, [c.id for c in node.choices]))
                    texts.append(answer_problem(node, []))
    for values in ({"decision": "maybe"}, {"decision": "shared", "what": "x" * 5000}, {"decision": "shared"}):
        try:
            parse_record(values)
        except RecordErrors as exc:
            texts += list(exc.errors.values())
    for note in ("", "x" * 600):
        try:
            parse_note(note)
        except RecordErrors as exc:
            texts += list(exc.errors.values())
    check(texts, forbidden, "refusal")
    assert any("can't be combined" in t for t in texts)


def test_the_dsl_card_in_every_channel(real_bundle, outcomes, forbidden, tmp_path):
    """An escalation's card, built from real outcomes' answers (with their secondary outcomes, in
    each nation), in Slack and in Teams; and the verdict of a logged decision in each nation."""
    from bot.dsl.desk import DslDesk
    from bot.dsl.ports import DeskPolicy
    from bot.storage import Storage

    storage = Storage(tmp_path / "cards.db")
    desk = DslDesk(storage, storage.clock, real_bundle, DeskPolicy(), {}, {})
    raised = [(s, a) for s, a in outcomes if s.outcome.dsl_alert.value != "none" and len(a) > 1]
    chosen = {(s.outcome.id, bool(s.secondary), a.get("jurisdiction")): (s, a) for s, a in raised}
    assert len(chosen) > 40
    for number, (step, answers) in enumerate(chosen.values()):
        where = f"{step.outcome.id} in {answers.get('jurisdiction')}"
        with storage.transaction() as tx:
            escalation_id = tx.escalations.create(
                f"k-{number}", channel="slack", requester="U1", conversation_id="c", kind="outcome",
                urgency="urgent", outcome_id=step.outcome.id, verdict=step.outcome.verdict.value,
                rules=step.outcome.rules, gateways=step.outcome.gateways, answers=answers,
                secondary=[{"outcome_id": s.id, "verdict": s.verdict.value} for s in step.secondary])
            escalation = tx.escalations.get(escalation_id)
        view = desk.card_view(escalation)
        check(visible(blocks.card_blocks(view)), forbidden, f"slack card {where}")
        # <at>...</at> is how a Teams card writes a mention (shown as the person's name)
        mentions = [re.sub(r"</?at>", "", text) for text in visible(cards.escalation_card(view, {}))]
        check(mentions, forbidden, f"teams card {where}")
        details_card = [re.sub(r"</?at>", "", text) for text in visible(cards.escalation_details_card(view, {}))]
        check(details_card, forbidden, f"teams details {where}")
        logged = {"verdict": step.outcome.verdict.value, "jurisdiction": answers.get("jurisdiction")}
        check([decision_label(real_bundle, logged)], forbidden, f"decision {where}")
    storage.close()
    assert Services(Settings(database=str(tmp_path / "x.db")))  # the composition root builds with defaults


def test_every_short_answer_fits_an_80x24_terminal(real_bundle, outcomes):
    """The verdict, the action, consent, the DSL line (with the longest escalation notice) and
    every "Also:" line, then the record prompt, on one 80x24 screen before m for more."""
    from bot.channels.terminal import ANSWER_PROMPT, record_prompt, short_screen, wrapped
    from bot.dsl.ports import EscalationNotice

    notice = EscalationNotice(escalation_id=12345, delivered=False, route="Out of hours, call your "
                              "local authority's emergency duty team now: do not wait for a DSL to reply.")
    tallest = 0
    for step, _ in outcomes:
        for practice, escalation in ((False, notice), (True, None)):
            answer = short_answer(step_view(real_bundle, step), escalation, practice=practice)
            lines = [line for text in [*short_screen(answer, 80), *record_prompt(answer), ANSWER_PROMPT]
                     for line in wrapped(text, 80)]
            assert all(len(line) <= 80 for line in lines)
            tallest = max(tallest, len(lines))
            assert len(lines) <= 24, f"{step.outcome.id}: {len(lines)} lines\n" + "\n".join(lines)
    assert tallest > 10  # the measure measured something
