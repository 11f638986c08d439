"""Time the review queue and bulk decisions over a year of alerts (issue 20 item 12).

    python benchmarks/review.py [--days 250] [--per-day 200] [--bulk 10000] [--repeat 3] [--json]

In a temporary SURVEIL_HOME (embedded PostgreSQL held open): `days` trading days ending on
2026-11-25 of `per-day` alerts each are written to `alerts` as detect writes them, and each
day's cases are opened as detect opens them (suppressions.apply_to_day: a case and an
`opened` event per alert, chained); that fill is timed but is not a goal. Then, each
measured `repeat` times (median, spread):

- `queue`: cases.queue() with the CLI's defaults (open, escalated and pending; the first
  200 and the total), the whole call (connection, migration check, both queries), and the
  same two queries alone on a held connection; with filters too (one rule over a month;
  score >= 70; nobody's). Its floor: a plain count(*) of review_cases on the held
  connection, i.e. one pass over the year's cases, which any total must beat or match.
- `surveil review list --json` end to end in a fresh process (interpreter start-up and
  all), as an analyst waits for it.
- `bulk-close`: cases.bulk_close() of `bulk` alerts (a window of whole days of the year,
  a fresh window each repeat), each alert its own event, then `approve`:
  cases.decide_batch() by a second person, again an event per alert. Their floor: the
  same number of rows INSERTed by one statement into a plain table shaped like
  review_events (no trigger, no index), on the held connection.

Goals (issue 20): the queue listing well under a second; a bulk close of 10,000 alerts in
a few seconds. Prints the machine's load average before and after (2 shared cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from run import DAY, fresh_home

PLANT_DAY = """
INSERT INTO alerts (alert_id, trade_date, rule, rule_version, params, symbol, account_ids,
                    cl_ord_ids, exec_ids, score, explanation)
SELECT md5(%(d)s::text || ':' || n), %(d)s, (%(rules)s::text[])[1 + n %% cardinality(%(rules)s::text[])],
       '1', '{"window_s": 60}', 'SYM' || (n %% 40), ARRAY['ACC' || (n %% 150)],
       ARRAY['O' || n, 'O' || (n + 1)], ARRAY['E' || n],
       round(((hashtext(%(d)s::text || n)::bigint %% 10000 + 10000) %% 10000) / 100.0, 2),
       'planted for the review benchmark'
FROM generate_series(1, %(n)s) n
"""
FLOOR_COUNT = "SELECT count(*) FROM review_cases"
FLOOR_TABLE = "CREATE TEMP TABLE floor_events (LIKE review_events)"
FLOOR_INSERT = """
INSERT INTO floor_events (event_id, at, actor, action, alert_id, batch_id, from_status,
                          to_status, disposition, comment, detail, prev_hash, hash)
SELECT n, clock_timestamp(), 'ann', 'bulk_close', md5(n::text), 1, 'open', 'pending',
       'false_positive', 'quote refresh', '{"needs_approval": "bulk close"}',
       repeat('0', 64), encode(sha256(n::text::bytea), 'hex')
