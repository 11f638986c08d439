"""Excessive order-to-trade ratio, per account and symbol, in the style of MiFID II RTS 9.

Commission Delegated Regulation (EU) 2017/566 (RTS 9) Art. 3 makes venues cap, per member
and instrument, the ratio of orders to transactions, by number and by volume. A broker
watching its own flow applies the same ratio to each account: an account that sends far
more orders than it trades, compared with its peers, is quote stuffing, pinging or
layering at scale.

Fires per account and symbol with at least `min_orders` orders when the number ratio
(orders ÷ max(executions, 1)) is at least `min_ratio` and at least `peer_multiple` × the
median ratio of all account-symbol pairs that traded or sent orders that day (the peers). The
volume ratio (order quantity ÷ traded quantity) is reported in the explanation. Does not
catch: order-to-trade abuse spread thinly over many symbols, or market makers exempted by a
venue (configure a higher threshold for them).
"""

NAME = "excessive_otr"
VERSION = "1"
PARAMS = {
    "min_orders": 20,
    "min_ratio": 20.0,
    "peer_multiple": 5.0,
    "max_evidence_ids": 200,
}

SQL = """
WITH order_counts AS (
    SELECT account_id, symbol, count(*) AS orders, sum(quantity) AS order_volume
    FROM orders WHERE trade_date = %(trade_date)s GROUP BY account_id, symbol
), trade_counts AS (
    SELECT account_id, symbol, count(*) AS trades, sum(fill_qty) AS traded_volume
    FROM executions WHERE trade_date = %(trade_date)s GROUP BY account_id, symbol
), ratios AS (
    SELECT o.account_id, o.symbol, o.orders, coalesce(t.trades, 0) AS trades,
           o.orders::float8 / greatest(coalesce(t.trades, 0), 1) AS ratio,
           o.order_volume::float8 / greatest(coalesce(t.traded_volume, 0), 1) AS volume_ratio
    FROM order_counts o LEFT JOIN trade_counts t USING (account_id, symbol)
), peers AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ratio) AS median_ratio FROM ratios
), flagged AS (
    SELECT ratios.*, peers.median_ratio FROM ratios, peers
    WHERE orders >= %(min_orders)s
      AND ratio >= %(min_ratio)s AND ratio >= %(peer_multiple)s * median_ratio
), order_evidence AS (
    SELECT account_id, symbol, array_agg(cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids
    FROM (SELECT o.account_id, o.symbol, o.cl_ord_id,
                 row_number() OVER (PARTITION BY o.account_id, o.symbol
                                    ORDER BY o.cl_ord_id) AS n
          FROM orders o JOIN flagged f ON f.account_id = o.account_id AND f.symbol = o.symbol
          WHERE o.trade_date = %(trade_date)s) ranked
    WHERE n <= %(max_evidence_ids)s
    GROUP BY account_id, symbol
), exec_evidence AS (
    SELECT account_id, symbol, array_agg(exec_id ORDER BY exec_id) AS exec_ids
    FROM (SELECT e.account_id, e.symbol, e.exec_id,
                 row_number() OVER (PARTITION BY e.account_id, e.symbol
                                    ORDER BY e.exec_id) AS n
          FROM executions e JOIN flagged f ON f.account_id = e.account_id AND f.symbol = e.symbol
          WHERE e.trade_date = %(trade_date)s) ranked
    WHERE n <= %(max_evidence_ids)s
    GROUP BY account_id, symbol
)
SELECT f.account_id || '/' || f.symbol AS key,
       f.symbol,
       ARRAY[f.account_id] AS account_ids,
       coalesce(oe.cl_ord_ids, ARRAY[]::text[]) AS cl_ord_ids,
       coalesce(ee.exec_ids, ARRAY[]::text[]) AS exec_ids,
       least(100, 50 + 10 * ln(ratio / %(min_ratio)s + 1) / ln(2)
                 + 10 * ln(ratio / (%(peer_multiple)s * median_ratio) + 1) / ln(2)) AS score,
       format('Account %%s sent %%s orders in %%s for %%s trades: %%s orders per trade '
              || '(%%sx the peer median of %%s; %%s by volume).',
              f.account_id, orders, f.symbol, trades, round(ratio::numeric, 1),
              round((ratio / median_ratio)::numeric, 1), round(median_ratio::numeric, 2),
              round(volume_ratio::numeric, 1)) AS explanation
FROM flagged f
LEFT JOIN order_evidence oe ON oe.account_id = f.account_id AND oe.symbol = f.symbol
LEFT JOIN exec_evidence ee ON ee.account_id = f.account_id AND ee.symbol = f.symbol
"""
