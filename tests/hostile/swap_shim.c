/*
 * swap_shim.c - an LD_PRELOAD library for the hostile suite (findings.py,
 * fifo_swapped): the first time the process opens a path whose last component
 * is $DM_SWAP_NAME, the FIFO $DM_SWAP_FIFO is renamed over it just before the
 * real open.  What stat() saw as a file is a FIFO by the time it is opened:
 * the stat-then-open race of issue 17, made certain.  Built by the test with
 * the system compiler; not part of dmarcstat.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int swapped;

static void
maybe_swap(const char *path)
{
	const char *name = getenv("DM_SWAP_NAME"),
	           *fifo = getenv("DM_SWAP_FIFO");
	const char *base;

	if (swapped || name == NULL || fifo == NULL || path == NULL)
		return;
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	if (strcmp(base, name) != 0)
		return;
	swapped = 1;
	if (rename(fifo, path) != 0)
		perror("swap_shim: rename");
}

static mode_t
mode_of(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define REAL(ret, name, params)                                                \
	static ret(*real_##name) params;                                       \
	if (real_##name == NULL)                                               \
	real_##name = (ret(*) params)dlsym(RTLD_NEXT, #name)

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	REAL(int, open, (const char *, int, ...));
	va_start(ap, flags);
	mode = mode_of(flags, ap);
	va_end(ap);
	maybe_swap(path);
	return real_open(path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	REAL(int, open64, (const char *, int, ...));
	va_start(ap, flags);
	mode = mode_of(flags, ap);
	va_end(ap);
	maybe_swap(path);
	return real_open64(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	REAL(int, openat, (int, const char *, int, ...));
	va_start(ap, flags);
	mode = mode_of(flags, ap);
	va_end(ap);
	maybe_swap(path);
	return real_openat(dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	REAL(int, openat64, (int, const char *, int, ...));
	va_start(ap, flags);
	mode = mode_of(flags, ap);
	va_end(ap);
	maybe_swap(path);
	return real_openat64(dirfd, path, flags, mode);
}

/* What _FORTIFY_SOURCE builds call instead. */
int
__open_2(const char *path, int flags)
{
	REAL(int, __open_2, (const char *, int));
	maybe_swap(path);
	return real___open_2(path, flags);
}

int
__openat_2(int dirfd, const char *path, int flags)
{
	REAL(int, __openat_2, (int, const char *, int));
	maybe_swap(path);
	return real___openat_2(dirfd, path, flags);
}
