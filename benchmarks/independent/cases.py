"""Labelled abuse cases and their benign look-alikes (sources: surveillance-anchors.md and
market-structure.md §2, enforcement cases in numbers).

Each planner picks its symbol and times, registers its price impact with the market
before prices are frozen, and returns a runner that writes the orders once they are.
A runner returns its label: the accounts, ClOrdIDs and ExecIDs as import-fix will hold
them (every ClOrdID of a cancel/replace chain; fills only, never a busted one).
"""

from __future__ import annotations

from fixlog import Order
from flow import Ctx, passive
from market import CLOSE_S, OPEN_S, Book


def label(kind: str, lab: str, sym, orders: list[Order], desc: str, source: str, **kw) -> dict:
    accts = list(dict.fromkeys(o.account.account_id for o in orders))
    clids = [cl for o in orders for cl in o.chain]
    execs = [e for o in orders for e in o.exec_ids]
    out = {
        "type": kind,
        "label": lab,
        "symbol": sym,
        "account_ids": accts,
        "cl_ord_ids": clids,
        "exec_ids": execs,
        "description": desc,
        "source": source,
    }
    out.update(kw)
    return out


def _side_px(c: Ctx, sym: str, side: str, t: float) -> float:
    return c.touch(sym, side, t, far=True)


# --- wash trades -------------------------------------------------------------------------
WASH_SRC = (
    "Exchange Act §9(a)(1)(A) (no change in beneficial ownership); matched orders of "
    "'substantially the same size, time and price'; FINRA 6140(b); MAR Annex I A(c)"
)


def _cross(c: Ctx, buyer, seller, sym, qty, t, gap, px=None, sell_qty=None, buy_parts=1):
    """A buy and a sell by related accounts meeting at one price a fraction of a second apart."""
    px = px or round((c.mkt.bid(sym, t) + c.mkt.ask(sym, t)) / 2, 2)
    b = c.new(buyer, sym, "1", qty, t, px)
    s = c.new(seller, sym, "2", sell_qty or qty, t + gap, px)
    ft = t + gap + 0.001
    venue = c.mkt.venue(c.rng, sym)
    c.log.fill(s, c.us(ft), min(qty, s.leaves), px, venue)
    if buy_parts == 1:
        c.log.fill(b, c.us(ft), min(qty, s.cum), px, venue)
    else:
        first = max(1, int(s.cum * 0.6))
        c.log.fill(b, c.us(ft), first, px, venue)
        c.log.fill(b, c.us(ft + 0.4), min(b.leaves, s.cum - first), px, venue)
    for o in (b, s):
        if o.open:
            c.log.cancel(o, c.us(ft + c.rng.uniform(2, 20)))
    return [b, s]


def _near_cross(c: Ctx, buyer, seller, sym, qty, t):
    """Matched orders of 'substantially the same size, time and price': a buy and a sell of
    one owner a few seconds apart, a tick apart in price, sizes within ~10%."""
    px = round((c.mkt.bid(sym, t) + c.mkt.ask(sym, t)) / 2, 2)
    gap = float(c.rng.uniform(2.0, 8.0))
    sell_qty = max(100, qty + int(c.rng.integers(-3, 4)) * 100 * (qty >= 1000))
    b = c.new(buyer, sym, "1", qty, t, px)
    s = c.new(seller, sym, "2", sell_qty, t + gap, round(px + 0.01 * c.rng.choice([-1, 1]), 2))
    c.fill(b, t + gap + 0.002)
    c.fill(s, t + gap + 0.003)
    return [b, s]


def wash(c: Ctx, book: Book, sym: str, variant: str, k: int) -> dict:
    owner = f"INV-W{k:03d}"
    t = float(c.rng.uniform(OPEN_S + 1800, CLOSE_S - 3600))
    reps = int(c.rng.integers(3, 7))
    if variant == "same_account":
        a = book.client("BRKB", owner)
        buyer = seller = a
        desc = "one account buys and sells the same quantity at one price within a second"
    elif variant == "two_firms":
        buyer, seller = book.client("BRKA", owner), book.client("BRKC", owner)
        desc = "one beneficial owner crosses between its accounts at two firms"
    elif variant == "unequal":
        buyer, seller = book.client("BRKB", owner), book.client("BRKB", owner)
        desc = "two accounts of one owner; unequal orders, the buy filled in two pieces"
    elif variant == "near_match":
        buyer, seller = book.client("BRKA", owner), book.client("BRKA", owner)
        desc = "two accounts of one owner: a buy and a sell 2-8 s apart, a tick apart, ~same size"
    else:  # related desks
        buyer, seller = book.prop("MOM"), book.prop("MOM")
        desc = "two accounts of one prop desk self-trade repeatedly (FINRA 5210.02 pattern)"
    orders = []
    for _ in range(reps):
        qty = int(c.rng.integers(5, 40)) * 100
        gap = float(c.rng.uniform(0.05, 1.5))
        if variant == "near_match":
            orders += _near_cross(c, buyer, seller, sym, qty, t)
        elif variant == "unequal":
            orders += _cross(
                c,
                buyer,
                seller,
                sym,
                qty,
                t,
                gap,
                sell_qty=qty + int(c.rng.integers(1, 10)) * 100,
                buy_parts=2,
            )
        else:
            pair = (buyer, seller) if c.rng.random() < 0.5 else (seller, buyer)
            orders += _cross(c, pair[0], pair[1], sym, qty, t, gap)
        t += float(c.rng.uniform(30, 600))
    return label("wash_trade", "abuse", sym, orders, f"{desc}; {reps} times", WASH_SRC)


