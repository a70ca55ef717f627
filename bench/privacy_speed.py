"""Start-up and per-line cost of the identifier guard (issue 13: at most 100 ms more start-up than
before, and at most 1 ms a line).

Start-up is the import of `bot.core.privacy` plus the first `scan`, in a fresh interpreter each
time (that is what a person waits for when the bot starts); the figure is the median of several
runs, as wall-clock and as CPU time (steadier when other work shares the machine); a first line
with a ten-digit number also loads python-stdnum. Per-line cost is the mean
over every line of both labelled sets, scanned repeatedly in one warm process, with the worst line
and a 2,000-character field (the longest a record field allows).

    .venv/bin/python bench/privacy_speed.py [--root OTHER_CHECKOUT] [--runs 15]

`--root` measures another checkout (for example main before this change) with this interpreter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SAMPLE = "Concerned about Tobias; mum's mobile 07700 900123"
# A first line with a ten-digit number also loads python-stdnum for the check digit.
SAMPLE_WITH_NUMBER = "NHS number 943 476 5919"

START_UP = """
import sys, time
sys.path.insert(0, {root!r})
t, cpu = time.perf_counter(), time.process_time()
from bot.core.privacy import scan
scan({sample!r})
print(time.perf_counter() - t, time.process_time() - cpu)
"""

PER_LINE = """
import json, sys, time
sys.path.insert(0, {root!r})
from bot.core.privacy import scan
texts = {texts!r}
scan(texts[0])
rounds = {rounds}
t = time.perf_counter()
for _ in range(rounds):
    for text in texts:
        scan(text)
elapsed = time.perf_counter() - t
field = " ".join(texts)[:2000]  # the longest record field a person can type
print(json.dumps({{"per_line_ms": elapsed / (rounds * len(texts)) * 1000,
                  "worst_line_ms": max(_worst(scan, text) for text in texts),
                  "field_2000_chars_ms": _worst(scan, field)}}))
"""

WORST = """
def _worst(scan, text):
    import time
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        scan(text)
        best = min(best, time.perf_counter() - t)
    return best * 1000
"""


def labelled_texts() -> list[str]:
    texts = []
    for path in sorted((HERE / "bench").glob("privacy_labelled_*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    return texts


def start_up(root: str, sample: str) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds; CPU time is steadier on a machine shared with others."""
    wall, cpu = run(START_UP.format(root=root, sample=sample)).split()
    return float(wall) * 1000, float(cpu) * 1000


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="one run of each: proves it still runs")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    root = str(args.root.resolve())
    run("import sys")  # warm the interpreter's own files into the page cache
    starts = [start_up(root, SAMPLE) for _ in range(args.runs)]
    numbered = [start_up(root, SAMPLE_WITH_NUMBER) for _ in range(args.runs)]
    texts = labelled_texts()[:50] if args.smoke else labelled_texts()
    lines = json.loads(run(WORST + PER_LINE.format(root=root, texts=texts, rounds=1 if args.smoke else 20)))
    print(json.dumps({
        "root": root,
        "start_up_ms_median": round(statistics.median(w for w, _ in starts), 1),
        "start_up_ms_min": round(min(w for w, _ in starts), 1),
        "start_up_cpu_ms_median": round(statistics.median(c for _, c in starts), 1),
        "start_up_ms_median_first_line_with_nhs_number": round(statistics.median(w for w, _ in numbered), 1),
        "start_up_cpu_ms_median_first_line_with_nhs_number":
            round(statistics.median(c for _, c in numbered), 1),
        "lines": len(texts),
        "per_line_ms_mean": round(lines["per_line_ms"], 3),
        "per_line_ms_worst": round(lines["worst_line_ms"], 3),
        "field_of_2000_characters_ms": round(lines["field_2000_chars_ms"], 2),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
