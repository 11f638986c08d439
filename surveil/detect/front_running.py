"""Front running: a proprietary account trades ahead of a large client order the firm holds,
in the same symbol and direction, then unwinds while or after the client's order is worked.

FINRA Rule 5320 (prohibition against trading ahead of customer orders) and its
Supplementary Material; the broker's own proprietary flow trading ahead of the customer
flow it handles is the classic case. In SEC v. Merrill Lynch (2011, $10M) a proprietary
desk traded on institutional customers' orders, such as a 40,000-share sell; such orders
reach the market worked by an algorithm as many small child orders over hours, and a desk
that knows of the parent trades ahead of its first child and unwinds into the rest.

Version 2 follows the parent order, not each child: the drop copy carries no parent id, so
a client account's orders in one symbol and one direction form one parent while no more
than `max_child_gap_minutes` pass between them (one large order is a parent of one child).
It fires per account and parent when the parent's total quantity is at least
`client_size_multiple` × the symbol's median order size that day, the account traded ahead
of it the same way and then the other way (version 4 below says when), and the tests of
version 3 hold. Parents of accounts without a known owner (omnibus) are
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

Version 4 (independent drop copy): FINRA 5320 forbids trading ahead of a customer order the
firm *holds*, and on a broker's drop copy written without reading the rules (benchmarks/
independent/) six of eight front-running cases were missed (recall 0.25), three of them a
desk that traded 2-90 s *after* a large client order arrived, while it was worked and before
most of it had filled; version 3 only looked in the `lead_minutes` before the first child.
So the fills ahead are now the account's fills the parent's way within `lead_minutes` of its
first child, before or after it, and before half of the parent had filled (a desk trading
only after that is hedging or has a view: the client has mostly traded; one trading an hour
after a resting order came in is not acting on its arrival: on our own generated days that
was a desk's ordinary afternoon trade ahead of a limit-on-close order). One-way means no
fill the other way from the window's start to its last fill ahead. The unwind is the other
way after that, any time later that day (enforcement cases unwind over the afternoon;
version 3's `unwind_minutes` after the last child is gone), and it must be the position
coming back: between `min_unwind_share` (now 3/4) and its inverse of what was bought ahead.
With the wider windows, a desk or an institution running a program the other way later (selling
several times what it bought) and benign desks that sold back about half of a block were
most of the false alerts on the independent day. An account that is a candidate in nearly
every symbol it trades (one quoting every symbol in small fills) has too few fills in
"other symbols": its usual size is then its median continuous fill over all its symbols.
Tried and not kept: letting any account of the firm with an owner other than the client's
trade ahead (the independent day's employee accounts are ordinary client accounts,
OrderCapacity A, in the drop copy): it caught all eight cases and raised 101 false alerts
with them (precision 0.07), most on institutions working their own parents.

Version 5 (replace chains): an order amended by OrderCancelReplaceRequest (35=G) is one row
per ClOrdID, and version 4 added every link's quantity to the parent: an 800-share client
order re-priced twice was a parent of 2,400 shares, 24x the median, and raised an alert. A
replaced link (OrdStatus 5) now counts what it filled and its successor the rest, so a
chain counts its order's size once, and neither it nor the symbol's median order size
counts a link as an order. A replace request the venue rejected (35=9) is no order at all
(import-fix writes no row for it).

Does not catch: front running through an employee's or a client account (nothing in a drop
copy tells an employee's account from a client's; a firm's list of employee accounts would),
an external broker or an omnibus account; trading ahead of a later child of a parent rather
than its arrival; information gained from a venue rather than from the client order.
"""

from surveil.detect.medians import typical_quantity

NAME = "front_running"
VERSION = "5"
PARAMS = {
    "lead_minutes": 5.0,
    "client_size_multiple": 10.0,
    "max_child_gap_minutes": 30.0,
    "same_firm": True,
    "min_ahead_multiple": 8.0,
    "min_usual_fills": 20,
    "min_unwind_share": 0.75,
}

