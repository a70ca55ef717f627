"""Shared fixtures: real flow folders, real SQLite files in temp dirs, a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import FrozenClock
from bot.core.conversations import Conversations
from bot.core.engine import Engine
from bot.flows.loader import FlowBundle, load_bundle
from bot.storage import Decision, Storage

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FLOWS = ROOT / "tests" / "fixtures" / "sample_flows"
REAL_FLOWS = ROOT / "flows"
# What the invariant tests checked (paths, ends, route pairs), printed at the end of the run:
# pytest hides a passing test's output.
RUN_SUMMARY: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if RUN_SUMMARY:
        terminalreporter.section("safety invariants checked")
        for line in RUN_SUMMARY.values():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def sample_bundle() -> FlowBundle:
    return load_bundle(SAMPLE_FLOWS)


@pytest.fixture(scope="session")
def real_bundle() -> FlowBundle:
    return load_bundle(REAL_FLOWS)


@pytest.fixture
def sample_engine(sample_bundle: FlowBundle) -> Engine:
    return Engine(sample_bundle)


@pytest.fixture(scope="session")
def real_engine(real_bundle: FlowBundle) -> Engine:
    return Engine(real_bundle)


MONDAY_10AM = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # Europe/London is on UTC in November


@pytest.fixture
def clock() -> FrozenClock:
    """Tests never read the wall clock: time moves when a test moves it."""
    return FrozenClock(MONDAY_10AM)


@pytest.fixture
def storage(tmp_path: Path, clock: FrozenClock) -> Storage:
    store = Storage(tmp_path / "log.db", clock)
    yield store
    store.close()


# --- both backends -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL for the run (started here, stopped at the end). Missing on a developer's
    machine: those tests are skipped; in CI (CI=true) that is a failure, never a skip."""
    from tests import postgres as pg

    if not pg.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run (make test) installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed here (make test installs it when it can)")
    server = pg.TempPostgres().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres) -> str:
    """One migrated PostgreSQL database for the run; `database` empties it before each test."""
    url = postgres.create_database()
    Storage(url).close()
    return url


def empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from bot.storage.database import normalise_url
    from bot.storage.schema import metadata

    engine = create_engine(normalise_url(url), poolclass=None)
    names = ", ".join(t.name for t in metadata.sorted_tables if t.name != "schema_migrations")
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """The same test on SQLite (a file) and on PostgreSQL (an emptied database)."""
    if request.param == "sqlite":
        return str(tmp_path / "canishare.db")
    url = request.getfixturevalue("postgres_database")
    empty_postgres(url)
    return url


@pytest.fixture
def store(database, clock) -> Storage:
    """Storage on each backend in turn."""
    storage = Storage(database, clock)
    yield storage
    storage.close()


# --- one-line helpers over the unit-of-work API ------------------------------------------------
def record(storage: Storage, decision: Decision) -> int:
    with storage.transaction() as tx:
        return tx.decisions.record(decision)


def decisions(storage: Storage, **filters: Any) -> list[dict[str, Any]]:
    with storage.read() as tx:
        return list(tx.decisions.iter(**filters))


def verify(storage: Storage) -> tuple[int, str | None]:
    with storage.read() as tx:
        return tx.decisions.verify()


def conversations(engine: Engine, storage: Storage, channel: str = "test", **kw: Any) -> Conversations:
    return Conversations(engine, storage, channel, storage.clock, **kw)


@pytest.fixture
def flows_copy(tmp_path: Path) -> Callable[..., Path]:
    """A writable copy of the sample flows; pass edits as {filename: new text}."""

    def make(edits: dict[str, str | None] | None = None, source: Path = SAMPLE_FLOWS) -> Path:
        target = tmp_path / f"flows_{len(list(tmp_path.glob('flows_*')))}"
        shutil.copytree(source, target)
        for name, text in (edits or {}).items():
            if text is None:
                (target / name).unlink()
            else:
                (target / name).write_text(text, encoding="utf-8")
        return target

    return make


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no SLACK_*/CANISHARE_* leaking from outside."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "CANISHARE_")) and k != "PORT"}
    env.update(extra)
    return env


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m bot ...` in a temp working dir (so no .env is read) with its own DB."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        environment = clean_env(CANISHARE_DATABASE=str(tmp_path / "cli.db"),
                                XDG_CONFIG_HOME=str(tmp_path / "config"))
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], input=input, capture_output=True, text=True,
            cwd=tmp_path, env=environment, timeout=timeout,
        )

    return run


def outcome_json(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout)


@pytest.fixture
def no_slack_env(monkeypatch):
    """Bolt reads SLACK_* implicitly: tests must not pick up a developer's real tokens."""
    for name in list(os.environ):
        if name.startswith("SLACK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake(no_slack_env):
    """A fake Slack Web API on 127.0.0.1 that records every call."""
    from tests.fakes.slack_api import FakeSlack

    server = FakeSlack().start()
    yield server
    server.stop()
