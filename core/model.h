/*
 * model.h - a DMARC aggregate report as dmarcstat understands it, and the
 * record sink.
 *
 * One struct dm_feedback is one <feedback> document (RFC 7489 appendix C, RFC
 * 9990).  Records are not kept in it: the parser hands each <record> to a
 * struct dm_sink as soon as it closes, so a million-record report needs the
 * memory of one record.  Everything here is plain data; strings are UTF-8,
 * already normalised by the parser (trimmed, lower-cased where the RFC defines
 * a keyword), and NULL where the report did not give a value.  Nothing is
 * invented: a value that was present but unusable is NULL too, and the fix-up
 * that dropped it is counted.
 *
 * Typical use (a sink):
 *   1. begin() gets the report metadata and published policy, before the
 *      first record.
 *   2. record() gets each record, borrowed until it returns.
 *   3. end() gets the complete feedback again (top-level extensions, all
 *      fix-ups, totals).
 * A parse that fails after begin() calls no end(); the caller rolls back what
 * the sink did.
 */
#ifndef DM_MODEL_H
#define DM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Which schema the document follows, judged by namespace, <version> and
 * elements seen. */
enum dm_schema {
	/* No <version>, no namespace: the pre-RFC draft most reporters still
	 * send. */
	DM_SCHEMA_DRAFT = 0,
	/* <version>1.0</version> or the dmarc-xml/0.1 namespace. */
	DM_SCHEMA_RFC7489,
	/* urn:ietf:params:xml:ns:dmarc-2.0 or <version>2.0</version>. */
	DM_SCHEMA_RFC9990
};

/*
 * Normalisations applied to real-world quirks.  Each is counted per report; the
 * names (see dm_fixup_name) are a stable contract shown to users and stored in
 * the database.  Append only.  Each value's comment starts with its name.
 */
enum dm_fixup {
	/* "bom": byte order mark before the XML declaration */
	DM_FIXUP_BOM = 0,
	/* "leading_whitespace": blank lines before <?xml */
	DM_FIXUP_LEADING_SPACE,
	/* "timestamp_ms": date_range in milliseconds */
	DM_FIXUP_TIMESTAMP_MS,
	/* "date_invalid": begin/end not a plausible Unix time */
	DM_FIXUP_DATE_INVALID,
	/* "result_case": "Pass", "FAIL" ... lower-cased */
	DM_FIXUP_RESULT_CASE,
	/* "spf_hardfail": SPF "hardfail" read as "fail" */
	DM_FIXUP_SPF_HARDFAIL,
	/* "empty_sp": <sp></sp> read as absent */
	DM_FIXUP_EMPTY_SP,
	/* "reason_text_only": <reason>forwarded</reason> without <type> */
	DM_FIXUP_REASON_TEXT_ONLY,
	/* "legacy_np": <np> in a pre-RFC 9990 report */
	DM_FIXUP_LEGACY_NP,
	/* "count_decimal": <count>3.0</count> */
	DM_FIXUP_COUNT_DECIMAL,
	/* "count_invalid": <count> missing, negative, not a number or over
	 * DM_MAX_RECORD_COUNT */
	DM_FIXUP_COUNT_INVALID,
	/* "control_chars": control characters dropped from text */
	DM_FIXUP_CONTROL_CHARS,
	/* "identities": pre-RFC <identities> spelling of <identifiers> */
	DM_FIXUP_IDENTITIES,
	/* "ip_invalid": <source_ip> missing or not an IP address */
	DM_FIXUP_IP_INVALID,
	/* "ip_mapped": ::ffff:192.0.2.1 read as 192.0.2.1 */
	DM_FIXUP_IP_MAPPED,
	/* "ip_canonical": IPv6 rewritten in RFC 5952 form, leading zeros */
	DM_FIXUP_IP_CANONICAL,
	/* "alignment_word": adkim/aspf "relaxed"/"strict" read as r/s */
	DM_FIXUP_ALIGNMENT_WORD,
	/* "value_invalid": unknown keyword (p, adkim, disposition, ...) */
	DM_FIXUP_VALUE_INVALID,
	/* "pct_invalid": <pct> not an integer 0-100 */
	DM_FIXUP_PCT_INVALID,
	/* "unknown_element": element outside both schemas, skipped */
	DM_FIXUP_UNKNOWN_ELEMENT,
	/* "foreign_namespace": <feedback> in another namespace than both
	 * schemas' (e.g. dmarc-xml/0.2), read as DMARC for its structure */
	DM_FIXUP_FOREIGN_NAMESPACE,
	/* "invalid_utf8": bytes that are not UTF-8 (a windows-1252 quote in a
	 * UTF-8 report) each read as U+FFFD */
	DM_FIXUP_INVALID_UTF8,
	/* the number of fix-ups; not a fix-up */
	DM_FIXUP_COUNT
};

/* The stable name of a fix-up ("timestamp_ms"); NULL when out of range. */
const char *dm_fixup_name(enum dm_fixup f);

