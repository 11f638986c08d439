"""Background order flow for one trading day: orders and their fills, vectorised with numpy.

The session is cut into time slices holding about `CHUNK_ORDERS` background orders each
(more slices where the U-shaped profile is busy). Each slice draws from its own random
stream, seeded by (seed, date, slice), is merged with the planted orders that fall in it,
sorted by time and written out, so ClOrdIDs rise with time, the day is deterministic and
memory stays bounded whatever the order count.

The background holds the ordinary structure that makes surveillance hard, and no abuse as
the rules define it (docs/generator.md, docs/detection.md):

- Market makers (about 40% of orders) quote both sides of the symbols they make all day,
  a few ticks behind the touch, in even sizes, filling rarely and cancelling most quotes:
  buy-at-bid / sell-at-offer round trips minutes apart at different prices, which are
  not washes. Their quotes live within a `BLOCK_US` (30 min) block, ending `GAP_US` (2 min)
  before the next (quote refreshes).
- Omnibus and retail accounts (no known beneficial owner; about 14% of orders) buy and sell
  the same symbols, mostly odd lots and small round lots: opposite fills of different
  clients behind one account, which are not washes either.
- The closing auction (auction.py; about 3% of orders, 10% of the volume): institutions'
  market-on-close and limit-on-close orders entered up to the exchange's cut-off, filled
  in one print per symbol at the close or just after it, at one price. They are merged into
  the time slices like the planted orders.
- Proprietary desks (the firms' own trading, about an eighth of orders) buy and sell the same
  symbols all day, as a desk running inventory does, until the last `DESK_ONE_WAY_US` (20
  min) before the close, where they keep their day's direction: round trips around client
  orders of their own firm that are not front running (the rule weighs the position taken
  against the desk's usual size, docs/detection.md).
- Every other beneficial owner trades one direction per symbol per day (buying or selling,
  drawn per day): no layering against one's own fills.
- Fill delays of resting orders are capped (`PASSIVE_FILL_CAP_US`), and in the calm closing
  minutes (see market.py) limits sit at the touch, so only planted pushes move a closing
  price by 0.5% or more.
- Planted scenarios add `Constraints`: owner-symbol pairs the background leaves to them,
  windows where background order sizes are capped (no other large client orders around a
  front-running scenario, no outsized closing volume in a marked symbol) and windows where
  the background trades one way only (no background buyer rides a planted push up).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from surveil.calendar import Session
from surveil.generate import csvfmt
from surveil.generate.book import (
    BUY,
    CANCELLED,
    EXPIRED,
    FILLED,
    NO_TIME,
    REJECTED,
    SELL,
    SHORT,
    SIDE_TEXT,
    STATUS_TEXT,
    Fills,
    Orders,
)
from surveil.generate.market import (
    US_PER_S,
    VENUES,
    IntradayProfile,
    Market,
    Sampler,
    Universe,
)
from surveil.generate.parents import Children, no_children, plan_children
from surveil.generate.reference import MARKET_MAKER, PROPRIETARY, Reference

CHUNK_ORDERS = 100_000
MINUTE_US = 60 * US_PER_S
MM_SHARE = 0.40  # share of background orders from market makers
MM_SYMBOL_POOL = 40  # market makers quote among the most active symbols
BLOCK_US = 30 * MINUTE_US
GAP_US = 2 * MINUTE_US
PASSIVE_FILL_CAP_US = 180 * US_PER_S
DESK_ONE_WAY_US = 20 * MINUTE_US  # desks trade their day's direction in the last minutes
UNLOCK_US = 2 * US_PER_S  # a market maker's opposite fills at one price, at least
SHORT_SHARE = 0.12  # of sells
REJECT_SHARE = 0.012
ODD_LOT_SHARE = 0.07
RETAIL_ODD_LOT_SHARE = 0.45  # omnibus/retail orders under 100 shares
MAX_LOTS = 200
# Non-market-maker order kinds: market, marketable limit, passive limit.
MARKET_KIND, MARKETABLE_KIND, PASSIVE_KIND = 0, 1, 2
KIND_SHARES = (0.08, 0.32, 0.60)
_DRAW_KIND = Sampler(np.array(KIND_SHARES))
# Round lots per order: P(k) ∝ 1/k² up to MAX_LOTS, mostly one lot with a heavy tail.
_DRAW_LOTS = Sampler(1.0 / np.arange(1, MAX_LOTS + 1) ** 2)
_DRAW_MM_BEHIND = Sampler(np.array([0.6, 0.25, 0.15]))  # market makers' ticks behind the touch


@dataclass
class Constraints:
    """What the background leaves to the planted scenarios (see the module docstring)."""

    excluded: np.ndarray  # (owners, symbols) bool
    caps: list[tuple[int, int, int, int]] = field(default_factory=list)  # symbol, from, to, qty
    # symbol, from, to, and the direction the background may not take there (True: buying)
    one_way: list[tuple[int, int, int, bool]] = field(default_factory=list)


@dataclass
class DayContext:
    """Everything about the day the background and the scenarios share."""

    day: dt.date
    session: Session
    seed: int
    reference: Reference
    universe: Universe
    profile: IntradayProfile
    owner: np.ndarray  # owner index per account
    market_maker: np.ndarray  # bool per account
    buys: np.ndarray  # (owners, symbols) bool: the owner's background direction today
    other_accounts: np.ndarray  # accounts that are not market makers
    other_weights: np.ndarray
    next_other: np.ndarray  # per account, the next account that is not a market maker
    mm_accounts: np.ndarray
    mm_weights: np.ndarray
    mm_symbols: np.ndarray  # (market makers, 4) symbols quoted, padded by repetition
    prop_desk: np.ndarray  # bool per account: a proprietary desk with a known owner
    draw_other: Sampler = field(repr=False)  # index into other_accounts
    draw_mm: Sampler = field(repr=False)  # index into mm_accounts
    draw_symbol: Sampler = field(repr=False)
    account_table: tuple[np.ndarray, np.ndarray] = field(repr=False)
    firm_table: tuple[np.ndarray, np.ndarray] = field(repr=False)
    symbol_table: tuple[np.ndarray, np.ndarray] = field(repr=False)
    two_sided: bool = True  # market makers quote both sides at once
    worked_parents: bool = True  # some client orders are children of worked parents
    prop_desks: bool = True  # proprietary desks trade both ways all day

    @property
    def open_us(self) -> int:
        return self.profile.open_us

    @property
    def close_us(self) -> int:
        return self.profile.close_us

    @property
    def ordinal(self) -> int:
        return self.day.toordinal()

    def expected_orders(self, account: int, background_orders: int) -> float:
        """Background orders the account is expected to send today (0 for market makers)."""
        where = np.searchsorted(self.other_accounts, account)
        if where >= len(self.other_accounts) or self.other_accounts[where] != account:
            return 0.0
        return background_orders * (1 - MM_SHARE) * float(self.other_weights[where])

    def mm_symbol_set(self) -> set[int]:
        return {int(s) for s in np.unique(self.mm_symbols)}


def day_context(
    day: dt.date,
    session: Session,
    seed: int,
    reference: Reference,
    universe: Universe,
    *,
    two_sided: bool = True,
    worked_parents: bool = True,
    prop_desks: bool = True,
) -> DayContext:
    """The day's shared context; `two_sided=False` leaves the market makers' two-sided
    quoting out (they then quote one side per symbol per block, as generator version 3),
    `worked_parents=False` the worked parent orders (parents.py), `prop_desks=False` the
    proprietary desks' two-way trading (they then trade one way per symbol, as clients)."""
    owner = reference.account_owner
    market_maker = reference.account_types == MARKET_MAKER
    other_accounts = np.flatnonzero(~market_maker)
    other_weights = 1.0 / np.arange(1, len(other_accounts) + 1) ** 0.8
    mm_accounts = np.flatnonzero(market_maker)
    mm_weights = 1.0 / np.arange(1, len(mm_accounts) + 1)
    # Stable habits (which market maker quotes what) depend on the seed only; the day's
    # directions change every day.
    habits = np.random.default_rng([seed, 0x3A3])
    mm_symbols = np.empty((len(mm_accounts), 4), dtype=np.int64)
    pool = min(MM_SYMBOL_POOL, len(universe))
    for i in range(len(mm_accounts)):
        count = int(habits.integers(2, 5))
        chosen = habits.choice(pool, min(count, pool), replace=False)
        mm_symbols[i] = np.resize(chosen, 4)
    directions = np.random.default_rng([seed, day.toordinal(), 0xD1])
    buys = directions.random((reference.n_owners, len(universe))) < 0.5
    next_other = np.empty(reference.n_accounts, dtype=np.int64)
    following = other_accounts[0]
    for a in range(reference.n_accounts - 1, -1, -1):
        next_other[a] = following
        if not market_maker[a]:
            following = a
    return DayContext(
        day=day,
        session=session,
        seed=seed,
        reference=reference,
        universe=universe,
        profile=IntradayProfile(session),
        owner=owner,
        market_maker=market_maker,
        buys=buys,
        other_accounts=other_accounts,
        other_weights=other_weights / other_weights.sum(),
        next_other=next_other,
        mm_accounts=mm_accounts,
        mm_weights=mm_weights / mm_weights.sum(),
        mm_symbols=mm_symbols,
        prop_desk=(reference.account_types == PROPRIETARY) & ~reference.omnibus,
        draw_other=Sampler(other_weights),
        draw_mm=Sampler(mm_weights if len(mm_weights) else np.ones(1)),
        draw_symbol=Sampler(universe.weights),
        account_table=csvfmt.text_table(reference.account_ids),
        firm_table=csvfmt.text_table(reference.firm_ids[reference.account_firm]),
        symbol_table=csvfmt.text_table(universe.symbols),
        two_sided=two_sided,
        worked_parents=worked_parents,
        prop_desks=prop_desks,
    )


