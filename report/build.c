/*
 * build.c - a report's sections from the rollup queries.
 *
 * Three queries feed everything: the daily rows of this period and the previous
 * one (overview, ISPs, silent ISPs, domains, daily series), the failing
 * evidence rows of this period (failing sources, and each ISP's top cause), and
 * the new sources.  Aggregation by ISP and by IP happens here, in small hash
 * maps, because ISP names are ours (isp.c) and causes come from the classifier,
 * neither of which SQL knows.  The result is a set of typed tables
 * (report_int.h).
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"

#define DAY 86400
#define MAX_LIST                                                               \
	8 /* ISPs or domains listed per source; more are summarised as "..."   \
	   */

/* ---- The string -> index map of report_int.h (open addressing, FNV-1a)
 * -------------------------------------- */

static int
map_grow(struct strmap *m)
{
	struct strmap g = {NULL, NULL, m->cap == 0 ? 64 : m->cap * 2, 0};
	size_t i;

	g.keys = dm_calloc(g.cap, sizeof(*g.keys));
	g.vals = dm_calloc(g.cap, sizeof(*g.vals));
	if (g.keys == NULL || g.vals == NULL) {
		dm_free(g.keys);
		dm_free(g.vals);
		return DM_ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (m->keys[i] == NULL)
			continue;
		for (j = dm_hash_str(m->keys[i]) & (g.cap - 1);
		     g.keys[j] != NULL; j = (j + 1) & (g.cap - 1))
			;
		g.keys[j] = m->keys[i];
		g.vals[j] = m->vals[i];
	}
	g.n = m->n;
	dm_free(m->keys);
	dm_free(m->vals);
	*m = g;
	return DM_OK;
}

int
strmap_get(struct strmap *m, const char *key, size_t *val, int *added)
{
	size_t j;

	*added = 0;
	if ((m->n + 1) * 2 > m->cap && map_grow(m) != DM_OK)
		return DM_ENOMEM;
	for (j = dm_hash_str(key) & (m->cap - 1); m->keys[j] != NULL;
	     j = (j + 1) & (m->cap - 1)) {
		if (strcmp(m->keys[j], key) == 0) {
			*val = m->vals[j];
			return DM_OK;
		}
	}
	if ((m->keys[j] = dm_strdup(key)) == NULL)
		return DM_ENOMEM;
	m->vals[j] = *val;
	m->n++;
	*added = 1;
	return DM_OK;
}

void
strmap_free(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		dm_free(m->keys[i]);
	dm_free(m->keys);
	dm_free(m->vals);
}

/* ---- Aggregates
 * ---------------------------------------------------------------------------
 */

struct totals {
	int64_t messages, pass, quarantined, rejected;
};

struct isp_agg {
	char *name;
	struct totals cur;
	int64_t prev_messages, last_day;
	int64_t cause[DM_CAUSE_COUNT];
};

struct domain_agg {
	char *header_from, *domain, *p, *sp;
	int64_t pct;
	struct totals cur;
};

struct isp_disp {
	char *isp;
	int64_t quarantined, rejected, other;
};

struct ip_agg {
	char *ip;
	int64_t messages, spf_raw, spf_al, dkim_raw, dkim_al;
	int64_t cause[DM_CAUSE_COUNT];
	char *why[DM_CAUSE_COUNT], *fix[DM_CAUSE_COUNT];
	struct isp_disp isps[MAX_LIST];
	size_t n_isps;
	char *domains[MAX_LIST], *froms[MAX_LIST];
	size_t n_domains, n_froms;
	int more_isps, more_domains, more_froms;
};

/* A growable array of T with a map from name to index. */
struct agg_set {
	void *items;
	size_t n, cap, size;
	struct strmap map;
};

struct build {
	struct dm_report *r;
	struct dm_query *q;
	struct dm_query_filter f;
	char **orgs;
	size_t n_orgs, cap_orgs;
	struct totals cur, prev;
	struct agg_set isps, domains, ips;
	struct totals *days;
	size_t n_days;
	struct dm_error *err;
};

