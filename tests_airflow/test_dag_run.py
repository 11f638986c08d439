"""dag.test() runs of the DAG through the real `surveil` CLI on the embedded PostgreSQL.

Each test has its own SURVEIL_HOME (so its own embedded server, data folder and lake) and
calls the `surveil` installed in this venv. Where a test needs the world to change between
two tasks (the database coming back, a lake file rotting), an Airflow callback on the task
does it, so nothing waits on a clock but Airflow's own one-second retry delay.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState

from surveil.db import connect
from surveil.settings import Settings
from tests_airflow.conftest import DAG_FOLDER

DAY = dt.date(2026, 11, 25)  # a Wednesday; its run starts Thursday (Thanksgiving) 06:00 UTC
RUN_OF_DAY = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
THANKSGIVING_RUN = dt.datetime(2026, 11, 27, 6, 0, tzinfo=dt.UTC)  # interval starts on 26th
STAGES = ["check_day", "generate_or_import", "upload", "load", "validate", "detect", "report"]
UNREACHABLE = "postgresql://surveil@127.0.0.1:9/surveil"  # the discard port: refused at once


@pytest.fixture
def surveil_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SURVEIL_HOME, this venv's surveil, no SURVEIL_*/AWS_* of the developer."""
    for key in list(os.environ):
        if key.startswith(("SURVEIL_", "AWS_")):
            monkeypatch.delenv(key)
    home = tmp_path / "surveil"
    monkeypatch.setenv("SURVEIL_HOME", str(home))
    monkeypatch.setenv("SURVEIL_BIN", str(Path(sys.executable).parent / "surveil"))
    monkeypatch.setenv("SURVEIL_CONNECT_RETRIES", "0")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    yield home


def load_dag(retry_delay_s: float = 1.0) -> Any:
    """The DAG as the DAG processor parses it; retries one second apart for the tests."""
    dag = DagBag(dag_folder=str(DAG_FOLDER)).dags["surveil_daily"]
    for task in dag.tasks:
        task.retry_delay = dt.timedelta(seconds=retry_delay_s)
        task.retry_exponential_backoff = 0
    return dag


def run(dag: Any, logical_date: dt.datetime, **conf: Any) -> tuple[Any, dict[str, Any]]:
    """dag.test() once; returns the run's state and its task instances by task id."""
    dr = dag.test(logical_date=logical_date, run_conf=conf or None)
    with create_session() as session:
        from airflow.models.taskinstance import TaskInstance

        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dr.run_id).all()
        by_id = {ti.task_id: ti for ti in tis}
        for ti in tis:
            session.expunge(ti)
    return dr.state, by_id


def xcom(ti: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, key="return_value")
            .one()
        )
        return XComModel.deserialize_value(row)


def day_counts(home: Path) -> dict[str, int]:
    """What the warehouse holds for DAY, read directly (not through the CLI)."""
    counts = {}
    with connect(Settings(home=home)) as conn:
        for table in ("orders", "executions", "accounts", "alerts"):
            row = conn.execute(
                f"SELECT count(*) FROM {table} WHERE trade_date = %s", (DAY,)
            ).fetchone()
            counts[table] = row[0]
    return counts


def test_a_trading_day_runs_every_stage_and_the_warehouse_holds_exactly_the_day(
    airflow_db: Path, surveil_env: Path
) -> None:
    state, tis = run(load_dag(), RUN_OF_DAY, orders=300, seed=7)

    assert state == DagRunState.SUCCESS
    assert {t: tis[t].state for t in STAGES} == dict.fromkeys(STAGES, TaskInstanceState.SUCCESS)
    assert all(tis[t].try_number == 1 for t in STAGES)
    day = xcom(tis["check_day"])
    assert day["trade_date"] == DAY.isoformat()  # the interval's start, not the run's date
    generated = xcom(tis["generate_or_import"])
    loaded = xcom(tis["load"])
    detected = xcom(tis["detect"])
    reported = xcom(tis["report"])
    assert generated["rows"]["orders"] == 300
    assert loaded["rows_inserted"]["orders"] == 300
    assert loaded["rows_inserted"]["executions"] == generated["rows"]["executions"]
    assert xcom(tis["validate"])["status"] == "passed"
    alerts = sum(r["alerts"] for r in detected["rules"])
    assert alerts > 0  # the generator plants abuse: a day without alerts means detect broke
    assert reported["alerts"] == alerts
    assert Path(reported["path"]).is_file()
    assert day_counts(surveil_env) == {
        "orders": 300,
        "executions": generated["rows"]["executions"],
        "accounts": generated["rows"]["accounts"],
        "alerts": alerts,
    }


def test_a_holiday_or_a_weekend_ends_the_run_as_skipped_not_failed(
    airflow_db: Path, surveil_env: Path
) -> None:
    dag = load_dag()
    for logical_date, conf in ((THANKSGIVING_RUN, {}), (RUN_OF_DAY, {"trade_date": "2026-11-28"})):
        state, tis = run(dag, logical_date, **conf)
        assert state == DagRunState.SUCCESS
        assert {t: tis[t].state for t in STAGES} == dict.fromkeys(STAGES, TaskInstanceState.SKIPPED)
    assert not (surveil_env / "data" / "trade_date=2026-11-26").exists()


