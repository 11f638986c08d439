"""The report's summary, read from the warehouse: provenance, the day's figures, alerts
against their usual level, where they cluster, and the evaluation on a synthetic day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from surveil import calendar
from surveil.report import queries

TOP_LIST = 10  # rows in the most-alerted accounts and symbols
BASELINE_DAYS = 20  # the usual level: the mean of the previous 20 trading days


@dataclass
class LoadInfo:
    run_id: int
    action: str
    manifest_sha256: str
    lake: str
    rows: dict[str, int]
    started_at: dt.datetime
    finished_at: dt.datetime


@dataclass
class ValidationInfo:
    validation_id: int
    passed: bool
    on_current_load: bool
    checked_at: dt.datetime
    checks: int
    failed: list[str]


@dataclass
class RuleRunInfo:
    rule: str
    version: str
    params: dict[str, Any]
    alerts: int
    on_current_load: bool
    ran_at: dt.datetime


@dataclass
class DayFigures:
    orders: int
    filled_orders: int  # orders with at least one fill
    cancels: int  # orders with a cancel time
    executions: int
    shares: int
    notional: Decimal


@dataclass
class RuleFigure:
    """A rule's alerts today against its mean over the previous trading days it ran on."""

    rule: str
    today: int | None  # None: the rule did not run on this day's load
    mean: float | None  # None: no earlier day to compare with
    baseline_days: int

    @property
    def ratio(self) -> float | None:
        if self.today is None or self.mean is None or self.mean == 0:
            return None
        return self.today / self.mean


@dataclass
class History:
    days: list[dt.date]
    alerts: dict[str, list[int | None]]  # per rule, per day; None: the rule did not run


@dataclass
class Ranked:
    name: str
    alerts: int
    max_score: Decimal
    rules: list[str]
    detail: str


@dataclass
class Backlog:
    open_alerts: int  # every day's cases not closed: the desk's backlog
    oldest_age: dt.timedelta | None
    day_open: int = 0  # of them, the report's day's


@dataclass
class Summary:
    load: LoadInfo
    validation: ValidationInfo | None
    rule_runs: list[RuleRunInfo]
    figures: DayFigures
    rule_figures: list[RuleFigure]
    history: History
    top_accounts: list[Ranked]
    top_symbols: list[Ranked]
    total_alerts: int
    synthetic: bool
    backlog: Backlog | None = None
    evaluation: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


def load_info(conn: psycopg.Connection, day: dt.date) -> LoadInfo | None:
    row = conn.execute(queries.LOAD_RUN, (day,)).fetchone()
    if row is None:
        return None
    run_id, action, sha, lake, rows, started, finished = row
    order = {"orders": 0, "executions": 1, "accounts": 2, "firms": 3}
    rows = dict(sorted(rows.items(), key=lambda kv: (order.get(kv[0], 9), kv[0])))
    return LoadInfo(run_id, action, sha.strip(), lake, rows, started, finished)


def validation_info(
    conn: psycopg.Connection, day: dt.date, load: LoadInfo
) -> ValidationInfo | None:
    row = conn.execute(queries.LATEST_VALIDATION, (day,)).fetchone()
    if row is None:
        return None
    validation_id, load_run_id, passed, checked_at, checks, failed = row
    return ValidationInfo(
        validation_id, passed, load_run_id == load.run_id, checked_at, checks, list(failed)
    )


def rule_runs(conn: psycopg.Connection, day: dt.date, load: LoadInfo) -> list[RuleRunInfo]:
    return [
        RuleRunInfo(rule, version, dict(params), alerts, load_run_id == load.run_id, ran_at)
        for rule, version, params, alerts, load_run_id, ran_at in conn.execute(
            queries.LATEST_DETECT_RUNS, (day,)
        )
    ]


def day_figures(conn: psycopg.Connection, day: dt.date) -> DayFigures:
    orders, filled, cancels = conn.execute(queries.ORDER_FIGURES, (day,)).fetchone() or (0, 0, 0)
    executions, shares, notional = conn.execute(queries.EXECUTION_FIGURES, (day,)).fetchone() or (
        0,
        0,
        0,
    )
    return DayFigures(orders, filled, cancels, executions, int(shares), Decimal(notional))


