"""A watcher retires a day once `load` has loaded it (docs/streaming.md, "When a day is
retired"): the day leaves its memory and its restarts, and a message for it that comes
after is journalled but not applied, a reject with its reason, so the loaded day stays its
batch record instead of silently taking rows the record does not have."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.fix import import_fix
from surveil.lake import upload_day
from surveil.load import load_day
from surveil.manifest import day_dir_name
from surveil.pipeline import run_day
from surveil.settings import Settings
from surveil.watch.fixsource import RECORDED, Days
from surveil.watch.watcher import Watcher
from tests.conftest import TRADING_DAY
from tests.test_import_fix import new_order, report
from tests.test_watch import assert_journal_exact, assert_same_rows
from tests.watchlog import count, day_rows, watcher

NEXT_DAY = dt.date(2026, 11, 27)
ORDERS = "SELECT cl_ord_id FROM orders WHERE trade_date = %s ORDER BY 1"


def append(log: Path, *messages: bytes) -> None:
    with log.open("ab") as fh:
        fh.write(b"".join(m + b"\n" for m in messages))


def orders(conn: psycopg.Connection, day: dt.date) -> list[str]:
    return [r[0] for r in conn.execute(ORDERS, (day,))]


@contextmanager
def loaded_while_watched(settings: Settings, log: Path, log_lines: list[str]) -> Iterator[Watcher]:
    """A watcher that has committed what `log` holds, then run-day of its day (loaded)."""
    w, _ = watcher(settings, log, log_lines=log_lines)
    with w:
        w.poll_until_idle()
        assert run_day(settings, TRADING_DAY, report=False).status == "done"
        yield w


@pytest.mark.parametrize("loop", [False, True], ids=["poll_once", "run"])
def test_a_message_for_a_day_loaded_while_watched_becomes_a_reject_not_a_row(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, loop: bool
) -> None:
    """Whether the batch is committed on the reading thread or the writer's (run)."""
    log = tmp_path / "fix.log"
    append(log, new_order("A", seq=1), new_order("B", seq=2))
    log_lines: list[str] = []
    with loaded_while_watched(settings, log, log_lines) as w:
        record = day_rows(conn, TRADING_DAY)
        append(log, new_order("LATE", seq=3), new_order("C", seq=4, at="20261127-15:00:00.000"))
        if loop:
            w.run(once=True)
        else:
            w.poll_until_idle()
        assert w._days is not None and set(w._days.builders) == {NEXT_DAY}
    assert day_rows(conn, TRADING_DAY) == record  # the loaded day is its record still
    assert orders(conn, TRADING_DAY) == ["A", "B"]
    assert orders(conn, NEXT_DAY) == ["C"]  # the next day goes on being built
    rejects = conn.execute(
        "SELECT trade_date, line, msg_type, reason FROM watch_rejects"
    ).fetchall()
    assert rejects == [(TRADING_DAY, 3, "D", RECORDED.format(day=TRADING_DAY))]
    assert_journal_exact(conn, 4)  # read once, all of it: the late message too
    assert any("loaded by `surveil load` while being watched" in line for line in log_lines)


def test_a_loaded_day_leaves_memory_and_restarts_replay_only_the_days_still_built(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, monkeypatch
) -> None:
    log = tmp_path / "fix.log"
    append(log, new_order("A", seq=1), new_order("B", seq=2))
    log_lines: list[str] = []
    with loaded_while_watched(settings, log, log_lines) as w:
        append(log, new_order("C", seq=3, at="20261127-15:00:00.000"))
        w.poll_until_idle()  # a batch of the next day finds the first one loaded
        assert w._days is not None and set(w._days.builders) == {NEXT_DAY}
        assert TRADING_DAY in w._days.retired and w._days.first_seq == {NEXT_DAY: 2}
        append(log, new_order("D", seq=4, at="20261127-15:00:01.000"))
        w.poll_until_idle()  # committed from the next batch on: restarts begin at C
    assert any(line.startswith(f"{TRADING_DAY}: loaded by `surveil load`") for line in log_lines)
    assert count(conn, "SELECT replay_from FROM watch_positions") == 2
    replayed: list[str] = []
    apply = Days.apply

    def counted(days: Days, item, *, replay: bool = False) -> None:  # type: ignore[no-untyped-def]
        if replay:
            replayed.append(item.first(11).decode())
        apply(days, item, replay=replay)

    monkeypatch.setattr(Days, "apply", counted)
    w2, _ = watcher(settings, log)
    with w2:
        assert replayed == ["C", "D"]  # the loaded day's messages are not read again
        assert w2._days is not None and set(w2._days.builders) == {NEXT_DAY}
        append(log, new_order("E", seq=5, at="20261127-15:00:02.000"))
        w2.poll_until_idle()
    assert orders(conn, NEXT_DAY) == ["C", "D", "E"] and orders(conn, TRADING_DAY) == ["A", "B"]
    assert count(conn, "SELECT count(*) FROM watch_rejects") == 0
    assert_journal_exact(conn, 5)


