"""The DAG file as Airflow's own loader sees it: imports cleanly, tasks and schedule."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.base import TimeRestriction

from tests_airflow.conftest import DAG_FILE, DAG_FOLDER

STAGES = ["check_day", "generate_or_import", "upload", "load", "validate", "detect", "report"]


def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FOLDER))


def test_the_dag_file_imports_without_errors() -> None:
    bag = dagbag()
    assert bag.import_errors == {}
    assert list(bag.dag_ids) == ["surveil_daily"]


def test_one_task_per_stage_in_pipeline_order() -> None:
    dag = dagbag().dags["surveil_daily"]
    assert sorted(dag.task_ids) == sorted(STAGES)
    for upstream, downstream in zip(STAGES, STAGES[1:], strict=False):
        assert downstream in dag.task_dict[upstream].downstream_task_ids


def test_weekday_runs_at_0600_utc_survey_the_interval_start_the_previous_trading_day() -> None:
    """Monday's 06:00 run covers Friday, Tuesday's covers Monday. Airflow 3's default for a
    cron string (CronTriggerTimetable) would hand Monday's run Monday itself."""
    from airflow.sdk import CronTriggerTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = dagbag().dags["surveil_daily"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    timetable = coerce_to_core_timetable(dag.timetable)
    monday = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)
    tuesday = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
    assert timetable.infer_manual_data_interval(run_after=monday).start.date() == dt.date(
        2026, 11, 27
    )
    assert timetable.infer_manual_data_interval(run_after=tuesday).start.date() == dt.date(
        2026, 11, 30
    )
    trigger = coerce_to_core_timetable(CronTriggerTimetable("0 6 * * 1-5", timezone="UTC"))
    assert trigger.infer_manual_data_interval(run_after=monday).start.date() == monday.date()
    # Saturday and Sunday have no run at all: Friday's run is followed by Monday's.
    after_friday = timetable.next_dagrun_info(
        last_automated_data_interval=timetable.infer_manual_data_interval(
            run_after=dt.datetime(2026, 11, 27, 6, 0, tzinfo=dt.UTC)
        ),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert after_friday.run_after == monday


def test_the_dag_knows_surveil_exit_codes_by_their_names_in_surveil_errors() -> None:
    """The DAG file copies the codes (it must not import surveil): they must stay equal."""
    from surveil.errors import ExitCode

    module = load_module()
    for table in (module.TRANSIENT, module.PERMANENT):
        for code, name in table.items():
            assert ExitCode[name] == code
    assert set(module.TRANSIENT) == {ExitCode.UNAVAILABLE, ExitCode.LOCKED, ExitCode.INTERRUPTED}
    assert {ExitCode.VALIDATION_FAILED, ExitCode.USAGE, ExitCode.BAD_INPUT} <= set(module.PERMANENT)
    assert module.GAP == ExitCode.GAP


@pytest.mark.parametrize(
    ("args", "env", "raised", "message"),
    [
        (["status", "--date", "2026-13-01"], {}, "SurveilFailedError", "exited 2: --date"),
        (
            ["upload", "--date", "2026-11-25"],
            {},
            "SurveilFailedError",
            "exited 3:",
        ),
        (
            ["status", "--date", "2026-11-25"],
            {"SURVEIL_DATABASE_URL": "postgresql://x@127.0.0.1:9/x"},
            "SurveilTransientError",
            "exited 4: cannot connect to PostgreSQL at 127.0.0.1:9/x",
        ),
    ],
)
def test_run_surveil_raises_by_exit_code_with_surveils_own_one_line_message(
    args: list[str],
    env: dict[str, str],
    raised: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = load_module()
    monkeypatch.setenv("SURVEIL_HOME", str(tmp_path))
    monkeypatch.setenv("SURVEIL_CONNECT_RETRIES", "0")
    monkeypatch.setenv("SURVEIL_BIN", str(Path(sys.executable).parent / "surveil"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(getattr(module, raised)) as caught:
        module.run_surveil(*args)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    not_retried = issubclass(caught.type, module.AirflowFailException)
    assert not_retried is (raised == "SurveilFailedError")


def test_a_missing_surveil_fails_at_once_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load_module()
    monkeypatch.setenv("SURVEIL_BIN", str(tmp_path / "no-such-surveil"))
    with pytest.raises(module.SurveilFailedError, match="set SURVEIL_BIN"):
        module.run_surveil("status")


def load_module() -> Any:
    spec = importlib.util.spec_from_file_location("surveil_daily_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
