/*
 * seen.c - source_seen, an address's first day and its sums over every day
 * (schema.sql), folded as the store writes reports: a report's records are
 * summed per address in memory; once its payload is kept (dm_seen_commit)
 * its sums join the batch's, which are written, one upsert per address, when
 * the batch commits (dm_seen_flush).  The same addresses come back in report
 * after report (every receiver reports the sender's addresses, each day), so
 * the batch writes each once instead of once per report: an upsert costs
 * about a fifth of a record's whole ingest.  rollup_rebuild.sql spells the
 * same rule in SQL; check_sql holds the two to the same rows.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "limits.h"
#include "mem.h"

/*
 * The addresses of a report kept in memory; a report with more writes its
 * sums in parts (the upsert adds them up), under the payload's savepoint.
 * The batch's addresses: with more, the batch's sums are written early.
 */
#define REPORT_MAX 1024
#define BATCH_MAX 16384

struct seen_entry {
	size_t ip; /* offset of the address in ips; 0 means a free slot */
	uint64_t hash;
	int64_t first_day, messages, dmarc_pass;
};

/* An open-addressing table of at most max addresses in 2 * max slots. */
struct seen_table {
	struct seen_entry *slot;
	uint32_t *used; /* the slots in use, n of them */
	size_t n, max;
	struct dm_buf ips; /* "\0" then each address, NUL-terminated */
};

struct dm_seen {
	struct seen_table report, batch;
};

static int
is_pass(const char *v)
{
	return v != NULL && strcmp(v, "pass") == 0;
}

static int
table_init(struct seen_table *t, size_t max)
{
	t->max = max;
	t->slot = dm_calloc(2 * max, sizeof(*t->slot));
	t->used = dm_calloc(max, sizeof(*t->used));
	dm_buf_init(&t->ips, (size_t)1 << 30);
	return t->slot != NULL && t->used != NULL ? DM_OK : DM_ENOMEM;
}

static void
table_reset(struct seen_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		memset(&t->slot[t->used[i]], 0, sizeof(t->slot[0]));
	t->n = 0;
	dm_buf_reset(&t->ips);
}

static void
table_free(struct seen_table *t)
{
	dm_free(t->slot);
	dm_free(t->used);
	dm_buf_free(&t->ips);
}

/* The address's entry, added when new (first seen on day); NULL when out of
 * memory.  The table has room (n < max). */
static struct seen_entry *
table_find(struct seen_table *t, const char *ip, int64_t day)
{
	uint64_t h = dm_hash_str(ip);
	size_t i = h % (2 * t->max), len;

	if (t->ips.len == 0 && dm_buf_add(&t->ips, "", 1) != DM_OK)
		return NULL;
	for (; t->slot[i].ip != 0; i = (i + 1) % (2 * t->max))
		if (t->slot[i].hash == h &&
		    strcmp(t->ips.data + t->slot[i].ip, ip) == 0)
			return &t->slot[i];
	len = t->ips.len;
	if (dm_buf_add(&t->ips, ip, strlen(ip) + 1) != DM_OK)
		return NULL;
	t->slot[i].ip = len;
	t->slot[i].hash = h;
	t->slot[i].first_day = day;
	t->used[t->n++] = (uint32_t)i;
	return &t->slot[i];
}

/* Adds e's first day and sums to the entry of its address in t. */
static int
table_merge(struct seen_table *t, const struct seen_table *from,
    const struct seen_entry *e)
{
	struct seen_entry *to =
	    table_find(t, from->ips.data + e->ip, e->first_day);

	if (to == NULL)
		return DM_ENOMEM;
	if (e->first_day < to->first_day)
		to->first_day = e->first_day;
	to->messages = dm_count_add(to->messages, e->messages);
	to->dmarc_pass = dm_count_add(to->dmarc_pass, e->dmarc_pass);
	return DM_OK;
}

/* One upsert: the sums added, the first day set when the address is new. */
static int
seen_add(struct dm_store *s, const char *ip, const struct seen_entry *e,
    struct dm_error *err)
{
	sqlite3_stmt *st =
	    dm_store_stmt(s, DM_ST_SEEN_ADD, "updating rollups", err);

	if (st == NULL)
		return DM_EDB;
	dm_store_bind_static(st, 1, ip);
	sqlite3_bind_int64(st, 2, e->first_day);
	sqlite3_bind_int64(st, 3, e->messages);
	sqlite3_bind_int64(st, 4, e->dmarc_pass);
	return dm_store_step_done(s, st, "updating rollups", err);
}

/* *last = the latest first day stored (0 when none). */
static int
seen_last(struct dm_store *s, int64_t *last, struct dm_error *err)
{
	sqlite3_stmt *st =
	    dm_store_stmt(s, DM_ST_SEEN_LAST, "updating rollups", err);
	int rc;

	if (st == NULL)
		return DM_EDB;
	rc = sqlite3_step(st);
	*last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? DM_OK
	                        : dm_store_db_error(s, "updating rollups", err);
}

