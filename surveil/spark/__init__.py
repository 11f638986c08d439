"""`--engine spark`: the detection rules on Apache Spark, over the lake, past one machine.

The day's CSV files are read straight from the lake (a folder, or S3 through S3A) with
explicit schemas that mirror the warehouse's columns and types, and registered under the
warehouse's table names. Every rule's PostgreSQL SQL is translated to Spark SQL
(surveil.spark.translate) and run; the alerts, with the same deterministic ids and scores
as PostgreSQL's, are written to the lake as `alerts/trade_date=D/alerts.csv` with a manifest
(written last) by surveil.detect.lake_alerts, whose `load_alerts` puts them into
PostgreSQL's `alerts` table, replacing that day's alerts of every rule the file covers, as
`detect` does. This package is an engine only: backfill over Spark is run by the pipeline.

pyspark and sqlglot are the optional extra `surveil[spark]`; see docs/scaling.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from surveil import calendar
from surveil.detect import RULES, RuleRun, resolve_params, selected_rules
from surveil.detect.lake_alerts import write_alerts
from surveil.errors import BadInputError
from surveil.lake import Lake, open_lake, read_manifest
from surveil.manifest import (
    COLUMNS,
    day_dir_name,
)
from surveil.settings import Settings
from surveil.spark.session import find_java, get_session, require_pyspark, spark_master
from surveil.spark.translate import to_spark_sql

# The warehouse's columns and types (sql/001_core_schema.sql) in Spark's terms: varchar and
# char become STRING, timestamptz TIMESTAMP (an instant; the session runs in UTC).
SPARK_TYPES: dict[str, dict[str, str]] = {
    "firms": {"firm_id": "STRING", "firm_name": "STRING", "account_type": "STRING"},
    "accounts": {
        "account_id": "STRING",
        "firm_id": "STRING",
        "account_type": "STRING",
        "beneficial_owner_id": "STRING",
    },
    "orders": {
        "cl_ord_id": "STRING",
        "trade_date": "DATE",
        "account_id": "STRING",
        "firm_id": "STRING",
        "symbol": "STRING",
        "side": "STRING",
        "order_type": "STRING",
        "time_in_force": "STRING",
        "quantity": "INT",
        "limit_price": "DECIMAL(12,4)",
        "transact_time": "TIMESTAMP",
        "ord_status": "STRING",
        "cum_qty": "INT",
        "avg_px": "DECIMAL(18,6)",
        "cancel_time": "TIMESTAMP",
    },
    "executions": {
        "exec_id": "STRING",
        "trade_date": "DATE",
        "cl_ord_id": "STRING",
        "account_id": "STRING",
        "symbol": "STRING",
        "side": "STRING",
        "fill_qty": "INT",
        "fill_price": "DECIMAL(12,4)",
        "venue": "STRING",
        "transact_time": "TIMESTAMP",
    },
}
# The warehouse's nullable columns; every other column is NOT NULL there, and an empty value
# in one is a bad file, as COPY would say.
NULLABLE = {
    ("orders", "limit_price"),
    ("orders", "avg_px"),
    ("orders", "cancel_time"),
    ("accounts", "beneficial_owner_id"),  # NULL: owner unknown (omnibus, retail)
}
# The reference files carry no trade date; in the warehouse each day's firms and accounts
# are its own (migration 005), and the rules join them on (trade_date, id).
PER_DAY_REFERENCE = ("firms", "accounts")


def spark_schema(table: str) -> str:
    """The DDL schema Spark reads `table`.csv with, in the file's column order. (Spark reads
    files as nullable whatever the schema says; register_day checks the NOT NULL columns.)"""
    types = SPARK_TYPES[table]
    assert tuple(types) == COLUMNS[table], table
    return ", ".join(f"{name} {kind}" for name, kind in types.items())


def spark_uri(lake_uri: str) -> str:
    """Where Spark reads the lake: s3://bucket/prefix through S3A, a folder as file://."""
    if lake_uri.startswith("s3://"):
        return "s3a://" + lake_uri.removeprefix("s3://").rstrip("/")
    return Path(lake_uri).expanduser().resolve().as_uri()


# --- reading a day -----------------------------------------------------------------------


@dataclass
class DayTables:
    trade_date: dt.date
    manifest_sha256: str
    rows: dict[str, int]
    seconds: float


