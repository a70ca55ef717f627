"""The one configuration model. Read from the environment (the CLI loads `.env` first).

Every setting has a default that lets the terminal chat run with no `.env` at all; the Slack and
DSL settings are only checked by the commands that need them, so a new user is never asked for a
Slack token just to try the chat.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_DEFAULT_API = "https://slack.com/api/"
SHIPPED_FLOWS = Path(__file__).resolve().parent.parent / "flows"


def default_database() -> Path:
    """One database per user, wherever a command is run from (not ./data in the current folder)."""
    from platformdirs import user_data_path

    return user_data_path("canishare", appauthor=False) / "canishare.db"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class SettingsError(Exception):
    """A setting has a wrong value; the message names the variable, one line each."""


class Settings(BaseSettings):
    """All of canishare's settings. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database: str = Field(
        default_factory=lambda: str(default_database()),
        validation_alias=AliasChoices("DATABASE_URL", "CANISHARE_DATABASE"),
        description="Where the decision log and conversation state live: a SQLite file path "
        "(the default, in your user data folder) or a postgresql:// URL.",
    )
    flows_dir: Path = Field(
        SHIPPED_FLOWS,
        validation_alias=_env("CANISHARE_FLOWS_DIR"),
        description="Folder holding the flow YAML files and catalogues.",
    )
    log_key: SecretStr | None = Field(None, validation_alias=_env("CANISHARE_LOG_KEY"))
    log_old_keys: SecretStr | None = Field(None, validation_alias=_env("CANISHARE_LOG_OLD_KEYS"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("CANISHARE_LOG_LEVEL")
    )
    chat_user: Literal["login", "ask"] = Field(
        "login", validation_alias=_env("CANISHARE_CHAT_USER"),
        description="Who the terminal chat logs as: `login` (the computer's login name) or `ask` "
        "(each person types their name or staff id at the start: shared PCs).",
    )
    # --- Slack -----------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_base_url: str = Field(SLACK_DEFAULT_API, validation_alias=_env("SLACK_API_BASE_URL"))
    slack_team_id: str = Field("", validation_alias=_env("SLACK_TEAM_ID"))
    slack_enterprise_id: str = Field("", validation_alias=_env("SLACK_ENTERPRISE_ID"))
    host: str = Field(
        "127.0.0.1", validation_alias=_env("HOST"),
        description="Address the Slack and Teams web servers listen on: 127.0.0.1 behind a reverse "
        "proxy on the same machine (the default), 0.0.0.0 in a container or on a PaaS.",
    )
    port: int = Field(3000, ge=1, le=65535, validation_alias=_env("PORT"))
    metrics_token: SecretStr | None = Field(
        None, validation_alias=_env("CANISHARE_METRICS_TOKEN"),
        description="Turns on /metrics (Prometheus) on the Slack and Teams web ports, for requests "
        "bearing this token; unset, there is no /metrics.",
    )
    web_concurrency: int = Field(2, ge=1, le=64, validation_alias=_env("WEB_CONCURRENCY"))
    # --- DSL side ----------------------------------------------------------------------------
    dsl_channel: str | None = Field(None, validation_alias=_env("CANISHARE_DSL_CHANNEL"))
    dsl_user_ids: str = Field("", validation_alias=_env("CANISHARE_DSL_USER_IDS"))
    deputy_dsl_user_ids: str = Field("", validation_alias=_env("CANISHARE_DEPUTY_DSL_USER_IDS"))
    dsl_group_mention: str = Field("", validation_alias=_env("CANISHARE_DSL_GROUP_MENTION"))
    remind_urgent_minutes: int = Field(
        10, ge=1, validation_alias=_env("CANISHARE_REMIND_URGENT_MINUTES")
    )
    remind_routine_minutes: int = Field(
        60, ge=1, validation_alias=_env("CANISHARE_REMIND_ROUTINE_MINUTES")
    )
    working_hours: str = Field("08:00-18:00", validation_alias=_env("CANISHARE_WORKING_HOURS"))
    working_days: str = Field("mon-fri", validation_alias=_env("CANISHARE_WORKING_DAYS"))
    out_of_hours_route: str = Field(
        "Out of hours: call your local children's social care emergency duty team, "
        "or 999 if a child is in immediate danger.",
        validation_alias=_env("CANISHARE_OUT_OF_HOURS_ROUTE"),
    )
    timezone: str = Field("Europe/London", validation_alias=_env("CANISHARE_TIMEZONE"))
    weekly_export_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", validation_alias=_env("CANISHARE_WEEKLY_EXPORT_DAY")
    )
    weekly_export_time: str = Field("08:00", validation_alias=_env("CANISHARE_WEEKLY_EXPORT_TIME"))
    retention_days: int = Field(
        2190, ge=1, validation_alias=_env("CANISHARE_RETENTION_DAYS")
    )
    # --- deliveries (the outbox) -------------------------------------------------------------
    delivery_fallback_attempts: int = Field(
        3, ge=1, le=50, validation_alias=_env("CANISHARE_DELIVERY_FALLBACK_ATTEMPTS")
    )
    delivery_fallback_minutes: int = Field(
        5, ge=1, le=1440, validation_alias=_env("CANISHARE_DELIVERY_FALLBACK_MINUTES")
    )
    delivery_lease_seconds: float = Field(
        60.0, ge=0.5, le=3600, validation_alias=_env("CANISHARE_DELIVERY_LEASE_SECONDS")
    )
    clock_interval: float = Field(
        10.0, ge=0.05, le=600, validation_alias=_env("CANISHARE_CLOCK_INTERVAL")
    )
    # --- the law in time (guidance C0 T3) ------------------------------------------------------
    commencements: str = Field(
        "", validation_alias=_env("CANISHARE_COMMENCEMENTS"),
        description="Commencement dates the operator confirms, `id=YYYY-MM-DD` separated by commas "
        "(e.g. crime-and-policing-csa-mandatory-reporting=2027-01-01): switches a provision that "
        "`canishare flows check` lists as coming on from that date, or corrects a provisional date.",
    )

    @field_validator("database", mode="before")
    @classmethod
    def _database_text(cls, value: object) -> object:
        return str(value) if isinstance(value, Path) else value

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from bot.storage.database import database_url_problem

        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c in value for c in " /:") and not _is_ipv6(value):
            raise ValueError("must be an address to listen on, e.g. 127.0.0.1 (this machine only, "
                             "behind a reverse proxy) or 0.0.0.0 (every interface, e.g. in a container)")
        return value

    @property
    def uses_postgresql(self) -> bool:
        return self.database.lower().startswith(("postgres://", "postgresql"))

    @field_validator("log_key", "log_old_keys")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from bot.storage.chain import Key

            for part in value.get_secret_value().split(","):
                if part.strip():
                    Key.parse(part)  # raises ValueError with what is wrong, never the key itself
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value() if value is not None else ""
        if not text.strip():
            return None
        if len(text) < 16 or not text.isascii():
            raise ValueError("use at least 16 random ASCII characters (e.g. `openssl rand -hex 24`)")
        return value

    @field_validator("slack_api_base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("weekly_export_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError("must be HH:MM, e.g. 08:00")
        return f"{int(hours):02d}:{int(minutes):02d}"

    @field_validator("working_hours")
    @classmethod
    def _hours_range(cls, value: str) -> str:
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError("must be HH:MM-HH:MM, e.g. 08:00-18:00")
        for part in (start, end):
            cls._hh_mm(part)
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: str) -> str:
        from bot.dsl.hours import working_days

        try:
            if not working_days(value):
                raise ValueError
        except ValueError:
            raise ValueError("must be days like mon-fri or mon,wed,fri") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/London)") from None
        return value

    @field_validator("commencements")
    @classmethod
    def _commencements(cls, value: str) -> str:
        parse_commencements(value)
        return value

    @property
    def commencement_dates(self) -> dict[str, date]:
        """`commencement.<id>` -> the date it applies from (T3)."""
        return parse_commencements(self.commencements)

    @property
    def slack_desk_configured(self) -> bool:
        """Slack escalations go to a DSL channel only when the bot can post there."""
        return bool(self.slack_bot_token and self.dsl_channel)

    @property
    def dsl_ids(self) -> set[str]:
        return {item.strip() for item in self.dsl_user_ids.split(",") if item.strip()}

    @property
    def deputy_ids(self) -> set[str]:
        return {item.strip() for item in self.deputy_dsl_user_ids.split(",") if item.strip()}

    # --- Teams ---------------------------------------------------------------------------------
    # Checked by `canishare teams serve` (bot/channels/teams/config.py), not here, so a wrong Teams
    # value never stops the terminal chat or Slack.
    teams_client_id: str = Field("", validation_alias=_env("TEAMS_CLIENT_ID"))
    teams_client_secret: SecretStr | None = Field(None, validation_alias=_env("TEAMS_CLIENT_SECRET"))
    teams_tenant_id: str = Field("", validation_alias=_env("TEAMS_TENANT_ID"))
    teams_dsl_team_id: str = Field("", validation_alias=_env("TEAMS_DSL_TEAM_ID"))
    teams_dsl_channel_id: str = Field("", validation_alias=_env("TEAMS_DSL_CHANNEL_ID"))
    teams_dsl_user_ids: str = Field("", validation_alias=_env("TEAMS_DSL_USER_IDS"))
    teams_deputy_dsl_user_ids: str = Field("", validation_alias=_env("TEAMS_DEPUTY_DSL_USER_IDS"))
    teams_openid_metadata_url: str = Field("", validation_alias=_env("TEAMS_OPENID_METADATA_URL"))
    teams_port: int = Field(3978, ge=1, le=65535, validation_alias=_env("TEAMS_PORT"))
    teams_service_url: str = Field("https://smba.trafficmanager.net/teams/",
                                   validation_alias=_env("TEAMS_SERVICE_URL"))
    teams_invoke_budget_seconds: float = Field(
        4.0, ge=0.05, le=10, validation_alias=_env("TEAMS_INVOKE_BUDGET_SECONDS"))

    @property
    def teams_desk_configured(self) -> bool:
        """Teams escalations go to the DSL team's channel once the bot and that channel are set;
        `teams_config` checks each value when the desk is built."""
        return bool(self.teams_client_id.strip() and self.teams_dsl_team_id.strip()
                    and self.teams_dsl_channel_id.strip())
    # --- end of Teams ----------------------------------------------------------------------------
    # --- the web console for DSLs (`canishare web`; checked by that command, not here) -----------
    web_port: int = Field(8080, ge=1, le=65535, validation_alias=_env("CANISHARE_WEB_PORT"))
    web_url: str = Field("", validation_alias=_env("CANISHARE_WEB_URL"),
                         description="The console's public address, e.g. https://dsl.example.org; "
                         "the sign-in redirect URL is this plus /auth/callback.")
    web_session_secret: SecretStr | None = Field(None, validation_alias=_env("CANISHARE_WEB_SESSION_SECRET"))
    web_idle_minutes: int = Field(30, ge=1, le=720, validation_alias=_env("CANISHARE_WEB_IDLE_MINUTES"))
    web_oidc_provider: Literal["slack", "entra"] = Field(
        "slack", validation_alias=_env("CANISHARE_WEB_OIDC_PROVIDER"))
    web_oidc_issuer: str = Field("", validation_alias=_env("CANISHARE_WEB_OIDC_ISSUER"),
                                 description="Default: https://slack.com, or Entra's "
                                 "https://login.microsoftonline.com/{TEAMS_TENANT_ID}/v2.0.")
    web_oidc_client_id: str = Field("", validation_alias=_env("CANISHARE_WEB_OIDC_CLIENT_ID"))
    web_oidc_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("CANISHARE_WEB_OIDC_CLIENT_SECRET"))


def parse_commencements(value: str) -> dict[str, date]:
    """`a=2027-01-01, b=2026-09-01` -> {a: date, b: date}; a wrong entry raises ValueError saying
    which one and why."""
    found: dict[str, date] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, when = part.partition("=")
        key = key.strip().removeprefix("commencement.")
        if not sep or not key:
            raise ValueError(f"{part.strip()!r}: expected id=YYYY-MM-DD")
        try:
            found[key] = date.fromisoformat(when.strip())
        except ValueError:
            raise ValueError(f"{key}: {when.strip()!r} is not a date YYYY-MM-DD") from None
    return found


def _is_ipv6(value: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(value.strip("[]")).version == 6
    except ValueError:
        return False


def _alias_of(field_name: str) -> str:
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field_name.upper()


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning validation errors into one line per variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = _alias_of(field) if field in Settings.model_fields else field
            lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("; ".join(lines)) from None


def require(settings: Settings, *fields: str) -> None:
    """Fail with one clear line when a command needs settings that are not set."""
    missing = [_alias_of(name) for name in fields if not getattr(settings, name)]
    if missing:
        raise SettingsError(
            f"{', '.join(missing)} not set: add it to .env (see .env.example) or the environment"
        )
