"""`canishare doctor`: each failure it can name, provoked against the fakes (Slack Web API, the
Bot Connector and token issuer), named with its fix; exit 0 only when an urgent escalation
reaches a DSL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.core.clock import FrozenClock
from bot.ops.checks import all_checks
from bot.ops.doctor import Check
from bot.services import Services
from bot.settings import Settings
from bot.storage import Key, Storage
from tests.conftest import MONDAY_10AM, ROOT
from tests.fakes.slack_api import FakeSlack
from tests.fakes.teams_service import (
    CLIENT_ID,
    DSL_CHANNEL_ID,
    DSL_TEAM_ID,
    TENANT_ID,
    FakeTeamsService,
    Member,
    new_user_id,
)
from tests.slack_harness import SECRET

KEY = Key.generate()
DSL_CHANNEL, DSL_USER, DEPUTY = "GDSL", "UDSL", "UDEP"


@pytest.fixture(scope="module")
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack(slack):
    """The module's fake, set back to a workspace where everything is right."""
    slack.fail_methods.clear()
    for changed in (slack.unknown_channels, slack.public_channels, slack.outside_channels,
                    slack.unknown_users, slack.deleted_users):
        changed.clear()
    slack.scopes = FakeSlack.scopes
    return slack


@pytest.fixture(scope="module")
def teams():
    fake = FakeTeamsService().start()
    yield fake
    fake.stop()


DSL_TEAMS = new_user_id()


@pytest.fixture
def fake_teams(teams):
    teams.reset()
    teams.add_team(DSL_TEAM_ID, [Member(DSL_TEAMS, "Dee Lead")], channels=[DSL_CHANNEL_ID])
    return teams


@pytest.fixture
def clock():
    return FrozenClock(MONDAY_10AM)


@pytest.fixture
def migrated(tmp_path, clock) -> Path:
    """A current database the clock has just ticked against."""
    from bot.dsl.health import beat

    path = tmp_path / "doctor.db"
    store = Storage(path, clock)
    beat(store)
    store.close()
    return path


def slack_settings(fake: FakeSlack, db: Path, **extra) -> Settings:
    values = dict(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_base_url=fake.base_url,
                  database=str(db), dsl_channel=DSL_CHANNEL, dsl_user_ids=DSL_USER,
                  deputy_dsl_user_ids=DEPUTY, log_key=KEY)
    values.update(extra)
    return Settings(**values)


def teams_settings(fake: FakeTeamsService, db: Path, **extra) -> Settings:
    values = dict(database=str(db), teams_client_id=CLIENT_ID, teams_client_secret="unused",
                  teams_tenant_id=TENANT_ID, teams_dsl_team_id=DSL_TEAM_ID,
                  teams_dsl_channel_id=DSL_CHANNEL_ID, teams_service_url=fake.service_url,
                  teams_dsl_user_ids=DSL_TEAMS, log_key=KEY)
    values.update(extra)
    return Settings(**values)


def checks(settings: Settings, clock, token=None) -> list[Check]:
    return list(all_checks(Services(settings, clock, teams_token=token)))


def failures(found: list[Check]) -> list[Check]:
    return [c for c in found if c.status == "fail"]


def only_failure(found: list[Check], says: str, fix: str) -> Check:
    failed = failures(found)
    assert len(failed) == 1, [c.what for c in failed]
    assert says in failed[0].what and fix in failed[0].fix, failed[0]
    return failed[0]


# --- the whole set-up right ---------------------------------------------------------------------
def test_slack_set_up_right_passes(fake_slack, migrated, clock):
    found = checks(slack_settings(fake_slack, migrated), clock)
    assert failures(found) == []
    said = "\n".join(c.what for c in found)
    for expected in ("DSL route", "token accepted", "scopes the manifest asks for", "is private",
                     "bot is a member", "Clock: alive", "Database: writable", f"DSL {DSL_USER}"):
        assert expected in said


