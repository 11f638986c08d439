"""run-day end to end: the embedded default, idempotent re-runs, skipped days."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.settings import Settings
from tests.conftest import EARLY_CLOSE_DAY, TRADING_DAY, count_day

runner = CliRunner()


def run_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.stdout.count("\n") == 1, result.stdout  # exactly one JSON object
    return result.exit_code, json.loads(result.stdout)


def test_run_day_on_the_embedded_default_in_a_real_subprocess(tmp_path: Path) -> None:
    """No configuration at all but a home folder: embedded PostgreSQL and a local lake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    env["SURVEIL_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "surveil", "run-day", "--date", str(TRADING_DAY)]
    first = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "done"
    assert [s["status"] for s in summary["steps"]] == [
        "generated",
        "uploaded",
        "loaded",
        "passed",
        "detected",
        "written",
    ]
    assert (tmp_path / "home" / "pg" / "PG_VERSION").exists()
    assert (tmp_path / "home" / "lake" / f"trade_date={TRADING_DAY}" / "_manifest.json").exists()

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "nothing new to do" in second.stderr
    assert second.stdout == ""  # people's output goes to stderr


def test_second_run_day_does_no_new_work(settings: Settings, conn) -> None:
    code, first = run_json("run-day", "--date", str(TRADING_DAY))
    assert code == 0 and first["new_work"] is True
    orders = count_day(conn, "orders", TRADING_DAY)
    executions = count_day(conn, "executions", TRADING_DAY)
    assert orders == 300 and executions > 0

    code, second = run_json("run-day", "--date", str(TRADING_DAY))
    assert code == 0
    assert second["new_work"] is False
    assert {s["status"] for s in second["steps"]} == {"skipped"}
    assert count_day(conn, "orders", TRADING_DAY) == orders
    assert count_day(conn, "executions", TRADING_DAY) == executions
    actions = [r[0] for r in conn.execute("SELECT action FROM load_runs ORDER BY run_id")]
    assert actions == ["loaded", "skipped"]


@pytest.mark.parametrize(
    ("day", "reason"),
    [("2026-11-28", "weekend (Saturday)"), ("2026-11-26", "holiday (Thanksgiving)")],
)
def test_run_day_skips_days_without_a_session(settings: Settings, day: str, reason: str) -> None:
    code, out = run_json("run-day", "--date", day)
    assert code == 0
    assert out["status"] == "skipped"
    assert reason in out["reason"]
    assert not (settings.data_path / f"trade_date={day}").exists()


def test_run_day_on_an_early_close_day_keeps_trading_before_13_00_new_york(
    settings: Settings, conn
) -> None:
    """Orders and continuous fills before 13:00; the closing auction prints at 13:00:00
    or within the second after it (fills of at-the-close orders, TimeInForce 7)."""
    code, _ = run_json("run-day", "--date", str(EARLY_CLOSE_DAY))
    assert code == 0
    latest, first_print, last_print = conn.execute(
        """SELECT max(t) FILTER (WHERE NOT at_close), min(t) FILTER (WHERE at_close),
                  max(t) FILTER (WHERE at_close)
           FROM (SELECT (transact_time AT TIME ZONE 'America/New_York')::time AS t,
                        false AS at_close
                 FROM orders WHERE trade_date = %(d)s
                 UNION ALL
                 SELECT (e.transact_time AT TIME ZONE 'America/New_York')::time,
                        o.time_in_force = '7'
                 FROM executions e JOIN orders o USING (trade_date, cl_ord_id)
                 WHERE e.trade_date = %(d)s) t""",
        {"d": EARLY_CLOSE_DAY},
    ).fetchone()
    assert latest.hour < 13
    assert dt.time(13) <= first_print <= last_print < dt.time(13, 0, 1)


def test_status_lists_the_day_at_every_stage(settings: Settings) -> None:
    run_json("run-day", "--date", str(TRADING_DAY))
    # Up to the day itself: without --end, status runs to the last completed session, and
    # the sessions since this day, never run, would be gaps (issue 17).
    code, out = run_json("status", "--end", str(TRADING_DAY))
    assert code == 0
    (day,) = out["days"]
    assert day["trade_date"] == str(TRADING_DAY)
    assert day["generated"] and day["uploaded"]
    assert day["loaded_rows"] > 300
    assert day["validated"] == "pass"
    assert day["detected"] == "current" and day["done"]


def test_run_day_exits_1_and_reports_when_validation_fails(settings: Settings, conn) -> None:
    run_json("run-day", "--date", str(TRADING_DAY))
    # Break the loaded day behind surveil's back, then force validation to run again.
    conn.execute(
        "UPDATE orders SET cum_qty = cum_qty + 1 WHERE cl_ord_id = (SELECT min(cl_ord_id) FROM orders)"
    )
    conn.execute("DELETE FROM validation_results; DELETE FROM validation_runs")
    code, out = run_json("run-day", "--date", str(TRADING_DAY))
    assert code == 1
    assert out["status"] == "failed"
    assert "cum_qty_equals_fills" in out["steps"][-1]["detail"]


def test_run_day_never_generates_over_a_day_watch_built(settings: Settings, conn) -> None:
    """A day `surveil watch` put into the warehouse from the live log: run-day with --orders
    would generate a synthetic day and load it over the real one. It exits 3 with one line,
    and writes nothing (without --orders it records the watched day: test_watch_runday.py)."""
    from surveil import db

    db.migrate(conn)
    conn.execute(
        "INSERT INTO watch_messages (source, seq, trade_date, file_name, line, begin_string,"
        " msg_type, body) VALUES ('log', 0, %s, 'FIX.log', 1, 'FIX.4.4', 'D', '\\x00')",
        (TRADING_DAY,),
    )
    result = CliRunner().invoke(
        app, ["run-day", "--date", str(TRADING_DAY), "--orders", "500", "--no-report"]
    )
    assert result.exit_code == 3, result.output
    assert "surveil watch" in result.stderr and "never generates over it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not settings.data_path.exists() or not any(settings.data_path.glob("trade_date=*"))
    assert count_day(conn, "orders", TRADING_DAY) == 0
