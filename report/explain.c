/*
 * explain.c - `dmarcstat explain`: one complaint ("Yahoo did not deliver our
 * mail from 203.0.113.7 last week") answered in sentences a support agent can
 * paste to a customer.
 *
 * For each source IP in the address or CIDR range: what each ISP did with its
 * mail, the evidence of the largest groups of messages (aligned and raw
 * results, envelope sender, DKIM domain and selector, override reasons,
 * recipient domain), and the cause and fix of the failure that cost most
 * messages.  A single address is looked up through record(source_ip); a
 * range is matched here, since SQLite cannot compare addresses.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ip.h"

#define MAX_ISPS 16
#define MAX_EVIDENCE                                                           \
	6 /* evidence groups shown per source; the rest are counted */

struct xisp {
	char *isp;
	int64_t delivered, quarantined, rejected, pass;
};

struct xip {
	char *ip;
	int64_t messages, failing;
	struct xisp isps[MAX_ISPS];
	size_t n_isps;
	struct dm_buf evidence;
	size_t n_evidence;
	int64_t more_messages;
	int64_t cause[DM_CAUSE_COUNT];
	size_t
	    rows[DM_CAUSE_COUNT]; /* evidence rows per cause, messages or not */
	char *why[DM_CAUSE_COUNT], *fix[DM_CAUSE_COUNT];
};

struct explain {
	struct dm_ip_net range;
	int use_range;
	struct xip *ips;
	size_t n, cap;
	struct strmap map;
};

/* ---- Collecting
 * ---------------------------------------------------------------------------
 */

static struct xip *
find_ip(struct explain *x, const char *ip)
{
	size_t i = x->n;
	int added;

	if (strmap_get(&x->map, ip, &i, &added) != DM_OK)
		return NULL;
	if (!added)
		return &x->ips[i];
	if (x->n == x->cap) {
		size_t cap = x->cap == 0 ? 8 : x->cap * 2;
		struct xip *p = dm_realloc(x->ips, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		x->ips = p;
		x->cap = cap;
	}
	memset(&x->ips[x->n], 0, sizeof(x->ips[0]));
	dm_buf_init(&x->ips[x->n].evidence, (size_t)1 << 20);
	if ((x->ips[x->n].ip = dm_strdup(ip)) == NULL)
		return NULL;
	return &x->ips[x->n++];
}

static int
add_disposition(struct xip *a, const char *isp, const struct dm_query_source *s)
{
	struct xisp *d = NULL;
	size_t i;

	for (i = 0; i < a->n_isps && d == NULL; i++) {
		if (strcmp(a->isps[i].isp, isp) == 0)
			d = &a->isps[i];
	}
	if (d == NULL && a->n_isps < MAX_ISPS) {
		d = &a->isps[a->n_isps];
		if ((d->isp = dm_strdup(isp)) == NULL)
			return DM_ENOMEM;
		a->n_isps++;
	}
	if (d == NULL)
		return DM_OK;
	if (strcmp(s->disposition, "reject") == 0)
		d->rejected += s->messages;
	else if (strcmp(s->disposition, "quarantine") == 0)
		d->quarantined += s->messages;
	else
		d->delivered += s->messages;
	if (strcmp(s->dkim, "pass") == 0 || strcmp(s->spf, "pass") == 0)
		d->pass += s->messages;
	return DM_OK;
}

static const char *
or_none(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "(none)";
}

static int
raw_results(struct dm_buf *b, const struct dm_query_source *s)
{
	size_t i;
	int rc = dm_buf_adds(b, " Raw results: ");

	if (rc == DM_OK && s->n_dkim == 0)
		rc = dm_buf_adds(b, "no DKIM signature");
	for (i = 0; rc == DM_OK && i < s->n_dkim; i++)
		rc = dm_buf_addf(b, "%sDKIM %s for %s (selector %s)",
		    i > 0 ? ", " : "", or_none(s->dkim_results[i].result),
		    or_none(s->dkim_results[i].domain),
		    or_none(s->dkim_results[i].selector));
	if (rc == DM_OK && s->n_spf == 0)
		rc = dm_buf_adds(b, "; no SPF result");
	for (i = 0; rc == DM_OK && i < s->n_spf; i++)
		rc = dm_buf_addf(b, "%sSPF %s for %s (%s)", i > 0 ? ", " : "; ",
		    or_none(s->spf_results[i].result),
		    or_none(s->spf_results[i].domain),
		    or_none(s->spf_results[i].scope));
	for (i = 0; rc == DM_OK && i < s->n_reasons; i++)
		rc = dm_buf_addf(b, "%s%s%s%s",
		    i > 0 ? ", " : ". Override reason: ",
		    or_none(s->reasons[i].type),
		    s->reasons[i].comment[0] != '\0' ? " - " : "",
		    s->reasons[i].comment);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ".");
	return rc;
}

