"""`surveil import-fix`: FIX engine logs → trading days in the data folder.

The day folders written are exactly what `generate` writes (firms, accounts, orders,
executions CSVs and `_manifest.json`, source kind "fix"), so upload, load, validate and
detect work unchanged. Each day is built in a hidden folder beside its final place and
renamed into place whole; nothing is written at all while any input is invalid (unless
`skip_invalid`), so a failed import leaves no trace.

How a log becomes rows — the documented rules
=============================================

Reading. Every message is verified (BodyLength, CheckSum; see surveil.fixlog). Session
messages (Heartbeat 0, TestRequest 1, ResendRequest 2, Reject 3, SequenceReset 4,
Logout 5, Logon A) are counted and skipped, as are message types the warehouse has no
place for (market data, OrderCancelReject 9, BusinessMessageReject j, ...).

Trade date. A message belongs to the New York (exchange) date of its TransactTime(60), or
of its SendingTime(52) when it has none. Each date is built on its own: an execution whose
order was entered on an earlier date finds no order on its own date, and gets one
synthesised (below); ClOrdID is unique within a day, which is the warehouse's key.

Refused messages. A message the counterparty refused with a session Reject(3) or a
BusinessMessageReject(j) — matched by RefSeqNum(45) to the latest message with that
MsgSeqNum(34) in the other direction — was not processed by the receiver and is skipped.

Orders. NewOrderSingle(D) creates an order row keyed by ClOrdID(11); a second D with the
same ClOrdID is a resend and is skipped. OrderCancelReplaceRequest(G) creates a row for its
new ClOrdID, inheriting from OrigClOrdID(41) what it does not state; the old row is closed
('4', cancel_time = the report's time) only when an ExecutionReport confirms the replace
(ExecType 5, or OrdStatus 5 in FIX 4.2 logs without ExecType). A replacement's quantity is
its OrderQty less what its predecessors filled (FIX counts OrderQty over the chain).
OrderCancelRequest(F) changes nothing by itself: orders get their state from the reports.

Order fields. side: Side(54) 1, 2, 5, 6 as is; 3 (buy minus) → 1; 4 (sell plus) → 2; other
sides are rejected. order_type: OrdType(40) 1-4 as is; market-like 5, A, C, K → 1;
limit-like 7, B, F → 2; pegged P → 2 with a Price(44), else 1; others rejected.
limit_price is Price(44) for types 2 and 4 only (a price on a market order is dropped;
a limit order without one is rejected). time_in_force: TimeInForce(59), Day (0) when
absent; 5 (good till crossing) is rejected. Quantities must be whole numbers.
symbol: Symbol(55), else SecurityID(48). transact_time: TransactTime(60), else
SendingTime(52), written as ISO 8601 UTC with microseconds and Z.

Firms and accounts. firm_id: the first Parties entry (NoPartyIDs 453) whose PartyRole is a
firm — 13 order origination firm, 1 executing firm, 7 entering firm, 4 clearing firm,
17 contra firm, in that order of preference — else OnBehalfOfCompID(115) then
SenderCompID(49) for messages the client sends (D, G, AE), DeliverToCompID(128) then
TargetCompID(56) for reports the client receives (8). account_id: Account(1), else a
Parties entry with role 24 (customer account) or 38 (position account), else the
placeholder "<firm_id>:noacct" (the schema needs an account; this names whose it is).
accounts.account_type: market_maker when OrderRestrictions(529) has 5; client for
OrderCapacity(528) A, I, W or Rule80A(47) A, I, K, N, U, W, Y; proprietary for 528 G, P, R or
47 C, E, J, O, P; market_maker for 47 S; else "unknown". beneficial_owner_id: a Parties
entry with role 5 (investor id), else the account itself. An account keeps the firm it
was first seen with. firms.firm_name is the firm_id (FIX carries no names) and
firms.account_type is "unknown".

ExecutionReports (8). The report's order is ClOrdID(11) — for a cancel, pending cancel or
pending replace (ExecType 4, 6, E, or that OrdStatus without ExecType) OrigClOrdID(41),
since 11 then names the request — else the ClOrdID an earlier report gave the same
OrderID(37), else OrderID itself.
An execution whose order never appeared is given a synthesised order built from the
report's own fields: quantity OrderQty(38), else CumQty(14)+LeavesQty(151), else the
filled quantity; order_type OrdType(40), else limit when the report has a Price(44) and
market when not, and a limit type without a Price is recorded as market (the report does
not give the limit); transact_time the report's.
A report is a fill when ExecType is 1 or 2 (FIX 4.2, with ExecTransType 0 or absent) or F
(FIX 4.4), or has no ExecType at all, and LastQty(32) > 0 with LastPx(31). ExecTransType 1
or ExecType H bust the fill ExecRefID(19) names; ExecTransType 2 or ExecType G replace it.
ExecTransType 3 and ExecType I (status) and D (restated) never fill. A report without a
usable LastQty whose CumQty(14) exceeds what the order has filled (a venue dialect, e.g.
ExecType 0 with OrdStatus 2 and CumQty 100) records the difference as a fill under its
ExecID, at the price AvgPx(6) implies: (AvgPx × CumQty − filled notional) / difference,
to 4 decimals. A repeated ExecID is a resend and is skipped. venue: LastMkt(30), else the
order's ExDestination(100), else the report's SenderCompID(49).

Final state (contradictory ExecType/OrdStatus resolve here). cum_qty is the sum of the
order's fills in the log, always. ord_status is what those fills prove, refined by the last
OrdStatus(39) reported (or implied by ExecType when absent): '2' when cum_qty reaches the
quantity; else '4' when cancelled (4) or replaced (4.2's 5); else 'C' when expired (C) or
done for day (3); else '8' when rejected without fills ('4' with fills); else '6' when
pending cancel; else '1' with fills, '0' without. A report saying "filled" whose fills are
not all in the log therefore gives '1' or '0'. cancel_time is the time of the first report
that cancelled, replaced or rejected the order, for status '4' only. avg_px is AvgPx(6) of the last report whose
CumQty equals cum_qty, else the fills' volume-weighted price to 6 decimals, NULL without
fills.

TradeCaptureReport (AE). Each side (NoSides 552) is one execution, exec_id
"<TradeReportID(571) or ExecID(17)>-<side number>", LastQty(32) at LastPx(31), venue
LastMkt(30) else XOFF (the MIC for off-exchange trades). The side's order is its ClOrdID,
else the order an ExecutionReport gave its OrderID, else its OrderID, else the exec_id; one
that does not exist is synthesised as a filled market order of the traded quantity.
TradeReportTransType(487) 1 (cancel) and 4 (reverse) remove the executions of the trade
TradeReportRefID(572) names; 2 (replace) replaces them (values from the FIX 4.4
specification; the QuickFIX dictionary lists 487 without values).

Invalid input. A message that fails verification or cannot become a row under these rules
(no ClOrdID, unsupported side, fractional quantity, ...) is invalid. By default any invalid
message stops the import (BadInputError, exit 3) listing them with file and line; with
`skip_invalid` the rest is imported and each invalid message is listed in the day's
`rejects.csv` (its date from the message's TransactTime/SendingTime; one whose date cannot
be read is listed in every day of the import), counted in the manifest.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from surveil.calendar import EXCHANGE_TZ
from surveil.errors import BadInputError, ConflictError
from surveil.fixlog import SESSION_TYPES, BadMessage, FixMessage, read_log
from surveil.manifest import (
    COLUMNS,
    MANIFEST_NAME,
    Manifest,
    day_dir_name,
    describe_file,
    publish_day_folder,
    read_local_manifest,
    verify_local_day,
)
from surveil.settings import Settings

IMPORTER_VERSION = "1"
REJECTS_FILE = "rejects.csv"
REJECT_COLUMNS: tuple[str, ...] = ("file", "line", "msg_type", "reason", "message")
SHOWN_IN_ERROR = 5  # invalid messages named in the error line
APP_TYPES = frozenset({"D", "F", "G", "8", "AE"})
REFUSALS = frozenset({"3", "j"})
NO_ACCOUNT = "{firm}:noacct"
OFF_EXCHANGE = "XOFF"
WIDTH = {"cl_ord_id": 64, "exec_id": 64, "account_id": 50, "firm_id": 50, "symbol": 16, "venue": 20}
MAX_QUANTITY = 2**31 - 1

SIDES = {"1": "1", "2": "2", "5": "5", "6": "6", "3": "1", "4": "2"}
ORDER_TYPES = {
    "1": "1", "2": "2", "3": "3", "4": "4",
    "5": "1", "A": "1", "C": "1", "K": "1",
    "7": "2", "B": "2", "F": "2",
}  # fmt: skip
TIME_IN_FORCE = frozenset({"0", "1", "2", "3", "4", "6", "7"})
FIRM_ROLES = ("13", "1", "7", "4", "17")
ACCOUNT_ROLES = ("24", "38")
OWNER_ROLE = "5"
CLIENT_CAPACITY = frozenset("AIW")
PROPRIETARY_CAPACITY = frozenset("GPR")
CLIENT_RULE80A = frozenset("AIKNUWY")
PROPRIETARY_RULE80A = frozenset("CEJOP")
TRADE_EXEC_TYPES = frozenset({"1", "2", "F"})
STATUS_ONLY_EXEC_TYPES = frozenset({"I", "D"})
# OrdStatus implied by an ExecType when a report has no OrdStatus.
STATUS_OF_EXEC_TYPE = {
    "0": "0", "1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "6": "6", "7": "7",
    "8": "8", "9": "9", "A": "A", "B": "B", "C": "C", "E": "E",
}  # fmt: skip

_TIMESTAMP = re.compile(r"(\d{4})(\d\d)(\d\d)-(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?")
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
SIX_PLACES = Decimal("0.000001")
FOUR_PLACES = Decimal("0.0001")


class Invalid(Exception):
    """A message that cannot become rows under the rules above; the text is the reason."""


@dataclass(frozen=True)
class Reject:
    source: str
    line: int
    msg_type: str
    reason: str
    message: str
    day: dt.date | None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def row(self) -> tuple[str, ...]:
        return (self.source, str(self.line), self.msg_type, self.reason, self.message)


@dataclass
class DayImport:
    trade_date: dt.date
    path: Path
    status: str  # imported | unchanged
    orders: int
    executions: int
    rejected: int
    synthesized_orders: int
    messages: dict[str, int]
    manifest_sha256: str


@dataclass
class ImportResult:
    days: list[DayImport] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=dict)  # valid messages read, by MsgType
    orders: int = 0
    executions: int = 0
    skipped: int = 0
    rejected: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)


# --------------------------------------------------------------------------- field helpers


_DATE_OF_HOUR: dict[str, dt.date | None] = {}


def exchange_date(stamp: str) -> dt.date | None:
    """New York date of a FIX UTCTimestamp. Offsets are whole hours, so the date depends only
    on "YYYYMMDD-HH", which is cached."""
    key = stamp[:11]
    found = _DATE_OF_HOUR.get(key, False)
    if found is False:
        try:
            utc = dt.datetime(
                int(key[:4]), int(key[4:6]), int(key[6:8]), int(key[9:11]), tzinfo=dt.UTC
            )
            found = utc.astimezone(EXCHANGE_TZ).date()
        except ValueError:
            found = None
        _DATE_OF_HOUR[key] = found
    return found


def iso_utc(stamp: str) -> str | None:
    """FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.fraction]) → 2026-11-27T14:30:00.000001Z."""
    match = _TIMESTAMP.fullmatch(stamp)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60 or exchange_date(stamp) is None:
        return None
    micro = (fraction or "")[:6].ljust(6, "0")
    return f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro}Z"


def _when(m: FixMessage) -> tuple[str, str]:
    """(FIX timestamp, ISO UTC) of TransactTime(60), else SendingTime(52)."""
    for tag in (60, 52):
        stamp = m.text(tag)
        if stamp:
            iso = iso_utc(stamp)
            if iso is None:
                raise Invalid(
                    f"{'TransactTime(60)' if tag == 60 else 'SendingTime(52)'} {stamp!r} is not a UTC timestamp"
                )
            return stamp, iso
    raise Invalid("no TransactTime(60) or SendingTime(52)")


def _ident(m: FixMessage, tag: int, name: str, column: str) -> str | None:
    value = m.text(tag)
    if value is None:
        return None
    return _fits(value, f"{name}({tag})", column)


def _fits(value: str, what: str, column: str) -> str:
    if len(value) > WIDTH[column]:
        raise Invalid(
            f"{what} {value[:80]!r} is longer than the {WIDTH[column]} characters of {column}"
        )
    if not value.isprintable():
        raise Invalid(f"{what} holds control characters")
    return value


def _whole(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Invalid(f"{what} {value!r} is not a number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Invalid(f"{what} {value!r} is not a whole number of shares")
    if number > MAX_QUANTITY or number < -MAX_QUANTITY:
        raise Invalid(f"{what} {value!r} is too large")
    return int(number)


def _price(value: str | None, what: str, integer_digits: int = 8) -> str | None:
    """A decimal as text the warehouse reads exactly as the log wrote it. Prices are
    numeric(12, 4) there (AvgPx numeric(18, 6)): more integer digits cannot be loaded, and
    is invalid here; more decimals are rounded by PostgreSQL."""
    if value is None:
        return None
    if not _DECIMAL.fullmatch(value):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise Invalid(f"{what} {value!r} is not a number") from None
        if not number.is_finite():
            raise Invalid(f"{what} {value!r} is not a number")
        value = format(number, "f")
    if len(value.lstrip("-").split(".")[0].lstrip("0")) > integer_digits:
        raise Invalid(f"{what} {value!r} is too large for the warehouse")
    return value


def _parties(pairs: list[tuple[int, bytes]]) -> list[tuple[str, str]]:
    """(PartyID, PartyRole) of every Parties entry in `pairs`."""
    found: list[list[str]] = []
    for tag, value in pairs:
        if tag == 448:
            found.append([value.decode("latin-1"), ""])
        elif tag == 452 and found:
            found[-1][1] = value.decode("latin-1")
    return [(pid, role) for pid, role in found]


def _party(parties: list[tuple[str, str]], roles: tuple[str, ...]) -> str | None:
    for role in roles:
        for pid, prole in parties:
            if prole == role and pid:
                return pid
    return None


def _account_type(values: dict[int, str | None]) -> str:
    restrictions = (values.get(529) or "").split()
    capacity = values.get(528)
    rule80a = values.get(47)
    if "5" in restrictions or rule80a == "S":
        return "market_maker"
    if capacity in CLIENT_CAPACITY or rule80a in CLIENT_RULE80A:
        return "client"
    if capacity in PROPRIETARY_CAPACITY or rule80a in PROPRIETARY_RULE80A:
        return "proprietary"
    return "unknown"


def _plain(number: Decimal) -> str:
    """A decimal without exponent or needless trailing zeros: 45.0000 -> 45, 1.2500 -> 1.25."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _vwap(fills: list[_Fill]) -> Decimal:
    qty = sum(f.qty for f in fills)
    notional = sum(Decimal(f.price) * f.qty for f in fills)
    return notional / qty if qty else Decimal(0)


