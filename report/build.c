/*
 * build.c - a report's sections from the rollup queries.
 *
 * SQL groups and sums everything (sql/query.h): per day, per ISP, per From
 * domain, per new source.  Each query's rows arrive largest first, so a
 * section keeps its first rows (opt->top) and adds the others into its "more"
 * line; memory stays the same whatever the database holds.  The failing
 * (source IP, From domain) pairs, which need the classifier, are pairs.c's.
 * All queries run in one read transaction, so the sections agree with each
 * other while an ingest writes.  The result is a set of typed tables
 * (report_int.h).
 */
#include "report_int.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>

/* ---- Cells and sections ---- */

int64_t
dm_sat_add(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r)
	           ? (b > 0 ? INT64_MAX : INT64_MIN)
	           : r;
}

void
dm_more_add(
    struct more *m, int64_t messages, int64_t quarantined, int64_t rejected)
{
	m->rows = dm_sat_add(m->rows, 1);
	m->messages = dm_sat_add(m->messages, messages);
	m->quarantined = dm_sat_add(m->quarantined, quarantined);
	m->rejected = dm_sat_add(m->rejected, rejected);
}

struct cell *
dm_section_add_row(struct section *s)
{
	struct cell *row;

	if (s->n_rows == s->cap_rows) {
		size_t cap = s->cap_rows == 0 ? 16 : s->cap_rows * 2;
		struct cell *p =
		    dm_realloc(s->cells, cap * s->n_cols * sizeof(*p));

		if (p == NULL)
			return NULL;
		s->cells = p;
		s->cap_rows = cap;
	}
	row = s->cells + s->n_rows * s->n_cols;
	memset(row, 0, s->n_cols * sizeof(*row));
	s->n_rows++;
	return row;
}

const struct cell *
dm_section_cell(const struct section *s, size_t row, size_t col)
{
	return &s->cells[row * s->n_cols + col];
}

size_t
dm_section_col(const struct section *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_cols && strcmp(s->cols[i].key, key) != 0; i++)
		;
	return i;
}

int
dm_section_add_group(struct section *s, const char *heading)
{
	struct group *g;

	if (s->n_groups == s->cap_groups) {
		size_t cap = s->cap_groups == 0 ? 8 : s->cap_groups * 2;
		struct group *p = dm_realloc(s->groups, cap * sizeof(*p));

		if (p == NULL)
			return DM_ENOMEM;
		s->groups = p;
		s->cap_groups = cap;
	}
	g = &s->groups[s->n_groups];
	memset(g, 0, sizeof(*g));
	g->row0 = s->n_rows;
	if ((g->heading = dm_strdup(heading)) == NULL)
		return DM_ENOMEM;
	s->n_groups++;
	return DM_OK;
}

int
dm_cell_set_str(struct cell *c, const char *s)
{
	c->kind = CELL_STR;
	c->s = dm_strdup(s != NULL ? s : "");
	return c->s != NULL ? DM_OK : DM_ENOMEM;
}

void
dm_cell_int(struct cell *c, enum cell_kind kind, int64_t v)
{
	c->kind = kind;
	c->i = v;
}

/* Tenths of a percent, rounded half up, in floating point: part * 1000
 * overflows for counts above 2^53. */
static int64_t
permille(int64_t part, int64_t whole)
{
	return whole > 0
	           ? (int64_t)((double)part * 1000.0 / (double)whole + 0.5)
	           : 0;
}

void
dm_cell_rate(struct cell *c, int64_t part, int64_t whole)
{
	if (whole > 0)
		dm_cell_int(c, CELL_PERMILLE, permille(part, whole));
}

int
dm_shows_col(const struct column *c, unsigned f)
{
	return c->formats == 0 || (c->formats & f) != 0;
}

int
dm_shows_section(const struct section *s, unsigned f)
{
	return s->formats == 0 || (s->formats & f) != 0;
}

/* ---- The sections' columns ---- */

#define N(a) (sizeof(a) / sizeof(a[0]))

/* ISPs given a daily series of their own (isp_daily): the small multiples of
 * the HTML report stay one screen high. */
#define ISP_SERIES_MAX 6

/* The metric's stable key for programs, its label for people. */
static const struct column overview_cols[] = {
    {.key = "metric", .title = N_("Metric"), .formats = F_CSV | F_JSON},
    {.key = "label", .title = N_("Metric"), .formats = F_TEXT | F_HTML},
    {.key = "value", .title = N_("This period"), .numeric = 1},
    {.key = "previous", .title = N_("Previous"), .numeric = 1},
    {.key = "change", .title = N_("Change"), .numeric = 1},
};
/* The DMARC passes quarantined or rejected all the same: the charts draw
 * dmarc_pass - blocked_pass as passed (chart.c).  Shown in no format: the
 * causes name this mail (local_policy). */
#define BLOCKED_PASS_COL                                                       \
	{                                                                      \
		.key = "blocked_pass", .title = N_("DMARC pass, yet blocked"), \
		.formats = F_HIDDEN                                            \
	}
