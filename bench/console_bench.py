"""Web console benchmark: each page's render time (p50, p95 over --requests requests, over real
HTTP, signed in as a DSL) with N generated decisions and M escalations, on SQLite and on
PostgreSQL, beside the floor of the same server answering /healthz.

    .venv/bin/python bench/console_bench.py [--decisions 1000000] [--escalations 50000]
                                            [--backends sqlite,postgresql] [--requests 30]

Decisions are spread over the two years up to now (so a term holds about a sixth of them);
the goal is a p95 under 300 ms for every page. `first_ms` is each page's first request: for the
trends and the report it includes counting the term's closed days once (`console_daily`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.clock import SYSTEM_CLOCK, iso  # noqa: E402
from bot.dsl.model import Kind, Urgency  # noqa: E402
from bot.storage import Storage  # noqa: E402
from tests.conftest import real_flows  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.web_harness import DSL, start_console  # noqa: E402

VERDICTS = ["refer_to_childrens_social_care", "share_with_consent", "do_not_share",
            "share_without_consent", "do_not_share_yet_seek_advice", "report_to_police"]
NATIONS, ORGS = ["england", "wales", "scotland", "northern_ireland"], ["public_body", "nhs_health",
                                                                       "charity_voluntary", "sports_club"]
CONCERNS = ["neglect", "physical_abuse", "emotional_abuse", "sexual_abuse", "domestic_abuse"]
CHOICES = ["shared", "not_shared", "deferred"]
PAGES = ["/queue", "/queue?status=claimed", "/queue?status=resolved", "/log", "/log?verdict=do_not_share",
         "/log?org_type=nhs_health&jurisdiction=wales", "/trends", "/report", "/integrity"]


def generate(storage: Storage, decisions: int, escalations: int, now: datetime) -> None:
    rng = random.Random(22)
    start = now - timedelta(days=730)
    step = timedelta(days=730) / max(decisions, 1)

    def row(n: int) -> dict:
        nation = NATIONS[rng.randrange(4)] if rng.random() < 0.2 else "england"
        return {"created_at": iso(start + step * n), "channel": "slack", "user_id": f"U{n % 500}",
                "conversation_id": f"c{n}", "flow_id": "can_i_share", "flow_version": "abc123",
                "guidance_edition": "3", "jurisdiction": nation,
                "answers": json.dumps({"jurisdiction": nation, "org_type": rng.choice(ORGS),
                                       "concern_type": rng.sample(CONCERNS, 1 + (n % 3 == 0))}),
                "outcome_id": f"O0{rng.randrange(1, 9)}", "verdict": rng.choice(VERDICTS),
                "consent_position": "given", "rules": json.dumps(["GR1", "GR6", "GR7"]),
                "gateways": json.dumps(["uk-gdpr-art6-1e"]), "dsl_alert": "routine",
                "decision": rng.choice(CHOICES), "what": "summary", "with_whom": "duty social worker",
                "purpose": "referral", "reasons": "risk of significant harm", "case_reference": "",
                "check_key": None, "secondary": "[]"}

    chunk = 100_000
    for first in range(0, decisions, chunk):
        with storage.transaction() as tx:
            tx.decisions.bulk_append(row(n) for n in range(first, min(first + chunk, decisions)))
    estep = timedelta(days=730) / max(escalations, 1)
    with storage.transaction() as tx:
        for n in range(escalations):
            created = start + estep * n
            state = "resolved" if n < escalations - 60 else ("claimed" if n % 2 else "open")
            values = {"status": state, "created_at": created}
            if state != "open":
                values.update(claimed_by=DSL, claimed_at=created + timedelta(minutes=rng.randrange(2, 90)))
            if state == "resolved":
                values.update(resolved_by=DSL, resolved_at=created + timedelta(hours=rng.randrange(1, 48)),
                              resolution_note="referred")
            tx.escalations.create(f"bench:{n}", channel="slack", requester=f"U{n % 500}",
                                  conversation_id=f"e{n}", kind=Kind.outcome,
                                  urgency=Urgency.urgent if n % 5 == 0 else Urgency.routine,
                                  flow_id="can_i_share", outcome_id="O04",
                                  verdict="refer_to_childrens_social_care", **values)


def measure(database: str, args: argparse.Namespace) -> dict:
    now = SYSTEM_CLOCK.now()
    began = time.perf_counter()
    storage = Storage(database, SYSTEM_CLOCK)
    generate(storage, args.decisions, args.escalations, now)
    storage.close()
    made = time.perf_counter() - began
    fake = FakeSlack().start()
    console = start_console(fake, real_flows(), database, SYSTEM_CLOCK)
    try:
        web = console.client()
        assert web.sign_in(DSL).status_code == 303
        timings: dict[str, dict[str, float]] = {}
        for path in ["/healthz", *PAGES]:
            samples = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                response = web.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            first = samples[0]  # a term's first showing also writes its closed days' counts
            samples.sort()
            timings[path] = {"first_ms": round(first, 1), "p50_ms": round(statistics.median(samples), 1),
                             "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1)}
            print(f"  {path}: {timings[path]}", file=sys.stderr)
    finally:
        console.stop()
        fake.stop()
    return {"generated_s": round(made, 1), "pages": timings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--escalations", type=int, default=50_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    report = {"decisions": args.decisions, "escalations": args.escalations, "goal": "p95 < 300 ms",
              "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            print(f"{backend}: generating {args.decisions} decisions, {args.escalations} escalations",
                  file=sys.stderr)
            if backend == "sqlite":
                report[backend] = measure(str(Path(tmp) / "console.db"), args)
            else:
                from tests.postgres import TempPostgres

                server = TempPostgres().start()
                try:
                    report[backend] = measure(server.create_database(), args)
                finally:
                    server.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
