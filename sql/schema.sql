-- schema.sql - a new dmarcstat database, at the current schema version (PRAGMA user_version,
-- set at the end of this file).
--
-- Tables and columns carry RFC 7489's element names (org_name, report_id, begin, end, domain,
-- adkim, aspf, p, sp, pct, source_ip, count, disposition, header_from, ...) and RFC 9990's
-- additions (np, testing, discovery_method, generator, human_result), so SQL can be written
-- with the RFC at hand and no guide.  Times are Unix seconds, UTC.  NULL means the report did
-- not give the value (or gave one that could not be used; the fix-up is counted in fixups).
-- The views people query live in views.sql.
--
-- How the schema changes (the store, sql/store.c, relies on this):
--   * This file creates a new database directly at the current version; a new database never
--     replays the migrations.
--   * migrate_vN.sql upgrades a version N-1 database to N, and only ever runs on old
--     databases.  A change to the schema is a new migrate_vN.sql with the next free N, the same
--     change made here, and the version below raised to N.  The build fails when the version
--     below is not the highest migration's, and check_sql compares a new database's
--     sqlite_master with that of a version 1 database upgraded by the migrations.
--   * Column order matters: ALTER TABLE ADD COLUMN appends, so a column added by a migration
--     goes last here too.
--   * Views are not versioned: the store drops every view of views.sql before migrating and
--     creates them all again after, so changing a view is editing views.sql (with a migration,
--     possibly only a comment, so that existing databases are upgraded and get it).

-- One input unit: a file given or found under a folder, or one message of a mailbox.  An input
-- is 'pending' while its unit is being stored and 'done' once all of it was stored or
-- quarantined; a done input is skipped when seen again (same bytes, or same Maildir/IMAP
-- identity).  outcome says what became of it, so "which inputs gave nothing?" is one query:
--   'stored'       at least one report stored, nothing quarantined
--   'duplicate'    only reports already in the database
--   'quarantined'  nothing stored, something quarantined
--   'partial'      some reports stored and something quarantined
--   'empty'        no report in it at all (e.g. a mail without attachments)
-- It is NULL for inputs stored by version 1.
CREATE TABLE input (
	id INTEGER PRIMARY KEY,
	sha256 TEXT NOT NULL UNIQUE,
	identity TEXT UNIQUE,
	path TEXT,
	size INTEGER,
	message_id TEXT,
	date TEXT,
	"from" TEXT,
	subject TEXT,
	first_seen INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('pending', 'done')),
	outcome TEXT
	    CHECK (outcome IN ('stored', 'duplicate', 'quarantined', 'partial', 'empty'))
);

-- One <feedback> document.  member is the path inside its input ("r.zip>x.xml"), NULL when the
-- input itself was the report.  errors is a JSON array of <report_metadata><error> values,
-- fixups a JSON object counting each repair the parser made ({"timestamp_ms":2}), both NULL
-- when empty.  record_count and message_count are the records stored and the sum of their
-- valid counts.  first_record and last_record (version 13) are the ids of its first and last
-- record, NULL when it has none: the store writes a report's records with consecutive ids (one
-- writer, in one transaction), so its records are the rows of record whose id lies between
-- them and whose report is its id, found by rowid without an index on record(report), which
-- cost 4% of an ingest (bench/README.md).
CREATE TABLE report (
	id INTEGER PRIMARY KEY,
	input INTEGER REFERENCES input (id),
	member TEXT,
	org_name TEXT,
	email TEXT,
	extra_contact_info TEXT,
	report_id TEXT,
	"begin" INTEGER,
	"end" INTEGER,
	generator TEXT,
	version TEXT,
	schema TEXT NOT NULL CHECK (schema IN ('rfc7489', 'rfc9990', 'draft')),
	errors TEXT,
	domain TEXT,
	adkim TEXT,
	aspf TEXT,
	p TEXT,
	sp TEXT,
	np TEXT,
	pct INTEGER,
	fo TEXT,
	testing TEXT,
	discovery_method TEXT,
	extensions TEXT,
	fixups TEXT,
	record_count INTEGER NOT NULL DEFAULT 0,
	message_count INTEGER NOT NULL DEFAULT 0,
	sha256 TEXT,
	anchor TEXT,
	stored_at INTEGER NOT NULL,
	first_record INTEGER,
	last_record INTEGER
);

