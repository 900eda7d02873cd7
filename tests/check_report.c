/*
 * check_report.c - the cause classifier (no database), ISP names, period
 * parsing, the read queries and their errors, report numbers against
 * independent SQL over record/report, and hostile strings in every output
 * format.
 *
 * Databases are built by the tests themselves: sql/schema.sql and
 * sql/views.sql, then reports inserted with SQL, their
 * totals set as the store sets them, and the rollups built by
 * sql/rollup_rebuild.sql (the SQL spelling of what the store folds in C).
 */
#include <check.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "mem.h"
#include "query.h"
#include "report.h"
#include "report_int.h"

#define SQL_DIR DM_TEST_DATA_DIR "/../../sql"
#define D_1025 1792886400LL
#define D_1101 1793491200LL
#define D_1108 1794096000LL
#undef DAY
#define DAY 86400LL

/* ---- Classifier ---- */

static struct dm_evidence
ev_base(void)
{
	struct dm_evidence ev;

	memset(&ev, 0, sizeof(ev));
	ev.header_from = "example.com";
	ev.envelope_from = "example.com";
	ev.disposition = "reject";
	ev.dkim = "fail";
	ev.spf = "fail";
	ev.p = "reject";
	return ev;
}

static const struct dm_dkim_result dk_own_pass = {
    "example.com", "k1", "pass", NULL};
static const struct dm_dkim_result dk_own_fail = {
    "mail.example.com", "k2", "fail", NULL};
static const struct dm_dkim_result dk_esp_pass = {
    "esp-mail.example.net", "s1", "pass", NULL};
static const struct dm_spf_result spf_esp_pass = {
    "bmsend.example.net", "mfrom", "pass", NULL};
static const struct dm_spf_result spf_own_soft = {
    "example.com", "mfrom", "softfail", NULL};
static const struct dm_spf_result spf_own_none = {
    "example.com", "mfrom", "none", NULL};
static const struct dm_spf_result spf_own_temp = {
    "example.com", "mfrom", "temperror", NULL};
static const struct dm_spf_result spf_own_perm = {
    "example.com", "mfrom", "permerror", NULL};

static void
check_cause(
    const struct dm_evidence *ev, enum dm_cause_code code, const char *domain)
{
	struct dm_cause c = dm_cause_classify(ev);

	ck_assert_str_eq(dm_cause_name(c.code), dm_cause_name(code));
	if (domain == NULL)
		ck_assert_ptr_null(c.domain);
	else
		ck_assert_str_eq(c.domain, domain);
}

/* The explanation and fix of ev, as one "why|fix" string the caller frees. */
static char *
explain(const struct dm_evidence *ev)
{
	struct dm_cause c = dm_cause_classify(ev);
	struct dm_buf why, fix;
	char *s;

	dm_buf_init(&why, 1 << 16);
	dm_buf_init(&fix, 1 << 16);
	ck_assert_int_eq(dm_cause_explain(&c, ev, &why, &fix), DM_OK);
	s = malloc(why.len + fix.len + 2);
	sprintf(s, "%s|%s", why.data, fix.data);
	dm_buf_free(&why);
	dm_buf_free(&fix);
	return s;
}

START_TEST(test_cause_pass)
{
	struct dm_evidence ev = ev_base();

	ev.disposition = "none";
	ev.dkim = "pass";
	ev.dkim_results = &dk_own_pass;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_PASS, "example.com");
	ck_assert_int_eq(dm_cause_classify(&ev).not_enforced, 0);
	ck_assert_int_eq(dm_cause_classify(&ev).dmarc_pass, 1);
	ev.dkim = "fail";
	ev.spf = "pass";
	check_cause(&ev, DM_CAUSE_PASS, "example.com");
}
END_TEST

/* Yahoo rejecting mail whose aligned DKIM passes: not "pass, nothing to fix".
 */
START_TEST(test_cause_passed_but_blocked)
{
	struct dm_evidence ev = ev_base();
	struct dm_cause c;
	char *s;

	ev.dkim = "pass";
	ev.dkim_results = &dk_own_pass;
	ev.n_dkim = 1;
	ev.source_ip = "198.51.100.20";
	check_cause(&ev, DM_CAUSE_LOCAL_POLICY, "example.com");
	c = dm_cause_classify(&ev);
	ck_assert_int_eq(c.dmarc_pass, 1);
	ck_assert_int_eq(c.not_enforced, 0);
	s = explain(&ev);
	ck_assert_str_eq(s,
	    "DMARC passed (DKIM or SPF authenticated example.com), yet the "
	    "receiving ISP rejected the mail: it applied its own policy (the "
	    "reputation of the IP or the domain, the content, the volume, "
	    "complaints or a block list), not DMARC.|Authentication is in "
	    "order; nothing to change in DNS. Check the IP and the domain "
	    "against the ISP's block lists and reputation tools, then ask the "
	    "ISP's postmaster or sender-support desk to review the filtering, "
	    "with the figures of its own reports (dmarcstat explain --ip "
	    "198.51.100.20 --reporter ISP --letter writes that request).");
	free(s);
	ev.disposition = "quarantine";
	ev.p = "none";
	s = explain(&ev);
	ck_assert_ptr_nonnull(strstr(s, "yet the receiving ISP quarantined"));
	ck_assert_ptr_null(strstr(s, "Your published policy"));
	free(s);
}
END_TEST

START_TEST(test_cause_forwarded)
{
	struct dm_evidence ev = ev_base();
	struct dm_reason r = {"forwarded", "list.example.org"};
	char *s;

	ev.spf_results = &spf_own_soft;
	ev.n_spf = 1;
	ev.reasons = &r;
	ev.n_reasons = 1;
	ev.disposition = "none";
	check_cause(&ev, DM_CAUSE_FORWARDED, "list.example.org");
	s = explain(&ev);
	ck_assert_str_eq(s,
	    "The receiving ISP says the message was forwarded "
	    "(list.example.org). Forwarding "
	    "sends it from another server, so SPF fails, and DKIM fails when "
	    "the forwarder "
	    "changes the message.|Nothing to fix on your side. Sign all mail "
	    "with DKIM as "
	    "example.com: an unchanged DKIM signature survives forwarding.");
	free(s);
	r.type = "trusted_forwarder";
	check_cause(&ev, DM_CAUSE_FORWARDED, "list.example.org");
	/* No comment: no empty parentheses. */
	r.comment = "";
	check_cause(&ev, DM_CAUSE_FORWARDED, NULL);
	s = explain(&ev);
	ck_assert_ptr_nonnull(
	    strstr(s, "says the message was forwarded. Forwarding sends it"));
	free(s);
}
END_TEST

START_TEST(test_cause_mailing_list)
{
	struct dm_evidence ev = ev_base();
	struct dm_reason r = {"mailing_list", NULL};

	ev.reasons = &r;
	ev.n_reasons = 1;
	check_cause(&ev, DM_CAUSE_MAILING_LIST, NULL);
}
END_TEST

START_TEST(test_cause_local_policy)
{
	struct dm_evidence ev = ev_base();
	struct dm_reason r = {"local_policy", "arc"};
	char *s;

	ev.reasons = &r;
	ev.n_reasons = 1;
	ev.spf_results = &spf_own_soft;
	ev.n_spf = 1;
	check_cause(&ev, DM_CAUSE_LOCAL_POLICY, "local_policy");
	s = explain(&ev);
	ck_assert_str_eq(s,
	    "The receiving ISP applied its own policy (local_policy) and "
	    "rejected the mail instead of following your DMARC policy.|Nothing "
	    "to fix in DNS; ask the ISP's postmaster why the mail was blocked "
	    "(dmarcstat explain --ip ADDRESS --reporter ISP --letter writes "
	    "that request).");
	free(s);
	/* An override that delivered failing mail explains the delivery, not
	 * the failure. */
	ev.disposition = "none";
	check_cause(&ev, DM_CAUSE_SPF_FAIL, "example.com");
}
END_TEST

START_TEST(test_cause_temperror)
{
	struct dm_evidence ev = ev_base();

	ev.spf_results = &spf_own_temp;
	ev.n_spf = 1;
	ev.dkim_results = &dk_esp_pass;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_TEMPERROR, "example.com");
}
END_TEST

START_TEST(test_cause_permerror)
{
	struct dm_evidence ev = ev_base();
	char *s;

	ev.spf_results = &spf_own_perm;
	ev.n_spf = 1;
	check_cause(&ev, DM_CAUSE_PERMERROR, "example.com");
	s = explain(&ev);
	ck_assert_ptr_nonnull(strstr(s, "more than 10 DNS lookups"));
	free(s);
}
END_TEST

START_TEST(test_cause_esp_not_aligned)
{
	struct dm_evidence ev = ev_base();
	char *s;

	ev.envelope_from = "bmsend.example.net";
	ev.spf_results = &spf_esp_pass;
	ev.n_spf = 1;
	ev.dkim_results = &dk_esp_pass;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_ESP_UNALIGNED, "bmsend.example.net");
	s = explain(&ev);
	ck_assert_str_eq(s, "SPF passed for bmsend.example.net and DKIM passed "
	                    "for esp-mail.example.net, but "
	                    "neither is aligned with the From domain "
	                    "example.com: the mail was sent through a "
	                    "provider (ESP) that authenticates as itself.|At "
	                    "the provider, set up DKIM signing "
	                    "as example.com (publish the DKIM key it gives "
	                    "you), and a custom return-path "
	                    "(bounce domain) under example.com.");
	free(s);
}
END_TEST

START_TEST(test_cause_spf_not_aligned)
{
	struct dm_evidence ev = ev_base();

	ev.spf_results = &spf_esp_pass;
	ev.n_spf = 1;
	check_cause(&ev, DM_CAUSE_SPF_UNALIGNED, "bmsend.example.net");
}
END_TEST

START_TEST(test_cause_spf_fail)
{
	struct dm_evidence ev = ev_base();
	char *s;

	ev.spf_results = &spf_own_soft;
	ev.n_spf = 1;
	ev.dkim_results = &dk_esp_pass;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_SPF_FAIL, "example.com");
	s = explain(&ev);
	ck_assert_str_eq(s, "SPF softfail for example.com: the sending IP is "
	                    "not listed in the SPF record of "
	                    "example.com, and no aligned DKIM signature "
	                    "passed.|If this IP sends for you (your "
	                    "server or your ESP), add it to the SPF record of "
	                    "example.com (for an ESP: its "
	                    "include:); if it is not yours, the mail is forged "
	                    "and blocking it is right.");
	free(s);
}
END_TEST

START_TEST(test_cause_dkim_not_aligned)
{
	struct dm_evidence ev = ev_base();

	ev.spf_results = &spf_own_none;
	ev.n_spf = 1;
	ev.dkim_results = &dk_esp_pass;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_DKIM_UNALIGNED, "esp-mail.example.net");
}
END_TEST

START_TEST(test_cause_dkim_fail)
{
	struct dm_evidence ev = ev_base();
	char *s;

	ev.dkim_results = &dk_own_fail;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_DKIM_FAIL, "mail.example.com");
	s = explain(&ev);
	ck_assert_ptr_nonnull(strstr(s, "(selector k2) did not verify (fail)"));
	ck_assert_ptr_nonnull(strstr(s,
	    "|Publish or fix the DKIM key of mail.example.com: "
	    "k2._domainkey.mail.example.com must hold the public half"));
	free(s);
	/* A report that does not name the selector. */
	{
		static const struct dm_dkim_result no_sel = {
		    "example.com", "", "fail", NULL};

		ev.dkim_results = &no_sel;
		s = explain(&ev);
		ck_assert_ptr_nonnull(strstr(s,
		    "The DKIM signature of example.com did not verify (fail)"));
		ck_assert_ptr_nonnull(strstr(s,
		    "the record under _domainkey.example.com of the selector "
		    "it "
		    "signs with (the report does not name it) must hold"));
		free(s);
		ev.dkim_results = &dk_own_fail;
	}
	/* The ESP's bounce domain passing SPF does not make it a return-path
	 * problem: the customer's key is. */
	ev.envelope_from = "bmsend.example.net";
	ev.spf_results = &spf_esp_pass;
	ev.n_spf = 1;
	check_cause(&ev, DM_CAUSE_DKIM_FAIL, "mail.example.com");
	s = explain(&ev);
	ck_assert_ptr_null(strstr(s, "return-path"));
	free(s);
}
END_TEST

/*
 * The customer's own signature fails while a relay's passes (the real case of
 * ietf.org relaying stalw.art): a list or an ESP, said in words with both
 * fixes, never "set up DKIM at the list"; a known source names one cause.
 */
START_TEST(test_cause_list_or_esp)
{
	static const struct dm_dkim_result dk[] = {
	    {"ietf.org", "ietf1", "pass", NULL},
	    {"stalw.art", "velikisrpan22", "fail", NULL}};
	static const struct dm_spf_result sp = {
	    "ietf.org", "mfrom", "pass", NULL};
	struct dm_evidence ev = ev_base();
	char *s;

	ev.header_from = "stalw.art";
	ev.envelope_from = NULL;
	ev.disposition = "none";
	ev.p = "none";
	ev.dkim_results = dk;
	ev.n_dkim = 2;
	ev.spf_results = &sp;
	ev.n_spf = 1;
	check_cause(&ev, DM_CAUSE_LIST_OR_ESP, "ietf.org");
	s = explain(&ev);
	ck_assert_str_eq(s,
	    "The DKIM signature of stalw.art (selector velikisrpan22) did not "
	    "verify, while ietf.org passed DKIM for its own domain. Either a "
	    "mailing list or forwarder at ietf.org relayed the message and "
	    "changed it (a subject tag or a footer breaks the signature), or "
	    "ietf.org is a sending provider (ESP) that signs as stalw.art with "
	    "a key not published in your DNS; the reports alone cannot tell "
	    "which. Your published policy (p=none) asks receivers not to act "
	    "on DMARC failures, so DMARC itself did not block this mail.|If "
	    "ietf.org is a mailing list: nothing to fix in your DNS (the list "
	    "should rewrite the From address or sign with ARC). If it is your "
	    "ESP: publish the DKIM key it gives you as "
	    "velikisrpan22._domainkey.stalw.art, or make the published key "
	    "match the one it signs with.");
	free(s);
	ev.service = DM_SERVICE_LIST;
	check_cause(&ev, DM_CAUSE_MAILING_LIST, "ietf.org");
	s = explain(&ev);
	ck_assert_ptr_nonnull(strstr(s, "A mailing list (ietf.org) relayed"));
	ck_assert_ptr_null(strstr(s, "set up DKIM"));
	free(s);
	ev.service = DM_SERVICE_ESP;
	check_cause(&ev, DM_CAUSE_DKIM_FAIL, "stalw.art");
	ev.service = DM_SERVICE_FORWARDER;
	ev.service_name = "Example Forwarding";
	check_cause(&ev, DM_CAUSE_FORWARDED, "ietf.org");
	s = explain(&ev);
	ck_assert_ptr_nonnull(strstr(s,
	    "The sending server is a known forwarder (Example Forwarding), "
	    "authenticating as ietf.org, so the message was forwarded."));
	free(s);
}
END_TEST

START_TEST(test_cause_no_dkim)
{
	struct dm_evidence ev = ev_base();

	ev.spf_results = &spf_own_none;
	ev.n_spf = 1;
	check_cause(&ev, DM_CAUSE_NO_DKIM, "example.com");
}
END_TEST

START_TEST(test_cause_unknown)
{
	struct dm_evidence ev = ev_base();
	static const struct dm_dkim_result dk_other_fail = {
	    "other.example", "x", "fail", NULL};

	char *s;

	ev.dkim_results = &dk_other_fail;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_UNKNOWN, NULL);
	s = explain(&ev);
	ck_assert_str_eq(s,
	    "DMARC failed: neither SPF nor DKIM passed for a domain aligned "
	    "with "
	    "example.com, and the report's results do not say more.|If the "
	    "source "
	    "IP is not one of yours or your providers', the mail is forged and "
	    "blocking it is right.");
	free(s);
}
END_TEST

