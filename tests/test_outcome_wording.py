"""Wording rules W1-W9 of guidance edition 2 (INV19) on every outcome, resolved for every nation
and every profession, with the answers that reach it (`TABLE`) so its extras apply: what a
person reads is a short action, the condition that applied, sources by title, their nation's own
words, and notes for their own profession only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.analysis.paths import outcomes
from bot.core.engine import Engine, ResolvedOutcome
from tests.test_guidance_outcomes import TABLE

FILE_NAME = re.compile(r"\bseed\b|\.txt\b|\.ya?ml\b|guidance\.md|\b\d{3}_[0-9a-f]{6}", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")
CITED = re.compile(r"\b(1[89]|20)\d\d\b|\bArt\b|\bs\d|\bsection\b|\bpara", re.IGNORECASE)
# W4: the words another nation uses for children's services must not reach this one
FOREIGN = {
    "scotland": ("children's social care", "HSC Trust"),
    "northern_ireland": ("children's social care", "social work services"),
    "england": ("social work services", "HSC Trust"),
}
# W3: a regulator's note goes to the profession it regulates
REGULATOR = {"GMC": {"doctor"}, "NMC": {"nurse_midwife"}}


def texts(outcome: ResolvedOutcome) -> Iterator[str]:
    yield from (outcome.verdict_label, outcome.headline, outcome.summary or "", outcome.what_to_share,
                outcome.tell_family)
    yield from (*outcome.because, *outcome.next_steps, *outcome.notes, *outcome.protect_identities,
                *outcome.profession_notes)
    for action in outcome.actions:
        yield from (action.who, action.what, action.by_when)


def resolved(engine: Engine) -> Iterator[tuple[str, str, str, ResolvedOutcome]]:
    bundle = engine.bundle
    nations = [c.id for c in bundle.node("triage", "jurisdiction").choices]
    professions = [c.id for c in bundle.node("triage", "profession").choices]
    for outcome in outcomes(bundle):
        for nation in nations:
            for profession in professions:
                answers = {**TABLE[outcome.id], "jurisdiction": nation, "profession": profession}
                yield outcome.id, nation, profession, engine.resolve(outcome, answers)


@pytest.fixture(scope="module")
def every(real_engine: Engine) -> list[tuple[str, str, str, ResolvedOutcome]]:
    cases = list(resolved(real_engine))
    assert len(cases) >= 40 * 5 * 8
    return cases


def test_w5_w6_a_short_action_first_then_who_does_what_by_when(every):
    problems = set()
    for outcome_id, nation, _, outcome in every:
        if len(outcome.headline) > 120 or "\n" in outcome.headline:
            problems.add(f"{outcome_id} in {nation}: headline of {len(outcome.headline)} characters")
        if not outcome.actions:
            problems.add(f"{outcome_id}: no actions")
        for action in outcome.actions:
            if not (action.who.strip() and action.what.strip() and action.by_when.strip()):
                problems.add(f"{outcome_id}: an action without who, what or by when")
    assert not problems, sorted(problems)


def test_w2_the_condition_that_applied_is_said(every):
    missing = {outcome_id for outcome_id, _, _, outcome in every if not any(b.strip() for b in outcome.because)}
    assert not missing, sorted(missing)


def test_w1_w4_no_file_names_no_placeholders_and_each_nations_own_words(every):
    problems = set()
    for outcome_id, nation, _, outcome in every:
        for text in texts(outcome):
            if FILE_NAME.search(text):
                problems.add(f"{outcome_id}: a file name in {text!r}")
            if PLACEHOLDER.search(text):
                problems.add(f"{outcome_id} in {nation}: a placeholder in {text!r}")
            for foreign in FOREIGN.get(nation, ()):
                if foreign in text:
                    problems.add(f"{outcome_id} in {nation}: {foreign!r} in {text!r}")
    assert not problems, sorted(problems)[:30]


def test_w1_every_cited_source_is_a_title_with_a_year_or_section(real_bundle, every):
    cited = {g for _, _, _, outcome in every for g in outcome.gateways}
    for gateway_id in cited:
        source = real_bundle.gateways[gateway_id].source
        assert CITED.search(source) and not FILE_NAME.search(source), (gateway_id, source)
    for rule in real_bundle.rules_catalogue.rules:
        assert CITED.search(rule.source) and not FILE_NAME.search(rule.source), (rule.id, rule.source)


def test_w3_profession_notes_only_for_that_profession(every):
    problems, shown = set(), set()
    for outcome_id, _, profession, outcome in every:
        for note in outcome.profession_notes:
            for regulator, professions in REGULATOR.items():
                if regulator in note:
                    shown.add(regulator)
                    if profession not in professions:
                        problems.add(f"{outcome_id}: {regulator} note for {profession}")
        for text in (*outcome.notes, *outcome.next_steps):
            for regulator, professions in REGULATOR.items():
                if re.search(rf"\b{regulator}\b", text) and profession not in professions:
                    problems.add(f"{outcome_id}: {regulator} in a note every profession sees")
    assert not problems, sorted(problems)
    assert shown == set(REGULATOR)  # the gate is not passed by showing nobody anything
