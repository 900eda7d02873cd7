/*
 * pipe.c - the store's thread of pipe.h.
 *
 * The caller's thread fills a batch: items (a post, a call, or a sink call)
 * and an arena holding their arguments, records and report copies.  A full
 * batch, and a batch ending in a call, is queued; the store's thread runs each
 * queued batch's items in order and hands the batch back for reuse.  A record
 * is copied whole into the arena (struct, arrays and strings, its pointers
 * aimed at the copy), after a copy of the report's fields whenever they changed
 * since the batch's last copy.  At most MAX_BATCHES wait: a caller that runs
 * ahead of the store sleeps until one is done.
 */
#include "pipe.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

/* A batch: this many items, or fewer when their copies fill the arena. */
#define BATCH_ITEMS 256
#define BATCH_BYTES ((size_t)256 << 10)
/* Batches queued or running: bounds memory (about 1 MiB, plus an item too big
 * for an arena, which gets one of its own, freed once run) whatever the
 * input's size, and keeps the caller at most this far ahead of the store. */
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

enum kind { K_POST, K_CALL, K_BEGIN, K_RECORD, K_END };

/* A call the caller waits for; on the caller's stack. */
struct call {
	dm_pipe_fn fn;
	void *arg;
	struct dm_error *err;
	int rc, done;
};

struct item {
	enum kind kind;
	dm_pipe_fn fn;                /* K_POST */
	dm_pipe_drop drop;            /* K_POST, or NULL */
	void *arg;                    /* K_POST, in the arena */
	struct call *call;            /* K_CALL */
	const struct dm_feedback *fb; /* sink calls, in the arena */
	const struct dm_record *rec;  /* K_RECORD, in the arena */
};

struct batch {
	struct batch *next;
	size_t n;
	struct item item[BATCH_ITEMS];
	const struct dm_feedback *fb; /* the last report copy in the arena */
	unsigned char *arena;
	size_t used, cap;
};

struct dm_pipe {
	void *ctx;
	struct dm_sink inner;
	pthread_mutex_t mu;
	pthread_cond_t
	    work_cv; /* the store's thread: a batch queued, or stop */
	pthread_cond_t done_cv; /* the caller: a batch or a call done */
	pthread_t thread;
	int started;

	/* Under mu. */
	struct batch *queue, **queue_tail; /* oldest first */
	struct batch *spare;               /* run batches, to reuse */
	unsigned pending;                  /* batches queued or running */
	int stop;
	int status; /* the error that stopped the pipe, or DM_OK */
	struct dm_error err;
	atomic_int failed; /* status < 0, for the caller's cheap check */

	/* The store's thread only: the report being stored. */
	int skip;    /* begin() said DM_DONE: its records are dropped */
	int sink_rc; /* the first inner error since dm_pipe_sink_status() */
	struct dm_error sink_err;