START_TEST(test_cause_not_enforced)
{
	struct dm_evidence ev = ev_base();
	char *s;

	ev.p = "none";
	ev.spf_results = &spf_own_none;
	ev.n_spf = 1;
	ck_assert_int_eq(dm_cause_classify(&ev).not_enforced, 1);
	s = explain(&ev);
	ck_assert_ptr_nonnull(
	    strstr(s, " Your published policy (p=none) asks receivers not to "
	              "act on DMARC failures"));
	free(s);
	ev.p = "reject";
	ev.testing = "y";
	s = explain(&ev);
	ck_assert_ptr_nonnull(strstr(s, "(testing=y)"));
	free(s);
	ev.testing = "n";
	ck_assert_int_eq(dm_cause_classify(&ev).not_enforced, 0);
}
END_TEST

START_TEST(test_cause_strict_alignment)
{
	struct dm_evidence ev = ev_base();
	static const struct dm_dkim_result dk_sub = {
	    "mail.example.com", "k", "pass", NULL};

	ev.dkim_results = &dk_sub;
	ev.n_dkim = 1;
	ev.spf_results = &spf_own_none;
	ev.n_spf = 1;
	/* Relaxed: mail.example.com aligns with example.com; a pass for it is
	 * no excuse... */
	check_cause(&ev, DM_CAUSE_UNKNOWN, NULL);
	/* ...strict (adkim=s): it does not align, which explains the failure.
	 */
	ev.adkim = "s";
	check_cause(&ev, DM_CAUSE_DKIM_UNALIGNED, "mail.example.com");
	/* A failing signature of a subdomain is the domain's own under relaxed
	 * alignment. */
	ev.adkim = "r";
	ev.dkim_results = &dk_own_fail;
	check_cause(&ev, DM_CAUSE_DKIM_FAIL, "mail.example.com");
	ev.adkim = "s";
	check_cause(&ev, DM_CAUSE_UNKNOWN, NULL);
}
END_TEST

/* Alignment decided by the Public Suffix List changes causes: under ed.jp
 * (a suffix the old hand list lacked) another school's passing signature is
 * no excuse, a subdomain's failing one is the domain's own; under github.io
 * (private section) another user's pass is another organisation's. */
START_TEST(test_cause_psl_alignment)
{
	struct dm_evidence ev = ev_base();
	static const struct dm_dkim_result dk_other_school = {
	    "other.ed.jp", "s1", "pass", NULL};
	static const struct dm_dkim_result dk_sub_fail = {
	    "mail.school.ed.jp", "k2", "fail", NULL};
	static const struct dm_dkim_result dk_other_user = {
	    "bar.github.io", "s1", "pass", NULL};
	static const struct dm_spf_result spf_none = {
	    "school.ed.jp", "mfrom", "none", NULL};

	ev.header_from = "school.ed.jp";
	ev.envelope_from = "school.ed.jp";
	ev.spf_results = &spf_none;
	ev.n_spf = 1;
	ev.dkim_results = &dk_other_school;
	ev.n_dkim = 1;
	check_cause(&ev, DM_CAUSE_DKIM_UNALIGNED, "other.ed.jp");
	ev.dkim_results = &dk_sub_fail;
	check_cause(&ev, DM_CAUSE_DKIM_FAIL, "mail.school.ed.jp");
	ev.header_from = "foo.github.io";
	ev.dkim_results = &dk_other_user;
	check_cause(&ev, DM_CAUSE_DKIM_UNALIGNED, "bar.github.io");
}
END_TEST

START_TEST(test_cause_names_and_bad_code)
{
	struct dm_cause c = {DM_CAUSE_COUNT, NULL, 0, 0};
	struct dm_evidence ev = ev_base();

	ck_assert_str_eq(
	    dm_cause_name(DM_CAUSE_ESP_UNALIGNED), "esp_not_aligned");
	ck_assert_str_eq(dm_cause_name(DM_CAUSE_UNKNOWN), "unknown");
	ck_assert_ptr_null(dm_cause_name(DM_CAUSE_COUNT));
	ck_assert_int_eq(dm_cause_explain(&c, &ev, NULL, NULL), DM_EINVAL);
}
END_TEST

START_TEST(test_org_domain)
{
	char b[64];

	ck_assert_str_eq(
	    dm_org_domain("a.b.example.com", b, sizeof(b)), "example.com");
	ck_assert_str_eq(
	    dm_org_domain("mail.example.co.uk", b, sizeof(b)), "example.co.uk");
	ck_assert_str_eq(
	    dm_org_domain("x.shop.com.au", b, sizeof(b)), "shop.com.au");
	ck_assert_str_eq(
	    dm_org_domain("example.com.", b, sizeof(b)), "example.com");
	ck_assert_str_eq(dm_org_domain("localhost", b, sizeof(b)), "localhost");
	ck_assert_str_eq(dm_org_domain(NULL, b, sizeof(b)), "");
	ck_assert_int_eq(
	    dm_domains_aligned("Mail.Example.COM", "example.com", 0), 1);
	ck_assert_int_eq(
	    dm_domains_aligned("mail.example.com", "example.com", 1), 0);
	ck_assert_int_eq(
	    dm_domains_aligned("EXAMPLE.com", "example.com", 1), 1);
	ck_assert_int_eq(dm_domains_aligned("a.co.uk", "b.co.uk", 0), 0);
	ck_assert_int_eq(dm_domains_aligned("", "", 0), 0);
}
END_TEST

/* Organisational domains from the Public Suffix List: suffixes the old
 * hand list lacked, its private section, wildcard and exception rules. */
START_TEST(test_org_domain_psl)
{
	char b[256];

	/* co.jp was listed; ed.jp, lg.jp and the prefectures were not. */
	ck_assert_str_eq(
	    dm_org_domain("mail.example.co.jp", b, sizeof(b)), "example.co.jp");
	ck_assert_str_eq(
	    dm_org_domain("www.school.ed.jp", b, sizeof(b)), "school.ed.jp");
	ck_assert_str_eq(dm_org_domain("www.city.shinjuku.lg.jp", b, sizeof(b)),
	    "shinjuku.lg.jp");
	ck_assert_str_eq(dm_org_domain("mail.example.tokyo.jp", b, sizeof(b)),
	    "example.tokyo.jp");
	/* *.kawasaki.jp, except city.kawasaki.jp. */
	ck_assert_str_eq(dm_org_domain("a.b.c.kawasaki.jp", b, sizeof(b)),
	    "b.c.kawasaki.jp");
	ck_assert_str_eq(dm_org_domain("www.city.kawasaki.jp", b, sizeof(b)),
	    "city.kawasaki.jp");
	ck_assert_str_eq(
	    dm_org_domain("a.example.gov.br", b, sizeof(b)), "example.gov.br");
	ck_assert_str_eq(
	    dm_org_domain("a.Example.ORG.UK.", b, sizeof(b)), "example.org.uk");
	/* Private section: each user of github.io is an organisation. */
	ck_assert_str_eq(
	    dm_org_domain("www.foo.github.io", b, sizeof(b)), "foo.github.io");
	ck_assert_int_eq(
	    dm_domains_aligned("foo.github.io", "bar.github.io", 0), 0);
	ck_assert_int_eq(
	    dm_domains_aligned("mail.foo.github.io", "foo.github.io", 0), 1);
	/* Wildcard *.ck and its exception !www.ck. */
	ck_assert_str_eq(dm_org_domain("a.b.c.ck", b, sizeof(b)), "b.c.ck");
	ck_assert_str_eq(dm_org_domain("mail.www.ck", b, sizeof(b)), "www.ck");
	/* A public suffix is its own organisational domain, as before. */
	ck_assert_str_eq(dm_org_domain("co.jp", b, sizeof(b)), "co.jp");
	ck_assert_int_eq(dm_domains_aligned("co.jp", "example.co.jp", 0), 0);
	ck_assert_int_eq(
	    dm_domains_aligned("bounce.example.co.jp", "example.co.jp", 0), 1);
	ck_assert_int_eq(
	    dm_domains_aligned("other.co.jp", "example.co.jp", 0), 0);
	/* Address literals are kept whole: 192.0.2.1 is not under "1". */
	ck_assert_str_eq(dm_org_domain("192.0.2.1", b, sizeof(b)), "192.0.2.1");
	ck_assert_int_eq(dm_domains_aligned("192.0.2.1", "10.0.2.1", 0), 0);
	ck_assert_str_eq(
	    dm_org_domain("2001:db8::1", b, sizeof(b)), "2001:db8::1");
}
END_TEST

/* ---- ISP names ---- */

START_TEST(test_isp_names)
{
	static const char *const cases[][2] = {{"google.com", "Google"},
	    {"Google Inc.", "Google"}, {"  GOOGLE LLC ", "Google"},
	    {"Outlook.com", "Microsoft"}, {"Enterprise Outlook", "Microsoft"},
	    {"Microsoft Corporation", "Microsoft"}, {"Hotmail", "Microsoft"},
	    {"Yahoo! Inc.", "Yahoo"}, {"AOL", "Yahoo"}, {"Oath", "Yahoo"},
	    {"Verizon Media", "Yahoo"}, {"Mail.Ru", "Mail.ru"},
	    {"comcast.net", "Comcast"}, {"WEB.DE", "GMX/WEB.DE"},
	    {"1&1", "GMX/WEB.DE"}, {"Fastmail", "Fastmail"},
	    {"Proton AG", "Proton"}, {"zoho.com", "Zoho"},
	    {"Apple Inc.", "Apple (iCloud)"}, {"amazonses.com", "Amazon"},
	    {"Mimecast", "Mimecast"}, {"Cisco Systems, Inc.", "Cisco"},
	    {"Small Mail Co", "Small Mail Co"}, {"", "(unknown)"},
	    /* Reporting addresses written as org_name: by their domain or
	       a parent of it, never by a bare top-level domain. */
	    {"noreply-dmarc-support@google.com", "Google"},
	    {"dmarcreport@microsoft.com", "Microsoft"},
	    {"dmarchelp@yahooinc.com", "Yahoo"},
	    {"dmarc_support@corp.mail.ru", "Mail.ru"},
	    {"dmarc@unknown.example", "dmarc@unknown.example"},
	    {"dmarc@com", "dmarc@com"}, {"x@", "x@"},
	    /* Host names, as gateways write them: by a parent domain. */
	    {"esa1.eurocontrol.c3s2.iphmx.com", "Cisco"},
	    {"mx.google.com", "Google"}, {"xs4all.nl", "XS4ALL"},
	    {"mail.example.com", "mail.example.com"},
	    {"Mail Example.com", "Mail Example.com"}};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(dm_isp_name(cases[i][0]), cases[i][1]);
	ck_assert_str_eq(dm_isp_name(NULL), "(unknown)");
}
END_TEST

/* Display width: East Asian wide characters two columns, halfwidth kana
 * and Latin one, combining marks none; what is written as '?' or U+FFFD
 * one. */
START_TEST(test_text_width_counts_columns)
{
	size_t n;

	ck_assert_uint_eq(dm_text_width("ニフティ株式会社"), 16);
	ck_assert_uint_eq(dm_text_width("NIFTY"), 5);
	ck_assert_uint_eq(dm_text_width("\xef\xbd\xb1"), 1); /* U+FF71 ｱ */
	ck_assert_uint_eq(dm_text_width("ＫＤＤＩ"), 8);     /* fullwidth */
	ck_assert_uint_eq(
	    dm_text_width("e\xcc\x81t\xc3\xa9"), 3); /* e and U+0301, t, é */
	ck_assert_uint_eq(dm_text_width("\x1b[31m"), 5);
	ck_assert_uint_eq(dm_text_width("\xff\xfe"), 2);
	ck_assert_uint_eq(dm_text_width("\xf0\xa0\x80\x80"), 2); /* U+20000 */
	ck_assert_uint_eq(dm_text_char_width("한", &n), 2);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(dm_text_width("\xf0\x9f\x93\xa7"), 2); /* 📧 */
	ck_assert_uint_eq(dm_text_width("ｿﾌﾄﾊﾞﾝｸ"), 7); /* ﾊﾞ: two of one */
	ck_assert_uint_eq(dm_text_width("\xe2\x80\x8b"), 0); /* U+200B */
	ck_assert_uint_eq(dm_text_width("\xcd\xb8"), 1); /* U+0378 unassigned */
}
END_TEST

/* Under the "C" locale the check suite runs in, widths come from wcwidth
 * through the C.UTF-8 locale object, and what it calls not printable is
 * written as U+FFFD, one column, as dm_text_width counts it. */
START_TEST(test_text_unprintable_is_replaced)
{
	struct out o;

	ck_assert_str_eq(setlocale(LC_CTYPE, NULL), "C");
	dm_out_init(&o);
	/* U+0378 (unassigned), U+FFFF (a noncharacter), U+E000 (private). */
	ck_assert_uint_eq(dm_out_text(&o, "a\xcd\xb8"
	                                  "b\xef\xbf\xbf\xee\x80\x80"),
	    5);
	ck_assert_int_eq(o.rc, DM_OK);
	ck_assert_str_eq(o.b.data, "a\xef\xbf\xbd"
	                           "b\xef\xbf\xbd"
	                           "\xee\x80\x80");
	ck_assert_uint_eq(dm_text_width(o.b.data), 5);
	dm_out_free(&o);
}
END_TEST

/*
 * Names folded by rule: case, punctuation, trailing dots, corporate forms
 * (English and Japanese), full-width letters; Japan's carriers and ISPs by
 * company name and mail domain; Yahoo! JAPAN is not Yahoo.
 */
START_TEST(test_isp_names_folded)
{
	static const char *const cases[][2] = {{"AMAZON-SES", "Amazon"},
	    {"Amazon", "Amazon"}, {"Amazon SES", "Amazon"},
	    {"Google, Inc.", "Google"}, {"google inc", "Google"},
	    {"Orange.", "Orange"}, {"Orange SA", "Orange"}, {"Yahoo!", "Yahoo"},
	    {"Fastmail Pty. Ltd.", "Fastmail"}, {"mail.ru", "Mail.ru"},
	    {"NTT DOCOMO, INC.", "NTT Docomo"}, {"docomo.ne.jp", "NTT Docomo"},
	    {"株式会社NTTドコモ", "NTT Docomo"},
	    {"KDDI CORPORATION", "KDDI (au)"},
	    {"ＫＤＤＩ株式会社", "KDDI (au)"}, {"ezweb.ne.jp", "KDDI (au)"},
	    {"SoftBank Corp.", "SoftBank"}, {"i.softbank.jp", "SoftBank"},
	    {"ニフティ株式会社", "NIFTY"}, {"NIFTY Corporation", "NIFTY"},
	    {"nifty.com", "NIFTY"}, {"BIGLOBE Inc.", "BIGLOBE"},
	    {"ビッグローブ株式会社", "BIGLOBE"}, {"so-net.ne.jp", "So-net"},
	    {"ocn.ne.jp", "OCN"}, {"NTTコミュニケーションズ株式会社", "OCN"},
	    {"Rakuten Mobile, Inc.", "Rakuten"},
	    {"楽天モバイル株式会社", "Rakuten"},
	    {"Yahoo! JAPAN", "Yahoo! JAPAN (LY)"},
	    {"yahoo.co.jp", "Yahoo! JAPAN (LY)"},
	    {"LY Corporation", "Yahoo! JAPAN (LY)"},
	    {"LINEヤフー株式会社", "Yahoo! JAPAN (LY)"},
	    /* A corporate word alone is a name, and "Inc" is not a company. */
	    {"Inc.", "Inc."}, {"Co", "Co"}};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(
		    strcmp(dm_isp_name(cases[i][0]), cases[i][1]) == 0,
		    "%s: %s, not %s", cases[i][0], dm_isp_name(cases[i][0]),
		    cases[i][1]);
	ck_assert_ptr_null(dm_isp_table_check());
}
END_TEST