-- A report's identity (DESIGN.md "Exactly once"): the same reporter, report id, policy domain
-- and date range is the same report, whichever mail or file brought it.  ifnull() because
-- UNIQUE treats NULLs as distinct, and real reports do lack some of these.  A report without a
-- report_id or a valid date range cannot be told apart from another one of the same reporter by
-- those fields (broken generators reuse ids): its anchor, "<input sha256>:<member>", makes it
-- unique to the place it came from, so that re-importing that input still finds the duplicate.
-- anchor is NULL for every report with a complete identity.
CREATE UNIQUE INDEX report_identity ON report (ifnull(org_name, ''), ifnull(report_id, ''),
    ifnull(domain, ''), ifnull("begin", -1), ifnull("end", -1), ifnull(anchor, ''));
CREATE INDEX report_org_name ON report (org_name);
CREATE INDEX report_begin ON report ("begin");
CREATE INDEX report_domain ON report (domain);
CREATE INDEX report_input ON report (input);

-- One <record>: dkim and spf are the policy_evaluated (aligned) results; count is NULL when
-- the report's <count> was missing or invalid.  extensions holds record-level <extension>
-- elements as raw XML.  The indexes are the ones people query by; each other table a record
-- adds to is appended to in key order (ingest speed, bench/README.md).  A report's records are
-- found through report.first_record and last_record (version 13), not an index.
-- record(source_ip) also holds the columns a failing pair's reports are counted from (version
-- 14): a long period's report reads the pairs' records from the index alone.
CREATE TABLE record (
	id INTEGER PRIMARY KEY,
	report INTEGER NOT NULL REFERENCES report (id) ON DELETE CASCADE,
	source_ip TEXT,
	count INTEGER,
	disposition TEXT,
	dkim TEXT,
	spf TEXT,
	header_from TEXT,
	envelope_from TEXT,
	envelope_to TEXT,
	extensions TEXT,
	dkim_results TEXT, -- version 10: the dkim_result rows, packed (see below)
	spf_results TEXT
);
CREATE INDEX record_source_ip ON record (source_ip, header_from, report, disposition, dkim, spf);
CREATE INDEX record_header_from ON record (header_from);

-- <policy_evaluated><reason>: why the disposition differs from the published policy.
CREATE TABLE reason (
	id INTEGER PRIMARY KEY,
	record INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE,
	type TEXT,
	comment TEXT
);
CREATE INDEX reason_record ON reason (record);

-- <auth_results>: the raw, unaligned DKIM and SPF results, read as the views dkim_result and
-- spf_result, one row per result; n is its position among the record's, from 0, in document
-- order.  Since version 10 they are kept in the record's row, in dkim_results and spf_results
-- (NULL when there are none): a JSON array of [domain, selector, result, human_result] or
-- [domain, scope, result, human_result] arrays, nulls where the report gave no value.  Two
-- rows of their own per record were a quarter of an ingest's SQLite work (bench/README.md),
-- and every reader wants a record's results with the record.  An INSERT into a view appends
-- the result to its record's array (n is its position there, whatever the INSERT says); to
-- change or delete results, update the record's column.
CREATE VIEW dkim_result (record, n, domain, selector, result, human_result) AS
SELECT r.id, j.key, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
    json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]')
FROM record r, json_each(r.dkim_results) j;

CREATE VIEW spf_result (record, n, domain, scope, result, human_result) AS
SELECT r.id, j.key, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
    json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]')
FROM record r, json_each(r.spf_results) j;

CREATE TRIGGER dkim_result_insert INSTEAD OF INSERT ON dkim_result
BEGIN
	UPDATE record SET dkim_results = json_insert(ifnull(dkim_results, '[]'), '$[#]',
	    json_array(NEW.domain, NEW.selector, NEW.result, NEW.human_result))
	WHERE id = NEW.record;
END;

CREATE TRIGGER spf_result_insert INSTEAD OF INSERT ON spf_result
BEGIN
	UPDATE record SET spf_results = json_insert(ifnull(spf_results, '[]'), '$[#]',
	    json_array(NEW.domain, NEW.scope, NEW.result, NEW.human_result))
	WHERE id = NEW.record;
END;

