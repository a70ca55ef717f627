"""The Teams personal chat end to end: the real teams.py app over loopback HTTP, real token
validation against the fake key set, the fake Bot Connector recording every call."""

from __future__ import annotations

import pytest

from tests.conftest import GMC_NOTE, REQUEST_REVEALING_RISK, decisions, real_flows, with_profile
from tests.fakes.teams_service import FakeTeamsService, new_user_id
from tests.teams_harness import CARD, TeamsApp, actions, card_of, start_teams, text_of, verbs

# The profile answers this walk leaves out (the role, since guidance edition 2) are put in by
# `with_profile` where the flows ask them.
TO_REFERRAL = with_profile(real_flows(), ["no", "england", "public_body", "share_concern", "child",
                                          "childrens_social_care", "observations_disclosures",
                                          "significant_harm"])


@pytest.fixture(scope="module")
def fake():
    service = FakeTeamsService().start()
    yield service
    service.stop()


@pytest.fixture
def teams(fake, real_bundle, database, clock):
    fake.reset()
    app = start_teams(fake, real_bundle, database, clock)
    yield app
    app.stop()


@pytest.fixture
def user() -> str:
    return new_user_id()


def answers_of(teams: TeamsApp, user: str) -> dict:
    """The stored answers of the check on the card the person sees."""
    conversation = next(a["data"]["c"] for a in actions(teams.current(user)) if a["data"].get("c"))
    with teams.storage.read() as tx:
        return tx.conversations.load("teams", user, conversation).state["answers"]


# Guidance edition 2 (the online sexual abuse change) asks, after sexual abuse, whether someone in
# the child's family may be involved; "yes" keeps edition 1's answer for this walk: refer to
# children's social care and don't tell the family first (O03).
FAMILY_MAY_BE_INVOLVED = "yes"


def to_outcome(teams: TeamsApp, user: str) -> dict:
    teams.message(user, "hello")
    teams.answer(user, *TO_REFERRAL)
    teams.tick(user, "sexual_abuse")
    return teams.answer(user, FAMILY_MAY_BE_INVOLVED)["value"]


def test_a_message_starts_a_check_with_the_first_question(teams, fake, user):
    assert teams.message(user, "hello") == 200
    [post] = fake.calls_to("POST", rf"/conversations/a:personal-{user}/activities$")
    card = card_of(post.body)
    assert "Question 1" in text_of(card) and "immediate danger" in text_of(card)
    assert post.body["summary"].startswith("Is a child")  # the notification preview
    assert "answer" in verbs(card) and "talk_to_dsl" in verbs(card) and "back" not in verbs(card)
    with teams.storage.read() as tx:  # the person's chat is remembered for later notices
        contact = tx.contacts.load("teams", user)
    assert contact["conversation_id"] == f"a:personal-{user}" and contact["name"] == "Sam Worker"


def test_a_full_check_by_card_actions_ends_at_the_outcome_in_the_same_message(teams, fake, user):
    outcome = to_outcome(teams, user)
    [(message_id, _)] = teams.cards_in_chat(user)  # one message: the card was replaced each time
    text = text_of(outcome)
    assert outcome["body"][0]["text"] == "Refer to children's social care"  # the verdict first
    assert text.index("Refer to children") < text.index("Golden rules") < text.index("The law")
    assert "Record (golden rule 7)" in text and "not legal advice" in text
    assert {"record_open", "talk_to_dsl", "restart"} <= set(verbs(outcome))
    # every card was also written into the message for every device, the last one last
    puts = fake.calls_to("PUT", rf"/conversations/a:personal-{user}/activities/{message_id}$")
    # the concern, then whether the family may be involved, then the answer written again once its
    # escalation card is out (answer first, deliver after: "alerting now", then "alerted")
    assert len(puts) == len(TO_REFERRAL) + 3
    assert card_of(teams.chat(user)[0]) == outcome


def test_old_buttons_go_and_a_stale_or_repeated_click_changes_nothing(teams, fake, user):
    teams.message(user)
    first = teams.shown[user]
    teams.answer(user, "no")
    assert "england" in text_of(teams.current(user)) and "Question 2" in text_of(teams.current(user))
    # the same press again (Teams retries an invoke it thinks was lost), from the old card
    again = teams.click(user, "answer", title="No", card=first)
    assert again["type"] == CARD and "Question 2" in text_of(again["value"])  # where it stands now
    assert list(answers_of(teams, user)) == ["immediate_danger"]


