"""One trading date built from its messages: dispatch to the handlers, then the rows."""

from __future__ import annotations

import datetime as dt
import itertools
import marshal
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from surveil import dayfolder
from surveil import fix as package
from surveil.fix.fields import (
    SIX_PLACES,
    Invalid,
    MessageFields,
    Reject,
)
from surveil.fix.fills import Executions, _vwap
from surveil.fix.orders import (
    Fill,
    OrderState,
    _final_status,
    _Identity,
    _Order,
    _order_from_row,
    _order_row,
)
from surveil.fix.spill import (
    _DAY_SHIFT,
    _EXECUTIONS_IN_ORDER,
    _FILLS,
    _ORDER_IDS,
    _ORDERS,
    _ORDERS_IN_ORDER,
    _TRADES,
    Spill,
    _SpillMap,
)
from surveil.manifest import COLUMNS, CORRECTIONS_FILE, OPTIONAL_COLUMNS, FileEntry

# The memory budget (HOT_ENTRIES, MIN_HOT_ENTRIES, SETTLE_EVERY) and the CSV writer are read
# from the package at each use (`package.X`), so that a test tunes them in one place.


class DayBuilder(OrderState, Executions):
    """One trading date's orders, executions, accounts and firms, built from its messages in
    log order, with its per-key state in `spill` beyond `cap` entries per map (see "How a
    day is built without holding it")."""

    def __init__(self, day: dt.date, spill: Spill, cap: int | None = None) -> None:
        if cap is None:
            cap = package.HOT_ENTRIES
        self.day = day
        self.spill = spill
        number = day.toordinal()
        # ids of its orders and fills in the spill file: (day << 40) + place
        self._ids = (number << _DAY_SHIFT, ((number + 1) << _DAY_SHIFT) - 1)
        self.orders: _SpillMap[_Order] = _SpillMap(
            spill, number, _ORDERS, _order_row, _order_from_row, cap
        )
        self.fills: _SpillMap[Fill] = _SpillMap(
            spill,
            number,
            _FILLS,
            lambda day, key, f: (f[0], day, key, *f[1:]),
            lambda row: (row[0], *row[3:]),
            cap,
        )
        # OrderID(37) -> the order's key
        self.order_ids: _SpillMap[str] = _SpillMap(
            spill,
            number,
            _ORDER_IDS,
            lambda day, key, v: (day, key, v),
            operator.itemgetter(2),
            cap,
        )
        # TradeReportID -> exec ids
        self.trades: _SpillMap[list[str]] = _SpillMap(
            spill,
            number,
            _TRADES,
            lambda day, key, v: (day, key, marshal.dumps(v)),
            lambda row: marshal.loads(row[2]),
            cap,
        )
        self._maps = (self.orders, self.fills, self.order_ids, self.trades)
        self.accounts: dict[str, tuple[str, str]] = {}  # id -> (firm, type)
        self.investors: dict[str, set[str]] = {}  # id -> the investor ids its messages name
        self.shared_accounts: set[str] = set()  # AccountType(581) said several customers
        self.firms: dict[str, None] = {}
        self.rejects: list[Reject] = []
        self.skipped: Counter[str] = Counter()
        self.corrections: list[tuple[str, str, str, str, str, str]] = []
        self.earlier: Callable[[str, str], bool] | None = None
        self.synthesized = 0
        self._ordinals = itertools.count(self._ids[0])
        self._fill_seq = itertools.count(self._ids[0])
        self._now = ""  # the time of the message being applied, ISO UTC
        self._applied = 0
        self._pending: list[_Identity] = []  # identities of the message being applied

    # ---- entry point

    def add(self, m: MessageFields, when: str) -> None:
        """Apply one message; `when` is its time, ISO UTC (see message_time())."""
        msg_type = m.msg_type
        try:
            self._now = when
            if msg_type == "8":
                self._report(m)
            elif msg_type == "D":
                self._new_order(m)
            elif msg_type == "G":
                self._replace_request(m)
            elif msg_type == "AE":
                self._trade_report(m)
            elif msg_type == "9":
                self._cancel_reject(m)
            else:
                self.skipped["cancel request (state comes from reports)"] += 1
        except Invalid as exc:
            self._pending.clear()  # a rejected message names no firm or account
            self.rejects.append(Reject(m.source, m.line, msg_type, str(exc), m.display(), self.day))
        else:
            if self._pending:
                for ident in self._pending:
                    self._record(ident)
                self._pending.clear()
        self._applied += 1
        if self._applied % package.SETTLE_EVERY == 0:
            for spill_map in self._maps:
                spill_map.settle()

    def limit(self, cap: int) -> None:
        """Keep at most `cap` entries per map in memory from now on."""
        for spill_map in self._maps:
            spill_map.cap = cap
            spill_map.settle()

    # ---- rows

    def write(self, folder: Path) -> dict[str, FileEntry]:
        """Write the day's firms, accounts, orders and executions CSVs into `folder`, rows
        streamed from the spill file; orders that cannot be sized become rejects."""
        self.orders.flush()
        self.fills.flush()
        self.order_ids.hot.clear()  # not needed for rows
        self.trades.hot.clear()
        unsized: set[str] = set()
        firms, accounts = self.reference_rows()
        tables: dict[str, Iterable[tuple[str, ...]]] = {
            "firms": firms,
            "accounts": accounts,
            "orders": self.order_rows(unsized),
            "executions": self.execution_rows(unsized),
        }
        files = {}
        for table, rows in tables.items():
            path = folder / f"{table}.csv"
            files[path.name] = package._write_csv(path, COLUMNS[table], rows)
        if self.corrections:
            path = folder / CORRECTIONS_FILE
            columns = OPTIONAL_COLUMNS["corrections"]
            files[path.name] = package._write_csv(path, columns, self.corrections)
        return files

    def order_rows(self, unsized: set[str]) -> Iterator[tuple[str, ...]]:
        """orders.csv rows in the order orders were first seen; the keys of orders that
        cannot be sized (rejects, not written) go to `unsized`."""
        day = self.day.isoformat()
        for (value,) in self.spill.db.execute(_ORDERS_IN_ORDER, self._ids):
            order = _Order(*marshal.loads(value))
            key = order.cl_ord_id
            final = self.final_state(order)
            if final is None:
                reason = f"order {key}: no OrderQty(38), CumQty+LeavesQty or fills to size it"
                self.rejects.append(
                    Reject(order.source, order.line, order.origin, reason, "", self.day)
                )
                unsized.add(key)
                continue
            quantity, cum, status, avg, cancel_time = final
            yield (
                key, day, order.account_id, order.firm_id, order.symbol, order.side,
                order.order_type, order.tif, str(quantity), order.limit_price or "",
                order.transact_time, status, str(cum), avg or "", cancel_time or "",
            )  # fmt: skip

    def final_state(self, order: _Order) -> tuple[int, int, str, str | None, str | None] | None:
        """(quantity, cum_qty, ord_status, avg_px, cancel_time) of the order as its row gives
        them, or None when nothing sizes it (no OrderQty, CumQty+LeavesQty or fills). A
        replaced order's quantity is what is left after its predecessors' fills."""
        fills = order.fills
        cum = sum(q for _, q, _ in fills)
        quantity = order.quantity
        if quantity is not None and order.predecessor:
            before = self._chain_filled(order)
            if quantity - before >= max(cum, 1):
                quantity -= before
        if quantity is None:
            quantity = cum
        if quantity <= 0:
            return None
        status = _final_status(order, cum, quantity)
        avg = None
        if cum > 0:
            if order.reported_cum == cum and order.reported_avg and Decimal(order.reported_avg) > 0:
                avg = order.reported_avg
            else:
                avg = format(_vwap(fills).quantize(SIX_PLACES, ROUND_HALF_EVEN), "f")
        return quantity, cum, status, avg, order.closed_at if status in ("4", "5") else None

    def execution_rows(self, unsized: set[str]) -> Iterable[tuple[str, ...]]:
        """executions.csv rows in the order the fills were made, with their orders' final
        account, symbol and side; none of orders in `unsized` (not written)."""
        rows = self.spill.db.execute(_EXECUTIONS_IN_ORDER, (self.day.isoformat(), *self._ids))
        if not unsized:
            return rows
        return (row for row in rows if row[2] not in unsized)

    def reference_rows(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """(firms rows, accounts rows): every firm and account an order or account names."""
        firms: list[tuple[str, ...]] = [(f, f, "unknown") for f in self.firms]
        accounts: list[tuple[str, ...]] = [
            (a, firm, kind, self._owner(a)) for a, (firm, kind) in self.accounts.items()
        ]
        return firms, accounts

    def _owner(self, account: str) -> str:
        """The account's beneficial owner, "" (unknown, NULL) for an omnibus account: one that
        AccountType(581) says carries several customers' orders, whose messages name more
        than one investor, or that names none in a log that names investors for others (a
        drop copy that knows the owners but not this account's). In a log that names no
        investor at all, each account is its own owner."""
        named = self.investors.get(account, set())
        if account in self.shared_accounts or len(named) > 1:
            return ""
        if named:
            return next(iter(named))
        return "" if self.investors else account


def _write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> FileEntry:
    """The day's CSV writer (a test swaps it through the package): one record per line, so
    no value may hold a line break (field values are checked printable; rejects go through
    importer._one_line()); the file's manifest entry."""
    return dayfolder.write_csv(path, columns, rows)
