/*
 * alerts.c - `dmarcstat alerts`: what changed between a period and the period
 * of the same length just before it, worth a mail from cron.
 *
 * Five kinds, each with a stable name: a new source whose mail fails DMARC
 * (new_failing_source), an ISP that quarantines or rejects a larger share of
 * a From domain's mail (isp_blocking_rose), a (source IP, From domain) pair
 * or a From domain whose DMARC pass rate fell (source_pass_fell,
 * domain_pass_fell), an ISP that stopped reporting (isp_silent).  A rate
 * change counts when it is more than the threshold and both periods have at
 * least the minimum of messages; the comparison is exact (cross-multiplied
 * counts), so a change of exactly the threshold is no alert.
 *
 * The sums come from the same queries as the report (SQL groups, one row per
 * pair and ISP); each alert then gets the cause of its failing or blocked
 * mail from the classifier, with the explanation and fix of the largest group
 * of messages of that cause, and the explain command that shows the rest.
 * An alert about a source names its sending service as report does: the
 * host table's service of its IP, else the service of the domains that
 * authenticated its largest group of messages (the services files).
 */
#include "report_int.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>

#include "ip.h"
#include "json.h"

/* Exact products of counts (each at most INT64_MAX). */
__extension__ typedef __int128 wide;

enum agg_kind { AGG_ISP_DOMAIN = 0, AGG_PAIR, AGG_DOMAIN, AGG_COUNT };

/* The sums of one key in both periods: [0] this one, [1] the one before. */
struct agg {
	char *k1, *k2;
	int64_t messages[2], pass[2], blocked[2];
};

struct aggs {
	struct agg *v;
	size_t n, cap;
};

enum alert_kind {
	A_NEW_SOURCE = 0,
	A_BLOCKING_ROSE,
	A_SOURCE_PASS_FELL,
	A_DOMAIN_PASS_FELL,
	A_ISP_SILENT
};

static const char *const kind_names[] = {"new_failing_source",
    "isp_blocking_rose", "source_pass_fell", "domain_pass_fell", "isp_silent"};

struct alert {
	enum alert_kind kind;
	char *isp, *domain, *ip; /* what it is about; NULL when not */
	int64_t messages, prev_messages, count, day;
	int64_t rate, prev_rate; /* permille; -1 when not a rate alert */
	enum dm_cause_code cause;
	int has_cause;
	char *why, *fix;
	char *service;            /* the source's sending service, or NULL */
	const char *service_kind; /* esp, list...: static; NULL when unknown */
};

struct alerts {
	struct dm_query *q;
	const struct dm_report_options *opt;
	const struct dm_alert_options *ao;
	struct dm_error *err;
	int period; /* which period the pair rows being read belong to */
	struct aggs aggs[AGG_COUNT];
	struct alert *v;
	size_t n, cap;
	int rc;
};

static int
oom(struct alerts *x)
{
	return dm_error_set(x->err, DM_ENOMEM, _("out of memory"));
}

/* ---- Sums per key ---- */

static int
agg_add(struct aggs *a, int period, const char *k1, const char *k2,
    const struct dm_query_pair *p)
{
	struct agg *g;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct agg *v = dm_realloc(a->v, cap * sizeof(*v));

		if (v == NULL)
			return DM_ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	g = &a->v[a->n];
	memset(g, 0, sizeof(*g));
	if ((g->k1 = dm_strdup(k1)) == NULL ||
	    (g->k2 = dm_strdup(k2)) == NULL) {
		dm_free(g->k1);
		return DM_ENOMEM;
	}
	a->n++;
	g->messages[period] = p->messages;
	g->pass[period] = p->dmarc_pass;
	g->blocked[period] = dm_sat_add(p->quarantined, p->rejected);
	return DM_OK;
}

static int
pair_cb(void *ctx, const struct dm_query_pair *p, struct dm_error *err)
{
	struct alerts *x = ctx;

	(void)err;
	if (agg_add(&x->aggs[AGG_ISP_DOMAIN], x->period, p->isp, p->header_from,
	        p) != DM_OK ||
	    agg_add(&x->aggs[AGG_PAIR], x->period, p->source_ip, p->header_from,
	        p) != DM_OK ||
	    agg_add(&x->aggs[AGG_DOMAIN], x->period, p->header_from, "", p) !=
	        DM_OK)
		return oom(x);
	return DM_OK;
}

