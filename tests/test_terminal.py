"""The terminal chat, driven end to end through stdin as a person would use it."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE_FLOWS

FLOWS = ("--flows", str(SAMPLE_FLOWS))


def log_rows(run_cli) -> list[dict]:
    result = run_cli("log", "list", "--format", "json", "--since", "1d")
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_full_check_with_back_help_and_record(run_cli):
    keys = [
        "1",            # Q1 nation: England
        "?",            # help for Q2
        "2",            # Q2 danger: No
        "b",            # back to Q2
        "2",            # Q2 again: No
        "7",            # out of range: asked again
        "1",            # Q3 kinds: Hurt -> REFER
        "y",            # record the decision
        "1",            # shared
        "Told Jane Smith the plan",  # flagged: a name
        "a",            # accept the suggested edit
        "social worker, children's social care",
        "child protection referral",
        "risk of significant harm",
        "CS-77",
        "n",            # no other check
    ]
    result = run_cli(*FLOWS, "chat", "--user", "tester", input="\n".join(keys) + "\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Q1. Where do you work?" in out and "Danger means right now." in out
    assert out.count("Q2. Is anyone in immediate danger?") == 3  # first, after help, after back
    assert "Please type numbers from 1 to 3" in out
    verdict = out.index("VERDICT: REFER TO CHILDREN'S SOCIAL CARE")
    assert verdict < out.index("Golden rules:") < out.index("Legal gateways:") < out.index("Record (golden rule 7):")
    assert "Public task [public-task]" in out and "Source: sample" in out
    assert "Warning: this looks like it holds a person's name" in out
    assert "Saved: decision #1" in out
    [row] = log_rows(run_cli)
    assert row["what"] == "Told [name] the plan"
    assert "Jane" not in json.dumps(row)
    assert row["user_id"] == "tester" and row["channel"] == "terminal"
    assert row["outcome_id"] == "REFER" and row["decision"] == "shared"
    assert row["with_whom"] == "social worker, children's social care"
    assert row["answers"] == {"nation": "england", "danger": "no", "kinds": ["hurt"]}
    assert row["case_reference"] == "CS-77"


def test_retyping_instead_of_accepting_the_edit(run_cli):
    keys = ["1", "2", "1", "y", "2", "call 07700 900123", "e", "nothing identifying", "", "", "", "", "n"]
    result = run_cli(*FLOWS, "chat", "--user", "t2", input="\n".join(keys) + "\n")
    assert "a phone number" in result.stdout
    [row] = log_rows(run_cli)
    assert row["what"] == "nothing identifying" and row["decision"] == "not_shared"


def test_end_of_input_mid_record_leaves_no_row(run_cli):
    keys = ["1", "2", "1", "y", "1", "what we shared"]  # input ends inside the form
    result = run_cli(*FLOWS, "chat", "--user", "t3", input="\n".join(keys) + "\n")
    assert result.returncode == 0
    assert "Nothing half-written was saved" in result.stdout
    assert log_rows(run_cli) == []


def test_quit_and_resume_where_you_were(run_cli):
    first = run_cli(*FLOWS, "chat", "--user", "t4", input="2\nq\n")  # Wales, then quit
    assert "Your place is saved" in first.stdout
    second = run_cli(*FLOWS, "chat", "--user", "t4", input="y\n")
    assert "unfinished check (at question 2)" in second.stdout
    assert "Q2. Is anyone in immediate danger?" in second.stdout
    fresh = run_cli(*FLOWS, "chat", "--user", "t4", input="n\n")
    assert "Q1. Where do you work?" in fresh.stdout


def test_multi_select_by_commas(run_cli):
    keys = ["1", "2", "2,3", "1,2", "2", "1", "n", "n"]  # 'none' cannot combine: asked again
    result = run_cli(*FLOWS, "chat", "--user", "t5", input="\n".join(keys) + "\n")
    assert "cannot be combined" in result.stdout
    assert "VERDICT: REFER" in result.stdout
