/*
 * query.h - the read queries behind `dmarcstat report` and `explain`.
 *
 * They read the rollup tables (sql/schema.sql), which the
 * store folds each report into as it writes it, and record(source_ip) for an
 * address, so each query costs the size of the period asked for, not of the
 * database.  The handle opens the database read-only:
 * reporting never changes it and may run while an ingest writes.  Rows are
 * handed to a callback, one at a time, borrowed until it returns (the cursor
 * style of the record sink); the callback returns DM_OK to go on or an error to
 * stop, which the query then returns.
 *
 * Typical use:
 *   1. dm_query_open()
 *   2. dm_query_daily(), dm_query_sources(), dm_query_new_sources(),
 * dm_query_org_names() with a struct dm_query_filter; dm_query_host() for
 * what DNS says of a source IP
 *   3. dm_query_close()
 */
#ifndef DM_QUERY_H
#define DM_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

struct dm_query;

/* Which rows.  Strings are borrowed for the call. */
struct dm_query_filter {
	int64_t from, to; /* UTC day starts: days d with from <= d < to */
	const char
	    *domain; /* policy domain or header_from equal to this; NULL: all */
	const char *const
	    *org_names;     /* reporters (org_name as stored) to keep ... */
	size_t n_org_names; /* ... when use_org_names is 1 (0 names then match
	                       nothing) */
	int use_org_names;
	const char *source_ip; /* exact source IP; NULL: all */
};

/* One day of one reporter, policy domain and header_from (rollup_daily). */
struct dm_query_day {
	int64_t day;
	const char *org_name, *domain, *header_from;
	const char *p, *sp; /* as last published, "" when not given */
	int64_t pct;        /* -1 when not given */
	int64_t messages, dmarc_pass, dkim_aligned, spf_aligned, quarantined,
	    rejected;
};

/*
 * Messages with the same evidence over the whole period (rollup_source summed
 * over days). Empty strings where the report gave no value.  The arrays decode
 * the raw auth results and override reasons; human_result is always NULL (not
 * kept in rollups).
 */
struct dm_query_source {
	const char *org_name, *domain, *p, *adkim, *aspf, *testing;
	const char *source_ip, *header_from, *envelope_from, *envelope_to;
	const char *disposition, *dkim,
	    *spf; /* dkim and spf: policy_evaluated */
	const struct dm_dkim_result *dkim_results;
	size_t n_dkim;
	const struct dm_spf_result *spf_results;
	size_t n_spf;
	const struct dm_reason *reasons;
	size_t n_reasons;
	int64_t messages;
};

/* A source IP first seen in the period (by anyone matching the filter). */
struct dm_query_new_source {
	const char *source_ip;
	int64_t first_day;            /* first day it was reported */
	int64_t messages, dmarc_pass; /* in the period */
};

typedef int (*dm_query_day_cb)(
    void *ctx, const struct dm_query_day *row, struct dm_error *err);
typedef int (*dm_query_source_cb)(
    void *ctx, const struct dm_query_source *row, struct dm_error *err);
typedef int (*dm_query_new_source_cb)(
    void *ctx, const struct dm_query_new_source *row, struct dm_error *err);
typedef int (*dm_query_name_cb)(
    void *ctx, const char *name, struct dm_error *err);

/*
 * Opens path read-only.  DM_EDB with the reason when it does not exist, is not
 * a database, or has no rollup tables (a schema older than the one this build
 * writes: any ingest upgrades it). On success *out is owned by the caller
 * (dm_query_close).
 */
int dm_query_open(
    struct dm_query **out, const char *path, struct dm_error *err) DM_WUR;

/* Every reporter (org_name as stored) that ever sent a report, in byte order.
 */
int dm_query_org_names(struct dm_query *q, dm_query_name_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/* Daily rows in the filter's period, ordered by day, org_name, domain,
 * header_from. */
int dm_query_daily(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_day_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/*
 * Evidence rows summed over the period, largest first (then by source_ip).
 * failing_only keeps rows that failed DMARC (neither aligned result passes) or
 * were quarantined or rejected, and that count at least one message.
 */
int dm_query_sources(struct dm_query *q, const struct dm_query_filter *f,
    int failing_only, dm_query_source_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/* Source IPs whose first day falls in the period, most messages first. */
int dm_query_new_sources(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_new_source_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/*
 * What `dmarcstat enrich` found for ip (the host table): DM_OK with *h filled,
 * its strings borrowed until the next dm_query_host() or dm_query_close();
 * DM_DONE when ip was never looked up (*h then has only ip set).  DM_EDB.
 */
int dm_query_host(struct dm_query *q, const char *ip, struct dm_host *h,
    struct dm_error *err) DM_WUR;

/*
 * *n = the unresolved conflicts of the filter: quarantine entries of reason
 * "conflict" (a report with the identity of a stored one but other content,
 * which may be a forgery or the genuine report pre-empted by one) whose stored
 * report covers a day of the period and matches the domain and reporters.
 * (The filter's source_ip is ignored.)  0 for a database of a schema before
 * version 7, which did not keep conflicts.
 */
int dm_query_conflicts(struct dm_query *q, const struct dm_query_filter *f,
    int64_t *n, struct dm_error *err) DM_WUR;

/* NULL is fine. */
void dm_query_close(struct dm_query *q);

#endif /* DM_QUERY_H */
