"""Clean typed text before it is scanned or stored, and undo what hides an identifier from a scan.

`normalise` is what is stored: people paste notes from case systems, emails and phones, and the
text can carry full-width digits, ligatures, zero-width spaces that split an NHS number so that no
pattern sees it, or bidi overrides that make stored text read differently from what was typed.
NFKC folds the look-alikes to plain characters; format and control characters are then dropped
(tabs and new lines stay).

`for_matching` goes further, for the scan only: what people and evaders do to a number or a name
is undone, and every character keeps a link to where it came from, so that what is found is
masked whole in the text as typed:

- HTML entities decoded (`&#57;`, `&nbsp;`);
- letters from other scripts that look like Latin letters (Cyrillic "а", Greek "Μ") read as their
  Unicode TR39 skeleton (the confusables data of `confusable-homoglyphs`);
- every Unicode digit read as a digit (Arabic-Indic "٠٧٧"); emoji, keycaps, variation selectors and
  stray combining marks dropped, so "😀a😀y😀e" reads "aye" and "9️⃣" reads "9";
- single letters spaced out ("k a c p e r") joined;
- the letter O and l / I read as digits inside a run of digits ("o77oo 9oo 321").
"""

from __future__ import annotations

import bisect
import html
import unicodedata
from dataclasses import dataclass, field
from functools import cache

import bot.core.privacy.linear as linear

KEPT_CONTROLS = frozenset("\n\t")


def normalise(text: str) -> str:
    """Unicode NFKC, with zero-width, bidi-override and other control characters removed."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch in KEPT_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cf"))


# --- reading text as a scan should ----------------------------------------------------------------
ENTITY = linear.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
NOT_ASCII = linear.compile(r"[^\x00-\x7f]+")
# four or more single letters, each followed by one or two separators: "k a c p e r", "b-i-l-l"
SPACED_LETTERS = linear.compile(r"([A-Za-z](?:[ ._*|/\-]{1,2}[A-Za-z]){3,})(?:$|[^A-Za-z0-9])")
SEPARATOR = linear.compile(r"[ ._*|/\-]+")
# a run of digits with the letters O, l or I typed among them: "o77oo", "9oo", "077OO9OO555"
DIGIT_LOOKALIKES = linear.compile(r"([0-9OoIl]*[0-9][0-9OoIl]*)(?:$|[^A-Za-z0-9])")
# digits typed one by one with O or l among them: "O 7 7 O O 9 O O 1 2 3"
SPACED_DIGIT_LOOKALIKES = linear.compile(r"([0-9OoIl](?:[ .\-]{1,2}[0-9OoIl]){5,})(?:$|[^A-Za-z0-9])")
AS_DIGIT = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})
DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Sk", "So", "Cs", "Co", "Cn"})


@dataclass
class Folded:
    """Text as the scan reads it, with the way back to offsets in the text it was made from."""

    text: str
    _steps: list[_Step] = field(default_factory=list)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        for step in reversed(self._steps):
            start, end = step.back(start, end)
        return start, end


@dataclass
class _Step:
    """One rewrite: sorted pieces (new_start, new_end, old_start, old_end, same)."""

    new_starts: list[int]
    pieces: list[tuple[int, int, int, int, bool]]

    def _at(self, pos: int) -> tuple[int, int, int, int, bool]:
        return self.pieces[max(0, bisect.bisect_right(self.new_starts, pos) - 1)]

    def back(self, start: int, end: int) -> tuple[int, int]:
        new_start, _, old_start, _, same = self._at(start)
        first = old_start + (start - new_start) if same else old_start
        last_pos = max(start, end - 1)
        new_start, new_end, old_start, old_end, same = self._at(last_pos)
        last = old_start + (last_pos - new_start) + 1 if same else old_end
        return first, max(first, last)


def _rewrite(text: str, edits: list[tuple[int, int, str]]) -> tuple[str, _Step]:
    """Apply sorted, non-overlapping (start, end, replacement) edits; keep the way back."""
    out: list[str] = []
    starts: list[int] = []
    pieces: list[tuple[int, int, int, int, bool]] = []
    pos = new = 0

    def add(piece: str, old_start: int, old_end: int, same: bool) -> None:
        nonlocal new
        starts.append(new)
        pieces.append((new, new + len(piece), old_start, old_end, same))
        out.append(piece)
        new += len(piece)

    for start, end, replacement in edits:
        if start > pos:
            add(text[pos:start], pos, start, True)
        add(replacement, start, end, False)
        pos = end
    add(text[pos:], pos, len(text), True)
    return "".join(out), _Step(starts, pieces)


def for_matching(clean: str) -> Folded:
    """`clean` (already `normalise`d) as the scan reads it; see the module's docstring."""
    folded = Folded(clean)
    for edits_of in (_entities, _other_scripts, _spaced_letters, _digit_lookalikes):
        edits = edits_of(folded.text)
        if edits:
            folded.text, step = _rewrite(folded.text, edits)
            folded._steps.append(step)
    return folded


