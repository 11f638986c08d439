"""validate: every rule of the data catches its own violation.

A generated day loads and validates clean; then one row of the loaded day is changed to
break one rule, and that rule's check must fail naming the row. The rules are computed a
few at a time in shared passes (surveil/validate/checks.py declares them), so each case also proves its verdict
column is wired to its own check.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from surveil.cli import app
from surveil.errors import ExitCode
from surveil.generate import generate_day
from surveil.lake import upload_day
from surveil.load import load_day, partition_name
from surveil.settings import Settings
from surveil.validate import validate_day
from surveil.validate.checks import BY_NAME, CHECKS, ROW_CHECKS
from tests.conftest import TRADING_DAY

D = TRADING_DAY

# (check, statement changing one row and returning its id); %(d)s is the day.
BREAKS: dict[str, str] = {
    "executions_have_orders": """
        DELETE FROM orders WHERE trade_date = %(d)s AND cl_ord_id = (
            SELECT cl_ord_id FROM executions WHERE trade_date = %(d)s
            GROUP BY cl_ord_id HAVING count(*) = 1 ORDER BY min(exec_id) LIMIT 1)
        RETURNING (SELECT min(exec_id) FROM executions e
                   WHERE e.trade_date = %(d)s AND e.cl_ord_id = orders.cl_ord_id)""",
    "executions_match_orders": """
        UPDATE executions SET symbol = 'ZZZZ' WHERE trade_date = %(d)s AND exec_id = (
            SELECT min(exec_id) FROM executions WHERE trade_date = %(d)s)
        RETURNING exec_id""",
    "fills_within_order_quantity": """
        UPDATE orders SET quantity = cum_qty - 1 WHERE trade_date = %(d)s AND cl_ord_id = (
            SELECT min(cl_ord_id) FROM orders WHERE trade_date = %(d)s AND cum_qty > 1)
        RETURNING cl_ord_id""",
    "cum_qty_equals_fills": """
        UPDATE orders SET cum_qty = cum_qty + 1 WHERE trade_date = %(d)s AND cl_ord_id = (
            SELECT min(cl_ord_id) FROM orders WHERE trade_date = %(d)s AND cum_qty > 0)
        RETURNING cl_ord_id""",
    "status_consistent_with_fills": """
        UPDATE orders SET ord_status = '2' WHERE trade_date = %(d)s AND cl_ord_id = (
            SELECT min(cl_ord_id) FROM orders WHERE trade_date = %(d)s AND cum_qty = 0)
        RETURNING cl_ord_id""",
    "positive_quantities_and_prices": """
        UPDATE executions SET fill_qty = 0 WHERE trade_date = %(d)s AND exec_id = (
            SELECT min(exec_id) FROM executions WHERE trade_date = %(d)s)
        RETURNING exec_id""",
    "limit_price_matches_order_type": """
        UPDATE orders SET limit_price = NULL WHERE trade_date = %(d)s AND cl_ord_id = (
            SELECT min(cl_ord_id) FROM orders
            WHERE trade_date = %(d)s AND order_type = '2' AND cum_qty = 0)
        RETURNING cl_ord_id""",
    "fills_respect_limit": """
        UPDATE executions e SET fill_price = o.limit_price + 1
        FROM orders o
        WHERE e.trade_date = %(d)s AND o.trade_date = e.trade_date
          AND o.cl_ord_id = e.cl_ord_id AND e.exec_id = (
            SELECT min(e2.exec_id) FROM executions e2 JOIN orders o2 USING (trade_date, cl_ord_id)
            WHERE e2.trade_date = %(d)s AND o2.side = '1' AND o2.limit_price IS NOT NULL)
        RETURNING e.exec_id""",
    "fix_enums": """
        UPDATE orders SET time_in_force = '9' WHERE trade_date = %(d)s AND cl_ord_id = (
            SELECT min(cl_ord_id) FROM orders WHERE trade_date = %(d)s)
        RETURNING cl_ord_id""",
    "timestamps_on_trade_date": """
        UPDATE executions SET transact_time = transact_time + interval '2 days'
        WHERE trade_date = %(d)s AND exec_id = (
            SELECT min(exec_id) FROM executions WHERE trade_date = %(d)s)
        RETURNING exec_id""",
    "fills_after_order": """
        UPDATE executions e SET transact_time = o.transact_time - interval '1 second'
        FROM orders o
        WHERE e.trade_date = %(d)s AND o.trade_date = e.trade_date
          AND o.cl_ord_id = e.cl_ord_id AND e.exec_id = (
            SELECT min(exec_id) FROM executions WHERE trade_date = %(d)s)
        RETURNING e.exec_id""",
}


def loaded_day(settings: Settings, day: dt.date = D) -> None:
    generate_day(settings, day, orders=400)
    upload_day(settings, day)
    load_day(settings, day)


def test_a_generated_day_passes_every_check(settings: Settings) -> None:
    loaded_day(settings)
    result = validate_day(settings, D)
    assert result.failed == []
    assert {c.name for c in result.checks} >= {c.name for c in ROW_CHECKS}


def test_every_row_check_has_a_case_here_unless_a_constraint_makes_it_unbreakable() -> None:
    enforced_by_primary_keys = {"orders_key_unique", "executions_key_unique"}
    assert set(BREAKS) | enforced_by_primary_keys == {c.name for c in ROW_CHECKS}


@pytest.mark.parametrize("check", sorted(BREAKS))
def test_a_broken_row_fails_its_check_naming_the_row(
    settings: Settings, conn: psycopg.Connection, check: str
) -> None:
    loaded_day(settings)
    if check == "executions_have_orders":
        # The load's foreign key forbids it; a warehouse edited by hand can still get there.
        executions = partition_name("executions", D)
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(executions), sql.Identifier(f"{executions}_order_fkey")
            )
        )
    changed = conn.execute(BREAKS[check], {"d": D}).fetchall()
    assert len(changed) == 1, f"the case for {check} changed {len(changed)} rows"
    broken_id = changed[0][0]

    result = validate_day(settings, D)

    failed = {c.name: c for c in result.failed}
    assert check in failed, sorted(failed)
    assert broken_id in failed[check].sample
    assert failed[check].observed == 1


def test_every_check_is_declared_once_with_a_description() -> None:
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    assert all(c.description.endswith(".") and len(c.description) > 20 for c in CHECKS)
    # A row check's verdict lives in the declaration, and each pass is composed from them.
    assert all(c.verdicts for c in ROW_CHECKS)
    assert not any(c.verdicts for c in CHECKS if c.kind != "rows")


def test_validate_json_says_what_each_check_means(
    settings: Settings, conn: psycopg.Connection
) -> None:
    loaded_day(settings)
    conn.execute(BREAKS["cum_qty_equals_fills"], {"d": D})
    result = CliRunner().invoke(app, ["validate", "--date", D.isoformat(), "--json"])
    assert result.exit_code == ExitCode.VALIDATION_FAILED
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks.keys() == {c.name for c in CHECKS}
    broken = checks["cum_qty_equals_fills"]
    assert broken["passed"] is False
    assert broken["blocking"] is True
    assert broken["description"] == BY_NAME["cum_qty_equals_fills"].description
