"""Trends by school term, from the database's aggregates, and the SVG charts that show them.

Terms follow the usual UK school year in broad strokes (autumn September-December, spring
January-March, summer April-August); a school whose terms differ still reads its weeks
correctly, since every chart is drawn by week.

Charts are drawn here as SVG text, server-side: no script, no CDN, readable when printed. Each
has a `<title>` and `<desc>`, and the page shows the same figures in a table for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from bot.storage import Storage

TERMS = (("spring", 1, 4), ("summer", 4, 9), ("autumn", 9, 13))  # name, first month, month after
PALETTE = ("#1d4e89", "#b3541e", "#2e7d32", "#6a1b9a", "#8d6e00", "#00695c", "#ad1457", "#37474f")


@dataclass(frozen=True)
class Term:
    year: int
    name: str
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"{self.year}-{self.name}"

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def title(self) -> str:
        return f"{self.name.title()} term {self.year}"


def term_of(day: date, tz: ZoneInfo) -> Term:
    for name, first, after in TERMS:
        if first <= day.month < after:
            return make_term(day.year, name, tz)
    raise AssertionError(day)


def make_term(year: int, name: str, tz: ZoneInfo) -> Term:
    first, after = next((f, a) for n, f, a in TERMS if n == name)
    end = date(year + 1, 1, 1) if after == 13 else date(year, after, 1)
    return Term(year, name, datetime.combine(date(year, first, 1), time(0), tz),
                datetime.combine(end, time(0), tz))


def parse_term(text: str, today: date, tz: ZoneInfo) -> Term:
    """'2026-autumn', or the current term for anything else."""
    year, _, name = text.partition("-")
    if year.isdigit() and 2000 <= int(year) <= 2100 and name in {n for n, _, _ in TERMS}:
        return make_term(int(year), name, tz)
    return term_of(today, tz)


def recent_terms(today: date, tz: ZoneInfo, count: int = 6) -> list[Term]:
    terms, current = [], term_of(today, tz)
    for _ in range(count):
        terms.append(current)
        current = term_of((current.start - timedelta(days=1)).date(), tz)
    return terms


@dataclass
class TermTrends:
    term: Term
    weeks: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    per_week: dict[str, dict[str, int]] = field(default_factory=dict)
    decisions: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    escalations_by_urgency: dict[str, int] = field(default_factory=dict)
    to_claim: tuple[float | None, float | None] = (None, None)
    to_resolve: tuple[float | None, float | None] = (None, None)
    concern_types: list[tuple[str, int]] = field(default_factory=list)
    not_shared: list[tuple[str, int]] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)  # free text: the DSLs' page only


def term_trends(storage: Storage, term: Term, now: datetime, reasons: bool = False) -> TermTrends:
    out = TermTrends(term)
    with storage.transaction() as tx:  # the first showing of a term writes its closed days' counts
        daily = tx.console.daily_counts(term.start, term.end, now)
    with storage.read() as tx:
        q = tx.console
        out.escalations_by_urgency = q.escalations_by_urgency(term.start, term.end)
        to_claim = q.minutes(term.start, term.end, "claimed_at")
        to_resolve = q.minutes(term.start, term.end, "resolved_at")
        if reasons:
            out.reasons = q.not_shared_reasons(term.start, term.end)
    monday = term.start.date() - timedelta(days=term.start.weekday())
    while monday < term.end.date():
        out.weeks.append(monday.isoformat())
        out.per_week[monday.isoformat()] = {}
        monday += timedelta(days=7)
    totals: dict[str, int] = {}
    for (day, verdict), count in daily["verdict"].items():
        moment = date.fromisoformat(day)
        week = (moment - timedelta(days=moment.weekday())).isoformat()
        bucket = out.per_week.setdefault(week, {})
        bucket[verdict] = bucket.get(verdict, 0) + count
        totals[verdict] = totals.get(verdict, 0) + count
        out.decisions += count
    out.verdicts = sorted(totals, key=lambda v: (-totals[v], v))
    out.by_decision = _sum(daily["decision"])
    out.not_shared = sorted(_sum(daily["not_shared"]).items(), key=lambda kv: (-kv[1], kv[0]))
    out.concern_types = sorted(_sum(daily["concern"]).items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    out.to_claim = (to_claim[0], to_claim[1])
    out.to_resolve = (to_resolve[0], to_resolve[1])
    return out


def _sum(counts: dict[tuple[str, str], int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_, key), count in counts.items():
        out[key] = out.get(key, 0) + count
    return out


# --- charts --------------------------------------------------------------------------------------
def stacked_bars(chart_id: str, title: str, columns: list[str], series: list[str],
                 values: dict[str, dict[str, int]], labels: dict[str, str], column_label=str) -> str:
    """Vertical stacked bars (one per column, one colour per series) with a legend."""
    width, height, left, bottom, top = 640, 240, 40, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([sum(values.get(c, {}).values()) for c in columns] + [1])
    step = plot_w / max(len(columns), 1)
    bar = max(step * 0.7, 1)
    parts = [_open(chart_id, title, width, height + 20 * math.ceil(len(series) / 3))]
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
                 'stroke="#444"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>')
    for n, column in enumerate(columns):
        x, y = left + n * step + (step - bar) / 2, top + plot_h
        for s, name in enumerate(series):
            count = values.get(column, {}).get(name, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(column_label(column))}: '
                         f'{escape(labels.get(name, name))} {count}</title></rect>')
        if n % max(1, len(columns) // 8) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                         f'font-size="10">{escape(column_label(column))}</text>')
    parts += _legend(series, labels, height)
    parts.append("</svg>")
    return "".join(parts)


def hbars(chart_id: str, title: str, rows: list[tuple[str, float]], unit: str = "") -> str:
    """Horizontal bars, one per labelled value."""
    width, row_h, label_w = 640, 26, 260
    height = max(len(rows), 1) * row_h + 10
    peak = max([v for _, v in rows] + [1])
    parts = [_open(chart_id, title, width, height)]
    for n, (label, value) in enumerate(rows):
        y = 5 + n * row_h
        w = (width - label_w - 60) * value / peak
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12">'
                     f'{escape(label[:40])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="{PALETTE[0]}"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 16}" font-size="12">'
                     f'{value:g}{escape(unit)}</text>')
    if not rows:
        parts.append('<text x="10" y="20" font-size="12">None in this term.</text>')
    parts.append("</svg>")
    return "".join(parts)


def _open(chart_id: str, title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'class="chart" role="img" aria-labelledby="{chart_id}-t" focusable="false">'
            f'<title id="{chart_id}-t">{escape(title)} (the same figures are in the table below)</title>')


def _legend(series: list[str], labels: dict[str, str], y0: int) -> list[str]:
    parts = []
    for s, name in enumerate(series):
        x, y = 10 + (s % 3) * 210, y0 + (s // 3) * 20
        colour, label = PALETTE[s % len(PALETTE)], escape(labels.get(name, name)[:32])
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}" font-size="11">{label}</text>')
    return parts
