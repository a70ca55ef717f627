"""Names found by the slot they stand in, whatever the word is otherwise.

A name list cannot hold every child's name, and many names are ordinary words (Grace, Hope, Bill,
Precious, Storm). Staff notes put people in a few slots that things do not stand in: the subject
of "said" or "told" ("tharshan said", "hope told the dinner lady"), the owner of a mum or a
bedroom ("filmon's foster carer", "hetal patels mum"), the object of "told", "spoke to", "worried
about" when a clause follows ("told faith we would ..."), an age in brackets ("precious (9)"), "X
and her brother", a title before an initial ("mr o"), initials that act ("JB said"). A word in such
a slot is a name unless it is a role, a kinship word, a pronoun or a word of the trade (the
stop-lists), or a determiner stands before it ("the boy said"). Every name found is then widened
to the whole name: particles and the words around it that are names or no English word ("aoife ni
bhriain", "nguyen van minh", "mason b"), so that nothing of it is left behind.
"""

from __future__ import annotations

import bot.core.privacy.linear as linear
from bot.core.privacy.tokens import Finder, Token
from bot.core.privacy.vocabulary import KIN, PERSON_AFTER_POSSESSIVE, PERSON_VERBS, TITLES, WEAK_VERBS

DETERMINERS = frozenset(
    "the a an his her their my our your its this that these those every each no any some one another other"
    " whose which".split()
)
# Who or what else says and does things in a note: never a name in these slots.
NOT_PEOPLE = frozenset(
    """he she they we i you it him them us me hes shes theyre everyone someone somebody anyone anybody nobody
    noone people person kids kid family families adult adults man woman lady men women lad lads lass staff
    pupil pupils class school schools office reception who which what there here professional
    professionals agency agencies colleague colleagues manager team police service services council
    nurse gp doctor hv sw dsl ta teacher teachers tutor head parent parents carer carers worker workers
    mother father sibling siblings student students child children boy girl boys girls baby babies
    all both none many most few several others other another also then now today yesterday tomorrow
    something nothing anything everything home work house whoever whatever""".split()
)
# What only a person does: enough to make an ordinary word ("hope", "bill") a name in the subject slot.
SPEECH_VERBS = frozenset(
    """said says told tells disclosed discloses reported stated explained asked cried shouted screamed
    admitted denied alleged punched kicked smacked grabbed threatened phoned rang texted messaged spoke
    complained mentioned""".split()
)
CLAUSE_JOINERS = frozenset("and but then so because cos coz when while as that if until after before".split())
AUXILIARIES = frozenset("has had is was keeps kept has've".split())
AFTER_AUXILIARY = frozenset("been being not never always still also just now".split())
# "told faith we would", "worried about sunny, hes lost": a clause starts after the object
CLAUSE_STARTS = frozenset("we she he they i you that if about re it hes shes theyre".split())
OBJECT_CUE = linear.compile(
    r"\b(?:(?:worried|concerned|concerns?|worry|spoke|speak|speaking|talked|talking|chatted|met|meeting)"
    r"\s+(?:about|to|with|w|for|re)|told|asked|saw|seen|visited|collected|phoned|rang|texted|emailed|met"
    r"|messaged|called|picked\s+up|dropped\s+off)\s+$",
    True,
)
OBJECT_CUE_ENDS = frozenset(
    "about to with w for re told asked saw seen visited collected phoned rang texted emailed met messaged"
    " called up off".split()
)
YEAR_AFTER = linear.compile(r"^\s+(?:year|yr|y)\s?[0-9]", True)
BRACKETED_AGE = linear.compile(r"^\s*\(\s*(?:aged?\s*)?[0-9]{1,2}\s*(?:yrs?|years?)?\s*\)", True)
COMMA_AGE = linear.compile(r"^\s*,\s*(?:aged?\s*)?[0-9]{1,2}\b", True)
TWINS_AFTER = linear.compile(r"^\s*\(\s*(?:twins|siblings|brothers|sisters|cousins)\s*\)", True)
# Abbreviations of the trade that look like initials ("HV said", "SW told").
ACRONYMS = frozenset(
    """hv sw gp ta dsl dsls ddsl slt sen senco sendco iro lado mash camhs yot pc ps dc ds di pcso cp cin lac
    pep ehcp dv da nfa rti ae edt fsw ssw hoy hol pa nhs icb ofsted ks ks1 ks2 ks3 ks4 lsa sbm ceo bsl
    esol eal fsm pp sn tac tas sgo cse cce fgm hbv mdt ot salt ed ld adhd asd ocd uk eu ok re rip po
    it ict pe re ra mp ni ss cs bbc tv sos""".split()
)


