/* check_core.c - errors, buffers, the allocation hook, SHA-256, fix-up names,
 * IP addresses and ranges, and text made safe for terminals. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "error.h"
#include "escape.h"
#include "ip.h"
#include "json.h"
#include "limits.h"
#include "mem.h"
#include "model.h"
#include "sha256.h"

/* dm_escape_text of s, as a string the test frees. */
static char *
escaped(const char *s)
{
	struct dm_buf b;

	dm_buf_init(&b, 1 << 16);
	ck_assert_int_eq(dm_escape_text(&b, s), DM_OK);
	if (b.data == NULL)
		ck_assert_int_eq(dm_buf_adds(&b, ""), DM_OK);
	return dm_buf_take(&b);
}

static void
escapes_to(const char *s, const char *want)
{
	char *got = escaped(s);

	ck_assert_str_eq(got, want);
	dm_free(got);
}

/*
 * Every character that could act on a terminal or forge what a line says is
 * made visible: C0 controls (ESC starting a screen clear, BEL, CR, LF), DEL,
 * C1 controls (CSI), bidirectional overrides and isolates, line separators,
 * invalid UTF-8; the backslash doubles so that no escape can be forged.  Other
 * scripts stay as they are.
 */
START_TEST(test_escape_text_makes_controls_visible)
{
	escapes_to("report.xml", "report.xml");
	escapes_to("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07");
	escapes_to(
	    "a.xml\r\ndmarcstat: stored", "a.xml\\x0d\\x0admarcstat: stored");
	escapes_to("tab\tdel\x7f", "tab\\x09del\\x7f");
	escapes_to("csi\xc2\x9b"
	           "2J",
	    "csi\\u009b2J");
	escapes_to("invoice\xe2\x80\xaegpj.exe", "invoice\\u202egpj.exe");
	escapes_to(
	    "\xe2\x81\xa6x\xe2\x81\xa9 \xd8\x9c \xe2\x80\x8e\xe2\x80\x8f",
	    "\\u2066x\\u2069 \\u061c \\u200e\\u200f");
	escapes_to(
	    "line\xe2\x80\xa8para\xe2\x80\xa9", "line\\u2028para\\u2029");
	escapes_to("bad\xff\xc0\x80\xe2\x82", "bad\\xff\\xc0\\x80\\xe2\\x82");
	escapes_to("C:\\x1b", "C:\\\\x1b");
	escapes_to("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
	escapes_to(NULL, "");
}
END_TEST

/* The fixed-buffer form never cuts an escape or a character in two. */
START_TEST(test_escape_line_truncates_whole)
{
	char buf[12];

	ck_assert_str_eq(dm_escape_line(buf, sizeof(buf),
	                     "a\x1b"
	                     "b"),
	    "a\\x1bb");
	ck_assert_str_eq(dm_escape_line(buf, sizeof(buf),
	                     "abcdef\x1b"
	                     "ghij"),
	    "abcdef...");
	ck_assert_str_eq(
	    dm_escape_line(buf, sizeof(buf), "abcdefg\xe6\x97\xa5\xe6\x97\xa5"),
	    "abcdefg...");
	ck_assert_str_eq(
	    dm_escape_line(buf, sizeof(buf), "abcdefghijk"), "abcdefghijk");
	ck_assert_str_eq(dm_escape_line(buf, sizeof(buf), NULL), "");
}
END_TEST

START_TEST(test_error_set_returns_code_and_flattens)
{
	struct dm_error e;

	dm_error_clear(&e);
	ck_assert_int_eq(
	    dm_error_set(&e, DM_EFORMAT, "bad \"%s\"", "a\nb"), DM_EFORMAT);
	ck_assert_int_eq(e.code, DM_EFORMAT);
	ck_assert_str_eq(e.msg, "bad \"a b\"");
	ck_assert_ptr_null(e.reason);
}
END_TEST

START_TEST(test_error_prefix_and_reason)
{
	struct dm_error e;

	dm_error_clear(&e);
	dm_error_setr(&e, DM_ELIMIT, "limit", "too deep");
	dm_error_reason(&e, "other");
	dm_error_prefix(&e, "r.zip: %s", "x.xml");
	ck_assert_str_eq(e.msg, "r.zip: x.xml: too deep");
	ck_assert_str_eq(e.reason, "limit");
	ck_assert_str_eq(dm_strerror(DM_ELIMIT), "limit exceeded");
	ck_assert_str_eq(dm_strerror(DM_ESKIP), "not an aggregate report");
}
END_TEST

START_TEST(test_buf_grows_and_caps)
{
	struct dm_buf b;
	char *s;

	dm_buf_init(&b, 10);
	ck_assert_int_eq(dm_buf_adds(&b, "hello"), DM_OK);
	ck_assert_int_eq(dm_buf_addf(&b, "%d", 1234), DM_OK);
	ck_assert_str_eq(b.data, "hello1234");
	ck_assert_int_eq(dm_buf_adds(&b, "xy"), DM_ELIMIT);
	ck_assert_str_eq(b.data, "hello1234");
	ck_assert_int_eq(dm_buf_adds(&b, "z"), DM_OK);
	s = dm_buf_take(&b);
	ck_assert_str_eq(s, "hello1234z");
	ck_assert_ptr_null(b.data);
	dm_free(s);
	dm_buf_free(&b);
}
END_TEST

START_TEST(test_mem_fail_after)
{
	void *a, *b;

	dm_mem_fail_after(1);
	a = dm_malloc(8);
	b = dm_malloc(8);
	dm_mem_fail_after(-1);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(b);
	dm_free(a);
}
END_TEST

/* Allocates and frees 1000 times; the number that succeeded. */
static void *
allocate_1000(void *arg)
{
	long *ok = arg;
	int i;

	for (i = 0; i < 1000; i++) {
		void *p = dm_malloc(16);

		*ok += p != NULL;
		dm_free(p);
	}
	return NULL;
}

/* The count is of the process: two threads together get exactly n
 * allocations (a plain counter would lose decrements to the race). */
START_TEST(test_mem_fail_after_two_threads)
{
	long ok[2] = {0, 0};
	pthread_t t[2];
	int i;

	dm_mem_fail_after(1500);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, allocate_1000, &ok[i]), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(dm_mem_fail_after(-1), 0);
	ck_assert_int_eq(ok[0] + ok[1], 1500);
	/* Fewer allocations than allowed: what is left is returned. */
	dm_mem_fail_after(10);
	dm_free(dm_malloc(1));
	ck_assert_int_eq(dm_mem_fail_after(-1), 9);
}
END_TEST

