"""Marking the close: one account's trading dominates a symbol's last minutes, or its closing
auction together with a continuous push its way, and moves its closing price that way by
more than the symbol's own moves that day.

CEA §4c(a)(5)(B) (reckless disregard for orderly execution during the closing period), FINRA
Rule 6140(a) (trades at successively higher or lower prices), MAR / Reg. 2016/522 (orders
near a reference price such as the close). Vendor parameters range from a 5-minute window
with ≥40% of window volume to a 1-hour window with ≥10% of daily volume. Through the
auction: SEC v. Athena Capital Research (2014), a large auction-only order placed before the
close, then continuous orders the same way in its last seconds that moved the closing cross.

The window is the last `window_minutes` of continuous trading before the session's close
(13:00 ET on early-close days) and the symbol's closing auction print: the fills of
at-the-close orders (TimeInForce 59 = 7, MOC and LOC) from the close to five minutes after.
Fires per account and symbol when the account, on balance in one direction (its net over
the window and the print), has at least `min_executions` orders filled in the window
that way (continuous fills; an order sweeping several price levels is one) and its
continuous trading there is net that way; traded, net in that direction, at least
`min_volume_share` of the symbol's continuous volume in the window or at least
`min_auction_share` of its volume in the closing print; and the closing price (the print,
else the last trade) is at least `min_price_move_pct` percent from the symbol's first trade
in the window, the account's way, and at least `min_move_multiple` times the symbol's
typical move over a window's length earlier that day. The typical move: the day's trades
before the window in buckets of `window_minutes` counted back from the window's start, the
last price of each bucket with a trade, the absolute percentage change from one such bucket
to the next (a change across k buckets divided by √k, as a random walk's grows), their
median. With fewer than three changes there is no typical move and `min_price_move_pct`
alone decides. (Measuring from the last trade before the window would credit the account
with a thinly traded symbol's drift over the hours before it.)

Version 3: an at-the-close order alone is not marking (a market-on-close order takes
whatever the close is, and index and institutional MOC/LOC flow is most of the print), so
the executions counted are the account's continuous fills its way, not its auction fills;
and a move of a fixed percentage is ordinary in a volatile or low-priced symbol (three cents
on a $5 stock that moves three cents every ten minutes), so the move must stand out against
the symbol's own. Version 2 (closing auction): version 1 saw only continuous-trading fills
up to the close and counted them together. Closing prints come at the close or just after
it, and about a tenth of a day's volume trades there, mostly index and institutional
MOC/LOC orders: that volume counted as window volume would hide a continuous push (its
share falls under the threshold), and an institution with a large share of the print is no
manipulator unless the print moves its way. So continuous and auction volume are measured
apart, and the move is measured to the closing print. The shares are net: an account
trading both ways (an omnibus account's many clients, a desk) is not pushing with its gross
volume. Does not catch: several accounts sharing the push; marking through the auction
with at most one continuous fill; marking that moves the print less than
`min_price_move_pct` or `min_move_multiple` typical moves.

Version 4: `min_executions` counted fills, so one order sweeping three price levels (three
fills a millisecond apart, one decision) met it as three; it counts the orders filled.
"""

NAME = "marking_the_close"
VERSION = "4"
PARAMS = {
    "window_minutes": 10.0,
    "min_volume_share": 0.25,
    "min_auction_share": 0.25,
    "min_price_move_pct": 0.5,
    "min_executions": 2,
    "min_move_multiple": 2.5,
}
# Parameters the rule divides by (its score): zero is refused with the others' checks.
POSITIVE = frozenset({"window_minutes", "min_price_move_pct"})

