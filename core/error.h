/*
 * error.h - the one error type of dmarcstat: a status code plus a one-line
 * message.
 *
 * Every fallible function returns an enum dm_status and takes a struct dm_error
 * * as its last parameter.  Code branches on the code; people read the message.
 * A stable, machine-readable reason (a short snake_case word such as
 * "xml_malformed") goes with errors about inputs, so the quarantine table and
 * scripts can group failures without parsing English.  Library code never
 * prints; only cli/ turns an error into stderr text and an exit status.
 *
 * Typical use:
 *   1. A callee fails:
 *        return dm_error_set(err, DM_EFORMAT,
 *            "<count> is not a number: \"%s\"", s);
 *   2. It names the reason:
 *        dm_error_reason(err, "count_invalid");
 *   3. A caller adds context:
 *        dm_error_prefix(err, "record %zu", n);
 *      giving "record 17: <count> is not a number: ..."
 */
#ifndef DM_ERROR_H
#define DM_ERROR_H

#include <stddef.h>

/* Codes are few and stable; new ones are only ever appended. */
enum dm_status {
	DM_OK = 0,
	/* iteration finished, or "nothing to do" (not an error) */
	DM_DONE = 1,
	/* allocation failed */
	DM_ENOMEM = -1,
	/* reading or writing a file failed */
	DM_EIO = -2,
	/* input is not what it claims or not well-formed */
	DM_EFORMAT = -3,
	/* a cap of core/limits.h was hit; the message names it */
	DM_ELIMIT = -4,
	/* the database failed */
	DM_EDB = -5,
	/* the caller passed something invalid (usage) */
	DM_EINVAL = -6,
	/* input is valid but not ours (forensic, TLS-RPT, junk) */
	DM_ESKIP = -7
};

#define DM_ERROR_MSG_MAX 512

struct dm_error {
	enum dm_status code;
	/* a static string, e.g. "xml_malformed"; NULL if none */
	const char *reason;
	/* one line, no trailing newline */
	char msg[DM_ERROR_MSG_MAX];
};

#if defined(__GNUC__)
#define DM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DM_WUR __attribute__((warn_unused_result))
#else
#define DM_PRINTF(f, a)
#define DM_WUR
#endif

/* Resets err to DM_OK with an empty message.  err may be NULL. */
void dm_error_clear(struct dm_error *err);

/*
 * Sets code and a printf-style message (newlines and control characters in it
 * are replaced by spaces, since messages often quote input) and returns code,
 * so that a failure is a one-line return.  The reason is left as it was.  err
 * may be NULL.
 */
enum dm_status dm_error_set(struct dm_error *err, enum dm_status code,
    const char *fmt, ...) DM_PRINTF(3, 4);

/* Like dm_error_set, and also sets the reason (a static string).  Returns code.
 */
enum dm_status dm_error_setr(struct dm_error *err, enum dm_status code,
    const char *reason, const char *fmt, ...) DM_PRINTF(4, 5);

/* Sets the reason (a static string) only if none is set yet; err may be
 * NULL. */
void dm_error_reason(struct dm_error *err, const char *reason);

/* Prepends "<context>: " to the message, truncating at the end if needed.  err
 * may be NULL. */
void dm_error_prefix(struct dm_error *err, const char *fmt, ...)
    DM_PRINTF(2, 3);

/* Static English text for a code ("out of memory", "limit exceeded", ...). */
const char *dm_strerror(enum dm_status code);

#endif /* DM_ERROR_H */
