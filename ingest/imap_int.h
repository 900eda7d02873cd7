/*
 * imap_int.h - the IMAP session that imap.c reads folders through; nothing
 * outside ingest/ includes it.
 *
 * A session is one libcurl handle for one input URL: its connection is reused
 * from request to request, and libcurl speaks the protocol and TLS.  The
 * session parses the URL, loads the credentials, and turns libcurl's failures
 * into one-line messages that name the server and folder and never hold the
 * password or token.
 */
#ifndef DM_IMAP_INT_H
#define DM_IMAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

struct dm_imap_session;

/* The longest URL or command built for a request (a move names up to 100
 * UIDs). */
#define DM_IMAP_TEXT_MAX ((size_t)1 << 20)

/* Each untagged response line of a command, without its line end (NUL
 * terminated); returns DM_OK or an error that stops the command. */
typedef int (*dm_imap_line_fn)(
    void *ctx, const char *line, size_t n, struct dm_error *err);
/* Bytes of a fetched message as they arrive; returns DM_OK or an error. */
typedef int (*dm_imap_data_fn)(
    void *ctx, const void *p, size_t n, struct dm_error *err);

/*
 * Opens a session for url (imap:// or imaps://, user and folder in it; INBOX
 * when it names none), with the credentials and TLS settings of o (NULL:
 * defaults).  Nothing is sent before the first request.  Errors, each naming
 * the URL without any password: DM_EINVAL (a malformed URL, a password in the
 * URL, no user, --insecure-plaintext to a host not on loopback), DM_EIO (a
 * password or token file that cannot be read, or that others may read),
 * DM_ENOMEM.
 */
int dm_imap_open(struct dm_imap_session **out, const char *url,
    const struct dm_imap_options *o, struct dm_error *err) DM_WUR;

/* "imaps://user@host:993/INBOX": the folder for messages and as the key of its
 * state; never a password.  Valid until dm_imap_close. */
const char *dm_imap_name(const struct dm_imap_session *s);
/* The folder's name as the server knows it, e.g. "INBOX". */
const char *dm_imap_folder(const struct dm_imap_session *s);

/*
 * Sends command cmd (e.g. "UID SEARCH UID 5:9") and hands each untagged
 * response line to line (may be NULL).  With in_folder, the folder is selected
 * first, checked to still have UIDVALIDITY uidvalidity when that is not 0.
 * what says what the command does, for messages ("listing messages").
 * DM_EIO with reason "server" when the server cannot be reached, refuses TLS,
 * the login or the folder; DM_EIO when the command fails (the server's answer
 * in the message); errors of line as they are.
 */
int dm_imap_command(struct dm_imap_session *s, int in_folder,
    uint64_t uidvalidity, const char *cmd, const char *what,
    dm_imap_line_fn line, void *ctx, struct dm_error *err) DM_WUR;

/*
 * Fetches message uid whole (which flags it \Seen) and hands its bytes to data
 * as they arrive.  DM_DONE when the folder holds no such message, or no longer
 * has UIDVALIDITY uidvalidity (libcurl does not tell these apart; err says
 * which it saw); DM_EIO as dm_imap_command; errors of data as they are.
 */
int dm_imap_fetch(struct dm_imap_session *s, uint64_t uidvalidity, uint64_t uid,
    dm_imap_data_fn data, void *ctx, struct dm_error *err) DM_WUR;

/*
 * Writes name as an IMAP quoted string ("..." with \ and " escaped) into buf;
 * DM_EINVAL when it does not fit or holds a line break, which no folder name
 * may.
 */
int dm_imap_quote(char *buf, size_t n, const char *name, struct dm_error *err);

/* Logs out, and wipes the password or token from memory; NULL is fine. */
void dm_imap_close(struct dm_imap_session *s);

#endif /* DM_IMAP_INT_H */
