-- migrate_v11.sql - schema version 10 -> 11: the failing evidence rolled up per calendar month
-- and per ISO week (schema.sql has the tables and their rule).
--
-- A year's failing pairs read 3.3 million daily rows of rollup_source over 10,000,000 records
-- (1.0 s of CPU for the ranking alone); whole months and weeks hold about a hundredth of them
-- (bench/report/README.md).  The tables are filled here from rollup_source, by the rule
-- rollup_rebuild.sql spells too.

CREATE TABLE rollup_failing_month (
	start INTEGER NOT NULL,
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
	dkim_auth TEXT NOT NULL,
	spf_auth TEXT NOT NULL,
	reasons TEXT NOT NULL,
	messages INTEGER NOT NULL,
	first_day INTEGER NOT NULL,
	last_day INTEGER NOT NULL,
	PRIMARY KEY (start, org_name, domain, p, adkim, aspf, testing, source_ip, header_from,
	    envelope_from, envelope_to, disposition, dkim, spf, dkim_auth, spf_auth, reasons)
) WITHOUT ROWID;
CREATE TABLE rollup_failing_week (
	start INTEGER NOT NULL,
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
	dkim_auth TEXT NOT NULL,
	spf_auth TEXT NOT NULL,
	reasons TEXT NOT NULL,
	messages INTEGER NOT NULL,
	first_day INTEGER NOT NULL,
	last_day INTEGER NOT NULL,
	PRIMARY KEY (start, org_name, domain, p, adkim, aspf, testing, source_ip, header_from,
	    envelope_from, envelope_to, disposition, dkim, spf, dkim_auth, spf_auth, reasons)
) WITHOUT ROWID;

INSERT INTO rollup_failing_month
SELECT CAST(strftime('%s', day, 'unixepoch', 'start of month') AS INTEGER), org_name, domain, p,
    adkim, aspf, testing, source_ip, header_from, envelope_from, envelope_to, disposition, dkim,
    spf, dkim_auth, spf_auth, reasons, sum(messages), min(day), max(day)
FROM rollup_source
WHERE day > 0 AND messages > 0
    AND ((dkim <> 'pass' AND spf <> 'pass') OR disposition IN ('quarantine', 'reject'))
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17;

INSERT INTO rollup_failing_week
SELECT day - ((day / 86400 + 3) % 7) * 86400, org_name, domain, p, adkim, aspf, testing,
    source_ip, header_from, envelope_from, envelope_to, disposition, dkim, spf, dkim_auth,
    spf_auth, reasons, sum(messages), min(day), max(day)
FROM rollup_source
WHERE day > 0 AND messages > 0
    AND ((dkim <> 'pass' AND spf <> 'pass') OR disposition IN ('quarantine', 'reject'))
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17;
