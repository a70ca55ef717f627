"""The design's safety invariants INV1-INV19 (guidance edition 2, C10), checked on every path.

There are millions of paths from `triage` (every profile x every route x every combination of
the 16 concern options the flows tell apart), so they are checked in exact parts:

- *Deciding* invariants (verdicts, consent positions, DSL alerts, family lines, primary and
  secondary outcomes; tests/invariants.py) on the memoised walk (`bot.analysis.paths.walk`, one
  walk for all of them). Partial paths that agree on every answer anything later can read are
  one state; an end is one state of the engine's answer. For each check and each end, the
  walk gives every distinct way the paths reaching that end answered what the check declared
  it reads, answers grouped with the alternatives they were walked with expanded one by one;
  each is checked once against that end's answer, worded in its own nation. So each distinct
  case is checked once, and stands for exactly the paths that share it.
- *Decoration* invariants (gateways by nation and duty, golden rules, notes, wording INV19)
  on every outcome, for one answer from each group of answers its extras tell apart, so for
  every nation, organisation type, role and answer that changes what the outcome cites or
  says.

INV14 (route independence) compares the continuations of every route-only question pairwise
(`route_pairs`): paths with the same answers either meet in one continuation or are compared
at their ends. The counts go to the end of `make test`'s output (tests/conftest.py).
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.analysis.load import load_bundle
from bot.analysis.paths import End, FlowPath, Walk, enumerate_paths, outcomes, route_pairs, walk
from bot.core.clock import FrozenClock
from bot.core.conversations import Answer
from bot.core.engine import Engine, OutcomeStep, Position
from bot.core.record import RecordForm
from bot.flows.conditions import parse_condition
from bot.flows.loader import FlowBundle, parse_folder
from bot.flows.schema import Outcome, Question, Verdict
from bot.storage import Storage
from tests.conftest import REAL_FLOWS, ROOT, RUN_SUMMARY, conversations, decisions
from tests.invariants import (
    DECIDING,
    NATION,
    Case,
    Check,
    Facts,
    Reads,
    UndeclaredRead,
    inv2_significant_harm_never_hidden,
    inv5_dont_tip_off,
    inv13_under_13,
    inv16_private_fostering,
    inv18_fgm,
    reads,
)

SHARING = {"emergency_call_999", "report_to_police", "refer_to_childrens_social_care", "refer_to_lado",
           "refer_to_adult_safeguarding", "share_with_consent", "share_without_consent", "share_summary_only"}
NATION_NOTES = {"wales": "Wales:", "scotland": "Scotland:", "northern_ireland": "Northern Ireland:"}
NATIONS = {"england", "wales", "scotland", "northern_ireland"}
# The answers the checks test: a multi-select's combinations that differ on them are never
# merged (the walk keeps them as the alternatives of the step it walks).
MULTI_ATOMS = sorted({parse_condition({key: sorted(test)}) for check in DECIDING
                      for key, tests in check.reads.tests.items() for test in tests if test}, key=repr)  # type: ignore[attr-defined]


# --- checking every path on the walk -------------------------------------------------------
@dataclass
class Report:
    failures: dict[str, list[str]] = field(default_factory=dict)
    cases: int = 0


class _Ends:
    """The engine's answer for each end of a walk, in a given nation (cached)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._steps: dict[tuple[int, object], OutcomeStep] = {}
        self._facts: dict[tuple, dict] = {}
        self._implied = frozenset(k for rule in engine.conventions.implications for k in rule.implies)
        # the tests implications make: kept apart so implied answers come out right
        self.implying: dict[str, set[frozenset[str]]] = {}
        for rule in engine.conventions.implications:
            for atom in rule.when.atoms():
                self.implying.setdefault(atom.question, set()).add(atom.values)

    def step(self, end: End, nation: object) -> OutcomeStep:
        found = self._steps.get((end.state, nation))
        if found is None:
            answers = end.path.answers
            if answers.get(NATION) != nation:
                answers = {k: v for k, v in answers.items() if k != NATION}
                if nation is not None:
                    answers[NATION] = nation  # type: ignore[assignment]
            found = self._steps[(end.state, nation)] = self.engine.conclude(end.position, answers, end.held)
        return found

    def facts(self, end: End, keys: tuple[str, ...], members: tuple) -> dict:
        """The facts on `keys` of a path that answered them `members` (None: not answered) and
        otherwise ends like `end`: an implied answer follows from the answers implications
        test, which are those `members` give or, for other keys, the end keeps."""
        given = {k: list(v) if isinstance(v, tuple) else v for k, v in zip(keys, members, strict=True)
                 if v is not None}
        missing = tuple(k for k, v in zip(keys, members, strict=True) if v is None and k in self._implied)
        if not missing:
            return given
        implying = tuple((k, v) for k, v in zip(keys, members, strict=True) if k in self.implying)
        memo_key = (end.state, keys, implying, missing)
        found = self._facts.get(memo_key)
        if found is None:
            answers = {k: v for k, v in end.path.answers.items() if k not in keys}
            answers.update((k, list(v) if isinstance(v, tuple) else v) for k, v in implying if v is not None)
            facts = self.engine.facts(answers)
            found = self._facts[memo_key] = {k: facts[k] for k in missing if k in facts}
        return {**given, **found} if found else given


