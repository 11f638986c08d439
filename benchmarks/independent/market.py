"""The day's market and the broker's book of accounts for the independent drop copy.

Prices: one random walk of the mid per symbol and second of the regular session
(09:30-16:00 New York), cent ticks, a fixed spread in ticks per symbol; abuse cases add
their price impact (`push`) before the walk is frozen. Accounts: three firms whose
flow the broker's drop copy carries (market-structure.md §1: a broker's book mixes
agency, market-making and proprietary accounts in the same symbols).
"""

from __future__ import annotations

import numpy as np
from fixlog import Account

OPEN_S = 9 * 3600 + 30 * 60  # 09:30:00 New York, seconds after midnight
CLOSE_S = 16 * 3600
SESSION = CLOSE_S - OPEN_S

# symbol, listing MIC (closing auction venue), reference price, spread in ticks,
# liquidity weight (share of the broker's flow), daily volatility
SYMBOLS = [
    ("AAPL", "XNAS", 228.0, 1, 10.0, 0.015),
    ("MSFT", "XNAS", 415.0, 2, 9.0, 0.014),
    ("NVDA", "XNAS", 121.0, 1, 12.0, 0.030),
    ("AMZN", "XNAS", 186.0, 1, 8.0, 0.018),
    ("GOOGL", "XNAS", 164.0, 1, 7.0, 0.017),
    ("META", "XNAS", 561.0, 3, 6.0, 0.020),
    ("TSLA", "XNAS", 241.0, 2, 9.0, 0.035),
    ("JPM", "XNYS", 211.0, 1, 5.0, 0.013),
    ("XOM", "XNYS", 116.0, 1, 4.0, 0.014),
    ("JNJ", "XNYS", 161.0, 1, 3.0, 0.010),
    ("PG", "XNYS", 171.0, 1, 3.0, 0.009),
    ("KO", "XNYS", 70.5, 1, 3.0, 0.009),
    ("PFE", "XNYS", 29.1, 1, 4.0, 0.014),
    ("BAC", "XNYS", 40.2, 1, 5.0, 0.015),
    ("T", "XNYS", 22.3, 1, 3.0, 0.012),
    ("F", "XNYS", 10.9, 1, 4.0, 0.020),
    ("INTC", "XNAS", 22.4, 1, 5.0, 0.028),
    ("CSCO", "XNAS", 52.3, 1, 3.0, 0.011),
    ("SPY", "ARCX", 561.0, 1, 10.0, 0.009),
    ("QQQ", "XNAS", 481.0, 1, 6.0, 0.011),
    ("IWM", "ARCX", 216.0, 1, 4.0, 0.013),
    ("PLUG", "XNAS", 2.41, 1, 2.0, 0.050),
    ("SIRI", "XNAS", 3.12, 1, 1.5, 0.025),
    ("AMC", "XNYS", 4.83, 1, 2.0, 0.045),
    ("GPRO", "XNAS", 1.32, 1, 0.8, 0.045),
    ("HAIN", "XNAS", 7.46, 2, 0.5, 0.030),
    ("KODK", "XNYS", 5.21, 2, 0.5, 0.035),
    ("CRMT", "XNAS", 61.2, 8, 0.3, 0.025),
    ("UHAL", "XNYS", 65.4, 6, 0.3, 0.018),
    ("DXLG", "XNAS", 2.93, 2, 0.3, 0.035),
]
THIN = ("HAIN", "KODK", "CRMT", "UHAL", "DXLG", "GPRO")
VENUES = ("XNAS", "XNYS", "ARCX", "BATS", "EDGX", "IEXG", "MEMX")


