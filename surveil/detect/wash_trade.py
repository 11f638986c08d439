"""Wash trades: one beneficial owner on both sides of the same trade or a matched cross.

A wash trade is a purchase and sale with no change in beneficial ownership, made to give a
false appearance of activity: Securities Exchange Act §9(a)(1)(A) ("any transaction … which
involves no change in beneficial ownership"; matched orders "of substantially the same size,
at substantially the same time and at substantially the same price"), FINRA Rule 6140(b),
FINRA 5210 Supplementary Material .02 (self-trades: a *pattern* from related accounts or
algorithms), and MAR Annex I A(c).

Fires for every matched cross: a run of fills of one known beneficial owner in one symbol,
at one price on one venue, each no more than `window_s` seconds after the one before, that bought and
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

Version 4: the two sides of a cross print on one venue (the venue matched them), so a run
is now of one venue too. A market maker lifted on one exchange and hit on another at the
same price milliseconds apart (a locked market, two counterparties), and a facilitation
account buying on an exchange and selling the shares to its client off-exchange (riskless
principal, venue XOFF) changed ownership on both legs; version 3 called each a wash. Does
not catch, therefore: one owner's buy on one venue and sale on another arranged to look
like activity (not a wash in §9(a)(1)'s sense: each side had another owner).
"""

NAME = "wash_trade"
VERSION = "4"
PARAMS = {
    "window_s": 0.5,
    "qty_tolerance_pct": 0.0,
}
# Parameters the rule divides by (its score): zero is refused with the others' checks.
POSITIVE = frozenset({"window_s"})

# The fills of known owners at one price in one symbol and venue that both bought and sold
# (a hash aggregate), then, for those only, runs of fills no more than `window_s` apart: a run is a
# cross, however its prints fall against the clock (version 2 cut the day into fixed
# intervals, whose edges could split one cross into two alerts).
SQL = """
WITH fills AS (
    SELECT e.exec_id, e.cl_ord_id, e.account_id, a.beneficial_owner_id AS owner, e.symbol,
           e.side <> '1' AS is_sell, e.fill_qty, e.fill_price, e.venue, e.transact_time
    FROM executions e
    JOIN accounts a ON a.trade_date = e.trade_date AND a.account_id = e.account_id
    WHERE e.trade_date = %(trade_date)s AND a.beneficial_owner_id IS NOT NULL
), two_sided AS (
    SELECT owner, symbol, venue, fill_price FROM fills GROUP BY owner, symbol, venue, fill_price
    HAVING bool_or(is_sell) AND bool_or(NOT is_sell)
), candidates AS (
    SELECT f.*,
           lag(f.transact_time) OVER (PARTITION BY f.owner, f.symbol, f.venue, f.fill_price
                                      ORDER BY f.transact_time, f.exec_id) AS previous_at
    FROM fills f JOIN two_sided t
      ON t.owner = f.owner AND t.symbol = f.symbol AND t.venue = f.venue
     AND t.fill_price = f.fill_price
), runs AS (
    SELECT *,
           sum(CASE WHEN previous_at IS NULL
                      OR extract(epoch FROM transact_time - previous_at) > %(window_s)s
                    THEN 1 ELSE 0 END)
               OVER (PARTITION BY owner, symbol, venue, fill_price ORDER BY transact_time, exec_id
                     ROWS UNBOUNDED PRECEDING) AS run
    FROM candidates
), crosses AS (
    SELECT owner, symbol, venue, fill_price, run,
           coalesce(sum(fill_qty) FILTER (WHERE NOT is_sell), 0) AS bought,
           coalesce(sum(fill_qty) FILTER (WHERE is_sell), 0) AS sold,
           count(*) AS fills,
           extract(epoch FROM max(transact_time) - min(transact_time)) AS span_s,
           array_agg(DISTINCT account_id ORDER BY account_id) AS account_ids,
           array_agg(DISTINCT cl_ord_id ORDER BY cl_ord_id) AS cl_ord_ids,
           array_agg(exec_id ORDER BY exec_id) AS exec_ids,
           min(exec_id) AS first_exec,
           min(account_id) AS first_account, max(account_id) AS last_account
    FROM runs GROUP BY owner, symbol, venue, fill_price, run
)
SELECT owner || '/' || symbol || '/' || fill_price || '/' || first_exec AS key,
       symbol,
       account_ids,
       cl_ord_ids,
       exec_ids,
       60 + 40 * (1 - least(span_s, %(window_s)s) / %(window_s)s) AS score,
       format('Beneficial owner %%s bought %%s and sold %%s %%s at %%s on %%s within %%s s, '
              || 'in %%s fills (%%s).',
              owner, bought, sold, symbol, fill_price, venue, round(span_s::numeric, 3), fills,
              CASE WHEN first_account = last_account THEN 'account ' || first_account
                   ELSE 'linked accounts ' || first_account || ' and ' || last_account
              END) AS explanation
FROM crosses
WHERE bought > 0 AND sold > 0
  AND abs(bought - sold) <= %(qty_tolerance_pct)s / 100.0 * greatest(bought, sold)
"""
