/*
 * pairs.c - (source IP, From domain) pairs, the unit of diagnosis: an ESP's
 * customers share IPs and each has its own cause and fix, so nothing computed
 * for one pair goes into another's row.  report (sources.c) and explain share
 * this.
 *
 * The pairs query gives every pair per ISP with what ranks it, summed in SQL;
 * the best pairs (most blocked, then most messages) are kept in a bounded
 * heap, one per From domain page with by_domain, and the others are only
 * added to "and N more".  The same query restricted to the kept pairs gives
 * them their other sums, days and reports.  The evidence query then gives
 * every group of
 * messages with the same evidence: each is classified, counted for its ISP's
 * top cause, and, when its pair was kept (a binary search: nothing an
 * attacker can make slow, unlike a hash of chosen addresses), for the pair and
 * the pair's ISP.  Memory is bounded by the number of pairs kept, whatever the
 * database holds.
 */
#include "report_int.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"

static int
oom(struct pairs *x)
{
	return dm_error_set(x->err, DM_ENOMEM, _("out of memory"));
}

static void
pair_free(struct pair *p)
{
	size_t i;

	if (p == NULL)
		return;
	dm_free(p->ip);
	dm_free(p->hf);
	for (i = 0; i < p->n_isps; i++)
		dm_free(p->isps[i].isp);
	dm_free(p->isps);
	for (i = 0; i < DM_CAUSE_COUNT; i++) {
		dm_free(p->why[i]);
		dm_free(p->fix[i]);
	}
	for (i = 0; i < p->n_auth; i++)
		dm_free(p->auth[i]);
	dm_free(p->ptr);
	dm_free(p->as_org);
	dm_free(p->country);
	dm_free(p->service);
	dm_free(p->kind);
	dm_free(p);
}

static int64_t
blocked_of(const struct pair *p)
{
	return dm_sat_add(p->quarantined, p->rejected);
}

/* < 0 when a comes first: most blocked, most messages, then by address and
 * domain. */
static int
rank_cmp(const struct pair *a, const struct pair *b)
{
	int64_t x = blocked_of(a), y = blocked_of(b);
	int d;

	if (x != y)
		return x > y ? -1 : 1;
	if (a->messages != b->messages)
		return a->messages > b->messages ? -1 : 1;
	if ((d = strcmp(a->ip, b->ip)) != 0)
		return d;
	return strcmp(a->hf, b->hf);
}

/* ---- The heap of the best pairs ---- */

static void
heap_swap(struct heap *h, size_t i, size_t j)
{
	struct pair *t = h->v[i];

	h->v[i] = h->v[j];
	h->v[j] = t;
}

/* The worst pair (ranked last) is the root. */
static void
heap_up(struct heap *h, size_t i)
{
	while (i > 0 && rank_cmp(h->v[i], h->v[(i - 1) / 2]) > 0) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, w = i;

		if (l < h->n && rank_cmp(h->v[l], h->v[w]) > 0)
			w = l;
		if (l + 1 < h->n && rank_cmp(h->v[l + 1], h->v[w]) > 0)
			w = l + 1;
		if (w == i)
			return;
		heap_swap(h, i, w);
		i = w;
	}
}

static void
count_out(struct more *m, struct pair *p)
{
	dm_more_add(m, p->messages, p->quarantined, p->rejected);
	pair_free(p);
}

/* Keeps p when it is among the cap best of h; otherwise counts it out. */
static void
heap_offer(struct heap *h, size_t cap, struct pair *p)
{
	if (h->n < cap) {
		h->v[h->n++] = p;
		heap_up(h, h->n - 1);
		return;
	}
	if (cap == 0 || rank_cmp(p, h->v[0]) >= 0) {
		count_out(&h->more, p);
		return;
	}
	count_out(&h->more, h->v[0]);
	h->v[0] = p;
	heap_down(h, 0);
}

/* ---- Pairs from the pairs query ---- */

static int
cmp_page(const void *a, const void *b)
{
	return strcmp(((const struct page_ref *)a)->name,
	    ((const struct page_ref *)b)->name);
}

