"""The day ledger: for each trading day, which stages are done, and by which run.

A day is done only when every stage succeeded on the copy of the day the warehouse holds
now: it is loaded, its current load passed validation, and every rule's latest detection
ran on that load with the rule's current version and the configured parameters, over a
validation that had not failed, no rule's last attempt having failed since. Everything that
asks "is this day finished?" reads it from here (run-day, catch-up, status, detect's refusal
over a failed validation), from the stage ledgers the stages write: load_runs,
validation_runs, detect_runs and detect_failures (sql/005_reference_data_per_day.sql).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

LoadStatus = Literal["missing", "loaded"]
# stale: the latest validation checked an older load of the day than the one held now.
ValidationStatus = Literal["missing", "pass", "fail", "stale"]
# stale: some rule has no run on the current load, or ran with another version or other
# parameters; failed: a rule's last detection attempt failed; forced: current, but run
# with --force over a failed validation (its alerts rest on data that failed its checks).
DetectionStatus = Literal["missing", "current", "stale", "failed", "forced"]
# What the validation of the load a detection read was, when it ran (detect_runs).
ValidationAtDetect = Literal["passed", "failed", "missing", "unknown"]
Stage = Literal["load", "validate", "detect"]

CURRENT_LOADS = """
SELECT DISTINCT ON (trade_date) trade_date, run_id, manifest_sha256, rows_read
FROM load_runs WHERE action IN ('loaded', 'replaced')
  AND (%(start)s::date IS NULL OR trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR trade_date <= %(end)s)
ORDER BY trade_date, run_id DESC
"""
LATEST_VALIDATIONS = """
SELECT DISTINCT ON (trade_date) trade_date, validation_id, load_run_id, passed
FROM validation_runs WHERE (%(start)s::date IS NULL OR trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR trade_date <= %(end)s)
ORDER BY trade_date, validation_id DESC
"""
LATEST_DETECT_RUNS = """
SELECT DISTINCT ON (trade_date, rule) trade_date, rule, run_id, rule_version, params,
       load_run_id, validation
