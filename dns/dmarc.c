/*
 * dmarc.c - the DMARC record of a domain, checked tag by tag.
 *
 * Written here rather than taken from libopendmarc: its parser accepts unknown
 * tags and bad values silently (a receiver must ignore them, RFC 7489 section
 * 6.3), where a check must name each one, since a typo such as "p=rejct" or
 * "pct=50%" is exactly what a postmaster needs to see.  The grammar is RFC
 * 7489 section 6.4 with RFC 9990's additions (np, t, psd): "v=DMARC1" first
 * (the only case-sensitive part), then tag=value pairs separated by ';'.
 *
 * The record is looked up at _dmarc.DOMAIN, then at the organisational
 * domain's (RFC 7489 section 6.6.3, organisational domain by the public suffix
 * list).  Report destinations in another organisational domain must agree to
 * receive the reports (RFC 7489 section 7.1): DOMAIN._report._dmarc.DEST holds
 * "v=DMARC1", or receivers drop the address.
 */
#include "dns_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TAGS 32

struct tag {
	char *name, *value; /* into the record's copy */
};

struct dmarc {
	char *copy; /* the record, cut into tags */
	struct tag tags[MAX_TAGS];
	size_t n;
};

static int
in_list(const char *v, const char *const *words)
{
	for (; *words != NULL; words++) {
		if (strcasecmp(v, *words) == 0)
			return 1;
	}
	return 0;
}

static int
valid_policy(const char *v)
{
	static const char *const w[] = {"none", "quarantine", "reject", NULL};

	return in_list(v, w);
}

static int
valid_align(const char *v)
{
	static const char *const w[] = {"r", "s", NULL};

	return in_list(v, w);
}

static int
valid_yn(const char *v)
{
	static const char *const w[] = {"y", "n", NULL};

	return in_list(v, w);
}

static int
valid_psd(const char *v)
{
	static const char *const w[] = {"y", "n", "u", NULL};

	return in_list(v, w);
}

/* A whole number from lo to hi, digits only. */
static int
valid_number(const char *v, long long lo, long long hi)
{
	char *end;
	long long n;

	if (*v < '0' || *v > '9')
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno == 0 && *end == '\0' && n >= lo && n <= hi;
}

static int
valid_pct(const char *v)
{
	return valid_number(v, 0, 100);
}

static int
valid_ri(const char *v)
{
	return valid_number(v, 0, 4294967295LL);
}

/* Each of a colon-separated list is one of words. */
static int
valid_colon_list(const char *v, const char *const *words)
{
	char part[64];
	size_t n;

	do {
		n = strcspn(v, ":");
		if (n == 0 || n >= sizeof(part))
			return 0;
		memcpy(part, v, n);
		part[n] = '\0';
		if (!in_list(part, words))
			return 0;
		v += n;
	} while (*v++ == ':');
	return 1;
}

static int
valid_fo(const char *v)
{
	static const char *const w[] = {"0", "1", "d", "s", NULL};

	return valid_colon_list(v, w);
}

static int
valid_rf(const char *v)
{
	static const char *const w[] = {"afrf", NULL};

	return valid_colon_list(v, w);
}

/*
 * The domain of one destination URI "mailto:addr[!size]" into out; 0, or -1
 * when it is not such a URI.
 */
static int
uri_domain(const char *uri, size_t len, char *out, size_t size)
{
	const char *at, *end = uri + len, *bang;
	size_t n;

	if (len < 8 || strncasecmp(uri, "mailto:", 7) != 0)
		return -1;
	if ((bang = memchr(uri, '!', len)) != NULL)
		end = bang;
	for (at = end; at > uri + 7 && at[-1] != '@'; at--)
		;
	n = (size_t)(end - at);
	if (at == uri + 7 || at - 1 == uri + 7 || n == 0 || n >= size ||
	    memchr(at, '.', n) == NULL)
		return -1;
	memcpy(out, at, n);
	out[n] = '\0';
	return name_normalise(out, out, size);
}

static int
valid_uris(const char *v)
{
	char dom[256];
	size_t n;

	do {
		v += strspn(v, " \t");
		n = strcspn(v, ",");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (uri_domain(v, n, dom, sizeof(dom)) != 0)
			return 0;
		v += strcspn(v, ",");
	} while (*v++ == ',');
	return 1;
}

