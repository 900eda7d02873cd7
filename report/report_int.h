/*
 * report_int.h - what report/'s own files share; nothing outside report/
 * includes it.
 *
 * A built report is a list of sections, each a table of typed cells.  build.c
 * and pairs.c fill them from the queries; every renderer walks the same
 * tables, so the formats cannot disagree on a number and a new section appears
 * in all of them at once.  A cell may hold rows of another section (a pair's
 * ISPs, a domain's sources), which JSON writes as a nested array.
 *
 * build.c    queries -> sections          text.c  terminal tables (100 columns)
 * pairs.c    (source IP, From domain)     csv.c   RFC 4180
 *            pairs: kept, classified      json.c  one JSON document
 * sources.c  the failing sources rows     html.c  one self-contained HTML file
 * explain.c  `dmarcstat explain`          out.c   output buffer, safe text
 * letter.c   explain --letter               period.c the series' buckets
 */
#ifndef DM_REPORT_INT_H
#define DM_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

enum cell_kind {
	CELL_NULL = 0, /* no value (a rate over zero messages) */
	CELL_STR,      /* text from a report or ours: always escaped */
	CELL_INT,      /* a count */
	CELL_PERMILLE, /* a rate in tenths of a percent: 973 is 97.3 % */
	CELL_DELTA,    /* a signed change of a count */
	CELL_DELTA_PM, /* a signed change of a rate, in tenths of a percentage
	                  point */
	CELL_DAY,      /* a UTC day start, shown as YYYY-MM-DD */
	CELL_ROWS      /* rows i .. i + n - 1 of the section the column names */
};

struct cell {
	enum cell_kind kind;
	int64_t i;
	size_t n; /* CELL_ROWS: how many rows */
	char *s;  /* owned, CELL_STR only */
};

/* The renderers, as a mask: which of them show a column or a section. */
enum {
	F_TEXT = 1,
	F_HTML = 2,
	F_CSV = 4,
	F_JSON = 8,
	F_ALL = F_TEXT | F_HTML | F_CSV | F_JSON,
	F_HIDDEN = 16 /* a section no renderer shows (services without
	                 by_service) */
};

/* How a column shows.  key is its stable name in JSON and the CSV header. */
/* Between the items of a list column's string (struct column): a control
 * character, which no item keeps (renderers show it as '?'). */
#define DM_LIST_SEP '\037'

struct column {
	const char *key, *title;
	int numeric;   /* right-aligned */
	int detail;    /* text and HTML: a wrapped line under the row, not a
	                  column */
	int alarm;     /* a non-zero value is coloured */
	int max_width; /* text output: longer values are cut with "..." (0: no
	                  cap) */
	unsigned formats; /* F_* of the renderers that show it; 0: all */
	int parent_key;   /* nested in JSON: left out, the parent row says it */
	int list; /* the string is a list, DM_LIST_SEP between its items: a JSON
	             array, "; " between them in CSV */
	int note; /* a detail line only some rows have: text puts no blank
	             line around its row */
	int sub;  /* CELL_ROWS: the section (SEC_*) the rows are of */
};

/* Rows a section leaves out ("and 12 more sources"), with their sums. */
struct more {
	int64_t rows, messages, quarantined, rejected;
};

/*
 * Text and HTML show the rows of a grouped section under a heading per group
 * (a source IP and its From domains; a From domain and its sources): a group
 * starts at row0 and may leave rows out of its own.
 */
struct group {
	size_t row0;
	char *heading;
	struct more more;
};

struct section {
	const char *name, *title,
	    *empty;       /* empty: the sentence shown when there are no rows */
	const char *noun; /* what a row is, for "and N more <noun>" */
	const struct column *cols;
	struct column *own_cols; /* cols in the reader's language, owned */
	size_t n_cols;
	unsigned formats;   /* F_* of the renderers that show it; 0: all */
	int group_col;      /* the column whose value heads groups; -1: none */
	struct cell *cells; /* n_rows * n_cols, row-major */
	size_t n_rows, cap_rows;
	struct more more;
	struct group *groups;
	size_t n_groups, cap_groups;
};

