-- migrate_v13.sql - schema version 12 -> 13: a report's records found by their id range, not by
-- the index record_report.
--
-- The store writes a report's records with consecutive ids (one writer, in one transaction), so
-- report.first_record and last_record find them by rowid; the index on record(report) was 4% of
-- the instructions of an ingest (bench/README.md).  The ranges are taken from the index before
-- it goes.  A report whose records are not consecutive (written by hand with SQL) still gets its
-- lowest and highest: every reader also checks record.report, so such a report only costs more.

ALTER TABLE report ADD COLUMN first_record INTEGER;
ALTER TABLE report ADD COLUMN last_record INTEGER;

UPDATE report SET first_record = g.lo, last_record = g.hi
FROM (SELECT report, min(id) AS lo, max(id) AS hi FROM record GROUP BY report) g
WHERE g.report = report.id;

DROP INDEX record_report;
