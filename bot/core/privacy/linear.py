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


def compile(pattern: str, ignore_case: bool = False) -> Pattern:  # noqa: A001 - mirrors re.compile
    """A linear-time pattern; `ignore_case` rather than `re.I`, which RE2 does not take."""
    return re2.compile(f"(?i){pattern}" if ignore_case else pattern, _OPTIONS)


def alternation(words: object) -> str:
    """`a|b|c` for a set of literal words, longest first so that "avenue" is tried before "ave"."""
    return "|".join(re2.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def spans(pattern: Pattern, text: str, group: str | int = 0,
          not_after: Callable[[str], bool] | None = None) -> Iterator[tuple[int, int]]:
    """Start and end of `group` in each match, skipping a match whose group comes right after a
    character for which `not_after` is true (what a look-behind did). A look-ahead is written in the
    pattern as a consumed boundary after the group: `(?:$|[^0-9])`."""
    index = pattern.groupindex[group] if isinstance(group, str) else group
    for m in pattern.finditer(text):
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
