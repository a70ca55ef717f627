"""Exports of the decision log for DSLs: CSV, XLSX (with a weekly summary sheet) or JSON.

Rows stream from SQLite to the file, so memory stays flat for a million decisions. Text that a
spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) is neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO
from zoneinfo import ZoneInfo

from bot.dsl.model import Escalation, Status
from bot.storage import Storage

Format = Literal["csv", "xlsx", "json"]
COLUMNS = ["id", "created_at", "channel", "user_id", "flow_id", "flow_version", "guidance_edition",
           "law_as_at", "jurisdiction", "outcome_id", "verdict", "consent_position", "dsl_alert",
           "secondary", "decision",
           "rules", "gateways", "answers", "what", "with_whom", "purpose", "reasons",
           "case_reference", "row_hash"]
FORMULA_STARTS = frozenset("=+-@\t\r")
# What a spreadsheet may skip before it looks for a formula: quotes, spaces, and the full-width
# and other look-alike forms that NFKC folds to = + - @ (checked after folding).
LEADING_NOISE = "\"' \u00a0"
LINE_BREAK = re.compile(r"(\r\n|\r|\n)")
JSON_LIST_COLUMNS = ("rules", "gateways")
# Free text, people's ids and JSON: quoted and neutralised. Everything else is system-made.
TEXT_COLUMNS = ("user_id", "answers", "secondary", "what", "with_whom", "purpose", "reasons",
                "case_reference")
VERDICT, FLOW, GATEWAYS = COLUMNS.index("verdict"), COLUMNS.index("flow_id"), COLUMNS.index("gateways")


def neutralise(value: Any) -> Any:
    """Stop a spreadsheet treating text as a formula (CSV/formula injection, OWASP): every line
    of a cell that starts with a formula character (after quotes or spaces, full-width forms
    included) gets a leading apostrophe."""
    if not value or not isinstance(value, str):
        return value
    if value.isascii() and "\n" not in value and "\r" not in value and value[0] not in FORMULA_STARTS \
            and value[0] not in LEADING_NOISE:
        return value  # the common case, decided without work
    parts = LINE_BREAK.split(value)  # lines, with the breaks kept at odd positions
    return "".join("'" + part if n % 2 == 0 and _formula_like(part) else part for n, part in enumerate(parts))


def _formula_like(line: str) -> bool:
    if not line:
        return False
    if line[:1] in FORMULA_STARTS:
        return True
    folded = unicodedata.normalize("NFKC", line).lstrip(LEADING_NOISE)
    return folded[:1] in FORMULA_STARTS


@lru_cache(maxsize=8192)
def _list(json_text: str | None) -> tuple[str, ...]:
    """Rules and gateways are stored as JSON lists; most rows share a handful of them."""
    return tuple(json.loads(json_text)) if json_text else ()


def flat(row: tuple) -> list[Any]:
    """A stored row (in COLUMNS order) as export cells: lists joined, text neutralised."""
    out = list(row)
    for index in LIST_INDEXES:
        out[index] = "; ".join(_list(out[index]))
    for index in TEXT_INDEXES:
        out[index] = neutralise(out[index])
    return out


LIST_INDEXES = [COLUMNS.index(c) for c in JSON_LIST_COLUMNS]
QUOTED_INDEXES = [COLUMNS.index(c) for c in TEXT_COLUMNS]
TEXT_INDEXES = [i for i, c in enumerate(COLUMNS) if c not in ("id",)]


@dataclass
class Summary:
    """Weekly figures a DSL reports on: built while rows stream past."""

    decisions: int = 0
    by_verdict: Counter = field(default_factory=Counter)
    by_gateway: Counter = field(default_factory=Counter)
    by_flow: Counter = field(default_factory=Counter)
    escalations: int = 0
    unclaimed: int = 0
    minutes_to_claim: list[float] = field(default_factory=list)

    def add(self, row: tuple) -> None:
        self.decisions += 1
        self.by_verdict[row[VERDICT]] += 1
        self.by_flow[row[FLOW]] += 1
        self.by_gateway.update(_list(row[GATEWAYS]))

    def merge(self, other: Summary) -> None:
        self.decisions += other.decisions
        self.by_verdict.update(other.by_verdict)
        self.by_flow.update(other.by_flow)
        self.by_gateway.update(other.by_gateway)

    def add_escalations(self, escalations: Iterable[Escalation]) -> None:
        for escalation in escalations:
            self.escalations += 1
            if escalation.claimed_at:
                minutes = (escalation.claimed_at - escalation.created_at).total_seconds() / 60
                self.minutes_to_claim.append(minutes)
            elif escalation.status is Status.open:
                self.unclaimed += 1

    @property
    def median_minutes_to_claim(self) -> float | None:
        return round(statistics.median(self.minutes_to_claim), 1) if self.minutes_to_claim else None

    @property
    def worst_minutes_to_claim(self) -> float | None:
        return round(max(self.minutes_to_claim), 1) if self.minutes_to_claim else None

    def rows(self) -> Iterator[list[Any]]:
        yield ["Decisions", self.decisions]
        yield ["Escalations", self.escalations]
        yield ["Unclaimed escalations", self.unclaimed]
        yield ["Median minutes to claim", self.median_minutes_to_claim]
        yield ["Worst minutes to claim", self.worst_minutes_to_claim]
        for title, counter in (("Verdict", self.by_verdict), ("Gateway", self.by_gateway),
                               ("Flow", self.by_flow)):
            yield []
            yield [f"Decisions by {title.lower()}", "Count"]
            for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
                yield [key, count]

    def lines(self, start: datetime, end: datetime) -> list[str]:
        """The summary in plain lines (the channel adds its own formatting)."""
        lines = [f"Decisions {start:%d %b %Y} to {end:%d %b %Y}: {self.decisions}",
                 f"Escalations: {self.escalations} (unclaimed: {self.unclaimed}; median to claim: "
                 f"{_minutes(self.median_minutes_to_claim)}; worst: "
                 f"{_minutes(self.worst_minutes_to_claim)})"]
        if self.by_verdict:
            lines.append("By verdict: " + ", ".join(f"{k} {v}" for k, v in self.by_verdict.most_common()))
        if self.by_flow:
            lines.append("By flow: " + ", ".join(f"{k} {v}" for k, v in self.by_flow.most_common()))
        return lines


def _minutes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g} min"


def export(storage: Storage, start: datetime, end: datetime, fmt: Format, out: Path | BinaryIO,
           workers: int = 1, checkpoint: str = "") -> Summary:
    """Write decisions logged in [start, end) to `out`; return the period's summary.
    `workers` > 1 splits a large CSV file export across processes (one per core). `checkpoint`,
    the log's signed checkpoint, is written into the file (last CSV row, last JSON item, a row
    of the XLSX summary), so every export also publishes it. Files are readable by the owner
    only."""
    summary = Summary()
    with storage.read() as tx:
        escalations = tx.escalations.between(start, end)
        first, last = tx.decisions.id_range(start, end)
        if fmt == "csv" and workers > 1 and isinstance(out, Path) and last - first > PARALLEL_FROM:
            summary = _csv_parallel(storage, start, end, out, workers, (first, last), checkpoint)
        else:
            rows = _counted(tx.decisions.raw_rows(COLUMNS, start, end, (first, last)), summary)
            if fmt == "csv":
                _csv(rows, out, checkpoint)
            elif fmt == "json":
                _json(rows, out, checkpoint)
            else:
                summary.add_escalations(escalations)
                _xlsx(rows, out, summary, start, end, checkpoint)
                return summary
    summary.add_escalations(escalations)
    return summary


PARALLEL_FROM = 100_000


def _csv_part(url: str, start: datetime, end: datetime, ids: tuple[int, int], part: str) -> Summary:
    storage, summary = Storage(url), Summary()
    private_file(Path(part))
    with storage.read() as tx, open(part, "w", newline="", encoding="utf-8", buffering=1 << 20) as handle:
        _write_lines(_counted(tx.decisions.raw_rows(COLUMNS, start, end, ids), summary), handle)
    storage.close()
    return summary


def _csv_parallel(storage: Storage, start: datetime, end: datetime, out: Path, workers: int,
                  ids: tuple[int, int], checkpoint: str = "") -> Summary:
    """Each process writes the lines of one id range; the parts are joined in order."""
    import multiprocessing
    import shutil
    from concurrent.futures import ProcessPoolExecutor

    first, last = ids
    step = (last - first + workers) // workers
    ranges = [(lo, min(lo + step - 1, last)) for lo in range(first, last + 1, step)]
    parts = [f"{out}.part{n}" for n in range(len(ranges))]
    try:
        with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("spawn")) as pool:
            partials = list(pool.map(_csv_part, [storage.url] * len(ranges),
                                     [start] * len(ranges), [end] * len(ranges), ranges, parts))
        private_file(out)
        with open(out, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(COLUMNS)
            for part in parts:
                with open(part, encoding="utf-8", newline="") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
            if checkpoint:
                csv.writer(handle).writerow(["#checkpoint", checkpoint])
    finally:
        for part in parts:
            Path(part).unlink(missing_ok=True)
    summary = Summary()
    for partial in partials:
        summary.merge(partial)
    return summary


def _line(row: tuple) -> str:
    """One CSV line, built by hand: the csv module inspects every field and is the slowest part
    of a million-row export. Free text is quoted and neutralised; system values never need it."""
    out = [("" if v is None else str(v)) for v in row]
    for index in LIST_INDEXES:
        out[index] = _joined(row[index])
    for index in QUOTED_INDEXES:
        out[index] = '"' + neutralise(out[index]).replace('"', '""') + '"'
    return ",".join(out)


@lru_cache(maxsize=8192)
def _joined(json_text: str | None) -> str:
    return "; ".join(_list(json_text))


def _write_lines(rows: Iterable[tuple], handle: Any) -> None:
    batch: list[str] = []
    for row in rows:
        batch.append(_line(row))
        if len(batch) >= 4096:
            handle.write("\r\n".join(batch) + "\r\n")
            batch = []
    if batch:
        handle.write("\r\n".join(batch) + "\r\n")


def _counted(rows: Iterable[tuple], summary: Summary) -> Iterator[tuple]:
    for row in rows:
        summary.add(row)
        yield row


def private_file(path: Path) -> None:
    """Create `path` empty and readable by the owner only (an export holds the decision log)."""
    descriptor = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    os.close(descriptor)
    os.chmod(path, 0o600)


@contextmanager
def _text_output(out: Path | BinaryIO) -> Iterator[TextIO]:
    """A text handle on a file path (closed after) or on a caller's binary stream (left open)."""
    if isinstance(out, Path):
        private_file(out)
        with open(out, "w", newline="", encoding="utf-8", buffering=1 << 20) as handle:
            yield handle
        return
    handle = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        yield handle
    finally:
        handle.flush()
        handle.detach()


