"""Detection passes for the watcher, on a connection and a thread of their own.

The rules run inside PostgreSQL; while a pass runs (about a second over a 100k-order day)
the watcher keeps reading the log on its own connection, so the log's ingestion never
waits for the rules. The watcher writes a day under the day's lock taken shared, as the
rules read it, so the two never wait for each other; a `load` of the day (exclusive)
waits for both. `pass_now()` is also called directly (tests, the last pass at SIGTERM).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TextIO

import psycopg

from surveil import db
from surveil.errors import DayLockedError, UnavailableError
from surveil.settings import Settings
from surveil.watch import alerts, store

# A day's partitions are analyzed again before a pass once its messages grew by half (and
# by at least this many): the rules' plans follow the day's size.
ANALYZE_GROWTH = 1.5
ANALYZE_MIN_GROWTH = 1000


class Detector:
    def __init__(
        self,
        settings: Settings,
        params: dict[str, dict[str, Any]],
        rules: list[str],
        out: TextIO,
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.params = params
        self.rules = rules
        self.out = out
        self.log = log
        self.alerts = 0
        self.withdrawn = 0  # alerts sent, then no longer found by a later pass
        self._lock = threading.Lock()  # guards _dirty, _messages and _retired
        self._one_pass = threading.Lock()  # one pass at a time
        self._dirty: set[dt.date] = set()
        self._retired: set[dt.date] = set()  # loaded days: their record is the batch's
        self._messages: dict[dt.date, int] = {}
        self._analyzed: dict[dt.date, int] = {}
        self._stack = ExitStack()
        self._conn: psycopg.Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None  # what stopped the background passes

    def mark(self, days: dict[dt.date, int]) -> None:
        """These days changed, by this many more messages each."""
        with self._lock:
            self._dirty |= set(days) - self._retired
            for day, count in days.items():
                if day not in self._retired:
                    self._messages[day] = self._messages.get(day, 0) + count

    def retire(self, days: set[dt.date]) -> None:
        """No more passes over these days (loaded: `detect` of the batch owns them)."""
        with self._lock:
            self._retired |= days
            self._dirty -= days
            for day in days:
                self._messages.pop(day, None)

    def pass_now(self) -> list[dict[str, Any]]:
        """Run the rules over every day changed since its last pass; the new alerts (their
        JSON lines' objects), each written as one line, as is each withdrawal of an alert
        sent before (before the rule's transaction commits: a crash may repeat a line,
        never lose one)."""
        with self._one_pass:
            with self._lock:
                days, self._dirty = sorted(self._dirty), set()
                grown = dict(self._messages)
            found: list[dict[str, Any]] = []
            try:
                for day in days:
                    found.extend(self._day(day, grown.get(day, 0)))
                    days = days[1:]
            except BaseException:
                with self._lock:
                    self._dirty |= set(days)  # the days not done: next pass
                raise
            self.alerts += len(found)
            return found

    def _day(self, day: dt.date, messages: int) -> list[dict[str, Any]]:
        """The rules over the day, one transaction each: a rule's new alerts are written
        as soon as it has run, not after the slowest of the others. No rule runs
        once the day is loaded: detect of its record owns it (checked under the day's
        lock, so no load of it commits while a rule runs)."""
        conn = self._connection()
        if messages >= ANALYZE_GROWTH * self._analyzed.get(day, 0) + ANALYZE_MIN_GROWTH:
            alerts.analyze_day(conn, day)
            self._analyzed[day] = messages
        found: list[dict[str, Any]] = []
        for rule in self.rules:
            with conn.transaction():
                db.lock_day(conn, day, self.settings.lock_timeout_s, shared=True)
                if store.loaded_days(conn, {day}):
                    self.retire({day})
                    break
                new, withdrawn = alerts.detect_pass(
                    conn, day, self.params, [rule], self.settings.lock_timeout_s
                )
                for line in (*new, *withdrawn):
                    self.out.write(json.dumps(line) + "\n")
                self.out.flush()
            found.extend(new)
            self.withdrawn += len(withdrawn)
        return found

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._stack.close()
            self._stack = ExitStack()
            self._conn = self._stack.enter_context(db.connect(self.settings))
        return self._conn

    # ---- in the background

    def start(self, every_s: float) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(every_s,), name="surveil-watch-detect", daemon=True
        )
        self._thread.start()

    def _loop(self, every_s: float) -> None:
        """A pass every `every_s` seconds, start to start (a pass longer than that is
        followed by the next at once)."""
        due = time.monotonic() + every_s
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due = time.monotonic() + every_s
            try:
                self.pass_now()
            except (psycopg.OperationalError, UnavailableError, DayLockedError) as exc:
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.log(f"detection deferred ({text}); trying again in {every_s:g}s")
                self._conn = None
            except BaseException as exc:  # noqa: BLE001 - handed to the watcher's loop
                self.failure = exc
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._stack.close()
        self._conn = None
