"""`surveil run-day`: generate → upload → load → validate → detect for one trading date.

Every step is idempotent on its own, so a re-run after any failure picks up where the
last one stopped, and a re-run after success does no new work. Whether validation and
detection are still to do, which days catch-up must run and what `status` reports all
come from the day ledger (surveil/ledger.py): a day is done only when every stage
succeeded on the copy of the day the warehouse holds.

Only completed sessions are surveyed: a date after the last completed NYSE session (the
future, or today before the close) is refused unless the caller allows it explicitly.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from surveil import calendar, db, ledger
from surveil.corrections import corrected_later, describe_corrected
from surveil.daystatus import missing_files
from surveil.detect import RULES, detect_day, resolve_params
from surveil.errors import (
    ConfigError,
    ConflictError,
    ReportFailedError,
    SurveilError,
    ValidationFailedError,
)
from surveil.generate import generate_day
from surveil.lake import manifest_key, open_lake, read_manifest, upload_day
from surveil.load import load_day
from surveil.manifest import (
    Manifest,
    day_dir_name,
    read_local_manifest,
    verify_local_day,
)
from surveil.settings import Settings
from surveil.validate import validate_day
from surveil.watch import record as watch_record

Progress = Callable[[str], None]


DayStatus = Literal["done", "skipped", "failed"]
# Which copy run-day takes a day from: the lake's (nothing to upload), the data folder's,
# or a new record of watch's journal (replacing the lake's copy of the one it outgrew).
DayCopy = Literal["lake", "folder", "new record"]


@dataclass
class StepResult:
    step: str
    status: str
    detail: str
    seconds: float


@dataclass
class RunDayResult:
    trade_date: dt.date
    status: DayStatus
    reason: str = ""
    steps: list[StepResult] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0  # of the day's alerts, closed by a suppression in force

    @property
    def new_work(self) -> bool:
        return any(s.status not in ("skipped", "unchanged") for s in self.steps)


def refuse_unfinished(day: dt.date, allow_future: bool = False) -> None:
    """ConfigError (exit 2) for a date after the last completed session, unless allowed:
    a synthetic day for a session that has not happened would pass for surveillance."""
    reason = calendar.unfinished_reason(day)
    if reason and not allow_future:
        raise ConfigError(
            f"{reason}; surveil surveys completed sessions only (--allow-future runs it anyway)"
        )


def local_day(settings: Settings, day: dt.date) -> Manifest | None:
    """The manifest of the intact day already in the data folder, or None when there is
    none.

    run-day without --orders or --seed takes that day as it is (imported by import-fix, or
    generated with other options) rather than generating over it; with them, generate
    decides (an identical day is kept, a different one refused without --force)."""
    folder = settings.data_path / day_dir_name(day)
    manifest = read_local_manifest(folder) if folder.exists() else None
    if manifest is None or not verify_local_day(folder, manifest):
        return None
    return manifest


def _made(manifest: Manifest) -> str:
    """How the day in the data folder was made, as run-day's generate step says it."""
    source = manifest.source
    if source.get("kind") == "generated":
        return (
            f"the day already in the data folder (generated: {source.get('orders'):,} orders, "
            f"seed {source.get('seed')})"
        )
    return f"the day already in the data folder (from {source.get('kind', 'elsewhere')})"


def record_watched_day(
    settings: Settings, day: dt.date, *, replace: bool = False
) -> tuple[str, str] | None:
    """The day folder of a day `surveil watch` built, written from its journal when there
    is no day folder for it (surveil/watch/record.py), as a step's (status, detail); None
    when the day was not watched. Generating over a watched day would load a synthetic day
    over the real one. `replace`: over the folder of an earlier record."""
    sources = watch_record.watched_sources(settings, day)
    if not sources:
        return None
    recorded = watch_record.record_watched_day(settings, day, sources, replace=replace)
    r, kept = recorded.result, recorded.kept
    rejects = f", {r.rejected:,} rejects" + (
        f" (watch kept {kept:,}: see the day's rejects.csv)" if r.rejected != kept else ""
    )
    late = (
        f"; with {recorded.late:,} messages watch read after the day was loaded before"
        if recorded.late
        else ""
    )
    return (
        "recorded",
        f"the day `surveil watch` built, from its journal of {', '.join(sources)}: "
        f"{r.orders:,} orders, {r.executions:,} executions{rejects}{late}",
    )


