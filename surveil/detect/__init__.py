"""`surveil detect`: market-abuse rules run as set-based SQL inside PostgreSQL.

Each rule is a module with NAME, VERSION, PARAMS (defaults) and SQL: one query over a loaded
day returning one row per alert (key, symbol, account_ids, cl_ord_ids, exec_ids, score,
explanation). The query receives the rule's parameters, `trade_date` and `close_utc` (the
session's close, 13:00 ET on early-close days). Parameters come from the defaults, then a
rules file (TOML, SURVEIL_RULES_FILE or --rules), then per-run overrides. A rule may also
carry PLANNER_SETTINGS, PostgreSQL settings in force for its query only, where the planner's
own choice was measured to be several times slower.

A rule's alerts for a day are replaced whole in one transaction: re-running gives the same
alerts (their ids are deterministic) and never duplicates; changing a parameter replaces
that rule's alerts.

Detection refuses a day whose current load failed validation (ValidationFailedError, exit
1) unless forced; every run records the validation state it ran over (passed, failed when
forced, missing when the load was never validated), and a detection that fails records
the attempt in detect_failures, so the day ledger (surveil/ledger.py) never counts a day
whose detection did not finish as detected.
"""

from __future__ import annotations

import datetime as dt
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from surveil import calendar, db, ledger
from surveil.detect import (
    excessive_otr,
    front_running,
    marking_the_close,
    spoofing,
    wash_trade,
)
from surveil.errors import (
    BadInputError,
    ConfigError,
    DayLockedError,
    RetryLaterError,
    ValidationFailedError,
)
from surveil.review import suppressions
from surveil.settings import Settings

RULES: dict[str, ModuleType] = {
    m.NAME: m for m in (wash_trade, spoofing, marking_the_close, excessive_otr, front_running)
}

INSERT_ALERTS = """
INSERT INTO alerts (alert_id, trade_date, rule, rule_version, params, symbol, account_ids,
                    cl_ord_ids, exec_ids, score, explanation)
SELECT md5(%(rule)s || '|' || %(trade_date)s::text || '|' || r.key), %(trade_date)s,
       %(rule)s, %(rule_version)s, %(params_json)s, r.symbol, r.account_ids, r.cl_ord_ids,
       r.exec_ids, round(greatest(0, least(100, r.score))::numeric, 2), r.explanation
FROM ({rule_sql}) r
"""
DETECT_SESSION_SETTINGS = "SET LOCAL work_mem = '256MB'"
CURRENT_SETTING = "SELECT current_setting(%s)"
SET_LOCAL = "SELECT set_config(%s, %s, true)"
DELETE_ALERTS = "DELETE FROM alerts WHERE trade_date = %s AND rule = %s"
INSERT_DETECT_RUN = """
INSERT INTO detect_runs (trade_date, load_run_id, rule, rule_version, params, alerts, seconds,
                         validation)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
# Recorded against the day's current load; a day never loaded records nothing (a mistyped
# date must not become a day the ledger knows, which catch-up would then start from).
INSERT_DETECT_FAILURE = """
INSERT INTO detect_failures (trade_date, load_run_id, rules, error)
SELECT %(d)s, run_id, %(rules)s, %(error)s FROM load_runs
WHERE trade_date = %(d)s AND action IN ('loaded', 'replaced')
ORDER BY run_id DESC LIMIT 1
"""


@dataclass
class RuleRun:
    rule: str
    version: str
    params: dict[str, Any]
    alerts: int
    seconds: float


@dataclass
class DetectResult:
    trade_date: dt.date
    load_run_id: int
    rules: list[RuleRun] = field(default_factory=list)
    validation: ledger.ValidationAtDetect = "missing"  # of the load the rules read
    suppressed: int = 0  # of the day's alerts of these rules, closed by a suppression

    @property
    def alerts(self) -> int:
        return sum(r.alerts for r in self.rules)


def _coerce(rule: str, key: str, value: Any, default: Any) -> Any:
    where = f"{rule}.{key}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"rule parameter {where}: expected true or false, got {value!r}")
    try:
        number = type(default)(value)
    except (TypeError, ValueError):
        raise ConfigError(f"rule parameter {where}: expected a number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"rule parameter {where}: must not be negative")
    return number


def resolve_params(
    rules_file: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Every rule's parameters: defaults, then the rules file, then per-run overrides."""
    layers: list[dict[str, Any]] = []
    if rules_file is not None:
        try:
            layers.append(tomllib.loads(rules_file.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"{rules_file}: rules file not found") from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"{rules_file}: cannot read the rules file ({reason})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{rules_file}: not valid TOML ({exc})") from None
    layers.append(overrides or {})
    params = {name: dict(module.PARAMS) for name, module in RULES.items()}
    for number, layer in enumerate(layers):
        try:
            _apply_layer(params, layer)
        except ConfigError as exc:
            if rules_file is not None and number == 0:
                raise ConfigError(f"{rules_file}: {exc}") from None
            raise
    return params


