/*
 * query.h - the read queries behind `dmarcstat report` and `explain`.
 *
 * They read the rollup tables (sql/schema.sql), which the
 * store folds each report into as it writes it, and record(source_ip) for an
 * address, so each query costs the size of the period asked for, not of the
 * database.  SQL does the grouping and the sums: a caller streams the rows and
 * keeps what it shows, so its memory does not grow with the number of sources,
 * domains or reporters in the database.  Every sum saturates at INT64_MAX
 * instead of failing ("integer overflow") or wrapping.
 *
 * Text a report gave is cut to DM_QUERY_TEXT_MAX characters (the longest
 * domain name is 253), so that a hostile report cannot make a listing large.
 *
 * The handle opens the database read-only: reporting never changes it and may
 * run while an ingest writes.  One thread at a time may use a handle.  Between
 * dm_query_begin() and dm_query_end() all queries read one snapshot, so the
 * sections of a report agree with each other.  Rows are handed to a callback,
 * one at a time, borrowed until it returns (the cursor style of the record
 * sink); the callback returns DM_OK to go on or an error to stop, which the
 * query then returns.
 *
 * Typical use:
 *   1. dm_query_open(), dm_query_set_isp_names()
 *   2. dm_query_begin()
 *   3. dm_query_days(), dm_query_isps(), dm_query_domains(), dm_query_pairs(),
 *      dm_query_sources(), dm_query_new_sources(), dm_query_report_refs()
 *      with a struct dm_query_filter
 *   4. dm_query_host() for what DNS says of a source IP
 *   5. dm_query_end(), dm_query_close()
 */
#ifndef DM_QUERY_H
#define DM_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ip.h"
#include "model.h"

struct dm_query;

/* Characters of any text a query hands out (a domain is at most 253). */
#define DM_QUERY_TEXT_MAX 255

/* A (source IP, From domain) pair, to restrict a query to some pairs. */
struct dm_query_pair_key {
	const char *source_ip, *header_from;
};

/* The most pairs a filter may name (two SQL parameters each). */
#define DM_QUERY_PAIRS_MAX 10000

/* Which rows.  Strings are borrowed for the call. */
struct dm_query_filter {
	int64_t from, to;     /* UTC day starts: days d with from <= d < to */
	const char *domain;   /* policy domain or header_from equal to this;
	                         NULL: all */
	const char *reporter; /* an ISP name (dm_query_set_isp_names) or an
	                         org_name, ASCII case-insensitive; NULL: all */
	const struct dm_ip_net *net; /* source addresses; NULL: all.  Not used
	                                by the per-day queries (days, isps,
	                                domains), which know no address. */
	const struct dm_query_pair_key *pairs; /* only these (source IP, From
	                                          domain) pairs, when n_pairs */
	size_t n_pairs; /* > 0; at most DM_QUERY_PAIRS_MAX */
	int kept;       /* read the rows dm_query_keep() copied, not the
	                   rollups: this filter must be the one it was given or
	                   narrower */
};

/* The messages of a period per day (rollup_daily). */
struct dm_query_day {
	int64_t day;
	int64_t messages, dmarc_pass, quarantined, rejected;
	int64_t blocked_pass; /* passed DMARC, yet quarantined or rejected */
};

/* One ISP (org_names mapped by the ISP name function). */
struct dm_query_isp {
	const char *isp;
	int64_t messages, dmarc_pass, quarantined, rejected; /* from split */
	int64_t blocked_pass;  /* from split: passed, yet blocked */
	int64_t prev_messages; /* before split */
	int64_t last_day;      /* last day with messages; 0 when none */
};

/* One From domain and policy domain (header_from is the policy domain when
 * the report gave none). */
struct dm_query_domain {
	const char *header_from, *domain;
	const char *p, *sp; /* as last published, "" when not given */
	int64_t pct;        /* -1 when not given */
	int64_t last_day;   /* the day p, sp and pct were last seen */
	int64_t messages, dmarc_pass, quarantined, rejected;
};

