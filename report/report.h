/*
 * report.h - deliverability reports: which ISPs quarantine or reject a domain's
 * mail, from which source IPs, and why, with the fix for each cause.
 *
 * report/ reads the database only through sql/query.h (the rollup tables the
 * store keeps, so a report costs the size of its period, not of the
 * database; SQL groups and sums, so memory does not grow with the number of
 * sources either) and knows nothing of XML.  It has three layers, each usable
 * on its own:
 *   - the cause classifier: a pure function over one record's evidence,
 * table-driven, giving a stable cause code, a plain-language explanation and a
 * fix (no database involved);
 *   - ISP names: report generators' org_name normalised to one name per ISP
 * ("Google Inc." and "google.com" are both Google);
 *   - reports and explanations: built from query results, written as text, CSV
 * (RFC 4180), JSON (documented in the README's JSON section) or one
 * self-contained HTML file. Everything from a report is attacker-controlled and
 * is escaped for the format it goes into; text and CSV replace control
 * characters, bidirectional controls and invalid UTF-8 (core/escape.h) so a
 * terminal or a spreadsheet cannot be driven or fooled by it.
 *
 * Typical use:
 *   1. dm_query_open() the database (sql/query.h).
 *   2. dm_report_build() with the period and filters, dm_report_write() in a
 * format, dm_report_free().  Or dm_report_explain() for one complaint (or a
 * letter to an ISP).
 *   3. dm_query_close().
 */
#ifndef DM_REPORT_H
#define DM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "mem.h"
#include "model.h"
#include "query.h"

/* ---- Causes ---- */

/*
 * Why a record failed DMARC, passed, or passed and was blocked anyway.  Append
 * only: the names are a stable contract (README.md lists each with its rule).
 */
enum dm_cause_code {
	DM_CAUSE_PASS = 0,     /* "pass": DKIM or SPF passed aligned */
	DM_CAUSE_FORWARDED,    /* "forwarded": the receiver says the mail was
	                          forwarded */
	DM_CAUSE_MAILING_LIST, /* "mailing_list": the receiver says a list
	                          relayed it, or the source is a known list */
	DM_CAUSE_LOCAL_POLICY, /* "local_policy": passed DMARC (or the receiver
	                          overrode the policy) and was blocked anyway */
	DM_CAUSE_TEMPERROR, /* "temperror": a DNS lookup failed temporarily */
	DM_CAUSE_PERMERROR, /* "permerror": a broken SPF record or DKIM key */
	DM_CAUSE_ESP_UNALIGNED, /* "esp_not_aligned": SPF and DKIM pass, both
	                           for other domains */
	DM_CAUSE_SPF_UNALIGNED, /* "spf_not_aligned": SPF passes for another
	                           domain only */
	DM_CAUSE_SPF_FAIL, /* "spf_fail": SPF fail/softfail for the sender's
	                      domain */
	DM_CAUSE_DKIM_UNALIGNED, /* "dkim_not_aligned": DKIM passes for another
	                            domain only */
	DM_CAUSE_DKIM_FAIL, /* "dkim_fail": the domain's own DKIM signature does
	                       not verify */
	DM_CAUSE_NO_DKIM,   /* "no_dkim": no DKIM signature and no SPF pass */
	DM_CAUSE_UNKNOWN,   /* "unknown": failed, and the results given do not
	                       say why */
	DM_CAUSE_LIST_OR_ESP, /* "list_or_esp": the domain's own signature fails
	                         while a relay's passes: a list that changed the
	                         message, or an ESP whose key is not published
	                       */
	DM_CAUSE_COUNT        /* number of causes; not a cause */
};

/*
 * What the source of a record is known to be.  The reports cannot tell a
 * mailing list from an ESP whose DKIM key for the customer is missing (both
 * relay the mail with the customer's signature failing and their own
 * passing); when the source is known (the host table's service of its IP, or
 * the service of a domain that authenticated the mail, from the services
 * file) the classifier names one cause instead of both.
 */
