/*
 * elements.c - the element table of a DMARC aggregate report and one small
 * handler per element.
 *
 * The table follows RFC 7489 appendix C and RFC 9990
 * (urn:ietf:params:xml:ns:dmarc-2.0), plus the pre-RFC draft's <identities>. An
 * element is found by its parent's id and its local name, so the three <domain>
 * elements stay apart.  Handlers store values into the parser's reusable
 * buffers and count each normalisation in fb.fixups; this file also assembles
 * the public struct dm_feedback and struct dm_record and calls the sink.  It
 * does not read XML: parse.c drives it.
 */
#include <string.h>

#include "ip.h"
#include "parse_int.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Keywords as the RFCs spell them; input in another case is accepted and
 * counted. */
static const char *const kw_policy[] = {"none", "quarantine", "reject", NULL};
static const char *const kw_disposition[] = {
    "none", "quarantine", "reject", "pass", NULL};
static const char *const kw_alignment[] = {"r", "s", NULL};
static const char *const kw_alignment_word[] = {"relaxed", "strict", NULL};
static const char *const kw_evaluated[] = {"pass", "fail", NULL};
static const char *const kw_result[] = {"pass", "fail", "softfail", "neutral",
    "none", "temperror", "permerror", "policy", NULL};
static const char *const kw_hardfail[] = {"hardfail", NULL};
static const char *const kw_yes_no[] = {"y", "n", NULL};
static const char *const kw_discovery[] = {"psl", "treewalk", NULL};
static const char *const kw_scope[] = {"mfrom", "helo", NULL};
static const char *const kw_reason[] = {"forwarded", "sampled_out",
    "trusted_forwarder", "mailing_list", "local_policy", "policy_test_mode",
    "other", NULL};

/*
 * Dates after this (2200-01-01) are not Unix seconds.  Above DM_MS_THRESHOLD
 * (year 5138 in seconds, 1973 in milliseconds) a date_range value is in
 * milliseconds, as some generators write.
 */
#define DM_DATE_MAX 7258118400ULL
#define DM_MS_THRESHOLD 100000000000ULL

void
dm_parse_fixup(struct dm_parser *p, enum dm_fixup f)
{
	if (p->fb.fixups[f] < UINT32_MAX)
		p->fb.fixups[f]++;
}

int
dm_field_set(struct dm_parser *p, struct field *f, const char *s, size_t n)
{
	dm_buf_reset(&f->b);
	f->b.max = p->lim.text_bytes;
	f->set = 0;
	if (n == 0)
		return DM_OK;
	if (dm_buf_add(&f->b, s, n) != DM_OK)
		return dm_error_set(p->err, DM_ENOMEM, "out of memory");
	f->set = 1;
	return DM_OK;
}

const char *
dm_field_get(const struct field *f)
{
	return f->set ? f->b.data : NULL;
}

/* Empty means absent; an unknown word is dropped and counted. */
static const char *
keyword(struct dm_parser *p, const char *const *set, const char *s, size_t n)
{
	const char *w;
	int case_fixed;

	if (n == 0)
		return NULL;
	w = dm_keyword(set, s, n, &case_fixed);
	if (w == NULL) {
		dm_parse_fixup(p, DM_FIXUP_VALUE_INVALID);
		return NULL;
	}
	if (case_fixed)
		dm_parse_fixup(p, DM_FIXUP_RESULT_CASE);
	return w;
}

/* adkim/aspf: some generators write the words of RFC 7489 section 6.3 instead
 * of r/s. */
static const char *
alignment(struct dm_parser *p, const char *s, size_t n)
{
	const char *w;
	int case_fixed;

	w = dm_keyword(kw_alignment_word, s, n, &case_fixed);
	if (w != NULL) {
		dm_parse_fixup(p, DM_FIXUP_ALIGNMENT_WORD);
		return w[0] == 'r' ? "r" : "s";
	}
	return keyword(p, kw_alignment, s, n);
}

