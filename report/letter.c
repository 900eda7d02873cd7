/*
 * letter.c - `dmarcstat explain --letter`: the message an ESP's support desk
 * sends to an ISP's postmaster team when the ISP blocks a customer's mail.
 *
 * One letter per ISP that quarantined or rejected mail of the sources asked
 * about: the sending IPs and From domains, the ISP's own aggregate-report
 * figures for the period (messages, DMARC pass rate, quarantined, rejected,
 * how much of the blocked mail passed DMARC, and the report ids as
 * references), and the authentication each source showed.  Facts only, all
 * from the database; the sentences around them make no claim of their own.
 * Report text is made safe as in every text output (dm_out_text).
 */
#include "explain_int.h"

#include <string.h>

/* ISPs written to, at most; more are named in one closing line. */
#define MAX_LETTERS 32
/* Sources, addresses and domains a letter lists; more are counted. */
#define MAX_LISTED 20

struct letter {
	char *isp;
	struct dm_query_pair sums; /* strings not kept */
	struct pair_detail refs;
};

struct letters {
	const struct dm_report_options *opt;
	struct letter v[MAX_LETTERS];
	size_t n;
	struct more others; /* ISPs that blocked mail, beyond MAX_LETTERS */
};

static int
sums_cb(void *ctx, const struct dm_query_pair *row, struct dm_error *err)
{
	struct letters *l = ctx;
	struct letter *t;

	if (row->quarantined == 0 && row->rejected == 0 &&
	    l->opt->reporter == NULL)
		return DM_OK;
	if (l->n == MAX_LETTERS) {
		dm_more_add(
		    &l->others, row->messages, row->quarantined, row->rejected);
		return DM_OK;
	}
	t = &l->v[l->n];
	memset(t, 0, sizeof(*t));
	if ((t->isp = dm_strdup(row->isp)) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	t->sums = *row;
	dm_buf_init(&t->refs.refs, (size_t)1 << 16);
	dm_buf_init(&t->refs.orgs, (size_t)1 << 16);
	l->n++;
	return DM_OK;
}

static int
letter_refs_cb(
    void *ctx, const struct dm_query_report_ref *r, struct dm_error *err)
{
	struct letters *l = ctx;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].isp, r->isp) == 0)
			return dm_refs_add(&l->v[i].refs, r) == DM_OK
			           ? DM_OK
			           : dm_error_set(
			                 err, DM_ENOMEM, _("out of memory"));
	}
	return DM_OK;
}

static void
letters_free(struct letters *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		dm_free(l->v[i].isp);
		dm_buf_free(&l->v[i].refs.refs);
		dm_buf_free(&l->v[i].refs.orgs);
	}
}

/* ---- Writing ---- */

/* "a, b, c and more" of the kept pairs' addresses or domains at isp. */
static int
sources_list(
    const struct pairs *x, const char *isp, int domains, struct dm_buf *b)
{
	size_t i, n = 0;
	int rc = DM_OK, more = 0;

	for (i = 0; i < x->n_kept && rc == DM_OK; i++) {
		struct pair *p = x->kept[i];
		const char *v = domains ? p->hf : p->ip;

		if (v[0] == '\0')
			v = _("(none)");
		if (dm_pair_find_isp(p, isp) == NULL || dm_list_has(b, ", ", v))
			continue;
		if (n == MAX_LISTED)
			more = 1;
		else
			rc = dm_list_add(b, &n, MAX_LISTED, ", ", v);
	}
	if (rc == DM_OK && more)
		rc = dm_buf_adds(b, _(" and more"));
	return rc;
}

static void
line(struct out *o, const char *label, const char *text)
{
	dm_text_wrap(
	    o, 2, label, text != NULL && text[0] != '\0' ? text : _("(none)"));
}

