/*
 * store.c - opening a dmarcstat database, upgrading its schema, and the batch /
 * unit / payload transactions that make an import exactly-once and
 * all-or-nothing per input.
 *
 * A batch is one write transaction (BEGIN IMMEDIATE, so two importers queue on
 * the busy timeout instead of failing with SQLITE_BUSY half-way) that commits
 * only between units, so a unit is in it whole or not at all; a payload that
 * fails is undone by deleting the rows above the ids marked when it began
 * (dm_store_payload_begin).  Committing per unit would cost an fsync-free but
 * still expensive WAL commit per mail; committing per run would hold the lock
 * for the whole run and lose everything on a crash.  A batch commits after
 * BATCH_MS or BATCH_UNITS, whichever first.
 *
 * The records themselves are written by sink.c, quarantine entries by
 * quarantine.c.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "store_test.h"

/*
 * A batch commits once it is this old (ms) or holds this many units.  A second
 * importer waits at most this long for its turn (readers never wait: WAL), and
 * a crash undoes at most this much work, redone by the next run.  Each commit
 * writes every page the batch changed, the random leaves of the source_ip and
 * header_from indexes included, so 200 ms batches cost 12% of a 10,000-file
 * import that 1 s batches save (bench/README.md).
 */
#define BATCH_MS 1000
#define BATCH_UNITS 5000

/*
 * The records of report ?1, as a condition on record: its ids lie between its
 * first_record and last_record (schema.sql; there is no index on
 * record(report)), and record.report is checked all the same.  OF_REPORT_R
 * follows the alias "r.".
 */
#define OF_REPORT_BOUNDS                                                       \
	"BETWEEN (SELECT first_record FROM report WHERE id = ?1) AND (SELECT " \
	"last_record FROM report WHERE id = ?1)"
#define OF_REPORT "id " OF_REPORT_BOUNDS " AND report = ?1"
#define OF_REPORT_R "id " OF_REPORT_BOUNDS " AND r.report = ?1"

/* Writers wait this long (ms) for another process's batch before giving up. */
#define BUSY_TIMEOUT_MS 60000

/* INT64_MAX, where sums of counts stop (core/limits.h, dm_count_add). */
#define SUM_MAX "9223372036854775807"
#define ROLLUP_SLOTS DM_SQL_INT(DM_ROLLUP_SLOTS)

/*
 * The failing evidence per month and ISO week (schema.sql): its key columns,
 * a day's bucket, the rows it holds, and a deleted report's keys (ids of its
 * rollup_source rows in mine) as rollup_rebuild.sql groups them.
 */
#define EVIDENCE                                                               \
	"org_name, domain, p, adkim, aspf, testing, source_ip, header_from, "  \
	"envelope_from, envelope_to, disposition, dkim, spf, dkim_auth, "      \
	"spf_auth, reasons"
#define DAY_SECS DM_SQL_INT(DM_DAY_SECONDS)
#define MONTH_OF_DAY                                                           \
	"CAST(strftime('%s', day, 'unixepoch', 'start of month') AS INTEGER)"
#define WEEK_OF_DAY "day - ((day / " DAY_SECS " + 3) % 7) * " DAY_SECS
#define FAILING_ROW                                                            \
	"messages > 0 AND ((dkim <> 'pass' AND spf <> 'pass') OR "             \
	"disposition IN ('quarantine', 'reject'))"
/* "mine(id)": the ids of report ?1's rollup_source rows (record * slots +
 * the day's position), for WITH RECURSIVE. */
#define REPORT_ROWS                                                            \
	"seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n "         \
	"< " ROLLUP_SLOTS " - 1), mine(id) AS (SELECT r.id * " ROLLUP_SLOTS    \
	" + s.n FROM record r, seq s WHERE r." OF_REPORT_R ")"
#define REPORT_KEYS(bucket)                                                    \
	"WITH RECURSIVE " REPORT_ROWS ", k AS (SELECT DISTINCT " bucket        \
	" AS start, " EVIDENCE " FROM rollup_source WHERE id IN mine AND "     \
	"day > 0 AND " FAILING_ROW ") "
#define ROLLUP_UPSERT(table)                                                   \
	"INSERT INTO " table " (start, " EVIDENCE ", messages, first_day, "    \
	"last_day) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "     \
	"?12, "                                                                \
	"?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) ON CONFLICT "                 \
	"(start, " EVIDENCE ") DO UPDATE SET messages = min(messages + "       \
	"excluded.messages, " SUM_MAX                                          \
	"), first_day = min(first_day, excluded.first_day), last_day = "       \
	"max(last_day, excluded.last_day)"
/* The report's keys taken out, then summed again from the other reports'
 * rows of their buckets (a bucket is at most 31 days long). */
#define ROLLUP_DEL(table, bucket)                                              \
	REPORT_KEYS(bucket)                                                    \
	"DELETE FROM " table " WHERE (start, " EVIDENCE ")"                    \
	" IN (SELECT * FROM k)"
#define ROLLUP_REDO(table, bucket)                                             \
	REPORT_KEYS(bucket)                                                    \
	"INSERT INTO " table " SELECT " bucket ", " EVIDENCE                   \
	", sum(messages), min(day), max(day) FROM rollup_source WHERE day >= " \
	"(SELECT min(start) FROM k) AND day < (SELECT max(start) FROM k) + "   \
	"31 * " DAY_SECS " AND " FAILING_ROW                                   \
	" AND id NOT IN mine AND (" bucket ", " EVIDENCE                       \
	") IN (SELECT * FROM k) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "      \
	"11, 12, 13, 14, 15, 16, 17"

/*
 * rollup_daily per month (schema.sql): a row's sums added, its last day and
 * policy kept when it is the latest (a later report of the same day
 * overwrites the day's policy in rollup_daily too), its last day with
 * messages the later one; and a deleted report's months of its reporter and
 * policy domain, which are summed again from rollup_daily's rows left.
 */
/* clang-format off */
#define DMONTH_COLS                                                            \
	"INSERT INTO rollup_daily_month (start, org_name, domain, "            \
	"header_from, p, sp, pct, messages, dmarc_pass, dkim_aligned, "        \
	"spf_aligned, quarantined, rejected, blocked_pass, last_day, "         \
	"mail_day) "
#define DMONTH_LATER(c)                                                        \
	c " = CASE WHEN excluded.last_day >= last_day THEN excluded." c        \
	" ELSE " c " END, "
#define DMONTH_ADD(c) c " = min(" c " + excluded." c ", " SUM_MAX "), "
#define DMONTH_UPSERT                                                          \
	" ON CONFLICT (start, org_name, domain, header_from) DO UPDATE SET "   \
	DMONTH_LATER("p") DMONTH_LATER("sp") DMONTH_LATER("pct")               \
	DMONTH_ADD("messages") DMONTH_ADD("dmarc_pass")                        \
	DMONTH_ADD("dkim_aligned") DMONTH_ADD("spf_aligned")                   \
	DMONTH_ADD("quarantined") DMONTH_ADD("rejected")                       \
	DMONTH_ADD("blocked_pass")                                             \
	"last_day = max(last_day, excluded.last_day), "                        \
	"mail_day = max(ifnull(mail_day, excluded.mail_day), "                 \
	"ifnull(excluded.mail_day, mail_day))"