/* The page of From domain hf, or n_heaps when it has none. */
static size_t
page_of(const struct pairs *x, const char *hf)
{
	size_t lo = 0, hi = x->n_heaps;

	if (x->pages == NULL)
		return 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = strcmp(hf, x->page_idx[mid].name);

		if (d == 0)
			return x->page_idx[mid].idx;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return x->n_heaps;
}

static void
finish_pair(struct pairs *x)
{
	struct pair *p = x->cur;

	x->cur = NULL;
	if (p == NULL)
		return;
	p->page = page_of(x, p->hf);
	if (p->page == x->n_heaps) {
		count_out(&x->orphans, p);
		return;
	}
	heap_offer(&x->heaps[p->page], x->cap, p);
}

/* Adds an ISP's row to the pair; past MAX_PAIR_ISPS it is only summed. */
static int
pair_add_isp(struct pair *p, const struct dm_query_pair *row)
{
	struct pair_isp *i;

	if (p->n_isps == MAX_PAIR_ISPS) {
		dm_more_add(&p->isp_more, row->messages, row->quarantined,
		    row->rejected);
		return DM_OK;
	}
	if (p->n_isps == p->cap_isps) {
		size_t cap = p->cap_isps == 0 ? 4 : p->cap_isps * 2;
		struct pair_isp *v = dm_realloc(p->isps, cap * sizeof(*v));

		if (v == NULL)
			return DM_ENOMEM;
		p->isps = v;
		p->cap_isps = cap;
	}
	i = &p->isps[p->n_isps];
	memset(i, 0, sizeof(*i));
	if ((i->isp = dm_strdup(row->isp)) == NULL)
		return DM_ENOMEM;
	i->messages = row->messages;
	i->quarantined = row->quarantined;
	i->rejected = row->rejected;
	p->n_isps++;
	return DM_OK;
}

/* What ranks the pair, from the pairs query (DM_QUERY_RANK). */
static void
pair_add_counts(struct pair *p, const struct dm_query_pair *row)
{
	p->messages = dm_sat_add(p->messages, row->messages);
	p->quarantined = dm_sat_add(p->quarantined, row->quarantined);
	p->rejected = dm_sat_add(p->rejected, row->rejected);
}

/* The rest, once the pair is kept (dm_pairs_reports). */
static void
pair_add_details(struct pair *p, const struct dm_query_pair *row)
{
	if (p->first_day == 0 || row->first_day < p->first_day)
		p->first_day = row->first_day;
	if (row->last_day > p->last_day)
		p->last_day = row->last_day;
	p->dmarc_pass = dm_sat_add(p->dmarc_pass, row->dmarc_pass);
	p->spf_raw = dm_sat_add(p->spf_raw, row->spf_raw_pass);
	p->spf_al = dm_sat_add(p->spf_al, row->spf_aligned_pass);
	p->dkim_raw = dm_sat_add(p->dkim_raw, row->dkim_raw_pass);
	p->dkim_al = dm_sat_add(p->dkim_al, row->dkim_aligned_pass);
	/* A report has one reporter: its reports per ISP add up. */
	p->reports = dm_sat_add(p->reports, row->reports);
}

static void
pair_isp_details(struct pair_isp *i, const struct dm_query_pair *row)
{
	i->dmarc_pass = row->dmarc_pass;
	i->spf_al = row->spf_aligned_pass;
	i->dkim_al = row->dkim_aligned_pass;
	i->first_day = row->first_day;
	i->last_day = row->last_day;
	i->reports = row->reports;
}

static int
pair_cb(void *ctx, const struct dm_query_pair *row, struct dm_error *err)
{
	struct pairs *x = ctx;
	struct pair *p = x->cur;

	(void)err;
	if (x->on_pair_row != NULL && x->on_pair_row(x->ctx, row) != DM_OK)
		return oom(x);
	if (p == NULL || strcmp(p->ip, row->source_ip) != 0 ||
	    strcmp(p->hf, row->header_from) != 0) {
		finish_pair(x);
		if ((p = dm_calloc(1, sizeof(*p))) == NULL)
			return oom(x);
		x->cur = p;
		p->confirmed = -1;
		p->asn = -1;
		if ((p->ip = dm_strdup(row->source_ip)) == NULL ||
		    (p->hf = dm_strdup(row->header_from)) == NULL)
			return oom(x);
	}
	pair_add_counts(p, row);
	return pair_add_isp(p, row) == DM_OK ? DM_OK : oom(x);
}

