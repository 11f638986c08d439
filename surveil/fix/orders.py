"""The order state machine: new, replace, cancel, the report's order, final status
(docs/fix-import.md, "Orders", "ExecutionReports", "Final state")."""

from __future__ import annotations

import datetime as dt
import marshal
import operator
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from surveil.fix.fields import (
    ACCOUNT_ROLES,
    AT_CLOSE_ORDER_TYPES,
    FIRM_ROLES,
    MANY_CUSTOMERS,
    NO_ACCOUNT,
    ORDER_TYPES,
    OWNER_ROLE,
    SIDES,
    TIME_IN_FORCE,
    Invalid,
    MessageFields,
    _account_type,
    _fits,
    _party,
    _price,
    _whole,
)
from surveil.fix.spill import _SpillMap

# --------------------------------------------------------------------------- day state

FillRef = tuple[str, int, str]  # an order's fill: (exec_id, qty, price)
# A fill, by ExecID: (seq, cl_ord_id, account_id, symbol, side, qty, price, venue, time);
# seq orders executions.csv. Account, symbol and side are its order's (see _new_order()).
Fill = tuple[int, str, str, str, str, int, str, str, str]


@dataclass(slots=True)
class _Order:
    cl_ord_id: str
    account_id: str
    firm_id: str
    symbol: str
    side: str
    order_type: str
    tif: str
    quantity: int | None
    limit_price: str | None
    transact_time: str
    origin: str  # D, G, 8 or AE: where its attributes came from
    source: str  # file and line of that message
    line: int
    destination: str | None = None
    status: str | None = None  # last OrdStatus reported
    closed_at: str | None = None  # first report that cancelled or replaced it
    reported_cum: int | None = None
    reported_avg: str | None = None
    predecessor: str | None = None
    fills: list[FillRef] = field(default_factory=list)
    ordinal: int = -1  # when it was first seen: its place in orders.csv (with its date's id)


_ORDER_VALUES = operator.attrgetter(*(f.name for f in fields(_Order)))


def _order_row(day: int, key: str, order: _Order) -> tuple[Any, ...]:
    return order.ordinal, day, key, marshal.dumps(_ORDER_VALUES(order))


def _order_from_row(row: tuple[Any, ...]) -> _Order:
    return _Order(*marshal.loads(row[3]))


@dataclass(slots=True)
class _Identity:
    account_id: str
    firm_id: str
    account_type: str
    investor: str  # the Parties entry with role 5 (investor id), "" when none is named
    many_customers: bool = False  # AccountType(581) 12 or 13: orders of several customers


def _final_status(order: _Order, cum: int, quantity: int) -> str:
    """docs/fix-import.md, "Final state": what the fills prove, refined by the last status."""
    reported = order.status
    if quantity > 0 and cum >= quantity:
        return "2"
    if reported in ("4", "5"):
        return reported  # 5: replaced, its life goes on under the ClOrdID that replaced it
    if reported in ("C", "3"):
        return "C"
    if reported == "8":
        return "8" if cum == 0 else "4"
    if reported == "6":
        return "6"
    return "1" if cum > 0 else "0"


def _order_type(
    get: Callable[[str], str | None], base: _Order | None, strict: bool
) -> tuple[str, str | None]:
    """(the warehouse's OrdType, the limit price) of a D, G or report; `base` fills what
    is absent. Only a report (not `strict`) may leave the type or a limit's price out."""
    price = _price(get("44"), "Price(44)")
    type_raw = get("40")
    if type_raw is None and base is not None:
        type_raw = base.order_type
    if type_raw is None:
        if strict:
            raise Invalid("no OrdType(40)")
        order_type = "2" if price is not None else "1"
    elif type_raw == "P":
        order_type = "2" if price is not None else "1"
    else:
        order_type = ORDER_TYPES.get(type_raw, "")
        if not order_type:
            raise Invalid(f"OrdType(40)={type_raw} has no equivalent in the warehouse (1-4)")
    if order_type in ("2", "4") and price is None:
        if base is not None and base.limit_price is not None:
            price = base.limit_price
        elif strict:
            raise Invalid(f"limit order (OrdType {type_raw}) without Price(44)")
        else:
            order_type = "1"  # a report that gives no limit: recorded as market
    return order_type, price if order_type in ("2", "4") else None


def _quantity(get: Callable[[str], str | None], base: _Order | None, strict: bool) -> int | None:
    """OrderQty(38); for a report (not `strict`) without one CumQty + LeavesQty; else the
    `base` order's."""
    quantity = _whole(get("38"), "OrderQty(38)")
    if quantity is None and not strict:
        cum, leaves = _whole(get("14"), "CumQty(14)"), _whole(get("151"), "LeavesQty(151)")
        if cum is not None and leaves is not None and cum + leaves > 0:
            quantity = cum + leaves
    if quantity is None and base is not None:
        quantity = base.quantity
    if quantity is None and strict:
        raise Invalid("no OrderQty(38)")
    if quantity is not None and quantity <= 0:
        raise Invalid(f"OrderQty(38)={quantity} is not positive")
    return quantity


