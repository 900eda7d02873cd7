/*
 * query.c - read-only queries over the rollup tables for report/.
 *
 * Each query is one SELECT built from a fixed text plus the filter's clauses,
 * all values bound (never pasted into SQL) as numbered parameters, so a clause
 * may be left out without renumbering the others.  SQL groups, sums and
 * orders; this file only hands rows over.  Three functions are registered on
 * the connection: dm_sum (a sum that saturates instead of failing with
 * "integer overflow"), dm_isp (an org_name's ISP, from the caller) and
 * dm_in_net (an address in a CIDR range).  Auth results come out of
 * rollup_source as one text column each (entries separated by char(30),
 * fields by char(31), see schema.sql) and are split here, so report/ sees
 * the plain structs of core/model.h.
 */
#include "query.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sqlite3.h>

#include "hash.h"
#include "i18n.h"
#include "limits.h"
#include "mem.h"
#include "store_int.h"

#define RS '\036'
#define US '\037'

/* The numbered parameters every query may use (filter_sql). */
enum {
	P_FROM = 1,
	P_TO,
	P_DOMAIN,
	P_REPORTER,
	P_NET,
	P_IP,
	P_SPLIT,
	P_PAIR_SET, /* the pairs for dm_pair (pair_set) */
	P_PAIRS     /* then two per pair of the filter */
};

/* The most groups a query sums in C (fold_run, below). */
#define FOLD_GROUPS_MAX 65536

/* Text cut to DM_QUERY_TEXT_MAX characters (query.h). */
#define CLIP(c) "substr(" c ", 1, 255)"

/* An auth column (domain US scope-or-selector US result, entries RS) holds a
 * passing result: "US pass" ends an entry only as its result. */
#define RAW_PASS(col)                                                          \
	"instr(" col " || char(30), char(31) || 'pass' || char(30)) > 0"

/* The range as a blob bound to ?P_NET: family (4 or 6), bits, 16 bytes. */
#define NET_BLOB 18

/*
 * dm_in_net's answers for the addresses it saw last, by a hash of their text
 * (a direct-mapped cache): reading an address (dm_ip_net_contains) cost a
 * tenth of `explain --ip /15`, which tests every row of the week, and rows
 * repeat a few thousand addresses.  Valid for one range (net).
 */
#define NET_CACHE_SLOTS 256
#define NET_CACHE_TEXT 48

struct net_cache {
	unsigned char net[NET_BLOB];
	struct {
		char ip[NET_CACHE_TEXT]; /* "" when empty */
		int in;
	} slot[NET_CACHE_SLOTS];
};

struct rank_rows;
static void rank_rows_free(struct rank_rows *r);

struct dm_query {
	sqlite3 *db;
	sqlite3_stmt *host; /* dm_query_host's, prepared on first use */
	int version;        /* PRAGMA user_version */
	const char *(*isp_name)(void *ctx, const char *org_name);
	void *isp_ctx;
	int in_txn;
	/* Read every period day by day (DMARCSTAT_TEST_DAILY_ONLY, read once
	   by dm_query_open): the month and week rollups unread, so that a
	   test can compare a report read both ways byte for byte. */
	int daily_only;
	/* Count the reports of the pairs shown from their records whatever
	   the period's size (DMARCSTAT_TEST_BY_RECORDS, reports_by_records):
	   so that a test reads that way a database too small to need it. */
	int by_records;
	/* The most groups fold_run sums before SQLite groups the rows instead:
	   FOLD_GROUPS_MAX, or DMARCSTAT_TEST_FOLD_MAX (a test hook: 0 has
	   SQLite group every time, a few gives up half way). */
	size_t fold_max;
	/* Count them in SQL (records_sql) where count_refs would count them in
	   C (DMARCSTAT_TEST_REFS_SQL): the test compares both ways too. */
	int refs_sql;
	/* The last org_name dm_isp mapped and its ISP: rows come report by
	   report, so most calls repeat the one before. */
	struct dm_buf last_org, last_isp;
	int have_last;
	struct net_cache net_cache; /* dm_in_net's */
	struct rank_rows *rank;     /* rank_folded's rows, or NULL */
	/* Whether the reports of period [from, to) have record id ranges that
	   meet (period_rows): known for the last period asked. */
	int64_t ranges_from, ranges_to;
	int ranges_meet; /* -1: not known yet */
};

static int
db_error(struct dm_query *q, struct dm_error *err, const char *what)
{
	return dm_error_setr(
	    err, DM_EDB, "db_query", "%s: %s", what, sqlite3_errmsg(q->db));
}

/*
 * dm_sum(x): SQLite's sum() for message counts, which saturates at INT64_MAX
 * (dm_count_add of core/limits.h) where sum() fails with "integer overflow".
 * NULL when there is no value, like sum().  Every sum of counts in a report
 * query uses it.
 */
struct sum_acc {
	int64_t v;
	int any;
};

static void
sum_step(sqlite3_context *c, int n, sqlite3_value **v)
{
	struct sum_acc *a = sqlite3_aggregate_context(c, sizeof(*a));

	(void)n;
	if (a == NULL) {
		sqlite3_result_error_nomem(c);
		return;
	}
	if (sqlite3_value_type(v[0]) == SQLITE_NULL)
		return;
	a->v = dm_count_add(a->v, sqlite3_value_int64(v[0]));
	a->any = 1;
}

static void
sum_final(sqlite3_context *c)
{
	struct sum_acc *a = sqlite3_aggregate_context(c, 0);

	if (a == NULL || !a->any)
		sqlite3_result_null(c);
	else
		sqlite3_result_int64(c, a->v);
}

/*
 * "file:<path>?immutable=1" for sqlite3_open_v2 (SQLITE_OPEN_URI), with what a
 * URI cannot hold percent-encoded; NULL when out of memory.
 */
static char *
immutable_uri(const char *path)
{
	struct dm_buf b;
	const unsigned char *p;
	int rc;

	dm_buf_init(&b, (size_t)1 << 20);
	rc = dm_buf_adds(&b, "file:");
	for (p = (const unsigned char *)path; rc == DM_OK && *p != '\0'; p++)
		rc = *p == '?' || *p == '#' || *p == '%' || *p < 0x21 ||
		             *p >= 0x7f
		         ? dm_buf_addf(&b, "%%%02X", *p)
		         : dm_buf_add(&b, p, 1);
	if (rc == DM_OK)
		rc = dm_buf_adds(&b, "?immutable=1");
	if (rc != DM_OK) {
		dm_buf_free(&b);
		return NULL;
	}
	return dm_buf_take(&b);
}

/* The read-only connection, with dm_sum() registered.  A handle serves one
 * thread at a time (query.h), so the connection takes no mutex: SQLite's
 * lock and unlock around every column read were 3 % of a report. */
static int
db_connect(struct dm_query *q, const char *name, int flags, const char *path,
    struct dm_error *err)
{
	int rc = sqlite3_open_v2(name, &q->db,
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | flags, NULL);

	if (rc != SQLITE_OK)
		return dm_error_setr(err, DM_EDB, "db_open",
		    _("%s: cannot open the database: %s"), path,
		    q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(q->db, 5000);
	if (sqlite3_create_function_v2(q->db, "dm_sum", 1,
	        SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, NULL, sum_step,
	        sum_final, NULL) != SQLITE_OK)
		return dm_error_set(
		    err, DM_ENOMEM, _("%s: out of memory"), path);
	return DM_OK;
}

/* An integer PRAGMA (the first read of the file): SQLite's result code when
 * it fails. */
static int
pragma_int(struct dm_query *q, const char *sql, int *app)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sqlite3_extended_errcode(q->db);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*app = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_OK : sqlite3_extended_errcode(q->db);
}

/*
 * A reader of a WAL database must be able to write its -shm file; one who may
 * read the database but not write its folder cannot.  When no -wal file is
 * there (no ingest is writing), everything is in the database file, and it is
 * read as immutable.  Otherwise it cannot be read safely now.
 */
static int
reopen_immutable(struct dm_query *q, const char *path, struct dm_error *err)
{
	char *wal, *uri;
	int rc, busy;

	if ((wal = dm_malloc(strlen(path) + 5)) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	snprintf(wal, strlen(path) + 5, "%s-wal", path);
	busy = access(wal, F_OK) == 0;
	dm_free(wal);
	if (busy)
		return dm_error_setr(err, DM_EDB, "db_open",
		    _("%s: cannot read the database while an ingest writes it "
		      "(its -wal file is there) without write access to its "
		      "folder; run this as the database's owner, or again once "
		      "the ingest is done"),
		    path);
	sqlite3_close(q->db);
	q->db = NULL;
	if ((uri = immutable_uri(path)) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	rc = db_connect(q, uri, SQLITE_OPEN_URI, path, err);
	dm_free(uri);
	return rc;
}

/* Opens path read-only: never written, whoever runs the report. */
static int
open_readonly(
    struct dm_query *q, const char *path, int *app, struct dm_error *err)
{
	int rc;

	if ((rc = db_connect(q, path, 0, path, err)) != DM_OK)
		return rc;
	rc = pragma_int(q, "PRAGMA application_id", app);
	if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) {
		if ((rc = reopen_immutable(q, path, err)) != DM_OK)
			return rc;
		rc = pragma_int(q, "PRAGMA application_id", app);
	}
	if (rc == SQLITE_OK)
		rc = pragma_int(q, "PRAGMA user_version", &q->version);
	if (rc != SQLITE_OK)
		return dm_error_setr(err, DM_EDB, "db_open",
		    _("%s: cannot read the database: %s"), path,
		    sqlite3_errmsg(q->db));
	return DM_OK;
}

/* ---- SQL functions ---- */

/* Bytes of s within DM_QUERY_TEXT_MAX characters, counted as SQLite's
 * substr() counts them (a byte from 0xc0 up takes the continuation bytes
 * after it), so that a cut in C and one in SQL agree. */
static size_t
clip_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = 0, chars = 0;

	while (s[n] != '\0' && chars < DM_QUERY_TEXT_MAX) {
		if (s[n++] >= 0xc0) {
			while ((s[n] & 0xc0) == 0x80)
				n++;
		}
		chars++;
	}
	return n;
}

/* dm_isp's value: org's ISP, its first n bytes (clipped as CLIP). */
static const char *
isp_of(struct dm_query *q, const char *org, size_t *n)
{
	const char *isp =
	    q->isp_name != NULL ? q->isp_name(q->isp_ctx, org) : org;

	*n = clip_len(isp);
	return isp;
}

static void
isp_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct dm_query *q = sqlite3_user_data(ctx);
	const char *org = (const char *)sqlite3_value_text(argv[0]), *isp;
	size_t n;

	(void)argc;
	if (org == NULL)
		org = "";
	if (q->have_last && strcmp(q->last_org.data, org) == 0) {
		sqlite3_result_text(ctx, q->last_isp.data, (int)q->last_isp.len,
		    SQLITE_TRANSIENT);
		return;
	}
	isp = isp_of(q, org, &n);
	/* The result first: isp may be org itself, which is kept next. */
	sqlite3_result_text(ctx, isp, (int)n, SQLITE_TRANSIENT);
	dm_buf_reset(&q->last_org);
	dm_buf_reset(&q->last_isp);
	q->have_last = dm_buf_adds(&q->last_org, org) == DM_OK &&
	               dm_buf_add(&q->last_isp, isp, n) == DM_OK;
}

static void
net_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct net_cache *c = sqlite3_user_data(ctx);
	const unsigned char *b = sqlite3_value_blob(argv[1]);
	const char *ip = (const char *)sqlite3_value_text(argv[0]);
	struct dm_ip_net net;
	size_t n, i;
	int in;

	(void)argc;
	if (b == NULL || sqlite3_value_bytes(argv[1]) != NET_BLOB ||
	    ip == NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	if (memcmp(c->net, b, NET_BLOB) != 0) {
		memcpy(c->net, b, NET_BLOB);
		for (i = 0; i < NET_CACHE_SLOTS; i++)
			c->slot[i].ip[0] = '\0';
	}
	n = strlen(ip);
	i = (size_t)dm_hash_str(ip) % NET_CACHE_SLOTS;
	if (n > 0 && n < NET_CACHE_TEXT && strcmp(c->slot[i].ip, ip) == 0) {
		sqlite3_result_int(ctx, c->slot[i].in);
		return;
	}
	net.family = b[0] == 6 ? AF_INET6 : AF_INET;
	net.bits = b[1];
	memcpy(net.addr, b + 2, sizeof(net.addr));
	in = dm_ip_net_contains(&net, ip);
	if (n > 0 && n < NET_CACHE_TEXT) {
		memcpy(c->slot[i].ip, ip, n + 1);
		c->slot[i].in = in;
	}
	sqlite3_result_int(ctx, in);
}

/*
 * The pairs of a filter, for dm_pair(source_ip, header_from, ?P_PAIR_SET):
 * whether a row's source and From domain (cut as CLIP cuts it) are one of
 * them, as `(source_ip, substr(header_from, 1, 255)) IN (VALUES ...)` says.
 * That IN cost a search of a temporary index per row (a third of `report
 * --last 30d`, whose pairs shown read every failing row of the period); the
 * pairs sorted, a binary search over them is a few comparisons.  Bound to
 * each statement as a pointer SQLite frees (bind_pairs).
 */
struct pair_key {
	const char *ip, *hf;
	size_t nip, nhf;
};

struct pair_set {
	size_t n;
	struct pair_key key[]; /* sorted: source_ip, then header_from bytes */
};

static int
bytes_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);

	return c != 0 ? c : na < nb ? -1 : na > nb;
}

static int
pair_key_cmp(const void *va, const void *vb)
{
	const struct pair_key *a = va, *b = vb;
	int c = bytes_cmp(a->ip, a->nip, b->ip, b->nip);

	return c != 0 ? c : bytes_cmp(a->hf, a->nhf, b->hf, b->nhf);
}

/* f's pairs as a pair_set (dm_free); NULL when out of memory. */
static struct pair_set *
pair_set_new(const struct dm_query_filter *f)
{
	struct pair_set *ps;
	size_t i, bytes = 0;
	char *text;

	for (i = 0; i < f->n_pairs; i++)
		bytes += strlen(f->pairs[i].source_ip) +
		         strlen(f->pairs[i].header_from) + 2;
	ps = dm_malloc(sizeof(*ps) + f->n_pairs * sizeof(ps->key[0]) + bytes);
	if (ps == NULL)
		return NULL;
	ps->n = f->n_pairs;
	text = (char *)&ps->key[f->n_pairs];
	for (i = 0; i < f->n_pairs; i++) {
		struct pair_key *k = &ps->key[i];

		k->nip = strlen(f->pairs[i].source_ip);
		k->nhf = strlen(f->pairs[i].header_from);
		k->ip = memcpy(text, f->pairs[i].source_ip, k->nip + 1);
		text += k->nip + 1;
		k->hf = memcpy(text, f->pairs[i].header_from, k->nhf + 1);
		text += k->nhf + 1;
	}
	qsort(ps->key, ps->n, sizeof(ps->key[0]), pair_key_cmp);
	return ps;
}

/* Whether k is one of ps. */
static int
pair_set_has(const struct pair_set *ps, const struct pair_key *k)
{
	size_t lo = 0, hi = ps->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = pair_key_cmp(k, &ps->key[mid]);

		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* f's pairs as a pair_set bound to ?P_PAIR_SET: DM_OK or DM_ENOMEM. */
static int
bind_pairs(sqlite3_stmt *st, const struct dm_query_filter *f)
{
	struct pair_set *ps = pair_set_new(f);

	if (ps == NULL)
		return DM_ENOMEM;
	return sqlite3_bind_pointer(
	           st, P_PAIR_SET, ps, "dm_pair_set", dm_free) == SQLITE_NOMEM
	           ? DM_ENOMEM
	           : DM_OK;
}

static void
pair_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct pair_set *ps =
	    sqlite3_value_pointer(argv[2], "dm_pair_set");
	struct pair_key k;

	(void)argc;
	if (ps == NULL) {
		sqlite3_result_error(ctx, "dm_pair: no pairs bound", -1);
		return;
	}
	/* Text only: the IN compared a blob or NULL with no text equal. */
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT ||
	    sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	k.ip = (const char *)sqlite3_value_text(argv[0]);
	k.nip = (size_t)sqlite3_value_bytes(argv[0]);
	k.hf = (const char *)sqlite3_value_text(argv[1]);
	k.nhf = clip_len(k.hf);
	/* A NUL inside the cut: substr() keeps it, no pair holds one. */
	if (k.ip == NULL || k.hf == NULL ||
	    (k.hf[k.nhf] == '\0' &&
	        k.nhf < (size_t)sqlite3_value_bytes(argv[1]))) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	sqlite3_result_int(ctx, pair_set_has(ps, &k));
}