def check_every_path(bundle: FlowBundle, walked: Walk, checks: Iterable[Check]) -> Report:
    """Each check once per end and per distinct way the paths reaching it answered what the
    check reads (told apart on the answers it tests; alternatives expanded)."""
    ends = _Ends(Engine(bundle))
    report = Report()
    for check in checks:
        reads = check.reads  # type: ignore[attr-defined]
        keys = tuple(sorted({*reads.tests, NATION}))
        telling = {k: sorted(reads.tests[k] | ends.implying.get(k, set()), key=sorted) for k in keys if k != NATION}
        counted = 2 if check.counts_answers else 0  # type: ignore[attr-defined]
        found = walked.combinations(keys, count_up_to=counted, telling=telling)
        for end, combos in zip(walked.ends, found, strict=True):
            for combo in combos:
                answered = combo[-1] if counted else 0
                groups = [(None,) if g is None else g for g in combo[:len(keys)]]
                for members in itertools.product(*groups):
                    facts = ends.facts(end, keys, members)
                    case = Case(end.path, Facts(facts, reads), ends.step(end, facts.get(NATION)), answered)
                    report.cases += 1
                    problem = check(case)
                    if problem:
                        report.failures.setdefault(check.__name__, []).append(
                            f"{problem}: {end.path.describe()} with {facts}")
    return report


@pytest.fixture(scope="session")
def walked(real_bundle) -> Walk:
    """One walk from the entry flow for every deciding invariant."""
    return walk(real_bundle, real_bundle.entry, multi_atoms=MULTI_ATOMS)


def test_every_path_keeps_every_deciding_invariant(real_bundle, walked):
    report = check_every_path(real_bundle, walked, DECIDING)
    reached = {o for e in walked.ends for o in [e.position.node, *(h.outcome for h in e.held)]}
    RUN_SUMMARY["deciding"] = (
        f"INV1-INV18 (deciding): {walked.paths:,} paths from '{real_bundle.entry}', {len(walked.ends):,} "
        f"distinct ends ({walked.states:,} states), {report.cases:,} distinct cases for {len(DECIDING)} "
        f"checks, {len(reached)} outcomes reached")
    summary = [f"{name} ({len(items)} cases), e.g. {items[0]}" for name, items in report.failures.items()]
    assert not report.failures, "\n".join(summary)
    assert walked.paths > 100_000


def test_the_walk_counts_the_same_paths_as_full_enumeration(sample_bundle):
    """The memoised walk is exact: on a bundle small enough to list, it counts every path."""
    listed = list(enumerate_paths(sample_bundle, sample_bundle.entry))
    walked = walk(sample_bundle, sample_bundle.entry)
    assert walked.paths == len(listed)
    assert {e.path.end.node for e in walked.ends} == {p.end.node for p in listed}


def test_the_walk_sees_every_answer_of_every_path(sample_bundle):
    """What a check reads is reported for every path, not only for one representative."""
    walked = walk(sample_bundle, sample_bundle.entry)
    keys = ("consent", "kinds", "nation")
    seen = {(end.position.node, tuple(m)) for end, combos in zip(walked.ends, walked.combinations(keys), strict=True)
            for combo in combos
            for m in itertools.product(*[(None,) if g is None else g for g in combo])}
    listed = {(p.end.node, tuple(p.answers.get(k) if not isinstance(p.answers.get(k), list)
                                 else tuple(p.answers[k]) for k in keys))
              for p in enumerate_paths(sample_bundle, sample_bundle.entry)}
    assert listed <= seen


