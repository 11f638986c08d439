"""`surveil evaluate`: alerts scored against the generator's planted scenarios.

An alert matches a planted scenario of its rule's type on the same day and symbol that
shares an account and at least one order or execution id (for excessive_otr the account
and symbol suffice, and an account-level alert, symbol `*`, matches its account's case in
any symbol). Precision is counted per alert (matched alerts ÷ alerts), recall per
planted case (scenarios found ÷ scenarios planted); each is None (JSON null, "n/a") where it
is undefined — no alerts, nothing planted — never 0. A day whose load carried no
`scenarios.csv` (an imported drop copy, say) has no ground truth: its alerts are counted but
scored neither way, rather than as false.

The same scoring query reads either a day's stored alerts or, for `surveil tune`, a rule's
own SELECT run with other parameters (surveil/detect/tune.py), so the two agree by
construction on the current setting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from surveil import calendar, db
from surveil.detect import RULES, selected_rules
from surveil.errors import BadInputError, ConfigError
from surveil.settings import Settings

# The fired relation: (key, symbol, account_ids, cl_ord_ids, exec_ids) per alert. Referenced
# more than once below, so PostgreSQL materialises it: a rule's query runs once.
SCORE = """
WITH fired AS (
    SELECT r.key, r.symbol::text AS symbol, r.account_ids::text[] AS account_ids,
           r.cl_ord_ids::text[] AS cl_ord_ids, r.exec_ids::text[] AS exec_ids
    FROM ({fired}) r
), planted AS (
    SELECT scenario_id, symbol, account_ids, cl_ord_ids, exec_ids, label
    FROM planted_scenarios WHERE trade_date = %(trade_date)s AND type = %(rule)s
), matches AS (
    SELECT f.key, p.scenario_id, p.label
    FROM fired f JOIN planted p
      ON (p.symbol = f.symbol OR (%(rule)s = 'excessive_otr' AND f.symbol = '*'))
     AND p.account_ids && f.account_ids
     AND (%(rule)s = 'excessive_otr' OR p.cl_ord_ids && f.cl_ord_ids OR p.exec_ids && f.exec_ids)
)
SELECT (SELECT count(*) FROM planted WHERE label = 'abuse') AS planted,
       (SELECT count(*) FROM planted WHERE label = 'lookalike') AS lookalikes,
       (SELECT count(*) FROM fired) AS alerted,
       (SELECT count(DISTINCT key) FROM matches WHERE label = 'abuse') AS true_positives,
       (SELECT count(DISTINCT scenario_id) FROM matches WHERE label = 'abuse') AS found,
       (SELECT count(DISTINCT m.key) FROM matches m WHERE m.label = 'lookalike'
         AND NOT EXISTS (SELECT 1 FROM matches a WHERE a.key = m.key AND a.label = 'abuse'))
         AS on_lookalikes
"""
STORED_ALERTS = """
SELECT alert_id AS key, symbol, account_ids, cl_ord_ids, exec_ids
FROM alerts WHERE trade_date = %(trade_date)s AND rule = %(rule)s
"""
# The day's current load, and whether it carried the generator's ground truth.
LOAD_TRUTH = """
SELECT run_id, rows_read ? 'scenarios' FROM load_runs
WHERE trade_date = %s AND action IN ('loaded', 'replaced')
ORDER BY run_id DESC LIMIT 1
"""


@dataclass
class Counts:
    """What one rule's alerts score against the planted scenarios (summable over days)."""

    planted: int = 0
    lookalikes: int = 0
    alerted: int = 0
    true_positives: int = 0
    found: int = 0
    on_lookalikes: int = 0  # false alerts that match a planted look-alike

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (
            self.planted,
            self.lookalikes,
            self.alerted,
            self.true_positives,
            self.found,
            self.on_lookalikes,
        )


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass
class RuleScore:
    rule: str
    planted: int
    alerted: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None
    recall: float | None
    lookalikes: int = 0
    false_on_lookalikes: int = 0
    ground_truth: bool = True

    @classmethod
    def of(cls, rule: str, c: Counts, ground_truth: bool = True) -> RuleScore:
        if not ground_truth:
            return cls(rule, 0, c.alerted, 0, 0, 0, None, None, 0, 0, False)
        return cls(
            rule,
            c.planted,
            c.alerted,
            c.true_positives,
            c.alerted - c.true_positives,
            c.planted - c.found,
            ratio(c.true_positives, c.alerted),
            ratio(c.found, c.planted),
            c.lookalikes,
            c.on_lookalikes,
        )


