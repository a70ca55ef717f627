"""How well the identifier guard does on the labelled sets (one JSON object per line: {"text", "kinds"}).

Three parts: `privacy_labelled_tuning.jsonl`, which the rules may be tuned on, and two held-out
sets they never are: `privacy_labelled_heldout.jsonl` (issue 13) and `privacy_labelled_heldout_2.jsonl`
(issue 19: hurried lower-case notes, the UK's mix of names, addresses as written, evasion), each
written before the rules it measures. For each part it prints:

- recall: the share of lines holding an identifier on which the guard reports anything (what a
  person sees: a warning), and the share on which it reports every kind the line holds;
- false alarms: the share of clean lines on which it reports anything;
- per kind: recall (lines with that kind on which that kind is reported) and false alarms (lines
  without it on which it is reported);
- whole masked: where a line lists its identifiers (`"ids"`, exact substrings), the share of caught
  lines on which every letter and digit of every identifier lies inside a finding, so that the
  suggested edit leaves nothing of it behind ("aoife ni" masked out of "aoife ni bhriain" is not whole).

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

from bot.core.privacy import KIND_LABELS, normalise, scan  # noqa: E402

PARTS = [ROOT / "bench" / f"privacy_labelled_{part}.jsonl" for part in ("tuning", "heldout", "heldout_2")]


def evaluate(path: Path) -> tuple[dict, list[str]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    positive = caught = complete = clean = flagged = listed = whole = 0
    holds, found_right, wrong = Counter(), Counter(), Counter()
    misses: list[str] = []
    for case in lines:
        expected = set(case["kinds"])
        findings = scan(case["text"])
        found = {f.kind for f in findings}
        if expected:
            positive += 1
            caught += bool(found)
            complete += expected <= found
            if found and case.get("ids"):
                listed += 1
                left = _left_unmasked(case["text"], case["ids"], findings)
                whole += not left
                if left:
                    misses.append(f"partly masked {left}: {case['text']}")
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
        for kind in [*KIND_LABELS, *sorted(set(holds) - set(KIND_LABELS))]
    }
    report = {
        "lines": len(lines), "with_identifier": positive, "clean": clean,
        "recall_any_finding": _share(caught, positive), "recall_every_kind": _share(complete, positive),
        "clean_lines_flagged": _share(flagged, clean), "kinds": kinds,
        "whole_masked": _share(whole, listed) if listed else None,
    }
    return report, misses


def _left_unmasked(text: str, ids: list[str], findings: list) -> list[str]:
    """The identifiers of which some letter or digit lies outside every finding (offsets are in
    `normalise(text)`)."""
    clean = normalise(text)
    covered = [False] * len(clean)
    for finding in findings:
        for i in range(finding.start, min(finding.end, len(clean))):
            covered[i] = True
    left = []
    for identifier in ids:
        piece = normalise(identifier)
        at = clean.find(piece)
        if at < 0 or any(ch.isalnum() and not covered[at + i] for i, ch in enumerate(piece)):
            left.append(identifier)
    return left


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
