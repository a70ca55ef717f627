"""Run modes for the Slack app: HTTP under gunicorn (production, the Procfile's `web:`), or
Socket Mode for workspaces that cannot expose a URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError

from bot.channels.slack.app import CHANNEL, SlackChannel, create_app
from bot.channels.slack.gate import SlackGate
from bot.core.clock import SYSTEM_CLOCK, Clock
from bot.dsl.health import Readiness
from bot.ops.metrics import observe
from bot.services import Services
from bot.settings import Settings, SettingsError, require

EVENTS_PATH = "/slack/events"


def build(services: Services, **options: Any) -> tuple[App, SlackChannel]:
    """Check settings and flows, then build the app; every failure is one clear line."""
    settings = services.settings
    require(settings, "slack_bot_token", "slack_signing_secret")
    conversations = services.conversations(CHANNEL)
    try:
        return create_app(settings, conversations, services.desk,
                          practice=services.conversations(CHANNEL, practice=True), **options)
    except BoltError as exc:
        raise SettingsError(
            f"SLACK_BOT_TOKEN: Slack did not accept the token at {settings.slack_api_base_url} "
            f"({str(exc).splitlines()[0]})"
        ) from None
    except OSError as exc:  # URLError and connection errors
        raise SettingsError(
            f"SLACK_API_BASE_URL: cannot reach {settings.slack_api_base_url} ({exc})") from None


WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def wsgi(app: App, channel: SlackChannel, request_clock: Clock = SYSTEM_CLOCK,
         readiness: Callable[[], Readiness] | None = None,
         metrics: Callable[[str], tuple[int, str, bytes]] | None = None) -> WSGIApp:
    """/slack/events behind the gate (only Slack, only this workspace), /healthz (liveness: the
    process answers) and /readyz (`readiness`: the database, schema, clock and deliveries; 503
    with one line per failing check). `request_clock` judges Slack's request timestamps: always
    the real time in production."""
    settings = channel.settings
    assert settings.slack_signing_secret is not None

    def foreign(found: dict[str, str]) -> None:
        where = ", ".join(f"{k}={v}" for k, v in found.items() if k != "user")
        channel.conv.refused(found.get("user", ""), "request", f"another workspace: {where}")

    secret = settings.slack_signing_secret.get_secret_value()
    gate = SlackGate(SlackRequestHandler(app, path=EVENTS_PATH), secret, request_clock,
                     team_id=channel.team_id, enterprise_id=channel.enterprise_id, on_foreign=foreign)

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        if path == "/readyz" and readiness is not None:
            report = readiness()
            start_response("200 OK" if report.ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain; charset=utf-8")])
            return [report.text().encode()]
        if path == "/metrics" and metrics is not None:
            status, content_type, body = metrics(environ.get("HTTP_AUTHORIZATION", ""))
            start_response(f"{status} {'OK' if status == 200 else 'Unauthorized'}",
                           [("Content-Type", content_type)])
            return [body]
        if path != EVENTS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        started, answered = time.perf_counter(), []

        def recording(status: str, headers: list, exc_info: Any = None) -> Any:
            answered.append(int(status.split()[0]))
            return start_response(status, headers, exc_info)

        body = gate(environ, recording)
        observe("slack", answered[0] if answered else 500, time.perf_counter() - started)
        return body

    return application


def start_deliveries(services: Services) -> None:
    """Retries and fallbacks from this process too, so a deployment without a clock still
    delivers (see `DeliveryLoop`)."""
    loop = services.delivery_loop()
    if loop is not None:
        loop.start()


def serve_http(services: Services) -> int:
    """gunicorn with threaded workers: ack() returns within Slack's 3 seconds while slower
    work continues on the worker's thread pool."""
    from gunicorn.app.base import BaseApplication

    settings = services.settings
    build(services)  # fail fast, once, with a clear message before forking workers
    services.storage.close()

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.web_concurrency)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 8)
            self.cfg.set("timeout", 30)
            self.cfg.set("accesslog", "-")

        def load(self) -> Callable:
            worker = Services(settings, flows_dir=services.flows_dir)
            application = wsgi(*build(worker), readiness=worker.readiness, metrics=worker.metrics())
            start_deliveries(worker)  # in the worker (after the fork), beside its request threads
            return application

    logging.getLogger("canishare").info("serving Slack on %s:%s%s; database %s", settings.host,
                                        settings.port, EVENTS_PATH, services.storage.where)
    Server().run()
    return 0


def serve_socket(services: Services) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings: Settings = services.settings
    require(settings, "slack_app_token")
    assert settings.slack_app_token is not None
    token = settings.slack_app_token.get_secret_value()
    if not token.startswith("xapp-"):
        raise SettingsError("SLACK_APP_TOKEN: must be an app-level token starting with xapp-")
    app, _ = build(services)
    start_deliveries(services)
    SocketModeHandler(app, token).start()
    return 0
