-- Optional least-privilege roles for a surveil database. NOT a numbered migration: surveil
-- never runs this file; an administrator (a superuser, or a role with CREATEROLE that owns
-- the database) runs it once per database, with psql:
--
--   psql "postgresql://admin@db-host/surveil" -v ON_ERROR_STOP=1 \
--        -v owner_role=surveil_owner -v loader_role=surveil_loader \
--        -v analyst_role=surveil_analyst -v reviewer_role=surveil_reviewer \
--        -v supervisor_role=surveil_supervisor -f sql/roles.sql
--
-- and then sets the login passwords (ALTER ROLE surveil_loader PASSWORD '…'), outside
-- this file and outside any shell history. Each person who reviews alerts gets a login of
-- their own in one of the two review roles (never a shared login, never the loader):
--
--   CREATE ROLE ann LOGIN IN ROLE surveil_reviewer;
--   CREATE ROLE bob LOGIN IN ROLE surveil_supervisor;
--
-- Run the file again after surveil has migrated the database (the first `surveil status`
-- as the loader) and after each upgrade of surveil: the review roles are granted the review
-- functions that exist when it runs, and say so with a NOTICE when there are none yet.
--
-- Five roles:
--
--   owner_role   NOLOGIN. Owns surveil's schema objects. Nobody logs in as it.
--   loader_role  LOGIN. What `surveil` itself connects as, for every command that writes:
--                migrations, load, validate, detect, run-day, backfill. It is a member of
--                owner_role and starts every session as it (SET ROLE, below), so the tables
--                and partitions it creates belong to owner_role.
--   analyst_role LOGIN. Read-only: SELECT on surveil's tables, nothing else.
--   reviewer_role NOLOGIN, a group for people's logins. SELECT on surveil's tables and
--                EXECUTE on the review actions that do not decide (assign, comment, escalate,
--                close, reopen, bulk close, propose a suppression, write a STOR draft):
--                review_act, review_bulk_close, review_suppress, review_stor_save.
--   supervisor_role NOLOGIN, a group: a member of reviewer_role, and also EXECUTE on the
--                decisions: review_decide, review_decide_batch, review_decide_suppression
--                (approve, reject, revoke), review_decide_stor.
--
-- Neither review role gets INSERT, UPDATE, DELETE or TRUNCATE on any table: every change
-- goes through the SECURITY DEFINER functions of sql/006_review.sql, which check the
-- transition and take the actor from session_user (a review login is not a member of
-- owner_role, so nothing the session declares about itself counts). Four-eyes (approving
-- one's own close, suppression or draft) is refused by those functions and by a trigger on
-- review_cases; the audit trail refuses UPDATE and DELETE even to its owner.
--
-- Why the loader is, in effect, the owner. `surveil load` builds a day as a fresh table and
-- attaches it with ALTER TABLE orders ATTACH PARTITION (replacing a day DETACHes and DROPs
-- the old partition). PostgreSQL lets only the owner of the partitioned table (or a member
-- of the owning role) do that; no GRANT confers it. Migrations also create and alter
-- tables. So the loader needs the owner's rights on surveil's tables. What it does not get:
-- superuser, CREATEDB, CREATEROLE, BYPASSRLS, or rights on anything outside this database's
-- surveil schema. A loader with only INSERT/SELECT grants cannot load a day; the tests show
-- it (tests/reliability/test_roles.py). A narrower loader would need the attach done by a
-- SECURITY DEFINER function owned by owner_role, which surveil does not have today.
--
-- The analyst reads with plain SQL (psql, a BI tool). Every `surveil` command first checks
-- the schema's migrations, which needs CREATE on the schema; see docs/reliability.md for
-- what that means for running `surveil alerts` as the analyst.
--
-- Re-running the file is safe: roles that exist are kept, grants are re-applied.

\set ON_ERROR_STOP on

SELECT set_config('surveil.owner_role', :'owner_role', false),
       set_config('surveil.loader_role', :'loader_role', false),
       set_config('surveil.analyst_role', :'analyst_role', false),
       set_config('surveil.reviewer_role', :'reviewer_role', false),
       set_config('surveil.supervisor_role', :'supervisor_role', false);

-- The roles (cluster-wide), created when missing.
DO $roles$
DECLARE
    owner_role   text := current_setting('surveil.owner_role');
    loader_role  text := current_setting('surveil.loader_role');
    analyst_role text := current_setting('surveil.analyst_role');
    reviewer_role text := current_setting('surveil.reviewer_role');
    supervisor_role text := current_setting('surveil.supervisor_role');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner_role) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', owner_role);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = loader_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', loader_role);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = analyst_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', analyst_role);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = reviewer_role) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', reviewer_role);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = supervisor_role) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', supervisor_role);
    END IF;
    EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', loader_role);
    EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', analyst_role);
    EXECUTE format('ALTER ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
                   reviewer_role);
    EXECUTE format('ALTER ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
                   supervisor_role);
