"""Issue 17 item 10: a killed run's hidden staging folder does not stay in the data folder.

generate and import-fix build a day in a hidden folder named with their pid; the next
writer removes the folders whose run is gone (surveil/staging.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from surveil.settings import Settings
from surveil.staging import staging_dir, sweep_stale
from tests.conftest import TRADING_DAY
from tests.reliability import kill9, reaped, spawn, wait_until
from tests.reliability.test_day_integrity import cli


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def hidden(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.name.startswith("."))


def test_the_next_run_removes_staging_folders_of_runs_that_are_gone(
    settings: Settings,
) -> None:
    data = settings.data_path
    data.mkdir(parents=True)
    gone = data / f".trade_date=2026-11-24.{dead_pid()}.abc123"
    (gone / "orders.csv").parent.mkdir()
    (gone / "orders.csv").write_text("half a day")
    gone_import = data / f".import-fix.{dead_pid()}.xyz"
    gone_import.mkdir()
    running = staging_dir(data, "import-fix")  # this process: alive
    unrelated = data / ".not-ours"
    unrelated.mkdir()
    code, _, err = cli("generate", "--date", str(TRADING_DAY))
    assert code == 0, err
    assert hidden(data) == sorted([running.name, unrelated.name])
    assert (data / f"trade_date={TRADING_DAY}" / "orders.csv").exists()


def test_a_generate_killed_mid_write_leaves_nothing_after_the_next_run(
    settings: Settings,
) -> None:
    data = settings.data_path
    slow = spawn("generate", "--date", "2026-11-24", "--orders", "400000")
    with reaped(slow):
        wait_until(lambda: data.is_dir() and hidden(data), "the staging folder")
        kill9(slow)
    (left,) = hidden(data)
    assert left.startswith(f".trade_date=2026-11-24.{slow.pid}.")
    assert not (data / "trade_date=2026-11-24").exists()  # never published
    code, _, err = cli("generate", "--date", str(TRADING_DAY))
    assert code == 0, err
    assert hidden(data) == []


def test_sweeping_an_absent_data_folder_is_a_no_op(tmp_path: Path) -> None:
    assert sweep_stale(tmp_path / "absent") == []
