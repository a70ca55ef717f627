"""The identifier guard: each kind found and left alone, normalisation, the masked warning and the
whole-identifier edit, and `canishare privacy scan`."""

from __future__ import annotations

import json

import pytest

from bot.core.privacy import (
    KIND_LABELS,
    Finding,
    describe,
    mask,
    nhs_number_valid,
    normalise,
    scan,
    suggest_edit,
)

# (text, kind, the identifier as found)
POSITIVE = [
    # names: alone, lower case, capitals, reversed, initials, titles, accents, other scripts
    ("Concerned about Tobias, he seems tired", "name", "Tobias"),
    ("Maisie's dad said he would ring back", "name", "Maisie"),
    ("baby Ezra was seen at the clinic", "name", "Ezra"),
    ("spoke to amelia jones after school", "name", "amelia jones"),
    ("STEPFATHER: DARREN HOLLOWAY", "name", "DARREN HOLLOWAY"),
    ("Smith, Jane - Year 10", "name", "Smith, Jane"),
    ("J. Smith came to reception", "name", "J. Smith"),
    ("MRS ABERNETHY refused to sign", "name", "MRS ABERNETHY"),
    ("dr lindqvist has seen the rash", "name", "dr lindqvist"),
    ("PC 1234 Jones took the account", "name", "PC 1234 Jones"),
    ("Zoë Łukasiewicz was collected late", "name", "Zoë Łukasiewicz"),
    ("Siobhán Ní Bhriain told her tutor", "name", "Siobhán Ní Bhriain"),
    ("محمد علي was absent all week", "name", "محمد علي"),
    ("Mrs O'Neill-Smith phoned the office", "name", "Mrs O'Neill-Smith"),
    ("the Kowalczyk family moved away", "name", "Kowalczyk"),
    ("a boy called Logan sends her messages", "name", "Logan"),
    # names that are also ordinary words need a cue
    ("Will said his brother hit him", "name", "Will"),
    ("Amber's mum asked us not to call", "name", "Amber"),
    # the structured kinds
    ("NHS number 943 476 5919", "nhs_number", "943 476 5919"),
    ("nhs 943.476.5919", "nhs_number", "943.476.5919"),
    ("NHS 9434 765 919", "nhs_number", "9434 765 919"),
    ("DOB 12/03/2015", "date_of_birth", "12/03/2015"),
    ("DOB03/11/2016", "date_of_birth", "03/11/2016"),
    ("born February 2015", "date_of_birth", "February 2015"),
    ("born on the 1st of February 2015", "date_of_birth", "the 1st of February 2015"),
    ("lives near SW1A 1AA", "postcode", "SW1A 1AA"),
    ("postcode ls6  2qr", "postcode", "ls6  2qr"),
    ("mum's mobile 07700 900123", "phone", "07700 900123"),
    ("ring nan on (0161) 496 0000", "phone", "(0161) 496 0000"),
    ("dad 07700.900.123", "phone", "07700.900.123"),
    ("aunt on 0044 7700 900123", "phone", "0044 7700 900123"),
    ("email a.parent@example.org", "email", "a.parent@example.org"),
    ("kayla.m at example dot org", "email", "kayla.m at example dot org"),
    ("27 hazel drive", "address", "27 hazel drive"),
    ("Flat 2, 9 Linden Road", "address", "Flat 2, 9 Linden Road"),
    ("UPN B801200005001", "upn", "B801200005001"),
    ("NI number AB 12 34 56 C", "ni_number", "AB 12 34 56 C"),
    ("instagram @ellie.b_xx", "handle", "@ellie.b_xx"),
    ("his snap is kd_baller23", "handle", "kd_baller23"),
    ("silver Golf AB12 CDE", "vehicle_registration", "AB12 CDE"),
    ("car reg: yx65 orp", "vehicle_registration", "yx65 orp"),
    ("the only girl in year 4 at St Mary's with a hearing aid", "jigsaw", "year 4 at St Mary's"),
]

