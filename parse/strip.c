/*
 * strip.c - removes XML comments and processing instructions from the byte
 * stream before libxml2 reads it.
 *
 * libxml2's reader keeps every comment and processing-instruction node it
 * meets in its tree (it frees elements behind it, not those): 512 MiB of
 * small comments in a 16 MB gzip took 2.2 GB.  A DMARC report needs neither
 * (the parser ignores them, and <extensions> are kept without them), so they
 * are cut out here, on the bytes, in constant memory.  The XML declaration is
 * kept: it must come first and may name the encoding.
 *
 * The scan follows just enough of XML to know where markup is: a '<' outside
 * markup opens markup ('<' is not allowed in text or attribute values), and
 * CDATA sections ("<![CDATA[ <!-- is text ]]>") and the declaration are passed
 * through untouched.  It works on code units of 1 or 2 bytes (UTF-8 and
 * single-byte encodings, UTF-16 in either byte order), comparing only their
 * ASCII values, so a multi-byte character never looks like markup.
 * What is not well-formed is left for libxml2 to refuse.  Output may overlap
 * input (memmove): the caller strips a chunk in place.
 */
#include <string.h>

#include "parse_int.h"

enum {
	S_TEXT = 0,
	S_LT,            /* "<" held */
	S_LT_BANG,       /* "<!" held */
	S_LT_BANG_DASH,  /* "<!-" held */
	S_COMMENT,       /* dropping */
	S_COMMENT_DASH,  /* ... after "-" */
	S_COMMENT_DASH2, /* ... after "--" */
	S_PI,            /* dropping */
	S_PI_Q,          /* ... after "?" */
	S_DECL,          /* the XML declaration: kept */
	S_DECL_Q,
	S_CDATA, /* kept */
	S_CDATA_B1,
	S_CDATA_B2
};

void
dm_strip_init(struct dm_strip *s, unsigned width, int big_endian)
{
	memset(s, 0, sizeof(*s));
	s->width = width == 2 ? 2 : 1;
	s->big_endian = big_endian;
}

/* The value of the code unit at u. */
static uint32_t
unit_value(const struct dm_strip *s, const unsigned char *u)
{
	uint32_t v = 0;
	unsigned i;

	for (i = 0; i < s->width; i++) {
		unsigned b = s->big_endian ? i : s->width - 1 - i;

		v = v << 8 | u[b];
	}
	return v;
}

static int
is_space_unit(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xfeff;
}

static void
emit(struct dm_strip *s, const unsigned char *u, unsigned char *out, size_t *o)
{
	memmove(out + *o, u, s->width);
	*o += s->width;
}

static void
hold(struct dm_strip *s, const unsigned char *u)
{
	memcpy(s->held + s->held_len, u, s->width);
	s->held_len += s->width;
}

static void
flush_held(struct dm_strip *s, unsigned char *out, size_t *o)
{
	memmove(out + *o, s->held, s->held_len);
	*o += s->held_len;
	s->held_len = 0;
}

/* After '<': what it opens. */
static int
after_lt(struct dm_strip *s, uint32_t c, const unsigned char *u,
    unsigned char *out, size_t *o)
{
	if (c == '!') {
		hold(s, u);
		return S_LT_BANG;
	}
	if (c == '?' && !s->started) {
		flush_held(s, out, o);
		emit(s, u, out, o);
		return S_DECL;
	}
	if (c == '?') {
		s->held_len = 0;
		s->dropped++;
		return S_PI;
	}
	flush_held(s, out, o);
	emit(s, u, out, o);
	return S_TEXT;
}

/* After "<!" or "<!-": a comment, a CDATA section, or a declaration. */
static int
after_bang(struct dm_strip *s, uint32_t c, const unsigned char *u,
    unsigned char *out, size_t *o)
{
	if (c == '-' && s->state == S_LT_BANG) {
		hold(s, u);
		return S_LT_BANG_DASH;
	}
	if (c == '-') {
		s->held_len = 0;
		s->dropped++;
		return S_COMMENT;
	}
	flush_held(s, out, o);
	emit(s, u, out, o);
	return s->state == S_LT_BANG && c == '[' ? S_CDATA : S_TEXT;
}

/* States that drop what they see: comments and processing instructions. */
static int
dropping(int state, uint32_t c)
{
	switch (state) {
	case S_COMMENT:
		return c == '-' ? S_COMMENT_DASH : S_COMMENT;
	case S_COMMENT_DASH:
		return c == '-' ? S_COMMENT_DASH2 : S_COMMENT;
	case S_COMMENT_DASH2:
		return c == '>'   ? S_TEXT
		       : c == '-' ? S_COMMENT_DASH2
		                  : S_COMMENT;
	case S_PI:
		return c == '?' ? S_PI_Q : S_PI;
	default: /* S_PI_Q */
		return c == '>' ? S_TEXT : c == '?' ? S_PI_Q : S_PI;
	}
}

