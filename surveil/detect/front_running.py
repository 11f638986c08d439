"""Front running: a proprietary account trades ahead of a large client order in the same
symbol and direction, then unwinds after it.

FINRA Rule 5320 (prohibition against trading ahead of customer orders) and its
Supplementary Material; the broker's own proprietary flow trading ahead of the customer
flow it handles is the classic case.

Fires per proprietary account and large client order when the account bought (sold) the
symbol within `lead_minutes` before a client order in the same direction at least
`client_size_multiple` × the symbol's median order size that day, and traded the other way
within `unwind_minutes` after that client order. With `same_firm` true (default), the
proprietary and the client account must belong to the same firm, as 5320 concerns a
member's own customers. Does not catch: front running through a client account or an
external broker, or information gained from a venue rather than from the client order.
"""

from surveil.detect.medians import typical_quantity

NAME = "front_running"
VERSION = "1"
PARAMS = {
    "lead_minutes": 5.0,
    "unwind_minutes": 30.0,
    "client_size_multiple": 10.0,
    "same_firm": True,
}

# Large client orders are few, and each is paired only with the fills near it in time, so
# the cost grows with the day's size times a log, not with every client order paired with
# every proprietary fill in its symbol. The lead window [t - lead, t) lies in the client
# order's time bucket (bucket width = the lead) or the one before, so each order probes
# those two buckets: an equality on (symbol, bucket) that PostgreSQL merges or hashes and
# that an engine without range joins (Spark) can hash too. The unwind after the order is a
# lookup of one account's fills in the symbol by the (account_id, symbol, transact_time)
# index (migration 004), which reads only the unwind window.
SQL = (
    typical_quantity("symbol")
    + """, large_client AS (
    SELECT o.cl_ord_id, o.account_id, a.firm_id, o.symbol, o.side = '1' AS is_buy,
           o.quantity, o.transact_time, t.median_qty,
           floor(extract(epoch FROM o.transact_time)
                 / nullif(%(lead_minutes)s * 60, 0))::bigint AS bucket
    FROM orders o JOIN accounts a USING (trade_date, account_id) JOIN typical t USING (symbol)
    WHERE o.trade_date = %(trade_date)s AND a.account_type = 'client'
      AND o.quantity >= %(client_size_multiple)s * t.median_qty
), probes AS (
    SELECT c.*, c.bucket - back.buckets AS probe_bucket
    FROM large_client c CROSS JOIN (VALUES (0), (1)) AS back(buckets)
), ahead AS (
    SELECT c.cl_ord_id AS client_order, c.account_id AS client_account, c.symbol, c.is_buy,
           c.quantity, c.median_qty, c.transact_time AS client_time, p.account_id AS prop_account,
           array_agg(p.exec_id ORDER BY p.exec_id) AS ahead_execs,
           array_agg(DISTINCT p.cl_ord_id ORDER BY p.cl_ord_id) AS ahead_orders,
           sum(p.fill_qty) AS ahead_qty,
           max(extract(epoch FROM c.transact_time - p.transact_time)) AS lead_s
    FROM probes c
    CROSS JOIN LATERAL (
        SELECT e.exec_id, e.cl_ord_id, e.account_id, e.fill_qty, e.transact_time
        FROM executions e
        WHERE e.trade_date = %(trade_date)s AND e.symbol = c.symbol
          AND floor(extract(epoch FROM e.transact_time)
                    / nullif(%(lead_minutes)s * 60, 0))::bigint = c.probe_bucket
          AND e.transact_time >= c.transact_time - make_interval(secs => %(lead_minutes)s * 60)
          AND e.transact_time < c.transact_time
          AND (e.side = '1') = c.is_buy
    ) p
    JOIN accounts pa ON pa.trade_date = %(trade_date)s AND pa.account_id = p.account_id
     AND pa.account_type = 'proprietary'
     AND (NOT %(same_firm)s OR pa.firm_id = c.firm_id)
    GROUP BY c.cl_ord_id, c.account_id, c.symbol, c.is_buy, c.quantity, c.median_qty,
             c.transact_time, p.account_id
), unwound AS (
    SELECT a.*, array_agg(u.exec_id ORDER BY u.exec_id) AS unwind_execs,
           array_agg(DISTINCT u.cl_ord_id ORDER BY u.cl_ord_id) AS unwind_orders,
           sum(u.fill_qty) AS unwind_qty
    FROM ahead a
    CROSS JOIN LATERAL (
        SELECT e.exec_id, e.cl_ord_id, e.fill_qty
        FROM executions e
        WHERE e.trade_date = %(trade_date)s AND e.symbol = a.symbol
          AND e.account_id = a.prop_account
          AND e.transact_time > a.client_time
          AND e.transact_time <= a.client_time + make_interval(secs => %(unwind_minutes)s * 60)
          AND (e.side = '1') <> a.is_buy
    ) u
    GROUP BY a.client_order, a.client_account, a.symbol, a.is_buy, a.quantity, a.median_qty,
             a.client_time, a.prop_account, a.ahead_execs, a.ahead_orders, a.ahead_qty, a.lead_s
)
SELECT prop_account || '/' || client_order AS key,
       symbol,
       ARRAY[prop_account, client_account] AS account_ids,
       ahead_orders || ARRAY[client_order] || unwind_orders AS cl_ord_ids,
       ahead_execs || unwind_execs AS exec_ids,
       least(100, 50 + 25 * least(unwind_qty::float8 / ahead_qty, 1)
                 + 25 * (1 - lead_s / (%(lead_minutes)s * 60))) AS score,
       format('Proprietary account %%s %%s %%s %%s up to %%s s before client order %%s '
              || '(%%s shares, %%sx the median) and unwound %%s within %%s minutes after it.',
              prop_account, CASE WHEN is_buy THEN 'bought' ELSE 'sold' END, ahead_qty, symbol,
              round(lead_s::numeric), client_order, quantity,
              round((quantity / median_qty)::numeric, 1), unwind_qty, %(unwind_minutes)s)
           AS explanation
FROM unwound
"""
)
