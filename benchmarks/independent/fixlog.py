"""FIX 4.4 order lifecycle and log writer for the independent drop copy (stdlib only).

Each order is driven by the population that owns it (new, replace, cancel, fill, expire,
bust); every call records the client's request (D, G, F) and the broker's
ExecutionReport(s) (8) as events. `FixLog.write` sorts the events by time and writes one
message per line with real MsgSeqNum, BodyLength(9) and CheckSum(10).

Field usage follows the FIX 4.4 specification: Parties (453) with PartyRole 13 (order
origination firm) and 5 (investor id), AccountType(581), OrderCapacity(528),
OrderRestrictions(529) 5 for market making, ExecType 0/F/4/5/8/C/H, CumQty/LeavesQty/AvgPx
kept consistent (OrderQty = CumQty + LeavesQty while open).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SOH = "\x01"
ACK_LATENCY_US = 900  # broker round trip for an acknowledgement, ~1 ms


@dataclass
class Account:
    """An account as the broker's order messages describe it."""

    account_id: str
    firm_id: str
    capacity: str  # OrderCapacity(528): A agency, P principal, R riskless principal
    owners: tuple[str, ...] = ()  # investor ids (PartyRole 5) it may name, () = none
    account_type: str | None = None  # AccountType(581): 1 customer, 3 house, 12/13 omnibus
    market_maker: bool = False  # OrderRestrictions(529) = 5
    comp_id: str = ""  # the client session's SenderCompID


@dataclass
class Order:
    account: Account
    symbol: str
    side: str  # '1' buy, '2' sell, '5' sell short
    qty: int
    price: float | None  # None for market
    ord_type: str = "2"  # 1 market, 2 limit, 5 market on close, B limit on close
    tif: str = "0"  # 0 day, 3 IOC, 7 at the close
    owner: str | None = None
    venue: str = "XNAS"
    clid: str = ""
    order_id: str = ""
    chain: list[str] = field(default_factory=list)
    cum: int = 0
    notional: float = 0.0
    open: bool = False
    last_t: int = 0  # microseconds since midnight UTC of the last message
    exec_ids: list[str] = field(default_factory=list)

    @property
    def leaves(self) -> int:
        return self.qty - self.cum if self.open else 0

    @property
    def avg_px(self) -> float:
        return self.notional / self.cum if self.cum else 0.0


