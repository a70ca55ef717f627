"""The Slack app end to end: real Bolt over HTTP, signed requests, fake Slack Web API."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import GMC_NOTE, REQUEST_REVEALING_RISK, decisions, real_flows, with_profile
from tests.slack_harness import SlackApp, actions_in, find_element, start_app, text_of

# From a fresh check to the concern-type question of a referral; the profile answers it leaves
# out (the role, since guidance edition 2) are put in by `with_profile`.
TO_REFERRAL = [f"answer:{a}" for a in with_profile(real_flows(), [
    "no", "england", "public_body", "share_concern", "child", "childrens_social_care",
    "observations_disclosures", "significant_harm"])]


@pytest.fixture
def slack(fake, real_bundle, database):
    app = start_app(fake, real_bundle, database)
    yield app
    app.stop()


def walk(slack: SlackApp, clicks: list[str], user: str = "U1") -> None:
    for action in clicks:
        response = slack.click(action, user=user)
        assert response.status == 200, (action, response.body)


# Guidance edition 2 (the online sexual abuse change) asks, after sexual abuse, whether someone in
# the child's family may be involved; "yes" keeps edition 1's answer for this walk: refer to
# children's social care and don't tell the family first (O03).
FAMILY_MAY_BE_INVOLVED = "answer:yes"


def finish_referral(slack: SlackApp, user: str = "U1") -> None:
    """From the concern-type question of TO_REFERRAL to its answer: sexual abuse, in the family."""
    assert slack.click("multi_continue", user=user, picked=["sexual_abuse"]).status == 200
    assert slack.click(FAMILY_MAY_BE_INVOLVED, user=user).status == 200


def check_to_outcome(slack: SlackApp, user: str = "U1") -> None:
    slack.command(user=user)
    walk(slack, TO_REFERRAL, user)
    finish_referral(slack, user)


def test_slash_command_starts_a_check_in_a_dm(slack, fake):
    response = slack.command()
    assert response.status == 200
    assert "direct messages" in response.body
    assert fake.last("conversations.open").params["users"] == "U1"
    message = fake.last("chat.postMessage")
    assert message.params["channel"] == "DU1"
    assert "immediate danger" in text_of(message.params["blocks"])
    assert "answer:yes" in actions_in(message.params["blocks"])


def test_slash_command_help(slack, fake):
    response = slack.command("help")
    assert "call 999" in response.body and not fake.of("chat.postMessage")


def test_full_check_by_clicks_to_an_outcome_in_place(slack, fake):
    check_to_outcome(slack)
    first_ts = fake.of("chat.postMessage")[0].response["ts"]
    updates = fake.of("chat.update")
    assert len(updates) == len(TO_REFERRAL) + 2  # the concern, then whether the family may be involved
    assert {u.params["ts"] for u in updates} == {first_ts}  # the same message, updated in place
    outcome = updates[-1].params["blocks"]
    assert outcome[0]["type"] == "header" and outcome[0]["text"]["text"] == "Refer to children's social care"
    assert len(outcome) <= 6  # a phone screen: verdict, action, consent and DSL, then the buttons
    assert "Golden rules" not in text_of(outcome) and "not legal advice" in text_of(outcome)
    assert {"record_open", "more", "talk_to_dsl", "restart"} <= set(actions_in(outcome))
    slack.click("more")  # "Why, and the law"
    full = fake.last("chat.update").params["blocks"]
    text = text_of(full)
    assert text.index("Refer to children") < text.index("Golden rules") < text.index("The law")
    assert "Source: DfE Information sharing advice (2024), golden rule 1" in text
    assert "Record (golden rule 7)" in text and "more" not in actions_in(full)
    trail = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == first_ts]
    assert len(trail) == len(TO_REFERRAL) + 2
    assert "*Q1* Is a child, or anyone else, in immediate danger right now? — *No*" in trail[0].params["text"]
    assert "Sexual abuse" in trail[-2].params["text"]
    assert "someone in the child's family" in trail[-1].params["text"] and "*Yes*" in trail[-1].params["text"]


def test_old_buttons_disappear_after_an_answer(slack, fake):
    slack.command()
    slack.click("answer:no")
    blocks = fake.last("chat.update").params["blocks"]
    assert "answer:no" not in actions_in(blocks) and "answer:england" in actions_in(blocks)


def test_back_and_restart(slack, fake):
    slack.command()
    walk(slack, ["answer:no", "answer:wales"])
    slack.click("back")
    assert "Where is the child" in text_of(fake.last("chat.update").params["blocks"])
    slack.click("restart")
    blocks = fake.last("chat.update").params["blocks"]
    assert "immediate danger" in text_of(blocks) and "back" not in actions_in(blocks)


def test_help_affordance(slack, fake):
    slack.command()
    slack.click("help")
    assert "Immediate danger means harm is happening" in text_of(fake.last("chat.update").params["blocks"])


def test_multi_select_needs_a_tick(slack, fake):
    slack.command()
    walk(slack, TO_REFERRAL)
    updates = len(fake.of("chat.update"))
    slack.click("multi_continue", picked=[])
    assert len(fake.of("chat.update")) == updates
    assert "Tick at least one box" in fake.last("chat.postEphemeral").params["text"]


def test_duplicate_click_changes_nothing(slack, fake):
    slack.command()
    message = slack.last_message()
    assert slack.click("answer:no", message=message).status == 200
    updates = len(fake.of("chat.update"))
    state_before = slack.channel.conv.resume_latest("U1").state
    shown = fake.last("chat.update").params["blocks"]
    again = slack.click("answer:no", message=message)  # the same click pressed twice
    assert again.status == 200
    # nothing changes, and the message is drawn as the check stands (issue 20: never a dead button)
    assert len(fake.of("chat.update")) == updates + 1 and fake.last("chat.update").params["blocks"] == shown
    assert slack.channel.conv.resume_latest("U1").state == state_before
    replay = slack.click("answer:no", message=message, trigger="same-delivery")
    assert slack.click("answer:no", message=message, trigger="same-delivery").status == 200
    assert replay.status == 200 and len(fake.of("chat.update")) == updates + 2  # a retry acts once


def test_click_on_a_stale_message(slack, fake):
    slack.command()
    old = slack.last_message()
    walk(slack, ["answer:no", "answer:england"])
    updates = len(fake.of("chat.update"))
    current = fake.last("chat.update").params["blocks"]
    response = slack.click("answer:not_sure", message=old)
    # the old message is redrawn as the check stands now; the answer is not taken
    assert response.status == 200 and len(fake.of("chat.update")) == updates + 1
    assert fake.last("chat.update").params["blocks"] == current
    assert fake.last("chat.update").params["ts"] == old["ts"]
    assert slack.channel.conv.resume_latest("U1").state.answers == {
        "immediate_danger": "no", "jurisdiction": "england"}


def test_record_modal_valid_submission_writes_the_log(slack, fake):
    check_to_outcome(slack)
    slack.click("record_open", trigger="trigger-open-1")
    opened = fake.last("views.open")
    assert opened.params["trigger_id"] == "trigger-open-1"
    view = opened.params["view"]
    assert view["callback_id"] == "record_decision" and len(view["title"]["text"]) <= 24
    response = slack.submit_record({"decision": "shared", "what": "summary of the disclosure",
                                    "with_whom": "duty social worker, children's social care",
                                    "purpose": "child protection referral",
                                    "reasons": "suspected sexual abuse; family not told",
                                    "case_reference": "CS-2231"}, view["private_metadata"])
    assert response.status == 200 and response.body == ""
    [row] = decisions(slack.storage)
    assert row["channel"] == "slack" and row["user_id"] == "U1"
    assert row["outcome_id"] == "O03" and row["consent_position"] == "not_sought_unsafe"
    assert row["case_reference"] == "CS-2231" and row["decision"] == "shared"
    assert row["answers"]["concern_type"] == ["sexual_abuse"]
    assert "Recorded as decision #1" in fake.last("chat.postMessage").params["text"]
    again = slack.submit_record({"decision": "shared", "what": "x", "with_whom": "y", "purpose": "z",
                                 "reasons": "r"}, view["private_metadata"])
    assert "already recorded as decision #1" in again.json()["errors"]["decision"]
    assert len(decisions(slack.storage)) == 1


def test_record_refused_for_an_identifier(slack, fake):
    check_to_outcome(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    response = slack.submit_record({"decision": "shared", "what": "told them about Jane Smith",
                                    "with_whom": "social worker", "purpose": "referral",
                                    "reasons": "her mum's number is 07700 900123"}, meta)
    body = response.json()
    assert body["response_action"] == "errors"
    assert "a person's name (2 words)" in body["errors"]["what"] and "Jane" not in body["errors"]["what"]
    assert "a phone number" in body["errors"]["reasons"]
    assert decisions(slack.storage) == []


def test_direct_message_starts_then_resumes(slack, fake):
    slack.dm("hello")
    assert "immediate danger" in text_of(fake.last("chat.postMessage").params["blocks"])
    slack.click("answer:no")
    slack.dm("where was I?")
    assert "Where is the child" in text_of(fake.last("chat.postMessage").params["blocks"])
    slack.dm("help")
    assert "call 999" in fake.last("chat.postMessage").params["text"]


def test_dm_with_an_identifier_gets_a_warning(slack, fake):
    slack.dm("it's about Jane Smith, DOB 01/02/2015")
    warnings = [c for c in fake.of("chat.postMessage") if "identifying details" in c.params.get("text", "")]
    assert warnings and "a person's name" in warnings[0].params["text"]


def test_retried_event_is_handled_once(slack, fake):
    slack.dm("hello", event_id="EvSame")
    posted = len(fake.of("chat.postMessage"))
    response = slack.dm("hello", event_id="EvSame", retry=1)
    assert response.status == 200
    assert len(fake.of("chat.postMessage")) == posted


def test_unsigned_and_stale_requests_are_refused(slack, fake):
    assert slack.command(sign=False).status == 401
    assert slack.command(timestamp=int(time.time()) - 6 * 60).status == 401
    assert not fake.of("chat.postMessage")


def test_app_home_shows_start_and_recent_decisions(slack, fake):
    slack.event({"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "DU1"})
    home = fake.last("views.publish").params
    assert home["user_id"] == "U1"
    text = text_of(home["view"]["blocks"])
    assert "start_check" in actions_in(home["view"]["blocks"])
    assert "Not a place for names or case notes" in text and "None yet" in text
    check_to_outcome(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    slack.submit_record({"decision": "deferred", "what": "concern", "with_whom": "DSL",
                         "purpose": "advice", "reasons": "waiting for advice", "case_reference": "CS-1"}, meta)
    slack.event({"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "DU1"})
    text = text_of(fake.last("views.publish").params["view"]["blocks"])
    assert "Refer to children's social care" in text and "deferred" in text and "CS-1" in text
    slack.click("start_check", message={"channel": "", "ts": "", "blocks": home["view"]["blocks"]})
    assert "immediate danger" in text_of(fake.last("chat.postMessage").params["blocks"])


def test_profile_is_remembered_and_skipped(slack, fake):
    check_to_outcome(slack)
    slack.command()
    walk(slack, ["answer:no"])
    blocks = fake.last("chat.update").params["blocks"]
    text = text_of(blocks)
    assert "You are answering as: *England, public body, teacher*" in text
    assert "What do you need help with?" in text  # nation, organisation and role skipped
    slack.click("profile_change")
    blocks = fake.last("chat.update").params["blocks"]
    assert "You are answering as" not in text_of(blocks) and "immediate danger" in text_of(blocks)
    walk(slack, ["answer:no"])
    assert "Where is the child" in text_of(fake.last("chat.update").params["blocks"])
    walk(slack, ["answer:wales", "answer:nhs_health"])  # every profile question is asked again
    assert "What is your role?" in text_of(fake.last("chat.update").params["blocks"])
    walk(slack, ["answer:nurse_midwife", "answer:yes"])  # and in Wales, whether a relevant partner
    text = text_of(fake.last("chat.update").params["blocks"])
    assert "What do you need help with?" in text
    assert "You are answering as: *Wales, NHS or health, nurse or midwife, a relevant partner (2014 Act)*" in text


def test_restart_of_the_app_mid_conversation_resumes(fake, real_bundle, tmp_path):
    db = tmp_path / "restart.db"
    first = start_app(fake, real_bundle, db)
    first.command()
    walk(first, ["answer:no", "answer:scotland"])
    message = first.last_message()
    first.stop()
    second = start_app(fake, real_bundle, db)  # a new process on the same database
    try:
        assert second.click("answer:nhs_health", message=message).status == 200
        # the role comes next (a profile question since guidance edition 2)
        assert "What is your role?" in text_of(fake.last("chat.update").params["blocks"])
        second.dm("carry on")
        assert "What is your role?" in text_of(fake.last("chat.postMessage").params["blocks"])
    finally:
        second.stop()


def test_error_in_a_handler_gets_an_apology_with_a_reference(slack, fake, caplog):
    slack.command()
    fake.fail_methods["chat.update"] = "internal_error"
    response = slack.click("answer:no")
    assert response.status == 200
    apology = fake.last("chat.postMessage")
    assert "Sorry, something went wrong" in apology.params["text"]
    ref = apology.params["text"].split("reference ")[1].split(")")[0]
    assert "start_check" in actions_in(apology.params["blocks"])
    assert any(ref in record.getMessage() for record in caplog.records)


def test_button_values_fit_slack_limits(slack, fake):
    check_to_outcome(slack)
    for call in fake.of("chat.update") + fake.of("chat.postMessage"):
        for block in call.params.get("blocks") or []:
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    assert len(element["text"]["text"]) <= 75 and len(element["value"]) <= 2000
            if block.get("type") == "section" and "text" in block:
                assert len(block["text"]["text"]) <= 3000
        assert len(call.params.get("blocks") or []) <= 50
    assert json.loads(find_element(fake.last("chat.update").params["blocks"], "record_open")["value"])["c"]


def test_app_manifest_matches_what_the_app_listens_to():
    import yaml

    from tests.conftest import ROOT

    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text())
    settings = manifest["settings"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/canishare"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_home_opened", "message.im",
                                                                  "message.channels", "message.groups"}
    assert settings["interactivity"]["is_enabled"] and manifest["features"]["app_home"]["home_tab_enabled"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:history", "im:write", "files:write", "channels:read",
            "channels:history"} <= scopes
    for url in (settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]):
        assert url.endswith("/slack/events")


def test_practice_checks_say_so_and_record_nothing(slack, fake):
    from tests.conftest import decisions

    assert "practice" in slack.command("practice").body
    walk(slack, TO_REFERRAL)
    finish_referral(slack)
    messages = [c for c in fake.of("chat.postMessage") + fake.of("chat.update")
                if "blocks" in c.params and not c.params.get("thread_ts")]
    assert messages and all("PRACTICE: nothing is recorded and no DSL is alerted" in text_of(c.params["blocks"])
                            for c in messages)
    outcome = fake.last("chat.update").params["blocks"]
    assert "record_open" not in actions_in(outcome)
    slack.click("talk_to_dsl")
    assert "Practice: no DSL is alerted" in fake.last("chat.postEphemeral").params["text"]
    assert decisions(slack.storage) == []
    with slack.storage.read() as tx:
        assert tx.conversations.latest("practice:slack", "U1", status="finished") is not None
        assert tx.conversations.latest("slack", "U1") is None  # real checks untouched


@pytest.mark.parametrize("profession", ["doctor", "teacher"])
def test_a_request_revealing_an_unreferred_risk_is_a_referral_with_the_request_under_it(slack, fake, profession):
    slack.command()
    slack.walk_answers({**REQUEST_REVEALING_RISK, "profession": profession})
    outcome = fake.last("chat.update").params["blocks"]
    text = text_of(outcome)
    assert outcome[0]["text"]["text"] == "Refer to children's social care"  # the referral is the answer
    assert "Tell your DSL now: they refer to children's social care today" in text
    assert "*Also*\\n• Don't share yet - get advice today: Ask the police for a written request" in text
    assert GMC_NOTE not in text  # notes wait behind "Why, and the law"
    slack.click("more")
    full = text_of(fake.last("chat.update").params["blocks"])
    assert full.index("*Why this applies*") < full.index("*Next steps*") < full.index("*Golden rules*")
    assert "a parent or carer may have hurt the child" in full  # the condition the answers triggered
    also = full[full.index("*Also: Don't share yet - get advice today*"):]
    assert "What to share: Nothing yet." in also and "Crime and taxation exemption" in also
    assert "For your profession" in full
    assert (GMC_NOTE in full) == (profession == "doctor")  # GMC notes for doctors only (W3)
    assert ("Keeping children safe in education" in full) == (profession == "teacher")
