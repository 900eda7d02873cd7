/*
 * check_sql.c - the store: every column written by the sink, duplicates,
 * payload rollback, inputs seen and redone after a crash, quarantine, the open
 * errors, a full disk, the schema upgrade and the views.  Reports are built
 * here as struct dm_feedback / dm_record, the way the parser hands them over;
 * rows are read back with plain SQL.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "query.h"
#include "store.h"
#include "store_int.h"
#include "store_test.h"

#define SQL_DIR DM_TEST_DATA_DIR "/../../sql"

/* ---- the feed: two reports whose view totals are worked out by hand in
 * test_store_views ---- */

/* The last one as strangers write: markup, a byte that is not UTF-8, a control
 * character. */
static const char *const a_errors[] = {
    "bad thing", "say \"hi\"\\", "<b>\xff\x01"};

static const struct dm_dkim_result a1_dkim[] = {
    {"example.com", "s1", "pass", NULL}};
static const struct dm_spf_result a1_spf[] = {
    {"bounce.example.com", "mfrom", "pass", NULL}};
static const struct dm_reason a2_reasons[] = {
    {"forwarded", "list"}, {"local_policy", NULL}};
static const struct dm_dkim_result a2_dkim[] = {
    {"example.com", "s1", "fail", "body hash did not verify"},
    {"other.net", "s2", "pass", NULL}};
static const struct dm_spf_result a2_spf[] = {
    {"example.com", "helo", "softfail", NULL}};
static const struct dm_dkim_result b1_dkim[] = {
    {"example.org", "k", "pass", NULL}};
static const struct dm_spf_result b1_spf[] = {
    {"example.org", NULL, "fail", "not permitted"}};
static const struct dm_dkim_result b2_dkim[] = {
    {"x.example", "y", "fail", NULL}};
static const struct dm_spf_result b2_spf[] = {
    {"example.org", "mfrom", "fail", NULL}};

static const struct dm_record a_recs[] = {
    {.index = 1,
        .source_ip = "192.0.2.1",
        .count = 10,
        .disposition = "none",
        .dkim = "pass",
        .spf = "pass",
        .header_from = "example.com",
        .envelope_from = "bounce.example.com",
        .dkim_results = a1_dkim,
        .n_dkim = 1,
        .spf_results = a1_spf,
        .n_spf = 1},
    {.index = 2,
        .source_ip = "192.0.2.1",
        .count = 5,
        .disposition = "quarantine",
        .dkim = "fail",
        .spf = "fail",
        .reasons = a2_reasons,
        .n_reasons = 2,
        .header_from = "example.com",
        .envelope_to = "example.net",
        .dkim_results = a2_dkim,
        .n_dkim = 2,
        .spf_results = a2_spf,
        .n_spf = 1},
    {.index = 3,
        .source_ip = "2001:db8::1",
        .count = -1,
        .disposition = "reject",
        .dkim = "fail",
        .spf = "fail",
        .header_from = "example.com",
        .extensions = "<x/>"},
};

static const struct dm_record b_recs[] = {
    {.index = 1,
        .source_ip = "192.0.2.1",
        .count = 7,
        .disposition = "pass",
        .dkim = "pass",
        .spf = "fail",
        .header_from = "example.org",
        .dkim_results = b1_dkim,
        .n_dkim = 1,
        .spf_results = b1_spf,
        .n_spf = 1},
    {.index = 2,
        .source_ip = "198.51.100.7",
        .count = 3,
        .disposition = "reject",
        .dkim = "fail",
        .spf = "fail",
        .header_from = "example.org",
        .dkim_results = b2_dkim,
        .n_dkim = 1,
        .spf_results = b2_spf,
        .n_spf = 1},
};

/* 2023-11-15 00:00:00 UTC and the next day. */
#define DAY_A 1700006400
#define DAY_B (DAY_A + DM_DAY_SECONDS)

static struct dm_feedback
report_a(void)
{
	struct dm_feedback fb = {.schema = DM_SCHEMA_RFC7489,
	    .version = "1.0",
	    .org_name = "google.com",
	    .email = "noreply-dmarc-support@google.com",
	    .extra_contact_info = "https://support.google.com/a/answer/2466580",
	    .report_id = "r-1",
	    .begin = DAY_A,
	    .end = DAY_A + 86399,
	    .errors = a_errors,
	    .n_errors = 3,
	    .policy = {.domain = "example.com",
	        .p = "reject",
	        .sp = "quarantine",
	        .adkim = "r",
	        .aspf = "s",
	        .pct = 100,
	        .fo = "1"}};

	return fb;
}

static struct dm_feedback
report_b(void)
{
	struct dm_feedback fb = {.schema = DM_SCHEMA_RFC9990,
	    .version = "2.0",
	    .org_name = "Microsoft",
	    .report_id = "r-2",
	    .begin = DAY_B,
	    .end = DAY_B + 86399,
	    .generator = "gen/1",
	    .policy = {.domain = "example.org",
	        .p = "none",
	        .np = "reject",
	        .pct = -1,
	        .testing = "n",
	        .discovery_method = "treewalk"}};

	return fb;
}

/* Feeds fb and its records through the sink as the parser would; returns
 * begin()'s status. */
static int
feed(struct dm_store *s, struct dm_feedback fb, const struct dm_record *recs,
    size_t n, const char *extensions, int fixup_ms)
{
	struct dm_sink k = dm_store_sink(s);
	struct dm_error e;
	size_t i;
	int rc;

	dm_error_clear(&e);
	rc = k.begin(k.ctx, &fb, &e);
	ck_assert_msg(rc == DM_OK || rc == DM_DONE, "begin: %s", e.msg);
	/* Like the parser, count every record, even those of a duplicate. */
	for (i = 0; i < n; i++) {
		fb.n_records++;
		if (recs[i].count >= 0)
			fb.total_count += (uint64_t)recs[i].count;
		if (rc == DM_OK)
			ck_assert_msg(
			    k.record(k.ctx, &fb, &recs[i], &e) == DM_OK,
			    "record: %s", e.msg);
	}
	fb.extensions = extensions;
	fb.fixups[DM_FIXUP_TIMESTAMP_MS] = (uint32_t)fixup_ms;
	fb.fixups[DM_FIXUP_RESULT_CASE] = fixup_ms > 0;
	ck_assert_msg(k.end(k.ctx, &fb, &e) == DM_OK, "end: %s", e.msg);
	return rc;
}

static const struct dm_store_unit unit1 = {.path = "/in/a.eml",
    .identity = "maildir:1700000000.M1P2.host",
    .sha256 = "aa11",
    .message_id = "<m1@x>",
    .date = "Wed, 15 Nov 2023 10:00:00 +0000",
    .from = "noreply@google.com",
    .subject = "Report domain: example.com",
    .size = 1234};
static const struct dm_store_unit unit2 = {
    .path = "/in/b.xml", .sha256 = "bb22", .size = 99};

static void
ok(int rc, const struct dm_error *e)
{
	ck_assert_msg(rc == DM_OK, "rc %d: %s", rc, e->msg);
}

/* Stores both reports: A in payload "a.zip>a.xml" of unit1, B in unit2. */
static void
feed_both(struct dm_store *s)
{
	struct dm_error e;

	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_payload_begin(s, "a.zip>a.xml", &e), &e);
	ck_assert_int_eq(
	    feed(s, report_a(), a_recs, 3, "<ext a=\"1\"/>", 2), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_unit_begin(s, &unit2, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_b(), b_recs, 2, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
}

/* ---- reading rows back ---- */

static sqlite3 *
db_of(struct dm_store *s)
{
	return (sqlite3 *)dm_store_sqlite(s);
}

/* Asserts that sql gives exactly one row whose columns, as text, are want
 * (NULL: SQL NULL). */
static void
row_eq(sqlite3 *db, const char *sql, const char *const *want, int n)
{
	sqlite3_stmt *st;
	const char *got;
	int i;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "no row: %s", sql);
	ck_assert_int_eq(sqlite3_column_count(st), n);
	for (i = 0; i < n; i++) {
		got = (const char *)sqlite3_column_text(st, i);
		if (want[i] == NULL)
			ck_assert_msg(got == NULL,
			    "%s: column %s: want NULL, got \"%s\"", sql,
			    sqlite3_column_name(st, i), got);
		else
			ck_assert_msg(got != NULL && strcmp(got, want[i]) == 0,
			    "%s: column %s: want \"%s\", got \"%s\"", sql,
			    sqlite3_column_name(st, i), want[i],
			    got ? got : "NULL");
	}
	ck_assert_msg(
	    sqlite3_step(st) == SQLITE_DONE, "more than one row: %s", sql);
	sqlite3_finalize(st);
}

#define ROW_EQ(db, sql, ...)                                                   \
	do {                                                                   \
		const char *const w_[] = {__VA_ARGS__};                        \
		row_eq(db, sql, w_, (int)(sizeof(w_) / sizeof(w_[0])));        \
	} while (0)

static long long
q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "no row: %s", sql);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
counts_eq(struct dm_store *s, uint64_t reports, uint64_t records,
    uint64_t messages, uint64_t duplicates, uint64_t quarantined)
{
	struct dm_store_counts c = dm_store_counts(s);

	ck_assert_uint_eq(c.reports, reports);
	ck_assert_uint_eq(c.records, records);
	ck_assert_uint_eq(c.messages, messages);
	ck_assert_uint_eq(c.duplicates, duplicates);
	ck_assert_uint_eq(c.quarantined, quarantined);
}

/* Rows of every data table, as one comparable string. */
static void
table_sizes(sqlite3 *db, char *out, size_t n)
{
	snprintf(out, n, "%lld %lld %lld %lld %lld %lld %lld",
	    q_int(db, "SELECT count(*) FROM input"),
	    q_int(db, "SELECT count(*) FROM report"),
	    q_int(db, "SELECT count(*) FROM record"),
	    q_int(db, "SELECT count(*) FROM reason"),
	    q_int(db, "SELECT count(*) FROM dkim_result"),
	    q_int(db, "SELECT count(*) FROM spf_result"),
	    q_int(db, "SELECT count(*) FROM quarantine"));
}

/* The rows of query, as text. */
static void
table_rows(sqlite3 *db, const char *query, struct dm_buf *out)
{
	sqlite3_stmt *st;
	int i;

	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(dm_buf_addf(out, "%s\n", query), DM_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(st); i++) {
			const char *v =
			    (const char *)sqlite3_column_text(st, i);

			ck_assert_int_eq(
			    dm_buf_addf(out, "%s|", v ? v : "NULL"), DM_OK);
		}
		ck_assert_int_eq(dm_buf_adds(out, "\n"), DM_OK);
	}
	sqlite3_finalize(st);
}

/* The schema version this build writes, as text. */
static const char *
latest(void)
{
	static char v[16];

	snprintf(v, sizeof(v), "%d", dm_store_schema_version());
	return v;
}

static struct dm_store *
open_memory(void)
{
	struct dm_store *s;
	struct dm_error e;

	ok(dm_store_open(&s, ":memory:", &e), &e);
	return s;
}

/* ---- temporary files for the tests that need a real database file ---- */

static char tmpdir[64];

static void
tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/check_sql.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	char p[512];
	struct dirent *d;
	DIR *dir = opendir(tmpdir);

	while (dir != NULL && (d = readdir(dir)) != NULL) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, d->d_name);
		if (d->d_name[0] != '.')
			unlink(p);
	}
	if (dir != NULL)
		closedir(dir);
	rmdir(tmpdir);
}

static const char *
tmp_path(const char *name)
{
	static char p[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

/* The file's bytes (caller frees), to show an open that failed left it
 * unchanged. */
static char *
slurp(const char *path, size_t *n)
{
	struct stat sb;
	char *b;
	FILE *f = fopen(path, "rb");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fstat(fileno(f), &sb), 0);
	b = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(b);
	*n = fread(b, 1, (size_t)sb.st_size, f);
	ck_assert_uint_eq(*n, (size_t)sb.st_size);
	fclose(f);
	return b;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* Opening path must fail with DM_EDB and msg, leaving the file's bytes as they
 * were. */
static void
open_fails(const char *path, const char *msg)
{
	struct dm_store *s = (struct dm_store *)&s;
	struct dm_error e;
	size_t n0, n1;
	char *before = slurp(path, &n0), *after;

	dm_error_clear(&e);
	ck_assert_int_eq(dm_store_open(&s, path, &e), DM_EDB);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(e.msg, msg);
	after = slurp(path, &n1);
	ck_assert_uint_eq(n0, n1);
	ck_assert_int_eq(memcmp(before, after, n0), 0);
	free(before);
	free(after);
}

/* ---- tc_sink ---- */

START_TEST(test_store_feed_stores_every_column)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	time_t t0 = time(NULL);

	feed_both(s);
	counts_eq(s, 2, 5, 25, 0, 0);
	ROW_EQ(db,
	    "SELECT id, sha256, identity, path, size, message_id, date, "
	    "\"from\", subject, "
	    "status, outcome FROM input WHERE id = 1",
	    "1", "aa11", "maildir:1700000000.M1P2.host", "/in/a.eml", "1234",
	    "<m1@x>", "Wed, 15 Nov 2023 10:00:00 +0000", "noreply@google.com",
	    "Report domain: example.com", "done", "stored");
	ROW_EQ(db,
	    "SELECT id, sha256, identity, path, size, message_id, date, "
	    "\"from\", subject, "
	    "status, outcome FROM input WHERE id = 2",
	    "2", "bb22", NULL, "/in/b.xml", "99", NULL, NULL, NULL, NULL,
	    "done", "stored");
	ck_assert_int_ge(
	    q_int(db, "SELECT min(first_seen) FROM input"), (long long)t0);
	ck_assert_int_le(q_int(db, "SELECT max(first_seen) FROM input"),
	    (long long)time(NULL));
	ROW_EQ(db,
	    "SELECT id, input, member, org_name, email, extra_contact_info, "
	    "report_id, \"begin\", "
	    "\"end\", generator, version, schema, errors, domain, adkim, aspf, "
	    "p, sp, np, pct, fo, "
	    "testing, discovery_method, extensions, fixups, record_count, "
	    "message_count, sha256 "
	    "FROM report WHERE id = 1",
	    "1", "1", "a.zip>a.xml", "google.com",
	    "noreply-dmarc-support@google.com",
	    "https://support.google.com/a/answer/2466580", "r-1", "1700006400",
	    "1700092799", NULL, "1.0", "rfc7489",
	    "[\"bad thing\",\"say \\\"hi\\\"\\\\\","
	    "\"\\u003cb\\u003e\\ufffd\\u0001\"]",
	    "example.com", "r", "s", "reject", "quarantine", NULL, "100", "1",
	    NULL, NULL, "<ext a=\"1\"/>",
	    "{\"timestamp_ms\":2,\"result_case\":1}", "3", "15", NULL);
	/* errors is JSON that SQLite (and jq) read, whatever the report said.
	 */
	ROW_EQ(db,
	    "SELECT json_valid(errors), errors ->> '$[2]' FROM report "
	    "WHERE id = 1",
	    "1", "<b>\xef\xbf\xbd\x01");
	ROW_EQ(db,
	    "SELECT id, input, member, org_name, email, extra_contact_info, "
	    "report_id, \"begin\", "
	    "\"end\", generator, version, schema, errors, domain, adkim, aspf, "
	    "p, sp, np, pct, fo, "
	    "testing, discovery_method, extensions, fixups, record_count, "
	    "message_count, sha256 "
	    "FROM report WHERE id = 2",
	    "2", "2", NULL, "Microsoft", NULL, NULL, "r-2", "1700092800",
	    "1700179199", "gen/1", "2.0", "rfc9990", NULL, "example.org", NULL,
	    NULL, "none", NULL, "reject", NULL, NULL, "n", "treewalk", NULL,
	    NULL, "2", "10", NULL);
	ck_assert_int_ge(
	    q_int(db, "SELECT min(stored_at) FROM report"), (long long)t0);
	ck_assert_int_le(q_int(db, "SELECT max(stored_at) FROM report"),
	    (long long)time(NULL));
	ROW_EQ(db, "SELECT * FROM record WHERE id = 1", "1", "1", "192.0.2.1",
	    "10", "none", "pass", "pass", "example.com", "bounce.example.com",
	    NULL, NULL, "[[\"example.com\",\"s1\",\"pass\",null]]",
	    "[[\"bounce.example.com\",\"mfrom\",\"pass\",null]]");
	ROW_EQ(db, "SELECT * FROM record WHERE id = 2", "2", "1", "192.0.2.1",
	    "5", "quarantine", "fail", "fail", "example.com", NULL,
	    "example.net", NULL,
	    "[[\"example.com\",\"s1\",\"fail\",\"body hash did not "
	    "verify\"],[\"other.net\",\"s2\",\"pass\",null]]",
	    "[[\"example.com\",\"helo\",\"softfail\",null]]");
	ROW_EQ(db, "SELECT * FROM record WHERE id = 3", "3", "1", "2001:db8::1",
	    NULL, "reject", "fail", "fail", "example.com", NULL, NULL, "<x/>",
	    NULL, NULL);
	ROW_EQ(db, "SELECT * FROM record WHERE id = 4", "4", "2", "192.0.2.1",
	    "7", "pass", "pass", "fail", "example.org", NULL, NULL, NULL,
	    "[[\"example.org\",\"k\",\"pass\",null]]",
	    "[[\"example.org\",null,\"fail\",\"not permitted\"]]");
	ROW_EQ(db, "SELECT * FROM record WHERE id = 5", "5", "2",
	    "198.51.100.7", "3", "reject", "fail", "fail", "example.org", NULL,
	    NULL, NULL, "[[\"x.example\",\"y\",\"fail\",null]]",
	    "[[\"example.org\",\"mfrom\",\"fail\",null]]");
	ROW_EQ(db, "SELECT count(*) FROM reason", "2");
	ROW_EQ(db, "SELECT * FROM reason WHERE id = 1", "1", "2", "forwarded",
	    "list");
	ROW_EQ(db, "SELECT * FROM reason WHERE id = 2", "2", "2",
	    "local_policy", NULL);
	ROW_EQ(db, "SELECT count(*) FROM dkim_result", "5");
	/* (record, n): each record's results in document order, from 0 */
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE record = 1 AND n = 0", "1",
	    "0", "example.com", "s1", "pass", NULL);
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE record = 2 AND n = 0", "2",
	    "0", "example.com", "s1", "fail", "body hash did not verify");
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE record = 2 AND n = 1", "2",
	    "1", "other.net", "s2", "pass", NULL);
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE record = 4 AND n = 0", "4",
	    "0", "example.org", "k", "pass", NULL);
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE record = 5 AND n = 0", "5",
	    "0", "x.example", "y", "fail", NULL);
	ROW_EQ(db, "SELECT count(*) FROM spf_result", "4");
	ROW_EQ(db, "SELECT * FROM spf_result WHERE record = 1 AND n = 0", "1",
	    "0", "bounce.example.com", "mfrom", "pass", NULL);
	ROW_EQ(db, "SELECT * FROM spf_result WHERE record = 2 AND n = 0", "2",
	    "0", "example.com", "helo", "softfail", NULL);
	ROW_EQ(db, "SELECT * FROM spf_result WHERE record = 4 AND n = 0", "4",
	    "0", "example.org", NULL, "fail", "not permitted");
	ROW_EQ(db, "SELECT * FROM spf_result WHERE record = 5 AND n = 0", "5",
	    "0", "example.org", "mfrom", "fail", NULL);
	dm_store_close(s);
}
END_TEST

