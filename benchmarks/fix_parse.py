"""FIX log parsing speed: surveil.fix.parser against simplefix, on the same log, in one run.

    python benchmarks/fix_parse.py [--messages 1000000] [--repeat 3] [--log PATH] [--json]

The log is a generated trading day written by surveil.fixwriter (FIX 4.4: NewOrderSingle,
ExecutionReports, cancels, logons; one message per line, no log-line prefix so that
simplefix can read it too), cut to exactly --messages messages and cached at --log.

Timed, each in this one process, best and median of --repeat runs:

* fixlog: read_log() over the file — find every message, verify BodyLength(9) and
  CheckSum(10), read MsgType — counting messages by type;
* fixlog + fields: the same, also splitting every message into its tag=value fields;
* simplefix: FixParser fed line by line, get_message() per line, counting by MsgType;
  it frames on the CheckSum tag and verifies neither BodyLength nor CheckSum.

Both must find the same messages of the same types, else the run fails. Figures only:
nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from surveil.fix.parser import read_log

MESSAGES_PER_ORDER = 4.0  # about, for a generated day written by fixwriter
DAY = dt.date(2026, 11, 25)


def build_log(path: Path, messages: int) -> None:
    """A generated day as FIX, cut to `messages` whole lines (one message per line)."""
    from surveil.fixwriter import write_fix_log
    from surveil.generate import generate_day
    from surveil.settings import Settings

    orders = int(messages / MESSAGES_PER_ORDER) + 1_000
    with tempfile.TemporaryDirectory() as home:
        while True:
            settings = Settings(home=Path(home), data_dir=Path(home) / "data")
            started = time.perf_counter()
            day = generate_day(settings, DAY, orders=orders, force=True)
            full = Path(home) / "day.fix"
            written = write_fix_log(day.path, full, prefix=False)
            print(
                f"built {written:,} messages from {orders:,} orders "
                f"in {time.perf_counter() - started:.1f}s",
                file=sys.stderr,
            )
            if written >= messages:
                break
            orders = int(orders * messages / written * 1.02) + 1_000
        with full.open("rb") as src, path.open("wb") as out:
            for _ in range(messages):
                out.write(src.readline())


def run_fixlog(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in read_log(path):
        counts[getattr(item, "msg_type", None) or "invalid"] += 1
    return counts


def run_fixlog_fields(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in read_log(path):
        item.fields  # noqa: B018 - the split is what is measured
        counts[getattr(item, "msg_type", None) or "invalid"] += 1
    return counts


def run_simplefix(path: Path) -> Counter[str]:
    import simplefix

    counts: Counter[str] = Counter()
    parser = simplefix.FixParser()
    with path.open("rb") as fh:
        for line in fh:
            parser.append_buffer(line.rstrip(b"\r\n"))
            message = parser.get_message()
            if message is not None:
                counts[message.get(35).decode()] += 1
    return counts


def timed(
    fn: Callable[[Path], Counter[str]], path: Path, repeat: int
) -> tuple[list[float], Counter[str]]:
    seconds = []
    counts: Counter[str] = Counter()
    for _ in range(repeat):
        started = time.perf_counter()
        counts = fn(path)
        seconds.append(time.perf_counter() - started)
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--simplefix-repeat", type=int, default=1)
    parser.add_argument(
        "--log", type=Path, default=Path(tempfile.gettempdir()) / "surveil-fix-bench.fix"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path: Path = args.log
    if not path.exists() or sum(1 for _ in path.open("rb")) != args.messages:
        build_log(path, args.messages)
    size = path.stat().st_size
    results = {}
    reference: Counter[str] | None = None
    for name, fn, repeat in (
        ("fixlog", run_fixlog, args.repeat),
        ("fixlog + fields", run_fixlog_fields, args.repeat),
        ("simplefix", run_simplefix, args.simplefix_repeat),
    ):
        seconds, counts = timed(fn, path, repeat)
        if reference is None:
            reference = counts
        if counts != reference or sum(counts.values()) != args.messages:
            raise SystemExit(f"{name} read {dict(counts)}, expected {dict(reference)}")
        best, median = min(seconds), statistics.median(seconds)
        results[name] = {
            "best_s": round(best, 3),
            "median_s": round(median, 3),
            "msgs_per_s_best": round(args.messages / best),
            "msgs_per_s_median": round(args.messages / median),
            "mb_per_s_best": round(size / best / 1e6, 1),
            "runs": len(seconds),
        }
    base = results["simplefix"]["msgs_per_s_best"]
    for figures in results.values():
        figures["x_simplefix"] = round(figures["msgs_per_s_best"] / base, 1)
    report = {
        "messages": args.messages,
        "bytes": size,
        "types": dict(sorted((reference or Counter()).items())),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.messages:,} messages, {size / 1e6:.0f} MB, types {report['types']}")
    print(f"{'parser':<18}{'best msg/s':>14}{'median msg/s':>15}{'MB/s':>8}{'× simplefix':>13}")
    for name, f in results.items():
        print(
            f"{name:<18}{f['msgs_per_s_best']:>14,}{f['msgs_per_s_median']:>15,}"
            f"{f['mb_per_s_best']:>8}{f['x_simplefix']:>13}"
        )
    print("fixlog verifies BodyLength and CheckSum of every message; simplefix verifies neither.")


if __name__ == "__main__":
    main()