#define MONTH_OF(c)                                                            \
	"CAST(strftime('%s', " c ", 'unixepoch', 'start of month') AS INTEGER)"
/* "b(o, d, m0, m1)": report ?1's reporter, policy domain, first and last
 * month. */
#define REPORT_MONTHS                                                          \
	"WITH b(o, d, m0, m1) AS (SELECT org_name, domain, " MONTH_OF("day0")  \
	", " MONTH_OF("day0 + (ndays - 1) * " DAY_SECS) " FROM rollup_report " \
	"WHERE report = ?1) "
#define IN_REPORT_MONTHS(day)                                                  \
	"org_name = (SELECT o FROM b) AND domain = (SELECT d FROM b) AND " day \
	" >= (SELECT m0 FROM b) AND "
#define DMONTH_DEL                                                             \
	REPORT_MONTHS "DELETE FROM rollup_daily_month WHERE "                  \
	IN_REPORT_MONTHS("start") "start <= (SELECT m1 FROM b)"
#define DMONTH_REDO                                                            \
	REPORT_MONTHS DMONTH_COLS "SELECT " MONTH_OF("day") ", org_name, "     \
	"domain, header_from, p, sp, pct, messages, dmarc_pass, "              \
	"dkim_aligned, spf_aligned, quarantined, rejected, blocked_pass, "     \
	"day, CASE WHEN messages > 0 THEN day END FROM rollup_daily WHERE "    \
	IN_REPORT_MONTHS("day") "day < (SELECT m1 FROM b) + 31 * " DAY_SECS    \
	" AND " MONTH_OF("day") " <= (SELECT m1 FROM b)" DMONTH_UPSERT
/* clang-format on */

