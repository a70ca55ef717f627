"""Tamper evidence, as pure functions: keyed hash chains over the decision log and the audit
trail, a MAC on each escalation, signed purge anchors and signed checkpoints.

Each chained row's hash covers its id (so a deleted or reordered row shows), every recorded
field and the hash of the row before it, keyed with HMAC-SHA256: without the key (which lives in
the environment, never in the database) nobody can rewrite a row and recompute the chain, append
a forged row or make a purge anchor. Rows written before the keyed chain existed (or with no key
configured) use plain SHA-256 and are reported as such. A checkpoint (heads, counts, time),
published outside the database in the weekly post and every export, shows later that nothing
that existed then was removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
LEGACY_FIELDS = (
    "id", "created_at", "channel", "user_id", "conversation_id", "flow_id", "flow_version",
    "guidance_edition", "jurisdiction", "answers", "outcome_id", "verdict", "consent_position",
    "rules", "gateways", "dsl_alert", "decision", "what", "with_whom", "purpose", "reasons",
    "case_reference",
)
DECISION_FIELDS = (*LEGACY_FIELDS, "secondary", "key_id")
# Schema 5 (guidance edition 3, T6): the date the law was applied at and the commencement settings
# used. Rows logged before carry NULL there and keep their own field list, so they still verify.
LAW_FIELDS = (*DECISION_FIELDS, "law_as_at", "commencements")
AUDIT_FIELDS = ("id", "at", "actor", "action", "target", "detail", "key_id")
ESCALATION_FIELDS = (
    "id", "created_at", "channel", "requester", "conversation_id", "kind", "urgency", "flow_id",
    "outcome_id", "verdict", "secondary", "rules", "gateways", "answers", "case_reference", "status",
    "claimed_by", "claimed_at", "resolved_by", "resolved_at", "resolution_note", "more_info_by",
    "more_info_at", "version", "key_id",
)
# Schema 5 (edition 3): how soon, the requester's own duties and the law's date, sealed with the
# rest; escalations made before carry NULL there and keep the older field list.
ESCALATION_LAW_FIELDS = (*ESCALATION_FIELDS, "how_soon", "personal_duties", "law_as_at")


def escalation_fields(row: Mapping[str, Any]) -> tuple[str, ...]:
    return ESCALATION_LAW_FIELDS if row.get("law_as_at") is not None else ESCALATION_FIELDS


CHECKPOINT = re.compile(r"canishare-checkpoint v1 [^\s\"',;]+(?: [^\s\"',;]+)*")


# --- keys -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    kid: str
    secret: bytes

    @classmethod
    def parse(cls, text: str) -> Key:
        """`kid:secret` or a bare secret (at least 32 characters; its id is derived from it)."""
        text = text.strip()
        kid, sep, secret = text.partition(":")
        if not sep:
            kid, secret = "", text
        if len(secret) < 32:
            raise ValueError("a log key needs at least 32 characters (e.g. `openssl rand -base64 32`)")
        if kid and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", kid):
            raise ValueError("a key id may hold only letters, digits, - and _ (at most 32)")
        kid = kid or hashlib.sha256(secret.encode()).hexdigest()[:8]
        return cls(kid, secret.encode())

    @classmethod
    def generate(cls) -> str:
        return f"k{secrets.token_hex(3)}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


@dataclass(frozen=True)
class Keyring:
    """The key new rows are chained with, and older keys kept to verify rows made before a
    rotation. No key: rows are chained with plain SHA-256 (evidence of accidents, not of tampering)."""

    current: Key | None = None
    old: tuple[Key, ...] = ()

    def get(self, kid: str | None) -> Key | None:
        if not kid:
            return None
        return next((k for k in (self.current, *self.old) if k and k.kid == kid), None)

    @property
    def kid(self) -> str | None:
        return self.current.kid if self.current else None


NO_KEYS = Keyring()


# --- hashing --------------------------------------------------------------------------------
def _content(row: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    return json.dumps([row.get(k) for k in fields], separators=(",", ":"), ensure_ascii=False)


def link_hash(prev: str, row: Mapping[str, Any], fields: tuple[str, ...], key: Key | None) -> str:
    message = f"{prev}|{_content(row, fields)}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


def decision_fields(row: Mapping[str, Any]) -> tuple[str, ...]:
    if row.get("law_as_at") is not None:
        return LAW_FIELDS
    return DECISION_FIELDS if row.get("key_id") or row.get("secondary") is not None else LEGACY_FIELDS


def mac(key: Key | None, fields: tuple[str, ...], row: Mapping[str, Any]) -> str:
    return link_hash("", row, fields, key)


def sign(key: Key | None, text: str) -> str:
    if key is None:
        return ""
    return hmac.new(key.secret, text.encode(), hashlib.sha256).hexdigest()[:32]


def signed(key: Key | None, text: str, signature: str | None) -> bool:
    return key is not None and bool(signature) and hmac.compare_digest(sign(key, text), signature or "")


# --- walking a chain ----------------------------------------------------------------------------
@dataclass
class Walk:
    """What walking one chain found."""

    name: str
    checked: int = 0
    keyed: int = 0
    unkeyed: int = 0
    unverifiable: int = 0  # keyed with a key we do not have: only the links could be checked
    last_id: int = 0
    last_hash: str = ""
    problems: list[str] = field(default_factory=list)


def walk(name: str, rows: Iterable[Mapping[str, Any]], keyring: Keyring, start_hash: str, start_id: int,
         fields_for: Any) -> Walk:
    """Check every row of a chain in id order from (start_hash, start_id). Stops at the first
    problem, which names the row. With a log key set, every row must be keyed with a key held
    here: an unkeyed row, or one naming a key we do not have, is exactly what a forger without
    the key would write. Without a key only the links can be checked."""
    result = Walk(name, last_id=start_id, last_hash=start_hash)
    expected, previous_id = start_hash, start_id
    strict = keyring.current is not None
    for row in rows:
        result.checked += 1
        kid = row.get("key_id")
        if row["prev_hash"] != expected or row["id"] != previous_id + 1:
            result.problems.append(f"{name} row {row['id']}: does not follow row {previous_id} (a row was "
                                   "deleted, inserted or rows were reordered)")
            return result
        key = keyring.get(kid)
        if strict and not kid:
            result.problems.append(f"{name} row {row['id']}: not keyed (every row is chained with the log "
                                   "key: written outside canishare?)")
            return result
        if strict and key is None:
            result.problems.append(f"{name} row {row['id']}: made with log key {kid!r}, which is not set "
                                   "here (a retired key belongs in CANISHARE_LOG_OLD_KEYS)")
            return result
        if kid and key is None:
            result.unverifiable += 1
        elif link_hash(row["prev_hash"], row, fields_for(row), key) != row["row_hash"]:
            what = ("changed after it was logged, or not written by canishare (its keyed hash does not "
                    "match)") if key else "its content was changed after it was logged"
            result.problems.append(f"{name} row {row['id']}: {what}")
            return result
        elif key:
            result.keyed += 1
        else:
            result.unkeyed += 1
        expected, previous_id = row["row_hash"], row["id"]
    result.last_id, result.last_hash = previous_id, expected
    return result


# --- anchors and checkpoints ----------------------------------------------------------------------
def anchor_text(table: str, purged_through: int, last_hash: str, at: str) -> str:
    return f"anchor {table} {purged_through} {last_hash} {at}"


@dataclass(frozen=True)
class Checkpoint:
    at: str
    decisions_id: int
    decisions_hash: str
    audit_id: int
    audit_hash: str
    kid: str
    signature: str

    def body(self) -> str:
        return (f"canishare-checkpoint v1 at={self.at} decisions={self.decisions_id}:{self.decisions_hash} "
                f"audit={self.audit_id}:{self.audit_hash} key={self.kid or '-'}")

    def text(self) -> str:
        return f"{self.body()} sig={self.signature or '-'}"

    @classmethod
    def make(cls, key: Key | None, at: str, decisions: tuple[int, str], audit: tuple[int, str]) -> Checkpoint:
        unsigned = cls(at, decisions[0], decisions[1][:32], audit[0], audit[1][:32],
                       key.kid if key else "", "")
        return cls(**{**unsigned.__dict__, "signature": sign(key, unsigned.body())})

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        match = CHECKPOINT.search(text)
        if not match:
            raise ValueError("no canishare checkpoint in it")
        parts = dict(p.split("=", 1) for p in match.group(0).split()[2:] if "=" in p)
        try:
            d_id, d_hash = parts["decisions"].split(":")
            a_id, a_hash = parts["audit"].split(":")
            return cls(parts["at"], int(d_id), d_hash, int(a_id), a_hash,
                       "" if parts["key"] == "-" else parts["key"],
                       "" if parts.get("sig", "-") == "-" else parts["sig"])
        except (KeyError, ValueError):
            raise ValueError("a canishare checkpoint, but not a whole one") from None


def checkpoints_in(text: str) -> Iterator[str]:
    yield from (m.group(0) for m in CHECKPOINT.finditer(text))
