-- Alert review: a case per alert, its decisions, the people who took them, and an audit
-- trail the database itself keeps honest (issue 20; docs/review.md).
--
-- Cases key on the deterministic alert_id and hold no foreign key to `alerts`: detect
-- replaces a rule's alerts for a day whole, and a review must outlive that. A case keeps
-- what the alert was when it was opened (`alert`, a snapshot); whether a re-run still
-- produces it is read live from `alerts`.
--
-- Who acts. review_actor() is the person: on a real server where each person logs in as
-- their own role, it is session_user, whatever the session says about itself; for a
-- session whose login is a member of the role owning these tables (the embedded default,
-- surveil's own service login) it is what the client declared in the `surveil.actor`
-- setting (`--as`, SURVEIL_USER), and four-eyes is then only as good as that declaration.
--
-- Writes go through the SECURITY DEFINER functions below; review login roles (sql/roles.sql)
-- get SELECT on the tables and EXECUTE on the functions, never INSERT/UPDATE/DELETE, so
-- plain psql as a reviewer cannot step around the rules. Triggers hold the rules that
-- matter even for the owner: four-eyes on approval, events that cannot be changed or
-- deleted, nothing deleted younger than five years after closure.

CREATE TABLE review_cases (
    alert_id            char(32)     PRIMARY KEY,
    trade_date          date         NOT NULL,
    rule                text         NOT NULL,
    symbol              varchar(16)  NOT NULL,
    account_ids         text[]       NOT NULL,
    score               numeric(5, 2) NOT NULL,
    alert               jsonb        NOT NULL,  -- the alert as it was when the case opened
    status              text         NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'escalated', 'pending', 'closed')),
    disposition         text CHECK (disposition IN ('false_positive', 'no_further_action',
                        'informal_action', 'stor_filed', 'duplicate', 'suppressed')),
    assignee            text,
    pending_from        text,
    pending_disposition text,
    pending_by          text,
    pending_at          timestamptz,
    batch_id            bigint,
    closed_by           text,
    approved_by         text,
    closed_at           timestamptz,
    suppression_id      bigint,
    opened_at           timestamptz  NOT NULL DEFAULT clock_timestamp(),
    version             integer      NOT NULL DEFAULT 1,
    updated_by          text         NOT NULL DEFAULT 'surveil',
    updated_at          timestamptz  NOT NULL DEFAULT clock_timestamp(),
    CHECK ((status = 'closed') = (disposition IS NOT NULL AND closed_at IS NOT NULL)),
    CHECK ((status = 'pending') = (pending_by IS NOT NULL))
);
CREATE INDEX review_cases_queue_idx ON review_cases (status, trade_date);
CREATE INDEX review_cases_day_idx ON review_cases (trade_date, rule);
CREATE INDEX review_cases_batch_idx ON review_cases (batch_id) WHERE batch_id IS NOT NULL;

CREATE SEQUENCE review_batch_seq;

CREATE FUNCTION review_owner_session() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(session_user,
                       (SELECT relowner FROM pg_class WHERE oid = 'review_cases'::regclass),
                       'MEMBER')
$$;

CREATE FUNCTION review_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN review_owner_session()
                THEN coalesce(nullif(current_setting('surveil.actor', true), ''), session_user::text)
                ELSE session_user::text END
$$;

CREATE TABLE review_events (
    event_id       bigint       PRIMARY KEY,  -- set by the chain trigger: dense, in chain order
    at             timestamptz  NOT NULL,     -- the database's clock, set by the trigger
    actor          text         NOT NULL,
    action         text         NOT NULL,
    alert_id       char(32),
    suppression_id bigint,
    draft_id       bigint,
    batch_id       bigint,
    from_status    text,
    to_status      text,
    disposition    text,
    comment        text,
    detail         jsonb        NOT NULL DEFAULT '{}',
    prev_hash      text         NOT NULL,
    hash           text         NOT NULL
);
CREATE INDEX review_events_alert_idx ON review_events (alert_id, event_id);
CREATE INDEX review_events_at_idx ON review_events (at);