def wash_lookalike(c: Ctx, book: Book, sym: str, variant: str, k: int) -> dict:
    t = float(c.rng.uniform(OPEN_S + 1800, CLOSE_S - 3600))
    orders = []
    if variant == "mm_round_trips":
        mm = book.add("M", "BRKA", "P", (f"BRKA-MM{k}",), account_type="3", market_maker=True)
        for _ in range(int(c.rng.integers(4, 9))):
            qty = int(c.rng.choice([100, 200, 300]))
            b = c.new(mm, sym, "1", qty, t, c.mkt.bid(sym, t))
            c.fill(b, t + c.rng.exponential(3))
            s = c.new(mm, sym, "2", qty, t + 1, c.mkt.ask(sym, t + 1))
            c.fill(s, t + 2 + c.rng.exponential(5))
            orders += [b, s]
            t += float(c.rng.uniform(20, 300))
        desc, src = (
            "a market maker buys at the bid and sells at the ask, round trips",
            "market-structure.md §3: market-maker round trips (Trillium primitive methods)",
        )
    elif variant == "unrelated_clients":
        for j in range(int(c.rng.integers(2, 4))):
            x = book.client("BRKA", f"INV-U{k:02d}{j}A")
            y = book.client("BRKB", f"INV-U{k:02d}{j}B")
            orders += _cross(c, x, y, sym, int(c.rng.integers(5, 30)) * 100, t, 0.3)
            t += float(c.rng.uniform(60, 900))
        desc, src = (
            "unrelated clients, one buying while the other sells at one price",
            "change of beneficial ownership: not a wash (Exchange Act §9(a)(1))",
        )
    elif variant == "omnibus":
        acct = book.add("O", "BRKB", "A", (), account_type="13")
        for _ in range(int(c.rng.integers(2, 5))):
            orders += _cross(c, acct, acct, sym, int(c.rng.integers(1, 20)) * 100, t, 0.8)
            t += float(c.rng.uniform(60, 900))
        desc, src = (
            "an omnibus account (581=13) buys and sells: different customers",
            "SEC OCIE Risk Alert 2011 (omnibus sub-accounts); market-structure.md §1(c)",
        )
    else:
        a, b = book.prop("IDXH"), book.prop("VOLH")
        for _ in range(int(c.rng.integers(2, 4))):
            orders += _cross(c, a, b, sym, int(c.rng.integers(5, 30)) * 100, t, 0.5)
            t += float(c.rng.uniform(300, 1800))
        desc, src = (
            "self-trades between unrelated prop desks (different owners)",
            "FINRA 5210.02: self-trades of unrelated algorithms are generally bona fide",
        )
    return label("wash_trade", "lookalike", sym, orders, desc, src)


# --- spoofing / layering -----------------------------------------------------------------
SPOOF_SRC = {
    "coscia": "Coscia/Panther (CFTC 2013, 7th Cir. 2017): 3 levels, 3-7x genuine, all cancelled "
    "on the fill, cycle ~0.6 s then reversed",
    "trillium": "Trillium (FINRA 2010): order at the NBBO plus large opposite orders outside it, "
    "cancelled after the fill; FINRA 5210.03 type 1",
    "partial": "CFTC cases (Eventus): spoof orders 10-50x genuine, ~2% filled, cancelled 2.3 s "
    "after the genuine fill; JPMorgan 2020",
    "sarao": "Sarao (CFTC/DOJ 2015): layered orders modified to move with the price, >99% "
    "cancelled",
}


