"""Exports of the decision log for DSLs: CSV, XLSX (with a weekly summary sheet) or JSON.

Rows stream from SQLite to the file, so memory stays flat for a million decisions. Text that a
spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) is neutralised.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from bot.storage import Storage

Format = Literal["csv", "xlsx", "json"]
COLUMNS = ["id", "created_at", "channel", "user_id", "flow_id", "flow_version", "guidance_edition",
           "jurisdiction", "outcome_id", "verdict", "consent_position", "dsl_alert", "decision",
           "rules", "gateways", "answers", "what", "with_whom", "purpose", "reasons",
           "case_reference", "row_hash"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Stop a spreadsheet treating text as a formula (CSV/formula injection, OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def flat(row: dict[str, Any]) -> list[Any]:
    out = []
    for column in COLUMNS:
        value = row.get(column)
        if column in ("rules", "gateways"):
            value = "; ".join(value or [])
        elif column == "answers":
            value = json.dumps(value, sort_keys=True)
        out.append(neutralise(value) if isinstance(value, str) else value)
    return out


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

    def add(self, row: dict[str, Any]) -> None:
        self.decisions += 1
        self.by_verdict[row["verdict"]] += 1
        self.by_flow[row["flow_id"]] += 1
        self.by_gateway.update(row.get("gateways") or [])

    def add_escalations(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.escalations += 1
            if row.get("claimed_at"):
                claimed = datetime.fromisoformat(row["claimed_at"])
                created = datetime.fromisoformat(row["created_at"])
                self.minutes_to_claim.append((claimed - created).total_seconds() / 60)
            elif row["status"] == "open":
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

    def text(self, start: datetime, end: datetime) -> str:
        lines = [f"*Decisions {start:%d %b %Y} to {end:%d %b %Y}*: {self.decisions}",
                 f"Escalations: {self.escalations} (unclaimed: {self.unclaimed}; median to claim: "
                 f"{_minutes(self.median_minutes_to_claim)}; worst: "
                 f"{_minutes(self.worst_minutes_to_claim)})"]
        if self.by_verdict:
            lines.append("By verdict: " + ", ".join(f"{k} {v}" for k, v in self.by_verdict.most_common()))
        if self.by_flow:
            lines.append("By flow: " + ", ".join(f"{k} {v}" for k, v in self.by_flow.most_common()))
        return "\n".join(lines)


def _minutes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g} min"


def export(storage: Storage, start: datetime, end: datetime, fmt: Format, out: Path | BinaryIO) -> Summary:
    """Write decisions logged in [start, end) to `out`; return the period's summary."""
    summary = Summary()
    rows = _counted(storage.iter_decisions(since=start, until=end), summary)
    if fmt == "csv":
        _csv(rows, out)
    elif fmt == "json":
        _json(rows, out)
    else:
        _xlsx(rows, out, summary, storage, start, end)
    if fmt != "xlsx":
        summary.add_escalations(storage.escalations_between(start, end))
    return summary


def _counted(rows: Iterable[dict[str, Any]], summary: Summary) -> Iterator[dict[str, Any]]:
    for row in rows:
        summary.add(row)
        yield row


def _open_text(out: Path | BinaryIO):
    import io

    if isinstance(out, Path):
        return open(out, "w", newline="", encoding="utf-8")
    return io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)


def _csv(rows: Iterable[dict[str, Any]], out: Path | BinaryIO) -> None:
    handle = _open_text(out)
    try:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(flat(row) for row in rows)
    finally:
        handle.flush()
        if isinstance(out, Path):
            handle.close()
        else:
            handle.detach()


def _json(rows: Iterable[dict[str, Any]], out: Path | BinaryIO) -> None:
    handle = _open_text(out)
    try:
        handle.write("[")
        for number, row in enumerate(rows):
            handle.write(("," if number else "") + "\n" + json.dumps({k: row.get(k) for k in COLUMNS}))
        handle.write("\n]\n")
    finally:
        handle.flush()
        if isinstance(out, Path):
            handle.close()
        else:
            handle.detach()


def _xlsx(rows: Iterable[dict[str, Any]], out: Path | BinaryIO, summary: Summary, storage: Storage,
          start: datetime, end: datetime) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # rows go straight to a temp file, not memory
    sheet = workbook.create_sheet("Decisions")
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append(flat(row))
    summary.add_escalations(storage.escalations_between(start, end))
    weekly = workbook.create_sheet("Weekly summary")
    weekly.append(["Period", f"{start.isoformat()} to {end.isoformat()}"])
    for line in summary.rows():
        weekly.append(line)
    workbook.save(out)


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
