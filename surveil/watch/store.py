"""What `watch` writes to PostgreSQL, one transaction per batch of consumed input.

A batch's rows (the day's firms, accounts, orders and executions as they stand after its
messages, upserted by key), its journal of messages and rejects, and the source's new
position commit together or not at all (sql/008_watch.sql). The day's partitions are
created on first use, with the same names and per-partition foreign keys `load` gives
them, so `load --force` of the day later replaces them as it replaces any loaded day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from surveil import db
from surveil.load import (
    DAY_REFERENCES,
    PARTITION_EXISTS,
    _ensure_reference_partitions,
    partition_name,
)
from surveil.watch.fixsource import Applied, Days, Journalled

READ_POSITION = """
SELECT inode, byte_offset, line, file_name, messages, offsets, replay_from, tail_bytes
FROM watch_positions WHERE source = %s
"""
SAVE_POSITION = """
INSERT INTO watch_positions (source, inode, byte_offset, line, file_name, messages, offsets,
                             replay_from, tail_bytes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (source) DO UPDATE SET inode = excluded.inode, byte_offset = excluded.byte_offset,
    line = excluded.line, file_name = excluded.file_name, messages = excluded.messages,
    offsets = excluded.offsets, replay_from = excluded.replay_from,
    tail_bytes = excluded.tail_bytes, updated_at = clock_timestamp()
"""
REPLAY = """
SELECT seq, file_name, line, begin_string, msg_type, body FROM watch_messages
WHERE source = %s AND seq >= %s ORDER BY seq
"""
# Days `load` has loaded (their batch record): a watcher builds them no more.
LOADED_DAYS = "SELECT DISTINCT trade_date FROM load_runs"
LOADED_AMONG = "SELECT DISTINCT trade_date FROM load_runs WHERE trade_date = ANY(%s)"
REJECTS_SO_FAR = "SELECT count(*) FROM watch_rejects WHERE source = %s"
REJECT = """
INSERT INTO watch_rejects
    (source, seq, trade_date, file_name, line, msg_type, reason, message, journal_seq)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
UPSERT_FIRM = """
INSERT INTO firms (trade_date, firm_id, firm_name, account_type) VALUES (%s, %s, %s, %s)
ON CONFLICT (trade_date, firm_id) DO NOTHING
"""
UPSERT_ACCOUNT = """
INSERT INTO accounts (trade_date, account_id, firm_id, account_type, beneficial_owner_id)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (trade_date, account_id) DO UPDATE SET firm_id = excluded.firm_id,
    account_type = excluded.account_type, beneficial_owner_id = excluded.beneficial_owner_id
WHERE (accounts.firm_id, accounts.account_type, accounts.beneficial_owner_id)
      IS DISTINCT FROM (excluded.firm_id, excluded.account_type, excluded.beneficial_owner_id)
"""
# Each batch's orders and executions are copied into these (COPY is several times quicker
# than row-by-row inserts), then upserted into the day in one statement each; a row that
# is already as it stands (the fills of an order a batch touched, mostly) is left alone
# rather than written again as a new row version, with its indexes and key checks.
STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS watch_orders_in (LIKE orders) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS watch_executions_in (LIKE executions) ON COMMIT DELETE ROWS",
)
COPY_ORDERS = """
COPY watch_orders_in (cl_ord_id, trade_date, account_id, firm_id, symbol, side, order_type,
                      time_in_force, quantity, limit_price, transact_time, ord_status, cum_qty,
                      avg_px, cancel_time) FROM STDIN
"""
COPY_EXECUTIONS = """
COPY watch_executions_in (exec_id, trade_date, cl_ord_id, account_id, symbol, side, fill_qty,
                          fill_price, venue, transact_time) FROM STDIN
"""
# Binary: a message's body goes as its bytes, not as hex text to encode here and decode
# there (half the time of a text COPY of the journal, on both sides).
COPY_JOURNAL = """
COPY watch_messages (source, seq, trade_date, file_name, line, begin_string, msg_type, body)
FROM STDIN (FORMAT BINARY)
"""
JOURNAL_TYPES = ("text", "int8", "date", "text", "int8", "text", "text", "bytea")
UPSERT_ORDER = """
INSERT INTO orders (cl_ord_id, trade_date, account_id, firm_id, symbol, side, order_type,
                    time_in_force, quantity, limit_price, transact_time, ord_status, cum_qty,
                    avg_px, cancel_time)
SELECT cl_ord_id, trade_date, account_id, firm_id, symbol, side, order_type, time_in_force,
       quantity, limit_price, transact_time, ord_status, cum_qty, avg_px, cancel_time
FROM watch_orders_in
ON CONFLICT (trade_date, cl_ord_id) DO UPDATE SET account_id = excluded.account_id,
    firm_id = excluded.firm_id, symbol = excluded.symbol, side = excluded.side,
    order_type = excluded.order_type, time_in_force = excluded.time_in_force,
    quantity = excluded.quantity, limit_price = excluded.limit_price,
    transact_time = excluded.transact_time, ord_status = excluded.ord_status,
    cum_qty = excluded.cum_qty, avg_px = excluded.avg_px, cancel_time = excluded.cancel_time
WHERE (orders.account_id, orders.firm_id, orders.symbol, orders.side, orders.order_type,
       orders.time_in_force, orders.quantity, orders.limit_price, orders.transact_time,
       orders.ord_status, orders.cum_qty, orders.avg_px, orders.cancel_time)
      IS DISTINCT FROM
      (excluded.account_id, excluded.firm_id, excluded.symbol, excluded.side,
       excluded.order_type, excluded.time_in_force, excluded.quantity, excluded.limit_price,
       excluded.transact_time, excluded.ord_status, excluded.cum_qty, excluded.avg_px,
       excluded.cancel_time)
"""
UPSERT_EXECUTION = """
INSERT INTO executions (exec_id, trade_date, cl_ord_id, account_id, symbol, side, fill_qty,
                        fill_price, venue, transact_time)
SELECT exec_id, trade_date, cl_ord_id, account_id, symbol, side, fill_qty, fill_price, venue,
       transact_time
FROM watch_executions_in
ON CONFLICT (trade_date, exec_id) DO UPDATE SET cl_ord_id = excluded.cl_ord_id,
    account_id = excluded.account_id, symbol = excluded.symbol, side = excluded.side,
    fill_qty = excluded.fill_qty, fill_price = excluded.fill_price, venue = excluded.venue,
    transact_time = excluded.transact_time
WHERE (executions.cl_ord_id, executions.account_id, executions.symbol, executions.side,
       executions.fill_qty, executions.fill_price, executions.venue, executions.transact_time)
      IS DISTINCT FROM
      (excluded.cl_ord_id, excluded.account_id, excluded.symbol, excluded.side,
       excluded.fill_qty, excluded.fill_price, excluded.venue, excluded.transact_time)
"""
DELETE_EXECUTIONS = "DELETE FROM executions WHERE trade_date = %s AND exec_id = ANY(%s)"
DELETE_EXECUTIONS_OF = "DELETE FROM executions WHERE trade_date = %s AND cl_ord_id = ANY(%s)"
DELETE_ORDERS = "DELETE FROM orders WHERE trade_date = %s AND cl_ord_id = ANY(%s)"


