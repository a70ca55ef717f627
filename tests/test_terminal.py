"""The terminal chat, driven end to end through stdin as a person would use it (the 80x24 screen
itself is checked through a real pseudo-terminal in test_terminal_screen.py)."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE_FLOWS

FLOWS = ("--flows", str(SAMPLE_FLOWS))


def log_rows(run_cli) -> list[dict]:
    result = run_cli("log", "list", "--format", "json", "--since", "1d")
    return [json.loads(line) for line in result.stdout.splitlines()]


def chat(run_cli, user: str, keys: list[str], *extra: str):
    result = run_cli(*FLOWS, "chat", "--user", user, *extra, input="\n".join(keys) + "\n")
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # wrapped to the terminal: compare words, not line ends


def test_full_check_with_back_help_more_and_record(run_cli):
    out = chat(run_cli, "tester", [
        "1",            # Q1 nation: England
        "?",            # help for Q2
        "2",            # Q2 danger: No
        "b",            # back to Q2
        "2",            # Q2 again: No
        "7",            # out of range: asked again
        "1",            # Q3 kinds: Hurt -> REFER
        "m",            # more: why, and the law
        "y",            # record the decision
        "shared",       # words work as well as numbers
        "Told Jane Smith the plan",  # flagged: a name
        "a",            # accept the suggested edit
        "social worker, children's social care",
        "child protection referral",
        "risk of significant harm",
        "CS-77",
        "n",            # no other check
    ])
    assert "Q1. Where do you work?" in out and "Danger means right now." in out
    assert out.count("Q2. Is anyone in immediate danger?") == 3  # first, after help, after back
    assert "Please type numbers from 1 to 3" in out
    short = out.index("REFER TO CHILDREN'S SOCIAL CARE")
    assert short < out.index("Refer now.") < out.index("Consent: Informed, not asked")
    assert out.index("Refer to children's social care. y = record your decision now") > short  # repeated
    more = out.index("Golden rules")
    assert short < more < out.index("The law England-only duty") < out.index("Record (golden rule 7)")
    assert short < out.index("The law as at ") < more  # on the short answer, in the clock's date
    assert "Public task: " in out and "(Source: sample" in out
    assert "[public-task]" not in out  # no internal ids in what people read
    assert "Warning: this looks like it holds a person's name" in out and "Jane" not in out.split("Warning")[1]
    assert "Saved: decision #1" in out
    [row] = log_rows(run_cli)
    assert row["what"] == "Told [name] the plan"
    assert row["user_id"] == "tester" and row["channel"] == "terminal"
    assert row["outcome_id"] == "REFER" and row["decision"] == "shared"
    assert row["with_whom"] == "social worker, children's social care"
    assert row["answers"] == {"nation": "england", "danger": "no", "kinds": ["hurt"]}
    assert row["case_reference"] == "CS-77"


def test_retyping_instead_of_accepting_the_edit_and_a_number_for_the_decision(run_cli):
    chat(run_cli, "t2", ["1", "2", "1", "y", "2", "call 07700 900123", "e", "nothing identifying", "", "",
                         "the family had already been referred", "", "n"])
    [row] = log_rows(run_cli)
    assert row["what"] == "nothing identifying" and row["decision"] == "not_shared"


def test_end_of_input_mid_record_leaves_no_row_and_the_record_waits(run_cli):
    out = chat(run_cli, "t3", ["1", "2", "1", "y", "1", "what we shared"])  # input ends in the form
    assert "Nothing half-written was saved" in out and log_rows(run_cli) == []
    back = chat(run_cli, "t3", ["c", "y", "deferred", "summary", "", "", "waiting for advice", "", "n"])
    assert "(Earlier check, answered, not recorded: c = carry on, n = discard.)" in back
    assert "y = record your decision now" in back
    [row] = log_rows(run_cli)
    assert row["decision"] == "deferred" and row["reasons"] == "waiting for advice"


def test_quit_at_the_record_step_then_the_record_prompt_is_back(run_cli):
    first = chat(run_cli, "t6", ["1", "2", "1", "y", "q"])
    assert "Your place is saved" in first
    second = chat(run_cli, "t6", ["c", "b"])  # carry on: the answer and the record prompt
    assert second.index("Q1. Where do you work?") < second.index("c = carry on")  # danger question first
    assert "REFER TO CHILDREN'S SOCIAL CARE" in second and "y = record your decision now" in second


def test_quit_and_resume_where_you_were_or_discard(run_cli):
    first = chat(run_cli, "t4", ["2", "q"])  # Wales, then quit
    assert "Your place is saved: run `" in first and "` to carry on" in first
    second = chat(run_cli, "t4", ["c"])
    assert "(Earlier check, unfinished at question 2: c = carry on, n = discard.)" in second
    assert second.count("Q2. Is anyone in immediate danger?") == 1
    fresh = chat(run_cli, "t4", ["n", "q"])
    assert "The earlier check is discarded." in fresh
    again = chat(run_cli, "t4", ["q"])
    assert "c = carry on" not in again  # discarded means gone: not offered again


def test_multi_select_by_commas_in_plain_words(run_cli):
    out = chat(run_cli, "t5", ["1", "2", "2,3", "1,2", "n", "n"])  # 'None of these' cannot combine
    assert "\u201cNone of these\u201d can't be combined with other answers" in out
    assert "'none'" not in out and "kinds:" not in out
    assert "REFER TO CHILDREN'S SOCIAL CARE" in out


def test_declining_to_record_reminds_of_golden_rule_7(run_cli):
    out = chat(run_cli, "t7", ["1", "2", "1", "n", "n"])
    assert "Golden rule 7: record the decision and your reasons, whether or not you share" in out
    assert log_rows(run_cli) == []


def test_practice_mode_records_nothing_and_says_so(run_cli):
    out = chat(run_cli, "t8", ["1", "2", "1", "y", "n"], "--practice")
    assert out.count("[Practice]") >= 3 and "PRACTICE: nothing is recorded" in out
    assert "Practice: no DSL is alerted" in out
    assert log_rows(run_cli) == []


def test_a_shared_pc_asks_who_is_there_and_logs_them(run_cli):
    keys = ["", "Sam Patel (Year 5)", "1", "2", "1", "y", "shared", "summary", "", "", "risk of harm", "", "n"]
    result = run_cli(*FLOWS, "chat", input="\n".join(keys) + "\n", env={"CANISHARE_CHAT_USER": "ask"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Who are you?") == 2  # an empty answer is asked again
    [row] = log_rows(run_cli)
    assert row["user_id"] == "Sam Patel (Year 5)"
    nobody = run_cli(*FLOWS, "chat", input="", env={"CANISHARE_CHAT_USER": "ask"})
    assert nobody.returncode == 2 and "nobody said who they are" in nobody.stderr


def test_an_answered_check_is_not_lost_by_starting_another_and_quitting(run_cli):
    """Issue 20.7: `n` at an answer ("this check waits for you"), then another check, then quit:
    the answered check is still offered next time, until the person says to discard it."""
    first = chat(run_cli, "t8", ["1", "2", "1", "n", "y", "q"])
    assert "this check waits for you" in first and "Your place is saved" in first
    second = chat(run_cli, "t8", ["q"])  # quit at the offer itself: it stays offered
    assert "(Earlier check, answered, not recorded: c = carry on, n = discard.)" in second
    third = chat(run_cli, "t8", ["c", "y", "deferred", "summary", "", "", "waiting for advice", "", "n"])
    assert "(Earlier check, answered, not recorded: c = carry on, n = discard.)" in third
    [row] = log_rows(run_cli)
    assert row["decision"] == "deferred" and row["outcome_id"] == "REFER"
