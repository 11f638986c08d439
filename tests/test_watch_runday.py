"""run-day on a day `surveil watch` built (issue 23 item 5): the day's record is written from
watch's journal, then loaded, validated and detected as any day, with the same rows and
alerts the watcher stored; a second run-day does nothing new."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from surveil.errors import ConflictError
from surveil.manifest import day_dir_name, read_local_manifest
from surveil.pipeline import run_day
from surveil.settings import Settings
from surveil.watch.record import fix_message
from tests.conftest import TRADING_DAY
from tests.test_watch import assert_same_rows
from tests.watchlog import count, day_rows, generated_log, watcher


def watch_day(settings: Settings, log: Path) -> None:
    w, _ = watcher(settings, log, batch_bytes=64 << 10)
    with w:
        w.poll_until_idle()
        w.detect()


def test_run_day_records_a_watched_day_from_its_journal_then_validates_and_detects_it(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    watch_day(settings, log)
    watched = day_rows(conn, TRADING_DAY)
    log.unlink()  # rotated away: the journal is all there is
    result = run_day(settings, TRADING_DAY)
    steps = {s.step: s for s in result.steps}
    assert result.status == "done"
    assert steps["generate"].status == "recorded" and "300 orders" in steps["generate"].detail
    assert steps["load"].status == "loaded" and steps["validate"].status == "passed"
    assert steps["detect"].status == "detected" and steps["report"].status == "written"
    folder = settings.data_path / day_dir_name(TRADING_DAY)
    manifest = read_local_manifest(folder)
    assert manifest is not None and manifest.source["kind"] == "fix"
    assert [f["name"] for f in manifest.source["files"]] == ["drop-copy.log.watch-journal"]
    assert "scenarios.csv" not in manifest.files  # a drop copy carries no ground truth
    recorded = day_rows(conn, TRADING_DAY)
    assert_same_rows(recorded, watched, ("orders", "executions", "accounts", "firms", "alerts"))
    again = run_day(settings, TRADING_DAY)
    assert not again.new_work and again.alerts == result.alerts
    assert {s.status for s in again.steps} == {"skipped"}


def test_the_record_keeps_the_rejects_watch_kept(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Both kinds, each once with its reason: a message that failed verification (only its
    copy was kept) and a verified one that could not become a row (it is in the journal)."""
    from tests.test_import_fix import new_order

    bad_sum = bytearray(new_order("C2", seq=2))
    bad_sum[-3:-1] = b"00" if bytes(bad_sum[-3:-1]) != b"00" else b"11"
    no_type = new_order("C3", seq=3, ord_type="Z")
    live = tmp_path / "fix.log"
    live.write_bytes(b"\n".join([new_order("C1", seq=1), bytes(bad_sum), no_type, b""]))
    watch_day(settings, live)
    assert count(conn, "SELECT count(*) FROM watch_rejects") == 2
    result = run_day(settings, TRADING_DAY, report=False)
    generate = result.steps[0]
    assert generate.status == "recorded" and "2 rejects" in generate.detail
    assert "watch kept" not in generate.detail
    folder = settings.data_path / day_dir_name(TRADING_DAY)
    rejects = sorted((folder / "rejects.csv").read_text().splitlines()[1:])
    assert len(rejects) == 2
    assert ",D,OrdType(40)=Z has no equivalent" in rejects[0] and "11=C3" in rejects[0]
    assert "CheckSum(10)" in rejects[1] and "11=C2" in rejects[1]
    assert count(conn, "SELECT count(*) FROM orders WHERE trade_date = %s", TRADING_DAY) == 1


def test_generating_over_a_watched_day_is_refused(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    watch_day(settings, generated_log(tmp_path, TRADING_DAY))
    with pytest.raises(ConflictError, match="never generates over it"):
        run_day(settings, TRADING_DAY, orders=500, report=False)
    assert count(conn, "SELECT count(*) FROM orders WHERE trade_date = %s", TRADING_DAY) == 300


def test_a_journalled_message_is_written_back_with_its_wire_bodylength_and_checksum() -> None:
    from tests.test_import_fix import new_order

    wire = new_order("C1", seq=1)
    begin, rest = wire.split(b"\x01", 1)
    body = rest.split(b"\x01", 1)[1].rsplit(b"\x0110=", 1)[0]
    assert fix_message(begin.removeprefix(b"8=").decode(), body) == wire


def test_a_day_only_watch_built_is_a_gap_status_shows_and_catch_up_runs(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Nobody ran run-day for a watched day: it had no load, no folder, no lake copy, and
    status (no range) and catch-up never saw it."""
    import datetime as dt

    from surveil.daystatus import catch_up_days, day_status

    earlier = dt.date(2026, 11, 24)
    watch_day(settings, generated_log(tmp_path, earlier))
    status = day_status(settings)
    row = next(r for r in status.days if r["trade_date"] == str(earlier))
    assert not row["done"] and earlier in status.gaps
    assert catch_up_days(settings, TRADING_DAY)[0] == earlier
    assert run_day(settings, earlier, report=False).status == "done"
    assert earlier not in day_status(settings).gaps