-- Inputs, or members of them, that could not be stored, kept so they can be processed again
-- after a fix.  bytes is the input zlib-compressed (compress2), at most the quarantine cap of
-- input bytes (truncated = 1 when the input was longer); size is the input's full size.  The
-- same bytes failing again only bump attempts and last_tried.  An entry of reason 'conflict'
-- is a report with the identity of a stored one but other content; conflict_report is that
-- stored report (version 5).
CREATE TABLE quarantine (
	id INTEGER PRIMARY KEY,
	path TEXT,
	member TEXT,
	reason TEXT,
	message TEXT,
	bytes BLOB,
	size INTEGER,
	truncated INTEGER NOT NULL DEFAULT 0,
	sha256 TEXT,
	first_seen INTEGER NOT NULL,
	last_tried INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 1,
	resolved_at INTEGER,
	conflict_report INTEGER
);
CREATE INDEX quarantine_sha256 ON quarantine (sha256, member);

-- The rollups.  `dmarcstat report` and `explain` must answer in well under a second over ten
-- million records, so they never scan `record`: they read these tables, which the store
-- (sql/rollup.c) folds each report into as it writes it.  sql/rollup_rebuild.sql builds them
-- from the reports and records by the same rule, spelt in SQL (a test holds the two to the same
-- rows); run it after deleting reports or changing them with SQL.  The rule:
--
-- Days.  Every rollup is per UTC day (Unix seconds of the day's start).  A report covering
-- several days (begin to end) is spread evenly over them: each count is divided by the number
-- of days, and the remainder goes one message each to the first days, so sums stay exact
-- integers.  A day is covered when any second of [begin, end) falls in it.  A report claiming
-- more than 31 days is spread over its first 31 (real reports cover one day; longer ranges are
-- broken clocks).  A report whose dates cannot be trusted (no begin, a begin before 2000-01-01,
-- an end before its begin) is filed under day 0 (1970-01-01), which no report period includes:
-- `report` counts such reports apart, as undated.
--
-- Text keys are stored as '' rather than NULL, because UNIQUE (and so ON CONFLICT) treats NULLs
-- as distinct.  Auth results are stored in one text column each, entries separated by char(30)
-- (RS) and fields by char(31) (US): the parser drops control characters from report text, so
-- these never occur in a value.  sql/query.c decodes them; users see them through
-- v_rollup_source.

-- One row per report folded in: over which days it is spread.
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
-- published (p, sp, pct) as last seen.  blocked_pass (since version 9): the DMARC passes that
-- were quarantined or rejected all the same, so that the charts' four categories (pass; fail,
-- not blocked; quarantined; rejected) are exact: pass is dmarc_pass - blocked_pass.
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
	blocked_pass INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, org_name, domain, header_from)
);

-- Per day and everything a cause depends on: the source, the reporter, the policy, the
-- identifiers, the aligned and raw results and the override reasons: one row per record and
-- day.  A reporter's daily report already has one record per source and evidence, so merging
-- equal evidence into one row (a 17-column unique key, ON CONFLICT) saved few rows and cost
-- more than the rest of the store together; readers GROUP BY the evidence instead.  What the
-- table saves is the joins with the auth results and the reasons.
--
-- record is the record.id the row comes from; id is record * 32 plus the day's position in the
-- report (0-30), so the table is appended to; a query by source IP finds the rows through
-- record(source_ip).
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
-- No index of the day alone (since version 16: writing one was 12% of the store's work per
-- record): the rows of a period are read by report, each report's as one range of ids (its
-- records' ids, report.first_record to last_record), the reports found through
-- rollup_report_day0.
-- The failing rows (DMARC failed, or quarantined or rejected), with every column, since version
-- 8: report reads them three times (the pairs, their reports, their causes) and explain once or
-- twice, and through an index of the day alone each row was a lookup in the table, on a page
-- shared with passing rows (report --last 30d of 10,000,000 records: 2.2 s, see
-- bench/report/README.md).  It holds a sixth of the rows; id follows day, so a day's entries
-- are appended in record order, not inserted at random by IP.
CREATE INDEX rollup_source_failing ON rollup_source (day, id, record, org_name, domain, p, adkim,
    aspf, testing, source_ip, header_from, envelope_from, envelope_to, disposition, dkim, spf,
    dkim_auth, spf_auth, reasons, messages)
    WHERE (dkim <> 'pass' AND spf <> 'pass') OR disposition IN ('quarantine', 'reject');

-- rollup_daily per calendar month, since version 15: the sums of rollup_daily's rows of a
-- month per reporter, policy domain and From domain, so that a long period's days, ISPs and
-- domains read its whole months (12 rows a year per key instead of 365) and days only at its
-- ragged ends.  start is the month's first day (UTC midnight); last_day the last day of the
-- month with a rollup_daily row and p, sp and pct that row's (the policy published last, which
-- the domains show); mail_day the last day with messages (NULL when none), which the ISPs'
-- "last seen" reads.  Undated reports (day 0) are in the month of 1970-01-01 like any day.  The
-- store keeps it exact as reports arrive (sql/rollup.c adds a report's sums per month and From
-- domain once the report is kept); a deleted report's months are summed again from rollup_daily.
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

