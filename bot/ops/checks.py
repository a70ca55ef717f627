"""The checks every installation needs, whatever its channels: settings, flows, database, log
key and the clock. Channel checks are in `bot/channels/slack/doctor.py` and `.../teams/doctor.py`."""

from __future__ import annotations

from collections.abc import Iterator

from bot.ops.doctor import Check, fail, guarded, no_dsl_route, ok, warn
from bot.settings import Settings, SettingsError

MIGRATE_FIX = "run `canishare db migrate` once (the container runs it at start)"


def all_checks(services: object) -> Iterator[Check]:
    """Every check, in the order an admin fixes things: settings first, channels last."""
    from bot.channels.slack.doctor import slack_checks
    from bot.channels.teams.doctor import teams_checks

    s: Settings = services.settings  # type: ignore[attr-defined]
    yield from guarded("Settings", lambda: settings_checks(s))
    yield from guarded("Flows", lambda: flow_checks(services))
    database_ok = []
    yield from guarded("Database", lambda: database_checks(services, database_ok))
    if database_ok:
        yield from guarded("Clock", lambda: clock_checks(services))
    if s.slack_bot_token is not None:
        yield from guarded("Slack", lambda: slack_checks(s))
    if s.teams_client_id.strip():
        yield from guarded("Teams", lambda: teams_checks(services))


def settings_checks(s: Settings) -> Iterator[Check]:
    route = no_dsl_route(s)
    if route:
        yield fail(f"DSL route: {route}", "set CANISHARE_DSL_CHANNEL to the private DSL channel's id "
                   "(Slack), or TEAMS_DSL_TEAM_ID and TEAMS_DSL_CHANNEL_ID (Teams): README, Connect to "
                   "Slack or Connect to Microsoft Teams")
    else:
        where = [name for name, on in (("Slack", s.slack_desk_configured),
                                       ("Teams", s.teams_desk_configured)) if on]
        yield ok(f"DSL route: urgent answers alert the DSL channel in {' and '.join(where)}")
    if s.slack_bot_token is not None and s.slack_signing_secret is None:
        yield fail("Slack: SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not",
                   "copy the Signing Secret from the Slack app's Basic Information page")
    if s.dsl_channel and s.slack_bot_token is None:
        yield fail("Slack: CANISHARE_DSL_CHANNEL is set but SLACK_BOT_TOKEN is not",
                   "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions")
    if (s.teams_dsl_team_id.strip() or s.teams_dsl_channel_id.strip()) and not s.teams_client_id.strip():
        yield fail("Teams: the DSL team is set but TEAMS_CLIENT_ID is not",
                   "set TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID (README: Teams, step 1)")
    if s.slack_desk_configured and not s.deputy_ids:
        yield warn("Slack: no CANISHARE_DEPUTY_DSL_USER_IDS: an unclaimed urgent escalation is "
                   "reminded in the DSL channel only", "list a deputy DSL's Slack member id")
    if s.host == "0.0.0.0":
        yield ok("Settings: HOST=0.0.0.0: the web servers listen on every interface (a container, "
                 "or a firewall in front)")


def flow_checks(services: object) -> Iterator[Check]:
    bundle = services.bundle  # type: ignore[attr-defined]
    yield ok(f"Flows: {len(bundle.flows)} flows load from {services.flows_dir} "  # type: ignore[attr-defined]
             f"(version {bundle.version_hash})")


def database_checks(services: object, reached: list[bool]) -> Iterator[Check]:
    """Reachable, migrated and writable, each named; `reached` gets True when all three hold."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.core.clock import iso
    from bot.storage import Storage, StorageError
    from bot.storage.migrations import LATEST, current_version
    from bot.storage.schema import job_runs

    s: Settings = services.settings  # type: ignore[attr-defined]
    try:
        keyring = services.keyring  # type: ignore[attr-defined]
    except SettingsError as exc:
        yield fail(f"Log key: {exc}", "set CANISHARE_LOG_KEY in every process's environment "
                   "(`canishare log key` makes one; keep a copy away from the database)")
        return
    if s.log_key is None:
        yield warn("Log key: CANISHARE_LOG_KEY not set; using this user's key file",
                   "on a server, set CANISHARE_LOG_KEY so every process (web, clock, backups) "
                   "signs the log with the same key")
    else:
        yield ok("Log key: CANISHARE_LOG_KEY is set")
    try:
        storage = Storage(s.database, services.clock, create=False, check_schema=False,  # type: ignore[attr-defined]
                          keyring=keyring, pool_size=1)
        with storage.engine.connect() as conn:
            version = current_version(conn)
    except (StorageError, SQLAlchemyError) as exc:
        yield fail(f"Database: cannot reach it ({str(exc).splitlines()[0]})",
                   "check DATABASE_URL, that the server is running and that this machine may "
                   "connect; then `canishare db migrate`")
        return
    where = storage.where
    yield ok(f"Database: reachable at {where}")
    if version is None:
        yield fail("Database: empty (no tables yet)", MIGRATE_FIX)
        return
    if version != LATEST:
        yield fail(f"Database: schema {version}, this version of canishare needs {LATEST}", MIGRATE_FIX)
        return
    yield ok(f"Database: migrated (schema {version})")
    try:
        with storage.engine.connect() as conn:
            conn.execution_options(canishare_write=True)
            probe = conn.begin()
            now = iso(services.clock.now())  # type: ignore[attr-defined]
            conn.execute(job_runs.insert().values(job="doctor", period="write-probe", ran_at=now))
            probe.rollback()
    except SQLAlchemyError as exc:
        yield fail(f"Database: cannot write ({str(exc).splitlines()[0][:160]})",
                   "give the canishare user write access to the database (file and folder for SQLite; "
                   "INSERT/UPDATE/DELETE grants for PostgreSQL)")
        return
    finally:
        storage.close()
    yield ok("Database: writable")
    reached.append(True)


def clock_checks(services: object) -> Iterator[Check]:
    """The clock's heartbeat (reminders to the deputy, the weekly export, the purge) and the
    outbox: nothing owed to anyone waiting past the fallback deadline."""
    from bot.dsl.health import clock_heartbeat_at, readiness

    s: Settings = services.settings  # type: ignore[attr-defined]
    storage, clock = services.storage, services.clock  # type: ignore[attr-defined]
    last = clock_heartbeat_at(storage)
    limit = 3 * s.clock_interval
    if last is None:
        yield fail("Clock: `canishare clock` has never run against this database: no reminder "
                   "reaches a deputy, no weekly export, no purge",
                   "start `canishare clock` as its own always-on process (README: Deploy)")
    elif (age := (clock.now() - last).total_seconds()) > limit:
        yield fail(f"Clock: silent for {_duration(age)} (it ticks every {s.clock_interval:g} s): "
                   "reminders are not being sent",
                   "restart `canishare clock` (systemctl restart canishare-clock, or the container's "
                   "clock service) and read its log")
    else:
        yield ok(f"Clock: alive (last tick {_duration(age)} ago)")
    ready = readiness(storage, clock, clock_interval=s.clock_interval,
                      fallback_minutes=s.delivery_fallback_minutes)
    for check in ready.checks:
        if check.name == "deliveries":
            yield (ok(f"Deliveries: {check.detail}") if check.ok else
                   fail(f"Deliveries: {check.detail}", "read the log for DELIVERY FAILED lines: the "
                        "channel's checks below usually name the cause"))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
