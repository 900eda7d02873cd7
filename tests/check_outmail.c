/*
 * check_outmail.c - mail/: messages built by dm_mail_build() read back with
 * GMime's parser (structure, headers, RFC 2047 subject and names, every body
 * byte for byte), the address checks and their messages, and dm_mail_send()
 * against a small sendmail script.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "mail.h"

static const char text[] =
    "DMARC report 2026-11-01 to 2026-11-07\nÜberblick: 日本語 ok\n"
    "a line that is long enough to need folding by a quoted-printable "
    "encoder, far past seventy-six characters = and an equals sign\n"
    ".\nFrom the start of a line\n";
static const char html[] = "<!DOCTYPE html>\n<html><body><h1>DMARC "
                           "report</h1><p>Ünïcode &amp; "
                           "more</p></body></html>\n";
static const char csv[] = "section,messages\r\noverview,24734\r\n\"a,b\",1\r\n";

static struct dm_mail
full_mail(void)
{
	struct dm_mail m;

	memset(&m, 0, sizeof(m));
	m.from = "\"DMARC Bot\" <dmarc@example.net>";
	m.to = "ops@example.com, \"Ünïcode Näme\" <b@example.org>";
	m.subject = "Wöchentlich: DMARC 日本語";
	m.date = 1794355200; /* 2026-11-10 00:00:00 UTC */
	m.text.data = text;
	m.text.len = sizeof(text) - 1;
	m.html.data = html;
	m.html.len = sizeof(html) - 1;
	m.attach.data = csv;
	m.attach.len = sizeof(csv) - 1;
	m.attach_name = "dmarc-2026-11-01_2026-11-07.csv";
	m.attach_type = "text/csv";
	return m;
}

static GMimeMessage *
build_and_parse(const struct dm_mail *m, struct dm_buf *b)
{
	struct dm_error err;
	GMimeStream *st;
	GMimeParser *p;
	GMimeMessage *msg;

	dm_buf_init(b, 1 << 20);
	dm_error_clear(&err);
	ck_assert_int_eq(dm_mail_build(m, b, &err), DM_OK);
	st = g_mime_stream_mem_new_with_buffer(b->data, b->len);
	p = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	ck_assert_ptr_nonnull(msg);
	return msg;
}

/* A part's content decoded (base64, quoted-printable) into a new string. */
static GByteArray *
decoded(GMimeObject *o)
{
	GMimeStream *st = g_mime_stream_mem_new();
	GByteArray *a = g_byte_array_new(), *own;

	ck_assert(GMIME_IS_PART(o));
	g_mime_data_wrapper_write_to_stream(
	    g_mime_part_get_content(GMIME_PART(o)), st);
	own = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(st));
	g_byte_array_append(a, own->data, own->len);
	g_object_unref(st);
	return a;
}

static void
assert_body(GMimeObject *o, const char *type, const char *want, size_t len)
{
	GByteArray *a = decoded(o);
	char *ct = g_mime_content_type_get_mime_type(
	    g_mime_object_get_content_type(o));

	ck_assert_str_eq(ct, type);
	ck_assert_uint_eq(a->len, len);
	ck_assert(memcmp(a->data, want, len) == 0);
	g_free(ct);
	g_byte_array_unref(a);
}

static const char *
addr_at(GMimeMessage *msg, GMimeAddressType t, int i, const char **name)
{
	InternetAddressList *l = g_mime_message_get_addresses(msg, t);
	InternetAddress *ia = internet_address_list_get_address(l, i);

	*name = internet_address_get_name(ia);
	return internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
}

