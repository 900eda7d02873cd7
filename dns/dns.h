/*
 * dns.h - what DNS says now: who is behind a source IP (enrichment), and
 * whether a domain's DMARC, SPF and DKIM records are right (checks).
 *
 * Every lookup goes through one c-ares channel, asynchronous and bounded: a
 * timeout per try, a number of tries, a cap on the IPs looked up at once and a
 * time budget for a whole enrichment; the resolver is the system's unless the
 * options name one (so tests run a DNS server on loopback).  SPF is evaluated
 * by libspf2 over that same channel; registrable domains come from libpsl with
 * Debian's public suffix list; ASN and country from the user's MaxMind-format
 * files (libmaxminddb); sending services from the services file of this module
 * (built in) and the user's own.  It reads the database only through sql/ and
 * is used by cli/ and report/, never by ingest/: nothing here runs while
 * reports are stored.
 *
 * Typical use:
 *   1. dm_dns_open() with the options; dm_dns_add_mmdb() and
 * dm_dns_add_services() for the user's files.
 *   2. dm_dns_enrich() to fill the host table of a store (or
 * dm_dns_lookup_hosts() for a list of IPs without a database);
 *      dm_dns_evidence_read() then dm_dns_check() and dm_dns_check_write()
 * per domain; dm_dns_service() and dm_dns_base_domain() for names.
 *   3. dm_dns_close().
 */
#ifndef DM_DNS_H
#define DM_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "model.h"
#include "query.h"
#include "store.h"

/* Defaults of struct dm_dns_options (0 there means these). */
#define DM_DNS_TIMEOUT_MS 2000 /* first try of a query; each retry doubles */
#define DM_DNS_TRIES 2
#define DM_DNS_MAX_SOURCES 50 /* failing sources a check evaluates */
#define DM_DNS_CONCURRENCY                                                     \
	64 /* IPs at once: dnsmasq on one socket drops                         \
	      packets from about 200 (bench/dns) */

struct dm_dns_options {
	/* "IP", "IP:PORT" or "[IPv6]:PORT"; NULL: the system's resolvers
	 * (/etc/resolv.conf). */
	const char *resolver;
	int timeout_ms;       /* 0: DM_DNS_TIMEOUT_MS */
	int tries;            /* 0: DM_DNS_TRIES */
	unsigned concurrency; /* 0: DM_DNS_CONCURRENCY */
};

struct dm_dns;

/*
 * Opens the channel and loads the public suffix list and the built-in services.
 * DM_EINVAL for a resolver that is not an IP address with an optional port
 * ("--resolver: not an IP address[:port]: \"x\""), DM_ENOMEM, DM_EIO when
 * c-ares cannot start.  On success *out is owned by the caller (dm_dns_close).
 */
int dm_dns_open(struct dm_dns **out, const struct dm_dns_options *opt,
    struct dm_error *err) DM_WUR;

/*
 * Adds a MaxMind-format database (GeoLite2/GeoIP2 ASN, Country or City, DB-IP
 * and IPinfo lite files) for ASN and country.  DM_DONE when the file does not
 * exist (no error: those columns stay empty), DM_EFORMAT naming the file when
 * it is not a readable MMDB.
 */
int dm_dns_add_mmdb(
    struct dm_dns *d, const char *path, struct dm_error *err) DM_WUR;

/*
 * Adds the sending services of a file in the services format (README), which
 * override built-in entries for the same domain.  DM_DONE when the file does
 * not exist; DM_EFORMAT naming the file, the line and the cause; DM_EIO.
 */
int dm_dns_add_services(
    struct dm_dns *d, const char *path, struct dm_error *err) DM_WUR;

/* NULL is fine. */
void dm_dns_close(struct dm_dns *d);

/* Writes the versions of the libraries dns/ runs with, as they report them at
 * run time: "c-ares/1.18.1 libpsl/0.21.2 libmaxminddb/1.7.1 libspf2/1.2.10
 * openssl/3.0.11". */
void dm_dns_versions(char *buf, size_t n);

/* ---- Names ---- */

/* Where dm_dns_geo copies the strings it sets. */
struct dm_dns_geo_buf {
	char as_org[256];
	char country[8];
};

/*
 * Fills what is unknown of h->asn (-1), h->as_org and h->country (NULL) from
 * the MMDB files added, the first file that knows a field giving it; the
 * strings point into b.  Reads local files only: no network.
 */
void dm_dns_geo(const struct dm_dns *d, const char *ip, struct dm_host *h,
    struct dm_dns_geo_buf *b);

