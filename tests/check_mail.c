/*
 * check_mail.c - mail sources of ingest/: MIME parts through GMime (mail.c),
 * and mails, mboxes and Maildirs as units (mailbox.c), through dm_mail_walk and
 * dm_ingest_walk.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "ingest_int.h"
#include "mem.h"
#include "sha256.h"

#define DATA DM_TEST_DATA_DIR "/mail/"
#define ZIPNAME "example.net!example.com!1700000000!1700086399.zip"
#define GZNAME "example.net!example.com!1700000000!1700086399.xml.gz"

/* Reads a whole file (tests only); the caller frees it. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Every part dm_mail_walk delivered, copied. */
#define MAX_PARTS 8
struct got_part {
	char path[128], filename[128], type[64];
	char *data;
	size_t len;
};
struct got {
	int n;
	struct got_part p[MAX_PARTS];
	enum dm_mail_kind kind;
	char message_id[128], date[64], from[128], subject[128];
	int fail_with; /* nonzero: the callback returns this */
};

static void
copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s != NULL ? s : "(null)");
}

static int
on_part(void *ctx, const struct dm_mail_info *info, enum dm_mail_kind kind,
    const struct dm_mail_part *p, struct dm_error *err)
{
	struct got *g = ctx;
	struct got_part *gp;

	ck_assert_int_lt(g->n, MAX_PARTS);
	gp = &g->p[g->n++];
	copy_str(gp->path, sizeof(gp->path), p->path);
	copy_str(gp->filename, sizeof(gp->filename), p->filename);
	copy_str(gp->type, sizeof(gp->type), p->content_type);
	gp->data = malloc(p->len + 1);
	memcpy(gp->data, p->data, p->len);
	gp->len = p->len;
	g->kind = kind;
	copy_str(g->message_id, sizeof(g->message_id), info->message_id);
	copy_str(g->date, sizeof(g->date), info->date);
	copy_str(g->from, sizeof(g->from), info->from);
	copy_str(g->subject, sizeof(g->subject), info->subject);
	if (g->fail_with != 0)
		return dm_error_set(err, g->fail_with, "callback failed");
	return DM_OK;
}

static void
got_free(struct got *g)
{
	int i;

	for (i = 0; i < g->n; i++)
		free(g->p[i].data);
}

static int
walk_bytes(const char *bytes, size_t len, const struct dm_limits *lim,
    struct got *g, struct dm_error *e)
{
	memset(g, 0, sizeof(*g));
	dm_error_clear(e);
	return dm_mail_walk(bytes, len, lim, on_part, g, e);
}

static int
walk_fixture(const char *name, struct got *g, struct dm_error *e)
{
	struct dm_limits lim = dm_limits_default();
	char path[1024];
	size_t len;
	char *bytes;
	int rc;

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	bytes = slurp(path, &len);
	rc = walk_bytes(bytes, len, &lim, g, e);
	free(bytes);
	return rc;
}

static void
assert_part(const struct got_part *p, const char *path, const char *filename,
    const char *type)
{
	ck_assert_str_eq(p->path, path);
	ck_assert_str_eq(p->filename, filename);
	ck_assert_str_eq(p->type, type);
}

/* The part's bytes are exactly those of the fixture file name. */
static void
assert_bytes(const struct got_part *p, const char *name)
{
	char path[1024];
	size_t len;
	char *want;

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	want = slurp(path, &len);
	ck_assert_uint_eq(p->len, len);
	ck_assert_int_eq(memcmp(p->data, want, len), 0);
	free(want);
}

static void
assert_report_info(const struct got *g, const char *rid)
{
	char want[128];

	snprintf(want, sizeof(want), "%s@example.net", rid);
	ck_assert_str_eq(g->message_id, want);
	ck_assert_str_eq(g->date, "Tue, 14 Nov 2023 22:13:20 +0000");
	ck_assert_str_eq(g->from, "DMARC Reporter <noreply-dmarc@example.net>");
	snprintf(want, sizeof(want),
	    "Report Domain: example.com Submitter: example.net Report-ID: %s",
	    rid);
	ck_assert_str_eq(g->subject, want);
}

