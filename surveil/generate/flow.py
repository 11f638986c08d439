"""Order flow for one trading day: orders and their fills, vectorised with numpy in chunks.

Every chunk draws from its own random stream, seeded by (seed, date, chunk number), so the
day is deterministic and memory stays bounded whatever the order count.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import numpy as np

from surveil.calendar import Session
from surveil.generate import csvfmt
from surveil.generate.reference import Reference

CHUNK_ORDERS = 100_000
US_PER_S = 1_000_000
# Execution venues (FIX 30 LastMkt, ISO 10383 MICs) with rough shares of US equity volume.
VENUES = np.array(
    ["XNYS", "XNAS", "ARCX", "BATS", "BATY", "EDGX", "EDGA", "IEXG", "MEMX", "XBOS", "FINN"]
)
VENUE_SHARES = np.array([0.12, 0.14, 0.07, 0.06, 0.03, 0.07, 0.02, 0.03, 0.04, 0.02, 0.40])
SIDES = np.array(["1", "2", "5"])  # buy, sell, sell short
SIDE_SHARES = np.array([0.50, 0.44, 0.06])


@dataclass(frozen=True)
class Universe:
    symbols: np.ndarray
    reference_cents: np.ndarray
    daily_volatility: np.ndarray
    weights: np.ndarray  # share of order flow per symbol


def load_universe() -> Universe:
    text = resources.files("surveil.generate").joinpath("universe.csv").read_text()
    records = list(csv.DictReader(text.splitlines()))
    n = len(records)
    rank = np.arange(1, n + 1)
    weights = 1.0 / rank**0.7
    return Universe(
        np.array([r["symbol"] for r in records]),
        np.array([round(float(r["reference_price"]) * 100) for r in records], dtype=np.int64),
        np.array([float(r["daily_volatility"]) for r in records]),
        weights / weights.sum(),
    )


@dataclass
class Chunk:
    orders_csv: str
    executions_csv: str
    orders: int
    executions: int


def price_paths(universe: Universe, session: Session, rng: np.random.Generator) -> np.ndarray:
    """Per-symbol mid price in cents for every second of the session (a geometric random walk)."""
    seconds = int((session.close_utc - session.open_utc).total_seconds()) + 1
    full_day = 6.5 * 3600
    step_sd = universe.daily_volatility[:, None] / np.sqrt(full_day)
    shocks = rng.standard_normal((len(universe.symbols), seconds)) * step_sd
    shocks[:, 0] = 0.0
    open_gap = rng.normal(0.0, universe.daily_volatility * 0.5)
    log_path = np.cumsum(shocks, axis=1) + open_gap[:, None]
    return universe.reference_cents[:, None] * np.exp(log_path)


def generate_chunks(
    day: dt.date,
    session: Session,
    reference: Reference,
    universe: Universe,
    orders: int,
    seed: int,
) -> Iterator[Chunk]:
    ordinal = day.toordinal()
    paths = price_paths(universe, session, np.random.default_rng([seed, ordinal, 0]))
    open_us = int(session.open_utc.timestamp() * US_PER_S)
    close_us = int(session.close_utc.timestamp() * US_PER_S)
    n_accounts = len(reference.account_ids)
    account_weights = 1.0 / np.arange(1, n_accounts + 1) ** 0.8
    account_weights /= account_weights.sum()
    yyyymmdd = f"{day:%Y%m%d}"
    next_exec = 1
    for start in range(0, orders, CHUNK_ORDERS):
        n = min(CHUNK_ORDERS, orders - start)
        rng = np.random.default_rng([seed, ordinal, 1 + start // CHUNK_ORDERS])
        chunk, n_exec = _chunk(
            rng, n, start, next_exec, yyyymmdd, day, paths, open_us, close_us,
            reference, universe, account_weights,
        )  # fmt: skip
        next_exec += n_exec
        yield chunk


def _chunk(
    rng: np.random.Generator,
    n: int,
    start: int,
    first_exec: int,
    yyyymmdd: str,
    day: dt.date,
    paths: np.ndarray,
    open_us: int,
    close_us: int,
    reference: Reference,
    universe: Universe,
    account_weights: np.ndarray,
) -> tuple[Chunk, int]:
    account = rng.choice(len(reference.account_ids), n, p=account_weights)
    symbol = rng.choice(len(universe.symbols), n, p=universe.weights)
    side = rng.choice(len(SIDES), n, p=SIDE_SHARES)
    is_buy = side == 0
    is_market = rng.random(n) < 0.15
    is_ioc = ~is_market & (rng.random(n) < 0.10)

    # Mostly round lots with a heavy tail, some odd lots.
    lots = np.minimum(rng.zipf(2.0, n), 500)
    quantity = np.where(rng.random(n) < 0.08, rng.integers(1, 100, n), lots * 100)

    # U-shaped intraday activity: busy open and close, quieter midday.
    span = close_us - open_us
    u = rng.random(n)
    x = np.where(
        u < 0.2, rng.beta(1, 8, n), np.where(u < 0.4, 1 - rng.beta(1, 8, n), rng.random(n))
    )
    order_us = open_us + (x * (span - 2 * US_PER_S)).astype(np.int64)
    second = (order_us - open_us) // US_PER_S
    mid = paths[symbol, second]

    # Limits a little away from the mid, on the passive side mostly.
    offset = np.abs(rng.normal(0.0, 0.002, n)) * np.where(rng.random(n) < 0.3, -1, 1)
    limit = np.where(is_buy, mid * (1 - offset), mid * (1 + offset))
    limit_cents = np.maximum(np.round(limit), 1).astype(np.int64)

    # Final state: 2 filled, 4 cancelled, C expired at the close, 8 rejected.
    u = rng.random(n)
    status = np.full(n, "2", dtype="<U1")
    rejected = u < 0.02
    day_limit = ~is_market & ~is_ioc
    cancelled = day_limit & (u >= 0.02) & (u < 0.27) | is_ioc & (u >= 0.02) & (u < 0.32)
    expired = day_limit & (u >= 0.27) & (u < 0.35)
    status[cancelled] = "4"
    status[expired] = "C"
    status[rejected] = "8"
    partial = np.floor(quantity * rng.uniform(0.05, 0.95, n)).astype(np.int64)
    some_fill = rng.random(n) < 0.5
    cum = np.where(status == "2", quantity, np.where(some_fill, partial, 0))
    cum[rejected] = 0

    n_fills = np.where(cum > 0, np.minimum(1 + rng.binomial(3, 0.3, n), cum), 0)
    order_of_fill = np.repeat(np.arange(n), n_fills)
    n_exec = len(order_of_fill)
    fill_index = np.arange(n_exec) - np.repeat(np.cumsum(n_fills) - n_fills, n_fills)
    last_fill = fill_index == np.repeat(n_fills - 1, n_fills)

    # Split each order's filled quantity over its fills: one share each, the rest by weight.
    weights = rng.uniform(0.2, 1.0, n_exec)
    weight_sum = np.bincount(order_of_fill, weights=weights, minlength=n)
    spare = (cum - n_fills)[order_of_fill]
    share = 1 + np.floor(spare * weights / weight_sum[order_of_fill]).astype(np.int64)
    allotted = np.bincount(order_of_fill, weights=np.where(last_fill, 0, share), minlength=n)
    fill_qty = np.where(
        last_fill, cum[order_of_fill] - allotted[order_of_fill].astype(np.int64), share
    )

    # Fills follow the order in time: IOC within milliseconds, resting orders over minutes.
    ioc_fill = is_ioc[order_of_fill]
    gaps = 1 + np.where(
        ioc_fill, rng.integers(50, 5_000, n_exec), rng.exponential(20 * US_PER_S, n_exec)
    ).astype(np.int64)
    running = np.cumsum(gaps)
    has_fills = n_fills > 0
    first_fill = (np.cumsum(n_fills) - n_fills)[has_fills]
    before = np.where(first_fill > 0, running[np.maximum(first_fill - 1, 0)], 0)
    elapsed = running - np.repeat(before, n_fills[has_fills])
    fill_us = np.minimum(order_us[order_of_fill] + elapsed, close_us - 1)
    fill_second = np.minimum((fill_us - open_us) // US_PER_S, paths.shape[1] - 1)
    fill_mid = paths[symbol[order_of_fill], fill_second] * (1 + rng.normal(0, 0.0003, n_exec))
    fill_mid = np.maximum(np.round(fill_mid), 1).astype(np.int64)
    buy_fill = is_buy[order_of_fill]
    limited = ~is_market[order_of_fill]
    order_limit = limit_cents[order_of_fill]
    fill_cents = np.where(
        limited, np.where(buy_fill, np.minimum(fill_mid, order_limit), np.maximum(fill_mid, order_limit)),
        fill_mid,
    )  # fmt: skip
    venue = rng.choice(len(VENUES), n_exec, p=VENUE_SHARES)

    notional = np.bincount(order_of_fill, weights=fill_qty * fill_cents, minlength=n)
    avg_micro = np.where(cum > 0, np.round(notional * 10_000 / np.maximum(cum, 1)), 0)

    end_us = order_us.copy()
    end_us[has_fills] = fill_us[last_fill]
    cancel_delay = np.where(is_ioc, rng.integers(100, 5_000, n), rng.exponential(60 * US_PER_S, n))
    cancel_us = np.minimum(end_us + cancel_delay.astype(np.int64) + 1, close_us - 1)
    cancel_us = np.maximum(cancel_us, end_us)

    trade_date = day.isoformat()
    order_ids = csvfmt.ids(f"C{yyyymmdd}", np.arange(start + 1, start + n + 1), 9)
    account_ids = reference.account_ids[account]
    firm_ids = reference.firm_ids[reference.account_firm[account]]
    symbols = universe.symbols[symbol]
    sides = SIDES[side]
    orders_csv = csvfmt.rows(
        [
            order_ids,
            np.full(n, trade_date),
            account_ids,
            firm_ids,
            symbols,
            sides,
            np.where(is_market, "1", "2"),
            np.where(is_ioc, "3", "0"),
            csvfmt.integers(quantity),
            csvfmt.nullable(csvfmt.fixed(limit_cents, 2), ~is_market),
            csvfmt.timestamps(order_us),
            status,
            csvfmt.integers(cum),
            csvfmt.nullable(csvfmt.fixed(avg_micro.astype(np.int64), 6), cum > 0),
            csvfmt.nullable(csvfmt.timestamps(cancel_us), status == "4"),
        ]
    )
    executions_csv = csvfmt.rows(
        [
            csvfmt.ids(f"E{yyyymmdd}", np.arange(first_exec, first_exec + n_exec), 10),
            np.full(n_exec, trade_date),
            order_ids[order_of_fill],
            account_ids[order_of_fill],
            symbols[order_of_fill],
            sides[order_of_fill],
            csvfmt.integers(fill_qty),
            csvfmt.fixed(fill_cents, 2),
            VENUES[venue],
            csvfmt.timestamps(fill_us),
        ]
    )
    return Chunk(orders_csv, executions_csv, n, n_exec), n_exec
