/*
 * error.c - formatting of struct dm_error.  Messages are kept to one line
 * because they are printed one per input and stored in the quarantine table;
 * input quoted into them may hold newlines or escape sequences, which are
 * flattened here once for every caller.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
flatten(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	}
}

void
dm_error_clear(struct dm_error *err)
{
	if (err == NULL)
		return;
	err->code = DM_OK;
	err->reason = NULL;
	err->msg[0] = '\0';
}

static enum dm_status vset(struct dm_error *err, enum dm_status code,
    const char *fmt, va_list ap) DM_PRINTF(3, 0);

static enum dm_status
vset(struct dm_error *err, enum dm_status code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return code;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	flatten(err->msg);
	return code;
}

enum dm_status
dm_error_set(struct dm_error *err, enum dm_status code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

enum dm_status
dm_error_setr(struct dm_error *err, enum dm_status code, const char *reason,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	if (err != NULL)
		err->reason = reason;
	return code;
}

void
dm_error_reason(struct dm_error *err, const char *reason)
{
	if (err != NULL && err->reason == NULL)
		err->reason = reason;
}

void
dm_error_prefix(struct dm_error *err, const char *fmt, ...)
{
	char head[DM_ERROR_MSG_MAX], old[DM_ERROR_MSG_MAX];
	size_t n, m, room;
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	flatten(head);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is intended: the tail of a long message matters least. */
	n = strlen(head);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, head, n);
	memcpy(err->msg + n, ": ", 2);
	n += 2;
	room = sizeof(err->msg) - n - 1;
	m = strlen(old);
	if (m > room)
		m = room;
	memcpy(err->msg + n, old, m);
	err->msg[n + m] = '\0';
}

const char *
dm_strerror(enum dm_status code)
{
	switch (code) {
	case DM_OK:
		return "success";
	case DM_DONE:
		return "done";
	case DM_ENOMEM:
		return "out of memory";
	case DM_EIO:
		return "input/output error";
	case DM_EFORMAT:
		return "bad input format";
	case DM_ELIMIT:
		return "limit exceeded";
	case DM_EDB:
		return "database error";
	case DM_EINVAL:
		return "invalid argument";
	case DM_ESKIP:
		return "not an aggregate report";
	}
	return "unknown error";
}
