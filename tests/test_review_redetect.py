"""A re-run of detection that changes an alert under review (surveil/review/suppressions.py,
FOLLOW): the case follows the alert, and a close that no longer holds goes back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest

from surveil.detect import detect_day
from surveil.errors import ReviewError
from surveil.review import APPROVAL_SCORE, cases, stor, suppressions
from surveil.settings import Settings
from tests import test_review as base
from tests.conftest import TRADING_DAY
from tests.test_review import plant

detected, migrated = base.detected, base.migrated  # the fixtures, shared

CASE = "SELECT status, score, symbol, pending_by, pending_disposition FROM review_cases WHERE alert_id = %s"
EVENTS = "SELECT action, from_status, to_status, comment, detail FROM review_events WHERE alert_id = %s ORDER BY event_id"


def redetected(conn: psycopg.Connection, alert_id: str, **changes: object) -> None:
    """What a re-run writes for the same alert id: the alert with other values, then the
    detection's hook over the day's cases."""
    with conn.transaction():
        for column, value in changes.items():
            assert column in ("score", "symbol", "explanation")
            conn.execute(f"UPDATE alerts SET {column} = %s WHERE alert_id = %s", (value, alert_id))
        suppressions.apply_to_day(conn, TRADING_DAY, ["excessive_otr", "spoofing"])


def test_a_case_takes_the_re_run_alert_s_score_for_the_queue_and_says_so(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    [alert] = plant(migrated, score=40)
    redetected(migrated, alert, score=88)
    status, score, *_ = migrated.execute(CASE, (alert,)).fetchone()
    assert (status, float(score)) == ("open", 88.0)
    [queued] = cases.queue(settings, cases.QueueFilter(min_score=80)).cases
    assert queued["alert_id"] == alert
    *_, (action, was, now, comment, detail) = migrated.execute(EVENTS, (alert,)).fetchall()
    assert (action, was, now) == ("changed", "open", "open")
    assert detail["score"] == [40, 88] and "re-detection" in comment
    # Four-eyes reads the score as it is now: one person's close waits for a second.
    d = cases.act(settings, alert, "close", comment="seen", disposition="false_positive",
                  actor="ann")  # fmt: skip
    assert d.to_status == "pending"


def test_a_one_person_close_whose_alert_now_needs_four_eyes_waits_for_a_second_person(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    [alert] = plant(migrated, score=55)
    cases.act(settings, alert, "close", comment="ordinary quoting", disposition="false_positive",
              actor="ann")  # fmt: skip
    redetected(migrated, alert, score=APPROVAL_SCORE + 12)
    status, _, _, by, disposition = migrated.execute(CASE, (alert,)).fetchone()
    assert (status, by, disposition) == ("pending", "ann", "false_positive")
    *_, (action, was, now, comment, _) = migrated.execute(EVENTS, (alert,)).fetchall()
    assert (action, was, now) == ("changed", "closed", "pending")
    assert "the close by ann now needs a second person" in comment
    with pytest.raises(ReviewError, match="four-eyes"):
        cases.decide(settings, [alert], True, actor="ann")
    cases.decide(settings, [alert], True, comment="agreed on the new evidence", actor="bob")
    assert migrated.execute(CASE, (alert,)).fetchone()[0] == "closed"


def test_a_close_approved_by_a_second_person_or_an_unchanged_alert_stays_closed(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    [approved] = plant(migrated, score=75)
    cases.act(settings, approved, "close", comment="c", disposition="no_further_action",
              actor="ann")  # fmt: skip
    cases.decide(settings, [approved], True, actor="bob")
    redetected(migrated, approved, score=95)
    assert migrated.execute(CASE, (approved,)).fetchone()[:2] == ("closed", 95)
    everything = "SELECT event_id, hash FROM review_events ORDER BY event_id"
    before = migrated.execute(everything).fetchall()
    redetected(migrated, approved)  # a re-run changing nothing writes nothing
    assert migrated.execute(everything).fetchall() == before


def test_a_suppressed_alert_no_suppression_covers_any_more_is_open_again(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    ahead = dt.date.today() + dt.timedelta(days=30)
    s = suppressions.propose(settings, "excessive_otr", account=None, symbol="AAPL",
                             reason="registered instrument", expires=ahead, actor="ann")  # fmt: skip
    suppressions.decide(settings, s.suppression_id, "approve", actor="bob")
    [alert] = plant(migrated, rule="excessive_otr", symbol="AAPL", account="MM01")
    assert migrated.execute(CASE, (alert,)).fetchone()[0] == "closed"
    redetected(migrated, alert, symbol="*")  # excessive_otr version 3: over every symbol
    status, _, symbol, *_ = migrated.execute(CASE, (alert,)).fetchone()
    assert (status, symbol) == ("open", "*")
    *_, (action, was, now, comment, _) = migrated.execute(EVENTS, (alert,)).fetchall()
    assert (action, was, now) == ("changed", "closed", "open")
    assert f"suppression {s.suppression_id} no longer covers it" in comment
    # No person has acted on it: a suppression of its account closes it at the next run.
    t = suppressions.propose(settings, "excessive_otr", account="MM01", symbol=None,
                             reason="market maker", expires=ahead, actor="ann")  # fmt: skip
    suppressions.decide(settings, t.suppression_id, "approve", actor="bob")
    redetected(migrated, alert)
    assert migrated.execute(CASE, (alert,)).fetchone()[0] == "closed"


def test_a_real_re_run_with_other_parameters_moves_the_cases_it_changed(
    detected: Settings, conn: psycopg.Connection
) -> None:
    before = dict(
        conn.execute("SELECT alert_id, score FROM review_cases WHERE rule = 'excessive_otr'")
    )
    assert before
    detect_day(detected, TRADING_DAY, rule="excessive_otr",
               overrides={"excessive_otr": {"min_ratio": 10.0}})  # fmt: skip
    after = dict(conn.execute(
        "SELECT c.alert_id, c.score FROM review_cases c JOIN alerts a USING (alert_id)"
        " WHERE c.rule = 'excessive_otr' AND a.score = c.score"))  # fmt: skip
    moved = [a for a in before if a in after and after[a] != before[a]]
    assert moved, "a lower min_ratio raises every alert's score"
    changed = conn.execute(
        "SELECT count(*) FROM review_events WHERE action = 'changed' AND alert_id = ANY(%s)",
        (moved,)).fetchone()[0]  # fmt: skip
    assert changed == len(moved)


def test_a_stor_drafted_after_the_re_run_states_the_alert_as_it_is_now(
    settings: Settings, migrated: psycopg.Connection, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    [alert] = plant(migrated, score=50)
    redetected(migrated, alert, score=90, explanation="now 40 orders per trade")
    for name, value in (("NAME", "Example Securities Ltd"), ("LEI", "5493001KJTIIGC8Y1R12"),
                        ("CONTACT", "MLRO")):  # fmt: skip
        monkeypatch.setenv(f"SURVEIL_FIRM_{name}", value)
    draft = stor.draft(Settings(), [alert], tmp_path, actor="ann")
    doc = json.loads(draft.json_path.read_text())
    [nature] = doc["section_3_nature_of_suspicion"]
    assert nature["score"] == 90 and nature["reasons"] == "now 40 orders per trade"
