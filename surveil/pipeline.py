"""`surveil run-day`: generate → upload → load → validate → detect for one trading date.

Every step is idempotent on its own, so a re-run after any failure picks up where the
last one stopped, and a re-run after success does no new work.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from surveil import calendar, db
from surveil.detect import RULES, detect_day, detection_is_current, resolve_params
from surveil.errors import ValidationFailedError
from surveil.generate import generate_day
from surveil.lake import open_lake, upload_day
from surveil.load import current_loads, load_day
from surveil.manifest import day_dir_name, read_local_manifest, verify_local_day
from surveil.settings import Settings
from surveil.validate import latest_validation, validate_day

Progress = Callable[[str], None]


@dataclass
class StepResult:
    step: str
    status: str
    detail: str
    seconds: float


@dataclass
class RunDayResult:
    trade_date: dt.date
    status: str  # done | skipped | failed
    reason: str = ""
    steps: list[StepResult] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)

    @property
    def new_work(self) -> bool:
        return any(s.status not in ("skipped", "unchanged") for s in self.steps)


def day_in_data_folder(settings: Settings, day: dt.date) -> str | None:
    """How the intact day already in the data folder was made, or None when there is none.

    run-day without --orders or --seed takes that day as it is (imported by import-fix, or
    generated with other options) rather than generating over it; with them, generate
    decides (an identical day is kept, a different one refused without --force)."""
    folder = settings.data_path / day_dir_name(day)
    manifest = read_local_manifest(folder) if folder.exists() else None
    if manifest is None or not verify_local_day(folder, manifest):
        return None
    source = manifest.source
    if source.get("kind") == "generated":
        return (
            f"the day already in the data folder (generated: {source.get('orders'):,} orders, "
            f"seed {source.get('seed')})"
        )
    return f"the day already in the data folder (from {source.get('kind', 'elsewhere')})"


def run_day(
    settings: Settings,
    day: dt.date | None = None,
    *,
    orders: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> RunDayResult:
    """Run every stage for `day` (default: the last completed trading day).

    Raises ValidationFailedError, carrying the finished result, when validation fails.
    """
    day = day or calendar.default_trade_date()
    reason = calendar.non_trading_reason(day)
    if reason:
        return RunDayResult(day, "skipped", f"{day} is not a trading day: {reason}")
    result = RunDayResult(day, "done")
    say = progress or (lambda _: None)

    def step(name: str, fn: Callable[[], tuple[str, str]]) -> None:
        say(name)
        clock = time.perf_counter()
        status, detail = fn()
        result.steps.append(StepResult(name, status, detail, time.perf_counter() - clock))

    def generate() -> tuple[str, str]:
        if orders is None and seed is None and (kept := day_in_data_folder(settings, day)):
            return "skipped", kept
        r = generate_day(settings, day, orders=orders, seed=seed)
        return (
            r.status,
            f"{r.rows.get('orders', 0):,} orders, {r.rows.get('executions', 0):,} executions",
        )

    def upload() -> tuple[str, str]:
        r = upload_day(settings, day)
        return r.status, f"{len(r.uploaded)} uploaded, {len(r.skipped)} already in {r.lake}"

    def load() -> tuple[str, str]:
        r = load_day(settings, day)
        if r.action == "skipped":
            return "skipped", "already loaded from this manifest, 0 rows inserted"
        return r.action, f"{r.total_inserted:,} rows inserted (run {r.run_id})"

    def validate() -> tuple[str, str]:
        with db.connect(settings) as conn:
            last = latest_validation(conn, day)
            current = current_loads(conn).get(day)
        if last and current and last[0] == current["run_id"] and last[1]:
            return "skipped", "already validated, all checks passed"
        r = validate_day(settings, day)
        if not r.passed:
            result.status = "failed"
            names = ", ".join(c.name for c in r.failed)
            result.steps.append(StepResult("validate", "failed", f"failed: {names}", 0.0))
            raise ValidationFailedError(f"{day}: validation failed: {names}", result)
        return "passed", f"{len(r.checks)} checks passed"

    def detect() -> tuple[str, str]:
        params = resolve_params(settings.rules_file)
        with db.connect(settings) as conn:
            current = detection_is_current(conn, day, params)
            counts = dict(
                conn.execute(
                    "SELECT rule, count(*) FROM alerts WHERE trade_date = %s GROUP BY rule", (day,)
                ).fetchall()
            )
        if current:
            result.alerts = {name: counts.get(name, 0) for name in RULES}
            return "skipped", "already run on this load: " + _alert_summary(result.alerts)
        r = detect_day(settings, day)
        result.alerts = {x.rule: x.alerts for x in r.rules}
        return "detected", _alert_summary(result.alerts)

    step("generate", generate)
    step("upload", upload)
    step("load", load)
    step("validate", validate)
    step("detect", detect)
    return result


def _alert_summary(alerts: dict[str, int]) -> str:
    total = sum(alerts.values())
    return f"{total} alerts: " + ", ".join(f"{k} {v}" for k, v in alerts.items())


def day_status(settings: Settings) -> list[dict[str, Any]]:
    """One row per day known to the data folder, the lake or the warehouse."""
    local: dict[dt.date, int] = {}
    data = settings.data_path
    if data.exists():
        from surveil.manifest import parse_day_dir_name

        for child in data.iterdir():
            day = parse_day_dir_name(child.name)
            manifest = read_local_manifest(child) if day else None
            if day and manifest:
                local[day] = manifest.entry("orders").rows
    lake_days = set(open_lake(settings).days())
    with db.connect(settings) as conn:
        db.migrate(conn)
        loads = current_loads(conn)
        validations = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                """SELECT DISTINCT ON (trade_date) trade_date, load_run_id, passed
                   FROM validation_runs ORDER BY trade_date, validation_id DESC"""
            )
        }
    rows = []
    for day in sorted(set(local) | lake_days | set(loads)):
        load = loads.get(day)
        validation = validations.get(day)
        if validation is None or load is None:
            validated = None
        elif validation[0] != load["run_id"]:
            validated = "stale"
        else:
            validated = "pass" if validation[1] else "fail"
        rows.append(
            {
                "trade_date": day.isoformat(),
                "generated": day in local,
                "uploaded": day in lake_days,
                "loaded_rows": sum(load["rows"].values()) if load else None,
                "validated": validated,
            }
        )
    return rows


@dataclass
class DayOutcome:
    """How one day of a multi-day run ended; failures are recorded, not raised."""

    trade_date: dt.date
    status: str  # done | skipped | failed
    exit_code: int
    message: str
    new_work: bool = False
    steps: list[StepResult] = field(default_factory=list)


def run_one_day(day: dt.date, orders: int | None = None, seed: int | None = None) -> DayOutcome:
    """run_day for one date with its failure caught; settings are read in the calling process,
    so this is what backfill's worker processes run."""
    from surveil.errors import SurveilError
    from surveil.settings import load_settings

    try:
        result = run_day(load_settings(), day, orders=orders, seed=seed)
    except ValidationFailedError as exc:
        steps = exc.result.steps if isinstance(exc.result, RunDayResult) else []
        return DayOutcome(day, "failed", int(exc.exit_code), str(exc.args[0]), True, steps)
    except SurveilError as exc:
        return DayOutcome(day, "failed", int(exc.exit_code), str(exc.args[0]))
    message = result.reason or ("nothing new to do" if not result.new_work else "done")
    return DayOutcome(day, result.status, 0, message, result.new_work, result.steps)