-- The failing evidence per calendar month and per ISO week (Monday to Sunday), since version
-- 11: rollup_source's failing rows (DMARC failed, or quarantined or rejected: the predicate of
-- rollup_source_failing) with messages, summed per bucket and evidence.  A month folds about a
-- hundred daily rows into one, so a long period's failing pairs and their causes read whole
-- months and weeks, and days only at its ragged ends.  start is the bucket's first day (UTC
-- midnight); first_day and last_day the first and last day of the bucket with such messages.
-- Rows of no message (a count spread thinner than one a day) and undated reports (day 0) are
-- left out.  The store keeps them exact as reports arrive (sql/rollup.c sums a report in
-- memory and adds one row per key when the report is kept); a deleted report's keys are
-- recomputed from rollup_source.
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

-- Per source IP ('' for records without one), since version 12: the first day it has a row in
-- rollup_source (the first day of its earliest report: day 0 when an undated report has it),
-- and its messages and DMARC passes over every day, as rollup_source sums them.  New sources
-- (sql/query.c) are the addresses whose first day falls in the period; without it, each
-- address of the period was tested against its records, and every row of the period summed
-- per address (report --all over 10,000,000 records: 28 s).  The store adds the sums of the
-- reports it keeps, per address, at each commit (sql/seen.c); a report deleted has its addresses
-- summed again.
CREATE TABLE source_seen (
	ip TEXT PRIMARY KEY NOT NULL,
	first_day INTEGER NOT NULL,
	messages INTEGER NOT NULL,
	dmarc_pass INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX source_seen_first_day ON source_seen (first_day);

-- What DNS and the user's MMDB files say about each source IP: the cache of `dmarcstat enrich`
-- (dns/), since version 5.  One row per source IP that was looked up; IPs never looked up have
-- no row.  The row is
-- replaced whole each time the IP is looked up again (after its TTL), so checked_at always
-- dates every column but service and kind, which each enrich run recomputes from ptr and
-- base_domain with the current services file (no DNS needed for that).
--
--   ip           as in record.source_ip (RFC 5952 for IPv6)
--   ptr          the first reverse DNS (PTR) name, lower case, no trailing dot; NULL: none
--   confirmed    1: a PTR name resolves back to ip (forward-confirmed reverse DNS), 0: none
--                does; NULL: no PTR name to confirm
--   base_domain  the registrable domain of ptr (public suffix list), e.g. amazonses.com
--   service      sending service named by the services file for ptr, e.g. "Amazon SES"
--   kind         that service's kind: esp, mailbox, list, forwarder, gateway
--   asn, as_org  autonomous system number and organisation (MMDB); NULL without an MMDB
--   country      ISO 3166-1 alpha-2 country code (MMDB)
--   checked_at   Unix seconds of the lookup
--   error        NULL when DNS answered (a missing PTR is an answer); else what failed
--                ("PTR lookup: timeout"): such rows are retried sooner than the others
CREATE TABLE host (
	ip TEXT PRIMARY KEY NOT NULL,
	ptr TEXT,
	confirmed INTEGER CHECK (confirmed IN (0, 1)),
	base_domain TEXT,
	service TEXT,
	kind TEXT,
	asn INTEGER,
	as_org TEXT,
	country TEXT,
	checked_at INTEGER NOT NULL,
	error TEXT
) WITHOUT ROWID;

CREATE INDEX host_service ON host (service);

-- IMAP folders, since version 6 (migrate_v6.sql has the why).  A folder is named by a key of
-- its server, user and folder, "imaps://user@host:993/INBOX", never a password; UIDs count
-- only under the folder's UIDVALIDITY.  imap_folder: every message up to last_uid was processed.
-- imap_message: messages processed and still waiting in their folder to be moved (to
-- --failed-to when failed = 1, else to --move-to).
CREATE TABLE imap_folder (
	folder TEXT PRIMARY KEY,
	uidvalidity INTEGER NOT NULL,
	last_uid INTEGER NOT NULL
);
CREATE TABLE imap_message (
	folder TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	failed INTEGER NOT NULL CHECK (failed IN (0, 1)),
	PRIMARY KEY (folder, uidvalidity, uid)
) WITHOUT ROWID;

PRAGMA user_version = 16;
