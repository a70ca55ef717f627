"""Spot text that looks like it identifies a person, before it is saved or shared.

The decision log must not become a second case file (design INV12), so every free-text field is
scanned. The detector favours catching identifiers over quiet: a false alarm costs one edit, a
miss puts a child's details in a log that is kept for years.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


KIND_LABELS = {
    "nhs_number": "an NHS number",
    "name": "a person's name",
    "date_of_birth": "a date of birth",
    "postcode": "a postcode",
    "phone": "a phone number",
    "email": "an email address",
}

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
PHONE = re.compile(
    r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|\(?0)(?:\d[\s-]?){9,10}(?!\d)"
)
TEN_DIGITS = re.compile(r"(?<!\d)(\d{3})[\s-]?(\d{3})[\s-]?(\d{4})(?!\d)")
MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
DATE = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\.?,?\s+\d{{4}}"
    rf"|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
BIRTH_CONTEXT = re.compile(r"\b(?:d\.?o\.?b\.?|born|birth|birthday|date of birth)\b", re.I)
TITLE_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?")
CAP_WORD = r"[A-Z](?:'[A-Z])?[a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?"
CAP_RUN = re.compile(rf"\b{CAP_WORD}(?:\s+{CAP_WORD})+\b")

# Capitalised words that are not names in this domain: agencies, roles, places of work, days,
# months, nations and common sentence openers.
NOT_NAMES = frozenset(
    """
    a an the this that these those he she they we i it his her their our my your its
    mum dad mother father parent parents carer carers grandmother grandfather nan gran step
    child children young person people boy girl baby sibling brother sister uncle aunt
    teacher head headteacher deputy school college nursery academy class year form tutor
    designated safeguarding lead leads dsl officer welfare manager lado police constable
    social worker workers care services service team children's childrens early help
    health visitor visitors nurse nhs gp doctor surgery practice hospital trust camhs
    council local authority board partnership court family cafcass probation youth justice
    offending housing department education mash hub front door emergency duty
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    england wales scotland northern ireland uk british english welsh scottish irish
    after before when where why what who how if then also and but or so because since
    told said asked shared share sharing referred refer referral decided decision agreed
    concern concerns information meeting strategy conference plan protection section act
    data sharing advice guidance working together keeping safe golden rule rules
    yes no not none unknown please thank thanks dear regards kind
    on in at to from for with by of about via
    """.split()
)


def nhs_number_valid(digits: str) -> bool:
    """Modulus 11 check used by NHS numbers: weights 10..2, check = 11 - (sum mod 11)."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _names(text: str) -> list[str]:
    found = [m.group(0) for m in TITLE_NAME.finditer(text)]
    for match in CAP_RUN.finditer(text):
        # Keep runs of two or more capitalised words that are not domain vocabulary.
        run: list[str] = []
        for word in match.group(0).split() + [""]:
            if word and word.lower() not in NOT_NAMES:
                run.append(word)
                continue
            if len(run) >= 2:
                found.append(" ".join(run))
            run = []
    return found


def scan(text: str, today: date | None = None) -> list[Finding]:
    """All the identifier-like pieces of `text`, in order of kind. Empty means nothing found."""
    findings: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, match: re.Match[str]) -> None:
        span = match.span()
        if any(a < span[1] and span[0] < b for a, b in taken):
            return
        taken.append(span)
        findings.append(Finding(kind, match.group(0).strip()))

    for match in EMAIL.finditer(text):
        add("email", match)
    for match in TEN_DIGITS.finditer(text):
        if nhs_number_valid("".join(match.groups())):
            add("nhs_number", match)
    for match in DATE.finditer(text):
        before = text[max(0, match.start() - 30): match.start()]
        if BIRTH_CONTEXT.search(before) or _plausible_birth_year(match.group(0), today):
            add("date_of_birth", match)
    for match in PHONE.finditer(text):
        add("phone", match)
    for match in POSTCODE.finditer(text):
        add("postcode", match)
    for name in _names(text):
        start = text.find(name)
        if start >= 0 and not any(a < start + len(name) and start < b for a, b in taken):
            taken.append((start, start + len(name)))
            findings.append(Finding("name", name))
    return findings


def _plausible_birth_year(date_text: str, today: date | None) -> bool:
    """A full date more than two years back looks like a birth date rather than a recent event;
    recent dates (meetings, referrals) are what a record needs and are left alone."""
    if today is None:  # no wall clock here: without a date to compare, only birth cues count
        return False
    this_year = today.year
    years = re.findall(r"\d{4}", date_text)
    if years:
        year = int(years[-1])
    else:
        short = re.search(r"[/.-](\d{2})$", date_text)
        if not short:
            return False
        year = 2000 + int(short.group(1))
        if year > this_year:
            year -= 100
    return this_year - 25 <= year <= this_year - 2


def describe(findings: list[Finding]) -> str:
    """A one-line human explanation, e.g. 'a person's name ("Jane Smith")'."""
    return "; ".join(f'{KIND_LABELS.get(f.kind, f.kind)} ("{f.text}")' for f in findings)