/* Index of key in set, adding a zeroed item when new. */
static int
set_find(struct agg_set *s, const char *key, size_t *idx, int *added)
{
	int rc;

	*idx = s->n;
	if ((rc = strmap_get(&s->map, key, idx, added)) != DM_OK || !*added)
		return rc;
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 16 : s->cap * 2;
		void *p = dm_realloc(s->items, cap * s->size);

		if (p == NULL)
			return DM_ENOMEM;
		s->items = p;
		s->cap = cap;
	}
	memset((char *)s->items + s->n * s->size, 0, s->size);
	s->n++;
	return DM_OK;
}

static int
oom(struct build *b)
{
	return dm_error_set(
	    b->err, DM_ENOMEM, "out of memory building the report");
}

static void
add_totals(struct totals *t, const struct dm_query_day *d)
{
	t->messages += d->messages;
	t->pass += d->dmarc_pass;
	t->quarantined += d->quarantined;
	t->rejected += d->rejected;
}

/* ---- Reporter filter
 * ---------------------------------------------------------------------- */

static int
org_cb(void *ctx, const char *name, struct dm_error *err)
{
	struct build *b = ctx;
	const char *want = b->r->reporter;

	if (strcasecmp(dm_isp_name(name), want) != 0 &&
	    strcasecmp(name, want) != 0)
		return DM_OK;
	if (b->n_orgs == b->cap_orgs) {
		size_t cap = b->cap_orgs == 0 ? 8 : b->cap_orgs * 2;
		char **p = dm_realloc(b->orgs, cap * sizeof(*p));

		if (p == NULL)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
		b->orgs = p;
		b->cap_orgs = cap;
	}
	if ((b->orgs[b->n_orgs] = dm_strdup(name)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	b->n_orgs++;
	return DM_OK;
}

static int
resolve_reporter(struct build *b)
{
	int rc;

	if (b->r->reporter == NULL)
		return DM_OK;
	if ((rc = dm_query_org_names(b->q, org_cb, b, b->err)) != DM_OK)
		return rc;
	b->f.org_names = (const char *const *)b->orgs;
	b->f.n_org_names = b->n_orgs;
	b->f.use_org_names = 1;
	return DM_OK;
}

/* ---- Daily rows
 * ---------------------------------------------------------------------------
 */

static int
isp_day(struct build *b, const struct dm_query_day *d, int current)
{
	const char *name = dm_isp_name(d->org_name);
	struct isp_agg *a;
	size_t i;
	int added;

	if (set_find(&b->isps, name, &i, &added) != DM_OK)
		return oom(b);
	a = (struct isp_agg *)b->isps.items + i;
	if (added && (a->name = dm_strdup(name)) == NULL)
		return oom(b);
	if (current)
		add_totals(&a->cur, d);
	else
		a->prev_messages += d->messages;
	if (d->messages > 0 && d->day > a->last_day)
		a->last_day = d->day;
	return DM_OK;
}

static int
replace_str(char **dst, const char *s)
{
	char *c = dm_strdup(s);

	if (c == NULL)
		return DM_ENOMEM;
	dm_free(*dst);
	*dst = c;
	return DM_OK;
}

static int
domain_day(struct build *b, const struct dm_query_day *d)
{
	const char *from =
	    d->header_from[0] != '\0' ? d->header_from : d->domain;
	struct domain_agg *a;
	struct dm_buf key;
	size_t i;
	int added, rc;

	dm_buf_init(&key, (size_t)1 << 20);
	rc = dm_buf_addf(&key, "%s\037%s", from, d->domain);
	if (rc == DM_OK)
		rc = set_find(&b->domains, key.data, &i, &added);
	dm_buf_free(&key);
	if (rc != DM_OK)
		return oom(b);
	a = (struct domain_agg *)b->domains.items + i;
	if (added && (replace_str(&a->header_from, from) != DM_OK ||
	                 replace_str(&a->domain, d->domain) != DM_OK))
		return oom(b);
	/* Rows come in day order: the last one carries the policy published
	 * last. */
	if (replace_str(&a->p, d->p) != DM_OK ||
	    replace_str(&a->sp, d->sp) != DM_OK)
		return oom(b);
	a->pct = d->pct;
	add_totals(&a->cur, d);
	return DM_OK;
}

static int
day_cb(void *ctx, const struct dm_query_day *d, struct dm_error *err)
{
	struct build *b = ctx;
	int current = d->day >= b->r->from;
	int rc;

	(void)err;
	add_totals(current ? &b->cur : &b->prev, d);
	if ((rc = isp_day(b, d, current)) != DM_OK)
		return rc;
	if (!current)
		return DM_OK;
	add_totals(&b->days[(d->day - b->r->from) / DAY], d);
	return domain_day(b, d);
}

/* ---- Failing sources
 * ---------------------------------------------------------------------- */

struct dm_evidence
dm_report_evidence(const struct dm_query_source *s)
{
	struct dm_evidence ev;

	memset(&ev, 0, sizeof(ev));
	ev.header_from = s->header_from;
	ev.envelope_from = s->envelope_from;
	ev.disposition = s->disposition;
	ev.dkim = s->dkim;
	ev.spf = s->spf;
	ev.dkim_results = s->dkim_results;
	ev.n_dkim = s->n_dkim;
	ev.spf_results = s->spf_results;
	ev.n_spf = s->n_spf;
	ev.reasons = s->reasons;
	ev.n_reasons = s->n_reasons;
	ev.p = s->p;
	ev.testing = s->testing;
	ev.adkim = s->adkim;
	ev.aspf = s->aspf;
	return ev;
}

/* Adds s to a short list of distinct strings; sets *more when the list is full.
 */
static int
list_add(char **list, size_t *n, int *more, const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return DM_OK;
	for (i = 0; i < *n; i++) {
		if (strcmp(list[i], s) == 0)
			return DM_OK;
	}
	if (*n == MAX_LIST) {
		*more = 1;
		return DM_OK;
	}
	if ((list[*n] = dm_strdup(s)) == NULL)
		return DM_ENOMEM;
	(*n)++;
	return DM_OK;
}

static int
ip_isp(struct ip_agg *a, const char *isp, const struct dm_query_source *s)
{
	struct isp_disp *d = NULL;
	size_t i;

	for (i = 0; i < a->n_isps && d == NULL; i++) {
		if (strcmp(a->isps[i].isp, isp) == 0)
			d = &a->isps[i];
	}
	if (d == NULL) {
		if (a->n_isps == MAX_LIST) {
			a->more_isps = 1;
			return DM_OK;
		}
		d = &a->isps[a->n_isps];
		if ((d->isp = dm_strdup(isp)) == NULL)
			return DM_ENOMEM;
		a->n_isps++;
	}
	if (strcmp(s->disposition, "quarantine") == 0)
		d->quarantined += s->messages;
	else if (strcmp(s->disposition, "reject") == 0)
		d->rejected += s->messages;
	else
		d->other += s->messages;
	return DM_OK;
}

static int
ip_auth(struct ip_agg *a, const struct dm_query_source *s)
{
	size_t i;
	int rc = DM_OK, dk = 0, sp = 0;

	for (i = 0; i < s->n_dkim && rc == DM_OK; i++) {
		if (strcmp(s->dkim_results[i].result, "pass") != 0)
			continue;
		dk = 1;
		rc = list_add(a->domains, &a->n_domains, &a->more_domains,
		    s->dkim_results[i].domain);
	}
	for (i = 0; i < s->n_spf && rc == DM_OK; i++) {
		if (strcmp(s->spf_results[i].result, "pass") != 0)
			continue;
		sp = 1;
		rc = list_add(a->domains, &a->n_domains, &a->more_domains,
		    s->spf_results[i].domain);
	}
	a->dkim_raw += dk ? s->messages : 0;
	a->spf_raw += sp ? s->messages : 0;
	a->dkim_al += strcmp(s->dkim, "pass") == 0 ? s->messages : 0;
	a->spf_al += strcmp(s->spf, "pass") == 0 ? s->messages : 0;
	return rc;
}

/* The first (largest) row of each cause at an IP gives that cause's
 * explanation. */
static int
ip_cause(struct ip_agg *a, const struct dm_cause *c,
    const struct dm_evidence *ev, int64_t messages)
{
	struct dm_buf why, fix;
	int rc;

	a->cause[c->code] += messages;
	if (a->why[c->code] != NULL)
		return DM_OK;
	dm_buf_init(&why, 1 << 16);
	dm_buf_init(&fix, 1 << 16);
	rc = dm_cause_explain(c, ev, &why, &fix);
	if (rc == DM_OK && (why.data == NULL || fix.data == NULL))
		rc = DM_ENOMEM;
	if (rc != DM_OK) {
		dm_buf_free(&why);
		dm_buf_free(&fix);
		return rc;
	}
	a->why[c->code] = dm_buf_take(&why);
	a->fix[c->code] = dm_buf_take(&fix);
	return DM_OK;
}

static int
source_cb(void *ctx, const struct dm_query_source *s, struct dm_error *err)
{
	struct build *b = ctx;
	struct dm_evidence ev = dm_report_evidence(s);
	struct dm_cause c = dm_cause_classify(&ev);
	const char *isp = dm_isp_name(s->org_name);
	struct ip_agg *a;
	size_t i;
	int added;

	(void)err;
	if (set_find(&b->isps, isp, &i, &added) != DM_OK)
		return oom(b);
	if (added && (((struct isp_agg *)b->isps.items)[i].name =
	                     dm_strdup(isp)) == NULL)
		return oom(b);
	((struct isp_agg *)b->isps.items)[i].cause[c.code] += s->messages;
	if (set_find(&b->ips, s->source_ip, &i, &added) != DM_OK)
		return oom(b);
	a = (struct ip_agg *)b->ips.items + i;
	if (added && (a->ip = dm_strdup(s->source_ip)) == NULL)
		return oom(b);
	a->messages += s->messages;
	if (ip_isp(a, isp, s) != DM_OK || ip_auth(a, s) != DM_OK ||
	    list_add(a->froms, &a->n_froms, &a->more_froms, s->header_from) !=
	        DM_OK ||
	    ip_cause(a, &c, &ev, s->messages) != DM_OK)
		return oom(b);
	return DM_OK;
}

/* ---- Sections
 * -----------------------------------------------------------------------------
 */

struct cell *
section_add_row(struct section *s)
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
section_cell(const struct section *s, size_t row, size_t col)
{
	return &s->cells[row * s->n_cols + col];
}

int
cell_set_str(struct cell *c, const char *s)
{
	c->kind = CELL_STR;
	c->s = dm_strdup(s != NULL ? s : "");
	return c->s != NULL ? DM_OK : DM_ENOMEM;
}

static void
cell_int(struct cell *c, enum cell_kind kind, int64_t v)
{
	c->kind = kind;
	c->i = v;
}

/* A rate in tenths of a percent, rounded half up; CELL_NULL over zero messages.
 */
static void
cell_rate(struct cell *c, int64_t part, int64_t whole)
{
	if (whole <= 0)
		return;
	cell_int(c, CELL_PERMILLE, (part * 2000 / whole + 1) / 2);
}

static const struct column overview_cols[] = {
    {"metric", "Metric", 0, 0, 0, 0},
    {"value", "This period", 1, 0, 0, 0},
    {"previous", "Previous", 1, 0, 0, 0},
    {"change", "Change", 1, 0, 0, 0},
};
static const struct column isp_cols[] = {
    {"isp", "ISP", 0, 0, 0, 28},
    {"messages", "Messages", 1, 0, 0, 0},
    {"dmarc_pass_percent", "Pass %", 1, 0, 0, 0},
    {"quarantined", "Quarantined", 1, 0, 1, 0},
    {"rejected", "Rejected", 1, 0, 1, 0},
    {"top_cause", "Top cause of failure", 0, 0, 0, 24},
};
static const struct column source_cols[] = {
    {"source_ip", "Source IP", 0, 0, 0, 39},
    {"messages", "Messages", 1, 0, 0, 0},
    {"spf_raw_pass", "SPF raw", 1, 0, 0, 0},
    {"spf_aligned_pass", "SPF aln", 1, 0, 0, 0},
    {"dkim_raw_pass", "DKIM raw", 1, 0, 0, 0},
    {"dkim_aligned_pass", "DKIM aln", 1, 0, 0, 0},
    {"cause", "Cause", 0, 0, 0, 16},
    {"isps", "ISPs", 0, 1, 0, 0},
    {"header_from", "From", 0, 1, 0, 0},
    {"authenticated_domains", "Authenticated", 0, 1, 0, 0},
    {"explanation", "Why", 0, 1, 0, 0},
    {"fix", "Fix", 0, 1, 0, 0},
};
static const struct column new_cols[] = {
    {"source_ip", "Source IP", 0, 0, 0, 39},
    {"first_seen", "First seen", 0, 0, 0, 0},
    {"messages", "Messages", 1, 0, 0, 0},
    {"dmarc_pass_percent", "Pass %", 1, 0, 0, 0},
};
static const struct column silent_cols[] = {
    {"isp", "ISP", 0, 0, 0, 40},
    {"last_seen", "Last report", 0, 0, 0, 0},
    {"previous_messages", "Messages before", 1, 0, 0, 0},
};
static const struct column domain_cols[] = {
    {"header_from", "From domain", 0, 0, 0, 24},
    {"policy_domain", "Policy domain", 0, 0, 0, 20},
    {"p", "p", 0, 0, 0, 10},
    {"sp", "sp", 0, 0, 0, 10},
    {"pct", "pct", 1, 0, 0, 0},
    {"messages", "Messages", 1, 0, 0, 0},
    {"dmarc_pass_percent", "Pass %", 1, 0, 0, 0},
    {"quarantined", "Quar.", 1, 0, 1, 0},
    {"rejected", "Rejected", 1, 0, 1, 0},
};
static const struct column daily_cols[] = {
    {"day", "Day", 0, 0, 0, 0},
    {"messages", "Messages", 1, 0, 0, 0},
    {"dmarc_pass", "DMARC pass", 1, 0, 0, 0},
    {"dmarc_pass_percent", "Pass %", 1, 0, 0, 0},
    {"quarantined", "Quarantined", 1, 0, 1, 0},
    {"rejected", "Rejected", 1, 0, 1, 0},
};

#define N(a) (sizeof(a) / sizeof(a[0]))

static const struct section templates[SEC_COUNT] = {
    {"overview", "Overview", "No reports in this period.", overview_cols,
        N(overview_cols), NULL, 0, 0},
    {"isps", "By ISP", "No reports in this period.", isp_cols, N(isp_cols),
        NULL, 0, 0},
    {"sources", "Failing sources", "No source failed DMARC in this period.",
        source_cols, N(source_cols), NULL, 0, 0},
    {"new_sources", "New sending sources",
        "No new sending source in this period.", new_cols, N(new_cols), NULL, 0,
        0},
    {"silent_isps", "ISPs that fell silent",
        "Every ISP that reported before still reports.", silent_cols,
        N(silent_cols), NULL, 0, 0},
    {"domains", "By From domain", "No reports in this period.", domain_cols,
        N(domain_cols), NULL, 0, 0},
    {"daily", "Daily", "", daily_cols, N(daily_cols), NULL, 0, 0},
};

const char *const *
dm_report_tables(void)
{
	static const char *const names[] = {"overview", "isps", "sources",
	    "new_sources", "silent_isps", "domains", "daily", NULL};

	return names;
}

static int
overview_row(struct section *s, const char *metric, enum cell_kind kind,
    int64_t cur, int64_t prev, int rate_valid_cur, int rate_valid_prev)
{
	struct cell *c = section_add_row(s);

	if (c == NULL || cell_set_str(&c[0], metric) != DM_OK)
		return DM_ENOMEM;
	if (rate_valid_cur)
		cell_int(&c[1], kind, cur);
	if (rate_valid_prev)
		cell_int(&c[2], kind, prev);
	if (rate_valid_cur && rate_valid_prev)
		cell_int(&c[3],
		    kind == CELL_PERMILLE ? CELL_DELTA_PM : CELL_DELTA,
		    cur - prev);
	return DM_OK;
}

static int64_t
permille(int64_t part, int64_t whole)
{
	return whole > 0 ? (part * 2000 / whole + 1) / 2 : 0;
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

static int
fill_overview(struct build *b)
{
	struct section *s = &b->r->sec[SEC_OVERVIEW];
	const struct totals *c = &b->cur, *p = &b->prev;

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
	return fill_conflicts(b, s);
}

static enum dm_cause_code
top_cause(const int64_t *cause)
{
	enum dm_cause_code best = DM_CAUSE_PASS;
	int i;

	for (i = DM_CAUSE_PASS + 1; i < DM_CAUSE_COUNT; i++) {
		if (cause[i] > cause[best])
			best = (enum dm_cause_code)i;
	}
	return best;
}

static int
cmp_isp(const void *a, const void *b)
{
	const struct isp_agg *x = a, *y = b;

	if (x->cur.messages != y->cur.messages)
		return x->cur.messages > y->cur.messages ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
fill_isps(struct build *b)
{
	struct isp_agg *a = b->isps.items;
	size_t i;

	if (b->isps.n > 0)
		qsort(a, b->isps.n, sizeof(*a), cmp_isp);
	for (i = 0; i < b->isps.n; i++) {
		struct section *s =
		    &b->r->sec[a[i].cur.messages > 0 ? SEC_ISPS
		                                     : SEC_SILENT_ISPS];
		enum dm_cause_code top = top_cause(a[i].cause);
		struct cell *c;

		if (a[i].cur.messages == 0 && a[i].prev_messages == 0)
			continue;
		if ((c = section_add_row(s)) == NULL ||
		    cell_set_str(&c[0], a[i].name) != DM_OK)
			return oom(b);
		if (s == &b->r->sec[SEC_SILENT_ISPS]) {
			cell_int(&c[1], CELL_DAY, a[i].last_day);
			cell_int(&c[2], CELL_INT, a[i].prev_messages);
			continue;
		}
		cell_int(&c[1], CELL_INT, a[i].cur.messages);
		cell_rate(&c[2], a[i].cur.pass, a[i].cur.messages);
		cell_int(&c[3], CELL_INT, a[i].cur.quarantined);
		cell_int(&c[4], CELL_INT, a[i].cur.rejected);
		if (top != DM_CAUSE_PASS &&
		    cell_set_str(&c[5], dm_cause_name(top)) != DM_OK)
			return oom(b);
	}
	return DM_OK;
}

/* "Microsoft: 12 rejected, 3 quarantined; Yahoo: 5 quarantined" */
static int
isp_list(const struct ip_agg *a, struct dm_buf *t)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < a->n_isps && rc == DM_OK; i++) {
		const struct isp_disp *d = &a->isps[i];

		rc = dm_buf_addf(t, "%s%s:", i > 0 ? "; " : "", d->isp);
		if (rc == DM_OK && d->rejected > 0)
			rc = dm_buf_addf(
			    t, " %lld rejected", (long long)d->rejected);
		if (rc == DM_OK && d->quarantined > 0)
			rc = dm_buf_addf(t, "%s %lld quarantined",
			    d->rejected > 0 ? "," : "",
			    (long long)d->quarantined);
		if (rc == DM_OK && d->other > 0)
			rc = dm_buf_addf(t, "%s %lld delivered",
			    d->rejected + d->quarantined > 0 ? "," : "",
			    (long long)d->other);
	}
	if (rc == DM_OK && a->more_isps)
		rc = dm_buf_adds(t, "; ...");
	return rc;
}

static int
join_list(char *const *list, size_t n, int more, struct dm_buf *t)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < n && rc == DM_OK; i++)
		rc = dm_buf_addf(t, "%s%s", i > 0 ? ", " : "", list[i]);
	if (rc == DM_OK && more)
		rc = dm_buf_adds(t, ", ...");
	return rc;
}