FROM detect_runs WHERE (%(start)s::date IS NULL OR trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR trade_date <= %(end)s)
ORDER BY trade_date, rule, run_id DESC
"""
# Each rule's latest failed attempt (a detection runs its rules in one transaction, so a
# failure is recorded for every rule it was running).
LATEST_DETECT_FAILURES = """
SELECT DISTINCT ON (trade_date, rule) trade_date, rule, failure_id, load_run_id, error
FROM detect_failures, unnest(rules) AS rule
WHERE (%(start)s::date IS NULL OR trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR trade_date <= %(end)s)
ORDER BY trade_date, rule, failure_id DESC
"""
# What a detection run records of the validation of the load it reads, by the ledger's
# state of that load ("stale": the latest validation checked another load, not this one).
VALIDATION_AT_DETECT: dict[ValidationStatus, ValidationAtDetect] = {
    "pass": "passed",
    "fail": "failed",
    "missing": "missing",
    "stale": "missing",
}
# Worst first: a detection is only as good as the worst validation any rule ran over.
_WORST_FIRST: tuple[ValidationAtDetect, ...] = ("failed", "missing", "unknown", "passed")


@dataclass(frozen=True)
class DayState:
    trade_date: dt.date
    load_run_id: int | None = None
    manifest_sha256: str | None = None
    loaded_rows: int | None = None
    validation: ValidationStatus = "missing"
    validation_id: int | None = None
    detection: DetectionStatus = "missing"
    detect_run_id: int | None = None  # the day's newest detection run
    detected_over: ValidationAtDetect | None = None  # for a current or forced detection
    detect_error: str | None = None  # for a failed detection

    @property
    def load(self) -> LoadStatus:
        return "missing" if self.load_run_id is None else "loaded"

    @property
    def next_stage(self) -> Stage | None:
        """The first stage not done (None when the day is done)."""
        if self.load_run_id is None:
            return "load"
        if self.validation != "pass":
            return "validate"
        if self.detection != "current":
            return "detect"
        return None

    @property
    def done(self) -> bool:
        return self.next_stage is None


def day_states(
    conn: psycopg.Connection,
    start: dt.date | None = None,
    end: dt.date | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[dt.date, DayState]:
    """The state of every day the warehouse has a trace of (a load, a validation, a
    detection or a failed one) between `start` and `end`, inclusive; either may be None.

    `params` are the configured rule parameters: a detection with others is stale. With
    None only the load and the rule versions decide."""
    window = {"start": start, "end": end}
    loads = {r[0]: r[1:] for r in conn.execute(CURRENT_LOADS, window)}
    validations = {r[0]: r[1:] for r in conn.execute(LATEST_VALIDATIONS, window)}
    runs: dict[dt.date, dict[str, tuple[Any, ...]]] = {}
    for day, rule, *rest in conn.execute(LATEST_DETECT_RUNS, window):
        runs.setdefault(day, {})[rule] = tuple(rest)
    failures: dict[dt.date, dict[str, tuple[Any, ...]]] = {}
    for day, rule, *rest in conn.execute(LATEST_DETECT_FAILURES, window):
        failures.setdefault(day, {})[rule] = tuple(rest)
    states = {}
    for day in sorted(set(loads) | set(validations) | set(runs) | set(failures)):
        states[day] = _state(
            day,
            loads.get(day),
            validations.get(day),
            runs.get(day, {}),
            failures.get(day, {}),
            params,
        )
    return states


def day_state(
    conn: psycopg.Connection, day: dt.date, params: dict[str, dict[str, Any]] | None = None
) -> DayState:
    return day_states(conn, day, day, params).get(day, DayState(day))


def _state(
    day: dt.date,
    load: tuple[Any, ...] | None,
    validation: tuple[Any, ...] | None,
    runs: dict[str, tuple[Any, ...]],
    failures: dict[str, tuple[Any, ...]],
    params: dict[str, dict[str, Any]] | None,
) -> DayState:
    if load is None:
        return DayState(day)
    run_id, manifest_sha256, rows = load
    validated: ValidationStatus = "missing"
    if validation is not None:
        if validation[1] != run_id:
            validated = "stale"
        else:
            validated = "pass" if validation[2] else "fail"
    detection, over = _detection(run_id, runs, params)
    newest_run = max((r[0] for r in runs.values()), default=None)
    error = _newest_failure_since_run(run_id, runs, failures)
    if error is not None:
        detection, over = "failed", None
    elif detection == "current" and over == "failed":
        detection = "forced"
    return DayState(
        day,
        run_id,
        manifest_sha256,
        sum(rows.values()),
        validated,
        validation[0] if validation is not None else None,
        detection,
        newest_run,
        over,
        error,
    )


def _newest_failure_since_run(
    load_run_id: int, runs: dict[str, tuple[Any, ...]], failures: dict[str, tuple[Any, ...]]
) -> str | None:
    """The error of the newest failed attempt, on the current load, of a rule that has not
    run since, or None. Failure ids and run ids come from one sequence, so they are ordered;
    a failure on an older copy of the day says nothing about this one."""
    newest: tuple[int, str] | None = None
    for rule, (failure_id, failed_load, error) in failures.items():
        run = runs.get(rule)
        if failed_load != load_run_id or (run is not None and run[0] > failure_id):
            continue
        if newest is None or failure_id > newest[0]:
            newest = (failure_id, error)
    return newest[1] if newest else None


def _detection(
    load_run_id: int, runs: dict[str, tuple[Any, ...]], params: dict[str, dict[str, Any]] | None
) -> tuple[DetectionStatus, ValidationAtDetect | None]:
    from surveil.detect import RULES

    if not runs:
        return "missing", None
    seen: set[ValidationAtDetect] = set()
    for name, module in RULES.items():
        run = runs.get(name)
        if run is None:
            return "stale", None
        _, version, run_params, run_load, validation = run
        if run_load != load_run_id or version != module.VERSION:
            return "stale", None
        if params is not None and run_params != params[name]:
            return "stale", None
        seen.add(validation or "unknown")
    return "current", next(v for v in _WORST_FIRST if v in seen)


def detection_warning(state: DayState) -> str:
    """Why the day's stored alerts are not its alerts ('' when its detection is current):
    what `alerts` and `report` warn of, exiting 5."""
    day = state.trade_date
    if state.load_run_id is None:
        return f"{day}: not loaded, never detected: no alerts can be the day's"
    if state.detection == "failed":
        return f"{day}: detection failed ({state.detect_error}); these are not the day's alerts"
    if state.detection == "missing":
        return f"{day}: detection has not run on the loaded day; these are not the day's alerts"
    if state.detection == "stale":
        return (
            f"{day}: detection ran on another copy of the day or with other rules; "
            "these are not the day's alerts (run run-day again)"
        )
    if state.detected_over == "failed":
        return f"{day}: these alerts were computed over a day that FAILED validation"
    return ""


def basis(state: DayState) -> str:
    """The runs a day's report is made over (load, validation, newest detection): a
    report whose basis is not the day's now shows another day than the warehouse holds."""
    return f"load {state.load_run_id} validation {state.validation_id} detect {state.detect_run_id}"
