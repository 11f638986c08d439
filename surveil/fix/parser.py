"""Reading FIX engine logs: find the messages in whatever text surrounds them, verify each.

Engine logs (QuickFIX, QuickFIX/J, QuickFIX/n, drop copies) are not clean message streams.
A line may carry a prefix (`20060410-07:01:59 -> `, `20231012-10:00:00.000 : `), junk text
after the message, NUL padding, `#` comments; a message may be delimited by SOH, `|` or a
literal `^A`; several messages may share a line and one message may be wrapped over several
lines. The reader therefore does not parse lines: it looks for each `8=FIX` and reads one
message from there.

Every message is verified: BodyLength(9) must be the byte count from after the BodyLength
field up to the CheckSum field, and CheckSum(10) the byte sum of everything before the
CheckSum field, modulo 256 (FIX 4.2/4.4 "Checksum calculation"). A message delimited by `|`
or `^A` is verified as if its delimiters were SOH, which is what was on the wire.

Two paths read a message:

* the fast path, for the common case of an SOH message whose BodyLength is right, frames
  every `8=FIX` of a chunk at once with numpy: BeginString, the BodyLength digits, the
  `<SOH>10=ddd<SOH>` trailer exactly where BodyLength puts it, MsgType first; the checksums
  of the whole chunk come from one `np.add.reduceat`. Python is left with slicing each
  body and making its object, as it is iterated;
* the careful path takes the text up to the next `8=FIX`, joins lines until a CheckSum field
  appears (a message wrapped over lines is rejoined; the line breaks are log artefacts,
  not message bytes), normalises `|` / `^A` to SOH and reports exactly what is wrong.

Text that starts with `8=FIX` but has no BodyLength field after its BeginString is junk,
not a message, and is ignored like any other text. A `8=FIX` broken by a line break inside
those five characters is not recognised.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from surveil.fix.framing import _BEGIN_BY_CODE, _find_begins, _frame, _Framing

SOH = b"\x01"
BEGIN = b"8=FIX"
CHUNK = 1 << 22  # bytes read at a time
MAX_MESSAGE = 1 << 16  # the most of a bad message kept, for its reject
DEFAULT_MAX_MESSAGE = 1 << 20  # a message longer than this is rejected (a setting in import-fix)
MAX_MESSAGE_SETTING = "SURVEIL_FIX_MAX_MESSAGE_BYTES"
GZIP_MAGIC = b"\x1f\x8b"

# BeginStrings we read: FIX 4.0-4.4, and FIXT.1.1 (FIX 5.0 application messages, same tags).
BEGIN_STRINGS: dict[bytes, str] = {
    s.encode(): s for s in ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")
}

# Every tag the importer reads, by its name in the FIX 4.4 data dictionary (FIX 4.2-only
# fields under their 4.2 name). tests/test_fixlog.py checks each against the dictionaries.
TAGS: dict[str, int] = {
    "Account": 1,
    "AvgPx": 6,
    "BeginString": 8,
    "BodyLength": 9,
    "CheckSum": 10,
    "ClOrdID": 11,
    "CumQty": 14,
    "ExecID": 17,
    "ExecRefID": 19,
    "ExecTransType": 20,  # FIX 4.2 only
    "SecurityIDSource": 22,
    "LastMkt": 30,
    "LastPx": 31,
    "LastQty": 32,  # LastShares in FIX 4.2
    "MsgSeqNum": 34,
    "MsgType": 35,
    "OrderID": 37,
    "OrderQty": 38,
    "OrdStatus": 39,
    "OrdType": 40,
    "OrigClOrdID": 41,
    "PossDupFlag": 43,
    "Price": 44,
    "RefSeqNum": 45,
    "Rule80A": 47,  # FIX 4.2 only
    "SecurityID": 48,
    "SenderCompID": 49,
    "SendingTime": 52,
    "Side": 54,
    "Symbol": 55,
    "TargetCompID": 56,
    "Text": 58,
    "TimeInForce": 59,
    "TransactTime": 60,
    "ExDestination": 100,
    "OnBehalfOfCompID": 115,
    "DeliverToCompID": 128,
    "ResetSeqNumFlag": 141,
    "ExecType": 150,
    "LeavesQty": 151,
    "SecurityExchange": 207,
    "PartyIDSource": 447,
    "PartyID": 448,
    "PartyRole": 452,
    "NoPartyIDs": 453,
    "TradeReportTransType": 487,
    "OrderCapacity": 528,
    "OrderRestrictions": 529,
    "NoSides": 552,
    "TradeReportID": 571,
    "TradeReportRefID": 572,
    "AccountType": 581,
}

# MsgType(35) values by name, as in the dictionaries.
MSG_TYPES: dict[str, str] = {
    "Heartbeat": "0",
    "TestRequest": "1",
    "ResendRequest": "2",
    "Reject": "3",
    "SequenceReset": "4",
    "Logout": "5",
    "ExecutionReport": "8",
    "OrderCancelReject": "9",
    "Logon": "A",
    "NewOrderSingle": "D",
    "OrderCancelRequest": "F",
    "OrderCancelReplaceRequest": "G",
    "BusinessMessageReject": "j",
    "TradeCaptureReport": "AE",
}
SESSION_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})

_MSG_TYPE = re.compile(rb"35=([0-9A-Za-z]{1,4})")
_MSG_TYPE_IN = re.compile(rb"\x0135=([0-9A-Za-z]{1,4})\x01")
_HEADER = re.compile(rb"8=(FIXT?\.\d\.\d)(\x01|\||\^A)9=")
# The most bytes at a live log's end tried as one whole message before the next begins: a
# longer one waits for the next message, as every message did before (no re-scan of a
# long unfinished message at every look).
_LIVE_END_LOOK = 64 << 10
_HEADER_SOH = re.compile(rb"8=(FIXT?\.\d\.\d)\x019=(\d{1,9})\x01")
_TRAILER = re.compile(rb"\x0110=(\d\d\d)(?!\d)")
_TIME_HINTS = tuple(
    re.compile(rb"\x01%d=(\d{8}-\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?:\x01|$)" % tag) for tag in (60, 52)
)  # TransactTime, else SendingTime


class FixMessage:
    """One verified message. `body` holds the fields from MsgType(35) up to, not including,
    the SOH before CheckSum(10); fields are split and mapped only when first asked for."""

    __slots__ = ("source", "line", "begin_string", "msg_type", "body", "_fields", "_map")

    def __init__(self, source: str, line: int, begin_string: str, msg_type: str, body: bytes):
        self.source = source
        self.line = line
        self.begin_string = begin_string
        self.msg_type = msg_type
        self.body = body
        self._fields: list[bytes] | None = None
        self._map: dict[bytes, bytes] | None = None

    def __repr__(self) -> str:
        return f"FixMessage({self.source}:{self.line} 35={self.msg_type})"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def fields(self) -> list[bytes]:
        """The raw `tag=value` fields, in message order."""
        if self._fields is None:
            self._fields = self.body.split(SOH)
        return self._fields

    def pairs(self) -> list[tuple[int, bytes]]:
        """(tag, value) in message order, repeating groups included."""
        out = []
        for field in self.fields:
            tag, _, value = field.partition(b"=")
            out.append((int(tag) if tag.isdigit() else -1, value))
        return out

    def mapping(self) -> dict[bytes, bytes]:
        """Every field, tag (as bytes) to value; a repeated tag keeps its last value."""
        mapping = self._map
        if mapping is None:
            body = self.body
            if body.count(b"=") == body.count(SOH) + 1:  # no "=" inside values: one split
                parts = iter(body.replace(SOH, b"=").split(b"="))
                mapping = dict(zip(parts, parts, strict=True))
            if mapping is None or not all(map(bytes.isdigit, mapping)):
                mapping = {}
                for f in self.fields:
                    key, _, value = f.partition(b"=")
                    mapping[key] = value
            self._map = mapping
        return mapping

    def get(self, tag: int) -> bytes | None:
        """The value of `tag` (its last occurrence when it repeats), or None."""
        mapping = self._map if self._map is not None else self.mapping()
        return mapping.get(_TAG_KEYS.get(tag) or str(tag).encode())

    def text(self, tag: int) -> str | None:
        """The value of `tag` as text (UTF-8, else Latin-1); None when absent or empty."""
        mapping = self._map if self._map is not None else self.mapping()
        value = mapping.get(_TAG_KEYS.get(tag) or str(tag).encode())
        if not value:
            return None
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value.decode("latin-1")

    def first(self, tag: int) -> bytes | None:
        """The first occurrence of a header or body `tag` without mapping the whole message
        (cheap for the few fields every message needs); not for tag 35."""
        key = b"\x01" + (_TAG_KEYS.get(tag) or str(tag).encode()) + b"="
        at = self.body.find(key)
        if at < 0:
            return None
        start = at + len(key)
        stop = self.body.find(SOH, start)
        return self.body[start:] if stop < 0 else self.body[start:stop]

    def display(self, limit: int = 2000) -> str:
        """The message as one readable line, `|` for SOH (CheckSum left out)."""
        text = self.body.replace(SOH, b"|")[:limit].decode("latin-1")
        return f"8={self.begin_string}|9={len(self.body) + 1}|{text}|"


_TAG_KEYS: dict[int, bytes] = {n: str(n).encode() for n in TAGS.values()}


@dataclass(frozen=True)
class BadMessage:
    """A message that failed verification, with where it starts and why."""

    source: str
    line: int
    reason: str
    raw: bytes  # the message as found (delimiters normalised to SOH where known)
    msg_type: str | None = None
    time: str | None = None  # TransactTime(60) or SendingTime(52) text, when readable

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def display(self, limit: int = 2000) -> str:
        return self.raw.replace(SOH, b"|")[:limit].decode("latin-1")


Item = FixMessage | BadMessage


@dataclass
class LogStats:
    """What a scan read: every byte of the log, and the bytes of its messages (valid or
    not). The rest lies outside any message: line ends, engine prefixes, comments, junk."""

    bytes_read: int = 0
    message_bytes: int = 0

    @property
    def outside_messages(self) -> int:
        return self.bytes_read - self.message_bytes


def _bad(source: str, line: int, reason: str, raw: bytes) -> BadMessage:
    mt = _MSG_TYPE_IN.search(raw)
    hint = _TIME_HINTS[0].search(raw) or _TIME_HINTS[1].search(raw)
    return BadMessage(
        source,
        line,
        reason,
        raw[:MAX_MESSAGE],
        mt.group(1).decode() if mt else None,
        hint.group(1).decode() if hint else None,
    )


class LogScanner:
    """Incremental reader: feed() bytes as they come, finish() at the end of the input.

    Both return the messages (and bad messages) completed so far, in log order, with the line
    each one starts on. The usual chunk's messages are made as they are iterated: a message
    object that dies young costs the garbage collector nothing, a chunk's worth of live ones
    costs it plenty.
    """

    def __init__(self, source: str, max_message: int = DEFAULT_MAX_MESSAGE, line: int = 1) -> None:
        self.source = source
        self.max_message = max_message
        self._pending = b""
        self._line = line  # line number of the first byte of _pending
        self._types: dict[bytes, str] = {}
        self._type_codes: dict[int, str | None] = {}
        self.stats = LogStats()

    @property
    def line(self) -> int:
        """The line number of the first byte fed and not yet returned as an item (a reader
        that resumes a log part-way starts a scanner there, `line` and all)."""
        return self._line

    @property
    def pending_bytes(self) -> int:
        """Bytes fed and held back: the start of a message whose end has not been fed yet."""
        return len(self._pending)

    def feed(self, data: bytes) -> Iterable[Item]:
        self.stats.bytes_read += len(data)
        buf = self._pending + data if self._pending else data
        consumed, items = self._scan(buf, False)
        self._pending = buf[consumed:]
        return items

    def finish(self) -> Iterable[Item]:
        if not self._pending:
            return ()
        _, items = self._scan(self._pending, True)
        self._pending = b""
        return items

    def _msg_type(self, field: bytes) -> str | None:
        """MsgType from a `35=X` field (cached by its value); None when it is not one."""
        match = _MSG_TYPE.fullmatch(field)
        if match is None:
            return None
        value = match.group(1)
        found = self._types.get(value)
        if found is None:
            found = self._types[value] = value.decode()
        return found

    def _type_names(self, codes: np.ndarray) -> tuple[dict[int, str | None], bool]:
        """MsgType text for each integer code (None for a code that is no MsgType), and
        whether every code given is a MsgType."""
        known = self._type_codes
        valid = True
        for code in np.unique(codes).tolist():
            if code not in known:
                raw = code.to_bytes(4, "little").rstrip(b"\0")
                known[code] = self._msg_type(b"35=" + raw)
            valid = valid and known[code] is not None
        return known, valid

    def _scan(self, buf: bytes, final: bool) -> tuple[int, Iterable[Item]]:
        """The messages in `buf`, and how many bytes they consumed (the rest is an incomplete
        message, kept for the next feed)."""
        n = len(buf)
        data = np.frombuffer(buf, dtype=np.uint8)
        starts = _find_begins(data)
        newlines = np.flatnonzero(data == 10)
        base_line = self._line
        if len(starts) == 0:
            pos = n if final else max(0, n - 4)  # keep a "8=FI" cut by the chunk boundary
            self._line = base_line + int(np.searchsorted(newlines, pos))
            return pos, ()
        f = _frame(data, starts)
        names, all_named = self._type_names(f.mt_code[f.good])
        lines = base_line + np.searchsorted(newlines, starts)
        source = self.source
        simple = f.good | f.inside
        # The usual chunk: valid messages, then perhaps one cut by the chunk's end.
        tail = len(starts)
        if not final and f.incomplete[-1] and not f.inside[-1]:
            tail = len(starts) - 1
        if all_named and simple[:tail].all():
            pick = np.flatnonzero(f.good[:tail])
            named = cast(dict[int, str], names)  # all_named: no None among them
            self.stats.message_bytes += int((f.end[pick] + 7 - starts[pick]).sum())
            items = (
                FixMessage(source, line, _BEGIN_BY_CODE[bc], named[mc], buf[x:y])
                for line, bc, mc, x, y in zip(
                    lines[pick].tolist(),
                    f.begin[pick].tolist(),
                    f.mt_code[pick].tolist(),
                    f.body_at[pick].tolist(),
                    (f.end[pick] - 1).tolist(),
                    strict=True,
                )
            )
            if tail < len(starts):
                pos = int(starts[tail])
            else:
                pos = n if final else max(int(f.end[pick[-1]]) + 7 if len(pick) else 0, n - 4)
            self._line = base_line + int(np.searchsorted(newlines, pos))
            return pos, items
        out: list[Item] = []
        pos = self._scan_mixed(buf, final, out, starts, f, names, lines.tolist())
        self._line = base_line + int(np.searchsorted(newlines, pos))
        return pos, out

    def _scan_mixed(
        self,
        buf: bytes,
        final: bool,
        out: list[Item],
        starts: np.ndarray,
        f: _Framing,
        names: dict[int, str | None],
        lines: list[int],
    ) -> int:
        """Candidate by candidate, for chunks with junk, bad or wrapped messages."""
        n = len(buf)
        source = self.source
        pos = 0
        start: int  # .tolist() is typed Any
        for j, (start, good, framed, incomplete, bc, body_at, mc, end) in enumerate(
            zip(
                starts.tolist(),
                f.good.tolist(),
                f.framed.tolist(),
                f.incomplete.tolist(),
                f.begin.tolist(),
                f.body_at.tolist(),
                f.mt_code.tolist(),
                f.end.tolist(),
                strict=True,
            )
        ):
            if start < pos:
                continue  # "8=FIX" inside the message just read
            if good:
                mt = names.get(mc)
                if mt is not None:
                    body = buf[body_at : end - 1]
                    out.append(FixMessage(source, lines[j], _BEGIN_BY_CODE[bc], mt, body))
                    self.stats.message_bytes += end + 7 - start
                    pos = end + 7
                    continue
            elif framed and self._msg_type(buf[body_at : buf.find(SOH, body_at)]) is not None:
                stated = buf[end + 3 : end + 6].decode("latin-1")
                actual = sum(buf[start:end]) & 0xFF
                reason = f"CheckSum(10) is {stated}, the message sums to {actual:03d}"
                out.append(_bad(source, lines[j], reason, buf[start : end + 7]))
                self.stats.message_bytes += end + 7 - start
                pos = end + 7
                continue
            if incomplete and not final:
                return start
            item, nxt = self._careful(buf, start, final, lines[j])
            if nxt < 0:
                return start
            if item is not None:
                out.append(item)
            pos = nxt
        return max(pos, n if final else n - 4)

    def _careful(self, buf: bytes, i: int, final: bool, line: int) -> tuple[Item | None, int]:
        """Read the message at `i` the slow way. Returns (item, next position); item is None
        for junk, next position -1 when more input is needed."""
        n = len(buf)
        nxt = buf.find(BEGIN, i + 5)
        if nxt < 0:
            if not final and n - i < self.max_message:
                return self._verified_at_end(buf, i, line)
            nxt = n
        stop = min(nxt, i + self.max_message)
        acc = b""
        delim: bytes | None = None
        for piece in buf[i:stop].split(b"\n"):
            if piece.endswith(b"\r"):
                piece = piece[:-1]
            acc += piece
            if delim is None:
                head = _HEADER.match(acc)
                if head is None:
                    if len(acc) >= 24:
                        return None, nxt  # junk that happens to contain "8=FIX"
                    continue
                delim = head.group(2)
            item = self._complete(acc if delim == SOH else acc.replace(delim, SOH), line)
            if item is not None:
                return item, nxt
        if delim is None:
            return None, nxt
        reason = "no CheckSum(10) before the next message or the end of the file (truncated)"
        if stop < nxt:
            reason = (
                f"longer than {self.max_message:,} bytes ({MAX_MESSAGE_SETTING}) with no "
                "CheckSum(10) within them"
            )
        self.stats.message_bytes += len(acc)
        norm = acc if delim == SOH else acc.replace(delim, SOH)
        return _bad(self.source, line, reason, norm), nxt

    def _verified_at_end(self, buf: bytes, i: int, line: int) -> tuple[Item | None, int]:
        """The last message of a live log, before the next one has begun: taken once it
        verifies (BodyLength and CheckSum right, the delimiter after CheckSum written or,
        in logs that write none, the line ended),
        with the position just after it; else (None, -1), to wait for more. Without this
        a `|` or `^A` log's last message waited for the next message, which may never
        come. A message that does not verify yet waits, as before: it may be unfinished."""
        if len(buf) - i > _LIVE_END_LOOK:
            return None, -1  # a long wait: the next message (or the file's end) decides
        acc, at = b"", i
        pieces = buf[i:].split(b"\n")
        for k, piece in enumerate(pieces):
            start, at = at, at + len(piece) + 1
            if piece.endswith(b"\r"):
                piece = piece[:-1]
            acc += piece
            head = _HEADER.match(acc)
            if head is None:
                continue
            delim = head.group(2)
            norm = acc if delim == SOH else acc.replace(delim, SOH)
            found = _HEADER_SOH.match(norm)
            trailer = _trailer_at(norm, found.end(), int(found.group(2))) if found else -1
            if found is None or trailer < 0 or len(norm) < trailer + 6:
                continue
            # the delimiter after CheckSum written, or (logs that end a message without
            # one) the line ended right after it
            whole = len(norm) >= trailer + 7 or k < len(pieces) - 1
            if not whole:
                continue
            item = self._check(norm, found, found.end(), int(found.group(2)), trailer, line)
            if not isinstance(item, FixMessage):
                return None, -1
            # norm's end of the message, back in acc's bytes (a 2-byte ^A was 1 SOH), then
            # in buf's: it lies in this piece, the one that completed it
            length = min(trailer + 7, len(norm))
            end = length + norm.count(SOH, 0, length) * (len(delim) - 1)
            within = end - (len(acc) - len(piece))
            if within < 0:
                return None, -1
            self.stats.message_bytes += trailer + 7  # as _complete() counts it
            return item, start + within
        return None, -1

    def _complete(self, norm: bytes, line: int) -> Item | None:
        """The message in `norm` (its lines joined so far, delimiters made SOH) once its
        CheckSum field has come; None while it has not."""
        head = _HEADER_SOH.match(norm)
        if head is None:
            if len(norm) >= 32:
                self.stats.message_bytes += len(norm)
                return _bad(self.source, line, "BodyLength(9) is not a number", norm)
            return None
        body_start = head.end()
        stated_len = int(head.group(2))
        trailer = _trailer_at(norm, body_start, stated_len)
        if trailer < 0:
            return None
        self.stats.message_bytes += trailer + 7  # the message, less any line breaks
        return self._check(norm, head, body_start, stated_len, trailer, line)

    def _check(
        self,
        norm: bytes,
        head: re.Match[bytes],
        body_start: int,
        stated_len: int,
        trailer: int,
        line: int,
    ) -> Item:
        raw = norm[: trailer + 7]
        problems = []
        actual_len = trailer - body_start
        if actual_len != stated_len:
            problems.append(f"BodyLength(9) is {stated_len}, the body is {actual_len} bytes")
        stated_sum = int(norm[trailer + 3 : trailer + 6])
        actual_sum = sum(norm[:trailer]) & 0xFF
        if actual_sum != stated_sum:
            problems.append(
                f"CheckSum(10) is {stated_sum:03d}, the message sums to {actual_sum:03d}"
            )
        begin = BEGIN_STRINGS.get(head.group(1))
        if begin is None:
            problems.append(f"unsupported BeginString {head.group(1).decode('latin-1')}")
        body = norm[body_start : trailer - 1] if trailer > body_start else b""
        first = body.split(SOH, 1)[0]
        msg_type = self._msg_type(first)
        if msg_type is None:
            problems.append("MsgType(35) is not the field after BodyLength(9)")
        if problems:
            return _bad(self.source, line, "; ".join(problems), raw)
        assert begin is not None and msg_type is not None
        return FixMessage(self.source, line, begin, msg_type, body)


def _trailer_at(norm: bytes, body_start: int, stated_len: int) -> int:
    """Where "10=" starts: where BodyLength puts it, else the first CheckSum field after
    the header (the BodyLength is then wrong); -1 when there is none yet."""
    body_end = body_start + stated_len
    if (
        norm[body_end : body_end + 3] == b"10="
        and len(norm) >= body_end + 6
        and norm[body_end + 3 : body_end + 6].isdigit()
        and not norm[body_end + 6 : body_end + 7].isdigit()
        and norm[body_end - 1 : body_end] == SOH
    ):
        return body_end
    found = _TRAILER.search(norm, body_start - 1)
    return -1 if found is None else found.start() + 1


def open_log(path: Path) -> io.BufferedIOBase:
    """The file, decompressed on the fly when it is gzip (by its magic bytes, not its name)."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else path.open("rb")


