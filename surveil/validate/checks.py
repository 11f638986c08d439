"""Every check `validate` makes, declared once: its name, what it means, whether a
failure blocks the day, and (for the data's own rules) the SQL verdict it computes.

A row check's verdict is a boolean SQL expression that is true when the row BREAKS the
rule. The row checks are computed a few at a time in shared passes over the day rather
than one query per check: the passes below are composed from the declared verdicts, each
pass returning (id, verdict, verdict, ...) for the rows that break at least one.
`validate --json` and the report show each check's description beside its result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from psycopg import sql

# FIX enums the warehouse accepts.
SIDES = ("1", "2", "5", "6")  # buy, sell, sell short, sell short exempt
ORDER_TYPES = ("1", "2", "3", "4")  # market, limit, stop, stop limit
TIME_IN_FORCE = ("0", "1", "2", "3", "4", "6", "7")  # day … at the close (7)
ORD_STATUSES = ("0", "1", "2", "4", "5", "6", "8", "C")  # new, partial, filled, cancelled, …

CheckKind = Literal["provenance", "count", "reference", "rows"]
Pass = Literal["orders_key", "executions_key", "orders", "executions"]


@dataclass(frozen=True)
class Check:
    """One validation check. `verdicts` maps each pass the check takes part in to its SQL
    verdict there (row checks only; the other kinds are computed in Python)."""

    name: str
    kind: CheckKind
    description: str
    blocking: bool = True
    verdicts: dict[Pass, str] = field(default_factory=dict)


CHECKS: tuple[Check, ...] = (
    Check(
        "loaded_manifest_is_latest",
        "provenance",
        "The manifest in the lake is the one the day was loaded from (same sha256).",
    ),
    Check(
        "lake_files_match_manifest",
        "provenance",
        "Every file the manifest lists is in the lake and hashes to its sha256 (re-read now).",
    ),
    Check("orders_count", "count", "The warehouse holds as many orders as the manifest lists."),
    Check(
        "executions_count",
        "count",
        "The warehouse holds as many executions as the manifest lists.",
    ),
    Check(
        "firms_match_lake",
        "reference",
        "The day's firms in the warehouse equal the lake's firms.csv, row for row.",
    ),
    Check(
        "accounts_match_lake",
        "reference",
        "The day's accounts in the warehouse equal the lake's accounts.csv, row for row.",
    ),
    Check(
        "orders_key_unique",
        "rows",
        "No ClOrdID (11) appears twice in the day.",
        verdicts={"orders_key": "count(*) > 1"},
    ),
    Check(
        "executions_key_unique",
        "rows",
        "No ExecID (17) appears twice in the day.",
        verdicts={"executions_key": "count(*) > 1"},
    ),
    Check(
        "executions_have_orders",
        "rows",
        "Every execution belongs to an order of the same day.",
        verdicts={"executions": "o.cl_ord_id IS NULL"},
    ),
    Check(
        "executions_match_orders",
        "rows",
        "An execution's symbol, side and account are its order's.",
        verdicts={
            "executions": "coalesce(e.symbol <> o.symbol OR e.side <> o.side"
            " OR e.account_id <> o.account_id, false)"
        },
    ),
    Check(
        "fills_within_order_quantity",
        "rows",
        "An order's fills add up to no more than its quantity.",
        verdicts={"orders": "coalesce(f.filled > o.quantity, false)"},
    ),
    Check(
        "cum_qty_equals_fills",
        "rows",
        "An order's CumQty (14) equals the sum of its fills.",
        verdicts={"orders": "o.cum_qty <> coalesce(f.filled, 0)"},
    ),
    Check(
        "status_consistent_with_fills",
        "rows",
        "An order's final OrdStatus (39) agrees with its fills (filled, partial, unfilled).",
        verdicts={
            "orders": """NOT ((o.ord_status = '2' AND o.cum_qty = o.quantity)
          OR (o.ord_status = '1' AND o.cum_qty > 0 AND o.cum_qty < o.quantity)
          OR (o.ord_status IN ('0', '8') AND o.cum_qty = 0)
          OR (o.ord_status IN ('4', '5', '6', 'C') AND o.cum_qty < o.quantity))"""
        },
    ),
    Check(
        "positive_quantities_and_prices",
        "rows",
        "Quantities and prices are positive (orders and fills).",
        verdicts={
            "orders": "coalesce(o.quantity <= 0 OR o.cum_qty < 0 OR o.limit_price <= 0"
            " OR o.avg_px <= 0, false)",
            "executions": "(e.fill_qty <= 0 OR e.fill_price <= 0)",
        },
    ),
    Check(
        "limit_price_matches_order_type",
        "rows",
        "Limit and stop-limit orders carry a price (44); market orders carry none.",
        verdicts={
            "orders": "((o.order_type IN ('2', '4') AND o.limit_price IS NULL)"
            " OR (o.order_type = '1' AND o.limit_price IS NOT NULL))"
        },
    ),
    Check(
        "fills_respect_limit",
        "rows",
        "No buy fills above its limit price, no sell below it.",
        verdicts={
            "executions": "coalesce((o.side = '1' AND e.fill_price > o.limit_price)"
            " OR (o.side <> '1' AND e.fill_price < o.limit_price), false)"
        },
    ),
    Check(
        "fix_enums",
        "rows",
        "Side (54), OrdType (40), TimeInForce (59) and OrdStatus (39) are values FIX defines.",
        verdicts={
            "orders": "(o.side <> ALL(%(sides)s) OR o.order_type <> ALL(%(order_types)s)"
            " OR o.time_in_force <> ALL(%(tifs)s) OR o.ord_status <> ALL(%(statuses)s))",
            "executions": "e.side <> ALL(%(sides)s)",
        },
    ),
    Check(
        "timestamps_on_trade_date",
        "rows",
        "Order, cancel and fill times fall on the trade date (New York), cancels after orders.",
        verdicts={
            "orders": "coalesce((o.transact_time AT TIME ZONE 'America/New_York')::date"
            " <> o.trade_date OR (o.cancel_time AT TIME ZONE 'America/New_York')::date"
            " <> o.trade_date OR o.cancel_time < o.transact_time, false)",
            "executions": "(e.transact_time AT TIME ZONE 'America/New_York')::date <> e.trade_date",
        },
    ),
    Check(
        "fills_after_order",
        "rows",
        "No fill is earlier than its order.",
        verdicts={"executions": "coalesce(e.transact_time < o.transact_time, false)"},
    ),
)

BY_NAME = {check.name: check for check in CHECKS}
ROW_CHECKS = tuple(check for check in CHECKS if check.kind == "rows")

# The passes' shapes; {verdicts} and {any_broken} are composed from the declared checks.
# %(d)s is the trade date.
PASS_TEMPLATES: dict[Pass, str] = {
    "orders_key": """
