/*
 * cmd_report.c - `dmarcstat report` and `dmarcstat explain`: options, the
 * period, opening the database read-only, and exit codes.  The work is
 * report/'s (report/report.h); with --mail-to, its text, HTML and CSV go into
 * one mail that mail/ builds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "dns.h"
#include "i18n.h"
#include "mail.h"
#include "query.h"
#include "report.h"

struct rargs {
	const char *db, *last, *from, *to, *now, *format, *table, *output, *top;
	const char *by;
	struct dm_report_options opt;
	enum dm_report_format fmt;
	struct dm_cli_dns dnsopt;
	struct dm_dns *dns; /* the sending services (and DNS for checks) */
	struct dm_dns_geo_buf geo; /* geo_of's strings */
	int check_dns;
	int all; /* --all: the period is the database's dated reports */
	enum dm_check_status worst; /* of the checks made (--check-dns) */
	struct dm_cli_mail mail;    /* --mail-to and its kin */
	int mailing;                /* --mail-to given */
	int mail_status;            /* sendmail's exit status */
};

static void
report_usage(FILE *f)
{
	fputs(
	    _("usage: dmarcstat report [--db FILE] [--last 7d | --from "
	      "DAY [--to DAY] | --all]\n"
	      "                        [--domain D] [--reporter R] "
	      "[--by domain|service] [--top N]\n"
	      "                        [--format text|csv|json|html] "
	      "[--table NAME] [-o FILE]\n"
	      "                        [--mail-to ADDR[,ADDR...] [--mail-from "
	      "ADDR] [--subject TEXT]\n"
	      "                         [--sendmail[=PATH]]]\n\n"
	      "Deliverability report: overview, ISPs, failing sources "
	      "(source IP and From\n"
	      "domain) with cause and fix, new sources, ISPs fallen "
	      "silent, From domains\n"
	      "with their policy, daily series.\n"
	      "  --last Nd      the last N full UTC days (default: 7d)\n"
	      "  --from DAY     first day (YYYY-MM-DD, UTC)\n"
	      "  --to DAY       end of the period, exclusive: the day "
	      "after the last day\n"
	      "                 (default: today, so the period ends with "
	      "yesterday)\n"
	      "  --all          from the first to the last day of the dated "
	      "reports stored\n"
	      "  --domain D     only mail whose policy domain or From "
	      "domain is D\n"
	      "  --reporter R   only reports of ISP R (\"Yahoo\") or "
	      "org_name R (\"AOL\")\n"
	      "  --by domain    failing sources per From domain, a page "
	      "each, most blocked\n"
	      "                 first (also --by-domain)\n"
	      "  --by service   failing sources per sending service (by "
	      "the PTR name that\n"
	      "                 `dmarcstat enrich` stored, else by the DKIM "
	      "or SPF domain), with\n"
	      "                 each service's messages, DMARC pass, "
	      "quarantined and rejected\n"
	      "  --top N        rows listed per section (default 100, at "
	      "most 1000); the\n"
	      "                 rest are summed as \"and N more\"\n"
	      "  --format F     text (default), csv, json or html\n"
	      "  --table NAME   CSV: only that section (overview, isps, "
	      "sources, source_isps,\n"
	      "                 new_sources, silent_isps, domains, daily, "
	      "services (with\n"
	      "                 --by service) or dns_checks (with "
	      "--check-dns));"
	      " without it,\n"
	      "                 every section in one CSV with a leading "
	      "\"section\" column\n"
	      "  -o FILE        write to FILE instead of standard output\n"
	      "  --db FILE      database (default: $DMARCSTAT_DB, else\n"
	      "                 $XDG_DATA_HOME/dmarcstat/dmarcstat.db)\n"
	      "  --check-dns    check, now, the DNS records of the From "
	      "domains of the failing\n"
	      "                 sources shown (as 'dmarcstat check'): is "
	      "each fix in place?\n"
	      "  --lang L       language of the text: en or ja (default: the "
	      "locale's, as\n"
	      "                 LANG=ja_JP.UTF-8; JSON keys, CSV headers and "
	      "cause codes stay\n"
	      "                 English)\n"),
	    f);
	fputs(_(DM_CLI_DNS_HELP), f);
	fputs(DM_CLI_MAIL_HELP
	    "                 (the mail: the text report, the HTML report "
	    "and the CSV report\n"
	    "                 attached as dmarc-FIRST_LAST.csv)\n",
	    f);
	fputs(_("\nExit status: 0 success, 1 output could not be written, 2 "
	        "usage error,\n"
	        "3 database cannot be opened.  With --check-dns also: 1 a "
	        "check found something\n"
	        "to fix, 3 DNS did not answer.\n"),
	    f);
	fputs("With --sendmail: sendmail's status when it failed, 1 when it "
	      "could not be run.\n",
	    f);
}