static const char *const stmt_sql[DM_ST_COUNT] = {
    [DM_ST_INPUT_SEEN] =
        "SELECT outcome IN ('quarantined', 'partial') FROM input WHERE "
        "status = 'done' AND (sha256 = ?1 OR (?1 IS NULL AND identity = ?2)) "
        "LIMIT 1",
    [DM_ST_INPUT_INSERT] =
        "INSERT INTO input (sha256, identity, path, size, message_id, "
        "date, \"from\", subject, first_seen, status) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending') "
        "ON CONFLICT DO NOTHING",
    [DM_ST_INPUT_FIND] = "SELECT id FROM input WHERE sha256 = ?1",
    /* An identity now names other content: the old input lets it go. */
    [DM_ST_INPUT_UNNAME] = "UPDATE input SET identity = NULL WHERE "
                           "identity = ?1 AND sha256 <> ?2",
    [DM_ST_INPUT_MOVED] = "UPDATE input SET path = ?2 WHERE path = ?1",
    [DM_ST_INPUT_PENDING] = "UPDATE input SET status = 'pending' WHERE id = ?1",
    [DM_ST_INPUT_DONE] =
        "UPDATE input SET status = ?3, outcome = ?2 WHERE id = ?1",
    [DM_ST_REPORT_INSERT] =
        "INSERT INTO report (input, member, org_name, email, "
        "extra_contact_info, "
        "report_id, \"begin\", \"end\", generator, version, schema, errors, "
        "domain, "
        "adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, "
        "extensions, fixups, "
        "sha256, stored_at, anchor) VALUES (?1, ?2, ?3, ?4, "
        "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
        "?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27) "
        "ON CONFLICT DO NOTHING",
    [DM_ST_REPORT_END] =
        "UPDATE report SET record_count = ?2, message_count = ?3, "
        "fixups = ?4, extensions = ?5, first_record = ?6, last_record = ?7 "
        "WHERE id = ?1",
    [DM_ST_REPORT_SAME] =
        "SELECT record_count, message_count, id FROM report WHERE "
        "ifnull(org_name, '') = ifnull(?1, '') AND "
        "ifnull(report_id, '') = ifnull(?2, '') AND "
        "ifnull(domain, '') = ifnull(?3, '') AND "
        "ifnull(\"begin\", -1) = ifnull(?4, -1) AND "
        "ifnull(\"end\", -1) = ifnull(?5, -1) AND "
        "ifnull(anchor, '') = ifnull(?6, '')",
    [DM_ST_ROLLUP_SOURCE] =
        "INSERT INTO rollup_source (day, org_name, domain, p, adkim, aspf, "
        "testing, source_ip, header_from, envelope_from, envelope_to, "
        "disposition, dkim, spf, dkim_auth, spf_auth, reasons, messages, "
        "record, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
        "?19 * " DM_SQL_INT(DM_ROLLUP_SLOTS) " + ?20)",
    [DM_ST_ROLLUP_REPORT] =
        "INSERT INTO rollup_report (report, org_name, domain, day0, ndays, "
        "messages) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /*
     * Additive, so that a report's sums may arrive in parts (rollup.c).  An
     * integer sum that overflows becomes a REAL in SQLite; min() makes it the
     * largest integer instead, as dm_count_add does in C.
     */
    [DM_ST_ROLLUP_DAILY] =
        "INSERT INTO rollup_daily (day, org_name, domain, header_from, p, sp, "
        "pct, messages, dmarc_pass, dkim_aligned, spf_aligned, quarantined, "
        "rejected, blocked_pass) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14) ON CONFLICT (day, org_name, domain, "
        "header_from) DO UPDATE SET "
        "p = excluded.p, sp = excluded.sp, pct = excluded.pct, "
        "messages = min(messages + excluded.messages, " SUM_MAX "), "
        "dmarc_pass = min(dmarc_pass + excluded.dmarc_pass, " SUM_MAX "), "
        "dkim_aligned = min(dkim_aligned + excluded.dkim_aligned, " SUM_MAX
        "), "
        "spf_aligned = min(spf_aligned + excluded.spf_aligned, " SUM_MAX "), "
        "quarantined = min(quarantined + excluded.quarantined, " SUM_MAX "), "
        "rejected = min(rejected + excluded.rejected, " SUM_MAX "), "
        "blocked_pass = min(blocked_pass + excluded.blocked_pass, " SUM_MAX ")",
    [DM_ST_ROLLUP_MONTH] = ROLLUP_UPSERT("rollup_failing_month"),
    [DM_ST_ROLLUP_WEEK] = ROLLUP_UPSERT("rollup_failing_week"),
    [DM_ST_ROLLUP_DMONTH] = DMONTH_COLS
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
    "?15, ?16)" DMONTH_UPSERT,
    [DM_ST_RECORD] =
        "INSERT INTO record (report, source_ip, count, disposition, dkim, spf, "
        "header_from, envelope_from, envelope_to, extensions, dkim_results, "
        "spf_results) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "?12)",
    [DM_ST_REASON] =
        "INSERT INTO reason (record, type, comment) VALUES (?1, ?2, ?3)",
    [DM_ST_MAX_IDS] = "SELECT (SELECT ifnull(max(id), 0) FROM report), "
                      "(SELECT ifnull(max(id), 0) FROM record)",
    [DM_ST_UNDO_SOURCE] = "DELETE FROM rollup_source WHERE id >= "
                          "(?1 + 1) * " DM_SQL_INT(DM_ROLLUP_SLOTS),
    /* A record's reasons and results first: foreign keys are not enforced
     * (configure()), so ON DELETE CASCADE does not act. */
    [DM_ST_UNDO_REASON] = "DELETE FROM reason WHERE record > ?1",
    [DM_ST_UNDO_RECORD] = "DELETE FROM record WHERE id > ?1",
    [DM_ST_UNDO_ROLLUP] = "DELETE FROM rollup_report WHERE report > ?1",
    [DM_ST_UNDO_REPORT] = "DELETE FROM report WHERE id > ?1",
    [DM_ST_Q_FIND] =
        "SELECT id FROM quarantine WHERE sha256 IS ?1 AND member IS ?2 AND "
        "(?1 IS NOT NULL OR path IS ?3) AND resolved_at IS NULL "
        "ORDER BY id LIMIT 1",
    [DM_ST_Q_RETRY] =
        "UPDATE quarantine SET attempts = attempts + 1, last_tried = ?2, "
        "reason = ?3, message = ?4, conflict_report = ?5 WHERE id = ?1",
    [DM_ST_Q_INSERT] =
        "INSERT INTO quarantine (path, member, reason, message, bytes, size, "
        "truncated, sha256, first_seen, last_tried, attempts, "
        "conflict_report) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1, "
        "?10)",
    /* An entry may share the bytes of an earlier entry of the same input. */
    [DM_ST_Q_GET] =
        "SELECT b.bytes, b.size FROM quarantine q LEFT JOIN quarantine b ON "
        "b.id = coalesce(CASE WHEN q.bytes IS NOT NULL THEN q.id END, "
        "(SELECT x.id FROM quarantine x WHERE x.sha256 = q.sha256 AND "
        "x.bytes IS NOT NULL ORDER BY x.id LIMIT 1)) WHERE q.id = ?1",
    [DM_ST_Q_HAS_BYTES] = "SELECT 1 FROM quarantine WHERE sha256 = ?1 AND "
                          "bytes IS NOT NULL LIMIT 1",
    [DM_ST_Q_RESOLVE] = "UPDATE quarantine SET resolved_at = ?2 "
                        "WHERE id = ?1 AND resolved_at IS NULL",
    [DM_ST_Q_EXISTS] = "SELECT 1 FROM quarantine WHERE id = ?1",
    [DM_ST_HOST_PUT] =
        "INSERT OR REPLACE INTO host (ip, ptr, confirmed, base_domain, "
        "service, kind, asn, as_org, country, checked_at, error) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [DM_ST_HOST_SERVICE] =
        "UPDATE host SET service = ?2, kind = ?3 WHERE ip = ?1",
    [DM_ST_FOLDER_GET] =
        "SELECT uidvalidity, last_uid FROM imap_folder WHERE folder = ?1",
    /* A new UIDVALIDITY starts the folder again from last_uid ?3. */
    [DM_ST_FOLDER_SET] =
        "INSERT INTO imap_folder (folder, uidvalidity, last_uid) VALUES "
        "(?1, ?2, ?3) ON CONFLICT (folder) DO UPDATE SET last_uid = CASE "
        "WHEN uidvalidity = excluded.uidvalidity THEN max(last_uid, "
        "excluded.last_uid) ELSE excluded.last_uid END, "
        "uidvalidity = excluded.uidvalidity",
    [DM_ST_FOLDER_FORGET] = "DELETE FROM imap_message WHERE folder = ?1 AND "
                            "uidvalidity <> ?2",
    [DM_ST_FOLDER_MSG] = "INSERT OR REPLACE INTO imap_message (folder, "
                         "uidvalidity, uid, failed) VALUES (?1, ?2, ?3, ?4)",
    [DM_ST_FOLDER_PENDING] =
        "SELECT uid FROM imap_message WHERE folder = ?1 AND uidvalidity = ?2 "
        "AND failed = ?3 ORDER BY uid LIMIT ?4",
    [DM_ST_FOLDER_MOVED] = "DELETE FROM imap_message WHERE folder = ?1 AND "
                           "uidvalidity = ?2 AND uid = ?3",
    /*
     * A stored report taken out (a conflict resolved for the other copy):
     * its rollup_daily sums subtracted exactly as rollup.c added them (the
     * same days, the same even spread), then its rows deleted.  rollup_daily
     * rows left at zero that no other report of the reporter and policy
     * domain covers go too.
     */
    [DM_ST_DEL_DAILY] =
        "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq "
        "WHERE n < 30), g AS (SELECT ifnull(header_from, '') AS hf, "
        "sum(ifnull(count, 0)) AS m, sum(CASE WHEN dkim = 'pass' OR spf = "
        "'pass' THEN ifnull(count, 0) ELSE 0 END) AS pass, sum(CASE WHEN "
        "dkim = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS dk, sum(CASE "
        "WHEN spf = 'pass' THEN ifnull(count, 0) ELSE 0 END) AS sp, sum(CASE "
        "WHEN disposition = 'quarantine' THEN ifnull(count, 0) ELSE 0 END) AS "
        "q, sum(CASE WHEN disposition = 'reject' THEN ifnull(count, 0) ELSE 0 "
        "END) AS r, sum(CASE WHEN (dkim = 'pass' OR spf = 'pass') AND "
        "disposition IN ('quarantine', 'reject') THEN ifnull(count, 0) ELSE 0 "
        "END) AS bp FROM record WHERE " OF_REPORT " GROUP BY 1), d AS (SELECT "
        "rr.day0 + s.n * " DM_SQL_INT(
            DM_DAY_SECONDS) " AS day, rr.org_name AS org, rr.domain AS dom, "
                            "g.hf AS hf, g.m / rr.ndays + (s.n < g.m % "
                            "rr.ndays) AS m, "
                            "g.pass / rr.ndays + (s.n < g.pass % rr.ndays) AS "
                            "pass, "
                            "g.dk / rr.ndays + (s.n < g.dk % rr.ndays) AS dk, "
                            "g.sp / rr.ndays + (s.n < g.sp % rr.ndays) AS sp, "
                            "g.q / rr.ndays + (s.n < g.q % rr.ndays) AS q, "
                            "g.r / rr.ndays + (s.n < g.r % rr.ndays) AS r, "
                            "g.bp / rr.ndays + (s.n < g.bp % rr.ndays) AS bp "
                            "FROM "
                            "g JOIN "
                            "rollup_report rr ON rr.report = ?1 JOIN seq s ON "
                            "s.n < rr.ndays) "
                            "UPDATE rollup_daily SET messages = messages - "
                            "d.m, dmarc_pass = "
                            "dmarc_pass - d.pass, dkim_aligned = dkim_aligned "
                            "- d.dk, "
                            "spf_aligned = spf_aligned - d.sp, quarantined = "
                            "quarantined - d.q, "
                            "rejected = rejected - d.r, blocked_pass = "
                            "blocked_pass - d.bp FROM d WHERE "
                            "rollup_daily.day = d.day AND "
                            "rollup_daily.org_name = d.org AND "
                            "rollup_daily.domain = d.dom AND "
                            "rollup_daily.header_from = d.hf",
    [DM_ST_DEL_ZEROS] =
        "DELETE FROM rollup_daily WHERE messages = 0 AND (org_name, domain) "
        "IN (SELECT org_name, domain FROM rollup_report WHERE report = ?1) "
        "AND day >= (SELECT day0 FROM rollup_report WHERE report = ?1) AND "
        "day < (SELECT day0 + ndays * " DM_SQL_INT(
            DM_DAY_SECONDS) " FROM "
                            "rollup_report WHERE report = "
                            "?1) AND NOT EXISTS (SELECT 1 FROM rollup_report o "
                            "WHERE o.report <> "
                            "?1 AND o.org_name = rollup_daily.org_name AND "
                            "o.domain = "
                            "rollup_daily.domain AND o.day0 <= "
                            "rollup_daily.day AND "
                            "rollup_daily.day < o.day0 + o.ndays * " DM_SQL_INT(
                                DM_DAY_SECONDS) ")",
    [DM_ST_DEL_MONTH] = ROLLUP_DEL("rollup_failing_month", MONTH_OF_DAY),
    [DM_ST_REDO_MONTH] = ROLLUP_REDO("rollup_failing_month", MONTH_OF_DAY),
    [DM_ST_DEL_WEEK] = ROLLUP_DEL("rollup_failing_week", WEEK_OF_DAY),
    [DM_ST_REDO_WEEK] = ROLLUP_REDO("rollup_failing_week", WEEK_OF_DAY),
    [DM_ST_DEL_DMONTH] = DMONTH_DEL,
    [DM_ST_REDO_DMONTH] = DMONTH_REDO,
    [DM_ST_DEL_SOURCE] = "WITH RECURSIVE " REPORT_ROWS
                         " DELETE FROM rollup_source WHERE id IN mine",
    [DM_ST_DEL_ROLLUP] = "DELETE FROM rollup_report WHERE report = ?1",
    /* The records' reasons and results first (no ON DELETE CASCADE, see
     * configure()). */
    [DM_ST_DEL_REASONS] = "DELETE FROM reason WHERE record IN "
                          "(SELECT id FROM record WHERE " OF_REPORT ")",
    [DM_ST_DEL_RECORDS] = "DELETE FROM record WHERE " OF_REPORT,
    [DM_ST_DEL_REPORT] = "DELETE FROM report WHERE id = ?1",
    [DM_ST_Q_MOVED] = "UPDATE quarantine SET path = ?2 WHERE path = ?1 AND "
                      "resolved_at IS NULL",
    /* An address's sums of a report (seen.c), added as rollup_daily's.
     * The first day is left alone (SEEN_FIRST): naming it here would
     * rewrite its index entry at every update. */
    [DM_ST_SEEN_ADD] =
        "INSERT INTO source_seen (ip, first_day, messages, dmarc_pass) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (ip) DO UPDATE SET "
        "messages = min(messages + excluded.messages, " SUM_MAX "), "
        "dmarc_pass = min(dmarc_pass + excluded.dmarc_pass, " SUM_MAX ")",
    [DM_ST_SEEN_LAST] = "SELECT ifnull(max(first_day), 0) FROM source_seen",
    [DM_ST_SEEN_FIRST] = "UPDATE source_seen SET first_day = ?2 WHERE ip = "
                         "?1 AND first_day > ?2",
    /*
     * A report taken out: the source_seen rows of its addresses summed
     * again from their rollup_source rows left (the report's are deleted
     * by then), found through record(source_ip), row by row so that the
     * sums saturate as the store's.  Deletes are rare; an address's sums
     * cannot be taken apart (its first day).
     */
    [DM_ST_DEL_SEEN] = "DELETE FROM source_seen WHERE ip IN (SELECT "
                       "ifnull(source_ip, '') FROM record WHERE " OF_REPORT ")",
    [DM_ST_DEL_SEEN_ADD] =
        "INSERT INTO source_seen (ip, first_day, messages, dmarc_pass) "
        "SELECT i.ip, s.day, s.messages, CASE WHEN s.dkim = 'pass' OR "
        "s.spf = 'pass' THEN s.messages ELSE 0 END FROM (SELECT DISTINCT "
        "ifnull(source_ip, '') AS ip FROM record WHERE " OF_REPORT ") i "
        "CROSS JOIN record r0 ON r0.source_ip IS nullif(i.ip, '') CROSS "
        "JOIN rollup_source s ON s.id BETWEEN r0.id * " ROLLUP_SLOTS " AND "
        "(r0.id + 1) * " ROLLUP_SLOTS " - 1 WHERE true ON CONFLICT (ip) DO "
        "UPDATE SET first_day = min(first_day, excluded.first_day), "
        "messages = min(messages + excluded.messages, " SUM_MAX "), "
        "dmarc_pass = min(dmarc_pass + excluded.dmarc_pass, " SUM_MAX ")",
};