static int
cell_from_buf(struct cell *c, struct dm_buf *t, int rc)
{
	if (rc == DM_OK)
		rc = cell_set_str(c, t->data != NULL ? t->data : "");
	dm_buf_reset(t);
	return rc;
}

static int
cmp_ip(const void *a, const void *b)
{
	const struct ip_agg *x = a, *y = b;

	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->ip, y->ip);
}

static int
source_section_row(struct section *s, const struct ip_agg *a, struct dm_buf *t)
{
	enum dm_cause_code top = top_cause(a->cause);
	struct cell *c = section_add_row(s);
	int rc;

	if (c == NULL)
		return DM_ENOMEM;
	cell_int(&c[1], CELL_INT, a->messages);
	cell_int(&c[2], CELL_INT, a->spf_raw);
	cell_int(&c[3], CELL_INT, a->spf_al);
	cell_int(&c[4], CELL_INT, a->dkim_raw);
	cell_int(&c[5], CELL_INT, a->dkim_al);
	if ((rc = cell_set_str(&c[0], a->ip)) != DM_OK ||
	    (rc = cell_set_str(&c[6], dm_cause_name(top))) != DM_OK ||
	    (rc = cell_from_buf(&c[7], t, isp_list(a, t))) != DM_OK ||
	    (rc = cell_from_buf(&c[8], t,
	         join_list(a->froms, a->n_froms, a->more_froms, t))) != DM_OK ||
	    (rc = cell_from_buf(&c[9], t,
	         join_list(a->domains, a->n_domains, a->more_domains, t))) !=
	        DM_OK ||
	    (rc = cell_set_str(&c[10], a->why[top])) != DM_OK)
		return rc;
	return cell_set_str(&c[11], a->fix[top]);
}

