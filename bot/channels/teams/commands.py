"""`canishare teams serve` and `canishare teams package`: thin, so bot/cli.py stays small."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from bot.settings import SettingsError


def cmd_serve(app: Any, args: argparse.Namespace) -> int:
    """The Teams bot over the composition root (`app` is `bot.services.Services`)."""
    from bot.channels.teams.app import build_bot
    from bot.channels.teams.config import teams_config
    from bot.channels.teams.server import serve

    config = teams_config(app.settings)
    logging.basicConfig(level=app.settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.ops.doctor import warn_at_start

    warn_at_start(app.settings, "teams")
    bot = build_bot(app, config)
    logging.getLogger("canishare").info("serving Teams on %s:%s; database %s", app.settings.host,
                                        config.port, app.storage.where)
    deliveries = app.delivery_loop()  # retries and fallbacks without a clock process too
    if deliveries is not None:
        deliveries.start()
    asyncio.run(serve(config, register=bot.register, host=app.settings.host, readiness=app.readiness,
                      metrics=app.metrics()))
    return 0


def cmd_package(app: Any, args: argparse.Namespace) -> int:
    from bot.channels.teams.config import GUID
    from bot.channels.teams.package import write_package

    bot_id = app.settings.teams_client_id.strip()
    if not bot_id:
        raise SettingsError("TEAMS_CLIENT_ID not set: the Application (client) ID of the Entra app "
                            "registration is the bot id in the package")
    if not GUID.match(bot_id):
        raise SettingsError("TEAMS_CLIENT_ID: expected the Application (client) ID, like "
                            "00000000-0000-0000-0000-000000000000")
    out = Path(args.out or "canishare-teams.zip")
    try:
        write_package(bot_id, out)
    except OSError as exc:
        from bot.cli import CommandError

        raise CommandError(f"--out: cannot write {out} ({exc.strerror or exc})") from None
    print(f"wrote {out}: upload it in the Teams admin centre (Teams apps > Manage apps > Upload)")
    return 0
