"""Field decoding for the FIX importer, and the tag and enum values it maps (docs/fix-import.md)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from surveil.calendar import EXCHANGE_TZ
from surveil.fix.parser import TAGS, FixMessage

APP_TYPES = frozenset({"D", "F", "G", "8", "9", "AE"})
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
# Market-on-close (5) and limit-on-close (B): FIX 4.3 on writes them as OrdType 1 or 2 with
# TimeInForce 7 (at the close), the form the warehouse keeps.
AT_CLOSE_ORDER_TYPES = frozenset({"5", "B"})
FIRM_ROLES = ("13", "1", "7", "4", "17")
ACCOUNT_ROLES = ("24", "38")
OWNER_ROLE = "5"
# AccountType(581): 12 "customer and non-customer orders", 13 "orders from multiple customers"
# (FIX 5.0 SP2 EP): an omnibus account, whose beneficial owner per order is unknown.
MANY_CUSTOMERS = ("12", "13")
CLIENT_CAPACITY = frozenset("AIW")
PROPRIETARY_CAPACITY = frozenset("GPR")
CLIENT_RULE80A = frozenset("AIKNUWY")
PROPRIETARY_RULE80A = frozenset("CEJOP")
TRADE_EXEC_TYPES = frozenset({"1", "2", "F"})
CLOSING_STATUSES = frozenset({"4", "5", "8"})  # OrdStatus cancelled, replaced, rejected
ENDED = frozenset({"4", "5"})  # cancelled or replaced: no later report reopens the order
# Reports that end or change an order's life (done for day, cancelled, replaced, pending
# cancel, rejected, expired, pending replace): their CumQty(14) restates what was filled
# before, over the replace chain and earlier days, and is never a fill of its own.
RESTATING_EXEC_TYPES = frozenset({"3", "4", "5", "6", "8", "C", "E"})
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
    """A message that cannot become rows under the rules of docs/fix-import.md; the text is the reason."""


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


# --------------------------------------------------------------------------- field helpers


_DATE_OF_HOUR: dict[str, dt.date | None] = {}
# "YYYYMMDD-HH:MM:SS" known good -> ("YYYY-MM-DDTHH:MM:SS", its New York date)
_KNOWN_SECONDS: dict[str, tuple[str, dt.date]] = {}
_SECONDS_KEPT = 200_000


def exchange_date(stamp: str) -> dt.date | None:
    """New York date of a FIX UTCTimestamp. Offsets are whole hours, so the date depends only
    on "YYYYMMDD-HH", which is cached."""
    key = stamp[:11]
    try:
        return _DATE_OF_HOUR[key]
    except KeyError:
        pass
    found: dt.date | None
    try:
        utc = dt.datetime(int(key[:4]), int(key[4:6]), int(key[6:8]), int(key[9:11]), tzinfo=dt.UTC)
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
    new_date = exchange_date(stamp)
    if new_date is None:
        return None
    if len(_KNOWN_SECONDS) >= _SECONDS_KEPT:
        _KNOWN_SECONDS.clear()
    head = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    _KNOWN_SECONDS[stamp[:17]] = (head, new_date)
    micro = (fraction or "")[:6].ljust(6, "0")
    return f"{head}.{micro}Z", new_date


def message_time(values: dict[str, str]) -> tuple[str, dt.date]:
    """(ISO UTC time, New York date) of a message's TransactTime(60), else its SendingTime(52);
    `values` is its MessageFields.values."""
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
        if any("\udc80" <= c <= "\udcff" for c in value):
            raw = value.encode("utf-8", "surrogateescape")
            raise Invalid(f"{what} {raw[:80]!r} is not UTF-8 text")
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
        exact = Decimal(value)
    except InvalidOperation:
        raise Invalid(f"{what} {value!r} is not a number") from None
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise Invalid(f"{what} {value!r} is not a whole number of shares")
    if exact > MAX_QUANTITY or exact < -MAX_QUANTITY:
        raise Invalid(f"{what} {value!r} is too large")
    return int(exact)


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


# --------------------------------------------------------------------------- message fields

_TAG_KEYS: tuple[str, ...] = tuple(map(str, range(1 + max(TAGS.values()))))
# PartyID(448) and PartyRole(452) fields as pairs() reads them: int("0448") is 448, and a
# field without "=" has an empty value.
_PARTY_FIELDS = re.compile(r"\x010*(448|452)(?:=([^\x01]*)|(?=\x01|$))")


_HEADER_TAGS = ("49=", "56=", "34=")  # SenderCompID, TargetCompID, MsgSeqNum


def _decode(value: bytes) -> str:
    """UTF-8, with any byte that is not UTF-8 kept as a lone surrogate (surrogateescape):
    such a value is never stored (_fits() refuses it) rather than stored as mojibake."""
    return value.decode("utf-8", "surrogateescape")


class MessageFields:
    """The fields of one message as text, split once: the importer reads a dozen fields of
    most messages, and FixMessage.text() maps bytes and decodes on every call.

    `values` maps each tag (as text) to its last occurrence, empty values left out: what
    FixMessage.text() reads for UTF-8 values (the handlers read values.get("11"), without a
    call per field). A value that is not UTF-8 keeps its stray bytes as lone surrogates
    (_decode()), which _fits() refuses: it is never stored as mojibake. pairs() is
    FixMessage.pairs() with values decoded so. `ascii_text`: the body as text when it is ASCII (every decoding
    agrees), else None. `single`: the message is ASCII and no tag occurs twice, so values
    are also first occurrences."""

    __slots__ = ("message", "msg_type", "source", "line", "body", "ascii_text", "values", "single")
    ascii_text: str | None

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
        one of parser.TAGS."""
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
            text = _decode(self.body)
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
        for f in _decode(self.body).split("\x01"):
            tag, _, value = f.partition("=")
            out.append((int(tag) if tag.isascii() and tag.isdigit() else -1, value))
        return out

    def display(self) -> str:
        return self.message.display()


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
    """MessageFields.header() of any message body."""
    return (
        _first(body, b"\x0149=") or "",
        _first(body, b"\x0156=") or "",
        _first(body, b"\x0134=") or "",
    )