START_TEST(test_parse_time)
{
	struct dm_error e;
	int64_t t;

	dm_error_clear(&e);
	ck_assert_int_eq(dm_report_parse_time("2026-11-01", &t, &e), DM_OK);
	ck_assert_int_eq(t, D_1101);
	ck_assert_int_eq(dm_report_parse_time("2024-02-29", &t, &e), DM_OK);
	ck_assert_int_eq(t, 1709164800LL);
	ck_assert_int_eq(dm_report_parse_time("1793491200", &t, &e), DM_OK);
	ck_assert_int_eq(t, D_1101);
	ck_assert_int_eq(dm_report_parse_time("2026-02-29", &t, &e), DM_EINVAL);
	ck_assert_str_eq(
	    e.msg, "not a date (YYYY-MM-DD) or a Unix time: \"2026-02-29\"");
	ck_assert_int_eq(dm_report_parse_time("2026-1-01", &t, &e), DM_EINVAL);
	ck_assert_int_eq(dm_report_parse_time("12x", &t, &e), DM_EINVAL);
	ck_assert_str_eq(
	    e.msg, "not a date (YYYY-MM-DD) or a Unix time: \"12x\"");
}
END_TEST

/* UTC day starts of the dates the bucket tests use. */
#define D_2000_02_01 949363200LL
#define D_2000_02_29 951782400LL
#define D_2000_03_01 951868800LL
#define D_2020_12_28 1609113600LL
#define D_2021_01_01 1609459200LL
#define D_2023_02_01 1675209600LL
#define D_2023_03_01 1677628800LL
#define D_2024_01_31 1706659200LL
#define D_2024_02_01 1706745600LL
#define D_2024_02_29 1709164800LL
#define D_2024_03_01 1709251200LL
#define D_2024_12_30 1735516800LL
#define D_2025_12_01 1764547200LL
#define D_2026_01_01 1767225600LL
#define D_2026_10_01 1790812800LL
#define D_2026_10_26 1792972800LL
#define D_2026_12_14 1797206400LL
#define D_2026_12_15 1797292800LL
#define D_2026_12_01 1796083200LL
#define D_2026_12_28 1798416000LL
#define D_2026_12_31 1798675200LL
#define D_2027_01_03 1798934400LL
#define D_2027_01_04 1799020800LL

static const char *
label(enum dm_bucket b, int64_t day)
{
	static char buf[32];

	return dm_bucket_label(b, day, buf, sizeof(buf));
}

START_TEST(test_bucket_of_period)
{
	ck_assert_int_eq(dm_bucket_of_period(D_1101, D_1108), DM_BUCKET_DAY);
	ck_assert_int_eq(
	    dm_bucket_of_period(D_1101, D_1101 + 62 * DAY), DM_BUCKET_DAY);
	ck_assert_int_eq(
	    dm_bucket_of_period(D_1101, D_1101 + 63 * DAY), DM_BUCKET_WEEK);
	ck_assert_int_eq(
	    dm_bucket_of_period(D_1101, D_1101 + 731 * DAY), DM_BUCKET_WEEK);
	ck_assert_int_eq(
	    dm_bucket_of_period(D_1101, D_1101 + 732 * DAY), DM_BUCKET_MONTH);
	ck_assert_str_eq(dm_bucket_name(DM_BUCKET_DAY), "day");
	ck_assert_str_eq(dm_bucket_name(DM_BUCKET_WEEK), "week");
	ck_assert_str_eq(dm_bucket_name(DM_BUCKET_MONTH), "month");
}
END_TEST

/* ISO weeks start on Monday and belong to the year of their Thursday. */
START_TEST(test_bucket_weeks)
{
	ck_assert_int_eq(dm_bucket_start(DM_BUCKET_WEEK, D_1101), D_2026_10_26);
	ck_assert_int_eq(
	    dm_bucket_start(DM_BUCKET_WEEK, D_2026_10_26), D_2026_10_26);
	ck_assert_int_eq(dm_bucket_next(DM_BUCKET_WEEK, D_1101), D_1101 + DAY);
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_1101), "2026-W44");
	/* 2021-01-01 is a Friday: its week is 2020's 53rd. */
	ck_assert_int_eq(
	    dm_bucket_start(DM_BUCKET_WEEK, D_2021_01_01), D_2020_12_28);
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_2021_01_01), "2020-W53");
	/* 2024-12-30, a Monday, starts 2025's first week. */
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_2024_12_30), "2025-W01");
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_2026_01_01), "2026-W01");
	/* 2026-12-31 is a Thursday: 2026 has 53 weeks, the last ending on
	 * 2027-01-03. */
	ck_assert_int_eq(
	    dm_bucket_start(DM_BUCKET_WEEK, D_2027_01_03), D_2026_12_28);
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_2026_12_31), "2026-W53");
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_2027_01_03), "2026-W53");
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_WEEK, D_2026_12_31), D_2027_01_04);
	ck_assert_str_eq(label(DM_BUCKET_WEEK, D_2027_01_04), "2027-W01");
}
END_TEST

/* Months of 28, 29, 30 and 31 days, leap years (2000 is one, by its 400
 * rule) and the turn of a year. */
START_TEST(test_bucket_months)
{
	ck_assert_int_eq(
	    dm_bucket_start(DM_BUCKET_MONTH, D_2024_02_29), D_2024_02_01);
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_MONTH, D_2024_01_31), D_2024_02_01);
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_MONTH, D_2024_02_01), D_2024_03_01);
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_MONTH, D_2024_02_29), D_2024_03_01);
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_MONTH, D_2023_02_01), D_2023_03_01);
	ck_assert_int_eq(
	    dm_bucket_start(DM_BUCKET_MONTH, D_2000_02_29), D_2000_02_01);
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_MONTH, D_2000_02_01), D_2000_03_01);
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_MONTH, D_2025_12_01), D_2026_01_01);
	ck_assert_int_eq(dm_bucket_next(DM_BUCKET_MONTH, D_2026_12_31),
	    D_2027_01_04 - 3 * DAY);
	ck_assert_str_eq(label(DM_BUCKET_MONTH, D_2024_02_29), "2024-02");
	ck_assert_str_eq(label(DM_BUCKET_MONTH, D_2026_12_31), "2026-12");
	ck_assert_str_eq(label(DM_BUCKET_DAY, D_2024_02_29), "2024-02-29");
	ck_assert_int_eq(
	    dm_bucket_next(DM_BUCKET_DAY, D_2024_02_29), D_2024_03_01);
	ck_assert_int_eq(
	    dm_bucket_start(DM_BUCKET_DAY, D_2024_02_29 + 3600), D_2024_02_29);
}
END_TEST

/* ---- Fixture databases ---- */

static char db_path[256];

static void
exec_file(sqlite3 *db, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *sql, *msg = NULL;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	sql = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(sql, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", path, msg);
	free(sql);
}

static void
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg);
}

/* A new database: sql/schema.sql and sql/views.sql, as the store creates it. */
static sqlite3 *
new_db(void)
{
	sqlite3 *db;
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/check_report_XXXXXX");
	fd = mkstemp(db_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	/* A fixture in /tmp need not survive a power cut. */
	exec(db, "PRAGMA synchronous = OFF");
	exec_file(db, SQL_DIR "/schema.sql");
	exec_file(db, SQL_DIR "/views.sql");
	return db;
}

static void
finish_db(sqlite3 *db)
{
	sqlite3_close(db);
}

static void
add_report(sqlite3 *db, int id, const char *org, const char *domain,
    long long begin, long long end, const char *p)
{
	char sql[1024];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO report (id, org_name, report_id, \"begin\", \"end\", "
	    "schema, domain, p, "
	    "adkim, aspf, pct, stored_at) VALUES (%d, ?, 'r%d', %lld, %lld, "
	    "'rfc7489', ?, ?, 'r', "
	    "'r', 100, 0)",
	    id, id, begin, end);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static long long
add_record(sqlite3 *db, int report, const char *ip, long long count,
    const char *disp, const char *dkim, const char *spf, const char *from,
    const char *env_from)
{
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                     "INSERT INTO record (report, source_ip, count, "
	                     "disposition, dkim, spf, "
	                     "header_from, envelope_from, envelope_to) VALUES "
	                     "(?, ?, ?, ?, ?, ?, ?, "
	                     "?, 'example.org')",
	                     -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int(st, 1, report);
	sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, count);
	sqlite3_bind_text(st, 4, disp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, dkim, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, spf, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, env_from, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	return sqlite3_last_insert_rowid(db);
}

/* table is dkim_result, spf_result or reason; c is selector / scope / comment.
 */
static void
add_auth(sqlite3 *db, const char *table, long long rec, const char *a,
    const char *b, const char *c)
{
	char sql[256];
	sqlite3_stmt *st;

	if (strcmp(table, "reason") == 0)
		snprintf(sql, sizeof(sql),
		    "INSERT INTO reason (record, type, comment) VALUES (?, ?, "
		    "?)");
	else
		snprintf(sql, sizeof(sql),
		    "INSERT INTO %s (record, n, domain, result, %s) VALUES "
		    "(?1, (SELECT count(*) FROM %s WHERE record = ?1), ?2, ?3, "
		    "?4)",
		    table,
		    strcmp(table, "dkim_result") == 0 ? "selector" : "scope",
		    table);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, rec);
	sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

/* What the store does once a report's records are in, then the rollups
 * rebuilt. */
static void
end_report(sqlite3 *db, int id)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
	    "UPDATE report SET record_count = (SELECT count(*) FROM record "
	    "WHERE report = %d), "
	    "message_count = (SELECT ifnull(sum(count), 0) FROM record WHERE "
	    "report = %d) WHERE "
	    "id = %d",
	    id, id, id);
	exec(db, sql);
	exec_file(db, SQL_DIR "/rollup_rebuild.sql");
}

/*
 * The story: example.com sends from its own server 192.0.2.10 and through an
 * ESP at 198.51.100.20 (SPF for bmsend.example.net, DKIM for
 * esp-mail.example.net, neither aligned); Google also sees a forwarder;
 * Microsoft's report spans three days; a small ISP reported only in the
 * previous week; one report is for another domain.
 */
static sqlite3 *
story_db(void)
{
	sqlite3 *db = new_db();
	long long r;

	add_report(db, 1, "google.com", "example.com", D_1101 + DAY,
	    D_1101 + 2 * DAY - 1, "reject");
	r = add_record(db, 1, "192.0.2.10", 100, "none", "pass", "pass",
	    "example.com", "example.com");
	add_auth(db, "dkim_result", r, "example.com", "pass", "k1");
	add_auth(db, "spf_result", r, "example.com", "pass", "mfrom");
	r = add_record(db, 1, "198.51.100.20", 40, "reject", "fail", "fail",
	    "example.com", "bmsend.example.net");
	add_auth(db, "dkim_result", r, "esp-mail.example.net", "pass", "s1");
	add_auth(db, "spf_result", r, "bmsend.example.net", "pass", "mfrom");
	r = add_record(db, 1, "203.0.113.5", 7, "none", "fail", "fail",
	    "example.com", "example.com");
	add_auth(db, "spf_result", r, "example.com", "softfail", "mfrom");
	add_auth(db, "reason", r, "forwarded", "", NULL);
	end_report(db, 1);
	add_report(db, 2, "Outlook.com", "example.com", D_1101 + 2 * DAY,
	    D_1101 + 5 * DAY, "reject");
	r = add_record(db, 2, "198.51.100.20", 31, "quarantine", "fail", "fail",
	    "example.com", "bmsend.example.net");
	add_auth(db, "dkim_result", r, "esp-mail.example.net", "pass", "s1");
	add_auth(db, "spf_result", r, "bmsend.example.net", "pass", "mfrom");
	add_record(db, 2, "192.0.2.10", 50, "none", "pass", "fail",
	    "example.com", "example.com");
	end_report(db, 2);
	add_report(db, 3, "Yahoo! Inc.", "example.com", D_1025 + 3 * DAY,
	    D_1025 + 4 * DAY - 1, "quarantine");
	add_record(db, 3, "192.0.2.10", 60, "none", "pass", "pass",
	    "example.com", "example.com");
	end_report(db, 3);
	add_report(db, 4, "Small ISP", "example.com", D_1025 + 5 * DAY,
	    D_1025 + 6 * DAY - 1, "reject");
	add_record(db, 4, "192.0.2.10", 5, "none", "pass", "pass",
	    "example.com", "example.com");
	end_report(db, 4);
	add_report(db, 5, "Yahoo! Inc.", "example.com", D_1101 + 3 * DAY,
	    D_1101 + 4 * DAY - 1, "reject");
	r = add_record(db, 5, "198.51.100.20", 10, "reject", "fail", "fail",
	    "example.com", "bmsend.example.net");
	add_auth(db, "spf_result", r, "bmsend.example.net", "pass", "mfrom");
	add_record(db, 5, "192.0.2.10", 20, "none", "pass", "pass",
	    "example.com", "example.com");
	end_report(db, 5);
	add_report(db, 6, "google.com", "other.example", D_1101 + DAY,
	    D_1101 + 2 * DAY - 1, "none");
	add_record(db, 6, "192.0.2.99", 3, "none", "pass", "pass",
	    "other.example", "other.example");
	end_report(db, 6);
	/* A second UPDATE of the same report must not count it twice. */
	end_report(db, 1);
	return db;
}

static long long
sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static struct dm_report *
build(const char *domain, const char *reporter)
{
	struct dm_report_options o = {.from = D_1101,
	    .to = D_1108,
	    .domain = domain,
	    .reporter = reporter,
	    .ip = NULL};
	struct dm_query *q;
	struct dm_report *r;
	struct dm_error e;

	dm_error_clear(&e);
	ck_assert_msg(dm_query_open(&q, db_path, &e) == DM_OK, "%s", e.msg);
	ck_assert_msg(dm_report_build(q, &o, &r, &e) == DM_OK, "%s", e.msg);
	dm_query_close(q);
	return r;
}

static const struct section *
sec(const struct dm_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < SEC_COUNT; i++) {
		if (strcmp(r->sec[i].name, name) == 0)
			return &r->sec[i];
	}
	ck_abort_msg("no section %s", name);
	return NULL;
}

static int64_t
num(const struct dm_report *r, const char *name, size_t row, size_t col)
{
	const struct section *s = sec(r, name);

	ck_assert_uint_lt(row, s->n_rows);
	return dm_section_cell(s, row, col)->i;
}

static const char *
str(const struct dm_report *r, const char *name, size_t row, size_t col)
{
	const struct section *s = sec(r, name);

	ck_assert_uint_lt(row, s->n_rows);
	ck_assert_int_eq(dm_section_cell(s, row, col)->kind, CELL_STR);
	return dm_section_cell(s, row, col)->s;
}

/* The cell of column key (by name, not position). */
static const struct cell *
cellk(const struct dm_report *r, const char *name, size_t row, const char *key)
{
	const struct section *s = sec(r, name);
	size_t c = dm_section_col(s, key);

	ck_assert_msg(c < s->n_cols, "%s has no column %s", name, key);
	ck_assert_uint_lt(row, s->n_rows);
	return dm_section_cell(s, row, c);
}

static int64_t
numk(const struct dm_report *r, const char *name, size_t row, const char *key)
{
	return cellk(r, name, row, key)->i;
}

static const char *
strk(const struct dm_report *r, const char *name, size_t row, const char *key)
{
	const struct cell *c = cellk(r, name, row, key);

	return c->kind == CELL_STR ? c->s : "";
}

/* Independent SQL: over record and report directly, reports placed by their
 * begin. */
#define CUR "p.\"begin\" >= 1793491200 AND p.\"begin\" < 1794096000"
#define PREV "p.\"begin\" >= 1792886400 AND p.\"begin\" < 1793491200"
#define FROM_RR " FROM record r JOIN report p ON p.id = r.report WHERE "