SQL = """
WITH bounds AS (
    SELECT %(close_utc)s::timestamptz AS close_at,
           %(close_utc)s::timestamptz - make_interval(secs => %(window_minutes)s * 60) AS start_at
), late AS (
    SELECT e.exec_id, e.cl_ord_id, e.account_id, e.symbol, e.side, e.fill_qty, e.fill_price,
           e.transact_time, false AS at_close
    FROM executions e CROSS JOIN bounds
    WHERE e.trade_date = %(trade_date)s
      AND e.transact_time >= bounds.start_at AND e.transact_time < bounds.close_at
    UNION ALL
    -- From the close on, only the closing print (and a fill stamped at the close itself).
    SELECT e.exec_id, e.cl_ord_id, e.account_id, e.symbol, e.side, e.fill_qty, e.fill_price,
           e.transact_time, o.time_in_force = '7' AS at_close
    FROM executions e
    JOIN orders o ON o.trade_date = e.trade_date AND o.cl_ord_id = e.cl_ord_id
    WHERE e.trade_date = %(trade_date)s
      AND e.transact_time >= %(close_utc)s::timestamptz
      AND e.transact_time <= %(close_utc)s::timestamptz + make_interval(secs => 300)
      AND (o.time_in_force = '7' OR e.transact_time = %(close_utc)s::timestamptz)
), symbol_volume AS (
    SELECT symbol,
           sum(CASE WHEN at_close THEN 0 ELSE fill_qty END) AS continuous,
           sum(CASE WHEN at_close THEN fill_qty ELSE 0 END) AS auction
    FROM late GROUP BY symbol
), closing AS (
    SELECT DISTINCT ON (symbol) symbol, fill_price AS close_price
    FROM late ORDER BY symbol, at_close DESC, transact_time DESC, exec_id DESC
), opening AS (
    SELECT DISTINCT ON (symbol) symbol, fill_price AS before_price
    FROM late ORDER BY symbol, transact_time, exec_id
), accounts_late AS (
    SELECT account_id, symbol,
           sum(CASE WHEN at_close THEN 0 WHEN side = '1' THEN fill_qty ELSE -fill_qty END)
               AS continuous_net,
           sum(CASE WHEN NOT at_close THEN 0 WHEN side = '1' THEN fill_qty ELSE -fill_qty END)
               AS auction_net,
           sum(CASE WHEN side = '1' THEN fill_qty ELSE -fill_qty END) AS net,
           count(DISTINCT cl_ord_id) FILTER (WHERE NOT at_close AND side = '1') AS continuous_buys,
           count(DISTINCT cl_ord_id) FILTER (WHERE NOT at_close AND side <> '1')
               AS continuous_sells,
           array_agg(DISTINCT cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids,
           array_agg(exec_id ORDER BY exec_id) AS exec_ids
    FROM late GROUP BY account_id, symbol
), scored AS (
    SELECT a.*,
           CASE WHEN a.net > 0 THEN a.continuous_buys ELSE a.continuous_sells END AS its_way,
           sign(a.net) * a.continuous_net AS continuous_way,
           CASE WHEN v.continuous > 0
                THEN greatest(sign(a.net) * a.continuous_net, 0)::float8 / v.continuous
                ELSE 0 END AS share,
           CASE WHEN v.auction > 0
                THEN greatest(sign(a.net) * a.auction_net, 0)::float8 / v.auction
                ELSE 0 END AS auction_share,
           o.before_price, c.close_price,
           sign(a.net) * (c.close_price - o.before_price) / o.before_price * 100 AS move_pct
    FROM accounts_late a
    JOIN symbol_volume v USING (symbol)
    JOIN closing c USING (symbol)
    JOIN opening o USING (symbol)
    WHERE a.net <> 0
), candidates AS (
    -- An at-the-close order alone is not marking: the account pushes in the continuous
    -- session too, net its way, with min_executions orders filled its way there.
    SELECT * FROM scored
    WHERE its_way >= %(min_executions)s
      AND continuous_way > 0
      AND move_pct >= %(min_price_move_pct)s
      AND (share >= %(min_volume_share)s OR auction_share >= %(min_auction_share)s)
), history AS (
    -- The candidates' symbols before the window, in buckets of the window's length
    -- counted back from its start (bucket 0 ends where the window begins).
    SELECT e.symbol, e.fill_price, e.transact_time, e.exec_id,
           floor(extract(epoch FROM bounds.start_at - e.transact_time)
                 / (%(window_minutes)s * 60)) AS bucket
    FROM executions e CROSS JOIN bounds
    WHERE e.trade_date = %(trade_date)s AND e.transact_time < bounds.start_at
      AND e.symbol IN (SELECT symbol FROM candidates)
), bucket_last AS (
    SELECT DISTINCT ON (symbol, bucket) symbol, bucket, fill_price
    FROM history ORDER BY symbol, bucket, transact_time DESC, exec_id DESC
), steps AS (
    -- Bucket to bucket (those with a trade), scaled to one window's length like a random
    -- walk's: a move over k windows counts as move / sqrt(k).
    SELECT symbol,
           abs(fill_price::float8
               / lag(fill_price::float8) OVER (PARTITION BY symbol ORDER BY bucket DESC) - 1)
               * 100 / sqrt(lag(bucket) OVER (PARTITION BY symbol ORDER BY bucket DESC) - bucket)
               AS step_pct
    FROM bucket_last
), typical AS (
    SELECT symbol, percentile_cont(0.5) WITHIN GROUP (ORDER BY step_pct) AS typical_pct
    FROM steps WHERE step_pct IS NOT NULL
    GROUP BY symbol HAVING count(*) >= 3
)
SELECT account_id || '/' || symbol AS key,
       symbol,
       ARRAY[account_id] AS account_ids,
       cl_ord_ids,
       exec_ids,
       least(100, 40 + 60 * greatest(share, auction_share) + 5 * move_pct / %(min_price_move_pct)s)
           AS score,
       format('Account %%s did %%s%%%% of %%s continuous volume in the last %%s minutes (%%s '
              || 'orders its way) and %%s%%%% of its closing auction, net %%s, and the price '
              || 'moved %%s%%%% its way into the close (%%s to %%s), %%s.',
              account_id, round((100 * share)::numeric, 1), symbol, %(window_minutes)s,
              its_way, round((100 * auction_share)::numeric, 1),
              CASE WHEN net > 0 THEN 'buying' ELSE 'selling' END,
              round(move_pct::numeric, 2), before_price, close_price,
              CASE WHEN typical_pct IS NULL
                   THEN 'too few trades earlier in the day for a typical move to compare'
                   WHEN typical_pct = 0 THEN 'where its price had not moved earlier that day'
                   ELSE format('%%s times its typical %%s-minute move earlier that day (%%s%%%%)',
                               round((move_pct / typical_pct)::numeric, 1),
                               %(window_minutes)s, round(typical_pct::numeric, 3))
              END) AS explanation
FROM candidates LEFT JOIN typical USING (symbol)
WHERE typical_pct IS NULL OR move_pct >= %(min_move_multiple)s * typical_pct
"""