/* A sending service: borrowed from the handle, valid until dm_dns_close. */
struct dm_dns_service {
	const char *domain; /* the entry's domain, e.g. "amazonses.com" */
	const char *name;   /* "Amazon SES" */
	const char *kind;   /* esp | mailbox | list | forwarder | gateway */
	const char *spf; /* the domain its customers include in SPF, or NULL */
};

/*
 * The service of name (a PTR name, DKIM d= or SPF domain): the entry for name
 * or its nearest parent domain ("a8-30.smtp-out.amazonses.com" finds
 * "amazonses.com").  Case and a trailing dot are ignored.  NULL when none.
 */
const struct dm_dns_service *dm_dns_service(
    const struct dm_dns *d, const char *name);

/*
 * The registrable domain of name by the public suffix list, lower-cased, into
 * out ("mail-ot1-f41.google.com" -> "google.com", "x.y.co.jp" -> "y.co.jp").
 * Returns out, or NULL (out empty) for an IP literal, a public suffix itself or
 * a name longer than size.
 */
const char *dm_dns_base_domain(
    const struct dm_dns *d, const char *name, char *out, size_t size);

/* ---- Enrichment ---- */

/*
 * Gets each host's answer, its strings borrowed until the callback returns.
 * An error return stops the lookups and is returned by the caller.
 */
typedef int (*dm_dns_host_cb)(
    void *ctx, const struct dm_host *h, struct dm_error *err);

/*
 * Looks up n IPs, at most the options' concurrency at once: PTR, then
 * forward-confirmation of up to four PTR names (A or AAAA resolving back to the
 * IP), the registrable domain and service of the first confirmed PTR name (else
 * the first), and ASN/country from the MMDB files.  h->checked_at is now.  A
 * failed lookup (timeout, server failure, refused) sets h->error ("PTR lookup:
 * timeout"); NXDOMAIN or no PTR record is an answer (h->ptr NULL).  Stops
 * starting IPs when the monotonic clock passes deadline_ms (0: no deadline) and
 * cancels those in flight: *done is the number of answers given (in any order;
 * the IPs not answered were not looked up to the end).  An IP that is not an
 * address is answered with error "not an IP address".  DM_ENOMEM, or the
 * callback's error.
 */
int dm_dns_lookup_hosts(struct dm_dns *d, const char *const *ips, size_t n,
    int64_t now, int64_t deadline_ms, dm_dns_host_cb cb, void *ctx,
    size_t *done, struct dm_error *err) DM_WUR;

/* The monotonic clock in milliseconds, for deadlines. */
int64_t dm_dns_clock_ms(void);

struct dm_dns_enrich_options {
	int64_t now; /* Unix seconds: checked_at, and what TTLs count from */
	int64_t ttl; /* seconds a row stays fresh; < 0: look every IP up */
	int64_t fail_ttl;  /* the same for rows whose lookup failed */
	int64_t budget_ms; /* stop after this long (0: no limit); what is left
	                      stays due */
};

struct dm_dns_enrich_stats {
	uint64_t due;        /* IPs without a fresh row */
	uint64_t looked_up;  /* of those, answered (and stored) */
	uint64_t ptr;        /* ... with a PTR name */
	uint64_t confirmed;  /* ... forward-confirmed */
	uint64_t failed;     /* ... whose lookup failed (error set) */
	uint64_t left;       /* due but not looked up: the budget ran out, or
	                        the resolver never answered */
	uint64_t unanswered; /* of those, failed before the resolver ever
	                        answered anything (not stored) */
	uint64_t services;   /* rows whose service changed with the services
	                        files, without a lookup */
};

/*
 * Brings the host table of s up to date: looks up every due IP
 * (dm_store_hosts_due) with dm_dns_lookup_hosts, stores each answer (committing
 * about every second, so an ingest beside it is never held up long), then sets
 * every row's service and kind from its PTR name with the current services.
 * DM_EDB (the store's message), DM_ENOMEM.  DNS failures are not errors: they
 * are counted in stats and stored in the rows.
 */
int dm_dns_enrich(struct dm_dns *d, struct dm_store *s,
    const struct dm_dns_enrich_options *opt, struct dm_dns_enrich_stats *stats,
    struct dm_error *err) DM_WUR;

/* ---- Checks ---- */

/* What the reports in the database say about one domain: a check's input.
 * Owned by the struct (dm_dns_evidence_free). */
struct dm_check_selector {
	char *domain,
	    *selector; /* DKIM d= (the domain or a subdomain) and s= */
	char *result;  /* the result reported most often */
	uint64_t messages;
};

struct dm_check_source {
	char *ip;
	char *spf_domain; /* the SPF domain (the domain or a subdomain) */
	char *result;     /* its SPF result in the reports: fail, softfail... */
	uint64_t messages;
	/* Of its messages, those whose DKIM signature of the domain passed:
	 * proof that it sends for the domain. */
	uint64_t dkim_aligned;
	/* The sending service seen for it: by its PTR name (host table), else
	 * by an unaligned DKIM d= or SPF domain of its mail; NULL when none. */
	const struct dm_dns_service *service;
	char *ptr; /* from the host table, or NULL */
};

