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

from bot.core.privacy import linear
from bot.core.privacy.jigsaw import jigsaws
from bot.core.privacy.names import names
from bot.core.privacy.normalise import for_matching, normalise
from bot.core.privacy.structured import DETECTORS, nhs_check

__all__ = ["KIND_LABELS", "MAX_TEXT_CHARS", "PLACEHOLDERS", "Finding", "TextTooLong", "check_length",
           "describe", "mask", "nhs_number_valid", "normalise", "scan", "suggest_edit"]

# The longest text any entry point passes to the guard (Slack's own limit for a message). Entry points
# refuse longer text before scanning it; `scan` refuses it too, so that no caller can make it slow.
MAX_TEXT_CHARS = 40_000


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
    spans: list[tuple[str, int, int]] = []
    for detector in (*DETECTORS, names, jigsaws):
        for kind, start, end in detector(folded.text):
            _add(spans, kind, *folded.source_span(start, end))
    spans.sort(key=lambda s: s[1])
    return [Finding(kind, clean[start:end], start, end) for kind, start, end in spans]


def _add(spans: list[tuple[str, int, int]], kind: str, start: int, end: int) -> None:
    """Where two findings overlap, keep the first detector's kind (the more trusted) over both
    extents, so that the whole identifier is masked."""
    for i, (other_kind, a, b) in enumerate(spans):
        if a < end and start < b:
            spans[i] = (other_kind, min(a, start), max(b, end))
            return
    spans.append((kind, start, end))


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