@dataclass
class Chunk:
    orders_csv: np.ndarray  # uint8 CSV bytes
    executions_csv: np.ndarray
    orders: int
    executions: int
    planted_orders: np.ndarray  # (ref, ClOrdID number) of the planted orders in the chunk
    planted_fills: np.ndarray  # (ref, ExecID number)


def generate_chunks(
    ctx: DayContext,
    market: Market,
    constraints: Constraints,
    planted: tuple[Orders, Fills],
    background_orders: int,
) -> Iterator[Chunk]:
    slices = max(1, math.ceil(background_orders / CHUNK_ORDERS))
    edges = ctx.profile.time_us(np.linspace(0.0, 1.0, slices + 1))
    edges[0], edges[-1] = ctx.open_us, ctx.close_us + 1
    planted_orders, planted_fills = planted
    children = (
        plan_children(ctx, constraints, background_orders) if ctx.worked_parents else no_children()
    )
    next_order = next_exec = 1
    for k in range(slices):
        n = (k + 1) * background_orders // slices - k * background_orders // slices
        rng = np.random.default_rng([ctx.seed, ctx.ordinal, 1, k])
        orders, fills = background(
            ctx,
            market,
            constraints,
            rng,
            n,
            k / slices,
            (k + 1) / slices,
            children.between(int(edges[k]), int(edges[k + 1])),
        )
        chosen = np.flatnonzero(
            (planted_orders.time_us >= edges[k]) & (planted_orders.time_us < edges[k + 1])
        )
        if len(chosen):
            position = np.full(len(planted_orders), -1)
            position[chosen] = np.arange(len(chosen)) + len(orders)
            mine = position[planted_fills.order] >= 0
            extra = planted_fills.take(np.flatnonzero(mine))
            extra.order = position[extra.order]
            orders = Orders.concat([orders, planted_orders.take(chosen)])
            fills = Fills.concat([fills, extra])
        chunk = _format(ctx, orders, fills, next_order, next_exec)
        next_order += chunk.orders
        next_exec += chunk.executions
        yield chunk


