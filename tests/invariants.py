"""The design's deciding safety invariants (guidance edition 2, C10) as checks of one case: a
path's primary and secondary outcomes and the facts on that path.

Every check declares what it reads (`@reads`): per answer key, the tests it makes, each a set
of answers (`has(key, *answers)`: is the answer, or for a multi-select does it include, one
of them), and whether it asks if the question was answered at all (`key in facts`). That
declaration is what makes one check per distinct end exact for all the paths it stands for
(tests/test_guidance_invariants.py): the walk reports every distinct way the paths reaching
an end answered those keys, told apart on those tests, so nothing a check reads is merged
away. A check cannot read anything else: `Facts` answers only declared tests, so a read that
is not declared fails loudly instead of being checked on one path for many.

What a check reads of the outcomes themselves (id, verdict, consent position, DSL alert,
family line, what to share, rules, record, how it was raised, the secondary list) is the
engine's answer for that end, computed in the end's nation. Those fields do not depend on
anything the end merges: the end keeps what the deciding conditions read, and the family
line and what to share are worded in the nation of the case. Rules and record lists only
grow with extras, and every outcome's own lists carry GR7 and a record (the checker insists),
so INV3 holds on the end's lists exactly when it holds on every merged path's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date

from bot.analysis.paths import FlowPath
from bot.core.engine import AnswerValue, OutcomeStep, ResolvedOutcome
from bot.flows.schema import PRECEDENCE

CR3_ALWAYS = {"fii", "carer_may_harm_or_react", "investigation_risk", "physical_abuse_by_carer"}
DONT_TELL_CONCERNS = CR3_ALWAYS | {"fgm_known", "fgm_risk", "not_sure"}
REFERRALS = {"emergency_call_999", "report_to_police", "refer_to_childrens_social_care", "refer_to_lado"}
STATUTORY_REQUESTERS = {"cs_s47", "cs_s17", "police", "cafcass", "court_order"}
FGM_COVERED = {"doctor", "nurse_midwife", "other_regulated_health", "social_worker", "teacher", "not_sure"}
NOT_SURE_STRONG = {"harm_level", "a_capacity", "c_competent", "public_interest_other", "a_override",
                   "carers_protective", "cm_unreferred_risk", "sr_child_at_risk_now", "rq_unreferred_risk",
                   "pf_arrangement", "a_dash_risk", "s16la_detriment"}  # E3: s16la_detriment=not_sure ⇒ O07
RECORDS_OUTCOMES = {"O14", "O15", "O16", "O17", "O08", "O10", "O29", "O47", "O07"}
SH_CORE = {"O03", "O04", "O05", "O28", "O40", "O41", "O42", "O43", "O07"}  # C0 shared cores
RANK = {v.value: i for i, v in enumerate(PRECEDENCE)}
NATION = "jurisdiction"
NATIONS = frozenset({"england", "wales", "scotland", "northern_ireland", "not_sure"})


class Reads:
    """What a check reads: per answer key, the sets of answers it tests (an empty set: whether
    the question was answered)."""

    __slots__ = ("tests", "allowed")

    def __init__(self, tests: Mapping[str, Iterable[Iterable[str]]]):
        self.tests = {key: frozenset(frozenset(t) for t in sets) for key, sets in tests.items()}
        self.allowed: set[tuple[str, tuple[str, ...]]] = set()  # tests already found declared

    def allow(self, key: str, values: tuple[str, ...]) -> None:
        if (key, values) in self.allowed:
            return
        if key not in self.tests:
            raise UndeclaredRead(f"a check read {key!r} without declaring it in @reads")
        if frozenset(values) not in self.tests[key]:
            raise UndeclaredRead(f"a check tested {key} in {sorted(values)} without declaring it")
        self.allowed.add((key, values))


class UndeclaredRead(AssertionError):
    """A check read a fact it did not declare: the walk may have merged paths that differ on it."""


class Facts:
    """The facts of a case (answers and what they imply), open to the tests a check declared:
    the answer given may stand for others that pass and fail the same tests."""

    __slots__ = ("_values", "_reads")

    def __init__(self, values: Mapping[str, AnswerValue], reads: Reads):
        self._values = values
        self._reads = reads

    def __contains__(self, key: str) -> bool:
        self._reads.allow(key, ())
        return key in self._values

    def has(self, key: str, *values: str) -> bool:
        """Whether the answer to `key` is (or, for a multi-select, includes) one of `values`."""
        if (key, values) not in self._reads.allowed:
            self._reads.allow(key, values)
        value = self._values.get(key)
        if value is None:
            return False
        if isinstance(value, list):
            return not set(values).isdisjoint(value)
        return value in values

    def __repr__(self) -> str:
        return repr(self._values)


class Case:
    """One case a check judges: the engine's answer at an end of the walk and the facts of the
    paths it stands for."""

    __slots__ = ("path", "facts", "step", "answered", "has")

    def __init__(self, path: FlowPath, facts: Facts, step: OutcomeStep, answered: int = 0):
        self.path = path          # one path this case stands for (for the message)
        self.facts = facts
        self.step = step
        self.answered = answered  # questions answered on the path, capped at 2 (`counts_answers`)
        self.has = facts.has

    @property
    def primary(self) -> ResolvedOutcome:
        return self.step.outcome

    @property
    def raised(self) -> tuple[ResolvedOutcome, ...]:
        return self.step.outcomes

    def ids(self) -> set[str]:
        return {o.id for o in self.raised}


Check = Callable[[Case], str | None]


def reads(*parts: Mapping[str, Iterable[Iterable[str]]], counts_answers: bool = False
          ) -> Callable[[Check], Check]:
    """Declare what a check reads: per key, the sets of answers it tests (`ANSWERED`: whether
    it was answered), merged over `parts`; and whether it reads how many questions were
    answered."""
    declared: dict[str, set[frozenset[str]]] = {}
    for part in parts:
        for key, tests in part.items():
            declared.setdefault(key, set()).update(frozenset(t) for t in tests)

    def mark(check: Check) -> Check:
        check.reads = Reads(declared)  # type: ignore[attr-defined]
        check.counts_answers = counts_answers  # type: ignore[attr-defined]
        return check
    return mark


ANSWERED: frozenset[str] = frozenset()  # `key in facts`: whether the question was answered
NOT_SURE = {key: [{"not_sure"}] for key in NOT_SURE_STRONG}
DONT_TELL = {"concern_type": [DONT_TELL_CONCERNS], "perpetrator_in_family": [{"yes", "not_sure"}],
             "safe_to_inform": [{"no", "not_sure"}], "pf_carer_response": [{"unsafe_to_tell"}]}


def dont_tell(c: Case) -> bool:
    """A reason not to tell the family first (CR3, S3): reads DONT_TELL."""
    return (c.has("concern_type", *DONT_TELL_CONCERNS) or c.has("perpetrator_in_family", "yes", "not_sure")
            or c.has("safe_to_inform", "no", "not_sure") or c.has("pf_carer_response", "unsafe_to_tell"))


@reads({"immediate_danger": [{"yes"}, {"not_sure"}]}, counts_answers=True)
def inv1_emergency_first(c: Case) -> str | None:
    if c.has("immediate_danger", "yes"):
        if c.primary.id != "O01" or c.answered != 1 or c.step.secondary:
            return "immediate danger must go straight to O01 (call 999), with nothing else"
    if c.has("immediate_danger", "not_sure") and c.primary.id != "O02":
        return "not sure about immediate danger must end at O02"
    return None


@reads({"harm_level": [{"significant_harm"}], "a_children_at_risk": [{"yes"}], "concern_type": [{"not_sure"}]}, NOT_SURE)
def inv2_significant_harm_never_hidden(c: Case) -> str | None:
    unsure = any(c.has(k, "not_sure") for k in NOT_SURE_STRONG | {"concern_type"})
    if c.has("harm_level", "significant_harm"):
        ok = (c.primary.verdict in REFERRALS or c.primary.id in {"O06", "O18", "O28"}
              or (c.primary.id == "O07" and unsure))
        if not ok:
            return f"significant harm ended at {c.primary.id} ({c.primary.verdict})"
        if c.primary.dsl_alert == "none":
            return "significant harm without a DSL alert"
    if c.has("a_children_at_risk", "yes") and c.primary.flow == "adult_at_risk":
        return "children at risk: the main check's outcome must be the primary, not the adult's"
    if c.has("a_children_at_risk", "yes") and c.primary.dsl_alert == "none":
        return "children at risk without a DSL alert"
    return None


@reads()
def inv3_always_record(c: Case) -> str | None:
    for outcome in c.raised:
        if "GR7" not in outcome.rules or not outcome.record:
            return f"{outcome.id} without GR7 and record guidance"
    return None


@reads({"harm_level": [{"significant_harm", "not_sure"}], "rq_requester": [STATUTORY_REQUESTERS],
        "rq_individual_or_aggregate": [{"aggregate_planning"}], "al_harm_test": [ANSWERED],
        "sr_requester": [ANSWERED, {"parent_carer"}], "concern_type": [{"fgm_known", "fgm_risk"}],
        "pf_arrangement": [{"yes", "not_sure"}]})
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


def tells_family_first(line: str) -> bool:
    """A family line that has the user tell the family, or ask their consent, before acting
    (a line that starts "Don't ..." forbids it, whatever follows)."""
    line = line.lower()
    if line.startswith(("don't", "do not", "never", "not ")):
        return False
    return line.startswith("tell") or "ask their consent" in line or "seek their consent" in line


@reads(DONT_TELL)
def inv5_dont_tip_off(c: Case) -> str | None:
    if not dont_tell(c):
        return None
    if c.primary.consent_position != "not_sought_unsafe":
        return f"a reason not to tell the family applies but consent position is {c.primary.consent_position}"
    for outcome in c.raised:
        if tells_family_first(outcome.tell_family):
            return f"{outcome.id} tells the user to inform the family first: {outcome.tell_family!r}"
    return None


@reads({"recipient": [{"no_safeguarding_role"}], "rq_requester": [{"no_role"}]})
def inv6_no_role_no_share(c: Case) -> str | None:
    if c.has("recipient", "no_safeguarding_role") and c.primary.id != "O12":
        return f"recipient with no safeguarding role ended at {c.primary.id}"
    if c.has("rq_requester", "no_role"):
        if c.primary.id in {"O12", "O44"}:
            return None
        if (c.primary.verdict in REFERRALS or c.primary.id in SH_CORE) and "O44" in c.ids():
            return None  # C4: a concern the caller raised goes through the SH-core, O44 beside it
        return f"a request from someone with no role ended at {c.primary.id} without O44"
    return None


@reads({"sr_requester": [ANSWERED, {"parent_carer"}], "concern_about_this_parent": [{"yes", "not_sure"}]})
def inv7_therapy_notes(c: Case) -> str | None:
    if "sr_requester" not in c.facts:
        return None
    if c.has("sr_requester", "parent_carer") and c.has("concern_about_this_parent", "yes", "not_sure"):
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


@reads({"info_kind": [{"court_family_proceedings"}], "rq_cafcass_direction": [{"onward_court_material"}],
        "cm_unreferred_risk": [{"yes"}, {"not_sure"}]})
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


@reads({"concern_type": [{"not_sure"}], "rq_requester": [{"not_sure"}]}, NOT_SURE)
def inv10_not_sure_means_advice(c: Case) -> str | None:
    strong = sorted(k for k in NOT_SURE_STRONG if c.has(k, "not_sure"))
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


@reads({"concern_type": [{"under13_sexual_activity"}]})
def inv13_under_13(c: Case) -> str | None:
    if c.has("concern_type", "under13_sexual_activity") and c.primary.verdict not in {
            "refer_to_childrens_social_care", "report_to_police"}:
        return f"under-13 sexual activity ended at {c.primary.id} ({c.primary.verdict})"
    return None


@reads(DONT_TELL, {"sr_child_at_risk_now": [{"yes"}], "rq_unreferred_risk": [{"yes"}],
                   "rq_adult_record_basis": [{"serious_risk_to_child"}]})
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
            or c.has("rq_adult_record_basis", "serious_risk_to_child")) and c.primary.raised_by == "held":
        return "record-then-refer: the held request or record outcome is the primary, not the referral"
    return None


@reads({"pf_arrangement": [{"yes"}, {"not_sure"}], "pf_notified": [{"yes_confirmed"}],
        "pf_carer_response": [{"objects"}]})
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


@reads({"concern_type": [{"fgm_known", "fgm_risk"}, {"fgm_known"}, {"online_sexual_abuse"}, {"sexual_abuse"}],
        NATION: [ANSWERED, {"england", "wales", "not_sure"}], "profession": [ANSWERED, FGM_COVERED],
        "perpetrator_in_family": [{"no"}], "fgm_imminent": [{"yes", "not_sure"}]})
def inv18_fgm(c: Case) -> str | None:
    if not c.has("concern_type", "fgm_known", "fgm_risk"):
        return None
    nation_covered = c.has(NATION, "england", "wales", "not_sure") or NATION not in c.facts
    covered = c.has("profession", *FGM_COVERED) or "profession" not in c.facts
    if c.has("concern_type", "fgm_known") and nation_covered and covered:
        return None if c.primary.id == "O40" else f"known FGM, a covered profession: {c.primary.id}, not O40"
    allowed = {"O05", "O40", "O41", "O42"}
    if c.has("concern_type", "online_sexual_abuse") or (c.has("concern_type", "sexual_abuse") and c.has("perpetrator_in_family", "no")):
        allowed.add("O43")  # a police report for the abuse: more protective than O41
    if c.primary.id not in allowed:
        return f"FGM ended at {c.primary.id}"
    if c.has("fgm_imminent", "yes", "not_sure") and c.primary.id not in {"O42", "O40", "O05"}:
        return f"FGM may be imminent but the primary is {c.primary.id}"
    return None


# Guidance E3 C0 T7 and N1: provisions passed but not commenced (a note, never a gateway or a duty,
# without an operator's commencement setting: the walk has none), dated items, England-only law.
COMING = {"crime-and-policing-csa-mandatory-reporting", "children-act-2004-s16lc", "cwsa-2026-macpt",
          "kcsie-2026"}
COMING_NOTES = {"csa-n", "s16lc-n", "macpt-n", "kcsie-2026-n"}
COMING_DUTIES = {"csa_report"}
IN_FORCE_FROM = {"uk-gdpr-art6-1ea": date(2026, 2, 5), "children-act-2004-s16la": date(2026, 9, 30)}
BASIS_BEFORE = {"uk-gdpr-art6-1f": date(2026, 2, 5)}  # the basis helper's fallback until then
ENGLAND_ONLY_LAW = {"children-act-2004-s16la", "crime-and-policing-csa-mandatory-reporting",
                    "children-act-2004-s16lc", "cwsa-2026-macpt"} | COMING_NOTES
ENGLAND_PREFIX = "If the child is in England: "


@reads({NATION: [{"england"}, {"not_sure"}, ANSWERED]})
def inv21_law_in_time(c: Case) -> str | None:
    """INV21 (a)-(c) at the walk's date: nothing coming is a gateway or a duty, dated items only
    in force, England-only law only in England (a note only, saying so, when the nation is not
    known), and every raised outcome carries the one date."""
    on = c.primary.law_as_at
    england = c.has(NATION, "england")
    unsure = c.has(NATION, "not_sure") or NATION not in c.facts
    for o in c.raised:
        if o.law_as_at != on:
            return f"{o.id} evaluated at {o.law_as_at}, the primary at {on}: one date per decision"
        for g in o.gateways:
            if g in COMING:
                return f"{o.id} cites {g} as a gateway, but it is not in force (a coming note only)"
            if g in IN_FORCE_FROM and on < IN_FORCE_FROM[g]:
                return f"{o.id} cites {g} at {on}, before it is in force ({IN_FORCE_FROM[g]})"
            if g in BASIS_BEFORE and on >= BASIS_BEFORE[g]:
                return f"{o.id} cites {g} at {on}: from {BASIS_BEFORE[g]} the basis is Art 6(1)(ea)"
            if g in ENGLAND_ONLY_LAW and not england:
                return f"{o.id} cites England-only {g} outside England"
        if COMING_DUTIES & set(o.personal_duties):
            return f"{o.id} gives a duty not yet in force: {sorted(COMING_DUTIES & set(o.personal_duties))}"
    for note in c.primary.law_notes:
        if note.kind == "coming" and note.id not in COMING | COMING_NOTES:
            return f"note {note.id} is shown as coming, but it is not a coming provision"
        if note.id in ENGLAND_ONLY_LAW and not england and not (unsure and note.text.startswith(ENGLAND_PREFIX)):
            return f"England-only note {note.id} shown outside England"
    return None


DECIDING: list[Check] = [
    inv1_emergency_first, inv2_significant_harm_never_hidden, inv3_always_record, inv4_dsl_alert,
    inv5_dont_tip_off, inv6_no_role_no_share, inv7_therapy_notes, inv8_court_material,
    inv10_not_sure_means_advice, inv13_under_13, inv15_precedence, inv16_private_fostering, inv18_fgm,
    inv21_law_in_time,
]
