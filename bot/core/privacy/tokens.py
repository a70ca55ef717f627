"""A word of a note as the name finder reads it: shared by the finder (names.py) and the reading
of slots (context.py), so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.privacy.lexicon import Lexicon


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int  # end of the name itself, before a possessive 's
    word_end: int
    base: str  # without a possessive 's
    possessive: bool
    key: str  # folded: case-free, accent-free
    shape: str  # "title", "upper", "lower", or "other" (mixed case, or a script without case)
    latin: bool


class Finder(Protocol):
    """What the reading of slots needs from the name finder (NameFinder in names.py)."""

    text: str
    lex: Lexicon
    toks: list[Token]

    def is_first(self, tok: Token) -> bool: ...
    def is_name_word(self, tok: Token) -> bool: ...
    def is_english(self, tok: Token) -> bool: ...
    def is_ordinary(self, tok: Token) -> bool: ...
    def is_stop(self, tok: Token) -> bool: ...
    def is_place(self, tok: Token) -> bool: ...
    def capitalised(self, tok: Token) -> bool: ...
    def prev(self, i: int, back: int = 1) -> Token | None: ...
    def sentence_start(self, i: int) -> bool: ...
