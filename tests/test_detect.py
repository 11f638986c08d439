"""Detection rules on hand-built days: each pattern fires, its look-alikes do not; alerts are
deterministic and replaced per rule."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surveil import db
from surveil.cli import app
from surveil.detect import detect_day, list_alerts, resolve_params
from surveil.detect.medians import typical_quantity
from surveil.errors import ConfigError
from surveil.load import load_day
from surveil.settings import Settings
from tests.daybuilder import DAY, DayBuilder

runner = CliRunner()


def background(day: DayBuilder) -> None:
    """Ordinary flow: a few accounts trading a few symbols, one order per fill."""
    for i, account in enumerate(["A3", "A4", "A5", "M1"]):
        for j in range(6):
            side = "buy" if (i + j) % 2 else "sell"
            day.filled(account, "BG", side, 100, f"{50 + j}.00", f"15:{10 * i + j:02d}:00")


def run(settings: Settings, day: DayBuilder, rule: str, **overrides) -> list[dict]:
    day.write(Path(settings.lake_uri))
    load_day(settings, DAY)
    detect_day(settings, DAY, rule=rule, overrides={rule: overrides} if overrides else None)
    return list_alerts(settings, DAY, rule)


def test_wash_trade_a_cross_between_linked_accounts_fires(settings: Settings) -> None:
    day = DayBuilder()
    background(day)
    buy = day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    sell = day.filled("A2", "XYZ", "sell", 500, "100.00", "15:00:00")
    (alert,) = run(settings, day, "wash_trade")
    assert alert["symbol"] == "XYZ"
    assert alert["account_ids"] == ["A1", "A2"]
    assert alert["cl_ord_ids"] == [buy, sell]
    assert alert["exec_ids"] == day.exec_ids(buy) + day.exec_ids(sell)
    assert 60 <= alert["score"] <= 100
    assert "B1" in alert["explanation"] and "linked accounts A1 and A2" in alert["explanation"]


def test_wash_trade_in_unequal_fills_is_one_wash(settings: Settings) -> None:
    """A resting 3,000-share buy crossed by two sells of 1,000 and 2,000 of the same owner:
    the fills add up, which version 1 (equal quantities per pair) missed."""
    day = DayBuilder()
    buy = day.order(
        "A1", "XYZ", "buy", 3000, "15:00:00", "100.00",
        [(1000, "100.00", "15:00:05.010"), (2000, "100.00", "15:00:05.030")],
    )  # fmt: skip
    first = day.order("A1", "XYZ", "sell", 1000, "15:00:05.010", "100.00",
                      [(1000, "100.00", "15:00:05.010")])  # fmt: skip
    second = day.order("A1", "XYZ", "sell", 2000, "15:00:05.030", "100.00",
                       [(2000, "100.00", "15:00:05.030")])  # fmt: skip
    (alert,) = run(settings, day, "wash_trade")
    assert alert["cl_ord_ids"] == sorted([buy, first, second])
    assert "bought 3000 and sold 3000" in alert["explanation"]


def test_wash_trade_a_cross_straddling_the_clock_s_half_second_is_one_alert(
    settings: Settings,
) -> None:
    """Prints at .450 and .520 s: version 2's fixed 0.5-s intervals cut this cross in two
    and raised two alerts for one wash."""
    day = DayBuilder()
    buy = day.order(
        "A1", "XYZ", "buy", 3000, "15:00:00", "100.00",
        [(1000, "100.00", "15:00:05.450"), (2000, "100.00", "15:00:05.520")],
    )  # fmt: skip
    first = day.order("A1", "XYZ", "sell", 1000, "15:00:05.450", "100.00",
                      [(1000, "100.00", "15:00:05.450")])  # fmt: skip
    second = day.order("A2", "XYZ", "sell", 2000, "15:00:05.520", "100.00",
                       [(2000, "100.00", "15:00:05.520")])  # fmt: skip
    (alert,) = run(settings, day, "wash_trade")
    assert alert["cl_ord_ids"] == sorted([buy, first, second])
    assert alert["account_ids"] == ["A1", "A2"]
    assert "bought 3000 and sold 3000" in alert["explanation"]


def set_venue(day: DayBuilder, orders: tuple[str, ...], venue: str) -> None:
    for execution in day.executions:
        if execution["cl_ord_id"] in orders:
            execution["venue"] = venue


@pytest.mark.parametrize("sell_venue", ["XNYS", "ARCX"])
def test_wash_trade_is_a_cross_on_one_venue(settings: Settings, sell_venue: str) -> None:
    """M1 bought 300 on NYSE and sold 300 at the same price 120 ms later: on NYSE that can be
    its own orders crossing (a wash); on Arca it was hit by another counterparty (a market
    maker in a locked market, flat again), which version 3 called a wash too."""
    day = DayBuilder()
    buy = day.filled("M1", "XYZ", "buy", 300, "100.00", "15:00:00.000")
    sell = day.filled("M1", "XYZ", "sell", 300, "100.00", "15:00:00.120")
    set_venue(day, (sell,), sell_venue)
    alerts = run(settings, day, "wash_trade")
    if sell_venue == "XNYS":
        (alert,) = alerts
        assert alert["cl_ord_ids"] == sorted([buy, sell])
        assert "at 100.0000 on XNYS within 0.120 s" in alert["explanation"]
    else:
        assert alerts == []


def test_riskless_principal_facilitation_is_not_a_wash(settings: Settings) -> None:
    """The broker fills client C1's 1,000-share buy riskless principal: its facilitation
    account P1 buys 1,000 on NYSE and at once sells them to C1 off-exchange (XOFF), at the
    same price. Both legs changed owner; P1 is flat by design."""
    day = DayBuilder()
    day.filled("P1", "XYZ", "buy", 1000, "100.00", "15:00:00.000")
    to_client = day.filled("P1", "XYZ", "sell", 1000, "100.00", "15:00:00.040")
    client = day.filled("C1", "XYZ", "buy", 1000, "100.00", "15:00:00.040")
    set_venue(day, (to_client, client), "XOFF")
    assert run(settings, day, "wash_trade") == []


def test_wash_trade_look_alikes_do_not_fire(settings: Settings) -> None:
    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A3", "XYZ", "sell", 500, "100.00", "15:00:00")  # another owner
    day.filled("A1", "XYZ", "buy", 300, "101.00", "16:00:00")
    day.filled("A2", "XYZ", "sell", 300, "101.00", "16:02:00")  # too slow
    day.filled("A1", "XYZ", "buy", 200, "102.00", "17:00:00")
    day.filled("A2", "XYZ", "sell", 200, "102.50", "17:00:00")  # prices apart
    day.filled("A1", "XYZ", "buy", 400, "103.00", "18:00:00")
    day.filled("A1", "XYZ", "sell", 100, "103.00", "18:00:00")  # quantities differ
    assert run(settings, day, "wash_trade") == []


def test_a_market_maker_round_trip_at_bid_and_offer_is_not_a_wash(settings: Settings) -> None:
    """Buying at the bid and selling at the offer, seconds apart, in equal size: what a
    market maker does all day. Version 1 (60 s, a tick apart, equal size) fired on it."""
    day = DayBuilder()
    for k in range(5):
        day.filled("M1", "XYZ", "buy", 200, "100.00", f"15:0{k}:00")
        day.filled("M1", "XYZ", "sell", 200, "100.01", f"15:0{k}:20")
    assert run(settings, day, "wash_trade") == []
    # Version 1 paired each sell with the buy before it (20 s) and the one after (40 s).
    assert run_v1_wash(settings) == 9


def test_an_omnibus_account_is_never_paired_with_itself_or_merged(settings: Settings) -> None:
    """No known owner: the buyer and the seller behind an omnibus account may be different
    clients, so even its same-instant opposite fills are no wash."""
    day = DayBuilder()
    day.filled("O1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("O1", "XYZ", "sell", 500, "100.00", "15:00:00")
    assert run(settings, day, "wash_trade") == []


def run_v1_wash(settings: Settings) -> int:
    """How many pairs version 1's definition finds on the loaded day: opposite fills of one
    owner, equal quantity, prices within a tick, at most 60 s apart."""
    from surveil import db

    with db.connect(settings) as conn:
        row = conn.execute(V1_WASH_PAIRS, (DAY,)).fetchone()
    return int(row[0]) if row else 0


V1_WASH_PAIRS = """
SELECT count(*) FROM executions b
JOIN accounts ab ON ab.trade_date = b.trade_date AND ab.account_id = b.account_id
JOIN executions s ON s.trade_date = b.trade_date AND s.symbol = b.symbol AND s.side <> '1'
JOIN accounts a2 ON a2.trade_date = s.trade_date AND a2.account_id = s.account_id
WHERE b.trade_date = %s AND b.side = '1' AND ab.beneficial_owner_id = a2.beneficial_owner_id
  AND b.fill_qty = s.fill_qty AND abs(b.fill_price - s.fill_price) <= 0.01
  AND abs(extract(epoch FROM s.transact_time - b.transact_time)) <= 60
