/*
 * spfcheck.c - the SPF checks of a domain: its record, the lookup count over
 * its includes, each ESP include the reports call for, and each source IP that
 * failed SPF in the reports, evaluated again now by libspf2.
 *
 * An ESP's include is called for when a failing source's service (by its PTR
 * name, or by the DKIM d= and SPF domains of its mail) has one in the services
 * file.  That is the fix the cause classifier gives for spf_fail ("add the
 * ESP's include:"), so the check says whether it was done.
 */
#include "dns_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 7208 section 4.6.4: DNS-querying terms one evaluation may reach. */
#define SPF_LOOKUP_LIMIT 10

static void
check_record(struct check_run *c, const struct spf_tree *t)
{
	const char *domain = c->ev->domain;
	struct dm_check_item *it;

	if (t->n_records == 0) {
		it = item_add(
		    c, "spf_record", domain, DM_CHECK_WRONG, "no SPF record");
		item_fix(c, it,
		    "Publish a TXT record at %s: \"v=spf1\", then one "
		    "include: per provider sending for you, ip4:/ip6: for your "
		    "own servers, and \"~all\" or \"-all\".",
		    domain);
	} else if (t->n_records > 1) {
		it = item_add(c, "spf_record", domain, DM_CHECK_WRONG,
		    "%d SPF records: receivers answer permerror for all mail",
		    t->n_records);
		item_fix(c, it,
		    "Merge them into one TXT record starting v=spf1 at %s.",
		    domain);
	} else
		item_add(c, "spf_record", domain, DM_CHECK_OK, "%s", t->record);
	if (t->syntax != NULL) {
		it = item_add(c, "spf_syntax", domain, DM_CHECK_WRONG,
		    "the record is not valid SPF: %s (receivers answer "
		    "permerror)",
		    t->syntax);
		item_fix(c, it,
		    "Correct the record of %s (RFC 7208 section 12).", domain);
	}
	if (t->problem != NULL) {
		it = item_add(
		    c, "spf_syntax", domain, DM_CHECK_WRONG, "%s", t->problem);
		item_fix(c, it,
		    "Remove that include: from the record of %s, or have it "
		    "corrected.",
		    domain);
	}
}

static void
check_lookups(struct check_run *c, const struct spf_tree *t)
{
	const char *domain = c->ev->domain;
	struct dm_check_item *it;

	if (t->dns_failed)
		item_add(c, "spf_lookups", domain, DM_CHECK_UNKNOWN,
		    "an included record did not answer; %d DNS-querying "
		    "terms counted so far",
		    t->lookups);
	else if (t->lookups > SPF_LOOKUP_LIMIT) {
		it = item_add(c, "spf_lookups", domain, DM_CHECK_WRONG,
		    "%d DNS-querying terms (include, a, mx, ptr, exists, "
		    "redirect) over the record and its includes; the limit is "
		    "%d: receivers answer permerror past it",
		    t->lookups, SPF_LOOKUP_LIMIT);
		item_fix(c, it,
		    "Bring it to %d at most: remove includes of providers no "
		    "longer used, replace a and mx by ip4:/ip6:, or move some "
		    "senders to a subdomain with its own record.",
		    SPF_LOOKUP_LIMIT);
	} else
		item_add(c, "spf_lookups", domain, DM_CHECK_OK,
		    "DNS-querying terms (include, a, mx, ptr, exists, "
		    "redirect) over the record and its includes: %d of at "
		    "most %d",
		    t->lookups, SPF_LOOKUP_LIMIT);
}

/* 1 when an earlier source has the same service (checked once). */
static int
service_seen(const struct dm_check_evidence *ev, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++) {
		if (ev->sources[j].service == ev->sources[i].service)
			return 1;
	}
	return 0;
}

static void
check_includes(struct check_run *c, const struct spf_tree *t)
{
	const struct dm_check_evidence *ev = c->ev;
	char subject[300];
	struct dm_check_item *it;
	size_t i;

	for (i = 0; i < ev->n_sources; i++) {
		const struct dm_dns_service *svc = ev->sources[i].service;

		if (svc == NULL || svc->spf == NULL || service_seen(ev, i))
			continue;
		snprintf(subject, sizeof(subject), "include:%s", svc->spf);
		if (spf_tree_includes(t, svc->spf))
			item_add(c, "spf_include", subject, DM_CHECK_OK,
			    "%s (%s) is in the SPF record of %s", subject,
			    svc->name, ev->domain);
		else {
			it = item_add(c, "spf_include", subject, DM_CHECK_WRONG,
			    "%s (%s, which sends for %s from %s) is not in its "
			    "SPF record",
			    subject, svc->name, ev->domain, ev->sources[i].ip);
			item_fix(c, it, "Add %s to the SPF record of %s.",
			    subject, ev->domain);
		}
	}
}