static int
register_functions(struct dm_query *q)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;

	/* dm_sum() is registered by db_connect(). */
	if (sqlite3_create_function(q->db, "dm_isp", 1, flags, q, isp_func,
	        NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(q->db, "dm_in_net", 2, flags, &q->net_cache,
	        net_func, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(q->db, "dm_pair", 3, flags, NULL, pair_func,
	        NULL, NULL) != SQLITE_OK)
		return DM_EDB;
	return DM_OK;
}

/* ---- The handle ---- */

/* dm_query.fold_max: FOLD_GROUPS_MAX unless a test sets it. */
static size_t
fold_max(void)
{
	const char *v = getenv("DMARCSTAT_TEST_FOLD_MAX");
	char *end;
	unsigned long n;

	if (v == NULL || *v == '\0')
		return FOLD_GROUPS_MAX;
	n = strtoul(v, &end, 10);
	return *end == '\0' && n < FOLD_GROUPS_MAX ? (size_t)n
	                                           : FOLD_GROUPS_MAX;
}

/* A test hook's variable is set to anything but "" or "0". */
static int
env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "") != 0 && strcmp(v, "0") != 0;
}

int
dm_query_open(struct dm_query **out, const char *path, struct dm_error *err)
{
	struct dm_query *q;
	int rc, app = 0;

	*out = NULL;
	if ((q = dm_calloc(1, sizeof(*q))) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	q->ranges_meet = -1;
	dm_buf_init(&q->last_org, 1 << 12);
	dm_buf_init(&q->last_isp, 1 << 12);
	if (open_readonly(q, path, &app, err) != DM_OK)
		goto fail;
	if (app != 0 && app != DM_SQL_APPLICATION_ID) {
		dm_error_setr(err, DM_EDB, "db_schema",
		    _("%s: not a dmarcstat database: its application id is "
		      "0x%08x (another program's)"),
		    path, (unsigned)app);
		goto fail;
	}
	rc = sqlite3_exec(q->db,
	    "SELECT rollup_source.record FROM rollup_daily, rollup_source, "
	    "host LIMIT 0",
	    NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		dm_error_setr(err, DM_EDB, "db_schema",
		    _("%s: not a dmarcstat database with report rollups (%s); "
		      "run dmarcstat ingest with this build to create or "
		      "upgrade it"),
		    path, sqlite3_errmsg(q->db));
		goto fail;
	}
	/* Test hooks, documented at daily_only and by_records. */
	q->daily_only = env_set("DMARCSTAT_TEST_DAILY_ONLY");
	q->by_records = env_set("DMARCSTAT_TEST_BY_RECORDS");
	q->fold_max = fold_max();
	q->refs_sql = env_set("DMARCSTAT_TEST_REFS_SQL");
	if (register_functions(q) != DM_OK) {
		db_error(q, err, _("registering SQL functions"));
		goto fail;
	}
	*out = q;
	return DM_OK;
fail:
	dm_query_close(q);
	return err != NULL ? err->code : DM_EDB;
}

int
dm_query_set_isp_names(struct dm_query *q,
    const char *(*isp_name)(void *ctx, const char *org_name), void *ctx,
    struct dm_error *err)
{
	(void)err;
	q->isp_name = isp_name;
	q->isp_ctx = ctx;
	q->have_last = 0;
	return DM_OK;
}

int
dm_query_begin(struct dm_query *q, struct dm_error *err)
{
	/* BEGIN is deferred: the snapshot is taken by the first read, which
	 * this SELECT makes now rather than at the first section. */
	if (q->in_txn)
		return DM_OK;
	if (sqlite3_exec(q->db,
	        "BEGIN; SELECT count(*) FROM rollup_report "
	        "WHERE report < 0",
	        NULL, NULL, NULL) != SQLITE_OK) {
		db_error(q, err, "starting a read transaction");
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return DM_EDB;
	}
	q->in_txn = 1;
	return DM_OK;
}

void
dm_query_end(struct dm_query *q)
{
	if (q == NULL || !q->in_txn)
		return;
	sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	q->in_txn = 0;
	rank_rows_free(q->rank);
	q->rank = NULL;
}

void
dm_query_close(struct dm_query *q)
{
	if (q == NULL)
		return;
	dm_query_end(q);
	sqlite3_finalize(q->host);
	sqlite3_close(q->db);
	dm_buf_free(&q->last_org);
	dm_buf_free(&q->last_isp);
	dm_free(q);
}

/* ---- Building and binding the filter ---- */

static int
single_ip(const struct dm_query_filter *f)
{
	return f->net != NULL && dm_ip_net_single(f->net);
}

/* " AND (source_ip, header_from) IN (VALUES (?8, ?9), ...)" */
static int
pairs_sql(struct dm_buf *sql, const struct dm_query_filter *f, const char *t)
{
	(void)f;
	return dm_buf_addf(sql, " AND dm_pair(%ssource_ip, %sheader_from, ?%d)",
	    t, t, P_PAIR_SET);
}

/*
 * " AND ..." for the filter but its period; t is the table's alias with its
 * dot ("s.") or "".  net says whether the table has a source_ip; a single
 * address is the FROM clause's business (source_from).
 */
static int
filter_rest(
    struct dm_buf *sql, const struct dm_query_filter *f, const char *t, int net)
{
	int rc = DM_OK;

	if (f->domain != NULL)
		rc = dm_buf_addf(
		    sql, " AND (%sdomain = ?3 OR %sheader_from = ?3)", t, t);
	if (rc == DM_OK && f->reporter != NULL)
		rc = dm_buf_addf(sql,
		    " AND (dm_isp(%sorg_name) = ?4 COLLATE NOCASE OR "
		    "%sorg_name = ?4 COLLATE NOCASE)",
		    t, t);
	if (rc == DM_OK && net && f->net != NULL && !single_ip(f))
		rc = dm_buf_addf(sql, " AND dm_in_net(%ssource_ip, ?5)", t);
	if (rc == DM_OK && net && f->n_pairs > 0)
		rc = pairs_sql(sql, f, t);
	return rc;
}

/* " WHERE ..." for the filter, its period a range of day. */
static int
filter_sql(
    struct dm_buf *sql, const struct dm_query_filter *f, const char *t, int net)
{
	int rc = dm_buf_addf(sql, " WHERE %sday >= ?1 AND %sday < ?2", t, t);

	return rc == DM_OK ? filter_rest(sql, f, t, net) : rc;
}

/* DM_OK or DM_ENOMEM. */
static int
bind_filter(sqlite3_stmt *st, const struct dm_query_filter *f)
{
	unsigned char blob[NET_BLOB];
	char ip[DM_IP_TEXT_MAX];
	size_t i;

	for (i = 0; i < f->n_pairs; i++) {
		sqlite3_bind_text(st, (int)(P_PAIRS + 2 * i),
		    f->pairs[i].source_ip, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, (int)(P_PAIRS + 2 * i + 1),
		    f->pairs[i].header_from, -1, SQLITE_TRANSIENT);
	}
	if (f->n_pairs > 0 && bind_pairs(st, f) != DM_OK)
		return DM_ENOMEM;

	sqlite3_bind_int64(st, P_FROM, f->from);
	sqlite3_bind_int64(st, P_TO, f->to);
	if (f->domain != NULL)
		sqlite3_bind_text(
		    st, P_DOMAIN, f->domain, -1, SQLITE_TRANSIENT);
	if (f->reporter != NULL)
		sqlite3_bind_text(
		    st, P_REPORTER, f->reporter, -1, SQLITE_TRANSIENT);
	if (f->net == NULL)
		return DM_OK;
	if (single_ip(f)) {
		sqlite3_bind_text(st, P_IP,
		    dm_ip_net_addr(f->net, ip, sizeof(ip)), -1,
		    SQLITE_TRANSIENT);
		return DM_OK;
	}
	blob[0] = f->net->family == AF_INET6 ? 6 : 4;
	blob[1] = (unsigned char)f->net->bits;
	memcpy(blob + 2, f->net->addr, sizeof(f->net->addr));
	sqlite3_bind_blob(st, P_NET, blob, sizeof(blob), SQLITE_TRANSIENT);
	return DM_OK;
}

/*
 * rollup_source as a FROM clause, aliased s: with a single address, only that
 * address's rows, found through record(source_ip) (rollup_source's id is
 * record.id * DM_ROLLUP_SLOTS plus the day, schema.sql).  CROSS JOIN keeps
 * SQLite from starting at the period's index of failing rows once the query
 * joins record again (for its reports): that plan probes the address's
 * records for every row of the period.
 *
 * Failing rows are read through their partial index (FAILING_ROWS).  Every
 * row of a period is read by report (version 16, which dropped the index of
 * the day): the reports whose days may meet the period, found by their first
 * day (rollup_report_day0; a report covers at most DM_ROLLUP_SLOTS days), and
 * each report's rows as one range of ids, from its records' (report
 * first_record and last_record); the filter's day range picks the days out.
 */
/* The schema version that dropped rollup_source's index of the day. */
#define BY_REPORT_VERSION 16
#define SLOTS DM_SQL_INT(DM_ROLLUP_SLOTS)
#define DAY_SECS DM_SQL_INT(DM_DAY_SECONDS)
/* The reports whose days may meet the period [?1, ?2) (rr, with report p). */
#define PERIOD_REPORTS                                                         \
	"rr.day0 > ?1 - " SLOTS " * " DAY_SECS " AND rr.day0 < ?2 AND "        \
	"rr.day0 + (rr.ndays - 1) * " DAY_SECS " >= ?1"
/* Its ") s" is appended after the reporter filter (source_from). */
#define PERIOD_ROWS                                                            \
	" FROM (SELECT s.* FROM rollup_report rr CROSS JOIN report p ON "      \
	"p.id = rr.report CROSS JOIN rollup_source s ON s.id BETWEEN "         \
	"p.first_record * " SLOTS " AND (p.last_record + 1) * " SLOTS " - 1 "  \
	"WHERE " PERIOD_REPORTS

/*
 * The reporter filter on rollup_report rr, for the queries that look at
 * reports rather than the period's rollup rows (?4 is P_REPORTER, bound by
 * bind_filter like every filter parameter).
 */
#define RR_REPORTER                                                            \
	" AND (dm_isp(rr.org_name) = ?4 COLLATE NOCASE OR rr.org_name = ?4 "   \
	"COLLATE NOCASE)"

/* One address's rows, found through record(source_ip). */
#define ADDRESS_ROWS                                                           \
	" FROM (SELECT s.* FROM record r0 CROSS JOIN rollup_source s ON s.id " \
	"BETWEEN r0.id * " SLOTS " AND (r0.id + 1) * " SLOTS " - 1 WHERE "     \
	"r0.source_ip = ?6) s"

/* When their ranges meet, each row's record is checked to be the report's. */
#define OWN_ROWS                                                               \
	" AND EXISTS (SELECT 1 FROM record o WHERE o.id = s.record AND "       \
	"o.report = p.id)"

/*
 * 1 when two of the period's reports have id ranges that meet: possible with
 * records added with SQL (the store writes a report's records with
 * consecutive ids), and then a row would be read once per range that holds
 * it.  0 when they do not, -1 on error.  When they do not, a row read through
 * another report's range than its own is one of a report whose days miss the
 * period, which the filter's day range drops.
 */
static int
ranges_meet(struct dm_query *q, const struct dm_query_filter *f)
{
	sqlite3_stmt *st;

	if (q->ranges_meet >= 0 && q->ranges_from == f->from &&
	    q->ranges_to == f->to)
		return q->ranges_meet;
	if (sqlite3_prepare_v2(q->db,
	        "SELECT EXISTS (SELECT 1 FROM (SELECT p.first_record AS a, "
	        "max(p.last_record) OVER (ORDER BY p.first_record ROWS BETWEEN "
	        "UNBOUNDED PRECEDING AND 1 PRECEDING) AS b FROM rollup_report "
	        "rr JOIN report p ON p.id = rr.report WHERE " PERIOD_REPORTS
	        " AND p.first_record IS NOT NULL) WHERE a <= b)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, f->from);
	sqlite3_bind_int64(st, 2, f->to);
	q->ranges_meet =
	    sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	q->ranges_from = f->from;
	q->ranges_to = f->to;
	return q->ranges_meet;
}

/* Appends the FROM clause of rollup_source s (above); the reporter filter
 * also picks the reports of a period's rows.  A database before version 16
 * has the index of the day. */
static int
source_from(struct dm_query *q, struct dm_buf *sql,
    const struct dm_query_filter *f, int failing)
{
	int rc, meet;

	if (f->kept)
		return dm_buf_adds(sql, " FROM temp.kept_source s");
	if (single_ip(f))
		return dm_buf_adds(sql, ADDRESS_ROWS);
	if (failing || q->version < BY_REPORT_VERSION)
		return dm_buf_adds(sql, " FROM rollup_source s");
	if ((meet = ranges_meet(q, f)) < 0)
		return DM_EDB;
	rc = dm_buf_adds(sql, PERIOD_ROWS);
	if (rc == DM_OK && f->reporter != NULL)
		rc = dm_buf_adds(sql, RR_REPORTER);
	if (rc == DM_OK && meet)
		rc = dm_buf_adds(sql, OWN_ROWS);
	return rc == DM_OK ? dm_buf_adds(sql, ") s") : rc;
}

/* Prepares the text of sql (freed here) and binds the filter. */
static int
prepare(struct dm_query *q, struct dm_buf *sql, int rc,
    const struct dm_query_filter *f, sqlite3_stmt **st, struct dm_error *err)
{
	if (rc != DM_OK) {
		dm_buf_free(sql);
		return dm_error_set(
		    err, rc, "building a query: %s", dm_strerror(rc));
	}
	rc = sqlite3_prepare_v2(q->db, sql->data, -1, st, NULL);
	dm_buf_free(sql);
	if (rc != SQLITE_OK)
		return db_error(q, err, "preparing a report query");
	if (f != NULL && bind_filter(*st, f) != DM_OK) {
		sqlite3_finalize(*st);
		*st = NULL;
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	}
	return DM_OK;
}

/* head + filter + tail over rollup_daily (no address). */
static int
prepare_daily(struct dm_query *q, const struct dm_query_filter *f,
    const char *head, const char *tail, sqlite3_stmt **st, struct dm_error *err)
{
	struct dm_buf sql;
	int rc;

	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, head);
	if (rc == DM_OK)
		rc = filter_sql(&sql, f, "", 0);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, tail);
	return prepare(q, &sql, rc, f, st, err);
}

/* Spelt as schema.sql's partial index rollup_source_failing, so that SQLite
 * uses it. */
#define FAILING_ROWS                                                           \
	" AND ((s.dkim <> 'pass' AND s.spf <> 'pass') OR "                     \
	"s.disposition IN ('quarantine', 'reject'))"

/* head + rollup_source as s [+ join] + filter [+ failing] + tail. */
static int
prepare_source(struct dm_query *q, const struct dm_query_filter *f,
    const char *head, const char *join, int failing, const char *tail,
    sqlite3_stmt **st, struct dm_error *err)
{
	struct dm_buf sql;
	int rc;

	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, head);
	if (rc == DM_OK)
		rc = source_from(q, &sql, f, failing);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, join);
	if (rc == DM_OK)
		rc = filter_sql(&sql, f, "s.", 1);
	if (rc == DM_OK && failing)
		rc = dm_buf_adds(&sql, FAILING_ROWS);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, tail);
	return prepare(q, &sql, rc, f, st, err);
}

/* ---- The failing rows by month, ISO week and day ---- */

/*
 * A long period's failing rows are read from the coarsest rollup that
 * covers each part of it (schema.sql, version 11): its whole months from
 * rollup_failing_month, the whole ISO weeks of what is left from
 * rollup_failing_week, the ragged days from rollup_source (dm_query_split).
 * Each bucket row is the sum of the daily rows of one evidence (every
 * column a cause depends on, the source and the reporter) and bucket, with
 * its first and last day, so that whatever a query sums or classifies per
 * evidence, pair or ISP adds up the same from them as from the days: a year
 * reads about 50,000 rows instead of 3,300,000.  The days' rows of no
 * message are left out as the buckets leave them out.  What does not add
 * up over buckets (the reports behind a pair) is read from the days.
 */

/* The columns of each branch of the union, as s.<name> outside it. */
#define EVIDENCE_COLS                                                          \
	"s.org_name, s.domain, s.p, s.adkim, s.aspf, s.testing, s.source_ip, " \
	"s.header_from, s.envelope_from, s.envelope_to, s.disposition, "       \
	"s.dkim, s.spf, s.dkim_auth, s.spf_auth, s.reasons, s.messages"

/* The period's runs of months, weeks and days (all days: at a schema
 * before version 11, or with the test hook). */
static size_t
failing_runs(const struct dm_query *q, const struct dm_query_filter *f,
    struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX])
{
	if (q->version >= 11 && !q->daily_only)
		return dm_query_split(f->from, f->to, seg);
	if (f->from >= f->to)
		return 0;
	seg[0].unit = DM_QUERY_DAYS;
	seg[0].from = f->from;
	seg[0].to = f->to;
	return 1;
}

/* The failing rows of f read by runs: rows kept (dm_query_keep) and a
 * single address (its records) are read as they are. */
static int
by_runs(const struct dm_query_filter *f)
{
	return !f->kept && !single_ip(f);
}

