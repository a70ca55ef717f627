"""`canishare ...` commands. Each command is a small function; shared start-up (settings,
flows, storage) lives in `App`, so every command fails the same clear way."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.analysis.load import load_bundle
from bot.analysis.paths import PathLimitExceeded
from bot.core.clock import Clock
from bot.core.evaluate import EXIT_CODES, evaluate
from bot.errors import CommandError
from bot.flows.law import coming_provisions
from bot.flows.loader import FlowError
from bot.services import Services
from bot.settings import SettingsError, load_settings
from bot.storage import ChainBroken, StorageError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


App = Services  # each command takes the composition root (`app`) and its arguments


def parse_since(text: str, clock: Clock) -> datetime:
    """'7d', '24h', '2w' or an ISO date such as 2026-11-01."""
    match = re.fullmatch(r"(\d+)\s*([hdw])", text.strip().lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return clock.now() - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: amount})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--since: expected e.g. 7d, 24h, 2w or 2026-11-01, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- commands ------------------------------------------------------------------------------
def cmd_chat(app: App, args: argparse.Namespace) -> int:
    from bot.channels.terminal import CHANNEL, TerminalChat

    user = args.user or (ask_who() if app.settings.chat_user == "ask" else getpass.getuser())
    conversations = app.conversations(CHANNEL, practice=args.practice)
    return TerminalChat(conversations, user, where=app.storage.where).run()


def ask_who() -> str:
    """On a shared PC the login says nothing about who decided: each person says who they are
    (CANISHARE_CHAT_USER=ask), so the log names them and each resumes their own checks."""
    for _ in range(3):
        print("Who are you? Your name or staff id, as your DSL knows you (it goes in the decision "
              "log): ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        who = " ".join(line.split())[:80]
        if who:
            return who
    raise CommandError("CANISHARE_CHAT_USER=ask: nobody said who they are; nothing was started")


def cmd_flows_check(app: App, args: argparse.Namespace) -> int:
    """A folder, or one file checked in the context of its folder (its problems first)."""
    path = Path(args.path) if args.path else app.flows_dir
    only: Path | None = None
    if path.is_file():
        only, path = path.resolve(), path.resolve().parent
    try:
        bundle = load_bundle(path, paths=True)
    except FlowError as exc:
        mine = [p for p in exc.problems if only is None or Path(p.file).resolve() == only]
        for problem in mine:
            print(problem, flush=True)
        where = only or path
        print(f"{len(mine)} problem(s) in {where}", file=sys.stderr)
        others = len(exc.problems) - len(mine)
        if others:
            print(f"{others} more problem(s) elsewhere in {path}: run `canishare flows check "
                  f"{path}`", file=sys.stderr)
        return EXIT_PROBLEMS
    from bot.analysis.paths import outcomes, walk

    count = walk(bundle).paths
    checked = f"{only.name} in the context of " if only else ""
    print(f"ok: {checked}{len(bundle.flows)} flows, {len(list(outcomes(bundle)))} outcomes, "
          f"{count} paths from '{bundle.entry}', version {bundle.version_hash}")
    coming = coming_provisions(bundle)
    if coming:
        set_now = app.settings.commencement_dates
        print("coming (a note only, never a duty, until CANISHARE_COMMENCEMENTS names a date): "
              + ", ".join(f"{p} (commences {set_now[p].isoformat()})" if p in set_now else p
                          for p in coming))
    return EXIT_OK


def _flow(app: App, flow_id: str | None) -> str:
    flow_id = flow_id or app.bundle.entry
    if flow_id not in app.bundle.flows:
        known = ", ".join(sorted(app.bundle.flows))
        raise CommandError(f"unknown flow {flow_id!r}; flows: {known}")
    return flow_id


def _write(text: str, out: str | None) -> None:
    """To `--out` when given (whatever the format), else stdout."""
    if not out:
        sys.stdout.write(text)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"--out: cannot write {out} ({exc.strerror or exc})") from None
    print(f"wrote {out}")


def cmd_flows_paths(app: App, args: argparse.Namespace) -> int:
    from bot.analysis.paths import enumerate_paths
    from bot.analysis.review import markdown

    if args.format == "markdown":
        _write(markdown(app.bundle), args.out)
        return EXIT_OK
    flow_id = _flow(app, args.flow)
    lines: list[str] = []
    paths = enumerate_paths(app.bundle, flow_id, follow=not args.no_follow)
    for count, path in enumerate(paths, 1):
        if args.format == "json":
            lines.append(json.dumps({"answers": path.answers, "ends_at": path.end.node,
                                     "flow": path.end.flow, "handover": path.handover,
                                     "held": [h.outcome for h in path.held]}))
        else:
            lines.append(f"{count}. {path.describe()}")
    _write("".join(line + "\n" for line in lines), args.out)
    if args.format == "text":
        print(f"{len(lines)} paths", file=sys.stderr)
    return EXIT_OK


def cmd_flows_diagram(app: App, args: argparse.Namespace) -> int:
    from bot.analysis.diagram import dot, mermaid

    flow_id = _flow(app, args.flow)
    render = dot if args.format == "dot" else mermaid
    sys.stdout.write(render(app.bundle, flow_id))
    return EXIT_OK


def _read_answers(value: str) -> object:
    text = value
    if not value.lstrip().startswith("{") and Path(value).exists():
        text = Path(value).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--answers: not JSON or a readable JSON file ({exc.msg})") from None


def _as_of(app: App, text: str | None):
    """The engine as at `--as-of YYYY-MM-DD`, else as at today from the clock (Europe/London)."""
    if text is None:
        return app.engine
    try:
        return app.engine.at(date.fromisoformat(text))
    except ValueError:
        raise CommandError(f"--as-of: expected YYYY-MM-DD, got {text!r}") from None


def cmd_evaluate(app: App, args: argparse.Namespace) -> int:
    flow_id = _flow(app, args.flow) if args.flow else None
    engine = _as_of(app, args.as_of)
    if args.batch:
        worst = EXIT_OK
        for number, line in enumerate(sys.stdin, 1):
            if not line.strip():  # still one output line per input line, so N matches N
                result = {"status": "error", "question": None,
                          "message": f"line {number}: empty line (expected {{\"answers\": {{...}}}})"}
                print(json.dumps(result), flush=False)
                worst = max(worst, EXIT_CODES["error"])
                continue
            try:
                case = json.loads(line)
                if not isinstance(case, dict):
                    raise TypeError("not a JSON object")
                result = evaluate(engine, case["answers"], case.get("flow") or flow_id)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                result = {"status": "error", "question": None,
                          "message": f"line {number}: expected {{\"answers\": {{...}}}} ({exc})"}
            print(json.dumps(result), flush=False)
            worst = max(worst, EXIT_CODES[result["status"]])
        sys.stdout.flush()
        return worst
    if args.answers is None:
        raise CommandError("give --answers FILE_OR_JSON, or --batch with JSON lines on stdin")
    result = evaluate(engine, _read_answers(args.answers), flow_id)
    print(json.dumps(result, indent=2))
    return EXIT_CODES[result["status"]]


def cmd_privacy_scan(app: App, args: argparse.Namespace) -> int:
    from bot.core.privacy import MAX_TEXT_CHARS, scan

    for line in sys.stdin:
        line = line.rstrip("\r\n")
        if len(line) > MAX_TEXT_CHARS:  # refused before the scan, like every entry point
            print(json.dumps({"error": f"too long: {len(line)} characters, the limit is {MAX_TEXT_CHARS}"}))
            continue
        findings = scan(line)
        print(json.dumps({"findings": [f.as_dict() for f in findings]}))
    return EXIT_OK


def cmd_log_list(app: App, args: argparse.Namespace) -> int:
    storage = app.existing_storage()
    with storage.read() as tx:
        rows = list(tx.decisions.iter(since=parse_since(args.since, app.clock)))
    if args.format == "json":
        for row in rows:
            print(json.dumps(row))
        return EXIT_OK
    columns = ["id", "created_at", "channel", "user_id", "flow_id", "outcome_id", "verdict",
               "decision", "dsl_alert", "case_reference"]
    table = [columns] + [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for number, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))
    print(f"{len(rows)} decision(s) since {args.since} in {storage.where}", file=sys.stderr)
    return EXIT_OK


# --- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canishare",
        description="Safeguarding 'can I share this?' assistant. Settings come from the "
        "environment or .env (see .env.example).",
        epilog="Exit codes: 0 ok; 1 problems found (flows check, log verify); 2 usage or "
        "settings error; evaluate: 3 needs an answer, 4 invalid answer.",
    )
    parser.add_argument("--flows", help="flows folder (default: CANISHARE_FLOWS_DIR or ./flows)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", help="the terminal chat")
    chat.add_argument("--user", help="who is asking (default: your login name, or asked when "
                      "CANISHARE_CHAT_USER=ask, for shared PCs)")
    chat.add_argument("--practice", action="store_true",
                      help="practice mode for training: the same flows, nothing recorded, no DSL alerted")
    chat.set_defaults(handler=cmd_chat)

    flows = sub.add_parser("flows", help="check and review flow files").add_subparsers(
        dest="flows_command", required=True, metavar="SUBCOMMAND")
    check = flows.add_parser("check", help="validate flows; file:line messages, exit 1 on error")
    check.add_argument("path", nargs="?", help="flows folder, or one flow file checked in the "
                       "context of its folder (default: the configured folder)")
    check.set_defaults(handler=cmd_flows_check)
    paths = flows.add_parser("paths", help="every path from start to each outcome")
    paths.add_argument("flow", nargs="?", help="flow id (default: the entry flow)")
    paths.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    paths.add_argument("--no-follow", action="store_true", help="stop at hand-overs to flows")
    paths.add_argument("--out", help="write to this file instead of stdout (any format)")
    paths.set_defaults(handler=cmd_flows_paths)
    diagram = flows.add_parser("diagram", help="a flowchart of one flow")
    diagram.add_argument("flow", nargs="?", help="flow id (default: the entry flow)")
    diagram.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    diagram.set_defaults(handler=cmd_flows_diagram)

    ev = sub.add_parser(
        "evaluate", help="run answers through the flows, print JSON",
        description="Run answers through the flows and print the answer as JSON: outcome, verdict, "
        "urgency, personal_duties, law_as_at, notes (law coming in), secondary outcomes. The law is "
        "applied as at today's date (Europe/London) unless --as-of gives another.")
    ev.add_argument("--answers", help="JSON object of answers, or a file holding one")
    ev.add_argument("--flow", help="flow to run (default: the entry flow)")
    ev.add_argument("--batch", action="store_true",
                    help='read {"answers": {...}} per line on stdin, write one result per '
                    'line (a blank line gets an error line)')
    ev.add_argument("--as-of", metavar="YYYY-MM-DD",
                    help="evaluate under the law in force on this date (default: today); works "
                    "with --batch too")
    ev.set_defaults(handler=cmd_evaluate)

    privacy = sub.add_parser("privacy", help="identifier detection").add_subparsers(
        dest="privacy_command", required=True, metavar="SUBCOMMAND")
    scan = privacy.add_parser("scan", help="one line of text in, one JSON line of findings out")
    scan.set_defaults(handler=cmd_privacy_scan)

    log = sub.add_parser("log", help="the decision log").add_subparsers(
        dest="log_command", required=True, metavar="SUBCOMMAND")
    listing = log.add_parser("list", help="recent decisions as a table")
    listing.add_argument("--since", default="7d", help="7d, 24h, 2w or a date (default 7d)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=cmd_log_list)

    verify = log.add_parser("verify", help="check the log's keyed hash chains; exit 1 if broken")
    verify.add_argument("--checkpoint", metavar="VALUE_OR_FILE",
                        help="also prove nothing logged before this published checkpoint was removed")
    verify.add_argument("--no-key", action="store_true",
                        help="check without the log key: what anyone holding a copy can still prove")
    verify.set_defaults(handler=cmd_log_verify)
    checkpoint = log.add_parser("checkpoint", help="write a signed checkpoint now and print it")
    checkpoint.set_defaults(handler=cmd_log_checkpoint)
    key = log.add_parser("key", help="print a new random log key (for CANISHARE_LOG_KEY)")
    key.set_defaults(handler=cmd_log_key)

    exp = sub.add_parser("export", help="export decisions (default: the last full week)")
    exp.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (local time)")
    exp.add_argument("--to", dest="end", help="last day, YYYY-MM-DD, inclusive (default: --from + 6)")
    exp.add_argument("--format", choices=["csv", "xlsx", "json"], default="csv")
    exp.add_argument("--out", help="file to write (default: canishare-decisions-FROM-to-TO.FORMAT)")
    exp.set_defaults(handler=cmd_export)

    purge = sub.add_parser("purge", help="delete decisions older than the retention period")
    purge.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
    purge.set_defaults(handler=cmd_purge)

    clock = sub.add_parser("clock", help="the scheduler: deliveries, reminders, weekly export, purge")
    clock.add_argument("--once", action="store_true", help="run one tick and exit")
    clock.add_argument("--interval", type=float, help="seconds between ticks (default: "
                       "CANISHARE_CLOCK_INTERVAL, 10)")
    clock.set_defaults(handler=cmd_clock)

    backup = sub.add_parser("backup", help="an online-safe copy of the SQLite database (while others write)")
    backup.add_argument("--out", help="file to write (default: canishare-backup-DATE-TIME.db here)")
    backup.set_defaults(handler=cmd_backup)

    db = sub.add_parser("db", help="the database").add_subparsers(
        dest="db_command", required=True, metavar="SUBCOMMAND")
    migrate = db.add_parser("migrate", help="create the database or bring its schema up to date")
    migrate.add_argument("-q", "--quiet", action="store_true", help="say nothing when already current")
    migrate.set_defaults(handler=cmd_db_migrate)
    copy = db.add_parser("copy", help="copy every row into another (empty) database, e.g. to PostgreSQL")
    copy.add_argument("--from", dest="source", required=True, help="the database to copy: a path or URL")
    copy.add_argument("--to", dest="target", required=True, help="an empty database: a postgresql:// URL")
    copy.set_defaults(handler=cmd_db_copy)

    doctor = sub.add_parser("doctor", help="check the set-up live (database, clock, Slack, Teams): "
                            "exit 0 only when an urgent escalation reaches a DSL")
    doctor.set_defaults(handler=cmd_doctor)

    slack = sub.add_parser("slack", help="run the Slack app: HTTP on PORT, or --socket")
    slack.add_argument("--socket", action="store_true",
                       help="Socket Mode instead of HTTP (needs SLACK_APP_TOKEN)")
    slack.set_defaults(handler=cmd_slack)

    web = sub.add_parser("web", help="the web console for DSLs (on CANISHARE_WEB_PORT)")
    web.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    web.set_defaults(handler=cmd_web)

    teams = sub.add_parser("teams", help="the Microsoft Teams bot and its app package").add_subparsers(
        dest="teams_command", required=True, metavar="SUBCOMMAND")
    teams.add_parser("serve", help="run the Teams bot: POST /api/messages on TEAMS_PORT").set_defaults(
        handler=cmd_teams, teams_action="serve")
    package = teams.add_parser("package", help="build the app package zip for the Teams admin centre")
    package.add_argument("--out", help="zip to write (default: canishare-teams.zip)")
    for name, what in (("privacy", "your organisation's privacy notice"), ("terms", "your terms of use"),
                       ("website", "your organisation's website")):
        package.add_argument(f"--{name}-url", metavar="URL", help=f"https:// address of {what}")
    package.set_defaults(handler=cmd_teams, teams_action="package")
    return parser


def cmd_log_verify(app: App, args: argparse.Namespace) -> int:
    from bot.storage import Checkpoint

    checkpoint = None
    if args.checkpoint:
        checkpoint = _checkpoint(args.checkpoint, Checkpoint)
    storage = app.existing_storage()
    if args.no_key:  # what someone holding a copy of the database, but not the key, can check
        from bot.storage import NO_KEYS, Storage

        storage = Storage(app.settings.database, app.clock, create=False, keyring=NO_KEYS)
    with storage.read() as tx:
        report = tx.verify(checkpoint)
    d, a = report.decisions, report.audit
    for note in report.notes:
        print(f"note: {note}")
    summary = (f"{d.checked} decisions, {a.checked} audit rows, {report.escalations_checked} "
               f"escalations ({storage.where})")
    if report.problems:
        for problem in report.problems:
            print(f"broken: {problem}")
        print(f"checked {summary}")
        return EXIT_PROBLEMS
    against = f"; nothing since the checkpoint of {checkpoint.at} was removed" if checkpoint else ""
    keyed = "keyed hash chain intact" if storage.keyring.current else "hash chain intact (no key)"
    print(f"ok: {summary}, {keyed}{against}")
    return EXIT_OK


def _checkpoint(value: str, kind: type) -> object:
    """A checkpoint given as its text, or a file holding one (an export, the weekly post...)."""
    text = value
    path = Path(value)
    if not value.startswith("canishare-checkpoint") and path.exists():
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            data = _xlsx_text(path).encode()
        text = data.decode("utf-8", "replace")
    try:
        return kind.parse(text)  # type: ignore[attr-defined]
    except ValueError as exc:
        raise CommandError(f"--checkpoint: {exc}") from None


def _xlsx_text(path: Path) -> str:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
                     for cell in row if cell)


def cmd_log_checkpoint(app: App, args: argparse.Namespace) -> int:
    storage = app.existing_storage()
    with storage.transaction() as tx:
        point = tx.checkpoints.write("on demand")
        tx.audit.add(getpass.getuser(), "checkpoint", "log", point.text())
    print(point.text())
    print("Keep this line somewhere the database's users cannot change (a DSL's email, the DSL "
          "channel): `canishare log verify --checkpoint '...'` proves nothing logged before it was "
          "removed.", file=sys.stderr)
    return EXIT_OK


def cmd_log_key(app: App, args: argparse.Namespace) -> int:
    from bot.storage import Key

    print(Key.generate())
    print("Set it as CANISHARE_LOG_KEY in every process's environment (never in the database). "
          "To rotate: move the old value to CANISHARE_LOG_OLD_KEYS.", file=sys.stderr)
    return EXIT_OK


def cmd_export(app: App, args: argparse.Namespace) -> int:
    from bot.dsl.export import export, last_full_week, parse_day

    tz = app.settings.timezone
    try:
        if args.start:
            start = parse_day(args.start, tz)
            end = parse_day(args.end, tz) + timedelta(days=1) if args.end else start + timedelta(days=7)
        elif args.end:
            raise CommandError("--to needs --from")
        else:
            start, end = last_full_week(app.clock.now(), tz)
    except ValueError as exc:
        raise CommandError(f"--from/--to: expected YYYY-MM-DD ({exc})") from None
    if end <= start:
        raise CommandError("--to is before --from")
    storage = app.existing_storage()
    last = (end - timedelta(days=1)).date()
    out = Path(args.out or f"canishare-decisions-{start.date()}-to-{last}.{args.format}")
    with storage.transaction() as tx:
        tx.audit.add(getpass.getuser(), "export", str(out), f"{start.date()} to {last} (cli)")
        point = tx.checkpoints.write("export")
    try:
        summary = export(storage, start, end, args.format, out, workers=os.cpu_count() or 1,
                         checkpoint=point.text())
    except OSError as exc:
        raise CommandError(f"--out: cannot write {out} ({exc.strerror or exc})") from None
    print(f"wrote {out}: {summary.decisions} decisions from {start.date()} to {last} ({storage.where})")
    return EXIT_OK


def cmd_purge(app: App, args: argparse.Namespace) -> int:
    days = app.settings.retention_days
    cutoff = app.clock.now() - timedelta(days=days)
    storage = app.existing_storage()
    try:
        purged = storage.purge_decisions(cutoff, f"{getpass.getuser()} (cli)", dry_run=args.dry_run)
        count, last, point = purged.count, purged.last, purged.checkpoint
    except ChainBroken as exc:
        print(f"canishare: not purging: the log does not verify ({exc}); run `canishare log verify`",
              file=sys.stderr)
        return EXIT_PROBLEMS
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {count} decisions logged before {cutoff.date()} (retention {days} days)"
          + (f", up to #{last}" if count else "") + f" in {storage.where}")
    if point is not None:
        print(f"checkpoint: {point.text()}")
    return EXIT_OK


def cmd_clock(app: App, args: argparse.Namespace) -> int:
    from bot.ops.doctor import warn_at_start

    logging.basicConfig(level=app.settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    warn_at_start(app.settings, "clock")
    scheduler = app.scheduler()
    if args.interval:
        scheduler.interval = args.interval
    if args.once:
        try:
            print(json.dumps(scheduler.tick()))
        finally:
            scheduler.resign()  # the next clock leads at once, not when the lease runs out
        return EXIT_OK
    scheduler.run_forever()
    return EXIT_OK


def cmd_slack(app: App, args: argparse.Namespace) -> int:
    from bot.channels.slack.server import serve_http, serve_socket
    from bot.ops.doctor import warn_at_start

    logging.basicConfig(level=app.settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    warn_at_start(app.settings, "slack")
    return serve_socket(app) if args.socket else serve_http(app)


def cmd_web(app: App, args: argparse.Namespace) -> int:
    from bot.channels.web.server import serve

    logging.basicConfig(level=app.settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return serve(app, host=args.host)


def cmd_backup(app: App, args: argparse.Namespace) -> int:
    from bot.storage import Storage

    storage = app.existing_storage()
    stamp = app.clock.now().strftime("%Y%m%d-%H%M%S")
    saved = storage.backup(Path(args.out or f"canishare-backup-{stamp}.db"))
    copy = Storage(saved, app.clock, keyring=app.keyring)  # the backup opens and holds the log
    with copy.read() as tx:
        count = tx.decisions.count()
    copy.close()
    print(f"backed up {storage.where} to {saved} ({count} decisions; readable by you only)")
    return EXIT_OK


def cmd_db_copy(app: App, args: argparse.Namespace) -> int:
    from bot.storage import Storage
    from bot.storage.copy import copy_database

    source = Storage(args.source, app.clock, create=False, keyring=app.keyring)
    target = Storage(args.target, app.clock, keyring=app.keyring)
    if source.url == target.url:
        raise CommandError("--from and --to are the same database")
    counts = copy_database(source, target, progress=lambda name, n: print(f"  {name}: {n} rows"))
    with target.read() as tx:
        report = tx.verify()
    print(f"copied {sum(counts.values())} rows from {source.where} to {target.where}")
    if not report.ok:
        for problem in report.problems:
            print(f"broken: {problem}")
        return EXIT_PROBLEMS
    print(f"ok: the copy verifies ({report.decisions.checked} decisions, {report.audit.checked} audit rows)")
    return EXIT_OK


def cmd_db_migrate(app: App, args: argparse.Namespace) -> int:
    from bot.storage import Storage

    storage = Storage(app.settings.database, app.clock, check_schema=False, keyring=app.keyring)
    before, after = storage.migrate()
    if not args.quiet or before != after:
        state = "created" if before == 0 else ("already current" if before == after else f"from {before}")
        print(f"database schema {after} ({state}): {storage.where}")
    return EXIT_OK


def cmd_doctor(app: App, args: argparse.Namespace) -> int:
    from bot.ops.checks import all_checks
    from bot.ops.doctor import print_checklist

    print("canishare doctor: can an urgent escalation reach a DSL?",
          flush=True)
    return print_checklist(all_checks(app))


def cmd_teams(app: App, args: argparse.Namespace) -> int:
    from bot.channels.teams.commands import cmd_package, cmd_serve

    return (cmd_serve if args.teams_action == "serve" else cmd_package)(app, args)


def main(argv: list[str] | None = None) -> int:
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env")
    args = build_parser().parse_args(argv)
    try:
        app = Services(load_settings(), flows_dir=Path(args.flows) if args.flows else None)
        return args.handler(app, args)
    except SettingsError as exc:
        print(f"canishare: settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FlowError as exc:
        print(exc, file=sys.stderr)
        print(f"canishare: refusing to start: {len(exc.problems)} problem(s) in the flows "
              "(run `canishare flows check`)", file=sys.stderr)
        return EXIT_PROBLEMS
    except CommandError as exc:
        print(f"canishare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PathLimitExceeded as exc:
        print(f"canishare: {exc}: split the flow, or review it with --no-follow", file=sys.stderr)
        return EXIT_PROBLEMS
    except StorageError as exc:
        print(f"canishare: {exc} (check DATABASE_URL / CANISHARE_DATABASE)", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