static int
cmp_agg(const void *a, const void *b)
{
	const struct agg *x = a, *y = b;
	int c = strcmp(x->k1, y->k1);

	return c != 0 ? c : strcmp(x->k2, y->k2);
}

/* Sorts a's entries by key and folds each key's into one. */
static void
agg_fold(struct aggs *a)
{
	size_t i, j = 0, p;

	if (a->n == 0)
		return;
	qsort(a->v, a->n, sizeof(*a->v), cmp_agg);
	for (i = 1; i < a->n; i++) {
		struct agg *d = &a->v[j], *s = &a->v[i];

		if (cmp_agg(d, s) != 0) {
			a->v[++j] = *s;
			continue;
		}
		for (p = 0; p < 2; p++) {
			d->messages[p] =
			    dm_sat_add(d->messages[p], s->messages[p]);
			d->pass[p] = dm_sat_add(d->pass[p], s->pass[p]);
			d->blocked[p] =
			    dm_sat_add(d->blocked[p], s->blocked[p]);
		}
		dm_free(s->k1);
		dm_free(s->k2);
	}
	a->n = j + 1;
}

static void
aggs_free(struct aggs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		dm_free(a->v[i].k1);
		dm_free(a->v[i].k2);
	}
	dm_free(a->v);
}

/* ---- Alerts ---- */

static int64_t
permille(int64_t part, int64_t whole)
{
	return whole > 0
	           ? (int64_t)(((wide)part * 2000 + whole) / (2 * (wide)whole))
	           : -1;
}

/* 1 when a/b - c/d (rates) is more than t permille; b, d > 0. */
static int
rose(int64_t a, int64_t b, int64_t c, int64_t d, int64_t t)
{
	return ((wide)a * d - (wide)c * b) * 1000 > (wide)t * b * d;
}

static struct alert *
add_alert(struct alerts *x, enum alert_kind kind, const char *isp,
    const char *domain, const char *ip)
{
	struct alert *a;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct alert *v = dm_realloc(x->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		x->v = v;
		x->cap = cap;
	}
	a = &x->v[x->n];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->rate = a->prev_rate = -1;
	if ((isp != NULL && (a->isp = dm_strdup(isp)) == NULL) ||
	    (domain != NULL && (a->domain = dm_strdup(domain)) == NULL) ||
	    (ip != NULL && (a->ip = dm_strdup(ip)) == NULL)) {
		dm_free(a->isp);
		dm_free(a->domain);
		return NULL;
	}
	x->n++;
	return a;
}

/* Both periods have enough messages to compare rates. */
static int
comparable(const struct alerts *x, const struct agg *g)
{
	return g->messages[0] >= x->ao->min_messages &&
	       g->messages[1] >= x->ao->min_messages;
}

static int
rate_alerts(struct alerts *x, enum agg_kind k)
{
	const struct aggs *a = &x->aggs[k];
	int64_t t = x->ao->threshold;
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct agg *g = &a->v[i];
		struct alert *al;
		int blocking = k == AGG_ISP_DOMAIN;

		if (!comparable(x, g) ||
		    !(blocking ? rose(g->blocked[0], g->messages[0],
		                     g->blocked[1], g->messages[1], t)
		               : rose(g->pass[1], g->messages[1], g->pass[0],
		                     g->messages[0], t)))
			continue;
		al = k == AGG_ISP_DOMAIN
		         ? add_alert(x, A_BLOCKING_ROSE, g->k1, g->k2, NULL)
		     : k == AGG_PAIR
		         ? add_alert(x, A_SOURCE_PASS_FELL, NULL, g->k2, g->k1)
		         : add_alert(x, A_DOMAIN_PASS_FELL, NULL, g->k1, NULL);
		if (al == NULL)
			return oom(x);
		al->messages = g->messages[0];
		al->prev_messages = g->messages[1];
		al->count = blocking ? g->blocked[0] : g->pass[0];
		al->rate = permille(al->count, g->messages[0]);
		al->prev_rate = permille(
		    blocking ? g->blocked[1] : g->pass[1], g->messages[1]);
	}
	return DM_OK;
}

