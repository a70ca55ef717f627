"""Realistic scenarios written from the sources, one or more per flow, each citing the source
that decides it, run through `canishare evaluate --batch` in one process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clean_env

ENG = {"immediate_danger": "no", "jurisdiction": "england"}
PA = "common-law-public-interest"
P18 = "dpa2018-sch1-para18"

SCENARIOS = [
    dict(
        name="teacher sees a child being beaten in the car park now",
        source="NSPCC (call 999); ICO 10 step guide (2023) step 9",
        answers={"immediate_danger": "yes"},
        outcome="O01", verdict="emergency_call_999", consent="not_applicable",
        rules={"GR1", "GR4", "GR6", "GR7"},
        gateways={"uk-gdpr-art6-1d", "uk-gdpr-art9-2c", P18, PA}, alert="urgent",
    ),
    dict(
        name="private nursery worker hears screaming on a home visit, not sure a child is there",
        source="Guidance model C1 (not sure -> urgent via DSL); DUAA 2025 s70 (recognised legitimate interest)",
        answers={"immediate_danger": "not_sure", "jurisdiction": "england", "org_type": "private_sector"},
        outcome="O02", verdict="refer_to_childrens_social_care", consent="not_sought_unsafe",
        rules={"GR1", "GR4", "GR6", "GR7"}, gateways={P18, PA, "uk-gdpr-art6-1ea"}, alert="urgent",
    ),
    dict(
        name="Year 8 pupil discloses night-time visits by her stepfather",
        source="seed 004_077edd6fdf184301.txt (suspected sexual abuse: don't speak to the family first)",
        answers={**ENG, "org_type": "public_body", "situation": "share_concern", "subject": "child",
                 "recipient": "childrens_social_care", "info_kind": "observations_disclosures",
                 "harm_level": "significant_harm", "concern_type": ["sexual_abuse"]},
        outcome="O03", verdict="refer_to_childrens_social_care", consent="not_sought_unsafe",
        rules={"GR1", "GR2", "GR3", "GR5", "GR6", "GR7"}, gateways={P18, PA, "uk-gdpr-art6-1e"},
        alert="urgent",
    ),
    dict(
        name="Welsh health visitor: neglect, family told and object",
        source="SSWB (Wales) Act 2014 s130; DfE Information sharing advice (2024) golden rule 3",
        answers={"immediate_danger": "no", "jurisdiction": "wales", "org_type": "nhs_health",
                 "situation": "share_concern", "subject": "child", "recipient": "childrens_social_care",
                 "info_kind": "observations_disclosures", "harm_level": "significant_harm",
                 "concern_type": ["none"], "safe_to_inform": "yes", "consent_status": "refused"},
        outcome="O04", verdict="refer_to_childrens_social_care", consent="refused_overridden",
        rules={"GR1", "GR2", "GR3", "GR6", "GR7"},
        gateways={P18, PA, "uk-gdpr-art6-1e", "sswb-wales-2014-s130", "uk-gdpr-art6-1c"}, alert="urgent",
    ),
    dict(
        name="school nurse: 14-year-old self-harming, supportive parents, she objects",
        source="Guidance model C2 step 6b; GMC 0-18 years (2007, updated 2024) paras 47-50",
        answers={**ENG, "org_type": "nhs_health", "situation": "share_concern", "subject": "child",
                 "recipient": "health", "info_kind": "health_record", "harm_level": "significant_harm",
                 "concern_type": ["self_harm"], "carers_protective": "yes", "consent_status": "refused"},
        outcome="O28", verdict="share_without_consent", consent="refused_overridden",
        rules={"GR1", "GR2", "GR3", "GR6", "GR7"},
        gateways={P18, PA, "uk-gdpr-art6-1e", "uk-gdpr-art9-2h"}, alert="routine",
    ),
    dict(
        name="youth charity: 15-year-old being groomed; telling parents unsafe",
        source="DfE (2024) golden rule 2 (don't tell if it increases risk); DUAA 2025 s70",
        answers={**ENG, "org_type": "charity_voluntary", "situation": "share_concern", "subject": "child",
                 "recipient": "police", "info_kind": "observations_disclosures",
                 "harm_level": "significant_harm", "concern_type": ["exploitation"], "safe_to_inform": "no"},
        outcome="O03", verdict="refer_to_childrens_social_care", consent="not_sought_unsafe",
        rules={"GR1", "GR2", "GR3", "GR5", "GR6", "GR7"}, gateways={P18, PA, "uk-gdpr-art6-1ea"},
        alert="urgent",
    ),
    dict(
        name="sports coach: family struggling, parent agrees to tell the school",
        source="seed 001_66539e4125238641.txt (common-law consent); DfE (2024) golden rule 2",
        answers={**ENG, "org_type": "sports_club", "situation": "share_concern", "subject": "child",
                 "recipient": "education", "info_kind": "observations_disclosures",
                 "harm_level": "welfare_need", "confidential": "confidential", "consent_status": "given"},
        outcome="O08", verdict="share_with_consent", consent="given",
        rules={"GR2", "GR6", "GR7"}, gateways={"common-law-consent", "uk-gdpr-art6-1ea"}, alert=False,
    ),
    dict(
        name="a journalist asks a nursery about a child in the news",
        source="DfE (2024) golden rule 6 (only people with a safeguarding role)",
        answers={**ENG, "org_type": "private_sector", "situation": "share_concern", "subject": "child",
                 "recipient": "no_safeguarding_role"},
        outcome="O12", verdict="do_not_share", consent="not_applicable",
        rules={"GR6", "GR7"}, gateways={"no-gateway-no-safeguarding-role"}, alert=False,
    ),
    dict(
        name="Belfast teacher: a child says her uncle touched her",
        source="Criminal Law Act (NI) 1967 s5; NSPCC Northern Ireland",
        answers={"immediate_danger": "no", "jurisdiction": "northern_ireland", "org_type": "public_body",
                 "situation": "share_concern", "subject": "child", "recipient": "childrens_social_care",
                 "info_kind": "observations_disclosures", "harm_level": "significant_harm",
                 "concern_type": ["sexual_abuse"]},
        outcome="O05", verdict="report_to_police", consent="not_sought_unsafe",
        rules={"GR1", "GR6", "GR7"},
        gateways={P18, "dpa2018-sch1-para10", "uk-gdpr-art6-1e", "criminal-law-ni-1967-s5"}, alert="urgent",
    ),
    dict(
        name="GP sees that a 9-year-old has had FGM",
        source="Female Genital Mutilation Act 2003 s5B (mandatory reporting)",
        answers={**ENG, "org_type": "nhs_health", "situation": "share_concern", "subject": "child",
                 "recipient": "police", "info_kind": "health_record", "harm_level": "significant_harm",
                 "concern_type": ["fgm"]},
        outcome="O05", verdict="report_to_police", consent="not_applicable",
        rules={"GR1", "GR6", "GR7"},
        gateways={P18, "dpa2018-sch1-para10", "uk-gdpr-art6-1e", "uk-gdpr-art6-1c", "fgm-act-2003-s5b"},
        alert="urgent",
    ),
    dict(
        name="CAMHS therapist asked for session notes for a s47 enquiry",
        source="seed 000_1b5077518ea2fff5.txt (summary, not raw notes); Children Act 1989 s47(9),(11)",
        answers={**ENG, "org_type": "nhs_health", "situation": "specialist_records",
                 "sr_child_at_risk_now": "no", "sr_requester": "childrens_social_care_s47"},
        outcome="O14", verdict="share_summary_only", consent="not_applicable",
        rules={"GR5", "GR6", "GR7"},
        gateways={P18, PA, "uk-gdpr-art6-1e", "children-act-1989-s47", "uk-gdpr-art6-1c"}, alert="routine",
    ),
    dict(
        name="ISVA charity gets an email from police asking for all counselling records",
        source="CPS Pre-Trial Therapy guidance (2022): specific, proportionate, reasonable line of enquiry",
        answers={**ENG, "org_type": "charity_voluntary", "situation": "specialist_records",
                 "sr_child_at_risk_now": "no", "sr_requester": "police_cps", "sr_request_form": "vague_or_blanket"},
        outcome="O15", verdict="do_not_share_yet_seek_advice", consent="not_applicable",
        rules={"GR4", "GR6", "GR7"}, gateways={"pcsc-act-2022-s44a"}, alert="routine",
    ),
    dict(
        name="therapist's notes reveal a current unreferred risk while the court summons them",
        source="Guidance model INV2 (refer the concern itself); GMC Confidentiality (2017) (court orders)",
        answers={**ENG, "org_type": "charity_voluntary", "situation": "specialist_records",
                 "sr_child_at_risk_now": "yes", "sr_requester": "court_order_or_summons"},
        outcome="O16", verdict="share_without_consent", consent="not_applicable",
        rules={"GR6", "GR7"}, gateways={"court-order", "uk-gdpr-art6-1c", "uk-gdpr-art9-2f"}, alert="urgent",
    ),
    dict(
        name="social worker phones a GP practice under s47 (called back to verify)",
        source="seed 003_04844a588d0da767.txt (s47); GMC Protecting children paras 46-50 (respond promptly)",
        answers={**ENG, "org_type": "nhs_health", "situation": "respond_to_request", "rq_verified": "yes",
                 "rq_requester": "cs_s47", "rq_written_purpose": "yes"},
        outcome="O18", verdict="share_without_consent", consent="not_applicable",
        rules={"GR1", "GR3", "GR6", "GR7"},
        gateways={"children-act-1989-s47", P18, PA, "uk-gdpr-art6-1e", "uk-gdpr-art6-1c"}, alert="routine",
    ),
    dict(
        name="police ask a school about a pupil for a burglary investigation, no court order",
        source="ICO Sharing personal data with law enforcement authorities (2023)",
        answers={**ENG, "org_type": "public_body", "situation": "respond_to_request", "rq_verified": "yes",
                 "rq_requester": "police", "rq_written_purpose": "no",
                 "rq_police_purpose": "criminal_investigation", "rq_court_order": "no"},
        outcome="O22", verdict="do_not_share_yet_seek_advice", consent="not_applicable",
        rules={"GR4", "GR6", "GR7"}, gateways={"dpa2018-sch2-para2", "dpa2018-sch1-para10"}, alert="routine",
    ),
    dict(
        name="Cafcass officer asks a school for a s7 welfare report",
        source="seed 003_04844a588d0da767.txt (CAFCASS); Children Act 1989 s7",
        answers={**ENG, "org_type": "public_body", "situation": "respond_to_request", "rq_verified": "yes",
                 "rq_requester": "cafcass", "rq_written_purpose": "yes", "rq_cafcass_direction": "info_to_cafcass"},
        outcome="O23", verdict="share_without_consent", consent="not_applicable",
        rules={"GR5", "GR6", "GR7"}, gateways={"children-act-1989-s7", P18, "uk-gdpr-art6-1e"}, alert="routine",
    ),
    dict(
        name="a parent asks for the Cafcass report to show a new partner",
        source="Family Procedure Rules 2010 r12.73 and PD12G",
        answers={**ENG, "org_type": "public_body", "situation": "respond_to_request", "rq_verified": "yes",
                 "rq_requester": "cafcass", "rq_written_purpose": "yes",
                 "rq_cafcass_direction": "onward_court_material"},
        outcome="O13", verdict="do_not_share", consent="not_applicable",
        rules={"GR4", "GR6", "GR7"}, gateways={"fpr-2010-r12-73-pd12g"}, alert="routine",
    ),
    dict(
        name="a mother asks the school what the father said about her; no concern about her",
        source="DfE (2024) golden rule 6; Guidance model B2 (not a gateway)",
        answers={**ENG, "org_type": "public_body", "situation": "respond_to_request", "rq_verified": "yes",
                 "rq_requester": "parent_carer", "concern_about_this_parent": "no"},
        outcome="O29", verdict="do_not_share_yet_seek_advice", consent="not_applicable",
        rules={"GR6", "GR7"}, gateways=set(), alert=False,
    ),
    dict(
        name="competent 15-year-old refuses to let the nurse tell her parents about contraception",
        source="GMC 0-18 years (competent child's view prevails, Fraser); consent rules CR5 and CR6",
        answers={**ENG, "org_type": "nhs_health", "situation": "consent_question",
                 "c_harm_level": "welfare_need", "c_child_age_band": "13_15", "c_competent": "yes",
                 "c_parent_child_disagree": "yes", "c_response": "refused", "public_interest_other": "no"},
        outcome="O09", verdict="do_not_share", consent="refused_respected",
        rules={"GR2", "GR7"}, gateways=set(), alert=False,
    ),
    dict(
        name="Scottish 12-year-old who understands agrees to share with the school counsellor",
        source="Data Protection Act 2018 s208 (12+ presumed able); GIRFEC Practice Guidance 4 (2022)",
        answers={"immediate_danger": "no", "jurisdiction": "scotland", "org_type": "public_body",
                 "situation": "consent_question", "c_harm_level": "welfare_need",
                 "c_child_age_band": "under_13", "c_competent": "yes", "c_parent_child_disagree": "no",
                 "c_response": "given"},
        outcome="O08", verdict="share_with_consent", consent="given",
        rules={"GR2", "GR6", "GR7"}, gateways={"common-law-consent", "uk-gdpr-art6-1e"}, alert=False,
    ),
    dict(
        name="paediatric nurse suspects fabricated illness and wonders whether to ask the mother",
        source="seed 004_077edd6fdf184301.txt (FII: don't speak to the family first); consent rule CR3",
        answers={**ENG, "org_type": "nhs_health", "situation": "consent_question",
                 "c_harm_level": "significant_harm", "c_exception": "yes"},
        outcome="O03", verdict="refer_to_childrens_social_care", consent="not_sought_unsafe",
        rules={"GR1", "GR2", "GR3", "GR5", "GR6", "GR7"}, gateways={P18, PA, "uk-gdpr-art6-1e"}, alert="urgent",
    ),
    dict(
        name="care leaver (19) with a learning disability lacks capacity and is being exploited",
        source="Care Act 2014 s42; Mental Capacity Act 2005 (best interests); consent rule CR8",
        answers={**ENG, "org_type": "public_body", "situation": "adult_at_risk", "a_children_at_risk": "no",
                 "a_care_support_needs": "yes", "a_capacity": "lacks_capacity"},
        outcome="O25", verdict="refer_to_adult_safeguarding", consent="not_applicable",
        rules={"GR1", "GR3", "GR6", "GR7"},
        gateways={"care-act-2014-s42", P18, PA, "uk-gdpr-art6-1e", "mental-capacity-act-2005-best-interests"},
        alert="routine",
    ),
    dict(
        name="adult domestic abuse victim declines help, but her children live in the home",
        source="Guidance model C7 (children at risk go through the main check); seed 004 (risk of harm)",
        answers={**ENG, "org_type": "charity_voluntary", "situation": "adult_at_risk",
                 "a_children_at_risk": "yes", "recipient": "childrens_social_care",
                 "info_kind": "observations_disclosures", "harm_level": "significant_harm",
                 "concern_type": ["domestic_abuse", "carer_may_harm_or_react"]},
        outcome="O03", verdict="refer_to_childrens_social_care", consent="not_sought_unsafe",
        rules={"GR1", "GR2", "GR3", "GR5", "GR6", "GR7"}, gateways={P18, PA, "uk-gdpr-art6-1ea"}, alert="urgent",
    ),
    dict(
        name="capacitated adult with no care needs refuses; no risk to others",
        source="GMC Confidentiality (2017); consent rule CR8",
        answers={**ENG, "org_type": "nhs_health", "situation": "adult_at_risk", "a_children_at_risk": "no",
                 "a_care_support_needs": "no", "a_override": "no"},
        outcome="O26", verdict="do_not_share", consent="refused_respected",
        rules={"GR2", "GR7"}, gateways=set(), alert=False,
    ),
    dict(
        name="club welfare officer told a coach privately messages a 14-year-old",
        source="Working Together (2023) / KCSIE Part 4 harm test; NSPCC CPSU (LADO for positions of trust)",
        answers={**ENG, "org_type": "sports_club", "situation": "allegation_about_staff",
                 "al_role": "yes", "al_harm_test": "yes"},
        outcome="O24", verdict="refer_to_lado", consent="not_sought_unsafe",
        rules={"GR1", "GR4", "GR6", "GR7"}, gateways={P18, PA, "uk-gdpr-art6-1ea"}, alert="urgent",
    ),
    dict(
        name="teaching assistant swears in front of pupils once: a low-level concern",
        source="KCSIE (2025) low-level concerns; Guidance model C8",
        answers={**ENG, "org_type": "public_body", "situation": "allegation_about_staff",
                 "al_role": "yes", "al_harm_test": "no_low_level"},
        outcome="O30", verdict="share_without_consent", consent="not_applicable",
        rules={"GR4", "GR6", "GR7"}, gateways={"uk-gdpr-art6-1e"}, alert="routine",
    ),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    lines = "\n".join(json.dumps({"answers": s["answers"]}) for s in SCENARIOS) + "\n"
    result = subprocess.run([sys.executable, "-m", "bot", "evaluate", "--batch"], input=lines,
                            capture_output=True, text=True, env=clean_env(),
                            cwd=tmp_path_factory.mktemp("scenarios"), timeout=120)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_flow_has_scenarios(real_bundle):
    flows = {"emergency": "immediate_danger", "can_i_share": "subject", "specialist_records": "sr_requester",
             "respond_to_request": "rq_requester", "consent": "c_harm_level",
             "adult_at_risk": "a_children_at_risk", "allegation_about_staff": "al_harm_test"}
    for flow, key in flows.items():
        assert any(key in s["answers"] for s in SCENARIOS), flow
    assert all(s["source"] for s in SCENARIOS)


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=[s["name"] for s in SCENARIOS])
def test_scenario(results, index):
    scenario, result = SCENARIOS[index], results[index]
    assert result["status"] == "outcome", result
    assert (result["outcome_id"], result["verdict"], result["consent_position"]) == (
        scenario["outcome"], scenario["verdict"], scenario["consent"]), scenario["source"]
    assert set(result["rules"]) == scenario["rules"]
    assert set(result["gateways"]) == scenario["gateways"]
    assert result["dsl_alert"] == scenario["alert"]