START_TEST(test_report_overview_matches_sql)
{
	sqlite3 *db = story_db();
	struct dm_report *r = build(NULL, NULL);

	ck_assert_str_eq(str(r, "overview", 0, 0), "messages");
	/* Text and HTML show a label; JSON and CSV the key above. */
	ck_assert_str_eq(str(r, "overview", 1, 1), "DMARC pass (%)");
	ck_assert_int_eq(num(r, "overview", 0, 2),
	    sql_int(db, "SELECT sum(count)" FROM_RR CUR));
	ck_assert_int_eq(num(r, "overview", 0, 3),
	    sql_int(db, "SELECT sum(count)" FROM_RR PREV));
	ck_assert_int_eq(num(r, "overview", 0, 4), 261 - 65);
	ck_assert_int_eq(num(r, "overview", 1, 2),
	    sql_int(db, "SELECT (sum(CASE WHEN dkim = 'pass' OR spf = 'pass' "
	                "THEN count ELSE 0 "
	                "END) * 2000 / sum(count) + 1) / 2" FROM_RR CUR));
	ck_assert_int_eq(num(r, "overview", 2, 2),
	    sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                " AND disposition = 'quarantine'"));
	ck_assert_int_eq(num(r, "overview", 3, 2),
	    sql_int(db,
	        "SELECT sum(count)" FROM_RR CUR " AND disposition = 'reject'"));
	ck_assert_int_eq(num(r, "overview", 3, 3), 0);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_report_isps_match_sql)
{
	sqlite3 *db = story_db();
	struct dm_report *r = build(NULL, NULL);

	/* Google (google.com: 150), Microsoft (Outlook.com: 81), Yahoo (Yahoo!
	 * Inc.: 30). */
	ck_assert_uint_eq(sec(r, "isps")->n_rows, 3);
	ck_assert_str_eq(str(r, "isps", 0, 0), "Google");
	ck_assert_int_eq(
	    num(r, "isps", 0, 1), sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                                      " AND org_name = 'google.com'"));
	ck_assert_int_eq(num(r, "isps", 0, 4),
	    sql_int(db,
	        "SELECT sum(count)" FROM_RR CUR
	        " AND org_name = 'google.com' AND disposition = 'reject'"));
	ck_assert_str_eq(str(r, "isps", 0, 5), "esp_not_aligned");
	ck_assert_str_eq(str(r, "isps", 1, 0), "Microsoft");
	ck_assert_int_eq(
	    num(r, "isps", 1, 1), sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                                      " AND org_name = 'Outlook.com'"));
	ck_assert_int_eq(num(r, "isps", 1, 3),
	    sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                " AND org_name = 'Outlook.com' AND disposition = "
	                "'quarantine'"));
	ck_assert_int_eq(num(r, "isps", 1, 2), 617); /* 50 of 81 pass: 61.7 % */
	ck_assert_str_eq(str(r, "isps", 2, 0), "Yahoo");
	ck_assert_int_eq(
	    num(r, "isps", 2, 1), sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                                      " AND org_name = 'Yahoo! Inc.'"));
	ck_assert_str_eq(str(r, "isps", 2, 5), "spf_not_aligned");
	/* Small ISP reported only in the previous week. */
	ck_assert_uint_eq(sec(r, "silent_isps")->n_rows, 1);
	ck_assert_str_eq(str(r, "silent_isps", 0, 0), "Small ISP");
	ck_assert_int_eq(num(r, "silent_isps", 0, 1), D_1025 + 5 * DAY);
	ck_assert_int_eq(num(r, "silent_isps", 0, 2), 5);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_report_sources_match_sql)
{
	sqlite3 *db = story_db();
	struct dm_report *r = build(NULL, NULL);
	const struct section *s = sec(r, "sources");
	const struct section *si = sec(r, "source_isps");
	const struct cell *isps;

	ck_assert_uint_eq(s->n_rows, 2);
	ck_assert_str_eq(strk(r, "sources", 0, "source_ip"), "198.51.100.20");
	ck_assert_str_eq(strk(r, "sources", 0, "header_from"), "example.com");
	ck_assert_int_eq(numk(r, "sources", 0, "messages"),
	    sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                " AND source_ip = '198.51.100.20' AND "
	                "header_from = 'example.com' AND "
	                "((dkim <> 'pass' AND spf <> 'pass') OR disposition IN "
	                "('quarantine', 'reject'))"));
	ck_assert_int_eq(numk(r, "sources", 0, "quarantined"), 31);
	ck_assert_int_eq(numk(r, "sources", 0, "rejected"), 50);
	/* SPF raw pass: every message; DKIM raw pass: Yahoo gave none. */
	ck_assert_int_eq(numk(r, "sources", 0, "spf_raw_pass"), 81);
	ck_assert_int_eq(numk(r, "sources", 0, "spf_aligned_pass"), 0);
	ck_assert_int_eq(numk(r, "sources", 0, "dkim_raw_pass"), 71);
	ck_assert_int_eq(numk(r, "sources", 0, "dkim_aligned_pass"), 0);
	ck_assert_int_eq(numk(r, "sources", 0, "reports"), 3);
	ck_assert_int_eq(numk(r, "sources", 0, "first_day"), D_1101 + DAY);
	ck_assert_int_eq(numk(r, "sources", 0, "last_day"), D_1101 + 4 * DAY);
	ck_assert_str_eq(strk(r, "sources", 0, "cause"), "esp_not_aligned");
	ck_assert_str_eq(strk(r, "sources", 0, "isps_text"),
	    "Google: 40 messages, 40 rejected (esp_not_aligned); Microsoft: 31 "
	    "messages, 31 quarantined (esp_not_aligned); Yahoo: 10 messages, "
	    "10 "
	    "rejected (spf_not_aligned)");
	ck_assert_str_eq(strk(r, "sources", 0, "seen"),
	    "2026-11-02 to 2026-11-05, 3 reports");
	ck_assert_str_eq(strk(r, "sources", 0, "authenticated_domains"),
	    "esp-mail.example.net, bmsend.example.net");
	ck_assert_ptr_nonnull(strstr(strk(r, "sources", 0, "explanation"),
	    "SPF passed for bmsend.example.net"));
	ck_assert_ptr_nonnull(
	    strstr(strk(r, "sources", 0, "fix"), "custom return-path"));
	/* Its ISPs, each with its own cause, as rows of source_isps. */
	isps = cellk(r, "sources", 0, "isps");
	ck_assert_int_eq(isps->kind, CELL_ROWS);
	ck_assert_uint_eq(isps->n, 3);
	ck_assert_str_eq(
	    dm_section_cell(si, (size_t)isps->i + 2, 2)->s, "Yahoo");
	ck_assert_int_eq(dm_section_cell(si, (size_t)isps->i + 2, 5)->i, 10);
	ck_assert_str_eq(
	    dm_section_cell(si, (size_t)isps->i + 2, 6)->s, "spf_not_aligned");
	ck_assert_str_eq(strk(r, "sources", 1, "source_ip"), "203.0.113.5");
	ck_assert_int_eq(numk(r, "sources", 1, "messages"), 7);
	ck_assert_str_eq(strk(r, "sources", 1, "cause"), "forwarded");
	ck_assert_str_eq(strk(r, "sources", 1, "isps_text"),
	    "Google: 7 messages, none blocked (forwarded)");
	/* Grouped under their address. */
	ck_assert_uint_eq(s->n_groups, 2);
	ck_assert_str_eq(s->groups[0].heading, "Source IP 198.51.100.20");
	ck_assert_uint_eq(s->groups[1].row0, 1);
	/* New this week: the ESP and the forwarder (and other.example's
	 * server). */
	ck_assert_uint_eq(sec(r, "new_sources")->n_rows, 3);
	ck_assert_str_eq(str(r, "new_sources", 0, 0), "198.51.100.20");
	ck_assert_int_eq(num(r, "new_sources", 0, 1), D_1101 + DAY);
	ck_assert_int_eq(num(r, "new_sources", 0, 2), 81);
	ck_assert_int_eq(num(r, "new_sources", 0, 3), 0);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_report_daily_spreads_multi_day_reports)
{
	sqlite3 *db = story_db();
	struct dm_report *r = build(NULL, NULL);
	long long total = 0;
	size_t i;

	ck_assert_uint_eq(sec(r, "daily")->n_rows, 7);
	/*
	 * Spread independently: each report's messages per From domain over the
	 * days the report covers, the remainder one each to the first days.
	 */
	for (i = 0; i < 7; i++) {
		char sql[1024];

		snprintf(sql, sizeof(sql),
		    "SELECT ifnull(sum(g.c / n.nd + (n.k < g.c %% n.nd)), 0) "
		    "FROM (SELECT report, "
		    "sum(count) AS c FROM record GROUP BY report, header_from) "
		    "g JOIN (SELECT p.id, "
		    "p.\"begin\" / 86400 AS d0, max(1, (p.\"end\" - 1) / 86400 "
		    "- p.\"begin\" / 86400 "
		    "+ 1) AS nd, s.value AS k FROM report p JOIN "
		    "(WITH RECURSIVE q(value) AS (SELECT 0 UNION ALL SELECT "
		    "value + 1 FROM q WHERE value < 30) SELECT value FROM q) s "
		    "ON "
		    "s.value < max(1, (p.\"end\" "
		    "- 1) / 86400 - p.\"begin\" / 86400 + 1)) n ON n.id = "
		    "g.report WHERE (n.d0 + "
		    "n.k) * 86400 = %lld",
		    D_1101 + (long long)i * DAY);
		ck_assert_int_eq(numk(r, "daily", i, "first_day"),
		    D_1101 + (long long)i * DAY);
		ck_assert_int_eq(numk(r, "daily", i, "last_day"),
		    D_1101 + (long long)i * DAY);
		ck_assert_int_eq(num(r, "daily", i, 1), sql_int(db, sql));
		total += num(r, "daily", i, 1);
	}
	/* Microsoft's 81 over three days: 27 each; its 31 quarantined: 11,
	 * 10, 10. */
	ck_assert_int_eq(num(r, "daily", 2, 4), 11);
	ck_assert_int_eq(num(r, "daily", 3, 4), 10);
	ck_assert_int_eq(num(r, "daily", 4, 4), 10);
	ck_assert_int_eq(total, num(r, "overview", 0, 2));
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

static struct dm_report *
build_period(int64_t from, int64_t to)
{
	struct dm_report_options o = {.from = from, .to = to};
	struct dm_query *q;
	struct dm_report *r;
	struct dm_error e;

	dm_error_clear(&e);
	ck_assert_msg(dm_query_open(&q, db_path, &e) == DM_OK, "%s", e.msg);
	ck_assert_msg(dm_report_build(q, &o, &r, &e) == DM_OK, "%s", e.msg);
	dm_query_close(q);
	return r;
}

/* The series' sum over rows [a, b) of column key. */
static int64_t
series_sum(const struct dm_report *r, size_t a, size_t b, const char *key)
{
	int64_t t = 0;

	for (; a < b; a++)
		t += numk(r, "daily", a, key);
	return t;
}

/* 75 days: ISO weeks, the first and last cut to the period; each week's
 * sums are its days' sums in a series of days. */
START_TEST(test_report_series_weeks)
{
	sqlite3 *db = story_db();
	struct dm_report *days, *r;
	size_t n;

	days = build_period(D_2026_10_26, D_1108); /* 13 days */
	ck_assert_int_eq(days->bucket, DM_BUCKET_DAY);
	ck_assert_uint_eq(sec(days, "daily")->n_rows, 13);
	r = build_period(D_2026_10_01, D_2026_12_15);
	ck_assert_int_eq(r->bucket, DM_BUCKET_WEEK);
	ck_assert_str_eq(sec(r, "daily")->title, "Weekly");
	n = sec(r, "daily")->n_rows;
	ck_assert_uint_eq(n, 12); /* 2026-W40 to 2026-W51 */
	ck_assert_str_eq(strk(r, "daily", 0, "bucket"), "2026-W40");
	ck_assert_int_eq(numk(r, "daily", 0, "first_day"), D_2026_10_01);
	ck_assert_int_eq(
	    numk(r, "daily", 0, "last_day"), D_2026_10_01 + 3 * DAY);
	ck_assert_str_eq(strk(r, "daily", 4, "bucket"), "2026-W44");
	ck_assert_int_eq(numk(r, "daily", 4, "first_day"), D_2026_10_26);
	ck_assert_int_eq(numk(r, "daily", 4, "last_day"), D_1101);
	ck_assert_str_eq(strk(r, "daily", n - 1, "bucket"), "2026-W51");
	ck_assert_int_eq(numk(r, "daily", n - 1, "first_day"), D_2026_12_14);
	ck_assert_int_eq(numk(r, "daily", n - 1, "last_day"), D_2026_12_14);
	/* W44 is 2026-10-26 to 11-01, W45 11-02 to 11-08. */
	ck_assert_int_gt(series_sum(days, 0, 7, "messages"), 0);
	ck_assert_int_gt(series_sum(days, 7, 13, "rejected"), 0);
	ck_assert_int_eq(numk(r, "daily", 4, "messages"),
	    series_sum(days, 0, 7, "messages"));
	ck_assert_int_eq(numk(r, "daily", 5, "messages"),
	    series_sum(days, 7, 13, "messages"));
	ck_assert_int_eq(numk(r, "daily", 5, "dmarc_pass"),
	    series_sum(days, 7, 13, "dmarc_pass"));
	ck_assert_int_eq(numk(r, "daily", 5, "quarantined"),
	    series_sum(days, 7, 13, "quarantined"));
	ck_assert_int_eq(numk(r, "daily", 5, "rejected"),
	    series_sum(days, 7, 13, "rejected"));
	ck_assert_int_eq(
	    series_sum(r, 0, n, "messages"), numk(r, "overview", 0, "value"));
	dm_report_free(days);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/* From a leap day to 2026-11-30: calendar months, the first cut to its
 * last day; a month's sums are its days'. */
START_TEST(test_report_series_months)
{
	sqlite3 *db = story_db();
	struct dm_report *oct, *nov, *r;
	size_t n;

	oct = build_period(D_2026_10_01, D_1101);
	nov = build_period(D_1101, D_2026_12_01);
	r = build_period(D_2024_02_29, D_2026_12_01);
	ck_assert_int_eq(r->bucket, DM_BUCKET_MONTH);
	ck_assert_str_eq(sec(r, "daily")->title, "Monthly");
	n = sec(r, "daily")->n_rows;
	ck_assert_uint_eq(n, 34); /* 2024-02 to 2026-11 */
	ck_assert_str_eq(strk(r, "daily", 0, "bucket"), "2024-02");
	ck_assert_int_eq(numk(r, "daily", 0, "first_day"), D_2024_02_29);
	ck_assert_int_eq(numk(r, "daily", 0, "last_day"), D_2024_02_29);
	ck_assert_str_eq(strk(r, "daily", 1, "bucket"), "2024-03");
	ck_assert_int_eq(numk(r, "daily", 1, "first_day"), D_2024_03_01);
	ck_assert_int_eq(
	    numk(r, "daily", 1, "last_day"), D_2024_03_01 + 30 * DAY);
	ck_assert_str_eq(strk(r, "daily", 11, "bucket"), "2025-01");
	ck_assert_str_eq(strk(r, "daily", n - 1, "bucket"), "2026-11");
	ck_assert_int_eq(numk(r, "daily", n - 1, "first_day"), D_1101);
	ck_assert_int_eq(
	    numk(r, "daily", n - 1, "last_day"), D_2026_12_01 - DAY);
	ck_assert_int_gt(series_sum(oct, 0, 31, "messages"), 0);
	ck_assert_int_eq(numk(r, "daily", n - 2, "messages"),
	    series_sum(oct, 0, 31, "messages"));
	ck_assert_int_eq(numk(r, "daily", n - 1, "messages"),
	    series_sum(nov, 0, 30, "messages"));
	ck_assert_int_eq(numk(r, "daily", n - 1, "quarantined"),
	    series_sum(nov, 0, 30, "quarantined"));
	ck_assert_int_eq(series_sum(r, 0, n - 2, "messages"), 0);
	dm_report_free(oct);
	dm_report_free(nov);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_report_filters)
{
	sqlite3 *db = story_db();
	struct dm_report *r = build("other.example", NULL);

	ck_assert_int_eq(num(r, "overview", 0, 2), 3);
	ck_assert_uint_eq(sec(r, "domains")->n_rows, 1);
	ck_assert_str_eq(str(r, "domains", 0, 0), "other.example");
	ck_assert_str_eq(str(r, "domains", 0, 2), "none");
	dm_report_free(r);
	r = build(NULL, "yahoo");
	ck_assert_int_eq(num(r, "overview", 0, 2),
	    sql_int(db, "SELECT sum(count)" FROM_RR CUR
	                " AND org_name = 'Yahoo! Inc.'"));
	ck_assert_int_eq(num(r, "overview", 0, 3), 60);
	ck_assert_uint_eq(sec(r, "isps")->n_rows, 1);
	ck_assert_uint_eq(sec(r, "new_sources")->n_rows, 1);
	dm_report_free(r);
	r = build(NULL, "No Such ISP");
	ck_assert_int_eq(num(r, "overview", 0, 2), 0);
	ck_assert_uint_eq(sec(r, "isps")->n_rows, 0);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/*
 * Multi-tenant: an ESP's IP 198.51.100.20 sends for four customers, each with
 * its own problem (news.example: a DKIM key not published; shop.example:
 * passes DMARC, Yahoo rejects it anyway; promo.example: the ESP signs as
 * itself; bank.example: not in its SPF record), and shop.example's mail also
 * comes through a mailing list (its signature broken, the list's passing) and
 * a forwarder, and bank.example is spoofed from another IP.
 */
static void
tenant_record(sqlite3 *db, int rep, const char *ip, long long n,
    const char *disp, const char *dkim, const char *from, const char *env,
    const char *dk_dom, const char *dk_sel, const char *dk_res,
    const char *spf_dom, const char *spf_res)
{
	long long r = add_record(db, rep, ip, n, disp, dkim, "fail", from, env);

	if (dk_dom != NULL)
		add_auth(db, "dkim_result", r, dk_dom, dk_res, dk_sel);
	if (spf_dom != NULL)
		add_auth(db, "spf_result", r, spf_dom, spf_res, "mfrom");
}

static sqlite3 *
tenants_db(void)
{
	sqlite3 *db = new_db();
	long long r;

	add_report(db, 1, "google.com", "shop.example", D_1101 + DAY,
	    D_1101 + 2 * DAY - 1, "reject");
	tenant_record(db, 1, "198.51.100.20", 100, "none", "pass",
	    "shop.example", "bounce.esp.example", "shop.example", "s1", "pass",
	    "bounce.esp.example", "pass");
	tenant_record(db, 1, "198.51.100.20", 30, "reject", "fail",
	    "news.example", "bounce.esp.example", "news.example", "s2024",
	    "fail", "bounce.esp.example", "pass");
	tenant_record(db, 1, "198.51.100.20", 20, "reject", "fail",
	    "bank.example", "bank.example", NULL, NULL, NULL, "bank.example",
	    "softfail");
	tenant_record(db, 1, "198.51.100.20", 15, "reject", "fail",
	    "promo.example", "bounce.esp.example", "esp.example", "e1", "pass",
	    "bounce.esp.example", "pass");
	r = add_record(db, 1, "192.0.2.50", 12, "none", "fail", "fail",
	    "shop.example", "lists.example.org");
	add_auth(db, "dkim_result", r, "lists.example.org", "pass", "l1");
	add_auth(db, "dkim_result", r, "shop.example", "fail", "s1");
	add_auth(db, "spf_result", r, "lists.example.org", "pass", "mfrom");
	r = add_record(db, 1, "203.0.113.9", 7, "none", "fail", "fail",
	    "shop.example", "shop.example");
	add_auth(db, "dkim_result", r, "shop.example", "fail", "s1");
	add_auth(db, "spf_result", r, "shop.example", "softfail", "mfrom");
	add_auth(db, "reason", r, "forwarded", "", NULL);
	end_report(db, 1);
	add_report(db, 2, "Yahoo! Inc.", "shop.example", D_1101 + DAY,
	    D_1101 + 2 * DAY - 1, "reject");
	tenant_record(db, 2, "198.51.100.20", 50, "reject", "pass",
	    "shop.example", "bounce.esp.example", "shop.example", "s1", "pass",
	    "bounce.esp.example", "pass");
	tenant_record(db, 2, "198.51.100.20", 25, "reject", "fail",
	    "news.example", "bounce.esp.example", "news.example", "s2024",
	    "fail", "bounce.esp.example", "pass");
	tenant_record(db, 2, "203.0.113.66", 9, "reject", "fail",
	    "bank.example", "bank.example", NULL, NULL, NULL, "bank.example",
	    "fail");
	end_report(db, 2);
	add_report(db, 3, "Outlook.com", "shop.example", D_1101 + 2 * DAY,
	    D_1101 + 4 * DAY - 1, "reject");
	tenant_record(db, 3, "198.51.100.20", 20, "quarantine", "fail",
	    "news.example", "bounce.esp.example", "news.example", "s2024",
	    "fail", "bounce.esp.example", "pass");
	tenant_record(db, 3, "198.51.100.20", 10, "quarantine", "fail",
	    "promo.example", "bounce.esp.example", "esp.example", "e1", "pass",
	    "bounce.esp.example", "pass");
	end_report(db, 3);
	return db;
}

/* What each failing pair must show, its counts also taken by SQL. */
static const struct {
	const char *ip, *from, *cause, *isps;
	long long reports;
} tenant_pairs[] = {
    {"198.51.100.20", "news.example", "dkim_fail",
        "Google: 30 messages, 30 rejected (dkim_fail); Yahoo: 25 messages, 25 "
        "rejected (dkim_fail); Microsoft: 20 messages, 20 quarantined "
        "(dkim_fail)",
        3},
    {"198.51.100.20", "shop.example", "local_policy",
        "Yahoo: 50 messages, 50 rejected (local_policy)", 1},
    {"198.51.100.20", "promo.example", "esp_not_aligned",
        "Google: 15 messages, 15 rejected (esp_not_aligned); Microsoft: 10 "
        "messages, 10 quarantined (esp_not_aligned)",
        2},
    {"198.51.100.20", "bank.example", "spf_fail",
        "Google: 20 messages, 20 rejected (spf_fail)", 1},
    {"203.0.113.66", "bank.example", "spf_fail",
        "Yahoo: 9 messages, 9 rejected (spf_fail)", 1},
    {"192.0.2.50", "shop.example", "list_or_esp",
        "Google: 12 messages, none blocked (list_or_esp)", 1},
    {"203.0.113.9", "shop.example", "forwarded",
        "Google: 7 messages, none blocked (forwarded)", 1},
};

#define N_TENANT_PAIRS (sizeof(tenant_pairs) / sizeof(tenant_pairs[0]))

/* sum(count) of a pair's records that failed DMARC or were blocked, with
 * extra as a further condition. */
static long long
pair_sql(sqlite3 *db, const char *ip, const char *from, const char *extra)
{
	char sql[1024];

	snprintf(sql, sizeof(sql),
	    "SELECT ifnull(sum(count), 0)" FROM_RR CUR
	    " AND source_ip = '%s' AND header_from = '%s' AND ((dkim <> "
	    "'pass' AND spf <> 'pass') OR disposition IN ('quarantine', "
	    "'reject'))%s",
	    ip, from, extra);
	return sql_int(db, sql);
}

START_TEST(test_tenants_pair_by_pair)
{
	sqlite3 *db = tenants_db();
	struct dm_report *r = build(NULL, NULL);
	const struct section *s = sec(r, "sources");
	char sql[512];
	size_t i;

	ck_assert_uint_eq(s->n_rows, N_TENANT_PAIRS);
	for (i = 0; i < N_TENANT_PAIRS; i++) {
		const char *ip = tenant_pairs[i].ip, *hf = tenant_pairs[i].from;

		ck_assert_str_eq(strk(r, "sources", i, "source_ip"), ip);
		ck_assert_str_eq(strk(r, "sources", i, "header_from"), hf);
		ck_assert_str_eq(
		    strk(r, "sources", i, "cause"), tenant_pairs[i].cause);
		ck_assert_str_eq(
		    strk(r, "sources", i, "isps_text"), tenant_pairs[i].isps);
		ck_assert_int_eq(numk(r, "sources", i, "messages"),
		    pair_sql(db, ip, hf, ""));
		ck_assert_int_eq(numk(r, "sources", i, "quarantined"),
		    pair_sql(db, ip, hf, " AND disposition = 'quarantine'"));
		ck_assert_int_eq(numk(r, "sources", i, "rejected"),
		    pair_sql(db, ip, hf, " AND disposition = 'reject'"));
		ck_assert_int_eq(numk(r, "sources", i, "dmarc_pass"),
		    pair_sql(
		        db, ip, hf, " AND (dkim = 'pass' OR spf = 'pass')"));
		snprintf(sql, sizeof(sql),
		    "SELECT count(DISTINCT report)" FROM_RR CUR
		    " AND source_ip = '%s' AND header_from = '%s' AND ((dkim "
		    "<> 'pass' AND spf <> 'pass') OR disposition IN "
		    "('quarantine', 'reject'))",
		    ip, hf);
		ck_assert_int_eq(
		    numk(r, "sources", i, "reports"), sql_int(db, sql));
		ck_assert_int_eq(
		    numk(r, "sources", i, "reports"), tenant_pairs[i].reports);
	}
	/* Each customer's explanation names its own domain only. */
	ck_assert_ptr_nonnull(strstr(
	    strk(r, "sources", 0, "fix"), "s2024._domainkey.news.example"));
	ck_assert_ptr_null(
	    strstr(strk(r, "sources", 0, "explanation"), "shop"));
	ck_assert_ptr_nonnull(strstr(strk(r, "sources", 1, "explanation"),
	    "DMARC passed (DKIM or SPF authenticated shop.example)"));
	ck_assert_ptr_null(
	    strstr(strk(r, "sources", 1, "fix"), "DKIM signing"));
	ck_assert_ptr_nonnull(
	    strstr(strk(r, "sources", 4, "fix"), "the mail is forged"));
	ck_assert_ptr_null(strstr(strk(r, "sources", 5, "fix"), "set up DKIM"));
	/* Pairs under their IP: the shared IP first, then by their best pair.
	 */
	ck_assert_uint_eq(s->n_groups, 4);
	ck_assert_str_eq(s->groups[0].heading, "Source IP 198.51.100.20");
	ck_assert_uint_eq(s->groups[1].row0, 4);
	ck_assert_str_eq(s->groups[1].heading, "Source IP 203.0.113.66");
	/* The ISPs' top causes: what blocked most of their mail, the pass that
	 * Yahoo rejected included. */
	ck_assert_str_eq(strk(r, "isps", 0, "isp"), "Google");
	ck_assert_str_eq(strk(r, "isps", 0, "top_cause"), "dkim_fail");
	ck_assert_str_eq(strk(r, "isps", 1, "isp"), "Yahoo");
	ck_assert_str_eq(strk(r, "isps", 1, "top_cause"), "local_policy");
	ck_assert_str_eq(strk(r, "isps", 2, "top_cause"), "dkim_fail");
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

static char *run_explain(const char *ip, const char *reporter, int expect);

static int
count_days(void *ctx, const struct dm_query_day *d, struct dm_error *err)
{
	(void)err;
	*(int64_t *)ctx += d->messages;
	return DM_OK;
}

static int64_t
messages_now(struct dm_query *q)
{
	struct dm_query_filter f = {.from = D_1025, .to = D_1108};
	struct dm_error e;
	int64_t m = 0;

	dm_error_clear(&e);
	ck_assert_msg(
	    dm_query_days(q, &f, count_days, &m, &e) == DM_OK, "%s", e.msg);
	return m;
}

/*
 * Between dm_query_begin and dm_query_end every query reads one snapshot: an
 * ingest committing meanwhile changes none of them (a report's sections once
 * disagreed, the new sources summing more than the overview).
 */
START_TEST(test_query_snapshot)
{
	sqlite3 *db = story_db();
	struct dm_query *q;
	struct dm_error e;
	int64_t before;

	exec(db, "PRAGMA journal_mode = WAL");
	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, db_path, &e), DM_OK);
	before = messages_now(q);
	ck_assert_int_eq(dm_query_begin(q, &e), DM_OK);
	add_report(db, 7, "google.com", "example.com", D_1101 + 6 * DAY,
	    D_1101 + 7 * DAY - 1, "reject");
	add_record(db, 7, "192.0.2.10", 1000, "none", "pass", "pass",
	    "example.com", "example.com");
	end_report(db, 7);
	ck_assert_int_eq(messages_now(q), before);
	dm_query_end(q);
	ck_assert_int_eq(messages_now(q), before + 1000);
	dm_query_close(q);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/*
 * Counts that add up past INT64_MAX (each row alone fits): every sum stops at
 * INT64_MAX instead of failing with SQLite's "integer overflow" or wrapping.
 */
START_TEST(test_report_sums_saturate)
{
	sqlite3 *db = new_db();
	struct dm_report *r;
	const long long big = 4000000000000000000LL;
	char *s;
	int i;

	for (i = 1; i <= 3; i++) {
		add_report(db, i, i == 1 ? "google.com" : "Yahoo! Inc.",
		    "example.com", D_1101 + i * DAY, D_1101 + (i + 1) * DAY - 1,
		    "reject");
		add_record(db, i, "198.51.100.20", big, "reject", "fail",
		    "fail", "example.com", "example.com");
		end_report(db, i);
	}
	r = build(NULL, NULL);
	ck_assert_int_eq(num(r, "overview", 0, 2), INT64_MAX);
	ck_assert_int_eq(num(r, "overview", 3, 2), INT64_MAX);
	ck_assert_int_eq(numk(r, "isps", 0, "messages"), 2 * big); /* Yahoo */
	ck_assert_int_eq(numk(r, "sources", 0, "messages"), INT64_MAX);
	ck_assert_int_eq(numk(r, "domains", 0, "rejected"), INT64_MAX);
	ck_assert_int_eq(numk(r, "daily", 1, "messages"), big);
	dm_report_free(r);
	s = run_explain("198.51.100.20", NULL, DM_OK);
	ck_assert_ptr_nonnull(strstr(s, "9223372036854775807 messages"));
	free(s);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/* ---- Output ---- */

static char *
render(const struct dm_report *r, enum dm_report_format fmt, const char *table,
    int color)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct dm_error e;

	dm_error_clear(&e);
	ck_assert_msg(
	    dm_report_write(r, fmt, table, color, f, &e) == DM_OK, "%s", e.msg);
	fclose(f);
	return buf;
}

/* Joins wrapped continuation lines (indented 5 or more) so phrases can be
 * searched. */
static void
unwrap(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (r[0] == '\n' && strspn(r + 1, " ") >= 5) {
			r += 1 + strspn(r + 1, " ");
			*w++ = ' ';
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

static char *explain_with(const struct dm_report_options *opt, int expect);

static char *
run_explain(const char *ip, const char *reporter, int expect)
{
	struct dm_report_options o = {.from = D_1101,
	    .to = D_1108,
	    .domain = NULL,
	    .reporter = reporter,
	    .ip = ip};

	return explain_with(&o, expect);
}

/* The letters of explain --letter, lines left as written. */
static char *
run_letter(const char *ip, const char *reporter)
{
	struct dm_report_options o = {.from = D_1101,
	    .to = D_1108,
	    .reporter = reporter,
	    .ip = ip,
	    .letter = 1};

	return explain_with(&o, DM_OK);
}

static char *
explain_with(const struct dm_report_options *opt, int expect)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct dm_query *q;
	struct dm_error e;

	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, db_path, &e), DM_OK);
	ck_assert_int_eq(dm_report_explain(q, opt, f, &e), expect);
	dm_query_close(q);
	fclose(f);
	if (expect != DM_OK) {
		free(buf);
		return strdup(e.msg);
	}
	if (!opt->letter)
		unwrap(buf);
	return buf;
}

START_TEST(test_explain_single_ip_and_cidr)
{
	sqlite3 *db = story_db();
	char *s = run_explain("198.51.100.20", "Microsoft", DM_OK);

	ck_assert_ptr_nonnull(
	    strstr(s, "Mail from 198.51.100.20 to Microsoft, 2026-11-01 to "
	              "2026-11-07 (UTC), domain any.\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "Source 198.51.100.20, From example.com: 31 messages, 31 "
	              "failed DMARC, 31 quarantined, 0 rejected\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "  Microsoft: 31 messages, 0 passed DMARC, 2026-11-03 to "
	    "2026-11-05\n    What it did: 0 rejected, 31 quarantined, "
	    "0 not blocked by policy (cause: esp_not_aligned).\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "    Reported in 1 report by Outlook.com: r2\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "Raw results: DKIM pass for esp-mail.example.net "
	    "(selector s1); SPF pass for bmsend.example.net (mfrom)."));
	ck_assert_ptr_nonnull(strstr(s, "  Cause: esp_not_aligned\n"));
	ck_assert_ptr_null(strstr(s, "Google"));
	free(s);
	s = run_explain("198.51.100.0/24", NULL, DM_OK);
	ck_assert_ptr_nonnull(strstr(s,
	    "Source 198.51.100.20, From example.com: 81 messages, 81 failed "
	    "DMARC, 31 quarantined, 50 rejected\n"));
	free(s);
	/* Other spellings of the address (and range) find the stored form. */
	s = run_explain("::ffff:198.51.100.20", NULL, DM_OK);
	ck_assert_ptr_nonnull(strstr(s,
	    "Source 198.51.100.20, From example.com: 81 messages, 81 failed "
	    "DMARC, 31 quarantined, 50 rejected\n"));
	free(s);
	s = run_explain("198.051.100.020", NULL, DM_OK);
	ck_assert_ptr_nonnull(strstr(s,
	    "Source 198.51.100.20, From example.com: 81 messages, 81 failed "
	    "DMARC, 31 quarantined, 50 rejected\n"));
	free(s);
	s = run_explain("::FFFF:198.51.100.0/120", NULL, DM_OK);
	ck_assert_ptr_nonnull(strstr(s,
	    "Source 198.51.100.20, From example.com: 81 messages, 81 failed "
	    "DMARC, 31 quarantined, 50 rejected\n"));
	ck_assert_ptr_null(strstr(s, "192.0.2.10"));
	free(s);
	s = run_explain("2001:db8::/32", NULL, DM_OK);
	ck_assert_ptr_nonnull(
	    strstr(s, "No DMARC report mentions such mail in this period."));
	free(s);
	s = run_explain("203.0.113.5", NULL, DM_OK);
	ck_assert_ptr_nonnull(strstr(s, "Override reason: forwarded."));
	ck_assert_ptr_nonnull(strstr(s, "  Cause: forwarded\n"));
	free(s);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_explain_rejects_bad_ip)
{
	sqlite3 *db = story_db();
	char *s = run_explain("198.51.100.300", NULL, DM_EINVAL);

	ck_assert_str_eq(s, "not an IP address or CIDR range: 198.51.100.300");
	free(s);
	s = run_explain("198.51.100.0/33", NULL, DM_EINVAL);
	ck_assert_str_eq(s, "bad prefix length in 198.51.100.0/33 (0-32)");
	free(s);
	s = run_explain("2001:db8::/", NULL, DM_EINVAL);
	ck_assert_str_eq(s, "bad prefix length in 2001:db8::/ (0-128)");
	free(s);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/*
 * A source whose only failing records count no message (count 0, or an
 * invalid count stored as NULL): explain gives its cause without crashing,
 * and report does not list it as a failing source.
 */
START_TEST(test_zero_count_source)
{
	sqlite3 *db = new_db();
	struct dm_report *r;
	long long rec;
	size_t i;
	char *s;

	add_report(db, 1, "google.com", "example.com", D_1101 + DAY,
	    D_1101 + 2 * DAY - 1, "reject");
	rec = add_record(db, 1, "198.51.100.77", 0, "reject", "fail", "fail",
	    "example.com", "example.com");
	add_auth(db, "spf_result", rec, "example.com", "softfail", "mfrom");
	rec = add_record(db, 1, "198.51.100.77", 5, "reject", "fail", "fail",
	    "example.com", "example.com");
	add_auth(db, "spf_result", rec, "example.com", "softfail", "mfrom");
	exec(db, "UPDATE record SET count = NULL WHERE count = 5");
	end_report(db, 1);
	s = run_explain("198.51.100.77", NULL, DM_OK);
	ck_assert_ptr_nonnull(
	    strstr(s, "Source 198.51.100.77, From example.com: 0 "
	              "messages, 0 failed DMARC, 0 quarantined, "
	              "0 rejected\n"));
	ck_assert_ptr_nonnull(strstr(s, "  Cause: spf_fail\n"));
	ck_assert_ptr_nonnull(strstr(s, "  Why: SPF softfail for example.com"));
	free(s);
	r = build(NULL, NULL);
	for (i = 0; i < sec(r, "sources")->n_rows; i++)
		ck_assert_str_ne(str(r, "sources", i, 0), "198.51.100.77");
	ck_assert_int_eq(num(r, "overview", 0, 2), 0);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_query_open_errors)
{
	struct dm_query *q;
	struct dm_error e;
	sqlite3 *db;

	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, "/nonexistent/x.db", &e), DM_EDB);
	ck_assert_ptr_null(q);
	ck_assert_str_eq(e.msg,
	    "/nonexistent/x.db: cannot open the database: unable to open "
	    "database file");
	ck_assert_str_eq(e.reason, "db_open");
	snprintf(db_path, sizeof(db_path), "/tmp/check_report_XXXXXX");
	close(mkstemp(db_path));
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	exec_file(db, DM_TEST_DATA_DIR "/sql/schema_v1.sql");
	sqlite3_close(db);
	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, db_path, &e), DM_EDB);
	ck_assert_str_eq(e.reason, "db_schema");
	ck_assert_ptr_nonnull(strstr(e.msg,
	    ": not a dmarcstat database with report rollups "
	    "(no such table: rollup_daily); run dmarcstat ingest"));
	unlink(db_path);
}
END_TEST

