"""Identifiers with a shape: numbers, codes, dates of birth, addresses and handles.

Each detector yields `(kind, start, end)` spans on normalised text. Where a number carries a check
(NHS numbers, unique pupil numbers) the check is applied, so that case references and other long
numbers are left alone; where a shape is also common in ordinary notes (a date, a number followed
by a word) a cue nearby is required.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[str, int, int]

# --- email, including "name at example dot org" ---------------------------------------------------
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]*\w@[\w-]+(?:\.[\w-]+)+", re.I)
_ENDINGS = r"(?:com|org|net|uk|ie|io|me|info|pl|ro|de|fr|es|it|pt|nl|edu|gov|ac|sch|nhs)"
# "mr.ahmed @ example.org": spaces around the @, so the ending must look like a real domain
SPACED_EMAIL = re.compile(rf"(?<![\w.+-])[\w.+-]*\w\s?@\s?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.{_ENDINGS}\b", re.I)
_DOT = r"(?:\s*[(\[]\s*dot\s*[)\]]\s*|\s+dot\s+)"
# "tanya (at) example (dot) co (dot) uk", "d.kowalczyk[at]example.pl"
BRACKET_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]*\w\s*[(\[]\s*at\s*[)\]]\s*[\w-]+(?:(?:{_DOT}|\.)[\w-]+)+", re.I
)
# "kayla.m at example dot org"; "k.m at example.org" only with a user-name-like part and a known ending
SPELT_EMAIL = re.compile(rf"(?<![\w.+-])[\w.+-]*\w\s+at\s+[\w-]+(?:{_DOT}[\w-]+)+", re.I)
TLD_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w+-]*[._\d][\w.+-]*\s+at\s+[\w-]+(?:\.[\w-]+)*\.{_ENDINGS}\b",
    re.I,
)

# --- NHS number: ten digits with a valid modulus-11 check, however they are grouped ---------------
TEN_DIGITS = re.compile(r"(?<![\d+])\d(?:[ .-]?\d){9}(?![\d])")
INTERNATIONAL_PREFIX = re.compile(r"(?:\+|\b00)\s?44\s?(?:\(\s?0\s?\)\s?)?$")

# --- unique pupil number: a check letter and 12 digits (or 11 and a letter for a temporary one) --
UPN_SHAPE = re.compile(
    r"(?<![A-Za-z0-9])[A-HJ-NP-RT-Z]\s?\d{3}\s?\d{4}\s?\d{2}\s?\d{2}[\dA-Z](?![A-Za-z0-9])", re.I
)
UPN_CUE = re.compile(r"\b(?:upn|pupil\s+(?:number|no)|unique\s+pupil)\b", re.I)

# --- National Insurance number (HMRC: two prefix letters, six digits, suffix A-D) -----------------
NI_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r"\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?![A-Za-z0-9])",
    re.I,
)

# --- UK phone numbers ------------------------------------------------------------------------------
PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?44\s?(?:\(\s?0\s?\)\s?)?|\(\s?0|0)"
    r"\d(?:[\s.\-()]{0,2}\d){8,9}(?![\d])"
)
# Freephone (080x) and 03 numbers belong to organisations (helplines, councils), not families.
ORGANISATION_PHONE = re.compile(r"^\(?\s?0(?:80|3)")

# --- postcodes (Royal Mail format), any case, with one or more spaces -----------------------------
POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR\s{0,3}0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"\s{0,3}[0-9][ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])",
    re.I,
)

# --- dates of birth: a date with a birth cue next to it ---------------------------------------------
MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAY = r"(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?"
DATE = re.compile(
    r"(?<![\d/.-])(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    rf"|{_DAY}\s+(?:{MONTHS})\.?,?\s+\d{{4}}"
    rf"|(?:{MONTHS})\.?\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|(?:{MONTHS})\.?,?\s+\d{{4}}"
    r"|\d{4}-\d{1,2}-\d{1,2})(?![\d/])",
    re.I,
)
DAY_MONTH = re.compile(
    rf"(?<![\d/])(?:{_DAY}\s+(?:{MONTHS})|(?:{MONTHS})\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?)\b", re.I
)
BIRTH_CUE = re.compile(
    r"(?:\bd\.?\s?o\.?\s?b(?![a-z])\.?|\bdate\s+of\s+birth\b|\bbirth\s?date\b|\bbirthday\b|(?<![\w-])born\b)",
    re.I,
)
BIRTH_CUE_WINDOW = 40
# "b. 14/02/2018": the abbreviation counts only right before the date.
BORN_ABBREVIATION = re.compile(r"(?<![\w.])b\.\s?$", re.I)

# --- street addresses: a house number and a street -------------------------------------------------
STREET_TYPES = (
    "road|rd|street|st|lane|ln|avenue|ave|drive|dr|close|cl|way|crescent|cres|court|ct|grove|gr|place|pl"
    "|terrace|terr|gardens|gdns|walk|rise|mews|row|square|sq|hill|view|parade|green|vale|croft|fold|gate"
    "|yard|chase|boulevard|wharf|meadows?|park|grange|heights|end|brow|bank|approach|circus|quay"
)
ADDRESS = re.compile(
    r"(?<![\w/:.£$-])\d{1,4}[a-z]?,?\s+(?:the\s+)?(?:[A-Za-z][\w'’-]*\s+){0,2}"
    rf"(?:{STREET_TYPES})\b\.?",
    re.I,
)
# Street words that are not also everyday words: enough on their own, even typed in lower case.
STRONG_STREET_TYPES = frozenset(
    """road rd street st lane ln avenue ave crescent cres grove gr terrace terr gardens gdns mews drive dr
    close cl""".split()
)
ADDRESS_CUE = re.compile(
    r"\b(?:at|lives?|living|address|addr|moved\s+to|visit\s+to|staying|flat|house|home|property|no\.?)"
    r"\s*:?\s*$",
    re.I,
)
FLAT_PREFIX = re.compile(r"\b(?:flat|apartment|apt)\s+\d{1,3}[a-z]?,?\s+$", re.I)
ONE_WORD_STREET = re.compile(r"(?<![\w/:.])\d{1,4}[a-z]?\s+[A-Z][a-z]+(?:way|gate|side|field|moor)\b")
# Words that end a count ("6 teeth removed at the Dental Hospital"), not a street name.
NOT_STREET_WORDS = frozenset(
    """very really quite so too more less most much a an and at by for from in into of on or the to with
    was were is are had has have
    hours hour days day weeks week months month years year times minutes children child boys girls
    teeth people pupils staff sessions visits calls schools""".split()
)

# --- social media handles ---------------------------------------------------------------------------
AT_HANDLE = re.compile(r"(?<![\w@.<])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])")
PLATFORMS = (
    r"snap(?:chat)?|insta(?:gram)?|ig|tik\s?tok|discord|twitter|facebook|fb|roblox|xbox|psn|playstation"
    r"|telegram|kik|youtube|twitch|fortnite|steam|threads|bereal|wink|yubo|minecraft"
)
HANDLE_WORDS = r"user\s?name|handle|gamer\s?tag|account\s+name|screen\s?name"
CUED_HANDLE = re.compile(
    rf"\b(?:(?:{PLATFORMS})(?:\s+(?:{HANDLE_WORDS}|account|name|profile|id))?|{HANDLE_WORDS})"
    r"(?:\s+(?:is|was|as|called|named)\s+|\s*:\s*|\s+)"
    r"(?P<quote>['\"‘“]?)(?P<handle>[A-Za-z0-9_.#]{3,32})",
    re.I,
)
HANDLE_BEFORE_PLATFORM = re.compile(
    rf"['\"‘“](?P<handle>[A-Za-z0-9_.#]{{3,32}})['\"’”]\s+on\s+(?:{PLATFORMS})\b", re.I
)

# --- vehicle registrations -------------------------------------------------------------------------
CURRENT_REG = re.compile(r"(?<![A-Za-z0-9])[A-HJ-PR-Y][A-HJ-PR-Y]\d{2}\s?[A-HJ-PR-Z]{3}(?![A-Za-z0-9])", re.I)
OLDER_REG = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-HJ-NP-Y]\d{1,3}\s?[A-HJ-PR-Z]{3}|[A-HJ-PR-Z]{3}\s?\d{1,3}[A-HJ-NP-Y])(?![A-Za-z0-9])",
    re.I,
)
VEHICLE_CUE = re.compile(
    r"\b(?:reg(?:istration)?|plates?|number\s+plate|car|van|vehicle|taxi|cab|motorbike|moped|bike|lorry"
    r"|truck|drives?|driving|driven|bmw|audi|ford|vauxhall|astra|corsa|golf|fiesta|mercedes|toyota|nissan"
    r"|kia|honda|peugeot|renault|skoda|seat|volkswagen|vw|mini|range\s+rover|transit|hatchback|saloon)\b",
    re.I,
)
VEHICLE_CUE_WINDOW = 40


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _cue_before(cue: re.Pattern[str], text: str, start: int, window: int) -> bool:
    return bool(cue.search(text[max(0, start - window): start]))


def emails(text: str) -> Iterator[Span]:
    for pattern in (EMAIL, SPACED_EMAIL, BRACKET_EMAIL, SPELT_EMAIL, TLD_EMAIL):
        for m in pattern.finditer(text):
            yield "email", m.start(), m.end()


def nhs_check(digits: str) -> bool:
    """The NHS number's modulus-11 check digit. python-stdnum is imported on first use: it costs
    about 30 ms, and most notes hold no ten-digit number at all."""
    from stdnum.gb import nhs

    return bool(nhs.is_valid(digits))


def upn_check(code: str) -> bool:
    """The unique pupil number's check letter (python-stdnum, imported on first use)."""
    from stdnum.gb import upn

    return bool(upn.is_valid(code))