/* SPF results: "hardfail" (RFC 4408 wording used by some MTAs) means fail. */
static const char *
spf_result(struct dm_parser *p, const char *s, size_t n)
{
	int case_fixed;

	if (n > 0 && dm_keyword(kw_hardfail, s, n, &case_fixed) != NULL) {
		dm_parse_fixup(p, DM_FIXUP_SPF_HARDFAIL);
		return "fail";
	}
	return keyword(p, kw_result, s, n);
}

static int64_t
date_value(struct dm_parser *p, const char *s, size_t n)
{
	uint64_t v;

	if (n == 0)
		return -1;
	if (dm_parse_u64(s, n, &v) != 0) {
		dm_parse_fixup(p, DM_FIXUP_DATE_INVALID);
		return -1;
	}
	if (v > DM_MS_THRESHOLD) {
		v /= 1000;
		dm_parse_fixup(p, DM_FIXUP_TIMESTAMP_MS);
	}
	if (v > DM_DATE_MAX) {
		dm_parse_fixup(p, DM_FIXUP_DATE_INVALID);
		return -1;
	}
	return (int64_t)v;
}

static enum dm_schema
schema_of(const struct dm_parser *p)
{
	const char *v = dm_field_get(&p->version);

	if (p->ns == NS_DMARC_20 || (v != NULL && strcmp(v, "2.0") == 0))
		return DM_SCHEMA_RFC9990;
	if (p->ns == NS_DMARC_01 || (v != NULL && strcmp(v, "1.0") == 0))
		return DM_SCHEMA_RFC7489;
	return DM_SCHEMA_DRAFT;
}

/* Points the public feedback at the current buffers, which may have moved. */
static void
resolve_feedback(struct dm_parser *p)
{
	struct dm_feedback *fb = &p->fb;
	size_t i;

	fb->schema = schema_of(p);
	fb->version = dm_field_get(&p->version);
	fb->org_name = dm_field_get(&p->org_name);
	fb->email = dm_field_get(&p->email);
	fb->extra_contact_info = dm_field_get(&p->extra_contact);
	fb->report_id = dm_field_get(&p->report_id);
	fb->generator = dm_field_get(&p->generator);
	fb->policy.domain = dm_field_get(&p->domain);
	fb->policy.fo = dm_field_get(&p->fo);
	fb->extensions = dm_field_get(&p->fb_ext);
	for (i = 0; i < p->errors.n; i++)
		p->error_ptrs[i] =
		    dm_field_get((struct field *)p->errors.v + i);
	fb->errors = p->error_ptrs;
	fb->n_errors = p->errors.n;
	p->fb_dirty = 0;
}

static void
field_free(struct field *f)
{
	dm_buf_free(&f->b);
	f->set = 0;
}

/* Clears the report between runs; buffers are kept for the next one. */
void
dm_parse_report_reset(struct dm_parser *p)
{
	struct field *f[] = {&p->version, &p->org_name, &p->email,
	    &p->extra_contact, &p->report_id, &p->generator, &p->domain, &p->fo,
	    &p->fb_ext};
	size_t i;

	for (i = 0; i < NELEM(f); i++)
		f[i]->set = 0;
	memset(&p->fb, 0, sizeof(p->fb));
	p->fb.begin = p->fb.end = -1;
	p->fb.policy.pct = -1;
	p->errors.n = 0;
	p->ns = NS_NONE;
	p->root_ns = NULL;
	p->has_meta = p->has_policy = 0;
	p->begun = p->ended = p->skip_records = 0;
	p->fb_dirty = 1;
	p->fb_ext.b.max = p->lim.text_bytes;
	dm_buf_reset(&p->fb_ext.b);
	p->rec_ext.b.max = p->lim.text_bytes;
}

static void
slots_free(struct slots *s, size_t nfields)
{
	size_t i, j;

	for (i = 0; i < s->cap; i++) {
		for (j = 0; j < nfields; j++)
			field_free(
			    (struct field *)((char *)s->v + i * s->size) + j);
	}
	dm_free(s->v);
	dm_free(s->pub);
	memset(s, 0, sizeof(*s));
}

