"""Issue 17 item 7: importing nothing is never a success.

An empty log, a file of random bytes and a --date the log does not hold each exit 3 (bad
input) with one line naming the log and what was found, and leave no day folder behind.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from surveil.errors import ExitCode
from surveil.fixlog import encode_message
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


def big_order(text_bytes: int) -> bytes:
    """A valid NewOrderSingle with a Text(58) of `text_bytes` bytes."""
    fields = [(11, "BIG1"), (1, "ACC1"), (55, "IBM"), (54, "1"), (38, "100"), (40, "2")]
    fields += [(44, "10"), (60, "20261125-15:00:00.000"), (58, "x" * text_bytes)]
    header = [(35, "D"), (49, "CLIENT"), (56, "BROKER"), (34, "1")]
    return encode_message("FIX.4.4", [*header, (52, "20261125-15:00:00.000"), *fields])


def test_a_valid_message_over_64_kib_imports(settings: Settings, tmp_path: Path) -> None:
    log = write_log(tmp_path / "big.log", big_order(100_000))
    code, out, err = cli("import-fix", str(log))
    assert code == 0, err
    assert out is not None and out["orders"] == 1


def test_a_message_longer_than_the_limit_is_refused_naming_the_setting(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_FIX_MAX_MESSAGE_BYTES", "65536")
    unterminated = big_order(100_000).rsplit(b"10=", 1)[0]  # its CheckSum(10) cut off
    log = write_log(tmp_path / "big.log", unterminated, new_order("O2"))
    line = refused(settings, str(log))
    assert "SURVEIL_FIX_MAX_MESSAGE_BYTES" in line and "65,536" in line
