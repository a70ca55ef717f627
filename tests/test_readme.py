"""The README read as a new admin would: every shell block marked `<!-- readme-test -->` (those
that need neither Slack nor Microsoft) runs as written, in order, in a fresh folder with its own
user data, and succeeds. A command that stops working, or a README that drifts from the CLI,
fails here."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap

import pytest

from tests.conftest import ROOT, clean_env
from tests.fakes.teams_service import CLIENT_ID

MARK = "<!-- readme-test"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>\w*)\s*$")


def marked_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block whose previous non-blank line is the mark."""
    lines = text.splitlines()
    blocks, previous = [], ""
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening and opening.group("lang"):
            start, body = index + 1, []
            index += 1
            while index < len(lines) and not FENCE.match(lines[index]):
                body.append(lines[index])
                index += 1
            if previous.strip().startswith(MARK):
                assert opening.group("lang") == "sh", f"README line {start}: a marked block must be sh"
                blocks.append((start, textwrap.dedent("\n".join(body))))
        if lines[index].strip() if index < len(lines) else "":
            previous = lines[index]
        index += 1
    return blocks


BLOCKS = marked_blocks((ROOT / "README.md").read_text())


def test_the_marker_finds_blocks():
    assert len(BLOCKS) >= 2
    assert marked_blocks(f"{MARK} -->\n```sh\necho hi\n```\n\n```sh\nnot marked\n```\n") == [(2, "echo hi")]


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README line {line}" for line, _ in BLOCKS])
def test_readme_block_runs_as_written(tmp_path, line, code):
    os.symlink(ROOT / ".venv", tmp_path / ".venv")
    env = clean_env(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                    HOME=str(tmp_path), TEAMS_CLIENT_ID=CLIENT_ID)
    env.pop("CANISHARE_DATABASE", None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"README line {line}:\n{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
