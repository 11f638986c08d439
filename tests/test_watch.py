"""`surveil watch` (issue 23): a live FIX log into the warehouse, alerts as it goes.

Every test drives the watcher step by step (poll_once, detect) over a real log file and
the real embedded PostgreSQL; nothing waits on a clock."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import psycopg
import pytest

from surveil.detect import detect_day
from surveil.fix import import_fix
from surveil.fixwriter import write_fix_log
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.manifest import day_dir_name
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.daybuilder import DayBuilder
from tests.watchlog import count, day_rows, generated_log, watcher


def batch_day(settings: Settings, log: Path, day: dt.date, conn: psycopg.Connection) -> dict:
    """The same log through import-fix, upload, load --force and detect: the batch day."""
    import_fix(settings, [log], force=True)
    upload_day(settings, day)
    load_day(settings, day, force=True)
    detect_day(settings, day)
    return day_rows(conn, day)


@pytest.mark.parametrize("window", [None, 40], ids=["held", "spilled"])
def test_a_watched_day_equals_import_fix_then_load_and_detect(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, window: int | None
) -> None:
    """`spilled`: the day's orders and fills mostly past the in-memory window, in the
    spill file, when their rows are built."""
    if window is not None:
        settings = settings.model_copy(update={"watch_window": window})
    log = generated_log(tmp_path, TRADING_DAY)
    w, out = watcher(settings, log, batch_bytes=64 << 10)  # many batches over the day
    with w:
        w.poll_until_idle()
        new = w.detect()
        assert w._days is not None
        builder = w._days.builders[TRADING_DAY]
        assert builder.orders.any_spilled == builder.fills.any_spilled == (window is not None)
    watched = day_rows(conn, TRADING_DAY)
    assert len(watched["orders"]) == 300 and watched["executions"] and watched["alerts"]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {a["alert_id"] for a in lines} == {a["alert_id"] for a in new}
    assert {a["alert_id"] for a in lines} == {r[0] for r in watched["alerts"]}
    batch = batch_day(settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch, ("orders", "executions", "alerts", "accounts", "firms"))


def test_each_rule_s_alerts_are_written_as_soon_as_that_rule_has_run(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, monkeypatch
) -> None:
    """A pass runs the rules one after the other; a rule's new alerts are paged when it is
    done, not after the slowest of the others has run."""
    from surveil.watch import alerts

    started: list[str] = []
    original = alerts.detect_pass

    def detect_pass(conn, day, params, names, lock_s):  # type: ignore[no-untyped-def]
        started.extend(names)
        return original(conn, day, params, names, lock_s)

    monkeypatch.setattr(alerts, "detect_pass", detect_pass)
    log = generated_log(tmp_path, TRADING_DAY)
    w, out = watcher(settings, log)
    written: list[tuple[str, list[str]]] = []  # (rule of the line, rules started by then)
    write = out.write
    out.write = lambda text: (  # type: ignore[method-assign]
        written.extend((json.loads(t)["rule"], list(started)) for t in text.splitlines()),
        write(text),
    )[1]
    with w:
        w.poll_until_idle()
        w.detect()
    assert len({rule for rule, _ in written}) >= 2, written
    for rule, by_then in written:
        assert by_then[-1] == rule  # no later rule had started when its lines were written
    assert started == w.rules


def test_an_alert_a_later_pass_no_longer_finds_is_withdrawn_in_a_line_of_its_own(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """By 17:00 A1 has sent 41 orders and traded once (excessive_otr fires, and is paged);
    from 20:00 it trades 30 times more, and the day's ratio is ordinary: the next pass tells
    the desk the alert is withdrawn, rather than leaving it with one the record lacks."""
    day = DayBuilder()
    for account in ("A3", "A4", "A5", "M1"):
        for k in range(20):
            day.filled(account, "OTR", "buy", 100, "10.00", f"15:{k:02d}:00")
    for k in range(40):
        day.order("A1", "OTR", "sell", 100, f"16:{k:02d}:00", "10.50", cancel_at=f"16:{k:02d}:01")
    day.filled("A1", "OTR", "sell", 100, "10.00", "17:00:00")
    for k in range(30):
        day.filled("A1", "OTR", "sell", 100, "10.00", f"20:{k:02d}:00")
    day.write(tmp_path / "lake")
    whole = tmp_path / "whole.log"
    write_fix_log(tmp_path / "lake" / day_dir_name(TRADING_DAY), whole)
    lines = whole.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b"\x0160=20261125-20:" in line)
    live = tmp_path / "live.log"
    live.write_bytes(b"".join(lines[:cut]))
    w, out = watcher(settings, live)
    with w:
        w.poll_until_idle()
        w.detect()
        (paged,) = [json.loads(line) for line in out.getvalue().splitlines()]
        assert (paged["rule"], paged["account_ids"], paged["status"]) == (
            "excessive_otr",
            ["A1"],
            "new",
        )
        with live.open("ab") as log:
            log.write(b"".join(lines[cut:]))
        w.poll_until_idle()
        w.detect()
    (withdrawn,) = [json.loads(line) for line in out.getvalue().splitlines()][1:]
    assert withdrawn == {
        "alert_id": paged["alert_id"],
        "trade_date": str(TRADING_DAY),
        "rule": "excessive_otr",
        "status": "withdrawn",
        "withdrawn_at": withdrawn["withdrawn_at"],
    }
    assert w.totals.withdrawn == 1 and w.totals.alerts == 1
    assert (
        count(conn, "SELECT count(*) FROM alerts WHERE trade_date = %s", TRADING_DAY) == 0
    )  # as detect of the whole day finds


def test_detection_passes_start_every_interval_start_to_start(
    settings: Settings, monkeypatch
) -> None:
    """Passes of 1.5 s every 2 s: the next starts 0.5 s after one ends (it waited 2 s after
    each before, so alerts waited for the pass's length on top of the interval); a pass
    longer than the interval is followed by the next at once. A clock of the test's own."""
    import types

    from surveil.watch import detector as detector_module

    clock = [100.0]
    monkeypatch.setattr(detector_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    d = detector_module.Detector(settings, {}, [], io.StringIO(), print)
    lengths = iter([1.5, 1.5, 3.0, 1.0])
    waits: list[float] = []

    def wait(timeout: float) -> bool:
        waits.append(round(timeout, 6))
        clock[0] += timeout
        return len(waits) > 4  # stop after four passes

    def pass_now() -> list:
        clock[0] += next(lengths)
        return []

    monkeypatch.setattr(d._stop, "wait", wait)
    monkeypatch.setattr(d, "pass_now", pass_now)
    d._loop(2.0)
    assert waits == [2.0, 0.5, 0.5, 0.0, 1.0]
    assert d.failure is None


JOURNAL = "SELECT count(*), count(DISTINCT seq), coalesce(max(seq), -1) FROM watch_messages"


def assert_same_rows(
    got: dict, expected: dict, tables: tuple[str, ...] = ("orders", "executions", "alerts")
) -> None:
    """Two days' rows (day_rows) equal, table by table; a failure names the table."""
    for table in tables:
        assert got[table] == expected[table], table


def app_messages(data: bytes) -> int:
    """Messages in a log of valid messages (each journalled: orders and reports, and the
    session messages refusals are matched against)."""
    return data.count(b"8=FIX")


def assert_journal_exact(conn: psycopg.Connection, expected: int) -> None:
    """Every message journalled once: as many rows as messages, seq 0..n-1 without a gap."""
    row = conn.execute(JOURNAL).fetchone()
    assert row == (expected, expected, expected - 1)


def test_rotation_and_truncation_lose_nothing_and_read_nothing_twice(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    whole = generated_log(tmp_path, TRADING_DAY).read_bytes()
    lines = whole.splitlines(keepends=True)
    a, b, c = len(lines) // 3, 2 * len(lines) // 3, len(lines)
    live = tmp_path / "live" / "fix.messages.log"
    live.parent.mkdir()
    live.write_bytes(b"".join(lines[:a]))
    log_lines: list[str] = []
    w, _ = watcher(settings, live, log_lines=log_lines)
    with w:
        w.poll_until_idle()
        # logrotate's default: the log renamed, the engine writes a new file at the name.
        live.rename(live.with_name("fix.messages.log.1"))
        with live.with_name("fix.messages.log.1").open("ab") as old:
            old.write(lines[a])  # the engine's last write to the old file, after the rename
        live.write_bytes(b"".join(lines[a + 1 : b]))
        w.poll_until_idle()
        # copytruncate: the same file cut to nothing, then written again.
        live.write_bytes(b"")
        w.poll_until_idle()
        live.write_bytes(b"".join(lines[b:c]))
        w.poll_until_idle()
        w.detect()
    assert any("rotated" in line for line in log_lines)
    assert any("truncated" in line for line in log_lines)
    assert_journal_exact(conn, app_messages(whole))
    watched = day_rows(conn, TRADING_DAY)
    batch = batch_day(settings, generated_log(tmp_path / "again", TRADING_DAY), TRADING_DAY, conn)
    assert_same_rows(watched, batch)


class Killed(Exception):
    """Stands for the process dying inside the transaction, before its commit."""


def test_a_failure_inside_the_transaction_then_a_restart_applies_each_message_once(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    whole = log.read_bytes()
    polls = {"n": 0}

    def die_on_third_batch() -> None:
        polls["n"] += 1
        if polls["n"] == 3:
            raise Killed

    w, _ = watcher(settings, log, batch_bytes=32 << 10, before_commit=die_on_third_batch)
    with w:
        w.poll_once()
        w.poll_once()
        committed = count(conn, "SELECT messages FROM watch_positions")
        orders_before = count(conn, "SELECT count(*) FROM orders")
        try:
            w.poll_once()
        except Killed:
            pass
        else:
            raise AssertionError("the third batch was to fail")
        # Nothing of the failed batch is in the warehouse.
        assert count(conn, "SELECT messages FROM watch_positions") == committed
        assert count(conn, "SELECT count(*) FROM orders") == orders_before
        assert_journal_exact(conn, committed)
    # A new process: replays the journal, resumes at the committed position.
    w2, _ = watcher(settings, log, batch_bytes=32 << 10)
    with w2:
        w2.poll_until_idle()
        w2.detect()
    assert_journal_exact(conn, app_messages(whole))
    watched = day_rows(conn, TRADING_DAY)
    batch = batch_day(settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch)


def test_a_message_cut_at_the_end_of_the_log_waits_for_its_rest_across_a_restart(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    whole = generated_log(tmp_path, TRADING_DAY).read_bytes()
    live = tmp_path / "live.log"
    cut = len(whole) // 2 + 17  # inside a message
    live.write_bytes(whole[:cut])
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
    position = count(conn, "SELECT byte_offset FROM watch_positions")
    assert 0 < position < cut  # the cut message is not consumed
    assert count(conn, "SELECT count(*) FROM watch_rejects") == 0
    with live.open("ab") as fh:
        fh.write(whole[cut:])
    w2, _ = watcher(settings, live)
    with w2:
        w2.poll_until_idle()
    assert_journal_exact(conn, app_messages(whole))
    assert count(conn, "SELECT count(*) FROM orders") == 300


def test_bad_messages_become_rejects_with_import_fix_reasons(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    from tests.test_import_fix import new_order, report

    good = new_order("C1", seq=1)
    fill = report("C1", "E1", "F", "2", at="20261125-15:00:01.000", seq=2,
                  extra=[(32, "300"), (31, "10"), (14, "300"), (6, "10")])  # fmt: skip
    bad_sum = bytearray(new_order("C2", seq=3))
    bad_sum[-3:-1] = b"00" if bytes(bad_sum[-3:-1]) != b"00" else b"11"  # CheckSum digits
    bad_side = new_order("C3", side="9", seq=4)
    cut = new_order("C4", seq=5)[:-12]  # its CheckSum never written: the file ends
    live = tmp_path / "fix.log"
    live.write_bytes(b"\n".join([good, fill, bytes(bad_sum), bad_side, cut]))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        assert count(conn, "SELECT count(*) FROM watch_rejects") == 2  # the cut one may end
        live.rename(tmp_path / "fix.log.1")  # ... and it does: the log is rotated, and
        live.write_bytes(new_order("C5", seq=6) + b"\n")  # the engine writes the new one
        w.poll_until_idle()
    rejects = conn.execute(
        "SELECT line, msg_type, reason FROM watch_rejects ORDER BY seq"
    ).fetchall()
    batch = import_fix(settings, [tmp_path / "fix.log.1"], skip_invalid=True)
    assert sorted((r[0], r[2]) for r in rejects) == sorted(
        (r.line, r.reason) for r in batch.rejects
    )
    reasons = " | ".join(r[2] for r in rejects)
    assert "CheckSum(10)" in reasons and "Side(54)=9" in reasons and "truncated" in reasons
    assert count(conn, "SELECT count(*) FROM orders") == 2  # C1, and C5 of the new file
    assert count(conn, "SELECT cum_qty FROM orders WHERE cl_ord_id = 'C1'") == 300


TERMINATE_WATCHERS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = 'surveil' AND pid <> pg_backend_pid() AND datname = current_database()
"""


def test_a_database_connection_lost_mid_day_is_retried_in_one_line_and_loses_nothing(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    whole = generated_log(tmp_path, TRADING_DAY).read_bytes()
    half = whole.rfind(b"\n", 0, len(whole) // 2) + 1
    live = tmp_path / "live.log"
    live.write_bytes(whole[:half])
    log_lines: list[str] = []
    w, _ = watcher(settings, live, log_lines=log_lines)
    with w:
        w.poll_until_idle()
        assert count(conn, TERMINATE_WATCHERS) == 1  # the database drops the watcher
        with live.open("ab") as fh:
            fh.write(whole[half:])
        totals = w.run(once=True)
    assert totals.recoveries == 1
    retried = [line for line in log_lines if "database unavailable" in line]
    assert len(retried) == 1 and "\n" not in retried[0] and "retrying in" in retried[0]
    assert_journal_exact(conn, app_messages(whole))
    assert count(conn, "SELECT count(*) FROM orders") == 300


def refused_later(tmp_path: Path) -> tuple[Path, bytes]:
    """A live log of two orders A and B, and the venue's session Reject of B (RefSeqNum 2)
    to append to it later."""
    from tests.test_import_fix import fix, new_order

    refusal = fix(
        "3", [(45, "2"), (58, "Value is incorrect")], sender="VENUE", target="CLIENT", seq=9
    )
    live = tmp_path / "r.log"
    live.write_bytes(new_order("A", seq=1) + b"\n" + new_order("B", seq=2) + b"\n")
    return live, refusal


def test_a_message_refused_after_it_was_written_is_undone_as_import_fix_skips_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    live, refusal = refused_later(tmp_path)
    log_lines: list[str] = []
    w, _ = watcher(settings, live, log_lines=log_lines)
    with w:
        w.poll_until_idle()
        assert {r[0] for r in conn.execute("SELECT cl_ord_id FROM orders")} == {"A", "B"}
        with live.open("ab") as fh:
            fh.write(refusal + b"\n")
        w.poll_until_idle()
    assert [r[0] for r in conn.execute("SELECT cl_ord_id FROM orders")] == ["A"]
    assert any("refused messages undone" in line for line in log_lines)
    w2, _ = watcher(settings, live)  # a restart replays the journal, refusal included
    with w2:
        w2.poll_until_idle()
        assert w2._days is not None and set(w2._days.refused) == {1}
    assert_journal_exact(conn, 3)
    watched = day_rows(conn, TRADING_DAY)
    import_fix(settings, [live])
    upload_day(settings, TRADING_DAY)
    load_day(settings, TRADING_DAY, force=True)
    batch = day_rows(conn, TRADING_DAY)
    assert_same_rows(watched, batch, ("orders", "executions", "accounts", "firms"))


def test_the_log_s_very_first_message_can_be_refused_as_import_fix_skips_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """The first message read is the journal's seq 0: refusable like any other."""
    from tests.test_import_fix import fix, new_order

    refusal = fix("3", [(45, "1"), (58, "Value is incorrect")], sender="VENUE", target="CLIENT")
    live = tmp_path / "r.log"
    live.write_bytes(new_order("A", seq=1) + b"\n" + new_order("B", seq=2) + b"\n")
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        with live.open("ab") as fh:
            fh.write(refusal + b"\n")
        w.poll_until_idle()
    assert [r[0] for r in conn.execute("SELECT cl_ord_id FROM orders")] == ["B"]
    watched = day_rows(conn, TRADING_DAY)
    import_fix(settings, [live])
    upload_day(settings, TRADING_DAY)
    load_day(settings, TRADING_DAY, force=True)
    assert_same_rows(watched, day_rows(conn, TRADING_DAY), ("orders", "executions"))


def test_a_refusal_that_undoes_a_day_s_only_message_empties_that_day(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Nothing of the day is left to build: its rows go, the other day and the watcher
    go on, and a restart rebuilds the same."""
    from tests.test_import_fix import fix, new_order

    later = "20261127-15:00:00.000"
    refusal = fix("3", [(45, "2"), (58, "Value is incorrect")], sender="VENUE", target="CLIENT")
    live = tmp_path / "r.log"
    live.write_bytes(new_order("B", seq=1, at=later) + b"\n" + new_order("A", seq=2) + b"\n")
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        assert count(conn, "SELECT count(*) FROM orders WHERE trade_date = %s", TRADING_DAY) == 1
        with live.open("ab") as fh:
            fh.write(refusal + b"\n" + new_order("C", seq=3, at=later) + b"\n")
        w.poll_until_idle()
        assert w.detect() == []  # a pass over the emptied day too
    rows = conn.execute("SELECT trade_date, cl_ord_id FROM orders ORDER BY 2").fetchall()
    assert rows == [(dt.date(2026, 11, 27), "B"), (dt.date(2026, 11, 27), "C")]
    w2, _ = watcher(settings, live)
    with w2:
        w2.poll_until_idle()
        assert w2._days is not None and TRADING_DAY not in w2._days.builders
    assert conn.execute("SELECT trade_date, cl_ord_id FROM orders ORDER BY 2").fetchall() == rows


@pytest.mark.parametrize(
    ("delimiter", "last"), [(b"|", 0), (b"^A", 0), (b"|", -1)], ids=["pipe", "caret", "bare"]
)
def test_the_last_message_of_a_pipe_delimited_log_is_applied_without_waiting_for_the_next(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, delimiter: bytes, last: int
) -> None:
    """A `|` or `^A` log's message is known to be whole once it verifies: the end of the
    engine's day is not a message that never arrives. `bare`: no delimiter after CheckSum,
    the line's end closes the message (tests/data/fix/log4fix-j's pipe log is written so)."""
    from tests.test_import_fix import new_order

    def written(message: bytes) -> bytes:
        message = message.replace(b"\x01", delimiter)
        return message[: len(message) + last]

    live = tmp_path / "pipe.log"
    messages = [written(new_order(cl, seq=n)) for n, cl in enumerate("AB", 1)]
    live.write_bytes(b"".join(m + b"\n" for m in messages))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        assert [r[0] for r in conn.execute("SELECT cl_ord_id FROM orders ORDER BY 1")] == ["A", "B"]
        with live.open("ab") as fh:  # the next message, written in two parts
            third = written(new_order("C", seq=3))
            fh.write(third[:40])
            fh.flush()
            w.poll_until_idle()
            assert count(conn, "SELECT count(*) FROM orders") == 2  # cut: waited for
            fh.write(third[40:] + b"\n")
        w.poll_until_idle()
    assert count(conn, "SELECT count(*) FROM orders") == 3
    assert_journal_exact(conn, 3)


@pytest.mark.parametrize("between", ["restart", "refusal"])
def test_a_fill_on_a_replaced_order_after_a_replay_rewrites_the_order_replacing_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, between: str
) -> None:
    """P replaced by S (300 shares); then a restart, or a refusal that rebuilds the day
    from the journal; then a fill of 100 on P, which crossed the replace: S has 200 left,
    as import-fix says (the replay had forgotten that S follows P)."""
    from tests.test_import_fix import fix, new_order, report

    at = "20261125-15:00:0{}.000"
    replace = [(11, "S"), (41, "P"), (1, "ACC1"), (55, "IBM"), (54, "1"), (38, "300")]
    live = tmp_path / "fix.log"
    live.write_bytes(b"".join(m + b"\n" for m in [
        new_order("P", seq=1),
        fix("G", [*replace, (40, "2"), (44, "10"), (60, at.format(2))], seq=2, at=at.format(2)),
        report("S", "E2", "5", "0", at=at.format(3), seq=2, extra=[(41, "P")]),
        new_order("X", seq=3, at=at.format(3)),
    ]))  # fmt: skip
    refusal = fix("3", [(45, "3"), (58, "no")], sender="VENUE", target="CLIENT", seq=9)
    fill = report("P", "E3", "F", "1", at=at.format(4), seq=3, extra=[(32, "100"), (31, "10")])
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        if between == "refusal":
            with live.open("ab") as fh:
                fh.write(refusal + b"\n")
            w.poll_until_idle()
    if between == "restart":
        w, _ = watcher(settings, live)
    with w:
        with live.open("ab") as fh:
            fh.write(fill + b"\n")
        w.poll_until_idle()
    quantities = dict(conn.execute("SELECT cl_ord_id, quantity FROM orders").fetchall())
    assert quantities["S"] == 200
    watched = day_rows(conn, TRADING_DAY)
    import_fix(settings, [live])
    upload_day(settings, TRADING_DAY)
    load_day(settings, TRADING_DAY, force=True)
    assert_same_rows(watched, day_rows(conn, TRADING_DAY), ("orders", "executions"))


def test_a_refused_message_s_date_is_found_by_its_seq_when_dates_interleave() -> None:
    """Days.day_of keeps only the seqs where the date changes; a late message of one day
    between two of the next is still found under its own date."""
    from surveil.watch.fixsource import DayRuns

    runs = DayRuns()
    other = TRADING_DAY + dt.timedelta(days=2)
    for seq, day in [(0, TRADING_DAY), (1, TRADING_DAY), (3, other), (4, TRADING_DAY), (6, other)]:
        runs.add(seq, day)
    expected = [TRADING_DAY, TRADING_DAY, other, TRADING_DAY, other, other]
    assert [runs.get(s) for s in (0, 1, 3, 4, 6, 9)] == expected
    assert DayRuns().get(0) is None and len(runs.starts) == 4