static void
figures(struct out *o, const struct letter *t, const char *from, const char *to)
{
	const struct dm_query_pair *s = &t->sums;
	int64_t blocked = dm_sat_add(s->quarantined, s->rejected);

	dm_out_printf(o,
	    _("\nYour aggregate reports for %s to %s (UTC) say:\n"), from, to);
	dm_out_printf(
	    o, _("  Messages:        %lld\n"), (long long)s->messages);
	if (s->messages > 0)
		dm_out_printf(o, _("  Passed DMARC:    %lld (%.1f %%)\n"),
		    (long long)s->dmarc_pass,
		    100.0 * (double)s->dmarc_pass / (double)s->messages);
	dm_out_printf(
	    o, _("  Quarantined:     %lld\n"), (long long)s->quarantined);
	dm_out_printf(
	    o, _("  Rejected:        %lld\n"), (long long)s->rejected);
	if (blocked > 0)
		dm_out_printf(o,
		    _("  Of the %lld quarantined or rejected, %lld passed "
		      "DMARC "
		      "(aligned SPF or DKIM).\n"),
		    (long long)blocked, (long long)s->blocked_pass);
	dm_out_printf(
	    o, _("  Reports:         %lld"), (long long)t->refs.reports);
	if (t->refs.orgs.len > 0) {
		dm_out_puts(o, _(", from "));
		dm_out_text(o, t->refs.orgs.data);
	}
	dm_out_puts(o, "\n");
	line(o, _("Report ids:      "), t->refs.refs.data);
	if (t->refs.reports > (int64_t)t->refs.n_refs)
		dm_out_printf(o, _("                   and %lld more\n"),
		    (long long)(t->refs.reports - (int64_t)t->refs.n_refs));
}

/* One source's authentication at the ISP, as its reports show it. */
static void
auth_line(struct out *o, const struct pair *p, const struct pair_isp *pi)
{
	const struct pair_detail *d = pi->d;
	struct dm_buf b;
	char n[64];
	int rc;

	dm_buf_init(&b, (size_t)1 << 20);
	rc = dm_buf_addf(&b,
	    _("%s, From %s: %s, %lld passed DMARC (aligned DKIM %lld, aligned "
	      "SPF %lld), %lld quarantined, %lld rejected. DKIM: %s. SPF: %s."),
	    p->ip, p->hf[0] != '\0' ? p->hf : _("(none)"),
	    dm_plural(
	        pi->messages, "%lld message", "%lld messages", n, sizeof(n)),
	    (long long)pi->dmarc_pass, (long long)pi->dkim_al,
	    (long long)pi->spf_al, (long long)pi->quarantined,
	    (long long)pi->rejected,
	    d != NULL && d->dkim_seen.len > 0 ? d->dkim_seen.data : _("none"),
	    d != NULL && d->spf_seen.len > 0 ? d->spf_seen.data : _("none"));
	if (rc == DM_OK)
		dm_text_wrap(o, 2, "- ", b.data);
	else
		o->rc = rc;
	dm_buf_free(&b);
}

static void
authentication(struct out *o, const struct pairs *x, const char *isp)
{
	size_t i, n = 0, more = 0;

	dm_out_puts(o, _("\nAuthentication, as your reports show it:\n"));
	for (i = 0; i < x->n_kept; i++) {
		const struct pair_isp *pi = dm_pair_find_isp(x->kept[i], isp);

		if (pi == NULL)
			continue;
		if (n++ < MAX_LISTED)
			auth_line(o, x->kept[i], pi);
		else
			more++;
	}
	if (more > 0)
		dm_out_printf(o, _("  and %zu more sources\n"), more);
}

static void
before_sending(struct out *o, const struct letter *t)
{
	struct dm_buf b;
	const struct dm_query_pair *s = &t->sums;
	int64_t blocked = dm_sat_add(s->quarantined, s->rejected);

	dm_buf_init(&b, 1 << 12);
	if (dm_buf_addf(&b,
	        _("(Before sending: %lld of the %lld messages %s quarantined "
	          "or "
	          "rejected failed DMARC. Its postmaster will point to that "
	          "first; dmarcstat explain without --letter shows the cause "
	          "and "
	          "the fix.)"),
	        (long long)(blocked - s->blocked_pass), (long long)blocked,
	        t->isp) == DM_OK)
		dm_text_wrap(o, 0, "", b.data);
	else
		o->rc = DM_ENOMEM;
	dm_out_puts(o, "\n");
	dm_buf_free(&b);
}

