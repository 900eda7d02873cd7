/*
 * check_parse.c - tests of parse/: every field of RFC 7489 and RFC 9990
 * reports, one test per fix-up, one per error path, the caps, and every plain
 * XML file of the shared corpus.
 *
 * Documents come from memory through a struct dm_source that can deliver them
 * in small chunks and fail on demand; a capturing sink deep-copies what the
 * parser hands over, since those pointers are only borrowed for the duration of
 * a callback.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "mem.h"
#include "parse.h"

#define MAX_RECS 8
#define MAX_ITEMS 4

/* ---- a memory source ---- */

struct mem_src {
	const char *p;
	size_t len, off, chunk;
	int fail; /* fail once off reaches fail_at */
	size_t fail_at;
};

static ssize_t
mem_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct mem_src *m = ctx;
	size_t n = m->len - m->off;

	if (m->fail && m->off >= m->fail_at) {
		dm_error_setr(
		    err, DM_EIO, "truncated", "gzip: unexpected end of file");
		return -1;
	}
	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;
	if (m->fail && m->off + n > m->fail_at)
		n = m->fail_at - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* ---- a capturing sink ---- */

static char *strs[4096];
static size_t n_strs;

static char *
keep(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	ck_assert_uint_lt(n_strs, sizeof(strs) / sizeof(strs[0]));
	d = strdup(s);
	ck_assert_ptr_nonnull(d);
	strs[n_strs++] = d;
	return d;
}

struct cap_rec {
	uint64_t index;
	char *source_ip;
	int64_t count;
	char *disposition, *dkim, *spf;
	size_t n_reasons, n_dkim, n_spf;
	struct dm_reason reasons[MAX_ITEMS];
	char *header_from, *envelope_from, *envelope_to;
	struct dm_dkim_result dkims[MAX_ITEMS];
	struct dm_spf_result spfs[MAX_ITEMS];
	char *extensions;
};

struct cap_fb {
	enum dm_schema schema;
	char *version, *org_name, *email, *extra_contact_info, *report_id,
	    *generator;
	int64_t begin, end;
	size_t n_errors;
	char *errors[MAX_ITEMS];
	struct dm_policy policy;
	char *extensions;
	uint32_t fixups[DM_FIXUP_COUNT];
	uint64_t n_records, total_count;
};

struct capture {
	int begins, records, ends;
	struct cap_fb at_begin, at_end;
	struct cap_rec rec[MAX_RECS];
	int begin_rc;    /* what begin() returns */
	int fail_record; /* record() fails at this index (0: never) */
	int fail_end;
};

static void
copy_fb(struct cap_fb *c, const struct dm_feedback *fb)
{
	size_t i;

	c->schema = fb->schema;
	c->version = keep(fb->version);
	c->org_name = keep(fb->org_name);
	c->email = keep(fb->email);
	c->extra_contact_info = keep(fb->extra_contact_info);
	c->report_id = keep(fb->report_id);
	c->generator = keep(fb->generator);
	c->begin = fb->begin;
	c->end = fb->end;
	c->n_errors = fb->n_errors;
	for (i = 0; i < fb->n_errors && i < MAX_ITEMS; i++)
		c->errors[i] = keep(fb->errors[i]);
	c->policy.domain = keep(fb->policy.domain);
	c->policy.p = keep(fb->policy.p);
	c->policy.sp = keep(fb->policy.sp);
	c->policy.np = keep(fb->policy.np);
	c->policy.adkim = keep(fb->policy.adkim);
	c->policy.aspf = keep(fb->policy.aspf);
	c->policy.pct = fb->policy.pct;
	c->policy.fo = keep(fb->policy.fo);
	c->policy.testing = keep(fb->policy.testing);
	c->policy.discovery_method = keep(fb->policy.discovery_method);
	c->extensions = keep(fb->extensions);
	memcpy(c->fixups, fb->fixups, sizeof(c->fixups));
	c->n_records = fb->n_records;
	c->total_count = fb->total_count;
}

static void
copy_results(struct cap_rec *c, const struct dm_record *r)
{
	size_t i;

	c->n_reasons = r->n_reasons;
	for (i = 0; i < r->n_reasons && i < MAX_ITEMS; i++) {
		c->reasons[i].type = keep(r->reasons[i].type);
		c->reasons[i].comment = keep(r->reasons[i].comment);
	}
	c->n_dkim = r->n_dkim;
	for (i = 0; i < r->n_dkim && i < MAX_ITEMS; i++) {
		c->dkims[i].domain = keep(r->dkim_results[i].domain);
		c->dkims[i].selector = keep(r->dkim_results[i].selector);
		c->dkims[i].result = keep(r->dkim_results[i].result);
		c->dkims[i].human_result =
		    keep(r->dkim_results[i].human_result);
	}
	c->n_spf = r->n_spf;
	for (i = 0; i < r->n_spf && i < MAX_ITEMS; i++) {
		c->spfs[i].domain = keep(r->spf_results[i].domain);
		c->spfs[i].scope = keep(r->spf_results[i].scope);
		c->spfs[i].result = keep(r->spf_results[i].result);
		c->spfs[i].human_result = keep(r->spf_results[i].human_result);
	}
}

static int
cap_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct capture *c = ctx;

	c->begins++;
	copy_fb(&c->at_begin, fb);
	if (c->begin_rc < 0)
		return dm_error_setr(err, c->begin_rc, "sink", "begin refused");
	return c->begin_rc;
}

static int
cap_record(void *ctx, const struct dm_feedback *fb, const struct dm_record *r,
    struct dm_error *err)
{
	struct capture *c = ctx;
	struct cap_rec *cr;

	(void)fb;
	c->records++;
	if (c->fail_record == c->records)
		return dm_error_setr(
		    err, DM_EDB, "db_full", "database or disk is full");
	if (c->records > MAX_RECS)
		return DM_OK;
	cr = &c->rec[c->records - 1];
	cr->index = r->index;
	cr->source_ip = keep(r->source_ip);
	cr->count = r->count;
	cr->disposition = keep(r->disposition);
	cr->dkim = keep(r->dkim);
	cr->spf = keep(r->spf);
	cr->header_from = keep(r->header_from);
	cr->envelope_from = keep(r->envelope_from);
	cr->envelope_to = keep(r->envelope_to);
	cr->extensions = keep(r->extensions);
	copy_results(cr, r);
	return DM_OK;
}

static int
cap_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct capture *c = ctx;

	c->ends++;
	copy_fb(&c->at_end, fb);
	if (c->fail_end)
		return dm_error_setr(
		    err, DM_EDB, "db_locked", "database is locked");
	return DM_OK;
}

/* ---- fixtures ---- */

static struct capture cap;
static struct dm_error err;
static char *file_data;

static void
setup(void)
{
	memset(&cap, 0, sizeof(cap));
	dm_error_clear(&err);
	file_data = NULL;
}

