/*
 * explain_int.h - what explain.c and letter.c share; nothing else includes
 * it.
 */
#ifndef DM_EXPLAIN_INT_H
#define DM_EXPLAIN_INT_H

#include "report_int.h"

#include <stdio.h>

#include "i18n.h"

/* What explain keeps of a pair at an ISP, beyond pairs.c's counts. */
struct pair_detail {
	struct dm_buf evidence; /* lines, largest group first */
	size_t n_evidence;
	int64_t more_messages, more_groups; /* groups not shown */
	struct dm_buf refs;                 /* report ids, ", "-joined */
	size_t n_refs;
	int64_t reports;    /* all of them, listed or not */
	struct dm_buf orgs; /* "org <email>", "; "-joined */
	size_t n_orgs;
	struct dm_buf dkim_seen; /* "domain (selector s) result", ", " */
	struct dm_buf spf_seen;  /* "domain result", ", " */
	size_t n_dkim_seen, n_spf_seen;
};

/* "1 message", "2 messages" into buf, in the reader's language: one and
 * many are literal formats with one %lld (xgettext: dm_plural:2,3). */
#define dm_plural(n, one, many, buf, size)                                     \
	(snprintf((buf), (size), P_(one, many, (n)), (long long)(n)), (buf))

/* 1 when entry is in the list b joined by sep. */
int dm_list_has(const struct dm_buf *b, const char *sep, const char *entry);
/* Adds entry to a list joined by sep unless it is there; at most max. */
int dm_list_add(struct dm_buf *b, size_t *n, size_t max, const char *sep,
    const char *entry);

/* Adds a report to the ids (the first ten) and orgs of d. */
int dm_refs_add(struct pair_detail *d, const struct dm_query_report_ref *r);

/* "Mail from ... to ..., period, domain ...". */
void dm_explain_heading(struct out *o, const struct dm_report_options *opt);

/*
 * Writes a letter to the postmaster team of each ISP that quarantined or
 * rejected mail of f (of opt->reporter's only, when given), from the pairs x
 * kept and classified.  Everything said is a figure of the database.
 */
int dm_write_letters(struct out *o, struct dm_query *q,
    const struct dm_query_filter *f, const struct dm_report_options *opt,
    const struct pairs *x, struct dm_error *err);

#endif /* DM_EXPLAIN_INT_H */
