"""The spill store: per-key day state past the in-memory window, in an SQLite file
(docs/fix-import.md, "How a day is built without holding it")."""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

# --------------------------------------------------------------------------- spilling


@dataclass(frozen=True)
class _Table:
    """A table of the spill file and its statements (all constants: values are parameters).
    Every row carries its date (`day`, the date's ordinal), so that all dates share it.
    Ordered tables have an `id`: (day << 40) + the entry's place, by which rows are read
    back in order; the others are keyed by (day, key) only."""

    create: str
    put: str
    select: str  # (day, key)
    delete: str  # (day, key)

    @functools.cached_property
    def put_many(self) -> tuple[str, int]:
        """`put` for many rows at once, and how many: SQLite's cost is mostly per statement
        run, so a batch of rows in one statement costs about half as much as rows one by one
        (at most 999 values, the oldest SQLite's limit of parameters)."""
        head, _, row = self.put.partition(" VALUES ")
        rows = 999 // row.count("?")
        return f"{head} VALUES {', '.join([row] * rows)}", rows


_ORDERS = _Table(
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, day INTEGER NOT NULL, key TEXT NOT NULL, "
    "value BLOB, UNIQUE (day, key))",
    "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
    "SELECT * FROM orders WHERE day = ? AND key = ?",
    "DELETE FROM orders WHERE day = ? AND key = ?",
)
_FILLS = _Table(
    "CREATE TABLE fills (id INTEGER PRIMARY KEY, day INTEGER NOT NULL, key TEXT NOT NULL, "
    "cl_ord_id TEXT, account TEXT, symbol TEXT, side TEXT, qty INTEGER, price TEXT, "
    "venue TEXT, time TEXT, UNIQUE (day, key))",
    "INSERT OR REPLACE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "SELECT * FROM fills WHERE day = ? AND key = ?",
    "DELETE FROM fills WHERE day = ? AND key = ?",
)
_ORDER_IDS = _Table(
    "CREATE TABLE order_ids (day INTEGER, key TEXT, value TEXT, PRIMARY KEY (day, key)) "
    "WITHOUT ROWID",
    "INSERT OR REPLACE INTO order_ids VALUES (?, ?, ?)",
    "SELECT * FROM order_ids WHERE day = ? AND key = ?",
    "DELETE FROM order_ids WHERE day = ? AND key = ?",
)
_TRADES = _Table(
    "CREATE TABLE trades (day INTEGER, key TEXT, value BLOB, PRIMARY KEY (day, key)) WITHOUT ROWID",
    "INSERT OR REPLACE INTO trades VALUES (?, ?, ?)",
    "SELECT * FROM trades WHERE day = ? AND key = ?",
    "DELETE FROM trades WHERE day = ? AND key = ?",
)
_DAY_SHIFT = 40  # ids: (day << 40) + place
# Every row of a date, in each table (Spill.drop_day).
_DROP_DAY = tuple(
    f"DELETE FROM {table} WHERE day = ?" for table in ("orders", "fills", "order_ids", "trades")
)
# A date's orders (id range), and its fills (id range) as executions.csv rows (the date's
# ISO text the first parameter).
_ORDERS_IN_ORDER = "SELECT value FROM orders WHERE id BETWEEN ? AND ? ORDER BY id"
_EXECUTIONS_IN_ORDER = (
    "SELECT key, ?, cl_ord_id, account, symbol, side, CAST(qty AS TEXT), price, venue, time "
    "FROM fills WHERE id BETWEEN ? AND ? ORDER BY id"
)


