/*
 * pipe.c - the record sink of pipe.h: a report's first records stored at
 * once, the rest in batches on a worker thread.
 *
 * Why a threshold: a small report is stored in well under a millisecond,
 * less than handing it to another thread and waiting for it costs (two
 * wake-ups), and the store must be idle again at the report's end anyway (the
 * payload around it commits or undoes on the caller's thread).  Only a report
 * with more records than INLINE_RECORDS has enough left to store beside the
 * parser.
 *
 * The batches go through a plain queue under one mutex: the worker sleeps on
 * a condition variable while the queue is empty, and the parser's thread while
 * MAX_BATCHES are queued or when it waits for the worker to finish.  Each
 * hand-over moves BATCH_RECORDS records, so the lock is taken a few times per
 * thousand records and nobody polls.  A record is copied whole into its
 * batch's arena (struct, arrays and strings, its pointers aimed at the copy),
 * after a copy of the report's fields whenever they changed since the batch's
 * last copy; the arena is reused once the worker has run the batch.
 */
#include "pipe.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

/* Records of a report stored on the caller's thread before the worker takes
 * over. */
#define INLINE_RECORDS 256
/* A batch: this many records, or fewer when their copies fill the arena. */
#define BATCH_RECORDS 256
#define BATCH_BYTES ((size_t)256 << 10)
/* Batches queued or running: bounds memory (about 1 MiB) whatever the report's
 * size, and keeps the parser at most this far ahead of the store. */
#define MAX_BATCHES 4
/* Every piece of a copy starts at a multiple of this. */
#define ALIGN _Alignof(max_align_t)

/* ---- Copies ---- */

/* Lays out a copy: with base NULL it only measures. */
struct copier {
	unsigned char *base;
	size_t off;
};

static void *
reserve(struct copier *c, size_t n, size_t align)
{
	void *p;

	c->off = (c->off + align - 1) / align * align;
	p = c->base != NULL ? c->base + c->off : NULL;
	c->off += n;
	return p;
}

static const char *
copy_str(struct copier *c, const char *s)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	d = reserve(c, n, 1);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static struct dm_feedback *
copy_feedback(struct copier *c, const struct dm_feedback *fb, int extensions)
{
	struct dm_feedback *d = reserve(c, sizeof(*d), ALIGN);
	const char **errors =
	    reserve(c, fb->n_errors * sizeof(*errors), sizeof(void *));
	struct dm_feedback t = *fb;
	struct dm_policy *p = &t.policy;
	size_t i;

	for (i = 0; i < fb->n_errors; i++) {
		const char *e = copy_str(c, fb->errors[i]);

		if (errors != NULL)
			errors[i] = e;
	}
	t.errors = errors;
	t.version = copy_str(c, fb->version);
	t.org_name = copy_str(c, fb->org_name);
	t.email = copy_str(c, fb->email);
	t.extra_contact_info = copy_str(c, fb->extra_contact_info);
	t.report_id = copy_str(c, fb->report_id);
	t.generator = copy_str(c, fb->generator);
	p->domain = copy_str(c, fb->policy.domain);
	p->p = copy_str(c, fb->policy.p);
	p->sp = copy_str(c, fb->policy.sp);
	p->np = copy_str(c, fb->policy.np);
	p->adkim = copy_str(c, fb->policy.adkim);
	p->aspf = copy_str(c, fb->policy.aspf);
	p->fo = copy_str(c, fb->policy.fo);
	p->testing = copy_str(c, fb->policy.testing);
	p->discovery_method = copy_str(c, fb->policy.discovery_method);
	t.extensions = extensions ? copy_str(c, fb->extensions) : NULL;
	if (d != NULL)
		*d = t;
	return d;
}

