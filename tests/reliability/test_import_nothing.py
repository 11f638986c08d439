"""Issue 17 item 7: importing nothing is never a success.

An empty log, a file of random bytes and a --date the log does not hold each exit 3 (bad
input) with one line naming the log and what was found, and leave no day folder behind.
Bytes outside messages are counted per log; a value that is not UTF-8 is a reject (exit 3
unless --skip-invalid), never stored as mojibake; a long valid message imports, and the
size limit is named by its setting.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from surveil.errors import ExitCode
from surveil.fix.parser import encode_message
from surveil.manifest import MANIFEST_NAME
from surveil.settings import Settings
from tests.reliability.test_day_integrity import app, cli, one_line, runner
from tests.test_import_fix import fix, new_order, write_log


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


def test_bytes_between_messages_are_counted_per_log(settings: Settings, tmp_path: Path) -> None:
    first, second = new_order("O1", seq=1), new_order("O2", seq=2)
    junk = b"2026-11-25 10:00:00 engine restarted\n#comment\n\x00\x00"
    data = first + b"\n" + junk + second + b"\r\n"
    log = tmp_path / "junk.log"
    log.write_bytes(data)
    code, out, err = cli("import-fix", str(log))
    assert code == 0, err
    outside = len(data) - len(first) - len(second)
    assert outside == len(junk) + 3
    assert out is not None and out["bytes_outside_messages"] == {"junk.log": outside}
    manifest = json.loads(
        (settings.data_path / "trade_date=2026-11-25" / MANIFEST_NAME).read_text()
    )
    assert manifest["source"]["files"][0]["bytes_outside_messages"] == outside
    human = runner.invoke(app, ["import-fix", str(log)])
    assert human.exit_code == 0, human.stderr
    assert f"bytes outside messages (line ends, prefixes, junk): junk.log {outside}" in human.stderr


def account_order(account: bytes, cl: str = "O1") -> bytes:
    fields = [(11, cl), (1, account), (55, "IBM"), (54, "1"), (38, "100"), (40, "1")]
    return fix("D", [*fields, (60, "20261125-15:00:00.000")])


def test_a_value_that_is_not_utf8_is_refused_not_stored_as_mojibake(
    settings: Settings, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "latin.log", account_order("CAFÉ".encode("latin-1")))
    line = refused(settings, str(log))
    assert "latin.log:1: Account(1) b'CAF\\xc9' is not UTF-8 text" in line
    # With --skip-invalid it is a reject; the valid UTF-8 spelling is stored as written.
    log = write_log(
        tmp_path / "mixed.log",
        account_order("CAFÉ".encode("latin-1")),
        account_order("CAFÉ".encode(), cl="O2"),
    )
    code, out, err = cli("import-fix", str(log), "--skip-invalid")
    assert code == 0, err
    assert out is not None and (out["orders"], out["rejected"]) == (1, 1)
    accounts = (settings.data_path / "trade_date=2026-11-25" / "accounts.csv").read_bytes()
    assert accounts.splitlines()[1:] == ["CAFÉ,CLIENT,unknown,CAFÉ".encode()]
