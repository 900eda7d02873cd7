/*
 * host.c - the host table (migrate_v5.sql): which source IPs are due for a
 * lookup, and the rows dns/ writes back.
 *
 * Writes join the store's batch transaction, so a long enrichment commits
 * whenever its caller flushes and never holds the write lock for long: an
 * ingest running beside it waits at most one flush interval.  It knows nothing
 * of DNS; what a row means is dns/'s business.
 */
#include "store_int.h"

/*
 * Due: no row, or a row older than its TTL.  record(source_ip) is an index,
 * so the DISTINCT is a walk along it, not a sort.
 */
static const char due_sql[] =
    "SELECT r.source_ip FROM (SELECT DISTINCT source_ip FROM record WHERE "
    "source_ip IS NOT NULL) r LEFT JOIN host h ON h.ip = r.source_ip "
    "WHERE ?2 < 0 OR h.ip IS NULL OR h.checked_at <= ?1 - CASE WHEN "
    "h.error IS NULL THEN ?2 ELSE ?3 END ORDER BY r.source_ip";

static const char hosts_sql[] =
    "SELECT ip, ptr, confirmed, base_domain, service, kind, asn, as_org, "
    "country, checked_at, error FROM host ORDER BY ip";

/* Prepares a statement used once; DM_EDB naming what. */
static int
prepare_once(struct dm_store *s, const char *sql, sqlite3_stmt **st,
    const char *what, struct dm_error *err)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return dm_store_db_error(s, what, err);
	return DM_OK;
}

/* Steps st to its end, calling row() per row; finalizes st. */
static int
each_row(struct dm_store *s, sqlite3_stmt *st,
    int (*row)(sqlite3_stmt *st, void *ctx, struct dm_error *err), void *ctx,
    const char *what, struct dm_error *err)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = row(st, ctx, err)) != DM_OK) {
			sqlite3_finalize(st);
			return rc;
		}
	}
	if (rc != SQLITE_DONE) {
		dm_store_db_error(s, what, err);
		sqlite3_finalize(st);
		return DM_EDB;
	}
	sqlite3_finalize(st);
	return DM_OK;
}

struct ip_ctx {
	dm_store_ip_cb cb;
	void *ctx;
};

static int
ip_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct ip_ctx *c = vctx;

	return c->cb(c->ctx, (const char *)sqlite3_column_text(st, 0), err);
}

int
dm_store_hosts_due(struct dm_store *s, int64_t now, int64_t ttl,
    int64_t fail_ttl, dm_store_ip_cb cb, void *ctx, struct dm_error *err)
{
	struct ip_ctx c = {cb, ctx};
	sqlite3_stmt *st;

	if (prepare_once(s, due_sql, &st, "listing source IPs", err) != DM_OK)
		return DM_EDB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, ttl);
	sqlite3_bind_int64(st, 3, fail_ttl);
	return each_row(s, st, ip_row, &c, "listing source IPs", err);
}

static const char *
col_opt(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int64_t
col_int(sqlite3_stmt *st, int i, int64_t null_value)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL
	           ? null_value
	           : sqlite3_column_int64(st, i);
}

void
dm_sql_host_row(sqlite3_stmt *st, int c, struct dm_host *h)
{
	h->ptr = col_opt(st, c);
	h->confirmed = (int)col_int(st, c + 1, -1);
	h->base_domain = col_opt(st, c + 2);
	h->service = col_opt(st, c + 3);
	h->kind = col_opt(st, c + 4);
	h->asn = col_int(st, c + 5, -1);
	h->as_org = col_opt(st, c + 6);
	h->country = col_opt(st, c + 7);
	h->checked_at = col_int(st, c + 8, 0);
	h->error = col_opt(st, c + 9);
}

struct host_ctx {
	dm_store_host_cb cb;
	void *ctx;
};

static int
host_row(sqlite3_stmt *st, void *vctx, struct dm_error *err)
{
	struct host_ctx *c = vctx;
	struct dm_host h;

	h.ip = col_opt(st, 0);
	dm_sql_host_row(st, 1, &h);
	return c->cb(c->ctx, &h, err);
}

int
dm_store_hosts(
    struct dm_store *s, dm_store_host_cb cb, void *ctx, struct dm_error *err)
{
	struct host_ctx c = {cb, ctx};
	sqlite3_stmt *st;

	if (prepare_once(s, hosts_sql, &st, "reading hosts", err) != DM_OK)
		return DM_EDB;
	return each_row(s, st, host_row, &c, "reading hosts", err);
}

/* A host write opens the batch if needed; never inside an ingest unit. */
static int
host_batch(struct dm_store *s, struct dm_error *err)
{
	if (dm_store_check_lost(s, err) != DM_OK)
		return DM_EDB;
	if (s->in_unit)
		return dm_error_set(
		    err, DM_EINVAL, "cannot write hosts inside a unit");
	return dm_store_batch_begin(s, err);
}

int
dm_store_host_put(
    struct dm_store *s, const struct dm_host *h, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (h->ip == NULL)
		return dm_error_set(err, DM_EINVAL, "host without an IP");
	if ((rc = host_batch(s, err)) != DM_OK)
		return rc;
	st = dm_store_stmt(s, DM_ST_HOST_PUT, "storing a host", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, h->ip);
	dm_store_bind_text(st, 2, h->ptr);
	dm_store_bind_opt(st, 3, h->confirmed);
	dm_store_bind_text(st, 4, h->base_domain);
	dm_store_bind_text(st, 5, h->service);
	dm_store_bind_text(st, 6, h->kind);
	dm_store_bind_opt(st, 7, h->asn);
	dm_store_bind_text(st, 8, h->as_org);
	dm_store_bind_text(st, 9, h->country);
	sqlite3_bind_int64(st, 10, h->checked_at);
	dm_store_bind_text(st, 11, h->error);
	return dm_store_step_done(s, st, "storing a host", err);
}

int
dm_store_host_set_service(struct dm_store *s, const char *ip,
    const char *service, const char *kind, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = host_batch(s, err)) != DM_OK)
		return rc;
	st = dm_store_stmt(s, DM_ST_HOST_SERVICE, "updating a host", err);
	if (st == NULL)
		return DM_EDB;
	dm_store_bind_text(st, 1, ip);
	dm_store_bind_text(st, 2, service);
	dm_store_bind_text(st, 3, kind);
	return dm_store_step_done(s, st, "updating a host", err);
}
