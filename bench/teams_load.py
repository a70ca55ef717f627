"""Teams load benchmark: complete checks against `canishare teams` (the real channel over the
core, SQLite, the DSL desk posting escalation cards), then the same request mix at the same rate
against a bare teams.py app whose only handler answers every invoke with a fixed card. Both are
served by uvicorn in their own process and driven over loopback with real signed tokens (RS256,
validated against the fake key set in tests/fakes/teams_service.py). Bounded in requests and time.

The two are interleaved (canishare, bare, ... `--pairs` times, both servers up throughout) and
medians of the runs reported. Reports invoke latency p50/p95/p99 and throughput for both, their p99
ratio, and for canishare click-to-updated-card (from sending a click until the fake Bot Connector
has the new card written into the person's message) and final click to escalation card. Then,
with no clock running, a card whose first post fails: the time to the card and to the person's
corrected message (the web process's own delivery loop).

    .venv/bin/python bench/teams_load.py --rate 10 --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.channels.teams  # noqa: E402,F401 - quiets the SDK's import-time warnings
from tests.fakes.teams_service import (  # noqa: E402
    CLIENT_ID,
    DSL_CHANNEL_ID,
    DSL_TEAM_ID,
    TENANT_ID,
    FakeTeamsService,
    Member,
    new_user_id,
)
from tests.teams_harness import personal_activity  # noqa: E402

CARD = "application/vnd.microsoft.card.adaptive"
BARE_CARD = {"type": "AdaptiveCard", "version": "1.5",
             "body": [{"type": "TextBlock", "text": "ok", "wrap": True}]}
# A complete check to an urgent referral (an escalation card is posted on the last click).
CLICKS = ["no", "england", "public_body", "teacher", "share_concern", "child", "childrens_social_care",
          "observations_disclosures", "significant_harm"]
MULTI = "physical_abuse_by_carer"


# --- the servers (each runs in its own process) ----------------------------------------------------
def register_bare(app: Any) -> None:
    """Handlers that only answer: the floor canishare's invoke latency is compared with."""

    @app.on_card_action_execute
    async def _answer(ctx: Any) -> dict[str, Any]:
        return {"statusCode": 200, "type": CARD, "value": BARE_CARD}


def serve_bare(port: int, metadata_url: str) -> None:
    """Plain teams.py on uvicorn: none of canishare's server code, so it is the SDK's floor."""
    import asyncio

    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse
    from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides
    from microsoft_teams.apps import App
    from microsoft_teams.apps.http import FastAPIAdapter

    async def main() -> None:
        api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        api.get("/healthz")(lambda: PlainTextResponse("ok"))
        never_called = "x.y.z"  # the bare app sends nothing, so it never needs an outbound token
        app = App(client_id=CLIENT_ID, tenant_id=TENANT_ID, token=lambda scope, tenant: never_called,
                  cloud=with_overrides(PUBLIC, openid_metadata_url=metadata_url),
                  dangerously_allow_unauthenticated_requests=False, state=False,
                  http_server_adapter=FastAPIAdapter(app=api))
        register_bare(app)
        await app.initialize()
        config = uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        await uvicorn.Server(config).serve()

    asyncio.run(main())


def serve_canishare(port: int, metadata_url: str, service_url: str, token: str, db: str) -> None:
    """`canishare teams serve` as the CLI builds it (composition root, settings checked, DSL desk),
    except that outbound calls carry a token the fake minted instead of an Entra one."""
    import asyncio

    from bot.channels.teams.app import build_bot
    from bot.channels.teams.config import teams_config
    from bot.channels.teams.server import serve
    from bot.services import Services
    from bot.settings import Settings

    settings = Settings(database=db, teams_client_id=CLIENT_ID, teams_client_secret="bench-unused",
                        teams_tenant_id=TENANT_ID, teams_dsl_team_id=DSL_TEAM_ID,
                        teams_dsl_channel_id=DSL_CHANNEL_ID, teams_openid_metadata_url=metadata_url,
                        teams_service_url=service_url, teams_port=port)

    def outbound(scope: str, tenant: str | None) -> str:
        return token

    services = Services(settings, teams_token=outbound)
    config = teams_config(settings)
    bot = build_bot(services, config)
    deliveries = services.delivery_loop()  # as `canishare teams serve`: retries without a clock
    if deliveries is not None:
        deliveries.start()
    asyncio.run(serve(config, bot.register, host="127.0.0.1", token=outbound, readiness=services.readiness))


