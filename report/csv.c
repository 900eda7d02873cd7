/*
 * csv.c - one section as CSV (RFC 4180): a header line of the columns' stable
 * keys, CRLF line ends, fields quoted when they hold a comma, a quote, CR or
 * LF, quotes doubled.
 *
 * Text from reports is also made safe for spreadsheets and for the terminal a
 * CSV file is often looked at in (core/escape.h): invalid UTF-8 and
 * bidirectional controls (U+202E...) become U+FFFD, control characters other
 * than TAB, CR and LF become '?', and a text field starting with = + - @ TAB or
 * CR gets a leading apostrophe so that no spreadsheet runs it as a formula
 * (OWASP "CSV injection").  Numbers are written as numbers, one per column.
 * A section that lists only its top rows ends with a row whose first field
 * says how many more there are, with their sums in the count columns.
 */
#include "report_int.h"

#include <string.h>

#include "escape.h"

static void
csv_field(struct out *o, const struct cell *c)
{
	char buf[64];
	const char *s = cell_format(c, buf, sizeof(buf));
	int quote, formula;

	if (c->kind == CELL_NULL)
		return;
	if (c->kind != CELL_STR) {
		out_puts(
		    o, s[0] == '+' ? s + 1 : s); /* a number, not "+12" text */
		return;
	}
	formula = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
	quote = strpbrk(s, ",\"\r\n") != NULL || formula;
	if (quote)
		out_add(o, "\"", 1);
	if (formula)
		out_add(o, "'", 1);
	while (*s != '\0') {
		size_t n;
		enum dm_char_kind k = dm_char_kind(s, &n);

		if (*s == '"')
			out_add(o, "\"\"", 2);
		else if (k == DM_CHAR_PLAIN ||
		         (n == 1 && (*s == '\n' || *s == '\r' || *s == '\t')))
			out_add(o, s, n);
		else if (k == DM_CHAR_CONTROL)
			out_add(o, "?", 1); /* escape sequences stay out of
			                       terminals and sheets */
		else
			out_puts(o, "\xef\xbf\xbd"); /* not UTF-8, or bidi */
		s += n;
	}
	if (quote)
		out_add(o, "\"", 1);
}

/* The "and N more" row: its count in the first column, sums under the
 * columns that hold them. */
static void
more_row(struct out *o, const struct section *s)
{
	const struct more *m = &s->more;
	size_t i;
	int first = 1;

	for (i = 0; i < s->n_cols; i++) {
		const char *k = s->cols[i].key;

		if (!shows_col(&s->cols[i], F_CSV))
			continue;
		if (!first)
			out_add(o, ",", 1);
		if (first)
			out_printf(o, "and %lld more", (long long)m->rows);
		else if (strcmp(k, "messages") == 0 ||
		         strcmp(k, "previous_messages") == 0)
			out_printf(o, "%lld", (long long)m->messages);
		else if (strcmp(k, "quarantined") == 0)
			out_printf(o, "%lld", (long long)m->quarantined);
		else if (strcmp(k, "rejected") == 0)
			out_printf(o, "%lld", (long long)m->rejected);
		first = 0;
	}
	out_add(o, "\r\n", 2);
}

static int
unknown_table(const char *table, struct dm_error *err)
{
	const char *const *t = dm_report_tables();
	struct dm_buf b;
	size_t i;
	int rc = DM_OK;

	dm_buf_init(&b, 1 << 12);
	for (i = 0; rc == DM_OK && t[i] != NULL; i++)
		rc = dm_buf_addf(&b, "%s%s",
		    i == 0 ? "" : (t[i + 1] == NULL ? " or " : ", "), t[i]);
	rc = dm_error_set(err, DM_EINVAL, "CSV needs a table: %s%s%s",
	    b.data != NULL ? b.data : "",
	    table != NULL ? "; unknown table: " : "",
	    table != NULL ? table : "");
	dm_buf_free(&b);
	return rc;
}

int
write_csv(const struct dm_report *r, const char *table, struct out *o,
    struct dm_error *err)
{
	const struct section *s = NULL;
	size_t i, row;
	int first;

	for (i = 0; i < SEC_COUNT && table != NULL; i++) {
		if (strcmp(r->sec[i].name, table) == 0)
			s = &r->sec[i];
	}
	if (s == NULL)
		return unknown_table(table, err);
	for (i = 0, first = 1; i < s->n_cols; i++) {
		if (!shows_col(&s->cols[i], F_CSV))
			continue;
		out_printf(o, "%s%s", first ? "" : ",", s->cols[i].key);
		first = 0;
	}
	out_add(o, "\r\n", 2);
	for (row = 0; row < s->n_rows; row++) {
		for (i = 0, first = 1; i < s->n_cols; i++) {
			if (!shows_col(&s->cols[i], F_CSV))
				continue;
			if (!first)
				out_add(o, ",", 1);
			csv_field(o, section_cell(s, row, i));
			first = 0;
		}
		out_add(o, "\r\n", 2);
	}
	if (s->more.rows > 0)
		more_row(o, s);
	return o->rc;
}
