-- The audit chain's head, read for every event but moved once per statement (issue 20
-- item 12, benchmarks/review.py).
--
-- Under 006 every event moved the head (the one row of review_chain). A bulk close inserts
-- its events in one statement, so that row was updated 10,000 times in one transaction for
-- 10,000 alerts; each update leaves a version behind that every later read of the row must
-- step over until the transaction ends, and the bulk close grew with the square of its size
-- (9 s for 10,000 alerts, 0.04 s for 200).
--
-- Now an event follows the last event row (read backwards on the primary key) when that
-- row is past the head, which happens only for the earlier rows of the same statement, and
-- follows the head otherwise; an AFTER STATEMENT trigger then moves the head to the last
-- event, once. What 006 guaranteed still holds: writers are ordered by the row lock on
-- review_chain (taken for every event, as before; a lock already held costs nothing), each
-- event's hash covers the previous event's, and a removed last event still shows, since the
-- next event follows the head and not the shortened tail.

CREATE OR REPLACE FUNCTION review_events_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head review_chain;
    tail record;
BEGIN
    SELECT * INTO head FROM review_chain FOR UPDATE;
    SELECT event_id, hash INTO tail FROM review_events ORDER BY event_id DESC LIMIT 1;
    IF FOUND AND tail.event_id > head.last_event_id THEN
        NEW.event_id := tail.event_id + 1;  -- an earlier row of this statement
        NEW.prev_hash := tail.hash;
    ELSE
        NEW.event_id := head.last_event_id + 1;
        NEW.prev_hash := head.last_hash;
    END IF;
    NEW.at := clock_timestamp();
    IF NOT review_owner_session() THEN
        NEW.actor := session_user;  -- a person's own login is who they are
    END IF;
    NEW.hash := review_event_hash(NEW);
    RETURN NEW;
END
$$;

CREATE FUNCTION review_chain_advance() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE review_chain h SET last_event_id = t.event_id, last_hash = t.hash
    FROM (SELECT event_id, hash FROM review_events ORDER BY event_id DESC LIMIT 1) t
    WHERE t.event_id > h.last_event_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER review_chain_advance AFTER INSERT ON review_events
    FOR EACH STATEMENT EXECUTE FUNCTION review_chain_advance();