FROM generate_series(1, %(n)s) n
"""
FLOOR_CLEAR = "TRUNCATE floor_events"
EVENTS_OF_BATCH = "SELECT count(*) FROM review_events WHERE batch_id = %s"


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}"


def timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def fill(settings: Any, days: list[dt.date], per_day: int) -> float:
    from surveil import db
    from surveil.detect import RULES
    from surveil.review import suppressions

    rules = list(RULES)
    start = time.perf_counter()
    with db.connect(settings) as conn:
        db.migrate(conn)
        for day in days:
            with conn.transaction():
                conn.execute(PLANT_DAY, {"d": day, "rules": rules, "n": per_day})
                suppressions.apply_to_day(conn, day, rules)
        conn.execute("VACUUM ANALYZE review_cases")
        conn.execute("VACUUM ANALYZE review_events")
    return time.perf_counter() - start


def queue_figures(settings: Any, days: list[dt.date], repeat: int) -> dict[str, Any]:
    from surveil import db
    from surveil.review import cases

    month = cases.QueueFilter(start=days[-min(21, len(days))], end=days[-1], rule="spoofing")
    filters = {
        "default (open, 200 of all)": cases.QueueFilter(),
        "one rule, last month": month,
        "score >= 70": cases.QueueFilter(min_score=70),
        "nobody's": cases.QueueFilter(assignee="-"),
    }
    found: dict[str, Any] = {}
    for name, where in filters.items():
        seconds, q = timed(lambda w=where: cases.queue(settings, w), repeat)
        found[name] = {"seconds": seconds, "listed": len(q.cases), "total": q.total}
    params = cases.QueueFilter().params(200)
    with db.connect(settings) as conn:
        sql_s, _ = timed(
            lambda: (conn.execute(cases.QUEUE, params).fetchall(),
                     conn.execute(cases.QUEUE_COUNT, params).fetchone()),
            repeat,
        )  # fmt: skip
        floor_s, _ = timed(lambda: conn.execute(FLOOR_COUNT).fetchone(), repeat)
    env = dict(os.environ)
    cli_s, _ = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "surveil", "review", "list", "--json"],
            env=env, capture_output=True, check=True,
        ),
        repeat,
    )  # fmt: skip
    return {"filters": found, "sql_s": sql_s, "floor_s": floor_s, "cli_s": cli_s}


def bulk_figures(
    settings: Any, days: list[dt.date], per_day: int, bulk: int, repeat: int
) -> dict[str, Any]:
    from surveil import db
    from surveil.review import cases

    width = -(-bulk // per_day)  # whole days
    if width * repeat > len(days):
        raise SystemExit(f"{repeat} windows of {width} days do not fit in {len(days)} days")
    runs = []
    for i in range(repeat):
        window = days[i * width : (i + 1) * width]
        where = cases.QueueFilter(start=window[0], end=window[-1])
        start = time.perf_counter()
        r = cases.bulk_close(settings, where, "false_positive", "quote refresh", actor="ann")
        close_s = time.perf_counter() - start
        start = time.perf_counter()
        done = cases.decide_batch(settings, r.batch_id, True, actor="bob")
        approve_s = time.perf_counter() - start
        with db.connect(settings) as conn:
            events = conn.execute(EVENTS_OF_BATCH, (r.batch_id,)).fetchone()[0]
        if not r.alerts == done.alerts == events // 2:
            raise SystemExit(f"batch {r.batch_id}: {r.alerts} closed, {done.alerts} approved, "
                             f"{events} events")  # fmt: skip
        runs.append({"alerts": r.alerts, "close_s": close_s, "approve_s": approve_s,
                     "events": events})  # fmt: skip
    with db.connect(settings) as conn:
        conn.execute(FLOOR_TABLE)
        floor = []
        for _ in range(repeat):
            with conn.transaction():
                start = time.perf_counter()
                conn.execute(FLOOR_INSERT, {"n": runs[0]["alerts"]})
                floor.append(time.perf_counter() - start)
            conn.execute(FLOOR_CLEAR)
    return {"runs": runs, "floor_s": floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with fresh_home("surveil-bench-review-"):
        from surveil import calendar
        from surveil.settings import load_settings

        settings = load_settings()
        days = [DAY]
        while len(days) < args.days:
            days.append(calendar.previous_trading_day(days[-1]))
        days.reverse()
        fill_s = fill(settings, days, args.per_day)
        queue = queue_figures(settings, days, args.repeat)
        bulk = bulk_figures(settings, days, args.per_day, args.bulk, args.repeat)
    figures = {
        "days": args.days, "per_day": args.per_day, "alerts": args.days * args.per_day,
        "repeat": args.repeat, "fill_s": fill_s, "queue": queue, "bulk": bulk,
        "load_before": load_before, "load_after": os.getloadavg(),
    }  # fmt: skip
    print(json.dumps(figures) if args.json else render(figures))


def render(f: dict[str, Any]) -> str:
    med = statistics.median
    q, b = f["queue"], f["bulk"]
    floor = med(q["floor_s"])
    lines = [
        f"{f['alerts']:,} alerts ({f['days']} days x {f['per_day']}), median of {f['repeat']}; "
        f"filled in {f['fill_s']:.1f} s (alerts, cases, chained 'opened' events)",
        f"load average {f['load_before'][0]:.1f} before, {f['load_after'][0]:.1f} after",
        "",
        "queue listing                         s      spread        listed / total",
    ]
    for name, x in q["filters"].items():
        lines.append(f"  {name:<32} {med(x['seconds']):7.3f}  {spread(x['seconds'])}  "
                     f"{x['listed']} / {x['total']:,}")  # fmt: skip
    lines += [
        f"  the two queries alone            {med(q['sql_s']):7.3f}  {spread(q['sql_s'])}  "
        f"{med(q['sql_s']) / floor:.1f}x the floor",
        f"  floor: count(*) of the cases     {floor:7.3f}  {spread(q['floor_s'])}",
        f"  surveil review list --json       {med(q['cli_s']):7.3f}  {spread(q['cli_s'])}  "
        "(fresh process, end to end)",
        "",
        "bulk decisions                        s      spread        alerts  events/s",
    ]
    close = [r["close_s"] for r in b["runs"]]
    approve = [r["approve_s"] for r in b["runs"]]
    n = b["runs"][0]["alerts"]
    bfloor = med(b["floor_s"])
    for name, xs in (("bulk-close", close), ("approve --batch", approve)):
        lines.append(f"  {name:<32} {med(xs):7.3f}  {spread(xs)}  {n:,}  {n / med(xs):,.0f}  "
                     f"{med(xs) / bfloor:.1f}x the floor")  # fmt: skip
    lines.append(f"  floor: INSERT of {n:,} event rows  {bfloor:7.3f}  {spread(b['floor_s'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
