"""The DAG file as Airflow's own loader sees it: imports cleanly, tasks and schedule."""

from __future__ import annotations

from airflow.dag_processing.dagbag import DagBag

from tests_airflow.conftest import DAG_FOLDER

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
