"""A bare Bolt app whose handlers only ack(): the floor canishare's ack latency is compared to."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient


def create() -> Callable:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_BASE_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    app.command("/canishare")(lambda ack: ack())
    app.action(re.compile(".*"))(lambda ack: ack())
    app.view(re.compile(".*"))(lambda ack: ack())
    handler = SlackRequestHandler(app)

    def application(environ: dict, start_response: Callable):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return handler(environ, start_response)

    return application