def run_days(
    days: list[dt.date],
    *,
    jobs: int = 1,
    orders: int | None = None,
    seed: int | None = None,
    on_done: Callable[[DayOutcome], None] | None = None,
) -> list[DayOutcome]:
    """Run every day, in parallel processes when jobs > 1; every day is attempted even when
    others fail. Outcomes come back in date order."""
    done = on_done or (lambda _: None)
    outcomes: list[DayOutcome] = []
    if jobs <= 1 or len(days) <= 1:
        for day in days:
            outcome = run_one_day(day, orders, seed)
            outcomes.append(outcome)
            done(outcome)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(run_one_day, day, orders, seed) for day in days]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                done(outcome)
    return sorted(outcomes, key=lambda o: o.trade_date)


def overall_exit_code(outcomes: list[DayOutcome]) -> int:
    """0 if every day succeeded; 1 if only validations failed; otherwise the exit code of the
    earliest day that failed for another reason."""
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return 0
    others = [o for o in failed if o.exit_code != 1]
    return others[0].exit_code if others else 1


LAST_GOOD_DAY = """
SELECT max(l.trade_date) FROM (
    SELECT DISTINCT ON (trade_date) trade_date, run_id FROM load_runs
    WHERE action IN ('loaded', 'replaced') ORDER BY trade_date, run_id DESC) l
JOIN LATERAL (
    SELECT passed, load_run_id FROM validation_runs v WHERE v.trade_date = l.trade_date
    ORDER BY validation_id DESC LIMIT 1) v ON v.load_run_id = l.run_id AND v.passed
"""


def catch_up_days(settings: Settings, until: dt.date) -> list[dt.date]:
    """Trading days after the last fully loaded and validated one, up to `until`, oldest
    first. With no good day in the warehouse yet, just `until` (backfill covers history)."""
    with db.connect(settings) as conn:
        db.migrate(conn)
        row = conn.execute(LAST_GOOD_DAY).fetchone()
    last_good = row[0] if row else None
    if last_good is None:
        return [until] if calendar.is_trading_day(until) else []
    return calendar.trading_days(last_good + dt.timedelta(days=1), until)
