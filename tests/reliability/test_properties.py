"""Property-based: generated days go through the real load and validate.

1. Any well-formed day (random orders, quantities, prices, partial fills, cancels) loads
   exactly as its manifest says and passes every validation check.
2. Any single cell replaced by arbitrary text or bytes makes load either refuse the day
   (exit 3, one line, the warehouse exactly as before) or load it whole (exit 0), after which
   validation passes or fails (exit 0 or 1); surveil never crashes (exit 70) on input.

Each example replaces the same trading day, so a refused load must leave the previous
example's day untouched. Examples are few (15) to keep the suite fast.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from surveil import db
from surveil.cli import app
from surveil.manifest import COLUMNS, MANIFEST_NAME, Manifest
from surveil.settings import Settings
from tests.conftest import count_day
from tests.daybuilder import ACCOUNTS, DAY, DayBuilder
from tests.reliability import lake_day, ledger, reissue_manifest

runner = CliRunner()
DATE = str(DAY)
SESSION_S = 6 * 3600 + 1800  # 14:30 to 21:00 UTC on the test day (09:30 to 16:00 New York)
SYMBOLS = ("AAPL", "MSFT", "IBM", "XYZ")
PRICES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999999.9999"), places=4).map(
    lambda d: format(d, "f")
)
EXAMPLES = hypothesis_settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def clock(seconds: int) -> str:
    """HH:MM:SS, `seconds` after the 14:30 UTC open."""
    t = 14 * 3600 + 1800 + min(seconds, SESSION_S - 1)
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"


@st.composite
def trading_days(draw: st.DrawFn, max_orders: int = 12) -> DayBuilder:
    day = DayBuilder()
    for _ in range(draw(st.integers(1, max_orders))):
        qty = draw(st.integers(1, 1_000_000))
        limit = draw(st.none() | PRICES)
        start = draw(st.integers(0, SESSION_S - 1))
        remaining = draw(st.integers(0, qty))
        fills = []
        while remaining > 0:
            part = remaining if len(fills) == 2 else draw(st.integers(1, remaining))
            price = limit if limit is not None else draw(PRICES)
            fills.append((part, price, clock(start + draw(st.integers(0, 120)))))
            remaining -= part
        cancel = draw(st.none() | st.integers(start, SESSION_S - 1))
        day.order(
            draw(st.sampled_from(sorted(ACCOUNTS))),
            draw(st.sampled_from(SYMBOLS)),
            draw(st.sampled_from(["buy", "sell"])),
            qty,
            clock(start),
            limit,
            fills,
            clock(cancel) if cancel is not None else None,
        )
    return day


def warehouse(conn: psycopg.Connection) -> tuple:
    return count_day(conn, "orders", DAY), count_day(conn, "executions", DAY), ledger(conn, DAY)


@EXAMPLES
@given(day=trading_days())
def test_any_well_formed_day_loads_exactly_and_validates(
    settings: Settings, conn: psycopg.Connection, day: DayBuilder
) -> None:
    manifest = day.write(Path(settings.lake_uri))
    loaded = runner.invoke(app, ["load", "--date", DATE, "--json"])
    assert loaded.exit_code == 0, loaded.stderr
    assert json.loads(loaded.stdout)["status"] in ("loaded", "replaced", "skipped")
    assert count_day(conn, "orders", DAY) == manifest.entry("orders").rows == len(day.orders)
    assert count_day(conn, "executions", DAY) == len(day.executions)
    checked = runner.invoke(app, ["validate", "--date", DATE, "--json"])
    failed = [c["name"] for c in json.loads(checked.stdout)["checks"] if not c["passed"]]
    assert checked.exit_code == 0, failed


CELL_VALUES = st.one_of(
    st.text(max_size=40).map(str.encode),
    st.binary(max_size=40),
    st.sampled_from([b"", b'"', b",", b"\n", b"\x00", b"\xff", b"-1", b"1e400", b"NaN", b"\\N"]),
)


@EXAMPLES
@given(day=trading_days(max_orders=5), data=st.data())
def test_one_hostile_cell_is_refused_whole_or_loaded_whole(
    settings: Settings, conn: psycopg.Connection, day: DayBuilder, data: st.DataObject
) -> None:
    db.migrate(conn)  # the first example may meet an empty database
    before = warehouse(conn)
    day.write(Path(settings.lake_uri))
    table = data.draw(st.sampled_from(["orders", "executions"] if day.executions else ["orders"]))
    path = lake_day(settings, DAY) / f"{table}.csv"
    lines = path.read_bytes().split(b"\n")
    row = data.draw(st.integers(2, len(lines) - 1))  # a data line (1-based; 1 is the header)
    column = data.draw(st.integers(0, len(COLUMNS[table]) - 1))
    fields = lines[row - 1].split(b",")
    fields[column] = data.draw(CELL_VALUES)
    lines[row - 1] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    reissue_manifest(lake_day(settings, DAY))

    loaded = runner.invoke(app, ["load", "--date", DATE, "--json"])
    assert loaded.exit_code in (0, 3), loaded.stderr
    if loaded.exit_code == 3:
        line = loaded.stderr.strip()
        assert len(line.splitlines()) == 1 and len(line) < 1000, line
        assert warehouse(conn) == before  # refused whole: not a row, not a ledger entry
        return
    manifest = Manifest.from_bytes((path.parent / MANIFEST_NAME).read_bytes(), "lake")
    assert count_day(conn, "orders", DAY) == manifest.entry("orders").rows
    assert count_day(conn, "executions", DAY) == manifest.entry("executions").rows
    checked = runner.invoke(app, ["validate", "--date", DATE])
    assert checked.exit_code in (0, 1), checked.stderr
