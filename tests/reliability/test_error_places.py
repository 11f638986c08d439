"""Issue 17 item 9: an error names the file and the line of the first offending row.

Keys and references are checked in bulk after COPY, so the server names the key but not
where it is; COPY names the line where the file ended for a quote never closed. Each case
breaks one row of a generated day at a known line, reissues an honest manifest (a producer
that wrote bad data) and expects `load` to refuse the day (exit 3) at that line.
"""

from __future__ import annotations

import io

import psycopg

from surveil import rowplace
from surveil.settings import Settings
from tests.conftest import TRADING_DAY, count_day
from tests.reliability import lake_day, reissue_manifest
from tests.reliability.test_day_integrity import cli, one_line

D = TRADING_DAY


def uploaded_day(settings: Settings, orders: int = 300) -> list[str]:
    code, _, err = cli("generate", "--date", str(D), "--orders", str(orders))
    assert code == 0, err
    code, _, err = cli("upload", "--date", str(D))
    assert code == 0, err
    return (lake_day(settings, D) / "orders.csv").read_text().splitlines(keepends=True)


def rewrite(settings: Settings, name: str, lines: list[str]) -> None:
    folder = lake_day(settings, D)
    (folder / name).write_text("".join(lines))
    reissue_manifest(folder)


def refused_at(settings: Settings, conn: psycopg.Connection) -> str:
    code, _, err = cli("load", "--date", str(D))
    assert code == 3, err
    assert count_day(conn, "orders", D) == 0  # nothing of the day was kept
    return one_line(err)


def test_a_duplicate_order_key_is_reported_at_the_line_of_its_second_occurrence(
    settings: Settings, conn: psycopg.Connection
) -> None:
    lines = uploaded_day(settings)
    first_id = lines[1].split(",")[0]
    fields = lines[39].split(",")  # line 40 of the file
    lines[39] = ",".join([first_id, *fields[1:]])
    rewrite(settings, "orders.csv", lines)
    line = refused_at(settings, conn)
    assert "orders.csv: line 40: duplicate key" in line
    assert first_id in line


def test_an_unknown_account_is_reported_at_the_line_of_the_first_order_naming_it(
    settings: Settings, conn: psycopg.Connection
) -> None:
    lines = uploaded_day(settings)
    for number in (120, 150):  # the first of two is the one named
        fields = lines[number - 1].split(",")
        fields[2] = "NO-SUCH-ACCOUNT"
        lines[number - 1] = ",".join(fields)
    rewrite(settings, "orders.csv", lines)
    line = refused_at(settings, conn)
    assert "orders.csv: line 120: unknown reference" in line
    assert "NO-SUCH-ACCOUNT" in line


def test_a_duplicate_account_is_reported_at_its_line_in_accounts_csv(
    settings: Settings, conn: psycopg.Connection
) -> None:
    uploaded_day(settings)
    accounts = (lake_day(settings, D) / "accounts.csv").read_text().splitlines(keepends=True)
    accounts.insert(5, accounts[2])  # the account of line 3 again, as line 6
    rewrite(settings, "accounts.csv", accounts)
    line = refused_at(settings, conn)
    assert "accounts.csv: line 6: duplicate key" in line
    assert accounts[2].split(",")[0] in line


def test_an_unterminated_quote_is_reported_where_it_opens_not_where_the_file_ends(
    settings: Settings, conn: psycopg.Connection
) -> None:
    lines = uploaded_day(settings, orders=2500)
    assert len(lines) > 2000
    lines[200] = '"' + lines[200]  # line 201
    rewrite(settings, "orders.csv", lines)
    line = refused_at(settings, conn)
    assert "orders.csv: line 201:" in line
    assert "never closed" in line


def test_quote_scanning_counts_doubled_quotes_and_quoted_newlines_as_closed() -> None:
    data = b'a,b\n1,"say ""hi"""\n2,"two\nlines"\n3,"open\n4,x\n'
    assert rowplace.unterminated_quote_line(io.BytesIO(data)) == 5
    closed = b'a,b\n1,"say ""hi"""\n2,"two\nlines"\n'
    assert rowplace.unterminated_quote_line(io.BytesIO(closed)) is None


def test_a_row_is_found_by_its_key_columns_ignoring_ones_the_file_lacks() -> None:
    data = b'id,name\nA,"x\ny"\nB,z\nB,w\n'
    key = rowplace.key_in_detail("Key (trade_date, id)=(2026-11-25, B) is duplicated.")
    assert key == {"trade_date": "2026-11-25", "id": "B"}
    assert rowplace.line_of_row(io.BytesIO(data), key, occurrence=2) == 5
    assert rowplace.line_of_row(io.BytesIO(data), {"id": "C"}) is None
