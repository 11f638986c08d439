-- The warehouse: the seed's firms, accounts, orders and executions, with the trade date as
-- the unit of loading. Orders and executions are partitioned by trade_date; `surveil load`
-- builds a day's partition in one transaction and attaches it, so a day is present whole
-- or not at all. ClOrdID is unique within a trading day (FIX practice), hence the keys.
-- Identifiers use the "C" collation: byte order, the same on every server, and several
-- times cheaper to sort and index than a linguistic locale.

CREATE TABLE firms (
    firm_id      varchar(50)  COLLATE "C" PRIMARY KEY,
    firm_name    varchar(100) NOT NULL,
    account_type varchar(50)  NOT NULL
);

CREATE TABLE accounts (
    account_id          varchar(50) COLLATE "C" PRIMARY KEY,
    firm_id             varchar(50) COLLATE "C" NOT NULL REFERENCES firms (firm_id),
    account_type        varchar(20) NOT NULL,
    beneficial_owner_id varchar(50) COLLATE "C" NOT NULL
);
CREATE INDEX accounts_beneficial_owner_idx ON accounts (beneficial_owner_id);

CREATE TABLE orders (
    cl_ord_id     varchar(64) COLLATE "C"    NOT NULL,                 -- FIX 11
    trade_date    date           NOT NULL,
    account_id    varchar(50) COLLATE "C"    NOT NULL,                 -- FIX 1
    firm_id       varchar(50) COLLATE "C"    NOT NULL,
    symbol        varchar(16) COLLATE "C"    NOT NULL,                 -- FIX 55
    side          char(1)        NOT NULL,                 -- FIX 54
    order_type    char(1)        NOT NULL,                 -- FIX 40
    time_in_force char(1)        NOT NULL,                 -- FIX 59
    quantity      integer        NOT NULL,                 -- FIX 38
    limit_price   numeric(12, 4),                          -- FIX 44, limit orders only
    transact_time timestamptz    NOT NULL,                 -- FIX 60
    ord_status    char(1)        NOT NULL,                 -- FIX 39, final state
    cum_qty       integer        NOT NULL,                 -- FIX 14
    avg_px        numeric(18, 6),                          -- FIX 6
    cancel_time   timestamptz,
    PRIMARY KEY (trade_date, cl_ord_id),
    FOREIGN KEY (account_id) REFERENCES accounts (account_id),
    FOREIGN KEY (firm_id) REFERENCES firms (firm_id)
) PARTITION BY LIST (trade_date);
CREATE INDEX orders_symbol_time_idx ON orders (symbol, transact_time);
CREATE INDEX orders_account_symbol_idx ON orders (account_id, symbol);

CREATE TABLE executions (
    exec_id       varchar(64) COLLATE "C"    NOT NULL,                 -- FIX 17
    trade_date    date           NOT NULL,
    cl_ord_id     varchar(64) COLLATE "C"    NOT NULL,                 -- FIX 11
    account_id    varchar(50) COLLATE "C"    NOT NULL,                 -- FIX 1, denormalised for detection
    symbol        varchar(16) COLLATE "C"    NOT NULL,                 -- FIX 55
    side          char(1)        NOT NULL,                 -- FIX 54
    fill_qty      integer        NOT NULL,                 -- FIX 32
    fill_price    numeric(12, 4) NOT NULL,                 -- FIX 31
    venue         varchar(20)    NOT NULL,                 -- FIX 30, a MIC
    transact_time timestamptz    NOT NULL,                 -- FIX 60
    PRIMARY KEY (trade_date, exec_id),
    FOREIGN KEY (trade_date, cl_ord_id) REFERENCES orders (trade_date, cl_ord_id),
    FOREIGN KEY (account_id) REFERENCES accounts (account_id)
) PARTITION BY LIST (trade_date);
CREATE INDEX executions_symbol_time_idx ON executions (symbol, transact_time);
CREATE INDEX executions_account_symbol_idx ON executions (account_id, symbol);

-- Every load of a day, including the ones that found nothing to do.
CREATE TABLE load_runs (
    run_id          bigserial   PRIMARY KEY,
    trade_date      date        NOT NULL,
    manifest_sha256 char(64)    NOT NULL,
    lake            text        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('loaded', 'replaced', 'skipped')),
    rows_read       jsonb       NOT NULL,
    rows_inserted   jsonb       NOT NULL,
    timings         jsonb       NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX load_runs_day_idx ON load_runs (trade_date, run_id DESC);

CREATE TABLE validation_runs (
    validation_id   bigserial   PRIMARY KEY,
    trade_date      date        NOT NULL,
    load_run_id     bigint      NOT NULL REFERENCES load_runs (run_id),
    manifest_sha256 char(64)    NOT NULL,
    passed          boolean     NOT NULL,
    checked_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX validation_runs_day_idx ON validation_runs (trade_date, validation_id DESC);

CREATE TABLE validation_results (
    validation_id bigint  NOT NULL REFERENCES validation_runs (validation_id) ON DELETE CASCADE,
    check_name    text    NOT NULL,
    passed        boolean NOT NULL,
    observed      bigint,
    expected      bigint,
    sample        text[]  NOT NULL DEFAULT '{}',
    PRIMARY KEY (validation_id, check_name)
);