def test_an_unreachable_database_is_retried_and_the_run_completes_once_it_is_back(
    airflow_db: Path, surveil_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_DATABASE_URL", UNREACHABLE)
    messages: list[str] = []

    def database_back(context: dict[str, Any]) -> None:
        messages.append(str(context["exception"]))
        os.environ.pop("SURVEIL_DATABASE_URL")  # the embedded server again

    dag = load_dag()
    dag.task_dict["check_day"].on_retry_callback = [database_back]
    state, tis = run(dag, RUN_OF_DAY, orders=100)

    assert state == DagRunState.SUCCESS
    assert tis["check_day"].try_number == 2
    assert all(tis[t].try_number == 1 for t in STAGES[1:])
    assert len(messages) == 1
    assert messages[0].startswith(
        "surveil status exited 4: cannot connect to PostgreSQL at 127.0.0.1:9"
    )
    assert "UNAVAILABLE: retried" in messages[0]
    assert day_counts(surveil_env)["orders"] == 100


def test_a_database_that_stays_down_fails_the_run_after_the_retries(
    airflow_db: Path, surveil_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_DATABASE_URL", UNREACHABLE)
    dag = load_dag()
    dag.task_dict["check_day"].retries = 2
    state, tis = run(dag, RUN_OF_DAY)

    assert state == DagRunState.FAILED
    assert tis["check_day"].state == TaskInstanceState.FAILED
    assert tis["check_day"].try_number == 3
    assert {tis[t].state for t in STAGES[1:]} == {TaskInstanceState.UPSTREAM_FAILED}


def test_a_corrupt_lake_file_fails_load_at_once_without_a_retry(
    airflow_db: Path, surveil_env: Path
) -> None:
    def rot(context: dict[str, Any]) -> None:
        orders = Path(context["ti"].xcom_pull(task_ids="upload")["lake"])
        path = orders / f"trade_date={DAY}" / "orders.csv"
        data = bytearray(path.read_bytes())
        data[-2] = ord("9") if data[-2] != ord("9") else ord("8")
        path.write_bytes(bytes(data))

    dag = load_dag()
    dag.task_dict["upload"].on_success_callback = [rot]
    state, tis = run(dag, RUN_OF_DAY, orders=100)

    assert state == DagRunState.FAILED
    assert tis["upload"].state == TaskInstanceState.SUCCESS
    assert tis["load"].state == TaskInstanceState.FAILED
    assert tis["load"].max_tries >= 4  # retries were there to be had...
    assert tis["load"].try_number == 1  # ...and not taken
    assert {tis[t].state for t in STAGES[4:]} == {TaskInstanceState.UPSTREAM_FAILED}


def test_a_day_imported_from_a_fix_log_runs_through_the_same_stages(
    airflow_db: Path, surveil_env: Path, tmp_path: Path
) -> None:
    """The `fix_logs` param: import-fix instead of generate; the rest is the same."""
    import subprocess

    log = tmp_path / "broker.fix"
    elsewhere = {**os.environ, "SURVEIL_HOME": str(tmp_path / "broker")}
    subprocess.run(
        [os.environ["SURVEIL_BIN"], "generate", "--date", DAY.isoformat(), "--orders", "150",
         "--format", "fix", "--fix-out", str(log)],
        env=elsewhere, check=True, capture_output=True,
    )  # fmt: skip
    state, tis = run(load_dag(), RUN_OF_DAY, fix_logs=[str(log)])

    assert state == DagRunState.SUCCESS
    imported = xcom(tis["generate_or_import"])
    assert imported["status"] == "imported"
    assert [d["trade_date"] for d in imported["days"]] == [DAY.isoformat()]
    assert xcom(tis["load"])["rows_inserted"]["orders"] == 150
    assert day_counts(surveil_env)["orders"] == 150


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "broker.fix: no FIX messages found; nothing imported"),  # an empty day
        (None, "broker.fix: no such file"),  # a missing day
    ],
)
def test_an_empty_or_missing_fix_log_fails_the_import_at_once_with_surveils_message(
    airflow_db: Path,
    surveil_env: Path,
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    log = tmp_path / "broker.fix"
    if content is not None:
        log.write_text(content)
    failures: list[str] = []
    dag = load_dag()
    dag.task_dict["generate_or_import"].on_failure_callback = [
        lambda context: failures.append(str(context["exception"]))
    ]
    state, tis = run(dag, RUN_OF_DAY, fix_logs=[str(log)])

    assert state == DagRunState.FAILED
    assert tis["generate_or_import"].state == TaskInstanceState.FAILED
    assert tis["generate_or_import"].try_number == 1
    assert len(failures) == 1
    assert failures[0].startswith("surveil import-fix exited 3: ")
    assert message in failures[0]
    assert failures[0].endswith("(BAD_INPUT: not retried)")
    assert {tis[t].state for t in STAGES[2:]} == {TaskInstanceState.UPSTREAM_FAILED}
