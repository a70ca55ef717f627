"""`canishare web`: the console under uvicorn (the ASGI server the Teams bot already runs on)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

from bot.channels.web.app import build_app
from bot.channels.web.config import web_config
from bot.services import Services
from bot.settings import SettingsError


def serve(services: Services, host: str = "0.0.0.0") -> int:
    config = web_config(services.settings)
    if services.desk is None:
        raise SettingsError("the web console needs a DSL desk: set CANISHARE_DSL_CHANNEL (Slack) or "
                            "the TEAMS_DSL_* settings, as for the chat")
    app = build_app(services, config)
    # proxy_headers: behind a TLS-terminating proxy the session cookie is still Secure
    uvicorn.run(app, host=host, port=services.settings.web_port, log_level="warning",
                proxy_headers=True, access_log=False)
    return 0


class BackgroundServer:
    """The console under uvicorn on 127.0.0.1, port 0, on its own thread (tests, benchmarks).
    The socket is bound first, so the app can be built knowing its own address."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: Any, timeout: float = 30) -> BackgroundServer:
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                     lifespan="off", server_header=False))
        server = self._server
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[self._socket])),
                                        name="web-console", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the web console did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