/* The parameter of run i's first day; the day after it is the next. */
static size_t
run_param(const struct dm_query_filter *f, size_t i)
{
	return (size_t)P_PAIRS + 2 * f->n_pairs + 2 * i;
}

/*
 * " FROM (<a branch per run> UNION ALL ...) s": each branch the run's rows
 * that pass the filter, with messages, first_day and last_day.  A run's
 * bounds are numbered after the filter's (run_param).
 */
static int
runs_from(struct dm_buf *sql, const struct dm_query_filter *f,
    const struct dm_query_segment *seg, size_t n)
{
	size_t i;
	int rc = dm_buf_adds(sql, " FROM (");

	for (i = 0; rc == DM_OK && i < n; i++) {
		size_t a = run_param(f, i);

		if (i > 0)
			rc = dm_buf_adds(sql, " UNION ALL ");
		if (rc != DM_OK)
			break;
		if (seg[i].unit == DM_QUERY_DAYS)
			rc = dm_buf_addf(sql,
			    "SELECT " EVIDENCE_COLS ", s.day AS first_day, "
			    "s.day AS last_day FROM rollup_source s WHERE "
			    "s.day >= ?%zu AND s.day < ?%zu" FAILING_ROWS
			    " AND s.messages > 0",
			    a, a + 1);
		else
			rc = dm_buf_addf(sql,
			    "SELECT " EVIDENCE_COLS ", s.first_day, "
			    "s.last_day FROM %s s WHERE s.start >= ?%zu AND "
			    "s.start < ?%zu",
			    seg[i].unit == DM_QUERY_MONTHS
			        ? "rollup_failing_month"
			        : "rollup_failing_week",
			    a, a + 1);
		if (rc == DM_OK)
			rc = filter_rest(sql, f, "s.", 1);
	}
	/* No run (an empty period): a branch of no row. */
	if (rc == DM_OK && n == 0)
		rc = dm_buf_adds(sql,
		    "SELECT " EVIDENCE_COLS ", 0 AS first_day, 0 AS last_day "
		    "FROM rollup_source s WHERE 0");
	return rc == DM_OK ? dm_buf_adds(sql, ") s") : rc;
}

static void
bind_runs(sqlite3_stmt *st, const struct dm_query_filter *f,
    const struct dm_query_segment *seg, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(st, (int)run_param(f, i), seg[i].from);
		sqlite3_bind_int64(st, (int)run_param(f, i) + 1, seg[i].to);
	}
}

/* head + the failing rows of f by runs, as s [+ join] + tail. */
static int
prepare_runs(struct dm_query *q, const struct dm_query_filter *f,
    const char *head, const char *join, const char *tail, sqlite3_stmt **st,
    struct dm_error *err)
{
	struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX];
	size_t n = failing_runs(q, f, seg);
	struct dm_buf sql;
	int rc;

	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, head);
	if (rc == DM_OK)
		rc = runs_from(&sql, f, seg, n);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, join);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, tail);
	if ((rc = prepare(q, &sql, rc, f, st, err)) == DM_OK)
		bind_runs(*st, f, seg, n);
	return rc;
}

/* ---- rollup_daily by month and day ---- */

/*
 * A long period's rollup_daily rows are read as its whole calendar months
 * from rollup_daily_month (schema.sql, version 15) and its ragged days from
 * rollup_daily, one UNION ALL: each month row is the sum of the month's
 * daily rows of one reporter, policy domain and From domain, with the last
 * day that had a row and its policy, and the last day that had mail, so
 * that the ISPs, the domains and the reporters add up the same from them as
 * from the days (a year: 2,640 rows instead of 80,300 here).  Every branch
 * has the columns of DAILY_COLS, with day (a month's first day), last_day
 * and mail_day.
 */
#define DAILY_COLS                                                             \
	"org_name, domain, header_from, p, sp, pct, messages, dmarc_pass, "    \
	"quarantined, rejected, blocked_pass"

/* Runs of months and days of [from, to) appended to seg from *n (all days:
 * at a schema before version 15, or with the test hook). */
static void
daily_runs(const struct dm_query *q, int64_t from, int64_t to,
    struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX * 2], size_t *n)
{
	if (from >= to)
		return;
	if (q->version >= 15 && !q->daily_only) {
		*n += dm_query_split_months(from, to, seg + *n);
		return;
	}
	seg[*n].unit = DM_QUERY_DAYS;
	seg[*n].from = from;
	seg[*n].to = to;
	(*n)++;
}

/* " FROM (<a branch per run> UNION ALL ...)": the runs' rows that pass the
 * filter, bounds numbered as run_param. */
static int
daily_from(struct dm_buf *sql, const struct dm_query_filter *f,
    const struct dm_query_segment *seg, size_t n)
{
	size_t i;
	int rc = dm_buf_adds(sql, " FROM (");

	for (i = 0; rc == DM_OK && i < n; i++) {
		size_t a = run_param(f, i);

		if (i > 0 && (rc = dm_buf_adds(sql, " UNION ALL ")) != DM_OK)
			break;
		if (seg[i].unit == DM_QUERY_MONTHS)
			rc = dm_buf_addf(sql,
			    "SELECT " DAILY_COLS ", start AS day, last_day, "
			    "mail_day FROM rollup_daily_month WHERE start >= "
			    "?%zu AND start < ?%zu",
			    a, a + 1);
		else
			rc = dm_buf_addf(sql,
			    "SELECT " DAILY_COLS ", day, day AS last_day, CASE "
			    "WHEN messages > 0 THEN day END AS mail_day FROM "
			    "rollup_daily WHERE day >= ?%zu AND day < ?%zu",
			    a, a + 1);
		if (rc == DM_OK)
			rc = filter_rest(sql, f, "", 0);
	}
	if (rc == DM_OK && n == 0)
		rc = dm_buf_adds(sql,
		    "SELECT " DAILY_COLS ", day, day AS last_day, day AS "
		    "mail_day FROM rollup_daily WHERE 0");
	return rc == DM_OK ? dm_buf_adds(sql, ")") : rc;
}

/* head + the rollup_daily rows of [f->from, split) and [split, f->to) by
 * months and days + tail; split outside the period: one part. */
static int
prepare_daily_runs(struct dm_query *q, const struct dm_query_filter *f,
    int64_t split, const char *head, const char *tail, sqlite3_stmt **st,
    struct dm_error *err)
{
	struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX * 2];
	int64_t mid = split < f->from ? f->from : split > f->to ? f->to : split;
	size_t n = 0;
	struct dm_buf sql;
	int rc;

	daily_runs(q, f->from, mid, seg, &n);
	daily_runs(q, mid, f->to, seg, &n);
	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, head);
	if (rc == DM_OK)
		rc = daily_from(&sql, f, seg, n);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, tail);
	if ((rc = prepare(q, &sql, rc, f, st, err)) == DM_OK)
		bind_runs(*st, f, seg, n);
	return rc;
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

/* Steps st to the end, calling row(ctx) per row; finalizes st. */
static int
run(struct dm_query *q, sqlite3_stmt *st,
    int (*row)(sqlite3_stmt *, void *, struct dm_error *), void *ctx,
    struct dm_error *err)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = row(st, ctx, err);

		if (r != DM_OK) {
			sqlite3_finalize(st);
			return r;
		}
	}
	if (rc != SQLITE_DONE) {
		db_error(q, err, "reading report rollups");
		sqlite3_finalize(st);
		return DM_EDB;
	}
	sqlite3_finalize(st);
	return DM_OK;
}

/* A callback and its context: what each row function is handed. */
struct cb_ctx {
	union {
		dm_query_name_cb name;
		dm_query_day_cb day;
		dm_query_isp_cb isp;
		dm_query_domain_cb domain;
		dm_query_pair_cb pair;
		dm_query_new_source_cb new_source;
		dm_query_report_ref_cb ref;
		dm_query_host_cb host;
	} cb;
	void *ctx;
};

/* ---- Rows summed in C ---- */

/*
 * The summed variants of dm_query_sources group the rows by the 16 evidence
 * columns, and the ranking of dm_query_pairs by source, From domain and ISP.
 * SQLite groups by sorting every row on its keys: 0.3 s of CPU of `report
 * --last 30d` for the evidence alone (40,200 rows of about 120 bytes into 920
 * groups).  A hash table of the keys sums the rows in one pass and only the
 * groups are sorted.  Keys are equal when every column has the same type and
 * bytes, as GROUP BY compares these columns (no collation but BINARY), the
 * sums are dm_sum's, min's and max's, and the groups are ordered as the
 * query's ORDER BY orders them, so the rows handed on are the same.  What
 * the fold cannot follow gives up and SQLite groups instead: a key that is
 * neither text nor a blob (the store writes text), more than FOLD_GROUPS_MAX
 * groups or FOLD_BYTES_MAX bytes of keys (memory stays that of the sorter),
 * a probe longer than FOLD_PROBES_MAX (keys chosen to collide cost no more
 * than that per row).
 */
#define FOLD_KEYS_MAX 16
#define FOLD_BYTES_MAX ((size_t)16 << 20)
#define FOLD_PROBES_MAX 64
#define FOLD_SUMS_MAX 9
#define FOLD_GIVE_UP 2 /* not a dm_status: the caller runs the SQL */

/* What a statement's rows are: nkeys key columns, then nsums summed, then
 * (days) a first and a last day; ordered by sum 0 descending (by_m), then
 * by the keys in order. */
struct fold_spec {
	int nkeys, nsums, days, by_m;
	const unsigned char *order;
};

struct fold_group {
	const struct fold_spec *spec;
	size_t off; /* the key in fold.keys: columns NUL-ended */
	uint32_t at[FOLD_KEYS_MAX];  /* column i's offset from off */
	uint32_t len[FOLD_KEYS_MAX]; /* and its bytes */
	unsigned char type[FOLD_KEYS_MAX];
	uint64_t hash;
	int64_t sum[FOLD_SUMS_MAX], first, last;
	unsigned char any[FOLD_SUMS_MAX], any_day;
	const char *key; /* keys.data + off, once keys no longer grow */
};

struct fold {
	const struct fold_spec *spec;
	struct fold_group *g;
	size_t n, cap, max; /* max: dm_query.fold_max */
	uint32_t *slot;     /* group index + 1; 0 is empty */
	size_t nslot;       /* a power of two, at least four times n */
	struct dm_buf keys;
	struct fold_group **order; /* the groups sorted (fold_run) */
	size_t last;               /* the group of the row added last */
	const char *v[FOLD_KEYS_MAX];
	int len[FOLD_KEYS_MAX], type[FOLD_KEYS_MAX];
};

static uint64_t
fold_hash(const struct fold *f)
{
	uint64_t h = DM_HASH_INIT;
	int i, k;

	for (i = 0; i < f->spec->nkeys; i++) {
		for (k = 0; k < f->len[i]; k++)
			h = (h ^ (unsigned char)f->v[i][k]) * 1099511628211ULL;
		/* The type and the end, so that "ab","c" is not "a","bc". */
		h = (h ^ (uint64_t)(f->type[i] + 256)) * 1099511628211ULL;
	}
	return h;
}

static int
fold_same(const struct fold *f, const struct fold_group *g, uint64_t h)
{
	int i;

	if (g->hash != h)
		return 0;
	for (i = 0; i < f->spec->nkeys; i++)
		if (g->type[i] != f->type[i] ||
		    g->len[i] != (uint32_t)f->len[i] ||
		    memcmp(f->keys.data + g->off + g->at[i], f->v[i],
		        (size_t)f->len[i]) != 0)
			return 0;
	return 1;
}

static int
fold_rehash(struct fold *f, size_t nslot)
{
	uint32_t *slot = dm_malloc(nslot * sizeof(*slot));
	size_t i;

	if (slot == NULL)
		return DM_ENOMEM;
	memset(slot, 0, nslot * sizeof(*slot));
	for (i = 0; i < f->n; i++) {
		size_t j = (size_t)f->g[i].hash & (nslot - 1);

		while (slot[j] != 0)
			j = (j + 1) & (nslot - 1);
		slot[j] = (uint32_t)(i + 1);
	}
	dm_free(f->slot);
	f->slot = slot;
	f->nslot = nslot;
	return DM_OK;
}

/* Room for one more element after n in *arr (*cap of them), doubling. */
static int
grow_more(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap == 0 ? 1024 : 2 * *cap;
	void *p;

	if (n < *cap)
		return DM_OK;
	if ((p = dm_realloc(*arr, c * size)) == NULL)
		return DM_ENOMEM;
	*arr = p;
	*cap = c;
	return DM_OK;
}

/* A new group for the row's key in slot j, its columns copied into
 * f->keys. */
static int
fold_new(struct fold *f, uint64_t h, size_t j, struct fold_group **out)
{
	struct fold_group *g;
	int rc, i;

	if (f->n == f->max)
		return FOLD_GIVE_UP;
	if (grow_more((void **)&f->g, &f->cap, f->n, sizeof(*f->g)) != DM_OK)
		return DM_ENOMEM;
	g = &f->g[f->n];
	memset(g, 0, sizeof(*g));
	g->spec = f->spec;
	g->hash = h;
	g->off = f->keys.len;
	for (i = 0; i < f->spec->nkeys; i++) {
		g->at[i] = (uint32_t)(f->keys.len - g->off);
		g->len[i] = (uint32_t)f->len[i];
		g->type[i] = (unsigned char)f->type[i];
		if ((rc = dm_buf_add(&f->keys, f->v[i], (size_t)f->len[i])) !=
		        DM_OK ||
		    (rc = dm_buf_add(&f->keys, "", 1)) != DM_OK)
			return rc == DM_ELIMIT ? FOLD_GIVE_UP : rc;
	}
	f->slot[j] = (uint32_t)(++f->n);
	*out = g;
	return 4 * f->n > f->nslot ? fold_rehash(f, 2 * f->nslot) : DM_OK;
}

/* Adds the row of st to its group's sums. */
static int
fold_row(struct fold *f, sqlite3_stmt *st)
{
	const struct fold_spec *sp = f->spec;
	struct fold_group *g = NULL;
	uint64_t h;
	size_t j, probes;
	int i, c, rc;

	for (i = 0; i < sp->nkeys; i++) {
		f->type[i] = sqlite3_column_type(st, i);
		if (f->type[i] != SQLITE_TEXT && f->type[i] != SQLITE_BLOB)
			return FOLD_GIVE_UP;
		f->v[i] = f->type[i] == SQLITE_TEXT
		              ? (const char *)sqlite3_column_text(st, i)
		              : sqlite3_column_blob(st, i);
		f->len[i] = sqlite3_column_bytes(st, i);
		if (f->v[i] == NULL)
			f->v[i] = "";
	}
	h = fold_hash(f);
	for (j = (size_t)h & (f->nslot - 1), probes = 0; f->slot[j] != 0;
	     j = (j + 1) & (f->nslot - 1)) {
		if (fold_same(f, &f->g[f->slot[j] - 1], h)) {
			g = &f->g[f->slot[j] - 1];
			break;
		}
		if (++probes == FOLD_PROBES_MAX)
			return FOLD_GIVE_UP;
	}
	if (g == NULL && (rc = fold_new(f, h, j, &g)) != DM_OK)
		return rc;
	f->last = (size_t)(g - f->g);
	/* As dm_sum(), min(first day) and max(last day). */
	for (i = 0, c = sp->nkeys; i < sp->nsums; i++, c++)
		if (sqlite3_column_type(st, c) != SQLITE_NULL) {
			g->sum[i] = dm_count_add(
			    g->sum[i], sqlite3_column_int64(st, c));
			g->any[i] = 1;
		}
	if (sp->days && sqlite3_column_type(st, c) != SQLITE_NULL) {
		int64_t a = sqlite3_column_int64(st, c),
		        b = sqlite3_column_int64(st, c + 1);

		g->first = g->any_day && g->first < a ? g->first : a;
		g->last = g->any_day && g->last > b ? g->last : b;
		g->any_day = 1;
	}
	return DM_OK;
}

/* The spec's order: sum 0 descending (no value last), then the keys, each by
 * type (text before blob) and bytes, a shorter prefix first, as BINARY. */
