"""surveil's day as an Airflow 3 DAG: one task per stage, each the real `surveil` CLI.

Install: copy this file into the DAG folder of an Airflow 3.3 deployment whose workers can
run `surveil` (on PATH, or the path in $SURVEIL_BIN) with its settings (SURVEIL_*, AWS_*)
in their environment. deploy/README.md says how and when to choose this over cron/systemd.

Schedule. `CronDataIntervalTimetable("0 6 * * 1-5", "UTC")`: the run that starts Tuesday
06:00 UTC has the data interval Monday 06:00 -> Tuesday 06:00, and the trading day it
processes is the interval's *start* (Monday), whose New York session closed at 21:00 UTC.
Monday's run covers Friday. (Airflow 3's default for a cron string is CronTriggerTimetable,
whose logical date is the run's own time: it would process Tuesday's session at 06:00
Tuesday, before it opens.) A manual run may name the day in the `trade_date` param.

Retries follow surveil's exit codes (surveil/errors.py ExitCode): 4 (database or bucket
unavailable), 75 (day locked, transaction rolled back) and 130 (interrupted) raise a plain
AirflowException and are retried with exponential backoff; 1 (validation failed), 2 (usage
or configuration), 3 (bad input data) and 70 (a bug) raise AirflowFailException: no retry,
because running the same command on the same data fails the same way. Either way the task
fails with surveil's one-line message. A day without a NYSE session (weekend, holiday)
ends the run as skipped.

Every task passes its `--json` result on through XCom; each stage is idempotent, so a
cleared task or a retried run redoes only what is not done.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

# surveil/errors.py ExitCode, by value: the DAG file must not import surveil (the workers
# may run surveil from its own virtualenv, apart from Airflow's).
OK = 0
TRANSIENT = {4: "UNAVAILABLE", 75: "LOCKED", 130: "INTERRUPTED"}
PERMANENT = {1: "VALIDATION_FAILED", 2: "USAGE", 3: "BAD_INPUT", 70: "INTERNAL"}
GAP = 5  # `surveil status`: the day is not done yet, which is what this run is for

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "surveillance",
    "retries": 4,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,  # 2, 4, 8, 16 minutes: a database restart, a failover
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}


class SurveilTransientError(AirflowException):
    """surveil exited with a code that a later try can clear (4, 75, 130): retried."""


class SurveilFailedError(AirflowFailException):
    """surveil exited with a code that a retry cannot clear (1, 2, 3, 70): no retry."""


def surveil_bin() -> list[str]:
    """The surveil command: $SURVEIL_BIN (may hold arguments, e.g. `python -m surveil`)."""
    return shlex.split(os.environ.get("SURVEIL_BIN") or "surveil")


def run_surveil(*args: str, ok: tuple[int, ...] = (OK,)) -> dict[str, Any]:
    """Run `surveil ARGS --json`; return its JSON object, or raise by its exit code."""
    command = [*surveil_bin(), *args, "--json"]
    print("+", shlex.join(command), flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:  # not installed, not executable: no retry will install it
        raise SurveilFailedError(f"cannot run {command[0]!r}: {exc} (set SURVEIL_BIN)") from None
    if done.stderr.strip():
        print(done.stderr.rstrip(), flush=True)
    payload = _last_json_object(done.stdout)
    if done.returncode in ok:
        if payload is None:
            raise SurveilFailedError(f"surveil {args[0]} printed no JSON: {done.stdout[-300:]!r}")
        return payload
    message = (payload or {}).get("error") or _last_line(done.stderr) or "no message"
    code = done.returncode
    text = f"surveil {args[0]} exited {code}: {message}"
    if code in TRANSIENT:
        raise SurveilTransientError(f"{text} ({TRANSIENT[code]}: retried)")
    name = PERMANENT.get(code, "unexpected exit code")
    raise SurveilFailedError(f"{text} ({name}: not retried)")


def _last_json_object(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _trade_date(context: dict[str, Any]) -> str:
    """The day this run surveys: the `trade_date` param, else the data interval's start."""
    given = (context.get("params") or {}).get("trade_date")
    if given:
        return str(given)
    start = context.get("data_interval_start")
    if start is None:
        raise SurveilFailedError("no data interval and no trade_date param: nothing to survey")
    return start.date().isoformat()


@dag(
    dag_id="surveil_daily",
    description="Trade surveillance of the previous NYSE trading day",
    schedule=CronDataIntervalTimetable("0 6 * * 1-5", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    # catchup: surveil's own `run-day --catch-up` and `backfill` replay history; a new DAG
    # must not start a year of runs at once. Missed days are backfilled explicitly
    # (`airflow backfill create`), deploy/README.md says how.
    catchup=False,
    # One day at a time: days share the warehouse and the lake, and the report of a day
    # reads the days before it.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "trade_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Survey this day instead of the data interval's start (manual runs).",
        ),
        "fix_logs": Param(
            [],
            type="array",
            items={"type": "string"},
            description="FIX logs to import the day from; empty: generate the day instead.",
        ),
        "orders": Param(None, type=["null", "integer"], minimum=1),
        "seed": Param(None, type=["null", "integer"], minimum=0),
    },
    tags=["surveil"],
    doc_md=__doc__,
)
def surveil_daily() -> None:
    @task
    def check_day() -> dict[str, Any]:
        """Skip the run for a day with no NYSE session; otherwise pass the day on. The first
        task to read the warehouse: a database that is down at 06:00 is retried here."""
        day = _trade_date(dict(get_current_context()))
        # --start/--end, not --date: a range lists every trading day in it, done or not,
        # and a day without a session only when it holds something.
        status = run_surveil("status", "--start", day, "--end", day, ok=(OK, GAP))
        row = next((r for r in status.get("days", []) if r.get("trade_date") == day), None)
        if row is None or not row.get("trading_day"):
            raise AirflowSkipException(f"{day}: no NYSE session (weekend or holiday)")
        return {"trade_date": day, "status": row}

    @task
    def generate_or_import(day: dict[str, Any]) -> dict[str, Any]:
        """The day's order flow: import-fix of the `fix_logs` param, else generate."""
        params = get_current_context()["params"]
        trade_date = day["trade_date"]
        if params.get("fix_logs"):
            return run_surveil("import-fix", *params["fix_logs"], "--date", trade_date)
        extra: list[str] = []
        if params.get("orders"):
            extra += ["--orders", str(params["orders"])]
        if params.get("seed") is not None:
            extra += ["--seed", str(params["seed"])]
        return run_surveil("generate", "--date", trade_date, *extra)

    @task
    def upload(day: dict[str, Any], produced: dict[str, Any]) -> dict[str, Any]:
        return run_surveil("upload", "--date", day["trade_date"])

    @task
    def load(day: dict[str, Any], uploaded: dict[str, Any]) -> dict[str, Any]:
        return run_surveil("load", "--date", day["trade_date"])

    @task
    def validate(day: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
        return run_surveil("validate", "--date", day["trade_date"])

    @task
    def detect(day: dict[str, Any], validated: dict[str, Any]) -> dict[str, Any]:
        return run_surveil("detect", "--date", day["trade_date"])

    @task
    def report(day: dict[str, Any], detected: dict[str, Any]) -> dict[str, Any]:
        return run_surveil("report", "--date", day["trade_date"])

    day = check_day()
    produced = generate_or_import(day)
    uploaded = upload(day, produced)
    loaded = load(day, uploaded)
    validated = validate(day, loaded)
    detected = detect(day, validated)
    report(day, detected)


surveil_daily()
