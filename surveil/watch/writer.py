"""Batches committed on a thread of their own, while the next is read.

The watcher's reading (framing, DayBuilder) is Python on the GIL; a batch's commit is
mostly waiting on PostgreSQL (COPY, upserts, COMMIT), during which psycopg releases the
GIL. So `surveil watch` (Watcher.run) hands each batch, its rows already built, to this
writer and goes on reading and applying the next one meanwhile. The writer uses the
watcher's own connection (the session holding the source's lock: if it is lost, so are
the writes), which the reading thread leaves alone while a writer runs. A batch is one
transaction (rows, journal, rejects, position), batches commit in the order they were
read, and one at a time: at most one is in flight and one waits. A batch that fails is
kept as `failure` and everything after it dropped: the watcher raises it, then
`recover()`s from the journal, as after a failed commit on its own connection.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from surveil.watch import store
from surveil.watch.fixsource import Applied


@dataclass
class Batch:
    applied: Applied
    rows: dict[dt.date, store.DayRows]
    position: store.Position
    items: int  # messages and bad messages consumed
    held: set[dt.date] = field(default_factory=set)  # the days being built when taken
    recorded: set[dt.date] = field(default_factory=set)  # of those, loaded: to retire


class Writer:
    def __init__(
        self,
        conn: Callable[[], psycopg.Connection],
        source: str,
        lock_timeout_s: float,
        partitions_ready: Callable[[], set[dt.date]],
        on_commit: Callable[[Batch], None],
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        self.conn = conn
        self.lock_timeout_s = lock_timeout_s
        self.source = source
        self.partitions_ready = partitions_ready
        self.on_commit = on_commit  # called on the writer's thread, after each commit
        self.before_commit = before_commit
        self.failure: BaseException | None = None
        self._cond = threading.Condition()
        self._waiting: Batch | None = None
        self._busy = False
        self._done: list[Batch] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="surveil-watch-write", daemon=True)
        self._thread.start()

    # ---- the reader's side

    @property
    def idle(self) -> bool:
        """Nothing in flight, nothing waiting."""
        with self._cond:
            return not self._busy and self._waiting is None

    def submit(self, batch: Batch) -> None:
        """Queue the batch after those before it; waits while one is already waiting."""
        with self._cond:
            while self._waiting is not None and self.failure is None:
                self._cond.wait()
            self._raise()
            self._waiting = batch
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every batch handed over is committed (or one failed: raised)."""
        with self._cond:
            done = self._cond.wait_for(
                lambda: self.failure is not None or (not self._busy and self._waiting is None),
                timeout,
            )
            self._raise()
            return done

    def committed(self) -> list[Batch]:
        """The batches committed since the last call, in order."""
        with self._cond:
            done, self._done = self._done, []
            return done

    def close(self) -> None:
        """Stop the thread, once the batches handed over are committed (or one failed)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _raise(self) -> None:
        if self.failure is not None:
            raise self.failure

    # ---- the writer's thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._closing:
                    self._cond.wait()
                if self._waiting is None or self.failure is not None:
                    return
                batch, self._waiting, self._busy = self._waiting, None, True
                self._cond.notify_all()
            try:
                self._commit(batch)
                self.on_commit(batch)
            except BaseException as exc:  # noqa: BLE001 - raised on the reader's thread
                with self._cond:
                    self.failure, self._waiting, self._busy = exc, None, False
                    self._cond.notify_all()
                return
            with self._cond:
                self._busy = False
                self._done.append(batch)
                self._cond.notify_all()

    def _commit(self, batch: Batch) -> None:
        conn = self.conn()
        with conn.transaction():
            batch.recorded = store.write_rows(
                conn,
                self.source,
                batch.rows,
                batch.applied,
                batch.position,
                self.lock_timeout_s,
                self.partitions_ready(),
                batch.held,
            )
            if self.before_commit is not None:
                self.before_commit()
