"""`canishare clock`: build the scheduler from settings and run it."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk import WebClient

from bot.dsl.desk import DslDesk
from bot.dsl.scheduler import Scheduler
from bot.settings import require


def run_clock(app: Any, once: bool = False) -> int:
    settings = app.settings
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    require(settings, "slack_bot_token", "dsl_channel")
    assert settings.slack_bot_token is not None
    client = WebClient(token=settings.slack_bot_token.get_secret_value(),
                       base_url=settings.slack_api_base_url)
    desk = DslDesk(settings, app.storage, app.bundle)
    scheduler = Scheduler(settings, app.storage, desk, client)
    if once:
        print(json.dumps(scheduler.tick()))
        return 0
    scheduler.run_forever()
    return 0
