"""Table-driven: a complete set of answers reaches each outcome of the design's catalogue
(edition 2: O01-O52 and the product's own O29-O33), through `canishare evaluate --batch` (one
process for the whole table)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.analysis.paths import outcomes
from tests.conftest import clean_env

BASE = {"immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body", "profession": "teacher"}
F1 = {**BASE, "situation": "share_concern", "subject": "child", "recipient": "childrens_social_care",
      "info_kind": "observations_disclosures"}
NO_INFO = {k: v for k, v in F1.items() if k != "info_kind"}
SIG = {**F1, "harm_level": "significant_harm"}
# Edition 3: a public body sharing at welfare level with children's social care, police, health or
# education now has the s16LA duty (O62, O63); the consent rows share with another agency.
WELFARE = {**F1, "recipient": "other_safeguarding_agency", "harm_level": "welfare_need", "pf_arrangement": "no",
           "confidential": "confidential"}
S16LA = {**F1, "harm_level": "welfare_need", "pf_arrangement": "no"}
F2 = {**BASE, "situation": "specialist_records", "sr_child_at_risk_now": "no"}
POLICE_NOTES = {**F2, "sr_requester": "police_cps", "sr_request_form": "specific_written",
                "sr_reasonable_line": "yes_stated"}
F3 = {**BASE, "situation": "respond_to_request", "rq_verified": "yes"}
CAFCASS = {**F3, "rq_requester": "cafcass", "rq_written_purpose": "yes", "rq_cafcass_direction": "info_to_cafcass",
           "rq_unreferred_risk": "no"}
F6 = {**BASE, "situation": "adult_at_risk", "a_children_at_risk": "no"}
F7 = {**BASE, "situation": "allegation_about_staff", "al_role": "yes"}
F8 = {**BASE, "situation": "private_fostering"}
CP = {**F1, "recipient": "parent_carer", "concern_about_this_parent": "no", "harm_level": "welfare_need",
      "pf_arrangement": "no", "pr_info_whose": "child_own_confidential", "c_child_age_band": "13_15",
      "c_competent": "yes", "pr_child_view": "refuses"}

TABLE = {
    "O01": {"immediate_danger": "yes"},
    "O02": {"immediate_danger": "not_sure", "jurisdiction": "england", "org_type": "nhs_health"},
    "O03": {**SIG, "concern_type": ["sexual_abuse"], "perpetrator_in_family": "yes"},
    "O04": {**SIG, "concern_type": ["domestic_abuse"], "safe_to_inform": "yes", "consent_status": "not_asked"},
    "O05": {**SIG, "jurisdiction": "northern_ireland", "concern_type": ["sexual_abuse"], "perpetrator_in_family": "no"},
    "O06": {**NO_INFO, "recipient": "internal_dsl"},
    "O07": {**F1, "harm_level": "not_sure"},
    "O08": {**WELFARE, "consent_status": "given"},
    "O09": {**WELFARE, "consent_status": "refused", "public_interest_other": "no"},
    "O10": {**WELFARE, "consent_status": "refused", "public_interest_other": "yes"},
    "O11": {**WELFARE, "confidential": "already_public"},
    "O12": {**NO_INFO, "recipient": "no_safeguarding_role"},
    "O13": {**F1, "info_kind": "court_family_proceedings", "cm_unreferred_risk": "no"},
    "O14": {**F2, "sr_requester": "childrens_social_care_s47"},
    "O15": {**F2, "sr_requester": "defence_or_other_party"},
    "O16": {**F2, "sr_requester": "court_order_or_summons"},
    "O17": {**POLICE_NOTES, "sr_client_views": "informed_agrees"},
    "O18": {**F3, "rq_requester": "cs_s47", "rq_written_purpose": "yes"},
    "O19": {**F3, "rq_requester": "cs_s17", "rq_unreferred_risk": "no", "rq_written_purpose": "yes",
            "rq_family_agrees": "yes"},
    "O20": {**F3, "rq_requester": "cs_s17", "rq_unreferred_risk": "no", "rq_written_purpose": "yes",
            "rq_family_agrees": "no", "harm_level": "welfare_need"},
    "O21": {**F3, "rq_requester": "police", "rq_unreferred_risk": "no", "rq_written_purpose": "yes",
            "rq_police_purpose": "locate_missing_child"},
    "O22": {**F3, "rq_requester": "police", "rq_unreferred_risk": "no", "rq_written_purpose": "yes",
            "rq_police_purpose": "criminal_investigation", "rq_court_order": "no"},
    "O23": {**CAFCASS, "rq_cafcass_whose_info": "about_the_child"},
    "O24": {**F7, "al_harm_test": "yes"},
    "O25": {**F6, "a_care_support_needs": "yes", "a_capacity": "lacks_capacity"},
    "O26": {**F6, "a_care_support_needs": "no", "a_domestic_abuse": "no", "a_override": "no"},
    "O27": {**F3, "rq_requester": "other_professional", "rq_written_purpose": "yes",
            "rq_individual_or_aggregate": "aggregate_planning"},
    "O28": {**SIG, "concern_type": ["self_harm"], "carers_protective": "yes", "consent_status": "given"},
    "O29": {**F3, "rq_requester": "parent_carer", "concern_about_this_parent": "no", "pr_info_whose": "child_general"},
    "O30": {**F7, "al_harm_test": "no_low_level"},
    "O31": {**WELFARE, "consent_status": "not_asked", "c_child_age_band": "16_17", "c_response": "withdrawn"},
    "O32": {**F1, "recipient": "parent_carer", "concern_about_this_parent": "yes", "harm_level": "welfare_need"},
    "O33": {**F3, "rq_verified": "no", "rq_verified_after_check": "cannot_verify"},
    "O40": {**SIG, "concern_type": ["fgm_known"]},
    "O41": {**SIG, "concern_type": ["fgm_risk"], "fgm_imminent": "no"},
    "O42": {**SIG, "concern_type": ["fgm_risk"], "fgm_imminent": "yes"},
    "O43": {**SIG, "concern_type": ["online_sexual_abuse"], "perpetrator_in_family": "no"},
    "O44": {**F3, "rq_requester": "no_role", "nr_raising_concern": "yes", "harm_level": "welfare_need"},
    "O45": {**CAFCASS, "rq_cafcass_whose_info": "adult_own_health_record", "rq_adult_record_basis": "consent_given"},
    "O46": {**CAFCASS, "rq_cafcass_whose_info": "adult_own_health_record", "rq_adult_record_basis": "consent_refused"},
    "O47": {**CP, "public_interest_other": "no"},
    "O48": {**F8, "pf_arrangement": "yes", "harm_level": "no_harm_identified", "pf_notified": "no",
            "pf_carer_response": "objects"},
    "O49": {**F8, "pf_arrangement": "not_sure"},
    "O50": {**F6, "a_care_support_needs": "no", "a_domestic_abuse": "yes", "a_dash_risk": "high", "a_consent": "given"},
    "O51": {**F6, "a_care_support_needs": "no", "a_domestic_abuse": "yes", "a_dash_risk": "standard_or_medium",
            "a_consent": "given"},
    "O52": {**F6, "a_care_support_needs": "no", "a_domestic_abuse": "no", "a_override": "yes"},
    "O62": {**S16LA, "s16la_detriment": "no"},
    "O63": {**S16LA, "s16la_detriment": "yes"},
}
AS_OF = "2026-12-07"  # the law applied (edition 3, T9); never today's date


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    lines = "\n".join(json.dumps({"answers": answers}) for answers in TABLE.values()) + "\n"
    run = subprocess.run([sys.executable, "-m", "bot", "evaluate", "--batch", "--as-of", AS_OF], input=lines, text=True,
                         capture_output=True, cwd=tmp_path_factory.mktemp("cli"), env=clean_env(), timeout=120)
    return dict(zip(TABLE, (json.loads(line) for line in run.stdout.splitlines()), strict=True))


def test_the_table_covers_every_outcome(real_bundle):
    assert set(TABLE) == {o.id for o in outcomes(real_bundle)}
    design = {f"O{n:02d}" for n in [*range(1, 34), *range(40, 53)]}
    assert design <= set(TABLE)


@pytest.mark.parametrize("outcome_id", sorted(TABLE))
def test_answers_reach_the_outcome(results, outcome_id):
    result = results[outcome_id]
    assert result["status"] == "outcome", result
    assert result["outcome_id"] == outcome_id
    assert "GR7" in result["rules"]
    assert isinstance(result["secondary"], list)
    answered = {step["question"] for step in result["path"]}
    assert answered == set(TABLE[outcome_id]), "every answer in the table is used"