@dataclass
class DayEvaluation:
    trade_date: dt.date
    ground_truth: bool
    rules: list[RuleScore]


@dataclass
class Evaluation:
    first: dt.date
    last: dt.date
    days: list[DayEvaluation] = field(default_factory=list)
    not_loaded: list[dt.date] = field(default_factory=list)
    totals: list[RuleScore] = field(default_factory=list)  # over the days with ground truth
    alerts_without_truth: dict[str, int] = field(default_factory=dict)


def score(
    conn: psycopg.Connection,
    rule: str,
    day: dt.date,
    params: dict[str, Any] | None = None,
) -> Counts:
    """Score the rule's stored alerts of the day, or (with `params`) what the rule's query
    returns with those parameters, without writing anything."""
    values: dict[str, Any] = {"trade_date": day, "rule": rule}
    if params is None:
        query = sql.SQL(SCORE).format(fired=sql.SQL(STORED_ALERTS))
    else:
        query = sql.SQL(SCORE).format(fired=sql.SQL(RULES[rule].SQL))
        values.update(params, close_utc=calendar.session(day).close_utc)
    row = conn.execute(query, values).fetchone()
    assert row is not None
    return Counts(*row)


def ground_truth(conn: psycopg.Connection, day: dt.date) -> bool | None:
    """Whether the day's current load carried planted scenarios; None when not loaded."""
    row = conn.execute(LOAD_TRUTH, (day,)).fetchone()
    return None if row is None else bool(row[1])


def evaluate_day(settings: Settings, day: dt.date, rule: str | None = None) -> list[RuleScore]:
    """The day's alerts of every rule (or one) against its planted scenarios."""
    names = selected_rules(rule)
    with db.connect(settings) as conn:
        db.migrate(conn)
        truth = ground_truth(conn, day)
        if truth is None:
            raise BadInputError(f"{day}: not loaded in the warehouse (run load first)")
        return [RuleScore.of(name, score(conn, name, day), truth) for name in names]


def evaluate_range(
    settings: Settings, first: dt.date, last: dt.date, rule: str | None = None
) -> Evaluation:
    """Every loaded trading day from `first` to `last`, and per-rule totals over the days
    with ground truth (alerts summed, then the ratios taken: a day with many alerts weighs
    more, as it does for the analyst)."""
    if last < first:
        raise ConfigError(f"--to {last} is before --from {first}")
    names = selected_rules(rule)
    result = Evaluation(first, last)
    totals = {name: Counts() for name in names}
    result.alerts_without_truth = dict.fromkeys(names, 0)
    with db.connect(settings) as conn:
        db.migrate(conn)
        for day in calendar.trading_days(first, last):
            truth = ground_truth(conn, day)
            if truth is None:
                result.not_loaded.append(day)
                continue
            scores = []
            for name in names:
                counts = score(conn, name, day)
                scores.append(RuleScore.of(name, counts, truth))
                if truth:
                    totals[name] += counts
                else:
                    result.alerts_without_truth[name] += counts.alerted
            result.days.append(DayEvaluation(day, truth, scores))
    if not result.days:
        raise BadInputError(f"no trading day from {first} to {last} is loaded (run load first)")
    has_truth = any(d.ground_truth for d in result.days)
    result.totals = [RuleScore.of(n, totals[n], has_truth) for n in names]
    return result
