"""A 40,000-character message (Slack's own limit) to the Slack app or the Teams bot is answered,
and another person sending at the same moment is answered too: the guard never reads more than
MESSAGE_LIMIT characters of a message (issue 19: one quadratic pattern let four such DMs push
someone else's acknowledgement past Slack's 3 s). How long each takes is measured in
bench/privacy_speed.py; here only that both are answered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.core.privacy import MAX_TEXT_CHARS
from tests.fakes.teams_service import FakeTeamsService, new_user_id
from tests.slack_harness import start_app, text_of
from tests.teams_harness import card_of, start_teams
from tests.teams_harness import text_of as card_text

# digits typed one by one, with letters: the shape that was quadratic
LONG = ("0 7 7 0 0 9 k a c p e r " * 2000)[:MAX_TEXT_CHARS]


@pytest.fixture
def slack(fake, real_bundle, database):
    app = start_app(fake, real_bundle, database)
    yield app
    app.stop()


@pytest.fixture
def teams_fake():
    service = FakeTeamsService().start()
    yield service
    service.stop()


def test_slack_answers_a_40000_character_dm_and_someone_else_at_the_same_time(slack, fake):
    with ThreadPoolExecutor(2) as pool:
        long_dm = pool.submit(slack.dm, LONG, user="U1")
        other = pool.submit(slack.command, user="U2")
        assert long_dm.result().status == 200
        assert other.result().status == 200
    posts = fake.of("chat.postMessage")
    assert any("too long to check" in post.params.get("text", "") for post in posts)
    assert any(post.params.get("channel") == "DU2" and "immediate danger" in text_of(post.params.get("blocks", []))
               for post in posts)


def test_teams_answers_a_40000_character_message_and_someone_else_at_the_same_time(
        teams_fake, real_bundle, database, clock):
    teams = start_teams(teams_fake, real_bundle, database, clock)
    first, second = new_user_id(), new_user_id()
    try:
        with ThreadPoolExecutor(2) as pool:
            long_message = pool.submit(teams.message, first, LONG)
            other = pool.submit(teams.message, second, "hello")
            assert long_message.result() == 200
            assert other.result() == 200
        texts = [card_text(card_of(post.body)) for post in teams_fake.calls_to("POST", r"/activities$")
                 if card_of(post.body)]
        assert any("too long to check" in text for text in texts)
        assert sum("immediate danger" in text for text in texts) >= 2
    finally:
        teams.stop()