@dataclass(frozen=True)
class Position:
    inode: int
    offset: int
    line: int
    file_name: str
    messages: int
    offsets: dict[str, int] | None = None  # Kafka: partition (as text) -> next offset
    replay_from: int = 0  # the journal's seq a restart replays from (Days.replay_from)
    tail: bytes | None = None  # a log file's last bytes before `offset` (FileTail.TAIL)


class DayRecorded(Exception):
    """A batch applied messages to a day that `load` has loaded since (its record is the
    batch's now): not written; the watcher retires the day and reads the batch again."""

    def __init__(self, days: set[dt.date]) -> None:
        self.days = days
        names = ", ".join(map(str, sorted(days)))
        super().__init__(f"{names}: loaded by `surveil load` while being watched")


def prepare(conn: psycopg.Connection) -> None:
    """The connection's staging tables (temporary: each connection has its own)."""
    for statement in STAGING:
        conn.execute(statement)


def _copy(
    cur: psycopg.Cursor[Any],
    statement: str,
    rows: list[tuple[Any, ...]],
    types: tuple[str, ...] | None = None,
) -> None:
    if not rows:
        return
    with cur.copy(statement) as copy:
        if types is not None:
            copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def read_position(conn: psycopg.Connection, source: str) -> Position | None:
    row = conn.execute(READ_POSITION, (source,)).fetchone()
    if row is None:
        return None
    inode, offset, line, file_name, messages, offsets, replay_from, tail = row
    return Position(
        inode, offset, line, file_name, messages, offsets, replay_from,
        None if tail is None else bytes(tail),
    )  # fmt: skip


