/*
 * resolver.c - the c-ares channel every lookup of dns/ goes through.
 *
 * One channel per handle, with our timeout, tries and resolver, and no
 * /etc/hosts ("lookups b"): a name in the local hosts file says nothing of
 * what the world sees.  Queries are asynchronous; the event loop is poll() on
 * the channel's sockets.  The blocking helpers used by the checks run the same
 * loop until their own reply arrives.  When the resolver never answered and
 * several queries already timed out, it is taken as unreachable and further
 * queries fail at once: a check of ten records then takes seconds, not a
 * minute.
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Timeouts without any reply after which the resolver is unreachable. */
#define UNREACHABLE_TIMEOUTS 3

/* The longest a wait lasts, so deadlines are seen in time. */
#define WAIT_CAP_MS 250

int64_t
dm_dns_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Port of "...:PORT" at s, 1-65535; -1 otherwise. */
static long
parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return v;
}

/* Splits "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT" into host and port. */
static int
split_resolver(const char *s, char *host, size_t size, long *port)
{
	const char *colon = strrchr(s, ':'), *close;
	size_t n;

	*port = 53;
	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return -1;
		n = (size_t)(close - s - 1);
		if (close[1] == ':' && (*port = parse_port(close + 2)) < 0)
			return -1;
		if (close[1] != '\0' && close[1] != ':')
			return -1;
		s++;
	} else if (colon != NULL && strchr(s, ':') == colon) {
		n = (size_t)(colon - s);
		if ((*port = parse_port(colon + 1)) < 0)
			return -1;
	} else
		n = strlen(s);
	if (n == 0 || n >= size)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* The resolver as c-ares's "host:port" list entry; DM_EINVAL when invalid. */
static int
resolver_csv(const char *s, char *out, size_t size, struct dm_error *err)
{
	char host[64];
	unsigned char addr[16];
	long port;

	if (split_resolver(s, host, sizeof(host), &port) == 0) {
		if (inet_pton(AF_INET, host, addr) == 1) {
			snprintf(out, size, "%s:%ld", host, port);
			return DM_OK;
		}
		if (inet_pton(AF_INET6, host, addr) == 1) {
			snprintf(out, size, "[%s]:%ld", host, port);
			return DM_OK;
		}
	}
	return dm_error_set(err, DM_EINVAL,
	    "resolver is not an IP address with an optional port (IP, "
	    "IP:PORT or [IPv6]:PORT): \"%s\"",
	    s);
}

int
dns_channel_open(
    struct dm_dns *d, const struct dm_dns_options *opt, struct dm_error *err)
{
	struct ares_options o;
	char csv[96];
	int rc;

	if (opt->resolver != NULL &&
	    resolver_csv(opt->resolver, csv, sizeof(csv), err) != DM_OK)
		return DM_EINVAL;
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		return dm_error_set(
		    err, DM_EIO, "c-ares: %s", ares_strerror(rc));
	memset(&o, 0, sizeof(o));
	o.timeout = d->timeout_ms;
	o.tries = d->tries;
	o.lookups = (char *)(uintptr_t) "b";
	rc = ares_init_options(
	    &d->ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
	if (rc == ARES_SUCCESS && opt->resolver != NULL)
		rc = ares_set_servers_ports_csv(d->ch, csv);
	if (rc != ARES_SUCCESS) {
		if (d->ch != NULL)
			ares_destroy(d->ch);
		d->ch = NULL;
		ares_library_cleanup();
		return dm_error_set(err, rc == ARES_ENOMEM ? DM_ENOMEM : DM_EIO,
		    "c-ares: %s", ares_strerror(rc));
	}
	return DM_OK;
}

void
dns_channel_close(struct dm_dns *d)
{
	if (d->ch == NULL)
		return;
	ares_destroy(d->ch);
	d->ch = NULL;
	ares_library_cleanup();
}

int
dns_status_failed(int status)
{
	return status != ARES_SUCCESS && status != ARES_ENOTFOUND &&
	       status != ARES_ENODATA;
}

const char *
dns_status_text(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return "answered";
	case ARES_ENOTFOUND:
		return "no such name";
	case ARES_ENODATA:
		return "no such record";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ESERVFAIL:
		return "server failure";
	case ARES_EREFUSED:
		return "refused";
	case ARES_ECONNREFUSED:
		return "connection refused";
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return "cancelled";
	case ARES_ENOMEM:
		return "out of memory";
	default:
		return ares_strerror(status);
	}
}