START_TEST(test_mail_zip_attachment)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("zip_attachment.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 2);
	ck_assert_int_eq(g.kind, DM_MAIL_PLAIN);
	assert_part(&g.p[0], "part 1", "(null)", "text/plain");
	ck_assert_uint_eq(g.p[0].len, 46);
	ck_assert_int_eq(
	    memcmp(g.p[0].data,
	        "This is an aggregate report from example.net.\n", 46),
	    0);
	assert_part(&g.p[1], "part 2", ZIPNAME, "application/zip");
	assert_bytes(&g.p[1], "report.zip");
	assert_report_info(&g, "zip-1");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_gzip_as_octet_stream)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("gzip_octet_stream.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", GZNAME, "application/octet-stream");
	assert_bytes(&g.p[0], "report.xml.gz");
	assert_report_info(&g, "gz-1");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_inline_xml_single_part)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("inline_xml.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", "(null)", "text/xml");
	assert_bytes(&g.p[0], "report.xml");
	assert_report_info(&g, "inline-1");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_leading_blank_lines_and_from_line)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("leading_from.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", "(null)", "text/xml");
	assert_bytes(&g.p[0], "report.xml");
	assert_report_info(&g, "inline-1");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_rfc2231_split_filename)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("rfc2231_filename.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1",
	    "example.net!example.com!1700000000!1700086399\xc3\xa9.xml.gz",
	    "application/gzip");
	assert_bytes(&g.p[0], "report.xml.gz");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_quoted_printable_xml)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("qp_xml.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", "report.xml", "text/xml");
	assert_bytes(&g.p[0], "qp_report.xml");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_uuencoded_text_body)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("uuencoded.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", GZNAME, "text/plain");
	assert_bytes(&g.p[0], "report.xml.gz");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_x_uuencode_transfer_encoding)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("x_uuencode.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", "r.xml.gz", "application/gzip");
	assert_bytes(&g.p[0], "report.xml.gz");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_begin_line_in_binary_part_is_kept)
{
	static const char m[] = "From: a@example.net\nMIME-Version: 1.0\n"
	                        "Content-Type: application/octet-stream\n\n"
	                        "data\nbegin 644 x\n#86)C\n`\nend\n";
	static const char body[] = "data\nbegin 644 x\n#86)C\n`\nend\n";
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_bytes(m, sizeof(m) - 1, &lim, &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", "(null)", "application/octet-stream");
	ck_assert_uint_eq(g.p[0].len, sizeof(body) - 1);
	ck_assert_int_eq(memcmp(g.p[0].data, body, sizeof(body) - 1), 0);
	got_free(&g);
}
END_TEST

START_TEST(test_mail_forwarded_rfc822_attachment)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("forwarded_rfc822.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 3);
	ck_assert_int_eq(g.kind, DM_MAIL_PLAIN);
	assert_part(&g.p[0], "part 1", "(null)", "text/plain");
	assert_part(&g.p[1], "part 2>message>part 1", "(null)", "text/plain");
	assert_part(
	    &g.p[2], "part 2>message>part 2", ZIPNAME, "application/zip");
	assert_bytes(&g.p[2], "report.zip");
	/* The info is the outer mail's, its RFC 2047 subject decoded. */
	ck_assert_str_eq(g.message_id, "fwd-1@example.com");
	ck_assert_str_eq(g.date, "Wed, 15 Nov 2023 08:00:00 +0100");
	ck_assert_str_eq(g.from, "Admin <admin@example.com>");
	ck_assert_str_eq(
	    g.subject, "Fwd: Report Domain: example.com \xe2\x9c\x93");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_forensic_report_kind)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("forensic.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 3);
	ck_assert_int_eq(g.kind, DM_MAIL_FORENSIC);
	assert_part(&g.p[0], "part 1", "(null)", "text/plain");
	assert_part(&g.p[1], "part 2", "(null)", "message/feedback-report");
	assert_part(&g.p[2], "part 3", "(null)", "text/rfc822-headers");
	ck_assert_str_eq(g.from, "abuse@example.net");
	ck_assert_str_eq(g.subject, "FW: Earn money");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_tlsrpt_kind)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("tlsrpt.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 2);
	ck_assert_int_eq(g.kind, DM_MAIL_TLSRPT);
	assert_part(&g.p[1], "part 2",
	    "example.net!example.com!1700000000!1700086399.json.gz",
	    "application/tlsrpt+gzip");
	assert_bytes(&g.p[1], "tlsrpt.json.gz");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_tlsrpt_attachment_without_report_type)
{
	static const char m[] =
	    "From: a@example.net\nSubject: TLS\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
	    "--b\nContent-Type: application/tlsrpt+json\n\n{}\n--b--\n";
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_bytes(m, sizeof(m) - 1, &lim, &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.kind, DM_MAIL_TLSRPT);
	assert_part(&g.p[0], "part 1", "(null)", "application/tlsrpt+json");
	ck_assert_str_eq(g.message_id, "(null)");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_bounce_kind_and_nested_sections)
{
	static const char m[] =
	    "From: MAILER-DAEMON@example.net\nSubject: "
	    "Undelivered\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"o\"\n\n"
	    "--o\nContent-Type: multipart/alternative; boundary=\"i\"\n\n"
	    "--i\nContent-Type: text/plain\n\nsorry\n--i\nContent-Type: "
	    "text/html\n\n<p>sorry</p>\n"
	    "--i--\n--o\nContent-Type: message/delivery-status\n\nStatus: "
	    "5.0.0\n--o--\n";
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_bytes(m, sizeof(m) - 1, &lim, &g, &e), DM_OK);
	ck_assert_int_eq(g.kind, DM_MAIL_BOUNCE);
	ck_assert_int_eq(g.n, 3);
	assert_part(&g.p[0], "part 1.1", "(null)", "text/plain");
	assert_part(&g.p[1], "part 1.2", "(null)", "text/html");
	assert_part(&g.p[2], "part 2", "(null)", "message/delivery-status");
	got_free(&g);
}
END_TEST

START_TEST(test_mail_rejects_missing_boundary)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(
	    walk_fixture("missing_boundary.eml", &g, &e), DM_EFORMAT);
	ck_assert_str_eq(e.reason, "mime_malformed");
	ck_assert_str_eq(e.msg, "malformed MIME: multipart without a boundary "
	                        "parameter (at byte 235)");
	ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(test_mail_rejects_truncated_multipart)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("truncated.eml", &g, &e), DM_EFORMAT);
	ck_assert_str_eq(e.reason, "mime_truncated");
	ck_assert_str_eq(e.msg,
	    "truncated mail: it ends before its MIME structure is complete (a "
	    "closing boundary or the end of the header is missing)");
	ck_assert_int_eq(g.n, 0);
}
END_TEST

/* RFC 2045, section 6.8: characters outside the base64 alphabet are ignored
 * by the decoder (here *, !, #, ., DEL, ~ and - inside the lines). */
START_TEST(test_mail_base64_ignores_junk)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("base64_junk.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	assert_part(&g.p[0], "part 1", "r.xml.gz", "application/gzip");
	assert_bytes(&g.p[0], "report.xml.gz");
	got_free(&g);
}
END_TEST

/* Base64 that lost characters decodes to what it decodes to: the gzip inside
 * is judged by its content (walk.c), not the mail refused. */
START_TEST(test_mail_damaged_base64_is_delivered)
{
	struct dm_error e;
	struct got g;

	ck_assert_int_eq(walk_fixture("bad_base64.eml", &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(memcmp(g.p[0].data, "\x1f\x8b", 2), 0);
	got_free(&g);
}
END_TEST

START_TEST(test_mail_rejects_non_mail)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;
	size_t len;
	char *zip = slurp(DATA "report.zip", &len);

	ck_assert_int_eq(walk_bytes(zip, len, &lim, &g, &e), DM_EFORMAT);
	ck_assert_str_eq(e.reason, "mail_malformed");
	ck_assert_str_eq(e.msg, "not a mail: no RFC 5322 header found");
	free(zip);
	ck_assert_int_eq(
	    walk_bytes(" \r\n\n\t\n", 6, &lim, &g, &e), DM_EFORMAT);
	ck_assert_str_eq(e.reason, "mail_empty");
	ck_assert_str_eq(e.msg, "empty mail: no headers");
	ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(test_mail_callback_error_stops_the_walk)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;
	size_t len;
	char *m = slurp(DATA "zip_attachment.eml", &len);

	memset(&g, 0, sizeof(g));
	g.fail_with = DM_EDB;
	dm_error_clear(&e);
	ck_assert_int_eq(dm_mail_walk(m, len, &lim, on_part, &g, &e), DM_EDB);
	ck_assert_str_eq(e.msg, "callback failed");
	ck_assert_int_eq(g.n, 1);
	got_free(&g);
	free(m);
}
END_TEST

/* A multipart/mixed mail with n empty text parts. */
static char *
many_parts(unsigned n, size_t *len)
{
	struct dm_buf b;
	unsigned i;

	dm_buf_init(&b, 1 << 24);
	ck_assert_int_eq(
	    dm_buf_adds(&b,
	        "From: a@example.net\nSubject: many\nMIME-Version: 1.0\n"
	        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"),
	    DM_OK);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(
		    dm_buf_addf(&b, "--B\nContent-Type: text/plain\n\n%u\n", i),
		    DM_OK);
	ck_assert_int_eq(dm_buf_adds(&b, "--B--\n"), DM_OK);
	*len = b.len;
	return dm_buf_take(&b);
}

START_TEST(test_mail_caps_mime_parts)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;
	size_t len;
	char *m = many_parts(10000, &len);

	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_ELIMIT);
	ck_assert_str_eq(e.reason, "limit");
	ck_assert_str_eq(
	    e.msg, "more than 1000 MIME parts (DM_MAX_MIME_PARTS)");
	ck_assert_int_eq(g.n, 0);
	dm_free(m);
	/* The multipart counts as a part: 4 leaves + 1 container = 5 passes a
	 * cap of 5. */
	lim.mime_parts = 5;
	m = many_parts(4, &len);
	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 4);
	ck_assert_str_eq(g.p[3].path, "part 4");
	got_free(&g);
	dm_free(m);
	m = many_parts(5, &len);
	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_ELIMIT);
	ck_assert_str_eq(e.msg, "more than 5 MIME parts (DM_MAX_MIME_PARTS)");
	dm_free(m);
}
END_TEST

