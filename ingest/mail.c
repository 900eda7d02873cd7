/*
 * mail.c - one RFC 5322 mail, parsed by GMime 3, turned into its decoded leaf
 * parts.
 *
 * Reports arrive as attachments of every shape: zip, gzip labelled
 * application/octet-stream, inline text/xml, quoted-printable XML, uuencoded
 * bodies, RFC 2231 split file names, and whole report mails forwarded as
 * message/rfc822.  GMime does the MIME work (RFC 2045-2231, nested messages,
 * transfer encodings); this file walks the tree it builds, applies the caps of
 * struct dm_limits, classifies the mail (aggregate carrier, forensic, TLS-RPT,
 * bounce) and hands every leaf part to a callback.  It does not judge what a
 * part contains: walk.c sniffs the bytes.
 *
 * All GLib and GMime types stay inside this file (STYLE 2.1).  A mail is judged
 * all or nothing: the whole tree is checked (caps, broken structure) before
 * the first part is delivered, so that a broken mail never yields half of its
 * reports.
 */
#include <gmime/gmime.h>
#include <string.h>

#include "ingest_int.h"
#include "mem.h"

/* A structural defect GMime reports while parsing, and what we tell the user
 * about it. */
struct defect {
	GMimeParserWarning code;
	enum dm_status status;
	const char *reason;
	const char *msg;
};

/*
 * Only defects that lose content count.  Harmless oddities (duplicated headers,
 * 8-bit headers, invalid RFC 2047 words) are common in real report mails and
 * are ignored.
 */
static const struct defect defects[] = {
    {GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY, DM_EFORMAT, "mime_malformed",
        "malformed MIME: multipart without a boundary parameter"},
    {GMIME_WARN_TRUNCATED_MESSAGE, DM_EFORMAT, "mime_truncated",
        "truncated mail: it ends before its MIME structure is complete (a "
        "closing boundary or the end of the header is missing)"},
    {GMIME_WARN_MALFORMED_MULTIPART, DM_EFORMAT, "mime_malformed",
        "malformed MIME: a multipart has no parts"},
    {GMIME_WARN_MALFORMED_MESSAGE, DM_EFORMAT, "mime_malformed",
        "malformed MIME: message structure is broken"},
    {GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT, DM_EFORMAT, "mime_malformed",
        "malformed MIME: a part has neither headers nor content"},
    {GMIME_CRIT_NESTING_OVERFLOW, DM_ELIMIT, "limit",
        "MIME nesting deeper than the parser allows"},
};

/* Which multipart/report report-type (RFC 6522) means which kind of mail. */
static const struct {
	const char *report_type;
	enum dm_mail_kind kind;
} report_types[] = {
    {"feedback-report", DM_MAIL_FORENSIC},
    {"tlsrpt", DM_MAIL_TLSRPT},
    {"delivery-status", DM_MAIL_BOUNCE},
};

/* Attachment types of RFC 8460 section 5.3: a TLS-RPT report mailed without
 * multipart/report. */
static const char *const tlsrpt_types[] = {
    "application/tlsrpt+gzip",
    "application/tlsrpt+json",
};

struct mail_walk {
	const struct dm_limits *lim;
	int (*part)(void *ctx, const struct dm_mail_info *info,
	    enum dm_mail_kind kind, const struct dm_mail_part *p,
	    struct dm_error *err);
	void *ctx;
	struct dm_mail_info info;
	char *from; /* info.from, owned (GMime hands addresses out as new
	               strings) */
	enum dm_mail_kind kind;
	const struct defect
	    *defect; /* first content-losing defect GMime reported */
	gint64 defect_offset;
	uint32_t parts;
	size_t
	    skipped; /* bytes before the headers (blank lines, "From " line) */
};

/* GMime's global tables are set up once per process and never torn down
 * (GMime's own rule). */
