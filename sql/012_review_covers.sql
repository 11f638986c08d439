-- Whether suppression s, in force, covers alert a (docs/review.md "Suppressions"): the same
-- rule, approved and not expired for the alert's day nor today, every account of the alert
-- the suppression's account, and the alert's symbol the suppression's (an alert over every
-- symbol of its account, `*`, is in none of them). Detection closes the untouched cases it
-- covers, and opens again a suppressed case that a re-run changed so that none covers it
-- (surveil/review/suppressions.py): one definition for both. A plain SQL expression, which
-- the planner inlines.
CREATE FUNCTION review_covers(s suppressions, a alerts) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT s.rule = a.rule AND s.status = 'active'
       AND s.expires_on >= a.trade_date AND s.expires_on >= current_date
       AND (s.account_id IS NULL OR a.account_ids <@ ARRAY[s.account_id::text])
       AND (s.symbol IS NULL OR s.symbol = a.symbol)
$$;