static const struct {
	const char *name;
	int (*valid)(const char *v);
	const char *want;
} tag_rules[] = {
    {"p", valid_policy, "none, quarantine or reject"},
    {"sp", valid_policy, "none, quarantine or reject"},
    {"np", valid_policy, "none, quarantine or reject"},
    {"adkim", valid_align, "r (relaxed) or s (strict)"},
    {"aspf", valid_align, "r (relaxed) or s (strict)"},
    {"pct", valid_pct, "a whole number from 0 to 100"},
    {"fo", valid_fo, "0, 1, d or s, separated by colons"},
    {"rf", valid_rf, "afrf"},
    {"ri", valid_ri, "a number of seconds"},
    {"rua", valid_uris, "mailto: addresses separated by commas"},
    {"ruf", valid_uris, "mailto: addresses separated by commas"},
    {"t", valid_yn, "y or n"},
    {"psd", valid_psd, "y, n or u"},
};

#define N_RULES (sizeof(tag_rules) / sizeof(tag_rules[0]))

/* The rule of a tag name, or N_RULES for an unknown tag. */
static size_t
rule_of(const char *name)
{
	size_t i;

	for (i = 0; i < N_RULES; i++) {
		if (strcasecmp(name, tag_rules[i].name) == 0)
			return i;
	}
	return N_RULES;
}

/* Cuts the record into tags; -1 when out of memory. */
static int
split(const char *record, struct dmarc *m)
{
	char *p, *next, *eq;

	memset(m, 0, sizeof(*m));
	if ((m->copy = dm_strdup(record)) == NULL)
		return -1;
	for (p = m->copy; p != NULL && m->n < MAX_TAGS; p = next) {
		if ((next = strchr(p, ';')) != NULL)
			*next++ = '\0';
		p = text_trim(p);
		if (*p == '\0')
			continue;
		m->tags[m->n].name = p;
		if ((eq = strchr(p, '=')) != NULL) {
			*eq = '\0';
			m->tags[m->n].value = text_trim(eq + 1);
			text_trim(p);
		}
		m->n++;
	}
	return 0;
}

/* The value of a tag (the first one with that name), or NULL. */
static const char *
tag_value(const struct dmarc *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (strcasecmp(m->tags[i].name, name) == 0)
			return m->tags[i].value;
	}
	return NULL;
}

/* 1 when the tag appeared before position i. */
static int
repeated(const struct dmarc *m, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++) {
		if (strcasecmp(m->tags[j].name, m->tags[i].name) == 0)
			return 1;
	}
	return 0;
}

static void
check_tag(struct check_run *c, const struct dmarc *m, size_t i)
{
	const struct tag *t = &m->tags[i];
	size_t r = rule_of(t->name);
	struct dm_check_item *it;

	if (i == 0 || strcmp(t->name, "v") == 0)
		return; /* v= is the record's, checked before */
	if (repeated(m, i)) {
		it = item_add(c, "dmarc_tag", t->name, DM_CHECK_WRONG,
		    "%s= appears more than once", t->name);
		item_fix(c, it, "Keep one %s= tag.", t->name);
	} else if (r == N_RULES) {
		it = item_add(c, "dmarc_tag", t->name, DM_CHECK_WRONG,
		    "unknown tag %s=%s: receivers ignore it", t->name,
		    t->value != NULL ? t->value : "");
		item_fix(c, it,
		    "Remove %s=, or correct it if it is a typo of a DMARC "
		    "tag (p, sp, np, adkim, aspf, pct, fo, rf, ri, rua, ruf, "
		    "t, psd).",
		    t->name);
	} else if (t->value == NULL || !tag_rules[r].valid(t->value)) {
		it = item_add(c, "dmarc_tag", t->name, DM_CHECK_WRONG,
		    "%s=%s is not valid: receivers ignore it", t->name,
		    t->value != NULL ? t->value : "(no value)");
		item_fix(c, it, "%s= takes %s.", t->name, tag_rules[r].want);
	}
}

static void
check_tags(struct check_run *c, const struct dmarc *m)
{
	struct dm_check_item *it;
	size_t i;

	for (i = 0; i < m->n; i++)
		check_tag(c, m, i);
	if (tag_value(m, "p") == NULL) {
		it = item_add(c, "dmarc_tag", "p", DM_CHECK_WRONG,
		    "no p= tag: the record gives no policy");
		item_fix(c, it,
		    "Add p=none (to monitor), p=quarantine or p=reject "
		    "right after v=DMARC1.");
	}
	if (tag_value(m, "rua") == NULL) {
		it = item_add(c, "dmarc_tag", "rua", DM_CHECK_WRONG,
		    "no rua= tag: receivers send no aggregate reports");
		item_fix(c, it,
		    "Add rua=mailto:ADDRESS for the mailbox dmarcstat reads.");
	}
}

