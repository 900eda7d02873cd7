/*
 * ingest.h - find every report in every input and run it through the parser
 * into a sink.
 *
 * An input is a path: a file (plain XML, gzip, zip, any nesting of them, a
 * mail, an mbox), a folder (walked recursively; a Maildir is recognised by its
 * cur/ new/ tmp/ layout), "-" for standard input, or an imap:// or imaps:// URL
 * naming a folder on a server (each new message a unit).  Everything is judged
 * by content, never by name or declared MIME type.  Each decompressed byte
 * stream found is a payload, streamed to the caller, never loaded whole.
 *
 * Two levels of API:
 *   - dm_ingest_walk(): the walker.  For each input unit (a file, or one
 * message of an mbox or Maildir) it calls ops->unit_begin (which may say
 * "already seen, skip"), then ops->payload for every payload, ops->problem for
 * every container that cannot be read, and ops->unit_end.  `dmarcstat parse`
 * uses it with a JSON-printing sink.
 *   - dm_ingest_run(): the walker wired to the parser and sql/'s store: the
 * ingest command.
 *
 * Typical use (walker):
 *   1. fill a struct dm_walk_ops with callbacks and a context;
 *   2. dm_ingest_walk(path, &limits, &ops, &err) for each path;
 *   3. read the outcome from your context.
 */
#ifndef DM_INGEST_H
#define DM_INGEST_H

#include <stdint.h>

#include "error.h"
#include "io.h"
#include "limits.h"
#include "model.h"

/* What the first bytes of a payload look like. */
enum dm_payload_kind {
	DM_PAYLOAD_XML = 0, /* '<' after an optional BOM and white space */
	DM_PAYLOAD_JSON,    /* '{' or '[': TLS-RPT and other JSON reports */
	DM_PAYLOAD_EMPTY,   /* no bytes at all */
	DM_PAYLOAD_OTHER    /* anything else: text, images, unknown binary */
};

/* Where a mail came from; all fields may be NULL. */
struct dm_mail_info {
	const char *message_id, *date, *from, *subject;
};

/* One input unit: a file, stdin, or one message of an mbox or Maildir. */
struct dm_unit {
	const char *path;     /* the path as the user gave it, or found under a
	                         folder; "-" = stdin */
	const char *message;  /* for a message inside an mbox: "message 3"; NULL
	                         otherwise */
	const char *identity; /* stable identity (e.g. "maildir:<unique name>"),
	                         or NULL */
	const char *sha256;   /* hex SHA-256 of the unit's bytes */
	const struct dm_mail_info *mail; /* NULL unless the unit is a mail */
	/*
	 * The unit's raw bytes when they are held in memory (standard input, a
	 * message of a mailbox, a retry), for the quarantine; NULL for a file,
	 * which is read again through fd.  n_bytes < size when a cap cut them
	 * (only the first n_bytes are here).
	 */
	const void *bytes;
	size_t n_bytes;
	uint64_t size; /* size in bytes of the unit (as far as it was read) */
	int fd;        /* the unit's open file, read with pread from 0, or -1 */
	int only_copy; /* 1: the bytes exist nowhere else (standard input): what
	                  the quarantine cannot keep whole is lost */
};

/* One decompressed byte stream found in a unit. */
struct dm_payload {
	const struct dm_unit *unit;
	const char *member; /* container path, e.g. "r.zip>x.xml" or "gunzip";
	                     * NULL if the unit itself is the payload */
	enum dm_payload_kind kind;
	const unsigned char
	    *head; /* first bytes (up to 512), also still delivered by src */
	size_t head_len;
	struct dm_source
	    src; /* the bytes; read it at most once, within the callback */
};

/*
 * What a folder on a server (an IMAP input) needs remembered between runs, kept
 * by the caller (sql/'s store: dm_store_folder_*).  folder is a key naming the
 * server, the user and the folder, never a password; a UID counts only under
 * the folder's uidvalidity, and state kept under another one is void.
 *   last_uid  the highest UID processed (0: none): only UIDs above it are
 *             fetched;
 *   done      message uid was processed, after its unit ended (or was skipped
 *             as seen); failed as for --failed-to.  It waits to be moved;
 *   pending   commits everything recorded, then fills uids (up to max,
 *             ascending) with the messages processed, failed or not, and not
 *             yet moved: only what is committed is ever moved;
 *   moved     forgets uids, moved out of the folder.
 * Without these callbacks (struct dm_walk_ops.folder NULL) every message is
 * fetched, and none moved.
 */