def test_teams_set_up_right_passes(fake_teams, migrated, clock):
    found = checks(teams_settings(fake_teams, migrated), clock, token=fake_teams.mint_outbound)
    assert failures(found) == [] and not [c for c in found if c.status == "warn"]
    said = "\n".join(c.what for c in found)
    assert "gets a token" in said and "roster lists 1" in said and "DSL channel found" in said


# --- settings -----------------------------------------------------------------------------------
def test_no_dsl_route(migrated, clock):
    only_failure(checks(Settings(database=str(migrated), log_key=KEY), clock),
                 "urgent answers alert no DSL", "CANISHARE_DSL_CHANNEL")


def test_slack_token_without_signing_secret(fake_slack, migrated, clock):
    only_failure(checks(slack_settings(fake_slack, migrated, slack_signing_secret=None), clock),
                 "SLACK_SIGNING_SECRET is not", "Signing Secret")


def test_dsl_channel_without_a_slack_token(migrated, clock):
    found = checks(Settings(database=str(migrated), dsl_channel=DSL_CHANNEL, log_key=KEY), clock)
    assert any("SLACK_BOT_TOKEN is not" in c.what for c in failures(found))


def test_teams_team_without_the_app_registration(migrated, clock):
    found = checks(Settings(database=str(migrated), teams_dsl_team_id=DSL_TEAM_ID, log_key=KEY), clock)
    assert any("TEAMS_CLIENT_ID is not" in c.what for c in failures(found))


# --- database, log key, clock -------------------------------------------------------------------
def test_postgresql_without_a_log_key(fake_slack, clock):
    settings = slack_settings(fake_slack, "postgresql://u@127.0.0.1:9/c", log_key=None)
    only_failure(checks(settings, clock), "CANISHARE_LOG_KEY", "canishare log key")


def test_no_database_yet(fake_slack, tmp_path, clock):
    only_failure(checks(slack_settings(fake_slack, tmp_path / "none.db"), clock),
                 "Database: cannot reach it", "canishare db migrate")


def test_database_server_down(fake_slack, clock):
    only_failure(checks(slack_settings(fake_slack, "postgresql://u@127.0.0.1:9/c"), clock),
                 "Database: cannot reach it", "the server is running")


def test_empty_database(fake_slack, tmp_path, clock):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    only_failure(checks(slack_settings(fake_slack, path), clock), "Database: empty", "canishare db migrate")


def test_old_schema(fake_slack, tmp_path, clock):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((ROOT / "tests" / "fixtures" / "release_schema3.sql").read_text())
    only_failure(checks(slack_settings(fake_slack, path), clock), "Database: schema 3", "canishare db migrate")


def test_read_only_database(fake_slack, migrated, clock):
    # Tests run as root, whom file modes do not stop: SQLite's own refusal stands in for a
    # read-only file, as a missing INSERT grant would on PostgreSQL.
    with sqlite3.connect(migrated) as conn:
        conn.execute("CREATE TRIGGER read_only BEFORE INSERT ON job_runs "
                     "BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END")
    failed = only_failure(checks(slack_settings(fake_slack, migrated), clock), "Database: cannot write",
                          "write access")
    assert "readonly database" in failed.what


def test_clock_never_ran(fake_slack, tmp_path, clock):
    path = tmp_path / "noclock.db"
    Storage(path, clock).close()
    only_failure(checks(slack_settings(fake_slack, path), clock), "has never run", "canishare clock")


def test_clock_stopped(fake_slack, migrated, clock):
    clock.advance(minutes=10)
    only_failure(checks(slack_settings(fake_slack, migrated), clock), "Clock: silent for 10 min",
                 "restart `canishare clock`")


# --- Slack --------------------------------------------------------------------------------------
def test_slack_token_refused(fake_slack, migrated, clock):
    fake_slack.fail_methods["auth.test"] = "invalid_auth"
    only_failure(checks(slack_settings(fake_slack, migrated), clock), "token was refused (auth.test: invalid_auth)",
                 "Bot User OAuth Token")


