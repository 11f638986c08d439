"""Spoofing and layering: large orders on one side, a fill on the other, then the large orders
cancelled.

Bidding or offering with the intent to cancel before execution is prohibited by CEA
§4c(a)(5)(C) (added by Dodd-Frank §747); FINRA Rule 5210 Supplementary Material .03 names
the layering pattern (orders on one side, an execution on the other, then cancellation);
MAR Art. 12(2)(c) and Annex I A(f). Regulators' cases show spoof orders 10–50× genuine size,
cancelled seconds after the genuine fill.

Fires once per genuine order (the small one that filled) when the same account had at least
`min_orders` limit orders on the opposite side, each at least `size_multiple` × the
account's median order size for the day, placed before the fill and cancelled within
`cancel_window_s` seconds after it. A pattern, not one order. Does not catch: spoofing across
accounts (collusive), spoof orders that were partly filled before cancellation, or the
"inside the spread" variant (FINRA 5210.03 type 2), which needs the market's quotes.
"""

from surveil.detect.medians import typical_quantity

NAME = "spoofing"
VERSION = "1"
PARAMS = {
    "size_multiple": 5.0,
    "cancel_window_s": 30.0,
    "min_orders": 2,
}

# MATERIALIZED: inlined, both aggregates were planned below a parallel merge join and each
# worker computed them again over the whole day (3 x the work; 5 s against 3.5 s at 1M).
# The opposite side is written as an equality (`l.is_buy = (NOT g.is_buy)`), which the join
# can match on, not as `<>`, which it can only filter: half the pairs of a genuine and a
# layered order of one account and symbol are never formed (12.5 s against 15 s at 3M).
SQL = (
    typical_quantity("account_id", materialized=True)
    + """, layered AS (
    SELECT o.cl_ord_id, o.account_id, o.symbol, o.side = '1' AS is_buy, o.quantity,
           o.transact_time, o.cancel_time, t.median_qty
    FROM orders o JOIN typical t USING (account_id)
    WHERE o.trade_date = %(trade_date)s AND o.ord_status = '4' AND o.order_type = '2'
      AND o.cum_qty = 0 AND o.quantity >= %(size_multiple)s * t.median_qty
), genuine AS MATERIALIZED (
    SELECT e.cl_ord_id, e.account_id, e.symbol, e.side = '1' AS is_buy,
           min(e.transact_time) AS first_fill, max(e.transact_time) AS last_fill,
           array_agg(e.exec_id ORDER BY e.exec_id) AS exec_ids, sum(e.fill_qty) AS filled
    FROM executions e WHERE e.trade_date = %(trade_date)s
    GROUP BY e.cl_ord_id, e.account_id, e.symbol, e.side
), patterns AS (
    SELECT g.cl_ord_id, g.account_id, g.symbol, g.exec_ids, g.filled, g.is_buy,
           array_agg(l.cl_ord_id ORDER BY l.cl_ord_id) AS layered_orders,
           sum(l.quantity) AS layered_qty, max(l.median_qty) AS median_qty,
           max(extract(epoch FROM l.cancel_time - g.first_fill)) AS slowest_cancel_s
    FROM genuine g
    JOIN layered l ON l.account_id = g.account_id AND l.symbol = g.symbol
     AND l.is_buy = (NOT g.is_buy)
     AND l.transact_time <= g.first_fill
     AND l.cancel_time BETWEEN g.first_fill
                           AND g.last_fill + make_interval(secs => %(cancel_window_s)s)
    GROUP BY g.cl_ord_id, g.account_id, g.symbol, g.exec_ids, g.filled, g.is_buy
    HAVING count(*) >= %(min_orders)s
)
SELECT cl_ord_id AS key,
       symbol,
       ARRAY[account_id] AS account_ids,
       layered_orders || ARRAY[cl_ord_id] AS cl_ord_ids,
       exec_ids,
       least(100, 50 + 10 * cardinality(layered_orders)
                 + 25 * (1 - slowest_cancel_s / %(cancel_window_s)s)) AS score,
       format('Account %%s layered %%s %%s orders for %%s %%s (%%sx its median order), '
              || 'filled %%s on the other side, and cancelled them all within %%s s.',
              account_id, cardinality(layered_orders), CASE WHEN is_buy THEN 'sell' ELSE 'buy' END,
              layered_qty, symbol, round((floor(layered_qty::float8 / cardinality(layered_orders))
                                          / median_qty)::numeric, 1),
              filled, round(slowest_cancel_s::numeric, 1)) AS explanation
FROM patterns
"""
)