static int
fill_sources(struct build *b)
{
	struct ip_agg *a = b->ips.items;
	struct dm_buf t;
	size_t i;
	int rc = DM_OK;

	if (b->ips.n > 0)
		qsort(a, b->ips.n, sizeof(*a), cmp_ip);
	dm_buf_init(&t, (size_t)1 << 20);
	for (i = 0; i < b->ips.n && rc == DM_OK; i++)
		rc = source_section_row(&b->r->sec[SEC_SOURCES], &a[i], &t);
	dm_buf_free(&t);
	return rc != DM_OK ? oom(b) : DM_OK;
}

static int
new_cb(void *ctx, const struct dm_query_new_source *n, struct dm_error *err)
{
	struct build *b = ctx;
	struct cell *c = section_add_row(&b->r->sec[SEC_NEW_SOURCES]);

	(void)err;
	if (c == NULL || cell_set_str(&c[0], n->source_ip) != DM_OK)
		return oom(b);
	cell_int(&c[1], CELL_DAY, n->first_day);
	cell_int(&c[2], CELL_INT, n->messages);
	cell_rate(&c[3], n->dmarc_pass, n->messages);
	return DM_OK;
}

static int
cmp_domain(const void *a, const void *b)
{
	const struct domain_agg *x = a, *y = b;
	int d;

	if (x->cur.messages != y->cur.messages)
		return x->cur.messages > y->cur.messages ? -1 : 1;
	if ((d = strcmp(x->header_from, y->header_from)) != 0)
		return d;
	return strcmp(x->domain, y->domain);
}