int
dm_store_schema_version(void)
{
	return dm_sql_version;
}

void
dm_store_versions(char *buf, size_t n)
{
	snprintf(buf, n, "sqlite/%s", sqlite3_libversion());
}

const char *
dm_store_migration_script(int version)
{
	size_t i;

	for (i = 0; i < dm_sql_n_migrations; i++) {
		if (dm_sql_migrations[i].version == version)
			return (const char *)dm_sql_migrations[i].sql;
	}
	return NULL;
}

int64_t
dm_store_now(void)
{
	return (int64_t)time(NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
dm_store_db_error(struct dm_store *s, const char *what, struct dm_error *err)
{
	struct dm_error e;

	if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_READONLY)
		dm_error_set(&e, DM_EDB, "database is read-only: %s", s->path);
	else
		dm_error_set(&e, DM_EDB, "database error: %s: %s", what,
		    sqlite3_errmsg(s->db));
	/*
	 * After SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM SQLite may roll the
	 * whole transaction back itself.  Then no savepoint is left to release:
	 * every later batch call fails, with this message, since it is the
	 * cause the user needs to see.
	 */
	if (s->in_batch && sqlite3_get_autocommit(s->db)) {
		s->in_batch = s->in_unit = s->in_payload = 0;
		s->report_id = 0;
		s->lost = 1;
		memcpy(s->lost_msg, e.msg, sizeof(s->lost_msg));
	}
	return dm_error_set(err, DM_EDB, "%s", e.msg);
}

static int
lost_error(struct dm_store *s, struct dm_error *err)
{
	return dm_error_set(err, DM_EDB, "%s", s->lost_msg);
}

int
dm_store_check_lost(struct dm_store *s, struct dm_error *err)
{
	return s->lost ? lost_error(s, err) : DM_OK;
}

sqlite3_stmt *
dm_store_stmt(
    struct dm_store *s, enum dm_stmt id, const char *what, struct dm_error *err)
{
	sqlite3_stmt *st = dm_store_stmt_bound(s, id, what, err);

	if (st != NULL)
		sqlite3_clear_bindings(st);
	return st;
}

sqlite3_stmt *
dm_store_stmt_bound(
    struct dm_store *s, enum dm_stmt id, const char *what, struct dm_error *err)
{
	sqlite3_stmt *st = s->st[id];

	if (st != NULL) {
		sqlite3_reset(st);
		return st;
	}
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
	        SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		dm_store_db_error(s, what, err);
		return NULL;
	}
	s->st[id] = st;
	return st;
}

