-- schema_v1.sql - what version 1 of dmarcstat created (PRAGMA user_version = 1), kept
-- unchanged as a test fixture: databases created then still exist, and check_sql upgrades
-- this one with the migrations of sql/ and compares it with a new database (sql/schema.sql).
-- Never edit it; the current schema is sql/schema.sql.

-- One input unit: a file given or found under a folder, or one message of a mailbox.  An input
-- is 'pending' while its unit is being stored and 'done' once all of it was stored or
-- quarantined; a done input is skipped when seen again (same bytes, or same Maildir/IMAP
-- identity).
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
	status TEXT NOT NULL CHECK (status IN ('pending', 'done'))
);

-- One <feedback> document.  member is the path inside its input ("r.zip>x.xml"), NULL when the
-- input itself was the report.  errors is a JSON array of <report_metadata><error> values,
-- fixups a JSON object counting each repair the parser made ({"timestamp_ms":2}), both NULL
-- when empty.  record_count and message_count are the records stored and the sum of their
-- valid counts.
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
	stored_at INTEGER NOT NULL
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
-- elements as raw XML.
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
	extensions TEXT
);
CREATE INDEX record_report ON record (report);
CREATE INDEX record_source_ip ON record (source_ip);
CREATE INDEX record_header_from ON record (header_from);

-- <policy_evaluated><reason>: why the disposition differs from the published policy.
CREATE TABLE reason (
	id INTEGER PRIMARY KEY,
	record INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE,
	type TEXT,
	comment TEXT
);
CREATE INDEX reason_record ON reason (record);

-- <auth_results>: the raw, unaligned DKIM and SPF results.
CREATE TABLE dkim_result (
	id INTEGER PRIMARY KEY,
	record INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE,
	domain TEXT,
	selector TEXT,
	result TEXT,
	human_result TEXT
);
CREATE INDEX dkim_result_record ON dkim_result (record);

CREATE TABLE spf_result (
	id INTEGER PRIMARY KEY,
	record INTEGER NOT NULL REFERENCES record (id) ON DELETE CASCADE,
	domain TEXT,
	scope TEXT,
	result TEXT,
	human_result TEXT
);
CREATE INDEX spf_result_record ON spf_result (record);

-- Inputs, or members of them, that could not be stored, kept so they can be processed again
-- after a fix.  bytes is the input zlib-compressed (compress2), at most the quarantine cap of
-- input bytes (truncated = 1 when the input was longer); size is the input's full size.  The
-- same bytes failing again only bump attempts and last_tried.
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
	resolved_at INTEGER
);
CREATE INDEX quarantine_sha256 ON quarantine (sha256, member);

CREATE VIEW v_record AS
SELECT r.id AS id, r.report AS report, p.org_name AS org_name, p.domain AS domain,
    p."begin" AS "begin", p."end" AS "end", date(p."begin", 'unixepoch') AS day,
    r.source_ip AS source_ip, r.count AS count, ifnull(r.count, 0) AS messages,
    r.disposition AS disposition, r.dkim AS dkim, r.spf AS spf,
    r.header_from AS header_from, r.envelope_from AS envelope_from,
    r.envelope_to AS envelope_to,
    coalesce((SELECT 'pass' FROM dkim_result d WHERE d.record = r.id AND d.result = 'pass'),
	(SELECT d.result FROM dkim_result d WHERE d.record = r.id ORDER BY d.id LIMIT 1),
	'none') AS dkim_raw,
    coalesce((SELECT 'pass' FROM spf_result s WHERE s.record = r.id AND s.result = 'pass'),
	(SELECT s.result FROM spf_result s WHERE s.record = r.id ORDER BY s.id LIMIT 1),
	'none') AS spf_raw
FROM record r JOIN report p ON p.id = r.report;

CREATE VIEW v_ip_auth AS
SELECT source_ip,
    sum(messages) AS messages,
    sum(CASE WHEN spf_raw = 'pass' THEN messages ELSE 0 END) AS spf_raw_pass,
    sum(CASE WHEN spf_raw = 'pass' THEN 0 ELSE messages END) AS spf_raw_fail,
    sum(CASE WHEN dkim_raw = 'pass' THEN messages ELSE 0 END) AS dkim_raw_pass,
    sum(CASE WHEN dkim_raw = 'pass' THEN 0 ELSE messages END) AS dkim_raw_fail,
    sum(CASE WHEN spf = 'pass' THEN messages ELSE 0 END) AS spf_aligned_pass,
    sum(CASE WHEN spf = 'pass' THEN 0 ELSE messages END) AS spf_aligned_fail,
    sum(CASE WHEN dkim = 'pass' THEN messages ELSE 0 END) AS dkim_aligned_pass,
    sum(CASE WHEN dkim = 'pass' THEN 0 ELSE messages END) AS dkim_aligned_fail,
    sum(CASE WHEN dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END) AS dmarc_pass,
    sum(CASE WHEN disposition = 'none' THEN messages ELSE 0 END) AS "none",
    sum(CASE WHEN disposition = 'quarantine' THEN messages ELSE 0 END) AS quarantine,
    sum(CASE WHEN disposition = 'reject' THEN messages ELSE 0 END) AS reject,
    sum(CASE WHEN disposition = 'pass' THEN messages ELSE 0 END) AS pass
FROM v_record GROUP BY source_ip;

CREATE VIEW v_reporter_disposition AS
SELECT p.org_name AS org_name,
    count(DISTINCT p.id) AS reports,
    ifnull(sum(r.count), 0) AS messages,
    ifnull(sum(CASE WHEN r.disposition = 'none' THEN r.count END), 0) AS "none",
    ifnull(sum(CASE WHEN r.disposition = 'quarantine' THEN r.count END), 0) AS quarantine,
    ifnull(sum(CASE WHEN r.disposition = 'reject' THEN r.count END), 0) AS reject,
    ifnull(sum(CASE WHEN r.disposition = 'pass' THEN r.count END), 0) AS pass,
    ifnull(sum(CASE WHEN r.dkim = 'pass' OR r.spf = 'pass' THEN r.count END), 0) AS dmarc_pass
FROM report p LEFT JOIN record r ON r.report = p.id
GROUP BY p.org_name;

CREATE VIEW v_daily AS
SELECT day, domain,
    sum(messages) AS messages,
    sum(CASE WHEN dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END) AS dmarc_pass,
    sum(CASE WHEN disposition = 'quarantine' THEN messages ELSE 0 END) AS quarantine,
    sum(CASE WHEN disposition = 'reject' THEN messages ELSE 0 END) AS reject
FROM v_record GROUP BY day, domain;
