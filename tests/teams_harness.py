"""Shared pieces for Teams tests: the fake Microsoft side, the real server, signed posts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from bot.channels.teams.config import TeamsConfig
from tests.fakes.teams_service import (
    CLIENT_ID,
    DSL_CHANNEL_ID,
    DSL_TEAM_ID,
    TENANT_ID,
    FakeTeamsService,
)


def config_for(fake: FakeTeamsService, **changes: Any) -> TeamsConfig:
    values: dict[str, Any] = dict(
        client_id=CLIENT_ID, client_secret="unused-with-a-token-function", tenant_id=TENANT_ID,
        dsl_team_id=DSL_TEAM_ID, dsl_channel_id=DSL_CHANNEL_ID, dsl_user_ids=frozenset(),
        deputy_dsl_user_ids=frozenset(), openid_metadata_url=fake.openid_metadata_url, port=0)
    values.update(changes)
    return TeamsConfig(**values)


def personal_activity(fake: FakeTeamsService, user: str, *, kind: str = "message",
                      text: str = "hello", service_url: str | None = None, **extra: Any) -> dict[str, Any]:
    """An activity as Teams sends it from someone's personal chat with the bot."""
    return {
        "type": kind, "id": f"act-{kind}", "channelId": "msteams", "text": text,
        "serviceUrl": service_url or fake.service_url,
        "from": {"id": f"29:{user}", "aadObjectId": user, "name": "Sam Worker"},
        "recipient": {"id": f"28:{CLIENT_ID}", "name": "canishare"},
        "conversation": {"id": f"a:personal-{user}", "conversationType": "personal",
                         "tenantId": TENANT_ID},
        "channelData": {"tenant": {"id": TENANT_ID}},
        **extra,
    }


def post(url: str, body: dict[str, Any] | bytes, token: str | None = None,
         authorization: str | None = None) -> tuple[int, Any]:
    """POST to the bot as the Bot Connector would; returns (status, parsed JSON or None)."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "/api/messages", data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None
