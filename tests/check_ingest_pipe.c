/*
 * check_ingest_pipe.c - the two-thread sink of ingest/pipe.h, driven directly:
 * every call reaches the inner sink in order with its values intact (records
 * stored at once, then in batches on the worker, a record too big for a batch,
 * a report whose metadata changes between records), an inner error reaches
 * the parser's side with its message and is forgotten by dm_pipe_finish(),
 * and a duplicate's records never reach the inner sink.
 * Linked into check_ingest (see pipe_tcase()).
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "pipe.h"

#define N_RECORDS 20000 /* about 5 MB of copies: batches are reused */
#define BIG_EXT ((size_t)3 << 20)

/*
 * Holds an inner begin() that runs on another thread than the test's until the
 * test has sent the report's records: the order in which a pipe that ran
 * begin() on its worker lost a duplicate's DM_DONE.
 */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t test_thread;
	int open;
};

/* What the inner sink saw; it runs on the pipe's worker thread. */
struct inner {
	int begins, ends, fail_at;
	struct gate *gate; /* or NULL */
	int status_of_begin;
	uint64_t records, wrong;
	char org_at_end[64], ext_at_end[16], first_wrong[256];
	size_t big_ext_len;
};

static void
expect_record(struct dm_record *r, uint64_t i, char *ip, char *from)
{
	snprintf(ip, 64, "192.0.%u.%u", (unsigned)(i / 256 % 256),
	    (unsigned)(i % 256));
	snprintf(from, 64, "d%" PRIu64 ".example", i);
	memset(r, 0, sizeof(*r));
	r->index = i;
	r->source_ip = ip;
	r->count = (int64_t)(i % 97);
	r->disposition = i % 3 == 0 ? "reject" : "none";
	r->header_from = from;
}

static const struct dm_dkim_result dkim2[] = {
    {"a.example", "s1", "pass", NULL}, {"b.example", NULL, "fail", "h"}};
static const struct dm_spf_result spf1[] = {
    {"bounce.example", "mfrom", "softfail", NULL}};
static const struct dm_reason reason1[] = {{"forwarded", "list"}};

static void
note_wrong(struct inner *in, uint64_t i, const char *what)
{
	if (in->wrong++ == 0)
		snprintf(in->first_wrong, sizeof(in->first_wrong),
		    "record %" PRIu64 ": %s", i, what);
}

static int
inner_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct inner *in = ctx;

	(void)err;
	in->begins++;
	if (in->gate != NULL &&
	    !pthread_equal(pthread_self(), in->gate->test_thread)) {
		pthread_mutex_lock(&in->gate->mu);
		while (!in->gate->open)
			pthread_cond_wait(&in->gate->cv, &in->gate->mu);
		pthread_mutex_unlock(&in->gate->mu);
	}
	if (strcmp(fb->org_name, "Org A") != 0 || fb->n_errors != 1 ||
	    strcmp(fb->errors[0], "e1") != 0 ||
	    strcmp(fb->policy.domain, "example.com") != 0 ||
	    fb->policy.pct != 50)
		note_wrong(in, 0, "begin");
	return in->status_of_begin;
}

static int
inner_record(void *ctx, const struct dm_feedback *fb, const struct dm_record *r,
    struct dm_error *err)
{
	struct inner *in = ctx;
	struct dm_record want;
	char ip[64], from[64];
	uint64_t i = r->index;

	if (in->fail_at > 0 && i == (uint64_t)in->fail_at)
		return dm_error_set(
		    err, DM_EDB, "disk full at record %" PRIu64, i);
	expect_record(&want, i, ip, from);
	if (i != in->records + 1)
		note_wrong(in, i, "out of order");
	in->records++;
	if (strcmp(r->source_ip, want.source_ip) != 0 ||
	    strcmp(r->header_from, want.header_from) != 0 ||
	    strcmp(r->disposition, want.disposition) != 0 ||
	    r->count != want.count || r->envelope_to != NULL)
		note_wrong(in, i, "fields");
	/* Metadata that changed at record 1000 reaches the records after. */
	if (strcmp(fb->org_name, i < 1000 ? "Org A" : "Org B") != 0)
		note_wrong(in, i, fb->org_name);
	if (i % 10 == 0 &&
	    (r->n_dkim != 2 || strcmp(r->dkim_results[1].domain, "b.example") ||
	        r->dkim_results[1].selector != NULL ||
	        strcmp(r->dkim_results[1].human_result, "h") || r->n_spf != 1 ||
	        strcmp(r->spf_results[0].result, "softfail") ||
	        r->n_reasons != 1 || strcmp(r->reasons[0].comment, "list")))
		note_wrong(in, i, "auth results");
	if (i == 777 && r->extensions != NULL) {
		size_t n = strlen(r->extensions);

		in->big_ext_len = n;
		if (r->extensions[0] != 'x' || r->extensions[n - 1] != 'z')
			note_wrong(in, i, "big extensions");
	}
	return DM_OK;
}

