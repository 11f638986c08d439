-- `surveil watch` (issue 23): the intraday path's own state, beside the warehouse tables it
-- writes. Everything a watcher consumed is committed in the same transaction as the rows
-- it produced: its position in the source, the journal of the messages it applied, and the
-- rejects it found. A restart reads the position and replays the journal to rebuild the
-- day's state in memory, so no message is lost or applied twice.

-- Where each source was read up to: a file by inode (a rotated log keeps its inode under
-- its new name) and the byte just after the last complete message consumed; a Kafka topic
-- by the next offset of each partition.
CREATE TABLE watch_positions (
    source      text        PRIMARY KEY,          -- the log's path, or kafka:<topic>
    inode       bigint      NOT NULL,             -- 0 for Kafka
    byte_offset bigint      NOT NULL CHECK (byte_offset >= 0),
    line        bigint      NOT NULL CHECK (line >= 1),  -- line number at byte_offset
    file_name   text        NOT NULL,             -- the name reported in rejects (the topic)
    messages    bigint      NOT NULL,             -- messages journalled from this source
    offsets     jsonb,                            -- Kafka: {"<partition>": next offset}
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every verified message, in the order read: replayed on restart (session messages too:
-- refusals are matched by MsgSeqNum against them, as import-fix does). (source, seq) is
-- unique, so a message journalled twice cannot commit.
CREATE TABLE watch_messages (
    source       text    NOT NULL,
    seq          bigint  NOT NULL,
    trade_date   date,                            -- NULL: a message with no readable date
    file_name    text    NOT NULL,
    line         bigint  NOT NULL,
    begin_string text    NOT NULL,
    msg_type     text    NOT NULL,
    body         bytea   NOT NULL,                -- from MsgType(35) up to CheckSum(10)
    PRIMARY KEY (source, seq)
);
CREATE INDEX watch_messages_day_idx ON watch_messages (trade_date, source, seq);

-- Messages that failed verification or could not become rows, with the reason (what
-- import-fix --skip-invalid lists in rejects.csv).
CREATE TABLE watch_rejects (
    source      text        NOT NULL,
    seq         bigint      NOT NULL,             -- position among this source's rejects
    trade_date  date,                             -- NULL when the message's date is unreadable
    file_name   text        NOT NULL,
    line        bigint      NOT NULL,
    msg_type    text        NOT NULL,
    reason      text        NOT NULL,
    message     text        NOT NULL,
    found_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (source, seq)
);
CREATE INDEX watch_rejects_day_idx ON watch_rejects (trade_date);

-- Alerts already written as a JSON line, so that a re-detection does not page twice.
CREATE TABLE watch_alerts_sent (
    alert_id   char(32)    PRIMARY KEY,
    trade_date date        NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