static void
teardown(void)
{
	while (n_strs > 0)
		free(strs[--n_strs]);
	free(file_data);
	file_data = NULL;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *d;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	d = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(fread(d, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return d;
}

static int
run_src(struct mem_src *m, const struct dm_limits *lim)
{
	struct dm_sink sink = {&cap, cap_begin, cap_record, cap_end};
	struct dm_source src = {m, mem_read};
	struct dm_parser *p;
	int rc;

	ck_assert_int_eq(dm_parser_new(&p, lim, &sink, &err), DM_OK);
	rc = dm_parse_run(p, &src, &err);
	dm_parser_free(p);
	return rc;
}

static int
run_mem(const char *s, size_t len, const struct dm_limits *lim)
{
	struct mem_src m = {s, len, 0, 0, 0, 0};

	return run_src(&m, lim);
}

static int
run_str(const char *s, const struct dm_limits *lim)
{
	return run_mem(s, strlen(s), lim);
}

/* Parses tests/data/parse/<name> in 4000-byte chunks, as a decompressor would
 * hand them over. */
static int
run_file(const char *name, const struct dm_limits *lim)
{
	char path[1024];
	size_t len;

	snprintf(path, sizeof(path), "%s/parse/%s", DM_TEST_DATA_DIR, name);
	free(file_data);
	file_data = slurp(path, &len);
	{
		struct mem_src m = {file_data, len, 0, 4000, 0, 0};

		return run_src(&m, lim);
	}
}

/* Parses a fixture expected to work: exactly one begin and one end. */
static void
parse_ok(const char *name)
{
	int rc = run_file(name, NULL);

	ck_assert_msg(rc == DM_OK, "%s: %d %s", name, rc, err.msg);
	ck_assert_int_eq(cap.begins, 1);
	ck_assert_int_eq(cap.ends, 1);
}

/* Only fixup f was applied, n times. */
static void
assert_fixups(enum dm_fixup f, uint32_t n)
{
	int i;

	for (i = 0; i < DM_FIXUP_COUNT; i++)
		ck_assert_msg(cap.at_end.fixups[i] == (i == (int)f ? n : 0),
		    "fixup %s = %u", dm_fixup_name((enum dm_fixup)i),
		    cap.at_end.fixups[i]);
}

static void
assert_error(int rc, int code, const char *reason, const char *msg)
{
	ck_assert_int_eq(rc, code);
	ck_assert_int_eq(err.code, code);
	ck_assert_pstr_eq(err.reason, reason);
	ck_assert_str_eq(err.msg, msg);
}

/* ---- tc_records ---- */

START_TEST(test_parse_rfc7489_feedback)
{
	const struct cap_fb *f = &cap.at_end;

	parse_ok("rfc7489.xml");
	ck_assert_int_eq(f->schema, DM_SCHEMA_RFC7489);
	ck_assert_str_eq(f->version, "1.0");
	ck_assert_str_eq(f->org_name, "google.com");
	ck_assert_str_eq(f->email, "noreply-dmarc-support@google.com");
	ck_assert_str_eq(f->extra_contact_info,
	    "https://support.google.com/a/answer/2466580");
	ck_assert_str_eq(f->report_id, "5717107811868587391");
	ck_assert_int_eq(f->begin, 1700006400);
	ck_assert_int_eq(f->end, 1700092799);
	ck_assert_uint_eq(f->n_errors, 2);
	ck_assert_str_eq(f->errors[0], "first error");
	ck_assert_str_eq(f->errors[1], "second error");
	ck_assert_ptr_null(f->generator);
	ck_assert_str_eq(f->policy.domain, "example.com");
	ck_assert_str_eq(f->policy.adkim, "r");
	ck_assert_str_eq(f->policy.aspf, "s");
	ck_assert_str_eq(f->policy.p, "quarantine");
	ck_assert_str_eq(f->policy.sp, "reject");
	ck_assert_ptr_null(f->policy.np);
	ck_assert_int_eq(f->policy.pct, 50);
	ck_assert_str_eq(f->policy.fo, "1:d");
	ck_assert_ptr_null(f->policy.testing);
	ck_assert_ptr_null(f->policy.discovery_method);
	ck_assert_ptr_null(f->extensions);
	ck_assert_uint_eq(f->n_records, 2);
	ck_assert_uint_eq(f->total_count, 15);
	assert_fixups(DM_FIXUP_BOM, 0);
	/* begin() saw the complete metadata and no records yet. */
	ck_assert_str_eq(cap.at_begin.org_name, "google.com");
	ck_assert_str_eq(cap.at_begin.policy.fo, "1:d");
	ck_assert_uint_eq(cap.at_begin.n_errors, 2);
	ck_assert_uint_eq(cap.at_begin.n_records, 0);
	ck_assert_uint_eq(cap.at_begin.total_count, 0);
}
END_TEST

START_TEST(test_parse_rfc7489_records)
{
	const struct cap_rec *r = &cap.rec[0];

	parse_ok("rfc7489.xml");
	ck_assert_int_eq(cap.records, 2);
	ck_assert_uint_eq(r->index, 1);
	ck_assert_str_eq(r->source_ip, "192.0.2.10");
	ck_assert_int_eq(r->count, 12);
	ck_assert_str_eq(r->disposition, "quarantine");
	ck_assert_str_eq(r->dkim, "fail");
	ck_assert_str_eq(r->spf, "pass");
	ck_assert_uint_eq(r->n_reasons, 1);
	ck_assert_str_eq(r->reasons[0].type, "forwarded");
	ck_assert_str_eq(r->reasons[0].comment, "via list");
	ck_assert_str_eq(r->header_from, "example.com");
	ck_assert_str_eq(r->envelope_from, "bounce.example.com");
	ck_assert_str_eq(r->envelope_to, "example.net");
	ck_assert_uint_eq(r->n_dkim, 2);
	ck_assert_str_eq(r->dkims[0].domain, "example.com");
	ck_assert_str_eq(r->dkims[0].selector, "s1");
	ck_assert_str_eq(r->dkims[0].result, "fail");
	ck_assert_str_eq(r->dkims[0].human_result, "body hash did not verify");
	ck_assert_str_eq(r->dkims[1].domain, "esp.example");
	ck_assert_str_eq(r->dkims[1].selector, "k2");
	ck_assert_str_eq(r->dkims[1].result, "pass");
	ck_assert_ptr_null(r->dkims[1].human_result);
	ck_assert_uint_eq(r->n_spf, 1);
	ck_assert_str_eq(r->spfs[0].domain, "bounce.example.com");
	ck_assert_str_eq(r->spfs[0].scope, "mfrom");
	ck_assert_str_eq(r->spfs[0].result, "pass");
	ck_assert_ptr_null(r->spfs[0].human_result);
	ck_assert_ptr_null(r->extensions);

	r = &cap.rec[1];
	ck_assert_uint_eq(r->index, 2);
	ck_assert_str_eq(r->source_ip, "2001:db8::1");
	ck_assert_int_eq(r->count, 3);
	ck_assert_str_eq(r->disposition, "none");
	ck_assert_str_eq(r->dkim, "pass");
	ck_assert_str_eq(r->spf, "fail");
	ck_assert_uint_eq(r->n_reasons, 0);
	ck_assert_str_eq(r->header_from, "example.com");
	ck_assert_ptr_null(r->envelope_from);
	ck_assert_ptr_null(r->envelope_to);
	ck_assert_uint_eq(r->n_dkim, 0);
	ck_assert_uint_eq(r->n_spf, 1);
	ck_assert_str_eq(r->spfs[0].domain, "example.com");
	ck_assert_ptr_null(r->spfs[0].scope);
	ck_assert_str_eq(r->spfs[0].result, "softfail");
	ck_assert_ptr_null(r->extensions);
}
END_TEST

/* Byte by byte, the same document gives the same values (BOM and buffering
 * edges). */
START_TEST(test_parse_one_byte_reads)
{
	char path[1024];
	size_t len;
	struct mem_src m = {NULL, 0, 0, 1, 0, 0};

	snprintf(path, sizeof(path), "%s/parse/bom.xml", DM_TEST_DATA_DIR);
	file_data = slurp(path, &len);
	m.p = file_data;
	m.len = len;
	ck_assert_int_eq(run_src(&m, NULL), DM_OK);
	ck_assert_str_eq(cap.at_end.org_name, "Receiver");
	ck_assert_uint_eq(cap.at_end.n_records, 1);
	assert_fixups(DM_FIXUP_BOM, 1);
}
END_TEST

/* begin() returning DM_DONE (a duplicate): no record(), but end() with the
 * totals. */
START_TEST(test_parse_begin_done_skips_records)
{
	cap.begin_rc = DM_DONE;
	parse_ok("rfc7489.xml");
	ck_assert_int_eq(cap.records, 0);
	ck_assert_uint_eq(cap.at_end.n_records, 2);
	ck_assert_uint_eq(cap.at_end.total_count, 15);
}
END_TEST

/* Without records, begin() comes at </feedback>; missing sections are NULL, not
 * errors. */
START_TEST(test_parse_no_records)
{
	const char *doc = "<feedback><version>1.0</version></feedback>";

	ck_assert_int_eq(run_str(doc, NULL), DM_OK);
	ck_assert_int_eq(cap.begins, 1);
	ck_assert_int_eq(cap.records, 0);
	ck_assert_int_eq(cap.ends, 1);
	ck_assert_str_eq(cap.at_begin.version, "1.0");
	ck_assert_ptr_null(cap.at_end.org_name);
	ck_assert_ptr_null(cap.at_end.policy.domain);
	ck_assert_int_eq(cap.at_end.begin, -1);
	ck_assert_int_eq(cap.at_end.end, -1);
	ck_assert_int_eq(cap.at_end.policy.pct, -1);
	ck_assert_uint_eq(cap.at_end.n_records, 0);
}
END_TEST

/* An empty <record/> is still a record: count and source_ip missing are
 * counted. */
START_TEST(test_parse_empty_record_delivered)
{
	const char *doc = "<feedback><record/></feedback>";

	ck_assert_int_eq(run_str(doc, NULL), DM_OK);
	ck_assert_int_eq(cap.records, 1);
	ck_assert_ptr_null(cap.rec[0].source_ip);
	ck_assert_int_eq(cap.rec[0].count, -1);
	ck_assert_uint_eq(cap.at_end.fixups[DM_FIXUP_COUNT_INVALID], 1);
	ck_assert_uint_eq(cap.at_end.fixups[DM_FIXUP_IP_INVALID], 1);
}
END_TEST

/* One parser, two documents: nothing of the first leaks into the second. */
START_TEST(test_parse_parser_reuse)
{
	struct dm_sink sink = {&cap, cap_begin, cap_record, cap_end};
	const char *a = "<feedback><report_metadata><org_name>A</org_name></"
	                "report_metadata>"
	                "<record><row><source_ip>192.0.2.1</"
	                "source_ip><count>4</count></row>"
	                "<identifiers><header_from>a.example</header_from></"
	                "identifiers></record>"
	                "</feedback>";
	const char *b =
	    "<feedback><record><row><count>1</count></row></record></feedback>";
	struct mem_src ma = {a, strlen(a), 0, 0, 0, 0},
	               mb = {b, strlen(b), 0, 0, 0, 0};
	struct dm_source sa = {&ma, mem_read}, sb = {&mb, mem_read};
	struct dm_parser *p;

	ck_assert_int_eq(dm_parser_new(&p, NULL, &sink, &err), DM_OK);
	ck_assert_int_eq(dm_parse_run(p, &sa, &err), DM_OK);
	ck_assert_int_eq(dm_parse_run(p, &sb, &err), DM_OK);
	dm_parser_free(p);
	ck_assert_int_eq(cap.records, 2);
	ck_assert_ptr_null(cap.at_end.org_name);
	ck_assert_uint_eq(cap.at_end.n_records, 1);
	ck_assert_uint_eq(cap.at_end.total_count, 1);
	ck_assert_uint_eq(cap.rec[1].index, 1);
	ck_assert_ptr_null(cap.rec[1].header_from);
	ck_assert_ptr_null(cap.rec[1].source_ip);
	ck_assert_uint_eq(cap.at_end.fixups[DM_FIXUP_IP_INVALID], 1);
}
END_TEST

/* Every allocation failure is reported as DM_ENOMEM and frees what was taken.
 */
START_TEST(test_parse_out_of_memory)
{
	struct dm_sink sink = {&cap, cap_begin, cap_record, cap_end};
	char path[1024];
	size_t len;
	long n;
	int rc;

	snprintf(path, sizeof(path), "%s/parse/rfc9990.xml", DM_TEST_DATA_DIR);
	file_data = slurp(path, &len);
	for (n = 0;; n++) {
		struct mem_src m = {file_data, len, 0, 0, 0, 0};
		struct dm_source src = {&m, mem_read};
		struct dm_parser *p = NULL;

		dm_mem_fail_after(n);
		rc = dm_parser_new(&p, NULL, &sink, &err);
		if (rc == DM_OK) {
			rc = dm_parse_run(p, &src, &err);
			dm_parser_free(p);
		} else {
			ck_assert_ptr_null(p);
		}
		dm_mem_fail_after(-1);
		if (rc == DM_OK)
			break;
		ck_assert_msg(
		    rc == DM_ENOMEM, "n=%ld rc %d: %s", n, rc, err.msg);
		ck_assert_str_eq(err.msg, "out of memory");
	}
	ck_assert_int_gt(n, 10);
	ck_assert_str_eq(cap.at_end.generator, "ExampleMTA 4.2");
}
END_TEST

/* ---- tc_schemas ---- */

START_TEST(test_parse_rfc9990_feedback)
{
	const struct cap_fb *f = &cap.at_end;

	parse_ok("rfc9990.xml");
	ck_assert_int_eq(f->schema, DM_SCHEMA_RFC9990);
	ck_assert_str_eq(f->version, "2.0");
	ck_assert_str_eq(f->org_name, "Receiver Example");
	ck_assert_str_eq(f->email, "dmarc-reports@receiver.example");
	ck_assert_ptr_null(f->extra_contact_info);
	ck_assert_str_eq(f->report_id, "r-2025-0001");
	ck_assert_int_eq(f->begin, 1735689600);
	ck_assert_int_eq(f->end, 1735775999);
	ck_assert_uint_eq(f->n_errors, 0);
	ck_assert_str_eq(f->generator, "ExampleMTA 4.2");
	ck_assert_str_eq(f->policy.domain, "example.org");
	ck_assert_str_eq(f->policy.p, "reject");
	ck_assert_str_eq(f->policy.sp, "quarantine");
	ck_assert_str_eq(f->policy.np, "reject");
	ck_assert_str_eq(f->policy.adkim, "s");
	ck_assert_str_eq(f->policy.aspf, "r");
	ck_assert_int_eq(f->policy.pct, -1);
	ck_assert_ptr_null(f->policy.fo);
	ck_assert_str_eq(f->policy.testing, "y");
	ck_assert_str_eq(f->policy.discovery_method, "treewalk");
	ck_assert_str_eq(f->extensions,
	    "<extensions><extension name=\"totals\" "
	    "definition=\"https://example.org/ext\">"
	    "<data>7</data></extension></extensions>");
	ck_assert_uint_eq(f->n_records, 1);
	ck_assert_uint_eq(f->total_count, 5);
	assert_fixups(DM_FIXUP_BOM, 0);
	/* Top-level extensions come after the records: begin() cannot have
	 * them. */
	ck_assert_ptr_null(cap.at_begin.extensions);
	ck_assert_int_eq(cap.at_begin.schema, DM_SCHEMA_RFC9990);
}
END_TEST

START_TEST(test_parse_rfc9990_record)
{
	const struct cap_rec *r = &cap.rec[0];

	parse_ok("rfc9990.xml");
	ck_assert_int_eq(cap.records, 1);
	ck_assert_uint_eq(r->index, 1);
	ck_assert_str_eq(r->source_ip, "198.51.100.7");
	ck_assert_int_eq(r->count, 5);
	ck_assert_str_eq(r->disposition, "pass");
	ck_assert_str_eq(r->dkim, "pass");
	ck_assert_str_eq(r->spf, "fail");
	ck_assert_uint_eq(r->n_reasons, 1);
	ck_assert_str_eq(r->reasons[0].type, "policy_test_mode");
	ck_assert_str_eq(r->reasons[0].comment, "t=y");
	ck_assert_str_eq(r->header_from, "example.org");
	ck_assert_ptr_null(r->envelope_from);
	ck_assert_str_eq(r->envelope_to, "receiver.example");
	ck_assert_uint_eq(r->n_dkim, 1);
	ck_assert_str_eq(r->dkims[0].domain, "example.org");
	ck_assert_str_eq(r->dkims[0].selector, "2025a");
	ck_assert_str_eq(r->dkims[0].result, "pass");
	ck_assert_str_eq(r->dkims[0].human_result, "good signature");
	ck_assert_uint_eq(r->n_spf, 1);
	ck_assert_str_eq(r->spfs[0].domain, "mail.example.org");
	ck_assert_str_eq(r->spfs[0].scope, "helo");
	ck_assert_str_eq(r->spfs[0].result, "fail");
	ck_assert_str_eq(r->spfs[0].human_result, "not in SPF record");
	ck_assert_str_eq(r->extensions,
	    "<extensions><ext:arc xmlns:ext=\"urn:example:arc\" "
	    "ext:seen=\"2\">chain &amp; seal"
	    "</ext:arc></extensions>");
}
END_TEST

static void
assert_schema(const char *doc, enum dm_schema want)
{
	setup();
	ck_assert_msg(run_str(doc, NULL) == DM_OK, "%s: %s", doc, err.msg);
	ck_assert_int_eq(cap.at_end.schema, want);
	teardown();
}

START_TEST(test_parse_detects_schema)
{
	assert_schema("<feedback/>", DM_SCHEMA_DRAFT);
	assert_schema(
	    "<feedback><version>0.1</version></feedback>", DM_SCHEMA_DRAFT);
	assert_schema(
	    "<feedback><version>1.0</version></feedback>", DM_SCHEMA_RFC7489);
	assert_schema("<feedback xmlns=\"http://dmarc.org/dmarc-xml/0.1\"/>",
	    DM_SCHEMA_RFC7489);
	assert_schema(
	    "<feedback><version>2.0</version></feedback>", DM_SCHEMA_RFC9990);
	assert_schema("<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">"
	              "<version>1.0</version></feedback>",
	    DM_SCHEMA_RFC9990);
}
END_TEST

/* Elements of the dmarc-xml/0.1 namespace (with a prefix) are read like
 * unqualified ones. */
START_TEST(test_parse_namespace_prefix)
{
	const char *doc =
	    "<d:feedback xmlns:d=\"http://dmarc.org/dmarc-xml/0.1\">"
	    "<d:report_metadata><d:org_name>NS</d:org_name></d:report_metadata>"
	    "<d:record><d:row><d:source_ip>192.0.2.9</d:source_ip><d:count>7</"
	    "d:count>"
	    "</d:row></d:record></d:feedback>";

	ck_assert_int_eq(run_str(doc, NULL), DM_OK);
	ck_assert_int_eq(cap.at_end.schema, DM_SCHEMA_RFC7489);
	ck_assert_str_eq(cap.at_end.org_name, "NS");
	ck_assert_str_eq(cap.rec[0].source_ip, "192.0.2.9");
	ck_assert_int_eq(cap.rec[0].count, 7);
	assert_fixups(DM_FIXUP_BOM, 0);
}
END_TEST

/* windows-1252, as declared by AOL's reports, arrives as UTF-8. */
/* A report in the dmarc-xml/0.2 namespace (seen from AOL) is read as DMARC:
 * every value, the fix-up named. */
START_TEST(test_fixup_foreign_namespace)
{
	parse_ok("foreign_namespace.xml");
	assert_fixups(DM_FIXUP_FOREIGN_NAMESPACE, 1);
	ck_assert_int_eq(cap.at_end.schema, DM_SCHEMA_DRAFT);
	ck_assert_str_eq(cap.at_end.org_name, "AOL");
	ck_assert_str_eq(cap.at_end.email, "postmaster@aol.com");
	ck_assert_str_eq(cap.at_end.report_id, "example.com_1700006400");
	ck_assert_int_eq(cap.at_end.begin, 1700006400);
	ck_assert_int_eq(cap.at_end.end, 1700092799);
	ck_assert_str_eq(cap.at_end.policy.domain, "example.com");
	ck_assert_str_eq(cap.at_end.policy.p, "none");
	ck_assert_int_eq(cap.at_end.policy.pct, 100);
	ck_assert_int_eq(cap.records, 1);
	ck_assert_str_eq(cap.rec[0].source_ip, "192.0.2.25");
	ck_assert_int_eq(cap.rec[0].count, 4);
	ck_assert_str_eq(cap.rec[0].dkim, "pass");
	ck_assert_str_eq(cap.rec[0].spf, "fail");
	ck_assert_str_eq(cap.rec[0].header_from, "example.com");
	ck_assert_str_eq(cap.rec[0].dkims[0].domain, "example.com");
	ck_assert_str_eq(cap.rec[0].spfs[0].result, "softfail");
}
END_TEST

/* Elements of another namespace inside a foreign-namespace report are still
 * unknown elements. */
START_TEST(test_fixup_foreign_namespace_keeps_others_out)
{
	const char *doc =
	    "<f:feedback xmlns:f=\"http://dmarc.org/dmarc-xml/0.2\" "
	    "xmlns:x=\"urn:example:x\"><f:report_metadata><f:org_name>O"
	    "</f:org_name><x:org_name>X</x:org_name></f:report_metadata>"
	    "<f:policy_published><f:domain>d.example</f:domain>"
	    "</f:policy_published></f:feedback>";

	ck_assert_msg(run_str(doc, NULL) == DM_OK, "%s", err.msg);
	ck_assert_str_eq(cap.at_end.org_name, "O");
	ck_assert_str_eq(cap.at_end.policy.domain, "d.example");
	ck_assert_uint_eq(cap.at_end.fixups[DM_FIXUP_FOREIGN_NAMESPACE], 1);
	ck_assert_uint_eq(cap.at_end.fixups[DM_FIXUP_UNKNOWN_ELEMENT], 1);
}
END_TEST

#define FFFD "\xef\xbf\xbd"

/* Windows-1252 quotes and Latin-1 letters in a UTF-8 report, and a cut
 * sequence: each bad byte is U+FFFD, the good multi-byte characters stay. */
START_TEST(test_fixup_invalid_utf8)
{
	parse_ok("invalid_utf8.xml");
	assert_fixups(DM_FIXUP_INVALID_UTF8, 6);
	ck_assert_str_eq(cap.at_end.org_name, FFFD "Quoted" FFFD " Mail");
	ck_assert_str_eq(cap.at_end.report_id, "r-" FFFD "t" FFFD);
	ck_assert_str_eq(cap.rec[0].spfs[0].human_result,
	    "caf\xc3\xa9 \xe2\x80\x94 ok \xf0\x9f\x93\xa8 " FFFD FFFD);
	ck_assert_int_eq(cap.rec[0].count, 2);
}
END_TEST

/* The same, read one byte at a time: sequences split across reads. */
START_TEST(test_fixup_invalid_utf8_byte_by_byte)
{
	char path[1024];
	size_t len;

	snprintf(
	    path, sizeof(path), "%s/parse/invalid_utf8.xml", DM_TEST_DATA_DIR);
	file_data = slurp(path, &len);
	{
		struct mem_src m = {file_data, len, 0, 1, 0, 0};

		ck_assert_msg(run_src(&m, NULL) == DM_OK, "%s", err.msg);
	}
	assert_fixups(DM_FIXUP_INVALID_UTF8, 6);
	ck_assert_str_eq(cap.at_end.org_name, FFFD "Quoted" FFFD " Mail");
	ck_assert_str_eq(cap.rec[0].spfs[0].human_result,
	    "caf\xc3\xa9 \xe2\x80\x94 ok \xf0\x9f\x93\xa8 " FFFD FFFD);
}
END_TEST

/* Salvaged only when the rest is well-formed; a declared single-byte
 * encoding's bytes are characters, not errors; a sequence cut by the end of
 * the stream is a bad byte too (here after the root: junk, as ever). */
START_TEST(test_fixup_invalid_utf8_limits)
{
	static const char cut[] =
	    "<feedback><report_metadata><org_name>a"
	    "</org_name></report_metadata></feedback>\xe2";

	assert_error(run_str("<feedback><report_metadata><org_name>\x93x"
	                     "</org_nam></report_metadata></feedback>",
	                 NULL),
	    DM_EFORMAT, "xml_malformed",
	    "XML not well-formed at line 1: Opening and ending tag mismatch: "
	    "org_name line 1 and org_nam");
	setup();
	ck_assert_int_eq(
	    run_str("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
	            "<feedback><report_metadata><org_name>\xe9t\xe9"
	            "</org_name></report_metadata></feedback>",
	        NULL),
	    DM_OK);
	ck_assert_str_eq(cap.at_end.org_name, "\xc3\xa9t\xc3\xa9");
	ck_assert_uint_eq(cap.at_end.fixups[DM_FIXUP_INVALID_UTF8], 0);
	setup();
	ck_assert_int_eq(run_mem(cut, sizeof(cut) - 1, NULL), DM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "Extra content at the end"));
}
END_TEST

START_TEST(test_parse_windows1252)
{
	parse_ok("windows1252.xml");
	ck_assert_str_eq(cap.at_end.org_name, "Caf\xc3\xa9 Mail");
	assert_fixups(DM_FIXUP_BOM, 0);
}
END_TEST

/* Whitespace around values is trimmed without a fix-up; empty elements are
 * absent. */
START_TEST(test_parse_trims_and_empty_is_absent)
{
	const char *doc =
	    "<feedback><report_metadata><org_name>\n  Spaced Org \t</org_name>"
	    "<email></email><report_id/></report_metadata>"
	    "<record><row><source_ip> 192.0.2.3 </source_ip><count> 2 "
	    "</count></row>"
	    "<identifiers><header_from/></identifiers></record></feedback>";

	ck_assert_int_eq(run_str(doc, NULL), DM_OK);
	ck_assert_str_eq(cap.at_end.org_name, "Spaced Org");
	ck_assert_ptr_null(cap.at_end.email);
	ck_assert_ptr_null(cap.at_end.report_id);
	ck_assert_str_eq(cap.rec[0].source_ip, "192.0.2.3");
	ck_assert_int_eq(cap.rec[0].count, 2);
	ck_assert_ptr_null(cap.rec[0].header_from);
	assert_fixups(DM_FIXUP_BOM, 0);
}
END_TEST

/* ---- tc_fixups ---- */

START_TEST(test_fixup_bom)
{
	parse_ok("bom.xml");
	assert_fixups(DM_FIXUP_BOM, 1);
	ck_assert_str_eq(cap.at_end.org_name, "Receiver");
}
END_TEST

START_TEST(test_fixup_leading_whitespace)
{
	parse_ok("leading_whitespace.xml");
	assert_fixups(DM_FIXUP_LEADING_SPACE, 1);
	ck_assert_str_eq(cap.at_end.org_name, "Receiver");
	ck_assert_uint_eq(cap.at_end.n_records, 1);
}
END_TEST

START_TEST(test_fixup_timestamp_ms)
{
	parse_ok("timestamp_ms.xml");
	assert_fixups(DM_FIXUP_TIMESTAMP_MS, 2);
	ck_assert_int_eq(cap.at_end.begin, 1700006400);
	ck_assert_int_eq(cap.at_end.end, 1700092799);
}
END_TEST

START_TEST(test_fixup_date_invalid)
{
	parse_ok("date_invalid.xml");
	assert_fixups(DM_FIXUP_DATE_INVALID, 2);
	ck_assert_int_eq(cap.at_end.begin, -1);
	ck_assert_int_eq(cap.at_end.end, -1);
}
END_TEST

START_TEST(test_fixup_result_case)
{
	parse_ok("result_case.xml");
	assert_fixups(DM_FIXUP_RESULT_CASE, 3);
	ck_assert_str_eq(cap.at_end.policy.p, "none");
	ck_assert_str_eq(cap.rec[0].disposition, "quarantine");
	ck_assert_str_eq(cap.rec[0].spfs[0].result, "pass");
}
END_TEST

START_TEST(test_fixup_spf_hardfail)
{
	parse_ok("spf_hardfail.xml");
	assert_fixups(DM_FIXUP_SPF_HARDFAIL, 1);
	ck_assert_str_eq(cap.rec[0].spfs[0].result, "fail");
}
END_TEST

START_TEST(test_fixup_empty_sp)
{
	parse_ok("empty_sp.xml");
	assert_fixups(DM_FIXUP_EMPTY_SP, 1);
	ck_assert_ptr_null(cap.at_end.policy.sp);
	ck_assert_str_eq(cap.at_end.policy.p, "none");
}
END_TEST

START_TEST(test_fixup_reason_text_only)
{
	parse_ok("reason_text_only.xml");
	assert_fixups(DM_FIXUP_REASON_TEXT_ONLY, 2);
	ck_assert_uint_eq(cap.rec[0].n_reasons, 2);
	ck_assert_str_eq(cap.rec[0].reasons[0].type, "forwarded");
	ck_assert_ptr_null(cap.rec[0].reasons[0].comment);
	ck_assert_str_eq(cap.rec[0].reasons[1].type, "other");
	ck_assert_str_eq(cap.rec[0].reasons[1].comment, "list expansion");
}
END_TEST

START_TEST(test_fixup_legacy_np)
{
	parse_ok("legacy_np.xml");
	assert_fixups(DM_FIXUP_LEGACY_NP, 1);
	ck_assert_str_eq(cap.at_end.policy.np, "quarantine");
	ck_assert_int_eq(cap.at_end.schema, DM_SCHEMA_DRAFT);
}
END_TEST

START_TEST(test_fixup_count_decimal)
{
	parse_ok("count_decimal.xml");
	assert_fixups(DM_FIXUP_COUNT_DECIMAL, 1);
	ck_assert_int_eq(cap.rec[0].count, 3);
	ck_assert_uint_eq(cap.at_end.total_count, 3);
}
END_TEST

/* 3.5, -1, 2^64+, abc and a missing <count>: records still delivered, with
 * count -1. */
START_TEST(test_fixup_count_invalid)
{
	int i;

	parse_ok("count_invalid.xml");
	assert_fixups(DM_FIXUP_COUNT_INVALID, 5);
	ck_assert_int_eq(cap.records, 6);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(cap.rec[i].count, -1);
	ck_assert_int_eq(cap.rec[5].count, 2);
	ck_assert_uint_eq(cap.at_end.n_records, 6);
	ck_assert_uint_eq(cap.at_end.total_count, 2);
}
END_TEST

/* 2^40 is the largest count read (DM_MAX_RECORD_COUNT); 2^40 + 1 and INT64_MAX
 * are invalid, so two of them cannot wrap the report's total. */
START_TEST(test_fixup_count_over_cap)
{
	int i;

	parse_ok("count_over_cap.xml");
	assert_fixups(DM_FIXUP_COUNT_INVALID, 3);
	ck_assert_int_eq(cap.records, 4);
	ck_assert_int_eq(cap.rec[0].count, 1099511627776LL);
	for (i = 1; i < 4; i++)
		ck_assert_int_eq(cap.rec[i].count, -1);
	ck_assert_uint_eq(cap.at_end.total_count, 1099511627776ULL);
}
END_TEST

/* A lower cap from the limits is honoured the same way. */
START_TEST(test_count_cap_from_limits)
{
	struct dm_limits lim = dm_limits_default();

	lim.record_count = 1;
	ck_assert_int_eq(run_file("count_invalid.xml", &lim), DM_OK);
	ck_assert_int_eq(cap.rec[5].count, -1);
	assert_fixups(DM_FIXUP_COUNT_INVALID, 6);
	ck_assert_uint_eq(cap.at_end.total_count, 0);
}
END_TEST

START_TEST(test_fixup_control_chars)
{
	parse_ok("control_chars.xml");
	assert_fixups(DM_FIXUP_CONTROL_CHARS, 2);
	ck_assert_str_eq(cap.at_end.org_name, "Receiver");
	ck_assert_str_eq(cap.at_end.report_id, "r-1");
}
END_TEST

START_TEST(test_fixup_identities)
{
	parse_ok("identities.xml");
	assert_fixups(DM_FIXUP_IDENTITIES, 1);
	ck_assert_str_eq(cap.rec[0].header_from, "example.com");
}
END_TEST

/* "not-an-ip", empty, missing and 300.1.2.3. */
START_TEST(test_fixup_ip_invalid)
{
	int i;

	parse_ok("ip_invalid.xml");
	assert_fixups(DM_FIXUP_IP_INVALID, 4);
	ck_assert_int_eq(cap.records, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_ptr_null(cap.rec[i].source_ip);
		ck_assert_int_eq(cap.rec[i].count, 1);
	}
}
END_TEST

START_TEST(test_fixup_ip_mapped)
{
	parse_ok("ip_mapped.xml");
	assert_fixups(DM_FIXUP_IP_MAPPED, 1);
	ck_assert_str_eq(cap.rec[0].source_ip, "192.0.2.1");
}
END_TEST

START_TEST(test_fixup_ip_canonical)
{
	parse_ok("ip_canonical.xml");
	assert_fixups(DM_FIXUP_IP_CANONICAL, 2);
	ck_assert_str_eq(cap.rec[0].source_ip, "2001:db8::1");
	ck_assert_str_eq(cap.rec[1].source_ip, "192.0.2.1");
}
END_TEST

START_TEST(test_fixup_alignment_word)
{
	parse_ok("alignment_word.xml");
	assert_fixups(DM_FIXUP_ALIGNMENT_WORD, 2);
	ck_assert_str_eq(cap.at_end.policy.adkim, "r");
	ck_assert_str_eq(cap.at_end.policy.aspf, "s");
}
END_TEST

/* p=monitor, testing=maybe, disposition=deliver, policy_evaluated
 * dkim=softfail. */
START_TEST(test_fixup_value_invalid)
{
	parse_ok("value_invalid.xml");
	assert_fixups(DM_FIXUP_VALUE_INVALID, 4);
	ck_assert_ptr_null(cap.at_end.policy.p);
	ck_assert_ptr_null(cap.at_end.policy.testing);
	ck_assert_ptr_null(cap.rec[0].disposition);
	ck_assert_ptr_null(cap.rec[0].dkim);
	ck_assert_str_eq(cap.rec[0].spf, "pass");
}
END_TEST

START_TEST(test_fixup_pct_invalid)
{
	parse_ok("pct_invalid.xml");
	assert_fixups(DM_FIXUP_PCT_INVALID, 1);
	ck_assert_int_eq(cap.at_end.policy.pct, -1);
}
END_TEST

/* Skipped with their subtree: the <domain> inside <unknown-tag1> does not
 * replace the policy's. */
START_TEST(test_fixup_unknown_element)
{
	parse_ok("unknown_element.xml");
	assert_fixups(DM_FIXUP_UNKNOWN_ELEMENT, 3);
	ck_assert_str_eq(cap.at_end.policy.domain, "example.com");
	ck_assert_str_eq(cap.rec[0].source_ip, "192.0.2.1");
	ck_assert_str_eq(cap.rec[0].disposition, "none");
	ck_assert_str_eq(cap.rec[0].header_from, "example.com");
}
END_TEST

/* ---- tc_malformed ---- */

START_TEST(test_parse_rejects_doctype)
{
	assert_error(run_file("doctype.xml", NULL), DM_EFORMAT, "doctype",
	    "DOCTYPE not allowed in a DMARC report");
	ck_assert_int_eq(cap.begins, 0);
	ck_assert_int_eq(cap.ends, 0);
}
END_TEST

START_TEST(test_parse_rejects_xxe)
{
	assert_error(run_file("xxe.xml", NULL), DM_EFORMAT, "doctype",
	    "DOCTYPE not allowed in a DMARC report");
	ck_assert_int_eq(cap.begins, 0);
	ck_assert_int_eq(cap.records, 0);
	ck_assert_ptr_null(strstr(err.msg, "root:"));
}
END_TEST

/* libxml2 finds the entity loop while reading the DTD, before the DOCTYPE node
 * is reported. */
START_TEST(test_parse_rejects_billion_laughs)
{
	/* Refused on its bytes, before libxml2 reads the DTD. */
	assert_error(run_file("billion_laughs.xml", NULL), DM_EFORMAT,
	    "doctype", "DOCTYPE not allowed in a DMARC report");
	ck_assert_int_eq(cap.begins, 0);
}
END_TEST

/* A DOCTYPE split between two reads is still seen. */
START_TEST(test_parse_rejects_doctype_split_across_reads)
{
	static const char doc[] = "<?xml version=\"1.0\"?>\n<!DOC"
	                          "TYPE feedback [<!ENTITY a \"b\">]>"
	                          "<feedback/>";
	size_t i;

	for (i = 1; i < 40; i++) {
		struct mem_src m = {doc, sizeof(doc) - 1, 0, 0, 0, 0};

		m.chunk = i;
		setup();
		assert_error(run_src(&m, NULL), DM_EFORMAT, "doctype",
		    "DOCTYPE not allowed in a DMARC report");
	}
}
END_TEST

/* Raw C0 control characters (not allowed in XML 1.0) are dropped, counted. */
START_TEST(test_fixup_raw_control_chars)
{
	static const char doc[] =
	    "<feedback><report_metadata><org_name>Re\x01"
	    "cei\x1f"
	    "ver\x0b"
	    "</org_name><report_id>r\x02-1</report_id></report_metadata>"
	    "<policy_published><domain>example.com</domain>"
	    "</policy_published></feedback>";

	ck_assert_int_eq(run_str(doc, NULL), DM_OK);
	assert_fixups(DM_FIXUP_CONTROL_CHARS, 4);
	ck_assert_str_eq(cap.at_end.org_name, "Receiver");
	ck_assert_str_eq(cap.at_end.report_id, "r-1");
}
END_TEST

/* UTF-16 without a BOM: its bytes below 0x20 are halves of characters (here
 * the Cyrillic of the org name), not control characters to drop. */
START_TEST(test_parse_utf16_without_bom)
{
	static const char doc[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
	    "<feedback><report_metadata><org_name>\xd0\x9f\xd1\x80\xd0\xb8"
	    "</org_name></report_metadata><policy_published><domain>"
	    "example.com</domain></policy_published></feedback>";
	char u16[sizeof(doc) * 2];
	size_t i, n = 0;

	/* The UTF-8 above as UTF-16LE: ASCII, and three 2-byte sequences. */
	for (i = 0; i < sizeof(doc) - 1; i++) {
		unsigned cp = (unsigned char)doc[i];

		if (cp >= 0xc0) {
			cp = (cp & 0x1fu) << 6 |
			     ((unsigned char)doc[++i] & 0x3fu);
		}
		u16[n++] = (char)(cp & 0xff);
		u16[n++] = (char)(cp >> 8);
	}
	ck_assert_int_eq(run_mem(u16, n, NULL), DM_OK);
	assert_fixups(DM_FIXUP_CONTROL_CHARS, 0);
	ck_assert_str_eq(cap.at_end.org_name, "\xd0\x9f\xd1\x80\xd0\xb8");
}
END_TEST

/* The UTF-8 doc (2-byte sequences at most) as UTF-16, little or big endian;
 * returns the length. */
static size_t
widen(const char *doc, char *out, int be)
{
	size_t i, n = 0;
	unsigned b;

	for (i = 0; doc[i] != '\0'; i++) {
		unsigned cp = (unsigned char)doc[i];

		if (cp >= 0xc0) {
			cp = (cp & 0x1fu) << 6 |
			     ((unsigned char)doc[++i] & 0x3fu);
		}
		for (b = 0; b < 2; b++)
			out[n++] = (char)(cp >> 8 * (be ? 1 - b : b));
	}
	return n;
}

/*
 * Comments and processing instructions everywhere (strip.c): cut before
 * libxml2, which would keep them in memory; the XML declaration (it names the
 * encoding), CDATA that looks like a comment, and the text around them stay.
 */
static const char stripped_doc[] =
    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- c0 -->"
    "<?pi x?><feedback><!-- c1 --><report_metadata><org_name>A<!-- x "
    "-->B<?p <org_name>?>C<![CDATA[<!--D-->]]>\xe9</org_name>"
    "<report_id>r<!---->-1</report_id></report_metadata><policy_published>"
    "<domain>example.com</domain></policy_published><record><row>"
    "<source_ip>192.0.2.1</source_ip><count>3<!-- - -- ->--></count></row>"
    "<identifiers><header_from>example.com</header_from></identifiers>"
    "<auth_results/></record><?end?></feedback><!-- after -->";

START_TEST(test_parse_strips_comments_and_pis)
{
	size_t chunk;

	/* Every chunk size up to 9, so each "<!--" and "-->" is cut. */
	for (chunk = 1; chunk <= 10; chunk++) {
		struct mem_src m = {stripped_doc, sizeof(stripped_doc) - 1, 0,
		    chunk == 10 ? 0 : chunk, 0, 0};

		memset(&cap, 0, sizeof(cap));
		ck_assert_msg(run_src(&m, NULL) == DM_OK, "chunk %zu: %s",
		    chunk, err.msg);
		ck_assert_str_eq(cap.at_end.org_name, "ABC<!--D-->\xc3\xa9");
		ck_assert_str_eq(cap.at_end.report_id, "r-1");
		ck_assert_int_eq(cap.records, 1);
		ck_assert_int_eq(cap.rec[0].count, 3);
		assert_fixups(DM_FIXUP_COUNT, 0);
	}
}
END_TEST

/* The same in UTF-16, both byte orders, cut at odd places. */
START_TEST(test_parse_strips_comments_wide)
{
	static const char doc[] =
	    "?><feedback><!-- \xd0\x9f --><report_metadata><org_name>A<?p?>"
	    "\xd0\x9f<!-- x --></org_name></report_metadata><policy_published>"
	    "<domain>example.com</domain></policy_published></feedback>";
	char text[sizeof(doc) + 64], wide[(sizeof(doc) + 64) * 2];
	size_t n;
	int be;

	for (be = 0; be < 2; be++) {
		struct mem_src m = {wide, 0, 0, 3, 0, 0};

		snprintf(text, sizeof(text),
		    "<?xml version=\"1.0\" encoding=\"UTF-16\"%s", doc);
		n = widen(text, wide, be);
		m.len = n;
		memset(&cap, 0, sizeof(cap));
		ck_assert_msg(
		    run_src(&m, NULL) == DM_OK, "be %d: %s", be, err.msg);
		ck_assert_str_eq(cap.at_end.org_name, "A\xd0\x9f");
	}
}
END_TEST

/* A comment cut short by the end of the stream is the end of the document: the
 * root is never closed, and libxml2 says so. */
START_TEST(test_parse_unterminated_comment)
{
	ck_assert_int_eq(
	    run_str("<feedback><report_metadata><!-- never closed", NULL),
	    DM_EFORMAT);
	ck_assert_str_eq(err.reason, "xml_malformed");
}
END_TEST

/* 150,000 bytes of text in element name, capped at 1,000. */
static int
run_long_text(const char *name)
{
	struct dm_limits lim = dm_limits_default();
	static char doc[200000];
	size_t n;

	lim.text_bytes = 1000;
	n = (size_t)snprintf(
	    doc, sizeof(doc), "<feedback><report_metadata><%s>", name);
	memset(doc + n, 'a', 150000);
	n += 150000;
	n += (size_t)snprintf(doc + n, sizeof(doc) - n,
	    "</%s></report_metadata></feedback>", name);
	return run_mem(doc, n, &lim);
}

/* A text run far over the cap fails while reading, naming the cap, instead of
 * being buffered by libxml2. */
START_TEST(test_parse_caps_text_while_reading)
{
	/* An element whose text is kept: as soon as it has too much. */
	assert_error(run_long_text("org_name"), DM_ELIMIT, "limit",
	    "text of <org_name> longer than 1000 bytes (DM_MAX_TEXT_BYTES)");
	/* Text nobody keeps: on the bytes, before libxml2 holds it whole. */
	setup();
	assert_error(run_long_text("unknown_thing"), DM_ELIMIT, "limit",
	    "text longer than 1000 bytes (DM_MAX_TEXT_BYTES)");
}
END_TEST

START_TEST(test_parse_not_well_formed)
{
	assert_error(run_file("malformed.xml", NULL), DM_EFORMAT,
	    "xml_malformed",
	    "XML not well-formed at line 9: Opening and ending tag mismatch: "
	    "record line 7 and "
	    "feedback");
	ck_assert_int_eq(cap.ends, 0);
}
END_TEST

/* Content after </feedback>: an error, and end() is not called for a half-valid
 * document. */
START_TEST(test_parse_trailing_garbage)
{
	assert_error(run_file("trailing_garbage.xml", NULL), DM_EFORMAT,
	    "xml_malformed",
	    "XML not well-formed at line 6: Extra content at the end of the "
	    "document");
	ck_assert_int_eq(cap.ends, 0);
}
END_TEST

START_TEST(test_parse_root_html)
{
	assert_error(run_file("html.xml", NULL), DM_ESKIP, "not_aggregate",
	    "not a DMARC aggregate report: root element is <html>");
	ck_assert_int_eq(cap.begins, 0);
}
END_TEST

/* A <feedback> in another namespace without DMARC's parts is not a report;
 * nothing reaches the sink. */
START_TEST(test_parse_root_foreign_namespace)
{
	static const char *const docs[] = {
	    "<feedback xmlns=\"urn:example:other\"/>",
	    "<feedback xmlns=\"urn:example:other\"><report_metadata><org_name>"
	    "x</org_name></report_metadata><record/></feedback>"};
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		setup();
		assert_error(run_str(docs[i], NULL), DM_ESKIP, "not_aggregate",
		    "not a DMARC aggregate report: <feedback> in namespace "
		    "urn:example:other without <report_metadata> and "
		    "<policy_published>");
		ck_assert_int_eq(cap.begins, 0);
	}
	setup();
	assert_error(run_str("<report xmlns=\"urn:example:other\"/>", NULL),
	    DM_ESKIP, "not_aggregate",
	    "not a DMARC aggregate report: root element is <report> in "
	    "namespace urn:example:other");
}
END_TEST

START_TEST(test_parse_empty)
{
	assert_error(run_str("", NULL), DM_EFORMAT, "empty", "empty file");
	setup();
	assert_error(run_str("\xef\xbb\xbf \r\n\t", NULL), DM_EFORMAT, "empty",
	    "empty file");
}
END_TEST

START_TEST(test_parse_json_is_skipped)
{
	assert_error(
	    run_str("\n{\"organization-name\": \"Example\", \"policies\": []}",
	        NULL),
	    DM_ESKIP, "not_aggregate",
	    "not a DMARC aggregate report: JSON (SMTP TLS report?)");
}
END_TEST

START_TEST(test_parse_binary_junk)
{
	static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";

	assert_error(run_mem(png, sizeof(png) - 1, NULL), DM_EFORMAT, "not_xml",
	    "not XML: starts with "
	    "\"\\x89PNG\\x0d\\x0a\\x1a\\x0a\\x00\\x00\\x00\\x0dIHDR\"");
}
END_TEST

START_TEST(test_parse_text_is_not_xml)
{
	assert_error(run_str("hello, \"world\"", NULL), DM_EFORMAT, "not_xml",
	    "not XML: starts with \"hello, \\x22world\\x22\"");
}
END_TEST

/* A failing source keeps its own message, whether it fails at once or in the
 * middle. */
START_TEST(test_parse_source_error_passthrough)
{
	char path[1024];
	size_t len, at[] = {0, 2, 700};
	unsigned i;

	snprintf(path, sizeof(path), "%s/parse/rfc7489.xml", DM_TEST_DATA_DIR);
	file_data = slurp(path, &len);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct mem_src m = {file_data, len, 0, 100, 1, at[i]};

		dm_error_clear(&err);
		assert_error(run_src(&m, NULL), DM_EIO, "truncated",
		    "gzip: unexpected end of file");
		ck_assert_int_eq(cap.ends, 0);
	}
}
END_TEST

