"""A FIX 4.4 drop copy written message by message, for tests that take a day the way a
broker's own flow arrives: through import-fix, then upload, load and detect.

    log = DropCopy(DAY)
    log.new("C", "C1", "FRN", "1", 800, "40.05", "15:22:00")
    log.replace("C.1", "C", "C1", "FRN", "1", 800, "40.10", "15:22:10", confirm_at="15:22:10.1")
    alerts = log.detect(settings, tmp_path, "front_running")

Times are UTC times of day ("15:22:10.5"); sides and capacities are FIX values (54, 528).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from surveil.detect import detect_day, list_alerts
from surveil.fix import import_fix
from surveil.fix.parser import encode_message
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.settings import Settings

Fields = list[tuple[int, str]]


class DropCopy:
    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.messages: list[bytes] = []
        self._seq = {"BROKER": 0, "VENUE": 0}
        self._exec_ids = 0

    def at(self, time_of_day: str) -> str:
        """FIX UTCTimestamp (ms) of a UTC time of day on the log's date."""
        hours, minutes, seconds = time_of_day.split(":")
        whole, _, fraction = seconds.partition(".")
        return f"{self.day:%Y%m%d}-{int(hours):02d}:{int(minutes):02d}:{int(whole):02d}" + (
            f".{fraction.ljust(3, '0')[:3]}"
        )

    def send(self, msg_type: str, sender: str, fields: Fields, when: str) -> None:
        """One message from `sender` (BROKER or VENUE) to the other, sent at `when` (FIX)."""
        self._seq[sender] += 1
        target = "VENUE" if sender == "BROKER" else "BROKER"
        header = [(35, msg_type), (49, sender), (56, target), (34, str(self._seq[sender]))]
        self.messages.append(encode_message("FIX.4.4", [*header, (52, when), *fields]))

    # ---- the broker's requests and the venue's reports

    def new(self, cl: str, account: str, symbol: str, side: str, qty: int, price: str,
            at: str, capacity: str = "A") -> None:  # fmt: skip
        """A limit order (D), acknowledged by the venue (ExecType 0)."""
        when = self.at(at)
        order = _instrument(account, capacity, symbol, side, qty, price)
        self.send("D", "BROKER", [(11, cl), *order, (59, "0"), (60, when)], when)
        self.report(cl, order, "0", "0", when, cum=0)

    def replace(self, cl: str, orig: str, account: str, symbol: str, side: str, qty: int,
                price: str, at: str, confirm_at: str | None = None,
                capacity: str = "A") -> None:  # fmt: skip
        """An OrderCancelReplaceRequest (G) of `orig`, confirmed (ExecType 5) at `confirm_at`
        when given."""
        when = self.at(at)
        order = _instrument(account, capacity, symbol, side, qty, price)
        self.send("G", "BROKER", [(11, cl), (41, orig), *order, (60, when)], when)
        if confirm_at is not None:
            self.report(cl, order, "5", "0", self.at(confirm_at), extra=[(41, orig)])

    def reject_replace(self, cl: str, orig: str, at: str, status: str) -> None:
        """The venue's OrderCancelReject (9) of replace request `cl`: "too late to replace"."""
        when = self.at(at)
        fields = [(37, f"OID-{orig}"), (11, cl), (41, orig), (39, status), (434, "2"), (102, "0")]
        self.send("9", "VENUE", [*fields, (60, when)], when)

    def fill(self, cl: str, account: str, symbol: str, side: str, qty: int, price: str,
             last_qty: int, at: str, cum: int, capacity: str = "A") -> None:  # fmt: skip
        """A fill (ExecType F) of `last_qty` at the order's price."""
        order = _instrument(account, capacity, symbol, side, qty, price)
        status = "2" if cum >= qty else "1"
        last = [(32, str(last_qty)), (31, price), (30, "XNYS")]
        self.report(cl, order, "F", status, self.at(at), cum=cum, extra=last)

    def filled(self, cl: str, account: str, symbol: str, side: str, qty: int, price: str,
               at: str, capacity: str = "A") -> None:  # fmt: skip
        """An order filled in full as it arrives."""
        self.new(cl, account, symbol, side, qty, price, at, capacity)
        self.fill(cl, account, symbol, side, qty, price, qty, at, qty, capacity)

    def cancel(self, cl: str, account: str, symbol: str, side: str, qty: int, price: str,
               at: str, capacity: str = "A") -> None:  # fmt: skip
        """An OrderCancelRequest (F) and the venue's cancel (ExecType 4)."""
        when = self.at(at)
        order = _instrument(account, capacity, symbol, side, qty, price)
        self.send("F", "BROKER", [(11, f"{cl}-x"), (41, cl), *order[:6], (60, when)], when)
        self.report(f"{cl}-x", order, "4", "4", when, extra=[(41, cl)])

    def bust(self, cl: str, exec_ref: str, account: str, symbol: str, side: str, qty: int,
             price: str, at: str, capacity: str = "A") -> None:  # fmt: skip
        """The venue's bust (ExecType H) of fill `exec_ref` of order `cl`."""
        order = _instrument(account, capacity, symbol, side, qty, price)
        self.report(cl, order, "H", "0", self.at(at), cum=0, extra=[(19, exec_ref)])

    def correct(self, cl: str, exec_ref: str, account: str, symbol: str, side: str, qty: int,
                price: str, last_qty: int, last_px: str, at: str,
                capacity: str = "A") -> None:  # fmt: skip
        """The venue's correction (ExecType G) of fill `exec_ref`: `last_qty` at `last_px`."""
        order = _instrument(account, capacity, symbol, side, qty, price)
        extra = [(19, exec_ref), (32, str(last_qty)), (31, last_px), (30, "XNYS")]
        self.report(cl, order, "G", "2", self.at(at), cum=last_qty, extra=extra)

    def trade(self, trade_id: str, symbol: str, qty: int, price: str, at: str,
              sides: list[tuple[str, str]], trans_type: str = "0",
              ref: str | None = None) -> None:  # fmt: skip
        """A TradeCaptureReport (AE) of `qty` at `price`, each side (side, account) one
        execution; TradeReportTransType `trans_type` (1 cancels trade `ref`)."""
        when = self.at(at)
        fields = [(571, trade_id), (487, trans_type), *([(572, ref)] if ref else [])]
        fields += [(55, symbol), (32, str(qty)), (31, price), (60, when), (552, str(len(sides)))]
        for side, account in sides:
            fields += [(54, side), (1, account)]
        self.send("AE", "VENUE", fields, when)

    def report(self, cl: str, order: Fields, exec_type: str, status: str, when: str,
               cum: int | None = None, extra: Fields | None = None) -> None:  # fmt: skip
        self._exec_ids += 1
        fields = [(37, f"OID-{cl}"), (11, cl), (17, f"X{self._exec_ids:05d}")]
        fields += [(150, exec_type), (39, status), *order, *(extra or [])]
        if cum is not None:
            fields.append((14, str(cum)))
        self.send("8", "VENUE", [*fields, (60, when)], when)

    # ---- the day through the pipeline

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(m + b"\n" for m in self.messages))
        return path

    def load(self, settings: Settings, folder: Path) -> None:
        """import-fix, upload and load the day."""
        import_fix(settings, [self.write(folder / "drop-copy.log")])
        upload_day(settings, self.day)
        load_day(settings, self.day)

    def detect(self, settings: Settings, folder: Path, rule: str) -> list[dict[str, Any]]:
        """The day's alerts of `rule`, the log imported, uploaded and loaded first."""
        self.load(settings, folder)
        detect_day(settings, self.day, rule=rule)
        return list_alerts(settings, self.day, rule)

    def rows(self, settings: Settings, table: str) -> dict[str, dict[str, str]]:
        """The imported day's `table` (orders or executions) by its key."""
        path = settings.data_path / f"trade_date={self.day}" / f"{table}.csv"
        with path.open(newline="") as fh:
            return {row[next(iter(row))]: row for row in csv.DictReader(fh)}


def _instrument(account: str, capacity: str, symbol: str, side: str, qty: int,
                price: str) -> Fields:  # fmt: skip
    return [(1, account), (528, capacity), (55, symbol), (54, side), (38, str(qty)),
            (40, "2"), (44, price)]  # fmt: skip