def trading_days_back(day: dt.date, count: int) -> list[dt.date]:
    """`count` trading days ending with `day`, oldest first."""
    days = [day]
    while len(days) < count:
        days.append(calendar.previous_trading_day(days[-1]))
    return days[::-1]


def alert_history(
    conn: psycopg.Connection, day: dt.date, rules: list[str], chart_days: int
) -> tuple[History, list[RuleFigure]]:
    """Alerts per rule per day over the chart's days, and today's against the baseline."""
    days = trading_days_back(day, max(chart_days, BASELINE_DAYS + 1))
    counts: dict[tuple[dt.date, str], int] = {
        (d, rule): int(n) for d, rule, n in conn.execute(queries.ALERTS_BY_DAY, {"days": days})
    }
    names = list(rules) + sorted({r for _, r in counts} - set(rules))
    shown = days[-chart_days:]
    history = History(shown, {r: [counts.get((d, r)) for d in shown] for r in names})
    baseline = days[-BASELINE_DAYS - 1 : -1]
    figures = []
    for rule in names:
        before = [counts[(d, rule)] for d in baseline if (d, rule) in counts]
        mean = sum(before) / len(before) if before else None
        figures.append(RuleFigure(rule, counts.get((day, rule)), mean, len(before)))
    return history, figures


def top_accounts(conn: psycopg.Connection, day: dt.date) -> list[Ranked]:
    rows = conn.execute(queries.TOP_ACCOUNTS, {"d": day, "limit": TOP_LIST})
    return [
        Ranked(account, n, score, list(rules), _first(symbols, 5))
        for account, n, score, rules, symbols in rows
    ]


def _first(names: list[str], count: int) -> str:
    shown = ", ".join(names[:count])
    return shown + (f" and {len(names) - count:,} more" if len(names) > count else "")


def top_symbols(conn: psycopg.Connection, day: dt.date) -> list[Ranked]:
    rows = conn.execute(queries.TOP_SYMBOLS, {"d": day, "limit": TOP_LIST})
    return [
        Ranked(symbol, n, score, list(rules), f"{accounts:,} account{'s' if accounts != 1 else ''}")
        for symbol, n, score, rules, accounts in rows
    ]


def is_synthetic(conn: psycopg.Connection, day: dt.date) -> bool:
    row = conn.execute(queries.IS_SYNTHETIC, (day,)).fetchone()
    return bool(row and row[0])


# The review backlog (sql/006_review.sql): every case not yet closed (open, escalated or
# waiting for approval), how long the oldest has been open, and how many are the day's.
# None (no block on the page) where the table is missing or not readable.
REVIEW_CASES = "review_cases"
REVIEW_BACKLOG = """
SELECT count(*), now() - min(opened_at), count(*) FILTER (WHERE trade_date = %s)
FROM {table} WHERE status <> 'closed'
"""


def review_backlog(
    conn: psycopg.Connection, day: dt.date, table: str = REVIEW_CASES
) -> Backlog | None:
    """The open review backlog, the oldest open alert's age and the day's open cases,
    where review exists."""
    row = conn.execute(queries.REVIEW_TABLE, (table,)).fetchone()
    if not row or not row[0]:
        return None
    query = sql.SQL(REVIEW_BACKLOG).format(table=sql.Identifier(table))
    try:
        with conn.transaction():  # a savepoint: a wrong guess leaves the snapshot usable
            found = conn.execute(query, (day,)).fetchone()
    except psycopg.Error as exc:
        # Class 42 (no such column, no privilege) or 22 (not a status it knows): the table
        # is not the one guessed, or not ours to read; anything else is a real failure.
        if (exc.sqlstate or "")[:2] in ("42", "22"):
            return None
        raise
    return Backlog(int(found[0]), found[1], int(found[2])) if found else None


def evaluation_rows(scores: list[Any]) -> list[dict[str, Any]]:
    """surveil.detect.evaluate_day's scores as plain rows, read defensively: its result
    type may gain (or rename) fields, and a missing one shows as a dash."""
    names = (
        "rule",
        "planted",
        "alerted",
        "true_positives",
        "false_positives",
        "false_negatives",
        "precision",
        "recall",
    )
    return [{name: getattr(score, name, None) for name in names} for score in scores]
