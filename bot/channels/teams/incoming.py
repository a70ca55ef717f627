"""What canishare needs from one Teams activity, read once from teams.py's model so the chat and
desk code below never touch the SDK's types (and can be tested with plain values)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

_MENTION = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Incoming:
    """One authenticated activity. `user` is the clicker's Entra object id (`aadObjectId`)."""

    type: str  # message, invoke, conversationUpdate, installationUpdate
    activity_id: str
    user: str
    user_id: str = ""  # the 29:... id
    user_name: str = ""
    conversation_id: str = ""
    conversation_type: str = "personal"  # personal, channel or groupChat
    service_url: str = ""
    reply_to_id: str = ""  # the message whose card was clicked
    team_id: str = ""
    team_name: str = ""
    name: str = ""  # an invoke's name: adaptiveCard/action, task/fetch, task/submit, fileConsent/invoke
    verb: str = ""
    text: str = ""  # a message's text, mentions of the bot removed
    data: dict[str, Any] = field(default_factory=dict)  # a card action's or dialog's data
    value: Any = None  # the invoke's value as teams.py parsed it (file consent)
    action: str = ""  # installationUpdate: add / remove
    tenant_id: str = ""  # the Entra tenant the activity comes from (conversation, or channelData)

    @property
    def personal(self) -> bool:
        return (self.conversation_type or "personal") == "personal"

    @property
    def dialog_id(self) -> str:
        return str(self.data.get("dialog_id") or "")

    @property
    def submitted(self) -> str:
        """What a dialog's Submit button says to do (`action` in its data)."""
        return str(self.data.get("action") or "")


def message_text(raw: str | None) -> str:
    """Typed text without the bot's @mention or Teams' markup (`<at>canishare</at>&nbsp;export`)."""
    text = _MENTION.sub(" ", raw or "")
    text = _TAG.sub(" ", text)
    return " ".join(html.unescape(text).split())


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def from_activity(activity: Any) -> Incoming:
    """Read a teams.py activity (after the SDK validated its token)."""
    sender = activity.from_
    conversation = activity.conversation
    channel_data = getattr(activity, "channel_data", None)
    team = getattr(channel_data, "team", None) if channel_data is not None else None
    value = getattr(activity, "value", None)
    name = str(getattr(activity, "name", "") or "")
    data: dict[str, Any] = {}
    verb = ""
    if name == "adaptiveCard/action" and value is not None:
        action = getattr(value, "action", None)
        verb = str(getattr(action, "verb", "") or "")
        data = _dict(getattr(action, "data", None))
    elif name in ("task/fetch", "task/submit") and value is not None:
        data = _dict(getattr(value, "data", None))
    return Incoming(
        type=str(activity.type), activity_id=str(activity.id or ""),
        user=str(sender.aad_object_id or ""), user_id=str(sender.id or ""), user_name=str(sender.name or ""),
        conversation_id=str(conversation.id or ""),
        conversation_type=str(conversation.conversation_type or "personal"),
        service_url=str(activity.service_url or ""),
        reply_to_id=str(getattr(activity, "reply_to_id", "") or ""),
        team_id=str(getattr(team, "id", "") or ""), team_name=str(getattr(team, "name", "") or ""),
        name=name, verb=verb or str(data.get("action") or ""),
        text=message_text(getattr(activity, "text", "")) if activity.type == "message" else "",
        data=data, value=value, action=str(getattr(activity, "action", "") or ""),
        tenant_id=_tenant(conversation, channel_data))


def _tenant(conversation: Any, channel_data: Any) -> str:
    tenant = getattr(conversation, "tenant_id", None)
    if not tenant and channel_data is not None:
        tenant = getattr(getattr(channel_data, "tenant", None), "id", None)
    return str(tenant or "")