static const char *
or_default(const char *v, const char *def)
{
	return v != NULL ? v : def;
}

/* Reported and published values differ (a missing one counts as def). */
static int
differs(const char *reported, const char *now, const char *def)
{
	return reported != NULL &&
	       strcasecmp(reported, or_default(now, def)) != 0;
}

/* A tag's value when it is valid, else NULL (receivers ignore it). */
static const char *
valid_value(const struct dmarc *m, const char *name)
{
	const char *v = tag_value(m, name);

	return v != NULL && tag_rules[rule_of(name)].valid(v) ? v : NULL;
}

/*
 * The policy now, as receivers apply it (an invalid p= counts as none, RFC
 * 7489 section 6.6.3; an invalid sp= or pct= as absent), against the policy of
 * the reports' last day.
 */
static void
check_policy(struct check_run *c, const struct dmarc *m, const char *where)
{
	const struct dm_check_evidence *ev = c->ev;
	const char *p = or_default(valid_value(m, "p"), "none"),
	           *sp = valid_value(m, "sp"), *pct = valid_value(m, "pct");
	char now[160], was[160];
	int changed;

	snprintf(now, sizeof(now), "p=%s sp=%s pct=%s", p, or_default(sp, p),
	    or_default(pct, "100"));
	snprintf(was, sizeof(was), "p=%s sp=%s pct=%d", or_default(ev->p, "-"),
	    or_default(ev->sp, or_default(ev->p, "-")),
	    ev->pct >= 0 ? ev->pct : 100);
	changed = differs(ev->p, p, "-") || differs(ev->sp, sp, p) ||
	          (ev->pct >= 0 && pct != NULL && atoi(pct) != ev->pct);
	if (changed)
		item_add(c, "dmarc_policy", where, DM_CHECK_CHANGED,
		    "%s now; the reports show %s", now, was);
	else
		item_add(c, "dmarc_policy", where, DM_CHECK_OK, "%s%s", now,
		    ev->reported ? ", as in the reports" : "");
}

/* One destination: in the domain's organisation, or agreeing to receive. */
static void
check_destination(
    struct check_run *c, const char *domain, const char *dest, const char *tag)
{
	char org[256], dorg[256], name[600];
	struct dm_check_item *it;
	struct dns_txt t;
	size_t i, ok = 0;

	if (dm_dns_base_domain(c->d, domain, org, sizeof(org)) != NULL &&
	    dm_dns_base_domain(c->d, dest, dorg, sizeof(dorg)) != NULL &&
	    strcmp(org, dorg) == 0)
		return;
	snprintf(name, sizeof(name), "%s._report._dmarc.%s", domain, dest);
	if (dns_txt(c->d, name, &t) != DM_OK) {
		c->rc = DM_ENOMEM;
		dns_txt_free(&t);
		return;
	}
	for (i = 0; i < t.n; i++)
		ok += strncmp(t.recs[i], "v=DMARC1", 8) == 0;
	if (dns_status_failed(t.status))
		item_dns_failed(c, "dmarc_destination", name, t.status);
	else if (ok > 0)
		item_add(c, "dmarc_destination", dest, DM_CHECK_OK,
		    "%s accepts %s reports for %s (%s)", dest, tag, domain,
		    name);
	else {
		it = item_add(c, "dmarc_destination", dest, DM_CHECK_WRONG,
		    "%s= sends to %s, which does not say it accepts reports "
		    "for %s: receivers drop that address",
		    tag, dest, domain);
		item_fix(c, it,
		    "The owner of %s must publish a TXT record \"v=DMARC1\" at "
		    "%s (RFC 7489 section 7.1), or use an address under %s.",
		    dest, name, domain);
	}
	dns_txt_free(&t);
}

/* Every distinct destination domain of rua= and ruf=. */
static void
check_destinations(
    struct check_run *c, const struct dmarc *m, const char *domain)
{
	static const char *const tags[] = {"rua", "ruf"};
	char dom[256], done[8][256];
	size_t k, n_done = 0, i, len;

