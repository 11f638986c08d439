"""Suppressions, STOR drafts, metrics and retention (surveil/review)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from surveil.cli import app
from surveil.errors import ReviewError
from surveil.review import cases, metrics, stor, suppressions
from surveil.settings import Settings
from tests import test_review as base
from tests.conftest import TRADING_DAY
from tests.test_review import plant

runner = CliRunner()
detected, migrated = base.detected, base.migrated  # the fixtures, shared
NEXT_MONTH = dt.date.today() + dt.timedelta(days=30)


def approved(settings: Settings, **scope: str) -> int:
    s = suppressions.propose(settings, "excessive_otr", reason="registered market maker",
                             expires=NEXT_MONTH, actor="ann", **scope)  # fmt: skip
    with pytest.raises(ReviewError, match="four-eyes"):
        suppressions.decide(settings, s.suppression_id, "approve", actor="ann")
    assert (
        suppressions.decide(settings, s.suppression_id, "approve", actor="bob").status == "active"
    )
    return s.suppression_id


def test_a_suppression_in_force_closes_new_alerts_with_an_event_and_stops_when_expired(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    conn = migrated
    pending = suppressions.propose(settings, "excessive_otr", account="MM01", symbol=None,
                                   reason="market maker", expires=NEXT_MONTH, actor="ann")  # fmt: skip
    [before_approval] = plant(conn, rule="excessive_otr", account="MM01", tag="a")
    sid = approved(settings, account="MM01", symbol=None)
    [covered] = plant(conn, rule="excessive_otr", account="MM01", tag="b")
    [other_account] = plant(conn, rule="excessive_otr", account="ACC9", tag="c")
    [other_rule] = plant(conn, rule="spoofing", account="MM01", tag="d")
    status = dict(
        conn.execute(
            "SELECT alert_id, status || '/' || coalesce(disposition, '') FROM review_cases"
        )
    )
    assert status[covered] == "closed/suppressed"
    # Detection runs again over the day: the untouched open case is now covered too.
    with conn.transaction():
        assert suppressions.apply_to_day(conn, TRADING_DAY, ["excessive_otr"]) == 2
    status = dict(
        conn.execute(
            "SELECT alert_id, status || '/' || coalesce(disposition, '') FROM review_cases"
        )
    )
    assert status[before_approval] == "closed/suppressed"
    assert status[other_account] == status[other_rule] == "open/"
    event = conn.execute(
        "SELECT actor, suppression_id, comment FROM review_events WHERE alert_id = %s AND action = 'suppressed'",
        (covered,),
    ).fetchone()
    assert event == ("surveil", sid, f"suppression {sid}: registered market maker")
    assert pending.status == "pending"
    # Expired (its expiry moved into the past by hand): it no longer applies.
    conn.execute(
        "UPDATE suppressions SET expires_on = current_date - 1 WHERE suppression_id = %s", (sid,)
    )
    [after_expiry] = plant(conn, rule="excessive_otr", account="MM01", tag="e")
    assert (
        conn.execute(
            "SELECT status FROM review_cases WHERE alert_id = %s", (after_expiry,)
        ).fetchone()[0]
        == "open"
    )


def test_a_suppression_never_overrides_a_persons_work_nor_hides_a_two_account_alert(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    [worked] = plant(migrated, rule="excessive_otr", account="MM01", tag="w")
    cases.act(settings, worked, "comment", comment="looking", actor="ann")
    approved(settings, account="MM01", symbol=None)
    with migrated.transaction():
        migrated.execute(
            "INSERT INTO alerts SELECT md5('pair'), %s, 'excessive_otr', '1', '{}', 'AAPL',"
            " ARRAY['MM01', 'ACC2'], ARRAY['X'], ARRAY[]::text[], 40, 'pair', now()",
            (TRADING_DAY,),
        )
        suppressions.apply_to_day(migrated, TRADING_DAY, ["excessive_otr"])
    rows = dict(migrated.execute("SELECT alert_id, status FROM review_cases"))
    assert (
        rows[worked] == "open"
        and rows[migrated.execute("SELECT md5('pair')").fetchone()[0]] == "open"
    )


def test_detect_says_how_many_alerts_a_suppression_closed(
    detected: Settings, conn: psycopg.Connection
) -> None:
    account, symbol = conn.execute(
        "SELECT account_ids[1], symbol FROM alerts WHERE rule = 'excessive_otr' LIMIT 1"
    ).fetchone()
    approved(detected, account=account, symbol=symbol)
    result = runner.invoke(app, ["detect", "--date", str(TRADING_DAY), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["suppressed"] == 1
    result = runner.invoke(app, ["detect", "--date", str(TRADING_DAY)])
    assert "1 of the alerts closed as suppressed" in result.stderr


def test_run_day_says_how_many_alerts_a_suppression_closed(
    settings: Settings, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = str(TRADING_DAY)
    first = runner.invoke(app, ["run-day", "--date", day, "--no-report", "--json"])
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["suppressed"] == 0
    account, symbol = conn.execute(
        "SELECT account_ids[1], symbol FROM alerts WHERE rule = 'excessive_otr' LIMIT 1"
    ).fetchone()
    approved(settings, account=account, symbol=symbol)
    # Other rules' parameters: detection is stale and run-day runs it again, suppression on.
    rules = tmp_path / "rules.toml"
    rules.write_text("[wash_trade]\nwindow_s = 30\n")
    monkeypatch.setenv("SURVEIL_RULES_FILE", str(rules))
    again = runner.invoke(app, ["run-day", "--date", day, "--no-report", "--json"])
    assert again.exit_code == 0, again.stderr
    payload = json.loads(again.stdout)
    detect = next(s for s in payload["steps"] if s["step"] == "detect")
    assert detect["status"] == "detected" and payload["suppressed"] == 1
    # Nothing new to detect: the count is the day's, as stored.
    human = runner.invoke(app, ["run-day", "--date", day, "--no-report"])
    assert human.exit_code == 0, human.stderr
    assert "already run on this load" in human.stderr
    assert "1 of the alerts closed as suppressed" in human.stderr
    closed = conn.execute(
        "SELECT count(*) FROM review_cases WHERE disposition = 'suppressed'"
    ).fetchone()[0]
    assert closed == 1


@pytest.mark.parametrize(
    ("scope", "expires", "message"),
    [
        ({}, NEXT_MONTH, "needs a scope"),
        ({"account": "MM01"}, dt.date.today() - dt.timedelta(days=1), "in the past"),
        ({"account": "MM01"}, None, "must have an expiry"),
        ({"symbol": "AAPL"}, dt.date.today() + dt.timedelta(days=400), "at most a year"),
    ],
)
def test_a_suppression_without_scope_or_with_a_bad_expiry_is_refused(
    settings: Settings, migrated: psycopg.Connection, scope: dict[str, str],
    expires: dt.date | None, message: str,
) -> None:  # fmt: skip
    with pytest.raises(ReviewError, match=message):
        suppressions.propose(settings, "spoofing", reason="r", expires=expires,
                             account=scope.get("account"), symbol=scope.get("symbol"))  # fmt: skip
    assert migrated.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0


def firm(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SURVEIL_FIRM_NAME", "Example Securities Ltd")
    monkeypatch.setenv("SURVEIL_FIRM_LEI", "5493001KJTIIGC8Y1R12")
    monkeypatch.setenv("SURVEIL_FIRM_CONTACT", "MLRO, +44 20 0000 0000, mlro@example.com")
    return Settings()


def test_a_stor_draft_has_the_annex_sections_the_orders_and_the_comments_and_is_approved_by_another(
    detected: Settings, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = firm(monkeypatch)
    [spoof] = [
        c["alert_id"] for c in cases.queue(settings, cases.QueueFilter(rule="spoofing")).cases
    ]
    cases.act(
        settings, spoof, "comment", comment="layers cancelled right after the fill", actor="ann"
    )
    d = stor.draft(settings, [spoof[:12]], tmp_path / "stor", actor="ann")
    doc = json.loads(d.json_path.read_text())
    assert doc["section_1_reporting_entity"]["lei"] == "5493001KJTIIGC8Y1R12"
    [orders] = doc["section_2_transactions_and_orders"]
    named = conn.execute(
        "SELECT cardinality(cl_ord_ids) FROM alerts WHERE alert_id = %s", (spoof,)
    ).fetchone()[0]
    placed = [o for o in orders["orders_and_transactions"] if o["event"] == "placed"]
    assert len(placed) == named and all(
        o["side"] in stor.SIDES.values() and o["quantity"] > 0 for o in placed
    )
    times = [o["time_utc"] for o in orders["orders_and_transactions"]]
    assert times == sorted(times)
    [nature] = doc["section_3_nature_of_suspicion"]
    assert nature["nature"].startswith("Spoofing and layering")
    assert any("layers cancelled right after the fill" in c for c in nature["analyst_comments"])
    assert "NOT SUBMITTED" in d.markdown_path.read_text().upper()
    assert "## Section 4" in d.markdown_path.read_text()
    import hashlib

    stored = conn.execute(
        "SELECT sha256, status FROM stor_drafts WHERE draft_id = %s", (d.draft_id,)
    ).fetchone()
    assert stored == (hashlib.sha256(d.json_path.read_bytes()).hexdigest(), "draft")
    with pytest.raises(ReviewError, match="four-eyes"):
        stor.decide(settings, d.draft_id, True, None, actor="ann")
    stor.decide(settings, d.draft_id, True, "agreed", actor="bob")
    actions = [h["action"] for h in cases.show(settings, spoof).history]
    assert actions[-2:] == ["stor_draft", "approve_stor"]


def test_a_stor_draft_without_the_reporting_entity_writes_nothing(
    detected: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    alert = conn.execute("SELECT alert_id FROM alerts LIMIT 1").fetchone()[0]
    result = runner.invoke(app, ["review", "stor", alert, "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "SURVEIL_FIRM_NAME, SURVEIL_FIRM_LEI, SURVEIL_FIRM_CONTACT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
    assert conn.execute("SELECT count(*) FROM stor_drafts").fetchone()[0] == 0


def test_metrics_count_by_status_disposition_and_rule_with_the_false_positive_rate(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    fps = plant(migrated, 3, score=30, rule="excessive_otr", tag="f")
    [real] = plant(migrated, 1, score=30, rule="excessive_otr", tag="r")
    plant(migrated, 2, score=30, rule="spoofing", tag="s")
    for alert in fps:
        cases.act(
            settings, alert, "close", comment="noise", disposition="false_positive", actor="ann"
        )
    cases.act(settings, real, "close", comment="warned", disposition="informal_action", actor="ann")
    m = metrics.metrics(settings, TRADING_DAY, TRADING_DAY)
    assert m.by_status == {"closed": 4, "open": 2}
    assert m.by_disposition == {"false_positive": 3, "informal_action": 1}
    otr = next(r for r in m.by_rule if r["rule"] == "excessive_otr")
    assert otr["false_positive_rate"] == 0.75 and otr["decided"] == 4
    assert next(r for r in m.by_rule if r["rule"] == "spoofing")["false_positive_rate"] is None
    assert m.oldest_open_age_s is not None and m.oldest_open_age_s >= 0
    assert m.median_time_to_close_s is not None and m.median_time_to_close_s >= 0
    empty = metrics.metrics(
        settings, TRADING_DAY + dt.timedelta(days=1), TRADING_DAY + dt.timedelta(days=1)
    )
    assert empty.by_status == {} and empty.oldest_open_age_s is None


def test_nothing_younger_than_five_years_after_closure_can_be_deleted(
    settings: Settings, migrated: psycopg.Connection
) -> None:
    [old, young] = plant(migrated, 2, score=30, tag="keep")
    for alert in (old, young):
        cases.act(settings, alert, "close", comment="done", disposition="duplicate", actor="ann")
    for statement in ("DELETE FROM review_cases", "TRUNCATE review_cases", "TRUNCATE review_events",
                      "DELETE FROM review_events"):  # fmt: skip
        with pytest.raises(psycopg.Error, match="five years|append-only"):
            migrated.execute(statement)
    migrated.execute(
        "UPDATE review_cases SET closed_at = now() - interval '5 years 1 day' WHERE alert_id = %s",
        (old,),
    )
    migrated.execute("DELETE FROM review_cases WHERE alert_id = %s", (old,))  # older: allowed
    assert [r[0] for r in migrated.execute("SELECT alert_id FROM review_cases")] == [young]