# --- each deciding check can fail ---------------------------------------------------------
# One fault per deciding invariant in a copy of the real flows: (file, text, replacement, the
# check that must report it). Each is walked from the flow it is in (the entry flow's walk is
# kept small by sending every "what do you need help with?" answer to the emergency flow).
BREAKS = [
    ("triage.yaml", '{id: not_sure, label: "Not sure", next: O02}', '{id: not_sure, label: "Not sure", next: O06}',
     "inv1_emergency_first"),  # "not sure about danger" without the urgent outcome
    ("can_i_share.yaml", '{id: "no", label: "No", next: safe_to_inform}', '{id: "no", label: "No", next: O09}',
     "inv2_significant_harm_never_hidden"),  # parents who cannot protect: nothing shared
    ("outcomes.yaml", 'by_when: "today"}\n    rules: [GR2, GR7]\n    gateways: []\n    what_to_share: "Nothing confidential.',
     'by_when: "today"}\n    rules: [GR2]\n    gateways: []\n    what_to_share: "Nothing confidential.',
     "inv3_always_record"),  # O09 without the recording rule
    ("outcomes.yaml", "    tell_family: \"Don't tell the family unless you have agreed it with the social worker.\"\n"
     "    record: *rec_share\n    dsl_alert: routine", "    tell_family: \"Don't tell the family unless you have agreed "
     "it with the social worker.\"\n    record: *rec_share\n    dsl_alert: none", "inv4_dsl_alert"),  # O18 silent
    ("outcomes.yaml", 'tell_family: "Do NOT tell the family or seek their consent before referring.',
     'tell_family: "Tell the family you are referring, then', "inv5_dont_tip_off"),  # O03 tips off
    ("can_i_share.yaml", 'neighbour...)", next: O12}', 'neighbour...)", next: info_kind}',
     "inv6_no_role_no_share"),  # the press are asked what kind of information it is
    ("specialist_records.yaml", '{id: not_sure, label: "Not sure", next: O15}\n  - type: question\n    id: sr_parent_concern',
     '{id: not_sure, label: "Not sure", next: O06}\n  - type: question\n    id: sr_parent_concern',
     "inv7_therapy_notes"),  # a records request decided by no records outcome
    ("can_i_share.yaml", '{id: "no", label: "No", next: O13}', '{id: "no", label: "No", next: O09}',
     "inv8_court_material"),  # court papers without the court rules
    ("can_i_share.yaml", '{id: not_sure, label: "Not sure", next: O07}\n\n  # --- Edition 3 change 12',
     '{id: not_sure, label: "Not sure", next: O09}\n\n  # --- Edition 3 change 12', "inv10_not_sure_means_advice"),
    ("can_i_share.yaml", "    branches:\n      - {when: {concern_type: [not_sure]}, next: O03}",
     "    branches:\n      - {when: {concern_type: [under13_sexual_activity]}, next: O09}\n"
     "      - {when: {concern_type: [not_sure]}, next: O03}", "inv13_under_13"),
    ("conventions.yaml", "    goto_flow: can_i_share\n    at: concern_type", "    goto_flow: can_i_share\n    at: confidential",
     "inv15_precedence"),  # record-then-refer hands over to the consent questions
    ("outcomes.yaml", "      - when: {pf_carer_response: objects}\n        set_consent_position: refused_overridden",
     "      - when: {pf_carer_response: objects}\n        set_consent_position: refused_respected",
     "inv16_private_fostering"),  # the carer's objection stops the notification
    ("can_i_share.yaml", "        next: O40\n      - {when: &fgm_ni", "        next: O41\n      - {when: &fgm_ni",
     "inv18_fgm"),  # known FGM left to the DSL
    ("outcomes.yaml", "    - when: {jurisdiction: [england, not_sure], concern_type: [sexual_abuse, online_sexual_abuse, "
     "under13_sexual_activity]}\n      add_law_notes: [csa-n]\n", "    - when: {concern_type: [sexual_abuse, "
     "online_sexual_abuse, under13_sexual_activity]}\n      add_law_notes: [csa-n]\n"
     "      add_gateways: [crime-and-policing-csa-mandatory-reporting]\n", "inv21_law_in_time"),
    ("gateways.yaml", "    status: coming\n    verified: false\n    jurisdictions: [england]\n  # --- Edition 3",
     "    status: in_force\n    verified: false\n    jurisdictions: [england]\n  # --- Edition 3",
     "inv21_law_in_time"),  # the CSA reporting duty cited as if commenced
]
BROKEN_WALKS = ["triage", "can_i_share", "specialist_records", "respond_to_request", "private_fostering"]