def loaded_days(conn: psycopg.Connection, among: set[dt.date] | None = None) -> set[dt.date]:
    """The days `load` has loaded (of `among`, when given)."""
    if among is None:
        return {row[0] for row in conn.execute(LOADED_DAYS)}
    if not among:
        return set()
    return {row[0] for row in conn.execute(LOADED_AMONG, (sorted(among),))}


def replay(conn: psycopg.Connection, source: str, days: Days, start: int) -> int:
    """Rebuild `days` from the source's journal from seq `start` on, read twice (refusals
    first); the seq after the last message replayed."""
    with conn.transaction():
        with conn.cursor(name="watch_refusals") as cur:
            cur.execute(REPLAY, (source, start))
            days.find_refusals(_journalled(cur))
        with conn.cursor(name="watch_replay") as cur:
            cur.execute(REPLAY, (source, start))
            return days.replay(start, _journalled(cur))


def _journalled(cur: psycopg.Cursor[Any]) -> Iterator[Journalled]:
    for seq, name, line, begin, msg_type, body in cur:
        yield seq, name, line, begin, msg_type, bytes(body)


DELETE_DAY = (
    "DELETE FROM executions WHERE trade_date = %s",
    "DELETE FROM orders WHERE trade_date = %s",
    "DELETE FROM accounts WHERE trade_date = %s",
    "DELETE FROM firms WHERE trade_date = %s",
)


def rewrite_day(conn: psycopg.Connection, days: Days, day: dt.date, lock_timeout_s: float) -> None:
    """In the caller's transaction: the day's rows replaced whole by what `days` holds
    (after a refusal undid a message already written)."""
    db.lock_day(conn, day, lock_timeout_s, shared=True)
    ensure_day(conn, day)
    rows = days.all_rows(day)
    for statement in DELETE_DAY:
        conn.execute(statement, (day,))
    with conn.cursor() as cur:
        cur.executemany(UPSERT_FIRM, [(day, *map(_blank, f)) for f in rows["firms"]])
        cur.executemany(UPSERT_ACCOUNT, [(day, *map(_blank, a)) for a in rows["accounts"]])
        _copy(cur, COPY_ORDERS, [(r[0], day, *r[2:]) for r in rows["orders"]])
        cur.execute(UPSERT_ORDER)  # the day emptied above: every row is new
        _copy(cur, COPY_EXECUTIONS, [(r[0], day, *r[2:]) for r in rows["executions"]])
        cur.execute(UPSERT_EXECUTION)


def ensure_day(conn: psycopg.Connection, day: dt.date) -> None:
    """The day's partitions of firms, accounts, orders and executions, as load names them."""
    _ensure_reference_partitions(conn, day)
    for table in ("orders", "executions"):
        name = partition_name(table, day)
        if conn.execute(PARTITION_EXISTS, (table, name)).fetchone():
            continue
        conn.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                sql.Identifier(name), sql.Identifier(table), sql.Literal(day)
            )
        )
        if table == "executions":
            _foreign_key(conn, name, "order_fkey", ("trade_date", "cl_ord_id"), "orders", day)
        for owner, suffix, columns, referenced in DAY_REFERENCES:
            if owner == table:
                _foreign_key(conn, name, suffix, columns, referenced, day)


def _foreign_key(
    conn: psycopg.Connection,
    name: str,
    suffix: str,
    columns: tuple[str, ...],
    referenced: str,
    day: dt.date,
) -> None:
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})").format(
            sql.Identifier(name),
            sql.Identifier(f"{name}_{suffix}"),
            cols,
            sql.Identifier(partition_name(referenced, day)),
            cols,
        )
    )


def _blank(value: Any) -> Any:
    return None if value == "" else value


@dataclass
class DayRows:
    """A day's rows touched by a batch, built from the day builders when the batch is
    taken (so that a writer thread never reads builders the reader is changing)."""

    firms: list[tuple[str, ...]]
    accounts: list[tuple[str, ...]]
    orders: list[tuple[Any, ...]]
    orders_gone: set[str]
    fills: list[tuple[Any, ...]]
    fills_gone: set[str]


def batch_rows(days: Days, applied: Applied) -> dict[dt.date, DayRows]:
    """The rows `applied` touched, day by day: the day's reference rows not sent before,
    the touched orders (and their successors) and fills (and those orders' fills)."""
    rows = {}
    for day in sorted(set(applied.orders) | set(applied.fills)):
        firms, accounts = days.reference_rows(day)
        applied.reference[day] = [*firms, *accounts]
        orders, orders_gone = days.order_rows(day, applied.orders.get(day, set()))
        fill_keys = applied.fills.get(day, set()) | days.fills_of(day, (r[0] for r in orders))
        fills, fills_gone = days.fill_rows(day, fill_keys)
        rows[day] = DayRows(firms, accounts, orders, orders_gone, fills, fills_gone)
    return rows