static void
letter(struct out *o, const struct letter *t, const struct pairs *x,
    const struct dm_report_options *opt)
{
	char from[32], to[32];
	struct dm_buf ips, doms;

	dm_format_day(opt->from, from, sizeof(from));
	dm_format_day(opt->to - DM_DAY_SECONDS, to, sizeof(to));
	dm_buf_init(&ips, (size_t)1 << 20);
	dm_buf_init(&doms, (size_t)1 << 20);
	if (sources_list(x, t->isp, 0, &ips) != DM_OK ||
	    sources_list(x, t->isp, 1, &doms) != DM_OK)
		o->rc = DM_ENOMEM;
	/* Said before the letter, not in it: a postmaster asks for that
	   first. */
	if (t->sums.blocked_pass <
	    dm_sat_add(t->sums.quarantined, t->sums.rejected))
		before_sending(o, t);
	dm_out_textf(o, _("To: the postmaster team of %s"), t->isp);
	dm_out_puts(o, "\n");
	dm_out_textf(o,
	    _("Subject: mail from %s quarantined or rejected, %s to %s"),
	    ips.len > 0 ? ips.data : _("our IP addresses"), from, to);
	dm_out_puts(o, _("\n\nHello,\n\n"));
	dm_text_wrap(o, 0, "",
	    _("This is about mail sent from the IP addresses and for the From "
	      "domains listed below. Your DMARC aggregate reports show that "
	      "part "
	      "of it was quarantined or rejected. Could you review how your "
	      "filtering treats this mail? Every figure below comes from your "
	      "own aggregate reports."));
	dm_out_puts(o, "\n");
	line(o, _("Sending IP addresses: "), ips.data);
	line(o, _("From domains: "), doms.data);
	if (x->heaps[0].more.rows > 0)
		dm_text_wrap(o, 2, "",
		    _("(The sources listed are those with the most mail "
		      "blocked; "
		      "the figures count all of them.)"));
	figures(o, t, from, to);
	authentication(o, x, t->isp);
	dm_out_puts(o, _("\nThank you,\n"));
	dm_buf_free(&ips);
	dm_buf_free(&doms);
}

static void
write_all(struct out *o, const struct letters *l, const struct pairs *x,
    const struct dm_report_options *opt)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (i > 0)
			dm_out_puts(o,
			    "\n-----------------------------------------"
			    "-------------------------------\n\n");
		if (l->v[i].sums.quarantined == 0 &&
		    l->v[i].sums.rejected == 0) {
			dm_explain_heading(o, opt);
			dm_out_puts(o, "\n");
			dm_out_text(o, l->v[i].isp);
			dm_out_puts(
			    o, _(" did not quarantine or reject any of this "
			         "mail in the period: there is nothing to ask "
			         "its postmaster to review.\n"));
			continue;
		}
		letter(o, &l->v[i], x, opt);
	}
	if (l->others.rows > 0)
		dm_out_printf(o,
		    _("\n%lld more ISPs blocked some of this mail (%lld "
		      "quarantined, %lld rejected); ask for one of them with "
		      "--reporter.\n"),
		    (long long)l->others.rows, (long long)l->others.quarantined,
		    (long long)l->others.rejected);
	if (l->n == 0) {
		dm_explain_heading(o, opt);
		dm_out_puts(
		    o, _("\nNo ISP quarantined or rejected this mail in the "
		         "period: there is nothing to ask a postmaster to "
		         "review.\n"));
	}
}

int
dm_write_letters(struct out *o, struct dm_query *q,
    const struct dm_query_filter *f, const struct dm_report_options *opt,
    const struct pairs *x, struct dm_error *err)
{
	struct letters l;
	int rc;

	memset(&l, 0, sizeof(l));
	l.opt = opt;
	if ((rc = dm_query_isp_sums(q, f, sums_cb, &l, err)) == DM_OK &&
	    (rc = dm_query_report_refs(q, f, 0, letter_refs_cb, &l, err)) ==
	        DM_OK)
		write_all(o, &l, x, opt);
	letters_free(&l);
	return rc;
}