def test_slack_unreachable(migrated, clock):
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, database=str(migrated),
                        slack_api_base_url="http://127.0.0.1:9/api/", dsl_channel=DSL_CHANNEL, log_key=KEY)
    only_failure(checks(settings, clock), "Slack: cannot reach", "port 443")


def test_slack_token_of_another_workspace(fake_slack, migrated, clock):
    only_failure(checks(slack_settings(fake_slack, migrated, slack_team_id="T2"), clock),
                 "token is for workspace T1", "SLACK_TEAM_ID")


def test_slack_scopes_missing(fake_slack, migrated, clock):
    fake_slack.scopes = "commands,chat:write,im:history,im:write,channels:read,files:write,users:read"
    failed = only_failure(checks(slack_settings(fake_slack, migrated), clock), "lacks scopes", "Reinstall")
    assert "groups:history" in failed.what and "groups:read" in failed.what


def test_slack_dsl_channel_given_by_name(fake_slack, migrated, clock):
    only_failure(checks(slack_settings(fake_slack, migrated, dsl_channel="#dsl"), clock),
                 "not a channel id", "channel's details")


def test_slack_dsl_channel_missing(fake_slack, migrated, clock):
    fake_slack.unknown_channels.add(DSL_CHANNEL)
    only_failure(checks(slack_settings(fake_slack, migrated), clock), "not found", "/invite @canishare")


def test_slack_private_dsl_channel_without_the_bot(fake_slack, migrated, clock):
    fake_slack.outside_channels.add(DSL_CHANNEL)  # private: Slack hides it from the bot
    only_failure(checks(slack_settings(fake_slack, migrated), clock), "or it is private and the bot is not in it",
                 "/invite @canishare")


def test_slack_public_dsl_channel(fake_slack, migrated, clock):
    fake_slack.public_channels.add(DSL_CHANNEL)
    only_failure(checks(slack_settings(fake_slack, migrated), clock), "is public", "private channel")


def test_slack_public_dsl_channel_without_the_bot(fake_slack, migrated, clock):
    fake_slack.public_channels.add(DSL_CHANNEL)
    fake_slack.outside_channels.add(DSL_CHANNEL)
    failed = failures(checks(slack_settings(fake_slack, migrated), clock))
    assert [c.what.removeprefix(f"Slack: DSL channel {DSL_CHANNEL}: ") for c in failed] == [
        "is public: everyone in the workspace would see escalations", "the bot is not in it: cards cannot be posted"]


@pytest.mark.parametrize(("change", "says"), [("unknown_users", "not a user in this workspace (user_not_found)"),
                                              ("deleted_users", "deactivated")])
def test_slack_dsl_and_deputy_ids_must_be_people(fake_slack, migrated, clock, change, says):
    getattr(fake_slack, change).add(DEPUTY)
    failed = only_failure(checks(slack_settings(fake_slack, migrated), clock), says, "")
    assert f"deputy DSL {DEPUTY}" in failed.what


def test_slack_dsl_id_of_the_bot(fake_slack, migrated, clock):
    only_failure(checks(slack_settings(fake_slack, migrated, dsl_user_ids="UBOT"), clock),
                 "is a bot, not a person", "Copy member ID")


# --- Teams --------------------------------------------------------------------------------------
def test_teams_bad_setting(fake_teams, migrated, clock):
    only_failure(checks(teams_settings(fake_teams, migrated, teams_dsl_channel_id="General"), clock,
                        token=fake_teams.mint_outbound), "TEAMS_DSL_CHANNEL_ID: expected", "fix the value")


def test_teams_no_token(fake_teams, migrated, clock):
    def refused(scope, tenant):
        raise RuntimeError("AADSTS7000215: Invalid client secret provided")

    only_failure(checks(teams_settings(fake_teams, migrated), clock, token=refused),
                 "no token from Entra ID", "Certificates & secrets")


def test_teams_bot_not_in_the_dsl_team(fake_teams, migrated, clock):
    fake_teams.reset()
    only_failure(checks(teams_settings(fake_teams, migrated), clock, token=fake_teams.mint_outbound),
                 "DSL team not reachable", "Manage team > Apps")


