"""Metrics: opt-in (no /metrics without CANISHARE_METRICS_TOKEN, refused without the token), and
each metric moves when its event happens, read over HTTP from the real Slack and Teams servers."""

from __future__ import annotations

import math
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.dsl.health import beat
from bot.dsl.model import DeliveryKind
from tests.fakes.slack_api import FakeSlack
from tests.fakes.teams_service import DSL_CHANNEL_ID, DSL_TEAM_ID, FakeTeamsService, Member, new_user_id
from tests.slack_harness import start_app
from tests.teams_harness import post, start_teams

TOKEN = "metrics-token-0123456789abcdef"


def scrape(base: str, token: str | None = TOKEN) -> tuple[int, dict[tuple[str, tuple], float]]:
    request = urllib.request.Request(base + "/metrics",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {}
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return 200, samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def slack(real_bundle, tmp_path, clock):
    fake = FakeSlack().start()
    app = start_app(fake, real_bundle, tmp_path / "m.db", clock, metrics_token=TOKEN, dsl_channel="GDSL")
    yield app
    app.stop()
    fake.stop()


def base_of(app) -> str:
    return app.url.removesuffix("/slack/events")


def test_metrics_are_opt_in_and_need_the_token(real_bundle, tmp_path, clock, slack):
    assert scrape(base_of(slack), token=None)[0] == 401
    assert scrape(base_of(slack), token="wrong-token-0123456789")[0] == 401
    assert scrape(base_of(slack))[0] == 200
    fake = FakeSlack().start()
    without = start_app(fake, real_bundle, tmp_path / "off.db", clock)
    try:
        assert scrape(base_of(without))[0] == 404  # no token set: there is no /metrics at all
    finally:
        without.stop()
        fake.stop()


def test_slack_requests_are_counted_and_timed(slack):
    base = base_of(slack)
    before = scrape(base)[1]
    slack.dm("hello", user="U1")
    after = scrape(base)[1]
    assert value(after, "canishare_requests_total", channel="slack", status="2xx") == \
        value(before, "canishare_requests_total", channel="slack", status="2xx") + 1
    assert value(after, "canishare_request_seconds_count", channel="slack") == \
        value(before, "canishare_request_seconds_count", channel="slack") + 1


def test_state_metrics_move_with_their_events(slack, clock):
    base, storage = base_of(slack), slack.storage
    start = scrape(base)[1]
    assert start[("canishare_clock_heartbeat_age_seconds", ())] == math.inf  # no clock has ever run
    assert value(start, "canishare_outbox_pending") == 0

    with storage.transaction() as tx:  # an urgent escalation, its card waiting in the outbox
        escalation = tx.escalations.create("e1", urgency="urgent", channel="slack", requester="U1")
        card = tx.outbox.enqueue("card:1", "slack", DeliveryKind.card, escalation_id=escalation)
        routine = tx.escalations.create("e2", urgency="routine", channel="slack", requester="U2")
    beat(storage)
    clock.advance(seconds=90)
    now = scrape(base)[1]
    assert value(now, "canishare_outbox_pending") == 1
    assert value(now, "canishare_outbox_oldest_pending_seconds") == 90
    assert value(now, "canishare_escalations_open", urgency="urgent", status="open") == 1
    assert value(now, "canishare_escalations_open", urgency="routine", status="open") == 1
    assert value(now, "canishare_escalations_oldest_seconds", urgency="urgent", status="open") == 90
    assert value(now, "canishare_clock_heartbeat_age_seconds") == 90

    with storage.transaction() as tx:  # one failed try, then delivered; claimed; a reminder
        tx.outbox.claim_due(["slack"], "tester", 30, 10)
        tx.outbox.failed(card, "tester", "Slack: ratelimited", clock.now())
        tx.outbox.delivered(card)
        tx.escalations.update(escalation, status="claimed", claimed_by="UDSL")
        tx.escalations.set_reminder(routine, 1, None)
    later = scrape(base)[1]
    assert value(later, "canishare_outbox_pending") == 0
    assert value(later, "canishare_outbox_oldest_pending_seconds") == 0
    assert value(later, "canishare_deliveries_total", result="delivered") == 1
    assert value(later, "canishare_deliveries_total", result="failed_attempt") == 1
    assert value(later, "canishare_escalations_open", urgency="urgent", status="open") == 0
    assert value(later, "canishare_escalations_open", urgency="urgent", status="claimed") == 1
    assert value(later, "canishare_reminders_sent_total") == 1

    with storage.transaction() as tx:
        tx.escalations.update(escalation, status="resolved")
    assert value(scrape(base)[1], "canishare_escalations_open", urgency="urgent", status="claimed") == 0


def test_teams_activities_are_counted_and_timed(real_bundle, tmp_path, clock):
    fake = FakeTeamsService().start()
    person = new_user_id()
    fake.add_team(DSL_TEAM_ID, [Member(new_user_id(), "Dee Lead")], channels=[DSL_CHANNEL_ID])
    fake.install_for(person)
    teams = start_teams(fake, real_bundle, tmp_path / "t.db", clock, metrics_token=TOKEN)
    try:
        base = teams.server.url
        before = scrape(base)[1]
        assert teams.message(person, "hello") == 200
        assert post(base, {"type": "message"})[0] == 401  # no token: refused, and counted
        after = scrape(base)[1]
        for status in ("2xx", "4xx"):
            assert value(after, "canishare_requests_total", channel="teams", status=status) == \
                value(before, "canishare_requests_total", channel="teams", status=status) + 1
        assert value(after, "canishare_request_seconds_count", channel="teams") == \
            value(before, "canishare_request_seconds_count", channel="teams") + 2
    finally:
        teams.stop()
        fake.stop()