def record_watched_day_again(settings: Settings, day: dt.date) -> tuple[str, str] | None:
    """The day recorded again from the journal when its load is a record of it that misses
    messages journalled since (a late bust, a trade report, a message applied while the
    day was being recorded), as a step's (status, detail); None when it misses none."""
    with db.connect(settings) as conn:
        db.migrate(conn)
        missed = watch_record.unrecorded_messages(conn, day, day).get(day, 0)
    if not missed:
        return None
    status, detail = record_watched_day(settings, day, replace=True) or ("recorded", "")
    return status, f"again, {missed:,} messages journalled since the last record: {detail}"


def run_day(
    settings: Settings,
    day: dt.date | None = None,
    *,
    orders: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    allow_future: bool = False,
    report: bool = True,
) -> RunDayResult:
    """Run every stage for `day` (default: the last completed trading day), and make the
    day's report last unless `report` is False.

    Raises ValidationFailedError, carrying the finished result, when validation fails, and
    ReportFailedError (the day done, its report not made) when only the report failed.
    """
    day = day or calendar.default_trade_date()
    reason = calendar.non_trading_reason(day)
    if reason:
        return RunDayResult(day, "skipped", f"{day} is not a trading day: {reason}")
    refuse_unfinished(day, allow_future)
    # A bad rules file or parameter fails here, before any stage commits anything.
    params = resolve_params(settings.rules_file)
    result = RunDayResult(day, "done")
    say = progress or (lambda _: None)

    def step(name: str, fn: Callable[[], tuple[str, str]]) -> None:
        say(name)
        clock = time.perf_counter()
        status, detail = fn()
        result.steps.append(StepResult(name, status, detail, time.perf_counter() - clock))

    taken: DayCopy = "folder"

    def generate() -> tuple[str, str]:
        nonlocal taken
        status, detail, taken = take_day(settings, day, orders, seed)
        return status, detail

    def upload() -> tuple[str, str]:
        if taken == "lake":
            return "skipped", "the lake's copy is the day: nothing in the data folder to upload"
        # a new record of the journal replaces the lake's copy of the record it outgrew
        r = upload_day(settings, day, force=taken == "new record")
        return r.status, f"{len(r.uploaded)} uploaded, {len(r.skipped)} already in {r.lake}"

    def load() -> tuple[str, str]:
        r = load_day(settings, day)
        if r.action == "skipped":
            return "skipped", "already loaded from this manifest, 0 rows inserted"
        return r.action, f"{r.total_inserted:,} rows inserted (run {r.run_id})"

    def validate() -> tuple[str, str]:
        if _state(settings, day).validation == "pass":
            return "skipped", "already validated, all checks passed"
        r = validate_day(settings, day)
        if not r.passed:
            result.status = "failed"
            names = ", ".join(c.name for c in r.failed)
            result.steps.append(StepResult("validate", "failed", f"failed: {names}", 0.0))
            raise ValidationFailedError(f"{day}: validation failed: {names}", result)
        return "passed", f"{len(r.checks)} checks passed"

    def detect() -> tuple[str, str]:
        if _state(settings, day, params).detection == "current":
            result.alerts = _alert_counts(settings, day)
            result.suppressed = _suppressed_count(settings, day)
            return "skipped", "already run on this load: " + _alert_summary(result.alerts)
        r = detect_day(settings, day)
        result.alerts = {x.rule: x.alerts for x in r.rules}
        result.suppressed = r.suppressed
        return "detected", _alert_summary(result.alerts)

    step("generate", generate)
    step("upload", upload)
    step("load", load)
    step("validate", validate)
    step("detect", detect)
    _check_still_done(settings, day, params)
    _refuse_corrected_later(settings, day)
    if report:
        make_report(settings, result, say)
    return result


def make_report(settings: Settings, result: RunDayResult, say: Progress) -> None:
    """The report stage: made again whenever any stage did new work (or it is missing);
    a failure is recorded on the result and raised as ReportFailedError, after the day's
    stages have committed, so it never undoes them."""
    from surveil.report import report_day, report_path

    say("report")
    clock = time.perf_counter()
    path = report_path(settings, result.trade_date)
    if not result.new_work and _report_basis(path) == ledger.basis(
        _state(settings, result.trade_date)
    ):
        result.steps.append(StepResult("report", "skipped", f"already made: {path}", 0.0))
        return
    try:
        r = report_day(settings, result.trade_date)
    except (SurveilError, OSError) as exc:
        reason = str(exc.args[0]) if exc.args else exc.__class__.__name__
        detail = f"failed: {reason}; `surveil report --date {result.trade_date}` makes it again"
        result.steps.append(StepResult("report", "failed", detail, time.perf_counter() - clock))
        raise ReportFailedError(f"{result.trade_date}: report {detail}", result) from None
    where = f"{r.path}" + (f" and {r.lake_uri}" if r.lake_uri else "")
    result.steps.append(
        StepResult("report", "written", f"{r.bytes:,} bytes: {where}", time.perf_counter() - clock)
    )


