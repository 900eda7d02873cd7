/*
 * check_ingest_pipe.c - the store's thread of ingest/pipe.h, driven directly:
 * every sink call reaches the inner sink in order with its values intact
 * (batches reused, a record too big for a batch, a report whose metadata
 * changes between records), posts and calls run in order with them, an inner
 * error fails its report and is told by dm_pipe_sink_status(), a failed post
 * stops the pipe (what it drops gives back what it owns), a duplicate's
 * records never reach the inner sink, and every allocation failing in turn
 * fails cleanly.
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
 * Holds the inner begin(), which runs on the store's thread, until the test
 * has sent the report's records: the order in which a pipe once delivered a
 * duplicate's records.
 */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
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
	if (in->gate != NULL) {
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

/* What a post saw: its order among the sink's calls, and the sink's status. */
struct probe {
	struct inner *in;
	uint64_t records_seen;
	int ends_seen, status;
	char msg[DM_ERROR_MSG_MAX];
};

/* ctx: where the test keeps its pipe. */
static int
probe_fn(void *ctx, void *arg, struct dm_error *err)
{
	struct dm_pipe *p = *(struct dm_pipe **)ctx;
	struct probe *pr = arg;
	struct dm_error e;

	(void)err;
	pr->records_seen = pr->in->records;
	pr->ends_seen = pr->in->ends;
	pr->status = dm_pipe_sink_status(p, &e);
	snprintf(pr->msg, sizeof(pr->msg), "%s", e.msg);
	return DM_OK;
}

START_TEST(test_pipe_delivers_everything_in_order)
{
	struct inner in = {0};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct probe *pr;
	struct dm_pipe *p = NULL;
	struct dm_error e;
	struct dm_sink k;
	char *big = big_extensions();

	ck_assert_int_eq(dm_pipe_new(&p, &p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, N_RECORDS, big, &e), DM_OK);
	fb.extensions = "<ext/>";
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	/* A post comes after everything sent before it. */
	pr = dm_pipe_room(p, sizeof(*pr));
	ck_assert_ptr_nonnull(pr);
	memset(pr, 0, sizeof(*pr));
	pr->in = &in;
	ck_assert_int_eq(dm_pipe_post(p, probe_fn, NULL, pr, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_drain(p, &e), DM_OK);
	ck_assert_int_eq(e.code, DM_OK);
	ck_assert_int_eq(in.begins, 1);
	ck_assert_int_eq(in.ends, 1);
	ck_assert_uint_eq(in.records, N_RECORDS);
	ck_assert_msg(in.wrong == 0, "%" PRIu64 " wrong, first: %s", in.wrong,
	    in.first_wrong);
	ck_assert_uint_eq(in.big_ext_len, BIG_EXT);
	ck_assert_str_eq(in.org_at_end, "Org B");
	ck_assert_str_eq(in.ext_at_end, "<ext/>");
	dm_pipe_free(p);
	dm_free(big);
}
END_TEST

/* A call waits for everything before it and returns what its function did. */
static int
count_fn(void *ctx, void *arg, struct dm_error *err)
{
	struct inner *in = arg;

	(void)ctx;
	if (in->records != 3000)
		return dm_error_set(err, DM_EINVAL, "call ran before records");
	return DM_DONE;
}

/* An inner error fails its report: the rest of it is dropped, the status
 * tells it once, and the next report is stored. */
START_TEST(test_pipe_inner_error_fails_the_report)
{
	struct inner in = {.fail_at = 5};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct probe pr = {&in, 0, 0, 0, ""};
	struct dm_pipe *p = NULL;
	struct dm_error e;
	struct dm_sink k;

	ck_assert_int_eq(dm_pipe_new(&p, &p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	/* The parser's side cannot know yet: every call is accepted. */
	ck_assert_int_eq(send_records(&k, &fb, 50, NULL, &e), DM_OK);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_call(p, probe_fn, &pr, &e), DM_OK);
	ck_assert_int_eq(pr.status, DM_EDB);
	ck_assert_str_eq(pr.msg, "disk full at record 5");
	/* Nothing of the report ran after the failure. */
	ck_assert_uint_eq(pr.records_seen, 4);
	ck_assert_int_eq(pr.ends_seen, 0);

	/* Forgotten once told: the next report runs whole. */
	in.fail_at = 0;
	in.records = 0;
	fb = feedback();
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, 3000, NULL, &e), DM_OK);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_call(p, count_fn, &in, &e), DM_DONE);
	ck_assert_int_eq(dm_pipe_call(p, probe_fn, &pr, &e), DM_OK);
	ck_assert_int_eq(pr.status, DM_OK);
	ck_assert_uint_eq(in.records, 3000);
	ck_assert_int_eq(in.ends, 1);
	ck_assert_msg(in.wrong == 0, "%s", in.first_wrong);
	dm_pipe_free(p);
}
END_TEST

/* Counts in *arg the posts dropped. */
static void
drop_fn(void *ctx, void *arg)
{
	(void)ctx;
	++*(int *)arg;
}

static int
fail_fn(void *ctx, void *arg, struct dm_error *err)
{
	(void)ctx;
	(void)arg;
	return dm_error_set(err, DM_EDB, "database is locked");
}

