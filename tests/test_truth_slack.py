"""Nobody is left in the dark (Slack): a press on a message whose redraw failed shows the check
as saved, verdict and DSL status included; a person told "we have not reached your DSLs yet" is
told when the card (or a direct message to the DSLs) lands. The fake Slack fails the way Slack
does; time is a frozen clock moved by the test."""

from __future__ import annotations

import pytest

from tests.slack_harness import start_app, text_of
from tests.test_dsl_slack import DSL_SETTINGS, card_posts, dms_to
from tests.test_slack import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL, walk

TO_CARD = dict(when=lambda p: p.get("channel") == "CDSL" and not p.get("thread_ts"))


@pytest.fixture
def slack(fake, real_bundle, tmp_path, clock):
    app = start_app(fake, real_bundle, tmp_path / "truth.db", clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def to_last_question(slack) -> None:
    slack.command()
    walk(slack, TO_REFERRAL)
    assert slack.click("multi_continue", picked=["sexual_abuse"]).status == 200


def updates_to_u1(fake) -> list:
    """What the outbox told U1 directly about their escalation."""
    return [d for who in ("U1", "DU1") for d in dms_to(fake, who)
            if "Update on your escalation" in d.params["text"]]


def updates_of_the_check(fake) -> list[str]:
    return [text_of(c.params["blocks"]) for c in fake.of("chat.update")
            if str(c.params.get("channel", "")).startswith("DU1")]


@pytest.mark.parametrize("mode", ["ratelimited", "lost"])
def test_a_press_on_a_message_whose_final_redraw_failed_shows_the_verdict(slack, fake, mode):
    to_last_question(slack)
    question = slack.last_message()
    # twice: the person-facing client rides out one failure itself
    fake.fail("chat.update", mode, times=2, when=lambda p: str(p.get("channel", "")).startswith("DU1"))
    assert slack.click(FAMILY_MAY_BE_INVOLVED).status == 200
    assert len(card_posts(fake)) == 1  # the DSLs have the card ...
    if mode == "ratelimited":  # ... and the person's message still shows the last question
        assert not [c for c in fake.of("chat.update") if c.params.get("ts") == question["ts"]
                    and "Your DSLs have been alerted" in text_of(c.params["blocks"])]
    before = len(updates_of_the_check(fake))
    # the person presses the same answer again on the old message: never silence
    assert slack.click(FAMILY_MAY_BE_INVOLVED, message=question).status == 200
    shown = updates_of_the_check(fake)[before:]
    assert shown, "the press on an old message redrew nothing"
    assert "Your DSLs have been alerted (escalation #1)" in shown[-1]
    assert len(card_posts(fake)) == 1  # and no second escalation


def test_any_old_button_redraws_the_current_state(slack, fake):
    slack.command()
    first = slack.last_message()
    walk(slack, TO_REFERRAL[:2])
    now = text_of(slack.last_message()["blocks"])
    before = len(updates_of_the_check(fake))
    assert slack.click(TO_REFERRAL[0], message=first).status == 200  # the first question's button
    assert slack.click("help", message=first).status == 200
    shown = updates_of_the_check(fake)[before:]
    assert len(shown) == 2 and all(text == now for text in shown)


@pytest.mark.parametrize("mode", ["500", "ratelimited", "lost"])
def test_a_person_told_not_reached_is_told_when_the_card_lands(slack, fake, clock, mode):
    fake.fail("chat.postMessage", mode, **TO_CARD)
    to_last_question(slack)
    assert slack.click(FAMILY_MAY_BE_INVOLVED).status == 200
    assert "We have not reached your DSLs yet (escalation #1)" in text_of(slack.last_message()["blocks"])
    assert not updates_to_u1(fake)
    clock.advance(seconds=30)
    slack.services.scheduler().tick()
    assert len(card_posts(fake)) == 1  # after a lost response: found, not posted again
    [update] = updates_to_u1(fake)
    assert "your DSLs have now been alerted in their channel" in update.params["text"]
    clock.advance(seconds=30)
    slack.services.scheduler().tick()  # told once
    assert len(updates_to_u1(fake)) == 1
    # the message itself shows the truth at the next press ("Why, and the law")
    assert slack.click("more").status == 200
    assert "Your DSLs have been alerted (escalation #1)" in updates_of_the_check(fake)[-1]


def test_a_person_told_not_reached_is_told_when_the_dsls_are_messaged_directly(slack, fake, clock):
    fake.fail("chat.postMessage", "500", times=100, **TO_CARD)
    to_last_question(slack)
    assert slack.click(FAMILY_MAY_BE_INVOLVED).status == 200
    assert "We have not reached your DSLs yet" in text_of(slack.last_message()["blocks"])
    for _ in range(3):  # the fallback comes after a few failed attempts
        clock.advance(minutes=2)
        slack.services.scheduler().tick()
    [update] = updates_to_u1(fake)
    assert "alerted by direct message" in update.params["text"]


def test_a_person_who_saw_alerted_gets_no_update(slack, fake, clock):
    to_last_question(slack)
    assert slack.click(FAMILY_MAY_BE_INVOLVED).status == 200
    assert "Your DSLs have been alerted (escalation #1)" in text_of(slack.last_message()["blocks"])
    clock.advance(seconds=30)
    slack.services.scheduler().tick()
    assert not updates_to_u1(fake)
