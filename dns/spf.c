/*
 * spf.c - SPF through libspf2, over our own c-ares channel.
 *
 * libspf2 has no option for a DNS server (its resolver layer keeps a hidden
 * res_state read from /etc/resolv.conf, which cannot even hold a port), but its
 * DNS layer is a public struct of callbacks: ours answers each lookup with a
 * blocking query on the handle's channel, so every SPF lookup honours
 * --resolver, our timeouts and our unreachable-resolver rule.  The SPF type
 * (99) is answered "no data" without asking: RFC 7208 section 3.1 retired it.
 *
 * libspf2 evaluates (a real evaluator, with macros, include, redirect, exp=),
 * but does not apply RFC 7208's limit of 10 DNS-querying terms across include:
 * (each include starts a fresh count), so the count is ours: spf_tree_read()
 * reads the record and every record it includes or redirects to, adds up
 * libspf2's own per-record count of DNS-querying mechanisms, and notes each
 * include, so a check can say whether an ESP's include is there.
 */
/* glibc declares the h_errno codes libspf2's DNS layer speaks (NO_DATA,
 * TRY_AGAIN...) only for BSD/SVID programs. */
#define _DEFAULT_SOURCE 1

#include "dns_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Records read for one tree at most: a loop or a huge tree stops here. */
#define TREE_MAX_RECORDS 40

/* A, AAAA, MX or PTR answers kept per lookup; libspf2 caps MX and PTR at 10.
 */
#define MAX_RR 64

struct spf_ctx {
	SPF_server_t *server;
	SPF_dns_server_t layer;
};

static SPF_dns_stat_t
herrno_of(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return NETDB_SUCCESS;
	case ARES_ENOTFOUND:
		return HOST_NOT_FOUND;
	case ARES_ENODATA:
		return NO_DATA;
	default:
		return TRY_AGAIN;
	}
}

/* Copies n bytes at p as answer i; -1 on allocation failure. */
static int
rr_put(SPF_dns_rr_t *rr, int i, const void *p, size_t n)
{
	if (SPF_dns_rr_buf_realloc(rr, i, n) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[i], p, n);
	rr->num_rr = i + 1;
	return 0;
}

static int
fill_a(SPF_dns_rr_t *rr, const unsigned char *abuf, int alen)
{
	struct ares_addrttl a[MAX_RR];
	int n = MAX_RR, i;

	if (ares_parse_a_reply(abuf, alen, NULL, a, &n) != ARES_SUCCESS)
		return 0;
	for (i = 0; i < n; i++) {
		if (rr_put(rr, i, &a[i].ipaddr, sizeof(a[i].ipaddr)) != 0)
			return -1;
	}
	return 0;
}

static int
fill_aaaa(SPF_dns_rr_t *rr, const unsigned char *abuf, int alen)
{
	struct ares_addr6ttl a[MAX_RR];
	int n = MAX_RR, i;

	if (ares_parse_aaaa_reply(abuf, alen, NULL, a, &n) != ARES_SUCCESS)
		return 0;
	for (i = 0; i < n; i++) {
		if (rr_put(rr, i, &a[i].ip6addr, sizeof(a[i].ip6addr)) != 0)
			return -1;
	}
	return 0;
}

static int
fill_mx(SPF_dns_rr_t *rr, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *mx = NULL, *m;
	int i = 0, rc = 0;

	if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS)
		return 0;
	for (m = mx; m != NULL && i < MAX_RR && rc == 0; m = m->next, i++)
		rc = rr_put(rr, i, m->host, strlen(m->host) + 1);
	ares_free_data(mx);
	return rc;
}

static int
fill_ptr(SPF_dns_rr_t *rr, const unsigned char *abuf, int alen)
{
	static const unsigned char any[4];
	struct hostent *he = NULL;
	int i, rc;

	if (ares_parse_ptr_reply(abuf, alen, any, 4, AF_INET, &he) !=
	    ARES_SUCCESS)
		return 0;
	rc = rr_put(rr, 0, he->h_name, strlen(he->h_name) + 1);
	for (i = 0; rc == 0 && he->h_aliases[i] != NULL && i + 1 < MAX_RR; i++)
		rc = rr_put(
		    rr, i + 1, he->h_aliases[i], strlen(he->h_aliases[i]) + 1);
	ares_free_hostent(he);
	return rc;
}