/* A failed post stops the pipe: what follows is dropped and told the error. */
START_TEST(test_pipe_failed_post_stops_everything)
{
	struct inner in = {0};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct probe pr = {&in, 0, 0, 0, ""};
	struct dm_pipe *p = NULL;
	struct dm_error e;
	struct dm_sink k;
	int rc, drops = 0;

	ck_assert_int_eq(dm_pipe_new(&p, &p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(dm_pipe_post(p, fail_fn, NULL, NULL, &e), DM_OK);
	/* Dropped whether or not it was queued before the failure. */
	ck_assert_int_eq(
	    dm_pipe_post(p, probe_fn, drop_fn, &drops, &e) == DM_OK, 1);
	/* Sent before the store's thread got to the failure, or refused. */
	rc = k.begin(k.ctx, &fb, &e);
	if (rc == DM_OK)
		rc = send_records(&k, &fb, 100, NULL, &e);
	ck_assert_int_eq(dm_pipe_call(p, probe_fn, &pr, &e), DM_EDB);
	ck_assert_str_eq(e.msg, "database is locked");
	ck_assert_int_eq(in.begins, 0);
	ck_assert_uint_eq(in.records, 0);
	ck_assert_int_eq(
	    dm_pipe_post(p, probe_fn, drop_fn, &drops, &e), DM_EDB);
	ck_assert_int_eq(drops, 2);
	ck_assert_int_eq(
	    k.record(k.ctx, &fb, &(struct dm_record){0}, &e), DM_EDB);
	dm_error_clear(&e);
	ck_assert_int_eq(dm_pipe_drain(p, &e), DM_EDB);
	ck_assert_str_eq(e.msg, "database is locked");
	dm_pipe_free(p);
	(void)rc;
}
END_TEST

/*
 * begin() said DM_DONE (a duplicate): its records never reach the inner sink,
 * its end() does.  The gate holds begin() until every record is sent (the
 * order that once delivered a duplicate's records).
 */
START_TEST(test_pipe_duplicate_drops_records)
{
	struct gate g = {
	    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	struct inner in = {.status_of_begin = DM_DONE, .gate = &g};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_feedback fb = feedback();
	struct dm_pipe *p = NULL;
	struct dm_error e;
	struct dm_sink k;

	ck_assert_int_eq(dm_pipe_new(&p, &p, &inner, &e), DM_OK);
	k = dm_pipe_sink(p);
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	/* Two batches: they wait while begin() is held. */
	ck_assert_int_eq(send_records(&k, &fb, 500, NULL, &e), DM_OK);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	ck_assert_int_eq(dm_pipe_drain(p, &e), DM_OK);
	ck_assert_int_eq(in.begins, 1);
	ck_assert_int_eq(in.ends, 1);
	ck_assert_uint_eq(in.records, 0);

	/* The next report is stored again. */
	in.status_of_begin = DM_OK;
	fb = feedback();
	ck_assert_int_eq(k.begin(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(send_records(&k, &fb, 3000, NULL, &e), DM_OK);
	ck_assert_int_eq(k.end(k.ctx, &fb, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_drain(p, &e), DM_OK);
	ck_assert_uint_eq(in.records, 3000);
	ck_assert_msg(in.wrong == 0, "%s", in.first_wrong);
	dm_pipe_free(p);
}
END_TEST

/* Posts never handed over are dropped when the pipe is freed. */
START_TEST(test_pipe_free_drops_what_was_not_sent)
{
	struct inner in = {0};
	struct dm_sink inner = {&in, inner_begin, inner_record, inner_end};
	struct dm_pipe *p = NULL;
	struct dm_error e;
	int drops = 0;

	ck_assert_int_eq(dm_pipe_new(&p, &p, &inner, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_post(p, fail_fn, drop_fn, &drops, &e), DM_OK);
	ck_assert_int_eq(dm_pipe_post(p, fail_fn, drop_fn, &drops, &e), DM_OK);
	dm_pipe_free(p);
	ck_assert_int_eq(drops, 2);
}
END_TEST

/*
 * One report of n records through a new pipe, the Nth allocation failing,
 * for every N until a run needs no more: a failing run returns DM_ENOMEM with
 * "out of memory" and frees everything (LeakSanitizer in the sanitizer
 * build); the run that succeeds delivers every record intact.
 */
START_TEST(test_pipe_out_of_memory)
{
	const uint64_t n_records = 2000; /* several batches */
	long n, left;

	for (n = 0;; n++) {
		struct inner in = {0};
		struct dm_sink inner = {
		    &in, inner_begin, inner_record, inner_end};
		struct dm_feedback fb = feedback();
		struct dm_pipe *p = NULL;
		struct dm_error e;
		struct dm_sink k;
		int rc;

		dm_error_clear(&e);
		dm_mem_fail_after(n);
		rc = dm_pipe_new(&p, &p, &inner, &e);
		if (rc == DM_OK) {
			k = dm_pipe_sink(p);
			rc = k.begin(k.ctx, &fb, &e);
			if (rc == DM_OK)
				rc = send_records(&k, &fb, n_records, NULL, &e);
			if (rc == DM_OK)
				rc = k.end(k.ctx, &fb, &e);
			if (rc == DM_OK)
				rc = dm_pipe_drain(p, &e);
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
	tcase_add_test(tc, test_pipe_inner_error_fails_the_report);
	tcase_add_test(tc, test_pipe_failed_post_stops_everything);
	tcase_add_test(tc, test_pipe_duplicate_drops_records);
	tcase_add_test(tc, test_pipe_free_drops_what_was_not_sent);
	tcase_add_test(tc, test_pipe_out_of_memory);
	tcase_set_timeout(tc, 60);
	return tc;
}