/* depth multiparts nested in each other, one text part at the bottom. */
static char *
nested(unsigned depth, size_t *len)
{
	struct dm_buf b;
	unsigned i;

	dm_buf_init(&b, 1 << 24);
	ck_assert_int_eq(
	    dm_buf_adds(&b, "From: a@example.net\nMIME-Version: 1.0\n"), DM_OK);
	for (i = 0; i < depth; i++)
		ck_assert_int_eq(dm_buf_addf(&b,
		                     "Content-Type: multipart/mixed; "
		                     "boundary=\"n%u\"\n\n--n%u\n",
		                     i, i),
		    DM_OK);
	ck_assert_int_eq(
	    dm_buf_adds(&b, "Content-Type: text/plain\n\nbottom\n"), DM_OK);
	for (i = depth; i-- > 0;)
		ck_assert_int_eq(dm_buf_addf(&b, "--n%u--\n", i), DM_OK);
	*len = b.len;
	return dm_buf_take(&b);
}

START_TEST(test_mail_caps_mime_depth)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;
	size_t len;
	char *m = nested(100, &len);

	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_ELIMIT);
	ck_assert_str_eq(e.reason, "limit");
	ck_assert_str_eq(
	    e.msg, "MIME nesting deeper than 10 (DM_MAX_MIME_DEPTH)");
	ck_assert_int_eq(g.n, 0);
	dm_free(m);
	m = nested(3, &len);
	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.p[0].path, "part 1.1.1");
	got_free(&g);
	lim.mime_depth = 2;
	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_ELIMIT);
	ck_assert_str_eq(
	    e.msg, "MIME nesting deeper than 2 (DM_MAX_MIME_DEPTH)");
	dm_free(m);
}
END_TEST

START_TEST(test_mail_caps_message_bytes)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_error e;
	struct got g;
	size_t len;
	char *m = slurp(DATA "inline_xml.eml", &len);

	lim.message_bytes = 100;
	ck_assert_int_eq(walk_bytes(m, len, &lim, &g, &e), DM_ELIMIT);
	ck_assert_str_eq(e.reason, "limit");
	ck_assert_str_eq(
	    e.msg, "message larger than 100 bytes (DM_MAX_MESSAGE_BYTES)");
	ck_assert_int_eq(g.n, 0);
	free(m);
}
END_TEST

START_TEST(test_mail_head_read)
{
	struct dm_mail_head h;
	struct dm_error e;
	size_t len;
	char *m = slurp(DATA "forwarded_rfc822.eml", &len);

	ck_assert_int_eq(dm_mail_head_read(m, len, &h, &e), DM_OK);
	ck_assert_str_eq(h.info.message_id, "fwd-1@example.com");
	ck_assert_str_eq(h.info.date, "Wed, 15 Nov 2023 08:00:00 +0100");
	ck_assert_str_eq(h.info.from, "Admin <admin@example.com>");
	ck_assert_str_eq(
	    h.info.subject, "Fwd: Report Domain: example.com \xe2\x9c\x93");
	dm_mail_head_free(&h);
	ck_assert_ptr_null(h.info.subject);
	free(m);
	ck_assert_int_eq(
	    dm_mail_head_read("Subject: x\n\nbody\n", 17, &h, &e), DM_OK);
	ck_assert_str_eq(h.info.subject, "x");
	ck_assert_ptr_null(h.info.message_id);
	ck_assert_ptr_null(h.info.from);
	ck_assert_ptr_null(h.info.date);
	dm_mail_head_free(&h);
	ck_assert_int_eq(dm_mail_head_read("\n\n", 2, &h, &e), DM_OK);
	ck_assert_ptr_null(h.info.subject);
	ck_assert_ptr_null(h.info.from);
	dm_mail_head_free(&h);
}
END_TEST

/* ---- dm_ingest_walk: units, payloads and problems as one transcript ---- */

struct rec {
	struct dm_buf log;
	const char
	    *skip_message; /* unit_begin returns DM_DONE for this "message N" */
	const char *skip_identity; /* ... or this identity */
	int skip_failed;           /* ... DM_DONE_FAILED instead of DM_DONE */
	int vanish;        /* rec_begin_path: remove the next message first */
	char *vanish_path; /* ... this one */
	char last_sha[65];
	char *bytes2; /* copy of the unit bytes of "message 2" */
	size_t n_bytes2;
};

static const char *
kind_name(enum dm_payload_kind k)
{
	static const char *const names[] = {"xml", "json", "empty", "other"};

	return names[k];
}

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static int
rec_begin(void *ctx, const struct dm_unit *u, struct dm_error *err)
{
	struct rec *r = ctx;

	(void)err;
	ck_assert_ptr_nonnull(u->sha256);
	ck_assert_uint_eq(strlen(u->sha256), 64);
	ck_assert_ptr_nonnull(u->mail);
	snprintf(r->last_sha, sizeof(r->last_sha), "%s", u->sha256);
	dm_buf_addf(&r->log, "begin %s %s %s size=%llu mid=%s\n",
	    u->path + strlen(DATA) - 5, or_dash(u->message),
	    or_dash(u->identity), (unsigned long long)u->size,
	    or_dash(u->mail->message_id));
	if (u->message != NULL && strcmp(u->message, "message 2") == 0 &&
	    u->bytes != NULL) {
		r->bytes2 = malloc(u->n_bytes);
		memcpy(r->bytes2, u->bytes, u->n_bytes);
		r->n_bytes2 = u->n_bytes;
	}
	if ((r->skip_message && u->message &&
	        strcmp(u->message, r->skip_message) == 0) ||
	    (r->skip_identity && u->identity &&
	        strcmp(u->identity, r->skip_identity) == 0))
		return DM_DONE;
	return DM_OK;
}

