"""Labelled cases, continued: marking the close, excessive order-to-trade ratio, front running."""

from __future__ import annotations

import numpy as np
from benign import held_order, work_parent
from cases import label
from flow import Ctx, marketable, passive
from market import CLOSE_S, OPEN_S, Book, Market

# --- marking the close -------------------------------------------------------------------
CLOSE_SRC = {
    "last_minutes": "FINRA 6140(a) (successively higher prices); CEA §4c(a)(5)(B); "
    "MAR Annex I A(g) trades around the reference price",
    "auction": "Athena Capital (SEC 2014): large auction-only order, then aggressive "
    "continuous orders in the last 2 seconds pushing the cross",
    "sell": "Reg. 2016/522 (orders near the close); marking the close downwards",
}


def plan_close(mkt: Market, rng: np.random.Generator, sym: str, variant: str) -> float:
    """The abuse moves the last minutes and the closing print (returned: the direction)."""
    direction = -1.0 if variant == "sell" else 1.0
    move = direction * float(rng.uniform(0.008, 0.025))
    start = CLOSE_S - (180 if variant != "auction" else 30)
    mkt.push(sym, start, CLOSE_S, move)
    mkt.close_push[sym] = direction * float(rng.uniform(0.003, 0.012))
    return direction


def marking(c: Ctx, book: Book, sym: str, variant: str, k: int) -> dict:
    acct = book.client("BRKC" if k % 2 else "BRKA", f"INV-K{k:03d}")
    side = "2" if variant == "sell" else "1"
    orders = []
    # the position the close will value, built in the morning
    for _ in range(int(c.rng.integers(2, 5))):
        t = float(c.rng.uniform(OPEN_S + 600, OPEN_S + 4 * 3600))
        orders.append(marketable(c, acct, sym, side, int(c.rng.integers(10, 40)) * 100, t))
    if variant in ("auction", "sell"):
        cut = c.mkt.moc_cutoff(sym)
        qty = int(c.rng.integers(20, 80)) * 100
        orders.append(
            c.new(
                acct,
                sym,
                side,
                qty,
                cut - float(c.rng.uniform(30, 400)),
                None,
                ord_type="5",
                tif="7",
                venue=c.mkt.listing(sym),
            )
        )
    window = 2.0 if variant == "auction" else 170.0
    n = int(c.rng.integers(6, 15))
    for t in np.sort(c.rng.uniform(CLOSE_S - window, CLOSE_S - 0.05, n)):
        qty = int(c.rng.integers(3, 20)) * 100
        orders.append(
            marketable(
                c,
                acct,
                sym,
                side,
                qty,
                float(t),
                ioc=c.rng.random() < 0.3,
                parts=int(c.rng.integers(1, 3)),
            )
        )
    return label(
        "marking_the_close",
        "abuse",
        sym,
        orders,
        f"{variant}: position built earlier, {n} aggressive orders in the last "
        f"{window:.0f} s" + (" plus a large MOC" if variant != "last_minutes" else ""),
        CLOSE_SRC[variant],
    )


def close_lookalike(c: Ctx, book: Book, sym: str, variant: str, k: int) -> dict:
    acct = book.client("BRKA", f"INV-IX{k:02d}")
    side = str(c.rng.choice(["1", "2"]))
    cut = c.mkt.moc_cutoff(sym)
    orders = []
    if variant == "index_moc":
        for _ in range(int(c.rng.integers(1, 3))):
            qty = int(c.rng.integers(100, 400)) * 100
            orders.append(
                c.new(
                    acct,
                    sym,
                    side,
                    qty,
                    cut - float(c.rng.uniform(120, 1800)),
                    None,
                    ord_type="5",
                    tif="7",
                    venue=c.mkt.listing(sym),
                )
            )
        desc = "an index fund's large MOC for a rebalance, no continuous trading at the close"
        src = "NYSE closing auction dynamics 2023: ~2.5bn sh on rebalance days (§1d)"
    else:
        orders += work_parent(c, acct, sym, side, 12000, CLOSE_S - 1800, CLOSE_S - 30, 40)
        orders.append(
            c.new(
                acct,
                sym,
                side,
                3000,
                cut - 60,
                None,
                ord_type="5",
                tif="7",
                venue=c.mkt.listing(sym),
            )
        )
        desc = "a VWAP parent scheduled to the close, finishing with its MOC remainder"
        src = "market-structure.md §1(b),(d): full-day VWAP 09:30-16:00, late benign close flow"
    return label("marking_the_close", "lookalike", sym, orders, desc, src)