# --- the driver --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEAMS_", "CANISHARE_", "DANGEROUSLY_", "SLACK_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", str(port), *args],
                            env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the Teams app ({args[0]}) exited during start-up") from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the Teams app did not start in 60 s")


class Pacer:
    """Spaces requests evenly at `rate` per second across all threads (None: as fast as possible)."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.perf_counter()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            slot = self.next = max(self.next + self.interval, time.perf_counter())
        delay = slot - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


class Driver:
    def __init__(self, url: str, fake: FakeTeamsService, pacer: Pacer):
        self.url, self.fake, self.pacer = url, fake, pacer
        self.token = fake.mint()
        self.invokes: list[float] = []
        self.clicks: list[tuple[str, str, int, float]] = []  # (user, message id, version, sent at)
        self.finals: dict[str, float] = {}  # user -> when their check's final (alerting) click was sent
        self.errors = 0
        self.lock = threading.Lock()

    def post(self, activity: dict[str, Any]) -> tuple[float, float, Any]:
        """(sent at, latency, body) of one signed POST."""
        self.pacer.wait()
        request = urllib.request.Request(self.url + "/api/messages", data=json.dumps(activity).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": f"Bearer {self.token}"})
        sent = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                raw = response.read()
                ok = response.status == 200
        except (urllib.error.URLError, OSError):
            raw, ok = b"", False
        latency = time.perf_counter() - sent
        if not ok:
            with self.lock:
                self.errors += 1
        try:
            return sent, latency, json.loads(raw) if raw else None
        except ValueError:
            return sent, latency, None

    def check(self, user: str, number: int, canishare: bool) -> None:
        """One complete check: a message, then every click to the outcome."""
        message = personal_activity(self.fake, user, text="restart")
        message["id"] = f"m-{user}-{number}"
        self.post(message)
        card, message_id = None, ""
        if canishare:
            found = [a for a in self.fake.activities_in(f"a:personal-{user}") if a.get("attachments")]
            if not found:
                with self.lock:
                    self.errors += 1
                return
            message_id, card = found[-1]["id"], found[-1]["attachments"][0]["content"]
        for step, answer in enumerate([*CLICKS, MULTI]):
            multi = answer == MULTI
            data: dict[str, Any] = {"c": user[:8], "v": step, "a": answer}
            if card is not None:
                wanted = "multi_continue" if multi else "answer"
                data = next(a["data"] for a in _actions(card) if a.get("verb") == wanted
                            and (multi or a["data"].get("a") == answer))
            value = {"action": {"type": "Action.Execute", "verb": "multi_continue" if multi else "answer",
                                "data": {**data, **({"answer": MULTI} if multi else {})}}}
            invoke = personal_activity(self.fake, user, kind="invoke", name="adaptiveCard/action",
                                       value=value, replyToId=message_id or "1")
            invoke["id"] = f"i-{user}-{number}-{step}"
            sent, latency, body = self.post(invoke)
            with self.lock:
                self.invokes.append(latency)
                self.finals[user] = sent
            if not (body and body.get("value")):
                with self.lock:
                    self.errors += 1
                return
            if canishare:
                card = body["value"] if body.get("type") == CARD else card
                version = int(next(a["data"]["v"] for a in _actions(card) if "v" in a["data"]))
                with self.lock:
                    self.clicks.append((user, message_id, version, sent))


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def card_updates(fake: FakeTeamsService, clicks: list[tuple[str, str, int, float]]) -> list[float]:
    """For each click: seconds until the fake received the PUT carrying that click's card."""
    puts: dict[tuple[str, int], float] = {}
    for call in fake.calls_to("PUT", r"/conversations/a:personal-.*/activities/"):
        try:
            card = call.body["attachments"][0]["content"]
            version = int(next(a["data"]["v"] for a in _actions(card) if "v" in a["data"]))
        except (KeyError, IndexError, TypeError, StopIteration, ValueError):
            continue
        message = call.path.rsplit("/", 1)[-1]
        puts.setdefault((message, version), call.at)
    return [puts[(m, v)] - sent for _, m, v, sent in clicks if (m, v) in puts]


def arrivals(fake: FakeTeamsService, conversation: str, contains: str) -> list[tuple[float, str]]:
    """(when it arrived, its body as text) of every message posted in `conversation`."""
    pattern = rf"/conversations/{conversation}/activities$"
    posted = [(c.at, json.dumps(c.body)) for c in fake.calls_to("POST", pattern) if c.status < 300]
    return [(at, body) for at, body in posted if contains in body]


