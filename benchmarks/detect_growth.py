"""How each rule's time grows with the day, against n·log n and against plain queries.

    python benchmarks/detect_growth.py                       # 100k, 300k, 1M, 3M orders
    python benchmarks/detect_growth.py --sizes 100000,1000000 --repeat 5 [--json]

Generates and loads one day per size into a fresh embedded PostgreSQL (in a temporary
SURVEIL_HOME), then, in each round, runs every rule on every day, one day after the other,
so that a slow spell of the machine touches all sizes alike. Beside the rules it times
three plain queries on the same days, one at a time and without parallel workers: a sum
over the orders (linear), a hash join of the fills with their orders (linear), and a sort
of the orders (n·log n). Their growth is what this machine does to work of a known order
as a day outgrows the CPU's caches and shared_buffers; a rule growing like them adds no
complexity of its own. Prints medians per size and the growth from each size to the next,
next to n·log n's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import time

from run import DAY, fresh_home

BASELINES = {
    "sum of orders": "SELECT sum(quantity) FROM orders WHERE trade_date = %s",
    "fills ⋈ orders": (
        "SELECT count(*) FROM executions e JOIN orders o USING (trade_date, cl_ord_id) "
        "WHERE e.trade_date = %s"
    ),
    "sort of orders": (
        "SELECT count(*) FROM (SELECT symbol, transact_time, cl_ord_id FROM orders "
        "WHERE trade_date = %s ORDER BY symbol, transact_time, cl_ord_id OFFSET 0) s"
    ),
}


def trading_days(count: int) -> list[dt.date]:
    from surveil import calendar

    """One trading day per size, counted back from the benchmark's usual date."""
    days = [DAY]
    while len(days) < count:
        days.append(calendar.previous_trading_day(days[-1]))
    return days


def measure(sizes: list[int], repeat: int) -> dict[str, dict[int, list[float]]]:
    from surveil import db
    from surveil.detect import detect_day
    from surveil.generate import generate_day
    from surveil.lake import upload_day
    from surveil.load import load_day
    from surveil.settings import load_settings

    settings = load_settings()
    days = dict(zip(sizes, trading_days(len(sizes)), strict=True))
    for orders, day in days.items():
        generate_day(settings, day, orders=orders)
        upload_day(settings, day)
        load_day(settings, day)
        print(f"loaded {orders:,} orders as {day}", file=sys.stderr)
    times: dict[str, dict[int, list[float]]] = {}
    with db.connect(settings) as conn:
        for round_ in range(repeat):
            for orders, day in days.items():
                for rule in detect_day(settings, day).rules:
                    times.setdefault(rule.rule, {}).setdefault(orders, []).append(rule.seconds)
                for name, query in BASELINES.items():
                    with conn.transaction():
                        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                        conn.execute("SET LOCAL work_mem = '256MB'")
                        clock = time.perf_counter()
                        conn.execute(query, (day,)).fetchall()
                        seconds = time.perf_counter() - clock
                    times.setdefault(name, {}).setdefault(orders, []).append(seconds)
            print(f"round {round_ + 1}/{repeat}", file=sys.stderr)
    return times


def short(orders: int) -> str:
    return f"{orders // 1_000_000}M" if orders % 1_000_000 == 0 else f"{orders // 1000}k"


def n_log_n_growth(a: int, b: int) -> float:
    return (b * math.log(b)) / (a * math.log(a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000,3000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with fresh_home("surveil-growth-"):
        times = measure(sizes, args.repeat)
    steps = list(zip(sizes, sizes[1:], strict=False))
    report = {
        name: {
            "seconds": {n: round(statistics.median(v), 4) for n, v in by_size.items()},
            "growth": {
                f"{short(a)}→{short(b)}": round(
                    statistics.median(by_size[b]) / statistics.median(by_size[a]), 2
                )
                for a, b in steps
            },
        }
        for name, by_size in times.items()
    }
    n_log_n = {f"{short(a)}→{short(b)}": round(n_log_n_growth(a, b), 2) for a, b in steps}
    if args.json:
        print(json.dumps({"sizes": sizes, "repeat": args.repeat, "n_log_n": n_log_n, **report}))
        return
    width = max(len(name) for name in report)
    print(f"medians of {args.repeat}; growth from each size to the next")
    header = (
        " ".join(f"{short(n):>10}" for n in sizes) + "  " + " ".join(f"{k:>12}" for k in n_log_n)
    )
    print(f"{'':{width}} {header}")
    for name, figures in [*report.items(), ("n·log n", {"seconds": {}, "growth": n_log_n})]:
        secs = " ".join(
            f"{figures['seconds'][n]:>10.3f}" if n in figures["seconds"] else f"{'':>10}"
            for n in sizes
        )
        growth = " ".join(f"{figures['growth'][k]:>11.1f}×" for k in n_log_n)
        print(f"{name:{width}} {secs}  {growth}")


if __name__ == "__main__":
    main()