def context_names(finder: Finder, taken: set[int]) -> list[tuple[int, int]]:
    """Token index ranges (first, last) of names found by their slot, each widened to the whole name."""
    found: list[tuple[int, int]] = []
    toks = finder.toks
    for i in range(len(toks)):
        if i in taken:
            continue
        span = _slot(finder, i)
        if span:
            found.append(span)
    return found


def widen(finder: Finder, first: int, last: int) -> tuple[int, int]:
    """The whole name around tokens first..last: particles and the name words or unknown words
    right next to it, so that "aoife ni" is never masked out of "aoife ni bhriain"."""
    toks = finder.toks
    added = 0
    while last + 1 < len(toks) and added < 3 and _joined(finder, last, last + 1):
        nxt = toks[last + 1]
        if nxt.key in PARTICLES_LOWER and last + 2 < len(toks) and _joined(finder, last + 1, last + 2) \
                and not _stop(finder, toks[last + 2]):
            last += 2
        elif _name_part(finder, nxt) or (len(nxt.key) == 1 and nxt.key not in "ai" and nxt.shape != "upper"):
            last += 1
        else:
            break
        added += 1
        if toks[last].possessive:
            break
    added = 0
    while first > 0 and added < 2 and _joined(finder, first - 1, first):
        prev = toks[first - 1]
        if prev.possessive or len(prev.key) < 2 or _stop(finder, prev) or prev.key in CLAUSE_JOINERS:
            break
        if not (finder.is_first(prev) or _name_part(finder, prev)):
            break
        if first - 2 >= 0 and _determiner_before(finder, first - 1):
            break
        first -= 1
        added += 1
    return first, last


PARTICLES_LOWER = frozenset(
    "van von der den de da di du del della le la bin bint ibn al el ni nic o ua mac ap ab ben abu binti"
    " thi ter ten".split()
)


def _joined(finder: Finder, a: int, b: int) -> bool:
    gap = finder.text[finder.toks[a].word_end: finder.toks[b].start]
    return gap == " " and not finder.toks[a].possessive


def _stop(finder: Finder, tok: Token) -> bool:
    key = tok.key
    return (finder.is_stop(tok) or key in KIN or key in TITLES or key in NOT_PEOPLE or key in DETERMINERS
            or key in CLAUSE_JOINERS)


def _name_part(finder: Finder, tok: Token) -> bool:
    """A word that belongs to a name next to a name: a listed name that is no everyday word, or a
    word that is no English word at all."""
    if _stop(finder, tok) or len(tok.key) < 2 or finder.is_place(tok):
        return False
    if finder.is_name_word(tok) and not finder.is_ordinary(tok):
        return True
    return not finder.is_english(tok) and tok.shape in ("lower", "title", "other")


def _candidate(finder: Finder, i: int) -> bool:
    tok = finder.toks[i]
    if tok.start > 0 and finder.text[tok.start - 1] == "[":
        return False  # a placeholder of a suggested edit: "[name] and her brother"
    if _stop(finder, tok) or len(tok.key) < 2 or tok.key in ACRONYMS:
        return False
    if finder.is_place(tok) and not finder.is_name_word(tok):
        return False
    return not _determiner_before(finder, i)


def _determiner_before(finder: Finder, i: int) -> bool:
    prev = finder.prev(i)
    gap = finder.text[prev.word_end: finder.toks[i].start] if prev else ""
    return bool(prev and prev.key in DETERMINERS and gap.strip() == "")


def _clause_start(finder: Finder, i: int) -> bool:
    if finder.sentence_start(i):
        return True
    prev = finder.prev(i)
    if prev is None:
        return True
    gap = finder.text[prev.word_end: finder.toks[i].start]
    return "," in gap or (prev.key in CLAUSE_JOINERS and gap.strip() == "")


def _speaks_after(finder: Finder, i: int) -> bool:
    """A verb only a person does right after token i: "hope told", "bill said"."""
    toks = finder.toks
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    return bool(nxt and not finder.text[toks[i].word_end: nxt.start].strip() and nxt.key in SPEECH_VERBS)


def _acts_after(finder: Finder, i: int) -> bool:
    """A person's verb right after token i: "said", "has been coming", "was seen"."""
    toks = finder.toks
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if nxt is None or finder.text[toks[i].word_end: nxt.start].strip():
        return False
    key = nxt.text.casefold().replace("’", "'")
    if key in PERSON_VERBS and key not in WEAK_VERBS:
        return True
    if key in AUXILIARIES or key in ("were", "are", "have"):
        after = toks[i + 2] if i + 2 < len(toks) else None
        if after is None or finder.text[nxt.word_end: after.start].strip():
            return False
        word = after.key
        return word in AFTER_AUXILIARY or word in PERSON_VERBS or (word.endswith("ed") and len(word) > 4)
    return False


