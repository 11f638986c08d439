"""Front running: a proprietary account trades ahead of a large client order in the same
symbol and direction, then unwinds while or after the client's order is worked.

FINRA Rule 5320 (prohibition against trading ahead of customer orders) and its
Supplementary Material; the broker's own proprietary flow trading ahead of the customer
flow it handles is the classic case. In SEC v. Merrill Lynch (2011, $10M) a proprietary
desk traded on institutional customers' orders, such as a 40,000-share sell; such orders
reach the market worked by an algorithm as many small child orders over hours, and a desk
that knows of the parent trades ahead of its first child and unwinds into the rest.

Version 2 follows the parent order, not each child: the drop copy carries no parent id, so
a client account's orders in one symbol and one direction form one parent while no more
than `max_child_gap_minutes` pass between them (one large order is a parent of one child).
Fires per proprietary account and parent when the parent's total quantity is at least
`client_size_multiple` × the symbol's median order size that day, the account bought
(sold) the symbol within `lead_minutes` before the parent's first child, in the same
direction, and traded the other way after the first child and no later than
`unwind_minutes` after its last. Parents of accounts without a known owner (omnibus) are
not parents: their orders belong to many clients. With `same_firm` true (default), the
proprietary and the client account must belong to the same firm, as 5320 concerns a
member's own customers. Version 1 took each order alone, so a parent worked in children
of a few hundred shares was never large, and its unwind window (30 minutes after the one
order) missed unwinds spread over the afternoon.

Version 3 (proprietary desks): a desk that trades a symbol both ways all day will, around any
large parent of its firm, have bought before the first child and sold after. So the trade
ahead must be one-way (no fill the other way in the lead window) and a position that stands
out: at least `min_ahead_multiple` × the account's usual size, its median continuous-trading
fill in the day's symbols where it shows no such pattern (which its trades around this
parent or another cannot move, and its closing-auction prints do not inflate). An account
with fewer than `min_usual_fills` such fills has no usual size to measure against and
passes that test: a median of a handful of fills says nothing. And the position must come
back: at least `min_unwind_share` of it traded the other way while the parent was worked or
soon after (a desk's large order that it keeps is a view, not a front-run).
On 200k-order days with the desks' two-way flow,
version 2 raised about as many false alerts as true ones, each ahead by one ordinary fill
(63-200 shares against a usual 100; rarely 500-1,300, kept or half unwound); planted
front running took 1,000-3,000, 10-30x its usual fill, and unwound it all.

Does not catch: front running through a client account or an external broker, trading ahead of a later child rather than the
first, or information gained from a venue rather than from the client order.
"""

from surveil.detect.medians import typical_quantity

NAME = "front_running"
VERSION = "3"
PARAMS = {
    "lead_minutes": 5.0,
    "unwind_minutes": 30.0,
    "client_size_multiple": 10.0,
    "max_child_gap_minutes": 30.0,
    "same_firm": True,
    "min_ahead_multiple": 8.0,
    "min_usual_fills": 20,
    "min_unwind_share": 0.5,
}