int
dns_unreachable(const struct dm_dns *d)
{
	return d->answered == 0 && d->timeouts >= UNREACHABLE_TIMEOUTS;
}

/* What a query in flight remembers. */
struct pending {
	struct dm_dns *d;
	dns_reply_cb cb;
	void *arg;
};

static void
on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct pending p = *(struct pending *)arg;

	(void)timeouts;
	dm_free(arg);
	p.d->pending--;
	if (status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED)
		p.d->timeouts++;
	else if (status == ARES_SUCCESS || status == ARES_ENOTFOUND ||
	         status == ARES_ENODATA || status == ARES_ESERVFAIL ||
	         status == ARES_EREFUSED)
		p.d->answered++;
	p.cb(p.arg, status, abuf, alen);
}

/* A pending record for a query, or NULL after failing cb. */
static struct pending *
pending_new(struct dm_dns *d, dns_reply_cb cb, void *arg)
{
	struct pending *p;

	if (dns_unreachable(d)) {
		cb(arg, ARES_ETIMEOUT, NULL, 0);
		return NULL;
	}
	if ((p = dm_malloc(sizeof(*p))) == NULL) {
		cb(arg, ARES_ENOMEM, NULL, 0);
		return NULL;
	}
	p->d = d;
	p->cb = cb;
	p->arg = arg;
	d->pending++;
	return p;
}

void
dns_query(
    struct dm_dns *d, const char *name, int type, dns_reply_cb cb, void *arg)
{
	struct pending *p = pending_new(d, cb, arg);

	if (p != NULL)
		ares_query(d->ch, name, ns_c_in, type, on_reply, p);
}

/* "4.3.2.1.in-addr.arpa" or the 32 nibbles of "ip6.arpa" (RFC 3596). */
static void
reverse_name(int family, const void *addr, char *out, size_t size)
{
	const unsigned char *a = addr;
	size_t o = 0;
	int i;

	if (family == AF_INET) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return;
	}
	for (i = 15; i >= 0 && o + 4 < size; i--)
		o += (size_t)snprintf(
		    out + o, size - o, "%x.%x.", a[i] & 0xf, a[i] >> 4);
	snprintf(out + o, size - o, "ip6.arpa");
}

void
dns_query_ptr(
    struct dm_dns *d, int family, const void *addr, dns_reply_cb cb, void *arg)
{
	char name[80];

	reverse_name(family, addr, name, sizeof(name));
	dns_query(d, name, ns_t_ptr, cb, arg);
}

void
dns_cancel(struct dm_dns *d)
{
	ares_cancel(d->ch);
}

/* Milliseconds poll() should wait: c-ares's next timeout, the cap, the
 * deadline. */
static int
wait_ms(struct dm_dns *d, int64_t deadline_ms)
{
	struct timeval cap = {0, WAIT_CAP_MS * 1000}, tv, *tvp;
	int64_t ms;

	tvp = ares_timeout(d->ch, &cap, &tv);
	ms = (int64_t)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
	if (deadline_ms > 0 && deadline_ms - dm_dns_clock_ms() < ms)
		ms = deadline_ms - dm_dns_clock_ms();
	return ms < 0 ? 0 : (int)ms;
}

