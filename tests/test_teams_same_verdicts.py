"""The same flows file gives the same verdicts in Slack, Teams and the terminal: a set of paths
walked through all three (the real apps over loopback HTTP, and `canishare chat` on stdin), each
recorded, all on one database, and the records compared."""

from __future__ import annotations

import pytest

from bot.analysis.paths import FlowPath, walk
from bot.core.engine import Engine
from bot.flows.loader import FlowBundle
from bot.flows.schema import Question
from bot.storage import Storage
from tests.conftest import decisions
from tests.fakes.teams_service import FakeTeamsService, new_user_id
from tests.slack_harness import start_app
from tests.teams_harness import start_teams

# One path to each of these answers: immediate danger, a multi-select referral, advice, a request
# from children's social care, an adult at risk, and "not sure".
OUTCOMES = ("O01", "O03", "O12", "O18", "O25", "O02")
RECORD = {"decision": "shared", "what": "summary of concerns", "with_whom": "duty social worker",
          "purpose": "referral", "reasons": "risk of harm"}
COMPARED = ("flow_id", "flow_version", "guidance_edition", "jurisdiction", "answers", "outcome_id", "verdict",
            "consent_position", "rules", "gateways", "dsl_alert", "secondary", "decision", "what",
            "with_whom", "purpose", "reasons", "case_reference")


def chosen_paths(bundle: FlowBundle) -> list[FlowPath]:
    """The first path to each of OUTCOMES, from the memoised walk (edition 2's flows have too many
    paths to list one by one before the adult-at-risk answer comes up)."""
    engine, found = Engine(bundle), {}
    for end in walk(bundle, bundle.entry).ends:
        path = end.path
        if path.handover or path.end.node not in OUTCOMES or path.end.node in found:
            continue
        # the answer is the primary outcome, which need not be where the path ended (C0)
        primary = engine.conclude(path.end, path.answers, path.held).outcome.id
        if primary == path.end.node:
            found[primary] = path
    return [found[o] for o in OUTCOMES]


def question(bundle: FlowBundle, flow: str, node: str) -> Question:
    return next(n for n in bundle.flows[flow].nodes if n.id == node)


def terminal_input(bundle: FlowBundle, path: FlowPath) -> str:
    """What a person types in `canishare chat`: choice numbers, then the record, then no more."""
    lines = []
    for step in path.steps:
        ids = [c.id for c in question(bundle, step.flow, step.node).choices]
        values = step.answer if isinstance(step.answer, list) else [step.answer]
        lines.append(",".join(str(ids.index(v) + 1) for v in values))
    lines += ["y", "1", RECORD["what"], RECORD["with_whom"], RECORD["purpose"], RECORD["reasons"], "", "n"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def teams_fake():
    service = FakeTeamsService().start()
    yield service
    service.stop()


def test_slack_teams_and_the_terminal_record_the_same_verdicts(fake, teams_fake, real_bundle, tmp_path,
                                                               clock, run_cli):
    db = tmp_path / "one.db"
    paths = chosen_paths(real_bundle)
    assert len({p.end.node for p in paths}) == len(OUTCOMES)
    assert any(isinstance(s.answer, list) for p in paths for s in p.steps)  # a multi-select among them
    slack = start_app(fake, real_bundle, db, clock=clock)
    teams = start_teams(teams_fake, real_bundle, db, clock)
    try:
        for number, path in enumerate(paths):
            walk_slack(slack, path, f"U{number}")
            walk_teams(teams, path, new_user_id())
            result = run_cli("chat", "--user", f"terminal-{number}", input=terminal_input(real_bundle, path),
                             env={"CANISHARE_DATABASE": str(db)})
            assert result.returncode == 0 and "Saved: decision #" in result.stdout, result.stdout[-800:]
    finally:
        slack.stop()
        teams.stop()
    storage = Storage(db, clock)
    rows = decisions(storage)
    storage.close()
    by_channel: dict[str, list[dict]] = {"slack": [], "teams": [], "terminal": []}
    for row in rows:
        by_channel[row["channel"]].append({k: row[k] for k in COMPARED})
    assert [r["outcome_id"] for r in by_channel["teams"]] == list(OUTCOMES)
    assert by_channel["slack"] == by_channel["teams"] == by_channel["terminal"]


def walk_slack(slack, path: FlowPath, user: str) -> None:
    slack.command(user=user)
    for step in path.steps:
        if isinstance(step.answer, list):
            response = slack.click("multi_continue", user=user, picked=step.answer)
        else:
            response = slack.click(f"answer:{step.answer}", user=user)
        assert response.status == 200
    slack.click("record_open", user=user)
    meta = slack.fake.last("views.open").params["view"]["private_metadata"]
    assert slack.submit_record(RECORD, meta, user=user).body == ""


def walk_teams(teams, path: FlowPath, user: str) -> None:
    teams.message(user, "hello")
    for step in path.steps:
        if isinstance(step.answer, list):
            teams.tick(user, *step.answer)
        else:
            teams.answer(user, step.answer)
    task = teams.open_dialog(user, "record_open")
    assert teams.submit_dialog(user, task, RECORD)["type"] == "message"
