/*
 * pipe.c - the two-thread record sink of pipe.h.
 *
 * One producer (the parser's thread) and one consumer (the worker) share a
 * byte ring: the producer writes a message at tail and publishes it by moving
 * tail; the worker runs it and frees its room by moving head.  Each side
 * sleeps on a condition variable only when the ring is full (producer) or
 * empty (worker); the "waiting" flags and the positions are sequentially
 * consistent atomics, so a side that publishes and then finds no sleeper
 * knows the other will see its move before it sleeps.
 *
 * A record is copied whole into the ring (struct, arrays and strings, its
 * pointers aimed at the copy); one too large for a quarter of the ring gets a
 * heap block instead, freed by the worker.  A report's dm_feedback always goes
 * to the heap: the worker keeps it for the report's records after the ring
 * room is reused.
 */
#include "pipe.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"

/*
 * 4 MiB: thousands of records of slack, so neither side waits for the other
 * on a burst; memory stays bounded whatever the report's size.
 */
#define RING_BYTES ((size_t)4 << 20)
#define BIG_BODY (RING_BYTES / 4)
/*
 * How long a side polls before it sleeps.  The parser hands over a record
 * every few microseconds and the store takes a few hundred to finish a small
 * report while the parser opens the next file; a sleep and its wake-up cost
 * two system calls each, more than a record takes to store (bench/README.md).
 */
#define SPIN_NS 300000

static inline void
relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

enum msg_type {
	MSG_WRAP = 1, /* nothing here: continue at the ring's start */
	MSG_BEGIN,    /* body: struct dm_feedback, heap */
	MSG_FEEDBACK, /* body: struct dm_feedback, heap; replaces the report's
	               */
	MSG_RECORD,   /* body: struct dm_record, ring or heap */
	MSG_END       /* body: struct dm_feedback, heap */
};

struct msg {
	uint32_t type;
	uint32_t heap; /* body is a heap block the worker frees */
	uint64_t len;  /* ring bytes taken, this header included */
	void *body;
	void *pad; /* keeps the header a multiple of its alignment */
};

#define ALIGN sizeof(struct msg)

struct dm_pipe {
	struct dm_sink inner;
	unsigned char *ring;
	atomic_size_t head, tail; /* byte positions, never wrapped */
	atomic_int worker_waits, producer_waits, stop;
	pthread_mutex_t mu;
	pthread_cond_t worker_cv, producer_cv;
	pthread_t thread;
	int started;
	int spins; /* more than one CPU: waits poll before sleeping */

	/* Written by the worker, read by the producer once failed is set. */
	atomic_int failed, skip;
	int status;
	struct dm_error err;

	/* Worker only. */
	struct dm_feedback *fb; /* the current report's, heap */

	/* Producer only: the report as last sent, to notice changes. */
	struct dm_feedback *sent;
};

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/*
 * Polls ready(p, n) for up to SPIN_NS; whether it came true.  With one CPU the
 * other side cannot run meanwhile, so it only checks once.
 */
static int
spin(struct dm_pipe *p, int (*ready)(struct dm_pipe *, size_t), size_t n)
{
	int64_t until = 0;
	unsigned i;

	if (!p->spins)
		return ready(p, n);
	for (i = 0;; i++, relax()) {
		if (ready(p, n))
			return 1;
		if (i % 64 != 0)
			continue;
		if (until == 0)
			until = now_ns() + SPIN_NS;
		else if (now_ns() > until)
			return 0;
	}
}

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