def test_watching_a_log_of_a_day_loaded_before_writes_nothing_into_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """A day loaded from elsewhere (a generated day, an import) is its record: a watcher
    started on a log of that day keeps every message as a reject with the reason."""
    run_day(settings, TRADING_DAY, orders=200, seed=1, report=False)
    record = day_rows(conn, TRADING_DAY)
    log = tmp_path / "fix.log"
    append(log, new_order("A", seq=1), new_order("B", seq=2))
    w, _ = watcher(settings, log)
    with w:
        w.poll_until_idle()
        assert w._days is not None and not w._days.builders
    assert day_rows(conn, TRADING_DAY) == record
    reasons = [r[0] for r in conn.execute("SELECT reason FROM watch_rejects ORDER BY seq")]
    assert reasons == [RECORDED.format(day=TRADING_DAY)] * 2


def test_no_detection_pass_runs_over_a_loaded_day(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, monkeypatch
) -> None:
    """Once loaded, the day's alerts are detect's over its record (review cases hang on
    them): a pass of the watcher would replace them with its own."""
    from surveil.watch import alerts

    log = tmp_path / "fix.log"
    append(log, new_order("A", seq=1))
    w, out = watcher(settings, log)
    passes: list[dt.date] = []
    detect_pass = alerts.detect_pass

    def counted(conn, day, params, names, lock_s):  # type: ignore[no-untyped-def]
        passes.append(day)
        return detect_pass(conn, day, params, names, lock_s)

    monkeypatch.setattr(alerts, "detect_pass", counted)
    with w:
        w.poll_until_idle()
        w.detect()
        assert passes and set(passes) == {TRADING_DAY}
        run_day(settings, TRADING_DAY, report=False)
        passes.clear()
        w.detector.mark({TRADING_DAY: 1})  # as a message of the day read just before
        assert w.detect() == [] and passes == []
        w.detector.mark({TRADING_DAY: 1})
        assert w.detect() == [] and passes == []  # retired: not even looked up again
        assert TRADING_DAY not in w.detector._messages  # nor counted