int
dm_store_step_done(struct dm_store *s, sqlite3_stmt *st, const char *what,
    struct dm_error *err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		dm_store_db_error(s, what, err);
		sqlite3_reset(st);
		return DM_EDB;
	}
	sqlite3_reset(st);
	return DM_OK;
}

int
dm_store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

int
dm_store_bind_static(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

int
dm_store_bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i, v);
}

void
dm_store_counts_add(struct dm_store_counts *to, const struct dm_store_counts *c)
{
	to->reports += c->reports;
	to->records += c->records;
	to->messages += c->messages;
	to->duplicates += c->duplicates;
	to->quarantined += c->quarantined;
	to->conflicts += c->conflicts;
}

static int
exec(
    struct dm_store *s, const char *sql, const char *what, struct dm_error *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return dm_store_db_error(s, what, err);
	return DM_OK;
}

/* Reads an integer PRAGMA; the first read of the file, so it is where junk
 * shows. */
static int
pragma_int(struct dm_store *s, const char *sql, int *v, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return DM_OK;
fail:
	if (sqlite3_errcode(s->db) == SQLITE_NOTADB)
		return dm_error_set(err, DM_EDB, "not a dmarcstat database: %s",
		    sqlite3_errmsg(s->db));
	return dm_store_db_error(s, "reading the schema version", err);
}

/* Counts the tables of sqlite_master, or (ours = 1) those a dmarcstat
 * database of any version has. */
static int
table_count(struct dm_store *s, int ours, int *n, struct dm_error *err)
{
	static const char all[] = "SELECT count(*) FROM sqlite_master";
	static const char mine[] =
	    "SELECT count(*) FROM sqlite_master WHERE type IN ('table', "
	    "'view') AND name "
	    "IN ('input', 'report', 'record', 'reason', 'dkim_result', "
	    "'spf_result', 'quarantine')";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, ours ? mine : all, -1, &st, NULL) !=
	    SQLITE_OK)
		return dm_store_db_error(s, "reading the schema", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dm_store_db_error(s, "reading the schema", err);
	return DM_OK;
}

/*
 * A file without our application id: empty (a new database), or one written
 * before the id was set, which must then hold our tables.
 */
static int
check_unmarked(struct dm_store *s, int v, struct dm_error *err)
{
	int n = 0;

	if (v == 0 && table_count(s, 0, &n, err) != DM_OK)
		return DM_EDB;
	if (v == 0 && n > 0)
		return dm_error_set(err, DM_EDB,
		    "not a dmarcstat database: it has other tables and no "
		    "schema version");
	if (v > 0 && table_count(s, 1, &n, err) != DM_OK)
		return DM_EDB;
	if (v > 0 && n < 7)
		return dm_error_set(err, DM_EDB,
		    "not a dmarcstat database: schema version %d, but not "
		    "dmarcstat's tables (and no dmarcstat application id)",
		    v);
	return DM_OK;
}

/*
 * Refuses what we must not touch; the file is still unchanged when this fails
 * (nothing has been written, not even the switch to WAL).  *v is the schema
 * version, *app the application id.
 */
static int
check_schema(struct dm_store *s, int *v, int *app, struct dm_error *err)
{
	if (pragma_int(s, "PRAGMA application_id", app, err) != DM_OK ||
	    pragma_int(s, "PRAGMA user_version", v, err) != DM_OK)
		return DM_EDB;
	if (*app != 0 && *app != DM_SQL_APPLICATION_ID)
		return dm_error_set(err, DM_EDB,
		    "not a dmarcstat database: its application id is 0x%08x "
		    "(another program's)",
		    (unsigned)*app);
	if (*v < 0)
		return dm_error_set(err, DM_EDB,
		    "not a dmarcstat database: schema version %d", *v);
	if (*v > dm_store_schema_version())
		return dm_error_set(err, DM_EDB,
		    "database schema version %d is newer than this dmarcstat "
		    "supports (%d)",
		    *v, dm_store_schema_version());
	return *app == 0 ? check_unmarked(s, *v, err) : DM_OK;
}

/*
 * A new database: schema.sql, which sets the version, then the views.  Inside
 * the caller's transaction.
 */
static int
create_schema(struct dm_store *s, struct dm_error *err)
{
	if (exec(s, (const char *)dm_sql_schema, "creating the schema", err) !=
	    DM_OK)
		return DM_EDB;
	return exec(s, (const char *)dm_sql_views, "creating the views", err);
}

/*
 * An older database: the migrations after version from, with every view
 * dropped first (a migration may rebuild a table one names) and created again
 * from views.sql last; then the version.  Inside the caller's transaction.
 */
static int
upgrade_schema(struct dm_store *s, int from, struct dm_error *err)
{
	char what[64], sql[128];
	size_t i;

	if (exec(s, dm_sql_drop_views, "dropping the views", err) != DM_OK)
		return DM_EDB;
	for (i = 0; i < dm_sql_n_migrations; i++) {
		if (dm_sql_migrations[i].version <= from)
			continue;
		snprintf(what, sizeof(what), "migrating to schema version %d",
		    dm_sql_migrations[i].version);
		if (exec(s, (const char *)dm_sql_migrations[i].sql, what,
		        err) != DM_OK)
			return DM_EDB;
	}
	if (from < DM_SQL_ROLLUPS_REBUILT &&
	    exec(s, (const char *)dm_sql_rollup_rebuild, "rebuilding rollups",
	        err) != DM_OK)
		return DM_EDB;
	if (exec(s, (const char *)dm_sql_views, "creating the views", err) !=
	    DM_OK)
		return DM_EDB;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", dm_sql_version);
	return exec(s, sql, "setting the schema version", err);
}

/* Marks the database as dmarcstat's (new, or made before the mark existed). */
static int
mark_ours(struct dm_store *s, struct dm_error *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d",
	    DM_SQL_APPLICATION_ID);
	return exec(s, sql, "setting the application id", err);
}

/*
 * Brings the schema to our version, and marks it with our application id, in
 * one transaction.  BEGIN IMMEDIATE, and the version read again inside it,
 * because two importers may open a new database at the same moment: the second
 * waits, then finds the work done.
 */
static int
migrate(struct dm_store *s, struct dm_error *err)
{
	int v = 0, app = 0, rc;

	if (exec(s, "BEGIN IMMEDIATE", "starting the schema upgrade", err) !=
	    DM_OK)
		return DM_EDB;
	rc = check_schema(s, &v, &app, err);
	if (rc == DM_OK && v == 0)
		rc = create_schema(s, err);
	else if (rc == DM_OK && v < dm_sql_version)
		rc = upgrade_schema(s, v, err);
	if (rc == DM_OK && app == 0)
		rc = mark_ours(s, err);
	if (rc != DM_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return DM_EDB;
	}
	return exec(s, "COMMIT", "committing the schema upgrade", err);
}

