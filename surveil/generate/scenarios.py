"""Planted market-abuse scenarios and their benign look-alikes: the day's ground truth.

Every planted scenario (label "abuse") has a benign twin (label "lookalike") that shares
most of its shape but misses one condition of the rule, so a loose detector pays in
precision. Both are written to `scenarios.csv`; detection never reads it. The background
flow is built so it holds no instance of any pattern (see flow.py), and scenarios are laid
out so they do not trigger each other's rules (separate owner-symbol pairs; front-running
scenarios own ±27 minutes of their symbol; nothing but marking scenarios trades a symbol's
last 20 minutes, and each marking scenario has its symbol's close to itself: background and
closing-auction orders there are capped in size and, where the scenario pushes, never take
its direction; while symbols last, spoofing, front-running and wash scenarios each get
symbols of their own, whose market their large orders would otherwise be on a small day).

Intended detection rules and parameters (the detectors are built to these):

wash_trade
    A matched cross: fills of one known beneficial owner (one account or linked accounts;
    never an omnibus account, whose owner is unknown) in one symbol, at one price, in a run
    of fills each at most 0.5 s after the one before, buying and selling the same quantity
    in total. Planted: an order of 500–5,000 shares resting 1–20 s, then crossed by the same owner's opposite
    order (or two orders that add up to it, "unequal_fills"), both sides printing at once;
    one account, or two linked accounts. Look-alikes: different owners crossing; the same
    owner 3–20 minutes apart; prices ≥ max(0.4%, 3 ticks) apart; quantities differing by
    100–500 shares; a market maker's round trip (buy a tick under, sell a tick over, 5–90 s
    apart); an omnibus account crossing itself (two of its clients).

spoofing (layering)
    An order of an account fills; before that fill the same account had placed at least 2
    limit orders (not IOC/FOK) in the same symbol on the other side, at most half filled,
    each ≥ 3× the account's median fully-filled order, together ≥ 5× the genuine order and
    ≥ 5× the symbol's median order of the other accounts, cancelled within 30 s after the
    fill. Planted: 3–5 orders of 2,000–6,000 shares placed 1–5 ticks away from the touch
    ("layering"), or three levels each 3–4.5× a genuine order of 300–500 shares
    ("modest_layers", Coscia), or large orders 10–40% filled before the cancel
    ("partly_filled"); the genuine order filled 1–23 s after the layers, the layers
    cancelled 0.3–10 s after the fill. Look-alikes: cancelled 90–600 s after the fill; the
    large orders filled instead of cancelled; the opposite orders only 100–200 shares;
    large orders cancelled but the genuine order never filled.

marking_the_close (version 3: continuous session and closing auction)
    In the last 10 minutes of continuous trading before the session's close (13:00 ET on
    early-close days) and the closing auction print (fills of at-the-close orders,
    TimeInForce 7), an account on balance in one direction, with ≥ 2 continuous fills in the
    window that way and its continuous trading there net that way, trades ≥ 25% of the
    symbol's continuous volume in the window or ≥ 25% of its closing print, and the closing
    price (the print, else the last trade) is ≥ 0.5% from the symbol's first execution in the
    window, the account's way, and ≥ 2.5 times the symbol's typical move over 10 minutes earlier
    that day (the median absolute change between the last prices of successive 10-minute
    buckets before the window, a change over k buckets divided by √k; with fewer than three
    changes, the 0.5% alone). (Measuring from the last execution before
    the window gives the same answer on planted scenarios, which trade just before the
    window, and from about 10,000 orders a day on the background too; on smaller days a thin
    symbol's previous trade can be hours old.) Planted: a small trade 10.5–13 minutes before
    the close, then 3–6 aggressive orders in the last 8 minutes pushing the price 1–2% and at
    least 5–7 times the symbol's 10-minute volatility, sized to about half or more of the
    symbol's closing volume ("push"); or 1–2 at-the-close orders entered in the hour before
    the cut-off, together at least the rest of the symbol's auction volume, and 2–3 small
    marketable orders the same way in the last 2 minutes, the print moved as far from the
    continuous price ("auction", SEC v. Athena, 2014).
    Look-alikes: the same volume bought passively without moving the price; the same push
    25–40 minutes before the close; the same at-the-close orders with the print at the
    continuous price ("auction_flat"). The benign closing-auction population (auction.py)
    adds many more: institutions holding large shares of prints that do not move.

excessive_otr (MiFID II RTS 9 style)
    Per account and symbol with ≥ 20 orders: orders ÷ max(executions, 1) ≥ 20, and ≥ 5× the
    median of that ratio over the day's account-symbol pairs of the same account type,
    leaving out the pairs that are candidates themselves (about 1; market makers' higher).
    Per account across ≥ 2 symbols, when no symbol fired: the same tests on its totals
    against the accounts of its type. Planted: a
    proprietary account sends 21–26 orders in one symbol within 5–25 minutes, cancels each
    within 0.05–3 s, and trades once; or ("spread", version 2) a single-strategy proprietary
    account with no other flow that day sends 2–3 such orders in each of 10–15 symbols (4 in
    the first), 22 or more in all, and trades once. Look-alikes: 21–26 orders of which 6–10 trade (twice as
    often); 6–12 orders with one trade; the spread with one order in three trading.

front_running (version 2: follows the parent order)
    A client account's orders in one symbol and one direction no more than 30 minutes
    apart form one parent; a parent of ≥ 10× the symbol's median order quantity of the day,
    a proprietary account's fills within 5 minutes before its first child in the same
    direction, then fills the other way after the first child and within 30 minutes after
    the last; the proprietary and the client account belong to the same firm; (version 3)
    no fill the other way in the lead window, the fills ahead at least 8× the account's
    median continuous fill in the symbols where it shows no such pattern (not measured
    with fewer than 20 such fills), and at least half of them unwound. Planted: the proprietary account buys (sells)
    1,000–3,000 shares 20–240 s before a client order of
    4,000–15,000 shares (≥ 40× the typical 100 shares) that moves the price 0.2–0.6%, and
    unwinds 2–20 minutes after it; or ahead of a parent worked as 20–40 children of 200–600
    shares over 1–2.5 hours, unwound in 3–5 pieces while it is worked and up to 20 minutes
    after. Look-alikes: the client order only 200–500 shares; the proprietary trade 12–25
    minutes before; no unwind; the proprietary account trading against the client's
    direction first.

Counts: by default about 5 planted scenarios per type (and as many look-alikes) at 1,000
orders, 5 + 5·log10(orders / 1,000) per type above that, fewer on days too small to carry
them; planted orders count towards the day's orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field

import numpy as np

from surveil.errors import BadInputError
from surveil.generate.auction import (
    PRINT_DELAY_US,
    cutoffs,
    expected_orders,
    listing_venues,
    print_prices,
    print_times,
)
from surveil.generate.book import (
    BUY,
    CANCELLED,
    FILLED,
    NO_TIME,
    SELL,
    SHORT,
    Fills,
    Orders,
)
from surveil.generate.flow import MM_SHARE, Constraints, DayContext
from surveil.generate.market import FULL_DAY_S, US_PER_S, Market, Ramp
from surveil.generate.reference import CLIENT, PROPRIETARY

SCENARIO_TYPES = (
    "wash_trade",
    "spoofing",
    "marking_the_close",
    "excessive_otr",
    "front_running",
)
ABUSE, LOOKALIKE = "abuse", "lookalike"

# The intended detection parameters (see the module docstring), named like the detection
# rules' parameters.
RULE_PARAMETERS: dict[str, dict[str, float | int | bool]] = {
    "wash_trade": {"window_s": 0.5, "qty_tolerance_pct": 0.0},
    "spoofing": {
        "layer_multiple": 3.0,
        "size_multiple": 5.0,
        "market_multiple": 5.0,
        "max_filled_share": 0.5,
        "cancel_window_s": 30,
        "min_orders": 2,
        "min_repeats_no_owner": 2,
    },
    "marking_the_close": {
        "window_minutes": 10,
        "min_volume_share": 0.25,
        "min_auction_share": 0.25,
        "min_price_move_pct": 0.5,
        "min_executions": 2,
        "min_move_multiple": 2.5,
    },
    "excessive_otr": {"min_orders": 20, "min_ratio": 20.0, "peer_multiple": 5.0, "min_symbols": 2},
    "front_running": {
        "lead_minutes": 5,
        "client_size_multiple": 10.0,
        "max_child_gap_minutes": 30.0,
        "same_firm": True,
        "min_ahead_multiple": 8.0,
        "min_usual_fills": 20,
        "min_unwind_share": 0.75,
    },
}

# Planted orders per scenario pair (planted + look-alike), to size the default counts.
_FOOTPRINT = {
    "wash_trade": 4,
    "spoofing": 12,
    "marking_the_close": 10,
    "excessive_otr": 40,
    "front_running": 8,
}
MAX_PLANTED_SHARE = 0.4  # default counts keep planted orders under this share of the day

MS = 1_000
SECOND = US_PER_S
MINUTE = 60 * US_PER_S
CLOSING_GUARD = 20 * MINUTE  # no scenario but marking trades a symbol's last 20 minutes
CAP_SHARES = 500  # background order size cap around front running and marked closes


def default_counts(orders: int) -> dict[str, int]:
    per_type = max(0, round(5 + 5 * math.log10(orders / 1_000))) if orders > 0 else 0
    while per_type and per_type * sum(_FOOTPRINT.values()) > MAX_PLANTED_SHARE * orders:
        per_type -= 1
    return dict.fromkeys(SCENARIO_TYPES, per_type)


def resolve_counts(orders: int, requested: dict[str, int] | None) -> dict[str, int]:
    """Planted scenarios per type: the defaults for `orders`, overridden by `requested`."""
    counts = default_counts(orders)
    for name, count in (requested or {}).items():
        if name not in counts:
            raise BadInputError(
                f"unknown scenario type {name!r}; types are {', '.join(SCENARIO_TYPES)}"
            )
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BadInputError(f"scenario count for {name} must be a whole number >= 0")
        counts[name] = count
    return counts


@dataclass
class PlantedOrder:
    account: int
    symbol: int
    side: int
    market: bool
    ioc: bool
    quantity: int
    limit: int  # price units, 0 for market orders
    time_us: int
    status: int
    cancel_us: int = NO_TIME
    fills: list[tuple[int, int, int]] = field(default_factory=list)  # qty, price, time
    in_pattern: bool = True  # False for setup orders (cover flow, a pre-close anchor)
    at_close: bool = False  # MOC/LOC: fills only in the closing print (auction.py)

    @property
    def buy(self) -> bool:
        return self.side == BUY

    def check(self, close_us: int) -> None:
        """The lifecycle rules every generated order obeys (see surveil/validate.py)."""
        cum = sum(q for q, _, _ in self.fills)
        ok = 0 < self.quantity and cum <= self.quantity and self.time_us < close_us
        ok &= (self.status == FILLED) == (cum == self.quantity)
        ok &= (self.status == CANCELLED) == (self.cancel_us != NO_TIME)
        ok &= self.market == (self.limit == 0)
        for qty, price, t in self.fills:
            ok &= qty > 0 and price > 0 and self.time_us <= t
            if self.at_close:
                ok &= close_us <= t < close_us + PRINT_DELAY_US
            else:
                ok &= t < close_us
            if not self.market:
                ok &= price <= self.limit if self.buy else price >= self.limit
        if self.cancel_us != NO_TIME:
            last = max([self.time_us] + [t for _, _, t in self.fills])
            ok &= last <= self.cancel_us < close_us
        if not ok:
            raise RuntimeError(f"planted order breaks the lifecycle rules: {self}")


@dataclass
class Scenario:
    type: str
    label: str
    variant: str
    symbol: int
    accounts: list[int]
    orders: list[PlantedOrder]

    @property
    def start_us(self) -> int:
        return min(o.time_us for o in self.orders if o.in_pattern)


@dataclass
class Plan:
    scenarios: list[Scenario]
    orders: Orders
    fills: Fills
    order_scenario: np.ndarray  # per planted order: its scenario's index, -1 for setup orders
    fill_scenario: np.ndarray

    @property
    def planted_orders(self) -> int:
        return len(self.orders)

    def rows(
        self, day_iso: str, reference_ids: np.ndarray, symbols: np.ndarray,
        order_ids: dict[int, str], exec_ids: dict[int, str],
    ) -> list[str]:  # fmt: skip
        """scenarios.csv lines (without header), ordered by the scenario's first order."""
        pattern_orders: list[list[str]] = [[] for _ in self.scenarios]
        pattern_fills: list[list[str]] = [[] for _ in self.scenarios]
        for ref, scenario in enumerate(self.order_scenario):
            if scenario >= 0:
                pattern_orders[scenario].append(order_ids[ref])
        for ref, scenario in enumerate(self.fill_scenario):
            if scenario >= 0:
                pattern_fills[scenario].append(exec_ids[ref])
        lines = []
        compact = day_iso.replace("-", "")
        for number, (s, cl_ord_ids, fill_ids) in enumerate(
            zip(self.scenarios, pattern_orders, pattern_fills, strict=True), start=1
        ):
            accounts = ",".join(str(reference_ids[a]) for a in s.accounts)
            lines.append(
                f"S{compact}{number:05d},{s.type},{day_iso},{symbols[s.symbol]},"
                f'"{{{accounts}}}","{{{",".join(sorted(cl_ord_ids))}}}",'
                f'"{{{",".join(sorted(fill_ids))}}}",{s.label}'
            )
        return lines