static int store_unit(struct dm_store *s, const struct dm_store_unit *u,
    struct dm_feedback fb, const struct dm_record *recs, size_t n,
    struct dm_error *e);

/*
 * The auth results packed into the record's row (schema version 10) read back
 * through the dkim_result and spf_result views byte for byte, whatever they
 * hold: quotes, backslashes, control characters, UTF-8, a missing field, many
 * results; an INSERT into a view appends to its record's array.
 */
START_TEST(test_store_packed_results_read_back)
{
	static const struct dm_dkim_result dk[] = {
	    {"q\"uote.example", "back\\slash", "pass", "tab\there\001end"},
	    {"d\xc3\xa9j\xc3\xa0.example", NULL, "fail", "line\xe2\x80\xa8sep"},
	    {"c.example", "s3", "temperror", "}]\"[{"}};
	static const struct dm_spf_result sp[] = {
	    {NULL, "mfrom", "none", NULL}};
	struct dm_record rec = {.index = 1,
	    .source_ip = "192.0.2.9",
	    .count = 1,
	    .disposition = "none",
	    .dkim = "pass",
	    .spf = "fail",
	    .header_from = "example.com",
	    .dkim_results = dk,
	    .n_dkim = 3,
	    .spf_results = sp,
	    .n_spf = 1};
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	struct dm_error e;

	ok(store_unit(s, &unit1, report_a(), &rec, 1, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, "SELECT count(*) FROM dkim_result", "3");
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE n = 0", "1", "0",
	    "q\"uote.example", "back\\slash", "pass", "tab\there\001end");
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE n = 1", "1", "1",
	    "d\xc3\xa9j\xc3\xa0.example", NULL, "fail", "line\xe2\x80\xa8sep");
	ROW_EQ(db, "SELECT * FROM dkim_result WHERE n = 2", "1", "2",
	    "c.example", "s3", "temperror", "}]\"[{");
	ROW_EQ(db, "SELECT * FROM spf_result", "1", "0", NULL, "mfrom", "none",
	    NULL);
	ROW_EQ(db,
	    "SELECT json_valid(dkim_results), json_valid(spf_results) FROM "
	    "record",
	    "1", "1");
	ck_assert_int_eq(sqlite3_exec(db,
	                     "INSERT INTO spf_result (record, n, domain, "
	                     "scope, result) VALUES (1, 7, 'x.example', "
	                     "'helo', 'pass')",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	ROW_EQ(db, "SELECT * FROM spf_result WHERE n = 1", "1", "1",
	    "x.example", "helo", "pass", NULL);
	ROW_EQ(db, "SELECT count(*) FROM spf_result", "2");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_views)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);

	feed_both(s);
	ROW_EQ(db,
	    "SELECT org_name, domain, \"begin\", \"end\", day, source_ip, "
	    "count, messages, "
	    "dkim_raw, spf_raw FROM v_record WHERE id = 2",
	    "google.com", "example.com", "1700006400", "1700092799",
	    "2023-11-15", "192.0.2.1", "5", "5", "pass", "softfail");
	ROW_EQ(db,
	    "SELECT count, messages, dkim_raw, spf_raw FROM v_record WHERE id "
	    "= 3",
	    NULL, "0", "none", "none");
	ROW_EQ(db, "SELECT day, dkim_raw, spf_raw FROM v_record WHERE id = 4",
	    "2023-11-16", "pass", "fail");
	/* 192.0.2.1: A1 10 (all pass, none), A2 5 (dkim raw pass by other.net,
	 * spf softfail, aligned fail, quarantine), B1 7 (dkim pass, spf fail,
	 * disposition pass). */
	ROW_EQ(db, "SELECT * FROM v_ip_auth WHERE source_ip = '192.0.2.1'",
	    "192.0.2.1", "22", "10", "12", "22", "0", "10", "12", "17", "5",
	    "17", "10", "5", "0", "7");
	ROW_EQ(db, "SELECT * FROM v_ip_auth WHERE source_ip = '2001:db8::1'",
	    "2001:db8::1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
	    "0", "0", "0", "0");
	ROW_EQ(db, "SELECT * FROM v_ip_auth WHERE source_ip = '198.51.100.7'",
	    "198.51.100.7", "3", "0", "3", "0", "3", "0", "3", "0", "3", "0",
	    "0", "0", "3", "0");
	ROW_EQ(db, "SELECT count(*) FROM v_ip_auth", "3");
	ROW_EQ(db,
	    "SELECT * FROM v_reporter_disposition WHERE org_name = "
	    "'google.com'",
	    "google.com", "1", "15", "10", "5", "0", "0", "10");
	ROW_EQ(db,
	    "SELECT * FROM v_reporter_disposition WHERE org_name = 'Microsoft'",
	    "Microsoft", "1", "10", "0", "0", "3", "7", "7");
	ROW_EQ(db, "SELECT * FROM v_daily WHERE day = '2023-11-15'",
	    "2023-11-15", "example.com", "15", "10", "5", "0");
	ROW_EQ(db, "SELECT * FROM v_daily WHERE day = '2023-11-16'",
	    "2023-11-16", "example.org", "10", "7", "0", "3");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_duplicate_is_counted_not_stored)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	struct dm_store_unit u = unit2;
	struct dm_error e;
	char before[128], after[128];

	feed_both(s);
	table_sizes(db, before, sizeof(before));
	u.sha256 = "cc33"; /* the same report, in another mail */
	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_a(), a_recs, 3, NULL, 0), DM_DONE);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	counts_eq(s, 2, 5, 25, 1, 0);
	table_sizes(db, after, sizeof(after));
	ck_assert_str_eq(before, "2 2 5 2 5 4 0");
	ck_assert_str_eq(after, "3 2 5 2 5 4 0");
	ROW_EQ(db, "SELECT status, outcome FROM input WHERE sha256 = 'cc33'",
	    "done", "duplicate");
	/* end() of the duplicate changed nothing in the stored report. */
	ROW_EQ(db,
	    "SELECT extensions, fixups, record_count FROM report WHERE id = 1",
	    "<ext a=\"1\"/>", "{\"timestamp_ms\":2,\"result_case\":1}", "3");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_payload_rollback_leaves_nothing)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	struct dm_sink k = dm_store_sink(s);
	struct dm_feedback fb = report_a();
	struct dm_error e;
	char sizes[128];

	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_payload_begin(s, "x.xml", &e), &e);
	ok(k.begin(k.ctx, &fb, &e), &e);
	ok(k.record(k.ctx, &fb, &a_recs[0], &e), &e);
	ok(k.record(k.ctx, &fb, &a_recs[1], &e), &e);
	/* the parse fails here: no end(), the payload is rolled back */
	ok(dm_store_payload_end(s, 0, &e), &e);
	counts_eq(s, 0, 0, 0, 0, 0);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	table_sizes(db, sizes, sizeof(sizes));
	ck_assert_str_eq(sizes, "1 0 0 0 0 0 0");
	ROW_EQ(db, "SELECT status, outcome FROM input", "done", "empty");
	counts_eq(s, 0, 0, 0, 0, 0);
	dm_store_close(s);
}
END_TEST

/* Every row of every table a report writes to, as text. */
static void
report_tables(sqlite3 *db, struct dm_buf *out)
{
	static const char *const q[] = {"SELECT * FROM report ORDER BY id",
	    "SELECT * FROM record ORDER BY id",
	    "SELECT * FROM reason ORDER BY id",
	    "SELECT * FROM dkim_result ORDER BY record, n",
	    "SELECT * FROM spf_result ORDER BY record, n",
	    "SELECT * FROM rollup_report ORDER BY report",
	    "SELECT * FROM rollup_daily ORDER BY day, org_name, domain, "
	    "header_from",
	    "SELECT * FROM rollup_source ORDER BY id",
	    "SELECT * FROM rollup_daily_month",
	    "SELECT * FROM rollup_failing_month",
	    "SELECT * FROM rollup_failing_week",
	    "SELECT * FROM source_seen ORDER BY ip"};
	size_t i;

	dm_buf_reset(out);
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		table_rows(db, q[i], out);
}

/*
 * A payload that fails after stored reports leaves every table as it was:
 * records with results and reasons, a report over several days, and more
 * header_from domains than the store keeps sums for in memory (so partial
 * rollup_daily sums, and failing keys per month and week, were written before
 * the failure); and one that fails
 * after its end() was called.
 */
START_TEST(test_store_failed_payload_undoes_everything)
{
	static char froms[2100][32];
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	struct dm_sink k = dm_store_sink(s);
	struct dm_feedback fb = report_a();
	struct dm_store_unit u = unit2;
	struct dm_buf before, after;
	struct dm_record r = a_recs[1];
	struct dm_error e;
	int i, end;

	feed_both(s);
	dm_buf_init(&before, 1 << 24);
	dm_buf_init(&after, 1 << 24);
	report_tables(db, &before);
	ck_assert_uint_gt(before.len, 500);
	fb.report_id = "r-undo";
	fb.begin = DAY_A + 60;
	fb.end = DAY_A + 3 * DM_DAY_SECONDS;
	for (end = 0; end <= 1; end++) {
		u.sha256 = end ? "ee55" : "dd44";
		ok(dm_store_unit_begin(s, &u, &e), &e);
		ok(dm_store_payload_begin(s, "bad.xml", &e), &e);
		ok(k.begin(k.ctx, &fb, &e), &e);
		for (i = 0; i < 2100; i++) {
			snprintf(froms[i], sizeof(froms[i]), "d%d.example", i);
			r.index = (uint64_t)i + 1;
			r.header_from = froms[i];
			ok(k.record(k.ctx, &fb, &r, &e), &e);
		}
		if (end)
			ok(k.end(k.ctx, &fb, &e), &e);
		ok(dm_store_payload_end(s, 0, &e), &e);
		ok(dm_store_unit_end(s, &e), &e);
		ok(dm_store_flush(s, &e), &e);
		report_tables(db, &after);
		ck_assert_str_eq(after.data, before.data);
	}
	counts_eq(s, 2, 5, 25, 0, 0);
	/* ... and a later report is stored and folded as usual. */
	u.sha256 = "ff66";
	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, fb, b_recs, 2, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db,
	    "SELECT count(*), sum(messages) FROM rollup_daily WHERE "
	    "header_from = 'example.org' AND org_name = 'google.com'",
	    "3", "10");
	dm_buf_free(&before);
	dm_buf_free(&after);
	dm_store_close(s);
}
END_TEST

/*
 * Two members of one zip reusing a report id with no date range (a broken
 * generator) are two reports; the same member seen again is a duplicate.
 */
START_TEST(test_store_incomplete_identity_is_anchored_to_its_input)
{
	struct dm_store *s = open_memory();
	struct dm_feedback fb = report_b();
	const char *members[] = {
	    "r.zip>one.xml", "r.zip>two.xml", "r.zip>one.xml"};
	struct dm_error e;
	int i, want[] = {DM_OK, DM_OK, DM_DONE};

	fb.begin = -1;
	fb.end = -1;
	ok(dm_store_unit_begin(s, &unit2, &e), &e);
	for (i = 0; i < 3; i++) {
		ok(dm_store_payload_begin(s, members[i], &e), &e);
		ck_assert_int_eq(feed(s, fb, b_recs, 1, NULL, 0), want[i]);
		ok(dm_store_payload_end(s, 1, &e), &e);
	}
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	counts_eq(s, 2, 2, 14, 1, 0);
	ROW_EQ(db_of(s), "SELECT group_concat(anchor, ' ') FROM report",
	    "bb22:r.zip>one.xml bb22:r.zip>two.xml");
	/* A complete identity has no anchor. */
	fb = report_b();
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, fb, b_recs, 1, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ck_assert_int_eq(q_int(db_of(s), "SELECT count(*) FROM report WHERE "
	                                 "anchor IS NULL"),
	    1);
	dm_store_close(s);
}
END_TEST

/* The same report sent again: identical is a plain duplicate, other content a
 * conflict (still not stored: the first copy is kept). */
START_TEST(test_store_duplicate_with_other_content_is_a_conflict)
{
	struct dm_store *s = open_memory();
	const struct dm_store_unit u3 = {.path = "/in/c.xml", .sha256 = "cc33"};
	const struct dm_store_unit *units[] = {&unit2, &u3, &unit1};
	size_t n_recs[] = {2, 2, 1};
	struct dm_error e;
	int i;

	for (i = 0; i < 3; i++) {
		ok(dm_store_unit_begin(s, units[i], &e), &e);
		ok(dm_store_payload_begin(s, NULL, &e), &e);
		ck_assert_int_eq(
		    feed(s, report_b(), b_recs, n_recs[i], NULL, 0),
		    i == 0 ? DM_OK : DM_DONE);
		ok(dm_store_payload_end(s, 1, &e), &e);
		/* The conflicting copy names the stored report, for its
		 * quarantine entry. */
		ck_assert_int_eq(dm_store_last_conflict(s), i == 2 ? 1 : 0);
		ok(dm_store_unit_end(s, &e), &e);
		ck_assert_uint_eq(
		    dm_store_counts(s).conflicts, (uint64_t)(i == 2));
	}
	ok(dm_store_flush(s, &e), &e);
	counts_eq(s, 1, 2, 10, 2, 0);
	ck_assert_int_eq(q_int(db_of(s), "SELECT record_count FROM report"), 2);
	dm_store_close(s);
}
END_TEST

