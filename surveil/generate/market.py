"""The market the order flow trades in: symbols, intraday activity, prices and venues.

Prices are integers in units of $0.0001 (`PRICE_SCALE` per dollar), so every tick size
divides them exactly and no float ever reaches the CSV.

The mid price of each symbol is a geometric random walk per second with the symbol's daily
volatility, after an opening gap. Each second the log mid steps up or down by the same
amount: the variance of Gaussian steps at a fifth of the drawing cost, and over a minute
(60 steps) the same bell-shaped moves, while a mid that moves in even steps suits prices
that move in ticks anyway. The last `CALM_SECONDS` of the session are deliberately
calm (the walk is damped and held within `CALM_BAND` of its level when the calm starts), so
that in the closing window only a planted push moves a price by 0.5% or more; planted
scenarios add `Ramp`s (a price impact) on top.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from surveil.calendar import Session

US_PER_S = 1_000_000
PRICE_SCALE = 10_000  # price units per dollar
FULL_DAY_S = 6.5 * 3600
CALM_SECONDS = 15 * 60
CALM_DAMPING = 0.2
CALM_BAND = 0.0003  # log-price band around the level at the start of the calm

# Execution venues (FIX 30 LastMkt, ISO 10383 MICs) with rough shares of US equity volume:
# about 45% off-exchange (FINRA TRFs), the rest over the lit exchanges, the listing
# exchange taking more of its own symbols.
VENUES = (
    "FINN", "FINY", "XNAS", "XNYS", "ARCX", "EDGX", "BATS", "MEMX", "IEXG",
    "BATY", "EDGA", "XBOS", "XPSX", "XCIS", "XCHI", "XASE",
)  # fmt: skip
_LIT_SHARES = {
    "XNAS": 0.110, "XNYS": 0.090, "ARCX": 0.065, "EDGX": 0.060, "BATS": 0.055,
    "MEMX": 0.040, "IEXG": 0.025, "BATY": 0.020, "EDGA": 0.012, "XBOS": 0.006,
    "XPSX": 0.005, "XCIS": 0.008, "XCHI": 0.004, "XASE": 0.003,
}  # fmt: skip
_OFF_EXCHANGE = {"FINN": 0.36, "FINY": 0.09}
LISTING_BOOST = 0.05  # extra share of its own listing exchange


def venue_shares(listing_mic: str) -> np.ndarray:
    shares = {**_OFF_EXCHANGE, **_LIT_SHARES}
    if listing_mic in shares:
        shares[listing_mic] += LISTING_BOOST
    vector = np.array([shares[v] for v in VENUES])
    normalised: np.ndarray = vector / vector.sum()
    return normalised


class Sampler:
    """Draws indices with given probabilities through a precomputed inverse-CDF table:
    one uniform integer and one lookup per draw, several times faster than
    `Generator.choice(p=...)` or `zipf`. Probabilities resolve to 1/`SIZE`."""

    SIZE = 1 << 18

    def __init__(self, probabilities: np.ndarray) -> None:
        cdf = np.cumsum(np.asarray(probabilities, dtype=np.float64))
        cdf /= cdf[-1]
        # Slot j holds the first index whose cdf reaches the slot's midpoint (j + 0.5) / SIZE,
        # so index i fills the slots whose midpoints cdf[i - 1] < m <= cdf[i]: counted
        # exactly, as SIZE is a power of two.
        slots_up_to = np.clip(np.floor(cdf * self.SIZE - 0.5) + 1, 0, self.SIZE).astype(np.int64)
        slots_up_to[-1] = self.SIZE
        self.table = np.repeat(np.arange(len(cdf)), np.diff(slots_up_to, prepend=0))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.table[rng.integers(0, self.SIZE, n)]


@dataclass(frozen=True)
class Universe:
    symbols: np.ndarray
    listing: np.ndarray  # listing MIC per symbol
    reference: np.ndarray  # reference price, price units
    tick: np.ndarray  # tick size, price units
    daily_volatility: np.ndarray
    weights: np.ndarray  # share of order flow per symbol (file order is by size)
    half_spread: np.ndarray  # half the quoted spread, as a fraction of the price
    listing_index: np.ndarray  # per symbol, its row of venue_table
    venue_table: np.ndarray = field(repr=False)  # (listing MICs, Sampler.SIZE) venue lookup

    def venues(self, rng: np.random.Generator, symbol: np.ndarray) -> np.ndarray:
        """A venue (index into VENUES) for a fill in each symbol."""
        draws = rng.integers(0, Sampler.SIZE, len(symbol))
        venue: np.ndarray = self.venue_table[self.listing_index[symbol], draws].astype(np.int64)
        return venue

    def __len__(self) -> int:
        return len(self.symbols)


def load_universe() -> Universe:
    text = resources.files("surveil.generate").joinpath("universe.csv").read_text()
    records = list(csv.DictReader(text.splitlines()))
    n = len(records)
    rank = np.arange(1, n + 1)
    weights = 1.0 / rank**0.7
    listing = np.array([r["listing_mic"] for r in records])
    mics, listing_index = np.unique(listing, return_inverse=True)
    return Universe(
        symbols=np.array([r["symbol"] for r in records]),
        listing=listing,
        reference=np.array(
            [round(float(r["reference_price"]) * PRICE_SCALE) for r in records], dtype=np.int64
        ),
        tick=np.array(
            [round(float(r["tick_size"]) * PRICE_SCALE) for r in records], dtype=np.int64
        ),
        daily_volatility=np.array([float(r["daily_volatility"]) for r in records]),
        weights=weights / weights.sum(),
        half_spread=(0.5 + 2.0 * rank / n) / 10_000,
        listing_index=listing_index,
        venue_table=np.stack([Sampler(venue_shares(m)).table.astype(np.int8) for m in mics]),
    )


class IntradayProfile:
    """U-shaped activity over the session: busy open, quiet midday, busiest close."""

    def __init__(self, session: Session) -> None:
        self.open_us = int(session.open_utc.timestamp()) * US_PER_S
        self.close_us = int(session.close_utc.timestamp()) * US_PER_S
        self.seconds = (self.close_us - self.open_us) // US_PER_S
        x = (np.arange(self.seconds) + 0.5) / self.seconds
        density = 0.7 + 2.0 * np.exp(-x / 0.05) + 4.0 * np.exp(-(1 - x) / 0.04)
        cdf = np.concatenate([[0.0], np.cumsum(density)])
        self.cdf = cdf / cdf[-1]
        self.grid = np.arange(self.seconds + 1, dtype=np.float64)

    def time_us(self, quantile: np.ndarray) -> np.ndarray:
        """Times (epoch µs) at the given quantiles of the day's activity, at least 1 ms
        before the close."""
        seconds = np.interp(quantile, self.cdf, self.grid)
        t = self.open_us + (seconds * US_PER_S).astype(np.int64)
        times: np.ndarray = np.minimum(t, self.close_us - 1_000)
        return times

    def mass(self, start_us: int, end_us: int) -> float:
        """Share of the day's activity between two times."""
        at = np.clip(np.array([start_us, end_us]) - self.open_us, 0, None) / US_PER_S
        lo, hi = np.interp(at, self.grid, self.cdf)
        return float(hi - lo)