static struct dm_record *
copy_record(struct copier *c, const struct dm_record *r)
{
	struct dm_record *d = reserve(c, sizeof(*d), ALIGN);
	struct dm_reason *rs =
	    reserve(c, r->n_reasons * sizeof(*rs), sizeof(void *));
	struct dm_dkim_result *dk =
	    reserve(c, r->n_dkim * sizeof(*dk), sizeof(void *));
	struct dm_spf_result *sp =
	    reserve(c, r->n_spf * sizeof(*sp), sizeof(void *));
	struct dm_record t = *r;
	size_t i;

	for (i = 0; i < r->n_reasons; i++) {
		struct dm_reason x = {copy_str(c, r->reasons[i].type),
		    copy_str(c, r->reasons[i].comment)};

		if (rs != NULL)
			rs[i] = x;
	}
	for (i = 0; i < r->n_dkim; i++) {
		const struct dm_dkim_result *s = &r->dkim_results[i];
		struct dm_dkim_result x = {copy_str(c, s->domain),
		    copy_str(c, s->selector), copy_str(c, s->result),
		    copy_str(c, s->human_result)};

		if (dk != NULL)
			dk[i] = x;
	}
	for (i = 0; i < r->n_spf; i++) {
		const struct dm_spf_result *s = &r->spf_results[i];
		struct dm_spf_result x = {copy_str(c, s->domain),
		    copy_str(c, s->scope), copy_str(c, s->result),
		    copy_str(c, s->human_result)};

		if (sp != NULL)
			sp[i] = x;
	}
	t.reasons = rs;
	t.dkim_results = dk;
	t.spf_results = sp;
	t.source_ip = copy_str(c, r->source_ip);
	t.disposition = copy_str(c, r->disposition);
	t.dkim = copy_str(c, r->dkim);
	t.spf = copy_str(c, r->spf);
	t.header_from = copy_str(c, r->header_from);
	t.envelope_from = copy_str(c, r->envelope_from);
	t.envelope_to = copy_str(c, r->envelope_to);
	t.extensions = copy_str(c, r->extensions);
	if (d != NULL)
		*d = t;
	return d;
}

static int
str_same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether the fields a record is stored with are unchanged since a. */
static int
feedback_same(const struct dm_feedback *a, const struct dm_feedback *b)
{
	const struct dm_policy *p = &a->policy, *q = &b->policy;

	return a->schema == b->schema && a->begin == b->begin &&
	       a->end == b->end && p->pct == q->pct &&
	       str_same(a->org_name, b->org_name) &&
	       str_same(a->report_id, b->report_id) &&
	       str_same(a->email, b->email) &&
	       str_same(a->extra_contact_info, b->extra_contact_info) &&
	       str_same(a->version, b->version) &&
	       str_same(a->generator, b->generator) &&
	       str_same(p->domain, q->domain) && str_same(p->p, q->p) &&
	       str_same(p->sp, q->sp) && str_same(p->np, q->np) &&
	       str_same(p->adkim, q->adkim) && str_same(p->aspf, q->aspf) &&
	       str_same(p->fo, q->fo) && str_same(p->testing, q->testing) &&
	       str_same(p->discovery_method, q->discovery_method);
}

/* ---- Batches ---- */

struct item {
	const struct dm_feedback *fb; /* in this batch's arena */
	const struct dm_record *rec;  /* in this batch's arena */
};

struct batch {
	struct batch *next;
	size_t n;
	struct item item[BATCH_RECORDS];
	const struct dm_feedback *fb; /* the last report copy in the arena */
	unsigned char *arena;
	size_t used, cap;
};

struct dm_pipe {
	struct dm_sink inner;
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* the worker: a batch queued, or stop */
	pthread_cond_t done_cv; /* the parser: a batch run */
	pthread_t thread;
	int started;

	/* Under mu. */
	struct batch *queue, **queue_tail; /* oldest first */
	struct batch *spare;               /* run batches, to reuse */
	unsigned pending;                  /* batches queued or running */
	int stop;
	int status; /* the payload's first inner error, or DM_OK */
	struct dm_error err;
	/* status < 0, for the parser's cheap check at each record */
	atomic_int failed;

	/* The parser's thread only. */
	struct batch *cur; /* being filled */
	uint64_t n_inline; /* records of this report stored at once */
	int async;         /* this report's records go to the worker */
	int skip;          /* begin() said DM_DONE: records are dropped */
};

static int
nomem(struct dm_error *err)
{
	return dm_error_set(err, DM_ENOMEM, "storing report: out of memory");
}

static void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	dm_free(b->arena);
	dm_free(b);
}

/* Empties b and puts it on the spare list; under mu. */
static void
batch_recycle(struct dm_pipe *p, struct batch *b)
{
	b->n = 0;
	b->used = 0;
	b->fb = NULL;
	/* A record too big for a normal arena does not keep its memory. */
	if (b->cap > BATCH_BYTES) {
		dm_free(b->arena);
		b->arena = NULL;
		b->cap = 0;
	}
	b->next = p->spare;
	p->spare = b;
}

/* An empty batch whose arena holds at least need bytes; NULL if out of
 * memory. */
