"""Issue 11, C0 S1-S6: a check that raises two outcomes answers with the most protective one and
shows the other under it ("Also:"), and the decision log and the export keep both ids. Driven
through the terminal chat, as a person would reach it: a teacher handed court papers that show
a child being hurt at home."""

from __future__ import annotations

import json

from tests.test_chat_new_outcomes import keys_for
from tests.test_guidance_scenarios import EDITION_2

COURT = next(s for s in EDITION_2 if s["change"] == 1 and s["secondary"] == ["O13"] and s["outcome"] == "O03")


def test_court_papers_showing_harm_refer_first_and_keep_the_court_advice(run_cli, real_engine, tmp_path):
    keys, _, verdict = keys_for(real_engine, COURT["answers"])
    record = ["y", "shared", "summary of the concern, not the court papers", "duty social worker",
              "child protection referral", "the papers show an unreferred risk of harm", "CS-101", "n"]
    result = run_cli("chat", "--user", "teacher", input="\n".join([*keys, *record]) + "\n")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    court_label = real_engine.bundle.manifest.verdict_labels[
        real_engine.bundle.shared_outcome("O13").verdict]
    primary, also = out.index(verdict.upper()), out.index("Also: ")
    assert primary < also < out.index("y = record")  # the referral first, the court advice under it
    assert court_label in out[also:also + 200]
    assert "Saved: decision #1" in out

    [row] = [json.loads(line) for line in run_cli("log", "list", "--format", "json", "--since", "1d")
             .stdout.splitlines()]
    assert (row["outcome_id"], row["verdict"]) == ("O03", "refer_to_childrens_social_care")
    assert row["secondary"] == [{"outcome_id": "O13", "verdict": "do_not_share"}]

    exported = tmp_path / "week.json"
    # a period wide enough to hold the check whatever day the test runs
    done = run_cli("export", "--from", "2000-01-01", "--to", "2099-12-31", "--format", "json",
                   "--out", str(exported))
    assert done.returncode == 0, done.stderr
    rows = [r for r in json.loads(exported.read_text()) if "id" in r]  # the last item is the checkpoint
    assert [r["secondary"] for r in rows] == [[{"outcome_id": "O13", "verdict": "do_not_share"}]]
