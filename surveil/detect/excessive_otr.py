"""Excessive order-to-trade ratio in the style of MiFID II RTS 9, per account and symbol and
per account across symbols, against peers of the same account type.

Commission Delegated Regulation (EU) 2017/566 (RTS 9) Art. 3 makes venues cap, per member
and instrument, the ratio of orders to transactions, by number and by volume. A broker
watching its own flow applies the same ratio to each account: an account that sends far
more orders than it trades, compared with its peers, is quote stuffing, pinging or
layering at scale. Venues set those limits by account class (Wiener Börse: 50,000 orders
per trade for market makers against 5,000 for other members on Austrian equities), and
abusive messaging need not stay in one instrument: spread thinly over many, each count is
small and only the account's total is excessive.

Fires per account and symbol with at least `min_orders` orders when the number ratio
(orders ÷ max(executions, 1)) is at least `min_ratio` and at least `peer_multiple` × the
median ratio of the day's account-symbol pairs *of the same account type* (a market maker
against market makers, a client against clients). Fires per account, across every symbol it
sent orders in, when it sent at least `min_orders` orders in at least `min_symbols` symbols
and no single symbol fired, with the same two tests against the account-level ratios of its
type. The peers leave out what is itself a candidate (at least `min_orders` orders and a ratio of
`min_ratio` or more: the pair, or for the account-level test the whole account), so a
suspect's stuffing cannot raise the baseline it is measured against; a type with no peers
left is measured against every type's pairs. The volume ratio (order quantity ÷
traded quantity) is reported in the explanation. An account-level alert has the symbol `*`
(its evidence, a suppression's scope and the report take every symbol of the account) and
names in its explanation the symbol in which the account sent most orders. Does not catch: market makers exempted by a venue
(configure a higher `min_ratio` for a day of them), or a ratio below `min_ratio` however
many orders it is made of.

Version 2 (version 1 tested each account-symbol pair against the median of all the day's
pairs, the suspect's own among them): an account stuffing most of a small day's pairs set
its own baseline and was never seen; messaging spread over many symbols, under `min_orders`
in each, was never seen; and a market maker's ordinary quoting was measured against clients,
who trade most of what they send.

Version 3: the account-level alert was stored under its busiest symbol, so a suppression
of that one symbol (say, a market maker's registered instrument) silently closed an alert
over fifteen, and the report counted the whole account's messaging against that symbol.
"""

NAME = "excessive_otr"
VERSION = "3"
PARAMS = {
    "min_orders": 20,
    "min_ratio": 20.0,
    "peer_multiple": 5.0,
    "min_symbols": 2,
    "max_evidence_ids": 200,
}
# Parameters the rule divides by (its score): zero is refused with the others' checks.
POSITIVE = frozenset({"min_ratio", "peer_multiple"})

