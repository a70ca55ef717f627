"""Teams load benchmark (skeleton): a bare teams.py app that only answers invokes, served by
uvicorn in its own process, driven over loopback with real signed tokens (RS256, validated
against the fake key set in tests/fakes/teams_service.py). Reports invoke latency p50/p95/p99
and throughput. Bounded in requests and time; loopback only.

The canishare side (complete checks against `canishare teams serve`, click-to-updated-card via
the fake's PUT records, the 1.5x p99 goal) is added once the Teams channel is wired to the core:
`--target canishare` says so and exits.

    .venv/bin/python bench/teams_load.py --users 10 --invokes 20
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.channels.teams  # noqa: E402,F401 - quiets the SDK's import-time warnings
from tests.fakes.teams_service import CLIENT_ID, TENANT_ID, FakeTeamsService, new_user_id  # noqa: E402
from tests.teams_harness import personal_activity  # noqa: E402

BARE_CARD = {"type": "AdaptiveCard", "version": "1.5",
             "body": [{"type": "TextBlock", "text": "ok", "wrap": True}]}


# --- the bare app (runs in the server process) ----------------------------------------------------
def register_bare(app: Any) -> None:
    """Handlers that only answer: the floor canishare's invoke latency is compared with."""

    @app.on_card_action_execute
    async def _answer(ctx: Any) -> dict[str, Any]:
        return {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": BARE_CARD}


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


# --- the driver --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bare(fake: FakeTeamsService) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEAMS_", "CANISHARE_", "DANGEROUSLY_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port),
                             "--metadata", fake.openid_metadata_url], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the bare Teams app exited during start-up") from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the bare Teams app did not start in 60 s")


def invoke_body(fake: FakeTeamsService, user: str, number: int) -> bytes:
    activity = personal_activity(fake, user, kind="invoke", name="adaptiveCard/action",
                                 value={"action": {"type": "Action.Execute", "verb": "answer",
                                                   "data": {"c": user[:8], "v": number, "action": "answer"}}})
    activity["id"] = f"bench-{user[:8]}-{number}"
    return json.dumps(activity).encode()


def one_user(url: str, fake: FakeTeamsService, invokes: int, deadline: float) -> tuple[list[float], int]:
    user, token = new_user_id(), fake.mint()
    latencies, errors = [], 0
    for number in range(invokes):
        if time.monotonic() > deadline:
            break
        request = urllib.request.Request(url + "/api/messages", data=invoke_body(fake, user, number),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                body = json.loads(response.read())
                ok = response.status == 200 and body.get("value")
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            ok = False
        latencies.append(time.perf_counter() - started)
        errors += 0 if ok else 1
    return latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_load(url: str, fake: FakeTeamsService, users: int, invokes: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        results = list(pool.map(lambda _: one_user(url, fake, invokes, deadline), range(users)))
    elapsed = time.perf_counter() - started
    latencies = [v for lat, _ in results for v in lat]
    errors = sum(err for _, err in results)
    if not latencies:
        return {"requests": 0, "errors": errors}
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=["bare", "canishare"], default="bare")
    parser.add_argument("--users", type=int, default=10, help="concurrent users (default 10)")
    parser.add_argument("--invokes", type=int, default=20, help="invokes per user (default 20)")
    parser.add_argument("--seconds", type=float, default=60, help="stop after this long (default 60)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed invokes first (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--metadata", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.metadata)
        return 0
    if args.target == "canishare":
        print("the canishare side is added once `canishare teams serve` is wired to the core",
              file=sys.stderr)
        return 2
    if not (1 <= args.users <= 100 and 1 <= args.invokes <= 10_000 and 0 < args.seconds <= 600):
        parser.error("keep it bounded: 1-100 users, 1-10000 invokes each, at most 600 s")
    fake = FakeTeamsService(client_id=CLIENT_ID).start()
    proc, url = start_bare(fake)
    try:
        one_user(url, fake, args.warmup, time.monotonic() + 30)  # key fetch, connection set-up
        figures = run_load(url, fake, args.users, args.invokes, args.seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        fake.stop()
    figures = {"target": "bare teams.py app", "users": args.users, **figures}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['target']}: {figures.get('requests', 0)} invokes by {args.users} users, "
              f"{figures.get('errors', 0)} errors, {figures.get('per_second', 0)}/s; latency "
              f"p50 {figures.get('p50_ms')} ms, p95 {figures.get('p95_ms')} ms, "
              f"p99 {figures.get('p99_ms')} ms")
    return 0 if figures.get("errors", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
