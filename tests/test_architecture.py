"""The shape that keeps the core channel-neutral and time testable, checked on the source:
no chat SDK outside `bot/channels/`, no channel code imported by the core, and no wall-clock
read anywhere but `bot/core/clock.py`."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

BOT = ROOT / "bot"
CHAT_SDKS = ("slack_sdk", "slack_bolt", "microsoft_teams", "microsoft.teams", "botbuilder")
CORE_PACKAGES = ("core", "flows", "dsl", "storage")
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
              ("time", "time"), ("time", "time_ns"), ("time", "localtime"), ("time", "gmtime")}


def modules() -> list[Path]:
    return sorted(p for p in BOT.rglob("*.py") if "__pycache__" not in p.parts)


def imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_no_chat_sdk_outside_the_channels():
    offenders = []
    for path in modules():
        relative = path.relative_to(BOT)
        if relative.parts[0] == "channels":
            continue
        for name in imported(ast.parse(path.read_text())):
            if name.startswith(CHAT_SDKS):
                offenders.append(f"{relative}: imports {name}")
    assert not offenders, offenders


def test_the_core_never_imports_a_channel():
    offenders = []
    for path in modules():
        relative = path.relative_to(BOT)
        if relative.parts[0] not in CORE_PACKAGES:
            continue
        for name in imported(ast.parse(path.read_text())):
            if name.startswith(("bot.channels", "bot.services", "bot.cli")):
                offenders.append(f"{relative}: imports {name}")
    assert not offenders, offenders


def wall_clock_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"line {node.lineno}: {name}.{node.func.attr}()")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [f"line {node.lineno}: from time import {a.name}" for a in node.names
                      if ("time", a.name) in WALL_CLOCK]
    return found


def test_nothing_but_the_clock_reads_the_wall_clock():
    offenders = []
    for path in modules():
        if path == BOT / "core" / "clock.py":
            continue
        offenders += [f"{path.relative_to(BOT)} {hit}" for hit in wall_clock_reads(ast.parse(path.read_text()))]
    assert not offenders, offenders


def test_the_checks_would_catch_a_violation():
    """The scans above are only worth something if they can fail."""
    assert wall_clock_reads(ast.parse("import datetime\ndatetime.datetime.now()")) == ["line 2: datetime.now()"]
    assert wall_clock_reads(ast.parse("from datetime import date\ndate.today()")) == ["line 2: date.today()"]
    assert wall_clock_reads(ast.parse("import time\ntime.time()")) == ["line 2: time.time()"]
    assert wall_clock_reads(ast.parse("import time\ntime.monotonic()")) == []
    assert imported(ast.parse("from slack_sdk import WebClient")) == ["slack_sdk"]