static int
add_evidence(struct xip *a, const char *isp, const struct dm_query_source *s)
{
	struct dm_buf *b = &a->evidence;
	int rc;

	if (a->n_evidence == MAX_EVIDENCE) {
		a->more_messages += s->messages;
		return DM_OK;
	}
	a->n_evidence++;
	rc = dm_buf_addf(b,
	    "%s, %lld message%s, disposition %s. From %s, envelope from %s, to "
	    "%s. "
	    "Aligned (DMARC) results: DKIM %s, SPF %s.",
	    isp, (long long)s->messages, s->messages == 1 ? "" : "s",
	    or_none(s->disposition), or_none(s->header_from),
	    or_none(s->envelope_from), or_none(s->envelope_to),
	    or_none(s->dkim), or_none(s->spf));
	if (rc == DM_OK)
		rc = raw_results(b, s);
	if (rc == DM_OK)
		rc = dm_buf_add(b, "\n", 1);
	return rc;
}

static int
add_cause(struct xip *a, const struct dm_query_source *s)
{
	struct dm_evidence ev;
	struct dm_cause c;
	struct dm_buf why, fix;
	int rc;

	ev = dm_report_evidence(s);
	c = dm_cause_classify(&ev);
	a->cause[c.code] += s->messages;
	a->rows[c.code]++;
	if (c.code != DM_CAUSE_PASS)
		a->failing += s->messages;
	if (a->why[c.code] != NULL)
		return DM_OK;
	dm_buf_init(&why, 1 << 16);
	dm_buf_init(&fix, 1 << 16);
	rc = dm_cause_explain(&c, &ev, &why, &fix);
	a->why[c.code] = dm_buf_take(&why);
	a->fix[c.code] = dm_buf_take(&fix);
	dm_buf_free(&why);
	dm_buf_free(&fix);
	if (rc == DM_OK && (a->why[c.code] == NULL || a->fix[c.code] == NULL))
		rc = DM_ENOMEM;
	return rc;
}

