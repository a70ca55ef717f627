"""Every pattern of the identifier guard goes through here, so that each runs in linear time.

The guard scans whatever a person types or pastes, up to Slack's 40,000 characters, before anyone
else's message is answered. Python's `re` backtracks: one pattern that is quadratic on a run of
digits stalled the bot for everyone (issue 19). RE2 (`google-re2`) compiles a pattern to an
automaton and never backtracks, so a scan costs time in proportion to the text, whatever the text;
patterns it cannot run that way (look-arounds, back-references) fail to compile instead of running
slowly. Look-arounds are written as a consumed boundary outside the reported group, or as a check
of the one character before a match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import re2

Pattern = re2._Regexp

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 64 << 20  # a big alternation of words (street types) needs more than the 8 MiB default
_OPTIONS.log_errors = False


_SCREENED: dict[int, int] = {}  # id of a screened pattern -> its index in the screen
_SCREEN_PATTERNS: list[str] = []
_screen: list[re2.Set] = []
_last_screened: tuple[str | None, frozenset[int]] = (None, frozenset())


def compile(pattern: str, ignore_case: bool = False, screened: bool = False) -> Pattern:  # noqa: A001
    """A linear-time pattern; `ignore_case` rather than `re.I`, which RE2 does not take. A `screened`
    pattern is one that reads a whole text: all of them are tried together in one pass first
    (an RE2 set), and `finditer` and `spans` skip those that match nowhere in it."""
    compiled = re2.compile(f"(?i){pattern}" if ignore_case else pattern, _OPTIONS)
    if screened and id(compiled) not in _SCREENED:
        _SCREENED[id(compiled)] = len(_SCREEN_PATTERNS)
        _SCREEN_PATTERNS.append(compiled.pattern)
        _screen.clear()
    return compiled


def _present(text: str) -> frozenset[int]:
    """Indexes of the screened patterns that match somewhere in `text`: one pass for all of them.
    The answer for the last text is kept, since every detector reads the same text in turn."""
    global _last_screened
    last_text, last_found = _last_screened
    if last_text is text:
        return last_found
    if not _screen:
        screen = re2.Set.SearchSet(_OPTIONS)
        for pattern in _SCREEN_PATTERNS:
            screen.Add(pattern)
        screen.Compile()
        _screen.append(screen)
    found = frozenset(_screen[0].Match(text) or ())
    _last_screened = (text, found)
    return found


# Longer texts skip the screen: a set of patterns needs more automaton memory on a long text, and a
# screen that ran out of it would say that nothing matches.
SCREEN_MAX_CHARS = 4000


def may_match(pattern: Pattern, text: str) -> bool:
    index = _SCREENED.get(id(pattern))
    return index is None or len(text) > SCREEN_MAX_CHARS or index in _present(text)


def finditer(pattern: Pattern, text: str) -> Iterator[re2._Match]:
    """`pattern.finditer(text)`, skipped at once when the screen says it matches nowhere."""
    return pattern.finditer(text) if may_match(pattern, text) else iter(())


def alternation(words: object) -> str:
    """`a|b|c` for a set of literal words, longest first so that "avenue" is tried before "ave"."""
    return "|".join(re2.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def spans(pattern: Pattern, text: str, group: str | int = 0,
          not_after: Callable[[str], bool] | None = None) -> Iterator[tuple[int, int]]:
    """Start and end of `group` in each match, skipping a match whose group comes right after a
    character for which `not_after` is true (what a look-behind did). A look-ahead is written in the
    pattern as a consumed boundary after the group: `(?:$|[^0-9])`."""
    index = pattern.groupindex[group] if isinstance(group, str) else group
    for m in finditer(pattern, text):
        start, end = m.span(index)
        if start < 0:
            continue
        if not_after is not None and start > 0 and not_after(text[start - 1]):
            continue
        yield start, end


def alnum(ch: str) -> bool:
    return ch.isalnum()


def word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