static int
inner_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct inner *in = ctx;

	(void)err;
	in->ends++;
	snprintf(in->org_at_end, sizeof(in->org_at_end), "%s", fb->org_name);
	snprintf(in->ext_at_end, sizeof(in->ext_at_end), "%s",
	    fb->extensions ? fb->extensions : "(none)");
	return DM_OK;
}

static struct dm_feedback
feedback(void)
{
	static const char *const errors[] = {"e1"};
	struct dm_feedback fb;

	memset(&fb, 0, sizeof(fb));
	fb.org_name = "Org A";
	fb.report_id = "r1";
	fb.errors = errors;
	fb.n_errors = 1;
	fb.begin = 1700000000;
	fb.end = 1700086399;
	fb.policy.domain = "example.com";
	fb.policy.p = "reject";
	fb.policy.pct = 50;
	return fb;
}

/* Sends records 1..n as a parser would, from one reused buffer each. */
static int
send_records(struct dm_sink *k, struct dm_feedback *fb, uint64_t n, char *big,
    struct dm_error *err)
{
	struct dm_record r;
	char ip[64], from[64];
	uint64_t i;
	int rc = DM_OK;

	for (i = 1; i <= n && rc == DM_OK; i++) {
		if (i == 1000)
			fb->org_name = "Org B";
		expect_record(&r, i, ip, from);
		if (i % 10 == 0) {
			r.dkim_results = dkim2;
			r.n_dkim = 2;
			r.spf_results = spf1;
			r.n_spf = 1;
			r.reasons = reason1;
			r.n_reasons = 1;
		}
		if (i == 777)
			r.extensions = big;
		rc = k->record(k->ctx, fb, &r, err);
		/* The parser's buffers are reused at once. */
		memset(ip, '#', sizeof(ip) - 1);
	}
	return rc;
}

static char *
big_extensions(void)
{
	char *big = dm_malloc(BIG_EXT + 1);

	ck_assert_ptr_nonnull(big);
	memset(big, 'y', BIG_EXT);
	big[0] = 'x';
	big[BIG_EXT - 1] = 'z';
	big[BIG_EXT] = '\0';
	return big;
}

START_TEST(test_pipe_delivers_everything_in_order)
{
	struct inner in = {0};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct dm_pipe *p;
	struct dm_error e;
	struct dm_sink k;
	char *big = big_extensions();

	ck_assert_int_eq(dm_pipe_new(&p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, N_RECORDS, big, &e), DM_OK);
	fb.extensions = "<ext/>";
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	/* end() waited for the worker: everything has run. */
	ck_assert_int_eq(in.begins, 1);
	ck_assert_int_eq(in.ends, 1);
	ck_assert_uint_eq(in.records, N_RECORDS);
	ck_assert_msg(in.wrong == 0, "%" PRIu64 " wrong, first: %s", in.wrong,
	    in.first_wrong);
	ck_assert_uint_eq(in.big_ext_len, BIG_EXT);
	ck_assert_str_eq(in.org_at_end, "Org B");
	ck_assert_str_eq(in.ext_at_end, "<ext/>");
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_OK);
	ck_assert_int_eq(e.code, DM_OK);
	dm_pipe_free(p);
	dm_free(big);
}
END_TEST

/*
 * Sends n records of one report to k, whose inner sink fails at record
 * in->fail_at: the parser's side learns it (records after the failing one may
 * be accepted before the worker reports it; end() waits and says it), nothing
 * of the payload runs after it, and dm_pipe_finish() says it once more.
 */
static void
fail_one_payload(
    struct dm_pipe *p, struct dm_sink *k, struct inner *in, uint64_t n)
{
	struct dm_feedback fb = feedback();
	struct dm_error e;
	char msg[64];
	int rc;

	snprintf(msg, sizeof(msg), "disk full at record %d", in->fail_at);
	ck_assert_int_eq(k->begin(k->ctx, &fb, &e), DM_OK);
	rc = send_records(k, &fb, n, NULL, &e);
	if (rc == DM_OK)
		rc = k->end(k->ctx, &fb, &e);
	ck_assert_int_eq(rc, DM_EDB);
	ck_assert_str_eq(e.msg, msg);
	ck_assert_uint_eq(in->records, (uint64_t)in->fail_at - 1);
	ck_assert_int_eq(in->ends, 0);
	dm_error_clear(&e);
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_EDB);
	ck_assert_str_eq(e.msg, msg);
}

START_TEST(test_pipe_inner_error_reaches_the_parser)
{
	struct inner in = {.fail_at = 5};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct dm_pipe *p;
	struct dm_error e;
	struct dm_sink k;

	ck_assert_int_eq(dm_pipe_new(&p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	fail_one_payload(p, &k, &in, 50);

	/* finish() forgot it: the next payload runs whole. */
	in.fail_at = 0;
	in.records = 0;
	fb = feedback();
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, 20, NULL, &e), DM_OK);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_OK);
	ck_assert_uint_eq(in.records, 20);
	ck_assert_int_eq(in.ends, 1);
	ck_assert_msg(in.wrong == 0, "%s", in.first_wrong);
	dm_pipe_free(p);
}
END_TEST

