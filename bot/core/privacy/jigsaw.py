"""Details that identify a child together though none does alone: a school and a year group.

"the only girl in year 4 at St Mary's with a cochlear implant" names nobody, yet everyone at the
school knows who it is. A year group next to a named school narrows a note to one class; any further
detail then points at one child, so the pair is flagged as "may identify together".
"""

from __future__ import annotations

from collections.abc import Iterator

import bot.core.privacy.linear as linear
from bot.core.privacy.structured import has_digit

Span = tuple[str, int, int]

NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
YEAR_GROUP = linear.compile(
    rf"\b((?:year|yr|y)\s?(?:1[0-3]|[1-9]|{NUMBER_WORDS})|reception|nursery|sixth\s+form|p[1-7]|s[1-6])\b",
    True,
    screened=True,
)
SCHOOL_WORDS = (r"primary|school|academy|high|college|infants|juniors|junior|grammar|secondary|c\.?\s?of\s?e"
                r"|rc|nursery|prep|free\s+school|studio\s+school|pru|ark|catholic|community\s+school")
_NAME = r"[\pL'’-]+"
AFTER_YEAR = linear.compile(
    r"^\s*(?:(?:boy|girl|pupil|child|lad|lass|twins?|student|kid|sibling)s?\s+)?(?:at|in|from|@)\s+(?:the\s+)?"
    rf"((?:st\.?|saint)\s+{_NAME}|(?:{_NAME}\s+){{0,3}}(?:{SCHOOL_WORDS})\b|({_NAME}(?:\s+{_NAME})?)"
    r"(?:\s+(?:who|whose|with|that|where)\b|,))",
    True,
)
NOT_SCHOOLS = frozenset(
    """home school class lunch break assembly the a an his her their my our this that it town care hospital
    bed foster custody court detention isolation""".split()
)


def jigsaws(text: str) -> Iterator[Span]:
    lower = text.lower()
    if not has_digit(text) and not any(w in lower for w in ("reception", "nursery", "sixth")):
        return
    for start, end in linear.spans(YEAR_GROUP, text, 1):
        m = AFTER_YEAR.search(text[end:end + 80])
        if not m:
            continue
        school = m.group(1)
        generic = m.group(2)
        if generic is not None and generic.split()[0].lower() in NOT_SCHOOLS:
            continue
        stop = end + (m.end(2) if generic is not None else m.end(1))
        yield "jigsaw", start, stop if school else end
