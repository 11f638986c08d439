"""`surveil watch`'s loop (Watcher.run) commits on a writer thread while it reads on: the
same exactly-once guarantees as poll_once, through that path (issue 23 item 3)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.test_watch import (
    app_messages,
    assert_journal_exact,
    assert_same_rows,
    batch_day,
    refused_later,
)
from tests.watchlog import count, day_rows, generated_log, watcher


class Killed(Exception):
    """Stands for the process dying inside the writer's transaction, before its commit."""


def test_run_in_many_batches_equals_the_batch_day(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    w, _ = watcher(settings, log, batch_bytes=16 << 10)
    with w:
        totals = w.run(once=True)
    assert totals.batches > 3 and totals.messages == app_messages(log.read_bytes())
    assert_journal_exact(conn, totals.messages)
    watched = day_rows(conn, TRADING_DAY)
    batch = batch_day(settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch, ("orders", "executions", "alerts", "accounts", "firms"))


def test_a_failure_in_the_writer_is_raised_and_commits_nothing_after_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    commits = {"n": 0}

    def die_on_third_batch() -> None:
        commits["n"] += 1
        if commits["n"] == 3:
            raise Killed

    w, _ = watcher(settings, log, batch_bytes=16 << 10, before_commit=die_on_third_batch)
    with w, pytest.raises(Killed):
        w.run(once=True)
    committed = count(conn, "SELECT messages FROM watch_positions")
    assert 0 < committed < app_messages(log.read_bytes())
    assert w.totals.batches == 2  # the two batches before the failure, none after it
    assert_journal_exact(conn, committed)
    w2, _ = watcher(settings, log, batch_bytes=16 << 10)
    with w2:
        w2.run(once=True)
    assert_journal_exact(conn, app_messages(log.read_bytes()))
    watched = day_rows(conn, TRADING_DAY)
    batch = batch_day(settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch)


def test_a_refusal_read_by_the_loop_undoes_the_message_already_written(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    live, refusal = refused_later(tmp_path)
    log_lines: list[str] = []
    w, _ = watcher(settings, live, log_lines=log_lines)
    with w:
        w.run(once=True)
        assert {r[0] for r in conn.execute("SELECT cl_ord_id FROM orders")} == {"A", "B"}
        with live.open("ab") as fh:
            fh.write(refusal + b"\n")
        w.run(once=True)
    assert [r[0] for r in conn.execute("SELECT cl_ord_id FROM orders")] == ["A"]
    assert any("refused messages undone" in line for line in log_lines)
    assert_journal_exact(conn, 3)
