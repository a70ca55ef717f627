"""Guidance edition 3, C0 "Law in time" (T1-T9, INV21): the engine applies the law in force on
the decision's date, a provision not yet commenced is a note until an operator names its date,
and every answer says which date's law it applied. Dates are fixed here, never today's.

Sources: Children Act 2004 s16LA (CWSA 2026 s4; in force 30 September 2026 [P]); DUAA 2025
(Commencement No. 6) Regulations 2026 (SI 2026/82) reg 2 (Art 6(1)(ea) from 5 February 2026);
Crime and Policing Act 2026 Part 5 Chapter 2 (CSA reporting, not commenced); Working Together
to Safeguard Children 2026 (from 19 March 2026 [P]).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from types import MappingProxyType

import pytest

from bot.channels.slack import blocks as slack_blocks
from bot.channels.teams import cards as teams_cards
from bot.channels.terminal import short_screen
from bot.core.answer import short_answer
from bot.core.clock import FrozenClock
from bot.core.conversations import Answer
from bot.core.engine import Engine
from bot.core.evaluate import evaluate
from bot.core.presentation import step_view
from bot.core.record import RecordForm
from bot.flows.law import Law, law_as_at_line, law_date
from bot.settings import SettingsError, load_settings, parse_commencements
from bot.storage import Storage
from tests.conftest import EDITION2_FLOWS, conversations, decisions
from tests.slack_harness import text_of as slack_text_of
from tests.teams_harness import text_of as teams_text_of

BEFORE_S16LA, S16LA, AFTER_S16LA = date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 1)
CSA = "crime-and-policing-csa-mandatory-reporting"

# INV21(d): a teacher at a public body in England shares a welfare concern with health; the
# family refused and there is no public-interest override.
WELFARE_REFUSED = {
    "immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body", "profession": "teacher",
    "situation": "share_concern", "subject": "child", "recipient": "health",
    "info_kind": "observations_disclosures", "harm_level": "welfare_need", "pf_arrangement": "no",
    "confidential": "confidential", "consent_status": "refused", "public_interest_other": "no",
    "s16la_detriment": "no",
}
SEXUAL_ABUSE = {
    "immediate_danger": "no", "jurisdiction": "england", "org_type": "public_body", "profession": "teacher",
    "situation": "share_concern", "subject": "child", "recipient": "childrens_social_care",
    "info_kind": "observations_disclosures", "harm_level": "significant_harm", "concern_type": ["sexual_abuse"],
    "perpetrator_in_family": "yes",
}


def at(engine: Engine, day: date, answers: dict, **commencements: date) -> dict:
    law = Law(on=day, commencements=MappingProxyType({k.replace("_", "-"): v for k, v in commencements.items()}))
    result = evaluate(Engine(engine.bundle, law), answers)
    assert result["status"] == "outcome", result
    return result


def test_the_law_as_at_sentence():
    assert law_date(date(2026, 12, 7)) == "7 December 2026"
    assert law_as_at_line(date(2027, 1, 31)) == "The law as at 31 January 2027."


def test_s16la_changes_the_welfare_share_from_its_date_in_england_only(real_engine):
    before, on = at(real_engine, BEFORE_S16LA, WELFARE_REFUSED), at(real_engine, S16LA, WELFARE_REFUSED)
    assert before["outcome_id"] == "O09" and "children-act-2004-s16la" not in before["gateways"]
    assert on["outcome_id"] == "O62" and {"children-act-2004-s16la", "uk-gdpr-art6-1c"} <= set(on["gateways"])
    assert on["law_as_at"] == "2026-09-30" and before["law_as_at"] == "2026-09-29"
    detrimental = at(real_engine, S16LA, {**WELFARE_REFUSED, "s16la_detriment": "yes"})
    assert detrimental["outcome_id"] == "O63"
    assert "rec_s16la_detriment_reason" in real_engine.bundle.shared_outcome("O63").record
    wales = {**WELFARE_REFUSED, "jurisdiction": "wales", "wales_relevant_partner": "no"}
    assert at(real_engine, BEFORE_S16LA, wales)["outcome_id"] == at(real_engine, S16LA, wales)["outcome_id"] == "O09"
    unsure = {**WELFARE_REFUSED, "org_type": "charity_voluntary", "s16la_relevant_person": "not_sure"}
    assert at(real_engine, S16LA, unsure)["outcome_id"] == "O07"  # never a silent O09 (INV21(e))
    assert at(real_engine, BEFORE_S16LA, unsure)["outcome_id"] == "O09"


def test_the_basis_helper_moves_to_art_6_1_ea_on_5_february_2026(real_engine):
    charity = {**SEXUAL_ABUSE, "org_type": "charity_voluntary"}
    assert "uk-gdpr-art6-1f" in at(real_engine, date(2026, 2, 4), charity)["gateways"]
    on = at(real_engine, date(2026, 2, 5), charity)["gateways"]
    assert "uk-gdpr-art6-1ea" in on and "uk-gdpr-art6-1f" not in on


def test_csa_reporting_is_a_note_until_its_commencement_date_then_a_duty(real_engine):
    today = date(2026, 12, 7)
    plain = at(real_engine, today, SEXUAL_ABUSE)
    assert "csa-n" in [n["id"] for n in plain["notes"]] and "csa_report" not in plain["personal_duties"]
    assert CSA not in plain["gateways"]
    tomorrow = at(real_engine, today, SEXUAL_ABUSE, crime_and_policing_csa_mandatory_reporting=date(2026, 12, 8))
    assert tomorrow == {**plain}  # a setting dated tomorrow changes nothing today (T9)
    commenced = at(real_engine, today, SEXUAL_ABUSE, crime_and_policing_csa_mandatory_reporting=today)
    assert commenced["personal_duties"] == ["csa_report"] and CSA in commenced["gateways"]
    assert "csa-n" not in [n["id"] for n in commenced["notes"]]
    assert commenced["outcome_id"] == plain["outcome_id"] and commenced["verdict"] == plain["verdict"]
    wales = at(real_engine, today, {**SEXUAL_ABUSE, "jurisdiction": "wales", "wales_relevant_partner": "no"},
               crime_and_policing_csa_mandatory_reporting=today)
    assert "csa_report" not in wales["personal_duties"] and not [n for n in wales["notes"] if n["id"] == "csa-n"]
    unsure = at(real_engine, today, {**SEXUAL_ABUSE, "jurisdiction": "not_sure"})
    [note] = [n for n in unsure["notes"] if n["id"] == "csa-n"]
    assert note["text"].startswith("If the child is in England: ")  # T8: a note, never a duty


def test_working_together_is_cited_by_the_edition_in_force(real_engine):
    texts = {}
    for day in (date(2026, 3, 18), date(2026, 3, 19)):
        texts[day] = Engine(real_engine.bundle, Law(on=day)).localise("{cp_guidance}", "england")
    assert texts[date(2026, 3, 18)] == "Working Together to Safeguard Children (2023)"
    assert texts[date(2026, 3, 19)] == "Working Together to Safeguard Children (2026)"


RELEVANT_RECIPIENTS = {"childrens_social_care", "police", "health", "education"}
BROAD = {  # every combination of what decides s16LA, and more (INV21(c), (e))
    "jurisdiction": ["england", "wales", "scotland", "northern_ireland", "not_sure"],
    "org_type": ["public_body", "charity_voluntary", "independent_school", "not_sure"],
    "s16la_relevant_person": ["yes", "no", "not_sure"],
    "recipient": ["childrens_social_care", "health", "other_safeguarding_agency", "internal_dsl", "parent_carer",
                  "not_sure"],
    "harm_level": ["significant_harm", "welfare_need", "no_harm_identified", "not_sure"],
    "consent": [{"confidential": "confidential", "consent_status": "refused", "public_interest_other": "no"},
                {"confidential": "confidential", "consent_status": "given"},
                {"confidential": "already_public"}],
}
REST = {"immediate_danger": "no", "profession": "teacher", "wales_relevant_partner": "no", "situation": "share_concern",
        "subject": "child", "info_kind": "observations_disclosures", "pf_arrangement": "no",
        "concern_type": ["neglect"], "safe_to_inform": "yes", "concern_about_this_parent": "no",
        "pr_info_whose": "child_general", "s16la_detriment": "no"}


def comparable(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("law_as_at", "unused_answers", "path")}


def test_29_september_and_1_october_differ_exactly_where_s16la_applies(real_engine):
    """The same answers a day before s16LA and a day after, across every combination of what
    decides it: an answer changes only in England, for a relevant person (answered or implied)
    sharing with a relevant recipient, and then only by the duty; nowhere else."""
    before, after = Engine(real_engine.bundle, Law(on=BEFORE_S16LA)), Engine(real_engine.bundle, Law(on=AFTER_S16LA))
    changed = compared = 0
    for values in itertools.product(*BROAD.values()):
        chosen = dict(zip(BROAD, values, strict=True))
        answers = {**REST, **chosen.pop("consent"), **chosen}
        result = evaluate(after, answers)
        old, new = comparable(evaluate(before, answers)), comparable(result)
        compared += 1
        if old == new:
            continue
        changed += 1
        facts = after.facts({step["question"]: step["answer"] for step in result["path"]})  # as asked
        assert facts["jurisdiction"] == "england" and facts["s16la_relevant_person"] in ("yes", "not_sure"), (answers, old, new)
        assert answers["recipient"] in RELEVANT_RECIPIENTS, (answers, old, new)
        ids = {new.get("outcome_id"), *(s["outcome_id"] for s in new.get("secondary", []))}
        assert ids & {"O62", "O63", "O07"} or "children-act-2004-s16la" in new.get("gateways", []), (answers, new)
    assert compared == 5 * 4 * 3 * 6 * 4 * 3 and changed > 0, (compared, changed)


def test_the_log_holds_edition_3_and_the_date_of_the_law(real_engine, tmp_path):
    clock = FrozenClock(datetime(2026, 12, 7, 23, 30, tzinfo=UTC))  # already 7 December in London
    conv = conversations(real_engine, Storage(tmp_path / "log.db", clock))
    turn = conv.start("u1")
    while not turn.finished:
        key = turn.step.question.key
        turn = conv.act("u1", turn.conversation_id, turn.version, Answer(turn.step.question.id, SEXUAL_ABUSE[key]))
    assert step_view(real_engine.bundle, turn.step).law_as_at == "The law as at 7 December 2026."
    conv.record("u1", turn.conversation_id, RecordForm(decision="shared"))
    [row] = decisions(conv.storage)
    assert row["guidance_edition"] == "3" and row["law_as_at"] == "2026-12-07" and row["commencements"] == {}
    with conv.storage.read() as tx:
        assert tx.verify().ok


def test_the_commencement_setting_is_one_variable_of_id_and_date():
    assert parse_commencements(f"{CSA}=2027-01-01, commencement.kcsie-2026=2026-09-01") == {
        CSA: date(2027, 1, 1), "kcsie-2026": date(2026, 9, 1)}
    with pytest.raises(SettingsError, match="CANISHARE_COMMENCEMENTS"):
        load_settings(commencements=f"{CSA}=1 January 2027")


def test_edition_2_had_no_law_in_time(real_engine):
    """The frozen edition 2 (tests/fixtures/edition2_flows) gives O09 either side of 30 September:
    the s16LA change is edition 3's."""
    from bot.analysis.load import load_bundle

    old = Engine(load_bundle(EDITION2_FLOWS), Law(on=S16LA))
    assert evaluate(old, WELFARE_REFUSED)["outcome_id"] == "O09"