def _px(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if value >= 1 else f"{value:.4f}"


class FixLog:
    """The events of one day and the id sequences that name them."""

    def __init__(self, day: dt.date, broker_comp: str = "BRKDC") -> None:
        self.day = day
        self.broker = broker_comp
        self.events: list[tuple[int, int, str, str, str, list[tuple[str, str]]]] = []
        self._n = 0
        self._clid = 0
        self._exec = 0
        self._oid = 0
        self.orders: list[Order] = []
        midnight_ny = dt.datetime.combine(day, dt.time(0), NEW_YORK)
        self._utc_midnight = dt.datetime.combine(day, dt.time(0), dt.UTC)
        self.ny_offset_us = int((midnight_ny.utcoffset() or dt.timedelta()).total_seconds() * -1e6)

    # --- ids and time -----------------------------------------------------------------
    def ny_us(self, seconds_after_midnight_ny: float) -> int:
        """UTC microseconds since UTC midnight for a New York time of day in seconds."""
        return int(round(seconds_after_midnight_ny * 1e6)) + self.ny_offset_us

    def next_clid(self, prefix: str) -> str:
        self._clid += 1
        return f"{prefix}{self._clid:07d}"

    def next_exec(self) -> str:
        self._exec += 1
        return f"X{self.day:%m%d}{self._exec:08d}"

    def _ts(self, t_us: int) -> str:
        stamp = self._utc_midnight + dt.timedelta(microseconds=t_us)
        return stamp.strftime("%Y%m%d-%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"

    def _emit(self, t_us: int, msg_type: str, sender: str, target: str, body) -> None:
        self._n += 1
        self.events.append((t_us, self._n, msg_type, sender, target, body))

    # --- message bodies ----------------------------------------------------------------
    def _party_fields(self, o: Order) -> list[tuple[str, str]]:
        acct = o.account
        parties = [("448", acct.firm_id), ("447", "D"), ("452", "13")]
        if o.owner:
            parties += [("448", o.owner), ("447", "D"), ("452", "5")]
        out = [("1", acct.account_id)]
        if acct.account_type:
            out.append(("581", acct.account_type))
        out.append(("453", str(len(parties) // 3)))
        out += parties
        out.append(("528", acct.capacity))
        if acct.market_maker:
            out.append(("529", "5"))
        return out

    def _order_fields(self, o: Order, t_us: int) -> list[tuple[str, str]]:
        f = [("55", o.symbol), ("54", o.side), ("60", self._ts(t_us)), ("38", str(o.qty))]
        f.append(("40", o.ord_type))
        if o.price is not None and o.ord_type in ("2", "B"):
            f.append(("44", _px(o.price)))
        f.append(("59", o.tif))
        return f

    def _report(self, o: Order, t_us: int, exec_type: str, status: str, extra=()) -> str:
        exec_id = self.next_exec()
        body = [("37", o.order_id), ("11", o.clid)]
        body += list(extra)
        body += [("17", exec_id), ("150", exec_type), ("39", status)]
        body += self._party_fields(o)
        body += self._order_fields(o, t_us)
        body += [("14", str(o.cum)), ("151", str(o.leaves)), ("6", _px(o.avg_px))]
        self._emit(t_us, "8", self.broker, o.account.comp_id, body)
        return exec_id

    def _status(self, o: Order) -> str:
        if o.cum >= o.qty:
            return "2"
        return "1" if o.cum else "0"

    # --- lifecycle -----------------------------------------------------------------------
    def new(self, o: Order, t_us: int, reject: bool = False) -> Order:
        o.clid = o.clid or self.next_clid(o.account.account_id[:3])
        self._oid += 1
        o.order_id = f"B{self._oid:09d}"
        o.chain = [o.clid]
        self.orders.append(o)
        body = [("11", o.clid)] + self._party_fields(o) + [("100", o.venue)]
        body += self._order_fields(o, t_us)
        self._emit(t_us, "D", o.account.comp_id, self.broker, body)
        o.last_t = t_us + ACK_LATENCY_US
        if reject:
            self._report(o, o.last_t, "8", "8", [("58", "price outside limit up-limit down band")])
            return o
        o.open = True
        self._report(o, o.last_t, "0", "0")
        return o

    def fill(self, o: Order, t_us: int, qty: int, px: float, venue: str | None = None) -> str:
        """An execution of `qty` at `px` (never past the order's leaves)."""
        qty = min(qty, o.leaves)
        assert qty > 0 and o.open, (o.clid, qty)
        t_us = max(t_us, o.last_t + 1)
        o.cum += qty
        o.notional += qty * px
        mkt = venue or o.venue
        extra = [("32", str(qty)), ("31", _px(px)), ("30", mkt)]
        status = self._status(o)
        exec_id = self._report(o, t_us, "F", status, extra)
        o.exec_ids.append(exec_id)
        o.last_t = t_us
        if o.cum >= o.qty:
            o.open = False
        return exec_id

    def replace(self, o: Order, t_us: int, price: float | None = None, qty: int | None = None):
        """Cancel/replace to a new price and/or total quantity (FIX counts qty over the chain)."""
        assert o.open
        t_us = max(t_us, o.last_t + 1)
        old = o.clid
        o.clid = self.next_clid(o.account.account_id[:3])
        o.chain.append(o.clid)
        if price is not None:
            o.price = price
        if qty is not None:
            o.qty = max(qty, o.cum + 1)
        body = [("11", o.clid), ("41", old)] + self._party_fields(o)
        body += self._order_fields(o, t_us)
        self._emit(t_us, "G", o.account.comp_id, self.broker, body)
        o.last_t = t_us + ACK_LATENCY_US
        self._report(o, o.last_t, "5", self._status(o), [("41", old)])

    def cancel(self, o: Order, t_us: int, reason: str | None = None) -> None:
        assert o.open
        t_us = max(t_us, o.last_t + 1)
        req = self.next_clid("CXL")
        body = [("11", req), ("41", o.clid), ("37", o.order_id)] + self._party_fields(o)
        body += [("55", o.symbol), ("54", o.side), ("60", self._ts(t_us)), ("38", str(o.qty))]
        self._emit(t_us, "F", o.account.comp_id, self.broker, body)
        o.last_t = t_us + ACK_LATENCY_US
        o.open = False
        extra = [("41", o.clid)] + ([("58", reason)] if reason else [])
        saved, o.clid = o.clid, req
        self._report(o, o.last_t, "4", "4", extra)
        o.clid = saved

    def cancel_ioc(self, o: Order, t_us: int) -> None:
        """The venue's cancel of an IOC's unfilled rest (no request from the client)."""
        t_us = max(t_us, o.last_t + 1)
        o.open = False
        self._report(o, t_us, "4", "4", [("41", o.clid)])
        o.last_t = t_us

    def expire(self, o: Order, t_us: int) -> None:
        t_us = max(t_us, o.last_t + 1)
        o.open = False
        self._report(o, t_us, "C", "C")
        o.last_t = t_us

    def bust(self, o: Order, exec_id: str, qty: int, px: float, t_us: int) -> None:
        """Trade cancel (ExecType H) of one earlier fill, e.g. a clearly erroneous execution."""
        o.cum -= qty
        o.notional -= qty * px
        o.exec_ids.remove(exec_id)
        status = "4" if not o.open else self._status(o)
        self._report(o, max(t_us, o.last_t + 1), "H", status, [("19", exec_id), ("58", "CEE")])

    # --- output --------------------------------------------------------------------------
    def write(self, path) -> int:
        """Write the day as a FIX 4.4 log, one message per line; return the message count."""
        self.events.sort(key=lambda e: (e[0], e[1]))
        seq: dict[tuple[str, str], int] = {}
        with open(path, "w", encoding="ascii", newline="\n") as out:
            for t_us, _, msg_type, sender, target, body in self.events:
                n = seq.get((sender, target), 0) + 1
                seq[(sender, target)] = n
                head = [("35", msg_type), ("49", sender), ("56", target), ("34", str(n))]
                head.append(("52", self._ts(t_us)))
                text = "".join(f"{k}={v}{SOH}" for k, v in head + body)
                msg = f"8=FIX.4.4{SOH}9={len(text)}{SOH}{text}"
                checksum = sum(msg.encode("ascii")) % 256
                out.write(f"{msg}10={checksum:03d}{SOH}\n")
        return len(self.events)