void
dm_parser_free_report(struct dm_parser *p)
{
	struct field *f[] = {&p->version, &p->org_name, &p->email,
	    &p->extra_contact, &p->report_id, &p->generator, &p->domain, &p->fo,
	    &p->fb_ext, &p->header_from, &p->envelope_from, &p->envelope_to,
	    &p->rec_ext};
	size_t i;

	for (i = 0; i < NELEM(f); i++)
		field_free(f[i]);
	/* The struct field members come first in every slot type. */
	slots_free(&p->errors, 1);
	slots_free(&p->dkim, 3);
	slots_free(&p->spf, 2);
	slots_free(&p->reasons, 1);
}

/*
 * Adds a slot, reusing one from an earlier record when there is one.  Slots and
 * their public twins grow together, so pointers are filled without allocating
 * when a record is delivered.
 */
static void *
slot_push(struct slots *s)
{
	char *v;

	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 4 : s->cap * 2;
		void *pub;

		v = dm_realloc(s->v, cap * s->size);
		if (v == NULL)
			return NULL;
		s->v = v;
		memset(v + s->cap * s->size, 0, (cap - s->cap) * s->size);
		pub = dm_realloc(s->pub, cap * s->pub_size);
		if (pub == NULL)
			return NULL; /* s->cap unchanged: the zeroed slots are
			                reused later */
		s->pub = pub;
		s->cap = cap;
	}
	v = (char *)s->v + s->n++ * s->size;
	return v;
}

static size_t
results_in_record(const struct dm_parser *p)
{
	return p->dkim.n + p->spf.n + p->reasons.n;
}

/* A new auth result or reason in the current record, within
 * lim.results_per_record. */
static void *
result_push(struct dm_parser *p, struct slots *s)
{
	void *v;

	if (results_in_record(p) >= p->lim.results_per_record) {
		dm_parse_limit(p,
		    "more than %u auth results and reasons in record %llu "
		    "(DM_MAX_RESULTS_PER_RECORD)",
		    p->lim.results_per_record,
		    (unsigned long long)p->fb.n_records + 1);
		return NULL;
	}
	v = slot_push(s);
	if (v == NULL)
		dm_error_set(p->err, DM_ENOMEM, "out of memory");
	return v;
}

/* A <feedback> in a foreign namespace is DMARC's if it has DMARC's parts. */
static int
check_structure(struct dm_parser *p)
{
	if (p->ns != NS_FOREIGN || (p->has_meta && p->has_policy))
		return DM_OK;
	return dm_error_setr(p->err, DM_ESKIP, "not_aggregate",
	    "not a DMARC aggregate report: <feedback> in namespace %s without "
	    "<report_metadata> and <policy_published>",
	    p->root_ns);
}

static int
call_begin(struct dm_parser *p)
{
	int rc;

	if ((rc = check_structure(p)) != DM_OK)
		return rc;
	p->begun = 1;
	if (p->sink.begin == NULL)
		return DM_OK;
	resolve_feedback(p);
	rc = p->sink.begin(p->sink.ctx, &p->fb, p->err);
	if (rc == DM_DONE)
		p->skip_records = 1;
	return rc < 0 ? rc : DM_OK;
}

/* Called at the end of the document, after libxml2 found it well-formed. */
int
dm_parse_report_finish(struct dm_parser *p, struct dm_error *err)
{
	int rc;

	if (!p->ended)
		return dm_error_setr(err, DM_ESKIP, "not_aggregate",
		    "not a DMARC aggregate report: no <feedback> element");
	resolve_feedback(p);
	if (p->sink.end == NULL)
		return DM_OK;
	rc = p->sink.end(p->sink.ctx, &p->fb, err);
	return rc < 0 ? rc : DM_OK;
}

/* ---- report metadata and policy ---- */

static int
set_report_field(struct dm_parser *p, struct field *f, const char *s, size_t n)
{
	p->fb_dirty = 1;
	return dm_field_set(p, f, s, n);
}

