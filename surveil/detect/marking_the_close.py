"""Marking the close: one account's trading dominates a symbol's last minutes and moves its
closing price in that account's direction.

CEA §4c(a)(5)(B) (reckless disregard for orderly execution during the closing period), FINRA
Rule 6140(a) (trades at successively higher or lower prices), MAR / Reg. 2016/522 (orders
near a reference price such as the close). Vendor parameters range from a 5-minute window
with ≥40% of window volume to a 1-hour window with ≥10% of daily volume.

Fires per account and symbol when, in the last `window_minutes` before the session's close
(13:00 ET on early-close days), the account traded at least `min_volume_share` of the
symbol's volume with at least `min_executions` fills, on balance in one direction, and the
price moved at least `min_price_move_pct` percent in that direction from the symbol's first
trade in the window to its last. (Measuring from the last trade before the window would
credit the account with a thinly traded symbol's drift over the hours before it.) Does not catch: marking through the closing
auction (we see only continuous-trading fills), or several accounts sharing the push.
"""

NAME = "marking_the_close"
VERSION = "1"
PARAMS = {
    "window_minutes": 10.0,
    "min_volume_share": 0.25,
    "min_price_move_pct": 0.5,
    "min_executions": 2,
}

SQL = """
WITH bounds AS (
    SELECT %(close_utc)s::timestamptz AS close_at,
           %(close_utc)s::timestamptz - make_interval(secs => %(window_minutes)s * 60) AS start_at
), late AS (
    SELECT e.* FROM executions e, bounds
    WHERE e.trade_date = %(trade_date)s
      AND e.transact_time >= bounds.start_at AND e.transact_time <= bounds.close_at
), symbol_volume AS (
    SELECT symbol, sum(fill_qty) AS volume FROM late GROUP BY symbol
), closing AS (
    SELECT DISTINCT ON (symbol) symbol, fill_price AS close_price
    FROM late ORDER BY symbol, transact_time DESC, exec_id DESC
), opening AS (
    SELECT DISTINCT ON (symbol) symbol, fill_price AS before_price
    FROM late ORDER BY symbol, transact_time, exec_id
), accounts_late AS (
    SELECT account_id, symbol,
           sum(fill_qty) AS volume,
           sum(CASE WHEN side = '1' THEN fill_qty ELSE -fill_qty END) AS net,
           count(*) AS fills,
           array_agg(DISTINCT cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids,
           array_agg(exec_id ORDER BY exec_id) AS exec_ids
    FROM late GROUP BY account_id, symbol
), scored AS (
    SELECT a.*, v.volume AS symbol_volume, a.volume::float8 / v.volume AS share,
           o.before_price, c.close_price,
           sign(a.net) * (c.close_price - o.before_price) / o.before_price * 100 AS move_pct
    FROM accounts_late a
    JOIN symbol_volume v USING (symbol)
    JOIN closing c USING (symbol)
    JOIN opening o USING (symbol)
    WHERE a.net <> 0
)
SELECT account_id || '/' || symbol AS key,
       symbol,
       ARRAY[account_id] AS account_ids,
       cl_ord_ids,
       exec_ids,
       least(100, 40 + 60 * share + 5 * move_pct / %(min_price_move_pct)s) AS score,
       format('Account %%s did %%s%%%% of %%s volume in the last %%s minutes, net %%s, '
              || 'and the price moved %%s%%%% its way into the close (%%s to %%s).',
              account_id, round((100 * share)::numeric, 1), symbol, %(window_minutes)s,
              CASE WHEN net > 0 THEN 'buying' ELSE 'selling' END,
              round(move_pct::numeric, 2), before_price, close_price) AS explanation
FROM scored
WHERE share >= %(min_volume_share)s
  AND fills >= %(min_executions)s
  AND move_pct >= %(min_price_move_pct)s
"""
