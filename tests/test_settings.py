"""Settings: defaults that need no .env; a wrong value is one line naming the variable."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings, require


def test_defaults_need_nothing(monkeypatch, tmp_path):
    for name in ("CANISHARE_DATABASE", "DATABASE_URL", "PORT", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    # one database per user, whatever folder a command runs from
    assert settings.database == str(tmp_path / "xdg" / "canishare" / "canishare.db")
    assert settings.port == 3000 and settings.slack_bot_token is None
    assert (settings.flows_dir / "manifest.yaml").exists()


def test_wrong_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "lots")
    monkeypatch.setenv("CANISHARE_WEEKLY_EXPORT_TIME", "8am")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "PORT:" in message and "CANISHARE_WEEKLY_EXPORT_TIME: " in message
    assert "\n" not in message


def test_require_names_missing_settings(monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN not set"):
        require(load_settings(), "slack_bot_token")


def test_cli_reports_a_bad_setting_in_one_line(run_cli):
    result = run_cli("log", "list", env={"PORT": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("canishare: settings: PORT:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_env_example_lists_every_setting_with_a_comment():
    from bot.settings import Settings, _alias_of
    from tests.conftest import ROOT

    lines = (ROOT / ".env.example").read_text().splitlines()
    for name in Settings.model_fields:
        alias = _alias_of(name)
        index = next((i for i, line in enumerate(lines) if line.lstrip("# ").startswith(f"{alias}=")), None)
        assert index is not None, f"{alias} missing from .env.example"
        above = lines[max(0, index - 3):index]
        assert any(line.startswith("#") for line in above), f"{alias} has no comment"


def test_the_log_key_file_is_made_once_private_and_checked(tmp_path, monkeypatch):
    from bot.services import key_file, load_keyring
    from bot.settings import Settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings = Settings(database=str(tmp_path / "x.db"))
    first = load_keyring(settings)
    assert load_keyring(settings).current == first.current  # the same key next time
    path = key_file()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.chmod(0o644)
    with pytest.raises(SettingsError, match="readable by others"):
        load_keyring(settings)
    path.chmod(0o600)
    path.write_text("")
    with pytest.raises(SettingsError, match="holds no usable log key"):
        load_keyring(settings)
    with pytest.raises(SettingsError, match="required with PostgreSQL"):
        load_keyring(Settings(database="postgresql://x@localhost/db"))
