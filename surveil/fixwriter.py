"""A day folder → a FIX 4.4 engine log: `generate --format fix`, and the import round trip.

The log is what a broker's FIX session with its market would record for the day, one
message per line in the QuickFIX layout (`YYYYMMDD-HH:MM:SS.mmm : <message>`), both
directions, in time order:

* Logon (A) both ways at the first event, Logout (5) both ways after the last;
* per order, a NewOrderSingle (D) from the broker, then the market's ExecutionReports (8):
  ExecType 0 (new) or 8 (rejected) at once, ExecType F (trade) per execution, and the end of
  the order: for a cancelled day order an OrderCancelRequest (F) and the ExecType 4 report
  answering it; for a cancelled IOC an unsolicited ExecType 4; for an expired order an
  ExecType C at the session's close; for a pending cancel an F and an ExecType 6; for a
  replaced order (a link of a replace chain, its successor a row of its own) an ExecType 5
  with OrdStatus 5 on its own ClOrdID, at its cancel_time.

Written so that `import_fix` gives back the same orders and executions rows: times carry
microseconds (FIX 4.4 names milliseconds; QuickFIX and later FIX versions take more),
prices are the CSV text unchanged, every report carries CumQty(14) and AvgPx(6) (the final
AvgPx is the CSV's avg_px), the firm is a Parties entry with PartyRole 13 (order
origination firm), the beneficial owner one with PartyRole 5 (investor id), and the account
type is OrderCapacity(528) A (client) or G (proprietary), or P with OrderRestrictions(529)
5 (market maker). What FIX cannot carry — a firm's name and type — does not survive.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import os
import tempfile
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import IO, cast

from surveil import calendar
from surveil.errors import BadInputError
from surveil.manifest import COLUMNS, MANIFEST_NAME, read_local_manifest, verify_local_day

BEGIN_STRING = b"FIX.4.4"
BROKER = b"SURVEIL"  # SenderCompID of the broker's order flow
MARKET = b"MARKET"  # SenderCompID of the market's reports
CAPACITY = {
    "client": ((528, b"A"),),
    "proprietary": ((528, b"G"),),
    "market_maker": ((528, b"P"), (529, b"5")),
}
SIX_PLACES = Decimal("0.000001")

Fields = list[tuple[int, bytes]]


def fix_time(iso: str) -> bytes:
    """2026-11-27T14:30:00.000001Z -> 20261127-14:30:00.000001 (UTCTimestamp). Any other
    ISO 8601 time a day folder may hold (an offset, no fraction: what load accepts) is
    converted to UTC first, rather than copied into a timestamp no reader takes."""
    if len(iso) == 27 and iso[10] == "T" and iso[19] == "." and iso[26] == "Z":
        return f"{iso[0:4]}{iso[5:7]}{iso[8:10]}-{iso[11:26]}".encode()  # the generator's
    when = dt.datetime.fromisoformat(iso)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y%m%d-%H:%M:%S.%f").encode()


def _read(day_dir: Path, table: str) -> Iterator[dict[str, str]]:
    with (day_dir / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS[table]:
            raise BadInputError(
                f"{day_dir / f'{table}.csv'}: unexpected header {reader.fieldnames}"
            )
        yield from reader


class _Events:
    """Messages to write, kept as (time, order of creation, sender, fields) and sorted once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, bytes, bytes, Fields]] = []

    def add(self, when: str, msg_type: bytes, sender: bytes, fields: Fields) -> None:
        self.items.append((when, len(self.items), msg_type, sender, fields))


def _order_events(
    events: _Events,
    order: dict[str, str],
    fills: list[dict[str, str]],
    account: tuple[str, str, str] | None,
    close: str,
) -> None:
    cl = order["cl_ord_id"].encode()
    qty = int(order["quantity"])
    firm, kind, owner = account or (order["firm_id"], "", order["account_id"])
    instrument: Fields = [
        (1, order["account_id"].encode()),
        (55, order["symbol"].encode()),
        (54, order["side"].encode()),
        (38, order["quantity"].encode()),
        (40, order["order_type"].encode()),
    ]
    if order["limit_price"]:
        instrument.append((44, order["limit_price"].encode()))
    instrument.append((59, order["time_in_force"].encode()))
    # An account whose beneficial owner is unknown (omnibus, retail) carries no investor
    # party: the drop copy says nothing of who is behind it.
    parties = b"2" if owner else b"1"
    new: Fields = [(11, cl), (453, parties), (448, firm.encode()), (447, b"D"), (452, b"13")]
    if owner:
        new += [(448, owner.encode()), (447, b"D"), (452, b"5")]
    new += list(CAPACITY.get(kind, ()))
    new += instrument
    new.append((60, fix_time(order["transact_time"])))
    events.add(order["transact_time"], b"D", BROKER, new)
    order_id = b"O" + cl

    def report(when: str, exec_id: bytes, exec_type: bytes, status: bytes, cum: int,
               avg: bytes, extra: Fields, cl_ord_id: bytes = cl) -> None:  # fmt: skip
        leaves = qty - cum if status in (b"0", b"1") else 0
        fields: Fields = [(37, order_id), (11, cl_ord_id)]
        fields += extra
        fields += [(17, exec_id), (150, exec_type), (39, status)]
        fields += instrument
        fields += [(151, str(leaves).encode()), (14, str(cum).encode()), (6, avg)]
        fields.append((60, fix_time(when)))
        events.add(when, b"8", MARKET, fields)

    status = order["ord_status"]
    final_avg = (order["avg_px"] or "0").encode()
    final_cum = int(order["cum_qty"])
    if status == "8":
        report(order["transact_time"], cl + b".R", b"8", b"8", 0, b"0", [(58, b"rejected")])
        return
    report(order["transact_time"], cl + b".N", b"0", b"0", 0, b"0", [])
    cum = 0
    notional = Decimal(0)
    last = order["transact_time"]
    for fill in fills:
        fill_qty = int(fill["fill_qty"])
        cum += fill_qty
        notional += Decimal(fill["fill_price"]) * fill_qty
        if cum == final_cum:
            avg = final_avg
        else:
            avg = str((notional / cum).quantize(SIX_PLACES, ROUND_HALF_EVEN)).encode()
        fill_status = b"2" if cum >= qty else b"1"
        extra: Fields = [(32, fill["fill_qty"].encode()), (31, fill["fill_price"].encode())]
        extra.append((30, fill["venue"].encode()))
        report(fill["transact_time"], fill["exec_id"].encode(), b"F", fill_status, cum, avg, extra)
        last = max(last, fill["transact_time"])
    if status in ("4", "6"):
        when = order["cancel_time"] or last
        cancel_id = cl + b".X"
        if status == "6" or order["time_in_force"] != "3":
            request: Fields = [(41, cl), (11, cancel_id)] + instrument[:4]
            request.append((60, fix_time(when)))
            events.add(when, b"F", BROKER, request)
            report(when, cl + b".C", status.encode(), status.encode(), cum, final_avg,
                   [(41, cl)], cancel_id)  # fmt: skip
        else:  # an IOC's remainder, cancelled by the market unasked
            report(when, cl + b".C", b"4", b"4", cum, final_avg, [])
    elif status == "5":  # replaced: the chain's next order is a row of its own
        when = order["cancel_time"] or last
        report(when, cl + b".P", b"5", b"5", cum, final_avg, [])
    elif status == "C":
        when = max(close, last)
        report(when, cl + b".E", b"C", b"C", cum, final_avg, [])