static int
fold_cmp(const void *va, const void *vb)
{
	const struct fold_group *a = *(struct fold_group *const *)va,
	                        *b = *(struct fold_group *const *)vb;
	const struct fold_spec *sp = a->spec;
	int i;

	if (sp->by_m && a->any[0] != b->any[0])
		return a->any[0] ? -1 : 1;
	if (sp->by_m && a->sum[0] != b->sum[0])
		return a->sum[0] > b->sum[0] ? -1 : 1;
	for (i = 0; i < sp->nkeys; i++) {
		int k = sp->order[i], c;
		uint32_t la = a->len[k], lb = b->len[k];

		if (a->type[k] != b->type[k])
			return a->type[k] < b->type[k] ? -1 : 1;
		c = memcmp(
		    a->key + a->at[k], b->key + b->at[k], la < lb ? la : lb);
		if (c != 0)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	return 0;
}

static void
fold_free(struct fold *f)
{
	dm_free(f->g);
	dm_free(f->slot);
	dm_free(f->order);
	dm_buf_free(&f->keys);
}

/* Steps st to the end into groups, finalizes it and sorts the groups into
 * f->order; FOLD_GIVE_UP when SQLite must group the rows instead.  each, when
 * not NULL, is called after each row is added (f->last its group).  The
 * caller frees f (fold_free) whatever the result. */
static int
fold_run(struct dm_query *q, sqlite3_stmt *st, const struct fold_spec *spec,
    struct fold *f, int (*each)(void *, sqlite3_stmt *, const struct fold *),
    void *ctx, struct dm_error *err)
{
	int rc = SQLITE_DONE, r;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->spec = spec;
	f->max = q->fold_max;
	dm_buf_init(&f->keys, FOLD_BYTES_MAX);
	r = fold_rehash(f, 4096);
	while (r == DM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = fold_row(f, st)) == DM_OK && each != NULL)
			r = each(ctx, st, f);
	if (r == DM_OK && rc != SQLITE_DONE)
		r = db_error(q, err, "reading report rollups");
	sqlite3_finalize(st);
	if (r == DM_OK &&
	    (f->order = dm_malloc((f->n + 1) * sizeof(*f->order))) == NULL)
		r = DM_ENOMEM;
	if (r == DM_ENOMEM)
		return dm_error_set(err, r, _("out of memory"));
	if (r != DM_OK)
		return r;
	for (i = 0; i < f->n; i++) {
		f->g[i].key = f->keys.data + f->g[i].off;
		f->order[i] = &f->g[i];
	}
	qsort(f->order, f->n, sizeof(*f->order), fold_cmp);
	return DM_OK;
}

/* Group g's key column k. */
static const char *
fold_key(const struct fold_group *g, int k)
{
	return g->key + g->at[k];
}

/* HAVING m > 0 (sum 0) when failing: a failure of no message is none. */
static int
fold_having(const struct fold_group *g, int failing)
{
	return !failing || (g->any[0] && g->sum[0] > 0);
}

/* A pair of keys source_ip, From domain, ISP and messages in sum 0; the
 * rest 0. */
static void
fold_pair(const struct fold_group *g, struct dm_query_pair *p)
{
	memset(p, 0, sizeof(*p));
	p->source_ip = fold_key(g, 0);
	p->header_from = fold_key(g, 1);
	p->isp = fold_key(g, 2);
	p->messages = g->sum[0];
}

/* ---- Reporters ---- */

static int
name_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;

	return c->cb.name(c->ctx, col_text(st, 0), err);
}

static const unsigned char name_order[1] = {0};

static const struct fold_spec name_spec = {.nkeys = 1, .order = name_order};

/* The distinct names were a sort of every report's row (0.05 s of each
 * report of the benchmark's 100,000 reports); folded, a pass. */
int
dm_query_org_names(
    struct dm_query *q, dm_query_name_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	struct fold fold;
	struct dm_buf sql;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	c.cb.name = cb;
	if (q->fold_max > 0) {
		if (sqlite3_prepare_v2(q->db,
		        "SELECT org_name FROM rollup_report", -1, &st,
		        NULL) != SQLITE_OK)
			return db_error(q, err, "reading report rollups");
		rc = fold_run(q, st, &name_spec, &fold, NULL, NULL, err);
		for (i = 0; rc == DM_OK && i < fold.n; i++)
			rc = cb(ctx, fold_key(fold.order[i], 0), err);
		fold_free(&fold);
		if (rc != FOLD_GIVE_UP)
			return rc;
	}
	dm_buf_init(&sql, 1 << 10);
	rc = dm_buf_adds(
	    &sql, "SELECT DISTINCT org_name FROM rollup_report ORDER BY 1");
	if ((rc = prepare(q, &sql, rc, NULL, &st, err)) != DM_OK)
		return rc;
	return run(q, st, name_row, &c, err);
}

int
dm_query_period_org_names(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_name_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.name = cb;
	rc = prepare_daily_runs(
	    q, f, f->from, "SELECT DISTINCT org_name", " ORDER BY 1", &st, err);
	return rc == DM_OK ? run(q, st, name_row, &c, err) : rc;
}

/* ---- Days, ISPs, domains (rollup_daily) ---- */

static int
day_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_query_day d;

	d.day = sqlite3_column_int64(st, 0);
	d.messages = sqlite3_column_int64(st, 1);
	d.dmarc_pass = sqlite3_column_int64(st, 2);
	d.quarantined = sqlite3_column_int64(st, 3);
	d.rejected = sqlite3_column_int64(st, 4);
	d.blocked_pass = sqlite3_column_int64(st, 5);
	return c->cb.day(c->ctx, &d, err);
}

#define DAY_SUMS                                                               \
	"SELECT day, dm_sum(messages), dm_sum(dmarc_pass), "                   \
	"dm_sum(quarantined), dm_sum(rejected), dm_sum(blocked_pass)"

int
dm_query_days(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_day_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.day = cb;
	rc = prepare_daily(q, f, DAY_SUMS " FROM rollup_daily",
	    " GROUP BY day ORDER BY day", &st, err);
	return rc == DM_OK ? run(q, st, day_row, &c, err) : rc;
}

int
dm_query_days_months(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_day_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.day = cb;
	rc = prepare_daily_runs(
	    q, f, f->from, DAY_SUMS, " GROUP BY day ORDER BY day", &st, err);
	return rc == DM_OK ? run(q, st, day_row, &c, err) : rc;
}

static int
isp_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_query_isp i;

	i.isp = col_text(st, 0);
	i.messages = sqlite3_column_int64(st, 1);
	i.dmarc_pass = sqlite3_column_int64(st, 2);
	i.quarantined = sqlite3_column_int64(st, 3);
	i.rejected = sqlite3_column_int64(st, 4);
	i.prev_messages = sqlite3_column_int64(st, 5);
	i.last_day = sqlite3_column_int64(st, 6);
	i.blocked_pass = sqlite3_column_int64(st, 7);
	return c->cb.isp(c->ctx, &i, err);
}

int
dm_query_isps(struct dm_query *q, const struct dm_query_filter *f,
    int64_t split, dm_query_isp_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.isp = cb;
	/* Each side of split is read by runs of its own: a month run's day
	   (its first) is on the side of all its days. */
	rc = prepare_daily_runs(q, f, split,
	    "SELECT dm_isp(org_name) AS isp, "
	    "dm_sum(CASE WHEN day >= ?7 THEN messages END) AS m, "
	    "dm_sum(CASE WHEN day >= ?7 THEN dmarc_pass END), "
	    "dm_sum(CASE WHEN day >= ?7 THEN quarantined END), "
	    "dm_sum(CASE WHEN day >= ?7 THEN rejected END), "
	    "dm_sum(CASE WHEN day < ?7 THEN messages END) AS pm, "
	    "ifnull(max(mail_day), 0), "
	    "dm_sum(CASE WHEN day >= ?7 THEN blocked_pass END)",
	    " GROUP BY 1 HAVING m > 0 OR pm > 0 ORDER BY m DESC, pm DESC, 1",
	    &st, err);
	if (rc != DM_OK)
		return rc;
	sqlite3_bind_int64(st, P_SPLIT, split);
	return run(q, st, isp_row, &c, err);
}

static int
domain_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_query_domain d;

	d.header_from = col_text(st, 0);
	d.domain = col_text(st, 1);
	d.last_day = sqlite3_column_int64(st, 2);
	d.p = col_text(st, 3);
	d.sp = col_text(st, 4);
	d.pct = sqlite3_column_type(st, 5) == SQLITE_NULL
	            ? -1
	            : sqlite3_column_int64(st, 5);
	d.messages = sqlite3_column_int64(st, 6);
	d.dmarc_pass = sqlite3_column_int64(st, 7);
	d.quarantined = sqlite3_column_int64(st, 8);
	d.rejected = sqlite3_column_int64(st, 9);
	return c->cb.domain(c->ctx, &d, err);
}

/* clang-format off */
#define DOMAINS_HEAD                                                           \
	"SELECT " CLIP("CASE WHEN header_from <> '' THEN header_from ELSE "    \
	"domain END") " AS hf, " CLIP("domain") ", max(last_day), "            \
	CLIP("p") ", " CLIP("sp") ", pct, dm_sum(messages) AS m, "             \
	"dm_sum(dmarc_pass), dm_sum(quarantined) AS q, dm_sum(rejected) AS r"
/* clang-format on */

int
dm_query_domains(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_domain_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.domain = cb;
	/* p, sp and pct are bare columns: SQLite takes them from the row of
	 * max(last_day), the policy published last (a month row holds its
	 * last day's). */
	rc = prepare_daily_runs(q, f, f->from, DOMAINS_HEAD,
	    " GROUP BY 1, 2 ORDER BY ifnull(q, 0) + ifnull(r, 0) DESC, m DESC, "
	    "1, 2",
	    &st, err);
	return rc == DM_OK ? run(q, st, domain_row, &c, err) : rc;
}

/* ---- Pairs ---- */

/* Rows of rollup_source in reports starting in [?1, ?2) (after: from ?2
 * on), as the reports' record counts and days say. */
#define ROWS_OF_REPORTS(cond)                                                  \
	"SELECT ifnull(sum(p.record_count * max(rr.ndays, 1)), 0) FROM "       \
	"rollup_report rr JOIN report p ON p.id = rr.report WHERE " cond

/* One integer from sql with ?1 and ?2 the period, ?3 a bound; -1 on error. */
static int64_t
int_query(struct dm_query *q, const char *sql, const struct dm_query_filter *f,
    int64_t bound)
{
	sqlite3_stmt *st;
	int64_t v;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, f->from);
	sqlite3_bind_int64(st, 2, f->to);
	sqlite3_bind_int64(st, 3, bound);
	v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

static void
pair_fill(sqlite3_stmt *st, struct dm_query_pair *row)
{
	struct dm_query_pair p;

	p.source_ip = col_text(st, 0);
	p.header_from = col_text(st, 1);
	p.isp = col_text(st, 2);
	p.messages = sqlite3_column_int64(st, 3);
	p.dmarc_pass = sqlite3_column_int64(st, 4);
	p.quarantined = sqlite3_column_int64(st, 5);
	p.rejected = sqlite3_column_int64(st, 6);
	p.spf_raw_pass = sqlite3_column_int64(st, 7);
	p.spf_aligned_pass = sqlite3_column_int64(st, 8);
	p.dkim_raw_pass = sqlite3_column_int64(st, 9);
	p.dkim_aligned_pass = sqlite3_column_int64(st, 10);
	p.first_day = sqlite3_column_int64(st, 11);
	p.last_day = sqlite3_column_int64(st, 12);
	p.reports = sqlite3_column_int64(st, 13);
	p.blocked_pass = sqlite3_column_int64(st, 14);
	*row = p;
}

static int
pair_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_query_pair p;

	pair_fill(st, &p);
	return c->cb.pair(c->ctx, &p, err);
}

/* The sums of dm_query_pairs, after its grouping columns. */
/* clang-format off */
#define PAIR_SUMS                                                              \
	"dm_sum(s.messages) AS m, "                                            \
	"dm_sum(CASE WHEN s.dkim = 'pass' OR s.spf = 'pass' THEN s.messages "  \
	"END), "                                                               \
	"dm_sum(CASE WHEN s.disposition = 'quarantine' THEN s.messages END) "  \
	"AS qn, "                                                              \
	"dm_sum(CASE WHEN s.disposition = 'reject' THEN s.messages END) AS "   \
	"rj, "                                                                 \
	"dm_sum(CASE WHEN " RAW_PASS("s.spf_auth") " THEN s.messages END), "    \
	"dm_sum(CASE WHEN s.spf = 'pass' THEN s.messages END), "               \
	"dm_sum(CASE WHEN " RAW_PASS("s.dkim_auth") " THEN s.messages END), "   \
	"dm_sum(CASE WHEN s.dkim = 'pass' THEN s.messages END), "              \
	"%s, %s, "                                                          \
	"dm_sum(CASE WHEN (s.dkim = 'pass' OR s.spf = 'pass') AND "            \
	"s.disposition IN ('quarantine', 'reject') THEN s.messages END)"
/* clang-format on */

/* DM_QUERY_RANK's sums, in PAIR_SUMS's columns. */
#define RANK_SUMS                                                              \
	"dm_sum(s.messages) AS m, 0, "                                         \
	"dm_sum(CASE WHEN s.disposition = 'quarantine' THEN s.messages END) "  \
	"AS qn, "                                                              \
	"dm_sum(CASE WHEN s.disposition = 'reject' THEN s.messages END) AS "   \
	"rj, 0, 0, 0, 0, 0, 0, %s, 0"

/*
 * The reports behind the pairs of f and their ISPs, from the records of the
 * pairs' addresses (record(source_ip)) and their reports' days
 * (rollup_report): the reports count once per pair, so they cannot be
 * summed over buckets.  A record has a rollup_source row on each day of its
 * report, and those rows carry its source, From domain, results and
 * disposition, so a report has a failing row of the pair in the period
 * exactly when it has a failing record of the pair and covers a day of the
 * period: the same reports as count(DISTINCT r.report) over the period's
 * rows, without reading them.  Ordered as dm_query_pairs: source_ip,
 * header_from, ISP.
 */
#define RECORD_FAILING                                                         \
	"((ifnull(r.dkim, '') <> 'pass' AND ifnull(r.spf, '') <> 'pass') OR "  \
	"r.disposition IN ('quarantine', 'reject'))"

/* clang-format off */
#define RECORD_HF CLIP("ifnull(r.header_from, '')")
#define RECORDS_HEAD                                                           \
	"SELECT r.source_ip, " RECORD_HF ", dm_isp(rr.org_name), "            \
	"count(DISTINCT r.report) FROM record r JOIN rollup_report rr ON "     \
	"rr.report = r.report WHERE r.source_ip IN ("
/* clang-format on */

/* "?8, ?10, ...": the pairs' addresses. */
static int
pair_ips_sql(struct dm_buf *sql, const struct dm_query_filter *f)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; rc == DM_OK && i < f->n_pairs; i++)
		rc = dm_buf_addf(
		    sql, "%s?%zu", i > 0 ? ", " : "", (size_t)P_PAIRS + 2 * i);
	return rc;
}

