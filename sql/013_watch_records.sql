-- The day folders run-day wrote from watch's journal (surveil/watch/record.py): the
-- manifest written, and the last journal seq of each source it took in. Messages of the
-- day journalled after those (a late bust or trade report read once the day was loaded,
-- or one applied while run-day was recording the day) are not in that record: while it is
-- the day's load, status shows the day not done and run-day records it again.
CREATE TABLE watch_records (
    trade_date      date        NOT NULL,
    manifest_sha256 char(64)    NOT NULL,
    through         jsonb       NOT NULL,   -- {"<source>": last journal seq taken in}
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (trade_date, manifest_sha256)
);
