"""Deliveries need no extra process (issue 20.4): `canishare slack` alone, with no `canishare
clock`, retries a card whose first post failed, and tells the person who read "not reached yet"
once it lands; `/readyz` says the clock is missing meanwhile. Real processes, a fake Slack."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import pytest

from tests.slack_harness import SignedClient
from tests.test_process import card_posts, procs, wait_until  # noqa: F401, F811 - procs is a fixture
from tests.test_slack import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")


def updates_to(fake, user: str) -> list:
    return [c for c in fake.of("chat.postMessage") if c.params.get("channel") in (user, f"D{user}")
            and "Update on your escalation" in (c.params.get("text") or "")]


def test_the_web_process_alone_retries_the_card_and_tells_the_person(procs, fake):  # noqa: F811
    url = procs.web()
    client = SignedClient(url, fake)
    fake.fail("chat.postMessage", "500", when=lambda p: p.get("channel") == "CDSL" and not p.get("thread_ts"))
    client.command()
    wait_until(lambda: fake.of("chat.postMessage"), what="the first question")
    for action in [*TO_REFERRAL, "multi_continue", FAMILY_MAY_BE_INVOLVED]:
        before = len(fake.of("chat.update"))
        picked = ["sexual_abuse"] if action == "multi_continue" else None
        assert client.click(action, picked=picked).status == 200
        wait_until(lambda b=before: len(fake.of("chat.update")) > b, what=action)
    wait_until(lambda: "We have not reached your DSLs yet" in str(fake.last("chat.update").params["blocks"]),
               what="the person told the truth: not reached yet")
    assert not card_posts(fake)
    wait_until(lambda: card_posts(fake), what="the card, retried by the web process itself")
    wait_until(lambda: updates_to(fake, "U1"), what="the person told the card has landed")
    [update] = updates_to(fake, "U1")
    assert "your DSLs have now been alerted in their channel" in update.params["text"]
    assert len(card_posts(fake)) == 1
    base = url.rsplit("/slack/events", 1)[0]
    try:
        urllib.request.urlopen(base + "/readyz", timeout=5)
        raise AssertionError("ready without a clock")
    except urllib.error.HTTPError as error:
        assert error.code == 503 and "FAIL clock" in error.read().decode()
