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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, known: set[str]) -> list[str]:
    """Like `imported`, but `from package import submodule` names the submodule."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            names += [s for s in subs if s in known] or [node.module]
            if any(s not in known for s in subs) and any(s in known for s in subs):
                names.append(node.module)
    return names


def import_graph() -> dict[str, set[str]]:
    """Every bot module -> the bot modules it imports, at module level or inside a function
    (a deferred import still makes a cycle a reader must untangle)."""
    known = {module_name(p) for p in modules()}
    graph: dict[str, set[str]] = {}
    for path in modules():
        targets = set()
        for name in imported_modules(ast.parse(path.read_text()), known):
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("bot"):
                targets.add(name)
        graph[module_name(path)] = targets - {module_name(path)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """flows (data) <- core (engine) <- analysis (walks): nothing imports upward."""
    offenders = []
    for module, targets in graph.items():
        for target in targets:
            if module.startswith("bot.flows") and target.startswith(("bot.core", "bot.analysis")):
                offenders.append(f"{module} imports {target}")
            if module.startswith("bot.core") and target.startswith("bot.analysis"):
                offenders.append(f"{module} imports {target}")
    return sorted(offenders)


def test_flows_then_engine_then_analysis():
    assert layer_violations(import_graph()) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_layer_checks_would_catch_a_violation():
    looped = {"bot.flows.loader": {"bot.analysis.checks"}, "bot.analysis.checks": {"bot.core.engine"},
              "bot.core.engine": {"bot.flows.loader"}}
    assert cycles(looped) == [["bot.analysis.checks", "bot.core.engine", "bot.flows.loader"]]
    assert layer_violations(looped) == ["bot.flows.loader imports bot.analysis.checks"]
    assert cycles({"bot.a": {"bot.b"}, "bot.b": set()}) == []
