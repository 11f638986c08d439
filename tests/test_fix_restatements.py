"""import-fix never counts a fill twice: CumQty(14) restated over a replace chain or across
days, a fill reported while a cancel is pending, and resent reports and trade reports
(docs/fix-import.md, "ExecutionReports", "TradeCaptureReport"). Each of these logs once
gave executions the log does not hold, or a final state it does not say, with nothing
counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg

from surveil.fix import import_fix
from surveil.settings import Settings
from tests.test_import_fix import DAY, fix, local, new_order, report, table, write_log

__all__ = ["local"]  # the fixture, used by name

FILLED_100 = [(32, "100"), (31, "10"), (14, "100"), (151, "200"), (6, "10")]
REPLACE = [(11, "O2"), (41, "O1"), (1, "ACC1"), (55, "IBM"), (54, "1"), (38, "300")]
REPLACE += [(40, "2"), (44, "10.5"), (60, "20261125-15:00:03")]


def fills(settings: Settings, day: dt.date) -> list[tuple[str, str, str]]:
    return [
        (e["exec_id"], e["cl_ord_id"], e["fill_qty"]) for e in table(settings, day, "executions")
    ]


def orders(settings: Settings, day: dt.date) -> dict[str, tuple[str, str]]:
    return {o["cl_ord_id"]: (o["ord_status"], o["cum_qty"]) for o in table(settings, day, "orders")}


def test_cumqty_counted_over_the_replace_chain_is_no_new_fill(
    local: Settings, tmp_path: Path
) -> None:
    """O1 fills 100, O2 replaces it; the confirmation and O2's cancel say CumQty 100, as FIX
    counts it over the chain: E1 is the only execution."""
    log = write_log(
        tmp_path / "chain.log",
        new_order("O1", at="20261125-15:00:00"),
        report("O1", "E1", "F", "1", at="20261125-15:00:02", seq=1, extra=FILLED_100),
        fix("G", REPLACE, seq=2, at="20261125-15:00:03"),
        report("O2", "E2", "5", "1", at="20261125-15:00:04", seq=2, extra=[(41, "O1"), (14, "100"), (6, "10")]),
        report("C1", "E3", "4", "4", at="20261125-15:10:00", seq=3, extra=[(41, "O2"), (14, "100"), (151, "0"), (6, "10")]),
    )  # fmt: skip
    result = import_fix(local, [log])
    assert fills(local, DAY) == [("E1", "O1", "100")]
    assert orders(local, DAY) == {"O1": ("5", "100"), "O2": ("4", "0")}  # O1 replaced by O2
    assert result.skipped_by_reason == {}


def test_a_cumqty_rise_in_the_chain_dialect_fills_only_the_difference(
    local: Settings, tmp_path: Path
) -> None:
    """A fill in the CumQty dialect (no LastQty) on the replacing order: CumQty 150 over the
    chain after O1's 100 is a fill of 50, priced from AvgPx over the chain."""
    log = write_log(
        tmp_path / "rise.log",
        new_order("O1", at="20261125-15:00:00"),
        report("O1", "E1", "F", "1", at="20261125-15:00:02", seq=1, extra=FILLED_100),
        fix("G", REPLACE, seq=2, at="20261125-15:00:03"),
        report("O2", "E2", "5", "1", at="20261125-15:00:04", seq=2, extra=[(41, "O1")]),
        report("O2", "E3", "0", "1", at="20261125-15:00:05", seq=3, extra=[(14, "150"), (6, "10.2")]),
    )  # fmt: skip
    import_fix(local, [log])
    executions = table(local, DAY, "executions")
    assert [(e["exec_id"], e["fill_qty"], e["fill_price"]) for e in executions] == [
        ("E1", "100", "10"),
        ("E3", "50", "10.6"),  # (10.2 x 150 - 10 x 100) / 50
    ]