static int
cmp_key(const struct pair *a, const char *ip, const char *hf)
{
	int d = strcmp(a->ip, ip);

	return d != 0 ? d : strcmp(a->hf, hf);
}

static int
cmp_kept(const void *a, const void *b)
{
	const struct pair *y = *(struct pair *const *)b;

	return cmp_key(*(struct pair *const *)a, y->ip, y->hf);
}

/* Moves the pairs of every heap into kept, sorted by address and domain. */
static int
collect(struct pairs *x)
{
	size_t i, j, n = 0;

	for (i = 0; i < x->n_heaps; i++)
		n += x->heaps[i].n;
	if (n > 0 && (x->kept = dm_calloc(n, sizeof(*x->kept))) == NULL)
		return oom(x);
	for (i = 0; i < x->n_heaps; i++) {
		for (j = 0; j < x->heaps[i].n; j++)
			x->kept[x->n_kept++] = x->heaps[i].v[j];
		x->heaps[i].n = 0;
	}
	if (x->n_kept > 0)
		qsort(x->kept, x->n_kept, sizeof(*x->kept), cmp_kept);
	return DM_OK;
}

struct pair *
dm_pairs_find(const struct pairs *x, const char *ip, const char *hf)
{
	size_t lo = 0, hi = x->n_kept;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = cmp_key(x->kept[mid], ip, hf);

		if (d == 0)
			return x->kept[mid];
		if (d > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- Causes from the evidence query ---- */

enum dm_service_kind
dm_service_kind_of(const char *kind)
{
	if (kind == NULL)
		return DM_SERVICE_UNKNOWN;
	/* A mailbox provider also forwards what its users forward: it tells
	   nothing about a relay's failures. */
	if (strcmp(kind, "esp") == 0)
		return DM_SERVICE_ESP;
	if (strcmp(kind, "list") == 0)
		return DM_SERVICE_LIST;
	if (strcmp(kind, "forwarder") == 0)
		return DM_SERVICE_FORWARDER;
	return DM_SERVICE_UNKNOWN;
}

/* The service of d when d passed for another domain than the From domain's:
 * a relay authenticating as itself. */
static int
relay_service(struct dm_evidence *ev, const struct dm_report_options *opt,
    const char *d, const char *result)
{
	enum dm_service_kind kind = DM_SERVICE_UNKNOWN;
	const char *name;

	if (d == NULL || d[0] == '\0' || strcmp(result, "pass") != 0 ||
	    dm_domains_aligned(d, ev->header_from, 0))
		return 0;
	if ((name = opt->service_of(opt->service_ctx, d, &kind)) == NULL)
		return 0;
	ev->service_name = name;
	ev->service = kind;
	return 1;
}

/* A source whose IP names no service: the service of the first DKIM d=,
 * then SPF domain, that passed for the mail without being the sender's. */
static void
domain_service(struct dm_evidence *ev, const struct dm_report_options *opt)
{
	size_t i;

	for (i = 0; i < ev->n_dkim; i++)
		if (relay_service(ev, opt, ev->dkim_results[i].domain,
		        ev->dkim_results[i].result))
			return;
	for (i = 0; i < ev->n_spf; i++)
		if (relay_service(ev, opt, ev->spf_results[i].domain,
		        ev->spf_results[i].result))
			return;
}

struct dm_evidence
dm_report_evidence(
    const struct dm_query_source *s, const struct dm_report_options *opt)
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
	ev.source_ip = s->source_ip;
	ev.service = dm_service_kind_of(s->host_kind);
	ev.service_name = s->host_service;
	if (ev.service_name == NULL && opt != NULL && opt->service_of != NULL)
		domain_service(&ev, opt);
	return ev;
}

enum dm_cause_code
dm_top_cause(const struct tally *t)
{
	const int64_t *b = t->blocked, *m = t->messages;
	int best = DM_CAUSE_PASS, i;

	for (i = 0; i < DM_CAUSE_COUNT; i++) {
		if (i == DM_CAUSE_PASS || !(t->seen & 1u << i))
			continue;
		if (best == DM_CAUSE_PASS || b[i] > b[best] ||
		    (b[i] == b[best] && m[i] > m[best]))
			best = i;
	}
	return (enum dm_cause_code)best;
}

static void
tally_add(
    struct tally *t, enum dm_cause_code c, int64_t blocked, int64_t messages)
{
	t->blocked[c] = dm_sat_add(t->blocked[c], blocked);
	t->messages[c] = dm_sat_add(t->messages[c], messages);
	t->seen |= 1u << c;
}

static int
cmp_isp_tally(const void *a, const void *b)
{
	return strcmp(((const struct isp_tally *)a)->name,
	    ((const struct isp_tally *)b)->name);
}

static struct isp_tally *
find_isp(const struct pairs *x, const char *name)
{
	struct isp_tally key;

	key.name = name;
	return x->n_isps == 0 ? NULL
	                      : bsearch(&key, x->isps, x->n_isps,
	                            sizeof(*x->isps), cmp_isp_tally);
}

/* Adds a distinct domain to the pair's short list of authenticated ones. */
static int
auth_add(struct pair *p, const char *d)
{
	size_t i;

	if (d == NULL || d[0] == '\0')
		return DM_OK;
	for (i = 0; i < p->n_auth; i++) {
		if (strcmp(p->auth[i], d) == 0)
			return DM_OK;
	}
	if (p->n_auth == MAX_LIST) {
		p->more_auth = 1;
		return DM_OK;
	}
	if ((p->auth[p->n_auth] = dm_strdup(d)) == NULL)
		return DM_ENOMEM;
	p->n_auth++;
	return DM_OK;
}

static int
pair_auth(struct pair *p, const struct dm_query_source *s)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < s->n_dkim && rc == DM_OK; i++) {
		if (strcmp(s->dkim_results[i].result, "pass") == 0)
			rc = auth_add(p, s->dkim_results[i].domain);
	}
	for (i = 0; i < s->n_spf && rc == DM_OK; i++) {
		if (strcmp(s->spf_results[i].result, "pass") == 0)
			rc = auth_add(p, s->spf_results[i].domain);
	}
	return rc;
}

