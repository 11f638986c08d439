"""load: one transaction per day, idempotent, refusing bad input without loading anything."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from psycopg import sql
from typer.testing import CliRunner

from surveil import db
from surveil.cli import app
from surveil.errors import BadInputError
from surveil.generate import generate_day
from surveil.lake import upload_day
from surveil.load import STATISTICS_TARGET, load_day, partition_name
from surveil.manifest import COLUMNS, Manifest, describe_file
from surveil.settings import Settings
from surveil.validate import validate_day
from tests.conftest import TRADING_DAY, count_day, table_exists
from tests.legacy import load_before_005, migrate_before

runner = CliRunner()


def lake_day(settings: Settings, day: dt.date = TRADING_DAY) -> Path:
    return Path(settings.lake_uri) / f"trade_date={day}"


def prepare(
    settings: Settings,
    day: dt.date = TRADING_DAY,
    orders: int = 300,
    without: tuple[str, ...] = (),
) -> Manifest:
    generate_day(settings, day, orders=orders, without=without)
    upload_day(settings, day)
    return Manifest.from_bytes((lake_day(settings, day) / "_manifest.json").read_bytes(), "test")


def rewrite_lake_file(settings: Settings, table: str, edit) -> None:
    """Change a lake file and re-issue its manifest, as a producer fixing a day would."""
    folder = lake_day(settings)
    path = folder / f"{table}.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))
    manifest = Manifest.from_bytes((folder / "_manifest.json").read_bytes(), "test")
    files = dict(manifest.files)
    files[f"{table}.csv"] = describe_file(path, COLUMNS[table])
    (folder / "_manifest.json").write_bytes(Manifest(manifest.trade_date, files, {}).to_bytes())


def test_first_load_inserts_every_row_of_the_manifest(settings: Settings, conn) -> None:
    manifest = prepare(settings)
    result = load_day(settings, TRADING_DAY)
    assert result.action == "loaded"
    for table in ("orders", "executions"):
        assert count_day(conn, table, TRADING_DAY) == manifest.entry(table).rows
        assert result.rows_inserted[table] == manifest.entry(table).rows
    assert result.rows_inserted["accounts"] == manifest.entry("accounts").rows
    run = conn.execute("SELECT action, manifest_sha256, rows_read FROM load_runs").fetchone()
    assert run[0] == "loaded" and run[1] == manifest.sha256
    assert run[2]["orders"] == manifest.entry("orders").rows


def test_second_load_of_same_day_inserts_nothing(settings: Settings, conn) -> None:
    prepare(settings)
    load_day(settings, TRADING_DAY)
    before = count_day(conn, "orders", TRADING_DAY), count_day(conn, "executions", TRADING_DAY)
    result = runner.invoke(app, ["load", "--date", str(TRADING_DAY)])
    assert result.exit_code == 0
    assert "0 rows inserted" in result.stderr
    assert (
        count_day(conn, "orders", TRADING_DAY),
        count_day(conn, "executions", TRADING_DAY),
    ) == before
    runs = conn.execute("SELECT action, rows_inserted FROM load_runs ORDER BY run_id").fetchall()
    assert [r[0] for r in runs] == ["loaded", "skipped"]
    assert runs[1][1] == {}


def test_a_changed_manifest_replaces_the_day_as_a_whole(settings: Settings, conn) -> None:
    prepare(settings)
    load_day(settings, TRADING_DAY)
    # Drop the last order and its fills: the producer corrected the day.
    orders_path = lake_day(settings) / "orders.csv"
    last_order = orders_path.read_text().splitlines()[-1].split(",")[0]
    rewrite_lake_file(
        settings, "executions", lambda ls: [x for x in ls if f",{last_order}," not in x]
    )
    rewrite_lake_file(settings, "orders", lambda ls: ls[:-1])
    manifest = Manifest.from_bytes((lake_day(settings) / "_manifest.json").read_bytes(), "test")

    result = load_day(settings, TRADING_DAY)
    assert result.action == "replaced"
    assert count_day(conn, "orders", TRADING_DAY) == manifest.entry("orders").rows == 299
    assert count_day(conn, "executions", TRADING_DAY) == manifest.entry("executions").rows
    assert validate_day(settings, TRADING_DAY).passed
    assert [r[0] for r in conn.execute("SELECT action FROM load_runs ORDER BY run_id")] == [
        "loaded",
        "replaced",
    ]


def test_days_are_independent_partitions(settings: Settings, conn) -> None:
    other = dt.date(2026, 11, 24)
    prepare(settings)
    prepare(settings, other, orders=200)
    load_day(settings, TRADING_DAY)
    load_day(settings, other)
    assert count_day(conn, "orders", TRADING_DAY) == 300
    assert count_day(conn, "orders", other) == 200
    assert table_exists(conn, "orders_2026_11_24") and table_exists(conn, "orders_2026_11_25")


def test_tampered_lake_file_is_refused_and_nothing_loads(settings: Settings, conn) -> None:
    prepare(settings)
    path = lake_day(settings) / "executions.csv"
    text = path.read_text()
    path.write_text(text.replace(",XNAS,", ",XNYS,", 1) if ",XNAS," in text else text + "")
    assert path.read_text() != text
    result = runner.invoke(app, ["load", "--date", str(TRADING_DAY)])
    assert result.exit_code == 3
    assert "executions.csv" in result.stderr and "sha256" in result.stderr
    assert "Traceback" not in result.stderr
    assert count_day(conn, "orders", TRADING_DAY) == 0
    assert conn.execute("SELECT count(*) FROM load_runs").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0


def test_malformed_csv_row_exits_3_naming_file_and_line(settings: Settings, conn) -> None:
    prepare(settings)

    def corrupt(lines: list[str]) -> list[str]:
        fields = lines[5].split(",")
        fields[COLUMNS["orders"].index("quantity")] = "12x"
        lines[5] = ",".join(fields)
        return lines

    rewrite_lake_file(settings, "orders", corrupt)
    result = runner.invoke(app, ["load", "--date", str(TRADING_DAY)])
    assert result.exit_code == 3, result.stderr
    line = result.stderr.strip()
    assert "orders.csv" in line and "line 6" in line and "column quantity" in line
    assert len(line.splitlines()) == 1
    assert count_day(conn, "orders", TRADING_DAY) == 0
    assert count_day(conn, "executions", TRADING_DAY) == 0


def test_wrong_header_is_refused_before_any_row(settings: Settings, conn) -> None:
    prepare(settings)
    rewrite_lake_file(
        settings,
        "executions",
        lambda ls: [ls[0].replace("fill_qty,fill_price", "fill_price,fill_qty")] + ls[1:],
    )
    with pytest.raises(BadInputError, match=r"executions\.csv: line 1: wrong header"):
        load_day(settings, TRADING_DAY)
    assert count_day(conn, "executions", TRADING_DAY) == 0


def test_execution_for_an_unknown_order_is_refused(settings: Settings, conn) -> None:
    prepare(settings)
    rewrite_lake_file(
        settings,
        "executions",
        lambda ls: ls[:1] + [ls[1].replace(f"C{TRADING_DAY:%Y%m%d}", "CXXXXXXXX", 1)] + ls[2:],
    )
    with pytest.raises(BadInputError, match="unknown reference"):
        load_day(settings, TRADING_DAY)
    assert count_day(conn, "orders", TRADING_DAY) == 0
    # The day's tables were built and committed before the reference check; the failed
    # load dropped them.
    for table in ("orders", "executions"):
        assert not table_exists(conn, f"{partition_name(table, TRADING_DAY)}_new")
        assert not table_exists(conn, partition_name(table, TRADING_DAY))


def test_missing_manifest_exits_3(settings: Settings) -> None:
    result = runner.invoke(app, ["load", "--date", str(TRADING_DAY)])
    assert result.exit_code == 3
    assert "no manifest" in result.stderr


def test_two_concurrent_loads_of_one_day_leave_exact_counts(settings: Settings, conn) -> None:
    manifest = prepare(settings, orders=2000)
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(load_day(settings, TRADING_DAY))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.action for r in results) == ["loaded", "skipped"]
    assert count_day(conn, "orders", TRADING_DAY) == manifest.entry("orders").rows
    assert count_day(conn, "executions", TRADING_DAY) == manifest.entry("executions").rows


def test_tables_left_by_a_load_killed_before_attaching_are_replaced_by_the_next_load(
    settings: Settings, conn
) -> None:
    """The day's tables are built on their own connections and committed unattached just
    before the load attaches them; a process killed in between leaves them behind. They
    hold no part of the warehouse, and the next load of the day drops and rebuilds them."""
    manifest = prepare(settings)
    db.migrate(conn)
    for table in ("orders", "executions"):
        stale = sql.Identifier(f"{partition_name(table, TRADING_DAY)}_new")
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {})").format(stale, sql.Identifier(table)))

    result = load_day(settings, TRADING_DAY)

    assert result.action == "loaded"
    assert count_day(conn, "orders", TRADING_DAY) == manifest.entry("orders").rows
    assert count_day(conn, "executions", TRADING_DAY) == manifest.entry("executions").rows
    for table in ("orders", "executions"):
        assert not table_exists(conn, f"{partition_name(table, TRADING_DAY)}_new")


def test_partitions_and_their_indexes_carry_the_day_s_name(settings: Settings, conn) -> None:
    prepare(settings)
    load_day(settings, TRADING_DAY)
    for table in ("orders", "executions"):
        partition = partition_name(table, TRADING_DAY)
        names = [
            r[0]
            for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                (partition,),
            )
        ]
        assert len(names) == 3  # the key and two indexes, adopted from the parent's
        assert all(n.startswith(f"{partition}_") and "_new" not in n for n in names), names


def test_a_load_leaves_the_reference_tables_analysed_for_the_rules(
    settings: Settings, conn
) -> None:
    prepare(settings)
    load_day(settings, TRADING_DAY)
    # The rules read the day's own partitions of the reference tables (migration 005).
    for table in (partition_name(t, TRADING_DAY) for t in ("firms", "accounts", "orders")):
        analysed = conn.execute(
            "SELECT reltuples > 0 FROM pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone()[0]
        assert analysed, f"{table} has no statistics after the load"


def test_a_load_takes_the_day_s_statistics_from_a_smaller_sample_for_that_load_only(
    settings: Settings, conn
) -> None:
    def server_target() -> str:
        with db.connect(settings) as fresh:
            return fresh.execute("SHOW default_statistics_target").fetchone()[0]

    prepare(settings)
    before = server_target()
    load_day(settings, TRADING_DAY)
    partition = partition_name("orders", TRADING_DAY)
    stats = dict(
        conn.execute(
            "SELECT attname, cardinality(histogram_bounds::text::text[]) FROM pg_stats "
            "WHERE tablename = %s",
            (partition,),
        ).fetchall()
    )
    assert set(stats) == set(COLUMNS["orders"]), "every column of the day has statistics"
    # 300 distinct times: the histogram has as many bounds as the target allows, plus one.
    assert stats["transact_time"] == STATISTICS_TARGET + 1
    assert server_target() == before != str(STATISTICS_TARGET)


BUILD_STEPS = ("connect", "copy", "key", "indexes", "statistics", "wait", "commit")


def test_a_load_reports_how_long_each_step_of_each_day_table_took(settings: Settings) -> None:
    prepare(settings)
    timings = load_day(settings, TRADING_DAY).timings
    for table in ("orders", "executions"):
        steps = [timings[f"{table}_{step}"] for step in BUILD_STEPS]
        assert all(seconds >= 0 for seconds in steps)
        assert sum(steps) <= timings[f"{table}_build"] <= timings["build_wall"]


def test_migration_004_gives_days_loaded_before_it_the_time_ordered_index(
    settings: Settings, conn
) -> None:
    # A day loaded under 001-003 (today's load needs migration 005's schema); their
    # accounts.beneficial_owner was NOT NULL, so the day has no omnibus accounts.
    prepare(settings, without=("omnibus",))
    migrate_before(conn, 4)
    load_before_005(conn, lake_day(settings), TRADING_DAY)
    before = partition_name("executions", TRADING_DAY)

    def indexed_columns(partition: str) -> list[str]:
        return [
            r[0]
            for r in conn.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass "
                "AND NOT indisprimary ORDER BY 1",
                (partition,),
            )
        ]

    assert any("(account_id, symbol)" in d for d in indexed_columns(before))
    with db.connect(settings) as upgrade:
        assert [m.version for m in db.migrate(upgrade)][0] == 4
    assert not any("(account_id, symbol)" in d for d in indexed_columns(before))
    assert any("(account_id, symbol, transact_time)" in d for d in indexed_columns(before))
    # A day loaded after it is built with the new index, which ATTACH adopts.
    later = TRADING_DAY - dt.timedelta(days=1)
    prepare(settings, later)
    load_day(settings, later)
    assert len(indexed_columns(partition_name("executions", later))) == 2


def test_migration_005_gives_each_day_loaded_before_it_the_reference_data_as_it_stood(
    settings: Settings, conn
) -> None:
    """Two days loaded under 001-004 with different account masters (seeds 42 and 7): the
    later load had overwritten the shared tables for both. 005 gives each day its own
    copy of what stood then, with foreign keys within the day; the day whose files differ
    fails its reference checks (as docs/reliability.md says) until `load --force`."""
    first, second = dt.date(2026, 11, 24), TRADING_DAY
    # Accounts without an owner (omnibus) did not fit 001-004's NOT NULL owner.
    generate_day(settings, first, orders=300, seed=42, without=("omnibus",))
    generate_day(settings, second, orders=300, seed=7, without=("omnibus",))
    for day in (first, second):
        upload_day(settings, day)
    migrate_before(conn, 5)
    for day in (first, second):
        load_before_005(conn, lake_day(settings, day), day)
    with db.connect(settings) as upgrade:
        assert [m.version for m in db.migrate(upgrade)][0] == 5  # then any later ones

    for day in (first, second):
        assert count_day(conn, "accounts", day) == 500
        assert count_day(conn, "firms", day) == 50
        assert count_day(conn, "orders", day) == 300
        foreign_keys = {
            r[0]
            for r in conn.execute(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
                "(%s::regclass, %s::regclass, %s::regclass)",
                tuple(partition_name(t, day) for t in ("accounts", "orders", "executions")),
            )
        }
        suffix = f"{day:%Y_%m_%d}"
        assert foreign_keys == {
            f"accounts_{suffix}_firm_fkey",
            f"orders_{suffix}_account_fkey",
            f"orders_{suffix}_firm_fkey",
            f"executions_{suffix}_account_fkey",
            f"executions_{suffix}_order_fkey",
        }
    # The reference as it stood was the second day's: it validates, the first does not.
    assert validate_day(settings, second).passed
    stale = {c.name for c in validate_day(settings, first).failed}
    assert stale == {"firms_match_lake", "accounts_match_lake"}
    result = runner.invoke(app, ["load", "--date", str(first), "--force", "--json"])
    assert result.exit_code == 0, result.stderr
    assert validate_day(settings, first).passed
    assert validate_day(settings, second).passed  # untouched by the first day's reload
    # An unknown beneficial owner is NULL now, and a day may carry one.
    nullable = conn.execute(
        "SELECT is_nullable FROM information_schema.columns "
        "WHERE table_name = 'accounts' AND column_name = 'beneficial_owner_id'"
    ).fetchone()[0]
    assert nullable == "YES"