@pytest.fixture(scope="module")
def broken_flows(tmp_path_factory) -> FlowBundle:
    """The real flows with every fault in BREAKS, parsed without the checker (which would
    refuse some of them before any invariant could)."""
    target = tmp_path_factory.mktemp("broken") / "flows"
    shutil.copytree(REAL_FLOWS, target)
    for name, old, new, _ in BREAKS:
        path = target / name
        text = path.read_text()
        assert text.count(old) == 1, (name, old)
        path.write_text(text.replace(old, new))
    triage = target / "triage.yaml"
    head, situation = triage.read_text().split("    id: situation\n")
    triage.write_text(head + "    id: situation\n" + re.sub(r"goto_flow: \w+", "goto_flow: emergency", situation))
    bundle, problems = parse_folder(target)
    assert bundle is not None and not problems, problems
    return bundle


def test_each_deciding_check_reports_its_broken_flow(broken_flows):
    reported: dict[str, list[str]] = {}
    for flow_id in BROKEN_WALKS:
        walked = walk(broken_flows, flow_id, multi_atoms=MULTI_ATOMS)
        for name, items in check_every_path(broken_flows, walked, DECIDING).failures.items():
            reported.setdefault(name, []).extend(items)
    assert {check for *_, check in BREAKS} == {check.__name__ for check in DECIDING}
    missing = [check.__name__ for check in DECIDING if check.__name__ not in reported]
    assert not missing, f"faults not reported by {missing}"


def test_a_check_cannot_read_what_it_did_not_declare():
    facts = Facts({"harm_level": "significant_harm", "concern_type": ["fii"]},
                  Reads({"harm_level": [{"significant_harm"}], "concern_type": [{"fii"}]}))
    assert facts.has("harm_level", "significant_harm") and facts.has("concern_type", "fii")
    with pytest.raises(UndeclaredRead):
        assert "perpetrator_in_family" in facts
    with pytest.raises(UndeclaredRead):
        facts.has("concern_type", "self_harm")

    @reads({"harm_level": [{"significant_harm"}]})
    def sloppy(c: Case) -> str | None:
        return "FII" if c.has("perpetrator_in_family", "yes") else None

    with pytest.raises(UndeclaredRead):
        sloppy(Case(FlowPath((), Position(flow="can_i_share", node="O03")), Facts({}, sloppy.reads), None))  # type: ignore[arg-type, attr-defined]


@pytest.mark.parametrize(("outcome_id", "answers", "invariant"), [
    ("O09", {"harm_level": "significant_harm", "concern_type": ["under13_sexual_activity"]}, inv2_significant_harm_never_hidden),
    ("O09", {"harm_level": "significant_harm", "concern_type": ["under13_sexual_activity"]}, inv13_under_13),
    ("O04", {"concern_type": ["fii"], "safe_to_inform": "yes"}, inv5_dont_tip_off),
    ("O41", {"concern_type": ["fgm_known"], "jurisdiction": "england", "profession": "teacher"}, inv18_fgm),
    ("O08", {"pf_arrangement": "yes", "pf_notified": "no"}, inv16_private_fostering),
])
def test_deciding_checks_can_fail(real_bundle, outcome_id, answers, invariant):
    """Guard against an invariant that cannot fail: a wrong outcome forced onto answers."""
    engine = Engine(real_bundle)
    node = real_bundle.shared_outcome(outcome_id)
    resolved = engine.resolve(node, answers, "can_i_share")
    case = Case(next(enumerate_paths(real_bundle, "can_i_share")), Facts(engine.facts(answers), invariant.reads),
                OutcomeStep("can_i_share", resolved), 1)
    assert invariant(case)



# --- decoration invariants (every outcome, every group of answers its extras tell apart) ---
def answer_ids(bundle: FlowBundle) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question) and not node.multi:
                ids.setdefault(node.key, [])
                ids[node.key] += [c.id for c in node.choices if c.id not in ids[node.key]]
    return ids


