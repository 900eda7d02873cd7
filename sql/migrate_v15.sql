-- migrate_v15.sql - schema version 14 -> 15: rollup_daily per calendar month (schema.sql has
-- the table and its rule).
--
-- A year's report read its 80,300 rollup_daily rows three times (its ISPs, its domains, its
-- reporters) and sorted them: 0.1-0.28 s of CPU each over 10,000,000 records, three times that
-- over three years (bench/report/README.md).  Whole months hold a thirtieth of the rows.  The
-- table is filled from rollup_daily row by row with the store's saturating upsert (a month's sum
-- may pass what sum() takes), by the rule rollup_rebuild.sql spells too.

CREATE TABLE rollup_daily_month (
	start INTEGER NOT NULL,
	org_name TEXT NOT NULL,
	domain TEXT NOT NULL,
	header_from TEXT NOT NULL,
	p TEXT NOT NULL,
	sp TEXT NOT NULL,
	pct INTEGER,
	messages INTEGER NOT NULL,
	dmarc_pass INTEGER NOT NULL,
	dkim_aligned INTEGER NOT NULL,
	spf_aligned INTEGER NOT NULL,
	quarantined INTEGER NOT NULL,
	rejected INTEGER NOT NULL,
	blocked_pass INTEGER NOT NULL,
	last_day INTEGER NOT NULL,
	mail_day INTEGER,
	PRIMARY KEY (start, org_name, domain, header_from)
) WITHOUT ROWID;

INSERT INTO rollup_daily_month (start, org_name, domain, header_from, p, sp, pct, messages,
    dmarc_pass, dkim_aligned, spf_aligned, quarantined, rejected, blocked_pass, last_day,
    mail_day)
SELECT CAST(strftime('%s', day, 'unixepoch', 'start of month') AS INTEGER), org_name, domain,
    header_from, p, sp, pct, messages, dmarc_pass, dkim_aligned, spf_aligned, quarantined,
    rejected, blocked_pass, day, CASE WHEN messages > 0 THEN day END
FROM rollup_daily
WHERE true
ON CONFLICT (start, org_name, domain, header_from) DO UPDATE SET
    p = CASE WHEN excluded.last_day >= last_day THEN excluded.p ELSE p END,
    sp = CASE WHEN excluded.last_day >= last_day THEN excluded.sp ELSE sp END,
    pct = CASE WHEN excluded.last_day >= last_day THEN excluded.pct ELSE pct END,
    messages = min(messages + excluded.messages, 9223372036854775807),
    dmarc_pass = min(dmarc_pass + excluded.dmarc_pass, 9223372036854775807),
    dkim_aligned = min(dkim_aligned + excluded.dkim_aligned, 9223372036854775807),
    spf_aligned = min(spf_aligned + excluded.spf_aligned, 9223372036854775807),
    quarantined = min(quarantined + excluded.quarantined, 9223372036854775807),
    rejected = min(rejected + excluded.rejected, 9223372036854775807),
    blocked_pass = min(blocked_pass + excluded.blocked_pass, 9223372036854775807),
    last_day = max(last_day, excluded.last_day),
    mail_day = max(ifnull(mail_day, excluded.mail_day), ifnull(excluded.mail_day, mail_day));
