"""Spoofing and layering: orders on one side that together dwarf a genuine order on the
other, cancelled once the genuine order has filled.

Bidding or offering with the intent to cancel before execution is prohibited by CEA
§4c(a)(5)(C) (added by Dodd-Frank §747); FINRA Rule 5210 Supplementary Material .03 names
the layering pattern (orders on one side, an execution on the other, then cancellation);
MAR Art. 12(2)(c) and Annex I A(f). In the cases, each layer can be modest while together
they dwarf the genuine order (Coscia: sells of 122, 85 and 54 lots at three levels against
a genuine 17-lot buy, 3-7x each; JPMorgan: bids of 77 against a sale of 7), and spoof
orders are sometimes partly filled before the cancel (JPMorgan: 3 sold of the visible
order, the bids then cancelled).

Fires once per genuine order (one that filled) when the same account had at least
`min_orders` limit orders on the opposite side, not IOC, FOK or at the close (a limit-on-close
order waits for the auction, not in the book), priced away from every fill of
the genuine order (sells above the highest price it bought at, buys below the lowest it sold
at), placed before the first fill
and cancelled within `cancel_window_s` seconds after the last, at most `max_filled_share`
filled before the cancel, each at least `layer_multiple` x the account's median *filled*
order quantity that day, and together at least `size_multiple` x the genuine order and
`market_multiple` x the symbol's median order quantity of the other accounts.

Why these baselines (version 1 compared each order with the account's median order): an
account that spoofs all day moves its own median order up until its spoof orders look
ordinary (on independent realistic flow recall was 0.40). Orders that filled in full are the
account's genuine business, which its spoof orders, cancelled, cannot move; the symbol's
median order, the suspect's own orders left out, is the market's; and the genuine order is
what the layers must dwarf. A market maker quoting both sides in even sizes is not flagged:
its quotes are the size of its fills. A layer priced at or through the genuine order's own
fills would have traded with it (the account crossing itself): a spoofer's layers rest on the
far side of the book (Coscia: the sells above the best offer, the genuine buy at the bid). In
an omnibus account, orders of different end clients on both sides meet by chance, often
crossed like that; the price test is what keeps them apart. Some still meet in the
pattern by chance (about one a day in 200,000 orders), and one such meeting in an account
that pools many end clients is no evidence of any one person's intent: an account without a
known owner is alerted when the pattern repeats in the symbol that day, at least
`min_repeats_no_owner` times (Coscia repeated his thousands of times). A single layering by
one end client of an omnibus account is the omnibus holder's to find, which knows the end
client. Does not catch: spoofing across accounts (collusive),
the "inside the spread" variant (FINRA 5210.03 type 2), which needs the market's quotes, or
an account whose every order is large, or layers cancelled from the close on (outside
the regular session).

Version 4: a venue ending Day orders at the close reports each as cancelled (ExecType 4 in
some dialects); layers resting all afternoon then read as cancelled seconds after a fill
just before the close. Only cancels before the session's close count.

Version 5: an amended order (OrderCancelReplaceRequest, 35=G) is a replace chain, one row
per ClOrdID. Its replaced links were written as cancelled (4) until import-fix wrote them as
replaced (5): a layer re-priced and then filled read as a layer cancelled. Replaced links
are not cancels (only 4 is), and the market's order sizes count each order once (its
replaced links left out), so that an account amending all day cannot set the symbol's
usual size.
"""

from surveil.detect.medians import typical_quantity

NAME = "spoofing"
VERSION = "5"
PARAMS = {
    "layer_multiple": 3.0,
    "size_multiple": 5.0,
    "market_multiple": 5.0,
    "max_filled_share": 0.5,
    "cancel_window_s": 30.0,
    "min_orders": 2,
    "min_repeats_no_owner": 2,
}
# Parameters the rule divides by (its score): zero is refused with the others' checks.
POSITIVE = frozenset({"cancel_window_s"})

