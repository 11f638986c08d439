"""Everything `watch` takes from import-fix's reader and day builder, behind one module.

watch uses, from the surveil.fix package:

* parser.LogScanner, to verify and frame messages exactly as import-fix does (BodyLength,
  CheckSum, the same reasons for a bad message), fed as bytes arrive;
  with `line` and `pending_bytes`, to commit a resumable position (the bytes before its
  pending, incomplete message are done with) and to start again there;
* daybuilder.DayBuilder and its field decoding (fields.MessageFields, fields.message_time),
  so that a watched day's orders, executions, firms and accounts are the rows import-fix
  would write for the same log (an order's row from `DayBuilder.final_state`, which
  import-fix's own rows use); importer.Refusals, to skip refused messages as it does;
* the day builder's maps' `record_keys`, to know which keys a message touched and write a
  day as it is built instead of once at the end.

A day is built until `load` has loaded it (its batch record, docs/streaming.md "When a day
is retired"): then it is `retire`d, its state dropped, and a later message of it is journalled
(as read) but not applied, a reject with `RECORDED` as its reason.

Nothing here reaches into a private name of the package.
"""

from __future__ import annotations

import bisect
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveil.fix.daybuilder import DayBuilder
from surveil.fix.fields import (
    APP_TYPES,
    Invalid,
    MessageFields,
    Reject,
    exchange_date,
    message_time,
)
from surveil.fix.importer import REFUSALS, Refusals
from surveil.fix.parser import DEFAULT_MAX_MESSAGE, BadMessage, FixMessage, LogScanner
from surveil.fix.spill import Spill

# The reason of a message for a day that is loaded already.
RECORDED = (
    "{day} is loaded already (its batch record, by `surveil load` or run-day): a message "
    "for it that came after is not applied to it"
)

__all__ = [
    "DEFAULT_MAX_MESSAGE",
    "BadMessage",
    "Days",
    "FixMessage",
    "Scanner",
    "Applied",
]


# A journalled message: (seq, file name, line, BeginString, MsgType, body).
Journalled = tuple[int, str, int, str, str, bytes]