static int
rec_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct rec *r = ctx;

	(void)err;
	ck_assert_ptr_nonnull(p->unit->mail);
	dm_buf_addf(
	    &r->log, "payload %s %s\n", or_dash(p->member), kind_name(p->kind));
	return DM_OK;
}

static int
rec_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *pb, struct dm_error *err)
{
	struct rec *r = ctx;

	(void)u;
	(void)err;
	dm_buf_addf(&r->log, "problem %s %d %s: %s\n", or_dash(member),
	    pb->code, or_dash(pb->reason), pb->msg);
	return DM_OK;
}

static int
rec_end(void *ctx, const struct dm_unit *u, int ok, struct dm_error *err)
{
	struct rec *r = ctx;

	(void)u;
	(void)err;
	dm_buf_addf(&r->log, "end ok=%d\n", ok);
	return DM_OK;
}

static int
rec_moved(
    void *ctx, const struct dm_unit *u, const char *to, struct dm_error *err)
{
	struct rec *r = ctx;

	(void)err;
	dm_buf_addf(&r->log, "moved %s -> %s\n", u->path, to);
	return DM_OK;
}

static void
rec_init(struct rec *r, struct dm_walk_ops *ops)
{
	memset(r, 0, sizeof(*r));
	dm_buf_init(&r->log, 1 << 20);
	ops->ctx = r;
	ops->unit_begin = rec_begin;
	ops->payload = rec_payload;
	ops->problem = rec_problem;
	ops->unit_end = rec_end;
	ops->unit_moved = rec_moved;
}

static void
rec_free(struct rec *r)
{
	dm_buf_free(&r->log);
	free(r->bytes2);
}

static int
rec_begin_path(void *ctx, const struct dm_unit *u, struct dm_error *err)
{
	struct rec *r = ctx;

	(void)err;
	ck_assert_ptr_nonnull(u->mail);
	dm_buf_addf(&r->log, "begin %s %s %s\n", u->path, or_dash(u->message),
	    or_dash(u->identity));
	if (r->vanish_path != NULL && r->vanish-- == 1)
		ck_assert_int_eq(unlink(r->vanish_path), 0);
	if (r->skip_identity && u->identity &&
	    strcmp(u->identity, r->skip_identity) == 0)
		return r->skip_failed ? DM_DONE_FAILED : DM_DONE;
	return DM_OK;
}

static const char three_mbox_log[] =
    "begin mail/three.mbox message 1 - size=1359 mid=zip-1@example.net\n"
    "payload part 2:" ZIPNAME
    ">example.net!example.com!1700000000!1700086399.xml xml\n"
    "end ok=1\n"
    "begin mail/three.mbox message 2 - size=972 mid=mbox-2@example.net\n"
    "payload part 2:r2.xml.gz>gunzip xml\n"
    "end ok=1\n"
    "begin mail/three.mbox message 3 - size=502 mid=ruf-1@example.net\n"
    "problem - -7 forensic_report: forensic (RUF) report, not an aggregate "
    "report\n"
    "end ok=0\n";

START_TEST(test_walk_mbox_three_messages)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;

	rec_init(&r, &ops);
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "three.mbox", NULL, &opt, &ops, &e), DM_OK);
	ck_assert_str_eq(r.log.data, three_mbox_log);
	/* mboxrd unescaping: one '>' less on ">From" lines, the separator line
	 * dropped. */
	ck_assert_ptr_nonnull(r.bytes2);
	r.bytes2 = realloc(r.bytes2, r.n_bytes2 + 1);
	r.bytes2[r.n_bytes2] = '\0';
	ck_assert_ptr_nonnull(
	    strstr(r.bytes2, "\n\nFrom the desk of the postmaster"));
	ck_assert_ptr_nonnull(strstr(r.bytes2, "\n>From a quoted line.\n"));
	ck_assert_ptr_null(strstr(r.bytes2, ">>From"));
	ck_assert_int_eq(strncmp(r.bytes2, "From: \"DMARC", 12), 0);
	ck_assert_int_eq(strcmp(r.bytes2 + r.n_bytes2 - 7, "--m2--\n"), 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_walk_mbox_unit_begin_done_skips_message)
{
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;

	rec_init(&r, &ops);
	r.skip_message = "message 2";
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "three.mbox", NULL, NULL, &ops, &e), DM_OK);
	ck_assert_str_eq(r.log.data,
	    "begin mail/three.mbox message 1 - size=1359 "
	    "mid=zip-1@example.net\n"
	    "payload part 2:" ZIPNAME
	    ">example.net!example.com!1700000000!1700086399.xml xml\n"
	    "end ok=1\n"
	    "begin mail/three.mbox message 2 - size=972 "
	    "mid=mbox-2@example.net\n"
	    "begin mail/three.mbox message 3 - size=502 mid=ruf-1@example.net\n"
	    "problem - -7 forensic_report: forensic (RUF) report, not an "
	    "aggregate report\n"
	    "end ok=0\n");
	rec_free(&r);
}
END_TEST

START_TEST(test_walk_mbox_caps_message_bytes)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;

	rec_init(&r, &ops);
	lim.message_bytes = 1200;
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "three.mbox", &lim, NULL, &ops, &e), DM_OK);
	ck_assert_str_eq(r.log.data,
	    "begin mail/three.mbox message 1 - size=1359 mid=-\n"
	    "problem - -4 limit: message larger than 1200 bytes "
	    "(DM_MAX_MESSAGE_BYTES)\n"
	    "end ok=0\n"
	    "begin mail/three.mbox message 2 - size=972 "
	    "mid=mbox-2@example.net\n"
	    "payload part 2:r2.xml.gz>gunzip xml\n"
	    "end ok=1\n"
	    "begin mail/three.mbox message 3 - size=502 mid=ruf-1@example.net\n"
	    "problem - -7 forensic_report: forensic (RUF) report, not an "
	    "aggregate report\n"
	    "end ok=0\n");
	rec_free(&r);
}
END_TEST

