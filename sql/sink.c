/*
 * sink.c - the record sink of core/model.h that writes reports into the open
 * payload.
 *
 * begin() inserts the report row, or finds it is a duplicate (the
 * report_identity index of schema.sql) and says DM_DONE so the parser stops
 * sending records; record() inserts a record with its reasons and auth results;
 * end() fills in what is only known at </feedback>: totals, fix-up counts,
 * top-level extensions, the range of its record ids, and the report's rollups.
 * The sink never commits: the payload around it (store.c) keeps or drops a
 * report whole.
 */
#include "store_int.h"

#include <string.h>

#include "json.h"
#include "mem.h"

/* JSON text is capped only by memory: its parts were already capped by the
 * parser's limits. */
#define JSON_MAX ((size_t)-1 / 2)

static const char *
schema_name(enum dm_schema schema)
{
	switch (schema) {
	case DM_SCHEMA_RFC7489:
		return "rfc7489";
	case DM_SCHEMA_RFC9990:
		return "rfc9990";
	case DM_SCHEMA_DRAFT:
		break;
	}
	return "draft";
}

/* <error> values as a JSON array; b stays empty (NULL data) when there are
 * none. */
static int
errors_json(struct dm_buf *b, const struct dm_feedback *fb)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; rc == DM_OK && i < fb->n_errors; i++) {
		rc = dm_buf_add(b, i == 0 ? "[" : ",", 1);
		if (rc == DM_OK)
			rc = dm_json_str(
			    b, fb->errors[i] != NULL ? fb->errors[i] : "");
	}
	return rc == DM_OK && fb->n_errors > 0 ? dm_buf_add(b, "]", 1) : rc;
}

/* Non-zero fix-up counts as a JSON object in enum order; b stays empty when all
 * are zero. */
static int
fixups_json(struct dm_buf *b, const struct dm_feedback *fb)
{
	int rc = DM_OK, f;

	for (f = 0; rc == DM_OK && f < DM_FIXUP_COUNT; f++) {
		if (fb->fixups[f] == 0)
			continue;
		rc = dm_buf_addf(b, "%s\"%s\":%lu", b->len == 0 ? "{" : ",",
		    dm_fixup_name((enum dm_fixup)f),
		    (unsigned long)fb->fixups[f]);
	}
	return rc == DM_OK && b->len > 0 ? dm_buf_add(b, "}", 1) : rc;
}

static void
bind_policy(sqlite3_stmt *st, const struct dm_policy *p)
{
	dm_store_bind_text(st, 13, p->domain);
	dm_store_bind_text(st, 14, p->adkim);
	dm_store_bind_text(st, 15, p->aspf);
	dm_store_bind_text(st, 16, p->p);
	dm_store_bind_text(st, 17, p->sp);
	dm_store_bind_text(st, 18, p->np);
	dm_store_bind_opt(st, 19, p->pct);
	dm_store_bind_text(st, 20, p->fo);
	dm_store_bind_text(st, 21, p->testing);
	dm_store_bind_text(st, 22, p->discovery_method);
}

static void
bind_report(struct dm_store *s, sqlite3_stmt *st, const struct dm_feedback *fb,
    const char *errors, const char *fixups)
{
	if (s->input_id != 0)
		sqlite3_bind_int64(st, 1, s->input_id);
	dm_store_bind_text(st, 2, s->member);
	dm_store_bind_text(st, 3, fb->org_name);
	dm_store_bind_text(st, 4, fb->email);
	dm_store_bind_text(st, 5, fb->extra_contact_info);
	dm_store_bind_text(st, 6, fb->report_id);
	dm_store_bind_opt(st, 7, fb->begin);
	dm_store_bind_opt(st, 8, fb->end);
	dm_store_bind_text(st, 9, fb->generator);
	dm_store_bind_text(st, 10, fb->version);
	dm_store_bind_text(st, 11, schema_name(fb->schema));
	dm_store_bind_text(st, 12, errors);
	bind_policy(st, &fb->policy);
	dm_store_bind_text(st, 23, fb->extensions);
	dm_store_bind_text(st, 24, fixups);
	/* 25, the payload's sha256: ingest streams payloads and hashes only
	 * whole units. */
	sqlite3_bind_int64(st, 26, s->report_stored_at);
}

