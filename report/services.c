/*
 * services.c - `report --by service`: the failing (source IP, From domain)
 * pairs grouped by the sending service behind them, as the host table names
 * it from the IP's PTR name, else as the services file names the DKIM or SPF
 * domain that passed for the pair (pairs.c).  Pairs of no known service form
 * one group of their own.  A service's sums are those of every failing pair
 * the report kept (all of them up to DM_REPORT_PAIRS_MAX), so they add up to
 * the sources section's totals; only its top pairs are listed.
 */
#include "report_int.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>

struct service {
	const char *name, *kind; /* borrowed from its first pair; NULL name:
	                            no known service */
	size_t first, n;         /* its pairs in the sorted index */
	int64_t dmarc_pass;
	struct more sums, hidden;
};

static const char *
name_of(const struct pair *p)
{
	return p->service != NULL ? p->service : "";
}

/* 0 when x and y have the same service (or both none); no service last. */
static int
cmp_names(const struct pair *x, const struct pair *y)
{
	if ((x->service == NULL) != (y->service == NULL))
		return x->service == NULL ? 1 : -1;
	return strcmp(name_of(x), name_of(y));
}

/* By service, then rank. */
static int
cmp_by_service(const void *a, const void *b)
{
	const struct pair *x = *(struct pair *const *)a,
	                  *y = *(struct pair *const *)b;
	int d = cmp_names(x, y);

	if (d != 0)
		return d;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Most blocked, then most messages, then by name; no service last among
 * equals. */
static int
cmp_service(const void *a, const void *b)
{
	const struct service *x = a, *y = b;
	int64_t bx = dm_sat_add(x->sums.quarantined, x->sums.rejected),
	        by = dm_sat_add(y->sums.quarantined, y->sums.rejected);

	if (bx != by)
		return bx > by ? -1 : 1;
	if (x->sums.messages != y->sums.messages)
		return x->sums.messages > y->sums.messages ? -1 : 1;
	if ((x->name == NULL) != (y->name == NULL))
		return x->name == NULL ? 1 : -1;
	return x->name == NULL ? 0 : strcmp(x->name, y->name);
}

/* Runs of equal service in the sorted index; *n services into v. */
static void
find_services(struct pair **idx, size_t n_pairs, struct service *v, size_t *n)
{
	size_t i;

	*n = 0;
	for (i = 0; i < n_pairs; i++) {
		struct pair *p = idx[i];
		struct service *s;

		if (i == 0 || cmp_names(idx[i - 1], p) != 0) {
			s = &v[(*n)++];
			memset(s, 0, sizeof(*s));
			s->name = p->service;
			s->kind = p->kind;
			s->first = i;
		}
		s = &v[*n - 1];
		s->n++;
		s->dmarc_pass = dm_sat_add(s->dmarc_pass, p->dmarc_pass);
		dm_more_add(&s->sums, p->messages, p->quarantined, p->rejected);
	}
}

/* Sets each pair's page to its service's place, hiding those past top. */
static void
place_pairs(struct pair **idx, struct service *v, size_t n, size_t top)
{
	size_t k, j;

	for (k = 0; k < n; k++) {
		for (j = 0; j < v[k].n; j++) {
			struct pair *p = idx[v[k].first + j];

			p->page = p->group = k;
			p->hidden = j >= top;
			if (p->hidden)
				dm_more_add(&v[k].hidden, p->messages,
				    p->quarantined, p->rejected);
		}
	}
}

static int
service_row(struct section *s, const struct service *v)
{
	struct cell *c = dm_section_add_row(s);

	if (c == NULL ||
	    (v->name != NULL &&
	        dm_cell_set_str(&c[dm_section_col(s, "service")], v->name) !=
	            DM_OK) ||
	    (v->kind != NULL && dm_cell_set_str(&c[dm_section_col(s, "kind")],
	                            v->kind) != DM_OK))
		return DM_ENOMEM;
	dm_cell_int(&c[dm_section_col(s, "pairs")], CELL_INT, (int64_t)v->n);
	dm_cell_int(
	    &c[dm_section_col(s, "messages")], CELL_INT, v->sums.messages);
	dm_cell_int(
	    &c[dm_section_col(s, "dmarc_pass")], CELL_INT, v->dmarc_pass);
	dm_cell_rate(&c[dm_section_col(s, "dmarc_pass_percent")], v->dmarc_pass,
	    v->sums.messages);
	dm_cell_int(&c[dm_section_col(s, "quarantined")], CELL_INT,
	    v->sums.quarantined);
	dm_cell_int(
	    &c[dm_section_col(s, "rejected")], CELL_INT, v->sums.rejected);
	dm_cell_int(
	    &c[dm_section_col(s, "more_sources")], CELL_INT, v->hidden.rows);
	return DM_OK;
}

/* "Service Benchmark Email (esp): 34 messages, 0.0 % passed DMARC, 0
 * quarantined, 34 rejected" */
static int
heading(const struct service *v, struct dm_buf *h)
{
	struct cell rate;
	char pct[32];
	int rc;

	dm_cell_rate(&rate, v->dmarc_pass, v->sums.messages);
	dm_cell_format(&rate, pct, sizeof(pct));
	if (v->name != NULL)
		rc = dm_buf_addf(h, _("Service %s (%s): "), v->name,
		    v->kind != NULL ? v->kind : "?");
	else
		rc = dm_buf_adds(h, _("No known service: "));
	if (rc != DM_OK)
		return rc;
	return dm_buf_addf(h,
	    _("%lld messages, %s %% passed DMARC, %lld quarantined, %lld "
	      "rejected"),
	    (long long)v->sums.messages, pct, (long long)v->sums.quarantined,
	    (long long)v->sums.rejected);
}

/* The group of service v (the k-th) in the sources section: the kept pairs
 * from *i on (sorted by service place) that are of it; its rows linked from
 * its row in the services section (JSON). */
static int
write_service(struct dm_report *r, struct pairs *x, const struct service *v,
    size_t k, size_t *i, struct dm_buf *t)
{
	struct section *src = &r->sec[SEC_SOURCES],
	               *svc = &r->sec[SEC_SERVICES];
	struct cell *link;
	size_t row0 = src->n_rows;
	int rc;

	dm_buf_reset(t);
	if ((rc = heading(v, t)) != DM_OK ||
	    (rc = dm_section_add_group(src, t->data)) != DM_OK)
		return rc;
	src->groups[src->n_groups - 1].more = v->hidden;
	dm_buf_reset(t);
	for (; *i < x->n_kept && x->kept[*i]->group == k && rc == DM_OK;
	     (*i)++) {
		if (!x->kept[*i]->hidden)
			rc = dm_sources_add_pair(r, x->kept[*i], t);
	}
	link = &svc->cells[k * svc->n_cols + dm_section_col(svc, "sources")];
	link->kind = CELL_ROWS;
	link->i = (int64_t)row0;
	link->n = src->n_rows - row0;
	return rc;
}

int
dm_services_fill(
    struct dm_report *r, struct pairs *x, size_t top, struct dm_error *err)
{
	struct pair **idx = NULL;
	struct service *v = NULL;
	struct dm_buf t;
	size_t n = 0, k, i = 0;
	int rc = DM_OK;

	dm_buf_init(&t, (size_t)1 << 20);
	r->sec[SEC_SERVICES].more = r->sec[SEC_SOURCES].more;
	if (x->n_kept > 0 &&
	    ((idx = dm_calloc(x->n_kept, sizeof(*idx))) == NULL ||
	        (v = dm_calloc(x->n_kept, sizeof(*v))) == NULL))
		rc = DM_ENOMEM;
	if (rc == DM_OK && x->n_kept > 0) {
		memcpy(idx, x->kept, x->n_kept * sizeof(*idx));
		qsort(idx, x->n_kept, sizeof(*idx), cmp_by_service);
		find_services(idx, x->n_kept, v, &n);
		qsort(v, n, sizeof(*v), cmp_service);
	}
	for (k = 0; rc == DM_OK && k < n; k++)
		rc = service_row(&r->sec[SEC_SERVICES], &v[k]);
	if (rc == DM_OK && n > 0) {
		place_pairs(idx, v, n, top);
		qsort(
		    x->kept, x->n_kept, sizeof(*x->kept), dm_pairs_cmp_output);
	}
	for (k = 0; rc == DM_OK && k < n; k++)
		rc = write_service(r, x, &v[k], k, &i, &t);
	dm_buf_free(&t);
	dm_free(idx);
	dm_free(v);
	return rc == DM_OK ? DM_OK
	                   : dm_error_set(err, DM_ENOMEM,
	                         _("out of memory building the report"));
}