# --------------------------------------------------------------------------- day state


@dataclass(slots=True)
class _Fill:
    exec_id: str
    cl_ord_id: str
    qty: int
    price: str
    venue: str
    time: str


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
    fills: list[str] = field(default_factory=list)


@dataclass
class _Identity:
    account_id: str
    firm_id: str
    account_type: str
    owner: str


class DayBuilder:
    """One trading date's orders, executions, accounts and firms, built from its messages in
    log order."""

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.orders: dict[str, _Order] = {}
        self.order_ids: dict[str, str] = {}  # OrderID(37) -> the order's key
        self.fills: dict[str, _Fill] = {}
        self.trades: dict[str, list[str]] = {}  # TradeReportID -> exec ids
        self.accounts: dict[str, tuple[str, str, str]] = {}  # id -> (firm, type, owner)
        self.firms: dict[str, None] = {}
        self.rejects: list[Reject] = []
        self.skipped: Counter[str] = Counter()
        self.synthesized = 0
        self._now = ""  # the time of the message being applied, ISO UTC

    # ---- entry point

    def add(self, m: FixMessage, when: str | None = None) -> None:
        """Apply one message; `when` is its _when() time when the caller has it already."""
        try:
            self._now = when if when is not None else _when(m)[1]
            if m.msg_type == "D":
                self._new_order(m)
            elif m.msg_type == "G":
                self._replace_request(m)
            elif m.msg_type == "8":
                self._report(m)
            elif m.msg_type == "AE":
                self._trade_report(m)
            else:
                self.skipped["cancel request (state comes from reports)"] += 1
        except Invalid as exc:
            self.rejects.append(
                Reject(m.source, m.line, m.msg_type, str(exc), m.display(), self.day)
            )

    # ---- identities

    def _identity(
        self, m: FixMessage, pairs: list[tuple[int, bytes]] | None, client_sends: bool
    ) -> _Identity:
        parties = _parties(pairs) if pairs is not None else []
        firm = _party(parties, FIRM_ROLES)
        if firm is None:
            tags = (115, 49) if client_sends else (128, 56)
            firm = next((v for t in tags if (v := m.text(t))), None) or "UNKNOWN"
        firm = _fits(firm, "firm", "firm_id")
        account = m.text(1) or _party(parties, ACCOUNT_ROLES)
        account = _fits(account or NO_ACCOUNT.format(firm=firm), "Account(1)", "account_id")
        values = {t: m.text(t) for t in (528, 529, 47)}
        owner = _party(parties, (OWNER_ROLE,)) or account
        return _Identity(
            account, firm, _account_type(values), _fits(owner, "investor", "account_id")
        )

    def _register(self, ident: _Identity) -> None:
        self.firms.setdefault(ident.firm_id, None)
        known = self.accounts.get(ident.account_id)
        if known is None:
            self.accounts[ident.account_id] = (ident.firm_id, ident.account_type, ident.owner)
        elif known[1] == "unknown" and ident.account_type != "unknown":
            self.accounts[ident.account_id] = (known[0], ident.account_type, known[2])

    @staticmethod
    def _pairs_if_parties(m: FixMessage) -> list[tuple[int, bytes]] | None:
        return m.pairs() if b"\x01453=" in m.body else None

    # ---- order attributes

    def _order_from(
        self, m: FixMessage, key: str, *, client_sends: bool, strict: bool, base: _Order | None
    ) -> _Order:
        """An order row from a D, G or (strict=False) a report; `base` fills what is absent."""
        symbol = m.text(55)
        if symbol in (None, "[N/A]"):
            symbol = m.text(48)
        if symbol is None:
            if base is None:
                raise Invalid("no Symbol(55) or SecurityID(48)")
            symbol = base.symbol
        symbol = _fits(symbol, "Symbol(55)", "symbol")
        side_raw = m.text(54) or (base.side if base else None)
        if side_raw is None:
            raise Invalid("no Side(54)")
        side = SIDES.get(side_raw)
        if side is None:
            raise Invalid(f"Side(54)={side_raw} is not a side the warehouse takes (1, 2, 5, 6)")
        price = _price(m.text(44), "Price(44)")
        type_raw = m.text(40)
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
        limit = price if order_type in ("2", "4") else None
        tif = m.text(59) or (base.tif if base else "0")
        if tif not in TIME_IN_FORCE:
            raise Invalid(f"TimeInForce(59)={tif} has no equivalent in the warehouse")
        quantity = _whole(m.text(38), "OrderQty(38)")
        if quantity is None and not strict:
            cum, leaves = _whole(m.text(14), "CumQty(14)"), _whole(m.text(151), "LeavesQty(151)")
            if cum is not None and leaves is not None and cum + leaves > 0:
                quantity = cum + leaves
        if quantity is None and base is not None:
            quantity = base.quantity
        if quantity is None and strict:
            raise Invalid("no OrderQty(38)")
        if quantity is not None and quantity <= 0:
            raise Invalid(f"OrderQty(38)={quantity} is not positive")
        when = self._now
        cl_ord_id = _fits(key, "ClOrdID(11)", "cl_ord_id")
        if base is not None and m.text(1) is None and b"\x01453=" not in m.body:
            account_id, firm_id = base.account_id, base.firm_id
        else:
            ident = self._identity(m, self._pairs_if_parties(m), client_sends)
            self._register(ident)  # last: nothing is recorded for a message found invalid
            account_id, firm_id = ident.account_id, ident.firm_id
        return _Order(
            cl_ord_id=cl_ord_id,
            account_id=account_id,
            firm_id=firm_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            tif=tif,
            quantity=quantity,
            limit_price=limit,
            transact_time=when,
            origin=m.msg_type,
            source=m.source,
            line=m.line,
            destination=m.text(100) or (base.destination if base else None),
        )

    # ---- handlers

    def _new_order(self, m: FixMessage) -> None:
        key = m.text(11)
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
        self.orders[key] = order

    def _replace_request(self, m: FixMessage) -> None:
        key = m.text(11)
        if key is None:
            raise Invalid("OrderCancelReplaceRequest without ClOrdID(11)")
        if key in self.orders:
            self.skipped["duplicate OrderCancelReplaceRequest (resend)"] += 1
            return
        orig = m.text(41)
        base = self.orders.get(orig) if orig else None
        order = self._order_from(m, key, client_sends=True, strict=base is None, base=base)
        if order.quantity is None:
            raise Invalid("no OrderQty(38)")
        order.predecessor = orig
        self.orders[key] = order

    def _resolve(self, m: FixMessage) -> tuple[str, str | None]:
        """(the report's order key, the order it replaces if it confirms a replace)."""
        exec_type, status = m.text(150), m.text(39)
        cl, orig = m.text(11), m.text(41)
        # 11 names the cancel / replace request here; the order is 41 until a replace is done.
        cancel_like = (exec_type or status) in ("4", "6", "E")
        replace_like = (exec_type or status) == "5"
        if cancel_like and orig:
            key = orig if orig in self.orders or cl not in self.orders else cl
            return key, None
        if replace_like and orig and cl:
            return cl, orig
        if cl:
            return cl, None
        order_id = m.text(37)
        if order_id:
            return self.order_ids.get(order_id, order_id), None
        raise Invalid("ExecutionReport without ClOrdID(11) or OrderID(37)")

    def _synthesise(self, m: FixMessage, key: str, base: _Order | None) -> _Order:
        order = self._order_from(m, key, client_sends=False, strict=False, base=base)
        order.origin = "8"
        self.orders[key] = order
        self.synthesized += 1
        return order

    def _report(self, m: FixMessage) -> None:
        # Everything that can make the report invalid is read before anything is recorded.
        key, replaced = self._resolve(m)
        when = self._now
        exec_type, trans_type = m.text(150), m.text(20)
        status = m.text(39) or STATUS_OF_EXEC_TYPE.get(exec_type or "")
        last_qty = _whole(m.text(32), "LastQty(32)")
        last_px = _price(m.text(31), "LastPx(31)")
        cum = _whole(m.text(14), "CumQty(14)")
        avg = _price(m.text(6), "AvgPx(6)", 12)
        exec_id = _ident(m, 17, "ExecID", "exec_id")
        bust = trans_type == "1" or exec_type == "H"
        correct = trans_type == "2" or exec_type == "G"
        status_only = trans_type == "3" or exec_type in STATUS_ONLY_EXEC_TYPES
        trade = correct or (
            not bust and not status_only and (exec_type is None or exec_type in TRADE_EXEC_TYPES)
        )
        fill_qty = last_qty if trade and last_qty is not None and last_qty > 0 else None
        if fill_qty is not None:
            if last_px is None:
                raise Invalid("a fill without LastPx(31)")
            if exec_id is None:
                raise Invalid("a fill without ExecID(17)")
        order = self.orders.get(key)
        base = self.orders.get(replaced) if replaced else None
        if order is None:
            order = self._synthesise(m, key, base)
        order_id = m.text(37)
        if order_id:
            self.order_ids[order_id] = key
        if replaced is not None:
            if base is not None and base.closed_at is None:
                base.closed_at = when
                base.status = "5"
            order.predecessor = order.predecessor or replaced
            if status == "5":
                status = None  # 4.2: "replaced" describes the old order, not this one
        venue = _fits(m.text(30) or order.destination or m.text(49) or "UNKNOWN", "venue", "venue")
        if bust or correct:
            self._bust(m)
        if fill_qty is not None:
            assert exec_id is not None and last_px is not None
            self._new_fill(exec_id, order, fill_qty, last_px, venue, when)
        elif not bust and not status_only and cum is not None:
            self._fill_from_cum(order, cum, avg, exec_id, venue, when)
        if status is not None:
            order.status = status
            if status in ("4", "5", "8") and order.closed_at is None:
                order.closed_at = when
        if cum is not None:
            order.reported_cum = cum
            order.reported_avg = avg

    def _new_fill(
        self, exec_id: str, order: _Order, qty: int, price: str, venue: str, when: str
    ) -> bool:
        if exec_id in self.fills:
            self.skipped["duplicate ExecID (resend)"] += 1
            return False
        self.fills[exec_id] = _Fill(exec_id, order.cl_ord_id, qty, price, venue, when)
        order.fills.append(exec_id)
        return True

    def _fill_from_cum(
        self, order: _Order, cum: int, avg: str | None, exec_id: str | None, venue: str, when: str
    ) -> None:
        """The CumQty dialect: a rise in CumQty with no LastQty is a fill of the difference."""
        fills = [self.fills[e] for e in order.fills]
        done = sum(f.qty for f in fills)
        if cum <= done:
            return
        if avg is None or exec_id is None:
            self.skipped["CumQty rise without LastQty, AvgPx or ExecID"] += 1
            return
        notional = sum(Decimal(f.price) * f.qty for f in fills)
        price = ((Decimal(avg) * cum - notional) / (cum - done)).quantize(
            FOUR_PLACES, ROUND_HALF_EVEN
        )
        if price <= 0:
            self.skipped["CumQty rise at no positive price"] += 1
            return
        self._new_fill(exec_id, order, cum - done, _plain(price), venue, when)

    def _bust(self, m: FixMessage) -> None:
        ref = m.text(19)
        fill = self.fills.pop(ref, None) if ref else None
        if fill is None:
            self.skipped["bust or correction of an execution not in the log"] += 1
            return
        order = self.orders.get(fill.cl_ord_id)
        if order is not None and ref in order.fills:
            order.fills.remove(ref)

    def _trade_report(self, m: FixMessage) -> None:
        # Everything that can make the report invalid is read before anything is recorded.
        pairs = m.pairs()
        trade_id = m.text(571) or m.text(17)
        if trade_id is None:
            raise Invalid("TradeCaptureReport without TradeReportID(571) or ExecID(17)")
        trans_type = m.text(487) or "0"
        if trans_type in ("1", "4"):
            self._drop_trade(m.text(572))
            return
        when = self._now
        qty = _whole(m.text(32), "LastQty(32)")
        if not qty or qty <= 0:
            raise Invalid("TradeCaptureReport without a positive LastQty(32)")
        price = _price(m.text(31), "LastPx(31)")
        if price is None:
            raise Invalid("TradeCaptureReport without LastPx(31)")
        symbol = m.text(55)
        if symbol in (None, "[N/A]"):
            symbol = m.text(48)
        if symbol is None:
            raise Invalid("no Symbol(55) or SecurityID(48)")
        symbol = _fits(symbol, "Symbol(55)", "symbol")
        venue = _fits(m.text(30) or OFF_EXCHANGE, "LastMkt(30)", "venue")
        sides = _sides(pairs)
        if not sides:
            raise Invalid("TradeCaptureReport without sides (NoSides 552)")
        planned = []
        for number, side_pairs in enumerate(sides, 1):
            values = {t: v.decode("latin-1") for t, v in side_pairs if v}
            side_raw = values.get(54, "")
            side = SIDES.get(side_raw)
            if side is None:
                raise Invalid(f"Side(54)={side_raw} is not a side the warehouse takes (1, 2, 5, 6)")
            parties = _parties(side_pairs)
            firm = _party(parties, FIRM_ROLES) or m.text(115) or m.text(49) or "UNKNOWN"
            firm = _fits(firm, "firm", "firm_id")
            account = (
                values.get(1) or _party(parties, ACCOUNT_ROLES) or NO_ACCOUNT.format(firm=firm)
            )
            account = _fits(account, "Account(1)", "account_id")
            owner = _fits(_party(parties, (OWNER_ROLE,)) or account, "investor", "account_id")
            kind = _account_type({t: values.get(t) for t in (528, 529, 47)})
            exec_id = _fits(f"{trade_id}-{number}", "TradeReportID(571)", "exec_id")
            order_id = values.get(37)
            key = values.get(11) or (self.order_ids.get(order_id) if order_id else None)
            key = _fits(key or order_id or exec_id, "ClOrdID(11)", "cl_ord_id")
            planned.append((exec_id, key, side, _Identity(account, firm, kind, owner)))
        if trans_type == "2":
            self._drop_trade(m.text(572))
        exec_ids = []
        for exec_id, key, side, ident in planned:
            order = self.orders.get(key)
            if order is None:
                self._register(ident)
                order = _Order(
                    cl_ord_id=key,
                    account_id=ident.account_id,
                    firm_id=ident.firm_id,
                    symbol=symbol,
                    side=side,
                    order_type="1",
                    tif="0",
                    quantity=None,
                    limit_price=None,
                    transact_time=when,
                    origin="AE",
                    source=m.source,
                    line=m.line,
                    status="2",
                )
                self.orders[key] = order
                self.synthesized += 1
            if self._new_fill(exec_id, order, qty, price, venue, when):
                exec_ids.append(exec_id)
        self.trades[trade_id] = exec_ids

    def _drop_trade(self, ref: str | None) -> None:
        removed = self.trades.pop(ref, None) if ref else None
        if removed is None:
            self.skipped["trade report cancel/replace of a trade not in the log"] += 1
            return
        for exec_id in removed:
            fill = self.fills.pop(exec_id, None)
            order = self.orders.get(fill.cl_ord_id) if fill else None
            if order is not None:
                order.fills.remove(exec_id)

    # ---- rows

    def rows(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """(orders rows, executions rows) in COLUMNS order; orders that cannot be sized
        become rejects."""
        day = self.day.isoformat()
        orders: list[tuple[str, ...]] = []
        filled_by: dict[str, int] = {}
        for key, order in self.orders.items():
            fills = [self.fills[e] for e in order.fills]
            cum = sum(f.qty for f in fills)
            filled_by[key] = cum
            quantity = order.quantity
            if quantity is not None and order.predecessor:
                before = self._chain_filled(order, filled_by)
                if quantity - before >= max(cum, 1):
                    quantity -= before
            if quantity is None:
                quantity = cum
            if quantity <= 0:
                reason = f"order {key}: no OrderQty(38), CumQty+LeavesQty or fills to size it"
                self.rejects.append(
                    Reject(order.source, order.line, order.origin, reason, "", self.day)
                )
                continue
            status = _final_status(order, cum, quantity)
            avg = None
            if cum > 0:
                if (
                    order.reported_cum == cum
                    and order.reported_avg
                    and Decimal(order.reported_avg) > 0
                ):
                    avg = order.reported_avg
                else:
                    avg = format(_vwap(fills).quantize(SIX_PLACES, ROUND_HALF_EVEN), "f")
            cancel_time = order.closed_at if status == "4" else None
            orders.append(
                (
                    key, day, order.account_id, order.firm_id, order.symbol, order.side,
                    order.order_type, order.tif, str(quantity), order.limit_price or "",
                    order.transact_time, status, str(cum), avg or "", cancel_time or "",
                )
            )  # fmt: skip
        written = {row[0] for row in orders}
        executions = []
        for fill in self.fills.values():
            if fill.cl_ord_id not in written:
                continue
            order = self.orders[fill.cl_ord_id]
            executions.append(
                (
                    fill.exec_id, day, fill.cl_ord_id, order.account_id, order.symbol,
                    order.side, str(fill.qty), fill.price, fill.venue, fill.time,
                )
            )  # fmt: skip
        return orders, executions

    def _chain_filled(self, order: _Order, filled_by: dict[str, int]) -> int:
        total, seen, prev = 0, {order.cl_ord_id}, order.predecessor
        while prev and prev not in seen and prev in self.orders:
            seen.add(prev)
            total += sum(self.fills[e].qty for e in self.orders[prev].fills)
            prev = self.orders[prev].predecessor
        return total

    def reference_rows(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """(firms rows, accounts rows): every firm and account an order or account names."""
        firms = [(f, f, "unknown") for f in self.firms]
        accounts = [(a, firm, kind, owner) for a, (firm, kind, owner) in self.accounts.items()]
        return firms, accounts


def _sides(pairs: list[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
    """The NoSides(552) entries of a TradeCaptureReport, each from its Side(54) on."""
    sides: list[list[tuple[int, bytes]]] = []
    in_group = False
    for tag, value in pairs:
        if tag == 552:
            in_group = True
            continue
        if not in_group:
            continue
        if tag == 54:
            sides.append([])
        if sides:
            sides[-1].append((tag, value))
    return sides


def _final_status(order: _Order, cum: int, quantity: int) -> str:
    """The rule in the module docstring: what the fills prove, refined by the last status."""
    reported = order.status
    if quantity > 0 and cum >= quantity:
        return "2"
    if reported in ("4", "5"):
        return "4"
    if reported in ("C", "3"):
        return "C"
    if reported == "8":
        return "8" if cum == 0 else "4"
    if reported == "6":
        return "6"
    return "1" if cum > 0 else "0"


# --------------------------------------------------------------------------- the import


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _read(path: Path, name: str) -> Iterator[FixMessage | BadMessage]:
    """read_log, with an unreadable file (a corrupt or cut gzip, say) as bad input."""
    try:
        yield from read_log(path, name)
    except (OSError, EOFError) as exc:
        raise BadInputError(f"{path}: cannot be read ({exc})") from None


class _Refusals:
    """Which application messages the counterparty refused (session Reject 3 or
    BusinessMessageReject j, by RefSeqNum against the other direction's MsgSeqNum)."""

    KEEP = 100_000  # messages remembered per direction; a refusal comes within seconds

    def __init__(self) -> None:
        self.by_direction: dict[tuple[bytes, bytes], dict[bytes, int]] = {}
        self.refused: set[int] = set()

    def see(self, number: int, m: FixMessage) -> None:
        sender, target, seq = m.first(49) or b"", m.first(56) or b"", m.first(34) or b""
        direction = (sender, target)
        if m.msg_type == "A" and (seq == b"1" or m.first(141) == b"Y"):
            self.by_direction.pop(direction, None)
        if m.msg_type in REFUSALS:
            ref = m.first(45)
            other = self.by_direction.get((target, sender), {})
            if ref is not None and ref in other:
                self.refused.add(other[ref])
            return
        seen = self.by_direction.setdefault(direction, {})
        seen.pop(seq, None)
        seen[seq] = number
        if len(seen) > 2 * self.KEEP:
            recent = list(seen.items())[-self.KEEP :]
            seen.clear()
            seen.update(recent)


def import_fix(
    settings: Settings,
    paths: list[Path],
    day: dt.date | None = None,
    *,
    skip_invalid: bool = False,
    force: bool = False,
) -> ImportResult:
    """Import FIX logs into day folders of the data folder; see the module docstring."""
    if not paths:
        raise BadInputError("import-fix: no FIX log files given")
    for path in paths:
        if not path.is_file():
            raise BadInputError(f"{path}: no such file")
    names = _source_names(paths)
    files_meta = [
        {"name": name, "sha256": _sha256(path), "bytes": path.stat().st_size}
        for name, path in zip(names, paths, strict=True)
    ]
    result = ImportResult()
    messages: Counter[str] = Counter()
    per_day_messages: dict[dt.date, Counter[str]] = {}
    skipped: Counter[str] = Counter()
    rejects: list[Reject] = []
    routed: dict[dt.date, list[tuple[int, FixMessage, str]]] = {}
    refusals = _Refusals()
    number = 0
    for name, path in zip(names, paths, strict=True):
        for item in _read(path, name):
            number += 1
            if isinstance(item, BadMessage):
                when = exchange_date(item.time) if item.time else None
                if day is not None and when is not None and when != day:
                    skipped["invalid, on another date"] += 1
                    continue
                rejects.append(
                    Reject(item.source, item.line, item.msg_type or "", item.reason, item.display(), when)
                )  # fmt: skip
                continue
            mt = item.msg_type
            messages[mt] += 1
            refusals.see(number, item)
            if mt in APP_TYPES:
                try:
                    stamp, iso = _when(item)
                except Invalid as exc:
                    rejects.append(
                        Reject(item.source, item.line, mt, str(exc), item.display(), None)
                    )
                    continue
                when = exchange_date(stamp)
            else:
                sent = item.first(52)
                when = exchange_date(sent.decode("latin-1")) if sent else None
                skipped[
                    "session message" if mt in SESSION_TYPES else f"not imported (MsgType {mt})"
                ] += 1
            if when is not None:
                per_day_messages.setdefault(when, Counter())[mt] += 1
            if mt not in APP_TYPES:
                continue
            assert when is not None
            if day is not None and when != day:
                skipped["on another date"] += 1
                continue
            routed.setdefault(when, []).append((number, item, iso))

    builders: dict[dt.date, DayBuilder] = {}
    for when in sorted(routed):
        builder = DayBuilder(when)
        for num, msg, iso in routed[when]:
            if num in refusals.refused:
                skipped["refused by the counterparty (Reject 3 / j)"] += 1
                continue
            builder.add(msg, iso)
        builders[when] = builder
    built = {when: (b.rows(), b.reference_rows()) for when, b in builders.items()}
    for b in builders.values():
        rejects.extend(b.rejects)
        skipped.update(b.skipped)
    if day is not None:
        rejects = [r for r in rejects if r.day in (None, day)]
    if rejects and not skip_invalid:
        raise BadInputError(_describe(rejects))

    # Days to write: with orders, executions, or dated rejects.
    dated = {r.day for r in rejects if r.day is not None}
    days = sorted(
        {d for d, ((orders, executions), _) in built.items() if orders or executions}
        | (dated if day is None else dated & {day})
    )
    plans = []
    for when in days:
        final = settings.data_path / day_dir_name(when)
        day_rejects = [r for r in rejects if r.day in (None, when)]
        (orders, executions), (firms, accounts) = built.get(when, (([], []), ([], [])))
        builder = builders.get(when)
        source = {
            "kind": "fix",
            "importer_version": IMPORTER_VERSION,
            "files": files_meta,
            "skip_invalid": skip_invalid,
            "messages": dict(sorted(per_day_messages.get(when, Counter()).items())),
            "orders": len(orders),
            "executions": len(executions),
            "synthesized_orders": builder.synthesized if builder else 0,
            "rejected": len(day_rejects),
        }
        status = _check_target(final, source, force)
        plans.append(
            (when, final, source, status, orders, executions, firms, accounts, day_rejects)
        )
    for when, final, source, status, orders, executions, firms, accounts, day_rejects in plans:
        if status == "unchanged":
            manifest = read_local_manifest(final)
            assert manifest is not None
        else:
            tables = {
                "firms": firms,
                "accounts": accounts,
                "orders": orders,
                "executions": executions,
            }
            manifest = _write_day(
                settings, when, final, tables, day_rejects if skip_invalid else None, source
            )
        result.days.append(
            DayImport(
                when, final, status, len(orders), len(executions), len(day_rejects),
                int(source["synthesized_orders"]), dict(source["messages"]), manifest.sha256,
            )
        )  # fmt: skip
        result.orders += len(orders)
        result.executions += len(executions)
    result.messages = dict(sorted(messages.items()))
    result.rejects = rejects
    result.rejected = len(rejects)
    result.skipped_by_reason = dict(sorted(skipped.items()))
    result.skipped = sum(skipped.values())
    return result


def _source_names(paths: list[Path]) -> list[str]:
    """File names as they appear in errors and rejects: the base name, unless two share it."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]


def _describe(rejects: list[Reject]) -> str:
    if len(rejects) == 1:
        r = rejects[0]
        return f"{r.where}: {r.reason} (nothing imported; --skip-invalid imports the rest)"
    shown = "; ".join(f"{r.where} {r.reason}" for r in rejects[:SHOWN_IN_ERROR])
    more = f"; … and {len(rejects) - SHOWN_IN_ERROR} more" if len(rejects) > SHOWN_IN_ERROR else ""
    return (
        f"{len(rejects)} invalid messages: {shown}{more} "
        "(nothing imported; --skip-invalid imports the rest)"
    )


def _check_target(final: Path, source: dict[str, Any], force: bool) -> str:
    """'imported' (to be written), or 'unchanged' when the folder already holds this very
    import; raises ConflictError when it holds something else and not `force`."""
    if not final.exists():
        return "imported"
    existing = read_local_manifest(final)
    if existing is None:
        return "imported"  # a folder without a manifest is not a day
    if existing.source == source and verify_local_day(final, existing):
        return "unchanged"
    if force:
        return "imported"
    kind = existing.source.get("kind", "elsewhere")
    what = "a different FIX import" if kind == "fix" else f"a day from {kind}"
    raise ConflictError(f"{final}: holds {what}; use --force to replace it")


def _write_day(
    settings: Settings,
    day: dt.date,
    final: Path,
    tables: dict[str, list[tuple[str, ...]]],
    rejects: list[Reject] | None,
    source: dict[str, Any],
) -> Manifest:
    """Write the day in a hidden staging folder, manifest last, and rename it into place."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=settings.data_path))
    try:
        files = {}
        for table, rows in tables.items():
            path = staging / f"{table}.csv"
            _write_csv(path, COLUMNS[table], rows)
            files[path.name] = describe_file(path, COLUMNS[table])
        if rejects is not None:
            path = staging / REJECTS_FILE
            _write_csv(path, REJECT_COLUMNS, [r.row() for r in rejects])
            files[path.name] = describe_file(path, REJECT_COLUMNS)
        manifest = Manifest(day, files, source)
        (staging / MANIFEST_NAME).write_bytes(manifest.to_bytes())
        publish_day_folder(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """One record per line: describe_file counts lines, so no value may hold a line break
    (field values are checked printable; reject text is flattened here)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([v.replace("\r", " ").replace("\n", " ") for v in row])