START_TEST(test_walk_mail_memory_mbox_with_crlf)
{
	static const char mbox[] =
	    "From a@example.net Tue Nov 14 22:13:20 2023\r\n"
	    "From: a@example.net\r\nMessage-ID: <m1@example.net>\r\n"
	    "Content-Type: text/xml\r\n\r\n<feedback/>\r\n\r\n"
	    "From b@example.net Tue Nov 14 22:13:21 2023\r\n"
	    "From: b@example.net\r\nMessage-ID: "
	    "<m2@example.net>\r\n\r\nhello\r\n";
	struct dm_limits lim = dm_limits_default();
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_walk w;
	struct dm_error e;
	struct rec r;

	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	w.lim = &lim;
	w.opt = &opt;
	w.ops = &ops;
	w.unit_ok = 1;
	dm_error_clear(&e);
	ck_assert_int_eq(
	    dm_walk_mail_memory(&w, "-", mbox, sizeof(mbox) - 1, 1, &e), DM_OK);
	ck_assert_str_eq(r.log.data,
	    "begin - message 1 -\n"
	    "payload part 1 xml\n"
	    "end ok=1\n"
	    "begin - message 2 -\n"
	    "problem - -7 no_report: no DMARC report found in the mail\n"
	    "end ok=0\n");
	rec_free(&r);
}
END_TEST

static void
file_sha256(const char *path, char hex[65])
{
	struct dm_sha256 c;
	size_t len;
	char *p = slurp(path, &len);

	dm_sha256_init(&c);
	dm_sha256_update(&c, p, len);
	dm_sha256_final_hex(&c, hex);
	free(p);
}

START_TEST(test_walk_single_mail_file)
{
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char want[65];

	rec_init(&r, &ops);
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "leading_from.eml", NULL, NULL, &ops, &e),
	    DM_OK);
	ck_assert_str_eq(r.log.data, "begin mail/leading_from.eml - - "
	                             "size=1104 mid=inline-1@example.net\n"
	                             "payload part 1 xml\n"
	                             "end ok=1\n");
	file_sha256(DATA "leading_from.eml", want);
	ck_assert_str_eq(r.last_sha, want);
	rec_free(&r);
}
END_TEST

/* An HTML body starts with '<' too: it is not a (broken) report. */
START_TEST(test_walk_mail_html_body_is_not_a_report)
{
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;

	rec_init(&r, &ops);
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "html_body.eml", NULL, NULL, &ops, &e), DM_OK);
	ck_assert_ptr_nonnull(strstr(r.log.data, "mid=html-1@example.net\n"
	                                         "payload part 2:example.net!"
	                                         "example.com!1700000000!"
	                                         "1700086399.zip>example.net!"
	                                         "example.com!1700000000!"
	                                         "1700086399.xml xml\n"
	                                         "end ok=1\n"));
	ck_assert_ptr_null(strstr(r.log.data, "part 1.2"));
	rec_free(&r);
}
END_TEST

START_TEST(test_walk_mail_problems_are_reported)
{
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;

	rec_init(&r, &ops);
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "truncated.eml", NULL, NULL, &ops, &e), DM_OK);
	ck_assert_int_eq(
	    dm_ingest_walk(DATA "tlsrpt.eml", NULL, NULL, &ops, &e), DM_OK);
	ck_assert_str_eq(r.log.data,
	    "begin mail/truncated.eml - - size=450 mid=tr-1@example.net\n"
	    "problem - -3 mime_truncated: truncated mail: it ends before its "
	    "MIME structure is complete (a closing boundary or the end of the "
	    "header is missing)\n"
	    "end ok=0\n"
	    "begin mail/tlsrpt.eml - - size=607 mid=tls-1@example.net\n"
	    "problem - -7 tls_report: SMTP TLS report (TLS-RPT), not an "
	    "aggregate report\n"
	    "end ok=0\n");
	rec_free(&r);
}
END_TEST

/* ---- Maildir ---- */

static char tmpdir[256];

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_mail.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
remove_tree(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
put(const char *fixture, const char *rel)
{
	char src[1024], dst[1024];
	size_t len;
	char *p;
	FILE *f;

	snprintf(src, sizeof(src), "%s%s", DATA, fixture);
	snprintf(dst, sizeof(dst), "%s/%s", tmpdir, rel);
	p = slurp(src, &len);
	f = fopen(dst, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	fclose(f);
	free(p);
}

static void
mkdir_rel(const char *rel)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	ck_assert_int_eq(mkdir(p, 0700), 0);
}

static int
exists(const char *rel)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	return access(p, F_OK) == 0;
}

/* A Maildir: a report in new/, a forensic report (flagged) in cur/, a broken
 * mail in new/. */
static void
make_maildir(void)
{
	make_tmpdir();
	mkdir_rel("box");
	mkdir_rel("box/cur");
	mkdir_rel("box/new");
	mkdir_rel("box/tmp");
	put("zip_attachment.eml", "box/new/1700000000.M1P1.host");
	put("forensic.eml", "box/cur/1700000001.M2P2.host:2,S");
	put("truncated.eml", "box/new/1700000002.M3P3.host");
}

/* The transcript with paths relative to the Maildir. */
static char *
strip_tmp(const char *log)
{
	struct dm_buf b;
	const char *p = log, *hit;
	size_t n = strlen(tmpdir);

	dm_buf_init(&b, 1 << 20);
	while ((hit = strstr(p, tmpdir)) != NULL) {
		dm_buf_add(&b, p, (size_t)(hit - p));
		p = hit + n;
	}
	dm_buf_adds(&b, p);
	return dm_buf_take(&b);
}

START_TEST(test_maildir_detected)
{
	char p[512];

	make_maildir();
	snprintf(p, sizeof(p), "%s/box", tmpdir);
	ck_assert_int_eq(dm_is_maildir(p), 1);
	ck_assert_int_eq(dm_is_maildir(tmpdir), 0);
	snprintf(p, sizeof(p), "%s/box/new", tmpdir);
	ck_assert_int_eq(dm_is_maildir(p), 0);
	remove_tree();
}
END_TEST

