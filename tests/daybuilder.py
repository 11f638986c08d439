"""Hand-built trading days for rule tests: a few orders and fills whose meaning is obvious.

A day is written into the lake with its manifest exactly as `upload` would leave it, so the
tests go through the real load.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from surveil.manifest import COLUMNS, Manifest, day_dir_name, describe_file

DAY = dt.date(2026, 11, 25)  # regular session 14:30–21:00 UTC

ACCOUNTS = {
    # account: (firm, type, beneficial owner)
    "A1": ("F1", "client", "B1"),
    "A2": ("F1", "client", "B1"),  # linked to A1
    "A3": ("F2", "client", "B3"),
    "A4": ("F2", "client", "B4"),
    "A5": ("F2", "client", "B5"),
    "P1": ("F1", "proprietary", "BP"),
    "C1": ("F1", "client", "BC"),
    "M1": ("F2", "market_maker", "BM"),
    "O1": ("F2", "client", ""),  # omnibus: many clients, no known beneficial owner (NULL)
}


def utc(hhmmss: str) -> dt.datetime:
    h, m, s = (float(x) for x in hhmmss.split(":"))
    return dt.datetime.combine(DAY, dt.time(int(h), int(m)), dt.UTC) + dt.timedelta(seconds=s)


@dataclass
class DayBuilder:
    orders: list[dict] = field(default_factory=list)
    executions: list[dict] = field(default_factory=list)

    def order(
        self,
        account: str,
        symbol: str,
        side: str,
        qty: int,
        at: str,
        price: str | None = "100.00",
        fills: list[tuple[int, str, str]] = (),
        cancel_at: str | None = None,
        time_in_force: str = "0",
    ) -> str:
        """Add an order (side 'buy' or 'sell') with fills (qty, price, time); returns its id.
        time_in_force "7" is an at-the-close order (MOC without a price, else LOC)."""
        cl_ord_id = f"O{len(self.orders) + 1:05d}"
        cum = sum(q for q, _, _ in fills)
        notional = sum(q * Decimal(p) for q, p, _ in fills)
        if cum == qty:
            status = "2"
        elif cancel_at:
            status = "4"
        else:
            status = "C" if cum < qty else "2"
        self.orders.append(
            {
                "cl_ord_id": cl_ord_id,
                "trade_date": DAY.isoformat(),
                "account_id": account,
                "firm_id": ACCOUNTS[account][0],
                "symbol": symbol,
                "side": "1" if side == "buy" else "2",
                "order_type": "2" if price else "1",
                "time_in_force": time_in_force,
                "quantity": qty,
                "limit_price": price or "",
                "transact_time": utc(at).isoformat(),
                "ord_status": status,
                "cum_qty": cum,
                "avg_px": f"{notional / cum:.6f}" if cum else "",
                "cancel_time": utc(cancel_at).isoformat() if cancel_at else "",
            }
        )
        for fill_qty, fill_price, fill_at in fills:
            self.executions.append(
                {
                    "exec_id": f"E{len(self.executions) + 1:05d}",
                    "trade_date": DAY.isoformat(),
                    "cl_ord_id": cl_ord_id,
                    "account_id": account,
                    "symbol": symbol,
                    "side": "1" if side == "buy" else "2",
                    "fill_qty": fill_qty,
                    "fill_price": fill_price,
                    "venue": "XNYS",
                    "transact_time": utc(fill_at).isoformat(),
                }
            )
        return cl_ord_id

    def filled(self, account: str, symbol: str, side: str, qty: int, price: str, at: str) -> str:
        """A limit order filled at once at its own price."""
        return self.order(account, symbol, side, qty, at, price, [(qty, price, at)])

    def at_close(
        self, account: str, symbol: str, side: str, qty: int, price: str, at: str, print_at: str
    ) -> str:
        """A market-on-close order entered at `at`, filled in the closing print."""
        return self.order(account, symbol, side, qty, at, None, [(qty, price, print_at)],
                          time_in_force="7")  # fmt: skip

    def exec_ids(self, cl_ord_id: str) -> list[str]:
        return [e["exec_id"] for e in self.executions if e["cl_ord_id"] == cl_ord_id]

    def write(self, lake: Path) -> Manifest:
        folder = lake / day_dir_name(DAY)
        folder.mkdir(parents=True, exist_ok=True)
        firms = sorted({f for f, _, _ in ACCOUNTS.values()})
        tables = {
            "firms": [
                {"firm_id": f, "firm_name": f"Firm {f}", "account_type": "broker-dealer"}
                for f in firms
            ],
            "accounts": [
                {"account_id": a, "firm_id": f, "account_type": t, "beneficial_owner_id": b}
                for a, (f, t, b) in ACCOUNTS.items()
            ],
            "orders": self.orders,
            "executions": self.executions,
        }
        for table, rows in tables.items():
            with (folder / f"{table}.csv").open("w", newline="") as out:
                writer = csv.DictWriter(out, COLUMNS[table], lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
        files = {f"{t}.csv": describe_file(folder / f"{t}.csv", COLUMNS[t]) for t in tables}
        manifest = Manifest(DAY, files, {"kind": "test"})
        (folder / "_manifest.json").write_bytes(manifest.to_bytes())
        return manifest