START_TEST(test_parse_sink_record_error_passthrough)
{
	cap.fail_record = 2;
	assert_error(run_file("rfc7489.xml", NULL), DM_EDB, "db_full",
	    "database or disk is full");
	ck_assert_int_eq(cap.records, 2);
	ck_assert_int_eq(cap.ends, 0);
}
END_TEST

START_TEST(test_parse_sink_begin_error_passthrough)
{
	cap.begin_rc = DM_EDB;
	assert_error(
	    run_file("rfc7489.xml", NULL), DM_EDB, "sink", "begin refused");
	ck_assert_int_eq(cap.records, 0);
	ck_assert_int_eq(cap.ends, 0);
}
END_TEST

START_TEST(test_parse_sink_end_error_passthrough)
{
	cap.fail_end = 1;
	assert_error(run_file("rfc7489.xml", NULL), DM_EDB, "db_locked",
	    "database is locked");
	ck_assert_int_eq(cap.records, 2);
}
END_TEST

/* ---- tc_limits ---- */

START_TEST(test_parse_caps_xml_depth)
{
	struct dm_limits lim = dm_limits_default();

	lim.xml_depth = 4;
	assert_error(
	    run_str("<feedback><record><row><policy_evaluated><reason><type>"
	            "other</type>"
	            "</reason></policy_evaluated></row></record></feedback>",
	        &lim),
	    DM_ELIMIT, "limit", "XML nesting deeper than 4 (DM_MAX_XML_DEPTH)");
}
END_TEST