NEGATIVE = [
    # organisations and places named after people or places
    "Royal Manchester Children's Hospital safeguarding team",
    "Birchwood Academy pastoral lead",
    "St Anne's Primary DSL took the disclosure",
    "Beacon House therapist is supporting the family",
    "Martin House hospice is supporting the siblings",
    "moved from Preston to Milton Keynes",
    "Family arrived from Jordan last year",
    # programmes, roles and terms
    "Mum completed Circle of Security",
    "Year 9, Key Stage 3",
    "Bright Start nursery manager called",
    "Designated Doctor reviewed the notes",
    "Caldicott Guardian approved the disclosure",
    "Shared with the Designated Safeguarding Lead and the Police",
    "Child said Dad hit her; Mum was present",
    # ordinary words that are also names, without a cue
    "Will the social worker share the assessment?",
    "Mark the record as confidential",
    "Amber rating on the risk matrix",
    "We hope the plan holds",
    # dates that are not dates of birth, numbers that are not identifiers
    "child protection plan ended 02/09/2015",
    "Meeting on 3 March 2026 with the health visitor",
    "pre-birth conference on 12/01/2026",
    "NHS 1234567890 is not a valid number",
    "Case reference CS-10422",
    "NSPCC helpline 0808 800 5000",
    "Children Act 2004 s16LA",
    "Strategy meeting agreed a Section 47 enquiry",
    "3 very close friends",
    "The Data Protection Act 2018 place greater weight on this",
    "seed 004_077edd6fdf184301.txt",
]


# (text, a kind it must not report): shapes close to an identifier that are not one
NEGATIVE_BY_KIND = [
    ("met mum at school.Then we went home", "email"),
    ("email went to the wrong school at home dot", "email"),
    ("meet @ 3pm at the office", "handle"),
    ("his instagram is private", "handle"),
    ("NI team took the call", "ni_number"),
    ("the locker number was 12 34 56 A", "ni_number"),
    ("referral 12/03/2015", "date_of_birth"),
    ("Childline 0800 1111, council 0300 123 4567", "phone"),
    ("Section 47 enquiry under Children Act 1989", "address"),
    ("Key Stage 2 SATs", "postcode"),
    ("CP12 plan, S47 NFA", "vehicle_registration"),
    ("case 1234567890", "nhs_number"),
    ("pupil C801200005001", "upn"),
    ("year 10 assembly at the end of term", "jigsaw"),
]


@pytest.mark.parametrize(("text", "kind"), NEGATIVE_BY_KIND)
def test_shapes_that_are_not_identifiers(text, kind):
    assert kind not in [f.kind for f in scan(text)]


def test_negatives_cover_every_structured_kind():
    assert {kind for _, kind in NEGATIVE_BY_KIND} == set(KIND_LABELS) - {"name"}


@pytest.mark.parametrize(("text", "kind", "found"), POSITIVE)
def test_finds_each_kind(text, kind, found):
    assert (kind, found) in [(f.kind, f.text) for f in scan(text)]


@pytest.mark.parametrize("text", NEGATIVE)
def test_leaves_ordinary_safeguarding_text_alone(text):
    assert scan(text) == []


def test_every_kind_has_a_label():
    assert {kind for _, kind, _ in POSITIVE} == set(KIND_LABELS)


def test_nhs_check_digit():
    assert nhs_number_valid("9434765919")
    assert not nhs_number_valid("9434765918")


def test_unique_pupil_number_needs_its_check_letter_or_a_cue():
    assert [f.kind for f in scan("ref B801200005001")] == ["upn"]
    assert scan("ref C801200005001") == []  # wrong check letter, nothing says it is a UPN
    assert [f.kind for f in scan("UPN C801200005001")] == ["upn"]


def test_a_date_is_a_date_of_birth_only_with_a_birth_cue():
    assert [f.kind for f in scan("DOB 12/03/2015")] == ["date_of_birth"]
    assert scan("Referral 12/03/2015") == []
    assert [f.kind for f in scan("12/03/2015 (DOB)")] == ["date_of_birth"]


def test_vehicle_registration_in_lower_case_needs_a_vehicle_nearby():
    assert scan("seen with ab12 cde") == []
    assert [f.kind for f in scan("a blue van ab12 cde")] == ["vehicle_registration"]


def test_normalise_removes_invisible_and_control_characters():
    text = "NHS\u00a0943\u200b476\u200d5919 \u202eevil\u202c\x07 ９"
    assert normalise(text) == "NHS 9434765919 evil 9"
    assert normalise("line one\nline two\tend") == "line one\nline two\tend"


