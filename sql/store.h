/*
 * store.h - the SQLite store: reports, records, auth results, processed inputs
 * and quarantine.
 *
 * The schema lives in the .sql files of sql/ (embedded at build time),
 * versioned with PRAGMA user_version and upgraded in place by migrations.
 * Writes are batched: units (input files or messages) go into a batch
 * transaction that commits between units about every second, so a crash loses
 * at most uncommitted batches, and never half of a unit; a report that fails
 * half-way leaves no rows.  A
 * report already stored (same org_name, report_id, policy domain, begin and
 * end) is a duplicate and is never added again.  Several processes may write
 * one database: the batch transaction takes the write lock with BEGIN IMMEDIATE
 * and waits up to the busy timeout.
 *
 * It knows nothing of files, archives or XML: ingest/ drives it through the
 * calls below and the record sink of core/model.h.
 *
 * Typical use (ingest):
 *   1. dm_store_open()
 *   2. per unit: dm_store_unit_seen() -> DM_DONE means skip; else
 * dm_store_unit_begin(); per payload: dm_store_payload_begin(), dm_parse_run()
 * with dm_store_sink(), dm_store_payload_end(ok); dm_store_quarantine() for
 * what failed; dm_store_unit_end()
 *   3. dm_store_flush(), dm_store_close()
 *
 * Typical use (the quarantine command):
 *   dm_store_quarantine_open(), dm_store_quarantine_next() until DM_DONE,
 *   dm_store_quarantine_close(); dm_store_quarantine_get() for an entry's
 * bytes, dm_store_quarantine_resolve() once it is dealt with.
 *
 * Errors of SQLite are DM_EDB with SQLite's message: "database error: inserting
 * record: disk I/O error", "database error: inserting record: database or disk
 * is full", and "database is read-only: PATH" when the file cannot be written.
 * After an error the caller should close the store, which rolls back the open
 * batch: what was committed before stays, nothing half-done.
 */
#ifndef DM_STORE_H
#define DM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "limits.h"
#include "model.h"

struct dm_store;

/* Totals of what this handle stored since it was opened. */
struct dm_store_counts {
	uint64_t reports, records, messages, duplicates, quarantined;
	/* duplicates whose records or messages differ from the stored report's
	 * (the same report id sent again with other content; the first is kept)
	 */
	uint64_t conflicts;
};

/* A unit being stored: one input file or one mail message.  Strings are
 * borrowed. */
struct dm_store_unit {
	const char *path;
	const char *identity; /* e.g. "maildir:1700000000.M1P2.host", or NULL */
	const char *sha256;   /* hex SHA-256 of the unit's bytes */
	const char *message_id, *date, *from,
	    *subject; /* mail provenance, or NULL */
	uint64_t size;
};

/* An input (or one member of it) that could not be stored. */
struct dm_store_quarantine {
	const char *path, *member;
	const char *reason;      /* stable code, e.g. "xml_malformed" */
	const char *message;     /* the one-line error */
	int64_t conflict_report; /* reason "conflict": the stored report it
	                            conflicts with (dm_store_last_conflict) */
	const void *bytes; /* the unit's raw bytes (compressed and capped by the
	                      store), or NULL */
	size_t n_bytes;
	uint64_t size; /* the whole input's size, if more than n_bytes were not
	                  kept (then the entry says truncated); 0: n_bytes */
};

/*
 * Opens (creating with mode 0600 if absent) and migrates a database; ":memory:"
 * gives a private in-memory one.  Errors (DM_EDB), the database left unchanged:
 *   "not a dmarcstat database: file is not a database"
 *   "not a dmarcstat database: it has other tables and no schema version"
 *   "database schema version 9 is newer than this dmarcstat supports (2)"
 *   "database is read-only: PATH" (no write permission bit, or not writable)
 *   "cannot create database PATH: No such file or directory"
 *   "database error: migrating to schema version 2: database is locked"
 *   (the last after waiting the busy timeout)
 */
int dm_store_open(
    struct dm_store **out, const char *path, struct dm_error *err) DM_WUR;

/*
 * A second handle on s's database, read-only, for another thread: only
 * dm_store_unit_lookup(), dm_store_unit_seen() and dm_store_close() may be
 * used on it, and it sees only what is committed.  DM_EINVAL for a ":memory:"
 * database, which no other handle can reach.
 */
int dm_store_open_reader(const struct dm_store *s, struct dm_store **out,
    struct dm_error *err) DM_WUR;

/*
 * DM_DONE if a unit with this sha256 was fully processed.  The identity (a
 * Maildir or IMAP message's) is looked up only when the sha256 is NULL, not
 * known yet: when the content is known, the content decides.
 */