static int
end_meta(struct dm_parser *p, char *s, size_t n)
{
	(void)s;
	(void)n;
	p->has_meta = 1;
	return DM_OK;
}

static int
end_policy(struct dm_parser *p, char *s, size_t n)
{
	(void)s;
	(void)n;
	p->has_policy = 1;
	return DM_OK;
}

static int
end_feedback(struct dm_parser *p, char *s, size_t n)
{
	(void)s;
	(void)n;
	p->ended = 1;
	return p->begun ? DM_OK : call_begin(p);
}

static int
end_version(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->version, s, n);
}

static int
end_org_name(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->org_name, s, n);
}

static int
end_email(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->email, s, n);
}

static int
end_extra_contact(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->extra_contact, s, n);
}

static int
end_report_id(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->report_id, s, n);
}

static int
end_generator(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->generator, s, n);
}

static int
end_begin(struct dm_parser *p, char *s, size_t n)
{
	p->fb.begin = date_value(p, s, n);
	return DM_OK;
}

static int
end_end(struct dm_parser *p, char *s, size_t n)
{
	p->fb.end = date_value(p, s, n);
	return DM_OK;
}

/* <error> repeats; the list is capped like the results of a record. */
static int
end_error(struct dm_parser *p, char *s, size_t n)
{
	struct field *f;
	const char **ptrs;

	if (n == 0)
		return DM_OK;
	if (p->errors.n >= p->lim.results_per_record)
		return dm_parse_limit(p,
		    "more than %u <error> elements in <report_metadata> "
		    "(DM_MAX_RESULTS_PER_RECORD)",
		    p->lim.results_per_record);
	if ((f = slot_push(&p->errors)) == NULL)
		return dm_error_set(p->err, DM_ENOMEM, "out of memory");
	ptrs = p->errors.pub;
	p->error_ptrs = ptrs;
	return set_report_field(p, f, s, n);
}

static int
end_policy_domain(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->domain, s, n);
}

static int
end_fo(struct dm_parser *p, char *s, size_t n)
{
	return set_report_field(p, &p->fo, s, n);
}

static int
end_adkim(struct dm_parser *p, char *s, size_t n)
{
	p->fb.policy.adkim = n == 0 ? NULL : alignment(p, s, n);
	return DM_OK;
}

static int
end_aspf(struct dm_parser *p, char *s, size_t n)
{
	p->fb.policy.aspf = n == 0 ? NULL : alignment(p, s, n);
	return DM_OK;
}

static int
end_p(struct dm_parser *p, char *s, size_t n)
{
	p->fb.policy.p = keyword(p, kw_policy, s, n);
	return DM_OK;
}

/* An empty <sp/> is written by generators that mean "same as p". */
static int
end_sp(struct dm_parser *p, char *s, size_t n)
{
	if (n == 0)
		dm_parse_fixup(p, DM_FIXUP_EMPTY_SP);
	p->fb.policy.sp = keyword(p, kw_policy, s, n);
	return DM_OK;
}

/* <np> is RFC 9990's; some generators send it in older reports.  It is kept and
 * counted. */
static int
end_np(struct dm_parser *p, char *s, size_t n)
{
	if (n > 0 && schema_of(p) != DM_SCHEMA_RFC9990)
		dm_parse_fixup(p, DM_FIXUP_LEGACY_NP);
	p->fb.policy.np = keyword(p, kw_policy, s, n);
	return DM_OK;
}

static int
end_pct(struct dm_parser *p, char *s, size_t n)
{
	uint64_t v;

	p->fb.policy.pct = -1;
	if (n == 0)
		return DM_OK;
	if (dm_parse_u64(s, n, &v) != 0 || v > 100) {
		dm_parse_fixup(p, DM_FIXUP_PCT_INVALID);
		return DM_OK;
	}
	p->fb.policy.pct = (int)v;
	return DM_OK;
}

static int
end_testing(struct dm_parser *p, char *s, size_t n)
{
	p->fb.policy.testing = keyword(p, kw_yes_no, s, n);
	return DM_OK;
}