static int
records_sql(struct dm_buf *sql, const struct dm_query_filter *f)
{
	int rc = dm_buf_adds(sql, RECORDS_HEAD);

	if (rc == DM_OK)
		rc = pair_ips_sql(sql, f);
	if (rc == DM_OK)
		rc = dm_buf_adds(sql,
		    ") AND rr.day0 < ?2 AND rr.day0 + rr.ndays * " DM_SQL_INT(
		        DM_DAY_SECONDS) " > ?1 AND " RECORD_FAILING);
	if (rc == DM_OK && f->domain != NULL)
		rc = dm_buf_adds(sql,
		    " AND (rr.domain = ?3 OR ifnull(r.header_from, '') = ?3)");
	if (rc == DM_OK && f->reporter != NULL)
		rc = dm_buf_adds(sql, RR_REPORTER);
	if (rc == DM_OK && f->net != NULL)
		rc = dm_buf_adds(sql, " AND dm_in_net(r.source_ip, ?5)");
	if (rc == DM_OK)
		rc = pairs_sql(sql, f, "r.");
	return rc == DM_OK
	           ? dm_buf_adds(sql, " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
	           : rc;
}

/*
 * The reports behind the pairs shown, per source, From domain and ISP, in
 * the order of ORDER BY 1, 2, 3: the rows the pairs' rows are merged with
 * (merge_row).  Strings are offsets in text.
 */
struct ref_count {
	size_t ip, hf, isp;
	int64_t n;
};

struct ref_counts {
	struct dm_buf text;
	struct ref_count *v;
	size_t n, cap;
};

static int
counts_add(struct ref_counts *c, const char *ip, const char *hf,
    const char *isp, int64_t n)
{
	struct ref_count r = {.n = n};
	int rc;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct ref_count *v = dm_realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return DM_ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	r.ip = c->text.len;
	rc = dm_buf_add(&c->text, ip, strlen(ip) + 1);
	r.hf = c->text.len;
	if (rc == DM_OK)
		rc = dm_buf_add(&c->text, hf, strlen(hf) + 1);
	r.isp = c->text.len;
	if (rc == DM_OK)
		rc = dm_buf_add(&c->text, isp, strlen(isp) + 1);
	if (rc == DM_OK)
		c->v[c->n++] = r;
	return rc;
}

static void
counts_free(struct ref_counts *c)
{
	dm_buf_free(&c->text);
	dm_free(c->v);
}

/*
 * Counting the reports in C (count_refs): the period's reports (those that
 * pass the reporter filter) by id with their ISP, an index in isps.  At most
 * REFS_ISPS ISPs and REFS_REPORTS reports, else records_sql counts them.
 */
#define REFS_ISPS 256
#define REFS_REPORTS ((size_t)1 << 20)

struct period_report {
	int64_t id;
	size_t isp;
};

struct refs {
	const struct dm_query_filter *f;
	int64_t lo, hi; /* refs_range */
	struct period_report *rep;
	size_t n_rep, cap_rep;
	struct dm_buf names; /* the ISPs and org_names, NUL-terminated */
	size_t isp[REFS_ISPS], n_isp;
	/* The reports' org_names and their ISPs (indexes in isp). */
	size_t org[REFS_ISPS], org_isp[REFS_ISPS], n_org, last_org;
	int group_in; /* the group is a pair of f */
	/* The group being counted: per ISP its reports and the last one. */
	int64_t count[REFS_ISPS], last[REFS_ISPS];
	size_t touched[REFS_ISPS], n_touched;
	struct dm_buf group; /* its source_ip NUL header_from NUL */
	size_t group_hf;
};

/* The ISP's index in r->isp, added when new; -1 past REFS_ISPS or out of
 * memory. */
static long
refs_isp(struct refs *r, const char *isp, size_t n)
{
	size_t i, at = r->names.len;

	for (i = r->n_isp; i-- > 0;)
		if (strncmp(r->names.data + r->isp[i], isp, n) == 0 &&
		    r->names.data[r->isp[i] + n] == '\0')
			return (long)i;
	if (r->n_isp == REFS_ISPS || dm_buf_add(&r->names, isp, n) != DM_OK ||
	    dm_buf_add(&r->names, "", 1) != DM_OK)
		return -1;
	r->isp[r->n_isp] = at;
	return (long)r->n_isp++;
}

/* The ISP index of org_name org (dm_isp once per org_name: reports come in
 * id order, not by reporter); -1 past REFS_ISPS or out of memory. */
static long
refs_org(struct dm_query *q, struct refs *r, const char *org)
{
	size_t i, at, n;
	const char *isp;
	long k;

	if (r->n_org > 0 &&
	    strcmp(r->names.data + r->org[r->last_org], org) == 0)
		return (long)r->org_isp[r->last_org];
	for (i = 0; i < r->n_org; i++)
		if (strcmp(r->names.data + r->org[i], org) == 0) {
			r->last_org = i;
			return (long)r->org_isp[i];
		}
	isp = isp_of(q, org, &n);
	if (r->n_org == REFS_ISPS || (k = refs_isp(r, isp, n)) < 0)
		return -1;
	at = r->names.len;
	if (dm_buf_add(&r->names, org, strlen(org) + 1) != DM_OK)
		return -1;
	r->org[r->n_org] = at;
	r->org_isp[r->n_org] = (size_t)k;
	r->last_org = r->n_org++;
	return k;
}

/* Room for more reports: DM_DONE past REFS_REPORTS. */
static int
refs_grow(struct refs *r)
{
	size_t cap = r->cap_rep ? 2 * r->cap_rep : 4096;
	struct period_report *v;

	if (r->cap_rep >= REFS_REPORTS)
		return DM_DONE;
	if ((v = dm_realloc(r->rep, cap * sizeof(*v))) == NULL)
		return DM_ENOMEM;
	r->rep = v;
	r->cap_rep = cap;
	return DM_OK;
}

/* Loads the period's reports (rr as records_sql filters them): DM_OK,
 * DM_DONE when there are too many to hold, or an error. */
static int
refs_load(struct dm_query *q, const struct dm_query_filter *f, struct refs *r,
    struct dm_error *err)
{
	struct dm_buf sql;
	sqlite3_stmt *st;
	int rc, step = SQLITE_DONE;
	long isp;

	dm_buf_init(&sql, 1 << 12);
	rc = dm_buf_adds(&sql,
	    "SELECT rr.report, rr.org_name FROM rollup_report rr "
	    "WHERE rr.day0 < ?2 AND rr.day0 + rr.ndays * " DM_SQL_INT(
	        DM_DAY_SECONDS) " > ?1");
	if (rc == DM_OK && f->reporter != NULL)
		rc = dm_buf_adds(&sql, RR_REPORTER);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, " ORDER BY rr.report");
	if ((rc = prepare(q, &sql, rc, f, &st, err)) != DM_OK)
		return rc;
	rc = DM_OK;
	while (rc == DM_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->n_rep == r->cap_rep && (rc = refs_grow(r)) != DM_OK)
			break;
		if ((isp = refs_org(q, r, col_text(st, 1))) < 0) {
			rc = DM_DONE;
			break;
		}
		r->rep[r->n_rep].id = sqlite3_column_int64(st, 0);
		r->rep[r->n_rep++].isp = (size_t)isp;
	}
	if (rc == DM_OK && step != SQLITE_DONE)
		rc = db_error(q, err, "reading the reports of pairs");
	sqlite3_finalize(st);
	return rc;
}