class Market:
    """Mid, bid and ask per symbol and second; the closing auction price."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.info = {s[0]: s for s in SYMBOLS}
        self.symbols = [s[0] for s in SYMBOLS]
        weights = np.array([s[4] for s in SYMBOLS])
        self.weights = weights / weights.sum()
        self._log_mid = {}
        for sym, _, p0, _, _, vol in SYMBOLS:
            start = np.log(p0 * np.exp(rng.normal(0, 0.02)))
            steps = rng.normal(0, vol / np.sqrt(SESSION), SESSION + 1)
            self._log_mid[sym] = start + np.cumsum(steps)
        self.close_push: dict[str, float] = {}
        self._bid = self._ask = None

    def push(self, sym: str, t0: float, t1: float, frac: float, revert_s: float = 0.0) -> None:
        """Move the mid by `frac` (log) from t0 to t1, then back over revert_s (0: keep)."""
        a, b = int(t0 - OPEN_S), int(t1 - OPEN_S)
        ramp = np.zeros(SESSION + 1)
        ramp[a:b] = np.linspace(0, frac, max(b - a, 1))[: b - a]
        ramp[b:] = frac
        if revert_s:
            c = min(b + int(revert_s), SESSION + 1)
            ramp[b:c] = np.linspace(frac, 0, c - b)
            ramp[c:] = 0
        self._log_mid[sym] = self._log_mid[sym] + ramp

    def freeze(self) -> None:
        self._bid, self._ask = {}, {}
        for sym, _, _, ticks, _, _ in SYMBOLS:
            mid = np.exp(self._log_mid[sym])
            bid = np.floor((mid - ticks * 0.005) * 100 + 1e-9) / 100
            self._bid[sym] = np.maximum(bid, 0.01)
            self._ask[sym] = self._bid[sym] + ticks / 100

    def _i(self, t: float) -> int:
        return int(min(max(t - OPEN_S, 0), SESSION))

    def bid(self, sym: str, t: float) -> float:
        return round(float(self._bid[sym][self._i(t)]), 2)

    def ask(self, sym: str, t: float) -> float:
        return round(float(self._ask[sym][self._i(t)]), 2)

    def tick(self, sym: str) -> float:
        return 0.01

    def reaches(self, sym: str, side: str, price: float, t0: float, t1: float) -> float | None:
        """First second in [t0, t1] at which the market comes to a resting order's price
        (the bid down to a buy's limit, the ask up to a sell's), None if it never does."""
        a, b = self._i(t0), self._i(t1) + 1
        if side == "1":
            hit = np.nonzero(self._bid[sym][a:b] <= price + 1e-9)[0]
        else:
            hit = np.nonzero(self._ask[sym][a:b] >= price - 1e-9)[0]
        return None if hit.size == 0 else float(max(t0, OPEN_S + a + int(hit[0])))

    def close_price(self, sym: str) -> float:
        mid = (self.bid(sym, CLOSE_S) + self.ask(sym, CLOSE_S)) / 2
        return round(mid * (1 + self.close_push.get(sym, 0.0)), 2)

    def listing(self, sym: str) -> str:
        return self.info[sym][1]

    def moc_cutoff(self, sym: str) -> float:
        """NYSE (and Arca) MOC/LOC cut-off 15:50; Nasdaq MOC 15:55 (market-structure.md §1d)."""
        return CLOSE_S - (300 if self.listing(sym) == "XNAS" else 600)

    def pick(self, rng: np.random.Generator, n: int | None = None, thin_ok: bool = True):
        w = self.weights.copy()
        if not thin_ok:
            w[[self.symbols.index(s) for s in THIN]] = 0
            w /= w.sum()
        return rng.choice(self.symbols, size=n, p=w)

    def venue(self, rng: np.random.Generator, sym: str) -> str:
        return self.listing(sym) if rng.random() < 0.3 else str(rng.choice(VENUES))


def session_time(rng: np.random.Generator, n: int | None = None):
    """U-shaped intraday activity: heavier after the open and before the close."""
    u = rng.random(n)
    part = rng.random(n)
    early = OPEN_S + rng.exponential(1800, n)
    late = CLOSE_S - rng.exponential(1800, n)
    t = np.where(part < 0.2, early, np.where(part < 0.4, late, OPEN_S + u * SESSION))
    return np.clip(t, OPEN_S + 1, CLOSE_S - 2)


class Book:
    """The broker's accounts: firms BRKA (the broker: agency, market making, prop desks),
    BRKB (an introducing retail broker) and BRKC (an institutional broker)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.accounts: dict[str, Account] = {}
        self._n = 0

    def add(self, prefix: str, firm: str, capacity: str, owners=(), **kw) -> Account:
        self._n += 1
        acct_id = f"{prefix}{self._n:05d}"
        acct = Account(acct_id, firm, capacity, tuple(owners), comp_id=f"{firm}OMS", **kw)
        self.accounts[acct_id] = acct
        return acct

    def client(self, firm: str, owner: str, capacity: str = "A") -> Account:
        return self.add("C", firm, capacity, (owner,), account_type="1")

    def prop(self, desk: str, firm: str = "BRKA") -> Account:
        return self.add("P", firm, "P", (f"{firm}-{desk}",), account_type="3")