-- The chain's head: the last event's id and hash. Taking its row lock orders every writer.
CREATE TABLE review_chain (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_event_id bigint  NOT NULL,
    last_hash     text    NOT NULL
);
INSERT INTO review_chain VALUES (true, 0, repeat('0', 64));

-- An event's hash: sha256 over its fields, each written as <length>:<text> (NULL as ~) and
-- joined by |, starting with the previous event's hash. surveil.review.audit recomputes it
-- in Python, independently of this function, when it verifies the chain.
CREATE FUNCTION review_event_hash(e review_events) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(string_agg(
               CASE WHEN v IS NULL THEN '~' ELSE length(v)::text || ':' || v END, '|'
               ORDER BY n), 'UTF8')), 'hex')
    FROM unnest(ARRAY[
        e.prev_hash, e.event_id::text,
        to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        e.actor, e.action, e.alert_id::text, e.suppression_id::text, e.draft_id::text,
        e.batch_id::text, e.from_status, e.to_status, e.disposition, e.comment, e.detail::text
    ]) WITH ORDINALITY AS f(v, n)
$$;

CREATE FUNCTION review_events_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head review_chain;
BEGIN
    SELECT * INTO head FROM review_chain FOR UPDATE;
    NEW.event_id := head.last_event_id + 1;
    NEW.prev_hash := head.last_hash;
    NEW.at := clock_timestamp();
    IF NOT review_owner_session() THEN
        NEW.actor := session_user;  -- a person's own login is who they are
    END IF;
    NEW.hash := review_event_hash(NEW);
    UPDATE review_chain SET last_event_id = NEW.event_id, last_hash = NEW.hash;
    RETURN NEW;
END
$$;
CREATE TRIGGER review_events_chain BEFORE INSERT ON review_events
    FOR EACH ROW EXECUTE FUNCTION review_events_chain();

CREATE FUNCTION review_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: the review audit trail is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'SV403';
END
$$;
CREATE TRIGGER review_events_append_only BEFORE UPDATE OR DELETE ON review_events
    FOR EACH ROW EXECUTE FUNCTION review_refuse_change();
CREATE TRIGGER review_events_no_truncate BEFORE TRUNCATE ON review_events
    FOR EACH STATEMENT EXECUTE FUNCTION review_refuse_change();
CREATE TRIGGER review_chain_no_delete BEFORE DELETE ON review_chain
    FOR EACH ROW EXECUTE FUNCTION review_refuse_change();
CREATE TRIGGER review_chain_no_truncate BEFORE TRUNCATE ON review_chain
    FOR EACH STATEMENT EXECUTE FUNCTION review_refuse_change();

-- Every change of a case: a new version, stamped with who and when; a pending decision is
-- approved only by someone other than who asked for it, whoever writes the UPDATE.
CREATE FUNCTION review_cases_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.alert_id, NEW.trade_date, NEW.rule, NEW.alert, NEW.opened_at)
       IS DISTINCT FROM (OLD.alert_id, OLD.trade_date, OLD.rule, OLD.alert, OLD.opened_at) THEN
        RAISE EXCEPTION 'alert %: what a case was opened on cannot change', OLD.alert_id
            USING ERRCODE = 'SV403';
    END IF;
    NEW.version := OLD.version + 1;
    NEW.updated_by := review_actor();
    NEW.updated_at := clock_timestamp();
    IF OLD.status = 'pending' AND NEW.status = 'closed' AND NEW.updated_by = OLD.pending_by THEN
        RAISE EXCEPTION 'four-eyes: % asked for this close of alert %; a different person must approve it',
            OLD.pending_by, OLD.alert_id USING ERRCODE = 'SV400';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER review_cases_guard BEFORE UPDATE ON review_cases
    FOR EACH ROW EXECUTE FUNCTION review_cases_guard();

