"""PostgreSQL: connecting (configured URL or the embedded server, see embedded.py),
migrations, day locks."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from surveil.embedded import embedded_url
from surveil.errors import ConfigError, DayLockedError, RetryLaterError, UnavailableError
from surveil.manifest import sha256_file
from surveil.settings import Settings

log = logging.getLogger(__name__)

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
        url = embedded_url(settings)
        where = "embedded PostgreSQL"
    raw_password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    password = None if raw_password is None else str(raw_password)
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
        return sha256_file(self.path)


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
        applied: dict[int, str] = dict(
            conn.execute("SELECT version, sha256 FROM schema_migrations")
        )
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
    applied: dict[int, str] = dict(
        conn.execute("SELECT version, sha256 FROM schema_migrations").fetchall()
    )
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
