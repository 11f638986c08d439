"""The audit trail exported as CSV for a date range (issue 20 item 6): `surveil review export`."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from surveil.cli import app
from surveil.review import audit, cases
from surveil.settings import Settings
from tests import test_review as base
from tests.test_review import plant

runner = CliRunner()
migrated = base.migrated  # the fixture, shared

# Test set-up only: move events to other days as a superuser could, then re-chain every
# hash with the database's own function, so that the trail is whole again (verify says so)
# and spans several days.
BACKDATE = """
UPDATE review_events SET at = %(at)s WHERE event_id = ANY(%(ids)s)
"""
RECHAIN = """
DO $rechain$
DECLARE
    e review_events;
    prev text := repeat('0', 64);
BEGIN
    FOR e IN SELECT * FROM review_events ORDER BY event_id LOOP
        e.prev_hash := prev;
        e.hash := review_event_hash(e);
        UPDATE review_events SET prev_hash = e.prev_hash, hash = e.hash
        WHERE event_id = e.event_id;
        prev := e.hash;
    END LOOP;
    UPDATE review_chain SET last_hash = prev;
END
$rechain$
"""
STORED = """
SELECT event_id, actor, action, alert_id, comment, disposition, prev_hash, hash
FROM review_events ORDER BY event_id
"""


def utc(day: str, clock: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{clock}+00:00")


def spread_over_days(settings: Settings, conn: psycopg.Connection) -> list[int]:
    """A trail of six events: two cases opened on 5 Jan, a comment in the last microsecond
    of 6 Jan, a close in the first of 7 Jan, an escalation and a comment today. Returns the
    event ids in order."""
    low, high = plant(conn, score=40, tag="a")[0], plant(conn, score=85, tag="b")[0]
    cases.act(settings, low, "comment", comment='asked the desk, "why", twice', actor="ann")
    cases.act(settings, low, "close", comment="hedge\nof a client order", disposition="false_positive", actor="ann")  # fmt: skip
    cases.act(settings, high, "escalate", comment="pattern over days", actor="ann")
    cases.act(settings, high, "comment", comment="waiting for the desk", actor="bob")
    ids = [r[0] for r in conn.execute("SELECT event_id FROM review_events ORDER BY event_id")]
    assert len(ids) == 6
    conn.execute("ALTER TABLE review_events DISABLE TRIGGER review_events_append_only")
    conn.execute(BACKDATE, {"at": utc("2026-01-05", "09:30:00"), "ids": ids[:2]})
    conn.execute(BACKDATE, {"at": utc("2026-01-06", "23:59:59.999999"), "ids": ids[2:3]})
    conn.execute(BACKDATE, {"at": utc("2026-01-07", "00:00:00"), "ids": ids[3:4]})
    conn.execute(RECHAIN)
    conn.execute("ALTER TABLE review_events ENABLE TRIGGER review_events_append_only")
    assert audit.verify(settings).ok
    return ids


def export(tmp_path: Path, start: str, end: str) -> tuple[dict, list[dict[str, str]], list[str]]:
    out = tmp_path / f"trail-{start}-{end}.csv"
    result = runner.invoke(
        app, ["review", "export", "--from", start, "--to", end, "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        assert reader.fieldnames is not None
        return json.loads(result.stdout), rows, list(reader.fieldnames)


def recomputed(row: dict[str, str]) -> str:
    """The event's hash from the CSV alone (an empty cell is a NULL)."""
    fields = [row[c] or None for c in audit.EXPORT_COLUMNS[:-1]]
    return audit.event_hash(tuple(fields))