struct dm_policy {
	const char *domain;
	/* "none" | "quarantine" | "reject" */
	const char *p, *sp, *np;
	/* "r" | "s" */
	const char *adkim, *aspf;
	/* 0-100; -1 when absent (RFC 9990 removed it) */
	int pct;
	/* as published, e.g. "0", "1:d" */
	const char *fo;
	/* RFC 9990 "y" | "n" */
	const char *testing;
	/* RFC 9990 "psl" | "treewalk" */
	const char *discovery_method;
};

/* A DKIM <auth_results> entry. */
struct dm_dkim_result {
	const char *domain, *selector, *result, *human_result;
};

/* An SPF <auth_results> entry.  scope is "mfrom" | "helo" or NULL (often
 * missing). */
struct dm_spf_result {
	const char *domain, *scope, *result, *human_result;
};

/* A <policy_evaluated><reason>: type is forwarded, sampled_out,
 * trusted_forwarder, mailing_list, local_policy, policy_test_mode or other. */
struct dm_reason {
	const char *type, *comment;
};

struct dm_record {
	/* 1-based position in the report, for messages */
	uint64_t index;
	/* canonical text (inet_ntop), NULL if missing or invalid */
	const char *source_ip;
	/* -1 when missing or invalid (see DM_FIXUP_COUNT_INVALID) */
	int64_t count;
	/* none | quarantine | reject | pass (RFC 9990) */
	const char *disposition;
	/* policy_evaluated: "pass" | "fail" */
	const char *dkim, *spf;
	const struct dm_reason *reasons;
	size_t n_reasons;
	const char *header_from, *envelope_from, *envelope_to;
	const struct dm_dkim_result *dkim_results;
	size_t n_dkim;
	const struct dm_spf_result *spf_results;
	size_t n_spf;
	/* record-level <extensions>/<extension> as raw XML, or NULL */
	const char *extensions;
};

/* A day in Unix time (UTC; Unix time has no leap seconds): reports' date
 * ranges are cut into days of this length. */
#define DM_DAY_SECONDS 86400

/*
 * Reports whose dates cannot be trusted (no <begin>, a <begin> before
 * DM_FIRST_DATED such as 0, or an <end> before <begin>: test and junk
 * generators) are stored, but their rollups are filed under the day
 * DM_UNDATED_DAY, which no report period can include: never on the day they
 * arrived.  DMARC was published in 2012; 2000-01-01 leaves room for broken
 * clocks of real generators without taking 1970.
 */
#define DM_UNDATED_DAY 0
#define DM_FIRST_DATED 946684800 /* 2000-01-01T00:00:00Z */

struct dm_feedback {
	enum dm_schema schema;
	/* <version> as given, or NULL */
	const char *version;
	const char *org_name, *email, *extra_contact_info, *report_id;
	/* Unix seconds, UTC; -1 when absent or invalid */
	int64_t begin, end;
	/* <report_metadata><error> values */
	const char *const *errors;
	size_t n_errors;
	/* RFC 9990 <generator>, or NULL */
	const char *generator;
	struct dm_policy policy;
	/* top-level extensions as raw XML (complete only in end()) */
	const char *extensions;
	/* times each fix-up was applied (complete only in end()) */
	uint32_t fixups[DM_FIXUP_COUNT];
	/* records delivered so far (total in end()) */
	uint64_t n_records;
	/* sum of valid counts so far (total in end()) */
	uint64_t total_count;
};

/*
 * What DNS and the user's MMDB files say about a source IP: one row of the
 * host table (sql/migrate_v5.sql), filled by dns/ and read by report/.
 * Strings are lower-case where DNS names, NULL when unknown.
 */
struct dm_host {
	const char *ip;          /* as in dm_record.source_ip */
	const char *ptr;         /* first reverse DNS name, no trailing dot */
	int confirmed;           /* 1: ptr resolves back to ip; 0: it does not;
	                            -1: no ptr to confirm */
	const char *base_domain; /* registrable domain of ptr */
	const char *service;     /* sending service of ptr (services file) */
	const char *kind; /* esp | mailbox | list | forwarder | gateway */
	int64_t asn;      /* -1 when unknown */
	const char *as_org;
	const char *country; /* ISO 3166-1 alpha-2 */
	int64_t checked_at;  /* Unix seconds of the lookup */
	const char *error;   /* NULL when DNS answered; else what failed */
};

/*
 * Where parsed reports go.  Each callback returns DM_OK to go on or an error to
 * stop the parse (which then returns that error, with the sink's message).
 * begin() may return DM_DONE to say "I do not want this report's records" (a
 * duplicate): the parse goes on to validate the document but calls record() no
 * more, and still calls end().  All pointers are borrowed until the callback
 * returns; a sink copies what it keeps.  Any callback may be NULL.
 */
struct dm_sink {
	void *ctx;
	int (*begin)(
	    void *ctx, const struct dm_feedback *fb, struct dm_error *err);
	int (*record)(void *ctx, const struct dm_feedback *fb,
	    const struct dm_record *rec, struct dm_error *err);
	int (*end)(
	    void *ctx, const struct dm_feedback *fb, struct dm_error *err);
};

#endif /* DM_MODEL_H */
