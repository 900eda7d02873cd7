/*
 * reporter.c - is a --reporter one the database knows?  A misspelt ISP
 * ("Gogle") would otherwise give an empty report that looks like an ISP that
 * stopped reporting.  The answer names the closest known ISPs, or lists them
 * when none is close.  It reads only the reporters' names, never the period:
 * an ISP that reports, but not in this period, is no mistake.
 */
#include "report.h"
#include "report_int.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

/* Names shown when none is close; the rest are counted. */
#define SHOWN_KNOWN 12
/* Distinct ISP names kept: a database has a few dozen reporters. */
#define MAX_KNOWN 10000

struct known {
	const char *want;
	int found;
	char **names; /* distinct ISP names of the reporters */
	size_t n, cap;
	struct isp_names *names_of; /* the ISP of each org_name */
};

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

/* Levenshtein distance, ASCII case ignored, of a and b (b up to 255 bytes:
 * longer names are far from anything typed anyway). */
static size_t
distance(const char *a, const char *b)
{
	size_t row[256], i, j, nb = strlen(b), diag, up;

	if (nb > 255)
		nb = 255;
	for (j = 0; j <= nb; j++)
		row[j] = j;
	for (i = 1; a[i - 1] != '\0'; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= nb; j++) {
			up = row[j];
			row[j] = diag + (lower((unsigned char)a[i - 1]) !=
			                    lower((unsigned char)b[j - 1]));
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[nb];
}

static int
add_name(struct known *k, const char *name, struct dm_error *err)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->names[i], name) == 0)
			return DM_OK;
	if (k->n == MAX_KNOWN)
		return DM_OK;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 32;
		char **v = dm_realloc(k->names, cap * sizeof(*v));

		if (v == NULL)
			return dm_error_set(err, DM_ENOMEM, _("out of memory"));
		k->names = v;
		k->cap = cap;
	}
	if ((k->names[k->n] = dm_strdup(name)) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	k->n++;
	return DM_OK;
}

/* The same test as the report's filter (sql/query.c): the ISP name or the
 * org_name, ASCII case ignored. */
static int
on_org_name(void *ctx, const char *org_name, struct dm_error *err)
{
	struct known *k = ctx;
	const char *isp = dm_isp_names_get(k->names_of, org_name);

	if (strcasecmp(isp, k->want) == 0 ||
	    strcasecmp(org_name, k->want) == 0) {
		k->found = 1;
		return DM_DONE;
	}
	return add_name(k, isp, err);
}

static int
by_name(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* A name within a third of its length of edits (at least one, at most
 * three) is close. */
static int
close_to(const char *want, const char *name)
{
	size_t len = strlen(want), most = len / 3;

	most = most < 1 ? 1 : most > 3 ? 3 : most;
	return distance(want, name) <= most;
}

/* "did you mean Google?_(" or ")known ISPs: A, B, ... and N more". */
static void
say_unknown(const struct known *k, struct dm_error *err)
{
	char list[200];
	size_t i, n = 0, close = 0;

	list[0] = '\0';
	for (i = 0; i < k->n && n < sizeof(list); i++)
		if (close_to(k->want, k->names[i]))
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			    "%s%s", close++ ? _(" or ") : "", k->names[i]);
	if (close > 0) {
		dm_error_set(err, DM_EINVAL,
		    _("--reporter '%s': no ISP or org_name of that name has "
		      "reported; did you mean %s?"),
		    k->want, list);
		return;
	}
	for (i = 0; i < k->n && i < SHOWN_KNOWN && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		    i ? ", " : "", k->names[i]);
	if (k->n > SHOWN_KNOWN && n < sizeof(list))
		snprintf(list + n, sizeof(list) - n, _(" and %zu more"),
		    k->n - SHOWN_KNOWN);
	dm_error_set(err, DM_EINVAL,
	    _("--reporter '%s': no ISP or org_name of that name has reported; "
	      "%s%s"),
	    k->want,
	    k->n ? _("the ISPs that have: ") : _("no report is stored yet"),
	    list);
}

int
dm_report_check_reporter(
    struct dm_query *q, const char *reporter, struct dm_error *err)
{
	struct known k = {.want = reporter};
	struct isp_names names;
	size_t i;
	int rc;

	k.names_of = &names;
	rc = dm_isp_names_load(&names, q, err);
	for (i = 0; rc == DM_OK && i < names.n; i++)
		rc = on_org_name(&k, names.v[i].org, err);
	dm_isp_names_free(&names);
	if (rc == DM_DONE)
		rc = DM_OK;
	if (rc == DM_OK && !k.found) {
		qsort(k.names, k.n, sizeof(*k.names), by_name);
		say_unknown(&k, err);
		rc = DM_EINVAL;
	}
	for (i = 0; i < k.n; i++)
		dm_free(k.names[i]);
	dm_free(k.names);
	return rc;
}