def test_a_cancel_of_an_order_filled_on_an_earlier_day_makes_no_fill_on_its_own_day(
    local: Settings, tmp_path: Path
) -> None:
    """A good-till-cancel order fills 100 on the 24th and is cancelled on the 25th, the
    cancel saying CumQty 100: the 100 shares were the 24th's, counted once, and the 25th
    says why it made no fill of it."""
    gtc = [(59, "1")]
    log = write_log(
        tmp_path / "gtc.log",
        new_order("G1", at="20261124-15:00:00"),
        report("G1", "E1", "F", "1", at="20261124-15:00:02", seq=1, extra=[*FILLED_100, *gtc]),
        report("G1", "E2", "4", "4", at="20261125-14:35:00", seq=2, extra=[(14, "100"), (151, "0"), (6, "10"), *gtc]),
    )  # fmt: skip
    result = import_fix(local, [log])
    assert fills(local, dt.date(2026, 11, 24)) == [("E1", "G1", "100")]
    assert fills(local, DAY) == []
    assert orders(local, DAY) == {"G1": ("4", "0")}
    (reason,) = result.skipped_by_reason
    assert reason.startswith("CumQty above the order's fills in the log on a cancel")


def test_a_fill_while_a_cancel_is_pending_is_the_order_s_and_counted_once(
    local: Settings, tmp_path: Path
) -> None:
    """FIX names the cancel request in ClOrdID(11) while it is pending, the order in 41: the
    fill is O1's, and the cancel's CumQty 100 restates it."""
    pending = [(41, "O1")]
    log = write_log(
        tmp_path / "pending.log",
        new_order("O1", at="20261125-15:00:00"),
        report("C1", "E1", "6", "6", at="20261125-15:00:05", seq=1, extra=pending),
        report("C1", "E2", "F", "6", at="20261125-15:00:06", seq=2, extra=[*pending, (32, "100"), (31, "10"), (14, "100"), (6, "10")]),
        report("C1", "E3", "4", "4", at="20261125-15:00:07", seq=3, extra=[*pending, (14, "100"), (151, "0"), (6, "10")]),
    )  # fmt: skip
    result = import_fix(local, [log])
    assert fills(local, DAY) == [("E2", "O1", "100")]
    assert orders(local, DAY) == {"O1": ("4", "100")}
    assert result.days[0].synthesized_orders == 0


def trade(trade_id: str, trans: str, *, at: str, seq: int, ref: str | None = None, resend: bool = False, qty: str = "100", px: str = "10") -> bytes:  # fmt: skip
    """A TradeCaptureReport of IBM between BUYACC (order OID-B) and SELLACC."""
    fields = [(571, trade_id), (487, trans), *([(572, ref)] if ref else [])]
    fields += [(55, "IBM"), (32, qty), (31, px), (60, at), (552, "2")]
    fields += [(54, "1"), (37, "OID-B"), (1, "BUYACC"), (54, "2"), (37, "OID-S"), (1, "SELLACC")]
    if resend:
        fields.insert(0, (43, "Y"))
    return fix("AE", fields, sender="TRF", target="CLIENT", seq=seq, at=at)


def test_a_trade_report_resent_and_then_cancelled_leaves_no_execution(
    local: Settings, tmp_path: Path
) -> None:
    """The resend's sides are duplicates; the trade keeps its executions, so the cancel
    removes them, and the orders made only for the trade go with them."""
    at = "20261125-15:00:00"
    log = write_log(
        tmp_path / "tcr.log",
        new_order("O1", at=at),
        trade("T1", "0", at=at, seq=1),
        trade("T1", "0", at=at, seq=1, resend=True),
        trade("T2", "1", ref="T1", at="20261125-15:10:00", seq=2),
    )
    result = import_fix(local, [log])
    assert fills(local, DAY) == []
    assert orders(local, DAY) == {"O1": ("0", "0")}
    assert result.days[0].synthesized_orders == 0 and result.rejected == 0
    assert "trade report cancel/replace of a trade not in the log" not in result.skipped_by_reason