def _entities(text: str) -> list[tuple[int, int, str]]:
    if "&" not in text:
        return []
    edits = []
    for m in ENTITY.finditer(text):
        decoded = html.unescape(m.group(0))
        if decoded != m.group(0):
            decoded = unicodedata.normalize("NFKC", decoded).replace("\xa0", " ")
            edits.append((m.start(), m.end(), decoded))
    return edits


def _other_scripts(text: str) -> list[tuple[int, int, str]]:
    if text.isascii():
        return []
    edits = []
    for m in NOT_ASCII.finditer(text):
        for i in range(m.start(), m.end()):
            ch = text[i]
            read = _read_as(ch)
            if read != ch:
                edits.append((i, i + 1, read))
    return edits


@cache
def _read_as(ch: str) -> str:
    """What a non-ASCII character is read as: a digit, a Latin look-alike, nothing, or itself."""
    category = unicodedata.category(ch)
    if category == "Nd":
        return str(unicodedata.digit(ch))
    if category in DROPPED_CATEGORIES:
        return ""
    if category == "Zs":
        return " "
    if "\u00c0" <= ch <= "\u024f" and unicodedata.decomposition(ch):
        return ch  # an accented Latin letter in a real name ("ó", "ł", "ș"): kept as typed
    return _skeleton(ch) or ch


def is_dropped(ch: str) -> bool:
    """A character the scan reads as nothing (an emoji, a keycap's mark, a variation selector)."""
    return not ch.isascii() and _read_as(ch) == ""


@cache
def _confusables() -> dict[str, str]:
    """Each character that TR39 says looks like one plain ASCII letter or digit, mapped to it."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for ch, entries in confusables_data.items():
        if len(ch) != 1 or ch.isascii():
            continue
        for entry in entries:
            target = entry["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ch] = target
                break
    return table


def _skeleton(ch: str) -> str:
    table = _confusables()
    if ch in table:
        return table[ch]
    upper = ch.upper()
    if len(upper) == 1 and upper != ch and upper in table and table[upper].isalpha():
        return table[upper].lower()  # Cyrillic "к" is listed only as "К"
    return ""


def _spaced_letters(text: str) -> list[tuple[int, int, str]]:
    edits = []
    for start, end in linear.spans(SPACED_LETTERS, text, 1, str.isalpha):
        edits.append((start, end, SEPARATOR.sub("", text[start:end])))
    return edits


def _digit_lookalikes(text: str) -> list[tuple[int, int, str]]:
    edits: list[tuple[int, int, str]] = []
    if not any(ch in text for ch in "0123456789"):
        return edits
    for start, end in linear.spans(DIGIT_LOOKALIKES, text, 1, str.isalnum):
        token = text[start:end]
        if len(token) >= 2 and not token.isdigit():
            edits.append((start, end, token.translate(AS_DIGIT)))
    for start, end in linear.spans(SPACED_DIGIT_LOOKALIKES, text, 1, str.isalnum):
        chain = text[start:end]
        overlaps = any(a < end and start < b for a, b, _ in edits)
        if not overlaps and sum(ch.isdigit() for ch in chain) >= 4 and not chain.isdigit():
            edits.append((start, end, chain.translate(AS_DIGIT)))
    return sorted(edits)