struct dm_check_evidence {
	char *domain;
	int reported; /* 1 when the period has reports for the domain */
	/* Policy as last reported (NULL / -1 when not reported). */
	char *p, *sp;
	int pct;
	struct dm_check_selector *selectors;
	size_t n_selectors;
	struct dm_check_source *sources; /* sources that failed SPF, most
	                                    messages first */
	size_t n_sources;
};

/*
 * Reads from q the evidence for domain in [from, to) (UTC day starts): the
 * published policy of the last day reported, every DKIM selector of the
 * domain or its subdomains in mail from the domain, and the source IPs whose
 * SPF result for the domain (or a subdomain) was not pass, with their sending
 * service (the DM_DNS_MAX_SOURCES with the most messages).  DM_EDB,
 * DM_ENOMEM.  *out is owned by the caller.
 */
int dm_dns_evidence_read(struct dm_dns *d, struct dm_query *q,
    const char *domain, int64_t from, int64_t to,
    struct dm_check_evidence **out, struct dm_error *err) DM_WUR;

/*
 * The policy domains with reports in [from, to), sorted, each once: *out is an
 * array of *n strings owned by the caller (dm_dns_domains_free).  DM_EDB,
 * DM_ENOMEM.
 */
int dm_dns_reported_domains(struct dm_query *q, int64_t from, int64_t to,
    char ***out, size_t *n, struct dm_error *err) DM_WUR;
void dm_dns_domains_free(char **domains, size_t n);

/* Evidence with no reports behind it: the records are checked alone.
 * DM_EINVAL when domain is empty or too long. */
int dm_dns_evidence_empty(const char *domain, struct dm_check_evidence **out,
    struct dm_error *err) DM_WUR;

/* NULL is fine. */
void dm_dns_evidence_free(struct dm_check_evidence *ev);

/* How a check came out.  Ordered: a domain's status is its worst check's. */
enum dm_check_status {
	DM_CHECK_OK = 0,  /* right, as the reports saw it */
	DM_CHECK_CHANGED, /* right now, and different from what the reports
	                     saw (a fix was made, a policy changed) */
	DM_CHECK_WRONG,   /* something to fix: the fix says what */
	DM_CHECK_UNKNOWN  /* DNS did not answer (timeout, server failure) */
};

/*
 * One check.  check is a stable name: dmarc_record, dmarc_tag, dmarc_policy,
 * dmarc_destination, spf_record, spf_syntax, spf_lookups, spf_include, spf_ip,
 * dkim_key.  subject is what it is about (a DNS name, a tag, an IP, a
 * selector's name).  found is what DNS says now, in a sentence; fix what is
 * still to do (NULL when nothing).
 */
struct dm_check_item {
	const char *check;
	char *subject;
	enum dm_check_status status;
	char *found;
	char *fix;
};

struct dm_check_result {
	char *domain;
	struct dm_check_item *items;
	size_t n_items;
	enum dm_check_status status; /* the worst item's */
};

/*
 * Checks, now, the domain of ev: its DMARC record (at _dmarc.DOMAIN, else the
 * organisational domain's), every tag of it, the policy against the reported
 * one, and the verification record of each report destination in another
 * domain; its SPF record (one, valid, at most 10 DNS-querying terms over its
 * includes), each failing source of ev evaluated by libspf2, and the include of
 * each source's service; and the key of each DKIM selector of ev.  DNS failures
 * give DM_CHECK_UNKNOWN items, not errors.  DM_ENOMEM.  *out is owned by the
 * caller (dm_dns_check_free).
 */
int dm_dns_check(struct dm_dns *d, const struct dm_check_evidence *ev,
    struct dm_check_result **out, struct dm_error *err) DM_WUR;

/* The stable word of a status: ok, changed, wrong, unknown. */
const char *dm_check_status_name(enum dm_check_status s);

/*
 * Writes results as text (one block per domain, a fix under each wrong check)
 * or, with json, as one JSON document (README).  DNS text is made safe for a
 * terminal (control characters and invalid UTF-8 replaced) or escaped for
 * JSON.  DM_EIO naming nothing (the caller knows the file), DM_ENOMEM.
 */
int dm_dns_check_write(const struct dm_check_result *const *results, size_t n,
    int json, FILE *out, struct dm_error *err) DM_WUR;

/* NULL is fine. */
void dm_dns_check_free(struct dm_check_result *r);

#endif /* DM_DNS_H */
