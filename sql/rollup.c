/*
 * rollup.c - the rollups report and explain read, folded as the store writes a
 * report: a rollup_source row per record and day as each record is stored, its
 * rollup_report row at the report's end, and its rollup_daily sums per
 * header_from (per day and per month) once its payload is kept, and the
 * failing evidence per month and ISO week then too (see schema.sql for the
 * tables and the rule, and migrate_v4.sql for why it happens here).
 * rollup_rebuild.sql spells the same rule in SQL; check_sql's
 * test_store_rollups_match_the_rebuild holds the two to the same rows.
 */
#include "store_int.h"

#include <string.h>

#include "hash.h"
#include "mem.h"

#define MAX_DAYS 31
_Static_assert(
    MAX_DAYS <= DM_ROLLUP_SLOTS, "a report's days must fit rollup_source.id");
/*
 * A report's rollup_daily sums are kept per header_from in a small table; a
 * report with more distinct header_from domains than this (none real) has its
 * sums written in parts, which rollup_daily's additive upsert adds up.
 */
#define DAILY_MAX 1024
#define DAILY_SLOTS (2 * DAILY_MAX)

/* The sums, in the order of rollup_daily's columns (DM_ST_ROLLUP_DAILY's
 * ?8 on). */
enum {
	M_MESSAGES,
	M_PASS,
	M_DKIM,
	M_SPF,
	M_QUARANTINED,
	M_REJECTED,
	M_BLOCKED_PASS,
	M_N
};

struct daily_entry {
	size_t name; /* offset of header_from in names; 0 means a free slot */
	uint64_t hash;
	int64_t sum[M_N];
};

/* What a report's rollup_daily rows are keyed and labelled with. */
struct daily_keys {
	const char *org_name, *domain, *p, *sp;
	int pct;
};

enum { K_ORG, K_DOMAIN, K_P, K_SP, K_N };

struct dm_rollup_daily {
	struct daily_entry slot[DAILY_SLOTS];
	uint16_t used[DAILY_MAX]; /* the slots in use, n of them */
	size_t n;
	/* A finished report's keys, its sums waiting for the payload to be
	 * kept (dm_rollup_commit): offsets in names. */
	int pending, pct;
	size_t key[K_N];
	struct dm_buf names; /* "\0" then each header_from, NUL-terminated */
};

/* Separators of encoded auth results: ASCII RS between entries, US between
 * fields; the parser drops control characters from values, so neither occurs
 * in one. */
#define RS "\x1e"
#define US "\x1f"

void
dm_rollup_days(struct dm_store *s, const struct dm_feedback *fb)
{
	int64_t b = fb->begin, days;

	s->source_report_bound = 0; /* a new report */
	if (b < DM_FIRST_DATED || (fb->end >= 0 && fb->end < b)) {
		s->report_day0 = DM_UNDATED_DAY;
		s->report_ndays = 1;
		return;
	}
	s->report_day0 = b / DM_DAY_SECONDS * DM_DAY_SECONDS;
	if (fb->end < 0 || fb->end == b) {
		s->report_ndays = 1;
		return;
	}
	days = (fb->end - 1) / DM_DAY_SECONDS - b / DM_DAY_SECONDS + 1;
	s->report_ndays = (unsigned)(days > MAX_DAYS ? MAX_DAYS : days);
}

static const char *
nz(const char *v)
{
	return v != NULL ? v : "";
}

/* Appends "a US b US c" entries separated by RS, as rollup_rebuild.sql's
 * group_concat does. */
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

/* The report's columns of its rollup_source rows, bound (copied) once per
 * report: six text bindings fewer per row (bench/README.md). */
static void
bind_report_keys(
    struct dm_store *s, sqlite3_stmt *st, const struct dm_feedback *fb)
{
	const char *v[] = {fb->org_name, fb->policy.domain, fb->policy.p,
	    fb->policy.adkim, fb->policy.aspf, fb->policy.testing};
	size_t i;

	if (s->source_report_bound)
		return;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		dm_store_bind_text(st, (int)i + 2, nz(v[i]));
	s->source_report_bound = 1;
}

/* The record's columns; every one not bound by bind_report_keys is bound
 * for each row. */