class DayRuns:
    """The date of each message applied, by its seq: kept as the seqs where the date
    changes from the message applied before (a few a day, where a dict entry per message
    held some 70 bytes each: 250 MB over a 1M-order day). get() of a seq not applied gives
    its neighbours' date; only applied seqs are asked for (refusals name imported ones)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.days: list[dt.date] = []

    def add(self, seq: int, day: dt.date) -> None:
        if not self.days or self.days[-1] != day:
            self.starts.append(seq)
            self.days.append(day)

    def get(self, seq: int) -> dt.date | None:
        at = bisect.bisect_right(self.starts, seq) - 1
        return self.days[at] if at >= 0 else None


class Scanner:
    """LogScanner with the position of what it consumed: `consumed` bytes of the file are
    done with (messages returned), `line` is the line number at that byte."""

    def __init__(self, name: str, max_message: int, offset: int = 0, line: int = 1) -> None:
        self._scanner = LogScanner(name, max_message, line)
        self.name = name
        self._fed_to = offset  # file offset just after the bytes fed so far

    @property
    def consumed(self) -> int:
        return self._fed_to - self._scanner.pending_bytes

    @property
    def line(self) -> int:
        return self._scanner.line

    def feed(self, data: bytes) -> list[FixMessage | BadMessage]:
        items = list(self._scanner.feed(data))
        self._fed_to += len(data)
        return items

    def finish(self) -> list[FixMessage | BadMessage]:
        """The end of this file: what is pending (a message cut short) becomes a reject."""
        items = list(self._scanner.finish())
        self._fed_to = self.consumed
        return items


@dataclass
class Applied:
    """What applying messages changed, to be written in the transaction that commits them."""

    journal: list[tuple[dt.date | None, FixMessage]] = field(default_factory=list)
    # each with its message's journal seq, None for one that failed verification (not
    # journalled: the reject's copy is all that is kept of it)
    rejects: list[tuple[Reject, int | None]] = field(default_factory=list)
    orders: dict[dt.date, set[str]] = field(default_factory=dict)
    fills: dict[dt.date, set[str]] = field(default_factory=dict)
    reference: dict[dt.date, list[tuple[str, ...]]] = field(default_factory=dict)  # written
    days: set[dt.date] = field(default_factory=set)  # days a message was applied to

    def touched(self, kind: str, day: dt.date) -> set[str]:
        table = self.orders if kind == "orders" else self.fills
        found = table.get(day)
        if found is None:
            found = table[day] = set()
        return found


class Days:
    """The days being built from a live flow: one DayBuilder per New York date, sharing a
    spill file in a temporary folder; which order and fill keys each message touched.
    `retired`: dates loaded already, never built here. `window`: entries of each kind a
    day holds in memory (import-fix's own, package.HOT_ENTRIES, when None)."""

    def __init__(
        self,
        spill_dir: Path | None = None,
        retired: Iterable[dt.date] = (),
        window: int | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="surveil-watch-", dir=spill_dir)
        self._spill = Spill(Path(self._tmp.name) / "spill.sqlite")
        self.builders: dict[dt.date, DayBuilder] = {}
        self.pending = Applied()
        self._successors: dict[dt.date, dict[str, set[str]]] = {}
        self._boxes: list[tuple[str, dt.date, list[set[str]]]] = []  # keys touched, per map
        self.sent_reference: dict[dt.date, set[tuple[str, ...]]] = {}
        self.partitions_ready: set[dt.date] = set()  # days whose partitions exist
        self.count = 0  # verified messages numbered (journalled) so far
        self.refusals = Refusals()
        self.refused: set[int] = set()  # seqs of application messages refused
        self.day_of = DayRuns()  # seq -> date of each message applied
        self.applied: Counter[dt.date] = Counter()  # messages applied, per day being built
        self.needs_rebuild: set[dt.date] = set()  # days with a refused message applied
        self.retired: set[dt.date] = set(retired)
        self.first_seq: dict[dt.date, int] = {}  # the seq of each built day's first message
        self.window = window

    def close(self) -> None:
        self._spill.__exit__(None, None, None)
        self._tmp.cleanup()

    def builder(self, day: dt.date) -> DayBuilder:
        found = self.builders.get(day)
        if found is None:
            found = self.builders[day] = DayBuilder(day, self._spill, self.window)
            self._successors[day] = {}
            for kind, spill_map in (("orders", found.orders), ("fills", found.fills)):
                box: list[set[str]] = [set()]
                self._boxes.append((kind, day, box))
                spill_map.record_keys(box)
        return found

    def take(self) -> Applied:
        """What changed since the last take()."""
        done, self.pending = self.pending, Applied()
        for kind, day, box in self._boxes:
            if box[0]:
                (done.orders if kind == "orders" else done.fills)[day] = box[0]
                box[0] = set()
        return done

    def apply(self, item: FixMessage | BadMessage, *, replay: bool = False) -> None:
        """Apply one item as import-fix's reading does: bad messages and messages without a
        usable time are rejects, session and other messages are only noted (for refusals),
        orders and reports go to their date's builder, unless refused (see `refused`).
        Every verified message is numbered (its journal seq) and journalled. `replay`: a
        message from the journal, whose rejects were recorded when it first came."""
        pending = self.pending
        if isinstance(item, BadMessage):
            when = exchange_date(item.time) if item.time else None
            reject = Reject(item.source, item.line, item.msg_type or "", item.reason, item.display(), when)  # fmt: skip
            pending.rejects.append((reject, None))
            return
        seq = self.count
        self.count += 1
        day, iso, message, invalid = self._place(seq, item)
        if not replay:
            pending.journal.append((day, item))
            if invalid is not None:
                pending.rejects.append((invalid, seq))
        if item.msg_type in REFUSALS:
            self._note_refusals()
        if iso is None or message is None or day is None:
            return
        if day in self.retired:
            if not replay:
                reason = RECORDED.format(day=day)
                late = Reject(item.source, item.line, item.msg_type, reason, item.display(), day)
                pending.rejects.append((late, seq))
            return
        if seq in self.refused:
            return  # refused by the counterparty (Reject 3 / j): import-fix skips it
        builder = self.builders.get(day)
        if builder is None:
            builder = self.builder(day)
            self.first_seq[day] = seq
        before = len(builder.rejects)
        builder.add(message, iso)
        self.day_of.add(seq, day)
        self.applied[day] += 1
        pending.days.add(day)
        if not replay:
            pending.rejects.extend((r, seq) for r in builder.rejects[before:])

    def _place(
        self, seq: int, item: FixMessage
    ) -> tuple[dt.date | None, str | None, Any, Reject | None]:
        """(date, ISO time, fields, reject) of a message, noted for refusals as import-fix
        notes it (a retired day's as a message of another date); time and fields are None
        for a message not imported."""
        if item.msg_type not in APP_TYPES:
            self.refusals.see(seq, item, False)
            sent = item.first(52)
            return (exchange_date(sent.decode("latin-1")) if sent else None), None, None, None
        message = MessageFields(item)
        try:
            iso, day = message_time(message.values)
        except Invalid as exc:
            self.refusals.see(seq, item, False)
            invalid = Reject(item.source, item.line, item.msg_type, str(exc), item.display(), None)
            return None, None, None, invalid
        self.refusals.see(seq, item, day not in self.retired, message)
        return day, iso, message, None

    def _note_refusals(self) -> None:
        """A refusal just read: the days whose applied messages it refused need rebuilding."""
        new = self.refusals.refused - self.refused
        self.refused |= new
        for seq in new:
            day = self.day_of.get(seq)
            if day is not None and day not in self.retired:
                self.needs_rebuild.add(day)

    def find_refusals(self, messages: Iterable[Journalled]) -> None:
        """First pass over a journal: which of its messages were refused, so that replay()
        skips them as they pass (import-fix reads a log twice for the same reason)."""
        probe = Days.__new__(Days)
        probe.refusals, probe.refused, probe.retired = Refusals(), set(), self.retired
        for seq, name, line, begin, msg_type, body in messages:
            probe._place(seq, FixMessage(name, line, begin, msg_type, body))
        self.refused = set(probe.refusals.refused)

    def replay(self, start: int, messages: Iterable[Journalled]) -> int:
        """Rebuild the days from the journal's (seq, file name, line, BeginString, MsgType,
        body) from seq `start` on, after find_refusals(); nothing of it is to be written
        again. The seq after the last (a gap in the journal is an error)."""
        self.count = start
        for seq, name, line, begin, msg_type, body in messages:
            if seq != self.count:
                raise RuntimeError(f"journal: message {seq} where {self.count} was expected")
            self.apply(FixMessage(name, line, begin, msg_type, body), replay=True)
        self._link_successors(self.take())
        self.needs_rebuild.clear()
        return self.count

    def _link_successors(self, applied: Applied) -> None:
        """Note which order replaces which among the orders `applied` touched (order_rows
        notes them as it writes rows; a replay writes none): a later fill on a replaced
        order then rewrites the order replacing it, whose quantity follows it."""
        for day, keys in applied.orders.items():
            builder = self.builders.get(day)
            if builder is None:
                continue
            orders, successors = builder.orders, self._successors[day]
            for key in keys:
                order = orders.peek(key)
                if order is not None:
                    _note_successor(successors, order)

    def replay_from(self) -> int:
        """The journal's seq a restart replays from: the first message of the oldest day
        being built (the messages before it are of retired days, or session messages that
        no day being built depends on)."""
        return min(self.first_seq.values(), default=self.count)

    def retire(self, days: Iterable[dt.date]) -> set[dt.date]:
        """Build these days no more (loaded: their record is the batch's): their state is
        dropped and their later messages become rejects. The ones that were being built."""
        new = set(days) - self.retired
        self.retired |= new
        held = new & set(self.builders)
        for day in held:
            del self.builders[day]
            self._spill.drop_day(day.toordinal())
            self._successors.pop(day, None)
            self.sent_reference.pop(day, None)
            self.first_seq.pop(day, None)
            self.partitions_ready.discard(day)
            self.needs_rebuild.discard(day)
            self.applied.pop(day, None)
        if held:
            self._boxes = [box for box in self._boxes if box[1] not in held]
        return held

    def all_rows(self, day: dt.date) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the day, as DayBuilder.write() gives them (empty text as NULL):
        for rewriting a day whole; none for a day whose every applied message was refused."""
        builder = self.builders.get(day)
        if builder is None:
            self.sent_reference[day] = set()
            return {"firms": [], "accounts": [], "orders": [], "executions": []}
        builder.orders.flush()
        builder.fills.flush()
        unsized: set[str] = set()
        rejects = len(builder.rejects)
        orders = [tuple(v if v != "" else None for v in r) for r in builder.order_rows(unsized)]
        executions = [tuple(r) for r in builder.execution_rows(unsized)]
        del builder.rejects[rejects:]  # unsized orders: rejects at the end of the day only
        firms, accounts = builder.reference_rows()
        self.sent_reference[day] = {*firms, *accounts}
        return {"firms": firms, "accounts": accounts, "orders": orders, "executions": executions}

    # ---- rows, as DayBuilder.write() would give them now

    def reference_rows(self, day: dt.date) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """The day's firms and accounts rows not handed out before, as they stand (an
        account's type may be learnt later). `sent_reference` is cleared when a batch
        fails (its rows were rolled back)."""
        firms, accounts = self.builders[day].reference_rows()
        sent = self.sent_reference.setdefault(day, set())
        return [f for f in firms if f not in sent], [a for a in accounts if a not in sent]

    def committed(self, applied: Applied) -> None:
        """`applied` was committed: its reference rows need not be sent again."""
        for day, rows in applied.reference.items():
            self.sent_reference.setdefault(day, set()).update(rows)
            self.partitions_ready.add(day)

    def order_rows(self, day: dt.date, keys: set[str]) -> tuple[list[tuple[Any, ...]], set[str]]:
        """Rows of the orders `keys` (and the orders replacing them, whose quantity follows
        their predecessors' fills), and the keys of those that have no row now (unknown,
        or unsized: import-fix rejects an order it cannot size at the end of the day)."""
        builder = self.builders[day]
        successors = self._successors[day]
        todo, seen = list(keys), set()
        rows, gone = [], set()
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            order = builder.orders.peek(key)
            if order is None:
                gone.add(key)
                continue
            _note_successor(successors, order)
            todo.extend(successors.get(key, ()))
            row = self._order_row(builder, order)
            if row is None:
                gone.add(key)
            else:
                rows.append(row)
        return rows, gone

    @staticmethod
    def _order_row(builder: DayBuilder, order: Any) -> tuple[Any, ...] | None:
        """The order's warehouse row now (DayBuilder.final_state); None when it cannot be
        sized yet."""
        final = builder.final_state(order)
        if final is None:
            return None
        quantity, cum, status, avg, cancel_time = final
        return (
            order.cl_ord_id, builder.day, order.account_id, order.firm_id, order.symbol,
            order.side, order.order_type, order.tif, quantity, order.limit_price,
            order.transact_time, status, cum, avg, cancel_time,
        )  # fmt: skip

    def fill_rows(self, day: dt.date, keys: set[str]) -> tuple[list[tuple[Any, ...]], set[str]]:
        """Rows of the fills `keys` as executions rows, and the keys no longer fills."""
        builder = self.builders[day]
        rows, gone = [], set()
        for key in keys:
            fill = builder.fills.peek(key)
            if fill is None:
                gone.add(key)
                continue
            _, cl_ord_id, account, symbol, side, qty, price, venue, time = fill
            rows.append((key, day, cl_ord_id, account, symbol, side, qty, price, venue, time))
        return rows, gone

    def fills_of(self, day: dt.date, cl_ord_ids: Iterable[str]) -> set[str]:
        """The exec ids of these orders' fills."""
        builder = self.builders[day]
        found: set[str] = set()
        for key in cl_ord_ids:
            order = builder.orders.peek(key)
            if order is not None:
                found.update(exec_id for exec_id, _, _ in order.fills)
        return found


def _note_successor(successors: dict[str, set[str]], order: Any) -> None:
    """Note that `order` replaces its predecessor, if it replaces one."""
    if order.predecessor:
        successors.setdefault(order.predecessor, set()).add(order.cl_ord_id)