static void
explain_usage(FILE *f)
{
	fputs(_("usage: dmarcstat explain [--db FILE] [--ip ADDRESS | --ip "
	        "CIDR] [--reporter R]\n"
	        "                         [--domain D] [--last 7d | --from "
	        "DAY [--to DAY] | --all]\n"
	        "                         [--letter] [--top N] [-o FILE]\n"
	        "                         [--check-dns [--resolver IP[:PORT]] "
	        "[--timeout SECONDS]]\n"
	        "                         [--mmdb FILE]... [--lang en|ja]\n\n"
	        "Per source IP and From domain in the address or range (v4 "
	        "or v6): the cause and\n"
	        "the fix, and per ISP the days, the reports, what it did "
	        "with the mail and the\n"
	        "evidence.  --letter writes instead a letter to the "
	        "postmaster team of each ISP\n"
	        "that quarantined or rejected the mail, with the ISP's own "
	        "figures.\n"
	        "--check-dns adds, for the From domains shown, the DNS "
	        "checks of 'dmarcstat check'.\n"
	        "Options as for 'dmarcstat report'.  Exit status: 0 "
	        "success, 1 output could not\n"
	        "be written, 2 usage error, 3 database cannot be opened; "
	        "with --check-dns also\n"
	        "1 a check found something to fix, 3 DNS did not answer.\n"),
	    f);
}

static int
parse_format(const char *s, enum dm_report_format *fmt)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*fmt = (enum dm_report_format)i;
			return 0;
		}
	}
	return -1;
}

/* Sets opt.from and opt.to from --last / --from / --to / --now.  DM_EXIT_USAGE
 * on error. */
static int
resolve_period(struct rargs *a)
{
	struct dm_cli_period p = {a->last, a->from, a->to, a->now, NULL};

	if (a->all && (a->last != NULL || a->from != NULL || a->to != NULL)) {
		dm_cli_warn(_("--all is the whole database: it cannot be "
		              "combined with --last, --from or --to"));
		return DM_EXIT_USAGE;
	}
	return dm_cli_period(&p, 7, &a->opt.from, &a->opt.to);
}

/*
 * --all: the days of the dated reports stored (undated ones are counted
 * apart whatever the period).  A database without any keeps the default
 * period resolve_period() set.  DM_OK, or DM_EDB with err set.
 */
static int
resolve_all(struct rargs *a, struct dm_query *q, struct dm_error *err)
{
	int64_t first, end;
	int rc;

	if (!a->all)
		return DM_OK;
	if ((rc = dm_query_span(q, &first, &end, err)) != DM_OK)
		return rc;
	if (first > 0) {
		a->opt.from = first;
		a->opt.to = end;
	}
	return DM_OK;
}

/* Where the value of each option goes; NULL for options without a value. */
static const char **
option_slot(struct rargs *a, int c)
{
	switch (c) {
	case 'd':
		return &a->db;
	case 'l':
		return &a->last;
	case 'f':
		return &a->from;
	case 't':
		return &a->to;
	case 'D':
		return &a->opt.domain;
	case 'r':
		return &a->opt.reporter;
	case 'F':
		return &a->format;
	case 'T':
		return &a->table;
	case 'o':
		return &a->output;
	case 'i':
		return &a->opt.ip;
	case 'n':
		return &a->now;
	case 'N':
		return &a->top;
	case 'b':
		return &a->by;
	default:
		return NULL;
	}
}

/* "--top N": 1 to DM_REPORT_TOP_MAX. */
static int
parse_top(const char *s, size_t *top)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < 1 ||
	    v > DM_REPORT_TOP_MAX)
		return -1;
	*top = (size_t)v;
	return 0;
}

/* The mail options: -1 when they are right (or absent), else an exit
 * status after a message. */