def test_multi_select_is_checkboxes_with_continue(teams, user):
    teams.message(user)
    teams.answer(user, *TO_REFERRAL)
    [choices] = [n for n in _walk(teams.current(user)) if n.get("type") == "Input.ChoiceSet"]
    assert choices["isMultiSelect"] is True and choices["style"] == "expanded"
    nothing = teams.tick(user)  # Continue with no box ticked
    assert "Tick at least one box" in text_of(nothing["value"])
    exclusive = teams.tick(user, "none", "sexual_abuse")["value"]  # "None of these" cannot be combined
    assert "did not fit this question" in text_of(exclusive) and "Question" in text_of(exclusive)
    teams.tick(user, "sexual_abuse", "domestic_abuse")
    outcome = teams.answer(user, FAMILY_MAY_BE_INVOLVED)["value"]
    assert outcome["body"][0]["text"] == "Refer to children's social care"
    assert sorted(answers_of(teams, user)["concern_type"]) == ["domestic_abuse", "sexual_abuse"]


def test_back_start_again_and_help(teams, fake, user):
    teams.message(user)
    teams.answer(user, "no", "wales")
    back = teams.click(user, "back")["value"]
    assert "Where is the child" in text_of(back)
    again = teams.click(user, "restart")["value"]
    assert "immediate danger" in text_of(again) and "back" not in verbs(again)
    teams.message(user, "help")
    help_card = card_of(teams.chat(user)[-1])
    assert "can I share this" in text_of(help_card) and "999" in text_of(help_card)
    # "Why are we asking?" opens the question's hidden help in the card itself
    toggles = [n for n in _walk(again) if n.get("type") == "Action.ToggleVisibility"]
    assert toggles and toggles[0]["title"] == "Why are we asking?"


def test_restart_word_and_any_message_carry_on_or_start(teams, user):
    teams.message(user)
    teams.answer(user, "no")
    teams.message(user, "what now")  # carries on the last check
    assert "Question 2" in text_of(teams.current(user))
    teams.message(user, "restart")
    assert "Question 1" in text_of(teams.current(user))


def test_the_record_dialog_saves_once_and_refuses_identifiers(teams, fake, user):
    to_outcome(teams, user)
    task = teams.open_dialog(user, "record_open")
    assert task["type"] == "continue"
    values = {"decision": "shared", "what": "summary of concerns", "with_whom": "duty social worker",
              "purpose": "referral", "reasons": "risk of significant harm"}
    refused = teams.submit_dialog(user, task, {**values, "reasons": "spoke to Jane Smith, 07700 900123"})
    assert refused["type"] == "continue"  # the dialog stays open, with what was typed
    assert "The log must not identify anyone" in text_of(refused) and "Jane Smith" in text_of(refused)
    assert decisions(teams.storage) == []
    saved = teams.submit_dialog(user, task, values)
    assert saved == {"type": "message", "value": "Recorded as decision #1. Keep your full record in your "
                                                 "organisation's case system."}
    assert "Recorded as decision #1" in text_of(teams.chat(user)[-1])
    twice = teams.submit_dialog(user, task, values)
    assert twice["type"] == "continue" and "already recorded as decision #1" in text_of(twice)
    [row] = decisions(teams.storage)
    assert row["channel"] == "teams" and row["user_id"] == user and row["decision"] == "shared"
    assert teams.open_dialog(user, "record_open")["value"].startswith("This check is already recorded")


def test_the_record_dialog_names_each_missing_field(teams, user):
    to_outcome(teams, user)
    task = teams.open_dialog(user, "record_open")
    refused = teams.submit_dialog(user, task, {"decision": "", "what": "x" * 1001})
    text = text_of(refused)
    assert "Choose shared, not shared or deferred." in text
    assert "Too long: 1001 characters, the limit is 1000" in text
    assert "Please fill this in" in text


def test_start_a_new_check_at_the_outcome_keeps_the_answer(teams, user):
    to_outcome(teams, user)
    [(outcome_id, outcome)] = teams.cards_in_chat(user)
    answer = teams.click(user, "restart")
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert len(teams.cards_in_chat(user)) == 2 and "Question 1" in text_of(teams.current(user))
    teams.click(user, "restart", card=(outcome_id, outcome))  # pressed again on the same answer
    assert len(teams.cards_in_chat(user)) == 2


def test_the_remembered_profile_line_and_change(teams, user):
    to_outcome(teams, user)
    teams.message(user, "restart")
    teams.answer(user, "no")
    text = text_of(teams.current(user))
    assert "You are answering as: England, public body, teacher" in text
    assert "What do you need help with?" in text  # nation, organisation and role skipped
    changed = teams.click(user, "profile_change")["value"]
    assert "You are answering as" not in text_of(changed) and "immediate danger" in text_of(changed)
    assert teams.click(user, "answer", title="No")["type"] == CARD
    assert "Where is the child" in text_of(teams.current(user))
    teams.answer(user, "wales", "nhs_health")  # every profile question is asked again
    assert "What is your role?" in text_of(teams.current(user))
    teams.answer(user, "nurse_midwife", "yes")  # and in Wales, whether a relevant partner
    text = text_of(teams.current(user))
    assert "What do you need help with?" in text
    assert "You are answering as: Wales, NHS or health, nurse or midwife, a relevant partner (2014 Act)" in text