static const struct column isp_cols[] = {
    {.key = "isp", .title = N_("ISP"), .max_width = 28},
    {.key = "messages", .title = N_("Messages"), .numeric = 1},
    {.key = "dmarc_pass_percent", .title = N_("Pass %"), .numeric = 1},
    {.key = "quarantined",
        .title = N_("Quarantined"),
        .numeric = 1,
        .alarm = 1},
    {.key = "rejected", .title = N_("Rejected"), .numeric = 1, .alarm = 1},
    {.key = "top_cause", .title = N_("Top cause of blocking"), .max_width = 24},
    /* The counts behind the rate, for the chart's categories. */
    {.key = "dmarc_pass", .title = N_("DMARC pass"), .formats = F_HIDDEN},
    BLOCKED_PASS_COL,
    /* Every org_name stored that the row's name stands for: a JSON array,
       "; " between them in CSV; under the row in text and HTML when it
       merges several. */
    {.key = "org_names",
        .title = N_("Reported as"),
        .formats = F_CSV | F_JSON,
        .list = 1},
    {.key = "org_names_text",
        .title = N_("Reported as"),
        .detail = 1,
        .note = 1,
        .formats = F_TEXT | F_HTML},
};
static const struct column source_cols[] = {
    {.key = "source_ip", .title = N_("Source IP"), .max_width = 39},
    {.key = "header_from", .title = N_("From domain"), .max_width = 30},
    {.key = "messages", .title = N_("Messages"), .numeric = 1},
    {.key = "dmarc_pass",
        .title = N_("DMARC pass"),
        .numeric = 1,
        .formats = F_CSV | F_JSON},
    {.key = "quarantined", .title = N_("Quar."), .numeric = 1, .alarm = 1},
    {.key = "rejected", .title = N_("Rejected"), .numeric = 1, .alarm = 1},
    {.key = "spf_raw_pass", .title = N_("SPF raw"), .numeric = 1},
    {.key = "spf_aligned_pass", .title = N_("SPF aln"), .numeric = 1},
    {.key = "dkim_raw_pass", .title = N_("DKIM raw"), .numeric = 1},
    {.key = "dkim_aligned_pass", .title = N_("DKIM aln"), .numeric = 1},
    {.key = "cause", .title = N_("Cause"), .max_width = 16},
    {.key = "first_day", .title = N_("First day"), .formats = F_CSV | F_JSON},
    {.key = "last_day", .title = N_("Last day"), .formats = F_CSV | F_JSON},
    {.key = "reports",
        .title = N_("Reports"),
        .numeric = 1,
        .formats = F_CSV | F_JSON},
    {.key = "ptr", .title = N_("PTR"), .formats = F_CSV | F_JSON},
    {.key = "ptr_confirmed",
        .title = N_("PTR confirmed"),
        .numeric = 1,
        .formats = F_CSV | F_JSON},
    {.key = "service", .title = N_("Service"), .formats = F_CSV | F_JSON},
    {.key = "service_kind",
        .title = N_("Service kind"),
        .formats = F_CSV | F_JSON},
    {.key = "service_by", .title = N_("Service by"), .formats = F_CSV | F_JSON},
    {.key = "asn", .title = N_("ASN"), .numeric = 1, .formats = F_CSV | F_JSON},
    {.key = "as_org", .title = N_("AS org"), .formats = F_CSV | F_JSON},
    {.key = "country", .title = N_("Country"), .formats = F_CSV | F_JSON},
    {.key = "isps",
        .title = N_("ISPs"),
        .formats = F_JSON,
        .sub = SEC_SOURCE_ISPS},
    {.key = "host",
        .title = N_("Host"),
        .detail = 1,
        .formats = F_TEXT | F_HTML},
    {.key = "isps_text",
        .title = N_("ISPs"),
        .detail = 1,
        .formats = F_TEXT | F_HTML},
    {.key = "seen",
        .title = N_("Seen"),
        .detail = 1,
        .formats = F_TEXT | F_HTML},
    {.key = "authenticated_domains",
        .title = N_("Authenticated"),
        .detail = 1,
        .formats = F_TEXT | F_HTML | F_JSON},
    {.key = "explanation", .title = N_("Why"), .detail = 1},
    {.key = "fix", .title = N_("Fix"), .detail = 1},
};
static const struct column source_isp_cols[] = {
    {.key = "source_ip", .title = N_("Source IP"), .parent_key = 1},
    {.key = "header_from", .title = N_("From domain"), .parent_key = 1},
    {.key = "isp", .title = N_("ISP")},
    {.key = "messages", .title = N_("Messages"), .numeric = 1},
    {.key = "quarantined", .title = N_("Quarantined"), .numeric = 1},
    {.key = "rejected", .title = N_("Rejected"), .numeric = 1},
    {.key = "cause", .title = N_("Cause")},
};
static const struct column new_cols[] = {
    {.key = "source_ip", .title = N_("Source IP"), .max_width = 39},
    {.key = "first_seen", .title = N_("First seen")},
    {.key = "messages", .title = N_("Messages"), .numeric = 1},
    {.key = "dmarc_pass_percent", .title = N_("Pass %"), .numeric = 1},
};
static const struct column silent_cols[] = {
    {.key = "isp", .title = N_("ISP"), .max_width = 40},
    {.key = "last_seen", .title = N_("Last report")},
    {.key = "previous_messages", .title = N_("Messages before"), .numeric = 1},
};
#define DOMAIN_COLS                                                            \
	{.key = "header_from", .title = N_("From domain"), .max_width = 24},   \
	    {.key = "policy_domain",                                           \
	        .title = N_("Policy domain"),                                  \
	        .max_width = 20},                                              \
	    {.key = "p", .title = "p", .max_width = 10},                       \
	    {.key = "sp", .title = "sp", .max_width = 10},                     \
	    {.key = "pct", .title = "pct", .numeric = 1},                      \
	    {.key = "messages", .title = N_("Messages"), .numeric = 1},        \
	    {.key = "dmarc_pass_percent",                                      \
	        .title = N_("Pass %"),                                         \
	        .numeric = 1},                                                 \
	    {.key = "quarantined",                                             \
	        .title = N_("Quar."),                                          \
	        .numeric = 1,                                                  \
	        .alarm = 1},                                                   \
	{                                                                      \
		.key = "rejected", .title = N_("Rejected"), .numeric = 1,      \
		.alarm = 1                                                     \
	}
