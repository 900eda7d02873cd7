/*
 * escape.c - see escape.h.  Decoding UTF-8 reuses json.c's validator, so that
 * the text escapes and JSON agree on what valid UTF-8 is.
 */
#include "escape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "json.h"

/* The code point of the valid UTF-8 sequence of len bytes at s. */
static uint32_t
code_point(const unsigned char *s, size_t len)
{
	static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	uint32_t c = s[0] & lead_mask[len];
	size_t i;

	for (i = 1; i < len; i++)
		c = c << 6 | (s[i] & 0x3fu);
	return c;
}

static int
is_bidi(uint32_t c)
{
	return c == 0x061c || c == 0x200e || c == 0x200f ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

enum dm_char_kind
dm_char_kind(const char *str, size_t *len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = dm_utf8_len(s);
	uint32_t c;

	*len = n == 0 ? 1 : n;
	if (n == 0)
		return DM_CHAR_INVALID;
	c = code_point(s, n);
	if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029)
		return DM_CHAR_CONTROL;
	return is_bidi(c) ? DM_CHAR_BIDI : DM_CHAR_PLAIN;
}

/*
 * The escape of the character at s into out (up to 7 bytes and a NUL), and the
 * bytes it takes in *used; 0 when it is printed as it is.
 */
static size_t
escape_one(const unsigned char *s, char *out, size_t *used)
{
	enum dm_char_kind k = dm_char_kind((const char *)s, used);

	if (k == DM_CHAR_INVALID || s[0] < 0x20 || s[0] == 0x7f)
		return (size_t)snprintf(out, 8, "\\x%02x", s[0]);
	if (s[0] == '\\')
		return (size_t)snprintf(out, 8, "\\\\");
	if (k != DM_CHAR_PLAIN)
		return (size_t)snprintf(
		    out, 8, "\\u%04x", (unsigned)code_point(s, *used));
	return 0;
}

int
dm_escape_text(struct dm_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	char esc[8];
	size_t n, used;
	int rc = DM_OK;

	if (s == NULL)
		return DM_OK;
	while (*p != '\0' && rc == DM_OK) {
		if ((n = escape_one(p, esc, &used)) == 0) {
			p += used;
			continue;
		}
		if ((rc = dm_buf_add(b, run, (size_t)(p - run))) == DM_OK)
			rc = dm_buf_add(b, esc, n);
		p += used;
		run = p;
	}
	return rc == DM_OK ? dm_buf_add(b, run, (size_t)(p - run)) : rc;
}

const char *
dm_escape_line(char *buf, size_t n, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t o = 0, cut = 0, k, used;

	buf[0] = '\0';
	if (s == NULL || n < 4)
		return buf;
	while (*p != '\0') {
		if ((k = escape_one(p, esc, &used)) == 0) {
			memcpy(esc, p, used);
			k = used;
		}
		if (o + k >= n) {
			/* cut: the last end of a character with room for "..."
			 */
			memcpy(buf + cut, "...", 4);
			return buf;
		}
		memcpy(buf + o, esc, k);
		o += k;
		p += used;
		if (o + 3 < n)
			cut = o;
	}
	buf[o] = '\0';
	return buf;
}
