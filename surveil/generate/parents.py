"""Worked parent orders: an institution's large order executed as many child orders.

A buy-side desk rarely sends 50,000 shares at once. Its algorithm (VWAP, TWAP) cuts the
parent into child orders of a few hundred shares and sends them over hours, so the child
orders look ordinary one by one while the parent is what moves the price and what a
front-runner trades ahead of. Institutional flow arrives this way: an ATS reports an
average trade of 118 shares with 1–499-share trades 67% of its volume (Kezar, Feb 2023),
another an average order of 230 shares (IntelligentCross, 2022). Parent durations and
child spacing are not from a source: one to five hours with 10–60 children is our choice
(docs/generator.md).

The drop copy carries no parent id (ClOrdIDs are per child), so the rules see a parent
only as one client account's orders in one symbol and one direction, close in time; this
is how front_running (version 2) reads them.

Here a share of the background's client orders (`CHILD_SHARE`) are children of parents:
each parent belongs to a client account with a known owner, trades the owner's direction
of the day in one symbol, is worked over `MIN_HOURS`–`MAX_HOURS` from a start drawn over the
session, and ends at least `END_BEFORE_CLOSE_US` before the close (the closing minutes are
the closing auction's and the marking-the-close rule's). TWAP parents space their children
evenly; VWAP parents follow the day's U-shaped activity. Children are 1–5 round lots (mostly one),
mostly marketable limits, and never fall in a window a planted scenario reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from surveil.generate.market import US_PER_S
from surveil.generate.reference import CLIENT

if TYPE_CHECKING:
    from surveil.generate.flow import Constraints, DayContext

CHILD_SHARE = 0.10  # of background orders
MIN_CHILDREN, MAX_CHILDREN = 10, 60
MIN_HOURS, MAX_HOURS = 1.0, 5.0
END_BEFORE_CLOSE_US = 20 * 60 * US_PER_S
# 1-5 round lots, P(k) ∝ 1/k: 219 shares on average, near the 230 reported above.
CHILD_LOTS = np.arange(1, 6)
CHILD_LOT_WEIGHTS = (1 / CHILD_LOTS) / (1 / CHILD_LOTS).sum()
PASSIVE_CHILD_SHARE = 0.3
HOUR_US = 3600 * US_PER_S


@dataclass(frozen=True)
class Children:
    """The day's child orders, sorted by time (the parent is the index into its arrays)."""

    time_us: np.ndarray
    account: np.ndarray
    symbol: np.ndarray
    quantity: np.ndarray
    passive: np.ndarray  # bool: a resting limit rather than a marketable one
    parent: np.ndarray

    def __len__(self) -> int:
        return len(self.time_us)

    def between(self, start_us: int, end_us: int) -> Children:
        lo, hi = np.searchsorted(self.time_us, [start_us, end_us])
        return Children(*(a[lo:hi] for a in self._arrays()))

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.time_us,
            self.account,
            self.symbol,
            self.quantity,
            self.passive,
            self.parent,
        )


def plan_children(ctx: DayContext, constraints: Constraints, background_orders: int) -> Children:
    """The day's parents and their children, from their own random stream."""
    rng = np.random.default_rng([ctx.seed, ctx.ordinal, 0x9A2])
    wanted = int(background_orders * CHILD_SHARE)
    reference = ctx.reference
    accounts = np.flatnonzero((reference.account_types == CLIENT) & ~reference.omnibus)
    if wanted < MIN_CHILDREN or not len(accounts):
        return no_children()
    parents = max(1, wanted // ((MIN_CHILDREN + MAX_CHILDREN) // 2))
    account = accounts[rng.integers(0, len(accounts), parents)]
    symbol = ctx.draw_symbol.draw(rng, parents)
    allowed = ~constraints.excluded[ctx.owner[account], symbol]
    account, symbol = account[allowed], symbol[allowed]
    parents = len(account)
    hours = rng.uniform(MIN_HOURS, MAX_HOURS, parents)
    last_end = ctx.close_us - END_BEFORE_CLOSE_US
    duration = np.minimum(hours * HOUR_US, last_end - ctx.open_us).astype(np.int64)
    start = ctx.open_us + (rng.random(parents) * (last_end - duration - ctx.open_us)).astype(
        np.int64
    )
    count = rng.integers(MIN_CHILDREN, MAX_CHILDREN + 1, parents)
    vwap = rng.random(parents) < 0.5

    parent = np.repeat(np.arange(parents), count)
    m = len(parent)
    first = np.cumsum(count) - count
    index = np.arange(m) - np.repeat(first, count)
    position = (index + rng.uniform(0.1, 0.9, m)) / count[parent]  # evenly spaced, jittered
    twap_at = start[parent] + (position * duration[parent]).astype(np.int64)
    profile = ctx.profile
    q0 = np.interp((start - ctx.open_us) / US_PER_S, profile.grid, profile.cdf)
    q1 = np.interp((start + duration - ctx.open_us) / US_PER_S, profile.grid, profile.cdf)
    vwap_at = profile.time_us(q0[parent] + position * (q1 - q0)[parent])
    time_us = np.where(vwap[parent], vwap_at, twap_at)
    children = Children(
        time_us=time_us,
        account=account[parent],
        symbol=symbol[parent],
        quantity=rng.choice(CHILD_LOTS, m, p=CHILD_LOT_WEIGHTS) * 100,
        passive=rng.random(m) < PASSIVE_CHILD_SHARE,
        parent=parent,
    )
    return _sorted(_outside_reserved(children, constraints))


def _outside_reserved(children: Children, constraints: Constraints) -> Children:
    """Drop children in windows a planted scenario keeps quiet (its size caps)."""
    keep = np.ones(len(children), dtype=bool)
    for sym, start, end, _cap in constraints.caps:
        keep &= ~((children.symbol == sym) & (children.time_us >= start) & (children.time_us < end))
    return Children(*(a[keep] for a in children._arrays()))


def _sorted(children: Children) -> Children:
    order = np.argsort(children.time_us, kind="stable")
    return Children(*(a[order] for a in children._arrays()))


def no_children() -> Children:
    none = np.empty(0, dtype=np.int64)
    return Children(none, none, none, none, none.astype(bool), none)