static int
end_discovery(struct dm_parser *p, char *s, size_t n)
{
	p->fb.policy.discovery_method = keyword(p, kw_discovery, s, n);
	return DM_OK;
}

static int
start_report_extensions(struct dm_parser *p)
{
	p->ext = &p->fb_ext;
	p->fb_dirty = 1;
	return DM_OK;
}

/* ---- records ---- */

static void
record_reset(struct dm_parser *p)
{
	memset(&p->rec, 0, sizeof(p->rec));
	p->rec.count = -1;
	p->ip_set = 0;
	p->header_from.set = p->envelope_from.set = p->envelope_to.set = 0;
	p->rec_ext.set = 0;
	dm_buf_reset(&p->rec_ext.b);
	p->dkim.n = p->spf.n = p->reasons.n = 0;
}

/* begin() goes before the first record: metadata and policy are complete by
 * then. */
static int
start_record(struct dm_parser *p)
{
	int rc;

	if (p->fb.n_records >= p->lim.records)
		return dm_parse_limit(p,
		    "more than %llu records in one report (DM_MAX_RECORDS)",
		    (unsigned long long)p->lim.records);
	if (!p->begun && (rc = call_begin(p)) != DM_OK)
		return rc;
	record_reset(p);
	return DM_OK;
}

static void
resolve_results(struct dm_parser *p)
{
	const struct dkim_slot *d = p->dkim.v;
	const struct spf_slot *s = p->spf.v;
	const struct reason_slot *r = p->reasons.v;
	struct dm_dkim_result *pd = p->dkim.pub;
	struct dm_spf_result *ps = p->spf.pub;
	struct dm_reason *pr = p->reasons.pub;
	size_t i;

	for (i = 0; i < p->dkim.n; i++) {
		pd[i].domain = dm_field_get(&d[i].domain);
		pd[i].selector = dm_field_get(&d[i].selector);
		pd[i].human_result = dm_field_get(&d[i].human);
		pd[i].result = d[i].result;
	}
	for (i = 0; i < p->spf.n; i++) {
		ps[i].domain = dm_field_get(&s[i].domain);
		ps[i].human_result = dm_field_get(&s[i].human);
		ps[i].scope = s[i].scope;
		ps[i].result = s[i].result;
	}
	for (i = 0; i < p->reasons.n; i++) {
		pr[i].type = r[i].type;
		pr[i].comment = dm_field_get(&r[i].comment);
	}
}

static void
resolve_record(struct dm_parser *p)
{
	struct dm_record *rec = &p->rec;

	rec->index = p->fb.n_records;
	rec->source_ip = p->ip_set ? p->ip : NULL;
	rec->header_from = dm_field_get(&p->header_from);
	rec->envelope_from = dm_field_get(&p->envelope_from);
	rec->envelope_to = dm_field_get(&p->envelope_to);
	rec->extensions = dm_field_get(&p->rec_ext);
	resolve_results(p);
	rec->dkim_results = p->dkim.pub;
	rec->n_dkim = p->dkim.n;
	rec->spf_results = p->spf.pub;
	rec->n_spf = p->spf.n;
	rec->reasons = p->reasons.pub;
	rec->n_reasons = p->reasons.n;
}

static int
end_record(struct dm_parser *p, char *s, size_t n)
{
	int rc;

	(void)s;
	(void)n;
	if (!p->ip_set)
		dm_parse_fixup(p, DM_FIXUP_IP_INVALID);
	/* Saturating as the store's sums, so that a copy of a report compares
	 * equal to the stored one (sql/sink.c). */
	if (p->rec.count < 0)
		dm_parse_fixup(p, DM_FIXUP_COUNT_INVALID);
	else
		p->fb.total_count = (uint64_t)dm_count_add(
		    (int64_t)p->fb.total_count, p->rec.count);
	p->fb.n_records++;
	if (p->skip_records || p->sink.record == NULL)
		return DM_OK;
	if (p->fb_dirty)
		resolve_feedback(p);
	resolve_record(p);
	rc = p->sink.record(p->sink.ctx, &p->fb, &p->rec, p->err);
	return rc < 0 ? rc : DM_OK;
}