# --- excessive order-to-trade ratio --------------------------------------------------------
OTR_SRC = (
    "RTS 9 (Reg. 2017/566 Art. 3): orders/trades - 1 per member and instrument; "
    "Wiener Börse limits; KX: quote stuffing >=60 top-of-book changes in 5 s"
)


def flood(c: Ctx, book: Book, syms: list[str], variant: str, k: int, n_orders: int) -> dict:
    acct = book.client("BRKC", f"INV-Q{k:03d}")
    total = int(np.clip(0.04 * n_orders, 120, 1600))
    orders, fills_left = [], int(c.rng.integers(1, 4))
    if variant == "bursts":
        starts = np.sort(c.rng.uniform(OPEN_S + 600, CLOSE_S - 600, int(c.rng.integers(4, 9))))
        times = np.concatenate(
            [s + np.sort(c.rng.uniform(0, 2.0, total // len(starts))) for s in starts]
        )
    else:
        times = np.sort(c.rng.uniform(OPEN_S + 60, CLOSE_S - 60, total))
    for t in times:
        sym = str(c.rng.choice(syms))
        side = str(c.rng.choice(["1", "2"]))
        o = passive(
            c,
            acct,
            sym,
            side,
            int(c.rng.integers(1, 10)) * 100,
            float(t),
            float(c.rng.uniform(0.02, 1.5)),
            0.0,
            replaces=int(c.rng.integers(0, 3)),
            offset_ticks=int(c.rng.integers(0, 6)),
        )
        if o.open:  # left for the day
            c.log.cancel(o, c.us(float(t) + 2))
        orders.append(o)
    for o in c.rng.choice(orders, size=fills_left, replace=False):  # the rare trades
        f = marketable(c, acct, o.symbol, o.side, 100, CLOSE_S - float(c.rng.uniform(700, 3000)))
        orders.append(f)
    sym = syms[0] if len(syms) == 1 else None
    return label(
        "excessive_otr",
        "abuse",
        sym,
        orders,
        f"{variant}: {total} orders (plus replaces) cancelled within seconds, "
        f"{fills_left} trades, over {len(syms)} symbol(s)",
        OTR_SRC,
        symbols=syms,
    )


def otr_lookalike(c: Ctx, book: Book, sym: str, k: int, n_orders: int) -> dict:
    mm = book.add("M", "BRKC", "P", (f"INV-QT{k:02d}",), account_type="1", market_maker=True)
    total = int(np.clip(0.02 * n_orders, 60, 800))
    orders = []
    for t in np.sort(c.rng.uniform(OPEN_S + 60, CLOSE_S - 60, total)):
        for side in ("1", "2"):
            orders.append(
                passive(
                    c,
                    mm,
                    sym,
                    side,
                    200,
                    float(t),
                    float(c.rng.exponential(10)),
                    fill_prob=0.06,
                    replaces=int(c.rng.integers(0, 3)),
                )
            )
    return label(
        "excessive_otr",
        "lookalike",
        sym,
        orders,
        "a quoting firm: two-sided quotes, ~6% filled, an ordinary quoting OTR",
        "SEC MIDAS: ~30 shares posted per share traded; Hagströmer-Nordén",
        symbols=[sym],
    )


# --- front running -------------------------------------------------------------------------
FRONT_SRC = {
    "prop_held": "FINRA 5320 (trading ahead of customer orders); Merrill Lynch ESD (SEC 2011)",
    "prop_parent": "FINRA 5320; Merrill Lynch ESD: prop desk traded on institutional orders",
    "employee": "FINRA 5320 / 3210: an employee account trading ahead of a customer order",
    "sell_block": "Merrill Lynch ESD (SEC 2011): a 40,000-share client sell traded ahead",
}


def plan_front(mkt: Market, rng: np.random.Generator, sym: str, variant: str) -> dict:
    side = "2" if variant == "sell_block" else "1"
    t0 = float(rng.uniform(OPEN_S + 1800, CLOSE_S - 3 * 3600))
    t1 = t0 + float(rng.uniform(1800, 5400))
    sign = 1 if side == "1" else -1
    mkt.push(sym, t0 + 60, t1, sign * float(rng.uniform(0.006, 0.015)), revert_s=3600)
    return {"side": side, "t0": t0, "t1": t1}


def front(c: Ctx, book: Book, sym: str, variant: str, k: int, plan: dict) -> dict:
    side, t0, t1 = plan["side"], plan["t0"], plan["t1"]
    other = "2" if side == "1" else "1"
    client = book.client("BRKA", f"INV-AM{20 + k:02d}")
    if variant == "employee":
        trader = book.add("E", "BRKA", "A", (f"EMP-{k:04d}",), account_type="1")
    else:
        trader = book.prop("FLOW")
    size = int(c.rng.integers(40, 150)) * 1000
    if variant == "prop_parent":  # told by phone: the first child order follows the desk's trades
        kids = int(c.rng.integers(40, 90))
        client_orders = work_parent(c, client, sym, side, size, t0 + 100.0, t1, kids)
    else:
        client_orders = [
            held_order(c, client, sym, side, size, t0, t1, int(c.rng.integers(20, 50)))
        ]
    ahead = []
    qty_total = 0
    for t in np.sort(c.rng.uniform(t0 + 2, t0 + 90, int(c.rng.integers(1, 4)))):
        q = (
            int(c.rng.integers(5, 30)) * 100
            if variant == "employee"
            else int(c.rng.integers(20, 80)) * 100
        )
        ahead.append(marketable(c, trader, sym, side, q, float(t), parts=int(c.rng.integers(1, 3))))
        qty_total += ahead[-1].cum
    back = t1 + float(c.rng.uniform(30, 900))
    unwind = marketable(c, trader, sym, other, qty_total, back, parts=int(c.rng.integers(1, 3)))
    return label(
        "front_running",
        "abuse",
        sym,
        ahead + [unwind] + client_orders,
        f"{variant}: {trader.account_id} trades {qty_total} ahead of client "
        f"{client.account_id}'s {size} ({'buy' if side == '1' else 'sell'}), "
        "unwinds after it",
        FRONT_SRC[variant],
    )


def front_lookalike(c: Ctx, book: Book, sym: str, variant: str, k: int, plan: dict) -> dict:
    side, t0, t1 = plan["side"], plan["t0"], plan["t1"]
    other = "2" if side == "1" else "1"
    client = book.client("BRKA", f"INV-AM{40 + k:02d}")
    desk = book.prop("FACIL")
    held = held_order(
        c,
        client,
        sym,
        side,
        int(c.rng.integers(40, 120)) * 1000,
        t0,
        t1,
        int(c.rng.integers(20, 50)),
    )
    if variant == "hedge":  # same direction, after the client's first fills, never unwound
        ts = t0 + float(c.rng.uniform(600, 1800))
        desk_orders = [marketable(c, desk, sym, side, int(c.rng.integers(20, 60)) * 100, ts)]
        desc = "a desk hedging in the client's direction after its fills, not unwound"
    else:  # facilitation: the desk takes the other side
        desk_orders = [
            passive(
                c,
                desk,
                sym,
                other,
                int(c.rng.integers(20, 60)) * 100,
                t0 + float(c.rng.uniform(5, 120)),
                30,
                0.9,
            )
        ]
        desc = "the firm's desk provides liquidity against the client order (opposite side)"
    return label(
        "front_running",
        "lookalike",
        sym,
        desk_orders + [held],
        desc,
        "FINRA 5320 exceptions (riskless principal, facilitation); market-structure.md §3",
    )
