"""The record form (golden rule 7), once for every channel: its fields, labels, limits and checks.

Slack's modal, the Teams dialog and the terminal all render these fields and send what people
typed to `parse_record`, so a limit or a label can never differ between channels, and every
error names the field it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from pydantic import BaseModel

from bot.core.privacy import Finding, normalise, scan
from bot.storage.models import DecisionChoice

DECISIONS: tuple[tuple[str, str], ...] = (
    ("shared", "Shared"), ("not_shared", "Not shared"), ("deferred", "Deferred"))
assert tuple(d for d, _ in DECISIONS) == get_args(DecisionChoice)


@dataclass(frozen=True)
class RecordField:
    id: str
    label: str
    hint: str
    max_length: int
    required: bool = True
    multiline: bool = True
    prompt: str = ""  # the terminal's shorter prompt


RECORD_FIELDS: tuple[RecordField, ...] = (
    RecordField("what", "What information", "In general terms, e.g. 'summary of concerns about "
                "neglect'", 1000, prompt="What information (in general terms, no names)"),
    RecordField("with_whom", "With whom (role and agency, no names)", "e.g. 'duty social worker, children's "
                "social care'. Names go in your organisation's own case record", 300, required=False,
                multiline=False,
                prompt="With whom (role and agency, e.g. 'social worker, children's social care'; "
                       "names go in your own case record)"),
    RecordField("purpose", "Purpose", "e.g. 'child protection referral'", 1000, required=False,
                prompt="Purpose of sharing"),
    RecordField("reasons", "Reasons for your decision", "Why you shared or did not", 2000,
                prompt="Reasons for your decision"),
    RecordField("case_reference", "Case reference (optional)", "Your case system's reference, "
                "not a name or NHS number", 60, required=False, multiline=False,
                prompt="Case reference (optional, your system's reference; Enter to skip)"),
)
FREE_TEXT_FIELDS = tuple(f.id for f in RECORD_FIELDS)
FIELDS_BY_ID = {f.id: f for f in RECORD_FIELDS}
NOTE_MAX_LENGTH = 500  # a DSL's closing note on an escalation

def clean(text: str) -> str:
    """Typed text as it is stored: normalised (NFKC; no control, zero-width or bidi-override
    characters, which could make stored text read differently from what was typed), trimmed."""
    return normalise(text).strip()


class RecordForm(BaseModel):
    """A valid record, cleaned. Build it with `parse_record`, which explains what is wrong."""

    decision: DecisionChoice
    what: str = ""
    with_whom: str = ""
    purpose: str = ""
    reasons: str = ""
    case_reference: str = ""

    def identifier_findings(self) -> dict[str, list[Finding]]:
        found = {name: scan(getattr(self, name)) for name in FREE_TEXT_FIELDS}
        return {name: items for name, items in found.items() if items}


class RecordErrors(Exception):
    """What is wrong with a submitted record, by field id (shown next to that field)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def parse_record(values: dict[str, str | None], *, require_text: bool = True) -> RecordForm:
    """Check what a person typed: the decision, each field's length and required fields.
    Raises `RecordErrors` naming each field at fault; identifiers are checked separately
    (`RecordForm.identifier_findings`) so a channel can offer an edit."""
    errors: dict[str, str] = {}
    decision = (values.get("decision") or "").strip()
    if decision not in FIELDS_DECISIONS:
        errors["decision"] = "Choose shared, not shared or deferred."
    cleaned: dict[str, str] = {}
    for field in RECORD_FIELDS:
        text = clean(values.get(field.id) or "")
        if not field.multiline:
            text = " ".join(text.split())
        if len(text) > field.max_length:
            errors[field.id] = (f"Too long: {len(text)} characters, the limit is "
                                f"{field.max_length}. Keep it short and general.")
        elif field.required and require_text and not text:
            errors[field.id] = "Please fill this in (in general terms, no names)."
        cleaned[field.id] = text
    if errors:
        raise RecordErrors(errors)
    return RecordForm(decision=decision, **cleaned)  # type: ignore[arg-type]


FIELDS_DECISIONS = {d for d, _ in DECISIONS}


def parse_note(text: str | None) -> str:
    """A DSL's closing note: cleaned, required, at most NOTE_MAX_LENGTH characters."""
    note = clean(text or "")
    if not note:
        raise RecordErrors({"note": "Please write a short closing note."})
    if len(note) > NOTE_MAX_LENGTH:
        raise RecordErrors({"note": f"Too long: {len(note)} characters, the limit is {NOTE_MAX_LENGTH}."})
    return note