struct dm_folder_ops {
	int (*last_uid)(void *ctx, const char *folder, uint64_t uidvalidity,
	    uint64_t *uid, struct dm_error *err);
	int (*done)(void *ctx, const char *folder, uint64_t uidvalidity,
	    uint64_t uid, int failed, struct dm_error *err);
	int (*pending)(void *ctx, const char *folder, uint64_t uidvalidity,
	    int failed, uint64_t *uids, size_t max, size_t *n,
	    struct dm_error *err);
	int (*moved)(void *ctx, const char *folder, uint64_t uidvalidity,
	    const uint64_t *uids, size_t n, struct dm_error *err);
};

/*
 * Callbacks of a walk.  Each returns DM_OK to go on; any error stops the walk
 * and is returned by dm_ingest_walk (use that only for fatal errors, such as a
 * database that cannot be written). Pointers are borrowed until the callback
 * returns.  Any callback may be NULL.
 */
struct dm_walk_ops {
	void *ctx;
	/* Returns DM_DONE to skip the unit (already processed), or
	 * DM_DONE_FAILED to skip a unit that was processed and failed (a
	 * Maildir message then goes to failed_to, not move_to). */
	int (*unit_begin)(
	    void *ctx, const struct dm_unit *u, struct dm_error *err);
	int (*payload)(
	    void *ctx, const struct dm_payload *p, struct dm_error *err);
	/* A container, member or mail that cannot be read; the walk goes on
	 * where it can. member may be NULL. problem->reason is set (e.g.
	 * "gzip_truncated", "limit"). */
	int (*problem)(void *ctx, const struct dm_unit *u, const char *member,
	    const struct dm_error *problem, struct dm_error *err);
	/* ok is 1 when no problem was reported for the unit.  Returning an
	 * error stops the walk. */
	int (*unit_end)(
	    void *ctx, const struct dm_unit *u, int ok, struct dm_error *err);
	/* A Maildir message was moved (move_to, failed_to) from u->path to
	 * `to`, after unit_end or after being skipped as seen: what names the
	 * old path should name the new one. */
	int (*unit_moved)(void *ctx, const struct dm_unit *u, const char *to,
	    struct dm_error *err);
	/* State of IMAP folders (with ctx), or NULL. */
	const struct dm_folder_ops *folder;
};

/* unit_begin: processed before, and it failed (see struct dm_walk_ops). */
#define DM_DONE_FAILED 2

/*
 * How to reach IMAP servers: inputs imap://[user@]host[:port]/folder and
 * imaps://... (ingest/imap.c).  The password comes from password_file, else
 * ~/.netrc (netrc = 1), else password (the caller's DMARCSTAT_IMAP_PASSWORD);
 * an OAuth 2.0 access token from oauth2_token_file replaces it.  Strings are
 * borrowed for the walk.
 */
struct dm_imap_options {
	const char *password_file;     /* its first line, or NULL */
	int netrc;                     /* 1: the password from ~/.netrc */
	const char *password;          /* or NULL */
	const char *oauth2_token_file; /* its first line, or NULL */
	const char *cacert; /* CA certificates (PEM), or NULL: the system's */
	int insecure_plaintext; /* 1: imap:// without STARTTLS, to loopback */
	uint64_t *limit; /* messages the run may still fetch (decremented), or
	                    NULL: no limit */
};

/* Options of a walk beyond the limits. */
struct dm_walk_options {
	const char *move_to; /* Maildir to move processed messages to, or NULL;
	                        for an IMAP input, a folder on its server */
	const char *failed_to; /* the same for failed messages, or NULL */
	const struct dm_imap_options *imap; /* NULL: defaults */
};

/*
 * Walks one path.  Returns DM_OK when the walk completed (problems with single
 * inputs are reported through ops->problem, not here), DM_EIO / DM_EINVAL when
 * the path itself cannot be opened (message names it), or the error a callback
 * returned.
 */
int dm_ingest_walk(const char *path, const struct dm_limits *lim,
    const struct dm_walk_options *opt, const struct dm_walk_ops *ops,
    struct dm_error *err) DM_WUR;

/*
 * Says what a payload is before anyone parses it: DM_OK for XML (parse it);
 * DM_ESKIP for what is not an aggregate report (reason "tls_report": SMTP TLS
 * reports, RFC 8460; "not_report": other JSON, text, binary data); DM_EFORMAT
 * reason "empty" for an empty payload.
 */
int dm_ingest_payload_verdict(const struct dm_payload *p, struct dm_error *err);

/*
 * Walks bytes held in memory as if they were the file `name`: sniffed and
 * unwrapped exactly like a file (mail, mbox, containers).  Used for standard
 * input and quarantine retries.  bytes are borrowed for the call.
 */
int dm_ingest_walk_memory(const char *name, const void *bytes, size_t len,
    const struct dm_limits *lim, const struct dm_walk_options *opt,
    const struct dm_walk_ops *ops, struct dm_error *err) DM_WUR;

