"""The review audit trail: verify its hash chain, export it, read it.

verify recomputes every event's hash here, in Python, from the stored fields, rather than
asking the database's own review_event_hash: someone able to edit rows could also replace
that function. The encoding is the one sql/006_review.sql documents: each field written as
<length>:<text> (NULL as ~), joined by |, hashed with sha256. The chain's head (the last
event's id and hash, in review_chain) is checked too, so a removed last event shows; the
head hash verify prints can be written down elsewhere (a ticket, the daily report) to
anchor the trail outside the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surveil.errors import ReviewError
from surveil.review import session
from surveil.settings import Settings

GENESIS = "0" * 64
EVENTS = """
SELECT event_id, at, actor, action, alert_id, suppression_id, draft_id, batch_id,
       from_status, to_status, disposition, comment, detail::text, prev_hash, hash
FROM review_events ORDER BY event_id
"""
HEAD = "SELECT last_event_id, last_hash FROM review_chain"
EXPORT = """
SELECT event_id, at, actor, action, alert_id, suppression_id, draft_id, batch_id,
       from_status, to_status, disposition, comment, detail::text, prev_hash, hash
FROM review_events
WHERE at >= %(start)s AND at < %(end)s
ORDER BY event_id
"""
EXPORT_COLUMNS = (
    "event_id", "at", "actor", "action", "alert_id", "suppression_id", "draft_id", "batch_id",
    "from_status", "to_status", "disposition", "comment", "detail", "prev_hash", "hash",
)  # fmt: skip


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return str(value)


def event_hash(row: tuple[Any, ...]) -> str:
    """The hash of one event (a row of EVENTS without its own hash), prev_hash first."""
    event_id, at, *fields, prev_hash = row
    values = [prev_hash, event_id, at, *fields]
    encoded = "|".join(
        "~" if v is None else f"{len(t)}:{t}" for v in values for t in [_text(v) or ""]
    )
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass
class Verified:
    events: int
    head_event_id: int
    head_hash: str
    broken_event_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_event_id is None


def verify(settings: Settings) -> Verified:
    """Walk the chain from the first event; stop at the first that does not hold."""
    with session(settings) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        head = conn.execute(HEAD).fetchone()
        assert head is not None
        previous, expected_id, count = GENESIS, 1, 0
        with conn.cursor(name="review_verify") as cur:
            cur.itersize = 5_000
            cur.execute(EVENTS)
            for row in cur:
                count += 1
                event_id, stored_prev, stored = row[0], row[13], row[14]
                problem = ""
                if event_id != expected_id:
                    problem = (
                        f"expected event {expected_id} next, found {event_id} (events removed)"
                    )
                elif stored_prev != previous:
                    problem = "its previous hash is not the hash of the event before it"
                elif event_hash(row[:14]) != stored:
                    problem = "its fields do not match its hash (the row was changed)"
                if problem:
                    return Verified(count, head[0], head[1], int(event_id), problem)
                previous, expected_id = stored, event_id + 1
    if (head[0], head[1]) != (expected_id - 1, previous):
        return Verified(
            count,
            head[0],
            head[1],
            expected_id,
            "the chain's head does not name the last event (events removed at the end)",
        )
    return Verified(count, head[0], head[1])


@dataclass
class Exported:
    path: Path
    events: int
    start: dt.date
    end: dt.date


def export_csv(settings: Settings, start: dt.date, end: dt.date, out: Path) -> Exported:
    """The events of [start, end] (UTC days, by the database's clock) as CSV; the file is
    written beside its name and renamed into place, so a failure leaves nothing half-written."""
    if start > end:
        raise ReviewError(f"--from {start} is after --to {end}")
    if out.exists() and out.is_dir():
        raise ReviewError(f"--out {out}: is a folder; give a file name")
    if not out.parent.is_dir():
        raise ReviewError(f"--out {out}: folder {out.parent} does not exist")
    window = {
        "start": dt.datetime.combine(start, dt.time(), dt.UTC),
        "end": dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC),
    }
    partial = out.with_name(out.name + ".partial")
    count = 0
    with session(settings) as conn, partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in conn.execute(EXPORT, window):
            writer.writerow("" if v is None else _text(v) for v in row)
            count += 1
    partial.replace(out)
    return Exported(out, count, start, end)
