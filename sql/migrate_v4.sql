-- migrate_v4.sql - schema version 3 -> 4: every rollup folded by the store itself, and each
-- record's rows appended in key order (a migration; the store runs it once, inside its
-- migration transaction).
--
-- Why: ingest must run at least half as fast as parse-only (bench/README.md).  Each record
-- cost about fifteen B-tree inserts, three of them at random places, plus the v3 trigger that
-- read every report's records back with four GROUP BY queries.  Now:
--   * the store folds rollup_report and rollup_daily in C as it writes a report
--     (sql/rollup.c: same days, same spreading, same encoding as migrate_v3.sql describes);
--   * dkim_result and spf_result are clustered on (record, n): one B-tree each, appended to,
--     instead of a table and an index on record;
--   * rollup_source's id is record.id * 32 plus the day's position in the report (0-30), so
--     it is appended to as well; a query by source IP finds the rows through record(source_ip);
--   * rollup_ip is gone: an IP is new when record(source_ip) finds no earlier report of it
--     (sql/query.c);
--   * record(disposition), which no query used, is gone.
-- The indexes people query by stay: record(report), record(source_ip), record(header_from),
-- report(org_name, "begin", domain, input), rollup_source(day).
-- The views, which name the tables rebuilt here, are dropped by the store before any migration
-- and created again from views.sql after it (schema.sql says why).

DROP TRIGGER rollup_fold;

DROP INDEX record_disposition;

-- n: the result's position among the record's, from 0, in document order.
CREATE TABLE dkim_result_v4 (
	record INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE,
	n INTEGER NOT NULL,
	domain TEXT,
	selector TEXT,
	result TEXT,
	human_result TEXT,
	PRIMARY KEY (record, n)
) WITHOUT ROWID;
INSERT INTO dkim_result_v4 (record, n, domain, selector, result, human_result)
SELECT record, row_number() OVER (PARTITION BY record ORDER BY id) - 1, domain, selector,
    result, human_result
FROM dkim_result;
DROP TABLE dkim_result;
ALTER TABLE dkim_result_v4 RENAME TO dkim_result;

CREATE TABLE spf_result_v4 (
	record INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE,
	n INTEGER NOT NULL,
	domain TEXT,
	scope TEXT,
	result TEXT,
	human_result TEXT,
	PRIMARY KEY (record, n)
) WITHOUT ROWID;
INSERT INTO spf_result_v4 (record, n, domain, scope, result, human_result)
SELECT record, row_number() OVER (PARTITION BY record ORDER BY id) - 1, domain, scope, result,
    human_result
FROM spf_result;
DROP TABLE spf_result;
ALTER TABLE spf_result_v4 RENAME TO spf_result;

-- record: the record.id the row comes from; id: record * 32 + the day's position in the
-- report.  Version 3 did not keep that link, so the store rebuilds every rollup after this
-- script (sql/rollup_rebuild.sql).
DROP TABLE rollup_source;
CREATE TABLE rollup_source (
	id INTEGER PRIMARY KEY,
	record INTEGER NOT NULL,
	day INTEGER NOT NULL,
	org_name TEXT NOT NULL,
	domain TEXT NOT NULL,
	p TEXT NOT NULL,
	adkim TEXT NOT NULL,
	aspf TEXT NOT NULL,
	testing TEXT NOT NULL,
	source_ip TEXT NOT NULL,
	header_from TEXT NOT NULL,
	envelope_from TEXT NOT NULL,
	envelope_to TEXT NOT NULL,
	disposition TEXT NOT NULL,
	dkim TEXT NOT NULL,
	spf TEXT NOT NULL,
	dkim_auth TEXT NOT NULL, -- domain US selector US result, entries separated by RS
	spf_auth TEXT NOT NULL,	 -- domain US scope US result, entries separated by RS
	reasons TEXT NOT NULL,	 -- type US comment, entries separated by RS
	messages INTEGER NOT NULL
);
-- Per day; its other columns let the new-sources scan (sql/query.c) read the index alone
-- (0.83 s -> 0.66 s for 30 days of a 10,000,000-record database).  id follows day, so a day's
-- entries are appended in record order like the table's, not inserted at random by IP.
CREATE INDEX rollup_source_day ON rollup_source (day, id, source_ip, messages, dkim, spf);
CREATE INDEX rollup_source_failing ON rollup_source (day)
    WHERE (dkim <> 'pass' AND spf <> 'pass') OR disposition IN ('quarantine', 'reject');

DROP TABLE rollup_ip;
DROP TABLE rollup_seq;
ALTER TABLE report DROP COLUMN source_folded;
