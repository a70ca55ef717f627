"""Doctor's Teams checks, live against Entra ID and the Bot Connector: the settings, a token, the
DSL team (the bot is in it and its roster reads), the DSL channel in it, the listed DSLs in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.dsl.ports import DeliveryError
from bot.ops.doctor import Check, fail, ok, warn
from bot.settings import SettingsError

INSTALL_IN_TEAM = ("add canishare to the DSL team (Teams > the team > ⋯ > Manage team > Apps > "
                   "Get more apps > canishare) and check TEAMS_DSL_TEAM_ID (README: Teams, step 6)")


def teams_checks(services: Any) -> Iterator[Check]:
    from bot.channels.teams.config import teams_config
    from bot.channels.teams.connector import TeamsConnector
    from bot.channels.teams.contacts import ContactBook

    try:
        config = teams_config(services.settings)
    except SettingsError as exc:
        for problem in str(exc).split("; "):
            yield fail(f"Teams: {problem}", "fix the value in .env (README: Connect to Microsoft Teams)")
        return
    yield ok("Teams: settings complete")
    connector = TeamsConnector(config, token=services.teams_token, timeout=15)
    try:
        try:
            connector.can_get_token()
        except DeliveryError as exc:
            yield fail(f"Teams: no token from Entra ID ({exc})",
                       "check TEAMS_CLIENT_ID, TEAMS_TENANT_ID and TEAMS_CLIENT_SECRET (a secret's "
                       "Value, not its ID; secrets expire: make a new one under Certificates & secrets)")
            return
        yield ok("Teams: the bot gets a token from Entra ID")
        team = ContactBook(services.storage).team(config.dsl_team_id)  # as Teams named it when added
        service_url = team.service_url if team else config.service_url
        try:
            roster = connector.team_members(service_url, config.dsl_team_id)
        except DeliveryError as exc:
            yield fail(f"Teams: DSL team not reachable ({exc})", INSTALL_IN_TEAM)
            return
        yield ok(f"Teams: DSL team reachable; its roster lists {len(roster)} people")
        try:
            channels = connector.team_channels(service_url, config.dsl_team_id)
        except DeliveryError as exc:
            yield fail(f"Teams: cannot list the DSL team's channels ({exc})", INSTALL_IN_TEAM)
            return
        if config.dsl_channel_id not in channels:
            yield fail("Teams: TEAMS_DSL_CHANNEL_ID is not a channel of the DSL team the bot can see",
                       "in Teams, the DSL channel > ⋯ > Get link to channel: the id is the "
                       "19:...@thread.tacv2 part; it must be a standard channel of TEAMS_DSL_TEAM_ID")
        else:
            yield ok("Teams: DSL channel found in the DSL team")
        outside = sorted(set(config.dsl_user_ids) - set(roster))
        if outside:
            yield warn(f"Teams: {len(outside)} of TEAMS_DSL_USER_IDS not in the DSL team "
                       f"(first: {outside[0]})", "add them to the DSL team, or correct the Entra object id")
    finally:
        connector.close()