def register_day(spark: Any, settings: Settings, lake: Lake, day: dt.date) -> DayTables:
    """Read the day's four CSV files from the lake into cached Spark tables named like the
    warehouse's, after checking each object's sha256 and, once read, its row count against
    the manifest."""
    clock = time.perf_counter()
    manifest = read_manifest(lake, day)
    if manifest.trade_date != day:
        raise BadInputError(f"{lake.uri}: the manifest of {day} is for {manifest.trade_date}")
    base = f"{spark_uri(lake.uri)}/{day_dir_name(day)}"
    rows: dict[str, int] = {}
    for table in COLUMNS:
        entry = manifest.entry(table)
        key = f"{day_dir_name(day)}/{entry.name}"
        stored = lake.sha256_of(key)
        if stored is None:
            raise BadInputError(f"{lake.uri}/{key}: listed in the manifest but not in the lake")
        if stored != entry.sha256:
            raise BadInputError(f"{lake.uri}/{key}: sha256 differs from the manifest's")
        frame = spark.read.csv(
            f"{base}/{entry.name}",
            schema=spark_schema(table),
            header=True,
            enforceSchema=False,  # the header must name the schema's columns
            mode="FAILFAST",
            nullValue="",
            emptyValue="",
        )
        if table in PER_DAY_REFERENCE:
            frame = frame.selectExpr(f"DATE'{day.isoformat()}' AS trade_date", "*")
        frame = frame.cache()
        # Spark reads every file column as nullable: count the rows and the nulls in the
        # warehouse's NOT NULL columns in the one pass that also fills the cache.
        required = [c for c in COLUMNS[table] if (table, c) not in NULLABLE]
        try:
            counts = frame.selectExpr(
                "count(*)", *(f"count_if({c} IS NULL)" for c in required)
            ).first()
        except Exception as exc:
            raise BadInputError(f"{lake.uri}/{key}: {_spark_error(exc)}") from None
        rows[table] = counts[0]
        missing = [c for c, n in zip(required, counts[1:], strict=True) if n]
        if missing:
            raise BadInputError(f"{lake.uri}/{key}: empty values in required columns {missing}")
        if rows[table] != entry.rows:
            raise BadInputError(
                f"{lake.uri}/{key}: {rows[table]} rows, the manifest says {entry.rows}"
            )
        frame.createOrReplaceTempView(table)
    return DayTables(day, manifest.sha256, rows, time.perf_counter() - clock)


def release_day(spark: Any) -> None:
    for table in COLUMNS:
        if spark.catalog.tableExists(table):
            spark.table(table).unpersist()
            spark.catalog.dropTempView(table)


def _spark_error(exc: Exception) -> str:
    """The first informative line of a Spark (JVM) error."""
    text = str(exc)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "==")):
            return line[:400]
    return type(exc).__name__


# --- running the rules -------------------------------------------------------------------


def pg_score(value: float) -> Decimal:
    """PostgreSQL's round(greatest(0, least(100, score))::numeric, 2): float8 → numeric
    keeps 15 significant digits, then rounds half away from zero."""
    clamped = max(0.0, min(100.0, float(value)))
    return Decimal(format(clamped, ".15g")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def alert_id(rule: str, day: dt.date, key: str) -> str:
    return hashlib.md5(f"{rule}|{day.isoformat()}|{key}".encode()).hexdigest()


def rule_values(name: str, day: dt.date, params: dict[str, Any]) -> dict[str, Any]:
    """What the rule's %(name)s parameters stand for, as detect passes them to PostgreSQL."""
    return {**params, "trade_date": day, "close_utc": calendar.session(day).close_utc}


def run_rule(
    spark: Any, name: str, day: dt.date, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], float]:
    """One rule's alerts for the registered day, as rows of the alerts table."""
    module = RULES[name]
    clock = time.perf_counter()
    query = to_spark_sql(module.SQL, rule_values(name, day, params))
    try:
        found = spark.sql(query).collect()
    except Exception as exc:
        raise BadInputError(f"rule {name} on Spark: {_spark_error(exc)}") from None
    params_json = json.dumps(params, sort_keys=True)
    alerts = [
        {
            "alert_id": alert_id(name, day, row["key"]),
            "trade_date": day.isoformat(),
            "rule": name,
            "rule_version": module.VERSION,
            "symbol": row["symbol"],
            "account_ids": list(row["account_ids"]),
            "cl_ord_ids": list(row["cl_ord_ids"]),
            "exec_ids": list(row["exec_ids"]),
            "score": pg_score(row["score"]),
            "explanation": row["explanation"],
            "params": params_json,
        }
        for row in found
    ]
    return alerts, time.perf_counter() - clock


@dataclass
class SparkDetectResult:
    trade_date: dt.date
    engine: str
    master: str
    manifest_sha256: str  # of the input day the alerts were computed from
    alerts_uri: str
    jvm_start_seconds: float
    read_seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    rules: list[RuleRun] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(r.alerts for r in self.rules)


def detect_day_spark(
    settings: Settings,
    day: dt.date,
    rule: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    *,
    spark: Any = None,
) -> SparkDetectResult:
    """Run the rules (or one) on Spark over the day in the lake and write the alerts to the
    lake. With one rule, the other rules' alerts already in the day's file are kept."""
    params = resolve_params(settings.rules_file, overrides)
    names = selected_rules(rule)
    lake = open_lake(settings)
    if spark is None:
        require_pyspark()
        find_java()
    read_manifest(lake, day)  # a day missing from the lake fails before the JVM starts
    start = 0.0
    if spark is None:
        started = get_session(settings)
        spark, start = started.session, started.seconds
    try:
        tables = register_day(spark, settings, lake, day)
        alerts: list[dict[str, Any]] = []
        runs: list[RuleRun] = []
        for name in names:
            found, seconds = run_rule(spark, name, day, params[name])
            alerts.extend(found)
            runs.append(RuleRun(name, RULES[name].VERSION, params[name], len(found), seconds))
    finally:
        release_day(spark)
    uri = write_alerts(settings, day, alerts, runs, tables.manifest_sha256)
    return SparkDetectResult(
        day,
        "spark",
        spark_master(settings),
        tables.manifest_sha256,
        uri,
        start,
        tables.seconds,
        tables.rows,
        runs,
    )