def spoof(c: Ctx, book: Book, sym: str, variant: str, k: int) -> dict:
    acct = book.prop("TRD") if variant == "trillium" else book.client("BRKC", f"INV-S{k:03d}")
    t = float(c.rng.uniform(OPEN_S + 1800, CLOSE_S - 3600))
    orders, cycles = [], int(c.rng.integers(3, 7))
    genuine_side = str(c.rng.choice(["1", "2"]))
    for cyc in range(cycles):
        g_side = (
            genuine_side
            if variant != "coscia" or cyc % 2 == 0
            else ("2" if genuine_side == "1" else "1")
        )
        s_side = "1" if g_side == "2" else "2"
        g_qty = int(c.rng.integers(1, 6)) * 100
        g = c.new(acct, sym, g_side, g_qty, t, c.touch(sym, g_side, t))
        levels = int(c.rng.integers(3, 6))
        sign = -1 if s_side == "1" else 1
        spoofs, ts = [], t + float(c.rng.uniform(0.02, 0.3))
        base = c.touch(sym, s_side, ts)
        for lv in range(levels):
            qty = g_qty * int(c.rng.integers(3, 11))
            px = round(base + sign * lv * 0.01 * (1 + (variant == "trillium")), 2)
            spoofs.append(c.new(acct, sym, s_side, qty, ts + 0.02 * lv, max(px, 0.01)))
        fill_t = ts + 0.02 * levels + float(c.rng.uniform(0.2, 2.5))
        if variant == "sarao":  # modified again and again, kept at its level as prices move
            for rep in range(int(c.rng.integers(2, 5))):
                tr = ts + 0.1 + 0.15 * rep
                for lv, o in enumerate(spoofs):
                    px = round(c.touch(sym, s_side, tr) + sign * lv * 0.01, 2)
                    qty = int(o.qty * c.rng.uniform(0.8, 1.25) / 100) * 100 or 100
                    c.log.replace(o, c.us(tr + 0.001 * lv), price=max(px, 0.01), qty=qty)
                fill_t += 0.15
        c.fill(g, fill_t)
        if variant == "partial":
            c.fill(spoofs[0], fill_t + 0.01, 100, spoofs[0].price)
        for j, o in enumerate(spoofs):
            if o.open:
                c.log.cancel(o, c.us(fill_t + float(c.rng.uniform(0.05, 1.5)) + 0.001 * j))
        orders += [g] + spoofs
        t += float(c.rng.uniform(20, 400))
    return label(
        "spoofing",
        "abuse",
        sym,
        orders,
        f"{variant}: genuine order, {cycles} cycles of layered opposite orders "
        "cancelled within seconds of its fill",
        SPOOF_SRC[variant],
    )


def spoof_lookalike(c: Ctx, book: Book, sym: str, variant: str, k: int) -> dict:
    t = float(c.rng.uniform(OPEN_S + 1800, CLOSE_S - 3600))
    orders = []
    if variant == "cancel_heavy_algo":
        acct = book.client("BRKA", f"INV-L{k:03d}")
        side = str(c.rng.choice(["1", "2"]))
        for _ in range(int(c.rng.integers(3, 7))):
            for lv in range(4):
                orders.append(
                    passive(
                        c,
                        acct,
                        sym,
                        side,
                        100 * int(c.rng.integers(5, 20)),
                        t + 0.05 * lv,
                        float(c.rng.uniform(0.5, 3)),
                        0.0,
                        offset_ticks=lv,
                    )
                )
            t += float(c.rng.uniform(30, 300))
        desc = "a liquidity-seeking algo layers one side and cancels; no opposite fill"
        src = "market-structure.md §3: require an opposite-side fill near the cancels"
    else:
        mm = book.add("M", "BRKC", "P", (f"INV-MMQ{k}",), account_type="1", market_maker=True)
        for _ in range(int(c.rng.integers(3, 7))):
            quotes = []
            for lv in range(3):
                for side in ("1", "2"):
                    sign = -1 if side == "1" else 1
                    px = round(c.touch(sym, side, t) + sign * 0.01 * lv, 2)
                    quotes.append(c.new(mm, sym, side, 300, t + 0.01 * lv, max(px, 0.01)))
            hit = quotes[int(c.rng.integers(2))]
            c.fill(hit, t + float(c.rng.uniform(0.3, 2.0)))
            for j, o in enumerate(quotes):
                if o.open:
                    c.log.cancel(o, c.us(t + 2.5 + 0.001 * j))
            orders += quotes
            t += float(c.rng.uniform(30, 300))
        desc = "a market maker quotes 3 levels on both sides, equal sizes, and re-quotes"
        src = "Sarao defence / market-structure.md §3: market makers quote away and cancel"
    return label("spoofing", "lookalike", sym, orders, desc, src)
