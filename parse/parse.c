/*
 * parse.c - one run of the parser: checks the first bytes of the stream, then
 * runs libxml2's SAX2 parser over the rest and dispatches each element to the
 * element table of elements.c.
 *
 * The parser pulls bytes from the struct dm_source through io_read(), so
 * nothing is read whole, and builds no tree. Safety comes from what is never
 * enabled (NOENT, DTDLOAD, HUGE), from rejecting any DOCTYPE on the bytes and
 * again when the parser reports it, and from an external entity loader that
 * refuses everything. Errors of libxml2 arrive through a structured error
 * handler and are copied at once. <extensions> are re-serialised from the
 * SAX events, so their size is capped while they are read.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "json.h"
#include "parse_int.h"

#define NS_DMARC_01_URI "http://dmarc.org/dmarc-xml/0.1"
#define NS_DMARC_20_URI "urn:ietf:params:xml:ns:dmarc-2.0"

/* libxml2 2.12 made the error argument of structured handlers const. */
#if LIBXML_VERSION >= 21200
#define DM_XML_ERROR const xmlError
#else
#define DM_XML_ERROR xmlError
#endif

/* Never NOENT, DTDLOAD, DTDATTR or HUGE: see DESIGN.md, "Safe XML". */
#if LIBXML_VERSION >= 21300
#define DM_XML_OPTIONS                                                         \
	(XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_COMPACT |            \
	    XML_PARSE_NO_XXE)
#else
#define DM_XML_OPTIONS                                                         \
	(XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_COMPACT)
#endif

/* Stand-ins on the element stack for subtrees that are skipped or kept as raw
 * XML. */
static const struct dm_element el_unknown = {"", EL_UNKNOWN, NULL, NULL, 0};
static const struct dm_element el_ext_inner = {"", EL_EXT_INNER, NULL, NULL, 0};

