/*
 * text.c - the report for a terminal or a plain-text mail: aligned tables
 * within 100 columns.
 *
 * Columns take the width of their widest value, capped per column; when a table
 * would still be wider than 100 columns the widest text column gives way, and
 * values that do not fit end in
 * "...".  Long texts (why, fix, the ISPs of a source) are wrapped on lines of
 * their own under their row.  Colour (bold titles, red for
 * quarantined/rejected) only when the caller asks, which cli/ does on a
 * terminal without NO_COLOR.
 */
#include "report_int.h"

#include "i18n.h"

#include <stdio.h>
#include <string.h>

#define WIDTH 100
#define GAP 2
#define INDENT 6

#define BOLD "\033[1m"
#define RED "\033[31m"
#define RESET "\033[0m"

/* Byte length of the first n characters of s, as dm_out_text counts them. */
static size_t
prefix_bytes(const char *s, size_t n)
{
	const char *p = s;
	size_t len, w;

	for (; *p != '\0'; p += len) {
		if ((w = dm_text_char_width(p, &len)) > n)
			break;
		n -= w;
	}
	return (size_t)(p - s);
}

/* Writes s in exactly width columns: padded, or cut with "...".  color wraps s,
 * not padding. */
static void
put_fixed(
    struct out *o, const char *s, size_t width, int right, const char *color)
{
	size_t w = dm_text_width(s), i;

	if (w > width) {
		size_t keep = width > 3 ? width - 3 : 0;
		size_t nb = prefix_bytes(s, keep);
		char *cut = dm_strndup(s, nb);

		if (cut == NULL) {
			o->rc = DM_ENOMEM;
			return;
		}
		dm_out_text(o, cut);
		/* A wide character that would straddle the cut is left out. */
		for (i = dm_text_width(cut); i < keep; i++)
			dm_out_add(o, " ", 1);
		dm_free(cut);
		dm_out_add(o, "...", width > 3 ? 3 : width);
		return;
	}
	for (i = 0; right && i < width - w; i++)
		dm_out_add(o, " ", 1);
	if (color != NULL)
		dm_out_puts(o, color);
	dm_out_text(o, s);
	if (color != NULL)
		dm_out_puts(o, RESET);
	for (i = 0; !right && i < width - w; i++)
		dm_out_add(o, " ", 1);
}

static void
title(struct out *o, const char *t, int color)
{
	size_t i, n = dm_text_width(t);

	dm_out_printf(
	    o, "\n%s%s%s\n", color ? BOLD : "", t, color ? RESET : "");
	for (i = 0; i < n; i++)
		dm_out_add(o, "=", 1);
	dm_out_add(o, "\n", 1);
}

/* A column of the table (not a detail line, not the group heading). */
static int
in_table(const struct section *s, size_t i)
{
	return dm_shows_col(&s->cols[i], F_TEXT) && !s->cols[i].detail &&
	       (int)i != s->group_col;
}

static void
column_widths(const struct section *s, size_t *w)
{
	char buf[64];
	size_t i, r, total = 0;

	for (i = 0; i < s->n_cols; i++) {
		w[i] = in_table(s, i) ? dm_text_width(s->cols[i].title) : 0;
		for (r = 0; r < s->n_rows && in_table(s, i); r++) {
			size_t cw = dm_text_width(dm_cell_format(
			    dm_section_cell(s, r, i), buf, sizeof(buf)));

			if (cw > w[i])
				w[i] = cw;
		}
		if (s->cols[i].max_width > 0 &&
		    w[i] > (size_t)s->cols[i].max_width)
			w[i] = (size_t)s->cols[i].max_width;
		total += w[i] > 0 ? w[i] + (total > 0 ? GAP : 0) : 0;
	}
	while (total + (s->group_col >= 0 ? 2 : 0) > WIDTH) {
		size_t widest = 0;

		for (i = 1; i < s->n_cols; i++) {
			if (!s->cols[i].numeric && w[i] > w[widest])
				widest = i;
		}
		if (s->cols[widest].numeric || w[widest] <= 8)
			break;
		w[widest]--;
		total--;
	}
}

static void
table_row(struct out *o, const struct section *s, const size_t *w, size_t r,
    int color)
{
	char buf[64];
	size_t i;
	int first = 1;

	for (i = 0; i < s->n_cols; i++) {
		const struct cell *c;
		int hot;

		if (!in_table(s, i))
			continue;
		if (!first)
			dm_out_add(o, "  ", GAP);
		first = 0;
		if (r == (size_t)-1) {
			put_fixed(o, s->cols[i].title, w[i], s->cols[i].numeric,
			    NULL);
			continue;
		}
		c = dm_section_cell(s, r, i);
		hot = color && s->cols[i].alarm && c->kind == CELL_INT &&
		      c->i > 0;
		put_fixed(o, dm_cell_format(c, buf, sizeof(buf)), w[i],
		    s->cols[i].numeric, hot ? RED : NULL);
	}
	/* Trailing padding is noise in mail and diffs. */
	while (o->rc == DM_OK && o->b.len > 0 && o->b.data[o->b.len - 1] == ' ')
		o->b.data[--o->b.len] = '\0';
	dm_out_add(o, "\n", 1);
}

