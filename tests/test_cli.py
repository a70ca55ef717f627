"""CLI commands a reviewer or DSL uses, and that the README documents every command."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from bot.analysis.review import markdown
from bot.cli import build_parser
from tests.conftest import ROOT, SAMPLE_FLOWS

FLOWS = ("--flows", str(SAMPLE_FLOWS))


def commands(parser: argparse.ArgumentParser, prefix: str = "canishare") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix} {name}")
                found.extend(nested or [f"{prefix} {name}"])
    return found


def test_readme_documents_every_command():
    readme = (ROOT / "README.md").read_text()
    missing = [c for c in commands(build_parser()) if f"`{c}" not in readme]
    assert not missing, f"undocumented commands: {missing}"


def test_readme_starts_with_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make chat", "make test"]
    assert readme.index("make chat") < readme.index("## ")


def test_docs_flows_md_is_current(real_bundle):
    current = (ROOT / "docs" / "flows.md").read_text()
    assert current == markdown(real_bundle), (
        "docs/flows.md is out of date: run `canishare flows paths --format markdown --out docs/flows.md`")


def test_reviewer_document_shows_every_flow(real_bundle):
    text = markdown(real_bundle)
    for flow_id in real_bundle.flows:
        assert f"## Flow {flow_id}" in text
    assert text.count("```mermaid") == len(real_bundle.flows)
    assert "| O03 | refer_to_childrens_social_care | not_sought_unsafe |" in text


def test_reviewer_document_shows_every_answer_of_a_group(real_bundle):
    """A reviewer must see sports clubs, independent schools and "not sure" handled, not only the
    first answer of a group that takes the same path (issue 12)."""
    from bot.flows.schema import Question

    text = markdown(real_bundle)
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n## Flow ")[1:]}
    missing = []
    for flow_id, flow in real_bundle.flows.items():
        rows = [line for line in sections[flow_id].splitlines() if line.startswith("| ") and "=" in line]
        for node in flow.nodes:
            if not isinstance(node, Question) or node.multi:
                continue
            for choice in node.choices:
                shown = re.compile(rf"\b{node.key}=([\w/ ]+ / )?{choice.id}\b")
                if not any(shown.search(row) for row in rows):
                    missing.append(f"{flow_id}.{node.id}={choice.id}")
    assert not missing, missing
    assert re.search(r"org_type=[\w/ ]*sports_club", text) and "independent_school" in text


def test_reviewer_document_lists_changes_and_points_to_verify(real_bundle):
    text = markdown(real_bundle)
    changes = real_bundle.manifest.edition_changes
    assert len(changes) == 14 and all(change[:40] in text for change in changes)
    assert "## To verify before shipping" in text
    assert all(point[:30] in text for point in real_bundle.manifest.to_verify)
    assert "[K]" in text and "[P]" in text


def test_paths_and_diagrams(run_cli):
    paths = run_cli(*FLOWS, "flows", "paths")
    assert paths.returncode == 0
    assert "1. nation=england > danger=yes -> CALL" in paths.stdout
    assert "16 paths" in paths.stderr
    handover = run_cli(*FLOWS, "flows", "paths", "start_here", "--no-follow", "--format", "json")
    rows = [json.loads(line) for line in handover.stdout.splitlines()]
    assert {"answers": {"nation": "england", "danger": "yes"}, "ends_at": "CALL", "flow": "emergency",
            "handover": True, "held": []} in rows
    mermaid = run_cli(*FLOWS, "flows", "diagram", "start_here")
    assert mermaid.stdout.startswith("flowchart TD")
    assert 'start_here_danger -->|"yes"| flow_emergency_start' in mermaid.stdout
    dot = run_cli(*FLOWS, "flows", "diagram", "start_here", "--format", "dot")
    assert dot.stdout.startswith('digraph "start_here"') and "->" in dot.stdout
    unknown = run_cli(*FLOWS, "flows", "diagram", "nope")
    assert unknown.returncode == 2 and "unknown flow 'nope'" in unknown.stderr


def test_log_list_table(run_cli, tmp_path: Path):
    from bot.core.clock import SYSTEM_CLOCK
    from bot.storage import Decision, Storage
    from tests.conftest import record

    store = Storage(tmp_path / "cli.db")
    record(store, Decision(created_at=SYSTEM_CLOCK.now(), channel="terminal", user_id="amy",
                           flow_id="can_i_share", flow_version="abc", guidance_edition="e", answers={},
                           outcome_id="O08", verdict="share_with_consent", consent_position="given",
                           rules=["GR7"], gateways=[], dsl_alert="none", decision="shared",
                           case_reference="CS-9"))
    result = run_cli("log", "list", "--since", "7d")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "created_at", "channel", "user_id", "flow_id", "outcome_id",
                                "verdict", "decision", "dsl_alert", "case_reference"]
    assert lines[2].split()[2:] == ["terminal", "amy", "can_i_share", "O08", "share_with_consent",
                                    "shared", "none", "CS-9"]
    assert "1 decision(s)" in result.stderr
    bad = run_cli("log", "list", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_python_dash_m_bot_and_help(run_cli):
    result = run_cli("--help")
    assert result.returncode == 0 and "Exit codes" in result.stdout


def test_unusable_database_and_output_get_one_line(run_cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("log", "list", env={"CANISHARE_DATABASE": str(blocker / "log.db")})
    assert result.returncode == 2
    assert result.stderr.startswith(f"canishare: no database at {blocker / 'log.db'}")
    assert "Traceback" not in result.stderr
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_text("garbage" * 200)
    result = run_cli("log", "list", env={"CANISHARE_DATABASE": str(corrupt)})
    assert result.returncode == 2 and "not a database" in result.stderr and "Traceback" not in result.stderr
    assert run_cli("db", "migrate").returncode == 0
    result = run_cli("export", "--out", str(blocker / "x.csv"))
    assert result.returncode == 2 and result.stderr.startswith("canishare: --out: cannot write")


def test_paths_out_writes_a_file_in_every_format(run_cli, tmp_path: Path):
    for fmt in ("text", "json", "markdown"):
        out = tmp_path / f"paths.{fmt}"
        result = run_cli(*FLOWS, "flows", "paths", "--format", fmt, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() in ("", f"wrote {out}") and out.read_text().strip(), fmt
        if fmt == "json":
            assert all(json.loads(line)["ends_at"] for line in out.read_text().splitlines())


def test_flows_check_of_one_file_reports_every_problem_at_its_line(run_cli, flows_copy):
    from tests.conftest import SAMPLE_FLOWS

    text = (SAMPLE_FLOWS / "start_here.yaml").read_text()
    broken = text.replace("next: SHARE", "next: SHAER").replace("    asks: consent\n", "    askz: consent\n")
    folder = flows_copy({"start_here.yaml": broken})
    result = run_cli("flows", "check", str(folder / "start_here.yaml"))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    lines_of = {n for n, line in enumerate(broken.splitlines(), 1) if "askz" in line}
    # a key typo does not hide a broken reference: both in one run, each at its own line
    assert any(f"start_here.yaml:{lines_of.pop()}: consent_q: unknown key `askz`" in line for line in lines), lines
    assert any("consent_q: choice 'yes': unknown node 'SHAER'" in line for line in lines), lines
    assert "2 problem(s)" in result.stderr and "folder not found" not in result.stderr
    fine = run_cli("flows", "check", str(SAMPLE_FLOWS / "start_here.yaml"))
    assert fine.returncode == 0 and "start_here.yaml in the context of 2 flows" in fine.stdout
