"""The dbt marts on a month of large days: build times, and a BI tool's daily queries on
the marts against the same questions asked of the raw tables, in the same run.

    .venv-dbt/bin/python benchmarks/dbt_marts.py                    # 21 days of 1M orders
    .venv-dbt/bin/python benchmarks/dbt_marts.py --days 3 --orders 100000   # a quick look

Needs the dbt venv (`pip install -e '.[dbt]'`). The days are made by the real pipeline
(`surveil backfill --no-report`) in a fresh SURVEIL_HOME (embedded PostgreSQL) unless
--home names one that already holds them; at 1M orders a day takes about half a minute and
a few hundred MB on disk. Then: a full `dbt build` (marts and every test), one more day
and the incremental build that adds it, and each query timed (median of --repeat) on the
marts and on the raw tables. Not run in CI; figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from surveil import calendar
from surveil.db import connect
from surveil.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# (name, on the marts, the same answer from the raw tables). %(day)s: the month's last day.
QUERIES = [
    (
        "a day's 50 most active accounts by notional",
        """SELECT account_id, orders, cancels, fills, notional, order_to_trade_ratio
           FROM analytics.mart_account_daily_activity WHERE trade_date = %(day)s
           ORDER BY notional DESC LIMIT 50""",
        """WITH o AS (SELECT account_id, count(*) AS orders,
                        count(*) FILTER (WHERE ord_status IN ('4','6','C')) AS cancels
                      FROM orders WHERE trade_date = %(day)s GROUP BY account_id),
                f AS (SELECT account_id, count(*) AS fills, sum(fill_qty * fill_price) AS notional
                      FROM executions WHERE trade_date = %(day)s GROUP BY account_id)
           SELECT o.account_id, o.orders, o.cancels, coalesce(f.fills, 0),
                  coalesce(f.notional, 0),
                  round(o.orders::numeric / greatest(coalesce(f.fills, 0), 1), 4)
           FROM o LEFT JOIN f USING (account_id)
           ORDER BY coalesce(f.notional, 0) DESC LIMIT 50""",
    ),
    (
        "one account over the month",
        """SELECT trade_date, orders, fills, notional, order_to_trade_ratio
           FROM analytics.mart_account_daily_activity WHERE account_id = %(account)s
           ORDER BY trade_date""",
        """WITH o AS (SELECT trade_date, count(*) AS orders FROM orders
                      WHERE account_id = %(account)s GROUP BY trade_date),
                f AS (SELECT trade_date, count(*) AS fills, sum(fill_qty * fill_price) AS notional
                      FROM executions WHERE account_id = %(account)s GROUP BY trade_date)
           SELECT o.trade_date, o.orders, coalesce(f.fills, 0), coalesce(f.notional, 0),
                  round(o.orders::numeric / greatest(coalesce(f.fills, 0), 1), 4)
           FROM o LEFT JOIN f USING (trade_date) ORDER BY o.trade_date""",
    ),
    (
        "alerts per rule per day, the month",
        """SELECT trade_date, rule, alerts, mean_score, max_score
           FROM analytics.mart_rule_daily_alerts ORDER BY trade_date, rule""",
        """SELECT trade_date, rule, count(*), round(avg(score), 2), max(score)
           FROM alerts GROUP BY trade_date, rule ORDER BY trade_date, rule""",
    ),
    (
        "a day's 20 symbols with the largest closing share",
        """SELECT symbol, volume, closing_volume, closing_share
           FROM analytics.mart_symbol_closing_volume WHERE trade_date = %(day)s
           ORDER BY closing_share DESC NULLS LAST LIMIT 20""",
        """SELECT symbol, sum(fill_qty),
                  sum(fill_qty) FILTER (WHERE transact_time >= %(close)s - interval '10 minutes'
                                          AND transact_time <= %(close)s),
                  round((sum(fill_qty) FILTER (WHERE transact_time >= %(close)s
                         - interval '10 minutes' AND transact_time <= %(close)s))::numeric
                        / sum(fill_qty), 4) AS share
           FROM executions WHERE trade_date = %(day)s GROUP BY symbol
           ORDER BY share DESC NULLS LAST LIMIT 20""",
    ),
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed ({done.returncode}):\n{done.stdout[-2000:]}"
                 f"{done.stderr[-2000:]}")  # fmt: skip
    return seconds


def median_seconds(conn, sql: str, params: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=21, help="trading days in the month")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 11, 30))
    parser.add_argument("--home", type=Path, help="a SURVEIL_HOME already holding the days")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    days = calendar.trading_days(args.end - dt.timedelta(days=3 * args.days), args.end)
    days = days[-(args.days + 1) :]  # the month, then one more day for the incremental build
    month, extra = days[:-1], days[-1]
    home = args.home or Path(tempfile.mkdtemp(prefix="surveil-dbt-bench-"))
    env = {**os.environ, "SURVEIL_HOME": str(home), "DBT_TARGET_PATH": str(home / "dbt-target"),
           "DBT_LOG_PATH": str(home / "dbt-logs")}  # fmt: skip
    env.pop("SURVEIL_DATABASE_URL", None)
    surveil = [str(BIN / "surveil")]
    run_py = [sys.executable, str(ROOT / "dbt" / "run.py")]
    print(f"{len(month)} days {month[0]}..{month[-1]} of {args.orders:,} orders, then {extra}")
    print(f"SURVEIL_HOME={home}")

    figures = {}
    with connect(Settings(home=home)) as conn:  # holds the embedded server up throughout
        figures["backfill the month"] = timed(
            [*surveil, "backfill", "--start", str(month[0]), "--end", str(month[-1]),
             "--orders", str(args.orders), "--no-report"], env)  # fmt: skip
        figures["dbt build, full (models + tests)"] = timed(
            [*run_py, "build", "--full-refresh"], env
        )
        figures["run-day, one more day"] = timed(
            [*surveil, "run-day", "--date", str(extra), "--orders", str(args.orders),
             "--no-report"], env)  # fmt: skip
        figures["dbt build, incremental (one new day)"] = timed(
            [*run_py, "--date", str(extra), "build"], env
        )
        figures["dbt run, nothing changed"] = timed([*run_py, "run"], env)
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        account = conn.execute(
            "SELECT account_id FROM analytics.mart_account_daily_activity "
            "WHERE trade_date = %s ORDER BY orders DESC LIMIT 1",
            (extra,),
        ).fetchone()[0]
        params = {"day": extra, "account": account, "close": calendar.session(extra).close_utc}
        print(f"\nwarehouse: {orders:,} orders over {len(days)} days\n")
        print("| step | seconds |\n|---|---:|")
        for name, seconds in figures.items():
            print(f"| {name} | {seconds:.1f} |")
        print(f"\n| BI query (median of {args.repeat}) | marts s | raw tables s | raw ÷ marts |")
        print("|---|---:|---:|---:|")
        for name, on_marts, on_raw in QUERIES:
            conn.execute(on_marts, params).fetchall()  # warm both, as a dashboard's cache
            conn.execute(on_raw, params).fetchall()
            marts = median_seconds(conn, on_marts, params, args.repeat)
            raw = median_seconds(conn, on_raw, params, args.repeat)
            print(f"| {name} | {marts:.4f} | {raw:.3f} | {raw / marts:,.0f} |")


if __name__ == "__main__":
    main()