static int
new_cb(void *ctx, const struct dm_query_new_source *n, struct dm_error *err)
{
	struct alerts *x = ctx;
	int64_t failed = n->messages - n->dmarc_pass;
	struct alert *a;

	(void)err;
	if (failed < x->ao->min_messages)
		return DM_OK;
	if ((a = add_alert(x, A_NEW_SOURCE, NULL, NULL, n->source_ip)) == NULL)
		return oom(x);
	a->messages = n->messages;
	a->count = failed;
	a->day = n->first_day;
	return DM_OK;
}

static int
isp_cb(void *ctx, const struct dm_query_isp *i, struct dm_error *err)
{
	struct alerts *x = ctx;
	struct alert *a;

	(void)err;
	if (i->messages > 0 || i->prev_messages < x->ao->min_messages)
		return DM_OK;
	if ((a = add_alert(x, A_ISP_SILENT, i->isp, NULL, NULL)) == NULL)
		return oom(x);
	a->prev_messages = i->prev_messages;
	a->day = i->last_day;
	return DM_OK;
}

/* ---- Causes ---- */

struct cause_ctx {
	struct alerts *x;
	struct alert *a;
	struct tally t;
	int64_t best[DM_CAUSE_COUNT];
	char *why[DM_CAUSE_COUNT], *fix[DM_CAUSE_COUNT];
	int64_t service_messages; /* of the group that named a->service */
};

static int
blocked_of(const char *disposition)
{
	return strcmp(disposition, "quarantine") == 0 ||
	       strcmp(disposition, "reject") == 0;
}

static int
explain_row(struct cause_ctx *c, const struct dm_evidence *ev, int64_t messages)
{
	struct dm_cause cause = dm_cause_classify(ev);
	struct dm_buf why, fix;

	dm_buf_init(&why, 4096);
	dm_buf_init(&fix, 4096);
	if (dm_cause_explain(&cause, ev, &why, &fix) != DM_OK ||
	    why.data == NULL || fix.data == NULL) {
		dm_buf_free(&why);
		dm_buf_free(&fix);
		return DM_ENOMEM;
	}
	dm_free(c->why[cause.code]);
	dm_free(c->fix[cause.code]);
	c->why[cause.code] = dm_buf_take(&why);
	c->fix[cause.code] = dm_buf_take(&fix);
	c->best[cause.code] = messages;
	return DM_OK;
}

/* The kinds of a service, by dm_service_kind, as the host table writes them. */
static const char *
kind_name(const char *host_kind, enum dm_service_kind k)
{
	static const char *const kinds[] = {NULL, "esp", "list", "forwarder"};
	static const char *const host_kinds[] = {
	    "esp", "mailbox", "list", "forwarder", "gateway"};
	size_t i;

	for (i = 0; host_kind != NULL &&
	            i < sizeof(host_kinds) / sizeof(host_kinds[0]);
	     i++)
		if (strcmp(host_kind, host_kinds[i]) == 0)
			return host_kinds[i];
	return (size_t)k < sizeof(kinds) / sizeof(kinds[0]) ? kinds[k] : NULL;
}

/* The sending service of a source alert, as report names a pair's: the
 * host table's (every row of the IP has it), else that of the largest group
 * whose authenticated domains name one. */
static int
source_service(struct cause_ctx *c, const struct dm_query_source *s,
    const struct dm_evidence *ev)
{
	struct alert *a = c->a;
	char *name;

	if (a->ip == NULL || ev->service_name == NULL ||
	    (a->service != NULL && s->messages <= c->service_messages))
		return DM_OK;
	if ((name = dm_strdup(ev->service_name)) == NULL)
		return DM_ENOMEM;
	dm_free(a->service);
	a->service = name;
	a->service_kind = kind_name(
	    s->host_service != NULL ? s->host_kind : NULL, ev->service);
	c->service_messages = s->messages;
	return DM_OK;
}