int dm_store_unit_seen(struct dm_store *s, const char *sha256,
    const char *identity, struct dm_error *err) DM_WUR;

/* dm_store_unit_seen, and *failed = 1 when that unit was quarantined in whole
 * or in part (its outcome). */
int dm_store_unit_lookup(struct dm_store *s, const char *sha256,
    const char *identity, int *failed, struct dm_error *err) DM_WUR;

/*
 * The file of an input moved from `from` to `to` (a Maildir message moved
 * after it was processed): the inputs and the unresolved quarantine entries
 * that named from now name to.  Outside a unit; written in the open batch, or
 * one it opens.
 */
int dm_store_unit_moved(struct dm_store *s, const char *from, const char *to,
    struct dm_error *err) DM_WUR;

/*
 * Starts a unit (opening a batch if none is open).  A unit whose input was left
 * 'pending' (by a run that stopped half-way) is processed again.  DM_EINVAL if
 * a unit is already open or u->sha256 is NULL.
 */
int dm_store_unit_begin(struct dm_store *s, const struct dm_store_unit *u,
    struct dm_error *err) DM_WUR;
/* Starts a payload of the current unit; member is copied (NULL: the unit is the
 * payload). */
int dm_store_payload_begin(
    struct dm_store *s, const char *member, struct dm_error *err) DM_WUR;

/*
 * The sink that stores parsed reports into the current payload.  Its begin()
 * returns DM_DONE for a duplicate.  Valid while the store is open.
 */
struct dm_sink dm_store_sink(struct dm_store *s);

/* ok=1 keeps the payload's rows, ok=0 rolls them back. */
int dm_store_payload_end(
    struct dm_store *s, int ok, struct dm_error *err) DM_WUR;

/*
 * Records a failed input or member; compresses and caps bytes (at the limits'
 * quarantine_bytes, DM_MAX_QUARANTINE_BYTES by default).  The same bytes and
 * member already quarantined and not resolved get attempts + 1 and a new
 * last_tried, reason and message instead of a new entry.
 */
int dm_store_quarantine(struct dm_store *s, const struct dm_store_quarantine *q,
    struct dm_error *err) DM_WUR;

/* Marks the unit processed (so it is skipped next time) and commits the batch
 * when due. */
int dm_store_unit_end(struct dm_store *s, struct dm_error *err) DM_WUR;

/*
 * Called inside a unit: dm_store_unit_end then leaves it 'pending', so that the
 * same bytes met again are processed again instead of skipped as seen (an only
 * copy of an input that the quarantine could not keep whole).
 */
void dm_store_unit_again(struct dm_store *s);

/* Commits the open batch now.  DM_EINVAL inside a unit: a unit is committed
 * whole or not. */
int dm_store_flush(struct dm_store *s, struct dm_error *err) DM_WUR;

struct dm_store_counts dm_store_counts(const struct dm_store *s);

/*
 * IMAP folders.  folder is a key naming the server, the user and the folder
 * ("imaps://user@host:993/INBOX", never a password); a UID counts only under
 * the folder's uidvalidity.  Called between units, never inside one.
 *
 * _last: *last_uid is the highest UID processed (0: none).  When the folder was
 * known under another UIDVALIDITY, everything kept for it is dropped and
 * *last_uid is 0: the folder is read again, and content hashes decide what is
 * new.
 * _done: message uid was processed (stored, quarantined, skipped or seen
 * before); failed = 1 when it failed (for --failed-to).  It waits to be moved
 * until _moved.  Written in the open batch, committed when a batch is due.
 * _pending: commits the open batch, then fills uids (up to max, ascending)
 * with messages processed and not moved, failed or not: only committed work
 * is ever moved.
 * _moved: forgets uids, moved out of the folder.
 */
int dm_store_folder_last(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, uint64_t *last_uid, struct dm_error *err) DM_WUR;
int dm_store_folder_done(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, uint64_t uid, int failed,
    struct dm_error *err) DM_WUR;
int dm_store_folder_pending(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, int failed, uint64_t *uids, size_t max, size_t *n,
    struct dm_error *err) DM_WUR;
int dm_store_folder_moved(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, const uint64_t *uids, size_t n,
    struct dm_error *err) DM_WUR;

/*
 * The id of the stored report that the payload just ended conflicts with (a
 * duplicate with other content), or 0: what a quarantine entry of reason
 * "conflict" names (struct dm_store_quarantine.conflict_report).
 */
int64_t dm_store_last_conflict(const struct dm_store *s);

