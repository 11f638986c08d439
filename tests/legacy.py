"""Warehouses as earlier versions of surveil left them, for the tests of later migrations.

Today's load needs today's schema, so a day "loaded before migration N" is written here
the way the load of that time wrote it, in plain SQL: the reference files merged into the
shared firms and accounts tables (each load overwrote them for every day), the day's
orders and executions as its partitions, and its load_runs row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from surveil import db
from surveil.load import partition_name
from surveil.manifest import COLUMNS, MANIFEST_NAME, Manifest


def migrate_before(conn: psycopg.Connection, version: int) -> None:
    """Apply the migrations numbered below `version`, and only those."""
    every = db.migrations
    try:
        db.migrations = lambda: [m for m in every() if m.version < version]  # type: ignore[assignment]
        db.migrate(conn)
    finally:
        db.migrations = every  # type: ignore[assignment]


def _copy(conn: psycopg.Connection, table: str, path: Path, target: str | None = None) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(
        sql.Identifier(target or table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy, path.open("rb") as fh:
        while block := fh.read(1 << 20):
            copy.write(block)


def _merge_reference(conn: psycopg.Connection, table: str, key: str, path: Path) -> None:
    columns = COLUMNS[table]
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(
            sql.Identifier(f"legacy_{table}"), sql.Identifier(table)
        )
    )
    _copy(conn, table, path, f"legacy_{table}")
    conn.execute(
        sql.SQL("INSERT INTO {t} SELECT * FROM {s} ON CONFLICT ({k}) DO UPDATE SET {sets}").format(
            t=sql.Identifier(table),
            s=sql.Identifier(f"legacy_{table}"),
            k=sql.Identifier(key),
            sets=sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                for c in columns
                if c != key
            ),
        )
    )


def load_before_005(conn: psycopg.Connection, folder: Path, day: dt.date) -> int:
    """Load the lake day in `folder` as surveil did under migrations 001-004; its run id."""
    manifest = Manifest.from_bytes((folder / MANIFEST_NAME).read_bytes(), str(folder))
    with conn.transaction():
        _merge_reference(conn, "firms", "firm_id", folder / "firms.csv")
        _merge_reference(conn, "accounts", "account_id", folder / "accounts.csv")
        for table in ("orders", "executions"):
            conn.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                    sql.Identifier(partition_name(table, day)),
                    sql.Identifier(table),
                    sql.Literal(day),
                )
            )
        executions = partition_name("executions", day)
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY (trade_date, cl_ord_id) "
                "REFERENCES {} (trade_date, cl_ord_id)"
            ).format(
                sql.Identifier(executions),
                sql.Identifier(f"{executions}_order_fkey"),
                sql.Identifier(partition_name("orders", day)),
            )
        )
        for table in ("orders", "executions"):
            _copy(conn, table, folder / f"{table}.csv")
        rows = {t: manifest.entry(t).rows for t in COLUMNS}
        row = conn.execute(
            """INSERT INTO load_runs (trade_date, manifest_sha256, lake, action, rows_read,
                                      rows_inserted, timings, started_at)
               VALUES (%s, %s, %s, 'loaded', %s, %s, '{}', now()) RETURNING run_id""",
            (day, manifest.sha256, str(folder.parent), Jsonb(rows), Jsonb(rows)),
        ).fetchone()
    assert row is not None
    return int(row[0])
