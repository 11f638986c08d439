"""Load one trading day from the lake into PostgreSQL, atomically and idempotently.

The day is the unit: its firms, accounts, orders and executions are the day's partitions
of those tables. In ONE transaction, under an advisory lock on the trade date:

1. the `load_runs` ledger is consulted: a day already loaded from the same manifest is
   skipped (a ledger row records the skip, 0 rows inserted) unless `force` asks for it to
   be loaded again from the lake;
2. the day's firms and accounts (its own snapshot of the reference data, see
   sql/005_reference_data_per_day.sql) are staged and checked;
3. the day's orders and executions are streamed with COPY into fresh tables created on
   two connections of their own, while every file's sha256 and row count are checked
   against the manifest; any mismatch or malformed row aborts the whole transaction;
4. each fresh table gets its key, statistics and (executions) its foreign key to the day's
   orders, built and checked in bulk. A day already present is dropped; the day's
   reference rows are written into its partitions of firms and accounts; the fresh
   tables get their foreign keys to them, checked in bulk, and are attached as the day's
   partitions. So the warehouse always equals the lake's latest manifest, reference data
   included, and a load never touches another day's rows;
5. the ledger row is written, and the transaction commits.

Locks on the partitioned parents are always taken in one order (firms, accounts, orders,
executions), so loads of different days queue behind each other's ATTACH instead of
deadlocking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from surveil import db, rowplace
from surveil.errors import BadInputError, DayLockedError
from surveil.lake import Lake, manifest_key, open_lake, read_manifest
from surveil.manifest import (
    COLUMNS,
    CORRECTIONS_FILE,
    OPTIONAL_COLUMNS,
    FileEntry,
    Manifest,
    day_dir_name,
)
from surveil.settings import Settings

REFERENCE_TABLES = ("firms", "accounts")  # parents before children
DAY_TABLES = ("orders", "executions")  # parents before children
KEY_COLUMNS = {"firms": "firm_id", "accounts": "account_id"}
# What each day's table references of its own day, partition to partition: (table, name of
# the constraint after the partition's, columns, referenced table). executions → orders is
# built earlier, with the day's tables (_reference_day_orders).
DAY_REFERENCES = (
    ("orders", "account_fkey", ("trade_date", "account_id"), "accounts"),
    ("orders", "firm_fkey", ("trade_date", "firm_id"), "firms"),
    ("executions", "account_fkey", ("trade_date", "account_id"), "accounts"),
)
BLOCK = 1 << 20

# ANALYZE of a day samples 300 rows per unit of statistics target. The server's default
# (100: a 30,000-row sample, and a sort of it per column) made the statistics a quarter
# of a 100k-order load; 30 (9,000 rows) costs a fifth of that, and every rule keeps its
# plan and its speed at 100k and at 1M orders (docs/performance.md). Only this ANALYZE is
# affected: a later ANALYZE of the day by hand or by autovacuum uses the server's default.
STATISTICS_TARGET = 30
SAMPLE_FOR_STATISTICS = "SELECT set_config('default_statistics_target', %s, true)"

CURRENT_LOAD = """
SELECT run_id, manifest_sha256 FROM load_runs
WHERE trade_date = %s AND action IN ('loaded', 'replaced')
ORDER BY run_id DESC LIMIT 1
"""

INSERT_LOAD_RUN = """
INSERT INTO load_runs (trade_date, manifest_sha256, lake, action, rows_read, rows_inserted,
                       timings, started_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
RETURNING run_id
"""

# What was derived from an older copy of the day goes with it.
DELETE_DERIVED = (
    "DELETE FROM alerts WHERE trade_date = %(d)s",
    "DELETE FROM planted_scenarios WHERE trade_date = %(d)s",
    "DELETE FROM fill_corrections WHERE trade_date = %(d)s",
)

PARTITION_EXISTS = """
SELECT 1 FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = %s::regclass AND c.relname = %s AND n.nspname = current_schema()
"""


LoadAction = Literal["loaded", "replaced", "skipped"]


@dataclass
class LoadResult:
    trade_date: dt.date
    action: LoadAction
    run_id: int
    manifest_sha256: str
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_inserted: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    migrations_applied: list[str] = field(default_factory=list)

    @property
    def total_inserted(self) -> int:
        return sum(self.rows_inserted.values())


def partition_name(table: str, day: dt.date) -> str:
    return f"{table}_{day:%Y_%m_%d}"


def load_day(settings: Settings, day: dt.date, *, force: bool = False) -> LoadResult:
    """Load the day from the lake; `force` loads it again even from the manifest already
    loaded (replacing the day whole, as a new manifest would)."""
    lake = open_lake(settings)
    manifest = read_manifest(lake, day)
    if manifest.trade_date != day:
        raise BadInputError(
            f"{lake.uri}/{manifest_key(day)}: manifest is for {manifest.trade_date}, not {day}"
        )
    with db.connect(settings) as conn:
        applied = db.migrate(conn)
        result = _load(conn, settings, lake, manifest, force)
    result.migrations_applied = [f"{m.version:03d}_{m.name}" for m in applied]
    return result


def _load(
    conn: psycopg.Connection, settings: Settings, lake: Lake, manifest: Manifest, force: bool
) -> LoadResult:
    day = manifest.trade_date
    started = dt.datetime.now(dt.UTC)
    timings: dict[str, float] = {}
    rows_read: dict[str, int] = {}
    inserted: dict[str, int] = {}
    fresh = {table: f"{partition_name(table, day)}_new" for table in DAY_TABLES}
    built = False
    try:
        with conn.transaction():
            clock = time.perf_counter()
            db.lock_day(conn, day, settings.lock_timeout_s)
            timings["lock"] = time.perf_counter() - clock
            current = conn.execute(CURRENT_LOAD, (day,)).fetchone()
            if current is not None and current[1] == manifest.sha256 and not force:
                run_id = _record(conn, manifest, lake, "skipped", {}, {}, timings, started)
                return LoadResult(day, "skipped", run_id, manifest.sha256, {}, {}, timings)
            for table in REFERENCE_TABLES:
                clock = time.perf_counter()
                rows_read[table] = _stage_reference(conn, lake, manifest, table)
                timings[table] = time.perf_counter() - clock
            clock = time.perf_counter()
            built = True
            for table, (rows, steps) in _build_day_tables(settings, lake, manifest, fresh).items():
                rows_read[table] = inserted[table] = rows
                timings.update({f"{table}_{step}": seconds for step, seconds in steps.items()})
            timings["build_wall"] = time.perf_counter() - clock
            clock = time.perf_counter()
            _reference_day_orders(conn, lake, manifest, fresh["executions"], fresh["orders"])
            timings["executions_orders_fk"] = time.perf_counter() - clock
            clock = time.perf_counter()
            _ensure_reference_partitions(conn, day)
            replacing = current is not None
            # A day `watch` wrote has partitions but no load run: they go the same way.
            _drop_day(conn, day)
            for statement in DELETE_DERIVED:
                conn.execute(statement, {"d": day})
            timings["drop_old_day"] = time.perf_counter() - clock
            clock = time.perf_counter()
            inserted.update(_put_reference(conn, lake, manifest))
            timings["reference"] = time.perf_counter() - clock
            clock = time.perf_counter()
            _reference_day_reference(conn, lake, manifest, fresh)
            timings["reference_fk"] = time.perf_counter() - clock
            if "scenarios.csv" in manifest.files:
                rows_read["scenarios"] = inserted["scenarios"] = copy_lake_file(
                    conn, lake, manifest, "scenarios", "planted_scenarios"
                )
            if CORRECTIONS_FILE in manifest.files:
                rows_read["corrections"] = inserted["corrections"] = copy_lake_file(
                    conn, lake, manifest, "corrections", "fill_corrections"
                )
            for table in DAY_TABLES:
                clock = time.perf_counter()
                _attach(conn, lake, manifest, table, fresh[table])
                timings[f"{table}_attach"] = time.perf_counter() - clock
            action: LoadAction = "replaced" if replacing else "loaded"
            run_id = _record(conn, manifest, lake, action, rows_read, inserted, timings, started)
    except BaseException:
        if built:
            _drop_fresh_tables(conn, settings, day, fresh)
        raise
    return LoadResult(day, action, run_id, manifest.sha256, rows_read, inserted, timings)


def _build_day_tables(
    settings: Settings, lake: Lake, manifest: Manifest, fresh: dict[str, str]
) -> dict[str, tuple[int, dict[str, float]]]:
    """Build the day's orders and executions tables at the same time, each on its own
    connection: (rows, seconds per step) per table.

    Each build is one backend busy on one core (COPY parsing, then index sorts), so the two
    run side by side. They commit together, once both are built (a failure in one rolls
    both back), tables that no query of the warehouse reads until the caller's transaction
    attaches them; if that transaction fails they are dropped. Only a process killed in the
    second between the builds' commit and its own leaves them behind, unattached, for the
    next load of the day to drop.
    """
    both_built = threading.Barrier(len(DAY_TABLES))
    with ThreadPoolExecutor(max_workers=len(DAY_TABLES), thread_name_prefix="load") as pool:
        futures = {
            table: pool.submit(
                _build_day_table, settings, lake, manifest, table, fresh[table], both_built
            )
            for table in DAY_TABLES
        }
        wait(futures.values())
    errors = [e for f in futures.values() if (e := f.exception()) is not None]
    if errors:
        # The cause, not the other build's BrokenBarrierError it provoked.
        raise next(
            (e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0]
        )
    return {table: future.result() for table, future in futures.items()}


def _build_day_table(
    settings: Settings,
    lake: Lake,
    manifest: Manifest,
    table: str,
    fresh: str,
    both_built: threading.Barrier,
) -> tuple[int, dict[str, float]]:
    """COPY the day's file into a fresh table, then give it the day's check, key, indexes
    and statistics, in one transaction on a connection of its own, committed only when
    the other table is built too."""
    steps: dict[str, float] = {}
    start = clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        steps[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    try:
        with db.connect(settings) as conn, conn.transaction():
            step("connect")
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(fresh)))
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                    sql.Identifier(fresh), sql.Identifier(table)
                )
            )
            rows = copy_lake_file(conn, lake, manifest, table, fresh, freeze=True)
            step("copy")
            _check_day_only(conn, lake, manifest, table, fresh)
            _add_day_key(conn, lake, manifest, table, fresh)
            step("key")
            for (columns,) in conn.execute(PARTITIONED_INDEXES, (table,)).fetchall():
                conn.execute(
                    sql.SQL("CREATE INDEX {} ON {} ({})").format(
                        sql.Identifier(f"{fresh}_{'_'.join(columns)}_idx"),
                        sql.Identifier(fresh),
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                    )
                )
            step("indexes")
            # Statistics before the foreign-key checks: each is a join planned on them (a
            # hash anti-join, 4x faster than the plan for an unanalysed table); and later,
            # without them, the planner takes a fresh day for empty and picks nested loops
            # that run for minutes.
            conn.execute(SAMPLE_FOR_STATISTICS, (str(STATISTICS_TARGET),))
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(fresh)))
            step("statistics")
            both_built.wait()
            step("wait")
        step("commit")
    except BaseException:
        both_built.abort()
        raise
    steps["build"] = time.perf_counter() - start
    return rows, steps


def _drop_fresh_tables(
    conn: psycopg.Connection, settings: Settings, day: dt.date, fresh: dict[str, str]
) -> None:
    """After a failed load: drop the day's unattached tables, under the day's lock (so never
    a concurrent load's). Best effort: a lost connection leaves them to the next load."""
    try:
        with conn.transaction():
            db.lock_day(conn, day, settings.lock_timeout_s)
            for name in fresh.values():
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    except (psycopg.Error, DayLockedError):
        pass


def _record(
    conn: psycopg.Connection,
    manifest: Manifest,
    lake: Lake,
    action: LoadAction,
    rows_read: dict[str, int],
    inserted: dict[str, int],
    timings: dict[str, float],
    started: dt.datetime,
) -> int:
    row = conn.execute(
        INSERT_LOAD_RUN,
        (
            manifest.trade_date,
            manifest.sha256,
            lake.uri,
            action,
            Jsonb(rows_read),
            Jsonb(inserted),
            Jsonb({k: round(v, 4) for k, v in timings.items()}),
            started,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _path(manifest: Manifest, table: str) -> str:
    return f"{day_dir_name(manifest.trade_date)}/{table}.csv"


def _where(lake: Lake, manifest: Manifest, table: str) -> str:
    return f"{lake.uri}/{_path(manifest, table)}"


def _placed(
    lake: Lake, manifest: Manifest, table: str, key: dict[str, str], occurrence: int = 1
) -> str:
    """'<file>: line N' for the row of `table`'s file with `key` (its `occurrence`-th: the
    second is the duplicate), or just the file when the row cannot be found."""
    where = _where(lake, manifest, table)
    if not key:
        return where
    with lake.open(_path(manifest, table)) as stream:
        line = rowplace.line_of_row(stream, key, occurrence)
    return where if line is None else f"{where}: line {line}"


def copy_lake_file(
    conn: psycopg.Connection,
    lake: Lake,
    manifest: Manifest,
    table: str,
    target: str,
    *,
    freeze: bool = False,
    verify: bool = True,
) -> int:
    """Stream the lake file into `target` with COPY, checking header, sha256 and row count.

    `freeze` (for a table created in this transaction) writes the rows already frozen and
    all-visible: the first reads of the day then neither set hint bits on every page nor,
    with data checksums on, write each page again to the WAL. `verify=False` reads the
    file as it is, unchecked against the manifest (validate compares it itself)."""
    entry: FileEntry = manifest.entry(table)
    where = _where(lake, manifest, table)
    columns = COLUMNS[table] if table in COLUMNS else OPTIONAL_COLUMNS[table]
    digest = hashlib.sha256()
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true, FREEZE {})").format(
        sql.Identifier(target),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL("true" if freeze else "false"),
    )
    with lake.open(_path(manifest, table)) as stream:
        first = stream.read(BLOCK)
        _check_header(first, columns, where)
        digest.update(first)
        with conn.cursor() as cur:
            try:
                with cur.copy(statement) as copy:
                    copy.write(first)
                    while block := stream.read(BLOCK):
                        digest.update(block)
                        copy.write(block)
            except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                problem = _copy_error(exc, lake, manifest, table)
                if verify:  # a bad row in a file that also fails its checksum is bit rot
                    while block := stream.read(BLOCK):
                        digest.update(block)
                    if digest.hexdigest() != entry.sha256:
                        problem = f"{_sha256_differs(digest.hexdigest(), entry.sha256)}; {problem}"
                raise BadInputError(f"{where}: {problem}") from None
            rows = cur.rowcount
    if not verify:
        return rows
    if digest.hexdigest() != entry.sha256:
        raise BadInputError(
            f"{where}: {_sha256_differs(digest.hexdigest(), entry.sha256)}; nothing loaded"
        )
    if rows != entry.rows:
        raise BadInputError(f"{where}: {rows} rows, the manifest says {entry.rows}; nothing loaded")
    return rows


def _sha256_differs(actual: str, expected: str) -> str:
    return (
        f"sha256 {actual[:12]}… differs from the manifest's {expected[:12]}… "
        "(changed after the manifest was written)"
    )


def _check_header(first_block: bytes, columns: tuple[str, ...], where: str) -> None:
    if not first_block:
        raise BadInputError(f"{where}: empty file, expected the header {','.join(columns)}")
    line, newline, _ = first_block.partition(b"\n")
    if not newline and len(first_block) == BLOCK:
        raise BadInputError(f"{where}: line 1: no header line found")
    try:
        header = line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise BadInputError(f"{where}: line 1: header is not valid UTF-8") from None
    found = header.split(",")
    if tuple(found) != columns:
        missing = [c for c in columns if c not in found]
        extra = [c for c in found if c not in columns]
        detail = []
        if missing:
            detail.append(f"missing {missing}")
        if extra:
            detail.append(f"unexpected {extra}")
        if not detail:
            detail.append("columns out of order")
        raise BadInputError(
            f"{where}: line 1: wrong header ({'; '.join(detail)}); expected {','.join(columns)}"
        )


_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")
# PostgreSQL quotes the offending value whole, and a hostile file can make it 100 MB.
_LONG_VALUE = re.compile(r'"([^"]{40})[^"]{20,}"')


def _copy_error(exc: psycopg.Error, lake: Lake, manifest: Manifest, table: str) -> str:
    """'line N, column C: what is wrong' from a COPY error's context. COPY reports an
    unterminated quote where the file ended; the line named is where the quote opened."""
    primary = exc.diag.message_primary or str(exc).splitlines()[0]
    primary = _LONG_VALUE.sub(lambda m: f'"{m.group(1)}…"', primary)
    if primary.startswith("unterminated CSV quoted field"):
        with lake.open(_path(manifest, table)) as stream:
            opened = rowplace.unterminated_quote_line(stream)
        if opened is not None:
            return (
                f"line {opened}: unterminated CSV quoted field (opened on this line, never closed)"
            )
    match = _CONTEXT.search(exc.diag.context or "")
    if not match:
        return primary
    line, column = match.groups()
    return f"line {line}{f', column {column}' if column else ''}: {primary}"


def _check_day_only(
    conn: psycopg.Connection, lake: Lake, manifest: Manifest, table: str, target: str
) -> None:
    """Add the partition's constraint up front: it proves every row is of this day, and lets
    ATTACH skip its own scan."""
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (trade_date = {})").format(
                    sql.Identifier(target),
                    sql.Identifier(f"{partition_name(table, manifest.trade_date)}_day"),
                    sql.Literal(manifest.trade_date),
                )
            )
    except psycopg.errors.CheckViolation:
        bad = conn.execute(
            sql.SQL("SELECT DISTINCT trade_date FROM {} WHERE trade_date <> {} LIMIT 3").format(
                sql.Identifier(target), sql.Literal(manifest.trade_date)
            )
        ).fetchall()
        raise BadInputError(
            f"{_where(lake, manifest, table)}: rows for other trade dates "
            f"({', '.join(str(r[0]) for r in bad)}) in the day of {manifest.trade_date}"
        ) from None


