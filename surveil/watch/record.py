"""The batch record of a day `surveil watch` built: its day folder, written from the journal.

`watch` journals every verified message it applied (sql/008_watch.sql), so the messages of
a watched day are in the warehouse even when the live log has been rotated away. `run-day`
for such a day, with no day folder for it, writes the folder from that journal: each
source's messages of the day, in the order read, written back as FIX (BodyLength and CheckSum
recomputed: they verified when read) into a log named after the source, and
taken through `import-fix` — the same reader and rules, so the folder is what import-fix of
the live log would have written, and load, validate and detect go on as for any day.

Messages that failed verification are not in the journal: only their reason and a
readable copy (`|` for SOH) were kept. Each is written as that copy, after the source's
messages (a rejected message changes no state, so its place does not matter), and the
import lists it among the day's rejects again. A verified message that could not become
rows is in the journal (its reject's `journal_seq`), and the import rejects it again, so
its copy is not written. The record's reject count is returned beside
the watch's own, and run-day names any difference. Locations in rejects.csv are lines of
the rewritten log.

A message that came after the day was loaded (watch's reject with the reason
fixsource.RECORDED) was verified and journalled: the record takes it in, as import-fix of
the whole live log would, and does not list it among the rejects; run-day says how many.

Each record is noted in `watch_records` (sql/013_watch_records.sql) with the last journal
seq of each source it took in. While a record is the day's load, messages of the day
journalled after it (a bust or a trade report that came once the day was loaded, or one
applied while run-day was recording) are not in the warehouse: `unrecorded_messages`
counts them, status shows the day not done, and run-day records the day again.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from surveil import db
from surveil.fix import ImportResult, import_fix
from surveil.fixwriter import frame
from surveil.manifest import read_local_manifest
from surveil.settings import Settings
from surveil.watch.fixsource import RECORDED

SOH = b"\x01"
WATCHED_SOURCES = "SELECT DISTINCT source FROM watch_messages WHERE trade_date = %s ORDER BY 1"
# A day's messages of one source, and the session messages without a readable date (a
# refusal among them may name one of the day's messages).
DAY_MESSAGES = """
SELECT seq, begin_string, body FROM watch_messages
WHERE source = %s AND (trade_date = %s OR trade_date IS NULL) ORDER BY seq
"""
# The copies of the day's messages that failed verification: the others are in the
# journal (journal_seq), and the import rejects them again, or takes them in (those that
# came after the day was loaded: the reason fixsource.RECORDED).
DAY_REJECTS = """
SELECT message FROM watch_rejects
WHERE source = %s AND (trade_date = %s OR trade_date IS NULL) AND journal_seq IS NULL
ORDER BY seq
"""
DAY_REJECT_COUNTS = """
SELECT count(*) FILTER (WHERE reason <> %(late)s), count(*) FILTER (WHERE reason = %(late)s)
FROM watch_rejects
WHERE source = ANY(%(sources)s) AND (trade_date = %(day)s OR trade_date IS NULL)
"""

NOTE_RECORD = """
INSERT INTO watch_records (trade_date, manifest_sha256, through) VALUES (%s, %s, %s)
ON CONFLICT (trade_date, manifest_sha256) DO UPDATE SET through = excluded.through,
    recorded_at = clock_timestamp()
"""
# Per day whose load is a record of the journal: the day's messages journalled after the
# record (past its last seq of each source the watcher follows), by the journal's
# (trade_date, source, seq) index. The load is the day's latest load run.
UNRECORDED = """
SELECT r.trade_date, count(*)
FROM watch_records r
JOIN LATERAL (
    SELECT l.manifest_sha256 FROM load_runs l
    WHERE l.trade_date = r.trade_date ORDER BY l.run_id DESC LIMIT 1
) loaded ON loaded.manifest_sha256 = r.manifest_sha256
CROSS JOIN watch_positions p
JOIN watch_messages m
  ON m.trade_date = r.trade_date AND m.source = p.source
 AND m.seq > coalesce((r.through ->> p.source)::bigint, 0)
WHERE (%(start)s::date IS NULL OR r.trade_date >= %(start)s)
  AND (%(end)s::date IS NULL OR r.trade_date <= %(end)s)
GROUP BY r.trade_date
"""


def unrecorded_messages(
    conn: psycopg.Connection, start: dt.date | None = None, end: dt.date | None = None
) -> dict[dt.date, int]:
    """Days (between `start` and `end`) whose load is a record of watch's journal, with the
    number of their messages journalled after it: in the journal, not in the warehouse."""
    rows = conn.execute(UNRECORDED, {"start": start, "end": end}).fetchall()
    return {day: int(n) for day, n in rows}


def watched_sources(settings: Settings, day: dt.date) -> list[str]:
    """The sources `watch` journalled messages of `day` from (none: not a watched day)."""
    with db.connect(settings) as conn:
        db.migrate(conn)
        return [row[0] for row in conn.execute(WATCHED_SOURCES, (day,)).fetchall()]


def fix_message(begin_string: str, body: bytes) -> bytes:
    """A journalled message as it was on the wire (the journal keeps its body without the
    SOH before CheckSum)."""
    return frame(begin_string.encode(), body + SOH)


def log_name(source: str) -> str:
    """The rewritten log's file name: the source's own (a topic's for Kafka), marked."""
    base = source.removeprefix("kafka:").rstrip("/").rsplit("/", 1)[-1] or "watch"
    return re.sub(r"[^A-Za-z0-9._-]", "_", base) + ".watch-journal"


@dataclass(frozen=True)
class Recorded:
    result: ImportResult  # the import of the rewritten logs
    kept: int  # the day's rejects `watch` kept
    late: int  # messages read after the day was loaded, rejects then, in this record now


def record_watched_day(
    settings: Settings, day: dt.date, sources: list[str], *, replace: bool = False
) -> Recorded:
    """Write the day folder of a watched day from watch's journal (module docstring);
    `replace`: over the day folder of an earlier record, which the journal has outgrown."""
    late_reason = RECORDED.format(day=day)
    through: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix=".watch-record-", dir=_scratch(settings)) as scratch:
        logs: list[Path] = []
        with db.connect(settings) as conn:
            for source in sources:
                path = Path(scratch) / log_name(source)
                if path in logs:
                    path = path.with_name(f"{len(logs)}-{path.name}")
                with path.open("wb") as out:
                    for seq, begin, body in conn.execute(DAY_MESSAGES, (source, day)):
                        out.write(fix_message(begin, bytes(body)) + b"\n")
                        through[source] = seq
                    for (message,) in conn.execute(DAY_REJECTS, (source, day)):
                        # one line per reject, whatever its copy holds
                        out.write(message.replace("\n", " ").encode("latin-1") + b"\n")
                logs.append(path)
            counts = {"sources": sources, "day": day, "late": late_reason}
            kept, late = conn.execute(DAY_REJECT_COUNTS, counts).fetchone() or (0, 0)
        result = import_fix(settings, logs, day, skip_invalid=True, force=replace)
    _note_record(settings, result, through)
    return Recorded(result, kept, late)


def _note_record(settings: Settings, result: ImportResult, through: dict[str, int]) -> None:
    """Note in watch_records which journal messages the day folder written holds."""
    for written in result.days:
        manifest = read_local_manifest(written.path)
        if manifest is not None:
            with db.connect(settings) as conn:
                conn.execute(NOTE_RECORD, (written.trade_date, manifest.sha256, Jsonb(through)))


def _scratch(settings: Settings) -> Path:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return settings.data_path
