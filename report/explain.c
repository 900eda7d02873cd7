/*
 * explain.c - `dmarcstat explain`: one complaint ("Yahoo did not deliver our
 * customer's mail from 203.0.113.7 last week") answered with the evidence a
 * support agent or an ISP's postmaster asks for.
 *
 * Per (source IP, From domain) pair in the address or range: its cause and
 * fix, and per ISP the days it reported the mail, the reports (ids, the
 * reporting org and its address), what it did with the mail, and the groups
 * of messages with the same evidence (aligned and raw results, DKIM domains
 * and selectors, envelope_from, override reasons).  The pairs are pairs.c's,
 * kept and classified as report keeps its failing sources, but all mail
 * counts here, passed or not.  --letter (letter.c) turns the same facts into
 * a letter to each ISP that blocked mail.  Memory is bounded: opt->top pairs,
 * MAX_PAIR_ISPS ISPs each, a few evidence groups and report ids per ISP.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

#include "explain_int.h"

/* ---- Details of a pair at an ISP ---- */

static struct pair_detail *
detail_new(void)
{
	struct pair_detail *d = dm_calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	dm_buf_init(&d->evidence, (size_t)1 << 20);
	dm_buf_init(&d->refs, (size_t)1 << 16);
	dm_buf_init(&d->orgs, (size_t)1 << 16);
	dm_buf_init(&d->dkim_seen, (size_t)1 << 16);
	dm_buf_init(&d->spf_seen, (size_t)1 << 16);
	return d;
}

static void
detail_free(struct pair_detail *d)
{
	if (d == NULL)
		return;
	dm_buf_free(&d->evidence);
	dm_buf_free(&d->refs);
	dm_buf_free(&d->orgs);
	dm_buf_free(&d->dkim_seen);
	dm_buf_free(&d->spf_seen);
	dm_free(d);
}

/* Gives every ISP of every kept pair its details. */
static int
details_new(struct pairs *x)
{
	size_t i, j;

	for (i = 0; i < x->n_kept; i++) {
		for (j = 0; j < x->kept[i]->n_isps; j++) {
			if ((x->kept[i]->isps[j].d = detail_new()) == NULL)
				return DM_ENOMEM;
		}
	}
	return DM_OK;
}

static void
details_free(struct pairs *x)
{
	size_t i, j;

	for (i = 0; i < x->n_kept; i++) {
		for (j = 0; j < x->kept[i]->n_isps; j++)
			detail_free(x->kept[i]->isps[j].d);
	}
}

static const char *
or_none(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : _("(none)");
}

int
dm_list_has(const struct dm_buf *b, const char *sep, const char *entry)
{
	const char *p = b->data;
	size_t len = strlen(entry), sl = strlen(sep);

	while (p != NULL && *p != '\0') {
		const char *end = strstr(p, sep);
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == len && memcmp(p, entry, len) == 0)
			return 1;
		p = end != NULL ? end + sl : NULL;
	}
	return 0;
}

int
dm_list_add(
    struct dm_buf *b, size_t *n, size_t max, const char *sep, const char *entry)
{
	if (*n >= max || dm_list_has(b, sep, entry))
		return DM_OK;
	(*n)++;
	if (b->len > 0 && dm_buf_adds(b, sep) != DM_OK)
		return DM_ENOMEM;
	return dm_buf_adds(b, entry);
}

/* ---- Evidence lines ---- */

/* Results shown per kind in one evidence line; more are counted. */
#define MAX_RESULTS 8
/* Evidence groups shown per pair and ISP; smaller ones are summed. */
#define MAX_EVIDENCE 4
/* Report ids listed per pair and ISP (and per letter). */
#define MAX_REFS 10

static int
raw_dkim(struct dm_buf *b, const struct dm_query_source *s)
{
	size_t i;
	int rc = DM_OK;

	if (s->n_dkim == 0)
		return dm_buf_adds(b, _(" Raw results: no DKIM signature"));
	for (i = 0; rc == DM_OK && i < s->n_dkim && i < MAX_RESULTS; i++)
		rc = dm_buf_addf(b, _("%sDKIM %s for %s (selector %s)"),
		    i > 0 ? ", " : _(" Raw results: "),
		    or_none(s->dkim_results[i].result),
		    or_none(s->dkim_results[i].domain),
		    or_none(s->dkim_results[i].selector));
	if (rc == DM_OK && s->n_dkim > MAX_RESULTS)
		rc = dm_buf_addf(
		    b, _(" and %zu more"), s->n_dkim - (size_t)MAX_RESULTS);
	return rc;
}

