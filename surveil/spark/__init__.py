"""`--engine spark`: the detection rules on Apache Spark, over the lake, past one machine.

The day's CSV files are read straight from the lake (a folder, or S3 through S3A) with
explicit schemas that mirror the warehouse's columns and types, and registered under the
warehouse's table names. Every rule's PostgreSQL SQL is translated to Spark SQL
(surveil.spark.translate) and run; the alerts, with the same deterministic ids and scores
as PostgreSQL's, are written to the lake as `alerts/trade_date=D/alerts.csv` with a manifest
(written last). `load_alerts` puts them into PostgreSQL's `alerts` table, replacing that
day's alerts of every rule the file covers, as `detect` does.

pyspark and sqlglot are the optional extra `surveil[spark]`; see docs/scaling.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from surveil import calendar
from surveil.detect import ALERT_COLUMNS, RULES, RuleRun, resolve_params, selected_rules
from surveil.errors import BadInputError
from surveil.lake import Lake, open_lake, read_manifest
from surveil.manifest import (
    COLUMNS,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    day_dir_name,
)
from surveil.settings import Settings
from surveil.spark.session import find_java, get_session, require_pyspark, spark_master
from surveil.spark.translate import to_spark_sql

ALERTS_PREFIX = "alerts"
ALERTS_FILE = "alerts.csv"
# The CSV columns of alerts.csv: the `alerts` table's, in `surveil alerts --csv` order.
ALERT_FILE_COLUMNS = ALERT_COLUMNS

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


# --- alerts in the lake ------------------------------------------------------------------


def alerts_lake(settings: Settings) -> Lake:
    """The lake's `alerts/` prefix, laid out like the lake: trade_date=D/alerts.csv +
    _manifest.json."""
    base = settings.lake_uri.rstrip("/")
    return open_lake(settings.model_copy(update={"lake": f"{base}/{ALERTS_PREFIX}"}))


def pg_array(items: list[str]) -> str:
    """A PostgreSQL array literal ({a,b}); elements quoted when they need it."""

    def one(item: str) -> str:
        if item == "" or item.upper() == "NULL" or any(c in item for c in '{},"\\ \t\n'):
            return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return item

    return "{" + ",".join(one(i) for i in items) + "}"


def parse_pg_array(text: str) -> list[str]:
    """The inverse of pg_array for the literals it writes."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise ValueError(f"not an array literal: {text!r}")
    inner = inner[1:-1]
    items: list[str] = []
    i = 0
    while i < len(inner):
        if inner[i] == '"':
            j, buf = i + 1, []
            while inner[j] != '"':
                if inner[j] == "\\":
                    j += 1
                buf.append(inner[j])
                j += 1
            items.append("".join(buf))
            i = j + 2
        else:
            j = inner.find(",", i)
            j = len(inner) if j < 0 else j
            items.append(inner[i:j])
            i = j + 1
    return items


def _alert_line(alert: dict[str, Any]) -> list[Any]:
    return [
        pg_array(alert[c]) if isinstance(alert[c], list) else alert[c] for c in ALERT_FILE_COLUMNS
    ]


@dataclass
class AlertsFile:
    manifest: dict[str, Any]
    entry: FileEntry
    rows: list[dict[str, Any]]


def _read_alerts_manifest(lake: Lake, day: dt.date) -> dict[str, Any] | None:
    key = f"{day_dir_name(day)}/{MANIFEST_NAME}"
    raw = lake.read_bytes(key)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        entry = doc["files"][ALERTS_FILE]
        if doc["trade_date"] != day.isoformat() or tuple(entry["columns"]) != ALERT_FILE_COLUMNS:
            raise ValueError("not the alerts of this day")
        doc["source"]["rules"]  # noqa: B018 - must be there
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{lake.uri}/{key}: malformed alerts manifest ({exc})") from None
    manifest: dict[str, Any] = doc
    return manifest


def read_alerts(settings: Settings, day: dt.date) -> AlertsFile | None:
    """The day's alerts file from the lake, checked against its manifest (sha256, rows)."""
    lake = alerts_lake(settings)
    doc = _read_alerts_manifest(lake, day)
    if doc is None:
        return None
    meta = doc["files"][ALERTS_FILE]
    key = f"{day_dir_name(day)}/{ALERTS_FILE}"
    raw = lake.read_bytes(key)
    if raw is None:
        raise BadInputError(f"{lake.uri}/{key}: listed in the manifest but not in the lake")
    if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
        raise BadInputError(f"{lake.uri}/{key}: sha256 differs from the manifest's")
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
    if tuple(reader.fieldnames or ()) != ALERT_FILE_COLUMNS:
        raise BadInputError(f"{lake.uri}/{key}: line 1: wrong header")
    rows = []
    for row in reader:
        for column in ("account_ids", "cl_ord_ids", "exec_ids"):
            row[column] = parse_pg_array(row[column])
        row["score"] = Decimal(row["score"])
        rows.append(row)
    if len(rows) != meta["rows"]:
        raise BadInputError(f"{lake.uri}/{key}: {len(rows)} rows, the manifest says {meta['rows']}")
    entry = FileEntry(ALERTS_FILE, meta["rows"], meta["sha256"], ALERT_FILE_COLUMNS)
    return AlertsFile(doc, entry, rows)