static void
init_gmime(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

static void
on_warning(
    gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	struct mail_walk *mw = data;
	size_t i;

	(void)item;
	if (mw->defect != NULL)
		return;
	for (i = 0; i < sizeof(defects) / sizeof(defects[0]); i++) {
		if (defects[i].code == code) {
			mw->defect = &defects[i];
			mw->defect_offset = offset;
			return;
		}
	}
}

/* Skips blank lines and white space before the headers, then an mbox "From "
 * envelope line. */
static size_t
header_start(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len &&
	       (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (len - i >= 5 && memcmp(p + i, "From ", 5) == 0) {
		while (i < len && p[i] != '\n')
			i++;
		if (i < len)
			i++;
	}
	return i;
}

static int
is_type(GMimeObject *o, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);

	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

/* "type/subtype" in lower case, or NULL; the caller g_free()s it. */
static char *
mime_type(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *t, *low;

	if (ct == NULL)
		return NULL;
	t = g_mime_content_type_get_mime_type(ct);
	low = g_ascii_strdown(t, -1);
	g_free(t);
	return low;
}

static enum dm_mail_kind
classify_top(GMimeObject *top)
{
	GMimeContentType *ct = g_mime_object_get_content_type(top);
	const char *rt;
	size_t i;

	if (!is_type(top, "multipart", "report"))
		return DM_MAIL_PLAIN;
	rt = g_mime_content_type_get_parameter(ct, "report-type");
	for (i = 0;
	     rt != NULL && i < sizeof(report_types) / sizeof(report_types[0]);
	     i++) {
		if (g_ascii_strcasecmp(rt, report_types[i].report_type) == 0)
			return report_types[i].kind;
	}
	return DM_MAIL_PLAIN;
}

static int
is_tlsrpt_part(GMimeObject *o)
{
	char *t = mime_type(o);
	int hit = 0;
	size_t i;

	for (i = 0;
	     t != NULL && i < sizeof(tlsrpt_types) / sizeof(tlsrpt_types[0]);
	     i++)
		hit |= strcmp(t, tlsrpt_types[i]) == 0;
	g_free(t);
	return hit;
}

static int
count_part(struct mail_walk *mw, struct dm_error *err)
{
	if (++mw->parts > mw->lim->mime_parts)
		return dm_error_setr(err, DM_ELIMIT, "limit",
		    "more than %u MIME parts (DM_MAX_MIME_PARTS)",
		    (unsigned)mw->lim->mime_parts);
	return DM_OK;
}

static int
check_depth(struct mail_walk *mw, unsigned depth, struct dm_error *err)
{
	if (depth > mw->lim->mime_depth)
		return dm_error_setr(err, DM_ELIMIT, "limit",
		    "MIME nesting deeper than %u (DM_MAX_MIME_DEPTH)",
		    (unsigned)mw->lim->mime_depth);
	return DM_OK;
}

/* Section number of child i (1-based) under section sec ("1.2" style, as IMAP
 * numbers them). */
static char *
child_section(const char *sec, int i)
{
	return sec == NULL ? g_strdup_printf("%d", i + 1)
	                   : g_strdup_printf("%s.%d", sec, i + 1);
}

/* What a leaf part or a container is to do; check() and deliver() share the
 * tree walk. */
struct visit {
	int (*leaf)(struct mail_walk *mw, GMimePart *part, const char *path,
	    struct dm_error *err);
	int (*enter)(
	    struct mail_walk *mw, unsigned depth, struct dm_error *err);
};

static int walk_entity(struct mail_walk *mw, const struct visit *v,
    GMimeObject *o, const char *prefix, const char *sec, unsigned depth,
    struct dm_error *err);

static int
walk_children(struct mail_walk *mw, const struct visit *v, GMimeMultipart *mp,
    const char *prefix, const char *sec, unsigned depth, struct dm_error *err)
{
	int i, n = g_mime_multipart_get_count(mp), rc = DM_OK;
	char *csec;

	for (i = 0; i < n && rc == DM_OK; i++) {
		csec = child_section(sec, i);
		rc = walk_entity(mw, v, g_mime_multipart_get_part(mp, i),
		    prefix, csec, depth, err);
		g_free(csec);
	}
	return rc;
}

/* The body of a message: its children are numbered from 1 again, after
 * "<prefix>". */
static int
walk_body(struct mail_walk *mw, const struct visit *v, GMimeMessage *msg,
    const char *prefix, unsigned depth, struct dm_error *err)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);

	if (top == NULL)
		return DM_OK;
	if (GMIME_IS_MULTIPART(top))
		return walk_entity(mw, v, top, prefix, NULL, depth, err);
	return walk_entity(mw, v, top, prefix, "1", depth, err);
}

static int
walk_message_part(struct mail_walk *mw, const struct visit *v,
    GMimeMessagePart *mp, const char *prefix, const char *sec, unsigned depth,
    struct dm_error *err)
{
	GMimeMessage *inner = g_mime_message_part_get_message(mp);
	char *np;
	int rc;

	if (inner == NULL)
		return DM_OK;
	np = g_strdup_printf("%spart %s>message>", prefix, sec);
	rc = walk_body(mw, v, inner, np, depth, err);
	g_free(np);
	return rc;
}

