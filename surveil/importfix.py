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
limit-like 7, B, F → 2; pegged P → 2 with a Price(44), else 1; others rejected. Market-on-
close 5 and limit-on-close B also set time_in_force to 7 (at the close), as FIX 4.3 on
writes them.
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

How a day is built without holding it
=====================================

The logs are read once, message by message, and each message is applied to its date's
DayBuilder at once; nothing keeps a message after that. A day's state is per key: its
orders (by ClOrdID), fills (by ExecID), OrderIDs and trade reports. The most recently
created entries are kept in memory (HOT_ENTRIES per map, shared between the dates being
built); older ones are spilled to an SQLite file in a hidden folder of the data folder and
read back whenever a later message names them, so the rules above hold for any log while
memory stays flat whatever the day's size. A Bloom filter answers "never spilled" for most
new keys without a lookup. At the end each day's orders are read back in the order they
were first seen (the order of orders.csv), the fills in the order they were made
(executions.csv), and written as they are read. A fill carries its order's account, symbol
and side; an order only changes them when its own NewOrderSingle replaces the order a
report synthesised, and its fills are brought up to date then.

A refusal (Reject 3 / j) names a message that came before it. When a log holds refusals of
messages that were imported, it is read a second time with those messages known, so that
they are skipped as they pass; logs without refusals are read once.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gc
import hashlib
import itertools
import marshal
import operator
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from surveil.calendar import EXCHANGE_TZ
from surveil.errors import BadInputError, ConflictError
from surveil.fixlog import SESSION_TYPES, TAGS, BadMessage, FixMessage, read_log
from surveil.manifest import (
    COLUMNS,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    day_dir_name,
    describe_file,
    publish_day_folder,
    read_local_manifest,
    verify_local_day,
)
from surveil.settings import Settings
from surveil.staging import staging_dir, sweep_stale

IMPORTER_VERSION = "1"
REJECTS_FILE = "rejects.csv"
REJECT_COLUMNS: tuple[str, ...] = ("file", "line", "msg_type", "reason", "message")
SHOWN_IN_ERROR = 5  # invalid messages named in the error line
APP_TYPES = frozenset({"D", "F", "G", "8", "AE"})
REFUSALS = frozenset({"3", "j"})
_SESSION_RESETS_AND_REFUSALS = frozenset({"A", *REFUSALS})  # Logon may reset MsgSeqNum
NO_ACCOUNT = "{firm}:noacct"
OFF_EXCHANGE = "XOFF"
WIDTH = {"cl_ord_id": 64, "exec_id": 64, "account_id": 50, "firm_id": 50, "symbol": 16, "venue": 20}
MAX_QUANTITY = 2**31 - 1
# Entries of each per-key map (orders, fills, OrderIDs, trade reports) kept in memory, shared
# between the dates being built; the rest wait in the spill file. A few hundred bytes each.
HOT_ENTRIES = 30_000
MIN_HOT_ENTRIES = 1_000  # per date, however many dates one import builds
SETTLE_EVERY = 64  # messages between checks of the maps' sizes

SIDES = {"1": "1", "2": "2", "5": "5", "6": "6", "3": "1", "4": "2"}
ORDER_TYPES = {
    "1": "1", "2": "2", "3": "3", "4": "4",
    "5": "1", "A": "1", "C": "1", "K": "1",
    "7": "2", "B": "2", "F": "2",
}  # fmt: skip
TIME_IN_FORCE = frozenset({"0", "1", "2", "3", "4", "6", "7"})
# Market-on-close (5) and limit-on-close (B): FIX 4.3 on writes them as OrdType 1 or 2 with
# TimeInForce 7 (at the close), the form the warehouse keeps.
AT_CLOSE_ORDER_TYPES = frozenset({"5", "B"})
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


ImportStatus = Literal["imported", "unchanged"]


@dataclass
class DayImport:
    trade_date: dt.date
    path: Path
    status: ImportStatus
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
# "YYYYMMDD-HH:MM:SS" known good -> ("YYYY-MM-DDTHH:MM:SS", its New York date)
_KNOWN_SECONDS: dict[str, tuple[str, dt.date]] = {}
_SECONDS_KEPT = 200_000


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