static const struct column domain_cols[] = {DOMAIN_COLS};
/* With by_domain, JSON nests each domain's sources in its row. */
static const struct column domain_page_cols[] = {DOMAIN_COLS,
    {.key = "sources",
        .title = N_("Sources"),
        .formats = F_JSON,
        .sub = SEC_SOURCES},
    {.key = "more_sources",
        .title = N_("More sources"),
        .numeric = 1,
        .formats = F_JSON}};
static const struct column service_cols[] = {
    {.key = "service", .title = N_("Service"), .max_width = 30},
    {.key = "kind", .title = N_("Kind"), .max_width = 10},
    {.key = "pairs", .title = N_("Sources"), .numeric = 1},
    {.key = "messages", .title = N_("Messages"), .numeric = 1},
    {.key = "dmarc_pass",
        .title = N_("DMARC pass"),
        .numeric = 1,
        .formats = F_CSV | F_JSON},
    {.key = "dmarc_pass_percent", .title = N_("Pass %"), .numeric = 1},
    {.key = "quarantined", .title = N_("Quar."), .numeric = 1, .alarm = 1},
    {.key = "rejected", .title = N_("Rejected"), .numeric = 1, .alarm = 1},
    {.key = "sources",
        .title = N_("Sources"),
        .formats = F_JSON,
        .sub = SEC_SOURCES},
    {.key = "more_sources",
        .title = N_("More sources"),
        .numeric = 1,
        .formats = F_JSON},
};
/* The series: a row per bucket (day, week or month, period.c), named by its
 * label; its first and last day (cut to the period) for programs.  html.c's
 * chart reads the counts by position. */
#define SERIES_COLS(unit)                                                      \
	{.key = "bucket", .title = unit},                                      \
	    {.key = "messages", .title = N_("Messages"), .numeric = 1},        \
	    {.key = "dmarc_pass", .title = N_("DMARC pass"), .numeric = 1},    \
	    {.key = "dmarc_pass_percent",                                      \
	        .title = N_("Pass %"),                                         \
	        .numeric = 1},                                                 \
	    {.key = "quarantined",                                             \
	        .title = N_("Quarantined"),                                    \
	        .numeric = 1,                                                  \
	        .alarm = 1},                                                   \
	    {.key = "rejected",                                                \
	        .title = N_("Rejected"),                                       \
	        .numeric = 1,                                                  \
	        .alarm = 1},                                                   \
	    {.key = "first_day",                                               \
	        .title = N_("First day"),                                      \
	        .formats = F_CSV | F_JSON},                                    \
	    {.key = "last_day",                                                \
	        .title = N_("Last day"),                                       \
	        .formats = F_CSV | F_JSON},                                    \
	    BLOCKED_PASS_COL
static const struct column daily_cols[] = {SERIES_COLS(N_("Day"))};
static const struct column weekly_cols[] = {SERIES_COLS(N_("Week"))};
static const struct column monthly_cols[] = {SERIES_COLS(N_("Month"))};

/* The daily series of the top ISPs, one after the other (the HTML's small
 * multiples). */
static const struct column isp_daily_cols[] = {
    {.key = "isp", .title = N_("ISP")},
    {.key = "bucket", .title = N_("Day")},
    {.key = "messages", .title = N_("Messages"), .numeric = 1},
    {.key = "dmarc_pass", .title = N_("DMARC pass"), .numeric = 1},
    {.key = "quarantined", .title = N_("Quarantined"), .numeric = 1},
    {.key = "rejected", .title = N_("Rejected"), .numeric = 1},
    BLOCKED_PASS_COL,
};

static const struct column dns_cols[] = {
    {.key = "domain", .title = N_("From domain")},
    {.key = "status", .title = N_("Status")},
    {.key = "checks",
        .title = N_("Checks"),
        .formats = F_JSON,
        .sub = SEC_DNS_CHECKS},
};
static const struct column dns_check_cols[] = {
    {.key = "domain", .title = N_("From domain"), .parent_key = 1},
    {.key = "check", .title = N_("Check"), .max_width = 18},
    {.key = "subject", .title = N_("Subject"), .max_width = 50},
    {.key = "status", .title = N_("Status"), .max_width = 8},
    {.key = "found", .title = N_("Found"), .detail = 1},
    {.key = "fix", .title = N_("Fix"), .detail = 1},
};