@dataclass(frozen=True)
class Ramp:
    """A price impact: the log mid of `symbol` moves linearly by `log_move` between two
    times and stays moved until the close."""

    symbol: int
    start_us: int
    end_us: int
    log_move: float


class Market:
    """Per-second mid prices of every symbol, and the quotes and ticks around them."""

    def __init__(
        self,
        universe: Universe,
        session: Session,
        rng: np.random.Generator,
        ramps: list[Ramp] | tuple[Ramp, ...] = (),
    ) -> None:
        self.universe = universe
        self.open_us = int(session.open_utc.timestamp()) * US_PER_S
        self.close_us = int(session.close_utc.timestamp()) * US_PER_S
        self.calm_start_us = self.close_us - CALM_SECONDS * US_PER_S
        seconds = (self.close_us - self.open_us) // US_PER_S
        step = (universe.daily_volatility / np.sqrt(FULL_DAY_S))[:, None]
        ups = rng.integers(0, 2, (len(universe), seconds + 1), dtype=np.int8)
        log_path = ups.astype(np.float64)
        log_path *= 2 * step
        log_path -= step  # +step for an up, -step for a down
        log_path[:, 0] = rng.normal(0.0, universe.daily_volatility * 0.5)  # opening gap
        np.cumsum(log_path, axis=1, out=log_path)
        calm = max(seconds - CALM_SECONDS, 0)
        level = log_path[:, calm : calm + 1]
        drift = np.clip((log_path[:, calm:] - level) * CALM_DAMPING, -CALM_BAND, CALM_BAND)
        log_path[:, calm:] = level + drift
        for ramp in ramps:
            start = (ramp.start_us - self.open_us) / US_PER_S
            end = max((ramp.end_us - self.open_us) / US_PER_S, start + 1)
            progress = np.clip((np.arange(seconds + 1) - start) / (end - start), 0.0, 1.0)
            log_path[ramp.symbol] += ramp.log_move * progress
        np.exp(log_path, out=log_path)
        log_path *= universe.reference[:, None]
        self.mid = log_path  # price units, float

    def second(self, t_us: np.ndarray | int) -> np.ndarray:
        elapsed = (np.asarray(t_us) - self.open_us) // US_PER_S
        second: np.ndarray = np.clip(elapsed, 0, self.mid.shape[1] - 1)
        return second

    def mid_at(self, symbol: np.ndarray | int, t_us: np.ndarray | int) -> np.ndarray:
        mid: np.ndarray = self.mid[symbol, self.second(t_us)]
        return mid

    def quotes(
        self, symbol: np.ndarray | int, t_us: np.ndarray | int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best bid and offer (price units, on the tick grid) around the mid."""
        mid = self.mid_at(symbol, t_us)
        tick = self.universe.tick[symbol]
        half = self.universe.half_spread[symbol] * mid
        bid = np.maximum(np.floor((mid - half) / tick), 1).astype(np.int64) * tick
        ask = np.maximum(np.ceil((mid + half) / tick).astype(np.int64) * tick, bid + tick)
        return bid, ask

    def touch(self, symbol: int, t_us: int, buy: bool) -> int:
        """The price an aggressive order on that side pays: the offer for a buy."""
        bid, ask = self.quotes(symbol, t_us)
        return int(ask if buy else bid)

    def near(self, symbol: int, t_us: int) -> int:
        """The mid rounded to the tick."""
        tick = int(self.universe.tick[symbol])
        return max(round(float(self.mid_at(symbol, t_us)) / tick), 1) * tick