static int
mail_options(struct rargs *a, int explain)
{
	const char *msg = NULL;
	int rc = dm_cli_mail_check(&a->mail);

	if (rc == -1)
		return -1;
	if (explain)
		msg = "--mail-to and its options are for 'dmarcstat report'";
	else if (rc != DM_EXIT_OK)
		return rc;
	else if (a->format != NULL || a->table != NULL)
		msg = "--mail-to sends the text, HTML and CSV reports in one "
		      "mail: leave --format and --table out";
	else if (a->mail.sendmail != NULL && a->output != NULL)
		msg = "--sendmail sends the mail: leave -o out";
	if (msg != NULL) {
		dm_cli_warn("%s", msg);
		return DM_EXIT_USAGE;
	}
	a->mailing = 1;
	return -1;
}

/* Options that do not go together; DM_EXIT_USAGE with a message, or -1. */
static int
check_options(struct rargs *a, int explain)
{
	const char *msg = NULL;
	int rc;

	if (explain && (a->format != NULL || a->table != NULL))
		msg =
		    _("explain writes text only: --format and --table are for "
		      "report");
	else if (explain && a->opt.by_domain)
		msg = _("--by-domain is an option of 'dmarcstat report'");
	else if (explain && a->by != NULL)
		msg = _("--by is an option of 'dmarcstat report'");
	else if (a->by != NULL && strcmp(a->by, "domain") != 0 &&
	         strcmp(a->by, "service") != 0) {
		dm_cli_warn(_("--by wants domain or service: \"%s\""), a->by);
		return DM_EXIT_USAGE;
	} else if (!explain && a->opt.ip != NULL)
		msg = _("--ip is an option of 'dmarcstat explain'");
	else if (!explain && a->opt.letter)
		msg = _("--letter is an option of 'dmarcstat explain'");
	else if (a->opt.letter && a->check_dns)
		msg = _(
		    "--check-dns goes with the explanation, not with --letter");
	else if (a->top != NULL && parse_top(a->top, &a->opt.top) != 0) {
		dm_cli_warn(
		    _("--top wants a number of rows from 1 to %d: \"%s\""),
		    DM_REPORT_TOP_MAX, a->top);
		return DM_EXIT_USAGE;
	} else if (a->format != NULL && parse_format(a->format, &a->fmt) != 0) {
		dm_cli_warn(_("unknown format '%s': text, csv, json or html"),
		    a->format);
		return DM_EXIT_USAGE;
	} else if (a->table != NULL && a->fmt != DM_REPORT_CSV)
		msg =
		    _("--table picks a CSV section: use it with --format csv");
	if (msg == NULL && (rc = mail_options(a, explain)) != -1)
		return rc;
	if (msg != NULL) {
		dm_cli_warn("%s", msg);
		return DM_EXIT_USAGE;
	}
	if (a->by != NULL) {
		a->opt.by_domain = strcmp(a->by, "domain") == 0;
		a->opt.by_service = !a->opt.by_domain;
	}
	return resolve_period(a);
}

static int
parse_args(int argc, char **argv, struct rargs *a, int explain)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"last", required_argument, NULL, 'l'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"domain", required_argument, NULL, 'D'},
	    {"reporter", required_argument, NULL, 'r'},
	    {"format", required_argument, NULL, 'F'},
	    {"table", required_argument, NULL, 'T'},
	    {"output", required_argument, NULL, 'o'},
	    {"ip", required_argument, NULL, 'i'},
	    {"now", required_argument, NULL, 'n'},
	    {"top", required_argument, NULL, 'N'},
	    {"by-domain", no_argument, NULL, 'B'},
	    {"by", required_argument, NULL, 'b'},
	    {"letter", no_argument, NULL, 'L'},
	    {"check-dns", no_argument, NULL, 'C'},
	    {"lang", required_argument, NULL, 'g'},
	    {"all", no_argument, NULL, 'A'}, {"help", no_argument, NULL, 'h'},
	    DM_CLI_DNS_LONGOPTS, DM_CLI_MAIL_LONGOPTS, {0, 0, 0, 0}};
	void (*usage)(FILE *) = explain ? explain_usage : report_usage;
	const char **slot;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if ((rc = dm_cli_dns_option(&a->dnsopt, c, optarg)) != 0) {
			if (rc < 0)
				return DM_EXIT_USAGE;
			continue;
		}
		if (dm_cli_mail_option(&a->mail, c, optarg, argc, argv))
			continue;
		if ((slot = option_slot(a, c)) != NULL) {
			*slot = optarg;
			continue;
		}
		if (c == 'g' && dm_cli_i18n_lang(optarg) != 0) {
			dm_cli_warn(_("--lang wants en or ja: \"%s\""), optarg);
			return DM_EXIT_USAGE;
		}
		if (c == 'g')
			continue;
		if (c == 'B' || c == 'L' || c == 'C' || c == 'A') {
			*(c == 'B'     ? &a->opt.by_domain
			    : c == 'L' ? &a->opt.letter
			    : c == 'C' ? &a->check_dns
			               : &a->all) = 1;
			continue;
		}
		usage(c == 'h' ? stdout : stderr);
		return c == 'h' ? DM_EXIT_OK : DM_EXIT_USAGE;
	}
	if (optind < argc) {
		dm_cli_warn(_("unexpected argument '%s'"), argv[optind]);
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	return check_options(a, explain);
}

