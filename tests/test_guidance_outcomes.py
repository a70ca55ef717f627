"""Table-driven: a complete set of answers reaches each outcome of the design's catalogue,
through `canishare evaluate --batch` (one process for the whole table)."""

from __future__ import annotations

import json

import pytest

from bot.flows.paths import outcomes

BASE = {"immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body"}
F1 = {**BASE, "situation": "share_concern", "subject": "child", "recipient": "childrens_social_care",
      "info_kind": "observations_disclosures"}
SIG = {**F1, "harm_level": "significant_harm"}
WELFARE = {**F1, "harm_level": "welfare_need", "confidential": "confidential"}
F2 = {**BASE, "situation": "specialist_records", "sr_child_at_risk_now": "no"}
POLICE_NOTES = {**F2, "sr_requester": "police_cps", "sr_request_form": "specific_written",
                "sr_reasonable_line": "yes_stated"}
F3 = {**BASE, "situation": "respond_to_request", "rq_verified": "yes"}
F4 = {**BASE, "situation": "consent_question"}
F6 = {**BASE, "situation": "adult_at_risk", "a_children_at_risk": "no"}
F7 = {**BASE, "situation": "allegation_about_staff", "al_role": "yes"}

TABLE = {
    "O01": {"immediate_danger": "yes"},
    "O02": {"immediate_danger": "not_sure", "jurisdiction": "england", "org_type": "nhs_health"},
    "O03": {**SIG, "concern_type": ["sexual_abuse"]},
    "O04": {**SIG, "concern_type": ["domestic_abuse"], "safe_to_inform": "yes", "consent_status": "not_asked"},
    "O05": {**SIG, "concern_type": ["fgm"]},
    "O06": {**{k: v for k, v in F1.items() if k != "info_kind"}, "recipient": "internal_dsl"},
    "O07": {**F1, "harm_level": "not_sure"},
    "O08": {**WELFARE, "consent_status": "given"},
    "O09": {**WELFARE, "consent_status": "refused", "public_interest_other": "no"},
    "O10": {**WELFARE, "consent_status": "refused", "public_interest_other": "yes"},
    "O11": {**F1, "harm_level": "welfare_need", "confidential": "already_public"},
    "O12": {**{k: v for k, v in F1.items() if k != "info_kind"}, "recipient": "no_safeguarding_role"},
    "O13": {**F1, "info_kind": "court_family_proceedings"},
    "O14": {**F2, "sr_requester": "childrens_social_care_s47"},
    "O15": {**F2, "sr_requester": "defence_or_other_party"},
    "O16": {**F2, "sr_requester": "court_order_or_summons"},
    "O17": {**POLICE_NOTES, "sr_client_views": "informed_agrees"},
    "O18": {**F3, "rq_requester": "cs_s47", "rq_written_purpose": "yes"},
    "O19": {**F3, "rq_requester": "cs_s17", "rq_written_purpose": "yes", "rq_family_agrees": "yes"},
    "O20": {**F3, "rq_requester": "cs_s17", "rq_written_purpose": "yes", "rq_family_agrees": "no",
            "harm_level": "welfare_need"},
    "O21": {**F3, "rq_requester": "police", "rq_written_purpose": "yes", "rq_police_purpose": "locate_missing_child"},
    "O22": {**F3, "rq_requester": "police", "rq_written_purpose": "yes",
            "rq_police_purpose": "criminal_investigation", "rq_court_order": "no"},
    "O23": {**F3, "rq_requester": "cafcass", "rq_written_purpose": "yes", "rq_cafcass_direction": "info_to_cafcass"},
    "O24": {**F7, "al_harm_test": "yes"},
    "O25": {**F6, "a_care_support_needs": "yes", "a_capacity": "lacks_capacity"},
    "O26": {**F6, "a_care_support_needs": "no", "a_override": "no"},
    "O27": {**F3, "rq_requester": "other_professional", "rq_written_purpose": "yes",
            "rq_individual_or_aggregate": "aggregate_planning"},
    "O28": {**SIG, "concern_type": ["self_harm"], "carers_protective": "yes", "consent_status": "given"},
    "O29": {**F3, "rq_requester": "parent_carer", "concern_about_this_parent": "no"},
    "O30": {**F7, "al_harm_test": "no_low_level"},
    "O31": {**F4, "c_harm_level": "welfare_need", "c_child_age_band": "16_17", "c_response": "withdrawn"},
    "O32": {**F1, "recipient": "parent_carer", "concern_about_this_parent": "yes", "harm_level": "welfare_need"},
    "O33": {**F3, "rq_verified": "no", "rq_verified_after_check": "cannot_verify"},
}


@pytest.fixture(scope="module")
def results(run_cli_module):
    lines = "\n".join(json.dumps({"answers": answers}) for answers in TABLE.values())
    result = run_cli_module("evaluate", "--batch", input=lines + "\n")
    return dict(zip(TABLE, (json.loads(line) for line in result.stdout.splitlines()), strict=True))


@pytest.fixture(scope="module")
def run_cli_module(tmp_path_factory):
    import subprocess
    import sys

    from tests.conftest import clean_env

    cwd = tmp_path_factory.mktemp("cli")

    def run(*args, input=None):
        return subprocess.run([sys.executable, "-m", "bot", *args], input=input, text=True,
                              capture_output=True, cwd=cwd, env=clean_env(), timeout=120)

    return run


def test_the_table_covers_every_outcome(real_bundle):
    assert set(TABLE) == {o.id for o in outcomes(real_bundle)}


@pytest.mark.parametrize("outcome_id", sorted(TABLE))
def test_answers_reach_the_outcome(results, real_bundle, outcome_id):
    result = results[outcome_id]
    assert result["status"] == "outcome", result
    assert result["outcome_id"] == outcome_id
    assert "GR7" in result["rules"]
    answered = {step["question"] for step in result["path"]}
    assert answered == set(TABLE[outcome_id]), "every answer in the table is used"