def utc_time(stamp: str) -> tuple[str, dt.date] | None:
    """FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.fraction]) → (2026-11-27T14:30:00.000001Z, its New
    York date), or None when it is not one.

    The whole-second part is checked once per second seen (cached); only the fraction is
    checked per call. `\\d` is any Unicode decimal digit, as str.isdecimal() tells."""
    known = _KNOWN_SECONDS.get(stamp[:17])
    if known is not None:
        head, date = known
        fraction = stamp[17:]
        if len(fraction) == 7 and fraction[0] == "." and fraction[1:].isdecimal():
            return f"{head}{fraction}Z", date  # the usual: microseconds
        if not fraction:
            return f"{head}.000000Z", date
        if fraction[0] == "." and 2 <= len(fraction) <= 10 and fraction[1:].isdecimal():
            return f"{head}.{fraction[1:7].ljust(6, '0')}Z", date
        return None
    match = _TIMESTAMP.fullmatch(stamp)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        return None
    date = exchange_date(stamp)
    if date is None:
        return None
    if len(_KNOWN_SECONDS) >= _SECONDS_KEPT:
        _KNOWN_SECONDS.clear()
    head = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    _KNOWN_SECONDS[stamp[:17]] = (head, date)
    micro = (fraction or "")[:6].ljust(6, "0")
    return f"{head}.{micro}Z", date


def _when(values: dict[str, str]) -> tuple[str, dt.date]:
    """(ISO UTC time, New York date) of a message's TransactTime(60), else its SendingTime(52);
    `values` is its _Fields.values."""
    stamp = values.get("60")
    if stamp and (found := utc_time(stamp)) is not None:
        return found  # the usual case
    for tag, name in (("60", "TransactTime(60)"), ("52", "SendingTime(52)")):
        stamp = values.get(tag)
        if stamp:
            found = utc_time(stamp)
            if found is None:
                raise Invalid(f"{name} {stamp!r} is not a UTC timestamp")
            return found
    raise Invalid("no TransactTime(60) or SendingTime(52)")


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
    if value.isascii() and value.isdigit():  # the usual case: plain digits
        number = int(value)
        if number > MAX_QUANTITY:
            raise Invalid(f"{what} {value!r} is too large")
        return number
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
    if len(value) <= integer_digits:
        whole, dot, fraction = value.partition(".")
        if whole.isdecimal() and (not dot or fraction.isdecimal()):  # _DECIMAL, quicker
            return value  # the usual case: plain and short
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