enum {
	SEC_OVERVIEW = 0,
	SEC_ISPS,
	SEC_SOURCES,
	SEC_SOURCE_ISPS,
	SEC_SERVICES,
	SEC_NEW_SOURCES,
	SEC_SILENT_ISPS,
	SEC_DOMAINS,
	SEC_DAILY,
	SEC_DNS,
	SEC_DNS_CHECKS,
	SEC_ISP_DAILY,
	SEC_COUNT
};

/* ---- period.c: the buckets of the series (the "daily" section) ---- */

/* A series is per day up to this many days in the period... */
#define DM_BUCKET_DAY_MAX 62
/* ... per ISO week (Monday to Sunday) up to this many (two years, one of
 * them a leap year), per calendar month beyond. */
#define DM_BUCKET_WEEK_MAX 731

enum dm_bucket { DM_BUCKET_DAY = 0, DM_BUCKET_WEEK, DM_BUCKET_MONTH };

/* The bucket of a period [from, to) of whole days. */
enum dm_bucket dm_bucket_of_period(int64_t from, int64_t to);
/* "day", "week" or "month": JSON's word for it. */
const char *dm_bucket_name(enum dm_bucket b);
/* The first day of the bucket holding day (a UTC day start): day itself, the
 * Monday of its week, the 1st of its month. */
int64_t dm_bucket_start(enum dm_bucket b, int64_t day);
/* The first day of the bucket after the one holding start. */
int64_t dm_bucket_next(enum dm_bucket b, int64_t start);
/* The name of the bucket holding day: "2026-11-02", "2026-W45" (ISO week and
 * its ISO year, which may not be the calendar year of its Monday), "2026-11".
 * Writes into buf (at least 16 bytes) and returns it. */
const char *dm_bucket_label(
    enum dm_bucket b, int64_t day, char *buf, size_t size);

struct dm_report {
	int64_t from, to, prev_from;
	enum dm_bucket bucket;   /* of the daily section's rows */
	char *domain, *reporter; /* filters as given, or NULL */
	int by_domain, by_service;
	struct section sec[SEC_COUNT];
};

/* ---- build.c: sections ---- */
/* Appends a row of n_cols CELL_NULL cells and returns it; NULL on allocation
 * failure. */
struct cell *dm_section_add_row(struct section *s);
const struct cell *dm_section_cell(
    const struct section *s, size_t row, size_t col);
/* The index of the column with this key; n_cols when there is none. */
size_t dm_section_col(const struct section *s, const char *key);
/* Starts a group at the next row; heading is copied.  DM_ENOMEM. */
int dm_section_add_group(struct section *s, const char *heading);
int dm_cell_set_str(struct cell *c, const char *s);
void dm_cell_int(struct cell *c, enum cell_kind kind, int64_t v);
/* A rate in tenths of a percent, rounded half up; CELL_NULL over zero. */
void dm_cell_rate(struct cell *c, int64_t part, int64_t whole);
/* 1 when the renderer f shows column c / section s. */
int dm_shows_col(const struct column *c, unsigned f);
int dm_shows_section(const struct section *s, unsigned f);
/* a + b, stopping at INT64_MAX instead of overflowing (counts are never
 * negative). */
int64_t dm_sat_add(int64_t a, int64_t b);
/* Adds one row's counts to a more. */
void dm_more_add(
    struct more *m, int64_t messages, int64_t quarantined, int64_t rejected);

/* ---- pairs.c: (source IP, From domain) pairs, kept and classified ---- */

/* A pair's ISPs kept by name; more are summed (real pairs have a handful). */
#define MAX_PAIR_ISPS 32
/* Domains that authenticated a pair, listed; more are shown as "...". */
#define MAX_LIST 8

/* Blocked and all messages per cause, to find the top one (dm_top_cause). */
struct tally {
	int64_t blocked[DM_CAUSE_COUNT], messages[DM_CAUSE_COUNT];
	unsigned seen; /* bit per cause: given by a group, of messages or not */
};

struct pair_detail; /* explain.c's evidence of a pair at an ISP */

struct pair_isp {
	char *isp;
	int64_t messages, dmarc_pass, quarantined, rejected;
	int64_t spf_al, dkim_al; /* aligned passes */
	int64_t first_day, last_day, reports;
	struct tally t;
	struct pair_detail *d; /* explain only, owned by explain.c */
};

