/*
 * sources.c - the failing sources of a report: a row per (source IP, From
 * domain) pair with mail that failed DMARC or was quarantined or rejected,
 * with its cause, explanation and fix, its ISPs (source_isps: one row per pair
 * and ISP, each with its own cause), its days and reports.  Text and HTML show
 * the pairs under their source IP, so a shared IP reads as one block listing
 * each customer; by_domain, under their From domain instead, a page per
 * customer.  The pairs themselves are kept and classified by pairs.c.
 */
#include "report_int.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>

struct out_ctx {
	struct dm_report *r;
	struct pairs *p;
	struct dm_error *err;
};

static int
oom(struct out_ctx *x)
{
	return dm_error_set(
	    x->err, DM_ENOMEM, _("out of memory building the report"));
}

/* ---- Rows of the sources sections ---- */

static struct cell *
col(struct section *s, struct cell *row, const char *key)
{
	return &row[dm_section_col(s, key)];
}

static int
cmp_isp_rows(const void *a, const void *b)
{
	const struct pair_isp *x = a, *y = b;

	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->isp, y->isp);
}

/* "Yahoo: 620 messages, 620 rejected (spf_not_aligned); Google: ..." */
static int
isps_text(const struct pair *p, struct dm_buf *t)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < p->n_isps && rc == DM_OK; i++) {
		const struct pair_isp *d = &p->isps[i];
		enum dm_cause_code c = dm_top_cause(&d->t);

		rc = dm_buf_addf(t,
		    P_("%s%s: %lld message", "%s%s: %lld messages",
		        d->messages),
		    i > 0 ? "; " : "", d->isp, (long long)d->messages);
		if (rc == DM_OK && d->quarantined > 0)
			rc = dm_buf_addf(t, _(", %lld quarantined"),
			    (long long)d->quarantined);
		if (rc == DM_OK && d->rejected > 0)
			rc = dm_buf_addf(
			    t, _(", %lld rejected"), (long long)d->rejected);
		if (rc == DM_OK && dm_sat_add(d->quarantined, d->rejected) == 0)
			rc = dm_buf_adds(t, _(", none blocked"));
		if (rc == DM_OK)
			rc = dm_buf_addf(t, " (%s)", dm_cause_name(c));
	}
	if (rc == DM_OK && p->isp_more.rows > 0)
		rc = dm_buf_addf(t, _("; and %lld more ISPs: %lld messages"),
		    (long long)p->isp_more.rows,
		    (long long)p->isp_more.messages);
	return rc;
}

/* "2026-11-01 to 2026-11-07, 7 reports" */
static int
seen_text(const struct pair *p, struct dm_buf *t)
{
	char a[32], b[32];

	dm_format_day(p->first_day, a, sizeof(a));
	dm_format_day(p->last_day, b, sizeof(b));
	if (p->first_day == p->last_day)
		return dm_buf_addf(t,
		    P_("%s, %lld report", "%s, %lld reports", p->reports), a,
		    (long long)p->reports);
	return dm_buf_addf(t,
	    P_("%s to %s, %lld report", "%s to %s, %lld reports", p->reports),
	    a, b, (long long)p->reports);
}

static int
auth_text(const struct pair *p, struct dm_buf *t)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < p->n_auth && rc == DM_OK; i++)
		rc = dm_buf_addf(t, "%s%s", i > 0 ? ", " : "", p->auth[i]);
	if (rc == DM_OK && p->more_auth)
		rc = dm_buf_adds(t, ", ...");
	return rc;
}

/* The host columns of CSV and JSON; NULL cells where nothing is known. */
static int
host_cells(struct section *s, struct cell *c, const struct pair *p)
{
	int rc = DM_OK;

	if (p->ptr != NULL) {
		rc = dm_cell_set_str(col(s, c, "ptr"), p->ptr);
		dm_cell_int(col(s, c, "ptr_confirmed"), CELL_INT, p->confirmed);
	}
	if (rc == DM_OK && p->service != NULL &&
	    (rc = dm_cell_set_str(col(s, c, "service"), p->service)) == DM_OK &&
	    (rc = dm_cell_set_str(col(s, c, "service_by"),
	         p->service_by_ptr ? "ptr" : "domain")) == DM_OK &&
	    p->kind != NULL)
		rc = dm_cell_set_str(col(s, c, "service_kind"), p->kind);
	if (p->asn >= 0)
		dm_cell_int(col(s, c, "asn"), CELL_INT, p->asn);
	if (rc == DM_OK && p->as_org != NULL)
		rc = dm_cell_set_str(col(s, c, "as_org"), p->as_org);
	if (rc == DM_OK && p->country != NULL)
		rc = dm_cell_set_str(col(s, c, "country"), p->country);
	return rc;
}