/* The largest group (or row) of a cause explains it for the pair; the first
 * of equal ones. */
static int
pair_explain(struct pair *p, const struct dm_cause *c,
    const struct dm_evidence *ev, int64_t messages)
{
	struct dm_buf why, fix;
	int rc;

	if (p->why[c->code] != NULL && messages <= p->why_messages[c->code])
		return DM_OK;
	dm_buf_init(&why, 1 << 16);
	dm_buf_init(&fix, 1 << 16);
	rc = dm_cause_explain(c, ev, &why, &fix);
	if (rc == DM_OK && why.data != NULL && fix.data != NULL) {
		dm_free(p->why[c->code]);
		dm_free(p->fix[c->code]);
		p->why[c->code] = dm_buf_take(&why);
		p->fix[c->code] = dm_buf_take(&fix);
		p->why_messages[c->code] = messages;
	} else if (rc == DM_OK)
		rc = DM_ENOMEM;
	dm_buf_free(&why);
	dm_buf_free(&fix);
	return rc;
}

struct pair_isp *
dm_pair_find_isp(struct pair *p, const char *isp)
{
	size_t i;

	for (i = 0; i < p->n_isps; i++) {
		if (strcmp(p->isps[i].isp, isp) == 0)
			return &p->isps[i];
	}
	return NULL;
}

static int
set_str(char **dst, const char *s)
{
	dm_free(*dst);
	*dst = NULL;
	return s == NULL || (*dst = dm_strdup(s)) != NULL ? DM_OK : DM_ENOMEM;
}

/* A pair its host names no service of is known by the service of the
 * domains that authenticated its largest group of messages. */
static int
pair_service(struct pair *p, const struct dm_evidence *ev,
    const struct dm_query_source *s)
{
	static const char *const kinds[] = {NULL, "esp", "list", "forwarder"};
	int rc;

	if (p->service_by_ptr || ev->service_name == NULL ||
	    (p->service != NULL && s->messages <= p->service_messages))
		return DM_OK;
	p->service_messages = s->messages;
	if ((rc = set_str(&p->service, ev->service_name)) != DM_OK)
		return rc;
	return set_str(&p->kind, kinds[ev->service]);
}

