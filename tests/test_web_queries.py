"""The console's figures on SQLite and PostgreSQL: the log's filters (organisation type read from
the answers JSON), its keyset pages, and each term's aggregates; the console's settings and the
Entra identity rule."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.channels.web.config import web_config
from bot.channels.web.identity import NotOurs, identity
from bot.channels.web.trends import make_term, term_of, term_trends
from bot.dsl.model import Kind, Urgency
from bot.settings import Settings, SettingsError
from bot.storage import LogFilter
from tests.conftest import MONDAY_10AM
from tests.web_harness import decision

LONDON = ZoneInfo("Europe/London")
COLUMNS = ["id", "created_at", "verdict", "jurisdiction", "decision"]


def seed(store) -> None:
    start = MONDAY_10AM - timedelta(days=20)
    with store.transaction() as tx:
        for n in range(12):
            tx.decisions.record(decision(
                start + timedelta(days=n), ("share_with_consent", "do_not_share")[n % 2],
                ("shared", "not_shared", "deferred")[n % 3], ("england", "wales")[n % 2],
                ("public_body", "nhs_health", "charity_voluntary")[n % 3],
                concerns=("neglect",) if n % 4 else ("neglect", "sexual_abuse"),
                reasons=(" Parent objected", "parent objected ")[n % 2] if n % 3 == 1 else ""))
        for n, minutes in enumerate((5, 15, 60)):
            escalation_id = tx.escalations.create(
                f"k{n}", channel="slack", requester="U1", conversation_id=f"c{n}", kind=Kind.outcome,
                urgency=(Urgency.urgent, Urgency.routine, Urgency.urgent)[n], flow_id="f", outcome_id="O1",
                verdict="refer_to_childrens_social_care", created_at=start)
            tx.escalations.update(escalation_id, status="claimed", claimed_by="UDSL",
                                  claimed_at=start + timedelta(minutes=minutes))


def test_log_filters_and_pages(store):
    seed(store)
    term = make_term(2026, "autumn", LONDON)
    everything = LogFilter(term.start, term.end)
    with store.read() as tx:
        q = tx.console
        assert len(q.log_page(COLUMNS, everything, limit=50)) == 12
        assert {r["jurisdiction"] for r in q.log_page(COLUMNS, LogFilter(term.start, term.end,
                                                                          jurisdiction="wales"))} == {"wales"}
        nhs = q.log_page(COLUMNS, LogFilter(term.start, term.end, org_type="nhs_health"))
        assert [r["id"] for r in nhs] == [11, 8, 5, 2]
        assert len(q.log_page(COLUMNS, LogFilter(term.start, term.end, decision="not_shared",
                                                 verdict="do_not_share"))) == 2
        first = q.log_page(COLUMNS, everything, limit=5)
        second = q.log_page(COLUMNS, everything, limit=5, before=(first[-1]["created_at"], first[-1]["id"]))
        assert [r["id"] for r in first] == [12, 11, 10, 9, 8] and [r["id"] for r in second] == [7, 6, 5, 4, 3]
        assert len(list(q.log_rows(COLUMNS, LogFilter(term.start, term.end, org_type="public_body")))) == 4


def test_term_trends_are_aggregates(store, clock):
    seed(store)
    term = make_term(2026, "autumn", LONDON)
    data = term_trends(store, term, clock.now(), reasons=True)
    assert data.decisions == 12 and sum(sum(w.values()) for w in data.per_week.values()) == 12
    assert data.weeks[0] == "2026-08-31" and len(data.weeks) == 18
    assert data.by_decision == {"shared": 4, "not_shared": 4, "deferred": 4}
    assert dict(data.concern_types) == {"neglect": 12, "sexual_abuse": 3}
    assert data.escalations_by_urgency == {"urgent": 2, "routine": 1}
    assert data.to_claim == (15.0, 60.0)
    assert data.to_resolve == (None, None)
    assert sum(n for _, n in data.not_shared) == 4
    assert data.reasons == [("parent objected", 4)]  # the same words, counted together
    # closed days now come from the daily counts; today's are counted live, so a decision logged
    # today shows at once, and one changed behind the rollup's back does not (it was counted)
    with store.transaction() as tx:
        tx.decisions.record(decision(clock.now(), "do_not_share", "not_shared"))
    again = term_trends(store, term, clock.now())
    assert again.decisions == 13 and again.by_decision["not_shared"] == 5 and again.reasons == []
    clock.advance(days=1)
    later = term_trends(store, term, clock.now())
    assert later.decisions == 13 and dict(later.concern_types) == {"neglect": 13, "sexual_abuse": 3}


def test_terms():
    assert term_of(MONDAY_10AM.date(), LONDON).key == "2026-autumn"
    assert term_of(MONDAY_10AM.date().replace(month=2), LONDON).key == "2026-spring"
    assert term_of(MONDAY_10AM.date().replace(month=7), LONDON).title == "Summer term 2026"


def console_settings(**extra) -> Settings:
    values = dict(web_url="https://dsl.example.org", web_session_secret="x" * 40, web_oidc_client_id="c",
                  web_oidc_client_secret="s", slack_team_id="T1")
    values.update(extra)
    return Settings(**values)


def test_console_settings_are_checked():
    config = web_config(console_settings())
    assert config.issuer == "https://slack.com" and config.redirect_uri == "https://dsl.example.org/auth/callback"
    entra = web_config(console_settings(web_oidc_provider="entra", teams_tenant_id="tid-1"))
    assert entra.issuer == "https://login.microsoftonline.com/tid-1/v2.0" and entra.channel == "teams"
    for bad, names in ((dict(web_url="http://dsl.example.org"), "CANISHARE_WEB_URL"),
                       (dict(web_session_secret="short"), "CANISHARE_WEB_SESSION_SECRET"),
                       (dict(slack_team_id=""), "SLACK_TEAM_ID"),
                       (dict(web_oidc_issuer="http://idp.example.org"), "CANISHARE_WEB_OIDC_ISSUER")):
        with pytest.raises(SettingsError, match=names):
            web_config(console_settings(**bad))


def test_an_entra_token_is_the_teams_object_id_of_our_tenant():
    config = web_config(console_settings(web_oidc_provider="entra", teams_tenant_id="tid-1"))
    person = identity(config, {"oid": "object-1", "tid": "tid-1", "name": "Dee Lead"})
    assert (person.channel, person.user_id, person.name) == ("teams", "object-1", "Dee Lead")
    with pytest.raises(NotOurs):
        identity(config, {"oid": "object-1", "tid": "another-tenant"})
