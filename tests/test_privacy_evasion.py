"""Each trick that hides an identifier from a plain pattern, and combinations of them: the guard
reads through it (issue 19), and the finding covers the whole identifier as typed, so that the
suggested edit leaves none of it behind."""

from __future__ import annotations

import pytest

from bot.core.privacy import MAX_TEXT_CHARS, TextTooLong, normalise, scan, suggest_edit

# (trick, text, kind, the identifier as typed)
EVASIONS = [
    ("Cyrillic look-alike letters", "Kасper's mum rang", "name", "Kасper"),
    ("Greek capital look-alike", "Μaisie's dad said", "name", "Μaisie"),
    ("script g (IPA)", "ɡrace's mum rang", "name", "ɡrace"),
    ("letters spaced out", "k a c p e r said mum hit him", "name", "k a c p e r"),
    ("letters with dots", "k.a.c.p.e.r said mum hit him", "name", "k.a.c.p.e.r"),
    ("letters with dashes", "b-i-l-l-y said he was scared", "name", "b-i-l-l-y"),
    ("emoji between letters", "K😀a😀c😀p😀e😀r's mum rang", "name", "K😀a😀c😀p😀e😀r"),
    ("emoji between digits", "mum 07700😀900😀123", "phone", "07700😀900😀123"),
    ("decimal HTML entity for a digit", "mum 0770&#48; 900123", "phone", "0770&#48; 900123"),
    ("hex HTML entity for a digit", "mum 0770&#x30; 900123", "phone", "0770&#x30; 900123"),
    ("&nbsp; between digit groups", "mum 07700&nbsp;900123", "phone", "07700&nbsp;900123"),
    ("zero-width spaces between digits", "NHS 943\u200b476\u200b5919", "nhs_number", "943\u200b476\u200b5919"),
    ("letter O for zero", "dad O77OO 9OO123", "phone", "O77OO 9OO123"),
    ("letter o for zero, lower case", "call nan on o77oo 9oo 321", "phone", "o77oo 9oo 321"),
    ("letter l for one", "dad 0770l 900123", "phone", "0770l 900123"),
    ("Arabic-Indic digits", "NHS ٩٤٣ ٤٧٦ ٥٩١٩", "nhs_number", "٩٤٣ ٤٧٦ ٥٩١٩"),
    ("Devanagari digits", "mum ०७७०० ९००१२३", "phone", "०७७०० ९००१२३"),
    ("full-width digits", "mum ０７７００ ９００１２３", "phone", "07700 900123"),
    ("keycap emoji digits", "nhs 9️⃣4️⃣3️⃣4️⃣7️⃣6️⃣5️⃣9️⃣1️⃣9️⃣", "nhs_number", "9️⃣4️⃣3️⃣4️⃣7️⃣6️⃣5️⃣9️⃣1️⃣9️⃣"),
    ("digits typed one by one", "dad on 0 7 7 0 0 9 0 0 1 2 3", "phone", "0 7 7 0 0 9 0 0 1 2 3"),
    ("digits with dashes between each", "nhs 9-4-3-4-7-6-5-9-1-9", "nhs_number", "9-4-3-4-7-6-5-9-1-9"),
    ("postcode with no space, lower case", "moved to m85rw last week", "postcode", "m85rw"),
    ("Cyrillic letter in an email", "email sаrah.p@example.org", "email", "sаrah.p@example.org"),
    # combinations
    ("Cyrillic and spaced out", "к а с р е r said mum hit him", "name", "к а с р е r"),
    ("letter O and spaced digits", "dad O 7 7 O O 9 O O 1 2 3", "phone", "O 7 7 O O 9 O O 1 2 3"),
    ("entity and Arabic-Indic digits", "NHS ٩٤٣&#32;٤٧٦ ٥٩١٩", "nhs_number", "٩٤٣&#32;٤٧٦ ٥٩١٩"),
    ("emoji and letter O", "mum O77OO😀9OO123", "phone", "O77OO😀9OO123"),
    ("zero-width and Cyrillic in a name", "Mа\u200bisie's dad said", "name", "Mаisie"),
    ("entity in a date of birth", "dob &#49;2/0&#51;/2014", "date_of_birth", "&#49;2/0&#51;/2014"),
    ("Cyrillic letter in a street", "lives at 4 ѕtation road", "address", "4 ѕtation road"),
]


@pytest.mark.parametrize(("trick", "text", "kind", "identifier"), EVASIONS, ids=[e[0] for e in EVASIONS])
def test_each_trick_is_read_through_and_masked_whole(trick, text, kind, identifier):
    clean = normalise(text)
    at = clean.find(normalise(identifier))
    assert at >= 0
    covering = [f for f in scan(text) if f.start <= at and at + len(normalise(identifier)) <= f.end]
    assert [f.kind for f in covering] == [kind], trick
    edit = suggest_edit(text)
    assert normalise(identifier) not in edit


@pytest.mark.parametrize("text", [
    "concerns raised about attendance this term",
    "Storm Darragh closed the school",
    "hoy is aware and monitoring",
    "he moved to a resi placement",
    "room 4 at 2pm for the meeting",
    "year 10 assembly on online safety",
    "section 47 s47 s17 and s16la",
])
def test_false_alarm_bait_is_left_alone(text):
    assert scan(text) == []


def test_text_longer_than_any_entry_point_allows_is_refused_not_scanned():
    with pytest.raises(TextTooLong):
        scan("1" * (MAX_TEXT_CHARS + 1))


def test_the_longest_allowed_text_of_each_shape_is_scanned():
    """Runs of digits, letters, @, dots and spaces at the limit are read (their speed is measured in
    bench/privacy_speed.py, not here)."""
    for unit in ("1", "a", "@", ".", " ", "0 7 ", "k a ", "&#57;", "Ab "):
        text = (unit * MAX_TEXT_CHARS)[:MAX_TEXT_CHARS]
        assert isinstance(scan(text), list)


def test_the_screen_never_hides_a_pattern_that_matches():
    """The one-pass screen of the whole-text patterns (an RE2 set) must say yes wherever a pattern
    matches: otherwise a detector would skip an identifier."""
    import re2

    from bot.core.privacy import jigsaw, linear, structured
    from bot.core.privacy.normalise import for_matching

    patterns = [v for module in (structured, jigsaw) for v in vars(module).values()
                if isinstance(v, re2._Regexp) and id(v) in linear._SCREENED]
    assert len(patterns) >= 20
    texts = [text for _, text, _, _ in EVASIONS] + [
        "DOB 12/03/2015, lives at 27 hazel drive, M1 1AE; UPN B801200005001; NI AB 12 34 56 C",
        "snap is lil_kaz07, email kayla.m88@gmail.com, silver Golf AB12 CDE, year 4 at St Mary's",
        "flat 2 the old mill, rose cottage, church lane, 102 Kingsway", "nothing to see here"]
    for text in texts:
        read = for_matching(normalise(text)).text
        for pattern in patterns:
            if pattern.search(read):
                assert linear.may_match(pattern, read), (pattern.pattern, text)
