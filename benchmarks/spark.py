"""Detection per rule on Spark (local mode) next to PostgreSQL, on the same generated days.

    python benchmarks/spark.py --orders 1000000 5000000 [--repeat 2] [--json]
                               [--home DIR] [--driver-memory 6g] [--master 'local[*]']

For each size: run-day for one date in a SURVEIL_HOME (fresh and temporary unless --home):
generate → upload → load → validate → detect on PostgreSQL (the embedded server). Then,
--repeat times: `detect` on PostgreSQL again (per-rule seconds from the warm warehouse), and
`detect --engine spark` in a fresh Python process, so that every repeat pays the JVM start,
reported apart from reading the day (CSV → cached tables, counted) and from each rule. Each
run checks that Spark's alerts are PostgreSQL's: same ids, evidence and scores. Figures are
medians over the repeats.
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

DAY = dt.date(2026, 11, 25)
COMPARED = ("rule", "symbol", "account_ids", "cl_ord_ids", "exec_ids", "score", "explanation")

SPARK_CHILD = r"""
import datetime as dt, json, sys, time
from surveil.settings import load_settings
from surveil.detect.lake_alerts import read_alerts
from surveil.spark import detect_day_spark
day = dt.date.fromisoformat(sys.argv[1])
settings = load_settings()
clock = time.perf_counter()
r = detect_day_spark(settings, day)
total = time.perf_counter() - clock
rows = read_alerts(settings, day).rows
keys = ("rule", "symbol", "account_ids", "cl_ord_ids", "exec_ids", "score", "explanation")
alerts = {a["alert_id"]: [str(a[k]) for k in keys] for a in rows}
print(json.dumps({"jvm_start": r.jvm_start_seconds, "read": r.read_seconds, "total": total,
                  "rules": {x.rule: x.seconds for x in r.rules}, "rows": r.rows,
                  "alerts": alerts}))
"""


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}… failed:\n{done.stderr[-3000:]}")
    return done.stdout


def surveil(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = run([sys.executable, "-m", "surveil", *args, "--json"], env)
    return json.loads(out.strip().splitlines()[-1])


def postgres_alerts(env: dict[str, str]) -> dict[str, list[str]]:
    listed = surveil(env, "alerts", "--date", DAY.isoformat())
    return {
        a["alert_id"]: [
            str(a[k]) if k != "score" else f"{a[k]:.2f}" if isinstance(a[k], float) else str(a[k])
            for k in COMPARED
        ]
        for a in listed["alerts"]
    }


def one_size(orders: int, repeat: int, home: Path | None, spark_env: dict[str, str]) -> dict:
    temporary = home is None
    home = home or Path(tempfile.mkdtemp(prefix="surveil-spark-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    env.update({"SURVEIL_HOME": str(home), **spark_env})
    from surveil import embedded
    from surveil.settings import Settings

    # Hold the embedded server for the whole size, so no command pays for its start.
    embedded.embedded_url(Settings(home=home))
    try:
        day = surveil(env, "run-day", "--date", DAY.isoformat(), "--orders", str(orders))
        made = next(s["detail"] for s in day["steps"] if s["step"] == "generate")
        expected = postgres_alerts(env)
        runs: list[dict[str, Any]] = []
        for _ in range(repeat):
            pg = surveil(env, "detect", "--date", DAY.isoformat())
            spark = json.loads(
                run([sys.executable, "-c", SPARK_CHILD, DAY.isoformat()], env).splitlines()[-1]
            )
            same = spark.pop("alerts") == expected
            runs.append(
                {
                    "postgres": {r["rule"]: r["seconds"] for r in pg["rules"]},
                    "spark": spark,
                    "identical": same,
                }  # fmt: skip
            )
        return summarise(orders, made, runs, len(expected))
    finally:
        if temporary:
            for folder in ("data", "lake"):
                shutil.rmtree(home / folder, ignore_errors=True)


def summarise(orders: int, made: str, runs: list[dict[str, Any]], alerts: int) -> dict[str, Any]:
    med = statistics.median
    rules = list(runs[0]["postgres"])
    return {
        "orders": orders,
        "day": made,
        "alerts": alerts,
        "identical": all(r["identical"] for r in runs),
        "repeats": len(runs),
        "postgres": {rule: med(r["postgres"][rule] for r in runs) for rule in rules},
        "spark": {rule: med(r["spark"]["rules"][rule] for r in runs) for rule in rules},
        "spark_jvm_start": med(r["spark"]["jvm_start"] for r in runs),
        "spark_read": med(r["spark"]["read"] for r in runs),
        "spark_total": med(r["spark"]["total"] for r in runs),
    }


def table(results: list[dict[str, Any]], master: str) -> str:
    lines = []
    for r in results:
        pg_total = sum(r["postgres"].values())
        sp_rules = sum(r["spark"].values())
        lines += [
            f"\n{r['orders']:,} orders ({r['day']}), {r['alerts']} alerts, "
            f"identical on both engines: {'yes' if r['identical'] else 'NO'}; "
            f"medians of {r['repeats']}; Spark {master}",
            "| rule | PostgreSQL s | Spark s |",
            "|---|---:|---:|",
        ]
        for rule in r["postgres"]:
            lines.append(f"| {rule} | {r['postgres'][rule]:.2f} | {r['spark'][rule]:.2f} |")
        lines += [
            f"| **all rules** | **{pg_total:.2f}** | **{sp_rules:.2f}** |",
            f"| Spark: JVM start | – | {r['spark_jvm_start']:.2f} |",
            f"| Spark: read the day from the lake (CSV → cached, counted) | – | "
            f"{r['spark_read']:.2f} |",
            f"| Spark: detect end to end (with writing the alerts) | – | {r['spark_total']:.2f} |",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--home", type=Path, help="reuse this SURVEIL_HOME (one size only)")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.home and len(args.orders) > 1:
        raise SystemExit("--home takes one --orders size")
    spark_env = {
        "SURVEIL_SPARK_MASTER": args.master,
        "SURVEIL_SPARK_CONF": json.dumps({"spark.driver.memory": args.driver_memory}),
    }
    results = [one_size(n, args.repeat, args.home, spark_env) for n in args.orders]
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if args.json:
        print(json.dumps({"machine": machine, "master": args.master, "results": results}))
    else:
        print(f"machine: {machine}")
        print(table(results, args.master))


if __name__ == "__main__":
    main()