def roles_reaching(walked: Walk) -> dict[str, set[str]]:
    """Per outcome reached or held on some path from the entry flow, the roles on those paths
    (the flows route some outcomes by role: O40 is the personal FGM report of a role the duty
    covers, so nobody else ever sees it)."""
    found: dict[str, set[str]] = {}
    for end, combos in zip(walked.ends, walked.combinations(("profession",)), strict=True):
        roles = {role for (group,) in combos if group for role in group}
        for outcome in [end.position.node, *(h.outcome for h in end.held)]:
            found.setdefault(outcome, set()).update(roles)
    return found


def decoration_cases(bundle: FlowBundle, outcome: Outcome, roles: set[str] | None = None):
    """Answer sets covering every combination of the groups of answers this outcome's extras
    (and the nation filter) tell apart; None stands for 'not answered' (a flow started on its
    own). `roles`: the roles that can reach the outcome (default: all)."""
    atoms = [a for e in bundle.extras_for(outcome) for a in e.when.atoms()]
    ids = answer_ids(bundle)
    if roles is not None:
        ids = {**ids, "profession": [r for r in ids["profession"] if r in roles]}
    keys = sorted({a.question for a in atoms} | {"jurisdiction", "profession", "org_type"})
    options = []
    for key in keys:
        if key not in ids:  # a multi-select: its atoms' answers, one at a time
            values = sorted({v for a in atoms if a.question == key for v in a.values})
            options.append([None] + [[v] for v in values])
            continue
        groups: dict[tuple, object] = {}
        for value in [None, *ids[key]]:
            if key in {"jurisdiction", "profession"}:  # nation filter, terms, notes by role
                groups[(value,)] = value
                continue
            answers = {} if value is None else {key: value}
            groups.setdefault(tuple(a.holds(answers) for a in atoms if a.question == key), value)
        options.append(list(groups.values()))
    for combo in itertools.product(*options):
        yield {k: v for k, v in zip(keys, combo, strict=True) if v is not None}


def duty_applies(gateway: str, facts: Mapping) -> bool:
    """Whom each duty binds (guidance N1, G1): a legal obligation is claimed only for them."""
    org, role, nation = facts.get("org_type"), facts.get("profession"), facts.get("jurisdiction")
    return {
        "children-act-1989-s47": org in {"public_body", "nhs_health"},
        "sswb-wales-2014-s130": facts.get("wales_relevant_partner") == "yes",
        "sswb-wales-2014-s128": facts.get("wales_relevant_partner") == "yes",
        "chsa-2011-s60-s61": role == "police" or (org == "public_body" and role == "social_worker"),
        "asp-scotland-2007-s5": org in {"public_body", "nhs_health"},
        "fgm-act-2003-s5b": role in {"doctor", "nurse_midwife", "other_regulated_health", "teacher", "not_sure", None}
        or (role == "social_worker" and nation == "wales"),
        "court-order": True, "criminal-law-ni-1967-s5": True,
        # Edition 3: the s16LA duty binds relevant persons in England (C1 row 3c, T7); the CSA
        # reporting duty, once commenced, adults in regulated activity (C2 E3).
        # (no nation among the answers: an outcome only England's routing reaches, e.g. O62)
        "children-act-2004-s16la": nation in {"england", None} and facts.get("s16la_relevant_person", "yes") == "yes",
        "crime-and-policing-csa-mandatory-reporting": nation in {"england", None},
    }.get(gateway, False)


ENGLAND_ONLY = {"children-act-1989-s17", "children-act-1989-s27", "children-act-2004-s11", "care-act-2014-s42",
                "children-act-2004-s16la", "crime-and-policing-csa-mandatory-reporting"}