static int
walk_entity(struct mail_walk *mw, const struct visit *v, GMimeObject *o,
    const char *prefix, const char *sec, unsigned depth, struct dm_error *err)
{
	char *path;
	int rc;

	if (GMIME_IS_MULTIPART(o) || GMIME_IS_MESSAGE_PART(o)) {
		if ((rc = v->enter(mw, depth + 1, err)) != DM_OK)
			return rc;
		if (GMIME_IS_MULTIPART(o))
			return walk_children(mw, v, GMIME_MULTIPART(o), prefix,
			    sec, depth + 1, err);
		return walk_message_part(
		    mw, v, GMIME_MESSAGE_PART(o), prefix, sec, depth + 1, err);
	}
	if (!GMIME_IS_PART(o))
		return DM_OK;
	path = g_strdup_printf("%spart %s", prefix, sec);
	rc = v->leaf(mw, GMIME_PART(o), path, err);
	g_free(path);
	return rc;
}

/*
 * First pass: caps, and whether a TLS-RPT attachment makes the mail TLS-RPT.
 * Base64 needs no check: GMime's decoder ignores characters outside the
 * alphabet, as RFC 2045 (section 6.8) says a decoder must; what a damaged
 * attachment decodes to is then judged by its content, like any other.
 */
static int
check_leaf(struct mail_walk *mw, GMimePart *part, const char *path,
    struct dm_error *err)
{
	int rc;

	if ((rc = count_part(mw, err)) != DM_OK)
		return rc;
	(void)path;
	if (mw->kind == DM_MAIL_PLAIN && is_tlsrpt_part(GMIME_OBJECT(part)))
		mw->kind = DM_MAIL_TLSRPT;
	return DM_OK;
}

static int
check_enter(struct mail_walk *mw, unsigned depth, struct dm_error *err)
{
	int rc;

	if ((rc = count_part(mw, err)) != DM_OK)
		return rc;
	return check_depth(mw, depth, err);
}

static const struct visit check_visit = {check_leaf, check_enter};

/* Decoded content of a part (transfer encoding undone) as a GByteArray inside
 * *mem. */
static GByteArray *
decode_part(GMimePart *part, GMimeStream **mem)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);

	*mem = g_mime_stream_mem_new();
	if (dw != NULL)
		g_mime_data_wrapper_write_to_stream(dw, *mem);
	return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(*mem));
}

/*
 * A "begin <mode> <name>" line at the start of a line: a uuencoded file pasted
 * into a text body with no Content-Transfer-Encoding to say so (old generators
 * and some gateways do this). Returns the offset just after that line, or 0,
 * and the name in *name (g_free it).
 */
static size_t
find_uu_begin(const unsigned char *p, size_t len, char **name)
{
	size_t i = 0, j, e;

	while (i + 10 <= len) {
		if (memcmp(p + i, "begin ", 6) == 0) {
			for (j = i + 6; j < len && p[j] >= '0' && p[j] <= '7';
			     j++)
				;
			if (j > i + 6 && j < len && p[j] == ' ') {
				for (e = j + 1; e < len && p[e] != '\n'; e++)
					;
				*name = g_strstrip(g_strndup(
				    (const char *)p + j + 1, e - j - 1));
				return e < len ? e + 1 : e;
			}
		}
		while (i < len && p[i] != '\n')
			i++;
		i++;
	}
	return 0;
}

/* Replaces ba's contents by the uudecoded text that follows the "begin" line at
 * off. */
static void
uudecode_from(GByteArray *ba, size_t off)
{
	unsigned char *out = g_malloc(ba->len - off + 4);
	int state = GMIME_UUDECODE_STATE_BEGIN;
	guint32 save = 0;
	size_t n;

	n = g_mime_encoding_uudecode_step(
	    ba->data + off, ba->len - off, out, &state, &save);
	g_byte_array_set_size(ba, 0);
	g_byte_array_append(ba, out, (guint)n);
	g_free(out);
}

/*
 * Only a text body can hold a pasted uuencoded file; in binary attachments a
 * "begin 644" line would be chance, and an x-uuencode part is already decoded
 * by GMime.
 */
static int
pasted_uu(GMimePart *part)
{
	return g_mime_part_get_content_encoding(part) !=
	           GMIME_CONTENT_ENCODING_UUENCODE &&
	       is_type(GMIME_OBJECT(part), "text", "*");
}

