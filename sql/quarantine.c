/*
 * quarantine.c - inputs that could not be stored, kept with their reason so
 * that nothing is lost: after a parser fix, `dmarcstat quarantine` gets the
 * bytes back and processes them again.
 *
 * Bytes are zlib-compressed (report XML shrinks 10-30x) and capped at the run's
 * quarantine_bytes of input, so a hostile 1 GB input cannot fill the database;
 * a capped entry says truncated.  An input failing again on every cron run must
 * not add a row each time: the same bytes and member, still unresolved, only
 * count another attempt.
 */
#include "store_int.h"

#include <string.h>
#include <zlib.h>

#include "mem.h"
#include "sha256.h"

/* Compressed bytes kept for q (first cap bytes); *out NULL when q has none.
 * Caller frees. */
static int
compress_bytes(const struct dm_store_quarantine *q, uint64_t cap, void **out,
    size_t *n, struct dm_error *err)
{
	size_t keep = q->n_bytes < cap ? q->n_bytes : (size_t)cap;
	uLongf len = compressBound((uLong)keep);
	unsigned char *buf;

	*out = NULL;
	*n = 0;
	if (q->bytes == NULL)
		return DM_OK;
	buf = dm_malloc(len);
	if (buf == NULL || compress2(buf, &len, q->bytes, (uLong)keep,
	                       Z_DEFAULT_COMPRESSION) != Z_OK) {
		dm_free(buf);
		return dm_error_set(err, DM_ENOMEM,
		    "compressing quarantined bytes: out of memory");
	}
	*out = buf;
	*n = len;
	return DM_OK;
}

/* The entry's hash: the open unit's (the whole input, even when its kept bytes
 * are capped), else of the bytes given. */
static void
entry_sha256(struct dm_store *s, const struct dm_store_quarantine *q,
    char hex[65], const char **sha)
{
	struct dm_sha256 c;

	*sha = s->unit_sha256;
	if (*sha != NULL || q->bytes == NULL)
		return;
	dm_sha256_init(&c);
	dm_sha256_update(&c, q->bytes, q->n_bytes);
	dm_sha256_final_hex(&c, hex);
	*sha = hex;
}

/* Finds an unresolved entry for the same bytes (or path, when there are none)
 * and member. */
static int
find_entry(struct dm_store *s, const struct dm_store_quarantine *q,
    const char *sha, sqlite3_int64 *id, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	st = dm_store_stmt(s, DM_ST_Q_FIND, "looking up quarantine", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, sha);
	dm_store_bind_text(st, 2, q->member);
	dm_store_bind_text(st, 3, q->path);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		dm_store_db_error(s, "looking up quarantine", err);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? DM_OK : DM_EDB;
}

static int
retry_entry(struct dm_store *s, sqlite3_int64 id,
    const struct dm_store_quarantine *q, struct dm_error *err)
{
	sqlite3_stmt *st;

	st = dm_store_stmt(s, DM_ST_Q_RETRY, "updating quarantine", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, dm_store_now());
	dm_store_bind_text(st, 3, q->reason);
	dm_store_bind_text(st, 4, q->message);
	if (q->conflict_report > 0)
		sqlite3_bind_int64(st, 5, q->conflict_report);
	return dm_store_step_done(s, st, "updating quarantine", err);
}

/*
 * 1 when another entry already keeps the bytes of input sha: an archive with a
 * thousand broken members keeps its bytes once, not a thousand times.
 */
static int
bytes_kept(struct dm_store *s, const char *sha, int *kept, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*kept = 0;
	if (sha == NULL)
		return DM_OK;
	st = dm_store_stmt(s, DM_ST_Q_HAS_BYTES, "looking up quarantine", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, sha);
	rc = sqlite3_step(st);
	*kept = rc == SQLITE_ROW;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dm_store_db_error(s, "looking up quarantine", err);
	return DM_OK;
}

