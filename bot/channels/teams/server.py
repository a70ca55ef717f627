"""The Teams bot's HTTP side: the teams.py `App`, `POST /api/messages` and `/healthz`, under uvicorn.

Token validation is always on. `build_app` passes every option explicitly (the SDK would
otherwise read CLIENT_ID, TENANT_ID, CLOUD, SERVICE_URL and the unauthenticated switch from the
environment), and `build_asgi` checks after `App.initialize()` that the SDK really holds a token
validator, so a future SDK that renamed or defaulted something fails closed at start-up.

The handlers are registered by `register` (`bot/channels/teams/app.py`, `TeamsBot.register`):
this module is only the transport.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from microsoft_teams.api import Attachment, MessageActivityInput
from microsoft_teams.api.auth.cloud_environment import PUBLIC, CloudEnvironment, with_overrides
from microsoft_teams.apps import App
from microsoft_teams.apps.http import FastAPIAdapter
from microsoft_teams.common import ClientOptions

from bot.channels.teams.config import TeamsConfig, refuse_auth_off
from bot.dsl.health import Readiness
from bot.ops.metrics import observe
from bot.settings import SettingsError

log = logging.getLogger("canishare.teams")
MESSAGING_ENDPOINT = "/api/messages"
TokenFunction = Callable[[str, str | None], str]
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BODY_BYTES = 1_000_000  # Teams activities are far smaller; anything bigger is not Teams


def cloud_for(config: TeamsConfig) -> CloudEnvironment:
    """Microsoft's public cloud, with the key set moved only when a test service is configured.
    The SDK derives the key-set URL by replacing `/openidconfiguration` with `/keys`."""
    return with_overrides(PUBLIC, openid_metadata_url=config.openid_metadata_url or None)


def build_app(config: TeamsConfig, token: TokenFunction | None = None,
              adapter: FastAPIAdapter | None = None, timeout: float = 15.0) -> App:
    """The teams.py app with every option explicit. `token` replaces MSAL (tests and benchmarks
    only): a function `(scope, tenant) -> str` returning a JWT-shaped string. `timeout` bounds
    each outbound call (teams.py's own default is none at all)."""
    refuse_auth_off()
    credentials: dict[str, Any] = ({"token": token} if token is not None
                                   else {"client_secret": config.client_secret})
    return App(
        client_id=config.client_id,
        tenant_id=config.tenant_id,
        cloud=cloud_for(config),
        dangerously_allow_unauthenticated_requests=False,
        http_server_adapter=adapter,
        messaging_endpoint=MESSAGING_ENDPOINT,
        service_url=config.service_url,
        client=ClientOptions(timeout=timeout),
        state=False,
        **credentials,
    )


def card_message(card: dict[str, Any], summary: str = "") -> MessageActivityInput:
    """A message carrying one Adaptive Card. `summary` is what notification previews show."""
    return MessageActivityInput(
        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)], summary=summary or None)


def invoke_message(text: str) -> dict[str, Any]:
    """An `adaptiveCard/action` answer that shows a short message: never empty, never late."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


def _auth_is_on(app: App) -> bool:
    server = app.server
    return (getattr(server, "_token_validator", None) is not None
            and getattr(server, "_dangerously_allow_unauthenticated_requests", True) is False
            and app.options.dangerously_allow_unauthenticated_requests is False)


MetricsFunction = Callable[[str], tuple[int, str, bytes]]


async def build_asgi(config: TeamsConfig, register: Callable[[App], None],
                     token: TokenFunction | None = None,
                     readiness: Callable[[], Readiness] | None = None,
                     metrics: MetricsFunction | None = None) -> tuple[FastAPI, App]:
    """The ASGI app uvicorn serves: `/healthz` (liveness: the process answers), `/readyz`
    (`readiness`: database, schema, clock, deliveries; 503 with one line per failing check) and
    the SDK's `POST /api/messages`."""
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    if readiness is not None:
        @api.get("/readyz")
        async def readyz() -> PlainTextResponse:
            report = await asyncio.to_thread(readiness)  # the database is blocking I/O
            return PlainTextResponse(report.text(), status_code=200 if report.ok else 503)

    @api.middleware("http")
    async def refuse_what_is_not_an_activity(request: Request, call_next: Any) -> Response:
        """Before the SDK: no bearer token is 401, a body that is not one JSON object is 400.
        teams.py 2.1 parses the body before it checks the token and answers 500 to garbage."""
        if request.method == "POST" and request.url.path == MESSAGING_ENDPOINT:
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
            raw = await request.body()
            if len(raw) > MAX_BODY_BYTES:
                return JSONResponse({"error": "Too large"}, status_code=413)
            try:
                activity = json.loads(raw)
            except ValueError:
                activity = None
            if not isinstance(activity, dict):
                return JSONResponse({"error": "Expected an activity"}, status_code=400)
        return await call_next(request)

    @api.middleware("http")
    async def count_activities(request: Request, call_next: Any) -> Response:
        """Outermost: every POST to the messaging endpoint counted and timed, refusals included."""
        if request.url.path != MESSAGING_ENDPOINT:
            return await call_next(request)
        started = time.perf_counter()
        response = await call_next(request)
        observe("teams", response.status_code, time.perf_counter() - started)
        return response

    if metrics is not None:
        @api.get("/metrics")
        async def metrics_page(request: Request) -> Response:
            status, content_type, body = await asyncio.to_thread(
                metrics, request.headers.get("authorization", ""))
            return Response(body, status_code=status, media_type=content_type)

    app = build_app(config, token=token, adapter=FastAPIAdapter(app=api))
    register(app)
    await app.initialize()
    if not _auth_is_on(app):
        raise SettingsError("Teams token validation is not active in this SDK version: refusing "
                            "to start")
    return api, app


def uvicorn_config(api: FastAPI, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False,
                          lifespan="on", timeout_keep_alive=30, server_header=False)


async def serve(config: TeamsConfig, register: Callable[[App], None], host: str = "127.0.0.1",
                token: TokenFunction | None = None,
                readiness: Callable[[], Readiness] | None = None,
                metrics: MetricsFunction | None = None) -> None:
    api, _ = await build_asgi(config, register, token=token, readiness=readiness, metrics=metrics)
    log.info("canishare teams listening on %s:%s%s", host, config.port, MESSAGING_ENDPOINT)
    await uvicorn.Server(uvicorn_config(api, host, config.port)).serve()


class BackgroundServer:
    """The real server on 127.0.0.1, port 0, on its own thread and loop (tests, benchmarks)."""

    def __init__(self, config: TeamsConfig, register: Callable[[App], None],
                 token: TokenFunction | None = None,
                 readiness: Callable[[], Readiness] | None = None,
                 metrics: MetricsFunction | None = None) -> None:
        self.config, self.token, self.register, self.readiness = config, token, register, readiness
        self.metrics = metrics
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.app: App | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="teams-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            try:
                api, self.app = await build_asgi(self.config, self.register, token=self.token,
                                                 readiness=self.readiness, metrics=self.metrics)
                self._server = uvicorn.Server(uvicorn_config(api, "127.0.0.1", self.port))
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                self._error = exc
                self._ready.set()
                return
            serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            await serving

        asyncio.run(main())

    def start(self, timeout: float = 30) -> BackgroundServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Teams server did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
