"""Terms of art in plain words, where they first appear on a screen. The terms come from the
flows' `glossary.yaml` (schema-checked with the flows); this finds them in text.

One compiled pattern of escaped literals, longest first, whole words, any case: its cost grows
with the text's length times the number of terms, never worse, on any input."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from bot.flows.schema import Glossary, GlossaryTerm


def _pattern(glossary: Glossary) -> tuple[re.Pattern[str] | None, dict[str, GlossaryTerm]]:
    by_word = {word.lower(): entry for entry in glossary.terms for word in (entry.term, *entry.also)}
    return _compiled(tuple(sorted(by_word, key=len, reverse=True))), by_word


@cache
def _compiled(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


def terms_in(texts: Iterable[str], glossary: Glossary, already: set[str] | None = None) -> list[GlossaryTerm]:
    """The glossary entries used in `texts`, in order of first use, skipping ids in `already`
    (and adding the new ones to it: a term is explained once per screen or session)."""
    pattern, by_word = _pattern(glossary)
    seen = already if already is not None else set()
    found: list[GlossaryTerm] = []
    if pattern is None:
        return found
    for text in texts:
        for match in pattern.finditer(text):
            entry = by_word[match.group(1).lower()]
            if entry.id not in seen:
                seen.add(entry.id)
                found.append(entry)
    return found


def explained(entry: GlossaryTerm) -> str:
    return f"{entry.term}: {entry.plain}"