static int
exit_for(const struct dm_error *err)
{
	dm_cli_warn("%s", err->msg);
	return err->code == DM_EDB      ? DM_EXIT_FATAL
	       : err->code == DM_EINVAL ? DM_EXIT_USAGE
	                                : 1;
}

static int
use_color(const char *output)
{
	const char *nc = getenv("NO_COLOR");

	return output == NULL && isatty(STDOUT_FILENO) &&
	       (nc == NULL || nc[0] == '\0');
}

/* The report's view of the MMDB files (dns/): what the host table left
 * unknown, copied into the arguments' buffer. */
static void
geo_of(void *ctx, const char *ip, struct dm_host *h)
{
	struct rargs *a = ctx;

	dm_dns_geo(a->dns, ip, h, &a->geo);
}

struct check_ctx {
	struct rargs *a;
	dm_report_check_cb cb;
	void *cb_ctx;
	const char *domain;
};

static int
check_items(
    struct check_ctx *x, const struct dm_check_result *r, struct dm_error *err)
{
	size_t i;
	int rc = DM_OK;

	for (i = 0; i < r->n_items && rc == DM_OK; i++) {
		const struct dm_check_item *it = &r->items[i];
		struct dm_report_check c = {x->domain, it->check, it->subject,
		    dm_check_status_name(it->status), it->found, it->fix};

		rc = x->cb(x->cb_ctx, &c, err);
	}
	if (r->status > x->a->worst)
		x->a->worst = r->status;
	return rc;
}

/* report/'s check_dns: dmarcstat check's checks of one domain. */
static int
check_dns(void *ctx, struct dm_query *q, const char *domain, int64_t from,
    int64_t to, dm_report_check_cb cb, void *cb_ctx, struct dm_error *err)
{
	struct check_ctx x = {ctx, cb, cb_ctx, domain};
	struct dm_check_evidence *ev = NULL;
	struct dm_check_result *r = NULL;
	int rc;

	if ((rc = dm_dns_evidence_read(
	         x.a->dns, q, domain, from, to, &ev, err)) == DM_OK &&
	    (rc = dm_dns_check(x.a->dns, ev, &r, err)) == DM_OK)
		rc = check_items(&x, r, err);
	dm_dns_check_free(r);
	dm_dns_evidence_free(ev);
	return rc;
}

/* The report in one format, into memory (the writers' own output, so that
 * the mail's parts are what --format gives). */
static int
write_mem(const struct dm_report *r, enum dm_report_format fmt,
    struct dm_mail_body *body, struct dm_error *err)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	int rc;

	if (f == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	rc = dm_report_write(r, fmt, NULL, 0, f, err);
	if (fclose(f) != 0 && rc == DM_OK)
		rc = dm_error_set(err, DM_ENOMEM, "out of memory");
	body->data = data;
	body->len = len;
	return rc;
}

/* --mail-to: the text report, the HTML report and the CSV report as an
 * attachment, in one mail written to out or handed to sendmail. */
static int
mail_report(
    struct rargs *a, const struct dm_report *r, FILE *out, struct dm_error *err)
{
	struct dm_mail m;
	struct dm_buf subject;
	char name[64], d0[16], d1[16];
	int rc;

