"""Teams load benchmark: complete checks against `canishare teams` (the real channel over the
core, SQLite, the DSL desk posting escalation cards), then the same request mix at the same rate
against a bare teams.py app whose only handler answers every invoke with a fixed card. Both are
served by uvicorn in their own process and driven over loopback with real signed tokens (RS256,
validated against the fake key set in tests/fakes/teams_service.py). Bounded in requests and time.

Reports invoke latency p50/p95/p99 and throughput for both, their p99 ratio, and for canishare
click-to-updated-card: from sending a click until the fake Bot Connector has the new card written
into the person's message (the PUT that updates every device).

    .venv/bin/python bench/teams_load.py --users 10 --checks 3 [--rate 20]
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
    asyncio.run(serve(config, bot.register, host="127.0.0.1", token=outbound))


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
    parser.add_argument("--seconds", type=float, default=120, help="stop after this long (default 120)")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=["bare", "canishare"], help=argparse.SUPPRESS)
    parser.add_argument("--metadata", help=argparse.SUPPRESS)
    parser.add_argument("--service-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true",
                        help="2 people, 1 check each, results not saved: proves the benchmark still "
                             "runs (make test)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.checks, args.seconds = 2, 1, 60
    if args.serve == "bare":
        serve_bare(args.port, args.metadata)
        return 0
    if args.serve == "canishare":
        serve_canishare(args.port, args.metadata, args.service_url, args.token, args.db)
        return 0
    if not (1 <= args.users <= 100 and 1 <= args.checks <= 50 and 0 < args.seconds <= 600):
        parser.error("keep it bounded: 1-100 users, 1-50 checks each, at most 600 s")
    fake = FakeTeamsService(client_id=CLIENT_ID).start()
    fake.add_team(DSL_TEAM_ID, [Member(new_user_id(), "Dee Lead")])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(["--serve", "canishare", "--metadata", fake.openid_metadata_url,
                           "--service-url", fake.service_url, "--token", fake.mint_outbound(),
                           "--db", str(Path(tmp) / "bench.db")])
        try:
            Driver(url, fake, Pacer(None)).check(new_user_id(), 0, True)  # key fetch, first connections
            time.sleep(1.0)  # its last card write
            fake.reset()
            fake.add_team(DSL_TEAM_ID, [Member(new_user_id(), "Dee Lead")])
            driver = Driver(url, fake, Pacer(args.rate))
            elapsed = run(driver, args.users, args.checks, True, args.seconds)
            time.sleep(1.0)  # let the last background card writes land before reading the fake
            canishare = figures("canishare teams", driver.invokes, elapsed, driver.errors)
            updates = card_updates(fake, driver.clicks)
            if updates:
                canishare["click_to_updated_card_p50_ms"] = round(percentile(updates, 50) * 1000, 1)
                canishare["click_to_updated_card_p99_ms"] = round(percentile(updates, 99) * 1000, 1)
            canishare["escalation_cards"] = len(fake.activities_in(DSL_CHANNEL_ID))
            results.append(canishare)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        proc, url = start(["--serve", "bare", "--metadata", fake.openid_metadata_url])
        try:
            Driver(url, fake, Pacer(None)).check(new_user_id(), 0, False)
            bare_driver = Driver(url, fake, Pacer(canishare.get("per_second")))  # the same load
            elapsed = run(bare_driver, args.users, args.checks, False, args.seconds)
            results.append(figures("bare teams.py app", bare_driver.invokes, elapsed, bare_driver.errors))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    fake.stop()
    ratio = results[0].get("p99_ms", 0) / max(results[1].get("p99_ms", 0), 0.001)
    report = {"users": args.users, "checks": args.users * args.checks, "rate_rps": args.rate,
              "results": results, "invoke_p99_ratio": round(ratio, 2),
              "goal": "invoke p99 within 1.5x the bare app's at the same load"}
    print(json.dumps(report, indent=2))
    ok = all(r.get("errors", 1) == 0 for r in results)
    if args.smoke:
        return 0 if ok and results[0].get("escalation_cards") else 1
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "teams_load.json").write_text(json.dumps(report, indent=2))
    return 0 if all(r.get("errors", 1) == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
