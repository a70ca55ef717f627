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


def test_a_reminder_whose_response_was_lost_is_not_posted_again(slack, fake, clock):
    from tests.test_dsl_slack import reach_referral

    reach_referral(slack)
    scheduler = slack.services.scheduler()
    fake.fail("chat.postMessage", "lost", when=lambda p: "Reminder" in (p.get("text") or ""))
    clock.advance(minutes=10)
    scheduler.tick()
    reminders = lambda: [c for c in fake.posts_to("CDSL", thread=True) if "Reminder" in c.params["text"]]  # noqa: E731
    assert len(reminders()) == 1  # it reached Slack; the answer never came back
    for _ in range(3):
        clock.advance(seconds=30)
        scheduler.tick()
    assert len(reminders()) == 1  # looked for in the card's thread, found, not posted again
    with slack.storage.read() as tx:
        assert tx.outbox.by_key("reminder:1:1").status.value == "delivered"


def test_a_requesters_claimed_notice_whose_response_was_lost_is_not_sent_again(slack, fake, clock):
    from tests.test_dsl_slack import DSL, STAFF, card_message, reach_referral

    reach_referral(slack)
    fake.fail("chat.postMessage", "lost", when=lambda p: "was claimed by" in (p.get("text") or ""))
    assert slack.click("dsl_claim", user=DSL, message=card_message(fake)).status == 200
    told = lambda: [c for c in dms_to(fake, STAFF) if "was claimed by" in c.params["text"]]  # noqa: E731
    assert len(told()) == 1
    for _ in range(3):
        clock.advance(seconds=30)
        slack.services.scheduler().tick()
    assert len(told()) == 1  # looked for in the requester's DM, found, not sent again


def test_talk_to_a_dsl_now_then_finishing_the_check_updates_the_one_card(slack, fake):
    from tests.test_dsl_slack import card_message

    slack.command()
    walk(slack, TO_REFERRAL[:3])
    assert slack.click("talk_to_dsl").status == 200
    assert len(card_posts(fake)) == 1 and "Asked to talk to a DSL now" in text_of(card_posts(fake)[0].params["blocks"])
    walk(slack, TO_REFERRAL[3:])
    assert slack.click("talk_to_dsl").status == 200  # pressed again, later in the same check
    assert slack.click("multi_continue", picked=["sexual_abuse"]).status == 200
    assert slack.click(FAMILY_MAY_BE_INVOLVED).status == 200
    assert len(card_posts(fake)) == 1  # one escalation per check
    card = text_of(card_message(fake)["blocks"])
    assert "Refer to children's social care" in card and "escalation #1" in card
    notes = [c.params["text"] for c in fake.posts_to("CDSL", thread=True)]
    assert any("asked to talk to a DSL now about escalation #1" in n for n in notes)
    assert any("has now finished the check behind escalation #1" in n and "same case" in n for n in notes)
    assert "Your DSLs have been alerted (escalation #1)" in text_of(slack.last_message()["blocks"])
    with slack.storage.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT COUNT(*) FROM escalations").scalar() == 1
    assert slack.click("more").status == 200  # redrawn from storage: the joined card's truth still shows
    assert "Your DSLs have been alerted (escalation #1)" in updates_of_the_check(fake)[-1]


def test_the_answer_is_drawn_before_the_card_is_posted(slack, fake):
    """Answer first, deliver after (issue 20.6): a hung card post delays nobody's verdict."""
    to_last_question(slack)
    assert slack.click(FAMILY_MAY_BE_INVOLVED).status == 200
    calls = [c for c in fake.calls if c.method in ("chat.update", "chat.postMessage")]
    first_verdict = next(i for i, c in enumerate(calls) if c.method == "chat.update"
                         and "Refer to children's social care" in text_of(c.params["blocks"]))
    card = next(i for i, c in enumerate(calls) if c.params.get("channel") == "CDSL")
    assert first_verdict < card
    assert "Alerting your DSLs now (escalation #1)" in text_of(calls[first_verdict].params["blocks"])
    assert "Your DSLs have been alerted (escalation #1)" in text_of(slack.last_message()["blocks"])


def test_escalation_numbers_do_not_jump_after_a_database_crash(store):
    """A PostgreSQL crash loses the sequence's cached values (#1, then #34); numbers are taken
    as the last + 1 instead, so DSLs never read a gap as missing cases (issue 20.9)."""
    with store.transaction() as tx:
        assert tx.escalations.create("a", channel="slack", requester="U1", conversation_id="c1",
                                     kind="outcome", urgency="urgent") == 1
    with store.transaction() as tx:  # what the crash leaves behind: the id sequence far ahead
        if store.dialect == "postgresql":
            tx.conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('escalations', 'id'), 33)")
        else:
            tx.conn.exec_driver_sql("INSERT INTO escalations (id, dedupe_key) VALUES (33, 'gone')")
            tx.conn.exec_driver_sql("DELETE FROM escalations WHERE id = 33")
    with store.transaction() as tx:
        assert tx.escalations.create("b", channel="slack", requester="U1", conversation_id="c2",
                                     kind="outcome", urgency="urgent") == 2
        assert tx.escalations.create("b", channel="slack", requester="U1", conversation_id="c2",
                                     kind="outcome", urgency="urgent") is None  # a repeat: no number


def test_a_weekly_export_whose_response_was_lost_is_not_shared_again(slack, fake, clock):
    fake.fail("files.completeUploadExternal", "lost")
    scheduler = slack.services.scheduler()
    scheduler.tick()  # the last full week's export is due at once; the file is shared, the answer lost
    assert len(fake.of("files.completeUploadExternal")) == 1
    for _ in range(3):
        clock.advance(minutes=1)
        scheduler.tick()
    assert len(fake.of("files.completeUploadExternal")) == 1  # found in the channel: not shared again
    with slack.storage.read() as tx:
        [export] = [d for d in tx.outbox.pending() if d.kind.value == "export"] or [None]
    assert export is None  # delivered