START_TEST(test_report_rejects_bad_period_and_table)
{
	struct dm_report_options o = {.from = D_1101,
	    .to = D_1101,
	    .domain = NULL,
	    .reporter = NULL,
	    .ip = NULL};
	struct dm_report *r = NULL;
	struct dm_query *q;
	struct dm_error e;
	sqlite3 *db = story_db();
	FILE *f = fopen("/dev/null", "w");

	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, db_path, &e), DM_OK);
	ck_assert_int_eq(dm_report_build(q, &o, &r, &e), DM_EINVAL);
	ck_assert_str_eq(
	    e.msg, "the period must be whole UTC days with from before to");
	o.to = D_1108 + 5;
	ck_assert_int_eq(dm_report_build(q, &o, &r, &e), DM_EINVAL);
	o.to = D_1108;
	ck_assert_int_eq(dm_report_build(q, &o, &r, &e), DM_OK);
	ck_assert_int_eq(
	    dm_report_write(r, DM_REPORT_CSV, "nope", 0, f, &e), DM_EINVAL);
	ck_assert_str_eq(e.msg,
	    "unknown CSV table 'nope': overview, isps, sources, source_isps, "
	    "new_sources, silent_isps, domains, daily, services or dns_checks");
	/* No table: every section in one CSV. */
	ck_assert_int_eq(
	    dm_report_write(r, DM_REPORT_CSV, NULL, 0, f, &e), DM_OK);
	fclose(f);
	dm_report_free(r);
	dm_query_close(q);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_csv_tables_and_quoting)
{
	sqlite3 *db = story_db();
	struct dm_report *r = build(NULL, NULL);
	char *s = render(r, DM_REPORT_CSV, "isps", 0);

	ck_assert_str_eq(s,
	    "period_first_day,period_last_day,isp,messages,dmarc_pass_percent,"
	    "quarantined,rejected,top_cause,org_names\r\n"
	    "2026-11-01,2026-11-07,Google,150,68.7,0,40,esp_not_aligned,"
	    "google.com\r\n"
	    "2026-11-01,2026-11-07,Microsoft,81,61.7,31,0,esp_not_aligned,"
	    "Outlook.com\r\n"
	    "2026-11-01,2026-11-07,Yahoo,30,66.7,0,10,spf_not_aligned,"
	    "Yahoo! Inc.\r\n");
	free(s);
	s = render(r, DM_REPORT_CSV, "overview", 0);
	ck_assert_str_eq(s,
	    "period_first_day,period_last_day,metric,value,previous,change\r\n"
	    "2026-11-01,2026-11-07,messages,261,65,196\r\n"
	    "2026-11-01,2026-11-07,dmarc_pass_percent,66.3,100.0,-33.7\r\n"
	    "2026-11-01,2026-11-07,quarantined,31,0,31\r\n"
	    "2026-11-01,2026-11-07,rejected,50,0,50\r\n");
	free(s);
	/* Every section in one CSV: the union of the columns, the section
	 * first, a section's values under its own columns only. */
	s = render(r, DM_REPORT_CSV, NULL, 0);
	ck_assert_msg(strncmp(s,
	                  "section,period_first_day,period_last_day,metric,"
	                  "value,previous,change,isp,messages,"
	                  "dmarc_pass_percent,quarantined,rejected,top_cause,"
	                  "org_names,source_ip,header_from,",
	                  150) == 0,
	    "%.200s", s);
	ck_assert_ptr_nonnull(strstr(s, "\r\noverview,2026-11-01,2026-11-07,"
	                                "messages,261,65,196,,,,,,,"));
	ck_assert_ptr_nonnull(
	    strstr(s, "\r\nisps,2026-11-01,2026-11-07,,,,,"
	              "Google,150,68.7,0,40,esp_not_aligned,google.com,"));
	free(s);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/* 1 when s is valid UTF-8 with no control character other than \n (and \r, \t
 * if allowed). */
static int
is_bidi(const unsigned char *p)
{
	return (p[0] == 0xd8 && p[1] == 0x9c) ||
	       (p[0] == 0xe2 && p[1] == 0x80 &&
	           (p[2] == 0x8e || p[2] == 0x8f ||
	               (p[2] >= 0xaa && p[2] <= 0xae))) ||
	       (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9);
}

/* As clean_text, and no bidirectional control either: what text, CSV and
 * HTML must hold (JSON keeps them, escaped or not, as values). */
static int clean_text(const char *s, int allow_cr_tab);

static int
clean_bidi_text(const char *s, int allow_cr_tab)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (is_bidi(p))
			return 0;
	}
	return clean_text(s, allow_cr_tab);
}