/* Sets a cell from what a writer put in t, then empties t. */
static int
cell_from(struct cell *c, struct dm_buf *t, int rc)
{
	if (rc == DM_OK)
		rc = dm_cell_set_str(c, t->data != NULL ? t->data : "");
	dm_buf_reset(t);
	return rc;
}

static int
isp_rows(struct dm_report *r, struct pair *p, struct cell *parent)
{
	struct section *s = &r->sec[SEC_SOURCE_ISPS];
	size_t i;

	parent->kind = CELL_ROWS;
	parent->i = (int64_t)s->n_rows;
	parent->n = p->n_isps;
	for (i = 0; i < p->n_isps; i++) {
		const struct pair_isp *d = &p->isps[i];
		struct cell *c = dm_section_add_row(s);

		if (c == NULL || dm_cell_set_str(&c[0], p->ip) != DM_OK ||
		    dm_cell_set_str(&c[1], p->hf) != DM_OK ||
		    dm_cell_set_str(&c[2], d->isp) != DM_OK ||
		    dm_cell_set_str(
		        &c[6], dm_cause_name(dm_top_cause(&d->t))) != DM_OK)
			return DM_ENOMEM;
		dm_cell_int(&c[3], CELL_INT, d->messages);
		dm_cell_int(&c[4], CELL_INT, d->quarantined);
		dm_cell_int(&c[5], CELL_INT, d->rejected);
	}
	return DM_OK;
}

static void
pair_numbers(struct section *s, struct cell *c, const struct pair *p)
{
	dm_cell_int(col(s, c, "messages"), CELL_INT, p->messages);
	dm_cell_int(col(s, c, "dmarc_pass"), CELL_INT, p->dmarc_pass);
	dm_cell_int(col(s, c, "quarantined"), CELL_INT, p->quarantined);
	dm_cell_int(col(s, c, "rejected"), CELL_INT, p->rejected);
	dm_cell_int(col(s, c, "spf_raw_pass"), CELL_INT, p->spf_raw);
	dm_cell_int(col(s, c, "spf_aligned_pass"), CELL_INT, p->spf_al);
	dm_cell_int(col(s, c, "dkim_raw_pass"), CELL_INT, p->dkim_raw);
	dm_cell_int(col(s, c, "dkim_aligned_pass"), CELL_INT, p->dkim_al);
	dm_cell_int(col(s, c, "first_day"), CELL_DAY, p->first_day);
	dm_cell_int(col(s, c, "last_day"), CELL_DAY, p->last_day);
	dm_cell_int(col(s, c, "reports"), CELL_INT, p->reports);
}

int
dm_sources_add_pair(struct dm_report *r, struct pair *p, struct dm_buf *t)
{
	struct section *s = &r->sec[SEC_SOURCES];
	enum dm_cause_code top = dm_top_cause(&p->t);
	struct cell *c = dm_section_add_row(s);
	int rc;

	if (c == NULL)
		return DM_ENOMEM;
	if (p->n_isps > 0)
		qsort(p->isps, p->n_isps, sizeof(*p->isps), cmp_isp_rows);
	pair_numbers(s, c, p);
	if ((rc = dm_cell_set_str(col(s, c, "source_ip"), p->ip)) != DM_OK ||
	    (rc = dm_cell_set_str(col(s, c, "header_from"), p->hf)) != DM_OK ||
	    (rc = isp_rows(r, p, col(s, c, "isps"))) != DM_OK ||
	    (rc = cell_from(col(s, c, "isps_text"), t, isps_text(p, t))) !=
	        DM_OK ||
	    (rc = cell_from(col(s, c, "seen"), t, seen_text(p, t))) != DM_OK ||
	    (rc = cell_from(col(s, c, "authenticated_domains"), t,
	         auth_text(p, t))) != DM_OK ||
	    (rc = cell_from(col(s, c, "host"), t, dm_pair_host_text(p, t))) !=
	        DM_OK ||
	    (rc = host_cells(s, c, p)) != DM_OK)
		return rc;
	/* Only failing evidence is read: a pair without any has no cause. */
	if (top == DM_CAUSE_PASS)
		return DM_OK;
	if ((rc = dm_cell_set_str(col(s, c, "cause"), dm_cause_name(top))) !=
	        DM_OK ||
	    (rc = dm_cell_set_str(col(s, c, "explanation"), p->why[top])) !=
	        DM_OK)
		return rc;
	return dm_cell_set_str(col(s, c, "fix"), p->fix[top]);
}

