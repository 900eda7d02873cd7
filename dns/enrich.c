/*
 * enrich.c - who is behind each source IP: reverse DNS, forward confirmation,
 * registrable domain, sending service, ASN and country; and the host table.
 *
 * Each IP is a small job: a PTR query, then one A or AAAA query per PTR name
 * (up to MAX_NAMES), all in flight together with the other jobs; the loop keeps
 * the options' concurrency of jobs running and a deadline for the lot.  A PTR
 * name counts only once it resolves back to the IP (forward-confirmed reverse
 * DNS, RFC 8601's iprev): anyone can write any PTR name for their own
 * addresses, so an unconfirmed "mail.google.com" proves nothing, and its
 * service is still shown but the row says confirmed = 0.
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <string.h>

/* PTR names per IP tried for confirmation; more are rare and mostly junk. */
#define MAX_NAMES 4

/* A commit of the host rows at least this often (ms) during an enrichment. */
#define FLUSH_MS 1000

struct run;

struct job {
	struct run *run;
	char ip[INET6_ADDRSTRLEN];
	int family;
	unsigned char addr[16];
	char *names[MAX_NAMES];
	size_t n_names;
	int pending;      /* queries in flight */
	int confirmed_by; /* index of the first confirmed name, or -1 */
	char error[96];   /* the first failure */
	int cancelled;
};

struct run {
	struct dm_dns *d;
	int64_t now;
	dm_dns_host_cb cb;
	void *ctx;
	unsigned in_flight;
	size_t done;
	int rc;
	struct dm_error *err;
};

static void
job_fail(struct job *j, const char *what, int status)
{
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
		j->cancelled = 1;
	else if (j->error[0] == '\0')
		snprintf(j->error, sizeof(j->error), "%s: %s", what,
		    dns_status_text(status));
}

static void
job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->n_names; i++)
		dm_free(j->names[i]);
	dm_free(j);
}

/* Hands the answer to the callback, unless the job was cancelled. */
static void
job_report(struct job *j)
{
	struct run *r = j->run;
	const char *name = NULL;
	const struct dm_dns_service *svc;
	struct dm_dns_geo_buf geo;
	char base[256];
	struct dm_host h;

	memset(&h, 0, sizeof(h));
	h.ip = j->ip;
	h.checked_at = r->now;
	h.asn = -1;
	h.confirmed = j->n_names == 0 ? -1 : j->confirmed_by >= 0;
	if (j->n_names > 0)
		name = j->names[j->confirmed_by >= 0 ? j->confirmed_by : 0];
	h.ptr = name;
	h.base_domain = dm_dns_base_domain(r->d, name, base, sizeof(base));
	if ((svc = dm_dns_service(r->d, name)) != NULL) {
		h.service = svc->name;
		h.kind = svc->kind;
	}
	h.error = j->error[0] != '\0' ? j->error : NULL;
	dm_dns_geo(r->d, j->ip, &h, &geo);
	r->done++;
	if (r->rc == DM_OK)
		r->rc = r->cb(r->ctx, &h, r->err);
}

/* Called as each query of a job ends; the last one finishes the job. */
static void
job_step_done(struct job *j)
{
	if (--j->pending > 0)
		return;
	j->run->in_flight--;
	if (!j->cancelled)
		job_report(j);
	job_free(j);
}

/* 1 when the A or AAAA answer holds the job's address. */
static int
answer_has(struct job *j, const unsigned char *abuf, int alen)
{
	struct ares_addrttl a4[16];
	struct ares_addr6ttl a6[16];
	int n = 16, i;

	if (j->family == AF_INET) {
		if (ares_parse_a_reply(abuf, alen, NULL, a4, &n) !=
		    ARES_SUCCESS)
			return 0;
		for (i = 0; i < n; i++) {
			if (memcmp(&a4[i].ipaddr, j->addr, 4) == 0)
				return 1;
		}
		return 0;
	}
	if (ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n) != ARES_SUCCESS)
		return 0;
	for (i = 0; i < n; i++) {
		if (memcmp(&a6[i].ip6addr, j->addr, 16) == 0)
			return 1;
	}
	return 0;
}

/* The forward lookup of names[i]: which name it was is found by pointer. */
struct fwd {
	struct job *j;
	size_t i;
};