/* The default cap applies inside skipped subtrees too. */
START_TEST(test_parse_caps_xml_depth_default)
{
	char doc[2048] = "<feedback>";
	int i;

	for (i = 0; i < 70; i++)
		strcat(doc, "<x>");
	assert_error(run_str(doc, NULL), DM_ELIMIT, "limit",
	    "XML nesting deeper than 64 (DM_MAX_XML_DEPTH)");
}
END_TEST

START_TEST(test_parse_caps_text_bytes)
{
	struct dm_limits lim = dm_limits_default();

	lim.text_bytes = 8;
	assert_error(
	    run_str("<feedback><report_metadata><org_name>123456789</org_name>"
	            "</report_metadata></feedback>",
	        &lim),
	    DM_ELIMIT, "limit",
	    "text of <org_name> longer than 8 bytes (DM_MAX_TEXT_BYTES)");
}
END_TEST

START_TEST(test_parse_caps_extensions)
{
	struct dm_limits lim = dm_limits_default();

	lim.text_bytes = 32;
	assert_error(
	    run_str("<feedback><extensions><e>0123456789</e><e>0123456789</e>"
	            "</extensions></feedback>",
	        &lim),
	    DM_ELIMIT, "limit",
	    "<extensions> longer than 32 bytes (DM_MAX_TEXT_BYTES)");
}
END_TEST