# The medians are counted per (key, quantity), not sorted per order (see medians.py). The
# opposite side is written as an equality (`l.is_buy = (NOT g.is_buy)`), which the join
# can match on, not as `<>`, which it can only filter.
SQL = (
    typical_quantity(
        "account_id",
        materialized=True,
        name="account_typical",
        column="filled_median",
        only="filled",
    )
    + """, layered AS (
    SELECT o.cl_ord_id, o.account_id, o.symbol, o.side = '1' AS is_buy, o.quantity,
           o.limit_price, o.cum_qty, o.transact_time, o.cancel_time, t.filled_median
    FROM orders o JOIN account_typical t ON t.account_id = o.account_id
    WHERE o.trade_date = %(trade_date)s AND o.ord_status = '4' AND o.order_type = '2'
      AND o.time_in_force NOT IN ('3', '4', '7')  -- IOC, FOK, at the close: never rest
      AND o.cum_qty <= %(max_filled_share)s * o.quantity
      AND o.quantity >= %(layer_multiple)s * t.filled_median
), genuine AS MATERIALIZED (
    SELECT e.cl_ord_id, e.account_id, e.symbol, e.side = '1' AS is_buy,
           min(e.transact_time) AS first_fill, max(e.transact_time) AS last_fill,
           min(e.fill_price) AS lowest_px, max(e.fill_price) AS highest_px,
           array_agg(e.exec_id ORDER BY e.exec_id) AS exec_ids, sum(e.fill_qty) AS filled
    FROM executions e WHERE e.trade_date = %(trade_date)s
    GROUP BY e.cl_ord_id, e.account_id, e.symbol, e.side
), patterns AS (
    SELECT g.cl_ord_id, g.account_id, g.symbol, g.exec_ids, g.filled, g.is_buy,
           o.quantity AS genuine_qty,
           array_agg(l.cl_ord_id ORDER BY l.cl_ord_id) AS layered_orders,
           sum(l.quantity) AS layered_qty, sum(l.cum_qty) AS layered_filled,
           max(l.filled_median) AS filled_median,
           max(extract(epoch FROM l.cancel_time - g.first_fill)) AS slowest_cancel_s
    FROM genuine g
    JOIN orders o ON o.trade_date = %(trade_date)s AND o.cl_ord_id = g.cl_ord_id
    JOIN layered l ON l.account_id = g.account_id AND l.symbol = g.symbol
     AND l.is_buy = (NOT g.is_buy)
     AND CASE WHEN g.is_buy THEN l.limit_price > g.highest_px
              ELSE l.limit_price < g.lowest_px END
     AND l.transact_time <= g.first_fill
     AND l.cancel_time BETWEEN g.first_fill
                           AND g.last_fill + make_interval(secs => %(cancel_window_s)s)
     AND l.cancel_time < %(close_utc)s::timestamptz  -- at the close the venue ends Day orders
    GROUP BY g.cl_ord_id, g.account_id, g.symbol, g.exec_ids, g.filled, g.is_buy, o.quantity
    HAVING count(*) >= %(min_orders)s
       AND sum(l.quantity) >= %(size_multiple)s * o.quantity
),
-- The market: the symbol's order sizes that day, the suspect's own orders taken out, so
-- that in a thin symbol the suspect's layers cannot make themselves look ordinary.
suspects AS (
    SELECT DISTINCT symbol, account_id FROM patterns
), own_sizes AS (
    SELECT o.symbol, o.account_id, o.quantity, count(*) AS orders
    FROM orders o JOIN suspects c ON c.symbol = o.symbol AND c.account_id = o.account_id
    WHERE o.trade_date = %(trade_date)s AND o.ord_status <> '5'
    GROUP BY o.symbol, o.account_id, o.quantity
), market_sizes AS (
    SELECT c.symbol, c.account_id, m.quantity, m.orders - coalesce(w.orders, 0) AS orders
    FROM suspects c
    JOIN (SELECT o.symbol, o.quantity, count(*) AS orders
          FROM orders o JOIN (SELECT DISTINCT symbol FROM suspects) x ON x.symbol = o.symbol
          WHERE o.trade_date = %(trade_date)s AND o.ord_status <> '5'  -- replaced: once
          GROUP BY o.symbol, o.quantity) m
      ON m.symbol = c.symbol
    LEFT JOIN own_sizes w
      ON w.symbol = c.symbol AND w.account_id = c.account_id AND w.quantity = m.quantity
), market_ranked AS (
    SELECT symbol, account_id, quantity,
           sum(orders) OVER (PARTITION BY symbol, account_id ORDER BY quantity) AS running,
           sum(orders) OVER (PARTITION BY symbol, account_id) AS total
    FROM market_sizes WHERE orders > 0
), market AS (
    SELECT symbol, account_id,
           (min(quantity) FILTER (WHERE 2 * running >= total)
            + min(quantity) FILTER (WHERE 2 * running > total))::float8 / 2 AS market_median
    FROM market_ranked GROUP BY symbol, account_id
)
SELECT p.cl_ord_id AS key,
       p.symbol,
       ARRAY[p.account_id] AS account_ids,
       p.layered_orders || ARRAY[p.cl_ord_id] AS cl_ord_ids,
       p.exec_ids,
       least(100, 50 + 10 * cardinality(p.layered_orders)
                 + 25 * (1 - p.slowest_cancel_s / %(cancel_window_s)s)) AS score,
       format('Account %%s layered %%s %%s orders for %%s %%s (%%sx its genuine order of %%s, '
              || '%%sx the symbol median order; %%s of them filled), filled %%s on the '
              || 'other side, and cancelled them within %%s s.',
              p.account_id, cardinality(p.layered_orders),
              CASE WHEN p.is_buy THEN 'sell' ELSE 'buy' END, p.layered_qty, p.symbol,
              round((p.layered_qty::float8 / p.genuine_qty)::numeric, 1), p.genuine_qty,
              round((p.layered_qty / greatest(s.market_median, 1))::numeric, 1), p.layered_filled,
              p.filled, round(p.slowest_cancel_s::numeric, 1)) AS explanation
FROM (SELECT p.*, count(*) OVER (PARTITION BY p.account_id, p.symbol) AS repeats
      FROM patterns p) p
JOIN accounts a ON a.trade_date = %(trade_date)s AND a.account_id = p.account_id
LEFT JOIN market s ON s.symbol = p.symbol AND s.account_id = p.account_id
WHERE p.layered_qty >= %(market_multiple)s * coalesce(s.market_median, 0)
  AND (a.beneficial_owner_id IS NOT NULL OR p.repeats >= %(min_repeats_no_owner)s)
"""
)
