"""Write one US equity trading day as a broker's FIX 4.4 drop copy, with labelled abuse.

Independent of surveil: stdlib + numpy only, written from market-structure.md,
surveillance-anchors.md and the FIX 4.4 specification without reading surveil's rules or
generator (see README.md beside this file).

    python benchmarks/independent/dropcopy.py --date 2026-10-14 --seed 101 --out DIR

writes DIR/dropcopy-<date>.fix (one message per line, for `surveil import-fix`) and
DIR/labels.json (the abuse cases and look-alikes, with the ids the warehouse will hold).
Same date and seed, same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benign  # noqa: E402
import cases  # noqa: E402
import cases2  # noqa: E402
from fixlog import FixLog  # noqa: E402
from flow import Ctx  # noqa: E402
from market import THIN, Book, Market  # noqa: E402

WASH = ["same_account", "two_firms", "unequal", "near_match", "related_desks"]
WASH_LIKE = ["mm_round_trips", "unrelated_clients", "omnibus", "unrelated_desks"]
SPOOF = ["coscia", "trillium", "partial", "sarao"]
CLOSE = ["last_minutes", "auction", "sell"]
OTR = ["one_symbol", "many_symbols", "bursts"]
FRONT = ["prop_held", "prop_parent", "employee", "sell_block"]


class Symbols:
    """Hands out symbols so that cases rarely share one (each pool in a shuffled order)."""

    def __init__(self, mkt: Market, rng: np.random.Generator) -> None:
        self.rng, self.used = rng, set()
        liquid = [s for s in mkt.symbols if s not in THIN and mkt.info[s][4] >= 3]
        mid = [s for s in mkt.symbols if s not in THIN and mkt.info[s][4] < 6]
        self.pools = {
            "thin": list(THIN) + mid[:6],
            "mid": mid,
            "liquid": liquid,
            "any": list(mkt.symbols),
        }

    def take(self, pool: str) -> str:
        names = [str(s) for s in self.rng.permutation(self.pools[pool])]
        for s in names:
            if s not in self.used:
                self.used.add(s)
                return s
        return names[0]


def _pick(rng: np.random.Generator, variants: list[str], lo: int, hi: int) -> list[str]:
    n = int(rng.integers(lo, hi + 1))
    return [str(v) for v in rng.choice(variants, size=min(n, len(variants)), replace=False)]


def plan(mkt: Market, rng: np.random.Generator) -> list:
    """Choose the day's cases (2-4 per type, with variants) and register their impact."""
    syms, todo = Symbols(mkt, rng), []
    for v in _pick(rng, WASH, 2, 4):
        todo.append(("wash", syms.take("thin"), v))
    for v in _pick(rng, WASH_LIKE, 2, 2):
        todo.append(("wash_like", syms.take("any"), v))
    for v in _pick(rng, SPOOF, 2, 4):
        todo.append(("spoof", syms.take("mid"), v))
    for v in ("cancel_heavy_algo", "mm_layers"):
        todo.append(("spoof_like", syms.take("any"), v))
    for v in _pick(rng, CLOSE, 2, 3):
        sym = syms.take("thin")
        cases2.plan_close(mkt, rng, sym, v)
        todo.append(("close", sym, v))
    for v in ("index_moc", "vwap_to_close"):
        todo.append(("close_like", syms.take("liquid"), v))
    for v in _pick(rng, OTR, 2, 3):
        if v == "many_symbols":
            picks = rng.choice(mkt.symbols, size=int(rng.integers(12, 22)), replace=False)
            todo.append(("otr", [str(s) for s in picks], v))
        else:
            todo.append(("otr", [syms.take("any")], v))
    todo.append(("otr_like", syms.take("liquid"), "quoting_firm"))
    for v in _pick(rng, FRONT, 2, 3) + ["hedge", "facilitation"]:
        sym = syms.take("liquid")
        todo.append(
            ("front" if v in FRONT else "front_like", sym, v, cases2.plan_front(mkt, rng, sym, v))
        )
    return todo


def run_case(c: Ctx, book: Book, item: tuple, k: int, n_orders: int) -> dict:
    kind, sym, variant = item[:3]
    if kind == "wash":
        return cases.wash(c, book, sym, variant, k)
    if kind == "wash_like":
        return cases.wash_lookalike(c, book, sym, variant, k)
    if kind == "spoof":
        return cases.spoof(c, book, sym, variant, k)
    if kind == "spoof_like":
        return cases.spoof_lookalike(c, book, sym, variant, k)
    if kind == "close":
        return cases2.marking(c, book, sym, variant, k)
    if kind == "close_like":
        return cases2.close_lookalike(c, book, sym, variant, k)
    if kind == "otr":
        return cases2.flood(c, book, sym, variant, k, n_orders)
    if kind == "otr_like":
        return cases2.otr_lookalike(c, book, sym, k, n_orders)
    if kind == "front":
        return cases2.front(c, book, sym, variant, k, item[3])
    return cases2.front_lookalike(c, book, sym, variant, k, item[3])


def build_day(day: dt.date, seed: int, n_orders: int) -> tuple[FixLog, list[dict]]:
    rng = np.random.default_rng([seed, day.year, day.month, day.day])
    mkt = Market(rng)
    todo = plan(mkt, rng)
    mkt.freeze()
    log = FixLog(day)
    c, book = Ctx(log, mkt, rng), Book(rng)
    quota = {k: int(v * n_orders) for k, v in benign.SHARES.items()}
    benign.market_makers(c, book, quota["market_makers"])
    benign.hft(c, book, quota["hft"])
    funds = benign.institutional(c, book, quota["institutional"])
    benign.omnibus(c, book, quota["omnibus"])
    benign.prop_desks(c, book, quota["prop"])
    filled = benign.clients(c, book, quota["clients"])
    benign.closing_orders(c, book, quota["closing"], funds)
    labels = []
    for k, item in enumerate(todo, start=1):
        lab = run_case(c, book, item, k, n_orders)
        lab = {"case_id": f"{day.isoformat()}-{k:02d}-{item[2]}", **lab}
        labels.append(lab)
    benign.busts(c, filled, int(rng.integers(2, 5)))
    benign.auction_and_expiry(c)
    for lab in labels:  # fills made by the closing print after the case ran
        lab["exec_ids"] = _exec_ids(log, lab["cl_ord_ids"])
    return log, labels


def _exec_ids(log: FixLog, clids: list[str]) -> list[str]:
    wanted = set(clids)
    return [e for o in log.orders if o.chain[0] in wanted for e in o.exec_ids]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--date", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--orders", type=int, default=40000)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    if args.date.weekday() >= 5:
        ap.error(f"{args.date} is a weekend: no US equity session")
    if args.orders < 500:
        ap.error("--orders must be at least 500 (the populations need room)")
    log, labels = build_day(args.date, args.seed, args.orders)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"dropcopy-{args.date.isoformat()}.fix"
    n = log.write(path)
    with open(args.out / "labels.json", "w", encoding="utf-8") as fh:
        json.dump(labels, fh, indent=1, sort_keys=True)
        fh.write("\n")
    orders = sum(1 for e in log.events if e[2] == "D")
    print(f"{path}: {n} messages, {orders} orders, {len(labels)} labelled cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