enum dm_service_kind {
	DM_SERVICE_UNKNOWN = 0,
	DM_SERVICE_ESP,      /* a sending service that signs for its
	                        customers */
	DM_SERVICE_LIST,     /* a mailing list: it changes the mail */
	DM_SERVICE_FORWARDER /* a forwarder: SPF checks its server, not the
	                        sender's */
};

/*
 * The kind of a service by its word in the services file: "esp" is ESP,
 * "list" LIST, "forwarder" FORWARDER; anything else ("mailbox", which also
 * forwards its users' mail, "gateway", NULL) UNKNOWN, which leaves the
 * classifier to the reports.
 */
enum dm_service_kind dm_service_kind_of(const char *kind);

/*
 * One record's evidence, as a report gives it.  All pointers are borrowed; any
 * may be NULL. dkim and spf are policy_evaluated (aligned) results; the arrays
 * are the raw auth_results.
 */
struct dm_evidence {
	const char *header_from, *envelope_from;
	const char *disposition, *dkim, *spf;
	const struct dm_dkim_result *dkim_results;
	size_t n_dkim;
	const struct dm_spf_result *spf_results;
	size_t n_spf;
	const struct dm_reason *reasons;
	size_t n_reasons;
	const char *p,
	    *testing; /* published policy: p= and RFC 9990 testing= ("y"/"n") */
	const char *adkim,
	    *aspf; /* "s" for strict alignment, anything else is relaxed */
	const char *source_ip;        /* as stored, or NULL */
	enum dm_service_kind service; /* what the source is known to be */
	const char *service_name; /* its name ("Benchmark Email"), or NULL */
};

/*
 * A classification.  domain is the other domain involved (the ESP's bounce or
 * signing domain, the domain whose SPF failed...), borrowed from the evidence,
 * or NULL.  not_enforced is 1 when the mail failed DMARC but the published
 * policy asked receivers to do nothing (p=none or testing=y), which the
 * explanation then says.
 */
struct dm_cause {
	enum dm_cause_code code;
	const char *domain;
	int not_enforced;
	int dmarc_pass; /* the record passed DMARC (local_policy: blocked
	                   anyway) */
};

/* Classifies one record.  Pure: no allocation, no failure. */
struct dm_cause dm_cause_classify(const struct dm_evidence *ev);

/* The stable snake_case name of a code ("spf_not_aligned"); NULL when out of
 * range. */
const char *dm_cause_name(enum dm_cause_code code);

/*
 * Appends the plain-language explanation and the fix for a cause, in sentences
 * a support agent can paste to a customer.  ev must be the evidence given to
 * dm_cause_classify.  Either buffer may be NULL.  DM_OK, DM_ENOMEM or DM_ELIMIT
 * (the buffer's cap).
 */
int dm_cause_explain(const struct dm_cause *c, const struct dm_evidence *ev,
    struct dm_buf *explanation, struct dm_buf *fix);

/*
 * Organisational domain (RFC 7489 section 3.2): the longest public suffix of
 * domain plus one label, from the whole Public Suffix List (libpsl), in lower
 * case without a trailing dot; a public suffix or an address literal is its
 * own.  Writes at most size bytes (NUL included) into out and returns out; ""
 * for NULL.  Safe to call from several threads.
 */
const char *dm_org_domain(const char *domain, char *out, size_t size);

/* 1 when a and b align: equal (case-insensitive) when strict, same
 * organisational domain otherwise (RFC 7489 section 3.1).  0 when either is
 * NULL or empty. */
int dm_domains_aligned(const char *a, const char *b, int strict);

/* ---- ISP names ---- */

/*
 * The ISP a report generator belongs to: "google.com", "Google Inc." ->
 * "Google"; "Outlook.com", "Enterprise Outlook" -> "Microsoft"; "AOL", "Yahoo!
 * Inc." -> "Yahoo"; ... (case-insensitive, surrounding spaces ignored).  An
 * unknown name is returned as given; NULL gives "(unknown)". The result is a
 * static string or org_name itself.
 */
const char *dm_isp_name(const char *org_name);

struct dm_query;
/*
 * DM_OK when some stored report comes from reporter, compared as the reports'
 * filter does (an ISP name or an org_name, ASCII case ignored); else DM_EINVAL
 * with a message naming the closest ISPs ("did you mean Google?") or, when
 * none is close, those that have reported.  DM_EDB, DM_ENOMEM.
 */
