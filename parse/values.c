/*
 * values.c - normalisation of the values of a report: trimming, control
 * characters, keywords, numbers and IP addresses.  Pure functions over byte
 * strings; they decide what a value means and which fix-up that took, and the
 * element handlers count the fix-ups.  Nothing here knows about XML.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

/*
 * Drops C0 controls other than tab, LF and CR, and DEL.  XML 1.0 already
 * forbids most C0 controls, but DEL is legal XML and a terminal escape in a
 * report must not reach a user's screen.  Returns the number of bytes dropped.
 */
size_t
dm_strip_controls(char *s, size_t n)
{
	size_t i, j;

	for (i = 0, j = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f)
			continue;
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

/*
 * Dotted quad with leading zeros ("192.000.002.001"), which inet_pton refuses.
 * Reports write decimal, so the zeros are read as decimal, not octal.
 */
static int
ipv4_zeros(const char *s, char *out, size_t outlen)
{
	unsigned part[4], i;
	const char *p = s;

	for (i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return -1;
		if (*p != (i < 3 ? '.' : '\0'))
			return -1;
		p++;
		part[i] = v;
	}
	snprintf(
	    out, outlen, "%u.%u.%u.%u", part[0], part[1], part[2], part[3]);
	return 0;
}

static int
ipv6_canon(const char *s, char *out, size_t outlen, enum dm_fixup *fix)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
		inet_ntop(AF_INET, &a4, out, (socklen_t)outlen);
		*fix = DM_FIXUP_IP_MAPPED;
		return 0;
	}
	inet_ntop(AF_INET6, &a6, out, (socklen_t)outlen);
	if (strcmp(out, s) != 0)
		*fix = DM_FIXUP_IP_CANONICAL;
	return 0;
}

/*
 * Writes the canonical text of the address s (inet_ntop form, RFC 5952 for
 * IPv6) to out, which holds at least INET6_ADDRSTRLEN bytes.  *fix is
 * DM_FIXUP_COUNT when nothing was changed, or the fix-up that was applied.
 * Returns 0, or -1 when s is not an address.
 */
int
dm_ip_canon(const char *s, char *out, size_t outlen, enum dm_fixup *fix)
{
	struct in_addr a4;
	size_t n = strlen(s);

	*fix = DM_FIXUP_COUNT;
	if (n == 0 || n >= outlen)
		return -1;
	if (strchr(s, ':') != NULL)
		return ipv6_canon(s, out, outlen, fix);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out, s, n + 1);
		return 0;
	}
	if (ipv4_zeros(s, out, outlen) != 0)
		return -1;
	*fix = DM_FIXUP_IP_CANONICAL;
	return 0;
}
