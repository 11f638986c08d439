"""Wash trades: one beneficial owner on both sides of the same trade or a matched cross.

A wash trade is a purchase and sale with no change in beneficial ownership, made to give a
false appearance of activity: Securities Exchange Act §9(a)(1)(A) ("any transaction … which
involves no change in beneficial ownership"; matched orders "of substantially the same size,
at substantially the same time and at substantially the same price"), FINRA Rule 6140(b),
FINRA 5210 Supplementary Material .02 (self-trades: a *pattern* from related accounts or
algorithms), and MAR Annex I A(c).

Fires for every matched cross: fills of one known beneficial owner in one symbol, at one
price, within the same `window_s`-second interval of the day, that bought and sold the same
quantity in total (within `qty_tolerance_pct`). Both sides of a cross between an owner's own
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
"""

NAME = "wash_trade"
VERSION = "2"
PARAMS = {
    "window_s": 0.5,
    "qty_tolerance_pct": 0.0,
}

# One hash aggregate over the day's fills of known owners: (owner, symbol, price, interval)
# groups that both bought and sold the same quantity. The fills of a cross carry the same
# timestamp, so the interval's edges never split one.
SQL = """
WITH fills AS (
    SELECT e.exec_id, e.cl_ord_id, e.account_id, a.beneficial_owner_id AS owner, e.symbol,
           e.side <> '1' AS is_sell, e.fill_qty, e.fill_price, e.transact_time,
           floor(extract(epoch FROM e.transact_time) / %(window_s)s)::bigint AS bucket
    FROM executions e
    JOIN accounts a ON a.trade_date = e.trade_date AND a.account_id = e.account_id
    WHERE e.trade_date = %(trade_date)s AND a.beneficial_owner_id IS NOT NULL
), crosses AS (
    SELECT owner, symbol, fill_price, bucket,
           coalesce(sum(fill_qty) FILTER (WHERE NOT is_sell), 0) AS bought,
           coalesce(sum(fill_qty) FILTER (WHERE is_sell), 0) AS sold,
           count(*) AS fills,
           extract(epoch FROM max(transact_time) - min(transact_time)) AS span_s,
           array_agg(DISTINCT account_id ORDER BY account_id) AS account_ids,
           array_agg(DISTINCT cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids,
           array_agg(exec_id ORDER BY exec_id) AS exec_ids,
           min(account_id) AS first_account, max(account_id) AS last_account
    FROM fills GROUP BY owner, symbol, fill_price, bucket
)
SELECT owner || '/' || symbol || '/' || bucket || '/' || fill_price AS key,
       symbol,
       account_ids,
       cl_ord_ids,
       exec_ids,
       60 + 40 * (1 - span_s / %(window_s)s) AS score,
       format('Beneficial owner %%s bought %%s and sold %%s %%s at %%s within %%s s, in %%s '
              || 'fills (%%s).',
              owner, bought, sold, symbol, fill_price, round(span_s::numeric, 3), fills,
              CASE WHEN first_account = last_account THEN 'account ' || first_account
                   ELSE 'linked accounts ' || first_account || ' and ' || last_account
              END) AS explanation
FROM crosses
WHERE bought > 0 AND sold > 0
  AND abs(bought - sold) <= %(qty_tolerance_pct)s / 100.0 * greatest(bought, sold)
"""