/*
 * "<unit sha256>:<member>" for a report whose identity is incomplete (see
 * report_identity in schema.sql), NULL otherwise.  Owned by the caller.
 */
static char *
anchor(const struct dm_store *s, const struct dm_feedback *fb)
{
	struct dm_buf b;

	if (fb->report_id != NULL && fb->begin >= 0 && fb->end >= 0)
		return NULL;
	dm_buf_init(&b, 4096);
	if (dm_buf_addf(&b, "%s:%s", s->unit_sha256 ? s->unit_sha256 : "",
	        s->member ? s->member : "") != DM_OK) {
		dm_buf_free(&b);
		return NULL;
	}
	return dm_buf_take(&b);
}

/*
 * For a duplicate: the totals of the report already stored, which sink_end
 * compares with the new copy's.
 */
static int
find_stored(struct dm_store *s, const struct dm_feedback *fb, const char *key,
    struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = dm_store_stmt(s, DM_ST_REPORT_SAME, "finding duplicate", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, fb->org_name);
	dm_store_bind_text(st, 2, fb->report_id);
	dm_store_bind_text(st, 3, fb->policy.domain);
	dm_store_bind_opt(st, 4, fb->begin);
	dm_store_bind_opt(st, 5, fb->end);
	dm_store_bind_text(st, 6, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->dup_known = 1;
		s->dup_records = (uint64_t)sqlite3_column_int64(st, 0);
		s->dup_messages = (uint64_t)sqlite3_column_int64(st, 1);
		s->dup_report = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dm_store_db_error(s, "finding duplicate", err);
	return DM_OK;
}

static int
insert_report(
    struct dm_store *s, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_buf errors, fixups;
	sqlite3_stmt *st;
	char *key;
	int rc;

	dm_buf_init(&errors, JSON_MAX);
	dm_buf_init(&fixups, JSON_MAX);
	if (errors_json(&errors, fb) != DM_OK ||
	    fixups_json(&fixups, fb) != DM_OK) {
		rc = dm_error_set(
		    err, DM_ENOMEM, "storing report: out of memory");
		goto out;
	}
	rc = DM_EDB;
	st = dm_store_stmt(s, DM_ST_REPORT_INSERT, "inserting report", err);
	if (st == NULL)
		goto out;
	bind_report(s, st, fb, errors.data, fixups.data);
	key = anchor(s, fb);
	dm_store_bind_text(st, 27, key);
	rc = dm_store_step_done(s, st, "inserting report", err);
	if (rc == DM_OK && sqlite3_changes(s->db) == 0)
		rc = find_stored(s, fb, key, err);
	dm_free(key);
out:
	dm_buf_free(&fixups);
	dm_buf_free(&errors);
	return rc;
}

static int
sink_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_store *s = ctx;
	int rc;

	if (!s->in_payload)
		return dm_error_set(err, DM_EINVAL, "report outside a payload");
	s->report_id = 0;
	s->dup_known = 0;
	dm_rollup_reset(s);
	s->report_stored_at = dm_store_now();
	dm_rollup_days(s, fb);
	if ((rc = insert_report(s, fb, err)) != DM_OK)
		return rc;
	if (sqlite3_changes(s->db) == 0) {
		s->payload.duplicates++;
		return DM_DONE;
	}
	s->report_id = sqlite3_last_insert_rowid(s->db);
	s->report_records = 0;
	s->report_messages = 0;
	s->payload.reports++;
	return DM_OK;
}

