/*
 * rollup.c - the part of the rollups that the store writes itself: one
 * rollup_source row per record and day (see migrate_v3.sql for the tables and
 * the trigger that keeps the others).  The encoding and the spreading of a
 * report over its days must match migrate_v3.sql exactly: the migration's
 * backfill of databases stored before version 3 uses the SQL spelling.
 */
#include "store_int.h"

#include <string.h>

#include "mem.h"

#define DAY 86400
#define MAX_DAYS 31

/* Separators of encoded auth results: ASCII RS between entries, US between
 * fields; the parser drops control characters from values, so neither occurs
 * in one. */
#define RS "\x1e"
#define US "\x1f"

void
dm_rollup_days(
    struct dm_store *s, const struct dm_feedback *fb, int64_t stored_at)
{
	int64_t b = fb->begin >= 0 ? fb->begin : stored_at;
	int64_t days;

	s->report_day0 = b / DAY * DAY;
	if (fb->end < 0 || fb->end <= b) {
		s->report_ndays = 1;
		return;
	}
	days = (fb->end - 1) / DAY - b / DAY + 1;
	s->report_ndays = (unsigned)(days > MAX_DAYS ? MAX_DAYS : days);
}

static const char *
nz(const char *v)
{
	return v != NULL ? v : "";
}

/* Appends "a US b US c" entries separated by RS, as migrate_v3.sql's
 * group_concat does; *start is where this column's text begins. */
static int
add_entry(
    struct dm_buf *b, int first, const char *x, const char *y, const char *z)
{
	int rc = first ? DM_OK : dm_buf_add(b, RS, 1);

	if (rc == DM_OK)
		rc = dm_buf_adds(b, nz(x));
	if (rc == DM_OK)
		rc = dm_buf_add(b, US, 1);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, nz(y));
	if (rc == DM_OK && z != NULL) {
		rc = dm_buf_add(b, US, 1);
		if (rc == DM_OK)
			rc = dm_buf_adds(b, z);
	}
	return rc;
}

/*
 * Encodes the record's DKIM results, SPF results and reasons into s->auth as
 * three NUL-separated strings; offs[] gets where each starts.
 */
static int
encode(struct dm_store *s, const struct dm_record *rec, size_t offs[3])
{
	struct dm_buf *b = &s->auth;
	int rc = DM_OK;
	size_t i;

	dm_buf_reset(b);
	offs[0] = 0;
	for (i = 0; rc == DM_OK && i < rec->n_dkim; i++)
		rc = add_entry(b, i == 0, rec->dkim_results[i].domain,
		    rec->dkim_results[i].selector,
		    nz(rec->dkim_results[i].result));
	if (rc == DM_OK)
		rc = dm_buf_add(b, "", 1);
	offs[1] = b->len;
	for (i = 0; rc == DM_OK && i < rec->n_spf; i++)
		rc = add_entry(b, i == 0, rec->spf_results[i].domain,
		    rec->spf_results[i].scope, nz(rec->spf_results[i].result));
	if (rc == DM_OK)
		rc = dm_buf_add(b, "", 1);
	offs[2] = b->len;
	for (i = 0; rc == DM_OK && i < rec->n_reasons; i++)
		rc = add_entry(b, i == 0, rec->reasons[i].type,
		    rec->reasons[i].comment, NULL);
	if (rc == DM_OK)
		rc = dm_buf_add(b, "", 1);
	return rc;
}

static void
bind_keys(sqlite3_stmt *st, const struct dm_feedback *fb,
    const struct dm_record *rec, const char *auth, const size_t offs[3])
{
	dm_store_bind_static(st, 2, nz(fb->org_name));
	dm_store_bind_static(st, 3, nz(fb->policy.domain));
	dm_store_bind_static(st, 4, nz(fb->policy.p));
	dm_store_bind_static(st, 5, nz(fb->policy.adkim));
	dm_store_bind_static(st, 6, nz(fb->policy.aspf));
	dm_store_bind_static(st, 7, nz(fb->policy.testing));
	dm_store_bind_static(st, 8, nz(rec->source_ip));
	dm_store_bind_static(st, 9, nz(rec->header_from));
	dm_store_bind_static(st, 10, nz(rec->envelope_from));
	dm_store_bind_static(st, 11, nz(rec->envelope_to));
	dm_store_bind_static(st, 12, nz(rec->disposition));
	dm_store_bind_static(st, 13, nz(rec->dkim));
	dm_store_bind_static(st, 14, nz(rec->spf));
	dm_store_bind_static(st, 15, auth + offs[0]);
	dm_store_bind_static(st, 16, auth + offs[1]);
	dm_store_bind_static(st, 17, auth + offs[2]);
}

int
dm_rollup_source(struct dm_store *s, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	int64_t m = rec->count > 0 ? rec->count : 0;
	int64_t nd = (int64_t)s->report_ndays;
	sqlite3_stmt *st;
	size_t offs[3];
	int64_t n;

	if (encode(s, rec, offs) != DM_OK)
		return dm_error_set(err, DM_ENOMEM,
		    "storing record %llu: out of memory",
		    (unsigned long long)rec->index);
	for (n = 0; n < nd; n++) {
		st = dm_store_stmt(
		    s, DM_ST_ROLLUP_SOURCE, "updating rollups", err);
		if (st == NULL)
			return DM_EDB;
		sqlite3_bind_int64(st, 1, s->report_day0 + n * DAY);
		bind_keys(st, fb, rec, s->auth.data, offs);
		/* Even spread; the remainder one message each to the first
		 * days. */
		sqlite3_bind_int64(st, 18, m / nd + (n < m % nd));
		if (dm_store_step_done(s, st, "updating rollups", err) != DM_OK)
			return DM_EDB;
	}
	return DM_OK;
}