def write_alerts(
    settings: Settings,
    day: dt.date,
    alerts: list[dict[str, Any]],
    runs: list[RuleRun],
    input_sha256: str,
) -> str:
    """Write the day's alerts file, then its manifest. Rules that did not run keep the
    alerts the file already had for them (made from the same input day)."""
    lake = alerts_lake(settings)
    rules: dict[str, Any] = {}
    ran = {r.rule for r in runs}
    previous = read_alerts(settings, day)
    if previous is not None and previous.manifest["source"].get("input_sha256") == input_sha256:
        rules = {k: v for k, v in previous.manifest["source"]["rules"].items() if k not in ran}
        alerts = [a for a in previous.rows if a["rule"] not in ran] + alerts
    for r in runs:
        rules[r.rule] = {
            "version": r.version,
            "params": r.params,
            "alerts": r.alerts,
            "seconds": round(r.seconds, 3),
        }
    alerts = sorted(alerts, key=lambda a: (a["rule"], -a["score"], a["alert_id"]))
    with tempfile.TemporaryDirectory(prefix="surveil-alerts-") as tmp:
        path = Path(tmp) / ALERTS_FILE
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(ALERT_FILE_COLUMNS)
            writer.writerows(_alert_line(a) for a in alerts)
        entry = FileEntry(ALERTS_FILE, len(alerts), _sha256(path), ALERT_FILE_COLUMNS)
        source = {
            "kind": "alerts",
            "engine": "spark",
            "input_sha256": input_sha256,
            "rules": dict(sorted(rules.items())),
        }
        manifest = Manifest(day, {ALERTS_FILE: entry}, source)
        manifest_path = Path(tmp) / MANIFEST_NAME
        manifest_path.write_bytes(manifest.to_bytes())
        folder = day_dir_name(day)
        lake.put_file(f"{folder}/{ALERTS_FILE}", path, entry.sha256, overwrite=True)
        lake.put_file(
            f"{folder}/{MANIFEST_NAME}", manifest_path, _sha256(manifest_path), overwrite=True
        )
    return f"{lake.uri}/{day_dir_name(day)}/{ALERTS_FILE}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def alerts_are_current(
    settings: Settings, day: dt.date, input_sha256: str, params: dict[str, dict[str, Any]]
) -> bool:
    """True when the lake holds alerts of every rule, at its version and parameters, made
    from this input day: detecting again would change nothing."""
    doc = _read_alerts_manifest(alerts_lake(settings), day)
    if doc is None or doc["source"].get("input_sha256") != input_sha256:
        return False
    done = doc["source"]["rules"]
    return all(
        name in done
        and done[name]["version"] == module.VERSION
        and done[name]["params"] == params[name]
        for name, module in RULES.items()
    )


# --- into PostgreSQL ---------------------------------------------------------------------