	memset(&m, 0, sizeof(m));
	dm_buf_init(&subject, 4096);
	if ((rc = write_mem(r, DM_REPORT_TEXT, &m.text, err)) == DM_OK &&
	    (rc = write_mem(r, DM_REPORT_HTML, &m.html, err)) == DM_OK &&
	    (rc = write_mem(r, DM_REPORT_CSV, &m.attach, err)) == DM_OK &&
	    (rc = dm_report_subject(r, &subject)) != DM_OK)
		dm_error_set(err, rc, "out of memory");
	if (rc == DM_OK) {
		snprintf(name, sizeof(name), "dmarc-%s_%s.csv",
		    dm_cli_day(a->opt.from, d0, sizeof(d0)),
		    dm_cli_day(a->opt.to - DM_DAY_SECONDS, d1, sizeof(d1)));
		m.subject = subject.data;
		m.date = (int64_t)time(NULL);
		m.attach_name = name;
		m.attach_type = "text/csv";
		a->mail_status = dm_cli_mail_deliver(&a->mail, &m, out);
	}
	free((char *)(uintptr_t)m.text.data);
	free((char *)(uintptr_t)m.html.data);
	free((char *)(uintptr_t)m.attach.data);
	dm_buf_free(&subject);
	return rc;
}

/* Builds and writes the report or explanation to out. */
static int
produce(struct rargs *a, struct dm_query *q, int explain, FILE *out,
    struct dm_error *err)
{
	struct dm_report *r = NULL;
	int rc;

	if (explain)
		return dm_report_explain(q, &a->opt, out, err);
	if ((rc = dm_report_build(q, &a->opt, &r, err)) == DM_OK)
		rc = a->mailing ? mail_report(a, r, out, err)
		                : dm_report_write(r, a->fmt, a->table,
		                      use_color(a->output), out, err);
	dm_report_free(r);
	return rc;
}

/* --check-dns: as 'dmarcstat check', the worst check's status; before it,
 * sendmail's failure. */
static int
checks_status(const struct rargs *a)
{
	if (a->mail_status != 0)
		return a->mail_status;
	return a->worst == DM_CHECK_UNKNOWN ? DM_EXIT_FATAL
	       : a->worst == DM_CHECK_WRONG ? DM_EXIT_PARTIAL
	                                    : DM_EXIT_OK;
}

static int
run(struct rargs *a, int explain)
{
	struct dm_query *q = NULL;
	struct dm_cli_out o = {NULL, NULL, stdout};
	struct dm_error err;
	int rc;

	if (a->db == NULL && (a->db = dm_cli_default_db(0)) == NULL)
		return DM_EXIT_FATAL;
	/* A reader of the database may not be able to read the services
	   file of the user whose environment it runs in. */
	a->dnsopt.services_optional = 1;
	if ((rc = dm_cli_dns_open(&a->dnsopt, &a->dns)) != DM_EXIT_OK)
		return rc;
	a->opt.service_of = dm_cli_service_of;
	a->opt.service_ctx = a->dns;
	if (a->dnsopt.n_mmdb > 0) {
		a->opt.geo_of = geo_of;
		a->opt.geo_ctx = a;
	}
	if (a->check_dns) {
		a->opt.check_dns = check_dns;
		a->opt.check_ctx = a;
	}
	if ((rc = dm_cli_open_query(a->db, &q)) != DM_EXIT_OK) {
		dm_dns_close(a->dns);
		return rc;
	}
	dm_error_clear(&err);
	if (resolve_all(a, q, &err) != DM_OK ||
	    (a->opt.reporter != NULL &&
	        dm_report_check_reporter(q, a->opt.reporter, &err) != DM_OK)) {
		dm_query_close(q);
		dm_dns_close(a->dns);
		return exit_for(&err);
	}
	if (a->output != NULL && dm_cli_out_open(&o, a->output) != 0) {
		dm_query_close(q);
		dm_dns_close(a->dns);
		return DM_EXIT_PARTIAL;
	}
	dm_error_clear(&err);
	rc = produce(a, q, explain, o.f, &err);
	dm_query_close(q);
	dm_dns_close(a->dns);
	/* Standard output that cannot be written is main's to report. */
	if (a->output == NULL && rc == DM_EIO)
		return DM_EXIT_PARTIAL;
	if (a->output == NULL)
		return rc == DM_OK ? checks_status(a) : exit_for(&err);
	/* A failed report leaves the file as it was. */
	if (rc != DM_OK) {
		dm_cli_out_abort(&o);
		return exit_for(&err);
	}
	return dm_cli_out_commit(&o) == 0 ? checks_status(a) : DM_EXIT_PARTIAL;
}

int
dm_cmd_report(int argc, char **argv)
{
	struct rargs a;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = parse_args(argc, argv, &a, 0)) >= 0)
		return rc;
	return run(&a, 0);
}

int
dm_cmd_explain(int argc, char **argv)
{
	struct rargs a;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = parse_args(argc, argv, &a, 1)) >= 0)
		return rc;
	return run(&a, 1);
}
