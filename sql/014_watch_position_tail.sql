-- The last bytes of a log file before its saved position (up to 64, NULL for Kafka and for
-- positions saved before this column). A restart resumes at the position only when the
-- file still holds them there: a file truncated and written past the old position while
-- the watcher was stopped (copytruncate, an engine that starts its log over each session)
-- has other bytes there, and is read again from its start instead of from the middle of
-- its new content.
ALTER TABLE watch_positions ADD COLUMN tail_bytes bytea;