/* ---- Groups ---- */

/* "From domain D: 22529 messages, 75.8 % passed DMARC, 1906 quarantined,
 * 3480 rejected", from its first row in the domains section. */
static int
page_heading(struct out_ctx *x, const char *hf, struct dm_buf *h)
{
	const struct section *d = &x->r->sec[SEC_DOMAINS];
	char rate[32];
	size_t r;

	for (r = 0; r < d->n_rows; r++) {
		if (strcmp(dm_section_cell(d, r, 0)->s, hf) != 0)
			continue;
		dm_cell_format(dm_section_cell(d, r,
		                   dm_section_col(d, "dmarc_pass_percent")),
		    rate, sizeof(rate));
		return dm_buf_addf(h,
		    _("From domain %s: %lld messages, %s %% passed DMARC, %lld "
		      "quarantined, %lld rejected"),
		    hf,
		    (long long)dm_section_cell(
		        d, r, dm_section_col(d, "messages"))
		        ->i,
		    rate,
		    (long long)dm_section_cell(
		        d, r, dm_section_col(d, "quarantined"))
		        ->i,
		    (long long)dm_section_cell(
		        d, r, dm_section_col(d, "rejected"))
		        ->i);
	}
	return dm_buf_addf(h, _("From domain %s"), hf);
}

static int
start_group(struct out_ctx *x, const struct pair *p)
{
	struct section *s = &x->r->sec[SEC_SOURCES];
	struct dm_buf h;
	int rc;

	dm_buf_init(&h, 1 << 16);
	rc = x->r->by_domain ? page_heading(x, p->hf, &h)
	                     : dm_buf_addf(&h, _("Source IP %s"), p->ip);
	if (rc == DM_OK)
		rc = dm_section_add_group(s, h.data);
	if (rc == DM_OK && x->r->by_domain)
		s->groups[s->n_groups - 1].more = x->p->heaps[p->page].more;
	dm_buf_free(&h);
	return rc;
}

/* The domains section's rows of page pg get its sources (JSON). */
static void
link_page(struct out_ctx *x, size_t pg, size_t row0, size_t n)
{
	struct section *d = &x->r->sec[SEC_DOMAINS];
	size_t r, cs = dm_section_col(d, "sources"),
	          cm = dm_section_col(d, "more_sources");

	for (r = 0; r < d->n_rows; r++) {
		struct cell *c = &d->cells[r * d->n_cols];

		if (strcmp(dm_section_cell(d, r, 0)->s, x->p->pages[pg]) != 0)
			continue;
		c[cs].kind = CELL_ROWS;
		c[cs].i = (int64_t)row0;
		c[cs].n = n;
		dm_cell_int(&c[cm], CELL_INT, x->p->heaps[pg].more.rows);
	}
}

static int
write_rows(struct out_ctx *x)
{
	struct section *s = &x->r->sec[SEC_SOURCES];
	struct dm_buf t;
	size_t i, row0 = 0;
	int rc = DM_OK;

	dm_buf_init(&t, (size_t)1 << 20);
	for (i = 0; i < x->p->n_kept && rc == DM_OK; i++) {
		struct pair *p = x->p->kept[i];

		if (i == 0 || p->group != x->p->kept[i - 1]->group) {
			if (i > 0 && x->r->by_domain)
				link_page(x, x->p->kept[i - 1]->page, row0,
				    s->n_rows - row0);
			row0 = s->n_rows;
			rc = start_group(x, p);
		}
		if (rc == DM_OK)
			rc = dm_sources_add_pair(x->r, p, &t);
	}
	if (rc == DM_OK && x->p->n_kept > 0 && x->r->by_domain)
		link_page(x, x->p->kept[x->p->n_kept - 1]->page, row0,
		    s->n_rows - row0);
	dm_buf_free(&t);
	return rc != DM_OK ? oom(x) : DM_OK;
}

