"""The dbt project's tests: their own venv (.venv-dbt: `pip install -e '.[dbt]' pytest`).

Each test has its own SURVEIL_HOME, so its own embedded PostgreSQL, filled by the real
`surveil` CLI; dbt runs as dbt/run.py runs it, in a subprocess, with its target and logs in
the test's temporary folder (never in the checkout, so parallel runs stay apart).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from surveil.db import connect
from surveil.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "dbt" / "run.py"
BIN = Path(sys.executable).parent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith(("SURVEIL_", "AWS_", "DBT_")):
            monkeypatch.delenv(key)
    path = tmp_path / "surveil"
    monkeypatch.setenv("SURVEIL_HOME", str(path))
    monkeypatch.setenv("SURVEIL_CONNECT_RETRIES", "0")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt-target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt-logs"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.chdir(tmp_path)
    yield path


def surveil(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / "surveil"), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def dbt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """python dbt/run.py ARGS, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def query(home: Path, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connect(Settings(home=home)) as conn:
        return conn.execute(sql, params).fetchall()


def execute(home: Path, sql: str) -> None:
    with connect(Settings(home=home)) as conn:
        conn.execute(sql)