START_TEST(test_parse_caps_records)
{
	struct dm_limits lim = dm_limits_default();

	lim.records = 1;
	assert_error(run_file("rfc7489.xml", &lim), DM_ELIMIT, "limit",
	    "more than 1 records in one report (DM_MAX_RECORDS)");
	ck_assert_int_eq(cap.records, 1);
	ck_assert_int_eq(cap.ends, 0);
}
END_TEST

START_TEST(test_parse_caps_results_per_record)
{
	struct dm_limits lim = dm_limits_default();

	lim.results_per_record = 3;
	assert_error(run_file("rfc7489.xml", &lim), DM_ELIMIT, "limit",
	    "more than 3 auth results and reasons in record 1 "
	    "(DM_MAX_RESULTS_PER_RECORD)");
}
END_TEST

START_TEST(test_parse_caps_errors)
{
	struct dm_limits lim = dm_limits_default();

	lim.results_per_record = 1;
	assert_error(
	    run_str(
	        "<feedback><report_metadata><error>a</error><error>b</error>"
	        "</report_metadata></feedback>",
	        &lim),
	    DM_ELIMIT, "limit",
	    "more than 1 <error> elements in <report_metadata> "
	    "(DM_MAX_RESULTS_PER_RECORD)");
}
END_TEST

