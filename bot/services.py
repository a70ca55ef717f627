"""The composition root: the one place that builds settings, the clock, storage, the flows, the
DSL desk with each configured channel's notifier, conversations and the scheduler, and hands
each part what it needs in its constructor. Only here are the storage backend and the channels
that run chosen; the core never reaches for a global.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.analysis.load import load_bundle
from bot.core.clock import SYSTEM_CLOCK, Clock, today
from bot.core.conversations import Conversations
from bot.core.engine import Engine
from bot.dsl.desk import DslDesk
from bot.dsl.health import Readiness, readiness
from bot.dsl.outbox import RetryPolicy
from bot.dsl.ports import DeskPolicy, DslDirectory, DslNotifier
from bot.dsl.scheduler import DeliveryLoop, Schedule, Scheduler
from bot.flows.law import Law, provisions
from bot.flows.loader import FlowBundle
from bot.settings import Settings, SettingsError
from bot.storage import Key, Keyring, Storage

if TYPE_CHECKING:
    from bot.ops.metrics import MetricsEndpoint

KEY_FILE_NOTE = ("no CANISHARE_LOG_KEY: using the log key in %s (set CANISHARE_LOG_KEY for a server, "
                 "and keep a copy of the key away from the database)")


def key_file() -> Path:
    from platformdirs import user_config_path

    return user_config_path("canishare", appauthor=False) / "log.key"


def load_keyring(settings: Settings) -> Keyring:
    """The log key from CANISHARE_LOG_KEY (and older ones to verify with). Without one, SQLite
    on one machine uses a key file in the user's config folder, made on first use (readable by
    the owner only, never in the database); PostgreSQL serves several machines, so it needs the
    setting."""
    old = tuple(Key.parse(p) for p in (settings.log_old_keys.get_secret_value() if settings.log_old_keys
                                       else "").split(",") if p.strip())
    if settings.log_key is not None:
        return Keyring(Key.parse(settings.log_key.get_secret_value()), old)
    if settings.uses_postgresql:
        raise SettingsError("CANISHARE_LOG_KEY: required with PostgreSQL (every process must chain the "
                            "log with the same key): generate one with `canishare log key`")
    path = key_file()
    if not path.exists():
        _write_key_file(path)
    if path.stat().st_mode & 0o077:
        raise SettingsError(f"CANISHARE_LOG_KEY not set, and the key file {path} is readable by others: "
                            f"`chmod 600 {path}`, or set CANISHARE_LOG_KEY")
    text = path.read_text().strip()
    try:
        key = Key.parse(text)
    except ValueError as exc:
        raise SettingsError(f"CANISHARE_LOG_KEY not set, and {path} holds no usable log key ({exc}): "
                            "restore it from your copy (rows made with it need it to verify)") from None
    logging.getLogger("canishare").info(KEY_FILE_NOTE, path)
    return Keyring(key, old)


def _write_key_file(path: Path) -> None:
    """A new key, written whole or not at all (two processes starting at once make one key)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(Key.generate() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if another process made the key first: theirs stands
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


class Services:
    """Lazily built parts: a command pays only for what it uses (`flows check` opens no
    database; `purge` builds no chat client)."""

    def __init__(self, settings: Settings, clock: Clock = SYSTEM_CLOCK, *,
                 flows_dir: Path | None = None, storage: Storage | None = None,
                 teams_token: Callable[[str, str | None], str] | None = None):
        self.settings, self.clock = settings, clock
        self.flows_dir = flows_dir or settings.flows_dir
        self.teams_token = teams_token  # replaces Entra sign-in for Teams calls: tests and benchmarks only
        if storage is not None:
            self.__dict__["storage"] = storage

    @cached_property
    def bundle(self) -> FlowBundle:
        return load_bundle(self.flows_dir)

    @cached_property
    def engine(self) -> Engine:
        """The engine with the operator's commencement settings (T3), as at today's date; each
        conversation re-dates it from the clock at every step (T1)."""
        commencements = self.settings.commencement_dates
        unknown = sorted(set(commencements) - provisions(self.bundle))
        if unknown:
            raise SettingsError(f"CANISHARE_COMMENCEMENTS: {', '.join(unknown)} is not a provision the flows "
                                f"date (see `canishare flows check`)")
        return Engine(self.bundle, Law(on=today(self.clock, self.settings.timezone),
                                       commencements=MappingProxyType(commencements)))

    @cached_property
    def keyring(self) -> Keyring:
        return load_keyring(self.settings)

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings.database, self.clock, keyring=self.keyring)

    def existing_storage(self) -> Storage:
        """The database for commands that only read or tidy it: a missing SQLite file is an
        error that says where it looked, not a new empty log."""
        if "storage" not in self.__dict__:
            self.__dict__["storage"] = Storage(self.settings.database, self.clock, create=False,
                                               keyring=self.keyring)
        return self.storage

    # --- the DSL side ---------------------------------------------------------------------
    @cached_property
    def desk_policy(self) -> DeskPolicy:
        s = self.settings
        return DeskPolicy(timezone=s.timezone, remind_urgent_minutes=s.remind_urgent_minutes,
                          remind_routine_minutes=s.remind_routine_minutes,
                          working_hours=s.working_hours, working_days=s.working_days,
                          out_of_hours_route=s.out_of_hours_route,
                          fallback_attempts=s.delivery_fallback_attempts,
                          fallback_minutes=s.delivery_fallback_minutes)

    @cached_property
    def desk_channels(self) -> dict[str, tuple[DslNotifier, DslDirectory]]:
        """The notifier and directory of each channel whose DSL desk is configured."""
        parts: dict[str, tuple[DslNotifier, DslDirectory]] = {}
        if self.settings.slack_desk_configured:
            from bot.channels.slack.notifier import slack_desk

            parts["slack"] = slack_desk(self.settings)
        if self.settings.teams_desk_configured:
            from bot.channels.teams.notifier import teams_desk

            parts["teams"] = teams_desk(self.settings, self.storage, self.clock, token=self.teams_token)
        return parts

    @cached_property
    def desk(self) -> DslDesk | None:
        """None when no channel has a DSL desk (the terminal alone, or Slack without a channel)."""
        if not self.desk_channels:
            return None
        notifiers = {name: pair[0] for name, pair in self.desk_channels.items()}
        directories = {name: pair[1] for name, pair in self.desk_channels.items()}
        return DslDesk(self.storage, self.clock, self.bundle, self.desk_policy, notifiers, directories,
                       RetryPolicy(fallback_attempts=self.settings.delivery_fallback_attempts,
                                   fallback_minutes=self.settings.delivery_fallback_minutes,
                                   lease_seconds=self.settings.delivery_lease_seconds))

    def conversations(self, channel: str, *, practice: bool = False) -> Conversations:
        """Checks in `channel`. Practice checks are kept apart (their own channel name), never
        reach the decision log and never alert a DSL."""
        if practice:
            return Conversations(self.engine, self.storage, f"practice:{channel}", self.clock, practice=True)
        return Conversations(self.engine, self.storage, channel, self.clock, desk=self.desk)

    def readiness(self) -> Readiness:
        """What `/readyz` and operators' checks report (see `bot/dsl/health.py`)."""
        return readiness(self.storage, self.clock, clock_interval=self.settings.clock_interval,
                         fallback_minutes=self.settings.delivery_fallback_minutes)

    def metrics(self) -> MetricsEndpoint | None:
        """`/metrics` for the web servers; None (no such page) unless CANISHARE_METRICS_TOKEN is set."""
        if self.settings.metrics_token is None:
            return None
        from bot.ops.metrics import MetricsEndpoint

        return MetricsEndpoint(self.storage, self.clock, self.settings.metrics_token.get_secret_value())

    def delivery_loop(self) -> DeliveryLoop | None:
        """The web process's own deliverer (retries and fallbacks without a clock); None when
        no channel has a DSL desk."""
        if self.desk is None:
            return None
        return DeliveryLoop(self.storage, self.clock, self.desk, interval=self.settings.clock_interval)

    def scheduler(self) -> Scheduler:
        s = self.settings
        schedule = Schedule(timezone=s.timezone, weekly_export_day=s.weekly_export_day,
                            weekly_export_time=s.weekly_export_time, retention_days=s.retention_days)
        return Scheduler(self.storage, self.clock, schedule, self.desk, interval=s.clock_interval,
                         fallback_minutes=s.delivery_fallback_minutes)