static void
on_forward(void *arg, int status, const unsigned char *abuf, int alen)
{
	struct fwd f = *(struct fwd *)arg;

	dm_free(arg);
	if (status == ARES_SUCCESS && answer_has(f.j, abuf, alen)) {
		if (f.j->confirmed_by < 0 || (size_t)f.j->confirmed_by > f.i)
			f.j->confirmed_by = (int)f.i;
	} else if (dns_status_failed(status))
		job_fail(f.j, "forward lookup", status);
	job_step_done(f.j);
}

static void
forward_lookups(struct job *j)
{
	size_t i;

	for (i = 0; i < j->n_names; i++) {
		struct fwd *f = dm_malloc(sizeof(*f));

		if (f == NULL) {
			job_fail(j, "forward lookup", ARES_ENOMEM);
			continue;
		}
		f->j = j;
		f->i = i;
		j->pending++;
		dns_query(j->run->d, j->names[i],
		    j->family == AF_INET ? ns_t_a : ns_t_aaaa, on_forward, f);
	}
}

/* Keeps the PTR names of the answer, normalised, up to MAX_NAMES. */
static void
keep_names(struct job *j, const struct hostent *he)
{
	char norm[256];
	size_t i;

	if (he->h_name != NULL &&
	    name_normalise(he->h_name, norm, sizeof(norm)) == 0)
		j->names[j->n_names++] = dm_strdup(norm);
	for (i = 0; he->h_aliases != NULL && he->h_aliases[i] != NULL &&
	            j->n_names < MAX_NAMES;
	     i++) {
		if (name_normalise(he->h_aliases[i], norm, sizeof(norm)) == 0)
			j->names[j->n_names++] = dm_strdup(norm);
	}
	for (i = 0; i < j->n_names; i++) {
		if (j->names[i] == NULL) {
			job_fail(j, "PTR lookup", ARES_ENOMEM);
			j->n_names = i;
		}
	}
}

static void
on_ptr(void *arg, int status, const unsigned char *abuf, int alen)
{
	struct job *j = arg;
	struct hostent *he = NULL;

	if (status == ARES_SUCCESS)
		status = ares_parse_ptr_reply(abuf, alen, j->addr,
		    j->family == AF_INET ? 4 : 16, j->family, &he);
	if (status == ARES_SUCCESS) {
		keep_names(j, he);
		ares_free_hostent(he);
		forward_lookups(j);
	} else if (dns_status_failed(status))
		job_fail(j, "PTR lookup", status);
	job_step_done(j);
}

/* Starts the job of one IP; an IP that is not an address is answered at once.
 */
static void
job_start(struct run *r, const char *ip)
{
	struct job *j = dm_calloc(1, sizeof(*j));

	if (j == NULL) {
		r->rc = dm_error_set(r->err, DM_ENOMEM, "out of memory");
		return;
	}
	j->run = r;
	j->confirmed_by = -1;
	snprintf(j->ip, sizeof(j->ip), "%s", ip);
	j->family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	r->in_flight++;
	j->pending = 1;
	if (strlen(ip) >= sizeof(j->ip) ||
	    inet_pton(j->family, ip, j->addr) != 1) {
		snprintf(j->error, sizeof(j->error), "not an IP address");
		job_step_done(j);
		return;
	}
	dns_query_ptr(r->d, j->family, j->addr, on_ptr, j);
}

int
dm_dns_lookup_hosts(struct dm_dns *d, const char *const *ips, size_t n,
    int64_t now, int64_t deadline_ms, dm_dns_host_cb cb, void *ctx,
    size_t *done, struct dm_error *err)
{
	struct run r = {d, now, cb, ctx, 0, 0, DM_OK, err};
	size_t next = 0;

	while ((next < n || r.in_flight > 0) && r.rc == DM_OK) {
		if ((deadline_ms > 0 && dm_dns_clock_ms() >= deadline_ms) ||
		    dns_unreachable(d))
			break;
		while (
		    r.in_flight < d->concurrency && next < n && r.rc == DM_OK)
			job_start(&r, ips[next++]);
		if (r.in_flight > 0)
			dns_wait_once(d, deadline_ms);
	}
	if (r.in_flight > 0)
		dns_cancel(d);
	*done = r.done;
	return r.rc;
}

/* ---- The host table ---- */

struct due {
	char **ips;
	size_t n, cap;
};