void
dns_wait_once(struct dm_dns *d, int64_t deadline_ms)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	/* Unsigned: c-ares's ARES_GETSOCK_WRITABLE shifts 1 into the sign bit
	 * of an int for the sixteenth socket. */
	unsigned bits =
	    (unsigned)ares_getsock(d->ch, socks, ARES_GETSOCK_MAXNUM);
	int i, n = 0, ready;

	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = (short)(((bits & (1u << i)) ? POLLIN : 0) |
		                   ((bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
		                           ? POLLOUT
		                           : 0));

		if (ev == 0)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = ev;
		pfd[n++].revents = 0;
	}
	ready = poll(pfd, (nfds_t)n, wait_ms(d, deadline_ms));
	if (ready <= 0) {
		/* Nothing came: let c-ares retry or expire what is late. */
		ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		return;
	}
	for (i = 0; i < n; i++) {
		short r = pfd[i].revents;

		if (r == 0)
			continue;
		ares_process_fd(d->ch,
		    (r & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd
		                                       : ARES_SOCKET_BAD,
		    (r & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
	}
}

static void
keep_reply(void *arg, int status, const unsigned char *abuf, int alen)
{
	struct dns_reply *r = arg;

	r->status = status;
	r->done = 1;
	if (status != ARES_SUCCESS || abuf == NULL || alen <= 0)
		return;
	if ((r->abuf = dm_malloc((size_t)alen)) == NULL) {
		r->status = ARES_ENOMEM;
		return;
	}
	memcpy(r->abuf, abuf, (size_t)alen);
	r->alen = alen;
}

void
dns_query_wait(
    struct dm_dns *d, const char *name, int type, struct dns_reply *r)
{
	memset(r, 0, sizeof(*r));
	dns_query(d, name, type, keep_reply, r);
	while (!r->done)
		dns_wait_once(d, 0);
}

void
dns_reply_free(struct dns_reply *r)
{
	dm_free(r->abuf);
	r->abuf = NULL;
}

/* Appends one chunk to the record being joined; -1 on allocation failure. */
static int
txt_append(struct dns_txt *t, const struct ares_txt_ext *c)
{
	char **recs, *joined;
	size_t old = 0;

	if (c->record_start || t->n == 0) {
		recs = dm_realloc(t->recs, (t->n + 1) * sizeof(*recs));
		if (recs == NULL)
			return -1;
		t->recs = recs;
		t->recs[t->n++] = NULL;
	} else
		old = strlen(t->recs[t->n - 1]);
	joined = dm_realloc(t->recs[t->n - 1], old + c->length + 1);
	if (joined == NULL)
		return -1;
	memcpy(joined + old, c->txt, c->length);
	joined[old + c->length] = '\0';
	t->recs[t->n - 1] = joined;
	return 0;
}

int
dns_txt_parse(const unsigned char *abuf, int alen, struct dns_txt *t)
{
	struct ares_txt_ext *chunks = NULL, *c;
	int rc = DM_OK;

	memset(t, 0, sizeof(*t));
	t->status = ares_parse_txt_reply_ext(abuf, alen, &chunks);
	for (c = chunks; c != NULL && rc == DM_OK; c = c->next) {
		if (txt_append(t, c) != 0)
			rc = DM_ENOMEM;
	}
	ares_free_data(chunks);
	if (t->status == ARES_SUCCESS && t->n == 0)
		t->status = ARES_ENODATA;
	return rc;
}

int
dns_txt(struct dm_dns *d, const char *name, struct dns_txt *t)
{
	struct dns_reply r;
	int rc = DM_OK;

	memset(t, 0, sizeof(*t));
	dns_query_wait(d, name, ns_t_txt, &r);
	if (r.status == ARES_SUCCESS)
		rc = dns_txt_parse(r.abuf, r.alen, t);
	else
		t->status = r.status;
	dns_reply_free(&r);
	return rc;
}

void
dns_txt_free(struct dns_txt *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		dm_free(t->recs[i]);
	dm_free(t->recs);
	t->recs = NULL;
	t->n = 0;
}
