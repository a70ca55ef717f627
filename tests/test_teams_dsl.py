"""The DSL desk in Teams, end to end: escalation cards in the DSL team's standard channel, Claim,
Resolved, Need more info, the requester told, reminders and the deputy step, exports, and
deliveries that fail the way the Bot Connector fails. Real teams.py app over loopback HTTP with
real token validation; time is a frozen clock that tests move."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from bot.core.clock import FrozenClock
from tests.conftest import MONDAY_10AM
from tests.fakes.teams_service import (
    DSL_CHANNEL_ID,
    DSL_TEAM_ID,
    TENANT_ID,
    FakeTeamsService,
    Member,
    new_user_id,
)
from tests.teams_harness import CARD, TeamsApp, card_of, personal_activity, start_teams, text_of, verbs
from tests.test_teams_chat import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL

DSL, DEPUTY, MEMBER = new_user_id(), new_user_id(), new_user_id()
DSL_SETTINGS = dict(teams_dsl_user_ids=DSL, teams_deputy_dsl_user_ids=DEPUTY)


@pytest.fixture(scope="module")
def fake():
    service = FakeTeamsService().start()
    yield service
    service.stop()


def fresh_fake(fake: FakeTeamsService) -> FakeTeamsService:
    fake.reset()
    fake.add_team(DSL_TEAM_ID, [Member(DSL, "Dee Lead"), Member(MEMBER, "Mo Member")])
    fake.install_for(DSL, DEPUTY, MEMBER)
    return fake


@pytest.fixture
def teams(fake, real_bundle, database, clock):
    app = start_teams(fresh_fake(fake), real_bundle, database, clock, **DSL_SETTINGS)
    yield app
    app.stop()


@pytest.fixture
def staff() -> str:
    return new_user_id()


def reach_referral(teams: TeamsApp, user: str) -> dict:
    teams.message(user, "hello")
    teams.answer(user, *TO_REFERRAL)
    teams.tick(user, "sexual_abuse")
    return teams.answer(user, FAMILY_MAY_BE_INVOLVED)["value"]


def the_card(teams: TeamsApp) -> tuple[str, dict]:
    """The escalation card as the channel shows it now (after any update for everyone)."""
    [(card_id, card)] = teams.escalation_cards()
    return card_id, card


def told(teams: TeamsApp, user: str) -> list[str]:
    """What the person was sent in their personal chat, as text."""
    return [text_of(a) for a in teams.chat(user) if card_of(a) is not None]


def file_offers(fake: FakeTeamsService, person: str) -> list[dict]:
    return [attachment for a in fake.activities_in(f"a:personal-{person}") for attachment in a.get("attachments") or []
            if attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"]


def escalation(teams: TeamsApp, number: int = 1):
    with teams.storage.read() as tx:
        return tx.escalations.get(number)


def test_an_escalation_card_is_posted_with_no_case_details(teams, fake, staff):
    outcome = reach_referral(teams, staff)
    assert "Your DSLs have been alerted (escalation #1)" in text_of(outcome)  # after delivery only
    [post] = fake.calls_to("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$")
    assert post.body["summary"] == "Urgent safeguarding escalation #1"  # the notification preview
    card = card_of(post.body)
    text = text_of(card)
    assert "Urgent safeguarding escalation #1" in text and "Refer to children's social care" in text
    assert "From <at>Sam Worker</at>" in text and "Unclaimed" in text and "Mon 16 Nov 10:00" in text
    # edition 3: how soon in plain words and the date of the law applied, on the card and the answer
    assert "Today: before the end of today or this shift" in text and "The law as at 16 November 2026." in text
    assert "The law as at 16 November 2026." in text_of(outcome)
    [mention] = card["msteams"]["entities"]
    assert mention["mentioned"]["id"] == staff
    for detail in ("Sexual abuse", "immediate danger", "GR1", "Children Act"):  # answers stay private
        assert detail not in text
    assert {"dsl_claim", "dsl_details", "dsl_resolve", "dsl_more_info"} <= set(verbs(card))
    assert escalation(teams).card_state.value == "delivered"


def test_show_details_is_a_dialog_for_a_dsl_only(teams, staff):
    reach_referral(teams, staff)
    details = teams.channel_dialog(DSL, "Dee Lead", "dsl_details", the_card(teams))
    text = text_of(details)
    assert "What is the concern about? Choose all that apply. — Sexual abuse" in text
    assert "Only you can see these details" in text
    refused = teams.channel_dialog(new_user_id(), "Nosey Parker", "dsl_details", the_card(teams))
    assert refused["type"] == "message" and "Only a Designated Safeguarding Lead" in refused["value"]
    with teams.storage.read() as tx:
        assert [r["action"] for r in tx.audit.rows() if r["target"] == "escalation 1"][-2:] == ["details", "refused"]


def test_claim_by_a_dsl_updates_the_card_for_everyone_and_tells_the_requester(teams, fake, clock, staff):
    reach_referral(teams, staff)
    card_id, card = the_card(teams)
    clock.advance(minutes=4)
    answer = teams.channel_click(DSL, "Dee Lead", "dsl_claim", (card_id, card))
    assert answer["type"] == CARD and "Claimed by <at>Dee Lead</at> at Mon 16 Nov 10:04" in text_of(answer["value"])
    [put] = fake.calls_to("PUT", rf"/conversations/{DSL_CHANNEL_ID}/activities/{card_id}$")
    assert card_of(put.body) == answer["value"]  # everyone's copy, not only the clicker's
    assert "dsl_claim" not in verbs(the_card(teams)[1])
    assert any("Your escalation #1 was claimed by <at>Dee Lead</at>" in t for t in told(teams, staff))
    row = escalation(teams)
    assert row.status.value == "claimed" and row.claimed_by == DSL and row.next_reminder_at is None


def test_claim_is_refused_for_a_non_dsl_and_audited(teams, fake, staff):
    reach_referral(teams, staff)
    stranger = new_user_id()
    answer = teams.channel_click(stranger, "Nosey Parker", "dsl_claim", the_card(teams))
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "Only a Designated Safeguarding Lead can claim" in answer["value"]
    assert escalation(teams).status.value == "open"
    assert fake.calls_to("PUT", rf"/conversations/{DSL_CHANNEL_ID}/") == []
    with teams.storage.read() as tx:
        [audit] = tx.audit.rows("refused")
    assert audit["actor"] == stranger and "claim" in audit["detail"]


def test_a_member_of_the_dsl_team_is_a_dsl(teams, staff):
    reach_referral(teams, staff)
    teams.channel_click(MEMBER, "Mo Member", "dsl_claim", the_card(teams))
    assert escalation(teams).claimed_by == MEMBER


def test_resolved_with_a_note_in_a_dialog(teams, fake, clock, staff):
    reach_referral(teams, staff)
    task = teams.channel_dialog(DSL, "Dee Lead", "dsl_resolve", the_card(teams))
    refused = teams.channel_submit(DSL, "Dee Lead", task, {"note": "spoke to Jane Smith"})
    assert refused["type"] == "continue" and "a person's name" in text_of(refused)
    assert "spoke to Jane Smith" in text_of(refused)  # kept, to edit
    too_long = teams.channel_submit(DSL, "Dee Lead", task, {"note": "x" * 501})
    assert "Too long: 501 characters, the limit is 500" in text_of(too_long)
    clock.advance(minutes=30)
    done = teams.channel_submit(DSL, "Dee Lead", task, {"note": "referred to MASH; strategy meeting booked"})
    assert done["type"] == "message" and "resolved" in done["value"]
    card = the_card(teams)[1]
    assert "Resolved by <at>Dee Lead</at> at Mon 16 Nov 10:30" in text_of(card)
    assert not {"dsl_claim", "dsl_resolve", "dsl_more_info"} & set(verbs(card))
    assert any("was looked at and closed by <at>Dee Lead</at>" in t for t in told(teams, staff))
    again = teams.channel_submit(DSL, "Dee Lead", task, {"note": "closing again"})
    assert "already resolved" in text_of(again)


def test_the_resolve_dialog_is_refused_to_a_non_dsl(teams, staff):
    reach_referral(teams, staff)
    refused = teams.channel_dialog(new_user_id(), "Nosey Parker", "dsl_resolve", the_card(teams))
    assert refused["type"] == "message" and "Only a Designated Safeguarding Lead" in refused["value"]
    assert escalation(teams).status.value == "open"


def test_need_more_info_replies_in_the_thread_mentioning_the_requester_once(teams, fake, staff):
    reach_referral(teams, staff)
    card = the_card(teams)
    for _ in range(3):  # pressed again on the same card: one request
        teams.channel_click(DSL, "Dee Lead", "dsl_more_info", card)
    [reply] = teams.thread(card[0])
    assert "<at>Sam Worker</at>, <at>Dee Lead</at> needs more information" in text_of(reply)
    assert {e["mentioned"]["id"] for e in card_of(reply)["msteams"]["entities"]} == {staff, DSL}
    assert sum("needs more information about your escalation #1" in t for t in told(teams, staff)) == 1
    assert "more information asked by <at>Dee Lead</at>" in text_of(the_card(teams)[1])
    teams.channel_click(DSL, "Dee Lead", "dsl_more_info", the_card(teams))  # the redrawn card asks again
    assert len(teams.thread(card[0])) == 2


def test_talk_to_a_dsl_now_mid_check_and_the_truth_when_the_card_did_not_arrive(teams, fake, staff):
    teams.message(staff)
    teams.answer(staff, "no", "england")
    alerted = teams.click(staff, "talk_to_dsl")["value"]
    assert "Your DSLs have been alerted (escalation #1)" in text_of(alerted)
    assert "Asked to talk to a DSL now" in text_of(the_card(teams)[1])
    again = teams.click(staff, "talk_to_dsl")["value"]  # pressed again at the same step
    assert "already been alerted" in text_of(again) and len(teams.escalation_cards()) == 1
    teams.answer(staff, "public_body")
    later = teams.click(staff, "talk_to_dsl")["value"]  # later in the same check: one escalation per check
    assert "already been alerted (escalation #1)" in text_of(later) and len(teams.escalation_cards()) == 1
    fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", 500, times=5)
    teams.message(staff, "start")  # a new check: a new case
    not_yet = teams.click(staff, "talk_to_dsl")["value"]
    assert "We have not reached your DSLs yet (escalation #2)" in text_of(not_yet)
    assert "emergency duty team" in text_of(not_yet)


def test_a_reminder_then_the_deputy_step_by_advancing_the_clock(teams, fake, clock, staff):
    reach_referral(teams, staff)
    scheduler = teams.services.scheduler()
    card_id, _ = the_card(teams)
    clock.advance(minutes=9)
    assert scheduler.tick()["reminders"] == 0
    clock.advance(minutes=1)
    assert scheduler.tick()["reminders"] == 1
    [reminder] = teams.thread(card_id)
    text = text_of(reminder)
    assert "Reminder: urgent escalation #1 is still unclaimed after 10 minutes" in text
    mentioned = {e["mentioned"]["id"] for e in card_of(reminder)["msteams"]["entities"]}
    assert {DSL, MEMBER, DEPUTY} <= mentioned  # the DSL group: each DSL by name
    clock.advance(minutes=10)
    assert scheduler.tick()["reminders"] == 1
    deputy_note = text_of(teams.thread(card_id)[-1])
    assert "Escalated to the deputy DSL: urgent escalation #1 is still unclaimed" in deputy_note
    dms = [text_of(a) for a in fake.activities_in(f"a:personal-{DEPUTY}")]
    assert sum("Urgent escalation #1 is unclaimed: please claim it in the DSL channel" in t for t in dms) == 1
    clock.advance(hours=5)
    assert scheduler.tick()["reminders"] == 0


def test_a_requester_without_the_app_is_relayed_through_the_thread_and_logged(teams, fake, staff, caplog):
    reach_referral(teams, staff)
    with teams.storage.transaction() as tx:  # as if they had never messaged canishare in Teams
        tx.contacts.save("teams", staff, {"name": "Sam Worker"})
    caplog.set_level(logging.ERROR, logger="canishare.teams")
    teams.channel_click(DSL, "Dee Lead", "dsl_claim", the_card(teams))
    [relay] = teams.thread(the_card(teams)[0])
    assert "does not have canishare in Teams" in text_of(relay) and "was claimed by" in text_of(relay)
    assert any("MemberNotFoundInConversation" in r.getMessage() for r in caplog.records)
    with teams.storage.read() as tx:
        [notice] = [d for d in tx.outbox.for_escalation(1) if d.key == "notice:1:claim"]
    assert notice.status.value == "delivered" and notice.result["relayed_for"] == staff


def test_a_delivery_that_fails_once_is_retried_and_retry_after_is_honoured(teams, fake, clock, staff):
    fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", 429, retry_after=30)
    outcome = reach_referral(teams, staff)
    assert "We have not reached your DSLs yet (escalation #1)" in text_of(outcome)
    assert teams.escalation_cards() == []
    scheduler = teams.services.scheduler()
    clock.advance(seconds=20)  # Teams asked for 30 s
    scheduler.tick()
    assert teams.escalation_cards() == []
    clock.advance(seconds=11)
    scheduler.tick()
    assert len(teams.escalation_cards()) == 1
    with teams.storage.read() as tx:
        [card] = [d for d in tx.outbox.for_escalation(1) if d.kind.value == "card"]
    assert card.status.value == "delivered" and card.attempts == 2  # one failure, then delivered


@pytest.mark.parametrize("status", [412, 502, 504])
def test_transient_connector_errors_are_retried(teams, fake, clock, staff, status):
    fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", status)
    reach_referral(teams, staff)
    clock.advance(seconds=6)
    teams.services.scheduler().tick()
    assert len(teams.escalation_cards()) == 1


def test_a_card_that_keeps_failing_falls_back_to_direct_messages(teams, fake, clock, staff, caplog):
    fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", 500, times=50)
    reach_referral(teams, staff)
    caplog.set_level(logging.ERROR, logger="canishare.outbox")
    scheduler = teams.services.scheduler()
    for _ in range(3):
        clock.advance(minutes=1)
        scheduler.tick()
    for person in (DSL, DEPUTY):
        dms = [text_of(a) for a in fake.activities_in(f"a:personal-{person}")]
        assert sum("Urgent safeguarding escalation #1 from" in t and "could not be posted in the DSL channel"
                   in t for t in dms) == 1
    assert any("DSLs and deputies messaged directly" in r.getMessage() for r in caplog.records)
    assert escalation(teams).card_state.value == "fallback"


@pytest.mark.parametrize("monday", [MONDAY_10AM, datetime(2027, 6, 7, 10, 0, tzinfo=UTC)],
                         ids=["november-2026", "june-2027"])
def test_the_weekly_export_is_delivered_once(fake, real_bundle, tmp_path, monday):
    """Runs at two different frozen "todays": nothing depends on the real date."""
    clock = FrozenClock(monday)
    teams = start_teams(fresh_fake(fake), real_bundle, tmp_path / "weekly.db", clock, **DSL_SETTINGS)
    try:
        staff = new_user_id()
        reach_referral(teams, staff)
        task = teams.open_dialog(staff, "record_open")
        teams.submit_dialog(staff, task, {"decision": "shared", "what": "summary", "with_whom": "SW",
                                          "purpose": "referral", "reasons": "risk"})
        clock.set(monday + timedelta(days=8))  # the clock process was down on Monday; up on Tuesday
        scheduler = teams.services.scheduler()
        assert scheduler.tick()["weekly_export"] == 1
        first, last = monday.date(), (monday + timedelta(days=6)).date()
        [summary] = [card_of(a) for a in teams.dsl_posts() if "Decisions" in text_of(card_of(a) or {})]
        assert f"Decisions {first:%d %b %Y} to {last:%d %b %Y}: 1" in text_of(summary)
        assert "The file went to 3 DSLs in their chat with canishare" in text_of(summary)
        offers = {person: file_offers(fake, person) for person in (DSL, DEPUTY, MEMBER)}
        assert all(len(found) == 1 for found in offers.values())
        [consent] = offers[DSL]
        assert consent["name"] == f"canishare-decisions-{first}-to-{last}.xlsx"
        clock.advance(hours=1)
        assert scheduler.tick()["weekly_export"] == 0
        assert teams.services.scheduler().tick()["weekly_export"] == 0  # a restarted clock process too
        assert len([a for a in teams.dsl_posts() if "Decisions" in text_of(a)]) == 1
        # the DSL accepts: the file goes to their OneDrive upload session and shows in their chat
        accept = {"type": "fileUpload", "action": "accept", "context": consent["content"]["acceptContext"],
                  "uploadInfo": {"name": consent["name"], "uploadUrl": fake.upload_url("s1"),
                                 "contentUrl": "https://contoso.sharepoint.com/f.xlsx", "uniqueId": "u1",
                                 "fileType": "xlsx"}}
        status, _ = teams._send(personal_activity(fake, DSL, kind="invoke", name="fileConsent/invoke",
                                                  value=accept))
        assert status == 200
        sheet = openpyxl.load_workbook(io.BytesIO(fake.uploads["s1"])).active
        assert sheet.max_row == 2  # a header and the one decision
        assert fake.calls_to("PUT", r"^/upload/s1$")[0].authorization == ""  # never the bot's token
        assert "application/vnd.microsoft.teams.card.file.info" in text_of(teams.chat(DSL)[-1])
        # someone else cannot take a DSL's file
        status, _ = teams._send(personal_activity(fake, staff, kind="invoke", name="fileConsent/invoke",
                                                  value={**accept, "uploadInfo": {
                                                      **accept["uploadInfo"], "uploadUrl": fake.upload_url("s2")}}))
        assert status == 200 and "s2" not in fake.uploads
        with teams.storage.read() as tx:
            actions = [r["action"] for r in tx.audit.rows()]
        assert actions.count("export_offered") == 3 and actions.count("export_saved") == 1
        assert "refused" in actions
    finally:
        teams.stop()


def test_a_dsl_asks_for_an_export_now_and_others_are_refused(teams, fake):
    stranger = new_user_id()
    teams.mention(stranger, "Nosey Parker", "export")
    assert "Only a Designated Safeguarding Lead can export" in text_of(teams.dsl_posts()[-1])
    teams.mention(DSL, "Dee Lead", "export 2026-11-09 2026-11-15")
    summary = [a for a in teams.dsl_posts() if "Decisions 09 Nov 2026 to 15 Nov 2026" in text_of(a)]
    assert len(summary) == 1 and "Requested by <at>Dee Lead</at>" in text_of(summary[0])
    offers = file_offers(fake, DSL)
    assert len(offers) == 1 and offers[0]["name"].startswith("canishare-decisions-2026-11-09")
    assert fake.activities_in(f"a:personal-{MEMBER}") == []  # on demand: only to the DSL who asked
    assert "file is in your personal chat" in text_of(teams.dsl_posts()[-1])
    teams.mention(DSL, "Dee Lead", "export 2026-11-15 2026-11-09")
    assert "Usage: export" in text_of(teams.dsl_posts()[-1])
    teams.message(DSL, "export")  # from the personal chat too
    assert len(file_offers(fake, DSL)) == 2


def test_log_and_help_in_the_dsl_channel(teams, staff):
    teams.mention(new_user_id(), "Nosey Parker", "log")
    assert "Only a Designated Safeguarding Lead can read the decision log" in text_of(teams.dsl_posts()[-1])
    teams.mention(DSL, "Dee Lead", "log")
    assert "Latest decisions" in text_of(teams.dsl_posts()[-1])
    teams.mention(DSL, "Dee Lead", "what is this")
    assert "canishare posts escalations here" in text_of(teams.dsl_posts()[-1])


def test_start_in_the_channel_opens_a_check_in_the_personal_chat(teams, fake):
    teams.mention(MEMBER, "Mo Member", "start")
    assert "A new check is waiting in your personal chat" in text_of(teams.dsl_posts()[-1])
    [check] = fake.activities_in(f"a:personal-{MEMBER}")
    assert "immediate danger" in text_of(check)


def test_the_team_install_is_remembered_for_later_posts(teams, fake):
    install = personal_activity(fake, DSL, kind="installationUpdate", action="add")
    install["conversation"] = {"id": DSL_CHANNEL_ID, "conversationType": "channel"}
    # Teams names the tenant on every activity; one without it would be refused (issue 20.8)
    install["channelData"] = {"team": {"id": DSL_TEAM_ID, "name": "DSLs"}, "tenant": {"id": TENANT_ID}}
    assert teams._send(install)[0] == 200
    with teams.storage.read() as tx:
        assert tx.contacts.load("teams", f"team:{DSL_TEAM_ID}")["service_url"] == fake.service_url
