"""DATABASE_URL: only SQLite and PostgreSQL; a typo is one clear line, never a new SQLite file in a
folder named after the URL, and never the password on screen."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from bot.storage import Storage, StorageError
from bot.storage.database import normalise_url

SECRET = "s3cret-Pa55"

# Each typo from issue 21, and what the one line must say.
BAD_URLS = [
    (f"postgress://canishare:{SECRET}@db.school.internal/canishare", "did you mean postgresql://"),
    (f"mysql://canishare:{SECRET}@db.school.internal/canishare", "mysql: databases are not supported"),
    (f" postgresql://canishare:{SECRET}@db.school.internal/canishare", "starts or ends with a space"),
    (f"postgresql+psycopg2://canishare:{SECRET}@db/canishare", "driver 'psycopg2' is not installed"),
    (f"postgresql://canishare:{SECRET}@db:notaport/canishare", "is not a URL SQLAlchemy can read"),
    (f"postgresql:canishare:{SECRET}@db/canishare", "looks like postgresql://"),
]


@pytest.mark.parametrize(("url", "says"), BAD_URLS)
def test_a_bad_database_url_is_one_line_without_the_password(monkeypatch, url, says):
    monkeypatch.delenv("CANISHARE_DATABASE", raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("DATABASE_URL: ") and says in message
    assert SECRET not in message and "\n" not in message
    with pytest.raises(StorageError) as raised:  # Storage itself (db copy --from/--to) refuses too
        normalise_url(url)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(("url", "says"), BAD_URLS[:4])
def test_db_migrate_exits_non_zero_and_creates_no_file(run_cli, tmp_path, url, says):
    result = run_cli("db", "migrate", env={"DATABASE_URL": url})
    assert result.returncode == 2
    assert says in result.stderr and SECRET not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    made = [p.name for p in tmp_path.iterdir() if p.name not in ("config",)]
    assert made == [], f"files appeared: {made}"


def test_scheme_is_case_insensitive_so_PostgreSQL_means_postgresql():
    """RFC 3986 3.1: schemes are case-insensitive. `PostgreSQL://` is PostgreSQL, not a file."""
    assert normalise_url(f"PostgreSQL://u:{SECRET}@db/c") == f"postgresql+psycopg://u:{SECRET}@db/c"
    assert normalise_url("SQLite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_PostgreSQL_url_reaches_postgresql_not_a_sqlite_file(run_cli, tmp_path):
    # port 9 on localhost: nothing listens, so the attempt fails fast, and it fails as PostgreSQL
    result = run_cli("db", "migrate", env={"DATABASE_URL": f"PostgreSQL://u:{SECRET}@127.0.0.1:9/c",
                                           "CANISHARE_LOG_KEY": ""}, timeout=60)
    assert result.returncode != 0
    assert SECRET not in result.stderr + result.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name != "config"] == []


@pytest.mark.parametrize("url", ["postgresql://u@db/c", "postgres://u@db/c",
                                 "postgresql+psycopg://u@db/c", "sqlite:///tmp/a.db", "sqlite://",
                                 "/srv/canishare/canishare.db", "relative/file.db", r"C:\data\log.db"])
def test_good_values_are_accepted(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_settings().database == url


def test_a_plain_path_is_still_a_sqlite_file(tmp_path, clock):
    store = Storage(tmp_path / "plain.db", clock)
    assert store.where == str(tmp_path / "plain.db")
    store.close()


def test_host_defaults_to_this_machine_and_is_checked(monkeypatch):
    monkeypatch.delenv("HOST", raising=False)
    assert load_settings().host == "127.0.0.1"
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert load_settings().host == "0.0.0.0"
    monkeypatch.setenv("HOST", "::")
    assert load_settings().host == "::"
    monkeypatch.setenv("HOST", "http://0.0.0.0:3000")
    with pytest.raises(SettingsError, match="^HOST: "):
        load_settings()
