-- migrate_v12.sql - schema version 11 -> 12: source_seen, each source IP's first day and its
-- sums over every day (schema.sql).
--
-- New sources are the addresses first seen in the period.  Without a table that knows an
-- address's first day, each address of the period was tested against its records for one in a
-- report before the period, and every row of the period was summed per address: `report
-- --all` over 10,000,000 records spent 28 s there (bench/report/README.md).  The store keeps
-- the table as reports arrive (sql/seen.c); here it is summed once from rollup_source, by the
-- rule of rollup_rebuild.sql: row by row, each sum stopping at the largest integer as the
-- store's do (sum() would fail with "integer overflow" where they saturate).

CREATE TABLE source_seen (
	ip TEXT PRIMARY KEY NOT NULL,
	first_day INTEGER NOT NULL,
	messages INTEGER NOT NULL,
	dmarc_pass INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO source_seen (ip, first_day, messages, dmarc_pass)
SELECT source_ip, day, messages, CASE WHEN dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END
FROM rollup_source
WHERE true
ON CONFLICT (ip) DO UPDATE SET first_day = min(first_day, excluded.first_day),
    messages = min(messages + excluded.messages, 9223372036854775807),
    dmarc_pass = min(dmarc_pass + excluded.dmarc_pass, 9223372036854775807);

CREATE INDEX source_seen_first_day ON source_seen (first_day);
