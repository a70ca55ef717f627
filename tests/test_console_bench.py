"""A tiny run of bench/console_bench.py, so the benchmark keeps working: every page answers 200
over HTTP with generated decisions and escalations (speed is measured by the bench, not here)."""

from __future__ import annotations

import argparse

from bench.console_bench import PAGES, measure


def test_console_bench_smoke(tmp_path, no_slack_env):
    result = measure(str(tmp_path / "bench.db"), argparse.Namespace(decisions=300, escalations=70, requests=1, keep=None))
    assert set(result["pages"]) == {"/healthz", *PAGES}
