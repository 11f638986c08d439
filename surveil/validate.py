"""`surveil validate`: check the warehouse's copy of a day against its manifest, the lake's
files against the manifest, and the data's own rules.

The lake is re-read every time: each file the manifest lists is hashed again (streamed)
and compared with the manifest's sha256, and the manifest with the one the day was loaded
from, so a file changed in the lake after its load fails a named check rather than going
unnoticed. Each check reports the ids that break it (or, for counts, the observed figure);
the row rules are computed a few at a time in shared passes over the day. Results are kept
in `validation_runs` / `validation_results`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from surveil import db
from surveil.errors import BadInputError
from surveil.lake import Lake, open_lake, read_manifest
from surveil.load import BLOCK, CURRENT_LOAD, copy_lake_file
from surveil.manifest import COLUMNS, Manifest, day_dir_name
from surveil.settings import Settings

SAMPLE = 5

# FIX enums the warehouse accepts.
SIDES = ("1", "2", "5", "6")  # buy, sell, sell short, sell short exempt
ORDER_TYPES = ("1", "2", "3", "4")  # market, limit, stop, stop limit
TIME_IN_FORCE = ("0", "1", "2", "3", "4", "6", "7")
ORD_STATUSES = ("0", "1", "2", "4", "6", "8", "C")  # new, partial, filled, cancelled, …

# The data's own rules, checked in four passes over the day rather than one query per
# rule: each pass computes several rules' verdicts per row in one scan or join, and
# returns only the rows that break at least one. A verdict column is named for its check
# and is true when the row breaks it; every pass returns (id, verdict, verdict, ...).
# %(d)s is the trade date.
ORDERS_KEY_UNIQUE = """
SELECT cl_ord_id, true AS orders_key_unique FROM orders WHERE trade_date = %(d)s
GROUP BY cl_ord_id HAVING count(*) > 1"""

EXECUTIONS_KEY_UNIQUE = """
SELECT exec_id, true AS executions_key_unique FROM executions WHERE trade_date = %(d)s
GROUP BY exec_id HAVING count(*) > 1"""

# Every order with the sum of its fills: the order-level rules.
ORDER_RULES = """
SELECT * FROM (
    SELECT o.cl_ord_id,
        coalesce(f.filled > o.quantity, false) AS fills_within_order_quantity,
        o.cum_qty <> coalesce(f.filled, 0) AS cum_qty_equals_fills,
        NOT ((o.ord_status = '2' AND o.cum_qty = o.quantity)
          OR (o.ord_status = '1' AND o.cum_qty > 0 AND o.cum_qty < o.quantity)
          OR (o.ord_status IN ('0', '8') AND o.cum_qty = 0)
          OR (o.ord_status IN ('4', '6', 'C') AND o.cum_qty < o.quantity))
          AS status_consistent_with_fills,
        coalesce(o.quantity <= 0 OR o.cum_qty < 0 OR o.limit_price <= 0 OR o.avg_px <= 0,
                 false) AS positive_quantities_and_prices,
        ((o.order_type IN ('2', '4') AND o.limit_price IS NULL)
          OR (o.order_type = '1' AND o.limit_price IS NOT NULL))
          AS limit_price_matches_order_type,
        (o.side <> ALL(%(sides)s) OR o.order_type <> ALL(%(order_types)s)
          OR o.time_in_force <> ALL(%(tifs)s) OR o.ord_status <> ALL(%(statuses)s))
          AS fix_enums,
        coalesce((o.transact_time AT TIME ZONE 'America/New_York')::date <> o.trade_date
          OR (o.cancel_time AT TIME ZONE 'America/New_York')::date <> o.trade_date
          OR o.cancel_time < o.transact_time, false) AS timestamps_on_trade_date
    FROM orders o
    LEFT JOIN (SELECT cl_ord_id, sum(fill_qty) AS filled FROM executions
               WHERE trade_date = %(d)s GROUP BY cl_ord_id) f USING (cl_ord_id)
    WHERE o.trade_date = %(d)s
) verdicts
WHERE fills_within_order_quantity OR cum_qty_equals_fills OR status_consistent_with_fills
   OR positive_quantities_and_prices OR limit_price_matches_order_type OR fix_enums
   OR timestamps_on_trade_date"""

# Every execution beside its order (when there is one): the execution-level rules.
EXECUTION_RULES = """
SELECT * FROM (
    SELECT e.exec_id,
        o.cl_ord_id IS NULL AS executions_have_orders,
        coalesce(e.symbol <> o.symbol OR e.side <> o.side OR e.account_id <> o.account_id,
                 false) AS executions_match_orders,
        coalesce((o.side = '1' AND e.fill_price > o.limit_price)
          OR (o.side <> '1' AND e.fill_price < o.limit_price), false) AS fills_respect_limit,
        coalesce(e.transact_time < o.transact_time, false) AS fills_after_order,
        (e.fill_qty <= 0 OR e.fill_price <= 0) AS positive_quantities_and_prices,
        e.side <> ALL(%(sides)s) AS fix_enums,
        (e.transact_time AT TIME ZONE 'America/New_York')::date <> e.trade_date
          AS timestamps_on_trade_date
    FROM executions e
    LEFT JOIN orders o ON o.trade_date = e.trade_date AND o.cl_ord_id = e.cl_ord_id
    WHERE e.trade_date = %(d)s
) verdicts
WHERE executions_have_orders OR executions_match_orders OR fills_respect_limit
   OR fills_after_order OR positive_quantities_and_prices OR fix_enums
   OR timestamps_on_trade_date"""

RULE_PASSES = (ORDERS_KEY_UNIQUE, EXECUTIONS_KEY_UNIQUE, ORDER_RULES, EXECUTION_RULES)

# Every check the passes make, in the order results are reported.
ROW_CHECKS = (
    "orders_key_unique",
    "executions_key_unique",
    "executions_have_orders",
    "executions_match_orders",
    "fills_within_order_quantity",
    "cum_qty_equals_fills",
    "status_consistent_with_fills",
    "positive_quantities_and_prices",
    "limit_price_matches_order_type",
    "fills_respect_limit",
    "fix_enums",
    "timestamps_on_trade_date",
    "fills_after_order",
)

COUNT_DAY_ROWS = {
    "orders": "SELECT count(*) FROM orders WHERE trade_date = %s",
    "executions": "SELECT count(*) FROM executions WHERE trade_date = %s",
}

# Keys of the lake's reference file (staged) and of the day's reference rows in the
# warehouse that differ: on one side only, or with any other column different (NULL, an
# unknown beneficial owner, equal to NULL). Sorted, so the sample is stable.
REFERENCE_DIFFERENCES = """
SELECT coalesce(s.{key}, t.{key}) AS id, s.{key} IS NOT NULL AS in_lake
FROM {stage} s
FULL JOIN (SELECT {cols} FROM {table} WHERE trade_date = %s) t ON t.{key} = s.{key}
WHERE s.{key} IS NULL OR t.{key} IS NULL OR ({lake_row}) IS DISTINCT FROM ({warehouse_row})
ORDER BY 1
"""
STAGE_REFERENCE = (
    "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
)

# Checks hash and sort a whole day; keep that in memory.
VALIDATE_SESSION_SETTINGS = "SET LOCAL work_mem = '256MB'"

INSERT_VALIDATION_RUN = """
INSERT INTO validation_runs (trade_date, load_run_id, manifest_sha256, passed)
VALUES (%s, %s, %s, %s) RETURNING validation_id
"""
INSERT_VALIDATION_RESULT = """
INSERT INTO validation_results (validation_id, check_name, passed, observed, expected, sample)
VALUES (%s, %s, %s, %s, %s, %s)
"""


@dataclass
class CheckResult:
    name: str
    passed: bool
    observed: int
    expected: int
    sample: list[str] = field(default_factory=list)


@dataclass
class ValidateResult:
    trade_date: dt.date
    validation_id: int
    load_run_id: int
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def validate_day(settings: Settings, day: dt.date) -> ValidateResult:
    lake = open_lake(settings)
    with db.connect(settings) as conn:
        db.migrate(conn)
        if conn.execute(CURRENT_LOAD, (day,)).fetchone() is None:
            raise BadInputError(f"{day}: not loaded in the warehouse (run load first)")
        try:
            manifest = read_manifest(lake, day)
        except BadInputError as exc:
            # The day's provenance is gone from the lake: a failed validation, recorded.
            return _record_unprovable(conn, day, str(exc.args[0]))
        return _validate(conn, lake, manifest)


def _validate(conn: psycopg.Connection, lake: Lake, manifest: Manifest) -> ValidateResult:
    day = manifest.trade_date
    with conn.transaction():
        conn.execute(VALIDATE_SESSION_SETTINGS)
        current = conn.execute(CURRENT_LOAD, (day,)).fetchone()
        if current is None:
            raise BadInputError(f"{day}: not loaded in the warehouse (run load first)")
        load_run_id, loaded_sha = current
        checks = [
            CheckResult(
                "loaded_manifest_is_latest",
                loaded_sha == manifest.sha256,
                int(loaded_sha == manifest.sha256),
                1,
                [] if loaded_sha == manifest.sha256 else [loaded_sha[:12]],
            ),
            _lake_files_check(lake, manifest),
        ]
        for table, query in COUNT_DAY_ROWS.items():
            row = conn.execute(query, (day,)).fetchone()
            observed = int(row[0]) if row else 0
            expected = manifest.entry(table).rows
            checks.append(CheckResult(f"{table}_count", observed == expected, observed, expected))
        for table in ("firms", "accounts"):
            checks.append(_reference_check(conn, lake, manifest, table))
        params = {
            "d": day,
            "sides": list(SIDES),
            "order_types": list(ORDER_TYPES),
            "tifs": list(TIME_IN_FORCE),
            "statuses": list(ORD_STATUSES),
        }
        offenders = _run_rule_passes(conn, params)
        for name in ROW_CHECKS:
            found = sorted(offenders[name])
            checks.append(CheckResult(name, not found, len(found), 0, found[:SAMPLE]))
        validation_id = _record(conn, day, load_run_id, manifest.sha256, checks)
    return ValidateResult(day, validation_id, load_run_id, checks)


def _record(
    conn: psycopg.Connection,
    day: dt.date,
    load_run_id: int,
    manifest_sha256: str,
    checks: list[CheckResult],
) -> int:
    passed = all(c.passed for c in checks)
    row = conn.execute(
        INSERT_VALIDATION_RUN, (day, load_run_id, manifest_sha256, passed)
    ).fetchone()
    assert row is not None
    validation_id = int(row[0])
    with conn.cursor() as cur:
        cur.executemany(
            INSERT_VALIDATION_RESULT,
            [(validation_id, c.name, c.passed, c.observed, c.expected, c.sample) for c in checks],
        )
    return validation_id


def _record_unprovable(conn: psycopg.Connection, day: dt.date, reason: str) -> ValidateResult:
    """The loaded day's manifest cannot be read from the lake (gone, or no longer a valid
    manifest): nothing can be checked against it, and that is a failure."""
    with conn.transaction():
        load_run_id, loaded_sha = conn.execute(CURRENT_LOAD, (day,)).fetchone() or (0, "")
        checks = [CheckResult("loaded_manifest_is_latest", False, 0, 1, [reason[:200]])]
        validation_id = _record(conn, day, load_run_id, loaded_sha, checks)
    return ValidateResult(day, validation_id, load_run_id, checks)


def _lake_files_check(lake: Lake, manifest: Manifest) -> CheckResult:
    """Hash every file the manifest lists, streamed from the lake, against its sha256."""
    differing = []
    for name, entry in sorted(manifest.files.items()):
        try:
            with lake.open(f"{day_dir_name(manifest.trade_date)}/{name}") as stream:
                digest = hashlib.sha256()
                while block := stream.read(BLOCK):
                    digest.update(block)
        except BadInputError:
            differing.append(f"{name} (missing)")
            continue
        if digest.hexdigest() != entry.sha256:
            differing.append(f"{name} (sha256 {digest.hexdigest()[:12]}…)")
    listed = len(manifest.files)
    return CheckResult(
        "lake_files_match_manifest", not differing, listed - len(differing), listed, differing
    )


def _run_rule_passes(conn: psycopg.Connection, params: dict[str, object]) -> dict[str, list[str]]:
    """Offending ids per check, from the passes' verdict columns."""
    offenders: dict[str, list[str]] = {name: [] for name in ROW_CHECKS}
    for query in RULE_PASSES:
        with conn.cursor() as cur:
            cur.execute(query, params)
            names = [column.name for column in cur.description or ()][1:]
            for ident, *verdicts in cur:
                for name, failed in zip(names, verdicts, strict=True):
                    if failed:
                        offenders[name].append(str(ident))
    return offenders


