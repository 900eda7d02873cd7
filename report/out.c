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
/* wcwidth(3) is X/Open. */
#define _XOPEN_SOURCE 700

#include "report_int.h"

#include "i18n.h"

#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <wchar.h>

#include <time.h>

#include "escape.h"

static int multibyte_width(const char *s, size_t n);

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
			if (n > 1 && multibyte_width(s, n) < 0)
				dm_out_puts(o, "\xef\xbf\xbd"); /* U+FFFD */
			else
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
 * Display widths come from the C library's wcwidth(3), which follows the
 * Unicode data of the C library (East Asian wide and fullwidth: 2; combining
 * and other zero-width marks: 0).  wcwidth answers only under a UTF-8
 * LC_CTYPE, and cli/ keeps the process in the "C" locale (cli/i18n.c), so
 * widths are asked under a UTF-8 locale object of their own: C.UTF-8, which
 * glibc always has and which makes a report's layout independent of the
 * cron job's LANG; failing that the user's locale when it is UTF-8.  Without
 * either, every printable character counts one column.
 */
static locale_t width_locale;
static pthread_once_t width_once = PTHREAD_ONCE_INIT;

/* 1 when loc's character set is UTF-8. */
static int
is_utf8(locale_t loc)
{
	const char *cs = nl_langinfo_l(CODESET, loc);

	return strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0;
}

static void
open_width_locale(void)
{
	locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);

	if (loc == (locale_t)0 &&
	    (loc = newlocale(LC_CTYPE_MASK, "", (locale_t)0)) != (locale_t)0 &&
	    !is_utf8(loc)) {
		freelocale(loc);
		loc = (locale_t)0;
	}
	/* Kept for the life of the process, like the C library's own. */
	width_locale = loc;
}

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

/*
 * wcwidth of the multi-byte character of n bytes at s: -1 when it is not
 * printable (unassigned, a noncharacter), 1 when no UTF-8 locale exists.
 */
static int
multibyte_width(const char *s, size_t n)
{
	locale_t old;
	int w;

	pthread_once(&width_once, open_width_locale);
	if (width_locale == (locale_t)0)
		return 1;
	old = uselocale(width_locale);
	w = wcwidth((wchar_t)code_point(s, n));
	uselocale(old);
	return w;
}

size_t
dm_text_char_width(const char *s, size_t *len)
{
	int w;

	/* What is not plain or not printable is written as one '?' or
	 * U+FFFD (dm_out_text). */
	if (dm_char_kind(s, len) != DM_CHAR_PLAIN || *len == 1)
		return 1;
	w = multibyte_width(s, *len);
	return w < 0 ? 1 : (size_t)w;
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
