"""An alert's evidence: the accounts' order events around it, and the market's trades."""

from __future__ import annotations

from pathlib import Path

import psycopg

from surveil.evidence import alert_evidence, market_trades
from surveil.load import load_day
from surveil.settings import Settings
from tests.daybuilder import DAY, DayBuilder, utc

INSERT_ALERT = """
INSERT INTO alerts (alert_id, trade_date, rule, rule_version, params, symbol, account_ids,
                    cl_ord_ids, exec_ids, score, explanation)
VALUES (%s, %s, 'spoofing', 'test', '{}', %s, %s, %s, %s, 80, 'test alert')
"""


def spoofing_day() -> tuple[DayBuilder, dict[str, str]]:
    day = DayBuilder()
    ids = {
        "early": day.filled("A3", "XYZ", "buy", 100, "99.00", "14:40:00"),  # outside the window
        "layer1": day.order("A3", "XYZ", "sell", 2000, "15:00:00", "100.05", cancel_at="15:00:12"),
        "layer2": day.order("A3", "XYZ", "sell", 2000, "15:00:01", "100.06", cancel_at="15:00:12"),
        "genuine": day.filled("A3", "XYZ", "buy", 100, "100.00", "15:00:10"),
        "other_symbol": day.filled("A3", "ABC", "buy", 100, "20.00", "15:00:05"),
        "other_account": day.filled("A4", "XYZ", "sell", 100, "100.00", "15:00:10"),
        "later": day.filled("A3", "XYZ", "sell", 100, "100.10", "15:03:00"),  # in the margin
    }
    return day, ids


def load_with_alert(
    settings: Settings, conn: psycopg.Connection, day: DayBuilder, symbol: str, orders: list[str]
) -> None:
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)
    execs = [e for o in orders for e in day.exec_ids(o)]
    conn.execute(INSERT_ALERT, ("a" * 32, DAY, symbol, ["A3"], orders, execs))


def test_evidence_is_the_accounts_events_in_the_window_in_time_order(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day, ids = spoofing_day()
    named = [ids["layer1"], ids["layer2"], ids["genuine"]]
    load_with_alert(settings, conn, day, "XYZ", named)

    evidence = alert_evidence(conn, "a" * 32, margin_s=240)
    assert evidence is not None
    assert evidence.start == utc("14:56:00") and evidence.end == utc("15:04:12")
    kinds = [(e.cl_ord_id, e.kind, e.named) for e in evidence.events]
    assert kinds == [
        (ids["layer1"], "placed", True),
        (ids["layer2"], "placed", True),
        (ids["genuine"], "placed", True),
        (ids["genuine"], "filled", True),
        (ids["layer1"], "cancelled", True),
        (ids["layer2"], "cancelled", True),
        (ids["later"], "placed", False),
        (ids["later"], "filled", False),
    ]
    times = [e.at for e in evidence.events]
    assert times == sorted(times)
    cancel = evidence.events[4]
    assert cancel.quantity == 2000 and str(cancel.price) == "100.0500"
    assert not evidence.truncated


def test_evidence_is_capped_and_says_how_much_was_left_out(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day, ids = spoofing_day()
    load_with_alert(settings, conn, day, "XYZ", [ids["genuine"]])
    evidence = alert_evidence(conn, "a" * 32, margin_s=3600, limit=3)
    assert evidence is not None
    assert len(evidence.events) == 3 and evidence.total_events == 10 and evidence.truncated


def test_an_alert_over_every_symbol_shows_every_symbol(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day, ids = spoofing_day()
    load_with_alert(settings, conn, day, "*", [ids["genuine"]])
    evidence = alert_evidence(conn, "a" * 32, margin_s=60)
    assert evidence is not None
    assert {e.symbol for e in evidence.events} == {"XYZ", "ABC"}


def test_an_unknown_alert_has_no_evidence(settings: Settings, conn: psycopg.Connection) -> None:
    day, _ = spoofing_day()
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)
    assert alert_evidence(conn, "0" * 32) is None


def test_market_trades_are_thinned_to_the_points_asked_keeping_first_and_last(
    settings: Settings, conn: psycopg.Connection
) -> None:
    day = DayBuilder()
    for i in range(30):
        day.filled("A4" if i % 2 else "A5", "XYZ", "buy", 100, f"{100 + i}.00", f"15:00:{i:02d}")
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)
    everything, total = market_trades(conn, DAY, "XYZ", utc("14:59:00"), utc("15:01:00"))
    assert total == 30 and [t.price for t in everything] == sorted(t.price for t in everything)
    thinned, total = market_trades(conn, DAY, "XYZ", utc("14:59:00"), utc("15:01:00"), points=10)
    assert total == 30 and 10 <= len(thinned) <= 12
    assert thinned[0].at == utc("15:00:00") and thinned[-1].at == utc("15:00:29")
