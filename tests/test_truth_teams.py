"""Nobody is left in the dark (Teams): when the process died between saving the final answer
and answering the invoke, any later press on the old card shows the verdict with its DSL status
(never "your new check is below" when there is none); a person told "not reached yet" is told
when the card lands. Real bot over HTTP, the fake Microsoft service, a frozen clock."""

from __future__ import annotations

import pytest

from bot.core.conversations import Answer
from tests.teams_harness import start_teams, text_of
from tests.test_teams_chat import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL
from tests.test_teams_dsl import DSL_SETTINGS, fake, fresh_fake, staff  # noqa: F401 - fixtures


@pytest.fixture
def teams(fake, real_bundle, tmp_path, clock):  # noqa: F811
    app = start_teams(fresh_fake(fake), real_bundle, tmp_path / "truth-teams.db", clock, **DSL_SETTINGS)
    yield app
    app.stop()


def saved_but_never_shown(teams, user: str) -> tuple[str, dict]:
    """Walk to the last question, then save the final answer as the bot does before it answers
    the invoke, and answer nothing (the process was killed)."""
    teams.message(user, "hello")
    teams.answer(user, *TO_REFERRAL)
    teams.tick(user, "sexual_abuse")
    old = teams.shown[user]
    [data] = [a["data"] for a in _actions(old[1]) if a.get("verb") == "answer"
              and a["data"].get("a") == FAMILY_MAY_BE_INVOLVED]
    conv = teams.services.conversations("teams")
    conv.act(user, data["c"], int(data["v"]), Answer(str(data["n"]), FAMILY_MAY_BE_INVOLVED))
    return old


def _actions(card: dict) -> list[dict]:
    from tests.teams_harness import actions

    return actions(card)


@pytest.mark.parametrize("press", ["answer", "restart", "back"])
def test_any_press_on_the_old_card_shows_the_verdict_saved_before_a_kill(teams, staff, press):  # noqa: F811
    old = saved_but_never_shown(teams, staff)
    assert len(teams.escalation_cards()) == 1  # the DSLs have the card
    if press == "answer":
        body = teams.answer(staff, FAMILY_MAY_BE_INVOLVED)
    else:
        body = teams.click(staff, press, card=old)
    shown = text_of(body["value"])
    assert "Refer to children's social care" in shown, shown[:300]
    assert "Your DSLs have been alerted (escalation #1)" in shown
    assert "is in a message below" not in shown and "has started in a message below" not in shown
    assert len(teams.escalation_cards()) == 1  # and no second escalation


def audit_refusals(teams) -> list[str]:
    with teams.storage.read() as tx:
        return [row["detail"] for row in tx.audit.rows("refused")]


def test_an_activity_from_another_tenant_is_refused_and_audited(teams, fake, staff):  # noqa: F811
    from tests.teams_harness import personal_activity

    other = "99999999-9999-9999-9999-999999999999"
    activity = personal_activity(fake, staff, text="hello")
    activity["conversation"]["tenantId"] = other
    activity["channelData"] = {"tenant": {"id": other}}
    before = len(fake.outbound)
    status, _ = teams._send(activity)
    assert status == 200 and len(fake.outbound) == before  # nothing sent to another organisation
    with teams.storage.read() as tx:
        assert tx.contacts.load("teams", staff) is None  # and nothing of theirs stored
    assert any("another tenant: " + other in detail for detail in audit_refusals(teams))
    # a DSL's click from another tenant is refused the same way, with a clear answer
    click = personal_activity(fake, staff, kind="invoke", name="adaptiveCard/action",
                              value={"action": {"type": "Action.Execute", "verb": "claim", "data": {"e": 1, "v": 1}}})
    click["conversation"]["tenantId"] = other
    click["channelData"] = {"tenant": {"id": other}}
    status, body = teams._send(click)
    assert status == 200 and "another" in body["value"] and len(fake.outbound) == before


def test_a_dsl_command_in_a_staff_team_is_refused(teams, fake, staff):  # noqa: F811
    from tests.teams_harness import CLIENT_ID, channel_activity
    from tests.test_teams_dsl import DSL

    staff_team = "19:staffroom0000000000000000000000@thread.tacv2"
    activity = channel_activity(fake, DSL, "Dee Lead", text="<at>canishare</at> log",
                                entities=[{"type": "mention", "text": "<at>canishare</at>",
                                           "mentioned": {"id": f"28:{CLIENT_ID}", "name": "canishare"}}])
    activity["conversation"]["id"] = staff_team
    activity["channelData"] = {"tenant": activity["channelData"]["tenant"],
                               "team": {"id": staff_team, "name": "Staff room"}, "channel": {"id": staff_team}}
    status, _ = teams._send(activity)
    assert status == 200
    [reply] = fake.activities_in(staff_team)
    said = text_of(reply)
    assert "works only in the DSL team's channel" in said and "decision #" not in said.lower()
    assert any("outside the DSL team" in detail for detail in audit_refusals(teams))
    # in the DSL team's own channel it still answers
    assert teams.mention(DSL, "Dee Lead", "log") == 200


