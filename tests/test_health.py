"""Health that means something: `/healthz` says the process answers; `/readyz` says what the
person is told will come true (the database takes writes, the schema is current, the clock has
ticked within three intervals, nothing owed has waited past the fallback deadline). Asked over
HTTP of the real Slack and Teams servers; time is a frozen clock moved by the test."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from sqlalchemy import event

from bot.dsl.health import clock_heartbeat_at
from bot.dsl.model import DeliveryKind
from bot.storage import Storage
from tests.slack_harness import start_app
from tests.test_dsl_slack import DSL_SETTINGS

INTERVAL = 10.0  # the default CANISHARE_CLOCK_INTERVAL


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def slack(fake, real_bundle, tmp_path, clock):
    app = start_app(fake, real_bundle, tmp_path / "health.db", clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def base(app) -> str:
    return app.url.rsplit("/slack/events", 1)[0]


def failing(text: str) -> list[str]:
    return [line.split(":")[0].removeprefix("FAIL ").strip() for line in text.splitlines()
            if line.startswith("FAIL")]


def test_without_a_clock_the_process_is_live_but_not_ready(slack):
    assert get(base(slack) + "/healthz") == (200, "ok")
    status, text = get(base(slack) + "/readyz")
    assert status == 503 and failing(text) == ["clock"]
    assert "no `canishare clock` has ever run here" in text


def test_a_clock_tick_makes_it_ready_and_a_silent_clock_fails_after_three_intervals(slack, clock):
    scheduler = slack.services.scheduler()
    scheduler.tick()
    assert clock_heartbeat_at(slack.storage) == clock.now()
    status, text = get(base(slack) + "/readyz")
    assert status == 200, text
    clock.advance(seconds=3 * INTERVAL)
    assert get(base(slack) + "/readyz")[0] == 200
    clock.advance(seconds=1)
    status, text = get(base(slack) + "/readyz")
    assert status == 503 and failing(text) == ["clock"] and "more than three intervals" in text
    scheduler.tick()
    assert get(base(slack) + "/readyz")[0] == 200


def test_a_clock_that_is_not_the_leader_writes_no_heartbeat(slack, clock):
    leader = slack.services.scheduler()
    leader.tick()
    first = clock.now()
    clock.advance(seconds=2)
    follower = slack.services.scheduler()
    follower.holder = "another-machine:1"
    assert follower.tick() == {"leader": 0}
    assert clock_heartbeat_at(slack.storage) == first


def test_a_delivery_waiting_past_the_fallback_deadline_fails_readiness(slack, clock):
    slack.services.scheduler().tick()
    with slack.storage.transaction() as tx:
        tx.outbox.enqueue("notice:test", "teams", DeliveryKind.notice, payload={"to": "x", "message": []})
    assert get(base(slack) + "/readyz")[0] == 200
    clock.advance(minutes=5, seconds=1)
    slack.services.scheduler().tick()  # the clock is alive, but nobody here serves Teams
    status, text = get(base(slack) + "/readyz")
    assert status == 503 and failing(text) == ["deliveries"] and "fallback deadline is 5 min" in text


def test_a_read_only_database_fails_readiness(slack):
    slack.services.scheduler().tick()
    engine = slack.storage.engine
    engine.dispose()  # new connections from here on refuse every write, as a read-only disk does

    @event.listens_for(engine, "connect")
    def read_only(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    status, text = get(base(slack) + "/readyz")
    assert status == 503 and failing(text) == ["database"] and "cannot write" in text
    assert get(base(slack) + "/healthz") == (200, "ok")  # liveness stays cheap: no database


def test_a_schema_behind_the_code_fails_readiness(slack):
    slack.services.scheduler().tick()
    with slack.storage.transaction() as tx:
        tx.conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version = "
                                "(SELECT MAX(version) FROM schema_migrations)")
    status, text = get(base(slack) + "/readyz")
    assert status == 503 and "schema" in failing(text) and "canishare db migrate" in text


def test_clock_once_hands_its_lease_back(tmp_path, monkeypatch, no_slack_env):
    """An exiting `clock --once` must not keep the next clock waiting for its lease."""
    from bot.cli import main

    db = tmp_path / "once.db"
    Storage(db).close()
    monkeypatch.setenv("CANISHARE_DATABASE", str(db))
    monkeypatch.chdir(tmp_path)
    assert main(["clock", "--once"]) == 0
    storage = Storage(db)
    with storage.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT COUNT(*) FROM leases").scalar() == 0
        assert tx.housekeeping.last_beat("clock") is not None
    storage.close()


def test_the_teams_server_answers_readiness_too(real_bundle, tmp_path, clock):
    from tests.fakes.teams_service import FakeTeamsService
    from tests.teams_harness import start_teams

    service = FakeTeamsService().start()
    teams = start_teams(service, real_bundle, tmp_path / "teams.db", clock)
    try:
        assert get(teams.server.url + "/healthz") == (200, "ok")
        status, text = get(teams.server.url + "/readyz")
        assert status == 503 and failing(text) == ["clock"]
        teams.services.scheduler().tick()
        calls = len(service.outbound)
        status, text = get(teams.server.url + "/readyz")
        assert status == 200, text
        assert len(service.outbound) == calls  # asking is free: no call to Microsoft
    finally:
        teams.stop()
        service.stop()