/*
 * Writes the versions of the libraries ingest runs with, as the libraries
 * report them at run time: "libarchive/3.6.2 zlib/1.2.13 liblzma/5.4.1 ...
 * gmime/3.2.13 glib/2.74.6" (libarchive names its own compressors).
 */
void dm_ingest_versions(char *buf, size_t n);

struct dm_store;

/* Totals of one dm_ingest_run. */
struct dm_ingest_stats {
	uint64_t units;   /* files and messages looked at */
	uint64_t seen;    /* of which already processed before: skipped without
	                     parsing */
	uint64_t reports; /* reports stored */
	uint64_t records, messages; /* in the reports stored */
	uint64_t duplicates;        /* reports already in the database */
	uint64_t
	    conflicts; /* duplicates with other content than the stored copy */
	uint64_t quarantined; /* payloads or units that could not be stored */
	uint64_t skipped; /* payloads that are not aggregate reports (TLS-RPT,
	                     forensic...) */
	uint64_t
	    failed; /* paths that could not be read at all (nothing to keep) */
	uint64_t
	    unreachable; /* of which IMAP folders that nothing could be
	                    fetched from (connection, TLS, login, folder) */
	/*
	 * Inputs from standard input that failed and could not be kept whole
	 * (unreadable, or cut by a cap): their bytes exist nowhere now.  They
	 * are not marked processed, so the same input is tried again.
	 */
	uint64_t lost;
};

/* What happened to one input, for the caller to show. */
enum dm_ingest_event {
	DM_INGEST_QUARANTINED = 0, /* kept in the quarantine table */
	DM_INGEST_SKIPPED,         /* not an aggregate report; nothing kept */
	DM_INGEST_FAILED, /* a path that cannot be read (missing, no permission)
	                   */
	DM_INGEST_UNIT_DONE /* a unit finished (for progress displays); e is
	                       NULL */
};

struct dm_ingest_options {
	struct dm_walk_options walk;
	/* Called for each event; path/where/member may be NULL.  May be NULL.
	 */
	void (*notify)(void *ctx, enum dm_ingest_event ev,
	    const struct dm_unit *u, const char *member,
	    const struct dm_error *e);
	void *notify_ctx;
};

/*
 * Ingests every path into the store: each unit is stored all-or-nothing per
 * report, inputs already processed are skipped, inputs that fail are
 * quarantined, and the rest goes on. Returns DM_OK when the run completed (even
 * if some inputs were quarantined: see stats), or DM_EDB / DM_ENOMEM for a
 * fatal error (the open batch is rolled back; what was committed stays).  A
 * path that cannot be read is a DM_INGEST_FAILED event, counted in
 * stats.failed.
 */
int dm_ingest_run(struct dm_store *store, const char *const *paths,
    size_t n_paths, const struct dm_limits *lim,
    const struct dm_ingest_options *opt, struct dm_ingest_stats *stats,
    struct dm_error *err) DM_WUR;

/*
 * Runs quarantine entry id again: its kept bytes go through the walker and the
 * current parser into the store as if ingested from the original path (whether
 * or not that input was seen before).  *resolved is 1, and the entry marked
 * resolved, when nothing failed this time; otherwise the entry's attempts grow.
 * DM_EINVAL: no entry id; DM_EFORMAT: the entry kept no bytes, or only the
 * first bytes of a larger input.
 */
int dm_ingest_retry(struct dm_store *store, int64_t id,
    const struct dm_limits *lim, const struct dm_ingest_options *opt,
    struct dm_ingest_stats *stats, int *resolved, struct dm_error *err) DM_WUR;

/* How a conflict is settled (dm_ingest_resolve). */
enum dm_resolve {
	DM_RESOLVE_KEEP_STORED = 0, /* the stored report stays */
	DM_RESOLVE_KEEP_NEW         /* the quarantined copy replaces it */
};

/*
 * Settles quarantine entry id, a report that conflicted with a stored one
 * (reason "conflict": same reporter, report id, domain and period, other
 * content).  KEEP_STORED marks the entry resolved.  KEEP_NEW takes the stored
 * report out (with its rollups) and stores the entry's copy instead, running
 * the entry's bytes again as retry does, in the same transaction; *resolved
 * is 1, and the entry resolved, when that stored it.  DM_EINVAL: no such
 * entry, or not an unresolved conflict; DM_EFORMAT: its bytes were not kept
 * whole.
 */
int dm_ingest_resolve(struct dm_store *store, int64_t id, enum dm_resolve how,
    const struct dm_limits *lim, const struct dm_ingest_options *opt,
    struct dm_ingest_stats *stats, int *resolved, struct dm_error *err) DM_WUR;

#endif /* DM_INGEST_H */
