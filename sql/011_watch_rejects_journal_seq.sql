-- A reject in watch_rejects is of one of two kinds: a message that failed verification
-- (BodyLength, CheckSum, framing), which is not in the journal and of which only this
-- copy is kept; or a verified message, journalled, whose content could not become rows (no
-- usable time, a field out of the rules, a day loaded already). `journal_seq` is the
-- journal seq of the second kind, NULL for the first. A day recorded from the journal
-- (surveil/watch/record.py) writes back the copies of the first kind only: the second is
-- in the journal, and the import rejects it again with its reason. Rejects saved before
-- this column read NULL.
ALTER TABLE watch_rejects ADD COLUMN journal_seq bigint;