START_TEST(test_maildir_units_and_moves)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], done[512], failed[512], *log;

	make_maildir();
	snprintf(box, sizeof(box), "%s/box", tmpdir);
	snprintf(done, sizeof(done), "%s/done", tmpdir);
	snprintf(failed, sizeof(failed), "%s/failed", tmpdir);
	opt.move_to = done;
	opt.failed_to = failed;
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	log = strip_tmp(r.log.data);
	ck_assert_str_eq(log,
	    "begin /box/new/1700000000.M1P1.host - "
	    "maildir:/box/1700000000.M1P1.host\n"
	    "payload part 2:" ZIPNAME
	    ">example.net!example.com!1700000000!1700086399.xml xml\n"
	    "end ok=1\n"
	    "moved /box/new/1700000000.M1P1.host -> "
	    "/done/cur/1700000000.M1P1.host\n"
	    "begin /box/new/1700000002.M3P3.host - "
	    "maildir:/box/1700000002.M3P3.host\n"
	    "problem - -3 mime_truncated: truncated mail: it ends before its "
	    "MIME structure is complete (a closing boundary or the end of the "
	    "header is missing)\n"
	    "end ok=0\n"
	    "moved /box/new/1700000002.M3P3.host -> "
	    "/failed/cur/1700000002.M3P3.host\n"
	    "begin /box/cur/1700000001.M2P2.host:2,S - "
	    "maildir:/box/1700000001.M2P2.host\n"
	    "problem - -7 forensic_report: forensic (RUF) report, not an "
	    "aggregate report\n"
	    "end ok=0\n"
	    "moved /box/cur/1700000001.M2P2.host:2,S -> "
	    "/done/cur/1700000001.M2P2.host:2,S\n");
	dm_free(log);
	/* Processed and skipped mails go to move_to, the broken one to
	 * failed_to. */
	ck_assert(exists("done/cur/1700000000.M1P1.host"));
	ck_assert(exists("done/cur/1700000001.M2P2.host:2,S"));
	ck_assert(exists("done/new") && exists("done/tmp"));
	ck_assert(exists("failed/cur/1700000002.M3P3.host"));
	ck_assert(!exists("box/new/1700000000.M1P1.host"));
	ck_assert(!exists("box/new/1700000002.M3P3.host"));
	ck_assert(!exists("box/cur/1700000001.M2P2.host:2,S"));
	rec_free(&r);
	remove_tree();
}
END_TEST

/* The identity of a message of tmpdir/<box>. */
static const char *
identity_of(const char *box, const char *unique)
{
	static char id[1024];

	snprintf(id, sizeof(id), "maildir:%s/%s/%s", tmpdir, box, unique);
	return id;
}

/*
 * A message skipped as seen is moved too (a byte-identical copy, a message of
 * a run without move_to, a crash between commit and move): to move_to, or to
 * failed_to when it failed back then.
 */
START_TEST(test_maildir_seen_message_is_moved_too)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], done[512], failed[512], *log;

	make_maildir();
	snprintf(box, sizeof(box), "%s/box", tmpdir);
	snprintf(done, sizeof(done), "%s/done", tmpdir);
	snprintf(failed, sizeof(failed), "%s/failed", tmpdir);
	opt.move_to = done;
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	r.skip_identity = identity_of("box", "1700000001.M2P2.host");
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	log = strip_tmp(r.log.data);
	ck_assert_ptr_nonnull(
	    strstr(log, "begin /box/cur/1700000001.M2P2.host:2,S - "
	                "maildir:/box/1700000001.M2P2.host\n"
	                "moved /box/cur/1700000001.M2P2.host:2,S -> "
	                "/done/cur/1700000001.M2P2.host:2,S\n"));
	ck_assert_ptr_null(strstr(log, "forensic_report"));
	dm_free(log);
	ck_assert(exists("done/cur/1700000001.M2P2.host:2,S"));
	ck_assert(exists("done/cur/1700000000.M1P1.host"));
	/* No failed_to: the broken mail stays where it is. */
	ck_assert(exists("box/new/1700000002.M3P3.host"));
	rec_free(&r);

	/* Seen, and it had failed: to failed_to. */
	opt.failed_to = failed;
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	r.skip_identity = identity_of("box", "1700000002.M3P3.host");
	r.skip_failed = 1;
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	ck_assert(exists("failed/cur/1700000002.M3P3.host"));
	ck_assert(!exists("box/new/1700000002.M3P3.host"));
	rec_free(&r);
	remove_tree();
}
END_TEST

/*
 * Two Maildirs may hold messages of the same name: their identities differ
 * (the Maildir is part of it), so the second is not taken for the first.
 */
START_TEST(test_maildir_identity_names_the_maildir)
{
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], *log;

	make_maildir();
	mkdir_rel("box2");
	mkdir_rel("box2/cur");
	mkdir_rel("box2/new");
	put("gzip_octet_stream.eml", "box2/new/1700000000.M1P1.host");
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	r.skip_identity = identity_of("box", "1700000000.M1P1.host");
	snprintf(box, sizeof(box), "%s/box2", tmpdir);
	ck_assert_int_eq(dm_ingest_walk(box, NULL, NULL, &ops, &e), DM_OK);
	log = strip_tmp(r.log.data);
	ck_assert_str_eq(log, "begin /box2/new/1700000000.M1P1.host - "
	                      "maildir:/box2/1700000000.M1P1.host\n"
	                      "payload part 1:" GZNAME ">gunzip xml\n"
	                      "end ok=1\n");
	dm_free(log);
	rec_free(&r);
	remove_tree();
}
END_TEST

/*
 * A message that another run moved away after the folder was listed is not an
 * error, nor is one it moved while this walk read it: the walk goes on, and
 * nothing is said to have moved.
 */
START_TEST(test_maildir_message_moved_by_another_run)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], done[512], gone[512], *log;

	make_maildir();
	snprintf(box, sizeof(box), "%s/box", tmpdir);
	snprintf(done, sizeof(done), "%s/done", tmpdir);
	snprintf(gone, sizeof(gone), "%s/box/new/1700000002.M3P3.host", tmpdir);
	opt.move_to = done;
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	/* While the first message is walked, the second (listed) goes. */
	r.vanish = 1;
	r.vanish_path = gone;
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	log = strip_tmp(r.log.data);
	ck_assert_ptr_null(strstr(log, "1700000002"));
	ck_assert_ptr_nonnull(strstr(log, "moved /box/cur/1700000001"));
	dm_free(log);
	rec_free(&r);

	/* The message itself goes while it is walked: no move, no error. */
	put("zip_attachment.eml", "box/new/1700000009.M9P9.host");
	snprintf(gone, sizeof(gone), "%s/box/new/1700000009.M9P9.host", tmpdir);
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	r.vanish = 1;
	r.vanish_path = gone;
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	ck_assert_ptr_null(strstr(r.log.data, "moved"));
	ck_assert(!exists("done/cur/1700000009.M9P9.host"));
	rec_free(&r);
	remove_tree();
}
END_TEST

/*
 * A message that cannot be read (no permission) is a problem of its own, named
 * with its path, with no bytes, and goes to failed_to, never move_to.
 */