static int
pair_evidence(struct pairs *x, struct pair *p, const char *isp,
    enum dm_cause_code code, const struct dm_evidence *ev,
    const struct dm_query_source *s, int64_t blocked)
{
	struct pair_isp *pi = dm_pair_find_isp(p, isp);

	tally_add(&p->t, code, blocked, s->messages);
	if (pi != NULL)
		tally_add(&pi->t, code, blocked, s->messages);
	/* The whole classification (the domain it names) only for the rows
	   that explain a cause. */
	if (p->why[code] == NULL || s->messages > p->why_messages[code]) {
		struct dm_cause c = dm_cause_classify(ev);

		if (pair_explain(p, &c, ev, s->messages) != DM_OK)
			return DM_ENOMEM;
	}
	if (pair_auth(p, s) != DM_OK || pair_service(p, ev, s) != DM_OK)
		return DM_ENOMEM;
	if (x->on_evidence != NULL)
		return x->on_evidence(x->ctx, p, pi, s, code);
	return DM_OK;
}

/*
 * Calls fn on every field the classifier's answer depends on, in a fixed
 * order, until it returns non-zero: the host's service and kind (with the
 * services files, they decide what domain_service() finds), then the
 * evidence.  One walk hashes a row, compares it with a cached key, or builds
 * the key, with no copy of the row's text for the first two.
 */
static int
each_field(const struct dm_evidence *ev, const struct dm_query_source *s,
    int (*fn)(void *ctx, const char *field), void *ctx)
{
	const char *v[] = {s->host_service != NULL ? "1" : "0", s->host_service,
	    s->host_kind != NULL ? "1" : "0", s->host_kind, ev->header_from,
	    ev->envelope_from, ev->disposition, ev->dkim, ev->spf, ev->p,
	    ev->testing, ev->adkim, ev->aspf};
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < sizeof(v) / sizeof(v[0]); i++)
		rc = fn(ctx, v[i]);
	for (i = 0; rc == 0 && i < ev->n_dkim; i++)
		if ((rc = fn(ctx, ev->dkim_results[i].domain)) == 0 &&
		    (rc = fn(ctx, ev->dkim_results[i].selector)) == 0)
			rc = fn(ctx, ev->dkim_results[i].result);
	for (i = 0; rc == 0 && i < ev->n_spf; i++)
		if ((rc = fn(ctx, ev->spf_results[i].domain)) == 0 &&
		    (rc = fn(ctx, ev->spf_results[i].scope)) == 0)
			rc = fn(ctx, ev->spf_results[i].result);
	for (i = 0; rc == 0 && i < ev->n_reasons; i++)
		if ((rc = fn(ctx, ev->reasons[i].type)) == 0)
			rc = fn(ctx, ev->reasons[i].comment);
	return rc;
}

/* FNV-1a over the fields, each ended by US. */
static int
hash_field(void *ctx, const char *field)
{
	uint64_t *h = ctx;

	*h = dm_hash_add(dm_hash_add(*h, field != NULL ? field : ""), "\037");
	return 0;
}

/* Whether the fields continue the key at *ctx (advanced past each). */
static int
match_field(void *ctx, const char *field)
{
	const char **key = ctx;
	const char *f = field != NULL ? field : "";
	size_t n = strlen(f);

	if (strncmp(*key, f, n) != 0 || (*key)[n] != '\037')
		return 1;
	*key += n + 1;
	return 0;
}

static int
add_field(void *ctx, const char *field)
{
	struct dm_buf *b = ctx;
	int rc = dm_buf_adds(b, field != NULL ? field : "");

	return rc == DM_OK ? dm_buf_add(b, "\037", 1) : rc;
}

/*
 * The cause of the row, and the service domain_service() finds for it,
 * remembered for the evidence seen last in a small direct-mapped table
 * keyed before the service lookup: a hit costs one walk of the row's fields
 * to hash and one to compare, no lookup and no copy.  Whatever the hash, a
 * miss only costs the classification: a table that cannot chain cannot be
 * made quadratic.
 */
static enum dm_cause_code
cause_of(
    struct pairs *x, struct dm_evidence *ev, const struct dm_query_source *s)
{
	struct cause_slot *slot;
	uint64_t h = DM_HASH_INIT;
	enum dm_cause_code code;
	const char *key;

