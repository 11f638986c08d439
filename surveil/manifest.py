"""The day folder and its manifest: the contract between generate, upload, load and validate.

A day is the folder `trade_date=YYYY-MM-DD/` holding one CSV per table and `_manifest.json`,
which lists every file with its row count, sha256 and columns. A day exists only when its
manifest does: writers put the manifest last, readers trust nothing the manifest does not list.
Writing a day folder (hashing writer, keep / conflict / --force, publishing) is dayfolder.py's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveil.errors import BadInputError

MANIFEST_NAME = "_manifest.json"
MANIFEST_FORMAT = 1

# The CSV columns of each table, in file order; load and validate rely on these exactly.
COLUMNS: dict[str, tuple[str, ...]] = {
    "firms": ("firm_id", "firm_name", "account_type"),
    "accounts": ("account_id", "firm_id", "account_type", "beneficial_owner_id"),
    "orders": (
        "cl_ord_id",
        "trade_date",
        "account_id",
        "firm_id",
        "symbol",
        "side",
        "order_type",
        "time_in_force",
        "quantity",
        "limit_price",
        "transact_time",
        "ord_status",
        "cum_qty",
        "avg_px",
        "cancel_time",
    ),
    "executions": (
        "exec_id",
        "trade_date",
        "cl_ord_id",
        "account_id",
        "symbol",
        "side",
        "fill_qty",
        "fill_price",
        "venue",
        "transact_time",
    ),
}
TABLES: tuple[str, ...] = tuple(COLUMNS)
# Files a day may carry besides the four tables, with their columns. Array fields are
# PostgreSQL array literals, e.g. "{A000001,A000002}".
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    # Ground truth of the abuse planted by the generator; detection never reads it.
    "scenarios": (
        "scenario_id",
        "type",
        "trade_date",
        "symbol",
        "account_ids",
        "cl_ord_ids",
        "exec_ids",
        "label",  # "abuse" for a planted scenario, "lookalike" for its benign twin
    ),
    # Messages `import-fix --skip-invalid` refused, with the reason.
    "rejects": ("file", "line", "msg_type", "reason", "message"),
    # import-fix: busts, corrections and trade cancels of the day naming a fill (or trade)
    # the day does not hold, most often an earlier day's (docs/fix-import.md, "Corrections").
    # trade_date is the correction's own day, the day the file is of.
    "corrections": ("trade_date", "kind", "ref", "transact_time", "file", "line"),
}
CORRECTIONS_FILE = "corrections.csv"
SAFE_FILE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.csv$")


def day_dir_name(day: dt.date) -> str:
    return f"trade_date={day.isoformat()}"


def parse_day_dir_name(name: str) -> dt.date | None:
    if not name.startswith("trade_date="):
        return None
    try:
        return dt.date.fromisoformat(name.removeprefix("trade_date="))
    except ValueError:
        return None


def sha256_file(
    path: Path, *, probe: bool = False, each_block: Callable[[bytes], object] | None = None
) -> str:
    """The file's sha256, streamed a block at a time (files may be gigabytes): the one file
    hasher. Only the first block is read when `probe` (to learn early that a file cannot be
    read); `each_block` sees every block as it is hashed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            if each_block is not None:
                each_block(block)
            if probe:
                break
    return digest.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    name: str
    rows: int
    sha256: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    trade_date: dt.date
    files: dict[str, FileEntry]
    source: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        doc = {
            "format": MANIFEST_FORMAT,
            "trade_date": self.trade_date.isoformat(),
            "source": self.source,
            "files": {
                name: {"rows": e.rows, "sha256": e.sha256, "columns": list(e.columns)}
                for name, e in sorted(self.files.items())
            },
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def entry(self, table: str) -> FileEntry:
        return self.files[f"{table}.csv"]

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> Manifest:
        """Parse and check a manifest; `where` names it in errors."""
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{where}: not valid JSON ({exc})") from None
        try:
            trade_date = dt.date.fromisoformat(doc["trade_date"])
            files = {}
            for name, meta in doc["files"].items():
                if not SAFE_FILE_NAME.match(name):
                    raise BadInputError(f"{where}: unsafe file name {name!r} in manifest")
                rows, sha = meta["rows"], meta["sha256"]
                if not isinstance(rows, int) or rows < 0:
                    raise BadInputError(f"{where}: {name}: rows must be a whole number >= 0")
                if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
                    raise BadInputError(f"{where}: {name}: sha256 must be 64 hex digits")
                files[name] = FileEntry(name, rows, sha, tuple(meta["columns"]))
            source = doc.get("source", {})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadInputError(
                f"{where}: malformed manifest ({exc.__class__.__name__}: {exc})"
            ) from None
        for table in TABLES:
            name = f"{table}.csv"
            if name not in files:
                raise BadInputError(f"{where}: manifest lists no {name}")
            if files[name].columns != COLUMNS[table]:
                raise BadInputError(
                    f"{where}: {name}: manifest columns {list(files[name].columns)} "
                    f"differ from the expected {list(COLUMNS[table])}"
                )
        for table, columns in OPTIONAL_COLUMNS.items():
            entry = files.get(f"{table}.csv")
            if entry is not None and entry.columns != columns:
                raise BadInputError(
                    f"{where}: {entry.name}: manifest columns {list(entry.columns)} "
                    f"differ from the expected {list(columns)}"
                )
        return cls(trade_date, files, source)


def describe_file(path: Path, columns: tuple[str, ...]) -> FileEntry:
    """Row count and sha256 of a CSV file written elsewhere (one record per line, header
    first); surveil's own writers take the entry from dayfolder.CsvFile instead."""
    newlines = 0

    def count(block: bytes) -> None:
        nonlocal newlines
        newlines += block.count(b"\n")

    sha256 = sha256_file(path, each_block=count)
    return FileEntry(path.name, max(newlines - 1, 0), sha256, columns)


def read_local_manifest(day_dir: Path) -> Manifest | None:
    path = day_dir / MANIFEST_NAME
    if not path.exists():
        return None
    return Manifest.from_bytes(path.read_bytes(), str(path))


def verify_local_day(day_dir: Path, manifest: Manifest) -> bool:
    """True when every file the manifest lists is present with its sha256."""
    for entry in manifest.files.values():
        path = day_dir / entry.name
        if not path.exists() or sha256_file(path) != entry.sha256:
            return False
    return True