static int
insert_reasons(struct dm_store *s, sqlite3_int64 rid,
    const struct dm_record *rec, struct dm_error *err)
{
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < rec->n_reasons; i++) {
		st = dm_store_stmt(s, DM_ST_REASON, "inserting reason", err);
		if (st == NULL)
			return DM_EDB;
		sqlite3_bind_int64(st, 1, rid);
		dm_store_bind_static(st, 2, rec->reasons[i].type);
		dm_store_bind_static(st, 3, rec->reasons[i].comment);
		if (dm_store_step_done(s, st, "inserting reason", err) != DM_OK)
			return DM_EDB;
	}
	return DM_OK;
}

/* Bytes json_put() may write for s. */
static size_t
json_room(const char *s)
{
	return s != NULL ? 6 * strlen(s) + 2 : 4;
}

/* Whether a JSON string escapes c; NUL too, which ends the run. */
static int
special(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/*
 * Writes s at o as a JSON string (null when NULL) and returns its end.  Not
 * dm_json_str() (core/json.h): that one is for output read by browsers and jq
 * (it escapes '<', '>', '&' and U+2028, and tests every byte for UTF-8), while
 * these arrays are read back only by SQLite's json functions, from text the
 * parser has already made valid UTF-8, once per record on the ingest's hot
 * path: a byte is copied after three comparisons.
 */
static char *
json_put(char *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;

	if (s == NULL) {
		memcpy(o, "null", 4);
		return o + 4;
	}
	*o++ = '"';
	for (;;) {
		while (!special(c = (unsigned char)*s)) {
			*o++ = (char)c;
			s++;
		}
		if (c == '\0')
			break;
		*o++ = '\\';
		if (c == '"' || c == '\\') {
			*o++ = (char)c;
		} else {
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 15];
			o += 5;
		}
		s++;
	}
	*o++ = '"';
	return o;
}

/* The four fields of result i of an array of DKIM or SPF results. */
typedef void fields_fn(const void *results, size_t i, const char *v[4]);

static void
dkim_fields(const void *results, size_t i, const char *v[4])
{
	const struct dm_dkim_result *d =
	    &((const struct dm_dkim_result *)results)[i];

	v[0] = d->domain;
	v[1] = d->selector;
	v[2] = d->result;
	v[3] = d->human_result;
}

static void
spf_fields(const void *results, size_t i, const char *v[4])
{
	const struct dm_spf_result *p =
	    &((const struct dm_spf_result *)results)[i];

	v[0] = p->domain;
	v[1] = p->scope;
	v[2] = p->result;
	v[3] = p->human_result;
}

/*
 * Appends n results to b as a NUL-terminated JSON array of four-field arrays
 * (schema.sql: dkim_results), sized first so it is written in one pass; only
 * the NUL when n is 0.
 */
static int
pack(struct dm_buf *b, const void *results, size_t n, fields_fn *fields)
{
	const char *v[4];
	size_t i, j, room = 3;
	char *o;
	int rc;

	for (i = 0; i < n; i++) {
		fields(results, i, v);
		for (j = 0, room += 6; j < 4; j++)
			room += json_room(v[j]);
	}
	if ((rc = dm_buf_reserve(b, room)) != DM_OK)
		return rc;
	o = b->data + b->len;
	for (i = 0; i < n; i++) {
		fields(results, i, v);
		*o++ = i == 0 ? '[' : ',';
		for (j = 0; j < 4; j++) {
			*o++ = j == 0 ? '[' : ',';
			o = json_put(o, v[j]);
		}
		*o++ = ']';
	}
	if (n > 0)
		*o++ = ']';
	*o++ = '\0';
	b->len = (size_t)(o - b->data);
	return DM_OK;
}

/*
 * Packs rec's DKIM and SPF results into s->results as two NUL-terminated JSON
 * arrays, the SPF one from *spf (an empty one when there are none).
 */
static int
pack_results(struct dm_store *s, const struct dm_record *rec, size_t *spf)
{
	int rc;

	dm_buf_reset(&s->results);
	rc = pack(&s->results, rec->dkim_results, rec->n_dkim, dkim_fields);
	*spf = s->results.len;
	return rc == DM_OK
	           ? pack(&s->results, rec->spf_results, rec->n_spf, spf_fields)
	           : rc;
}