def decoration_problems(bundle: FlowBundle, engine: Engine, outcome: Outcome, answers: dict) -> list[str]:
    resolved = engine.resolve(outcome, answers)
    nation = answers.get("jurisdiction")
    found = []
    if "GR7" not in resolved.rules or not resolved.record:  # INV3
        found.append("INV3 no GR7 / record")
    if resolved.verdict in SHARING and "GR6" not in resolved.rules:  # INV9
        found.append("INV9 sharing without GR6")
    if "GR5" in resolved.rules and not resolved.protect_identities:
        found.append("INV9 GR5 without a line saying whom to protect")
    if nation in NATION_NOTES and not any(n.startswith(NATION_NOTES[nation]) for n in resolved.notes):  # INV11
        found.append(f"INV11 no {nation} note")
    if outcome.id == "O13":  # INV8
        if nation in {None, "england", "wales"} and "fpr-2010-r12-73-pd12g" not in resolved.gateways:
            found.append("INV8 O13 without PD 12G in England/Wales")
        if nation in {"scotland", "northern_ireland"} and not any("legal adviser" in n for n in resolved.notes):
            found.append("INV8 O13 outside England/Wales without a legal-adviser note")
    for gateway in resolved.gateways:  # INV17
        where = set(bundle.gateways[gateway].jurisdictions)
        if nation in NATIONS and nation not in where:
            found.append(f"INV17 {gateway} does not apply in {nation}")
        if nation == "not_sure" and where != NATIONS:
            found.append(f"INV17 {gateway} is not UK-wide (nation not sure)")
        if gateway in ENGLAND_ONLY and nation not in {None, "england"}:
            found.append(f"INV17 {gateway} outside England")
    found += wording_problems(resolved, answers)
    if "uk-gdpr-art6-1c" in resolved.gateways and not any(
            duty_applies(g, answers) for g in resolved.gateways):
        found.append(f"INV17 legal obligation claimed without a duty that binds this user ({resolved.gateways})")
    for gateway in resolved.gateways:
        if gateway in {"fgm-act-2003-s5b", "sswb-wales-2014-s130", "sswb-wales-2014-s128",
                       "chsa-2011-s60-s61", "asp-scotland-2007-s5"} and not duty_applies(gateway, answers):
            found.append(f"INV17 {gateway} claimed for someone it does not bind")
    return found


NOT_AN_ACTION = {"you", "your", "the", "this", "that", "it", "a", "an", "there", "they", "we", "i"}
ENGLISH_TERM = "children's social care"  # N1 row 1, England


def wording_problems(resolved, answers: Mapping) -> list[str]:
    """INV19, the mechanical part of W1-W9."""
    found = []
    texts = [resolved.headline, resolved.summary or "", resolved.what_to_share, resolved.tell_family,
             resolved.verdict_label, *resolved.because, *resolved.next_steps, *resolved.notes,
             *resolved.protect_identities, *resolved.profession_notes,
             *(t for a in resolved.actions for t in (a.who, a.what, a.by_when))]
    for text in texts:
        if re.search(r"seed[ _]?0|\.(txt|ya?ml|md|py)\b", text, re.IGNORECASE):
            found.append(f"INV19 a file name in user text: {text[:60]!r}")
    if len(resolved.headline) > 120:
        found.append(f"INV19 headline of {len(resolved.headline)} characters")
    first = re.split(r"[^A-Za-z']", resolved.headline, maxsplit=1)[0].lower()
    if not first or first in NOT_AN_ACTION:
        found.append(f"INV19 headline does not start with an action: {resolved.headline!r}")
    if not resolved.actions or not all(a.who and a.what and a.by_when for a in resolved.actions):
        found.append("INV19 actions missing, or without who, what and by when")
    role = answers.get("profession")
    for note in resolved.profession_notes:
        if "GMC" in note and role != "doctor" or "NMC" in note and role != "nurse_midwife":
            found.append(f"INV19 a regulator's note for {role}: {note[:60]!r}")
    if answers.get("jurisdiction") in {"wales", "scotland", "northern_ireland"}:
        for text in texts:
            if ENGLISH_TERM in text.lower():
                found.append(f"INV19 England's term outside England: {text[:80]!r}")
                break
    return found


def test_every_outcome_cites_what_applies_in_every_nation(real_bundle, walked):
    engine = Engine(real_bundle)
    reaching = roles_reaching(walked)
    failures, count = [], 0
    for outcome in outcomes(real_bundle):
        for answers in decoration_cases(real_bundle, outcome, reaching.get(outcome.id)):
            count += 1
            for problem in decoration_problems(real_bundle, engine, outcome, answers):
                failures.append(f"{outcome.id}: {problem} for {answers}")
    RUN_SUMMARY["decoration"] = (f"INV3, INV8, INV9, INV11, INV17, INV19 (decoration): {count:,} outcome x "
                                 "answer groups")
    assert not failures, "\n".join(failures[:20])


# --- INV14 route independence --------------------------------------------------------------
def verdict_of(step: OutcomeStep) -> tuple:
    return (step.outcome.id, step.outcome.verdict.value, step.outcome.consent_position.value,
            tuple(sorted(s.id for s in step.secondary)))