/*
 * Takes stored report id out, with everything of it: records, their results
 * and reasons, and its rollups (the daily sums are subtracted as they were
 * added).  Outside a unit; in the open batch or one it opens.  DM_EINVAL for
 * an unknown id.  For `quarantine resolve --keep-new`.
 */
int dm_store_report_delete(
    struct dm_store *s, int64_t id, struct dm_error *err) DM_WUR;

/* Rolls back any open batch and closes; NULL is fine.  Close quarantine cursors
 * first. */
void dm_store_close(struct dm_store *s);

/* Takes the run's caps (only quarantine_bytes concerns the store); lim is
 * copied. */
void dm_store_set_limits(struct dm_store *s, const struct dm_limits *lim);

/* A quarantine entry.  Strings are borrowed until the next
 * dm_store_quarantine_next or close. */
struct dm_store_quarantine_row {
	int64_t id;
	const char *path, *member, *reason, *message; /* NULL if unknown */
	uint64_t size; /* bytes of the input (kept: at most the cap) */
	int truncated; /* 1: only the first bytes of the input were kept */
	int64_t first_seen, last_tried; /* Unix seconds */
	uint32_t attempts;
	int resolved;        /* 1 once dm_store_quarantine_resolve was called */
	int64_t resolved_at; /* Unix seconds; 0 while unresolved */
	int64_t conflict_report; /* reason "conflict": the stored report; 0 */
};

struct dm_store_qcursor;

/* Opens a cursor over quarantine entries by id; all=0 lists only unresolved
 * ones. */
int dm_store_quarantine_open(struct dm_store *s, int all,
    struct dm_store_qcursor **out, struct dm_error *err) DM_WUR;
/* Fills *row with the next entry: DM_OK, DM_DONE at the end, or DM_EDB. */
int dm_store_quarantine_next(struct dm_store_qcursor *c,
    struct dm_store_quarantine_row *row, struct dm_error *err) DM_WUR;
/* NULL is fine. */
void dm_store_quarantine_close(struct dm_store_qcursor *c);

/*
 * The kept bytes of entry id, decompressed: *bytes is owned by the caller
 * (dm_free), NULL with *n = 0 when no bytes were kept.  DM_EINVAL for an
 * unknown id, DM_EFORMAT for a damaged blob.
 */
int dm_store_quarantine_get(struct dm_store *s, int64_t id, void **bytes,
    size_t *n, struct dm_error *err) DM_WUR;

/* Marks entry id resolved (kept, no longer listed by default).  DM_EINVAL for
 * an unknown id. */
int dm_store_quarantine_resolve(
    struct dm_store *s, int64_t id, struct dm_error *err) DM_WUR;

/*
 * Hosts: the enrichment cache (sql/migrate_v5.sql), written by dns/.
 *
 * Typical use (dmarcstat enrich):
 *   1. dm_store_hosts_due() lists the source IPs to look up;
 *   2. dm_store_host_put() for each answer, dm_store_flush() now and then
 * (each put joins the open batch, or opens one, like a unit);
 *   3. dm_store_hosts() and dm_store_host_set_service() bring every row's
 * service in line with the current services file.
 */
typedef int (*dm_store_ip_cb)(void *ctx, const char *ip, struct dm_error *err);
typedef int (*dm_store_host_cb)(
    void *ctx, const struct dm_host *h, struct dm_error *err);

/*
 * Calls cb with each source IP of the stored records that has no host row, or
 * whose row was checked at or before now - ttl (now - fail_ttl when its lookup
 * failed); ttl < 0 lists every IP.  In byte order of the IP text.  The IP is
 * borrowed until cb returns; cb's error stops the listing and is returned.
 */
int dm_store_hosts_due(struct dm_store *s, int64_t now, int64_t ttl,
    int64_t fail_ttl, dm_store_ip_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/* Replaces h->ip's row with h (NULL strings, asn -1, confirmed -1 stored as
 * NULL), in the open batch or a new one; DM_EINVAL inside a unit. */
int dm_store_host_put(
    struct dm_store *s, const struct dm_host *h, struct dm_error *err) DM_WUR;

/* Calls cb with every host row, by IP; *h is borrowed until cb returns. */
int dm_store_hosts(struct dm_store *s, dm_store_host_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/* Sets the service and kind (NULL: none) of ip's row, in the open batch or a
 * new one. */
int dm_store_host_set_service(struct dm_store *s, const char *ip,
    const char *service, const char *kind, struct dm_error *err) DM_WUR;

/* The schema version this build creates and upgrades to. */
int dm_store_schema_version(void);

/* Writes "sqlite/3.40.1", the version of the SQLite running, into buf. */
void dm_store_versions(char *buf, size_t n);

#endif /* DM_STORE_H */