/* One (source IP, From domain) pair at one ISP. */
struct dm_query_pair {
	const char *source_ip, *header_from, *isp;
	int64_t messages, dmarc_pass, quarantined, rejected;
	int64_t blocked_pass; /* quarantined or rejected, yet passed DMARC */
	int64_t spf_raw_pass, spf_aligned_pass, dkim_raw_pass,
	    dkim_aligned_pass;       /* raw: an auth_results entry passed */
	int64_t first_day, last_day; /* with DM_QUERY_FAILING, of the failing
	                                messages (a day of none is left out,
	                                as the month and week rollups leave
	                                it out) */
	int64_t reports;
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
	int64_t first_day, last_day;
	const char *isp; /* org_name's ISP (dm_query_set_isp_names) */
	/* What `dmarcstat enrich` found for source_ip (the host table, joined
	 * in SQL): its sending service and that service's kind (esp, mailbox,
	 * list, forwarder, gateway); NULL when not known. */
	const char *host_service, *host_kind;
};

/* A source IP first seen in the period (by anyone matching the filter). */
struct dm_query_new_source {
	const char *source_ip;
	int64_t first_day;            /* first day it was reported */
	int64_t messages, dmarc_pass; /* in the period */
};

/* A report that mentions a pair in the period. */
struct dm_query_report_ref {
	const char *source_ip, *header_from, *isp;
	const char *org_name, *email, *report_id; /* "" when not given */
	int64_t begin;                            /* -1 when not given */
};

typedef int (*dm_query_name_cb)(
    void *ctx, const char *name, struct dm_error *err);
typedef int (*dm_query_day_cb)(
    void *ctx, const struct dm_query_day *row, struct dm_error *err);
typedef int (*dm_query_isp_cb)(
    void *ctx, const struct dm_query_isp *row, struct dm_error *err);
typedef int (*dm_query_domain_cb)(
    void *ctx, const struct dm_query_domain *row, struct dm_error *err);
typedef int (*dm_query_pair_cb)(
    void *ctx, const struct dm_query_pair *row, struct dm_error *err);
typedef int (*dm_query_source_cb)(
    void *ctx, const struct dm_query_source *row, struct dm_error *err);
typedef int (*dm_query_new_source_cb)(
    void *ctx, const struct dm_query_new_source *row, struct dm_error *err);
typedef int (*dm_query_report_ref_cb)(
    void *ctx, const struct dm_query_report_ref *row, struct dm_error *err);

/*
 * Opens path read-only.  DM_EDB with the reason when it does not exist, is not
 * a database, or has no rollup tables (a schema older than the one this build
 * writes: any ingest upgrades it). On success *out is owned by the caller
 * (dm_query_close).
 */
int dm_query_open(
    struct dm_query **out, const char *path, struct dm_error *err) DM_WUR;

/*
 * The ISP name of an org_name, used to group and filter by ISP in every
 * query; the result must stay valid until the next call.  ctx is passed
 * through, borrowed until the handle is closed or this is called again.
 * Without it an ISP is its org_name.
 */
int dm_query_set_isp_names(struct dm_query *q,
    const char *(*isp_name)(void *ctx, const char *org_name), void *ctx,
    struct dm_error *err) DM_WUR;

/*
 * Starts a read transaction: every query until dm_query_end() sees the
 * database as it was at the first of them, whatever an ingest commits
 * meanwhile.  DM_EDB.
 */
int dm_query_begin(struct dm_query *q, struct dm_error *err) DM_WUR;
/* Ends it (a read transaction has nothing to commit). */
void dm_query_end(struct dm_query *q);

/* Every reporter (org_name as stored) that ever sent a report, in byte order.
 */
