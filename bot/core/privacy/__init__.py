"""Spot text that identifies a person, before it is saved or shared.

The decision log must not become a second case file (design INV12): it is kept for years,
exported and shown to DSLs, so every free-text field is scanned. The guard favours catching
identifiers over quiet: a false alarm costs one edit, a miss puts a child's details in the log.

    normalise(text)            clean typed text (NFKC, no zero-width or control characters)
    scan(text)                 findings, with offsets in normalise(text); every pattern is RE2 (linear
                               time) and the text is read as normalise.for_matching folds it
    mask(finding)              "an NHS number ending 919": never the identifier itself
    describe(findings)         a one-line warning built from the masks
    suggest_edit(text)         the text with each whole identifier replaced by a placeholder
"""

from __future__ import annotations

from dataclasses import dataclass

import bot.core.privacy.linear as linear
from bot.core.privacy.jigsaw import jigsaws
from bot.core.privacy.names import names
from bot.core.privacy.normalise import for_matching, is_dropped, normalise
from bot.core.privacy.structured import DETECTORS, nhs_check

__all__ = [
    "KIND_LABELS", "MAX_TEXT_CHARS", "MESSAGE_LIMIT", "PLACEHOLDERS", "TOO_LONG_TO_CHECK", "Finding",
    "TextTooLong",
    "check_length", "describe", "mask", "nhs_number_valid", "normalise", "scan", "suggest_edit",
]

# The longest text any entry point passes to the guard (Slack's own limit for a message); `scan`
# refuses longer text, so that no caller can make it slow.
MAX_TEXT_CHARS = 40_000
# The longest message a channel scans: as long as the longest record field. Nobody needs to type
# more to the bot (the check is answered with buttons), so a longer message is answered with a
# warning and never scanned: one person's paste cannot hold up anyone else's answer.
MESSAGE_LIMIT = 2000
TOO_LONG_TO_CHECK = (f"That message is too long to check (more than {MESSAGE_LIMIT:,} characters). "
                     "Please don't paste notes here: just use the buttons.")


class TextTooLong(ValueError):
    """Text longer than MAX_TEXT_CHARS reached the guard: the entry point should have refused it."""


def check_length(text: str, limit: int = MAX_TEXT_CHARS) -> None:
    if len(text) > limit:
        raise TextTooLong(f"{len(text)} characters, more than {limit}")

KIND_LABELS: dict[str, str] = {
    "name": "a person's name",
    "nhs_number": "an NHS number",
    "date_of_birth": "a date of birth",
    "postcode": "a postcode",
    "phone": "a phone number",
    "email": "an email address",
    "address": "a street address",
    "upn": "a unique pupil number",
    "ni_number": "a National Insurance number",
    "handle": "a social media handle",
    "vehicle_registration": "a vehicle registration",
    "jigsaw": "details that may identify a child together (school and class)",
}
PLACEHOLDERS: dict[str, str] = {
    "name": "[name]",
    "nhs_number": "[NHS number]",
    "date_of_birth": "[date of birth]",
    "postcode": "[postcode]",
    "phone": "[phone]",
    "email": "[email]",
    "address": "[address]",
    "upn": "[pupil number]",
    "ni_number": "[NI number]",
    "handle": "[handle]",
    "vehicle_registration": "[vehicle reg]",
    "jigsaw": "[class and school]",
}
# Kinds whose last few characters can be shown to help a person find the identifier in their
# text: too few to identify anyone.
SHOW_ENDING = {"nhs_number": 3, "phone": 3, "upn": 3}
NAME_WORDS = linear.compile(r"[\pL\pM\pN_]+(?:['’-][\pL\pM\pN_]+)*")
NOT_CODE = linear.compile(r"[^0-9A-Za-z]+")


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str
    start: int
    end: int

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


def nhs_number_valid(digits: str) -> bool:
    """The NHS number's modulus-11 check digit (python-stdnum)."""
    return nhs_check(digits)


def scan(text: str) -> list[Finding]:
    """Every identifier in `text`, in the order they appear; offsets are in `normalise(text)`.
    An empty list means nothing was found."""
    check_length(text)
    clean = normalise(text)
    folded = for_matching(clean)
    found: list[tuple[int, int, int, str]] = []
    for trust, detector in enumerate((*DETECTORS, names, jigsaws)):
        for kind, start, end in detector(folded.text):
            start, end = folded.source_span(start, end)
            while end < len(clean) and is_dropped(clean[end]):
                end += 1  # a keycap's marks after its digit belong to it
            found.append((start, end, trust, kind))
    return [Finding(kind, clean[start:end], start, end) for kind, start, end in _merged(found)]


def _merged(found: list[tuple[int, int, int, str]]) -> list[tuple[str, int, int]]:
    """Overlapping findings become one, over both extents, so that the whole identifier is masked;
    it keeps the kind of the most trusted detector (the earliest in DETECTORS). One sort and one
    sweep: a text with thousands of findings costs no more than its length."""
    merged: list[tuple[str, int, int]] = []
    best_trust = 0
    for start, end, trust, kind in sorted(found):
        if merged and start < merged[-1][2]:
            last_kind, last_start, last_end = merged[-1]
            if trust < best_trust:
                last_kind, best_trust = kind, trust
            merged[-1] = (last_kind, last_start, max(last_end, end))
        else:
            merged.append((kind, start, end))
            best_trust = trust
    return merged


def mask(finding: Finding) -> str:
    """What the warning may say about a finding: its kind and a masked form, never the identifier."""
    label = KIND_LABELS.get(finding.kind, "an identifier")
    if finding.kind == "name":
        words = len(NAME_WORDS.findall(finding.text))
        return f"{label} ({words} word{'s' if words != 1 else ''})"
    shown = SHOW_ENDING.get(finding.kind)
    if shown:
        tail = NOT_CODE.sub("", for_matching(finding.text).text)[-shown:]
        return f"{label} ending {tail}"
    return label


def describe(findings: list[Finding]) -> str:
    """A one-line warning, e.g. "a person's name (2 words); an NHS number ending 919"."""
    seen: list[str] = []
    for finding in findings:
        masked = mask(finding)
        if masked not in seen:
            seen.append(masked)
    return "; ".join(seen)


def suggest_edit(text: str, findings: list[Finding] | None = None) -> str:
    """`text` (normalised) with each whole identifier replaced by a readable placeholder:
    "Maisie's dad said" becomes "[name]'s dad said"; an identifier is never cut in half.
    The edit is scanned again, so that what it suggests is itself clean."""
    clean = normalise(text)
    found = scan(clean) if findings is None else findings
    for _ in range(3):
        if not found:
            break
        pieces, last = [], 0
        for finding in sorted(found, key=lambda f: f.start):
            if finding.start < last:
                continue
            pieces += [clean[last: finding.start], PLACEHOLDERS.get(finding.kind, "[removed]")]
            last = finding.end
        clean = "".join(pieces) + clean[last:]
        found = scan(clean)
    return clean
