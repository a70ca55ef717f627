"""The fake Bot Connector answers what teams.py 2.1 really sends, and fails as the service does.

Driven through the SDK's own `ApiClient`, so these tests also pin down what the SDK does on a
failure (it raises on the first 429 or 5xx and never retries: retrying is ours, in the outbox)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import httpx
import pytest
from microsoft_teams.api import Account, MessageActivityInput
from microsoft_teams.api.clients.conversation.params import CreateConversationParams

from bot.channels.teams.server import build_app, card_message
from tests.fakes.teams_service import DSL_TEAM_ID, TENANT_ID, FakeTeamsService, Member, new_user_id
from tests.teams_harness import config_for


@pytest.fixture(scope="module")
def fake():
    service = FakeTeamsService().start()
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def fresh(fake):
    fake.reset()


def api_for(fake: FakeTeamsService):
    app = build_app(config_for(fake), token=fake.mint_outbound)
    return app.api.clone(service_url=fake.service_url)


def run(coro):
    return asyncio.run(coro)


def test_send_update_reply_and_delete_are_recorded_and_take_effect(fake):
    async def scenario():
        api = api_for(fake)
        sent = await api.conversations.create_activity("19:chan@thread.tacv2", card_message({"v": 1}, "first"))
        await api.conversations.update_activity("19:chan@thread.tacv2", sent.id, card_message({"v": 2}))
        await api.conversations.create_activity(f"19:chan@thread.tacv2;messageid={sent.id}",
                                                MessageActivityInput(text="a thread reply"))
        return sent.id

    activity_id = run(scenario())
    assert [(c.method, c.status) for c in fake.outbound] == [("POST", 201), ("PUT", 200), ("POST", 201)]
    assert all(c.authorization.startswith("Bearer ") for c in fake.outbound)
    [card, reply] = fake.activities_in("19:chan@thread.tacv2")
    assert card["id"] == activity_id and card["attachments"][0]["content"] == {"v": 2}
    assert fake.outbound[0].body["summary"] == "first"  # what a notification preview shows
    assert reply["text"] == "a thread reply"
    run(api_for(fake).conversations.delete_activity("19:chan@thread.tacv2", activity_id))
    assert [a["id"] for a in fake.activities_in("19:chan@thread.tacv2")] == [reply["id"]]


def test_the_roster_lists_team_members_and_refuses_a_stranger(fake):
    dsl = Member(new_user_id(), "Dee Lead")
    fake.add_team(DSL_TEAM_ID, [dsl])

    async def scenario():
        api = api_for(fake)
        members = await api.conversations.get_members(DSL_TEAM_ID)
        one = await api.conversations.get_member_by_id(DSL_TEAM_ID, dsl.aad_object_id)
        with pytest.raises(httpx.HTTPStatusError) as info:
            await api.conversations.get_member_by_id(DSL_TEAM_ID, new_user_id())
        return members, one, info.value.response

    members, one, refused = run(scenario())
    assert [m.aad_object_id for m in members] == [dsl.aad_object_id] and one.name == "Dee Lead"
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "MemberNotFoundInConversation"


def test_a_personal_chat_needs_the_app_installed_for_that_person(fake):
    stranger, colleague = new_user_id(), new_user_id()
    fake.install_for(colleague)

    def create(user: str):
        params = CreateConversationParams(members=[Account(id=f"29:{user}", aad_object_id=user)],
                                          tenant_id=TENANT_ID, is_group=False)
        return run(api_for(fake).conversations.create(params))

    assert create(colleague).id == f"a:personal-{colleague}"
    with pytest.raises(httpx.HTTPStatusError) as info:
        create(stranger)
    assert info.value.response.status_code == 403
    assert info.value.response.json()["error"]["code"] == "MemberNotFoundInConversation"


@pytest.mark.parametrize("status", [429, 500, 412, 502, 504])
def test_the_sdk_raises_on_the_first_failure_and_does_not_retry(fake, status):
    fake.fail("POST", r"/activities$", status, retry_after=7 if status == 429 else None)

    async def scenario():
        api = api_for(fake)
        with pytest.raises(httpx.HTTPStatusError) as info:
            await api.conversations.create_activity("a:chat", MessageActivityInput(text="hi"))
        calls_after_failure = len(fake.outbound)
        await api.conversations.create_activity("a:chat", MessageActivityInput(text="hi"))
        return info.value.response, calls_after_failure

    response, calls_after_failure = run(scenario())
    assert response.status_code == status
    if status == 429:
        assert response.headers["Retry-After"] == "7"
    assert calls_after_failure == 1  # no retry by the SDK
    assert len(fake.activities_in("a:chat")) == 1  # the failure was for one call only


def test_a_lost_response_means_the_post_happened_but_the_bot_cannot_know(fake):
    fake.fail("POST", r"/activities$", 200, lost=True)
    with pytest.raises(httpx.TransportError):
        run(api_for(fake).conversations.create_activity("a:chat", MessageActivityInput(text="hi")))
    assert [a["text"] for a in fake.activities_in("a:chat")] == ["hi"]


def test_the_connector_refuses_a_call_without_its_token(fake):
    request = urllib.request.Request(fake.service_url + "v3/conversations/a:chat/activities",
                                     data=json.dumps({"type": "message"}).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer " + fake.mint()})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401 and fake.activities_in("a:chat") == []
