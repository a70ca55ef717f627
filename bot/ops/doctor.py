"""`canishare doctor`: the set-up checked live, one line per check, with the fix for each failure.

An admin runs it after every set-up step. It exits 0 only when everything an urgent escalation
needs works: a DSL route configured, the database reachable, writable and migrated, the log key,
a running clock (it delivers what must reach a DSL), and each configured channel's side (its
checks live with the channel: `bot/channels/*/doctor.py`). Warnings are worth fixing but do not
stop an urgent escalation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, TextIO

from bot.settings import Settings

Status = Literal["ok", "warn", "fail"]
EXIT_OK, EXIT_PROBLEMS = 0, 1
LABEL = {"ok": " ok ", "warn": "warn", "fail": "FAIL"}


@dataclass(frozen=True)
class Check:
    status: Status
    what: str
    fix: str = ""


def ok(what: str) -> Check:
    return Check("ok", what)


def warn(what: str, fix: str) -> Check:
    return Check("warn", what, fix)


def fail(what: str, fix: str) -> Check:
    return Check("fail", what, fix)


def no_dsl_route(s: Settings) -> str | None:
    """Why urgent answers would alert nobody, or None when some channel has a DSL desk. Shared
    by doctor and the start-up warning of each process."""
    if s.slack_desk_configured or s.teams_desk_configured:
        return None
    return ("no DSL channel is configured (CANISHARE_DSL_CHANNEL for Slack, TEAMS_DSL_TEAM_ID and "
            "TEAMS_DSL_CHANNEL_ID for Teams): urgent answers alert no DSL; people are only told to "
            "contact their DSL and call 999 themselves")


def warn_at_start(s: Settings, process: str) -> None:
    """Said loudly in every process's log at start-up, before anyone asks for help."""
    import logging

    route = no_dsl_route(s)
    if route:
        logging.getLogger("canishare").error("NO DSL ROUTE: %s: %s; run `canishare doctor`", process, route)


def print_checklist(checks: Iterable[Check], out: TextIO = sys.stdout) -> int:
    """Print each check as it finishes (a slow service shows where it is stuck); the exit code."""
    failed = warned = total = 0
    for check in checks:
        total += 1
        failed += check.status == "fail"
        warned += check.status == "warn"
        print(f"[{LABEL[check.status]}] {check.what}", file=out, flush=True)
        if check.fix:
            print(f"       fix: {check.fix}", file=out, flush=True)
    if failed:
        print(f"{failed} problem(s) stop an urgent escalation reaching a DSL: fix them in order, then "
              "run `canishare doctor` again.", file=out)
        return EXIT_PROBLEMS
    extra = f" ({warned} warning(s) above)" if warned else ""
    print(f"ok: all {total} checks passed{extra}: an urgent escalation reaches a DSL.", file=out)
    return EXIT_OK


def guarded(name: str, checks: Callable[[], Iterable[Check]]) -> Iterator[Check]:
    """A check that crashes is a failure named after it, never a traceback that hides the rest."""
    try:
        yield from checks()
    except Exception as exc:  # noqa: BLE001 - doctor reports everything it cannot check
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        yield fail(f"{name}: could not check ({text})",
                   "fix the problem named, or report it with this line")
