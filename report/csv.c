/*
 * csv.c - one section as CSV (RFC 4180): a header line of the columns' stable
 * keys, CRLF line ends, fields quoted when they hold a comma, a quote, CR or
 * LF, quotes doubled.
 *
 * Text from reports is also made safe for spreadsheets: invalid UTF-8 becomes
 * U+FFFD, control characters other than TAB, CR and LF become '?', and a text
 * field starting with = + - @ TAB or CR gets a leading apostrophe so that no
 * spreadsheet runs it as a formula (OWASP "CSV injection").  Numbers are
 * written as numbers.
 */
#include "report_int.h"

#include <string.h>

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
		size_t n = text_char_len(s);
		unsigned char ch = (unsigned char)*s;

		if (ch == '"')
			out_add(o, "\"\"", 2);
		else if (n == 1 && ch >= 0x80)
			out_puts(o, "\xef\xbf\xbd"); /* not UTF-8 */
		else if ((ch < 0x20 && ch != '\n' && ch != '\r' &&
		             ch != '\t') ||
		         ch == 0x7f)
			out_add(o, "?", 1); /* escape sequences stay out of
			                       terminals and sheets */
		else
			out_add(o, s, n);
		s += n;
	}
	if (quote)
		out_add(o, "\"", 1);
}

int
write_csv(const struct dm_report *r, const char *table, struct out *o,
    struct dm_error *err)
{
	const struct section *s = NULL;
	size_t i, row;

	for (i = 0; i < SEC_COUNT && table != NULL; i++) {
		if (strcmp(r->sec[i].name, table) == 0)
			s = &r->sec[i];
	}
	if (s == NULL)
		return dm_error_set(err, DM_EINVAL,
		    "CSV needs a table: overview, isps, sources, new_sources, "
		    "silent_isps, domains "
		    "or daily%s%s",
		    table != NULL ? "; unknown table: " : "",
		    table != NULL ? table : "");
	for (i = 0; i < s->n_cols; i++)
		out_printf(o, "%s%s", i > 0 ? "," : "", s->cols[i].key);
	out_add(o, "\r\n", 2);
	for (row = 0; row < s->n_rows; row++) {
		for (i = 0; i < s->n_cols; i++) {
			if (i > 0)
				out_add(o, ",", 1);
			csv_field(o, section_cell(s, row, i));
		}
		out_add(o, "\r\n", 2);
	}
	return o->rc;
}