def _report_basis(path: Path) -> str | None:
    """The runs the report at `path` was made over (its surveil-basis meta), None when
    there is no report there: a report made over other runs is made again."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    found = re.search(r'<meta name="surveil-basis" content="([^"]*)">', head)
    return found[1] if found else None


def take_day(
    settings: Settings, day: dt.date, orders: int | None, seed: int | None
) -> tuple[str, str, DayCopy]:
    """run-day's generate step: (status, detail, which copy the day is).

    Without --orders and --seed the day that exists is taken: the lake's, when the data
    folder has none or another (the lake is the batch record every machine shares: a copy
    replaced there from elsewhere is loaded, not pushed back), else the data folder's, else
    the journal of a day `watch` built. A day whose load is a record of the journal that
    misses messages journalled since is recorded again, over its folder and lake copy. A
    day is generated only when none exists, and never over a loaded day whose files are
    lost."""
    default = orders is None and seed is None
    if default and (again := record_watched_day_again(settings, day)):
        return (*again, "new record")
    raw = open_lake(settings).read_bytes(manifest_key(day))
    # the local day is hashed only where it decides: without options, or with none in the lake
    local = local_day(settings, day) if default or raw is None else None
    if default and raw is not None:
        lake_sha = Manifest.from_bytes(raw, f"{day}: the lake's manifest").sha256
        if local is None or local.sha256 != lake_sha:
            _refuse_incomplete_lake_copy(settings, day)
        if local is None:
            return "skipped", "the day already in the lake (no copy in the data folder)", "lake"
        if local.sha256 != lake_sha:
            detail = (
                "the day in the lake, whose copy in the data folder differs and is left "
                f"alone (`surveil upload --date {day} --force` would make it the lake's)"
            )
            return "skipped", detail, "lake"
    if default and local is not None:
        return "skipped", _made(local), "folder"
    if default and (watched := record_watched_day(settings, day)):
        return (*watched, "folder")
    _refuse_over_watched_day(settings, day)
    if raw is None and local is None:
        _refuse_over_lost_day(settings, day)
    r = generate_day(settings, day, orders=orders, seed=seed)
    made = f"{r.rows.get('orders', 0):,} orders, {r.rows.get('executions', 0):,} executions"
    return r.status, made, "folder"


def _refuse_incomplete_lake_copy(settings: Settings, day: dt.date) -> None:
    """ConflictError (exit 3) when run-day would take the day from the lake but the lake's
    folder of it lacks a file every load reads, and the data folder has no copy to upload
    it from: status would show the day not done after every run."""
    lake = open_lake(settings)
    missing = missing_files(day, lake.day_files())
    if missing:
        raise ConflictError(
            f"{lake.uri}/{day_dir_name(day)}: its manifest is there but {', '.join(missing)} "
            "is not, and the data folder holds no copy of the day to upload it from; put "
            f"the day's files back (`import-fix` or `generate` as it was made), then `surveil "
            f"upload --date {day}`"
        )


def _refuse_over_lost_day(settings: Settings, day: dt.date) -> None:
    """ConflictError (exit 3) when the warehouse holds a load of `day` whose files neither
    the data folder nor the lake has any more (run-day looked in both first): a generated
    day would be loaded over it (over a real day, if it was imported). Files there now were
    put by another run that loaded the day since this one looked (two first runs at once):
    the day is not lost."""
    loaded = _state(settings, day).load_run_id
    if loaded is None:
        return
    there = open_lake(settings).read_bytes(manifest_key(day)) is not None
    if not there and local_day(settings, day) is None:
        raise ConflictError(
            f"{day}: the warehouse holds the day (load run {loaded}), but neither the data "
            "folder nor the lake has its files; run-day would generate a synthetic day and "
            "load it over that one. Put the day's files back (`import-fix` of its logs, or "
            "`generate` with the options it was made with), then `upload`"
        )


def _check_still_done(settings: Settings, day: dt.date, params: dict[str, Any]) -> None:
    """ConflictError (exit 3) when, after every stage, the ledger does not say the day is
    done: another run changed it meanwhile (a `load --force` between this run's validate
    and detect), so what this run validated is not what it detected."""
    state = _state(settings, day, params)
    if not state.done:
        raise ConflictError(
            f"{day}: changed by another run while this one ran (load run "
            f"{state.load_run_id} now, its {state.next_stage} not done); run-day again"
        )


def _refuse_corrected_later(settings: Settings, day: dt.date) -> None:
    """ConflictError (exit 3) when the day, loaded, still holds fills a later day's log
    busted or corrected (surveil/corrections.py): only an import of the day with that log
    takes them off, which run-day cannot do (it does not know the day's logs)."""
    with db.connect(settings) as conn:
        corrected = corrected_later(conn, day, day).get(day)
    if corrected:
        raise ConflictError(describe_corrected(day, corrected))


def _refuse_over_watched_day(settings: Settings, day: dt.date) -> None:
    """ConflictError (exit 3) for --orders/--seed over a day `surveil watch` built: a
    synthetic day would replace the real one."""
    if watch_record.watched_sources(settings, day):
        raise ConflictError(
            f"{day}: the warehouse holds the day `surveil watch` built from the live log; "
            "run-day without --orders and --seed takes that day, and never generates over it"
        )


def _state(
    settings: Settings, day: dt.date, params: dict[str, dict[str, Any]] | None = None
) -> ledger.DayState:
    with db.connect(settings) as conn:
        return ledger.day_state(conn, day, params)


def detection_warning(settings: Settings, day: dt.date) -> str:
    """Why the day's stored alerts are not its alerts ('' when its detection is current)."""
    return ledger.detection_warning(_state(settings, day, resolve_params(settings.rules_file)))


def _alert_counts(settings: Settings, day: dt.date) -> dict[str, int]:
    with db.connect(settings) as conn:
        counts = dict(
            conn.execute(
                "SELECT rule, count(*) FROM alerts WHERE trade_date = %s GROUP BY rule", (day,)
            ).fetchall()
        )
    return {name: counts.get(name, 0) for name in RULES}


def _suppressed_count(settings: Settings, day: dt.date) -> int:
    """How many of the day's stored alerts stand closed by a suppression (as detect counts
    them), for a run-day whose detection was already done."""
    from surveil.review.suppressions import SUPPRESSED_COUNT

    with db.connect(settings) as conn:
        row = conn.execute(SUPPRESSED_COUNT, {"d": day, "rules": list(RULES)}).fetchone()
    return int(row[0]) if row else 0


def _alert_summary(alerts: dict[str, int]) -> str:
    total = sum(alerts.values())
    return f"{total} alerts: " + ", ".join(f"{k} {v}" for k, v in alerts.items())


@dataclass
class DayOutcome:
    """How one day of a multi-day run ended; failures are recorded, not raised."""

    trade_date: dt.date
    status: DayStatus
    exit_code: int
    message: str
    new_work: bool = False
    steps: list[StepResult] = field(default_factory=list)


def run_one_day(
    day: dt.date,
    orders: int | None = None,
    seed: int | None = None,
    allow_future: bool = False,
    report: bool = True,
) -> DayOutcome:
    """run_day for one date with its failure caught; settings are read in the calling process,
    so this is what backfill's worker processes run."""
    from surveil.settings import load_settings

    try:
        result = run_day(
            load_settings(),
            day,
            orders=orders,
            seed=seed,
            allow_future=allow_future,
            report=report,
        )
    except ReportFailedError as exc:  # the day is done; only its report is missing
        steps = exc.result.steps if isinstance(exc.result, RunDayResult) else []
        return DayOutcome(day, "done", int(exc.exit_code), str(exc.args[0]), True, steps)
    except ValidationFailedError as exc:
        steps = exc.result.steps if isinstance(exc.result, RunDayResult) else []
        return DayOutcome(day, "failed", int(exc.exit_code), str(exc.args[0]), True, steps)
    except SurveilError as exc:
        return DayOutcome(day, "failed", int(exc.exit_code), str(exc.args[0]))
    message = result.reason or ("nothing new to do" if not result.new_work else "done")
    return DayOutcome(day, result.status, 0, message, result.new_work, result.steps)


T = TypeVar("T")


def each_day(
    work: Callable[..., T],
    days: list[dt.date],
    args: tuple[Any, ...],
    jobs: int = 1,
    on_result: Callable[[T], None] | None = None,
) -> dict[dt.date, T]:
    """`work(day, *args)` for every day, in `jobs` spawned processes when jobs > 1 (settings
    are read in each worker, from the same environment); `on_result` sees each result as
    it arrives. `work` catches its own failures, so every day is attempted."""
    seen = on_result or (lambda _: None)
    results: dict[dt.date, T] = {}
    if jobs <= 1 or len(days) <= 1:
        for day in days:
            results[day] = work(day, *args)
            seen(results[day])
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(work, day, *args): day for day in days}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            seen(results[futures[future]])
    return results