int
dm_parse_limit(struct dm_parser *p, const char *fmt, ...)
{
	char msg[DM_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dm_error_setr(p->err, DM_ELIMIT, "limit", "%s", msg);
}

/*
 * The external entity loader of the whole process.  We never ask for external
 * entities, and a DOCTYPE is rejected before any could be referenced; this is
 * the defence in depth.
 */
static xmlParserInputPtr
deny_entity(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

int
dm_parser_new(struct dm_parser **out, const struct dm_limits *lim,
    const struct dm_sink *sink, struct dm_error *err)
{
	struct dm_parser *p;

	*out = NULL;
	xmlInitParser();
	xmlSetExternalEntityLoader(deny_entity);
	if ((p = dm_calloc(1, sizeof(*p))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	p->lim = lim != NULL ? *lim : dm_limits_default();
	if (sink != NULL)
		p->sink = *sink;
	p->errors.size = sizeof(struct field);
	p->errors.pub_size = sizeof(const char *);
	p->dkim.size = sizeof(struct dkim_slot);
	p->dkim.pub_size = sizeof(struct dm_dkim_result);
	p->spf.size = sizeof(struct spf_slot);
	p->spf.pub_size = sizeof(struct dm_spf_result);
	p->reasons.size = sizeof(struct reason_slot);
	p->reasons.pub_size = sizeof(struct dm_reason);
	dm_buf_init(&p->text, p->lim.text_bytes);
	*out = p;
	return DM_OK;
}

void
dm_parser_free(struct dm_parser *p)
{
	if (p == NULL)
		return;
	dm_parser_free_report(p);
	dm_buf_free(&p->text);
	dm_free(p->stack);
	dm_free(p);
}

void
dm_parse_versions(char *buf, size_t n)
{
	/* xmlParserVersion is the running library's, e.g. "20914". */
	long v = strtol(xmlParserVersion, NULL, 10);

	snprintf(
	    buf, n, "libxml2/%ld.%ld.%ld", v / 10000, v / 100 % 100, v % 100);
}

/* ---- the first bytes ---- */

static int
source_failed(struct dm_parser *p)
{
	p->src_failed = 1;
	*p->err = p->src_err;
	if (p->err->code == DM_OK)
		dm_error_set(p->err, DM_EIO, "read failed");
	return p->err->code;
}

/* Makes at least k bytes available at head_off, or all that is left.  Returns
 * -1 on error. */
static long
head_avail(struct dm_parser *p, size_t k)
{
	size_t have = p->head_len - p->head_off;
	ssize_t n;

	while (have < k) {
		memmove(p->head, p->head + p->head_off, have);
		p->head_off = 0;
		p->head_len = have;
		n = p->src->read(p->src->ctx, p->head + have,
		    sizeof(p->head) - have, &p->src_err);
		if (n < 0)
			return -1;
		if (n == 0) {
			p->src_eof = 1;
			break;
		}
		p->head_len += (size_t)n;
		have += (size_t)n;
	}
	return (long)have;
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Quotes up to 16 bytes for a message, escaping what is not printable ASCII. */
static void
quote_bytes(const unsigned char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && i < 16 && o + 5 < outlen; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(
			    out + o, outlen - o, "\\x%02x", s[i]);
	}
	out[o] = '\0';
}

static int
not_xml(struct dm_parser *p)
{
	char q[80];
	long have = head_avail(p, 16);

	if (have < 0)
		return source_failed(p);
	if (p->head[p->head_off] == '{')
		return dm_error_setr(p->err, DM_ESKIP, "not_aggregate",
		    "not a DMARC aggregate report: JSON (SMTP TLS report?)");
	quote_bytes(p->head + p->head_off, (size_t)have, q, sizeof(q));
	return dm_error_setr(
	    p->err, DM_EFORMAT, "not_xml", "not XML: starts with \"%s\"", q);
}

/* Skips whitespace; returns 1 if some was skipped, 0 if none, -1 on a read
 * error. */
static int
skip_space(struct dm_parser *p)
{
	int skipped = 0;
	long have;

	while (
	    (have = head_avail(p, 1)) > 0 && is_space(p->head[p->head_off])) {
		p->head_off++;
		skipped = 1;
	}
	return have < 0 ? -1 : skipped;
}

/* The value of the XML declaration's encoding in s (n bytes), or "" if none. */
static void
declared_encoding(const char *s, size_t n, char *enc, size_t size)
{
	static const char key[] = "encoding";
	size_t i = 0, o = 0;
	char q;

	enc[0] = '\0';
	if (n < 5 || memcmp(s, "<?xml", 5) != 0)
		return;
	while (i + sizeof(key) - 1 <= n && memcmp(s + i, "?>", 2) != 0 &&
	       memcmp(s + i, key, sizeof(key) - 1) != 0)
		i++;
	if (i + sizeof(key) - 1 > n || memcmp(s + i, "?>", 2) == 0)
		return;
	for (i += sizeof(key) - 1;
	     i < n && (is_space((unsigned char)s[i]) || s[i] == '='); i++)
		;
	if (i >= n || (s[i] != '"' && s[i] != '\''))
		return;
	for (q = s[i++]; i < n && s[i] != q && o + 1 < size; i++)
		enc[o++] = s[i];
	enc[o] = '\0';
}

/*
 * 1 when the document is UTF-8: no encoding declared (XML's default) or UTF-8
 * declared (or US-ASCII, a subset).  Other declared encodings, windows-1252
 * among them, are libxml2's to convert.
 */
static int
is_utf8(struct dm_parser *p)
{
	long have = head_avail(p, 256);
	char enc[32];

	if (have < 0)
		return 0;
	declared_encoding((const char *)p->head + p->head_off, (size_t)have,
	    enc, sizeof(enc));
	return enc[0] == '\0' || strcasecmp(enc, "utf-8") == 0 ||
	       strcasecmp(enc, "utf8") == 0 || strcasecmp(enc, "us-ascii") == 0;
}

/*
 * UTF-16, by its byte order mark or a '<' next to a zero byte (which libxml2
 * recognises too): left to libxml2, and stripped of comments by 2-byte code
 * units.  (libxml2 cannot read UCS-4: it fails at the first characters.)
 */
static int
wide_encoding(struct dm_parser *p, size_t have)
{
	const unsigned char *h = p->head;

	if (have < 2)
		return 0;
	if (memcmp(h, "\xff\xfe", 2) == 0 || (h[0] == '<' && h[1] == 0))
		dm_strip_init(&p->strip, 2, 0);
	else if (memcmp(h, "\xfe\xff", 2) == 0 || (h[0] == 0 && h[1] == '<'))
		dm_strip_init(&p->strip, 2, 1);
	else
		return 0;
	p->utf16 = 1;
	return 1;
}

/*
 * libxml2 refuses anything before "<?xml", but real reports (Microsoft's among
 * them) start with a blank line, and some with a UTF-8 BOM followed by one:
 * both are skipped and counted.  A UTF-16 BOM is left to libxml2, which reads
 * UTF-16.
 */
static int
check_start(struct dm_parser *p)
{
	long have = head_avail(p, 3);
	int skipped;

	if (have < 0)
		return source_failed(p);
	if (have >= 3 && memcmp(p->head, "\xef\xbb\xbf", 3) == 0) {
		p->head_off = 3;
		dm_parse_fixup(p, DM_FIXUP_BOM);
	} else if (wide_encoding(p, (size_t)have)) {
		return DM_OK;
	}
	if ((skipped = skip_space(p)) < 0)
		return source_failed(p);
	if (p->head_off == p->head_len)
		return dm_error_setr(p->err, DM_EFORMAT, "empty", "empty file");
	if (p->head[p->head_off] != '<')
		return not_xml(p);
	if (skipped)
		dm_parse_fixup(p, DM_FIXUP_LEADING_SPACE);
	p->check_utf8 = is_utf8(p);
	return DM_OK;
}

/* ---- libxml2 callbacks ---- */

/* Fails the parser's input with err (a limit, a DOCTYPE) as if the source had.
 */
static int
input_refused(struct dm_parser *p)
{
	p->src_failed = 1;
	return -1;
}

/*
 * Looks for "<!DOCTYPE" before the first element, across chunk boundaries, so
 * that a DTD is refused before libxml2 reads it (it would expand a billion
 * laughs' entities, or fail on them with a less useful message).
 */
static int
prolog_has_doctype(struct dm_parser *p, const char *buf, size_t n)
{
	static const char tag[] = "<!DOCTYPE";
	char win[sizeof(p->carry) + 64];
	size_t i, off = 0;

	while (p->in_prolog && off < n) {
		size_t take = n - off < 64 ? n - off : 64, w;

		memcpy(win, p->carry, p->carry_len);
		memcpy(win + p->carry_len, buf + off, take);
		w = p->carry_len + take;
		for (i = 0; i + 1 < w; i++) {
			if (win[i] == '<' &&
			    (isalpha((unsigned char)win[i + 1]) ||
			        win[i + 1] == '_' || win[i + 1] == ':'))
				p->in_prolog = 0;
			if (i + sizeof(tag) - 1 <= w &&
			    memcmp(win + i, tag, sizeof(tag) - 1) == 0)
				return 1;
			if (!p->in_prolog)
				break;
		}
		p->carry_len = w < sizeof(p->carry) ? w : sizeof(p->carry);
		memmove(p->carry, win + w - p->carry_len, p->carry_len);
		off += take;
	}
	return 0;
}

/*
 * Refills p->head from the source once fewer than 4 bytes are left (what an
 * incomplete UTF-8 sequence needs at most).  Returns the bytes left, 0 at the
 * end, -1 after a read error.
 */
static long
raw_more(struct dm_parser *p)
{
	size_t have = p->head_len - p->head_off;
	ssize_t n;

	if (have >= 4 || p->src_eof)
		return (long)have;
	memmove(p->head, p->head + p->head_off, have);
	p->head_off = 0;
	p->head_len = have;
	n = p->src->read(
	    p->src->ctx, p->head + have, sizeof(p->head) - have, &p->src_err);
	if (n < 0) {
		p->src_failed = 1;
		return -1;
	}
	p->src_eof = n == 0;
	p->head_len += (size_t)n;
	return (long)p->head_len;
}

/*
 * The length of the ASCII run at the start of in (at most n bytes), eight
 * bytes at a time: nearly all of a report is ASCII, and copying it byte by
 * byte was a tenth of the parser's instructions.
 */
static size_t
ascii_run(const unsigned char *in, size_t n)
{
	size_t i = 0;
	uint64_t w;

	while (n - i >= 8) {
		memcpy(&w, in + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			break;
		i += 8;
	}
	while (i < n && in[i] < 0x80)
		i++;
	return i;
}

/*
 * Copies one UTF-8 character, or a U+FFFD for a byte that is not UTF-8, from
 * in (n bytes) to out (room bytes); *wrote gets the bytes written.  Returns the
 * bytes of in used, 0 when it needs more of in or more room.
 */
static size_t
copy_utf8(struct dm_parser *p, const unsigned char *in, size_t n, char *out,
    size_t room, size_t *wrote)
{
	int k = dm_utf8_seq(in, n);

	if (k < 0 && !p->src_eof)
		return 0;
	if (k <= 0) {
		if (room < 3)
			return 0;
		memcpy(out, "\xef\xbf\xbd", 3);
		dm_parse_fixup(p, DM_FIXUP_INVALID_UTF8);
		*wrote = 3;
		return 1;
	}
	if ((size_t)k > room)
		return 0;
	memcpy(out, in, (size_t)k);
	*wrote = (size_t)k;
	return (size_t)k;
}

/*
 * The source of a UTF-8 document, through p->head, with each byte that is not
 * UTF-8 (a windows-1252 quote pasted into a UTF-8 report) made U+FFFD and
 * counted, where libxml2 would refuse the whole report.  A replacement makes
 * the text longer, so the bytes are staged in p->head rather than read into
 * buf; a sequence cut by the end of a read waits for the next.  len is at
 * least 4 (read_chunk's callers): a character always fits.  Returns the bytes
 * written, 0 at the end, -1 after a read error.
 */
static int
read_utf8(struct dm_parser *p, char *buf, size_t len)
{
	size_t o = 0, used, wrote = 0;
	long have;

	while (o == 0) {
		if ((have = raw_more(p)) <= 0)
			return (int)have;
		while (p->head_off < p->head_len && o < len) {
			const unsigned char *in = p->head + p->head_off;

			if (in[0] < 0x80) {
				used = ascii_run(
				    in, p->head_len - p->head_off < len - o
				            ? p->head_len - p->head_off
				            : len - o);
				memcpy(buf + o, in, used);
				p->head_off += used;
				o += used;
				continue;
			}
			used = copy_utf8(p, in, p->head_len - p->head_off,
			    buf + o, len - o, &wrote);
			if (used == 0)
				break;
			p->head_off += used;
			o += wrote;
		}
	}
	return (int)o;
}

/* Some byte of x is below 0x20 (a control character, or tab, CR, LF, NUL). */
#define ONES UINT64_C(0x0101010101010101)
#define HAS_LOW_BYTE(x) (((x)-ONES * 0x20) & ~(x) & (ONES * 0x80))

/* A control character that XML 1.0 forbids; NUL is left to libxml2. */
static int
is_dropped(unsigned char c)
{
	return c < 0x20 && c != 0 && c != '\t' && c != '\n' && c != '\r';
}

/*
 * Drops the control characters of buf, counting each; returns the bytes kept.
 * Eight bytes at a time: most words of XML hold none below 0x20, and a word
 * that does (a line break) is looked at byte by byte.
 */
static int
drop_controls(struct dm_parser *p, char *buf, int len)
{
	int i = 0, o = 0;
	uint64_t w;

	while (i < len) {
		if (len - i >= 8) {
			memcpy(&w, buf + i, 8);
			if (!HAS_LOW_BYTE(w)) {
				if (o != i)
					memmove(buf + o, buf + i, 8);
				i += 8;
				o += 8;
				continue;
			}
		}
		if (is_dropped((unsigned char)buf[i])) {
			dm_parse_fixup(p, DM_FIXUP_CONTROL_CHARS);
			i++;
			continue;
		}
		buf[o++] = buf[i++];
	}
	return o;
}

/*
 * What libxml2 would reject or hold whole is handled on the bytes, before it
 * reads them: control characters (invalid in XML 1.0, and common in
 * human_result text) are dropped and counted; a DOCTYPE is refused; a text
 * run longer than the text cap fails at once instead of being buffered by
 * libxml2 up to its own 10 MB limit.  Entity references make text at most six
 * bytes per character ("&#x1F600;" is one), hence the factor.  Returns the
 * bytes left, or -1 after setting p->src_err.
 */
static int
filter_bytes(struct dm_parser *p, char *buf, int len)
{
	uint64_t cap = (uint64_t)p->lim.text_bytes * 6 + 4096;
	int i;

	if (p->in_prolog && prolog_has_doctype(p, buf, (size_t)len)) {
		dm_error_setr(&p->src_err, DM_EFORMAT, "doctype",
		    "DOCTYPE not allowed in a DMARC report");
		return input_refused(p);
	}
	for (i = len - 1; i >= 0 && buf[i] != '<'; i--)
		;
	p->text_run =
	    i >= 0 ? (uint64_t)(len - 1 - i) : p->text_run + (uint64_t)len;
	if (!p->utf16 && p->text_run > cap) {
		dm_error_setr(&p->src_err, DM_ELIMIT, "limit",
		    "text longer than %u bytes (DM_MAX_TEXT_BYTES)",
		    p->lim.text_bytes);
		return input_refused(p);
	}
	return p->utf16 ? len : drop_controls(p, buf, len);
}

/* What check_start() read ahead, then the source; a UTF-8 document through
 * read_utf8(). */
static int
io_read_raw(void *ctx, char *buf, int len)
{
	struct dm_parser *p = ctx;
	size_t n = p->head_len - p->head_off;
	ssize_t got;

	if (len <= 0)
		return 0;
	if (p->check_utf8)
		return read_utf8(p, buf, (size_t)len);
	if (n > 0) {
		if (n > (size_t)len)
			n = (size_t)len;
		memcpy(buf, p->head + p->head_off, n);
		p->head_off += n;
		return (int)n;
	}
	got = p->src->read(p->src->ctx, buf, (size_t)len, &p->src_err);
	if (got < 0) {
		p->src_failed = 1;
		return -1;
	}
	return (int)got;
}

/*
 * Reads a chunk of at most len - DM_STRIP_SLACK bytes into buf +
 * DM_STRIP_SLACK, then strips it (strip.c: comments and processing
 * instructions cut) and filters it (filter_bytes) down into buf, in place.
 * Returns the bytes left, 0 at the end, -1 on error.  A chunk that was all
 * comments or control characters is followed by the next one.
 */
static int
read_chunk(struct dm_parser *p, char *buf, int len)
{
	unsigned char *in = (unsigned char *)buf + DM_STRIP_SLACK;
	size_t m;
	int n, kept;

	do {
		n = io_read_raw(p, (char *)in, len - DM_STRIP_SLACK);
		if (n < 0)
			return n;
		m = dm_strip(&p->strip, in, (size_t)n, (unsigned char *)buf);
		kept = m == 0 ? 0 : filter_bytes(p, buf, (int)m);
	} while (kept == 0 && n > 0);
	return kept;
}

/* One read_chunk() into buf, or through p->pend when len is too small for
 * one. */
static int
read_some(struct dm_parser *p, char *buf, int len)
{
	int n;

	if (len > 2 * DM_STRIP_SLACK && p->pend_off == p->pend_len)
		return read_chunk(p, buf, len);
	if (p->pend_off == p->pend_len) {
		n = read_chunk(p, (char *)p->pend, (int)sizeof(p->pend));
		if (n <= 0)
			return n;
		p->pend_off = 0;
		p->pend_len = (size_t)n;
	}
	n = (int)(p->pend_len - p->pend_off) < len
	        ? (int)(p->pend_len - p->pend_off)
	        : len;
	memcpy(buf, p->pend + p->pend_off, (size_t)n);
	p->pend_off += (size_t)n;
	return n;
}

/*
 * The parser's input: what check_start() read ahead, then the source, through
 * read_some().  The buffer is filled as far as the source allows: libxml2's
 * parser reads on only as far as one read brought it, and sources may hand
 * over a few bytes at a time (a gzip member's end, a test's one-byte reads).
 * 0 only at the end.
 */
static int
io_read(void *ctx, char *buf, int len)
{
	int n, got = 0;

	while (got < len) {
		if ((n = read_some(ctx, buf + got, len - got)) < 0)
			return -1;
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

/* Keeps the first error; warnings (such as a relative namespace URI) do not
 * stop a parse. */
static void
on_xml_error(void *ctx, DM_XML_ERROR *e)
{
	struct dm_parser *p = ctx;
	char msg[DM_ERROR_MSG_MAX];
	size_t n;

	if (p->xml_failed || p->src_failed || e == NULL ||
	    e->level < XML_ERR_ERROR)
		return;
	p->xml_failed = 1;
	snprintf(msg, sizeof(msg), "%s",
	    e->message != NULL ? e->message : "unknown error");
	n = strlen(msg);
	while (n > 0 && is_space((unsigned char)msg[n - 1]))
		msg[--n] = '\0';
	dm_error_setr(&p->xml_err, DM_EFORMAT, "xml_malformed",
	    "XML not well-formed at line %d: %s", e->line, msg);
}

/* Library code never prints: libxml2's unstructured messages are dropped. */
static void
on_generic_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* ---- raw XML of <extensions> ---- */

/*
 * <extensions> are written back as XML from the SAX events: a start tag waits
 * for what follows to be closed with ">" or, when its end comes next, "/>".
 * Whitespace-only text between elements is dropped, as XML_PARSE_NOBLANKS
 * drops it from a tree, except in an element with no child element
 * ("<x> </x>" keeps its text).
 */
static int
ext_add(struct dm_parser *p, const char *s, size_t n)
{
	int rc = dm_buf_add(&p->ext->b, s, n);

	p->ext->set = 1;
	if (rc == DM_ELIMIT)
		return dm_parse_limit(p,
		    "<extensions> longer than %u bytes (DM_MAX_TEXT_BYTES)",
		    p->lim.text_bytes);
	if (rc != DM_OK)
		return dm_error_set(p->err, DM_ENOMEM, "out of memory");
	return DM_OK;
}

/* Escapes & < > (and " in attribute values). */
static int
ext_escaped(struct dm_parser *p, const char *s, size_t n)
{
	const char *end = s + n, *run = s;
	int rc = DM_OK;

	for (; s < end && rc == DM_OK; s++) {
		const char *ent = *s == '&'   ? "&amp;"
		                  : *s == '<' ? "&lt;"
		                  : *s == '>' ? "&gt;"
		                  : *s == '"' ? "&quot;"
		                              : NULL;

		if (ent == NULL)
			continue;
		if ((rc = ext_add(p, run, (size_t)(s - run))) == DM_OK)
			rc = ext_add(p, ent, strlen(ent));
		run = s + 1;
	}
	return rc != DM_OK ? rc : ext_add(p, run, (size_t)(end - run));
}

static int
ext_name(struct dm_parser *p, const xmlChar *prefix, const xmlChar *local)
{
	int rc = DM_OK;

	if (prefix != NULL && (rc = ext_add(p, (const char *)prefix,
	                           strlen((const char *)prefix))) == DM_OK)
		rc = ext_add(p, ":", 1);
	return rc != DM_OK ? rc
	                   : ext_add(p, (const char *)local,
	                         strlen((const char *)local));
}

/* name="value", the value escaped. */
static int
ext_attribute(struct dm_parser *p, const xmlChar *prefix, const xmlChar *local,
    const xmlChar *v, size_t n)
{
	int rc;

	if ((rc = ext_add(p, " ", 1)) == DM_OK &&
	    (rc = ext_name(p, prefix, local)) == DM_OK &&
	    (rc = ext_add(p, "=\"", 2)) == DM_OK &&
	    (rc = ext_escaped(p, (const char *)v, n)) == DM_OK)
		rc = ext_add(p, "\"", 1);
	return rc;
}

/* The namespace declarations, then the attributes, as a tree lists them. */
static int
ext_attributes(struct dm_parser *p, const struct start_tag *t)
{
	const xmlChar *xmlns = (const xmlChar *)"xmlns";
	int rc = DM_OK, i;

	for (i = 0; rc == DM_OK && i < t->nb_namespaces; i++) {
		const xmlChar *prefix = t->namespaces[2 * i];
		const xmlChar *uri = t->namespaces[2 * i + 1];

		rc = ext_attribute(p, prefix != NULL ? xmlns : NULL,
		    prefix != NULL ? prefix : xmlns, uri,
		    uri != NULL ? strlen((const char *)uri) : 0);
	}
	for (i = 0; rc == DM_OK && i < t->nb_attributes; i++) {
		const xmlChar *const *a = t->attributes + 5 * i;

		rc = ext_attribute(p, a[1], a[0], a[3], (size_t)(a[4] - a[3]));
	}
	return rc;
}

/* Ends the text run before a tag: a blank one is dropped unless keep. */
static void
ext_text_end(struct dm_parser *p, int keep)
{
	if (p->ext_in_text && p->ext_blank && !keep)
		p->ext->b.len = p->ext_text_start;
	p->ext_in_text = 0;
}

/* Closes a start tag still waiting for its ">". */
static int
ext_close_tag(struct dm_parser *p)
{
	if (!p->ext_open)
		return DM_OK;
	p->ext_open = 0;
	return ext_add(p, ">", 1);
}

static int
ext_start(struct dm_parser *p, const struct start_tag *t)
{
	int rc;

	ext_text_end(p, 0);
	if ((rc = ext_close_tag(p)) != DM_OK ||
	    (rc = ext_add(p, "<", 1)) != DM_OK ||
	    (rc = ext_name(p, t->prefix, t->local)) != DM_OK ||
	    (rc = ext_attributes(p, t)) != DM_OK)
		return rc;
	p->ext_open = 1;
	p->ext_had_child = 0;
	return DM_OK;
}

static int
ext_text(struct dm_parser *p, const char *s, size_t n)
{
	size_t i;
	int rc;

	if ((rc = ext_close_tag(p)) != DM_OK)
		return rc;
	if (!p->ext_in_text) {
		p->ext_in_text = 1;
		p->ext_blank = 1;
		p->ext_text_start = p->ext->b.len;
	}
	for (i = 0; p->ext_blank && i < n; i++)
		p->ext_blank = is_space((unsigned char)s[i]);
	return ext_escaped(p, s, n);
}

static int
ext_end(struct dm_parser *p, const xmlChar *prefix, const xmlChar *local)
{
	int rc = DM_OK;

	ext_text_end(p, !p->ext_had_child);
	if (p->ext_open) {
		p->ext_open = 0;
		rc = ext_add(p, "/>", 2);
	} else if ((rc = ext_add(p, "</", 2)) == DM_OK &&
	           (rc = ext_name(p, prefix, local)) == DM_OK)
		rc = ext_add(p, ">", 1);
	p->ext_had_child = 1;
	if (p->depth < p->ext_depth)
		p->ext = NULL;
	return rc;
}

/* ---- elements ---- */

static enum dm_ns
namespace_of(struct dm_parser *p, const xmlChar *uri)
{
	if (uri == NULL)
		return NS_NONE;
	if (strcmp((const char *)uri, NS_DMARC_20_URI) == 0)
		return NS_DMARC_20;
	if (strcmp((const char *)uri, NS_DMARC_01_URI) == 0)
		return NS_DMARC_01;
	if (p->root_ns != NULL && strcmp((const char *)uri, p->root_ns) == 0)
		return NS_FOREIGN;
	return NS_OTHER;
}

/*
 * A <feedback> root in a namespace of neither schema: drafts and generators'
 * own schemas (http://dmarc.org/dmarc-xml/0.2 has been seen) with DMARC's
 * elements.  It is read as DMARC when it has DMARC's structure (checked before
 * the sink sees it, dm_parse_report_finish), and its elements in that
 * namespace are DMARC's.
 */
static const struct dm_element *
foreign_root(struct dm_parser *p, const struct start_tag *t)
{
	const char *name = (const char *)t->local;

	if (strcmp(name, "feedback") != 0)
		return NULL;
	/* libxml2 keeps namespace names in the parser's dictionary, which
	 * lives until the run's end. */
	p->root_ns = (const char *)t->uri;
	dm_parse_fixup(p, DM_FIXUP_FOREIGN_NAMESPACE);
	return dm_el_find(EL_DOC, name);
}

static int
not_feedback(struct dm_parser *p, const struct start_tag *t, enum dm_ns ns)
{
	if (ns == NS_OTHER)
		return dm_error_setr(p->err, DM_ESKIP, "not_aggregate",
		    "not a DMARC aggregate report: root element is <%s> in "
		    "namespace %s",
		    (const char *)t->local, (const char *)t->uri);
	return dm_error_setr(p->err, DM_ESKIP, "not_aggregate",
	    "not a DMARC aggregate report: root element is <%s>",
	    (const char *)t->local);
}

/* The table entry of the element t opens, or NULL after setting an error. */
static const struct dm_element *
element_for(struct dm_parser *p, const struct start_tag *t)
{
	enum dm_el parent = p->depth > 0 ? p->stack[p->depth - 1]->id : EL_DOC;
	const struct dm_element *e;
	enum dm_ns ns;

	if (parent == EL_UNKNOWN)
		return &el_unknown;
	if (parent == EL_EXTENSIONS || parent == EL_EXT_INNER)
		return &el_ext_inner;
	ns = namespace_of(p, t->uri);
	e = ns == NS_OTHER ? NULL : dm_el_find(parent, (const char *)t->local);
	if (parent == EL_DOC) {
		if (e == NULL && ns == NS_OTHER &&
		    (e = foreign_root(p, t)) != NULL)
			ns = NS_FOREIGN;
		if (e == NULL)
			not_feedback(p, t, ns);
		p->ns = ns;
		return e;
	}
	if (e == NULL) {
		dm_parse_fixup(p, DM_FIXUP_UNKNOWN_ELEMENT);
		return &el_unknown;
	}
	return e;
}

static int
push(struct dm_parser *p, const struct dm_element *e)
{
	if (p->depth >= p->lim.xml_depth)
		return dm_parse_limit(p,
		    "XML nesting deeper than %u (DM_MAX_XML_DEPTH)",
		    p->lim.xml_depth);
	if (p->depth == p->stack_cap) {
		size_t cap = p->stack_cap == 0 ? 16 : p->stack_cap * 2;
		const struct dm_element **s =
		    dm_realloc(p->stack, cap * sizeof(*s));

		if (s == NULL)
			return dm_error_set(p->err, DM_ENOMEM, "out of memory");
		p->stack = s;
		p->stack_cap = cap;
	}
	p->stack[p->depth++] = e;
	return DM_OK;
}

/* Trims the collected text and drops control characters; returns its length. */
static size_t
clean_text(struct dm_parser *p, char **s)
{
	size_t n, dropped;

	if (p->text.data == NULL) {
		*s = NULL;
		return 0;
	}
	*s = p->text.data;
	n = dm_trim(s, p->text.len);
	dropped = dm_strip_controls(*s, n);
	if (dropped > 0)
		dm_parse_fixup(p, DM_FIXUP_CONTROL_CHARS);
	n -= dropped;
	(*s)[n] = '\0';
	return n;
}

static int
on_end(struct dm_parser *p, const xmlChar *prefix, const xmlChar *local)
{
	const struct dm_element *e = p->stack[--p->depth];
	char none[1] = "", *s;
	size_t n;
	int rc = DM_OK;

	if (p->ext != NULL) {
		rc = ext_end(p, prefix, local);
	} else if (e->end != NULL) {
		n = clean_text(p, &s);
		rc = e->end(p, s != NULL ? s : none, n);
	}
	dm_buf_reset(&p->text);
	p->text_on = p->depth > 0 ? p->stack[p->depth - 1]->text : 0;
	return rc;
}

static int
on_start(struct dm_parser *p, const struct start_tag *t)
{
	const struct dm_element *e;
	int rc;

	if ((e = element_for(p, t)) == NULL)
		return p->err->code;
	if ((rc = push(p, e)) != DM_OK)
		return rc;
	if (e->start != NULL && (rc = e->start(p)) != DM_OK)
		return rc;
	if (e->id == EL_EXTENSIONS)
		p->ext_depth = p->depth;
	if (p->ext != NULL && (rc = ext_start(p, t)) != DM_OK)
		return rc;
	dm_buf_reset(&p->text);
	p->text_on = e->text;
	return DM_OK;
}

static int
on_text(struct dm_parser *p, const xmlChar *v, int len)
{
	int rc;

	if (p->ext != NULL)
		return ext_text(p, (const char *)v, (size_t)len);
	if (!p->text_on)
		return DM_OK;
	rc = dm_buf_add(&p->text, v, (size_t)len);
	if (rc == DM_ELIMIT)
		return dm_parse_limit(p,
		    "text of <%s> longer than %u bytes (DM_MAX_TEXT_BYTES)",
		    p->stack[p->depth - 1]->name, p->lim.text_bytes);
	if (rc != DM_OK)
		return dm_error_set(p->err, DM_ENOMEM, "out of memory");
	return DM_OK;
}

/* ---- libxml2's SAX2 callbacks: each hands over to the above ---- */

/* A handler failed (p->err is set): nothing more is parsed. */
static void
stop(struct dm_parser *p)
{
	p->stopped = 1;
	xmlStopParser(p->ctxt);
}

static void
sax_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	struct dm_parser *p = ctx;
	struct start_tag t = {local, prefix, uri, nb_namespaces, namespaces,
	    nb_attributes, attributes};

	(void)nb_defaulted; /* among nb_attributes, at the end */
	if (!p->stopped && on_start(p, &t) != DM_OK)
		stop(p);
}

static void
sax_end(
    void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri)
{
	struct dm_parser *p = ctx;

	(void)uri;
	if (!p->stopped && on_end(p, prefix, local) != DM_OK)
		stop(p);
}

static void
sax_text(void *ctx, const xmlChar *v, int len)
{
	struct dm_parser *p = ctx;

	if (!p->stopped && on_text(p, v, len) != DM_OK)
		stop(p);
}

/* XML_PARSE_NOBLANKS sends whitespace between elements here. */
static void
sax_blank(void *ctx, const xmlChar *v, int len)
{
	(void)ctx;
	(void)v;
	(void)len;
}

/* Refused on the bytes already (filter_bytes); this is the defence in depth. */
static void
sax_doctype(void *ctx, const xmlChar *name, const xmlChar *public_id,
    const xmlChar *system_id)
{
	struct dm_parser *p = ctx;

	(void)name;
	(void)public_id;
	(void)system_id;
	if (p->stopped)
		return;
	dm_error_setr(p->err, DM_EFORMAT, "doctype",
	    "DOCTYPE not allowed in a DMARC report");
	stop(p);
}

/* Unreachable while DOCTYPEs are refused: entities need one. */
static void
sax_reference(void *ctx, const xmlChar *name)
{
	struct dm_parser *p = ctx;

	if (p->stopped)
		return;
	dm_error_setr(p->err, DM_EFORMAT, "entity",
	    "entity reference &%s; not allowed in a DMARC report",
	    (const char *)name);
	stop(p);
}

static int
read_failed(struct dm_parser *p)
{
	if (p->src_failed)
		return source_failed(p);
	if (p->xml_failed) {
		*p->err = p->xml_err;
		return p->err->code;
	}
	return dm_error_setr(
	    p->err, DM_EFORMAT, "xml_malformed", "XML not well-formed");
}

/*
 * SAX2, not the xmlTextReader: the reader builds a tree node for every node
 * and frees it again, which took half the time of an ingest's parse; the
 * elements here only need their names, attributes and text, once.
 */
static void
sax_handler(xmlSAXHandler *sax)
{
	memset(sax, 0, sizeof(*sax));
	sax->initialized = XML_SAX2_MAGIC;
	sax->startElementNs = sax_start;
	sax->endElementNs = sax_end;
	sax->characters = sax_text;
	sax->cdataBlock = sax_text;
	sax->ignorableWhitespace = sax_blank;
	sax->internalSubset = sax_doctype;
	sax->externalSubset = sax_doctype;
	sax->reference = sax_reference;
	sax->serror = on_xml_error;
}

static int
read_document(struct dm_parser *p)
{
	xmlSAXHandler sax;
	int ret;

	sax_handler(&sax);
	p->ctxt = xmlCreateIOParserCtxt(
	    &sax, p, io_read, NULL, p, XML_CHAR_ENCODING_NONE);
	if (p->ctxt == NULL)
		return p->src_failed || p->xml_failed
		           ? read_failed(p)
		           : dm_error_set(p->err, DM_ENOMEM, "out of memory");
	xmlCtxtUseOptions(p->ctxt, DM_XML_OPTIONS);
	ret = xmlParseDocument(p->ctxt);
	if (p->stopped)
		return p->err->code;
	if (ret != 0 || !p->ctxt->wellFormed)
		return read_failed(p);
	return dm_parse_report_finish(p, p->err);
}

static void
run_reset(
    struct dm_parser *p, const struct dm_source *src, struct dm_error *err)
{
	dm_error_clear(err);
	p->err = err;
	p->src = src;
	p->head_len = p->head_off = 0;
	p->src_failed = p->xml_failed = 0;
	p->src_eof = 0;
	p->utf16 = p->check_utf8 = 0;
	dm_strip_init(&p->strip, 1, 0);
	p->pend_off = p->pend_len = 0;
	p->in_prolog = 1;
	p->carry_len = 0;
	p->text_run = 0;
	dm_error_clear(&p->src_err);
	dm_error_clear(&p->xml_err);
	p->depth = 0;
	p->ext = NULL;
	p->ext_open = p->ext_in_text = p->ext_had_child = 0;
	p->stopped = 0;
	p->text_on = 0;
	dm_buf_reset(&p->text);
	dm_parse_report_reset(p);
}

int
dm_parse_run(
    struct dm_parser *p, const struct dm_source *src, struct dm_error *err)
{
	/* libxml2 reports some errors (I/O, encodings) outside the reader:
	 * route them here too. */
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_error = xmlGenericError;
	void *old_ctx = xmlGenericErrorContext;
	int rc;

	run_reset(p, src, err);
	if ((rc = check_start(p)) != DM_OK)
		return rc;
	xmlSetStructuredErrorFunc(p, on_xml_error);
	xmlSetGenericErrorFunc(p, on_generic_error);
	rc = read_document(p);
	if (p->ctxt != NULL) {
		xmlFreeDoc(p->ctxt->myDoc);
		xmlFreeParserCtxt(p->ctxt);
	}
	p->ctxt = NULL;
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_ctx, old_error);
	return rc;
}
