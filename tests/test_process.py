"""Crash tests with real processes: `canishare slack` under gunicorn and `canishare clock`, killed
with SIGKILL at chosen moments (the fake Slack holds the call in flight, so the moment is exact),
then restarted. Nothing is lost: the card is delivered, a reminder is sent at most twice, the
weekly export is posted once; two clock processes at once send one set of messages."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import SYSTEM_CLOCK, FrozenClock
from bot.dsl.model import DeliveryKind
from bot.storage import Storage
from tests.conftest import clean_env
from tests.slack_harness import SECRET, SignedClient
from tests.test_slack import FAMILY_MAY_BE_INVOLVED, TO_REFERRAL

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
DSL_ENV = {"CANISHARE_DSL_CHANNEL": "CDSL", "CANISHARE_DSL_USER_IDS": "UDSL",
           "CANISHARE_DEPUTY_DSL_USER_IDS": "UDEP", "CANISHARE_DELIVERY_LEASE_SECONDS": "1",
           "CANISHARE_CLOCK_INTERVAL": "0.2"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    def __init__(self, fake, db: Path, tmp_path: Path):
        self.env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                             SLACK_API_BASE_URL=fake.base_url, CANISHARE_DATABASE=str(db), **DSL_ENV)
        self.cwd, self.running = tmp_path, []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        log = open(self.cwd / f"{args[0]}-{len(self.running)}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "bot", *args], env={**self.env, **env}, cwd=self.cwd,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(proc)
        return proc

    def web(self) -> str:
        port = free_port()
        self.start("slack", PORT=str(port), WEB_CONCURRENCY="1")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                    if response.read() == b"ok":
                        return url + "/slack/events"
            except OSError:
                time.sleep(0.1)
        raise AssertionError("canishare slack did not start: " + self.logs())

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: gunicorn's master and its worker
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(proc)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.cwd.glob("*.log")))


@pytest.fixture
def procs(fake, tmp_path):
    db = tmp_path / "proc.db"
    Storage(db).close()
    running = Processes(fake, db, tmp_path)
    yield running
    running.stop_all()


def wait_until(predicate, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def card_posts(fake):
    return fake.posts_to("CDSL", thread=False)


def seed_escalations(db: Path, count: int, minutes_ago: int = 30) -> None:
    """Escalations raised a while ago whose cards are in the channel and whose reminders are due."""
    clock = FrozenClock(SYSTEM_CLOCK.now() - timedelta(minutes=minutes_ago))
    storage = Storage(db, clock)
    with storage.transaction() as tx:
        for n in range(1, count + 1):
            escalation_id = tx.escalations.create(
                f"seed:{n}", channel="slack", requester=f"U{n}", conversation_id=f"c{n}", kind="outcome",
                urgency="urgent", next_reminder_at=clock.now() + timedelta(minutes=10))
            tx.escalations.set_card(escalation_id, "delivered", {"channel": "CDSL", "ts": f"1.{n}"})
    storage.close()


def test_killed_after_the_final_answer_is_saved_and_before_the_card(procs, fake, tmp_path):
    client = SignedClient(procs.web(), fake)
    fake.fail("chat.postMessage", "hold", when=lambda p: p.get("channel") == "CDSL")
    client.command()
    wait_until(lambda: fake.of("chat.postMessage"), what="the first question")
    for action in TO_REFERRAL:
        before = len(fake.of("chat.update"))
        assert client.click(action).status == 200
        wait_until(lambda b=before: len(fake.of("chat.update")) > b, what=action)
    before = len(fake.of("chat.update"))
    assert client.click("multi_continue", picked=["sexual_abuse"]).status == 200
    wait_until(lambda: len(fake.of("chat.update")) > before, what="the last question")
    assert client.click(FAMILY_MAY_BE_INVOLVED).status == 200  # the final answer (guidance edition 2)
    assert fake.held.wait(20), procs.logs()
    procs.kill(procs.running[0])  # the web process dies holding the card post
    assert not card_posts(fake)
    with Storage(tmp_path / "proc.db").read() as tx:
        [card] = tx.outbox.for_escalation(1)
    assert card.kind is DeliveryKind.card and card.status.value == "pending"
    fake.failures.clear()
    procs.start("clock")  # after a restart the clock delivers it
    wait_until(lambda: card_posts(fake), what="the card after the restart")
    time.sleep(1.5)  # a few more ticks: nothing is sent twice
    assert len(card_posts(fake)) == 1


def test_killed_after_a_reminder_post_and_before_its_row_is_updated(procs, fake, tmp_path):
    seed_escalations(tmp_path / "proc.db", 1)
    reminders = lambda: [c for c in fake.posts_to("CDSL", thread=True) if "Reminder" in c.params["text"]]  # noqa: E731
    fake.fail("chat.postMessage", "hold_after", when=lambda p: "Reminder" in (p.get("text") or ""))
    clock = procs.start("clock")
    assert fake.held.wait(20), procs.logs()
    procs.kill(clock)  # the reminder reached Slack; its row was never updated
    assert len(reminders()) == 1
    procs.start("clock")
    storage = Storage(tmp_path / "proc.db")

    def delivered() -> bool:
        with storage.read() as tx:
            row = tx.outbox.by_key("reminder:1:1")
            return row is not None and row.status.value == "delivered"

    wait_until(delivered, what="the reminder delivered after the restart")
    time.sleep(1.0)
    assert 1 <= len(reminders()) <= 2  # at most one repeat, never none


def test_killed_before_the_weekly_upload(procs, fake, tmp_path):
    fake.fail("files.getUploadURLExternal", "hold")
    clock = procs.start("clock")  # the last full week's export is due at once (caught up)
    assert fake.held.wait(20), procs.logs()
    procs.kill(clock)
    fake.failures.clear()
    procs.start("clock")
    wait_until(lambda: fake.of("files.completeUploadExternal"), what="the weekly upload after the restart")
    time.sleep(1.5)
    assert len(fake.of("files.completeUploadExternal")) == 1


def test_two_clock_processes_send_one_set_of_messages(procs, fake, tmp_path):
    seed_escalations(tmp_path / "proc.db", 3)
    procs.start("clock")
    procs.start("clock")
    reminders = lambda: [c for c in fake.posts_to("CDSL", thread=True) if "Reminder" in c.params["text"]]  # noqa: E731
    wait_until(lambda: len(reminders()) >= 3 and fake.of("files.completeUploadExternal"),
               what="reminders and the weekly export")
    time.sleep(2.0)  # both clocks keep ticking: still one set
    assert sorted(c.params["text"].split("#")[1].split()[0] for c in reminders()) == ["1", "2", "3"]
    assert len(fake.of("files.completeUploadExternal")) == 1