struct pair {
	char *ip, *hf;
	size_t page;  /* by_domain: the index of its From domain's page */
	size_t rank;  /* its position once the kept pairs are ranked */
	size_t group; /* output order: its page, or its address's best rank */
	int64_t messages, dmarc_pass, quarantined, rejected;
	int64_t spf_raw, spf_al, dkim_raw, dkim_al;
	int64_t first_day, last_day, reports;
	struct pair_isp *isps;
	size_t n_isps, cap_isps;
	struct more isp_more; /* ISPs beyond MAX_PAIR_ISPS */
	struct tally t;
	/* Each cause explained by its largest group (or row) of messages. */
	char *why[DM_CAUSE_COUNT], *fix[DM_CAUSE_COUNT];
	int64_t why_messages[DM_CAUSE_COUNT];
	char *auth[MAX_LIST]; /* domains that passed DKIM or SPF for it */
	size_t n_auth;
	int more_auth;
	/* What `dmarcstat enrich` found for ip (dm_pairs_hosts); NULL / -1 when
	 * not known. */
	char *ptr, *as_org, *country;
	int confirmed;
	int64_t asn;
	/* Its sending service: the host's, else the one of the domains that
	 * authenticated its largest group of messages; NULL when none. */
	char *service, *kind;
	int service_by_ptr;
	int64_t service_messages;
	int hidden; /* by_service: beyond the top of its service, only summed */
};

/* The kept pairs of one list, the worst on top so a better one replaces it.
 */
struct heap {
	struct pair **v;
	size_t n;
	struct more more; /* pairs it did not keep */
};

/* A From domain's page, for lookups by name. */
struct page_ref {
	const char *name;
	size_t idx;
};

/* A listed ISP and the tallies of its top cause. */
struct isp_tally {
	const char *name;
	size_t row;
	struct tally t;
};

/*
 * The best pairs of a filter, at most cap per list: one list, or one per From
 * domain page (pages set).  dm_pairs_load() runs the pairs query and keeps
 * them; dm_pairs_classify() runs the evidence query and gives each kept pair
 * its causes, explanations and ISP causes (and the ISPs of isps their top
 * cause). The hooks let explain see every row as it passes.
 */
struct pairs {
	const struct dm_report_options *opt;
	struct dm_error *err;
	size_t cap;
	char *const *pages; /* NULL: one list */
	size_t n_pages;
	struct heap *heaps;
	size_t n_heaps;
	struct more orphans;       /* pairs of no page */
	struct page_ref *page_idx; /* pages sorted by name */
	struct isp_tally *isps;    /* sorted by name */
	size_t n_isps;
	struct pair *cur;   /* being summed from its ISP rows */
	struct pair **kept; /* sorted by address and domain, then ranked */
	size_t n_kept;
	void *ctx; /* for the hooks */
	int (*on_pair_row)(void *ctx, const struct dm_query_pair *row);
	int (*on_evidence)(void *ctx, struct pair *p, struct pair_isp *pi,
	    const struct dm_query_source *s, enum dm_cause_code code);
	/* The causes of recent evidence: rows of a period repeat a few kinds
	   of evidence many times over (pairs.c). */
	struct cause_slot {
		uint64_t hash;
		char *key;
		enum dm_cause_code code;
		const char *service_name; /* what domain_service() found */
		enum dm_service_kind service;
	} causes[64];
	struct dm_buf key;
};

/* Sets x up to keep cap pairs per list; isp_names get ISP tallies.
 * DM_ENOMEM. */
int dm_pairs_setup(struct pairs *x, size_t cap, char *const *pages,
    size_t n_pages, char *const *isp_names, size_t n_isps);
/* flags: DM_QUERY_FAILING (sql/query.h).  Only what ranks the pairs is
 * summed (messages, quarantined, rejected), so on_pair_row sees only that;
 * dm_pairs_reports() gives the kept ones the rest. */
int dm_pairs_load(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *f, unsigned flags);
/* Gives the kept pairs, and their ISPs, their other sums, days and reports
 * (the raw results and the join with record are paid for the pairs shown
 * only).  Same flags as dm_pairs_load. */
