"""The design's thirteen safety invariants (Guidance model C10), checked on every path.

Every path from the entry flow (hand-overs followed, every multi-select combination the flows
tell apart), plus every flow run on its own. A flow change that breaks an invariant fails here
with the path that breaks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.core.conversations import Answer
from bot.core.engine import Engine, ResolvedOutcome
from bot.core.presentation import OutcomeView, outcome_view
from bot.core.record import RecordForm
from bot.flows.conditions import Atom
from bot.flows.loader import FlowBundle
from bot.flows.paths import FlowPath, enumerate_paths
from bot.flows.schema import Outcome
from bot.storage import Storage
from tests.conftest import conversations, decisions

CR3 = {"sexual_abuse", "fii", "carer_may_harm_or_react", "investigation_risk"}
SHARING = {"refer_to_childrens_social_care", "report_to_police", "refer_to_lado",
           "refer_to_adult_safeguarding", "share_with_consent", "share_without_consent",
           "share_summary_only", "emergency_call_999"}
CONSENT_ASKED = {"given", "informed_not_asked", "refused_overridden", "refused_respected"}
NOT_SURE_KEYS = {"harm_level", "c_harm_level", "a_capacity", "c_competent", "public_interest_other",
                 "a_override", "carers_protective"}
STATUTORY_REQUESTERS = {"cs_s47", "cs_s17", "police", "cafcass", "court_order"}
NATION_NOTES = {"wales": "Wales:", "scotland": "Scotland:", "northern_ireland": "Northern Ireland:"}
# Answers an invariant reads that the flows might not tell apart on their own.
EXTRA_ATOMS = [Atom("concern_type", frozenset({"under13_sexual_activity"}))]


@dataclass
class Case:
    path: FlowPath
    answers: dict
    outcome: ResolvedOutcome
    view: OutcomeView

    def has(self, key: str, *values: str) -> bool:
        value = self.answers.get(key)
        chosen = set(value) if isinstance(value, list) else {value}
        return bool(chosen & set(values))


def inv1_emergency_first(c: Case) -> str | None:
    if c.answers.get("immediate_danger") == "yes":
        if c.outcome.id != "O01" or len(c.path.steps) != 1:
            return "immediate danger must go straight to O01 (call 999)"
    if c.answers.get("immediate_danger") == "not_sure" and c.outcome.id != "O02":
        return "not sure about immediate danger must end at O02"
    return None


def inv2_significant_harm_never_do_not_share(c: Case) -> str | None:
    if c.has("harm_level", "significant_harm") or c.has("c_harm_level", "significant_harm"):
        if c.outcome.verdict == "do_not_share":
            return "significant harm ended in do_not_share"
        if c.outcome.dsl_alert == "none":
            return "significant harm without a DSL alert"
    if c.has("sr_child_at_risk_now", "yes") or c.has("a_children_at_risk", "yes"):
        if c.outcome.verdict in ("do_not_share", "do_not_share_yet_seek_advice"):
            if not any("must be referred" in note for note in c.outcome.notes):
                return "a child at risk now, not shared, and no instruction to refer the concern"
        if c.outcome.dsl_alert == "none":
            return "a child at risk now without a DSL alert"
    return None


def inv3_always_record(c: Case) -> str | None:
    if "GR7" not in c.outcome.rules or not c.outcome.record:
        return "outcome without GR7 and record guidance"
    return None


def inv4_dsl_alert(c: Case) -> str | None:
    if c.outcome.dsl_alert != "none":
        return None
    reasons = []
    if c.outcome.verdict in ("emergency_call_999", "refer_to_childrens_social_care",
                             "report_to_police", "refer_to_lado", "refer_to_adult_safeguarding",
                             "share_without_consent"):
        reasons.append(f"verdict {c.outcome.verdict}")
    if c.has("harm_level", "significant_harm", "not_sure") or c.has("c_harm_level", "significant_harm", "not_sure"):
        reasons.append("significant harm or not sure")
    if c.has("rq_requester", *STATUTORY_REQUESTERS) and not c.has("rq_individual_or_aggregate", "aggregate_planning"):
        reasons.append("a statutory, police, court or Cafcass request")
    if "al_harm_test" in c.answers:
        reasons.append("an allegation about staff")
    if "sr_requester" in c.answers:
        reasons.append("specialist records")
    return f"no DSL alert despite {', '.join(reasons)}" if reasons else None


def inv5_dont_tip_off(c: Case) -> str | None:
    if c.has("concern_type", *CR3) or c.has("c_exception", "yes", "not_sure"):
        if c.outcome.consent_position in CONSENT_ASKED:
            return f"a CR3 exception applies but consent position is {c.outcome.consent_position}"
        if c.outcome.tell_family.lower().startswith("tell"):
            return "a CR3 exception applies but the outcome says to tell the family"
    return None


def inv6_no_role_no_share(c: Case) -> str | None:
    if c.has("recipient", "no_safeguarding_role") or c.has("rq_requester", "no_role"):
        if c.outcome.verdict != "do_not_share":
            return "recipient with no safeguarding role but not do_not_share"
    return None


def inv7_therapy_notes(c: Case) -> str | None:
    if c.has("info_kind", "specialist_therapy_record") or "sr_requester" in c.answers:
        if c.outcome.id not in {"O14", "O15", "O16", "O17"}:
            return f"specialist records ended at {c.outcome.id}"
        if c.outcome.verdict == "share_without_consent" and c.outcome.id != "O16":
            return "specialist records released without consent outside a court order"
        if c.outcome.id in {"O14", "O17"} and "verbatim" not in c.outcome.what_to_share and "whole set" not in c.outcome.what_to_share:
            return "specialist summary outcome does not warn against verbatim notes"
    return None


def inv8_court_material(c: Case) -> str | None:
    if c.has("info_kind", "court_family_proceedings") or c.has("rq_cafcass_direction", "onward_court_material"):
        if c.outcome.id != "O13" or c.outcome.verdict != "do_not_share":
            return "court material not routed to O13"
        if c.answers.get("jurisdiction") in (None, "england", "wales"):
            if "fpr-2010-r12-73-pd12g" not in c.outcome.gateways:
                return "court material in England/Wales without the PD12G restriction"
        elif not any("legal adviser" in note for note in c.outcome.notes):
            return "court material outside England/Wales without advice to ask the court"
    return None


def inv9_minimum_necessary(c: Case) -> str | None:
    if c.outcome.verdict in SHARING and "GR6" not in c.outcome.rules:
        return "sharing outcome without GR6"
    if c.outcome.verdict in SHARING and c.has("info_kind", "third_party_informant") and "GR5" not in c.outcome.rules:
        return "third party named but no GR5 identity prompt"
    return None


def inv10_not_sure_means_advice(c: Case) -> str | None:
    if not c.path.steps:
        return None
    last = c.path.steps[-1]
    if last.key in NOT_SURE_KEYS and last.answer == "not_sure" and c.outcome.id != "O07":
        return f"not sure on {last.key} did not lead to O07"
    if any(c.answers.get(k) == "not_sure" for k in NOT_SURE_KEYS) and c.outcome.verdict == "do_not_share":
        return "not sure led to do_not_share"
    return None


def inv11_jurisdiction_and_disclaimer(c: Case) -> str | None:
    if not c.view.jurisdiction or "not legal advice" not in c.view.disclaimer:
        return "no jurisdiction or disclaimer line"
    nation = c.answers.get("jurisdiction")
    if nation in NATION_NOTES and not any(n.startswith(NATION_NOTES[nation]) for n in c.outcome.notes):
        return f"no note on what differs in {nation}"
    return None


def inv13_under_13(c: Case) -> str | None:
    if c.has("concern_type", "under13_sexual_activity"):
        if c.outcome.verdict not in ("refer_to_childrens_social_care", "report_to_police"):
            return f"under-13 sexual activity ended at {c.outcome.id} ({c.outcome.verdict})"
    return None


INVARIANTS: list[Callable[[Case], str | None]] = [
    inv1_emergency_first, inv2_significant_harm_never_do_not_share, inv3_always_record,
    inv4_dsl_alert, inv5_dont_tip_off, inv6_no_role_no_share, inv7_therapy_notes,
    inv8_court_material, inv9_minimum_necessary, inv10_not_sure_means_advice,
    inv11_jurisdiction_and_disclaimer, inv13_under_13,
]


def all_paths(bundle: FlowBundle):
    yield from enumerate_paths(bundle, bundle.entry, extra_atoms=EXTRA_ATOMS)
    for flow_id in sorted(set(bundle.flows) - {bundle.entry}):
        yield from enumerate_paths(bundle, flow_id, extra_atoms=EXTRA_ATOMS)


def test_every_path_keeps_every_invariant(real_bundle, capsys):
    engine = Engine(real_bundle)
    failures: dict[str, list[str]] = {}
    count = 0
    outcomes_seen: set[str] = set()
    for path in all_paths(real_bundle):
        node = real_bundle.node(path.end.flow, path.end.node)
        assert isinstance(node, Outcome)
        outcome = engine.resolve(node, path.answers, path.end.flow)
        case = Case(path, path.answers, outcome, outcome_view(real_bundle, outcome))
        outcomes_seen.add(outcome.id)
        for invariant in INVARIANTS:
            problem = invariant(case)
            if problem:
                failures.setdefault(invariant.__name__, []).append(f"{problem}: {path.describe()}")
        count += 1
    with capsys.disabled():
        print(f"\nsafety invariants: {len(INVARIANTS) + 1} invariants checked on {count} paths "
              f"reaching {len(outcomes_seen)} outcomes")
    report = [f"{name} ({len(items)} paths), e.g. {items[0]}" for name, items in failures.items()]
    assert not failures, "\n".join(report)
    assert count > 10_000


@pytest.mark.parametrize("flow_id", ["can_i_share", "consent", "adult_at_risk"])
def test_invariant_checks_can_fail(real_bundle, flow_id):
    """Guard against an invariant test that cannot fail: a do_not_share outcome forced onto a
    significant-harm path must be caught."""
    engine = Engine(real_bundle)
    bad = real_bundle.shared_outcome("O09")
    harm_key = "c_harm_level" if flow_id == "consent" else "harm_level"
    answers = {harm_key: "significant_harm", "concern_type": ["under13_sexual_activity"]}
    outcome = engine.resolve(bad, answers, flow_id)
    path = next(enumerate_paths(real_bundle, flow_id))
    case = Case(path, answers, outcome, outcome_view(real_bundle, outcome))
    assert inv2_significant_harm_never_do_not_share(case)
    assert inv13_under_13(case)
    assert inv4_dsl_alert(case)


def test_inv12_the_log_holds_ids_not_free_text(real_bundle, tmp_path):
    """INV12: a logged decision keeps answers as ids and enums; identifiers are refused."""
    engine = Engine(real_bundle)
    conv = conversations(engine, Storage(tmp_path / "inv12.db"))
    first_to: dict[str, FlowPath] = {}
    for path in enumerate_paths(real_bundle, real_bundle.entry):
        first_to.setdefault(path.end.node, path)
    for outcome_id, path in sorted(first_to.items()):
        turn = conv.start(f"user-{outcome_id}")
        for step in path.steps:
            turn = conv.act(f"user-{outcome_id}", turn.conversation_id, turn.version,
                            Answer(step.node, step.answer))
        conv.record(f"user-{outcome_id}", turn.conversation_id, RecordForm(decision="deferred"))
    rows = decisions(conv.storage)
    assert len(rows) == len(first_to)
    for row in rows:
        for key, value in row["answers"].items():
            values = value if isinstance(value, list) else [value]
            assert all(v.replace("_", "").isalnum() and v == v.lower() for v in values), (key, value)
        assert row["flow_version"] == real_bundle.version_hash
        assert row["guidance_edition"] == real_bundle.manifest.guidance_edition
