"""Where in a lake file a bad row is: the line to name in an error message.

The load checks keys and references in bulk, on the whole day at once (a constraint added
after COPY), so the server says which key is wrong but not where it came from; and COPY
reports an unterminated quote at the line where the file ended, not where the quote was
opened. These functions read the file again, only on that error path, and find the line.
"""

from __future__ import annotations

import csv
import io
import re
from typing import IO

# The server's detail for a key or reference violation: Key (a, b)=(x, y) ...
_KEY_DETAIL = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*?)\)(?: |\.|$)")


def key_in_detail(detail: str) -> dict[str, str]:
    """{column: value} of the key a violation's detail names ({} when it names none)."""
    match = _KEY_DETAIL.search(detail)
    if not match:
        return {}
    columns = [c.strip().strip('"') for c in match["columns"].split(",")]
    values = [v.strip() for v in match["values"].split(", ")]
    if len(columns) != len(values):
        return {}
    return dict(zip(columns, values, strict=True))


def line_of_row(stream: IO[bytes], key: dict[str, str], occurrence: int = 1) -> int | None:
    """The line on which the `occurrence`-th row whose columns equal `key` ends (the file's
    own columns only: a trade_date the file does not carry is ignored); None if absent."""
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=""))
    header = next(reader, [])
    positions = {header.index(c): v for c, v in key.items() if c in header}
    if not positions:
        return None
    seen = 0
    for row in reader:
        if all(i < len(row) and row[i] == v for i, v in positions.items()):
            seen += 1
            if seen == occurrence:
                return reader.line_num
    return None


def unterminated_quote_line(stream: IO[bytes]) -> int | None:
    """The line where a quoted field opens that no quote closes before the end of the file.

    CSV escapes a quote inside a quoted field by doubling it, so the count of quote
    characters is even outside quoted fields: the state flips on each odd line."""
    inside_since: int | None = None
    for number, line in enumerate(stream, start=1):
        if line.count(b'"') % 2:
            inside_since = number if inside_since is None else None
    return inside_since