#define SECTION(n, t, e, w, c, f, g)                                           \
	{                                                                      \
		.name = n, .title = t, .empty = e, .noun = w, .cols = c,       \
		.n_cols = N(c), .formats = f, .group_col = g                   \
	}

static const struct section templates[SEC_COUNT] = {
    SECTION("overview", N_("Overview"), N_("No reports in this period."),
        N_("metrics"), overview_cols, 0, -1),
    SECTION("isps", N_("By ISP"), N_("No reports in this period."), N_("ISPs"),
        isp_cols, 0, -1),
    SECTION("sources", N_("Failing sources"),
        N_("No source failed DMARC or was blocked in this period."),
        N_("sources"), source_cols, 0, 0),
    SECTION("source_isps", N_("Failing sources by ISP"), "", N_("rows"),
        source_isp_cols, F_CSV, -1),
    SECTION("services", N_("By sending service"),
        N_("No source failed DMARC or was blocked in this period."),
        N_("services"), service_cols, F_HIDDEN, -1),
    SECTION("new_sources", N_("New sending sources"),
        N_("No new sending source in this period."), N_("new sources"),
        new_cols, 0, -1),
    SECTION("silent_isps", N_("ISPs that fell silent"),
        N_("Every ISP that reported before still reports."), N_("ISPs"),
        silent_cols, 0, -1),
    SECTION("domains", N_("By From domain"), N_("No reports in this period."),
        N_("domains"), domain_cols, 0, -1),
    SECTION("daily", N_("Daily"), "", N_("days"), daily_cols, 0, -1),
    SECTION("dns", N_("DNS now"), "", N_("domains"), dns_cols, F_HIDDEN, -1),
    SECTION("dns_checks", N_("DNS now: are the fixes in place?"),
        N_("No failing source: no From domain to check."), N_("checks"),
        dns_check_cols, F_HIDDEN, 0),
    SECTION("isp_daily", N_("By ISP, day by day"), "", N_("days"),
        isp_daily_cols, F_HTML, -1),
};

const char *const *
dm_report_tables(void)
{
	static const char *const names[] = {"overview", "isps", "sources",
	    "source_isps", "new_sources", "silent_isps", "domains", "daily",
	    "services", "dns_checks", NULL};

	return names;
}

/* ---- Building ---- */

/* blocked: passed DMARC, yet quarantined or rejected (the charts'
 * categories). */
struct totals {
	int64_t messages, pass, quarantined, rejected, blocked;
};

/* Names kept for pairs.c: the ISPs listed and the From domains of the pages.
 */
struct names {
	char **v;
	size_t n, cap;
};

struct build {
	struct dm_report *r;
	struct dm_query *q;
	struct dm_query_filter f;
	const struct dm_report_options *opt;
	size_t top;
	struct totals cur, prev;
	struct totals *days;
	size_t n_days;
	struct names isps, pages;
	struct isp_names names; /* the ISP of each org_name */
	struct dm_error *err;
};

static int
oom(struct build *b)
{
	return dm_error_set(
	    b->err, DM_ENOMEM, _("out of memory building the report"));
}

static int
names_add(struct names *n, const char *s)
{
	if (n->n == n->cap) {
		size_t cap = n->cap == 0 ? 16 : n->cap * 2;
		char **p = dm_realloc(n->v, cap * sizeof(*p));

		if (p == NULL)
			return DM_ENOMEM;
		n->v = p;
		n->cap = cap;
	}
	if ((n->v[n->n] = dm_strdup(s)) == NULL)
		return DM_ENOMEM;
	n->n++;
	return DM_OK;
}

static int
names_has(const struct names *n, const char *s)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		if (strcmp(n->v[i], s) == 0)
			return 1;
	}
	return 0;
}

static void
names_free(struct names *n)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		dm_free(n->v[i]);
	dm_free(n->v);
}

static void
sum_totals(struct totals *t, const struct totals *d)
{
	t->messages = dm_sat_add(t->messages, d->messages);
	t->pass = dm_sat_add(t->pass, d->pass);
	t->quarantined = dm_sat_add(t->quarantined, d->quarantined);
	t->rejected = dm_sat_add(t->rejected, d->rejected);
	t->blocked = dm_sat_add(t->blocked, d->blocked);
}

static void
add_totals(struct totals *t, const struct dm_query_day *d)
{
	struct totals day = {d->messages, d->dmarc_pass, d->quarantined,
	    d->rejected, d->blocked_pass};

	sum_totals(t, &day);
}

static int
day_cb(void *ctx, const struct dm_query_day *d, struct dm_error *err)
{
	struct build *b = ctx;

	(void)err;
	if (d->day < b->r->from) {
		add_totals(&b->prev, d);
		return DM_OK;
	}
	add_totals(&b->cur, d);
	add_totals(&b->days[(d->day - b->r->from) / DM_DAY_SECONDS], d);
	return DM_OK;
}