def run_days(
    days: list[dt.date],
    *,
    jobs: int = 1,
    orders: int | None = None,
    seed: int | None = None,
    on_done: Callable[[DayOutcome], None] | None = None,
    allow_future: bool = False,
    report: bool = True,
) -> list[DayOutcome]:
    """Run every day, in parallel processes when jobs > 1; every day is attempted even when
    others fail. Outcomes come back in date order."""
    args = (orders, seed, allow_future, report)
    outcomes = each_day(run_one_day, days, args, jobs, on_done)
    return [outcomes[day] for day in sorted(outcomes)]


def overall_exit_code(outcomes: list[DayOutcome]) -> int:
    """0 if every day succeeded; 1 if only validations failed; otherwise the exit code of the
    earliest day that failed for another reason; 7 when every day is done but a report is
    missing."""
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return next((o.exit_code for o in outcomes if o.exit_code), 0)
    others = [o for o in failed if o.exit_code != 1]
    return others[0].exit_code if others else 1


# --- backfill on Spark -------------------------------------------------------------------


def prepare_day(
    day: dt.date, orders: int | None, seed: int | None
) -> tuple[str, str] | SurveilError:
    """generate → upload for one day (what backfill's worker processes run); a failure is
    returned, not raised, so the other days go on."""
    from surveil.settings import load_settings

    try:
        settings = load_settings()
        generated = generate_day(settings, day, orders=orders, seed=seed)
        uploaded = upload_day(settings, day)
    except SurveilError as exc:
        return exc
    return generated.status, uploaded.status