def _format(
    ctx: DayContext, orders: Orders, fills: Fills, first_order: int, first_exec: int
) -> Chunk:
    by_time = np.argsort(orders.time_us, kind="stable")
    orders = orders.take(by_time)
    new_place = np.empty_like(by_time)
    new_place[by_time] = np.arange(len(by_time))
    fills.order = new_place[fills.order]
    fills = fills.take(np.lexsort((fills.order, fills.time_us)))
    n, m = len(orders), len(fills)
    order_numbers = np.arange(first_order, first_order + n)
    exec_numbers = np.arange(first_exec, first_exec + m)

    # The two files' text is independent and numpy releases the GIL for the bulk of it,
    # so the executions are formatted on a second thread while this one does the orders.
    executions_csv = _FORMATTER.submit(
        _executions_csv, ctx, orders, fills, order_numbers, exec_numbers
    )
    orders_csv = _orders_csv(ctx, orders, fills, order_numbers)

    planted_o = np.flatnonzero(orders.ref >= 0)
    planted_f = np.flatnonzero(fills.ref >= 0)
    return Chunk(
        orders_csv,
        executions_csv.result(),
        n,
        m,
        np.stack([orders.ref[planted_o], order_numbers[planted_o]], axis=1),
        np.stack([fills.ref[planted_f], exec_numbers[planted_f]], axis=1),
    )


