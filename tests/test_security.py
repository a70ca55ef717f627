"""Only Slack gets in, only this workspace acts, typed text stays text (issue 9). Every class of
bad request goes to the real app over HTTP; the fake Web API must receive NO call for it."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.conftest import decisions
from tests.slack_harness import SECRET, actions_in, start_app, text_of
from tests.test_dsl_slack import DSL, DSL_SETTINGS, card_message, dms_to, reach_referral

COMMAND = urlencode({"command": "/canishare", "text": "", "user_id": "U1", "channel_id": "C1",
                     "team_id": "T1", "trigger_id": "trig-x", "response_url": "http://127.0.0.1:9/x"})


@pytest.fixture
def slack(fake, real_bundle, tmp_path, clock):
    app = start_app(fake, real_bundle, tmp_path / "sec.db", clock=clock, **DSL_SETTINGS)
    yield app
    app.stop()


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST exactly these headers (urllib would add a Content-Type of its own)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=body, headers={"Content-Length": str(len(body)), **headers})
        return conn.getresponse().status
    finally:
        conn.close()


def sign_bytes(body: bytes, ts: str) -> str:
    return "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


def signed(body: str, ts: str | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    return {"X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}


def calls_after_startup(fake) -> list[str]:
    return [c.method for c in fake.calls if c.method != "auth.test"]


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def bad_requests() -> dict:
    """Built when a test runs: timestamps are relative to now, not to when tests were collected."""
    now = str(int(time.time()))
    return {
        # timestamps: missing, not a number (used to raise inside Bolt and DM the body's user), stale
        "no timestamp": (COMMAND, FORM | {"X-Slack-Signature": "v0=" + "0" * 64}, 401),
        "timestamp abc": (COMMAND, FORM | {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64}, 401),
        "timestamp 1e3": (COMMAND, FORM | {"X-Slack-Request-Timestamp": "1e3", "X-Slack-Signature": "v0=" + "0" * 64}, 401),
        "timestamp negative": (COMMAND, FORM | signed(COMMAND, "-5"), 401),
        "timestamp with a fraction": (COMMAND, FORM | {"X-Slack-Request-Timestamp": f"{now}.5",
                                                   "X-Slack-Signature": signed(COMMAND)["X-Slack-Signature"]}, 401),
        "stale by six minutes": (COMMAND, FORM | signed(COMMAND, str(int(time.time()) - 360)), 401),
        "six minutes ahead": (COMMAND, FORM | signed(COMMAND, str(int(time.time()) + 360)), 401),
        # signatures: missing, malformed, wrong, or by another app's secret
        "no signature": (COMMAND, FORM | {"X-Slack-Request-Timestamp": now}, 401),
        "malformed signature": (COMMAND, FORM | {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v1=abc"}, 401),
        "wrong signature": (COMMAND, FORM | {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "a" * 64}, 401),
        "foreign signature": (COMMAND, FORM | signed(COMMAND, secret="another-apps-secret"), 401),
        "unsigned garbage": ("payload={not json", FORM, 401),
    }


@pytest.mark.parametrize("name", list(bad_requests()))
def test_unauthentic_requests_get_401_and_cause_nothing(slack, fake, caplog, name):
    body, headers, status = bad_requests()[name]
    assert raw_post(slack.url, body.encode(), headers) == status
    assert calls_after_startup(fake) == []
    assert "U1" not in caplog.text and "trig-x" not in caplog.text  # no log line carrying the body


SIGNED_BAD = {
    "malformed JSON in payload=": ("payload=" + "%7Bnot%20json", "application/x-www-form-urlencoded"),
    "payload= that is a list": ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    "JSON body sent as form": (json.dumps({"type": "event_callback", "team_id": "T1"}),
                               "application/x-www-form-urlencoded"),
    "form body sent as JSON": (COMMAND, "application/json"),
    "no content type": (COMMAND, ""),
    "text/plain": (COMMAND, "text/plain"),
    "JSON without a type": (json.dumps({"team_id": "T1"}), "application/json"),
}


@pytest.mark.parametrize("name", list(SIGNED_BAD))
def test_signed_but_malformed_requests_get_400_and_cause_nothing(slack, fake, name):
    body, content_type = SIGNED_BAD[name]
    data = body.encode("utf-8", "surrogateescape")
    headers = {"Content-Type": content_type} if content_type else {}
    ts = str(int(time.time()))
    headers |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign_bytes(data, ts)}
    assert raw_post(slack.url, data, headers) == 400
    assert calls_after_startup(fake) == []


def test_a_body_that_is_not_utf8_cannot_carry_slacks_signature(slack, fake):
    data, ts = b"\xff\xfe{}", str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": sign_bytes(data, ts)}
    assert raw_post(slack.url, data, headers) == 401
    assert calls_after_startup(fake) == []


def test_an_oversize_body_gets_413_before_it_is_read(slack, fake):
    import socket

    host, port = slack.server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 52428800\r\n\r\n" + b"{" * 1000)  # claims 50 MB, sends 1 KB
        answer = conn.recv(200).decode()
    assert answer.startswith("HTTP/1.0 413") or answer.startswith("HTTP/1.1 413")
    assert calls_after_startup(fake) == []


def test_requests_from_another_workspace_are_refused_and_audited(slack, fake):
    for team in ("T1", "TOTHER"):  # a DSL's user id, signed, but from another team
        body = urlencode({"command": "/canishare", "text": "", "user_id": DSL, "channel_id": "C1",
                          "team_id": team, "trigger_id": f"trig-{team}"})
        status = raw_post(slack.url, body.encode(), FORM | signed(body))
        assert status == (200 if team == "T1" else 403)
    reach_referral(slack)
    card = card_message(fake)
    before = len(fake.calls)
    for payload_team in ({"team": {"id": "TOTHER"}}, {"user": {"id": DSL, "team_id": "TOTHER"}},
                         {"enterprise": {"id": "EOTHER"}}):
        payload = {"type": "block_actions", "user": {"id": DSL}, "team": {"id": "T1"}, "trigger_id": "t",
                   "container": {"type": "message", "message_ts": card["ts"], "channel_id": "CDSL"},
                   "actions": [{"action_id": "dsl_claim", "value": json.dumps({"e": 1, "v": 1})}]}
        payload |= payload_team
        body = urlencode({"payload": json.dumps(payload)})
        assert raw_post(slack.url, body.encode(), FORM | signed(body)) == 403
    assert len(fake.calls) == before
    with slack.storage.read() as tx:
        assert tx.escalations.get(1).status.value == "open"
        refused = [r for r in tx.audit.rows("refused") if "another workspace" in r["detail"]]
    assert len(refused) == 4 and {r["actor"] for r in refused} == {DSL}


def test_a_replayed_signed_slash_command_acts_once(slack, fake):
    headers = FORM | signed(COMMAND)
    assert raw_post(slack.url, COMMAND.encode(), headers) == 200
    assert raw_post(slack.url, COMMAND.encode(), headers) == 200
    checks = [c for c in fake.of("chat.postMessage") if "immediate danger" in str(c.params.get("blocks"))]
    assert len(checks) == 1


# --- crafted payloads ---------------------------------------------------------------------------
def test_a_crafted_click_on_someone_elses_check_changes_nothing(slack, fake):
    slack.command(user="U1")
    victim = slack.last_message()
    updates = len(fake.of("chat.update"))
    for action in ("profile_change", "answer:no", "back", "restart", "help", "record_open", "talk_to_dsl"):
        try:
            slack.click(action, user="UATTACKER", message=victim)
        except AssertionError:
            continue  # the button is not on this message
    assert len(fake.of("chat.update")) == updates and not fake.of("views.open")
    assert not card_message_exists(fake)
    with slack.storage.read() as tx:
        assert tx.conversations.latest("slack", "U1").version == 1


def card_message_exists(fake) -> bool:
    return bool(fake.posts_to("CDSL", thread=False))


@pytest.mark.parametrize("metadata", [
    '{"c": "someone-elses", "ch": "CDSL", "ts": "1.1"}',  # unsigned: redirect the confirmation
    '{"x": 1}',
    "not json",
    "",
])
def test_tampered_or_malformed_record_metadata_saves_nothing_and_keeps_the_modal_open(slack, fake, metadata):
    reach_referral(slack)
    response = slack.submit_record({"decision": "shared", "what": "summary", "reasons": "risk"}, metadata)
    errors = response.json()["errors"]
    assert "could not be checked" in errors["decision"]
    assert decisions(slack.storage) == [] and not fake.posts_to("CDSL", thread=True)


def test_record_metadata_signed_for_someone_else_is_refused(slack, fake):
    reach_referral(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    response = slack.submit_record({"decision": "shared", "what": "summary", "reasons": "risk"}, meta,
                                   user="UATTACKER")
    assert "could not be checked" in response.json()["errors"]["decision"]
    assert decisions(slack.storage) == []


# --- typed text stays text ---------------------------------------------------------------------------
INJECTIONS = ["<https://evil.example/login|Click to verify>", "<!channel> <!here> <!everyone>",
              "<@UDSL> <#C123> <!subteam^S1>", "*bold* _italic_ ~strike~ `code` ```block```",
              "a\u202eexe.txt", "nul\x00 esc\x1b[31m zero\u200bwidth"]


def test_injections_through_the_record_modal_are_stored_cleaned_and_shown_as_text(slack, fake):
    reach_referral(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    response = slack.submit_record({"decision": "shared", "what": " | ".join(INJECTIONS),
                                    "reasons": "risk", "case_reference": "<!here>*CS-1*"}, meta)
    assert response.body == "", response.body
    [row] = decisions(slack.storage)
    for bad in ("\x00", "\x1b", "\u202e", "\u200b"):
        assert bad not in row["what"]
    assert "<!here>" in row["what"]  # kept as typed, and never rendered as a mention:
    card = card_message(fake)
    case = next(f for f in card["blocks"][1]["fields"] if "Case reference" in f["text"])
    assert case == {"type": "plain_text", "text": "Case reference\n<!here>*CS-1*", "emoji": False}
    slack.event({"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "DU1"})
    home = fake.last("views.publish").params["view"]["blocks"]
    refs = [e for b in home for e in b.get("elements", []) if "CS-1" in str(e.get("text"))]
    assert refs and all(e["type"] == "plain_text" for e in refs)


def test_a_5000_character_field_gets_a_length_error_on_that_field(slack, fake):
    reach_referral(slack)
    slack.click("record_open")
    meta = fake.last("views.open").params["view"]["private_metadata"]
    errors = slack.submit_record({"decision": "shared", "what": "x" * 5000, "reasons": "risk",
                                  "case_reference": "y" * 61}, meta).json()["errors"]
    assert errors["what"] == ("Too long: 5000 characters, the limit is 1000. Keep it short and general.")
    assert "the limit is 60" in errors["case_reference"] and "decision" not in errors
    assert decisions(slack.storage) == []


def test_injections_in_the_resolved_note_reach_the_card_and_the_dm_as_text(slack, fake):
    reach_referral(slack)
    slack.click("dsl_resolve", user=DSL, message=card_message(fake))
    view = fake.last("views.open").params["view"]
    too_long = slack.submit_modal(view, {"note": "z" * 5000}, user=DSL).json()["errors"]
    assert "Too long: 5000 characters, the limit is 500" in too_long["note"]
    note = "<https://evil.example|Click> <!channel> *done*\u202e"
    assert slack.submit_modal(view, {"note": note}, user=DSL).body == ""
    cleaned = "<https://evil.example|Click> <!channel> *done*"
    status = [b for b in card_message(fake)["blocks"] if b["type"] == "rich_text"][0]
    texts = [e for e in status["elements"][0]["elements"] if e["type"] == "text"]
    assert cleaned in "".join(e["text"] for e in texts)  # literal rich text: never a link or mention
    # the person who raised it is told it was closed, never the note (the closed loop has no details)
    [dm] = [c for c in dms_to(fake, "U1") if "looked at and closed" in c.params["text"]]
    assert "evil.example" not in json.dumps(dm.params) and "channel" not in dm.params["text"]


def test_a_dm_warning_names_the_kind_and_a_mask_never_the_identifier(slack, fake):
    slack.dm("it's about Jane Smith, NHS 943 476 5919, <!channel>")
    [warning] = [c for c in fake.of("chat.postMessage") if "identifying details" in c.params.get("text", "")]
    text = warning.params["text"]
    assert "an NHS number ending 919" in text and "a person's name" in text
    assert "Jane" not in text and "943 476" not in text and "<!channel>" not in text


def test_the_dsl_card_never_renders_typed_text_as_markup(slack, fake):
    reach_referral(slack)
    blocks = card_message(fake)["blocks"]
    assert "<!" not in text_of(blocks).replace("<!subteam", "")
    assert {"dsl_claim", "dsl_resolve", "dsl_more_info"} <= set(actions_in(blocks))


def test_socket_mode_requests_from_another_workspace_are_refused_too(slack, fake):
    """Socket Mode has no HTTP gate: the workspace check also runs inside Bolt."""
    from slack_bolt.request import BoltRequest

    body = urlencode({"command": "/canishare", "text": "", "user_id": DSL, "channel_id": "C1",
                      "team_id": "TOTHER", "trigger_id": "trig-socket"})
    response = slack.bolt.dispatch(BoltRequest(body=body, headers=FORM | signed(body), mode="socket_mode"))
    assert response.status == 403 and calls_after_startup(fake) == []
    with slack.storage.read() as tx:
        assert any("another workspace: team_id=TOTHER" in r["detail"] for r in tx.audit.rows("refused"))
