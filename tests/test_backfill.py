"""backfill and run-day --catch-up: every trading day, through the same per-day function."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from surveil.cli import app
from surveil.settings import Settings
from tests.conftest import count_day

runner = CliRunner()
# Tue 24, Wed 25, (Thanksgiving 26), Fri 27 early close, (weekend), Mon 30
WEEK = ["2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"]


def invoke(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def loaded_days(conn) -> list[str]:
    rows = conn.execute("SELECT DISTINCT trade_date FROM orders ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def test_backfill_runs_every_trading_day_in_parallel_and_is_idempotent(
    settings: Settings, conn
) -> None:
    code, out = invoke(
        "backfill", "--start", "2026-11-24", "--end", "2026-11-30", "--jobs", "2", "--orders", "200"
    )
    assert code == 0, out
    assert [d["trade_date"] for d in out["days"]] == WEEK
    assert {d["status"] for d in out["days"]} == {"done"}
    assert loaded_days(conn) == WEEK
    assert all(count_day(conn, "orders", dt.date.fromisoformat(d)) == 200 for d in WEEK)

    code, again = invoke(
        "backfill", "--start", "2026-11-24", "--end", "2026-11-30", "--orders", "200"
    )
    assert code == 0
    assert {d["message"] for d in again["days"]} == {"nothing new to do"}
    loads = conn.execute("SELECT action, count(*) FROM load_runs GROUP BY 1 ORDER BY 1").fetchall()
    assert loads == [("loaded", 4), ("skipped", 4)]


def test_backfill_finishes_the_other_days_when_one_fails(settings: Settings, conn) -> None:
    # A different file already in the lake for the 25th makes that day's upload refuse.
    invoke("run-day", "--date", "2026-11-25", "--orders", "150")
    code, out = invoke(
        "backfill", "--start", "2026-11-24", "--end", "2026-11-27", "--orders", "200"
    )
    assert code == 3
    by_day = {d["trade_date"]: d for d in out["days"]}
    assert by_day["2026-11-25"]["status"] == "failed"
    assert "--force" in by_day["2026-11-25"]["message"]
    assert by_day["2026-11-24"]["status"] == by_day["2026-11-27"]["status"] == "done"
    assert count_day(conn, "orders", dt.date(2026, 11, 25)) == 150  # untouched
    assert out["failed"] == 1


def test_backfill_rejects_an_inverted_range(settings: Settings) -> None:
    result = runner.invoke(app, ["backfill", "--start", "2026-11-30", "--end", "2026-11-24"])
    assert result.exit_code == 2
    assert "before --start" in result.stderr


def test_catch_up_runs_every_missed_trading_day_oldest_first(settings: Settings, conn) -> None:
    invoke("run-day", "--date", "2026-11-24")
    code, out = invoke("run-day", "--catch-up", "--date", "2026-11-30")
    assert code == 0
    assert [d["trade_date"] for d in out["days"]] == WEEK[1:]
    assert loaded_days(conn) == WEEK
    code, again = invoke("run-day", "--catch-up", "--date", "2026-11-30")
    assert code == 0 and again["days"] == []


def test_catch_up_with_an_empty_warehouse_runs_the_target_day_only(
    settings: Settings, conn
) -> None:
    code, out = invoke("run-day", "--catch-up", "--date", "2026-11-25")
    assert code == 0
    assert [d["trade_date"] for d in out["days"]] == ["2026-11-25"]
    assert loaded_days(conn) == ["2026-11-25"]