/* What text and HTML call an overview metric. */
static const char *
metric_label(const char *metric)
{
	static const struct {
		const char *metric, *label;
	} labels[] = {
	    {"messages", N_("Messages")},
	    {"dmarc_pass_percent", N_("DMARC pass (%)")},
	    {"quarantined", N_("Quarantined")},
	    {"rejected", N_("Rejected")},
	    {"unresolved_conflicts",
	        N_("Unresolved conflicts (see quarantine)")},
	    {"undated_reports",
	        N_("Reports without a valid date (in no period)")},
	};
	size_t i;

	for (i = 0; i < N(labels); i++)
		if (strcmp(labels[i].metric, metric) == 0)
			return _(labels[i].label);
	return metric;
}

static int
overview_row(struct section *s, const char *metric, enum cell_kind kind,
    int64_t cur, int64_t prev, int rate_valid_cur, int rate_valid_prev)
{
	struct cell *c = dm_section_add_row(s);

	if (c == NULL || dm_cell_set_str(&c[0], metric) != DM_OK ||
	    dm_cell_set_str(&c[1], metric_label(metric)) != DM_OK)
		return DM_ENOMEM;
	c++;
	if (rate_valid_cur)
		dm_cell_int(&c[1], kind, cur);
	if (rate_valid_prev)
		dm_cell_int(&c[2], kind, prev);
	if (rate_valid_cur && rate_valid_prev)
		dm_cell_int(&c[3],
		    kind == CELL_PERMILLE ? CELL_DELTA_PM : CELL_DELTA,
		    dm_sat_add(cur, -prev));
	return DM_OK;
}

/*
 * Reports held in the quarantine as conflicts (same identity as a stored one,
 * other content: one of the two may be forged): a row only when there are
 * some, in this period or the previous one.
 */
static int
fill_conflicts(struct build *b, struct section *s)
{
	struct dm_query_filter f = b->f;
	int64_t cur, prev;
	int rc;

	if ((rc = dm_query_conflicts(b->q, &f, &cur, b->err)) != DM_OK)
		return rc;
	f.to = f.from;
	f.from = b->r->prev_from;
	if ((rc = dm_query_conflicts(b->q, &f, &prev, b->err)) != DM_OK)
		return rc;
	if ((cur > 0 || prev > 0) && overview_row(s, "unresolved_conflicts",
	                                 CELL_INT, cur, prev, 1, 1) != DM_OK)
		return oom(b);
	return DM_OK;
}

/*
 * Reports without trustworthy dates belong to no period: a row, when there
 * are some, says how many are stored apart (whatever the period), so that
 * their mail is neither lost nor put on a day it was not sent.
 */
static int
fill_undated(struct build *b, struct section *s)
{
	int64_t n;
	int rc;

	if ((rc = dm_query_undated(b->q, &b->f, &n, b->err)) != DM_OK)
		return rc;
	if (n > 0 &&
	    overview_row(s, "undated_reports", CELL_INT, n, 0, 1, 0) != DM_OK)
		return oom(b);
	return DM_OK;
}

static int
fill_overview(struct build *b)
{
	struct section *s = &b->r->sec[SEC_OVERVIEW];
	const struct totals *c = &b->cur, *p = &b->prev;
	int rc;

	if (overview_row(s, "messages", CELL_INT, c->messages, p->messages, 1,
	        1) != DM_OK ||
	    overview_row(s, "dmarc_pass_percent", CELL_PERMILLE,
	        permille(c->pass, c->messages), permille(p->pass, p->messages),
	        c->messages > 0, p->messages > 0) != DM_OK ||
	    overview_row(s, "quarantined", CELL_INT, c->quarantined,
	        p->quarantined, 1, 1) != DM_OK ||
	    overview_row(s, "rejected", CELL_INT, c->rejected, p->rejected, 1,
	        1) != DM_OK)
		return oom(b);
	if ((rc = fill_conflicts(b, s)) != DM_OK)
		return rc;
	return fill_undated(b, s);
}

/*
 * One row of a series: the days [start, end) of the period in b->days,
 * summed, named by their bucket; after the ISP's name when isp is set (the
 * isp_daily section, which has no pass rate and no first and last day).
 */
static int
series_row(struct build *b, struct section *s, const char *isp, int64_t start,
    int64_t end)
{
	struct cell *c = dm_section_add_row(s);
	struct totals t = {0, 0, 0, 0, 0};
	size_t i = (size_t)((start - b->r->from) / DM_DAY_SECONDS);
	size_t n = (size_t)((end - b->r->from) / DM_DAY_SECONDS);
	char label[32];

	if (c == NULL || (isp != NULL && dm_cell_set_str(c++, isp) != DM_OK))
		return oom(b);
	for (; i < n; i++)
		sum_totals(&t, &b->days[i]);
	if (dm_cell_set_str(&c[0], dm_bucket_label(b->r->bucket, start, label,
	                               sizeof(label))) != DM_OK)
		return oom(b);
	dm_cell_int(&c[1], CELL_INT, t.messages);
	dm_cell_int(&c[2], CELL_INT, t.pass);
	if (isp != NULL) {
		dm_cell_int(&c[3], CELL_INT, t.quarantined);
		dm_cell_int(&c[4], CELL_INT, t.rejected);
		dm_cell_int(&c[5], CELL_INT, t.blocked);
		return DM_OK;
	}
	dm_cell_rate(&c[3], t.pass, t.messages);
	dm_cell_int(&c[4], CELL_INT, t.quarantined);
	dm_cell_int(&c[5], CELL_INT, t.rejected);
	dm_cell_int(&c[6], CELL_DAY, start);
	dm_cell_int(&c[7], CELL_DAY, end - DM_DAY_SECONDS);
	dm_cell_int(&c[8], CELL_INT, t.blocked);
	return DM_OK;
}

