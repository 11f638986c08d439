-- Busts, corrections and trade cancels/replaces of a day that name a fill (or a trade) the
-- day does not hold: import-fix's corrections.csv, loaded with the day. Most name a fill of
-- an earlier day: that fill is no longer the earlier day's, so while a day loaded before
-- still holds one, status shows that day not done and run-day refuses it until it is
-- imported again with the log of the correction (docs/fix-import.md, "Corrections").
CREATE TABLE fill_corrections (
    trade_date    date        NOT NULL,   -- the correction's own day: the day loaded
    kind          text        NOT NULL
        CHECK (kind IN ('bust', 'correction', 'trade cancel', 'trade replace')),
    ref           varchar(64) COLLATE "C" NOT NULL,  -- ExecRefID(19), or the trade's id (572)
    transact_time timestamptz NOT NULL,
    file          text        NOT NULL,
    line          bigint      NOT NULL
);
CREATE INDEX fill_corrections_day_idx ON fill_corrections (trade_date);
