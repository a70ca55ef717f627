"""The safety net: an escalation is never lost. A fake Slack fails the way Slack does on each call
around the final answer and the card post; every escalation reaches the DSL channel or its
fallback, and its delivery state is in storage. Time is a frozen clock: retries happen when a
test moves it, never by sleeping."""

from __future__ import annotations

import logging

import pytest

from bot.dsl.model import CardState
from tests.slack_harness import start_app, text_of
from tests.test_dsl_slack import DEPUTY, DSL, DSL_SETTINGS, card_posts, dms_to, reach_referral

TO_CARD = dict(when=lambda p: p.get("channel") == "CDSL" and not p.get("thread_ts"))


@pytest.fixture
def slack(fake, real_bundle, database, clock):
    app = start_app(fake, real_bundle, database, clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def deliveries(slack, kind: str = "card"):
    with slack.storage.read() as tx:
        escalation = tx.escalations.get(1)
        return escalation, [d for d in tx.outbox.for_escalation(1) if d.kind.value == kind or kind == "all"]


def outcome_text(fake) -> str:
    return text_of(fake.last("chat.update").params["blocks"])


@pytest.mark.parametrize("mode", ["500", "429", "ratelimited", "lost"])
def test_a_card_post_that_fails_once_is_delivered_by_the_next_tick(slack, fake, clock, mode):
    fake.fail("chat.postMessage", mode, **TO_CARD, retry_after=20)
    reach_referral(slack)
    escalation, [card] = deliveries(slack)
    assert escalation is not None and card.kind.value == "card"  # the escalation exists regardless
    if mode == "lost":  # Slack took the post; the response never came
        assert card.attempts == 1 and card.status.value == "pending"
    else:
        assert (card.status.value, card.attempts, escalation.card_state) == ("pending", 1, CardState.pending)
        assert card.last_error.startswith("Slack:")
        # the person is told the truth, with the route to use meanwhile
        assert "We have not reached your DSLs yet (escalation #1)" in outcome_text(fake)
        assert "emergency duty team" in outcome_text(fake)
    scheduler = slack.services.scheduler()
    if mode == "429":
        clock.advance(seconds=19)
        scheduler.tick()
        assert deliveries(slack)[1][0].status.value == "pending"  # Retry-After is honoured
        clock.advance(seconds=2)
    else:
        clock.advance(seconds=6)
    scheduler.tick()
    escalation, [card] = deliveries(slack)
    assert card.status.value == "delivered" and escalation.card_state is CardState.delivered
    assert len(card_posts(fake)) == 1  # exactly one card reached the channel, even after a lost response
    with slack.storage.read() as tx:
        attempts = tx.outbox.attempts(card.id)
    assert [a["ok"] for a in attempts] == [0, 1] and attempts[0]["error"]


@pytest.mark.parametrize("mode", ["not_in_channel", "channel_not_found"])
def test_a_channel_the_bot_cannot_post_in_falls_back_to_direct_messages(slack, fake, clock, mode, caplog):
    fake.fail("chat.postMessage", mode, times=100, **TO_CARD)
    with caplog.at_level(logging.ERROR, logger="canishare.outbox"):
        reach_referral(slack)
    escalation, rows = deliveries(slack, "all")
    assert escalation.card_state is CardState.fallback
    assert {r.payload.get("to") for r in rows if r.kind.value == "fallback"} == {DSL, DEPUTY}
    for person in (DSL, DEPUTY):
        [dm] = dms_to(fake, person)
        assert "Urgent safeguarding escalation #1" in dm.params["text"] and "could not be posted" in dm.params["text"]
    assert "alerted by direct message" in outcome_text(fake)
    assert any("DELIVERY FAILED card card:1" in r.getMessage() and r.levelno == logging.ERROR
               for r in caplog.records)
    # someone fixes the channel: the card still arrives, once
    fake.failures.clear()
    clock.advance(minutes=1)
    slack.services.scheduler().tick()
    assert len(card_posts(fake)) == 1 and deliveries(slack)[0].card_state is CardState.delivered


def test_an_unknown_dsl_channel_is_refused_like_slack_does_and_falls_back(fake, real_bundle, tmp_path, clock):
    fake.unknown_channels.add("CGONE")
    app = start_app(fake, real_bundle, tmp_path / "gone.db", clock=clock,
                    **{**DSL_SETTINGS, "dsl_channel": "CGONE"})
    try:
        reach_referral(app)
        assert [c.response["error"] for c in fake.of("chat.postMessage", effective=False)
                if c.params.get("channel") == "CGONE"] == ["channel_not_found"]
        assert dms_to(fake, DSL) and dms_to(fake, DEPUTY)
    finally:
        app.stop()


@pytest.mark.parametrize("failing", ["chat.update", "trail"])
def test_a_failure_redrawing_the_final_answer_loses_no_escalation(slack, fake, clock, failing):
    from tests.test_slack import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL, walk

    slack.command()
    walk(slack, TO_REFERRAL)
    slack.click("multi_continue", picked=["sexual_abuse"])  # then the final answer (edition 2):
    if failing == "chat.update":  # twice: the person-facing client retries once itself
        fake.fail("chat.update", "500", times=2)
    else:  # the answer trail in the person's thread (twice: past the client's own retry)
        fake.fail("chat.postMessage", "ratelimited", times=2,
                  when=lambda p: bool(p.get("thread_ts")) and p.get("channel") != "CDSL")
    slack.click(FAMILY_MAY_BE_INVOLVED)
    escalation, [card] = deliveries(slack)
    assert card.status.value == "delivered" and len(card_posts(fake)) == 1
    apologies = [c for c in dms_to(fake, "DU1") if "Sorry, something went wrong" in c.params["text"]]
    if failing == "chat.update":
        # the failed redraw is an outbox delivery like any other (issue 20.1): the next delivery
        # cycle draws the answer into the person's message, with the truth about the card
        with slack.storage.read() as tx:
            [redraw] = [d for d in tx.outbox.pending() if d.kind.value == "redraw"]
        clock.advance(seconds=3)
        slack.services.scheduler().tick()
        assert "Your DSLs have been alerted (escalation #1)" in outcome_text(fake)
        assert fake.last("chat.update").params["ts"] == redraw.payload["ts"]
    else:  # the answer itself was shown: a lost note under it is no reason to apologise (issue 20.3)
        assert not apologies and "Your DSLs have been alerted" in outcome_text(fake)


def test_a_crash_inside_the_card_delivery_leaves_it_queued(slack, fake, clock, monkeypatch):
    from bot.channels.slack.notifier import SlackNotifier

    real = SlackNotifier.post_card
    monkeypatch.setattr(SlackNotifier, "post_card", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug")))
    reach_referral(slack)
    escalation, [card] = deliveries(slack)
    assert card.status.value == "pending" and "RuntimeError: bug" in card.last_error
    monkeypatch.setattr(SlackNotifier, "post_card", real)
    clock.advance(seconds=6)
    slack.services.scheduler().tick()
    assert len(card_posts(fake)) == 1


def test_one_failing_escalation_never_stops_reminders_exports_or_the_purge(slack, fake, clock):
    fake.fail("chat.postMessage", "500", times=10_000,
              when=lambda p: p.get("channel") == "CDSL" and "#1 " in (p.get("text") or ""))
    reach_referral(slack, user="UA")  # escalation #1: its card keeps failing
    reach_referral(slack, user="UB")  # escalation #2: fine
    scheduler = slack.services.scheduler()
    results = []
    for _ in range(8):
        clock.advance(minutes=2)
        results.append(scheduler.tick())
    assert all("errors" not in r for r in results)
    reminders = [c for c in fake.posts_to("CDSL", thread=True) if "#2" in c.params["text"]]
    assert reminders and "Reminder: urgent escalation #2" in reminders[0].params["text"]
    assert fake.of("files.completeUploadExternal")  # the weekly export still went out
    with slack.storage.read() as tx:
        assert tx.escalations.get(1).card_state is CardState.fallback
        assert tx.escalations.get(2).card_state is CardState.delivered
        assert tx.housekeeping.claim_job("purge", clock.now().date().isoformat()) is False  # it ran today
    assert dms_to(fake, DSL)  # escalation #1 reached the DSLs directly


def test_a_card_found_after_a_lost_response_is_redrawn_once_a_dsl_acted(slack, fake, clock):
    """The card reached Slack but the response was lost; a DSL claims it from the channel before
    the retry: the card must end up showing the claim, not "Unclaimed" with a Claim button."""
    from tests.slack_harness import actions_in
    from tests.test_dsl_slack import card_message

    fake.fail("chat.postMessage", "lost", **TO_CARD)
    reach_referral(slack)
    card = {"channel": "CDSL", "ts": card_posts(fake)[0].response["ts"],
            "blocks": card_posts(fake)[0].params["blocks"]}
    slack.click("dsl_claim", user=DSL, message=card)
    clock.advance(seconds=6)
    slack.services.scheduler().tick()
    assert len(card_posts(fake)) == 1  # found by its metadata, not posted again
    shown = card_message(fake)["blocks"]
    assert "dsl_claim" not in actions_in(shown) and "Claimed by" in text_of(shown)


def test_a_card_stuck_without_a_failed_attempt_falls_back_when_overdue(slack, fake, clock, caplog):
    """A process died (or hangs) holding the card: no attempt ever failed, yet the DSLs must hear."""
    from bot.dsl.model import DeliveryKind

    with slack.storage.transaction() as tx:
        escalation_id = tx.escalations.create("stuck", channel="slack", requester="U9", conversation_id="c9",
                                              kind="outcome", urgency="urgent", verdict="report_to_police")
        card = tx.outbox.enqueue(f"card:{escalation_id}", "slack", DeliveryKind.card, escalation_id=escalation_id)
        assert tx.outbox.claim_due(["slack"], "a-dead-process", 3600, 1, only=[card]) == [card]
    clock.advance(minutes=6)
    with caplog.at_level(logging.ERROR, logger="canishare.outbox"):
        assert slack.services.scheduler().tick()["overdue"] == 1
    assert any("DELIVERY OVERDUE card" in r.getMessage() for r in caplog.records)
    assert dms_to(fake, DSL) and dms_to(fake, DEPUTY)
    with slack.storage.read() as tx:
        assert tx.escalations.get(escalation_id).card_state is CardState.fallback
    assert slack.services.scheduler().tick()["overdue"] == 0  # once


def test_a_delivery_nobody_here_can_send_is_reported(slack, fake, clock, caplog):
    from bot.dsl.model import DeliveryKind

    with slack.storage.transaction() as tx:
        tx.outbox.enqueue("card:77", "teams", DeliveryKind.card, escalation_id=77)
    clock.advance(minutes=6)
    scheduler = slack.services.scheduler()
    with caplog.at_level(logging.ERROR, logger="canishare.clock"):
        assert scheduler.tick()["unserved"] == 1
        scheduler.tick()
    stuck = [r for r in caplog.records if "DELIVERY STUCK card card:77" in r.getMessage()]
    assert len(stuck) == 1 and "no teams settings" in stuck[0].getMessage()


def test_log_levels_follow_the_line_name(slack, fake, clock, caplog):
    """README 'What to alert on': a try that will be retried is a WARNING named DELIVERY RETRY;
    DELIVERY FAILED is only ever an ERROR (see the fallback test above)."""
    fake.fail("chat.postMessage", "500", **TO_CARD)
    with caplog.at_level(logging.WARNING, logger="canishare.outbox"):
        reach_referral(slack)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "canishare.outbox"]
    assert [level for level, text in lines if text.startswith("DELIVERY RETRY card card:1")] == [logging.WARNING]
    assert not [text for level, text in lines if "DELIVERY FAILED" in text and level != logging.ERROR]