# The fills near each parent are a range in time per (symbol, proprietary account): left to
# itself PostgreSQL merge-joins them, sorting the day's every execution (on disk at 1M
# orders); hash joins read the executions once (11.4 s -> 6.2 s at 1M orders, same run).
PLANNER_SETTINGS = {"enable_mergejoin": "off"}

# Large parents are few, and each is paired only with the fills of its symbol while the
# firm held it, so the cost grows with the parents' working windows, not with every client
# order paired with every fill in its symbol. Only (account, symbol, direction) groups
# whose day total could hold a large parent are cut into parents (a hash aggregate, then a
# window over their orders alone). The fills ahead are read by the (symbol, transact_time)
# index over [first child - lead, half filled); the unwind is a lookup of one account's
# fills in the symbol by the (account_id, symbol, transact_time) index (migration 004).
SQL = (
    typical_quantity("symbol")
    + """, client_orders AS (
    -- A replaced order (5) is a link of one order's replace chain: it counts what it
    -- filled, its successor the rest (a replacement's quantity is what its predecessors
    -- left), so the chain counts once.
    SELECT o.cl_ord_id, o.account_id, a.firm_id, a.beneficial_owner_id AS owner, o.symbol,
           o.side = '1' AS is_buy, o.transact_time, o.ord_status <> '5' AS is_order,
           CASE WHEN o.ord_status = '5' THEN o.cum_qty ELSE o.quantity END AS quantity
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
    SELECT p.first_child AS cl_ord_id, p.account_id, p.firm_id, p.owner, p.symbol, p.is_buy,
           sum(p.quantity) AS quantity, count(*) FILTER (WHERE p.is_order) AS child_orders,
           array_agg(p.cl_ord_id ORDER BY p.cl_ord_id) AS child_ids,
           min(p.transact_time) AS transact_time, max(p.transact_time) AS last_time,
           t.median_qty
    FROM parents p JOIN typical t USING (symbol)
    GROUP BY p.first_child, p.account_id, p.firm_id, p.owner, p.symbol, p.is_buy, t.median_qty
    HAVING sum(p.quantity) >= %(client_size_multiple)s * t.median_qty
), near_fills AS (
    -- Proprietary fills of the parent's firm its way within `lead_minutes` of its first
    -- child, by the (symbol, transact_time) index: the candidates, before the parent's own
    -- fills say when half of it had traded.
    SELECT c.cl_ord_id AS client_order, p.exec_id, p.cl_ord_id, p.account_id, p.fill_qty,
           p.transact_time
    FROM large_client c
    CROSS JOIN LATERAL (
        SELECT e.exec_id, e.cl_ord_id, e.account_id, e.fill_qty, e.transact_time
        FROM executions e
        WHERE e.trade_date = %(trade_date)s AND e.symbol = c.symbol
          AND e.transact_time >= c.transact_time - make_interval(secs => %(lead_minutes)s * 60)
          AND e.transact_time < c.transact_time + make_interval(secs => %(lead_minutes)s * 60)
          AND (e.side = '1') = c.is_buy
          AND e.account_id <> c.account_id
    ) p
    JOIN accounts pa ON pa.trade_date = %(trade_date)s AND pa.account_id = p.account_id
     AND pa.account_type = 'proprietary'
     AND (NOT %(same_firm)s OR pa.firm_id = c.firm_id)
), early_fills AS (
    -- The own fills of each parent with candidates within `lead_minutes` of its first
    -- child (by the (account_id, symbol, transact_time) index), running: whether half of
    -- it had traded before the window's end, and when.
    SELECT l.cl_ord_id, l.quantity, f.transact_time,
           sum(f.fill_qty) OVER (PARTITION BY l.cl_ord_id
                                 ORDER BY f.transact_time, f.exec_id) AS running
    FROM large_client l
    JOIN (SELECT DISTINCT client_order FROM near_fills) n ON n.client_order = l.cl_ord_id
    CROSS JOIN LATERAL (
        SELECT e.exec_id, e.cl_ord_id, e.fill_qty, e.transact_time
        FROM executions e
        WHERE e.trade_date = %(trade_date)s AND e.account_id = l.account_id
          AND e.symbol = l.symbol AND e.transact_time >= l.transact_time
          AND e.transact_time < l.transact_time + make_interval(secs => %(lead_minutes)s * 60)
    ) f
    JOIN parents p ON p.cl_ord_id = f.cl_ord_id AND p.first_child = l.cl_ord_id
), half_filled AS (
    SELECT cl_ord_id, min(transact_time) FILTER (WHERE 2 * running >= quantity) AS at
    FROM early_fills GROUP BY cl_ord_id
), held AS (
    -- Trading ahead is trading the parent's way within `lead_minutes` of its first child,
    -- before half of the parent has filled.
    SELECT l.*,
           coalesce(h.at, l.transact_time + make_interval(secs => %(lead_minutes)s * 60))
               AS ahead_until
    FROM large_client l
    JOIN (SELECT DISTINCT client_order FROM near_fills) n ON n.client_order = l.cl_ord_id
    LEFT JOIN half_filled h USING (cl_ord_id)
), ahead AS (
    SELECT c.cl_ord_id AS client_order, c.account_id AS client_account, c.symbol, c.is_buy,
           c.quantity, c.median_qty, c.transact_time AS client_time, c.ahead_until,
           c.child_orders, c.child_ids, p.account_id AS prop_account,
           array_agg(p.exec_id ORDER BY p.exec_id) AS ahead_execs,
           array_agg(DISTINCT p.cl_ord_id ORDER BY p.cl_ord_id) AS ahead_orders,
           sum(p.fill_qty) AS ahead_qty,
           min(p.transact_time) AS first_ahead, max(p.transact_time) AS last_ahead
    FROM held c
    JOIN near_fills p ON p.client_order = c.cl_ord_id AND p.transact_time < c.ahead_until
    GROUP BY c.cl_ord_id, c.account_id, c.symbol, c.is_buy, c.quantity, c.median_qty,
             c.transact_time, c.ahead_until, c.child_orders, c.child_ids, p.account_id
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
          AND e.transact_time > a.last_ahead
          AND (e.side = '1') <> a.is_buy
    ) u
    GROUP BY a.client_order, a.client_account, a.symbol, a.is_buy, a.quantity, a.median_qty,
             a.client_time, a.ahead_until, a.child_orders, a.child_ids,
             a.prop_account, a.ahead_execs, a.ahead_orders, a.ahead_qty,
             a.first_ahead, a.last_ahead
), usual_sizes AS (
    -- Each candidate account's fills in the day's symbols where it is no candidate,
    -- counted per size: the size it usually trades, which neither its trades around this
    -- parent nor around another can move.
    SELECT c.prop_account, e.fill_qty, count(*) AS fills
    FROM (SELECT DISTINCT prop_account FROM unwound) c
    JOIN executions e ON e.trade_date = %(trade_date)s AND e.account_id = c.prop_account
     AND e.transact_time < %(close_utc)s  -- continuous trading: not the closing prints
    LEFT JOIN (SELECT DISTINCT prop_account, symbol FROM unwound) suspect
      ON suspect.prop_account = e.account_id AND suspect.symbol = e.symbol
    WHERE suspect.prop_account IS NULL
    GROUP BY c.prop_account, e.fill_qty
), all_sizes AS (
    -- ... and in all its symbols, for an account that is a candidate nearly everywhere
    -- (one that trades every symbol all day in small fills has no "other symbols").
    SELECT c.prop_account, e.fill_qty, count(*) AS fills
    FROM (SELECT DISTINCT prop_account FROM unwound) c
    LEFT JOIN (SELECT prop_account FROM usual_sizes GROUP BY prop_account
               HAVING sum(fills) >= %(min_usual_fills)s) enough USING (prop_account)
    JOIN executions e ON e.trade_date = %(trade_date)s AND e.account_id = c.prop_account
     AND e.transact_time < %(close_utc)s
    WHERE enough.prop_account IS NULL
    GROUP BY c.prop_account, e.fill_qty
), scoped_sizes AS (
    SELECT 'other' AS scope, prop_account, fill_qty, fills FROM usual_sizes
    UNION ALL
    SELECT 'all', prop_account, fill_qty, fills FROM all_sizes
), usual_ranked AS (
    SELECT scope, prop_account, fill_qty,
           sum(fills) OVER (PARTITION BY scope, prop_account ORDER BY fill_qty) AS running,
           sum(fills) OVER (PARTITION BY scope, prop_account) AS total
    FROM scoped_sizes
), usual_by_scope AS (
    SELECT scope, prop_account, max(total) AS usual_fills,
           (min(fill_qty) FILTER (WHERE 2 * running >= total)
            + min(fill_qty) FILTER (WHERE 2 * running > total))::float8 / 2 AS usual_fill
    FROM usual_ranked GROUP BY scope, prop_account
), usual AS (
    SELECT prop_account,
           CASE WHEN max(usual_fills) FILTER (WHERE scope = 'other') >= %(min_usual_fills)s
                THEN max(usual_fill) FILTER (WHERE scope = 'other')
                WHEN max(usual_fills) FILTER (WHERE scope = 'all') >= %(min_usual_fills)s
                THEN max(usual_fill) FILTER (WHERE scope = 'all')
           END AS usual_fill,
           max(usual_fills) FILTER (WHERE scope = 'other') >= %(min_usual_fills)s AS elsewhere
    FROM usual_by_scope GROUP BY prop_account
), judged AS (
    SELECT w.*, against.opposite_fills, us.usual_fill, us.elsewhere
    FROM unwound w
    LEFT JOIN usual us ON us.prop_account = w.prop_account
    CROSS JOIN LATERAL (
        SELECT count(*) AS opposite_fills
        FROM executions e
        WHERE e.trade_date = %(trade_date)s AND e.symbol = w.symbol
          AND e.account_id = w.prop_account
          AND e.transact_time >= w.client_time - make_interval(secs => %(lead_minutes)s * 60)
          AND e.transact_time <= w.last_ahead
          AND (e.side = '1') <> w.is_buy
    ) against
)
SELECT prop_account || '/' || client_order AS key,
       symbol,
       ARRAY[prop_account, client_account] AS account_ids,
       ahead_orders || child_ids || unwind_orders AS cl_ord_ids,
       ahead_execs || unwind_execs AS exec_ids,
       least(100, 50 + 25 * least(unwind_qty::float8 / ahead_qty, 1)
                 + 25 * (1 - least(1, greatest(0, extract(epoch FROM first_ahead - client_time)
                                                  + %(lead_minutes)s * 60)
                                      / greatest(1, extract(epoch FROM ahead_until - client_time)
                                                    + %(lead_minutes)s * 60)))) AS score,
       format('Proprietary account %%s %%s %%s %%s from %%s s %%s client order %%s to %%s s %%s it, '
              || 'before half of it had filled (the first of %%s, %%s shares in all, %%sx the '
              || 'median order), %%s, and unwound %%s later that day.',
              prop_account, CASE WHEN is_buy THEN 'bought' ELSE 'sold' END,
              ahead_qty, symbol,
              round(abs(extract(epoch FROM first_ahead - client_time))::numeric),
              CASE WHEN first_ahead < client_time THEN 'before' ELSE 'after' END,
              client_order, round(abs(extract(epoch FROM last_ahead - client_time))::numeric),
              CASE WHEN last_ahead < client_time THEN 'before' ELSE 'after' END,
              child_orders, quantity, round((quantity / median_qty)::numeric, 1),
              CASE WHEN usual_fill IS NULL
                   THEN 'with too few other fills to have a usual size'
                   ELSE round((ahead_qty / usual_fill)::numeric, 1) || 'x its usual fill of '
                        || round(usual_fill::numeric)
                        || CASE WHEN elsewhere THEN ' in other symbols' ELSE '' END
              END,
              unwind_qty)
           AS explanation
FROM judged
WHERE opposite_fills = 0
  AND (usual_fill IS NULL OR ahead_qty >= %(min_ahead_multiple)s * usual_fill)
  AND unwind_qty >= %(min_unwind_share)s * ahead_qty
  AND unwind_qty * %(min_unwind_share)s <= ahead_qty
"""
)