def _slot(finder: Finder, i: int) -> tuple[int, int] | None:
    toks = finder.toks
    tok = toks[i]
    text = finder.text
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    # a title before a single letter: "mr o", "Mrs K"
    prev = finder.prev(i)
    if len(tok.key) == 1 and prev is not None and prev.key in TITLES and prev.shape != "upper" \
            and text[prev.word_end: tok.start] in (" ", ". "):
        return i - 1, i
    # initials that act or belong: "JB said", "KB yr10", "mum is TK", "JB's mum"
    initials = tok.shape == "upper" and 2 <= len(tok.key) <= 3
    if initials and tok.key not in ACRONYMS and not finder.is_stop(tok):
        kin_is = prev is not None and prev.key in ("is", "was", ":") and i >= 2 and toks[i - 2].key in KIN
        if _acts_after(finder, i) or YEAR_AFTER.match(text[tok.end: tok.end + 12]) or kin_is \
                or (tok.possessive and nxt is not None and nxt.key in PERSON_AFTER_POSSESSIVE):
            return i, i
        return None
    if not _candidate(finder, i) or tok.shape == "upper":
        return None
    if tok.shape == "title" and any(t is not None and finder.capitalised(t) for t in (prev, nxt)):
        return None  # a run of capitalised words has been judged whole: "Archbishop Tenison's School"
    listed = finder.is_name_word(tok) and not finder.is_ordinary(tok)
    unknown = not finder.is_english(tok)
    # the owner of a person or a room: "filmon's foster carer", "rose's nan"
    if tok.possessive and nxt is not None and nxt.text.casefold() in PERSON_AFTER_POSSESSIVE:
        return widen(finder, i, i)
    # a possessive without its apostrophe: "hetal patels mum"
    if nxt is not None and tok.key.endswith("s") and len(tok.key) > 3 and nxt.key in KIN \
            and text[tok.word_end: nxt.start] == " ":
        stem = tok.key[:-1]
        if stem in finder.lex.surnames or stem in finder.lex.first_names:
            return widen(finder, i, i)
    # an age: "precious (9)", "wazir khan, 12"
    after = text[tok.word_end: tok.word_end + 16]
    opener = after.lstrip()[:1]
    aged = opener == "(" and BRACKETED_AGE.match(after)
    paired = (opener == "," and COMMA_AGE.match(after)) or (opener == "(" and TWINS_AFTER.match(after))
    if aged or (paired and (listed or unknown)):
        return widen(finder, i, i)
    # "X and her brother", "X and Y were collected", "taiwo and kehinde (twins)"
    if nxt is not None and nxt.key == "and" and i + 2 < len(toks):
        third = toks[i + 2]
        if third.key in ("his", "her", "their") and i + 3 < len(toks) and toks[i + 3].key in KIN:
            return widen(finder, i, i)
        after_third = text[third.word_end: third.word_end + 16]
        twins = after_third.lstrip()[:1] == "(" and TWINS_AFTER.match(after_third)
        if _candidate(finder, i + 2) and (listed or unknown) and (_acts_after(finder, i + 2) or twins):
            return i, i + 2
    # the subject of a person's verb: "tharshan said", "hope told", "summer young has missed"
    if _clause_start(finder, i):
        if _speaks_after(finder, i) or ((listed or unknown) and _acts_after(finder, i)):
            return widen(finder, i, i)
        if nxt is not None and _joined(finder, i, i + 1) and (listed or unknown or finder.is_first(tok)) \
                and _candidate(finder, i + 1) and (finder.is_name_word(nxt) or not finder.is_english(nxt)) \
                and _acts_after(finder, i + 1):
            return widen(finder, i, i + 1)
    # the object of "told", "spoke to", "worried about": "told faith we would"
    cue = prev is not None and prev.key in OBJECT_CUE_ENDS
    if cue and OBJECT_CUE.search(text[max(0, tok.start - 30): tok.start]):
        if listed or unknown:
            return widen(finder, i, i)
        rest = text[tok.word_end: tok.word_end + 3]
        if nxt is not None and nxt.key in CLAUSE_STARTS and (rest.startswith((" ", ", ")) and (
                text[tok.word_end: nxt.start].strip() in ("", ","))):
            return i, i
    return None
