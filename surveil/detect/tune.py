"""`surveil tune`: how a rule's alerts and their quality move with its parameters.

For one rule and a range of loaded days, the rule's own query (its SELECT, without the
INSERT that `detect` wraps it in) runs once per day and setting inside a READ ONLY
transaction, so the server itself refuses any write: stored alerts, detect runs and review
cases are never touched. Each result is scored by the query `evaluate` uses
(surveil/detect/evaluate.py), so the current setting's figures equal `evaluate`'s over
alerts that `detect` stored with the same parameters.

Settings are either a one-at-a-time sweep (each numeric parameter at ±10, 25 and 50% of its
current value, the others at theirs) or a grid of given values (`P=v1,v2` for one or more
parameters: every combination). Per setting: alerts per day over all days, and TP, FP, FN,
precision, recall and F1 over the days with ground truth, with the change against the
current setting.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from surveil import calendar, db
from surveil.detect import (
    DETECT_SESSION_SETTINGS,
    RULES,
    _coerce,
    _local_settings,
    resolve_params,
    selected_rules,
)
from surveil.detect.evaluate import Counts, f1, ground_truth, ratio, score
from surveil.errors import BadInputError, ConfigError
from surveil.settings import Settings

SWEEP_STEPS = (-0.5, -0.25, -0.1, 0.1, 0.25, 0.5)
MAX_SETTINGS = 200  # a grid larger than this is refused, not run for hours
READ_ONLY = "SET TRANSACTION READ ONLY"


@dataclass
class TuneRow:
    label: str  # "current", or the changed parameters: "window_s=0.25"
    changed: dict[str, Any]
    params: dict[str, Any]
    alerts: int
    alerts_per_day: float
    true_positives: int | None
    false_positives: int | None
    false_negatives: int | None
    precision: float | None
    recall: float | None
    f1: float | None
    delta: dict[str, float | None] = field(default_factory=dict)  # this minus current


@dataclass
class TuneResult:
    rule: str
    version: str
    first: dt.date
    last: dt.date
    days: list[dt.date]
    days_with_truth: int
    not_loaded: list[dt.date]
    current: dict[str, Any]
    rows: list[TuneRow]


def sweep(current: dict[str, Any]) -> list[dict[str, Any]]:
    """One parameter at a time at ±10/25/50% of its value; whole-number parameters rounded,
    repeats and unchanged values dropped; true/false parameters left alone."""
    settings: list[dict[str, Any]] = []
    for key, value in current.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        seen = {value}
        for step in SWEEP_STEPS:
            moved = value * (1 + step)
            moved = round(moved) if isinstance(value, int) else round(moved, 6)
            if moved not in seen and moved >= 0:
                seen.add(moved)
                settings.append({key: moved})
    return settings


def grid(rule: str, values: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Every combination of the given values (`{"window_s": ["0.25", "1"]}`), typed like
    the parameters' defaults."""
    defaults = RULES[rule].PARAMS
    typed: dict[str, list[Any]] = {}
    for key, texts in values.items():
        if key not in defaults:
            known = ", ".join(defaults)
            raise ConfigError(f"unknown parameter {rule}.{key}; {rule} takes {known}")
        typed[key] = [_coerce(rule, key, t.strip(), defaults[key]) for t in texts if t.strip()]
        if not typed[key]:
            raise ConfigError(f"--param {key}: no values given")
    combos = list(itertools.product(*typed.values()))
    if len(combos) > MAX_SETTINGS:
        raise ConfigError(f"{len(combos)} settings asked for; at most {MAX_SETTINGS} per run")
    return [dict(zip(typed, combo, strict=True)) for combo in combos]


def parse_values(pairs: list[str], rule: str) -> dict[str, list[str]]:
    """`P=v1,v2` (or `RULE.P=v1,v2`) strings from --param as {P: [v1, v2]}."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, listed = pair.partition("=")
        key = name.strip().removeprefix(f"{rule}.")
        if not sep or not key or "." in key:
            raise ConfigError(f"--param {pair!r}: expected PARAM=V1,V2,... for rule {rule}")
        values.setdefault(key, []).extend(listed.split(","))
    return values


def tune(
    settings: Settings,
    rule: str,
    first: dt.date,
    last: dt.date,
    values: dict[str, list[str]] | None = None,
) -> TuneResult:
    """Score the rule at its current parameters (defaults, then the rules file) and at each
    other setting (`values` as a grid, else the sweep) over the loaded days."""
    selected_rules(rule)
    if last < first:
        raise ConfigError(f"--to {last} is before --from {first}")
    current = resolve_params(settings.rules_file)[rule]
    changes = grid(rule, values) if values else sweep(current)
    changes = [c for c in changes if {**current, **c} != current]
    trials = [{}, *changes]
    totals = [Counts() for _ in trials]
    alerts = [0] * len(trials)
    days: list[dt.date] = []
    not_loaded: list[dt.date] = []
    with_truth = 0
    with db.connect(settings) as conn:
        db.migrate(conn)
        for day in calendar.trading_days(first, last):
            with conn.transaction(force_rollback=True):
                conn.execute(READ_ONLY)
                truth = ground_truth(conn, day)
                if truth is None:
                    not_loaded.append(day)
                    continue
                days.append(day)
                with_truth += truth
                conn.execute(DETECT_SESSION_SETTINGS)
                planner = getattr(RULES[rule], "PLANNER_SETTINGS", {})
                with _local_settings(conn, planner):
                    for i, change in enumerate(trials):
                        counts = score(conn, rule, day, {**current, **change})
                        alerts[i] += counts.alerted
                        if truth:
                            totals[i] += counts
    if not days:
        raise BadInputError(f"no trading day from {first} to {last} is loaded (run load first)")
    rows = [
        _row(change, current, totals[i], alerts[i], len(days), with_truth > 0)
        for i, change in enumerate(trials)
    ]
    for row in rows:
        row.delta = _delta(row, rows[0])
    version = RULES[rule].VERSION
    return TuneResult(rule, version, first, last, days, with_truth, not_loaded, current, rows)


def _row(
    change: dict[str, Any], current: dict[str, Any], c: Counts, alerts: int, days: int,
    truth: bool,
) -> TuneRow:  # fmt: skip
    label = ", ".join(f"{k}={v}" for k, v in change.items()) or "current"
    precision = ratio(c.true_positives, c.alerted) if truth else None
    recall = ratio(c.found, c.planted) if truth else None
    return TuneRow(
        label, change, {**current, **change}, alerts, alerts / days,
        c.true_positives if truth else None,
        c.alerted - c.true_positives if truth else None,
        c.planted - c.found if truth else None,
        precision, recall, f1(precision, recall),
    )  # fmt: skip


def _delta(row: TuneRow, base: TuneRow) -> dict[str, float | None]:
    def minus(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    return {
        "alerts_per_day": row.alerts_per_day - base.alerts_per_day,
        "precision": minus(row.precision, base.precision),
        "recall": minus(row.recall, base.recall),
        "f1": minus(row.f1, base.f1),
    }