-- Retention (Delegated Regulation 2016/957 art. 3(8)): five years after closure.
CREATE FUNCTION review_retain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'review_cases' THEN
        IF OLD.status = 'closed' AND OLD.closed_at < now() - interval '5 years' THEN
            RETURN OLD;
        END IF;
    ELSIF OLD.created_at < now() - interval '5 years' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '%: rows are kept five years after closure (delete refused)', TG_TABLE_NAME
        USING ERRCODE = 'SV403';
END
$$;
CREATE TRIGGER review_cases_retain BEFORE DELETE ON review_cases
    FOR EACH ROW EXECUTE FUNCTION review_retain();
CREATE TRIGGER review_cases_no_truncate BEFORE TRUNCATE ON review_cases
    FOR EACH STATEMENT EXECUTE FUNCTION review_refuse_change();

CREATE TABLE suppressions (
    suppression_id bigserial   PRIMARY KEY,
    rule           text        NOT NULL,
    account_id     text,
    symbol         varchar(16),
    reason         text        NOT NULL CHECK (btrim(reason) <> ''),
    expires_on     date        NOT NULL,
    status         text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'active', 'rejected', 'revoked')),
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    decided_by     text,
    decided_at     timestamptz,
    CHECK (account_id IS NOT NULL OR symbol IS NOT NULL)
);
CREATE TRIGGER suppressions_retain BEFORE DELETE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION review_retain();

CREATE TABLE stor_drafts (
    draft_id   bigserial   PRIMARY KEY,
    alert_ids  char(32)[]  NOT NULL,
    content    jsonb       NOT NULL,
    sha256     text        NOT NULL,  -- of the content as written to the draft's JSON file
    status     text        NOT NULL DEFAULT 'draft'
               CHECK (status IN ('draft', 'approved', 'rejected')),
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    decided_by text,
    decided_at timestamptz
);
CREATE TRIGGER stor_drafts_retain BEFORE DELETE ON stor_drafts
    FOR EACH ROW EXECUTE FUNCTION review_retain();

-- Alerts already in the warehouse open as cases now, with an event each.
WITH opened AS (
    INSERT INTO review_cases (alert_id, trade_date, rule, symbol, account_ids, score, alert)
    SELECT a.alert_id, a.trade_date, a.rule, a.symbol, a.account_ids, a.score,
           to_jsonb(a) - 'created_at'
    FROM alerts a
    RETURNING alert_id
)
INSERT INTO review_events (actor, action, alert_id, to_status, detail, event_id, at,
                           prev_hash, hash)
SELECT 'surveil', 'opened', alert_id, 'open', '{"by": "migration 006"}', 0, now(), '', ''
FROM opened ORDER BY alert_id;

-- The actions. Errors carry SQLSTATE SV400 (cannot be done as asked), SV404 (no such
-- alert, suppression or draft) or SV409 (someone else changed it first); surveil maps
-- them to exit 2, 2 and 6.

