"""Shared pieces for Teams tests: the fake Microsoft side, the real server wired by the
composition root, signed activities, and what each person's chat shows.

Every request goes over loopback HTTP with a real RS256 token that the SDK validates against the
fake's key set. After each request the harness waits until the bot has no background sends left
(a condition, not a sleep), so what the fake recorded is complete when a test looks."""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.channels.teams.app import TeamsBot, build_bot
from bot.channels.teams.config import TeamsConfig, teams_config
from bot.channels.teams.server import BackgroundServer
from bot.core.clock import Clock
from bot.flows.loader import FlowBundle
from bot.services import Services
from bot.settings import Settings
from bot.storage import Storage
from tests.conftest import answer_for, profile_fill
from tests.fakes.teams_service import (
    CLIENT_ID,
    DSL_CHANNEL_ID,
    DSL_TEAM_ID,
    TENANT_ID,
    FakeTeamsService,
)

CARD = "application/vnd.microsoft.card.adaptive"


def config_for(fake: FakeTeamsService, **changes: Any) -> TeamsConfig:
    values: dict[str, Any] = dict(
        client_id=CLIENT_ID, client_secret="unused-with-a-token-function", tenant_id=TENANT_ID,
        dsl_team_id=DSL_TEAM_ID, dsl_channel_id=DSL_CHANNEL_ID, dsl_user_ids=frozenset(),
        deputy_dsl_user_ids=frozenset(), openid_metadata_url=fake.openid_metadata_url, port=0,
        service_url=fake.service_url)
    values.update(changes)
    return TeamsConfig(**values)


def settings_for(fake: FakeTeamsService, db: Path | str, **extra: Any) -> Settings:
    """Settings as an admin would write them, pointed at the fake (keys and connector)."""
    values: dict[str, Any] = dict(
        database=str(db), teams_client_id=CLIENT_ID, teams_client_secret="unused-with-a-token-function",
        teams_tenant_id=TENANT_ID, teams_dsl_team_id=DSL_TEAM_ID, teams_dsl_channel_id=DSL_CHANNEL_ID,
        teams_openid_metadata_url=fake.openid_metadata_url, teams_service_url=fake.service_url,
        teams_dsl_user_ids="", teams_deputy_dsl_user_ids="")
    values.update(extra)
    return Settings(**values)


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


def channel_activity(fake: FakeTeamsService, user: str, sender: str, *, kind: str = "message",
                     text: str = "", thread: str = "", **extra: Any) -> dict[str, Any]:
    """An activity from the DSL team's channel (an @mention, or a click on a card there)."""
    conversation = f"{DSL_CHANNEL_ID};messageid={thread}" if thread else DSL_CHANNEL_ID
    return {
        "type": kind, "id": f"act-{kind}", "channelId": "msteams", "text": text,
        "serviceUrl": fake.service_url,
        "from": {"id": f"29:{user}", "aadObjectId": user, "name": sender},
        "recipient": {"id": f"28:{CLIENT_ID}", "name": "canishare"},
        "conversation": {"id": conversation, "conversationType": "channel", "tenantId": TENANT_ID,
                         "isGroup": True},
        "channelData": {"tenant": {"id": TENANT_ID}, "team": {"id": DSL_TEAM_ID, "name": "DSLs"},
                        "channel": {"id": DSL_CHANNEL_ID}},
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
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


# --- reading cards -------------------------------------------------------------------------------
def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in walk(card) if n.get("type") in ("Action.Execute", "Action.Submit")]


def verbs(card: dict[str, Any]) -> list[str]:
    return [a.get("verb") or a["data"].get("dialog_id") or a["data"].get("action") for a in actions(card)]


def find_action(card: dict[str, Any], verb: str, title: str | None = None) -> dict[str, Any]:
    for action in actions(card):
        if verb in (action.get("verb"), action["data"].get("dialog_id")) and title in (None, action["title"]):
            return action
    raise AssertionError(f"no {verb!r} ({title}) in card: {[(a['title'], v) for a, v in zip(actions(card), verbs(card), strict=True)]}")


def text_of(card: Any) -> str:
    """A card's JSON as a person reads its text: markdown escapes (`\\(`) resolved."""
    return re.sub(r"\\\\([!-/:-@\[-`{-~])", r"\1", json.dumps(card, ensure_ascii=False))


def card_of(activity: dict[str, Any]) -> dict[str, Any] | None:
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") == CARD:
            return attachment["content"]
    return None