static void
bind_keys(sqlite3_stmt *st, const struct dm_record *rec, const char *auth,
    const size_t offs[3])
{
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

static int
bind_source_row(struct dm_store *s, const struct dm_feedback *fb,
    const struct dm_record *rec, sqlite3_int64 rid, const size_t offs[3],
    struct dm_error *err)
{
	int64_t m = rec->count > 0 ? rec->count : 0;
	int64_t nd = (int64_t)s->report_ndays;
	sqlite3_stmt *st;
	int64_t n;

	for (n = 0; n < nd; n++) {
		st = dm_store_stmt_bound(
		    s, DM_ST_ROLLUP_SOURCE, "updating rollups", err);
		if (st == NULL)
			return DM_EDB;
		bind_report_keys(s, st, fb);
		sqlite3_bind_int64(st, 1, s->report_day0 + n * DM_DAY_SECONDS);
		bind_keys(st, rec, s->auth.data, offs);
		/* Even spread; the remainder one message each to the first
		 * days. */
		sqlite3_bind_int64(st, 18, m / nd + (n < m % nd));
		sqlite3_bind_int64(st, 19, rid);
		sqlite3_bind_int64(st, 20, n);
		if (dm_store_step_done(s, st, "updating rollups", err) != DM_OK)
			return DM_EDB;
	}
	return DM_OK;
}

static int
is(const char *v, const char *word)
{
	return v != NULL && strcmp(v, word) == 0;
}

static struct daily_keys
keys_of(const struct dm_feedback *fb)
{
	struct daily_keys k = {nz(fb->org_name), nz(fb->policy.domain),
	    nz(fb->policy.p), nz(fb->policy.sp), fb->policy.pct};

	return k;
}

static void daily_reset(struct dm_store *s);

/* Day n's share of a report's sum over nd days: an even spread, the
 * remainder one each to the first days (rollup_rebuild.sql's rule). */
static int64_t
share(int64_t sum, int64_t nd, int64_t n)
{
	return sum / nd + (n < sum % nd);
}

/* A header_from's sums of a report over the days of one month. */
struct month_sums {
	int64_t start, last_day, mail_day; /* mail_day -1: none */
	int64_t sum[M_N];
};

/* Adds one month's sums to rollup_daily_month (schema.sql). */
static int
month_write(struct dm_store *s, const struct daily_keys *key,
    const char *header_from, const struct month_sums *m, struct dm_error *err)
{
	sqlite3_stmt *st;
	int k;

	st = dm_store_stmt(s, DM_ST_ROLLUP_DMONTH, "updating rollups", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, m->start);
	dm_store_bind_static(st, 2, key->org_name);
	dm_store_bind_static(st, 3, key->domain);
	dm_store_bind_static(st, 4, header_from);
	dm_store_bind_static(st, 5, key->p);
	dm_store_bind_static(st, 6, key->sp);
	dm_store_bind_opt(st, 7, key->pct);
	for (k = 0; k < M_N; k++)
		sqlite3_bind_int64(st, 8 + k, m->sum[k]);
	sqlite3_bind_int64(st, 15, m->last_day);
	if (m->mail_day >= 0)
		sqlite3_bind_int64(st, 16, m->mail_day);
	else
		sqlite3_bind_null(st, 16);
	return dm_store_step_done(s, st, "updating rollups", err);
}

/*
 * The entry's days folded per calendar month, as rollup_daily_month sums
 * the rows daily_flush writes: one upsert per month (a report's days touch
 * at most two), so that the table costs ingest little beside the days.
 */
static int
month_flush(struct dm_store *s, const struct daily_keys *key,
    const char *header_from, const struct daily_entry *e, struct dm_error *err)
{
	int64_t nd = (int64_t)s->report_ndays, n, day, start;
	struct month_sums m = {.start = -1};
	int k;

	for (n = 0; n < nd; n++) {
		day = s->report_day0 + n * DM_DAY_SECONDS;
		start = dm_sql_month_start(day);
		if (start != m.start) {
			if (m.start != -1 &&
			    month_write(s, key, header_from, &m, err) != DM_OK)
				return DM_EDB;
			m = (struct month_sums){.start = start, .mail_day = -1};
		}
		for (k = 0; k < M_N; k++)
			m.sum[k] =
			    dm_count_add(m.sum[k], share(e->sum[k], nd, n));
		m.last_day = day;
		if (share(e->sum[M_MESSAGES], nd, n) > 0)
			m.mail_day = day;
	}
	return m.start == -1 ? DM_OK
	                     : month_write(s, key, header_from, &m, err);
}

/* Writes the sums kept so far and forgets them. */
static int
daily_flush(
    struct dm_store *s, const struct daily_keys *key, struct dm_error *err)
{
	struct dm_rollup_daily *d = s->daily;
	int64_t nd = (int64_t)s->report_ndays, n;
	sqlite3_stmt *st;
	size_t i;
	int k;

	for (i = 0; d != NULL && i < d->n; i++) {
		struct daily_entry *e = &d->slot[d->used[i]];

		if (month_flush(s, key, d->names.data + e->name, e, err) !=
		    DM_OK)
			return DM_EDB;
		for (n = 0; n < nd; n++) {
			st = dm_store_stmt(
			    s, DM_ST_ROLLUP_DAILY, "updating rollups", err);
			if (st == NULL)
				return DM_EDB;
			sqlite3_bind_int64(
			    st, 1, s->report_day0 + n * DM_DAY_SECONDS);
			dm_store_bind_static(st, 2, key->org_name);
			dm_store_bind_static(st, 3, key->domain);
			dm_store_bind_static(st, 4, d->names.data + e->name);
			dm_store_bind_static(st, 5, key->p);
			dm_store_bind_static(st, 6, key->sp);
			dm_store_bind_opt(st, 7, key->pct);
			for (k = 0; k < M_N; k++)
				sqlite3_bind_int64(
				    st, 8 + k, share(e->sum[k], nd, n));
			if (dm_store_step_done(
			        s, st, "updating rollups", err) != DM_OK)
				return DM_EDB;
		}
	}
	daily_reset(s);
	return DM_OK;
}

/* The header_from's sums, added when new; NULL when out of memory. */
static struct daily_entry *
daily_find(struct dm_rollup_daily *d, const char *name)
{
	uint64_t h = dm_hash_str(name);
	size_t i = h % DAILY_SLOTS, len;

	for (; d->slot[i].name != 0; i = (i + 1) % DAILY_SLOTS)
		if (d->slot[i].hash == h &&
		    strcmp(d->names.data + d->slot[i].name, name) == 0)
			return &d->slot[i];
	len = d->names.len;
	if (dm_buf_add(&d->names, name, strlen(name) + 1) != DM_OK)
		return NULL;
	d->slot[i].name = len;
	d->slot[i].hash = h;
	d->used[d->n++] = (uint16_t)i;
	return &d->slot[i];
}

/* Adds m messages to the sums the record counts in; sums saturate (see
 * dm_count_add), never wrap. */
static void
add_sums(struct daily_entry *e, const struct dm_record *rec, int64_t m)
{
	int in[M_N];
	int k;

	in[M_MESSAGES] = 1;
	in[M_PASS] = is(rec->dkim, "pass") || is(rec->spf, "pass");
	in[M_DKIM] = is(rec->dkim, "pass");
	in[M_SPF] = is(rec->spf, "pass");
	in[M_QUARANTINED] = is(rec->disposition, "quarantine");
	in[M_REJECTED] = is(rec->disposition, "reject");
	in[M_BLOCKED_PASS] =
	    in[M_PASS] && (in[M_QUARANTINED] || in[M_REJECTED]);
	for (k = 0; k < M_N; k++) {
		if (in[k])
			e->sum[k] = dm_count_add(e->sum[k], m);
	}
}

static int
daily_add(struct dm_store *s, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	int64_t m = rec->count > 0 ? rec->count : 0;
	struct daily_entry *e;

	if (s->daily == NULL) {
		if ((s->daily = dm_calloc(1, sizeof(*s->daily))) == NULL)
			goto nomem;
		dm_buf_init(&s->daily->names, (size_t)1 << 30);
	}
	/* Partial sums are not undone by deleting the payload's rows. */
	if (s->daily->n >= DAILY_MAX) {
		struct daily_keys key = keys_of(fb);

		if (dm_store_payload_guard(s, err) != DM_OK ||
		    daily_flush(s, &key, err) != DM_OK)
			return DM_EDB;
	}
	if (s->daily->names.len == 0 &&
	    dm_buf_add(&s->daily->names, "", 1) != DM_OK)
		goto nomem;
	if ((e = daily_find(s->daily, nz(rec->header_from))) == NULL)
		goto nomem;
	add_sums(e, rec, m);
	return DM_OK;
nomem:
	return dm_error_set(err, DM_ENOMEM,
	    "storing record %llu: out of memory",
	    (unsigned long long)rec->index);
}

static void failing_reset(struct dm_store *s);

/*
 * The failing evidence per month and ISO week (rollup_failing_month and
 * rollup_failing_week): a report's failing rows summed in memory per bucket
 * and evidence as its records are stored, written as one additive upsert per
 * key once the payload is kept.  Folding set-based from rollup_source at each
 * commit read the batch's rows back and sorted them on 17 text columns: 12 us
 * per record for the months alone, more than the rest of the store
 * (bench/report/README.md).
 */
#define FAILING_MAX 4096 /* keys kept before they are written in parts */
#define FAILING_SLOTS (2 * FAILING_MAX)
#define EVIDENCE_N 16 /* org_name ... reasons, as in rollup_source */

enum { BUCKET_MONTH, BUCKET_WEEK, BUCKET_N };

struct failing_entry {
	size_t key, len; /* the key's bytes in keys; len 0: a free slot */
	uint64_t hash;
	int64_t messages, first_day, last_day;
};

/* A key: the 16 evidence strings, each NUL-terminated, then the bucket (1
 * byte) and its start (8 bytes): a record's evidence is copied and hashed
 * once for both buckets. */
#define KEY_TAIL (1 + sizeof(int64_t))
struct dm_rollup_failing {
	struct failing_entry slot[FAILING_SLOTS];
	uint16_t used[FAILING_MAX];
	size_t n;
	struct dm_buf keys, key; /* every key; the key being looked up */
	size_t ev_len;           /* the record's evidence in key ... */
	uint64_t ev_hash;        /* ... and its hash */
};

/* As rollup_source_failing's predicate, '' for NULL. */
static int
is_failing(const struct dm_record *rec)
{
	return (!is(rec->dkim, "pass") && !is(rec->spf, "pass")) ||
	       is(rec->disposition, "quarantine") ||
	       is(rec->disposition, "reject");
}

/* FNV-1a of n more bytes after h (FNV_BASIS: none before). */
#define FNV_BASIS 1469598103934665603ULL
static uint64_t
hash_bytes(uint64_t h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* Writes the keys summed so far (rows add up, so a report may come in
 * parts) and forgets them. */
static int
failing_flush(struct dm_store *s, struct dm_error *err)
{
	static const enum dm_stmt stmt[BUCKET_N] = {
	    DM_ST_ROLLUP_MONTH, DM_ST_ROLLUP_WEEK};
	struct dm_rollup_failing *f = s->failing;
	size_t i;

	for (i = 0; f != NULL && i < f->n; i++) {
		struct failing_entry *e = &f->slot[f->used[i]];
		const char *k = f->keys.data + e->key;
		const char *tail = k + e->len - KEY_TAIL;
		sqlite3_stmt *st;
		int64_t start;
		int c;

		st = dm_store_stmt(
		    s, stmt[(unsigned char)tail[0]], "updating rollups", err);
		if (st == NULL)
			return DM_EDB;
		memcpy(&start, tail + 1, sizeof(start));
		sqlite3_bind_int64(st, 1, start);
		for (c = 0; c < EVIDENCE_N; c++) {
			dm_store_bind_static(st, 2 + c, k);
			k += strlen(k) + 1;
		}
		sqlite3_bind_int64(st, 18, e->messages);
		sqlite3_bind_int64(st, 19, e->first_day);
		sqlite3_bind_int64(st, 20, e->last_day);
		if (dm_store_step_done(s, st, "updating rollups", err) != DM_OK)
			return DM_EDB;
	}
	failing_reset(s);
	return DM_OK;
}

/* The entry of the key in f->key (of hash h), added when new; NULL when out
 * of memory. */
static struct failing_entry *
failing_find(struct dm_rollup_failing *f, uint64_t h)
{
	const char *k = f->key.data;
	size_t len = f->key.len, i, at;

	for (i = h % FAILING_SLOTS; f->slot[i].len != 0;
	     i = (i + 1) % FAILING_SLOTS) {
		struct failing_entry *e = &f->slot[i];

		if (e->hash == h && e->len == len &&
		    memcmp(f->keys.data + e->key, k, len) == 0)
			return e;
	}
	at = f->keys.len;
	if (dm_buf_add(&f->keys, k, len) != DM_OK)
		return NULL;
	f->slot[i] = (struct failing_entry){
	    .key = at, .len = len, .hash = h, .first_day = INT64_MAX};
	f->used[f->n++] = (uint16_t)i;
	return &f->slot[i];
}

/* Sets f->key to the record's evidence, and f->ev_len and ev_hash. */
static int
failing_evidence(struct dm_rollup_failing *f, const char *const ev[EVIDENCE_N])
{
	int rc = DM_OK, c;

	dm_buf_reset(&f->key);
	for (c = 0; rc == DM_OK && c < EVIDENCE_N; c++)
		rc = dm_buf_add(&f->key, ev[c], strlen(ev[c]) + 1);
	f->ev_len = f->key.len;
	f->ev_hash = hash_bytes(FNV_BASIS, f->key.data, f->key.len);
	return rc;
}

/* Adds m messages of day to the record's key in bucket (its evidence in
 * f->key, failing_evidence). */
static int
failing_sum(struct dm_store *s, int bucket, int64_t start, int64_t day,
    int64_t m, struct dm_error *err)
{
	struct dm_rollup_failing *f = s->failing;
	unsigned char tail[KEY_TAIL];
	struct failing_entry *e;

	/* Partial sums are not undone by deleting the payload's rows. */
	if (f->n >= FAILING_MAX && (dm_store_payload_guard(s, err) != DM_OK ||
	                               failing_flush(s, err) != DM_OK))
		return DM_EDB;
	tail[0] = (unsigned char)bucket;
	memcpy(tail + 1, &start, sizeof(start));
	f->key.len = f->ev_len;
	if (dm_buf_add(&f->key, tail, sizeof(tail)) != DM_OK ||
	    (e = failing_find(f, hash_bytes(f->ev_hash, (const char *)tail,
	                             sizeof(tail)))) == NULL)
		return DM_ENOMEM;
	e->messages = dm_count_add(e->messages, m);
	if (day < e->first_day)
		e->first_day = day;
	if (day > e->last_day)
		e->last_day = day;
	return DM_OK;
}

/* Folds the record's days with messages into the month and week sums, when
 * the record fails; auth holds its encoded results at offs (encode()). */
static int
failing_add(struct dm_store *s, const struct dm_feedback *fb,
    const struct dm_record *rec, const size_t offs[3], struct dm_error *err)
{
	const char *ev[EVIDENCE_N] = {nz(fb->org_name), nz(fb->policy.domain),
	    nz(fb->policy.p), nz(fb->policy.adkim), nz(fb->policy.aspf),
	    nz(fb->policy.testing), nz(rec->source_ip), nz(rec->header_from),
	    nz(rec->envelope_from), nz(rec->envelope_to), nz(rec->disposition),
	    nz(rec->dkim), nz(rec->spf), s->auth.data + offs[0],
	    s->auth.data + offs[1], s->auth.data + offs[2]};
	int64_t m = rec->count > 0 ? rec->count : 0;
	int64_t nd = (int64_t)s->report_ndays, n, day, dm;
	int rc = DM_OK;

	if (!is_failing(rec) || s->report_day0 == DM_UNDATED_DAY)
		return DM_OK;
	if (s->failing == NULL) {
		if ((s->failing = dm_calloc(1, sizeof(*s->failing))) == NULL)
			goto nomem;
		dm_buf_init(&s->failing->keys, (size_t)1 << 30);
		dm_buf_init(&s->failing->key, (size_t)1 << 30);
	}
	if (failing_evidence(s->failing, ev) != DM_OK)
		goto nomem;
	for (n = 0; rc == DM_OK && n < nd; n++) {
		/* The day's share, as bind_source_row spreads it. */
		dm = m / nd + (n < m % nd);
		day = s->report_day0 + n * DM_DAY_SECONDS;
		if (dm == 0)
			continue;
		rc = failing_sum(
		    s, BUCKET_MONTH, dm_sql_month_start(day), day, dm, err);
		if (rc == DM_OK)
			rc = failing_sum(s, BUCKET_WEEK, dm_sql_week_start(day),
			    day, dm, err);
	}
	if (rc != DM_ENOMEM)
		return rc;
nomem:
	return dm_error_set(err, DM_ENOMEM,
	    "storing record %llu: out of memory",
	    (unsigned long long)rec->index);
}

static void
failing_reset(struct dm_store *s)
{
	struct dm_rollup_failing *f = s->failing;
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		memset(&f->slot[f->used[i]], 0, sizeof(f->slot[0]));
	f->n = 0;
	dm_buf_reset(&f->keys);
}

static void
failing_free(struct dm_store *s)
{
	if (s->failing == NULL)
		return;
	dm_buf_free(&s->failing->keys);
	dm_buf_free(&s->failing->key);
	dm_free(s->failing);
	s->failing = NULL;
}

int
dm_rollup_record(struct dm_store *s, const struct dm_feedback *fb,
    const struct dm_record *rec, sqlite3_int64 rid, struct dm_error *err)
{
	size_t offs[3];
	int rc;

	if (encode(s, rec, offs) != DM_OK)
		return dm_error_set(err, DM_ENOMEM,
		    "storing record %llu: out of memory",
		    (unsigned long long)rec->index);
	rc = bind_source_row(s, fb, rec, rid, offs, err);
	if (rc == DM_OK)
		rc = dm_seen_record(s, rec, err);
	if (rc == DM_OK)
		rc = daily_add(s, fb, rec, err);
	return rc == DM_OK ? failing_add(s, fb, rec, offs, err) : rc;
}

/*
 * Keeps the finished report's keys beside its sums: rollup_daily's sums are
 * additive, so deleting the payload's rows would not take them back; they are
 * written once the payload is kept.
 */
static int
daily_hold(
    struct dm_store *s, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_rollup_daily *d = s->daily;
	struct daily_keys key = keys_of(fb);
	const char *v[K_N] = {key.org_name, key.domain, key.p, key.sp};
	int i;

	if (d == NULL || d->n == 0)
		return DM_OK;
	for (i = 0; i < K_N; i++) {
		d->key[i] = d->names.len;
		if (dm_buf_add(&d->names, v[i], strlen(v[i]) + 1) != DM_OK)
			return dm_error_set(
			    err, DM_ENOMEM, "storing report: out of memory");
	}
	d->pct = key.pct;
	d->pending = 1;
	return DM_OK;
}

int
dm_rollup_report(
    struct dm_store *s, const struct dm_feedback *fb, struct dm_error *err)
{
	sqlite3_stmt *st;

	st = dm_store_stmt(s, DM_ST_ROLLUP_REPORT, "updating rollups", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, s->report_id);
	dm_store_bind_static(st, 2, nz(fb->org_name));
	dm_store_bind_static(st, 3, nz(fb->policy.domain));
	sqlite3_bind_int64(st, 4, s->report_day0);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)s->report_ndays);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)s->report_messages);
	if (dm_store_step_done(s, st, "updating rollups", err) != DM_OK)
		return DM_EDB;
	return daily_hold(s, fb, err);
}