def upns(text: str) -> Iterator[Span]:
    for m in UPN_SHAPE.finditer(text):
        code = re.sub(r"\s", "", m.group(0)).upper()
        if upn_check(code) or _cue_before(UPN_CUE, text, m.start(), 30):
            yield "upn", m.start(), m.end()


def nhs_numbers(text: str) -> Iterator[Span]:
    for m in TEN_DIGITS.finditer(text):
        if INTERNATIONAL_PREFIX.search(text[max(0, m.start() - 10): m.start()]):
            continue  # "+44 7700 900123" is a phone number, whatever its check digit
        if nhs_check(_digits(m.group(0))):
            yield "nhs_number", m.start(), m.end()


def ni_numbers(text: str) -> Iterator[Span]:
    for m in NI_NUMBER.finditer(text):
        yield "ni_number", m.start(), m.end()


def dates_of_birth(text: str) -> Iterator[Span]:
    for m in DATE.finditer(text):
        if _birth_cue_near(text, m.start(), m.end()):
            yield "date_of_birth", m.start(), m.end()
    for m in DAY_MONTH.finditer(text):
        if _cue_before(BIRTH_CUE, text, m.start(), 20):
            yield "date_of_birth", m.start(), m.end()


def _birth_cue_near(text: str, start: int, end: int) -> bool:
    """A birth cue shortly before the date, in the same clause, or right after it ("(DOB)")."""
    before = re.split(r"[;\n]", text[max(0, start - BIRTH_CUE_WINDOW): start])[-1]
    return bool(BIRTH_CUE.search(before) or BIRTH_CUE.match(text[end:end + 12].lstrip(" ,("))
                or BORN_ABBREVIATION.search(text[max(0, start - 4): start]))