INSERT_LAKE_DETECT_RUN = """
INSERT INTO detect_runs (trade_date, load_run_id, rule, rule_version, params, alerts, seconds,
                         validation)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""


@dataclass
class LoadAlertsResult:
    trade_date: dt.date
    alerts_uri: str
    engine: str
    rules: dict[str, int] = field(default_factory=dict)  # alerts loaded per rule
    replaced: int = 0  # alerts of those rules that were there before
    recorded_runs: bool = False  # detect_runs written: the warehouse holds the same day

    @property
    def alerts(self) -> int:
        return sum(self.rules.values())


def load_alerts(settings: Settings, day: dt.date) -> LoadAlertsResult:
    """Put the day's alerts from the lake into PostgreSQL: in one transaction, every rule
    the file covers has its alerts for the day replaced by the file's. When the warehouse
    holds the same input day (same manifest), the runs are recorded in detect_runs too, so
    run-day sees detection as done."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from surveil import db, ledger
    from surveil.load import CURRENT_LOAD

    found = read_alerts(settings, day)
    where = f"{alerts_lake(settings).uri}/{day_dir_name(day)}/{ALERTS_FILE}"
    if found is None:
        raise BadInputError(f"{where}: no alerts for {day} in the lake (run detect --engine spark)")
    source = found.manifest["source"]
    covered = list(source["rules"])
    unknown = [r for r in covered if r not in RULES]
    if unknown:
        raise BadInputError(f"{where}: alerts of unknown rules {unknown}")
    result = LoadAlertsResult(day, where, source.get("engine", "?"))
    with db.connect(settings) as conn:
        db.migrate(conn)
        with conn.transaction():
            # As detect: a load of the day waits, and so does a detection of the day.
            db.lock_day(conn, day, settings.lock_timeout_s, shared=True)
            db.lock_day(conn, day, settings.lock_timeout_s, namespace=db.DETECT_LOCK_NAMESPACE)
            for rule in covered:
                cur = conn.execute(
                    "DELETE FROM alerts WHERE trade_date = %s AND rule = %s", (day, rule)
                )
                result.replaced += cur.rowcount
            copy_alerts = sql.SQL("COPY alerts ({}) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, ALERT_FILE_COLUMNS))
            )
            with conn.cursor() as cur, cur.copy(copy_alerts) as copy:
                for alert in found.rows:
                    copy.write_row(
                        [
                            alert[c] if c != "params" else json.dumps(json.loads(alert[c]))
                            for c in ALERT_FILE_COLUMNS
                        ]
                    )
            for rule in covered:
                result.rules[rule] = sum(a["rule"] == rule for a in found.rows)
            current = conn.execute(CURRENT_LOAD, (day,)).fetchone()
            if current is not None and current[1] == source.get("input_sha256"):
                # What the warehouse's copy of the input day says of its validation, as
                # detect records it (the ledger shows a forced or unvalidated detection).
                validation = ledger.VALIDATION_AT_DETECT[ledger.day_state(conn, day).validation]
                for rule, run in source["rules"].items():
                    conn.execute(
                        INSERT_LAKE_DETECT_RUN,
                        (
                            day,
                            current[0],
                            rule,
                            run["version"],
                            Jsonb(run["params"]),
                            run["alerts"],
                            run["seconds"],
                            validation,
                        ),
                    )
                result.recorded_runs = True
    return result


# --- backfill ----------------------------------------------------------------------------


def _prepare_day(day: dt.date, orders: int | None, seed: int | None) -> tuple[str, str]:
    """generate → upload for one day (what backfill's worker processes run)."""
    from surveil.generate import generate_day
    from surveil.lake import upload_day
    from surveil.settings import load_settings

    settings = load_settings()
    generated = generate_day(settings, day, orders=orders, seed=seed)
    uploaded = upload_day(settings, day)
    return generated.status, uploaded.status


def backfill_spark(
    settings: Settings,
    days: list[dt.date],
    *,
    jobs: int = 1,
    orders: int | None = None,
    seed: int | None = None,
    on_done: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Every day through generate → upload (in `jobs` processes), then, in one Spark session,
    detection over the lake (skipped when the lake's alerts are current) and load-alerts
    into PostgreSQL. Every day is attempted; failures are recorded, not raised."""
    from surveil.errors import SurveilError
    from surveil.pipeline import DayOutcome, StepResult

    done: Callable[[DayOutcome], None] = on_done or (lambda _: None)
    prepared: dict[dt.date, Any] = {}
    if jobs <= 1 or len(days) <= 1:
        for day in days:
            prepared[day] = _catch(functools.partial(_prepare_day, day, orders, seed))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {day: pool.submit(_prepare_day, day, orders, seed) for day in days}
            for day, future in futures.items():
                prepared[day] = _catch(future.result)
    params = resolve_params(settings.rules_file)
    outcomes = []
    spark = None
    for day in days:
        state = prepared[day]
        if isinstance(state, SurveilError):
            outcome = DayOutcome(day, "failed", int(state.exit_code), str(state.args[0]))
            outcomes.append(outcome)
            done(outcome)
            continue
        steps = [
            StepResult("generate", state[0], "", 0.0),
            StepResult("upload", state[1], "", 0.0),
        ]
        try:
            clock = time.perf_counter()
            manifest = read_manifest(open_lake(settings), day)
            if alerts_are_current(settings, day, manifest.sha256, params):
                steps.append(StepResult("detect", "skipped", "alerts in the lake are current", 0.0))
            else:
                if spark is None:
                    spark = get_session(settings).session
                r = detect_day_spark(settings, day, spark=spark)
                steps.append(
                    StepResult(
                        "detect", "detected", f"{r.alerts} alerts", time.perf_counter() - clock
                    )
                )
            clock = time.perf_counter()
            loaded = load_alerts(settings, day)
            steps.append(
                StepResult(
                    "load-alerts", "loaded", f"{loaded.alerts} alerts", time.perf_counter() - clock
                )
            )
        except SurveilError as exc:
            outcome = DayOutcome(day, "failed", int(exc.exit_code), str(exc.args[0]), True, steps)
        else:
            new = any(s.status not in ("skipped", "unchanged") for s in steps[:3])
            outcome = DayOutcome(day, "done", 0, "done", new, steps)
        outcomes.append(outcome)
        done(outcome)
    return outcomes


def _catch(fn: Callable[[], Any]) -> Any:
    from surveil.errors import SurveilError

    try:
        return fn()
    except SurveilError as exc:
        return exc