static int
fill_txt(SPF_dns_rr_t *rr, const unsigned char *abuf, int alen)
{
	struct dns_txt t;
	size_t i;
	int rc = dns_txt_parse(abuf, alen, &t) == DM_OK ? 0 : -1;

	for (i = 0; rc == 0 && i < t.n && i < MAX_RR; i++)
		rc = rr_put(rr, (int)i, t.recs[i], strlen(t.recs[i]) + 1);
	dns_txt_free(&t);
	return rc;
}

static int
fill(SPF_dns_rr_t *rr, ns_type type, const unsigned char *abuf, int alen)
{
	switch (type) {
	case ns_t_a:
		return fill_a(rr, abuf, alen);
	case ns_t_aaaa:
		return fill_aaaa(rr, abuf, alen);
	case ns_t_mx:
		return fill_mx(rr, abuf, alen);
	case ns_t_ptr:
		return fill_ptr(rr, abuf, alen);
	case ns_t_txt:
		return fill_txt(rr, abuf, alen);
	default:
		return 0;
	}
}

/* libspf2's lookup callback: one blocking query on our channel. */
static SPF_dns_rr_t *
layer_lookup(
    SPF_dns_server_t *layer, const char *domain, ns_type type, int should_cache)
{
	struct dm_dns *d = layer->hook;
	struct dns_reply r;
	SPF_dns_rr_t *rr;

	(void)should_cache;
	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	dns_query_wait(d, domain, type, &r);
	rr = SPF_dns_rr_new_init(layer, domain, type, 0, herrno_of(r.status));
	if (rr != NULL && r.status == ARES_SUCCESS) {
		if (fill(rr, type, r.abuf, r.alen) != 0)
			rr->herrno = TRY_AGAIN;
		else if (rr->num_rr == 0)
			rr->herrno = NO_DATA;
	}
	dns_reply_free(&r);
	return rr;
}

void
spf_free(struct spf_ctx *s)
{
	if (s == NULL)
		return;
	if (s->server != NULL)
		SPF_server_free(s->server);
	dm_free(s);
}

