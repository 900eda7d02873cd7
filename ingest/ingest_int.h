/*
 * ingest_int.h - what ingest/'s own files share; nothing outside ingest/
 * includes it.
 *
 * walk.c     paths, folders, stdin, units (hashing), dispatch by content
 * archive.c  containers: gzip (zlib: multi-member, trailing garbage), zip
 *            (every member), bzip2, xz, zstd, lz4, compress (libarchive);
 *            any nesting, streaming, with the caps of struct dm_limits
 * sniff.c    what a byte stream is, from its first bytes
 * mail.c     RFC 5322 mails through GMime: every leaf part decoded, nested
 *            message/rfc822
 * mailbox.c  mbox and Maildir (each message a unit); moving Maildir messages
 * verdict.c  what a payload is before parsing (report, TLS-RPT, other)
 * run.c      the ingest command: the walker into the parser into the store
 * pipe.c     the store on a second thread while the parser reads on
 * imap.c, imap_session.c  IMAP folders through libcurl (messages become
 *            units)
 */
#ifndef DM_INGEST_INT_H
#define DM_INGEST_INT_H

#include <stddef.h>
#include <sys/stat.h>

#include "ingest.h"

/* What a stream is, from its first bytes. */
enum dm_sniff {
	DM_SNIFF_EMPTY = 0,
	DM_SNIFF_XML,
	DM_SNIFF_JSON,
	DM_SNIFF_GZIP,
	DM_SNIFF_ZIP,
	DM_SNIFF_OTHER_COMPRESSED, /* bzip2, xz, zstd, lz4: libarchive reads
	                              them too */
	DM_SNIFF_ZLIB, /* a bare zlib stream (RFC 1950), no gzip header */
	DM_SNIFF_MAIL, /* RFC 5322 header lines (optionally after a "From "
	                  line) */
	DM_SNIFF_MBOX, /* "From " line followed by headers, several messages
	                  possible */
	DM_SNIFF_OTHER
};

#define DM_SNIFF_BYTES 512

/* Classifies the first n bytes of a stream (n may be less than DM_SNIFF_BYTES).
 */
enum dm_sniff dm_sniff(const unsigned char *head, size_t n);

/* 1 for a kind that archive.c unwraps (a compressor or an archive). */
int dm_sniff_is_container(enum dm_sniff kind);

/*
 * Writes a cap's size for a message: "1 GiB", "512 KiB" or "1000 bytes", in
 * the largest unit that divides it, so that a message names the limit the way
 * it was set (archive.c).
 */
void dm_size_text(char *buf, size_t n, uint64_t v);

/* State of one dm_ingest_walk() call. */
struct dm_walk {
	const struct dm_limits *lim;
	const struct dm_walk_options *opt;
	const struct dm_walk_ops *ops;
	int unit_ok; /* cleared when a problem is reported for the current unit
	              */
};

/*
 * Opens name (relative to the folder open as dirfd, or AT_FDCWD; path names it
 * in messages) for reading without blocking and without a window between
 * looking and opening: O_NONBLOCK (a FIFO swapped in for a file must not
 * block), O_NOFOLLOW unless follow (a link swapped in is refused), then fstat
 * on the descriptor.  Returns the descriptor, with *st filled, or -1 with err
 * set: DM_EIO (reason "io", errno's text; ENOENT leaves errno so for callers
 * that treat a vanished file apart) or DM_ESKIP (not a regular file).
 */
int dm_open_regular(int dirfd, const char *name, const char *path, int follow,
    struct stat *st, struct dm_error *err);

/* Reports a problem for the current unit (through ops->problem) and clears
 * unit_ok. */
int dm_walk_problem(struct dm_walk *w, const struct dm_unit *u,
    const char *member, const struct dm_error *problem, struct dm_error *err);

/*
 * Unwraps a stream and delivers every payload in it: sniffs, recurses into
 * containers up to lim->container_depth, calls ops->payload for
 * XML/JSON/other/empty leaves.  member is the container path so far (NULL at
 * the top).  Problems with the stream go to dm_walk_problem; the return value
 * is only for fatal errors from callbacks.
 */
int dm_walk_stream(struct dm_walk *w, const struct dm_unit *u,
    const char *member, const struct dm_source *src, unsigned depth,
    struct dm_error *err);

/* A source reading from memory (for mail parts). */
struct dm_mem_source {
	const unsigned char *p;
	size_t len, off;
};
struct dm_source dm_mem_source(
    struct dm_mem_source *m, const void *p, size_t len);

