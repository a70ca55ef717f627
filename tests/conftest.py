"""Shared fixtures: real flow folders, real SQLite files in temp dirs, a CLI runner."""

from __future__ import annotations

import functools
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

from bot.analysis.load import load_bundle
from bot.core.clock import FrozenClock
from bot.core.conversations import Conversations
from bot.core.engine import Engine, OutcomeStep
from bot.flows.loader import FlowBundle
from bot.storage import Decision, Storage

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FLOWS = ROOT / "tests" / "fixtures" / "sample_flows"
REAL_FLOWS = ROOT / "flows"
# Guidance edition 2 exactly as shipped before edition 3: scenario tests show they fail there.
EDITION2_FLOWS = ROOT / "tests" / "fixtures" / "edition2_flows"
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


@functools.cache
def real_flows() -> FlowBundle:
    """The shipped flows, loaded once (for fixtures and for module-level walks)."""
    return load_bundle(REAL_FLOWS)


@pytest.fixture(scope="session")
def real_bundle() -> FlowBundle:
    return real_flows()


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


# --- profile questions in scripted walks ----------------------------------------------------------
# Most checks begin with the profile questions (manifest `profile_questions`: nation, organisation,
# role, and in Wales whether you are a relevant partner). A scripted walk names the answers it is
# about; any profile question it does not answer gets the answer here, so adding a profile question
# means adding one line here, not editing every walk.
PROFILE_ANSWERS: dict[str, str] = {"jurisdiction": "england", "org_type": "public_body",
                                   "profession": "teacher", "wales_relevant_partner": "no"}


def profile_fill(bundle: FlowBundle, question_id: str, wanted: str | list[str] | None) -> str | None:
    """The answer to give first when the question on screen is a profile question that does not
    offer the walk's next answer `wanted`; None when the walk answers this question itself."""
    question = next((node for flow in bundle.flows.values() for node in flow.nodes
                     if node.id == question_id and hasattr(node, "choices")), None)
    if question is None or question.key not in bundle.manifest.profile_questions:
        return None
    if isinstance(wanted, str) and question.choice(wanted) is not None:
        return None
    assert question.key in PROFILE_ANSWERS, (
        f"profile question {question.key!r} has no answer in tests/conftest.py PROFILE_ANSWERS")
    return PROFILE_ANSWERS[question.key]


def with_profile(bundle: FlowBundle, answers: list[str], remembered: dict[str, str] | None = None) -> list[str]:
    """`answers` (answer ids, one per question, in order) with the profile answers they leave out
    put where the flows ask them, as a person would click them from a fresh check (`remembered`:
    the profile the channel already knows, so it is not asked)."""
    engine = Engine(bundle)
    state = engine.answer_known(engine.start(), remembered or {})
    clicks: list[str] = []
    for wanted in answers:
        for _ in range(len(bundle.manifest.profile_questions) + 1):
            step = engine.current(state)
            assert not isinstance(step, OutcomeStep), f"the walk reached {step.outcome.id} before {wanted!r}"
            fill = profile_fill(bundle, step.question.id, wanted)
            value = fill or wanted
            state = engine.answer_known(engine.answer(state, step.question.id, value), remembered or {})
            clicks.append(value)
            if fill is None:
                break
    return clicks


def answer_for(bundle: FlowBundle, question_id: str, answers: dict[str, str | list[str]]) -> str | list[str]:
    """The answer a walk given as {question key: answer id} gives the question `question_id`
    (a profile question it leaves out gets PROFILE_ANSWERS); an unexpected question fails."""
    question = next(node for flow in bundle.flows.values() for node in flow.nodes
                    if node.id == question_id and hasattr(node, "choices"))
    if question.key in answers:
        return answers[question.key]
    fill = profile_fill(bundle, question_id, None)
    assert fill is not None, f"the walk has no answer for {question.key!r} ({question.text})"
    return fill


# A police request for a criminal investigation, without a court order, that shows a risk to a
# child nobody has referred (guidance edition 2, C0 record-then-refer): the referral is the answer
# (O03: a parent or carer may have hurt the child) and the request is answered under it ("Also:",
# O22: ask for a written request, your DPO decides). Add the `profession` to answer as.
REQUEST_REVEALING_RISK: dict[str, str | list[str]] = {
    "immediate_danger": "no", "jurisdiction": "england", "org_type": "nhs_health",
    "situation": "respond_to_request", "rq_verified": "yes", "rq_requester": "police",
    "rq_unreferred_risk": "yes", "rq_written_purpose": "yes", "rq_police_purpose": "criminal_investigation",
    "rq_court_order": "no", "concern_type": ["physical_abuse_by_carer"]}
GMC_NOTE = "GMC Protecting children and young people (2012, updated 2018)"
