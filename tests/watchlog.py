"""Helpers for the watch tests: a generated day as an uncompressed FIX log, the warehouse's
rows of a day as sets, and a Watcher with its JSON lines captured."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from surveil.fixwriter import write_fix_log
from surveil.generate import generate_day
from surveil.settings import Settings
from surveil.watch.watcher import Watcher

ROWS = {
    "orders": "SELECT * FROM orders WHERE trade_date = %s",
    "executions": "SELECT * FROM executions WHERE trade_date = %s",
    "accounts": "SELECT * FROM accounts WHERE trade_date = %s",
    "firms": "SELECT trade_date, firm_id, firm_name, account_type FROM firms WHERE trade_date = %s",
    "alerts": (
        "SELECT alert_id, rule, rule_version, symbol, account_ids, cl_ord_ids, exec_ids, score, "
        "explanation FROM alerts WHERE trade_date = %s"
    ),
}


def generated_log(tmp_path: Path, day: dt.date, orders: int = 300) -> Path:
    """A generated day (with its planted abuse) written as a plain QuickFIX-style log."""
    source = Settings(home=tmp_path / "generated")
    made = generate_day(source, day, orders=orders)
    log = tmp_path / "drop-copy.log"
    write_fix_log(made.path, log)
    return log


def day_rows(conn: psycopg.Connection, day: dt.date) -> dict[str, set[tuple[Any, ...]]]:
    return {
        table: {_hashable(r) for r in conn.execute(sql.SQL(query), (day,)).fetchall()}
        for table, query in ROWS.items()
    }


def _hashable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def count(conn: psycopg.Connection, query: str, *params: Any) -> int:
    row = conn.execute(sql.SQL(query), params).fetchone()
    return int(row[0]) if row else 0


def watcher(settings: Settings, log: Path, **kwargs: Any) -> tuple[Watcher, io.StringIO]:
    out = io.StringIO()
    lines: list[str] = kwargs.pop("log_lines", [])
    return Watcher(settings, log, alerts_out=out, log=lines.append, **kwargs), out
