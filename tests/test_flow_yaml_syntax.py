"""A flow file that is not YAML: one line with file, line, column and what is wrong, not every
cross-reference the missing file breaks."""

from __future__ import annotations

import shutil

from tests.conftest import REAL_FLOWS


def test_a_yaml_syntax_error_is_one_line_with_line_and_column(run_cli, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(REAL_FLOWS, flows)
    target = flows / "consent.yaml"
    lines = target.read_text().splitlines()
    lines[20] += ' "oops'
    target.write_text("\n".join(lines) + "\n")
    column = len(lines[20]) - len('"oops') + 1

    checked = run_cli("flows", "check", str(flows))
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        f"{target}:21:{column}: not valid YAML: expected a comment or a line break, but found '\"'"]

    chat = run_cli("--flows", str(flows), "chat", input="")
    assert chat.returncode == 1
    assert chat.stderr.splitlines()[0] == checked.stdout.strip()
    assert len(chat.stderr.splitlines()) == 2  # the problem, then "refusing to start"
