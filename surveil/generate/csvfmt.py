"""Vectorised CSV formatting: numpy columns to CSV text without a per-row Python loop.

The generator's columns never contain commas, quotes or newlines, so no quoting is needed;
an empty field is SQL NULL for PostgreSQL's COPY (FORMAT csv).
"""

from __future__ import annotations

import numpy as np


def fixed(values: np.ndarray, decimals: int) -> np.ndarray:
    """Integers in units of 10**-decimals as decimal strings: fixed(12345, 2) -> '123.45'."""
    values = values.astype(np.int64)
    scale = 10**decimals
    whole = (values // scale).astype(str)
    frac = np.strings.zfill((values % scale).astype(str), decimals)
    return np.strings.add(np.strings.add(whole, "."), frac)


def integers(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64).astype(str)


def timestamps(epoch_us: np.ndarray) -> np.ndarray:
    """Microseconds since the epoch as ISO 8601 UTC: 2026-11-27T14:30:00.000001Z."""
    iso = np.datetime_as_string(epoch_us.astype("datetime64[us]"), unit="us")
    return np.strings.add(iso, "Z")


def nullable(text: np.ndarray, present: np.ndarray) -> np.ndarray:
    return np.where(present, text, "")


def ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(np.int64).astype(str), width))


def rows(columns: list[np.ndarray]) -> str:
    """Join equal-length string columns into CSV lines, each ending in a newline."""
    line = columns[0].astype(str)
    for column in columns[1:]:
        line = np.strings.add(np.strings.add(line, ","), column)
    if len(line) == 0:
        return ""
    return "\n".join(line.tolist()) + "\n"