static int
source_cb(void *ctx, const struct dm_query_source *s, struct dm_error *err)
{
	struct cause_ctx *c = ctx;
	struct dm_evidence ev;
	struct dm_cause cause;
	int blocked = blocked_of(s->disposition);

	(void)err;
	/* The domain filter also keeps mail whose policy domain it is. */
	if (c->a->domain != NULL && strcmp(s->header_from, c->a->domain) != 0)
		return DM_OK;
	/* A rise of blocking is explained by the blocked mail. */
	if (c->a->kind == A_BLOCKING_ROSE && !blocked)
		return DM_OK;
	ev = dm_report_evidence(s, c->x->opt);
	cause = dm_cause_classify(&ev);
	c->t.blocked[cause.code] =
	    dm_sat_add(c->t.blocked[cause.code], blocked ? s->messages : 0);
	c->t.messages[cause.code] =
	    dm_sat_add(c->t.messages[cause.code], s->messages);
	c->t.seen |= 1u << cause.code;
	if (source_service(c, s, &ev) != DM_OK)
		return oom(c->x);
	if (c->why[cause.code] == NULL || s->messages > c->best[cause.code])
		return explain_row(c, &ev, s->messages) == DM_OK ? DM_OK
		                                                 : oom(c->x);
	return DM_OK;
}

/* The alert's cause: the classifier's over its failing or blocked mail in
 * this period. */
static int
alert_cause(struct alerts *x, struct alert *a)
{
	struct dm_query_filter f;
	struct dm_ip_net net;
	struct cause_ctx c;
	enum dm_cause_code top;
	int rc, i;

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	c.x = x;
	c.a = a;
	f.from = x->opt->from;
	f.to = x->opt->to;
	f.domain = a->domain != NULL ? a->domain : x->opt->domain;
	f.reporter = a->isp;
	if (a->ip != NULL && dm_ip_net_parse(a->ip, &net) == 0)
		f.net = &net;
	rc =
	    dm_query_sources(x->q, &f, DM_QUERY_FAILING, source_cb, &c, x->err);
	top = dm_top_cause(&c.t);
	if (rc == DM_OK && top != DM_CAUSE_PASS) {
		a->has_cause = 1;
		a->cause = top;
		a->why = c.why[top];
		a->fix = c.fix[top];
		c.why[top] = c.fix[top] = NULL;
	}
	for (i = 0; i < DM_CAUSE_COUNT; i++) {
		dm_free(c.why[i]);
		dm_free(c.fix[i]);
	}
	return rc;
}

/* ---- Gathering ---- */

static int
read_pairs(struct alerts *x, const struct dm_query_filter *f, int period)
{
	x->period = period;
	return dm_query_pairs(x->q, f, 0, pair_cb, x, x->err);
}

static int
gather(struct alerts *x)
{
	const struct dm_report_options *o = x->opt;
	struct dm_query_filter f, prev;
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	f.from = o->from;
	f.to = o->to;
	f.domain = o->domain;
	prev = f;
	prev.from = o->from - (o->to - o->from);
	prev.to = o->from;
	if ((rc = dm_query_new_sources(x->q, &f, new_cb, x, x->err)) != DM_OK ||
	    (rc = read_pairs(x, &f, 0)) != DM_OK ||
	    (rc = read_pairs(x, &prev, 1)) != DM_OK)
		return rc;
	for (i = 0; i < AGG_COUNT; i++)
		agg_fold(&x->aggs[i]);
	if ((rc = rate_alerts(x, AGG_ISP_DOMAIN)) != DM_OK ||
	    (rc = rate_alerts(x, AGG_PAIR)) != DM_OK ||
	    (rc = rate_alerts(x, AGG_DOMAIN)) != DM_OK)
		return rc;
	f.from = prev.from;
	if ((rc = dm_query_isps(x->q, &f, o->from, isp_cb, x, x->err)) != DM_OK)
		return rc;
	for (i = 0; i < x->n && rc == DM_OK; i++)
		if (x->v[i].kind != A_ISP_SILENT)
			rc = alert_cause(x, &x->v[i]);
	return rc;
}

/* Kind, then the most messages first, then by name: a stable order. */
static int
cmp_alert(const void *a, const void *b)
{
	const struct alert *x = a, *y = b;
	int64_t mx = x->messages ? x->messages : x->prev_messages;
	int64_t my = y->messages ? y->messages : y->prev_messages;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (mx != my)
		return mx > my ? -1 : 1;
	if ((c = strcmp(x->isp ? x->isp : "", y->isp ? y->isp : "")) != 0 ||
	    (c = strcmp(
	         x->domain ? x->domain : "", y->domain ? y->domain : "")) != 0)
		return c;
	return strcmp(x->ip ? x->ip : "", y->ip ? y->ip : "");
}

/* ---- Writing ---- */