def _csv(rows: Iterable[tuple], out: Path | BinaryIO, checkpoint: str = "") -> None:
    with _text_output(out) as handle:
        csv.writer(handle).writerow(COLUMNS)
        _write_lines(rows, handle)
        if checkpoint:
            csv.writer(handle).writerow(["#checkpoint", checkpoint])


def _json(rows: Iterable[tuple], out: Path | BinaryIO, checkpoint: str = "") -> None:
    decoded = {"rules", "gateways", "answers", "secondary"}
    with _text_output(out) as handle:
        handle.write("[")
        number = -1
        for number, row in enumerate(rows):
            pairs = zip(COLUMNS, row, strict=True)
            item = {k: (json.loads(v) if k in decoded and v else v) for k, v in pairs}
            handle.write(("," if number else "") + "\n" + json.dumps(item))
        if checkpoint:
            handle.write(("," if number >= 0 else "") + "\n" + json.dumps({"checkpoint": checkpoint}))
        handle.write("\n]\n")


def _xlsx(rows: Iterable[tuple], out: Path | BinaryIO, summary: Summary, start: datetime,
          end: datetime, checkpoint: str = "") -> None:
    import xlsxwriter

    if isinstance(out, Path):
        private_file(out)
    # constant_memory flushes each row to disk; no automatic formulas, numbers or links from text
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_numbers": False, "strings_to_urls": False,
                                         "in_memory": not isinstance(out, Path)})
    sheet = workbook.add_worksheet("Decisions")
    sheet.write_row(0, 0, COLUMNS)
    for number, row in enumerate(rows, 1):
        sheet.write_row(number, 0, flat(row))
    weekly = workbook.add_worksheet("Weekly summary")
    weekly.write_row(0, 0, ["Period", f"{start.isoformat()} to {end.isoformat()}"])
    number = 0
    for number, line in enumerate(summary.rows(), 1):
        weekly.write_row(number, 0, line)
    if checkpoint:
        weekly.write_row(number + 2, 0, ["Log checkpoint", checkpoint])
    workbook.close()