START_TEST(test_sha256_known_vectors)
{
	struct dm_sha256 c;
	char hex[65];
	int i;

	dm_sha256_init(&c);
	dm_sha256_final_hex(&c, hex);
	ck_assert_str_eq(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	dm_sha256_init(&c);
	dm_sha256_update(&c, "abc", 3);
	dm_sha256_final_hex(&c, hex);
	ck_assert_str_eq(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	dm_sha256_init(&c);
	for (i = 0; i < 1000; i++)
		dm_sha256_update(&c, "a", 1);
	dm_sha256_final_hex(&c, hex);
	ck_assert_str_eq(hex,
	    "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}
END_TEST

START_TEST(test_fixup_names_complete)
{
	int i;

	for (i = 0; i < DM_FIXUP_COUNT; i++)
		ck_assert_ptr_nonnull(dm_fixup_name((enum dm_fixup)i));
	ck_assert_str_eq(dm_fixup_name(DM_FIXUP_TIMESTAMP_MS), "timestamp_ms");
	ck_assert_ptr_null(dm_fixup_name(DM_FIXUP_COUNT));
}
END_TEST

START_TEST(test_limits_defaults)
{
	struct dm_limits l = dm_limits_default();

	ck_assert_uint_eq(l.payload_bytes, 1024ULL * 1024 * 1024);
	ck_assert_uint_eq(l.xml_depth, DM_MAX_XML_DEPTH);
	ck_assert_uint_eq(l.archive_members, DM_MAX_ARCHIVE_MEMBERS);
}
END_TEST

START_TEST(test_json_escapes_hostile_strings)
{
	struct dm_buf b;

	dm_buf_init(&b, 1024);
	ck_assert_int_eq(dm_json_str(&b, "a\"b\\c\n<script>&\x01\x7f"), DM_OK);
	ck_assert_str_eq(b.data,
	    "\"a\\\"b\\\\c\\n\\u003cscript\\u003e\\u0026\\u0001\\u007f\"");
	dm_buf_reset(&b);
	/* Invalid UTF-8 (a lone continuation byte, an overlong form) becomes
	 * U+FFFD; valid kept. */
	ck_assert_int_eq(dm_json_str(&b, "\x80x\xc0\xafé\xe2\x80\xa8"), DM_OK);
	ck_assert_str_eq(b.data, "\"\\ufffdx\\ufffd\\ufffdé\\u2028\"");
	dm_buf_reset(&b);
	ck_assert_int_eq(dm_json_str(&b, NULL), DM_OK);
	ck_assert_int_eq(dm_json_key(&b, "k"), DM_OK);
	ck_assert_int_eq(dm_json_int(&b, -1, -1), DM_OK);
	ck_assert_int_eq(dm_json_int(&b, 42, -1), DM_OK);
	ck_assert_str_eq(b.data, "null\"k\":null42");
	dm_buf_free(&b);
}
END_TEST

START_TEST(test_ip_canon_forms)
{
	static const char *const cases[][3] = {
	    {"198.51.100.20", "198.51.100.20", "-"},
	    {"::ffff:198.51.100.20", "198.51.100.20", "ip_mapped"},
	    {"::FFFF:c633:6414", "198.51.100.20", "ip_mapped"},
	    {"198.051.100.020", "198.51.100.20", "ip_canonical"},
	    {"2001:DB8:0:0::1", "2001:db8::1", "ip_canonical"},
	    {"2001:db8::1", "2001:db8::1", "-"}};
	char out[DM_IP_TEXT_MAX];
	enum dm_fixup fix;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(
		    dm_ip_canon(cases[i][0], out, sizeof(out), &fix), 0);
		ck_assert_str_eq(out, cases[i][1]);
		ck_assert_str_eq(
		    fix == DM_FIXUP_COUNT ? "-" : dm_fixup_name(fix),
		    cases[i][2]);
	}
	ck_assert_int_eq(
	    dm_ip_canon("198.51.100.300", out, sizeof(out), &fix), -1);
	ck_assert_int_eq(dm_ip_canon("", out, sizeof(out), &fix), -1);
	ck_assert_int_eq(
	    dm_ip_canon("example.com", out, sizeof(out), &fix), -1);
}
END_TEST

START_TEST(test_ip_net_ranges)
{
	struct dm_ip_net n;
	char out[DM_IP_TEXT_MAX];

	ck_assert_int_eq(dm_ip_net_parse("198.51.100.77/24", &n), 0);
	ck_assert_int_eq(n.family, AF_INET);
	ck_assert_int_eq(n.bits, 24);
	ck_assert_str_eq(dm_ip_net_addr(&n, out, sizeof(out)), "198.51.100.0");
	ck_assert_int_eq(dm_ip_net_single(&n), 0);
	ck_assert_int_eq(dm_ip_net_contains(&n, "198.51.100.255"), 1);
	ck_assert_int_eq(dm_ip_net_contains(&n, "::ffff:198.51.100.1"), 1);
	ck_assert_int_eq(dm_ip_net_contains(&n, "198.51.101.1"), 0);
	ck_assert_int_eq(dm_ip_net_contains(&n, "2001:db8::1"), 0);
	ck_assert_int_eq(dm_ip_net_contains(&n, "junk"), 0);
	/* The mapped form of a single address or range is the IPv4 one. */
	ck_assert_int_eq(dm_ip_net_parse("::ffff:198.51.100.20", &n), 0);
	ck_assert_int_eq(dm_ip_net_single(&n), 1);
	ck_assert_str_eq(dm_ip_net_addr(&n, out, sizeof(out)), "198.51.100.20");
	ck_assert_int_eq(dm_ip_net_parse("::ffff:198.51.100.0/120", &n), 0);
	ck_assert_int_eq(n.family, AF_INET);
	ck_assert_int_eq(n.bits, 24);
	ck_assert_int_eq(dm_ip_net_parse("2001:DB8::/32", &n), 0);
	ck_assert_int_eq(dm_ip_net_contains(&n, "2001:db8:25::10"), 1);
	ck_assert_int_eq(dm_ip_net_contains(&n, "2001:db9::1"), 0);
	ck_assert_int_eq(dm_ip_net_parse("0.0.0.0/0", &n), 0);
	ck_assert_int_eq(dm_ip_net_contains(&n, "203.0.113.5"), 1);
	ck_assert_int_eq(dm_ip_net_parse("198.51.100.300", &n), -1);
	ck_assert_int_eq(dm_ip_net_parse("198.51.100.0/33", &n), -2);
	ck_assert_int_eq(dm_ip_net_parse("198.51.100.0/", &n), -2);
	ck_assert_int_eq(dm_ip_net_parse("198.51.100.0/-1", &n), -2);
	ck_assert_int_eq(dm_ip_net_parse("2001:db8::/129", &n), -2);
}
END_TEST

/* The classifier the report writers walk their text with. */
START_TEST(test_char_kind_controls_and_bidi)
{
	size_t n;

	ck_assert_int_eq(dm_char_kind("a", &n), DM_CHAR_PLAIN);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(dm_char_kind("\xe2\x80\xae", &n), DM_CHAR_BIDI);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(dm_char_kind("\xe2\x81\xa9", &n), DM_CHAR_BIDI);
	ck_assert_int_eq(dm_char_kind("\xd8\x9c", &n), DM_CHAR_BIDI);
	ck_assert_int_eq(dm_char_kind("\xc2\x9b", &n), DM_CHAR_CONTROL);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(dm_char_kind("\xe2\x80\xa8", &n), DM_CHAR_CONTROL);
	ck_assert_int_eq(dm_char_kind("\x1b", &n), DM_CHAR_CONTROL);
	ck_assert_int_eq(dm_char_kind("\x7f", &n), DM_CHAR_CONTROL);
	ck_assert_int_eq(dm_char_kind("\xff", &n), DM_CHAR_INVALID);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(dm_char_kind("\xc0\x80", &n), DM_CHAR_INVALID);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(dm_char_kind("\xe3\x83\x8b", &n), DM_CHAR_PLAIN);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(dm_char_kind("\xc2\xa0", &n), DM_CHAR_PLAIN);
}
END_TEST

static Suite *
core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("tc_core");

	tcase_add_test(tc, test_error_set_returns_code_and_flattens);
	tcase_add_test(tc, test_error_prefix_and_reason);
	tcase_add_test(tc, test_buf_grows_and_caps);
	tcase_add_test(tc, test_mem_fail_after);
	tcase_add_test(tc, test_mem_fail_after_two_threads);
	tcase_add_test(tc, test_sha256_known_vectors);
	tcase_add_test(tc, test_fixup_names_complete);
	tcase_add_test(tc, test_limits_defaults);
	tcase_add_test(tc, test_json_escapes_hostile_strings);
	tcase_add_test(tc, test_escape_text_makes_controls_visible);
	tcase_add_test(tc, test_escape_line_truncates_whole);
	tcase_add_test(tc, test_ip_canon_forms);
	tcase_add_test(tc, test_ip_net_ranges);
	tcase_add_test(tc, test_char_kind_controls_and_bidi);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(core_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
