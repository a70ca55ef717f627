"""Precision and recall of the identifier detector on a labelled set (one JSON object per line:
{"text", "kinds"}). A line counts as a hit for a kind when the detector reports that kind.

    .venv/bin/python bench/privacy_eval.py [bench/privacy_labelled.jsonl]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.privacy import scan  # noqa: E402


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "privacy_labelled.jsonl"
    tp, fp, fn = Counter(), Counter(), Counter()
    misses = []
    for line in path.read_text().splitlines():
        case = json.loads(line)
        expected, found = set(case["kinds"]), {f.kind for f in scan(case["text"])}
        for kind in expected | found:
            if kind in expected and kind in found:
                tp[kind] += 1
            elif kind in found:
                fp[kind] += 1
                misses.append(f"false alarm {kind}: {case['text']}")
            else:
                fn[kind] += 1
                misses.append(f"missed {kind}: {case['text']}")
    report = {}
    for kind in sorted(set(tp) | set(fp) | set(fn)):
        precision = tp[kind] / ((tp[kind] + fp[kind]) or 1)
        recall = tp[kind] / ((tp[kind] + fn[kind]) or 1)
        report[kind] = {"precision": round(precision, 2), "recall": round(recall, 2),
                        "tp": tp[kind], "fp": fp[kind], "fn": fn[kind]}
    print(json.dumps(report, indent=2))
    print("\n".join(misses), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