# The day's key on its fresh table, before ATTACH: ATTACH adopts it as the partition's
# primary key instead of building another, and executions can reference the orders' key.
DAY_KEYS = {"orders": ("trade_date", "cl_ord_id"), "executions": ("trade_date", "exec_id")}

# The partitioned table's plain indexes (the key aside), as column lists: built on the fresh
# table under the names ATTACH would give them, so that ATTACH adopts them. An index this
# does not reproduce (an expression, say) is still built, by ATTACH itself.
PARTITIONED_INDEXES = """
SELECT array_agg(a.attname::text ORDER BY k.position)
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND i.indexprs IS NULL
  AND i.indpred IS NULL
GROUP BY i.indexrelid ORDER BY 1
"""

INDEXES_OF = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = %s::regclass ORDER BY 1
"""


def _check_in_bulk(
    conn: psycopg.Connection,
    statement: sql.Composed,
    place: tuple[Lake, Manifest, str],
    *,
    table_shown: dict[str, str] | None = None,
) -> None:
    """Run a statement that checks the day's rows in bulk (a key, a reference) in a
    savepoint, and report what it finds as bad input at the file and line of the first
    offending row of `place` (lake, manifest, table). `table_shown` renames tables in the
    server's detail (a fresh table by the name the user knows)."""
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.UniqueViolation as exc:
        detail = exc.diag.message_detail or ""
        where = _placed(*place, rowplace.key_in_detail(detail), occurrence=2)
        raise BadInputError(f"{where}: duplicate key: {detail}") from None
    except psycopg.errors.ForeignKeyViolation as exc:
        detail = exc.diag.message_detail or ""
        for name, shown in (table_shown or {}).items():
            detail = detail.replace(f'"{name}"', f'"{shown}"')
        where = _placed(*place, rowplace.key_in_detail(detail))
        raise BadInputError(f"{where}: unknown reference: {detail}") from None