CREATE FUNCTION review_require_comment(p_comment text, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(btrim(p_comment), '') = '' THEN
        RAISE EXCEPTION 'a comment is required to %', p_what USING ERRCODE = 'SV400';
    END IF;
END
$$;

CREATE FUNCTION review_locked_case(p_alert char(32), p_expected integer) RETURNS review_cases
LANGUAGE plpgsql AS $$
DECLARE
    c review_cases;
BEGIN
    SELECT * INTO c FROM review_cases WHERE alert_id = p_alert FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert %: no such alert under review', p_alert USING ERRCODE = 'SV404';
    END IF;
    IF p_expected IS NOT NULL AND c.version <> p_expected THEN
        RAISE EXCEPTION 'alert % was changed by % at % (it is now %); nothing was done, look at it again',
            p_alert, c.updated_by, to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
            c.status USING ERRCODE = 'SV409';
    END IF;
    RETURN c;
END
$$;

-- assign, comment, escalate, close (pending when it needs approval), reopen.
CREATE FUNCTION review_act(p_alert char(32), p_action text, p_comment text,
                           p_disposition text DEFAULT NULL, p_assignee text DEFAULT NULL,
                           p_expected integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c review_cases := review_locked_case(p_alert, p_expected);
    who text := review_actor();
    to_status text := c.status;
    detail jsonb := '{}';
BEGIN
    IF p_action IN ('close', 'reopen', 'escalate', 'comment') THEN
        PERFORM review_require_comment(p_comment, p_action);
    END IF;
    IF p_action = 'comment' THEN
        NULL;
    ELSIF p_action = 'assign' THEN
        IF c.status = 'closed' THEN
            RAISE EXCEPTION 'alert %: closed, nothing to assign (reopen it first)', p_alert
                USING ERRCODE = 'SV400';
        END IF;
        detail := jsonb_build_object('assignee', p_assignee, 'previous', c.assignee);
        UPDATE review_cases SET assignee = nullif(btrim(p_assignee), '') WHERE alert_id = p_alert;
    ELSIF p_action = 'escalate' THEN
        IF c.status <> 'open' THEN
            RAISE EXCEPTION 'alert %: cannot escalate, it is %', p_alert, c.status
                USING ERRCODE = 'SV400';
        END IF;
        to_status := 'escalated';
        UPDATE review_cases SET status = to_status WHERE alert_id = p_alert;
    ELSIF p_action = 'close' THEN
        IF c.status NOT IN ('open', 'escalated') THEN
            RAISE EXCEPTION 'alert %: cannot close, it is already %', p_alert, c.status
                USING ERRCODE = 'SV400';
        END IF;
        IF p_disposition IS NULL OR p_disposition NOT IN
           ('false_positive', 'no_further_action', 'informal_action', 'stor_filed', 'duplicate') THEN
            RAISE EXCEPTION 'disposition %: not one a person can close with', p_disposition
                USING ERRCODE = 'SV400';
        END IF;
        IF c.score >= 70 OR p_disposition = 'stor_filed' THEN
            to_status := 'pending';
            detail := jsonb_build_object('needs_approval',
                CASE WHEN p_disposition = 'stor_filed' THEN 'STOR disposition'
                     ELSE 'score ' || c.score || ' >= 70' END);
            UPDATE review_cases SET status = 'pending', pending_from = c.status,
                   pending_disposition = p_disposition, pending_by = who,
                   pending_at = clock_timestamp(), batch_id = NULL
            WHERE alert_id = p_alert;
        ELSE
            to_status := 'closed';
            UPDATE review_cases SET status = 'closed', disposition = p_disposition,
                   closed_by = who, approved_by = NULL, closed_at = clock_timestamp()
            WHERE alert_id = p_alert;
        END IF;
    ELSIF p_action = 'reopen' THEN
        IF c.status <> 'closed' THEN
            RAISE EXCEPTION 'alert %: cannot reopen, it is %', p_alert, c.status
                USING ERRCODE = 'SV400';
        END IF;
        to_status := 'open';
        detail := jsonb_build_object('was', c.disposition, 'closed_by', c.closed_by,
                                     'approved_by', c.approved_by);
        UPDATE review_cases SET status = 'open', disposition = NULL, closed_by = NULL,
               approved_by = NULL, closed_at = NULL, suppression_id = NULL
        WHERE alert_id = p_alert;
    ELSE
        RAISE EXCEPTION 'unknown review action %', p_action USING ERRCODE = 'SV400';
    END IF;
    INSERT INTO review_events (actor, action, alert_id, from_status, to_status, disposition,
                               comment, detail, event_id, at, prev_hash, hash)
    VALUES (who, p_action, p_alert, c.status, to_status,
            CASE WHEN p_action = 'close' THEN p_disposition END, nullif(btrim(p_comment), ''),
            detail, 0, now(), '', '');
    RETURN (SELECT version FROM review_cases WHERE alert_id = p_alert);
END
$$;

-- Approve or reject a pending close (one alert).
CREATE FUNCTION review_decide(p_alert char(32), p_approve boolean, p_comment text,
                              p_expected integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c review_cases := review_locked_case(p_alert, p_expected);
    who text := review_actor();
BEGIN
    IF c.status <> 'pending' THEN
        RAISE EXCEPTION 'alert %: nothing to %, it is % (only a close waiting for approval is decided)',
            p_alert, CASE WHEN p_approve THEN 'approve' ELSE 'reject' END, c.status
            USING ERRCODE = 'SV400';
    END IF;
    IF who = c.pending_by THEN
        RAISE EXCEPTION 'four-eyes: % asked for this close of alert %; a different person must % it',
            who, p_alert, CASE WHEN p_approve THEN 'approve' ELSE 'reject' END USING ERRCODE = 'SV400';
    END IF;
    IF NOT p_approve THEN
        PERFORM review_require_comment(p_comment, 'reject');
    END IF;
    PERFORM review_apply_decision(ARRAY[p_alert], p_approve, p_comment, who);
    RETURN (SELECT version FROM review_cases WHERE alert_id = p_alert);
END
$$;

-- The decision over pending cases (set-based: a bulk close of thousands decides at once).
CREATE FUNCTION review_apply_decision(p_alerts char(32)[], p_approve boolean, p_comment text,
                                      p_who text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH before AS (
        SELECT alert_id, pending_from, pending_disposition, pending_by, batch_id
        FROM review_cases WHERE alert_id = ANY(p_alerts) AND status = 'pending'
    ), changed AS (
        UPDATE review_cases c SET
            status = CASE WHEN p_approve THEN 'closed' ELSE b.pending_from END,
            disposition = CASE WHEN p_approve THEN b.pending_disposition END,
            closed_by = CASE WHEN p_approve THEN b.pending_by END,
            approved_by = CASE WHEN p_approve THEN p_who END,
            closed_at = CASE WHEN p_approve THEN clock_timestamp() END,
            pending_from = NULL, pending_disposition = NULL, pending_by = NULL,
            pending_at = NULL
        FROM before b WHERE c.alert_id = b.alert_id
        RETURNING c.alert_id, c.status, b.pending_disposition, b.pending_by, b.batch_id
    )
    INSERT INTO review_events (actor, action, alert_id, batch_id, from_status, to_status,
                               disposition, comment, detail, event_id, at, prev_hash, hash)
    SELECT p_who, CASE WHEN p_approve THEN 'approve' ELSE 'reject' END, alert_id, batch_id,
           'pending', status, pending_disposition, nullif(btrim(p_comment), ''),
           jsonb_build_object('requested_by', pending_by), 0, now(), '', ''
    FROM changed ORDER BY alert_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A bulk close: every alert pending under one batch, each with its own event.
CREATE FUNCTION review_bulk_close(p_alerts char(32)[], p_disposition text, p_comment text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text := review_actor();
    batch bigint := nextval('review_batch_seq');
    moved review_cases;
BEGIN
    PERFORM review_require_comment(p_comment, 'bulk close');
    IF p_disposition IS NULL OR p_disposition NOT IN
       ('false_positive', 'no_further_action', 'informal_action', 'duplicate') THEN
        RAISE EXCEPTION 'disposition %: not one a bulk close can take (a STOR is filed alert by alert)',
            p_disposition USING ERRCODE = 'SV400';
    END IF;
    PERFORM 1 FROM review_cases WHERE alert_id = ANY(p_alerts) ORDER BY alert_id FOR UPDATE;
    SELECT * INTO moved FROM review_cases
    WHERE alert_id = ANY(p_alerts) AND status NOT IN ('open', 'escalated') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'alert % was changed by % at % (it is now %); nothing was closed, list them again',
            moved.alert_id, moved.updated_by,
            to_char(moved.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), moved.status
            USING ERRCODE = 'SV409';
    END IF;
    WITH changed AS (
        UPDATE review_cases c SET status = 'pending', pending_from = c.status,
               pending_disposition = p_disposition, pending_by = who,
               pending_at = clock_timestamp(), batch_id = batch
        WHERE alert_id = ANY(p_alerts)
        RETURNING c.alert_id, c.pending_from
    )
    INSERT INTO review_events (actor, action, alert_id, batch_id, from_status, to_status,
                               disposition, comment, detail, event_id, at, prev_hash, hash)
    SELECT who, 'bulk_close', alert_id, batch, pending_from, 'pending', p_disposition,
           btrim(p_comment), jsonb_build_object('needs_approval', 'bulk close'), 0, now(), '', ''
    FROM changed ORDER BY alert_id;
    RETURN batch;
END
$$;

CREATE FUNCTION review_decide_batch(p_batch bigint, p_approve boolean, p_comment text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text := review_actor();
    alerts char(32)[];
    asked_by text;
BEGIN
    SELECT array_agg(alert_id ORDER BY alert_id), min(pending_by) INTO alerts, asked_by
    FROM (SELECT alert_id, pending_by FROM review_cases
          WHERE batch_id = p_batch AND status = 'pending' ORDER BY alert_id FOR UPDATE) p;
    IF alerts IS NULL THEN
        RAISE EXCEPTION 'bulk close %: nothing waiting for approval', p_batch USING ERRCODE = 'SV400';
    END IF;
    IF who = asked_by THEN
        RAISE EXCEPTION 'four-eyes: % asked for bulk close %; a different person must decide it',
            who, p_batch USING ERRCODE = 'SV400';
    END IF;
    IF NOT p_approve THEN
        PERFORM review_require_comment(p_comment, 'reject');
    END IF;
    RETURN review_apply_decision(alerts, p_approve, p_comment, who);
END
$$;

-- Suppressions: proposed, then approved by someone else; revoked at any time.
CREATE FUNCTION review_suppress(p_rule text, p_account text, p_symbol text, p_reason text,
                                p_expires date)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text := review_actor();
    id bigint;
BEGIN
    PERFORM review_require_comment(p_reason, 'suppress (the reason)');
    IF nullif(btrim(p_account), '') IS NULL AND nullif(btrim(p_symbol), '') IS NULL THEN
        RAISE EXCEPTION 'a suppression needs a scope: an account, a symbol or both'
            USING ERRCODE = 'SV400';
    END IF;
    IF p_expires IS NULL OR p_expires < current_date THEN
        RAISE EXCEPTION 'expiry %: must be today or later', p_expires USING ERRCODE = 'SV400';
    END IF;
    IF p_expires > current_date + 366 THEN
        RAISE EXCEPTION 'expiry %: at most a year ahead (a suppression is reviewed at least yearly)',
            p_expires USING ERRCODE = 'SV400';
    END IF;
    INSERT INTO suppressions (rule, account_id, symbol, reason, expires_on, created_by)
    VALUES (p_rule, nullif(btrim(p_account), ''), nullif(btrim(p_symbol), ''), btrim(p_reason),
            p_expires, who)
    RETURNING suppression_id INTO id;
    INSERT INTO review_events (actor, action, suppression_id, to_status, comment, detail,
                               event_id, at, prev_hash, hash)
    VALUES (who, 'suppress', id, 'pending', btrim(p_reason),
            jsonb_build_object('rule', p_rule, 'account_id', nullif(btrim(p_account), ''),
                               'symbol', nullif(btrim(p_symbol), ''), 'expires_on', p_expires),
            0, now(), '', '');
    RETURN id;
END
$$;

CREATE FUNCTION review_decide_suppression(p_id bigint, p_decision text, p_comment text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    s suppressions;
    who text := review_actor();
    to_status text;
BEGIN
    SELECT * INTO s FROM suppressions WHERE suppression_id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'suppression %: no such suppression', p_id USING ERRCODE = 'SV404';
    END IF;
    IF p_decision = 'revoke' THEN
        PERFORM review_require_comment(p_comment, 'revoke');
        IF s.status NOT IN ('pending', 'active') THEN
            RAISE EXCEPTION 'suppression %: cannot revoke, it is %', p_id, s.status
                USING ERRCODE = 'SV400';
        END IF;
        to_status := 'revoked';
    ELSE
        IF s.status <> 'pending' THEN
            RAISE EXCEPTION 'suppression %: nothing to decide, it is %', p_id, s.status
                USING ERRCODE = 'SV400';
        END IF;
        IF who = s.created_by THEN
            RAISE EXCEPTION 'four-eyes: % proposed suppression %; a different person must decide it',
                who, p_id USING ERRCODE = 'SV400';
        END IF;
        IF p_decision = 'reject' THEN
            PERFORM review_require_comment(p_comment, 'reject');
        END IF;
        to_status := CASE WHEN p_decision = 'approve' THEN 'active' ELSE 'rejected' END;
    END IF;
    UPDATE suppressions SET status = to_status, decided_by = who, decided_at = clock_timestamp()
    WHERE suppression_id = p_id;
    INSERT INTO review_events (actor, action, suppression_id, from_status, to_status, comment,
                               event_id, at, prev_hash, hash)
    VALUES (who, p_decision || '_suppression', p_id, s.status, to_status,
            nullif(btrim(p_comment), ''), 0, now(), '', '');
END
$$;

-- STOR drafts: saved with an event on each alert, approved by someone else. Never sent.
CREATE FUNCTION review_stor_save(p_alerts char(32)[], p_content jsonb, p_sha256 text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text := review_actor();
    id bigint;
BEGIN
    INSERT INTO stor_drafts (alert_ids, content, sha256, created_by)
    VALUES (p_alerts, p_content, p_sha256, who) RETURNING draft_id INTO id;
    INSERT INTO review_events (actor, action, alert_id, draft_id, to_status, detail,
                               event_id, at, prev_hash, hash)
    SELECT who, 'stor_draft', a, id, 'draft', jsonb_build_object('sha256', p_sha256), 0, now(), '', ''
    FROM unnest(p_alerts) AS a ORDER BY a;
    RETURN id;
END
$$;

CREATE FUNCTION review_decide_stor(p_id bigint, p_approve boolean, p_comment text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    d stor_drafts;
    who text := review_actor();
BEGIN
    SELECT * INTO d FROM stor_drafts WHERE draft_id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'STOR draft %: no such draft', p_id USING ERRCODE = 'SV404';
    END IF;
    IF d.status <> 'draft' THEN
        RAISE EXCEPTION 'STOR draft %: nothing to decide, it is %', p_id, d.status
            USING ERRCODE = 'SV400';
    END IF;
    IF who = d.created_by THEN
        RAISE EXCEPTION 'four-eyes: % wrote STOR draft %; a different person must decide it',
            who, p_id USING ERRCODE = 'SV400';
    END IF;
    IF NOT p_approve THEN
        PERFORM review_require_comment(p_comment, 'reject');
    END IF;
    UPDATE stor_drafts SET status = CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END,
           decided_by = who, decided_at = clock_timestamp()
    WHERE draft_id = p_id;
    INSERT INTO review_events (actor, action, alert_id, draft_id, from_status, to_status,
                               comment, detail, event_id, at, prev_hash, hash)
    SELECT who, CASE WHEN p_approve THEN 'approve_stor' ELSE 'reject_stor' END, a, p_id, 'draft',
           CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END, nullif(btrim(p_comment), ''),
           jsonb_build_object('sha256', d.sha256), 0, now(), '', ''
    FROM unnest(d.alert_ids) AS a ORDER BY a;
END
$$;

-- Only the roles sql/roles.sql names may call the actions (the owner always can).
REVOKE EXECUTE ON FUNCTION
    review_act(char, text, text, text, text, integer),
    review_decide(char, boolean, text, integer),
    review_apply_decision(char[], boolean, text, text),
    review_bulk_close(char[], text, text),
    review_decide_batch(bigint, boolean, text),
    review_suppress(text, text, text, text, date),
    review_decide_suppression(bigint, text, text),
    review_stor_save(char[], jsonb, text),
    review_decide_stor(bigint, boolean, text)
FROM PUBLIC;
