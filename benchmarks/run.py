"""Measure every stage against its physical floor, in one run, on fresh databases.

    python benchmarks/run.py --orders 1000000 [--repeat 3] [--json]

Each repeat starts a fresh embedded PostgreSQL in a temporary SURVEIL_HOME and runs, each
stage in its own process (so peak RSS is the stage's own): generate; upload to the local
lake; the floors (a plain csv.writer writing the same rows from memory; COPY of the same
files into logged and into unlogged tables without indexes or constraints); the first
load; the re-load of the same day; validate; detect (per rule); and run-day end to end for
another date. Figures are medians over the repeats; ratios compare medians from this run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DAY = dt.date(2026, 11, 25)
RUN_DAY_DATE = dt.date(2026, 11, 24)
STAGES = (
    "generate",
    "upload",
    "floor-csv",
    "floor-copy-logged",
    "floor-copy-unlogged",
    "load",
    "reload",
    "validate",
    "detect",
    "import-fix",
)


def run_stage(stage: str, env: dict[str, str], day: dt.date, orders: int) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "_stage.py"), stage, day.isoformat(), str(orders)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_repeat(
    orders: int, with_run_day: bool, stages: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    home = Path(tempfile.mkdtemp(prefix="surveil-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    env.update({"SURVEIL_HOME": str(home), "BENCH_SCRATCH": str(home)})
    os.environ.update({"SURVEIL_HOME": str(home)})
    os.environ.pop("SURVEIL_DATABASE_URL", None)
    from surveil import db
    from surveil.settings import load_settings

    # Hold the embedded server for the whole repeat, so no stage pays for its start.
    db._embedded_url(load_settings())
    try:
        results = {stage: run_stage(stage, env, DAY, orders) for stage in stages}
        if with_run_day:
            results["run-day"] = run_stage("run-day", env, RUN_DAY_DATE, orders)
        return results
    finally:
        shutil.rmtree(home / "data", ignore_errors=True)
        shutil.rmtree(home / "lake", ignore_errors=True)


def summarise(repeats: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    def median(stage: str, key: str = "seconds") -> float:
        return statistics.median(r[stage][key] for r in repeats)

    def spread(stage: str) -> str:
        values = [r[stage]["seconds"] for r in repeats]
        return f"{min(values):.2f}–{max(values):.2f}"

    rows_total = repeats[0]["load"]["rows"]
    floor_csv = median("floor-csv")
    floor_copy = median("floor-copy-logged")
    load = median("load")
    table = []

    def add(
        stage: str, seconds: float, rows: int, floor: str, ratio: float | None, goal: str
    ) -> None:
        rss = (
            statistics.median(r[stage]["rss_mb"] for r in repeats) if stage in repeats[0] else None
        )
        table.append(
            {
                "stage": stage,
                "seconds": round(seconds, 3),
                "spread": spread(stage) if stage in repeats[0] else "",
                "rows_per_s": round(rows / seconds) if rows and seconds else None,
                "ratio": round(ratio, 3) if ratio is not None else None,
                "floor": floor,
                "goal": goal,
                "peak_rss_mb": round(rss) if rss else None,
            }
        )

    add("floor-csv", floor_csv, rows_total, "", None, "")
    add("floor-copy-logged", floor_copy, rows_total, "", None, "")
    add("floor-copy-unlogged", median("floor-copy-unlogged"), rows_total, "", None, "")
    add(
        "generate",
        median("generate"),
        rows_total,
        "floor-csv",
        median("generate") / floor_csv,
        "<= 1",
    )
    add("upload", median("upload"), rows_total, "", None, "")
    add("load", load, rows_total, "floor-copy-logged", load / floor_copy, "<= 2")
    add("reload", median("reload"), 0, "load", median("reload") / load, "< 0.05")
    add("validate", median("validate"), rows_total, "load", median("validate") / load, "< 1")
    detect = median("detect")
    add("detect", detect, rows_total, "load", detect / load, "< 2")
    for rule in repeats[0]["detect"]["rules"]:
        seconds = statistics.median(r["detect"]["rules"][rule]["seconds"] for r in repeats)
        table.append(
            {
                "stage": f"  detect {rule}",
                "seconds": round(seconds, 3),
                "spread": "",
                "rows_per_s": None,
                "ratio": round(seconds / load, 3),
                "floor": "load",
                "goal": "",
                "peak_rss_mb": None,
                "alerts": repeats[0]["detect"]["rules"][rule]["alerts"],
                "plan": repeats[0]["detect"]["rules"][rule].get("plan", ""),
            }
        )
    if "import-fix" in repeats[0]:
        add(
            "import-fix",
            median("import-fix"),
            repeats[0]["import-fix"]["rows"],
            "",
            None,
            "msgs/s; RSS flat",
        )
    if "run-day" in repeats[0]:
        add("run-day", median("run-day"), 0, "", None, "< 60 s at 1M orders")
    return table


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--no-run-day", action="store_true", help="skip the end-to-end run-day")
    parser.add_argument("--no-import-fix", action="store_true", help="skip import-fix")
    args = parser.parse_args()
    repeats = []
    for i in range(args.repeat):
        print(f"repeat {i + 1}/{args.repeat} …", file=sys.stderr)
        stages = tuple(s for s in STAGES if not (args.no_import_fix and s == "import-fix"))
        repeats.append(one_repeat(args.orders, not args.no_run_day, stages))
    raw = Path(tempfile.gettempdir()) / f"surveil-bench-{args.orders}.json"
    raw.write_text(json.dumps(repeats, indent=2))
    print(f"raw figures: {raw}", file=sys.stderr)
    table = summarise(repeats)
    report = {"orders": args.orders, "repeats": args.repeat, "machine": machine(), "stages": table}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"surveil benchmark: {args.orders:,} orders, median of {args.repeat}, {machine()}")
    header = f"{'stage':<28}{'seconds':>9}{'spread':>14}{'rows/s':>12}{'ratio':>8}  {'to':<18}{'goal':<22}{'RSS MB':>7}"
    print(header)
    print("-" * len(header))
    for row in table:
        print(
            f"{row['stage']:<28}{row['seconds']:>9.2f}{row['spread']:>14}"
            f"{row['rows_per_s'] or '':>12}{row['ratio'] if row['ratio'] is not None else '':>8}  "
            f"{row['floor']:<18}{row['goal']:<22}{row['peak_rss_mb'] or '':>7}"
        )
        if row.get("plan"):
            print(f"      plan: {row['plan']}")


if __name__ == "__main__":
    main()
