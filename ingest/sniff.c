/*
 * sniff.c - what a byte stream is, judged from its first bytes only.
 *
 * Reports arrive misnamed and mislabelled all the time (a zip sent as
 * application/gzip, a mail saved as .txt, XML with no extension), so names and
 * declared types are never consulted: only magic numbers and the shape of the
 * first line or two.  This file does no I/O and keeps no state; deciding what
 * to do with each kind is walk.c's and archive.c's business.
 */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "ingest_int.h"

/* Magic numbers of the containers we unwrap, longest match not needed: all are
 * distinct. */
static const struct magic {
	const char *bytes;
	size_t len;
	enum dm_sniff kind;
} magics[] = {
    /* clang-format off */
	{"\x1f\x8b", 2, DM_SNIFF_GZIP},
	{"PK\x03\x04", 4, DM_SNIFF_ZIP},
	{"PK\x05\x06", 4, DM_SNIFF_ZIP}, /* empty zip: only the end record */
	{"PK\x07\x08", 4, DM_SNIFF_ZIP}, /* spanned zip marker */
	{"BZh", 3, DM_SNIFF_OTHER_COMPRESSED},
	{"\xfd\x37zXZ\x00", 6, DM_SNIFF_OTHER_COMPRESSED}, /* xz */
	{"\x28\xb5\x2f\xfd", 4, DM_SNIFF_OTHER_COMPRESSED}, /* zstd */
	{"\x04\x22\x4d\x18", 4, DM_SNIFF_OTHER_COMPRESSED}, /* lz4 frame */
	{"\x1f\x9d", 2, DM_SNIFF_OTHER_COMPRESSED}, /* compress(1), .Z */
    /* clang-format on */
};

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t
skip_space(const unsigned char *p, size_t n, size_t i)
{
	while (i < n && is_space(p[i]))
		i++;
	return i;
}

/* Skips a byte order mark: UTF-8, or UTF-16 in either order (Microsoft's
 * reports use both). */
static size_t
skip_bom(const unsigned char *p, size_t n)
{
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		return 3;
	if (n >= 2 &&
	    ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff)))
		return 2;
	return 0;
}

/* Classifies text by its first significant character, looking through UTF-16
 * NUL bytes. */
static enum dm_sniff
sniff_markup(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = skip_bom(p, n); i < n; i++) {
		if (p[i] == '\0' || is_space(p[i]))
			continue;
		if (p[i] == '<')
			return DM_SNIFF_XML;
		if (p[i] == '{' || p[i] == '[')
			return DM_SNIFF_JSON;
		break;
	}
	return DM_SNIFF_OTHER;
}

/* Length of a header field name ending in ':' at p (RFC 5322 section 3.6.8), or
 * 0. */
static size_t
field_name(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i <= 76; i++) {
		if (p[i] == ':')
			return i;
		if (p[i] < 33 || p[i] > 126)
			return 0;
	}
	return 0;
}

/* Offset just after the line starting at i, or n when the line is not complete.
 */
static size_t
line_end(const unsigned char *p, size_t n, size_t i)
{
	const unsigned char *nl = memchr(p + i, '\n', n - i);

	return nl == NULL ? n : (size_t)(nl - p) + 1;
}

/* A line of nothing but white space: the end of a header, as mail readers take
 * it. */
static int
is_blank_line(const unsigned char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	return i < n && p[i] == '\n';
}

/*
 * Counts the header lines from offset i on: field lines and their folded
 * continuations, up to the first line that is neither, the blank line that ends
 * the header, or the end of the head. Sets *blank when the blank line was
 * reached.
 */
static int
count_headers(const unsigned char *p, size_t n, size_t i, int *blank)
{
	int count = 0;

	*blank = 0;
	while (i < n) {
		if (is_blank_line(p, n, i)) {
			*blank = 1;
			return count;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			if (count == 0)
				return 0;
		} else if (field_name(p + i, n - i) > 0) {
			count++;
		} else {
			return count;
		}
		i = line_end(p, n, i);
	}
	return count;
}

/* A mail: header lines (two, or one closed by the blank line), after blank
 * lines if any. */
static int
looks_like_header(const unsigned char *p, size_t n, size_t i)
{
	int blank, count = count_headers(p, n, i, &blank);

	return count >= 2 || (count == 1 && blank);
}

static enum dm_sniff
sniff_mail(const unsigned char *p, size_t n)
{
	size_t i = skip_space(p, n, 0);

	if (n - i > 5 && memcmp(p + i, "From ", 5) == 0) {
		i = line_end(p, n, i);
		if (i < n && field_name(p + i, n - i) > 0)
			return DM_SNIFF_MBOX;
		return DM_SNIFF_OTHER;
	}
	return looks_like_header(p, n, i) ? DM_SNIFF_MAIL : DM_SNIFF_OTHER;
}

/*
 * A zlib stream (RFC 1950 section 2.2) has no magic number, only a header that
 * checks itself: deflate (CM 8) with a window of at most 32 KiB, CMF and FLG
 * together a multiple of 31, no preset dictionary (a report cannot need one).
 * Text can start so too ("x^", "HK", "(S" pass), so the head must also inflate
 * without an error: deflate data has structure that text breaks at once.
 */
static int
is_zlib(const unsigned char *p, size_t n)
{
	unsigned char out[4096];
	z_stream z;
	int r;

	if (n < 3 || (p[0] & 0x0f) != 8 || (p[0] >> 4) > 7 ||
	    ((unsigned)p[0] << 8 | p[1]) % 31 != 0 || (p[1] & 0x20) != 0)
		return 0;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return 1; /* out of memory: let inflating it say so */
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		r = inflate(&z, Z_NO_FLUSH);
	} while (r == Z_OK && z.avail_in > 0);
	inflateEnd(&z);
	return r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR;
}

int
dm_sniff_is_container(enum dm_sniff kind)
{
	return kind == DM_SNIFF_GZIP || kind == DM_SNIFF_ZIP ||
	       kind == DM_SNIFF_OTHER_COMPRESSED || kind == DM_SNIFF_ZLIB;
}

enum dm_sniff
dm_sniff(const unsigned char *head, size_t n)
{
	enum dm_sniff kind;
	size_t i;

	if (n == 0)
		return DM_SNIFF_EMPTY;
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		if (n >= magics[i].len &&
		    memcmp(head, magics[i].bytes, magics[i].len) == 0)
			return magics[i].kind;
	}
	kind = sniff_markup(head, n);
	if (kind != DM_SNIFF_OTHER)
		return kind;
	if (is_zlib(head, n))
		return DM_SNIFF_ZLIB;
	return sniff_mail(head, n);
}
