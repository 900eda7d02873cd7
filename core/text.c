/*
 * text.c - characters of report text that must not reach a terminal or a
 * spreadsheet as they are (text.h).
 */
#include "text.h"

#include <stdint.h>
#include <string.h>

#include "error.h"
#include "json.h"

/* The code point of the valid UTF-8 sequence s of n bytes. */
static uint32_t
code_point(const unsigned char *s, size_t n)
{
	static const unsigned char lead[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	uint32_t cp = s[0] & lead[n];
	size_t i;

	for (i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3fu);
	return cp;
}

static int
is_bidi(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

enum dm_text_kind
dm_text_char(const char *str, size_t *len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = dm_utf8_len(s);
	uint32_t cp;

	*len = n == 0 ? 1 : n;
	if (n == 0)
		return DM_TEXT_INVALID;
	cp = code_point(s, n);
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
	    cp == 0x2029)
		return DM_TEXT_CONTROL;
	return is_bidi(cp) ? DM_TEXT_BIDI : DM_TEXT_PLAIN;
}

int
dm_text_escape(struct dm_buf *b, const char *s, const char *keep)
{
	int rc = DM_OK;
	size_t n;

	while (*s != '\0' && rc == DM_OK) {
		enum dm_text_kind k = dm_text_char(s, &n);

		if (k == DM_TEXT_PLAIN ||
		    (n == 1 && keep != NULL && strchr(keep, *s) != NULL))
			rc = dm_buf_add(b, s, n);
		else if (k == DM_TEXT_CONTROL)
			rc = dm_buf_add(b, "?", 1);
		else
			rc = dm_buf_add(b, "\xef\xbf\xbd", 3); /* U+FFFD */
		s += n;
	}
	if (rc == DM_OK && b->data == NULL)
		rc = dm_buf_add(b, "", 0);
	return rc;
}
