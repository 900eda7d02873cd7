/*
 * check_dns.c - dns/ without a DNS server: registrable domains, the services
 * table and the user's services file, MMDB files that are missing or junk, the
 * resolver option, timeouts and deadlines against a UDP socket that never
 * answers, and the writers.  The answers of a real server (dnsmasq) are tested
 * through the command line: tests/cli/test_dns.py.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "mem.h"

static struct dm_dns *d;
static char tmpfile_path[64];

static void
open_default(void)
{
	struct dm_dns_options o = {0};
	struct dm_error e;

	ck_assert_msg(dm_dns_open(&d, &o, &e) == DM_OK, "%s", e.msg);
}

static void
close_dns(void)
{
	dm_dns_close(d);
	d = NULL;
	if (tmpfile_path[0] != '\0')
		unlink(tmpfile_path);
	tmpfile_path[0] = '\0';
}

/* A file holding text; its path. */
static const char *
write_tmp(const char *text)
{
	FILE *f;
	int fd;

	snprintf(tmpfile_path, sizeof(tmpfile_path), "/tmp/check_dns_XXXXXX");
	fd = mkstemp(tmpfile_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return tmpfile_path;
}

/* ---- tc_names ---- */

static const char *
base(const char *name)
{
	static char out[256];

	return dm_dns_base_domain(d, name, out, sizeof(out));
}

START_TEST(test_dns_base_domain_by_the_public_suffix_list)
{
	ck_assert_str_eq(base("mail-ot1-f41.google.com"), "google.com");
	ck_assert_str_eq(base("MAIL.Example.CO.UK."), "example.co.uk");
	ck_assert_str_eq(base("x.y.co.jp"), "y.co.jp");
	/* private suffixes count: each blog is its own site */
	ck_assert_str_eq(base("foo.bar.blogspot.com"), "bar.blogspot.com");
	ck_assert_str_eq(base("mail.example.test"), "example.test");
	ck_assert_ptr_null(base("192.0.2.10"));
	ck_assert_ptr_null(base("2001:db8::1"));
	ck_assert_ptr_null(base("co.uk"));
	ck_assert_ptr_null(base(""));
	ck_assert_ptr_null(base(NULL));
}
END_TEST

START_TEST(test_dns_service_takes_the_longest_match)
{
	const struct dm_dns_service *s;

	s = dm_dns_service(d, "a8-30.smtp-out.amazonses.com");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "Amazon SES");
	ck_assert_str_eq(s->kind, "esp");
	ck_assert_str_eq(s->spf, "amazonses.com");
	s = dm_dns_service(
	    d, "mail-db8eur05on2101.outbound.protection.outlook.com");
	ck_assert_str_eq(s->name, "Microsoft 365");
	ck_assert_str_eq(s->domain, "protection.outlook.com");
	s = dm_dns_service(d, "BOUNCE.BMSEND.COM.");
	ck_assert_str_eq(s->name, "Benchmark Email");
	ck_assert_str_eq(s->spf, "bmsend.com");
	s = dm_dns_service(d, "googlegroups.com");
	ck_assert_str_eq(s->kind, "list");
	ck_assert_ptr_null(dm_dns_service(d, "hubspotemail.net")->spf);
	ck_assert_ptr_null(dm_dns_service(d, "example.com"));
	ck_assert_ptr_null(dm_dns_service(d, "com"));
	ck_assert_ptr_null(dm_dns_service(d, "notbmsend.com"));
	ck_assert_ptr_null(dm_dns_service(d, NULL));
}
END_TEST

START_TEST(test_dns_user_services_override_and_add)
{
	const char *path =
	    write_tmp("# ours\n"
	              "\n"
	              "bmsend.com\tesp  -  Benchmark (our account)\r\n"
	              "esp.example    esp    spf.esp.example   Example ESP  \n"
	              "lists.example  list   -                 Example Lists");
	const struct dm_dns_service *s;
	struct dm_error e;

	ck_assert_int_eq(dm_dns_add_services(d, path, &e), DM_OK);
	s = dm_dns_service(d, "x.bmsend.com");
	ck_assert_str_eq(s->name, "Benchmark (our account)");
	ck_assert_ptr_null(s->spf);
	s = dm_dns_service(d, "o1.esp.example");
	ck_assert_str_eq(s->name, "Example ESP");
	ck_assert_str_eq(s->spf, "spf.esp.example");
	ck_assert_str_eq(dm_dns_service(d, "lists.example")->kind, "list");
	/* built-in entries are still there */
	ck_assert_str_eq(
	    dm_dns_service(d, "amazonses.com")->name, "Amazon SES");
	ck_assert_int_eq(
	    dm_dns_add_services(d, "/nonexistent/services", &e), DM_DONE);
}
END_TEST