/* States that keep what they see; returns the next state. */
static int
keeping(struct dm_strip *s, uint32_t c)
{
	switch (s->state) {
	case S_DECL:
		return c == '?' ? S_DECL_Q : S_DECL;
	case S_DECL_Q:
		return c == '>' ? S_TEXT : c == '?' ? S_DECL_Q : S_DECL;
	case S_CDATA:
		return c == ']' ? S_CDATA_B1 : S_CDATA;
	case S_CDATA_B1:
		return c == ']' ? S_CDATA_B2 : S_CDATA;
	default: /* S_CDATA_B2 */
		return c == '>' ? S_TEXT : c == ']' ? S_CDATA_B2 : S_CDATA;
	}
}

/* One code unit. */
static void
step(struct dm_strip *s, const unsigned char *u, unsigned char *out, size_t *o)
{
	uint32_t c = unit_value(s, u);

	switch (s->state) {
	case S_TEXT:
		if (c == '<') {
			hold(s, u);
			s->state = S_LT;
			return;
		}
		emit(s, u, out, o);
		s->started |= !is_space_unit(c);
		return;
	case S_LT:
		s->state = after_lt(s, c, u, out, o);
		s->started = 1;
		return;
	case S_LT_BANG:
	case S_LT_BANG_DASH:
		s->state = after_bang(s, c, u, out, o);
		return;
	case S_COMMENT:
	case S_COMMENT_DASH:
	case S_COMMENT_DASH2:
	case S_PI:
	case S_PI_Q:
		s->state = dropping(s->state, c);
		return;
	default:
		emit(s, u, out, o);
		s->state = keeping(s, c);
		return;
	}
}

/*
 * For single-byte units: how many bytes from in (at most n) the current state
 * passes over without changing, found with memchr; they are kept or dropped
 * whole.  This is the path of nearly every byte of a report.
 */
static size_t
run_length(const struct dm_strip *s, const unsigned char *in, size_t n)
{
	const unsigned char *stop;
	int c;

	switch (s->state) {
	case S_TEXT:
		c = '<';
		break;
	case S_COMMENT:
		c = '-';
		break;
	case S_PI:
		c = '?';
		break;
	case S_CDATA:
		c = ']';
		break;
	default:
		return 0;
	}
	stop = memchr(in, c, n);
	return stop != NULL ? (size_t)(stop - in) : n;
}

/* Passes a run of single-byte units found by run_length. */
static void
pass_run(struct dm_strip *s, const unsigned char *in, size_t k,
    unsigned char *out, size_t *o)
{
	size_t j;

	if (s->state == S_COMMENT || s->state == S_PI)
		return;
	memmove(out + *o, in, k);
	*o += k;
	for (j = 0; !s->started && s->state == S_TEXT && j < k; j++)
		s->started = !is_space_unit(in[j]);
}

size_t
dm_strip(
    struct dm_strip *s, const unsigned char *in, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0, take, k;

	if (n == 0) {
		/* The end: what is held (a "<!" cut short, half a unit) goes
		 * to libxml2, which says what is wrong with it. */
		flush_held(s, out, &o);
		memmove(out + o, s->part, s->part_len);
		o += s->part_len;
		s->part_len = 0;
		return o;
	}
	if (s->part_len > 0) {
		take = s->width - s->part_len < n ? s->width - s->part_len : n;
		memcpy(s->part + s->part_len, in, take);
		s->part_len += take;
		i = take;
		if (s->part_len < s->width)
			return 0;
		s->part_len = 0;
		step(s, s->part, out, &o);
	}
	while (i + s->width <= n) {
		if (s->width == 1 && (k = run_length(s, in + i, n - i)) > 0) {
			pass_run(s, in + i, k, out, &o);
			i += k;
			continue;
		}
		/* A tag ("<x", "</x"): nothing to hold, the common case. */
		if (s->width == 1 && s->state == S_TEXT && i + 1 < n &&
		    in[i] == '<' && in[i + 1] != '!' && in[i + 1] != '?' &&
		    in[i + 1] != '<') {
			memmove(out + o, in + i, 2);
			o += 2;
			i += 2;
			s->started = 1;
			continue;
		}
		step(s, in + i, out, &o);
		i += s->width;
	}
	memcpy(s->part, in + i, n - i);
	s->part_len = n - i;
	return o;
}