class Spill:
    """The import's spill file: an SQLite database nobody else opens, written without a
    journal or fsync (it is thrown away with the import), in one transaction."""

    PRAGMAS = (
        "PRAGMA page_size=16384",  # fewer, fuller pages: inserts and reads about 15% quicker
        "PRAGMA journal_mode=OFF",
        "PRAGMA synchronous=OFF",
        "PRAGMA locking_mode=EXCLUSIVE",
        "PRAGMA temp_store=FILE",
        "PRAGMA cache_size=-16384",  # KiB
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in self.PRAGMAS:
            self.db.execute(pragma)
        self.db.execute("BEGIN")
        for table in (_ORDERS, _FILLS, _ORDER_IDS, _TRADES):
            self.db.execute(table.create)
        self._blooms: dict[_Table, _Bloom] = {}

    def put(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        """Insert or replace `rows` of `table` (each key once), many per statement."""
        statement, per_statement = table.put_many
        whole = len(rows) - len(rows) % per_statement
        for start in range(0, whole, per_statement):
            batch = rows[start : start + per_statement]
            self.db.execute(statement, list(itertools.chain.from_iterable(batch)))
        if whole < len(rows):
            self.db.executemany(table.put, rows[whole:])

    def drop_day(self, day: int) -> None:
        """Forget every entry of date `day` (an ordinal): a day no longer built."""
        for statement in _DROP_DAY:
            self.db.execute(statement, (day,))

    def bloom(self, kind: _Table) -> _Bloom:
        """The Bloom filter of the keys of every map of this kind (orders, fills, ...),
        whatever their date: a key spilled for one date is only a false positive for
        another, and memory stays the same however many dates an import builds."""
        found = self._blooms.get(kind)
        if found is None:
            found = self._blooms[kind] = _Bloom()
        return found

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.execute("COMMIT")
        self.db.close()


class _Bloom:
    """Keys ever spilled, approximately: False means never (most new keys), True maybe."""

    __slots__ = ("bits", "_array")

    BITS = 1 << 24  # 2 MiB: about 1.4% false positives at a million keys

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)
        self._array = np.frombuffer(self.bits, dtype=np.uint8)  # the same bytes

    def add_all(self, keys: list[str]) -> None:
        """Add `keys`: the two bits __contains__ reads for each, set with numpy (a batch of
        keys costs about what one costs in Python)."""
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        for at in (hashes & (self.BITS - 1), (hashes >> 24) & (self.BITS - 1)):
            np.bitwise_or.at(self._array, at >> 3, (1 << (at & 7)).astype(np.uint8))

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        a, b = h & (self.BITS - 1), (h >> 24) & (self.BITS - 1)
        return bool(self.bits[a >> 3] >> (a & 7) & 1 and self.bits[b >> 3] >> (b & 7) & 1)


V = TypeVar("V")


def _recording(original: Callable[..., Any], box: list[set[str]]) -> Callable[..., Any]:
    """`original`, noting each key it is called with in box[0] (one call per map access)."""

    def call(key: str, *rest: Any) -> Any:
        box[0].add(key)
        return original(key, *rest)

    return call


class _SpillMap(Generic[V]):
    """A dict of str keys whose oldest entries move to a table of the spill file.

    get() brings a spilled entry back into memory (callers mutate what they get); peek() only
    reads it. An entry's table row may be stale while it is in memory: spill() and flush()
    overwrite it. Entries are only spilled by settle() and flush(), between messages, so an
    object a handler holds stays the one in the map while the handler runs.
    """

    def __init__(
        self,
        spill: Spill,
        day: int,
        table: _Table,
        to_row: Callable[[int, str, V], tuple[Any, ...]],
        from_row: Callable[[tuple[Any, ...]], V],
        cap: int,
    ) -> None:
        """Rows of `table` for date `day` (an ordinal): to_row(day, key, entry) makes one,
        from_row reads one back."""
        self.spill = spill
        self.db = spill.db
        self.day = day
        self.sql = table
        self.to_row = to_row
        self.from_row = from_row
        self.cap = cap
        self.hot: dict[str, V] = {}
        # map.set(key, value) is map[key] = value without a Python call: the hot dict's own.
        self.set = self.hot.__setitem__
        self.spilled = spill.bloom(table)
        self.any_spilled = False

    def _read(self, key: str) -> V | None:
        """The entry's row, when `key` may have been spilled (ask `spilled` first)."""
        row = self.db.execute(self.sql.select, (self.day, key)).fetchone()
        return None if row is None else self.from_row(row)

    def get(self, key: str) -> V | None:
        value = self.hot.get(key)
        if value is None and self.any_spilled and key in self.spilled:
            value = self._read(key)
            if value is not None:
                self.hot[key] = value
        return value

    def peek(self, key: str) -> V | None:
        value = self.hot.get(key)
        if value is None and self.any_spilled and key in self.spilled:
            return self._read(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def pop(self, key: str) -> V | None:
        value = self.hot.pop(key, None)
        if self.any_spilled and key in self.spilled:
            cold = self._read(key)
            if cold is not None:
                self.db.execute(self.sql.delete, (self.day, key))
                if value is None:
                    value = cold
        return value

    def record_keys(self, box: list[set[str]]) -> None:
        """From now on every key get(), set() or pop() is called with is added to box[0]
        (watch writes a day as it is built: the rows its messages touched; the caller
        swaps box[0] for a new set when it takes them). import-fix never asks, and pays
        nothing for it."""
        for name in ("get", "set", "pop"):
            setattr(self, name, _recording(getattr(self, name), box))

    def settle(self) -> None:
        """Spill the oldest quarter when over the cap."""
        if len(self.hot) > self.cap:
            self._spill(len(self.hot) - self.cap * 3 // 4)

    def flush(self) -> None:
        """Spill everything: the table then holds every entry, current."""
        self._spill(len(self.hot))

    def _spill(self, count: int) -> None:
        """Move the `count` oldest entries to the table."""
        keys = list(itertools.islice(self.hot, count))
        if keys:
            entries = map(self.hot.pop, keys)
            rows = list(map(self.to_row, itertools.repeat(self.day), keys, entries))
            self.spill.put(self.sql, rows)
            self.spilled.add_all(keys)
            self.any_spilled = True
