-- views.sql - the views of a dmarcstat database, for people querying it with the sqlite3
-- shell (the README's "Views" section documents their columns).
--
-- The store creates them in every new database and, after any schema upgrade, drops and
-- creates them all again from this file (sql/schema.sql says why), so each view is spelt here
-- only.  Each CREATE VIEW is preceded by its DROP VIEW IF EXISTS, which the build reads to know
-- the views to drop before migrating; running this file on a database re-creates its views:
--   sqlite3 dmarcstat.db < views.sql
--
-- Every count of messages in the views sums record.count; a record whose count was invalid
-- (stored as NULL) adds nothing.

-- One row per record, with its report's org_name, domain, begin, end and day (date(begin),
-- UTC), messages (count, 0 when the count was invalid), and the raw auth results: dkim_raw /
-- spf_raw = 'pass' if any DKIM / SPF result of the record passes, else the first result given,
-- else 'none'.
DROP VIEW IF EXISTS v_record;
CREATE VIEW v_record AS
SELECT r.id AS id, r.report AS report, p.org_name AS org_name, p.domain AS domain,
    p."begin" AS "begin", p."end" AS "end", date(p."begin", 'unixepoch') AS day,
    r.source_ip AS source_ip, r.count AS count, ifnull(r.count, 0) AS messages,
    r.disposition AS disposition, r.dkim AS dkim, r.spf AS spf,
    r.header_from AS header_from, r.envelope_from AS envelope_from,
    r.envelope_to AS envelope_to,
    coalesce((SELECT 'pass' FROM dkim_result d WHERE d.record = r.id AND d.result = 'pass'),
	(SELECT d.result FROM dkim_result d WHERE d.record = r.id ORDER BY d.n LIMIT 1),
	'none') AS dkim_raw,
    coalesce((SELECT 'pass' FROM spf_result s WHERE s.record = r.id AND s.result = 'pass'),
	(SELECT s.result FROM spf_result s WHERE s.record = r.id ORDER BY s.n LIMIT 1),
	'none') AS spf_raw
FROM record r JOIN report p ON p.id = r.report;

-- Per source_ip: messages; spf_raw_pass / spf_raw_fail and dkim_raw_pass / dkim_raw_fail (raw
-- results: anything but 'pass' fails); spf_aligned_pass / spf_aligned_fail and
-- dkim_aligned_pass / dkim_aligned_fail (policy_evaluated: anything but 'pass', a missing value
-- too, fails); dmarc_pass (either aligned result passes); and messages per disposition: none,
-- quarantine, reject, pass.
DROP VIEW IF EXISTS v_ip_auth;
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

-- Per org_name: reports, messages, messages per disposition (none, quarantine, reject, pass)
-- and dmarc_pass.  A report's records are the ids from its first_record to its last_record
-- (schema.sql): record(report) has no index, and the unary + keeps SQLite from building one
-- for the query (an automatic index over every record) instead of reading the id range.
DROP VIEW IF EXISTS v_reporter_disposition;
CREATE VIEW v_reporter_disposition AS
SELECT p.org_name AS org_name,
    count(DISTINCT p.id) AS reports,
    ifnull(sum(r.count), 0) AS messages,
    ifnull(sum(CASE WHEN r.disposition = 'none' THEN r.count END), 0) AS "none",
    ifnull(sum(CASE WHEN r.disposition = 'quarantine' THEN r.count END), 0) AS quarantine,
    ifnull(sum(CASE WHEN r.disposition = 'reject' THEN r.count END), 0) AS reject,
    ifnull(sum(CASE WHEN r.disposition = 'pass' THEN r.count END), 0) AS pass,
    ifnull(sum(CASE WHEN r.dkim = 'pass' OR r.spf = 'pass' THEN r.count END), 0) AS dmarc_pass
FROM report p LEFT JOIN record r ON r.id BETWEEN p.first_record AND p.last_record
    AND +r.report = p.id
GROUP BY p.org_name;

-- Per day (of begin, UTC) and policy domain: messages, dmarc_pass, quarantine, reject.
DROP VIEW IF EXISTS v_daily;
CREATE VIEW v_daily AS
SELECT day, domain,
    sum(messages) AS messages,
    sum(CASE WHEN dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END) AS dmarc_pass,
    sum(CASE WHEN disposition = 'quarantine' THEN messages ELSE 0 END) AS quarantine,
    sum(CASE WHEN disposition = 'reject' THEN messages ELSE 0 END) AS reject
FROM v_record GROUP BY day, domain;

-- rollup_source (schema.sql) with its auth results and reasons readable: "domain selector
-- result; ..." instead of the RS/US encoding.
DROP VIEW IF EXISTS v_rollup_source;
CREATE VIEW v_rollup_source AS
SELECT record, date(day, 'unixepoch') AS day, org_name, domain, p, source_ip, header_from,
    envelope_from, envelope_to, disposition, dkim, spf,
    replace(replace(dkim_auth, char(31), ' '), char(30), '; ') AS dkim_auth,
    replace(replace(spf_auth, char(31), ' '), char(30), '; ') AS spf_auth,
    replace(replace(reasons, char(31), ' '), char(30), '; ') AS reasons, messages
FROM rollup_source;

-- Every source IP of the records with what `dmarcstat enrich` found for it (host, schema.sql;
-- NULL columns when it was never looked up): "which services sent for us?"
DROP VIEW IF EXISTS v_host;
CREATE VIEW v_host AS
SELECT r.source_ip AS ip, h.ptr, h.confirmed, h.base_domain, h.service, h.kind, h.asn,
    h.as_org, h.country, h.checked_at, h.error
FROM (SELECT DISTINCT source_ip FROM record WHERE source_ip IS NOT NULL) r
LEFT JOIN host h ON h.ip = r.source_ip;