	each_field(ev, s, hash_field, &h);
	slot = &x->causes[h % (sizeof(x->causes) / sizeof(x->causes[0]))];
	key = slot->key;
	if (key != NULL && slot->hash == h &&
	    each_field(ev, s, match_field, &key) == 0 && *key == '\0') {
		if (ev->service_name == NULL && slot->service_name != NULL) {
			ev->service_name = slot->service_name;
			ev->service = slot->service;
		}
		return slot->code;
	}
	if (ev->service_name == NULL && x->opt != NULL &&
	    x->opt->service_of != NULL)
		domain_service(ev, x->opt);
	code = dm_cause_classify(ev).code;
	dm_buf_reset(&x->key);
	if (each_field(ev, s, add_field, &x->key) != DM_OK ||
	    x->key.data == NULL)
		return code;
	dm_free(slot->key);
	slot->key = dm_strdup(x->key.data); /* NULL: simply not kept */
	slot->hash = h;
	slot->code = code;
	/* The services' names live as long as the report (opt). */
	slot->service_name = s->host_service == NULL ? ev->service_name : NULL;
	slot->service = ev->service;
	return code;
}

static int
source_cb(void *ctx, const struct dm_query_source *s, struct dm_error *err)
{
	struct pairs *x = ctx;
	struct dm_evidence ev = dm_report_evidence(s, NULL);
	enum dm_cause_code code = cause_of(x, &ev, s);
	int64_t blocked = strcmp(s->disposition, "quarantine") == 0 ||
	                          strcmp(s->disposition, "reject") == 0
	                      ? s->messages
	                      : 0;
	struct isp_tally *it = find_isp(x, s->isp);
	struct pair *p = dm_pairs_find(x, s->source_ip, s->header_from);

	(void)err;
	if (it != NULL)
		tally_add(&it->t, code, blocked, s->messages);
	if (p != NULL &&
	    pair_evidence(x, p, s->isp, code, &ev, s, blocked) != DM_OK)
		return oom(x);
	return DM_OK;
}

int
dm_pairs_classify(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *f, unsigned flags)
{
	return dm_query_sources(q, f, flags, source_cb, x, x->err);
}

/* ---- Ranks ---- */

static int
cmp_rank(const void *a, const void *b)
{
	return rank_cmp(*(struct pair *const *)a, *(struct pair *const *)b);
}

/* By address, then rank: the first of an address is its best pair. */
static int
cmp_ip_rank(const void *a, const void *b)
{
	const struct pair *x = *(struct pair *const *)a,
	                  *y = *(struct pair *const *)b;
	int d = strcmp(x->ip, y->ip);

	return d != 0 ? d : (x->rank < y->rank ? -1 : x->rank > y->rank);
}

