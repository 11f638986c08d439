"""surveil/dayfolder.py: the one writer of day folders (generate, import-fix, lake alerts)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from surveil import dayfolder
from surveil.errors import ConflictError
from surveil.manifest import COLUMNS, Manifest, describe_file, read_local_manifest

DAY = dt.date(2026, 11, 25)
COLS = ("a", "b", "c")


def _csv_writer_bytes(rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    "rows",
    [
        [("1", "x", "")],
        [("1", "a,b", 'q"uote'), ("2", "é", "")],  # needs quoting: csv.writer's bytes
        [(1, None, "3.5")],  # not text: csv.writer's bytes
        [(str(i), "v", "w") for i in range(dayfolder.CSV_BATCH + 7)],  # more than a batch
    ],
)
def test_write_rows_writes_csv_writer_bytes_and_hashes_them_in_the_same_pass(
    tmp_path: Path, rows: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / "t.csv"
    entry = dayfolder.write_csv(path, COLS, rows)
    assert path.read_bytes() == _csv_writer_bytes(rows)
    assert entry == describe_file(path, COLS)  # the sha256 and rows a second read finds
    assert entry.rows == len(rows)


def test_write_bytes_counts_the_rows_it_is_told(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with dayfolder.CsvFile(path, COLS) as out:
        out.write_bytes(b"1,2,3\n4,5,6\n", 2)
        out.write_bytes(memoryview(b"7,8,9\n"), 1)
    assert out.entry == describe_file(path, COLS)
    assert out.entry.rows == 3


def _day(folder: Path, source: dict[str, Any]) -> Manifest:
    folder.mkdir(parents=True)
    files = {f"{t}.csv": dayfolder.write_csv(folder / f"{t}.csv", COLUMNS[t], []) for t in COLUMNS}
    manifest = Manifest(DAY, files, source)
    dayfolder.write_manifest(folder, manifest)
    return manifest


def _holds(existing: Manifest) -> str:
    return f"holds {existing.source['kind']}; use --force to replace it"


def test_decide_absent_identical_different_and_force(tmp_path: Path) -> None:
    final = tmp_path / "trade_date=2026-11-25"
    mine, theirs = {"kind": "mine"}, {"kind": "theirs"}
    assert dayfolder.decide(final, mine, force=False, holds=_holds) is None  # no folder
    final.mkdir()
    assert dayfolder.decide(final, mine, force=False, holds=_holds) is None  # no manifest
    final.rmdir()
    there = _day(final, theirs)
    with pytest.raises(ConflictError, match=r"trade_date=2026-11-25: holds theirs; use --force"):
        dayfolder.decide(final, mine, force=False, holds=_holds)
    assert dayfolder.decide(final, mine, force=True, holds=_holds) is None
    assert dayfolder.decide(final, theirs, force=False, holds=_holds) == there
    assert dayfolder.decide(final, theirs, force=True, holds=_holds) == there  # kept


def test_a_damaged_day_of_the_same_source_is_a_conflict_unless_repaired(tmp_path: Path) -> None:
    final = tmp_path / "trade_date=2026-11-25"
    source = {"kind": "mine"}
    _day(final, source)
    (final / "orders.csv").write_text("damaged\n")
    with pytest.raises(ConflictError):
        dayfolder.decide(final, source, force=False, holds=_holds)
    assert dayfolder.decide(final, source, force=False, holds=_holds, repair=True) is None


def test_staging_is_removed_and_publish_replaces_the_day_whole(tmp_path: Path) -> None:
    final = tmp_path / "trade_date=2026-11-25"
    _day(final, {"kind": "old"})
    with dayfolder.staging(tmp_path, final.name) as staged:
        manifest = _day(staged / "day", {"kind": "new"})
        assert (
            dayfolder.publish(staged / "day", final, manifest.source, keep_identical=True) is None
        )
    assert read_local_manifest(final) == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]  # no staging, no .old


def test_publish_keeps_an_identical_day_another_run_published(tmp_path: Path) -> None:
    final = tmp_path / "trade_date=2026-11-25"
    source = {"kind": "mine"}
    there = _day(final, source)
    inode = (final / "orders.csv").stat().st_ino
    staged = tmp_path / "staged"
    _day(staged, source)
    assert dayfolder.publish(staged, final, source, keep_identical=True) == there
    assert (final / "orders.csv").stat().st_ino == inode  # not moved aside
    assert staged.exists()  # left for the caller's staging to remove