static struct batch *
batch_get(struct dm_pipe *p, size_t need)
{
	struct batch *b;
	size_t cap = need > BATCH_BYTES ? need : BATCH_BYTES;

	pthread_mutex_lock(&p->mu);
	if ((b = p->spare) != NULL)
		p->spare = b->next;
	pthread_mutex_unlock(&p->mu);
	if (b == NULL && (b = dm_calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if (b->cap < cap) {
		dm_free(b->arena);
		b->cap = 0;
		if ((b->arena = dm_malloc(cap)) == NULL) {
			dm_free(b);
			return NULL;
		}
		b->cap = cap;
	}
	b->next = NULL;
	return b;
}

/* Bytes from b's used mark to the end of rec's copy, after fb's if given. */
static size_t
measure(const struct batch *b, const struct dm_feedback *fb,
    const struct dm_record *rec)
{
	struct copier c = {NULL, b != NULL ? b->used : 0};

	if (fb != NULL)
		copy_feedback(&c, fb, 0);
	copy_record(&c, rec);
	return c.off - (b != NULL ? b->used : 0);
}

/* ---- The worker ---- */

/* Runs b's records; the first error and its message go to *e. */
static int
run_batch(struct dm_pipe *p, const struct batch *b, struct dm_error *e)
{
	size_t i;
	int rc;

	if (p->inner.record == NULL)
		return DM_OK;
	for (i = 0; i < b->n; i++) {
		rc = p->inner.record(
		    p->inner.ctx, b->item[i].fb, b->item[i].rec, e);
		if (rc < 0)
			return rc;
	}
	return DM_OK;
}

/* Keeps the payload's first error; under mu. */
static void
note_failure(struct dm_pipe *p, int rc, const struct dm_error *e)
{
	if (p->status < 0)
		return;
	p->status = rc;
	p->err = *e;
	atomic_store(&p->failed, 1);
}

static void *
worker(void *arg)
{
	struct dm_pipe *p = arg;
	struct dm_error e;
	struct batch *b;
	int failed, rc = DM_OK;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->queue == NULL && !p->stop)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if ((b = p->queue) == NULL)
			break;
		if ((p->queue = b->next) == NULL)
			p->queue_tail = &p->queue;
		failed = p->status < 0;
		pthread_mutex_unlock(&p->mu);
		/* Once the payload failed, its other records are dropped. */
		if (!failed)
			rc = run_batch(p, b, &e);
		pthread_mutex_lock(&p->mu);
		if (!failed && rc < 0)
			note_failure(p, rc, &e);
		batch_recycle(p, b);
		p->pending--;
		pthread_cond_signal(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Starts the worker; DM_OK if it runs (or already ran). */
static int
start_worker(struct dm_pipe *p)
{
	sigset_t all, old;
	int rc;

	if (p->started)
		return DM_OK;
	/* Signals stay with the main thread (the CLI's handlers). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return DM_EINVAL;
	p->started = 1;
	return DM_OK;
}

/* ---- The parser's side ---- */

/* The payload's error, for the parser; the worker writes no more after it. */
static int
failure(struct dm_pipe *p, struct dm_error *err)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	rc = p->status;
	if (err != NULL)
		*err = p->err;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Queues the batch being filled, waiting while MAX_BATCHES are. */
static void
hand_over(struct dm_pipe *p)
{
	struct batch *b = p->cur;

	if (b == NULL)
		return;
	p->cur = NULL;
	pthread_mutex_lock(&p->mu);
	if (b->n == 0) {
		batch_recycle(p, b);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	while (p->pending >= MAX_BATCHES)
		pthread_cond_wait(&p->done_cv, &p->mu);
	*p->queue_tail = b;
	p->queue_tail = &b->next;
	p->pending++;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
}

/* Hands over what is left and waits until the worker has run it all. */
static void
drain(struct dm_pipe *p)
{
	if (!p->async)
		return;
	hand_over(p);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	p->async = 0;
}

/* Stores rec at once, keeping an error for dm_pipe_finish(). */
static int
record_now(struct dm_pipe *p, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	int rc;

	if (p->inner.record == NULL)
		return DM_OK;
	rc = p->inner.record(p->inner.ctx, fb, rec, err);
	if (rc < 0) {
		pthread_mutex_lock(&p->mu);
		note_failure(p, rc, err);
		pthread_mutex_unlock(&p->mu);
	}
	return rc;
}

/*
 * Makes room in the batch being filled for rec, after a copy of fb unless the
 * batch's last copy of the report still matches; whether fb must be copied.
 */
static int
make_room(struct dm_pipe *p, const struct dm_feedback *fb,
    const struct dm_record *rec, int *copy_fb, struct dm_error *err)
{
	struct batch *b = p->cur;

	*copy_fb = b == NULL || b->fb == NULL || !feedback_same(b->fb, fb);
	if (b != NULL && b->n < BATCH_RECORDS &&
	    b->used + measure(b, *copy_fb ? fb : NULL, rec) <= b->cap)
		return DM_OK;
	hand_over(p);
	*copy_fb = 1;
	p->cur = batch_get(p, measure(NULL, fb, rec));
	return p->cur != NULL ? DM_OK : nomem(err);
}

/* Copies rec (and fb when it changed) into the batch being filled. */
static int
record_later(struct dm_pipe *p, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	struct copier c;
	struct batch *b;
	int copy_fb;

	if (make_room(p, fb, rec, &copy_fb, err) != DM_OK)
		return DM_ENOMEM;
	b = p->cur;
	c.base = b->arena;
	c.off = b->used;
	if (copy_fb)
		b->fb = copy_feedback(&c, fb, 0);
	b->item[b->n].fb = b->fb;
	b->item[b->n].rec = copy_record(&c, rec);
	b->n++;
	b->used = c.off;
	if (b->n == BATCH_RECORDS)
		hand_over(p);
	return DM_OK;
}

static int
pipe_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_pipe *p = ctx;
	int rc;

	drain(p);
	if (atomic_load(&p->failed))
		return failure(p, err);
	p->n_inline = 0;
	p->skip = 0;
	if (p->inner.begin == NULL)
		return DM_OK;
	rc = p->inner.begin(p->inner.ctx, fb, err);
	if (rc == DM_DONE)
		p->skip = 1;
	else if (rc < 0) {
		pthread_mutex_lock(&p->mu);
		note_failure(p, rc, err);
		pthread_mutex_unlock(&p->mu);
	}
	return rc;
}

static int
pipe_record(void *ctx, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	struct dm_pipe *p = ctx;

	if (atomic_load(&p->failed))
		return failure(p, err);
	if (p->skip)
		return DM_OK;
	if (!p->async && p->n_inline < INLINE_RECORDS) {
		p->n_inline++;
		return record_now(p, fb, rec, err);
	}
	/* Without a thread, the report is stored at once whole. */
	if (!p->async && start_worker(p) != DM_OK)
		return record_now(p, fb, rec, err);
	p->async = 1;
	return record_later(p, fb, rec, err);
}

static int
pipe_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_pipe *p = ctx;
	int rc;

	drain(p);
	if (atomic_load(&p->failed))
		return failure(p, err);
	if (p->inner.end == NULL)
		return DM_OK;
	rc = p->inner.end(p->inner.ctx, fb, err);
	if (rc < 0) {
		pthread_mutex_lock(&p->mu);
		note_failure(p, rc, err);
		pthread_mutex_unlock(&p->mu);
	}
	return rc;
}

struct dm_sink
dm_pipe_sink(struct dm_pipe *p)
{
	struct dm_sink k = {p, pipe_begin, pipe_record, pipe_end};

	return k;
}

int
dm_pipe_finish(struct dm_pipe *p, struct dm_error *err)
{
	int rc;

	drain(p);
	pthread_mutex_lock(&p->mu);
	rc = p->status;
	if (rc < 0)
		*err = p->err;
	else
		dm_error_clear(err);
	p->status = DM_OK;
	dm_error_clear(&p->err);
	atomic_store(&p->failed, 0);
	pthread_mutex_unlock(&p->mu);
	p->skip = 0;
	p->n_inline = 0;
	return rc;
}

int
dm_pipe_new(
    struct dm_pipe **out, const struct dm_sink *inner, struct dm_error *err)
{
	struct dm_pipe *p = dm_calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return nomem(err);
	p->inner = *inner;
	p->queue_tail = &p->queue;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	*out = p;
	return DM_OK;
}

void
dm_pipe_free(struct dm_pipe *p)
{
	struct batch *b;

	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_signal(&p->work_cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	batch_free(p->cur);
	while ((b = p->queue) != NULL) {
		p->queue = b->next;
		batch_free(b);
	}
	while ((b = p->spare) != NULL) {
		p->spare = b->next;
		batch_free(b);
	}
	pthread_cond_destroy(&p->done_cv);
	pthread_cond_destroy(&p->work_cv);
	pthread_mutex_destroy(&p->mu);
	dm_free(p);
}
