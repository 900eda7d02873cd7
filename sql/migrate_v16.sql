-- migrate_v16.sql - schema version 15 -> 16: rollup_source without its index of the day.
--
-- rollup_source_day held every row of rollup_source a second time, in (day, id) order, and
-- writing it was 12% of the store's instructions per record (bench/README.md).  The rows of a
-- period are found by report instead: rollup_report_day0 gives the reports whose days may meet
-- the period, and a report's rows are one range of ids, from its records' id range
-- (report.first_record and last_record, version 13; rollup_source's id is record.id * 32 plus
-- the day).  The failing rows, which the report reads most, keep their partial index.

DROP INDEX IF EXISTS rollup_source_day;