int dm_report_check_reporter(
    struct dm_query *q, const char *reporter, struct dm_error *err);

/* ---- Reports ---- */

enum dm_report_format {
	DM_REPORT_TEXT = 0,
	DM_REPORT_CSV,
	DM_REPORT_JSON,
	DM_REPORT_HTML
};

/* Rows a section lists when the caller does not say (dm_report_options.top). */
#define DM_REPORT_TOP 100
/* The most rows a caller may ask for per section. */
#define DM_REPORT_TOP_MAX 1000
/*
 * The most (source IP, From domain) pairs a report holds in all: with
 * by_domain, top domains of top pairs each are cut to this.  Memory stays
 * within a few tens of MiB whatever the database holds.
 */
#define DM_REPORT_PAIRS_MAX 10000

/* The most From domains a report or explanation checks in DNS (check_dns):
 * each costs a few lookups, and a timeout each when DNS does not answer. */
#define DM_REPORT_CHECKS_MAX 20

/* One check of a From domain's DNS records now, as `dmarcstat check` makes
 * it: check is its stable name (dmarc_record, spf_include, dkim_key...),
 * status ok, changed, wrong or unknown, fix NULL when nothing is to do.
 * Strings are borrowed for the callback. */
struct dm_report_check {
	const char *domain, *check, *subject, *status, *found, *fix;
};

typedef int (*dm_report_check_cb)(
    void *ctx, const struct dm_report_check *c, struct dm_error *err);

/* What to report on.  Strings are borrowed for the duration of the call that
 * takes them. */
struct dm_report_options {
	int64_t from, to;   /* UTC day boundaries (multiples of DM_DAY_SECONDS),
	                       from < to;   [from, to) */
	const char *domain; /* policy or header-from domain, or NULL for all */
	const char *reporter; /* ISP name ("Yahoo") or org_name as reported, or
	                         NULL for all */
	const char *ip;       /* explain only: "203.0.113.7" or a CIDR
	                         "2001:db8::/32"; NULL: all */
	size_t top;    /* rows listed per section (the rest are summed as "and N
	                  more"); 0: DM_REPORT_TOP; at most DM_REPORT_TOP_MAX */
	int by_domain; /* report: failing sources per From domain, one page each
	                */
	int by_service; /* report: failing sources per sending service */
	int letter;     /* explain: a letter to each ISP's postmaster instead */
	/*
	 * The sending service of a domain (a DKIM d= or an SPF domain that
	 * passed for mail of another From domain), for sources whose IP has no
	 * service in the host table: its name, with *kind set; NULL when the
	 * domain is no known service.  NULL hook: sources are known by their
	 * IP only.  service_ctx is passed through.
	 */
	const char *(*service_of)(
	    void *service_ctx, const char *domain, enum dm_service_kind *kind);
	void *service_ctx;
	/*
	 * ASN, AS organisation and country of a source IP where the host table
	 * leaves them unknown (no row, or enrich ran without MMDB files):
	 * fills what is unknown of h (asn -1, as_org and country NULL), its
	 * strings valid until the next call.  NULL hook: the host table's
	 * alone.  geo_ctx is passed through.
	 */
	void (*geo_of)(void *geo_ctx, const char *ip, struct dm_host *h);
	void *geo_ctx;
	/*
	 * Checks, now, the DNS records of domain (the reports of [from, to) of
	 * q saying which selectors and sources to test), handing each check to
	 * cb with cb_ctx; DM_OK, or an error that ends the report.  When set,
	 * report and explain check the From domains of the failing pairs they
	 * show (at most DM_REPORT_CHECKS_MAX) and show the results: whether
	 * the fixes they recommend are in DNS now.  check_ctx is passed
	 * through.
	 */
	int (*check_dns)(void *check_ctx, struct dm_query *q,
	    const char *domain, int64_t from, int64_t to, dm_report_check_cb cb,
	    void *cb_ctx, struct dm_error *err);
	void *check_ctx;
};

struct dm_report;

/*
 * Parses "YYYY-MM-DD" (a UTC day start) or a number of Unix seconds into *out.
 * DM_EINVAL with a message naming the value otherwise.
 */
