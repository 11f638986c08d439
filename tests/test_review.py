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
    target = conn.execute(
        "SELECT event_id FROM review_events WHERE action = 'escalate'"
    ).fetchone()[0]
    with pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("UPDATE review_events SET comment = 'nothing' WHERE event_id = %s", (target,))
    with pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("DELETE FROM review_events WHERE event_id = %s", (target,))
    conn.execute("ALTER TABLE review_events DISABLE TRIGGER review_events_append_only")
    conn.execute(
        "UPDATE review_events SET comment = 'nothing to see' WHERE event_id = %s", (target,)
    )
    broken = audit.verify(settings)
    assert not broken.ok and broken.broken_event_id == target and "changed" in broken.problem


def test_verify_sees_the_last_event_removed(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    low, _ = low_and_high(migrated)
    cases.act(settings, low, "comment", comment="a note", actor="ann")
    last = migrated.execute("SELECT max(event_id) FROM review_events").fetchone()[0]
    migrated.execute("ALTER TABLE review_events DISABLE TRIGGER review_events_append_only")
    migrated.execute("DELETE FROM review_events WHERE event_id = %s", (last,))
    broken = audit.verify(settings)
    assert broken.broken_event_id == last and "head" in broken.problem


def events(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM review_events").fetchone()[0]


def test_review_state_survives_re_detection_with_the_same_and_changed_parameters(
    detected: Settings, conn: psycopg.Connection
) -> None:
    q = cases.queue(detected, cases.QueueFilter(rule="spoofing"))
    [spoof] = [c["alert_id"] for c in q.cases]
    cases.act(
        detected,
        spoof,
        "close",
        comment="layering, reported",
        disposition="stor_filed",
        actor="ann",
    )
    trail = conn.execute("SELECT event_id, hash FROM review_events ORDER BY event_id").fetchall()
    case = conn.execute("SELECT * FROM review_cases WHERE alert_id = %s", (spoof,)).fetchone()
    detect_day(detected, TRADING_DAY)  # the same parameters: the same alerts, nothing changes
    assert (
        conn.execute("SELECT * FROM review_cases WHERE alert_id = %s", (spoof,)).fetchone() == case
    )
    assert (
        conn.execute("SELECT event_id, hash FROM review_events ORDER BY event_id").fetchall()
        == trail
    )
    # Parameters under which spoofing no longer fires: the case and its history stay,
    # shown as no longer produced.
    detect_day(detected, TRADING_DAY, rule="spoofing", overrides={"spoofing": {"min_orders": 500}})
    assert conn.execute("SELECT count(*) FROM alerts WHERE rule = 'spoofing'").fetchone()[0] == 0
    view = cases.show(detected, spoof)
    assert view.case["status"] == "pending" and view.case["produced"] is False
    assert [h["action"] for h in view.history] == ["opened", "close"]
    listed = cases.queue(detected, cases.QueueFilter(rule="spoofing"))
    assert [(c["alert_id"], c["produced"]) for c in listed.cases] == [(spoof, False)]
    assert audit.verify(detected).ok


def test_invalid_transitions_exit_with_a_reason_and_change_nothing(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    low, high = low_and_high(migrated)
    cases.act(settings, low, "close", comment="fine", disposition="duplicate", actor="ann")
    before = events(migrated)
    attempts = [
        (
            lambda: cases.act(settings, low, "close", comment="again", disposition="duplicate"),
            "already closed",
        ),
        (lambda: cases.decide(settings, [low], True, actor="bob"), "nothing to approve"),
        (
            lambda: cases.act(settings, high, "close", comment="  ", disposition="duplicate"),
            "comment is required",
        ),
        (
            lambda: cases.act(settings, high, "close", comment="x", disposition="maybe"),
            "--disposition 'maybe'",
        ),
        (lambda: cases.act(settings, high, "escalate", comment=None), "comment is required"),
        (lambda: cases.act(settings, "f" * 32, "comment", comment="x"), "no such alert"),
        (lambda: cases.act(settings, "not-an-id", "comment", comment="x"), "expected an alert id"),
        (lambda: cases.act(settings, low, "reopen", comment=""), "comment is required"),
    ]
    for attempt, message in attempts:
        with pytest.raises(ReviewError, match=message):
            attempt()
    cases.act(settings, high, "close", comment="ok", disposition="no_further_action", actor="ann")
    with pytest.raises(ReviewError, match="four-eyes: ann asked"):
        cases.decide(settings, [high], True, actor="ann")
    with pytest.raises(ReviewError, match="comment"):
        cases.decide(settings, [high], False, actor="bob")
    assert events(migrated) == before + 1  # only the close that was allowed
    # The database refuses it too, whoever writes the UPDATE (the owner here).
    migrated.execute("SELECT set_config('surveil.actor', 'ann', false)")
    with pytest.raises(psycopg.Error, match="four-eyes"):
        migrated.execute(
            "UPDATE review_cases SET status = 'closed', disposition = 'duplicate', closed_at = now(), pending_by = NULL WHERE alert_id = %s",
            (high,),
        )


def test_a_rejected_close_goes_back_and_a_reopen_keeps_the_earlier_decision(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    low, high = low_and_high(migrated)
    cases.act(settings, high, "escalate", comment="look closer", actor="ann")
    cases.act(settings, high, "close", comment="benign", disposition="false_positive", actor="ann")
    [d] = cases.decide(settings, [high], False, comment="the fills say otherwise", actor="bob")
    assert d.to_status == "escalated"
    cases.act(settings, low, "close", comment="benign", disposition="false_positive", actor="ann")
    d2 = cases.act(settings, low, "reopen", comment="new facts", actor="bob")
    assert (d2.from_status, d2.to_status) == ("closed", "open")
    history = cases.show(settings, low).history
    assert [h["action"] for h in history] == ["opened", "close", "reopen"]
    assert (
        history[1]["disposition"] == "false_positive"
        and history[2]["detail"]["was"] == "false_positive"
    )


def test_of_two_concurrent_closes_exactly_one_wins_and_the_other_names_the_winner(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    import threading

    from surveil.errors import ReviewConflictError

    low, _ = low_and_high(migrated)
    seen = cases.show(settings, low).case["version"]
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def close(who: str) -> None:
        start.wait()
        try:
            outcomes[who] = cases.act(settings, low, "close", comment=f"{who} decides",
                                      disposition="false_positive", actor=who, expected_version=seen)  # fmt: skip
        except ReviewConflictError as exc:
            outcomes[who] = exc

    threads = [threading.Thread(target=close, args=(w,)) for w in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [w for w, o in outcomes.items() if isinstance(o, cases.Decision)]
    losers = [o for o in outcomes.values() if isinstance(o, ReviewConflictError)]
    assert len(winners) == 1 and len(losers) == 1
    assert f"was changed by {winners[0]}" in str(losers[0]) and "nothing was done" in str(losers[0])
    closes = migrated.execute("SELECT actor FROM review_events WHERE action = 'close'").fetchall()
    assert closes == [(winners[0],)]


def test_a_bulk_close_waits_for_a_second_person_and_gives_each_alert_its_event(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    ids = plant(migrated, 25, score=20, rule="excessive_otr")
    keep = plant(migrated, 1, score=20, rule="spoofing")
    where = cases.QueueFilter(start=TRADING_DAY, end=TRADING_DAY, rule="excessive_otr")
    with pytest.raises(ReviewError, match="comment"):
        cases.bulk_close(settings, where, "false_positive", "")
    with pytest.raises(ReviewError, match="never closes everything"):
        cases.bulk_close(settings, cases.QueueFilter(), "false_positive", "all")
    r = cases.bulk_close(settings, where, "false_positive", "quote refresh pattern", actor="ann")
    assert r.alerts == 25 and r.batch_id is not None
    assert (
        migrated.execute(
            "SELECT count(*) FROM review_events WHERE batch_id = %s", (r.batch_id,)
        ).fetchone()[0]
        == 25
    )
    with pytest.raises(ReviewError, match="four-eyes"):
        cases.decide_batch(settings, r.batch_id, True, actor="ann")
    done = cases.decide_batch(settings, r.batch_id, True, actor="bob")
    assert done.alerts == 25
    statuses = dict(migrated.execute("SELECT alert_id, status FROM review_cases").fetchall())
    assert all(statuses[i] == "closed" for i in ids) and statuses[keep[0]] == "open"
