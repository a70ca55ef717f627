"""Every schema and graph error class gets a precise `file:line: node: message`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.analysis.load import load_bundle
from bot.flows.loader import FlowError
from tests.conftest import SAMPLE_FLOWS

START = (SAMPLE_FLOWS / "start_here.yaml").read_text()
OUTCOMES = (SAMPLE_FLOWS / "outcomes.yaml").read_text()


def problems(folder: Path) -> list[str]:
    """Every problem `canishare flows check` reports (path checks included: they run there, not
    at every start-up)."""
    with pytest.raises(FlowError) as info:
        load_bundle(folder, paths=True)
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_sample_flows_are_sound(sample_bundle):
    assert set(sample_bundle.flows) == {"start_here", "emergency"}
    assert len(sample_bundle.version_hash) == 12


@pytest.mark.parametrize(
    ("old", "new", "node", "message"),
    [
        ("next: SHARE", "nxt: SHARE", "consent_q", "unknown key `nxt`"),
        ("    text: Is anyone in immediate danger?\n", "", "danger", "missing `text`"),
        ("verdict: do_not_share\n", "verdict: maybe\n", "NOSHARE", "verdict: Input should be"),
        ("dsl_alert: none\n    extras", "dsl_alert: loud\n    extras", "NOSHARE", "dsl_alert"),
        ("{id: sad, label: Sad}", "{id: Sad-Face, label: Sad}", "kinds", "must be snake_case"),
    ],
)
def test_schema_errors_name_file_line_node(flows_copy, old, new, node, message):
    assert old in START
    folder = flows_copy({"start_here.yaml": START.replace(old, new, 1)})
    found = problems(folder)
    assert any("start_here.yaml:" in p and f": {node}: " in p and message in p for p in found), found


def test_unknown_key_points_at_its_line(flows_copy):
    text = START.replace("        next: SHARE", "        nxt: SHARE")
    folder = flows_copy({"start_here.yaml": text})
    [problem] = problems(folder)
    assert problem == f"{folder}/start_here.yaml:{line_of(text, 'nxt: SHARE')}: consent_q: unknown key `nxt` (in choices #1)"


def test_invalid_yaml_and_duplicate_keys(flows_copy):
    bad = flows_copy({"start_here.yaml": START.replace("title: Sample entry", "title: [unclosed")})
    assert any("not valid YAML" in p for p in problems(bad))
    dup = START.replace("version: 1\n", "version: 1\nversion: 2\n")
    found = problems(flows_copy({"start_here.yaml": dup}))
    assert any(f"start_here.yaml:{line_of(dup, 'version: 2')}:" in p and "appears twice" in p
               for p in found), found


def test_missing_special_file(flows_copy):
    found = problems(flows_copy({"gateways.yaml": None}))
    assert any(p.endswith("gateways.yaml:1: -: required file is missing") for p in found)


@pytest.mark.parametrize(
    ("old", "new", "node", "message"),
    [
        ("next: SHARE", "next: SHAER", "consent_q", "choice 'yes': unknown node 'SHAER'"),
        ("goto_flow: emergency}", "goto_flow: emergncy}", "danger", "unknown flow 'emergncy'"),
        ("goto_flow: emergency}", "goto_flow: emergency, at: NOPE}", "danger",
         "unknown node 'NOPE' in flow 'emergency'"),
        ("rules: [GR1, GR7]\n    gateways: [england-only]", "rules: [GR1, GR7, GR9]\n    gateways: [england-only]",
         "REFER", "unknown rule 'GR9'"),
        ("gateways: [england-only]", "gateways: [made-up-law]", "REFER", "unknown gateway 'made-up-law'"),
        ("share_checklist: [QC_necessary]", "share_checklist: [QC_nope]", "REFER", "unknown checklist item"),
        ("record: [rec_decision]\n    dsl_alert: none\n  - type: outcome\n    id: NOSHARE",
         "record: [rec_nope]\n    dsl_alert: none\n  - type: outcome\n    id: NOSHARE",
         "SHARE", "unknown record field 'rec_nope'"),
        ("rules: [GR7]\n    what_to_share: \"What they agreed to.\"",
         "rules: [GR1]\n    what_to_share: \"What they agreed to.\"", "SHARE", "no record guidance"),
        ("include: [basis]", "include: [basiss]", "REFER", "unknown extra set 'basiss'"),
    ],
)
def test_reference_errors(flows_copy, old, new, node, message):
    assert old in START, old
    text = START.replace(old, new, 1)
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(f": {node}: " in p and message in p for p in found), found


def test_duplicate_ids(flows_copy):
    text = START.replace("{id: sad, label: Sad}", "{id: hurt, label: Sad}")
    text = text.replace("  - type: outcome\n    id: SHARE", "  - type: outcome\n    id: REFER", 1)
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(": kinds: duplicate answer id 'hurt'" in p for p in found), found
    assert any(": REFER: duplicate node id (used 2 times)" in p for p in found), found
    emergency = (SAMPLE_FLOWS / "emergency.yaml").read_text().replace("id: emergency", "id: start_here")
    found = problems(flows_copy({"emergency.yaml": emergency}))
    assert any("duplicate flow id" in p for p in found), found


def test_unreachable_node_and_outcome(flows_copy):
    orphan = START + """  - type: question
    id: orphan
    text: Nobody asks me.
    choices:
      - {id: a, label: A, next: SHARE}
