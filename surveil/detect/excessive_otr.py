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
)
SELECT account_id || '/' || symbol AS key,
       symbol,
       ARRAY[account_id] AS account_ids,
       ARRAY(SELECT o.cl_ord_id FROM orders o
             WHERE o.trade_date = %(trade_date)s AND o.account_id = f.account_id
               AND o.symbol = f.symbol
             ORDER BY o.cl_ord_id LIMIT %(max_evidence_ids)s) AS cl_ord_ids,
       ARRAY(SELECT e.exec_id FROM executions e
             WHERE e.trade_date = %(trade_date)s AND e.account_id = f.account_id
               AND e.symbol = f.symbol
             ORDER BY e.exec_id LIMIT %(max_evidence_ids)s) AS exec_ids,
       least(100, 50 + 10 * ln(ratio / %(min_ratio)s + 1) / ln(2)
                 + 10 * ln(ratio / (%(peer_multiple)s * median_ratio) + 1) / ln(2)) AS score,
       format('Account %%s sent %%s orders in %%s for %%s trades: %%s orders per trade '
              || '(%%sx the peer median of %%s; %%s by volume).',
              account_id, orders, symbol, trades, round(ratio::numeric, 1),
              round((ratio / median_ratio)::numeric, 1), round(median_ratio::numeric, 2),
              round(volume_ratio::numeric, 1)) AS explanation
FROM flagged f
"""