def phones(text: str) -> Iterator[Span]:
    for m in PHONE.finditer(text):
        if not ORGANISATION_PHONE.match(m.group(0)):
            yield "phone", m.start(), m.end()


def postcodes(text: str) -> Iterator[Span]:
    for m in POSTCODE.finditer(text):
        code = m.group(0)
        letters = [c for c in code if c.isalpha()]
        if not (all(c.isupper() for c in letters) or all(c.islower() for c in letters)):
            continue  # "s16LA" is a section of an Act, not a postcode
        if " " not in code and not code.isupper():
            continue
        yield "postcode", m.start(), m.end()


def addresses(text: str) -> Iterator[Span]:
    for m in ADDRESS.finditer(text):
        number = re.match(r"\d+", m.group(0)).group(0)
        street = m.group(0)[len(number):]
        street = re.sub(r"^[a-z]?,?\s+(?:the\s+)?", "", street, flags=re.I)
        words = re.findall(r"[A-Za-z][\w'’-]*", street)
        if any(w.lower() in NOT_STREET_WORDS for w in words[:-1]):
            continue
        if street == street.lower():  # typed in lower case: the words must look like a street
            cued = bool(ADDRESS_CUE.search(text[max(0, m.start() - 25): m.start()]))
            strong = words[-1].lower() in STRONG_STREET_TYPES and len(number) < 4
            if not (cued or strong):
                continue
        flat = FLAT_PREFIX.search(text[max(0, m.start() - 20): m.start()])
        yield "address", (m.start() - len(flat.group(0)) if flat else m.start()), m.end()
    for m in ONE_WORD_STREET.finditer(text):
        yield "address", m.start(), m.end()


def handles(text: str) -> Iterator[Span]:
    for m in AT_HANDLE.finditer(text):
        yield "handle", m.start(), m.end()
    for pattern in (CUED_HANDLE, HANDLE_BEFORE_PLATFORM):
        for m in pattern.finditer(text):
            token = m.group("handle")
            quoted = pattern is HANDLE_BEFORE_PLATFORM or bool(m.group("quote"))
            if _looks_like_handle(token, quoted):
                yield "handle", m.start("handle"), m.end("handle")


def _looks_like_handle(token: str, quoted: bool) -> bool:
    """A user name, not an ordinary word: it has a digit, underscore, dot or '#', or odd capitals."""
    token = token.rstrip(".")
    if len(token) < 3:
        return False
    if re.search(r"[\d_#]|\w\.\w", token):
        return True
    return quoted or bool(re.search(r"[a-z][A-Z]", token))


def vehicle_registrations(text: str) -> Iterator[Span]:
    for m in CURRENT_REG.finditer(text):
        if m.group(0).isupper() or _cue_before(VEHICLE_CUE, text, m.start(), VEHICLE_CUE_WINDOW):
            yield "vehicle_registration", m.start(), m.end()
    for m in OLDER_REG.finditer(text):
        if m.group(0).isupper() and _cue_before(VEHICLE_CUE, text, m.start(), VEHICLE_CUE_WINDOW):
            yield "vehicle_registration", m.start(), m.end()


# In order of trust: a span found by an earlier detector is not reported again by a later one.
DETECTORS = (emails, upns, nhs_numbers, ni_numbers, dates_of_birth, phones, postcodes, addresses,
             handles, vehicle_registrations)