static int
end_source_ip(struct dm_parser *p, char *s, size_t n)
{
	enum dm_fixup fix;

	p->ip_set = 0;
	if (n == 0 || dm_ip_canon(s, p->ip, sizeof(p->ip), &fix) != 0)
		return DM_OK;
	p->ip_set = 1;
	if (fix != DM_FIXUP_COUNT)
		dm_parse_fixup(p, fix);
	return DM_OK;
}

static int
all_zeros(const char *s, size_t n)
{
	while (n > 0 && s[n - 1] == '0')
		n--;
	return n == 0;
}

/* "3.0" is 3 (a generator writing floats); "3.5", "-1", "abc" and a count over
 * the cap (DM_MAX_RECORD_COUNT) are counted as invalid. */
static int
end_count(struct dm_parser *p, char *s, size_t n)
{
	const char *dot = memchr(s, '.', n);
	size_t len = dot == NULL ? n : (size_t)(dot - s);
	uint64_t v;

	p->rec.count = -1;
	if (dot != NULL && !all_zeros(dot + 1, n - len - 1))
		return DM_OK;
	if (dm_parse_u64(s, len, &v) != 0 || v > p->lim.record_count ||
	    v > INT64_MAX)
		return DM_OK;
	if (dot != NULL)
		dm_parse_fixup(p, DM_FIXUP_COUNT_DECIMAL);
	p->rec.count = (int64_t)v;
	return DM_OK;
}

static int
end_disposition(struct dm_parser *p, char *s, size_t n)
{
	p->rec.disposition = keyword(p, kw_disposition, s, n);
	return DM_OK;
}

static int
end_eval_dkim(struct dm_parser *p, char *s, size_t n)
{
	p->rec.dkim = keyword(p, kw_evaluated, s, n);
	return DM_OK;
}

static int
end_eval_spf(struct dm_parser *p, char *s, size_t n)
{
	p->rec.spf = keyword(p, kw_evaluated, s, n);
	return DM_OK;
}

static struct reason_slot *
last_reason(struct dm_parser *p)
{
	return (struct reason_slot *)p->reasons.v + p->reasons.n - 1;
}

static int
start_reason(struct dm_parser *p)
{
	struct reason_slot *r = result_push(p, &p->reasons);

	if (r == NULL)
		return p->err->code;
	r->type = NULL;
	r->comment.set = 0;
	p->reason_typed = 0;
	return DM_OK;
}

/*
 * <reason>forwarded</reason>: the type written as the reason's text.  A known
 * type is taken as the type; anything else is kept as the comment of an "other"
 * reason.
 */
static int
end_reason(struct dm_parser *p, char *s, size_t n)
{
	struct reason_slot *r = last_reason(p);
	int case_fixed;

	if (p->reason_typed || n == 0)
		return DM_OK;
	dm_parse_fixup(p, DM_FIXUP_REASON_TEXT_ONLY);
	r->type = dm_keyword(kw_reason, s, n, &case_fixed);
	if (r->type != NULL)
		return DM_OK;
	r->type = "other";
	return r->comment.set ? DM_OK : dm_field_set(p, &r->comment, s, n);
}

static int
end_reason_type(struct dm_parser *p, char *s, size_t n)
{
	p->reason_typed = 1;
	last_reason(p)->type = keyword(p, kw_reason, s, n);
	return DM_OK;
}

static int
end_reason_comment(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &last_reason(p)->comment, s, n);
}

static int
start_identities(struct dm_parser *p)
{
	dm_parse_fixup(p, DM_FIXUP_IDENTITIES);
	return DM_OK;
}

static int
end_header_from(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &p->header_from, s, n);
}

static int
end_envelope_from(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &p->envelope_from, s, n);
}

static int
end_envelope_to(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &p->envelope_to, s, n);
}

static struct dkim_slot *
last_dkim(struct dm_parser *p)
{
	return (struct dkim_slot *)p->dkim.v + p->dkim.n - 1;
}

