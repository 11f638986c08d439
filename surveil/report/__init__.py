"""`surveil report`: the day's surveillance report, one self-contained HTML page.

Every figure comes from the warehouse, read in one read-only snapshot: the load, its
validation and the detection runs (provenance), the day's figures and alerts against the
previous 20 trading days, where the alerts cluster, and a section per top alert with its
evidence and charts. Scripts, styles and the font are inlined: the file opens from a USB
stick on a machine with no network.

The page goes beside the day in the data folder, `$SURVEIL_DATA_DIR/reports/trade_date=D/
report.html` (outside the day folder, whose manifest generate and upload verify), and,
when a lake is configured explicitly (SURVEIL_LAKE or S3_BUCKET), to the lake under
`reports/trade_date=D/report.html`. `out` writes that one file instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from surveil import __version__, db, ledger
from surveil.errors import BadInputError, ConfigError, UnavailableError
from surveil.manifest import day_dir_name
from surveil.report import gather, queries
from surveil.report.render import render_page
from surveil.report.sections import AlertSection, Chart, alert_section
from surveil.settings import Settings

REPORT_NAME = "report.html"
MAX_DAYS = 260  # a year of trading days in the alerts-per-day chart
MAX_TOP = 100  # alert sections: 25 fit the size budget with room to spare
OTHER_ALERTS = 200  # rows for the alerts after the top ones; the rest are counted


@dataclass
class ReportResult:
    trade_date: dt.date
    path: Path
    lake_uri: str | None  # where the lake copy went, if one was written
    bytes: int
    alerts: int  # the day's alerts
    sections: int  # alerts shown with evidence and charts
    listed: int  # alerts listed after them, one row each
    left_out: int  # alerts neither shown nor listed (see `surveil alerts`)
    charts: int
    seconds: float
    warning: str = ""  # why the day's alerts shown are not its alerts ('' when current)
    basis: str = ""  # the runs it was made over (ledger.basis)


def report_path(settings: Settings, day: dt.date) -> Path:
    return settings.data_path / "reports" / day_dir_name(day) / REPORT_NAME


def lake_key(day: dt.date) -> str:
    return f"reports/{day_dir_name(day)}/{REPORT_NAME}"


def lake_configured(settings: Settings) -> bool:
    """A lake named explicitly; the default local lake under SURVEIL_HOME gets no copy."""
    return settings.lake is not None or settings.s3_bucket is not None


def report_day(
    settings: Settings,
    day: dt.date,
    *,
    out: Path | None = None,
    days: int = 20,
    top: int = 25,
) -> ReportResult:
    """Make the day's report. Reads only: a failure here never touches the day or its
    alerts. Raises BadInputError (exit 3) for a day the warehouse does not hold."""
    if not 1 <= days <= MAX_DAYS:
        raise ConfigError(f"--days {days}: expected 1 to {MAX_DAYS}")
    if not 0 <= top <= MAX_TOP:
        raise ConfigError(f"--top {top}: expected 0 to {MAX_TOP}")
    if out is not None and not out.parent.is_dir():
        raise ConfigError(f"--out {out}: no folder {out.parent}")
    clock = time.perf_counter()
    context = gather_context(settings, day, days=days, top=top)
    page = render_page(context).encode("utf-8")
    path = out if out is not None else report_path(settings, day)
    write_atomically(path, page)
    uri = None
    if out is None and lake_configured(settings):
        uri = upload_report(settings, day, path, page)
    return ReportResult(
        day,
        path,
        uri,
        len(page),
        context["total_alerts"],
        len(context["sections"]),
        len(context["others"]),
        context["left_out"],
        len(context["charts"]),
        time.perf_counter() - clock,
        context["warning"],
        context["basis"],
    )


def gather_context(settings: Settings, day: dt.date, *, days: int, top: int) -> dict[str, Any]:
    """Everything the page shows, read from the warehouse in one snapshot."""
    from surveil.detect import RULES, resolve_params

    params = resolve_params(settings.rules_file)
    with db.connect(settings) as conn:
        db.migrate(conn)
        with conn.transaction():
            conn.execute(queries.SNAPSHOT)
            summary = read_summary(conn, day, list(RULES), days)
            state = ledger.day_state(conn, day, params)
            sections = [
                alert_section(conn, rank, row)
                for rank, row in enumerate(alert_rows(conn, day, top, 0), start=1)
            ]
            others = alert_rows(conn, day, OTHER_ALERTS, top)
    if summary.synthetic:
        from surveil.detect import evaluate_day

        summary.evaluation = gather.evaluation_rows(evaluate_day(settings, day))
    history = Chart("history", "history", f"Alerts per rule, last {days} trading days", {})
    history.data = {
        "days": [d.isoformat() for d in summary.history.days],
        "rules": summary.history.alerts,
    }
    if any(v is None for values in summary.history.alerts.values() for v in values):
        history.notes.append("A gap is a day the rule did not run on (or was not loaded).")
    charts = [history, *(c for s in sections for c in s.charts)]
    return {
        "day": day,
        "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC),
        "days": days,
        "top": top,
        "summary": summary,
        "total_alerts": summary.total_alerts,
        "sections": sections,
        "others": others,
        "left_out": max(0, summary.total_alerts - len(sections) - len(others)),
        "history_chart": history,
        "charts": charts,
        "charts_json": [{"id": c.id, "kind": c.kind, "data": c.data} for c in charts],
        "warning": ledger.detection_warning(state),
        "basis": ledger.basis(state),
    }


def read_summary(
    conn: psycopg.Connection, day: dt.date, rules: list[str], days: int
) -> gather.Summary:
    load = gather.load_info(conn, day)
    if load is None:
        raise BadInputError(f"{day}: not loaded in the warehouse (run load or run-day first)")
    history, rule_figures = gather.alert_history(conn, day, rules, days)
    row = conn.execute(queries.ALERT_COUNT, (day,)).fetchone()
    return gather.Summary(
        load=load,
        validation=gather.validation_info(conn, day, load),
        rule_runs=gather.rule_runs(conn, day, load),
        figures=gather.day_figures(conn, day),
        rule_figures=rule_figures,
        history=history,
        top_accounts=gather.top_accounts(conn, day),
        top_symbols=gather.top_symbols(conn, day),
        total_alerts=int(row[0]) if row else 0,
        synthetic=gather.is_synthetic(conn, day),
        backlog=gather.review_backlog(conn, day),
    )


def alert_rows(conn: psycopg.Connection, day: dt.date, limit: int, offset: int) -> list[Any]:
    if limit <= 0:
        return []
    params = {"d": day, "limit": limit, "offset": offset}
    return list(conn.execute(queries.ALERTS_BY_SCORE, params))


def write_atomically(path: Path, content: bytes) -> None:
    """The whole page or nothing: a reader never sees half a report."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UnavailableError(f"{path}: cannot write the report ({exc.strerror})") from None


def upload_report(settings: Settings, day: dt.date, path: Path, page: bytes) -> str:
    from surveil.lake import open_lake

    lake = open_lake(settings)
    key = lake_key(day)
    lake.put_file(key, path, hashlib.sha256(page).hexdigest(), overwrite=True)
    return f"{lake.uri.rstrip('/')}/{key}"


__all__ = ["AlertSection", "ReportResult", "lake_key", "report_day", "report_path"]
