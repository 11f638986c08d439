"""Detection quality on held-out generated flow: the per-rule table of docs/detection.md.

    python benchmarks/evaluate.py                      # 20 days of 100k orders, 3 look-alikes
    python benchmarks/evaluate.py --days 5 --orders 20000 --no-write [--json]

Generates `--days` (seed, date) pairs that no test uses (dates in 2027, seeds from 9001;
the tests use November 2026 and seeds under 100) with every benign population on and
`--lookalikes` near misses per planted case, takes each through upload, load and detect
with the library's functions in a fresh embedded PostgreSQL (a temporary SURVEIL_HOME), and
scores the alerts with `evaluate_range`. Prints the per-rule table (planted, alerts, TP, FP,
FN, precision, recall, and each rule's worst day) and writes it into docs/detection.md
between the `<!-- evaluation -->` markers unless --no-write. The target is precision and
recall of at least 0.95 per rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from run import fresh_home

FIRST_DAY = dt.date(2027, 1, 4)
FIRST_SEED = 9001
TARGET = 0.95
DOCS = Path(__file__).resolve().parents[1] / "docs" / "detection.md"
START, END = "<!-- evaluation -->", "<!-- /evaluation -->"


def held_out_days(count: int) -> list[tuple[int, dt.date]]:
    """`count` (seed, trading day) pairs, every third trading day from FIRST_DAY, so the
    days spread over weekdays and months (an early close among them when one falls in)."""
    from surveil import calendar

    days = calendar.trading_days(FIRST_DAY, FIRST_DAY + dt.timedelta(days=8 * count))
    return [(FIRST_SEED + i, day) for i, day in enumerate(days[::3][:count])]


def run(pairs: list[tuple[int, dt.date]], orders: int, lookalikes: int) -> Any:
    from surveil.detect import detect_day, evaluate_range
    from surveil.generate import generate_day
    from surveil.lake import upload_day
    from surveil.load import load_day
    from surveil.settings import load_settings

    settings = load_settings()
    for n, (seed, day) in enumerate(pairs, start=1):
        clock = time.perf_counter()
        generate_day(settings, day, orders=orders, seed=seed, lookalikes=lookalikes)
        upload_day(settings, day)
        load_day(settings, day)
        detect_day(settings, day)
        seconds = time.perf_counter() - clock
        print(f"{n}/{len(pairs)} {day} seed {seed}: {seconds:.1f} s", file=sys.stderr)
    return evaluate_range(settings, pairs[0][1], pairs[-1][1])


def worst(result: Any, rule: str, field: str) -> tuple[float | None, str]:
    """The rule's lowest daily figure and its day (days where it is defined)."""
    figures = [
        (getattr(s, field), d.trade_date)
        for d in result.days
        for s in d.rules
        if s.rule == rule and getattr(s, field) is not None
    ]
    if not figures:
        return None, ""
    value, day = min(figures)
    return value, str(day)


def rows(result: Any) -> list[dict[str, Any]]:
    out = []
    for s in result.totals:
        low_p, low_p_day = worst(result, s.rule, "precision")
        low_r, low_r_day = worst(result, s.rule, "recall")
        met = all(x is not None and x >= TARGET for x in (s.precision, s.recall))
        out.append(
            {
                "rule": s.rule, "planted": s.planted, "lookalikes": s.lookalikes,
                "alerts": s.alerted, "tp": s.true_positives, "fp": s.false_positives,
                "fp_on_lookalikes": s.false_on_lookalikes, "fn": s.false_negatives,
                "precision": s.precision, "recall": s.recall,
                "worst_precision": low_p, "worst_precision_day": low_p_day,
                "worst_recall": low_r, "worst_recall_day": low_r_day, "target_met": met,
            }
        )  # fmt: skip
    return out


def cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown(table: list[dict[str, Any]], pairs: list[tuple[int, dt.date]], orders: int,
             lookalikes: int) -> str:  # fmt: skip
    head = (
        f"{len(pairs)} days of {orders:,} orders, {pairs[0][1]} to {pairs[-1][1]}, seeds "
        f"{pairs[0][0]}–{pairs[-1][0]}, every benign population on, {lookalikes} look-alikes "
        "per planted case (`python benchmarks/evaluate.py`).\n\n"
        "| rule | planted | look-alikes | alerts | TP | FP (on look-alikes) | FN | precision "
        "| recall | worst day: precision / recall | ≥ 0.95 both |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n"
    )
    lines = [
        f"| `{r['rule']}` | {r['planted']} | {r['lookalikes']} | {r['alerts']} | {r['tp']} "
        f"| {r['fp']} ({r['fp_on_lookalikes']}) | {r['fn']} | {cell(r['precision'])} "
        f"| {cell(r['recall'])} | {cell(r['worst_precision'])} / {cell(r['worst_recall'])} "
        f"| {'yes' if r['target_met'] else '**no**'} |"
        for r in table
    ]
    return head + "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    docs = DOCS.read_text()
    if START not in docs or END not in docs:
        raise SystemExit(f"{DOCS}: no {START} … {END} markers to write between")
    before, rest = docs.split(START, 1)
    _, after = rest.split(END, 1)
    DOCS.write_text(f"{before}{START}\n{text}{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lookalikes", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="leave docs/detection.md be")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--home", type=Path, help="keep the warehouse in this SURVEIL_HOME")
    args = parser.parse_args()
    pairs = held_out_days(args.days)
    if args.home:  # kept, to read the false alerts and misses afterwards
        os.environ["SURVEIL_HOME"] = str(args.home)
        result = run(pairs, args.orders, args.lookalikes)
    else:
        with fresh_home("surveil-evaluate-"):
            result = run(pairs, args.orders, args.lookalikes)
    table = rows(result)
    text = markdown(table, pairs, args.orders, args.lookalikes)
    if not args.no_write:
        write_docs(text)
    if args.json:
        days = [[seed, str(day)] for seed, day in pairs]
        print(json.dumps({"orders": args.orders, "pairs": days, "rules": table}))
    else:
        print(text)


if __name__ == "__main__":
    main()
