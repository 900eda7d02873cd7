/*
 * out.c - the output buffer every renderer writes into, and text made safe for
 * terminals.
 *
 * A report is small (each section lists at most DM_REPORT_TOP_MAX rows, every
 * text cut to DM_QUERY_TEXT_MAX characters), so it is built in memory and
 * written at once; the buffer keeps the first error so renderers need not check
 * every append.  Text from reports may carry escape sequences, bidirectional
 * controls or broken UTF-8: dm_out_text() neutralises them (core/escape.h)
 * before anything reaches a terminal or a mail.
 */
#include "report_int.h"

#include "i18n.h"

#include <stdarg.h>
#include <string.h>

#include <time.h>

#include "escape.h"

/* A report of 10,000 failing sources with explanations stays far below this. */
#define OUT_MAX ((size_t)256 << 20)

void
dm_out_init(struct out *o)
{
	dm_buf_init(&o->b, OUT_MAX);
	o->rc = DM_OK;
}

void
dm_out_add(struct out *o, const char *s, size_t n)
{
	if (o->rc == DM_OK)
		o->rc = dm_buf_add(&o->b, s, n);
}

void
dm_out_puts(struct out *o, const char *s)
{
	dm_out_add(o, s, strlen(s));
}

void
dm_out_printf(struct out *o, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(small)) {
		/* Our formats print numbers and short words only; longer text
		 * goes through dm_out_add. */
		if (o->rc == DM_OK)
			o->rc = DM_EINVAL;
		return;
	}
	dm_out_add(o, small, (size_t)n);
}

int
dm_out_flush(struct out *o, FILE *f, struct dm_error *err)
{
	if (o->rc != DM_OK)
		return dm_error_set(err, o->rc, _("writing the report: %s"),
		    dm_strerror(o->rc));
	if (o->b.len > 0 && fwrite(o->b.data, 1, o->b.len, f) != o->b.len)
		return dm_error_set(
		    err, DM_EIO, _("writing the report failed"));
	if (fflush(f) != 0 || ferror(f))
		return dm_error_set(
		    err, DM_EIO, _("writing the report failed"));
	return DM_OK;
}

void
dm_out_textf(struct out *o, const char *fmt, ...)
{
	struct dm_buf b;
	va_list ap;
	int rc;

	dm_buf_init(&b, (size_t)1 << 20);
	va_start(ap, fmt);
	rc = dm_buf_addv(&b, fmt, ap);
	va_end(ap);
	if (rc == DM_OK)
		dm_out_text(o, b.data);
	else if (o->rc == DM_OK)
		o->rc = rc;
	dm_buf_free(&b);
}

void
dm_out_free(struct out *o)
{
	dm_buf_free(&o->b);
}

size_t
dm_out_text(struct out *o, const char *s)
{
	size_t chars = 0, n;

	while (*s != '\0') {
		switch (dm_char_kind(s, &n)) {
		case DM_CHAR_PLAIN:
			dm_out_add(o, s, n);
			break;
		case DM_CHAR_CONTROL:
			dm_out_puts(o, "?");
			break;
		default: /* bidirectional control, invalid UTF-8 */
			dm_out_puts(o, "\xef\xbf\xbd"); /* U+FFFD */
			break;
		}
		s += n;
		chars++;
	}
	return chars;
}

/*
 * Display widths by Unicode's East Asian Width (wide and fullwidth: 2) and
 * the marks that join the character before them (0), for the scripts that
 * report text carries.  A table rather than wcwidth(3): wcwidth answers only
 * under a UTF-8 locale, and a report's layout must not change with the
 * locale of the cron job that writes it.
 */
