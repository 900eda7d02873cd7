/*
 * evidence.c - what the reports in the database say about a domain, as the
 * input of its checks: the policy they saw, the DKIM selectors that signed
 * its mail, and the sources that failed SPF for it.
 *
 * Read through sql/query.h (the rollups, summed over the period: the policy
 * published last per domain, the groups of messages with the same evidence)
 * and the host
 * table, never SQL of our own.  A source's service comes from its PTR name
 * when enrich found one, else from the other domains of its mail (an ESP
 * signs with its own d= and bounces to its own SPF domain), looked up in the
 * services now loaded.
 */
#include "dns_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct reader {
	struct dm_dns *d;
	struct dm_query *q;
	struct dm_check_evidence *ev;
	int64_t last_day;
	size_t cap_sel, cap_src;
};

/* 1 when name is domain or under it. */
static int
under(const char *name, const char *domain)
{
	size_t n, m;

	if (name == NULL)
		return 0;
	n = strlen(name);
	m = strlen(domain);
	return (n == m && strcasecmp(name, domain) == 0) ||
	       (n > m && name[n - m - 1] == '.' &&
	           strcasecmp(name + n - m, domain) == 0);
}

static int
replace(char **slot, const char *v)
{
	char *copy = v != NULL && *v != '\0' ? dm_strdup(v) : NULL;

	if (v != NULL && *v != '\0' && copy == NULL)
		return DM_ENOMEM;
	dm_free(*slot);
	*slot = copy;
	return DM_OK;
}

/* The policy of the last day with reports for the domain. */
static int
on_day(void *ctx, const struct dm_query_domain *row, struct dm_error *err)
{
	struct reader *r = ctx;

	r->ev->reported = 1;
	if (strcasecmp(row->domain, r->ev->domain) != 0 ||
	    row->last_day < r->last_day)
		return DM_OK;
	r->last_day = row->last_day;
	r->ev->pct = (int)row->pct;
	if (replace(&r->ev->p, row->p) != DM_OK ||
	    replace(&r->ev->sp, row->sp) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	return DM_OK;
}

static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *grown;
	size_t c;

	if (n < *cap)
		return DM_OK;
	c = *cap ? *cap * 2 : 16;
	if ((grown = dm_realloc(*arr, c * size)) == NULL)
		return DM_ENOMEM;
	*arr = grown;
	*cap = c;
	return DM_OK;
}

static int
add_selector(struct reader *r, const struct dm_dkim_result *k, int64_t msgs)
{
	struct dm_check_evidence *ev = r->ev;
	struct dm_check_selector *s;
	size_t i;

	for (i = 0; i < ev->n_selectors; i++) {
		s = &ev->selectors[i];
		if (strcasecmp(s->domain, k->domain) == 0 &&
		    strcmp(s->selector, k->selector) == 0)
			break;
	}
	if (i == ev->n_selectors) {
		if (grow((void **)&ev->selectors, &r->cap_sel, i, sizeof(*s)) !=
		    DM_OK)
			return DM_ENOMEM;
		s = &ev->selectors[ev->n_selectors++];
		memset(s, 0, sizeof(*s));
		if ((s->domain = dm_strdup(k->domain)) == NULL ||
		    (s->selector = dm_strdup(k->selector)) == NULL)
			return DM_ENOMEM;
	}
	s = &ev->selectors[i];
	/* A pass anywhere outweighs the failures: the key worked then. */
	if (s->result == NULL || strcmp(k->result, "pass") == 0 ||
	    (strcmp(s->result, "pass") != 0 && msgs > (int64_t)s->messages))
		if (replace(&s->result, k->result) != DM_OK)
			return DM_ENOMEM;
	s->messages += (uint64_t)msgs;
	return DM_OK;
}

/*
 * The service of a source: its PTR name's when that is forward-confirmed
 * (anyone can write any PTR name for their own addresses), else its mail's
 * other domains'.  Sets s->service and s->ptr; DM_EDB or DM_ENOMEM.
 */
static int
source_service(struct reader *r, const struct dm_query_source *row,
    struct dm_check_source *s, struct dm_error *err)
{
	const struct dm_dns_service *svc = NULL;
	struct dm_host h;
	size_t i;
	int rc = dm_query_host(r->q, row->source_ip, &h, err);