static int
raw_spf(struct dm_buf *b, const struct dm_query_source *s)
{
	size_t i;
	int rc = DM_OK;

	if (s->n_spf == 0)
		return dm_buf_adds(b, _("; no SPF result"));
	for (i = 0; rc == DM_OK && i < s->n_spf && i < MAX_RESULTS; i++)
		rc = dm_buf_addf(b, _("%sSPF %s for %s (%s)"),
		    i > 0 ? ", " : C_("before the SPF results", "; "),
		    or_none(s->spf_results[i].result),
		    or_none(s->spf_results[i].domain),
		    or_none(s->spf_results[i].scope));
	if (rc == DM_OK && s->n_spf > MAX_RESULTS)
		rc = dm_buf_addf(
		    b, _(" and %zu more"), s->n_spf - (size_t)MAX_RESULTS);
	return rc;
}

static int
reasons(struct dm_buf *b, const struct dm_query_source *s)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; rc == DM_OK && i < s->n_reasons && i < MAX_RESULTS; i++)
		rc = dm_buf_addf(b, "%s%s%s%s",
		    i > 0 ? ", " : _(". Override reason: "),
		    or_none(s->reasons[i].type),
		    s->reasons[i].comment[0] != '\0' ? " - " : "",
		    s->reasons[i].comment);
	return rc;
}

/* "none" is only what the policy did: the ISP may still have filed the mail
 * as spam, so it is not called delivered. */
static const char *
disposition_words(const char *d)
{
	if (d != NULL && strcmp(d, "none") == 0)
		return _("none (not blocked by policy)");
	return or_none(d);
}

static int
evidence_line(
    struct dm_buf *b, const struct dm_query_source *s, enum dm_cause_code code)
{
	char d0[32], d1[32], n[64];
	int rc;

	dm_format_day(s->first_day, d0, sizeof(d0));
	dm_format_day(s->last_day, d1, sizeof(d1));
	rc = dm_buf_addf(b,
	    _("%s, disposition %s, %s%s%s (%s). Envelope from %s, to %s. "
	      "Aligned (DMARC) results: DKIM %s, SPF %s."),
	    dm_plural(
	        s->messages, "%lld message", "%lld messages", n, sizeof(n)),
	    disposition_words(s->disposition), d0,
	    strcmp(d0, d1) != 0 ? _(" to ") : "", strcmp(d0, d1) != 0 ? d1 : "",
	    dm_cause_name(code), or_none(s->envelope_from),
	    or_none(s->envelope_to), or_none(s->dkim), or_none(s->spf));
	if (rc == DM_OK)
		rc = raw_dkim(b, s);
	if (rc == DM_OK)
		rc = raw_spf(b, s);
	if (rc == DM_OK)
		rc = reasons(b, s);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, C_("end of an evidence line", ".\n"));
	return rc;
}

/* What a letter says of the pair's authentication at the ISP. */
static int
auth_seen(struct pair_detail *d, const struct dm_query_source *s)
{
	char e[3 * DM_QUERY_TEXT_MAX * 4 + 64];
	size_t i;
	int rc = DM_OK;

	for (i = 0; rc == DM_OK && i < s->n_dkim; i++) {
		snprintf(e, sizeof(e), _("%s (selector %s) %s"),
		    or_none(s->dkim_results[i].domain),
		    or_none(s->dkim_results[i].selector),
		    or_none(s->dkim_results[i].result));
		rc = dm_list_add(
		    &d->dkim_seen, &d->n_dkim_seen, MAX_RESULTS, ", ", e);
	}
	for (i = 0; rc == DM_OK && i < s->n_spf; i++) {
		snprintf(e, sizeof(e), "%s %s",
		    or_none(s->spf_results[i].domain),
		    or_none(s->spf_results[i].result));
		rc = dm_list_add(
		    &d->spf_seen, &d->n_spf_seen, MAX_RESULTS, ", ", e);
	}
	return rc;
}