def test_a_replaced_trade_report_leaves_only_the_new_trade_and_no_unsized_order(
    local: Settings, tmp_path: Path
) -> None:
    """T2 (sides named by account only) replaced by T3: the orders made for T2's sides have
    no fill left and nothing else speaks of them; kept, they failed the import as orders
    that cannot be sized."""
    sides = [(552, "2"), (54, "1"), (1, "ACCB"), (54, "2"), (1, "ACCS")]
    t2 = [(571, "T2"), (487, "0"), (55, "IBM"), (32, "40"), (31, "10.5")]
    t3 = [(571, "T3"), (487, "2"), (572, "T2"), (55, "IBM"), (32, "45"), (31, "10.75")]
    log = write_log(
        tmp_path / "replace.log",
        new_order("O1", at="20261125-15:00:00"),
        fix("AE", [*t2, (60, "20261125-15:01:00"), *sides], seq=2, at="20261125-15:01:00"),
        fix("AE", [*t3, (60, "20261125-15:02:00"), *sides], seq=3, at="20261125-15:02:00"),
    )
    result = import_fix(local, [log])
    assert result.rejected == 0
    assert fills(local, DAY) == [("T3-1", "T3-1", "45"), ("T3-2", "T3-2", "45")]
    assert set(orders(local, DAY)) == {"O1", "T3-1", "T3-2"}


def resent(message: bytes) -> bytes:
    """The message as a resend: PossDupFlag(43)=Y after its header (checksum made again)."""
    from surveil.fix.parser import encode_message

    begin, _, rest = message.partition(b"\x01")
    fields = [tuple(f.split(b"=", 1)) for f in rest.split(b"\x01") if f]
    body = [(int(t), v.decode()) for t, v in fields if t not in (b"9", b"10")]
    return encode_message(begin.split(b"=")[1].decode(), [*body[:5], (43, "Y"), *body[5:]])


def test_a_report_resent_after_the_cancel_does_not_reopen_the_order(
    local: Settings, tmp_path: Path
) -> None:
    """QuickFIX logs a resend as it arrives: the New and the fill, resent after the cancel,
    say the order was live; it stays cancelled, with its one fill and its cancel time."""
    new = report("O1", "E0", "0", "0", at="20261125-15:00:01", seq=1)
    fill = report("O2", "E1", "F", "1", at="20261125-15:00:02", seq=2, extra=FILLED_100)
    cancel = [(14, "0"), (151, "0")]
    log = write_log(
        tmp_path / "resend.log",
        new_order("O1", at="20261125-15:00:00"),
        new_order("O2", at="20261125-15:00:00", seq=2),
        new,
        fill,
        report("C1", "E8", "4", "4", at="20261125-15:05:00", seq=3, extra=[(41, "O1"), *cancel]),
        report("C2", "E9", "4", "4", at="20261125-15:05:00", seq=4, extra=[(41, "O2"), (14, "100"), (151, "0"), (6, "10")]),
        resent(new),
        resent(fill),
    )  # fmt: skip
    import_fix(local, [log])
    rows = {o["cl_ord_id"]: o for o in table(local, DAY, "orders")}
    assert [(o["ord_status"], o["cum_qty"], o["cancel_time"]) for o in rows.values()] == [
        ("4", "0", "2026-11-25T15:05:00.000000Z"),
        ("4", "100", "2026-11-25T15:05:00.000000Z"),
    ]
    assert fills(local, DAY) == [("E1", "O2", "100")]


def test_a_replace_confirmation_logged_after_the_next_one_leaves_the_order_replaced(
    local: Settings, tmp_path: Path
) -> None:
    """A -> B -> C, C's confirmation logged before B's: B was replaced by C and stays so."""

    def replace(new: str, old: str, at: str, seq: int) -> bytes:
        fields = [(11, new), (41, old), (1, "ACC1"), (55, "IBM"), (54, "1"), (38, "300")]
        return fix("G", [*fields, (40, "2"), (44, "10"), (60, at)], seq=seq, at=at)

    log = write_log(
        tmp_path / "chain.log",
        new_order("A", at="20261125-15:00:00"),
        replace("B", "A", "20261125-15:00:02", 2),
        replace("C", "B", "20261125-15:00:03", 3),
        report("C", "R2", "5", "0", at="20261125-15:00:05", seq=3, extra=[(41, "B")]),
        report("B", "R1", "5", "0", at="20261125-15:00:04", seq=2, extra=[(41, "A")]),
    )
    import_fix(local, [log])
    assert orders(local, DAY) == {"A": ("5", "0"), "B": ("5", "0"), "C": ("0", "0")}  # replaced


