"""`surveil generate`: write one trading day of FIX order flow into the local data folder.

The day is built in a hidden temporary folder beside its final place and renamed into
place whole, so a day folder is either complete with its manifest or absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from surveil import calendar
from surveil.errors import BadInputError, ConflictError
from surveil.generate.flow import generate_chunks, load_universe
from surveil.generate.reference import build_reference
from surveil.manifest import (
    COLUMNS,
    MANIFEST_NAME,
    Manifest,
    day_dir_name,
    describe_file,
    read_local_manifest,
    verify_local_day,
)
from surveil.settings import Settings

GENERATOR_VERSION = "1"


@dataclass
class GenerateResult:
    trade_date: dt.date
    path: Path
    status: str  # generated | skipped
    rows: dict[str, int] = field(default_factory=dict)
    manifest_sha256: str = ""


def generator_source(day: dt.date, orders: int, seed: int) -> dict[str, object]:
    """What the manifest records about how the day was made; same source, same bytes."""
    return {
        "kind": "generated",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "orders": orders,
        "early_close": calendar.session(day).early_close,
    }


def generate_day(
    settings: Settings,
    day: dt.date,
    *,
    orders: int | None = None,
    seed: int | None = None,
    force: bool = False,
) -> GenerateResult:
    orders = settings.orders if orders is None else orders
    seed = settings.seed if seed is None else seed
    if orders < 1:
        raise BadInputError("--orders must be at least 1")
    final = settings.data_path / day_dir_name(day)
    source = generator_source(day, orders, seed)
    existing = read_local_manifest(final) if final.exists() else None
    if existing is not None and not force:
        if existing.source.get("kind") != "generated":
            raise ConflictError(
                f"{final}: holds a day from {existing.source.get('kind', 'elsewhere')}, "
                "not generated; use --force to replace it"
            )
        if existing.source == source and verify_local_day(final, existing):
            return GenerateResult(
                day, final, "skipped", {n.removesuffix(".csv"): e.rows
                                        for n, e in existing.files.items()}, existing.sha256,
            )  # fmt: skip
    settings.data_path.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=settings.data_path))
    try:
        manifest = write_day_files(staging, day, orders, seed, source)
        if final.exists():
            retired = final.with_name(f".{final.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            final.rename(retired)
            staging.rename(final)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    rows = {n.removesuffix(".csv"): e.rows for n, e in manifest.files.items()}
    return GenerateResult(day, final, "generated", rows, manifest.sha256)


def write_day_files(
    folder: Path, day: dt.date, orders: int, seed: int, source: dict[str, object]
) -> Manifest:
    session = calendar.session(day)
    reference = build_reference(seed)
    universe = load_universe()
    _write_csv(folder / "firms.csv", COLUMNS["firms"], reference.firms_rows())
    _write_csv(folder / "accounts.csv", COLUMNS["accounts"], reference.accounts_rows())
    header = {t: (",".join(COLUMNS[t]) + "\n") for t in ("orders", "executions")}
    with (
        (folder / "orders.csv").open("w", encoding="utf-8", newline="") as orders_out,
        (folder / "executions.csv").open("w", encoding="utf-8", newline="") as executions_out,
    ):
        orders_out.write(header["orders"])
        executions_out.write(header["executions"])
        for chunk in generate_chunks(day, session, reference, universe, orders, seed):
            orders_out.write(chunk.orders_csv)
            executions_out.write(chunk.executions_csv)
    files = {
        f"{table}.csv": describe_file(folder / f"{table}.csv", COLUMNS[table]) for table in COLUMNS
    }
    manifest = Manifest(day, files, source)
    (folder / MANIFEST_NAME).write_bytes(manifest.to_bytes())
    return manifest


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