static const struct {
	unsigned first, last, width;
} widths[] = {
    {0x0300, 0x036f, 0}, /* combining diacritical marks */
    {0x0483, 0x0489, 0},
    {0x0591, 0x05bd, 0},
    {0x0610, 0x061a, 0},
    {0x064b, 0x065f, 0},
    {0x1100, 0x115f, 2}, /* Hangul Jamo initials */
    {0x1ab0, 0x1aff, 0},
    {0x1dc0, 0x1dff, 0},
    {0x200b, 0x200d, 0}, /* zero-width space, (non-)joiner */
    {0x20d0, 0x20ff, 0},
    {0x231a, 0x231b, 2},
    {0x2329, 0x232a, 2},
    {0x2e80, 0x303e, 2}, /* CJK radicals, punctuation */
    {0x3041, 0x33ff, 2}, /* kana, CJK compatibility */
    {0x3400, 0x4dbf, 2},
    {0x4e00, 0x9fff, 2}, /* CJK ideographs */
    {0xa000, 0xa4cf, 2},
    {0xa960, 0xa97f, 2},
    {0xac00, 0xd7a3, 2}, /* Hangul syllables */
    {0xf900, 0xfaff, 2},
    {0xfe00, 0xfe0f, 0}, /* variation selectors */
    {0xfe10, 0xfe19, 2},
    {0xfe20, 0xfe2f, 0},
    {0xfe30, 0xfe6f, 2},
    {0xff00, 0xff60, 2}, /* fullwidth forms */
    {0xffe0, 0xffe6, 2},
    {0x1f300, 0x1f64f, 2}, /* emoji */
    {0x1f900, 0x1f9ff, 2},
    {0x20000, 0x2fffd, 2},
    {0x30000, 0x3fffd, 2},
};

/* The code point of the valid UTF-8 character of n bytes at s. */
static unsigned
code_point(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned c = n == 1 ? u[0] : u[0] & (0x7fu >> n);
	size_t i;

	for (i = 1; i < n; i++)
		c = c << 6 | (u[i] & 0x3fu);
	return c;
}

size_t
dm_text_char_width(const char *s, size_t *len)
{
	size_t i;
	unsigned c;

	/* What is not plain is written as one '?' or U+FFFD. */
	if (dm_char_kind(s, len) != DM_CHAR_PLAIN || *len == 1)
		return 1;
	c = code_point(s, *len);
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		if (c < widths[i].first)
			break;
		if (c <= widths[i].last)
			return widths[i].width;
	}
	return 1;
}

size_t
dm_text_width(const char *s)
{
	size_t cols = 0, n;

	for (; *s != '\0'; s += n)
		cols += dm_text_char_width(s, &n);
	return cols;
}

void
dm_more_text(struct out *o, const struct section *s, const struct more *m)
{
	dm_out_printf(o, _("and %lld more %s: %lld messages"),
	    (long long)m->rows, s->noun, (long long)m->messages);
	if (m->quarantined > 0)
		dm_out_printf(
		    o, _(", %lld quarantined"), (long long)m->quarantined);
	if (m->rejected > 0)
		dm_out_printf(o, _(", %lld rejected"), (long long)m->rejected);
}

const char *
dm_format_day(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
	return buf;
}

const char *
dm_cell_format(const struct cell *c, char *buf, size_t size)
{
	int64_t a = c->i < 0 ? -c->i : c->i;

	switch (c->kind) {
	case CELL_STR:
		return c->s;
	case CELL_INT:
		snprintf(buf, size, "%lld", (long long)c->i);
		break;
	case CELL_DELTA:
		snprintf(buf, size, "%+lld", (long long)c->i);
		break;
	case CELL_PERMILLE:
		snprintf(buf, size, "%lld.%lld", (long long)(c->i / 10),
		    (long long)(c->i % 10));
		break;
	case CELL_DELTA_PM:
		snprintf(buf, size, "%c%lld.%lld", c->i < 0 ? '-' : '+',
		    (long long)(a / 10), (long long)(a % 10));
		break;
	case CELL_DAY:
		return dm_format_day(c->i, buf, size);
	case CELL_ROWS:
		snprintf(buf, size, "%s", "");
		break;
	default:
		snprintf(buf, size, "-");
		break;
	}
	return buf;
}