def test_someone_elses_check_cannot_be_moved(teams, user):
    teams.message(user)
    stranger = new_user_id()
    teams.message(stranger)
    body = teams.click(stranger, "answer", title="No", card=teams.shown[user])
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert answers_of(teams, user) == {}


def test_a_repeated_message_delivery_is_answered_once(teams, fake, user):
    teams.message(user, "hello", activity_id="same-activity")
    teams.message(user, "hello", activity_id="same-activity")
    assert len(fake.calls_to("POST", rf"/conversations/a:personal-{user}/activities$")) == 1


def test_welcome_card_on_install(teams, fake, user):
    status, _ = teams._send(_install(fake, user))
    assert status == 200
    [post] = fake.calls_to("POST", rf"/conversations/a:personal-{user}/activities$")
    assert "Start a check" in text_of(post.body)


def _install(fake, user):
    from tests.teams_harness import personal_activity

    return personal_activity(fake, user, kind="installationUpdate", action="add")


def _walk(node):
    from tests.teams_harness import walk

    return walk(node)


def test_an_invoke_slower_than_teams_waits_is_answered_and_the_card_follows(fake, real_bundle, tmp_path, clock):
    """The connector is slow today (the DSL card takes two seconds to post): the final answer no
    longer waits for it (issue 20.6). The click is answered with the verdict at once, and the
    card's truth is written into the same message once it is out."""
    fake.reset()
    teams = start_teams(fake, real_bundle, tmp_path / "slow.db", clock, teams_invoke_budget_seconds=0.9)
    try:
        user = new_user_id()
        teams.message(user)
        teams.answer(user, *TO_REFERRAL)
        teams.tick(user, "sexual_abuse")
        message_id, _ = teams.shown[user]
        fake.slow("POST", r"/conversations/19:dslchannel.*/activities$", 2.0)  # longer than the budget
        teams.click(user, "answer", title="Yes")  # the final answer: the family may be involved
        answered = teams.answered[user]  # what the invoke itself answered, within the budget
        assert answered["type"] == "application/vnd.microsoft.card.adaptive"
        assert "Alerting your DSLs now (escalation #1)" in text_of(answered["value"])
        # when the work is done the outcome is written into the same message
        outcome = card_of(teams.chat(user)[0])
        assert teams.chat(user)[0]["id"] == message_id
        assert outcome["body"][0]["text"] == "Refer to children's social care"
        assert "Your DSLs have been alerted (escalation #1)" in text_of(outcome)
    finally:
        teams.stop()


def test_an_internal_error_is_an_apology_with_a_way_on(teams, fake, user, monkeypatch, caplog):
    teams.message(user)

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(teams.bot.chat.conv, "act", broken)
    answer = teams.click(user, "answer", title="No")
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "Sorry, something went wrong on our side (reference " in answer["value"]
    apology = card_of(teams.chat(user)[-1])
    assert "Start again" in text_of(apology) and "999" in text_of(apology)
    assert any("database on fire" in r.getMessage() for r in caplog.records)


def test_your_answers_so_far_are_in_the_card(teams, user):
    teams.message(user)
    teams.answer(user, "no", "england")
    card = teams.current(user)
    assert "Is a child, or anyone else, in immediate danger right now? — No" in text_of(card)
    assert "Where is the child, or where do you work? — England" in text_of(card)
    toggles = [n["title"] for n in _walk(card) if n.get("type") == "Action.ToggleVisibility"]
    assert "Your answers" in toggles


@pytest.mark.parametrize("profession", ["doctor", "teacher"])
def test_a_request_revealing_an_unreferred_risk_is_a_referral_with_the_request_under_it(teams, user, profession):
    outcome = teams_walk(teams, user, {**REQUEST_REVEALING_RISK, "profession": profession})
    [hidden] = [n for n in _walk(outcome) if n.get("id") == "details"]
    shown = text_of({**outcome, "body": [b for b in outcome["body"] if b is not hidden]})
    assert outcome["body"][0]["text"] == "Refer to children's social care"  # the referral is the answer
    assert "Tell your DSL now: they refer to children's social care today" in shown
    assert "Also" in shown and "Don't share yet - get advice today: Ask the police for a written request" in shown
    assert GMC_NOTE not in shown and hidden["isVisible"] is False  # behind "Why, and the law"
    details = text_of(hidden)
    assert details.index("Why this applies") < details.index("Next steps") < details.index("Golden rules")
    assert "a parent or carer may have hurt the child" in details
    also = details[details.index("Also: Don't share yet - get advice today"):]
    assert "What to share: Nothing yet." in also and "Crime and taxation exemption" in also
    assert "For your profession" in details
    assert (GMC_NOTE in details) == (profession == "doctor")  # GMC notes for doctors only (W3)
    assert ("Keeping children safe in education" in details) == (profession == "teacher")


def teams_walk(teams: TeamsApp, user: str, answers: dict) -> dict:
    teams.message(user, "hello")
    return teams.walk_answers(user, answers)["value"]