SELECT cl_ord_id, {verdicts} FROM orders WHERE trade_date = %(d)s
GROUP BY cl_ord_id HAVING {any_broken}""",
    "executions_key": """
SELECT exec_id, {verdicts} FROM executions WHERE trade_date = %(d)s
GROUP BY exec_id HAVING {any_broken}""",
    # Every order with the sum of its fills.
    "orders": """
SELECT * FROM (
    SELECT o.cl_ord_id, {verdicts}
    FROM orders o
    LEFT JOIN (SELECT cl_ord_id, sum(fill_qty) AS filled FROM executions
               WHERE trade_date = %(d)s GROUP BY cl_ord_id) f USING (cl_ord_id)
    WHERE o.trade_date = %(d)s
) verdicts
WHERE {any_broken}""",
    # Every execution beside its order (when there is one).
    "executions": """
SELECT * FROM (
    SELECT e.exec_id, {verdicts}
    FROM executions e
    LEFT JOIN orders o ON o.trade_date = e.trade_date AND o.cl_ord_id = e.cl_ord_id
    WHERE e.trade_date = %(d)s
) verdicts
WHERE {any_broken}""",
}


def rule_pass(name: Pass) -> sql.Composed:
    """The pass's query: each check's verdict as a column named for the check; the rows
    that break any. Grouped passes test the verdicts themselves in HAVING."""
    checks = [c for c in ROW_CHECKS if name in c.verdicts]
    verdicts = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.SQL(c.verdicts[name]), sql.Identifier(c.name))
        for c in checks
    )
    grouped = name.endswith("_key")
    any_broken = sql.SQL(" OR ").join(
        sql.SQL(c.verdicts[name]) if grouped else sql.Identifier(c.name) for c in checks
    )
    return sql.SQL(PASS_TEMPLATES[name]).format(verdicts=verdicts, any_broken=any_broken)


def rule_passes() -> list[sql.Composed]:
    return [rule_pass(name) for name in PASS_TEMPLATES]