static int
fill_domains(struct build *b)
{
	struct domain_agg *a = b->domains.items;
	size_t i;

	if (b->domains.n > 0)
		qsort(a, b->domains.n, sizeof(*a), cmp_domain);
	for (i = 0; i < b->domains.n; i++) {
		struct cell *c = section_add_row(&b->r->sec[SEC_DOMAINS]);

		if (c == NULL ||
		    cell_set_str(&c[0], a[i].header_from) != DM_OK ||
		    cell_set_str(&c[1], a[i].domain) != DM_OK ||
		    cell_set_str(&c[2], a[i].p) ||
		    cell_set_str(&c[3], a[i].sp) != DM_OK)
			return oom(b);
		if (a[i].pct >= 0)
			cell_int(&c[4], CELL_INT, a[i].pct);
		cell_int(&c[5], CELL_INT, a[i].cur.messages);
		cell_rate(&c[6], a[i].cur.pass, a[i].cur.messages);
		cell_int(&c[7], CELL_INT, a[i].cur.quarantined);
		cell_int(&c[8], CELL_INT, a[i].cur.rejected);
	}
	return DM_OK;
}

static int
fill_daily(struct build *b)
{
	size_t i;

	for (i = 0; i < b->n_days; i++) {
		struct cell *c = section_add_row(&b->r->sec[SEC_DAILY]);
		const struct totals *t = &b->days[i];

		if (c == NULL)
			return oom(b);
		cell_int(&c[0], CELL_DAY, b->r->from + (int64_t)i * DAY);
		cell_int(&c[1], CELL_INT, t->messages);
		cell_int(&c[2], CELL_INT, t->pass);
		cell_rate(&c[3], t->pass, t->messages);
		cell_int(&c[4], CELL_INT, t->quarantined);
		cell_int(&c[5], CELL_INT, t->rejected);
	}
	return DM_OK;
}

