/*
 * mail.h - reports as mail: one RFC 5322 message, built with GMime, ready for
 * `sendmail -t`, and the pipe to sendmail itself.
 *
 * The module knows nothing of reports: the caller hands it the bodies (the
 * text, HTML and CSV a report writer wrote) and the headers' values.  It
 * writes no MIME by hand: GMime lays out the parts, picks each body's transfer
 * encoding, encodes non-ASCII subjects and display names (RFC 2047) and folds
 * the headers.  GLib and GMime types stay inside mail.c.
 *
 * The message: with only a text body, a text/plain message; with an HTML body
 * too, multipart/alternative (text, then HTML); with an attachment, both in a
 * multipart/mixed with the attachment after them.  Headers: From, To,
 * Subject, Date, Message-ID, MIME-Version and Auto-Submitted:
 * auto-generated (RFC 3834), so that vacation responders do not answer it.
 *
 * Typical use:
 *   1. dm_mail_check_addresses() on the command line's addresses, before any
 * work.
 *   2. Fill a struct dm_mail, dm_mail_build() into a buffer.
 *   3. Write the buffer out, or dm_mail_send() it to sendmail.
 */
#ifndef DM_MAIL_H
#define DM_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mem.h"

/* The sendmail --sendmail runs when given no path, as `sendmail -t -i`. */
#define DM_MAIL_SENDMAIL "/usr/sbin/sendmail"

/* A body: bytes, borrowed for the call.  NULL data: no such part. */
struct dm_mail_body {
	const char *data;
	size_t len;
};

/* What a message holds.  Strings are UTF-8, borrowed for the call. */
struct dm_mail {
	const char *from;    /* "addr" or "Name <addr>"; NULL: dmarcstat@ the
	                        host's name */
	const char *to;      /* addresses separated by commas */
	const char *subject; /* any text; encoded per RFC 2047 when not ASCII */
	int64_t date;        /* Unix time of the Date header */
	struct dm_mail_body text;   /* text/plain; charset=utf-8 (required) */
	struct dm_mail_body html;   /* text/html; charset=utf-8 */
	struct dm_mail_body attach; /* the attachment */
	const char *attach_name;    /* its file name */
	const char *attach_type;    /* its type, e.g. "text/csv" */
};

/*
 * DM_OK when list is one or more mailbox addresses separated by commas, each
 * "local@domain" or "Name <local@domain>" with a domain of dot-separated
 * labels; else DM_EINVAL with a message quoting the address that is not one.
 * what names the option in the message ("--mail-to").
 */
int dm_mail_check_addresses(
    const char *list, const char *what, struct dm_error *err) DM_WUR;

/*
 * Builds the message into out (appended; LF line ends, as sendmail and
 * mailbox files want them).  DM_EINVAL (an address that is not one, no text
 * body), DM_ENOMEM, DM_ELIMIT (out's cap).
 */
int dm_mail_build(
    const struct dm_mail *m, struct dm_buf *out, struct dm_error *err) DM_WUR;

/*
 * Runs path as `path -t -i` (recipients from the To header; a line of a
 * single dot is not the end) with the message on its standard input, and
 * waits for it.  DM_OK with *status its exit status (which may be non-zero:
 * the caller says so), or DM_EIO when it could not be run, or was killed by a
 * signal, with a message naming path and the cause.
 */
int dm_mail_send(const char *path, const char *msg, size_t len, int *status,
    struct dm_error *err) DM_WUR;

#endif /* DM_MAIL_H */
