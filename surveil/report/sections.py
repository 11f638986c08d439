"""One section per top alert: its explanation, the evidence table, and the data of its charts.

The evidence comes from surveil.evidence (the same an analyst sees in review): the
accounts' order events around the alert and the symbol's trades. What would make the page
heavy is thinned here, and every chart says what it left out.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg

from surveil import calendar
from surveil.evidence import Event, Evidence, alert_evidence, market_trades
from surveil.report import queries

TABLE_ROWS = 25  # evidence rows per alert: the ones the rule named first, then the nearest
CHART_EVENTS = 600  # the accounts' events drawn per chart: all the named ones, then thinned
MARKET_POINTS = 600  # the symbol's trades drawn per chart
RESTING_POINTS = 600  # steps of resting quantity per side
BUCKET_S = 300  # messages per bucket, for alerts over several symbols
LAYERING_RULES = ("spoofing", "layering")  # rules whose section shows resting quantity

SIDES = {"1": "buy", "2": "sell", "5": "sell short", "6": "sell short exempt"}
ORDER_TYPES = {"1": "market", "2": "limit", "3": "stop", "4": "stop limit"}
TIME_IN_FORCE = {
    "0": "day",
    "1": "GTC",
    "2": "OPG",
    "3": "IOC",
    "4": "FOK",
    "6": "GTD",
    "7": "close",
}


@dataclass
class Chart:
    """A chart the page's script draws: its DOM id, kind, title, notes and data."""

    id: str
    kind: str  # history | price | resting | messages
    title: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class EventRow:
    at: str  # exchange time, to the millisecond
    kind: str
    account_id: str
    symbol: str
    cl_ord_id: str
    exec_id: str | None
    side: str
    order: str  # "limit day", "market IOC", ...
    quantity: int
    price: Decimal | None
    venue: str | None
    named: bool


@dataclass
class AlertSection:
    rank: int
    alert_id: str
    rule: str
    rule_version: str
    symbol: str
    account_ids: list[str]
    score: Decimal
    explanation: str
    named_orders: int
    named_executions: int
    window: str | None = None  # "10:01:02 – 10:12:40 ET"
    events_total: int = 0
    events_named: int = 0
    events_drawn: int = 0
    rows: list[EventRow] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_left_out(self) -> int:
        return self.events_total - len(self.rows)


@lru_cache(maxsize=8)
def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), calendar.EXCHANGE_TZ)


def et_seconds(at: dt.datetime, day: dt.date) -> float:
    """Seconds since the trade date's midnight in New York, to the millisecond: the charts'
    x axis (no trading day holds a change of clocks, which happen on Sunday mornings)."""
    return round((at - _midnight(day)).total_seconds(), 3)


def et_clock(at: dt.datetime, ms: bool = True) -> str:
    local = at.astimezone(calendar.EXCHANGE_TZ)
    return local.strftime("%H:%M:%S.%f")[:12] if ms else local.strftime("%H:%M:%S")


def alert_section(conn: psycopg.Connection, rank: int, row: tuple[Any, ...]) -> AlertSection:
    alert_id, rule, version, symbol, accounts, score, explanation, orders, execs = row
    section = AlertSection(
        rank, alert_id, rule, version, symbol, list(accounts), score, explanation, orders, execs
    )
    evidence = alert_evidence(conn, alert_id)
    if evidence is None or evidence.start is None or evidence.end is None:
        section.notes.append("The orders and fills this alert names are not in the warehouse.")
        return section
    start, end = evidence.start, evidence.end
    section.window = f"{et_clock(start, False)} – {et_clock(end, False)} ET"
    section.events_total = evidence.total_events
    section.events_named = sum(e.named for e in evidence.events)
    section.rows = [event_row(e) for e in table_events(evidence.events)]
    if evidence.truncated:
        section.notes.append(
            f"The window holds {evidence.total_events:,} events of these accounts; "
            f"the first {len(evidence.events):,} are read."
        )
    prefix = f"a{rank}"
    if symbol == "*":
        section.charts.append(messages_chart(conn, evidence, f"{prefix}-messages"))
        return section
    price = price_chart(conn, evidence, section, f"{prefix}-price")
    if price is not None:
        section.charts.append(price)
    else:
        section.notes.append(f"No trade in {symbol} and no priced order in the window.")
    if rule in LAYERING_RULES:
        section.charts.append(resting_chart(conn, evidence, f"{prefix}-resting"))
    return section


def table_events(events: list[Event]) -> list[Event]:
    """At most TABLE_ROWS events, in time order: every named one first (up to the cap),
    then the others nearest in time to a named one."""
    if len(events) <= TABLE_ROWS:
        return events
    named = [e for e in events if e.named][:TABLE_ROWS]
    anchors = sorted(e.at for e in named) or [events[0].at]

    def distance(e: Event) -> dt.timedelta:
        i = bisect.bisect_left(anchors, e.at)
        near = anchors[max(0, i - 1) : i + 1]
        return min(abs(e.at - a) for a in near)

    others = sorted((e for e in events if not e.named), key=distance)
    chosen = named + others[: TABLE_ROWS - len(named)]
    return sorted(chosen, key=lambda e: (e.at, e.cl_ord_id, e.kind))


def event_row(e: Event) -> EventRow:
    order = f"{ORDER_TYPES.get(e.order_type, e.order_type)} {TIME_IN_FORCE.get(e.time_in_force, e.time_in_force)}"
    return EventRow(
        et_clock(e.at),
        e.kind,
        e.account_id,
        e.symbol,
        e.cl_ord_id,
        e.exec_id,
        SIDES.get(e.side, e.side),
        order,
        e.quantity,
        e.price,
        e.venue,
        e.named,
    )


