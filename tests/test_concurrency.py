"""Twenty concurrent deliveries of the same action give one effect: rows in storage, and posts and
direct messages counted on the fake Slack. Both the same request delivered twenty times (a
replay, a retry) and twenty separate presses of the same button are covered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import decisions
from tests.slack_harness import find_element, start_app
from tests.test_dsl_slack import DSL, DSL_SETTINGS, STAFF, card_message, dms_to, reach_referral

N = 20


@pytest.fixture
def slack(fake, real_bundle, database, clock):
    app = start_app(fake, real_bundle, database, clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def at_once(work, n: int = N) -> list:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: work(), range(n)))


@pytest.mark.parametrize("same_request", [True, False], ids=["replayed", "pressed-twenty-times"])
def test_record_submit(slack, fake, same_request):
    reach_referral(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    values = {"decision": "shared", "what": "summary", "with_whom": "duty social worker",
              "purpose": "referral", "reasons": "risk of significant harm"}
    trigger = "trig-record" if same_request else None
    responses = at_once(lambda: slack.submit_record(values, meta, trigger=trigger))
    assert all(r.status == 200 for r in responses)
    assert len(decisions(slack.storage)) == 1
    confirmations = [c for c in fake.of("chat.postMessage") if "Recorded as decision" in c.params.get("text", "")]
    assert len(confirmations) == 1
    refused = [r for r in responses if r.body]
    assert all("already recorded as decision #1" in r.json()["errors"]["decision"] for r in refused)


@pytest.mark.parametrize("same_request", [True, False], ids=["replayed", "pressed-twenty-times"])
def test_need_more_info(slack, fake, same_request):
    reach_referral(slack)
    card = card_message(fake)
    trigger = "trig-more" if same_request else None
    at_once(lambda: slack.click("dsl_more_info", user=DSL, message=card, trigger=trigger))
    assert len(fake.posts_to("CDSL", thread=True)) == 1
    assert len([c for c in dms_to(fake, STAFF) if "needs more information" in c.params["text"]]) == 1


@pytest.mark.parametrize("same_request", [True, False], ids=["replayed", "pressed-twenty-times"])
def test_start_a_check_from_app_home(slack, fake, same_request):
    slack.event({"type": "app_home_opened", "user": STAFF, "tab": "home", "channel": "DU1"})
    home = fake.last("views.publish").params["view"]
    message = {"channel": "", "ts": "", "blocks": home["blocks"]}
    assert find_element(home["blocks"], "start_check")
    trigger = "trig-start" if same_request else None
    at_once(lambda: slack.click("start_check", message=message, trigger=trigger))
    checks = [c for c in fake.of("chat.postMessage") if c.params.get("channel") == "DU1"
              and "immediate danger" in str(c.params.get("blocks"))]
    assert len(checks) == 1
    with slack.storage.read() as tx:
        assert tx.conversations.latest("slack", STAFF) is not None


def test_a_replayed_slash_command_starts_one_check(slack, fake):
    at_once(lambda: slack.command(trigger="trig-slash"))
    checks = [c for c in fake.of("chat.postMessage") if "immediate danger" in str(c.params.get("blocks"))]
    assert len(checks) == 1


def test_start_a_new_check_at_an_answer(slack, fake):
    reach_referral(slack)
    outcome = slack.last_message()
    at_once(lambda: slack.click("restart", message=outcome))
    new_checks = [c for c in fake.of("chat.postMessage") if c.params.get("channel") == "DU1"
                  and "immediate danger" in str(c.params.get("blocks"))]
    assert len(new_checks) == 2  # the first check, and one new one


@pytest.mark.parametrize("same_request", [True, False], ids=["replayed", "pressed-twenty-times"])
def test_claim(slack, fake, same_request):
    reach_referral(slack)
    card = card_message(fake)
    trigger = "trig-claim" if same_request else None
    at_once(lambda: slack.click("dsl_claim", user=DSL, message=card, trigger=trigger))
    with slack.storage.read() as tx:
        assert tx.escalations.get(1).claimed_by == DSL
        claims = [r for r in tx.audit.rows("claim")]
    assert len(claims) == 1
    assert len([c for c in dms_to(fake, STAFF) if "was claimed" in c.params["text"]]) == 1
    updates = [c for c in fake.of("chat.update") if c.params.get("channel") == "CDSL"]
    assert len(updates) == 1
