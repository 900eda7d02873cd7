/*
 * dns_int.h - what dns/'s own files share; nothing outside dns/ includes it.
 *
 * resolver.c  the c-ares channel: options, queries, the event loop, TXT records
 * names.c     the handle, public suffixes (libpsl), MMDB files (libmaxminddb)
 * services.c  the services table: built-in file, the user's, lookups
 * enrich.c    PTR + forward confirmation per IP, concurrent; the host table
 * spf.c       libspf2 over our channel; SPF records and their lookup count
 * check.c     a domain's checks and their items
 * dmarc.c     the DMARC checks: the record, its tags, policy, report
 * destinations spfcheck.c  the SPF checks: the record, the count, includes,
 * failing sources dkim.c      the DKIM checks: key records, key type and size
 * (OpenSSL) evidence.c  what the reports say about a domain, read from the
 * database write.c     check results as text or JSON
 */
#ifndef DM_DNS_INT_H
#define DM_DNS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <netdb.h>
#include <sys/select.h> /* ares.h uses fd_set without including it */

#include <ares.h>

#include "dns.h"
#include "mem.h"

struct services;
struct spf_ctx;
struct MMDB_s;
struct psl_ctx_st;

struct dm_dns {
	ares_channel ch;
	int timeout_ms, tries;
	unsigned concurrency;
	unsigned pending;  /* queries in flight */
	uint64_t answered; /* replies received (an NXDOMAIN is a reply) */
	uint64_t timeouts; /* queries that got no reply */
	const struct psl_ctx_st *psl;
	struct services *svc;
	struct MMDB_s *mmdb;
	size_t n_mmdb;
	struct spf_ctx *spf; /* libspf2, made on first use */
};

/* ---- resolver.c ---- */

/* A finished query: status is an ARES_* code; abuf is borrowed. */
typedef void (*dns_reply_cb)(
    void *arg, int status, const unsigned char *abuf, int alen);

/* Opens d->ch from opt; DM_EINVAL (bad resolver), DM_EIO, DM_ENOMEM. */
int dns_channel_open(
    struct dm_dns *d, const struct dm_dns_options *opt, struct dm_error *err);
void dns_channel_close(struct dm_dns *d);

/*
 * Sends a query (class IN) for name; cb gets the reply, or ARES_ETIMEOUT
 * without a query when the resolver never answered anything and several
 * queries timed out already (dns_unreachable), or ARES_ENOMEM.  cb may run
 * before dns_query returns.
 */
void dns_query(
    struct dm_dns *d, const char *name, int type, dns_reply_cb cb, void *arg);

/* PTR query for the address of family AF_INET or AF_INET6. */
void dns_query_ptr(
    struct dm_dns *d, int family, const void *addr, dns_reply_cb cb, void *arg);

/* Waits for sockets or timeouts once (at most until deadline_ms, 0: none) and
 * lets c-ares process what came. */
void dns_wait_once(struct dm_dns *d, int64_t deadline_ms);

/* Cancels every query in flight: their callbacks get ARES_ECANCELLED. */
void dns_cancel(struct dm_dns *d);

/* 1 when the resolver never answered and queries timed out: give up early. */
int dns_unreachable(const struct dm_dns *d);

/* 1 for statuses that say DNS failed (no answer, server failure, refused),
 * 0 for answers, NXDOMAIN and NODATA included. */
int dns_status_failed(int status);

/* "timeout", "server failure", "no such name", "no such record"... */
const char *dns_status_text(int status);

/* A reply copied out of c-ares, for the blocking calls below. */
struct dns_reply {
	int status;
	unsigned char *abuf; /* owned */
	int alen;
	int done;
};

/* Sends a query and waits for its reply; r is owned by the caller
 * (dns_reply_free). */
void dns_query_wait(
    struct dm_dns *d, const char *name, int type, struct dns_reply *r);