/* s quoted for a POSIX shell when it needs to be: '...' with ' as '\''. */
static void
shell_word(struct out *o, const char *s)
{
	const char *p;
	int plain = *s != '\0';

	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || strchr("@%+=:,./_-", *p)))
			plain = 0;
	if (plain) {
		dm_out_text(o, s);
		return;
	}
	dm_out_puts(o, "'");
	for (p = s; *p != '\0'; p++) {
		char one[2] = {*p, '\0'};

		if (*p == '\'')
			dm_out_puts(o, "'\\''");
		else if ((unsigned char)*p < 0x80)
			dm_out_text(o, one);
		else {
			size_t n = dm_utf8_len((const unsigned char *)p);
			char *c = dm_strndup(p, n ? n : 1);

			if (c == NULL)
				o->rc = DM_ENOMEM;
			else
				dm_out_text(o, c);
			dm_free(c);
			p += (n ? n : 1) - 1;
		}
	}
	dm_out_puts(o, "'");
}

static void
option(struct out *o, const char *name, const char *value)
{
	dm_out_printf(o, " %s ", name);
	shell_word(o, value);
}

/* The explain command that shows the alert's mail. */
static void
next_command(struct out *o, const struct alerts *x, const struct alert *a)
{
	char d0[16], d1[16];
	int64_t from = a->kind == A_ISP_SILENT
	                   ? x->opt->from - (x->opt->to - x->opt->from)
	                   : x->opt->from;

	dm_out_puts(o, "dmarcstat explain");
	if (x->ao->db != NULL)
		option(o, "--db", x->ao->db);
	if (a->ip != NULL)
		option(o, "--ip", a->ip);
	if (a->domain != NULL || x->opt->domain != NULL)
		option(o, "--domain", a->domain ? a->domain : x->opt->domain);
	if (a->isp != NULL)
		option(o, "--reporter", a->isp);
	dm_out_printf(o, " --from %s --to %s",
	    dm_format_day(from, d0, sizeof(d0)),
	    dm_format_day(x->opt->to, d1, sizeof(d1)));
}

/* "12.5 %" into buf. */
static const char *
pct(char *buf, size_t size, int64_t permille)
{
	snprintf(buf, size, "%lld.%lld %%", (long long)(permille / 10),
	    (long long)(permille % 10));
	return buf;
}

/* "+12.5 points" into buf. */
static const char *
points(char *buf, size_t size, int64_t d)
{
	snprintf(buf, size, _("%s%lld.%lld points"), d < 0 ? "-" : "+",
	    (long long)(llabs(d) / 10), (long long)(llabs(d) % 10));
	return buf;
}

/* What a rate alert says: whose rate, now and before, and the counts. */
static void
rate_headline(struct out *o, const struct alert *a)
{
	char now[32], was[32], delta[64];
	long long count = a->count, messages = a->messages;

	pct(now, sizeof(now), a->rate);
	pct(was, sizeof(was), a->prev_rate);
	points(delta, sizeof(delta), a->rate - a->prev_rate);
	if (a->kind == A_BLOCKING_ROSE)
		dm_out_textf(o,
		    _("%s quarantined or rejected %s of the mail from %s (was "
		      "%s, %s): %lld blocked of %lld messages"),
		    a->isp, now, a->domain, was, delta, count, messages);
	else if (a->ip != NULL)
		dm_out_textf(o,
		    _("Source %s, From %s: DMARC pass %s (was %s, %s): %lld "
		      "passed of %lld messages"),
		    a->ip, a->domain, now, was, delta, count, messages);
	else
		dm_out_textf(o,
		    _("From domain %s: DMARC pass %s (was %s, %s): %lld passed "
		      "of %lld messages"),
		    a->domain, now, was, delta, count, messages);
}

/* One line that says what happened. */
static void
headline_text(struct out *o, const struct alert *a)
{
	char d[16];

	switch (a->kind) {
	case A_NEW_SOURCE:
		dm_out_textf(o,
		    _("New source %s: %lld of its %lld messages failed DMARC "
		      "(first seen %s)"),
		    a->ip, (long long)a->count, (long long)a->messages,
		    dm_format_day(a->day, d, sizeof(d)));
		return;
	case A_ISP_SILENT:
		dm_out_textf(o,
		    _("%s sent no report for this period (%lld messages in the "
		      "previous one, the last on %s)"),
		    a->isp, (long long)a->prev_messages,
		    dm_format_day(a->day, d, sizeof(d)));
		return;
	default:
		rate_headline(o, a);
	}
}

