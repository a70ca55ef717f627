"""The web console over real HTTP (uvicorn on 127.0.0.1) beside the real Slack app and the fake
Slack, signed in through the fake OpenID provider, with the test's frozen clock.

`WebClient` is a small HTTP client that keeps the session cookie itself: Python's cookie jar
will not send a `Secure` cookie over http://127.0.0.1, as a browser would (browsers treat
localhost as a secure origin), and the console's cookie is always `Secure`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx

from bot.channels.web.app import build_app
from bot.channels.web.config import WebConfig
from bot.channels.web.server import BackgroundServer
from bot.core.clock import Clock
from bot.flows.loader import FlowBundle
from bot.storage import Decision
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOpenID
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import SlackApp, start_app

DSL, MEMBER, DEPUTY, STAFF = "UDSL", "UMEMBER", "UDEP", "U1"
TEAM = "T1"
DSL_SETTINGS = dict(dsl_channel="CDSL", dsl_user_ids=DSL, deputy_dsl_user_ids=DEPUTY,
                    dsl_group_mention="<!subteam^S1|dsl-team>", slack_team_id=TEAM)
COOKIE = "canishare_console"


def slack_user(user: str, team: str = TEAM, name: str = "") -> dict[str, str]:
    """The claims Sign in with Slack puts in its id token."""
    return {"sub": user, "https://slack.com/user_id": user, "https://slack.com/team_id": team,
            "name": name or f"Person {user}"}


@dataclass
class Console:
    url: str
    oidc: FakeOpenID
    slack: SlackApp
    server: BackgroundServer
    config: WebConfig

    def client(self) -> WebClient:
        return WebClient(self)

    def stop(self) -> None:
        self.server.stop()
        self.oidc.stop()
        self.slack.stop()


def start_console(fake: FakeSlack, bundle: FlowBundle, db: str | Path, clock: Clock,
                  idle_minutes: int = 30) -> Console:
    fake.channel_members["CDSL"] = [DSL, MEMBER]
    slack = start_app(fake, bundle, Path(db) if not str(db).startswith("postgres") else db,  # type: ignore[arg-type]
                      clock=clock, **DSL_SETTINGS)
    oidc = FakeOpenID(user=slack_user(DSL)).start()
    server = BackgroundServer()
    config = WebConfig(provider="slack", issuer=oidc.issuer, client_id=CLIENT_ID,
                       client_secret=CLIENT_SECRET, base_url=server.url, session_secret="s" * 48,
                       idle_minutes=idle_minutes, team_id=TEAM)
    server.start(build_app(slack.services, config))
    return Console(server.url, oidc, slack, server, config)


class WebClient:
    def __init__(self, console: Console):
        self.console = console
        self.http = httpx.Client(follow_redirects=False, timeout=30)
        self.cookie = ""
        self.set_cookie_headers: list[str] = []

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            self.set_cookie_headers.append(header)
            parsed = SimpleCookie()
            parsed.load(header)
            if COOKIE in parsed:
                self.cookie = parsed[COOKIE].value
                if "expires=thu, 01 jan 1970" in header.lower() or parsed[COOKIE].value in ("", "null"):
                    self.cookie = ""
        return response

    def get(self, path: str, **kw: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.console.url + path
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie and url.startswith(self.console.url) else {}
        return self._keep(self.http.get(url, headers=headers, **kw))

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        return self._keep(self.http.post(self.console.url + path, data=data or {}, headers=headers, **kw))

    def sign_in(self, user: str | None = DSL, next_path: str = "/queue", claims: dict[str, str] | None = None
                ) -> httpx.Response:
        """Through the provider: start, the provider's redirect back, the callback. Returns the
        callback's response (303 to `next` for a DSL)."""
        if user is not None or claims is not None:
            self.console.oidc.user = claims or slack_user(user)  # type: ignore[arg-type]
        start = self.get(f"/auth/start?next={next_path}")
        assert start.status_code == 302, start.text
        at_provider = self.get(start.headers["location"])
        assert at_provider.status_code == 302, at_provider.text
        self.last_callback = at_provider.headers["location"]
        return self.get(self.last_callback)

    def csrf(self, path: str = "/queue") -> str:
        page = self.get(path)
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, page.text[:500]
        return match.group(1)


def decision(when: datetime, verdict: str = "refer_to_childrens_social_care", decision: str = "shared", jurisdiction: str = "england",
             org_type: str = "public_body", channel: str = "slack", outcome_id: str = "O03",
             concerns: tuple[str, ...] = ("neglect",), **extra: Any) -> Decision:
    return Decision(created_at=when, channel=channel, user_id="U1", conversation_id="", flow_id="can_i_share",
                    flow_version="v", guidance_edition="3", jurisdiction=jurisdiction,
                    answers={"jurisdiction": jurisdiction, "org_type": org_type, "concern_type": list(concerns)},
                    outcome_id=outcome_id, verdict=verdict, consent_position="not_needed", rules=["GR1"],
                    gateways=[], dsl_alert="none", decision=decision, **extra)
