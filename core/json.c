/* json.c - JSON escaping (RFC 8259), with UTF-8 validation so output is always
 * valid JSON. */
#include "json.h"

#include <inttypes.h>
#include <string.h>

#include "error.h"

int
dm_utf8_seq(const unsigned char *s, size_t avail)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	/* Byte by byte, so that a NUL (not a continuation byte) stops it. */
	for (i = 1; i < n; i++) {
		if (i == avail)
			return -1;
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return (int)n;
}

size_t
dm_utf8_len(const unsigned char *s)
{
	int n = dm_utf8_seq(s, 4);

	return n > 0 ? (size_t)n : 0;
}

static int
add_escape(struct dm_buf *b, unsigned c)
{
	switch (c) {
	case '"':
		return dm_buf_add(b, "\\\"", 2);
	case '\\':
		return dm_buf_add(b, "\\\\", 2);
	case '\n':
		return dm_buf_add(b, "\\n", 2);
	case '\r':
		return dm_buf_add(b, "\\r", 2);
	case '\t':
		return dm_buf_add(b, "\\t", 2);
	default:
		return dm_buf_addf(b, "\\u%04x", c);
	}
}

static int
needs_escape(const unsigned char *s)
{
	if (s[0] < 0x20 || s[0] == '"' || s[0] == '\\' || s[0] == '<' ||
	    s[0] == '>' || s[0] == '&' || s[0] == 0x7f)
		return 1;
	/* U+2028 and U+2029 end lines in JavaScript. */
	return s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9);
}

int
dm_json_str(struct dm_buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str, *run;
	int rc;

	if (str == NULL)
		return dm_buf_add(b, "null", 4);
	if ((rc = dm_buf_add(b, "\"", 1)) != DM_OK)
		return rc;
	run = s;
	while (*s != '\0') {
		size_t n = dm_utf8_len(s);

		if (n == 1 && !needs_escape(s)) {
			s++;
			continue;
		}
		if (n > 1 && !needs_escape(s)) {
			s += n;
			continue;
		}
		if ((rc = dm_buf_add(b, run, (size_t)(s - run))) != DM_OK)
			return rc;
		if (n == 0) {
			rc = dm_buf_add(b, "\\ufffd", 6);
			s++;
		} else if (n == 1) {
			rc = add_escape(b, *s);
			s++;
		} else {
			rc = dm_buf_addf(
			    b, "\\u%04x", s[2] == 0xa8 ? 0x2028 : 0x2029);
			s += 3;
		}
		if (rc != DM_OK)
			return rc;
		run = s;
	}
	if ((rc = dm_buf_add(b, run, (size_t)(s - run))) != DM_OK)
		return rc;
	return dm_buf_add(b, "\"", 1);
}

int
dm_json_key(struct dm_buf *b, const char *key)
{
	return dm_buf_addf(b, "\"%s\":", key);
}

int
dm_json_int(struct dm_buf *b, int64_t v, int64_t null_value)
{
	if (v == null_value)
		return dm_buf_add(b, "null", 4);
	return dm_buf_addf(b, "%" PRId64, v);
}
