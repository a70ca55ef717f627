"""The words around a name that say a person is meant: titles, kinship words, what follows a
person's possessive, a person's verbs. Shared by the name lists' rules (`names`) and the slot rules
(`context`)."""

from __future__ import annotations

TITLES = frozenset(
    """mr mrs ms miss mx dr doctor prof professor pc pcso ps dc ds di dci dcs sgt sergeant insp
    inspector constable nurse sister cllr councillor rev revd reverend fr father judge hhj coach
    teacher tutor mister master madam""".split()
)
# Titles that are also ordinary lower-case words: only count when written as a title.
TITLES_NEEDING_CAPITAL = frozenset("miss sister father judge coach teacher tutor master nurse doctor".split())
KIN = frozenset(
    """mum mummy mam mom mother dad daddy father stepdad stepfather step-dad stepmum stepmother step-mum
    brother sister son daughter baby child boy girl aunt aunty auntie uncle nan nana nanna gran granny
    grandma grandad grandpa grandmother grandfather cousin partner boyfriend girlfriend husband wife
    carer friend neighbour twin niece nephew sibling pupil student stepbrother stepsister
    half-brother half-sister foster""".split()
)
CALLED = frozenset("called named nicknamed aka call calls".split())
# Words after "X's" that make X a person: "Kacper's mum", "Lola's childminder".
PERSON_AFTER_POSSESSIVE = KIN | frozenset(
    """parents family childminder carers foster house home room bedroom phone mobile older younger little
    big baby siblings children kids ex behaviour attendance school teacher social key worker""".split()
)
PERSON_VERBS = frozenset(
    """said says told tells disclosed discloses reported reports stated states explained explains asked
    asks cried came comes arrived arrives ran went goes hit hits punched kicked refused refuses attended
    attends missed left lives lived looks looked seemed seems has had was is wants wanted does did
    doesn't didn't won't can't isn't wasn't hasn't hadn't wouldn't shouted screamed admitted denied
    presented appeared became seemed turned needs needed spoke speaks phoned rang called texted
    messaged threatened hurt smacked pushed grabbed took takes gave gives got gets sleeps slept ate
    eats walked walks stays stayed moved showed shows mentioned complained alleged""".split()
)
# "Hope is that ...", "Will was ...": too weak to make an ordinary word a name.
WEAK_VERBS = frozenset("is was are were has had have does did can't isn't wasn't hasn't".split())
