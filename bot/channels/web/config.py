"""The web console's settings, checked once when `canishare web` starts: a console that would
sign people in insecurely (no session secret, a plain-http public address) refuses to start."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.settings import Settings, SettingsError

SLACK_ISSUER = "https://slack.com"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class WebConfig:
    provider: str  # "slack" (Sign in with Slack) or "entra" (Microsoft Entra ID)
    issuer: str
    client_id: str
    client_secret: str
    base_url: str  # the console's public address, no trailing slash
    session_secret: str
    idle_minutes: int
    # what the id token must also say: the Slack workspace, or the Entra tenant
    team_id: str = ""
    tenant_id: str = ""

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def channel(self) -> str:
        """The chat whose DSL desk decides who is a DSL here."""
        return "slack" if self.provider == "slack" else "teams"


def web_config(settings: Settings) -> WebConfig:
    problems = []
    provider = settings.web_oidc_provider
    issuer = settings.web_oidc_issuer.rstrip("/")
    if not issuer:
        if provider == "slack":
            issuer = SLACK_ISSUER
        elif settings.teams_tenant_id:
            issuer = f"https://login.microsoftonline.com/{settings.teams_tenant_id}/v2.0"
        else:
            problems.append("CANISHARE_WEB_OIDC_ISSUER: not set (or set TEAMS_TENANT_ID for Entra ID)")
    if not settings.web_oidc_client_id:
        problems.append("CANISHARE_WEB_OIDC_CLIENT_ID: not set")
    secret = settings.web_oidc_client_secret.get_secret_value() if settings.web_oidc_client_secret else ""
    if not secret:
        problems.append("CANISHARE_WEB_OIDC_CLIENT_SECRET: not set")
    session = settings.web_session_secret.get_secret_value() if settings.web_session_secret else ""
    if len(session) < 32:
        problems.append("CANISHARE_WEB_SESSION_SECRET: must be at least 32 random characters "
                        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    base = settings.web_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("CANISHARE_WEB_URL: must be the console's address, e.g. https://dsl.example.org")
    elif parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        problems.append("CANISHARE_WEB_URL: must be https (session cookies are Secure)")
    for name, url in (("CANISHARE_WEB_OIDC_ISSUER", issuer),):
        host = urlsplit(url).hostname or ""
        if url and not url.startswith("https://") and host not in LOCAL_HOSTS:
            problems.append(f"{name}: must be https")
    if provider == "slack" and not settings.slack_team_id:
        problems.append("SLACK_TEAM_ID: needed to check that people sign in from your workspace")
    if provider == "entra" and not settings.teams_tenant_id:
        problems.append("TEAMS_TENANT_ID: needed to check that people sign in from your organisation")
    if problems:
        raise SettingsError("; ".join(problems))
    return WebConfig(provider=provider, issuer=issuer, client_id=settings.web_oidc_client_id,
                     client_secret=secret, base_url=base, session_secret=session,
                     idle_minutes=settings.web_idle_minutes, team_id=settings.slack_team_id,
                     tenant_id=settings.teams_tenant_id)
