"""Export benchmark: 1,000,000 generated decisions exported to CSV and XLSX, each in its own
process, reporting wall time and peak memory (max RSS of that process).

The decisions are appended through the decision log itself (`DecisionLog.append_rows`: keyed hash
chain, as in production), so the benchmark breaks loudly if the storage layer changes under it;
`make test` runs it with `--smoke` (a few hundred rows, nothing written to bench/results).

    .venv/bin/python bench/export_bench.py [--rows 1000000] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.clock import iso  # noqa: E402
from bot.storage import Key, Keyring, Storage  # noqa: E402

VERDICTS = ["refer_to_childrens_social_care", "share_with_consent", "do_not_share",
            "share_without_consent", "do_not_share_yet_seek_advice"]
EXPORT = """
import sys, time, resource
from datetime import datetime
from pathlib import Path
sys.path.insert(0, {root!r})
from bot.dsl.export import export
from bot.storage import Key, Keyring, Storage
start = time.perf_counter()
storage = Storage({db!r}, keyring=Keyring(Key.parse({key!r})))
summary = export(storage, datetime.fromisoformat({since!r}), datetime.fromisoformat({until!r}),
                 {fmt!r}, Path({out!r}), workers={workers})
usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
peak = max(u.ru_maxrss for u in usage) / 1024
cpu = sum(u.ru_utime + u.ru_stime for u in usage)  # steadier than wall time on a shared machine
print(time.perf_counter() - start, summary.decisions, peak, cpu)
"""


def generate(storage: Storage, rows: int, start: datetime) -> None:
    rng = random.Random(7)
    step = timedelta(days=7) / rows

    def make(n: int) -> dict:
        return {"created_at": iso(start + step * n), "channel": "slack", "user_id": f"U{n % 500}",
                "check_key": f"slack:U{n % 500}:c{n}",
                "conversation_id": f"c{n}", "flow_id": "can_i_share", "flow_version": "abc123",
                "guidance_edition": "2026-11", "jurisdiction": "england",
                "answers": json.dumps({"harm_level": "significant_harm", "concern_type": ["none"]}),
                "outcome_id": "O04", "verdict": rng.choice(VERDICTS), "consent_position": "given",
                "rules": json.dumps(["GR1", "GR6", "GR7"]),
                "gateways": json.dumps(["uk-gdpr-art6-1e", "dpa2018-sch1-para18"]),
                "dsl_alert": "routine", "decision": "shared", "what": "summary of concerns",
                "with_whom": "duty social worker", "purpose": "referral",
                "reasons": "risk of significant harm", "case_reference": f"CS-{n}"}

    batch = 50_000
    for first in range(0, rows, batch):
        with storage.transaction() as tx:
            tx.decisions.append_rows(make(n) for n in range(first, min(rows, first + batch)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx", help="comma-separated: csv,xlsx,json")
    parser.add_argument("--smoke", action="store_true",
                        help="a few hundred rows, results not saved: proves the benchmark still runs")
    args = parser.parse_args()
    if args.smoke:
        args.rows = 300
    start = datetime(2026, 11, 9, tzinfo=UTC)
    key = Key.generate()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        began = time.perf_counter()
        storage = Storage(db, keyring=Keyring(Key.parse(key)))
        generate(storage, args.rows, start)
        if args.smoke:  # the generated log is a real keyed chain, as `canishare log verify` sees it
            with storage.read() as tx:
                verified = tx.verify()
            if not verified.ok or verified.decisions.checked != args.rows:
                raise SystemExit(f"the generated log does not verify: {verified.problems[:3]}")
        storage.close()
        print(f"generated {args.rows} decisions in {time.perf_counter() - began:.1f}s", file=sys.stderr)
        report = {"rows": args.rows, "cores": os.cpu_count(),
                  "goal": "CSV under 10 s, peak memory under 200 MB"}
        for fmt in args.formats.split(","):
            code = EXPORT.format(root=str(ROOT), db=str(db), key=key, since=start.isoformat(),
                                 until=(start + timedelta(days=7)).isoformat(), fmt=fmt,
                                 workers=os.cpu_count() or 1,
                                 out=str(Path(tmp) / f"out.{fmt}"))
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            seconds, count, peak, cpu = result.stdout.split()
            size = (Path(tmp) / f"out.{fmt}").stat().st_size / 1e6
            if int(count) != args.rows:
                raise SystemExit(f"{fmt}: exported {count} decisions, expected {args.rows}")
            report[fmt] = {"seconds": round(float(seconds), 1), "cpu_seconds": round(float(cpu), 1),
                           "rows": int(count),
                           "peak_memory_mb": round(float(peak), 1), "file_mb": round(size, 1)}
            print(fmt, report[fmt], file=sys.stderr)
    print(json.dumps(report, indent=2))
    if args.smoke:
        return 0
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "export.json").write_text(json.dumps(report, indent=2))

    return 0


if __name__ == "__main__":
    sys.exit(main())