static int
row_cb(void *ctx, const struct dm_query_source *s, struct dm_error *err)
{
	struct explain *x = ctx;
	const char *isp = dm_isp_name(s->org_name);
	struct xip *a;

	if (x->use_range && !dm_ip_net_contains(&x->range, s->source_ip))
		return DM_OK;
	if ((a = find_ip(x, s->source_ip)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	a->messages += s->messages;
	if (add_disposition(a, isp, s) != DM_OK ||
	    add_evidence(a, isp, s) != DM_OK || add_cause(a, s) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	return DM_OK;
}

/* ---- Writing
 * ------------------------------------------------------------------------------
 */

static void
write_dispositions(struct out *o, const struct xip *a)
{
	size_t i;

	out_puts(o, "  What the ISPs did:\n");
	for (i = 0; i < a->n_isps; i++) {
		const struct xisp *d = &a->isps[i];

		out_puts(o, "    ");
		out_text(o, d->isp);
		out_printf(o,
		    ": %lld rejected, %lld quarantined, %lld delivered (%lld "
		    "passed DMARC)\n",
		    (long long)d->rejected, (long long)d->quarantined,
		    (long long)d->delivered, (long long)d->pass);
	}
}

static void
write_evidence(struct out *o, const struct xip *a)
{
	const char *p = a->evidence.data != NULL ? a->evidence.data : "";

	out_puts(o, "  Evidence (largest groups first):\n");
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		char *line = dm_strndup(p, n);

		if (line == NULL) {
			o->rc = DM_ENOMEM;
			return;
		}
		text_wrap(o, 4, "- ", line);
		dm_free(line);
		p += n + (p[n] == '\n');
	}
	if (a->more_messages > 0)
		out_printf(o,
		    "    - and %lld more messages in smaller groups.\n",
		    (long long)a->more_messages);
}

/*
 * The failure that cost most messages; among failures of no message (count 0
 * or invalid) the first one seen; pass only when nothing failed.  Always a
 * cause with a row, so its explanation exists.
 */
static enum dm_cause_code
top_cause(const struct xip *a)
{
	enum dm_cause_code top = DM_CAUSE_PASS;
	int i;

	for (i = DM_CAUSE_PASS + 1; i < DM_CAUSE_COUNT; i++) {
		if (a->rows[i] == 0)
			continue;
		if (top == DM_CAUSE_PASS || a->cause[i] > a->cause[top])
			top = (enum dm_cause_code)i;
	}
	return top;
}

static void
write_ip(struct out *o, const struct xip *a)
{
	enum dm_cause_code top = top_cause(a);

	out_puts(o, "\nSource ");
	out_text(o, a->ip);
	out_printf(o, ": %lld messages, %lld failed DMARC\n",
	    (long long)a->messages, (long long)a->failing);
	write_dispositions(o, a);
	write_evidence(o, a);
	out_printf(o, "  Cause: %s\n", dm_cause_name(top));
	text_wrap(o, 2, "Why: ", a->why[top]);
	text_wrap(o, 2, "Fix: ", a->fix[top]);
}

static int
cmp_xip(const void *pa, const void *pb)
{
	const struct xip *a = pa, *b = pb;

	if (a->messages != b->messages)
		return a->messages > b->messages ? -1 : 1;
	return strcmp(a->ip, b->ip);
}

static void
write_all(struct out *o, struct explain *x, const struct dm_report_options *opt)
{
	char a[32], b[32];
	size_t i;

	out_puts(o, "Mail from ");
	out_text(o, opt->ip != NULL ? opt->ip : "all sources");
	out_puts(o, " to ");
	out_text(o, opt->reporter != NULL ? opt->reporter : "all ISPs");
	out_printf(o, ", %s to %s (UTC), domain ",
	    format_day(opt->from, a, sizeof(a)),
	    format_day(opt->to - 86400, b, sizeof(b)));
	out_text(o, opt->domain != NULL ? opt->domain : "any");
	out_puts(o, ".\n");
	if (x->n == 0) {
		out_puts(o,
		    "\nNo DMARC report mentions such mail in this period.\n");
		return;
	}
	qsort(x->ips, x->n, sizeof(x->ips[0]), cmp_xip);
	for (i = 0; i < x->n; i++)
		write_ip(o, &x->ips[i]);
}

static void
free_explain(struct explain *x)
{
	size_t i, j;

	for (i = 0; i < x->n; i++) {
		dm_free(x->ips[i].ip);
		dm_buf_free(&x->ips[i].evidence);
		for (j = 0; j < x->ips[i].n_isps; j++)
			dm_free(x->ips[i].isps[j].isp);
		for (j = 0; j < DM_CAUSE_COUNT; j++) {
			dm_free(x->ips[i].why[j]);
			dm_free(x->ips[i].fix[j]);
		}
	}
	dm_free(x->ips);
	strmap_free(&x->map);
}

static int
org_cb(void *ctx, const char *name, struct dm_error *err)
{
	struct dm_buf *b = ctx;
	const char *want =
	    b->data; /* the reporter asked for, then the names, NUL-separated */

	(void)err;
	if (strcasecmp(dm_isp_name(name), want) != 0 &&
	    strcasecmp(name, want) != 0)
		return DM_OK;
	return dm_buf_add(b, name, strlen(name) + 1) == DM_OK
	           ? DM_OK
	           : dm_error_set(err, DM_ENOMEM, "out of memory");
}

/* Fills f's org names from the reporter option; names points into *pool (freed
 * by caller). */
static int
reporter_filter(struct dm_query *q, const char *reporter,
    struct dm_query_filter *f, struct dm_buf *pool, const char ***names,
    struct dm_error *err)
{
	size_t n = 0, i;
	const char *p;
	int rc;

	if (reporter == NULL)
		return DM_OK;
	if (dm_buf_add(pool, reporter, strlen(reporter) + 1) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	if ((rc = dm_query_org_names(q, org_cb, pool, err)) != DM_OK)
		return rc;
	for (p = pool->data + strlen(reporter) + 1; p < pool->data + pool->len;
	     p += strlen(p) + 1)
		n++;
	if ((*names = dm_calloc(n + 1, sizeof(**names))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	p = pool->data + strlen(reporter) + 1;
	for (i = 0; i < n; i++, p += strlen(p) + 1)
		(*names)[i] = p;
	f->org_names = *names;
	f->n_org_names = n;
	f->use_org_names = 1;
	return DM_OK;
}

/* opt->ip as a range, normalised as the parser normalises source_ip. */
static int
parse_ip(const char *s, struct dm_ip_net *net, struct dm_error *err)
{
	int rc = dm_ip_net_parse(s, net);

	if (rc == -1)
		return dm_error_set(
		    err, DM_EINVAL, "not an IP address or CIDR range: %s", s);
	if (rc != 0)
		return dm_error_set(err, DM_EINVAL,
		    "bad prefix length in %s (0-%d)", s,
		    strchr(s, ':') != NULL ? 128 : 32);
	return DM_OK;
}

int
dm_report_explain(struct dm_query *q, const struct dm_report_options *opt,
    FILE *out, struct dm_error *err)
{
	struct dm_query_filter f;
	struct explain x;
	struct dm_buf pool;
	const char **names = NULL;
	struct out o;
	char canon[DM_IP_TEXT_MAX];
	int rc;

	memset(&x, 0, sizeof(x));
	memset(&f, 0, sizeof(f));
	if (opt->from >= opt->to)
		return dm_error_set(err, DM_EINVAL, "the period is empty");
	if (opt->ip != NULL && (rc = parse_ip(opt->ip, &x.range, err)) != DM_OK)
		return rc;
	x.use_range = opt->ip != NULL && !dm_ip_net_single(&x.range);
	f.from = opt->from;
	f.to = opt->to;
	f.domain = opt->domain;
	/* The address as the parser stored it ("::ffff:192.0.2.1" is
	   "192.0.2.1"). */
	if (opt->ip != NULL && !x.use_range)
		f.source_ip = dm_ip_net_addr(&x.range, canon, sizeof(canon));
	dm_buf_init(&pool, (size_t)1 << 24);
	out_init(&o);
	rc = reporter_filter(q, opt->reporter, &f, &pool, &names, err);
	if (rc == DM_OK)
		rc = dm_query_sources(q, &f, 0, row_cb, &x, err);
	if (rc == DM_OK) {
		write_all(&o, &x, opt);
		rc = out_flush(&o, out, err);
	}
	out_free(&o);
	free_explain(&x);
	dm_free(names);
	dm_buf_free(&pool);
	return rc;
}
