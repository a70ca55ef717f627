"""`canishare evaluate`: complete, partial and invalid answers; batch mode; exit codes."""

from __future__ import annotations

import json

from bot.core.evaluate import evaluate
from tests.conftest import SAMPLE_FLOWS, outcome_json

FLOWS = ("--flows", str(SAMPLE_FLOWS))


def test_complete_answers_reach_an_outcome(run_cli):
    answers = {"nation": "wales", "danger": "no", "kinds": ["hurt"]}
    result = run_cli(*FLOWS, "evaluate", "--answers", json.dumps(answers), "--as-of", "2026-12-07")
    assert result.returncode == 0, result.stderr
    assert outcome_json(result) == {
        "status": "outcome", "outcome_id": "REFER", "verdict": "refer_to_childrens_social_care",
        "consent_position": "informed_not_asked", "rules": ["GR1", "GR7"],
        "gateways": ["public-task"], "dsl_alert": "urgent", "secondary": [],
        "urgency": "today", "personal_duties": [], "law_as_at": "2026-12-07", "notes": [],
        "path": [{"question": "nation", "answer": "wales"}, {"question": "danger", "answer": "no"},
                 {"question": "kinds", "answer": ["hurt"]}],
    }


def test_answers_from_a_file_and_no_alert_is_false(run_cli, tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"nation": "england", "danger": "no", "kinds": ["none"], "consent": "yes"}))
    result = run_cli(*FLOWS, "evaluate", "--answers", str(path))
    data = outcome_json(result)
    assert data["outcome_id"] == "SHARE" and data["dsl_alert"] is False


def test_partial_answers_ask_for_the_next_question(run_cli):
    result = run_cli(*FLOWS, "evaluate", "--answers", '{"nation": "england", "danger": "no"}')
    assert result.returncode == 3
    assert outcome_json(result) == {
        "status": "needs_answer", "question": "kinds", "multi": True,
        "choices": [{"id": "hurt", "label": "Hurt"}, {"id": "sad", "label": "Sad"},
                    {"id": "none", "label": "None of these"}],
    }


def test_invalid_answer_is_an_error(run_cli):
    result = run_cli(*FLOWS, "evaluate", "--answers", '{"nation": "france"}')
    assert result.returncode == 4
    data = outcome_json(result)
    assert data["status"] == "error" and data["question"] == "nation"
    assert "unknown answer 'france'" in data["message"]


def test_bad_json_is_a_usage_error(run_cli):
    result = run_cli(*FLOWS, "evaluate", "--answers", "{nation")
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_batch_keeps_order_in_one_process(run_cli):
    cases = [
        {"answers": {"nation": "england", "danger": "yes"}},
        {"answers": {"nation": "england"}},
        {"answers": {"nation": "mars"}},
        "not an object",
    ]
    lines = "\n".join(json.dumps(c) for c in cases[:2]) + "\n\n" + "\n".join(json.dumps(c) for c in cases[2:])
    result = run_cli(*FLOWS, "evaluate", "--batch", input=lines + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    # one output line per input line, a blank one included, so line N answers line N
    assert [o["status"] for o in out] == ["outcome", "needs_answer", "error", "error", "error"]
    assert "empty line" in out[2]["message"].lower() or "blank" in out[2]["message"].lower(), out[2]
    assert out[0]["outcome_id"] == "CALL" and out[1]["question"] == "danger"
    assert result.returncode == 4


def test_evaluate_a_named_flow(sample_engine):
    assert evaluate(sample_engine, {}, "emergency")["outcome_id"] == "CALL"
    assert evaluate(sample_engine, [], None)["status"] == "error"


def test_as_of_dates_every_answer_in_a_batch_and_a_bad_date_is_a_usage_error(run_cli):
    lines = "\n".join(json.dumps({"answers": a}) for a in (
        {"nation": "wales", "danger": "no", "kinds": ["hurt"]},
        {"nation": "england", "danger": "no", "kinds": ["none"], "consent": "yes"}))
    result = run_cli(*FLOWS, "evaluate", "--batch", "--as-of", "2027-01-31", input=lines + "\n")
    assert [json.loads(line)["law_as_at"] for line in result.stdout.splitlines()] == ["2027-01-31"] * 2
    bad = run_cli(*FLOWS, "evaluate", "--answers", "{}", "--as-of", "31/01/2027")
    assert bad.returncode == 2 and "--as-of: expected YYYY-MM-DD" in bad.stderr


def test_evaluate_help_says_how_the_date_is_chosen(run_cli):
    result = run_cli("evaluate", "--help")
    assert "--as-of" in result.stdout and "today's date" in result.stdout