def write_rows(
    conn: psycopg.Connection,
    source: str,
    rows: dict[dt.date, DayRows],
    applied: Applied,
    position: Position,
    lock_timeout_s: float,
    partitions_ready: set[dt.date],
    held: set[dt.date] | frozenset[dt.date] = frozenset(),
    rewriting: set[dt.date] | frozenset[dt.date] = frozenset(),
) -> set[dt.date]:
    """In the caller's transaction: `rows` (batch_rows of `applied`), its journal and
    rejects, and the new position. Reads nothing of the day builders. DayRecorded when a
    day it applied messages to is loaded; the days of `held` (the days being built) that
    are, to be retired once this commits. `rewriting`: days the caller rewrites whole in
    this transaction (a refusal undid a message of theirs), checked as written ones."""
    written = set(rows) | applied.days | rewriting
    for day in sorted(written):
        db.lock_day(conn, day, lock_timeout_s, shared=True)  # as detection; load waits
    loaded = loaded_days(conn, written | held)  # under the locks: no load of them commits
    if loaded & written:
        raise DayRecorded(loaded & written)
    for day, day_rows in rows.items():
        if day not in partitions_ready:
            ensure_day(conn, day)
        _write_day(conn, day, day_rows)
    _write_journal(conn, source, applied, position)
    return loaded


def _write_journal(
    conn: psycopg.Connection, source: str, applied: Applied, position: Position
) -> None:
    first = position.messages - len(applied.journal)
    with conn.cursor() as cur:
        _copy(
            cur,
            COPY_JOURNAL,
            [
                (source, first + i, day, m.source, m.line, m.begin_string, m.msg_type, m.body)
                for i, (day, m) in enumerate(applied.journal)
            ],
            JOURNAL_TYPES,
        )
        if applied.rejects:
            row = conn.execute(REJECTS_SO_FAR, (source,)).fetchone()
            start = int(row[0]) if row else 0
            cur.executemany(
                REJECT,
                [
                    (
                        source,
                        start + i,
                        r.day,
                        r.source,
                        r.line,
                        r.msg_type,
                        r.reason,
                        r.message,
                        seq,
                    )  # fmt: skip
                    for i, (r, seq) in enumerate(applied.rejects)
                ],
            )
    conn.execute(
        SAVE_POSITION,
        (
            source,
            position.inode,
            position.offset,
            position.line,
            position.file_name,
            position.messages,
            None if position.offsets is None else Jsonb(position.offsets),
            position.replay_from,
            position.tail,
        ),
    )


def _write_day(conn: psycopg.Connection, day: dt.date, rows: DayRows) -> None:
    """Upsert the day's reference rows, then the touched orders and fills (parents first),
    then delete what is no longer there (children first)."""
    orders, orders_gone, fills, fills_gone = (
        rows.orders,
        rows.orders_gone,
        rows.fills,
        rows.fills_gone,
    )
    live = ({r[0] for r in orders} | _present(conn, day, {r[2] for r in fills})) - orders_gone
    with conn.cursor() as cur:
        cur.executemany(UPSERT_FIRM, [(day, *map(_blank, f)) for f in rows.firms])
        cur.executemany(UPSERT_ACCOUNT, [(day, *map(_blank, a)) for a in rows.accounts])
        if orders:
            _copy(cur, COPY_ORDERS, [tuple(map(_blank, r)) for r in orders])
            cur.execute(UPSERT_ORDER)
        if fills_gone:
            cur.execute(DELETE_EXECUTIONS, (day, sorted(fills_gone)))
        if orders_gone:
            cur.execute(DELETE_EXECUTIONS_OF, (day, sorted(orders_gone)))
        kept = [r for r in fills if r[2] in live]
        if kept:
            _copy(cur, COPY_EXECUTIONS, kept)
            cur.execute(UPSERT_EXECUTION)
        if orders_gone:
            cur.execute(DELETE_ORDERS, (day, sorted(orders_gone)))


PRESENT_ORDERS = "SELECT cl_ord_id FROM orders WHERE trade_date = %s AND cl_ord_id = ANY(%s)"


def _present(conn: psycopg.Connection, day: dt.date, keys: set[str]) -> set[str]:
    """Which of these orders have a row (an unsized order has none, nor its fills)."""
    if not keys:
        return set()
    return {r[0] for r in conn.execute(PRESENT_ORDERS, (day, sorted(keys)))}
