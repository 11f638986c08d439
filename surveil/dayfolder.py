"""Writing day folders: the one writer that generate, import-fix and the lake's alerts use.

A day folder (manifest.py describes its contract) is written the same way whoever makes it,
so that way lives here once rather than three times:

- `CsvFile`: a CSV file written once, header first, its sha256 computed from the very bytes
  written, so the manifest's entry needs no second read of a file that may be gigabytes;
- `decide`: what to do with the folder already at the target — none there (write), an
  identical day (same source, files intact: keep it), a different one (ConflictError naming
  the folder and `--force`, unless forced);
- `staging` and `publish`: the day is built in a hidden folder beside its final place
  (staging.py) and renamed into place whole, so a reader never sees half a day.

A day exists only when its manifest does, so `write_manifest` is called last.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from surveil.errors import ConflictError
from surveil.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    read_local_manifest,
    verify_local_day,
)
from surveil.staging import staging_dir, sweep_stale

CSV_BATCH = 10_000  # rows joined at a time by CsvFile.write_rows


class CsvFile:
    """A CSV file written once, header first, hashed as it is written.

    Every value written is one record per line (no value holds a line break): `rows`
    counts the records written, which is what a reader counting lines finds."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self._digest = hashlib.sha256()
        self._file = path.open("wb")
        self.write(",".join(columns) + "\n")

    def write(self, text: str) -> int:
        """Write text without counting rows."""
        self.write_bytes(text.encode("utf-8"), 0)
        return len(text)

    def write_bytes(self, data: bytes | memoryview, rows: int) -> None:
        """Write `data`, which holds `rows` whole records."""
        self._digest.update(data)
        self._file.write(data)
        self.rows += rows

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write the rows as csv.writer writes them, a batch at a time: joined with commas
        when no value needs quoting (every value text, none holding a comma, a double
        quote or a line break), which is several times quicker, else by csv.writer."""
        width = len(self.columns)
        rows = iter(rows)
        while batch := list(itertools.islice(rows, CSV_BATCH)):
            try:
                text = "\n".join(map(",".join, batch))
            except TypeError:  # a value that is not text
                text = ""
            plain = (
                text
                and set(map(len, batch)) == {width}
                and text.count(",") == (width - 1) * len(batch)
                and text.count("\n") == len(batch) - 1
                and '"' not in text
                and "\r" not in text
            )
            if plain:
                self.write(text)
                self.write("\n")
            else:
                quoted = io.StringIO()
                csv.writer(quoted, lineterminator="\n").writerows(batch)
                self.write(quoted.getvalue())
            self.rows += len(batch)

    @property
    def entry(self) -> FileEntry:
        """The file's manifest entry (complete once the file is closed)."""
        return FileEntry(self.path.name, self.rows, self._digest.hexdigest(), self.columns)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> FileEntry:
    """Write a whole CSV file (header, then `rows`); its manifest entry."""
    with CsvFile(path, columns) as out:
        out.write_rows(rows)
    return out.entry


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Put the manifest into `folder`: last, since it is what makes the folder a day."""
    (folder / MANIFEST_NAME).write_bytes(manifest.to_bytes())


def identical_day(final: Path, source: dict[str, Any]) -> Manifest | None:
    """The manifest of the day in `final` when it was made from `source`, files intact."""
    existing = read_local_manifest(final) if final.exists() else None
    if existing is not None and existing.source == source and verify_local_day(final, existing):
        return existing
    return None


def decide(
    final: Path,
    source: dict[str, Any],
    *,
    force: bool,
    holds: Callable[[Manifest], str],
    repair: bool = False,
) -> Manifest | None:
    """Whether to write the day made from `source` into the folder `final`.

    None: write it (no day there — no folder, or a folder without a manifest —, or `force`).
    A manifest: the identical day already there, to keep; an identical day is kept even
    when forced, since writing it again would change nothing. A different day raises
    ConflictError "`final`: `holds(its manifest)`", a text that names `--force`. With
    `repair`, a day of this very source whose files are damaged is written again rather
    than taken for a different one."""
    existing = read_local_manifest(final) if final.exists() else None
    if existing is None:
        return None
    if existing.source == source:
        if verify_local_day(final, existing):
            return existing
        if repair:
            return None
    if force:
        return None
    raise ConflictError(f"{final}: {holds(existing)}")


@contextmanager
def staging(data_path: Path, what: str) -> Iterator[Path]:
    """A hidden folder in `data_path` to build `what` in (staging.py), removed with
    whatever is left in it on the way out; stale folders of killed runs are swept first."""
    sweep_stale(data_path)
    folder = staging_dir(data_path, what)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(
    staged: Path, final: Path, source: dict[str, Any], *, keep_identical: bool
) -> Manifest | None:
    """Move the day built in `staged` (beside `final`) into place; None once published.

    Another run may publish the same day while this one builds it (two run-days at once):
    with `keep_identical`, an identical day found in `final` is kept — that run may be
    uploading from it — and its manifest returned, `staged` left for the caller to remove.
    A day that another run published between the check and the rename is kept when
    identical, else a ConflictError."""
    if keep_identical and (there := identical_day(final, source)):
        return there
    try:
        _rename_into_place(staged, final)
    except OSError:  # published by another run between our check and our rename
        there = identical_day(final, source)
        if there is None:
            raise ConflictError(
                f"{final}: another run wrote a different day here meanwhile; run again"
            ) from None
        return there
    return None


def _rename_into_place(staged: Path, final: Path) -> None:
    """Rename `staged` to `final`; a day folder already there is swapped out and removed.

    Readers may briefly find no folder, never a partial one. An OSError from the last
    rename means another writer published `final` meanwhile."""
    if final.exists():
        retired = final.with_name(f".{final.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        final.rename(retired)
        staged.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staged.rename(final)