def test_zero_width_characters_do_not_hide_an_identifier():
    [finding] = scan("nhs 943\u200b476\u200b5919")
    assert finding.kind == "nhs_number"
    assert finding.text == "9434765919"


def test_offsets_are_in_the_normalised_text():
    text = "\u200bconcerned about Tobias"
    [finding] = scan(text)
    assert normalise(text)[finding.start:finding.end] == "Tobias" == finding.text


def test_findings_are_frozen_and_print_kind_and_text():
    finding = scan("email a.parent@example.org")[0]
    assert finding.as_dict() == {"kind": "email", "text": "a.parent@example.org"}
    with pytest.raises(AttributeError):
        finding.kind = "name"  # type: ignore[misc]


@pytest.mark.parametrize(("text", "kind", "found"), POSITIVE)
def test_the_mask_never_shows_the_identifier(text, kind, found):
    for finding in scan(text):
        masked = mask(finding)
        assert masked.startswith(KIND_LABELS[finding.kind])
        assert finding.text not in masked
        for word in finding.text.split():
            if len(word) > 3:
                assert word not in masked


def test_masks_say_what_helps_find_the_identifier():
    assert mask(Finding("nhs_number", "943 476 5919", 0, 12)) == "an NHS number ending 919"
    assert mask(Finding("name", "Jane Smith", 0, 10)) == "a person's name (2 words)"
    assert mask(Finding("phone", "07700 900123", 0, 12)) == "a phone number ending 123"
    assert mask(Finding("email", "a@b.co", 0, 6)) == "an email address"


def test_describe_is_one_line_without_the_identifiers():
    findings = scan("Jane Smith, NHS 943 476 5919, mum on 07700 900123")
    warning = describe(findings)
    assert warning == "a person's name (2 words); an NHS number ending 919; a phone number ending 123"
    assert "Jane" not in warning and "900123" not in warning


@pytest.mark.parametrize(("text", "edited"), [
    ("Mrs O'Neill-Smith phoned about the bus stop", "[name] phoned about the bus stop"),
    ("Maisie's mum said she was fine", "[name]'s mum said she was fine"),
    ("Told Jane Smith the plan", "Told [name] the plan"),
    ("ring mum on 07700 900123 after 6", "ring mum on [phone] after 6"),
    ("DOB 03/11/2016, lives at 27 hazel drive, M1 1AE", "DOB [date of birth], lives at [address], [postcode]"),
    ("NHS 943\u200b476\u200b5919", "NHS [NHS number]"),
    ("Freya and her brother Alfie", "[name] and her brother [name]"),
])
def test_suggested_edit_replaces_whole_identifiers(text, edited):
    assert suggest_edit(text) == edited
    assert scan(edited) == []


@pytest.mark.parametrize(("text", "kind", "found"), POSITIVE)
def test_suggested_edit_leaves_nothing_behind(text, kind, found):
    edited = suggest_edit(text)
    assert scan(edited) == []
    assert found not in edited


def test_the_guidance_prose_raises_no_alarm(real_bundle):
    """Every question, help and outcome text in flows/ is clean: the guard must not flag the
    bot's own words when people paste them into a note."""
    import yaml

    from tests.conftest import REAL_FLOWS

    def strings(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str) and " " in node.strip():
            yield node

    lines = [line for path in sorted(REAL_FLOWS.glob("*.yaml"))
             for text in strings(yaml.safe_load(path.read_text(encoding="utf-8")))
             for line in text.splitlines() if line.strip()]
    assert len(lines) > 500
    flagged = {line: [f.as_dict() for f in scan(line)] for line in lines if scan(line)}
    assert flagged == {}


def test_cli_scan_one_json_line_per_input_line(run_cli):
    result = run_cli("privacy", "scan", input="nothing here\nemail a@b.co and Jane Smith\nUPN B801200005001\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"findings": []}
    assert lines[1] == {"findings": [{"kind": "email", "text": "a@b.co"}, {"kind": "name", "text": "Jane Smith"}]}
    assert lines[2] == {"findings": [{"kind": "upn", "text": "B801200005001"}]}
