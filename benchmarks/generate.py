"""How fast `surveil generate` writes a day, against a plain csv.writer floor.

Generates one day (default 1,000,000 orders, default scenarios included) into a temporary
folder and reports orders per second. Then, in the same run, reads the day's orders and
executions back into memory in blocks of rows (lists of strings, untimed) and times a
plain `csv.writer.writerows` writing exactly those rows to a file: the "floor", the cost
of merely writing the day with the standard library once the rows exist. The goal is a
ratio (generator rate / floor rate) of at least 1: generating costs no more than writing.

    python benchmarks/generate.py [--orders 1000000] [--date 2026-11-25] [--seed 42] [--repeat 3]

The machine may be shared: rounds alternate generate and floor and the medians are shown,
so read the ratio rather than the absolute rates. Peak RSS is the process's high-water mark
after the first generation, before any floor work.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from surveil import calendar
from surveil.generate import generate_day
from surveil.settings import Settings

BLOCK_ROWS = 100_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def floor_seconds(day_dir: Path, out_dir: Path) -> tuple[float, int]:
    """Seconds csv.writer takes to write the day's orders and executions from memory."""
    spent = 0.0
    rows = 0
    for table in ("orders", "executions"):
        with (
            (day_dir / f"{table}.csv").open(newline="") as source,
            (out_dir / f"{table}.floor.csv").open("w", newline="") as target,
        ):
            writer = csv.writer(target, lineterminator="\n")
            reader = csv.reader(source)
            writer.writerow(next(reader))
            while True:
                block = [row for _, row in zip(range(BLOCK_ROWS), reader, strict=False)]
                if not block:
                    break
                start = time.perf_counter()
                writer.writerows(block)
                spent += time.perf_counter() - start
                rows += len(block)
    return spent, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 25))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of generate + floor; medians are shown"
    )
    args = parser.parse_args(argv)

    calendar.session(args.date)  # load the exchange calendar before the clock starts
    generate_times: list[float] = []
    floor_times: list[float] = []
    peak_after_generate = 0.0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="surveil-bench-") as tmp:
            home = Path(tmp)
            settings = Settings(home=home, data_dir=home / "data")
            start = time.perf_counter()
            result = generate_day(settings, args.date, orders=args.orders, seed=args.seed)
            generate_times.append(time.perf_counter() - start)
            if not generate_times[:-1]:  # the first round, before any floor work
                peak_after_generate = peak_rss_mb()
            floor_s, floor_rows = floor_seconds(result.path, home)
            floor_times.append(floor_s)
        generated_rows = result.rows["orders"] + result.rows["executions"]
        assert floor_rows == generated_rows, (floor_rows, generated_rows)

    orders = result.rows["orders"]
    generate_s = statistics.median(generate_times)
    floor_s = statistics.median(floor_times)
    generate_rate = orders / generate_s
    floor_rate = orders / floor_s
    print(
        f"day {args.date}, seed {args.seed}: {orders:,} orders, "
        f"{result.rows['executions']:,} executions, {result.rows['scenarios']:,} scenarios; "
        f"median of {args.repeat}"
    )
    print(
        f"generate  {generate_s:7.2f} s  {generate_rate:12,.0f} orders/s  "
        f"(peak RSS {peak_after_generate:,.0f} MB)"
    )
    print(
        f"floor     {floor_s:7.2f} s  {floor_rate:12,.0f} orders/s  "
        f"(csv.writer, the same {floor_rows:,} rows from memory)"
    )
    print(f"ratio     {generate_rate / floor_rate:7.2f}x the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
