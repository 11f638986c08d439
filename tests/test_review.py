"""The review workflow over real detections (sql/006_review.sql, surveil/review)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from surveil import db
from surveil.detect import detect_day
from surveil.errors import ReviewError
from surveil.load import load_day
from surveil.review import audit, cases, suppressions
from surveil.settings import Settings
from tests.conftest import TRADING_DAY


def loaded_day(settings: Settings) -> None:
    from surveil.generate import generate_day
    from surveil.lake import upload_day

    generate_day(settings, TRADING_DAY)
    upload_day(settings, TRADING_DAY)
    load_day(settings, TRADING_DAY)


@pytest.fixture
def detected(settings: Settings) -> Settings:
    loaded_day(settings)
    detect_day(settings, TRADING_DAY)
    return settings


PLANT = """
INSERT INTO alerts (alert_id, trade_date, rule, rule_version, params, symbol, account_ids,
                    cl_ord_ids, exec_ids, score, explanation)
SELECT md5(%(rule)s || %(d)s::text || %(tag)s || n), %(d)s, %(rule)s, '1', '{}', %(symbol)s,
       ARRAY[%(account)s], ARRAY['O' || n], ARRAY[]::text[], %(score)s,
       'planted for a review test'
FROM generate_series(1, %(n)s) n
RETURNING alert_id
"""


def plant(
    conn: psycopg.Connection, n: int = 1, *, score: float = 50, rule: str = "spoofing",
    symbol: str = "AAPL", account: str = "ACC1", day: dt.date = TRADING_DAY, tag: str = "",
) -> list[str]:  # fmt: skip
    """Alerts written as detect writes them, and the hook detect runs after them."""
    params = {"rule": rule, "d": day, "tag": tag, "symbol": symbol, "account": account,
              "score": score, "n": n}  # fmt: skip
    with conn.transaction():
        ids = [r[0] for r in conn.execute(PLANT, params).fetchall()]
        suppressions.apply_to_day(conn, day, [rule])
    return ids


@pytest.fixture
def migrated(settings: Settings, conn: psycopg.Connection) -> psycopg.Connection:
    with db.connect(settings) as c:
        db.migrate(c)
    return conn


def low_and_high(conn: psycopg.Connection) -> tuple[str, str]:
    return plant(conn, score=40, tag="low")[0], plant(conn, score=85, tag="high")[0]


def test_every_detected_alert_opens_a_case_with_an_event(
    detected: Settings, conn: psycopg.Connection
) -> None:
    alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
    assert alerts > 0
    assert (
        conn.execute("SELECT count(*) FROM review_cases WHERE status = 'open'").fetchone()[0]
        == alerts
    )
    assert (
        conn.execute("SELECT count(*) FROM review_events WHERE action = 'opened'").fetchone()[0]
        == alerts
    )
    q = cases.queue(detected, cases.QueueFilter())
    assert q.total == alerts and all(c["produced"] for c in q.cases)


def test_a_low_score_close_closes_and_a_high_one_waits_for_a_second_person(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    detected, conn = settings, migrated
    low, high = low_and_high(conn)
    d = cases.act(
        detected, low, "close", comment="market maker", disposition="false_positive", actor="ann"
    )
    assert (d.from_status, d.to_status) == ("open", "closed")
    d = cases.act(
        detected, high, "close", comment="looks fine", disposition="no_further_action", actor="ann"
    )
    assert d.to_status == "pending"
    with pytest.raises(ReviewError, match="four-eyes"):
        cases.decide(detected, [high], True, actor="ann")
    [done] = cases.decide(detected, [high], True, actor="bob")
    assert done.to_status == "closed"
    row = conn.execute(
        "SELECT closed_by, approved_by, disposition FROM review_cases WHERE alert_id = %s", (high,)
    ).fetchone()
    assert row == ("ann", "bob", "no_further_action")


def test_verify_holds_then_names_the_event_a_superuser_edited(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    conn = migrated
    low, high = low_and_high(conn)
    cases.act(settings, low, "comment", comment="first look", actor="ann")
    cases.act(settings, high, "escalate", comment="needs a second look", actor="ann")
    assert audit.verify(settings).ok
    target = conn.execute("SELECT event_id FROM review_events WHERE action = 'escalate'").fetchone()[0]
    with pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("UPDATE review_events SET comment = 'nothing' WHERE event_id = %s", (target,))
    with pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("DELETE FROM review_events WHERE event_id = %s", (target,))
    conn.execute("ALTER TABLE review_events DISABLE TRIGGER review_events_append_only")
    conn.execute("UPDATE review_events SET comment = 'nothing to see' WHERE event_id = %s", (target,))
    broken = audit.verify(settings)
    assert not broken.ok and broken.broken_event_id == target and "changed" in broken.problem


def test_verify_sees_the_last_event_removed(settings: Settings, migrated: psycopg.Connection) -> None:
    low, _ = low_and_high(migrated)
    cases.act(settings, low, "comment", comment="a note", actor="ann")
    last = migrated.execute("SELECT max(event_id) FROM review_events").fetchone()[0]
    migrated.execute("ALTER TABLE review_events DISABLE TRIGGER review_events_append_only")
    migrated.execute("DELETE FROM review_events WHERE event_id = %s", (last,))
    broken = audit.verify(settings)
    assert broken.broken_event_id == last and "head" in broken.problem
