-- rollup_rebuild.sql - rebuilds every rollup table (rollup_report, rollup_daily,
-- rollup_daily_month, rollup_source, rollup_failing_month, rollup_failing_week, source_seen; see
-- schema.sql), and each report's first_record and last_record, from the reports and records.
--
-- The store folds each report into the rollups as it writes it (sql/rollup.c), and runs this
-- once when it upgrades a database from before version 4.  Run it yourself after deleting
-- reports or changing them with SQL:  sqlite3 dmarcstat.db < sql/rollup_rebuild.sql
-- It spells the rule of schema.sql ("The rollups") as sql/rollup.c does in C, and a test
-- (check_sql: test_store_rollups_match_the_rebuild) checks that both give the same rows: a
-- report is spread over the UTC days its [begin, end) touches (at most 31; day 0 when its dates
-- cannot be trusted: no begin, a begin before 2000-01-01, an end before begin), each sum divided evenly with the remainder one each to the
-- first days; text keys are '' for NULL; auth results are encoded as "domain US
-- selector-or-scope US result" entries separated by RS.

-- Each report's record id range first (schema.sql: report.first_record), which the store keeps
-- as it writes a report and the queries find its records by: records added with SQL count too.
UPDATE report SET first_record = NULL, last_record = NULL;
UPDATE report SET first_record = g.lo, last_record = g.hi
FROM (SELECT report, min(id) AS lo, max(id) AS hi FROM record GROUP BY report) g
WHERE g.report = report.id;

DELETE FROM rollup_report;
DELETE FROM rollup_daily;
DELETE FROM rollup_daily_month;
DELETE FROM rollup_source;
DELETE FROM rollup_failing_month;
DELETE FROM rollup_failing_week;
DELETE FROM source_seen;

INSERT INTO rollup_report (report, org_name, domain, day0, ndays, messages)
SELECT id, ifnull(org_name, ''), ifnull(domain, ''), b / 86400 * 86400,
    CASE WHEN b = 0 OR "end" IS NULL OR "end" <= b THEN 1
	ELSE min(31, ("end" - 1) / 86400 - b / 86400 + 1) END,
    message_count
FROM (SELECT id, org_name, domain, "end", message_count,
	CASE WHEN "begin" >= 946684800 AND ("end" IS NULL OR "end" >= "begin") THEN "begin"
	ELSE 0 END AS b
    FROM report)
ORDER BY id;

WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < 30),
g AS (SELECT report, ifnull(header_from, '') AS header_from,
	sum(ifnull(count, 0)) AS m,
	sum(CASE WHEN dkim = 'pass' OR spf = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS pass,
	sum(CASE WHEN dkim = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS dk,
	sum(CASE WHEN spf = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS sp,
	sum(CASE WHEN disposition = 'quarantine' THEN ifnull(count, 0) ELSE 0 END) AS q,
	sum(CASE WHEN disposition = 'reject' THEN ifnull(count, 0) ELSE 0 END) AS r,
	sum(CASE WHEN (dkim = 'pass' OR spf = 'pass')
	    AND disposition IN ('quarantine', 'reject') THEN ifnull(count, 0) ELSE 0 END) AS bp
    FROM record GROUP BY report, 2)
INSERT INTO rollup_daily (day, org_name, domain, header_from, p, sp, pct, messages,
    dmarc_pass, dkim_aligned, spf_aligned, quarantined, rejected, blocked_pass)
SELECT rr.day0 + s.n * 86400, rr.org_name, rr.domain, g.header_from, ifnull(p.p, ''),
    ifnull(p.sp, ''), p.pct,
    g.m / rr.ndays + (s.n < g.m % rr.ndays),
    g.pass / rr.ndays + (s.n < g.pass % rr.ndays),
    g.dk / rr.ndays + (s.n < g.dk % rr.ndays),
    g.sp / rr.ndays + (s.n < g.sp % rr.ndays),
    g.q / rr.ndays + (s.n < g.q % rr.ndays),
    g.r / rr.ndays + (s.n < g.r % rr.ndays),
    g.bp / rr.ndays + (s.n < g.bp % rr.ndays)
FROM g
JOIN rollup_report rr ON rr.report = g.report
JOIN report p ON p.id = g.report
JOIN seq s ON s.n < rr.ndays
WHERE true
ORDER BY g.report, g.header_from, s.n
ON CONFLICT (day, org_name, domain, header_from) DO UPDATE SET
    p = excluded.p, sp = excluded.sp, pct = excluded.pct,
    messages = messages + excluded.messages,
    dmarc_pass = dmarc_pass + excluded.dmarc_pass,
    dkim_aligned = dkim_aligned + excluded.dkim_aligned,
    spf_aligned = spf_aligned + excluded.spf_aligned,
    quarantined = quarantined + excluded.quarantined,
    rejected = rejected + excluded.rejected,
    blocked_pass = blocked_pass + excluded.blocked_pass;

-- rollup_daily per month, from the rows above.
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

WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < 30)
INSERT INTO rollup_source (id, record, day, org_name, domain, p, adkim, aspf, testing, source_ip,
    header_from, envelope_from, envelope_to, disposition, dkim, spf, dkim_auth, spf_auth,
    reasons, messages)
SELECT r.id * 32 + s.n, r.id, rr.day0 + s.n * 86400, rr.org_name, rr.domain, ifnull(p.p, ''),
    ifnull(p.adkim, ''), ifnull(p.aspf, ''), ifnull(p.testing, ''),
    ifnull(r.source_ip, ''), ifnull(r.header_from, ''), ifnull(r.envelope_from, ''),
    ifnull(r.envelope_to, ''), ifnull(r.disposition, ''), ifnull(r.dkim, ''),
    ifnull(r.spf, ''),
    ifnull((SELECT group_concat(e, char(30)) FROM (SELECT ifnull(d.domain, '') || char(31) ||
	ifnull(d.selector, '') || char(31) || ifnull(d.result, '') AS e
	FROM dkim_result d WHERE d.record = r.id ORDER BY d.n)), ''),
    ifnull((SELECT group_concat(e, char(30)) FROM (SELECT ifnull(f.domain, '') || char(31) ||
	ifnull(f.scope, '') || char(31) || ifnull(f.result, '') AS e
	FROM spf_result f WHERE f.record = r.id ORDER BY f.n)), ''),
    ifnull((SELECT group_concat(e, char(30)) FROM (SELECT ifnull(x.type, '') || char(31) ||
	ifnull(x.comment, '') AS e
	FROM reason x WHERE x.record = r.id ORDER BY x.id)), ''),
    ifnull(r.count, 0) / rr.ndays + (s.n < ifnull(r.count, 0) % rr.ndays)
FROM record r
JOIN report p ON p.id = r.report
JOIN rollup_report rr ON rr.report = r.report
JOIN seq s ON s.n < rr.ndays
ORDER BY r.id, s.n;

-- The failing evidence per month and ISO week, from the rows above.
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

INSERT INTO source_seen (ip, first_day, messages, dmarc_pass)
SELECT source_ip, day, messages, CASE WHEN dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END
FROM rollup_source
WHERE true
ON CONFLICT (ip) DO UPDATE SET first_day = min(first_day, excluded.first_day),
    messages = min(messages + excluded.messages, 9223372036854775807),
    dmarc_pass = min(dmarc_pass + excluded.dmarc_pass, 9223372036854775807);
