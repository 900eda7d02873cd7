/*
 * store.h - the SQLite store: reports, records, auth results, processed inputs and quarantine.
 *
 * The schema lives in sql/*.sql (embedded at build time), versioned with PRAGMA user_version and
 * upgraded in place by migrations.  Writes are batched: a unit (one input file or message) is a
 * savepoint inside a batch transaction that commits every few hundred milliseconds or units,
 * so a crash loses at most uncommitted batches, and never half of a unit.  A report already
 * stored (same org_name, report_id, policy domain, begin and end) is a duplicate and is never
 * added again.  Several processes may write one database: the batch transaction takes the write
 * lock with BEGIN IMMEDIATE and waits up to the busy timeout.
 *
 * It knows nothing of files, archives or XML: ingest/ drives it through the calls below and the
 * record sink of core/model.h.
 *
 * Typical use (ingest):
 *   1. dm_store_open()
 *   2. per unit: dm_store_unit_seen() -> DM_DONE means skip; else dm_store_unit_begin();
 *      per payload: dm_store_payload_begin(), dm_parse_run() with dm_store_sink(),
 *      dm_store_payload_end(ok); dm_store_quarantine() for what failed; dm_store_unit_end()
 *   3. dm_store_flush(), dm_store_close()
 */
#ifndef DM_STORE_H
#define DM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

struct dm_store;

/* Totals of what this handle stored since it was opened. */
struct dm_store_counts {
	uint64_t reports, records, messages, duplicates, quarantined;
};

/* A unit being stored: one input file or one mail message.  Strings are borrowed. */
struct dm_store_unit {
	const char *path;
	const char *identity; /* e.g. "maildir:1700000000.M1P2.host", or NULL */
	const char *sha256;   /* hex SHA-256 of the unit's bytes */
	const char *message_id, *date, *from, *subject; /* mail provenance, or NULL */
	uint64_t size;
};

/* An input (or one member of it) that could not be stored. */
struct dm_store_quarantine {
	const char *path, *member;
	const char *reason;   /* stable code, e.g. "xml_malformed" */
	const char *message;  /* the one-line error */
	const void *bytes;    /* the unit's raw bytes (compressed and capped by the store), or NULL */
	size_t n_bytes;
};

/*
 * Opens (creating with mode 0600 if absent) and migrates a database.  Errors (DM_EDB):
 * not a database, schema newer than this build supports, read-only or unwritable, locked past
 * the busy timeout.  The database is left unchanged on error.
 */
int dm_store_open(struct dm_store **out, const char *path, struct dm_error *err) DM_WUR;

/* DM_DONE if a unit with this sha256 (or this non-NULL identity) was fully processed. */
int dm_store_unit_seen(struct dm_store *s, const char *sha256, const char *identity,
    struct dm_error *err) DM_WUR;

int dm_store_unit_begin(struct dm_store *s, const struct dm_store_unit *u,
    struct dm_error *err) DM_WUR;
int dm_store_payload_begin(struct dm_store *s, const char *member, struct dm_error *err) DM_WUR;

/*
 * The sink that stores parsed reports into the current payload.  Its begin() returns DM_DONE for
 * a duplicate.  Valid while the store is open.
 */
struct dm_sink dm_store_sink(struct dm_store *s);

/* ok=1 keeps the payload's rows, ok=0 rolls them back. */
int dm_store_payload_end(struct dm_store *s, int ok, struct dm_error *err) DM_WUR;

/* Records a failed input or member; compresses and caps bytes. */
int dm_store_quarantine(struct dm_store *s, const struct dm_store_quarantine *q,
    struct dm_error *err) DM_WUR;

/* Marks the unit processed (so it is skipped next time) and commits the batch when due. */
int dm_store_unit_end(struct dm_store *s, struct dm_error *err) DM_WUR;

/* Commits the open batch now. */
int dm_store_flush(struct dm_store *s, struct dm_error *err) DM_WUR;

struct dm_store_counts dm_store_counts(const struct dm_store *s);

/* Rolls back any open batch and closes; NULL is fine. */
void dm_store_close(struct dm_store *s);

#endif /* DM_STORE_H */
