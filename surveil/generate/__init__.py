"""`surveil generate`: write one trading day of FIX order flow into the local data folder.

A day holds firms and accounts (reference data), orders and executions (background flow
from flow.py, the closing auction from auction.py, with planted abuse scenarios from
scenarios.py merged in; the benign populations are listed in docs/generator.md) and
`scenarios.csv`, the ground truth of what was planted. The day is built in a hidden temporary folder beside
its final place and renamed into place whole, so a day folder is either complete with its
manifest or absent. Orders and executions are streamed in time slices and hashed as they
are written, so memory stays bounded and nothing is read back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from surveil import calendar, dayfolder
from surveil.errors import BadInputError, ConfigError
from surveil.generate.auction import AUCTION_ORDER_SHARE, closing_auction
from surveil.generate.book import Fills, Orders
from surveil.generate.flow import day_context, generate_chunks
from surveil.generate.market import Market, load_universe
from surveil.generate.reference import build_reference
from surveil.generate.scenarios import SCENARIO_TYPES, plan_scenarios, resolve_counts
from surveil.manifest import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    FileEntry,
    Manifest,
    day_dir_name,
)
from surveil.settings import Settings

# Bump whenever the bytes generated for the same options change.
GENERATOR_VERSION = "8"

# The benign populations `generate --without` can leave out (docs/generator.md).
POPULATIONS = ("closing_auction", "market_makers", "omnibus", "prop_desks", "worked_parents")
MAX_LOOKALIKES = 10  # benign look-alikes per planted scenario (`generate --lookalikes`)

__all__ = [
    "GENERATOR_VERSION",
    "POPULATIONS",
    "SCENARIO_TYPES",
    "GenerateResult",
    "generate_day",
    "generator_source",
    "write_day_files",
]


GenerateStatus = Literal["generated", "skipped"]


@dataclass
class GenerateResult:
    trade_date: dt.date
    path: Path
    status: GenerateStatus
    rows: dict[str, int] = field(default_factory=dict)
    manifest_sha256: str = ""


def generator_source(
    day: dt.date,
    orders: int,
    seed: int,
    scenarios: dict[str, int] | None = None,
    without: tuple[str, ...] = (),
    lookalikes: int = 1,
) -> dict[str, object]:
    """What the manifest records about how the day was made; same source, same bytes.

    `scenarios` are the planted scenarios per type, resolved against the defaults for
    `orders`, so asking for the defaults explicitly makes the same day; `without` names
    the benign populations left out (POPULATIONS); `lookalikes` is the number of benign
    look-alikes per planted scenario, recorded only when not the default 1 (so days made
    before the option keep their manifests)."""
    unknown = sorted(set(without) - set(POPULATIONS))
    if unknown:
        raise ConfigError(
            f"--without {unknown[0]}: no such population; populations are " + ", ".join(POPULATIONS)
        )
    if not 0 <= lookalikes <= MAX_LOOKALIKES:
        raise BadInputError(f"--lookalikes must be from 0 to {MAX_LOOKALIKES}")
    extra = {} if lookalikes == 1 else {"lookalikes": lookalikes}
    return {
        "kind": "generated",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "orders": orders,
        "early_close": calendar.session(day).early_close,
        "scenarios": resolve_counts(orders, scenarios),
        "without": sorted(set(without)),
        **extra,
    }


def generate_day(
    settings: Settings,
    day: dt.date,
    *,
    orders: int | None = None,
    seed: int | None = None,
    force: bool = False,
    scenarios: dict[str, int] | None = None,
    without: tuple[str, ...] = (),
    lookalikes: int = 1,
) -> GenerateResult:
    """Generate the day unless an identical one (same source, intact files) is there.

    `scenarios` overrides the number of planted scenarios per type (each with as many
    benign look-alikes), e.g. {"wash_trade": 10, "spoofing": 0}; types left out keep their
    defaults. `without` leaves benign populations out (POPULATIONS), e.g. ("omnibus",);
    `lookalikes` plants that many benign look-alikes per planted scenario (default 1)."""
    orders = settings.orders if orders is None else orders
    seed = settings.seed if seed is None else seed
    if orders < 1:
        raise BadInputError("--orders must be at least 1")
    final = settings.data_path / day_dir_name(day)
    source = generator_source(day, orders, seed, scenarios, without, lookalikes)
    if not force:

        def holds(existing: Manifest) -> str:
            kind = existing.source.get("kind", "elsewhere")
            if kind != "generated":
                return f"holds a day from {kind}, not generated; use --force to replace it"
            differences = _differences(existing.source, source)
            return (
                f"holds {day} generated with {differences}; "
                f"`surveil generate --date {day} --force` replaces it"
            )

        if kept := dayfolder.decide(final, source, force=False, holds=holds, repair=True):
            return _result(day, final, "skipped", kept)
    with dayfolder.staging(settings.data_path, final.name) as staged:
        manifest = write_day_files(staged, day, orders, seed, source)
        # Another run (two run-days at once) may have published this very day meanwhile.
        if kept := dayfolder.publish(staged, final, source, keep_identical=not force):
            return _result(day, final, "skipped", kept)
    return _result(day, final, "generated", manifest)


def _differences(there: dict[str, Any], asked: dict[str, Any]) -> str:
    """'seed 9 (this run: 42), orders 300 (this run: 1000)': what makes the days differ."""
    keys = [k for k in asked if there.get(k) != asked[k]] or ["source"]
    return ", ".join(f"{k} {there.get(k)} (this run: {asked.get(k)})" for k in keys)


def _result(
    day: dt.date, final: Path, status: GenerateStatus, manifest: Manifest
) -> GenerateResult:
    rows = {n.removesuffix(".csv"): e.rows for n, e in manifest.files.items()}
    return GenerateResult(day, final, status, rows, manifest.sha256)


def write_day_files(
    folder: Path, day: dt.date, orders: int, seed: int, source: dict[str, Any]
) -> Manifest:
    """Write the day's files into `folder` and its manifest last."""
    counts = dict(source.get("scenarios") or resolve_counts(orders, None))
    session = calendar.session(day)
    left_out = set(source.get("without") or ())
    reference = build_reference(seed, omnibus="omnibus" not in left_out)
    universe = load_universe()
    ctx = day_context(
        day,
        session,
        seed,
        reference,
        universe,
        two_sided="market_makers" not in left_out,
        worked_parents="worked_parents" not in left_out,
        prop_desks="prop_desks" not in left_out,
    )
    planner, build_plan = plan_scenarios(ctx, orders, counts, int(source.get("lookalikes", 1)))
    market = Market(
        universe, session, np.random.default_rng([seed, day.toordinal(), 0]), planner.ramps
    )
    plan = build_plan(market)
    background = orders - plan.planted_orders
    if background < 0:
        raise BadInputError(
            f"the planted scenarios need {plan.planted_orders} orders, more than --orders "
            f"{orders}; ask for fewer scenarios or more orders"
        )

    auction_orders = 0 if "closing_auction" in left_out else round(AUCTION_ORDER_SHARE * background)
    auction = closing_auction(
        ctx, market, planner.constraints, auction_orders, planner.closing_moves
    )
    background -= auction_orders
    scheduled = (
        Orders.concat([plan.orders, auction[0]]),
        Fills.concat([plan.fills, _shifted(auction[1], len(plan.orders))]),
    )

    files: dict[str, FileEntry] = {}
    for table, rows in (
        ("firms", reference.firms_rows()),
        ("accounts", reference.accounts_rows()),
    ):
        entry = dayfolder.write_csv(folder / f"{table}.csv", COLUMNS[table], rows)
        files[entry.name] = entry

    yyyymmdd = f"{day:%Y%m%d}"
    order_ids: dict[int, str] = {}
    exec_ids: dict[int, str] = {}
    with (
        dayfolder.CsvFile(folder / "orders.csv", COLUMNS["orders"]) as orders_out,
        dayfolder.CsvFile(folder / "executions.csv", COLUMNS["executions"]) as executions_out,
    ):
        chunks = generate_chunks(ctx, market, planner.constraints, scheduled, background)
        for chunk in chunks:
            # memoryviews: numpy types ndarray a Buffer from Python 3.12 only
            orders_out.write_bytes(chunk.orders_csv.data, chunk.orders)
            executions_out.write_bytes(chunk.executions_csv.data, chunk.executions)
            for ref, number in chunk.planted_orders.tolist():
                order_ids[ref] = f"C{yyyymmdd}{number:09d}"
            for ref, number in chunk.planted_fills.tolist():
                exec_ids[ref] = f"E{yyyymmdd}{number:010d}"
    files[orders_out.entry.name] = orders_out.entry
    files[executions_out.entry.name] = executions_out.entry

    lines = plan.rows(day.isoformat(), reference.account_ids, universe.symbols, order_ids, exec_ids)
    with dayfolder.CsvFile(folder / "scenarios.csv", OPTIONAL_COLUMNS["scenarios"]) as out:
        out.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"), len(lines))
    files[out.entry.name] = out.entry

    manifest = Manifest(day, files, source)
    dayfolder.write_manifest(folder, manifest)
    return manifest


def _shifted(fills: Fills, by: int) -> Fills:
    """`fills` pointing at their orders placed `by` rows further on."""
    fills.order = fills.order + by
    return fills