class _DayState:
    """The state of a day that DayBuilder.__init__ sets and its mixins (OrderState,
    Executions) use: annotations only, for the type checker (no class attributes)."""

    day: dt.date
    orders: _SpillMap[_Order]
    fills: _SpillMap[Fill]
    order_ids: _SpillMap[str]  # OrderID(37) -> the order's key
    trades: _SpillMap[list[str]]  # TradeReportID -> exec ids
    accounts: dict[str, tuple[str, str]]  # id -> (firm, type)
    investors: dict[str, set[str]]
    shared_accounts: set[str]
    firms: dict[str, None]
    skipped: Counter[str]
    # corrections.csv rows: each correction of a fill (or trade) not this date's
    corrections: list[tuple[str, str, str, str, str, str]]
    earlier: Callable[[str, str], bool] | None  # applies one to an earlier date built too
    synthesized: int
    _ordinals: Iterator[int]
    _fill_seq: Iterator[int]
    _now: str  # the time of the message being applied, ISO UTC
    _pending: list[_Identity]


class OrderState(_DayState):
    """DayBuilder's order state machine: identities, order rows from D, G and reports,
    new, replace and the report's order (see docs/fix-import.md, "Orders")."""

    # ---- identities

    def _identity(self, m: MessageFields, client_sends: bool) -> _Identity:
        get = m.values.get
        parties = m.parties() if b"\x01453=" in m.body else []
        firm = _party(parties, FIRM_ROLES)
        if firm is None:
            if client_sends:
                firm = get("115") or get("49") or "UNKNOWN"
            else:
                firm = get("128") or get("56") or "UNKNOWN"
        firm = _fits(firm, "firm", "firm_id")
        account = get("1") or _party(parties, ACCOUNT_ROLES)
        account = _fits(account or NO_ACCOUNT.format(firm=firm), "Account(1)", "account_id")
        kind = _account_type(get("528"), get("529"), get("47"))
        investor = _fits(_party(parties, (OWNER_ROLE,)) or "", "investor", "account_id")
        return _Identity(account, firm, kind, investor, get("581") in MANY_CUSTOMERS)

    def _register(self, ident: _Identity) -> None:
        """Note the firm and account a message names, recorded once the whole message is
        accepted (see add()): reference data comes from valid messages only."""
        self._pending.append(ident)

    def _record(self, ident: _Identity) -> None:
        self.firms.setdefault(ident.firm_id, None)
        known = self.accounts.get(ident.account_id)
        if known is None:
            self.accounts[ident.account_id] = (ident.firm_id, ident.account_type)
        elif known[1] == "unknown" and ident.account_type != "unknown":
            self.accounts[ident.account_id] = (known[0], ident.account_type)
        if ident.investor:
            self.investors.setdefault(ident.account_id, set()).add(ident.investor)
        if ident.many_customers:
            self.shared_accounts.add(ident.account_id)

    def _put(self, key: str, order: _Order, known: _Order | None) -> None:
        """Store an order; one replacing `known` keeps its place in orders.csv."""
        order.ordinal = known.ordinal if known is not None else next(self._ordinals)
        self.orders.set(key, order)

    # ---- order attributes

    def _order_from(
        self, m: MessageFields, key: str, *, client_sends: bool, strict: bool, base: _Order | None
    ) -> _Order:
        """An order row from a D, G or (strict=False) a report; `base` fills what is absent."""
        get = m.values.get
        symbol = get("55")
        if symbol in (None, "[N/A]"):
            symbol = get("48")
        if symbol is None:
            if base is None:
                raise Invalid("no Symbol(55) or SecurityID(48)")
            symbol = base.symbol
        symbol = _fits(symbol, "Symbol(55)", "symbol")
        side_raw = get("54") or (base.side if base else None)
        if side_raw is None:
            raise Invalid("no Side(54)")
        side = SIDES.get(side_raw)
        if side is None:
            raise Invalid(f"Side(54)={side_raw} is not a side the warehouse takes (1, 2, 5, 6)")
        order_type, limit = _order_type(get, base, strict)
        tif = get("59") or (base.tif if base else "0")
        if get("40") in AT_CLOSE_ORDER_TYPES:  # FIX 4.2's on-close types: at the close
            tif = "7"
        if tif not in TIME_IN_FORCE:
            raise Invalid(f"TimeInForce(59)={tif} has no equivalent in the warehouse")
        quantity = _quantity(get, base, strict)
        when = self._now
        cl_ord_id = _fits(key, "ClOrdID(11)", "cl_ord_id")
        if base is not None and get("1") is None and b"\x01453=" not in m.body:
            account_id, firm_id = base.account_id, base.firm_id
        else:
            ident = self._identity(m, client_sends)
            self._register(ident)
            account_id, firm_id = ident.account_id, ident.firm_id
        destination = get("100") or (base.destination if base else None)
        # Positional: keywords make a dataclass __init__ several times slower.
        return _Order(
            cl_ord_id, account_id, firm_id, symbol, side, order_type, tif, quantity, limit,
            when, m.msg_type, m.source, m.line, destination,
        )  # fmt: skip

    # ---- handlers

    def _new_order(self, m: MessageFields) -> None:
        get = m.values.get
        key = get("11")
        if key is None:
            raise Invalid("NewOrderSingle without ClOrdID(11)")
        known = self.orders.get(key)
        if known is not None and known.origin in ("D", "G"):
            self.skipped["duplicate NewOrderSingle (resend)"] += 1
            return
        order = self._order_from(m, key, client_sends=True, strict=True, base=None)
        if known is not None:  # a report came first: the order's own message wins
            order.status, order.closed_at = known.status, known.closed_at
            order.reported_cum, order.reported_avg = known.reported_cum, known.reported_avg
            order.fills = known.fills
            order.predecessor = known.predecessor
            self.synthesized -= 1
            ident = (order.account_id, order.symbol, order.side)
            for exec_id, _, _ in order.fills:  # they carry the order's account, symbol, side
                fill = self.fills.get(exec_id)
                if fill is not None:
                    self.fills.set(exec_id, (*fill[:2], *ident, *fill[5:]))
        self._put(key, order, known)

    def _replace_request(self, m: MessageFields) -> None:
        get = m.values.get
        key = get("11")
        if key is None:
            raise Invalid("OrderCancelReplaceRequest without ClOrdID(11)")
        if key in self.orders:
            self.skipped["duplicate OrderCancelReplaceRequest (resend)"] += 1
            return
        orig = get("41")
        base = self.orders.get(orig) if orig else None
        order = self._order_from(m, key, client_sends=True, strict=base is None, base=base)
        if order.quantity is None:
            raise Invalid("no OrderQty(38)")
        order.predecessor = orig
        self._put(key, order, None)

    def _cancel_reject(self, m: MessageFields) -> None:
        """OrderCancelReject(9): the venue refused a cancel or a replace. A refused replace
        request (CxlRejResponseTo(434) 2) that no report has confirmed was never an order:
        its row goes, and the order it meant to replace lives on as before. Anything else
        in it changes nothing (the order's state comes from its reports)."""
        get = m.values.get
        key = get("11") or ""
        request = self.orders.get(key) if key and get("434") == "2" else None
        if request is not None and request.origin == "G" and request.status is None:
            if not request.fills:
                self.orders.pop(key)
                self.skipped["replace request the venue rejected (9)"] += 1
                return
        self.skipped["cancel reject (state comes from reports)"] += 1

    def _resolve(self, m: MessageFields) -> tuple[str, str | None]:
        """(the report's order key, the order it replaces if it confirms a replace)."""
        get = m.values.get
        kind = get("150") or get("39")  # ExecType, else OrdStatus
        cl, orig = get("11"), get("41")
        # 11 names the cancel / replace request here; the order is 41 until a replace is done.
        cancel_like = kind in ("4", "6", "E")
        replace_like = kind == "5"
        if cancel_like and orig:
            if cl is None or orig in self.orders or cl not in self.orders:
                return orig, None
            return cl, None
        if replace_like and orig and cl:
            return cl, orig
        if kind != "8" and orig and orig in self.orders and (cl is None or cl not in self.orders):
            # A fill while a cancel is pending names the cancel request in 11 (never an
            # order here): the order is 41's. Not a rejection (8): that rejects the request.
            return orig, None
        if cl:
            return cl, None
        order_id = get("37")
        if order_id:
            return self.order_ids.get(order_id) or order_id, None
        raise Invalid("ExecutionReport without ClOrdID(11) or OrderID(37)")

    def _synthesise(self, m: MessageFields, key: str, base: _Order | None) -> _Order:
        order = self._order_from(m, key, client_sends=False, strict=False, base=base)
        order.origin = "8"
        self._put(key, order, None)
        self.synthesized += 1
        return order

    def _chain_filled(self, order: _Order) -> int:
        return sum(q for _, q, _ in self._chain_fills(order))

    def _chain_fills(self, order: _Order) -> list[FillRef]:
        """The fills of the orders `order` replaced, back along its replace chain."""
        found: list[FillRef] = []
        seen, prev = {order.cl_ord_id}, order.predecessor
        while prev and prev not in seen:
            before = self.orders.peek(prev)
            if before is None:
                break
            seen.add(prev)
            found.extend(before.fills)
            prev = before.predecessor
        return found