static int
due_add(void *ctx, const char *ip, struct dm_error *err)
{
	struct due *u = ctx;

	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 1024;
		char **grown = dm_realloc(u->ips, cap * sizeof(*grown));

		if (grown == NULL)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
		u->ips = grown;
		u->cap = cap;
	}
	if ((u->ips[u->n] = dm_strdup(ip)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	u->n++;
	return DM_OK;
}

static void
due_free(struct due *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		dm_free(u->ips[i]);
	dm_free(u->ips);
}

struct store_ctx {
	struct dm_dns *d;
	struct dm_store *s;
	struct dm_dns_enrich_stats *st;
	int64_t flushed_ms;
};

/*
 * Stores one answer; commits about every FLUSH_MS.  A failure before the
 * resolver ever answered says nothing about the IP (the resolver is down, or
 * the --resolver is wrong): it is not stored, so the IP stays due for the next
 * run instead of waiting out the failure TTL.
 */
static int
store_host(void *ctx, const struct dm_host *h, struct dm_error *err)
{
	struct store_ctx *c = ctx;

	if (h->error != NULL && c->d->answered == 0) {
		c->st->unanswered++;
		return DM_OK;
	}
	if (dm_store_host_put(c->s, h, err) != DM_OK)
		return err->code;
	c->st->looked_up++;
	c->st->ptr += h->ptr != NULL;
	c->st->confirmed += h->confirmed == 1;
	c->st->failed += h->error != NULL;
	if (dm_dns_clock_ms() - c->flushed_ms < FLUSH_MS)
		return DM_OK;
	c->flushed_ms = dm_dns_clock_ms();
	return dm_store_flush(c->s, err);
}

/* A host row whose service differs from what the services say now. */
struct change {
	char *ip;
	const struct dm_dns_service *svc;
};

struct changes {
	struct dm_dns *d;
	struct change *c;
	size_t n, cap;
};

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
note_change(void *ctx, const struct dm_host *h, struct dm_error *err)
{
	struct changes *cs = ctx;
	const struct dm_dns_service *svc = dm_dns_service(cs->d, h->ptr);

	if (same(svc ? svc->name : NULL, h->service) &&
	    same(svc ? svc->kind : NULL, h->kind))
		return DM_OK;
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 64;
		struct change *grown = dm_realloc(cs->c, cap * sizeof(*grown));

		if (grown == NULL)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
		cs->c = grown;
		cs->cap = cap;
	}
	if ((cs->c[cs->n].ip = dm_strdup(h->ip)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	cs->c[cs->n++].svc = svc;
	return DM_OK;
}

/* Brings every row's service and kind in line with the services now loaded.
 * The changes are gathered first: no row is written under a reading cursor. */
static int
reclassify(struct dm_dns *d, struct dm_store *s, struct dm_dns_enrich_stats *st,
    struct dm_error *err)
{
	struct changes cs = {d, NULL, 0, 0};
	size_t i;
	int rc = dm_store_hosts(s, note_change, &cs, err);

	for (i = 0; i < cs.n; i++) {
		const struct dm_dns_service *svc = cs.c[i].svc;

		if (rc == DM_OK)
			rc = dm_store_host_set_service(s, cs.c[i].ip,
			    svc ? svc->name : NULL, svc ? svc->kind : NULL,
			    err);
		dm_free(cs.c[i].ip);
	}
	dm_free(cs.c);
	if (rc == DM_OK)
		st->services = cs.n;
	return rc == DM_OK ? dm_store_flush(s, err) : rc;
}

int
dm_dns_enrich(struct dm_dns *d, struct dm_store *s,
    const struct dm_dns_enrich_options *opt, struct dm_dns_enrich_stats *stats,
    struct dm_error *err)
{
	struct store_ctx c = {d, s, stats, dm_dns_clock_ms()};
	struct due u = {NULL, 0, 0};
	int64_t deadline =
	    opt->budget_ms > 0 ? dm_dns_clock_ms() + opt->budget_ms : 0;
	size_t done = 0;
	int rc;

	memset(stats, 0, sizeof(*stats));
	rc = dm_store_hosts_due(
	    s, opt->now, opt->ttl, opt->fail_ttl, due_add, &u, err);
	if (rc == DM_OK) {
		stats->due = u.n;
		rc = dm_dns_lookup_hosts(d, (const char *const *)u.ips, u.n,
		    opt->now, deadline, store_host, &c, &done, err);
		stats->left = u.n - done + stats->unanswered;
	}
	if (rc == DM_OK)
		rc = dm_store_flush(s, err);
	if (rc == DM_OK)
		rc = reclassify(d, s, stats, err);
	due_free(&u);
	return rc;
}
