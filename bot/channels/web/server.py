"""`canishare web`: the console under uvicorn (the ASGI server the Teams bot already runs on)."""

from __future__ import annotations

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
