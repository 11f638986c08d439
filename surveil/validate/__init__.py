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
from surveil.validate.checks import (
    BY_NAME,
    CHECKS,
    ORD_STATUSES,
    ORDER_TYPES,
    ROW_CHECKS,
    SIDES,
    TIME_IN_FORCE,
    Check,
    rule_passes,
)

__all__ = ["CHECKS", "Check", "CheckResult", "ValidateResult", "validate_day"]

SAMPLE = 5

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
    # From the check's declaration (every result is of a declared check); fields rather
    # than properties so that --json carries them.
    description: str = field(init=False)
    blocking: bool = field(init=False)

    def __post_init__(self) -> None:
        declared = BY_NAME[self.name]
        self.description, self.blocking = declared.description, declared.blocking


@dataclass
class ValidateResult:
    trade_date: dt.date
    validation_id: int
    load_run_id: int
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.blocking)

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
        if manifest.trade_date != day:
            # The day's folder holds another day's manifest (a folder copied over it):
            # nothing of `day` can be checked against it.
            reason = f"{day}: the lake's manifest is for {manifest.trade_date}, not {day}"
            return _record_unprovable(conn, day, reason)
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
        for check in ROW_CHECKS:
            found = sorted(offenders[check.name])
            checks.append(CheckResult(check.name, not found, len(found), 0, found[:SAMPLE]))
        validation_id = _record(conn, day, load_run_id, manifest.sha256, checks)
    return ValidateResult(day, validation_id, load_run_id, checks)


def _record(
    conn: psycopg.Connection,
    day: dt.date,
    load_run_id: int,
    manifest_sha256: str,
    checks: list[CheckResult],
) -> int:
    passed = all(c.passed for c in checks if c.blocking)
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
    """The loaded day's manifest cannot be read from the lake (gone, no longer a valid
    manifest, another day's): nothing can be checked against it, and that is a failure."""
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
    offenders: dict[str, list[str]] = {check.name: [] for check in ROW_CHECKS}
    for query in rule_passes():
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