def test_the_export_writes_the_events_of_the_range_with_their_hashes(
    settings: Settings, migrated: psycopg.Connection, tmp_path: Path
) -> None:
    ids = spread_over_days(settings, migrated)
    stored = {r[0]: r for r in migrated.execute(STORED).fetchall()}
    today = dt.datetime.now(dt.UTC).date().isoformat()

    report, rows, columns = export(tmp_path, "2026-01-05", "2026-01-06")
    assert columns == list(audit.EXPORT_COLUMNS)
    assert [int(r["event_id"]) for r in rows] == ids[:3] and report["events"] == 3
    assert rows[2]["at"] == "2026-01-06T23:59:59.999999"  # the last microsecond of the --to day
    for row in rows:
        event_id, actor, action, alert_id, comment, disposition, prev_hash, hash_ = stored[
            int(row["event_id"])
        ]
        assert (row["actor"], row["action"], row["alert_id"]) == (actor, action, alert_id)
        assert (row["comment"] or None, row["disposition"] or None) == (comment, disposition)
        assert (row["prev_hash"], row["hash"]) == (prev_hash, hash_)
        assert recomputed(row) == row["hash"]  # the file alone carries what the hash covers
    assert rows[2]["comment"] == 'asked the desk, "why", twice'  # quoted, not split
    assert rows[0]["prev_hash"] == audit.GENESIS

    _, rows, _ = export(tmp_path, "2026-01-07", "2026-01-07")
    assert [int(r["event_id"]) for r in rows] == ids[3:4]  # midnight opens the next day
    assert rows[0]["comment"] == "hedge\nof a client order"

    _, rows, _ = export(tmp_path, "2026-01-01", today)
    assert [int(r["event_id"]) for r in rows] == ids
    # Consecutive events chain: each names the hash of the one before it.
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))

    report, rows, columns = export(tmp_path, "2025-12-01", "2025-12-31")
    assert rows == [] and columns == list(audit.EXPORT_COLUMNS) and report["events"] == 0


def test_an_export_refused_writes_nothing(
    settings: Settings, migrated: psycopg.Connection, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "trail.csv"
    for args, message in (
        (["--from", "2026-02-01", "--to", "2026-01-01"], "is after --to"),
        (["--from", "2026-13-01", "--to", "2026-12-31"], "--from"),
    ):
        result = runner.invoke(app, ["review", "export", *args, "--out", str(out)])
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    missing = folder / "no-such-folder" / "trail.csv"
    result = runner.invoke(
        app,
        ["review", "export", "--from", "2026-01-01", "--to", "2026-01-31", "--out", str(missing)],
    )
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert list(folder.iterdir()) == []  # no CSV, no .partial


XACT_CHAIN_UPDATES = "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'review_chain'"
BULK_CLOSE = "SELECT review_bulk_close(%s, 'false_positive', 'quote refresh')"


def test_a_bulk_close_moves_the_chains_head_once_and_still_chains_every_event(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    """Migration 007: the head row is updated once per statement, not once per event (which
    made a bulk close grow with the square of its size), and the chain stays whole."""
    ids = plant(migrated, 40, score=20, rule="excessive_otr")
    before = migrated.execute("SELECT last_event_id FROM review_chain").fetchone()[0]
    with migrated.transaction():
        migrated.execute("SELECT set_config('surveil.actor', 'ann', true)")
        # The backend's counts not yet reported (earlier transactions' may be among them).
        updates = migrated.execute(XACT_CHAIN_UPDATES).fetchone()[0]
        migrated.execute(BULK_CLOSE, (ids,))
        assert migrated.execute(XACT_CHAIN_UPDATES).fetchone()[0] - updates == 1  # not 40
    head = migrated.execute("SELECT last_event_id, last_hash FROM review_chain").fetchone()
    last = migrated.execute(
        "SELECT event_id, hash FROM review_events ORDER BY event_id DESC LIMIT 1"
    ).fetchone()
    assert head == last and head[0] == before + 40
    batch = migrated.execute(
        "SELECT event_id, prev_hash, hash FROM review_events WHERE action = 'bulk_close' ORDER BY event_id"
    ).fetchall()
    assert [b[0] for b in batch] == list(range(before + 1, before + 41))
    assert all(b[1] == a[2] for a, b in zip(batch, batch[1:], strict=False))
    assert audit.verify(settings).ok


def test_concurrent_bulk_closes_chain_one_after_the_other(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    """Two bulk closes at once (each a multi-row statement): the head's lock orders them,
    so their events interleave nowhere and the chain verifies."""
    import threading

    ann = plant(migrated, 30, score=20, rule="excessive_otr", tag="ann")
    bob = plant(migrated, 30, score=20, rule="spoofing", tag="bob")
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def close(who: str, rule: str) -> None:
        start.wait()
        try:
            where = cases.QueueFilter(rule=rule)
            cases.bulk_close(settings, where, "false_positive", f"{who}'s batch", actor=who)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=close, args=a)
        for a in (("ann", "excessive_otr"), ("bob", "spoofing"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    actors = [r[0] for r in migrated.execute(
        "SELECT actor FROM review_events WHERE action = 'bulk_close' ORDER BY event_id"
    )]  # fmt: skip
    assert sorted(actors) == ["ann"] * len(ann) + ["bob"] * len(bob)
    assert actors in (["ann"] * 30 + ["bob"] * 30, ["bob"] * 30 + ["ann"] * 30)
    assert audit.verify(settings).ok
