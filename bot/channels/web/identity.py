"""Sign-in through OpenID Connect with Authlib: Sign in with Slack, or Microsoft Entra ID.

Authlib does the protocol: discovery, the authorisation redirect with `state` and `nonce` kept in
the session (and removed when used, so a replayed callback is refused), the code exchange, and
the id token's signature (the provider's JWKS), `iss`, `aud`, `exp` and `nonce`. This module
adds what is ours: the issuer is the configured one (not whatever discovery says), and the token
must come from our Slack workspace or Entra tenant; then the person is the same id the chat
knows (a Slack user id, an Entra object id), so the DSL desk decides exactly as in the chat.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # noqa: F401, I001 - it sets its warning to "always" when imported: first

with warnings.catch_warnings():
    # Authlib 1.9 announces that its httpx client moves to the httpx2 package; the Starlette
    # client we use still runs on httpx, which the project already has
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth

from bot.channels.web.config import WebConfig

SLACK_USER, SLACK_TEAM = "https://slack.com/user_id", "https://slack.com/team_id"


class NotOurs(Exception):
    """A valid token, but not from our workspace or tenant."""


@dataclass(frozen=True)
class Identity:
    channel: str  # "slack" or "teams": whose DSL desk decides
    user_id: str
    name: str


def oidc_client(config: WebConfig) -> Any:
    oauth = OAuth()
    oauth.register(
        "provider", client_id=config.client_id, client_secret=config.client_secret,
        server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "timeout": 10})
    return oauth.create_client("provider")


def claims_options(config: WebConfig) -> dict[str, Any]:
    """`iss` must be the configured issuer and `aud` our client id, whatever discovery said."""
    return {"iss": {"essential": True, "values": [config.issuer]},
            "aud": {"essential": True, "values": [config.client_id]},
            "exp": {"essential": True}, "nonce": {"essential": True}}


def identity(config: WebConfig, claims: dict[str, Any]) -> Identity:
    name = str(claims.get("name") or claims.get("email") or "")
    if config.provider == "slack":
        if claims.get(SLACK_TEAM) != config.team_id:
            raise NotOurs(f"Slack workspace {claims.get(SLACK_TEAM)!r}")
        return Identity("slack", str(claims.get(SLACK_USER) or ""), name)
    if claims.get("tid") != config.tenant_id:
        raise NotOurs(f"Entra tenant {claims.get('tid')!r}")
    return Identity("teams", str(claims.get("oid") or ""), name)
