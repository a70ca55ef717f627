"""How well the identifier guard does on the labelled sets (one JSON object per line: {"text", "kinds"}).

Two parts: `privacy_labelled_tuning.jsonl`, which the rules may be tuned on, and
`privacy_labelled_heldout.jsonl`, which they never are (it was written first and is only measured).
For each part it prints:

- recall: the share of lines holding an identifier on which the guard reports anything (what a
  person sees: a warning), and the share on which it reports every kind the line holds;
- false alarms: the share of clean lines on which it reports anything;
- per kind: recall (lines with that kind on which that kind is reported) and false alarms (lines
  without it on which it is reported).

    .venv/bin/python bench/privacy_eval.py [--misses] [FILE.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.privacy import KIND_LABELS, scan  # noqa: E402

PARTS = [ROOT / "bench" / "privacy_labelled_tuning.jsonl", ROOT / "bench" / "privacy_labelled_heldout.jsonl"]


def evaluate(path: Path) -> tuple[dict, list[str]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    positive = caught = complete = clean = flagged = 0
    holds, found_right, wrong = Counter(), Counter(), Counter()
    misses: list[str] = []
    for case in lines:
        expected = set(case["kinds"])
        found = {f.kind for f in scan(case["text"])}
        if expected:
            positive += 1
            caught += bool(found)
            complete += expected <= found
        else:
            clean += 1
            flagged += bool(found)
        for kind in expected:
            holds[kind] += 1
            found_right[kind] += kind in found
        for kind in found - expected:
            wrong[kind] += 1
        if expected - found:
            misses.append(f"missed {sorted(expected - found)}: {case['text']}")
        if found - expected:
            misses.append(f"false alarm {sorted(found - expected)}: {case['text']}")
    kinds = {
        kind: {"lines": holds[kind], "recall": _share(found_right[kind], holds[kind]),
               "false_alarms": wrong[kind]}
        for kind in KIND_LABELS
    }
    report = {
        "lines": len(lines), "with_identifier": positive, "clean": clean,
        "recall_any_finding": _share(caught, positive), "recall_every_kind": _share(complete, positive),
        "clean_lines_flagged": _share(flagged, clean), "kinds": kinds,
    }
    return report, misses


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--misses", action="store_true", help="list every missed or false-alarm line")
    parser.add_argument("--smoke", action="store_true",
                        help="accepted for `make test`'s smoke runs: both sets are small, so the same run")
    args = parser.parse_args()
    for path in args.files or PARTS:
        report, misses = evaluate(path)
        print(f"== {path.name}")
        print(json.dumps(report, indent=1))
        if args.misses:
            print("\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