def final_click_to_card(fake: FakeTeamsService, finals: dict[str, float]) -> list[float]:
    """For each person: seconds from their alerting click to their escalation card in the DSL channel."""
    cards = arrivals(fake, DSL_CHANNEL_ID, "escalation #")
    found = []
    for user, sent in finals.items():
        times = [at for at, body in cards if user in body and at > sent]
        if times:
            found.append(min(times) - sent)
    return found


DELIVERY_INTERVAL = 10.0  # CANISHARE_CLOCK_INTERVAL's default: the web process's delivery loop
LATENCY_KEYS = ("p50_ms", "p95_ms", "p99_ms")


def corrected_after_failure(url: str, fake: FakeTeamsService, tries: int) -> dict[str, Any]:
    """The card's first post fails (HTTP 500), no clock runs: the web process's delivery loop
    retries it and the person, told "not reached yet", is told it landed. From the final click
    to the card and to that corrected message."""
    cards, corrected = [], []
    for n in range(tries):
        driver = Driver(url, fake, Pacer(None))
        user = new_user_id()
        fake.fail("POST", rf"/conversations/{DSL_CHANNEL_ID}/activities$", 500, times=1)
        driver.check(user, n, True)
        final = driver.finals[user]
        deadline = time.monotonic() + 4 * DELIVERY_INTERVAL
        told: list[float] = []
        while time.monotonic() < deadline and not told:
            time.sleep(0.05)
            told = [at for at, _ in arrivals(fake, f"a:personal-{user}", "Update on your escalation")]
        if not told:
            raise SystemExit(f"person {n} was never told their card landed")
        corrected.append(told[0] - final)
        cards += final_click_to_card(fake, {user: final})
    return {"tries": tries, "delivery_interval_s": DELIVERY_INTERVAL, "clock_running": False,
            "card_s": [round(t, 1) for t in cards], "corrected_message_s": [round(t, 1) for t in corrected],
            "corrected_message_p99_s": round(percentile(corrected, 99), 1),
            "goal": f"corrected message p99 < {2 * DELIVERY_INTERVAL:g} s (two delivery intervals)"}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def one_pair(pair: int, url: str, bare_url: str, fake: FakeTeamsService, args: argparse.Namespace) -> dict:
    """canishare at the rate asked, then the bare app at the same rate: one A B pair."""
    fake.reset()
    fake.add_team(DSL_TEAM_ID, [Member(new_user_id(), "Dee Lead")])
    driver = Driver(url, fake, Pacer(args.rate))
    elapsed = run(driver, args.users, args.checks, True, args.seconds)
    time.sleep(1.0)  # let the last background card writes land before reading the fake
    canishare = figures("canishare teams", driver.invokes, elapsed, driver.errors)
    updates = card_updates(fake, driver.clicks)
    if updates:
        canishare["click_to_updated_card_p99_ms"] = round(percentile(updates, 99) * 1000, 1)
    to_card = final_click_to_card(fake, driver.finals)
    canishare["escalation_cards"] = len(to_card)
    if to_card:
        canishare["final_click_to_card_p50_ms"] = round(percentile(to_card, 50) * 1000, 1)
        canishare["final_click_to_card_p99_ms"] = round(percentile(to_card, 99) * 1000, 1)
    bare_driver = Driver(bare_url, fake, Pacer(args.rate or canishare.get("per_second")))  # the same load
    elapsed = run(bare_driver, args.users, args.checks, False, args.seconds)
    bare = figures("bare teams.py app", bare_driver.invokes, elapsed, bare_driver.errors)
    return {"pair": pair + 1, "canishare": canishare, "bare": bare,
            "invoke_p99_ratio": round(canishare.get("p99_ms", 0) / max(bare.get("p99_ms", 0), 0.001), 2)}


def run(driver: Driver, users: int, checks: int, canishare: bool, seconds: float) -> float:
    """`users` people at once, each doing `checks` checks one after another (each check as a new
    person, so no remembered profile shortens the later ones)."""
    deadline = time.monotonic() + seconds
    people = [[new_user_id() for _ in range(checks)] for _ in range(users)]

    def person(identities: list[str]) -> None:
        for number, user in enumerate(identities):
            if time.monotonic() > deadline:
                return
            driver.check(user, number, canishare)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(person, people))
    return time.perf_counter() - started