/* The libspf2 server of d, made on first use; NULL when out of memory. */
static SPF_server_t *
server_of(struct dm_dns *d)
{
	struct spf_ctx *s = d->spf;

	if (s != NULL)
		return s->server;
	if ((s = dm_calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* libspf2 prints warnings and notes on stderr by default: ours are
	 * the check's items. */
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	s->layer.lookup = layer_lookup;
	s->layer.name = "dmarcstat";
	s->layer.hook = d;
	/* No destroy callback: the layer lives in s, freed by spf_free. */
	if ((s->server = SPF_server_new_dns(&s->layer, 0)) == NULL) {
		dm_free(s);
		return NULL;
	}
	d->spf = s;
	return s->server;
}

const char *
spf_evaluate(struct dm_dns *d, const char *ip, const char *domain, char *why,
    size_t size)
{
	SPF_server_t *server = server_of(d);
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	const char *result = NULL;
	SPF_errcode_t e;

	why[0] = '\0';
	if (server == NULL || (req = SPF_request_new(server)) == NULL)
		return NULL;
	e = strchr(ip, ':') != NULL ? SPF_request_set_ipv6_str(req, ip)
	                            : SPF_request_set_ipv4_str(req, ip);
	if (e == SPF_E_SUCCESS)
		e = SPF_request_set_helo_dom(req, domain);
	if (e == SPF_E_SUCCESS)
		e = SPF_request_set_env_from(req, domain);
	if (e == SPF_E_SUCCESS) {
		SPF_request_query_mailfrom(req, &resp);
		if (resp != NULL) {
			result = SPF_strresult(SPF_response_result(resp));
			e = SPF_response_errcode(resp);
		}
	}
	if (e != SPF_E_SUCCESS)
		snprintf(why, size, "%s", SPF_strerror(e));
	SPF_response_free(resp);
	SPF_request_free(req);
	return result;
}

/* ---- The record tree ---- */

/* 1 when txt is an SPF record: "v=spf1" then a space or the end. */
static int
is_spf(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 &&
	       (txt[6] == ' ' || txt[6] == '\0');
}

static int tree_note(struct spf_tree *t, const char *fmt, ...) DM_PRINTF(2, 3);

/* Keeps the first problem of the tree. */
static int
tree_note(struct spf_tree *t, const char *fmt, ...)
{
	va_list ap;

	if (t->problem != NULL)
		return DM_OK;
	if ((t->problem = dm_malloc(512)) == NULL)
		return DM_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(t->problem, 512, fmt, ap);
	va_end(ap);
	return DM_OK;
}

/* libspf2's complaints about a record, "; "-separated; NULL when none. */
static char *
compile_errors(SPF_response_t *resp)
{
	struct dm_buf b;
	int i;

	dm_buf_init(&b, 4096);
	for (i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *e = SPF_response_message(resp, i);

		if (!SPF_error_errorp(e))
			continue;
		if (b.len > 0)
			dm_buf_adds(&b, "; ");
		dm_buf_adds(&b, SPF_error_message(e));
	}
	if (b.len == 0) {
		dm_buf_free(&b);
		return NULL;
	}
	return dm_buf_take(&b);
}

/* Compiles text: its DNS-querying terms, or -1 with *errors set. */
static int
compile(SPF_server_t *server, const char *text, char **errors)
{
	SPF_response_t *resp = SPF_response_new(NULL);
	SPF_record_t *rec = NULL;
	SPF_errcode_t e;
	int n = -1;

	*errors = NULL;
	if (resp == NULL)
		return -1;
	e = SPF_record_compile(server, resp, &rec, text);
	if (e == SPF_E_SUCCESS && rec != NULL)
		n = rec->num_dns_mech;
	else if ((*errors = compile_errors(resp)) == NULL)
		*errors = dm_strdup(SPF_strerror(e));
	SPF_record_free(rec);
	SPF_response_free(resp);
	return n;
}

static int
seen(const struct spf_tree *t, const char *domain)
{
	size_t i;

	for (i = 0; i < t->n_visited; i++) {
		if (strcasecmp(t->visited[i], domain) == 0)
			return 1;
	}
	return 0;
}

static int
list_add(char ***list, size_t *n, const char *s, size_t len)
{
	char **grown = dm_realloc(*list, (*n + 1) * sizeof(*grown));
	char *copy;
	size_t i;

	if (grown == NULL)
		return DM_ENOMEM;
	*list = grown;
	if ((copy = dm_strndup(s, len)) == NULL)
		return DM_ENOMEM;
	for (i = 0; i < len; i++) {
		if (copy[i] >= 'A' && copy[i] <= 'Z')
			copy[i] = (char)(copy[i] - 'A' + 'a');
	}
	(*list)[(*n)++] = copy;
	return DM_OK;
}

static int walk(
    struct dm_dns *d, struct spf_tree *t, const char *domain, int top);

/*
 * Follows the include: and redirect= targets of a record's text.  A
 * redirect= is ignored when the record has an "all" (RFC 7208 section 6.1).
 * Targets with macros (%{...}) are noted but not followed: they name a
 * different record for each sender.
 */
static int
follow_terms(struct dm_dns *d, struct spf_tree *t, const char *text)
{
	const char *p = text + 6, *redirect = NULL;
	size_t first = t->n_includes, redirect_len = 0, i;
	int has_all = 0, rc = DM_OK;

	while (rc == DM_OK && *(p += strspn(p, " ")) != '\0') {
		size_t len = strcspn(p, " ");
		const char *term = p + (strchr("+-~?", *p) != NULL);
		size_t tl = len - (size_t)(term - p);

		if (tl == 3 && strncasecmp(term, "all", 3) == 0)
			has_all = 1;
		else if (tl > 8 && strncasecmp(term, "include:", 8) == 0)
			rc = list_add(
			    &t->includes, &t->n_includes, term + 8, tl - 8);
		else if (tl > 9 && term == p &&
		         strncasecmp(term, "redirect=", 9) == 0) {
			redirect = term + 9;
			redirect_len = tl - 9;
		}
		p += len;
	}
	if (rc == DM_OK && redirect != NULL && !has_all)
		rc = list_add(
		    &t->includes, &t->n_includes, redirect, redirect_len);
	for (i = first; i < t->n_includes && rc == DM_OK; i++) {
		if (strchr(t->includes[i], '%') == NULL)
			rc = walk(d, t, t->includes[i], 0);
	}
	return rc;
}

/* Picks the one SPF record among TXT records; notes a problem otherwise. */
static int
pick_record(struct spf_tree *t, const char *domain, struct dns_txt *txt,
    int top, const char **rec)
{
	size_t i, n = 0;

	*rec = NULL;
	for (i = 0; i < txt->n; i++) {
		if (is_spf(txt->recs[i])) {
			*rec = txt->recs[i];
			n++;
		}
	}
	if (top)
		t->n_records = (int)n;
	if (n == 1)
		return DM_OK;
	*rec = NULL;
	if (top)
		return DM_OK;
	if (n == 0)
		return tree_note(t,
		    "include:%s has no SPF record (permerror for every IP "
		    "evaluated up to it)",
		    domain);
	return tree_note(
	    t, "include:%s has %zu SPF records (permerror)", domain, n);
}

/* Reads domain's record and, recursively, what it includes. */
static int
walk(struct dm_dns *d, struct spf_tree *t, const char *domain, int top)
{
	struct dns_txt txt;
	const char *rec = NULL;
	char *errors = NULL;
	int rc, n;

	if (seen(t, domain) || t->n_visited >= TREE_MAX_RECORDS)
		return DM_OK;
	if ((rc = list_add(&t->visited, &t->n_visited, domain,
	         strlen(domain))) != DM_OK ||
	    (rc = dns_txt(d, domain, &txt)) != DM_OK) {
		dns_txt_free(&txt);
		return rc;
	}
	if (top)
		t->status = txt.status;
	if (dns_status_failed(txt.status))
		t->dns_failed = 1;
	else
		rc = pick_record(t, domain, &txt, top, &rec);
	if (rc == DM_OK && !dns_status_failed(txt.status) && rec != NULL) {
		n = compile(server_of(d), rec, &errors);
		if (top && (t->record = dm_strdup(rec)) == NULL)
			rc = DM_ENOMEM;
		if (n >= 0)
			t->lookups += n;
		if (top)
			t->syntax = errors;
		else if (errors != NULL)
			rc = tree_note(t, "include:%s: %s", domain, errors);
		if (!top)
			dm_free(errors);
		if (rc == DM_OK)
			rc = follow_terms(d, t, rec);
	}
	dns_txt_free(&txt);
	return rc;
}

int
spf_tree_read(struct dm_dns *d, const char *domain, struct spf_tree *t)
{
	memset(t, 0, sizeof(*t));
	if (server_of(d) == NULL)
		return DM_ENOMEM;
	return walk(d, t, domain, 1);
}

int
spf_tree_includes(const struct spf_tree *t, const char *domain)
{
	size_t i;

	for (i = 0; i < t->n_includes; i++) {
		if (strcasecmp(t->includes[i], domain) == 0)
			return 1;
	}
	return 0;
}

void
spf_tree_free(struct spf_tree *t)
{
	size_t i;

	for (i = 0; i < t->n_includes; i++)
		dm_free(t->includes[i]);
	for (i = 0; i < t->n_visited; i++)
		dm_free(t->visited[i]);
	dm_free(t->includes);
	dm_free(t->visited);
	dm_free(t->record);
	dm_free(t->syntax);
	dm_free(t->problem);
	memset(t, 0, sizeof(*t));
}