def _apply_layer(params: dict[str, dict[str, Any]], layer: dict[str, Any]) -> None:
    for rule, values in layer.items():
        if rule not in RULES:
            raise ConfigError(f"unknown rule {rule!r}; rules are {', '.join(RULES)}")
        if not isinstance(values, dict):
            raise ConfigError(f"rule {rule!r}: expected a table of parameters")
        for key, value in values.items():
            if key not in RULES[rule].PARAMS:
                known = ", ".join(RULES[rule].PARAMS)
                raise ConfigError(f"unknown parameter {rule}.{key}; {rule} takes {known}")
            params[rule][key] = _coerce(rule, key, value, RULES[rule].PARAMS[key])
            if key in getattr(RULES[rule], "POSITIVE", ()) and not params[rule][key] > 0:
                raise ConfigError(f"rule parameter {rule}.{key}: must be greater than 0")


def parse_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`rule.param=value` strings (from --param) as nested overrides."""
    overrides: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        rule, dot, key = name.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"--param {pair!r}: expected RULE.PARAM=VALUE")
        overrides.setdefault(rule, {})[key] = value.strip()
    return overrides


def selected_rules(rule: str | None) -> list[str]:
    if rule is None:
        return list(RULES)
    if rule not in RULES:
        raise ConfigError(f"--rule {rule!r}: rules are {', '.join(RULES)}")
    return [rule]


def detect_day(
    settings: Settings,
    day: dt.date,
    *,
    rule: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    force: bool = False,
) -> DetectResult:
    """Run the rules over the loaded day. `force` runs them even over a load that failed
    validation (the runs say so)."""
    params = resolve_params(settings.rules_file, overrides)
    names = selected_rules(rule)
    with db.connect(settings) as conn:
        db.migrate(conn)
        try:
            return _detect(conn, day, names, params, settings.lock_timeout_s, force)
        except (DayLockedError, RetryLaterError, ValidationFailedError):
            raise  # not tried (another run has the day, or refused): nothing to record
        except Exception as exc:
            _record_failure(settings, day, names, exc)
            raise


def _record_failure(settings: Settings, day: dt.date, names: list[str], exc: Exception) -> None:
    """Say, in a transaction of its own, that a detection of the day was tried and failed.
    Best effort: with the database gone the day simply stays undetected in the ledger."""
    text = str(exc.args[0]) if exc.args else ""
    error = f"{exc.__class__.__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"
    try:
        with db.connect(settings) as conn:
            conn.execute(INSERT_DETECT_FAILURE, {"d": day, "rules": names, "error": error[:500]})
    except Exception:  # noqa: BLE001 - the original failure is what the caller reports
        pass


def _detect(
    conn: psycopg.Connection,
    day: dt.date,
    names: list[str],
    params: dict[str, dict[str, Any]],
    lock_s: float,
    force: bool = False,
) -> DetectResult:
    close_utc = calendar.session(day).close_utc
    with conn.transaction():
        # Shared: a load of that day waits for detections (and they for a load)...
        db.lock_day(conn, day, lock_s, shared=True)
        # ...while two detections of the day, which replace the same alerts, take turns.
        db.lock_day(conn, day, lock_s, namespace=db.DETECT_LOCK_NAMESPACE)
        # Rules sort and hash a day's fills at once; spilling to disk would cost more.
        conn.execute(DETECT_SESSION_SETTINGS)
        state = ledger.day_state(conn, day)
        if state.load_run_id is None:
            raise BadInputError(f"{day}: not loaded in the warehouse (run load first)")
        if state.validation == "fail" and not force:
            raise ValidationFailedError(
                f"{day}: the loaded day failed validation (validation run "
                f"{state.validation_id}); detect refuses to run over it: correct the day and "
                "reload it (surveil load --force), or pass --force to run anyway (recorded as "
                "run over a failed validation)"
            )
        result = DetectResult(
            day, state.load_run_id, validation=ledger.VALIDATION_AT_DETECT[state.validation]
        )
        for name in names:
            module = RULES[name]
            clock = time.perf_counter()
            count = replace_rule_alerts(conn, day, name, params[name], close_utc)
            seconds = time.perf_counter() - clock
            conn.execute(
                INSERT_DETECT_RUN,
                (
                    day,
                    result.load_run_id,
                    name,
                    module.VERSION,
                    Jsonb(params[name]),
                    count,
                    seconds,
                    result.validation,
                ),
            )
            result.rules.append(RuleRun(name, module.VERSION, params[name], count, seconds))
        # New alerts open review cases; those a suppression covers are closed as suppressed.
        result.suppressed = suppressions.apply_to_day(conn, day, names)
    return result


def replace_rule_alerts(
    conn: psycopg.Connection,
    day: dt.date,
    name: str,
    params: dict[str, Any],
    close_utc: dt.datetime,
) -> int:
    """In the caller's transaction: the rule's alerts of the day replaced by what its SQL
    finds now, with its planner settings (detect and watch's passes both run rules so); the
    number of alerts."""
    module = RULES[name]
    conn.execute(DELETE_ALERTS, (day, name))
    query = sql.SQL(INSERT_ALERTS).format(rule_sql=sql.SQL(module.SQL))
    values = {
        **params,
        "trade_date": day,
        "close_utc": close_utc,
        "rule": name,
        "rule_version": module.VERSION,
        "params_json": Jsonb(params),
    }
    planner = getattr(module, "PLANNER_SETTINGS", {})
    with _local_settings(conn, planner), conn.cursor() as cur:
        cur.execute(query, values)
        return cur.rowcount


@contextmanager
def _local_settings(conn: psycopg.Connection, settings: dict[str, str]) -> Iterator[None]:
    """`settings` in force for the statements inside (in the open transaction), then the
    previous values back."""
    saved = {}
    for name, value in settings.items():
        row = conn.execute(CURRENT_SETTING, (name,)).fetchone()
        saved[name] = row[0] if row else None
        conn.execute(SET_LOCAL, (name, value))
    yield
    for name, previous in saved.items():
        conn.execute(SET_LOCAL, (name, previous))


ALERT_COLUMNS = (
    "alert_id",
    "trade_date",
    "rule",
    "rule_version",
    "symbol",
    "account_ids",
    "cl_ord_ids",
    "exec_ids",
    "score",
    "explanation",
    "params",
)
# What `surveil alerts` lists: the stored columns, then when the orders and fills the alert
# names began and ended (its time on the day; the review and the report show the same).
LISTED_COLUMNS = (*ALERT_COLUMNS, "first_event_at", "last_event_at")
LIST_ALERTS = """
SELECT a.alert_id, a.trade_date, a.rule, a.rule_version, a.symbol, a.account_ids,
       a.cl_ord_ids, a.exec_ids, a.score, a.explanation, a.params, w.first_at, w.last_at
FROM alerts a
CROSS JOIN LATERAL (
    SELECT min(t) AS first_at, max(t) AS last_at FROM (
        SELECT o.transact_time AS t FROM orders o
        WHERE o.trade_date = a.trade_date AND o.cl_ord_id = ANY(a.cl_ord_ids)
        UNION ALL
        SELECT o.cancel_time FROM orders o
        WHERE o.trade_date = a.trade_date AND o.cl_ord_id = ANY(a.cl_ord_ids)
        UNION ALL
        SELECT e.transact_time FROM executions e
        WHERE e.trade_date = a.trade_date AND e.exec_id = ANY(a.exec_ids)
    ) named
) w
WHERE a.trade_date = %(d)s AND (%(rule)s::text IS NULL OR a.rule = %(rule)s)
ORDER BY a.rule, a.score DESC, a.alert_id
"""


def list_alerts(settings: Settings, day: dt.date, rule: str | None = None) -> list[dict[str, Any]]:
    """The day's alerts (of one rule), best first, each with its first and last event."""
    if rule is not None:
        selected_rules(rule)
    with db.connect(settings) as conn:
        db.migrate(conn)
        rows = conn.execute(LIST_ALERTS, {"d": day, "rule": rule}).fetchall()
    return [dict(zip(LISTED_COLUMNS, row, strict=True)) for row in rows]


# Scoring against planted scenarios lives in evaluate.py (it reads RULES above).
from surveil.detect.evaluate import (  # noqa: E402
    DayEvaluation,
    Evaluation,
    RuleScore,
    evaluate_day,
    evaluate_range,
)

# The package's API; the rule modules (wash_trade, spoofing, ...) are its submodules.
__all__ = [
    "ALERT_COLUMNS",
    "DELETE_ALERTS",
    "DETECT_SESSION_SETTINGS",
    "INSERT_DETECT_RUN",
    "LISTED_COLUMNS",
    "RULES",
    "DayEvaluation",
    "DetectResult",
    "Evaluation",
    "RuleRun",
    "RuleScore",
    "detect_day",
    "evaluate_day",
    "evaluate_range",
    "list_alerts",
    "parse_overrides",
    "resolve_params",
    "selected_rules",
]