def read_log(
    path: Path,
    source: str | None = None,
    max_message: int = DEFAULT_MAX_MESSAGE,
    stats: LogStats | None = None,
) -> Iterator[Item]:
    """Every message in the log file at `path` (plain or gzip), in order; a message longer
    than `max_message` bytes is a bad message. `stats`, when given, counts what was read."""
    scanner = LogScanner(source or path.name, max_message)
    if stats is not None:
        scanner.stats = stats
    with open_log(path) as stream:
        while block := stream.read(CHUNK):
            yield from scanner.feed(block)
    yield from scanner.finish()


def parse_bytes(data: bytes | Iterable[bytes], source: str = "<bytes>") -> list[Item]:
    """Every message in `data` (bytes, or an iterable of chunks), in order."""
    scanner = LogScanner(source)
    out: list[Item] = []
    for block in [data] if isinstance(data, bytes) else data:
        out.extend(scanner.feed(block))
    out.extend(scanner.finish())
    return out


def encode_message(begin_string: str, fields: Iterable[tuple[int, str | bytes]]) -> bytes:
    """A complete message with BodyLength(9) and CheckSum(10): `fields` start at MsgType(35)."""
    parts = []
    for tag, value in fields:
        parts.append(b"%d=%s\x01" % (tag, value if isinstance(value, bytes) else value.encode()))
    body = b"".join(parts)
    head = b"8=%s\x019=%d\x01" % (begin_string.encode(), len(body))
    checksum = (sum(head) + sum(body)) & 0xFF
    return b"%s%s10=%03d\x01" % (head, body, checksum)
