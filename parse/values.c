/*
 * values.c - normalisation of the values of a report: trimming, control
 * characters, keywords, numbers (IP addresses: core/ip.h).  Pure functions over
 * byte strings; they decide what a value means and which fix-up that took, and
 * the element handlers count the fix-ups.  Nothing here knows about XML.
 */
#include <stdio.h>
#include <string.h>

#include "parse_int.h"

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trims XML whitespace on both sides; *s moves forward, the new length is
 * returned. */
size_t
dm_trim(char **s, size_t n)
{
	char *p = *s;

	while (n > 0 && is_space((unsigned char)p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space((unsigned char)p[n - 1]))
		n--;
	*s = p;
	return n;
}

/* A C0 control other than tab, LF and CR, or DEL. */
static int
is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

/*
 * Drops C0 controls other than tab, LF and CR, and DEL.  XML 1.0 already
 * forbids most C0 controls, but DEL is legal XML and a terminal escape in a
 * report must not reach a user's screen.  Returns the number of bytes dropped.
 */
size_t
dm_strip_controls(char *s, size_t n)
{
	size_t i = 0, j;

	/* Most values have none: find the first without writing. */
	while (i < n && !is_control((unsigned char)s[i]))
		i++;
	for (j = i; i < n; i++) {
		if (!is_control((unsigned char)s[i]))
			s[j++] = s[i];
	}
	return n - j;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Compares ASCII case-insensitively; sets *exact to whether the case matched
 * too. */
static int
same_word(const char *w, const char *s, size_t n, int *exact)
{
	size_t i;

	*exact = 1;
	for (i = 0; i < n; i++) {
		if (w[i] == '\0' ||
		    lower((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
		if (s[i] != w[i])
			*exact = 0;
	}
	return w[n] == '\0';
}

/*
 * Finds s in the NULL-terminated set of lower-case words, ignoring case.
 * Returns the static word or NULL; *case_fixed tells whether the input was in
 * another case.
 */
const char *
dm_keyword(const char *const *set, const char *s, size_t n, int *case_fixed)
{
	int exact;

	*case_fixed = 0;
	for (; *set != NULL; set++) {
		if (same_word(*set, s, n, &exact)) {
			*case_fixed = !exact;
			return *set;
		}
	}
	return NULL;
}

/* Digits only (no sign, no space), no overflow.  Returns 0 or -1. */
int
dm_parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}