/* The error of a services file holding text. */
static const char *
services_error(const char *text)
{
	static struct dm_error e;
	const char *path = write_tmp(text);

	dm_error_clear(&e);
	ck_assert_int_eq(dm_dns_add_services(d, path, &e), DM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(e.msg, path));
	return strchr(e.msg + strlen(path), ':') + 1;
}

START_TEST(test_dns_user_services_errors_name_the_line)
{
	ck_assert_str_eq(services_error("# x\nok.example esp - Fine\n"
	                                "bad.example frob - Name\n"),
	    "3: KIND is not esp, mailbox, list, forwarder or gateway");
	unlink(tmpfile_path);
	ck_assert_str_eq(services_error("Upper.Example esp - X\n"),
	    "1: DOMAIN is not a lower-case domain name");
	unlink(tmpfile_path);
	ck_assert_str_eq(
	    services_error("x.example esp\n"), "1: want DOMAIN KIND SPF NAME");
	unlink(tmpfile_path);
	ck_assert_str_eq(services_error("x.example esp spf..x Name\n"),
	    "1: SPF is neither - nor a lower-case domain name");
	unlink(tmpfile_path);
	ck_assert_str_eq(services_error("x.example esp - Bad\x1b[31m\n"),
	    "1: NAME has control characters or is over 80 bytes");
}
END_TEST

START_TEST(test_dns_mmdb_missing_is_fine_junk_is_not)
{
	const char *path = write_tmp("not a database");
	struct dm_error e;

	ck_assert_int_eq(
	    dm_dns_add_mmdb(d, "/nonexistent/x.mmdb", &e), DM_DONE);
	dm_error_clear(&e);
	ck_assert_int_eq(dm_dns_add_mmdb(d, path, &e), DM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(e.msg, ": not a readable MaxMind DB: "));
	ck_assert_ptr_nonnull(strstr(e.msg, path));
}
END_TEST

/* ---- tc_resolver ---- */

static int
open_with(const char *resolver, struct dm_error *e)
{
	struct dm_dns_options o = {0};
	struct dm_dns *x = NULL;
	int rc;

	o.resolver = resolver;
	dm_error_clear(e);
	rc = dm_dns_open(&x, &o, e);
	ck_assert(rc == DM_OK ? x != NULL : x == NULL);
	dm_dns_close(x);
	return rc;
}

START_TEST(test_dns_open_takes_ip_and_port_only)
{
	static const char *const good[] = {
	    "127.0.0.1", "127.0.0.1:5353", "[::1]:5353", "::1", "[::1]"};
	static const char *const bad[] = {"localhost", "127.0.0.1:0",
	    "127.0.0.1:70000", "127.0.0.1:x", "[::1", "[::1]x", "1.2.3.4:53:1",
	    ""};
	struct dm_error e;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(
		    open_with(good[i], &e) == DM_OK, "%s: %s", good[i], e.msg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(open_with(bad[i], &e), DM_EINVAL);
		ck_assert_ptr_nonnull(strstr(e.msg,
		    "resolver is not an IP address with an optional port (IP, "
		    "IP:PORT or [IPv6]:PORT): \""));
	}
}
END_TEST

/* ---- tc_timeouts: a resolver that never answers ---- */

static int silent_fd = -1;