def figures(name: str, latencies: list[float], elapsed: float, errors: int) -> dict[str, Any]:
    if not latencies:
        return {"target": name, "invokes": 0, "errors": errors}
    return {"target": name, "invokes": len(latencies), "errors": errors,
            "per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10, help="concurrent people (default 10)")
    parser.add_argument("--checks", type=int, default=3, help="complete checks per person (default 3)")
    parser.add_argument("--rate", type=float, default=None,
                        help="requests/s for canishare (default: each person clicks as soon as the "
                             "card is back); the bare app is then driven at the rate canishare achieved")
    parser.add_argument("--seconds", type=float, default=120,
                        help="stop each run after this long (default 120)")
    parser.add_argument("--pairs", type=int, default=5,
                        help="interleaved runs, canishare then bare, A B A B (default 5)")
    parser.add_argument("--skip-retry", action="store_true", help="skip the card-after-a-failure run")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=["bare", "canishare"], help=argparse.SUPPRESS)
    parser.add_argument("--metadata", help=argparse.SUPPRESS)
    parser.add_argument("--service-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true",
                        help="2 people, 1 check each, 1 pair, no retry run, results not saved: "
                             "proves it still runs (make test)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.checks, args.seconds, args.pairs, args.skip_retry = 2, 1, 60, 1, True
    if args.serve == "bare":
        serve_bare(args.port, args.metadata)
        return 0
    if args.serve == "canishare":
        serve_canishare(args.port, args.metadata, args.service_url, args.token, args.db)
        return 0
    if not (1 <= args.users <= 100 and 1 <= args.checks <= 50 and 0 < args.seconds <= 600
            and 1 <= args.pairs <= 20):
        parser.error("keep it bounded: 1-100 users, 1-50 checks each, at most 600 s, 1-20 pairs")
    fake = FakeTeamsService(client_id=CLIENT_ID).start()
    fake.add_team(DSL_TEAM_ID, [Member(new_user_id(), "Dee Lead")])
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(["--serve", "canishare", "--metadata", fake.openid_metadata_url,
                           "--service-url", fake.service_url, "--token", fake.mint_outbound(),
                           "--db", str(Path(tmp) / "bench.db")])
        bare_proc, bare_url = start(["--serve", "bare", "--metadata", fake.openid_metadata_url])
        try:
            Driver(url, fake, Pacer(None)).check(new_user_id(), 0, True)  # key fetch, first connections
            Driver(bare_url, fake, Pacer(None)).check(new_user_id(), 0, False)
            time.sleep(1.0)  # the warm-up's last card write
            for pair in range(args.pairs):
                runs.append(one_pair(pair, url, bare_url, fake, args))
                print(json.dumps(runs[-1]), flush=True)
            fake.reset()
            fake.add_team(DSL_TEAM_ID, [Member(new_user_id(), "Dee Lead")])
            retried = None if args.skip_retry else corrected_after_failure(url, fake, 5)
        finally:
            for running in (proc, bare_proc):
                running.terminate()
                running.wait(timeout=10)
    fake.stop()

    def med(side: str, key: str) -> float:
        return round(median([r[side].get(key, 0) for r in runs]), 1)

    report = {"users": args.users, "checks_per_run": args.users * args.checks, "rate_rps": args.rate,
              "pairs": args.pairs,
              "medians": {
                  "canishare_invoke_p50_p95_p99_ms": [med("canishare", k) for k in LATENCY_KEYS],
                  "bare_invoke_p50_p95_p99_ms": [med("bare", k) for k in LATENCY_KEYS],
                  "invoke_p99_ratio": round(median([r["invoke_p99_ratio"] for r in runs]), 2),
                  "click_to_updated_card_p99_ms": med("canishare", "click_to_updated_card_p99_ms"),
                  "final_click_to_card_p99_ms": med("canishare", "final_click_to_card_p99_ms"),
                  "per_second": med("canishare", "per_second")},
              "runs": runs, "card_after_one_failed_post": retried,
              "goal": "invoke p99 within 1.5x the bare app's at the same load; final click to card p99 "
                      "< 1 s; corrected message p99 < 2 delivery intervals"}
    print(json.dumps(report, indent=2))
    ok = all(r[side].get("errors", 1) == 0 for r in runs for side in ("canishare", "bare"))
    if args.smoke:
        return 0 if ok and runs else 1
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "teams_load.json").write_text(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
