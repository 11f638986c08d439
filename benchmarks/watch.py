"""Alert latency of `surveil watch` at fixed message rates (issue 23 item 3).

A generated day (with its planted abuse) is written as a FIX log; a producer appends its
messages to a live log file at a fixed rate, in bursts every 10 ms, while the real CLI
(`surveil watch --log … --detect-every S`) follows it in a subprocess. Each alert's latency
is the time from the write of the last message its pattern names (the newest of its
orders' and fills' messages in the log) to the moment its JSON line appears in the alerts
file (what pages the desk; the file is polled every 10 ms). `p99_stored_s` is the same
to its `detected_at` (the server clock when the pass stored it, before the pass ends). Per rate: p50/p99/max latency, whether the
watcher kept up (the rows committed when the producer finished, and how long it took to
drain the rest), and the rate the producer actually held.

    python benchmarks/watch.py --orders 100000 --rates 5000,10000,20000 [--repeat 3]

Each rate gets a fresh database (the embedded server under a temporary SURVEIL_HOME unless
SURVEIL_DATABASE_URL is set). Prints one JSON object per rate and a summary line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from surveil.fixwriter import write_fix_log
from surveil.generate import generate_day
from surveil.settings import Settings

DAY = dt.date(2026, 11, 25)
BURST_S = 0.01
KEPT_UP_S = 1.0  # at most this long to drain what was behind when the producer stopped
_ID = re.compile(rb"\x01(11|17)=([^\x01]*)")
COMMITTED = "SELECT coalesce(max(messages), 0) FROM watch_positions"
APP = (b"\x0135=D\x01", b"\x0135=8\x01", b"\x0135=G\x01", b"\x0135=F\x01")


def produce(lines: list[bytes], live: Path, rate: int) -> tuple[list[float], float]:
    """Append the lines at `rate` per second; the wall time each was written, the rate held."""
    written = [0.0] * len(lines)
    per_burst = max(1, int(rate * BURST_S))
    start = time.time()
    with live.open("ab", buffering=0) as out:
        for i in range(0, len(lines), per_burst):
            due = start + i / rate
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            out.write(b"".join(lines[i : i + per_burst]))
            now = time.time()
            for j in range(i, min(i + per_burst, len(lines))):
                written[j] = now
    took = time.time() - start
    return written, len(lines) / took if took > 0 else float("inf")


def completion_times(lines: list[bytes], written: list[float]) -> dict[str, float]:
    """ClOrdID/ExecID -> when the last message naming it was written."""
    last: dict[str, float] = {}
    for line, at in zip(lines, written, strict=True):
        for _, value in _ID.findall(line):
            last[value.decode("latin-1")] = at
    return last


class AlertLines:
    """Follows the alerts file as the watcher writes it: when each alert's JSON line was first
    seen (what the desk's pager sees; polled every 10 ms, so up to 10 ms late)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        offset, pending = 0, b""
        while True:
            stopping = self.stop.is_set()
            with self.path.open("rb") as f:
                f.seek(offset)
                data = f.read()
            now = time.time()
            offset += len(data)
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                alert = json.loads(line)
                if alert["status"] == "new":
                    self.seen.setdefault(alert["alert_id"], now)
            if stopping:
                return
            self.stop.wait(0.01)

    def close(self) -> dict[str, float]:
        self.stop.set()
        self._thread.join()
        return self.seen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_rate(lines: list[bytes], rate: int, detect_every: float, run_dir: Path) -> dict:
    """One run at `rate` in a folder of its own (its own database: a second run at the same
    rate must not find the first one's position and journal)."""
    run_dir.mkdir()
    home = run_dir / "home"
    env = {**os.environ, "SURVEIL_HOME": str(home)}
    live = run_dir / "live.log"
    live.write_bytes(b"")
    alerts = run_dir / "alerts.jsonl"
    alerts.write_bytes(b"")
    settings = Settings(home=home)
    total = sum(line.count(b"8=FIX") for line in lines)  # every message is journalled
    cmd = [sys.executable, "-m", "surveil", "watch", "--log", str(live), "--alerts-out",
           str(alerts), "--detect-every", str(detect_every)]  # fmt: skip
    url = _database_url(settings)
    watcher = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    lines_seen = AlertLines(alerts)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            written, held = produce(lines, live, rate)
            at_end = _committed(conn)
            drained = time.time()
            while _committed(conn) < total:
                if watcher.poll() is not None:
                    raise SystemExit(
                        f"watch stopped: {watcher.stderr.read() if watcher.stderr else ''}"
                    )
                time.sleep(0.05)
            drain_s = time.time() - drained
            time.sleep(detect_every * 2 + 1)  # one more detection pass over the whole day
    finally:
        watcher.terminate()
        watcher.wait(timeout=120)
        seen = lines_seen.close()
    done = completion_times(lines, written)
    latencies, stored, withdrawn = [], [], 0
    worst: dict[str, float] = {}  # rule -> its slowest alert
    for line in alerts.read_text().splitlines():
        alert = json.loads(line)
        if alert["status"] == "withdrawn":
            withdrawn += 1  # a later pass no longer found an alert it sent
            continue
        keys = [*alert["cl_ord_ids"], *alert["exec_ids"]]
        completed = max(done.get(k, 0.0) for k in keys)
        detected = dt.datetime.fromisoformat(alert["detected_at"]).timestamp()
        stored.append(max(0.0, detected - completed))
        latencies.append(max(0.0, seen[alert["alert_id"]] - completed))
        worst[alert["rule"]] = max(worst.get(alert["rule"], 0.0), round(latencies[-1], 2))
    return {
        "rate": rate,
        "rate_held": round(held),
        "messages": total,
        "committed_when_producer_done": at_end,
        "drain_s": round(drain_s, 2),
        "alerts": len(latencies),
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p99_s": round(percentile(latencies, 0.99), 2) if latencies else None,
        "max_s": round(max(latencies), 2) if latencies else None,
        "within_5s": sum(1 for x in latencies if x <= 5.0),
        "p99_stored_s": round(percentile(stored, 0.99), 2) if stored else None,
        "withdrawn": withdrawn,
        "max_s_by_rule": worst,
    }


def _committed(conn: psycopg.Connection) -> int:
    if not conn.execute("SELECT to_regclass('watch_positions') IS NOT NULL").fetchone()[0]:
        return 0
    return int(conn.execute(COMMITTED).fetchone()[0])


def _database_url(settings: Settings) -> str:
    """SURVEIL_DATABASE_URL, else the embedded server's (started, or joined, here)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from surveil.embedded import embedded_url

    return embedded_url(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rates", default="5000,10000,20000")
    parser.add_argument("--detect-every", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each rate, in turn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="surveil-watch-bench-") as tmp:
        scratch = Path(tmp)
        made = generate_day(Settings(home=scratch / "gen"), DAY, orders=args.orders)
        log = scratch / "day.log"
        write_fix_log(made.path, log)
        lines = log.read_bytes().splitlines(keepends=True)
        rates = [int(r) for r in args.rates.split(",")]
        results: dict[int, list[dict]] = {rate: [] for rate in rates}
        for run in range(args.repeat):
            for rate in rates:
                result = run_rate(lines, rate, args.detect_every, scratch / f"run-{run}-{rate}")
                results[rate].append(result)
                print(json.dumps(result), flush=True)
        for rate, runs in results.items():
            met = sum(1 for r in runs if r["alerts"] and r["within_5s"] == r["alerts"])
            kept = sum(1 for r in runs if r["drain_s"] <= KEPT_UP_S)
            worst = max((r["p99_s"] for r in runs if r["p99_s"] is not None), default=None)
            print(
                f"{rate} msgs/s: every alert within 5 s in {met} of {len(runs)} runs, kept up "
                f"(drained within {KEPT_UP_S:g} s) in {kept}, worst p99 {worst} s"
            )
        held = [
            r["rate_held"] for runs in results.values() for r in runs if r["drain_s"] <= KEPT_UP_S
        ]
        print(f"orders {args.orders:,}: highest rate kept up with: "
              f"{max(held) if held else 'none'} msgs/s")  # fmt: skip


if __name__ == "__main__":
    main()
