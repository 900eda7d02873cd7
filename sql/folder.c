/*
 * folder.c - what an IMAP folder needs remembered between runs
 * (migrate_v6.sql): the highest UID processed, so that a run fetches only what
 * arrived since, and the messages processed but not yet moved, so that a crash
 * between a commit and a move, or a run without --move-to, leaves nothing
 * behind for good.
 *
 * Everything is kept under the folder's UIDVALIDITY: a UID means nothing under
 * another one, so state kept under an old value is dropped the first time the
 * folder is met with a new one.  The rows are written in the batch of the
 * message's unit, or the next one: a crash in between makes the next run fetch
 * the message again, and its content hash find it stored.
 */
#include "store_int.h"

/* A write opens the batch if needed; never inside an ingest unit. */
static int
folder_batch(struct dm_store *s, const char *what, struct dm_error *err)
{
	if (dm_store_check_lost(s, err) != DM_OK)
		return DM_EDB;
	if (s->in_unit)
		return dm_error_set(err, DM_EINVAL, "%s inside a unit", what);
	return dm_store_batch_begin(s, err);
}

static int
folder_bind(struct dm_store *s, enum dm_stmt id, const char *folder,
    uint64_t uidvalidity, const char *what, sqlite3_stmt **out,
    struct dm_error *err)
{
	sqlite3_stmt *st = dm_store_stmt(s, id, what, err);

	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, folder);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uidvalidity);
	*out = st;
	return DM_OK;
}

/* Sets the folder's UIDVALIDITY and last UID (the higher one when the
 * UIDVALIDITY is unchanged). */
static int
folder_set(struct dm_store *s, const char *folder, uint64_t uidvalidity,
    uint64_t uid, struct dm_error *err)
{
	sqlite3_stmt *st;

	if (folder_bind(s, DM_ST_FOLDER_SET, folder, uidvalidity,
	        "updating an IMAP folder", &st, err) != DM_OK)
		return DM_EDB;
	sqlite3_bind_int64(st, 3, (sqlite3_int64)uid);
	return dm_store_step_done(s, st, "updating an IMAP folder", err);
}

/* The folder starts again under a new UIDVALIDITY: nothing of the old one is
 * kept. */
static int
folder_reset(struct dm_store *s, const char *folder, uint64_t uidvalidity,
    struct dm_error *err)
{
	sqlite3_stmt *st;

	if (folder_batch(s, "an IMAP folder is updated", err) != DM_OK ||
	    folder_set(s, folder, uidvalidity, 0, err) != DM_OK ||
	    folder_bind(s, DM_ST_FOLDER_FORGET, folder, uidvalidity,
	        "updating an IMAP folder", &st, err) != DM_OK ||
	    dm_store_step_done(s, st, "updating an IMAP folder", err) != DM_OK)
		return err->code;
	return DM_OK;
}

int
dm_store_folder_last(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, uint64_t *last_uid, struct dm_error *err)
{
	sqlite3_stmt *st;
	uint64_t v = 0;
	int rc;

	*last_uid = 0;
	st = dm_store_stmt(s, DM_ST_FOLDER_GET, "reading an IMAP folder", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, folder);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = (uint64_t)sqlite3_column_int64(st, 0);
		*last_uid = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dm_store_db_error(s, "reading an IMAP folder", err);
	if (rc == SQLITE_ROW && v != uidvalidity) {
		*last_uid = 0;
		return folder_reset(s, folder, uidvalidity, err);
	}
	return DM_OK;
}

int
dm_store_folder_done(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, uint64_t uid, int failed, struct dm_error *err)
{
	sqlite3_stmt *st;

	if (folder_batch(s, "an IMAP message is recorded", err) != DM_OK ||
	    folder_set(s, folder, uidvalidity, uid, err) != DM_OK ||
	    folder_bind(s, DM_ST_FOLDER_MSG, folder, uidvalidity,
	        "recording an IMAP message", &st, err) != DM_OK)
		return err->code;
	sqlite3_bind_int64(st, 3, (sqlite3_int64)uid);
	sqlite3_bind_int(st, 4, failed != 0);
	if (dm_store_step_done(s, st, "recording an IMAP message", err) !=
	    DM_OK)
		return DM_EDB;
	return dm_store_batch_due(s, err);
}

int
dm_store_folder_pending(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, int failed, uint64_t *uids, size_t max, size_t *n,
    struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	/* Only what is committed may be moved: a crash must not lose it. */
	if ((rc = dm_store_flush(s, err)) != DM_OK)
		return rc;
	if (folder_bind(s, DM_ST_FOLDER_PENDING, folder, uidvalidity,
	        "reading IMAP messages", &st, err) != DM_OK)
		return DM_EDB;
	sqlite3_bind_int(st, 3, failed != 0);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	rc = SQLITE_DONE;
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		uids[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dm_store_db_error(s, "reading IMAP messages", err);
	return DM_OK;
}

int
dm_store_folder_moved(struct dm_store *s, const char *folder,
    uint64_t uidvalidity, const uint64_t *uids, size_t n, struct dm_error *err)
{
	sqlite3_stmt *st;
	size_t i;

	if (folder_batch(s, "IMAP messages are recorded moved", err) != DM_OK)
		return err->code;
	for (i = 0; i < n; i++) {
		if (folder_bind(s, DM_ST_FOLDER_MOVED, folder, uidvalidity,
		        "recording IMAP messages moved", &st, err) != DM_OK)
			return DM_EDB;
		sqlite3_bind_int64(st, 3, (sqlite3_int64)uids[i]);
		if (dm_store_step_done(
		        s, st, "recording IMAP messages moved", err) != DM_OK)
			return DM_EDB;
	}
	return dm_store_batch_due(s, err);
}