static int
insert_entry(struct dm_store *s, const struct dm_store_quarantine *q,
    const char *sha, struct dm_error *err)
{
	struct dm_store_quarantine shared = *q;
	uint64_t total = q->size > q->n_bytes ? q->size : q->n_bytes;
	uint64_t kept =
	    q->n_bytes < s->quarantine_cap ? q->n_bytes : s->quarantine_cap;
	sqlite3_stmt *st;
	void *z;
	size_t zn;
	int rc, has;

	if ((rc = bytes_kept(s, sha, &has, err)) != DM_OK)
		return rc;
	if (has)
		shared.bytes = NULL;
	if ((rc = compress_bytes(&shared, s->quarantine_cap, &z, &zn, err)) !=
	    DM_OK)
		return rc;
	rc = DM_EDB;
	st = dm_store_stmt(s, DM_ST_Q_INSERT, "inserting quarantine", err);
	if (st == NULL)
		goto out;
	dm_store_bind_text(st, 1, q->path);
	dm_store_bind_text(st, 2, q->member);
	dm_store_bind_text(st, 3, q->reason);
	dm_store_bind_text(st, 4, q->message);
	if (z != NULL)
		sqlite3_bind_blob64(st, 5, z, zn, SQLITE_TRANSIENT);
	/* Without bytes, n_bytes may still say how large the input is (its
	 * bytes kept by another entry). */
	if (q->bytes != NULL || q->n_bytes > 0)
		sqlite3_bind_int64(st, 6, (sqlite3_int64)total);
	sqlite3_bind_int(st, 7, q->n_bytes > 0 && total > kept);
	dm_store_bind_text(st, 8, sha);
	sqlite3_bind_int64(st, 9, dm_store_now());
	if (q->conflict_report > 0)
		sqlite3_bind_int64(st, 10, q->conflict_report);
	rc = dm_store_step_done(s, st, "inserting quarantine", err);
out:
	dm_free(z);
	return rc;
}

int
dm_store_quarantine(struct dm_store *s, const struct dm_store_quarantine *q,
    struct dm_error *err)
{
	sqlite3_int64 id;
	const char *sha;
	char hex[65];
	int rc;

	entry_sha256(s, q, hex, &sha);
	if ((rc = find_entry(s, q, sha, &id, err)) != DM_OK)
		return rc;
	rc =
	    id != 0 ? retry_entry(s, id, q, err) : insert_entry(s, q, sha, err);
	if (rc != DM_OK)
		return rc;
	/* Inside a payload the entry lives or dies with it, and so does its
	 * count. */
	if (s->in_payload) {
		s->payload.quarantined++;
	} else {
		s->unit.quarantined++;
		s->done.quarantined++;
	}
	return DM_OK;
}

struct dm_store_qcursor {
	struct dm_store *s;
	sqlite3_stmt *st;
};

int
dm_store_quarantine_open(struct dm_store *s, int all,
    struct dm_store_qcursor **out, struct dm_error *err)
{
	static const char sql[] = "SELECT id, path, member, reason, message, "
	                          "size, truncated, first_seen, last_tried, "
	                          "attempts, resolved_at, conflict_report "
	                          "FROM quarantine WHERE "
	                          "?1 OR resolved_at IS NULL ORDER BY id";
	struct dm_store_qcursor *c;

	*out = NULL;
	c = dm_calloc(1, sizeof(*c));
	if (c == NULL)
		return dm_error_set(
		    err, DM_ENOMEM, "listing quarantine: out of memory");
	c->s = s;
	if (sqlite3_prepare_v2(s->db, sql, -1, &c->st, NULL) != SQLITE_OK) {
		dm_free(c);
		return dm_store_db_error(s, "listing quarantine", err);
	}
	sqlite3_bind_int(c->st, 1, all != 0);
	*out = c;
	return DM_OK;
}

