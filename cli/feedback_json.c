/* feedback_json.c - struct dm_feedback and its records as the JSON of
 * `dmarcstat parse`. */
#include "feedback_json.h"

#include <string.h>

#include "json.h"

#define REC_MAX (4 * 1024 * 1024)
#define HEAD_MAX (4 * 1024 * 1024)

static const char *const schema_names[] = {"draft", "rfc7489", "rfc9990"};

void
dm_fbjson_init(struct dm_fbjson *j)
{
	memset(j, 0, sizeof(*j));
	dm_buf_init(&j->rec, REC_MAX);
	dm_buf_init(&j->head, HEAD_MAX);
	dm_buf_init(&j->tail, HEAD_MAX);
}

int
dm_fbjson_begin(struct dm_fbjson *j, const char *file, const char *member)
{
	if (j->spool == NULL && (j->spool = tmpfile()) == NULL)
		return DM_EIO;
	rewind(j->spool);
	j->file = file;
	j->member = member;
	j->ended = 0;
	j->records = 0;
	dm_buf_reset(&j->head);
	dm_buf_reset(&j->tail);
	return DM_OK;
}

/* Appends ,"key":"value" (or null). */
static int
kv(struct dm_buf *b, const char *key, const char *v)
{
	int rc = dm_buf_addf(b, ",\"%s\":", key);

	return rc != DM_OK ? rc : dm_json_str(b, v);
}

static int
reasons_json(struct dm_buf *b, const struct dm_record *r)
{
	size_t i;
	int rc = dm_buf_adds(b, ",\"reasons\":[");

	for (i = 0; rc == DM_OK && i < r->n_reasons; i++) {
		rc = dm_buf_adds(b, i ? ",{\"type\":" : "{\"type\":");
		if (rc == DM_OK)
			rc = dm_json_str(b, r->reasons[i].type);
		if (rc == DM_OK)
			rc = kv(b, "comment", r->reasons[i].comment);
		if (rc == DM_OK)
			rc = dm_buf_adds(b, "}");
	}
	return rc != DM_OK ? rc : dm_buf_adds(b, "]");
}

static int
auth_json(struct dm_buf *b, const char *name, const char *k1, const char *k2,
    size_t n, const void *arr, int dkim)
{
	size_t i;
	int rc = dm_buf_addf(b, ",\"%s\":[", name);

	for (i = 0; rc == DM_OK && i < n; i++) {
		const struct dm_dkim_result *d =
		    dkim ? (const struct dm_dkim_result *)arr + i : NULL;
		const struct dm_spf_result *s =
		    dkim ? NULL : (const struct dm_spf_result *)arr + i;

		rc = dm_buf_adds(b, i ? ",{\"domain\":" : "{\"domain\":");
		if (rc == DM_OK)
			rc = dm_json_str(b, dkim ? d->domain : s->domain);
		if (rc == DM_OK)
			rc = kv(b, k1, dkim ? d->selector : s->scope);
		if (rc == DM_OK)
			rc = kv(b, k2, dkim ? d->result : s->result);
		if (rc == DM_OK)
			rc = kv(b, "human_result",
			    dkim ? d->human_result : s->human_result);
		if (rc == DM_OK)
			rc = dm_buf_adds(b, "}");
	}
	return rc != DM_OK ? rc : dm_buf_adds(b, "]");
}

static int
record_json(struct dm_buf *b, const struct dm_record *r)
{
	int rc = dm_buf_adds(b, "{\"source_ip\":");

	if (rc == DM_OK)
		rc = dm_json_str(b, r->source_ip);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"count\":");
	if (rc == DM_OK)
		rc = dm_json_int(b, r->count, -1);
	if (rc == DM_OK)
		rc = kv(b, "disposition", r->disposition);
	if (rc == DM_OK)
		rc = kv(b, "dkim", r->dkim);
	if (rc == DM_OK)
		rc = kv(b, "spf", r->spf);
	if (rc == DM_OK)
		rc = reasons_json(b, r);
	if (rc == DM_OK)
		rc = kv(b, "header_from", r->header_from);
	if (rc == DM_OK)
		rc = kv(b, "envelope_from", r->envelope_from);
	if (rc == DM_OK)
		rc = kv(b, "envelope_to", r->envelope_to);
	if (rc == DM_OK)
		rc = auth_json(b, "dkim_results", "selector", "result",
		    r->n_dkim, r->dkim_results, 1);
	if (rc == DM_OK)
		rc = auth_json(b, "spf_results", "scope", "result", r->n_spf,
		    r->spf_results, 0);
	if (rc == DM_OK)
		rc = kv(b, "extensions", r->extensions);
	return rc != DM_OK ? rc : dm_buf_adds(b, "}");
}

static int
on_record(void *ctx, const struct dm_feedback *fb, const struct dm_record *r,
    struct dm_error *err)
{
	struct dm_fbjson *j = ctx;
	int rc;

	(void)fb;
	dm_buf_reset(&j->rec);
	if (j->records > 0 && (rc = dm_buf_adds(&j->rec, ",")) != DM_OK)
		return dm_error_set(err, rc, "record %llu: out of memory",
		    (unsigned long long)r->index);
	if ((rc = record_json(&j->rec, r)) != DM_OK)
		return dm_error_set(err, rc, "record %llu too large to print",
		    (unsigned long long)r->index);
	if (fwrite(j->rec.data, 1, j->rec.len, j->spool) != j->rec.len)
		return dm_error_set(err, DM_EIO, "cannot write temporary file");
	j->records++;
	return DM_OK;
}