/* The ISP of the period's report id, or -1 when it is not one of them. */
static long
refs_find(const struct refs *r, int64_t id)
{
	size_t lo = 0, hi = r->n_rep;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->rep[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n_rep && r->rep[lo].id == id ? (long)r->rep[lo].isp : -1;
}

static const struct refs *sort_refs; /* for by_isp_name: qsort has no
                                        context argument in C11 */

static int
by_isp_name(const void *a, const void *b)
{
	const struct refs *r = sort_refs;

	return strcmp(r->names.data + r->isp[*(const size_t *)a],
	    r->names.data + r->isp[*(const size_t *)b]);
}

/* Adds the group's counts to out, by ISP name, and forgets them. */
static int
refs_flush(struct refs *r, struct ref_counts *out)
{
	size_t i;
	int rc = DM_OK;

	sort_refs = r;
	qsort(r->touched, r->n_touched, sizeof(r->touched[0]), by_isp_name);
	for (i = 0; i < r->n_touched; i++) {
		size_t k = r->touched[i];

		if (rc == DM_OK)
			rc = counts_add(out, r->group.data,
			    r->group.data + r->group_hf,
			    r->names.data + r->isp[k], r->count[k]);
		r->count[k] = 0;
		r->last[k] = 0;
	}
	r->n_touched = 0;
	return rc;
}

/* Whether (ip, hf) is one of f's pairs: as pairs_sql's clipped compare
 * for the pairs' From domains under 255 bytes (count_refs). */
static int
is_pair(const struct dm_query_filter *f, const char *ip, const char *hf)
{
	size_t i;

	for (i = 0; i < f->n_pairs; i++)
		if (strcmp(f->pairs[i].source_ip, ip) == 0 &&
		    strcmp(f->pairs[i].header_from, hf) == 0)
			return 1;
	return 0;
}

/* Counts one record of report id in the group of its address and From
 * domain; a group's records come in the order of their reports. */
static int
refs_record(struct refs *r, struct ref_counts *out, const char *ip,
    const char *hf, int64_t id)
{
	int rc = DM_OK;
	long k;

	if (r->group.len == 0 || strcmp(r->group.data, ip) != 0 ||
	    strcmp(r->group.data + r->group_hf, hf) != 0) {
		if ((rc = refs_flush(r, out)) != DM_OK)
			return rc;
		dm_buf_reset(&r->group);
		rc = dm_buf_add(&r->group, ip, strlen(ip) + 1);
		r->group_hf = r->group.len;
		if (rc == DM_OK)
			rc = dm_buf_add(&r->group, hf, strlen(hf) + 1);
		r->group_in = is_pair(r->f, ip, hf);
	}
	if (rc != DM_OK || !r->group_in || (k = refs_find(r, id)) < 0)
		return rc;
	if (r->count[k] == 0)
		r->touched[r->n_touched++] = (size_t)k;
	if (r->last[k] != id || r->count[k] == 0)
		r->count[k]++;
	r->last[k] = id;
	return rc;
}

/*
 * "FROM record r WHERE ..." for the records of f's pairs in reports with ids
 * in [lo, hi] (refs_range): record(source_ip) searched for each address and
 * each pair's From domain (a row value IN is not searched for, is_pair
 * keeps the pairs), its report range in turn.  lo and hi are numbered after
 * the pairs (run_param).
 */
static int
refs_from(struct dm_buf *sql, const struct dm_query_filter *f)
{
	size_t i, a = run_param(f, 0);
	int rc = dm_buf_adds(sql, " FROM record r WHERE r.source_ip IN (");

	if (rc == DM_OK)
		rc = pair_ips_sql(sql, f);
	if (rc == DM_OK)
		rc = dm_buf_adds(sql, ") AND r.header_from IN (");
	for (i = 0; rc == DM_OK && i < f->n_pairs; i++)
		rc = dm_buf_addf(sql, "%s?%zu", i > 0 ? ", " : "",
		    (size_t)P_PAIRS + 2 * i + 1);
	return rc == DM_OK
	           ? dm_buf_addf(
	                 sql, ") AND r.report BETWEEN ?%zu AND ?%zu", a, a + 1)
	           : rc;
}

/* The ids of the reports that may cover a day of f's period: those that
 * begin at most DM_ROLLUP_SLOTS days before it (rollup_report_day0).
 * *lo > *hi when none; DM_EDB. */
static int
refs_range(struct dm_query *q, const struct dm_query_filter *f, int64_t *lo,
    int64_t *hi)
{
	sqlite3_stmt *st;
	int rc = DM_EDB;

	if (sqlite3_prepare_v2(q->db,
	        "SELECT ifnull(min(report), 0), ifnull(max(report), -1) FROM "
	        "rollup_report WHERE day0 > ?1 - " DM_SQL_INT(
	            DM_ROLLUP_SLOTS) " * " DM_SQL_INT(DM_DAY_SECONDS) " AND "
	                                                              "day0 < "
	                                                              "?2",
	        -1, &st, NULL) != SQLITE_OK)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, f->from);
	sqlite3_bind_int64(st, 2, f->to);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*lo = sqlite3_column_int64(st, 0);
		*hi = sqlite3_column_int64(st, 1);
		rc = DM_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Whether count_refs counts f's pairs' reports (else records_sql does):
 * no domain filter (it reads the report's policy domain too), and the
 * pairs' From domains under 255 bytes, which a record's equals exactly
 * when pairs_sql's clipped one does. */
static int
refs_in_c(const struct dm_query *q, const struct dm_query_filter *f)
{
	size_t i;

	if (q->refs_sql || f->domain != NULL)
		return 0;
	for (i = 0; i < f->n_pairs; i++)
		if (strlen(f->pairs[i].header_from) >= 255)
			return 0;
	return 1;
}

/*
 * The pairs' failing records in the order of record(source_ip) (address,
 * From domain, report): no join and no sort; the period, the reporter and
 * the ISP come from the reports loaded, the pair from is_pair once per
 * address and From domain.
 */
static int
refs_scan(struct dm_query *q, const struct dm_query_filter *f, struct refs *r,
    struct ref_counts *out, struct dm_error *err)
{
	struct dm_buf sql;
	sqlite3_stmt *st;
	int rc, step = SQLITE_DONE;

	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, "SELECT r.source_ip, r.header_from, r.report");
	if (rc == DM_OK)
		rc = refs_from(&sql, f);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, " AND " RECORD_FAILING);
	if (rc == DM_OK && f->net != NULL)
		rc = dm_buf_adds(&sql, " AND dm_in_net(r.source_ip, ?5)");
	if (rc == DM_OK)
		rc = dm_buf_adds(
		    &sql, " ORDER BY r.source_ip, r.header_from, r.report");
	if ((rc = prepare(q, &sql, rc, f, &st, err)) != DM_OK)
		return rc;
	sqlite3_bind_int64(st, (int)run_param(f, 0), r->lo);
	sqlite3_bind_int64(st, (int)run_param(f, 0) + 1, r->hi);
	while (rc == DM_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = refs_record(r, out, col_text(st, 0), col_text(st, 1),
		    sqlite3_column_int64(st, 2));
	if (rc == DM_OK && step != SQLITE_DONE)
		rc = db_error(q, err, "reading the reports of pairs");
	sqlite3_finalize(st);
	if (rc == DM_OK)
		rc = refs_flush(r, out);
	return rc == DM_ENOMEM ? dm_error_set(err, rc, "out of memory") : rc;
}

/*
 * count(DISTINCT report) of records_sql, counted in C where records_sql
 * spent most of its time joining each record with its report and sorting
 * them (a year of 10,000,000 records: 233,000 records, 0.85 s of CPU): a
 * record's From domain is its pair's as the pairs filter compares it
 * clipped, so a pair's From domain of 255 bytes or more, or a domain
 * filter (on the report's policy domain too), is left to records_sql.
 * DM_DONE when it is.
 */
static int
count_refs(struct dm_query *q, const struct dm_query_filter *f,
    struct ref_counts *out, struct dm_error *err)
{
	struct refs *r;
	int rc;

	if (!refs_in_c(q, f))
		return DM_DONE;
	if ((r = dm_calloc(1, sizeof(*r))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	r->f = f;
	if (refs_range(q, f, &r->lo, &r->hi) != DM_OK) {
		dm_free(r);
		return db_error(q, err, "reading the reports of pairs");
	}
	dm_buf_init(&r->names, 1 << 20);
	dm_buf_init(&r->group, 1 << 20);
	rc = refs_load(q, f, r, err);
	if (rc == DM_ENOMEM)
		rc = dm_error_set(err, rc, "out of memory");
	if (rc == DM_OK)
		rc = refs_scan(q, f, r, out, err);
	dm_buf_free(&r->names);
	dm_buf_free(&r->group);
	dm_free(r->rep);
	dm_free(r);
	return rc;
}

/* out = records_sql's rows. */
static int
count_refs_sql(struct dm_query *q, const struct dm_query_filter *f,
    struct ref_counts *out, struct dm_error *err)
{
	struct dm_buf sql;
	sqlite3_stmt *st;
	int rc, step = SQLITE_DONE;

	dm_buf_init(&sql, 1 << 20);
	rc = records_sql(&sql, f);
	if ((rc = prepare(q, &sql, rc, f, &st, err)) != DM_OK)
		return rc;
	while (rc == DM_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = counts_add(out, col_text(st, 0), col_text(st, 1),
		    col_text(st, 2), sqlite3_column_int64(st, 3));
	if (rc == DM_ENOMEM)
		rc = dm_error_set(err, rc, "out of memory");
	else if (rc == DM_OK && step != SQLITE_DONE)
		rc = db_error(q, err, "reading the reports of pairs");
	sqlite3_finalize(st);
	return rc;
}

/*
 * 1 when the reports of f's pairs are better counted from their records
 * (records_sql) than from the period's failing rows: when the pairs'
 * addresses have at most a sixteenth as many records, whatever their day,
 * as the period has rows (ROWS_OF_REPORTS; a sixth of them fail, and a
 * record costs a search where a row is read in turn).  A year of the
 * benchmark: 233,000 records of the 100 pairs shown against 3,300,000
 * failing rows; 30 days: the rows.  Counting the records stops at the
 * bound.  DMARCSTAT_TEST_BY_RECORDS (a test hook, as daily_only) always
 * takes the records.  0 on error: the rows give the same answer.
 */
static int
reports_by_records(struct dm_query *q, const struct dm_query_filter *f)
{
	struct dm_buf sql;
	sqlite3_stmt *st;
	struct dm_error e;
	int64_t in, n = -1, lo = 0, hi = -1;
	size_t i;
	int rc, c;

	if (f->n_pairs == 0 || !by_runs(f) || q->daily_only || q->version < 11)
		return 0;
	/* A record without an address or From domain is '' in
	   rollup_source, NULL in record: such pairs are read from the rows. */
	for (i = 0; i < f->n_pairs; i++)
		if (f->pairs[i].source_ip[0] == '\0' ||
		    f->pairs[i].header_from[0] == '\0')
			return 0;
	if (q->by_records)
		return 1;
	in = int_query(
	    q, ROWS_OF_REPORTS("rr.day0 >= ?1 AND rr.day0 < ?2"), f, 0);
	if (in < 16)
		return 0;
	/* count_refs reads the records of the pairs' reports that may be in
	   the period; records_sql every record of their addresses. */
	c = refs_in_c(q, f) && refs_range(q, f, &lo, &hi) == DM_OK;
	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, "SELECT count(*) FROM (SELECT 1");
	if (rc == DM_OK && c)
		rc = refs_from(&sql, f);
	else if (rc == DM_OK)
		rc = dm_buf_adds(&sql, " FROM record r WHERE r.source_ip IN (");
	if (rc == DM_OK && !c)
		rc = pair_ips_sql(&sql, f);
	if (rc == DM_OK)
		rc = dm_buf_addf(&sql, "%s LIMIT ?%d)", c ? "" : ")", P_SPLIT);
	if (prepare(q, &sql, rc, f, &st, &e) != DM_OK)
		return 0;
	sqlite3_bind_int64(st, P_SPLIT, in / 16 + 1);
	if (c) {
		sqlite3_bind_int64(st, (int)run_param(f, 0), lo);
		sqlite3_bind_int64(st, (int)run_param(f, 0) + 1, hi);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n >= 0 && n <= in / 16;
}

/* The pairs query: select, then from; reports needs record.  runs: the
 * failing rows by runs (days: first_day and last_day), reports 0. */
static int
prepare_pairs(struct dm_query *q, const struct dm_query_filter *f,
    const char *keys, unsigned flags, int runs, const char *tail,
    sqlite3_stmt **st, struct dm_error *err)
{
	struct dm_buf head;
	int reports = (flags & DM_QUERY_REPORTS) != 0 && !runs, rc;
	/* A failing pair's days are those of its failing messages, as a
	   bucket's first and last day are. */
	const char *days =
	    runs ? "min(s.first_day), max(s.last_day)"
	    : (flags & DM_QUERY_FAILING)
	        ? "min(CASE WHEN s.messages > 0 THEN s.day END), "
	          "max(CASE WHEN s.messages > 0 THEN s.day END)"
	        : "min(s.day), max(s.day)";

	dm_buf_init(&head, 1 << 12);
	if (flags & DM_QUERY_RANK)
		rc = dm_buf_addf(&head, "SELECT %s, " RANK_SUMS, keys, "0");
	else
		rc = dm_buf_addf(&head, "SELECT %s, " PAIR_SUMS, keys, days,
		    reports ? "count(DISTINCT r.report)" : "0");
	if (rc != DM_OK) {
		dm_buf_free(&head);
		return dm_error_set(
		    err, rc, "building a query: %s", dm_strerror(rc));
	}
	if (runs)
		rc = prepare_runs(q, f, head.data, "", tail, st, err);
	else
		rc = prepare_source(q, f, head.data,
		    reports ? " JOIN record r ON r.id = s.record" : "",
		    (flags & DM_QUERY_FAILING) != 0, tail, st, err);
	dm_buf_free(&head);
	return rc;
}

/* The pairs' rows, with their reports (both ordered by source_ip,
 * header_from, ISP) walked alongside. */
struct merge_ctx {
	struct cb_ctx c;
	struct ref_counts refs;
	size_t at; /* the first of refs not behind the row */
};

/* The key columns 0-2 of st against ref r, compared as ORDER BY 1, 2, 3
 * does. */
static int
key_cmp(
    const struct ref_counts *refs, const struct ref_count *r, sqlite3_stmt *st)
{
	const char *t = refs->text.data;
	int d = strcmp(t + r->ip, col_text(st, 0));

	if (d == 0)
		d = strcmp(t + r->hf, col_text(st, 1));
	return d != 0 ? d : strcmp(t + r->isp, col_text(st, 2));
}

static int
merge_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct merge_ctx *m = vctx;
	struct dm_query_pair p;
	int d = 1;

	while (m->at < m->refs.n &&
	       (d = key_cmp(&m->refs, &m->refs.v[m->at], st)) < 0)
		m->at++;
	pair_fill(st, &p);
	p.reports = m->at < m->refs.n && d == 0 ? m->refs.v[m->at].n : 0;
	return m->c.cb.pair(m->c.ctx, &p, err);
}

/* DM_QUERY_RANK's rows before they are summed (RANK_SUMS), grouped in C. */
#define RANK_ROWS                                                              \
	"SELECT s.source_ip, " CLIP(                                           \
	    "s.header_from") ", dm_isp(s.org_name), "                          \
	                     "s.messages, CASE WHEN s.disposition = "          \
	                     "'quarantine' THEN s.messages "                   \
	                     "END, CASE WHEN s.disposition = 'reject' THEN "   \
	                     "s.messages END"

static const unsigned char rank_order[3] = {0, 1, 2};

static const struct fold_spec rank_spec = {
    .nkeys = 3, .nsums = 3, .order = rank_order};

/*
 * The rows of the last ranking of rollup_source's rows by all their
 * messages (explain's), by id in the order read, with their group: the pairs
 * shown are then copied by id (dm_query_keep) instead of read from the
 * range again, a search of rollup_source per row through the day index (a
 * third of `explain --ip /15`).  Used only within the read transaction they
 * were read in (dm_query_end drops them), for the same filter but its pairs
 * (rank_same), and for at most RANK_ROWS_MAX rows (16 MiB).
 */
#define RANK_ROWS_MAX ((size_t)1 << 20)

struct rank_row {
	int64_t id;
	size_t group; /* in fold.g */
};

struct rank_rows {
	struct fold fold; /* keys: source_ip, From domain (cut), ISP */
	struct rank_row *row;
	size_t n, cap;
	int full; /* more than RANK_ROWS_MAX rows: not kept */
	/* The filter they were read with. */
	int64_t from, to;
	char *domain, *reporter;
	int has_net;
	struct dm_ip_net net;
};

static void
rank_rows_free(struct rank_rows *r)
{
	if (r == NULL)
		return;
	fold_free(&r->fold);
	dm_free(r->row);
	dm_free(r->domain);
	dm_free(r->reporter);
	dm_free(r);
}

static int
same_text(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Whether r's rows are those of f but its pairs. */
static int
rank_same(const struct rank_rows *r, const struct dm_query_filter *f)
{
	return !r->full && r->from == f->from && r->to == f->to &&
	       same_text(r->domain, f->domain) &&
	       same_text(r->reporter, f->reporter) &&
	       r->has_net == (f->net != NULL) &&
	       (f->net == NULL || (r->net.family == f->net->family &&
	                              r->net.bits == f->net->bits &&
	                              memcmp(r->net.addr, f->net->addr,
	                                  sizeof(r->net.addr)) == 0));
}

static char *
dup_text(const char *s, int *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = dm_malloc(strlen(s) + 1)) == NULL)
		*ok = 0;
	else
		memcpy(d, s, strlen(s) + 1);
	return d;
}

/* A new, empty record of f's rows; NULL when out of memory. */
static struct rank_rows *
rank_rows_new(const struct dm_query_filter *f)
{
	struct rank_rows *r = dm_calloc(1, sizeof(*r));
	int ok = 1;

	if (r == NULL)
		return NULL;
	r->from = f->from;
	r->to = f->to;
	r->domain = dup_text(f->domain, &ok);
	r->reporter = dup_text(f->reporter, &ok);
	if ((r->has_net = f->net != NULL))
		r->net = *f->net;
	if (!ok) {
		rank_rows_free(r);
		return NULL;
	}
	return r;
}

/* fold_run's hook: the row's id (column 6) and group. */
static int
rank_row_add(void *ctx, sqlite3_stmt *st, const struct fold *f)
{
	struct rank_rows *r = ctx;

	if (r->full)
		return DM_OK;
	if (r->n == RANK_ROWS_MAX) {
		r->full = 1;
		return DM_OK;
	}
	if (grow_more((void **)&r->row, &r->cap, r->n, sizeof(*r->row)) !=
	    DM_OK)
		return DM_ENOMEM;
	r->row[r->n].id = sqlite3_column_int64(st, 6);
	r->row[r->n].group = f->last;
	r->n++;
	return DM_OK;
}

/* The ranking grouped in C (fold_run), ORDER BY 1, 2, 3.  explain's (every
 * row of the range) keeps its rows' ids in q->rank. */
static int
rank_folded(struct dm_query *q, const struct dm_query_filter *f, int failing,
    int runs, struct cb_ctx *c, struct dm_error *err)
{
	struct rank_rows *keep = NULL;
	struct fold fold;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	rank_rows_free(q->rank);
	q->rank = NULL;
	if (!runs && !failing && q->in_txn && !f->kept && !single_ip(f) &&
	    f->n_pairs == 0 && (keep = rank_rows_new(f)) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	if (runs)
		rc = prepare_runs(q, f, RANK_ROWS, "", "", &st, err);
	else
		rc = prepare_source(q, f,
		    keep != NULL ? RANK_ROWS ", s.id" : RANK_ROWS, "", failing,
		    "", &st, err);
	if (rc != DM_OK) {
		rank_rows_free(keep);
		return rc;
	}
	rc = fold_run(q, st, &rank_spec, &fold,
	    keep != NULL ? rank_row_add : NULL, keep, err);
	for (i = 0; rc == DM_OK && i < fold.n; i++) {
		const struct fold_group *g = fold.order[i];
		struct dm_query_pair p;

		if (!fold_having(g, failing))
			continue;
		fold_pair(g, &p);
		p.quarantined = g->sum[1];
		p.rejected = g->sum[2];
		rc = c->cb.pair(c->ctx, &p, err);
	}
	if (rc == DM_OK && keep != NULL && !keep->full) {
		keep->fold = fold;
		q->rank = keep;
		return DM_OK;
	}
	fold_free(&fold);
	rank_rows_free(keep);
	return rc;
}

/* The pairs query's rows before they are summed (PAIR_SUMS), grouped in
 * C: the nine sums in pair_fill's order but the days and reports, then the
 * days (twice: first and last) and the report. */
/* clang-format off */
#define PAIR_ROWS                                                              \
	"SELECT s.source_ip, " CLIP("s.header_from") ", dm_isp(s.org_name), "  \
	"s.messages, "                                                         \
	"CASE WHEN s.dkim = 'pass' OR s.spf = 'pass' THEN s.messages END, "    \
	"CASE WHEN s.disposition = 'quarantine' THEN s.messages END, "         \
	"CASE WHEN s.disposition = 'reject' THEN s.messages END, "             \
	"CASE WHEN " RAW_PASS("s.spf_auth") " THEN s.messages END, "            \
	"CASE WHEN s.spf = 'pass' THEN s.messages END, "                       \
	"CASE WHEN " RAW_PASS("s.dkim_auth") " THEN s.messages END, "           \
	"CASE WHEN s.dkim = 'pass' THEN s.messages END, "                      \
	"CASE WHEN (s.dkim = 'pass' OR s.spf = 'pass') AND "                   \
	"s.disposition IN ('quarantine', 'reject') THEN s.messages END, "      \
	"%s, %s"
/* clang-format on */

static const struct fold_spec pair_spec = {
    .nkeys = 3, .nsums = 9, .days = 1, .order = rank_order};

/* A pair's report (count(DISTINCT r.report)): at most PAIR_REPORTS_MAX of
 * them kept (16 MiB), else SQLite groups. */
#define PAIR_REPORTS_MAX ((size_t)1 << 20)

struct pair_report {
	size_t group;
	int64_t report;
};

struct pair_reports {
	struct pair_report *r;
	size_t n, cap;
};

/* fold_run's hook: the row's report (column 14), when it has one. */
static int
pair_report_add(void *ctx, sqlite3_stmt *st, const struct fold *f)
{
	struct pair_reports *pr = ctx;

	if (sqlite3_column_type(st, 14) == SQLITE_NULL)
		return DM_OK;
	if (pr->n == PAIR_REPORTS_MAX)
		return FOLD_GIVE_UP;
	if (grow_more((void **)&pr->r, &pr->cap, pr->n, sizeof(*pr->r)) !=
	    DM_OK)
		return DM_ENOMEM;
	pr->r[pr->n].group = f->last;
	pr->r[pr->n].report = sqlite3_column_int64(st, 14);
	pr->n++;
	return DM_OK;
}

static int
pair_report_cmp(const void *va, const void *vb)
{
	const struct pair_report *a = va, *b = vb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->report < b->report ? -1 : a->report > b->report;
}

/* The distinct reports per group into n[group]. */
static void
pair_reports_count(struct pair_reports *pr, int64_t *n)
{
	size_t i;

	if (pr->n == 0) /* pr->r is NULL then, which qsort may not take */
		return;
	qsort(pr->r, pr->n, sizeof(*pr->r), pair_report_cmp);
	for (i = 0; i < pr->n; i++)
		if (i == 0 || pr->r[i].group != pr->r[i - 1].group ||
		    pr->r[i].report != pr->r[i - 1].report)
			n[pr->r[i].group]++;
}

/* The pairs query read from the rows (not by runs) and grouped in C. */
static int
pairs_folded(struct dm_query *q, const struct dm_query_filter *f,
    unsigned flags, struct cb_ctx *c, struct dm_error *err)
{
	int failing = (flags & DM_QUERY_FAILING) != 0,
	    reports = (flags & DM_QUERY_REPORTS) != 0, rc;
	struct pair_reports pr = {NULL, 0, 0};
	int64_t *nrep = NULL;
	struct fold fold;
	struct dm_buf head;
	sqlite3_stmt *st;
	size_t i;
	/* As prepare_pairs' days; a row's report for count(DISTINCT). */
	const char *day =
	    failing ? "CASE WHEN s.messages > 0 THEN s.day END" : "s.day";

	dm_buf_init(&head, 1 << 12);
	rc = dm_buf_addf(
	    &head, PAIR_ROWS ", %s", day, day, reports ? "r.report" : "NULL");
	if (rc != DM_OK) {
		dm_buf_free(&head);
		return dm_error_set(
		    err, rc, "building a query: %s", dm_strerror(rc));
	}
	rc = prepare_source(q, f, head.data,
	    reports ? " JOIN record r ON r.id = s.record" : "", failing, "",
	    &st, err);
	dm_buf_free(&head);
	if (rc != DM_OK)
		return rc;
	rc = fold_run(q, st, &pair_spec, &fold, pair_report_add, &pr, err);
	if (rc == DM_OK &&
	    (nrep = dm_calloc(fold.n + 1, sizeof(*nrep))) == NULL)
		rc = dm_error_set(err, DM_ENOMEM, _("out of memory"));
	if (rc == DM_OK)
		pair_reports_count(&pr, nrep);
	for (i = 0; rc == DM_OK && i < fold.n; i++) {
		const struct fold_group *g = fold.order[i];
		struct dm_query_pair p;

		if (!fold_having(g, failing))
			continue;
		fold_pair(g, &p);
		p.dmarc_pass = g->sum[1];
		p.quarantined = g->sum[2];
		p.rejected = g->sum[3];
		p.spf_raw_pass = g->sum[4];
		p.spf_aligned_pass = g->sum[5];
		p.dkim_raw_pass = g->sum[6];
		p.dkim_aligned_pass = g->sum[7];
		p.blocked_pass = g->sum[8];
		p.first_day = g->first;
		p.last_day = g->last;
		p.reports = nrep[g - fold.g];
		rc = c->cb.pair(c->ctx, &p, err);
	}
	dm_free(nrep);
	dm_free(pr.r);
	fold_free(&fold);
	return rc;
}

int
dm_query_pairs(struct dm_query *q, const struct dm_query_filter *f,
    unsigned flags, dm_query_pair_cb cb, void *ctx, struct dm_error *err)
{
	struct merge_ctx m = {.c = {.ctx = ctx}};
	int failing = (flags & DM_QUERY_FAILING) != 0, runs, rc;
	sqlite3_stmt *st;

	m.c.cb.pair = cb;
	/* The ranking and, with the reports counted from the records, the
	   pairs shown read the failing rows by runs. */
	runs = failing && by_runs(f) &&
	       ((flags & DM_QUERY_RANK) ||
	           ((flags & DM_QUERY_REPORTS) && reports_by_records(q, f)));
	if ((flags & DM_QUERY_RANK) && q->fold_max > 0 &&
	    (rc = rank_folded(q, f, failing, runs, &m.c, err)) != FOLD_GIVE_UP)
		return rc;
	if (!(flags & DM_QUERY_RANK) && !runs && q->fold_max > 0 &&
	    (rc = pairs_folded(q, f, flags, &m.c, err)) != FOLD_GIVE_UP)
		return rc;
	rc = prepare_pairs(q, f,
	    "s.source_ip, " CLIP("s.header_from") ", dm_isp(s.org_name)", flags,
	    runs,
	    failing ? " GROUP BY 1, 2, 3 HAVING m > 0 ORDER BY 1, 2, 3"
	            : " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
	    &st, err);
	if (rc != DM_OK)
		return rc;
	if (!runs || !(flags & DM_QUERY_REPORTS))
		return run(q, st, pair_row, &m.c, err);
	dm_buf_init(&m.refs.text, (size_t)1 << 30);
	rc = count_refs(q, f, &m.refs, err);
	if (rc == DM_DONE)
		rc = count_refs_sql(q, f, &m.refs, err);
	if (rc != DM_OK) {
		sqlite3_finalize(st);
		counts_free(&m.refs);
		return rc;
	}
	rc = run(q, st, merge_row, &m, err);
	counts_free(&m.refs);
	return rc;
}

int
dm_query_isp_sums(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_pair_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.pair = cb;
	rc = prepare_pairs(q, f, "'', '', dm_isp(s.org_name)", 0, 0,
	    " GROUP BY 3 ORDER BY ifnull(qn, 0) + ifnull(rj, 0) DESC, m DESC, "
	    "3",
	    &st, err);
	return rc == DM_OK ? run(q, st, pair_row, &c, err) : rc;
}

/* ---- Reports behind pairs ---- */

static int
ref_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_query_report_ref r;

	r.source_ip = col_text(st, 0);
	r.header_from = col_text(st, 1);
	r.isp = col_text(st, 2);
	r.org_name = col_text(st, 3);
	r.email = col_text(st, 4);
	r.report_id = col_text(st, 5);
	r.begin = sqlite3_column_type(st, 6) == SQLITE_NULL
	              ? -1
	              : sqlite3_column_int64(st, 6);
	return c->cb.ref(c->ctx, &r, err);
}

int
dm_query_report_refs(struct dm_query *q, const struct dm_query_filter *f,
    int per_pair, dm_query_report_ref_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	sqlite3_stmt *st;
	int rc;

	c.cb.ref = cb;
	rc = prepare_source(q, f,
	    per_pair
	        ? "SELECT DISTINCT s.source_ip, " CLIP(
	              "s.header_from") ", "
	                               "dm_isp(s.org_name), " CLIP(
	                                   "p.org_"
	                                   "name") ", " CLIP("p.email") ","
	                                                                " " CLIP(
	                                                                    "p."
	                                                                    "re"
	                                                                    "po"
	                                                                    "rt"
	                                                                    "_"
	                                                                    "i"
	                                                                    "d") ", "
	                                                                         "p."
	                                                                         "\"be"
	                                                                         "gin"
	                                                                         "\", "
	                                                                         "p.id"
	        : "SELECT DISTINCT '', '', dm_isp(s.org_name), " CLIP(
	              "p."
	              "org_"
	              "nam"
	              "e") ", " CLIP("p.email") ", " CLIP("p.report_id") ", "
	                                                                 "p."
	                                                                 "\"beg"
	                                                                 "in\","
	                                                                 " "
	                                                                 "p.id",
	    " JOIN record r ON r.id = s.record JOIN report p ON p.id = "
	    "r.report",
	    0, " ORDER BY 1, 2, 3, 7, 6, 8", &st, err);
	return rc == DM_OK ? run(q, st, ref_row, &c, err) : rc;
}

/* ---- Rows kept for several queries ---- */

/*
 * dm_query_keep from the ids of the last ranking (q->rank): the rows of the
 * groups whose source and From domain are f's pairs, inserted in the order
 * the ranking read them (the order of the statement it replaces, which reads
 * the same range the same way), each found by its id.  FOLD_GIVE_UP when
 * q->rank does not hold f's rows.
 */
static int
keep_by_ids(
    struct dm_query *q, const struct dm_query_filter *f, struct dm_error *err)
{
	const struct rank_rows *r = q->rank;
	struct pair_set *ps;
	unsigned char *in;
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc = DM_OK;

	if (r == NULL || !q->in_txn || f->kept || f->n_pairs == 0 ||
	    single_ip(f) || !rank_same(r, f))
		return FOLD_GIVE_UP;
	ps = pair_set_new(f);
	in = dm_malloc(r->fold.n + 1);
	if (ps == NULL || in == NULL) {
		dm_free(ps);
		dm_free(in);
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	}
	/* dm_pair's test, once per group: text only, the From domain as the
	   ranking cut it. */
	for (i = 0; i < r->fold.n; i++) {
		const struct fold_group *g = &r->fold.g[i];
		struct pair_key k = {
		    fold_key(g, 0), fold_key(g, 1), g->len[0], g->len[1]};

		in[i] = g->type[0] == SQLITE_TEXT &&
		        g->type[1] == SQLITE_TEXT && pair_set_has(ps, &k);
	}
	dm_free(ps);
	if (sqlite3_exec(q->db,
	        "DROP TABLE IF EXISTS temp.kept_source; "
	        "DROP TABLE IF EXISTS temp.kept_ids; "
	        "CREATE TEMP TABLE kept_ids (n INTEGER PRIMARY KEY, id INTEGER "
	        "NOT NULL)",
	        NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(q->db,
	        "INSERT INTO temp.kept_ids (id) VALUES (?1)", -1, &st,
	        NULL) != SQLITE_OK)
		rc = DM_EDB;
	for (i = 0; rc == DM_OK && i < r->n; i++) {
		if (!in[r->row[i].group])
			continue;
		sqlite3_bind_int64(st, 1, r->row[i].id);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = DM_EDB;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	dm_free(in);
	if (rc == DM_OK &&
	    sqlite3_exec(q->db,
	        "CREATE TEMP TABLE kept_source AS SELECT s.* FROM "
	        "temp.kept_ids k CROSS JOIN rollup_source s ON s.id = k.id "
	        "ORDER BY k.n; DROP TABLE temp.kept_ids",
	        NULL, NULL, NULL) != SQLITE_OK)
		rc = DM_EDB;
	return rc == DM_OK ? DM_OK
	                   : db_error(q, err, "copying the rows of the period");
}

int
dm_query_keep(
    struct dm_query *q, const struct dm_query_filter *f, struct dm_error *err)
{
	struct dm_query_filter from_rollups = *f;
	sqlite3_stmt *st;
	int rc;

	from_rollups.kept = 0;
	if ((rc = keep_by_ids(q, &from_rollups, err)) != FOLD_GIVE_UP)
		return rc;
	if (sqlite3_exec(q->db, "DROP TABLE IF EXISTS temp.kept_source", NULL,
	        NULL, NULL) != SQLITE_OK)
		return db_error(q, err, "dropping the rows kept");
	rc = prepare_source(q, &from_rollups,
	    "CREATE TEMP TABLE kept_source AS SELECT s.*", "", 0, "", &st, err);
	if (rc != DM_OK)
		return rc;
	/* The copy is written to SQLite's temporary file once it outgrows
	   the cache: a full or unwritable temporary folder fails here. */
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_error(q, err, "copying the rows of the period");
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	return DM_OK;
}

/* ---- Sources ---- */

/* Arrays decoded from the packed auth columns, reused from row to row. */
/* The text columns of a source row, cut in C rather than SQL: substr() on
 * every column of every row cost a tenth of the report. */
#define SOURCE_TEXTS 13
/* The columns an evidence is grouped by: SOURCE_COLS. */
#define EV_KEYS 16

struct source_ctx {
	dm_query_source_cb cb;
	void *ctx;
	char clip[SOURCE_TEXTS][4 * DM_QUERY_TEXT_MAX + 1]; /* long values */
	struct dm_buf text; /* copies of the packed columns, split in place */
	struct dm_dkim_result *dkim;
	struct dm_spf_result *spf;
	struct dm_reason *reasons;
	size_t cap_dkim, cap_spf, cap_reasons;
};

/* Number of entries in a packed column ("" has none). */
static size_t
count_entries(const char *s)
{
	size_t n = 1;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		n += *s == RS;
	return n;
}

/* Cuts the next field out of *p (ending at US, RS or NUL) and advances past its
 * separator; the field is cut to DM_QUERY_TEXT_MAX characters. */
static char *
next_field(char **p)
{
	char *f = *p;
	size_t n = strcspn(f, "\036\037");
	char end = f[n];

	f[n] = '\0';
	*p = end == '\0' ? f + n : f + n + 1;
	f[clip_len(f)] = '\0';
	return f;
}

static int
grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	void *p;

	if (need <= *cap)
		return DM_OK;
	if ((p = dm_realloc(*arr, need * size)) == NULL)
		return DM_ENOMEM;
	*arr = p;
	*cap = need;
	return DM_OK;
}

/* Copies a packed column into c->text and returns the copy's offset (pointers
 * move on growth). */
static int
copy_packed(struct source_ctx *c, const char *s, size_t *off)
{
	*off = c->text.len;
	return dm_buf_add(&c->text, s, strlen(s) + 1);
}

static size_t
split_dkim(struct source_ctx *c, char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		c->dkim[i].domain = next_field(&p);
		c->dkim[i].selector = next_field(&p);
		c->dkim[i].result = next_field(&p);
		c->dkim[i].human_result = NULL;
	}
	return n;
}

static size_t
split_spf(struct source_ctx *c, char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		c->spf[i].domain = next_field(&p);
		c->spf[i].scope = next_field(&p);
		c->spf[i].result = next_field(&p);
		c->spf[i].human_result = NULL;
	}
	return n;
}

static size_t
split_reasons(struct source_ctx *c, char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		c->reasons[i].type = next_field(&p);
		c->reasons[i].comment = next_field(&p);
	}
	return n;
}