/* Every row of the rollup tables, as one comparable string. */
static void
rollup_rows(sqlite3 *db, struct dm_buf *out)
{
	static const char *const tables[] = {
	    "SELECT * FROM rollup_source ORDER BY record, day",
	    "SELECT * FROM rollup_daily ORDER BY day, org_name, domain, "
	    "header_from",
	    "SELECT * FROM rollup_report ORDER BY report",
	    /* In key order: WITHOUT ROWID tables. */
	    "SELECT * FROM rollup_daily_month",
	    "SELECT * FROM rollup_failing_month",
	    "SELECT * FROM rollup_failing_week",
	    "SELECT * FROM source_seen ORDER BY ip"};
	size_t t;

	dm_buf_reset(out);
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		table_rows(db, tables[t], out);
}

/* rollup_rebuild.sql, run over the database as a user would. */
static void
rebuild_rollups(sqlite3 *db)
{
	FILE *f = fopen(SQL_DIR "/rollup_rebuild.sql", "r");
	struct dm_buf sql;
	char chunk[4096];
	size_t n;
	char *msg = NULL;

	ck_assert_ptr_nonnull(f);
	dm_buf_init(&sql, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ck_assert_int_eq(dm_buf_add(&sql, chunk, n), DM_OK);
	fclose(f);
	ck_assert_int_eq(dm_buf_add(&sql, "", 1), DM_OK);
	ck_assert_msg(sqlite3_exec(db, sql.data, NULL, NULL, &msg) == SQLITE_OK,
	    "rollup_rebuild.sql: %s", msg);
	dm_buf_free(&sql);
}

/* The rollups the store kept equal those rollup_rebuild.sql makes from the
 * records, after it has run (so it also leaves them as they were). */
static void
ck_rebuild_same(sqlite3 *db)
{
	struct dm_buf kept, rebuilt;

	dm_buf_init(&kept, 1 << 24);
	dm_buf_init(&rebuilt, 1 << 24);
	rollup_rows(db, &kept);
	rebuild_rollups(db);
	rollup_rows(db, &rebuilt);
	ck_assert_str_eq(kept.data, rebuilt.data);
	dm_buf_free(&kept);
	dm_buf_free(&rebuilt);
}

/* Report r-3: report B's records over three days and a bit (7 and 3 messages
 * spread), in unit d.xml. */
static void
feed_r3(struct dm_store *s)
{
	struct dm_feedback fb = report_b();
	struct dm_error e;

	fb.report_id = "r-3";
	fb.begin = DAY_A + 3600;
	fb.end = DAY_A + 3 * DM_DAY_SECONDS + 60;
	ok(dm_store_unit_begin(s,
	       &(struct dm_store_unit){.path = "/in/d.xml", .sha256 = "dd44"},
	       &e),
	    &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, fb, b_recs, 2, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
}

/*
 * The store folds reports into the rollups itself (sql/rollup.c);
 * rollup_rebuild.sql builds them from the stored reports.  Both must give the
 * same rows, days spread included.
 */
START_TEST(test_store_rollups_match_the_rebuild)
{
	struct dm_store *s = open_memory();
	struct dm_buf c_rows, sql_rows;
	struct dm_error e;
	sqlite3 *db;

	feed_both(s);
	/* A report over three days (and a bit): 7 and 3 messages spread. */
	feed_r3(s);
	ok(dm_store_flush(s, &e), &e);
	db = db_of(s);
	dm_buf_init(&c_rows, 1 << 20);
	dm_buf_init(&sql_rows, 1 << 20);
	rollup_rows(db, &c_rows);
	/* Its 7 messages from 192.0.2.1 over 4 days: 2, 2, 2, 1 (and the
	 * 7 of report B on its day). */
	ROW_EQ(db,
	    "SELECT group_concat((day - 1700006400) || ':' || messages, ' ') "
	    "FROM "
	    "(SELECT day, messages FROM rollup_source WHERE source_ip = "
	    "'192.0.2.1' AND org_name = 'Microsoft' ORDER BY day, record)",
	    "0:2 86400:7 86400:2 172800:2 259200:1");
	/* ... and in rollup_daily: report B's day has its 7 + 3 and r-3's 3 */
	ROW_EQ(db,
	    "SELECT group_concat((day - 1700006400) || ':' || messages, ' ') "
	    "FROM (SELECT day, messages FROM rollup_daily WHERE org_name = "
	    "'Microsoft' ORDER BY day)",
	    "0:3 86400:13 172800:2 259200:2");
	rebuild_rollups(db);
	rollup_rows(db, &sql_rows);
	ck_assert_uint_gt(c_rows.len, 300);
	ck_assert_str_eq(c_rows.data, sql_rows.data);
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
	dm_store_close(s);
}
END_TEST

/*
 * Reports whose dates cannot be trusted (no begin, a begin of 0, an end
 * before the begin) are filed under day 0, never on the day they were stored,
 * by the store and by rollup_rebuild.sql alike; dm_query_undated counts them
 * with the filter's reporter, and no period holds them.
 */
/* The ISP of an org_name, for the queries' reporter filter: itself. */
static const char *
test_isp_name(void *ctx, const char *org_name)
{
	(void)ctx;
	return org_name;
}

START_TEST(test_store_undated_reports_on_day_0)
{
	static const int64_t begins[3][2] = {
	    {-1, -1}, {0, 86399}, {DAY_A + 86400, DAY_A}};
	static const char *const ids[3] = {"u-1", "u-2", "u-3"};
	static const char *const shas[3] = {"uu00", "uu11", "uu22"};
	struct dm_query_filter f = {.from = DAY_A, .to = DAY_A + 86400 * 3};
	struct dm_store_unit u = {.path = "/in/u.xml", .sha256 = "uu00"};
	const char *db = tmp_path("undated.db");
	struct dm_buf c_rows, sql_rows;
	struct dm_feedback fb = report_a();
	struct dm_store *s;
	struct dm_query *q;
	struct dm_error e;
	int64_t n = -1;
	int i;

	ok(dm_store_open(&s, db, &e), &e);
	/* One input each: reports without a date range are told apart by
	 * their input (schema.sql, report_identity). */
	for (i = 0; i < 3; i++) {
		u.sha256 = shas[i];
		ok(dm_store_unit_begin(s, &u, &e), &e);
		ok(dm_store_payload_begin(s, NULL, &e), &e);
		fb.report_id = ids[i];
		fb.begin = begins[i][0];
		fb.end = begins[i][1];
		ck_assert_msg(feed(s, fb, a_recs, 2, NULL, 0) == DM_OK,
		    "report %d is not stored", i);
		ok(dm_store_payload_end(s, 1, &e), &e);
		ok(dm_store_unit_end(s, &e), &e);
	}
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT group_concat(day0 || '/' || ndays, ' ') FROM "
	    "rollup_report",
	    "0/1 0/1 0/1");
	ROW_EQ(db_of(s), "SELECT count(*) || ' ' || min(day) FROM rollup_daily",
	    "1 0");
	dm_buf_init(&c_rows, 1 << 20);
	dm_buf_init(&sql_rows, 1 << 20);
	rollup_rows(db_of(s), &c_rows);
	rebuild_rollups(db_of(s));
	rollup_rows(db_of(s), &sql_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
	dm_store_close(s);
	ok(dm_query_open(&q, db, &e), &e);
	ok(dm_query_set_isp_names(q, test_isp_name, NULL, &e), &e);
	ok(dm_query_undated(q, &f, &n, &e), &e);
	ck_assert_int_eq(n, 3);
	f.reporter = "Yahoo";
	ok(dm_query_undated(q, &f, &n, &e), &e);
	ck_assert_int_eq(n, 0);
	f.reporter = "google.com";
	ok(dm_query_undated(q, &f, &n, &e), &e);
	ck_assert_int_eq(n, 3);
	dm_query_close(q);
}
END_TEST

/* Sums one source's messages over the rollups, as report does. */
static int
sum_source(void *ctx, const struct dm_query_source *row, struct dm_error *err)
{
	int64_t *sum = ctx;

	(void)err;
	*sum = row->messages;
	return DM_OK;
}

/*
 * Counts near INT64_MAX (the parser refuses them, DM_MAX_RECORD_COUNT, but the
 * store must not depend on it): every sum saturates at INT64_MAX, in the
 * report's message_count, in the rollups folded in C and in SQL, and in the
 * report queries, instead of wrapping to a negative number or failing with
 * "integer overflow".
 */
START_TEST(test_store_sums_saturate)
{
	struct dm_record recs[2] = {a_recs[0], a_recs[0]};
	struct dm_query_filter f = {.from = DAY_A, .to = DAY_A + 86400};
	struct dm_feedback fb = report_a();
	const char *db = tmp_path("sums.db");
	struct dm_store_unit u = {.path = "/in/big.xml", .sha256 = "ee55"};
	struct dm_query *q;
	struct dm_store *s;
	struct dm_error e;
	int64_t sum = 0;
	int i;

	recs[0].count = recs[1].count = INT64_MAX - 1;
	recs[1].index = 2;
	ok(dm_store_open(&s, db, &e), &e);
	for (i = 0; i < 2; i++) {
		u.sha256 = i == 0 ? "ee55" : "ff66";
		fb.report_id = i == 0 ? "big-1" : "big-2";
		ok(dm_store_unit_begin(s, &u, &e), &e);
		ok(dm_store_payload_begin(s, NULL, &e), &e);
		ck_assert_int_eq(
		    feed(s, fb, recs, 2 - (size_t)i, NULL, 0), DM_OK);
		ok(dm_store_payload_end(s, 1, &e), &e);
		ok(dm_store_unit_end(s, &e), &e);
	}
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT group_concat(message_count, ' ') FROM (SELECT "
	    "message_count FROM report ORDER BY id)",
	    "9223372036854775807 9223372036854775806");
	ROW_EQ(db_of(s),
	    "SELECT typeof(messages) || ' ' || messages || ' ' || dmarc_pass "
	    "FROM rollup_daily",
	    "integer 9223372036854775807 9223372036854775807");
	ROW_EQ(db_of(s),
	    "SELECT typeof(messages) || ' ' || messages || ' ' || dmarc_pass "
	    "FROM source_seen",
	    "integer 9223372036854775807 9223372036854775807");
	dm_store_close(s);
	ok(dm_query_open(&q, db, &e), &e);
	ok(dm_query_sources(q, &f, 0, sum_source, &sum, &e), &e);
	ck_assert_int_eq(sum, INT64_MAX);
	dm_query_close(q);
}
END_TEST

/*
 * A stored report taken out (quarantine resolve --keep-new) leaves the rollups
 * exactly as if it had never been stored: what rollup_rebuild.sql builds from
 * the reports left.  Two reports share days and keys with it, so its daily
 * sums are subtracted from shared rows, and rows only it made go.
 */
START_TEST(test_store_report_delete_matches_rebuild)
{
	struct dm_store *s = open_memory();
	struct dm_buf c_rows, sql_rows;
	struct dm_error e;
	sqlite3 *db;

	feed_both(s);
	feed_r3(s);
	ROW_EQ(db_of(s),
	    "SELECT count(*) FROM dkim_result d, spf_result f, record r "
	    "WHERE r.report = 3 AND d.record = r.id AND f.record = r.id",
	    "2");
	ok(dm_store_report_delete(s, 3, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	db = db_of(s);
	ROW_EQ(db, "SELECT count(*) FROM report WHERE id = 3", "0");
	ROW_EQ(db, "SELECT count(*) FROM record WHERE report = 3", "0");
	/* Its records' reasons and results went with them. */
	ROW_EQ(db, "SELECT count(*) FROM pragma_foreign_key_check", "0");
	ROW_EQ(db,
	    "SELECT group_concat((day - 1700006400) || ':' || messages, ' ') "
	    "FROM (SELECT day, messages FROM rollup_daily WHERE org_name = "
	    "'Microsoft' ORDER BY day)",
	    "86400:10");
	dm_buf_init(&c_rows, 1 << 20);
	dm_buf_init(&sql_rows, 1 << 20);
	rollup_rows(db, &c_rows);
	rebuild_rollups(db);
	rollup_rows(db, &sql_rows);
	ck_assert_uint_gt(c_rows.len, 200);
	ck_assert_str_eq(c_rows.data, sql_rows.data);
	ck_assert_int_eq(dm_store_report_delete(s, 3, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "no stored report 3");
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
	dm_store_close(s);
}
END_TEST

/* Mail that passed DMARC and was blocked all the same, beside failing mail
 * that was not, on the same days: report r-4 over three days. */
static const struct dm_record bp_recs[] = {
    {.index = 1,
        .source_ip = "192.0.2.9",
        .count = 7,
        .disposition = "reject",
        .dkim = "pass",
        .spf = "fail",
        .header_from = "example.com"},
    {.index = 2,
        .source_ip = "192.0.2.9",
        .count = 4,
        .disposition = "quarantine",
        .dkim = "fail",
        .spf = "pass",
        .header_from = "example.com"},
    {.index = 3,
        .source_ip = "192.0.2.10",
        .count = 5,
        .disposition = "none",
        .dkim = "fail",
        .spf = "fail",
        .header_from = "example.com"},
    {.index = 4,
        .source_ip = "192.0.2.10",
        .count = 6,
        .disposition = "quarantine",
        .dkim = "fail",
        .spf = "fail",
        .header_from = "example.com"},
};

static void
feed_blocked_pass(struct dm_store *s)
{
	struct dm_feedback fb = report_a();
	struct dm_error e;

	fb.report_id = "r-4";
	fb.begin = DAY_A;
	fb.end = DAY_A + 3 * DM_DAY_SECONDS;
	ok(dm_store_unit_begin(s,
	       &(struct dm_store_unit){.path = "/in/e.xml", .sha256 = "ee55"},
	       &e),
	    &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, fb, bp_recs, 4, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
}

/* SQL taking a database back to before version 10: the auth results in
 * tables of their own again (migrate_v10.sql packs them into the record). */
#define UNPACK_RESULTS                                                         \
	"DROP VIEW dkim_result; DROP VIEW spf_result; "                        \
	"CREATE TABLE dkim_result (record INTEGER NOT NULL REFERENCES record " \
	"(id) ON DELETE CASCADE, n INTEGER NOT NULL, domain TEXT, selector "   \
	"TEXT, result TEXT, human_result TEXT, PRIMARY KEY (record, n)) "      \
	"WITHOUT ROWID; "                                                      \
	"CREATE TABLE spf_result (record INTEGER NOT NULL REFERENCES record "  \
	"(id) ON DELETE CASCADE, n INTEGER NOT NULL, domain TEXT, scope "      \
	"TEXT, "                                                               \
	"result TEXT, human_result TEXT, PRIMARY KEY (record, n)) WITHOUT "    \
	"ROWID; "                                                              \
	"INSERT INTO dkim_result SELECT r.id, j.key, j.value ->> 0, j.value "  \
	"->> 1, j.value ->> 2, j.value ->> 3 FROM record r, "                  \
	"json_each(r.dkim_results) j; "                                        \
	"INSERT INTO spf_result SELECT r.id, j.key, j.value ->> 0, j.value "   \
	"->> 1, j.value ->> 2, j.value ->> 3 FROM record r, "                  \
	"json_each(r.spf_results) j; "                                         \
	"ALTER TABLE record DROP COLUMN dkim_results; "                        \
	"ALTER TABLE record DROP COLUMN spf_results; "

/* A database of version 13 as version 12 left it: the index on record(report),
 * no record id ranges (the view naming them is made again after upgrading). */
#define UNRANGE_RECORDS                                                        \
	"DROP VIEW v_reporter_disposition; "                                   \
	"CREATE INDEX record_report ON record (report); "                      \
	"ALTER TABLE report DROP COLUMN first_record; "                        \
	"ALTER TABLE report DROP COLUMN last_record; "

/* Each report's first and last record ids, "id:first-last" in id order. */
#define RANGES                                                                 \
	"SELECT group_concat(id || ':' || ifnull(first_record || '-' || "      \
	"last_record, 'none'), ' ') FROM (SELECT * FROM report ORDER BY id)"

/*
 * A report's records are found by their id range (version 13): the store
 * writes it, the migration and the rebuild take it from the
 * records, a report without records has none, and a report taken out takes
 * only its own records with it.
 */
START_TEST(test_store_report_record_ranges)
{
	static const struct dm_store_unit unit3 = {
	    .path = "/in/c.xml", .sha256 = "cc33", .size = 9};
	const char *path = tmp_path("ranges.db");
	struct dm_feedback c = report_b();
	struct dm_store *s;
	struct dm_error e;
	sqlite3 *db;

	ok(dm_store_open(&s, path, &e), &e);
	feed_both(s);
	c.report_id = "r-empty";
	ok(dm_store_unit_begin(s, &unit3, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, c, NULL, 0, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	db = db_of(s);
	ROW_EQ(db, RANGES, "1:1-3 2:4-5 3:none");
	ROW_EQ(db,
	    "SELECT count(*) FROM sqlite_master WHERE name = 'record_report'",
	    "0");
	ROW_EQ(db,
	    "SELECT group_concat(org_name || ':' || reports || ':' || "
	    "messages, "
	    "' ') FROM (SELECT * FROM v_reporter_disposition ORDER BY "
	    "org_name)",
	    "Microsoft:2:10 google.com:1:15");
	/* the same as joined by record.report */
	ROW_EQ(db,
	    "SELECT group_concat(org_name || ':' || reports || ':' || "
	    "messages, "
	    "' ') FROM (SELECT p.org_name, count(DISTINCT p.id) AS reports, "
	    "ifnull(sum(r.count), 0) AS messages FROM report p LEFT JOIN "
	    "record "
	    "r ON r.report = p.id GROUP BY 1 ORDER BY 1)",
	    "Microsoft:2:10 google.com:1:15");
	dm_store_close(s);

	/* Upgraded from version 10: the ranges from the index, then the index
	 * gone. */
	raw_exec(path, UNRANGE_RECORDS
	    "DROP TABLE rollup_failing_month; DROP TABLE rollup_failing_week; "
	    "DROP TABLE source_seen; DROP TABLE rollup_daily_month; PRAGMA "
	    "user_version = 10");
	ok(dm_store_open(&s, path, &e), &e);
	db = db_of(s);
	ROW_EQ(db, "PRAGMA user_version", latest());
	ROW_EQ(db, RANGES, "1:1-3 2:4-5 3:none");
	ROW_EQ(db,
	    "SELECT count(*) FROM sqlite_master WHERE name = 'record_report'",
	    "0");
	/* The rebuild sets them again from the records. */
	raw_exec(path, "UPDATE report SET first_record = 7, last_record = 9");
	rebuild_rollups(db);
	ROW_EQ(db, RANGES, "1:1-3 2:4-5 3:none");

	ok(dm_store_report_delete(s, 1, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, "SELECT group_concat(id, ' ') FROM record", "4 5");
	ROW_EQ(db, "SELECT count(*) FROM reason WHERE record < 4", "0");
	ROW_EQ(db, "SELECT count(*) FROM rollup_source WHERE record < 4", "0");
	dm_store_close(s);
}
END_TEST

/*
 * rollup_daily counts the DMARC passes that were quarantined or rejected
 * (version 9), spread over the days like every sum: the store, the rebuild,
 * a report's deletion and the migration from version 8 agree (and the one to
 * version 10 packs the auth results back as they were).
 */
START_TEST(test_store_blocked_pass_in_rollup_daily)
{
	const char *path = tmp_path("blocked.db");
	struct dm_buf c_rows, sql_rows;
	struct dm_store *s;
	struct dm_error e;
	sqlite3 *db;

	ok(dm_store_open(&s, path, &e), &e);
	feed_both(s);
	feed_blocked_pass(s);
	db = db_of(s);
	/* google.com's example.com: report A's day has 15 messages (10
	 * passed, 5 quarantined), none passed and blocked; r-4 spreads 22 over
	 * three days (8, 7, 7): 11 passed, every one blocked (7 rejected, 4
	 * quarantined: 4, 4, 3), 6 failed and quarantined, 5 failed and
	 * delivered. */
	ROW_EQ(db,
	    "SELECT group_concat((day - 1700006400) || ':' || messages || '/' "
	    "|| dmarc_pass || '/' || quarantined || '/' || rejected || '/' || "
	    "blocked_pass, ' ') FROM (SELECT * FROM rollup_daily WHERE "
	    "org_name = 'google.com' ORDER BY day)",
	    "0:23/14/9/3/4 86400:7/4/3/2/4 172800:7/3/3/2/3");
	dm_buf_init(&c_rows, 1 << 20);
	dm_buf_init(&sql_rows, 1 << 20);
	rollup_rows(db, &c_rows);
	rebuild_rollups(db);
	rollup_rows(db, &sql_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);
	dm_store_close(s);

	/* The same database as version 8 left it: the migration fills the
	 * column by the rebuild's rule. */
	raw_exec(path, UNRANGE_RECORDS UNPACK_RESULTS
	    "ALTER TABLE rollup_daily DROP COLUMN blocked_pass; "
	    "DROP TABLE rollup_failing_month; "
	    "DROP TABLE rollup_failing_week; DROP TABLE source_seen; DROP "
	    "TABLE rollup_daily_month; "
	    "PRAGMA user_version = 8");
	ok(dm_store_open(&s, path, &e), &e);
	db = db_of(s);
	ROW_EQ(db, "PRAGMA user_version", latest());
	rollup_rows(db, &c_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);

	/* Taken out again, r-4 leaves no blocked pass behind. */
	ok(dm_store_report_delete(s, 3, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, "SELECT sum(blocked_pass), sum(messages) FROM rollup_daily",
	    "0", "25");
	ck_rebuild_same(db);
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
	dm_store_close(s);
}
END_TEST

/* Report r-5 (r-6): report B with 20 failing messages from 198.51.100.7,
 * from 2024-02-27 to 2024-03-04 (from 2025-12-30 to 2026-01-02), in unit
 * sha; rc: what storing it returns (DM_DONE for a duplicate). */
static void
feed_across(struct dm_store *s, const char *id, int64_t begin, int64_t end,
    const char *sha, int rc)
{
	struct dm_record recs[2] = {b_recs[0], b_recs[1]};
	struct dm_feedback fb = report_b();
	struct dm_error e;

	recs[1].count = 20;
	fb.report_id = id;
	fb.begin = begin;
	fb.end = end;
	ok(dm_store_unit_begin(s,
	       &(struct dm_store_unit){.path = "/in/x.xml", .sha256 = sha}, &e),
	    &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, fb, recs, 2, NULL, 0), rc);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
}

/* A report of n failing records from n header_from domains over three days:
 * more failing keys than the store keeps in memory, so they are written in
 * parts. */
static void
feed_many(struct dm_store *s, int n, const char *sha)
{
	static char froms[2100][32];
	struct dm_sink k = dm_store_sink(s);
	struct dm_feedback fb = report_a();
	struct dm_record r = a_recs[1];
	struct dm_error e;
	int i;

	ck_assert_int_le(n, 2100);
	fb.report_id = "r-many";
	fb.begin = DAY_A + 60;
	fb.end = DAY_A + 3 * DM_DAY_SECONDS;
	ok(dm_store_unit_begin(s,
	       &(struct dm_store_unit){.path = "/in/m.xml", .sha256 = sha}, &e),
	    &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ok(k.begin(k.ctx, &fb, &e), &e);
	for (i = 0; i < n; i++) {
		snprintf(froms[i], sizeof(froms[i]), "d%d.example", i);
		r.index = (uint64_t)i + 1;
		r.header_from = froms[i];
		ok(k.record(k.ctx, &fb, &r, &e), &e);
	}
	ok(k.end(k.ctx, &fb, &e), &e);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
}

/* Each bucket of 198.51.100.7's failing evidence: start:messages:first:last,
 * in days since 1970. */
#define BUCKETS(table)                                                         \
	"SELECT group_concat((start / 86400) || ':' || messages || ':' || "    \
	"(first_day / 86400) || ':' || (last_day / 86400), ' ') FROM (SELECT " \
	"* "                                                                   \
	"FROM " table " WHERE source_ip = '198.51.100.7' ORDER BY start, "     \
	"org_name, domain)"

/*
 * A database at path with reports across month and year ends: B, r-3, r-5
 * (2024-02-27 to 2024-03-04: 6 days, the failing record's 20 spread 4, 4,
 * 3, 3, 3, 3) and r-6 (2025-12-30 to 2026-01-02: 3 days, 7, 7, 6), r-5
 * again from another input (a duplicate adds nothing), and a report of
 * 2,100 From domains (its sums written in parts).
 */
static struct dm_store *
open_buckets(const char *path)
{
	struct dm_store *s;
	struct dm_error e;

	ok(dm_store_open(&s, path, &e), &e);
	feed_both(s);
	feed_r3(s);
	feed_across(s, "r-5", 1708992000, 1709510400, "ee11", DM_OK);
	feed_across(s, "r-6", 1767052800, 1767312000, "ee22", DM_OK);
	feed_across(s, "r-5", 1708992000, 1709510400, "ee33", DM_DONE);
	feed_many(s, 2100, "ee44");
	ok(dm_store_flush(s, &e), &e);
	return s;
}

/*
 * The failing evidence per month and ISO week: only failing rows with
 * messages, split at month ends (29 February 2024 included) and kept whole in
 * an ISO week over two months or two years; the store, the rebuild and the
 * upgrade from version 10 give the same rows, after a re-import (a duplicate),
 * for a report whose keys are written in parts, and after a delete.
 */
START_TEST(test_store_failing_rollups_by_month_and_week)
{
	const char *path = tmp_path("buckets.db");
	struct dm_buf c_rows, sql_rows;
	struct dm_store *s;
	struct dm_error e;
	sqlite3 *db;

	s = open_buckets(path);
	db = db_of(s);
	/* Its 2,100 keys of November 2023 and of its ISO week, 5 messages each
	 * (2, 2, 1). */
	ROW_EQ(db,
	    "SELECT count(*), sum(messages), min(first_day), max(last_day) "
	    "FROM rollup_failing_month WHERE header_from LIKE 'd%.example'",
	    "2100", "10500", "1700006400", "1700179200");
	ROW_EQ(db,
	    "SELECT count(*), sum(messages) FROM rollup_failing_week WHERE "
	    "header_from LIKE 'd%.example'",
	    "2100", "10500");
	/* November 2023 (19662): report B's 3 and r-3's 3 (1, 1, 1, 0 over
	 * four days: the day of none is left out); February and March 2024;
	 * December 2025 and January 2026. */
	ROW_EQ(db, BUCKETS("rollup_failing_month"),
	    "19662:6:19676:19678 19754:11:19780:19782 19783:9:19783:19785 "
	    "20423:14:20452:20453 20454:6:20454:20454");
	/* The ISO weeks from Monday 2023-11-13 (19674), 2024-02-26 (19779)
	 * and 2025-12-29 (20451). */
	ROW_EQ(db, BUCKETS("rollup_failing_week"),
	    "19674:6:19676:19678 19779:20:19780:19785 20451:20:20452:20454");
	/* Passing rows are not there. */
	ROW_EQ(db,
	    "SELECT count(*) FROM rollup_failing_month WHERE dkim = 'pass'",
	    "0");
	dm_buf_init(&c_rows, 1 << 24);
	dm_buf_init(&sql_rows, 1 << 24);
	rollup_rows(db, &c_rows);
	rebuild_rollups(db);
	rollup_rows(db, &sql_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);
	dm_store_close(s);

	/* The same database as version 10 left it: the migration fills the
	 * tables by the rebuild's rule. */
	raw_exec(path,
	    UNRANGE_RECORDS "DROP TABLE rollup_failing_month; "
	                    "DROP TABLE rollup_failing_week; DROP TABLE "
	                    "source_seen; DROP TABLE rollup_daily_month; "
	                    "PRAGMA user_version = 10");
	ok(dm_store_open(&s, path, &e), &e);
	db = db_of(s);
	ROW_EQ(db, "PRAGMA user_version", latest());
	rollup_rows(db, &c_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);

	/* r-5 taken out: its keys are summed again from what is left. */
	ok(dm_store_report_delete(s, 4, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, BUCKETS("rollup_failing_week"),
	    "19674:6:19676:19678 20451:20:20452:20454");
	ck_rebuild_same(db);
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
	dm_store_close(s);
}
END_TEST

/* rollup_daily_month's rows of report B's reporter, as day numbers. */
#define DMONTHS                                                                \
	"SELECT group_concat((start / 86400) || ':' || messages || ':' || "    \
	"quarantined || ':' || (last_day / 86400) || ':' || "                  \
	"ifnull(mail_day / 86400, '-') || ':' || p, ' ') FROM (SELECT * FROM " \
	"rollup_daily_month WHERE org_name = 'Microsoft' AND header_from = "   \
	"'example.org' ORDER BY start)"

/* rollup_daily grouped by month, as rollup_daily_month must hold it. */
#define DAILY_BY_MONTH                                                         \
	"SELECT group_concat(m || ':' || n, ' ') FROM (SELECT CAST(strftime("  \
	"'%s', day, 'unixepoch', 'start of month') AS INTEGER) / 86400 AS m, " \
	"sum(messages) AS n FROM rollup_daily WHERE org_name = 'Microsoft' "   \
	"AND header_from = 'example.org' GROUP BY 1 ORDER BY 1)"

/*
 * rollup_daily per month: a report's days split at month ends (29 February
 * 2024, a year's end), the last day and the last day with mail, the policy
 * of the last day; the store, the rebuild and the upgrade from version 14
 * give the same rows, after a re-import (a duplicate), for a report whose
 * sums are written in parts, and after a delete.
 */
START_TEST(test_store_daily_rollup_by_month)
{
	const char *path = tmp_path("dmonths.db");
	struct dm_buf c_rows, sql_rows;
	struct dm_store *s;
	struct dm_error e;
	sqlite3 *db;

	s = open_buckets(path);
	db = db_of(s);
	/* November 2023 (19662): reports B and r-3; r-5's 27 messages over
	 * six days (5, 5, 5, 4, 4, 4) in February and March 2024; r-6's 27
	 * over three (9, 9, 9) in December 2025 and January 2026. */
	ROW_EQ(
	    db, DAILY_BY_MONTH, "19662:20 19754:15 19783:12 20423:18 20454:9");
	/* r-3's last day (19679) ends November 2023; r-5's 29 February. */
	ROW_EQ(db, DMONTHS,
	    "19662:20:0:19679:19679:none 19754:15:0:19782:19782:none "
	    "19783:12:0:19785:19785:none 20423:18:0:20453:20453:none "
	    "20454:9:0:20454:20454:none");
	dm_buf_init(&c_rows, 1 << 24);
	dm_buf_init(&sql_rows, 1 << 24);
	rollup_rows(db, &c_rows);
	rebuild_rollups(db);
	rollup_rows(db, &sql_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);
	dm_store_close(s);

	/* The same database as version 14 left it. */
	raw_exec(
	    path, "DROP TABLE rollup_daily_month; PRAGMA user_version = 14");
	ok(dm_store_open(&s, path, &e), &e);
	db = db_of(s);
	ROW_EQ(db, "PRAGMA user_version", latest());
	rollup_rows(db, &c_rows);
	ck_assert_str_eq(c_rows.data, sql_rows.data);

	/* r-5 taken out: February and March 2024 summed again. */
	ok(dm_store_report_delete(s, 4, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, DMONTHS,
	    "19662:20:0:19679:19679:none 20423:18:0:20453:20453:none "
	    "20454:9:0:20454:20454:none");
	ck_rebuild_same(db);
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
	dm_store_close(s);
}
END_TEST

/* Stores fb's n records in a unit of its own (sha256 sha); keep says whether
 * the payload is kept or rolled back. */
static void
feed_unit(struct dm_store *s, const char *sha, struct dm_feedback fb,
    const struct dm_record *recs, size_t n, int keep)
{
	struct dm_store_unit u = {.path = "/in/seen.xml", .sha256 = sha};
	struct dm_error e;

	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, fb, recs, n, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, keep, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
}

/* The store's rollups equal rollup_rebuild.sql's. */
static void
rollups_match_rebuild(sqlite3 *db)
{
	struct dm_buf c_rows, sql_rows;

	dm_buf_init(&c_rows, 1 << 24);
	dm_buf_init(&sql_rows, 1 << 24);
	ck_rebuild_same(db);
	dm_buf_free(&c_rows);
	dm_buf_free(&sql_rows);
}

/*
 * source_seen (seen.c): an address's first day and its sums over every day,
 * kept as reports arrive in any order, summed in parts when a report has
 * more addresses than seen.c keeps in memory, untouched by a payload rolled
 * back, and summed again when a report is deleted; always what
 * rollup_rebuild.sql builds.
 */
START_TEST(test_store_source_seen)
{
	static char ips[1500][16];
	static struct dm_record many[1500];
	struct dm_store *s = open_memory();
	struct dm_feedback fb = report_b();
	struct dm_error e;
	sqlite3 *db = db_of(s);
	size_t i;

	/* B (the second day) first, then A: 192.0.2.1's first day moves. */
	feed_unit(s, "5e01", report_b(), b_recs, 2, 1);
	ROW_EQ(db,
	    "SELECT group_concat(ip || '/' || (first_day - 1700006400) || '/' "
	    "|| messages || '/' || dmarc_pass, ' ') FROM source_seen",
	    "192.0.2.1/86400/7/7 198.51.100.7/86400/3/0");
	feed_unit(s, "5e02", report_a(), a_recs, 3, 1);
	ROW_EQ(db,
	    "SELECT group_concat(ip || '/' || (first_day - 1700006400) || '/' "
	    "|| messages || '/' || dmarc_pass, ' ') FROM source_seen",
	    "192.0.2.1/0/22/17 198.51.100.7/86400/3/0 2001:db8::1/0/0/0");
	rollups_match_rebuild(db);

	/* 1,500 addresses over three days, rolled back, then kept. */
	for (i = 0; i < 1500; i++) {
		snprintf(
		    ips[i], sizeof(ips[i]), "10.0.%zu.%zu", i / 250, i % 250);
		many[i] = b_recs[i % 2];
		many[i].index = i + 1;
		many[i].source_ip = ips[i];
		many[i].count = (int64_t)i;
	}
	fb.report_id = "many";
	fb.begin = DAY_A + 2 * DM_DAY_SECONDS;
	fb.end = DAY_A + 5 * DM_DAY_SECONDS;
	feed_unit(s, "5e03", fb, many, 1500, 0);
	ROW_EQ(db, "SELECT count(*) FROM source_seen", "3");
	feed_unit(s, "5e04", fb, many, 1500, 1);
	ROW_EQ(db,
	    "SELECT count(*), sum(messages), sum(dmarc_pass), "
	    "min(first_day) - 1700006400 FROM source_seen WHERE ip LIKE "
	    "'10.%'",
	    "1500", "1124250", "561750", "172800");
	rollups_match_rebuild(db);

	/* A (report 2) deleted: 192.0.2.1 is first seen on B's day again,
	 * 2001:db8::1 is gone. */
	ok(dm_store_report_delete(s, 2, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db,
	    "SELECT group_concat(ip || '/' || (first_day - 1700006400) || '/' "
	    "|| messages || '/' || dmarc_pass, ' ') FROM source_seen WHERE ip "
	    "NOT LIKE '10.%'",
	    "192.0.2.1/86400/7/7 198.51.100.7/86400/3/0");
	rollups_match_rebuild(db);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_rolled_back_duplicate_is_not_counted)
{
	struct dm_store *s = open_memory();
	struct dm_store_unit u = unit2;
	struct dm_error e;

	feed_both(s);
	u.sha256 = "dd44";
	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_b(), b_recs, 2, NULL, 0), DM_DONE);
	ok(dm_store_payload_end(s, 0, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	counts_eq(s, 2, 5, 25, 0, 0);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_sink_outside_payload)
{
	struct dm_store *s = open_memory();
	struct dm_sink k = dm_store_sink(s);
	struct dm_feedback fb = report_a();
	struct dm_error e;

	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "report outside a payload");
	dm_store_close(s);
}
END_TEST

/* ---- tc_units ---- */

START_TEST(test_store_unit_seen_before_and_after)
{
	struct dm_store *s = open_memory();
	struct dm_error e;

	ck_assert_int_eq(dm_store_unit_seen(s, "aa11", NULL, &e), DM_OK);
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	/* pending: not seen yet */
	ck_assert_int_eq(dm_store_unit_seen(s, "aa11", NULL, &e), DM_OK);
	ok(dm_store_unit_end(s, &e), &e);
	ck_assert_int_eq(dm_store_unit_seen(s, "aa11", NULL, &e), DM_DONE);
	/* The identity alone says seen only while the bytes are not known
	 * (an IMAP message not fetched yet); other bytes under the same
	 * identity are another message: the content hash decides. */
	ck_assert_int_eq(
	    dm_store_unit_seen(s, NULL, "maildir:1700000000.M1P2.host", &e),
	    DM_DONE);
	ck_assert_int_eq(
	    dm_store_unit_seen(s, "ffff", "maildir:1700000000.M1P2.host", &e),
	    DM_OK);
	ck_assert_int_eq(
	    dm_store_unit_seen(s, "ffff", "maildir:other", &e), DM_OK);
	ck_assert_int_eq(dm_store_unit_seen(s, "ffff", NULL, &e), DM_OK);
	dm_store_close(s);
}
END_TEST

/* The same identity with other bytes is stored as a new input, which takes the
 * identity; the old input keeps its bytes' hash (seen by content). */
START_TEST(test_store_identity_reused_by_other_bytes)
{
	struct dm_store *s = open_memory();
	struct dm_store_unit u = unit1;
	struct dm_error e;
	int failed;

	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	u.sha256 = "ffff";
	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT group_concat(sha256 || '=' || ifnull(identity, '-'), ' ') "
	    "FROM (SELECT sha256, identity FROM input ORDER BY id)",
	    "aa11=- ffff=maildir:1700000000.M1P2.host");
	ck_assert_int_eq(
	    dm_store_unit_lookup(s, "aa11", NULL, &failed, &e), DM_DONE);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(
	    dm_store_unit_lookup(s, "ffff", NULL, &failed, &e), DM_DONE);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_crash_mid_unit_is_redone)
{
	const char *path = tmp_path("crash.db");
	struct dm_store *s;
	struct dm_error e;

	ok(dm_store_open(&s, path, &e), &e);
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_a(), a_recs, 3, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	dm_store_close(s); /* the process dies before unit_end */

	ok(dm_store_open(&s, path, &e), &e);
	ck_assert_int_eq(
	    dm_store_unit_seen(s, unit1.sha256, unit1.identity, &e), DM_OK);
	ROW_EQ(db_of(s), "SELECT count(*) FROM input", "0");
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_a(), a_recs, 3, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	counts_eq(s, 1, 3, 15, 0, 0);
	dm_store_close(s);

	ok(dm_store_open(&s, path, &e), &e);
	ROW_EQ(
	    db_of(s), "SELECT count(*), min(status) FROM input", "1", "done");
	ROW_EQ(db_of(s), "SELECT count(*), sum(record_count) FROM report", "1",
	    "3");
	ck_assert_int_eq(
	    dm_store_unit_seen(s, unit1.sha256, NULL, &e), DM_DONE);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_pending_input_is_processed_again)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	struct dm_error e;

	/* A row left 'pending' by an older run that committed mid-unit. */
	ck_assert_int_eq(
	    sqlite3_exec(db,
	        "INSERT INTO input (id, sha256, path, first_seen, status) "
	        "VALUES (7, 'aa11', '/old/path', 1, 'pending')",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(dm_store_unit_seen(s, "aa11", NULL, &e), DM_OK);
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_a(), a_recs, 3, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, "SELECT id, status, outcome, first_seen FROM input", "7",
	    "done", "stored", "1");
	ROW_EQ(db, "SELECT input FROM report", "7");
	ck_assert_int_eq(dm_store_unit_seen(s, "aa11", NULL, &e), DM_DONE);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_batch_commits_after_1s)
{
	const char *path = tmp_path("batch.db");
	struct timespec pause = {1, 50 * 1000 * 1000};
	struct dm_store *s;
	struct dm_error e;
	sqlite3 *other;

	ok(dm_store_open(&s, path, &e), &e);
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	nanosleep(&pause, NULL);
	ok(dm_store_unit_end(s, &e), &e);
	ck_assert_int_ne(sqlite3_get_autocommit(db_of(s)), 0);
	/* another connection sees it, and can take the write lock between
	 * batches */
	ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
	ck_assert_int_eq(
	    q_int(other, "SELECT count(*) FROM input WHERE status = 'done'"),
	    1);
	ck_assert_int_eq(
	    sqlite3_exec(other, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_usage_errors)
{
	struct dm_store *s = open_memory();
	struct dm_store_unit u = unit1;
	struct dm_error e;

	ck_assert_int_eq(dm_store_payload_begin(s, NULL, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "payload outside a unit, or inside another");
	ck_assert_int_eq(dm_store_payload_end(s, 1, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "no payload open");
	ck_assert_int_eq(dm_store_unit_end(s, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "no unit open, or a payload still open");
	u.sha256 = NULL;
	ck_assert_int_eq(dm_store_unit_begin(s, &u, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "unit without a sha256");
	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ck_assert_int_eq(dm_store_unit_begin(s, &unit2, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "a unit is already open");
	ck_assert_int_eq(dm_store_flush(s, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "cannot commit inside a unit");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_write_refused_is_read_only_error)
{
	struct dm_store *s = open_memory();
	struct dm_error e;

	ck_assert_int_eq(
	    sqlite3_exec(db_of(s), "PRAGMA query_only = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(dm_store_unit_begin(s, &unit1, &e), DM_EDB);
	ck_assert_str_eq(e.msg, "database is read-only: :memory:");
	dm_store_close(s);
}
END_TEST

/* A child process: opens path (maybe creating it) and stores one unit with hash
 * sha. */
static void
child_store(const char *path, const char *sha)
{
	struct dm_store_unit u = unit2;
	struct dm_store *s;
	struct dm_error e;

	u.sha256 = sha;
	if (dm_store_open(&s, path, &e) != DM_OK ||
	    dm_store_unit_begin(s, &u, &e) != DM_OK ||
	    dm_store_unit_end(s, &e) != DM_OK ||
	    dm_store_flush(s, &e) != DM_OK) {
		fprintf(stderr, "child %s: %s\n", sha, e.msg);
		_exit(1);
	}
	dm_store_close(s);
	_exit(0);
}

START_TEST(test_store_two_processes_create_one_database)
{
	const char *path = tmp_path("shared.db");
	static const char *const shas[] = {"1111", "2222", "3333", "4444"};
	struct dm_store *s;
	struct dm_error e;
	int i, status;
	pid_t pid[4];

	for (i = 0; i < 4; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0)
			child_store(path, shas[i]);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "child %d failed", i);
	}
	ok(dm_store_open(&s, path, &e), &e);
	ROW_EQ(
	    db_of(s), "SELECT count(*), min(status) FROM input", "4", "done");
	ROW_EQ(db_of(s), "PRAGMA user_version", latest());
	dm_store_close(s);
}
END_TEST

/* ---- tc_quarantine ---- */

static unsigned char *
pattern(size_t n)
{
	unsigned char *b = malloc(n);
	size_t i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + i / 251);
	return b;
}

static void
next_row(struct dm_store_qcursor *c, struct dm_store_quarantine_row *row)
{
	struct dm_error e;

	ok(dm_store_quarantine_next(c, row, &e), &e);
}

START_TEST(test_store_quarantine_add_list_get_resolve)
{
	struct dm_store *s = open_memory();
	unsigned char *bytes = pattern(10000);
	struct dm_store_quarantine q = {.path = "/in/bad.zip",
	    .member = "bad.zip>x.xml",
	    .reason = "xml_malformed",
	    .message = "XML not well-formed at line 9",
	    .bytes = bytes,
	    .n_bytes = 10000};
	struct dm_store_quarantine_row row;
	struct dm_store_qcursor *c;
	struct dm_error e;
	time_t t0 = time(NULL);
	void *got;
	size_t n;

	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_quarantine(s, &q, &e), &e);
	q.message = "XML not well-formed at line 10";
	ok(dm_store_quarantine(s, &q, &e),
	    &e); /* the same failure again: one entry */
	ok(dm_store_unit_end(s, &e), &e);
	counts_eq(s, 0, 0, 0, 0, 2);
	ROW_EQ(db_of(s), "SELECT outcome FROM input", "quarantined");
	/* The entry is the input's: its hash is the unit's. */
	ROW_EQ(db_of(s),
	    "SELECT count(*), sha256, length(bytes) < 10000 FROM quarantine",
	    "1", "aa11", "1");

	ok(dm_store_quarantine_open(s, 0, &c, &e), &e);
	next_row(c, &row);
	ck_assert_int_eq(row.id, 1);
	ck_assert_str_eq(row.path, "/in/bad.zip");
	ck_assert_str_eq(row.member, "bad.zip>x.xml");
	ck_assert_str_eq(row.reason, "xml_malformed");
	ck_assert_str_eq(row.message, "XML not well-formed at line 10");
	ck_assert_uint_eq(row.size, 10000);
	ck_assert_int_eq(row.truncated, 0);
	ck_assert_int_ge(row.first_seen, (int64_t)t0);
	ck_assert_int_ge(row.last_tried, row.first_seen);
	ck_assert_uint_eq(row.attempts, 2);
	ck_assert_int_eq(row.resolved, 0);
	ck_assert_int_eq(row.resolved_at, 0);
	ck_assert_int_eq(dm_store_quarantine_next(c, &row, &e), DM_DONE);
	dm_store_quarantine_close(c);

	ok(dm_store_quarantine_get(s, 1, &got, &n, &e), &e);
	ck_assert_uint_eq(n, 10000);
	ck_assert_int_eq(memcmp(got, bytes, n), 0);
	dm_free(got);

	ok(dm_store_quarantine_resolve(s, 1, &e), &e);
	ok(dm_store_quarantine_resolve(s, 1, &e), &e); /* twice is fine */
	ok(dm_store_quarantine_open(s, 0, &c, &e), &e);
	ck_assert_int_eq(dm_store_quarantine_next(c, &row, &e), DM_DONE);
	dm_store_quarantine_close(c);
	ok(dm_store_quarantine_open(s, 1, &c, &e), &e);
	next_row(c, &row);
	ck_assert_int_eq(row.resolved, 1);
	ck_assert_int_ge(row.resolved_at, (int64_t)t0);
	dm_store_quarantine_close(c);

	/* resolved: failing again opens a new entry */
	ok(dm_store_quarantine(s, &q, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT count(*), max(id), sum(attempts) FROM quarantine", "2", "2",
	    "3");
	free(bytes);
	dm_store_close(s);
}
END_TEST

/* Two broken members of one input: the input's bytes are kept once, and both
 * entries give them back. */
START_TEST(test_store_quarantine_keeps_an_inputs_bytes_once)
{
	struct dm_store *s = open_memory();
	unsigned char *bytes = pattern(10000);
	struct dm_store_quarantine q = {.path = "/in/bad.zip",
	    .member = "bad.zip>one.xml",
	    .reason = "xml_malformed",
	    .message = "XML not well-formed at line 9",
	    .bytes = bytes,
	    .n_bytes = 10000};
	struct dm_error e;
	void *got;
	size_t n;
	int id;

	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ok(dm_store_quarantine(s, &q, &e), &e);
	q.member = "bad.zip>two.xml";
	ok(dm_store_quarantine(s, &q, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT group_concat(member || ':' || (bytes IS NOT NULL) || ':' "
	    "|| "
	    "size, ' ') FROM (SELECT * FROM quarantine ORDER BY id)",
	    "bad.zip>one.xml:1:10000 bad.zip>two.xml:0:10000");
	for (id = 1; id <= 2; id++) {
		ok(dm_store_quarantine_get(s, id, &got, &n, &e), &e);
		ck_assert_uint_eq(n, 10000);
		ck_assert_int_eq(memcmp(got, bytes, n), 0);
		dm_free(got);
	}
	free(bytes);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_quarantine_caps_bytes)
{
	struct dm_store *s = open_memory();
	struct dm_limits lim = dm_limits_default();
	unsigned char *bytes = pattern(5000);
	struct dm_store_quarantine q = {.path = "/in/big.xml",
	    .reason = "limit",
	    .message = "too big",
	    .bytes = bytes,
	    .n_bytes = 5000};
	struct dm_store_quarantine_row row;
	struct dm_store_qcursor *c;
	struct dm_error e;
	void *got;
	size_t n;

	lim.quarantine_bytes = 100;
	dm_store_set_limits(s, &lim);
	ok(dm_store_quarantine(s, &q, &e), &e);
	ok(dm_store_quarantine_open(s, 0, &c, &e), &e);
	next_row(c, &row);
	ck_assert_ptr_null(row.member);
	ck_assert_uint_eq(row.size, 5000);
	ck_assert_int_eq(row.truncated, 1);
	dm_store_quarantine_close(c);
	ok(dm_store_quarantine_get(s, row.id, &got, &n, &e), &e);
	ck_assert_uint_eq(n, 100);
	ck_assert_int_eq(memcmp(got, bytes, 100), 0);
	dm_free(got);
	counts_eq(s, 0, 0, 0, 0, 1);
	free(bytes);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_quarantine_without_bytes)
{
	struct dm_store *s = open_memory();
	struct dm_store_quarantine q = {.path = "/in/mbox",
	    .member = "message 3",
	    .reason = "mime_depth",
	    .message = "MIME nesting exceeds 10"};
	struct dm_error e;
	void *got = &e;
	size_t n = 1;

	ok(dm_store_unit_begin(s, &unit2, &e), &e);
	ok(dm_store_quarantine(s, &q, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	/* no bytes: the entry is known by the unit's hash */
	ROW_EQ(db_of(s),
	    "SELECT sha256, bytes, size, truncated FROM quarantine", "bb22",
	    NULL, NULL, "0");
	ok(dm_store_quarantine_get(s, 1, &got, &n, &e), &e);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(n, 0);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_quarantine_errors)
{
	struct dm_store *s = open_memory();
	unsigned char *bytes = pattern(300);
	struct dm_store_quarantine q = {.path = "p",
	    .reason = "r",
	    .message = "m",
	    .bytes = bytes,
	    .n_bytes = 300};
	struct dm_error e;
	void *got;
	size_t n;

	ck_assert_int_eq(
	    dm_store_quarantine_get(s, 99, &got, &n, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "no quarantine entry 99");
	ck_assert_int_eq(dm_store_quarantine_resolve(s, 42, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "no quarantine entry 42");
	ok(dm_store_quarantine(s, &q, &e), &e);
	ck_assert_int_eq(
	    sqlite3_exec(db_of(s), "UPDATE quarantine SET bytes = x'00112233'",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(
	    dm_store_quarantine_get(s, 1, &got, &n, &e), DM_EFORMAT);
	ck_assert_str_eq(e.msg,
	    "quarantined bytes are damaged (zlib: incorrect header check)");
	ck_assert_ptr_null(got);
	free(bytes);
	dm_store_close(s);
}
END_TEST

/* ---- tc_open ---- */

START_TEST(test_store_open_creates_0600_wal)
{
	const char *path = tmp_path("new.db"), *wal = tmp_path("new.db-wal");
	struct dm_store *s;
	struct dm_error e;
	struct stat sb;

	ok(dm_store_open(&s, path, &e), &e);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	feed_both(s);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ROW_EQ(db_of(s), "PRAGMA journal_mode", "wal");
	ROW_EQ(db_of(s), "PRAGMA synchronous", "1");
	/* Not enforced (store.c, configure()): the store keeps them itself. */
	ROW_EQ(db_of(s), "PRAGMA foreign_keys", "0");
	ROW_EQ(db_of(s), "PRAGMA user_version", latest());
	ck_assert_int_ge(dm_store_schema_version(), 2);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_open_refuses_newer_schema)
{
	const char *path = tmp_path("newer.db");
	struct dm_store *s;
	struct dm_error e;
	char msg[128];

	ok(dm_store_open(&s, path, &e), &e);
	dm_store_close(s);
	raw_exec(path, "PRAGMA user_version = 99");
	snprintf(msg, sizeof(msg),
	    "database schema version 99 is newer than this dmarcstat supports "
	    "(%d)",
	    dm_store_schema_version());
	open_fails(path, msg);
}
END_TEST

START_TEST(test_store_open_refuses_junk)
{
	const char *path = tmp_path("junk.db");
	FILE *f = fopen(path, "w");
	int i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < 200; i++)
		fputs("this is not an SQLite database, only text.\n", f);
	fclose(f);
	open_fails(path, "not a dmarcstat database: file is not a database");
}
END_TEST

START_TEST(test_store_open_refuses_foreign_database)
{
	const char *path = tmp_path("foreign.db");

	raw_exec(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	open_fails(path, "not a dmarcstat database: it has other tables and no "
	                 "schema version");
}
END_TEST

/*
 * A foreign SQLite file is refused before anything is written, whatever
 * user_version it claims (open_fails checks its bytes, so also that it was not
 * switched to WAL): a negative version, a version of ours over other tables,
 * another program's application id.
 */
START_TEST(test_store_open_refuses_foreign_versions)
{
	const char *neg = tmp_path("neg.db"), *two = tmp_path("two.db"),
	           *app = tmp_path("app.db");

	raw_exec(neg, "CREATE TABLE t (x); PRAGMA user_version = -5");
	open_fails(neg, "not a dmarcstat database: schema version -5");
	raw_exec(two, "CREATE TABLE t (x); PRAGMA user_version = 2");
	open_fails(two, "not a dmarcstat database: schema version 2, but not "
	                "dmarcstat's tables (and no dmarcstat application id)");
	raw_exec(app, "PRAGMA application_id = 1179603526");
	open_fails(app, "not a dmarcstat database: its application id is "
	                "0x464f5246 (another program's)");
}
END_TEST

/* A new database carries dmarcstat's application id; one made before the id
 * existed (0, our tables) still opens, and gets it. */
START_TEST(test_store_application_id_set_and_upgraded)
{
	const char *path = tmp_path("app.db");
	struct dm_store *s;
	struct dm_error e;

	ok(dm_store_open(&s, path, &e), &e);
	ROW_EQ(db_of(s), "PRAGMA application_id", "1684894580");
	dm_store_close(s);
	raw_exec(path, "PRAGMA application_id = 0");
	ok(dm_store_open(&s, path, &e), &e);
	ROW_EQ(db_of(s), "PRAGMA application_id", "1684894580");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_open_refuses_read_only)
{
	const char *path = tmp_path("ro.db");
	struct dm_store *s;
	struct dm_error e;
	char msg[600];

	ok(dm_store_open(&s, path, &e), &e);
	dm_store_close(s);
	ck_assert_int_eq(chmod(path, 0400), 0);
	snprintf(msg, sizeof(msg), "database is read-only: %s", path);
	open_fails(path, msg);
}
END_TEST

START_TEST(test_store_open_missing_directory)
{
	const char *path = tmp_path("no/such/dir.db");
	struct dm_store *s;
	struct dm_error e;
	char msg[600];

	snprintf(msg, sizeof(msg),
	    "cannot create database %s: No such file or directory", path);
	ck_assert_int_eq(dm_store_open(&s, path, &e), DM_EDB);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(e.msg, msg);
}
END_TEST

START_TEST(test_store_disk_full_rolls_back)
{
	const char *path = tmp_path("full.db");
	static const struct dm_record bare = {.source_ip = "192.0.2.9",
	    .count = 1,
	    .disposition = "none",
	    .header_from = "a-rather-long-header-from-domain.example"};
	struct dm_store_unit u = unit2;
	struct dm_store *s;
	struct dm_feedback fb = report_b();
	struct dm_sink k;
	struct dm_error e;
	char before[128], after[128], cause[DM_ERROR_MSG_MAX];
	int i, rc = DM_OK;

	ok(dm_store_open(&s, path, &e), &e);
	feed_both(s);
	table_sizes(db_of(s), before, sizeof(before));
	ok(dm_store_set_max_pages(
	       s, (uint64_t)q_int(db_of(s), "PRAGMA page_count") + 2, &e),
	    &e);
	k = dm_store_sink(s);
	u.sha256 = "ee55";
	fb.report_id = "r-3";
	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ok(k.begin(k.ctx, &fb, &e), &e);
	for (i = 0; i < 100000 && rc == DM_OK; i++)
		rc = k.record(k.ctx, &fb, &bare, &e);
	ck_assert_int_eq(rc, DM_EDB);
	/* Which of a record's inserts meets the full page depends on the
	 * layout; the message names it and the cause. */
	ck_assert_msg(strcmp(e.msg, "database error: inserting record: "
	                            "database or disk is full") == 0 ||
	                  strcmp(e.msg, "database error: updating rollups: "
	                                "database or disk is full") == 0,
	    "%s", e.msg);
	snprintf(cause, sizeof(cause), "%s", e.msg);
	/* SQLite rolled the whole batch back: every later batch call fails with
	 * the cause */
	dm_error_clear(&e);
	ck_assert_int_eq(dm_store_payload_end(s, 0, &e), DM_EDB);
	ck_assert_str_eq(e.msg, cause);
	dm_error_clear(&e);
	ck_assert_int_eq(dm_store_unit_end(s, &e), DM_EDB);
	ck_assert_str_eq(e.msg, cause);
	counts_eq(s, 2, 5, 25, 0, 0);
	dm_store_close(s);

	ok(dm_store_open(&s, path, &e), &e);
	table_sizes(db_of(s), after, sizeof(after));
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(dm_store_unit_seen(s, "ee55", NULL, &e), DM_OK);
	dm_store_close(s);
}
END_TEST

/* ---- tc_nomem: every allocation of the store failing in turn ---- */

/* feed() without assertions: the first error of the sink, or DM_OK. */
static int
feed_quiet(struct dm_store *s, struct dm_feedback fb,
    const struct dm_record *recs, size_t n, struct dm_error *e)
{
	struct dm_sink k = dm_store_sink(s);
	size_t i;
	int rc = k.begin(k.ctx, &fb, e);

	for (i = 0; rc == DM_OK && i < n; i++) {
		fb.n_records++;
		fb.total_count +=
		    recs[i].count > 0 ? (uint64_t)recs[i].count : 0;
		rc = k.record(k.ctx, &fb, &recs[i], e);
	}
	return rc == DM_OK ? k.end(k.ctx, &fb, e) : rc;
}

/* One unit holding one report, the way ingest stores it. */
static int
store_unit(struct dm_store *s, const struct dm_store_unit *u,
    struct dm_feedback fb, const struct dm_record *recs, size_t n,
    struct dm_error *e)
{
	int rc = dm_store_unit_begin(s, u, e), fed;

	if (rc == DM_OK)
		rc = dm_store_payload_begin(s, "r.zip>r.xml", e);
	if (rc != DM_OK)
		return rc;
	fed = feed_quiet(s, fb, recs, n, e);
	rc = dm_store_payload_end(s, fed == DM_OK, e);
	if (fed != DM_OK)
		return fed;
	return rc == DM_OK ? dm_store_unit_end(s, e) : rc;
}

/* A quarantine entry added, listed and read back. */
static int
quarantine_round(struct dm_store *s, struct dm_error *e)
{
	static const char bytes[] = "<feedback><record>broken";
	struct dm_store_quarantine q = {.path = "/in/c.xml",
	    .reason = "xml_malformed",
	    .message = "XML not well-formed at line 1",
	    .bytes = bytes,
	    .n_bytes = sizeof(bytes) - 1};
	struct dm_store_unit u = {.path = "/in/c.xml", .sha256 = "cc33"};
	struct dm_store_quarantine_row row;
	struct dm_store_qcursor *c = NULL;
	void *got = NULL;
	size_t n = 0;
	int rc = dm_store_unit_begin(s, &u, e);

	if (rc == DM_OK)
		rc = dm_store_quarantine(s, &q, e);
	if (rc == DM_OK)
		rc = dm_store_unit_end(s, e);
	if (rc == DM_OK)
		rc = dm_store_quarantine_open(s, 0, &c, e);
	if (rc == DM_OK && (rc = dm_store_quarantine_next(c, &row, e)) == DM_OK)
		rc = dm_store_quarantine_get(s, row.id, &got, &n, e);
	dm_store_quarantine_close(c);
	if (rc == DM_OK)
		ck_assert(n == sizeof(bytes) - 1 && memcmp(got, bytes, n) == 0);
	dm_free(got);
	return rc;
}

/* Opens a store, stores both reports and a quarantine entry, commits. */
static int
store_everything(struct dm_store **out, struct dm_error *e)
{
	int rc = dm_store_open(out, ":memory:", e);

	if (rc == DM_OK)
		rc = store_unit(*out, &unit1, report_a(), a_recs, 3, e);
	if (rc == DM_OK)
		rc = store_unit(*out, &unit2, report_b(), b_recs, 2, e);
	if (rc == DM_OK)
		rc = quarantine_round(*out, e);
	return rc == DM_OK ? dm_store_flush(*out, e) : rc;
}

/*
 * The Nth allocation of the store fails, for every N until a run succeeds:
 * each failing run stops with DM_ENOMEM and an "out of memory" message, and
 * closing the store frees everything (LeakSanitizer checks each forked test
 * in the sanitizer build); the run that succeeds stores what a run without
 * failures stores.
 */
START_TEST(test_store_out_of_memory)
{
	struct dm_store *s;
	struct dm_error e;
	long n, left;
	int rc;

	for (n = 0;; n++) {
		s = NULL;
		dm_error_clear(&e);
		dm_mem_fail_after(n);
		rc = store_everything(&s, &e);
		left = dm_mem_fail_after(-1);
		if (rc != DM_OK) {
			ck_assert_msg(
			    rc == DM_ENOMEM && strstr(e.msg, "out of memory"),
			    "allocation %ld failing: rc %d: %s", n, rc, e.msg);
			/* What was written before the failure hangs
			 * together. */
			if (s != NULL)
				ck_assert_int_eq(
				    q_int(db_of(s),
				        "SELECT count(*) FROM "
				        "record WHERE report NOT IN "
				        "(SELECT id FROM report)"),
				    0);
			dm_store_close(s);
			continue;
		}
		/* A run that succeeded stored everything, whether or not an
		 * allocation failed on the way. */
		counts_eq(s, 2, 5, 25, 0, 1);
		ROW_EQ(db_of(s),
		    "SELECT count(*), sum(messages) FROM rollup_source", "5",
		    "25");
		dm_store_close(s);
		if (left > 0)
			break;
	}
	ck_assert_int_gt(n, 10);
}
END_TEST

/* ---- tc_schema ---- */

/* A file of SQL, NUL-terminated (caller frees). */
static char *
sql_file(const char *path)
{
	size_t n;
	char *b = slurp(path, &n);

	b[n] = '\0';
	return b;
}

/* A database as version 1 created it, with version 1's data. */
static void
make_v1(const char *path)
{
	char *v1 = sql_file(DM_TEST_DATA_DIR "/sql/schema_v1.sql");

	raw_exec(path, v1);
	free(v1);
	raw_exec(path, "PRAGMA user_version = 1;");
}

/*
 * A CREATE statement as text to compare: comments dropped, double quotes
 * dropped, whitespace kept only between two word characters (one space), all
 * outside string literals.  ALTER TABLE rewrites the stored text:
 * ADD COLUMN appends ", col ..." after the last column's text, RENAME TO
 * quotes the new name, so the same table reads differently.
 */
static void
normalise_sql(const char *in, struct dm_buf *out)
{
	int space = 0, last = 0;

	for (; *in != '\0'; in++) {
		if (*in == '\'') {
			const char *end = strchr(in + 1, '\'');

			ck_assert_ptr_nonnull(end);
			if (space && (isalnum(last) || last == '_'))
				ck_assert_int_eq(dm_buf_add(out, " ", 1), 0);
			ck_assert_int_eq(
			    dm_buf_add(out, in, (size_t)(end - in + 1)), 0);
			space = 0;
			last = '\'';
			in = end;
		} else if (in[0] == '-' && in[1] == '-') {
			in += strcspn(in, "\n");
			space = 1;
			if (*in == '\0')
				break;
		} else if (isspace((unsigned char)*in)) {
			space = 1;
		} else if (*in != '"') {
			if (space && (isalnum(last) || last == '_') &&
			    (isalnum((unsigned char)*in) || *in == '_'))
				ck_assert_int_eq(dm_buf_add(out, " ", 1), 0);
			ck_assert_int_eq(dm_buf_add(out, in, 1), 0);
			space = 0;
			last = (unsigned char)*in;
		}
	}
}

/* Every entry of sqlite_master, normalised, one a line, in name order. */
static void
schema_of(const char *path, struct dm_buf *out)
{
	sqlite3_stmt *st;
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                     "SELECT type, name, tbl_name, sql FROM "
	                     "sqlite_master ORDER BY type, name",
	                     -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 3);

		ck_assert_int_eq(
		    dm_buf_addf(out, "%s %s %s: ", sqlite3_column_text(st, 0),
		        sqlite3_column_text(st, 1), sqlite3_column_text(st, 2)),
		    0);
		if (sql != NULL)
			normalise_sql(sql, out);
		ck_assert_int_eq(dm_buf_add(out, "\n", 1), 0);
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(dm_buf_addf(out, "user_version %lld\n",
	                     q_int(db, "PRAGMA user_version")),
	    0);
	sqlite3_close(db);
	ck_assert_int_eq(dm_buf_add(out, "", 1), 0);
}

/* Fails naming the first line where the two schemas differ (Check's messages
 * are too short for whole schemas). */
static void
schemas_eq(int from, const char *want, const char *got)
{
	size_t w, g;

	for (;;) {
		w = strcspn(want, "\n");
		g = strcspn(got, "\n");
		ck_assert_msg(w == g && memcmp(want, got, w) == 0,
		    "version %d upgraded differs from a new database:\n"
		    "new:      %.*s\nupgraded: %.*s",
		    from, (int)(w > 1500 ? 1500 : w), want,
		    (int)(g > 1500 ? 1500 : g), got);
		if (want[w] == '\0')
			break;
		want += w + 1;
		got += g + 1;
	}
}

START_TEST(test_store_normalises_create_statements)
{
	struct dm_buf b;

	dm_buf_init(&b, 4096);
	normalise_sql("CREATE TABLE \"t\" (\n\ta INT, -- why\n\tb TEXT "
	              "CHECK (b IN ('x  y', 'z'))\n, c TEXT)",
	    &b);
	ck_assert_int_eq(dm_buf_add(&b, "", 1), 0);
	ck_assert_str_eq(b.data,
	    "CREATE TABLE t(a INT,b TEXT CHECK(b IN('x  y','z')),c TEXT)");
	dm_buf_free(&b);
}
END_TEST

/*
 * A new database (sql/schema.sql) and one of every older version upgraded by
 * the migrations have the same tables, columns, constraints, indexes, views
 * and version: the migrations and schema.sql say the same thing.  Older
 * versions are made from version 1 and the migrations up to them, as that
 * version's dmarcstat made them.
 */
START_TEST(test_store_new_and_upgraded_schemas_match)
{
	struct dm_buf want, got;
	struct dm_store *s;
	struct dm_error e;
	char name[32], vsql[64];
	int from, v;

	dm_buf_init(&want, 1 << 20);
	ok(dm_store_open(&s, tmp_path("new.db"), &e), &e);
	dm_store_close(s);
	schema_of(tmp_path("new.db"), &want);
	ck_assert_ptr_nonnull(strstr(want.data, "table rollup_source"));
	ck_assert_ptr_nonnull(strstr(want.data, "view v_rollup_source"));
	for (from = 1; from < dm_store_schema_version(); from++) {
		snprintf(name, sizeof(name), "v%d.db", from);
		make_v1(tmp_path(name));
		/* As the store does before migrating: a migration may rebuild
		 * a table a view names (migrate_v4.sql does). */
		raw_exec(tmp_path(name), dm_sql_drop_views);
		for (v = 2; v <= from; v++) {
			ck_assert_ptr_nonnull(dm_store_migration_script(v));
			/* The views of views.sql, as the store drops them:
			 * since version 10 dkim_result and spf_result are views
			 * of the schema, which a migration creates and keeps.
			 */
			raw_exec(tmp_path(name), dm_sql_drop_views);
			raw_exec(tmp_path(name), dm_store_migration_script(v));
		}
		snprintf(vsql, sizeof(vsql), "PRAGMA user_version = %d", from);
		raw_exec(tmp_path(name), vsql);
		ok(dm_store_open(&s, tmp_path(name), &e), &e);
		dm_store_close(s);
		dm_buf_init(&got, 1 << 20);
		schema_of(tmp_path(name), &got);
		schemas_eq(from, want.data, got.data);
		dm_buf_free(&got);
	}
	ck_assert_ptr_null(dm_store_migration_script(1));
	ck_assert_ptr_null(
	    dm_store_migration_script(dm_store_schema_version() + 1));
	dm_buf_free(&want);
}
END_TEST

START_TEST(test_store_upgrades_v1_database)
{
	const char *path = tmp_path("v1.db");
	struct dm_store *s;
	struct dm_store_unit u = unit2;
	struct dm_error e;
	sqlite3 *db;

	make_v1(path);
	raw_exec(path, "INSERT INTO input (sha256, path, first_seen, status) "
	               "VALUES ('aa11', '/a', 5, 'done');"
	               "INSERT INTO report (input, org_name, report_id, "
	               "domain, \"begin\", \"end\", schema, "
	               "  record_count, message_count, stored_at) "
	               "  VALUES (1, 'google.com', 'r-1', 'example.com', "
	               "1700006400, 1700092799, 'draft', 1, 4, 6);"
	               "INSERT INTO record (report, source_ip, count, "
	               "disposition, dkim, spf) "
	               "  VALUES (1, '192.0.2.1', 4, 'reject', 'fail', 'fail');"
	               "INSERT INTO spf_result (record, domain, result) VALUES "
	               "(1, 'example.com', 'fail');"
	               "INSERT INTO dkim_result (record, domain, selector, "
	               "result) VALUES (1, 'a.example', 's1', 'fail'), "
	               "(1, 'b.example', 's2', 'pass');");

	ok(dm_store_open(&s, path, &e), &e);
	db = db_of(s);
	ROW_EQ(db, "PRAGMA user_version", latest());
	ROW_EQ(db,
	    "SELECT id, sha256, path, first_seen, status, outcome FROM input",
	    "1", "aa11", "/a", "5", "done", NULL);
	ROW_EQ(db,
	    "SELECT org_name, report_id, record_count, message_count FROM "
	    "report",
	    "google.com", "r-1", "1", "4");
	ROW_EQ(db,
	    "SELECT source_ip, count, disposition, spf_raw FROM v_record",
	    "192.0.2.1", "4", "reject", "fail");
	/* version 4: results numbered in their order, rollups rebuilt with
	 * the record link, the unused index and the trigger gone */
	ROW_EQ(db,
	    "SELECT group_concat(n || ':' || domain, ' ') FROM (SELECT * FROM "
	    "dkim_result WHERE record = 1 ORDER BY n)",
	    "0:a.example 1:b.example");
	ROW_EQ(db, "SELECT record, n, domain, result FROM spf_result", "1", "0",
	    "example.com", "fail");
	ROW_EQ(db,
	    "SELECT record, day, source_ip, dkim_auth, spf_auth, messages FROM "
	    "rollup_source",
	    "1", "1700006400", "192.0.2.1",
	    "a.example\x1fs1\x1f"
	    "fail\x1e"
	    "b.example\x1fs2\x1fpass",
	    "example.com\x1f\x1f"
	    "fail",
	    "4");
	ROW_EQ(db,
	    "SELECT day, org_name, domain, messages, rejected FROM "
	    "rollup_daily",
	    "1700006400", "google.com", "example.com", "4", "4");
	ROW_EQ(db, "SELECT report, day0, ndays, messages FROM rollup_report",
	    "1", "1700006400", "1", "4");
	ROW_EQ(db,
	    "SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('record_disposition', 'rollup_fold', 'rollup_ip', 'rollup_seq')",
	    "0");
	/* version 6: IMAP folders' state */
	ROW_EQ(db,
	    "SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('imap_folder', 'imap_message')",
	    "2");
	/* the upgraded database takes new data, with the new column */
	ck_assert_int_eq(dm_store_unit_seen(s, "aa11", NULL, &e), DM_DONE);
	ok(dm_store_unit_begin(s, &u, &e), &e);
	ok(dm_store_payload_begin(s, NULL, &e), &e);
	ck_assert_int_eq(feed(s, report_a(), a_recs, 3, NULL, 0), DM_DONE);
	ck_assert_int_eq(feed(s, report_b(), b_recs, 2, NULL, 0), DM_OK);
	ok(dm_store_payload_end(s, 1, &e), &e);
	ok(dm_store_unit_end(s, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db, "SELECT outcome FROM input WHERE sha256 = 'bb22'", "stored");
	dm_store_close(s);

	/* opening again changes nothing */
	ok(dm_store_open(&s, path, &e), &e);
	ROW_EQ(db_of(s), "SELECT count(*), max(id) FROM report", "2", "2");
	dm_store_close(s);
}
END_TEST

/* ---- tc_hosts: the enrichment cache of dns/ ---- */

struct ips {
	char list[512];
};

static int
collect_ip(void *ctx, const char *ip, struct dm_error *err)
{
	struct ips *c = ctx;

	(void)err;
	snprintf(c->list + strlen(c->list), sizeof(c->list) - strlen(c->list),
	    "%s%s", c->list[0] ? " " : "", ip);
	return DM_OK;
}

/* The due IPs at now, as one space-separated string. */
static const char *
due(struct dm_store *s, int64_t now, int64_t ttl, int64_t fail_ttl,
    struct ips *c)
{
	struct dm_error e;

	c->list[0] = '\0';
	ok(dm_store_hosts_due(s, now, ttl, fail_ttl, collect_ip, c, &e), &e);
	return c->list;
}

static struct dm_host
host(const char *ip, int64_t checked_at, const char *error)
{
	struct dm_host h = {.ip = ip,
	    .confirmed = -1,
	    .asn = -1,
	    .checked_at = checked_at,
	    .error = error};

	return h;
}

START_TEST(test_store_hosts_due_follow_the_ttls)
{
	struct dm_store *s;
	struct dm_error e;
	struct dm_host h;
	struct ips c;

	ok(dm_store_open(&s, ":memory:", &e), &e);
	feed_both(s);
	ck_assert_str_eq(
	    due(s, 1000, 100, 10, &c), "192.0.2.1 198.51.100.7 2001:db8::1");
	h = host("192.0.2.1", 950, NULL);
	ok(dm_store_host_put(s, &h, &e), &e);
	h = host("198.51.100.7", 995, "PTR lookup: timeout");
	ok(dm_store_host_put(s, &h, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	/* fresh: answered within ttl, failed within fail_ttl */
	ck_assert_str_eq(due(s, 1000, 100, 10, &c), "2001:db8::1");
	ck_assert_str_eq(due(s, 1005, 100, 10, &c), "198.51.100.7 2001:db8::1");
	ck_assert_str_eq(
	    due(s, 1050, 100, 10, &c), "192.0.2.1 198.51.100.7 2001:db8::1");
	/* a negative ttl: every IP */
	ck_assert_str_eq(
	    due(s, 0, -1, -1, &c), "192.0.2.1 198.51.100.7 2001:db8::1");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_host_put_replaces_and_reads_back)
{
	const char *path = tmp_path("hosts.db");
	struct dm_store *s;
	struct dm_query *q;
	struct dm_error e;
	struct dm_host h = {"192.0.2.1", "mail-a.amazonses.com", 1,
	    "amazonses.com", "Amazon SES", "esp", 16509, "AMAZON-02", "US",
	    1700000000, NULL};

	ok(dm_store_open(&s, path, &e), &e);
	feed_both(s);
	ok(dm_store_host_put(s, &h, &e), &e);
	h.ip = "198.51.100.7";
	h.ptr = h.base_domain = h.service = h.kind = h.as_org = h.country =
	    NULL;
	h.confirmed = -1;
	h.asn = -1;
	h.error = "PTR lookup: server failure";
	ok(dm_store_host_put(s, &h, &e), &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT ip, ptr, confirmed, base_domain, service, kind, asn, "
	    "as_org, country, checked_at, error FROM host WHERE ip = "
	    "'192.0.2.1'",
	    "192.0.2.1", "mail-a.amazonses.com", "1", "amazonses.com",
	    "Amazon SES", "esp", "16509", "AMAZON-02", "US", "1700000000",
	    NULL);
	ROW_EQ(db_of(s),
	    "SELECT ptr, confirmed, asn, error FROM host WHERE ip = "
	    "'198.51.100.7'",
	    NULL, NULL, NULL, "PTR lookup: server failure");
	/* again: the row is replaced whole */
	h.error = NULL;
	h.ptr = "x.example.org";
	h.confirmed = 0;
	ok(dm_store_host_put(s, &h, &e), &e);
	ok(dm_store_host_set_service(s, "192.0.2.1", "Mine", "mailbox", &e),
	    &e);
	ok(dm_store_flush(s, &e), &e);
	ROW_EQ(db_of(s),
	    "SELECT count(*), sum(error IS NULL), group_concat(service) FROM "
	    "host",
	    "2", "2", "Mine");
	ROW_EQ(db_of(s),
	    "SELECT ip, ptr, service FROM v_host WHERE ip = '2001:db8::1'",
	    "2001:db8::1", NULL, NULL);
	dm_store_close(s);

	ok(dm_query_open(&q, path, &e), &e);
	ck_assert_int_eq(dm_query_host(q, "192.0.2.1", &h, &e), DM_OK);
	ck_assert_str_eq(h.ptr, "mail-a.amazonses.com");
	ck_assert_int_eq(h.confirmed, 1);
	ck_assert_str_eq(h.service, "Mine");
	ck_assert_str_eq(h.kind, "mailbox");
	ck_assert_int_eq(h.asn, 16509);
	ck_assert_str_eq(h.country, "US");
	ck_assert_ptr_null(h.error);
	ck_assert_int_eq(dm_query_host(q, "198.51.100.7", &h, &e), DM_OK);
	ck_assert_str_eq(h.ptr, "x.example.org");
	ck_assert_int_eq(h.confirmed, 0);
	ck_assert_int_eq(h.asn, -1);
	ck_assert_ptr_null(h.service);
	ck_assert_int_eq(dm_query_host(q, "2001:db8::1", &h, &e), DM_DONE);
	ck_assert_str_eq(h.ip, "2001:db8::1");
	ck_assert_ptr_null(h.ptr);
	ck_assert_int_eq(h.confirmed, -1);
	dm_query_close(q);
}
END_TEST

static int
count_host(void *ctx, const struct dm_host *h, struct dm_error *err)
{
	char *out = ctx;

	(void)err;
	snprintf(out + strlen(out), 256 - strlen(out), "%s=%s,%s;", h->ip,
	    h->ptr ? h->ptr : "-", h->service ? h->service : "-");
	return DM_OK;
}

START_TEST(test_store_hosts_lists_rows_and_refuses_inside_a_unit)
{
	struct dm_store *s;
	struct dm_error e;
	struct dm_host h = host("192.0.2.1", 5, NULL);
	char out[256] = "";

	ok(dm_store_open(&s, ":memory:", &e), &e);
	h.ptr = "a.example";
	ok(dm_store_host_put(s, &h, &e), &e);
	h = host("10.0.0.1", 5, NULL);
	ok(dm_store_host_put(s, &h, &e), &e);
	ok(dm_store_hosts(s, count_host, out, &e), &e);
	ck_assert_str_eq(out, "10.0.0.1=-,-;192.0.2.1=a.example,-;");
	h.ip = NULL;
	ck_assert_int_eq(dm_store_host_put(s, &h, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "host without an IP");
	ok(dm_store_flush(s, &e), &e);
	ok(dm_store_unit_begin(s, &unit2, &e), &e);
	h.ip = "192.0.2.9";
	ck_assert_int_eq(dm_store_host_put(s, &h, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "cannot write hosts inside a unit");
	ck_assert_int_eq(
	    dm_store_host_set_service(s, "192.0.2.1", NULL, NULL, &e),
	    DM_EINVAL);
	dm_store_close(s);
}
END_TEST

/* ---- tc_folder: IMAP folders' state ---- */

#define FOLDER "imaps://dmarc@imap.example.com:993/INBOX"

START_TEST(test_store_folder_remembers_last_uid_and_moves)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	uint64_t last = 9, uids[4];
	size_t n;
	struct dm_error e;

	ok(dm_store_folder_last(s, FOLDER, 1795890501, &last, &e), &e);
	ck_assert_uint_eq(last, 0);
	ok(dm_store_folder_done(s, FOLDER, 1795890501, 5, 0, &e), &e);
	ok(dm_store_folder_done(s, FOLDER, 1795890501, 3, 1, &e), &e);
	ok(dm_store_folder_done(s, FOLDER, 1795890501, 7, 0, &e), &e);
	ok(dm_store_folder_done(
	       s, "imaps://other@h:993/INBOX", 1795890501, 8, 0, &e),
	    &e);
	ok(dm_store_folder_last(s, FOLDER, 1795890501, &last, &e), &e);
	ck_assert_uint_eq(last, 7);
	/* the highest UID stays, whatever the order */
	ROW_EQ(db,
	    "SELECT uidvalidity, last_uid FROM imap_folder WHERE "
	    "folder = '" FOLDER "'",
	    "1795890501", "7");
	ok(dm_store_folder_pending(s, FOLDER, 1795890501, 0, uids, 4, &n, &e),
	    &e);
	/* committed before it answers: only what is durable is moved */
	ck_assert_int_ne(sqlite3_get_autocommit(db), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(uids[0], 5);
	ck_assert_uint_eq(uids[1], 7);
	ok(dm_store_folder_pending(s, FOLDER, 1795890501, 1, uids, 4, &n, &e),
	    &e);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(uids[0], 3);
	ok(dm_store_folder_pending(s, FOLDER, 1795890501, 0, uids, 1, &n, &e),
	    &e);
	ck_assert_uint_eq(n, 1);
	ok(dm_store_folder_moved(s, FOLDER, 1795890501, uids, 1, &e), &e);
	ok(dm_store_folder_pending(s, FOLDER, 1795890501, 0, uids, 4, &n, &e),
	    &e);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(uids[0], 7);
	ROW_EQ(db, "SELECT count(*) FROM imap_message", "3");
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_folder_new_uidvalidity_starts_again)
{
	struct dm_store *s = open_memory();
	sqlite3 *db = db_of(s);
	uint64_t last = 9, uids[4];
	size_t n = 9;
	struct dm_error e;

	ok(dm_store_folder_done(s, FOLDER, 100, 41, 0, &e), &e);
	ok(dm_store_folder_done(s, FOLDER, 100, 42, 1, &e), &e);
	ok(dm_store_folder_last(s, FOLDER, 200, &last, &e), &e);
	ck_assert_uint_eq(last, 0);
	ROW_EQ(db, "SELECT uidvalidity, last_uid FROM imap_folder", "200", "0");
	/* UIDs of the old UIDVALIDITY name other messages now: never moved */
	ROW_EQ(db, "SELECT count(*) FROM imap_message", "0");
	ok(dm_store_folder_pending(s, FOLDER, 100, 1, uids, 4, &n, &e), &e);
	ck_assert_uint_eq(n, 0);
	ok(dm_store_folder_done(s, FOLDER, 200, 2, 0, &e), &e);
	ok(dm_store_folder_last(s, FOLDER, 200, &last, &e), &e);
	ck_assert_uint_eq(last, 2);
	dm_store_close(s);
}
END_TEST

START_TEST(test_store_folder_refused_inside_a_unit)
{
	struct dm_store *s = open_memory();
	uint64_t uid = 1;
	struct dm_error e;

	ok(dm_store_unit_begin(s, &unit1, &e), &e);
	ck_assert_int_eq(
	    dm_store_folder_done(s, FOLDER, 100, 1, 0, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "an IMAP message is recorded inside a unit");
	ck_assert_int_eq(
	    dm_store_folder_moved(s, FOLDER, 100, &uid, 1, &e), DM_EINVAL);
	ck_assert_str_eq(
	    e.msg, "IMAP messages are recorded moved inside a unit");
	dm_store_close(s);
}
END_TEST

/* ---- the period split (buckets.c) ---- */

/* Unix seconds of a UTC date (H. Hinnant's days_from_civil, written apart
 * from buckets.c's inverse so that each checks the other). */
static int64_t
ymd(int y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y, era, yoe, doy, doe;

	era = (yy >= 0 ? yy : yy - 399) / 400;
	yoe = yy - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400;
}

/* The split of [from, to) written "M 2024-02-01..2024-03-01, W ..., D ..."
 * (each run's first day and the day after its last). */
static const char *
split_text(int64_t from, int64_t to, char *buf, size_t cap)
{
	struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX];
	size_t n = dm_query_split(from, to, seg), i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		time_t a = (time_t)seg[i].from, b = (time_t)seg[i].to;
		struct tm ta, tb;
		char da[16], db[16];

		gmtime_r(&a, &ta);
		gmtime_r(&b, &tb);
		strftime(da, sizeof(da), "%Y-%m-%d", &ta);
		strftime(db, sizeof(db), "%Y-%m-%d", &tb);
		len += (size_t)snprintf(buf + len, cap - len, "%s%c %s..%s",
		    i > 0 ? ", " : "",
		    "MWD"[seg[i].unit == DM_QUERY_MONTHS  ? 0
		          : seg[i].unit == DM_QUERY_WEEKS ? 1
		                                          : 2],
		    da, db);
		ck_assert_uint_lt(len, cap);
		/* Runs follow each other with no gap, in day order. */
		ck_assert_int_lt(seg[i].from, seg[i].to);
		if (i > 0)
			ck_assert_int_eq(seg[i].from, seg[i - 1].to);
	}
	if (n > 0) {
		ck_assert_int_eq(seg[0].from, from - from % 86400);
		ck_assert_int_eq(seg[n - 1].to, to - to % 86400);
	}
	return buf;
}

#define SPLIT(from, to) split_text(from, to, buf, sizeof(buf))

START_TEST(test_query_split_months_weeks_days)
{
	char buf[512];

	/* Months inside, ISO weeks of what is left, days at the ends:
	   2025-11-02 is a Sunday, 2026-11-01 a Sunday too. */
	ck_assert_str_eq(SPLIT(ymd(2025, 11, 2), ymd(2026, 11, 2)),
	    "D 2025-11-02..2025-11-03, W 2025-11-03..2025-12-01, "
	    "M 2025-12-01..2026-11-01, D 2026-11-01..2026-11-02");
	/* Month and year ends on both sides, weeks on both sides. */
	ck_assert_str_eq(SPLIT(ymd(2023, 12, 20), ymd(2024, 3, 13)),
	    "D 2023-12-20..2023-12-25, W 2023-12-25..2024-01-01, "
	    "M 2024-01-01..2024-03-01, D 2024-03-01..2024-03-04, "
	    "W 2024-03-04..2024-03-11, D 2024-03-11..2024-03-13");
	/* 2024-03-01 is a Friday: a week would start before the month
	   ends, so the ragged start of March is days, not a week. */
	ck_assert_str_eq(SPLIT(ymd(2024, 3, 1), ymd(2024, 3, 6)),
	    "D 2024-03-01..2024-03-06");
	/* 29 February: February 2024 whole is one month of 29 days. */
	ck_assert_str_eq(SPLIT(ymd(2024, 2, 1), ymd(2024, 3, 1)),
	    "M 2024-02-01..2024-03-01");
	ck_assert_str_eq(SPLIT(ymd(2024, 2, 26), ymd(2024, 3, 4)),
	    "W 2024-02-26..2024-03-04");
	ck_assert_str_eq(SPLIT(ymd(2024, 2, 29), ymd(2024, 3, 1)),
	    "D 2024-02-29..2024-03-01");
	/* A period inside one week: days only. */
	ck_assert_str_eq(SPLIT(ymd(2026, 11, 24), ymd(2026, 11, 28)),
	    "D 2026-11-24..2026-11-28");
	/* ISO week 53 of 2026 straddles the year: a week when whole. */
	ck_assert_str_eq(SPLIT(ymd(2026, 12, 28), ymd(2027, 1, 4)),
	    "W 2026-12-28..2027-01-04");
	ck_assert_str_eq(SPLIT(ymd(2026, 12, 21), ymd(2027, 1, 11)),
	    "W 2026-12-21..2027-01-11");
	/* With December whole, the week after it is cut at the month end. */
	ck_assert_str_eq(SPLIT(ymd(2026, 12, 1), ymd(2027, 1, 11)),
	    "M 2026-12-01..2027-01-01, D 2027-01-01..2027-01-04, "
	    "W 2027-01-04..2027-01-11");
	/* Whole years: twelve months each. */
	ck_assert_str_eq(SPLIT(ymd(2023, 1, 1), ymd(2026, 1, 1)),
	    "M 2023-01-01..2026-01-01");
	/* One day, the empty period, a reversed one. */
	ck_assert_str_eq(SPLIT(ymd(2024, 2, 29), ymd(2024, 3, 1)),
	    "D 2024-02-29..2024-03-01");
	ck_assert_str_eq(SPLIT(ymd(2024, 3, 1), ymd(2024, 3, 1)), "");
	ck_assert_str_eq(SPLIT(ymd(2024, 3, 2), ymd(2024, 3, 1)), "");
	/* A time of day is its day. */
	ck_assert_str_eq(SPLIT(ymd(2024, 2, 29) + 3600, ymd(2024, 3, 1) + 60),
	    "D 2024-02-29..2024-03-01");
}
END_TEST

START_TEST(test_query_split_buckets_every_day_once)
{
	struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX];
	int64_t from, to, d;
	size_t n, i;

	/* Every period of up to 70 days starting on each day of 2024 to
	   2026 is covered day by day; each month run starts on a 1st, each
	   week run on a Monday, both as the store files a day. */
	for (from = ymd(2023, 12, 1); from < ymd(2027, 1, 10);
	     from += 5 * 86400) {
		for (to = from; to <= from + 70 * 86400; to += 86400) {
			n = dm_query_split(from, to, seg);
			for (d = from, i = 0; i < n; i++) {
				ck_assert_int_eq(seg[i].from, d);
				if (seg[i].unit == DM_QUERY_MONTHS) {
					ck_assert_int_eq(
					    dm_sql_month_start(seg[i].from),
					    seg[i].from);
					ck_assert_int_eq(
					    dm_sql_month_start(seg[i].to),
					    seg[i].to);
				}
				if (seg[i].unit == DM_QUERY_WEEKS) {
					ck_assert_int_eq(
					    dm_sql_week_start(seg[i].from),
					    seg[i].from);
					ck_assert_int_eq(
					    dm_sql_week_start(seg[i].to),
					    seg[i].to);
				}
				d = seg[i].to;
			}
			ck_assert_int_eq(d, to);
		}
	}
	/* The buckets agree with SQLite's calendar. */
	ck_assert_int_eq(dm_sql_month_start(ymd(2024, 2, 29)), ymd(2024, 2, 1));
	ck_assert_int_eq(
	    dm_sql_month_start(ymd(2026, 12, 31)), ymd(2026, 12, 1));
	ck_assert_int_eq(dm_sql_week_start(ymd(2027, 1, 3)), ymd(2026, 12, 28));
	ck_assert_int_eq(
	    dm_sql_week_start(ymd(2026, 12, 28)), ymd(2026, 12, 28));
	ck_assert_int_eq(
	    dm_sql_week_start(ymd(1969, 12, 31)), ymd(1969, 12, 29));
	ck_assert_int_eq(
	    dm_sql_month_start(ymd(1969, 12, 31)), ymd(1969, 12, 1));
}
END_TEST

static Suite *
sql_suite(void)
{
	Suite *su = suite_create("sql");
	TCase *tc;

	tc = tcase_create("tc_sink");
	tcase_add_test(tc, test_store_feed_stores_every_column);
	tcase_add_test(tc, test_store_views);
	tcase_add_test(tc, test_store_packed_results_read_back);
	tcase_add_test(tc, test_store_duplicate_is_counted_not_stored);
	tcase_add_test(tc, test_store_payload_rollback_leaves_nothing);
	tcase_add_test(tc, test_store_failed_payload_undoes_everything);
	tcase_add_test(tc, test_store_rolled_back_duplicate_is_not_counted);
	tcase_add_test(tc, test_store_rollups_match_the_rebuild);
	tcase_add_test(tc, test_store_report_delete_matches_rebuild);
	tcase_add_test(tc, test_store_source_seen);
	tcase_add_test(
	    tc, test_store_duplicate_with_other_content_is_a_conflict);
	tcase_add_test(
	    tc, test_store_incomplete_identity_is_anchored_to_its_input);
	tcase_add_test(tc, test_store_sink_outside_payload);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_units");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_store_blocked_pass_in_rollup_daily);
	tcase_add_test(tc, test_store_failing_rollups_by_month_and_week);
	tcase_add_test(tc, test_store_daily_rollup_by_month);
	tcase_add_test(tc, test_store_report_record_ranges);
	tcase_add_test(tc, test_store_sums_saturate);
	tcase_add_test(tc, test_store_undated_reports_on_day_0);
	tcase_add_test(tc, test_store_unit_seen_before_and_after);
	tcase_add_test(tc, test_store_identity_reused_by_other_bytes);
	tcase_add_test(tc, test_store_crash_mid_unit_is_redone);
	tcase_add_test(tc, test_store_pending_input_is_processed_again);
	tcase_add_test(tc, test_store_batch_commits_after_1s);
	tcase_add_test(tc, test_store_usage_errors);
	tcase_add_test(tc, test_store_write_refused_is_read_only_error);
	tcase_add_test(tc, test_store_two_processes_create_one_database);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_split");
	tcase_add_test(tc, test_query_split_months_weeks_days);
	tcase_add_test(tc, test_query_split_buckets_every_day_once);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_quarantine");
	tcase_add_test(tc, test_store_quarantine_add_list_get_resolve);
	tcase_add_test(tc, test_store_quarantine_keeps_an_inputs_bytes_once);
	tcase_add_test(tc, test_store_quarantine_caps_bytes);
	tcase_add_test(tc, test_store_quarantine_without_bytes);
	tcase_add_test(tc, test_store_quarantine_errors);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_folder");
	tcase_add_test(tc, test_store_folder_remembers_last_uid_and_moves);
	tcase_add_test(tc, test_store_folder_new_uidvalidity_starts_again);
	tcase_add_test(tc, test_store_folder_refused_inside_a_unit);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_open");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_store_open_creates_0600_wal);
	tcase_add_test(tc, test_store_open_refuses_newer_schema);
	tcase_add_test(tc, test_store_open_refuses_junk);
	tcase_add_test(tc, test_store_open_refuses_foreign_database);
	tcase_add_test(tc, test_store_open_refuses_foreign_versions);
	tcase_add_test(tc, test_store_application_id_set_and_upgraded);
	tcase_add_test(tc, test_store_open_refuses_read_only);
	tcase_add_test(tc, test_store_open_missing_directory);
	tcase_add_test(tc, test_store_disk_full_rolls_back);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_hosts");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_store_hosts_due_follow_the_ttls);
	tcase_add_test(tc, test_store_host_put_replaces_and_reads_back);
	tcase_add_test(
	    tc, test_store_hosts_lists_rows_and_refuses_inside_a_unit);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_nomem");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_store_out_of_memory);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_schema");
	/* A database per older version is made and upgraded, one more with each
	 * migration, each with its fsyncs: Check's 4 s is short on a busy disk.
	 */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_store_upgrades_v1_database);
	tcase_add_test(tc, test_store_normalises_create_statements);
	tcase_add_test(tc, test_store_new_and_upgraded_schemas_match);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr = srunner_create(sql_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