/* A series from b->days, a row per bucket; the first and the last are cut to
 * the period. */
static int
series_rows(struct build *b, struct section *s, const char *isp)
{
	int64_t start = b->r->from, end;
	int rc = DM_OK;

	for (; rc == DM_OK && start < b->r->to; start = end) {
		end = dm_bucket_next(b->r->bucket, start);
		if (end > b->r->to)
			end = b->r->to;
		rc = series_row(b, s, isp, start, end);
	}
	return rc;
}

static int
fill_daily(struct build *b)
{
	return series_rows(b, &b->r->sec[SEC_DAILY], NULL);
}

/* A day of one ISP's series (the period only). */
static int
isp_day_cb(void *ctx, const struct dm_query_day *d, struct dm_error *err)
{
	struct build *b = ctx;

	(void)err;
	if (d->day >= b->r->from && d->day < b->r->to)
		add_totals(&b->days[(d->day - b->r->from) / DM_DAY_SECONDS], d);
	return DM_OK;
}

/*
 * The days of f for a series: a month bucket sums whole months, so they come
 * as one row on their first day (rollup_daily_month) when the series is by
 * month; else day by day.
 */
static int
series_days(
    struct build *b, const struct dm_query_filter *f, dm_query_day_cb cb)
{
	if (b->r->bucket == DM_BUCKET_MONTH)
		return dm_query_days_months(b->q, f, cb, b, b->err);
	return dm_query_days(b->q, f, cb, b, b->err);
}

/*
 * The series of the ISPs with most mail, for the HTML's small multiples, so
 * that the day an ISP started to block shows.  Left out when one ISP has
 * reported or a reporter was asked for: the series is then that ISP's.  One
 * query per ISP over the period's rollup rows.
 */
static int
fill_isp_daily(struct build *b)
{
	struct dm_query_filter f = b->f;
	size_t i, n = b->isps.n < ISP_SERIES_MAX ? b->isps.n : ISP_SERIES_MAX;
	int rc;

	if (n < 2 || b->opt->reporter != NULL)
		return DM_OK;
	for (i = 0; i < n; i++) {
		memset(b->days, 0, b->n_days * sizeof(*b->days));
		f.reporter = b->isps.v[i];
		if ((rc = series_days(b, &f, isp_day_cb)) != DM_OK ||
		    (rc = series_rows(
		         b, &b->r->sec[SEC_ISP_DAILY], f.reporter)) != DM_OK)
			return rc;
	}
	return DM_OK;
}

/* The org_names row c of the ISPs stands for in the period: all of them
 * (org_names), and for text and HTML, when they are several, a line under
 * the row. */
static int
isp_org_names(
    struct build *b, const struct section *s, const char *isp, struct cell *c)
{
	static const char sep[] = {DM_LIST_SEP, '\0'};
	struct dm_buf list;
	size_t n;
	int rc;

	dm_buf_init(&list, 1 << 16);
	rc = dm_isp_names_orgs(&b->names, isp, sep, &list, &n);
	if (rc == DM_OK && n > 0)
		rc = dm_cell_set_str(
		    &c[dm_section_col(s, "org_names")], list.data);
	dm_buf_reset(&list);
	if (rc == DM_OK && n > 1 &&
	    (rc = dm_isp_names_orgs(&b->names, isp, "; ", &list, &n)) == DM_OK)
		rc = dm_cell_set_str(
		    &c[dm_section_col(s, "org_names_text")], list.data);
	dm_buf_free(&list);
	return rc;
}

/* An ISP with mail in the period, or one that fell silent. */
static int
isp_cb(void *ctx, const struct dm_query_isp *i, struct dm_error *err)
{
	struct build *b = ctx;
	int silent = i->messages == 0;
	struct section *s = &b->r->sec[silent ? SEC_SILENT_ISPS : SEC_ISPS];
	struct cell *c;

	(void)err;
	if (s->n_rows >= b->top) {
		dm_more_add(&s->more, silent ? i->prev_messages : i->messages,
		    silent ? 0 : i->quarantined, silent ? 0 : i->rejected);
		return DM_OK;
	}
	if ((c = dm_section_add_row(s)) == NULL ||
	    dm_cell_set_str(&c[0], i->isp) != DM_OK)
		return oom(b);
	if (silent) {
		dm_cell_int(&c[1], CELL_DAY, i->last_day);
		dm_cell_int(&c[2], CELL_INT, i->prev_messages);
		return DM_OK;
	}
	dm_cell_int(&c[1], CELL_INT, i->messages);
	dm_cell_rate(&c[2], i->dmarc_pass, i->messages);
	dm_cell_int(&c[3], CELL_INT, i->quarantined);
	dm_cell_int(&c[4], CELL_INT, i->rejected);
	dm_cell_int(&c[6], CELL_INT, i->dmarc_pass);
	dm_cell_int(&c[7], CELL_INT, i->blocked_pass);
	if (isp_org_names(b, s, i->isp, c) != DM_OK ||
	    names_add(&b->isps, i->isp) != DM_OK)
		return oom(b);
	return DM_OK;
}