END
$roles$;

-- The loader acts as the owner: membership, and SET ROLE at the start of each session in
-- this database, so that what it creates is owned by owner_role.
GRANT :"owner_role" TO :"loader_role";
ALTER ROLE :"loader_role" IN DATABASE :"DBNAME" SET role = :'owner_role';

-- Connecting, and the schema.
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO :"owner_role", :"loader_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"analyst_role", :"reviewer_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner_role";
GRANT USAGE ON SCHEMA public TO :"analyst_role", :"reviewer_role";

-- A supervisor is a reviewer who may also decide.
GRANT :"reviewer_role" TO :"supervisor_role";

-- surveil's tables already in the schema (migrated by another role before this file was
-- run) pass to owner_role; so do their sequences.
DO $adopt$
DECLARE
    owner_role text := current_setting('surveil.owner_role');
    rel record;
BEGIN
    FOR rel IN
        SELECT c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S')
          AND pg_get_userbyid(c.relowner) <> owner_role
          AND (c.relname IN ('schema_migrations', 'firms', 'accounts', 'orders', 'executions',
                             'load_runs', 'validation_runs', 'validation_results', 'alerts',
                             'detect_runs', 'detect_failures', 'planted_scenarios',
                             'review_cases', 'review_events', 'review_chain', 'suppressions',
                             'stor_drafts')
               OR c.relname ~ '^(firms|accounts|orders|executions)_\d{4}_\d{2}_\d{2}$'
               OR c.relname ~ '_seq$')
    LOOP
        EXECUTE format('ALTER %s %I OWNER TO %I',
                       CASE rel.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       rel.relname, owner_role);
    END LOOP;
    -- The review functions too: a SECURITY DEFINER function runs with its owner's rights,
    -- which should be owner_role's and no more.
    FOR rel IN
        SELECT p.oid::regprocedure AS fn FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'review\_%'
          AND pg_get_userbyid(p.proowner) <> owner_role
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', rel.fn, owner_role);
    END LOOP;
END
$adopt$;

-- The analyst reads every surveil table, present and future (partitions are read through
-- orders and executions, whose privileges apply).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"analyst_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT SELECT ON TABLES TO :"analyst_role";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reviewer_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT SELECT ON TABLES TO :"reviewer_role";

-- The review actions (sql/006_review.sql revokes them from PUBLIC). The decisions are
-- revoked from reviewer_role explicitly, so a re-run also undoes a grant made by hand.
DO $review$
DECLARE
    reviewer_role   text := current_setting('surveil.reviewer_role');
    supervisor_role text := current_setting('surveil.supervisor_role');
    acts text[] := ARRAY[
        'review_act(char, text, text, text, text, integer)',
        'review_bulk_close(char[], text, text)',
        'review_suppress(text, text, text, text, date)',
        'review_stor_save(char[], jsonb, text)'];
    decisions text[] := ARRAY[
        'review_decide(char, boolean, text, integer)',
        'review_decide_batch(bigint, boolean, text)',
        'review_decide_suppression(bigint, text, text)',
        'review_decide_stor(bigint, boolean, text)'];
    fn text;
BEGIN
    IF to_regclass('public.review_cases') IS NULL THEN
        RAISE NOTICE 'surveil has not migrated this database yet: run this file again after the first surveil command, so that % and % may call the review functions',
            reviewer_role, supervisor_role;
        RETURN;
    END IF;
    FOREACH fn IN ARRAY acts LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', to_regprocedure(fn), reviewer_role);
    END LOOP;
    FOREACH fn IN ARRAY decisions LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %I', to_regprocedure(fn), reviewer_role);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', to_regprocedure(fn), supervisor_role);
    END LOOP;
END
$review$;
