"""A fill busted or corrected on a later day than its own (docs/fix-import.md, "Corrections").

A venue busts a clearly erroneous trade overnight: the bust is in the next day's drop copy.
Imported together, the two days give the fill to neither; imported apart, the earlier day
keeps it until it is imported again with the later log, and until then status says the
earlier day is not done and run-day refuses it, naming the fill and the log.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from surveil.fix import import_fix
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.fixdropcopy import DropCopy
from tests.reliability.test_day_integrity import cli, one_line, run_day, status_of

D = TRADING_DAY  # Wed 2026-11-25
LATER = dt.date(2026, 11, 27)  # the next session (Thanksgiving between)
EARLIER = dt.date(2026, 11, 24)


def day_with_two_fills(day: DropCopy) -> None:
    """Order C1 filled twice: X00002 (100 at 20.00) and X00003 (50 at 20.00)."""
    day.new("C1", "ACC1", "IBM", "1", 150, "20.00", "15:00:00")  # X00001, the ack
    day.fill("C1", "ACC1", "IBM", "1", 150, "20.00", 100, "15:00:01", cum=100)
    day.fill("C1", "ACC1", "IBM", "1", 150, "20.00", 50, "15:00:02", cum=150)


def next_day_busting(exec_ref: str) -> DropCopy:
    later = DropCopy(LATER)
    later.new("N1", "ACC2", "MSFT", "2", 10, "30.00", "14:30:00")
    later.bust("C1", exec_ref, "ACC1", "IBM", "1", 150, "20.00", "14:31:00")
    return later


def rows(settings: Settings, day: dt.date, table: str) -> list[dict[str, str]]:
    path = settings.data_path / f"trade_date={day}" / f"{table}.csv"
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def write_logs(tmp_path: Path, *days: DropCopy) -> list[Path]:
    return [day.write(tmp_path / f"drop-copy-{day.day}.log") for day in days]


def logs_of_a_day_and_its_bust(tmp_path: Path, exec_ref: str) -> list[Path]:
    """D's log (order C1, two fills) and the next session's, which busts `exec_ref`."""
    first = DropCopy(D)
    day_with_two_fills(first)
    return write_logs(tmp_path, first, next_day_busting(exec_ref))


def test_both_days_imported_together_the_bust_takes_the_fill_off_its_own_day(
    settings: Settings, tmp_path: Path
) -> None:
    logs = logs_of_a_day_and_its_bust(tmp_path, "X00002")
    import_fix(settings, logs)
    assert [e["exec_id"] for e in rows(settings, D, "executions")] == ["X00003"]
    [order] = rows(settings, D, "orders")
    # The order's state comes from the fills left: 50 of 150, at their price.
    assert (order["cum_qty"], order["ord_status"], order["avg_px"]) == ("50", "1", "20.000000")
    # The later day holds the bust as a correction, and no order of its own from it.
    [correction] = rows(settings, LATER, "corrections")
    assert (correction["kind"], correction["ref"], correction["trade_date"]) == (
        "bust",
        "X00002",
        str(LATER),
    )
    assert correction["file"] == "drop-copy-2026-11-27.log"
    assert [o["cl_ord_id"] for o in rows(settings, LATER, "orders")] == ["N1"]


def test_the_day_imported_with_the_later_log_loses_the_busted_fill(
    settings: Settings, tmp_path: Path
) -> None:
    logs = logs_of_a_day_and_its_bust(tmp_path, "X00003")
    result = import_fix(settings, logs, D)
    assert [e["exec_id"] for e in rows(settings, D, "executions")] == ["X00002"]
    assert result.skipped_by_reason["on a later date, taking off a fill of the date"] == 1
    assert not (settings.data_path / f"trade_date={LATER}").exists()


def test_a_correction_on_a_later_day_moves_the_fill_to_that_day(
    settings: Settings, tmp_path: Path
) -> None:
    """ExecType G: the corrected fill is a fill of the correction's day; the old one leaves
    its day, so the two days together count the corrected trade once."""
    first = DropCopy(D)
    day_with_two_fills(first)
    later = DropCopy(LATER)
    later.correct("C1", "X00002", "ACC1", "IBM", "1", 150, "20.00", 100, "19.90", "14:31:00")
    import_fix(settings, write_logs(tmp_path, first, later))
    assert [e["exec_id"] for e in rows(settings, D, "executions")] == ["X00003"]
    [fill] = rows(settings, LATER, "executions")
    assert (fill["fill_qty"], fill["fill_price"]) == ("100", "19.90")
    assert rows(settings, LATER, "corrections")[0]["kind"] == "correction"


def test_a_trade_report_cancelled_on_a_later_day_leaves_its_day(
    settings: Settings, tmp_path: Path
) -> None:
    first = DropCopy(D)
    first.new("C1", "ACC1", "IBM", "1", 10, "20.00", "15:00:00")
    first.trade("T1", "IBM", 300, "20.10", "15:10:00", [("1", "ACC1"), ("2", "ACC2")])
    later = DropCopy(LATER)
    later.new("N1", "ACC2", "MSFT", "2", 10, "30.00", "14:30:00")
    later.trade("T1-X", "IBM", 300, "20.10", "14:31:00", [("1", "ACC1")], "1", ref="T1")
    import_fix(settings, write_logs(tmp_path, first, later))
    assert rows(settings, D, "executions") == []
    assert [o["cl_ord_id"] for o in rows(settings, D, "orders")] == ["C1"]  # not the trade's
    [correction] = rows(settings, LATER, "corrections")
    assert (correction["kind"], correction["ref"]) == ("trade cancel", "T1")


def test_a_loaded_day_holding_a_fill_busted_later_is_not_done_until_imported_again(
    settings: Settings, tmp_path: Path
) -> None:
    first = DropCopy(D)
    day_with_two_fills(first)
    [first_log] = write_logs(tmp_path, first)
    import_fix(settings, [first_log])
    run_day(D, "--no-report")
    assert status_of(D)[1]["done"]

    [later_log] = write_logs(tmp_path, next_day_busting("X00002"))
    import_fix(settings, [later_log])
    run_day(LATER, "--no-report")
    code, row = status_of(D)
    assert code == 5 and not row["done"] and row["next_stage"] == "import-fix"
    assert row["fills_corrected_later"] == [
        "X00002 (bust on 2026-11-27, drop-copy-2026-11-27.log:3)"  # D, its ack, the bust
    ]
    assert status_of(LATER)[1]["done"]  # the day of the bust is done itself

    code, _, err = cli("run-day", "--date", str(D), "--no-report")
    line = one_line(err)
    assert code == 3
    assert "1 of its fills was busted or corrected on a later day: X00002" in line
    assert "drop-copy-2026-11-27.log" in line

    # The way out the line names: the day imported again with the later log.
    import_fix(settings, [first_log, later_log], D, force=True)
    code, _, err = cli("upload", "--date", str(D), "--force")
    assert code == 0, err
    run_day(D, "--no-report")
    code, row = status_of(D)
    assert code == 0 and row["done"] and "fills_corrected_later" not in row


def test_a_bust_names_the_fill_of_the_latest_earlier_day_holding_its_exec_id(
    settings: Settings, tmp_path: Path
) -> None:
    """ExecIDs are unique within a day only: both earlier days have an X00002; the bust of
    the next session is of the latest one's."""
    for day in (EARLIER, D):
        log = DropCopy(day)
        day_with_two_fills(log)
        import_fix(settings, write_logs(tmp_path, log))
        run_day(day, "--no-report")
    import_fix(settings, write_logs(tmp_path, next_day_busting("X00002")))
    run_day(LATER, "--no-report")
    assert status_of(EARLIER)[1]["done"]
    assert status_of(D)[1]["next_stage"] == "import-fix"
