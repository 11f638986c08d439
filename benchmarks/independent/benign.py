"""Benign populations of the drop copy (figures and sources: market-structure.md, cited §).

Shares of the day's NewOrderSingles: market makers 35%, an HFT account 10%, institutional
parents 13%, retail/omnibus 15%, prop desks 8%, ordinary clients 16%, closing auction 3%.
Those shares are our assumption (the notes hold no per-broker breakdown); the behaviour of
each population follows the cited figures.
"""

from __future__ import annotations

import numpy as np
from fixlog import Order
from flow import Ctx, marketable, passive, round_lot
from market import CLOSE_S, OPEN_S, Book, session_time

SHARES = {
    "market_makers": 0.35,
    "hft": 0.10,
    "institutional": 0.13,
    "omnibus": 0.15,
    "prop": 0.08,
    "clients": 0.16,
    "closing": 0.03,
}


def market_makers(c: Ctx, book: Book, n: int) -> None:
    """§1(a): two-sided quotes at the touch, frequent re-pricing, fills on a few percent of
    posted volume (MIDAS: ~30 shares posted per share traded), inventory offloaded soon
    after a fill (Menkveld 2013: positions held < 5 s) -> many bid/ask round trips a day."""
    makers = [
        book.add("M", "BRKA", "P", ("BRKA-MMDESK",), account_type="3", market_maker=True),
        book.add("M", "BRKC", "P", ("INV-MMCO1",), account_type="1", market_maker=True),
    ]
    for mm in makers:
        syms = list(dict.fromkeys(c.mkt.pick(c.rng, 40)))[:18]
        quota = n // 2
        times = np.sort(session_time(c.rng, quota // 2))
        for t in times:
            sym = str(c.rng.choice(syms))
            qty = int(c.rng.choice([100, 100, 200, 300, 500]))
            life = float(c.rng.exponential(15.0)) + 0.2
            reps = int(c.rng.geometric(0.4)) - 1
            end = min(float(t) + life, CLOSE_S - 1)
            moves = np.sort(c.rng.uniform(float(t) + 0.01, end, reps)) if end > t + 0.02 else []
            offset = int(c.rng.random() < 0.25)
            net = 0
            for side in ("1", "2"):
                o = passive(
                    c, mm, sym, short_sell(c, side), qty, float(t), life,
                    fill_prob=0.07, times=moves, offset_ticks=offset,
                )  # fmt: skip
                net += o.cum if side == "1" else -o.cum
            if net and c.rng.random() < 0.6:  # offload the inventory: the round trip
                back = short_sell(c, "2") if net > 0 else "1"
                t2 = min(float(t) + life + c.rng.exponential(4.0), CLOSE_S - 2)
                passive(
                    c, mm, sym, back, abs(net), t2, float(c.rng.exponential(3.0)),
                    fill_prob=0.85, partial=0.2,
                )  # fmt: skip


def hft(c: Ctx, book: Book, n: int) -> None:
    """A single-strategy HFT account: IOC liquidity taking and short-lived posts; a high but
    ordinary order-to-trade ratio (Hagströmer-Nordén: market-making HFTs highest OTRs)."""
    acct = book.add("H", "BRKC", "P", ("INV-HFT01",), account_type="1")
    syms = [s for s in c.mkt.symbols if c.mkt.info[s][4] >= 3]
    for t in session_time(c.rng, n):
        sym, side = str(c.rng.choice(syms)), short_sell(c, str(c.rng.choice(["1", "2"])))
        qty = int(c.rng.choice([100, 100, 100, 200, 300]))
        if c.rng.random() < 0.3:
            marketable(c, acct, sym, side, qty, float(t), ioc=True, fill_prob=0.4)
        else:
            passive(
                c,
                acct,
                sym,
                side,
                qty,
                float(t),
                float(c.rng.exponential(1.5)) + 0.05,
                fill_prob=0.03,
                replaces=int(c.rng.geometric(0.4)) - 1,
            )


def short_sell(c: Ctx, side: str, share: float = 0.35) -> str:
    """Side 5 (sell short) for a share of the sells of principal accounts: market makers and
    HFTs sell short routinely (Reg SHO marks every sale long or short) [R]."""
    return "5" if side == "2" and c.rng.random() < share else side


def _funds(book: Book, rng: np.random.Generator):
    funds = []
    for k in range(6):
        owner = f"INV-AM{k + 1:02d}"
        funds.append(book.client("BRKA" if k % 2 == 0 else "BRKC", owner))
        if k < 2:  # the same fund also keeps an account at the other broker (Parties role 5)
            funds.append(book.client("BRKC" if k % 2 == 0 else "BRKA", owner))
    return funds


def work_parent(
    c: Ctx, acct, sym: str, side: str, size: int, t0: float, t1: float, children: int
) -> list[Order]:
    """§1(b): a parent worked by an algorithm as child orders (average order ~230 shares in
    IntelligentCross data, larger for blocks), VWAP-like spacing, passive first and crossing
    the spread when behind schedule."""
    child = max(100, int(size / max(children, 1) / 100) * 100)
    out = []
    for t in np.sort(c.rng.uniform(t0, t1, children)):
        if c.rng.random() < 0.6:
            o = passive(
                c,
                acct,
                sym,
                side,
                child,
                float(t),
                float(c.rng.exponential(40)) + 1,
                fill_prob=0.75,
                replaces=int(c.rng.integers(0, 3)),
                partial=0.4,
            )
        else:
            o = marketable(c, acct, sym, side, child, float(t), parts=int(c.rng.integers(1, 4)))
        out.append(o)
    return out


def held_order(
    c: Ctx, acct, sym: str, side: str, size: int, t0: float, t1: float, fills: int
) -> Order:
    """A large not-held order worked by the broker under one ClOrdID: many partial fills."""
    o = c.new(acct, sym, side, size, t0, None, ord_type="1", venue="BRKA")
    per = max(100, int(size / fills / 100) * 100)
    for t in np.sort(c.rng.uniform(t0 + 1, t1, fills)):
        if not o.open:
            break
        far = c.rng.random() < 0.4
        c.fill(o, float(t), min(per, o.leaves), c.touch(sym, side, float(t), far=far))
    return o


def institutional(c: Ctx, book: Book, n: int) -> list:
    funds = _funds(book, c.rng)
    budget, parents = n, []
    while budget > 0:
        acct = funds[int(c.rng.integers(len(funds)))]
        sym, side = str(c.mkt.pick(c.rng, thin_ok=False)), str(c.rng.choice(["1", "2"]))
        t0 = float(c.rng.uniform(OPEN_S + 60, CLOSE_S - 3600))
        t1 = min(t0 + float(c.rng.uniform(1800, 5 * 3600)), CLOSE_S - 120)
        if c.rng.random() < 0.2:
            size = int(c.rng.integers(30, 150)) * 1000
            held_order(c, acct, sym, side, size, t0, t1, int(c.rng.integers(15, 60)))
            budget -= 1
            continue
        kids = int(min(budget, c.rng.integers(20, 160)))
        size = kids * round_lot(c.rng, 300)
        parents.append(work_parent(c, acct, sym, side, size, t0, t1, kids))
        budget -= kids
    return funds


def omnibus(c: Ctx, book: Book, n: int) -> None:
    """§1(c): retail flow through omnibus accounts of many customers (AccountType 13/12, or
    one account naming several investors): small, often odd-lot, mostly marketable orders
    in both directions in the same names; some resting limits that are cancelled or expire."""
    investors = tuple(f"INV-R{k:04d}" for k in range(1, 41))
    accts = [
        book.add("O", "BRKB", "A", (), account_type="13"),
        book.add("O", "BRKB", "A", (), account_type="12"),
        book.add("O", "BRKA", "A", investors, account_type="1"),
    ]
    for t in session_time(c.rng, n):
        acct = accts[int(c.rng.integers(len(accts)))]
        sym, side = str(c.mkt.pick(c.rng)), str(c.rng.choice(["1", "2"], p=[0.53, 0.47]))
        qty = round_lot(c.rng, 150, odd_share=0.45)
        if c.rng.random() < 0.75:
            marketable(c, acct, sym, side, qty, float(t), market=c.rng.random() < 0.5)
        else:
            passive(
                c,
                acct,
                sym,
                side,
                qty,
                float(t),
                float(c.rng.exponential(1200)),
                fill_prob=0.3,
                offset_ticks=int(c.rng.integers(1, 20)),
            )


def prop_desks(c: Ctx, book: Book, n: int) -> list:
    """§1(f): the broker's own desks trade all day in both directions, sometimes large; the
    arbitrage desk runs two accounts of one owner (related), the others are unrelated."""
    desks = [book.prop("ARB"), book.prop("ARB"), book.prop("IDX"), book.prop("SWG")]
    for t in session_time(c.rng, n):
        acct = desks[int(c.rng.integers(len(desks)))]
        sym = str(c.mkt.pick(c.rng, thin_ok=False))
        side = short_sell(c, str(c.rng.choice(["1", "2"])), 0.2)
        qty = round_lot(c.rng, 400) if c.rng.random() > 0.03 else int(c.rng.integers(5, 20)) * 1000
        if c.rng.random() < 0.6:
            passive(
                c,
                acct,
                sym,
                side,
                qty,
                float(t),
                float(c.rng.exponential(30)) + 1,
                fill_prob=0.35,
                replaces=int(c.rng.integers(0, 3)),
            )
        else:
            marketable(c, acct, sym, side, qty, float(t), parts=int(c.rng.integers(1, 3)))
    return desks


def clients(c: Ctx, book: Book, n: int) -> list:
    """Individual and small institutional clients of the three firms, one owner each; six
    owners hold accounts at two firms (one beneficial owner, several brokers)."""
    accts = []
    for k in range(120):
        firm = ("BRKA", "BRKB", "BRKC")[k % 3]
        accts.append(book.client(firm, f"INV-I{k + 1:04d}", capacity="A" if k % 4 else "I"))
    for k in range(6):
        accts.append(book.client(("BRKB", "BRKC", "BRKA")[k % 3], f"INV-I{k + 1:04d}"))
    filled = []
    for t in session_time(c.rng, n):
        acct = accts[int(c.rng.integers(len(accts)))]
        sym, side = str(c.mkt.pick(c.rng)), str(c.rng.choice(["1", "2"]))
        qty = round_lot(c.rng, 300, odd_share=0.1)
        if c.rng.random() < 0.004:  # rejected: outside the limit up-limit down band
            c.new(
                acct, sym, side, qty, float(t), round(c.touch(sym, side, t) * 1.2, 2), reject=True
            )
        elif c.rng.random() < 0.5:
            o = marketable(c, acct, sym, side, qty, float(t), market=c.rng.random() < 0.3)
            filled.append(o)
        else:
            passive(
                c,
                acct,
                sym,
                side,
                qty,
                float(t),
                float(c.rng.exponential(600)) + 5,
                fill_prob=0.4,
                replaces=int(c.rng.random() < 0.2),
                offset_ticks=int(c.rng.integers(0, 4)),
            )
    return filled


def busts(c: Ctx, filled: list, k: int) -> None:
    """A few clearly erroneous executions broken later in the day (ExecType H)."""
    single = [o for o in filled if len(o.exec_ids) == 1 and not o.open]
    for i in c.rng.choice(len(single), size=min(k, len(single)), replace=False):
        o = single[int(i)]
        c.log.bust(o, o.exec_ids[0], o.cum, o.avg_px, o.last_t + int(c.rng.uniform(6e8, 1.8e9)))


def closing_orders(c: Ctx, book: Book, n: int, funds: list) -> None:
    """§1(d): MOC/LOC orders (TimeInForce 7) entered before the listing market's cut-off,
    mostly in the last half hour; ~10% of the day's volume trades in the close."""
    index_funds = [book.client("BRKA", "INV-IDX01"), book.client("BRKC", "INV-IDX02")]
    pool = index_funds * 3 + funds
    sides: dict[tuple[str, str], str] = {}  # an investor buys or sells a name, not both
    for _ in range(n):
        acct = pool[int(c.rng.integers(len(pool)))]
        sym = str(c.mkt.pick(c.rng))
        side = sides.setdefault((acct.owners[0], sym), str(c.rng.choice(["1", "2"])))
        cut = c.mkt.moc_cutoff(sym)
        t = float(max(cut - c.rng.exponential(1200), CLOSE_S - 3 * 3600))
        qty = round_lot(c.rng, 2000)
        if c.rng.random() < 0.7:
            c.new(acct, sym, side, qty, t, None, ord_type="5", tif="7", venue=c.mkt.listing(sym))
        else:
            ref = c.touch(sym, side, t, far=True)
            px = round(ref * (1 + (0.004 if side == "1" else -0.004) * c.rng.normal(1, 1)), 2)
            c.new(acct, sym, side, qty, t, px, ord_type="B", tif="7", venue=c.mkt.listing(sym))


def auction_and_expiry(c: Ctx) -> dict[str, float]:
    """One closing print per symbol just after 16:00:00 at the close price for every
    on-close order that crosses it; every other open day order expires (ExecType C)."""
    closes = {s: c.mkt.close_price(s) for s in c.mkt.symbols}
    t_print = {s: CLOSE_S + 0.05 + 0.01 * k for k, s in enumerate(c.mkt.symbols)}
    for o in c.log.orders:
        if not o.open:
            continue
        px = closes[o.symbol]
        if o.tif == "7":
            crosses = o.price is None or (o.price >= px if o.side == "1" else o.price <= px)
            if crosses:
                c.log.fill(o, c.us(t_print[o.symbol]), o.leaves, px, c.mkt.listing(o.symbol))
                continue
        c.log.expire(o, c.us(CLOSE_S + 0.5))
    return closes