static int
deliver_leaf(struct mail_walk *mw, GMimePart *part, const char *path,
    struct dm_error *err)
{
	struct dm_mail_part p;
	GMimeStream *mem;
	GByteArray *ba;
	char *type, *uuname = NULL;
	size_t off;
	int rc;

	ba = decode_part(part, &mem);
	type = mime_type(GMIME_OBJECT(part));
	p.path = path;
	p.filename = g_mime_part_get_filename(part);
	p.content_type = type;
	if (pasted_uu(part) &&
	    (off = find_uu_begin(ba->data, ba->len, &uuname)) > 0) {
		uudecode_from(ba, off);
		if (p.filename == NULL && uuname[0] != '\0')
			p.filename = uuname;
	}
	p.data = ba->data;
	p.len = ba->len;
	rc = mw->part(mw->ctx, &mw->info, mw->kind, &p, err);
	g_free(uuname);
	g_free(type);
	g_object_unref(mem);
	return rc;
}

static int
deliver_enter(struct mail_walk *mw, unsigned depth, struct dm_error *err)
{
	(void)mw;
	(void)depth;
	(void)err;
	return DM_OK;
}

static const struct visit deliver_visit = {deliver_leaf, deliver_enter};

static int
check_defect(struct mail_walk *mw, struct dm_error *err)
{
	const struct defect *d = mw->defect;

	if (d == NULL)
		return DM_OK;
	if (mw->defect_offset < 0)
		return dm_error_setr(err, d->status, d->reason, "%s", d->msg);
	return dm_error_setr(err, d->status, d->reason, "%s (at byte %lld)",
	    d->msg, (long long)(mw->defect_offset + (gint64)mw->skipped));
}

static void
fill_info(struct mail_walk *mw, GMimeMessage *msg)
{
	InternetAddressList *from = g_mime_message_get_from(msg);

	mw->info.message_id = g_mime_message_get_message_id(msg);
	mw->info.date = g_mime_object_get_header(GMIME_OBJECT(msg), "Date");
	mw->info.subject = g_mime_message_get_subject(msg);
	if (from != NULL && internet_address_list_length(from) > 0)
		mw->from = internet_address_list_to_string(from, NULL, FALSE);
	mw->info.from = mw->from;
}

static int
has_headers(GMimeMessage *msg)
{
	GMimeHeaderList *h = g_mime_object_get_header_list(GMIME_OBJECT(msg));

	return h != NULL && g_mime_header_list_get_count(h) > 0;
}

/*
 * Finds the line that ends the header block: [*end, *next) is that line.
 * Returns 1 when it holds white space rather than nothing.  RFC 5322 would read
 * such a line as folding and take the whole body for headers; real senders mean
 * it as the empty line (a forensic report in the corpus does this), as most
 * mail readers take it.
 */
static int
header_end(const unsigned char *p, size_t len, size_t *end, size_t *next)
{
	size_t s = 0, e, i;

	for (; s < len; s = e + 1) {
		const unsigned char *nl = memchr(p + s, '\n', len - s);

		e = nl != NULL ? (size_t)(nl - p) : len;
		for (i = s;
		     i < e && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r');
		     i++)
			;
		if (i == e) {
			*end = s;
			*next = e < len ? e + 1 : e;
			return e > s && !(e == s + 1 && p[s] == '\r');
		}
	}
	*end = *next = len;
	return 0;
}

/* The mail as GMime is to read it: a white-space line ending the headers made
 * empty. */
static GMimeStream *
mail_stream(const unsigned char *p, size_t len)
{
	GMimeStream *st;
	size_t end, next;

	if (!header_end(p, len, &end, &next))
		return g_mime_stream_mem_new_with_buffer((const char *)p, len);
	st = g_mime_stream_mem_new();
	g_mime_stream_write(st, (const char *)p, end);
	g_mime_stream_write(st, "\n", 1);
	g_mime_stream_write(st, (const char *)p + next, len - next);
	g_mime_stream_reset(st);
	return st;
}

