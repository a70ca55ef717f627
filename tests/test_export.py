"""Exports: CSV and XLSX hold the right rows, formulas are neutralised, and the weekly summary
figures are right for a hand-built week."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from bot.core.clock import SYSTEM_CLOCK
from bot.dsl.export import export, last_full_week, neutralise
from bot.storage import Decision, Storage
from tests.conftest import record

WEEK_START = datetime(2026, 11, 9, tzinfo=UTC)  # Monday; London is on UTC in November
WEEK_END = WEEK_START + timedelta(days=7)


def decision(day: float, **extra) -> Decision:
    base = dict(channel="slack", user_id="U1", flow_id="can_i_share", flow_version="v1",
                guidance_edition="e", answers={"harm_level": "significant_harm"}, outcome_id="O03",
                verdict="refer_to_childrens_social_care", consent_position="not_sought_unsafe",
                rules=["GR1", "GR7"], gateways=["dpa2018-sch1-para18", "uk-gdpr-art6-1e"],
                dsl_alert="urgent", decision="shared", created_at=WEEK_START + timedelta(days=day))
    return Decision(**{**base, **extra})


@pytest.fixture
def week(storage: Storage) -> Storage:
    record(storage, decision(-1, what="last week's"))  # outside the week
    record(storage, decision(0.5, what="=HYPERLINK(\"http://evil\")", reasons="+1", purpose="-2",
                                     with_whom="@SUM(A1)", case_reference="\tCS-1"))
    record(storage, decision(1, verdict="share_with_consent", outcome_id="O08",
                                     gateways=["common-law-consent", "uk-gdpr-art6-1e"], flow_id="consent"))
    record(storage, decision(2, verdict="do_not_share", outcome_id="O12", gateways=[],
                                     dsl_alert="none", decision="not_shared"))
    record(storage, decision(6.9))
    record(storage, decision(7, what="next week's"))  # outside: the end is exclusive
    created = [WEEK_START + timedelta(days=d) for d in (0.5, 1, 3)]
    claims = [timedelta(minutes=5), timedelta(minutes=25), None]
    with storage.transaction() as tx:
        for n, (at, claim) in enumerate(zip(created, claims, strict=True)):
            tx.escalations.create(
                f"k{n}", created_at=at, channel="slack", requester="U1", conversation_id=f"c{n}",
                kind="outcome", urgency="urgent", flow_id="can_i_share", outcome_id="O03",
                verdict="refer_to_childrens_social_care", status="claimed" if claim else "open",
                claimed_at=at + claim if claim else None)
    return storage


def test_csv_holds_the_weeks_rows_and_neutralises_formulas(week, tmp_path):
    out = tmp_path / "week.csv"
    summary = export(week, WEEK_START, WEEK_END, "csv", out)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["2", "3", "4", "5"]
    first = rows[0]
    assert first["what"] == "'=HYPERLINK(\"http://evil\")"
    assert first["reasons"] == "'+1" and first["purpose"] == "'-2"
    assert first["with_whom"] == "'@SUM(A1)" and first["case_reference"] == "'\tCS-1"
    assert first["gateways"] == "dpa2018-sch1-para18; uk-gdpr-art6-1e"
    assert json.loads(first["answers"]) == {"harm_level": "significant_harm"}
    assert summary.decisions == 4


def test_xlsx_has_decisions_and_a_weekly_summary(week, tmp_path):
    out = tmp_path / "week.xlsx"
    export(week, WEEK_START, WEEK_END, "xlsx", out)
    book = load_workbook(out, read_only=True)
    assert book.sheetnames == ["Decisions", "Weekly summary"]
    decisions = list(book["Decisions"].iter_rows(values_only=True))
    assert decisions[0][0] == "id" and len(decisions) == 5
    header = decisions[0]
    assert decisions[1][header.index("what")] == "'=HYPERLINK(\"http://evil\")"
    summary = {row[0]: row[1] for row in book["Weekly summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Decisions"] == 4
    assert summary["Escalations"] == 3 and summary["Unclaimed escalations"] == 1
    assert summary["Median minutes to claim"] == 15 and summary["Worst minutes to claim"] == 25
    assert summary["refer_to_childrens_social_care"] == 2
    assert summary["share_with_consent"] == 1 and summary["do_not_share"] == 1
    assert summary["uk-gdpr-art6-1e"] == 3 and summary["dpa2018-sch1-para18"] == 2
    assert summary["can_i_share"] == 3 and summary["consent"] == 1


def test_json_export(week, tmp_path):
    out = tmp_path / "week.json"
    export(week, WEEK_START, WEEK_END, "json", out)
    data = json.loads(out.read_text())
    assert [d["id"] for d in data] == [2, 3, 4, 5] and data[1]["verdict"] == "share_with_consent"


def test_neutralise_leaves_ordinary_text():
    assert neutralise("summary of concern") == "summary of concern"
    assert neutralise("=1+1") == "'=1+1" and neutralise(5) == 5


def test_last_full_week_in_london():
    start, end = last_full_week(datetime(2026, 11, 18, 12, tzinfo=UTC), "Europe/London")
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-11-09", "2026-11-16")
    summer_start, _ = last_full_week(datetime(2026, 7, 8, 12, tzinfo=UTC), "Europe/London")
    assert summer_start.utcoffset() == timedelta(hours=1)


def test_cli_export_defaults_and_errors(run_cli, tmp_path):
    store = Storage(tmp_path / "cli.db")
    now = SYSTEM_CLOCK.now()  # the CLI runs on the real clock
    record(store, decision(0, created_at=now - timedelta(days=3)))
    result = run_cli("export", "--from", (now - timedelta(days=4)).date().isoformat(),
                     "--to", now.date().isoformat(), "--format", "xlsx", "--out", str(tmp_path / "x.xlsx"))
    assert result.returncode == 0, result.stderr
    assert "1 decisions" in result.stdout and (tmp_path / "x.xlsx").exists()
    default = run_cli("export")
    assert default.returncode == 0 and "wrote canishare-decisions-" in default.stdout
    bad = run_cli("export", "--from", "last week")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    assert run_cli("export", "--to", "2026-01-01").returncode == 2


def test_parallel_csv_matches_single_process(week, tmp_path, monkeypatch):
    import bot.dsl.export as export_module

    for n in range(20):
        record(week, decision(3 + n / 100, what=f"=row {n}", reasons='said "no"'))
    single, split = tmp_path / "one.csv", tmp_path / "two.csv"
    export(week, WEEK_START, WEEK_END, "csv", single)
    monkeypatch.setattr(export_module, "PARALLEL_FROM", 5)
    summary = export(week, WEEK_START, WEEK_END, "csv", split, workers=2)
    assert split.read_text() == single.read_text()
    assert summary.decisions == 24 and not list(tmp_path.glob("two.csv.part*"))
    rows = list(csv.DictReader(split.open(newline="")))
    assert rows[-1]["what"] == "'=row 19" and rows[-1]["reasons"] == 'said "no"'


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("＝1+1", "'＝1+1"), ("＋SUM(A1)", "'＋SUM(A1)"), ('"=1+1', '\'"=1+1'),
    (" @x", "' @x"), ("ok\n=cmd|' /C calc'!A0", "ok\n'=cmd|' /C calc'!A0"), ("line\r\n-2", "line\r\n'-2"),
    ("\tCS-1", "'\tCS-1"), ("safe - text", "safe - text"), ("", ""),
])
def test_neutralise_the_owasp_variants(text, expected):
    assert neutralise(text) == expected


def test_exports_are_private_files_and_xlsx_holds_no_formula(week, tmp_path):
    import stat

    record(week, decision(4, what="ok\n=HYPERLINK(\"http://evil\")", reasons="＝1+1"))
    for fmt in ("csv", "xlsx", "json"):
        out = tmp_path / f"week.{fmt}"
        export(week, WEEK_START, WEEK_END, fmt, out, checkpoint="canishare-checkpoint v1 at=x")
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    book = load_workbook(tmp_path / "week.xlsx")  # not read-only: cell types are visible
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert "ok\n'=HYPERLINK(\"http://evil\")" in texts and "'＝1+1" in texts
    assert "canishare-checkpoint v1 at=x" in texts
    rows = list(csv.reader((tmp_path / "week.csv").open(newline="")))
    assert rows[-1] == ["#checkpoint", "canishare-checkpoint v1 at=x"]
    assert json.loads((tmp_path / "week.json").read_text())[-1] == {"checkpoint": "canishare-checkpoint v1 at=x"}


def test_the_period_a_dsl_asks_for():
    from datetime import UTC, datetime

    import pytest

    from bot.dsl.export import period

    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # a Wednesday
    start, end = period([], now, "Europe/London")
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-11-23", "2026-11-30")
    start, end = period(["2026-11-03"], now, "Europe/London")
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-11-03", "2026-11-04")
    start, end = period(["2026-11-03", "2026-11-05"], now, "Europe/London")
    assert end.date().isoformat() == "2026-11-06"  # the end day is included
    for bad in (["2026-11-05", "2026-11-03"], ["yesterday"], ["2026-13-01"]):
        with pytest.raises(ValueError):
            period(bad, now, "Europe/London")
