"""The closing auction: market-on-close and limit-on-close orders, one print per symbol.

About a tenth of a US stock's daily volume trades in its listing exchange's closing auction:
10.52% of NYSE-listed volume, and all US closes 9.44% of notional, in Q2 2024 (NYSE data
insights, "closing auction price discovery opportunities reach new highs"); nearly 10% in
NYSE-listed S&P 500 stocks in 2022. Index funds and institutions benchmarked to the close
send it as at-the-close orders during the day, and much of it is large and late: benign
close flow that a marking-the-close rule must not mistake for a push.

Here `AUCTION_ORDER_SHARE` of the background orders are at-the-close orders, TimeInForce
(59) = 7 with OrdType (40) 1 (market-on-close, MOC) or 2 (limit-on-close, LOC), the form
FIX 4.3 onwards uses (FIX 4.2's OrdType 5 and B are read the same way by import-fix):

- from client and proprietary accounts with a known beneficial owner (the institutional and
  index flow; no market makers, no omnibus accounts), each trading its owner's direction of
  the day in the symbol, as the rest of the background does;
- entered over the afternoon, most in the last hour, up to the listing exchange's cut-off:
  15:50 for MOC and LOC on NYSE, 15:55 for MOC and 15:58 for LOC on Nasdaq (NYSE and
  Nasdaq rules as summarised in docs/generator.md; early-close days keep the same minutes
  before their 13:00 close);
- round lots, larger than continuous-session orders (`LOTS`: 1–100 lots, P(k) ∝ k^-1.5,
  about 770 shares on average; sized so the auction is about 10% of the day's volume);
- a few cancelled before the cut-off (`CANCEL_SHARE`), never after it;
- filled in one closing print per symbol, at one price and one time: the close (16:00:00,
  13:00:00 on early-close days) plus up to `PRINT_DELAY_US` as the exchange publishes it, on
  the listing exchange, at the symbol's mid at the close on the tick. A LOC fills when its
  limit is at or through that price, else it expires unfilled at the close.

The split between MOC and LOC (`MOC_SHARE`), the entry times and the sizes are our choice:
no public figure was found for them (docs/generator.md).

Planted marking-the-close scenarios may move a symbol's print away from its continuous
price (`moves`, see scenarios.py) and leave the symbol's close to themselves: in such a
symbol the auction orders respect the scenario's size cap and one-way constraint whenever
they were entered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from surveil.generate.book import (
    BUY,
    CANCELLED,
    EXPIRED,
    FILLED,
    NO_TIME,
    SELL,
    SHORT,
    Fills,
    Orders,
)
from surveil.generate.market import US_PER_S, VENUES, Market, Sampler, Universe
from surveil.generate.reference import CLIENT, PROPRIETARY

if TYPE_CHECKING:
    from surveil.generate.flow import Constraints, DayContext

AUCTION_ORDER_SHARE = 0.028  # of background orders
MOC_SHARE = 0.6  # of at-the-close orders; the rest are LOC
CANCEL_SHARE = 0.04
SHORT_SHARE = 0.12  # of sells
MINUTE_US = 60 * US_PER_S
NYSE_CUTOFF_US = 10 * MINUTE_US  # before the close, MOC and LOC
NASDAQ_MOC_CUTOFF_US = 5 * MINUTE_US
NASDAQ_LOC_CUTOFF_US = 2 * MINUTE_US
ENTRY_MEAN_US = 45 * MINUTE_US  # mean time from entry to the cut-off (exponential)
PRINT_DELAY_US = 900_000  # the print comes at the close or up to 0.9 s after it
LOTS = np.arange(1, 101)
_DRAW_LOTS = Sampler(LOTS**-1.5)
# A LOC's limit, from the mid at entry, in the order's direction: mostly at or through
# where the close prints, sometimes behind it (then unfilled).
LOC_THROUGH = (-0.003, 0.008)


def print_times(ctx: DayContext) -> np.ndarray:
    """Per symbol, when its closing print comes (epoch µs): the same for every order."""
    rng = np.random.default_rng([ctx.seed, ctx.ordinal, 0xC105])
    return ctx.close_us + rng.integers(0, PRINT_DELAY_US, len(ctx.universe))


def print_prices(market: Market, moves: dict[int, float]) -> np.ndarray:
    """Per symbol, its closing price (price units, on the tick): the mid at the close,
    moved by a planted scenario's `moves` (log move) where there is one."""
    mid = market.mid[:, -1].copy()
    for symbol, move in moves.items():
        mid[symbol] *= np.exp(move)
    tick = market.universe.tick
    return np.maximum(np.round(mid / tick), 1).astype(np.int64) * tick


def listing_venues(universe: Universe) -> np.ndarray:
    """Per symbol, its listing exchange as an index into VENUES: where its close prints."""
    venue_of = {mic: i for i, mic in enumerate(VENUES)}
    return np.array([venue_of[m] for m in universe.listing], dtype=np.int64)


def cutoffs(ctx: DayContext, symbol: np.ndarray, moc: np.ndarray) -> np.ndarray:
    """The latest entry time of an at-the-close order by its listing exchange's rules."""
    nasdaq = ctx.universe.listing[symbol] == "XNAS"
    before = np.where(
        nasdaq, np.where(moc, NASDAQ_MOC_CUTOFF_US, NASDAQ_LOC_CUTOFF_US), NYSE_CUTOFF_US
    )
    return ctx.close_us - before