def _add_day_key(
    conn: psycopg.Connection, lake: Lake, manifest: Manifest, table: str, fresh: str
) -> None:
    _check_in_bulk(
        conn,
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
            sql.Identifier(fresh),
            sql.Identifier(f"{fresh}_pkey"),
            sql.SQL(", ").join(map(sql.Identifier, DAY_KEYS[table])),
        ),
        (lake, manifest, table),
    )


def _reference_day_orders(
    conn: psycopg.Connection, lake: Lake, manifest: Manifest, executions: str, orders: str
) -> None:
    """Every fill names an order of its day: a foreign key from the day's executions to the
    day's orders, partition to partition (sql/003_day_scoped_execution_fk.sql says why)."""
    final = partition_name("executions", manifest.trade_date)
    _check_in_bulk(
        conn,
        sql.SQL(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY (trade_date, cl_ord_id) "
            "REFERENCES {} (trade_date, cl_ord_id)"
        ).format(
            sql.Identifier(executions),
            sql.Identifier(f"{final}_order_fkey"),
            sql.Identifier(orders),
        ),
        (lake, manifest, "executions"),
        table_shown={orders: "orders"},
    )


def _attach(
    conn: psycopg.Connection, lake: Lake, manifest: Manifest, table: str, fresh: str
) -> None:
    final = partition_name(table, manifest.trade_date)
    _check_in_bulk(
        conn,
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            sql.Identifier(table), sql.Identifier(fresh), sql.Literal(manifest.trade_date)
        ),
        (lake, manifest, table),
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(fresh), sql.Identifier(final))
    )
    # Index names were made from the fresh table's name; give them the partition's.
    for (index,) in conn.execute(INDEXES_OF, (final,)).fetchall():
        if index.startswith(f"{fresh}_"):
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(index), sql.Identifier(final + index.removeprefix(fresh))
                )
            )