int dm_query_org_names(struct dm_query *q, dm_query_name_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;
/* The reporters (org_name as stored) with reports in f's period, domain and
 * reporter, in byte order: the names an ISP row of that period stands for. */
int dm_query_period_org_names(struct dm_query *q,
    const struct dm_query_filter *f, dm_query_name_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/* Per day with reports in the period, in day order. */
int dm_query_days(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_day_cb cb, void *ctx, struct dm_error *err) DM_WUR;
/* As dm_query_days, but a whole calendar month of the period comes as one
 * row named by its first day (rollup_daily_month): for sums over months or
 * over the whole period. */
int dm_query_days_months(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_day_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/*
 * Per ISP with messages in the period: the days from split on are "this
 * period", the days before it the previous one.  Most messages this period
 * first, then most previous messages, then by name.
 */
int dm_query_isps(struct dm_query *q, const struct dm_query_filter *f,
    int64_t split, dm_query_isp_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/* Per From domain and policy domain: most quarantined and rejected messages
 * first, then most messages, then by name. */
int dm_query_domains(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_domain_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/* What dm_query_pairs and dm_query_sources read, and how. */
enum {
	DM_QUERY_FAILING = 1, /* only rows that failed DMARC (neither aligned
	                         result passes) or were quarantined or
	                         rejected, and that count a message */
	DM_QUERY_PER_ROW = 2, /* sources: each stored row (a record's day) as
	                         it comes, unsummed and unsorted: no sort of
	                         the whole period, for a caller that only
	                         tallies */
	DM_QUERY_REPORTS = 4, /* pairs: count the reports (a join with record
	                         per row: ask it for the pairs shown only) */
	DM_QUERY_RANK = 8     /* pairs: only what ranks them (messages,
	                         quarantined, rejected); the other sums 0.
	                         Those cost more than the rest of the query
	                         (the raw results are read from text): ask
	                         them for the pairs shown only */
};

/*
 * Over a database of schema version 11 or later, DM_QUERY_FAILING's ranking
 * (DM_QUERY_RANK) and summed evidence read a period's whole months and ISO
 * weeks from the failing rollups and only its ragged days from the daily
 * rows (dm_query_split), with the same results; the reports of pairs named
 * by the filter are counted from their records when that is cheaper.  The
 * environment variable DMARCSTAT_TEST_DAILY_ONLY (any value but "" or "0",
 * read by dm_query_open) makes them read every day instead, and
 * DMARCSTAT_TEST_BY_RECORDS counts the reports from the records whatever
 * the period: test hooks, so that a test compares the ways byte for byte.
 *
 * Per (source IP, From domain) pair and ISP, ordered by source_ip,
 * header_from, ISP, so that a pair's rows come together.  DM_QUERY_FAILING
 * counts only mail that failed DMARC or was quarantined or rejected, and
 * keeps the pairs with such mail; reports is 0 without DM_QUERY_REPORTS.
 * DM_QUERY_RANK and DM_QUERY_REPORTS do not go together.
 */
int dm_query_pairs(struct dm_query *q, const struct dm_query_filter *f,
    unsigned flags, dm_query_pair_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/*
 * Evidence rows summed over the period (groups of messages with the same
 * evidence), largest first, then by source_ip; with DM_QUERY_PER_ROW one row
 * per stored row instead, in no given order.
 */
int dm_query_sources(struct dm_query *q, const struct dm_query_filter *f,
    unsigned flags, dm_query_source_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/* Source IPs whose first day falls in the period, most messages first. */
int dm_query_new_sources(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_new_source_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/*
 * Per ISP, over the same rows as dm_query_pairs (all of them; source_ip and
 * header_from are "", reports 0): most quarantined and rejected first, then
 * most messages, then by name.
 */
int dm_query_isp_sums(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_pair_cb cb, void *ctx, struct dm_error *err) DM_WUR;

/*
 * The reports behind each pair and ISP (per_pair), or behind each ISP
 * (source_ip and header_from then ""), ordered by source_ip, header_from, ISP,
 * then by begin and report_id.
 */
int dm_query_report_refs(struct dm_query *q, const struct dm_query_filter *f,
    int per_pair, dm_query_report_ref_cb cb, void *ctx,
    struct dm_error *err) DM_WUR;

/*
 * Copies the rollup rows of f (every column) into a temporary table that the
 * queries of a filter with kept set then read instead: a few pairs' rows read
 * three times (their sums, evidence and reports) cost one pass over the
 * period, not three.  Replaces the previous copy; within dm_query_begin() and
 * dm_query_end(), like the queries that read it.  DM_EDB.
 */
int dm_query_keep(struct dm_query *q, const struct dm_query_filter *f,
    struct dm_error *err) DM_WUR;

/*
 * What `dmarcstat enrich` found for ip (the host table): DM_OK with *h filled,
 * its strings borrowed until the next dm_query_host() or dm_query_close();
 * DM_DONE when ip was never looked up (*h then has only ip set).  DM_EDB.
 */
int dm_query_host(struct dm_query *q, const char *ip, struct dm_host *h,
    struct dm_error *err) DM_WUR;

typedef int (*dm_query_host_cb)(
    void *ctx, const struct dm_host *h, struct dm_error *err);

/*
 * What `dmarcstat enrich` found for the source IPs of the filter's pairs
 * (f->pairs, at least one), in one statement joining the host table with
 * them: a row per IP that has a host row, in address order, its strings
 * borrowed until the callback returns.  IPs never looked up give no row.
 * DM_EINVAL (no pairs, or too many), DM_EDB.
 */
int dm_query_hosts(struct dm_query *q, const struct dm_query_filter *f,
    dm_query_host_cb cb, void *ctx, struct dm_error *err) DM_WUR;

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

/*
 * *n = the reports without trustworthy dates (filed under DM_UNDATED_DAY,
 * core/model.h) that match the filter's domain and reporter, whatever its
 * period: they belong to none.  DM_EDB.
 */
int dm_query_undated(struct dm_query *q, const struct dm_query_filter *f,
    int64_t *n, struct dm_error *err) DM_WUR;

/*
 * The dated reports' days: *first the first day of the earliest, *end the
 * day after the last day of the latest (UTC day starts), so [*first, *end)
 * is every day a dated report covers; both 0 when no report is dated.  Any
 * domain or reporter is counted.  DM_EDB.
 */
int dm_query_span(struct dm_query *q, int64_t *first, int64_t *end,
    struct dm_error *err) DM_WUR;

/* The units a period is read in (dm_query_split). */
enum dm_query_unit {
	DM_QUERY_MONTHS, /* whole calendar months (rollup_failing_month) */
	DM_QUERY_WEEKS,  /* whole ISO weeks, Monday to Sunday
	                    (rollup_failing_week) */
	DM_QUERY_DAYS    /* single days (rollup_source) */
};

/* Days [from, to) read in one unit: from and to are bucket starts. */
struct dm_query_segment {
	enum dm_query_unit unit;
	int64_t from, to;
};

/* A period has at most two ragged ends with a week run and two day runs
 * each around one month run. */
#define DM_QUERY_SEGMENTS_MAX 7

/*
 * Splits the days [from, to) (UTC day starts; a time of day is rounded down
 * to its day) into the whole calendar months inside it, then the whole ISO
 * weeks inside what is left on either side, then the single days left at the
 * ends: runs of each, in day order, none empty, together every day of the
 * period exactly once.  Returns how many; 0 for an empty period.
 */
size_t dm_query_split(int64_t from, int64_t to,
    struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX]);

/*
 * As dm_query_split without weeks: the whole calendar months inside [from,
 * to), then the single days at either end (at most three runs), as
 * rollup_daily_month and rollup_daily are read.
 */
size_t dm_query_split_months(int64_t from, int64_t to,
    struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX]);

/* NULL is fine. */
void dm_query_close(struct dm_query *q);

#endif /* DM_QUERY_H */