def test_teams_dsl_channel_not_in_the_team(fake_teams, migrated, clock):
    fake_teams.add_team(DSL_TEAM_ID, [Member(DSL_TEAMS, "Dee Lead")])
    only_failure(checks(teams_settings(fake_teams, migrated), clock, token=fake_teams.mint_outbound),
                 "not a channel of the DSL team", "Get link to channel")


def test_teams_listed_dsl_outside_the_team_is_a_warning(fake_teams, migrated, clock):
    found = checks(teams_settings(fake_teams, migrated, teams_dsl_user_ids=new_user_id()), clock,
                   token=fake_teams.mint_outbound)
    assert failures(found) == []
    assert [c.what for c in found if c.status == "warn"][0].startswith("Teams: 1 of TEAMS_DSL_USER_IDS")


# --- the command and its exit codes -------------------------------------------------------------
def cli_env(fake: FakeSlack, db: Path, **extra: str) -> dict[str, str]:
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_BASE_URL": fake.base_url, "DATABASE_URL": str(db), "CANISHARE_DSL_CHANNEL": DSL_CHANNEL,
           "CANISHARE_DSL_USER_IDS": DSL_USER, "CANISHARE_DEPUTY_DSL_USER_IDS": DEPUTY, "CANISHARE_LOG_KEY": KEY}
    env.update(extra)
    return env


def test_exit_0_only_when_everything_works(run_cli, fake_slack, tmp_path):
    env = cli_env(fake_slack, tmp_path / "cli.db")
    assert run_cli("db", "migrate", env=env).returncode == 0
    before_clock = run_cli("doctor", env=env)
    assert before_clock.returncode == 1
    assert "[FAIL] Clock: `canishare clock` has never run" in before_clock.stdout
    assert "fix: start `canishare clock`" in before_clock.stdout
    assert run_cli("clock", "--once", env=env).returncode == 0
    passed = run_cli("doctor", env=env)
    assert passed.returncode == 0, passed.stdout
    assert passed.stdout.strip().splitlines()[-1].startswith("ok: all ")
    assert "FAIL" not in passed.stdout


def test_exit_1_names_the_problem_and_its_fix(run_cli, fake_slack, tmp_path):
    fake_slack.outside_channels.add(DSL_CHANNEL)
    result = run_cli("doctor", env=cli_env(fake_slack, tmp_path / "cli.db"))
    assert result.returncode == 1
    assert f"[FAIL] Slack: DSL channel {DSL_CHANNEL}: not found" in result.stdout
    assert "/invite @canishare" in result.stdout
    assert "problem(s) stop an urgent escalation reaching a DSL" in result.stdout


def test_exit_2_for_a_setting_that_cannot_be_read(run_cli, fake_slack, tmp_path):
    result = run_cli("doctor", env=cli_env(fake_slack, tmp_path / "cli.db", DATABASE_URL="mysql://x"))
    assert result.returncode == 2 and "DATABASE_URL: mysql: databases are not supported" in result.stderr


def test_start_up_warns_when_urgent_answers_reach_nobody(run_cli, tmp_path):
    result = run_cli("clock", "--once")
    assert result.returncode == 0
    assert "ERROR NO DSL ROUTE: clock: no DSL channel is configured" in result.stderr


def test_a_delivery_waiting_past_the_fallback_deadline(fake_slack, migrated, clock):
    from bot.dsl.health import beat
    from bot.dsl.model import DeliveryKind

    store = Storage(migrated, clock)
    with store.transaction() as tx:
        tx.outbox.enqueue("card:1", "slack", DeliveryKind.card, escalation_id=1)
    clock.advance(minutes=6)
    beat(store)  # the clock is alive; the delivery is what is stuck
    store.close()
    only_failure(checks(slack_settings(fake_slack, migrated), clock), "Deliveries: a delivery has waited 6 min",
                 "DELIVERY FAILED")