/* The same from the worker, past the records stored at once. */
START_TEST(test_pipe_worker_error_reaches_the_parser)
{
	struct inner in = {.fail_at = 1000};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_pipe *p;
	struct dm_error e;
	struct dm_sink k;

	ck_assert_int_eq(dm_pipe_new(&p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	fail_one_payload(p, &k, &in, 5000);
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_OK);
	dm_pipe_free(p);
}
END_TEST

/* A parse that fails half-way never calls end(): finish() still waits. */
START_TEST(test_pipe_finish_waits_without_end)
{
	struct inner in = {0};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct dm_pipe *p;
	struct dm_error e;
	struct dm_sink k;

	ck_assert_int_eq(dm_pipe_new(&p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, 3000, NULL, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_OK);
	ck_assert_uint_eq(in.records, 3000);
	ck_assert_int_eq(in.ends, 0);
	dm_pipe_free(p);
}
END_TEST

/*
 * begin() said DM_DONE (a duplicate): the parser learns it from begin(), and
 * records sent anyway never reach the inner sink.  The gate forces the order
 * that used to deliver them: every record is sent before an inner begin()
 * running on the worker could return.
 */
START_TEST(test_pipe_duplicate_drops_records)
{
	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    pthread_self(), 0};
	struct inner in = {.status_of_begin = DM_DONE, .gate = &g};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct dm_pipe *p;
	struct dm_error e;
	struct dm_sink k;

	ck_assert_int_eq(dm_pipe_new(&p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_DONE);
	/* More than are stored at once: the worker's path too. */
	ck_assert_int_eq(send_records(&k, &fb, 3000, NULL, &e), DM_OK);
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(in.begins, 1);
	ck_assert_int_eq(in.ends, 1);
	ck_assert_uint_eq(in.records, 0);
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_OK);

	/* The next report is stored again. */
	in.status_of_begin = DM_OK;
	fb = feedback();
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, 3000, NULL, &e), DM_OK);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_finish(p, &e), DM_OK);
	ck_assert_uint_eq(in.records, 3000);
	ck_assert_msg(in.wrong == 0, "%s", in.first_wrong);
	dm_pipe_free(p);
}
END_TEST

/*
 * One report of n records through a new pipe, the Nth allocation failing,
 * for every N until a run needs no more: a failing run returns DM_ENOMEM with
 * "out of memory" from whichever thread's allocation failed and frees
 * everything (LeakSanitizer in the sanitizer build); the run that succeeds
 * delivers every record intact.
 */
START_TEST(test_pipe_out_of_memory)
{
	const uint64_t n_records = 2000; /* batches on the worker too */
	long n, left;

	for (n = 0;; n++) {
		struct inner in = {0};
		struct dm_sink inner = {
		    &in, inner_begin, inner_record, inner_end};
		struct dm_feedback fb = feedback();
		struct dm_pipe *p = NULL;
		struct dm_error e, fe;
		struct dm_sink k;
		int rc;

		dm_error_clear(&e);
		dm_error_clear(&fe);
		dm_mem_fail_after(n);
		rc = dm_pipe_new(&p, &inner, &e);
		if (rc == DM_OK) {
			k = dm_pipe_sink(p);
			rc = k.begin(k.ctx, &fb, &e);
			if (rc == DM_OK)
				rc = send_records(&k, &fb, n_records, NULL, &e);
			if (rc == DM_OK)
				rc = k.end(k.ctx, &fb, &e);
			/* finish() says a worker's failure once more. */
			if (dm_pipe_finish(p, &fe) != DM_OK && rc == DM_OK) {
				rc = fe.code;
				e = fe;
			}
		}
		left = dm_mem_fail_after(-1);
		dm_pipe_free(p);
		if (rc != DM_OK) {
			ck_assert_msg(
			    rc == DM_ENOMEM &&
			        strstr(e.msg, "out of memory") != NULL,
			    "allocation %ld failing: rc %d: %s", n, rc, e.msg);
			continue;
		}
		ck_assert_uint_eq(in.records, n_records);
		ck_assert_int_eq(in.ends, 1);
		ck_assert_msg(in.wrong == 0, "%s", in.first_wrong);
		if (left > 0)
			break;
	}
	ck_assert_int_gt(n, 2);
}
END_TEST

TCase *pipe_tcase(void);

TCase *
pipe_tcase(void)
{
	TCase *tc = tcase_create("tc_pipe");

	tcase_add_test(tc, test_pipe_delivers_everything_in_order);
	tcase_add_test(tc, test_pipe_inner_error_reaches_the_parser);
	tcase_add_test(tc, test_pipe_worker_error_reaches_the_parser);
	tcase_add_test(tc, test_pipe_finish_waits_without_end);
	tcase_add_test(tc, test_pipe_duplicate_drops_records);
	tcase_add_test(tc, test_pipe_out_of_memory);
	tcase_set_timeout(tc, 60);
	return tc;
}
