"""Orders and fills as columns of numpy arrays, the common form of background and planted flow."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# FIX 54 Side
BUY, SELL, SHORT = 0, 1, 2
SIDE_TEXT = ("1", "2", "5")
# FIX 39 OrdStatus (final)
FILLED, CANCELLED, EXPIRED, REJECTED = 0, 1, 2, 3
STATUS_TEXT = ("2", "4", "C", "8")
NO_TIME = -1


@dataclass
class Orders:
    account: np.ndarray  # account index
    symbol: np.ndarray  # symbol index
    side: np.ndarray  # BUY, SELL or SHORT
    market: np.ndarray  # bool: FIX 40 = 1 market, else 2 limit
    ioc: np.ndarray  # bool: FIX 59 = 3 immediate or cancel, else 0 day
    quantity: np.ndarray
    limit: np.ndarray  # price units; 0 for market orders
    time_us: np.ndarray
    status: np.ndarray  # FILLED, CANCELLED, EXPIRED or REJECTED
    cum: np.ndarray
    cancel_us: np.ndarray  # NO_TIME unless cancelled
    ref: np.ndarray  # index of a planted order in the day's scenario plan, else -1
    # bool: FIX 59 = 7 at the close (MOC with market, LOC with limit); filled, if at all, in
    # the symbol's closing auction print (auction.py)
    at_close: np.ndarray

    def __len__(self) -> int:
        return len(self.account)

    def take(self, index: np.ndarray) -> Orders:
        return Orders(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Orders]) -> Orders:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


@dataclass
class Fills:
    order: np.ndarray  # index of the order in its Orders block
    quantity: np.ndarray
    price: np.ndarray  # price units
    venue: np.ndarray  # index into market.VENUES
    time_us: np.ndarray
    ref: np.ndarray  # index of a planted fill in the day's scenario plan, else -1

    def __len__(self) -> int:
        return len(self.order)

    def take(self, index: np.ndarray) -> Fills:
        return Fills(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Fills]) -> Fills:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )
