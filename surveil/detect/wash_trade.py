"""Wash trades: one beneficial owner on both sides of the same trade or a matched cross.

A wash trade is a purchase and sale with no change in beneficial ownership, made to give a
false appearance of activity: Securities Exchange Act §9(a)(1)(A) ("any transaction … which
involves no change in beneficial ownership"; matched orders "of substantially the same size,
at substantially the same time and at substantially the same price"), FINRA Rule 6140(b),
FINRA 5210 Supplementary Material .02 (self-trades: a *pattern* from related accounts or
algorithms), and MAR Annex I A(c).

Fires for every matched cross: a run of fills of one known beneficial owner in one symbol,
at one price, each no more than `window_s` seconds after the one before, that bought and
sold the same quantity in total (within `qty_tolerance_pct`). Both sides of a cross between an owner's own
orders print at the same instant and price, so a 3,000-share buy crossed against sells of
1,000 and 2,000 is one wash (its fills add up), and so is a cross between two linked
accounts of one owner.

What is not a wash (version 1 fired on all of these; on independent realistic flow 53 of
its 56 wash alerts were false): opposite fills of one owner at different prices minutes
apart — a market maker buying at the bid and selling at the offer is providing liquidity,
not washing (market-structure.md §3, Trillium's complaint about "primitive methods" that
flag market making); and the opposite fills of an account whose beneficial owner is
unknown (an omnibus or retail account: NULL `beneficial_owner_id`), which may be different
clients behind one account (SEC OCIE Risk Alert, 29 Sep 2011): such accounts are never
merged with others, and never paired with themselves. Does not catch: washes between owners
acting in concert (no link in the account master), washes through an unknown-owner account,
or across days.

Version 3: version 2 grouped fills by fixed `window_s` intervals of the clock, so a cross
whose prints straddled an interval's edge (two crosses 20 ms apart, or the two sides of a
cross reported a few milliseconds apart) became two alerts, or none when neither half
balanced. Runs of fills no more than `window_s` apart follow the prints instead.

Version 4 (independent drop copy): matched orders need not print against each other. On a
broker's drop copy written without reading the rules (benchmarks/independent/), two of nine
wash cases were two accounts of one owner entering a buy and a sell of about the same size
a few seconds apart, a cent apart, both filled, several times a day: the statute's matched
orders "of substantially the same size, at substantially the same time and at substantially
the same price", which version 3 missed because the fills were not at one price. So an
owner is also alerted, once per symbol and day, when at least `min_matched_pairs` pairs of
its orders match that way: a buy in one of its accounts and a sell in *another* (a single
account buying and selling seconds apart is a trader or a market maker turning over
inventory, not a prearranged match), both at least partly filled, entered within
`match_window_s` seconds of each other, their filled quantities within `match_qty_pct` %
of the larger and their average prices within `match_price_ticks` cents. One such pair is a
coincidence of two busy accounts; the pattern is what FINRA 5210.02 describes. Orders that
are already part of a cross alerted above are left out, so one wash is one alert.
"""

NAME = "wash_trade"
VERSION = "4"
PARAMS = {
    "window_s": 0.5,
    "qty_tolerance_pct": 0.0,
    "match_window_s": 10.0,
    "match_qty_pct": 10.0,
    "match_price_ticks": 1,
    "min_matched_pairs": 2,
}

# The fills of known owners at one price in one symbol that both bought and sold (a hash
# aggregate), then, for those only, runs of fills no more than `window_s` apart: a run is a
# cross, however its prints fall against the clock (version 2 cut the day into fixed
# intervals, whose edges could split one cross into two alerts).
SQL = """
WITH fills AS (
    SELECT e.exec_id, e.cl_ord_id, e.account_id, a.beneficial_owner_id AS owner, e.symbol,
           e.side <> '1' AS is_sell, e.fill_qty, e.fill_price, e.transact_time
    FROM executions e
    JOIN accounts a ON a.trade_date = e.trade_date AND a.account_id = e.account_id
    WHERE e.trade_date = %(trade_date)s AND a.beneficial_owner_id IS NOT NULL
), two_sided AS (
    SELECT owner, symbol, fill_price FROM fills GROUP BY owner, symbol, fill_price
    HAVING bool_or(is_sell) AND bool_or(NOT is_sell)
), candidates AS (
    SELECT f.*,
           lag(f.transact_time) OVER (PARTITION BY f.owner, f.symbol, f.fill_price
                                      ORDER BY f.transact_time, f.exec_id) AS previous_at
    FROM fills f JOIN two_sided t
      ON t.owner = f.owner AND t.symbol = f.symbol AND t.fill_price = f.fill_price
), runs AS (
    SELECT *,
           sum(CASE WHEN previous_at IS NULL
                      OR extract(epoch FROM transact_time - previous_at) > %(window_s)s
                    THEN 1 ELSE 0 END)
               OVER (PARTITION BY owner, symbol, fill_price ORDER BY transact_time, exec_id
                     ROWS UNBOUNDED PRECEDING) AS run
    FROM candidates
), crosses AS (
    SELECT owner, symbol, fill_price, run,
           coalesce(sum(fill_qty) FILTER (WHERE NOT is_sell), 0) AS bought,
           coalesce(sum(fill_qty) FILTER (WHERE is_sell), 0) AS sold,
           count(*) AS fills,
           extract(epoch FROM max(transact_time) - min(transact_time)) AS span_s,
           array_agg(DISTINCT account_id ORDER BY account_id) AS account_ids,
           array_agg(DISTINCT cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids,
           array_agg(exec_id ORDER BY exec_id) AS exec_ids,
           min(exec_id) AS first_exec,
           min(account_id) AS first_account, max(account_id) AS last_account
    FROM runs GROUP BY owner, symbol, fill_price, run
), cross_alerts AS (
    SELECT owner || '/' || symbol || '/' || fill_price || '/' || first_exec AS key,
           symbol,
           account_ids,
           cl_ord_ids,
           exec_ids,
           60 + 40 * (1 - least(span_s, %(window_s)s) / %(window_s)s) AS score,
           format('Beneficial owner %%s bought %%s and sold %%s %%s at %%s within %%s s, in %%s '
                  || 'fills (%%s).',
                  owner, bought, sold, symbol, fill_price, round(span_s::numeric, 3), fills,
                  CASE WHEN first_account = last_account THEN 'account ' || first_account
                       ELSE 'linked accounts ' || first_account || ' and ' || last_account
                  END) AS explanation
    FROM crosses
    WHERE bought > 0 AND sold > 0
      AND abs(bought - sold) <= %(qty_tolerance_pct)s / 100.0 * greatest(bought, sold)
), crossed_orders AS (
    SELECT DISTINCT r.cl_ord_id
    FROM runs r JOIN crosses c USING (owner, symbol, fill_price, run)
    WHERE c.bought > 0 AND c.sold > 0
      AND abs(c.bought - c.sold) <= %(qty_tolerance_pct)s / 100.0 * greatest(c.bought, c.sold)
), owner_orders AS (
    -- Filled orders of known owners that are no part of a cross alerted above.
    SELECT o.cl_ord_id, o.account_id, a.beneficial_owner_id AS owner, o.symbol,
           o.side <> '1' AS is_sell, o.cum_qty, o.avg_px, o.transact_time,
           floor(extract(epoch FROM o.transact_time) / %(match_window_s)s)::bigint AS bucket
    FROM orders o
    JOIN accounts a ON a.trade_date = o.trade_date AND a.account_id = o.account_id
    LEFT JOIN crossed_orders x ON x.cl_ord_id = o.cl_ord_id
    WHERE o.trade_date = %(trade_date)s AND a.beneficial_owner_id IS NOT NULL
      AND o.cum_qty > 0 AND x.cl_ord_id IS NULL
), matched_groups AS (
    -- Owners trading a symbol both ways from more than one account (a hash aggregate).
    SELECT owner, symbol FROM owner_orders GROUP BY owner, symbol
    HAVING bool_or(is_sell) AND bool_or(NOT is_sell) AND count(DISTINCT account_id) > 1
), pairs AS (
    -- A sell within match_window_s of a buy lies in the buy's time bucket (bucket width =
    -- the window) or a neighbour: an equality join on (owner, symbol, bucket), then the
    -- exact tests.
    SELECT b.owner, b.symbol, b.cl_ord_id AS buy_order, s.cl_ord_id AS sell_order,
           b.account_id AS buy_account, s.account_id AS sell_account,
           b.cum_qty AS bought, s.cum_qty AS sold, abs(b.avg_px - s.avg_px) AS price_gap
    FROM owner_orders b
    JOIN matched_groups g ON g.owner = b.owner AND g.symbol = b.symbol
    CROSS JOIN (VALUES (-1), (0), (1)) AS near(step)
    JOIN owner_orders s ON s.owner = b.owner AND s.symbol = b.symbol
     AND s.bucket = b.bucket + near.step AND s.is_sell AND s.account_id <> b.account_id
    WHERE NOT b.is_sell
      AND s.transact_time >= b.transact_time - make_interval(secs => %(match_window_s)s)
      AND s.transact_time <= b.transact_time + make_interval(secs => %(match_window_s)s)
      AND abs(b.cum_qty - s.cum_qty) <= %(match_qty_pct)s / 100.0 * greatest(b.cum_qty, s.cum_qty)
      AND abs(b.avg_px - s.avg_px) <= %(match_price_ticks)s * 0.01 + 0.000001
), matched AS (
    SELECT owner, symbol, count(*) AS pairs, max(price_gap) AS price_gap
    FROM pairs GROUP BY owner, symbol
    HAVING count(*) >= %(min_matched_pairs)s
), members AS (
    SELECT DISTINCT u.owner, u.symbol, u.cl_ord_id, u.account_id, u.is_sell, u.cum_qty
    FROM (
        SELECT owner, symbol, buy_order AS cl_ord_id, buy_account AS account_id,
               false AS is_sell, bought AS cum_qty
        FROM pairs
        UNION ALL
        SELECT owner, symbol, sell_order, sell_account, true, sold FROM pairs
    ) u
    JOIN matched m ON m.owner = u.owner AND m.symbol = u.symbol
), member_ids AS (
    SELECT owner, symbol,
           array_agg(DISTINCT account_id ORDER BY account_id) AS account_ids,
           array_agg(cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids,
           min(account_id) AS first_account, max(account_id) AS last_account,
           coalesce(sum(cum_qty) FILTER (WHERE NOT is_sell), 0) AS bought,
           coalesce(sum(cum_qty) FILTER (WHERE is_sell), 0) AS sold
    FROM members GROUP BY owner, symbol
), member_execs AS (
    SELECT m.owner, m.symbol, array_agg(e.exec_id ORDER BY e.exec_id) AS exec_ids
    FROM members m
    JOIN executions e ON e.trade_date = %(trade_date)s AND e.cl_ord_id = m.cl_ord_id
    GROUP BY m.owner, m.symbol
), matched_alerts AS (
    SELECT m.owner || '/' || m.symbol || '/matched' AS key,
           m.symbol,
           i.account_ids,
           i.cl_ord_ids,
           x.exec_ids,
           least(100, 50 + 10 * m.pairs) AS score,
           format('Beneficial owner %%s matched a buy in one account with a sell in another '
                  || '%%s times in %%s (%%s bought, %%s sold; linked accounts %%s and %%s): '
                  || 'each pair entered within %%s s, of sizes within %%s%%%% and at average '
                  || 'prices at most %%s apart.',
                  m.owner, m.pairs, m.symbol, i.bought, i.sold, i.first_account,
                  i.last_account, %(match_window_s)s, %(match_qty_pct)s, m.price_gap)
               AS explanation
    FROM matched m
    JOIN member_ids i USING (owner, symbol)
    JOIN member_execs x USING (owner, symbol)
)
SELECT * FROM cross_alerts
UNION ALL
SELECT * FROM matched_alerts
"""