static int
decode_auth(struct source_ctx *c, const char *dk, const char *sp,
    const char *rs, struct dm_query_source *s)
{
	size_t nd = count_entries(dk), ns = count_entries(sp),
	       nr = count_entries(rs);
	size_t od, os, orr;
	int rc;

	dm_buf_reset(&c->text);
	if ((rc = grow_array((void **)&c->dkim, &c->cap_dkim, nd,
	         sizeof(*c->dkim))) != DM_OK ||
	    (rc = grow_array((void **)&c->spf, &c->cap_spf, ns,
	         sizeof(*c->spf))) != DM_OK ||
	    (rc = grow_array((void **)&c->reasons, &c->cap_reasons, nr,
	         sizeof(*c->reasons))) != DM_OK ||
	    (rc = copy_packed(c, dk, &od)) != DM_OK ||
	    (rc = copy_packed(c, sp, &os)) != DM_OK ||
	    (rc = copy_packed(c, rs, &orr)) != DM_OK)
		return rc;
	s->n_dkim = split_dkim(c, c->text.data + od, nd);
	s->n_spf = split_spf(c, c->text.data + os, ns);
	s->n_reasons = split_reasons(c, c->text.data + orr, nr);
	s->dkim_results = c->dkim;
	s->spf_results = c->spf;
	s->reasons = c->reasons;
	return DM_OK;
}

/* The evidence columns of dm_query_sources, in source_row's order. */
/* clang-format off */
#define SOURCE_COLS                                                            \
	"s.org_name, s.domain, s.p, s.adkim, s.aspf, s.testing, s.source_ip, "  \
	"s.header_from, s.envelope_from, s.envelope_to, s.disposition, "      \
	"s.dkim, s.spf, s.dkim_auth, s.spf_auth, s.reasons"
/* clang-format on */

/* Summed: per evidence, grouped from the source and From domain on (the
 * sort compares the columns that differ most first); largest first, then
 * every column, so that the first of equal groups is the same however the
 * period was read. */
#define SOURCE_GROUP "7, 8, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16"
#define SOURCE_ORDER                                                           \
	"ORDER BY m DESC, 7, 1, 14, 15, 16, 9, 10, 11, 2, 3, 4, 5, 6, 8, 12, " \
	"13"

/*
 * The source IP's service and kind from the host table: one lookup of its
 * primary key per row, so the report never resolves anything.  In the summed
 * variant they are bare columns, the same for every row of a group (they
 * depend on source_ip alone).
 */
#define HOST_COLS "h.service, h.kind"
#define HOST_JOIN " LEFT JOIN host h ON h.ip = s.source_ip"

/* Text column i, cut to DM_QUERY_TEXT_MAX characters (a copy when cut). */
static const char *
clip_text(struct source_ctx *c, const char *s, int i)
{
	size_t n = clip_len(s);

	if (s[n] == '\0')
		return s;
	memcpy(c->clip[i], s, n);
	c->clip[i][n] = '\0';
	return c->clip[i];
}

/* The evidence columns v (SOURCE_COLS' order) cut and split into s, which
 * holds the rest already; then the caller's callback. */
static int
source_emit(struct source_ctx *c, const char *const v[EV_KEYS],
    struct dm_query_source *s, struct dm_error *err)
{
	const char **text[SOURCE_TEXTS] = {&s->org_name, &s->domain, &s->p,
	    &s->adkim, &s->aspf, &s->testing, &s->source_ip, &s->header_from,
	    &s->envelope_from, &s->envelope_to, &s->disposition, &s->dkim,
	    &s->spf};
	int rc, i;

	for (i = 0; i < SOURCE_TEXTS; i++)
		*text[i] = clip_text(c, v[i], i);
	if ((rc = decode_auth(c, v[13], v[14], v[15], s)) != DM_OK)
		return dm_error_set(
		    err, rc, "decoding auth results: %s", dm_strerror(rc));
	return c->cb(c->ctx, s, err);
}

static int
source_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct source_ctx *c = vctx;
	struct dm_query_source s;
	const char *v[EV_KEYS];
	int i;

	for (i = 0; i < EV_KEYS; i++)
		v[i] = col_text(st, i);
	s.messages = sqlite3_column_int64(st, 16);
	s.first_day = sqlite3_column_int64(st, 17);
	s.last_day = sqlite3_column_int64(st, 18);
	s.isp = col_text(st, 19);
	s.host_service = (const char *)sqlite3_column_text(st, 20);
	s.host_kind = (const char *)sqlite3_column_text(st, 21);
	return source_emit(c, v, &s, err);
}

/* SOURCE_ORDER after m, as column indexes. */
static const unsigned char source_order[EV_KEYS] = {
    6, 0, 13, 14, 15, 8, 9, 10, 1, 2, 3, 4, 5, 7, 11, 12};

static const struct fold_spec source_spec = {
    .nkeys = EV_KEYS, .nsums = 1, .days = 1, .by_m = 1, .order = source_order};

/* The host table's service and kind of g's source IP (HOST_JOIN), into s. */
static int
fold_host(struct dm_query *q, sqlite3_stmt *st, const struct fold_group *g,
    struct dm_query_source *s, struct dm_error *err)
{
	int rc;

	sqlite3_reset(st);
	if (g->type[6] == SQLITE_TEXT)
		rc = sqlite3_bind_text(
		    st, 1, fold_key(g, 6), (int)g->len[6], SQLITE_STATIC);
	else
		rc = sqlite3_bind_blob(
		    st, 1, fold_key(g, 6), (int)g->len[6], SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->host_service = (const char *)sqlite3_column_text(st, 0);
		s->host_kind = (const char *)sqlite3_column_text(st, 1);
		return DM_OK;
	}
	s->host_service = s->host_kind = NULL;
	return rc == SQLITE_DONE ? DM_OK
	                         : db_error(q, err, "reading the host table");
}

/* The evidence groups in order, those of no message left out when failing
 * (HAVING m > 0), with the ISP and host columns, handed to c. */
static int
sources_emit(struct dm_query *q, const struct fold *f, int failing,
    struct source_ctx *c, struct dm_error *err)
{
	sqlite3_stmt *host = NULL;
	struct dm_buf isp;
	size_t i;
	int rc = DM_OK, k;

	dm_buf_init(&isp, 4 * DM_QUERY_TEXT_MAX + 1);
	if (sqlite3_prepare_v2(q->db,
	        "SELECT service, kind FROM host WHERE ip = ?1", -1, &host,
	        NULL) != SQLITE_OK)
		rc = db_error(q, err, "reading the host table");
	for (i = 0; rc == DM_OK && i < f->n; i++) {
		const struct fold_group *g = f->order[i];
		struct dm_query_source s;
		const char *v[EV_KEYS], *name;

		if (!fold_having(g, failing))
			continue;
		for (k = 0; k < EV_KEYS; k++)
			v[k] = fold_key(g, k);
		/* As dm_isp(org_name). */
		name =
		    q->isp_name != NULL ? q->isp_name(q->isp_ctx, v[0]) : v[0];
		dm_buf_reset(&isp);
		if ((rc = dm_buf_add(&isp, name, clip_len(name))) != DM_OK) {
			rc = dm_error_set(err, rc, _("out of memory"));
			break;
		}
		s.isp = isp.data;
		s.messages = g->sum[0];
		s.first_day = g->first;
		s.last_day = g->last;
		if ((rc = fold_host(q, host, g, &s, err)) == DM_OK)
			rc = source_emit(c, v, &s, err);
	}
	sqlite3_finalize(host);
	dm_buf_free(&isp);
	return rc;
}

/* The summed rows of dm_query_sources, grouped in C (fold_run). */
static int
sources_folded(struct dm_query *q, const struct dm_query_filter *f, int failing,
    struct source_ctx *c, struct dm_error *err)
{
	struct fold fold;
	sqlite3_stmt *st;
	int rc;

	if (failing && by_runs(f))
		rc = prepare_runs(q, f,
		    "SELECT " SOURCE_COLS ", s.messages, s.first_day, "
		    "s.last_day",
		    "", "", &st, err);
	else
		rc = prepare_source(q, f,
		    "SELECT " SOURCE_COLS ", s.messages, s.day, s.day", "",
		    failing, "", &st, err);
	if (rc != DM_OK)
		return rc;
	if ((rc = fold_run(q, st, &source_spec, &fold, NULL, NULL, err)) ==
	    DM_OK)
		rc = sources_emit(q, &fold, failing, c, err);
	fold_free(&fold);
	return rc;
}

/* The same grouped by SQLite. */
static int
sources_grouped(struct dm_query *q, const struct dm_query_filter *f,
    int failing, struct source_ctx *c, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (failing && by_runs(f))
		rc = prepare_runs(q, f,
		    "SELECT " SOURCE_COLS ", dm_sum(s.messages) AS m, "
		    "min(s.first_day), max(s.last_day), dm_isp(s.org_name), "
		    "" HOST_COLS,
		    HOST_JOIN,
		    " GROUP BY " SOURCE_GROUP " HAVING m > 0 " SOURCE_ORDER,
		    &st, err);
	else
		rc = prepare_source(q, f,
		    "SELECT " SOURCE_COLS ", dm_sum(s.messages) AS m, "
		    "min(s.day), max(s.day), dm_isp(s.org_name), " HOST_COLS,
		    HOST_JOIN, failing,
		    failing ? " GROUP BY " SOURCE_GROUP
		              " HAVING m > 0 " SOURCE_ORDER
		            : " GROUP BY " SOURCE_GROUP " " SOURCE_ORDER,
		    &st, err);
	return rc == DM_OK ? run(q, st, source_row, c, err) : rc;
}