/* pairs.c calls this for every evidence group of a kept pair. */
static int
on_evidence(void *ctx, struct pair *p, struct pair_isp *pi,
    const struct dm_query_source *s, enum dm_cause_code code)
{
	struct pair_detail *d = pi != NULL ? pi->d : NULL;

	(void)ctx;
	(void)p;
	if (d == NULL)
		return DM_OK;
	if (auth_seen(d, s) != DM_OK)
		return DM_ENOMEM;
	if (d->n_evidence == MAX_EVIDENCE) {
		d->more_messages = dm_sat_add(d->more_messages, s->messages);
		d->more_groups++;
		return DM_OK;
	}
	d->n_evidence++;
	return evidence_line(&d->evidence, s, code);
}

/* ---- Reports behind each pair and ISP ---- */

int
dm_refs_add(struct pair_detail *d, const struct dm_query_report_ref *r)
{
	char org[2 * DM_QUERY_TEXT_MAX * 4 + 8];

	snprintf(org, sizeof(org), "%s%s%s%s", or_none(r->org_name),
	    r->email[0] != '\0' ? " <" : "", r->email,
	    r->email[0] != '\0' ? ">" : "");
	if (dm_list_add(&d->orgs, &d->n_orgs, 3, "; ", org) != DM_OK)
		return DM_ENOMEM;
	d->reports++;
	if (d->n_refs == MAX_REFS)
		return DM_OK;
	d->n_refs++;
	if (d->refs.len > 0 && dm_buf_adds(&d->refs, ", ") != DM_OK)
		return DM_ENOMEM;
	return dm_buf_adds(&d->refs, or_none(r->report_id));
}

static int
ref_cb(void *ctx, const struct dm_query_report_ref *r, struct dm_error *err)
{
	struct pairs *x = ctx;
	struct pair *p = dm_pairs_find(x, r->source_ip, r->header_from);
	struct pair_isp *pi = p != NULL ? dm_pair_find_isp(p, r->isp) : NULL;

	if (pi == NULL || pi->d == NULL)
		return DM_OK;
	return dm_refs_add(pi->d, r) == DM_OK
	           ? DM_OK
	           : dm_error_set(err, DM_ENOMEM, _("out of memory"));
}

/* ---- Writing ---- */

static void
write_lines(struct out *o, const struct dm_buf *b, size_t indent)
{
	const char *p = b->data != NULL ? b->data : "";

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		char *line = dm_strndup(p, n);

		if (line == NULL) {
			o->rc = DM_ENOMEM;
			return;
		}
		dm_text_wrap(o, indent, "- ", line);
		dm_free(line);
		p += n + (p[n] == '\n');
	}
}

static void
write_isp(struct out *o, const struct pair_isp *pi)
{
	const struct pair_detail *d = pi->d;
	char a[32], b[32], n[64], line[512];
	int64_t delivered = pi->messages - pi->quarantined - pi->rejected;

	dm_format_day(pi->first_day, a, sizeof(a));
	dm_format_day(pi->last_day, b, sizeof(b));
	dm_out_puts(o, "  ");
	dm_out_text(o, pi->isp);
	dm_out_printf(o, _(": %s, %lld passed DMARC, %s%s%s\n"),
	    dm_plural(
	        pi->messages, "%lld message", "%lld messages", n, sizeof(n)),
	    (long long)pi->dmarc_pass, a, strcmp(a, b) != 0 ? _(" to ") : "",
	    strcmp(a, b) != 0 ? b : "");
	snprintf(line, sizeof(line),
	    _("What it did: %lld rejected, %lld quarantined, %lld not blocked "
	      "by policy (cause: %s)."),
	    (long long)pi->rejected, (long long)pi->quarantined,
	    (long long)(delivered > 0 ? delivered : 0),
	    dm_cause_name(dm_top_cause(&pi->t)));
	dm_text_wrap(o, 4, "", line);
	if (d == NULL)
		return;
	dm_out_printf(o, _("    Reported in %s by "),
	    dm_plural(d->reports, "%lld report", "%lld reports", n, sizeof(n)));
	dm_out_text(o, or_none(d->orgs.data));
	dm_out_puts(o, ":\n");
	dm_text_wrap(o, 6, "", d->refs.data != NULL ? d->refs.data : "");
	if (d->reports > MAX_REFS)
		dm_out_printf(o, _("      and %lld more\n"),
		    (long long)(d->reports - MAX_REFS));
	dm_out_puts(o, _("    Evidence (largest groups first):\n"));
	write_lines(o, &d->evidence, 6);
	if (d->more_groups > 0)
		dm_out_printf(o, _("      - and %s in %lld smaller groups.\n"),
		    dm_plural(d->more_messages, "%lld more message",
		        "%lld more messages", n, sizeof(n)),
		    (long long)d->more_groups);
}

