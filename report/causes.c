/*
 * causes.c - why a record failed DMARC, and what to do about it.
 *
 * One table of rules, tried in order; the first that matches names the cause.
 * The order is the order in which a postmaster should look: mail that passed
 * and was blocked anyway, a plain pass, then the receiver's own reasons
 * (forwarding explains every failure after it), DNS errors (nothing else can
 * be judged while DNS fails), then the domain's own broken DKIM signature,
 * the alignment problems typical of an ESP, and plain failures.  Each cause
 * has a writer for its explanation and fix.  Pure functions: no database,
 * and no I/O but the public suffix list, read once.
 */
#include "report.h"

#include "hash.h"
#include "i18n.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * The organisational domain is RFC 7489 section 3.2's: the public suffix
 * that matches the most labels, plus one label, from the Public Suffix List
 * (libpsl: the newer of its built-in list and Debian's, as dns/ takes it for
 * base_domain).  The whole list counts, its private section too: github.io
 * or blogspot.com are "reserved for registrations" as much as co.jp, and
 * their users are distinct organisations, so a.github.io and b.github.io are
 * not aligned.  A receiver using DMARC's newer DNS tree walk (its reports
 * say discovery_method treewalk) may draw the line elsewhere; DNS alone
 * knows, not the report (README "Causes").
 */