	if (rc < 0)
		return rc;
	if (rc == DM_OK && h.ptr != NULL && h.confirmed == 1) {
		svc = dm_dns_service(r->d, h.ptr);
		if ((s->ptr = dm_strdup(h.ptr)) == NULL)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	for (i = 0; svc == NULL && i < row->n_dkim; i++) {
		if (!under(row->dkim_results[i].domain, r->ev->domain))
			svc = dm_dns_service(r->d, row->dkim_results[i].domain);
	}
	for (i = 0; svc == NULL && i < row->n_spf; i++) {
		if (!under(row->spf_results[i].domain, r->ev->domain))
			svc = dm_dns_service(r->d, row->spf_results[i].domain);
	}
	s->service = svc;
	return DM_OK;
}

/* Messages of the row whose DKIM signature of the domain passed. */
static int64_t
dkim_aligned(const struct dm_query_source *row, const char *domain)
{
	size_t i;

	for (i = 0; i < row->n_dkim; i++) {
		if (strcmp(row->dkim_results[i].result, "pass") == 0 &&
		    under(row->dkim_results[i].domain, domain))
			return row->messages;
	}
	return 0;
}

static int
add_source(struct reader *r, const struct dm_query_source *row,
    const struct dm_spf_result *spf, struct dm_error *err)
{
	struct dm_check_evidence *ev = r->ev;
	struct dm_check_source *s;
	size_t i;
	int rc;

	for (i = 0; i < ev->n_sources; i++) {
		s = &ev->sources[i];
		if (strcmp(s->ip, row->source_ip) == 0 &&
		    strcasecmp(s->spf_domain, spf->domain) == 0)
			break;
	}
	if (i == ev->n_sources) {
		if (grow((void **)&ev->sources, &r->cap_src, i, sizeof(*s)) !=
		    DM_OK)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
		s = &ev->sources[ev->n_sources++];
		memset(s, 0, sizeof(*s));
		if ((s->ip = dm_strdup(row->source_ip)) == NULL ||
		    (s->spf_domain = dm_strdup(spf->domain)) == NULL ||
		    (s->result = dm_strdup(spf->result)) == NULL)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
		if ((rc = source_service(r, row, s, err)) != DM_OK)
			return rc;
	}
	s = &ev->sources[i];
	s->messages += (uint64_t)row->messages;
	s->dkim_aligned += (uint64_t)dkim_aligned(row, ev->domain);
	return DM_OK;
}

/* Rows of mail from the domain: their selectors and SPF failures. */
static int
on_source(void *ctx, const struct dm_query_source *row, struct dm_error *err)
{
	struct reader *r = ctx;
	const char *from =
	    row->header_from[0] != '\0' ? row->header_from : row->domain;
	size_t i;

	if (strcasecmp(from, r->ev->domain) != 0)
		return DM_OK;
	r->ev->reported = 1;
	for (i = 0; i < row->n_dkim; i++) {
		const struct dm_dkim_result *k = &row->dkim_results[i];

		if (k->selector != NULL && k->selector[0] != '\0' &&
		    k->result != NULL && under(k->domain, r->ev->domain) &&
		    add_selector(r, k, row->messages) != DM_OK)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	for (i = 0; i < row->n_spf; i++) {
		const struct dm_spf_result *s = &row->spf_results[i];
		int rc;

		if (s->result == NULL || strcmp(s->result, "pass") == 0 ||
		    !under(s->domain, r->ev->domain) ||
		    row->source_ip[0] == '\0')
			continue;
		if ((rc = add_source(r, row, s, err)) != DM_OK)
			return rc;
	}
	return DM_OK;
}

static int
by_messages(const void *a, const void *b)
{
	const struct dm_check_source *x = a, *y = b;

	if (x->messages != y->messages)
		return x->messages < y->messages ? 1 : -1;
	return strcmp(x->ip, y->ip);
}

static int
by_selector(const void *a, const void *b)
{
	const struct dm_check_selector *x = a, *y = b;
	int c = strcasecmp(x->domain, y->domain);

	return c != 0 ? c : strcmp(x->selector, y->selector);
}

static void
source_free(struct dm_check_source *s)
{
	dm_free(s->ip);
	dm_free(s->spf_domain);
	dm_free(s->result);
	dm_free(s->ptr);
}

/* Sorts, and keeps the sources with the most messages. */
static void
settle(struct dm_check_evidence *ev)
{
	size_t i;

	/* qsort's array must not be NULL, even when empty. */
	if (ev->n_selectors > 1)
		qsort(ev->selectors, ev->n_selectors, sizeof(*ev->selectors),
		    by_selector);
	if (ev->n_sources > 1)
		qsort(ev->sources, ev->n_sources, sizeof(*ev->sources),
		    by_messages);
	for (i = DM_DNS_MAX_SOURCES; i < ev->n_sources; i++)
		source_free(&ev->sources[i]);
	if (ev->n_sources > DM_DNS_MAX_SOURCES)
		ev->n_sources = DM_DNS_MAX_SOURCES;
}

int
dm_dns_evidence_empty(
    const char *domain, struct dm_check_evidence **out, struct dm_error *err)
{
	char lower[256];

	*out = NULL;
	if (name_normalise(domain, lower, sizeof(lower)) != 0)
		return dm_error_set(
		    err, DM_EINVAL, "not a domain name: \"%s\"", domain);
	if ((*out = dm_calloc(1, sizeof(**out))) == NULL ||
	    ((*out)->domain = dm_strdup(lower)) == NULL) {
		dm_dns_evidence_free(*out);
		*out = NULL;
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	(*out)->pct = -1;
	return DM_OK;
}

int
dm_dns_evidence_read(struct dm_dns *d, struct dm_query *q, const char *domain,
    int64_t from, int64_t to, struct dm_check_evidence **out,
    struct dm_error *err)
{
	struct dm_query_filter f;
	struct reader r;
	int rc;

	if ((rc = dm_dns_evidence_empty(domain, out, err)) != DM_OK)
		return rc;
	memset(&f, 0, sizeof(f));
	f.from = from;
	f.to = to;
	f.domain = (*out)->domain;
	memset(&r, 0, sizeof(r));
	r.d = d;
	r.q = q;
	r.ev = *out;
	r.last_day = INT64_MIN;
	rc = dm_query_domains(q, &f, on_day, &r, err);
	if (rc == DM_OK)
		rc = dm_query_sources(q, &f, 0, on_source, &r, err);
	if (rc != DM_OK) {
		dm_dns_evidence_free(*out);
		*out = NULL;
		return rc;
	}
	settle(*out);
	return DM_OK;
}

void
dm_dns_evidence_free(struct dm_check_evidence *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->n_selectors; i++) {
		dm_free(ev->selectors[i].domain);
		dm_free(ev->selectors[i].selector);
		dm_free(ev->selectors[i].result);
	}
	for (i = 0; i < ev->n_sources; i++)
		source_free(&ev->sources[i]);
	dm_free(ev->selectors);
	dm_free(ev->sources);
	dm_free(ev->domain);
	dm_free(ev->p);
	dm_free(ev->sp);
	dm_free(ev);
}

/* ---- The domains of the reports ---- */

struct domains {
	char **d;
	size_t n, cap;
};

static int
on_domain_day(
    void *ctx, const struct dm_query_domain *row, struct dm_error *err)
{
	struct domains *ds = ctx;
	char lower[256];
	size_t i;

	if (name_normalise(row->domain, lower, sizeof(lower)) != 0)
		return DM_OK;
	for (i = 0; i < ds->n; i++) {
		if (strcmp(ds->d[i], lower) == 0)
			return DM_OK;
	}
	if (grow((void **)&ds->d, &ds->cap, ds->n, sizeof(*ds->d)) != DM_OK ||
	    (ds->d[ds->n] = dm_strdup(lower)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	ds->n++;
	return DM_OK;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
dm_dns_reported_domains(struct dm_query *q, int64_t from, int64_t to,
    char ***out, size_t *n, struct dm_error *err)
{
	struct domains ds = {NULL, 0, 0};
	struct dm_query_filter f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.from = from;
	f.to = to;
	rc = dm_query_domains(q, &f, on_domain_day, &ds, err);
	if (rc != DM_OK) {
		dm_dns_domains_free(ds.d, ds.n);
		return rc;
	}
	if (ds.n > 1)
		qsort(ds.d, ds.n, sizeof(*ds.d), by_name);
	*out = ds.d;
	*n = ds.n;
	return DM_OK;
}

void
dm_dns_domains_free(char **domains, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dm_free(domains[i]);
	dm_free(domains);
}