START_TEST(test_maildir_unreadable_message_goes_to_failed)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], p[512], done[512], failed[512], *log;
	uid_t uid = geteuid();

	make_maildir();
	snprintf(box, sizeof(box), "%s/box", tmpdir);
	snprintf(done, sizeof(done), "%s/done", tmpdir);
	snprintf(failed, sizeof(failed), "%s/failed", tmpdir);
	opt.move_to = done;
	opt.failed_to = failed;
	/* root reads anything: walk as nobody, in folders anyone may change. */
	snprintf(p, sizeof(p), "chmod -R a+rwX '%s'", tmpdir);
	ck_assert_int_eq(system(p), 0);
	snprintf(p, sizeof(p), "%s/box/new/1700000000.M1P1.host", tmpdir);
	ck_assert_int_eq(chmod(p, 0), 0);
	if (uid == 0)
		ck_assert_int_eq(seteuid(65534), 0);
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	if (uid == 0)
		ck_assert_int_eq(seteuid(0), 0);
	log = strip_tmp(r.log.data);
	ck_assert_ptr_nonnull(strstr(log,
	    "problem - -2 io: cannot open /box/new/1700000000.M1P1.host: "
	    "Permission denied\n"
	    "moved /box/new/1700000000.M1P1.host -> "
	    "/failed/cur/1700000000.M1P1.host\n"));
	dm_free(log);
	ck_assert(exists("failed/cur/1700000000.M1P1.host"));
	ck_assert(!exists("done/cur/1700000000.M1P1.host"));
	rec_free(&r);
	remove_tree();
}
END_TEST

/* Makes tmpdir/<name>/<name>/... n deep (names of 250 bytes), by folder
 * descriptors, and returns the path's length: no path is ever opened whole. */
static size_t
deep_folder(char *out, size_t outlen, int n)
{
	char name[251];
	int fd, next, i;
	size_t len;

	memset(name, 'd', 250);
	name[250] = '\0';
	fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	len = (size_t)snprintf(out, outlen, "%s", tmpdir);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(mkdirat(fd, name, 0700), 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(next, 0);
		close(fd);
		fd = next;
		len += (size_t)snprintf(out + len, outlen - len, "/%s", name);
	}
	close(fd);
	return len;
}

/*
 * A Maildir deep enough that its messages' paths pass PATH_MAX (4096): read and
 * moved through folder descriptors, not skipped.
 */
START_TEST(test_maildir_message_path_over_4096_bytes)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[8192], done[512], msg[300];
	int fd, dfd;

	make_tmpdir();
	deep_folder(box, sizeof(box) - 300, 16);
	strcat(box, "/box");
	ck_assert_int_eq(mkdir(box, 0700), 0);
	fd = open(box, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(mkdirat(fd, "new", 0700), 0);
	ck_assert_int_eq(mkdirat(fd, "cur", 0700), 0);
	dfd = openat(fd, "new", O_RDONLY | O_DIRECTORY);
	memset(msg, 'm', 240);
	strcpy(msg + 240, ".M1P1.host");
	close(fd);
	fd = openat(dfd, msg, O_WRONLY | O_CREAT, 0600);
	{
		size_t len;
		char *bytes = slurp(DATA "zip_attachment.eml", &len);

		ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
		free(bytes);
	}
	close(fd);
	close(dfd);
	ck_assert_uint_gt(strlen(box) + strlen("/new/") + strlen(msg), 4096);
	snprintf(done, sizeof(done), "%s/done", tmpdir);
	opt.move_to = done;
	rec_init(&r, &ops);
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_OK);
	ck_assert_ptr_nonnull(strstr(r.log.data, "end ok=1\nmoved "));
	ck_assert_ptr_nonnull(strstr(r.log.data, "payload part 2:"));
	snprintf(box, sizeof(box), "done/cur/%s", msg);
	ck_assert(exists(box));
	rec_free(&r);
	remove_tree();
}
END_TEST

START_TEST(test_maildir_move_failure_stops_the_walk)
{
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], to[512], want[1024];

	make_maildir();
	put("report.xml", "plain-file");
	snprintf(box, sizeof(box), "%s/box", tmpdir);
	snprintf(to, sizeof(to), "%s/plain-file/done", tmpdir);
	opt.move_to = to;
	rec_init(&r, &ops);
	ck_assert_int_eq(dm_ingest_walk(box, NULL, &opt, &ops, &e), DM_EIO);
	snprintf(want, sizeof(want), "cannot create %s: Not a directory", to);
	ck_assert_str_eq(e.msg, want);
	/* The first message was walked, then the walk stopped: nothing moved.
	 */
	ck_assert_int_eq(strncmp(r.log.data, "begin ", 6), 0);
	ck_assert_ptr_null(strstr(r.log.data, "1700000002"));
	ck_assert(exists("box/new/1700000000.M1P1.host"));
	rec_free(&r);
	remove_tree();
}
END_TEST

START_TEST(test_maildir_plain_mail_without_report)
{
	static const char m[] =
	    "From: a@example.com\nSubject: hello\n\nJust text.\n";
	struct dm_walk_ops ops;
	struct dm_error e;
	struct rec r;
	char box[512], p[512], *log;
	FILE *f;

	make_tmpdir();
	mkdir_rel("box");
	mkdir_rel("box/cur");
	mkdir_rel("box/new");
	snprintf(p, sizeof(p), "%s/box/new/1.M1.host", tmpdir);
	f = fopen(p, "wb");
	fputs(m, f);
	fclose(f);
	snprintf(box, sizeof(box), "%s/box", tmpdir);
	rec_init(&r, &ops);
	ops.unit_begin = rec_begin_path;
	ck_assert_int_eq(dm_ingest_walk(box, NULL, NULL, &ops, &e), DM_OK);
	log = strip_tmp(r.log.data);
	ck_assert_str_eq(log,
	    "begin /box/new/1.M1.host - maildir:/box/1.M1.host\n"
	    "problem - -7 no_report: no DMARC report found in the mail\n"
	    "end ok=0\n");
	dm_free(log);
	ck_assert(exists("box/new/1.M1.host"));
	rec_free(&r);
	remove_tree();
}
END_TEST

/* ---- the shared corpus: every mail gives its reports, or the right skip
 * reason ---- */

struct corpus_rec {
	unsigned xml, problems;
	char reasons[256];
};

static int
cr_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct corpus_rec *c = ctx;

	(void)err;
	c->xml += p->kind == DM_PAYLOAD_XML;
	return DM_OK;
}

