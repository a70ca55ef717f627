"""Conversation state (where each person is in a check) and remembered profiles."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from bot.core.clock import Clock, iso
from bot.storage.database import insert_ignore, upsert
from bot.storage.models import ConflictError, ConversationRow
from bot.storage.schema import contacts, conversations, profiles

c = conversations.c


def precise(moment: datetime) -> str:
    """Microseconds, so "the latest check" is well defined when two start in one second."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class ConversationStore:
    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def load(self, channel: str, user_id: str, conversation_id: str) -> ConversationRow | None:
        row = self.conn.execute(select(conversations).where(
            c.channel == channel, c.user_id == user_id, c.conversation_id == conversation_id)
        ).mappings().first()
        if row is None:
            return None
        return ConversationRow(**{**row, "state": json.loads(row["state"])})

    def save(self, channel: str, user_id: str, conversation_id: str, state: dict[str, Any],
             expected_version: int, status: str = "active") -> int:
        """Write `state` if the stored version is still `expected_version` (0: a new row).
        Returns the new version; raises `ConflictError` when someone got there first."""
        payload, now = json.dumps(state, sort_keys=True), precise(self.clock.now())
        if expected_version == 0:
            done = insert_ignore(self.conn, conversations, {
                "channel": channel, "user_id": user_id, "conversation_id": conversation_id,
                "state": payload, "version": 1, "status": status, "updated_at": now})
        else:
            done = self.conn.execute(conversations.update().where(
                c.channel == channel, c.user_id == user_id, c.conversation_id == conversation_id,
                c.version == expected_version,
            ).values(state=payload, version=c.version + 1, status=status, updated_at=now)).rowcount == 1
        if not done:
            raise ConflictError(f"conversation {conversation_id} changed (expected version "
                                f"{expected_version})")
        return expected_version + 1

    def set_status(self, channel: str, user_id: str, conversation_id: str, status: str) -> None:
        self.conn.execute(conversations.update().where(
            c.channel == channel, c.user_id == user_id, c.conversation_id == conversation_id,
        ).values(status=status, version=c.version + 1, updated_at=precise(self.clock.now())))

    def latest(self, channel: str, user_id: str, status: str = "active") -> ConversationRow | None:
        row = self.conn.execute(
            select(c.conversation_id).where(and_(c.channel == channel, c.user_id == user_id,
                                                 c.status == status))
            .order_by(c.updated_at.desc()).limit(1)).first()
        return self.load(channel, user_id, row[0]) if row else None


class ProfileStore:
    """Answers a person gave to profile questions (nation, organisation type...), per channel."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def load(self, channel: str, user_id: str) -> dict[str, str]:
        row = self.conn.execute(select(profiles.c.answers).where(
            profiles.c.channel == channel, profiles.c.user_id == user_id)).first()
        return json.loads(row[0]) if row else {}

    def save(self, channel: str, user_id: str, answers: dict[str, str]) -> None:
        upsert(self.conn, profiles, {
            "channel": channel, "user_id": user_id, "answers": json.dumps(answers, sort_keys=True),
            "updated_at": iso(self.clock.now())}, keys=["channel", "user_id"])


class ContactStore:
    """Where to reach someone in a channel, for messages they did not ask for just now (a
    requester told their escalation was claimed): Teams needs the personal conversation id and
    service URL seen at first contact. Ids and URLs only."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def load(self, channel: str, user_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(select(contacts.c.address).where(
            contacts.c.channel == channel, contacts.c.user_id == user_id)).first()
        return json.loads(row[0]) if row else None

    def save(self, channel: str, user_id: str, address: dict[str, Any]) -> None:
        upsert(self.conn, contacts, {
            "channel": channel, "user_id": user_id, "address": json.dumps(address, sort_keys=True),
            "updated_at": iso(self.clock.now())}, keys=["channel", "user_id"])