START_TEST(test_mail_parts_read_back_by_gmime)
{
	struct dm_mail m = full_mail();
	struct dm_buf b;
	GMimeMessage *msg = build_and_parse(&m, &b);
	GMimeObject *top = g_mime_message_get_mime_part(msg), *alt;
	GMimeMultipart *mp;

	ck_assert(GMIME_IS_MULTIPART(top));
	ck_assert_str_eq(g_mime_content_type_get_media_subtype(
	                     g_mime_object_get_content_type(top)),
	    "mixed");
	mp = GMIME_MULTIPART(top);
	ck_assert_int_eq(g_mime_multipart_get_count(mp), 2);
	alt = g_mime_multipart_get_part(mp, 0);
	ck_assert(GMIME_IS_MULTIPART(alt));
	ck_assert_str_eq(g_mime_content_type_get_media_subtype(
	                     g_mime_object_get_content_type(alt)),
	    "alternative");
	ck_assert_int_eq(g_mime_multipart_get_count(GMIME_MULTIPART(alt)), 2);
	assert_body(g_mime_multipart_get_part(GMIME_MULTIPART(alt), 0),
	    "text/plain", text, sizeof(text) - 1);
	assert_body(g_mime_multipart_get_part(GMIME_MULTIPART(alt), 1),
	    "text/html", html, sizeof(html) - 1);
	assert_body(
	    g_mime_multipart_get_part(mp, 1), "text/csv", csv, sizeof(csv) - 1);
	ck_assert_str_eq(g_mime_part_get_filename(
	                     GMIME_PART(g_mime_multipart_get_part(mp, 1))),
	    "dmarc-2026-11-01_2026-11-07.csv");
	ck_assert_str_eq(
	    g_mime_object_get_content_type_parameter(
	        g_mime_multipart_get_part(GMIME_MULTIPART(alt), 0), "charset"),
	    "utf-8");
	ck_assert(g_mime_part_get_content_encoding(
	              GMIME_PART(g_mime_multipart_get_part(mp, 1))) ==
	          GMIME_CONTENT_ENCODING_BASE64);
	g_object_unref(msg);
	dm_buf_free(&b);
}
END_TEST

START_TEST(test_mail_headers_read_back_by_gmime)
{
	struct dm_mail m = full_mail();
	struct dm_buf b;
	GMimeMessage *msg = build_and_parse(&m, &b);
	GDateTime *d = g_mime_message_get_date(msg);
	const char *name, *id;

	ck_assert_str_eq(g_mime_message_get_subject(msg), m.subject);
	/* On the wire the subject is ASCII, as RFC 2047 encoded words. */
	ck_assert_ptr_null(strstr(b.data, "Wöchentlich"));
	ck_assert_ptr_nonnull(strstr(b.data, "Subject: =?"));
	ck_assert_str_eq(addr_at(msg, GMIME_ADDRESS_TYPE_FROM, 0, &name),
	    "dmarc@example.net");
	ck_assert_str_eq(name, "DMARC Bot");
	ck_assert_str_eq(
	    addr_at(msg, GMIME_ADDRESS_TYPE_TO, 0, &name), "ops@example.com");
	ck_assert_str_eq(
	    addr_at(msg, GMIME_ADDRESS_TYPE_TO, 1, &name), "b@example.org");
	ck_assert_str_eq(name, "Ünïcode Näme");
	ck_assert_int_eq(g_date_time_to_unix(d), m.date);
	id = g_mime_message_get_message_id(msg);
	ck_assert_ptr_nonnull(id);
	ck_assert_ptr_nonnull(strchr(id, '@'));
	ck_assert_str_eq(
	    g_mime_object_get_header(GMIME_OBJECT(msg), "MIME-Version"), "1.0");
	ck_assert_str_eq(
	    g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"),
	    "auto-generated");
	g_object_unref(msg);
	dm_buf_free(&b);
}
END_TEST

START_TEST(test_mail_text_only_and_default_from)
{
	struct dm_mail m = full_mail();
	struct dm_buf b;
	GMimeMessage *msg;
	const char *name, *from;
	char host[256], want[300];

	m.html.data = NULL;
	m.attach.data = NULL;
	m.from = NULL;
	msg = build_and_parse(&m, &b);
	assert_body(g_mime_message_get_mime_part(msg), "text/plain", text,
	    sizeof(text) - 1);
	from = addr_at(msg, GMIME_ADDRESS_TYPE_FROM, 0, &name);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "dmarcstat@%s", host);
	ck_assert_str_eq(from, want);
	g_object_unref(msg);
	dm_buf_free(&b);
}
END_TEST

