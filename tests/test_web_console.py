"""The DSL web console over real HTTP: sign-in through the fake OpenID provider, who gets in
(exactly as the chat decides), sessions, CSRF, the queue acting through the desk (the Slack card
on the fake Slack changes), the log's filters and export, trends, the report and log integrity.
The browser-level checks (and accessibility) are in test_web_browser.py."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from bot.channels.web import guard
from bot.channels.web.app import LOG_COLUMNS
from bot.dsl import export
from tests.conftest import MONDAY_10AM
from tests.slack_harness import text_of
from tests.test_dsl_slack import card_message, dms_to, reach_referral
from tests.web_harness import DSL, MEMBER, STAFF, decision, slack_user, start_console

PAGES = ["/queue", "/queue?status=resolved", "/log", "/log/export?format=csv", "/log/export?format=xlsx",
         "/trends", "/report", "/integrity"]
ACTIONS = ["/queue/1/claim", "/queue/1/more-info", "/queue/1/resolve", "/signout", "/integrity"]


@pytest.fixture
def console(fake, real_bundle, tmp_path, clock):
    running = start_console(fake, real_bundle, tmp_path / "console.db", clock)
    yield running
    running.stop()


def audit(console, action: str) -> list[dict]:
    with console.slack.storage.read() as tx:
        return tx.audit.rows(action)


# --- sign-in -------------------------------------------------------------------------------------
def test_a_dsl_signs_in_and_the_cookie_is_secure_httponly_samesite(console):
    web = console.client()
    response = web.sign_in(DSL, next_path="/log")
    assert response.status_code == 303 and response.headers["location"] == "/log"
    cookie = [h for h in web.set_cookie_headers if h.startswith("canishare_console=")][-1].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    page = web.get("/queue")
    assert page.status_code == 200 and "Sign out (Person UDSL)" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert [r["actor"] for r in audit(console, "web sign-in")] == [DSL]


def test_a_member_of_the_private_dsl_channel_gets_in(console):
    assert console.client().sign_in(MEMBER).status_code == 303


def test_someone_who_is_not_a_dsl_is_refused_in_plain_words(console):
    web = console.client()
    response = web.sign_in(STAFF)
    assert response.status_code == 403
    assert "not on its DSL list" in response.text and not web.cookie.startswith("ey")  # no session kept
    assert web.get("/queue").status_code == 303
    assert any(r["actor"] == STAFF and "not a DSL" in r["detail"] for r in audit(console, "refused"))


def test_an_account_from_another_workspace_is_refused(console):
    response = console.client().sign_in(claims=slack_user(DSL, team="TOTHER"))
    assert response.status_code == 403 and "not one of your organisation" in response.text


def test_a_dsl_removed_from_the_list_loses_the_console(console, fake):
    web = console.client()
    assert web.sign_in(MEMBER).status_code == 303
    fake.channel_members["CDSL"] = [DSL]
    console.slack.desk.directories["slack"]._members = None  # as when its minute of caching ends
    assert web.get("/queue").status_code == 403


def test_sign_out_ends_the_session(console):
    web = console.client()
    web.sign_in(DSL)
    response = web.post("/signout", {"csrf": web.csrf()})
    assert response.status_code == 200 and "You have signed out" in response.text
    assert web.get("/queue").status_code == 303
    assert audit(console, "web sign-out")


def test_an_idle_session_expires_on_the_clock(console, clock):
    web = console.client()
    web.sign_in(DSL)
    clock.advance(minutes=29)
    assert web.get("/queue").status_code == 200  # activity keeps it alive
    clock.advance(minutes=29)
    assert web.get("/log").status_code == 200
    clock.advance(minutes=31)
    response = web.get("/queue")
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    assert "signed out after a while" in web.get(response.headers["location"]).text


# --- refusals --------------------------------------------------------------------------------------
def test_every_page_and_action_needs_a_dsl_session(console):
    stranger = console.client()
    for path in PAGES:
        response = stranger.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin?next="), path
    for path in ACTIONS:
        assert stranger.post(path, {"csrf": "x", "note": "done"}).status_code == 403, path
    forged = console.client()
    forged.cookie = "eyJ3aG8iOiB7ImNoYW5uZWwiOiAic2xhY2siLCAidXNlciI6ICJVRFNMIn19.forged.sig"
    assert forged.get("/queue").status_code == 303  # a session cookie not signed by us is no session


def test_a_form_without_the_csrf_token_changes_nothing(console, fake):
    reach_referral(console.slack)
    web = console.client()
    web.sign_in(DSL)
    for token in ("", "forged", web.csrf()[:-1] + "x"):
        assert web.post("/queue/1/claim", {"csrf": token}).status_code == 403
    with console.slack.storage.read() as tx:
        assert tx.escalations.get(1).status.value == "open"
    assert any("CSRF" in r["detail"] for r in audit(console, "refused"))


@pytest.mark.parametrize("value, expected", [
    ("/log?verdict=x", "/log?verdict=x"), ("//evil.example/x", "/queue"), ("/\\evil.example", "/queue"),
    ("https://evil.example", "/queue"), ("javascript:alert(1)", "/queue"), ("/x\r\nLocation: y", "/queue"),
    ("", "/queue"), (None, "/queue")])
def test_after_sign_in_only_a_local_path(value, expected):
    assert guard.safe_next(value) == expected


def test_an_open_redirect_through_sign_in_is_refused(console):
    response = console.client().sign_in(DSL, next_path="//evil.example/steal")
    assert response.status_code == 303 and response.headers["location"] == "/queue"


def test_a_replayed_callback_is_refused(console):
    web = console.client()
    assert web.sign_in(DSL).status_code == 303
    other = console.client()
    other.cookie = web.cookie  # even with the same session, the state was used up
    assert other.get(web.last_callback).status_code == 400
    stranger = console.client()  # and without the session that started it
    assert stranger.get(web.last_callback).status_code == 400


def test_a_token_that_is_not_for_us_is_refused(console):
    for misbehaviour in ({"issuer_override": "https://evil.example"}, {"audience_override": "someone-else"},
                         {"nonce_override": "replayed-nonce"}, {"sign_with_foreign_key": True}):
        for name, value in misbehaviour.items():
            setattr(console.oidc, name, value)
        web = console.client()
        response = web.sign_in(DSL)
        assert response.status_code == 400 and "could not be completed" in response.text, misbehaviour
        assert web.get("/queue").status_code == 303
        for name, value in misbehaviour.items():
            setattr(console.oidc, name, type(value)())
    assert len(audit(console, "refused")) == 4
    assert console.client().sign_in(DSL).status_code == 303  # and the provider, behaving, works


# --- the queue ---------------------------------------------------------------------------------------
def test_a_claim_in_the_web_updates_the_slack_card_and_tells_the_requester(console, fake, clock):
    reach_referral(console.slack)
    web = console.client()
    web.sign_in(DSL)
    queue = web.get("/queue")
    assert "Urgent escalation #1" in queue.text and "Refer to children" in queue.text
    clock.advance(minutes=4)
    response = web.post("/queue/1/claim", {"csrf": web.csrf()})
    assert response.status_code == 200 and "Claimed" in response.text
    card = card_message(fake)
    assert "Claimed by " in text_of(card["blocks"]) and "Mon 16 Nov 10:04" in text_of(card["blocks"])
    assert "was claimed by <@UDSL>" in dms_to(fake, STAFF)[-1].params["text"]
    claimed = web.get("/queue?status=claimed").text
    assert "by you at" in claimed and "Card up to date" in claimed
    assert web.post("/queue/1/claim", {"csrf": web.csrf()}).status_code == 200  # a repeat acts once
    assert len([c for c in fake.of("chat.update") if c.params.get("channel") == "CDSL"]) == 1


def test_need_more_info_from_the_web(console, fake):
    reach_referral(console.slack)
    web = console.client()
    web.sign_in(DSL)
    response = web.post("/queue/1/more-info", {"csrf": web.csrf(), "version": "1"})
    assert response.status_code == 200 and "asked to get in touch" in response.text
    assert "needs more information about your escalation #1" in dms_to(fake, STAFF)[-1].params["text"]


def test_resolving_tells_the_requester_in_plain_words_and_no_details(console, fake):
    reach_referral(console.slack)
    web = console.client()
    web.sign_in(DSL)
    response = web.post("/queue/1/resolve", {"csrf": web.csrf(), "note": "Referred to the MASH by phone"})
    assert response.status_code == 200 and "looked at and closed" in response.text
    told = dms_to(fake, STAFF)[-1].params["text"]
    assert "looked at" in told and "closed" in told and "MASH" not in told
    assert "Resolved by " in text_of(card_message(fake)["blocks"])
    refused = web.post("/queue/1/resolve", {"csrf": web.csrf(), "note": "again"})
    assert refused.status_code == 409


def test_a_note_with_an_identifier_is_refused(console):
    reach_referral(console.slack)
    web = console.client()
    web.sign_in(DSL)
    response = web.post("/queue/1/resolve", {"csrf": web.csrf(), "note": "Spoke to Jayden Smith, NHS 943 476 5919"})
    assert response.status_code == 409 and "without identifying anyone" in response.text


# --- the decision log ----------------------------------------------------------------------------------
def seed_log(storage) -> None:
    day = MONDAY_10AM - timedelta(days=3)
    rows = [decision(day, "refer_to_childrens_social_care", "shared", "england", "public_body"),
            decision(day + timedelta(hours=1), "share_with_consent", "not_shared", "wales", "charity_voluntary",
                     reasons="parent objected", concerns=("neglect", "emotional_abuse")),
            decision(day + timedelta(hours=2), "refer_to_childrens_social_care", "deferred", "scotland", "nhs_health",
                     channel="teams", case_reference="CR-1"),
            decision(day - timedelta(days=60), "refer_to_childrens_social_care", "shared")]
    with storage.transaction() as tx:
        for row in rows:
            tx.decisions.record(row)


def test_the_log_shows_only_fields_the_export_has():
    assert set(LOG_COLUMNS) <= set(export.COLUMNS)


def test_the_log_filters_and_exports_what_is_filtered(console):
    seed_log(console.slack.storage)
    web = console.client()
    web.sign_in(DSL)
    page = web.get("/log").text
    assert page.count("<tr><td>") == 3  # the last 30 days by default
    assert "parent objected" not in page  # free text the export has is not needed on screen
    assert "Tell your DSL now: they refer to children" in page and ">O03<" not in page  # words, not ids
    wales = web.get("/log?jurisdiction=wales").text
    assert wales.count("<tr><td>") == 1 and "Not shared" in wales and "Charity or voluntary group" in wales
    assert web.get("/log?org_type=nhs_health").text.count("<tr><td>") == 1
    assert web.get("/log?channel=teams&decision=deferred").text.count("<tr><td>") == 1
    assert web.get("/log?from=2026-09-01&to=2026-09-30").text.count("<tr><td>") == 1
    exported = web.get("/log/export?format=csv&verdict=refer_to_childrens_social_care&from=2026-11-01&to=2026-11-16")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == export.COLUMNS and len(rows) == 3
    assert {r[export.COLUMNS.index("verdict")] for r in rows[1:]} == {"refer_to_childrens_social_care"}
    xlsx = web.get("/log/export?format=xlsx&jurisdiction=wales")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    details = [r["detail"] for r in audit(console, "export")]
    assert any("web csv" in d and "verdict=refer_to_childrens_social_care" in d for d in details) and any("web xlsx" in d for d in details)
    assert any("jurisdiction=wales" in r["detail"] for r in audit(console, "log"))


def test_trends_report_and_integrity(console):
    seed_log(console.slack.storage)
    reach_referral(console.slack)
    web = console.client()
    web.sign_in(DSL)
    trends = web.get("/trends?term=2026-autumn")
    assert trends.status_code == 200 and "<svg" in trends.text and "Autumn term 2026" in trends.text
    assert "Emotional abuse" in trends.text or "emotional" in trends.text.lower()
    assert "parent objected" not in trends.text and "Show the reasons" in trends.text
    assert "parent objected" in web.get("/trends?term=2026-autumn&reasons=1").text  # for DSLs, on request
    report = web.get("/report?term=2026-autumn")
    assert "Governor report" in report.text and "Printed" in report.text and "U1" not in report.text
    assert "parent objected" not in report.text  # free text stays off the governors' page
    integrity = web.post("/integrity", {"csrf": web.csrf("/integrity")})
    assert "Intact:" in integrity.text
    assert "Last verified from this console" in web.get("/integrity").text