def _orders_csv(
    ctx: DayContext, orders: Orders, fills: Fills, order_numbers: np.ndarray
) -> np.ndarray:
    n = len(orders)
    notional = np.bincount(fills.order, weights=fills.quantity * fills.price, minlength=n)
    has_fills = orders.cum > 0
    avg_micro = np.round(notional * 100 / np.maximum(orders.cum, 1)).astype(np.int64)
    lines = csvfmt.Lines(n)
    lines.ident(f"C{ctx.day:%Y%m%d}", order_numbers, 9)
    lines.constant(ctx.day.isoformat())
    lines.text(ctx.account_table, orders.account)
    lines.text(ctx.firm_table, orders.account)
    lines.text(ctx.symbol_table, orders.symbol)
    lines.text(_SIDES, orders.side)
    lines.text(_ORDER_TYPES, orders.market.astype(np.int64))
    lines.text(_TIME_IN_FORCE, orders.ioc.astype(np.int64) + 2 * orders.at_close)
    lines.integer(orders.quantity)
    lines.decimal(orders.limit, 4, present=~orders.market)
    lines.timestamp(orders.time_us, ctx.day)
    lines.text(_STATUSES, orders.status)
    lines.integer(orders.cum)
    lines.decimal(avg_micro, 6, present=has_fills)
    lines.timestamp(orders.cancel_us, ctx.day, present=orders.status == CANCELLED)
    return lines.build()


def _executions_csv(
    ctx: DayContext,
    orders: Orders,
    fills: Fills,
    order_numbers: np.ndarray,
    exec_numbers: np.ndarray,
) -> np.ndarray:
    yyyymmdd = f"{ctx.day:%Y%m%d}"
    lines = csvfmt.Lines(len(fills))
    lines.ident(f"E{yyyymmdd}", exec_numbers, 10)
    lines.constant(ctx.day.isoformat())
    lines.ident(f"C{yyyymmdd}", order_numbers[fills.order], 9)
    lines.text(ctx.account_table, orders.account[fills.order])
    lines.text(ctx.symbol_table, orders.symbol[fills.order])
    lines.text(_SIDES, orders.side[fills.order])
    lines.integer(fills.quantity)
    lines.decimal(fills.price, 4)
    lines.text(_VENUES, fills.venue)
    lines.timestamp(fills.time_us, ctx.day)
    return lines.build()


_FORMATTER = ThreadPoolExecutor(1, thread_name_prefix="surveil-csv")


_SIDES = csvfmt.text_table(SIDE_TEXT)
_STATUSES = csvfmt.text_table(STATUS_TEXT)
_ORDER_TYPES = csvfmt.text_table(["2", "1"])  # indexed by is-market
_TIME_IN_FORCE = csvfmt.text_table(["0", "3", "7"])  # day, IOC, at the close
_VENUES = csvfmt.text_table(VENUES)