def _encode(
    msg_type: bytes, sender: bytes, target: bytes, seq: int, when: str, fields: Fields
) -> bytes:
    body = b"35=%s\x0149=%s\x0156=%s\x0134=%d\x0152=%s\x01" % (
        msg_type,
        sender,
        target,
        seq,
        fix_time(when),
    )
    body += b"".join(b"%d=%s\x01" % (tag, value) for tag, value in fields)
    return frame(BEGIN_STRING, body)


def frame(begin_string: bytes, body: bytes) -> bytes:
    """A message from its body (MsgType(35) on, ending in SOH): BeginString and BodyLength
    before it, CheckSum after."""
    head = b"8=%s\x019=%d\x01" % (begin_string, len(body))
    return b"%s%s10=%03d\x01" % (head, body, (sum(head) + sum(body)) & 0xFF)


def write_fix_log(day_dir: Path, out: Path, *, prefix: bool = True) -> int:
    """Write the day in `day_dir` as a FIX 4.4 log at `out` (gzip when it ends in .gz),
    atomically; returns the number of messages written. `prefix=False` leaves out the
    log-line timestamps (bare messages, one per line)."""
    manifest = read_local_manifest(day_dir)
    if manifest is None:
        raise BadInputError(f"{day_dir / MANIFEST_NAME}: no day here to write as FIX")
    if not verify_local_day(day_dir, manifest):
        raise BadInputError(f"{day_dir}: files differ from their manifest")
    accounts = {
        a["account_id"]: (a["firm_id"], a["account_type"], a["beneficial_owner_id"])
        for a in _read(day_dir, "accounts")
    }
    fills_of: dict[str, list[dict[str, str]]] = {}
    for fill in _read(day_dir, "executions"):
        fills_of.setdefault(fill["cl_ord_id"], []).append(fill)
    session = calendar.session(manifest.trade_date)
    close = session.close_utc.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    events = _Events()
    for order in _read(day_dir, "orders"):
        fills = sorted(
            fills_of.get(order["cl_ord_id"], []), key=lambda f: (f["transact_time"], f["exec_id"])
        )
        _order_events(events, order, fills, accounts.get(order["account_id"]), close)
    events.items.sort(key=lambda e: (e[0], e[1]))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    try:
        stream = cast(
            IO[bytes], gzip.open(tmp, "wb") if out.name.endswith(".gz") else open(tmp, "wb")
        )
        with stream:
            written = _write_events(stream, events, prefix, manifest.trade_date)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return written


def _write_events(stream: IO[bytes], events: _Events, prefix: bool, day: dt.date) -> int:
    seq = {BROKER: 0, MARKET: 0}
    other = {BROKER: MARKET, MARKET: BROKER}
    buffer: list[bytes] = []
    written = 0

    def emit(when: str, msg_type: bytes, sender: bytes, fields: Fields) -> None:
        nonlocal written
        seq[sender] += 1
        message = _encode(msg_type, sender, other[sender], seq[sender], when, fields)
        if prefix:
            buffer.append(b"%s : " % fix_time(when)[:21])
        buffer.append(message)
        buffer.append(b"\n")
        written += 1
        if len(buffer) > 30_000:
            stream.write(b"".join(buffer))
            buffer.clear()

    items = events.items
    start = items[0][0] if items else f"{day.isoformat()}T14:30:00.000000Z"
    end = items[-1][0] if items else start
    logon: Fields = [(98, b"0"), (108, b"30"), (141, b"Y")]
    emit(start, b"A", BROKER, logon)
    emit(start, b"A", MARKET, logon)
    for when, _, msg_type, sender, fields in items:
        emit(when, msg_type, sender, fields)
    emit(end, b"5", BROKER, [])
    emit(end, b"5", MARKET, [])
    stream.write(b"".join(buffer))
    return written
