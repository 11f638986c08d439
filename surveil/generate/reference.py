"""Reference data: firms and accounts, from Faker with a fixed seed.

Faker is used here only (a few hundred rows), never per order. The same seed gives the same
firms and accounts every day, as a broker's account master barely changes day to day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIRM_TYPES = ("broker-dealer", "hedge fund", "asset manager", "proprietary trading firm", "bank")
ACCOUNT_TYPES = ("client", "proprietary", "market_maker")
ACCOUNT_TYPE_SHARES = (0.80, 0.15, 0.05)


@dataclass(frozen=True)
class Reference:
    firm_ids: np.ndarray
    firm_names: list[str]
    firm_types: list[str]
    account_ids: np.ndarray
    account_firm: np.ndarray  # index into firm_ids
    account_types: np.ndarray  # index into ACCOUNT_TYPES
    beneficial_owner: np.ndarray  # owner id per account

    def firms_rows(self) -> list[tuple[str, ...]]:
        return [
            (str(fid), name, ftype)
            for fid, name, ftype in zip(
                self.firm_ids, self.firm_names, self.firm_types, strict=True
            )
        ]

    def accounts_rows(self) -> list[tuple[str, ...]]:
        return [
            (
                str(self.account_ids[i]),
                str(self.firm_ids[self.account_firm[i]]),
                ACCOUNT_TYPES[self.account_types[i]],
                str(self.beneficial_owner[i]),
            )
            for i in range(len(self.account_ids))
        ]


def build_reference(seed: int, n_firms: int = 50, n_accounts: int = 500) -> Reference:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n_firms:
        name = fake.company().replace(",", "")[:100]
        if name not in seen:
            seen.add(name)
            names.append(name)
    rng = np.random.default_rng([seed, 0x5EF])
    firm_ids = np.array([f"F{i:04d}" for i in range(1, n_firms + 1)])
    firm_types = [FIRM_TYPES[i] for i in rng.integers(0, len(FIRM_TYPES), n_firms)]
    account_ids = np.array([f"A{i:06d}" for i in range(1, n_accounts + 1)])
    account_firm = rng.integers(0, n_firms, n_accounts)
    account_types = rng.choice(len(ACCOUNT_TYPES), n_accounts, p=ACCOUNT_TYPE_SHARES)
    # Most owners hold one account; about one in ten holds two to four (linked accounts).
    owners = np.empty(n_accounts, dtype=object)
    i = owner = 0
    while i < n_accounts:
        size = int(rng.integers(2, 5)) if rng.random() < 0.1 else 1
        owner += 1
        for j in range(i, min(i + size, n_accounts)):
            owners[j] = f"B{owner:06d}"
        i += size
    return Reference(
        firm_ids, names, firm_types, account_ids, account_firm, account_types, owners.astype(str)
    )