/* A heap copy of fb, or NULL when out of memory. */
static struct dm_feedback *
feedback_dup(const struct dm_feedback *fb, int extensions)
{
	struct copier c = {NULL, 0};

	copy_feedback(&c, fb, extensions);
	c.base = dm_malloc(c.off);
	if (c.base == NULL)
		return NULL;
	c.off = 0;
	return copy_feedback(&c, fb, extensions);
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

/* ---- The ring ---- */

static void
wake(struct dm_pipe *p, atomic_int *waits, pthread_cond_t *cv)
{
	if (atomic_load(waits)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static int
has_room(struct dm_pipe *p, size_t n)
{
	return RING_BYTES - (atomic_load(&p->tail) - atomic_load(&p->head)) >=
	       n;
}

/* The worker has run everything sent (n unused: a producer_wait condition). */
static int
drained(struct dm_pipe *p, size_t n)
{
	(void)n;
	return atomic_load(&p->head) == atomic_load(&p->tail);
}

/* Producer: waits until ready(p, n) holds. */
static void
producer_wait(
    struct dm_pipe *p, int (*ready)(struct dm_pipe *, size_t), size_t n)
{
	if (spin(p, ready, n))
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->producer_waits, 1);
	while (!ready(p, n))
		pthread_cond_wait(&p->producer_cv, &p->mu);
	atomic_store(&p->producer_waits, 0);
	pthread_mutex_unlock(&p->mu);
}

/* A header with room for body bytes after it, at the tail; NULL-free. */
static struct msg *
ring_reserve(struct dm_pipe *p, size_t body, size_t *len)
{
	size_t need = (sizeof(struct msg) + body + ALIGN - 1) / ALIGN * ALIGN;
	size_t tail = atomic_load(&p->tail), pos = tail % RING_BYTES;

	if (pos + need > RING_BYTES) {
		struct msg *w = (struct msg *)(p->ring + pos);

		producer_wait(p, has_room, RING_BYTES - pos);
		w->type = MSG_WRAP;
		w->heap = 0;
		w->len = RING_BYTES - pos;
		w->body = NULL;
		atomic_store(&p->tail, tail + w->len);
		wake(p, &p->worker_waits, &p->worker_cv);
		tail += w->len;
		pos = 0;
	}
	producer_wait(p, has_room, need);
	*len = need;
	return (struct msg *)(p->ring + pos);
}

static void
ring_publish(struct dm_pipe *p, size_t len)
{
	atomic_store(&p->tail, atomic_load(&p->tail) + len);
	wake(p, &p->worker_waits, &p->worker_cv);
}

/* Sends a message whose body is a heap block the worker will own. */
static void
send_heap(struct dm_pipe *p, enum msg_type type, void *body)
{
	size_t len;
	struct msg *m = ring_reserve(p, 0, &len);

	m->type = type;
	m->heap = 1;
	m->len = len;
	m->body = body;
	ring_publish(p, len);
}

/* ---- The worker ---- */

static void
fail(struct dm_pipe *p, int rc)
{
	p->status = rc;
	atomic_store(&p->failed, 1);
}

static void
run_msg(struct dm_pipe *p, struct msg *m)
{
	int failed = atomic_load(&p->failed), rc;

	switch ((enum msg_type)m->type) {
	case MSG_WRAP:
		return;
	case MSG_BEGIN:
	case MSG_FEEDBACK:
		dm_free(p->fb);
		p->fb = m->body;
		if (m->type == MSG_FEEDBACK || failed || p->inner.begin == NULL)
			return;
		rc = p->inner.begin(p->inner.ctx, p->fb, &p->err);
		if (rc == DM_DONE)
			atomic_store(&p->skip, 1);
		else if (rc < 0)
			fail(p, rc);
		return;
	case MSG_RECORD:
		if (!failed && p->inner.record != NULL &&
		    (rc = p->inner.record(
		         p->inner.ctx, p->fb, m->body, &p->err)) < 0)
			fail(p, rc);
		break;
	case MSG_END:
		if (!failed && p->inner.end != NULL &&
		    (rc = p->inner.end(p->inner.ctx, m->body, &p->err)) < 0)
			fail(p, rc);
		break;
	}
	if (m->heap)
		dm_free(m->body);
}

static int
has_message(struct dm_pipe *p, size_t head)
{
	return atomic_load(&p->tail) != head;
}

/* Waits for a message; 0 when told to stop and nothing is left. */
static int
worker_wait(struct dm_pipe *p, size_t head)
{
	if (spin(p, has_message, head))
		return 1;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->worker_waits, 1);
	while (atomic_load(&p->tail) == head && !atomic_load(&p->stop))
		pthread_cond_wait(&p->worker_cv, &p->mu);
	atomic_store(&p->worker_waits, 0);
	pthread_mutex_unlock(&p->mu);
	return atomic_load(&p->tail) != head;
}

static void *
worker(void *arg)
{
	struct dm_pipe *p = arg;
	size_t head = atomic_load(&p->head);

	while (worker_wait(p, head)) {
		struct msg *m = (struct msg *)(p->ring + head % RING_BYTES);

		run_msg(p, m);
		head += m->len;
		atomic_store(&p->head, head);
		wake(p, &p->producer_waits, &p->producer_cv);
	}
	return NULL;
}

/* ---- The sink the parser calls ---- */

/* The worker's error, for the parser; the worker writes no more after failed.
 */
static int
failure(struct dm_pipe *p, struct dm_error *err)
{
	if (err != NULL)
		*err = p->err;
	return p->status;
}

static int
nomem(struct dm_error *err)
{
	return dm_error_set(err, DM_ENOMEM, "storing report: out of memory");
}

/* Sends fb as the report's (MSG_BEGIN or MSG_FEEDBACK) and keeps a copy. */
static int
send_feedback(struct dm_pipe *p, enum msg_type type,
    const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_feedback *mine = feedback_dup(fb, 0), *theirs;

	if (mine == NULL || (theirs = feedback_dup(fb, 0)) == NULL) {
		dm_free(mine);
		return nomem(err);
	}
	dm_free(p->sent);
	p->sent = mine;
	send_heap(p, type, theirs);
	return DM_OK;
}

static int
pipe_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_pipe *p = ctx;

	if (atomic_load(&p->failed))
		return failure(p, err);
	return send_feedback(p, MSG_BEGIN, fb, err);
}