/* ---- tc_corpus ---- */

/* Splits a MANIFEST.tsv line into its tab-separated columns (in place). */
static int
split_tsv(char *line, char **col, int max)
{
	int n = 0;

	col[n++] = line;
	for (; *line != '\0' && n < max; line++) {
		if (*line == '\t') {
			*line = '\0';
			col[n++] = line + 1;
		}
	}
	line[strcspn(line, "\r\n")] = '\0';
	return n;
}

static void
check_corpus_row(char **col)
{
	char path[2048];
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", DM_CORPUS_DIR, col[0]);
	setup();
	file_data = slurp(path, &len);
	{
		struct mem_src m = {file_data, len, 0, 4096, 0, 0};

		rc = run_src(&m, NULL);
	}
	if (strcmp(col[5], "aggregate") == 0 &&
	    strstr(col[10], "malformed:") == NULL) {
		ck_assert_msg(rc == DM_OK, "%s: %s", col[0], err.msg);
		ck_assert_msg(
		    cap.at_end.n_records == strtoull(col[7], NULL, 10),
		    "%s: %llu records", col[0],
		    (unsigned long long)cap.at_end.n_records);
		ck_assert_msg(
		    cap.at_end.total_count == strtoull(col[8], NULL, 10),
		    "%s: total %llu", col[0],
		    (unsigned long long)cap.at_end.total_count);
	} else if (strcmp(col[5], "aggregate") == 0 && rc == DM_OK) {
		/* Salvaged (leading whitespace): then the counts must be right.
		 */
		ck_assert_msg(
		    cap.at_end.n_records == strtoull(col[7], NULL, 10), "%s",
		    col[0]);
		ck_assert_msg(
		    cap.at_end.total_count == strtoull(col[8], NULL, 10), "%s",
		    col[0]);
		ck_assert_msg(cap.at_end.fixups[DM_FIXUP_LEADING_SPACE] == 1,
		    "%s", col[0]);
	} else {
		ck_assert_msg(
		    rc < 0, "%s: kind %s parsed without error", col[0], col[5]);
		ck_assert_msg(err.msg[0] != '\0' && err.reason != NULL,
		    "%s: unclear error '%s'", col[0], err.msg);
		ck_assert_int_eq(cap.ends, 0);
	}
	teardown();
}

