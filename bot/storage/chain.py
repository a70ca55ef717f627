"""The decision log's hash chain, as pure functions: each row's hash covers its id (so a deleted
or reordered row shows) and every recorded field, chained to the row before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "id", "created_at", "channel", "user_id", "conversation_id", "flow_id", "flow_version",
    "guidance_edition", "jurisdiction", "answers", "outcome_id", "verdict", "consent_position",
    "rules", "gateways", "dsl_alert", "decision", "what", "with_whom", "purpose", "reasons",
    "case_reference",
)


def chain_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    content = json.dumps([row.get(k) for k in CHAINED_FIELDS], separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{content}".encode()).hexdigest()


def first_break(rows: Iterable[Mapping[str, Any]], expected: str, previous_id: int) -> tuple[int, str | None]:
    """Walk rows in id order from an anchor. Returns (rows checked, first problem or None)."""
    count = 0
    for row in rows:
        count += 1
        if chain_hash(row["prev_hash"] or "", row) != row["row_hash"]:
            return count, f"row {row['id']}: its content was changed after it was logged"
        if row["prev_hash"] != expected or row["id"] != previous_id + 1:
            return count, (f"row {row['id']}: does not follow row {previous_id} (a row was "
                           "deleted or rows were reordered)")
        expected, previous_id = row["row_hash"], row["id"]
    return count, None
