"""Read-only queries for the DSL web console: the queue, a filtered page of the decision log and
the trends. Every figure is an aggregate computed by the database (GROUP BY over an indexed
date range), so a page costs the same with a thousand decisions or a million.

Moments are ISO-8601 UTC text, so a date range is a string range and a day is its first ten
characters; organisation type and concern types live in the answers JSON, read with the
backend's own JSON function.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, TIMESTAMP, Connection, and_, cast, func, or_, select, text, true
from sqlalchemy.sql import ColumnElement

from bot.core.clock import iso
from bot.storage.database import serialise
from bot.storage.escalations import _model
from bot.storage.schema import console_daily, decisions, escalations, outbox

d, e = decisions.c, escalations.c
ROLLUP_KINDS = ("verdict", "decision", "not_shared", "concern")


@dataclass(frozen=True)
class LogFilter:
    """What a DSL filters the decision log by: each a field the export has (answers included)."""

    start: datetime
    end: datetime
    verdict: str = ""
    outcome_id: str = ""
    jurisdiction: str = ""
    org_type: str = ""
    channel: str = ""
    decision: str = ""


def _answer(conn: Connection, key: str) -> ColumnElement:
    """One answer out of the stored answers JSON, as text, on either backend."""
    if conn.dialect.name == "sqlite":
        return func.json_extract(d.answers, f"$.{key}")
    return cast(d.answers, JSON)[key].as_string()


class ConsoleQueries:
    def __init__(self, conn: Connection):
        self.conn = conn

    # --- the queue ------------------------------------------------------------------------------
    def queue(self, channel: str, status: str, limit: int = 100) -> list[Any]:
        """Escalations of one desk in one state: urgent first, then oldest (open and claimed), or
        most recently resolved first."""
        query = select(escalations).where(e.channel == channel, e.status == status)
        if status == "resolved":
            query = query.order_by(e.resolved_at.desc(), e.id.desc())
        else:
            query = query.order_by((e.urgency == "urgent").desc(), e.created_at, e.id)
        return [_model(row) for row in self.conn.execute(query.limit(limit)).mappings()]

    def queue_counts(self, channel: str) -> dict[str, int]:
        rows = self.conn.execute(select(e.status, func.count()).where(e.channel == channel)
                                 .group_by(e.status))
        return {status: int(count) for status, count in rows}

    def delivery_states(self, escalation_ids: list[int]) -> dict[int, str]:
        """The latest card delivery's state of each escalation: 'delivered', 'pending' or 'abandoned'."""
        if not escalation_ids:
            return {}
        query = (select(outbox.c.escalation_id, outbox.c.status).where(
            outbox.c.escalation_id.in_(escalation_ids), outbox.c.kind.in_(("card", "card_update")))
            .order_by(outbox.c.id))
        return {int(eid): status for eid, status in self.conn.execute(query)}

    # --- the decision log ---------------------------------------------------------------------
    def _where(self, f: LogFilter) -> list[ColumnElement]:
        where: list[ColumnElement] = [d.created_at >= iso(f.start), d.created_at < iso(f.end)]
        for column, value in ((d.verdict, f.verdict), (d.outcome_id, f.outcome_id),
                              (d.jurisdiction, f.jurisdiction), (d.channel, f.channel),
                              (d.decision, f.decision)):
            if value:
                where.append(column == value)
        if f.org_type:
            where.append(_answer(self.conn, "org_type") == f.org_type)
        return where

    def log_page(self, columns: list[str], f: LogFilter, limit: int = 50,
                 before: tuple[str, int] | None = None) -> list[dict[str, Any]]:
        """Newest first, `limit` rows, after the (created_at, id) the last page ended on: the
        created_at index is walked backwards and stops after `limit` matches."""
        where = self._where(f)
        if before is not None:
            where.append(or_(d.created_at < before[0], and_(d.created_at == before[0], d.id < before[1])))
        query = (select(*[d[c] for c in columns]).where(*where)
                 .order_by(d.created_at.desc(), d.id.desc()).limit(limit))
        return [dict(row) for row in self.conn.execute(query).mappings()]

    def log_rows(self, columns: list[str], f: LogFilter) -> Iterator[tuple]:
        """Every row the filter matches, oldest first, as stored tuples (for the export)."""
        query = select(*[d[c] for c in columns]).where(*self._where(f)).order_by(d.created_at, d.id)
        for row in self.conn.execution_options(yield_per=5000).execute(query):
            yield tuple(row)

    # --- trends -------------------------------------------------------------------------------
    # A term's counts come from `console_daily`: one row per (UTC day, kind, key), written once for
    # each day that has ended (the first time a term is shown), so a term costs a few hundred rows
    # whatever the size of the log; the current day is counted live.
    def daily_counts(self, start: datetime, end: datetime,
                     now: datetime) -> dict[str, dict[tuple[str, str], int]]:
        """{kind: {(day, key): count}} for [start, end): closed days from the rollup (filled here
        when missing, so call this in a write transaction), today and later counted live."""
        today = min(iso(now)[:10], iso(end)[:10])
        first = iso(start)[:10]
        self._fill(first, today)
        out: dict[str, dict[tuple[str, str], int]] = {k: {} for k in ROLLUP_KINDS}
        rows = self.conn.execute(select(console_daily.c.day, console_daily.c.kind, console_daily.c.key,
                                        console_daily.c.count).where(
            console_daily.c.day >= first, console_daily.c.day < today, console_daily.c.kind != "done"))
        for day, kind, key, count in rows:
            out[kind][(day, key)] = int(count)
        live_start = max(start, datetime.fromisoformat(today + "T00:00:00+00:00"))
        for kind, counts in self._counts(iso(live_start), iso(end)).items():
            out[kind].update(counts)
        return out

    def _fill(self, first: str, until: str) -> None:
        """Count the days in [first, until) that are not in the rollup yet."""
        if first >= until:
            return
        done = {row[0] for row in self.conn.execute(select(console_daily.c.day).where(
            console_daily.c.kind == "done", console_daily.c.day >= first, console_daily.c.day < until))}
        days, day = [], date.fromisoformat(first)
        while day.isoformat() < until:
            if day.isoformat() not in done:
                days.append(day.isoformat())
            day += timedelta(days=1)
        if not days:
            return
        serialise(self.conn, "console_daily")
        lo, hi = days[0], (date.fromisoformat(days[-1]) + timedelta(days=1)).isoformat()
        self.conn.execute(console_daily.delete().where(console_daily.c.day >= lo, console_daily.c.day < hi))
        rows = [{"day": day, "kind": kind, "key": key, "count": count}
                for kind, counts in self._counts(lo, hi).items() for (day, key), count in counts.items()]
        step = date.fromisoformat(lo)
        while step.isoformat() < hi:
            rows.append({"day": step.isoformat(), "kind": "done", "key": "", "count": 0})
            step += timedelta(days=1)
        for at in range(0, len(rows), 5000):
            self.conn.execute(console_daily.insert(), rows[at:at + 5000])

    def _counts(self, start: str, end: str) -> dict[str, dict[tuple[str, str], int]]:
        """Per UTC day, straight from the log: the aggregate queries the rollup stores."""
        day = func.substr(d.created_at, 1, 10)
        where = [d.created_at >= start, d.created_at < end]
        out: dict[str, dict[tuple[str, str], int]] = {}
        for kind, column, extra in (("verdict", d.verdict, []), ("decision", d.decision, []),
                                    ("not_shared", d.verdict, [d.decision == "not_shared"])):
            query = select(day, column, func.count()).where(*where, *extra).group_by(day, column)
            out[kind] = {(str(a), str(b or "")): int(c) for a, b, c in self.conn.execute(query)}
        out["concern"] = self._concerns(start, end)
        return out

    def _concerns(self, start: str, end: str) -> dict[tuple[str, str], int]:
        """How often each concern type was chosen, per day (a multi-choice answer: a JSON list)."""
        if self.conn.dialect.name == "sqlite":
            each = func.json_each(d.answers, "$.concern_type").table_valued("value")
            day = func.substr(d.created_at, 1, 10)
            query = (select(day, each.c.value, func.count()).select_from(decisions).join(each, true())
                     .where(d.created_at >= start, d.created_at < end).group_by(day, each.c.value))
            return {(str(a), str(b)): int(c) for a, b, c in self.conn.execute(query)}
        rows = self.conn.execute(text(
            "SELECT substr(created_at, 1, 10), v, count(*) FROM decisions, jsonb_array_elements_text("
            "CASE WHEN jsonb_typeof(answers::jsonb->'concern_type') = 'array' THEN "
            "answers::jsonb->'concern_type' ELSE '[]'::jsonb END) AS v WHERE created_at >= :s AND "
            "created_at < :e GROUP BY 1, 2"), {"s": start, "e": end})
        return {(str(a), str(b)): int(c) for a, b, c in rows}

    def not_shared_reasons(self, start: datetime, end: datetime, limit: int = 8) -> list[tuple[str, int]]:
        """The reasons most often recorded for not sharing (the same words counted together): free
        text, so read live from the log (and gone with it when it is purged), on request."""
        reason = func.lower(func.trim(d.reasons))
        query = (select(reason, func.count()).where(
            d.created_at >= iso(start), d.created_at < iso(end), d.decision == "not_shared",
            d.reasons.is_not(None), d.reasons != "").group_by(reason).order_by(func.count().desc(), reason)
            .limit(limit))
        return [(str(k), int(v)) for k, v in self.conn.execute(query)]

    def escalations_by_urgency(self, start: datetime, end: datetime) -> dict[str, int]:
        query = (select(e.urgency, func.count()).where(e.created_at >= iso(start), e.created_at < iso(end))
                 .group_by(e.urgency))
        return {str(k): int(v) for k, v in self.conn.execute(query)}

    def minutes(self, start: datetime, end: datetime, until: str,
                shares: tuple[float, ...] = (0.5, 0.9)) -> list[float | None]:
        """Nearest-rank percentiles of the minutes from raising to `until` (claimed_at or
        resolved_at) for the period's escalations, computed and ordered by the database."""
        column = e[until]
        if self.conn.dialect.name == "sqlite":
            minutes = (func.julianday(column) - func.julianday(e.created_at)) * 1440.0
        else:
            minutes = func.extract("epoch", cast(column, TIMESTAMP(timezone=True))
                                   - cast(e.created_at, TIMESTAMP(timezone=True))) / 60.0
        where = [e.created_at >= iso(start), e.created_at < iso(end), column.is_not(None), column != ""]
        count = self.conn.execute(select(func.count()).select_from(escalations).where(*where)).scalar() or 0
        out: list[float | None] = []
        for share in shares:
            if not count:
                out.append(None)
                continue
            rank = max(1, math.ceil(share * count))
            value = self.conn.execute(select(minutes).where(*where).order_by(minutes)
                                      .offset(rank - 1).limit(1)).scalar()
            out.append(round(float(value), 1) if value is not None else None)
        return out