def backfill_spark(
    settings: Settings,
    days: list[dt.date],
    *,
    jobs: int = 1,
    orders: int | None = None,
    seed: int | None = None,
    on_done: Callable[[DayOutcome], None] | None = None,
) -> list[DayOutcome]:
    """Every day through generate → upload (in `jobs` processes), then, in one Spark session,
    detection over the lake (skipped when the lake's alerts are current) and load-alerts
    into PostgreSQL. Every day is attempted; failures are recorded, not raised."""
    from surveil.spark.session import get_session

    done = on_done or (lambda _: None)
    prepared = each_day(prepare_day, days, (orders, seed), jobs)
    params = resolve_params(settings.rules_file)
    # One session for every day, started only when a day needs detecting.
    session = functools.cache(lambda: get_session(settings).session)
    outcomes = []
    for day in days:
        state = prepared[day]
        if isinstance(state, SurveilError):
            outcome = DayOutcome(day, "failed", int(state.exit_code), str(state.args[0]))
        else:
            outcome = _detect_and_load_alerts(settings, day, state, params, session)
        outcomes.append(outcome)
        done(outcome)
    return outcomes


def _detect_and_load_alerts(
    settings: Settings,
    day: dt.date,
    prepared: tuple[str, str],
    params: dict[str, Any],
    session: Callable[[], Any],
) -> DayOutcome:
    """A prepared day on Spark: detect over the lake unless its alerts there are current,
    then load-alerts into PostgreSQL."""
    from surveil.detect.lake_alerts import alerts_are_current, load_alerts
    from surveil.spark import detect_day_spark

    steps = [
        StepResult("generate", prepared[0], "", 0.0),
        StepResult("upload", prepared[1], "", 0.0),
    ]
    try:
        clock = time.perf_counter()
        manifest = read_manifest(open_lake(settings), day)
        if alerts_are_current(settings, day, manifest.sha256, params):
            steps.append(StepResult("detect", "skipped", "alerts in the lake are current", 0.0))
        else:
            r = detect_day_spark(settings, day, spark=session())
            seconds = time.perf_counter() - clock
            steps.append(StepResult("detect", "detected", f"{r.alerts} alerts", seconds))
        clock = time.perf_counter()
        loaded = load_alerts(settings, day)
        seconds = time.perf_counter() - clock
        steps.append(StepResult("load-alerts", "loaded", f"{loaded.alerts} alerts", seconds))
    except SurveilError as exc:
        return DayOutcome(day, "failed", int(exc.exit_code), str(exc.args[0]), True, steps)
    new = any(s.status not in ("skipped", "unchanged") for s in steps[:3])
    return DayOutcome(day, "done", 0, "done", new, steps)
