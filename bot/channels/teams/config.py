"""Teams settings, checked once at start-up: every missing or wrong value is named, and anything
that asks to switch token validation off stops the bot.

Why refuse rather than warn: with validation off, teams.py accepts an unsigned POST and then
sends the bot's own bearer token to whatever `serviceUrl` the sender chose. The SDK reads that
switch from the environment (and loads `.env` on import), so the environment is checked here,
after the SDK is imported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from bot.settings import Settings, SettingsError

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
THREAD_ID = re.compile(r"^19:[A-Za-z0-9_\-.]+@thread\.(tacv2|skype)$")
NOT_A_TENANT = {"common", "organizations", "consumers", "botframework.com"}

# Names that would switch off (or claim to switch off) inbound token validation. The first is
# the one teams.py 2.1 reads; the others are refused so nobody thinks they worked.
AUTH_OFF_SWITCHES = (
    "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS",
    "SKIP_AUTH",
    "TEAMS_SKIP_AUTH",
    "TEAMS_DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS",
)
_FALSE = {"", "0", "false", "no", "off"}
PUBLIC_SERVICE_URL = "https://smba.trafficmanager.net/teams/"


@dataclass(frozen=True)
class TeamsConfig:
    """What the Teams channel needs, already checked."""

    client_id: str
    client_secret: str
    tenant_id: str
    dsl_team_id: str
    dsl_channel_id: str
    dsl_user_ids: frozenset[str]
    deputy_dsl_user_ids: frozenset[str]
    openid_metadata_url: str  # "" = Microsoft's public cloud
    port: int
    service_url: str = PUBLIC_SERVICE_URL  # until Teams names the DSL team's own
    invoke_budget_seconds: float = 4.0


def _ids(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def refuse_auth_off(environ: dict[str, str] | None = None) -> None:
    """Stop if any variable asks for unauthenticated requests, whatever its spelling of true."""
    environ = dict(os.environ) if environ is None else environ
    asked = [name for name in AUTH_OFF_SWITCHES
             if environ.get(name, "").strip().lower() not in _FALSE]
    if asked:
        raise SettingsError(
            f"{', '.join(asked)} is set: canishare never switches off Teams token validation; "
            "remove it from the environment and .env")


def teams_config(settings: Settings, environ: dict[str, str] | None = None, *,
                 desk_required: bool = True) -> TeamsConfig:
    """Check every Teams setting; raise one `SettingsError` naming each problem. With
    `desk_required=False` (`teams serve`), the DSL team and channel may both be unset: the bot
    serves staff while the admin adds it to the DSL team (set-up step 6), and start-up says
    loudly that urgent answers alert no DSL until then."""
    refuse_auth_off(environ)
    problems: list[str] = []
    no_desk_yet = (not desk_required and not settings.teams_dsl_team_id.strip()
                   and not settings.teams_dsl_channel_id.strip())

    def guid(name: str, value: str, what: str) -> str:
        value = value.strip()
        if not value:
            problems.append(f"{name} not set: {what}")
        elif not GUID.match(value):
            problems.append(f"{name}: expected {what}, like 00000000-0000-0000-0000-000000000000")
        return value

    def thread(name: str, value: str, what: str) -> str:
        value = value.strip()
        if not value:
            problems.append(f"{name} not set: {what}")
        elif not THREAD_ID.match(value):
            problems.append(f"{name}: expected {what}, like 19:...@thread.tacv2")
        return value

    client_id = guid("TEAMS_CLIENT_ID", settings.teams_client_id,
                     "the Application (client) ID of the Entra app registration")
    secret = settings.teams_client_secret.get_secret_value().strip() if settings.teams_client_secret else ""
    if not secret:
        problems.append("TEAMS_CLIENT_SECRET not set: a client secret's value from the Entra app "
                        "registration")
    tenant = settings.teams_tenant_id.strip()
    if tenant.lower() in NOT_A_TENANT:
        problems.append(f"TEAMS_TENANT_ID: {tenant!r} is not a tenant; canishare is a single-tenant "
                        "bot: use your Directory (tenant) ID")
    else:
        guid("TEAMS_TENANT_ID", tenant, "the Directory (tenant) ID")
    if no_desk_yet:
        team = channel = ""
    else:
        team = thread("TEAMS_DSL_TEAM_ID", settings.teams_dsl_team_id, "the DSL team's id")
        channel = thread("TEAMS_DSL_CHANNEL_ID", settings.teams_dsl_channel_id,
                         "the id of a standard channel in the DSL team")
    dsls, deputies = [], []
    for name, raw, into in (("TEAMS_DSL_USER_IDS", settings.teams_dsl_user_ids, dsls),
                            ("TEAMS_DEPUTY_DSL_USER_IDS", settings.teams_deputy_dsl_user_ids, deputies)):
        wrong = [item for item in _ids(raw) if not GUID.match(item)]
        if wrong:
            problems.append(f"{name}: {wrong[0]!r} is not an Entra object id (a GUID); "
                            "list object ids separated by commas")
        into.extend(_ids(raw))
    metadata = settings.teams_openid_metadata_url.strip()
    if metadata:
        if not _https_or_local(metadata):
            problems.append("TEAMS_OPENID_METADATA_URL: must be an https URL (http only for a "
                            "local test service)")
        elif not urlparse(metadata).path.endswith("/openidconfiguration"):
            problems.append("TEAMS_OPENID_METADATA_URL: must end with /openidconfiguration")
    service_url = settings.teams_service_url.strip()
    if not _https_or_local(service_url):
        problems.append("TEAMS_SERVICE_URL: must be an https URL (http only for a local test service)")
    if problems:
        raise SettingsError("; ".join(problems))
    return TeamsConfig(
        client_id=client_id, client_secret=secret, tenant_id=tenant, dsl_team_id=team,
        dsl_channel_id=channel, dsl_user_ids=frozenset(dsls), deputy_dsl_user_ids=frozenset(deputies),
        openid_metadata_url=metadata, port=settings.teams_port,
        service_url=service_url if service_url.endswith("/") else service_url + "/",
        invoke_budget_seconds=settings.teams_invoke_budget_seconds,
    )


def _https_or_local(url: str) -> bool:
    parsed = urlparse(url)
    local = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parsed.hostname) and (parsed.scheme == "https" or (parsed.scheme == "http" and local))
