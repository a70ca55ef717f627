"""The records the stores read and write, as typed models (not rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

DecisionChoice = Literal["shared", "not_shared", "deferred"]


class ConflictError(Exception):
    """Compare-and-set lost: someone else (a double click, a retry) changed the row first."""


class DuplicateDecision(Exception):
    """This check already has a decision in the log (the database refuses a second one)."""

    def __init__(self, decision_id: int):
        self.decision_id = decision_id
        super().__init__(f"already recorded as decision #{decision_id}")


class Decision(BaseModel):
    """One logged decision: ids and enums about the check, plus what the person recorded.
    No child's name or identifier: free text is scanned before it reaches this model."""

    created_at: datetime
    channel: str
    user_id: str
    conversation_id: str = ""
    flow_id: str
    flow_version: str
    guidance_edition: str
    jurisdiction: str = ""
    answers: dict[str, str | list[str]]
    outcome_id: str
    verdict: str
    consent_position: str
    rules: list[str]
    gateways: list[str]
    dsl_alert: str
    secondary: list[dict[str, str]] = Field(default_factory=list)
    # Guidance edition 3 (T6): the date the law was applied at (ISO) and the commencement settings
    # used (`provision id -> ISO date`).
    law_as_at: str | None = None
    commencements: dict[str, str] = Field(default_factory=dict)
    decision: DecisionChoice
    what: str = ""
    with_whom: str = ""
    purpose: str = ""
    reasons: str = ""
    case_reference: str = ""


class ConversationRow(BaseModel):
    channel: str
    user_id: str
    conversation_id: str
    state: dict[str, Any]
    version: int
    status: str
    updated_at: str
