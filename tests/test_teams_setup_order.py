"""Teams can be set up in the README's order: `teams serve` starts before the bot is in the DSL
team (step 6 gives those ids), saying loudly that urgent answers alert no DSL until then; half a
DSL team setting is still refused."""

from __future__ import annotations

import pytest

from bot.channels.teams.config import teams_config
from bot.settings import Settings, SettingsError
from tests.fakes.teams_service import CLIENT_ID, DSL_TEAM_ID, TENANT_ID

BOT_ONLY = dict(teams_client_id=CLIENT_ID, teams_client_secret="s", teams_tenant_id=TENANT_ID)


def test_serve_may_start_before_the_dsl_team_exists():
    config = teams_config(Settings(**BOT_ONLY), {}, desk_required=False)
    assert (config.dsl_team_id, config.dsl_channel_id) == ("", "")
    assert not Settings(**BOT_ONLY).teams_desk_configured  # so no Teams desk is built


def test_the_desk_still_needs_both_ids():
    with pytest.raises(SettingsError, match="TEAMS_DSL_TEAM_ID not set"):
        teams_config(Settings(**BOT_ONLY), {})
    with pytest.raises(SettingsError, match="TEAMS_DSL_CHANNEL_ID not set"):
        teams_config(Settings(**BOT_ONLY, teams_dsl_team_id=DSL_TEAM_ID), {}, desk_required=False)
