"""dbt build over days surveil really ran: marts equal to the raw tables, incremental
rebuilds of the days that changed, and bad input that fails loudly."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

from tests_dbt.conftest import BIN, RUN, dbt, execute, query, surveil

DAY = dt.date(2026, 11, 25)  # a Wednesday
NEXT = dt.date(2026, 11, 27)  # Friday, the early close (13:00 New York) after Thanksgiving


def run_day(day: dt.date, orders: int = 300, seed: int = 7) -> None:
    surveil(
        "run-day", "--date", day.isoformat(), "--orders", str(orders), "--seed", str(seed),
        "--no-report",
    )  # fmt: skip


def test_a_daily_build_passes_every_test_and_the_marts_equal_the_raw_tables(home: Path) -> None:
    run_day(DAY)
    done = dbt("--date", DAY.isoformat(), "build")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "ERROR=0" in done.stdout and "PASS=" in done.stdout

    raw = query(
        home,
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM orders "
        "WHERE ord_status IN ('4','6','C')), (SELECT count(*) FROM executions), "
        "(SELECT sum(fill_qty * fill_price) FROM executions), (SELECT count(*) FROM alerts)",
    )[0]
    mart = query(
        home,
        "SELECT sum(orders), sum(cancels), sum(fills), sum(notional), "
        "(SELECT sum(alerts) FROM analytics.mart_rule_daily_alerts) "
        "FROM analytics.mart_account_daily_activity",
    )[0]
    assert raw[0] == 300
    assert mart == raw
    rules = query(home, "SELECT rule, alerts FROM analytics.mart_rule_daily_alerts")
    assert len(rules) == 5  # every rule that ran has a row, alerts or not
    closes = query(home, "SELECT DISTINCT close_utc FROM analytics.mart_symbol_closing_volume")
    assert closes == [(dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC),)]
    auction = query(
        home,
        "SELECT (SELECT sum(auction_volume) FROM analytics.mart_symbol_closing_volume), "
        "(SELECT sum(e.fill_qty) FROM executions e JOIN orders o USING (trade_date, cl_ord_id) "
        "WHERE o.time_in_force = '7')",
    )[0]
    assert auction[0] == auction[1] and auction[0] > 0  # the closing prints, and only they


def test_the_next_day_is_added_incrementally_and_an_early_close_uses_its_own_close(
    home: Path,
) -> None:
    run_day(DAY)
    assert dbt("build").returncode == 0
    first = query(home, "SELECT * FROM analytics.mart_account_daily_activity ORDER BY 1, 2")
    run_day(NEXT, orders=200, seed=8)
    done = dbt("--date", NEXT.isoformat(), "build")
    assert done.returncode == 0, done.stdout[-3000:]

    per_day = dict(
        query(
            home,
            "SELECT trade_date, sum(orders) FROM analytics.mart_account_daily_activity GROUP BY 1",
        )
    )
    assert per_day == {DAY: 300, NEXT: 200}
    kept = query(
        home,
        "SELECT * FROM analytics.mart_account_daily_activity WHERE trade_date = %s ORDER BY 1, 2",
        (DAY,),
    )
    assert kept == first  # the first day was not rebuilt (same rows, same load run)
    closes = dict(
        query(
            home, "SELECT DISTINCT trade_date, close_utc FROM analytics.mart_symbol_closing_volume"
        )
    )
    assert closes[NEXT] == dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)


def test_a_day_detected_again_is_rebuilt_in_the_alerts_mart(home: Path) -> None:
    run_day(DAY)
    assert dbt("build").returncode == 0
    before = dict(query(home, "SELECT rule, alerts FROM analytics.mart_rule_daily_alerts"))
    assert before["excessive_otr"] > 0
    # The rule run again with a threshold nothing reaches: its alerts are replaced by none.
    surveil("detect", "--date", DAY.isoformat(), "--rule", "excessive_otr",
            "--param", "excessive_otr.min_orders=100000")  # fmt: skip
    assert dbt("build").returncode == 0
    after = dict(query(home, "SELECT rule, alerts FROM analytics.mart_rule_daily_alerts"))
    assert after == {**before, "excessive_otr": 0}


def test_a_mart_that_no_longer_ties_to_the_raw_tables_fails_dbt_test(home: Path) -> None:
    run_day(DAY)
    assert dbt("build").returncode == 0
    execute(
        home,
        "UPDATE analytics.mart_account_daily_activity SET notional = notional + 1 "
        "WHERE account_id = (SELECT min(account_id) FROM analytics.mart_account_daily_activity)",
    )
    done = dbt("test")
    assert done.returncode == 1
    assert "FAIL 1 assert_activity_ties_to_raw_orders_and_executions" in done.stdout


def test_a_day_that_is_not_loaded_exits_5_with_one_line_before_dbt_runs(home: Path) -> None:
    run_day(DAY)
    done = dbt("--date", "2026-11-24", "build")
    assert done.returncode == 5
    assert done.stderr.strip().splitlines() == [
        "error: 2026-11-24 is not loaded in the warehouse: run `surveil run-day --date "
        "2026-11-24` (or load it) before dbt builds it"
    ]
    assert "Running with dbt" not in done.stdout


def test_plain_dbt_fails_the_build_for_a_missing_day_too(home: Path) -> None:
    """Without run.py's check, dbt's own test (assert_trade_date_is_loaded) fails it."""
    run_day(DAY)
    done = dbt("--", "dbt", "build", "--vars", json.dumps({"trade_date": "2026-11-24"}))
    assert done.returncode == 1
    assert "FAIL 1 assert_trade_date_is_loaded" in done.stdout


def test_a_weekend_or_holiday_is_skipped_with_exit_0_and_no_build(home: Path) -> None:
    done = dbt("--date", "2026-11-26", "build")
    assert done.returncode == 0
    assert done.stderr.strip() == "2026-11-26: skipped, holiday (Thanksgiving)"
    assert done.stdout == ""


def test_an_unreachable_database_exits_4_with_surveils_one_line_message(home: Path) -> None:
    done = dbt("build", env={"SURVEIL_DATABASE_URL": "postgresql://u:s3cret@127.0.0.1:9/x"})
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot connect to PostgreSQL at 127.0.0.1:9/x")
    assert "s3cret" not in done.stderr + done.stdout


def test_dbt_alone_against_an_unreachable_server_fails_with_its_own_error(home: Path) -> None:
    """Plain dbt, the profile's variables pointing at nothing: dbt's error, never a pass."""
    project = str(RUN.parent)
    done = subprocess.run(
        [str(BIN / "dbt"), "build", "--project-dir", project, "--profiles-dir", project],
        capture_output=True,
        text=True,
        env={**os.environ, "SURVEIL_DBT_HOST": "127.0.0.1", "SURVEIL_DBT_PORT": "9"},
    )
    assert done.returncode == 2
    assert "Connection refused" in done.stdout
