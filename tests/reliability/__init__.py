"""Reliability: faults injected for real, hostile input, secrets and privileges.

Helpers shared by the reliability tests live here: where a day sits in the lake, the ledger,
bounded polling (never a sleep standing in for a state), and running the real CLI in a
subprocess that can be killed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from surveil.manifest import COLUMNS, MANIFEST_NAME, OPTIONAL_COLUMNS, Manifest, describe_file
from surveil.settings import Settings
from tests.conftest import count_day

T = TypeVar("T")


def lake_day(settings: Settings, day: dt.date) -> Path:
    """The day's folder in a local lake."""
    return Path(settings.lake_uri) / f"trade_date={day.isoformat()}"


def reissue_manifest(folder: Path, source: dict | None = None) -> Manifest:
    """Describe every CSV in a lake day folder again and write its manifest, as a producer
    that wrote (possibly bad) data with an honest manifest would."""
    old = Manifest.from_bytes((folder / MANIFEST_NAME).read_bytes(), str(folder))
    files = {}
    for table, columns in {**COLUMNS, **OPTIONAL_COLUMNS}.items():
        path = folder / f"{table}.csv"
        if path.exists():
            files[path.name] = describe_file(path, columns)
    manifest = Manifest(old.trade_date, files, source if source is not None else old.source)
    (folder / MANIFEST_NAME).write_bytes(manifest.to_bytes())
    return manifest


def ledger(conn: psycopg.Connection, day: dt.date | None = None) -> list[str]:
    """The load_runs actions, oldest first (of one day, or of every day)."""
    if day is None:
        rows = conn.execute("SELECT action FROM load_runs ORDER BY run_id").fetchall()
    else:
        rows = conn.execute(
            "SELECT action FROM load_runs WHERE trade_date = %s ORDER BY run_id", (day,)
        ).fetchall()
    return [r[0] for r in rows]


def table_count(conn: psycopg.Connection, table: str) -> int:
    """Rows in `table` (0 when the table does not exist yet)."""
    from psycopg import sql

    if not exists(conn, table):
        return 0
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def leftover_tables(conn: psycopg.Connection) -> list[str]:
    """Tables a load creates for itself and renames or drops before it commits."""
    rows = conn.execute(
        r"SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE '%\_new' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def assert_day_absent(conn: psycopg.Connection, day: dt.date) -> None:
    """Nothing of the day in the warehouse: no rows, no ledger row, no half-built partition
    (a database the failed command never migrated counts as empty)."""
    if exists(conn, "load_runs"):
        assert count_day(conn, "orders", day) == 0
        assert count_day(conn, "executions", day) == 0
        assert ledger(conn, day) == []
    assert leftover_tables(conn) == []


def wait_until(
    probe: Callable[[], T | None], what: str, timeout: float = 60.0, every: float = 0.005
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds.

    The pause between probes only spaces the polling; no assertion ever depends on how long
    something takes."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


def surveil_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "surveil", *args]


def spawn(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start the real CLI in a subprocess; it inherits the test's SURVEIL_* environment."""
    return subprocess.Popen(
        surveil_command(*args),
        env=env if env is not None else dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def kill9(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@contextmanager
def reaped(*processes: subprocess.Popen) -> Iterator[None]:
    """Never leave a child running when a test fails half-way."""
    try:
        yield
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
            for stream in (p.stdout, p.stderr, p.stdin):
                if stream is not None:
                    stream.close()


@contextmanager
def isolated_environment() -> Iterator[pytest.MonkeyPatch]:
    """For module-scoped fixtures, which run outside the per-test environment clean-up."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("SURVEIL_", "AWS_")) or key in ("DATA_DIR", "S3_BUCKET"):
                mp.delenv(key, raising=False)
        yield mp