/* The address's first day moved back to the entry's when later. */
static int
seen_first(struct dm_store *s, const char *ip, const struct seen_entry *e,
    struct dm_error *err)
{
	sqlite3_stmt *st =
	    dm_store_stmt(s, DM_ST_SEEN_FIRST, "updating rollups", err);

	if (st == NULL)
		return DM_EDB;
	dm_store_bind_static(st, 1, ip);
	sqlite3_bind_int64(st, 2, e->first_day);
	return dm_store_step_done(s, st, "updating rollups", err);
}

/* For qsort (no context argument in C11): slots in the order of their
 * addresses, so that the upserts go through source_seen's B-tree in key
 * order. */
static _Thread_local const struct seen_table *sort_table;

static int
by_ip(const void *a, const void *b)
{
	const struct seen_table *t = sort_table;

	return strcmp(t->ips.data + t->slot[*(const uint32_t *)a].ip,
	    t->ips.data + t->slot[*(const uint32_t *)b].ip);
}

/*
 * Writes t's sums, one upsert per address, and forgets them.  A first day is
 * only ever moved back, and only when a report older than an address's first
 * one arrives: unless an entry is older than the latest first day stored (one
 * indexed read), no address needs it, and the upserts leave the first day
 * alone (naming it would rewrite its index entry at every update).
 */
static int
table_write(struct dm_store *s, struct seen_table *t, struct dm_error *err)
{
	int64_t last = 0;
	size_t i;

	if (t->n == 0)
		return DM_OK;
	if (seen_last(s, &last, err) != DM_OK)
		return DM_EDB;
	sort_table = t;
	qsort(t->used, t->n, sizeof(t->used[0]), by_ip);
	for (i = 0; i < t->n; i++) {
		const struct seen_entry *e = &t->slot[t->used[i]];
		const char *ip = t->ips.data + e->ip;

		if (seen_add(s, ip, e, err) != DM_OK ||
		    (e->first_day < last && seen_first(s, ip, e, err) != DM_OK))
			return DM_EDB;
	}
	table_reset(t);
	return DM_OK;
}

int
dm_seen_commit(struct dm_store *s, struct dm_error *err)
{
	struct dm_seen *x = s->seen;
	size_t i;

	if (x == NULL)
		return DM_OK;
	for (i = 0; i < x->report.n; i++) {
		if (x->batch.n >= x->batch.max &&
		    table_write(s, &x->batch, err) != DM_OK)
			return DM_EDB;
		if (table_merge(&x->batch, &x->report,
		        &x->report.slot[x->report.used[i]]) != DM_OK)
			return dm_error_set(
			    err, DM_ENOMEM, "storing report: out of memory");
	}
	table_reset(&x->report);
	return DM_OK;
}

int
dm_seen_flush(struct dm_store *s, struct dm_error *err)
{
	return s->seen != NULL ? table_write(s, &s->seen->batch, err) : DM_OK;
}

int
dm_seen_record(
    struct dm_store *s, const struct dm_record *rec, struct dm_error *err)
{
	int64_t m = rec->count > 0 ? rec->count : 0;
	struct seen_entry *e;

	if (s->seen == NULL &&
	    ((s->seen = dm_calloc(1, sizeof(*s->seen))) == NULL ||
	        table_init(&s->seen->report, REPORT_MAX) != DM_OK ||
	        table_init(&s->seen->batch, BATCH_MAX) != DM_OK)) {
		dm_seen_free(s);
		goto nomem;
	}
	/* Partial sums are not undone by deleting the payload's rows. */
	if (s->seen->report.n >= REPORT_MAX &&
	    (dm_store_payload_guard(s, err) != DM_OK ||
	        table_write(s, &s->seen->report, err) != DM_OK))
		return DM_EDB;
	e = table_find(&s->seen->report,
	    rec->source_ip != NULL ? rec->source_ip : "", s->report_day0);
	if (e == NULL)
		goto nomem;
	/* Every day of the report has a row, the first is report_day0. */
	if (s->report_day0 < e->first_day)
		e->first_day = s->report_day0;
	e->messages = dm_count_add(e->messages, m);
	if (is_pass(rec->dkim) || is_pass(rec->spf))
		e->dmarc_pass = dm_count_add(e->dmarc_pass, m);
	return DM_OK;
nomem:
	return dm_error_set(err, DM_ENOMEM,
	    "storing record %llu: out of memory",
	    (unsigned long long)rec->index);
}

void
dm_seen_reset(struct dm_store *s)
{
	if (s->seen != NULL)
		table_reset(&s->seen->report);
}

void
dm_seen_free(struct dm_store *s)
{
	if (s->seen == NULL)
		return;
	table_free(&s->seen->report);
	table_free(&s->seen->batch);
	dm_free(s->seen);
	s->seen = NULL;
}