static int
start_dkim(struct dm_parser *p)
{
	struct dkim_slot *d = result_push(p, &p->dkim);

	if (d == NULL)
		return p->err->code;
	d->domain.set = d->selector.set = d->human.set = 0;
	d->result = NULL;
	return DM_OK;
}

static int
end_dkim_domain(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &last_dkim(p)->domain, s, n);
}

static int
end_dkim_selector(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &last_dkim(p)->selector, s, n);
}

static int
end_dkim_result(struct dm_parser *p, char *s, size_t n)
{
	last_dkim(p)->result = keyword(p, kw_result, s, n);
	return DM_OK;
}

static int
end_dkim_human(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &last_dkim(p)->human, s, n);
}

static struct spf_slot *
last_spf(struct dm_parser *p)
{
	return (struct spf_slot *)p->spf.v + p->spf.n - 1;
}

static int
start_spf(struct dm_parser *p)
{
	struct spf_slot *sp = result_push(p, &p->spf);

	if (sp == NULL)
		return p->err->code;
	sp->domain.set = sp->human.set = 0;
	sp->scope = sp->result = NULL;
	return DM_OK;
}

static int
end_spf_domain(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &last_spf(p)->domain, s, n);
}

static int
end_spf_scope(struct dm_parser *p, char *s, size_t n)
{
	last_spf(p)->scope = keyword(p, kw_scope, s, n);
	return DM_OK;
}

static int
end_spf_result(struct dm_parser *p, char *s, size_t n)
{
	last_spf(p)->result = spf_result(p, s, n);
	return DM_OK;
}

static int
end_spf_human(struct dm_parser *p, char *s, size_t n)
{
	return dm_field_set(p, &last_spf(p)->human, s, n);
}

static int
start_record_extensions(struct dm_parser *p)
{
	p->ext = &p->rec_ext;
	return DM_OK;
}

/* ---- the table ---- */

#define LEAF(name, id, end)                                                    \
	{                                                                      \
		name, id, NULL, end, 1                                         \
	}
#define NODE(name, id, start, end)                                             \
	{                                                                      \
		name, id, start, end, 0                                        \
	}

static const struct dm_element doc_children[] = {
    NODE("feedback", EL_FEEDBACK, NULL, end_feedback),
};

static const struct dm_element feedback_children[] = {
    NODE("record", EL_RECORD, start_record, end_record),
    LEAF("version", EL_VERSION, end_version),
    NODE("report_metadata", EL_META, NULL, end_meta),
    NODE("policy_published", EL_POLICY, NULL, end_policy),
    NODE("extensions", EL_EXTENSIONS, start_report_extensions, NULL),
};

static const struct dm_element meta_children[] = {
    LEAF("org_name", EL_ORG_NAME, end_org_name),
    LEAF("email", EL_EMAIL, end_email),
    LEAF("extra_contact_info", EL_EXTRA_CONTACT, end_extra_contact),
    LEAF("report_id", EL_REPORT_ID, end_report_id),
    NODE("date_range", EL_DATE_RANGE, NULL, NULL),
    LEAF("error", EL_ERROR, end_error),
    LEAF("generator", EL_GENERATOR, end_generator),
};

static const struct dm_element date_range_children[] = {
    LEAF("begin", EL_BEGIN, end_begin),
    LEAF("end", EL_END, end_end),
};

static const struct dm_element policy_children[] = {
    LEAF("domain", EL_POLICY_DOMAIN, end_policy_domain),
    LEAF("adkim", EL_ADKIM, end_adkim),
    LEAF("aspf", EL_ASPF, end_aspf),
    LEAF("p", EL_P, end_p),
    LEAF("sp", EL_SP, end_sp),
    LEAF("np", EL_NP, end_np),
    LEAF("pct", EL_PCT, end_pct),
    LEAF("fo", EL_FO, end_fo),
    LEAF("testing", EL_TESTING, end_testing),
    LEAF("discovery_method", EL_DISCOVERY, end_discovery),
};

