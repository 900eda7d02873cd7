/*
 * mem.h - the one allocation hook of dmarcstat, and small string helpers built
 * on it.
 *
 * All project code allocates through these so that tests can make the Nth
 * allocation fail and check that every error path frees what it took and
 * reports DM_ENOMEM (SQLite's fault tests). Third-party libraries keep their
 * own allocators.
 */
#ifndef DM_MEM_H
#define DM_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *dm_malloc(size_t n);
void *dm_calloc(size_t n, size_t size);
void *dm_realloc(void *p, size_t n);
void dm_free(void *p);
/* Copies s (NULL gives NULL); NULL on allocation failure. */
char *dm_strdup(const char *s);
char *dm_strndup(const char *s, size_t n);

/*
 * Test hook: after n more successful allocations, every allocation fails until
 * reset with n = -1 (the default).  The count is of the whole process, every
 * thread's allocations together (atomic).  Returns what was left of the
 * previous count: 0 once it made an allocation fail, more when the code under
 * test needed fewer allocations than allowed.  Not for production use.
 */
long dm_mem_fail_after(long n);

/* A growable byte buffer (curl's dynbuf): always NUL-terminated, capped at max
 * bytes. */
struct dm_buf {
	char *data;
	size_t len, cap, max;
};

void dm_buf_init(struct dm_buf *b, size_t max);
/* Appends n bytes; DM_ENOMEM or DM_ELIMIT (max reached, nothing appended). */
int dm_buf_add(struct dm_buf *b, const void *p, size_t n);
int dm_buf_adds(struct dm_buf *b, const char *s);
int dm_buf_addf(struct dm_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* dm_buf_addf with a va_list (ap is used up). */
int dm_buf_addv(struct dm_buf *b, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
/* Makes room for n more bytes (and the NUL) without appending them, for a
 * caller that writes at data + len and then moves len on; DM_OK, DM_ENOMEM or
 * DM_ELIMIT. */
int dm_buf_reserve(struct dm_buf *b, size_t n);
void dm_buf_reset(struct dm_buf *b);
/* Moves the data out (caller frees with dm_free); the buffer is left empty. */
char *dm_buf_take(struct dm_buf *b);
void dm_buf_free(struct dm_buf *b);

#endif /* DM_MEM_H */