static int
domain_cb(void *ctx, const struct dm_query_domain *d, struct dm_error *err)
{
	struct build *b = ctx;
	struct section *s = &b->r->sec[SEC_DOMAINS];
	struct cell *c;

	(void)err;
	if (s->n_rows >= b->top) {
		dm_more_add(&s->more, d->messages, d->quarantined, d->rejected);
		return DM_OK;
	}
	if ((c = dm_section_add_row(s)) == NULL ||
	    dm_cell_set_str(&c[0], d->header_from) != DM_OK ||
	    dm_cell_set_str(&c[1], d->domain) != DM_OK ||
	    dm_cell_set_str(&c[2], d->p) != DM_OK ||
	    dm_cell_set_str(&c[3], d->sp) != DM_OK)
		return oom(b);
	if (d->pct >= 0)
		dm_cell_int(&c[4], CELL_INT, d->pct);
	dm_cell_int(&c[5], CELL_INT, d->messages);
	dm_cell_rate(&c[6], d->dmarc_pass, d->messages);
	dm_cell_int(&c[7], CELL_INT, d->quarantined);
	dm_cell_int(&c[8], CELL_INT, d->rejected);
	/* A From domain's page comes once, where its first row is (at most
	   top rows: the scan stays small). */
	if (b->r->by_domain && !names_has(&b->pages, d->header_from) &&
	    names_add(&b->pages, d->header_from) != DM_OK)
		return oom(b);
	return DM_OK;
}

static int
new_cb(void *ctx, const struct dm_query_new_source *n, struct dm_error *err)
{
	struct build *b = ctx;
	struct section *s = &b->r->sec[SEC_NEW_SOURCES];
	struct cell *c;

	(void)err;
	if (s->n_rows >= b->top) {
		dm_more_add(&s->more, n->messages, 0, 0);
		return DM_OK;
	}
	if ((c = dm_section_add_row(s)) == NULL ||
	    dm_cell_set_str(&c[0], n->source_ip) != DM_OK)
		return oom(b);
	dm_cell_int(&c[1], CELL_DAY, n->first_day);
	dm_cell_int(&c[2], CELL_INT, n->messages);
	dm_cell_rate(&c[3], n->dmarc_pass, n->messages);
	return DM_OK;
}

static int
run_queries(struct build *b)
{
	struct dm_query_filter f = b->f, prev = b->f;
	int rc;

	/* The previous period is only summed: its whole months come as
	   one row each. */
	prev.from = b->r->prev_from;
	f.from = b->r->prev_from;
	f.to = b->r->from;
	if ((rc = dm_query_days_months(b->q, &f, day_cb, b, b->err)) != DM_OK)
		return rc;
	f.from = b->r->from;
	f.to = b->f.to;
	if ((rc = series_days(b, &f, day_cb)) != DM_OK ||
	    (rc = dm_isp_names_period(&b->names, b->q, &b->f, b->err)) !=
	        DM_OK ||
	    (rc = dm_query_isps(b->q, &prev, b->r->from, isp_cb, b, b->err)) !=
	        DM_OK ||
	    (rc = dm_query_domains(b->q, &b->f, domain_cb, b, b->err)) !=
	        DM_OK ||
	    (rc = dm_sources_fill(b->r, b->q, &b->f, b->opt, b->isps.v,
	         b->isps.n, b->pages.v, b->pages.n, b->err)) != DM_OK ||
	    (rc = dm_query_new_sources(b->q, &b->f, new_cb, b, b->err)) !=
	        DM_OK)
		return rc;
	if ((rc = fill_overview(b)) != DM_OK || (rc = fill_daily(b)) != DM_OK)
		return rc;
	return fill_isp_daily(b);
}

/* ---- Life cycle ---- */

/* "" stays "": to gettext it names the catalogue's header. */
static const char *
tr(const char *s)
{
	return s != NULL && s[0] != '\0' ? _(s) : s;
}

/*
 * Titles, empty-section sentences and nouns in the reader's language, once
 * per report, so that no renderer needs to know about translation.  The
 * columns are copied: the templates are constant and shared.
 */
static int
translate_section(struct section *s)
{
	struct column *c;
	size_t i;

	s->title = tr(s->title);
	s->empty = tr(s->empty);
	s->noun = tr(s->noun);
	if ((c = dm_calloc(s->n_cols, sizeof(*c))) == NULL)
		return DM_ENOMEM;
	for (i = 0; i < s->n_cols; i++) {
		c[i] = s->cols[i];
		c[i].title = tr(c[i].title);
	}
	s->own_cols = c;
	s->cols = c;
	return DM_OK;
}

