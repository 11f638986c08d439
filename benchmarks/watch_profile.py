"""Where `surveil watch` spends its time per message (issue 23 item 3), in-process.

A generated day is written whole as a FIX log; a Watcher follows it with its detection
thread on (a pass every `--detect-every` s, as the CLI runs it) and polls until the log is
consumed, as fast as it can. The watcher's main thread is timed by stage (wall clock, so
time spent waiting on the server or on the GIL counts where it is spent); `--cprofile`
also prints the main thread's top functions.

    python benchmarks/watch_profile.py --orders 100000 [--cprofile]

Uses a fresh embedded server under a temporary SURVEIL_HOME (or SURVEIL_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from surveil.fixwriter import write_fix_log
from surveil.generate import generate_day
from surveil.settings import Settings

DAY = dt.date(2026, 11, 25)
SPENT: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
MAIN = threading.main_thread()


def timed(
    owner: Any, name: str, label: str, by_statement: bool = False, thread: str | None = None
) -> None:
    """Wrap owner.name so that its wall time on the main thread adds to SPENT[label]
    (`by_statement`: per the statement's first words, its first text argument)."""
    original: Callable[..., Any] | None = getattr(owner, name, None)
    if original is None:
        return  # an older watcher (the baseline) has no such step

    def call(*args: Any, **kwargs: Any) -> Any:
        current = threading.current_thread()
        if current is not MAIN and current.name != thread:
            return original(*args, **kwargs)
        key = label if current is MAIN else f"[{current.name}] {label}"
        if by_statement:
            text = next((str(a) for a in args if isinstance(a, str)), "")
            key = f"{label} {' '.join(text.split()[:3])[:30]}"
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[key] += time.perf_counter() - start
            CALLS[key] += 1

    setattr(owner, name, call)


def instrument() -> None:
    import psycopg

    from surveil import db
    from surveil.watch import fixsource, store, tail, watcher

    try:
        from surveil.watch import writer
    except ImportError:  # the baseline: no writer thread
        writer = None

    timed(tail.FileTail, "read", "read + frame (FileTail.read)")
    timed(fixsource.Days, "apply", "apply (DayBuilder.add, MessageFields)")
    timed(fixsource.Days, "reference_rows", "rows: reference")
    timed(fixsource.Days, "order_rows", "rows: orders")
    timed(fixsource.Days, "fill_rows", "rows: fills")
    timed(fixsource.Days, "fills_of", "rows: fills of orders")
    timed(store, "_present", "server: orders present")
    timed(db, "lock_day", "server: day lock")
    timed(store, "_copy", "COPY", True)
    timed(psycopg.Cursor, "execute", "cursor:", True)
    timed(psycopg.Cursor, "executemany", "server: executemany (firms, accounts)")
    timed(psycopg.Connection, "execute", "conn:", True)
    timed(store, "write_batch", "write_batch (total)")
    timed(watcher.Watcher, "poll_once", "poll_once (total)")
    timed(watcher.Watcher, "_loop", "run's loop (total)")
    timed(watcher.Watcher, "_read", "read + apply (total)")
    timed(watcher.Watcher, "_take", "take + build rows (total)")
    Writer = getattr(writer, "Writer", None)
    timed(Writer, "submit", "hand over (waiting for the writer)")
    timed(Writer, "wait_idle", "waiting for the writer to finish")
    for owner, name, label in (
        (Writer, "_commit", "commit (total)"),
        (store, "_copy", "COPY"),
        (psycopg.Cursor, "execute", "cursor:"),
    ):
        timed(owner, name, label, label != "commit (total)", thread="surveil-watch-write")
    # the commit: Transaction.__exit__
    from psycopg import transaction

    timed(transaction.Transaction, "__exit__", "server: COMMIT")


BACKENDS = "SELECT pid FROM pg_stat_activity WHERE application_name = 'surveil'"


def backends_cpu(conn: Any) -> float:
    """CPU seconds used so far by this process's PostgreSQL backends (the watcher's and the
    detector's connections; the embedded server runs on this machine: /proc)."""
    ticks = 0
    for (pid,) in conn.execute(BACKENDS).fetchall():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def time_rules(w: Any) -> dict[str, float]:
    """One more detection pass over the whole day, each rule on its own, timed."""
    day = next(iter(w.totals.days))
    spent = {}
    for rule in w.rules:
        w.detector.rules = [rule]
        w.detector.mark({day: 0})
        start = time.perf_counter()
        w.detector.pass_now()
        spent[rule] = time.perf_counter() - start
    w.detector.rules = w.rules
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--detect-every", type=float, default=2.0)
    parser.add_argument("--no-detect", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--sync", action="store_true", help="poll_once: commit on this thread")
    parser.add_argument("--rules", action="store_true", help="time a last pass per rule")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="surveil-watch-prof-") as tmp:
        scratch = Path(tmp)
        made = generate_day(Settings(home=scratch / "gen"), DAY, orders=args.orders)
        log = scratch / "day.log"
        write_fix_log(made.path, log)
        os.environ.setdefault("SURVEIL_HOME", str(scratch / "home"))
        settings = Settings()
        instrument()
        from surveil.watch.watcher import Watcher

        w = Watcher(settings, log, alerts_out=io.StringIO(), log=lambda _: None)
        with w:
            w.detect_every_s = args.detect_every
            if args.no_detect:
                w.detector.pass_now = lambda: []  # type: ignore[method-assign]
            profile = cProfile.Profile() if args.cprofile else None
            cpu0, start = time.process_time(), time.perf_counter()
            if profile:
                profile.enable()
            if args.sync:
                w.poll_until_idle()
            else:
                w.run(once=True)  # as the CLI: batches committed on the writer thread
            if profile:
                profile.disable()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            server_cpu = backends_cpu(w.conn)
            w.detector.stop()
            rules = time_rules(w) if args.rules else {}
        n = w.totals.messages
        print(f"{n:,} messages in {wall:.2f} s: {n / wall:,.0f} msgs/s; batches "
              f"{w.totals.batches}; process CPU {cpu:.2f} s (all threads)")  # fmt: skip
        print(f"CPU per message: this process {cpu / n * 1e6:.1f} µs (all threads), its "
              f"PostgreSQL backends {server_cpu / n * 1e6:.1f} µs (ingest and detection)")  # fmt: skip
        for label, spent in sorted(SPENT.items(), key=lambda kv: -kv[1])[:24]:
            print(f"  {label:45s} {spent:7.2f} s {spent / n * 1e6:7.1f} µs/msg  "
                  f"calls {CALLS[label]:,}")  # fmt: skip
        for rule, spent in rules.items():
            print(f"  detection pass at the end, {rule:26s} {spent:6.2f} s")
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