/* The fix for a source that still fails SPF. */
static void
source_fix(struct check_run *c, struct dm_check_item *it,
    const struct dm_check_source *s, const struct spf_tree *t)
{
	const struct dm_dns_service *svc = s->service;

	if (svc != NULL && svc->spf != NULL && !spf_tree_includes(t, svc->spf))
		item_fix(c, it, "Add include:%s (%s) to the SPF record of %s.",
		    svc->spf, svc->name, s->spf_domain);
	else if (svc != NULL)
		item_fix(c, it,
		    "%s sends from it: ask %s which SPF entry or return-path "
		    "domain to use for %s.",
		    svc->name, svc->name, s->spf_domain);
	else
		item_fix(c, it,
		    "If %s sends for you, add ip4:/ip6: for it (or its "
		    "provider's include:) to the SPF record of %s; if not, the "
		    "mail is forged and failing is right.",
		    s->ip, s->spf_domain);
}

/*
 * 1 when the reports show the source sends for the domain: its mail carried a
 * passing DKIM signature of the domain, or it belongs to a known service, or
 * its PTR name is in the domain's organisation.  A failing source without any
 * of these is most likely forging the domain, and failing is right for it: it
 * is not something to fix, or a domain under attack could never check clean.
 */
static int
sends_for(struct check_run *c, const struct dm_check_source *s)
{
	char org[256], porg[256];

	if (s->dkim_aligned > 0 || s->service != NULL)
		return 1;
	return s->ptr != NULL &&
	       dm_dns_base_domain(c->d, c->ev->domain, org, sizeof(org)) !=
	           NULL &&
	       dm_dns_base_domain(c->d, s->ptr, porg, sizeof(porg)) != NULL &&
	       strcmp(org, porg) == 0;
}

static void
check_source(struct check_run *c, const struct dm_check_source *s,
    const struct spf_tree *t)
{
	char why[160], subject[300];
	const char *now;
	struct dm_check_item *it;
	int over = t->lookups > SPF_LOOKUP_LIMIT &&
	           strcasecmp(s->spf_domain, c->ev->domain) == 0;

	snprintf(subject, sizeof(subject), "%s%s%s%s", s->ip,
	    s->service ? " (" : "", s->service ? s->service->name : "",
	    s->service ? ")" : "");
	if ((now = spf_evaluate(
	         c->d, s->ip, s->spf_domain, why, sizeof(why))) == NULL) {
		c->rc = DM_ENOMEM;
		return;
	}
	if (strcmp(now, "temperror") == 0)
		item_add(c, "spf_ip", subject, DM_CHECK_UNKNOWN,
		    "SPF of %s: temperror now (%s)", s->spf_domain,
		    why[0] ? why : "DNS failed");
	else if (strcmp(now, "pass") == 0 && !over)
		item_add(c, "spf_ip", subject, DM_CHECK_CHANGED,
		    "SPF of %s: pass now; the reports show %s (%llu messages)",
		    s->spf_domain, s->result, (unsigned long long)s->messages);
	else if (!sends_for(c, s))
		item_add(c, "spf_ip", subject, DM_CHECK_OK,
		    "SPF of %s: %s now; the reports show %s (%llu messages), "
		    "and nothing shows it sends for %s (no DKIM signature of "
		    "the domain passed, no known service): failing is right "
		    "if it is not yours",
		    s->spf_domain, now, s->result,
		    (unsigned long long)s->messages, c->ev->domain);
	else {
		it = item_add(c, "spf_ip", subject, DM_CHECK_WRONG,
		    "SPF of %s: %s now%s%s%s; the reports show %s (%llu "
		    "messages)",
		    s->spf_domain, now, why[0] ? " (" : "", why,
		    why[0] ? ")" : "", s->result,
		    (unsigned long long)s->messages);
		if (over && strcmp(now, "pass") == 0)
			item_fix(c, it,
			    "libspf2 passes it, but only by reading more "
			    "than %d DNS-querying terms: bring the record "
			    "under the limit (see spf_lookups).",
			    SPF_LOOKUP_LIMIT);
		else
			source_fix(c, it, s, t);
	}
}

void
check_spf(struct check_run *c)
{
	struct spf_tree t;
	size_t i;

	if (spf_tree_read(c->d, c->ev->domain, &t) != DM_OK) {
		c->rc = DM_ENOMEM;
		spf_tree_free(&t);
		return;
	}
	if (dns_status_failed(t.status)) {
		item_dns_failed(c, "spf_record", c->ev->domain, t.status);
		spf_tree_free(&t);
		return;
	}
	check_record(c, &t);
	if (t.n_records == 1 && t.syntax == NULL)
		check_lookups(c, &t);
	check_includes(c, &t);
	for (i = 0; i < c->ev->n_sources && c->rc == DM_OK; i++)
		check_source(c, &c->ev->sources[i], &t);
	spf_tree_free(&t);
}
