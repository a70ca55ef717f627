"""Teams authentication, always on: the real teams.py app over loopback HTTP, real RS256
validation against a fake key set. A refused request must cause no outbound call at all."""

from __future__ import annotations

import time

import jwt
import pytest

from bot.channels.teams.config import teams_config
from bot.channels.teams.server import build_app
from bot.core.clock import FrozenClock
from bot.settings import SettingsError, load_settings
from tests.conftest import MONDAY_10AM
from tests.fakes.teams_service import (
    BOT_FRAMEWORK_ISSUER,
    CLIENT_ID,
    DSL_CHANNEL_ID,
    DSL_TEAM_ID,
    TENANT_ID,
    FakeTeamsService,
    new_user_id,
)
from tests.teams_harness import personal_activity, post, start_teams


@pytest.fixture(scope="module")
def fake():
    service = FakeTeamsService().start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def attacker():
    """Somewhere a forged activity would like the bot to send its token."""
    service = FakeTeamsService().start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def server(fake, real_bundle, tmp_path_factory):
    """The real canishare Teams bot, wired by the composition root, DSL desk included."""
    running = start_teams(fake, real_bundle, tmp_path_factory.mktemp("auth") / "auth.db",
                          FrozenClock(MONDAY_10AM))
    yield running.server
    running.stop()


@pytest.fixture(autouse=True)
def fresh(fake, attacker):
    fake.reset()
    attacker.reset()


def test_a_signed_message_is_answered_with_the_first_question(server, fake):
    user = new_user_id()
    status, _ = post(server.url, personal_activity(fake, user), fake.mint())
    assert status == 200
    [call] = fake.outbound
    assert (call.method, call.path) == ("POST", f"/teams/v3/conversations/a:personal-{user}/activities")
    assert call.authorization.startswith("Bearer ")  # the token function's token, accepted by the fake
    card = call.body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "immediate danger" in str(card["content"])


def test_a_signed_invoke_gets_a_non_empty_answer(server, fake):
    invoke = personal_activity(fake, new_user_id(), kind="invoke", name="adaptiveCard/action",
                               value={"action": {"type": "Action.Execute", "verb": "answer",
                                                 "data": {"c": "x", "v": 1}}})
    status, body = post(server.url, invoke, fake.mint())
    assert status == 200 and body["value"]


def _expired(fake):
    past = int(time.time()) - 3600  # well past the SDK's 300 s leeway
    return fake.mint(iat=past - 600, nbf=past - 600, exp=past)


REFUSED = {
    "no token": lambda fake: None,
    "signed by another key": lambda fake: fake.mint(key="other"),
    "unknown key id": lambda fake: fake.mint(kid="someone-elses-key"),
    "expired": _expired,
    "for another audience": lambda fake: fake.mint(aud="00000000-0000-0000-0000-000000000000"),
    "from another issuer": lambda fake: fake.mint(iss="https://issuer.example.org"),
    "serviceurl claim differs": lambda fake: fake.mint(serviceurl="http://127.0.0.1:9/teams/"),
    "no serviceurl claim": lambda fake: fake.mint(serviceurl=None),
    "unsigned (alg none)": lambda fake: jwt.encode(
        {"iss": BOT_FRAMEWORK_ISSUER, "aud": CLIENT_ID, "exp": int(time.time()) + 600,
         "serviceurl": fake.service_url}, key=None, algorithm="none"),
}


@pytest.mark.parametrize("kind", ["message", "invoke"])
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_token_gets_401_and_no_outbound_call(server, fake, case, kind):
    activity = personal_activity(fake, new_user_id(), kind=kind,
                                 **({"name": "adaptiveCard/action", "value": {"action": {
                                     "type": "Action.Execute", "verb": "answer", "data": {}}}}
                                    if kind == "invoke" else {}))
    status, _ = post(server.url, activity, REFUSED[case](fake))
    assert status == 401
    assert fake.outbound == []


def test_a_good_token_cannot_redirect_replies_to_another_service(server, fake, attacker):
    """The token is valid for the fake connector; the activity names another serviceUrl."""
    activity = personal_activity(fake, new_user_id(), service_url=attacker.service_url)
    status, _ = post(server.url, activity, fake.mint())
    assert status == 401
    assert fake.outbound == [] and attacker.calls == []


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer ", "Bearer not-a-jwt", "bearer x.y.z"])
def test_a_malformed_authorization_header_gets_401(server, fake, authorization):
    status, _ = post(server.url, personal_activity(fake, new_user_id()), authorization=authorization)
    assert status == 401
    assert fake.outbound == []


@pytest.mark.parametrize("body, with_token, expected", [
    (b"not json", False, 401), (b"[]", False, 401),
    (b"not json", True, 400), (b"[]", True, 400), (b'"text"', True, 400),
    (b'{"type": "message", "text": "' + b"x" * 1_100_000 + b'"}', True, 413),
])
def test_what_is_not_an_activity_is_refused_before_the_sdk(server, fake, body, with_token, expected):
    status, _ = post(server.url, body, fake.mint() if with_token else None)
    assert status == expected
    assert fake.outbound == []


def test_health_check_needs_no_token(server):
    import urllib.request

    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
        assert response.status == 200 and response.read() == b"ok"


