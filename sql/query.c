/*
 * query.c - read-only queries over the rollup tables for report/.
 *
 * Each query is one SELECT built from a fixed text plus the filter's clauses,
 * all values bound (never pasted into SQL).  Auth results come out of
 * rollup_source as one text column each (entries separated by char(30), fields
 * by char(31), see schema.sql) and are split here, so report/ sees the
 * plain structs of core/model.h.
 */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "limits.h"
#include "mem.h"
#include "store_int.h"

#define RS '\036'
#define US '\037'

struct dm_query {
	sqlite3 *db;
	sqlite3_stmt *host; /* dm_query_host's, prepared on first use */
	int version;        /* PRAGMA user_version */
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

/* The read-only connection, with dm_sum() registered. */
static int
connect(struct dm_query *q, const char *name, int flags, const char *path,
    struct dm_error *err)
{
	int rc =
	    sqlite3_open_v2(name, &q->db, SQLITE_OPEN_READONLY | flags, NULL);

	if (rc != SQLITE_OK)
		return dm_error_setr(err, DM_EDB, "db_open",
		    "%s: cannot open the database: %s", path,
		    q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(q->db, 5000);
	if (sqlite3_create_function_v2(q->db, "dm_sum", 1,
	        SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, NULL, sum_step,
	        sum_final, NULL) != SQLITE_OK)
		return dm_error_set(err, DM_ENOMEM, "%s: out of memory", path);
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
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	snprintf(wal, strlen(path) + 5, "%s-wal", path);
	busy = access(wal, F_OK) == 0;
	dm_free(wal);
	if (busy)
		return dm_error_setr(err, DM_EDB, "db_open",
		    "%s: cannot read the database while an ingest writes it "
		    "(its -wal file is there) without write access to its "
		    "folder; run this as the database's owner, or again once "
		    "the ingest is done",
		    path);
	sqlite3_close(q->db);
	q->db = NULL;
	if ((uri = immutable_uri(path)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	rc = connect(q, uri, SQLITE_OPEN_URI, path, err);
	dm_free(uri);
	return rc;
}

/* Opens path read-only: never written, whoever runs the report. */
static int
open_readonly(
    struct dm_query *q, const char *path, int *app, struct dm_error *err)
{
	int rc;

	if ((rc = connect(q, path, 0, path, err)) != DM_OK)
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
		    "%s: cannot read the database: %s", path,
		    sqlite3_errmsg(q->db));
	return DM_OK;
}

int
dm_query_open(struct dm_query **out, const char *path, struct dm_error *err)
{
	struct dm_query *q;
	int rc, app = 0;

	*out = NULL;
	if ((q = dm_calloc(1, sizeof(*q))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	if (open_readonly(q, path, &app, err) != DM_OK)
		goto fail;
	if (app != 0 && app != DM_SQL_APPLICATION_ID) {
		dm_error_setr(err, DM_EDB, "db_schema",
		    "%s: not a dmarcstat database: its application id is "
		    "0x%08x (another program's)",
		    path, (unsigned)app);
		goto fail;
	}
	rc = sqlite3_exec(q->db,
	    "SELECT rollup_source.record FROM rollup_daily, rollup_source, "
	    "host LIMIT 0",
	    NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		dm_error_setr(err, DM_EDB, "db_schema",
		    "%s: not a dmarcstat database with report rollups (%s); "
		    "run dmarcstat ingest "
		    "with this build to create or upgrade it",
		    path, sqlite3_errmsg(q->db));
		goto fail;
	}
	*out = q;
	return DM_OK;
fail:
	dm_query_close(q);
	return err != NULL ? err->code : DM_EDB;
}

void
dm_query_close(struct dm_query *q)
{
	if (q == NULL)
		return;
	sqlite3_finalize(q->host);
	sqlite3_close(q->db);
	dm_free(q);
}

/* ---- Building and binding the filter
 * ------------------------------------------------------ */

static int
add_filter(
    struct dm_buf *sql, const struct dm_query_filter *f, const char *day_col)
{
	size_t i;
	int rc =
	    dm_buf_addf(sql, " WHERE %s >= ? AND %s < ?", day_col, day_col);

	if (rc == DM_OK && f->domain != NULL)
		rc = dm_buf_adds(sql, " AND (domain = ? OR header_from = ?)");
	if (rc == DM_OK && f->use_org_names) {
		rc = dm_buf_adds(sql,
		    f->n_org_names == 0 ? " AND 0" : " AND org_name IN (?");
		for (i = 1; rc == DM_OK && i < f->n_org_names; i++)
			rc = dm_buf_adds(sql, ", ?");
		if (rc == DM_OK && f->n_org_names > 0)
			rc = dm_buf_adds(sql, ")");
	}
	return rc;
}

static void
bind_filter(sqlite3_stmt *st, const struct dm_query_filter *f, int *n)
{
	size_t i;

	sqlite3_bind_int64(st, ++*n, f->from);
	sqlite3_bind_int64(st, ++*n, f->to);
	if (f->domain != NULL) {
		sqlite3_bind_text(st, ++*n, f->domain, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, ++*n, f->domain, -1, SQLITE_TRANSIENT);
	}
	for (i = 0; f->use_org_names && i < f->n_org_names; i++)
		sqlite3_bind_text(
		    st, ++*n, f->org_names[i], -1, SQLITE_TRANSIENT);
}

/*
 * rollup_source as a FROM clause: with the filter's source IP, only that IP's
 * rows, found through record(source_ip) (rollup_source's id is record.id *
 * DM_ROLLUP_SLOTS plus the day, schema.sql); its parameter comes first
 * (bind_source_ip).
 */
static const char *
source_from(const struct dm_query_filter *f)
{
	return f->source_ip == NULL
	           ? " FROM rollup_source s"
	           : " FROM (SELECT s.* FROM record r JOIN rollup_source s ON "
	             "s.id BETWEEN r.id * " DM_SQL_INT(
	                 DM_ROLLUP_SLOTS) " AND "
	                                  "(r.id + 1) * " DM_SQL_INT(
	                                      DM_ROLLUP_SLOTS) " - 1 WHERE "
	                                                       "r.source_ip = "
	                                                       "?) s";
}

static void
bind_source_ip(sqlite3_stmt *st, const struct dm_query_filter *f, int *n)
{
	if (f->source_ip != NULL)
		sqlite3_bind_text(st, ++*n, f->source_ip, -1, SQLITE_TRANSIENT);
}

/*
 * Prepares head (+ rollup_source as FROM when source) + filter + tail with the
 * filter bound; *n is the last parameter used.
 */
static int
prepare(struct dm_query *q, const struct dm_query_filter *f,
    const char *day_col, const char *head, int source, const char *tail,
    sqlite3_stmt **st, int *n, struct dm_error *err)
{
	struct dm_buf sql;
	int rc;

	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql, head);
	if (rc == DM_OK && source)
		rc = dm_buf_adds(&sql, source_from(f));
	if (rc == DM_OK && f != NULL)
		rc = add_filter(&sql, f, day_col);
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, tail);
	if (rc != DM_OK) {
		dm_buf_free(&sql);
		return dm_error_set(
		    err, rc, "building a query: %s", dm_strerror(rc));
	}
	rc = sqlite3_prepare_v2(q->db, sql.data, -1, st, NULL);
	dm_buf_free(&sql);
	if (rc != SQLITE_OK)
		return db_error(q, err, "preparing a report query");
	*n = 0;
	if (source)
		bind_source_ip(*st, f, n);
	if (f != NULL)
		bind_filter(*st, f, n);
	return DM_OK;
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

/* ---- Reporters
 * ----------------------------------------------------------------------------
 */

struct name_ctx {
	dm_query_name_cb cb;
	void *ctx;
};

static int
name_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct name_ctx *c = vctx;

	return c->cb(c->ctx, col_text(st, 0), err);
}

int
dm_query_org_names(
    struct dm_query *q, dm_query_name_cb cb, void *ctx, struct dm_error *err)
{
	struct name_ctx c = {cb, ctx};
	sqlite3_stmt *st;
	int n, rc;

	rc = prepare(q, NULL, NULL,
	    "SELECT DISTINCT org_name FROM rollup_report ORDER BY 1", 0, "",
	    &st, &n, err);
	if (rc != DM_OK)
		return rc;
	return run(q, st, name_row, &c, err);
}

/* ---- Days
 * ---------------------------------------------------------------------------------
 */

struct day_ctx {
	dm_query_day_cb cb;
	void *ctx;
};

static int
day_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct day_ctx *c = vctx;
	struct dm_query_day d;

	d.day = sqlite3_column_int64(st, 0);
	d.org_name = col_text(st, 1);
	d.domain = col_text(st, 2);
	d.header_from = col_text(st, 3);
	d.p = col_text(st, 4);
	d.sp = col_text(st, 5);
	d.pct = sqlite3_column_type(st, 6) == SQLITE_NULL
	            ? -1
	            : sqlite3_column_int64(st, 6);
	d.messages = sqlite3_column_int64(st, 7);
	d.dmarc_pass = sqlite3_column_int64(st, 8);
	d.dkim_aligned = sqlite3_column_int64(st, 9);
	d.spf_aligned = sqlite3_column_int64(st, 10);
	d.quarantined = sqlite3_column_int64(st, 11);
	d.rejected = sqlite3_column_int64(st, 12);
	return c->cb(c->ctx, &d, err);
}

int
dm_query_daily(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_day_cb cb, void *ctx, struct dm_error *err)
{
	struct day_ctx c = {cb, ctx};
	sqlite3_stmt *st;
	int n, rc;

	rc = prepare(q, f, "day",
	    "SELECT day, org_name, domain, header_from, p, sp, pct, messages, "
	    "dmarc_pass, "
	    "dkim_aligned, spf_aligned, quarantined, rejected FROM "
	    "rollup_daily",
	    0, " ORDER BY day, org_name, domain, header_from", &st, &n, err);
	if (rc != DM_OK)
		return rc;
	return run(q, st, day_row, &c, err);
}

/* ---- Sources
 * ------------------------------------------------------------------------------
 */

/* Arrays decoded from the packed auth columns, reused from row to row. */
struct source_ctx {
	dm_query_source_cb cb;
	void *ctx;
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
 * separator. */
static char *
next_field(char **p)
{
	char *f = *p;
	size_t n = strcspn(f, "\036\037");
	char end = f[n];

	f[n] = '\0';
	*p = end == '\0' ? f + n : f + n + 1;
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
decode_auth(struct source_ctx *c, sqlite3_stmt *st, struct dm_query_source *s)
{
	const char *dk = col_text(st, 13), *sp = col_text(st, 14),
	           *rs = col_text(st, 15);
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

static int
source_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct source_ctx *c = vctx;
	struct dm_query_source s;
	int rc;

	s.org_name = col_text(st, 0);
	s.domain = col_text(st, 1);
	s.p = col_text(st, 2);
	s.adkim = col_text(st, 3);
	s.aspf = col_text(st, 4);
	s.testing = col_text(st, 5);
	s.source_ip = col_text(st, 6);
	s.header_from = col_text(st, 7);
	s.envelope_from = col_text(st, 8);
	s.envelope_to = col_text(st, 9);
	s.disposition = col_text(st, 10);
	s.dkim = col_text(st, 11);
	s.spf = col_text(st, 12);
	s.messages = sqlite3_column_int64(st, 16);
	if ((rc = decode_auth(c, st, &s)) != DM_OK)
		return dm_error_set(
		    err, rc, "decoding auth results: %s", dm_strerror(rc));
	return c->cb(c->ctx, &s, err);
}

int
dm_query_sources(struct dm_query *q, const struct dm_query_filter *f,
    int failing_only, dm_query_source_cb cb, void *ctx, struct dm_error *err)
{
	struct source_ctx c;
	sqlite3_stmt *st;
	int n, rc;

	memset(&c, 0, sizeof(c));
	c.cb = cb;
	c.ctx = ctx;
	dm_buf_init(&c.text, (size_t)1 << 30);
	rc = prepare(q, f, "day",
	    "SELECT org_name, domain, p, adkim, aspf, testing, source_ip, "
	    "header_from, "
	    "envelope_from, envelope_to, disposition, dkim, spf, dkim_auth, "
	    "spf_auth, reasons, "
	    "dm_sum(messages) AS m",
	    1,
	    /* Spelt as in schema.sql's partial index rollup_source_failing,
	       so SQLite uses it. */
	    /* A failure of no message (count 0 or invalid) is no failing
	       source. */
	    failing_only
	        ? " AND ((dkim <> 'pass' AND spf <> 'pass') OR disposition IN "
	          "('quarantine', 'reject')) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, "
	          "9, 10, 11, "
	          "12, 13, 14, 15, 16 HAVING m > 0 ORDER BY m DESC, 7, 1, 14, "
	          "15, 16, 9, 10, 11"
	        : " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, "
	          "15, 16 ORDER BY "
	          "m DESC, 7, 1, 14, 15, 16, 9, 10, 11",
	    &st, &n, err);
	if (rc == DM_OK)
		rc = run(q, st, source_row, &c, err);
	dm_buf_free(&c.text);
	dm_free(c.dkim);
	dm_free(c.spf);
	dm_free(c.reasons);
	return rc;
}

/* ---- Conflicts
 * -------------------------------------------------------------------------- */

int
dm_query_conflicts(struct dm_query *q, const struct dm_query_filter *f,
    int64_t *n, struct dm_error *err)
{
	struct dm_buf sql;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	*n = 0;
	if (q->version < 7)
		return DM_OK;
	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql,
	    "SELECT count(*) FROM quarantine x JOIN rollup_report rr ON "
	    "rr.report = x.conflict_report WHERE x.reason = 'conflict' AND "
	    "x.resolved_at IS NULL AND rr.day0 < ?2 AND rr.day0 + rr.ndays * "
	    "86400 > ?1");
	if (rc == DM_OK && f->domain != NULL)
		rc = dm_buf_adds(&sql,
		    " AND (rr.domain = ?3 OR EXISTS (SELECT 1 FROM record r "
		    "WHERE r.report = rr.report AND r.header_from = ?3))");
	/* Reporters from ?4 on (numbered: ?3 may be absent). */
	if (rc == DM_OK && f->use_org_names)
		rc = dm_buf_adds(&sql, " AND rr.org_name IN (NULL");
	for (i = 0; rc == DM_OK && f->use_org_names && i < f->n_org_names; i++)
		rc = dm_buf_addf(&sql, ", ?%zu", i + 4);
	if (rc == DM_OK && f->use_org_names)
		rc = dm_buf_adds(&sql, ")");
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
	for (i = 0; f->use_org_names && i < f->n_org_names; i++)
		sqlite3_bind_text(
		    st, (int)i + 4, f->org_names[i], -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? DM_OK
	                        : db_error(q, err, "counting conflicts");
}

/* ---- New sources
 * -------------------------------------------------------------------------- */

struct new_ctx {
	dm_query_new_source_cb cb;
	void *ctx;
};

static int
new_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct new_ctx *c = vctx;
	struct dm_query_new_source s;

	s.source_ip = col_text(st, 0);
	s.first_day = sqlite3_column_int64(st, 1);
	s.messages = sqlite3_column_int64(st, 2);
	s.dmarc_pass = sqlite3_column_int64(st, 3);
	return c->cb(c->ctx, &s, err);
}

int
dm_query_new_sources(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_new_source_cb cb, void *ctx, struct dm_error *err)
{
	struct new_ctx c = {cb, ctx};
	struct dm_buf sql;
	sqlite3_stmt *st;
	size_t i;
	int n = 0, rc;

	/*
	 * An IP is new when no report matching the filter that starts before
	 * the period has it: record(source_ip) finds its records, oldest
	 * first, so an old IP is settled at its first record.  Its first day
	 * and messages are the period's.
	 */
	dm_buf_init(&sql, 1 << 20);
	rc = dm_buf_adds(&sql,
	    "SELECT source_ip, min(day), dm_sum(messages) AS m, dm_sum(CASE "
	    "WHEN "
	    "dkim = 'pass' OR spf = 'pass' THEN messages ELSE 0 END)");
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, source_from(f));
	if (rc == DM_OK)
		rc = add_filter(&sql, f, "day");
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql,
		    " GROUP BY source_ip HAVING NOT EXISTS (SELECT 1 FROM "
		    "record r JOIN rollup_report rr ON rr.report = r.report "
		    "WHERE r.source_ip IS nullif(s.source_ip, '') AND rr.day0 "
		    "< ?");
	if (rc == DM_OK && f->domain != NULL)
		rc = dm_buf_adds(
		    &sql, " AND (rr.domain = ? OR r.header_from = ?)");
	if (rc == DM_OK && f->use_org_names) {
		rc = dm_buf_adds(&sql,
		    f->n_org_names == 0 ? " AND 0" : " AND rr.org_name IN (?");
		for (i = 1; rc == DM_OK && i < f->n_org_names; i++)
			rc = dm_buf_adds(&sql, ", ?");
		if (rc == DM_OK && f->n_org_names > 0)
			rc = dm_buf_adds(&sql, ")");
	}
	if (rc == DM_OK)
		rc = dm_buf_adds(&sql, ") ORDER BY m DESC, source_ip");
	if (rc != DM_OK) {
		dm_buf_free(&sql);
		return dm_error_set(
		    err, rc, "building a query: %s", dm_strerror(rc));
	}
	rc = sqlite3_prepare_v2(q->db, sql.data, -1, &st, NULL);
	dm_buf_free(&sql);
	if (rc != SQLITE_OK)
		return db_error(q, err, "preparing a report query");
	bind_source_ip(st, f, &n);
	bind_filter(st, f, &n);
	sqlite3_bind_int64(st, ++n, f->from);
	if (f->domain != NULL) {
		sqlite3_bind_text(st, ++n, f->domain, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, ++n, f->domain, -1, SQLITE_TRANSIENT);
	}
	for (i = 0; f->use_org_names && i < f->n_org_names; i++)
		sqlite3_bind_text(
		    st, ++n, f->org_names[i], -1, SQLITE_TRANSIENT);
	return run(q, st, new_row, &c, err);
}

/* ---- Hosts
 * --------------------------------------------------------------------------------
 */

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