def _parties(pairs: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """(PartyID, PartyRole) of every Parties entry in `pairs`."""
    found: list[list[str]] = []
    for tag, value in pairs:
        if tag == 448:
            found.append([value, ""])
        elif tag == 452 and found:
            found[-1][1] = value
    return [(pid, role) for pid, role in found]


def _party(parties: list[tuple[str, str]], roles: tuple[str, ...]) -> str | None:
    for role in roles:
        for pid, prole in parties:
            if prole == role and pid:
                return pid
    return None


def _account_type(capacity: str | None, restrictions: str | None, rule80a: str | None) -> str:
    """From OrderCapacity(528), OrderRestrictions(529) and Rule80A(47)."""
    if "5" in (restrictions or "").split() or rule80a == "S":
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


def _vwap(fills: list[FillRef]) -> Decimal:
    qty = sum(q for _, q, _ in fills)
    notional = sum(Decimal(price) * q for _, q, price in fills)
    return notional / qty if qty else Decimal(0)


# --------------------------------------------------------------------------- message fields

_TAG_KEYS: tuple[str, ...] = tuple(map(str, range(1 + max(TAGS.values()))))
# PartyID(448) and PartyRole(452) fields as pairs() reads them: int("0448") is 448, and a
# field without "=" has an empty value.
_PARTY_FIELDS = re.compile(r"\x010*(448|452)(?:=([^\x01]*)|(?=\x01|$))")


_HEADER_TAGS = ("49=", "56=", "34=")  # SenderCompID, TargetCompID, MsgSeqNum


def _decode(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


class _Fields:
    """The fields of one message as text, split once: the importer reads a dozen fields of
    most messages, and FixMessage.text() maps bytes and decodes on every call.

    `values` maps each tag (as text) to what FixMessage.text() reads: the last occurrence,
    UTF-8 else Latin-1, empty values left out, so that values.get("11") is m.text(11) (the
    handlers read it so, without a call per field). pairs() is FixMessage.pairs() with
    Latin-1 text values. `ascii_text`: the body as text when it is ASCII (every decoding
    agrees), else None. `single`: the message is ASCII and no tag occurs twice, so values
    are also first occurrences."""

    __slots__ = ("message", "msg_type", "source", "line", "body", "ascii_text", "values", "single")

    def __init__(self, m: FixMessage) -> None:
        self.message = m
        self.msg_type = m.msg_type
        self.source = m.source
        self.line = m.line
        body = self.body = m.body
        values: dict[str, str] | None = None
        self.single = False
        if body.isascii():  # FixMessage.mapping() on text
            text = self.ascii_text = body.decode("ascii")
            count = text.count("\x01") + 1
            parts = text.replace("\x01", "=").split("=")
            if len(parts) == 2 * count:  # as many "=" as fields: paired by one split
                pairs = iter(parts)
                values = dict(zip(pairs, pairs, strict=True))
                # every tag digits: "".join() of them is, and none is empty
                if "" in values or not "".join(values).isdigit():
                    values = None
                else:
                    self.single = len(values) == count
            if values is None:
                values = {}
                for f in text.split("\x01"):
                    key, _, value = f.partition("=")
                    values[key] = value
            if "=\x01" in text or text.endswith("="):  # empty values: absent
                values = {k: v for k, v in values.items() if v}
        else:
            self.ascii_text = None
            values = {k.decode("latin-1"): _decode(v) for k, v in m.mapping().items() if v}
        self.values = values

    def text(self, tag: int) -> str | None:
        """The value of `tag` (its last occurrence), or None when absent or empty; `tag` is
        one of fixlog.TAGS."""
        return self.values.get(_TAG_KEYS[tag])

    def header(self) -> tuple[str, str, str]:
        """(SenderCompID(49), TargetCompID(56), MsgSeqNum(34)): the first occurrence of each,
        as Latin-1 text, "" when absent or empty."""
        if self.single:
            get = self.values.get
            return get("49") or "", get("56") or "", get("34") or ""
        text = self.ascii_text
        if text is not None:
            # Engines write them first after MsgType: then those are the first occurrences.
            head = text.split("\x01", 4)
            if len(head) == 5 and (head[1][:3], head[2][:3], head[3][:3]) == _HEADER_TAGS:
                return head[1][3:], head[2][3:], head[3][3:]
        return _header(self.body)

    def parties(self) -> list[tuple[str, str]]:
        """_parties(self.pairs()), reading only the PartyID and PartyRole fields."""
        text = self.ascii_text
        found: list[tuple[str, str]] = []
        if text is None:
            text = self.body.decode("latin-1")
        for tag, value in _PARTY_FIELDS.findall(text):
            if tag == "448":
                found.append((value, ""))
            elif found:
                found[-1] = (found[-1][0], value)
        return found

    def pairs(self) -> list[tuple[int, str]]:
        """(tag, value) in message order, repeating groups included; -1 for a tag that is no
        number."""
        out = []
        for f in self.body.decode("latin-1").split("\x01"):
            tag, _, value = f.partition("=")
            out.append((int(tag) if tag.isascii() and tag.isdigit() else -1, value))
        return out

    def display(self) -> str:
        return self.message.display()


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
# A date's orders (id range), and its fills (id range) as executions.csv rows (the date's
# ISO text the first parameter).
_ORDERS_IN_ORDER = "SELECT value FROM orders WHERE id BETWEEN ? AND ? ORDER BY id"
_EXECUTIONS_IN_ORDER = (
    "SELECT key, ?, cl_ord_id, account, symbol, side, CAST(qty AS TEXT), price, venue, time "
    "FROM fills WHERE id BETWEEN ? AND ? ORDER BY id"
)


class _Spill:
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

    def bloom(self, kind: _Table) -> _Bloom:
        """The Bloom filter of the keys of every map of this kind (orders, fills, ...),
        whatever their date: a key spilled for one date is only a false positive for
        another, and memory stays the same however many dates an import builds."""
        found = self._blooms.get(kind)
        if found is None:
            found = self._blooms[kind] = _Bloom()
        return found

    def __enter__(self) -> _Spill:
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


class _SpillMap(Generic[V]):
    """A dict of str keys whose oldest entries move to a table of the spill file.

    get() brings a spilled entry back into memory (callers mutate what they get); peek() only
    reads it. An entry's table row may be stale while it is in memory: spill() and flush()
    overwrite it. Entries are only spilled by settle() and flush(), between messages, so an
    object a handler holds stays the one in the map while the handler runs.
    """

    def __init__(
        self,
        spill: _Spill,
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
    owner: str


class DayBuilder:
    """One trading date's orders, executions, accounts and firms, built from its messages in
    log order, with its per-key state in `spill` beyond `cap` entries per map (see "How a
    day is built without holding it")."""

    def __init__(self, day: dt.date, spill: _Spill, cap: int = HOT_ENTRIES) -> None:
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
        self.accounts: dict[str, tuple[str, str, str]] = {}  # id -> (firm, type, owner)
        self.firms: dict[str, None] = {}
        self.rejects: list[Reject] = []
        self.skipped: Counter[str] = Counter()
        self.synthesized = 0
        self._ordinals = itertools.count(self._ids[0])
        self._fill_seq = itertools.count(self._ids[0])
        self._now = ""  # the time of the message being applied, ISO UTC
        self._applied = 0

    # ---- entry point

    def add(self, m: _Fields, when: str) -> None:
        """Apply one message; `when` is its time, ISO UTC (see _when())."""
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
            else:
                self.skipped["cancel request (state comes from reports)"] += 1
        except Invalid as exc:
            self.rejects.append(Reject(m.source, m.line, msg_type, str(exc), m.display(), self.day))
        self._applied += 1
        if self._applied % SETTLE_EVERY == 0:
            for spill_map in self._maps:
                spill_map.settle()

    def limit(self, cap: int) -> None:
        """Keep at most `cap` entries per map in memory from now on."""
        for spill_map in self._maps:
            spill_map.cap = cap
            spill_map.settle()

    # ---- identities

    def _identity(self, m: _Fields, client_sends: bool) -> _Identity:
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
        owner = _party(parties, (OWNER_ROLE,)) or account
        return _Identity(account, firm, kind, _fits(owner, "investor", "account_id"))

    def _register(self, ident: _Identity) -> None:
        self.firms.setdefault(ident.firm_id, None)
        known = self.accounts.get(ident.account_id)
        if known is None:
            self.accounts[ident.account_id] = (ident.firm_id, ident.account_type, ident.owner)
        elif known[1] == "unknown" and ident.account_type != "unknown":
            self.accounts[ident.account_id] = (known[0], ident.account_type, known[2])

    def _put(self, key: str, order: _Order, known: _Order | None) -> None:
        """Store an order; one replacing `known` keeps its place in orders.csv."""
        order.ordinal = known.ordinal if known is not None else next(self._ordinals)
        self.orders.set(key, order)

    # ---- order attributes

    def _order_from(
        self, m: _Fields, key: str, *, client_sends: bool, strict: bool, base: _Order | None
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
        limit = price if order_type in ("2", "4") else None
        tif = get("59") or (base.tif if base else "0")
        if type_raw in AT_CLOSE_ORDER_TYPES:  # FIX 4.2's on-close types: at the close
            tif = "7"
        if tif not in TIME_IN_FORCE:
            raise Invalid(f"TimeInForce(59)={tif} has no equivalent in the warehouse")
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
        when = self._now
        cl_ord_id = _fits(key, "ClOrdID(11)", "cl_ord_id")
        if base is not None and get("1") is None and b"\x01453=" not in m.body:
            account_id, firm_id = base.account_id, base.firm_id
        else:
            ident = self._identity(m, client_sends)
            self._register(ident)  # last: nothing is recorded for a message found invalid
            account_id, firm_id = ident.account_id, ident.firm_id
        destination = get("100") or (base.destination if base else None)
        # Positional: keywords make a dataclass __init__ several times slower.
        return _Order(
            cl_ord_id, account_id, firm_id, symbol, side, order_type, tif, quantity, limit,
            when, m.msg_type, m.source, m.line, destination,
        )  # fmt: skip

    # ---- handlers

    def _new_order(self, m: _Fields) -> None:
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

    def _replace_request(self, m: _Fields) -> None:
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

    def _resolve(self, m: _Fields) -> tuple[str, str | None]:
        """(the report's order key, the order it replaces if it confirms a replace)."""
        get = m.values.get
        kind = get("150") or get("39")  # ExecType, else OrdStatus
        cl, orig = get("11"), get("41")
        # 11 names the cancel / replace request here; the order is 41 until a replace is done.
        cancel_like = kind in ("4", "6", "E")
        replace_like = kind == "5"
        if cancel_like and orig:
            key = orig if orig in self.orders or cl not in self.orders else cl
            return key, None
        if replace_like and orig and cl:
            return cl, orig
        if cl:
            return cl, None
        order_id = get("37")
        if order_id:
            return self.order_ids.get(order_id) or order_id, None
        raise Invalid("ExecutionReport without ClOrdID(11) or OrderID(37)")

    def _synthesise(self, m: _Fields, key: str, base: _Order | None) -> _Order:
        order = self._order_from(m, key, client_sends=False, strict=False, base=base)
        order.origin = "8"
        self._put(key, order, None)
        self.synthesized += 1
        return order

    def _report(self, m: _Fields) -> None:
        get = m.values.get
        # Everything that can make the report invalid is read before anything is recorded.
        key, replaced = self._resolve(m)
        when = self._now
        exec_type, trans_type = get("150"), get("20")
        status = get("39") or STATUS_OF_EXEC_TYPE.get(exec_type or "")
        last_qty = _whole(get("32"), "LastQty(32)")
        last_px = _price(get("31"), "LastPx(31)")
        cum = _whole(get("14"), "CumQty(14)")
        avg = _price(get("6"), "AvgPx(6)", 12)
        exec_id = get("17")
        if exec_id is not None:
            exec_id = _fits(exec_id, "ExecID(17)", "exec_id")
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
        order_id = get("37")
        if order_id:
            self.order_ids.set(order_id, key)
        if replaced is not None:
            if base is not None and base.closed_at is None:
                base.closed_at = when
                base.status = "5"
            order.predecessor = order.predecessor or replaced
            if status == "5":
                status = None  # 4.2: "replaced" describes the old order, not this one
        venue = _fits(get("30") or order.destination or get("49") or "UNKNOWN", "venue", "venue")
        if bust or correct:
            self._bust(m)
        if fill_qty is not None:
            assert exec_id is not None and last_px is not None
            self._new_fill(exec_id, order, fill_qty, last_px, venue, when)
        elif cum is not None and cum > 0 and not bust and not status_only:
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
        if self.fills.get(exec_id) is not None:
            self.skipped["duplicate ExecID (resend)"] += 1
            return False
        seq, ident = next(self._fill_seq), (order.account_id, order.symbol, order.side)
        self.fills.set(exec_id, (seq, order.cl_ord_id, *ident, qty, price, venue, when))
        order.fills.append((exec_id, qty, price))
        return True

    def _fill_from_cum(
        self, order: _Order, cum: int, avg: str | None, exec_id: str | None, venue: str, when: str
    ) -> None:
        """The CumQty dialect: a rise in CumQty with no LastQty is a fill of the difference."""
        fills = order.fills
        done = sum(q for _, q, _ in fills)
        if cum <= done:
            return
        if avg is None or exec_id is None:
            self.skipped["CumQty rise without LastQty, AvgPx or ExecID"] += 1
            return
        notional = sum(Decimal(price) * q for _, q, price in fills)
        price = ((Decimal(avg) * cum - notional) / (cum - done)).quantize(
            FOUR_PLACES, ROUND_HALF_EVEN
        )
        if price <= 0:
            self.skipped["CumQty rise at no positive price"] += 1
            return
        self._new_fill(exec_id, order, cum - done, _plain(price), venue, when)

    def _unfill(self, exec_id: str) -> Fill | None:
        """Remove a fill, from its order too."""
        fill = self.fills.pop(exec_id)
        order = self.orders.get(fill[1]) if fill is not None else None
        if order is not None:
            order.fills[:] = [f for f in order.fills if f[0] != exec_id]
        return fill

    def _bust(self, m: _Fields) -> None:
        ref = m.text(19)
        if not ref or self._unfill(ref) is None:
            self.skipped["bust or correction of an execution not in the log"] += 1

    def _trade_report(self, m: _Fields) -> None:
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
            values = {t: v for t, v in side_pairs if v}
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
            kind = _account_type(values.get(528), values.get(529), values.get(47))
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
                self._put(key, order, None)
                self.synthesized += 1
            if self._new_fill(exec_id, order, qty, price, venue, when):
                exec_ids.append(exec_id)
        self.trades.set(trade_id, exec_ids)

    def _drop_trade(self, ref: str | None) -> None:
        removed = self.trades.pop(ref) if ref else None
        if removed is None:
            self.skipped["trade report cancel/replace of a trade not in the log"] += 1
            return
        for exec_id in removed:
            self._unfill(exec_id)

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
            "orders": self._order_rows(unsized),
            "executions": self._execution_rows(unsized),
        }
        files = {}
        for table, rows in tables.items():
            path = folder / f"{table}.csv"
            _write_csv(path, COLUMNS[table], rows)
            files[path.name] = describe_file(path, COLUMNS[table])
        return files

    def _order_rows(self, unsized: set[str]) -> Iterator[tuple[str, ...]]:
        """orders.csv rows in the order orders were first seen; the keys of orders that
        cannot be sized (rejects, not written) go to `unsized`."""
        day = self.day.isoformat()
        for (value,) in self.spill.db.execute(_ORDERS_IN_ORDER, self._ids):
            order = _Order(*marshal.loads(value))
            key = order.cl_ord_id
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
                reason = f"order {key}: no OrderQty(38), CumQty+LeavesQty or fills to size it"
                self.rejects.append(
                    Reject(order.source, order.line, order.origin, reason, "", self.day)
                )
                unsized.add(key)
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
            yield (
                key, day, order.account_id, order.firm_id, order.symbol, order.side,
                order.order_type, order.tif, str(quantity), order.limit_price or "",
                order.transact_time, status, str(cum), avg or "", cancel_time or "",
            )  # fmt: skip

    def _execution_rows(self, unsized: set[str]) -> Iterable[tuple[str, ...]]:
        """executions.csv rows in the order the fills were made, with their orders' final
        account, symbol and side; none of orders in `unsized` (not written)."""
        rows = self.spill.db.execute(_EXECUTIONS_IN_ORDER, (self.day.isoformat(), *self._ids))
        if not unsized:
            return rows
        return (row for row in rows if row[2] not in unsized)

    def _chain_filled(self, order: _Order) -> int:
        total, seen, prev = 0, {order.cl_ord_id}, order.predecessor
        while prev and prev not in seen:
            before = self.orders.peek(prev)
            if before is None:
                break
            seen.add(prev)
            total += sum(q for _, q, _ in before.fills)
            prev = before.predecessor
        return total

    def reference_rows(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """(firms rows, accounts rows): every firm and account an order or account names."""
        firms = [(f, f, "unknown") for f in self.firms]
        accounts = [(a, firm, kind, owner) for a, (firm, kind, owner) in self.accounts.items()]
        return firms, accounts


def _sides(pairs: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """The NoSides(552) entries of a TradeCaptureReport, each from its Side(54) on."""
    sides: list[list[tuple[int, str]]] = []
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


def _sha256(path: Path, *, probe: bool = False) -> str:
    """The file's sha256 (only its first block read when `probe`)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
                if probe:
                    break
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _read(path: Path, name: str, max_message: int) -> Iterator[FixMessage | BadMessage]:
    """read_log, with an unreadable file (a corrupt or cut gzip, say) as bad input."""
    try:
        yield from read_log(path, name, max_message)
    except (OSError, EOFError) as exc:
        raise BadInputError(f"{path}: cannot be read ({exc})") from None


def _first(body: bytes, field: bytes) -> str | None:
    """FixMessage.first(tag) as Latin-1 text, given b"\x01<tag>=": the first value of a
    header field."""
    at = body.find(field)
    if at < 0:
        return None
    start = at + len(field)
    stop = body.find(b"\x01", start)
    return (body[start:] if stop < 0 else body[start:stop]).decode("latin-1")


def _header(body: bytes) -> tuple[str, str, str]:
    """_Fields.header() of any message body."""
    return (
        _first(body, b"\x0149=") or "",
        _first(body, b"\x0156=") or "",
        _first(body, b"\x0134=") or "",
    )


class _Refusals:
    """Which application messages the counterparty refused (session Reject 3 or
    BusinessMessageReject j, by RefSeqNum against the other direction's MsgSeqNum).

    Only refusals of imported messages (routed to a day being built) are collected."""

    KEEP = 100_000  # messages remembered per direction; a refusal comes within seconds
    TRIM_AT = 2 * KEEP  # ... forgetting the older ones when twice that many

    def __init__(self) -> None:
        # (SenderCompID, TargetCompID) -> MsgSeqNum -> message number, negative for a message
        # not imported; header values as Latin-1 text
        self.by_direction: dict[tuple[str, str], dict[str, int]] = {}
        self.refused: set[int] = set()

    def see(
        self, number: int, m: FixMessage, imported: bool, fields: _Fields | None = None
    ) -> None:
        """Note message `number` (`fields` its _Fields when read already)."""
        sender, target, seq = fields.header() if fields is not None else _header(m.body)
        direction = (sender, target)
        msg_type = m.msg_type
        if msg_type in _SESSION_RESETS_AND_REFUSALS:
            if msg_type == "A" and (seq == "1" or _first(m.body, b"\x01141=") == "Y"):
                self.by_direction.pop(direction, None)
            elif msg_type in REFUSALS:
                ref = _first(m.body, b"\x0145=")
                other = self.by_direction.get((target, sender), {})
                if ref is not None and other.get(ref, 0) > 0:
                    self.refused.add(other[ref])
                return
        seen = self.by_direction.get(direction)
        if seen is None:
            seen = self.by_direction[direction] = {}
        elif seq in seen:
            del seen[seq]  # a repeated MsgSeqNum: now the latest
        seen[seq] = number if imported else -number
        if len(seen) > self.TRIM_AT:
            recent = itertools.islice(seen.items(), len(seen) - self.KEEP, None)
            self.by_direction[direction] = dict(recent)


@dataclass
class _Reading:
    """One pass over the logs: the days built and what was counted on the way."""

    spill: _Spill
    builders: dict[dt.date, DayBuilder] = field(default_factory=dict)
    messages: Counter[str] = field(default_factory=Counter)
    per_day_messages: dict[dt.date, Counter[str]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    refusals: _Refusals = field(default_factory=_Refusals)

    def builder(self, day: dt.date) -> DayBuilder:
        builder = self.builders.get(day)
        if builder is None:
            cap = max(HOT_ENTRIES // (len(self.builders) + 1), MIN_HOT_ENTRIES)
            for other in self.builders.values():
                other.limit(cap)
            builder = self.builders[day] = DayBuilder(day, self.spill, cap)
        return builder


def _count(per_day: dict[dt.date, Counter[str]], day: dt.date, msg_type: str) -> None:
    counts = per_day.get(day)
    if counts is None:
        counts = per_day[day] = Counter()
    counts[msg_type] += 1


def _read_logs(
    sources: list[tuple[str, Path]],
    day: dt.date | None,
    refused: set[int],
    spill: _Spill,
    max_message: int,
) -> _Reading:
    """Read every log once, applying each message to its date's builder as it comes;
    messages numbered in `refused` are skipped."""
    r = _Reading(spill)
    messages, per_day, skipped, rejects = r.messages, r.per_day_messages, r.skipped, r.rejects
    see = r.refusals.see
    number = 0
    last_day, counts, builder = None, Counter[str](), None  # the date of the last message
    for name, path in sources:
        for item in _read(path, name, max_message):
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
            if mt not in APP_TYPES:
                see(number, item, False)
                sent = item.first(52)
                when = exchange_date(sent.decode("latin-1")) if sent else None
                skipped[
                    "session message" if mt in SESSION_TYPES else f"not imported (MsgType {mt})"
                ] += 1
                if when is not None:
                    _count(per_day, when, mt)
                continue
            message = _Fields(item)
            try:
                iso, when = _when(message.values)
            except Invalid as exc:
                see(number, item, False)
                rejects.append(Reject(item.source, item.line, mt, str(exc), item.display(), None))
                continue
            if when != last_day:
                last_day, builder = when, None
                counts = per_day.get(when) or per_day.setdefault(when, Counter())
            counts[mt] += 1
            imported = day is None or when == day
            see(number, item, imported, message)
            if not imported:
                skipped["on another date"] += 1
            elif number in refused:
                skipped["refused by the counterparty (Reject 3 / j)"] += 1
            else:
                if builder is None:
                    builder = r.builder(when)
                builder.add(message, iso)
    for builder in r.builders.values():
        skipped.update(builder.skipped)
    return r


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
    for path in paths:
        _sha256(path, probe=True)  # an unreadable file fails here, as the digests would
    sweep_stale(settings.data_path)
    work = staging_dir(settings.data_path, "import-fix")
    # The import makes no reference cycles: the collector would only walk the day's state
    # over and over while it is built.
    collecting = gc.isenabled()
    gc.disable()
    # The files' digests (for the manifest) are computed while they are read: hashlib
    # leaves the interpreter free, so that costs the import no time on a second core.
    with ThreadPoolExecutor(1) as hashing:
        digests = [hashing.submit(_sha256, path) for path in paths]
        try:
            sources = list(zip(names, paths, strict=True))

            def files_meta() -> list[dict[str, Any]]:
                return [
                    {"name": name, "sha256": digest.result(), "bytes": path.stat().st_size}
                    for name, path, digest in zip(names, paths, digests, strict=True)
                ]

            return _import(
                settings, sources, files_meta, day, work, skip_invalid=skip_invalid, force=force
            )
        finally:
            if collecting:
                gc.enable()
            shutil.rmtree(work, ignore_errors=True)


def _import(
    settings: Settings,
    sources: list[tuple[str, Path]],
    files_meta: Callable[[], list[dict[str, Any]]],
    day: dt.date | None,
    work: Path,
    *,
    skip_invalid: bool,
    force: bool,
) -> ImportResult:
    """import_fix, with `work` a scratch folder in the data folder (removed by the caller);
    `files_meta()` describes the logs once they are read."""
    refused: set[int] = set()
    for attempt in itertools.count(1):
        with _Spill(work / f"spill-{attempt}.sqlite") as spill:
            reading = _read_logs(sources, day, refused, spill, settings.fix_max_message_bytes)
            if reading.refusals.refused <= refused:
                # Each day's tables, staged in `work` (the data folder's file system).
                staged: dict[dt.date, tuple[Path, dict[str, FileEntry]]] = {}
                for when in sorted(reading.builders):
                    folder = work / f"day-{when}"
                    folder.mkdir()
                    staged[when] = (folder, reading.builders[when].write(folder))
                break
        # Imported messages were refused after they were applied: read again, skipping them
        # as they pass.
        refused = reading.refusals.refused
        (work / f"spill-{attempt}.sqlite").unlink()
    meta = files_meta()
    rejects = reading.rejects
    for when in sorted(reading.builders):
        rejects.extend(reading.builders[when].rejects)
    if day is not None:
        rejects = [r for r in rejects if r.day in (None, day)]
    if rejects and not skip_invalid:
        raise BadInputError(_describe(rejects))

    # Days to write: with orders, executions, or dated rejects.
    dated = {r.day for r in rejects if r.day is not None}
    days = sorted(
        {d for d, (_, files) in staged.items() if files["orders.csv"].rows or files["executions.csv"].rows}
        | (dated if day is None else dated & {day})
    )  # fmt: skip
    if not days:
        raise BadInputError(_nothing_imported([name for name, _ in sources], day, reading))
    plans = []
    for when in days:
        final = settings.data_path / day_dir_name(when)
        day_rejects = [r for r in rejects if r.day in (None, when)]
        if when not in staged:
            folder = work / f"day-{when}"
            folder.mkdir()
            files = {}
            for table in ("firms", "accounts", "orders", "executions"):
                path = folder / f"{table}.csv"
                _write_csv(path, COLUMNS[table], [])
                files[path.name] = describe_file(path, COLUMNS[table])
            staged[when] = (folder, files)
        folder, files = staged[when]
        builder = reading.builders.get(when)
        source = {
            "kind": "fix",
            "importer_version": IMPORTER_VERSION,
            "files": meta,
            "skip_invalid": skip_invalid,
            "messages": dict(sorted(reading.per_day_messages.get(when, Counter()).items())),
            "orders": files["orders.csv"].rows,
            "executions": files["executions.csv"].rows,
            "synthesized_orders": builder.synthesized if builder else 0,
            "rejected": len(day_rejects),
        }
        status = _check_target(final, source, force)
        plans.append((when, final, source, status, folder, files, day_rejects))
    result = ImportResult()
    for when, final, source, status, folder, files, day_rejects in plans:
        if status == "unchanged":
            manifest = read_local_manifest(final)
            assert manifest is not None
        else:
            manifest = _write_day(
                when, final, folder, files, day_rejects if skip_invalid else None, source
            )
        result.days.append(
            DayImport(
                when, final, status, source["orders"], source["executions"], len(day_rejects),
                int(source["synthesized_orders"]), dict(source["messages"]), manifest.sha256,
            )
        )  # fmt: skip
        result.orders += source["orders"]
        result.executions += source["executions"]
    result.messages = dict(sorted(reading.messages.items()))
    result.rejects = rejects
    result.rejected = len(rejects)
    skipped = reading.skipped
    result.skipped_by_reason = dict(sorted(skipped.items()))
    result.skipped = sum(skipped.values())
    return result


def _nothing_imported(names: list[str], day: dt.date | None, reading: _Reading) -> str:
    """Why an import found no order or execution to write: importing nothing is never a
    success (an empty or foreign file, or a --date the logs do not hold, is a mistake)."""
    logs = ", ".join(names)
    total = sum(reading.messages.values())
    if total == 0:
        return f"{logs}: no FIX messages found; nothing imported"
    if day is not None:
        dates = sorted(reading.per_day_messages)
        held = f"{dates[0]}..{dates[-1]}" if dates else "no date"
        return (
            f"{logs}: no orders or executions dated {day} (the logs' messages are dated "
            f"{held}); nothing imported"
        )
    kinds = ", ".join(f"{mt}×{n}" for mt, n in sorted(reading.messages.items()))
    return (
        f"{logs}: {total:,} FIX messages (MsgType {kinds}), none an order or an execution; "
        "nothing imported"
    )


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


def _check_target(final: Path, source: dict[str, Any], force: bool) -> ImportStatus:
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
    day: dt.date,
    final: Path,
    staging: Path,
    files: dict[str, FileEntry],
    rejects: list[Reject] | None,
    source: dict[str, Any],
) -> Manifest:
    """Complete the day staged in `staging` (rejects, manifest last) and rename it into
    place. The caller removes what is left of the staging on failure."""
    files = dict(files)
    if rejects is not None:
        path = staging / REJECTS_FILE
        _write_csv(path, REJECT_COLUMNS, (_one_line(r.row()) for r in rejects))
        files[path.name] = describe_file(path, REJECT_COLUMNS)
    manifest = Manifest(day, files, source)
    (staging / MANIFEST_NAME).write_bytes(manifest.to_bytes())
    publish_day_folder(staging, final)
    return manifest


def _one_line(row: tuple[str, ...]) -> tuple[str, ...]:
    """The row with line breaks in its values made spaces (a reject quotes the message)."""
    line = "".join(row)
    if "\n" in line or "\r" in line:
        return tuple(v.replace("\r", " ").replace("\n", " ") for v in row)
    return row


CSV_BATCH = 10_000  # rows


def _write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> None:
    """One record per line: describe_file counts lines, so no value may hold a line break
    (field values are checked printable; rejects go through _one_line()).

    The rows are written as csv.writer writes them, a batch at a time: joined with commas
    when no value needs quoting (none holds a comma, a double quote or a line break), which
    is several times quicker, else by csv.writer itself."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        width = len(columns)
        rows = iter(rows)
        while batch := list(itertools.islice(rows, CSV_BATCH)):
            try:
                text = "\n".join(map(",".join, batch))
            except TypeError:  # a value that is not text
                text = ""
            plain = (
                text
                and set(map(len, batch)) == {width}
                and text.count(",") == (width - 1) * len(batch)
                and text.count("\n") == len(batch) - 1
                and '"' not in text
                and "\r" not in text
            )
            if plain:
                out.write(text)
                out.write("\n")
            else:
                writer.writerows(batch)