"""
    found = problems(flows_copy({"start_here.yaml": orphan}))
    assert found == [f"{found[0].split(':')[0]}:{line_of(orphan, 'id: orphan')}: orphan: "
                     "unreachable node: nothing leads here"]
    text = START.replace("next: ADVICE}", "next: NOSHARE}")
    text = text.replace("            next: ADVICE", "            next: NOSHARE")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(": ADVICE: unreachable outcome" in p for p in found), found


def test_dead_ends(flows_copy):
    text = START.replace('{id: not_sure, label: "Not sure", next: ADVICE}', '{id: not_sure, label: "Not sure"}')
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(": danger: dead end: choice 'not_sure' has no default" in p for p in found), found
    text = START.replace("    next: consent_q\n", "")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(": kinds: dead end: multi-select question has no default" in p for p in found), found


def test_cycle(flows_copy):
    text = START.replace("next: SHARE", "next: nation", 1)
    found = problems(flows_copy({"start_here.yaml": text}))
    [problem] = found
    assert "cycle: " in problem
    for node in ("start_here.nation", "start_here.danger", "start_here.kinds", "start_here.consent_q"):
        assert node in problem


def test_when_that_can_never_be_true(flows_copy):
    # unknown question, unknown answer
    text = START.replace("when: {kinds: [hurt]}", "when: {kindz: [hurt]}")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(": kinds: branch: `when` can never be true: no question 'kindz'" in p for p in found)
    text = START.replace("when: {kinds: [hurt]}", "when: {kinds: [hurts]}")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any("'kinds' has no answer 'hurts'" in p for p in found), found
    # a branch on a question that is never answered before it: valid ids, impossible on every path
    text = START.replace("when: {kinds: [sad], nation: wales}", "when: {consent: \"yes\"}")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert found and all("consent_q" in p and "can never be true on any path" in p for p in found), found
    # an extra that never holds on the way to its outcome
    text = START.replace("      - when: {kinds: [sad]}\n        add_next_steps",
                         "      - when: {kinds: [hurt]}\n        add_next_steps")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any(": NOSHARE: `when` of extra #1 can never be true" in p for p in found), found


def test_one_fact_asked_two_ways_must_offer_the_same_answers(flows_copy):
    """Edition 2 (C0): a fact already known is not asked again, so two questions asking it must
    agree on its answers."""
    text = START.replace("    asks: consent\n", "    asks: kinds\n")
    found = problems(flows_copy({"start_here.yaml": text}))
    assert any("consent_q: asks 'kinds' like start_here.kinds but offers different answers" in p
               for p in found), found


def test_yes_and_no_stay_text_and_numbers_stay_text(flows_copy):
    text = START.replace('{id: "yes", label: "Yes", goto_flow: emergency}', "{id: yes, label: Yes, goto_flow: emergency}")
    text = text.replace('{id: hurt, label: Hurt}', '{id: 13_15, label: Hurt}').replace("[hurt]", "[13_15]")
    bundle = load_bundle(flows_copy({"start_here.yaml": text}))
    danger = bundle.node("start_here", "danger")
    assert [c.id for c in danger.choices][0] == "yes"
    assert bundle.node("start_here", "kinds").choices[0].id == "13_15"


def test_real_flows_pass_the_checker(real_bundle):
    assert real_bundle.entry == "triage"
    assert {"triage", "can_i_share", "specialist_records", "respond_to_request", "consent",
            "emergency", "adult_at_risk", "allegation_about_staff"} <= set(real_bundle.flows)


def test_cli_check_prints_precise_messages(run_cli, flows_copy):
    text = START.replace("next: SHARE", "next: SHAER")
    folder = flows_copy({"start_here.yaml": text})
    result = run_cli("flows", "check", str(folder))
    assert result.returncode == 1
    # the line of the choice whose `next` is wrong, not of its question
    choice = line_of(text, "id: consent_q") + 4
    assert text.splitlines()[choice - 1].strip() == '- id: "yes"'
    expected = f"{folder}/start_here.yaml:{choice}: consent_q: choice 'yes': unknown node 'SHAER'"
    assert expected in result.stdout.splitlines()
    assert "1 problem(s)" in result.stderr
    ok = run_cli("flows", "check", str(SAMPLE_FLOWS))
    assert ok.returncode == 0 and re.match(r"ok: 2 flows, \d+ outcomes, 16 paths", ok.stdout)


def test_bot_refuses_to_start_with_a_broken_flow(run_cli, flows_copy):
    folder = flows_copy({"start_here.yaml": START.replace("next: SHARE", "next: SHAER")})
    result = run_cli("--flows", str(folder), "chat", input="1\n")
    assert result.returncode == 1
    assert "unknown node 'SHAER'" in result.stderr
    assert "refusing to start" in result.stderr
    assert "Q1." not in result.stdout


def test_a_profile_label_for_an_unknown_question_or_answer(flows_copy):
    manifest = (SAMPLE_FLOWS / "manifest.yaml").read_text()
    text = manifest.replace("entry: start_here\n", "entry: start_here\nprofile_questions: [nation]\n"
                            "profile_labels:\n  nation: {englnd: England}\n  danger: {\"no\": safe}\n")
    found = problems(flows_copy({"manifest.yaml": text}))
    assert any("profile_labels: 'nation' has no answer 'englnd'" in p for p in found), found
    assert any("profile_labels: 'danger' is not one of the profile_questions" in p for p in found), found