int dm_pairs_reports(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *f, unsigned flags);
/* f restricted to the kept pairs; *keys (the caller frees it) backs it.
 * DM_ENOMEM. */
int dm_pairs_restrict(const struct pairs *x, const struct dm_query_filter *f,
    struct dm_query_filter *kept, struct dm_query_pair_key **keys);
/* Gives the kept pairs what the host table says of their IPs (one query).
 * DM_EDB, DM_ENOMEM. */
int dm_pairs_hosts(
    struct pairs *x, struct dm_query *q, const struct dm_query_filter *f);
/* Appends what the host table and the services say of p's source:
 * "s21.bmsend.com (forward-confirmed); Benchmark Email (esp); AS64501 Other
 * Net; DE"; nothing when nothing is known.  DM_ENOMEM. */
int dm_pair_host_text(const struct pair *p, struct dm_buf *t);
/* flags: DM_QUERY_FAILING, DM_QUERY_PER_ROW (sql/query.h). */
int dm_pairs_classify(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *f, unsigned flags);
/* Ranks the kept pairs (most blocked first); rank and group set, kept in
 * output order: by page, or under their address by its best pair. */
void dm_pairs_order(struct pairs *x, int by_address);
/* qsort order of output: by group (page, the rank of the address's best
 * pair, or the place of the service), then rank. */
int dm_pairs_cmp_output(const void *a, const void *b);
struct pair *dm_pairs_find(
    const struct pairs *x, const char *ip, const char *hf);
struct pair_isp *dm_pair_find_isp(struct pair *p, const char *isp);
void dm_pairs_teardown(struct pairs *x);

/* ---- sources.c: the report's failing sources ---- */
/*
 * Fills the sources and source_isps sections (by_domain: under From domain
 * groups, linked from the domains section), and the top causes of the isps
 * section, whose ISPs are isp_names in row order; domains are the From
 * domains of the pages (by_domain).
 */
int dm_sources_fill(struct dm_report *r, struct dm_query *q,
    const struct dm_query_filter *f, const struct dm_report_options *opt,
    char *const *isp_names, size_t n_isps, char *const *domains,
    size_t n_domains, struct dm_error *err);

/* Appends pair p's row to the sources section (and its ISPs' rows); t is
 * scratch.  DM_ENOMEM. */
int dm_sources_add_pair(struct dm_report *r, struct pair *p, struct dm_buf *t);

/* ---- checks.c: the From domains' DNS now (check_dns) ---- */
struct out;
/* The distinct From domains of the pairs (in their order, at most
 * DM_REPORT_CHECKS_MAX) into domains; *n of them (borrowed from the pairs). */
void dm_checks_domains(
    struct pair *const *pairs, size_t n_pairs, const char **domains, size_t *n);
/* Runs opt->check_dns for each domain and fills the dns and dns_checks
 * sections: a row per domain with its worst status, a row per check. */
int dm_checks_fill(struct dm_report *r, struct dm_query *q,
    const struct dm_report_options *opt, const char *const *domains, size_t n,
    struct dm_error *err);
/* The same as plain text for explain. */
int dm_checks_text(struct out *o, struct dm_query *q,
    const struct dm_report_options *opt, const char *const *domains, size_t n,
    struct dm_error *err);

/* ---- services.c: report --by service ---- */
/*
 * Groups the kept pairs (ranked by dm_pairs_order) by sending service, most
 * blocked first: a row per service in the services section with the sums of
 * all its pairs, and under it in the sources section its top pairs (the rest
 * summed as the group's "and N more").  DM_ENOMEM.
 */
int dm_services_fill(
    struct dm_report *r, struct pairs *p, size_t top, struct dm_error *err);

/* The classifier's view of a source row of the rollups (strings borrowed),
 * with the caller's knowledge of the source. */
struct dm_evidence dm_report_evidence(
    const struct dm_query_source *s, const struct dm_report_options *opt);

/* The cause that blocked most messages, then counted most; among causes of
 * no message (count 0 or invalid) the first in code order; PASS when no other
 * cause was seen. */
enum dm_cause_code dm_top_cause(const struct tally *t);

/* ---- out.c: an output buffer with a sticky error ---- */
struct out {
	struct dm_buf b;
	int rc;
};

