"""import-fix end to end beside the parser alone and a plain split-and-checksum loop, one run.

    python benchmarks/import_fix.py --orders 1000000 [--repeat 1] [--profile] [--json]
    python benchmarks/import_fix.py --log day.fix   # an existing log instead

The log is a generated day (`surveil generate`) written as a QuickFIX-style FIX 4.4 log
(one message per line behind a time prefix) as benchmarks/run.py writes it, cached under
--cache by its order count. Each measurement runs in a process of its own, so that its
peak RSS is its own, best of --repeat (messages per second, higher is better):

* split + checksum: a plain Python loop over the lines: each message found from its
  `8=FIX`, its byte sum modulo 256 compared with its CheckSum, split into its fields. No
  BodyLength, no MsgType, no rows: the least any per-message Python reader does;
* parser: read_log() over the file (every message framed and verified, BodyLength and
  CheckSum), counting messages by MsgType;
* decode: the parser, and each application message's fields decoded to text with its
  time and header read (fields.MessageFields, message_time): the stateless part of import-fix, which a
  second core could take over at most;
* import-fix: import_fix() of the day into a fresh data folder, every check on (BodyLength,
  CheckSum, sequence and state checks), CSVs and manifest written.

--profile adds a cProfile of import-fix (its own process; the profiler slows it about 2x,
so its seconds are not the figure) and prints the functions taking the most time.
Figures only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DAY = dt.date(2026, 11, 25)
GOAL = 200_000  # import-fix messages per second, issue 18


def build_log(orders: int, cache: Path) -> tuple[Path, int]:
    """The day of `orders` orders as a FIX log under `cache` (built once), and its messages."""
    log = cache / f"day-{orders}.fix"
    count = cache / f"day-{orders}.messages"
    if log.exists() and count.exists():
        return log, int(count.read_text())
    from surveil.fixwriter import write_fix_log
    from surveil.generate import generate_day
    from surveil.settings import Settings

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as home:
        settings = Settings(home=Path(home), data_dir=Path(home) / "data")
        made = generate_day(settings, DAY, orders=orders, force=True)
        messages = write_fix_log(made.path, log, prefix=True)
    count.write_text(str(messages))
    return log, messages


def split_and_checksum(log: Path) -> int:
    """The floor: find, checksum and split each message of a one-message-per-line log."""
    found = 0
    with log.open("rb") as fh:
        for line in fh:
            at = line.find(b"8=FIX")
            if at < 0:
                continue
            message = line[at:].rstrip(b"\r\n")
            trailer = message.rfind(b"\x0110=")
            if trailer < 0:
                continue
            if sum(message[: trailer + 1]) & 0xFF != int(message[trailer + 4 : trailer + 7]):
                continue
            fields = message[:trailer].split(b"\x01")
            found += len(fields) > 3
    return found


def parser_alone(log: Path) -> int:
    from surveil.fix.parser import read_log

    counts: Counter[str] = Counter()
    for item in read_log(log):
        counts[getattr(item, "msg_type", None) or "invalid"] += 1
    return sum(counts.values())


def decode(log: Path) -> int:
    """The stateless part of import-fix: the parser, each application message's fields as
    text and its time and date; no order state, no rows. What a second process could take
    off the import, at most."""
    from surveil.fix.fields import APP_TYPES, MessageFields, message_time
    from surveil.fix.parser import read_log

    count = 0
    for item in read_log(log):
        count += 1
        if getattr(item, "msg_type", None) in APP_TYPES:
            fields = MessageFields(item)
            message_time(fields.values)
            fields.header()
    return count


def import_fix_once(log: Path, profile: Path | None = None) -> int:
    from surveil.fix import import_fix
    from surveil.settings import Settings

    with tempfile.TemporaryDirectory(dir=log.parent) as home:
        settings = Settings(home=Path(home), data_dir=Path(home) / "data")
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        result = import_fix(settings, [log], DAY)
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
    return sum(result.messages.values())


MEASURES = {
    "split": split_and_checksum,
    "parser": parser_alone,
    "decode": decode,
    "import-fix": import_fix_once,
}


def child(measure: str, log: Path, profile: Path | None) -> None:
    """One measurement in this process: prints its JSON figures."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if measure == "import-fix":
        count = import_fix_once(log, profile)
    else:
        count = MEASURES[measure](log)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "seconds": seconds,
        "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu_at_start, 3),
        "messages": count,
        "rss_mb": round(usage.ru_maxrss / 1024),
    }
    print(json.dumps(figures))


def measure(name: str, log: Path, profile: Path | None = None) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", name, "--log", str(log)]
    if profile:
        command += ["--profile-to", str(profile)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile_summary(path: Path, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return "\n".join(lines[start:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", default="split,parser,decode,import-fix")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "surveil-import-fix-bench"
    )
    parser.add_argument("--child", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.log, args.profile_to)
        return
    if args.log:
        log = args.log
        messages = sum(1 for line in log.open("rb") if b"8=FIX" in line)
    else:
        log, messages = build_log(args.orders, args.cache)
    results: dict[str, dict[str, float]] = {}
    for name in args.only.split(","):
        runs = [measure(name, log) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        if best["messages"] != messages:
            raise SystemExit(f"{name} read {best['messages']:,} messages of {messages:,}")
        results[name] = {
            "seconds": round(best["seconds"], 2),
            "msgs_per_s": round(messages / best["seconds"]),
            "rss_mb": best["rss_mb"],
        }
    report = {
        "messages": messages,
        "bytes": log.stat().st_size,
        "python": platform.python_version(),
        "cores_available": len(os.sched_getaffinity(0)),
        "results": results,
    }
    if args.profile:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "import-fix.prof"
            measure("import-fix", log, path)
            report["profile"] = profile_summary(path, args.top)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{messages:,} messages, {report['bytes'] / 1e6:.0f} MB, Python {report['python']}")
    print(f"{'':<18}{'seconds':>9}{'msg/s':>11}{'peak RSS MB':>13}{'x import-fix':>14}")
    e2e = results.get("import-fix", {}).get("msgs_per_s")
    for name, f in results.items():
        ratio = f"{f['msgs_per_s'] / e2e:.2f}" if e2e else ""
        print(f"{name:<18}{f['seconds']:>9}{f['msgs_per_s']:>11,}{f['rss_mb']:>13}{ratio:>14}")
    if e2e:
        print(f"import-fix goal {GOAL:,} msg/s: {e2e / GOAL:.2f} of it")
    if args.profile:
        print("\nimport-fix under cProfile, by own time:")
        print(report["profile"])


if __name__ == "__main__":
    main()
