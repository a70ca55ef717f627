"""WSGI entry point for any WSGI server: `gunicorn 'bot.channels.slack.wsgi_app:create()'`.
Settings come from the environment (and `.env` in the working directory)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def create() -> Callable:
    from dotenv import load_dotenv

    from bot.channels.slack.server import build, start_deliveries, wsgi
    from bot.services import Services
    from bot.settings import load_settings

    load_dotenv(Path.cwd() / ".env")
    services = Services(load_settings())
    application = wsgi(*build(services), readiness=services.readiness)
    start_deliveries(services)  # retries and fallbacks from this worker too: no clock needed
    return application