/* "  Host: ..." when the host table or the services know the source. */
static void
write_host(struct out *o, const struct pair *p)
{
	struct dm_buf t;

	dm_buf_init(&t, 1 << 16);
	if (dm_pair_host_text(p, &t) != DM_OK)
		o->rc = DM_ENOMEM;
	else if (t.len > 0)
		dm_text_wrap(o, 2, _("Host: "), t.data);
	dm_buf_free(&t);
}

static void
write_pair(struct out *o, const struct pair *p)
{
	enum dm_cause_code top = dm_top_cause(&p->t);
	char n[64], m[64];
	size_t i;

	dm_out_puts(o, _("\nSource "));
	dm_out_text(o, p->ip);
	dm_out_puts(o, _(", From "));
	dm_out_text(o, or_none(p->hf));
	dm_out_printf(o,
	    _(": %s, %lld failed DMARC, %lld quarantined, %lld rejected\n"),
	    dm_plural(
	        p->messages, "%lld message", "%lld messages", n, sizeof(n)),
	    (long long)(p->messages - p->dmarc_pass), (long long)p->quarantined,
	    (long long)p->rejected);
	write_host(o, p);
	dm_out_printf(o, _("  Cause: %s\n"), dm_cause_name(top));
	if (p->why[top] != NULL) {
		dm_text_wrap(o, 2, _("Why: "), p->why[top]);
		dm_text_wrap(o, 2, _("Fix: "), p->fix[top]);
	}
	for (i = 0; i < p->n_isps; i++)
		write_isp(o, &p->isps[i]);
	if (p->isp_more.rows > 0)
		dm_out_printf(o, _("  and %s more: %s\n"),
		    dm_plural(p->isp_more.rows, "%lld ISP", "%lld ISPs", n,
		        sizeof(n)),
		    dm_plural(p->isp_more.messages, "%lld message",
		        "%lld messages", m, sizeof(m)));
}

void
dm_explain_heading(struct out *o, const struct dm_report_options *opt)
{
	char a[32], b[32];

	dm_out_textf(o, _("Mail from %s to %s, %s to %s (UTC), domain %s."),
	    opt->ip != NULL ? opt->ip : _("all sources"),
	    opt->reporter != NULL ? opt->reporter : _("all ISPs"),
	    dm_format_day(opt->from, a, sizeof(a)),
	    dm_format_day(opt->to - DM_DAY_SECONDS, b, sizeof(b)),
	    opt->domain != NULL ? opt->domain : _("any"));
	dm_out_puts(o, "\n");
}

static void
write_all(
    struct out *o, const struct pairs *x, const struct dm_report_options *opt)
{
	const struct more *m = &x->heaps[0].more;
	char n[64];
	size_t i;

	dm_explain_heading(o, opt);
	if (x->n_kept == 0) {
		dm_out_puts(o, _("\nNo DMARC report mentions such mail in this "
		                 "period.\n"));
		return;
	}
	for (i = 0; i < x->n_kept; i++)
		write_pair(o, x->kept[i]);
	if (m->rows > 0)
		dm_out_printf(o,
		    _("\nand %lld more sources (IP and From domain): %s, %lld "
		      "quarantined, %lld rejected.\n"),
		    (long long)m->rows,
		    dm_plural(m->messages, "%lld message", "%lld messages", n,
		        sizeof(n)),
		    (long long)m->quarantined, (long long)m->rejected);
}

/* ---- Entry point ---- */

/* opt->ip as a range, normalised as the parser normalises source_ip. */
static int
parse_ip(const char *s, struct dm_ip_net *net, struct dm_error *err)
{
	int rc = dm_ip_net_parse(s, net);

	if (rc == -1)
		return dm_error_set(err, DM_EINVAL,
		    _("not an IP address or CIDR range: %s"), s);
	if (rc != 0)
		return dm_error_set(err, DM_EINVAL,
		    _("bad prefix length in %s (0-%d)"), s,
		    strchr(s, ':') != NULL ? 128 : 32);
	return DM_OK;
}

/*
 * Keeps the pairs, classifies them with their details, reads their reports,
 * all in one snapshot.  The pairs shown are read three times (their sums,
 * evidence and reports), each a pass over the period's rows of the whole
 * range: their rows are copied once instead (dm_query_keep), and the three
 * read the copy.
 */
