"""Who is who in Teams, and how to reach them, remembered from the activities Teams sends.

A proactive message (a requester told their escalation was claimed, a deputy reminded) needs the
person's personal conversation id and the service URL Teams gave with it; a mention needs a
display name. Both arrive with every authenticated activity, so they are stored at first contact
(`contacts` table, channel "teams", keyed by Entra object id; the DSL team under "team:<id>").
Ids, URLs and display names only: nothing about any case.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from bot.storage import Storage

CHANNEL = "teams"


@dataclass(frozen=True)
class Contact:
    """A person as canishare knows them in Teams."""

    aad_object_id: str
    user_id: str = ""  # the 29:... id Teams uses in conversations
    name: str = ""
    conversation_id: str = ""  # their personal chat with the bot, once seen
    service_url: str = ""


@dataclass(frozen=True)
class TeamAddress:
    team_id: str
    service_url: str
    name: str = ""


def _contact(aad_object_id: str, data: dict[str, Any]) -> Contact:
    fields = {k: str(v) for k, v in data.items() if k in Contact.__dataclass_fields__ and v}
    return Contact(**{**fields, "aad_object_id": aad_object_id})


class ContactBook:
    """Reads and writes `tx.contacts`; remembers what it last wrote, so an activity from someone
    already known costs no database write."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self._written: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _save(self, key: str, merge: dict[str, Any]) -> None:
        merge = {k: v for k, v in merge.items() if v}
        with self._lock:
            known = self._written.get(key)
        if known is not None and all(known.get(k) == v for k, v in merge.items()):
            return
        with self.storage.transaction() as tx:
            stored = tx.contacts.load(CHANNEL, key) or {}
            merged = {**stored, **merge}
            if merged != stored:
                tx.contacts.save(CHANNEL, key, merged)
        with self._lock:
            self._written[key] = merged

    def _load(self, key: str) -> dict[str, Any] | None:
        with self.storage.read() as tx:
            return tx.contacts.load(CHANNEL, key)

    # --- people -------------------------------------------------------------------------------
    def remember(self, contact: Contact) -> None:
        """Merge what this activity says about someone (a channel activity has no personal chat)."""
        data = asdict(contact)
        self._save(data.pop("aad_object_id"), data)

    def person(self, aad_object_id: str) -> Contact | None:
        data = self._load(aad_object_id)
        return _contact(aad_object_id, data) if data else None

    def names(self, aad_object_ids: set[str]) -> dict[str, str]:
        """Display names of those canishare has seen (others are mentioned as "a colleague")."""
        found = {}
        for aad in aad_object_ids:
            contact = self.person(aad)
            if contact and contact.name:
                found[aad] = contact.name
        return found

    # --- teams --------------------------------------------------------------------------------
    def remember_team(self, team: TeamAddress) -> None:
        self._save(f"team:{team.team_id}", {"service_url": team.service_url, "name": team.name})

    def team(self, team_id: str) -> TeamAddress | None:
        data = self._load(f"team:{team_id}")
        if not data or not data.get("service_url"):
            return None
        return TeamAddress(team_id, str(data["service_url"]), str(data.get("name") or ""))

    # --- small durable notes for the notifier (an export's progress) -------------------------------
    def progress(self, key: str) -> list[str]:
        data = self._load(f"progress:{key}") or {}
        return list(data.get("done") or [])

    def mark_done(self, key: str, step: str) -> None:
        with self.storage.transaction() as tx:
            data = tx.contacts.load(CHANNEL, f"progress:{key}") or {}
            done = list(data.get("done") or [])
            if step not in done:
                tx.contacts.save(CHANNEL, f"progress:{key}", {"done": [*done, step]})