static int
policy_json(struct dm_buf *b, const struct dm_policy *p)
{
	int rc = dm_buf_adds(b, ",\"policy\":{\"domain\":");

	if (rc == DM_OK)
		rc = dm_json_str(b, p->domain);
	if (rc == DM_OK)
		rc = kv(b, "p", p->p);
	if (rc == DM_OK)
		rc = kv(b, "sp", p->sp);
	if (rc == DM_OK)
		rc = kv(b, "np", p->np);
	if (rc == DM_OK)
		rc = kv(b, "adkim", p->adkim);
	if (rc == DM_OK)
		rc = kv(b, "aspf", p->aspf);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"pct\":");
	if (rc == DM_OK)
		rc = dm_json_int(b, p->pct, -1);
	if (rc == DM_OK)
		rc = kv(b, "fo", p->fo);
	if (rc == DM_OK)
		rc = kv(b, "testing", p->testing);
	if (rc == DM_OK)
		rc = kv(b, "discovery_method", p->discovery_method);
	return rc != DM_OK ? rc : dm_buf_adds(b, "}");
}

static int
list_json(struct dm_buf *b, const char *key, const char *const *v, size_t n)
{
	size_t i;
	int rc = dm_buf_addf(b, ",\"%s\":[", key);

	for (i = 0; rc == DM_OK && i < n; i++) {
		if (i > 0)
			rc = dm_buf_adds(b, ",");
		if (rc == DM_OK)
			rc = dm_json_str(b, v[i]);
	}
	return rc != DM_OK ? rc : dm_buf_adds(b, "]");
}

static int
fixups_json(struct dm_buf *b, const struct dm_feedback *fb)
{
	const char *names[DM_FIXUP_COUNT];
	size_t n = 0;
	int i;

	for (i = 0; i < DM_FIXUP_COUNT; i++) {
		if (fb->fixups[i] > 0)
			names[n++] = dm_fixup_name((enum dm_fixup)i);
	}
	return list_json(b, "fixups", names, n);
}

static int
head_json(struct dm_fbjson *j, const struct dm_feedback *fb)
{
	struct dm_buf *b = &j->head;
	int rc = dm_buf_adds(b, "{\"source\":{\"file\":");

	if (rc == DM_OK)
		rc = dm_json_str(b, j->file);
	if (rc == DM_OK)
		rc = kv(b, "member", j->member);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, "}");
	if (rc == DM_OK)
		rc = kv(b, "schema", schema_names[fb->schema]);
	if (rc == DM_OK)
		rc = kv(b, "version", fb->version);
	if (rc == DM_OK)
		rc = kv(b, "org_name", fb->org_name);
	if (rc == DM_OK)
		rc = kv(b, "email", fb->email);
	if (rc == DM_OK)
		rc = kv(b, "extra_contact_info", fb->extra_contact_info);
	if (rc == DM_OK)
		rc = kv(b, "report_id", fb->report_id);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"begin\":");
	if (rc == DM_OK)
		rc = dm_json_int(b, fb->begin, -1);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"end\":");
	if (rc == DM_OK)
		rc = dm_json_int(b, fb->end, -1);
	if (rc == DM_OK)
		rc = list_json(b, "errors", fb->errors, fb->n_errors);
	if (rc == DM_OK)
		rc = kv(b, "generator", fb->generator);
	if (rc == DM_OK)
		rc = policy_json(b, &fb->policy);
	if (rc == DM_OK)
		rc = fixups_json(b, fb);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"records\":[");
	return rc;
}

static int
on_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_fbjson *j = ctx;
	int rc;

	if ((rc = head_json(j, fb)) == DM_OK) {
		rc = dm_buf_adds(&j->tail, "]");
		if (rc == DM_OK)
			rc = kv(&j->tail, "extensions", fb->extensions);
		if (rc == DM_OK)
			rc = dm_buf_adds(&j->tail, "}\n");
	}
	if (rc != DM_OK)
		return dm_error_set(
		    err, rc, "report metadata too large to print");
	j->ended = 1;
	return DM_OK;
}

struct dm_sink
dm_fbjson_sink(struct dm_fbjson *j)
{
	struct dm_sink s = {
	    .ctx = j, .begin = NULL, .record = on_record, .end = on_end};

	return s;
}

int
dm_fbjson_emit(struct dm_fbjson *j, FILE *out, struct dm_error *err)
{
	char chunk[65536];
	long n = ftell(j->spool);
	size_t got;

	if (!j->ended)
		return dm_error_set(
		    err, DM_EFORMAT, "no report in the document");
	rewind(j->spool);
	fwrite(j->head.data, 1, j->head.len, out);
	while (
	    n > 0 && (got = fread(chunk, 1,
	                  (size_t)n < sizeof(chunk) ? (size_t)n : sizeof(chunk),
	                  j->spool)) > 0) {
		fwrite(chunk, 1, got, out);
		n -= (long)got;
	}
	fwrite(j->tail.data, 1, j->tail.len, out);
	if (ferror(out))
		return dm_error_set(err, DM_EIO, "cannot write output");
	return DM_OK;
}

void
dm_fbjson_free(struct dm_fbjson *j)
{
	if (j->spool != NULL)
		fclose(j->spool);
	dm_buf_free(&j->rec);
	dm_buf_free(&j->head);
	dm_buf_free(&j->tail);
	j->spool = NULL;
}
