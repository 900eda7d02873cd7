/*
 * cmd_alerts.c - `dmarcstat alerts`: options, the period, the database opened
 * read-only, the services files that name the sources, the language, the
 * mail, and the exit status cron acts on (0 nothing to say, 1 alerts).  The
 * work is report/'s (dm_report_alerts).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "mail.h"
#include "query.h"
#include "report.h"

struct aargs {
	const char *db, *since, *from, *to, *now, *format, *threshold, *min;
	struct dm_report_options opt;
	struct dm_alert_options ao;
	enum dm_report_format fmt;
	struct dm_cli_mail mail;
	int mailing;
	struct dm_dns *dns; /* the sending services */
};

static void
usage(FILE *f)
{
	fputs(_("usage: dmarcstat alerts [--db FILE] [--since 1d | --from DAY "
	        "[--to DAY]] [--domain D]\n"
	        "                        [--threshold POINTS] [--min-messages "
	        "N] [--format text|json]\n"
	        "                        [--lang en|ja] [--mail-to "
	        "ADDR[,ADDR...] [--mail-from ADDR]\n"
	        "                         [--subject TEXT] "
	        "[--sendmail[=PATH]]]\n\n"
	        "What changed against the period of the same length before: "
	        "new sources failing\n"
	        "DMARC, ISPs quarantining or rejecting more of a From domain's "
	        "mail, sources and\n"
	        "From domains whose DMARC pass rate fell, ISPs that stopped "
	        "reporting.  Each alert\n"
	        "with its cause, the fix and the explain command to run next.  "
	        "Nothing is printed\n"
	        "when there is nothing to say (text).\n"
	        "  --since Nd     the last N full UTC days (default: 1d, "
	        "yesterday)\n"
	        "  --from DAY     first day (YYYY-MM-DD, UTC)\n"
	        "  --to DAY       the day after the last (default: today)\n"
	        "  --domain D     only mail whose policy domain or From domain "
	        "is D\n"
	        "  --threshold POINTS  a rate must change by more than this "
	        "many percentage\n"
	        "                 points (default 10; one decimal)\n"
	        "  --min-messages N  rates are compared when both periods have "
	        "at least N\n"
	        "                 messages; a new source needs N failing, a "
	        "silent ISP N before\n"
	        "                 (default 100)\n"
	        "  --format F     text (default) or json\n"
	        "  --lang L       language of the text and the mail: en or ja "
	        "(default: the\n"
	        "                 locale's; JSON keys, kinds and cause codes "
	        "stay English)\n"
	        "  --db FILE      database (default: $DMARCSTAT_DB, else\n"
	        "                 $XDG_DATA_HOME/dmarcstat/dmarcstat.db)\n"),
	    f);
	fputs(DM_CLI_MAIL_HELP, f);
	fputs(_("                 (only when there are alerts: the text alerts "
	        "as a plain mail)\n"
	        "\nExit status: 0 nothing to report, 1 alerts printed (or "
	        "mailed), or the output\n"
	        "could not be written, 2 usage error, 3 database cannot be "
	        "opened.  With\n"
	        "--sendmail: sendmail's status when it failed.\n"),
	    f);
}

/* "10", "7.5": tenths of a point, 0 to 100 points. */
static int
parse_points(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
		v = v * 10 + (s[i] - '0');
	if (i == 0)
		return -1;
	v *= 10;
	if (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
		v += s[i + 1] - '0';
		i += 2;
	}
	if (s[i] != '\0' || v > 1000)
		return -1;
	*out = v;
	return 0;
}

static int
parse_count(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < 1 ||
	    v > 1000000000000LL)
		return -1;
	*out = v;
	return 0;
}

static int
check_options(struct aargs *a)
{
	struct dm_cli_period p = {a->since, a->from, a->to, a->now, "--since"};
	int rc;

	if (a->format != NULL && strcmp(a->format, "text") != 0 &&
	    strcmp(a->format, "json") != 0) {
		dm_cli_warn(_("unknown format '%s': text or json"), a->format);
		return DM_EXIT_USAGE;
	}
	a->fmt = a->format != NULL && strcmp(a->format, "json") == 0
	             ? DM_REPORT_JSON
	             : DM_REPORT_TEXT;
	if (a->threshold != NULL &&
	    parse_points(a->threshold, &a->ao.threshold) != 0) {
		dm_cli_warn(_("--threshold wants percentage points from 0 to "
		              "100, with at most one decimal: \"%s\""),
		    a->threshold);
		return DM_EXIT_USAGE;
	}
	if (a->min != NULL && parse_count(a->min, &a->ao.min_messages) != 0) {
		dm_cli_warn(_("--min-messages wants a number of messages, 1 "
		              "or more: \"%s\""),
		    a->min);
		return DM_EXIT_USAGE;
	}
	if ((rc = dm_cli_mail_check(&a->mail)) != -1) {
		if (rc != DM_EXIT_OK)
			return rc;
		if (a->fmt == DM_REPORT_JSON) {
			dm_cli_warn(_("--mail-to sends the alerts as text: "
			              "leave --format json out"));
			return DM_EXIT_USAGE;
		}
		a->mailing = 1;
	}
	return dm_cli_period(&p, 1, &a->opt.from, &a->opt.to);
}

