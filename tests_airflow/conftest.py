"""The Airflow DAG's tests: their own venv (.venv-airflow: `pip install -e '.[airflow]' pytest`).

Airflow reads its configuration when first imported, so the environment is set here, before
any test module imports it: a throwaway AIRFLOW_HOME with a SQLite metadata database
(migrated once per session), the DAG folder deploy/airflow, no example DAGs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAG_FOLDER = ROOT / "deploy" / "airflow"
DAG_FILE = DAG_FOLDER / "surveil_daily.py"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="surveil-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """The metadata database, migrated once (dag.test() records its runs there)."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
    )
    yield _AIRFLOW_HOME
