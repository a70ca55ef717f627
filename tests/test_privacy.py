"""The identifier detector on positive and negative examples, and `canishare privacy scan`."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.core.privacy import nhs_number_valid, scan

TODAY = date(2026, 11, 21)

POSITIVE = [
    ("Spoke to Jane Smith about the bruise", "name", "Jane Smith"),
    ("Mrs Okafor called the office", "name", "Mrs Okafor"),
    ("Child said Tyler O'Neill hit him", "name", "Tyler O'Neill"),
    ("NHS number 943 476 5919", "nhs_number", "943 476 5919"),
    ("nhs 9434765919", "nhs_number", "9434765919"),
    ("DOB 12/03/2015", "date_of_birth", "12/03/2015"),
    ("born on 3 March 2016", "date_of_birth", "3 March 2016"),
    ("birthday 2014-07-09", "date_of_birth", "2014-07-09"),
    ("lives near SW1A 1AA", "postcode", "SW1A 1AA"),
    ("moved to m1 1ae last year", "postcode", "m1 1ae"),
    ("mum's mobile 07700 900123", "phone", "07700 900123"),
    ("call +44 7700 900123", "phone", "+44 7700 900123"),
    ("school office 020 7946 0018", "phone", "020 7946 0018"),
    ("email a.parent@example.org", "email", "a.parent@example.org"),
]

NEGATIVE = [
    "Referred to Children's Social Care on Monday",
    "Shared with the Designated Safeguarding Lead and the Police",
    "Child said Dad hit her; Mum was present",
    "Meeting on 3 March 2026 with the health visitor",
    "NHS 1234567890 is not a valid number",
    "Year 9 pupil, aged 14, disclosed at school",
    "Strategy meeting agreed a Section 47 enquiry",
    "Case reference CS-10422",
    "Risk of significant harm; parents not told (sexual abuse suspected)",
]


@pytest.mark.parametrize(("text", "kind", "found"), POSITIVE)
def test_finds_identifiers(text, kind, found):
    findings = scan(text, today=TODAY)
    assert (kind, found) in [(f.kind, f.text) for f in findings], findings


@pytest.mark.parametrize("text", NEGATIVE)
def test_leaves_ordinary_safeguarding_text_alone(text):
    assert scan(text, today=TODAY) == []


def test_nhs_check_digit():
    assert nhs_number_valid("9434765919")
    assert not nhs_number_valid("9434765918")
    assert not nhs_number_valid("0000000000")


def test_cli_scan_one_json_line_per_input_line(run_cli):
    result = run_cli("privacy", "scan", input="nothing here\nemail a@b.co and Jane Smith\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"findings": []}
    assert {"kind": "email", "text": "a@b.co"} in lines[1]["findings"]
    assert {"kind": "name", "text": "Jane Smith"} in lines[1]["findings"]
