"""Several machines' worth of processes on one PostgreSQL: two `canishare slack` web processes and
two `canishare clock` processes, a bounded load of complete checks with escalations and recorded
decisions. Zero duplicate decisions, cards, reminders or exports; the log verifies."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.core.clock import SYSTEM_CLOCK, FrozenClock
from bot.storage import Key, Keyring, Storage
from tests.conftest import clean_env
from tests.slack_harness import SignedClient
from tests.test_process import DSL_ENV, Processes, wait_until
from tests.test_slack import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL

KEY = "k1:" + "p" * 40
USERS = [f"UP{n}" for n in range(6)]


def drive(client: SignedClient, fake, user: str) -> None:
    """One complete check and its recorded decision, waiting for each redraw like a person."""
    def updates() -> int:
        return len([c for c in fake.of("chat.postMessage") + fake.of("chat.update")
                    if c.params.get("channel") == f"D{user}" and "blocks" in c.params
                    and not c.params.get("thread_ts")])

    client.command(user=user)
    wait_until(lambda: updates() >= 1, what=f"{user}'s first question")
    for action in [*TO_REFERRAL, "multi_continue", FAMILY_MAY_BE_INVOLVED]:
        before = updates()
        picked = ["sexual_abuse"] if action == "multi_continue" else None
        assert client.click(action, user=user, message=client.last_message(user), picked=picked).status == 200
        wait_until(lambda b=before: updates() > b, what=f"{user} after {action}")
    trigger = f"open-{user}"
    client.click("record_open", user=user, message=client.last_message(user), trigger=trigger)
    wait_until(lambda: any(c.params.get("trigger_id") == trigger for c in fake.of("views.open")),
               what=f"{user}'s record form")
    meta = next(c.params["view"]["private_metadata"] for c in fake.of("views.open")
                if c.params.get("trigger_id") == trigger)
    response = client.submit_record({"decision": "shared", "what": "summary of concerns", "reasons": "risk"},
                                    meta, user=user)
    assert response.status == 200


def test_two_web_and_two_clock_processes_on_one_postgresql(fake, postgres, tmp_path):
    url = postgres.create_database()
    keyring = Keyring(Key.parse(KEY))
    seeded = Storage(url, FrozenClock(SYSTEM_CLOCK.now() - timedelta(minutes=30)), keyring=keyring)
    with seeded.transaction() as tx:  # three older escalations whose reminders are due now
        for n in range(1, 4):
            escalation_id = tx.escalations.create(f"seed:{n}", channel="slack", requester=f"US{n}",
                                                  conversation_id=f"s{n}", kind="outcome", urgency="urgent",
                                                  next_reminder_at=seeded.clock.now() + timedelta(minutes=10))
            tx.escalations.set_card(escalation_id, "delivered", {"channel": "CDSL", "ts": f"1.{n}"})
    seeded.close()
    procs = Processes(fake, tmp_path / "unused.db", tmp_path)
    procs.env.update(CANISHARE_DATABASE=url, CANISHARE_LOG_KEY=KEY)
    try:
        web = [procs.web(), procs.web()]
        procs.start("clock")
        procs.start("clock")
        clients = [SignedClient(web[n % 2], fake) for n in range(len(USERS))]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda pair: drive(pair[0], fake, pair[1]), zip(clients, USERS, strict=True)))
        reminders = lambda: [c for c in fake.posts_to("CDSL", thread=True) if "Reminder" in c.params["text"]]  # noqa: E731
        wait_until(lambda: len(reminders()) >= 3 and fake.of("files.completeUploadExternal"),
                   what="reminders and the weekly export")
        time.sleep(2.0)  # both clocks keep ticking: still one set
        cards = fake.posts_to("CDSL", thread=False)
        assert sorted(c.params["text"].split("<@")[1].rstrip(">") for c in cards) == sorted(USERS)
        assert sorted(c.params["text"].split("#")[1].split()[0] for c in reminders()) == ["1", "2", "3"]
        assert len(fake.of("files.completeUploadExternal")) == 1
    finally:
        procs.stop_all()
    store = Storage(url, keyring=keyring)
    with store.read() as tx:
        rows = list(tx.decisions.iter())
        report = tx.verify()
    store.close()
    assert sorted(r["user_id"] for r in rows) == sorted(USERS)  # one decision each, none twice
    assert report.ok, report.problems
    verified = subprocess.run([sys.executable, "-m", "bot", "log", "verify"], capture_output=True, text=True,
                              env=clean_env(DATABASE_URL=url, CANISHARE_LOG_KEY=KEY), timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert DSL_ENV  # the same DSL settings as the single-machine crash tests
