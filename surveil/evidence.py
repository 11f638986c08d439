"""What an alert rests on: the accounts' orders and fills around it, and the market's trades.

An analyst opening an alert (`surveil review show`) and the daily report both show the same
evidence: every order event of the alert's accounts in the alert's symbol (placed, filled,
cancelled), in time order, over the alert's window widened by a margin, with the events the
rule named marked. The window runs from the earliest to the latest event of the orders and
fills the alert names. An alert over several symbols (symbol `*`) shows the accounts'
events in every symbol. Reads only; one query per call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import psycopg

EventKind = Literal["placed", "filled", "cancelled", "replaced"]

DEFAULT_MARGIN_S = 300.0  # seconds of context on either side of what the rule named
MAX_EVENTS = 2_000  # per alert; the rest is counted, not listed

ALERT = """
SELECT trade_date, rule, symbol, account_ids, cl_ord_ids, exec_ids
FROM alerts WHERE alert_id = %s
"""

# The first and last moment of what the alert names: its orders' entry and cancel times
# and its fills' times.
WINDOW = """
SELECT min(t), max(t) FROM (
    SELECT o.transact_time AS t FROM orders o
    WHERE o.trade_date = %(d)s AND o.cl_ord_id = ANY(%(orders)s)
    UNION ALL
    SELECT o.cancel_time FROM orders o
    WHERE o.trade_date = %(d)s AND o.cl_ord_id = ANY(%(orders)s) AND o.cancel_time IS NOT NULL
    UNION ALL
    SELECT e.transact_time FROM executions e
    WHERE e.trade_date = %(d)s AND e.exec_id = ANY(%(execs)s)
) named
"""

# Every event of the accounts' orders in the symbol (all symbols for `*`) in the window.
EVENTS = """
WITH own AS (
    SELECT * FROM orders o
    WHERE o.trade_date = %(d)s AND o.account_id = ANY(%(accounts)s)
      AND (%(symbol)s = '*' OR o.symbol = %(symbol)s)
), events AS (
    SELECT o.transact_time AS at, 'placed' AS kind, o.account_id, o.symbol, o.cl_ord_id,
           NULL::text AS exec_id, o.side, o.order_type, o.time_in_force, o.quantity,
           o.limit_price AS price, NULL::text AS venue, o.ord_status
    FROM own o
    UNION ALL
    SELECT o.cancel_time, CASE o.ord_status WHEN '5' THEN 'replaced' ELSE 'cancelled' END,
           o.account_id, o.symbol, o.cl_ord_id, NULL, o.side,
           o.order_type, o.time_in_force, o.quantity - o.cum_qty, o.limit_price, NULL,
           o.ord_status
    FROM own o WHERE o.cancel_time IS NOT NULL
    UNION ALL
    SELECT e.transact_time, 'filled', e.account_id, e.symbol, e.cl_ord_id, e.exec_id, e.side,
           o.order_type, o.time_in_force, e.fill_qty, e.fill_price, e.venue, o.ord_status
    FROM executions e JOIN own o ON o.cl_ord_id = e.cl_ord_id
    WHERE e.trade_date = %(d)s
)
SELECT at, kind, account_id, symbol, cl_ord_id, exec_id, side, order_type, time_in_force,
       quantity, price, venue, ord_status,
       cl_ord_id = ANY(%(orders)s) OR coalesce(exec_id = ANY(%(execs)s), false) AS named,
       count(*) OVER () AS total
FROM events
WHERE at BETWEEN %(start)s AND %(end)s
ORDER BY at, cl_ord_id, kind DESC, exec_id
LIMIT %(limit)s
"""

# The symbol's trades (every account's fills) in a window, thinned to at most `points`
# by keeping every n-th trade in time order plus the window's first and last.
MARKET_TRADES = """
WITH trades AS (
    SELECT transact_time AS at, fill_price AS price, fill_qty AS quantity, account_id,
           row_number() OVER (ORDER BY transact_time, exec_id) AS n,
           count(*) OVER () AS total
    FROM executions
    WHERE trade_date = %(d)s AND symbol = %(symbol)s
      AND transact_time BETWEEN %(start)s AND %(end)s
)
SELECT at, price, quantity, account_id, total FROM trades
WHERE total <= %(points)s OR n = 1 OR n = total
   OR n %% greatest(1, ceil(total::float8 / %(points)s)::bigint) = 0
ORDER BY at, n
"""


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: EventKind
    account_id: str
    symbol: str
    cl_ord_id: str
    exec_id: str | None
    side: str  # FIX 54
    order_type: str  # FIX 40
    time_in_force: str  # FIX 59
    quantity: int  # ordered (placed), filled (filled), left open (cancelled, replaced)
    price: Decimal | None  # limit price, or the fill's price
    venue: str | None
    ord_status: str  # the order's final FIX 39
    named: bool  # the rule named this order or fill


@dataclass
class Evidence:
    alert_id: str
    trade_date: dt.date
    rule: str
    symbol: str
    account_ids: list[str]
    start: dt.datetime | None
    end: dt.datetime | None
    events: list[Event] = field(default_factory=list)
    total_events: int = 0  # events in the window; more than listed when truncated

    @property
    def truncated(self) -> bool:
        return self.total_events > len(self.events)


@dataclass(frozen=True)
class Trade:
    at: dt.datetime
    price: Decimal
    quantity: int
    account_id: str


def alert_window(
    conn: psycopg.Connection, day: dt.date, cl_ord_ids: list[str], exec_ids: list[str]
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last moment of the orders and fills an alert names."""
    row = conn.execute(WINDOW, {"d": day, "orders": cl_ord_ids, "execs": exec_ids}).fetchone()
    return (row[0], row[1]) if row else (None, None)


def alert_evidence(
    conn: psycopg.Connection,
    alert_id: str,
    *,
    margin_s: float = DEFAULT_MARGIN_S,
    limit: int = MAX_EVENTS,
) -> Evidence | None:
    """The alert's evidence, or None when no alert has this id (any longer)."""
    row = conn.execute(ALERT, (alert_id,)).fetchone()
    if row is None:
        return None
    day, rule, symbol, accounts, orders, execs = row
    start, end = alert_window(conn, day, orders, execs)
    evidence = Evidence(alert_id, day, rule, symbol, list(accounts), start, end)
    if start is None or end is None:
        return evidence
    margin = dt.timedelta(seconds=margin_s)
    evidence.start, evidence.end = start - margin, end + margin
    params = {
        "d": day,
        "accounts": list(accounts),
        "symbol": symbol,
        "orders": list(orders),
        "execs": list(execs),
        "start": evidence.start,
        "end": evidence.end,
        "limit": limit,
    }
    for *fields, total in conn.execute(EVENTS, params):
        evidence.events.append(Event(*fields))
        evidence.total_events = int(total)
    return evidence


def market_trades(
    conn: psycopg.Connection,
    day: dt.date,
    symbol: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    points: int = 2_000,
) -> tuple[list[Trade], int]:
    """The symbol's trades between two moments, at most about `points` of them (evenly
    thinned, first and last kept), and how many there were in all."""
    params = {"d": day, "symbol": symbol, "start": start, "end": end, "points": points}
    trades, total = [], 0
    for at, price, quantity, account, count in conn.execute(MARKET_TRADES, params):
        trades.append(Trade(at, price, quantity, account))
        total = int(count)
    return trades, total
