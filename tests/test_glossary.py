"""Terms of art in plain words, from one glossary the questions and the outcomes share: each is
explained where it first appears on a screen; the glossary is schema-checked with the flows."""

from __future__ import annotations

import shutil

from bot.core.glossary import terms_in
from bot.flows.schema import Glossary
from tests.conftest import SAMPLE_FLOWS

GLOSSARY = """terms:
  - id: immediate_danger
    term: immediate danger
    plain: someone could be hurt in the next few minutes or hours if nobody acts now
    source: sample
  - id: golden_rule_7
    term: golden rule 7
    plain: record your decision and your reasons, whether or not you share
    source: sample
"""


def test_the_shipped_glossary_explains_the_terms_the_issue_names(real_bundle):
    found = {e.id for e in terms_in(["lawful basis, DPO, LADO, s47(9), Cafcass and golden rule 7"],
                                    real_bundle.glossary)}
    assert found == {"lawful_basis", "dpo", "lado", "s47", "cafcass", "golden_rule_7"}
    assert all(len(e.plain) <= 200 and e.source for e in real_bundle.glossary.terms)


def test_terms_match_whole_words_in_any_case_once():
    glossary = Glossary.model_validate({"terms": [
        {"id": "dsl", "term": "DSL", "also": ["DSLs"], "plain": "the designated safeguarding lead", "source": "KCSIE"}]})
    already: set[str] = set()
    assert [e.id for e in terms_in(["Tell your dsls today", "the DSL"], glossary, already)] == ["dsl"]
    assert terms_in(["the DSL again"], glossary, already) == []  # explained once
    assert terms_in(["ADSLR and DSLx are other words"], glossary) == []


def copy_with_glossary(tmp_path, text: str):
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLE_FLOWS, flows)
    (flows / "glossary.yaml").write_text(text)
    return flows


def test_a_broken_glossary_is_one_line_with_file_and_line(run_cli, tmp_path):
    flows = copy_with_glossary(tmp_path, GLOSSARY + "  - id: again\n    term: Immediate danger\n"
                               "    plain: listed twice under another id\n    source: sample\n")
    result = run_cli("flows", "check", str(flows))
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if "glossary.yaml" in x]
    assert "'immediate danger' is listed twice" in line and line.startswith(f"{flows / 'glossary.yaml'}:")


def test_the_terminal_explains_a_term_where_it_first_appears(run_cli, tmp_path):
    flows = copy_with_glossary(tmp_path, GLOSSARY)
    keys = ["1", "2", "b", "2", "1", "m", "n", "n"]
    result = run_cli("--flows", str(flows), "chat", "--user", "g", input="\n".join(keys) + "\n")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # wrapped to the terminal: compare words
    explanation = "(immediate danger: someone could be hurt in the next few minutes or hours if nobody acts now)"
    assert out.count("Q2. Is anyone in immediate danger?") == 2 and out.count(explanation) == 1  # once a session
    assert out.index("Q2. Is anyone in immediate danger?") < out.index(explanation)
    words = out[out.index("Words used above"):]
    assert "golden rule 7: record your decision and your reasons" in words  # "Record (golden rule 7)" above