static const char silent_fix[] =
    N_("Check that the DMARC record still names your rua= address and that "
       "this ISP's reports reach it (a full mailbox, a filter); an ISP also "
       "stops reporting when it receives no mail from the domain.");

static void
alert_text(struct out *o, const struct alerts *x, const struct alert *a)
{
	dm_out_printf(o, "[%s] ", kind_names[a->kind]);
	headline_text(o, a);
	dm_out_puts(o, "\n");
	if (a->service != NULL) {
		dm_out_textf(o, _("  Sending service: %s (%s)"), a->service,
		    a->service_kind != NULL ? a->service_kind : "?");
		dm_out_puts(o, "\n");
	}
	if (a->has_cause)
		dm_out_printf(o, _("  Cause: %s\n"), dm_cause_name(a->cause));
	if (a->why != NULL)
		dm_text_wrap(o, 2, _("Why: "), a->why);
	dm_text_wrap(o, 2, _("Fix: "), a->fix ? a->fix : _(silent_fix));
	dm_out_puts(o, _("  Next: "));
	next_command(o, x, a);
	dm_out_puts(o, "\n\n");
}

/* "2026-11-01 to 2026-11-07", or one day, into buf. */
static const char *
span(char *buf, size_t size, int64_t from, int64_t to)
{
	char a[16], b[16];

	dm_format_day(from, a, sizeof(a));
	dm_format_day(to - DM_DAY_SECONDS, b, sizeof(b));
	if (strcmp(a, b) == 0)
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, _("%s to %s"), a, b);
	return buf;
}

static void
write_text(struct out *o, const struct alerts *x)
{
	int64_t len = x->opt->to - x->opt->from;
	char now[64], before[64];
	size_t i;

	dm_out_textf(o,
	    P_("DMARC alerts %s, against %s: %zu alert",
	        "DMARC alerts %s, against %s: %zu alerts", x->n),
	    span(now, sizeof(now), x->opt->from, x->opt->to),
	    span(before, sizeof(before), x->opt->from - len, x->opt->from),
	    x->n);
	dm_out_puts(o, "\n\n");
	for (i = 0; i < x->n; i++)
		alert_text(o, x, &x->v[i]);
}

static void
json_str(struct out *o, const char *key, const char *s)
{
	if (o->rc == DM_OK && (o->rc = dm_json_key(&o->b, key)) == DM_OK)
		o->rc = dm_json_str(&o->b, s);
}

static void
json_int(struct out *o, const char *key, int64_t v, int64_t null_value)
{
	if (o->rc == DM_OK && (o->rc = dm_json_key(&o->b, key)) == DM_OK)
		o->rc = dm_json_int(&o->b, v, null_value);
}

static void
json_rate(struct out *o, const char *key, int64_t permille)
{
	if (o->rc == DM_OK &&
	    (key == NULL || (o->rc = dm_json_key(&o->b, key)) == DM_OK)) {
		if (permille < 0)
			dm_out_puts(o, "null");
		else
			dm_out_printf(o, "%s%lld.%lld", permille < 0 ? "-" : "",
			    (long long)(llabs(permille) / 10),
			    (long long)(llabs(permille) % 10));
	}
}