static int
gather(struct pairs *x, struct dm_query *q, const struct dm_query_filter *f,
    struct dm_error *err)
{
	int rc;
	struct dm_query_filter kept, from_copy = *f;
	struct dm_query_pair_key *keys = NULL;

	if ((rc = dm_pairs_load(x, q, f, 0)) != DM_OK)
		return rc;
	if (x->n_kept == 0)
		return DM_OK;
	/* The evidence and reports of the pairs shown only: a range of a
	   million sources costs the sort of these, not of all. */
	if (details_new(x) != DM_OK ||
	    dm_pairs_restrict(x, f, &kept, &keys) != DM_OK) {
		dm_free(keys);
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	}
	/* A copy of the whole range (the letter's) holds these rows too. */
	from_copy.kept = 1;
	if ((!f->kept && (rc = dm_query_keep(q, &kept, err)) != DM_OK) ||
	    (rc = dm_pairs_reports(x, q, &from_copy, 0)) != DM_OK) {
		dm_free(keys);
		return rc;
	}
	kept.kept = 1;
	if ((rc = dm_pairs_hosts(x, q, f)) == DM_OK &&
	    (rc = dm_pairs_classify(x, q, &kept, 0)) == DM_OK &&
	    (rc = dm_query_report_refs(q, &kept, 1, ref_cb, x, err)) == DM_OK)
		dm_pairs_order(x, 1);
	dm_free(keys);
	return rc;
}

/* The From domains of the pairs shown, checked in DNS now. */
static int
check_shown(struct out *o, struct dm_query *q, const struct pairs *x,
    const struct dm_report_options *opt, struct dm_error *err)
{
	const char *domains[DM_REPORT_CHECKS_MAX];
	size_t n;

	dm_checks_domains(x->kept, x->n_kept, domains, &n);
	return dm_checks_text(o, q, opt, domains, n, err);
}

int
dm_report_explain(struct dm_query *q, const struct dm_report_options *opt,
    FILE *out, struct dm_error *err)
{
	struct dm_query_filter f;
	struct dm_ip_net net;
	struct pairs x;
	struct isp_names names;
	struct out o;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&x, 0, sizeof(x));
	memset(&names, 0, sizeof(names));
	if (opt->from >= opt->to)
		return dm_error_set(err, DM_EINVAL, _("the period is empty"));
	if (opt->top > DM_REPORT_TOP_MAX)
		return dm_error_set(err, DM_EINVAL,
		    _("at most %d rows per section"), DM_REPORT_TOP_MAX);
	if (opt->ip != NULL && (rc = parse_ip(opt->ip, &net, err)) != DM_OK)
		return rc;
	f.from = opt->from;
	f.to = opt->to;
	f.domain = opt->domain;
	f.reporter = opt->reporter;
	f.net = opt->ip != NULL ? &net : NULL;
	x.opt = opt;
	x.err = err;
	x.on_evidence = on_evidence;
	dm_out_init(&o);
	if ((rc = dm_isp_names_use(&names, q, err)) != DM_OK ||
	    (rc = dm_pairs_setup(&x, opt->top > 0 ? opt->top : DM_REPORT_TOP,
	         NULL, 0, NULL, 0)) != DM_OK ||
	    (rc = dm_query_begin(q, err)) != DM_OK)
		goto done;
	/* The letter reads the whole range five times (pairs, their sums,
	   evidence and reports, then each ISP's sums and reports): one pass
	   copies it and the five read the copy. */
	if (opt->letter && (rc = dm_query_keep(q, &f, err)) != DM_OK)
		goto end;
	f.kept = opt->letter;
	rc = gather(&x, q, &f, err);
	if (rc == DM_OK && opt->letter)
		rc = dm_write_letters(&o, q, &f, opt, &x, err);
	else if (rc == DM_OK)
		write_all(&o, &x, opt);
	if (rc == DM_OK && !opt->letter && opt->check_dns != NULL)
		rc = check_shown(&o, q, &x, opt, err);
end:
	dm_query_end(q);
	if (rc == DM_OK)
		rc = dm_out_flush(&o, out, err);
done:
	dm_isp_names_done(&names, q);
	details_free(&x);
	dm_pairs_teardown(&x);
	dm_out_free(&o);
	return rc;
}