static int
clean_text(const char *s, int allow_cr_tab)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n = 1, i;

		if (*p == 0x1b || *p == 0x7f ||
		    (*p < 0x20 && *p != '\n' &&
		        !(allow_cr_tab && (*p == '\r' || *p == '\t'))))
			return 0;
		if (*p >= 0x80) {
			if (*p >= 0xc2 && *p <= 0xdf)
				n = 2;
			else if (*p >= 0xe0 && *p <= 0xef)
				n = 3;
			else if (*p >= 0xf0 && *p <= 0xf4)
				n = 4;
			else
				return 0;
			for (i = 1; i < n; i++) {
				if ((p[i] & 0xc0) != 0x80)
					return 0;
			}
			if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
				return 0; /* C1 control */
		}
		p += n;
	}
	return 1;
}

/* Markup, CSV quoting, a newline, C0 controls and an escape sequence, a
 * right-to-left override (U+202E), invalid UTF-8. */
#define HOSTILE                                                                \
	"<script>alert(1)</script>,\"q\"\n\001\033[31mX\xe2\x80\xae\377\376'&"

/*
 * The org_names of a database by rule: unknown names that fold alike are one
 * ISP, named by the one in mixed case with its corporate words cut; known
 * names keep the table's; a name alone is shown as reported; an empty one is
 * "(unknown)"; the list of a row's org_names never holds its separator.
 */
START_TEST(test_isp_names_by_rule)
{
	static const char *const orgs[] = {"Foo Mail, Inc.", "FOO MAIL INC",
	    "foo mail inc.", "Foo-Mail LLC", "Solo Reporter Corp.",
	    "google.com", "Google, Inc.", "", "Bar\037Mail", "BAR MAIL"};
	static const char *const want[] = {"Foo Mail", "Foo Mail", "Foo Mail",
	    "Foo Mail", "Solo Reporter Corp.", "Google", "Google", "(unknown)",
	    "Bar\037Mail", "Bar\037Mail"};
	sqlite3 *db = new_db();
	struct isp_names names;
	struct dm_query *q;
	struct dm_error e;
	struct dm_buf b;
	size_t i, n;

	for (i = 0; i < sizeof(orgs) / sizeof(orgs[0]); i++) {
		add_report(db, (int)i + 1, orgs[i], "example.com", D_1101 + DAY,
		    D_1101 + 2 * DAY - 1, "none");
		add_record(db, (int)i + 1, "192.0.2.1", 1, "none", "fail",
		    "fail", "example.com", "example.com");
		end_report(db, (int)i + 1);
	}
	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, db_path, &e), DM_OK);
	ck_assert_int_eq(dm_isp_names_load(&names, q, &e), DM_OK);
	ck_assert_uint_eq(names.n, sizeof(orgs) / sizeof(orgs[0]));
	for (i = 0; i < sizeof(orgs) / sizeof(orgs[0]); i++)
		ck_assert_str_eq(dm_isp_names_get(&names, orgs[i]), want[i]);
	/* Not loaded: the table's rule alone. */
	ck_assert_str_eq(dm_isp_names_get(&names, "Outlook.com"), "Microsoft");
	ck_assert_str_eq(dm_isp_names_get(&names, "FOO MAIL"), "FOO MAIL");
	dm_buf_init(&b, 1 << 12);
	ck_assert_int_eq(
	    dm_isp_names_orgs(&names, "Foo Mail", "|", &b, &n), DM_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(
	    b.data, "FOO MAIL INC|Foo Mail, Inc.|Foo-Mail LLC|foo mail inc.");
	dm_buf_reset(&b);
	ck_assert_int_eq(
	    dm_isp_names_orgs(&names, "Bar\037Mail", "; ", &b, &n), DM_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(b.data, "BAR MAIL; Bar?Mail");
	dm_buf_free(&b);
	dm_isp_names_free(&names);
	dm_query_close(q);
	finish_db(db);
	unlink(db_path);
}
END_TEST

static sqlite3 *
hostile_db(void)
{
	sqlite3 *db = new_db();
	long long r;

	add_report(db, 1, HOSTILE, HOSTILE, D_1101 + DAY, D_1101 + 2 * DAY - 1,
	    HOSTILE);
	r = add_record(db, 1, "198.51.100.7", 9, "reject", "fail", "fail",
	    HOSTILE, HOSTILE);
	add_auth(db, "dkim_result", r, HOSTILE, "pass", HOSTILE);
	add_auth(db, "spf_result", r, HOSTILE, "pass", HOSTILE);
	add_auth(db, "reason", r, "other", HOSTILE, NULL);
	end_report(db, 1);
	return db;
}

/* Every url( in s names an element of the page itself ("url(#daily-x)", the
 * charts' stripes), never anything to fetch. */
static int
only_local_urls(const char *s)
{
	while ((s = strstr(s, "url(")) != NULL) {
		s += 4;
		if (*s++ != '#')
			return 0;
		s += strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
		               "VWXYZ0123456789_-");
		if (*s != ')')
			return 0;
	}
	return 1;
}