def thin(items: list[Any], limit: int) -> list[Any]:
    """Every n-th item so that about `limit` remain, the first and last kept."""
    if len(items) <= limit:
        return items
    step = -(-len(items) // limit)
    kept = items[::step]
    return kept if kept[-1] is items[-1] else [*kept, items[-1]]


def chart_events(events: list[Event]) -> tuple[list[Event], int]:
    """The events to draw: every named one, the others thinned; and how many were left out."""
    named = [e for e in events if e.named]
    others = thin([e for e in events if not e.named], max(0, CHART_EVENTS - len(named)))
    drawn = sorted(named + others, key=lambda e: e.at) if len(events) > CHART_EVENTS else events
    return drawn, len(events) - len(drawn)


def price_chart(
    conn: psycopg.Connection, evidence: Evidence, section: AlertSection, chart_id: str
) -> Chart | None:
    assert evidence.start is not None and evidence.end is not None
    trades, total = market_trades(
        conn, evidence.trade_date, evidence.symbol, evidence.start, evidence.end,
        points=MARKET_POINTS,
    )  # fmt: skip
    day = evidence.trade_date
    times = [et_seconds(t.at, day) for t in trades]
    prices = [float(t.price) for t in trades]
    drawn, left_out = chart_events(evidence.events)
    section.events_drawn = len(drawn)
    # A replaced order's end is drawn by its successor's placing: "replaced" has no mark.
    marks: dict[str, list[list[Any]]] = {
        "placed": [],
        "cancelled": [],
        "filled": [],
        "replaced": [],
    }
    for e in drawn:
        t = et_seconds(e.at, day)
        price, market = (
            (float(e.price), 0) if e.price is not None else (_last_price(times, prices, t), 1)
        )
        if price is None:
            continue
        side = "b" if e.side == "1" else "s"
        marks[e.kind].append([t, price, e.quantity, side, e.cl_ord_id, int(e.named), market])
    if not trades and not any(marks.values()):
        return None
    notes = [f"Market: all {total:,} trades in {evidence.symbol} in the window."]
    if len(trades) < total:
        notes = [
            f"Market: {len(trades):,} of the {total:,} trades in {evidence.symbol} in the window "
            "(every n-th in time order, first and last kept)."
        ]
    if left_out:
        notes.append(
            f"Orders: {len(drawn):,} of {len(evidence.events):,} events drawn: every one the "
            f"rule named, and every n-th of the others ({left_out:,} left out)."
        )
    data = {
        "start": et_seconds(evidence.start, day),
        "end": et_seconds(evidence.end, day),
        "trades": [
            [t, p, trade.quantity] for t, p, trade in zip(times, prices, trades, strict=True)
        ],
        **marks,
    }
    whose = "account's" if len(evidence.account_ids) == 1 else "accounts'"
    title = f"{evidence.symbol}: trades and the {whose} orders"
    return Chart(chart_id, "price", title, data, notes)


def _last_price(times: list[float], prices: list[float], t: float) -> float | None:
    """A market order has no price: draw it at the last trade before it (or the first)."""
    if not times:
        return None
    i = bisect.bisect_right(times, t)
    return prices[max(0, i - 1)]


def resting_chart(conn: psycopg.Connection, evidence: Evidence, chart_id: str) -> Chart:
    assert evidence.start is not None and evidence.end is not None
    day = evidence.trade_date
    slice_s = max(0.001, (evidence.end - evidence.start).total_seconds() / RESTING_POINTS)
    params = {
        "d": day,
        "accounts": evidence.account_ids,
        "symbol": evidence.symbol,
        "close": calendar.session(day).close_utc,
        "start": evidence.start,
        "end": evidence.end,
        "points": RESTING_POINTS,
        "slice_s": slice_s,
    }
    books: dict[str, list[list[float]]] = {"buy": [], "sell": []}
    steps: dict[str, int] = {"buy": 0, "sell": 0}
    for at, book, resting, changes in conn.execute(queries.RESTING, params):
        books[book].append([et_seconds(at, day), int(resting)])
        steps[book] = max(steps[book], int(changes))
    end = et_seconds(evidence.end, day)
    notes = [
        f"{book}: {steps[book]:,} changes in the window; the highest level of each "
        f"{slice_s:,.1f}-second slice is drawn."
        for book in books
        if steps[book] > RESTING_POINTS
    ]
    for levels in books.values():
        if levels:
            levels.append([end, levels[-1][1]])
    notes.append(
        "Resting: limit orders that can rest (not IOC or FOK), from entry until filled, "
        "cancelled or the close."
    )
    data = {"start": et_seconds(evidence.start, day), "end": end, **books}
    whose = "account's" if len(evidence.account_ids) == 1 else "accounts'"
    title = f"{evidence.symbol}: the {whose} resting quantity by side"
    return Chart(chart_id, "resting", title, data, notes)


def messages_chart(conn: psycopg.Connection, evidence: Evidence, chart_id: str) -> Chart:
    params = {"d": evidence.trade_date, "accounts": evidence.account_ids, "bucket_s": BUCKET_S}
    counts: dict[int, dict[str, int]] = {}
    for bucket, kind, n in conn.execute(queries.MESSAGES_PER_BUCKET, params):
        counts.setdefault(int(bucket), {})[kind] = int(n)
    buckets = sorted(counts)
    data = {
        "buckets": [
            et_seconds(dt.datetime.fromtimestamp(b, dt.UTC), evidence.trade_date) for b in buckets
        ],
        "bucket_s": BUCKET_S,
        **{k: [counts[b].get(k, 0) for b in buckets] for k in ("placed", "cancelled", "filled")},
    }
    notes = [f"Every message of the accounts in every symbol, per {BUCKET_S // 60} minutes."]
    return Chart(chart_id, "messages", "The accounts' messages over the day", data, notes)
