"""An amended order is a replace chain: one row per ClOrdID, the replaced links OrdStatus 5.

A broker's drop copy amends orders all day (an algorithm re-pricing a resting order, a
client changing a size). Written as cancelled (4), as import-fix did until spoofing v5 and
front_running v5, each amendment read as a cancel and each link as an order of its own:
an amended layer that then filled looked like a layer cancelled, and a client order
re-priced twice was a parent of three times its size. A replace request the venue refused
(35=9) was a live order of its own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from surveil.db import connect
from surveil.evidence import alert_evidence
from surveil.fix import import_fix
from surveil.fixwriter import write_fix_log
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.settings import Settings
from surveil.validate import validate_day
from tests.fixdropcopy import DropCopy
from tests.test_watch import assert_same_rows
from tests.watchlog import count, day_rows, watcher

DAY = dt.date(2026, 11, 25)


def spoofing_day(layers_end: str) -> DropCopy:
    """INST rests two 2,000-share sells over a 100-share buy that fills; then the sells are
    either cancelled ("cancel", the layering pattern) or re-priced to the market and filled
    in full ("amend")."""
    log = DropCopy(DAY)
    for i, account in enumerate(("BG1", "BG2", "BG3", "BG4")):
        for j in range(6):
            side = "1" if (i + j) % 2 else "2"
            log.filled(f"bg{i}{j}", account, "SPF", side, 100, "20.00", f"15:0{j}:{10 * i:02d}")
    for k in range(10):  # INST's ordinary business elsewhere: fills of 100
        log.filled(f"oth{k}", "INST", "OTH", "1" if k % 2 else "2", 100, "50.00", f"14:4{k}:00")
    log.new("S1", "INST", "SPF", "2", 2000, "20.30", "15:10:00")
    log.new("S2", "INST", "SPF", "2", 2000, "20.40", "15:10:01")
    log.new("B", "INST", "SPF", "1", 100, "20.02", "15:10:05")
    log.fill("B", "INST", "SPF", "1", 100, "20.02", 100, "15:10:06", 100)
    for n, cl in enumerate(("S1", "S2")):
        at = f"15:10:1{n}"
        if layers_end == "cancel":
            log.cancel(cl, "INST", "SPF", "2", 2000, "20.30", at)
        else:
            log.replace(f"{cl}a", cl, "INST", "SPF", "2", 2000, "20.05", at, f"{at}.2")
            log.fill(f"{cl}a", "INST", "SPF", "2", 2000, "20.05", 2000, f"15:1{2 + 2 * n}:00", 2000)
    return log


def test_cancelled_layers_are_spoofing_on_this_day(settings: Settings, tmp_path: Path) -> None:
    """The control: the same layers cancelled after the buy filled are the pattern."""
    alerts = spoofing_day("cancel").detect(settings, tmp_path, "spoofing")
    assert [(a["account_ids"], sorted(a["cl_ord_ids"])) for a in alerts] == [
        (["INST"], ["B", "S1", "S2"])
    ]


def test_an_amended_order_that_then_fills_is_no_cancelled_layer(
    settings: Settings, tmp_path: Path
) -> None:
    log = spoofing_day("amend")
    alerts = log.detect(settings, tmp_path, "spoofing")
    orders = log.rows(settings, "orders")
    assert [orders[k]["ord_status"] for k in ("S1", "S1a", "S2", "S2a")] == ["5", "2", "5", "2"]
    assert orders["S1"]["cancel_time"] == "2026-11-25T15:10:10.200000Z"  # when it was replaced
    assert alerts == []
    assert validate_day(settings, DAY).failed == []  # OrdStatus 5 is a status FIX defines


def front_running_day(client_orders: list[tuple[str, int, str]], amend: int) -> DropCopy:
    """P1 (proprietary, the client's firm) buys 900 FRN ahead of client C1's buy and sells it
    later; C1's orders are (ClOrdID, quantity, time); the first is re-priced `amend` times
    before it fills."""
    log = DropCopy(DAY)
    for k in range(10):
        log.filled(f"bg{k}", "A3", "FRN", "1", 100, "40.00", f"15:0{k}:00")
    log.filled("P-ahead", "P1", "FRN", "1", 900, "40.00", "15:20:00", capacity="P")
    first, qty, at = client_orders[0]
    log.new(first, "C1", "FRN", "1", qty, "40.05", at)
    for n in range(amend):
        cl, orig = f"{first}.{n + 1}", first if n == 0 else f"{first}.{n}"
        when = f"15:22:{10 * (n + 1)}"
        log.replace(cl, orig, "C1", "FRN", "1", qty, f"40.{10 + 5 * n}", when, f"{when}.1")
    last = f"{first}.{amend}" if amend else first
    log.fill(last, "C1", "FRN", "1", qty, "40.05", qty, "15:23:00", qty)
    for cl, qty, at in client_orders[1:]:
        log.filled(cl, "C1", "FRN", "1", qty, "40.05", at)
    log.filled("P-unwind", "P1", "FRN", "2", 900, "40.15", "15:30:00", capacity="P")
    return log


@pytest.mark.parametrize("amend", [0, 2])
def test_a_client_order_repriced_is_its_size_once(
    settings: Settings, tmp_path: Path, amend: int
) -> None:
    """800 shares against a median of 100 is 8x, under client_size_multiple (10x): no parent,
    however often the client's algorithm re-priced it (version 4 counted 2,400)."""
    log = front_running_day([("C", 800, "15:22:00")], amend)
    assert log.detect(settings, tmp_path, "front_running") == []
    if amend:
        statuses = [log.rows(settings, "orders")[k]["ord_status"] for k in ("C", "C.1", "C.2")]
        assert statuses == ["5", "5", "2"]


def test_a_large_parent_of_amended_children_is_still_found(
    settings: Settings, tmp_path: Path
) -> None:
    """The control: 800 re-priced twice and two more children of 400 make a 1,600-share
    parent (16x), traded ahead and unwound: one alert naming three children."""
    children = [("C", 800, "15:22:00"), ("D", 400, "15:24:00"), ("E", 400, "15:26:00")]
    alerts = front_running_day(children, amend=2).detect(settings, tmp_path, "front_running")
    assert len(alerts) == 1
    assert "the first of 3, 1600 shares in all" in alerts[0]["explanation"]
    # Its evidence shows C re-priced (replaced), never cancelled.
    with connect(settings) as conn:
        evidence = alert_evidence(conn, alerts[0]["alert_id"])
    assert evidence is not None
    ends = [(e.cl_ord_id, e.kind) for e in evidence.events if e.kind in ("cancelled", "replaced")]
    assert ends == [("C", "replaced"), ("C.1", "replaced")]


def test_a_replace_the_venue_rejected_is_no_order(settings: Settings, tmp_path: Path) -> None:
    """The client's re-price arrives as the order fills: the venue refuses it with an
    OrderCancelReject (9). The request wrote a live 800-share order of its own, and the
    client's 800 counted twice (a 1,600-share parent, 16x: an alert)."""
    log = front_running_day([("C", 800, "15:22:00")], amend=0)
    log.replace("C.1", "C", "C1", "FRN", "1", 800, "40.10", "15:23:00.010")
    log.reject_replace("C.1", "C", "15:23:00.020", status="2")
    assert log.detect(settings, tmp_path, "front_running") == []
    orders = log.rows(settings, "orders")
    assert "C.1" not in orders
    assert (orders["C"]["ord_status"], orders["C"]["cum_qty"]) == ("2", "800")


def test_an_unanswered_replace_request_stays_an_order(settings: Settings, tmp_path: Path) -> None:
    """A log of the broker's side only, or one cut before the venue answered: the request is
    the order as far as the log knows (unchanged), and a reject of a cancel removes nothing."""
    log = front_running_day([("C", 800, "15:22:00")], amend=0)
    log.replace("C.1", "C", "C1", "FRN", "1", 800, "40.10", "15:23:00.010")
    log.send("9", "VENUE", [(11, "C-x"), (41, "C"), (39, "2"), (434, "1")], log.at("15:23:01"))
    log.load(settings, tmp_path)
    assert log.rows(settings, "orders")["C.1"]["ord_status"] == "0"


def test_a_replaced_order_writes_back_to_fix_and_imports_the_same(tmp_path: Path) -> None:
    """import → write_fix_log → import keeps a replaced order replaced (ExecType 5 on its
    own ClOrdID), not cancelled."""
    first, second = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    log = front_running_day([("C", 800, "15:22:00")], amend=2)
    import_fix(first, [log.write(tmp_path / "drop.log")])
    written = tmp_path / "again.fix"
    write_fix_log(first.data_path / f"trade_date={DAY}", written, prefix=False)
    import_fix(second, [written])
    again = DropCopy(DAY)
    assert again.rows(second, "orders") == log.rows(first, "orders")
    assert again.rows(second, "orders")["C.1"]["ord_status"] == "5"


def test_watch_drops_a_rejected_replace_it_had_written(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Intraday, the request is a row until the venue's reject arrives; then it goes, and
    the watched day equals import-fix's."""
    log = front_running_day([("C", 800, "15:22:00")], amend=0)
    log.replace("C.1", "C", "C1", "FRN", "1", 800, "40.10", "15:23:00.010")
    live = log.write(tmp_path / "live.log")
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        assert count(conn, "SELECT count(*) FROM orders WHERE cl_ord_id = 'C.1'") == 1
        log.messages.clear()
        log.reject_replace("C.1", "C", "15:23:00.020", status="2")
        with live.open("ab") as fh:
            fh.write(log.messages[0] + b"\n")
        w.poll_until_idle()
    assert count(conn, "SELECT count(*) FROM orders WHERE cl_ord_id = 'C.1'") == 0
    watched = day_rows(conn, DAY)
    import_fix(settings, [live])
    upload_day(settings, DAY)
    load_day(settings, DAY, force=True)
    assert_same_rows(watched, day_rows(conn, DAY), ("orders", "executions"))
