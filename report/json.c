/*
 * json.c - the whole report as one JSON document (RFC 8259), field names
 * documented in the README's JSON section.  Each section is an array of
 * objects keyed by the columns' stable keys; counts are integers, rates
 * numbers with one decimal, days "YYYY-MM-DD" strings, missing values null.
 * Strings go through core's dm_json_str (control characters, <, >, & and
 * invalid UTF-8 escaped), so the output is valid for jq and safe to embed in
 * HTML.
 */
#include "report_int.h"

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
		out_puts(o, "null");
		break;
	case CELL_STR:
	case CELL_DAY:
		json_str(o, cell_format(c, buf, sizeof(buf)));
		break;
	case CELL_DELTA:
		out_printf(o, "%lld", (long long)c->i);
		break;
	default:
		/* "+1.5" is not JSON: drop the sign of a positive change. */
		cell_format(c, buf, sizeof(buf));
		out_puts(o, buf[0] == '+' ? buf + 1 : buf);
		break;
	}
}

static void
json_section(struct out *o, const struct section *s)
{
	size_t r, i;

	out_puts(o, ",\n  ");
	json_str(o, s->name);
	out_puts(o, ": [");
	for (r = 0; r < s->n_rows; r++) {
		out_puts(o, r > 0 ? ",\n    {" : "\n    {");
		for (i = 0; i < s->n_cols; i++) {
			out_puts(o, i > 0 ? ", " : "");
			json_str(o, s->cols[i].key);
			out_puts(o, ": ");
			json_cell(o, section_cell(s, r, i));
		}
		out_puts(o, "}");
	}
	out_puts(o, s->n_rows > 0 ? "\n  ]" : "]");
}

int
write_json(const struct dm_report *r, struct out *o)
{
	char a[32], b[32], c[32], d[32];
	size_t i;

	out_printf(o,
	    "{\n  \"format\": \"dmarcstat-report\",\n  \"version\": 1,\n  "
	    "\"period\": {"
	    "\"first_day\": \"%s\", \"last_day\": \"%s\", \"days\": %lld, "
	    "\"previous_first_day\": \"%s\", \"previous_last_day\": \"%s\"},\n "
	    " \"filters\": {"
	    "\"domain\": ",
	    format_day(r->from, a, sizeof(a)),
	    format_day(r->to - 86400, b, sizeof(b)),
	    (long long)((r->to - r->from) / 86400),
	    format_day(r->prev_from, c, sizeof(c)),
	    format_day(r->from - 86400, d, sizeof(d)));
	json_str(o, r->domain);
	out_puts(o, ", \"reporter\": ");
	json_str(o, r->reporter);
	out_puts(o, "}");
	for (i = 0; i < SEC_COUNT; i++)
		json_section(o, &r->sec[i]);
	out_puts(o, "\n}\n");
	return o->rc;
}