static int
pipe_record(void *ctx, const struct dm_feedback *fb,
    const struct dm_record *rec, struct dm_error *err)
{
	struct dm_pipe *p = ctx;
	struct copier c = {NULL, 0};
	struct msg *m;
	size_t len;
	int heap;

	if (atomic_load(&p->failed))
		return failure(p, err);
	if (atomic_load(&p->skip))
		return DM_OK;
	if ((p->sent == NULL || !feedback_same(p->sent, fb)) &&
	    send_feedback(p, MSG_FEEDBACK, fb, err) != DM_OK)
		return DM_ENOMEM;
	copy_record(&c, rec);
	heap = c.off > BIG_BODY;
	m = ring_reserve(p, heap ? 0 : c.off, &len);
	c.base = heap ? dm_malloc(c.off) : (unsigned char *)(m + 1);
	if (c.base == NULL)
		return nomem(err);
	c.off = 0;
	m->type = MSG_RECORD;
	m->heap = (uint32_t)heap;
	m->len = len;
	m->body = copy_record(&c, rec);
	ring_publish(p, len);
	return DM_OK;
}

static int
pipe_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	struct dm_pipe *p = ctx;
	struct dm_feedback *copy;

	if (atomic_load(&p->failed))
		return failure(p, err);
	if ((copy = feedback_dup(fb, 1)) == NULL)
		return nomem(err);
	send_heap(p, MSG_END, copy);
	producer_wait(p, drained, 0);
	return atomic_load(&p->failed) ? failure(p, err) : DM_OK;
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
	int rc = DM_OK;

	producer_wait(p, drained, 0);
	if (atomic_load(&p->failed))
		rc = failure(p, err);
	else
		dm_error_clear(err);
	atomic_store(&p->failed, 0);
	atomic_store(&p->skip, 0);
	p->status = DM_OK;
	dm_error_clear(&p->err);
	dm_free(p->sent);
	p->sent = NULL;
	return rc;
}

int
dm_pipe_new(
    struct dm_pipe **out, const struct dm_sink *inner, struct dm_error *err)
{
	struct dm_pipe *p = dm_calloc(1, sizeof(*p));
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (p == NULL || (p->ring = dm_malloc(RING_BYTES)) == NULL) {
		dm_free(p);
		return nomem(err);
	}
	p->inner = *inner;
	p->spins = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->worker_cv, NULL);
	pthread_cond_init(&p->producer_cv, NULL);
	/* Signals stay with the main thread (the CLI's handlers). */
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
	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->stop, 1);
		pthread_cond_signal(&p->worker_cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	pthread_cond_destroy(&p->producer_cv);
	pthread_cond_destroy(&p->worker_cv);
	pthread_mutex_destroy(&p->mu);
	dm_free(p->fb);
	dm_free(p->sent);
	dm_free(p->ring);
	dm_free(p);
}