/* check_schema in one read transaction: another importer may be creating the
 * schema. */
static int
check_snapshot(struct dm_store *s, int *v, int *app, struct dm_error *err)
{
	int rc;

	if (exec(s, "BEGIN", "reading the schema", err) != DM_OK)
		return DM_EDB;
	rc = check_schema(s, v, app, err);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/*
 * Makes sure the file exists with mode 0600 before SQLite opens it: SQLite
 * gives the -wal and -shm files the database file's permissions, and reports
 * hold mail senders' addresses and IPs.  A file without any write permission
 * bit is refused as read-only even for root, who could write it anyway: the
 * owner made it read-only on purpose.
 */
static int
prepare_file(const char *path, struct dm_error *err)
{
	struct stat sb;
	int fd;

	if (stat(path, &sb) == 0) {
		if ((sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0 ||
		    access(path, W_OK) != 0)
			return dm_error_set(
			    err, DM_EDB, "database is read-only: %s", path);
		return DM_OK;
	}
	if (errno != ENOENT)
		return dm_error_set(err, DM_EDB, "cannot open database %s: %s",
		    path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return dm_error_set(err, DM_EDB,
		    "cannot create database %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return DM_OK;
}

/*
 * SQLite's memory statistics, which nothing here reads, take a global mutex
 * around every allocation and free: several per statement.  They can only be
 * turned off before SQLite initialises, so the first open does it (a later
 * call fails harmlessly).
 */
static void
no_memstatus(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int
open_db(struct dm_store *s, int memory, struct dm_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	pthread_once(&once, no_memstatus);
	if (memory)
		flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY;
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
		if (s->db == NULL)
			return dm_error_set(
			    err, DM_ENOMEM, "opening database: out of memory");
		return dm_error_set(err, DM_EDB, "cannot open database %s: %s",
		    s->path, sqlite3_errmsg(s->db));
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	return DM_OK;
}

/*
 * WAL lets report runs read while an import writes; NORMAL is safe with WAL (no
 * corruption, at worst the last commits lost on power failure, which the next
 * run redoes).  Switching a new database to WAL needs an exclusive lock, and
 * SQLite does not call the busy handler for it, so when several importers start
 * on a new file at once, we wait here ourselves.  A 16 MiB page cache (default
 * 2 MiB) keeps the source_ip index's random inserts off the disk: 1M records
 * went from 52k to 88k records/s (bench/store), and more cache gained nothing.
 * A checkpoint every 4096 pages (16 MiB of WAL, default 4 MiB) copies each
 * page to the database file less often during a long import.  Foreign keys are
 * not enforced: each check looked the parent row up again for every record,
 * reason and result inserted, about 5% of an import's instructions, and the
 * store writes parents before children and deletes children itself (the
 * UNDO_ and DEL_ statements) where ON DELETE CASCADE used to.
 */
static int
configure(struct dm_store *s, struct dm_error *err)
{
	struct timespec pause = {0, 10 * 1000 * 1000};
	int64_t start = now_ms();
	int rc;

	while ((rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL,
	            NULL, NULL)) == SQLITE_BUSY &&
	       now_ms() - start < BUSY_TIMEOUT_MS)
		nanosleep(&pause, NULL);
	if (rc != SQLITE_OK)
		return dm_store_db_error(s, "switching to WAL mode", err);
	return exec(s,
	    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA "
	    "cache_size = -16384; PRAGMA wal_autocheckpoint = 4096",
	    "configuring the connection", err);
}

static int
open_steps(struct dm_store *s, struct dm_error *err)
{
	int memory = strcmp(s->path, ":memory:") == 0, v = 0, app = 0, rc;

	if (!memory && prepare_file(s->path, err) != DM_OK)
		return DM_EDB;
	if ((rc = open_db(s, memory, err)) != DM_OK ||
	    (rc = check_snapshot(s, &v, &app, err)) != DM_OK ||
	    (rc = configure(s, err)) != DM_OK)
		return rc;
	if (v < dm_store_schema_version() || app == 0)
		return migrate(s, err);
	return DM_OK;
}

int
dm_store_open(struct dm_store **out, const char *path, struct dm_error *err)
{
	struct dm_store *s;
	int rc;

	*out = NULL;
	if (path == NULL)
		return dm_error_set(err, DM_EINVAL, "no database path");
	s = dm_calloc(1, sizeof(*s));
	if (s == NULL || (s->path = dm_strdup(path)) == NULL) {
		dm_free(s);
		return dm_error_set(
		    err, DM_ENOMEM, "opening database: out of memory");
	}
	s->quarantine_cap = DM_MAX_QUARANTINE_BYTES;
	/* Encoded auth results of one record: bounded by the parser's caps. */
	dm_buf_init(&s->auth, (size_t)1 << 24);
	dm_buf_init(&s->results, (size_t)1 << 24);
	if ((rc = open_steps(s, err)) != DM_OK) {
		dm_store_close(s);
		return rc;
	}
	*out = s;
	return DM_OK;
}

int
dm_store_open_reader(
    const struct dm_store *of, struct dm_store **out, struct dm_error *err)
{
	struct dm_store *s;

	*out = NULL;
	if (strcmp(of->path, ":memory:") == 0)
		return dm_error_set(err, DM_EINVAL, "an in-memory database");
	s = dm_calloc(1, sizeof(*s));
	if (s == NULL || (s->path = dm_strdup(of->path)) == NULL) {
		dm_free(s);
		return dm_error_set(
		    err, DM_ENOMEM, "opening database: out of memory");
	}
	dm_buf_init(&s->auth, 0);
	dm_buf_init(&s->results, 0);
	if (sqlite3_open_v2(s->path, &s->db,
	        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		dm_error_set(err, DM_EDB, "cannot open database %s: %s",
		    s->path,
		    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		dm_store_close(s);
		return DM_EDB;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	*out = s;
	return DM_OK;
}

void
dm_store_set_limits(struct dm_store *s, const struct dm_limits *lim)
{
	s->quarantine_cap = lim->quarantine_bytes;
}

int
dm_store_batch_begin(struct dm_store *s, struct dm_error *err)
{
	if (s->in_batch)
		return DM_OK;
	if (exec(s, "BEGIN IMMEDIATE", "starting a transaction", err) != DM_OK)
		return DM_EDB;
	s->in_batch = 1;
	s->batch_start_ms = now_ms();
	s->batch_units = 0;
	return DM_OK;
}

static int
batch_commit(struct dm_store *s, struct dm_error *err)
{
	if (!s->in_batch)
		return DM_OK;
	if (dm_seen_flush(s, err) != DM_OK ||
	    exec(s, "COMMIT", "committing", err) != DM_OK)
		return DM_EDB;
	s->in_batch = 0;
	return DM_OK;
}

int
dm_store_batch_due(struct dm_store *s, struct dm_error *err)
{
	if (s->in_unit || !s->in_batch)
		return DM_OK;
	if (++s->batch_units >= BATCH_UNITS ||
	    now_ms() - s->batch_start_ms >= BATCH_MS)
		return batch_commit(s, err);
	return DM_OK;
}

/* Undoes and closes savepoint name (unit or payload). */
static int
savepoint_undo(struct dm_store *s, const char *name, struct dm_error *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "ROLLBACK TO %s; RELEASE %s", name, name);
	return exec(s, sql, "rolling back", err);
}

int
dm_store_unit_lookup(struct dm_store *s, const char *sha256,
    const char *identity, int *failed, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*failed = 0;
	st = dm_store_stmt(s, DM_ST_INPUT_SEEN, "looking up input", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, sha256);
	dm_store_bind_text(st, 2, identity);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dm_store_db_error(s, "looking up input", err);
		sqlite3_reset(st);
		return DM_EDB;
	}
	if (rc == SQLITE_ROW)
		*failed = sqlite3_column_int(st, 0) == 1;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? DM_DONE : DM_OK;
}

int
dm_store_unit_seen(struct dm_store *s, const char *sha256, const char *identity,
    struct dm_error *err)
{
	int failed;

	return dm_store_unit_lookup(s, sha256, identity, &failed, err);
}

int
dm_store_unit_moved(
    struct dm_store *s, const char *from, const char *to, struct dm_error *err)
{
	static const enum dm_stmt moves[] = {DM_ST_INPUT_MOVED, DM_ST_Q_MOVED};
	sqlite3_stmt *st;
	size_t i;

	if (s->lost)
		return lost_error(s, err);
	if (s->in_unit)
		return dm_error_set(err, DM_EINVAL, "a unit is open");
	if (dm_store_batch_begin(s, err) != DM_OK)
		return DM_EDB;
	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		st = dm_store_stmt(s, moves[i], "recording a move", err);
		if (st == NULL)
			return DM_EDB;
		dm_store_bind_text(st, 1, from);
		dm_store_bind_text(st, 2, to);
		if (dm_store_step_done(s, st, "recording a move", err) != DM_OK)
			return DM_EDB;
	}
	return DM_OK;
}

static int input_insert(
    struct dm_store *s, const struct dm_store_unit *u, struct dm_error *err);

/*
 * The unit's identity belongs to an input of other bytes (a Maildir message
 * name used again for another message): the identity goes to the new input,
 * the content hash deciding what was seen.
 */
static int
input_rename(
    struct dm_store *s, const struct dm_store_unit *u, struct dm_error *err)
{
	sqlite3_stmt *st;

	st = dm_store_stmt(s, DM_ST_INPUT_UNNAME, "updating input", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, u->identity);
	dm_store_bind_text(st, 2, u->sha256);
	if (dm_store_step_done(s, st, "updating input", err) != DM_OK)
		return DM_EDB;
	if (sqlite3_changes(s->db) == 0)
		return dm_error_set(err, DM_EDB,
		    "database error: input %s conflicts with no stored input",
		    u->sha256);
	return input_insert(s, u, err);
}

/* An input row left 'pending' (or met again on purpose) is reused and processed
 * again. */
static int
input_reuse(
    struct dm_store *s, const struct dm_store_unit *u, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = dm_store_stmt(s, DM_ST_INPUT_FIND, "looking up input", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, u->sha256);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		/* Not these bytes: the identity, taken by other content. */
		sqlite3_reset(st);
		return input_rename(s, u, err);
	}
	if (rc != SQLITE_ROW) {
		dm_store_db_error(s, "looking up input", err);
		sqlite3_reset(st);
		return DM_EDB;
	}
	s->input_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = dm_store_stmt(s, DM_ST_INPUT_PENDING, "updating input", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, s->input_id);
	return dm_store_step_done(s, st, "updating input", err);
}

static int
input_insert(
    struct dm_store *s, const struct dm_store_unit *u, struct dm_error *err)
{
	sqlite3_stmt *st;

	st = dm_store_stmt(s, DM_ST_INPUT_INSERT, "inserting input", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, u->sha256);
	dm_store_bind_text(st, 2, u->identity);
	dm_store_bind_text(st, 3, u->path);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)u->size);
	dm_store_bind_text(st, 5, u->message_id);
	dm_store_bind_text(st, 6, u->date);
	dm_store_bind_text(st, 7, u->from);
	dm_store_bind_text(st, 8, u->subject);
	sqlite3_bind_int64(st, 9, dm_store_now());
	if (dm_store_step_done(s, st, "inserting input", err) != DM_OK)
		return DM_EDB;
	if (sqlite3_changes(s->db) == 0)
		return input_reuse(s, u, err);
	s->input_id = sqlite3_last_insert_rowid(s->db);
	return DM_OK;
}

int
dm_store_unit_begin(
    struct dm_store *s, const struct dm_store_unit *u, struct dm_error *err)
{
	if (s->lost)
		return lost_error(s, err);
	if (s->in_unit)
		return dm_error_set(err, DM_EINVAL, "a unit is already open");
	if (u->sha256 == NULL)
		return dm_error_set(err, DM_EINVAL, "unit without a sha256");
	/*
	 * No savepoint of its own: a batch commits only between units, so a
	 * unit is in the database whole or not at all, and only a fatal error
	 * (which rolls the batch back) can leave one half-done.  A savepoint
	 * would copy every page the unit touches to its sub-journal.
	 */
	if (dm_store_batch_begin(s, err) != DM_OK)
		return DM_EDB;
	s->unit_sha256 = dm_strdup(u->sha256);
	if (s->unit_sha256 == NULL)
		return dm_error_set(
		    err, DM_ENOMEM, "starting a unit: out of memory");
	if (input_insert(s, u, err) != DM_OK) {
		dm_free(s->unit_sha256);
		s->unit_sha256 = NULL;
		return DM_EDB;
	}
	memset(&s->unit, 0, sizeof(s->unit));
	s->unit_again = 0;
	s->in_unit = 1;
	return DM_OK;
}

/* The last report and record ids, above which the payload's rows will be. */
static int
payload_mark(struct dm_store *s, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = dm_store_stmt(s, DM_ST_MAX_IDS, "starting a payload", err);
	if (st == NULL)
		return DM_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->payload_report0 = sqlite3_column_int64(st, 0);
		s->payload_record0 = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW
	           ? DM_OK
	           : dm_store_db_error(s, "starting a payload", err);
}

/*
 * A payload has no savepoint of its own: a savepoint copies every page the
 * payload first touches (a sixth of a small report's storing time).  Every
 * row a report adds lies above the ids marked here, and the rollups it cannot
 * undo that way are written only once the report is whole (rollup.c), so
 * deleting those rows undoes a failed payload.
 */
int
dm_store_payload_begin(
    struct dm_store *s, const char *member, struct dm_error *err)
{
	if (s->lost)
		return lost_error(s, err);
	if (!s->in_unit || s->in_payload)
		return dm_error_set(err, DM_EINVAL,
		    "payload outside a unit, or inside another");
	s->member = NULL;
	if (member != NULL && (s->member = dm_strdup(member)) == NULL)
		return dm_error_set(
		    err, DM_ENOMEM, "starting a payload: out of memory");
	if (payload_mark(s, err) != DM_OK) {
		dm_free(s->member);
		s->member = NULL;
		return DM_EDB;
	}
	memset(&s->payload, 0, sizeof(s->payload));
	s->report_id = 0;
	s->payload_sp = 0;
	s->conflict_report = 0;
	s->in_payload = 1;
	return DM_OK;
}

int
dm_store_payload_guard(struct dm_store *s, struct dm_error *err)
{
	if (s->payload_sp)
		return DM_OK;
	if (exec(s, "SAVEPOINT payload", "storing a report", err) != DM_OK)
		return DM_EDB;
	s->payload_sp = 1;
	return DM_OK;
}

static int
undo_step(
    struct dm_store *s, enum dm_stmt id, sqlite3_int64 v, struct dm_error *err)
{
	sqlite3_stmt *st = dm_store_stmt(s, id, "rolling back", err);

	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, v);
	return dm_store_step_done(s, st, "rolling back", err);
}