void dm_out_init(struct out *o);
void dm_out_add(struct out *o, const char *s, size_t n);
void dm_out_puts(struct out *o, const char *s);
void dm_out_printf(struct out *o, const char *fmt, ...) DM_PRINTF(2, 3);
/* One line formatted, then written as dm_out_text writes (escaped): for a
 * translated sentence that carries text from reports or the command line,
 * whose word order the translation chooses.  No newline in fmt. */
void dm_out_textf(struct out *o, const char *fmt, ...) DM_PRINTF(2, 3);
/* Writes the buffer to f; DM_EIO or the sticky error, with a message. */
int dm_out_flush(struct out *o, FILE *f, struct dm_error *err);
void dm_out_free(struct out *o);

/*
 * Appends s made safe for a terminal or a plain-text mail (core/escape.h):
 * control characters become '?', bidirectional controls, invalid UTF-8 and
 * code points wcwidth(3) calls not printable (unassigned, noncharacters)
 * U+FFFD.  Returns the number of characters (code points) appended.
 */
size_t dm_out_text(struct out *o, const char *s);
/* The first key of isp.c's table that is not folded or not in order, NULL
 * when every one is (for the tests). */
const char *dm_isp_table_check(void);

/*
 * The ISP name of every org_name a database holds (isp.c): the table's, and
 * for org_names it does not know that fold alike (case, punctuation,
 * corporate words, trailing dots), one name for the group; any other is its
 * own.  Loaded before a read, used as the query's ISP name function.
 */
#define DM_ISP_KEY_MAX 128
struct isp_org {
	char *org;                /* as stored */
	char key[DM_ISP_KEY_MAX]; /* folded */
	const char *isp;          /* the table's, made, or org */
	char *made;    /* a group's name, owned by its first member */
	int in_period; /* reported in the period dm_isp_names_period() read */
};
struct isp_names {
	struct isp_org *v; /* by org once loaded */
	size_t n, cap;
	int period; /* 1 once dm_isp_names_period() has run */
};
/* DM_ENOMEM, DM_EDB; *n is to be freed either way. */
int dm_isp_names_load(
    struct isp_names *n, struct dm_query *q, struct dm_error *err);
/* The ISP of org_name (names: a struct isp_names); dm_isp_name() for one it
 * did not load. */
const char *dm_isp_names_get(void *names, const char *org_name);
/* Marks the org_names with mail in f's period, domain and reporter: from
 * then on dm_isp_names_orgs() lists only those (an ISP row stands for the
 * names that reported in its period, while names stay those of the whole
 * database).  Inside the report's read transaction.  DM_EDB. */
int dm_isp_names_period(struct isp_names *n, struct dm_query *q,
    const struct dm_query_filter *f, struct dm_error *err);
/* Appends the org_names named isp, in byte order, separated by sep (a
 * DM_LIST_SEP in a name becomes '?'), their number in *count.  DM_ENOMEM. */
int dm_isp_names_orgs(const struct isp_names *n, const char *isp,
    const char *sep, struct dm_buf *out, size_t *count);
void dm_isp_names_free(struct isp_names *n);
/* Loads n and makes it q's ISP name function (dm_query_set_isp_names), the
 * whole of a report's reading; DM_ENOMEM, DM_EDB. */
int dm_isp_names_use(
    struct isp_names *n, struct dm_query *q, struct dm_error *err);
/* Ends that: q back to the table's names, n freed. */
void dm_isp_names_done(struct isp_names *n, struct dm_query *q);

/* Columns a terminal gives what dm_out_text writes for s, by wcwidth(3) under
 * a UTF-8 LC_CTYPE of its own whatever the process's locale: East Asian wide
 * characters take two, combining marks none. */
size_t dm_text_width(const char *s);
/* Columns of the character at s (non-empty) as dm_out_text writes it, with its
 * bytes in *len (an invalid byte is one). */
size_t dm_text_char_width(const char *s, size_t *len);
/* Formats a cell as plain text (numbers, rates with one decimal, days) into
 * buf. */
