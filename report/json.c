/*
 * json.c - the whole report as one JSON document (RFC 8259), field names
 * documented in the README's JSON section.  Each section is an array of
 * objects keyed by the columns' stable keys; a cell holding rows of another
 * section (a source's ISPs, a domain's sources) is a nested array of such
 * objects.  Counts are integers, rates numbers with one decimal, days
 * "YYYY-MM-DD" strings, missing values null; "more" gives the rows each section
 * left out, with their sums; "bucket" says what a row of the series ("daily")
 * is: a day, a week or a month. Strings go through core's dm_json_str (control
 * characters, <, >, & and invalid UTF-8 escaped), so the output is valid for jq
 * and safe to embed in HTML.
 */
#include "report_int.h"

#include <string.h>

#include "json.h"

static void
json_str(struct out *o, const char *s)
{
	if (o->rc == DM_OK)
		o->rc = dm_json_str(&o->b, s);
}

static void
json_cell(struct out *o, const struct cell *c)
{
	char buf[64];

	switch (c->kind) {
	case CELL_NULL:
		dm_out_puts(o, "null");
		break;
	case CELL_STR:
	case CELL_DAY:
		json_str(o, dm_cell_format(c, buf, sizeof(buf)));
		break;
	case CELL_DELTA:
		dm_out_printf(o, "%lld", (long long)c->i);
		break;
	default:
		/* "+1.5" is not JSON: drop the sign of a positive change. */
		dm_cell_format(c, buf, sizeof(buf));
		dm_out_puts(o, buf[0] == '+' ? buf + 1 : buf);
		break;
	}
}

/* A list column's items as an array of strings; [] when there are none. */
static void
json_list(struct out *o, const struct cell *c)
{
	const char *p, *end;
	char *item;

	dm_out_puts(o, "[");
	for (p = c->kind == CELL_STR ? c->s : NULL; p != NULL && *p != '\0';
	     p = *end != '\0' ? end + 1 : end) {
		if ((end = strchr(p, DM_LIST_SEP)) == NULL)
			end = p + strlen(p);
		if ((item = dm_strndup(p, (size_t)(end - p))) == NULL) {
			o->rc = DM_ENOMEM;
			break;
		}
		dm_out_puts(o, p != c->s ? ", " : "");
		json_str(o, item);
		dm_free(item);
	}
	dm_out_puts(o, "]");
}

static void json_rows(struct out *o, const struct dm_report *r,
    const struct section *s, size_t row0, size_t n, int nested);

/* One row as an object; nested rows leave out what their parent says. */
static void
json_row(struct out *o, const struct dm_report *r, const struct section *s,
    size_t row, int nested)
{
	size_t i;
	int first = 1;

	dm_out_puts(o, "{");
	for (i = 0; i < s->n_cols; i++) {
		const struct column *c = &s->cols[i];
		const struct cell *v = dm_section_cell(s, row, i);

		if (!dm_shows_col(c, F_JSON) || (nested && c->parent_key))
			continue;
		dm_out_puts(o, first ? "" : ", ");
		first = 0;
		json_str(o, c->key);
		dm_out_puts(o, ": ");
		if (v->kind == CELL_ROWS)
			json_rows(o, r, &r->sec[c->sub], (size_t)v->i, v->n, 1);
		else if (c->list)
			json_list(o, v);
		else if (c->sub != 0)
			dm_out_puts(o, "[]");
		else
			json_cell(o, v);
	}
	dm_out_puts(o, "}");
}

static void
json_rows(struct out *o, const struct dm_report *r, const struct section *s,
    size_t row0, size_t n, int nested)
{
	size_t i;

	dm_out_puts(o, "[");
	for (i = 0; i < n; i++) {
		dm_out_puts(o, i > 0 ? (nested ? ", " : ",\n    ")
		                     : (nested ? "" : "\n    "));
		json_row(o, r, s, row0 + i, nested);
	}
	dm_out_puts(o, n > 0 && !nested ? "\n  ]" : "]");
}

/* "more": {"sources": {"rows": 12, "messages": ...}, ...} for the sections
 * that list only their top rows. */
static void
json_more(struct out *o, const struct dm_report *r)
{
	size_t i;
	int first = 1;

	dm_out_puts(o, ",\n  \"more\": {");
	for (i = 0; i < SEC_COUNT; i++) {
		const struct more *m = &r->sec[i].more;

		if (m->rows == 0 || !dm_shows_section(&r->sec[i], F_JSON))
			continue;
		dm_out_puts(o, first ? "" : ", ");
		first = 0;
		json_str(o, r->sec[i].name);
		dm_out_printf(o,
		    ": {\"rows\": %lld, \"messages\": %lld, \"quarantined\": "
		    "%lld, \"rejected\": %lld}",
		    (long long)m->rows, (long long)m->messages,
		    (long long)m->quarantined, (long long)m->rejected);
	}
	dm_out_puts(o, "}");
}

int
dm_write_json(const struct dm_report *r, struct out *o)
{
	char a[32], b[32], c[32], d[32];
	size_t i;

	dm_out_printf(o,
	    "{\n  \"format\": \"dmarcstat-report\",\n  \"version\": 1,\n  "
	    "\"period\": {"
	    "\"first_day\": \"%s\", \"last_day\": \"%s\", \"days\": %lld, "
	    "\"previous_first_day\": \"%s\", \"previous_last_day\": \"%s\"},\n "
	    " \"filters\": {"
	    "\"domain\": ",
	    dm_format_day(r->from, a, sizeof(a)),
	    dm_format_day(r->to - DM_DAY_SECONDS, b, sizeof(b)),
	    (long long)((r->to - r->from) / DM_DAY_SECONDS),
	    dm_format_day(r->prev_from, c, sizeof(c)),
	    dm_format_day(r->from - DM_DAY_SECONDS, d, sizeof(d)));
	json_str(o, r->domain);
	dm_out_puts(o, ", \"reporter\": ");
	json_str(o, r->reporter);
	dm_out_printf(o, "},\n  \"bucket\": \"%s\"", dm_bucket_name(r->bucket));
	for (i = 0; i < SEC_COUNT; i++) {
		if (!dm_shows_section(&r->sec[i], F_JSON))
			continue;
		dm_out_puts(o, ",\n  ");
		json_str(o, r->sec[i].name);
		dm_out_puts(o, ": ");
		json_rows(o, r, &r->sec[i], 0, r->sec[i].n_rows, 0);
	}
	json_more(o, r);
	dm_out_printf(o, ",\n  \"by_domain\": %s,\n  \"by_service\": %s\n}\n",
	    r->by_domain ? "true" : "false", r->by_service ? "true" : "false");
	return o->rc;
}
