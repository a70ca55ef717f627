"""Attach the DSL side to the Slack app when a DSL channel is configured."""

from __future__ import annotations

from typing import Any


def attach_dsl(app: Any, channel: Any, settings: Any, storage: Any) -> None:
    """No DSL channel configured: escalation buttons explain that, nothing is posted."""
    return None