static const struct dm_element record_children[] = {
    NODE("row", EL_ROW, NULL, NULL),
    NODE("identifiers", EL_IDENTIFIERS, NULL, NULL),
    NODE("auth_results", EL_AUTH, NULL, NULL),
    NODE("identities", EL_IDENTIFIERS, start_identities, NULL),
    NODE("extensions", EL_EXTENSIONS, start_record_extensions, NULL),
};

static const struct dm_element row_children[] = {
    LEAF("source_ip", EL_SOURCE_IP, end_source_ip),
    LEAF("count", EL_MSG_COUNT, end_count),
    NODE("policy_evaluated", EL_EVALUATED, NULL, NULL),
};

static const struct dm_element evaluated_children[] = {
    LEAF("disposition", EL_DISPOSITION, end_disposition),
    LEAF("dkim", EL_EVAL_DKIM, end_eval_dkim),
    LEAF("spf", EL_EVAL_SPF, end_eval_spf),
    /* The text of <reason> matters only when it has no <type>
       (reason_text_only). */
    {"reason", EL_REASON, start_reason, end_reason, 1},
};

static const struct dm_element reason_children[] = {
    LEAF("type", EL_REASON_TYPE, end_reason_type),
    LEAF("comment", EL_REASON_COMMENT, end_reason_comment),
};

static const struct dm_element identifiers_children[] = {
    LEAF("header_from", EL_HEADER_FROM, end_header_from),
    LEAF("envelope_from", EL_ENVELOPE_FROM, end_envelope_from),
    LEAF("envelope_to", EL_ENVELOPE_TO, end_envelope_to),
};

static const struct dm_element auth_children[] = {
    NODE("dkim", EL_DKIM, start_dkim, NULL),
    NODE("spf", EL_SPF, start_spf, NULL),
};

static const struct dm_element dkim_children[] = {
    LEAF("domain", EL_DKIM_DOMAIN, end_dkim_domain),
    LEAF("result", EL_DKIM_RESULT, end_dkim_result),
    LEAF("selector", EL_DKIM_SELECTOR, end_dkim_selector),
    LEAF("human_result", EL_DKIM_HUMAN, end_dkim_human),
};

static const struct dm_element spf_children[] = {
    LEAF("domain", EL_SPF_DOMAIN, end_spf_domain),
    LEAF("result", EL_SPF_RESULT, end_spf_result),
    LEAF("scope", EL_SPF_SCOPE, end_spf_scope),
    LEAF("human_result", EL_SPF_HUMAN, end_spf_human),
};

static const struct {
	const struct dm_element *el;
	size_t n;
} children[EL_NUM] = {
    [EL_DOC] = {doc_children, NELEM(doc_children)},
    [EL_FEEDBACK] = {feedback_children, NELEM(feedback_children)},
    [EL_META] = {meta_children, NELEM(meta_children)},
    [EL_DATE_RANGE] = {date_range_children, NELEM(date_range_children)},
    [EL_POLICY] = {policy_children, NELEM(policy_children)},
    [EL_RECORD] = {record_children, NELEM(record_children)},
    [EL_ROW] = {row_children, NELEM(row_children)},
    [EL_EVALUATED] = {evaluated_children, NELEM(evaluated_children)},
    [EL_REASON] = {reason_children, NELEM(reason_children)},
    [EL_IDENTIFIERS] = {identifiers_children, NELEM(identifiers_children)},
    [EL_AUTH] = {auth_children, NELEM(auth_children)},
    [EL_DKIM] = {dkim_children, NELEM(dkim_children)},
    [EL_SPF] = {spf_children, NELEM(spf_children)},
};

/* The element called name under parent, or NULL when it is outside both
 * schemas. */
const struct dm_element *
dm_el_find(enum dm_el parent, const char *name)
{
	const struct dm_element *e = children[parent].el;
	size_t i;

	for (i = 0; i < children[parent].n; i++) {
		if (e[i].name[0] == name[0] && strcmp(e[i].name, name) == 0)
			return &e[i];
	}
	return NULL;
}