	/* The caller's thread only. */
	struct batch *cur; /* being filled */
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

/* ---- The store's thread ---- */

/* Stops the pipe with the first error; under mu. */
static void
stop_with(struct dm_pipe *p, int rc, const struct dm_error *e)
{
	if (p->status < 0)
		return;
	p->status = rc;
	p->err = *e;
	atomic_store(&p->failed, 1);
}

/* A sink call: a report's error fails the report, not the pipe. */
static void
run_sink(struct dm_pipe *p, const struct item *it)
{
	struct dm_error e;
	int rc = DM_OK;

	if (it->kind == K_BEGIN)
		p->skip = 0;
	if (p->sink_rc < 0 || (it->kind == K_RECORD && p->skip))
		return;
	if (it->kind == K_BEGIN && p->inner.begin != NULL) {
		rc = p->inner.begin(p->inner.ctx, it->fb, &e);
		if (rc == DM_DONE) {
			p->skip = 1;
			rc = DM_OK;
		}
	} else if (it->kind == K_RECORD && p->inner.record != NULL)
		rc = p->inner.record(p->inner.ctx, it->fb, it->rec, &e);
	else if (it->kind == K_END && p->inner.end != NULL)
		rc = p->inner.end(p->inner.ctx, it->fb, &e);
	if (rc < 0) {
		p->sink_rc = rc;
		p->sink_err = e;
	}
}

/* Runs one item; a failed post or call stops the pipe (under mu). */
static void
run_item(struct dm_pipe *p, const struct item *it)
{
	struct dm_error e;
	int rc, stopped = atomic_load(&p->failed);

	switch (it->kind) {
	case K_POST:
		if (stopped) {
			if (it->drop != NULL)
				it->drop(p->ctx, it->arg);
			return;
		}
		if ((rc = it->fn(p->ctx, it->arg, &e)) >= 0)
			return;
		pthread_mutex_lock(&p->mu);
		stop_with(p, rc, &e);
		pthread_mutex_unlock(&p->mu);
		return;
	case K_CALL:
		rc = stopped ? DM_OK : it->call->fn(p->ctx, it->call->arg, &e);
		pthread_mutex_lock(&p->mu);
		if (rc < 0)
			stop_with(p, rc, &e);
		it->call->rc = p->status < 0 ? p->status : rc;
		if (p->status < 0)
			*it->call->err = p->err;
		else if (rc != DM_OK)
			*it->call->err = e;
		it->call->done = 1;
		pthread_cond_broadcast(&p->done_cv);
		pthread_mutex_unlock(&p->mu);
		return;
	default:
		if (!stopped)
			run_sink(p, it);
	}
}

static void *
worker(void *arg)
{
	struct dm_pipe *p = arg;
	struct batch *b;
	size_t i;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->queue == NULL && !p->stop)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if ((b = p->queue) == NULL)
			break;
		if ((p->queue = b->next) == NULL)
			p->queue_tail = &p->queue;
		pthread_mutex_unlock(&p->mu);
		for (i = 0; i < b->n; i++)
			run_item(p, &b->item[i]);
		pthread_mutex_lock(&p->mu);
		batch_recycle(p, b);
		p->pending--;
		pthread_cond_broadcast(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int
dm_pipe_sink_status(struct dm_pipe *p, struct dm_error *err)
{
	int rc = p->sink_rc;

	if (rc < 0)
		*err = p->sink_err;
	else
		dm_error_clear(err);
	p->sink_rc = DM_OK;
	p->skip = 0;
	return rc;
}

/* ---- The caller's thread ---- */

/* The error that stopped the pipe. */
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

/*
 * Makes the batch being filled hold one more item and need more bytes
 * (measured from its used mark); a fresh batch when it cannot.
 */
static int
make_room(struct dm_pipe *p, size_t need)
{
	struct batch *b = p->cur;

	if (b != NULL && b->n < BATCH_ITEMS && b->used + need <= b->cap)
		return DM_OK;
	hand_over(p);
	p->cur = batch_get(p, need);
	return p->cur != NULL ? DM_OK : DM_ENOMEM;
}

static struct item *
add_item(struct dm_pipe *p, enum kind kind)
{
	struct item *it = &p->cur->item[p->cur->n++];

	memset(it, 0, sizeof(*it));
	it->kind = kind;
	return it;
}

void *
dm_pipe_room(struct dm_pipe *p, size_t n)
{
	struct copier c;
	void *v;

	/* Alignment padding: at most ALIGN - 1 bytes. */
	if (make_room(p, n + ALIGN) != DM_OK)
		return NULL;
	c.base = p->cur->arena;
	c.off = p->cur->used;
	v = reserve(&c, n, ALIGN);
	p->cur->used = c.off;
	return v;
}

int
dm_pipe_post(struct dm_pipe *p, dm_pipe_fn fn, dm_pipe_drop drop, void *arg,
    struct dm_error *err)
{
	struct item *it;

	if (atomic_load(&p->failed) || make_room(p, 0) != DM_OK) {
		if (drop != NULL)
			drop(p->ctx, arg);
		return atomic_load(&p->failed) ? failure(p, err) : nomem(err);
	}
	it = add_item(p, K_POST);
	it->fn = fn;
	it->drop = drop;
	it->arg = arg;
	if (p->cur->n == BATCH_ITEMS)
		hand_over(p);
	return DM_OK;
}

int
dm_pipe_call(struct dm_pipe *p, dm_pipe_fn fn, void *arg, struct dm_error *err)
{
	struct call c = {fn, arg, err, DM_OK, 0};

	if (atomic_load(&p->failed))
		return failure(p, err);
	if (make_room(p, 0) != DM_OK)
		return nomem(err);
	add_item(p, K_CALL)->call = &c;
	hand_over(p);
	pthread_mutex_lock(&p->mu);
	while (!c.done)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return c.rc;
}

int
dm_pipe_drain(struct dm_pipe *p, struct dm_error *err)
{
	hand_over(p);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (atomic_load(&p->failed))
		return failure(p, err);
	dm_error_clear(err);
	return DM_OK;
}

/* Bytes from b's used mark to the end of rec's copy, after fb's if given. */
static size_t
measure(const struct batch *b, const struct dm_feedback *fb,
    const struct dm_record *rec, int extensions)
{
	size_t used = b != NULL ? b->used : 0;
	struct copier c = {NULL, used};

	if (fb != NULL)
		copy_feedback(&c, fb, extensions);
	if (rec != NULL)
		copy_record(&c, rec);
	return c.off - used;
}

/*
 * Copies fb (when the batch's last copy differs, or always with extensions)
 * and rec (if any) into the batch being filled, as one more item of kind.
 */
static int
send_sink(struct dm_pipe *p, enum kind kind, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	int ext = kind == K_END, copy_fb;
	struct batch *b = p->cur;
	struct item *it;
	struct copier c;

	if (atomic_load(&p->failed))
		return failure(p, err);
	copy_fb =
	    ext || b == NULL || b->fb == NULL || !feedback_same(b->fb, fb);
	if (b == NULL || b->n == BATCH_ITEMS ||
	    b->used + measure(b, copy_fb ? fb : NULL, rec, ext) > b->cap) {
		hand_over(p);
		copy_fb = 1;
		if ((p->cur = batch_get(p, measure(NULL, fb, rec, ext))) ==
		    NULL)
			return nomem(err);
	}
	b = p->cur;
	c.base = b->arena;
	c.off = b->used;
	if (copy_fb)
		b->fb = copy_feedback(&c, fb, ext);
	it = add_item(p, kind);
	it->fb = b->fb;
	if (rec != NULL)
		it->rec = copy_record(&c, rec);
	b->used = c.off;
	if (ext)
		b->fb = NULL; /* records do not share the end's copy */
	if (b->n == BATCH_ITEMS)
		hand_over(p);
	return DM_OK;
}

static int
pipe_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	return send_sink(ctx, K_BEGIN, fb, NULL, err);
}

static int
pipe_record(void *ctx, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	return send_sink(ctx, K_RECORD, fb, rec, err);
}

static int
pipe_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	return send_sink(ctx, K_END, fb, NULL, err);
}

