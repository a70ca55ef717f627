"""Read-only queries for the DSL web console: the queue, a filtered page of the decision log and
the trends. Every figure is an aggregate computed by the database (GROUP BY over an indexed
date range), so a page costs the same with a thousand decisions or a million.

Moments are ISO-8601 UTC text, so a date range is a string range and a day is its first ten
characters; organisation type and concern types live in the answers JSON, read with the
backend's own JSON function.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, and_, cast, func, or_, select, text, true
from sqlalchemy.sql import ColumnElement

from bot.core.clock import iso
from bot.storage.escalations import _model
from bot.storage.schema import decisions, escalations, outbox

d, e = decisions.c, escalations.c


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
    def decisions_per_day(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
        day = func.substr(d.created_at, 1, 10)
        query = (select(day, d.verdict, func.count()).where(
            d.created_at >= iso(start), d.created_at < iso(end)).group_by(day, d.verdict))
        return [(str(a), str(b or ""), int(c)) for a, b, c in self.conn.execute(query)]

    def by_decision(self, start: datetime, end: datetime) -> dict[str, int]:
        query = (select(d.decision, func.count()).where(d.created_at >= iso(start), d.created_at < iso(end))
                 .group_by(d.decision))
        return {str(k or ""): int(v) for k, v in self.conn.execute(query)}

    def not_shared_by_verdict(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        query = (select(d.verdict, func.count().label("n")).where(
            d.created_at >= iso(start), d.created_at < iso(end), d.decision == "not_shared")
            .group_by(d.verdict).order_by(func.count().desc()))
        return [(str(k or ""), int(v)) for k, v in self.conn.execute(query)]

    def not_shared_reasons(self, start: datetime, end: datetime, limit: int = 8) -> list[tuple[str, int]]:
        """The reasons most often recorded for not sharing (the same words counted together)."""
        reason = func.lower(func.trim(d.reasons))
        query = (select(reason, func.count()).where(
            d.created_at >= iso(start), d.created_at < iso(end), d.decision == "not_shared",
            d.reasons.is_not(None), d.reasons != "").group_by(reason).order_by(func.count().desc(), reason)
            .limit(limit))
        return [(str(k), int(v)) for k, v in self.conn.execute(query)]

    def concern_types(self, start: datetime, end: datetime, limit: int = 8) -> list[tuple[str, int]]:
        """How often each concern type was chosen (a multi-choice answer: a JSON list)."""
        where = [d.created_at >= iso(start), d.created_at < iso(end)]
        if self.conn.dialect.name == "sqlite":
            each = func.json_each(d.answers, "$.concern_type").table_valued("value")
            query = (select(each.c.value, func.count()).select_from(decisions).join(each, true())
                     .where(*where).group_by(each.c.value).order_by(func.count().desc()).limit(limit))
            return [(str(k), int(v)) for k, v in self.conn.execute(query)]
        rows = self.conn.execute(text(
            "SELECT v, count(*) FROM decisions, jsonb_array_elements_text(CASE WHEN "
            "jsonb_typeof(answers::jsonb->'concern_type') = 'array' THEN answers::jsonb->'concern_type' "
            "ELSE '[]'::jsonb END) AS v WHERE created_at >= :s AND created_at < :e "
            "GROUP BY v ORDER BY count(*) DESC LIMIT :n"), {"s": iso(start), "e": iso(end), "n": limit})
        return [(str(k), int(v)) for k, v in rows]

    def escalations_by_urgency(self, start: datetime, end: datetime) -> dict[str, int]:
        query = (select(e.urgency, func.count()).where(e.created_at >= iso(start), e.created_at < iso(end))
                 .group_by(e.urgency))
        return {str(k): int(v) for k, v in self.conn.execute(query)}

    def minutes(self, start: datetime, end: datetime, until: str) -> list[float]:
        """Minutes from raising to `until` (claimed_at or resolved_at) for the period's escalations,
        sorted (the median and 90th percentile are read off the sorted list)."""
        column = e[until]
        query = select(e.created_at, column).where(
            e.created_at >= iso(start), e.created_at < iso(end), column.is_not(None), column != "")
        values = sorted((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60
                        for a, b in self.conn.execute(query))
        return values
