"""Load the flows *and* check them: the one entry point the app and `flows check` use.

It lives above the engine (not in `bot/flows/`) because the graph checks walk every path with
the engine; the flows package stays plain data (schema, parse) so the order reads
flows <- engine <- analysis with no cycle.
"""

from __future__ import annotations

from pathlib import Path

from bot.analysis.checks import check_bundle
from bot.flows.loader import FlowBundle, FlowError, parse_folder


def load_bundle(directory: Path, *, paths: bool = False) -> FlowBundle:
    """Load and check the flows; raise `FlowError` listing every problem. `paths` also walks
    every path for conditions that can never be true (`canishare flows check`)."""
    bundle, problems = parse_folder(directory)
    if bundle is not None:  # a repaired bundle: graph checks still report what they can
        problems = problems + check_bundle(bundle, schema_ok=not problems, paths=paths)
    if problems or bundle is None:
        raise FlowError(problems)
    return bundle