struct dm_sink
dm_pipe_sink(struct dm_pipe *p)
{
	struct dm_sink k = {p, pipe_begin, pipe_record, pipe_end};

	return k;
}

int
dm_pipe_new(struct dm_pipe **out, void *ctx, const struct dm_sink *inner,
    struct dm_error *err)
{
	struct dm_pipe *p = dm_calloc(1, sizeof(*p));
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (p == NULL)
		return nomem(err);
	p->ctx = ctx;
	p->inner = *inner;
	p->queue_tail = &p->queue;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	/* Signals stay with the caller's thread (the CLI's handlers). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		dm_pipe_free(p);
		return dm_error_set(err, DM_ENOMEM,
		    "cannot start the store thread: %s", strerror(rc));
	}
	p->started = 1;
	*out = p;
	return DM_OK;
}

void
dm_pipe_free(struct dm_pipe *p)
{
	struct batch *b;
	size_t i;

	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		/* What was not drained is dropped, not run. */
		atomic_store(&p->failed, 1);
		p->stop = 1;
		pthread_cond_signal(&p->work_cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	/* Posts never handed over give back what they own. */
	for (i = 0; p->cur != NULL && i < p->cur->n; i++)
		if (p->cur->item[i].kind == K_POST &&
		    p->cur->item[i].drop != NULL)
			p->cur->item[i].drop(p->ctx, p->cur->item[i].arg);
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
