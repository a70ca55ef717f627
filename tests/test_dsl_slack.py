"""The DSL desk through the real Bolt app and the fake Slack: escalation cards, claim, resolve,
need more info, reminders, the deputy step, exports. Time is a frozen clock that tests move."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.clock import FrozenClock
from tests.conftest import MONDAY_10AM
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import SlackApp, actions_in, start_app, text_of
from tests.test_slack import TO_REFERRAL, finish_referral, walk

DSL, DEPUTY, STAFF = "UDSL", "UDEP", "U1"
DSL_SETTINGS = dict(dsl_channel="CDSL", dsl_user_ids=DSL, deputy_dsl_user_ids=DEPUTY,
                    dsl_group_mention="<!subteam^S1|dsl-team>")


@pytest.fixture
def slack(fake, real_bundle, database, clock):
    app = start_app(fake, real_bundle, database, clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def reach_referral(slack: SlackApp, user: str = STAFF) -> None:
    slack.command(user=user)
    walk(slack, TO_REFERRAL, user)
    finish_referral(slack, user)


def card_posts(fake: FakeSlack):
    return fake.posts_to("CDSL", thread=False)


def card_message(fake: FakeSlack) -> dict:
    call = card_posts(fake)[-1]
    latest = [c for c in fake.of("chat.update") if c.params.get("ts") == call.response["ts"]]
    blocks = (latest[-1] if latest else call).params["blocks"]
    return {"channel": "CDSL", "ts": call.response["ts"], "blocks": blocks}


def dms_to(fake: FakeSlack, user: str):
    return [c for c in fake.of("chat.postMessage") if c.params["channel"] == user]


def escalation(slack: SlackApp, escalation_id: int = 1):
    with slack.storage.read() as tx:
        return tx.escalations.get(escalation_id)


def test_escalation_card_has_the_facts_and_no_free_text(slack, fake):
    reach_referral(slack)
    [card] = card_posts(fake)
    text = text_of(card.params["blocks"])
    assert "Urgent safeguarding escalation #1" in text and "<@U1>" in text
    assert "*Refer to children's social care*" in text
    assert "Protection first" in text and "GR1" not in text and "(DPA 2018 Sch 1 para 18)" in text
    assert "dpa2018-sch1-para18" not in text and "O03" not in text  # no internal ids
    assert "Is a child, or anyone else, in immediate danger right now? — *No*" in text
    # edition 2 tells in-person sexual abuse apart from online sexual abuse in the label
    assert "What is the concern about? Choose all that apply. — *Sexual abuse (in person)*" in text
    assert "Mon 16 Nov 10:00" in text and "Unclaimed" in text
    # edition 3: how soon in plain words and the date of the law applied, on the card and the answer
    assert "*How soon*" in text and "Today: before the end of today or this shift" in text
    assert "The law as at 16 November 2026." in text
    assert "The law as at 16 November 2026." in text_of(fake.last("chat.update").params["blocks"])
    assert {"dsl_claim", "dsl_resolve", "dsl_more_info"} <= set(actions_in(card.params["blocks"]))
    # the person's answer says the DSLs were alerted, because the card was delivered
    outcome = text_of(fake.last("chat.update").params["blocks"])
    assert "Your DSLs have been alerted (escalation #1)" in outcome
    # the person records free text afterwards: it never reaches the card
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    slack.submit_record({"decision": "shared", "what": "summary of disclosure", "with_whom": "duty SW",
                         "purpose": "referral", "reasons": "sexual abuse suspected"}, meta)
    assert all("summary of disclosure" not in text_of(c.params.get("blocks") or [])
               for c in fake.calls if c.params.get("channel") == "CDSL")
    assert len(card_posts(fake)) == 1  # one card per outcome, not per click


def test_case_reference_reaches_the_card_when_recorded(slack, fake):
    reach_referral(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    slack.submit_record({"decision": "shared", "what": "summary", "with_whom": "duty SW",
                         "purpose": "referral", "reasons": "risk", "case_reference": "CS-4410"}, meta)
    fields = card_message(fake)["blocks"][1]["fields"]
    assert {"type": "plain_text", "text": "Case reference\nCS-4410", "emoji": False} in fields


def test_claim_by_a_dsl_and_the_requester_is_told(slack, fake, clock):
    reach_referral(slack)
    clock.advance(minutes=4)
    assert slack.click("dsl_claim", user=DSL, message=card_message(fake)).status == 200
    card = card_message(fake)
    status = next(b for b in card["blocks"] if b["type"] == "rich_text")
    elements = status["elements"][0]["elements"]
    assert elements[0]["text"] == "Claimed by " and elements[1] == {"type": "user", "user_id": DSL}
    assert "Mon 16 Nov 10:04" in text_of(card["blocks"])
    assert "dsl_claim" not in actions_in(card["blocks"])
    assert "was claimed by <@UDSL>" in dms_to(fake, STAFF)[-1].params["text"]
    row = escalation(slack)
    assert row.status.value == "claimed" and row.next_reminder_at is None


def test_claim_refused_for_a_non_dsl_and_logged(slack, fake):
    reach_referral(slack)
    slack.click("dsl_claim", user="UNOPE", message=card_message(fake))
    refusal = fake.last("chat.postEphemeral").params
    assert refusal["user"] == "UNOPE" and "Only a Designated Safeguarding Lead can claim" in refusal["text"]
    assert escalation(slack).status.value == "open"
    with slack.storage.read() as tx:
        [audit] = tx.audit.rows("refused")
    assert audit["actor"] == "UNOPE" and "claim" in audit["detail"]


def test_channel_members_count_as_dsls(slack, fake):
    fake.channel_members["CDSL"] = ["UMEMBER"]
    reach_referral(slack)
    slack.click("dsl_claim", user="UMEMBER", message=card_message(fake))
    assert escalation(slack).claimed_by == "UMEMBER"


def test_members_of_a_public_dsl_channel_are_not_dsls(fake, real_bundle, tmp_path, clock, caplog):
    fake.channel_members["CDSL"] = ["UJOINED"]
    fake.public_channels.add("CDSL")  # anyone could join it
    app = start_app(fake, real_bundle, tmp_path / "public.db", clock=clock, **DSL_SETTINGS)
    try:
        reach_referral(app)
        app.click("dsl_claim", user="UJOINED", message=card_message(fake))
        assert escalation(app).status.value == "open"
        assert "Only a Designated Safeguarding Lead" in fake.last("chat.postEphemeral").params["text"]
        assert any("is a public channel" in r.getMessage() for r in caplog.records)
        app.click("dsl_claim", user=DSL, message=card_message(fake))  # a listed DSL still can
        assert escalation(app).claimed_by == DSL
    finally:
        app.stop()


def test_resolve_with_a_note(slack, fake, clock):
    reach_referral(slack)
    slack.click("dsl_claim", user=DSL, message=card_message(fake))
    slack.click("dsl_resolve", user=DSL, message=card_message(fake))
    view = fake.last("views.open").params["view"]
    refused = slack.submit_modal(view, {"note": "spoke to Jane Smith"}, user=DSL)
    assert "a person's name" in refused.json()["errors"]["note"]
    too_long = slack.submit_modal(view, {"note": "x" * 501}, user=DSL)
    assert "Too long: 501 characters, the limit is 500" in too_long.json()["errors"]["note"]
    clock.advance(minutes=30)
    assert slack.submit_modal(view, {"note": "referred to MASH; strategy meeting booked"}, user=DSL).body == ""
    blocks = card_message(fake)["blocks"]
    assert "Mon 16 Nov 10:30" in text_of(blocks) and "referred to MASH; strategy meeting booked" in text_of(blocks)
    assert not {"dsl_claim", "dsl_resolve"} & set(actions_in(blocks))
    told = dms_to(fake, STAFF)[-1].params["text"]  # the closed loop: plain words, no details
    assert "was looked at and closed by <@UDSL>" in told and "MASH" not in told


def test_resolve_modal_refuses_a_non_dsl_and_tampered_metadata(slack, fake):
    reach_referral(slack)
    slack.click("dsl_resolve", user="UNOPE", message=card_message(fake))
    assert "Only a Designated Safeguarding Lead" in fake.last("chat.postEphemeral").params["text"]
    assert not fake.of("views.open")
    slack.click("dsl_resolve", user=DSL, message=card_message(fake))
    view = fake.last("views.open").params["view"]
    borrowed = slack.submit_modal(view, {"note": "closing"}, user="UOTHER")  # another person's modal
    assert "could not be checked" in borrowed.json()["errors"]["note"]
    forged = slack.submit_modal({**view, "private_metadata": json.dumps({"e": 1})}, {"note": "closing"}, user=DSL)
    assert "could not be checked" in forged.json()["errors"]["note"]
    assert escalation(slack).status.value == "open"


def test_need_more_info_opens_a_thread_with_the_requester_once(slack, fake):
    reach_referral(slack)
    card = card_message(fake)
    for _ in range(3):  # pressed again on the same card: one request
        slack.click("dsl_more_info", user=DSL, message=card)
    posts = fake.posts_to("CDSL", thread=True)
    assert len(posts) == 1 and "<@U1>, <@UDSL> needs more information" in posts[0].params["text"]
    [dm] = [c for c in dms_to(fake, STAFF) if "needs more information" in c.params["text"]]
    assert "more information asked by" in text_of(card_message(fake)["blocks"])
    slack.click("dsl_more_info", user=DSL, message=card_message(fake))  # the redrawn card: asks again
    assert len(fake.posts_to("CDSL", thread=True)) == 2


def test_talk_to_a_dsl_now_mid_flow(slack, fake):
    slack.command()
    walk(slack, ["answer:no", "answer:england"])
    slack.click("talk_to_dsl")
    text = text_of(card_posts(fake)[-1].params["blocks"])
    assert "Asked to talk to a DSL now" in text and "Urgent safeguarding escalation" in text
    assert "Where is the child, or where do you work? — *England*" in text
    assert "Your DSLs have been alerted (escalation #1)" in fake.last("chat.postEphemeral").params["text"]
    slack.click("talk_to_dsl")  # pressed again at the same step
    assert len(card_posts(fake)) == 1
    assert "Your DSLs have already been alerted" in fake.last("chat.postEphemeral").params["text"]


def test_talk_to_a_dsl_tells_the_truth_when_the_card_did_not_arrive(slack, fake):
    slack.command()
    fake.fail("chat.postMessage", "500", times=5, when=lambda p: p.get("channel") == "CDSL")
    slack.click("talk_to_dsl")
    text = fake.last("chat.postEphemeral").params["text"]
    assert "We have not reached your DSLs yet (escalation #1)" in text and "emergency duty team" in text
    slack.click("talk_to_dsl")
    assert "have already been alerted" not in fake.last("chat.postEphemeral").params["text"]


def test_reminder_then_deputy_by_advancing_the_clock(slack, fake, clock):
    reach_referral(slack)
    scheduler = slack.services.scheduler()
    card_ts = card_posts(fake)[0].response["ts"]
    clock.advance(minutes=9)
    assert scheduler.tick()["reminders"] == 0
    clock.advance(minutes=1)
    assert scheduler.tick()["reminders"] == 1
    reminder = fake.last("chat.postMessage").params
    assert reminder["thread_ts"] == card_ts and reminder["reply_broadcast"] in (True, "true", "1")
    assert reminder["text"].startswith("<!subteam^S1|dsl-team> Reminder: urgent escalation #1")
    assert reminder["blocks"][0]["elements"][0]["elements"][0] == {"type": "usergroup", "usergroup_id": "S1"}
    clock.advance(minutes=9)
    assert scheduler.tick()["reminders"] == 0
    clock.advance(minutes=1)
    assert scheduler.tick()["reminders"] == 1
    assert any("unclaimed" in c.params["text"] for c in dms_to(fake, DEPUTY))
    assert fake.posts_to("CDSL", thread=True)[-1].params["text"].startswith("<@UDEP> Escalated to the deputy")
    clock.advance(hours=5)
    assert scheduler.tick()["reminders"] == 0


def test_restart_between_escalation_and_reminder(fake, real_bundle, tmp_path, clock):
    db = tmp_path / "restart.db"
    first = start_app(fake, real_bundle, db, clock=clock, **DSL_SETTINGS)
    reach_referral(first)
    first.stop()
    second = start_app(fake, real_bundle, db, clock=clock, **DSL_SETTINGS)
    try:
        clock.advance(minutes=11)
        assert second.services.scheduler().tick()["reminders"] == 1
    finally:
        second.stop()


def test_out_of_hours_card_carries_the_route(fake, real_bundle, tmp_path):
    saturday = FrozenClock(datetime(2026, 11, 21, 22, 0, tzinfo=UTC))
    app = start_app(fake, real_bundle, tmp_path / "ooh.db", clock=saturday, **DSL_SETTINGS)
    try:
        reach_referral(app)
        assert "emergency duty team" in text_of(card_posts(fake)[-1].params["blocks"])
    finally:
        app.stop()


@pytest.mark.parametrize("monday", [MONDAY_10AM, datetime(2027, 6, 7, 10, 0, tzinfo=UTC)],
                         ids=["november-2026", "june-2027"])
def test_weekly_post_once_after_a_missed_run(fake, real_bundle, tmp_path, monday):
    """Runs at two different frozen "todays": nothing depends on the real date."""
    clock = FrozenClock(monday)
    slack = start_app(fake, real_bundle, tmp_path / "weekly.db", clock=clock, **DSL_SETTINGS)
    try:
        reach_referral(slack)  # a decision-worthy week: one escalation
        slack.click("record_open")
        meta = fake.last("views.open").params["view"]["private_metadata"]
        slack.submit_record({"decision": "shared", "what": "summary", "with_whom": "SW", "purpose": "referral",
                             "reasons": "risk"}, meta)
        # the clock process was down at the next Monday 08:00 (local) and starts on Tuesday
        clock.set(monday + timedelta(days=8))
        scheduler = slack.services.scheduler()
        assert scheduler.tick()["weekly_export"] == 1
        [complete] = fake.of("files.completeUploadExternal")
        params = complete.params
        first, last = monday.date(), (monday + timedelta(days=6)).date()
        assert params["channel_id"] == "CDSL"
        assert f"Decisions {first:%d %b %Y} to {last:%d %b %Y}: 1*" in params["initial_comment"]
        assert "Escalations: 1 (unclaimed: 1" in params["initial_comment"]
        # the log's signed checkpoint is published outside the database, in the post itself
        assert "Log checkpoint: `canishare-checkpoint v1 at=" in params["initial_comment"]
        assert len(fake.of("files.getUploadURLExternal")) == 1
        clock.advance(hours=1)
        assert scheduler.tick()["weekly_export"] == 0
        restarted = slack.services.scheduler()
        clock.advance(hours=1)
        assert restarted.tick()["weekly_export"] == 0
        assert len(fake.of("files.completeUploadExternal")) == 1
        clock.set(monday + timedelta(days=14, hours=-1, minutes=1))  # the Monday after, 09:01
        assert restarted.tick()["weekly_export"] == 1
    finally:
        slack.stop()


def test_export_command_refused_for_non_dsl_and_works_for_dsl(slack, fake):
    response = slack.command("export", user="UNOPE")
    assert response.status == 200
    refusal = fake.last("respond").params  # through the command's response URL
    assert "Only a Designated Safeguarding Lead can export" in refusal["text"]
    assert not fake.of("files.completeUploadExternal")
    with slack.storage.read() as tx:
        assert tx.audit.rows("refused")[0]["actor"] == "UNOPE"
    slack.command("export 2026-11-09 2026-11-15", user=DSL)
    comment = fake.last("files.completeUploadExternal").params["initial_comment"]
    assert "Decisions 09 Nov 2026 to 15 Nov 2026" in comment and "<@UDSL>" in comment
    assert "The export is in the DSL channel" in fake.last("respond").params["text"]
    slack.command("export 2026-11-15 2026-11-09", user=DSL)
    assert "Usage:" in fake.last("respond").params["text"]


def test_log_command_is_for_dsls(slack, fake):
    assert "Only a Designated Safeguarding Lead" in slack.command("log", user="UNOPE").body
    assert "Latest decisions" in slack.command("log", user=DSL).body


def test_no_dsl_channel_means_talk_to_dsl_explains(fake, real_bundle, tmp_path):
    app = start_app(fake, real_bundle, tmp_path / "nodsl.db")
    try:
        app.command()
        app.click("talk_to_dsl")
        assert "No DSL channel is set up" in fake.last("chat.postEphemeral").params["text"]
        assert json.dumps([c.params for c in fake.of("chat.postMessage")]).count("escalation") == 0
    finally:
        app.stop()


def test_an_identifier_in_a_reply_under_a_card_gets_a_masked_warning(slack, fake):
    reach_referral(slack)
    card = card_message(fake)
    slack.event({"type": "message", "channel_type": "channel", "channel": "CDSL", "user": STAFF,
                 "text": "it's Tobias Harding, 07700 900123", "ts": "2.0", "thread_ts": card["ts"]})
    warning = fake.last("chat.postEphemeral").params
    assert warning["user"] == STAFF and warning["thread_ts"] == card["ts"]
    assert "a phone number ending 123" in warning["text"] and "Tobias" not in warning["text"]
    slack.event({"type": "message", "channel_type": "channel", "channel": "CDSL", "user": STAFF,
                 "text": "called the duty team, they have it", "ts": "2.1", "thread_ts": card["ts"]})
    assert fake.last("chat.postEphemeral").params["text"] == warning["text"]  # no second warning


def test_a_practice_check_to_a_referral_alerts_no_dsl(slack, fake):
    from datetime import datetime

    slack.command("practice")
    walk(slack, TO_REFERRAL)
    finish_referral(slack)
    assert "PRACTICE" in text_of(fake.last("chat.update").params["blocks"])
    assert not card_posts(fake)
    with slack.storage.read() as tx:
        assert tx.escalations.between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)) == []
        assert list(tx.decisions.iter()) == []


def test_a_slack_dsl_cannot_act_on_another_channels_escalation(slack, fake):
    with slack.storage.transaction() as tx:
        teams_id = tx.escalations.create("t1", channel="teams", requester="aad-1", conversation_id="c",
                                         kind="outcome", urgency="urgent")
    crafted = {"channel": "CDSL", "ts": "9.9", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "dsl_claim", "value": json.dumps({"e": teams_id, "v": 1})}]}]}
    slack.click("dsl_claim", user=DSL, message=crafted)
    assert "not on this desk" in fake.last("chat.postEphemeral").params["text"]
    assert escalation(slack, teams_id).status.value == "open"