START_TEST(test_hostile_strings_html)
{
	sqlite3 *db = hostile_db();
	struct dm_report *r = build(NULL, NULL);
	char *s = render(r, DM_REPORT_HTML, NULL, 0);

	ck_assert_ptr_null(strstr(s, "<script"));
	ck_assert_ptr_null(strstr(s, "<SCRIPT"));
	ck_assert_ptr_nonnull(strstr(s,
	    "&lt;script&gt;alert(1)&lt;/script&gt;,&quot;q&quot;"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd[31mX\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd&#39;&amp;"));
	ck_assert_msg(clean_bidi_text(s, 0),
	    "HTML holds control characters, bidi controls or invalid UTF-8");
	/* Nothing to fetch: no links, sources, imports or CSS urls. */
	ck_assert_ptr_null(strstr(s, "src="));
	ck_assert_ptr_null(strstr(s, "href="));
	ck_assert_msg(only_local_urls(s), "HTML has a url() to fetch");
	ck_assert_ptr_null(strstr(s, "@import"));
	free(s);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_hostile_strings_json)
{
	sqlite3 *db = hostile_db();
	struct dm_report *r = build(NULL, NULL);
	char *s = render(r, DM_REPORT_JSON, NULL, 0);

	ck_assert_ptr_nonnull(
	    strstr(s, "\"isp\": \"\\u003cscript\\u003ealert(1)\\u003c/script"
	              "\\u003e,\\\"q\\\"\\n\\u0001\\u001b[31mX\xe2\x80\xae"
	              "\\ufffd\\ufffd'"
	              "\\u0026\""));
	ck_assert_ptr_null(strstr(s, "<"));
	ck_assert_msg(
	    clean_text(s, 0), "JSON holds control characters or invalid UTF-8");
	free(s);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_hostile_strings_csv)
{
	sqlite3 *db = hostile_db();
	struct dm_report *r = build(NULL, NULL);
	const char *const *t;

	for (t = dm_report_tables(); *t != NULL; t++) {
		char *s = render(r, DM_REPORT_CSV, *t, 0);

		ck_assert_msg(clean_bidi_text(s, 1),
		    "CSV %s: control characters, bidi controls or invalid "
		    "UTF-8",
		    *t);
		if (strcmp(*t, "isps") == 0)
			ck_assert_str_eq(s,
			    "period_first_day,period_last_day,"
			    "isp,messages,dmarc_pass_percent,quarantined,"
			    "rejected,"
			    "top_cause,org_names\r\n2026-11-01,2026-11-07,"
			    "\"<script>alert(1)</"
			    "script>,\"\"q\"\"\n?"
			    "?[31mX\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd'&\",9,"
			    "0.0,0,9,"
			    "local_policy,"
			    "\"<script>alert(1)</"
			    "script>,\"\"q\"\"\n?"
			    "?[31mX\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd'&"
			    "\"\r\n");
		free(s);
	}
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_hostile_strings_text)
{
	sqlite3 *db = hostile_db();
	struct dm_report *r = build(NULL, NULL);
	char *s = render(r, DM_REPORT_TEXT, NULL, 0), *line;

	ck_assert_msg(clean_bidi_text(s, 0),
	    "text holds control characters, bidi controls or invalid UTF-8");
	ck_assert_ptr_nonnull(
	    strstr(s, "<script>alert(1)</script>,\"q\"???[31mX\xef\xbf\xbd"
	              "\xef\xbf\xbd\xef\xbf\xbd'&"));
	for (line = s; *line != '\0';
	     line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
		char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char *one = strndup(line, n);

		ck_assert_msg(
		    dm_text_width(one) <= 100, "line wider than 100: %s", one);
		free(one);
	}
	free(s);
	s = render(r, DM_REPORT_TEXT, NULL, 1);
	ck_assert_ptr_nonnull(strstr(s, "\033[1mOverview\033[0m"));
	ck_assert_ptr_nonnull(strstr(s, "\033[31m"));
	free(s);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/* ---- The multi-tenant fixture in every format ---- */

/* The CSV line of a pair: its counts as SQL gives them, then its cause. */
static void
csv_pair(sqlite3 *db, const char *csv, size_t i)
{
	const char *ip = tenant_pairs[i].ip, *hf = tenant_pairs[i].from;
	char want[512];

	snprintf(want, sizeof(want),
	    "\r\n2026-11-01,2026-11-07,%s,%s,%lld,%lld,%lld,%lld,", ip, hf,
	    pair_sql(db, ip, hf, ""),
	    pair_sql(db, ip, hf, " AND (dkim = 'pass' OR spf = 'pass')"),
	    pair_sql(db, ip, hf, " AND disposition = 'quarantine'"),
	    pair_sql(db, ip, hf, " AND disposition = 'reject'"));
	ck_assert_msg(strstr(csv, want) != NULL, "CSV lacks %s", want + 2);
	snprintf(want, sizeof(want), ",%s,2026-11-0", tenant_pairs[i].cause);
	ck_assert_ptr_nonnull(strstr(strstr(csv, want - 0), want));
}

static void
json_pair(sqlite3 *db, const char *json, size_t i)
{
	const char *ip = tenant_pairs[i].ip, *hf = tenant_pairs[i].from;
	char want[512];
	const char *at;

	snprintf(want, sizeof(want),
	    "{\"source_ip\": \"%s\", \"header_from\": \"%s\", \"messages\": "
	    "%lld, \"dmarc_pass\": %lld, \"quarantined\": %lld, \"rejected\": "
	    "%lld,",
	    ip, hf, pair_sql(db, ip, hf, ""),
	    pair_sql(db, ip, hf, " AND (dkim = 'pass' OR spf = 'pass')"),
	    pair_sql(db, ip, hf, " AND disposition = 'quarantine'"),
	    pair_sql(db, ip, hf, " AND disposition = 'reject'"));
	ck_assert_msg((at = strstr(json, want)) != NULL, "JSON lacks %s", want);
	snprintf(
	    want, sizeof(want), "\"cause\": \"%s\"", tenant_pairs[i].cause);
	ck_assert_ptr_nonnull(strstr(at, want));
}

START_TEST(test_tenants_every_format)
{
	sqlite3 *db = tenants_db();
	struct dm_report *r = build(NULL, NULL);
	char *text = render(r, DM_REPORT_TEXT, NULL, 0);
	char *csv = render(r, DM_REPORT_CSV, "sources", 0);
	char *isps = render(r, DM_REPORT_CSV, "source_isps", 0);
	char *json = render(r, DM_REPORT_JSON, NULL, 0);
	char *html = render(r, DM_REPORT_HTML, NULL, 0);
	size_t i;

	for (i = 0; i < N_TENANT_PAIRS; i++) {
		csv_pair(db, csv, i);
		json_pair(db, json, i);
	}
	/* One block per IP listing each customer with its own cause. */
	ck_assert_ptr_nonnull(strstr(text, "\nSource IP 198.51.100.20\n"
	                                   "  news.example         75     20   "
	                                   "     55       75        0         "
	                                   "0         0  dkim_fail\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n  shop.example         50      0 "
	                                   "       50       50        0        "
	                                   "50        50  local_policy\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nSource IP 192.0.2.50\n  "
	                                   "shop.example         12"));
	ck_assert_ptr_nonnull(strstr(isps,
	    "period_first_day,period_last_day,source_ip,header_from,isp,"
	    "messages,quarantined,rejected,cause\r\n"
	    "2026-11-01,2026-11-07,198.51.100.20,news.example,Google,30,0,30,"
	    "dkim_fail\r\n"
	    "2026-11-01,2026-11-07,198.51.100.20,news.example,Yahoo,25,0,25,"
	    "dkim_fail\r\n"
	    "2026-11-01,2026-11-07,198.51.100.20,news.example,Microsoft,20,20,"
	    "0,"
	    "dkim_fail\r\n"
	    "2026-11-01,2026-11-07,198.51.100.20,shop.example,Yahoo,50,0,50,"
	    "local_policy\r\n"));
	ck_assert_ptr_nonnull(
	    strstr(json, "\"isps\": [{\"isp\": \"Yahoo\", \"messages\": 50, "
	                 "\"quarantined\": "
	                 "0, \"rejected\": 50, \"cause\": \"local_policy\"}]"));
	ck_assert_ptr_nonnull(strstr(html,
	    "<tr class=\"group\"><th colspan=\"9\">Source IP "
	    "198.51.100.20</th></tr>\n<tr><td>news.example</td><td "
	    "class=\"n\">75</td><td class=\"n bad\">20</td><td class=\"n "
	    "bad\">55</td>"));
	ck_assert_ptr_nonnull(strstr(html, "<td>local_policy</td>"));
	free(text);
	free(csv);
	free(isps);
	free(json);
	free(html);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_tenants_by_domain)
{
	sqlite3 *db = tenants_db();
	struct dm_report_options o = {
	    .from = D_1101, .to = D_1108, .by_domain = 1};
	struct dm_report *r;
	struct dm_query *q;
	struct dm_error e;
	const struct section *s;
	char *json, *text;

	dm_error_clear(&e);
	ck_assert_int_eq(dm_query_open(&q, db_path, &e), DM_OK);
	ck_assert_int_eq(dm_report_build(q, &o, &r, &e), DM_OK);
	dm_query_close(q);
	s = sec(r, "sources");
	/* Pages by blocked mail: news.example 75, shop.example 50,
	 * bank.example 29, promo.example 25. */
	ck_assert_uint_eq(s->n_groups, 4);
	ck_assert_str_eq(s->groups[0].heading,
	    "From domain news.example: 75 messages, 0.0 % passed DMARC, 20 "
	    "quarantined, 55 rejected");
	ck_assert_ptr_nonnull(strstr(s->groups[1].heading, "shop.example: "));
	ck_assert_str_eq(strk(r, "sources", 1, "header_from"), "shop.example");
	ck_assert_str_eq(strk(r, "sources", 1, "cause"), "local_policy");
	ck_assert_str_eq(strk(r, "sources", 2, "source_ip"), "192.0.2.50");
	ck_assert_str_eq(strk(r, "sources", 3, "source_ip"), "203.0.113.9");
	ck_assert_ptr_nonnull(strstr(s->groups[2].heading, "bank.example: "));
	ck_assert_str_eq(strk(r, "sources", 5, "source_ip"), "203.0.113.66");
	json = render(r, DM_REPORT_JSON, NULL, 0);
	ck_assert_ptr_nonnull(strstr(json,
	    "{\"header_from\": \"news.example\", \"policy_domain\": "
	    "\"shop.example\""));
	ck_assert_ptr_nonnull(strstr(json,
	    "\"sources\": [{\"source_ip\": \"198.51.100.20\", \"header_from\": "
	    "\"news.example\", \"messages\": 75,"));
	ck_assert_ptr_nonnull(strstr(json, "\"more_sources\": 0}"));
	ck_assert_ptr_nonnull(strstr(json, "\"by_domain\": true"));
	text = render(r, DM_REPORT_TEXT, NULL, 0);
	ck_assert_ptr_nonnull(strstr(text,
	    "\nFrom domain bank.example: 29 messages, 0.0 % passed DMARC, 0 "
	    "quarantined, 29 rejected\n  198.51.100.20"));
	free(json);
	free(text);
	dm_report_free(r);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_tenants_explain)
{
	sqlite3 *db = tenants_db();
	char *s = run_explain("198.51.100.20", NULL, DM_OK);

	/* explain counts all the pair's mail, passed or not. */
	ck_assert_ptr_nonnull(strstr(s,
	    "Source 198.51.100.20, From shop.example: 150 messages, 0 failed "
	    "DMARC, 0 quarantined, 50 rejected\n  Cause: local_policy\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "  Google: 100 messages, 100 passed DMARC, 2026-11-02\n    What it "
	    "did: 0 rejected, 0 quarantined, 100 not blocked by policy (cause: "
	    "pass).\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "  Yahoo: 50 messages, 50 passed DMARC, 2026-11-02\n    What it "
	    "did: 50 rejected, 0 quarantined, 0 not blocked by policy (cause: "
	    "local_policy).\n    Reported in 1 report by Yahoo! Inc.: r2\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "Source 198.51.100.20, From news.example: 75 messages, 75 failed "
	    "DMARC, 20 quarantined, 55 rejected\n  Cause: dkim_fail\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "- 20 messages, disposition quarantine, 2026-11-03 to 2026-11-04 "
	    "(dkim_fail). Envelope from bounce.esp.example, to example.org. "
	    "Aligned (DMARC) results: DKIM fail, SPF fail. Raw results: DKIM "
	    "fail for news.example (selector s2024); SPF pass for "
	    "bounce.esp.example (mfrom)."));
	/* Nothing of another source. */
	ck_assert_ptr_null(strstr(s, "192.0.2.50"));
	ck_assert_ptr_null(strstr(s, "lists.example.org"));
	free(s);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/* The figures a letter gives for one ISP, taken by SQL over the records. */
static void
letter_figures(sqlite3 *db, const char *letter, const char *org)
{
	char sql[512], want[256];
	const char *cond = " AND source_ip = '198.51.100.20' AND org_name = ";

	snprintf(sql, sizeof(sql), "SELECT sum(count)" FROM_RR CUR "%s'%s'",
	    cond, org);
	snprintf(
	    want, sizeof(want), "  Messages:        %lld\n", sql_int(db, sql));
	ck_assert_msg(strstr(letter, want) != NULL, "%s: %s", org, want);
	snprintf(sql, sizeof(sql),
	    "SELECT ifnull(sum(count), 0)" FROM_RR CUR
	    "%s'%s' AND disposition = 'reject'",
	    cond, org);
	snprintf(
	    want, sizeof(want), "  Rejected:        %lld\n", sql_int(db, sql));
	ck_assert_msg(strstr(letter, want) != NULL, "%s: %s", org, want);
	snprintf(sql, sizeof(sql),
	    "SELECT ifnull(sum(count), 0)" FROM_RR CUR
	    "%s'%s' AND disposition = 'quarantine'",
	    cond, org);
	snprintf(
	    want, sizeof(want), "  Quarantined:     %lld\n", sql_int(db, sql));
	ck_assert_msg(strstr(letter, want) != NULL, "%s: %s", org, want);
	snprintf(sql, sizeof(sql),
	    "SELECT ifnull(sum(count), 0)" FROM_RR CUR
	    "%s'%s' AND (dkim = 'pass' OR spf = 'pass')",
	    cond, org);
	snprintf(
	    want, sizeof(want), "  Passed DMARC:    %lld (", sql_int(db, sql));
	ck_assert_msg(strstr(letter, want) != NULL, "%s: %s", org, want);
	snprintf(sql, sizeof(sql),
	    "SELECT count(DISTINCT report)" FROM_RR CUR "%s'%s'", cond, org);
	snprintf(want, sizeof(want), "  Reports:         %lld, from %s\n",
	    sql_int(db, sql), org);
	ck_assert_msg(strstr(letter, want) != NULL, "%s: %s", org, want);
}

START_TEST(test_tenants_letter)
{
	sqlite3 *db = tenants_db();
	char *s = run_letter("198.51.100.20", NULL);
	char *yahoo = strstr(s, "To: the postmaster team of Yahoo\n");
	char *google = strstr(s, "To: the postmaster team of Google\n");
	char *ms = strstr(s, "To: the postmaster team of Microsoft\n");

	/* Most blocked first: Yahoo 75, Google 65, Microsoft 30. */
	ck_assert_ptr_nonnull(yahoo);
	ck_assert_ptr_nonnull(google);
	ck_assert_ptr_nonnull(ms);
	ck_assert(yahoo < google && google < ms);
	google[-1] = ms[-1] = '\0'; /* each letter on its own */
	letter_figures(db, yahoo, "Yahoo! Inc.");
	letter_figures(db, google, "google.com");
	letter_figures(db, ms, "Outlook.com");
	ck_assert_ptr_nonnull(strstr(yahoo,
	    "  Of the 75 quarantined or rejected, 50 passed DMARC (aligned SPF "
	    "or DKIM).\n  Reports:         1, from Yahoo! Inc.\n  Report ids: "
	    "     r2\n"));
	ck_assert_ptr_nonnull(strstr(yahoo,
	    "  Sending IP addresses: 198.51.100.20\n  From domains: "
	    "news.example, shop.example\n"));
	ck_assert_ptr_nonnull(strstr(yahoo,
	    "  - 198.51.100.20, From shop.example: 50 messages, 50 passed "
	    "DMARC "
	    "(aligned DKIM 50, aligned SPF 0),\n    0 quarantined, 50 "
	    "rejected. "
	    "DKIM: shop.example (selector s1) pass. SPF: bounce.esp.example "
	    "pass.\n"));
	/* Yahoo blocked mail that failed DMARC too: said before the letter. */
	ck_assert_ptr_nonnull(
	    strstr(s, "(Before sending: 25 of the 75 messages "
	              "Yahoo quarantined or rejected failed "
	              "DMARC."));
	free(s);
	s = run_letter("203.0.113.9", "Google");
	ck_assert_ptr_nonnull(strstr(s,
	    "\nGoogle did not quarantine or reject any of this mail in the "
	    "period: there is nothing to ask its postmaster to review.\n"));
	free(s);
	finish_db(db);
	unlink(db_path);
}
END_TEST

START_TEST(test_hostile_strings_letter)
{
	sqlite3 *db = hostile_db();
	char *s = run_letter("198.51.100.7", NULL);

	ck_assert_msg(clean_bidi_text(s, 0),
	    "letter holds control characters, bidi controls or invalid UTF-8");
	ck_assert_ptr_nonnull(
	    strstr(s, "To: the postmaster team of "
	              "<script>alert(1)</script>,\"q\"???[31mX"
	              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd'&\n"));
	free(s);
	finish_db(db);
	unlink(db_path);
}
END_TEST

/*
 * Every output of the multi-tenant fixture (the report in each format, the
 * explanation, the letters) made in one go, or the first error's code with
 * its message in *msg (the caller frees either).
 */
static int
all_outputs(char **out, char **msg)
{
	static const enum dm_report_format fmts[] = {
	    DM_REPORT_TEXT, DM_REPORT_JSON, DM_REPORT_HTML, DM_REPORT_CSV};
	struct dm_report_options o = {.from = D_1101, .to = D_1108};
	struct dm_query *q = NULL;
	struct dm_report *r = NULL;
	struct dm_error e;
	size_t len = 0, i;
	FILE *f = open_memstream(out, &len);
	int rc;

	dm_error_clear(&e);
	rc = dm_query_open(&q, db_path, &e);
	if (rc == DM_OK)
		rc = dm_report_build(q, &o, &r, &e);
	for (i = 0; rc == DM_OK && i < sizeof(fmts) / sizeof(fmts[0]); i++)
		rc = dm_report_write(r, fmts[i],
		    fmts[i] == DM_REPORT_CSV ? "sources" : NULL, 0, f, &e);
	o.ip = "198.51.100.0/24";
	if (rc == DM_OK)
		rc = dm_report_explain(q, &o, f, &e);
	o.letter = 1;
	if (rc == DM_OK)
		rc = dm_report_explain(q, &o, f, &e);
	dm_report_free(r);
	dm_query_close(q);
	fclose(f);
	*msg = strdup(e.msg);
	return rc;
}

/*
 * The Nth allocation fails, for every N until a run needs no more: each
 * failing run returns DM_ENOMEM with "out of memory" and frees what it took
 * (LeakSanitizer checks each forked test in the sanitizer build); the run
 * that succeeds writes what a run without failures writes.
 */
START_TEST(test_report_out_of_memory)
{
	char *want, *got, *msg;
	long n, left;
	int rc;

	sqlite3_close(tenants_db());
	ck_assert_int_eq(all_outputs(&want, &msg), DM_OK);
	free(msg);
	ck_assert_ptr_nonnull(strstr(want, "To: the postmaster team of Yahoo"));
	for (n = 0;; n++) {
		dm_mem_fail_after(n);
		rc = all_outputs(&got, &msg);
		left = dm_mem_fail_after(-1);
		if (rc != DM_OK)
			ck_assert_msg(rc == DM_ENOMEM &&
			                  strstr(msg, "out of memory") != NULL,
			    "allocation %ld failing: rc %d: %s", n, rc, msg);
		else
			ck_assert_str_eq(got, want);
		free(got);
		free(msg);
		if (rc == DM_OK && left > 0)
			break;
	}
	ck_assert_int_gt(n, 20);
	free(want);
}
END_TEST

/* ---- Charts ---- */

START_TEST(test_chart_split_never_paints_failures_as_pass)
{
	int64_t v[DM_CAT_COUNT];

	/* p=none: 30 passed, 20 failed and were not blocked, 50 rejected. */
	dm_chart_split(100, 30, 0, 50, 0, v);
	ck_assert_int_eq(v[DM_CAT_PASS], 30);
	ck_assert_int_eq(v[DM_CAT_OPEN], 20);
	ck_assert_int_eq(v[DM_CAT_QUARANTINED], 0);
	ck_assert_int_eq(v[DM_CAT_REJECTED], 50);
	/* All passed, two quarantined anyway: blocked mail is blocked. */
	dm_chart_split(10, 10, 2, 0, 2, v);
	ck_assert_int_eq(v[DM_CAT_PASS], 8);
	ck_assert_int_eq(v[DM_CAT_OPEN], 0);
	ck_assert_int_eq(v[DM_CAT_QUARANTINED], 2);
	/* Yahoo of the issue: 28.5 % pass, nothing blocked. */
	dm_chart_split(1000, 285, 0, 0, 0, v);
	ck_assert_int_eq(v[DM_CAT_PASS], 285);
	ck_assert_int_eq(v[DM_CAT_OPEN], 715);
	/* On one day: 60 passed, 20 of them rejected (local policy); of the
	 * 40 that failed, 10 were quarantined and 30 delivered.  Without
	 * blocked_pass, min(60, 70 unblocked) = 60 was drawn as pass: 20 of
	 * the failures in the pass colour. */
	dm_chart_split(100, 60, 10, 20, 20, v);
	ck_assert_int_eq(v[DM_CAT_PASS], 40);
	ck_assert_int_eq(v[DM_CAT_OPEN], 30);
	ck_assert_int_eq(v[DM_CAT_QUARANTINED], 10);
	ck_assert_int_eq(v[DM_CAT_REJECTED], 20);
	/* A negative blocked count (a hostile report) is no count. */
	dm_chart_split(10, 4, 0, 0, -3, v);
	ck_assert_int_eq(v[DM_CAT_PASS], 4);
	ck_assert_int_eq(v[DM_CAT_OPEN], 6);
	/* Sums that do not add up (a report's rounding) never go negative. */
	dm_chart_split(5, 9, 4, 3, 0, v);
	ck_assert_int_eq(v[DM_CAT_PASS], 0);
	ck_assert_int_eq(v[DM_CAT_OPEN], 0);
	ck_assert_int_eq(v[DM_CAT_QUARANTINED], 4);
	ck_assert_int_eq(v[DM_CAT_REJECTED], 3);
	ck_assert_ptr_null(dm_chart_cat(DM_CAT_COUNT));
	ck_assert_str_eq(dm_chart_cat(DM_CAT_OPEN)->name,
	    "DMARC fail, not blocked by policy");
}
END_TEST

START_TEST(test_chart_nice_max)
{
	static const int64_t in[] = {0, 1, 2, 3, 7, 9, 10, 11, 61, 999, 1999,
	    2001, 8001, 10001, INT64_MAX};
	static const int64_t out[] = {2, 2, 2, 4, 8, 10, 10, 20, 80, 1000, 2000,
	    4000, 10000, 20000, INT64_MAX};
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		ck_assert_int_eq(dm_chart_nice_max(in[i]), out[i]);
}
END_TEST

/* At 7, 90, 366 and 1,100 points (and one, and 5,000): bars at least the
 * minimum width apart by a gap, labels at least their width apart, and no
 * more thinned than that takes. */
START_TEST(test_chart_axis_any_length)
{
	static const size_t n[] = {1, 7, 90, 366, 1100, 5000};
	const long label_w = dm_chart_text_width("2026-11-01", 11);
	size_t i;

	ck_assert_int_eq(label_w, 75);
	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		struct dm_chart_axis a;

		dm_chart_axis(n[i], 640, label_w, &a);
		ck_assert_int_ge(a.bar, DM_CHART_MIN_BAR);
		ck_assert_int_lt(a.bar, a.step);
		ck_assert_int_ge(a.plot_w, 640);
		ck_assert_int_ge(a.plot_w, (long)n[i] * a.step);
		ck_assert_int_ge(a.every * a.step, label_w + 10);
		ck_assert_int_lt((a.every - 1) * a.step, label_w + 10);
	}
}
END_TEST

/* The numbers of attribute name in the SVG text from s on, up to end. */
static long
svg_attr(const char *s, const char *name)
{
	const char *at = strstr(s, name);

	ck_assert_ptr_nonnull(at);
	return strtol(at + strlen(name), NULL, 10);
}

/* The legend at s lists the four categories in their order. */
static void
legend_in_order(const char *s)
{
	const char *end = strstr(s, "</g>"), *prev = s;
	size_t i;
	char want[64];

	for (i = 0; i < DM_CAT_COUNT; i++) {
		const char *at;

		snprintf(
		    want, sizeof(want), ">%s</text>", dm_chart_cat(i)->name);
		at = strstr(prev, want);
		ck_assert_msg(at != NULL && at < end, "legend lacks %s", want);
		prev = at;
	}
}

/* A series chart as text at any length: every bar at least the minimum wide
 * and a pixel high; x labels start at least their width apart; one legend
 * of the four categories. */
START_TEST(test_chart_series_svg)
{
	static const size_t n[] = {7, 90, 366, 1100};
	size_t k;

	for (k = 0; k < sizeof(n) / sizeof(n[0]); k++) {
		int64_t(*v)[DM_CAT_COUNT] = calloc(n[k], sizeof(*v));
		char(*lab)[16] = calloc(n[k], sizeof(*lab));
		const char **ptr = calloc(n[k], sizeof(*ptr));
		struct dm_chart_panel p = {NULL, NULL};
		struct dm_chart c = {.id = "t", .label = "test"};
		struct out o;
		const char *at;
		long last = -1000, bars = 0, labels = 0;
		size_t i;

		for (i = 0; i < n[k]; i++) {
			snprintf(lab[i], sizeof(lab[i]), "2026-%02zu-%02zu",
			    i / 28 % 12 + 1, i % 28 + 1);
			ptr[i] = lab[i];
			/* A large pass, a single rejection: both drawn. */
			v[i][DM_CAT_PASS] = 100000 + (int64_t)i;
			v[i][DM_CAT_REJECTED] = 1;
		}
		p.v = (const int64_t(*)[DM_CAT_COUNT])v;
		c.labels = c.tips = ptr;
		c.n = n[k];
		c.panels = &p;
		c.n_panels = 1;
		dm_out_init(&o);
		dm_chart_series(&o, &c);
		ck_assert_int_eq(o.rc, DM_OK);
		at = strstr(o.b.data, "<g class=\"legend\">");
		ck_assert_ptr_nonnull(at);
		ck_assert_ptr_null(strstr(at + 1, "<g class=\"legend\">"));
		legend_in_order(at);
		at = strstr(at, "</g>");
		while ((at = strstr(at, "<rect data-cat=")) != NULL) {
			ck_assert_int_ge(
			    svg_attr(at, "width=\""), DM_CHART_MIN_BAR);
			ck_assert_int_ge(svg_attr(at, "height=\""), 1);
			bars++;
			at++;
		}
		ck_assert_int_eq(bars, 2 * (long)n[k]);
		at = o.b.data;
		while ((at = strstr(at, "text-anchor=\"start\"")) != NULL) {
			const char *x = at;

			while (strncmp(x, "<text x=\"", 9) != 0)
				x--;
			if (svg_attr(x, "y=\"") > 30) { /* not the legend */
				ck_assert_int_ge(svg_attr(x, "x=\"") - last,
				    dm_chart_text_width(lab[0], 11) + 10);
				last = svg_attr(x, "x=\"");
				labels++;
			}
			at++;
		}
		/* Every every-th point, but maybe the last one. */
		ck_assert_int_ge(
		    labels, ((long)n[k] + c.axis.every - 1) / c.axis.every - 1);
		ck_assert_int_eq(
		    svg_attr(o.b.data, "width=\""), 56 + c.axis.plot_w + 16);
		dm_out_free(&o);
		free(ptr);
		free(lab);
		free(v);
	}
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc_causes = tcase_create("causes"),
	      *tc_names = tcase_create("names");
	TCase *tc_numbers = tcase_create("numbers"),
	      *tc_output = tcase_create("output");
	/* Every output again for each allocation of one run: minutes under
	   the sanitizers on a loaded machine. */
	TCase *tc_oom = tcase_create("oom");

	tcase_add_test(tc_causes, test_cause_pass);
	tcase_add_test(tc_causes, test_cause_passed_but_blocked);
	tcase_add_test(tc_causes, test_cause_forwarded);
	tcase_add_test(tc_causes, test_cause_mailing_list);
	tcase_add_test(tc_causes, test_cause_local_policy);
	tcase_add_test(tc_causes, test_cause_temperror);
	tcase_add_test(tc_causes, test_cause_permerror);
	tcase_add_test(tc_causes, test_cause_esp_not_aligned);
	tcase_add_test(tc_causes, test_cause_spf_not_aligned);
	tcase_add_test(tc_causes, test_cause_spf_fail);
	tcase_add_test(tc_causes, test_cause_dkim_not_aligned);
	tcase_add_test(tc_causes, test_cause_dkim_fail);
	tcase_add_test(tc_causes, test_cause_list_or_esp);
	tcase_add_test(tc_causes, test_cause_no_dkim);
	tcase_add_test(tc_causes, test_cause_unknown);
	tcase_add_test(tc_causes, test_cause_not_enforced);
	tcase_add_test(tc_causes, test_cause_strict_alignment);
	tcase_add_test(tc_causes, test_cause_names_and_bad_code);
	tcase_add_test(tc_causes, test_org_domain);
	tcase_add_test(tc_causes, test_org_domain_psl);
	tcase_add_test(tc_causes, test_cause_psl_alignment);
	tcase_add_test(tc_names, test_isp_names);
	tcase_add_test(tc_names, test_isp_names_folded);
	tcase_add_test(tc_names, test_isp_names_by_rule);
	tcase_add_test(tc_names, test_text_width_counts_columns);
	tcase_add_test(tc_names, test_text_unprintable_is_replaced);
	tcase_add_test(tc_names, test_parse_time);
	tcase_add_test(tc_names, test_bucket_of_period);
	tcase_add_test(tc_names, test_bucket_weeks);
	tcase_add_test(tc_names, test_bucket_months);
	tcase_add_test(tc_numbers, test_report_overview_matches_sql);
	tcase_add_test(tc_numbers, test_report_isps_match_sql);
	tcase_add_test(tc_numbers, test_report_sources_match_sql);
	tcase_add_test(tc_numbers, test_report_daily_spreads_multi_day_reports);
	tcase_add_test(tc_numbers, test_report_series_weeks);
	tcase_add_test(tc_numbers, test_report_series_months);
	tcase_add_test(tc_numbers, test_report_filters);
	tcase_add_test(tc_numbers, test_tenants_pair_by_pair);
	tcase_add_test(tc_numbers, test_query_snapshot);
	tcase_add_test(tc_numbers, test_report_sums_saturate);
	tcase_add_test(tc_numbers, test_explain_single_ip_and_cidr);
	tcase_add_test(tc_numbers, test_explain_rejects_bad_ip);
	tcase_add_test(tc_numbers, test_zero_count_source);
	tcase_add_test(tc_numbers, test_query_open_errors);
	tcase_add_test(tc_numbers, test_report_rejects_bad_period_and_table);
	tcase_add_test(
	    tc_output, test_chart_split_never_paints_failures_as_pass);
	tcase_add_test(tc_output, test_chart_nice_max);
	tcase_add_test(tc_output, test_chart_axis_any_length);
	tcase_add_test(tc_output, test_chart_series_svg);
	tcase_add_test(tc_output, test_csv_tables_and_quoting);
	tcase_add_test(tc_output, test_hostile_strings_html);
	tcase_add_test(tc_output, test_hostile_strings_json);
	tcase_add_test(tc_output, test_hostile_strings_csv);
	tcase_add_test(tc_output, test_hostile_strings_text);
	tcase_add_test(tc_output, test_hostile_strings_letter);
	tcase_add_test(tc_output, test_tenants_every_format);
	tcase_add_test(tc_output, test_tenants_by_domain);
	tcase_add_test(tc_output, test_tenants_explain);
	tcase_add_test(tc_output, test_tenants_letter);
	suite_add_tcase(s, tc_causes);
	suite_add_tcase(s, tc_names);
	suite_add_tcase(s, tc_numbers);
	tcase_add_test(tc_oom, test_report_out_of_memory);
	tcase_set_timeout(tc_oom, 540);
	suite_add_tcase(s, tc_output);
	suite_add_tcase(s, tc_oom);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