def test_a_watched_trade_cancel_removes_the_trade_s_rows_from_the_warehouse(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """watch writes each trade report as it comes: the cancel later deletes the trade's
    executions and the orders made for them, leaving what import-fix gives."""
    from surveil.lake import upload_day
    from surveil.load import load_day
    from tests.test_watch import assert_same_rows
    from tests.watchlog import day_rows, watcher

    at = "20261125-15:00:00"
    live = write_log(tmp_path / "tcr.log", new_order("O1", at=at), trade("T1", "0", at=at, seq=1))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        assert conn.execute("SELECT count(*) FROM executions").fetchone() == (2,)
        with live.open("ab") as fh:
            fh.write(trade("T2", "1", ref="T1", at="20261125-15:10:00", seq=2) + b"\n")
        w.poll_until_idle()
    watched = day_rows(conn, DAY)
    assert [r[0] for r in conn.execute("SELECT cl_ord_id FROM orders")] == ["O1"]
    import_fix(settings, [live])
    upload_day(settings, DAY)
    load_day(settings, DAY, force=True)
    assert_same_rows(watched, day_rows(conn, DAY), ("orders", "executions", "accounts"))


def test_a_cancel_that_states_its_fill_in_one_report_keeps_the_fill(
    local: Settings, tmp_path: Path
) -> None:
    """FIX 4.2 venues report an immediate-or-cancel's fill and its cancel in one message
    (ExecType 4 with LastShares): that fill is the log's only record of it."""
    log = write_log(
        tmp_path / "ioc.log",
        new_order("O1", at="20261125-15:00:00"),
        report("O1", "E1", "4", "4", at="20261125-15:00:01", seq=1, extra=[(20, "0"), (32, "100"), (31, "10"), (14, "100"), (151, "0"), (6, "10")], version="FIX.4.2"),
    )  # fmt: skip
    import_fix(local, [log])
    assert fills(local, DAY) == [("E1", "O1", "100")]
    assert orders(local, DAY) == {"O1": ("4", "100")}


def test_a_rejected_cancel_request_leaves_the_order_live(local: Settings, tmp_path: Path) -> None:
    """An ExecutionReport rejecting cancel request C1 (OrdStatus 8, 11=C1, 41=O1) rejects
    the request, not O1, which goes on to fill."""
    log = write_log(
        tmp_path / "rejected.log",
        new_order("O1", at="20261125-15:00:00"),
        report("C1", "E1", "8", "8", at="20261125-15:00:02", seq=1, extra=[(41, "O1")]),
        report("O1", "E2", "F", "1", at="20261125-15:00:03", seq=2, extra=FILLED_100),
    )
    import_fix(local, [log])
    rows = {o["cl_ord_id"]: o for o in table(local, DAY, "orders")}
    assert (rows["O1"]["ord_status"], rows["O1"]["cum_qty"], rows["O1"]["cancel_time"]) == (
        "1",
        "100",
        "",
    )


def test_a_trade_replaced_under_its_own_id_is_the_new_trade(
    local: Settings, tmp_path: Path
) -> None:
    """Venues that reuse the TradeReportID for the replace (487=2) and name no
    TradeReportRefID: the replace's 80 at 10.5 stand, the first 100 at 10 go."""
    at = "20261125-15:00:00"
    log = write_log(
        tmp_path / "tcr.log",
        new_order("O1", at=at),
        trade("T1", "0", at=at, seq=1),
        trade("T1", "2", at="20261125-15:10:00", seq=2, qty="80", px="10.5"),
    )
    result = import_fix(local, [log])
    executions = table(local, DAY, "executions")
    assert [(e["exec_id"], e["fill_qty"], e["fill_price"]) for e in executions] == [
        ("T1-1", "80", "10.5"),
        ("T1-2", "80", "10.5"),
    ]
    assert result.skipped_by_reason == {}