# --- start-up ------------------------------------------------------------------------------------
GOOD_ENV = {
    "TEAMS_CLIENT_ID": CLIENT_ID, "TEAMS_CLIENT_SECRET": "s3cret", "TEAMS_TENANT_ID": TENANT_ID,
    "TEAMS_DSL_TEAM_ID": DSL_TEAM_ID, "TEAMS_DSL_CHANNEL_ID": DSL_CHANNEL_ID,
}


@pytest.fixture
def teams_env(monkeypatch):
    for name in ("TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID", "TEAMS_DSL_TEAM_ID",
                 "TEAMS_DSL_CHANNEL_ID", "TEAMS_DSL_USER_IDS", "TEAMS_DEPUTY_DSL_USER_IDS",
                 "TEAMS_OPENID_METADATA_URL", "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "SKIP_AUTH",
                 "TEAMS_SKIP_AUTH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_complete_settings_are_accepted(teams_env):
    teams_env.setenv("TEAMS_DSL_USER_IDS", f"{new_user_id()}, {new_user_id()}")
    config = teams_config(load_settings())
    assert config.client_id == CLIENT_ID and len(config.dsl_user_ids) == 2
    assert config.openid_metadata_url == ""  # Microsoft's own key set


def test_each_missing_setting_is_named(teams_env):
    for name in GOOD_ENV:
        teams_env.delenv(name)
    with pytest.raises(SettingsError) as info:
        teams_config(load_settings())
    message = str(info.value)
    assert "\n" not in message
    for name in GOOD_ENV:
        assert f"{name} not set" in message


@pytest.mark.parametrize("name, value, expected", [
    ("TEAMS_CLIENT_ID", "canishare-bot", "TEAMS_CLIENT_ID: expected the Application (client) ID"),
    ("TEAMS_TENANT_ID", "common", "TEAMS_TENANT_ID: 'common' is not a tenant"),
    ("TEAMS_TENANT_ID", "school.onmicrosoft.com", "TEAMS_TENANT_ID: expected the Directory (tenant) ID"),
    ("TEAMS_DSL_TEAM_ID", "DSL team", "TEAMS_DSL_TEAM_ID: expected the DSL team's id"),
    ("TEAMS_DSL_CHANNEL_ID", "General", "TEAMS_DSL_CHANNEL_ID: expected the id of a standard channel"),
    ("TEAMS_DSL_USER_IDS", "sam@school.example", "TEAMS_DSL_USER_IDS: 'sam@school.example' is not an Entra object id"),
    ("TEAMS_DEPUTY_DSL_USER_IDS", "U123", "TEAMS_DEPUTY_DSL_USER_IDS: 'U123' is not an Entra object id"),
    ("TEAMS_OPENID_METADATA_URL", "http://keys.example.org/v1/.well-known/openidconfiguration",
     "TEAMS_OPENID_METADATA_URL: must be an https URL"),
])
def test_a_wrong_setting_is_named_in_one_line(teams_env, name, value, expected):
    teams_env.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        teams_config(load_settings())
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "SKIP_AUTH", "TEAMS_SKIP_AUTH"])
@pytest.mark.parametrize("value", ["true", "1", "yes", "ON", "maybe"])
def test_start_up_refuses_to_switch_validation_off(teams_env, name, value):
    teams_env.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name} is set: canishare never switches off"):
        teams_config(load_settings())


def test_building_the_app_refuses_too_when_the_switch_appears_later(teams_env, fake):
    config = teams_config(load_settings())
    teams_env.setenv("DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "true")
    with pytest.raises(SettingsError):
        build_app(config)


def test_a_false_switch_is_not_a_request_to_switch_off(teams_env):
    teams_env.setenv("DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "false")
    assert teams_config(load_settings()).tenant_id == TENANT_ID


def test_the_cli_names_missing_teams_settings_and_exits_2(run_cli):
    blank = {name: "" for name in (*GOOD_ENV, "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "SKIP_AUTH")}
    result = run_cli("teams", "serve", env=blank)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("canishare: settings: TEAMS_CLIENT_ID not set")


def test_the_cli_refuses_unauthenticated_mode(run_cli):
    result = run_cli("teams", "serve", env={**GOOD_ENV, "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS": "1"})
    assert result.returncode == 2
    assert "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS is set" in result.stderr


def test_canishare_teams_serve_starts_from_the_cli_and_refuses_an_unsigned_request(fake, tmp_path):
    """The real command, as the Procfile runs it: settings from the environment, the composition
    root, uvicorn. It must answer /healthz and refuse what is not signed, calling nobody."""
    import socket
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import clean_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = clean_env(**GOOD_ENV, TEAMS_OPENID_METADATA_URL=fake.openid_metadata_url,
                    TEAMS_SERVICE_URL=fake.service_url, TEAMS_PORT=str(port),
                    CANISHARE_DATABASE=str(tmp_path / "cli.db"))
    env = {k: v for k, v in env.items() if k not in ("DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "SKIP_AUTH",
                                                     "TEAMS_SKIP_AUTH")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "teams", "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                    assert response.read() == b"ok"
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        else:
            raise AssertionError("canishare teams serve did not start")
        status, _ = post(url, personal_activity(fake, new_user_id()), fake.mint(key="other"))
        assert status == 401 and fake.outbound == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
