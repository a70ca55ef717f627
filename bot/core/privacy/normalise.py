"""Clean typed text before it is scanned or stored.

People paste notes from case systems, emails and phones: the text can carry full-width digits,
ligatures, zero-width spaces that split an NHS number so that no pattern sees it, or bidi
overrides that make stored text read differently from what was typed. NFKC folds the look-alikes
to plain characters; format and control characters are then dropped (tabs and new lines stay).
"""

from __future__ import annotations

import unicodedata

KEPT_CONTROLS = frozenset("\n\t")


def normalise(text: str) -> str:
    """Unicode NFKC, with zero-width, bidi-override and other control characters removed."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch in KEPT_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cf"))