/* Removes every row of the open payload. */
static int
payload_undo(struct dm_store *s, struct dm_error *err)
{
	if (s->payload_sp && savepoint_undo(s, "payload", err) != DM_OK)
		return DM_EDB;
	if (undo_step(s, DM_ST_UNDO_SOURCE, s->payload_record0, err) != DM_OK ||
	    undo_step(s, DM_ST_UNDO_REASON, s->payload_record0, err) != DM_OK ||
	    undo_step(s, DM_ST_UNDO_RECORD, s->payload_record0, err) != DM_OK ||
	    undo_step(s, DM_ST_UNDO_ROLLUP, s->payload_report0, err) != DM_OK ||
	    undo_step(s, DM_ST_UNDO_REPORT, s->payload_report0, err) != DM_OK)
		return DM_EDB;
	dm_rollup_reset(s);
	return DM_OK;
}

int
dm_store_payload_end(struct dm_store *s, int ok, struct dm_error *err)
{
	int rc;

	if (s->lost)
		return lost_error(s, err);
	if (!s->in_payload)
		return dm_error_set(err, DM_EINVAL, "no payload open");
	if (!ok)
		rc = payload_undo(s, err);
	else if ((rc = dm_rollup_commit(s, err)) == DM_OK && s->payload_sp)
		rc = exec(s, "RELEASE payload", "keeping a payload", err);
	if (rc == DM_OK && ok) {
		dm_store_counts_add(&s->unit, &s->payload);
		dm_store_counts_add(&s->done, &s->payload);
	}
	memset(&s->payload, 0, sizeof(s->payload));
	dm_free(s->member);
	s->member = NULL;
	s->report_id = 0;
	s->payload_sp = 0;
	s->in_payload = 0;
	return rc;
}

