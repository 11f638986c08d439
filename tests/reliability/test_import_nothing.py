"""Issue 17 item 7: importing nothing is never a success.

An empty log, a file of random bytes and a --date the log does not hold each exit 3 (bad
input) with one line naming the log and what was found, and leave no day folder behind.
"""

from __future__ import annotations

import random
from pathlib import Path

from surveil.errors import ExitCode
from surveil.settings import Settings
from tests.reliability.test_day_integrity import cli, one_line
from tests.test_import_fix import new_order, write_log


def refused(settings: Settings, *args: str) -> str:
    code, out, err = cli("import-fix", *args)
    assert code == ExitCode.BAD_INPUT, err
    assert out is not None and out["exit_code"] == ExitCode.BAD_INPUT
    assert not list(settings.data_path.glob("trade_date=*"))
    return one_line(err)


def test_an_empty_log_exits_3_saying_it_holds_no_messages(
    settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "empty.log"
    log.write_bytes(b"")
    assert "empty.log: no FIX messages found; nothing imported" in refused(settings, str(log))


def test_random_bytes_exit_3_saying_they_hold_no_messages(
    settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "noise.bin"
    log.write_bytes(random.Random(17).randbytes(200_000))
    assert "noise.bin: no FIX messages found" in refused(settings, str(log))


def test_a_date_absent_from_the_log_exits_3_naming_the_dates_it_holds(
    settings: Settings, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "day.log", new_order("O1", at="20261125-15:00:00.000"))
    line = refused(settings, str(log), "--date", "2026-11-24")
    assert "no orders or executions dated 2026-11-24" in line
    assert "2026-11-25..2026-11-25" in line
    # The date the log does hold still imports.
    code, out, err = cli("import-fix", str(log), "--date", "2026-11-25")
    assert code == 0, err
    assert out is not None and out["orders"] == 1