def _drop_day(conn: psycopg.Connection, day: dt.date) -> None:
    """Remove the day's orders and executions partitions, as part of replacing the day.

    Detached in the order every load locks the parents (orders, then executions), then
    dropped children first (the day's executions reference its orders). The day's firms
    and accounts partitions stay: _put_reference replaces their rows."""
    present = []
    for table in DAY_TABLES:
        name = partition_name(table, day)
        if conn.execute(PARTITION_EXISTS, (table, name)).fetchone():
            conn.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
            present.append(name)
    for name in reversed(present):
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))


def _stage_name(table: str) -> str:
    return f"stage_{table}"


def _stage_reference(conn: psycopg.Connection, lake: Lake, manifest: Manifest, table: str) -> int:
    """COPY a reference file into a temporary table (checking its sha256 and rows) and
    refuse a key that appears twice; the rows reach the day's partition in _put_reference."""
    staging = _stage_name(table)
    key = KEY_COLUMNS[table]
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(staging),
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table])),
            sql.Identifier(table),
        )
    )
    read = copy_lake_file(conn, lake, manifest, table, staging)
    duplicate = conn.execute(
        sql.SQL("SELECT {k} FROM {s} GROUP BY {k} HAVING count(*) > 1 LIMIT 1").format(
            k=sql.Identifier(key), s=sql.Identifier(staging)
        )
    ).fetchone()
    if duplicate:
        where = _placed(lake, manifest, table, {key: str(duplicate[0])}, occurrence=2)
        raise BadInputError(f"{where}: duplicate key: {key}={duplicate[0]} appears twice")
    return read