/* What became of the unit, for input.outcome (see schema.sql). */
static const char *
outcome(const struct dm_store_counts *c)
{
	if (c->reports > 0)
		return c->quarantined > 0 ? "partial" : "stored";
	if (c->quarantined > 0)
		return "quarantined";
	return c->duplicates > 0 ? "duplicate" : "empty";
}

static int
input_done(struct dm_store *s, struct dm_error *err)
{
	sqlite3_stmt *st;

	st = dm_store_stmt(s, DM_ST_INPUT_DONE, "updating input", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, s->input_id);
	dm_store_bind_text(st, 2, outcome(&s->unit));
	dm_store_bind_text(st, 3, s->unit_again ? "pending" : "done");
	return dm_store_step_done(s, st, "updating input", err);
}

void
dm_store_unit_again(struct dm_store *s)
{
	s->unit_again = s->in_unit;
}

int
dm_store_unit_end(struct dm_store *s, struct dm_error *err)
{
	if (s->lost)
		return lost_error(s, err);
	if (!s->in_unit || s->in_payload)
		return dm_error_set(
		    err, DM_EINVAL, "no unit open, or a payload still open");
	if (input_done(s, err) != DM_OK)
		return DM_EDB;
	s->in_unit = 0;
	s->input_id = 0;
	dm_free(s->unit_sha256);
	s->unit_sha256 = NULL;
	s->batch_units++;
	if (s->batch_units >= BATCH_UNITS ||
	    now_ms() - s->batch_start_ms >= BATCH_MS)
		return batch_commit(s, err);
	return DM_OK;
}

int
dm_store_flush(struct dm_store *s, struct dm_error *err)
{
	if (s->lost)
		return lost_error(s, err);
	if (s->in_unit)
		return dm_error_set(
		    err, DM_EINVAL, "cannot commit inside a unit");
	return batch_commit(s, err);
}

int64_t
dm_store_last_conflict(const struct dm_store *s)
{
	return s->conflict_report;
}

int
dm_store_report_delete(struct dm_store *s, int64_t id, struct dm_error *err)
{
	/* In this order: each step reads what the later ones delete. */
	static const enum dm_stmt steps[] = {DM_ST_DEL_DAILY, DM_ST_DEL_ZEROS,
	    DM_ST_DEL_DMONTH, DM_ST_REDO_DMONTH, DM_ST_DEL_MONTH,
	    DM_ST_REDO_MONTH, DM_ST_DEL_WEEK, DM_ST_REDO_WEEK, DM_ST_DEL_SOURCE,
	    DM_ST_DEL_SEEN, DM_ST_DEL_SEEN_ADD, DM_ST_DEL_ROLLUP,
	    DM_ST_DEL_REASONS, DM_ST_DEL_RECORDS, DM_ST_DEL_REPORT};
	sqlite3_stmt *st;
	size_t i;

	if (s->lost)
		return lost_error(s, err);
	if (s->in_unit)
		return dm_error_set(err, DM_EINVAL, "a unit is open");
	/* The batch's source_seen sums first: the report's addresses are
	 * summed again from the rows. */
	if (dm_store_batch_begin(s, err) != DM_OK ||
	    dm_seen_flush(s, err) != DM_OK)
		return DM_EDB;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((st = dm_store_stmt(
		         s, steps[i], "deleting a report", err)) == NULL)
			return DM_EDB;
		sqlite3_bind_int64(st, 1, id);
		if (dm_store_step_done(s, st, "deleting a report", err) !=
		    DM_OK)
			return DM_EDB;
		if (steps[i] == DM_ST_DEL_REPORT && sqlite3_changes(s->db) == 0)
			return dm_error_set(err, DM_EINVAL,
			    "no stored report %lld", (long long)id);
	}
	return DM_OK;
}

struct dm_store_counts
dm_store_counts(const struct dm_store *s)
{
	return s->done;
}

void
dm_store_close(struct dm_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < DM_ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close_v2(s->db);
	dm_free(s->unit_sha256);
	dm_free(s->member);
	dm_free(s->path);
	dm_buf_free(&s->auth);
	dm_buf_free(&s->results);
	dm_rollup_free(s);
	dm_free(s);
}

struct sqlite3 *
dm_store_sqlite(struct dm_store *s)
{
	return s->db;
}

int
dm_store_set_max_pages(struct dm_store *s, uint64_t pages, struct dm_error *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu",
	    (unsigned long long)pages);
	return exec(s, sql, "setting max_page_count", err);
}