int
dm_rollup_commit(struct dm_store *s, struct dm_error *err)
{
	struct dm_rollup_daily *d = s->daily;
	struct daily_keys key;
	int rc = dm_seen_commit(s, err);

	if (rc != DM_OK)
		return rc;
	/* A report is folded once whole: no rows without its report's. */
	if (d == NULL || !d->pending) {
		failing_reset(s);
		return DM_OK;
	}
	key.org_name = d->names.data + d->key[K_ORG];
	key.domain = d->names.data + d->key[K_DOMAIN];
	key.p = d->names.data + d->key[K_P];
	key.sp = d->names.data + d->key[K_SP];
	key.pct = d->pct;
	if (daily_flush(s, &key, err) != DM_OK)
		return DM_EDB;
	return failing_flush(s, err);
}

/* Forgets the rollup_daily sums (written, or to be dropped). */
static void
daily_reset(struct dm_store *s)
{
	struct dm_rollup_daily *d = s->daily;
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		memset(&d->slot[d->used[i]], 0, sizeof(d->slot[0]));
	d->n = 0;
	d->pending = 0;
	dm_buf_reset(&d->names);
}

void
dm_rollup_reset(struct dm_store *s)
{
	dm_seen_reset(s);
	daily_reset(s);
	failing_reset(s);
}

void
dm_rollup_free(struct dm_store *s)
{
	failing_free(s);
	dm_seen_free(s);
	if (s->daily == NULL)
		return;
	dm_buf_free(&s->daily->names);
	dm_free(s->daily);
	s->daily = NULL;
}
