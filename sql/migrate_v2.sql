-- migrate_v2.sql - schema version 1 -> 2.  Run once, inside the same transaction as the
-- version check, which then sets PRAGMA user_version = 2 (see store.c).
--
-- input.outcome says what became of each input, so "which inputs gave nothing?" is one query:
--   'stored'       at least one report stored, nothing quarantined
--   'duplicate'    only reports already in the database
--   'quarantined'  nothing stored, something quarantined
--   'partial'      some reports stored and something quarantined
--   'empty'        no report in it at all (e.g. a mail without attachments)
-- It is NULL for inputs stored by version 1.
ALTER TABLE input ADD COLUMN outcome TEXT
    CHECK (outcome IN ('stored', 'duplicate', 'quarantined', 'partial', 'empty'));

-- "Which messages were rejected / quarantined, from where?" filters on disposition first.
CREATE INDEX record_disposition ON record (disposition);
