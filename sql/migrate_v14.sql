-- migrate_v14.sql - schema version 13 -> 14: record(source_ip) covers what the report counts
-- a pair's reports from.
--
-- A long period's report counts the reports behind each failing pair shown from the pairs'
-- records: found through record(source_ip), each record was then a search in the table for its
-- header_from, report and aligned results, on pages spread over the whole file (`report --all`
-- of 10,000,000 records: 70% of its 3.4 s, a third of it the kernel copying pages).  With those
-- columns in the index the pairs' records are read from it in turn (bench/report/README.md).
-- The index keeps its name and still answers every query by source IP.

DROP INDEX record_source_ip;
CREATE INDEX record_source_ip ON record (source_ip, header_from, report, disposition, dkim, spf);