def last_full_week(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to Monday 00:00 (local time) of the last complete week, as aware datetimes."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    this_monday = today - timedelta(days=today.weekday())
    start = datetime.combine(this_monday - timedelta(days=7), time(0), tz)
    return start, datetime.combine(this_monday, time(0), tz)


def parse_day(text: str, timezone: str) -> datetime:
    """A date (YYYY-MM-DD) as local midnight in `timezone`."""
    return datetime.combine(date.fromisoformat(text), time(0), ZoneInfo(timezone))


def period(days: list[str], now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The period a DSL's `export [FROM] [TO]` asks for: no dates, the last full week; one, that
    day; two, both days inclusive. Raises ValueError for a bad date or an end before the start."""
    if not days:
        return last_full_week(now, timezone)
    start = parse_day(days[0], timezone)
    end = (parse_day(days[1], timezone) if len(days) > 1 else start) + timedelta(days=1)
    if end <= start:
        raise ValueError("the end is before the start")
    return start, end


def write_rows(rows: Iterable[tuple], fmt: Format, out: BinaryIO, start: datetime, end: datetime) -> Summary:
    """Rows already chosen (in COLUMNS order, e.g. a DSL's filter in the web console) to `out`,
    written exactly as `export` writes a period: the same columns, the same neutralising."""
    summary = Summary()
    counted = _counted(rows, summary)
    if fmt == "csv":
        _csv(counted, out)
    elif fmt == "json":
        _json(counted, out)
    else:
        _xlsx(counted, out, summary, start, end)
    return summary