/* One decoded leaf part of a mail. */
struct dm_mail_part {
	const char
	    *path; /* e.g. "part 2" or "part 2>attached message>part 1" */
	const char
	    *filename; /* declared file name (RFC 2231 decoded) or NULL */
	const char
	    *content_type; /* declared type, e.g. "application/zip", or NULL */
	const void *data;  /* decoded bytes (base64, quoted-printable, uuencode
	                      undone) */
	size_t len;
};

/* What a parsed mail is. */
enum dm_mail_kind {
	DM_MAIL_PLAIN = 0, /* anything that may carry aggregate reports */
	DM_MAIL_FORENSIC, /* multipart/report; report-type=feedback-report (RUF)
	                   */
	DM_MAIL_TLSRPT,   /* multipart/report; report-type=tlsrpt */
	DM_MAIL_BOUNCE    /* multipart/report; report-type=delivery-status */
};

/*
 * Parses one mail held in memory and calls part() for each leaf part.  Fills
 * *info with the message's headers (strings owned by the mail, valid until
 * part() calls are over: info is only valid inside the call) and *kind. Errors:
 * DM_EFORMAT (not a mail, truncated MIME), DM_ELIMIT (too many parts, too
 * deep).
 */
int dm_mail_walk(const void *bytes, size_t len, const struct dm_limits *lim,
    int (*part)(void *ctx, const struct dm_mail_info *info,
        enum dm_mail_kind kind, const struct dm_mail_part *p,
        struct dm_error *err),
    void *ctx, struct dm_error *err);

/*
 * A mail's header fields, read from its header block alone, without parsing the
 * body, so that struct dm_unit.mail is known at unit_begin, before the mail is
 * walked (a unit seen before is then skipped without a MIME parse).  The
 * strings are owned by the struct; info points at them.
 */
struct dm_mail_head {
	struct dm_mail_info info;
	char *message_id, *date, *from, *subject;
};

/* Fills *h (fields absent from the mail stay NULL).  Errors: DM_ENOMEM.  Free
 * with _free. */
int dm_mail_head_read(const void *bytes, size_t len, struct dm_mail_head *h,
    struct dm_error *err);
/* Frees what *h owns and clears it; h may hold nothing. */
void dm_mail_head_free(struct dm_mail_head *h);

/*
 * Mail sources (mailbox.c), called by walk.c's dispatcher.  Each message is a
 * unit of its own: dm_walk_mail_file handles the open file fd (borrowed; read
 * again from its start) sniffed as DM_SNIFF_MAIL or DM_SNIFF_MBOX;
 * dm_walk_mail_memory a mail held in memory (only_copy: read from standard
 * input, it exists nowhere else); dm_walk_maildir a folder for which
 * dm_is_maildir() is true (cur/ and new/ messages, honouring
 * opt->move_to/failed_to).  Every message unit carries its bytes (the first
 * lim->quarantine_bytes of a message over the message cap).  Return values as
 * dm_walk_stream.
 */
int dm_walk_mail_file(
    struct dm_walk *w, const char *path, int fd, struct dm_error *err);
int dm_walk_mail_memory(struct dm_walk *w, const char *path, const void *bytes,
    size_t len, int only_copy, struct dm_error *err);
int dm_is_maildir(const char *dir);
int dm_walk_maildir(struct dm_walk *w, const char *dir, struct dm_error *err);

/*
 * One message that a mail source (imap.c) holds, as a unit of its own, walked
 * like a Maildir message: body holds its bytes (only the first ones when
 * too_big: the message is then refused at the cap), sha the running hash of
 * all size bytes.  u brings path, message label and identity.  Returns DM_OK,
 * DM_DONE or DM_DONE_FAILED when unit_begin skipped it as seen, or a fatal
 * error; *failed as for the Maildir moves.  body stays the caller's.
 */
struct dm_buf;
struct dm_sha256;
int dm_walk_message(struct dm_walk *w, struct dm_unit *u, struct dm_buf *body,
    const struct dm_sha256 *sha, uint64_t size, int too_big, int *failed,
    struct dm_error *err);

/* Whether path is an imap:// or imaps:// URL (imap.c). */
int dm_is_imap_url(const char *path);
/*
 * An IMAP folder (imap.c): each message above the last UID processed is
 * fetched whole and walked with dm_walk_message; processed messages are moved
 * per opt->move_to/failed_to once committed.  DM_EIO with reason "server" when
 * nothing could be fetched (connection, TLS, login, folder), reason "io" when
 * the folder failed part-way; other errors are fatal, as dm_walk_stream's.
 */
int dm_walk_imap(struct dm_walk *w, const char *url, struct dm_error *err);

#endif /* DM_INGEST_INT_H */