def _ensure_reference_partitions(conn: psycopg.Connection, day: dt.date) -> None:
    """The day's (empty) partitions of firms and accounts, when it has none yet, with the
    day's accounts → firms reference. An empty table attaches at once; the ATTACH takes
    the parents' locks in the load's order, before orders and executions."""
    for table in REFERENCE_TABLES:
        name = partition_name(table, day)
        if conn.execute(PARTITION_EXISTS, (table, name)).fetchone():
            continue
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                sql.Identifier(name), sql.Identifier(table)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                sql.Identifier(table), sql.Identifier(name), sql.Literal(day)
            )
        )
        if table == "accounts":
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY (trade_date, firm_id) "
                    "REFERENCES {} (trade_date, firm_id)"
                ).format(
                    sql.Identifier(name),
                    sql.Identifier(f"{name}_firm_fkey"),
                    sql.Identifier(partition_name("firms", day)),
                )
            )


def _put_reference(conn: psycopg.Connection, lake: Lake, manifest: Manifest) -> dict[str, int]:
    """Replace the rows of the day's firms and accounts partitions with the staged files;
    rows inserted per table. Only this day's partitions are written."""
    day = manifest.trade_date
    for table in reversed(REFERENCE_TABLES):  # accounts reference firms
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(partition_name(table, day))))
    inserted = {}
    for table in REFERENCE_TABLES:
        columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
        try:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("INSERT INTO {} (trade_date, {}) SELECT {}, {} FROM {}").format(
                        sql.Identifier(partition_name(table, day)),
                        columns,
                        sql.Literal(day),
                        columns,
                        sql.Identifier(_stage_name(table)),
                    )
                )
                inserted[table] = cur.rowcount
        except psycopg.errors.ForeignKeyViolation as exc:
            detail = exc.diag.message_detail or ""
            where = _placed(lake, manifest, table, rowplace.key_in_detail(detail))
            raise BadInputError(f"{where}: unknown reference: {_shown(detail, day)}") from None
    # Rules join the day with its accounts; unanalysed, they are planned as 180 rows of
    # guesswork, and front_running took 20 s at 1M orders instead of 2.
    conn.execute(
        sql.SQL("ANALYZE {}").format(
            sql.SQL(", ").join(sql.Identifier(partition_name(t, day)) for t in REFERENCE_TABLES)
        )
    )
    return inserted


def _shown(detail: str, day: dt.date) -> str:
    """A server detail with the day's partitions named as the tables the user knows."""
    for table in (*REFERENCE_TABLES, *DAY_TABLES):
        for name in (f"{partition_name(table, day)}_new", partition_name(table, day)):
            detail = detail.replace(f'"{name}"', f'"{table}"')
    return detail


def _reference_day_reference(
    conn: psycopg.Connection, lake: Lake, manifest: Manifest, fresh: dict[str, str]
) -> None:
    """The day's orders and executions reference the day's accounts and firms: foreign
    keys from the fresh tables to the day's partitions, checked in bulk."""
    day = manifest.trade_date
    for table, suffix, columns, referenced in DAY_REFERENCES:
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        _check_in_bulk(
            conn,
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})").format(
                sql.Identifier(fresh[table]),
                sql.Identifier(f"{partition_name(table, day)}_{suffix}"),
                cols,
                sql.Identifier(partition_name(referenced, day)),
                cols,
            ),
            (lake, manifest, table),
            table_shown={
                fresh[table]: table,
                partition_name(referenced, day): referenced,
            },
        )
