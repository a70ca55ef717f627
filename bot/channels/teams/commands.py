"""`canishare teams serve` and `canishare teams package`: thin, so bot/cli.py stays small."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from bot.errors import CommandError
from bot.settings import SettingsError


def cmd_serve(app: Any, args: argparse.Namespace) -> int:
    """The Teams bot over the composition root (`app` is `bot.services.Services`)."""
    from bot.channels.teams.app import build_bot
    from bot.channels.teams.config import teams_config
    from bot.channels.teams.server import serve

    config = teams_config(app.settings, desk_required=False)  # no DSL team yet: a loud ERROR below
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
    from bot.channels.teams.package import PackageError, project_version

    out = Path(args.out or "canishare-teams.zip")
    links = {name: getattr(args, f"{name}_url") for name in ("website", "privacy", "terms")
             if getattr(args, f"{name}_url", None)}
    try:
        write_package(bot_id, out, links)
    except PackageError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"--out: cannot write {out} ({exc.strerror or exc})") from None
    print(f"wrote {out} (version {project_version()}): upload it in the Teams admin centre (Teams apps > "
          "Manage apps > Upload new app; to update, open canishare there and upload the new file)")
    if not {"privacy", "terms"} <= set(links):
        print("canishare: you must give your organisation's privacy notice and terms before staff use "
              "the app: --privacy-url https://... --terms-url https://... (the package now links to the "
              "national guidance, which is neither)", file=sys.stderr)
    return 0