static GMimeMessage *
parse(struct mail_walk *mw, const unsigned char *p, size_t len)
{
	GMimeParserOptions *opts = g_mime_parser_options_new();
	GMimeStream *st = mail_stream(p, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(st);
	GMimeMessage *msg;

	g_mime_parser_options_set_warning_callback(opts, on_warning, mw);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_object_unref(st);
	g_mime_parser_options_free(opts);
	return msg;
}

/*
 * Caps first (a limit names the real cause), then broken structure, then the
 * parts.  Real forensic reports are often cut short by their senders (the
 * corpus has two), which is why the kind is known before defects are judged.
 */
static int
walk_message(struct mail_walk *mw, GMimeMessage *msg, struct dm_error *err)
{
	int rc;

	mw->kind = classify_top(g_mime_message_get_mime_part(msg));
	if ((rc = walk_body(mw, &check_visit, msg, "", 0, err)) != DM_OK)
		return rc;
	/* Forensic and TLS reports are skipped whole, so their defects do not
	 * matter. */
	if (mw->kind == DM_MAIL_PLAIN && (rc = check_defect(mw, err)) != DM_OK)
		return rc;
	fill_info(mw, msg);
	return walk_body(mw, &deliver_visit, msg, "", 0, err);
}

int
dm_mail_walk(const void *bytes, size_t len, const struct dm_limits *lim,
    int (*part)(void *ctx, const struct dm_mail_info *info,
        enum dm_mail_kind kind, const struct dm_mail_part *p,
        struct dm_error *err),
    void *ctx, struct dm_error *err)
{
	struct mail_walk mw;
	GMimeMessage *msg;
	char cap[32];
	int rc;

	if (len > lim->message_bytes) {
		dm_size_text(cap, sizeof(cap), lim->message_bytes);
		return dm_error_setr(err, DM_ELIMIT, "limit",
		    "message larger than %s (DM_MAX_MESSAGE_BYTES)", cap);
	}
	memset(&mw, 0, sizeof(mw));
	mw.lim = lim;
	mw.part = part;
	mw.ctx = ctx;
	mw.skipped = header_start(bytes, len);
	if (mw.skipped == len)
		return dm_error_setr(
		    err, DM_EFORMAT, "mail_empty", "empty mail: no headers");
	init_gmime();
	msg = parse(
	    &mw, (const unsigned char *)bytes + mw.skipped, len - mw.skipped);
	if (msg == NULL || !has_headers(msg) ||
	    g_mime_message_get_mime_part(msg) == NULL) {
		if (msg != NULL)
			g_object_unref(msg);
		return dm_error_setr(err, DM_EFORMAT, "mail_malformed",
		    "not a mail: no RFC 5322 header found");
	}
	rc = walk_message(&mw, msg, err);
	g_free(mw.from);
	g_object_unref(msg);
	return rc;
}

static int
dup_field(char **dst, const char *src)
{
	if (src == NULL)
		return DM_OK;
	*dst = dm_strdup(src);
	return *dst == NULL ? DM_ENOMEM : DM_OK;
}

static int
copy_head(struct dm_mail_head *h, GMimeMessage *msg)
{
	InternetAddressList *from = g_mime_message_get_from(msg);
	char *f = NULL;
	int rc = DM_OK;

	if (from != NULL && internet_address_list_length(from) > 0)
		f = internet_address_list_to_string(from, NULL, FALSE);
	rc |= dup_field(&h->message_id, g_mime_message_get_message_id(msg));
	rc |= dup_field(
	    &h->date, g_mime_object_get_header(GMIME_OBJECT(msg), "Date"));
	rc |= dup_field(&h->subject, g_mime_message_get_subject(msg));
	rc |= dup_field(&h->from, f);
	g_free(f);
	return rc;
}

int
dm_mail_head_read(
    const void *bytes, size_t len, struct dm_mail_head *h, struct dm_error *err)
{
	struct mail_walk mw;
	const unsigned char *p = bytes;
	GMimeMessage *msg;
	size_t off = header_start(p, len), end, next;
	int rc = DM_OK;

	memset(h, 0, sizeof(*h));
	if (off == len)
		return DM_OK;
	memset(&mw, 0, sizeof(mw));
	init_gmime();
	header_end(p + off, len - off, &end, &next);
	msg = parse(&mw, p + off, end);
	if (msg != NULL) {
		rc = copy_head(h, msg);
		g_object_unref(msg);
	}
	if (rc != DM_OK) {
		dm_mail_head_free(h);
		return dm_error_set(
		    err, DM_ENOMEM, "out of memory reading mail headers");
	}
	h->info.message_id = h->message_id;
	h->info.date = h->date;
	h->info.from = h->from;
	h->info.subject = h->subject;
	return DM_OK;
}

void
dm_mail_head_free(struct dm_mail_head *h)
{
	dm_free(h->message_id);
	dm_free(h->date);
	dm_free(h->from);
	dm_free(h->subject);
	memset(h, 0, sizeof(*h));
}