def test_the_alerting_click_is_answered_before_the_card_is_posted(teams, fake, staff):  # noqa: F811
    """No outbound call inside the invoke (issue 20.6): the answer says the DSLs are being
    alerted; the card follows, and the message is written again with the truth."""
    teams.message(staff, "hello")
    teams.answer(staff, *TO_REFERRAL)
    teams.tick(staff, "sexual_abuse")
    settled = teams.answer(staff, FAMILY_MAY_BE_INVOLVED)
    answered = text_of(teams.answered[staff]["value"])
    assert "Refer to children's social care" in answered and "Alerting your DSLs now (escalation #1)" in answered
    assert len(teams.escalation_cards()) == 1
    assert "Your DSLs have been alerted (escalation #1)" in text_of(settled["value"])


def test_a_fallback_dm_is_in_plain_words_and_the_dsl_can_claim_from_it(teams, fake, clock, staff):  # noqa: F811
    """The bot was removed from the DSL team: its posts there fail with 403
    BotNotInConversationRoster. The DSLs' direct message says so in plain words, and carries the
    card with its Claim button, which works from the personal chat (issue 20.8)."""
    from tests.fakes.teams_service import DSL_CHANNEL_ID
    from tests.teams_harness import actions, card_of, personal_activity
    from tests.test_teams_dsl import DSL

    fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", 403, times=50,
              code="BotNotInConversationRoster")
    teams.message(staff, "hello")
    teams.answer(staff, *TO_REFERRAL)
    teams.tick(staff, "sexual_abuse")
    teams.answer(staff, FAMILY_MAY_BE_INVOLVED)
    [dm] = [a for a in fake.activities_in(f"a:personal-{DSL}") if "could not be posted" in text_of(a)]
    said = text_of(dm)
    assert "BotNotInConversationRoster" not in said and "403" not in said
    assert "comes to you directly" in said and "claim it with the card below" in said
    [card] = [a["content"] for a in dm["attachments"] if "dsl_claim" in str(a["content"])]
    [claim] = [a for a in actions(card) if a.get("verb") == "dsl_claim"]
    status, body = teams._send(personal_activity(fake, DSL, kind="invoke", name="adaptiveCard/action",
                                                 value={"action": {"type": "Action.Execute", "verb": "dsl_claim",
                                                                   "data": claim["data"]}}, replyToId=dm["id"]))
    assert status == 200 and "Claimed by" in text_of(body["value"])
    with teams.storage.read() as tx:
        assert tx.escalations.get(1).status.value == "claimed"
    assert card_of(dm) is not None


def test_show_details_names_rules_by_title_never_by_id(teams, staff):  # noqa: F811
    teams.message(staff, "hello")
    teams.answer(staff, *TO_REFERRAL)
    teams.tick(staff, "sexual_abuse")
    teams.answer(staff, FAMILY_MAY_BE_INVOLVED)
    with teams.storage.read() as tx:
        escalation = tx.escalations.get(1)
    view = teams.services.desk.card_view(escalation)
    assert view.rules and not any(rule.startswith("GR") for rule in view.rules)
    assert "Protection first" in view.rules


def test_a_person_told_not_reached_is_told_when_the_card_lands(teams, fake, clock, staff):  # noqa: F811
    from tests.fakes.teams_service import DSL_CHANNEL_ID
    from tests.test_teams_dsl import told

    fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", 500, times=1)
    teams.message(staff, "hello")
    teams.answer(staff, *TO_REFERRAL)
    teams.tick(staff, "sexual_abuse")
    settled = teams.answer(staff, FAMILY_MAY_BE_INVOLVED)
    assert "We have not reached your DSLs yet (escalation #1)" in text_of(settled["value"])
    assert not teams.escalation_cards()
    clock.advance(seconds=30)
    teams.services.scheduler().tick()
    assert len(teams.escalation_cards()) == 1
    updates = [t for t in told(teams, staff) if "Update on your escalation #1" in t]
    assert len(updates) == 1 and "now been alerted in their channel" in updates[0]