SQL = """
WITH order_counts AS (
    SELECT account_id, symbol, count(*) AS orders, sum(quantity) AS order_volume
    FROM orders WHERE trade_date = %(trade_date)s GROUP BY account_id, symbol
), trade_counts AS (
    SELECT account_id, symbol, count(*) AS trades, sum(fill_qty) AS traded_volume
    FROM executions WHERE trade_date = %(trade_date)s GROUP BY account_id, symbol
), pairs AS (
    SELECT o.account_id, o.symbol, a.account_type, o.orders, o.order_volume,
           coalesce(t.trades, 0) AS trades, coalesce(t.traded_volume, 0) AS traded_volume
    FROM order_counts o
    JOIN accounts a ON a.trade_date = %(trade_date)s AND a.account_id = o.account_id
    LEFT JOIN trade_counts t ON t.account_id = o.account_id AND t.symbol = o.symbol
), accounts_overall AS (
    SELECT account_id, account_type, count(*) AS symbols, sum(orders) AS orders,
           sum(order_volume) AS order_volume, sum(trades) AS trades,
           sum(traded_volume) AS traded_volume, min(symbol) AS first_symbol
    FROM pairs GROUP BY account_id, account_type
), candidate_accounts AS (
    SELECT account_id FROM accounts_overall
    WHERE orders >= %(min_orders)s AND orders >= %(min_ratio)s * greatest(trades, 1)
), pair_peers AS (
    SELECT account_type,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY orders::float8 / greatest(trades, 1)) AS median_ratio
    FROM pairs
    WHERE orders < %(min_orders)s OR orders < %(min_ratio)s * greatest(trades, 1)
    GROUP BY account_type
), all_pair_peers AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (
               ORDER BY orders::float8 / greatest(trades, 1)) AS median_ratio
    FROM pairs
    WHERE orders < %(min_orders)s OR orders < %(min_ratio)s * greatest(trades, 1)
), account_peers AS (
    SELECT account_type,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY orders::float8 / greatest(trades, 1)) AS median_ratio
    FROM accounts_overall WHERE account_id NOT IN (SELECT account_id FROM candidate_accounts)
    GROUP BY account_type
), pair_flags AS (
    SELECT p.account_id, p.symbol, p.account_type, p.orders, p.trades, 1 AS symbols,
           p.orders::float8 / greatest(p.trades, 1) AS ratio,
           p.order_volume::float8 / greatest(p.traded_volume, 1) AS volume_ratio,
           coalesce(pp.median_ratio, ap.median_ratio, 1.0) AS median_ratio
    FROM pairs p LEFT JOIN pair_peers pp USING (account_type) CROSS JOIN all_pair_peers ap
    WHERE p.orders >= %(min_orders)s
      AND p.orders::float8 / greatest(p.trades, 1) >= %(min_ratio)s
      AND p.orders::float8 / greatest(p.trades, 1)
          >= %(peer_multiple)s * coalesce(pp.median_ratio, ap.median_ratio, 1.0)
), busiest AS (
    SELECT DISTINCT ON (account_id) account_id, symbol
    FROM pairs ORDER BY account_id, orders DESC, symbol
), account_flags AS (
    SELECT o.account_id, b.symbol, o.account_type, o.orders, o.trades, o.symbols,
           o.orders::float8 / greatest(o.trades, 1) AS ratio,
           o.order_volume::float8 / greatest(o.traded_volume, 1) AS volume_ratio,
           coalesce(ap.median_ratio, 1.0) AS median_ratio
    FROM accounts_overall o
    JOIN busiest b USING (account_id)
    LEFT JOIN account_peers ap USING (account_type)
    WHERE o.orders >= %(min_orders)s AND o.symbols >= %(min_symbols)s
      AND o.orders::float8 / greatest(o.trades, 1) >= %(min_ratio)s
      AND o.orders::float8 / greatest(o.trades, 1)
          >= %(peer_multiple)s * coalesce(ap.median_ratio, 1.0)
      AND o.account_id NOT IN (SELECT account_id FROM pair_flags)
), flagged AS (
    SELECT pair_flags.*, symbol AS scope, account_id || '/' || symbol AS key FROM pair_flags
    UNION ALL
    SELECT account_flags.*, '*' AS scope, account_id || '/*' AS key FROM account_flags
), order_evidence AS (
    SELECT key, array_agg(cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids
    FROM (SELECT f.key, o.cl_ord_id,
                 row_number() OVER (PARTITION BY f.key ORDER BY o.cl_ord_id) AS n
          FROM orders o JOIN flagged f
            ON f.account_id = o.account_id AND (f.scope = '*' OR f.scope = o.symbol)
          WHERE o.trade_date = %(trade_date)s) ranked
    WHERE n <= %(max_evidence_ids)s
    GROUP BY key
), exec_evidence AS (
    SELECT key, array_agg(exec_id ORDER BY exec_id) AS exec_ids
    FROM (SELECT f.key, e.exec_id,
                 row_number() OVER (PARTITION BY f.key ORDER BY e.exec_id) AS n
          FROM executions e JOIN flagged f
            ON f.account_id = e.account_id AND (f.scope = '*' OR f.scope = e.symbol)
          WHERE e.trade_date = %(trade_date)s) ranked
    WHERE n <= %(max_evidence_ids)s
    GROUP BY key
)
SELECT f.key,
       f.scope AS symbol,
       ARRAY[f.account_id] AS account_ids,
       coalesce(oe.cl_ord_ids, ARRAY[]::text[]) AS cl_ord_ids,
       coalesce(ee.exec_ids, ARRAY[]::text[]) AS exec_ids,
       least(100, 50 + 10 * ln(ratio / %(min_ratio)s + 1) / ln(2)
                 + 10 * ln(ratio / (%(peer_multiple)s * median_ratio) + 1) / ln(2)) AS score,
       format('Account %%s sent %%s orders %%s for %%s trades: %%s orders per trade '
              || '(%%sx the median of %%s peers, %%s; %%s by volume).',
              f.account_id, orders,
              CASE WHEN f.scope = '*'
                   THEN 'across ' || symbols || ' symbols (most in ' || f.symbol || ')'
                   ELSE 'in ' || f.symbol END,
              trades, round(ratio::numeric, 1),
              round((ratio / median_ratio)::numeric, 1), account_type,
              round(median_ratio::numeric, 2), round(volume_ratio::numeric, 1)) AS explanation
FROM flagged f
LEFT JOIN order_evidence oe USING (key)
LEFT JOIN exec_evidence ee USING (key)
"""
