/*
 * checks.c - `report --check-dns` and `explain --check-dns`: the From domains
 * of the failing pairs shown, checked in DNS now by the caller's check_dns
 * (cli/ runs dns/'s checks, the same as `dmarcstat check`), so that a support
 * agent sees next to the recommended fix whether it has been made: the ESP's
 * SPF include present, the DKIM selector's key published, the DMARC record
 * right.  report/ only lays the results out; it never touches the network.
 */
#include "report_int.h"

#include "i18n.h"

#include <string.h>

void
dm_checks_domains(
    struct pair *const *pairs, size_t n_pairs, const char **domains, size_t *n)
{
	size_t i, j;

	*n = 0;
	for (i = 0; i < n_pairs && *n < DM_REPORT_CHECKS_MAX; i++) {
		if (pairs[i]->hidden || pairs[i]->hf[0] == '\0')
			continue;
		for (j = 0; j < *n && strcmp(domains[j], pairs[i]->hf) != 0;
		     j++)
			;
		if (j == *n)
			domains[(*n)++] = pairs[i]->hf;
	}
}

/* ok < changed < wrong < unknown, as dns/ orders them. */
static int
severity(const char *status)
{
	static const char *const order[] = {
	    "ok", "changed", "wrong", "unknown"};
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(status, order[i]) == 0)
			return i;
	}
	return 3;
}

struct fill_ctx {
	struct dm_report *r;
	int worst;
};

static int
fill_cb(void *vctx, const struct dm_report_check *c, struct dm_error *err)
{
	struct fill_ctx *x = vctx;
	struct section *s = &x->r->sec[SEC_DNS_CHECKS];
	struct cell *row = dm_section_add_row(s);

	if (row == NULL || dm_cell_set_str(&row[0], c->domain) != DM_OK ||
	    dm_cell_set_str(&row[1], c->check) != DM_OK ||
	    dm_cell_set_str(&row[2], c->subject) != DM_OK ||
	    dm_cell_set_str(&row[3], c->status) != DM_OK ||
	    (c->found != NULL && dm_cell_set_str(&row[4], c->found) != DM_OK) ||
	    (c->fix != NULL && dm_cell_set_str(&row[5], c->fix) != DM_OK))
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	if (severity(c->status) > x->worst)
		x->worst = severity(c->status);
	return DM_OK;
}

/* "shop.test: wrong", the group heading of a domain's checks. */
static int
domain_heading(struct section *s, const char *domain, const char *status)
{
	size_t n = strlen(domain) + strlen(status) + 3;
	char *h = dm_malloc(n);
	int rc;

	if (h == NULL)
		return DM_ENOMEM;
	snprintf(h, n, "%s: %s", domain, status);
	rc = dm_section_add_group(s, h);
	dm_free(h);
	return rc;
}

/* One domain: its checks, then its row in the dns section linking them. */
static int
fill_domain(struct dm_report *r, struct dm_query *q,
    const struct dm_report_options *opt, const char *domain,
    struct dm_error *err)
{
	static const char *const names[] = {
	    "ok", "changed", "wrong", "unknown"};
	struct section *c = &r->sec[SEC_DNS_CHECKS], *d = &r->sec[SEC_DNS];
	struct fill_ctx x = {r, 0};
	size_t row0 = c->n_rows;
	struct cell *row;
	int rc;

	if ((rc = opt->check_dns(opt->check_ctx, q, domain, opt->from, opt->to,
	         fill_cb, &x, err)) != DM_OK)
		return rc;
	/* The heading says the worst status: the group starts at the
	   domain's first check, added once they are all in. */
	if (domain_heading(c, domain, names[x.worst]) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	c->groups[c->n_groups - 1].row0 = row0;
	if ((row = dm_section_add_row(d)) == NULL ||
	    dm_cell_set_str(&row[0], domain) != DM_OK ||
	    dm_cell_set_str(&row[1], names[x.worst]) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	row[2].kind = CELL_ROWS;
	row[2].i = (int64_t)row0;
	row[2].n = c->n_rows - row0;
	return DM_OK;
}

int
dm_checks_fill(struct dm_report *r, struct dm_query *q,
    const struct dm_report_options *opt, const char *const *domains, size_t n,
    struct dm_error *err)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < n && rc == DM_OK; i++)
		rc = fill_domain(r, q, opt, domains[i], err);
	return rc;
}

/* ---- explain --check-dns ---- */

struct text_ctx {
	struct out *o;
};

static int
text_cb(void *vctx, const struct dm_report_check *c, struct dm_error *err)
{
	struct out *o = ((struct text_ctx *)vctx)->o;

	(void)err;
	dm_out_puts(o, "  ");
	dm_out_text(o, c->check);
	dm_out_puts(o, " ");
	dm_out_text(o, c->subject);
	dm_out_puts(o, ": ");
	dm_out_text(o, c->status);
	dm_out_puts(o, "\n");
	if (c->found != NULL)
		dm_text_wrap(o, 4, _("Found: "), c->found);
	if (c->fix != NULL)
		dm_text_wrap(o, 4, _("Fix: "), c->fix);
	return DM_OK; /* out's error is sticky: dm_out_flush reports it */
}

int
dm_checks_text(struct out *o, struct dm_query *q,
    const struct dm_report_options *opt, const char *const *domains, size_t n,
    struct dm_error *err)
{
	struct text_ctx x = {o};
	size_t i;
	int rc = DM_OK;

	if (n > 0)
		dm_out_puts(o, _("\nDNS now: are the fixes in place?\n"));
	for (i = 0; i < n && rc == DM_OK; i++) {
		dm_out_puts(o, _("\nFrom domain "));
		dm_out_text(o, domains[i]);
		dm_out_puts(o, ":\n");
		rc = opt->check_dns(opt->check_ctx, q, domains[i], opt->from,
		    opt->to, text_cb, &x, err);
	}
	return rc;
}