# Large parents are few, and each is paired only with the fills near its start, so the
# cost grows with the day's size times a log, not with every client order paired with
# every proprietary fill in its symbol. Only (account, symbol, direction) groups whose day
# total could hold a large parent are cut into parents (a hash aggregate, then a window
# over their orders alone). The lead window [t - lead, t) before the first child lies in
# the child's time bucket (bucket width = the lead) or the one before, so each parent
# probes those two buckets: an equality on (symbol, bucket) that PostgreSQL merges or
# hashes and that an engine without range joins (Spark) can hash too. The unwind is a
# lookup of one account's fills in the symbol by the (account_id, symbol, transact_time)
# index (migration 004), which reads only the parent's working window.
SQL = (
    typical_quantity("symbol")
    + """, client_orders AS (
    SELECT o.cl_ord_id, o.account_id, a.firm_id, o.symbol, o.side = '1' AS is_buy,
           o.quantity, o.transact_time
    FROM orders o JOIN accounts a USING (trade_date, account_id)
    WHERE o.trade_date = %(trade_date)s AND a.account_type = 'client'
      AND a.beneficial_owner_id IS NOT NULL
), heavy AS (
    SELECT c.account_id, c.symbol, c.is_buy
    FROM client_orders c JOIN typical t USING (symbol)
    GROUP BY c.account_id, c.symbol, c.is_buy, t.median_qty
    HAVING sum(c.quantity) >= %(client_size_multiple)s * t.median_qty
), gaps AS (
    SELECT c.*,
           CASE WHEN extract(epoch FROM c.transact_time - lag(c.transact_time) OVER w)
                     <= %(max_child_gap_minutes)s * 60 THEN 0 ELSE 1 END AS starts_parent
    FROM client_orders c JOIN heavy h USING (account_id, symbol, is_buy)
    WINDOW w AS (PARTITION BY c.account_id, c.symbol, c.is_buy
                 ORDER BY c.transact_time, c.cl_ord_id)
), children AS (
    SELECT g.*,
           sum(starts_parent) OVER (PARTITION BY account_id, symbol, is_buy
                                    ORDER BY transact_time, cl_ord_id) AS parent_no
    FROM gaps g
), parents AS (
    SELECT c.*,
           first_value(cl_ord_id) OVER (PARTITION BY account_id, symbol, is_buy, parent_no
                                        ORDER BY transact_time, cl_ord_id) AS first_child
    FROM children c
), large_client AS (
    SELECT p.first_child AS cl_ord_id, p.account_id, p.firm_id, p.symbol, p.is_buy,
           sum(p.quantity) AS quantity, count(*) AS child_orders,
           array_agg(p.cl_ord_id ORDER BY p.cl_ord_id) AS child_ids,
           min(p.transact_time) AS transact_time, max(p.transact_time) AS last_time,
           t.median_qty,
           floor(extract(epoch FROM min(p.transact_time))
                 / nullif(%(lead_minutes)s * 60, 0))::bigint AS bucket
    FROM parents p JOIN typical t USING (symbol)
    GROUP BY p.first_child, p.account_id, p.firm_id, p.symbol, p.is_buy, t.median_qty
    HAVING sum(p.quantity) >= %(client_size_multiple)s * t.median_qty
), probes AS (
    SELECT c.*, c.bucket - back.buckets AS probe_bucket
    FROM large_client c CROSS JOIN (VALUES (0), (1)) AS back(buckets)
), ahead AS (
    SELECT c.cl_ord_id AS client_order, c.account_id AS client_account, c.symbol, c.is_buy,
           c.quantity, c.median_qty, c.transact_time AS client_time, c.last_time,
           c.child_orders, c.child_ids, p.account_id AS prop_account,
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
             c.transact_time, c.last_time, c.child_orders, c.child_ids, p.account_id
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
          AND e.transact_time <= a.last_time + make_interval(secs => %(unwind_minutes)s * 60)
          AND (e.side = '1') <> a.is_buy
    ) u
    GROUP BY a.client_order, a.client_account, a.symbol, a.is_buy, a.quantity, a.median_qty,
             a.client_time, a.last_time, a.child_orders, a.child_ids, a.prop_account,
             a.ahead_execs, a.ahead_orders, a.ahead_qty, a.lead_s
), usual_sizes AS (
    -- Each candidate proprietary account's fills in the day's symbols where it is no
    -- candidate, counted per size: the size it usually trades, which neither its trades
    -- around this parent nor around another can move.
    SELECT c.prop_account, e.fill_qty, count(*) AS fills
    FROM (SELECT DISTINCT prop_account FROM unwound) c
    JOIN executions e ON e.trade_date = %(trade_date)s AND e.account_id = c.prop_account
     AND e.transact_time < %(close_utc)s  -- continuous trading: not the closing prints
    LEFT JOIN (SELECT DISTINCT prop_account, symbol FROM unwound) suspect
      ON suspect.prop_account = e.account_id AND suspect.symbol = e.symbol
    WHERE suspect.prop_account IS NULL
    GROUP BY c.prop_account, e.fill_qty
), usual_ranked AS (
    SELECT prop_account, fill_qty,
           sum(fills) OVER (PARTITION BY prop_account ORDER BY fill_qty) AS running,
           sum(fills) OVER (PARTITION BY prop_account) AS total
    FROM usual_sizes
), usual AS (
    SELECT prop_account, max(total) AS usual_fills,
           (min(fill_qty) FILTER (WHERE 2 * running >= total)
            + min(fill_qty) FILTER (WHERE 2 * running > total))::float8 / 2 AS usual_fill
    FROM usual_ranked GROUP BY prop_account
), judged AS (
    SELECT w.*, against.opposite_fills,
           CASE WHEN us.usual_fills >= %(min_usual_fills)s THEN us.usual_fill END AS usual_fill
    FROM unwound w
    LEFT JOIN usual us ON us.prop_account = w.prop_account
    CROSS JOIN LATERAL (
        SELECT count(*) AS opposite_fills
        FROM executions e
        WHERE e.trade_date = %(trade_date)s AND e.symbol = w.symbol
          AND e.account_id = w.prop_account
          AND e.transact_time >= w.client_time - make_interval(secs => %(lead_minutes)s * 60)
          AND e.transact_time < w.client_time
          AND (e.side = '1') <> w.is_buy
    ) against
)
SELECT prop_account || '/' || client_order AS key,
       symbol,
       ARRAY[prop_account, client_account] AS account_ids,
       ahead_orders || child_ids || unwind_orders AS cl_ord_ids,
       ahead_execs || unwind_execs AS exec_ids,
       least(100, 50 + 25 * least(unwind_qty::float8 / ahead_qty, 1)
                 + 25 * (1 - lead_s / (%(lead_minutes)s * 60))) AS score,
       format('Proprietary account %%s %%s %%s %%s up to %%s s before client order %%s '
              || '(the first of %%s, %%s shares in all, %%sx the median order), %%s, and '
              || 'unwound %%s while it was worked or within %%s minutes after.',
              prop_account, CASE WHEN is_buy THEN 'bought' ELSE 'sold' END, ahead_qty, symbol,
              round(lead_s::numeric), client_order, child_orders, quantity,
              round((quantity / median_qty)::numeric, 1),
              CASE WHEN usual_fill IS NULL
                   THEN 'with too few other fills to have a usual size'
                   ELSE round((ahead_qty / usual_fill)::numeric, 1) || 'x its usual fill of '
                        || round(usual_fill::numeric) || ' in other symbols'
              END,
              unwind_qty, %(unwind_minutes)s)
           AS explanation
FROM judged
WHERE opposite_fills = 0
  AND (usual_fill IS NULL OR ahead_qty >= %(min_ahead_multiple)s * usual_fill)
  AND unwind_qty >= %(min_unwind_share)s * ahead_qty
"""
)