"""


def test_spoofing_layering_pattern_fires(settings: Settings) -> None:
    day = DayBuilder()
    background(day)
    for k in range(5):
        day.filled("A3", "SPF", "buy", 100, "20.00", f"15:0{k}:00")
    layers = [
        day.order("A3", "SPF", "sell", 5000, f"15:10:0{k}", "20.10", cancel_at="15:10:12")
        for k in range(3)
    ]
    genuine = day.order("A3", "SPF", "buy", 100, "15:10:05", "20.02", [(100, "20.02", "15:10:06")])
    (alert,) = run(settings, day, "spoofing")
    assert alert["account_ids"] == ["A3"]
    assert alert["cl_ord_ids"] == [*layers, genuine]
    assert alert["exec_ids"] == day.exec_ids(genuine)
    assert "layered 3 sell orders" in alert["explanation"]


def test_spoofing_the_venue_ending_day_orders_at_the_close_is_not_the_trader_s_cancel(
    settings: Settings,
) -> None:
    """Layers resting since the afternoon, ended by the venue at the close (reported as
    cancelled) a few seconds after a fill just before it: version 3 alerted."""
    day = DayBuilder()
    background(day)
    for k in range(5):
        day.filled("A3", "SPF", "buy", 100, "20.00", f"15:0{k}:00")
    for k in range(3):
        day.order("A3", "SPF", "sell", 5000, f"18:30:0{k}", "20.10", cancel_at="21:00:00.300")
    day.order("A3", "SPF", "buy", 100, "20:59:40", "20.02", [(100, "20.02", "20:59:45")])
    assert run(settings, day, "spoofing") == []


def test_spoofing_needs_a_pattern_and_a_quick_cancel(settings: Settings) -> None:
    day = DayBuilder()
    for k in range(5):
        day.filled("A3", "SPF", "buy", 100, "20.00", f"15:0{k}:00")
    # One large order only: not a pattern.
    day.order("A3", "SPF", "sell", 5000, "15:10:00", "20.10", cancel_at="15:10:12")
    day.order("A3", "SPF", "buy", 100, "15:10:05", "20.02", [(100, "20.02", "15:10:06")])
    # Two large orders cancelled minutes after the fill: not spoofing.
    day.order("A3", "SPF", "sell", 5000, "16:10:00", "20.10", cancel_at="16:15:00")
    day.order("A3", "SPF", "sell", 5000, "16:10:01", "20.10", cancel_at="16:15:00")
    day.order("A3", "SPF", "buy", 100, "16:10:05", "20.02", [(100, "20.02", "16:10:06")])
    assert run(settings, day, "spoofing") == []


def test_marking_the_close_fires_for_a_dominant_push(settings: Settings) -> None:
    day = DayBuilder()
    day.filled("A4", "MTC", "buy", 100, "50.00", "20:40:00")  # last trade before the window
    pushes = [
        day.filled("A1", "MTC", "buy", 1000, price, at)
        for price, at in [("50.10", "20:52:00"), ("50.25", "20:55:00"), ("50.40", "20:58:00")]
    ]
    day.filled("A4", "MTC", "sell", 100, "50.40", "20:58:30")
    (alert,) = run(settings, day, "marking_the_close")
    assert alert["account_ids"] == ["A1"]
    assert alert["cl_ord_ids"] == pushes
    assert "net buying" in alert["explanation"]
    # One trade before the window: no typical move to compare, the fixed 0.5% decides.
    assert "too few trades earlier in the day for a typical move" in alert["explanation"]


def test_marking_the_close_one_order_sweeping_three_levels_is_one_order_its_way(
    settings: Settings,
) -> None:
    """Version 3 counted its three fills (a millisecond apart) as three executions."""
    day = DayBuilder()
    day.filled("A4", "MTC", "buy", 100, "50.00", "20:40:00")
    day.order("A1", "MTC", "buy", 3000, "20:55:00", "50.40",
              [(1000, "50.10", "20:55:00.001"), (1000, "50.25", "20:55:00.002"),
               (1000, "50.40", "20:55:00.003")])  # fmt: skip
    day.filled("A4", "MTC", "sell", 100, "50.40", "20:58:30")
    assert run(settings, day, "marking_the_close") == []
    day.filled("A1", "MTC", "buy", 200, "50.45", "20:58:40")  # a second order its way
    (alert,) = run(settings, day, "marking_the_close")
    assert "(2 orders its way)" in alert["explanation"]


def test_marking_the_close_ignores_a_small_share_or_a_move_against(settings: Settings) -> None:
    day = DayBuilder()
    day.filled("A4", "MTC", "buy", 100, "50.00", "20:40:00")
    day.filled("A1", "MTC", "buy", 100, "50.10", "20:52:00")
    day.filled("A1", "MTC", "buy", 100, "50.40", "20:55:00")
    # A1 pushed the price up but is a small share; A3 dominates but sold into a rising close.
    day.filled("A3", "MTC", "sell", 5000, "50.40", "20:56:00")
    day.filled("A3", "MTC", "sell", 100, "50.40", "20:56:30")
    day.filled("A4", "DWN", "buy", 100, "30.00", "20:40:00")
    day.filled("A5", "DWN", "buy", 1000, "29.90", "20:52:00")  # buys while the price falls
    day.filled("A5", "DWN", "buy", 1000, "29.50", "20:55:00")
    assert run(settings, day, "marking_the_close") == []


def test_marking_the_close_fires_through_the_closing_auction(settings: Settings) -> None:
    """Athena's pattern: a large at-the-close order and late buys the same way in the last
    seconds, and the print 1.2% above the continuous price; a seller in the same print is
    not alerted."""
    day = DayBuilder()
    day.filled("A4", "AUC", "buy", 100, "50.00", "20:52:00")
    day.filled("A4", "AUC", "sell", 100, "50.00", "20:54:00")
    moc = day.at_close("A1", "AUC", "buy", 5000, "50.60", "20:30:00", "21:00:00.300")
    late = [day.filled("A1", "AUC", "buy", 100, p, t)
            for p, t in [("50.02", "20:59:40"), ("50.05", "20:59:55")]]  # fmt: skip
    day.at_close("A3", "AUC", "sell", 1000, "50.60", "20:40:00", "21:00:00.300")
    (alert,) = run(settings, day, "marking_the_close")
    assert alert["account_ids"] == ["A1"]
    assert alert["cl_ord_ids"] == sorted([moc, *late])
    # version 4 counts orders, not fills ("2 fills its way" before)
    assert "(2 orders its way) and 83.3% of its closing auction, net buying" in alert["explanation"]
    assert "(50.0000 to 50.6000)" in alert["explanation"]


def test_marking_the_close_needs_continuous_fills_beside_an_at_the_close_order(
    settings: Settings,
) -> None:
    """An index fund's market-on-close sell takes whatever the close is: with no continuous
    fill, or one, its way, its large share of a print another account pushed down is not
    marking (version 2 alerted it, counting the print's fills as executions)."""
    day = DayBuilder()
    day.filled("A4", "IDX", "buy", 100, "30.00", "20:51:00")
    pushes = [day.filled("A1", "IDX", "sell", 300, p, t)
              for p, t in [("29.90", "20:58:00"), ("29.80", "20:59:30")]]  # fmt: skip
    moc = day.at_close("A1", "IDX", "sell", 3000, "29.40", "20:40:00", "21:00:00.200")
    for account in ("A3", "A5"):  # index funds, each a fifth of the print in two fills
        day.order(account, "IDX", "sell", 2000, "20:30:00", None,
                  [(1000, "29.40", "21:00:00.200"), (1000, "29.40", "21:00:00.200")],
                  time_in_force="7")  # fmt: skip
    day.filled("A5", "IDX", "sell", 100, "29.95", "20:55:00")  # one continuous fill its way
    (alert,) = run(settings, day, "marking_the_close")
    assert alert["account_ids"] == ["A1"]
    assert alert["cl_ord_ids"] == sorted([*pushes, moc])


def _history(day: DayBuilder, symbol: str, prices: tuple[str, str]) -> None:
    """A symbol trading every ten minutes from 14:35 to 20:45 UTC, between two prices."""
    for k in range(38):
        at = f"{14 + (35 + 10 * k) // 60:02d}:{(35 + 10 * k) % 60:02d}:00"
        day.filled("A4" if k % 2 else "A5", symbol, "buy" if k % 2 else "sell", 100,
                   prices[k % 2], at)  # fmt: skip


def test_marking_the_close_needs_a_move_beyond_the_symbol_s_own(settings: Settings) -> None:
    """The same push, 10.00 to 9.93 (0.70%), in a symbol that moves 0.5% every ten minutes
    (not alerted) and in one that moves 0.1% (alerted, 7 times its typical move)."""
    day = DayBuilder()
    _history(day, "NOI", ("10.00", "10.05"))
    _history(day, "CLM", ("10.00", "10.01"))
    pushed = {}
    for symbol in ("NOI", "CLM"):
        day.filled("A3", symbol, "buy", 100, "10.00", "20:51:00")
        pushed[symbol] = [day.filled("A1", symbol, "sell", 500, p, t)
                          for p, t in [("9.97", "20:56:00"), ("9.93", "20:59:00")]]  # fmt: skip
    (alert,) = run(settings, day, "marking_the_close")
    assert alert["symbol"] == "CLM" and alert["cl_ord_ids"] == pushed["CLM"]
    assert "moved 0.70% its way into the close (10.0000 to 9.9300)" in alert["explanation"]
    assert "7.0 times its typical 10-minute move earlier that day (0.100%)" in alert["explanation"]
    looser = run(settings, day, "marking_the_close", min_move_multiple=1.0)
    assert sorted(a["symbol"] for a in looser) == ["CLM", "NOI"]  # NOI's typical: 0.50%


def test_marking_the_close_ignores_large_benign_auction_flow(settings: Settings) -> None:
    """An index fund with nine tenths of the print and late buying, the print at the
    continuous price: large close flow is not marking. And a continuous push behind a
    large print is still found: counted with the print's 20,000 shares, A1's 3,000 would
    be 13% of the window's volume."""
    day = DayBuilder()
    day.filled("A4", "IDX", "buy", 100, "50.00", "20:52:00")
    day.filled("A3", "IDX", "buy", 200, "50.01", "20:53:00")
    day.at_close("A3", "IDX", "buy", 18000, "50.02", "19:45:00", "21:00:00")
    day.at_close("A5", "IDX", "sell", 2000, "50.02", "20:45:00", "21:00:00")
    day.filled("A4", "PSH", "buy", 100, "40.00", "20:51:00")
    pushes = [
        day.filled("A1", "PSH", "buy", 1000, price, at)
        for price, at in [("40.10", "20:53:00"), ("40.25", "20:56:00"), ("40.40", "20:59:00")]
    ]
    day.at_close("A3", "PSH", "sell", 20000, "40.40", "20:00:00", "21:00:00.500")
    (alert,) = run(settings, day, "marking_the_close")
    assert alert["account_ids"] == ["A1"] and alert["cl_ord_ids"] == pushes
    assert "(40.0000 to 40.4000)" in alert["explanation"]


def test_excessive_otr_fires_against_peers(settings: Settings) -> None:
    day = DayBuilder()
    for account in ("A3", "A4", "A5", "M1"):
        for k in range(20):
            day.filled(account, "OTR", "buy", 100, "10.00", f"15:{k:02d}:00")
    stuffed = [
        day.order("A1", "OTR", "sell", 100, f"16:{k:02d}:00", "10.50", cancel_at=f"16:{k:02d}:01")
        for k in range(40)
    ]
    day.filled("A1", "OTR", "sell", 100, "10.00", "17:00:00")
    (alert,) = run(settings, day, "excessive_otr")
    assert alert["account_ids"] == ["A1"]
    assert set(stuffed) <= set(alert["cl_ord_ids"])
    assert "41 orders in OTR for 1 trades" in alert["explanation"]


def _otr_peers(day: DayBuilder, symbols: tuple[str, ...] = ("OTR",)) -> None:
    """Clients A3-A5 (and the market maker M1) trading every order they send."""
    for account in ("A3", "A4", "A5", "M1"):
        for symbol in symbols:
            for k in range(5):
                day.filled(account, symbol, "buy", 100, "10.00", f"15:{k:02d}:00")


def test_excessive_otr_spread_thinly_over_many_symbols_fires_once_for_the_account(
    settings: Settings,
) -> None:
    """Four cancelled orders in each of eight symbols: no symbol reaches min_orders, the
    account does (version 1 saw nothing)."""
    symbols = tuple(f"S{i}" for i in range(8))
    day = DayBuilder()
    _otr_peers(day, symbols)
    stuffed = [
        day.order("A1", s, "sell", 100, f"16:{k:02d}:{i:02d}", "10.50",
                  cancel_at=f"16:{k:02d}:{i + 1:02d}")
        for i, s in enumerate(symbols) for k in range(4)
    ]  # fmt: skip
    stuffed.append(day.order("A1", "S0", "sell", 100, "16:30:00", "10.50", cancel_at="16:30:01"))
    day.filled("A1", "S3", "sell", 100, "10.00", "17:00:00")
    (alert,) = run(settings, day, "excessive_otr")
    assert alert["account_ids"] == ["A1"]
    assert alert["symbol"] == "*"  # every symbol (version 2 stored the busiest, S0)
    assert set(stuffed) <= set(alert["cl_ord_ids"])
    assert "34 orders across 8 symbols (most in S0) for 1 trades" in alert["explanation"]
    assert "client peers" in alert["explanation"]


def test_excessive_otr_account_wide_alert_is_not_closed_by_one_symbol_s_suppression(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Version 2 stored the account-level alert under its busiest symbol: a suppression of
    that symbol alone (a registered instrument) closed the alert over all eight, and a STOR
    drafted from it named that one instrument."""
    from surveil.review import stor, suppressions

    symbols = tuple(f"S{i}" for i in range(8))
    day = DayBuilder()
    _otr_peers(day, symbols)
    for i, s in enumerate(symbols):
        for k in range(5 if s == "S0" else 4):
            day.order("A1", s, "sell", 100, f"16:{k:02d}:{i:02d}", "10.50",
                      cancel_at=f"16:{k:02d}:{i + 1:02d}")  # fmt: skip
    day.filled("A1", "S3", "sell", 100, "10.00", "17:00:00")
    (alert,) = run(settings, day, "excessive_otr")
    ahead = dt.date.today() + dt.timedelta(days=30)

    def suppress(**scope: str) -> None:
        s = suppressions.propose(settings, "excessive_otr", reason="registered", expires=ahead,
                                 actor="ann", **scope)  # fmt: skip
        suppressions.decide(settings, s.suppression_id, "approve", actor="bob")
        detect_day(settings, DAY, rule="excessive_otr")

    def status() -> str:
        with db.connect(settings) as conn:
            row = conn.execute(
                "SELECT status || '/' || coalesce(disposition, '') FROM review_cases"
                " WHERE alert_id = %s", (alert["alert_id"],)).fetchone()  # fmt: skip
        return str(row[0])

    suppress(account=None, symbol="S0")
    assert status() == "open/"
    suppress(account="A1", symbol=None)
    assert status() == "closed/suppressed"
    for name, value in (("NAME", "Example Securities Ltd"), ("LEI", "5493001KJTIIGC8Y1R12"),
                        ("CONTACT", "MLRO")):  # fmt: skip
        monkeypatch.setenv(f"SURVEIL_FIRM_{name}", value)
    draft = stor.draft(Settings(), [alert["alert_id"]], tmp_path / "stor", actor="ann")
    [part] = json.loads(draft.json_path.read_text())["section_2_transactions_and_orders"]
    assert part["instrument"] == ", ".join(symbols)


def test_excessive_otr_spread_that_trades_or_stays_small_does_not_fire(
    settings: Settings,
) -> None:
    symbols = tuple(f"S{i}" for i in range(8))
    day = DayBuilder()
    _otr_peers(day, symbols)
    for i, s in enumerate(symbols):  # A1: 32 orders, 8 of them trade (4 per trade)
        for k in range(3):
            day.order("A1", s, "sell", 100, f"16:{k:02d}:{i:02d}", "10.50",
                      cancel_at=f"16:{k:02d}:{i + 1:02d}")  # fmt: skip
        day.filled("A1", s, "sell", 100, "10.00", f"17:{i:02d}:00")
    for i, s in enumerate(symbols[:6]):  # A2: 18 orders, under min_orders
        for k in range(3):
            day.order("A2", s, "buy", 100, f"18:{k:02d}:{i:02d}", "9.50",
                      cancel_at=f"18:{k:02d}:{i + 1:02d}")  # fmt: skip
    assert run(settings, day, "excessive_otr") == []


def test_excessive_otr_a_suspect_stuffing_many_symbols_cannot_raise_its_own_baseline(
    settings: Settings,
) -> None:
    """Thirty stuffed symbols are most of the day's account-symbol pairs: with the suspect
    among its peers (version 1) the peer median is its own ratio and nothing fires."""
    day = DayBuilder()
    _otr_peers(day)
    for i in range(30):
        for k in range(25):
            day.order("A1", f"Q{i:02d}", "sell", 100, f"16:{i:02d}:{k:02d}", "10.50",
                      cancel_at=f"16:{i:02d}:{k + 1:02d}")  # fmt: skip
        day.filled("A1", f"Q{i:02d}", "sell", 100, "10.00", f"17:{i:02d}:00")
    alerts = run(settings, day, "excessive_otr")
    assert sorted(a["symbol"] for a in alerts) == [f"Q{i:02d}" for i in range(30)]
    assert all("the median of client peers, 1.0" in a["explanation"] for a in alerts)


def test_excessive_otr_a_market_maker_is_measured_against_market_makers(
    settings: Settings,
) -> None:
    """M1 quotes at 25 orders per trade; the only other market-maker pairs trade one in
    eight, so 25 is not five times its peers' median while the same ratio from a client is."""
    day = DayBuilder()
    _otr_peers(day)
    for i in range(4):  # M1's ordinary quoting: 8 orders per trade in four symbols
        for k in range(8):
            day.order("M1", f"MM{i}", "buy", 100, f"15:{i:02d}:{k:02d}", "9.90",
                      cancel_at=f"15:{i:02d}:{k + 1:02d}")  # fmt: skip
        day.filled("M1", f"MM{i}", "sell", 100, "10.10", f"15:{i:02d}:30")
    for account in ("M1", "A1"):
        for k in range(25):
            day.order(account, "HOT", "buy", 100, f"16:{k:02d}:00", "9.90",
                      cancel_at=f"16:{k:02d}:01")  # fmt: skip
        day.filled(account, "HOT", "sell", 100, "10.10", "17:00:00")
    (alert,) = run(settings, day, "excessive_otr")
    assert alert["account_ids"] == ["A1"] and alert["symbol"] == "HOT"


def test_spoofing_limit_on_close_orders_are_not_layers(settings: Settings) -> None:
    """A limit-on-close order (TimeInForce 7) waits for the closing auction, not in the
    book: large cancelled LOC buys beside a small filled sell are no layering."""
    day = DayBuilder()
    background(day)
    for k in range(3):
        day.order("A1", "SPF", "buy", 5000, f"19:40:0{k}", "99.00", cancel_at="19:40:30",
                  time_in_force="7")  # fmt: skip
    day.order("A1", "SPF", "sell", 300, "19:40:10", "100.00", [(300, "100.00", "19:40:15")])
    assert run(settings, day, "spoofing") == []


def test_front_running_ahead_of_a_large_client_order_fires(settings: Settings) -> None:
    day = DayBuilder()
    for k in range(10):
        day.filled("A3", "FRN", "buy", 100, "40.00", f"15:0{k}:00")
    ahead = day.filled("P1", "FRN", "buy", 300, "40.00", "15:20:00")
    client = day.order(
        "C1", "FRN", "buy", 20000, "15:22:00", "40.20", [(20000, "40.15", "15:23:00")]
    )
    unwind = day.filled("P1", "FRN", "sell", 300, "40.15", "15:30:00")
    (alert,) = run(settings, day, "front_running")
    assert alert["account_ids"] == ["P1", "C1"]
    assert alert["cl_ord_ids"] == [ahead, client, unwind]
    assert alert["exec_ids"] == day.exec_ids(ahead) + day.exec_ids(unwind)


def _desk_day(ahead_qty: int, against_at: str | None = None) -> tuple[DayBuilder, str]:
    """P1 is a desk: 24 fills of 100-200 shares in another symbol both ways; it buys
    `ahead_qty` FRN before client C1's 20,000-share buy and sells after it."""
    day = DayBuilder()
    for k in range(10):
        day.filled("A3", "FRN", "buy", 100, "40.00", f"15:0{k}:00")
    for k in range(24):
        side = "buy" if k % 2 else "sell"
        day.filled("P1", "DSK", side, 100 + 100 * (k % 2), "20.00", f"16:{k:02d}:00")
    if against_at:
        day.filled("P1", "FRN", "sell", 100, "40.00", against_at)
    ahead = day.filled("P1", "FRN", "buy", ahead_qty, "40.00", "15:20:00")
    day.order("C1", "FRN", "buy", 20000, "15:22:00", "40.20", [(20000, "40.15", "15:23:00")])
    day.filled("P1", "FRN", "sell", ahead_qty, "40.15", "15:30:00")
    return day, ahead


def test_front_running_a_desk_s_ordinary_fill_ahead_is_not_front_running(
    settings: Settings,
) -> None:
    """Version 3: 200 shares ahead is the desk's usual size (median fill 150 elsewhere);
    version 2 fired on it."""
    day, _ = _desk_day(200)
    assert run(settings, day, "front_running") == []


def test_front_running_a_desk_that_also_sold_in_the_lead_window_is_not_front_running(
    settings: Settings,
) -> None:
    day, _ = _desk_day(2000, against_at="15:19:00")
    assert run(settings, day, "front_running") == []


def test_front_running_a_desk_taking_a_position_far_above_its_usual_size_fires(
    settings: Settings,
) -> None:
    day, ahead = _desk_day(2000)
    (alert,) = run(settings, day, "front_running")
    assert ahead in alert["cl_ord_ids"] and alert["account_ids"] == ["P1", "C1"]
    assert "13.3x its usual fill of 150 in other symbols" in alert["explanation"]


def _held_order_day(trader: str, ahead_at: str, first_fill: int = 2000) -> tuple[DayBuilder, str]:
    """Client C1's 20,000-share buy arrives at 15:22 and fills from 15:22:30 (`first_fill`
    shares, then pieces of 2,000 every four minutes); `trader` buys 2,000 at `ahead_at`
    and sells them at 16:20."""
    day = DayBuilder()
    for k in range(10):
        day.filled("A3", "FRN", "buy", 100, "40.00", f"15:0{k}:00")
    fills = [(first_fill, "40.05", "15:22:30")]
    for k in range(1, 20):
        if sum(q for q, _, _ in fills) < 20000:
            fills.append((2000, "40.05", f"{15 + (22 + 4 * k) // 60}:{(22 + 4 * k) % 60:02d}:30"))
    day.order("C1", "FRN", "buy", 20000, "15:22:00", "40.30", fills)
    ahead = day.filled(trader, "FRN", "buy", 2000, "40.00", ahead_at)
    day.filled(trader, "FRN", "sell", 2000, "40.25", "16:20:00")
    return day, ahead


def test_front_running_trading_ahead_of_a_held_order_after_it_arrived_fires(
    settings: Settings,
) -> None:
    """Version 4: FINRA 5320 is trading ahead of a customer order the firm holds, so the
    desk buying a minute after the order came in, while it is worked, is the case."""
    day, ahead = _held_order_day("P1", "15:23:00")
    (alert,) = run(settings, day, "front_running")
    assert ahead in alert["cl_ord_ids"] and alert["account_ids"] == ["P1", "C1"]
    assert (
        "Proprietary account P1 bought 2000 FRN from 60 s after client order"
        in (alert["explanation"])
    )


def test_front_running_an_account_trading_far_more_the_other_way_is_not_unwinding(
    settings: Settings,
) -> None:
    """Version 4: selling three times what it bought ahead is the desk's own business,
    not a position coming back (on the independent drop copy, institutions' and desks'
    later programs the other way were most of version 4's first false alerts)."""
    day, _ = _held_order_day("P1", "15:23:00")
    day.filled("P1", "FRN", "sell", 4000, "40.25", "16:30:00")
    assert run(settings, day, "front_running") == []


def test_front_running_trading_once_half_the_order_has_filled_is_not_ahead_of_it(
    settings: Settings,
) -> None:
    """12,000 of the client's 20,000 traded at 15:22:30: a desk buying at 15:23 is not ahead
    of it (a hedge, or its own view); nor is one buying at 15:40, long after it came in."""
    day, _ = _held_order_day("P1", "15:23:00", first_fill=12000)
    assert run(settings, day, "front_running") == []
    day, _ = _held_order_day("P1", "15:40:00")
    assert run(settings, day, "front_running") == []


def test_front_running_another_firm_s_account_is_not_the_firm_trading_ahead(
    settings: Settings,
) -> None:
    day, _ = _held_order_day("A3", "15:23:00")
    assert run(settings, day, "front_running") == []


def test_front_running_needs_most_of_the_position_back_any_time_that_day(
    settings: Settings,
) -> None:
    """Version 4: the unwind may come over the rest of the day (48 minutes after, here),
    but at least `min_unwind_share` (3/4) of the position must come back."""
    for unwound, alerts in ((300, 1), (200, 0)):
        day = DayBuilder()
        for k in range(10):
            day.filled("A3", "FRN", "buy", 100, "40.00", f"15:0{k}:00")
        day.filled("P1", "FRN", "buy", 300, "40.00", "15:20:00")
        day.order("C1", "FRN", "buy", 20000, "15:22:00", "40.20", [(20000, "40.15", "15:23:00")])
        day.filled("P1", "FRN", "sell", unwound, "40.15", "16:10:00")
        assert len(run(settings, day, "front_running")) == alerts, unwound


def test_rerunning_detect_gives_the_same_alerts_and_no_duplicates(settings: Settings, conn) -> None:
    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A2", "XYZ", "sell", 500, "100.00", "15:00:00")
    first = run(settings, day, "wash_trade")
    detect_day(settings, DAY)
    detect_day(settings, DAY)
    assert [a["alert_id"] for a in list_alerts(settings, DAY, "wash_trade")] == [
        a["alert_id"] for a in first
    ]
    assert conn.execute("SELECT count(*), count(DISTINCT alert_id) FROM alerts").fetchone() == (
        1,
        1,
    )


def test_changing_a_parameter_replaces_that_rules_alerts(settings: Settings) -> None:
    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A2", "XYZ", "sell", 500, "100.00", "15:00:20")
    assert run(settings, day, "wash_trade") == []  # 20 s apart: no cross at the default
    result = runner.invoke(
        app,
        [
            "detect",
            "--date",
            str(DAY),
            "--rule",
            "wash_trade",
            "--param",
            "wash_trade.window_s=10",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["alerts"] == 0
    assert list_alerts(settings, DAY, "wash_trade") == []
    rules = Path("rules.toml")
    rules.write_text("[wash_trade]\nwindow_s = 30\n")
    detect_day(settings.model_copy(update={"rules_file": rules}), DAY, rule="wash_trade")
    (alert,) = list_alerts(settings, DAY, "wash_trade")
    assert alert["params"]["window_s"] == 30.0


def test_alerts_command_prints_json_and_csv(settings: Settings) -> None:
    day = DayBuilder()
    day.filled("A1", "XYZ", "buy", 500, "100.00", "15:00:00")
    day.filled("A2", "XYZ", "sell", 500, "100.00", "15:00:00.300")
    run(settings, day, "wash_trade")
    as_json = json.loads(runner.invoke(app, ["alerts", "--date", str(DAY), "--json"]).stdout)
    assert as_json["count"] == 1 and as_json["alerts"][0]["rule"] == "wash_trade"
    rows = list(
        csv.DictReader(
            io.StringIO(runner.invoke(app, ["alerts", "--date", str(DAY), "--csv"]).stdout)
        )
    )
    assert len(rows) == 1 and json.loads(rows[0]["account_ids"]) == ["A1", "A2"]
    assert rows[0]["first_event_at"].startswith(f"{DAY}T15:00:00")
    assert rows[0]["last_event_at"].startswith(f"{DAY}T15:00:00.3")
    people = runner.invoke(app, ["alerts", "--date", str(DAY)], terminal_width=200)
    alert_id = as_json["alerts"][0]["alert_id"]
    assert "wash_trade" in people.stderr and "1 alerts" in people.stderr
    assert alert_id[:12] in people.stderr and " 15:00:00 " in people.stderr


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"nope": {}}, "unknown rule 'nope'"),
        ({"wash_trade": {"window": 1}}, "unknown parameter wash_trade.window"),
        ({"wash_trade": {"window_s": "soon"}}, "expected a number"),
        ({"front_running": {"same_firm": "maybe"}}, "expected true or false"),
        # a divisor of the rule's score: 0 failed the detection (DivisionByZero, exit 70)
        ({"excessive_otr": {"min_ratio": 0}}, "excessive_otr.min_ratio: must be greater than 0"),
        ({"wash_trade": {"window_s": "0"}}, "wash_trade.window_s: must be greater than 0"),
    ],
)
def test_bad_rule_parameters_are_configuration_errors(layer: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_params(overrides=layer)


def test_detect_on_a_day_not_loaded_exits_3(settings: Settings) -> None:
    result = runner.invoke(app, ["detect", "--date", str(DAY)])
    assert result.exit_code == 3
    assert "not loaded" in result.stderr


def test_detection_docs_name_every_rule_and_default() -> None:
    from surveil.detect import RULES

    docs = (Path(__file__).resolve().parents[1] / "docs" / "detection.md").read_text()
    for name, module in RULES.items():
        assert f"## `{name}` (version {module.VERSION})" in docs
        for key, value in module.PARAMS.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            assert f"| `{key}` | `{shown}` |" in docs, f"{name}.{key}"


def test_rule_defaults_are_the_parameters_the_generator_plants_for() -> None:
    """The generator's scenarios are laid out against these parameters; drifting apart would
    make evaluate measure the wrong thing."""
    from surveil.detect import RULES
    from surveil.generate.scenarios import RULE_PARAMETERS

    for name, module in RULES.items():
        for key, value in RULE_PARAMETERS[name].items():
            assert module.PARAMS[key] == value, f"{name}.{key}"


def test_a_rule_s_planner_settings_hold_for_its_query_only(conn) -> None:
    """A rule may carry PLANNER_SETTINGS (none of today's five needs one)."""
    from surveil.detect import _local_settings

    setting = "SELECT current_setting('enable_mergejoin')"
    with conn.transaction():
        with _local_settings(conn, {"enable_mergejoin": "off"}):
            assert conn.execute(setting).fetchone()[0] == "off"
        assert conn.execute(setting).fetchone()[0] == "on"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "rules file not found"),
        ("folder", "cannot read the rules file"),
        (b"\xff\xfe[wash_trade]", "not UTF-8"),
        (b"[wash_trade\nwindow_s = 1", "not valid TOML"),
        (b"[wash_trade]\nwindow_s = 'soon'", "expected a number"),
        (b"[no_such_rule]\nx = 1", "unknown rule"),
    ],
)
def test_a_bad_rules_file_exits_2_naming_it(
    tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    rules = tmp_path / "rules.toml"
    if content == "folder":
        rules.mkdir()
    elif isinstance(content, bytes):
        rules.write_bytes(content)
    result = runner.invoke(app, ["detect", "--date", "2026-11-25", "--rules", str(rules)])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and str(rules) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["symbol", "account_id"])