int
dm_pairs_cmp_output(const void *a, const void *b)
{
	const struct pair *x = *(struct pair *const *)a,
	                  *y = *(struct pair *const *)b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

void
dm_pairs_order(struct pairs *x, int by_address)
{
	size_t i;

	if (x->n_kept == 0)
		return;
	qsort(x->kept, x->n_kept, sizeof(*x->kept), cmp_rank);
	for (i = 0; i < x->n_kept; i++)
		x->kept[i]->rank = x->kept[i]->group = i;
	if (!by_address) {
		for (i = 0; x->pages != NULL && i < x->n_kept; i++)
			x->kept[i]->group = x->kept[i]->page;
	} else {
		qsort(x->kept, x->n_kept, sizeof(*x->kept), cmp_ip_rank);
		for (i = 1; i < x->n_kept; i++) {
			if (strcmp(x->kept[i]->ip, x->kept[i - 1]->ip) == 0)
				x->kept[i]->group = x->kept[i - 1]->group;
		}
	}
	qsort(x->kept, x->n_kept, sizeof(*x->kept), dm_pairs_cmp_output);
}

/* ---- Life cycle ---- */

int
dm_pairs_setup(struct pairs *x, size_t cap, char *const *pages, size_t n_pages,
    char *const *isp_names, size_t n_isps)
{
	size_t i;

	x->cap = cap;
	x->pages = pages;
	dm_buf_init(&x->key, 1 << 12);
	x->n_pages = n_pages;
	x->n_heaps = pages != NULL ? n_pages : 1;
	if ((x->heaps = dm_calloc(x->n_heaps + 1, sizeof(*x->heaps))) == NULL ||
	    (x->page_idx = dm_calloc(x->n_heaps + 1, sizeof(*x->page_idx))) ==
	        NULL ||
	    (x->isps = dm_calloc(n_isps + 1, sizeof(*x->isps))) == NULL)
		return oom(x);
	for (i = 0; i < x->n_heaps; i++) {
		x->page_idx[i].name = pages != NULL ? pages[i] : "";
		x->page_idx[i].idx = i;
		if ((x->heaps[i].v = dm_calloc(
		         x->cap + 1, sizeof(struct pair *))) == NULL)
			return oom(x);
	}
	if (pages != NULL && x->n_heaps > 0)
		qsort(x->page_idx, x->n_heaps, sizeof(*x->page_idx), cmp_page);
	for (i = 0; i < n_isps; i++) {
		x->isps[i].name = isp_names[i];
		x->isps[i].row = i;
	}
	x->n_isps = n_isps;
	if (n_isps > 0)
		qsort(x->isps, n_isps, sizeof(*x->isps), cmp_isp_tally);
	return DM_OK;
}

int
dm_pairs_load(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *f, unsigned flags)
{
	int rc =
	    dm_query_pairs(q, f, flags | DM_QUERY_RANK, pair_cb, x, x->err);

	if (rc != DM_OK)
		return rc;
	finish_pair(x);
	return collect(x);
}

int
dm_pairs_restrict(const struct pairs *x, const struct dm_query_filter *f,
    struct dm_query_filter *kept, struct dm_query_pair_key **keys)
{
	size_t i;

	*kept = *f;
	*keys = NULL;
	if (x->n_kept > DM_QUERY_PAIRS_MAX ||
	    (*keys = dm_calloc(x->n_kept + 1, sizeof(**keys))) == NULL)
		return DM_ENOMEM;
	for (i = 0; i < x->n_kept; i++) {
		(*keys)[i].source_ip = x->kept[i]->ip;
		(*keys)[i].header_from = x->kept[i]->hf;
	}
	kept->pairs = *keys;
	kept->n_pairs = x->n_kept;
	return DM_OK;
}

static int
reports_cb(void *ctx, const struct dm_query_pair *row, struct dm_error *err)
{
	struct pairs *x = ctx;
	struct pair *p = dm_pairs_find(x, row->source_ip, row->header_from);
	struct pair_isp *pi = p != NULL ? dm_pair_find_isp(p, row->isp) : NULL;

	(void)err;
	if (p == NULL)
		return DM_OK;
	pair_add_details(p, row);
	if (pi != NULL)
		pair_isp_details(pi, row);
	return DM_OK;
}

/* Runs query over f restricted to the kept pairs (none: nothing to do). */
static int
on_kept(struct pairs *x, struct dm_query *q, const struct dm_query_filter *f,
    unsigned flags,
    int (*query)(struct pairs *x, struct dm_query *q,
        const struct dm_query_filter *kept, unsigned flags))
{
	struct dm_query_filter kept;
	struct dm_query_pair_key *keys;
	int rc;

	if (x->n_kept == 0)
		return DM_OK;
	if (dm_pairs_restrict(x, f, &kept, &keys) != DM_OK)
		return oom(x);
	rc = query(x, q, &kept, flags);
	dm_free(keys);
	return rc;
}

static int
reports_query(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *kept, unsigned flags)
{
	return dm_query_pairs(
	    q, kept, flags | DM_QUERY_REPORTS, reports_cb, x, x->err);
}

int
dm_pairs_reports(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *f, unsigned flags)
{
	return on_kept(x, q, f, flags, reports_query);
}

/* "s21.bmsend.com (forward-confirmed); Benchmark Email (esp); AS64501 Other
 * Net; DE": what the host table and the services say of the source. */
int
dm_pair_host_text(const struct pair *p, struct dm_buf *t)
{
	int rc = DM_OK;

	if (p->ptr != NULL)
		rc = dm_buf_addf(t, "%s (%s)", p->ptr,
		    p->confirmed == 1 ? _("forward-confirmed")
		                      : _("not forward-confirmed"));
	if (rc == DM_OK && p->service != NULL)
		rc = dm_buf_addf(t, "%s%s (%s%s)", t->len > 0 ? "; " : "",
		    p->service, p->kind != NULL ? p->kind : "?",
		    p->service_by_ptr ? ""
		                      : _(", by the domain it authenticates"));
	if (rc == DM_OK && p->asn >= 0)
		rc = dm_buf_addf(t, "%sAS%lld%s%s", t->len > 0 ? "; " : "",
		    (long long)p->asn, p->as_org != NULL ? " " : "",
		    p->as_org != NULL ? p->as_org : "");
	if (rc == DM_OK && p->country != NULL)
		rc = dm_buf_addf(t, "%s%s", t->len > 0 ? "; " : "", p->country);
	return rc;
}

/* The first kept pair of address ip (kept is sorted by address). */
static size_t
first_of_ip(const struct pairs *x, const char *ip)
{
	size_t lo = 0, hi = x->n_kept;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(x->kept[mid]->ip, ip) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
pair_host(struct pair *p, const struct dm_host *h)
{
	int rc;

	p->confirmed = h->ptr != NULL ? h->confirmed : -1;
	p->asn = h->asn;
	p->service_by_ptr = h->service != NULL;
	if ((rc = set_str(&p->ptr, h->ptr)) != DM_OK ||
	    (rc = set_str(&p->as_org, h->as_org)) != DM_OK ||
	    (rc = set_str(&p->country, h->country)) != DM_OK ||
	    (rc = set_str(&p->service, h->service)) != DM_OK)
		return rc;
	return set_str(&p->kind, h->service != NULL ? h->kind : NULL);
}

static int
host_cb(void *ctx, const struct dm_host *h, struct dm_error *err)
{
	struct pairs *x = ctx;
	size_t i;

	(void)err;
	for (i = first_of_ip(x, h->ip);
	     i < x->n_kept && strcmp(x->kept[i]->ip, h->ip) == 0; i++) {
		if (pair_host(x->kept[i], h) != DM_OK)
			return oom(x);
	}
	return DM_OK;
}

static int
hosts_query(struct pairs *x, struct dm_query *q,
    const struct dm_query_filter *kept, unsigned flags)
{
	(void)flags;
	return dm_query_hosts(q, kept, host_cb, x, x->err);
}

/* What the host table left unknown of each kept pair's ASN, AS organisation
 * and country, from the geo_of hook (the MMDB files given to report). */
static int
fill_geo(struct pairs *x)
{
	struct dm_host h;
	size_t i;

	for (i = 0; i < x->n_kept; i++) {
		struct pair *p = x->kept[i];

		if (p->asn >= 0 && p->as_org != NULL && p->country != NULL)
			continue;
		memset(&h, 0, sizeof(h));
		h.ip = p->ip;
		h.asn = p->asn;
		h.as_org = p->as_org;
		h.country = p->country;
		x->opt->geo_of(x->opt->geo_ctx, p->ip, &h);
		p->asn = h.asn;
		if ((p->as_org == NULL &&
		        set_str(&p->as_org, h.as_org) != DM_OK) ||
		    (p->country == NULL &&
		        set_str(&p->country, h.country) != DM_OK))
			return oom(x);
	}
	return DM_OK;
}

int
dm_pairs_hosts(
    struct pairs *x, struct dm_query *q, const struct dm_query_filter *f)
{
	int rc = on_kept(x, q, f, 0, hosts_query);

	if (rc == DM_OK && x->opt->geo_of != NULL)
		rc = fill_geo(x);
	return rc;
}

void
dm_pairs_teardown(struct pairs *x)
{
	size_t i, j;

	pair_free(x->cur);
	for (i = 0; x->heaps != NULL && i < x->n_heaps; i++) {
		for (j = 0; j < x->heaps[i].n; j++)
			pair_free(x->heaps[i].v[j]);
		dm_free(x->heaps[i].v);
	}
	for (i = 0; i < x->n_kept; i++)
		pair_free(x->kept[i]);
	dm_free(x->kept);
	dm_free(x->heaps);
	dm_free(x->page_idx);
	dm_free(x->isps);
	for (i = 0; i < sizeof(x->causes) / sizeof(x->causes[0]); i++)
		dm_free(x->causes[i].key);
	dm_buf_free(&x->key);
}
