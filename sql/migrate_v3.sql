-- migrate_v3.sql - schema version 2 -> 3: rollup tables for reports, kept current by a trigger (a migration; the store
-- registers it under its version number and runs it once, inside its migration transaction).
--
-- `dmarcstat report` and `explain` must answer in well under a second over ten million records,
-- so they never scan `record`.  When the store has inserted a report's records it sets the
-- report's record_count once; the trigger below then folds that one report into the rollups
-- with a few INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE statements, at a cost
-- proportional to the report, not to the database.  rollup_source, one row per record and day,
-- is written by the store itself as it inserts each record (sql/rollup.c, same encoding and
-- spreading), which costs a third of reading the records back here with three correlated
-- subqueries each; report.source_folded = 1 says it did, and the trigger then leaves
-- rollup_source alone.  Reports stored otherwise (before this migration, or by SQL) are folded
-- here.
--
-- Days.  Every rollup is per UTC day (Unix seconds of the day's start).  A report covering
-- several days (begin to end) is spread evenly over them: each count is divided by the number
-- of days, and the remainder goes one message each to the first days, so sums stay exact
-- integers.  A day is covered when any second of [begin, end) falls in it.  A report claiming
-- more than 31 days is spread over its first 31 (real reports cover one day; longer ranges are
-- broken clocks).  A report without a usable begin is counted on the day it was stored.
--
-- Text keys are stored as '' rather than NULL, because UNIQUE (and so ON CONFLICT) treats NULLs
-- as distinct.  Auth results are stored in one text column each, entries separated by char(30)
-- and fields by char(31): the parser drops control characters from report text, so these never
-- occur in a value.  sql/query.c decodes them; users see them through v_rollup_source, which
-- views.sql creates (the store creates every view again after an upgrade).
--
-- Deleting a report does not subtract it from the rollups (nothing deletes reports today);
-- DELETE FROM rollup_report, the rollup_* tables, then UPDATE report SET record_count =
-- record_count rebuilds them all.

-- 1 when the store already folded the report's records into rollup_source (see above).
ALTER TABLE report ADD COLUMN source_folded INTEGER;

-- 0..30, to spread a report over its days with a join (triggers cannot use WITH).
CREATE TABLE rollup_seq (n INTEGER PRIMARY KEY);
INSERT INTO rollup_seq (n)
WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 30) SELECT n FROM s;

-- One row per report folded in: marks it done (so a second UPDATE never counts it twice) and
-- says over which days it is spread.
CREATE TABLE rollup_report (
	report INTEGER PRIMARY KEY,
	org_name TEXT NOT NULL,
	domain TEXT NOT NULL,
	day0 INTEGER NOT NULL,
	ndays INTEGER NOT NULL,
	messages INTEGER NOT NULL
);
CREATE INDEX rollup_report_day0 ON rollup_report (day0);

-- Per day, reporter, policy domain and header_from: messages, DMARC passes (either aligned
-- result passes), aligned DKIM and SPF passes, quarantined and rejected messages; the policy
-- published (p, sp, pct) as last seen.
CREATE TABLE rollup_daily (
	day INTEGER NOT NULL,
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
	PRIMARY KEY (day, org_name, domain, header_from)
);

