-- migrate_v11.sql - schema version 10 -> 11: source_seen, each source IP's first day and its
-- sums over every day (schema.sql).
--
-- New sources are the addresses first seen in the period.  Without a table that knows an
-- address's first day, each address of the period was tested against its records for one in a
-- report before the period, and every row of the period was summed per address: `report
-- --all` over 10,000,000 records spent 28 s there (bench/report/README.md).  The store keeps
-- the table as reports arrive (sql/seen.c); here it is summed once from rollup_source, by the
-- rule of rollup_rebuild.sql.

CREATE TABLE source_seen (
	ip TEXT PRIMARY KEY NOT NULL,
	first_day INTEGER NOT NULL,
	messages INTEGER NOT NULL,
	dmarc_pass INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO source_seen (ip, first_day, messages, dmarc_pass)
SELECT source_ip, min(day), sum(messages),
    sum(CASE WHEN dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END)
FROM rollup_source
GROUP BY source_ip;

CREATE INDEX source_seen_first_day ON source_seen (first_day);
