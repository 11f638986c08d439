"""Reference data: firms and accounts, from Faker with a fixed seed.

Faker is used here only (a few hundred rows), never per order. The same seed gives the same
firms and accounts every day, as a broker's account master barely changes day to day.

Accounts belong to beneficial owners. Most owners hold one account; about one in ten holds
two to four (linked accounts), all of the owner's type: a client, a proprietary desk or a
market maker. Keeping market makers apart from other owners matters to the order flow: only
they trade both sides of a symbol in the background (see flow.py).

About a third of the single-account clients, among them some of the busiest, are omnibus or
retail accounts whose beneficial owner the broker does not know (`beneficial_owner_id`
empty, NULL in the warehouse): behind one account many clients buy and sell the same
symbol. About 14% of the day's orders come from them (SEC OCIE Risk Alert, 29 Sep 2011, on
sub-accounts no one can see through; docs/generator.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIRM_TYPES = ("broker-dealer", "hedge fund", "asset manager", "proprietary trading firm", "bank")
ACCOUNT_TYPES = ("client", "proprietary", "market_maker")
CLIENT, PROPRIETARY, MARKET_MAKER = range(3)
OWNER_TYPE_SHARES = (0.80, 0.14, 0.06)


@dataclass(frozen=True)
class Reference:
    firm_ids: np.ndarray
    firm_names: list[str]
    firm_types: list[str]
    account_ids: np.ndarray
    account_firm: np.ndarray  # index into firm_ids
    account_types: np.ndarray  # index into ACCOUNT_TYPES
    beneficial_owner: np.ndarray  # owner id per account
    account_owner: np.ndarray  # owner index (0..owners-1) per account
    omnibus: np.ndarray  # bool per account: owner unknown (written empty)

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    @property
    def n_owners(self) -> int:
        return int(self.account_owner.max()) + 1

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
                "" if self.omnibus[i] else str(self.beneficial_owner[i]),
            )
            for i in range(len(self.account_ids))
        ]


def build_reference(
    seed: int, n_firms: int = 50, n_accounts: int = 500, *, omnibus: bool = True
) -> Reference:
    from faker import Faker

    # Only the providers company() draws on: the same names, without loading the other 24.
    fake = Faker("en_US", providers=["faker.providers.person", "faker.providers.company"])
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
    account_types = np.empty(n_accounts, dtype=np.int64)
    account_owner = np.empty(n_accounts, dtype=np.int64)
    i = owner = 0
    while i < n_accounts:
        size = int(rng.integers(2, 5)) if rng.random() < 0.1 else 1
        owner_type = int(rng.choice(len(ACCOUNT_TYPES), p=OWNER_TYPE_SHARES))
        end = min(i + size, n_accounts)
        account_owner[i:end] = owner
        account_types[i:end] = owner_type
        owner += 1
        i = end
    owners = np.array([f"B{o + 1:06d}" for o in account_owner])
    return Reference(
        firm_ids,
        names,
        firm_types,
        account_ids,
        account_firm,
        account_types,
        owners,
        account_owner,
        _omnibus(account_types, account_owner) & omnibus,
    )


def _omnibus(account_types: np.ndarray, account_owner: np.ndarray) -> np.ndarray:
    """Every third single-account client in activity order (flow.py weighs the accounts
    that are not market makers by rank): about 14% of the day's orders."""
    others = np.flatnonzero(account_types != MARKET_MAKER)
    single = np.bincount(account_owner)[account_owner[others]] == 1
    chosen = (account_types[others] == CLIENT) & single & (np.arange(len(others)) % 3 == 1)
    omnibus = np.zeros(len(account_types), dtype=bool)
    omnibus[others[chosen]] = True
    return omnibus
