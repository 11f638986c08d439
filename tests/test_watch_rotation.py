"""watch follows a log through the ways logrotate and engines move it (surveil/watch/tail.py):
each of these lost messages once, with nothing but a log line to say so."""

from __future__ import annotations

from pathlib import Path

import psycopg

from surveil.settings import Settings
from surveil.watch.tail import rotations
from tests.test_import_fix import new_order
from tests.test_watch import assert_journal_exact
from tests.watchlog import count, watcher


def orders(first: int, n: int) -> bytes:
    return b"".join(new_order(f"O{i}", seq=i + 1) + b"\n" for i in range(first, first + n))


def rotate(live: Path) -> None:
    """logrotate's numbered rotation: name.N -> name.N+1, ..., name -> name.1."""
    for old in reversed(rotations(live)):
        number = int(old.name.rsplit(".", 1)[1])
        old.rename(live.with_name(f"{live.name}.{number + 1}"))
    live.rename(live.with_name(f"{live.name}.1"))


def watched_orders(conn: psycopg.Connection) -> int:
    return count(conn, "SELECT count(*) FROM orders")


def assert_read_once(conn: psycopg.Connection, messages: int) -> None:
    """Every order of the log in the warehouse, each message journalled once."""
    assert watched_orders(conn) == messages
    assert_journal_exact(conn, messages)


def watch_until_idle(settings: Settings, live: Path, lines: list[str] | None = None) -> None:
    """A watcher started on `live`, read to its end and stopped; its log lines to `lines`."""
    w, _ = watcher(settings, live, log_lines=[] if lines is None else lines)
    with w:
        w.poll_until_idle()


def test_two_rotations_while_the_watcher_is_stopped_lose_no_file(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Down over a long weekend of daily rotation: the file read before is now name.2, and
    name.1 came between it and the file at the name."""
    live = tmp_path / "fix.log"
    live.write_bytes(orders(0, 10))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
    with live.open("ab") as fh:
        fh.write(orders(10, 5))
    rotate(live)
    live.write_bytes(orders(15, 5))
    rotate(live)
    live.write_bytes(orders(20, 5))
    lines: list[str] = []
    watch_until_idle(settings, live, lines)
    assert_read_once(conn, 25)
    assert any("rotated more than once; reading" in line for line in lines)


def test_two_rotations_between_two_looks_lose_no_file(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    live = tmp_path / "fix.log"
    live.write_bytes(orders(0, 10))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        rotate(live)
        live.write_bytes(orders(10, 5))
        rotate(live)
        live.write_bytes(orders(15, 5))
        w.poll_until_idle()
    assert_read_once(conn, 20)


def test_a_renamed_log_the_engine_still_writes_is_read_until_the_new_one_is_written(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """logrotate's `create`: the log renamed and an empty one made at the name, while the
    engine goes on writing the renamed file until it reopens its log."""
    live = tmp_path / "fix.log"
    live.write_bytes(orders(0, 10))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
        rotate(live)
        live.write_bytes(b"")
        w.poll_until_idle()  # the new file is empty: the engine may still write the old
        with live.with_name("fix.log.1").open("ab") as old:
            old.write(orders(10, 5))
        w.poll_until_idle()
        assert watched_orders(conn) == 15
        with live.open("ab") as new:  # reopened: writes go to the new file
            new.write(orders(15, 5))
        w.poll_until_idle()
    assert_read_once(conn, 20)


def test_a_stray_file_of_another_naming_is_not_read_as_a_newer_rotation(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Dated rotation (dateext) beside an old numbered copy, fix.log.1: after the file read
    before, only the dated files newer than it are read, never the copy."""
    live = tmp_path / "fix.log"
    live.write_bytes(orders(0, 5))
    live.with_name("fix.log.1").write_bytes(orders(100, 3))  # left from before dateext
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
    live.rename(live.with_name("fix.log-20261124"))
    live.write_bytes(orders(5, 5))
    live.rename(live.with_name("fix.log-20261125"))
    live.write_bytes(orders(10, 5))
    w, _ = watcher(settings, live)
    with w:
        w.poll_until_idle()
    assert watched_orders(conn) == 15
    assert count(conn, "SELECT count(*) FROM orders WHERE cl_ord_id LIKE 'O10_'") == 0
    assert_journal_exact(conn, 15)


def test_a_log_truncated_and_written_past_its_position_while_stopped_is_read_from_its_start(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """copytruncate over a weekend: the file read to byte N is cut to nothing and the next
    session writes more than N bytes before the watcher is back. By size it only grew; the
    watcher resumed at byte N, in the middle of the new content, and the new session's
    first messages were never read."""
    live = tmp_path / "fix.log"
    live.write_bytes(orders(0, 10))
    watch_until_idle(settings, live)
    inode = live.stat().st_ino
    with live.open("r+b") as fh:  # truncated in place: the same inode
        fh.truncate(0)
        fh.write(orders(10, 15))
    assert live.stat().st_ino == inode and live.stat().st_size > 10 * len(orders(0, 1))
    lines: list[str] = []
    watch_until_idle(settings, live, lines)
    assert_read_once(conn, 25)
    assert any("rewritten since it was last read" in line for line in lines)
    watch_until_idle(settings, live, lines)  # a plain restart resumes where it was
    assert_read_once(conn, 25)
    assert sum("rewritten" in line for line in lines) == 1
