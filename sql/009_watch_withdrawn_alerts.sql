-- `surveil watch` pages an alert as soon as a pass over the day so far finds it; a later
-- pass over more of the day may no longer find it (a position that looked like a front run
-- was not unwound as one, a layer's orders were later filled). The desk is then told, with
-- a line of its own, rather than left with an alert the next morning's record does not
-- have. Each sent alert now keeps its rule (a pass replaces one rule's alerts at a time) and
-- when it was withdrawn; an alert found again after that is paged again.
ALTER TABLE watch_alerts_sent
    ADD COLUMN rule         text,        -- NULL only for alerts sent before this migration
    ADD COLUMN withdrawn_at timestamptz; -- NULL: the alert stands

-- Alerts sent before: their rule, where the alert is still there (one that is gone already
-- was withdrawn without a line, as before; it keeps rule NULL and is never withdrawn now).
UPDATE watch_alerts_sent s SET rule = a.rule FROM alerts a WHERE a.alert_id = s.alert_id;

CREATE INDEX watch_alerts_sent_day_idx ON watch_alerts_sent (trade_date, rule);
