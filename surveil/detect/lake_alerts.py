"""Alerts in the lake, and bringing them into PostgreSQL.

An engine that detects away from the warehouse (Spark, over the lake) writes a day's alerts
as `alerts/trade_date=D/alerts.csv` with a manifest written last; `load_alerts` puts them
into the `alerts` table in one transaction, replacing that day's alerts of every rule the
file covers, under the same locks and with the same statements as `detect` itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from surveil.dayfolder import write_csv, write_manifest
from surveil.detect import ALERT_COLUMNS, DELETE_ALERTS, INSERT_DETECT_RUN, RULES, RuleRun
from surveil.errors import BadInputError, ConflictError
from surveil.lake import Lake, manifest_key, open_lake
from surveil.manifest import MANIFEST_NAME, FileEntry, Manifest, day_dir_name
from surveil.settings import Settings

ALERTS_PREFIX = "alerts"
ALERTS_FILE = "alerts.csv"
# The CSV columns of alerts.csv: the `alerts` table's, in `surveil alerts --csv` order.
ALERT_FILE_COLUMNS = ALERT_COLUMNS


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
        entry = write_csv(path, ALERT_FILE_COLUMNS, (_alert_line(a) for a in alerts))
        source = {
            "kind": "alerts",
            "engine": "spark",
            "input_sha256": input_sha256,
            "rules": dict(sorted(rules.items())),
        }
        manifest = Manifest(day, {ALERTS_FILE: entry}, source)
        write_manifest(Path(tmp), manifest)
        folder = day_dir_name(day)
        lake.put_file(f"{folder}/{ALERTS_FILE}", path, entry.sha256, overwrite=True)
        lake.put_file(
            f"{folder}/{MANIFEST_NAME}", Path(tmp) / MANIFEST_NAME, manifest.sha256, overwrite=True
        )
    return f"{lake.uri}/{day_dir_name(day)}/{ALERTS_FILE}"


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


@dataclass
class LoadAlertsResult:
    trade_date: dt.date
    alerts_uri: str
    engine: str
    rules: dict[str, int] = field(default_factory=dict)  # alerts loaded per rule
    replaced: int = 0  # alerts of those rules that were there before
    recorded_runs: bool = False  # detect_runs written: the warehouse holds the same day
    suppressed: int = 0  # of the day's alerts of those rules, closed by a suppression

    @property
    def alerts(self) -> int:
        return sum(self.rules.values())


def _refuse_another_copy(
    settings: Settings, day: dt.date, where: str, source: dict[str, Any], loaded: str | None
) -> None:
    """The alerts must be of the day the warehouse holds (its current load), or, with none
    loaded (a Spark-only backfill), of the lake's copy: alerts of a copy since replaced
    would stand as the day's, under a detection the ledger counts as current."""
    made_over = source.get("input_sha256")
    against, what = loaded, "the copy loaded in the warehouse"
    if against is None:
        lake = open_lake(settings)
        raw = lake.read_bytes(manifest_key(day))
        if raw is None:
            return  # not in the lake either: nothing to be another copy of
        # the manifest's sha256 as Spark and load take it (a malformed one: BadInputError)
        where_manifest = f"{lake.uri}/{manifest_key(day)}"
        against, what = Manifest.from_bytes(raw, where_manifest).sha256, "the lake's copy"
    if made_over != against:
        raise ConflictError(
            f"{where}: computed over another copy of {day} (manifest {str(made_over)[:12]}) "
            f"than {what} ({against[:12]}); run `surveil detect --engine spark --date {day}` "
            "again, then load-alerts"
        )


def load_alerts(settings: Settings, day: dt.date) -> LoadAlertsResult:
    """Put the day's alerts from the lake into PostgreSQL: in one transaction, every rule
    the file covers has its alerts for the day replaced by the file's. When the warehouse
    holds the day, the runs are recorded in detect_runs too, so run-day sees detection as
    done; alerts made over another copy of the day are refused (_refuse_another_copy)."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from surveil import db, ledger
    from surveil.load import CURRENT_LOAD
    from surveil.review import suppressions

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
            current = conn.execute(CURRENT_LOAD, (day,)).fetchone()
            _refuse_another_copy(settings, day, where, source, current[1] if current else None)
            for rule in covered:
                cur = conn.execute(DELETE_ALERTS, (day, rule))
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
            # As detect: new alerts open review cases, suppressed ones are closed.
            result.suppressed = suppressions.apply_to_day(conn, day, covered, by="load-alerts")
            if current is not None:
                # What the warehouse's copy of the input day says of its validation, as
                # detect records it (the ledger shows a forced or unvalidated detection).
                validation = ledger.VALIDATION_AT_DETECT[ledger.day_state(conn, day).validation]
                for rule, run in source["rules"].items():
                    conn.execute(
                        INSERT_DETECT_RUN,
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