const char *dm_cell_format(const struct cell *c, char *buf, size_t size);
/* YYYY-MM-DD of a Unix time (UTC). */
const char *dm_format_day(int64_t t, char *buf, size_t size);
/* "and 12 more sources: 340 messages, 12 quarantined, 7 rejected" */
void dm_more_text(struct out *o, const struct section *s, const struct more *m);

/*
 * Writes indent spaces, prefix (ours, e.g. "Why: ") and text wrapped at 100
 * columns, with continuation lines aligned under the text; text is sanitised by
 * dm_out_text.
 */
void dm_text_wrap(
    struct out *o, size_t indent, const char *prefix, const char *text);

/* ---- chart.c: SVG charts of the four categories of mail ---- */

/* The categories, in stacking and legend order. */
enum {
	DM_CAT_PASS = 0,    /* passed DMARC, not blocked */
	DM_CAT_OPEN,        /* failed DMARC, not blocked by policy */
	DM_CAT_QUARANTINED, /* quarantined, passed or not */
	DM_CAT_REJECTED,    /* rejected, passed or not */
	DM_CAT_COUNT
};

/* key: data-cat in the SVG; name: the legend's; color: the fill (the
 * background of the stripes when stripe is set). */
struct dm_chart_cat {
	const char *key, *name, *color, *stripe;
};

/* The narrowest a bar is drawn, and a bar and its gap together. */
#define DM_CHART_MIN_BAR 2
#define DM_CHART_MIN_STEP 3

/* Where the points of a series go: step pixels apart, bar wide, in plot_w
 * pixels; every every-th point labelled. */
struct dm_chart_axis {
	long step, bar, plot_w, every;
};

/* A panel of a series chart: per point, the mail of each category. */
struct dm_chart_panel {
	const char *title; /* small multiples: the panel's heading; else NULL */
	const int64_t (*v)[DM_CAT_COUNT];
};

/* n points with a label each (a day, a week, a month), drawn once per panel
 * (more than one panel: small multiples, each on its own y scale).  id is
 * unique in the page; label is the chart's aria-label.  axis is set by
 * dm_chart_series. */
struct dm_chart {
	const char *id, *label;
	const char *const *labels; /* under the axis, maybe shortened */
	const char *const *tips;   /* in each point's tooltip, in full */
	size_t n;
	const struct dm_chart_panel *panels;
	size_t n_panels;
	struct dm_chart_axis axis;
};

/* A horizontal bar: label, its messages and their categories. */
struct dm_chart_bar {
	const char *label;
	int64_t messages, v[DM_CAT_COUNT];
};

/* Category i (< DM_CAT_COUNT), else NULL. */
const struct dm_chart_cat *dm_chart_cat(size_t i);
/* The four categories of a count of messages, of which pass passed DMARC
 * and blocked_pass of those were quarantined or rejected (chart.c). */
void dm_chart_split(int64_t messages, int64_t pass, int64_t quarantined,
    int64_t rejected, int64_t blocked_pass, int64_t v[DM_CAT_COUNT]);
/* Pixels a text is given at a font size (an estimate on the safe side). */
long dm_chart_text_width(const char *s, long font);
/* 2, 4, 6, 8 or 10 times a power of ten, the smallest >= max (2 at least). */
int64_t dm_chart_nice_max(int64_t max);
/* The geometry of n points in at least plot_w pixels, labels label_w wide. */
void dm_chart_axis(
    size_t n, long plot_w, long label_w, struct dm_chart_axis *a);
/* A stacked bar chart of a series, with its legend; nothing when n is 0. */
void dm_chart_series(struct out *o, struct dm_chart *c);
/* Stacked horizontal bars on one scale, with their legend. */
void dm_chart_bars(struct out *o, const char *id, const char *label,
    const struct dm_chart_bar *b, size_t n);

/* ---- renderers ---- */
/* Appends s escaped for HTML element content and quoted attributes. */
void dm_html_text(struct out *o, const char *s);
int dm_write_text(const struct dm_report *r, int color, struct out *o);
int dm_write_csv(const struct dm_report *r, const char *table, struct out *o,
    struct dm_error *err);
int dm_write_json(const struct dm_report *r, struct out *o);
int dm_write_html(const struct dm_report *r, struct out *o);

#endif /* DM_REPORT_INT_H */
