"""Where free text enters today, the guard refuses or warns, and never repeats the identifier.

(The Slack record modal, DM warning and DSL note are covered in test_slack.py and
test_dsl_slack.py.)"""

from __future__ import annotations

import json

import pytest

from bot.core.conversations import IdentifiersFound
from bot.core.record import FREE_TEXT_FIELDS, RecordForm
from tests.conftest import SAMPLE_FLOWS, conversations, decisions
from tests.test_conversations import finish

FLOWS = ("--flows", str(SAMPLE_FLOWS))
TO_RECORD = ["1", "2", "1", "y", "1"]  # England, no danger, hurt -> REFER; record; shared


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS)
@pytest.mark.parametrize("text", ["Maisie's dad", "UPN B801200005001", "07700 900123", "DOB03/11/2016"])
def test_every_record_field_refuses_identifiers(sample_engine, storage, field, text):
    conv = conversations(sample_engine, storage)
    turn = finish(conv)
    with pytest.raises(IdentifiersFound) as refused:
        conv.record("u1", turn.conversation_id, RecordForm(decision="shared", **{field: text}))
    assert list(refused.value.findings) == [field]
    assert decisions(storage) == []


def test_terminal_warns_with_masks_and_saves_the_whole_identifier_edit(run_cli):
    keys = TO_RECORD + [
        "Mrs O'Neill-Smith told us; NHS 943 476 5919",  # what
        "a",                                             # accept the suggested edit
        "social worker",
        "referral",
        "Maisie's dad said mobile 07700 900123",          # reasons
        "a",
        "",
        "n",
    ]
    result = run_cli(*FLOWS, "chat", "--user", "t9", input="\n".join(keys) + "\n")
    out = " ".join(result.stdout.split())  # wrapped to the terminal width: compare words
    assert result.returncode == 0, result.stderr
    assert "Warning: this looks like it holds a person's name (2 words); an NHS number ending 919." in out
    assert "a person's name (1 word); a phone number ending 123" in out
    assert "[name] told us; NHS [NHS number]" in out
    assert "[name]'s dad said mobile [phone]" in out
    rows = [json.loads(line) for line in run_cli("log", "list", "--format", "json").stdout.splitlines()]
    [row] = rows
    assert row["what"] == "[name] told us; NHS [NHS number]"
    assert row["reasons"] == "[name]'s dad said mobile [phone]"
    for identifier in ("O'Neill", "Neill-Smith", "943 476 5919", "Maisie", "900123"):
        assert identifier not in out
        assert identifier not in json.dumps(row)


def test_terminal_stores_the_typed_text_normalised(run_cli):
    keys = TO_RECORD + ["summary\u200b of the\u00a0concern", "social worker", "referral", "risk", "", "n"]
    result = run_cli(*FLOWS, "chat", "--user", "t10", input="\n".join(keys) + "\n")
    assert result.returncode == 0, result.stderr
    [row] = [json.loads(line) for line in run_cli("log", "list", "--format", "json").stdout.splitlines()]
    assert row["what"] == "summary of the concern"


def test_terminal_refuses_an_over_long_field_before_scanning_it(run_cli):
    keys = TO_RECORD + ["0 7 7 0 0 " * 300, "summary of the concern", "social worker", "referral", "risk", "",
                        "n"]
    result = run_cli(*FLOWS, "chat", "--user", "t11", input="\n".join(keys) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Too long: 3000 characters, the limit is 1000" in " ".join(result.stdout.split())
    [row] = [json.loads(line) for line in run_cli("log", "list", "--format", "json").stdout.splitlines()]
    assert row["what"] == "summary of the concern"


def test_privacy_scan_refuses_a_line_longer_than_the_limit(run_cli):
    from bot.core.privacy import MAX_TEXT_CHARS

    result = run_cli("privacy", "scan", input="1" * (MAX_TEXT_CHARS + 1) + "\nmum 07700 900123\n")
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert "too long" in first["error"]
    assert second["findings"] == [{"kind": "phone", "text": "07700 900123"}]
