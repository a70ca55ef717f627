"""The design's safety invariants INV1-INV19 (guidance edition 2, C10), checked on every path.

There are millions of paths from `triage` (every profile x every route x every combination of
the 16 concern options the flows tell apart), so they are checked in two exact parts:

- *Deciding* invariants (verdicts, consent positions, DSL alerts, family lines, primary and
  secondary outcomes) on the memoised walk (`bot.flows.paths.walk`): partial paths that agree
  on every answer anything later can read (and on what these invariants read, `view`) have
  the same future, so each distinct end is checked once for all the paths that reach it.
- *Decoration* invariants (gateways by nation and duty, golden rules, notes, wording) on every
  outcome, for one answer from each group of answers its extras tell apart, so for every
  nation, organisation type, role and answer that changes what the outcome cites or says.

INV14 (route independence) compares the continuations of every route-only question pairwise
(`route_pairs`): paths with the same answers either meet in one continuation or are compared
at their ends. Counts are printed (pytest -s shows them; CI's make test prints them too).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.conversations import Answer
from bot.core.engine import Engine, OutcomeStep, ResolvedOutcome
from bot.core.record import RecordForm
from bot.flows.conditions import parse_condition
from bot.flows.loader import FlowBundle, load_bundle
from bot.flows.paths import End, FlowPath, enumerate_paths, outcomes, route_pairs, walk
from bot.flows.schema import PRECEDENCE, Outcome, Question, Verdict
from bot.storage import Storage
from tests.conftest import ROOT, conversations, decisions

CR3_ALWAYS = {"fii", "carer_may_harm_or_react", "investigation_risk", "physical_abuse_by_carer"}
DONT_TELL_CONCERNS = CR3_ALWAYS | {"fgm_known", "fgm_risk", "not_sure"}
REFERRALS = {"emergency_call_999", "report_to_police", "refer_to_childrens_social_care", "refer_to_lado"}
SHARING = REFERRALS | {"refer_to_adult_safeguarding", "share_with_consent", "share_without_consent",
                       "share_summary_only"}
CONSENT_ASKED = {"given", "informed_not_asked", "refused_overridden", "refused_respected"}
STATUTORY_REQUESTERS = {"cs_s47", "cs_s17", "police", "cafcass", "court_order"}
FGM_COVERED = {"doctor", "nurse_midwife", "other_regulated_health", "social_worker", "teacher", "not_sure"}
NOT_SURE_STRONG = {"harm_level", "a_capacity", "c_competent", "public_interest_other", "a_override",
                   "carers_protective", "cm_unreferred_risk", "sr_child_at_risk_now", "rq_unreferred_risk",
                   "pf_arrangement", "a_dash_risk"}
NOT_SURE_E2 = {"jurisdiction", "org_type", "subject", "info_kind", "rq_requester", "rq_written_purpose",
               "rq_court_order", "rq_family_agrees", "rq_cafcass_direction", "sr_requester", "sr_request_form",
               "sr_reasonable_line", "c_child_age_band"}
NATION_NOTES = {"wales": "Wales:", "scotland": "Scotland:", "northern_ireland": "Northern Ireland:"}
NATIONS = {"england", "wales", "scotland", "northern_ireland"}
RANK = {v.value: i for i, v in enumerate(PRECEDENCE)}
# Answers the invariants read that the flows might group with another answer: never merged.
EXTRA_CONDITIONS = [parse_condition({"concern_type": ["under13_sexual_activity"]})] + [
    parse_condition({key: ["not_sure"]}) for key in sorted(NOT_SURE_STRONG | NOT_SURE_E2)]


def has(facts: Mapping, key: str, *values: str) -> bool:
    value = facts.get(key)
    chosen = set(value) if isinstance(value, list) else {value}
    return bool(chosen & set(values))


def view(facts: Mapping, answers: Mapping) -> tuple:
    """What the deciding invariants read from a path beyond what the flows still read: two
    partial paths are merged only if these agree too."""
    return (
        facts.get("immediate_danger"), facts.get("jurisdiction"),
        facts.get("profession") in FGM_COVERED if "profession" in facts else None,
        facts.get("harm_level"), facts.get("a_children_at_risk"),
        has(facts, "recipient", "no_safeguarding_role"), has(facts, "recipient", "parent_carer"),
        has(facts, "rq_requester", *STATUTORY_REQUESTERS), has(facts, "rq_requester", "no_role"),
        has(facts, "rq_requester", "parent_carer"), has(facts, "rq_individual_or_aggregate", "aggregate_planning"),
        "al_harm_test" in facts, "sr_requester" in facts, has(facts, "sr_requester", "parent_carer"),
        has(facts, "info_kind", "specialist_therapy_record"),
        has(facts, "info_kind", "court_family_proceedings") or has(facts, "rq_cafcass_direction", "onward_court_material"),
        frozenset(k for k in NOT_SURE_STRONG | NOT_SURE_E2 if facts.get(k) == "not_sure"),
        has(facts, "concern_type", "not_sure"),
    )


@dataclass
class Case:
    path: FlowPath
    facts: dict
    step: OutcomeStep

    @property
    def primary(self) -> ResolvedOutcome:
        return self.step.outcome

    @property
    def raised(self) -> tuple[ResolvedOutcome, ...]:
        return self.step.outcomes

    def has(self, key: str, *values: str) -> bool:
        return has(self.facts, key, *values)

    def ids(self) -> set[str]:
        return {o.id for o in self.raised}


# --- deciding invariants (every path) --------------------------------------------------------
def inv1_emergency_first(c: Case) -> str | None:
    if c.facts.get("immediate_danger") == "yes":
        if c.primary.id != "O01" or len(c.path.steps) != 1 or c.step.secondary:
            return "immediate danger must go straight to O01 (call 999), with nothing else"
    if c.facts.get("immediate_danger") == "not_sure" and c.primary.id != "O02":
        return "not sure about immediate danger must end at O02"
    return None


def inv2_significant_harm_never_hidden(c: Case) -> str | None:
    unsure = any(c.facts.get(k) == "not_sure" for k in NOT_SURE_STRONG | {"concern_type"})
    if c.has("harm_level", "significant_harm"):
        ok = (c.primary.verdict in REFERRALS or c.primary.id in {"O06", "O18", "O28"}
              or (c.primary.id == "O07" and unsure))
        if not ok:
            return f"significant harm ended at {c.primary.id} ({c.primary.verdict})"
        if c.primary.dsl_alert == "none":
            return "significant harm without a DSL alert"
    if c.has("a_children_at_risk", "yes") and c.primary.raised_by != "reached":
        return "children at risk: the main check's outcome must be the primary"
    if c.has("a_children_at_risk", "yes") and c.primary.dsl_alert == "none":
        return "children at risk without a DSL alert"
    return None


def inv3_always_record(c: Case) -> str | None:
    for outcome in c.raised:
        if "GR7" not in outcome.rules or not outcome.record:
            return f"{outcome.id} without GR7 and record guidance"
    return None


def inv4_dsl_alert(c: Case) -> str | None:
    if c.primary.dsl_alert != "none":
        return None
    reasons = []
    if c.primary.verdict in REFERRALS | {"refer_to_adult_safeguarding", "share_without_consent"}:
        reasons.append(f"verdict {c.primary.verdict}")
    if c.has("harm_level", "significant_harm", "not_sure"):
        reasons.append("significant harm or not sure")
    if c.has("rq_requester", *STATUTORY_REQUESTERS) and not c.has("rq_individual_or_aggregate", "aggregate_planning"):
        reasons.append("a statutory, police, court or Cafcass request")
    if "al_harm_test" in c.facts:
        reasons.append("an allegation about staff")
    parent_records = c.has("sr_requester", "parent_carer") and c.primary.id in {"O47", "O29"}
    if "sr_requester" in c.facts and not parent_records:
        reasons.append("specialist records")
    if c.has("concern_type", "fgm_known", "fgm_risk"):
        reasons.append("FGM")
    if c.has("pf_arrangement", "yes", "not_sure"):
        reasons.append("private fostering")
    if "O50" in c.ids():
        reasons.append("MARAC")
    return f"no DSL alert despite {', '.join(reasons)}" if reasons else None


def dont_tell(c: Case) -> bool:
    return (c.has("concern_type", *DONT_TELL_CONCERNS) or c.has("perpetrator_in_family", "yes", "not_sure")
            or c.has("safe_to_inform", "no", "not_sure") or c.has("pf_carer_response", "unsafe_to_tell"))


def inv5_dont_tip_off(c: Case) -> str | None:
    if not dont_tell(c):
        return None
    if c.primary.consent_position != "not_sought_unsafe":
        return f"a reason not to tell the family applies but consent position is {c.primary.consent_position}"
    for outcome in c.raised:
        line = outcome.tell_family.lower()
        if line.startswith("tell") or "ask their consent" in line or "seek their consent" in line:
            return f"{outcome.id} tells the user to inform the family first: {outcome.tell_family!r}"
    return None


def inv6_no_role_no_share(c: Case) -> str | None:
    if c.has("recipient", "no_safeguarding_role") and c.primary.id != "O12":
        return f"recipient with no safeguarding role ended at {c.primary.id}"
    if c.has("rq_requester", "no_role"):
        if c.primary.id in {"O12", "O44"}:
            return None
        if (c.primary.verdict in REFERRALS or c.primary.id == "O07") and "O44" in c.ids():
            return None
        return f"a request from someone with no role ended at {c.primary.id} without O44"
    return None


RECORDS_OUTCOMES = {"O14", "O15", "O16", "O17", "O08", "O10", "O29", "O47", "O07"}


def inv7_therapy_notes(c: Case) -> str | None:
    if "sr_requester" not in c.facts:
        return None
    if c.has("concern_about_this_parent", "yes", "not_sure"):
        # a parent the practitioner is worried about: nothing goes to them (O32 or a referral)
        if not (c.ids() & {"O32"} or c.primary.verdict in REFERRALS or c.primary.id == "O07"):
            return f"specialist records asked by a worrying parent ended at {c.primary.id}"
        return None
    if not c.ids() & RECORDS_OUTCOMES:
        return f"specialist records decided by none of {sorted(RECORDS_OUTCOMES)} ({sorted(c.ids())})"
    for outcome in c.raised:
        if outcome.id in {"O14", "O17"} and "verbatim" not in outcome.what_to_share and "whole set" not in outcome.what_to_share:
            return f"{outcome.id} does not warn against verbatim notes"
        if outcome.id not in {"O16", "O08", "O10"} and outcome.verdict == "share_without_consent" and outcome.raised_by != "reached":
            return f"specialist records released without consent outside a court order ({outcome.id})"
    return None


def inv8_court_material(c: Case) -> str | None:
    if not (c.has("info_kind", "court_family_proceedings") or c.has("rq_cafcass_direction", "onward_court_material")):
        return None
    if "O13" not in c.ids():
        return "court material without O13 (primary or secondary)"
    if c.primary.id != "O13":
        if c.primary.verdict in REFERRALS and not c.has("cm_unreferred_risk", "yes"):
            return "a referral over court material without an unreferred risk"
        if c.primary.id == "O07" and not c.has("cm_unreferred_risk", "not_sure"):
            return "advice over court material without a 'not sure'"
    return None


def inv10_not_sure_means_advice(c: Case) -> str | None:
    strong = [k for k in NOT_SURE_STRONG if c.facts.get(k) == "not_sure"]
    if strong and c.primary.verdict == "do_not_share":
        return f"not sure on {strong[0]} led to do_not_share"
    if c.has("harm_level", "not_sure") and RANK[c.primary.verdict] > RANK["do_not_share_yet_seek_advice"]:
        return "not sure about harm led to less than advice"
    if c.has("concern_type", "not_sure") and c.primary.id != "O03":
        return f"concern type not sure ended at {c.primary.id}, not O03"
    if c.has("rq_requester", "not_sure") and c.primary.id != "O33":
        return f"not sure who is asking ended at {c.primary.id}, not O33"
    if c.has("pf_arrangement", "not_sure") and "O49" not in c.ids():
        return "not sure it is private fostering without O49"
    return None


def inv13_under_13(c: Case) -> str | None:
    if c.has("concern_type", "under13_sexual_activity") and c.primary.verdict not in {
            "refer_to_childrens_social_care", "report_to_police"}:
        return f"under-13 sexual activity ended at {c.primary.id} ({c.primary.verdict})"
    return None


def inv15_precedence(c: Case) -> str | None:
    for outcome in c.step.secondary:
        if RANK[outcome.verdict] < RANK[c.primary.verdict]:
            return f"secondary {outcome.id} ({outcome.verdict}) outranks primary {c.primary.id}"
    unsafe = any(o.consent_position == "not_sought_unsafe" for o in c.raised if o.raised_by != "held")
    if (dont_tell(c) or unsafe) and c.primary.consent_position != "not_sought_unsafe":
        return "S3: a reason not to tell the family, but the primary does not say so"
    order = {"none": 0, "routine": 1, "urgent": 2}
    if order[c.primary.dsl_alert] < max(order[o.dsl_alert] for o in c.raised):
        return "S4: the primary's DSL alert is not the highest raised"
    if (c.has("sr_child_at_risk_now", "yes") or c.has("rq_unreferred_risk", "yes")
            or c.has("rq_adult_record_basis", "serious_risk_to_child")) and c.primary.verdict not in REFERRALS:
        return "record-then-refer: an unreferred risk whose referral is not the primary"
    return None


def inv16_private_fostering(c: Case) -> str | None:
    if c.has("pf_arrangement", "yes"):
        if "O48" not in c.ids() and not (c.has("pf_notified", "yes_confirmed") and "O06" in c.ids()):
            return "private fostering without a notification (O48) or a confirmed one (O06)"
        if c.primary.verdict == "do_not_share":
            return "private fostering with a primary do_not_share"
    if c.has("pf_arrangement", "not_sure") and ("O49" not in c.ids() or c.primary.verdict == "do_not_share"):
        return "not sure about private fostering without advice (O49)"
    if c.has("pf_carer_response", "objects"):
        o48 = next((o for o in c.raised if o.id == "O48"), None)
        if o48 is None or o48.consent_position != "refused_overridden":
            return "a carer's objection must not stop the notification (O48, refused_overridden)"
    return None


def inv18_fgm(c: Case) -> str | None:
    if not c.has("concern_type", "fgm_known", "fgm_risk"):
        return None
    nation = c.facts.get("jurisdiction")
    covered = c.facts.get("profession") in FGM_COVERED or "profession" not in c.facts
    if c.has("concern_type", "fgm_known") and nation in {"england", "wales", "not_sure", None} and covered:
        return None if c.primary.id == "O40" else f"known FGM, a covered profession: {c.primary.id}, not O40"
    allowed = {"O05", "O40", "O41", "O42"}
    if c.has("concern_type", "online_sexual_abuse") or (c.has("concern_type", "sexual_abuse") and c.has("perpetrator_in_family", "no")):
        allowed.add("O43")  # a police report for the abuse: more protective than O41
    if c.primary.id not in allowed:
        return f"FGM ended at {c.primary.id}"
    if c.has("fgm_imminent", "yes", "not_sure") and c.primary.id not in {"O42", "O40", "O05"}:
        return f"FGM may be imminent but the primary is {c.primary.id}"
    return None


DECIDING: list[Callable[[Case], str | None]] = [
    inv1_emergency_first, inv2_significant_harm_never_hidden, inv3_always_record, inv4_dsl_alert,
    inv5_dont_tip_off, inv6_no_role_no_share, inv7_therapy_notes, inv8_court_material,
    inv10_not_sure_means_advice, inv13_under_13, inv15_precedence, inv16_private_fostering, inv18_fgm,
]


@pytest.fixture(scope="module")
def walked(real_bundle):
    return walk(real_bundle, real_bundle.entry, extra_conditions=EXTRA_CONDITIONS, view=view)


def case_of(engine: Engine, end: End) -> Case:
    step = engine.conclude(end.path.end, end.path.answers, end.path.held)
    return Case(end.path, engine.facts(end.path.answers), step)


def check_deciding(bundle: FlowBundle, ends: list[End]) -> dict[str, list[str]]:
    engine = Engine(bundle)
    failures: dict[str, list[str]] = {}
    for end in ends:
        case = case_of(engine, end)
        for invariant in DECIDING:
            problem = invariant(case)
            if problem:
                failures.setdefault(invariant.__name__, []).append(f"{problem}: {end.path.describe()}")
    return failures


def test_every_path_keeps_every_deciding_invariant(real_bundle, walked, capsys):
    failures = check_deciding(real_bundle, walked.ends)
    reached = {o for e in walked.ends for o in [e.path.end.node, *(h.outcome for h in e.path.held)]}
    with capsys.disabled():
        print(f"\nsafety invariants: {len(DECIDING)} deciding invariants on {walked.paths:,} paths "
              f"from '{real_bundle.entry}' ({len(walked.ends):,} distinct ends, {walked.states:,} states "
              f"walked), reaching {len(reached)} outcomes")
    report = [f"{name} ({len(items)} ends), e.g. {items[0]}" for name, items in failures.items()]
    assert not failures, "\n".join(report)
    assert walked.paths > 100_000


def test_the_walk_counts_the_same_paths_as_full_enumeration(sample_bundle):
    """The memoised walk is exact: on a bundle small enough to list, it counts every path."""
    listed = list(enumerate_paths(sample_bundle, sample_bundle.entry))
    walked = walk(sample_bundle, sample_bundle.entry)
    assert walked.paths == len(listed)
    assert {e.path.end.node for e in walked.ends} == {p.end.node for p in listed}


# --- decoration invariants (every outcome, every group of answers its extras tell apart) ---
def answer_ids(bundle: FlowBundle) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question) and not node.multi:
                ids.setdefault(node.key, [])
                ids[node.key] += [c.id for c in node.choices if c.id not in ids[node.key]]
    return ids


def decoration_cases(bundle: FlowBundle, outcome: Outcome):
    """Answer sets covering every combination of the groups of answers this outcome's extras
    (and the nation filter) tell apart; None stands for 'not answered'."""
    atoms = [a for e in bundle.extras_for(outcome) for a in e.when.atoms()]
    ids = answer_ids(bundle)
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
    }.get(gateway, False)


ENGLAND_ONLY = {"children-act-1989-s17", "children-act-1989-s27", "children-act-2004-s11", "care-act-2014-s42"}


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
    if "uk-gdpr-art6-1c" in resolved.gateways and not any(
            duty_applies(g, answers) for g in resolved.gateways):
        found.append(f"INV17 legal obligation claimed without a duty that binds this user ({resolved.gateways})")
    for gateway in resolved.gateways:
        if gateway in {"fgm-act-2003-s5b", "sswb-wales-2014-s130", "sswb-wales-2014-s128",
                       "chsa-2011-s60-s61", "asp-scotland-2007-s5"} and not duty_applies(gateway, answers):
            found.append(f"INV17 {gateway} claimed for someone it does not bind")
    return found


def test_every_outcome_cites_what_applies_in_every_nation(real_bundle, capsys):
    engine = Engine(real_bundle)
    failures, count = [], 0
    for outcome in outcomes(real_bundle):
        for answers in decoration_cases(real_bundle, outcome):
            count += 1
            for problem in decoration_problems(real_bundle, engine, outcome, answers):
                failures.append(f"{outcome.id}: {problem} for {answers}")
    with capsys.disabled():
        print(f"decoration invariants (INV3, INV8, INV9, INV11, INV17): {count:,} outcome x answer "
              "groups checked")
    assert not failures, "\n".join(failures[:20])


# --- INV14 route independence --------------------------------------------------------------
def verdict_of(step: OutcomeStep) -> tuple:
    return (step.outcome.id, step.outcome.verdict.value, step.outcome.consent_position.value,
            tuple(sorted(s.id for s in step.secondary)))


def test_inv14_same_answers_same_verdict_on_every_route(real_bundle, walked, capsys):
    route_only = real_bundle.conventions.route_only
    pairs = route_pairs(real_bundle, route_only, result=verdict_of, extra_conditions=EXTRA_CONDITIONS)
    grouped = sum(end.paths * len(step.alternatives) for end in walked.ends
                  for step in end.path.steps if step.key in route_only and step.alternatives)
    with capsys.disabled():
        print(f"INV14 route independence: {grouped:,} route pairs share one continuation (route "
              f"answers grouped), {pairs.shared} meetings of different routes with the same answers, "
              f"{pairs.compared} pairs of different ends compared")
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


# --- the checks can fail -------------------------------------------------------------------
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
    case = Case(next(enumerate_paths(real_bundle, "can_i_share")), engine.facts(answers),
                OutcomeStep("can_i_share", resolved))
    assert invariant(case)


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


def test_inv12_the_log_holds_ids_not_free_text(real_bundle, tmp_path):
    """INV12: a logged decision keeps answers as ids and enums; identifiers are refused."""
    engine = Engine(real_bundle)
    conv = conversations(engine, Storage(tmp_path / "inv12.db"))
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
        assert row["guidance_edition"] == real_bundle.manifest.guidance_edition


def test_no_verdict_is_missing_from_the_precedence(real_bundle):
    assert sorted(real_bundle.conventions.precedence) == sorted(Verdict)
    assert Path(ROOT / "flows" / "conventions.yaml").exists()
