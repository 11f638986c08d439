"""Order patterns shared by the benign populations and the labelled cases.

A *passive* order rests at the touch (bid for a buy, ask for a sell), may be re-priced by
cancel/replace as the market moves, and either fills at its limit or is cancelled. A
*marketable* order crosses the spread and fills at once, sometimes in several partial
executions across venues; an IOC's unfilled rest is cancelled by the venue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fixlog import Account, FixLog, Order
from market import CLOSE_S, Market


@dataclass
class Ctx:
    log: FixLog
    mkt: Market
    rng: np.random.Generator

    def us(self, t: float) -> int:
        return self.log.ny_us(t)

    def touch(self, sym: str, side: str, t: float, far: bool = False) -> float:
        buy = side == "1"
        if buy != far:
            return self.mkt.bid(sym, t)
        return self.mkt.ask(sym, t)

    def new(self, acct: Account, sym: str, side: str, qty: int, t: float, price=None, **kw):
        owner = kw.pop("owner", None)
        if owner is None and acct.owners:
            owner = acct.owners[int(self.rng.integers(len(acct.owners)))]
        venue = kw.pop("venue", None) or self.mkt.venue(self.rng, sym)
        reject = kw.pop("reject", False)
        o = Order(acct, sym, side, int(qty), price, owner=owner, venue=venue, **kw)
        return self.log.new(o, self.us(t), reject=reject)

    def fill(self, o: Order, t: float, qty: int | None = None, px: float | None = None):
        px = o.price if px is None else px
        venue = self.mkt.venue(self.rng, o.symbol)
        return self.log.fill(o, self.us(t), qty or o.leaves, px, venue)

    def split_fill(self, o: Order, t: float, px: float, parts: int = 1) -> list[str]:
        """Fill the order's leaves in `parts` executions a few milliseconds apart."""
        ids, left = [], o.leaves
        for k in range(parts):
            q = left if k == parts - 1 else max(1, int(left * self.rng.uniform(0.2, 0.6)))
            q = min(q, left)
            if q <= 0:
                break
            ids.append(self.fill(o, t + 0.002 * k, q, px))
            left -= q
        return ids


def passive(
    c: Ctx,
    acct: Account,
    sym: str,
    side: str,
    qty: int,
    t: float,
    life: float,
    fill_prob: float,
    replaces: int = 0,
    partial: float = 0.3,
    offset_ticks: int = 0,
    times=None,
    **kw,
) -> Order:
    """Rest at the touch (offset_ticks away from it), follow it, then fill or cancel.

    `times`: the re-pricing times, when a quoter moves both sides of its quote together."""
    sign = -1 if side == "1" else 1
    price = round(c.touch(sym, side, t) + sign * offset_ticks * 0.01, 2)
    o = c.new(acct, sym, side, qty, t, max(price, 0.01), **kw)
    end = min(t + life, CLOSE_S - 1)
    if end <= t + 0.02:
        replaces = 0
    if times is None:
        times = np.sort(c.rng.uniform(t + 0.01, end, replaces)) if replaces else []
    for tr in times:
        new_px = max(round(c.touch(sym, side, tr) + sign * offset_ticks * 0.01, 2), 0.01)
        if new_px != o.price or c.rng.random() < 0.3:
            c.log.replace(o, c.us(tr), price=new_px)
    fills = c.rng.random() < fill_prob
    if fills and offset_ticks:  # away from the touch: the market must come to it
        start = float(times[-1]) if len(times) else t
        reached = c.mkt.reaches(sym, side, o.price, start, end)
        end = end if reached is None else min(end, reached + float(c.rng.uniform(0.01, 1.0)))
        fills = reached is not None
    if fills:
        if c.rng.random() < partial and o.leaves > 1:
            c.fill(o, end, max(1, o.leaves // int(c.rng.integers(2, 5))))
            if c.rng.random() < 0.5:
                c.fill(o, min(end + c.rng.exponential(5), CLOSE_S - 0.5))
        else:
            c.fill(o, end)
    if o.open and end < CLOSE_S - 1 and c.rng.random() < 0.9:
        c.log.cancel(o, c.us(end + c.rng.exponential(0.5)))
    return o


def marketable(
    c: Ctx,
    acct: Account,
    sym: str,
    side: str,
    qty: int,
    t: float,
    ioc: bool = False,
    market: bool = False,
    fill_prob: float = 1.0,
    parts: int = 1,
    **kw,
) -> Order:
    """Cross the spread: fill at the far touch, in `parts` executions; IOC rests never."""
    px = c.touch(sym, side, t, far=True)
    if market:
        o = c.new(acct, sym, side, qty, t, None, ord_type="1", **kw)
    else:
        o = c.new(acct, sym, side, qty, t, px, tif="3" if ioc else "0", **kw)
    if o.open and c.rng.random() < fill_prob:
        ft = t + 0.001 + c.rng.exponential(0.003)
        if ioc and c.rng.random() < 0.3 and o.leaves > 1:
            c.fill(o, ft, max(1, o.leaves // 2), px)
        else:
            c.split_fill(o, ft, px, parts)
    if o.open and ioc:
        c.log.cancel_ioc(o, c.us(t + 0.004))
    return o


def round_lot(rng: np.random.Generator, mean: float, odd_share: float = 0.0) -> int:
    """Order size: odd lots (1-99) with `odd_share`, else round lots around `mean`."""
    if odd_share and rng.random() < odd_share:
        return int(rng.integers(1, 100))
    return int(max(1, round(rng.lognormal(np.log(mean), 0.7) / 100)) * 100)