def closing_auction(
    ctx: DayContext,
    market: Market,
    constraints: Constraints,
    n: int,
    moves: dict[int, float],
) -> tuple[Orders, Fills]:
    """`n` at-the-close orders with their fills in the closing prints (refs -1)."""
    rng = np.random.default_rng([ctx.seed, ctx.ordinal, 0xA0C])
    pool = _accounts(ctx, constraints)
    if n == 0 or not len(pool):
        return _empty()
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.8
    account = pool[Sampler(weights).draw(rng, n)]
    symbol = ctx.draw_symbol.draw(rng, n)
    _respect_closes(ctx, constraints, rng, account, symbol)
    buy = ctx.buys[ctx.owner[account], symbol]
    side = np.where(buy, BUY, np.where(rng.random(n) < SHORT_SHARE, SHORT, SELL))
    moc = rng.random(n) < MOC_SHARE
    cutoff = cutoffs(ctx, symbol, moc)
    entry = cutoff - 1 - rng.exponential(ENTRY_MEAN_US, n).astype(np.int64)
    t = np.maximum(entry, ctx.open_us + 5 * MINUTE_US)
    quantity = (1 + _DRAW_LOTS.draw(rng, n)) * 100
    for sym, start, end, cap in constraints.caps:
        capped = (symbol == sym) & ((end > ctx.close_us) | ((t >= start) & (t < end)))
        quantity[capped] = np.minimum(quantity[capped], cap)

    limit = np.where(moc, 0, _loc_limits(ctx, market, rng, symbol, buy, t))
    price = print_prices(market, moves)[symbol]
    reaches = moc | np.where(buy, limit >= price, limit <= price)
    cancelled = rng.random(n) < CANCEL_SHARE
    filled = reaches & ~cancelled
    status = np.where(filled, FILLED, np.where(cancelled, CANCELLED, EXPIRED))
    cancel_us = np.where(cancelled, t + (rng.random(n) * (cutoff - t)).astype(np.int64), NO_TIME)
    orders = Orders(
        account=account,
        symbol=symbol,
        side=side,
        market=moc,
        ioc=np.zeros(n, dtype=bool),
        quantity=quantity,
        limit=limit,
        time_us=t,
        status=status,
        cum=np.where(filled, quantity, 0),
        cancel_us=cancel_us,
        ref=np.full(n, -1, dtype=np.int64),
        at_close=np.ones(n, dtype=bool),
    )
    which = np.flatnonzero(filled)
    fills = Fills(
        order=which,
        quantity=quantity[which],
        price=price[which],
        venue=listing_venues(ctx.universe)[symbol[which]],
        time_us=print_times(ctx)[symbol[which]],
        ref=np.full(len(which), -1, dtype=np.int64),
    )
    return orders, fills


def _accounts(ctx: DayContext, constraints: Constraints) -> np.ndarray:
    """Who sends at-the-close orders: clients and proprietary desks with a known owner, in
    reference order (busiest first), leaving out the owners of planted scenarios."""
    reference = ctx.reference
    claimed = constraints.excluded.any(axis=1)
    return np.flatnonzero(
        np.isin(reference.account_types, (CLIENT, PROPRIETARY))
        & ~reference.omnibus
        & ~claimed[ctx.owner]
    )


def _loc_limits(
    ctx: DayContext,
    market: Market,
    rng: np.random.Generator,
    symbol: np.ndarray,
    buy: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """Limit-on-close prices: `LOC_THROUGH` from the mid at entry, on the tick."""
    tick = ctx.universe.tick[symbol]
    through = rng.uniform(*LOC_THROUGH, len(symbol))
    raw = market.mid_at(symbol, t) * np.where(buy, 1 + through, 1 - through) / tick
    ticks = np.maximum(np.where(buy, np.floor(raw), np.ceil(raw)), 1)
    return (ticks * tick).astype(np.int64)


def _respect_closes(
    ctx: DayContext,
    constraints: Constraints,
    rng: np.random.Generator,
    account: np.ndarray,
    symbol: np.ndarray,
) -> None:
    """Draw another symbol for orders a planted scenario forbids: an owner-symbol pair left
    to a scenario, or the direction a marked close may not take (at any entry time, as
    the order trades at the close)."""
    todo = np.arange(len(account))
    for _ in range(256):
        owner, sym = ctx.owner[account[todo]], symbol[todo]
        bad = constraints.excluded[owner, sym]
        for one_sym, _start, end, banned_buy in constraints.one_way:
            if end > ctx.close_us:
                bad |= (sym == one_sym) & (ctx.buys[owner, sym] == banned_buy)
        todo = todo[bad]
        if not len(todo):
            return
        symbol[todo] = ctx.draw_symbol.draw(rng, len(todo))
    raise RuntimeError("could not place closing-auction orders around the planted scenarios")


def _empty() -> tuple[Orders, Fills]:
    none = np.empty(0, dtype=np.int64)
    flag = none.astype(bool)
    orders = Orders(none, none, none, flag, flag, none, none, none, none, none, none, none, flag)
    return orders, Fills(none, none, none, none, none, none)


def expected_orders(background_orders: int, symbol_weight: float) -> float:
    """At-the-close orders the population sends in a symbol of that weight, on average."""
    return AUCTION_ORDER_SHARE * background_orders * symbol_weight