int
dm_query_sources(struct dm_query *q, const struct dm_query_filter *f,
    unsigned flags, dm_query_source_cb cb, void *ctx, struct dm_error *err)
{
	struct source_ctx c;
	sqlite3_stmt *st;
	int rc, failing = (flags & DM_QUERY_FAILING) != 0;

	memset(&c, 0, sizeof(c));
	c.cb = cb;
	c.ctx = ctx;
	dm_buf_init(&c.text, (size_t)1 << 30);
	if (f->n_pairs > DM_QUERY_PAIRS_MAX)
		return dm_error_set(err, DM_EINVAL,
		    "a query names at most %d pairs", DM_QUERY_PAIRS_MAX);
	/* A failure of no message (count 0 or invalid) is no failing source;
	   a day's share of a report can be 0 (spreading), so per row it is
	   only skipped. */
	if (flags & DM_QUERY_PER_ROW) {
		rc = prepare_source(q, f,
		    "SELECT " SOURCE_COLS ", s.messages, s.day, s.day, "
		    "dm_isp(s.org_name), " HOST_COLS,
		    HOST_JOIN, failing, failing ? " AND s.messages > 0" : "",
		    &st, err);
		if (rc == DM_OK)
			rc = run(q, st, source_row, &c, err);
	} else {
		rc = q->fold_max == 0 ? FOLD_GIVE_UP
		                      : sources_folded(q, f, failing, &c, err);
		if (rc == FOLD_GIVE_UP)
			rc = sources_grouped(q, f, failing, &c, err);
	}
	dm_buf_free(&c.text);
	dm_free(c.dkim);
	dm_free(c.spf);
	dm_free(c.reasons);
	return rc;
}

/* The records of report p, by their id range (schema.sql: first_record): there
 * is no index on record(report), and the unary + keeps SQLite from building an
 * automatic one over every record instead. */
#define RECORDS_OF_P                                                           \
	"r.id BETWEEN p.first_record AND p.last_record AND +r.report = p.id"

/* ---- Conflicts ---- */

/* *n = the rows of base (a count over rollup_report rr, with ?1 and ?2 the
 * period) that match the filter's domain and reporter. */
static int
count_reports(struct dm_query *q, const struct dm_query_filter *f,
    const char *base, int64_t *n, struct dm_error *err)
{
	struct dm_buf sql;
	sqlite3_stmt *st;
	int rc;

	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, base);
	if (rc == DM_OK && f->domain != NULL)
		rc = dm_buf_adds(&sql,
		    " AND (rr.domain = ?3 OR EXISTS (SELECT 1 FROM report p "
		    "CROSS JOIN record r ON " RECORDS_OF_P " WHERE p.id = "
		    "rr.report AND +r.header_from = ?3))");
	if (rc == DM_OK && f->reporter != NULL)
		rc = dm_buf_adds(&sql, RR_REPORTER);
	if (rc != DM_OK) {
		dm_buf_free(&sql);
		return dm_error_set(
		    err, rc, "building a query: %s", dm_strerror(rc));
	}
	rc = sqlite3_prepare_v2(q->db, sql.data, -1, &st, NULL);
	dm_buf_free(&sql);
	if (rc != SQLITE_OK)
		return db_error(q, err, "preparing a report query");
	sqlite3_bind_int64(st, 1, f->from);
	sqlite3_bind_int64(st, 2, f->to);
	if (f->domain != NULL)
		sqlite3_bind_text(st, 3, f->domain, -1, SQLITE_TRANSIENT);
	if (f->reporter != NULL)
		sqlite3_bind_text(st, 4, f->reporter, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? DM_OK : db_error(q, err, "counting reports");
}

int
dm_query_conflicts(struct dm_query *q, const struct dm_query_filter *f,
    int64_t *n, struct dm_error *err)
{
	*n = 0;
	if (q->version < 7)
		return DM_OK;
	return count_reports(q, f,
	    "SELECT count(*) FROM quarantine x JOIN rollup_report rr ON "
	    "rr.report = x.conflict_report WHERE x.reason = 'conflict' AND "
	    "x.resolved_at IS NULL AND rr.day0 < ?2 AND rr.day0 + rr.ndays "
	    "* " DM_SQL_INT(DM_DAY_SECONDS) " > ?1",
	    n, err);
}

int
dm_query_undated(struct dm_query *q, const struct dm_query_filter *f,
    int64_t *n, struct dm_error *err)
{
	*n = 0;
	return count_reports(q, f,
	    "SELECT count(*) FROM rollup_report rr WHERE rr.day0 = 0", n, err);
}

int
dm_query_span(
    struct dm_query *q, int64_t *first, int64_t *end, struct dm_error *err)
{
	/* The last report starts at most DM_ROLLUP_SLOTS days before the
	   end of the latest one: rollup_report_day0 finds both ends, and
	   only the last days' reports are read. */
	static const char sql[] =
	    "SELECT (SELECT min(day0) FROM rollup_report WHERE day0 > 0), "
	    "(SELECT max(day0 + ndays * " DM_SQL_INT(
	        DM_DAY_SECONDS) ") "
	                        "FROM rollup_report WHERE day0 > 0 AND day0 >= "
	                        "(SELECT max(day0) FROM rollup_report) "
	                        "- " DM_SQL_INT(
	                            DM_ROLLUP_SLOTS) " *"
	                                             " " DM_SQL_INT(
	                                                 DM_DAY_SECONDS) ")";
	sqlite3_stmt *st;
	int rc;

	*first = *end = 0;
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(q, err, "preparing a report query");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*first = sqlite3_column_int64(st, 0);
		*end = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? DM_OK
	                        : db_error(q, err, "finding the dated reports");
}

/* ---- New sources ---- */

static int
new_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_query_new_source s;

	s.source_ip = col_text(st, 0);
	s.first_day = sqlite3_column_int64(st, 1);
	s.messages = sqlite3_column_int64(st, 2);
	s.dmarc_pass = sqlite3_column_int64(st, 3);
	return c->cb.new_source(c->ctx, &s, err);
}

/* The filter's domain and reporter over record r of report rr, then ")": the
 * end of old_ip_sql()'s and undated_ips_sql()'s subqueries. */
static int
report_filter_end(struct dm_buf *sql, const struct dm_query_filter *f, int rc)
{
	if (rc == DM_OK && f->domain != NULL)
		rc = dm_buf_adds(
		    sql, " AND (rr.domain = ?3 OR r.header_from = ?3)");
	if (rc == DM_OK && f->reporter != NULL)
		rc = dm_buf_adds(sql, RR_REPORTER);
	return rc == DM_OK ? dm_buf_adds(sql, ")") : rc;
}

/* " NOT EXISTS (...)": no report matching the filter that starts before the
 * period has the address in column ip.  With first (nothing_before()), the
 * reports before are the undated ones, whose IPs are old (undated_ips_sql).
 */
static int
old_ip_sql(struct dm_buf *sql, const struct dm_query_filter *f, const char *ip,
    int first)
{
	int rc;

	if (first)
		return dm_buf_addf(sql, " %s NOT IN old", ip);
	rc = dm_buf_addf(sql,
	    " NOT EXISTS (SELECT 1 FROM record r JOIN rollup_report rr ON "
	    "rr.report = r.report WHERE r.source_ip IS nullif(%s, '') AND "
	    "rr.day0 < ?1",
	    ip);
	return report_filter_end(sql, f, rc);
}

/*
 * 1 when no dated report starts before the period (a period from the first
 * report on, as report --all): then an IP is old only when an undated report
 * has it, and that test reads the few undated reports' records instead of
 * every record of every IP of the period (all of the database for --all: 10
 * million probes).  -1 on error.
 */
static int
nothing_before(struct dm_query *q, const struct dm_query_filter *f)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(q->db,
	        "SELECT EXISTS (SELECT 1 FROM rollup_report WHERE day0 > 0 "
	        "AND day0 < ?1)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, f->from);
	rc = sqlite3_step(st) == SQLITE_ROW ? !sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc;
}

/* "old(ip) AS MATERIALIZED (...)": the IPs of the undated reports that
 * match the filter, for nothing_before(). */
static int
undated_ips_sql(struct dm_buf *sql, const struct dm_query_filter *f)
{
	int rc = dm_buf_adds(sql,
	    "old(ip) AS MATERIALIZED (SELECT ifnull(r.source_ip, '') "
	    "FROM rollup_report rr CROSS JOIN report p ON p.id = rr.report "
	    "CROSS JOIN record r ON " RECORDS_OF_P " WHERE rr.day0 = 0");

	return report_filter_end(sql, f, rc);
}

/* The rows of rollup_source s of the addresses in n(ip), found through
 * record(source_ip) as source_from() finds one address's.  NOT INDEXED: with
 * the day range in the WHERE clause, SQLite could otherwise search an index
 * by day (the day index before version 16) over the whole period for each
 * record. */
#define NEW_ROWS                                                               \
	" FROM n CROSS JOIN record r0 ON r0.source_ip IS nullif(n.ip, '') "    \
	"CROSS JOIN rollup_source s NOT INDEXED ON s.id BETWEEN r0.id "        \
	"* " DM_SQL_INT(DM_ROLLUP_SLOTS) " AND (r0.id + 1) * " DM_SQL_INT(     \
	    DM_ROLLUP_SLOTS) " - 1"

/*
 * 1 when source_seen answers for the filter: its first days and sums are
 * over every report, so a domain or reporter filter, or one by pairs, takes
 * the rows of the period instead.
 */
static int
seen_serves(const struct dm_query_filter *f)
{
	return f->domain == NULL && f->reporter == NULL && f->n_pairs == 0 &&
	       !f->kept;
}

/* " FROM source_seen n WHERE ...": the addresses first seen in the period,
 * within the filter's addresses. */
static int
seen_sql(struct dm_buf *sql, const struct dm_query_filter *f)
{
	int rc = dm_buf_adds(sql, " FROM source_seen n WHERE n.first_day >= ?1 "
	                          "AND n.first_day < ?2");

	if (rc == DM_OK && single_ip(f))
		rc = dm_buf_adds(sql, " AND n.ip = ?6");
	else if (rc == DM_OK && f->net != NULL)
		rc = dm_buf_adds(sql, " AND dm_in_net(n.ip, ?5)");
	return rc;
}

/* 1 when rollup_source has a row on or after the period's end: a report
 * with records whose last day is there (its rows cover each of its days);
 * -1 on error. */
static int
rows_after(struct dm_query *q, const struct dm_query_filter *f)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(q->db,
	        q->version < BY_REPORT_VERSION
	            ? "SELECT EXISTS (SELECT 1 FROM rollup_source WHERE day >= "
	              "?1)"
	            : "SELECT EXISTS (SELECT 1 FROM rollup_report rr JOIN "
	              "report p "
	              "ON p.id = rr.report WHERE rr.day0 > ?1 - " SLOTS
	              " * " DAY_SECS " AND rr.day0 + (rr.ndays - 1) * " DAY_SECS
	              " >= ?1 AND "
	              "p.first_record IS NOT NULL)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, f->to);
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc;
}

/*
 * New sources from source_seen: an address is new when its first day is in
 * the period (no report before the period has it, an undated one neither:
 * its day is 0).  All of its rows are then on or after the period's start,
 * so with no row after the period's end (a period up to the last report, as
 * report --all or a year to today) its sums over every day are the
 * period's, and the table alone answers.  Otherwise its rows are summed
 * from its own records, the period's days picked out.
 */
static int
new_seen_sql(struct dm_buf *sql, const struct dm_query_filter *f, int after)
{
	int rc;

	if (!after) {
		rc = dm_buf_adds(sql,
		    "SELECT n.ip, n.first_day, n.messages AS m, "
		    "n.dmarc_pass");
		if (rc == DM_OK)
			rc = seen_sql(sql, f);
		return rc == DM_OK ? dm_buf_adds(sql, " ORDER BY m DESC, n.ip")
		                   : rc;
	}
	rc = dm_buf_adds(sql, "WITH n(ip) AS MATERIALIZED (SELECT n.ip");
	if (rc == DM_OK)
		rc = seen_sql(sql, f);
	if (rc == DM_OK)
		rc = dm_buf_adds(sql,
		    ") SELECT s.source_ip, min(s.day), dm_sum(s.messages) AS "
		    "m, "
		    "dm_sum(CASE WHEN s.dkim = 'pass' OR s.spf = 'pass' THEN "
		    "s.messages END)" NEW_ROWS);
	if (rc == DM_OK)
		rc = filter_sql(sql, f, "s.", 1);
	return rc == DM_OK ? dm_buf_adds(sql, " GROUP BY s.source_ip ORDER BY "
	                                      "m DESC, s.source_ip")
	                   : rc;
}

/*
 * New sources for a domain or reporter filter: an IP is new when no report
 * matching the filter that starts before the period has it.  Every row of
 * the period matching the filter is grouped by IP and each IP tested:
 * record(source_ip) finds its records, oldest first, so an old IP is settled
 * at its first record.
 */
static int
new_rows_sql(struct dm_query *q, struct dm_buf *sql,
    const struct dm_query_filter *f, struct dm_error *err)
{
	int first = nothing_before(q, f);
	int rc = DM_OK;

	if (first < 0)
		return db_error(
		    q, err, "looking for reports before the period");
	if (first) {
		rc = dm_buf_adds(sql, "WITH ");
		if (rc == DM_OK)
			rc = undated_ips_sql(sql, f);
	}
	if (rc == DM_OK)
		rc = dm_buf_adds(sql,
		    " SELECT s.source_ip, min(s.day), dm_sum(s.messages) AS m, "
		    "dm_sum(CASE WHEN s.dkim = 'pass' OR s.spf = 'pass' THEN "
		    "s.messages END)");
	if (rc == DM_OK)
		rc = source_from(q, sql, f, 0);
	if (rc == DM_OK)
		rc = filter_sql(sql, f, "s.", 1);
	if (rc == DM_OK)
		rc = dm_buf_adds(sql, " GROUP BY s.source_ip HAVING");
	if (rc == DM_OK)
		rc = old_ip_sql(sql, f, "s.source_ip", first);
	return rc == DM_OK ? dm_buf_adds(sql, " ORDER BY m DESC, s.source_ip")
	                   : rc;
}

int
dm_query_new_sources(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_new_source_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	struct dm_buf sql;
	sqlite3_stmt *st;
	int rc, after = 0;

	if (seen_serves(f) && (after = rows_after(q, f)) < 0)
		return db_error(q, err, "looking for rows after the period");
	c.cb.new_source = cb;
	dm_buf_init(&sql, 1 << 20);
	if (seen_serves(f))
		rc = new_seen_sql(&sql, f, after);
	else if ((rc = new_rows_sql(q, &sql, f, err)) == DM_EDB) {
		dm_buf_free(&sql);
		return rc;
	}
	if ((rc = prepare(q, &sql, rc, f, &st, err)) != DM_OK)
		return rc;
	return run(q, st, new_row, &c, err);
}

/* ---- Hosts ---- */

static int
hosts_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct cb_ctx *c = vctx;
	struct dm_host h;

	h.ip = col_text(st, 0);
	dm_sql_host_row(st, 1, &h);
	return c->cb.host(c->ctx, &h, err);
}

int
dm_query_hosts(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_host_cb cb, void *ctx, struct dm_error *err)
{
	struct cb_ctx c = {.ctx = ctx};
	struct dm_buf sql;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (f->n_pairs == 0 || f->n_pairs > DM_QUERY_PAIRS_MAX)
		return dm_error_set(err, DM_EINVAL,
		    "a host query names 1 to %d pairs", DM_QUERY_PAIRS_MAX);
	c.cb.host = cb;
	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql,
	    "SELECT h.ip, h.ptr, h.confirmed, h.base_domain, h.service, "
	    "h.kind, h.asn, h.as_org, h.country, h.checked_at, h.error "
	    "FROM host h WHERE h.ip IN (VALUES");
	for (i = 0; rc == DM_OK && i < f->n_pairs; i++)
		rc = dm_buf_addf(&sql, "%s(?%zu)", i > 0 ? ", " : " ",
		    (size_t)P_PAIRS + 2 * i);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, ") ORDER BY h.ip");
	if ((rc = prepare(q, &sql, rc, f, &st, err)) != DM_OK)
		return rc;
	return run(q, st, hosts_row, &c, err);
}

int
dm_query_host(
    struct dm_query *q, const char *ip, struct dm_host *h, struct dm_error *err)
{
	int rc;

	memset(h, 0, sizeof(*h));
	h->ip = ip;
	h->confirmed = -1;
	h->asn = -1;
	if (q->host == NULL &&
	    sqlite3_prepare_v3(q->db,
	        "SELECT ptr, confirmed, base_domain, service, kind, asn, "
	        "as_org, country, checked_at, error FROM host WHERE ip = ?1",
	        -1, SQLITE_PREPARE_PERSISTENT, &q->host, NULL) != SQLITE_OK)
		return db_error(q, err, "preparing the host query");
	sqlite3_reset(q->host);
	sqlite3_bind_text(q->host, 1, ip, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q->host);
	if (rc == SQLITE_DONE)
		return DM_DONE;
	if (rc != SQLITE_ROW)
		return db_error(q, err, "reading a host");
	dm_sql_host_row(q->host, 0, h);
	return DM_OK;
}