FGM_KNOWN = {**SEXUAL_ABUSE, "concern_type": ["fgm_known"]}


def fgm_answer(real_engine):
    engine = Engine(real_engine.bundle, Law(on=date(2026, 12, 7)))
    state = engine.answer_known(engine.start(), FGM_KNOWN)
    view = step_view(engine.bundle, engine.current(state))
    return short_answer(view), view


def test_a_personal_duty_comes_first_in_every_channel_in_plain_words(real_engine):
    """U5: the teacher's own FGM report (s5B) is the first thing in the terminal, Slack and Teams,
    before the verdict, and never an internal id."""
    answer, view = fgm_answer(real_engine)
    [duty] = answer.duties
    assert duty.startswith("You must report this to the police yourself, by the end of the next working day")
    screen = short_screen(answer, 100)
    assert screen.index(f"YOUR OWN DUTY: {duty}") < screen.index(answer.verdict.upper())
    assert answer.law_as_at in screen
    blocks = slack_blocks.outcome_blocks(answer, view, "c1", 1)
    slack_text = [slack_text_of([b]) for b in blocks]
    first = next(i for i, t in enumerate(slack_text) if "Your own duty" in t)
    assert first < next(i for i, b in enumerate(blocks) if b["type"] == "header")
    assert "The law as at 7 December 2026." in slack_text_of(blocks)
    card = teams_cards.outcome_card(answer, view, "c1", 1)
    texts = [str(b.get("text", "")) for b in card["body"]]
    duty_at = next(i for i, t in enumerate(texts) if t.startswith("Your own duty: You must report"))
    assert duty_at < texts.index(answer.verdict)
    assert "The law as at 7 December 2026." in teams_text_of(card)
    for text in (" ".join(screen), slack_text_of(blocks), teams_text_of(card)):
        assert "fgm_s5b" not in text and "How soon" in text