static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void
psl_load(void)
{
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

/* An address literal ("192.0.2.1", "[2001:db8::1]") is its own domain:
 * libpsl would call "192.0.2.1" a name under "1". */
static int
is_ip_literal(const char *s)
{
	unsigned char addr[16];
	size_t n = strlen(s);

	if (n == 0 || (!isdigit((unsigned char)s[n - 1]) &&
	                  strchr(s, ':') == NULL && s[0] != '['))
		return 0;
	return inet_pton(AF_INET, s, addr) == 1 ||
	       inet_pton(AF_INET6, s, addr) == 1 || s[0] == '[';
}

/*
 * The organisational domains found last, direct-mapped by the name's hash:
 * a report asks for the same few domains on every failing row (the From
 * domain, its ESP's), and a hit is a hash and a compare instead of libpsl's
 * walk of every suffix (with 64 slots, colliding names still sent 2 % of a
 * report to libpsl).  A table that cannot chain cannot be made slow; one per
 * thread (128 KiB), so the function stays safe to call from any.
 */
#define ORG_CACHE 256
#define ORG_NAME_MAX 256

struct org_slot {
	char name[ORG_NAME_MAX];
	char org[ORG_NAME_MAX];
};

static _Thread_local struct org_slot org_cache[ORG_CACHE];

static const char *
org_domain_psl(const char *domain, char *out, size_t size)
{
	const char *reg;
	size_t len, i;

	if (size == 0)
		return out;
	out[0] = '\0';
	if (domain == NULL)
		return out;
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--; /* a trailing dot names the same domain */
	if (len >= size)
		len = size - 1;
	/* libpsl compares bytes: ASCII lower case, UTF-8 as given. */
	for (i = 0; i < len; i++)
		out[i] = (char)(domain[i] >= 'A' && domain[i] <= 'Z'
		                    ? domain[i] - 'A' + 'a'
		                    : domain[i]);
	out[len] = '\0';
	if (len == 0 || is_ip_literal(out))
		return out;
	pthread_once(&psl_once, psl_load);
	/* NULL: the name is a public suffix itself (co.jp, localhost). */
	if ((reg = psl_registrable_domain(psl, out)) != NULL && reg != out)
		memmove(out, reg, strlen(reg) + 1);
	return out;
}

const char *
dm_org_domain(const char *domain, char *out, size_t size)
{
	struct org_slot *slot;
	size_t len;

	if (domain == NULL || size < ORG_NAME_MAX ||
	    (len = strlen(domain)) >= ORG_NAME_MAX)
		return org_domain_psl(domain, out, size);
	slot = &org_cache[dm_hash_str(domain) % ORG_CACHE];
	if (slot->name[0] == '\0' || strcmp(slot->name, domain) != 0) {
		org_domain_psl(domain, slot->org, sizeof(slot->org));
		memcpy(slot->name, domain, len + 1);
	}
	memcpy(out, slot->org, strlen(slot->org) + 1);
	return out;
}

int
dm_domains_aligned(const char *a, const char *b, int strict)
{
	char oa[ORG_NAME_MAX], ob[ORG_NAME_MAX];

	if (a == NULL || b == NULL || a[0] == '\0' || b[0] == '\0')
		return 0;
	if (strict)
		return strcasecmp(a, b) == 0;
	return strcasecmp(dm_org_domain(a, oa, sizeof(oa)),
	           dm_org_domain(b, ob, sizeof(ob))) == 0;
}

static int
is(const char *s, const char *word)
{
	return s != NULL && strcasecmp(s, word) == 0;
}

static int
strict(const char *mode)
{
	return is(mode, "s");
}

/* ---- Facts about the evidence, each a small predicate ---- */

static const struct dm_reason *
find_reason(const struct dm_evidence *ev, const char *const *types)
{
	size_t i, j;

	for (i = 0; i < ev->n_reasons; i++) {
		for (j = 0; types[j] != NULL; j++) {
			if (is(ev->reasons[i].type, types[j]))
				return &ev->reasons[i];
		}
	}
	return NULL;
}

/* The first DKIM result with the given result whose alignment is aligned (0/1),
 * or NULL. */
static const struct dm_dkim_result *
find_dkim(const struct dm_evidence *ev, const char *result, int aligned)
{
	size_t i;

	for (i = 0; i < ev->n_dkim; i++) {
		const struct dm_dkim_result *d = &ev->dkim_results[i];

		if ((result == NULL || is(d->result, result)) &&
		    dm_domains_aligned(d->domain, ev->header_from,
		        strict(ev->adkim)) == aligned)
			return d;
	}
	return NULL;
}

static const struct dm_spf_result *
find_spf(const struct dm_evidence *ev, const char *result, int aligned)
{
	size_t i;

	for (i = 0; i < ev->n_spf; i++) {
		const struct dm_spf_result *s = &ev->spf_results[i];

		if ((result == NULL || is(s->result, result)) &&
		    dm_domains_aligned(s->domain, ev->header_from,
		        strict(ev->aspf)) == aligned)
			return s;
	}
	return NULL;
}

static const char *
any_result(const struct dm_evidence *ev, const char *result)
{
	const struct dm_dkim_result *d;
	const struct dm_spf_result *s;

	if ((s = find_spf(ev, result, 1)) != NULL ||
	    (s = find_spf(ev, result, 0)) != NULL)
		return s->domain != NULL ? s->domain : "";
	if ((d = find_dkim(ev, result, 1)) != NULL ||
	    (d = find_dkim(ev, result, 0)) != NULL)
		return d->domain != NULL ? d->domain : "";
	return NULL;
}

static int
dkim_present(const struct dm_evidence *ev)
{
	size_t i;

	for (i = 0; i < ev->n_dkim; i++) {
		if (!is(ev->dkim_results[i].result, "none"))
			return 1;
	}
	return 0;
}

/* ---- The rules: each returns 1 on a match and may name the domain involved */

static int
dmarc_passed(const struct dm_evidence *ev)
{
	return is(ev->dkim, "pass") || is(ev->spf, "pass");
}

static int
blocked(const struct dm_evidence *ev)
{
	return is(ev->disposition, "quarantine") ||
	       is(ev->disposition, "reject");
}

/* An override reason of the receiver's own, or NULL. */
static const struct dm_reason *
override_reason(const struct dm_evidence *ev)
{
	static const char *const types[] = {
	    "local_policy", "sampled_out", "other", NULL};

	return find_reason(ev, types);
}

static int
r_blocked_pass(const struct dm_evidence *ev, const char **dom)
{
	*dom = ev->header_from;
	return dmarc_passed(ev) && blocked(ev);
}

static int
r_pass(const struct dm_evidence *ev, const char **dom)
{
	*dom = ev->header_from;
	return dmarc_passed(ev);
}

/* The comment of a reason, or NULL when there is none. */
static const char *
comment_of(const struct dm_reason *r)
{
	return r != NULL && r->comment != NULL && r->comment[0] != '\0'
	           ? r->comment
	           : NULL;
}

static const char *const forward_types[] = {
    "forwarded", "trusted_forwarder", NULL};

static const char *relay_domain(const struct dm_evidence *ev);

/* The ISP says so, or the source is a known forwarder. */
static int
r_forwarded(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_reason *r = find_reason(ev, forward_types);

	*dom = r != NULL ? comment_of(r) : relay_domain(ev);
	return r != NULL || ev->service == DM_SERVICE_FORWARDER;
}

/* The first DKIM or SPF domain that passed without being aligned: the
 * relay's own. */
static const char *
relay_domain(const struct dm_evidence *ev)
{
	const struct dm_dkim_result *d = find_dkim(ev, "pass", 0);
	const struct dm_spf_result *s = find_spf(ev, "pass", 0);

	if (d != NULL && d->domain != NULL && d->domain[0] != '\0')
		return d->domain;
	return s != NULL && s->domain != NULL && s->domain[0] != '\0'
	           ? s->domain
	           : NULL;
}

static int
r_mailing_list(const struct dm_evidence *ev, const char **dom)
{
	static const char *const types[] = {"mailing_list", NULL};
	const struct dm_reason *r = find_reason(ev, types);

	if (r == NULL && ev->service != DM_SERVICE_LIST)
		return 0;
	*dom = r != NULL && comment_of(r) != NULL ? comment_of(r)
	                                          : relay_domain(ev);
	return 1;
}

static int
r_override(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_reason *r = override_reason(ev);

	*dom = r != NULL ? r->type : NULL;
	return r != NULL && blocked(ev);
}

static int
r_temperror(const struct dm_evidence *ev, const char **dom)
{
	return (*dom = any_result(ev, "temperror")) != NULL;
}

static int
r_permerror(const struct dm_evidence *ev, const char **dom)
{
	return (*dom = any_result(ev, "permerror")) != NULL;
}

/* An aligned DKIM result that is neither pass nor none: the domain's own
 * signature broke. */
static const struct dm_dkim_result *
own_dkim_failure(const struct dm_evidence *ev)
{
	size_t i;

	for (i = 0; i < ev->n_dkim; i++) {
		const struct dm_dkim_result *d = &ev->dkim_results[i];

		if (!is(d->result, "pass") && !is(d->result, "none") &&
		    dm_domains_aligned(
		        d->domain, ev->header_from, strict(ev->adkim)))
			return d;
	}
	return NULL;
}

/*
 * The domain's own signature fails while another domain's passes: a list or
 * forwarder that changed the message, or an ESP signing with a key the domain
 * has not published.  Only a known source settles which.
 */
static int
r_list_or_esp(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_dkim_result *d = find_dkim(ev, "pass", 0);

	*dom = d != NULL ? d->domain : NULL;
	return ev->service == DM_SERVICE_UNKNOWN && d != NULL &&
	       own_dkim_failure(ev) != NULL;
}

static int
r_dkim_fail(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_dkim_result *d = own_dkim_failure(ev);

	*dom = d != NULL ? d->domain : NULL;
	return d != NULL;
}

static int
r_esp(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_spf_result *s = find_spf(ev, "pass", 0);

	*dom = s != NULL ? s->domain : NULL;
	return s != NULL && find_dkim(ev, "pass", 0) != NULL;
}

static int
r_spf_unaligned(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_spf_result *s = find_spf(ev, "pass", 0);

	*dom = s != NULL ? s->domain : NULL;
	return s != NULL;
}

static int
r_spf_fail(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_spf_result *s;

	if ((s = find_spf(ev, "fail", 1)) == NULL &&
	    (s = find_spf(ev, "softfail", 1)) == NULL &&
	    (s = find_spf(ev, "fail", 0)) == NULL &&
	    (s = find_spf(ev, "softfail", 0)) == NULL)
		return 0;
	*dom = s->domain;
	return 1;
}

static int
r_dkim_unaligned(const struct dm_evidence *ev, const char **dom)
{
	const struct dm_dkim_result *d = find_dkim(ev, "pass", 0);

	*dom = d != NULL ? d->domain : NULL;
	return d != NULL;
}

static int
r_no_dkim(const struct dm_evidence *ev, const char **dom)
{
	*dom = ev->header_from;
	return !dkim_present(ev);
}

static int
r_unknown(const struct dm_evidence *ev, const char **dom)
{
	(void)ev;
	*dom = NULL;
	return 1;
}

/* ---- Explanations and fixes ---- */

/* Room for a domain or selector of a report (cut to 255 characters by the
 * queries, 4 bytes each at most) in a phrase. */
#define DM_TEXT_WORDS (4 * 255 + 128)

struct text {
	struct dm_buf *why, *fix;
	const struct dm_evidence *ev;
	const char *dom, *from;
	int rc;
};

static void put(struct text *t, struct dm_buf *b, const char *fmt, ...)
    DM_PRINTF(3, 4);

static void
put(struct text *t, struct dm_buf *b, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	int n;

	if (b == NULL || t->rc != DM_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		t->rc = DM_EINVAL;
	else if ((size_t)n < sizeof(small))
		t->rc = dm_buf_add(b, small, (size_t)n);
	else {
		char *big = dm_malloc((size_t)n + 1);

		if (big == NULL) {
			t->rc = DM_ENOMEM;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		t->rc = dm_buf_add(b, big, (size_t)n);
		dm_free(big);
	}
}

/* The source IP for a command line, or a placeholder. */
static const char *
ip_or_placeholder(const char *ip)
{
	return ip != NULL && ip[0] != '\0' ? ip : "ADDRESS";
}

static const char *
or_q(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "?";
}

/* "quarantined" or "rejected", from the disposition. */
static const char *
blocked_word(const struct dm_evidence *ev)
{
	return is(ev->disposition, "reject") ? _("rejected") : _("quarantined");
}

static void
x_pass(struct text *t)
{
	put(t, t->why,
	    _("DMARC passed: DKIM or SPF authenticated the From domain %s."),
	    t->from);
	put(t, t->fix, _("Nothing to fix."));
}

static void
x_blocked_pass(struct text *t)
{
	put(t, t->why,
	    _("DMARC passed (DKIM or SPF authenticated %s), yet the receiving "
	      "ISP %s the mail: it applied its own policy (the reputation of "
	      "the "
	      "IP or the domain, the content, the volume, complaints or a "
	      "block "
	      "list), not DMARC."),
	    t->from, blocked_word(t->ev));
	put(t, t->fix,
	    _("Authentication is in order; nothing to change in DNS. Check the "
	      "IP and the domain against the ISP's block lists and reputation "
	      "tools, then ask the ISP's postmaster or sender-support desk to "
	      "review the filtering, with the figures of its own reports "
	      "(dmarcstat explain --ip %s --reporter ISP --letter writes that "
	      "request)."),
	    ip_or_placeholder(t->ev->source_ip));
}

/* " (NAME)" of a known source, or "" */
static const char *
service_words(const struct dm_evidence *ev, char *buf, size_t size)
{
	if (ev->service_name == NULL)
		return "";
	snprintf(buf, size, " (%s)", ev->service_name);
	return buf;
}

static void
x_forwarded(struct text *t)
{
	char name[DM_TEXT_WORDS];

	if (find_reason(t->ev, forward_types) == NULL)
		put(t, t->why,
		    _("The sending server is a known forwarder%s%s%s, so the "
		      "message was forwarded."),
		    service_words(t->ev, name, sizeof(name)),
		    t->dom != NULL ? _(", authenticating as ") : "",
		    t->dom != NULL ? t->dom : "");
	else
		put(t, t->why,
		    _("The receiving ISP says the message was "
		      "forwarded%s%s%s."),
		    t->dom != NULL ? " (" : "", t->dom != NULL ? t->dom : "",
		    t->dom != NULL ? ")" : "");
	put(t, t->why,
	    _(" Forwarding sends it from another "
	      "server, so SPF fails, and DKIM fails when the forwarder changes "
	      "the message."));
	put(t, t->fix,
	    _("Nothing to fix on your side. Sign all mail with DKIM as %s: an "
	      "unchanged DKIM "
	      "signature survives forwarding."),
	    t->from);
}

static void
x_mailing_list(struct text *t)
{
	put(t, t->why,
	    _("A mailing list%s%s%s relayed the message and changed it "
	      "(subject "
	      "tag or footer), which breaks the DKIM signature of %s; SPF "
	      "checked "
	      "the list's server, not yours."),
	    t->dom != NULL ? " (" : "", t->dom != NULL ? t->dom : "",
	    t->dom != NULL ? ")" : "", t->from);
	put(t, t->fix,
	    _("Nothing to fix in your DNS; the list should rewrite the From "
	      "address or sign with ARC."));
}

static void
x_override(struct text *t)
{
	put(t, t->why,
	    _("The receiving ISP applied its own policy (%s) and %s the mail "
	      "instead of following your DMARC policy."),
	    t->dom, blocked_word(t->ev));
	put(t, t->fix,
	    _("Nothing to fix in DNS; ask the ISP's postmaster why the mail "
	      "was "
	      "blocked (dmarcstat explain --ip %s --reporter ISP --letter "
	      "writes that request)."),
	    ip_or_placeholder(t->ev->source_ip));
}

static void
x_temperror(struct text *t)
{
	put(t, t->why,
	    _("A DNS lookup for %s failed temporarily (temperror), so the "
	      "receiver could not check "
	      "SPF or DKIM."),
	    t->dom);
	put(t, t->fix,
	    _("Check that the DNS servers of %s answer reliably and fast; a "
	      "temperror usually passes "
	      "on the next attempt."),
	    t->dom);
}

static void
x_permerror(struct text *t)
{
	put(t, t->why,
	    _("The SPF record or DKIM key of %s is broken (permerror): a "
	      "syntax "
	      "error, or an SPF "
	      "record needing more than 10 DNS lookups."),
	    t->dom);
	put(t, t->fix,
	    _("Validate the SPF record of %s (at most 10 include:, a, mx, ptr, "
	      "exists and redirect "
	      "lookups in total) and its DKIM key records."),
	    t->dom);
}

/* " (selector s1)", or "" when the report did not name it. */
static const char *
selector_words(const struct dm_dkim_result *d, char *buf, size_t size)
{
	if (d == NULL || d->selector == NULL || d->selector[0] == '\0')
		return "";
	snprintf(buf, size, _(" (selector %s)"), d->selector);
	return buf;
}

/* "s1._domainkey.example.com", or "the _domainkey.example.com record of the
 * selector it signs with" when the report did not name the selector. */
static const char *
key_record(
    const struct dm_dkim_result *d, const char *dom, char *buf, size_t size)
{
	if (d == NULL || d->selector == NULL || d->selector[0] == '\0')
		snprintf(buf, size,
		    _("the record under _domainkey.%s of the selector it signs "
		      "with (the report does not name it)"),
		    dom);
	else
		snprintf(buf, size, "%s._domainkey.%s", d->selector, dom);
	return buf;
}

static void
x_list_or_esp(struct text *t)
{
	const struct dm_dkim_result *own = own_dkim_failure(t->ev);
	const char *od = own != NULL ? or_q(own->domain) : t->from;
	char sel[DM_TEXT_WORDS], key[2 * DM_TEXT_WORDS];

	put(t, t->why,
	    _("The DKIM signature of %s%s did not verify, while %s passed DKIM "
	      "for its own domain. Either a mailing list or forwarder at %s "
	      "relayed the message and changed it (a subject tag or a footer "
	      "breaks the signature), or %s is a sending provider (ESP) that "
	      "signs as %s with a key not published in your DNS; the reports "
	      "alone cannot tell which."),
	    od, selector_words(own, sel, sizeof(sel)), t->dom, t->dom, t->dom,
	    od);
	put(t, t->fix,
	    _("If %s is a mailing list: nothing to fix in your DNS (the list "
	      "should rewrite the From address or sign with ARC). If it is "
	      "your "
	      "ESP: publish the DKIM key it gives you as %s, or make the "
	      "published key match the one it signs with."),
	    t->dom, key_record(own, od, key, sizeof(key)));
}

static void
x_esp(struct text *t)
{
	const struct dm_dkim_result *d = find_dkim(t->ev, "pass", 0);

	put(t, t->why,
	    _("SPF passed for %s and DKIM passed for %s, but neither is "
	      "aligned "
	      "with the From domain "
	      "%s: the mail was sent through a provider (ESP) that "
	      "authenticates "
	      "as itself."),
	    t->dom, d != NULL && d->domain != NULL ? d->domain : "?", t->from);
	put(t, t->fix,
	    _("At the provider, set up DKIM signing as %s (publish the DKIM "
	      "key "
	      "it gives you), and a "
	      "custom return-path (bounce domain) under %s."),
	    t->from, t->from);
}

static void
x_spf_unaligned(struct text *t)
{
	put(t, t->why,
	    _("SPF passed for %s (the envelope sender, usually the ESP's "
	      "bounce "
	      "domain), which is not "
	      "aligned with the From domain %s, and no DKIM signature of %s "
	      "passed."),
	    t->dom, t->from, t->from);
	put(t, t->fix,
	    _("Ask the sender (ESP) for a custom return-path under %s, or have "
	      "it sign with DKIM as %s. If this IP is not your provider's, the "
	      "mail is forged and blocking it is right."),
	    t->from, t->from);
}

static void
x_spf_fail(struct text *t)
{
	const struct dm_spf_result *s = find_spf(t->ev, NULL, 1);

	if (s == NULL)
		s = find_spf(t->ev, NULL, 0);
	put(t, t->why,
	    _("SPF %s for %s: the sending IP is not listed in the SPF record "
	      "of "
	      "%s, and no aligned "
	      "DKIM signature passed."),
	    s != NULL && s->result != NULL ? s->result : "fail", t->dom,
	    t->dom);
	put(t, t->fix,
	    _("If this IP sends for you (your server or your ESP), add it to "
	      "the "
	      "SPF record of %s "
	      "(for an ESP: its include:); if it is not yours, the mail is "
	      "forged and blocking it is "
	      "right."),
	    t->dom);
}

static void
x_dkim_unaligned(struct text *t)
{
	put(t, t->why,
	    _("DKIM passed only for %s, which is not aligned with the From "
	      "domain %s, and SPF did "
	      "not pass for %s."),
	    t->dom, t->from, t->from);
	put(t, t->fix,
	    _("Set up DKIM for %s at the sender (ESP): publish the key record "
	      "it "
	      "gives you so that "
	      "it signs as your domain."),
	    t->from);
}

static void
x_dkim_fail(struct text *t)
{
	const struct dm_dkim_result *d = own_dkim_failure(t->ev);
	char sel[DM_TEXT_WORDS], key[2 * DM_TEXT_WORDS];

	put(t, t->why,
	    _("The DKIM signature of %s%s did not verify (%s), and no other "
	      "aligned signature or SPF result passed: the key is not "
	      "published, "
	      "the selector is wrong, the key was rotated without updating "
	      "DNS, "
	      "or the message was changed after signing."),
	    t->dom, selector_words(d, sel, sizeof(sel)),
	    d != NULL && d->result != NULL ? d->result : "fail");
	put(t, t->fix,
	    _("Publish or fix the DKIM key of %s: %s must hold the public half "
	      "of "
	      "the key the sender signs with; then check that nothing rewrites "
	      "the message after signing."),
	    t->dom, key_record(d, t->dom, key, sizeof(key)));
}

static void
x_no_dkim(struct text *t)
{
	put(t, t->why,
	    _("The message had no DKIM signature, and SPF did not pass for "
	      "%s."),
	    t->from);
	put(t, t->fix,
	    _("Sign mail with DKIM as %s on every server and provider sending "
	      "for you, and list them "
	      "in the SPF record of %s."),
	    t->from, t->from);
}

static void
x_unknown(struct text *t)
{
	put(t, t->why,
	    _("DMARC failed: neither SPF nor DKIM passed for a domain aligned "
	      "with %s, and the "
	      "report's results do not say more."),
	    t->from);
	put(t, t->fix,
	    _("If the source IP is not one of yours or your providers', the "
	      "mail "
	      "is forged and "
	      "blocking it is right."));
}

/* The rules in the order they are tried; several may give one cause. */
static const struct rule {
	enum dm_cause_code code;
	int (*match)(const struct dm_evidence *ev, const char **dom);
	void (*explain)(struct text *t);
} rules[] = {
    {DM_CAUSE_LOCAL_POLICY, r_blocked_pass, x_blocked_pass},
    {DM_CAUSE_PASS, r_pass, x_pass},
    {DM_CAUSE_FORWARDED, r_forwarded, x_forwarded},
    {DM_CAUSE_MAILING_LIST, r_mailing_list, x_mailing_list},
    {DM_CAUSE_LOCAL_POLICY, r_override, x_override},
    {DM_CAUSE_TEMPERROR, r_temperror, x_temperror},
    {DM_CAUSE_PERMERROR, r_permerror, x_permerror},
    {DM_CAUSE_LIST_OR_ESP, r_list_or_esp, x_list_or_esp},
    {DM_CAUSE_DKIM_FAIL, r_dkim_fail, x_dkim_fail},
    {DM_CAUSE_ESP_UNALIGNED, r_esp, x_esp},
    {DM_CAUSE_SPF_UNALIGNED, r_spf_unaligned, x_spf_unaligned},
    {DM_CAUSE_SPF_FAIL, r_spf_fail, x_spf_fail},
    {DM_CAUSE_DKIM_UNALIGNED, r_dkim_unaligned, x_dkim_unaligned},
    {DM_CAUSE_NO_DKIM, r_no_dkim, x_no_dkim},
    {DM_CAUSE_UNKNOWN, r_unknown, x_unknown},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

static const char *const names[] = {"pass", "forwarded", "mailing_list",
    "local_policy", "temperror", "permerror", "esp_not_aligned",
    "spf_not_aligned", "spf_fail", "dkim_not_aligned", "dkim_fail", "no_dkim",
    "unknown", "list_or_esp"};

_Static_assert(sizeof(names) / sizeof(names[0]) == DM_CAUSE_COUNT,
    "one name per cause, in code order");

/* The rule that matched: the classification keeps only the code, so the
 * explanation finds it again (the first rule of that code that matches). */
static const struct rule *
rule_of(const struct dm_cause *c, const struct dm_evidence *ev)
{
	const char *dom;
	size_t i;

	for (i = 0; i < N_RULES; i++) {
		if (rules[i].code == c->code && rules[i].match(ev, &dom))
			return &rules[i];
	}
	return NULL;
}

struct dm_cause
dm_cause_classify(const struct dm_evidence *ev)
{
	struct dm_cause c = {DM_CAUSE_UNKNOWN, NULL, 0, 0};
	size_t i;

	for (i = 0; i < N_RULES; i++) {
		if (rules[i].match(ev, &c.domain)) {
			c.code = rules[i].code;
			break;
		}
	}
	c.dmarc_pass = dmarc_passed(ev);
	if (!c.dmarc_pass && (is(ev->p, "none") || is(ev->testing, "y")))
		c.not_enforced = 1;
	return c;
}

const char *
dm_cause_name(enum dm_cause_code code)
{
	if ((unsigned)code >= DM_CAUSE_COUNT)
		return NULL;
	return names[code];
}

int
dm_cause_explain(const struct dm_cause *c, const struct dm_evidence *ev,
    struct dm_buf *explanation, struct dm_buf *fix)
{
	struct text t = {
	    explanation, fix, ev, c->domain, ev->header_from, DM_OK};
	const struct rule *r;

	if ((unsigned)c->code >= DM_CAUSE_COUNT)
		return DM_EINVAL;
	if (t.dom == NULL || t.dom[0] == '\0')
		t.dom = c->code == DM_CAUSE_FORWARDED ||
		                c->code == DM_CAUSE_MAILING_LIST
		            ? NULL
		            : _("(unknown domain)");
	if (t.from == NULL || t.from[0] == '\0')
		t.from = _("(unknown domain)");
	/* A cause given without its evidence is explained by its main rule. */
	if ((r = rule_of(c, ev)) == NULL) {
		size_t i;

		for (i = 0; i < N_RULES && rules[i].code != c->code; i++)
			;
		r = &rules[i];
	}
	r->explain(&t);
	if (c->not_enforced)
		put(&t, explanation,
		    _(" Your published policy (%s) asks receivers not to act "
		      "on "
		      "DMARC failures, so "
		      "DMARC itself did not block this mail."),
		    is(ev->testing, "y") ? "testing=y" : "p=none");
	return t.rc;
}
