-- A watcher retires a day once `load` has loaded it (its batch record, by run-day or by
-- hand): the day leaves the watcher's memory and its restarts, and a later message for it
-- becomes a reject with that reason instead of a row written into a loaded day.
-- `replay_from` is the first journal seq a restart reads: the first message of the oldest
-- day still watched (every message before it is a retired day's or a session message that
-- a later day's state does not depend on). 0 for positions saved before: the whole journal.
ALTER TABLE watch_positions
    ADD COLUMN replay_from bigint NOT NULL DEFAULT 0 CHECK (replay_from >= 0);