	for (k = 0; k < 2; k++) {
		const char *v = tag_value(m, tags[k]);

		if (v == NULL || !valid_uris(v))
			continue;
		do {
			v += strspn(v, " \t");
			len = strcspn(v, ",");
			if (uri_domain(v, len, dom, sizeof(dom)) == 0) {
				for (i = 0; i < n_done; i++) {
					if (strcmp(done[i], dom) == 0)
						break;
				}
				if (i == n_done && n_done < 8) {
					memcpy(done[n_done++], dom,
					    strlen(dom) + 1);
					check_destination(
					    c, domain, dom, tags[k]);
				}
			}
			v += len;
		} while (*v++ == ',');
	}
}

/* The DMARC records among TXT records; the count of them. */
static size_t
dmarc_records(const struct dns_txt *t, const char **rec, const char **wrong)
{
	size_t i, n = 0;

	*rec = *wrong = NULL;
	for (i = 0; i < t->n; i++) {
		if (strncmp(t->recs[i], "v=DMARC1", 8) == 0 &&
		    (t->recs[i][8] == ';' || t->recs[i][8] == ' ' ||
		        t->recs[i][8] == '\t' || t->recs[i][8] == '\0')) {
			*rec = t->recs[i];
			n++;
		} else if (strncasecmp(t->recs[i], "v=dmarc1", 8) == 0)
			*wrong = t->recs[i];
	}
	return n;
}

/* The record found at name: its checks.  where is where it was found. */
static void
check_record(struct check_run *c, const char *rec, const char *where,
    const char *policy_domain, const char *note)
{
	struct dmarc m;

	item_add(c, "dmarc_record", where, DM_CHECK_OK, "%s%s", note, rec);
	if (split(rec, &m) != 0) {
		c->rc = DM_ENOMEM;
		return;
	}
	check_tags(c, &m);
	check_policy(c, &m, where);
	check_destinations(c, &m, policy_domain);
	dm_free(m.copy);
}

/* What to say when no single record is at name. */
static void
record_missing(
    struct check_run *c, const char *name, size_t n, const char *wrong)
{
	struct dm_check_item *it;

	if (n > 1) {
		it = item_add(c, "dmarc_record", name, DM_CHECK_WRONG,
		    "%zu DMARC records: receivers ignore them all", n);
		item_fix(c, it, "Keep one TXT record starting v=DMARC1 at %s.",
		    name);
	} else if (wrong != NULL) {
		it = item_add(c, "dmarc_record", name, DM_CHECK_WRONG,
		    "\"%.*s\" is not v=DMARC1 (upper case): receivers ignore "
		    "the record",
		    8, wrong);
		item_fix(c, it, "Start the record with v=DMARC1.");
	} else {
		it = item_add(
		    c, "dmarc_record", name, DM_CHECK_WRONG, "no DMARC record");
		item_fix(c, it,
		    "Publish a TXT record at %s: \"v=DMARC1; p=none; "
		    "rua=mailto:ADDRESS\", then tighten p= once the reports "
		    "show all your mail passing.",
		    name);
	}
}

/* Looks name up: 1 when one record was found (and checked), 0 otherwise. */
static int
try_name(struct check_run *c, const char *domain, const char *note, int last)
{
	char name[300];
	const char *rec, *wrong;
	struct dns_txt t;
	size_t n;
	int found = 0;

	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	if (dns_txt(c->d, name, &t) != DM_OK)
		c->rc = DM_ENOMEM;
	else if (dns_status_failed(t.status)) {
		item_dns_failed(c, "dmarc_record", name, t.status);
		found = 1; /* nothing more can be said */
	} else if ((n = dmarc_records(&t, &rec, &wrong)) == 1) {
		check_record(c, rec, name, domain, note);
		found = 1;
	} else if (n > 1 || wrong != NULL || last) {
		record_missing(c, name, n, wrong);
		found = 1;
	}
	dns_txt_free(&t);
	return found;
}

void
check_dmarc(struct check_run *c)
{
	const char *domain = c->ev->domain;
	char org[256], note[400];
	int has_org =
	    dm_dns_base_domain(c->d, domain, org, sizeof(org)) != NULL &&
	    strcmp(org, domain) != 0;

	if (try_name(c, domain, "", !has_org) || !has_org)
		return;
	snprintf(note, sizeof(note),
	    "none at _dmarc.%s; the organisational domain's applies: ", domain);
	try_name(c, org, note, 1);
}