START_TEST(test_parse_corpus_xml)
{
	char path[2048], line[8192];
	char *col[12];
	FILE *f;
	int rows = 0;

	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", DM_CORPUS_DIR);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f)); /* the header */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (split_tsv(line, col, 11) < 11 || strcmp(col[4], "xml") != 0)
			continue;
		check_corpus_row(col);
		rows++;
	}
	fclose(f);
	ck_assert_int_gt(rows, 50);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc;

	tc = tcase_create("tc_records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_rfc7489_feedback);
	tcase_add_test(tc, test_parse_rfc7489_records);
	tcase_add_test(tc, test_parse_one_byte_reads);
	tcase_add_test(tc, test_parse_begin_done_skips_records);
	tcase_add_test(tc, test_parse_no_records);
	tcase_add_test(tc, test_parse_empty_record_delivered);
	tcase_add_test(tc, test_parse_parser_reuse);
	tcase_add_test(tc, test_parse_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_schemas");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_rfc9990_feedback);
	tcase_add_test(tc, test_parse_rfc9990_record);
	tcase_add_test(tc, test_parse_detects_schema);
	tcase_add_test(tc, test_parse_namespace_prefix);
	tcase_add_test(tc, test_parse_windows1252);
	tcase_add_test(tc, test_fixup_foreign_namespace);
	tcase_add_test(tc, test_fixup_foreign_namespace_keeps_others_out);
	tcase_add_test(tc, test_fixup_invalid_utf8);
	tcase_add_test(tc, test_fixup_invalid_utf8_byte_by_byte);
	tcase_add_test(tc, test_fixup_invalid_utf8_limits);
	tcase_add_test(tc, test_parse_trims_and_empty_is_absent);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_fixups");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fixup_bom);
	tcase_add_test(tc, test_fixup_leading_whitespace);
	tcase_add_test(tc, test_fixup_timestamp_ms);
	tcase_add_test(tc, test_fixup_date_invalid);
	tcase_add_test(tc, test_fixup_result_case);
	tcase_add_test(tc, test_fixup_spf_hardfail);
	tcase_add_test(tc, test_fixup_empty_sp);
	tcase_add_test(tc, test_fixup_reason_text_only);
	tcase_add_test(tc, test_fixup_legacy_np);
	tcase_add_test(tc, test_fixup_count_decimal);
	tcase_add_test(tc, test_fixup_count_invalid);
	tcase_add_test(tc, test_fixup_count_over_cap);
	tcase_add_test(tc, test_count_cap_from_limits);
	tcase_add_test(tc, test_fixup_control_chars);
	tcase_add_test(tc, test_fixup_raw_control_chars);
	tcase_add_test(tc, test_fixup_identities);
	tcase_add_test(tc, test_fixup_ip_invalid);
	tcase_add_test(tc, test_fixup_ip_mapped);
	tcase_add_test(tc, test_fixup_ip_canonical);
	tcase_add_test(tc, test_fixup_alignment_word);
	tcase_add_test(tc, test_fixup_value_invalid);
	tcase_add_test(tc, test_fixup_pct_invalid);
	tcase_add_test(tc, test_fixup_unknown_element);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_malformed");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_rejects_doctype);
	tcase_add_test(tc, test_parse_rejects_xxe);
	tcase_add_test(tc, test_parse_rejects_billion_laughs);
	tcase_add_test(tc, test_parse_rejects_doctype_split_across_reads);
	tcase_add_test(tc, test_parse_caps_text_while_reading);
	tcase_add_test(tc, test_parse_utf16_without_bom);
	tcase_add_test(tc, test_parse_strips_comments_and_pis);
	tcase_add_test(tc, test_parse_strips_comments_wide);
	tcase_add_test(tc, test_parse_unterminated_comment);
	tcase_add_test(tc, test_parse_not_well_formed);
	tcase_add_test(tc, test_parse_trailing_garbage);
	tcase_add_test(tc, test_parse_root_html);
	tcase_add_test(tc, test_parse_root_foreign_namespace);
	tcase_add_test(tc, test_parse_empty);
	tcase_add_test(tc, test_parse_json_is_skipped);
	tcase_add_test(tc, test_parse_binary_junk);
	tcase_add_test(tc, test_parse_text_is_not_xml);
	tcase_add_test(tc, test_parse_source_error_passthrough);
	tcase_add_test(tc, test_parse_sink_record_error_passthrough);
	tcase_add_test(tc, test_parse_sink_begin_error_passthrough);
	tcase_add_test(tc, test_parse_sink_end_error_passthrough);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_caps_xml_depth);
	tcase_add_test(tc, test_parse_caps_xml_depth_default);
	tcase_add_test(tc, test_parse_caps_text_bytes);
	tcase_add_test(tc, test_parse_caps_extensions);
	tcase_add_test(tc, test_parse_caps_records);
	tcase_add_test(tc, test_parse_caps_results_per_record);
	tcase_add_test(tc, test_parse_caps_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_corpus");
	dm_check_corpus_case(tc);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parse_corpus_xml);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	return dm_check_main(argc, argv, parse_suite());
}