/* 1 when s holds a wide (East Asian) character. */
static int
has_wide(const char *s)
{
	size_t len;

	for (; *s != '\0'; s += len) {
		if (dm_text_char_width(s, &len) == 2)
			return 1;
	}
	return 0;
}

/* Japanese punctuation that must not begin a line (kinsoku): unbreakable()
 * keeps it with the character before it. */
static int
no_break_before(const char *p)
{
	static const char *const marks[] = {"\xe3\x80\x81", "\xe3\x80\x82",
	    "\xef\xbc\x89", "\xe3\x80\x8d", "\xef\xbc\x9a", "\xef\xbc\x8c",
	    "\xef\xbc\x8e"}; /* 、 。 ） 」 ： ， ． */
	size_t i;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if (strncmp(p, marks[i], strlen(marks[i])) == 0)
			return 1;
	}
	return 0;
}

/* 1 when the character of len bytes at p is an opening bracket: （ 「 */
static int
is_open(const char *p, size_t len)
{
	return len == 3 && (memcmp(p, "\xef\xbc\x88", 3) == 0 ||
	                       memcmp(p, "\xe3\x80\x8c", 3) == 0);
}

/* Columns of the run of narrow characters at s (a name, a number), and in
 * *end where it ends. */
static size_t
narrow_run(const char *s, const char **end)
{
	size_t len, w, n = 0;

	for (; *s != '\0' && (w = dm_text_char_width(s, &len)) < 2; s += len)
		n += w;
	*end = s;
	return n;
}

/*
 * Columns from p that must stay on one line: a wide character or a run of
 * narrow ones (first: p starts a run; else 0, inside one), with an opening
 * bracket before and closing punctuation after it.
 */
static size_t
unbreakable(const char *p, size_t len, size_t w, int first)
{
	const char *end = p + len;
	size_t unit = w == 2 ? w : first ? narrow_run(p, &end) : 0, nlen;

	if (unit > 0 && is_open(p, len) && *end != '\0') {
		size_t nw = dm_text_char_width(end, &nlen);

		unit += nw == 2 ? nw : narrow_run(end, &end);
		if (nw == 2)
			end += nlen;
	}
	while (unit > 0 && *end != '\0' && no_break_before(end)) {
		unit += dm_text_char_width(end, &nlen);
		end += nlen;
	}
	return unit;
}

/*
 * Writes word from column col on, breaking it onto lines indented to start
 * before a wide character or before a run of narrow ones (never inside a
 * domain or a number), after a space when space is 1; returns the column it
 * ends at.
 */
static size_t
wrap_long_word(
    struct out *o, const char *word, size_t col, size_t start, int space)
{
	const char *p = word;
	char ch[8];
	size_t len, w, unit, i;
	int prev_wide = 1, after_open = 0; /* nor may （ or 「 end a line */

	for (; *p != '\0' && o->rc == DM_OK; p += len) {
		w = dm_text_char_width(p, &len);
		if (len >= sizeof(ch))
			len = 1; /* not UTF-8: dm_out_text shows it */
		unit = unbreakable(p, len, w, prev_wide);
		if (unit > 0 && col + (size_t)space + unit > WIDTH &&
		    col > start && !after_open && !no_break_before(p)) {
			dm_out_add(o, "\n", 1);
			for (i = 0; i < start; i++)
				dm_out_add(o, " ", 1);
			col = start;
		} else if (space) {
			dm_out_add(o, " ", 1);
			col++;
		}
		space = 0;
		memcpy(ch, p, len);
		ch[len] = '\0';
		dm_out_text(o, ch);
		col += w;
		prev_wide = w == 2;
		after_open = is_open(p, len);
	}
	return col;
}

void
dm_text_wrap(struct out *o, size_t indent, const char *prefix, const char *text)
{
	size_t col, start = indent + dm_text_width(prefix), i;
	const char *p = text;

	for (i = 0; i < indent; i++)
		dm_out_add(o, " ", 1);
	dm_out_puts(o, prefix);
	col = start;
	while (*p != '\0') {
		size_t n = strcspn(p, " "), w;
		char *word = dm_strndup(p, n);

		if (word == NULL) {
			o->rc = DM_ENOMEM;
			return;
		}
		w = dm_text_width(word);
		if (has_wide(word)) {
			/* Japanese writes sentences without spaces: its
			   "words" break between characters. */
			col = wrap_long_word(o, word, col, start, col > start);
			dm_free(word);
			p += n;
			p += strspn(p, " ");
			continue;
		}
		if (col > start && col + 1 + w > WIDTH) {
			dm_out_add(o, "\n", 1);
			for (i = 0; i < start; i++)
				dm_out_add(o, " ", 1);
			col = start;
		} else if (col > start) {
			dm_out_add(o, " ", 1);
			col++;
		}
		dm_out_text(o, word);
		dm_free(word);
		col += w;
		p += n;
		p += strspn(p, " ");
	}
	dm_out_add(o, "\n", 1);
}