START_TEST(test_mail_rejects_bad_addresses)
{
	static const struct {
		const char *list, *msg;
	} cases[] = {
	    {"nobody", "To: not a mail address: \"nobody\" (want local@domain "
	               "or \"Name <local@domain>\")"},
	    {"a@b.example, <c@>", "To: not a mail address: \" <c@>\" (want "
	                          "local@domain or \"Name <local@domain>\")"},
	    {"a@-.example..org", "To: not a mail address: \"a@-.example..org\" "
	                         "(want local@domain or \"Name "
	                         "<local@domain>\")"},
	    {"", "To wants mail addresses separated by commas: \"\" has an "
	         "empty one"},
	    {"a@b.example,", "To wants mail addresses separated by commas: "
	                     "\"a@b.example,\" has an empty one"},
	};
	struct dm_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dm_error_clear(&err);
		ck_assert_int_eq(
		    dm_mail_check_addresses(cases[i].list, "To", &err),
		    DM_EINVAL);
		ck_assert_str_eq(err.msg, cases[i].msg);
	}
	ck_assert_int_eq(
	    dm_mail_check_addresses("\"Doe, Jane\" <j@example.com>,"
	                            " k@example.com",
	        "To", &err),
	    DM_OK);
}
END_TEST

START_TEST(test_mail_build_refuses_what_is_missing)
{
	struct dm_mail m = full_mail();
	struct dm_buf b;
	struct dm_error err;

	dm_buf_init(&b, 1 << 20);
	m.attach_type = "csv";
	ck_assert_int_eq(dm_mail_build(&m, &b, &err), DM_EINVAL);
	ck_assert_str_eq(
	    err.msg, "an attachment needs a file name and a type/subtype");
	m = full_mail();
	m.text.data = NULL;
	ck_assert_int_eq(dm_mail_build(&m, &b, &err), DM_EINVAL);
	ck_assert_str_eq(err.msg, "a mail needs a text body");
	m = full_mail();
	m.to = "x";
	ck_assert_int_eq(dm_mail_build(&m, &b, &err), DM_EINVAL);
	ck_assert_str_eq(err.msg, "To: not a mail address: \"x\" (want "
	                          "local@domain or \"Name <local@domain>\")");
	ck_assert_uint_eq(b.len, 0);
	dm_buf_free(&b);
}
END_TEST

/* A sendmail that keeps its arguments and input in dir, exiting status. */
static void
write_script(const char *path, const char *dir, int status)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
	    "#!/bin/sh\nprintf '%%s|' \"$@\" > '%s/argv'\ncat > '%s/in'\n"
	    "exit %d\n",
	    dir, dir, status);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0700), 0);
}

static char *
slurp(const char *path)
{
	gchar *s = NULL;

	ck_assert(g_file_get_contents(path, &s, NULL, NULL));
	return s;
}

START_TEST(test_mail_send_passes_input_and_status)
{
	char dir[] = "/tmp/outmailXXXXXX", path[64], file[160];
	struct dm_error err;
	int status = -1;
	char *s;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sendmail", dir);
	write_script(path, dir, 0);
	ck_assert_int_eq(
	    dm_mail_send(path, "To: a@b.example\n\nhi\n", 20, &status, &err),
	    DM_OK);
	ck_assert_int_eq(status, 0);
	snprintf(file, sizeof(file), "%s/argv", dir);
	s = slurp(file);
	ck_assert_str_eq(s, "-t|-i|");
	g_free(s);
	snprintf(file, sizeof(file), "%s/in", dir);
	s = slurp(file);
	ck_assert_str_eq(s, "To: a@b.example\n\nhi\n");
	g_free(s);
	write_script(path, dir, 75);
	ck_assert_int_eq(dm_mail_send(path, "x\n", 2, &status, &err), DM_OK);
	ck_assert_int_eq(status, 75);
	unlink(file);
	snprintf(file, sizeof(file), "%s/argv", dir);
	unlink(file);
	unlink(path);
	ck_assert_int_eq(dm_mail_send(path, "x\n", 2, &status, &err), DM_EIO);
	snprintf(file, sizeof(file),
	    "%s: cannot run: No such file or directory", path);
	ck_assert_str_eq(err.msg, file);
	rmdir(dir);
}
END_TEST

static Suite *
outmail_suite(void)
{
	Suite *s = suite_create("outmail");
	TCase *tc = tcase_create("tc_build");

	tcase_add_test(tc, test_mail_parts_read_back_by_gmime);
	tcase_add_test(tc, test_mail_headers_read_back_by_gmime);
	tcase_add_test(tc, test_mail_text_only_and_default_from);
	tcase_add_test(tc, test_mail_rejects_bad_addresses);
	tcase_add_test(tc, test_mail_build_refuses_what_is_missing);
	suite_add_tcase(s, tc);
	tc = tcase_create("tc_send");
	tcase_add_test(tc, test_mail_send_passes_input_and_status);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(outmail_suite());
	int failed;

	g_mime_init();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
