/*
 * check.c - a domain's checks: DMARC (dmarc.c), SPF (spfcheck.c) and DKIM
 * (dkim.c), each adding items to one result.
 *
 * An item says what DNS holds now, how that compares with what the reports
 * saw, and the fix still to do.  Texts are built here from DNS data, which any
 * domain owner controls: they are escaped by the writer for the terminal or
 * for JSON, never here.
 */
#include "dns_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest text of an item (found or fix): one or two lines on a terminal. */
#define TEXT_MAX 2048

static char *
vformat(const char *fmt, va_list ap)
{
	char *s = dm_malloc(TEXT_MAX);

	if (s != NULL)
		vsnprintf(s, TEXT_MAX, fmt, ap);
	return s;
}

struct dm_check_item *
item_add(struct check_run *c, const char *check, const char *subject,
    enum dm_check_status status, const char *fmt, ...)
{
	struct dm_check_result *r = c->r;
	struct dm_check_item *items, *it;
	va_list ap;

	if (c->rc != DM_OK)
		return NULL;
	items = dm_realloc(r->items, (r->n_items + 1) * sizeof(*items));
	if (items == NULL) {
		c->rc = DM_ENOMEM;
		return NULL;
	}
	r->items = items;
	it = &r->items[r->n_items];
	memset(it, 0, sizeof(*it));
	it->check = check;
	it->status = status;
	va_start(ap, fmt);
	it->found = vformat(fmt, ap);
	va_end(ap);
	if (subject != NULL)
		it->subject = dm_strdup(subject);
	r->n_items++;
	if (it->found == NULL || (subject != NULL && it->subject == NULL)) {
		c->rc = DM_ENOMEM;
		return NULL;
	}
	if (status > r->status)
		r->status = status;
	return it;
}

void
item_fix(struct check_run *c, struct dm_check_item *it, const char *fmt, ...)
{
	va_list ap;

	if (it == NULL)
		return;
	va_start(ap, fmt);
	it->fix = vformat(fmt, ap);
	va_end(ap);
	if (it->fix == NULL)
		c->rc = DM_ENOMEM;
}

void
item_dns_failed(
    struct check_run *c, const char *check, const char *subject, int status)
{
	item_add(c, check, subject, DM_CHECK_UNKNOWN, "DNS did not answer: %s",
	    dns_status_text(status));
}

const char *
dm_check_status_name(enum dm_check_status s)
{
	static const char *const names[] = {
	    "ok", "changed", "wrong", "unknown"};

	return (unsigned)s < 4 ? names[s] : "unknown";
}

int
dm_dns_check(struct dm_dns *d, const struct dm_check_evidence *ev,
    struct dm_check_result **out, struct dm_error *err)
{
	struct check_run c;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.ev = ev;
	if ((c.r = dm_calloc(1, sizeof(*c.r))) == NULL ||
	    (c.r->domain = dm_strdup(ev->domain)) == NULL) {
		dm_dns_check_free(c.r);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	check_dmarc(&c);
	if (c.rc == DM_OK)
		check_spf(&c);
	if (c.rc == DM_OK)
		check_dkim(&c);
	if (c.rc != DM_OK) {
		dm_dns_check_free(c.r);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	*out = c.r;
	return DM_OK;
}

void
dm_dns_check_free(struct dm_check_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_items; i++) {
		dm_free(r->items[i].subject);
		dm_free(r->items[i].found);
		dm_free(r->items[i].fix);
	}
	dm_free(r->items);
	dm_free(r->domain);
	dm_free(r);
}