def test_inv14_same_answers_same_verdict_on_every_route(real_bundle, walked):
    route_only = real_bundle.conventions.route_only
    pairs = route_pairs(real_bundle, route_only, result=verdict_of)
    # route answers walked as one group share one continuation: every pair of them agrees
    grouped = sum(paths * len(step.members) * (len(step.members) - 1) // 2
                  for step, paths in walked.through(lambda s: s.key in route_only and bool(s.alternatives)))
    RUN_SUMMARY["inv14"] = (
        f"INV14 (route independence): {grouped:,} pairs of routes share one continuation, {pairs.shared:,} "
        f"meetings of different routes with the same answers, {pairs.compared:,} pairs of ends compared")
    assert not pairs.differing, "\n".join(pairs.differing[:10])
    assert grouped > 0 and pairs.shared > 0


def test_inv14_can_fail(tmp_path):
    """Two routes that ask the same question and route it differently must be caught."""
    source = ROOT / "tests" / "fixtures" / "sample_flows"
    target = tmp_path / "flows"
    target.mkdir()
    for file in source.glob("*.yaml"):
        (target / file.name).write_text(file.read_text())
    (target / "conventions.yaml").write_text("route_only: [path]\n")
    start = (source / "start_here.yaml").read_text()
    start = start.replace("start: nation", "start: path").replace("nodes:\n", """nodes:
  - type: question
    id: path
    text: Which way?
    choices:
      - {id: left, label: Left, next: agreed_left}
      - {id: right, label: Right, next: agreed_right}
  - type: question
    id: agreed_left
    asks: agreed
    text: Has the family agreed?
    choices:
      - {id: "yes", label: "Yes", next: SHARE}
      - {id: "no", label: "No", next: nation}
  - type: question
    id: agreed_right
    asks: agreed
    text: Has the family agreed?
    choices:
      - {id: "yes", label: "Yes", next: NOSHARE}
      - {id: "no", label: "No", next: nation}
""", 1)
    (target / "start_here.yaml").write_text(start)
    bundle = load_bundle(target)
    pairs = route_pairs(bundle, ["path"], result=verdict_of)
    assert pairs.differing, "route dependence not detected"


def test_inv14_fixture_the_self_harming_fifteen_year_old(real_engine):
    """Guidance INV14 fixture: the same facts by the main check and by the consent route."""
    base = {"immediate_danger": "no", "jurisdiction": "england", "org_type": "nhs_health",
            "profession": "nurse_midwife", "subject": "child", "recipient": "parent_carer",
            "concern_about_this_parent": "no", "info_kind": "health_record"}
    from bot.core.evaluate import evaluate

    for harm, extra, expected in [
        ("significant_harm", {"concern_type": ["self_harm"], "carers_protective": "yes", "consent_status": "refused"},
         ("O28", "refused_overridden")),
        ("welfare_need", {"pf_arrangement": "no", "pr_info_whose": "child_own_confidential", "c_child_age_band": "13_15",
                          "c_competent": "yes", "pr_child_view": "refuses", "public_interest_other": "no"},
         ("O47", "refused_respected")),
        ("welfare_need", {"pf_arrangement": "no", "pr_info_whose": "child_own_confidential", "c_child_age_band": "13_15",
                          "c_competent": "yes", "pr_child_view": "refuses", "public_interest_other": "yes"},
         ("O10", "refused_overridden")),
    ]:
        results = {evaluate(real_engine, {**base, "situation": route, "harm_level": harm, **extra})["outcome_id"]
                   for route in ("share_concern", "consent_question", "not_sure")}
        consent = {evaluate(real_engine, {**base, "situation": route, "harm_level": harm, **extra})["consent_position"]
                   for route in ("share_concern", "consent_question", "not_sure")}
        assert (results, consent) == ({expected[0]}, {expected[1]})


def test_inv14_one_key_per_fact_and_shared_cores(real_bundle):
    """INV14(a): retired aliases are asked by no node. (b): every edge into a core's outcomes
    starts at one of that core's nodes."""
    keys = {n.key for f in real_bundle.flows.values() for n in f.nodes if isinstance(n, Question)}
    retired = {r.key for r in real_bundle.manifest.retired if r.answer is None}
    assert not keys & retired
    core_of = {"SH": {"O03", "O04", "O05", "O28", "O40", "O41", "O42", "O43"}, "CONSENT": {"O09", "O31"},
               "CONSENT|CP": {"O08", "O10", "O11"}, "CP": {"O47"}, "PF": {"O48", "O49"}}
    for flow in real_bundle.flows.values():
        for node in flow.nodes:
            if not isinstance(node, Question):
                continue
            targets = [node, *node.branches, *node.choices, *(b for c in node.choices for b in c.branches)]
            for target in targets:
                if not target.next:
                    continue
                for cores, ids in core_of.items():
                    if target.next in ids:
                        assert set(cores.split("|")) & set(node.cores), (flow.id, node.id, target.next)