static void
details(struct out *o, const struct section *s, size_t r)
{
	size_t i;

	for (i = 0; i < s->n_cols; i++) {
		const struct cell *c = dm_section_cell(s, r, i);
		char prefix[32];

		if (!s->cols[i].detail || !dm_shows_col(&s->cols[i], F_TEXT) ||
		    c->kind != CELL_STR || c->s[0] == '\0')
			continue;
		snprintf(prefix, sizeof(prefix), "%s: ", s->cols[i].title);
		dm_text_wrap(
		    o, INDENT + (s->group_col >= 0 ? 2 : 0), prefix, c->s);
	}
}

static int
has_details(const struct section *s)
{
	size_t i;

	for (i = 0; i < s->n_cols; i++) {
		if (s->cols[i].detail && !s->cols[i].note &&
		    dm_shows_col(&s->cols[i], F_TEXT))
			return 1;
	}
	return 0;
}

/* The group starting at row r, or NULL. */
static const struct group *
group_at(const struct section *s, size_t r)
{
	size_t i;

	for (i = 0; i < s->n_groups; i++) {
		if (s->groups[i].row0 == r)
			return &s->groups[i];
	}
	return NULL;
}

static void
more_line(
    struct out *o, const struct section *s, const struct more *m, size_t indent)
{
	size_t i;

	if (m->rows == 0)
		return;
	dm_out_add(o, "\n", 1);
	for (i = 0; i < indent; i++)
		dm_out_add(o, " ", 1);
	dm_more_text(o, s, m);
	dm_out_puts(o, ".\n");
}

static void
section_text(struct out *o, const struct section *s, int color)
{
	size_t w[32], r, indent = s->group_col >= 0 ? 2 : 0, i;
	const struct group *g = NULL, *next;

	title(o, s->title, color);
	if (s->n_rows == 0) {
		dm_out_printf(o, "%s\n", s->empty);
		more_line(o, s, &s->more, 0);
		return;
	}
	column_widths(s, w);
	for (i = 0; i < indent; i++)
		dm_out_add(o, " ", 1);
	table_row(o, s, w, (size_t)-1, color);
	for (r = 0; r < s->n_rows; r++) {
		if ((next = group_at(s, r)) != NULL) {
			if (g != NULL)
				more_line(o, s, &g->more, indent);
			g = next;
			dm_out_add(o, "\n", 1);
			dm_out_text(o, g->heading);
			dm_out_add(o, "\n", 1);
		} else if (r > 0 && has_details(s))
			dm_out_add(o, "\n", 1);
		for (i = 0; i < indent; i++)
			dm_out_add(o, " ", 1);
		table_row(o, s, w, r, color);
		details(o, s, r);
	}
	if (g != NULL)
		more_line(o, s, &g->more, indent);
	more_line(o, s, &s->more, 0);
}

int
dm_write_text(const struct dm_report *r, int color, struct out *o)
{
	char a[32], b[32], c[32], d[32];
	long long days = (long long)((r->to - r->from) / DM_DAY_SECONDS);
	size_t i;

	dm_out_printf(o,
	    P_("%sDMARC report %s to %s%s (%lld day, UTC; previous period %s "
	       "to %s)\n",
	        "%sDMARC report %s to %s%s (%lld days, UTC; previous period %s "
	        "to %s)\n",
	        days),
	    color ? BOLD : "", dm_format_day(r->from, a, sizeof(a)),
	    dm_format_day(r->to - DM_DAY_SECONDS, b, sizeof(b)),
	    color ? RESET : "", days, dm_format_day(r->prev_from, c, sizeof(c)),
	    dm_format_day(r->from - DM_DAY_SECONDS, d, sizeof(d)));
	dm_out_puts(o, _("Domain: "));
	dm_out_text(o, r->domain != NULL ? r->domain : _("all"));
	dm_out_puts(o, _("   Reporter: "));
	dm_out_text(o, r->reporter != NULL ? r->reporter : _("all"));
	dm_out_puts(o, "\n");
	for (i = 0; i < SEC_COUNT; i++) {
		if (dm_shows_section(&r->sec[i], F_TEXT))
			section_text(o, &r->sec[i], color);
	}
	return o->rc;
}
