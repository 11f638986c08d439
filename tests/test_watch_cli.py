"""`surveil watch` as a process: SIGTERM, kill -9 and restart, bad input, exit codes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from surveil.cli import app
from surveil.settings import Settings
from tests.conftest import TRADING_DAY
from tests.reliability import kill9, reaped, spawn, wait_until
from tests.test_watch import app_messages, assert_journal_exact, assert_same_rows, batch_day
from tests.watchlog import count, day_rows, generated_log

runner = CliRunner()


def committed(conn: psycopg.Connection) -> int:
    """Messages the watcher has committed (0 before it has migrated the database)."""
    if not count(conn, "SELECT (to_regclass('watch_positions') IS NOT NULL)::int"):
        return 0
    return count(conn, "SELECT coalesce(max(messages), 0) FROM watch_positions")


def test_kill_9_mid_flow_then_restart_loses_nothing_and_counts_nothing_twice(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY, orders=1500)
    total = app_messages(log.read_bytes())
    process = spawn("watch", "--log", str(log), "--batch-bytes", "4096", "--detect-every", "0")
    with reaped(process):
        wait_until(lambda: committed(conn) > 0, "a first commit")
        kill9(process)
    assert committed(conn) <= total
    assert_journal_exact(conn, committed(conn))  # what is committed is whole
    out = tmp_path / "alerts.jsonl"
    result = runner.invoke(app, ["watch", "--log", str(log), "--once", "--alerts-out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert_journal_exact(conn, total)
    watched = day_rows(conn, TRADING_DAY)
    sent = [json.loads(line)["alert_id"] for line in out.read_text().splitlines()]
    assert len(sent) == len(set(sent))
    batch = batch_day(settings, log, TRADING_DAY, conn)
    assert_same_rows(watched, batch)


def test_sigterm_commits_what_it_read_and_exits_0(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    total = app_messages(log.read_bytes())
    process = spawn("watch", "--log", str(log), "--detect-every", "0", "--json")
    with reaped(process):
        wait_until(lambda: committed(conn) == total, "the log read whole")
        os.kill(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    *alert_lines, summary = stdout.splitlines()
    assert json.loads(summary)["messages"] == total and json.loads(summary)["status"] == "stopped"
    alerts = {json.loads(line)["alert_id"] for line in alert_lines}
    assert alerts and alerts == {r[0] for r in day_rows(conn, TRADING_DAY)["alerts"]}
    assert_journal_exact(conn, total)


def test_a_missing_folder_is_bad_input_in_one_line(settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["watch", "--log", str(tmp_path / "nowhere" / "fix.log")])
    assert result.exit_code == 3
    assert result.stderr.strip().count("\n") == 0 and "no such folder" in result.stderr


def test_an_unreachable_database_exits_4_in_one_line(
    settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    from tests.reliability.test_secrets import closed_port

    monkeypatch.setenv("SURVEIL_DATABASE_URL", f"postgresql://u:pw@127.0.0.1:{closed_port()}/x")
    log = generated_log(tmp_path, TRADING_DAY)
    result = runner.invoke(app, ["watch", "--log", str(log), "--once"])
    assert result.exit_code == 4, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "pw" not in result.stderr.replace("PW", "")


def test_a_second_watcher_of_the_same_log_is_refused(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    log = generated_log(tmp_path, TRADING_DAY)
    total = app_messages(log.read_bytes())
    first = spawn("watch", "--log", str(log), "--detect-every", "3600")
    with reaped(first):
        wait_until(lambda: committed(conn) == total, "the first watcher's commits")
        second = runner.invoke(app, ["watch", "--log", str(log), "--once"])
        os.kill(first.pid, signal.SIGTERM)
        first.communicate(timeout=60)
    assert second.exit_code == 75 and "another surveil watch" in second.stderr
    assert first.returncode == 0
    assert_journal_exact(conn, total)


def test_the_systemd_unit_restarts_on_failure_and_runs_a_command_the_cli_takes(
    tmp_path: Path,
) -> None:
    import shlex
    import subprocess

    from tests.test_deploy import DEPLOY, SYSTEMD_ANALYZE, surveil_binary, unit

    service = unit("surveil-watch.service")["Service"]
    assert service["Type"] == "simple" and service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"  # watch commits and exits 0 on it
    args = shlex.split(service["ExecStart"])
    assert args[:2] == ["/usr/local/bin/surveil", "watch"]
    filled = [a.replace("${FIX_LOG}", "/x/fix.log").replace("%L", "/var/log") for a in args[2:]]
    result = runner.invoke(app, ["watch", *filled, "--help"])
    assert result.exit_code == 0, result.output
    if SYSTEMD_ANALYZE:
        copy = tmp_path / "surveil-watch.service"
        text = (DEPLOY / "surveil-watch.service").read_text(encoding="utf-8")
        copy.write_text(text.replace("/usr/local/bin/surveil", surveil_binary()))
        checked = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", "--man=no", str(copy)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        ours = [line for line in checked.stderr.splitlines() if "surveil" in line]
        assert checked.returncode == 0 and not ours, checked.stderr


def test_the_compose_service_runs_a_command_the_cli_takes_and_restarts_on_failure() -> None:
    from tests.test_deploy import compose

    service = compose()["services"]["surveil-watch"]
    assert service["restart"] == "on-failure" and service["profiles"] == ["watch"]
    assert "fix-logs:/fix:ro" in service["volumes"]
    result = runner.invoke(app, [*service["command"], "--help"])
    assert result.exit_code == 0 and service["command"][0] == "watch", result.output