/* Binds a UDP socket on 127.0.0.1 that is never read; "127.0.0.1:PORT". */
static const char *
silent_resolver(void)
{
	static char addr[32];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(silent_fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(silent_fd, (struct sockaddr *)&sin, len), 0);
	ck_assert_int_eq(
	    getsockname(silent_fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	return addr;
}

static void
open_silent(int timeout_ms, unsigned concurrency)
{
	struct dm_dns_options o = {0};
	struct dm_error e;

	o.resolver = silent_resolver();
	o.timeout_ms = timeout_ms;
	o.tries = 1;
	o.concurrency = concurrency;
	ck_assert_msg(dm_dns_open(&d, &o, &e) == DM_OK, "%s", e.msg);
}

static void
close_silent(void)
{
	close_dns();
	if (silent_fd >= 0)
		close(silent_fd);
	silent_fd = -1;
}

struct answers {
	char text[1024];
	size_t n;
};

static int
keep_answer(void *ctx, const struct dm_host *h, struct dm_error *err)
{
	struct answers *a = ctx;

	(void)err;
	a->n++;
	snprintf(a->text + strlen(a->text), sizeof(a->text) - strlen(a->text),
	    "%s=%s|%s;", h->ip, h->ptr ? h->ptr : "-",
	    h->error ? h->error : "-");
	ck_assert_int_eq(h->checked_at, 1700000000);
	return DM_OK;
}

START_TEST(test_dns_lookup_times_out_on_a_silent_server)
{
	static const char *const ips[] = {"192.0.2.1", "not-an-ip"};
	struct answers a = {"", 0};
	struct dm_error e;
	int64_t t0 = dm_dns_clock_ms(), took;
	size_t done;

	open_silent(150, 8);
	ck_assert_int_eq(dm_dns_lookup_hosts(d, ips, 2, 1700000000, 0,
	                     keep_answer, &a, &done, &e),
	    DM_OK);
	took = dm_dns_clock_ms() - t0;
	ck_assert_uint_eq(done, 2);
	ck_assert_str_eq(a.text, "not-an-ip=-|not an IP address;"
	                         "192.0.2.1=-|PTR lookup: timeout;");
	ck_assert_msg(
	    took >= 140 && took < 3000, "took %lld ms", (long long)took);
}
END_TEST

START_TEST(test_dns_deadline_cancels_what_is_in_flight)
{
	static const char *const ips[] = {"192.0.2.1", "192.0.2.2"};
	struct answers a = {"", 0};
	struct dm_error e;
	int64_t t0 = dm_dns_clock_ms(), took;
	size_t done = 99;

	open_silent(5000, 8);
	ck_assert_int_eq(dm_dns_lookup_hosts(d, ips, 2, 1700000000, t0 + 200,
	                     keep_answer, &a, &done, &e),
	    DM_OK);
	took = dm_dns_clock_ms() - t0;
	ck_assert_uint_eq(done, 0);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_msg(
	    took >= 190 && took < 2000, "took %lld ms", (long long)took);
}
END_TEST

START_TEST(test_dns_gives_up_on_a_resolver_that_never_answered)
{
	static const char *const ips[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3",
	    "192.0.2.4", "192.0.2.5", "192.0.2.6"};
	struct answers a = {"", 0};
	struct dm_error e;
	int64_t t0 = dm_dns_clock_ms(), took;
	size_t done;

	/* one at a time: three timeouts, then the rest is not even sent */
	open_silent(100, 1);
	ck_assert_int_eq(dm_dns_lookup_hosts(d, ips, 6, 1700000000, 0,
	                     keep_answer, &a, &done, &e),
	    DM_OK);
	took = dm_dns_clock_ms() - t0;
	ck_assert_uint_eq(done, 3);
	ck_assert_msg(
	    took >= 290 && took < 2000, "took %lld ms", (long long)took);
}
END_TEST

START_TEST(test_dns_check_against_a_silent_server_is_unknown)
{
	struct dm_check_evidence *ev;
	struct dm_check_result *r;
	struct dm_error e;
	size_t i;

	open_silent(100, 8);
	ck_assert_int_eq(
	    dm_dns_evidence_empty("Example.TEST.", &ev, &e), DM_OK);
	ck_assert_str_eq(ev->domain, "example.test");
	ck_assert_int_eq(dm_dns_check(d, ev, &r, &e), DM_OK);
	ck_assert_int_eq(r->status, DM_CHECK_UNKNOWN);
	ck_assert_uint_eq(r->n_items, 2);
	ck_assert_str_eq(r->items[0].check, "dmarc_record");
	ck_assert_str_eq(r->items[0].subject, "_dmarc.example.test");
	ck_assert_str_eq(r->items[1].check, "spf_record");
	for (i = 0; i < r->n_items; i++) {
		ck_assert_int_eq(r->items[i].status, DM_CHECK_UNKNOWN);
		ck_assert_str_eq(
		    r->items[i].found, "DNS did not answer: timeout");
		ck_assert_ptr_null(r->items[i].fix);
	}
	dm_dns_check_free(r);
	dm_dns_evidence_free(ev);
	ck_assert_int_eq(dm_dns_evidence_empty("", &ev, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "not a domain name: \"\"");
}
END_TEST

/* ---- tc_write ---- */

/* What dm_dns_check_write writes for r, as a string (owned by the caller). */
static char *
written(const struct dm_check_result *r, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct dm_error e;

	ck_assert_int_eq(dm_dns_check_write(&r, 1, json, f, &e), DM_OK);
	fclose(f);
	return buf;
}

START_TEST(test_dns_check_write_escapes_dns_text)
{
	char domain[] = "evil.test", found0[] = "v=spf1 \x1b[2J\x07 \xff -all",
	     fix0[] = "Fix \"it\".", found1[] = "rsa 2048-bit key";
	struct dm_check_item items[] = {
	    {"spf_record", domain, DM_CHECK_WRONG, found0, fix0},
	    {"dkim_key", NULL, DM_CHECK_OK, found1, NULL}};
	struct dm_check_result r = {domain, items, 2, DM_CHECK_WRONG};
	char *text = written(&r, 0), *json = written(&r, 1);

	ck_assert_str_eq(text, "evil.test: 1 to fix\n"
	                       "  wrong    spf_record         evil.test\n"
	                       "           v=spf1 ?[2J? \xef\xbf\xbd -all\n"
	                       "           fix: Fix \"it\".\n"
	                       "  ok       dkim_key           \n"
	                       "           rsa 2048-bit key\n");
	ck_assert_str_eq(json,
	    "{\"format\":\"dmarcstat-check\",\"version\":1,\"domains\":["
	    "{\"domain\":\"evil.test\",\"status\":\"wrong\",\"checks\":["
	    "{\"check\":\"spf_record\",\"subject\":\"evil.test\","
	    "\"status\":\"wrong\",\"found\":\"v=spf1 \\u001b[2J\\u0007 "
	    "\\ufffd -all\",\"fix\":\"Fix \\\"it\\\".\"},"
	    "{\"check\":\"dkim_key\",\"subject\":null,\"status\":\"ok\","
	    "\"found\":\"rsa 2048-bit key\",\"fix\":null}]}]}\n");
	free(text);
	free(json);
}
END_TEST

static Suite *
dns_suite(void)
{
	Suite *su = suite_create("dns");
	TCase *tc;

	tc = tcase_create("tc_names");
	tcase_add_checked_fixture(tc, open_default, close_dns);
	tcase_add_test(tc, test_dns_base_domain_by_the_public_suffix_list);
	tcase_add_test(tc, test_dns_service_takes_the_longest_match);
	tcase_add_test(tc, test_dns_user_services_override_and_add);
	tcase_add_test(tc, test_dns_user_services_errors_name_the_line);
	tcase_add_test(tc, test_dns_mmdb_missing_is_fine_junk_is_not);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_resolver");
	tcase_add_test(tc, test_dns_open_takes_ip_and_port_only);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_timeouts");
	tcase_add_checked_fixture(tc, NULL, close_silent);
	tcase_add_test(tc, test_dns_lookup_times_out_on_a_silent_server);
	tcase_add_test(tc, test_dns_deadline_cancels_what_is_in_flight);
	tcase_add_test(tc, test_dns_gives_up_on_a_resolver_that_never_answered);
	tcase_add_test(tc, test_dns_check_against_a_silent_server_is_unknown);
	suite_add_tcase(su, tc);

	tc = tcase_create("tc_write");
	tcase_add_test(tc, test_dns_check_write_escapes_dns_text);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr = srunner_create(dns_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
