/*
 * cmd_report.c - `dmarcstat report` and `dmarcstat explain`: options, the
 * period, opening the database read-only, and exit codes.  The work is
 * report/'s (report/report.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "query.h"
#include "report.h"

struct rargs {
	const char *db, *last, *from, *to, *now, *format, *table, *output, *top;
	struct dm_report_options opt;
	enum dm_report_format fmt;
};

static void
report_usage(FILE *f)
{
	fprintf(f,
	    "usage: dmarcstat report [--db FILE] [--last 7d | --from "
	    "DAY [--to DAY]]\n"
	    "                        [--domain D] [--reporter R] "
	    "[--by-domain] [--top N]\n"
	    "                        [--format text|csv|json|html] "
	    "[--table NAME] [-o FILE]\n\n"
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
	    "  --domain D     only mail whose policy domain or From "
	    "domain is D\n"
	    "  --reporter R   only reports of ISP R (\"Yahoo\") or "
	    "org_name R (\"AOL\")\n"
	    "  --by-domain    failing sources per From domain, a page "
	    "each, most blocked\n"
	    "                 first\n"
	    "  --top N        rows listed per section (default 100, at "
	    "most 1000); the\n"
	    "                 rest are summed as \"and N more\"\n"
	    "  --format F     text (default), csv, json or html\n"
	    "  --table NAME   CSV: only that section (overview, isps, "
	    "sources, source_isps,\n"
	    "                 new_sources, silent_isps, domains or daily); "
	    "without it, every\n"
	    "                 section in one CSV with a leading "
	    "\"section\" column\n"
	    "  -o FILE        write to FILE instead of standard output\n"
	    "  --db FILE      database (default: $DMARCSTAT_DB, else\n"
	    "                 $XDG_DATA_HOME/dmarcstat/dmarcstat.db)\n\n"
	    "Exit status: 0 success, 1 output could not be written, 2 "
	    "usage error,\n"
	    "3 database cannot be opened.\n");
}

static void
explain_usage(FILE *f)
{
	fprintf(f, "usage: dmarcstat explain [--db FILE] [--ip ADDRESS | --ip "
	           "CIDR] [--reporter R]\n"
	           "                         [--domain D] [--last 7d | --from "
	           "DAY [--to DAY]]\n"
	           "                         [--letter] [--top N] [-o FILE]\n\n"
	           "Per source IP and From domain in the address or range (v4 "
	           "or v6): the cause and\n"
	           "the fix, and per ISP the days, the reports, what it did "
	           "with the mail and the\n"
	           "evidence.  --letter writes instead a letter to the "
	           "postmaster team of each ISP\n"
	           "that quarantined or rejected the mail, with the ISP's own "
	           "figures.\n"
	           "Options as for 'dmarcstat report'.  Exit status: 0 "
	           "success, 1 output could not\n"
	           "be written, 2 usage error, 3 database cannot be opened.\n");
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
	struct dm_cli_period p = {a->last, a->from, a->to, a->now};

	return dm_cli_period(&p, 7, &a->opt.from, &a->opt.to);
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

/* Options that do not go together; DM_EXIT_USAGE with a message, or -1. */
static int
check_options(struct rargs *a, int explain)
{
	const char *msg = NULL;

	if (explain && (a->format != NULL || a->table != NULL))
		msg = "explain writes text only: --format and --table are for "
		      "report";
	else if (explain && a->opt.by_domain)
		msg = "--by-domain is an option of 'dmarcstat report'";
	else if (!explain && a->opt.ip != NULL)
		msg = "--ip is an option of 'dmarcstat explain'";
	else if (!explain && a->opt.letter)
		msg = "--letter is an option of 'dmarcstat explain'";
	else if (a->top != NULL && parse_top(a->top, &a->opt.top) != 0) {
		dm_cli_warn("--top wants a number of rows from 1 to %d: \"%s\"",
		    DM_REPORT_TOP_MAX, a->top);
		return DM_EXIT_USAGE;
	} else if (a->format != NULL && parse_format(a->format, &a->fmt) != 0) {
		dm_cli_warn(
		    "unknown format '%s': text, csv, json or html", a->format);
		return DM_EXIT_USAGE;
	} else if (a->table != NULL && a->fmt != DM_REPORT_CSV)
		msg = "--table picks a CSV section: use it with --format csv";
	if (msg != NULL) {
		dm_cli_warn("%s", msg);
		return DM_EXIT_USAGE;
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
	    {"letter", no_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
	void (*usage)(FILE *) = explain ? explain_usage : report_usage;
	const char **slot;
	int c;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if ((slot = option_slot(a, c)) != NULL) {
			*slot = optarg;
			continue;
		}
		if (c == 'B' || c == 'L') {
			*(c == 'B' ? &a->opt.by_domain : &a->opt.letter) = 1;
			continue;
		}
		usage(c == 'h' ? stdout : stderr);
		return c == 'h' ? DM_EXIT_OK : DM_EXIT_USAGE;
	}
	if (optind < argc) {
		dm_cli_warn("unexpected argument '%s'", argv[optind]);
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
		rc = dm_report_write(
		    r, a->fmt, a->table, use_color(a->output), out, err);
	dm_report_free(r);
	return rc;
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
	if ((rc = dm_cli_open_query(a->db, &q)) != DM_EXIT_OK)
		return rc;
	dm_error_clear(&err);
	if (a->opt.reporter != NULL &&
	    dm_report_check_reporter(q, a->opt.reporter, &err) != DM_OK) {
		dm_query_close(q);
		return exit_for(&err);
	}
	if (a->output != NULL && dm_cli_out_open(&o, a->output) != 0) {
		dm_query_close(q);
		return DM_EXIT_PARTIAL;
	}
	dm_error_clear(&err);
	rc = produce(a, q, explain, o.f, &err);
	dm_query_close(q);
	/* Standard output that cannot be written is main's to report. */
	if (a->output == NULL && rc == DM_EIO)
		return DM_EXIT_PARTIAL;
	if (a->output == NULL)
		return rc == DM_OK ? DM_EXIT_OK : exit_for(&err);
	/* A failed report leaves the file as it was. */
	if (rc != DM_OK) {
		dm_cli_out_abort(&o);
		return exit_for(&err);
	}
	return dm_cli_out_commit(&o) == 0 ? DM_EXIT_OK : DM_EXIT_PARTIAL;
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