static int
insert_record(
    struct dm_store *s, const struct dm_record *rec, struct dm_error *err)
{
	sqlite3_stmt *st;
	size_t spf;

	if (pack_results(s, rec, &spf) != DM_OK)
		return dm_error_set(
		    err, DM_ENOMEM, "storing report: out of memory");
	/* Every parameter is bound below: no clearing first. */
	st = dm_store_stmt_bound(s, DM_ST_RECORD, "inserting record", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, s->report_id);
	dm_store_bind_static(st, 2, rec->source_ip);
	dm_store_bind_opt(st, 3, rec->count);
	dm_store_bind_static(st, 4, rec->disposition);
	dm_store_bind_static(st, 5, rec->dkim);
	dm_store_bind_static(st, 6, rec->spf);
	dm_store_bind_static(st, 7, rec->header_from);
	dm_store_bind_static(st, 8, rec->envelope_from);
	dm_store_bind_static(st, 9, rec->envelope_to);
	dm_store_bind_static(st, 10, rec->extensions);
	dm_store_bind_static(st, 11, rec->n_dkim > 0 ? s->results.data : NULL);
	dm_store_bind_static(
	    st, 12, rec->n_spf > 0 ? s->results.data + spf : NULL);
	return dm_store_step_done(s, st, "inserting record", err);
}

static int
sink_record(void *ctx, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	struct dm_store *s = ctx;
	sqlite3_int64 rid;

	if (s->report_id == 0)
		return DM_OK; /* a duplicate: begin() said DM_DONE */
	if (insert_record(s, rec, err) != DM_OK)
		return err->code;
	rid = sqlite3_last_insert_rowid(s->db);
	if (s->report_records == 0)
		s->report_first = rid;
	s->report_last = rid;
	if (insert_reasons(s, rid, rec, err) != DM_OK ||
	    dm_rollup_record(s, fb, rec, rid, err) != DM_OK)
		return err->code;
	s->report_records++;
	s->payload.records++;
	if (rec->count >= 0) {
		/* Saturating: the count cap makes a wrap unreachable, but the
		 * caps may be raised (core/limits.h). */
		s->report_messages = (uint64_t)dm_count_add(
		    (int64_t)s->report_messages, rec->count);
		s->payload.messages = (uint64_t)dm_count_add(
		    (int64_t)s->payload.messages, rec->count);
	}
	return DM_OK;
}

static int
sink_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_store *s = ctx;
	struct dm_buf fixups;
	sqlite3_stmt *st;
	int rc = DM_EDB;

	if (s->report_id == 0) {
		/* The parser counts a duplicate's records too. */
		if (s->dup_known && (fb->n_records != s->dup_records ||
		                        fb->total_count != s->dup_messages)) {
			s->payload.conflicts++;
			s->conflict_report = s->dup_report;
		}
		return DM_OK;
	}
	dm_buf_init(&fixups, JSON_MAX);
	if (fixups_json(&fixups, fb) != DM_OK) {
		rc = dm_error_set(
		    err, DM_ENOMEM, "storing report: out of memory");
		goto out;
	}
	st = dm_store_stmt(s, DM_ST_REPORT_END, "updating report", err);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, s->report_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)s->report_records);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)s->report_messages);
	dm_store_bind_text(st, 4, fixups.data);
	dm_store_bind_text(st, 5, fb->extensions);
	if (s->report_records > 0) {
		sqlite3_bind_int64(st, 6, s->report_first);
		sqlite3_bind_int64(st, 7, s->report_last);
	}
	rc = dm_store_step_done(s, st, "updating report", err);
	if (rc == DM_OK)
		rc = dm_rollup_report(s, fb, err);
out:
	dm_buf_free(&fixups);
	return rc;
}

struct dm_sink
dm_store_sink(struct dm_store *s)
{
	struct dm_sink k = {s, sink_begin, sink_record, sink_end};

	return k;
}