/* ---- Life cycle
 * ---------------------------------------------------------------------------
 */

static void
free_aggs(struct build *b)
{
	struct isp_agg *isp = b->isps.items;
	struct domain_agg *dom = b->domains.items;
	struct ip_agg *ip = b->ips.items;
	size_t i, j;

	for (i = 0; i < b->isps.n; i++)
		dm_free(isp[i].name);
	for (i = 0; i < b->domains.n; i++) {
		dm_free(dom[i].header_from);
		dm_free(dom[i].domain);
		dm_free(dom[i].p);
		dm_free(dom[i].sp);
	}
	for (i = 0; i < b->ips.n; i++) {
		dm_free(ip[i].ip);
		for (j = 0; j < DM_CAUSE_COUNT; j++) {
			dm_free(ip[i].why[j]);
			dm_free(ip[i].fix[j]);
		}
		for (j = 0; j < ip[i].n_isps; j++)
			dm_free(ip[i].isps[j].isp);
		for (j = 0; j < ip[i].n_domains; j++)
			dm_free(ip[i].domains[j]);
		for (j = 0; j < ip[i].n_froms; j++)
			dm_free(ip[i].froms[j]);
	}
	dm_free(isp);
	dm_free(dom);
	dm_free(ip);
	strmap_free(&b->isps.map);
	strmap_free(&b->domains.map);
	strmap_free(&b->ips.map);
	for (i = 0; i < b->n_orgs; i++)
		dm_free(b->orgs[i]);
	dm_free(b->orgs);
	dm_free(b->days);
}

