-- Detection: alerts an analyst can act on, the runs that made them, and the generator's
-- ground truth (planted_scenarios), which detection never reads; only `evaluate` does.

CREATE TABLE alerts (
    alert_id     char(32)     PRIMARY KEY,  -- md5 of rule, trade date and the key of what fired
    trade_date   date         NOT NULL,
    rule         text         NOT NULL,
    rule_version text         NOT NULL,
    params       jsonb        NOT NULL,
    symbol       varchar(16)  NOT NULL,
    account_ids  text[]       NOT NULL,
    cl_ord_ids   text[]       NOT NULL,
    exec_ids     text[]       NOT NULL,
    score        numeric(5, 2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    explanation  text         NOT NULL,
    created_at   timestamptz  NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX alerts_day_rule_idx ON alerts (trade_date, rule);

CREATE TABLE detect_runs (
    run_id       bigserial   PRIMARY KEY,
    trade_date   date        NOT NULL,
    load_run_id  bigint      NOT NULL REFERENCES load_runs (run_id),
    rule         text        NOT NULL,
    rule_version text        NOT NULL,
    params       jsonb       NOT NULL,
    alerts       integer     NOT NULL,
    seconds      real        NOT NULL,
    ran_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX detect_runs_day_idx ON detect_runs (trade_date, rule, run_id DESC);

CREATE TABLE planted_scenarios (
    trade_date  date        NOT NULL,
    scenario_id varchar(64) NOT NULL,
    type        text        NOT NULL,
    symbol      varchar(16) NOT NULL,
    account_ids text[]      NOT NULL,
    cl_ord_ids  text[]      NOT NULL,
    exec_ids    text[]      NOT NULL,
    label       text        NOT NULL CHECK (label IN ('abuse', 'lookalike')),
    PRIMARY KEY (trade_date, scenario_id)
);