def test_decoration_checks_can_fail(real_bundle):
    """An England-only duty mislabelled as UK-wide, and a legal obligation without a duty."""
    import dataclasses

    s17 = real_bundle.gateways["children-act-1989-s17"]
    gateways = {**real_bundle.gateways,
                s17.id: s17.model_copy(update={"jurisdictions": sorted(NATIONS)})}
    bundle = dataclasses.replace(real_bundle, gateways=gateways, _index=None)
    engine = Engine(bundle)
    outcome = bundle.shared_outcome("O18")
    broken = outcome.model_copy(update={"gateways": [*outcome.gateways, s17.id]})
    assert any("INV17" in p for p in decoration_problems(
        bundle, engine, broken, {"jurisdiction": "wales", "org_type": "public_body"}))
    charity = {"jurisdiction": "england", "org_type": "charity_voluntary"}
    assert any("legal obligation" in p for p in decoration_problems(
        real_bundle, Engine(real_bundle), outcome.model_copy(update={"extras": [
            e.model_copy(update={"when": e.when.__class__(e.when.question, frozenset({"charity_voluntary"}))})
            for e in outcome.extras[:1]]}), charity))


@pytest.mark.parametrize(("update", "nation", "problem"), [
    ({"headline": "Share what {childrens_services} need today for their enquiry, and agree with the social worker "
      "whether and when the family is told."}, "wales", "INV19 headline of"),
    ({"headline": "You should share what they need."}, "england", "does not start with an action"),
    ({"what_to_share": "As in seed 004_077edd6fdf184301.txt."}, "england", "a file name"),
    ({"actions": []}, "england", "actions missing"),
    ({"tell_family": "Agree with children's social care who tells the family."}, "scotland", "England's term"),
])
def test_wording_checks_can_fail(real_bundle, update, nation, problem):
    """INV19: an outcome reworded against W1-W6 is reported."""
    outcome = real_bundle.shared_outcome("O18").model_copy(update=update)
    found = decoration_problems(real_bundle, Engine(real_bundle), outcome,
                                {"jurisdiction": nation, "org_type": "public_body", "profession": "teacher"})
    assert any(problem in p for p in found), found


def test_inv12_the_log_holds_ids_not_free_text(real_bundle, tmp_path):
    """INV12: a logged decision keeps answers as ids and enums; identifiers are refused. INV21(b):
    it holds the guidance edition and the date the law was applied at (the walk's date)."""
    engine = Engine(real_bundle)
    on = real_bundle.manifest.checks_at
    clock = FrozenClock(datetime(on.year, on.month, on.day, 10, tzinfo=UTC))
    conv = conversations(engine, Storage(tmp_path / "inv12.db", clock))
    first_to: dict[str, FlowPath] = {}
    for end in walk(real_bundle, "can_i_share").ends:
        first_to.setdefault(end.path.end.node, end.path)
    for outcome_id, path in sorted(first_to.items()):
        turn = conv.start(f"user-{outcome_id}", flow_id="can_i_share")
        for step in path.steps:
            turn = conv.act(f"user-{outcome_id}", turn.conversation_id, turn.version,
                            Answer(turn.step.question.id, step.answer))
        assert turn.finished, outcome_id
        conv.record(f"user-{outcome_id}", turn.conversation_id, RecordForm(decision="deferred"))
    rows = decisions(conv.storage)
    assert len(rows) == len(first_to)
    for row in rows:
        for key, value in row["answers"].items():
            values = value if isinstance(value, list) else [value]
            assert all(v.replace("_", "").isalnum() and v == v.lower() for v in values), (key, value)
        assert row["flow_version"] == real_bundle.version_hash
        assert row["guidance_edition"] == "3"
        assert row["law_as_at"] == on.isoformat() and row["commencements"] == {}


def test_no_verdict_is_missing_from_the_precedence(real_bundle):
    assert sorted(real_bundle.conventions.precedence) == sorted(Verdict)
    assert Path(ROOT / "flows" / "conventions.yaml").exists()