/* The more of the whole section: pairs that no page or heap kept. */
static void
section_more(struct out_ctx *x)
{
	struct more *m = &x->r->sec[SEC_SOURCES].more;
	size_t i;

	*m = x->p->orphans;
	if (x->r->by_domain)
		return;
	for (i = 0; i < x->p->n_heaps; i++) {
		m->rows = dm_sat_add(m->rows, x->p->heaps[i].more.rows);
		m->messages =
		    dm_sat_add(m->messages, x->p->heaps[i].more.messages);
		m->quarantined =
		    dm_sat_add(m->quarantined, x->p->heaps[i].more.quarantined);
		m->rejected =
		    dm_sat_add(m->rejected, x->p->heaps[i].more.rejected);
	}
}

static int
isp_top_causes(struct out_ctx *x)
{
	struct section *s = &x->r->sec[SEC_ISPS];
	size_t i, c = dm_section_col(s, "top_cause");

	for (i = 0; i < x->p->n_isps; i++) {
		const struct isp_tally *t = &x->p->isps[i];
		enum dm_cause_code top = dm_top_cause(&t->t);

		if (top != DM_CAUSE_PASS &&
		    dm_cell_set_str(&s->cells[t->row * s->n_cols + c],
		        dm_cause_name(top)) != DM_OK)
			return oom(x);
	}
	return DM_OK;
}

/* The From domains of the pairs shown, checked in DNS now. */
static int
check_shown(struct dm_report *r, struct dm_query *q, struct pairs *p,
    const struct dm_report_options *opt, struct dm_error *err)
{
	const char *domains[DM_REPORT_CHECKS_MAX];
	size_t n;

	dm_checks_domains(p->kept, p->n_kept, domains, &n);
	return dm_checks_fill(r, q, opt, domains, n, err);
}

int
dm_sources_fill(struct dm_report *r, struct dm_query *q,
    const struct dm_query_filter *f, const struct dm_report_options *opt,
    char *const *isp_names, size_t n_isps, char *const *domains,
    size_t n_domains, struct dm_error *err)
{
	size_t cap = opt->top > 0 ? opt->top : DM_REPORT_TOP;
	struct pairs p;
	struct out_ctx x = {r, &p, err};
	int rc;

	memset(&p, 0, sizeof(p));
	p.opt = opt;
	p.err = err;
	/* By service, every failing pair (up to DM_REPORT_PAIRS_MAX) counts
	   for its service's sums; top of each are listed. */
	if (r->by_service)
		cap = DM_REPORT_PAIRS_MAX;
	/* Pages of many pairs each are cut to DM_REPORT_PAIRS_MAX in all. */
	if (r->by_domain && n_domains > 0 &&
	    cap * n_domains > DM_REPORT_PAIRS_MAX)
		cap = DM_REPORT_PAIRS_MAX / n_domains;
	if ((rc = dm_pairs_setup(&p, cap, r->by_domain ? domains : NULL,
	         n_domains, isp_names, n_isps)) == DM_OK &&
	    (rc = dm_pairs_load(&p, q, f, DM_QUERY_FAILING)) == DM_OK &&
	    (rc = dm_pairs_reports(&p, q, f, DM_QUERY_FAILING)) == DM_OK &&
	    (rc = dm_pairs_hosts(&p, q, f)) == DM_OK &&
	    (rc = dm_pairs_classify(&p, q, f, DM_QUERY_FAILING)) == DM_OK) {
		dm_pairs_order(&p, !r->by_domain && !r->by_service);
		section_more(&x);
		if (r->by_service)
			rc = dm_services_fill(r, &p,
			    opt->top > 0 ? opt->top : DM_REPORT_TOP, err);
		else
			rc = write_rows(&x);
		if (rc == DM_OK)
			rc = isp_top_causes(&x);
		if (rc == DM_OK && opt->check_dns != NULL)
			rc = check_shown(r, q, &p, opt, err);
	}
	dm_pairs_teardown(&p);
	return rc;
}
