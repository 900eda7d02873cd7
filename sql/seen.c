/*
 * seen.c - source_seen, an address's first day and its sums over every day
 * (schema.sql), folded as the store writes a report: the report's records
 * are summed per address in memory and written, one upsert per address, once
 * its payload is kept (dm_seen_commit), as rollup.c does for rollup_daily.
 * rollup_rebuild.sql spells the same rule in SQL; check_sql holds the two to
 * the same rows.
 */
#include "store_int.h"

#include <string.h>

#include "hash.h"
#include "limits.h"
#include "mem.h"

/*
 * The addresses of a report kept in memory; a report with more writes its
 * sums in parts (the upsert adds them up), under the payload's savepoint.
 */
#define SEEN_MAX 1024
#define SEEN_SLOTS (2 * SEEN_MAX)

struct seen_entry {
	size_t ip; /* offset of the address in ips; 0 means a free slot */
	uint64_t hash;
	int64_t first_day, messages, dmarc_pass;
};

struct dm_seen {
	struct seen_entry slot[SEEN_SLOTS];
	uint16_t used[SEEN_MAX]; /* the slots in use, n of them */
	size_t n;
	struct dm_buf ips; /* "\0" then each address, NUL-terminated */
};

static int
is_pass(const char *v)
{
	return v != NULL && strcmp(v, "pass") == 0;
}

/* The address's entry, added when new; NULL when out of memory. */
static struct seen_entry *
seen_find(struct dm_seen *t, const char *ip, int64_t day)
{
	uint64_t h = dm_hash_str(ip);
	size_t i = h % SEEN_SLOTS, len;

	for (; t->slot[i].ip != 0; i = (i + 1) % SEEN_SLOTS)
		if (t->slot[i].hash == h &&
		    strcmp(t->ips.data + t->slot[i].ip, ip) == 0)
			return &t->slot[i];
	len = t->ips.len;
	if (dm_buf_add(&t->ips, ip, strlen(ip) + 1) != DM_OK)
		return NULL;
	t->slot[i].ip = len;
	t->slot[i].hash = h;
	t->slot[i].first_day = day;
	t->used[t->n++] = (uint16_t)i;
	return &t->slot[i];
}

/*
 * One upsert.  The first day is set apart, when the stored one is later (a
 * report older than every one of the address already stored): an UPDATE
 * naming first_day rewrites its index entry even when the value stays.
 */
static int
seen_write(struct dm_store *s, const char *ip, const struct seen_entry *e,
    struct dm_error *err)
{
	sqlite3_stmt *st =
	    dm_store_stmt(s, DM_ST_SEEN_ADD, "updating rollups", err);
	int64_t first;
	int rc;

	if (st == NULL)
		return DM_EDB;
	dm_store_bind_static(st, 1, ip);
	sqlite3_bind_int64(st, 2, e->first_day);
	sqlite3_bind_int64(st, 3, e->messages);
	sqlite3_bind_int64(st, 4, e->dmarc_pass);
	rc = sqlite3_step(st);
	first = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		dm_store_db_error(s, "updating rollups", err);
		sqlite3_reset(st);
		return DM_EDB;
	}
	sqlite3_reset(st);
	if (first <= e->first_day)
		return DM_OK;
	st = dm_store_stmt(s, DM_ST_SEEN_FIRST, "updating rollups", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_static(st, 1, ip);
	sqlite3_bind_int64(st, 2, e->first_day);
	return dm_store_step_done(s, st, "updating rollups", err);
}

int
dm_seen_commit(struct dm_store *s, struct dm_error *err)
{
	struct dm_seen *t = s->seen;
	size_t i;

	for (i = 0; t != NULL && i < t->n; i++) {
		const struct seen_entry *e = &t->slot[t->used[i]];

		if (seen_write(s, t->ips.data + e->ip, e, err) != DM_OK)
			return DM_EDB;
	}
	dm_seen_reset(s);
	return DM_OK;
}

int
dm_seen_record(
    struct dm_store *s, const struct dm_record *rec, struct dm_error *err)
{
	int64_t m = rec->count > 0 ? rec->count : 0;
	struct seen_entry *e;

	if (s->seen == NULL) {
		if ((s->seen = dm_calloc(1, sizeof(*s->seen))) == NULL)
			goto nomem;
		dm_buf_init(&s->seen->ips, (size_t)1 << 30);
	}
	/* Partial sums are not undone by deleting the payload's rows. */
	if (s->seen->n >= SEEN_MAX &&
	    (dm_store_payload_guard(s, err) != DM_OK ||
	        dm_seen_commit(s, err) != DM_OK))
		return DM_EDB;
	if (s->seen->ips.len == 0 && dm_buf_add(&s->seen->ips, "", 1) != DM_OK)
		goto nomem;
	e = seen_find(s->seen, rec->source_ip != NULL ? rec->source_ip : "",
	    s->report_day0);
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
	struct dm_seen *t = s->seen;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		memset(&t->slot[t->used[i]], 0, sizeof(t->slot[0]));
	t->n = 0;
	dm_buf_reset(&t->ips);
}

void
dm_seen_free(struct dm_store *s)
{
	if (s->seen == NULL)
		return;
	dm_buf_free(&s->seen->ips);
	dm_free(s->seen);
	s->seen = NULL;
}
