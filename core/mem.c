/*
 * mem.c - the allocation hook and dm_buf.  The failure counter is the one piece
 * of global state in the project's libraries; it exists only so that tests can
 * exercise out-of-memory paths.
 *
 * The counter is atomic, not per thread: ingest stores on a second thread
 * (ingest/pipe.c), and a test that makes "the Nth allocation" fail means the
 * Nth of the whole run, whichever thread makes it, so that the store thread's
 * failure paths are reached too.  A per-thread counter would never fail an
 * allocation of a thread the test did not set it in.  When the counter is off
 * (every production run) the cost is one relaxed load.
 */
#include "mem.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static _Atomic long fail_after = -1;

long
dm_mem_fail_after(long n)
{
	return atomic_exchange(&fail_after, n);
}

/* Counts an allocation down; 1 once the counter reached 0. */
static int
should_fail(void)
{
	long n = atomic_load_explicit(&fail_after, memory_order_relaxed);

	while (n > 0 && !atomic_compare_exchange_weak_explicit(&fail_after, &n,
	                    n - 1, memory_order_relaxed, memory_order_relaxed))
		;
	return n == 0;
}

void *
dm_malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n == 0 ? 1 : n);
}

void *
dm_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL
	                     : calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
}

void *
dm_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n == 0 ? 1 : n);
}

void
dm_free(void *p)
{
	free(p);
}

char *
dm_strndup(const char *s, size_t n)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = dm_malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
dm_strdup(const char *s)
{
	return s == NULL ? NULL : dm_strndup(s, strlen(s));
}

void
dm_buf_init(struct dm_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int
grow(struct dm_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (need <= b->cap)
		return DM_OK;
	cap = b->cap == 0 ? 64 : b->cap;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = dm_realloc(b->data, cap);
	if (p == NULL)
		return DM_ENOMEM;
	b->data = p;
	b->cap = cap;
	return DM_OK;
}

int
dm_buf_add(struct dm_buf *b, const void *p, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return DM_ELIMIT;
	if (grow(b, b->len + n + 1) != DM_OK)
		return DM_ENOMEM;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return DM_OK;
}

int
dm_buf_reserve(struct dm_buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return DM_ELIMIT;
	return grow(b, b->len + n + 1);
}

int
dm_buf_adds(struct dm_buf *b, const char *s)
{
	return dm_buf_add(b, s, strlen(s));
}

int
dm_buf_addv(struct dm_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list again;
	int n, rc;
	char *big;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0 || (size_t)n < sizeof(small)) {
		va_end(again);
		return n < 0 ? DM_EINVAL : dm_buf_add(b, small, (size_t)n);
	}
	big = dm_malloc((size_t)n + 1);
	if (big == NULL) {
		va_end(again);
		return DM_ENOMEM;
	}
	vsnprintf(big, (size_t)n + 1, fmt, again);
	va_end(again);
	rc = dm_buf_add(b, big, (size_t)n);
	dm_free(big);
	return rc;
}

int
dm_buf_addf(struct dm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = dm_buf_addv(b, fmt, ap);
	va_end(ap);
	return rc;
}

void
dm_buf_reset(struct dm_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *
dm_buf_take(struct dm_buf *b)
{
	char *d = b->data;

	if (d == NULL)
		d = dm_strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

void
dm_buf_free(struct dm_buf *b)
{
	dm_free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