def background(
    ctx: DayContext,
    market: Market,
    constraints: Constraints,
    rng: np.random.Generator,
    n: int,
    quantile_from: float,
    quantile_to: float,
    children: Children,
) -> tuple[Orders, Fills]:
    """`n` background orders placed between two quantiles of the day's activity, with fills;
    the first non-market-maker orders become the worked parents' `children` in the slice."""
    universe = ctx.universe
    t = ctx.profile.time_us(quantile_from + np.sort(rng.random(n)) * (quantile_to - quantile_from))

    # Who trades what. Market makers never place orders in the gap before a block turns.
    block = (t - ctx.open_us) // BLOCK_US
    block_end = ctx.open_us + (block + 1) * BLOCK_US
    turns = block_end < ctx.close_us
    in_gap = turns & (t >= block_end - GAP_US)
    is_mm = (rng.random(n) < MM_SHARE) & ~in_gap & (len(ctx.mm_accounts) > 0)
    account = np.empty(n, dtype=np.int64)
    symbol = np.empty(n, dtype=np.int64)
    n_mm = int(is_mm.sum())
    maker = ctx.draw_mm.draw(rng, n_mm)
    account[is_mm] = ctx.mm_accounts[maker]
    symbol[is_mm] = ctx.mm_symbols[maker, rng.integers(0, 4, n_mm)]
    others = ~is_mm
    account[others] = ctx.other_accounts[ctx.draw_other.draw(rng, n - n_mm)]
    symbol[others] = ctx.draw_symbol.draw(rng, n - n_mm)
    _respect(ctx, constraints, account, symbol, t, np.flatnonzero(others))
    # Children take the places of orders drawn at random among the others, so the slice's
    # activity keeps its shape apart from the children's own schedule.
    candidates = np.flatnonzero(others)
    slots = np.sort(rng.choice(candidates, min(len(children), len(candidates)), replace=False))
    c = len(slots)
    t[slots] = children.time_us[:c]
    account[slots] = children.account[:c]
    symbol[slots] = children.symbol[:c]

    # Market makers quote both sides all day; omnibus accounts carry many clients, buying
    # and selling alike; proprietary desks trade both ways until the closing minutes (where
    # marked closes need one-way flow); every other owner trades one way per symbol per day.
    either_side = rng.random(n) < 0.5
    mm_flip = either_side if ctx.two_sided else (block % 2 == 1)
    desk = ctx.prop_desks & ctx.prop_desk[account] & (t < ctx.close_us - DESK_ONE_WAY_US)
    buy = np.where(
        ctx.reference.omnibus[account] | desk,
        either_side,
        ctx.buys[ctx.owner[account], symbol] ^ (is_mm & mm_flip),
    )
    side = np.where(buy, BUY, np.where(rng.random(n) < SHORT_SHARE, SHORT, SELL))
    deadline = np.where(is_mm & turns, block_end - GAP_US, ctx.close_us) - 1

    kind = _DRAW_KIND.draw(rng, n)
    kind[is_mm] = PASSIVE_KIND
    kind[slots] = np.where(children.passive[:c], PASSIVE_KIND, MARKETABLE_KIND)
    market_order = kind == MARKET_KIND
    ioc = np.where(
        kind == MARKETABLE_KIND,
        rng.random(n) < 0.25,
        (kind == PASSIVE_KIND) & (rng.random(n) < 0.04),
    )
    ioc &= ~is_mm
    ioc[slots] = False

    lots = 1 + _DRAW_LOTS.draw(rng, n)
    quantity = np.where(rng.random(n) < ODD_LOT_SHARE, rng.integers(1, 100, n), lots * 100)
    retail = ctx.reference.omnibus[account]
    retail_odd = rng.random(n) < RETAIL_ODD_LOT_SHARE
    quantity = np.where(
        retail, np.where(retail_odd, rng.integers(1, 100, n), rng.integers(1, 4, n) * 100), quantity
    )
    quantity[is_mm] = rng.integers(1, 6, n_mm) * 100
    quantity[slots] = children.quantity[:c]
    for sym, start, end, cap in constraints.caps:
        capped = (symbol == sym) & (t >= start) & (t < end)
        quantity[capped] = np.minimum(quantity[capped], cap)

    # Limits: passive ones a few basis points behind the touch, marketable ones through it.
    tick = universe.tick[symbol]
    bid, ask = market.quotes(symbol, t)
    mid = market.mid_at(symbol, t)
    calm = t >= market.calm_start_us
    room = np.maximum(np.floor(0.0010 * mid / tick), 0).astype(np.int64)
    behind = np.minimum(np.round(np.abs(rng.normal(0.0, 0.0003, n)) * mid / tick), room)
    behind = np.where(is_mm, _DRAW_MM_BEHIND.draw(rng, n), behind).astype(np.int64)
    behind[calm] = 0
    through = rng.integers(0, 4, n)
    through[calm] = np.minimum(through[calm], 1)
    passive_limit = np.where(buy, bid - behind * tick, ask + behind * tick)
    marketable_limit = np.where(buy, ask + through * tick, bid - through * tick)
    limit = np.where(kind == PASSIVE_KIND, passive_limit, marketable_limit)
    limit = np.where(market_order, 0, np.maximum(limit, tick))

    # Outcome: filled in full, in part, or not at all; rejected orders never reach a book.
    u = rng.random(n)
    full_share = np.select(
        [market_order, kind == MARKETABLE_KIND, is_mm, ioc], [1.0, 0.80, 0.45, 0.0], 0.36
    )
    part_share = np.select(
        [market_order, kind == MARKETABLE_KIND, is_mm, ioc], [0.0, 0.12, 0.10, 0.0], 0.12
    )
    rejected = rng.random(n) < REJECT_SHARE
    full = (u < full_share) & ~rejected
    part = (u >= full_share) & (u < full_share + part_share) & ~rejected & (quantity > 1)
    full |= (u >= full_share) & (u < full_share + part_share) & ~rejected & (quantity == 1)
    round_lot = (quantity % 100 == 0) & (quantity >= 200)
    fraction = rng.uniform(0.1, 0.9, n)
    partial = np.where(
        round_lot,
        np.clip(np.floor(quantity // 100 * fraction), 1, quantity // 100 - 1) * 100,
        np.clip(np.floor(quantity * fraction), 1, quantity - 1),
    ).astype(np.int64)
    cum = np.where(full, quantity, np.where(part, partial, 0))

    fills = _fills(
        ctx,
        market,
        rng,
        kind,
        is_mm,
        symbol,
        buy,
        quantity,
        limit,
        cum,
        t,
        deadline,
        calm,
        two_way=is_mm | desk,
    )

    # Final state and cancel time.
    last_event = t.copy()
    np.maximum.at(last_event, fills.order, fills.time_us)
    open_left = ~rejected & (cum < quantity)
    immediate = ioc | market_order
    resting_cancel = rng.random(n) < np.where(is_mm, 0.9, 0.75)
    expires = open_left & ~immediate & ~resting_cancel
    status = np.full(n, FILLED, dtype=np.int64)
    status[open_left] = CANCELLED
    status[expires] = EXPIRED
    status[rejected] = REJECTED
    delay = np.where(
        immediate,
        rng.integers(20, 1_500, n),
        np.minimum(rng.exponential(np.where(is_mm, 15.0, 40.0), n), 1_200.0) * US_PER_S,
    ).astype(np.int64)
    cancel_us = np.clip(last_event + 1 + delay, last_event, deadline)
    # A market maker's order cannot outlive its block: cancelled at the block's deadline.
    early_expiry = expires & is_mm & (deadline < ctx.close_us - 1)
    status[early_expiry] = CANCELLED
    cancel_us[early_expiry] = np.maximum(deadline[early_expiry], last_event[early_expiry])
    cancel_us = np.where(status == CANCELLED, cancel_us, NO_TIME)

    orders = Orders(
        account=account,
        symbol=symbol,
        side=side,
        market=market_order,
        ioc=ioc,
        quantity=quantity,
        limit=limit,
        time_us=t,
        status=status,
        cum=cum,
        cancel_us=cancel_us,
        ref=np.full(n, -1, dtype=np.int64),
        at_close=np.zeros(n, dtype=bool),
    )
    return orders, fills


def _respect(
    ctx: DayContext,
    constraints: Constraints,
    account: np.ndarray,
    symbol: np.ndarray,
    t: np.ndarray,
    todo: np.ndarray,
) -> None:
    """Move background orders that break a constraint to the next eligible account."""
    for _ in range(256):
        if len(todo) == 0:
            return
        acc, sym, when = account[todo], symbol[todo], t[todo]
        owner = ctx.owner[acc]
        bad = constraints.excluded[owner, sym]
        for one_sym, start, end, banned_buy in constraints.one_way:
            inside = (sym == one_sym) & (when >= start) & (when < end)
            if inside.any():
                bad |= inside & (ctx.buys[owner, sym] == banned_buy)
        todo = todo[bad]
        account[todo] = ctx.next_other[account[todo]]
    raise RuntimeError("could not place background orders around the planted scenarios")


def _fills(
    ctx: DayContext,
    market: Market,
    rng: np.random.Generator,
    kind: np.ndarray,
    is_mm: np.ndarray,
    symbol: np.ndarray,
    buy: np.ndarray,
    quantity: np.ndarray,
    limit: np.ndarray,
    cum: np.ndarray,
    t: np.ndarray,
    deadline: np.ndarray,
    calm: np.ndarray,
    two_way: np.ndarray,
) -> Fills:
    """Split each order's filled quantity over 1–4 fills with times, prices and venues."""
    n = len(cum)
    aggressive = kind != PASSIVE_KIND
    unit = np.where((cum % 100 == 0) & (cum >= 100), 100, 1)
    units = cum // unit
    count = np.where(
        aggressive,
        1 + rng.binomial(2, 0.3, n) + (quantity >= 2_000),
        1 + rng.binomial(np.where(is_mm, 1, 3), np.where(is_mm, 0.3, 0.25), n),
    )
    count[calm] = 1  # one fill each in the calm close: no lone order looks like a push
    count = np.where(cum > 0, np.minimum(count, units), 0)
    order = np.repeat(np.arange(n), count)
    m = len(order)
    first = np.cumsum(count) - count
    index = np.arange(m) - np.repeat(first, count)
    last = index == np.repeat(count - 1, count)

    # One unit each, the rest shared by random weights; the last fill takes what is left.
    weights = rng.uniform(0.2, 1.0, m)
    weight_sum = np.bincount(order, weights=weights, minlength=n)
    spare = (units - count)[order]
    share = 1 + np.floor(spare * weights / weight_sum[order]).astype(np.int64)
    given = np.bincount(order, weights=np.where(last, 0, share), minlength=n).astype(np.int64)
    fill_units = np.where(last, units[order] - given[order], share)
    fill_qty = fill_units * unit[order]

    # Times: aggressive fills within milliseconds, resting ones over (capped) minutes.
    agg = aggressive[order]
    gaps = np.where(
        agg,
        rng.integers(30, 2_000, m),
        rng.exponential(np.where(is_mm[order], 8.0, 12.0), m) * US_PER_S,
    ).astype(np.int64)
    running = np.cumsum(gaps)
    before = np.repeat(np.concatenate([[0], running])[first], count)
    elapsed = np.where(agg, running - before, np.minimum(running - before, PASSIVE_FILL_CAP_US))
    fill_us = np.minimum(t[order] + elapsed, deadline[order])

    # Prices: aggressive fills at the touch (walking a tick a fill for large orders outside
    # the calm close), bounded by the limit; resting fills at their limit.
    sym = symbol[order]
    bid, ask = market.quotes(sym, fill_us)
    tick = ctx.universe.tick[sym]
    walk = np.where((quantity[order] >= 2_000) & ~calm[order], index, 0) * tick
    is_buy = buy[order]
    touch = np.where(is_buy, ask + walk, np.maximum(bid - walk, tick))
    order_limit = limit[order]
    bounded = np.where(
        order_limit > 0,
        np.where(is_buy, np.minimum(touch, order_limit), np.maximum(touch, order_limit)),
        touch,
    )
    price = np.where(agg, bounded, order_limit)
    fill_us = _unlock_two_way(two_way[order], order, buy, sym, price, fill_us, t, deadline)
    venue = ctx.universe.venues(rng, sym)
    return Fills(
        order=order,
        quantity=fill_qty,
        price=price,
        venue=venue,
        time_us=fill_us,
        ref=np.full(m, -1, dtype=np.int64),
    )


def _unlock_two_way(
    mm_fill: np.ndarray,
    order: np.ndarray,
    buy: np.ndarray,
    symbol: np.ndarray,
    price: np.ndarray,
    fill_us: np.ndarray,
    placed: np.ndarray,
    deadline: np.ndarray,
) -> np.ndarray:
    """A market maker (or a proprietary desk) never bids and offers at one price at once, so
    the buy and sell fills of two-way traders at one price are at least `UNLOCK_US` apart. The drawn quotes can lock (a bid placed
    high, an offer placed low after the market moved); the later fill of such a pair is
    moved on, within its order's deadline, or else the earlier one back, no earlier than its
    order was placed (`symbol` and `price` are per fill, `placed` and `deadline` per order)."""
    which = np.flatnonzero(mm_fill)
    if len(which) < 2:
        return fill_us
    fill_us = fill_us.copy()
    # Moving one fill can bring it near the next one, so repeat until nothing moves. A
    # fill its deadline keeps from moving on goes back before the earlier one instead.
    for _ in range(16):
        key = np.lexsort((fill_us[which], price[which], symbol[which]))
        ordered = which[key]
        same_price = price[ordered][1:] == price[ordered][:-1]
        opposite = buy[order[ordered]][1:] != buy[order[ordered]][:-1]
        close = fill_us[ordered][1:] - fill_us[ordered][:-1] < UNLOCK_US
        locked = same_price & opposite & close
        if not locked.any():
            break
        later, earlier = ordered[1:][locked], ordered[:-1][locked]
        wanted = fill_us[earlier] + UNLOCK_US
        room = wanted <= deadline[order[later]]
        fill_us[later[room]] = wanted[room]
        back = earlier[~room]
        fill_us[back] = np.maximum(fill_us[later[~room]] - UNLOCK_US, placed[order[back]])
    return fill_us