static void
alert_json(struct out *o, const struct alerts *x, const struct alert *a)
{
	struct out cmd;
	char d[16];

	dm_out_init(&cmd);
	next_command(&cmd, x, a);
	json_str(o, "kind", kind_names[a->kind]);
	dm_out_puts(o, ",");
	json_str(o, "isp", a->isp);
	dm_out_puts(o, ",");
	json_str(o, "header_from", a->domain);
	dm_out_puts(o, ",");
	json_str(o, "source_ip", a->ip);
	dm_out_puts(o, ",");
	json_str(o, "service", a->service);
	dm_out_puts(o, ",");
	json_str(o, "service_kind", a->service ? a->service_kind : NULL);
	dm_out_puts(o, ",");
	json_int(o, "messages", a->messages, -1);
	dm_out_puts(o, ",");
	json_int(o, "previous_messages",
	    a->kind == A_NEW_SOURCE ? -1 : a->prev_messages, -1);
	dm_out_puts(o, ",");
	json_int(o,
	    a->kind == A_BLOCKING_ROSE ? "blocked"
	    : a->kind == A_NEW_SOURCE  ? "failed"
	                               : "dmarc_pass",
	    a->count, -1);
	dm_out_puts(o, ",");
	json_rate(o, "percent", a->rate);
	dm_out_puts(o, ",");
	json_rate(o, "previous_percent", a->prev_rate);
	dm_out_puts(o, ",");
	json_str(
	    o, "day", a->day > 0 ? dm_format_day(a->day, d, sizeof(d)) : NULL);
	dm_out_puts(o, ",");
	json_str(o, "cause", a->has_cause ? dm_cause_name(a->cause) : NULL);
	dm_out_puts(o, ",");
	json_str(o, "explanation", a->why);
	dm_out_puts(o, ",");
	json_str(o, "fix", a->fix ? a->fix : _(silent_fix));
	dm_out_puts(o, ",");
	json_str(o, "next", cmd.rc == DM_OK ? cmd.b.data : NULL);
	if (cmd.rc != DM_OK)
		o->rc = cmd.rc;
	dm_out_free(&cmd);
}

static void
write_json(struct out *o, const struct alerts *x)
{
	char a[16], b[16];
	size_t i;

	dm_out_puts(o, "{\"format\":\"dmarcstat-alerts\",\"version\":1,"
	               "\"period\":{");
	json_str(o, "first_day", dm_format_day(x->opt->from, a, sizeof(a)));
	dm_out_puts(o, ",");
	json_str(o, "last_day",
	    dm_format_day(x->opt->to - DM_DAY_SECONDS, b, sizeof(b)));
	dm_out_puts(o, ",");
	json_int(o, "days", (x->opt->to - x->opt->from) / DM_DAY_SECONDS, -1);
	dm_out_puts(o, "},\"threshold_points\":");
	json_rate(o, NULL, x->ao->threshold);
	dm_out_printf(o, ",\"min_messages\":%lld,\"alerts\":[",
	    (long long)x->ao->min_messages);
	for (i = 0; i < x->n; i++) {
		dm_out_puts(o, i ? ",\n{" : "\n{");
		alert_json(o, x, &x->v[i]);
		dm_out_puts(o, "}");
	}
	dm_out_puts(o, "]}\n");
}

static void
alerts_free(struct alerts *x)
{
	size_t i;

	for (i = 0; i < AGG_COUNT; i++)
		aggs_free(&x->aggs[i]);
	for (i = 0; i < x->n; i++) {
		dm_free(x->v[i].isp);
		dm_free(x->v[i].domain);
		dm_free(x->v[i].ip);
		dm_free(x->v[i].why);
		dm_free(x->v[i].fix);
		dm_free(x->v[i].service);
	}
	dm_free(x->v);
}

int
dm_report_alerts(struct dm_query *q, const struct dm_report_options *opt,
    const struct dm_alert_options *ao, enum dm_report_format fmt, FILE *f,
    size_t *n, struct dm_error *err)
{
	struct alerts x;
	struct isp_names names;
	struct out o;
	int rc;

	*n = 0;
	memset(&names, 0, sizeof(names));
	if (fmt != DM_REPORT_TEXT && fmt != DM_REPORT_JSON)
		return dm_error_set(
		    err, DM_EINVAL, _("alerts are text or JSON"));
	memset(&x, 0, sizeof(x));
	x.q = q;
	x.opt = opt;
	x.ao = ao;
	x.err = err;
	if ((rc = dm_isp_names_use(&names, q, err)) == DM_OK &&
	    (rc = dm_query_begin(q, err)) == DM_OK) {
		rc = gather(&x);
		dm_query_end(q);
	}
	dm_isp_names_done(&names, q);
	if (rc == DM_OK) {
		if (x.n > 0)
			qsort(x.v, x.n, sizeof(*x.v), cmp_alert);
		dm_out_init(&o);
		if (fmt == DM_REPORT_JSON)
			write_json(&o, &x);
		else if (x.n > 0)
			write_text(&o, &x);
		rc = dm_out_flush(&o, f, err);
		dm_out_free(&o);
		*n = x.n;
	}
	alerts_free(&x);
	return rc;
}