static const char *
column_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int
dm_store_quarantine_next(struct dm_store_qcursor *c,
    struct dm_store_quarantine_row *row, struct dm_error *err)
{
	sqlite3_stmt *st = c->st;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return DM_DONE;
	if (rc != SQLITE_ROW)
		return dm_store_db_error(c->s, "listing quarantine", err);
	row->id = sqlite3_column_int64(st, 0);
	row->path = column_text(st, 1);
	row->member = column_text(st, 2);
	row->reason = column_text(st, 3);
	row->message = column_text(st, 4);
	row->size = (uint64_t)sqlite3_column_int64(st, 5);
	row->truncated = sqlite3_column_int(st, 6) != 0;
	row->first_seen = sqlite3_column_int64(st, 7);
	row->last_tried = sqlite3_column_int64(st, 8);
	row->attempts = (uint32_t)sqlite3_column_int64(st, 9);
	row->resolved = sqlite3_column_type(st, 10) != SQLITE_NULL;
	row->resolved_at = sqlite3_column_int64(st, 10);
	row->conflict_report = sqlite3_column_int64(st, 11);
	return DM_OK;
}

void
dm_store_quarantine_close(struct dm_store_qcursor *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->st);
	dm_free(c);
}

/*
 * Inflates n bytes of in into a buffer grown as needed up to max bytes (the
 * input's size: the kept bytes are never more), so a damaged blob cannot make
 * us allocate without bound.
 */
static int
inflate_all(const void *in, size_t n, uint64_t max, void **out, size_t *outn,
    struct dm_error *err)
{
	size_t cap = n * 4 + 64 < max ? n * 4 + 64 : (size_t)max + 1;
	unsigned char *buf = NULL, *p;
	z_stream z;
	int zr = Z_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return dm_error_set(
		    err, DM_ENOMEM, "decompressing quarantine: out of memory");
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	while (zr == Z_OK) {
		if ((p = dm_realloc(buf, cap)) == NULL) {
			zr = Z_MEM_ERROR;
			break;
		}
		buf = p;
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zr = inflate(&z, Z_FINISH);
		if (zr == Z_BUF_ERROR && z.avail_out == 0 && cap <= max) {
			cap = cap * 2 < max + 1 ? cap * 2 : (size_t)max + 1;
			zr = Z_OK;
		}
	}
	*outn = z.total_out;
	inflateEnd(&z);
	if (zr == Z_STREAM_END && *outn <= max) {
		*out = buf;
		return DM_OK;
	}
	dm_free(buf);
	if (zr == Z_MEM_ERROR)
		return dm_error_set(
		    err, DM_ENOMEM, "decompressing quarantine: out of memory");
	return dm_error_set(err, DM_EFORMAT,
	    "quarantined bytes are damaged (zlib: %s)",
	    z.msg != NULL ? z.msg : "truncated, or larger than the input");
}

int
dm_store_quarantine_get(struct dm_store *s, int64_t id, void **bytes, size_t *n,
    struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*bytes = NULL;
	*n = 0;
	st = dm_store_stmt(s, DM_ST_Q_GET, "reading quarantine", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = dm_error_set(
		    err, DM_EINVAL, "no quarantine entry %lld", (long long)id);
	else if (rc != SQLITE_ROW)
		rc = dm_store_db_error(s, "reading quarantine", err);
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		rc = DM_OK;
	else
		rc = inflate_all(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0),
		    (uint64_t)sqlite3_column_int64(st, 1), bytes, n, err);
	sqlite3_reset(st);
	return rc;
}

static int
entry_exists(struct dm_store *s, int64_t id, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = dm_store_stmt(s, DM_ST_Q_EXISTS, "reading quarantine", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = dm_error_set(
		    err, DM_EINVAL, "no quarantine entry %lld", (long long)id);
	else if (rc != SQLITE_ROW)
		rc = dm_store_db_error(s, "reading quarantine", err);
	else
		rc = DM_OK;
	sqlite3_reset(st);
	return rc;
}

int
dm_store_quarantine_resolve(
    struct dm_store *s, int64_t id, struct dm_error *err)
{
	sqlite3_stmt *st;

	st = dm_store_stmt(s, DM_ST_Q_RESOLVE, "resolving quarantine", err);
	if (st == NULL)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, dm_store_now());
	if (dm_store_step_done(s, st, "resolving quarantine", err) != DM_OK)
		return DM_EDB;
	if (sqlite3_changes(s->db) == 0)
		return entry_exists(
		    s, id, err); /* already resolved is fine; unknown is not */
	return DM_OK;
}
