-- migrate_v9.sql - schema version 8 -> 9: rollup_daily counts the DMARC passes that were
-- quarantined or rejected (blocked_pass).
--
-- The charts draw four categories: DMARC pass; DMARC fail, not blocked; quarantined; rejected.
-- rollup_daily knew how many messages passed and how many were blocked, not how many of the
-- blocked ones had passed, so the charts called min(dmarc_pass, unblocked) a pass: when an ISP
-- blocked passing mail (local policy), as much failing, unblocked mail was drawn as a pass.
-- The column is filled here by the rule of rollup_rebuild.sql: per report and header_from,
-- spread over the report's days, the remainder one message each to the first days.

ALTER TABLE rollup_daily ADD COLUMN blocked_pass INTEGER NOT NULL DEFAULT 0;

WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < 30),
g AS (SELECT report, ifnull(header_from, '') AS header_from, sum(ifnull(count, 0)) AS bp
    FROM record
    WHERE (dkim = 'pass' OR spf = 'pass') AND disposition IN ('quarantine', 'reject')
    GROUP BY report, 2),
d AS (SELECT rr.day0 + s.n * 86400 AS day, rr.org_name AS org, rr.domain AS dom,
	g.header_from AS hf, sum(g.bp / rr.ndays + (s.n < g.bp % rr.ndays)) AS bp
    FROM g
    JOIN rollup_report rr ON rr.report = g.report
    JOIN seq s ON s.n < rr.ndays
    GROUP BY 1, 2, 3, 4)
UPDATE rollup_daily SET blocked_pass = min(d.bp, 9223372036854775807)
FROM d
WHERE rollup_daily.day = d.day AND rollup_daily.org_name = d.org
    AND rollup_daily.domain = d.dom AND rollup_daily.header_from = d.hf;
