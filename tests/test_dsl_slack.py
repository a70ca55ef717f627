"""DSL escalations, reminders and the weekly post, through the real Bolt app and fake Slack.
Time is a manual clock: reminders fire by advancing it, never by sleeping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bot.dsl.desk import DslDesk
from bot.dsl.scheduler import Scheduler
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import SlackApp, actions_in, start_app, text_of
from tests.test_slack import TO_REFERRAL, walk

DSL, DEPUTY, STAFF = "UDSL", "UDEP", "U1"
MONDAY_10AM = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # Europe/London is UTC in November


class ManualClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock():
    return ManualClock(MONDAY_10AM)


DSL_SETTINGS = dict(dsl_channel="CDSL", dsl_user_ids=DSL, deputy_dsl_user_ids=DEPUTY,
                    dsl_group_mention="<!subteam^S1|dsl-team>")


@pytest.fixture
def slack(fake, real_bundle, tmp_path, clock):
    app = start_app(fake, real_bundle, tmp_path / "dsl.db", clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def reach_referral(slack: SlackApp, user: str = STAFF) -> None:
    slack.command(user=user)
    walk(slack, TO_REFERRAL, user)
    slack.click("multi_continue", user=user, picked=["sexual_abuse"])


def card_posts(fake: FakeSlack):
    return [c for c in fake.of("chat.postMessage") if c.params.get("channel") == "CDSL"
            and not c.params.get("thread_ts")]


def card_message(fake: FakeSlack) -> dict:
    call = card_posts(fake)[-1]
    latest = [c for c in fake.of("chat.update") if c.params.get("ts") == call.response["ts"]]
    blocks = (latest[-1] if latest else call).params["blocks"]
    return {"channel": "CDSL", "ts": call.response["ts"], "blocks": blocks}


def scheduler_for(slack: SlackApp, fake: FakeSlack, clock) -> Scheduler:
    desk = DslDesk(slack.settings, slack.storage, slack.channel.bundle, clock)
    return Scheduler(slack.settings, slack.storage, desk, WebClient(token="x", base_url=fake.base_url))


def test_escalation_card_has_the_facts_and_no_free_text(slack, fake):
    reach_referral(slack)
    [card] = card_posts(fake)
    text = text_of(card.params["blocks"])
    assert "Urgent escalation #1" in text and "<@U1>" in text
    assert "Refer to children's social care* (outcome O03, flow can_i_share)" in text
    assert "GR1, GR2, GR3, GR5, GR6, GR7" in text and "dpa2018-sch1-para18" in text
    assert "Is a child, or anyone else, in immediate danger right now? — *No*" in text
    assert "What is the concern about? Choose all that apply. — *Sexual abuse*" in text
    assert "Mon 16 Nov 10:00" in text and ":hourglass: Unclaimed" in text
    assert {"dsl_claim", "dsl_resolve", "dsl_more_info"} <= set(actions_in(card.params["blocks"]))
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
    assert fields[3]["text"] == "*Case reference*\nCS-4410"


def test_claim_by_a_dsl_and_the_requester_is_told(slack, fake, clock):
    reach_referral(slack)
    clock.advance(minutes=4)
    assert slack.click("dsl_claim", user=DSL, message=card_message(fake)).status == 200
    card = card_message(fake)
    assert "Claimed by <@UDSL> at Mon 16 Nov 10:04" in text_of(card["blocks"])
    assert "dsl_claim" not in actions_in(card["blocks"])
    dm = [c for c in fake.of("chat.postMessage") if c.params["channel"] == STAFF]
    assert "was claimed by <@UDSL>" in dm[-1].params["text"]
    row = slack.storage.escalation(1)
    assert row["status"] == "claimed" and row["next_reminder_at"] is None


def test_claim_refused_for_a_non_dsl_and_logged(slack, fake):
    reach_referral(slack)
    slack.click("dsl_claim", user="UNOPE", message=card_message(fake))
    refusal = fake.last("chat.postEphemeral").params
    assert refusal["user"] == "UNOPE" and "Only a Designated Safeguarding Lead can claim" in refusal["text"]
    assert slack.storage.escalation(1)["status"] == "open"
    [audit] = slack.storage.audit_rows("refused")
    assert audit["actor"] == "UNOPE" and "claim" in audit["detail"]


def test_channel_members_count_as_dsls(slack, fake):
    fake.channel_members["CDSL"] = ["UMEMBER"]
    reach_referral(slack)
    slack.click("dsl_claim", user="UMEMBER", message=card_message(fake))
    assert slack.storage.escalation(1)["claimed_by"] == "UMEMBER"


def test_resolve_with_a_note(slack, fake, clock):
    reach_referral(slack)
    slack.click("dsl_claim", user=DSL, message=card_message(fake))
    slack.click("dsl_resolve", user=DSL, message=card_message(fake))
    view = fake.last("views.open").params["view"]
    refused = slack.submit_modal(view, {"note": "spoke to Jane Smith"}, user=DSL)
    assert "a person's name" in refused.json()["errors"]["note"]
    clock.advance(minutes=30)
    assert slack.submit_modal(view, {"note": "referred to MASH; strategy meeting booked"}, user=DSL).body == ""
    text = text_of(card_message(fake)["blocks"])
    assert "Resolved by <@UDSL> at Mon 16 Nov 10:30: referred to MASH; strategy meeting booked" in text
    assert not {"dsl_claim", "dsl_resolve"} & set(actions_in(card_message(fake)["blocks"]))
    dm = [c for c in fake.of("chat.postMessage") if c.params["channel"] == STAFF]
    assert "was resolved by <@UDSL>" in dm[-1].params["text"]


def test_need_more_info_opens_a_thread_with_the_requester(slack, fake):
    reach_referral(slack)
    card = card_message(fake)
    slack.click("dsl_more_info", user=DSL, message=card)
    thread = fake.last("chat.postMessage")
    posts = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == card["ts"]]
    assert posts and "<@U1>, <@UDSL> needs more information" in posts[-1].params["text"]
    assert thread.params["channel"] == STAFF and "needs more information" in thread.params["text"]


def test_talk_to_a_dsl_now_mid_flow(slack, fake):
    slack.command()
    walk(slack, ["answer:no", "answer:england"])
    slack.click("talk_to_dsl")
    text = text_of(card_posts(fake)[-1].params["blocks"])
    assert "Asked to talk to a DSL now" in text and "Urgent escalation" in text
    assert "Where is the child, or where do you work? — *England*" in text
    assert "DSLs have been asked to contact you now" in fake.last("chat.postEphemeral").params["text"]


def test_reminder_then_deputy_by_advancing_the_clock(slack, fake, clock):
    reach_referral(slack)
    scheduler = scheduler_for(slack, fake, clock)
    card_ts = card_posts(fake)[0].response["ts"]
    assert scheduler.desk.send_reminders(scheduler.client, clock.advance(minutes=9)) == 0
    assert scheduler.desk.send_reminders(scheduler.client, clock.advance(minutes=1)) == 1
    reminder = fake.last("chat.postMessage").params
    assert reminder["thread_ts"] == card_ts and reminder["reply_broadcast"] in (True, "true", "1")
    assert reminder["text"].startswith("<!subteam^S1|dsl-team> Reminder: urgent escalation #1")
    assert scheduler.desk.send_reminders(scheduler.client, clock.advance(minutes=9)) == 0
    assert scheduler.desk.send_reminders(scheduler.client, clock.advance(minutes=1)) == 1
    assert any(c.params["channel"] == DEPUTY and "unclaimed" in c.params["text"] for c in fake.of("chat.postMessage"))
    assert scheduler.desk.send_reminders(scheduler.client, clock.advance(hours=5)) == 0


def test_restart_between_escalation_and_reminder(fake, real_bundle, tmp_path, clock):
    db = tmp_path / "restart.db"
    first = start_app(fake, real_bundle, db, clock=clock, **DSL_SETTINGS)
    reach_referral(first)
    first.stop()
    second = start_app(fake, real_bundle, db, clock=clock, **DSL_SETTINGS)
    try:
        scheduler = scheduler_for(second, fake, clock)
        assert scheduler.tick(clock.advance(minutes=11))["reminders"] == 1
    finally:
        second.stop()


def test_out_of_hours_card_carries_the_route(fake, real_bundle, tmp_path):
    saturday = ManualClock(datetime(2026, 11, 21, 22, 0, tzinfo=UTC))
    app = start_app(fake, real_bundle, tmp_path / "ooh.db", clock=saturday, **DSL_SETTINGS)
    try:
        reach_referral(app)
        assert "emergency duty team" in text_of(card_posts(fake)[-1].params["blocks"])
    finally:
        app.stop()


def test_weekly_post_once_after_a_missed_run(slack, fake, clock):
    reach_referral(slack)  # a decision-worthy week: one escalation
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    slack.submit_record({"decision": "shared", "what": "summary", "with_whom": "SW", "purpose": "referral",
                         "reasons": "risk"}, meta)
    # the clock process was down on Monday 23 Nov at 08:00 and starts on Tuesday
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    scheduler = scheduler_for(slack, fake, ManualClock(tuesday))
    assert scheduler.tick(tuesday)["weekly_export"] == 1
    [complete] = fake.of("files.completeUploadExternal")
    params = complete.params
    assert params["channel_id"] == "CDSL"
    assert "Decisions 16 Nov 2026 to 22 Nov 2026*: 1" in params["initial_comment"]
    assert "Escalations: 1 (unclaimed: 1" in params["initial_comment"]
    assert len(fake.of("files.getUploadURLExternal")) == 1
    assert [c for c in fake.calls if c.method.startswith("upload/")]
    assert scheduler.tick(tuesday + timedelta(hours=1))["weekly_export"] == 0
    restarted = scheduler_for(slack, fake, ManualClock(tuesday))
    assert restarted.tick(tuesday + timedelta(hours=2))["weekly_export"] == 0
    assert len(fake.of("files.completeUploadExternal")) == 1
    # the next Monday's run happens, once
    assert restarted.tick(datetime(2026, 11, 30, 8, 1, tzinfo=UTC))["weekly_export"] == 1


def test_export_command_refused_for_non_dsl_and_works_for_dsl(slack, fake):
    response = slack.command("export", user="UNOPE")
    assert response.status == 200
    refusal = fake.last("chat.postEphemeral").params
    assert "Only a Designated Safeguarding Lead can export" in refusal["text"]
    assert not fake.of("files.completeUploadExternal")
    assert slack.storage.audit_rows("refused")[0]["actor"] == "UNOPE"
    slack.command("export 2026-11-09 2026-11-15", user=DSL)
    comment = fake.last("files.completeUploadExternal").params["initial_comment"]
    assert "Decisions 09 Nov 2026 to 15 Nov 2026" in comment and "<@UDSL>" in comment


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
