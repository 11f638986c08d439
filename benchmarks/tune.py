"""How long `surveil tune` takes: 10 values of one parameter per rule over 20 days.

    python benchmarks/tune.py                     # 20 days of 100k orders, every rule
    python benchmarks/tune.py --days 5 --orders 20000 --rules wash_trade [--json]

Builds the held-out days of benchmarks/evaluate.py (generate, upload, load, detect) in a
fresh embedded PostgreSQL, or reuses a warehouse kept with --home. Per rule it times
`tune` (the library function, as the CLI calls it) with 10 values of the rule's first
numeric parameter, from half to one and a half times its default, and, in the same run,
the rule's own `detect` over the same days as the baseline: tune runs the current setting
and the 10 values, so 11 × detect is what it would cost as 11 detect runs. Prints seconds,
seconds per (day, setting) and the ratio to that baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from evaluate import held_out_days, run
from run import fresh_home


def values_for(rule: str) -> tuple[str, list[str]]:
    from surveil.detect import RULES

    key, value = next((k, v) for k, v in RULES[rule].PARAMS.items() if not isinstance(v, bool))
    steps = [0.5 + 0.1 * i for i in range(11) if i != 5]  # 0.5 … 1.5 without 1.0
    moved = [round(value * s) if isinstance(value, int) else round(value * s, 4) for s in steps]
    return key, [str(v) for v in moved]


def measure(rules: list[str], pairs: list, orders: int) -> dict[str, dict[str, float]]:
    from surveil.detect import detect_day
    from surveil.detect.tune import tune
    from surveil.settings import load_settings

    run(pairs, orders, 3)
    settings = load_settings()
    first, last = pairs[0][1], pairs[-1][1]
    report = {}
    for rule in rules:
        key, values = values_for(rule)
        detect_s = sum(detect_day(settings, day, rule=rule).rules[0].seconds for _, day in pairs)
        clock = time.perf_counter()
        result = tune(settings, rule, first, last, {key: values})
        seconds = time.perf_counter() - clock
        trials = len(result.rows)
        report[rule] = {
            "parameter": key,
            "settings": trials,
            "days": len(result.days),
            "seconds": round(seconds, 2),
            "per_day_setting_s": round(seconds / (trials * len(result.days)), 4),
            "detect_s": round(detect_s, 2),
            "ratio_to_detect_runs": round(seconds / (trials * detect_s), 2),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rules", help="comma-separated rules [default: all five]")
    parser.add_argument("--home", type=Path, help="reuse (and keep) this SURVEIL_HOME")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    from surveil.detect import RULES

    rules = args.rules.split(",") if args.rules else list(RULES)
    pairs = held_out_days(args.days)
    if args.home:
        os.environ["SURVEIL_HOME"] = str(args.home)
        report = measure(rules, pairs, args.orders)
    else:
        with fresh_home("surveil-tune-"):
            report = measure(rules, pairs, args.orders)
    if args.json:
        print(json.dumps({"orders": args.orders, "days": args.days, "rules": report}))
        return
    print(f"{args.days} days of {args.orders:,} orders; tune with 10 values + the current one")
    print("| rule | parameter | settings × days | tune s | s per day and setting "
          "| 11 × detect s | ratio |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for rule, r in report.items():
        print(
            f"| `{rule}` | `{r['parameter']}` | {r['settings']} × {r['days']} | {r['seconds']} "
            f"| {r['per_day_setting_s']} | {round(r['settings'] * r['detect_s'], 1)} "
            f"| {r['ratio_to_detect_runs']} |"
        )


if __name__ == "__main__":
    main()