static int
new_report(const struct dm_report_options *opt, struct dm_report **out,
    struct dm_error *err)
{
	struct dm_report *r;
	size_t i;

	if (opt->from >= opt->to || opt->from % DAY != 0 || opt->to % DAY != 0)
		return dm_error_set(err, DM_EINVAL,
		    "the period must be whole UTC days with from before to");
	if ((opt->to - opt->from) / DAY > 3660)
		return dm_error_set(
		    err, DM_EINVAL, "the period is longer than 10 years");
	if ((r = dm_calloc(1, sizeof(*r))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	r->from = opt->from;
	r->to = opt->to;
	r->prev_from = opt->from - (opt->to - opt->from);
	for (i = 0; i < SEC_COUNT; i++)
		r->sec[i] = templates[i];
	if ((opt->domain != NULL &&
	        (r->domain = dm_strdup(opt->domain)) == NULL) ||
	    (opt->reporter != NULL &&
	        (r->reporter = dm_strdup(opt->reporter)) == NULL)) {
		dm_report_free(r);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	*out = r;
	return DM_OK;
}

static int
run_queries(struct build *b)
{
	struct dm_query_filter f = b->f;
	int rc;

	f.from = b->r->prev_from;
	if ((rc = dm_query_daily(b->q, &f, day_cb, b, b->err)) != DM_OK ||
	    (rc = dm_query_sources(b->q, &b->f, 1, source_cb, b, b->err)) !=
	        DM_OK ||
	    (rc = dm_query_new_sources(b->q, &b->f, new_cb, b, b->err)) !=
	        DM_OK)
		return rc;
	if ((rc = fill_overview(b)) != DM_OK || (rc = fill_isps(b)) != DM_OK ||
	    (rc = fill_sources(b)) != DM_OK || (rc = fill_domains(b)) != DM_OK)
		return rc;
	return fill_daily(b);
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
	b.isps.size = sizeof(struct isp_agg);
	b.domains.size = sizeof(struct domain_agg);
	b.ips.size = sizeof(struct ip_agg);
	b.f.from = opt->from;
	b.f.to = opt->to;
	b.f.domain = opt->domain;
	b.n_days = (size_t)((opt->to - opt->from) / DAY);
	if ((b.days = dm_calloc(b.n_days, sizeof(*b.days))) == NULL)
		rc = oom(&b);
	if (rc == DM_OK && (rc = resolve_reporter(&b)) == DM_OK)
		rc = run_queries(&b);
	free_aggs(&b);
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
	}
	dm_free(r->domain);
	dm_free(r->reporter);
	dm_free(r);
}