static const char **
option_slot(struct aargs *a, int c)
{
	switch (c) {
	case 'd':
		return &a->db;
	case 's':
		return &a->since;
	case 'f':
		return &a->from;
	case 't':
		return &a->to;
	case 'n':
		return &a->now;
	case 'F':
		return &a->format;
	case 'T':
		return &a->threshold;
	case 'm':
		return &a->min;
	case 'D':
		return &a->opt.domain;
	default:
		return NULL;
	}
}

static int
parse_args(int argc, char **argv, struct aargs *a)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"since", required_argument, NULL, 's'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"now", required_argument, NULL, 'n'},
	    {"format", required_argument, NULL, 'F'},
	    {"threshold", required_argument, NULL, 'T'},
	    {"min-messages", required_argument, NULL, 'm'},
	    {"domain", required_argument, NULL, 'D'},
	    {"lang", required_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'}, DM_CLI_MAIL_LONGOPTS,
	    {0, 0, 0, 0}};
	const char **slot;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
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
		usage(c == 'h' ? stdout : stderr);
		return c == 'h' ? DM_EXIT_OK : DM_EXIT_USAGE;
	}
	if (optind < argc) {
		dm_cli_warn(_("unexpected argument '%s'"), argv[optind]);
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	return check_options(a);
}

/* "DMARC alerts example.com 2026-11-10 to 2026-11-11: 2 alerts" into buf. */
static const char *
subject_of(const struct aargs *a, size_t n, char *buf, size_t size)
{
	char d0[16], d1[16], when[256];

	dm_cli_day(a->opt.from, d0, sizeof(d0));
	dm_cli_day(a->opt.to - DM_DAY_SECONDS, d1, sizeof(d1));
	if (strcmp(d0, d1) == 0)
		snprintf(when, sizeof(when), "%s", d0);
	else
		snprintf(when, sizeof(when), _("%s to %s"), d0, d1);
	snprintf(buf, size,
	    P_("DMARC alerts %s%s%s: %zu alert",
	        "DMARC alerts %s%s%s: %zu alerts", n),
	    a->opt.domain ? a->opt.domain : "", a->opt.domain ? " " : "", when,
	    n);
	return buf;
}

/* The alerts, in memory, as one plain-text mail. */
static int
mail_alerts(struct aargs *a, const char *text, size_t len, size_t n)
{
	struct dm_mail m;
	char subject[512];
	int rc;

	memset(&m, 0, sizeof(m));
	m.subject = subject_of(a, n, subject, sizeof(subject));
	m.date = (int64_t)time(NULL);
	m.text.data = text;
	m.text.len = len;
	rc = dm_cli_mail_deliver(&a->mail, &m, stdout);
	return rc == DM_EXIT_OK ? DM_EXIT_PARTIAL : rc;
}

static int
run(struct aargs *a, struct dm_query *q)
{
	struct dm_error err;
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *out = a->mailing ? open_memstream(&text, &len) : stdout;
	int rc;

	if (out == NULL) {
		dm_cli_warn(_("out of memory"));
		return DM_EXIT_PARTIAL;
	}
	dm_error_clear(&err);
	rc = dm_report_alerts(q, &a->opt, &a->ao, a->fmt, out, &n, &err);
	if (a->mailing && fclose(out) != 0 && rc == DM_OK)
		rc = dm_error_set(&err, DM_ENOMEM, _("out of memory"));
	if (rc == DM_EIO && !a->mailing)
		rc = DM_EXIT_PARTIAL; /* main says why */
	else if (rc != DM_OK) {
		dm_cli_warn("%s", err.msg);
		rc = rc == DM_EDB ? DM_EXIT_FATAL : DM_EXIT_PARTIAL;
	} else if (a->mailing && n > 0)
		rc = mail_alerts(a, text, len, n);
	else
		rc = n > 0 ? DM_EXIT_PARTIAL : DM_EXIT_OK;
	free(text);
	return rc;
}

/* The built-in services and the user's services file, which name the sending
 * service of a source and classify its mail as report does; a file that
 * cannot be read is a warning, as for report. */
static int
open_services(struct aargs *a)
{
	struct dm_cli_dns o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.services_optional = 1;
	if ((rc = dm_cli_dns_open(&o, &a->dns)) != DM_EXIT_OK)
		return rc;
	a->opt.service_of = dm_cli_service_of;
	a->opt.service_ctx = a->dns;
	return DM_EXIT_OK;
}

int
dm_cmd_alerts(int argc, char **argv)
{
	struct aargs a;
	struct dm_query *q = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	a.ao.threshold = DM_ALERT_THRESHOLD;
	a.ao.min_messages = DM_ALERT_MIN_MESSAGES;
	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	a.ao.db = a.db;
	if (a.db == NULL && (a.db = dm_cli_default_db(0)) == NULL)
		return DM_EXIT_FATAL;
	if ((rc = open_services(&a)) != DM_EXIT_OK)
		return rc;
	if ((rc = dm_cli_open_query(a.db, &q)) == DM_EXIT_OK)
		rc = run(&a, q);
	dm_query_close(q);
	dm_dns_close(a.dns);
	return rc;
}