static int
cr_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *pb, struct dm_error *err)
{
	struct corpus_rec *c = ctx;
	size_t n = strlen(c->reasons);

	(void)u;
	(void)member;
	(void)err;
	c->problems++;
	snprintf(c->reasons + n, sizeof(c->reasons) - n, "%s%s", n ? "," : "",
	    or_dash(pb->reason));
	return DM_OK;
}

static void
check_corpus_row(const char *file, const char *kind)
{
	struct dm_walk_ops ops = {0};
	struct corpus_rec c = {0};
	struct dm_error e;
	char path[2048];
	int n = snprintf(path, sizeof(path), "%s/%s", DM_CORPUS_DIR, file);

	ck_assert_msg(
	    n > 0 && (size_t)n < sizeof(path), "path too long: %s", file);
	ops.ctx = &c;
	ops.payload = cr_payload;
	ops.problem = cr_problem;
	ck_assert_int_eq(dm_ingest_walk(path, NULL, NULL, &ops, &e), DM_OK);
	if (strcmp(kind, "aggregate") == 0) {
		ck_assert_msg(c.xml >= 1 && c.problems == 0,
		    "%s: %u XML payloads, problems %s", file, c.xml, c.reasons);
	} else if (strcmp(kind, "forensic") == 0) {
		ck_assert_msg(
		    strcmp(c.reasons, "forensic_report") == 0 && c.xml == 0,
		    "%s: %s", file, c.reasons);
	} else if (strcmp(kind, "smtp_tls") == 0) {
		ck_assert_msg(
		    strcmp(c.reasons, "tls_report") == 0 && c.xml == 0,
		    "%s: %s", file, c.reasons);
	}
}

START_TEST(test_corpus_mails)
{
	char line[8192], *f[6], *s;
	unsigned rows = 0;
	FILE *m = fopen(DM_CORPUS_DIR "/MANIFEST.tsv", "r");
	int i;

	ck_assert_msg(m != NULL, "corpus manifest missing: %s", DM_CORPUS_DIR);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), m));
	while (fgets(line, sizeof(line), m) != NULL) {
		for (i = 0, s = line; i < 6 && s != NULL; i++) {
			f[i] = s;
			if ((s = strchr(s, '\t')) != NULL)
				*s++ = '\0';
		}
		if (i < 6 || strcmp(f[4], "eml") != 0)
			continue;
		check_corpus_row(f[0], f[5]);
		rows++;
	}
	fclose(m);
	ck_assert_uint_ge(rows, 40);
}
END_TEST

static Suite *
mail_suite(void)
{
	Suite *s = suite_create("mail");
	TCase *tc_parts = tcase_create("tc_parts");
	TCase *tc_malformed = tcase_create("tc_malformed");
	TCase *tc_limits = tcase_create("tc_limits");
	TCase *tc_walk = tcase_create("tc_walk");
	TCase *tc_corpus = tcase_create("tc_corpus");

	tcase_add_test(tc_parts, test_mail_zip_attachment);
	tcase_add_test(tc_parts, test_mail_gzip_as_octet_stream);
	tcase_add_test(tc_parts, test_mail_inline_xml_single_part);
	tcase_add_test(tc_parts, test_mail_leading_blank_lines_and_from_line);
	tcase_add_test(tc_parts, test_mail_rfc2231_split_filename);
	tcase_add_test(tc_parts, test_mail_quoted_printable_xml);
	tcase_add_test(tc_parts, test_mail_uuencoded_text_body);
	tcase_add_test(tc_parts, test_mail_x_uuencode_transfer_encoding);
	tcase_add_test(tc_parts, test_mail_begin_line_in_binary_part_is_kept);
	tcase_add_test(tc_parts, test_mail_forwarded_rfc822_attachment);
	tcase_add_test(tc_parts, test_mail_forensic_report_kind);
	tcase_add_test(tc_parts, test_mail_tlsrpt_kind);
	tcase_add_test(
	    tc_parts, test_mail_tlsrpt_attachment_without_report_type);
	tcase_add_test(tc_parts, test_mail_bounce_kind_and_nested_sections);
	tcase_add_test(tc_parts, test_mail_head_read);
	suite_add_tcase(s, tc_parts);
	tcase_add_test(tc_malformed, test_mail_rejects_missing_boundary);
	tcase_add_test(tc_malformed, test_mail_rejects_truncated_multipart);
	tcase_add_test(tc_malformed, test_mail_base64_ignores_junk);
	tcase_add_test(tc_malformed, test_mail_damaged_base64_is_delivered);
	tcase_add_test(tc_malformed, test_mail_rejects_non_mail);
	tcase_add_test(tc_malformed, test_mail_callback_error_stops_the_walk);
	suite_add_tcase(s, tc_malformed);
	tcase_add_test(tc_limits, test_mail_caps_mime_parts);
	tcase_add_test(tc_limits, test_mail_caps_mime_depth);
	tcase_add_test(tc_limits, test_mail_caps_message_bytes);
	suite_add_tcase(s, tc_limits);
	tcase_add_test(tc_walk, test_walk_mbox_three_messages);
	tcase_add_test(tc_walk, test_walk_mbox_unit_begin_done_skips_message);
	tcase_add_test(tc_walk, test_walk_mbox_caps_message_bytes);
	tcase_add_test(tc_walk, test_walk_single_mail_file);
	tcase_add_test(tc_walk, test_walk_mail_memory_mbox_with_crlf);
	tcase_add_test(tc_walk, test_walk_mail_problems_are_reported);
	tcase_add_test(tc_walk, test_walk_mail_html_body_is_not_a_report);
	tcase_add_test(tc_walk, test_maildir_detected);
	tcase_add_test(tc_walk, test_maildir_units_and_moves);
	tcase_add_test(tc_walk, test_maildir_seen_message_is_moved_too);
	tcase_add_test(tc_walk, test_maildir_identity_names_the_maildir);
	tcase_add_test(tc_walk, test_maildir_message_moved_by_another_run);
	tcase_add_test(tc_walk, test_maildir_unreadable_message_goes_to_failed);
	tcase_add_test(tc_walk, test_maildir_message_path_over_4096_bytes);
	tcase_add_test(tc_walk, test_maildir_move_failure_stops_the_walk);
	tcase_add_test(tc_walk, test_maildir_plain_mail_without_report);
	suite_add_tcase(s, tc_walk);
	dm_check_corpus_case(tc_corpus);
	tcase_set_timeout(tc_corpus, 120);
	tcase_add_test(tc_corpus, test_corpus_mails);
	suite_add_tcase(s, tc_corpus);
	return s;
}

int
main(int argc, char **argv)
{
	return dm_check_main(argc, argv, mail_suite());
}
