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
 *
 * Every row carries the period (period_first_day, period_last_day), so rows of
 * several weeks' files can be put together.  Without a table, every section
 * goes into one file that loads in one go: a leading "section" column names
 * each row's section, and the header is the union of the sections' columns
 * in order of first use (a column a section does not have is empty).
 */
#include "report_int.h"

#include "i18n.h"

#include <string.h>

#include "escape.h"

static void
csv_field(struct out *o, const struct column *col, const struct cell *c)
{
	char buf[64];
	const char *s = dm_cell_format(c, buf, sizeof(buf));
	int quote, formula;

	if (c->kind == CELL_NULL)
		return;
	if (c->kind != CELL_STR) {
		dm_out_puts(
		    o, s[0] == '+' ? s + 1 : s); /* a number, not "+12" text */
		return;
	}
	formula = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
	quote = strpbrk(s, ",\"\r\n") != NULL || formula;
	if (quote)
		dm_out_add(o, "\"", 1);
	if (formula)
		dm_out_add(o, "'", 1);
	while (*s != '\0') {
		size_t n;
		enum dm_char_kind k = dm_char_kind(s, &n);

		if (*s == '"')
			dm_out_add(o, "\"\"", 2);
		else if (*s == DM_LIST_SEP && col->list)
			dm_out_add(o, "; ", 2);
		else if (k == DM_CHAR_PLAIN ||
		         (n == 1 && (*s == '\n' || *s == '\r' || *s == '\t')))
			dm_out_add(o, s, n);
		else if (k == DM_CHAR_CONTROL)
			dm_out_add(o, "?", 1); /* escape sequences stay out of
			                       terminals and sheets */
		else
			dm_out_puts(o, "\xef\xbf\xbd"); /* not UTF-8, or bidi */
		s += n;
	}
	if (quote)
		dm_out_add(o, "\"", 1);
}

/* The most columns a CSV header has: every section's, merged. */
#define MAX_CSV_COLS 128

/* A CSV layout: the header's keys, and with "section" first or not. */
struct layout {
	const char *keys[MAX_CSV_COLS];
	size_t n;
	int with_section;
};

/* The column of s whose key is key and that CSV shows, or -1. */
static int
col_of(const struct section *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_cols; i++)
		if (dm_shows_col(&s->cols[i], F_CSV) &&
		    strcmp(s->cols[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Adds the CSV columns of s not yet in l. */
static void
layout_add(struct layout *l, const struct section *s)
{
	size_t i, j;

	for (i = 0; i < s->n_cols; i++) {
		if (!dm_shows_col(&s->cols[i], F_CSV))
			continue;
		for (j = 0; j < l->n && strcmp(l->keys[j], s->cols[i].key); j++)
			;
		if (j == l->n && l->n < MAX_CSV_COLS)
			l->keys[l->n++] = s->cols[i].key;
	}
}

static void
header(struct out *o, const struct layout *l)
{
	size_t i;

	dm_out_puts(o, l->with_section ? "section," : "");
	dm_out_puts(o, "period_first_day,period_last_day");
	for (i = 0; i < l->n; i++)
		dm_out_printf(o, ",%s", l->keys[i]);
	dm_out_add(o, "\r\n", 2);
}

/* The fields every row starts with: its section, the period. */
static void
row_start(struct out *o, const struct dm_report *r, const struct section *s,
    const struct layout *l)
{
	char a[32], b[32];

	if (l->with_section)
		dm_out_printf(o, "%s,", s->name);
	dm_out_printf(o, "%s,%s", dm_format_day(r->from, a, sizeof(a)),
	    dm_format_day(r->to - DM_DAY_SECONDS, b, sizeof(b)));
}

/* The "and N more" row: its count in the section's first column, sums under
 * the columns that hold them. */
static void
more_row(struct out *o, const struct dm_report *r, const struct section *s,
    const struct layout *l, int first_col)
{
	const struct more *m = &s->more;
	size_t i;

	row_start(o, r, s, l);
	for (i = 0; i < l->n; i++) {
		const char *k = l->keys[i];

		dm_out_add(o, ",", 1);
		if (col_of(s, k) == first_col)
			dm_out_printf(o, "and %lld more", (long long)m->rows);
		else if (col_of(s, k) < 0)
			continue;
		else if (strcmp(k, "messages") == 0 ||
		         strcmp(k, "previous_messages") == 0)
			dm_out_printf(o, "%lld", (long long)m->messages);
		else if (strcmp(k, "quarantined") == 0)
			dm_out_printf(o, "%lld", (long long)m->quarantined);
		else if (strcmp(k, "rejected") == 0)
			dm_out_printf(o, "%lld", (long long)m->rejected);
	}
	dm_out_add(o, "\r\n", 2);
}

static void
section_rows(struct out *o, const struct dm_report *r, const struct section *s,
    const struct layout *l)
{
	int map[MAX_CSV_COLS], first_col = -1;
	size_t i, row;

	for (i = 0; i < l->n; i++) {
		map[i] = col_of(s, l->keys[i]);
		if (first_col < 0 || (map[i] >= 0 && map[i] < first_col))
			first_col = map[i];
	}
	for (row = 0; row < s->n_rows; row++) {
		row_start(o, r, s, l);
		for (i = 0; i < l->n; i++) {
			dm_out_add(o, ",", 1);
			if (map[i] >= 0)
				csv_field(o, &s->cols[map[i]],
				    dm_section_cell(s, row, (size_t)map[i]));
		}
		dm_out_add(o, "\r\n", 2);
	}
	if (s->more.rows > 0)
		more_row(o, r, s, l, first_col);
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
		    i == 0 ? "" : (t[i + 1] == NULL ? _(" or ") : ", "), t[i]);
	rc = dm_error_set(err, DM_EINVAL, _("unknown CSV table '%s': %s"),
	    table, b.data != NULL ? b.data : "");
	dm_buf_free(&b);
	return rc;
}

int
dm_write_csv(const struct dm_report *r, const char *table, struct out *o,
    struct dm_error *err)
{
	struct layout l = {.n = 0, .with_section = table == NULL};
	size_t i;

	for (i = 0; i < SEC_COUNT && table != NULL; i++)
		if (strcmp(r->sec[i].name, table) == 0)
			break;
	if (table != NULL && i == SEC_COUNT)
		return unknown_table(table, err);
	if (table != NULL) {
		layout_add(&l, &r->sec[i]);
		header(o, &l);
		section_rows(o, r, &r->sec[i], &l);
		return o->rc;
	}
	for (i = 0; i < SEC_COUNT; i++)
		if (dm_shows_section(&r->sec[i], F_CSV))
			layout_add(&l, &r->sec[i]);
	header(o, &l);
	for (i = 0; i < SEC_COUNT; i++)
		if (dm_shows_section(&r->sec[i], F_CSV))
			section_rows(o, r, &r->sec[i], &l);
	return o->rc;
}