/* The series' title and first column after its bucket. */
static void
set_series(struct dm_report *r)
{
	static const char *const titles[] = {
	    N_("Daily"), N_("Weekly"), N_("Monthly")};
	struct section *s = &r->sec[SEC_DAILY];

	s->title = titles[r->bucket];
	s->cols = r->bucket == DM_BUCKET_DAY    ? daily_cols
	          : r->bucket == DM_BUCKET_WEEK ? weekly_cols
	                                        : monthly_cols;
}

static int
new_report(const struct dm_report_options *opt, struct dm_report **out,
    struct dm_error *err)
{
	struct dm_report *r;
	size_t i;

	if (opt->from >= opt->to || opt->from % DM_DAY_SECONDS != 0 ||
	    opt->to % DM_DAY_SECONDS != 0)
		return dm_error_set(err, DM_EINVAL,
		    _("the period must be whole UTC days with from before to"));
	if (opt->from < DM_FIRST_DATED)
		return dm_error_set(err, DM_EINVAL,
		    _("the period must start on 2000-01-01 or later: reports "
		      "dated before are undated"));
	if (opt->top > DM_REPORT_TOP_MAX)
		return dm_error_set(err, DM_EINVAL,
		    _("at most %d rows per section"), DM_REPORT_TOP_MAX);
	if ((r = dm_calloc(1, sizeof(*r))) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	r->from = opt->from;
	r->to = opt->to;
	/* The previous period of a long one would reach the undated reports'
	   day: it starts no earlier than dated reports do. */
	r->prev_from = opt->from - (opt->to - opt->from);
	if (r->prev_from < DM_FIRST_DATED)
		r->prev_from = DM_FIRST_DATED;
	r->bucket = dm_bucket_of_period(opt->from, opt->to);
	r->by_domain = opt->by_domain;
	for (i = 0; i < SEC_COUNT; i++)
		r->sec[i] = templates[i];
	set_series(r);
	if (r->by_domain) {
		r->sec[SEC_DOMAINS].cols = domain_page_cols;
		r->sec[SEC_DOMAINS].n_cols = N(domain_page_cols);
		r->sec[SEC_SOURCES].group_col = 1;
		r->sec[SEC_SOURCES].title =
		    N_("Failing sources by From domain");
	}
	if (opt->check_dns != NULL) {
		r->sec[SEC_DNS].formats = F_JSON;
		r->sec[SEC_DNS_CHECKS].formats = F_TEXT | F_HTML | F_CSV;
	}
	r->by_service = opt->by_service && !opt->by_domain;
	if (r->by_service) {
		r->sec[SEC_SERVICES].formats = 0;
		r->sec[SEC_SOURCES].group_col = -1;
		r->sec[SEC_SOURCES].title =
		    N_("Failing sources by sending service");
	}
	for (i = 0; i < SEC_COUNT; i++) {
		if (translate_section(&r->sec[i]) != DM_OK) {
			dm_report_free(r);
			return dm_error_set(err, DM_ENOMEM, _("out of memory"));
		}
	}
	if ((opt->domain != NULL &&
	        (r->domain = dm_strdup(opt->domain)) == NULL) ||
	    (opt->reporter != NULL &&
	        (r->reporter = dm_strdup(opt->reporter)) == NULL)) {
		dm_report_free(r);
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	}
	*out = r;
	return DM_OK;
}

int
dm_report_build(struct dm_query *q, const struct dm_report_options *opt,
    struct dm_report **out, struct dm_error *err)
{
	struct build b;
	int rc;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if ((rc = new_report(opt, &b.r, err)) != DM_OK)
		return rc;
	b.q = q;
	b.err = err;
	b.opt = opt;
	b.top = opt->top > 0 ? opt->top : DM_REPORT_TOP;
	b.f.from = opt->from;
	b.f.to = opt->to;
	b.f.domain = opt->domain;
	b.f.reporter = opt->reporter;
	b.n_days = (size_t)((opt->to - opt->from) / DM_DAY_SECONDS);
	if ((b.days = dm_calloc(b.n_days, sizeof(*b.days))) == NULL)
		rc = oom(&b);
	if (rc == DM_OK && (rc = dm_isp_names_use(&b.names, q, err)) == DM_OK &&
	    (rc = dm_query_begin(q, err)) == DM_OK) {
		rc = run_queries(&b);
		dm_query_end(q);
	}
	dm_isp_names_done(&b.names, q);
	names_free(&b.isps);
	names_free(&b.pages);
	dm_free(b.days);
	if (rc != DM_OK) {
		dm_report_free(b.r);
		return rc;
	}
	*out = b.r;
	return DM_OK;
}

void
dm_report_free(struct dm_report *r)
{
	size_t i, j;

	if (r == NULL)
		return;
	for (i = 0; i < SEC_COUNT; i++) {
		for (j = 0; j < r->sec[i].n_rows * r->sec[i].n_cols; j++)
			dm_free(r->sec[i].cells[j].s);
		dm_free(r->sec[i].cells);
		for (j = 0; j < r->sec[i].n_groups; j++)
			dm_free(r->sec[i].groups[j].heading);
		dm_free(r->sec[i].groups);
		dm_free(r->sec[i].own_cols);
	}
	dm_free(r->domain);
	dm_free(r->reporter);
	dm_free(r);
}