def test_the_median_from_counts_is_the_median_percentile_cont_gives(conn, key: str) -> None:
    """Groups of one to 60 orders, odd and even counts, repeated and spread quantities; the
    replaced links of replace chains (OrdStatus 5) are not orders of their own."""
    rng = random.Random(7)
    rows = [
        (f"K{group}", rng.choice([1, 100, 100, 250, 999, rng.randint(1, 10**6)]),
         rng.choice("0122245"))
        for group in range(300)
        for _ in range(rng.randint(1, 60))
    ]  # fmt: skip
    with conn.transaction():
        # A temporary `orders` comes first in the search path: the CTEs read it.
        conn.execute(
            f"CREATE TEMP TABLE orders ({key} text, quantity integer, trade_date date,"
            " ord_status char(1)) ON COMMIT DROP"
        )
        columns = f"{key}, quantity, trade_date, ord_status"
        with conn.cursor().copy(f"COPY orders ({columns}) FROM STDIN") as copy:
            for group, quantity, status in rows:
                copy.write_row((group, quantity, DAY, status))
        counted = conn.execute(
            typical_quantity(key) + f" SELECT {key}, median_qty FROM typical ORDER BY 1",
            {"trade_date": DAY},
        ).fetchall()
        expected = conn.execute(
            f"SELECT {key}, percentile_cont(0.5) WITHIN GROUP (ORDER BY quantity) FROM orders "
            "WHERE ord_status <> '5' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert len(counted) == len({g for g, _, status in rows if status != "5"}) > 290
    assert counted == expected