def test_a_refusal_that_comes_after_the_day_was_loaded_leaves_the_loaded_day_alone(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """A refusal undoes a message by rewriting its day whole: not a day that is loaded."""
    from tests.test_watch import refused_later

    live, refusal = refused_later(tmp_path)
    log_lines: list[str] = []
    with loaded_while_watched(settings, live, log_lines) as w:
        record = day_rows(conn, TRADING_DAY)
        append(live, refusal)
        w.poll_until_idle()
        assert w._days is not None and not w._days.builders and not w._days.needs_rebuild
    assert day_rows(conn, TRADING_DAY) == record and orders(conn, TRADING_DAY) == ["A", "B"]
    assert not any("refused messages undone" in line for line in log_lines)
    assert any("loaded by `surveil load` while being watched" in line for line in log_lines)
    assert_journal_exact(conn, 3)


def test_a_retired_day_recorded_again_from_the_journal_takes_its_late_messages_in_once(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """The day folder and the lake lost, run-day records the day again from the journal:
    the late messages were verified and journalled, so the record has them as import-fix
    of the whole log would, and does not list them among its rejects as well."""
    log = tmp_path / "fix.log"
    append(log, new_order("A", seq=1), new_order("B", seq=2))
    fill = [(32, "300"), (31, "10"), (14, "300"), (151, "0")]
    with loaded_while_watched(settings, log, []) as w:
        append(log, new_order("LATE", seq=3))
        append(log, report("A", "E1", "F", "2", at="20261125-15:00:01.000", seq=4, extra=fill))
        w.poll_until_idle()
    assert count(conn, "SELECT count(*) FROM watch_rejects") == 2
    for folder in (settings.data_path, settings.home / "lake"):
        shutil.rmtree(folder / day_dir_name(TRADING_DAY))
    result = run_day(settings, TRADING_DAY, report=False)
    assert result.status == "done"
    recorded = next(s for s in result.steps if s.step == "generate")
    assert recorded.status == "recorded"
    assert "0 rejects; with 2 messages watch read after the day was loaded" in recorded.detail
    rejects = settings.data_path / day_dir_name(TRADING_DAY) / "rejects.csv"
    assert not rejects.exists() or len(rejects.read_text().splitlines()) == 1
    assert orders(conn, TRADING_DAY) == ["A", "B", "LATE"]
    record = day_rows(conn, TRADING_DAY)
    assert [r[0] for r in conn.execute("SELECT exec_id FROM executions")] == ["E1"]
    import_fix(settings, [log], force=True)  # the whole live log, as the docs tell
    upload_day(settings, TRADING_DAY, force=True)
    load_day(settings, TRADING_DAY, force=True)
    assert_same_rows(record, day_rows(conn, TRADING_DAY), ("orders", "executions", "accounts"))


def test_a_late_message_of_a_recorded_day_is_a_gap_until_run_day_records_it_again(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """A's fill comes after run-day recorded and loaded the day (a late report): watch
    journals it and does not apply it, so the load misses it. Status shows the day not done
    and catch-up runs it; run-day records the day again from the journal, over its folder
    and lake copy, and loads the fill: the day is then what import-fix of the whole log is."""
    from surveil.daystatus import catch_up_days, day_status

    log = tmp_path / "fix.log"
    append(log, new_order("A", seq=1), new_order("B", seq=2))
    fill = [(32, "300"), (31, "10"), (14, "300"), (151, "0")]
    with loaded_while_watched(settings, log, []) as w:
        assert day_status(settings, TRADING_DAY, TRADING_DAY).gaps == []
        append(log, report("A", "E1", "F", "2", at="20261125-15:00:01.000", seq=3, extra=fill))
        w.poll_until_idle()
    assert count(conn, "SELECT count(*) FROM executions") == 0
    status = day_status(settings, TRADING_DAY, TRADING_DAY)
    (row,) = status.days
    assert (row["done"], row["next_stage"], row["unrecorded_messages"]) == (False, "generate", 1)
    assert status.gaps == [TRADING_DAY]
    assert catch_up_days(settings, TRADING_DAY) == [TRADING_DAY]
    shown = CliRunner().invoke(app, ["status", "--date", str(TRADING_DAY)], env={"COLUMNS": "200"})
    assert shown.exit_code == 5 and "1 watched messages not in it" in shown.output  # 5: a gap

    result = run_day(settings, TRADING_DAY, report=False)
    steps = {s.step: s for s in result.steps}
    assert result.status == "done" and steps["generate"].status == "recorded"
    assert steps["generate"].detail.startswith("again, 1 messages journalled since")
    assert steps["load"].status == "replaced"
    assert [r[0] for r in conn.execute("SELECT exec_id FROM executions")] == ["E1"]
    assert day_status(settings, TRADING_DAY, TRADING_DAY).gaps == []
    assert {s.status for s in run_day(settings, TRADING_DAY, report=False).steps} == {"skipped"}

    record = day_rows(conn, TRADING_DAY)
    import_fix(settings, [log], force=True)  # the whole live log
    upload_day(settings, TRADING_DAY, force=True)
    load_day(settings, TRADING_DAY, force=True)
    assert_same_rows(record, day_rows(conn, TRADING_DAY), ("orders", "executions", "accounts"))
    # a load that is no record of the journal is not weighed against it
    (row,) = day_status(settings, TRADING_DAY, TRADING_DAY).days
    assert (row["unrecorded_messages"], row["next_stage"]) == (0, "validate")