int dm_report_parse_time(const char *s, int64_t *out, struct dm_error *err);

/*
 * Builds every section for the period and the period of the same length just
 * before it. Errors: DM_EDB (the query failed), DM_ENOMEM, DM_EINVAL (from >=
 * to, not whole days). On success *out is owned by the caller (dm_report_free).
 */
int dm_report_build(struct dm_query *q, const struct dm_report_options *opt,
    struct dm_report **out, struct dm_error *err) DM_WUR;

/*
 * The section names accepted by dm_report_write's table argument (CSV): a
 * NULL-terminated static array: overview, isps, sources, source_isps,
 * new_sources, silent_isps, domains, daily.
 */
const char *const *dm_report_tables(void);

/*
 * Writes the report.  table picks one section and is only meaningful for
 * CSV; NULL writes all sections (for CSV: in one table with a leading
 * "section" column and the union of the sections' columns).  Every CSV row
 * starts with the period's first and last day.  color adds ANSI colours to
 * text output.  Errors: DM_EINVAL (unknown table), DM_EIO (writing failed),
 * DM_ENOMEM.
 */
int dm_report_write(const struct dm_report *r, enum dm_report_format fmt,
    const char *table, int color, FILE *out, struct dm_error *err) DM_WUR;

/*
 * Appends a mail subject for r to out: the period, the filters and the
 * headline figures, e.g. "DMARC 2026-11-01 to 2026-11-07: 22,529 messages,
 * 75.8 % pass, 120 quarantined, 3,480 rejected" ("DMARC example.com at Yahoo
 * ..." with filters).  Filters are made safe as text output is.  DM_ENOMEM.
 */
int dm_report_subject(const struct dm_report *r, struct dm_buf *out) DM_WUR;

void dm_report_free(struct dm_report *r);

/*
 * Answers one complaint in plain text: for the (source IP, From domain) pairs
 * matching opt->ip (all when NULL) and the domain, at the ISPs matching
 * opt->reporter: per pair its cause and fix, and per pair and ISP the days,
 * the reports (ids, reporting org and its address), what the ISP did with the
 * mail, and the evidence (raw and aligned results, DKIM domains and selectors,
 * envelope_from, override reasons).  With opt->letter, a plain-text letter to
 * each ISP's postmaster team that blocked mail instead: the ISP's own figures
 * for those sources, facts from the database only.  Pairs beyond opt->top are
 * summed as "and N more".  Errors: DM_EINVAL (bad IP or CIDR), DM_EDB,
 * DM_EIO, DM_ENOMEM.
 */
int dm_report_explain(struct dm_query *q, const struct dm_report_options *opt,
    FILE *out, struct dm_error *err) DM_WUR;

/* ---- Alerts ---- */

/* Defaults of dm_alert_options. */
#define DM_ALERT_THRESHOLD 100 /* tenths of a percentage point: 10 points */
#define DM_ALERT_MIN_MESSAGES 100

struct dm_alert_options {
	int64_t threshold;    /* a rate must change by more than this, in
	                         tenths of a percentage point */
	int64_t min_messages; /* rates are compared when both periods have at
	                         least this many messages; a new source alerts
	                         with this many failing, a silent ISP when it
	                         reported this many before */
	const char *db;       /* named in the commands to run next, or NULL */
};

/*
 * Compares the period [opt->from, opt->to) with the period of the same
 * length before it (opt->domain filters; the other options are not used but
 * service_of) and writes the alerts as text (nothing at all when there are
 * none) or as one JSON document (always) to out; *n is how many.  Kinds:
 * new_failing_source, isp_blocking_rose, source_pass_fell, domain_pass_fell,
 * isp_silent (README).  Errors: DM_EINVAL (a format other than text or
 * JSON), DM_EDB, DM_EIO, DM_ENOMEM.
 */
int dm_report_alerts(struct dm_query *q, const struct dm_report_options *opt,
    const struct dm_alert_options *ao, enum dm_report_format fmt, FILE *out,
    size_t *n, struct dm_error *err) DM_WUR;

#endif /* DM_REPORT_H */