@dataclass
class TeamsApp:
    """The running bot. `shown[user]` is (message id, card) of the check card a person sees now."""

    fake: FakeTeamsService
    server: BackgroundServer
    bot: TeamsBot
    services: Services
    shown: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    answered: dict[str, Any] = field(default_factory=dict)  # the last invoke's own answer, per person

    def settled(self, user: str, message_id: str, body: Any) -> Any:
        """The click's answer as the message stands once the bot's work after it is done (answer
        first, deliver after: an alerting answer is written into its message again with the
        truth about the card). The invoke's own answer stays in `answered[user]`."""
        self.answered[user] = body
        if not isinstance(body, dict) or body.get("type") != CARD:
            return body
        writes = self.fake.calls_to("PUT", rf"/conversations/a:personal-{user}/activities/{re.escape(message_id)}$")
        latest = card_of(writes[-1].body) if writes else None
        return {**body, "value": latest} if latest is not None else body

    @property
    def storage(self) -> Storage:
        return self.services.storage

    def stop(self) -> None:
        self.server.stop()
        self.services.storage.close()

    def _send(self, activity: dict[str, Any]) -> tuple[int, Any]:
        activity["id"] = activity.get("id") if activity.get("id") not in (None, "act-message", "act-invoke") \
            else f"act-{next(self._ids)}"
        result = post(self.server.url, activity, self.fake.mint())
        assert self.bot.wait_idle(), "the bot's background sends did not finish"
        return result

    # --- personal chat ------------------------------------------------------------------------
    def chat(self, user: str) -> list[dict[str, Any]]:
        return self.fake.activities_in(f"a:personal-{user}")

    def cards_in_chat(self, user: str) -> list[tuple[str, dict[str, Any]]]:
        return [(a["id"], card) for a in self.chat(user) if (card := card_of(a)) is not None]

    def message(self, user: str, text: str = "hello", activity_id: str | None = None) -> int:
        before = len(self.chat(user))
        status, _ = self._send(personal_activity(self.fake, user, text=text, id=activity_id))
        self._follow_new_cards(user, before)
        return status

    def _follow_new_cards(self, user: str, before: int) -> None:
        for activity in self.chat(user)[before:]:
            card = card_of(activity)
            if card is not None and any(a.get("verb") for a in actions(card)):
                self.shown[user] = (activity["id"], card)

    def current(self, user: str) -> dict[str, Any]:
        return self.shown[user][1]

    def invoke(self, user: str, name: str, value: dict[str, Any], reply_to: str = "",
               activity_id: str | None = None) -> tuple[int, Any]:
        return self._send(personal_activity(self.fake, user, kind="invoke", name=name, value=value,
                                            replyToId=reply_to, id=activity_id))

    def click(self, user: str, verb: str, title: str | None = None, inputs: dict[str, str] | None = None,
              card: tuple[str, dict[str, Any]] | None = None, activity_id: str | None = None) -> Any:
        """Press a button on the card the person sees (Action.Execute: inputs join the data)."""
        message_id, shown = card or self.shown[user]
        action = find_action(shown, verb, title)
        before = len(self.chat(user))
        status, body = self.invoke(user, "adaptiveCard/action", {"action": {
            "type": "Action.Execute", "verb": action["verb"], "data": {**action["data"], **(inputs or {})}}},
            reply_to=message_id, activity_id=activity_id)
        assert status == 200 and body and body.get("value"), (status, body)
        body = self.settled(user, message_id, body)
        if body.get("type") == CARD:
            self.shown[user] = (message_id, body["value"])
        self._follow_new_cards(user, before)
        return body

    def answer(self, user: str, *answer_ids: str) -> Any:
        """Press the answer buttons with these answer ids, one after another."""
        body = None
        for answer_id in answer_ids:
            body = self.fill_profile(user, answer_id) or body
            message_id, shown = self.shown[user]
            [action] = [a for a in actions(shown) if a.get("verb") == "answer" and a["data"].get("a") == answer_id] \
                or [None]
            assert action is not None, f"no answer {answer_id!r} in {verbs(shown)} {text_of(shown)[:300]}"
            status, body = self.invoke(user, "adaptiveCard/action", {"action": {
                "type": "Action.Execute", "verb": "answer", "data": action["data"]}}, reply_to=message_id)
            assert status == 200 and body["type"] == CARD, (answer_id, body)
            body = self.settled(user, message_id, body)
            self.shown[user] = (message_id, body["value"])
        return body

    def walk_answers(self, user: str, answers: dict[str, str | list[str]]) -> Any:
        """Answer each question on the card from {question key: answer id} until the answer shows
        (`tests.conftest.answer_for`: profile questions left out get the usual profile)."""
        body = None
        for _ in range(60):
            asking = [a for a in actions(self.shown[user][1]) if a.get("verb") in ("answer", "multi_continue")]
            if not asking:
                return body
            value = answer_for(self.services.bundle, asking[0]["data"]["n"], answers)
            body = self.tick(user, *value) if isinstance(value, list) else self.answer(user, value)
        raise AssertionError("no answer after 60 questions")

    def fill_profile(self, user: str, wanted: str) -> Any:
        """Answer first any profile question on screen that does not offer `wanted`
        (`tests.conftest.profile_fill`), so walks name only the answers they are about."""
        body = None
        for _ in range(len(self.services.bundle.manifest.profile_questions)):
            answers = [a for a in actions(self.shown[user][1]) if a.get("verb") == "answer"]
            fill = profile_fill(self.services.bundle, answers[0]["data"]["n"], wanted) if answers else None
            if fill is None:
                break
            body = self.answer(user, fill)
        return body

    def tick(self, user: str, *answer_ids: str) -> Any:
        """Tick these boxes of a multi-select question and press Continue."""
        return self.click(user, "multi_continue", inputs={"answer": ",".join(answer_ids)})

    def open_dialog(self, user: str, dialog_id: str, card: tuple[str, dict[str, Any]] | None = None) -> Any:
        message_id, shown = card or self.shown[user]
        action = find_action(shown, dialog_id)
        status, body = self.invoke(user, "task/fetch", {"data": action["data"]}, reply_to=message_id)
        assert status == 200, (status, body)
        return body["task"]

    def submit_dialog(self, user: str, task: dict[str, Any], values: dict[str, str]) -> Any:
        """Press the dialog's Submit: its data plus the typed values (as Teams sends task/submit)."""
        dialog_card = task["value"]["card"]["content"]
        [submit] = [a for a in actions(dialog_card) if a["type"] == "Action.Submit"]
        status, body = self.invoke(user, "task/submit", {"data": {**submit["data"], **values}})
        assert status == 200, (status, body)
        return body["task"]

    # --- the DSL channel ------------------------------------------------------------------------------
    def dsl_posts(self) -> list[dict[str, Any]]:
        """Top-level posts in the DSL channel, oldest first (thread replies excluded)."""
        conversation = self.fake.conversations.get(DSL_CHANNEL_ID)
        if conversation is None:
            return []
        return [a for i, a in conversation.activities.items() if i not in conversation.deleted]

    def thread(self, card_id: str) -> list[dict[str, Any]]:
        conversation = self.fake.conversations.get(f"{DSL_CHANNEL_ID};messageid={card_id}")
        return list(conversation.activities.values()) if conversation else []

    def escalation_cards(self) -> list[tuple[str, dict[str, Any]]]:
        return [(a["id"], card) for a in self.dsl_posts()
                if (card := card_of(a)) is not None and "safeguarding escalation" in text_of(card)]

    def channel_click(self, user: str, name: str, verb: str, card: tuple[str, dict[str, Any]]) -> Any:
        message_id, shown = card
        action = find_action(shown, verb)
        status, body = self._send(channel_activity(
            self.fake, user, name, kind="invoke", thread=message_id, replyToId=message_id,
            name="adaptiveCard/action", value={"action": {"type": "Action.Execute", "verb": action["verb"],
                                                          "data": action["data"]}}))
        assert status == 200 and body and body.get("value"), (status, body)
        return body

    def channel_dialog(self, user: str, name: str, dialog_id: str, card: tuple[str, dict[str, Any]]) -> Any:
        message_id, shown = card
        action = find_action(shown, dialog_id)
        status, body = self._send(channel_activity(self.fake, user, name, kind="invoke", thread=message_id,
                                                   replyToId=message_id, name="task/fetch",
                                                   value={"data": action["data"]}))
        assert status == 200, (status, body)
        return body["task"]

    def channel_submit(self, user: str, name: str, task: dict[str, Any], values: dict[str, str]) -> Any:
        [submit] = [a for a in actions(task["value"]["card"]["content"]) if a["type"] == "Action.Submit"]
        status, body = self._send(channel_activity(self.fake, user, name, kind="invoke", name="task/submit",
                                                   value={"data": {**submit["data"], **values}}))
        assert status == 200, (status, body)
        return body["task"]

    def mention(self, user: str, name: str, text: str) -> int:
        status, _ = self._send(channel_activity(
            self.fake, user, name, text=f"<at>canishare</at> {text}",
            entities=[{"type": "mention", "text": "<at>canishare</at>",
                       "mentioned": {"id": f"28:{CLIENT_ID}", "name": "canishare"}}]))
        return status


def start_teams(fake: FakeTeamsService, bundle: FlowBundle, db: Path, clock: Clock, **settings: Any) -> TeamsApp:
    """The real Teams bot over HTTP on 127.0.0.1, wired by the composition root as in production,
    with the fake's token function in place of Entra sign-in."""
    config_settings = settings_for(fake, db, **settings)
    services = Services(config_settings, clock, storage=Storage(db, clock), teams_token=fake.mint_outbound)
    services.__dict__["bundle"] = bundle
    config = teams_config(config_settings)
    bot = build_bot(services, config)
    server = BackgroundServer(config, bot.register, token=fake.mint_outbound,
                              readiness=services.readiness, metrics=services.metrics()).start()
    return TeamsApp(fake, server, bot, services)