-- Per day and everything a cause depends on: the source, the reporter, the policy, the
-- identifiers, the aligned and raw results and the override reasons: one row per record and
-- day, appended.  A reporter's daily report already has one record per source and evidence,
-- so merging equal evidence into one row (a 17-column unique key, ON CONFLICT) saved few rows
-- and cost more than the rest of the store together; readers GROUP BY the evidence instead.
-- What the table saves is the joins with the auth results and the reasons.
CREATE TABLE rollup_source (
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
CREATE INDEX rollup_source_day ON rollup_source (day);
-- explain looks sources up by IP; the failing-sources section reads only failures.
CREATE INDEX rollup_source_ip ON rollup_source (source_ip, day);
CREATE INDEX rollup_source_failing ON rollup_source (day)
    WHERE (dkim <> 'pass' AND spf <> 'pass') OR disposition IN ('quarantine', 'reject');

-- Per source IP, policy domain, header_from and reporter: the first and last day it was seen,
-- so "new sending sources" need not look at history.
CREATE TABLE rollup_ip (
	domain TEXT NOT NULL,
	header_from TEXT NOT NULL,
	source_ip TEXT NOT NULL,
	org_name TEXT NOT NULL,
	first_day INTEGER NOT NULL,
	last_day INTEGER NOT NULL,
	messages INTEGER NOT NULL,
	PRIMARY KEY (domain, header_from, source_ip, org_name)
);
CREATE INDEX rollup_ip_first ON rollup_ip (first_day);

CREATE TRIGGER rollup_fold AFTER UPDATE OF record_count ON report
WHEN NOT EXISTS (SELECT 1 FROM rollup_report WHERE report = NEW.id)
BEGIN
	INSERT INTO rollup_report (report, org_name, domain, day0, ndays, messages)
	SELECT NEW.id, ifnull(NEW.org_name, ''), ifnull(NEW.domain, ''), b / 86400 * 86400,
	    CASE WHEN NEW."end" IS NULL OR NEW."end" <= b THEN 1
		ELSE min(31, (NEW."end" - 1) / 86400 - b / 86400 + 1) END,
	    NEW.message_count
	FROM (SELECT CASE WHEN NEW."begin" >= 0 THEN NEW."begin" ELSE NEW.stored_at END AS b);

	INSERT INTO rollup_daily (day, org_name, domain, header_from, p, sp, pct, messages,
	    dmarc_pass, dkim_aligned, spf_aligned, quarantined, rejected)
	SELECT rr.day0 + s.n * 86400, rr.org_name, rr.domain, g.header_from,
	    ifnull(NEW.p, ''), ifnull(NEW.sp, ''), NEW.pct,
	    g.m / rr.ndays + (s.n < g.m % rr.ndays),
	    g.pass / rr.ndays + (s.n < g.pass % rr.ndays),
	    g.dk / rr.ndays + (s.n < g.dk % rr.ndays),
	    g.sp / rr.ndays + (s.n < g.sp % rr.ndays),
	    g.q / rr.ndays + (s.n < g.q % rr.ndays),
	    g.r / rr.ndays + (s.n < g.r % rr.ndays)
	FROM (SELECT ifnull(header_from, '') AS header_from,
		sum(ifnull(count, 0)) AS m,
		sum(CASE WHEN dkim = 'pass' OR spf = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS pass,
		sum(CASE WHEN dkim = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS dk,
		sum(CASE WHEN spf = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS sp,
		sum(CASE WHEN disposition = 'quarantine' THEN ifnull(count, 0) ELSE 0 END) AS q,
		sum(CASE WHEN disposition = 'reject' THEN ifnull(count, 0) ELSE 0 END) AS r
	    FROM record WHERE report = NEW.id GROUP BY 1) g
	JOIN rollup_report rr ON rr.report = NEW.id
	JOIN rollup_seq s ON s.n < rr.ndays
	WHERE true
	ON CONFLICT (day, org_name, domain, header_from) DO UPDATE SET
	    p = excluded.p, sp = excluded.sp, pct = excluded.pct,
	    messages = messages + excluded.messages,
	    dmarc_pass = dmarc_pass + excluded.dmarc_pass,
	    dkim_aligned = dkim_aligned + excluded.dkim_aligned,
	    spf_aligned = spf_aligned + excluded.spf_aligned,
	    quarantined = quarantined + excluded.quarantined,
	    rejected = rejected + excluded.rejected;

	INSERT INTO rollup_source (day, org_name, domain, p, adkim, aspf, testing, source_ip,
	    header_from, envelope_from, envelope_to, disposition, dkim, spf, dkim_auth, spf_auth,
	    reasons, messages)
	SELECT rr.day0 + s.n * 86400, rr.org_name, rr.domain, ifnull(NEW.p, ''),
	    ifnull(NEW.adkim, ''), ifnull(NEW.aspf, ''), ifnull(NEW.testing, ''),
	    g.source_ip, g.header_from, g.envelope_from, g.envelope_to, g.disposition, g.dkim,
	    g.spf, g.dkim_auth, g.spf_auth, g.reasons,
	    g.m / rr.ndays + (s.n < g.m % rr.ndays)
	FROM (SELECT ifnull(r.source_ip, '') AS source_ip,
		    ifnull(r.header_from, '') AS header_from,
		    ifnull(r.envelope_from, '') AS envelope_from,
		    ifnull(r.envelope_to, '') AS envelope_to,
		    ifnull(r.disposition, '') AS disposition,
		    ifnull(r.dkim, '') AS dkim, ifnull(r.spf, '') AS spf,
		    ifnull((SELECT group_concat(e, char(30)) FROM (SELECT ifnull(d.domain, '') ||
			char(31) || ifnull(d.selector, '') || char(31) || ifnull(d.result, '') AS e
			FROM dkim_result d WHERE d.record = r.id ORDER BY d.id)), '') AS dkim_auth,
		    ifnull((SELECT group_concat(e, char(30)) FROM (SELECT ifnull(f.domain, '') ||
			char(31) || ifnull(f.scope, '') || char(31) || ifnull(f.result, '') AS e
			FROM spf_result f WHERE f.record = r.id ORDER BY f.id)), '') AS spf_auth,
		    ifnull((SELECT group_concat(e, char(30)) FROM (SELECT ifnull(x.type, '') ||
			char(31) || ifnull(x.comment, '') AS e
			FROM reason x WHERE x.record = r.id ORDER BY x.id)), '') AS reasons,
		    ifnull(r.count, 0) AS m
		FROM record r WHERE r.report = NEW.id) g
	JOIN rollup_report rr ON rr.report = NEW.id
	JOIN rollup_seq s ON s.n < rr.ndays
	WHERE NEW.source_folded IS NULL;

	INSERT INTO rollup_ip (domain, header_from, source_ip, org_name, first_day, last_day,
	    messages)
	SELECT rr.domain, g.header_from, g.source_ip, rr.org_name, rr.day0,
	    rr.day0 + (rr.ndays - 1) * 86400, g.m
	FROM (SELECT ifnull(header_from, '') AS header_from, ifnull(source_ip, '') AS source_ip,
		sum(ifnull(count, 0)) AS m
	    FROM record WHERE report = NEW.id GROUP BY 1, 2) g
	JOIN rollup_report rr ON rr.report = NEW.id
	WHERE true
	ON CONFLICT (domain, header_from, source_ip, org_name) DO UPDATE SET
	    first_day = min(first_day, excluded.first_day),
	    last_day = max(last_day, excluded.last_day),
	    messages = messages + excluded.messages;
END;

-- Fold in the reports stored before this migration: the trigger does it, once per report.
UPDATE report SET record_count = record_count;
