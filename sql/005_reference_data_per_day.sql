-- Reference data per day, and what the day ledger needs to tell a finished day from one
-- that is not.
--
-- Until now `firms` and `accounts` were one table each, shared by every day: loading a day
-- overwrote the account master of every earlier day, so an earlier day no longer validated
-- against its own files and its detection re-ran with account types and beneficial owners
-- it never had. From here each trading day keeps the reference data it came with.
--
-- Why a snapshot per day, not effective-dated rows (valid_from / valid_to). The lake
-- delivers the whole account master with every day, and a day is the unit of loading,
-- replacing and proving: "what did surveil know about account A on day D" must be
-- answerable from that day alone. A snapshot is exactly the day's file: it is written in
-- the day's load transaction and replaced with the day, and validate compares it row for
-- row with the day's file. Effective dating would make each day's reference a function
-- of every other day's load (loading or replacing day D would have to close and reopen
-- the intervals of the days around it, in their transactions), and an out-of-order
-- backfill or a replaced day in the past would rewrite history that other days were
-- validated and detected against. The price of the snapshot is space: 500 accounts and
-- 50 firms a day, some 140,000 rows a year, nothing beside a day's orders.
--
-- The shape: `firms` and `accounts` are partitioned by trade_date like orders and
-- executions, keyed (trade_date, firm_id) and (trade_date, account_id), and a load
-- attaches the day's partition of each. Foreign keys run partition to partition within
-- the day (as migration 003 made them for executions → orders): accounts → the day's
-- firms, orders → the day's accounts and firms, executions → the day's accounts. So an
-- order can only ever reference an account of its own day, checking a new day never
-- reads another day, and loads of different days never write the same rows (the lock
-- the shared tables needed is gone).
--
-- `accounts.beneficial_owner_id` becomes NULLable: NULL means the owner is unknown
-- (omnibus and retail accounts); detection then treats the account as standing alone.
--
-- Days already in the warehouse when this runs get the reference data as it stood at
-- that moment (the last day loaded had overwritten it for all): the only copy there is.
-- Each such day's partitions are then checked against it by its new foreign keys; a day
-- whose own files differed shows up as failing firms_match_lake / accounts_match_lake at
-- its next validate, and `surveil load --force --date D` reloads it from its files.

-- 1. Every foreign key into the shared tables goes (their copies on each partition go
--    with them).
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
        WHERE contype = 'f' AND conparentid = 0
          AND confrelid IN ('firms'::regclass, 'accounts'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
END
$$;

-- 2. The reference data as it stands, kept aside while the tables are rebuilt.
CREATE TEMP TABLE firms_before_005 ON COMMIT DROP AS SELECT * FROM firms;
CREATE TEMP TABLE accounts_before_005 ON COMMIT DROP AS SELECT * FROM accounts;
DROP TABLE accounts;
DROP TABLE firms;

CREATE TABLE firms (
    trade_date   date         NOT NULL,
    firm_id      varchar(50)  COLLATE "C" NOT NULL,
    firm_name    varchar(100) NOT NULL,
    account_type varchar(50)  NOT NULL,
    PRIMARY KEY (trade_date, firm_id)
) PARTITION BY LIST (trade_date);

CREATE TABLE accounts (
    trade_date          date        NOT NULL,
    account_id          varchar(50) COLLATE "C" NOT NULL,
    firm_id             varchar(50) COLLATE "C" NOT NULL,
    account_type        varchar(20) NOT NULL,
    beneficial_owner_id varchar(50) COLLATE "C",  -- NULL: owner unknown (omnibus, retail)
    PRIMARY KEY (trade_date, account_id)
) PARTITION BY LIST (trade_date);
CREATE INDEX accounts_beneficial_owner_idx ON accounts (trade_date, beneficial_owner_id);

-- 3. Each day already loaded: its partitions of firms and accounts, holding the reference
--    data as it stood, and its foreign keys, named as surveil/load.py names them.
DO $$
DECLARE
    day record;
    suffix text;
BEGIN
    FOR day IN
        SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM '''([0-9-]+)''')::date AS d
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'orders'::regclass
        ORDER BY 1
    LOOP
        suffix := to_char(day.d, 'YYYY_MM_DD');
        EXECUTE format('CREATE TABLE %I PARTITION OF firms FOR VALUES IN (%L)',
                       'firms_' || suffix, day.d);
        EXECUTE format('CREATE TABLE %I PARTITION OF accounts FOR VALUES IN (%L)',
                       'accounts_' || suffix, day.d);
        INSERT INTO firms (trade_date, firm_id, firm_name, account_type)
        SELECT day.d, firm_id, firm_name, account_type FROM firms_before_005;
        INSERT INTO accounts (trade_date, account_id, firm_id, account_type, beneficial_owner_id)
        SELECT day.d, account_id, firm_id, account_type, beneficial_owner_id
        FROM accounts_before_005;
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (trade_date, firm_id) '
                       'REFERENCES %I (trade_date, firm_id)',
                       'accounts_' || suffix, 'accounts_' || suffix || '_firm_fkey',
                       'firms_' || suffix);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (trade_date, account_id) '
                       'REFERENCES %I (trade_date, account_id)',
                       'orders_' || suffix, 'orders_' || suffix || '_account_fkey',
                       'accounts_' || suffix);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (trade_date, firm_id) '
                       'REFERENCES %I (trade_date, firm_id)',
                       'orders_' || suffix, 'orders_' || suffix || '_firm_fkey',
                       'firms_' || suffix);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (trade_date, account_id) '
                       'REFERENCES %I (trade_date, account_id)',
                       'executions_' || suffix, 'executions_' || suffix || '_account_fkey',
                       'accounts_' || suffix);
        EXECUTE format('ANALYZE %I, %I', 'firms_' || suffix, 'accounts_' || suffix);
    END LOOP;
END
$$;

-- 4. The day ledger (surveil/ledger.py). A detection run records the validation state of
--    the load it read: 'passed'; 'failed' (run with --force over a failed validation);
--    'missing' (that load never validated). NULL: run before this migration.
ALTER TABLE detect_runs ADD COLUMN validation text
    CHECK (validation IN ('passed', 'failed', 'missing'));

-- A detection that failed leaves no detect_runs row (its transaction rolled back); this
-- says it was tried, on which load and for which rules. Its id comes from the detect_runs
-- sequence, so the two are ordered: a failure on the current load newer than a rule's
-- newest run means that rule's last detection failed.
CREATE TABLE detect_failures (
    failure_id  bigint      PRIMARY KEY DEFAULT nextval('detect_runs_run_id_seq'),
    trade_date  date        NOT NULL,
    load_run_id bigint      NOT NULL REFERENCES load_runs (run_id),  -- the load it read
    rules       text[]      NOT NULL,
    error       text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX detect_failures_day_idx ON detect_failures (trade_date, failure_id DESC);