def _reference_check(
    conn: psycopg.Connection, lake: Lake, manifest: Manifest, table: str
) -> CheckResult:
    """Stage the lake's reference file again and compare it, row for row, with the day's
    own reference rows in the warehouse. The file is read as it is now, even when its
    sha256 no longer matches (lake_files_match_manifest says so): the check then shows
    which rows the change touched."""
    stage = f"validate_{table}"
    key = sql.Identifier(COLUMNS[table][0])
    cols = [sql.Identifier(c) for c in COLUMNS[table]]
    conn.execute(
        sql.SQL(STAGE_REFERENCE).format(
            stage=sql.Identifier(stage), cols=sql.SQL(", ").join(cols), table=sql.Identifier(table)
        )
    )
    try:
        with conn.transaction():
            copy_lake_file(conn, lake, manifest, table, stage, verify=False)
    except BadInputError as exc:
        return CheckResult(f"{table}_match_lake", False, 0, manifest.entry(table).rows,
                           [str(exc.args[0])[-200:]])  # fmt: skip
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(stage))).fetchone()
    in_lake = int(row[0]) if row else 0
    differences = conn.execute(
        sql.SQL(REFERENCE_DIFFERENCES).format(
            key=key,
            stage=sql.Identifier(stage),
            cols=sql.SQL(", ").join(cols),
            table=sql.Identifier(table),
            lake_row=sql.SQL(", ").join(sql.SQL("s.{}").format(c) for c in cols),
            warehouse_row=sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in cols),
        ),
        (manifest.trade_date,),
    ).fetchall()
    identical = in_lake - sum(1 for _, from_lake in differences if from_lake)
    return CheckResult(
        f"{table}_match_lake",
        not differences,
        identical,
        in_lake,
        [str(ident) for ident, _ in differences[:SAMPLE]],
    )
