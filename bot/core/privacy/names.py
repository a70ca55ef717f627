"""People's names, as safeguarding staff actually type them.

A name list alone flags half the hospitals in England and misses "spoke to jane smith", so each
candidate is weighed against its context:

- strong cues make a word a name even when it is also an ordinary word or missing from the lists:
  a title in any case ("mrs fitzgerald", "PC 1234 Jones"), a kinship or role word ("baby Ezra",
  "her brother Alfie", "STEPFATHER: DARREN HOLLOWAY"), "called"/"named"/"known as", a possessive
  followed by a person ("Will's mum"), "the Brennan family", "Smith, Jane", "J. Smith", an age
  after it ("Zainab, 15"), or a sentence that starts with it and goes on with a verb ("Hope told");
- weaker evidence is enough for words that are only names: a known first name alone, a first name
  next to a surname, a pair of lower-case names;
- stop-lists win over the name lists: organisations and programmes (a run of capitalised words
  that ends in School, Hospital, House, Trust ... or starts with St, Royal, Operation ...), places
  (UK towns, counties, countries), and the domain's own vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import bot.core.privacy.linear as linear
from bot.core.privacy.context import context_names, widen
from bot.core.privacy.lexicon import Lexicon, fold, lexicon
from bot.core.privacy.tokens import Token
from bot.core.privacy.vocabulary import (
    CALLED,
    KIN,
    PERSON_AFTER_POSSESSIVE,
    PERSON_VERBS,
    TITLES,
    TITLES_NEEDING_CAPITAL,
    WEAK_VERBS,
)

Span = tuple[str, int, int]

# Letters with inner apostrophes and hyphens; never part of a code such as "077edd6f" or "s16LA".

# Inner capitals that names have: McDonald, MacKenzie, DeShawn, LaToya, O'Neill (others, like
# "DfE" or "iPad", are not names).
NAME_PREFIX = linear.compile(r"^(Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|Fitz|[\pL\pN_]['’])\pL")

PARTICLES = frozenset(
    """van von der den de da di du del della le la bin bint ibn al el ni nic o ua mac ap ben abu
    binti""".split()
)
ORG_SUFFIXES = frozenset(
    """school schools academy academy's primary infants infant juniors junior nursery college university
    high grammar hospital hospitals infirmary hospice house centre center clinic surgery practice
    trust foundation partnership council borough county police constabulary service services team
    unit ward wing lodge park road street lane avenue drive close way crescent court grove place
    square church chapel cathedral mosque temple gurdwara synagogue club fc afc united city rovers
    athletic scouts guides brigade society charity project programme approach law principle
    principles guardian competence guidelines guideline report review inquiry procedures act order
    federation group network hub room class cottage ambulance line aid institute board panel mash
    library museum gallery theatre stadium station airport prison college's centre's
    camhs nhs icb ltd limited plc cic safeguarding health medical integrated teaching royal
    children's youth community trust's hospital's school's""".split()
)
LOWER_CASE_ORG_SUFFIXES = frozenset(
    "class room ward group guidelines guideline competence principle principles law report review".split()
)
ORG_PREFIXES = frozenset(
    """st saint royal great queen queen's king king's prince prince's princess duke duchess sir lady
    bishop archbishop cardinal mount lake port fort camp operation our""".split()
)
CONNECTORS = frozenset("& and of the for on upon in".split())
FUNCTION_WORDS = frozenset(
    """a an the this that these those he she they we i it his her their our my your its him them us me
    and but or so if then when where why what who how after before at to from for with by of about
    via on in into out over under up down is was are were be been has have had do does did not no
    yes all any some there here as than also just only very too could would should again still""".split()
)
LOOK_BACK = 40  # characters of context read before a word
AGE_AFTER = linear.compile(
    r"^\s*(?:,\s*|\()(?:aged\s+)?[0-9]{1,2}\b|^\s*,?\s*aged\s+[0-9]"
    r"|^\s*\((?:mum|dad|mother|father|y[0-9])",
    True,
)
# "worried about Ruby", "spoke to Amber": a capitalised word here is a person even if it is also a word.
PERSON_OBJECT_CUE = linear.compile(
    r"\b(?:(?:worried|concerned|concerns?|worry|spoke|speak|speaking|talked|talking|chatted|met|meeting)"
    r"\s+(?:about|to|with|for)|told|asked|saw|seen|visited|collected|phoned|rang|texted|emailed|met)\s+$",
    True,
)
INITIAL_BEFORE = linear.compile(r"(?:^|[^\w.])([A-Z]\.?\s+)$")  # "J. Smith", "K Adeyemi"
ACRONYM_PLURAL = linear.compile(r"[A-Z]{2,}s")
NAME_PREFIX_KEY = linear.compile(r"(?:o'|d'|mc|mac|fitz)\w{3,}")
TITLE_GAP = linear.compile(r"\.?\s+(?:[0-9]{1,6}\s+)?")
KIN_GAP = linear.compile(r"\s*[:,(]?\s*")
CALLED_GAP = linear.compile(r"\s+['\"‘“]?")
RUN_GAP = linear.compile(r"\s+|\s*,\s+")


@lru_cache(maxsize=16384)
def _gap_is(pattern: linear.Pattern, gap: str) -> bool:
    """Whether a short gap between two words matches: gaps repeat (" ", ", "), so each is matched once."""
    return pattern.fullmatch(gap) is not None


def _ends_sentence(window: str) -> bool:
    """The window ends a sentence or a line ("... said.", "\n", " - ", "("): SENTENCE_END, by hand."""
    rest = window.rstrip(" \t\f\r")
    if not rest:
        return False
    return rest[-1] in ".!?;:\n•*(" or (rest[-1] in "-–—" and len(rest) > 1 and rest[-2] in " \t\n\f\r")


@lru_cache(maxsize=16384)
def _shape(word: str) -> str:
    letters = [c for c in word if c.isalpha()]
    if not letters or not any(c.isupper() or c.islower() for c in letters):
        return "other"  # a script without case, such as Arabic
    if all(c.isupper() for c in letters):
        return "upper" if len(letters) > 1 else "title"
    if word[-1:] == "s" and word[:1].isupper() and ACRONYM_PLURAL.fullmatch(word):
        return "upper"  # an acronym's plural: LAs, GPs, YOTs
    if letters[0].isupper():
        parts = word.split("-")
        return "title" if all(_name_capitals(p) or not p[:1].isupper() for p in parts) else "other"
    return "lower" if all(c.islower() for c in letters) else "other"


def _name_capitals(part: str) -> bool:
    prefix = NAME_PREFIX.match(part) if any(c.isupper() for c in part[1:]) else None
    cut = prefix.end(1) if prefix else 0
    rest = part[cut:] if prefix and part[cut:][:1].isupper() else part
    return rest[:1].isupper() and not any(c.isupper() for c in rest[1:])


def _latin(word: str) -> bool:
    return all(c < "\u0250" or "\u1e00" <= c <= "\u1eff" for c in word if c.isalpha())


def tokens(text: str) -> list[Token]:
    out = []
    for start, end in _words(text):
        if start >= 2 and text[start - 1] in ".@/" and (text[start - 2].isalnum() or text[start - 2] == "_") \
                and (text[start - 1] != "." or (start >= 3 and text[start - 3].isalnum())):
            continue  # "example.org", "a@b", "and/or": part of an address or a code
        word = text[start:end]
        base, possessive, key, shape, latin = _facts(word)
        out.append(Token(word, start, start + len(base), end, base, possessive, key, shape, latin))
    return out


@lru_cache(maxsize=16384)
def _facts(word: str) -> tuple[str, bool, str, str, bool]:
    """What a word is, worked out once per distinct word: notes repeat their words."""
    possessive = word[-2:].lower() in ("'s", "’s") and len(word) > 3
    base = word[:-2] if possessive else word
    return base, possessive, fold(base), _shape(base), _latin(base)


@lru_cache(maxsize=16384)
def _parts(key: str) -> tuple[str, ...]:
    return tuple(p for p in key.split("-") if p)


def _glued(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _words(text: str) -> Iterator[tuple[int, int]]:
    """What WORD matches, read by hand in one pass (a scanner is linear by construction, and cheaper
    than one regex match a word): letters with inner apostrophes and hyphens, never glued to a digit
    or an underscore ("077edd6f", "s16LA", "user_name")."""
    n, i = len(text), 0
    while i < n:
        if not text[i].isalpha():
            i += 1
            while i < n and text[i] == " ":
                i += 1
            continue
        start = i
        while i < n:
            if text[i].isalpha():
                i += 1
            elif text[i] in "'’-" and i + 1 < n and text[i + 1].isalpha():
                i += 1
            else:
                break
        glued = (i < n and _glued(text[i])) or (start > 0 and _glued(text[start - 1]))
        if glued:
            while i < n and (_glued(text[i]) or text[i] in "'’-"):
                i += 1  # the rest of a code: none of it is a word
            continue
        yield start, i


class NameFinder:
    """One pass over one text; `spans()` yields ("name", start, end) for each name."""

    def __init__(self, text: str, words: Lexicon | None = None):
        self.text = text
        self.lex = words or lexicon()
        self.toks = tokens(text)

    # --- what a word is -------------------------------------------------------------------------
    def parts(self, tok: Token) -> tuple[str, ...]:
        return _parts(tok.key)

    def _in(self, group: frozenset[str], tok: Token) -> bool:
        parts = self.parts(tok)
        if len(parts) == 1:
            key = parts[0]
            return key in group or (key[:2] in ("o'", "d'") and key[2:] in group)
        named = [p in group or p in self.lex.first_names or p in self.lex.surnames or p in PARTICLES
                 or (p[:2] in ("o'", "d'") and len(p) > 3) for p in parts]
        return all(named) and any(p in group for p in parts)

    def is_first(self, tok: Token) -> bool:
        return self._in(self.lex.first_names, tok)

    def is_surname(self, tok: Token) -> bool:
        key = tok.key
        if key[:1] in "odmf" and tok.shape == "title" and NAME_PREFIX_KEY.fullmatch(key):
            return True
        return self._in(self.lex.surnames, tok)

    def is_name_word(self, tok: Token) -> bool:
        return self.is_first(tok) or self.is_surname(tok)

    def is_english(self, tok: Token) -> bool:
        """An ordinary lower-case English word ("protection", "meeting"), whatever its case here."""
        return all(p in self.lex.english_words for p in self.parts(tok))

    def is_ordinary(self, tok: Token) -> bool:
        """A name that is also an ordinary word (Will, Hope, Amber): it needs a stronger cue."""
        return "-" not in tok.key and tok.key in self.lex.english_words

    def is_stop(self, tok: Token) -> bool:
        key = tok.text.casefold().replace("’", "'")
        return (key in self.lex.not_names or tok.key in self.lex.not_names or tok.key in FUNCTION_WORDS
                or key in ORG_PREFIXES)

    def plain_word(self, tok: Token) -> bool:
        return self.is_english(tok) and not self.is_name_word(tok)

    def is_place(self, tok: Token) -> bool:
        return tok.key in self.lex.places

    def capitalised(self, tok: Token) -> bool:
        return tok.shape in ("title", "upper")

    # --- context --------------------------------------------------------------------------------
    def before(self, i: int) -> str:
        if i >= len(self.toks):
            return ""
        return self.text[self.toks[i - 1].word_end if i else 0: self.toks[i].start]

    def prev(self, i: int, back: int = 1) -> Token | None:
        j = i - back
        return self.toks[j] if j >= 0 else None

    def window(self, end: int) -> str:
        """The text just before `end`, with a line break standing for the start of the text."""
        start = max(0, end - LOOK_BACK)
        return ("\n" if start == 0 else "") + self.text[start:end]

    def sentence_start(self, i: int) -> bool:
        return _ends_sentence(self.window(self.toks[i].start))

    def title_before(self, i: int, after_title_word: bool = False) -> int | None:
        """Start offset of a title directly before token i ("Mrs", "PC 1234", "dr"), if any. A title
        that is also a word ("miss") counts in lower case only before a name that is not a word."""
        j = i - 1
        if j < 0:
            return None
        gap = self.text[self.toks[j].word_end: self.toks[i].start]
        if not _gap_is(TITLE_GAP, gap):
            return None
        title = self.toks[j]
        key = title.text.casefold()
        if key in TITLES_NEEDING_CAPITAL and title.shape == "lower" and not after_title_word:
            return None
        if key not in TITLES:
            return None
        return title.start

    def kin_before(self, i: int) -> bool:
        p = self.prev(i)
        if p is None:
            return False
        gap = self.text[p.word_end: self.toks[i].start]
        key = p.text.casefold()
        if key in KIN and _gap_is(KIN_GAP, gap):
            return True
        if key in CALLED and _gap_is(CALLED_GAP, gap):
            return True
        pp = self.prev(i, 2)
        return bool(pp and pp.text.casefold() == "known" and key == "as" and gap.strip() == "")

    def called_before(self, i: int) -> bool:
        p = self.prev(i)
        return bool(p and p.text.casefold() in CALLED
                    and _gap_is(CALLED_GAP, self.text[p.word_end: self.toks[i].start]))

    def family_after(self, i: int) -> bool:
        p = self.prev(i)
        nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
        return bool(p and p.text.casefold() == "the" and nxt and nxt.text.casefold() in ("family", "families")
                    and nxt.shape == "lower")

    def person_after(self, i: int, end: int) -> bool:
        tok = self.toks[i]
        if tok.possessive:
            nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
            return bool(nxt and nxt.text.casefold() in PERSON_AFTER_POSSESSIVE)
        after = self.text[end: end + 16]
        return after.lstrip()[:1] in (",", "(", "a", "A") and bool(AGE_AFTER.match(after))

    def verb_after(self, i: int) -> bool:
        nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
        if not nxt or self.text[self.toks[i].word_end: nxt.start].strip():
            return False
        return nxt.text.casefold().replace("’", "'") in PERSON_VERBS

    # --- runs of capitalised words --------------------------------------------------------------
    def runs(self) -> Iterator[list[int]]:
        """Indexes of adjacent capitalised words (with particles such as 'van der', 'Ní')."""
        run: list[int] = []
        for i, tok in enumerate(self.toks):
            joined = bool(run) and _gap_is(RUN_GAP, self.before(i))
            if joined and "," in self.before(i) and not self._comma_name(run, i):
                joined = False
            if self.capitalised(tok) or (run and joined and tok.key in PARTICLES):
                if run and not joined:
                    yield run
                    run = []
                run.append(i)
            else:
                if run:
                    yield run
                run = []
        if run:
            yield run

    def _comma_name(self, run: list[int], i: int) -> bool:
        """'Smith, Jane': a surname, a comma, a first name."""
        return len(run) == 1 and self.is_surname(self.toks[run[0]]) and self.is_first(self.toks[i])

    def is_organisation(self, run: list[int]) -> bool:
        """Capitalised words that name a place of work or a programme: 'Royal Manchester Children's
        Hospital', 'Helen & Douglas House', 'St Anne's Primary', 'Operation Encompass'."""
        first, last = run[0], run[-1]
        # extend backwards over connectors and capitalised words ("Helen & Douglas House")
        j = first
        while j > 0 and self.text[self.toks[j - 1].word_end: self.toks[j].start].strip() in ("", "&"):
            k = j - 1
            if self.toks[k].key in CONNECTORS and k > 0 and self.capitalised(self.toks[k - 1]):
                j = k - 1
            elif self.capitalised(self.toks[k]) and self.toks[k].key not in CONNECTORS:
                j = k
            else:
                break
        if self.toks[j].text.casefold().replace("’", "'") in ORG_PREFIXES:
            return True
        if any(self.toks[k].key in ORG_SUFFIXES for k in run[1:]):
            return True
        # look forwards past connectors for a suffix: "Helen & Douglas House", "Ruby Class"
        k = last + 1
        while k < len(self.toks):
            tok, gap = self.toks[k], self.text[self.toks[k - 1].word_end: self.toks[k].start]
            if gap.strip() not in ("", "&"):
                return False
            if tok.key in ORG_SUFFIXES and (self.capitalised(tok) or tok.key in LOWER_CASE_ORG_SUFFIXES):
                return True
            if tok.key in CONNECTORS or self.capitalised(tok):
                k += 1
                continue
            return False
        return False

    def is_place_run(self, run: list[int]) -> bool:
        phrase = fold(self.text[self.toks[run[0]].start: self.toks[run[-1]].end])
        if phrase in self.lex.places:
            return True
        return all(self.is_place(self.toks[k]) or self.is_stop(self.toks[k]) for k in run)

    # --- decisions ------------------------------------------------------------------------------
    def spans(self) -> Iterator[Span]:
        taken: set[int] = set()
        for run in self.runs():
            for start, end, members in self.names_in_run(run):
                taken.update(members)
                yield "name", start, end
        for i, tok in enumerate(self.toks):
            if i in taken or self.capitalised(tok):
                continue
            found = self.lower_case_name(i) if tok.latin else self.other_script_name(i, taken)
            if found:
                first, last = widen(self, min(found[2]), max(found[2]))
                taken.update(range(first, last + 1))
                start = min(found[0], self.toks[first].start)
                yield "name", start, max(found[1], self.toks[last].end)
        for first, last in context_names(self, taken):
            if any(k in taken for k in range(first, last + 1)):
                continue
            taken.update(range(first, last + 1))
            yield "name", self.toks[first].start, self.toks[last].end

    def names_in_run(self, run: list[int]) -> Iterator[tuple[int, int, list[int]]]:
        # split the run at stop words and titles; each piece is judged on its own
        pieces, piece = [], []
        for k in run:
            tok = self.toks[k]
            if self.is_stop(tok) or tok.text.casefold() in TITLES or tok.key in CONNECTORS:
                if piece:
                    pieces.append(piece)
                piece = []
            else:
                piece.append(k)
        if piece:
            pieces.append(piece)
        for piece in pieces:
            if self.is_organisation(piece):
                continue
            # leading and trailing particles or plain words ("Told Jane Smith") are not part of the name
            while piece and (self.toks[piece[-1]].key in PARTICLES or self.plain_word(self.toks[piece[-1]])):
                piece = piece[:-1]
            while len(piece) > 1 and self.plain_word(self.toks[piece[0]]):
                piece = piece[1:]
            if piece and self.is_name(piece):
                first, last = piece[0], piece[-1]
                start = self.title_before(first)
                window = self.window(self.toks[first].start)
                single = first > 0 and len(self.toks[first - 1].text) == 1
                initial = INITIAL_BEFORE.search(window) if single else None
                if start is None and initial and len(piece) == 1:
                    start = self.toks[first].start - (len(window) - initial.start(1))
                yield (start if start is not None else self.toks[first].start), self.toks[last].end, piece

    def is_name(self, piece: list[int]) -> bool:
        toks = [self.toks[k] for k in piece]
        first_i, last_i = piece[0], piece[-1]
        lead = toks[0]
        strong = (self.title_before(first_i) is not None or self.kin_before(first_i)
                  or self.family_after(last_i) or self.person_after(last_i, toks[-1].end)
                  or (len(piece) == 1 and self.initial_before(first_i)))
        if lead.key == "storm" and len(piece) == 2 and not self.verb_after(last_i):
            return False  # "Storm Darragh closed the school": a named storm, not a person
        place = self.is_place_run(piece)
        if place and len(piece) == 1 and self.is_first(lead) and self.verb_after(first_i) \
                and self.toks[first_i + 1].text.casefold() not in WEAK_VERBS:
            return True  # "Jordan said": places do not say things
        if strong:
            plausible = all((self.is_name_word(t) and not (self.is_ordinary(t) and len(piece) > 1))
                            or not self.is_english(t) or self.kin_before(first_i) and self.is_name_word(t)
                            or t.key in PARTICLES for t in toks)
            if self.title_before(first_i) is not None:
                return plausible or lead.shape == "upper"
            if lead.shape == "upper" and not all(self.is_name_word(t) or t.key in PARTICLES for t in toks):
                return False  # "pupil UPN", "baby NICU": an acronym after the cue
            return plausible and not (place and lead.shape == "upper")
        if place:
            return False
        if all(t.shape == "upper" for t in toks) and len(piece) == 1:
            return False  # an acronym, unless a cue says otherwise
        firsts = [t for t in toks if self.is_first(t) and not self.is_ordinary(t)]
        surnames = [t for t in toks if self.is_surname(t) and not self.is_ordinary(t)]
        named = [t for t in toks if self.is_name_word(t)]
        if len(piece) >= 2:
            if firsts and not self.is_place(lead):
                return True
            if "," in self.text[lead.end: toks[-1].start]:
                return bool(firsts or surnames)
            return len(surnames) >= 1 and len(named) >= 2
        # a single capitalised word
        at_start = self.sentence_start(first_i)
        if firsts:
            return True
        if named and at_start and self.verb_after(first_i) \
                and not (self.is_ordinary(lead) and self.toks[first_i + 1].text.casefold() in WEAK_VERBS):
            return True  # "Hope told the nurse", "Will said"
        if named and lead.shape == "title" and not at_start \
                and PERSON_OBJECT_CUE.search(self.text[max(0, lead.start - 30): lead.start]):
            return True  # "worried about Ruby"
        if surnames and not at_start:
            return True
        return bool(lead.possessive and self.person_after(first_i, lead.end) and lead.shape == "title"
                    and not self.is_ordinary(lead))

    def initial_before(self, i: int) -> bool:
        tok = self.toks[i]
        return i > 0 and len(self.toks[i - 1].text) == 1 and self.is_surname(tok) \
            and bool(INITIAL_BEFORE.search(self.window(tok.start)))

    def lower_case_name(self, i: int) -> tuple[int, int, list[int]] | None:
        tok = self.toks[i]
        if tok.shape != "lower" or self.is_stop(tok) or self.is_place(tok):
            return None
        nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
        joined = nxt is not None and self.text[tok.word_end: nxt.start] == " " and nxt.shape == "lower" \
            and not self.is_stop(nxt) and self.is_name_word(nxt)
        unknown = not self.is_english(tok) and len(tok.key) >= 4  # not a word: "miss okoye"
        title = self.title_before(i, after_title_word=unknown)
        named = self.is_name_word(tok) and not self.is_ordinary(tok) or (title is not None and unknown)
        called = self.called_before(i) and not self.is_english(tok)
        if (title is not None or self.kin_before(i) or self.family_after(i)) and named or called:
            end_i = i + 1 if joined else i
            start = title if title is not None else tok.start
            return start, self.toks[end_i].end, list(range(i, end_i + 1))
        if self.is_first(tok) and not self.is_ordinary(tok) and not self.is_english(tok):
            end_i = i + 1 if joined else i
            return tok.start, self.toks[end_i].end, list(range(i, end_i + 1))
        return None

    def other_script_name(self, i: int, taken: set[int]) -> tuple[int, int, list[int]] | None:
        """Words in a script without capitals (Arabic, for example) inside an English note: a run of
        up to four of them is almost always a name."""
        run = [i]
        while run[-1] + 1 < len(self.toks) and not self.toks[run[-1] + 1].latin and len(run) < 4 \
                and self.text[self.toks[run[-1]].word_end: self.toks[run[-1] + 1].start].strip() == "":
            run.append(run[-1] + 1)
        if i > 0 and not self.toks[i - 1].latin and (i - 1) in taken:
            return None
        toks = [self.toks[k] for k in run]
        if len(run) >= 2 or any(self.is_name_word(t) for t in toks):
            return toks[0].start, toks[-1].end, run
        return None


def names(text: str) -> Iterator[Span]:
    yield from NameFinder(text).spans()
