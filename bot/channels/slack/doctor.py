"""Doctor's Slack checks, live against the Web API: the token, the scopes the manifest asks for,
the DSL channel (exists, private, the bot in it) and the DSL and deputy ids (real people)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ops.doctor import Check, fail, ok
from bot.settings import Settings

MANIFEST = Path(__file__).resolve().parents[3] / "slack-app-manifest.yaml"
REINSTALL = ("in the Slack app's settings, paste slack-app-manifest.yaml under App Manifest, then "
             "OAuth & Permissions > Reinstall to Workspace (and copy the new token)")
TOKEN_FIX = ("copy the Bot User OAuth Token (xoxb-...) from the Slack app's OAuth & Permissions page "
             "into SLACK_BOT_TOKEN")


@cache
def manifest_scopes(path: Path = MANIFEST) -> frozenset[str]:
    """The bot scopes slack-app-manifest.yaml asks for: one list, not a copy here."""
    import yaml

    return frozenset(yaml.safe_load(path.read_text())["oauth_config"]["scopes"]["bot"])


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:160]


def slack_checks(s: Settings) -> Iterator[Check]:
    assert s.slack_bot_token is not None
    client = WebClient(token=s.slack_bot_token.get_secret_value(), base_url=s.slack_api_base_url,
                       timeout=15)
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        yield fail(f"Slack: the token was refused (auth.test: {_error(exc)})", TOKEN_FIX)
        return
    except OSError as exc:
        yield fail(f"Slack: cannot reach {s.slack_api_base_url} ({_error(exc)})",
                   "let this machine reach slack.com on port 443 (proxy, firewall)")
        return
    bot_user = auth.get("user_id", "")
    yield ok(f"Slack: token accepted (workspace {auth.get('team', '?')}, bot @{auth.get('user', '?')})")
    if s.slack_team_id and auth.get("team_id") != s.slack_team_id:
        yield fail(f"Slack: the token is for workspace {auth.get('team_id')}, SLACK_TEAM_ID says "
                   f"{s.slack_team_id}", "use the token of the app installed in SLACK_TEAM_ID's workspace")
    granted = {scope.strip() for scope in _header(auth.headers, "x-oauth-scopes").split(",") if scope.strip()}
    missing = sorted(manifest_scopes() - granted)
    if missing:
        yield fail(f"Slack: the token lacks scopes the manifest asks for: {', '.join(missing)}", REINSTALL)
    else:
        yield ok(f"Slack: the token has the {len(manifest_scopes())} scopes the manifest asks for")
    if s.dsl_channel:
        yield from _channel(client, s.dsl_channel)
    for label, ids in (("DSL", sorted(s.dsl_ids)), ("deputy DSL", sorted(s.deputy_ids))):
        for user in ids:
            yield _person(client, label, user, bot_user)


def _header(headers: dict, name: str) -> str:
    return next((str(v) for k, v in (headers or {}).items() if k.lower() == name), "")


def _channel(client: WebClient, channel: str) -> Iterator[Check]:
    name = f"Slack: DSL channel {channel}"
    if not channel.startswith(("C", "G")):
        yield fail(f"{name}: not a channel id", "CANISHARE_DSL_CHANNEL takes the channel's id "
                   "(C...), not its name: in Slack open the channel's details; the id is at the bottom")
        return
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        if _error(exc) == "channel_not_found":
            yield fail(f"{name}: not found: it does not exist, or it is private and the bot is not in it",
                       "in Slack, open the DSL channel and type `/invite @canishare`; check the id "
                       "(channel details, at the bottom)")
        else:
            yield fail(f"{name}: conversations.info said {_error(exc)}", REINSTALL)
        return
    if not info.get("is_private"):
        yield fail(f"{name}: is public: everyone in the workspace would see escalations",
                   "make a private channel for DSLs only, invite the bot, and set its id")
    else:
        yield ok(f"{name}: exists and is private")
    if info.get("is_member") is False:
        yield fail(f"{name}: the bot is not in it: cards cannot be posted",
                   "in Slack, open the DSL channel and type `/invite @canishare`")
    else:
        yield ok(f"{name}: the bot is a member")


def _person(client: WebClient, label: str, user: str, bot_user: str) -> Check:
    name = f"Slack: {label} {user}"
    fix = ("use Slack member ids (U...): in Slack open the person's profile, ⋮ More > Copy member ID")
    try:
        found = client.users_info(user=user)["user"]
    except SlackApiError as exc:
        return fail(f"{name}: not a user in this workspace ({_error(exc)})", fix)
    if found.get("deleted"):
        return fail(f"{name}: the account is deactivated", "replace the id with a current DSL's")
    if found.get("is_bot") or user == bot_user:
        return fail(f"{name}: is a bot, not a person", fix)
    return ok(f"{name}: {found.get('real_name') or found.get('name') or 'a real user'}")
