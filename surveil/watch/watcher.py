"""The watcher: tail a FIX log into the warehouse, detect every few seconds.

One poll reads what the log holds beyond the last position (up to `batch_bytes`), applies
the messages to the day builders and commits, in one transaction, the rows they changed,
their journal, the rejects and the new position (store.write_rows). Anything failing in
that transaction (the database gone, a bug, a kill) leaves the previous commit as the
truth: the watcher then rebuilds its in-memory days from the journal and reopens the log
at the committed position (`recover`), exactly as a restarted process does. So every
message is applied once, whatever stops it where.

`run()` (the CLI) commits each batch on a writer thread (watch/writer.py) while it reads
and applies the next, on the same connection and in the same order; a batch grows while
the writer is busy, up to `batch_bytes`. `poll_once()` commits on the calling thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import psycopg

from surveil import db
from surveil.detect import resolve_params, selected_rules
from surveil.errors import DayLockedError, UnavailableError
from surveil.settings import Settings
from surveil.watch import DEFAULT_BATCH_BYTES, DEFAULT_DETECT_EVERY_S, store
from surveil.watch.detector import Detector
from surveil.watch.fixsource import Days
from surveil.watch.tail import Source, SourceSpec, file_source
from surveil.watch.writer import Batch, Writer

MAX_BACKOFF_S = 30.0
MIN_DETECT_EVERY_S = 0.05  # --detect-every 0: a pass as soon as the last one is done
WATCH_LOCK_NAMESPACE = 0x5357  # "SW": one watcher per source, for its session
# Waits a little: the server releases a closed session's locks only once its backend has
# noticed the disconnection (a watcher restarted at once would otherwise be refused).
LOCK_WAIT = "SET LOCAL lock_timeout = '3s'"
LOCK_SOURCE = "SELECT pg_advisory_lock(%s, hashtext(%s))"
UNLOCK_SOURCE = "SELECT pg_advisory_unlock(%s, hashtext(%s))"


def _stderr(line: str) -> None:
    print(f"surveil watch: {line}", file=sys.stderr, flush=True)


def _read_again(exc: store.DayRecorded) -> str:
    """The line logged when a batch found a day loaded meanwhile: it is not written, the
    day is retired, and what the batch read is read again from the last commit (the day's
    messages in it now rejects)."""
    return f"{exc}; reading on from the last commit, its later messages as rejects"


@dataclass
class PollResult:
    items: int = 0  # messages and bad messages consumed
    journalled: int = 0
    rejects: int = 0
    more: bool = False  # the log had more than one batch: poll again at once
    used: int = 0  # bytes read


@dataclass
class Totals:
    messages: int = 0  # journalled in this process
    rejects: int = 0
    alerts: int = 0
    withdrawn: int = 0  # alerts sent, then no longer found over more of the day
    batches: int = 0
    recoveries: int = 0
    days: set[dt.date] = field(default_factory=set)


class Watcher:
    """Use as a context manager; poll_once() and detect() are the steps, run() the loop."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path | None = None,
        *,
        source: SourceSpec | None = None,
        alerts_out: TextIO | None = None,
        detect_every_s: float = DEFAULT_DETECT_EVERY_S,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        log: Callable[[str], None] = _stderr,
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        if source is None:
            assert log_path is not None, "a log file or a source"
            source = file_source(log_path, settings.fix_max_message_bytes)
        self.spec = source
        self.source = source.key
        self.alerts_out = alerts_out or sys.stdout
        self.detect_every_s = detect_every_s
        self.batch_bytes = batch_bytes
        self.log = log
        self.before_commit = before_commit  # tests: fail inside the transaction
        self.params = resolve_params(settings.rules_file, None)
        self.rules = selected_rules(None)
        self.totals = Totals()
        self.stop = threading.Event()
        self._stack = ExitStack()
        self._conn: psycopg.Connection | None = None
        self._days: Days | None = None
        self._tail: Source | None = None
        self._messages = 0  # journal entries of this source, committed or pending
        self.detector = Detector(settings, self.params, self.rules, self.alerts_out, log)

    # ---- lifecycle

    def __enter__(self) -> Watcher:
        self.recover()
        return self

    def __exit__(self, *exc: object) -> None:
        self.detector.close()
        self._close()

    def _close(self) -> None:
        if self._tail is not None:
            self._tail.close()
        if self._days is not None:
            self._days.close()
        self._tail = self._days = None
        if self._conn is not None and not self._conn.broken:
            try:
                self._conn.execute(UNLOCK_SOURCE, (WATCH_LOCK_NAMESPACE, self.source))
            except psycopg.Error:
                pass  # the session ends with the connection anyway
        self._stack.close()
        self._stack = ExitStack()
        self._conn = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None:
            self._conn = self._stack.enter_context(db.connect(self.settings))
            db.migrate(self._conn)
        return self._conn

    def recover(self) -> None:
        """(Re)start from what is committed: the journal replayed into fresh day builders,
        the log opened at the committed position."""
        self._close()
        conn = self.conn
        try:
            with conn.transaction():
                conn.execute(LOCK_WAIT)
                conn.execute(LOCK_SOURCE, (WATCH_LOCK_NAMESPACE, self.source))
        except psycopg.errors.LockNotAvailable:
            raise DayLockedError(f"{self.spec.label}: another surveil watch follows it") from None
        store.prepare(conn)
        position = store.read_position(conn, self.source)
        self._days = self._new_days(store.loaded_days(conn))
        start = position.replay_from if position is not None else 0
        replayed = store.replay(conn, self.source, self._days, start)
        self._tail = self.spec.open(position, self.log)
        self._messages = position.messages if position is not None else 0
        if replayed != self._messages:
            raise RuntimeError(f"journal holds {replayed} messages, position says {self._messages}")
        self.detector.retire(self._days.retired)
        self.detector.mark(self._days.applied)

    def _new_days(self, retired: set[dt.date]) -> Days:
        spill_dir = self.settings.data_path if self.settings.data_path.is_dir() else None
        return Days(spill_dir, retired, self.settings.watch_window)

    # ---- steps

    def poll_once(self) -> PollResult:
        """Read what is there (up to a batch), apply it and commit it with the position."""
        result = self._read(self.batch_bytes)
        batch = self._take(result)
        if batch is not None:
            try:
                self._commit_here(batch, result)
            except store.DayRecorded as exc:
                self.log(_read_again(exc))
                self.recover()
                result.items = 0  # read again from the last commit
                result.more = True
        return result

    def _read(self, budget: int) -> PollResult:
        """Read and apply up to `budget` bytes of what the log holds (into the pending
        batch, not yet taken)."""
        assert self._days is not None and self._tail is not None
        result = PollResult()
        while budget > 0:
            items, more, used = self._tail.read(budget)
            for item in items:
                self._days.apply(item)
            result.items += len(items)
            result.used += used
            budget -= max(used, 1)
            result.more = more
            if not more or not items:
                break
        return result

    def _take(self, result: PollResult) -> Batch | None:
        """What was applied since the last take, with its rows and position; None when
        nothing was read."""
        assert self._days is not None and self._tail is not None
        applied = self._days.take()
        if not applied.journal and not applied.rejects and not result.items:
            return None
        self._messages += len(applied.journal)
        position = dataclasses.replace(
            self._tail.position(self._messages), replay_from=self._days.replay_from()
        )
        rows = store.batch_rows(self._days, applied)
        return Batch(applied, rows, position, result.items, set(self._days.builders))

    def _commit_here(self, batch: Batch, result: PollResult) -> None:
        """Commit the batch on this thread's connection (and undo refused messages)."""
        assert self._days is not None
        applied = batch.applied
        fresh: Days | None = None
        rebuilt = set(self._days.needs_rebuild)
        try:
            with self.conn.transaction():
                batch.recorded = store.write_rows(
                    self.conn,
                    self.source,
                    batch.rows,
                    applied,
                    batch.position,
                    self.settings.lock_timeout_s,
                    self._days.partitions_ready,
                    batch.held,
                    rebuilt,
                )
                if rebuilt:
                    fresh = self._rebuilt(rebuilt)
                if self.before_commit is not None:
                    self.before_commit()
        except BaseException:
            self._messages -= len(applied.journal)
            if fresh is not None:
                fresh.close()
            raise
        self._counted(batch)
        self._settled(batch)
        if fresh is not None:
            fresh.retire(self._days.retired)  # retired by this batch, after fresh was built
            self._days.close()
            self._days = fresh
            self.detector.mark(dict.fromkeys(rebuilt, 0))
            self.log(f"refused messages undone: {', '.join(map(str, sorted(rebuilt)))} rewritten")
        result.journalled = len(applied.journal)
        result.rejects = len(applied.rejects)

    def _counted(self, batch: Batch) -> None:
        """After a batch's commit (on the thread that committed it): detection told, the
        totals counted."""
        applied = batch.applied
        self.detector.mark(Counter(day for day, _ in applied.journal if day is not None))
        self.totals.messages += len(applied.journal)
        self.totals.rejects += len(applied.rejects)
        self.totals.batches += 1
        self.totals.days |= set(applied.orders) | set(applied.fills)

    def _settled(self, batch: Batch) -> None:
        """After a batch's commit, on the reading thread: its reference rows need not be
        sent again, and a Kafka source tells its group (for lag monitors)."""
        assert self._days is not None
        self._days.committed(batch.applied)
        if batch.recorded - self._days.retired:
            self._retire(batch.recorded)
        committed = getattr(self._tail, "committed", None)
        if committed is not None:
            committed(batch.position.offsets)

    def _retire(self, days: set[dt.date]) -> None:
        """These days are loaded (their batch record): out of memory and of detection."""
        assert self._days is not None
        held = self._days.retire(days)
        self.detector.retire(days)
        for day in sorted(held):
            self.log(
                f"{day}: loaded by `surveil load`, no longer built here; "
                "later messages for it become rejects"
            )

    def _rebuilt(self, days: set[dt.date]) -> Days:
        """A refusal undid messages already applied: the state rebuilt from the journal
        (this batch's included) without them, as import-fix reads a log again, and those
        days rewritten whole, in the caller's transaction."""
        assert self._days is not None
        fresh = self._new_days(self._days.retired)
        try:
            store.replay(self.conn, self.source, fresh, self._days.replay_from())
            for day in sorted(days):
                store.rewrite_day(self.conn, fresh, day, self.settings.lock_timeout_s)
        except BaseException:
            fresh.close()
            raise
        return fresh

    def detect(self) -> list[dict[str, Any]]:
        """Run the rules now over every day changed since its last pass; the new alerts,
        each also written as one JSON line to the alerts output."""
        found = self.detector.pass_now()
        self.totals.alerts = self.detector.alerts
        self.totals.withdrawn = self.detector.withdrawn
        return found

    def poll_until_idle(self) -> int:
        """Poll until the log holds nothing more; the items consumed."""
        total = 0
        while True:
            result = self.poll_once()
            total += result.items
            if not result.more:
                return total

    # ---- the loop

    def run(self, *, once: bool = False, idle_wait_s: float = 0.2) -> Totals:
        """Poll and detect until stop is set (SIGTERM) or, with `once`, until the log holds
        nothing more; transient faults are logged in one line and retried with backoff."""
        self.detector.start(max(self.detect_every_s, MIN_DETECT_EVERY_S))
        try:
            self._loop(once, idle_wait_s)
        finally:
            self.detector.stop()
        self.detect()
        return self.totals

    def _loop(self, once: bool, idle_wait_s: float) -> None:
        failures = 0
        restart = False  # a batch found a day loaded: read again, the day retired
        writer: Writer | None = None
        pending = PollResult()
        try:
            while not self.stop.is_set():
                if self.detector.failure is not None:
                    raise self.detector.failure
                try:
                    if failures or restart:
                        if writer is not None:
                            writer.close()  # its thread stopped at the failure
                            writer = None
                        self.recover()
                        restart = False
                    if writer is None:
                        writer, pending = self._writer(), PollResult()
                    more = self._step(writer, pending)
                    if once and not more:
                        writer.wait_idle()
                        self._settle(writer)
                        break
                    failures = 0
                except store.DayRecorded as exc:
                    self.log(_read_again(exc))
                    restart = True
                    continue
                except (psycopg.OperationalError, UnavailableError) as exc:
                    failures += 1
                    self.totals.recoveries += 1
                    wait = min(0.5 * 2 ** (failures - 1), MAX_BACKOFF_S)
                    text = str(exc).strip()
                    first = text.splitlines()[0] if text else type(exc).__name__
                    self.log(f"database unavailable ({first}); retrying in {wait:g}s")
                    self.stop.wait(wait)
                    continue
                if not more:
                    self.stop.wait(idle_wait_s)
            if writer is not None and self.stop.is_set() and not failures and not restart:
                self._hand_over(writer, pending)  # SIGTERM: commit what was read
                writer.wait_idle()
                self._settle(writer)
        finally:
            if writer is not None:
                writer.close()

    def _writer(self) -> Writer:
        return Writer(
            lambda: self.conn,
            self.source,
            self.settings.lock_timeout_s,
            lambda: self._days.partitions_ready if self._days is not None else set(),
            self._counted,
            self.before_commit,
        )

    def _step(self, writer: Writer, pending: PollResult) -> bool:
        """Read and apply the next part of the log into `pending`; hand it to the writer
        when it is idle, when it is a full batch, or when the log is read to its end
        (batches grow while the writer is busy: fewer commits, each order upserted fewer
        times). Whether the log may hold more."""
        result = self._read(self.batch_bytes - pending.used)
        pending.items += result.items
        pending.used += result.used
        self._settle(writer)
        if pending.used >= self.batch_bytes or not result.more or writer.idle:
            self._hand_over(writer, pending)
        return result.more

    def _hand_over(self, writer: Writer, pending: PollResult) -> None:
        """The pending batch to the writer (a refusal that undoes messages already applied
        is committed here instead, once the writer has committed everything before it)."""
        assert self._days is not None
        batch = self._take(pending)
        pending.items = pending.used = 0
        if batch is None:
            return
        if self._days.needs_rebuild:
            writer.wait_idle()
            self._settle(writer)
            self._commit_here(batch, PollResult())
        else:
            writer.submit(batch)

    def _settle(self, writer: Writer) -> None:
        for batch in writer.committed():
            self._settled(batch)