class Crowded(Exception):
    """No room left in the day for another scenario."""


Builder = Callable[[Market], Scenario]


class Planner:
    """Lays scenarios out in the day: symbols, times, accounts, and what the background must
    leave alone; the prices come later, from the market the ramps shape (`build`)."""

    def __init__(self, ctx: DayContext, background_orders: int) -> None:
        self.ctx = ctx
        self.background_orders = background_orders
        self.rng = np.random.default_rng([ctx.seed, ctx.ordinal, 0x5CE])
        self.constraints = Constraints(
            excluded=np.zeros((ctx.reference.n_owners, len(ctx.universe)), dtype=bool)
        )
        self.ramps: list[Ramp] = []
        self.closing_moves: dict[int, float] = {}  # symbol: log move of its closing print
        self.builders: list[Builder] = []
        self.busy: dict[int, list[tuple[int, int]]] = {}
        self.spoofers: set[int] = set()
        self.spoof_symbols: set[int] = set()  # symbols with a spoofing scenario
        self.front_runners: set[int] = set()  # owners of front-running scenarios' props
        self.heavy_symbols: set[int] = set()  # with a front-running scenario's client order
        types = ctx.reference.account_types
        omnibus = ctx.reference.omnibus
        self.clients = np.flatnonzero((types == CLIENT) & ~omnibus)
        self.omnibus = np.flatnonzero(omnibus)
        self.props = np.flatnonzero(types == PROPRIETARY)
        self.mm_symbols = ctx.mm_symbol_set()
        self.open_us, self.close_us = ctx.open_us, ctx.close_us

    # -- placement -------------------------------------------------------------------------
    def between(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, max(hi, lo + 1)))

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def closing_move(self, sym: int, buys: bool) -> float:
        """A marked close's log move: 1-2%, and at least 5-7 times the symbol's typical
        10-minute move (its daily volatility scaled to 10 minutes), so that it stands out
        against the symbol's own moves that day (marking_the_close version 3)."""
        ten_minutes = float(self.ctx.universe.daily_volatility[sym]) * math.sqrt(600 / FULL_DAY_S)
        move = max(self.uniform(0.010, 0.020), self.uniform(5.0, 7.0) * ten_minutes)
        return move if buys else -move

    def lots(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1)) * 100

    def free(self, symbol: int, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.busy.get(symbol, []))

    def reserve(self, symbol: int, start: int, end: int) -> None:
        self.busy.setdefault(symbol, []).append((start, end))

    def place(
        self, pool: np.ndarray, earliest: int, latest: int, before: int, after: int
    ) -> tuple[int, int]:
        """A symbol from `pool` and a time T in [earliest, latest] with [T-before, T+after]
        free in that symbol; reserves it."""
        for _ in range(400):
            symbol = int(self.rng.choice(pool))
            t = self.between(earliest, latest)
            if self.free(symbol, t - before, t + after):
                self.reserve(symbol, t - before, t + after)
                return symbol, t
        raise Crowded

    def place_avoiding(
        self, pool: np.ndarray, avoid: set[int], earliest: int, latest: int, before: int,
        after: int,
    ) -> tuple[int, int]:  # fmt: skip
        """`place` in a symbol of `pool` outside `avoid` while one has room, else anywhere in
        `pool`: on a small day one scenario's large orders in another's symbol would be
        most of the symbol's orders, the market its rule weighs orders against."""
        kept = np.array([s for s in pool.tolist() if s not in avoid], dtype=pool.dtype)
        if len(kept):
            try:
                return self.place(kept, earliest, latest, before, after)
            except Crowded:
                pass
        return self.place(pool, earliest, latest, before, after)

    def owner_free(self, account: int, symbol: int) -> bool:
        return not self.constraints.excluded[self.ctx.owner[account], symbol]

    def claim(self, accounts: list[int], symbol: int) -> None:
        for a in accounts:
            self.constraints.excluded[self.ctx.owner[a], symbol] = True

    def free_accounts(self, pool: np.ndarray, symbol: int) -> np.ndarray:
        """The accounts of `pool` whose owners may still trade `symbol`, in pool order."""
        free: np.ndarray = pool[~self.constraints.excluded[self.ctx.owner[pool], symbol]]
        return free

    def pick(self, pool: np.ndarray, symbol: int, avoid_owners: Set[int] = frozenset()) -> int:
        candidates = self.free_accounts(pool, symbol)
        if avoid_owners:
            avoided = np.isin(self.ctx.owner[candidates], list(avoid_owners))
            candidates = candidates[~avoided]
        if not len(candidates):
            raise Crowded
        return int(self.rng.choice(candidates))

    def symbols(self, top: int | None = None) -> np.ndarray:
        return np.arange(min(top or len(self.ctx.universe), len(self.ctx.universe)))

    def day_window(self, span: int) -> tuple[int, int]:
        """Earliest and latest start of a scenario lasting `span` that ends before the
        closing guard."""
        return self.open_us + 5 * MINUTE, self.close_us - CLOSING_GUARD - span

    def sell_side(self) -> int:
        return SHORT if self.rng.random() < 0.15 else SELL

    # -- scenario types --------------------------------------------------------------------
    def wash_trade(self, label: str, variant: str) -> None:
        earliest, latest = self.day_window(22 * MINUTE)
        slow = variant in ("too_slow", "round_trip")
        sym, t = self.place_avoiding(
            self.symbols(60), self.spoof_symbols | self.heavy_symbols, earliest, latest, MINUTE,
            (22 if slow else 2) * MINUTE,
        )  # fmt: skip
        first_account, second_account = self._wash_accounts(variant, sym)
        self.claim([first_account, second_account], sym)
        quantity = self.lots(5, 50)
        if variant == "too_slow":
            gap = self.between(3 * MINUTE, 20 * MINUTE)
        elif variant == "round_trip":
            gap = self.between(5 * SECOND, 90 * SECOND)
        else:
            gap = self.between(1 * SECOND, 20 * SECOND)
        second_quantity = quantity + (self.lots(1, 5) if variant == "qty_differs" else 0)
        # unequal_fills: the second side arrives as two orders that add up to the first.
        pieces = _split_lots(quantity, 2, self.rng) if variant == "unequal_fills" else [quantity]
        first_buys = bool(self.rng.random() < 0.5)
        # A cross: the first order rests, the second crosses it, both fill at once. The
        # look-alikes that are not crosses fill each order on its own.
        crossing = variant not in ("too_slow", "round_trip", "price_apart", "qty_differs")
        first_side = BUY if first_buys else self.sell_side()
        second_side = self.sell_side() if first_buys else BUY
        latency = self.between(50, 800)
        self_gap_us = self.between(5 * MS, 40 * MS)  # between the pieces of the second side

        def build(m: Market) -> Scenario:
            tick = int(m.universe.tick[sym])
            price = m.near(sym, t)
            first_price = second_price = price
            if variant == "too_slow":
                second_price = m.near(sym, t + gap)
            elif variant in ("price_apart", "round_trip"):
                apart = (
                    max(round(0.004 * price / tick / 2) + 1, 2) * tick
                    if variant == "price_apart"
                    else tick  # a market maker's bid and offer, a tick either side
                )
                buy_price, sell_price = price - apart, price + apart
                first_price, second_price = (
                    (buy_price, sell_price) if first_buys else (sell_price, buy_price)
                )
            second_at = t + gap
            seconds = pieces if second_quantity == quantity else [second_quantity]
            piece_at = [second_at + k * self_gap_us for k in range(len(seconds))]
            if crossing:  # each piece trades against the resting first order, at once
                first = _filled(first_account, sym, first_side, quantity, first_price, t, 0)
                first.fills = [
                    (piece, first_price, at + latency)
                    for piece, at in zip(seconds, piece_at, strict=True)
                ]
            else:
                first = _filled(first_account, sym, first_side, quantity, first_price, t,
                                t + latency)  # fmt: skip
            orders = [first]
            for piece, at in zip(seconds, piece_at, strict=True):
                orders.append(
                    _filled(second_account, sym, second_side, piece, second_price, at, at + latency)
                )
            accounts = sorted({first_account, second_account})
            return Scenario("wash_trade", label, variant, sym, accounts, orders)

        self.builders.append(build)

    def _wash_accounts(self, variant: str, sym: int) -> tuple[int, int]:
        """The two accounts of a wash scenario: one account, two linked accounts of one
        owner, two owners, or an omnibus account (no known owner) on both sides."""
        if variant == "different_owners":
            first = self.pick(self.clients, sym)
            return first, self.pick(self.clients, sym, {int(self.ctx.owner[first])})
        if variant == "omnibus":
            omnibus = self.free_accounts(self.omnibus, sym)
            if not len(omnibus):
                raise Crowded
            account = int(self.rng.choice(omnibus))
            return account, account
        linked_owners = self._linked_client_owners(sym)
        if variant == "linked" and linked_owners:
            owner = int(self.rng.choice(linked_owners))
            accounts = [int(a) for a in self.clients if self.ctx.owner[a] == owner]
            first, second = (int(a) for a in self.rng.choice(accounts, 2, replace=False))
            return first, second
        account = self.pick(self.clients, sym)
        return account, account

    def _linked_client_owners(self, symbol: int) -> list[int]:
        owners, accounts = np.unique(
            self.ctx.owner[self.free_accounts(self.clients, symbol)], return_counts=True
        )
        linked: list[int] = owners[accounts >= 2].tolist()
        return linked

    def spoofing(self, label: str, variant: str) -> None:
        earliest, latest = self.day_window(12 * MINUTE)
        candidates = [int(a) for a in self.clients if int(a) not in self.spoofers]
        if not candidates:
            raise Crowded
        # The busiest accounts first: their own flow keeps their median order small.
        account = candidates[0]
        self.spoofers.add(account)
        sym, t = self._place_for(
            account, self.symbols(60), earliest, latest, MINUTE, 12 * MINUTE,
            avoid=self.spoof_symbols | self.heavy_symbols,
        )  # fmt: skip
        self.spoof_symbols.add(sym)
        self.claim([account], sym)
        genuine_buys = bool(self.rng.random() < 0.5)
        layers = int(self.rng.integers(3, 6))
        genuine_qty = self.lots(3, 5) if variant == "modest_layers" else self.lots(1, 3)
        if variant == "modest_layers":  # Coscia: three levels, each 3-7x the genuine order
            layers = 3
            layer_qty = [
                round(genuine_qty * self.uniform(3.0, 4.5) / 100) * 100 for _ in range(layers)
            ]
        elif variant == "not_large":
            layer_qty = [self.lots(1, 2) for _ in range(layers)]
        else:
            layer_qty = [self.lots(20, 60) for _ in range(layers)]
        layer_at = t + np.cumsum([self.between(200 * MS, 2 * SECOND) for _ in range(layers)])
        layer_away = sorted(int(k) for k in self.rng.integers(1, 6, layers))
        genuine_at = int(layer_at[-1]) + self.between(1 * SECOND, 15 * SECOND)
        fill_at = genuine_at + self.between(300 * MS, 8 * SECOND)
        if variant == "too_slow":
            cancels = sorted(
                fill_at + self.between(90 * SECOND, 600 * SECOND) for _ in range(layers)
            )
        elif variant == "no_fill":
            cancels = sorted(
                genuine_at + self.between(3 * SECOND, 14 * SECOND) for _ in range(layers)
            )
        else:
            cancels = sorted(fill_at + self.between(300 * MS, 10 * SECOND) for _ in range(layers))
        layer_fills = [fill_at + self.between(2 * SECOND, 60 * SECOND) for _ in range(layers)]
        genuine_cancel = genuine_at + self.between(2 * SECOND, 12 * SECOND)
        genuine_side = BUY if genuine_buys else self.sell_side()
        layer_side = self.sell_side() if genuine_buys else BUY
        cover = self._cover_orders(account, sym, layers)

        def build(m: Market) -> Scenario:
            tick = int(m.universe.tick[sym])
            orders = []
            for qty, at, away, cancel, filled_at in zip(
                layer_qty, layer_at, layer_away, cancels, layer_fills, strict=True
            ):
                # The layer stays on the far side of the book until it is cancelled: had the
                # quotes moved through it, it would have traded.
                quotes = [m.quotes(sym, when) for when in (int(at), genuine_at, fill_at)]
                if layer_side != BUY:
                    limit = max(int(ask) for _, ask in quotes) + away * tick
                else:
                    limit = min(int(bid) for bid, _ in quotes) - away * tick
                limit = max(limit, tick)
                if variant == "filled":
                    orders.append(_filled(account, sym, layer_side, qty, limit, int(at), filled_at))
                elif variant == "partly_filled":  # some of the spoof order trades first
                    part = max(100, round(qty * self.uniform(0.1, 0.4) / 100) * 100)
                    order = _cancelled(account, sym, layer_side, qty, limit, int(at), cancel)
                    order.fills = [(part, limit, (int(at) + cancel) // 2)]
                    orders.append(order)
                else:
                    orders.append(_cancelled(account, sym, layer_side, qty, limit, int(at), cancel))
            bid, ask = m.quotes(sym, genuine_at)
            limit = int(bid) if genuine_side == BUY else int(ask)
            if variant == "no_fill":
                orders.append(
                    _cancelled(account, sym, genuine_side, genuine_qty, limit, genuine_at,
                               genuine_cancel)
                )  # fmt: skip
            else:
                orders.append(
                    _filled(account, sym, genuine_side, genuine_qty, limit, genuine_at, fill_at)
                )
            return Scenario(
                "spoofing", label, variant, sym, [account], orders + [c(m) for c in cover]
            )

        self.builders.append(build)

    def _place_for(
        self, account: int, pool: np.ndarray, earliest: int, latest: int, before: int,
        after: int, avoid: Set[int] = frozenset(),
    ) -> tuple[int, int]:  # fmt: skip
        usable = np.array([s for s in pool if self.owner_free(account, int(s))])
        if len(usable) == 0:
            raise Crowded
        return self.place_avoiding(usable, set(avoid), earliest, latest, before, after)

    def _cover_orders(
        self, account: int, symbol: int, large_orders: int
    ) -> list[Callable[[Market], PlantedOrder]]:
        """Ordinary small orders for a spoofing account with little flow of its own, so that
        its median order stays small (2,000 shares must be ≥ 5× it, with room to spare)."""
        expected = self.ctx.expected_orders(account, self.background_orders)
        # At least three: a thin account's few fills of its own are a noisy median.
        count = max(3, large_orders + 3 - int(expected // 2))
        made: list[Callable[[Market], PlantedOrder]] = []
        earliest, latest = self.day_window(3 * MINUTE)
        for _ in range(count):
            for _attempt in range(100):
                sym = int(self.rng.integers(0, len(self.ctx.universe)))
                if sym != symbol and self.owner_free(account, sym):
                    break
            else:
                raise Crowded
            self.claim([account], sym)
            buy = bool(self.ctx.buys[self.ctx.owner[account], sym])
            side = BUY if buy else SELL
            qty = self.lots(1, 2)
            at = self.between(earliest, latest)
            filled = self.rng.random() < 0.8
            later = at + self.between(1 * SECOND, 90 * SECOND)

            def make(
                m: Market, sym: int = sym, side: int = side, qty: int = qty, at: int = at,
                filled: bool = filled, later: int = later,
            ) -> PlantedOrder:  # fmt: skip
                bid, ask = m.quotes(sym, at)
                limit = int(bid) if side == BUY else int(ask)
                if filled:
                    order = _filled(account, sym, side, qty, limit, at, later)
                else:
                    order = _cancelled(account, sym, side, qty, limit, at, later)
                order.in_pattern = False
                return order

            made.append(make)
        return made

    def marking_the_close(self, label: str, variant: str) -> None:
        pool = np.array(
            [s for s in self.symbols()[40:] if int(s) not in self.mm_symbols], dtype=np.int64
        )
        start = self.close_us - 45 * MINUTE
        pool = np.array([s for s in pool if self.free(int(s), start, self.close_us)])
        if len(pool) == 0:
            raise Crowded
        sym = int(self.rng.choice(pool))
        self.reserve(sym, start, self.close_us)
        account = self.pick(self.clients, sym)
        self.claim([account], sym)
        buys = bool(self.rng.random() < 0.6)
        side = BUY if buys else self.sell_side()
        if variant.startswith("auction"):
            self._marking_through_auction(label, variant, sym, account, side)
            return
        window_orders = (
            self.background_orders
            * (1 - MM_SHARE)
            * float(self.ctx.universe.weights[sym])
            * self.ctx.profile.mass(self.close_us - 13 * MINUTE, self.close_us)
        )
        share = 0.5 if variant == "push" else 0.75
        total = max(3_000, int(share * window_orders * CAP_SHARES) // 100 * 100)
        count = int(self.rng.integers(3, 7))
        sizes = _split_lots(total, count, self.rng)
        if variant == "early":
            times = sorted(
                self.between(self.close_us - 40 * MINUTE, self.close_us - 25 * MINUTE)
                for _ in range(count)
            )
        elif variant == "flat":
            times = sorted(
                self.between(self.close_us - 9 * MINUTE, self.close_us - 30 * SECOND)
                for _ in range(count)
            )
        else:
            times = sorted(
                self.between(self.close_us - 8 * MINUTE, self.close_us - 15 * SECOND)
                for _ in range(count)
            )
        if variant != "early":
            closing = (sym, self.close_us - 15 * MINUTE, self.close_us + 1)
            self.constraints.caps.append((*closing, CAP_SHARES))
            if variant == "push":
                self.constraints.one_way.append((*closing, buys))
        if variant in ("push", "early"):
            self.ramps.append(Ramp(sym, times[0], times[-1], self.closing_move(sym, buys)))
        anchor_at = self.between(
            self.close_us - 13 * MINUTE, self.close_us - 10 * MINUTE - 30 * SECOND
        )
        anchor_qty = self.lots(1, 3)
        latencies = [self.between(100, 3 * MS) for _ in range(count)]
        two_fills = [bool(self.rng.random() < 0.5) for _ in range(count)]
        market_orders = [bool(self.rng.random() < 0.3) for _ in range(count)]
        passive_delay = [self.between(2 * SECOND, 20 * SECOND) for _ in range(count)]

        def build(m: Market) -> Scenario:
            tick = int(m.universe.tick[sym])
            orders = []
            if variant != "early":
                touch = m.touch(sym, anchor_at, buys)
                anchor = _filled(account, sym, side, anchor_qty, touch, anchor_at, anchor_at + 500)
                anchor.market, anchor.ioc = False, True
                anchor.in_pattern = False
                orders.append(anchor)
            for qty, at, latency, split, is_market, delay in zip(
                sizes, times, latencies, two_fills, market_orders, passive_delay, strict=True
            ):
                if variant == "flat":
                    bid, ask = m.quotes(sym, at)
                    limit = int(bid) if buys else int(ask)
                    done = min(at + delay, self.close_us - 1)
                    orders.append(_filled(account, sym, side, qty, limit, at, done, split=split))
                    continue
                fill_at = at + latency
                touch = m.touch(sym, fill_at, buys)
                second = touch + (tick if buys else -tick) if split else touch
                bound = max(second, touch)
                limit = (
                    0 if is_market else _round_away(bound * (1.005 if buys else 0.995), tick, buys)
                )
                fills = [(qty, touch, fill_at)]
                if split and qty >= 200:
                    half = qty // 200 * 100
                    fills = [(half, touch, fill_at), (qty - half, max(second, tick), fill_at + 200)]
                orders.append(
                    PlantedOrder(account, sym, side, is_market, False, qty, limit, at, FILLED,
                                 fills=fills)
                )  # fmt: skip
            return Scenario("marking_the_close", label, variant, sym, [account], orders)

        self.builders.append(build)

    def _marking_through_auction(
        self, label: str, variant: str, sym: int, account: int, side: int
    ) -> None:
        """Marking the close through the closing auction (Athena, SEC 2014: a large
        auction-only order, then continuous orders the same way in the last seconds): 1-2
        at-the-close orders entered in the hour before the cut-off, together at least the
        rest of the symbol's auction volume, and 2-3 small marketable orders the same way
        in the last 2 minutes; the print comes `closing_move` from the continuous price, the
        account's way ("auction"), or at it ("auction_flat", big benign close flow)."""
        buys = side == BUY
        expected = expected_orders(self.background_orders, float(self.ctx.universe.weights[sym]))
        total = max(3_000, int(expected * CAP_SHARES) // 100 * 100)
        closing = (sym, self.close_us - 15 * MINUTE, self.close_us + 1)
        self.constraints.caps.append((*closing, CAP_SHARES))
        self.constraints.one_way.append((*closing, buys))
        if variant == "auction":
            self.closing_moves[sym] = self.closing_move(sym, buys)
        sizes = _split_lots(total, int(self.rng.integers(1, 3)), self.rng)
        moc = [bool(self.rng.random() < 0.6) for _ in sizes]
        cutoff = [int(cutoffs(self.ctx, np.array([sym]), np.array([m]))[0]) for m in moc]
        entries = [self.between(c - 60 * MINUTE, c - SECOND) for c in cutoff]
        # Athena's push: 2-3 marketable orders the same way in the last two minutes (one
        # continuous fill beside an at-the-close order is not marking, version 3).
        late = [self.between(self.close_us - 2 * MINUTE, self.close_us - 5 * SECOND)
                for _ in range(int(self.rng.integers(2, 4)))]  # fmt: skip
        late_qty = [self.lots(1, 3) for _ in late]

        def build(m: Market) -> Scenario:
            price = int(print_prices(m, self.closing_moves)[sym])
            at = int(print_times(self.ctx)[sym])
            tick = int(m.universe.tick[sym])
            orders = []
            for qty, entry, is_moc in zip(sizes, entries, moc, strict=True):
                # A LOC's limit 1% through where it prints: it fills.
                limit = 0 if is_moc else _round_away(price * (1.01 if buys else 0.99), tick, buys)
                order = PlantedOrder(account, sym, side, is_moc, False, qty, limit, entry,
                                     FILLED, fills=[(qty, price, at)], at_close=True)  # fmt: skip
                orders.append(order)
            for qty, entry in zip(late_qty, late, strict=True):
                touch = m.touch(sym, entry + 300, buys)
                order = _filled(account, sym, side, qty, touch, entry, entry + 300)
                order.ioc = True
                orders.append(order)
            return Scenario("marking_the_close", label, variant, sym, [account], orders)

        self.builders.append(build)

    def excessive_otr(self, label: str, variant: str) -> None:
        if variant in ("spread", "spread_filling"):
            try:
                self._otr_spread(label, variant)
                return
            except Crowded:  # no idle proprietary account or symbols left: one symbol
                variant = "stuffing" if variant == "spread" else "filling"
        burst = self.between(5 * MINUTE, 25 * MINUTE)
        earliest, latest = self.day_window(burst + 2 * MINUTE)
        sym, t = self.place(self.symbols(60), earliest, latest, MINUTE, burst + MINUTE)
        account = self.pick(self.props, sym)
        self.claim([account], sym)
        count = int(self.rng.integers(6, 13) if variant == "below" else self.rng.integers(21, 27))
        trades = int(self.rng.integers(6, 11)) if variant == "filling" else 1
        filled = set(self.rng.choice(count, trades, replace=False).tolist())
        buys = bool(self.ctx.buys[self.ctx.owner[account], sym])
        side = BUY if buys else SELL
        times = sorted(self.between(t, t + burst) for _ in range(count))
        lives = [self.between(50 * MS, 3 * SECOND) for _ in range(count)]
        sizes = [self.lots(1, 3) for _ in range(count)]
        behind = [int(k) for k in self.rng.choice(2, count, p=(0.7, 0.3))]

        def build(m: Market) -> Scenario:
            tick = int(m.universe.tick[sym])
            orders = []
            for i, (at, life, qty, back) in enumerate(
                zip(times, lives, sizes, behind, strict=True)
            ):
                bid, ask = m.quotes(sym, at)
                limit = int(bid) - back * tick if buys else int(ask) + back * tick
                limit = max(limit, tick)
                if i in filled:
                    orders.append(_filled(account, sym, side, qty, limit, at, at + life))
                else:
                    orders.append(_cancelled(account, sym, side, qty, limit, at, at + life))
            return Scenario("excessive_otr", label, variant, sym, [account], orders)

        self.builders.append(build)

    def _otr_spread(self, label: str, variant: str) -> None:
        """A single-strategy proprietary account (no other flow today) sends 2-3 orders in
        each of 10-15 symbols and 4 in the first, within 5-25 minutes, each cancelled within
        0.05-3 s: no symbol reaches 20 orders, the account does. It trades once ("spread"),
        or one order in three ("spread_filling", the look-alike)."""
        burst = self.between(5 * MINUTE, 25 * MINUTE)
        earliest, latest = self.day_window(burst + 2 * MINUTE)
        first, t = self.place(self.symbols(60), earliest, latest, MINUTE, burst + MINUTE)
        owners = self.ctx.owner[self.props]
        idle = self.props[~self.constraints.excluded[owners].any(axis=1)]
        account = self.pick(idle, first)
        self.constraints.excluded[self.ctx.owner[account], :] = True  # its only flow today
        wanted = self.between(10, 16)
        chosen = [first]
        for sym in self.rng.permutation(self.symbols(60)).tolist():
            if len(chosen) == wanted:
                break
            if sym != first and self.free(sym, t - MINUTE, t + burst + MINUTE):
                self.reserve(sym, t - MINUTE, t + burst + MINUTE)
                chosen.append(int(sym))
        if len(chosen) < 10:
            raise Crowded
        plan = [(sym, 4 if sym == first else self.between(2, 4)) for sym in chosen]
        count = sum(n for _, n in plan)
        trades = count // 3 if variant == "spread_filling" else 1
        filled = set(self.rng.choice(count, trades, replace=False).tolist())
        draws = [
            (sym, self.between(t, t + burst), self.between(50 * MS, 3 * SECOND), self.lots(1, 3),
             int(self.rng.integers(0, 2)), bool(self.rng.random() < 0.5))
            for sym, n in plan for _ in range(n)
        ]  # fmt: skip

        def build(m: Market) -> Scenario:
            orders = []
            for i, (sym, at, life, qty, back, buys) in enumerate(draws):
                tick = int(m.universe.tick[sym])
                bid, ask = m.quotes(sym, at)
                limit = max(int(bid) - back * tick if buys else int(ask) + back * tick, tick)
                make = _filled if i in filled else _cancelled
                orders.append(make(account, sym, BUY if buys else SELL, qty, limit, at, at + life))
            return Scenario("excessive_otr", label, variant, first, [account], orders)

        self.builders.append(build)

    def front_running(self, label: str, variant: str) -> None:
        worked = variant == "worked"
        # A worked parent's children go out over one to two and a half hours.
        span = self.between(60 * MINUTE, 150 * MINUTE) if worked else 0
        earliest = self.open_us + 30 * MINUTE
        latest = self.close_us - 55 * MINUTE - span
        after = 27 * MINUTE + span
        sym, t = self.place_avoiding(
            self.symbols(30), self.heavy_symbols, earliest, latest, 27 * MINUTE, after
        )
        self.heavy_symbols.add(sym)
        firms, owner = self.ctx.reference.account_firm, self.ctx.owner
        free_clients = self.free_accounts(self.clients, sym)
        # A proprietary owner of its own per scenario while they last: another scenario's
        # large trades would be the usual size its fills ahead are weighed against.
        props = self.rng.permutation(self.props)
        fresh = ~np.isin(self.ctx.owner[props], list(self.front_runners))
        for prop in np.concatenate([props[fresh], props[~fresh]]):
            prop = int(prop)
            if not self.owner_free(prop, sym):
                continue
            same_firm = free_clients[
                (firms[free_clients] == firms[prop]) & (owner[free_clients] != owner[prop])
            ]
            if len(same_firm):
                client = int(self.rng.choice(same_firm))
                break
        else:
            raise Crowded
        self.claim([prop, client], sym)
        self.front_runners.add(int(self.ctx.owner[prop]))
        self.constraints.caps.append((sym, t - 27 * MINUTE, t + after, CAP_SHARES))
        client_buys = bool(self.rng.random() < 0.55)
        client_side = BUY if client_buys else self.sell_side()
        ahead_buys = client_buys if variant != "opposite" else not client_buys
        lead = (
            self.between(12 * MINUTE, 25 * MINUTE)
            if variant == "too_early"
            else self.between(20 * SECOND, 240 * SECOND)
        )
        ahead_qty = self.lots(10, 30)
        client_qty = self.lots(2, 5) if variant == "small_client" else self.lots(40, 150)
        client_fills = int(self.rng.integers(3, 7))
        client_span = span or self.between(30 * SECOND, 300 * SECOND)
        client_sizes = _split_lots(client_qty, client_fills, self.rng)
        client_times = sorted(self.between(t + 100, t + client_span) for _ in client_sizes)
        # Worked: children of 2-6 lots, evenly spaced (TWAP) with jitter, the first at t.
        children = int(self.rng.integers(20, 41)) if worked else 0
        child_sizes = [self.lots(2, 6) for _ in range(children)]
        child_times = [
            t + (span * k + (self.between(0, span // children) if k else 0)) // children
            for k in range(children)
        ]
        impact = self.uniform(0.002, 0.006) * (1 if client_buys else -1)
        if variant != "small_client":
            self.ramps.append(Ramp(sym, t, t + client_span, impact))
        unwind_at = t + self.between(2 * MINUTE, 20 * MINUTE)
        unwind_sizes = _split_lots(ahead_qty, 1 if self.rng.random() < 0.6 else 2, self.rng)
        if worked:  # sold into the rest of the parent, in pieces over the afternoon
            unwind_sizes = _split_lots(ahead_qty, int(self.rng.integers(3, 6)), self.rng)
        unwind_times = (
            sorted(self.between(t + 10 * MINUTE, t + span + 20 * MINUTE) for _ in unwind_sizes)
            if worked
            else [unwind_at + k * 40 * SECOND for k in range(len(unwind_sizes))]
        )
        ahead_market = bool(self.rng.random() < 0.5)

        def side_of(buy: bool) -> int:
            return BUY if buy else SELL

        def aggressive(buy: bool, qty: int, at: int, m: Market, market: bool) -> PlantedOrder:
            touch = m.touch(sym, at + 300, buy)
            tick = int(m.universe.tick[sym])
            limit = 0 if market else _round_away(touch * (1.002 if buy else 0.998), tick, buy)
            order = _filled(prop, sym, side_of(buy), qty, touch, at, at + 300)
            order.market, order.limit, order.ioc = market, limit, not market
            return order

        def build(m: Market) -> Scenario:
            tick = int(m.universe.tick[sym])
            orders = [aggressive(ahead_buys, ahead_qty, t - lead, m, ahead_market)]
            if worked:
                orders += [
                    child(qty, at, m) for qty, at in zip(child_sizes, child_times, strict=True)
                ]
                for qty, at in zip(unwind_sizes, unwind_times, strict=True):
                    orders.append(aggressive(not ahead_buys, qty, at, m, True))
                return Scenario("front_running", label, variant, sym, [prop, client], orders)
            touch = m.touch(sym, t, client_buys)
            fills = [
                (qty, m.touch(sym, at, client_buys), at)
                for qty, at in zip(client_sizes, client_times, strict=True)
            ]
            # 1% through the touch, or through the worst fill where the client's own impact
            # and the walk moved the price further within the fills' minutes.
            prices = [price for _, price, _ in fills]
            through = max(touch * 1.01, *prices) if client_buys else min(touch * 0.99, *prices)
            limit = _round_away(through, tick, client_buys)
            orders.append(
                PlantedOrder(client, sym, client_side, False, False, client_qty, limit, t, FILLED,
                             fills=fills)
            )  # fmt: skip
            if variant != "no_unwind":
                for qty, at in zip(unwind_sizes, unwind_times, strict=True):
                    orders.append(aggressive(not ahead_buys, qty, at, m, True))
            return Scenario("front_running", label, variant, sym, [prop, client], orders)

        def child(qty: int, at: int, m: Market) -> PlantedOrder:
            """A child of the client's parent: a marketable limit filled at the touch."""
            touch = m.touch(sym, at + 200, client_buys)
            tick = int(m.universe.tick[sym])
            limit = _round_away(touch * (1.005 if client_buys else 0.995), tick, client_buys)
            order = _filled(client, sym, client_side, qty, touch, at, at + 200)
            order.limit = limit
            return order

        self.builders.append(build)


VARIANTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (planted variants, look-alike variants), used in turn
    "wash_trade": (
        ("same_account", "linked", "unequal_fills"),
        ("different_owners", "too_slow", "price_apart", "qty_differs", "round_trip", "omnibus"),
    ),
    "spoofing": (
        ("layering", "modest_layers", "partly_filled"),
        ("too_slow", "filled", "not_large", "no_fill"),
    ),
    "marking_the_close": (("push", "auction"), ("flat", "early", "auction_flat")),
    "excessive_otr": (("stuffing", "spread"), ("filling", "below", "filling", "spread_filling")),
    "front_running": (("ahead", "worked"), ("small_client", "too_early", "no_unwind", "opposite")),
}  # fmt: skip
# Layout order: the scarcest resources first (a symbol's close, long front-running windows).
LAYOUT_ORDER = ("marking_the_close", "front_running", "spoofing", "excessive_otr", "wash_trade")


def plan_scenarios(
    ctx: DayContext, orders: int, counts: dict[str, int], lookalikes: int = 1
) -> tuple[Planner, Callable[[Market], Plan]]:
    """Lay the day's scenarios out, each planted scenario with `lookalikes` benign twins.
    Returns the planner (its constraints and ramps shape the background and the market) and
    a function that builds the planted orders once the market exists."""
    pairs = sum(_FOOTPRINT[t] * c for t, c in counts.items())
    estimate = pairs * (1 + lookalikes) // 4 * 2
    planner = Planner(ctx, max(orders - estimate, 0))
    try:
        for kind in LAYOUT_ORDER:
            planted, variants = VARIANTS[kind]
            if not len(planner.omnibus):  # a day generated --without omnibus
                variants = tuple(v for v in variants if v != "omnibus")
            offset = int(planner.rng.integers(0, len(variants)))
            for i in range(counts.get(kind, 0)):
                getattr(planner, kind)(ABUSE, planted[i % len(planted)])
                for j in range(i * lookalikes, (i + 1) * lookalikes):
                    getattr(planner, kind)(LOOKALIKE, variants[(j + offset) % len(variants)])
    except Crowded:
        raise BadInputError(
            f"too many scenarios for one day ({', '.join(f'{k}={v}' for k, v in counts.items())}); "
            "ask for fewer"
        ) from None

    def build(market: Market) -> Plan:
        scenarios = sorted(
            (b(market) for b in planner.builders), key=lambda s: (s.start_us, s.type, s.label)
        )
        return _to_arrays(scenarios, ctx)

    return planner, build


def _to_arrays(scenarios: list[Scenario], ctx: DayContext) -> Plan:
    rows: list[PlantedOrder] = []
    order_scenario: list[int] = []
    for number, s in enumerate(scenarios):
        for o in s.orders:
            o.check(ctx.close_us)
            rows.append(o)
            order_scenario.append(number if o.in_pattern else -1)
    fills = [(i, q, p, t) for i, o in enumerate(rows) for q, p, t in o.fills]
    fill_scenario = [order_scenario[i] for i, *_ in fills]
    venue_rng = np.random.default_rng([ctx.seed, ctx.ordinal, 0x7E])
    fill_symbols = np.array([rows[i].symbol for i, *_ in fills], dtype=np.int64)
    venue = ctx.universe.venues(venue_rng, fill_symbols)
    at_close = np.array([rows[i].at_close for i, *_ in fills], dtype=bool)
    venue[at_close] = listing_venues(ctx.universe)[fill_symbols[at_close]]
    _one_venue_per_cross(scenarios, [i for i, *_ in fills], venue)

    def column(values: Sequence[int], dtype: type = np.int64) -> np.ndarray:
        return np.array(values, dtype=dtype)

    orders = Orders(
        account=column([o.account for o in rows]),
        symbol=column([o.symbol for o in rows]),
        side=column([o.side for o in rows]),
        market=column([o.market for o in rows], bool),
        ioc=column([o.ioc for o in rows], bool),
        quantity=column([o.quantity for o in rows]),
        limit=column([o.limit for o in rows]),
        time_us=column([o.time_us for o in rows]),
        status=column([o.status for o in rows]),
        cum=column([sum(q for q, _, _ in o.fills) for o in rows]),
        cancel_us=column([o.cancel_us for o in rows]),
        ref=np.arange(len(rows), dtype=np.int64),
        at_close=column([o.at_close for o in rows], bool),
    )
    fill_block = Fills(
        order=column([f[0] for f in fills]),
        quantity=column([f[1] for f in fills]),
        price=column([f[2] for f in fills]),
        venue=venue.astype(np.int64),
        time_us=column([f[3] for f in fills]),
        ref=np.arange(len(fills), dtype=np.int64),
    )
    return Plan(scenarios, orders, fill_block, column(order_scenario), column(fill_scenario))


def _one_venue_per_cross(
    scenarios: list[Scenario], fill_orders: list[int], venue: np.ndarray
) -> None:
    """Both sides of a cross print on the venue that matched them: every fill of a wash
    scenario (planted or look-alike) takes the venue of its first fill, in place."""
    scenario_of = [number for number, s in enumerate(scenarios) for _ in s.orders]
    first: dict[int, int] = {}
    for k, order in enumerate(fill_orders):
        number = scenario_of[order]
        if scenarios[number].type == "wash_trade":
            venue[k] = first.setdefault(number, int(venue[k]))


def _filled(
    account: int, symbol: int, side: int, quantity: int, limit: int, at: int, fill_at: int,
    *, split: bool = False,
) -> PlantedOrder:  # fmt: skip
    """A limit order filled in full at its limit (in two fills when `split`)."""
    fills = [(quantity, limit, fill_at)]
    if split and quantity >= 200:
        half = quantity // 200 * 100
        fills = [(half, limit, fill_at), (quantity - half, limit, fill_at + 1_500 * MS)]
    return PlantedOrder(account, symbol, side, False, False, quantity, limit, at, FILLED,
                        fills=fills)  # fmt: skip


def _cancelled(
    account: int, symbol: int, side: int, quantity: int, limit: int, at: int, cancel_at: int
) -> PlantedOrder:
    return PlantedOrder(
        account, symbol, side, False, False, quantity, limit, at, CANCELLED, cancel_us=cancel_at
    )


def _split_lots(total: int, parts: int, rng: np.random.Generator) -> list[int]:
    """`total` shares (a multiple of 100) in `parts` round-lot pieces, none empty."""
    lots = total // 100
    parts = max(1, min(parts, lots))
    cuts: np.ndarray | list[int] = (
        np.sort(rng.choice(np.arange(1, lots), parts - 1, replace=False)) if parts > 1 else []
    )
    edges = [0, *[int(c) for c in cuts], lots]
    return [(edges[i + 1] - edges[i]) * 100 for i in range(parts)]


def _round_away(price: float, tick: int, up: bool) -> int:
    """A price on the tick grid, rounded away from the market (up for buy limits)."""
    ticks = math.ceil(price / tick) if up else math.floor(price / tick)
    return max(int(ticks), 1) * tick
