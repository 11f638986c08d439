-- Optional least-privilege roles for a surveil database. NOT a numbered migration: surveil
-- never runs this file; an administrator (a superuser, or a role with CREATEROLE that owns
-- the database) runs it once per database, with psql:
--
--   psql "postgresql://admin@db-host/surveil" -v ON_ERROR_STOP=1 \
--        -v owner_role=surveil_owner -v loader_role=surveil_loader \
--        -v analyst_role=surveil_analyst -f sql/roles.sql
--
-- and then sets the login passwords (ALTER ROLE surveil_loader PASSWORD '…'), outside
-- this file and outside any shell history.
--
-- Three roles:
--
--   owner_role   NOLOGIN. Owns surveil's schema objects. Nobody logs in as it.
--   loader_role  LOGIN. What `surveil` itself connects as, for every command that writes:
--                migrations, load, validate, detect, run-day, backfill. It is a member of
--                owner_role and starts every session as it (SET ROLE, below), so the tables
--                and partitions it creates belong to owner_role.
--   analyst_role LOGIN. Read-only: SELECT on surveil's tables, nothing else.
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
       set_config('surveil.analyst_role', :'analyst_role', false);

-- The roles (cluster-wide), created when missing.
DO $roles$
DECLARE
    owner_role   text := current_setting('surveil.owner_role');
    loader_role  text := current_setting('surveil.loader_role');
    analyst_role text := current_setting('surveil.analyst_role');
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
    EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', loader_role);
    EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', analyst_role);
END
$roles$;

-- The loader acts as the owner: membership, and SET ROLE at the start of each session in
-- this database, so that what it creates is owned by owner_role.
GRANT :"owner_role" TO :"loader_role";
ALTER ROLE :"loader_role" IN DATABASE :"DBNAME" SET role = :'owner_role';

-- Connecting, and the schema.
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO :"owner_role", :"loader_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"analyst_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner_role";
GRANT USAGE ON SCHEMA public TO :"analyst_role";

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
                             'detect_runs', 'detect_failures', 'planted_scenarios')
               OR c.relname ~ '^(firms|accounts|orders|executions)_\d{4}_\d{2}_\d{2}$'
               OR c.relname ~ '_seq$')
    LOOP
        EXECUTE format('ALTER %s %I OWNER TO %I',
                       CASE rel.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       rel.relname, owner_role);
    END LOOP;
END
$adopt$;

-- The analyst reads every surveil table, present and future (partitions are read through
-- orders and executions, whose privileges apply).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"analyst_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT SELECT ON TABLES TO :"analyst_role";
