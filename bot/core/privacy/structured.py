"""Identifiers with a shape: numbers, codes, dates of birth, addresses, handles and jigsaws.

Each detector yields `(kind, start, end)` spans on the text as `normalise.for_matching` reads it.
Where a number carries a check (NHS numbers, unique pupil numbers) the check is applied, so that
case references and other long numbers are left alone; where a shape is also common in ordinary
notes (a date, a number followed by a word) a cue nearby is required. Every pattern is RE2
(`linear`); look-arounds are a consumed boundary after the reported group or a check of the
character before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, lru_cache

import bot.core.privacy.linear as linear
from bot.core.privacy.lexicon import DATA, fold, lexicon

Span = tuple[str, int, int]
NOT_ALNUM_END = r"(?:$|[^A-Za-z0-9])"
WORD_CHARS = r"[\pL\pM'’-]"


def _email_start(ch: str) -> bool:
    return ch.isalnum() or ch in "_.+-"


# --- email, including "name at example dot org" ---------------------------------------------------
EMAIL = linear.compile(r"[\w.+-]*\w@[\w-]+(?:\.[\w-]+)+", screened=True)
_ENDINGS = r"(?:com|org|net|uk|ie|io|me|info|pl|ro|de|fr|es|it|pt|nl|edu|gov|ac|sch|nhs)"
# "mr.ahmed @ example.org": spaces around the @, so the ending must look like a real domain
SPACED_EMAIL = linear.compile(
    rf"[\w.+-]*\w\s?@\s?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.{_ENDINGS}\b",
    True,
    screened=True,
)
_DOT = r"(?:\s*[(\[]\s*dot\s*[)\]]\s*|\s+dot\s+)"
# "tanya (at) example (dot) co (dot) uk", "d.kowalczyk[at]example.pl"
BRACKET_EMAIL = linear.compile(
    rf"[\w.+-]*\w\s*[(\[]\s*at\s*[)\]]\s*[\w-]+(?:(?:{_DOT}|\.)[\w-]+)+",
    True,
    screened=True,
)
# "kayla.m at example dot org"; "k.m at example.org" only with a user-name-like part and a known ending
SPELT_EMAIL = linear.compile(rf"[\w.+-]*\w\s+at\s+[\w-]+(?:{_DOT}[\w-]+)+", True, screened=True)
TLD_EMAIL = linear.compile(
    rf"[\w+-]*[._\d][\w.+-]*\s+at\s+[\w-]+(?:\.[\w-]+)*\.{_ENDINGS}\b",
    True,
    screened=True,
)

# --- numbers: one linear pass finds runs of digit groups; windows of whole groups are then read ---
# as an NHS number (ten digits with a valid check) or a UK phone number. A run never spans a new line.
DIGIT_RUN = linear.compile(r"[+(]?[0-9](?:[ \t.\-()]{0,3}[0-9])*", screened=True)
DIGIT_GROUP = linear.compile(r"[0-9]+")
MAX_GROUPS_READ = 13  # a window never needs more groups than an identifier has digits

# --- unique pupil number: a check letter and 12 digits (or 11 and a letter for a temporary one) --
UPN_SHAPE = linear.compile(
    rf"([A-HJ-NP-RT-Z]\s?[0-9]{{3}}\s?[0-9]{{4}}\s?[0-9]{{2}}\s?[0-9]{{2}}[0-9A-Z]){NOT_ALNUM_END}",
    True,
    screened=True,
)
UPN_CUE = linear.compile(r"\b(?:upn|pupil\s+(?:number|no)|unique\s+pupil)\b", True)

# --- National Insurance number (HMRC: two prefix letters, six digits, suffix A-D) -----------------
NI_NUMBER = linear.compile(
    r"([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\s?[0-9]{2}\s?[0-9]{2}\s?[0-9]{2}\s?[A-D])" + NOT_ALNUM_END,
    True,
    screened=True,
)
NI_NOT_ISSUED = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})

# --- postcodes (Royal Mail format), any case, with or without the space ----------------------------
POSTCODE = linear.compile(
    r"(GIR\s{0,3}0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"\s{0,3}[0-9][ABD-HJLNP-UW-Z]{2})" + NOT_ALNUM_END,
    True,
    screened=True,
)
# The 121 postcode areas: "m85rw" is a postcode, "s16la" and "xy12ab" are not read as one unless typed
# with the space.
POSTCODE_AREAS = frozenset(
    """AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY E EC EH
    EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME
    MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY
    TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE""".split()
)

# --- dates of birth: a date with a birth cue next to it ---------------------------------------------
MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAY = r"(?:the\s+)?[0-9]{1,2}(?:st|nd|rd|th)?(?:\s+of)?"
FESTIVE_DAYS = (r"christmas\s+(?:day|eve)|boxing\s+day|new\s+year'?s\s+(?:day|eve)|valentine'?s\s+day"
                r"|bonfire\s+night|hallowe'?en|easter\s+(?:sunday|monday)|st\.?\s+patrick'?s\s+day")
DATE = linear.compile(
    r"([0-9]{1,2}[/.-][0-9]{1,2}[/.-](?:[0-9]{4}|[0-9]{2})"
    rf"|{_DAY}\s+(?:{MONTHS})\.?,?\s+[0-9]{{4}}"
    rf"|(?:{MONTHS})\.?\s+(?:the\s+)?[0-9]{{1,2}}(?:st|nd|rd|th)?,?\s+[0-9]{{4}}"
    rf"|(?:{MONTHS})\.?,?\s+[0-9]{{4}}"
    rf"|(?:{FESTIVE_DAYS})(?:,?\s+[0-9]{{4}})?"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})(?:$|[^0-9/])",
    True,
    screened=True,
)
DAY_MONTH = linear.compile(
    rf"({_DAY}\s+(?:{MONTHS})|(?:{MONTHS})\s+(?:the\s+)?[0-9]{{1,2}}(?:st|nd|rd|th)?"
    r"|[0-9]{1,2}/[0-9]{1,2})\b",
    True,
    screened=True,
)
BIRTH_CUE = linear.compile(
    r"(?:\bd\.?\s?o\.?\s?b(?:$|[^a-z])|\bdate\s+of\s+birth\b|\bbirth\s?date\b|\bbirthday|\bb'?-?days?\b"
    r"|(?:^|[^\w-])born\b)",
    True,
)
# "turned 13 on 4th june", "he'll be 16 on the 3rd of may", "turns 18 on 30/11", "15 on"
AGE_ON_CUE = linear.compile(r"\b(?:turn(?:s|ed|ing)?|be|is|was|aged?)\s+[0-9]{1,2}\s+(?:on|in)\s+$", True)
BIRTH_CUE_WINDOW = 40
DAY_MONTH_CUE_WINDOW = 24
# "b. 14/02/2018": the abbreviation counts only right before the date.
BORN_ABBREVIATION = linear.compile(r"(?:^|[^\w.])b\.\s?$", True)

# --- vehicle registrations -------------------------------------------------------------------------
CURRENT_REG = linear.compile(r"([A-HJ-PR-Y][A-HJ-PR-Y][0-9]{2}\s?[A-HJ-PR-Z]{3})" + NOT_ALNUM_END,
    True,
    screened=True,
)
OLDER_REG = linear.compile(
    r"((?:[A-HJ-NP-Y][0-9]{1,3}\s?[A-HJ-PR-Z]{3}|[A-HJ-PR-Z]{3}\s?[0-9]{1,3}[A-HJ-NP-Y]))" + NOT_ALNUM_END,
    True,
    screened=True,
)
VEHICLE_CUE = linear.compile(
    r"\b(?:reg(?:istration)?|plates?|number\s+plate|car|van|vehicle|taxi|cab|motorbike|moped|bike|lorry"
    r"|truck|drives?|driving|driven|bmw|audi|ford|vauxhall|astra|corsa|golf|fiesta|mercedes|toyota|nissan"
    r"|kia|honda|peugeot|renault|skoda|seat|volkswagen|vw|mini|range\s+rover|transit|hatchback|saloon)\b",
    True,
)
VEHICLE_CUE_WINDOW = 40

# --- social media handles ---------------------------------------------------------------------------
AT_HANDLE = linear.compile(r"(@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)(?:$|[^\w@])", screened=True)
PLATFORMS = (
    r"snap(?:chat)?|insta(?:gram)?|ig|tik\s?tok|discord|twitter|facebook|fb|roblox|xbox|psn|playstation"
    r"|telegram|kik|youtube|twitch|fortnite|steam|threads|bereal|wink|yubo|minecraft"
)
HANDLE_WORDS = r"user\s?name|handle|gamer\s?tag|account\s+name|screen\s?name"
CUED_HANDLE = linear.compile(
    rf"\b(?:(?:{PLATFORMS})(?:\s+(?:{HANDLE_WORDS}|account|name|profile|id))?|{HANDLE_WORDS})"
    r"(?:\s+(?:is|was|as|called|named)\s+|\s*:\s*|\s+)"
    r"(?P<quote>['\"‘“]?)(?P<handle>[A-Za-z0-9_.#]{3,32})",
    True,
    screened=True,
)
HANDLE_BEFORE_PLATFORM = linear.compile(
    rf"['\"‘“](?P<handle>[A-Za-z0-9_.#]{{3,32}})['\"’”]\s+on\s+(?:{PLATFORMS})\b", True, screened=True)
HANDLE_MARK = linear.compile(r"[0-9_#]|\w\.\w")
ODD_CAPITALS = linear.compile(r"[a-z][A-Z]")
NOT_DIGIT = linear.compile(r"[^0-9]+")
NOT_CODE = linear.compile(r"[^0-9A-Za-z]+")


HOUSE_WORDS = ("cottage", "farm", "barn", "lodge", "villa", "bungalow", "house", "mill", "hall", "manor",
               "grange", "croft", "chapel", "rectory", "vicarage", "oast")
UNIT_WORDS = ("flat", "apartment", "apt", "room", "rm", "pitch", "plot", "caravan", "static", "unit",
              "bedsit", "bed sit", "chalet", "cabin", "house", "bay", "berth")
HANDLE_CUES = ("snap", "insta", "ig", "tik", "discord", "twitter", "facebook", "fb", "roblox", "xbox", "psn",
               "playstation", "telegram", "kik", "youtube", "twitch", "fortnite", "steam", "threads",
               "bereal", "wink", "yubo", "minecraft", "user", "handle", "gamer", "account", "screen")


@lru_cache(maxsize=8)
def has_digit(text: str) -> bool:
    """Most detectors need a digit; the text as read has only ASCII ones. Asked once per scan."""
    return any(digit in text for digit in "0123456789")


def _digits(text: str) -> str:
    return NOT_DIGIT.sub("", text)


def _cue_before(cue: linear.Pattern, text: str, start: int, window: int) -> bool:
    return bool(cue.search(text[max(0, start - window): start]))


def emails(text: str) -> Iterator[Span]:
    lower = text.lower()
    if "@" not in text and " at " not in lower and "at)" not in lower and "at]" not in lower:
        return
    for pattern in (EMAIL, SPACED_EMAIL, BRACKET_EMAIL, SPELT_EMAIL, TLD_EMAIL):
        for start, end in linear.spans(pattern, text, 0, _email_start):
            yield "email", start, end


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
    if not has_digit(text):
        return
    for start, end in linear.spans(UPN_SHAPE, text, 1, linear.alnum):
        code = NOT_CODE.sub("", text[start:end]).upper()
        if upn_check(code) or _cue_before(UPN_CUE, text, start, 30):
            yield "upn", start, end


def numbers(text: str) -> Iterator[Span]:
    """NHS numbers and phone numbers, read from runs of digit groups ("0 7 7 0 0", "943-476-5919",
    "+44 (0)7700 900123"). Each window of whole groups is tried once from each group, so the cost is
    in proportion to the text (the old pattern for ten digits was quadratic on a run of digits)."""
    if not has_digit(text):
        return
    for run_start, run_end in linear.spans(DIGIT_RUN, text, 0, linear.word_char):
        run = text[run_start:run_end]
        groups = [m.span() for m in DIGIT_GROUP.finditer(run)]
        i = 0
        while i < len(groups):
            found = _number_at(text, run, run_start, groups, i)
            if found:
                kind, last = found
                first = 0 if i == 0 and run[0] in "+(" else groups[i][0]
                end = groups[last][1]
                yield kind, run_start + first, run_start + end + (run[end:end + 1] == ")")
                i = last + 1
            else:
                i += 1


def _number_at(text: str, run: str, run_start: int, groups: list[tuple[int, int]], i: int
               ) -> tuple[str, int] | None:
    """The identifier that starts at group i, with the index of its last group."""
    prefix = run[:groups[i][0]] if i == 0 else ""
    international = "+" in prefix or (text[max(0, run_start - 4): run_start].rstrip().endswith("+"))
    digits = ""
    phone: tuple[str, int] | None = None
    for j in range(i, min(len(groups), i + MAX_GROUPS_READ)):
        digits += run[groups[j][0]:groups[j][1]]
        if len(digits) > 14:
            break
        if len(digits) == 10 and not international and nhs_check(digits):
            return "nhs_number", j
        if _phone_digits(digits, international):
            phone = ("phone", j)
    return phone


def _phone_digits(digits: str, international: bool) -> bool:
    """A UK phone number's digits: 0 and 9 or 10 more, or 44 (after + or 00) and 9 or 10 more, with
    an optional (0). Freephone (080x) and 03 numbers belong to organisations, not families."""
    if digits.startswith("0044"):
        digits, international = digits[2:], True
    if international:
        if not digits.startswith("44"):
            return False
        national = digits[2:]
        national = national[1:] if national.startswith("0") else national
        digits = "0" + national
    return digits.startswith("0") and len(digits) in (10, 11) and not digits.startswith(("080", "03"))


def ni_numbers(text: str) -> Iterator[Span]:
    if not has_digit(text):
        return
    for start, end in linear.spans(NI_NUMBER, text, 1, linear.alnum):
        if text[start:start + 2].upper() not in NI_NOT_ISSUED:
            yield "ni_number", start, end


def dates_of_birth(text: str) -> Iterator[Span]:
    if not has_digit(text) and "christmas" not in text.lower():
        return
    taken: list[tuple[int, int]] = []
    for start, end in linear.spans(DATE, text, 1, lambda ch: ch.isdigit() or ch in "/.-"):
        if _birth_cue_near(text, start, end):
            taken.append((start, end))
            yield "date_of_birth", start, end
    for start, end in linear.spans(DAY_MONTH, text, 1, lambda ch: ch.isdigit() or ch == "/"):
        if any(a < end and start < b for a, b in taken):
            continue
        before = text[max(0, start - DAY_MONTH_CUE_WINDOW): start]
        if BIRTH_CUE.search(before) or AGE_ON_CUE.search(before):
            yield "date_of_birth", start, end


def _birth_cue_near(text: str, start: int, end: int) -> bool:
    """A birth cue shortly before the date, in the same clause, or right after it ("(DOB)")."""
    before = text[max(0, start - BIRTH_CUE_WINDOW): start]
    for stop in ";\n":
        before = before.rsplit(stop, 1)[-1]
    after = text[end:end + 12].lstrip(" ,(")
    return bool(BIRTH_CUE.search(before) or AGE_ON_CUE.search(before) or BIRTH_CUE.match(after)
                or BORN_ABBREVIATION.search(text[max(0, start - 4): start]))


def postcodes(text: str) -> Iterator[Span]:
    if not has_digit(text):
        return
    for start, end in linear.spans(POSTCODE, text, 1, linear.alnum):
        code = text[start:end]
        letters = [c for c in code if c.isalpha()]
        if not (all(c.isupper() for c in letters) or all(c.islower() for c in letters)):
            continue  # "s16LA" is a section of an Act, not a postcode
        compact = "".join(code.split()).upper()
        area = compact[:2] if compact[1:2].isalpha() else compact[:1]
        if " " not in code and (area not in POSTCODE_AREAS or code[:1] == "s" and code[1:2].isdigit()):
            continue  # "s16la", "s47" are sections of an Act
        yield "postcode", start, end


# --- street addresses ----------------------------------------------------------------------------------
@cache
def street_words() -> tuple[frozenset[str], frozenset[str]]:
    """Street types written after the name (libpostal's English list and a hand-kept supplement) and
    Welsh, Gaelic and Irish street words written before it."""
    after = set((DATA / "street_types.txt").read_text(encoding="utf-8").split())
    before: set[str] = set()
    for line in (DATA / "supplement_street_words.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("after:"):
            after.update(line[len("after:"):].split())
        elif line.startswith("before:"):
            before.update(line[len("before:"):].split())
    return frozenset(after), frozenset(before)


# Street words that are not also everyday words: enough on their own, even typed in lower case.
STRONG_STREET_TYPES = frozenset(
    """road rd street st lane ln avenue ave crescent cres grove gr terrace terr tce gardens gdns mews drive
    dr close cl court ct wynd approach mount garth fold croft chase parade boulevard vale""".split()
)
# Words that end a count ("6 teeth removed at the Dental Hospital"), not a street name.
NOT_STREET_WORDS = frozenset(
    """very really quite so too more less most much a an and at by for from in into of on or to with
    was were is are had has have he she they we it his her their this that these those not no yes
    hours hour days day weeks week months month years year times minutes mins children child boys girls
    teeth people pupils staff sessions visits calls schools kids sisters brothers adults men women
    times sibling siblings other others different separate new old more""".split()
)
ADDRESS_CUE = linear.compile(
    r"\b(?:at|lives?|living|address|addr|moved\s+to|visit\s+to|visited|staying|stays|flat|house|home"
    r"|property|no\.?|to|in|attended)\s*:?\s*$",
    True,
)
# Buildings, hotels, sites and house names: what follows "flat 2", "room 4 at", "pitch 12 at".
BUILDINGS = (
    "house|court|mill|lodge|heights|tower|towers|point|view|lofts|apartments|flats|mansions|buildings|inn"
    "|hotel|travelodge|hostel|site|park|mount|hall|place|gardens|quay|wharf|close|yard|cottage|cottages"
    "|farm|barn|villa|villas|bungalow|manor|grange|croft|estate|centre|residence|halls|caravan\\s+park"
    "|mews|square|walk|terrace|row|green|rise|refuge|b&b"
)
UNIT = (r"(?:flat|apartment|apt|room|rm|pitch|plot|caravan|static|unit|bedsit|bed\s?sit|chalet|cabin"
        r"|house|bay|berth)")
UNIT_NUMBER = linear.compile(rf"\b({UNIT}\.?\s*(?:no\.?\s*)?[0-9]{{1,4}}[a-z]?)\b", True, screened=True)
AFTER_UNIT = linear.compile(
    rf"^,?\s+(?:(?:at|in|on|of)\s+)?(?:the\s+)?((?:{WORD_CHARS}+\s+){{0,3}}(?:{BUILDINGS}))\b", True
)
HOUSE_NAME = linear.compile(
    rf"((?:{WORD_CHARS}+\s+){{1,2}}(?:cottage|cottages|farm|farmhouse|barn|lodge|villa|bungalow|house|mill"
    r"|hall|manor|grange|croft|chapel|rectory|vicarage|oast),?\s+)",
    True,
    screened=True,
)
WORDS = linear.compile(rf"{WORD_CHARS}+")
NUMBER_AND_WORDS = linear.compile(
    rf"([0-9]{{1,4}}[a-z]?),?((?:\s+{WORD_CHARS}+){{1,5}})",
    True,
    screened=True,
)
LEAD_DIGITS = linear.compile(r"^[0-9]+")
ONE_WORD_STREET = linear.compile(
    r"([0-9]{1,4}[a-z]?\s+[A-Z][a-z]+(?:way|gate|side|field|moor))\b",
    screened=True,
)
FLAT_PREFIX = linear.compile(r"\b(?:flat|apartment|apt)\s+[0-9]{1,3}[a-z]?,?\s+$", True)
STREET_AFTER = linear.compile(
    rf"^,?\s+(?:(?:on|off|in)\s+)?(?:the\s+)?((?:{WORD_CHARS}+\s+){{0,2}}({WORD_CHARS}+))", True)
STREET_AFTER_HOUSE = linear.compile(rf"^,?\s*()((?:{WORD_CHARS}+\s+){{0,2}}{WORD_CHARS}+)", True)
ARTICLES = frozenset("y yr 'r r na nan an a' h- le la the".split())


def addresses(text: str) -> Iterator[Span]:
    lower = text.lower()
    digits = has_digit(text)
    house = any(word in lower for word in HOUSE_WORDS)
    if not digits and not house:
        return
    after_types, before_types = street_words()
    english = lexicon().english_words
    taken: list[tuple[int, int]] = []

    def fresh(start: int, end: int) -> bool:
        if any(a < end and start < b for a, b in taken):
            return False
        taken.append((start, end))
        return True

    # "flat 2 the old mill", "room 4 at the travelodge on kirkstall rd", "pitch 12 at cottingley springs site"
    units = digits and any(word in lower for word in UNIT_WORDS)
    for start, end in linear.spans(UNIT_NUMBER, text, 1, linear.alnum) if units else ():
        follow = AFTER_UNIT.search(text[end:end + 80])
        if not follow:
            continue
        stop = end + follow.end(1)
        street = _street_after(text, stop, after_types, english)
        stop = street or stop
        if fresh(start, stop):
            yield "address", start, stop
    # "rose cottage, church lane"
    for m in linear.finditer(HOUSE_NAME, text) if house else ():
        start, end = m.span(1)
        words = [w.lower() for w in WORDS.findall(m.group(1))]
        while words and (words[0] in NOT_STREET_WORDS or words[0] in ARTICLES):
            start = text.index(" ", start) + 1 if " " in text[start:end] else start
            words = words[1:]
        street = _street_after(text, end - 1, after_types, english, lead=False)
        if any(w in NOT_STREET_WORDS or w in ARTICLES for w in words):
            continue  # "the skate park on Mill Road": a sentence, not a house's name
        if street and len(words) >= 2 and fresh(start, street):
            yield "address", start, street
    # "5 brudenell mount", "23 heol y felin", "2 the paddocks", "12 Beech Grove"
    for start, end in linear.spans(ONE_WORD_STREET, text, 1, lambda ch: ch.isalnum() or ch in "/:.") \
            if digits else ():
        if fresh(start, end):
            yield "address", start, end  # "102 Kingsway", "4 Eastgate"
    for m in linear.finditer(NUMBER_AND_WORDS, text) if digits else ():
        start = m.start(1)
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "/:.£$-"):
            continue
        stop = _street_from(text, m, after_types, before_types, english)
        if stop and fresh(_flat_before(text, start), stop):
            yield "address", _flat_before(text, start), stop


def _flat_before(text: str, start: int) -> int:
    """'flat 3, 12 Beech Grove': the flat belongs to the address."""
    m = FLAT_PREFIX.search(text[max(0, start - 20): start])
    return start - (len(text[max(0, start - 20): start]) - m.start()) if m else start


def _street_after(text: str, at: int, after_types: frozenset[str], english: frozenset[str],
                  lead: bool = True) -> int | None:
    """End of "on kirkstall rd" / ", church lane" right after `at`, if a street follows."""
    m = (STREET_AFTER if lead else STREET_AFTER_HOUSE).search(text[at:at + 60])
    if not m:
        return None
    words = WORDS.findall(m.group(1) if lead else m.group(2))
    for n in range(len(words), 0, -1):
        key = words[n - 1].lower()
        if key in after_types and (key in STRONG_STREET_TYPES or (lead and words[n - 1][:1].isupper())) \
                and (n > 1 or not lead) and \
                not any(w.lower() in NOT_STREET_WORDS for w in words[:n - 1]):
            if n == 1 and words[0].lower() not in STRONG_STREET_TYPES:
                return None
            phrase = " ".join(words[:n])
            offset = text.index(phrase.split()[-1], at + m.start(1 if lead else 2))
            return offset + len(words[n - 1])
    return None


def _street_from(text: str, m: object, after_types: frozenset[str], before_types: frozenset[str],
                 english: frozenset[str]) -> int | None:
    """Where the street after a house number ends, or None when the words are not a street."""
    number = m.group(1)
    words_at = [(w.start(), w.end()) for w in WORDS.finditer(m.group(2))]
    base = m.start(2)
    words = [m.group(2)[a:b] for a, b in words_at]
    keys = [fold(w) for w in words]
    if not words or keys[0] in NOT_STREET_WORDS - {"the"}:
        return None
    # Welsh, Gaelic or Irish: the street word first, then its name ("heol y felin", "sràid na h-eaglaise")
    if keys[0] in before_types or words[0].lower() in before_types:
        last = 0
        for k in range(1, len(words)):
            if keys[k] in ARTICLES or words[k].lower().startswith("h-"):
                continue
            if keys[k] in english and keys[k] not in before_types:
                break
            last = k
        return base + words_at[last][1] if last else None
    # English: up to two name words, then a street type ("5 brudenell mount", "2 the paddocks")
    start_k = 1 if keys[0] == "the" else 0
    for n in range(start_k, min(len(words), start_k + 3)):
        key = keys[n]
        if key not in after_types:
            if key in NOT_STREET_WORDS:
                return None
            continue
        names = words[start_k:n]
        if not names and start_k == 0:
            continue  # "3 court hearings": a type with no name before it
        if any(fold(w) in NOT_STREET_WORDS for w in names):
            return None
        strong = key in STRONG_STREET_TYPES or words[n][:1].isupper()
        proper = all(fold(w) not in english or w[:1].isupper() for w in names)
        cued = bool(ADDRESS_CUE.search(text[max(0, m.start(1) - 25): m.start(1)]))
        if start_k == 1 and not names and key in english and not (cued or key.endswith("s")):
            return None
        if len(number) >= 4 and not (strong and proper):
            return None
        if strong or proper or cued:
            end = base + words_at[n][1]
            if text[end:end + 1] == ".":
                end += 1
            return end
        return None
    return None


def _handle_glued(ch: str) -> bool:
    return ch.isalnum() or ch in "_@.<"


def handles(text: str) -> Iterator[Span]:
    at_signs = linear.spans(AT_HANDLE, text, 1, _handle_glued) if "@" in text else ()
    for start, end in at_signs:
        yield "handle", start, end
    lower = text.lower()
    if not any(cue in lower for cue in HANDLE_CUES):
        return
    for pattern in (CUED_HANDLE, HANDLE_BEFORE_PLATFORM):
        for m in linear.finditer(pattern, text):
            token = m.group("handle")
            quoted = pattern is HANDLE_BEFORE_PLATFORM or bool(m.group("quote"))
            if _looks_like_handle(token, quoted):
                index = pattern.groupindex["handle"]
                yield "handle", m.start(index), m.end(index)


def _looks_like_handle(token: str, quoted: bool) -> bool:
    """A user name, not an ordinary word: it has a digit, underscore, dot or '#', or odd capitals."""
    token = token.rstrip(".")
    if len(token) < 3:
        return False
    if HANDLE_MARK.search(token):
        return True
    return quoted or bool(ODD_CAPITALS.search(token))


def vehicle_registrations(text: str) -> Iterator[Span]:
    if not has_digit(text):
        return
    for start, end in linear.spans(CURRENT_REG, text, 1, linear.alnum):
        if text[start:end].isupper() or _cue_before(VEHICLE_CUE, text, start, VEHICLE_CUE_WINDOW):
            yield "vehicle_registration", start, end
    for start, end in linear.spans(OLDER_REG, text, 1, linear.alnum):
        if text[start:end].isupper() and _cue_before(VEHICLE_CUE, text, start, VEHICLE_CUE_WINDOW):
            yield "vehicle_registration", start, end


# In order of trust: a span found by an earlier detector is not reported again by a later one.
DETECTORS = (emails, upns, numbers, ni_numbers, dates_of_birth, postcodes, addresses, handles,
             vehicle_registrations)