void dns_reply_free(struct dns_reply *r);

/* The TXT records of a name, each record's strings joined (RFC 7208 3.3). */
struct dns_txt {
	int status;  /* ARES_SUCCESS, ARES_ENOTFOUND, ARES_ENODATA, or a failure
	              */
	char **recs; /* n NUL-terminated records, owned */
	size_t n;
};

/* DM_OK or DM_ENOMEM; DNS failures are in t->status. */
int dns_txt(struct dm_dns *d, const char *name, struct dns_txt *t);
/* The same from a reply already received. */
int dns_txt_parse(const unsigned char *abuf, int alen, struct dns_txt *t);
void dns_txt_free(struct dns_txt *t);

/* ---- services.c ---- */

/* Parses the built-in services file; DM_ENOMEM or DM_EFORMAT (a bug). */
int services_init(struct dm_dns *d, struct dm_error *err);
void services_free(struct services *s);

/* ---- names.c ---- */

/* Copies name lower-cased without a trailing dot into out (size bytes); 0 on
 * success, -1 when it does not fit or is empty. */
int name_normalise(const char *name, char *out, size_t size);

/* Strips spaces, tabs and CRs around s, in place; returns where it starts. */
char *text_trim(char *s);

/* ---- spf.c ---- */

void spf_free(struct spf_ctx *s);

/*
 * libspf2's result for mail from ip with the envelope domain domain: "pass",
 * "fail", "softfail", "neutral", "none", "permerror" or "temperror"; why gets
 * libspf2's reason when it gives one.  NULL when out of memory.
 */
const char *spf_evaluate(struct dm_dns *d, const char *ip, const char *domain,
    char *why, size_t size);

/* A domain's SPF record and everything it includes. */
struct spf_tree {
	int status;      /* the TXT lookup of the domain (ARES_*) */
	int n_records;   /* SPF records among its TXT records */
	char *record;    /* the record, when there is exactly one */
	char *syntax;    /* libspf2's errors about it, or NULL */
	int lookups;     /* DNS-querying terms over the whole tree */
	char **includes; /* include: and redirect= targets, lower case */
	size_t n_includes;
	char *problem;  /* the first broken record included, or NULL */
	int dns_failed; /* a lookup of the tree failed */
	char **visited; /* domains whose records were read */
	size_t n_visited;
};

/* Reads the tree of domain; DM_OK or DM_ENOMEM (DNS failures are in t). */
int spf_tree_read(struct dm_dns *d, const char *domain, struct spf_tree *t);
/* 1 when the tree includes (or redirects to) domain. */
int spf_tree_includes(const struct spf_tree *t, const char *domain);
void spf_tree_free(struct spf_tree *t);

/* ---- check.c: a check run, and adding its items ---- */

struct check_run {
	struct dm_dns *d;
	const struct dm_check_evidence *ev;
	struct dm_check_result *r;
	int rc; /* DM_OK, or DM_ENOMEM once an allocation failed */
};

/*
 * Appends an item (subject copied, may be NULL) with its found text; NULL
 * (and c->rc set) when out of memory.  The pointer is valid until the next
 * item is added.
 */
struct dm_check_item *item_add(struct check_run *c, const char *check,
    const char *subject, enum dm_check_status status, const char *fmt, ...)
    DM_PRINTF(5, 6);

/* Sets the fix of an item (it may be NULL: nothing happens). */
void item_fix(struct check_run *c, struct dm_check_item *it, const char *fmt,
    ...) DM_PRINTF(3, 4);

/* An item for a lookup that failed: DM_CHECK_UNKNOWN, "DNS: timeout". */
void item_dns_failed(
    struct check_run *c, const char *check, const char *subject, int status);

/* ---- the checks of each kind ---- */
void check_dmarc(struct check_run *c);
void check_spf(struct check_run *c);
void check_dkim(struct check_run *c);

#endif /* DM_DNS_INT_H */
