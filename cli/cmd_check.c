/*
 * cmd_check.c - `dmarcstat check DOMAIN...`: each domain's DMARC, SPF and DKIM
 * records in DNS now, against what the stored reports saw (the selectors to
 * test, the sources that failed SPF, the policy).  The checks are dns/'s.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "dns.h"
#include "query.h"

struct cargs {
	const char *db, *format;
	struct dm_cli_period period;
	int db_given, json;
	int64_t t_from, t_to;
	struct dm_cli_dns dns;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dmarcstat check [--db FILE] [--last 30d | --from DAY [--to "
	    "DAY]]\n"
	    "                       [--format text|json] [--resolver "
	    "IP[:PORT]] [--timeout SECONDS]\n"
	    "                       [DOMAIN...]\n\n"
	    "Checks, now, each DOMAIN's DMARC record (one record, every tag "
	    "valid, the policy,\n"
	    "report addresses in other domains authorised), SPF record (one, "
	    "valid, at most\n"
	    "10 DNS lookups over its includes, each source that failed SPF in "
	    "the reports\n"
	    "evaluated again, each ESP include called for) and the DKIM key "
	    "of each selector\n"
	    "the reports show.  Without DOMAIN: every domain with reports in "
	    "the period.\n\n"
	    "  --db FILE          database (default: $DMARCSTAT_DB, else\n"
	    "                     $XDG_DATA_HOME/dmarcstat/dmarcstat.db); "
	    "without one, the\n"
	    "                     records are checked alone\n"
	    "  --last Nd          the reports of the last N days (default "
	    "30d)\n"
	    "  --from DAY         first day of the reports (YYYY-MM-DD, UTC)\n"
	    "  --to DAY           the day after the last (default: today)\n"
	    "  --format F         text (default) or json\n"
	    "  --resolver IP[:PORT]  DNS server for every lookup (default: "
	    "$DMARCSTAT_RESOLVER,\n"
	    "                     else the system's)\n"
	    "  --timeout SECONDS  wait for each DNS answer (default 2; one "
	    "retry waits twice as long)\n"
	    "\nEach check is ok, changed (right now, not what the reports "
	    "saw), wrong (with the\n"
	    "fix) or unknown (DNS did not answer).\n"
	    "Exit status: 0 all fine, 1 something to fix, 2 usage error, 3 "
	    "DNS unreachable\n"
	    "or the database cannot be read.\n");
}

/* Where each option's value goes; NULL for options without a value. */
static const char **
slot(struct cargs *a, int c)
{
	switch (c) {
	case 'd':
		a->db_given = 1;
		return &a->db;
	case 'l':
		return &a->period.last;
	case 'f':
		return &a->period.from;
	case 't':
		return &a->period.to;
	case 'n':
		return &a->period.now;
	case 'F':
		return &a->format;
	default:
		return NULL;
	}
}

static int
parse_args(int argc, char **argv, struct cargs *a)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"last", required_argument, NULL, 'l'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'F'},
	    {"now", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'}, DM_CLI_LOOKUP_LONGOPTS,
	    {0, 0, 0, 0}};
	const char **s;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((rc = dm_cli_dns_option(&a->dns, c, optarg)) != 0) {
			if (rc < 0)
				return DM_EXIT_USAGE;
			continue;
		}
		if ((s = slot(a, c)) != NULL) {
			*s = optarg;
			continue;
		}
		usage(c == 'h' ? stdout : stderr);
		return c == 'h' ? DM_EXIT_OK : DM_EXIT_USAGE;
	}
	if (a->format != NULL && strcmp(a->format, "text") != 0 &&
	    strcmp(a->format, "json") != 0) {
		dm_cli_warn("unknown format '%s': text or json", a->format);
		return DM_EXIT_USAGE;
	}
	a->json = a->format != NULL && strcmp(a->format, "json") == 0;
	return dm_cli_period(&a->period, 30, &a->t_from, &a->t_to);
}

/*
 * Opens the database when there is one: *q stays NULL (after a note) when the
 * default database does not exist yet.  An exit status on failure, else -1.
 */
static int
open_reports(struct cargs *a, struct dm_query **q)
{
	*q = NULL;
	if (a->db == NULL && (a->db = dm_cli_default_db(0)) == NULL)
		return DM_EXIT_FATAL;
	if (!a->db_given && access(a->db, F_OK) != 0) {
		dm_cli_warn("no database at %s: checking the records alone (no "
		            "selectors or sources from reports)",
		    a->db);
		return -1;
	}
	return dm_cli_open_query(a->db, q) == DM_EXIT_OK ? -1 : DM_EXIT_FATAL;
}

/* Checks one domain into *r; an exit status after a message on failure. */
static int
check_one(struct dm_dns *d, struct dm_query *q, const struct cargs *a,
    const char *domain, struct dm_check_result **r)
{
	struct dm_check_evidence *ev = NULL;
	struct dm_error err;
	int rc;

	dm_error_clear(&err);
	rc = q != NULL ? dm_dns_evidence_read(
	                     d, q, domain, a->t_from, a->t_to, &ev, &err)
	               : dm_dns_evidence_empty(domain, &ev, &err);
	if (rc == DM_OK)
		rc = dm_dns_check(d, ev, r, &err);
	dm_dns_evidence_free(ev);
	if (rc == DM_OK)
		return DM_EXIT_OK;
	dm_cli_warn("%s", err.msg);
	return rc == DM_EINVAL ? DM_EXIT_USAGE : DM_EXIT_FATAL;
}

/* The exit status of the results: their worst check. */
static int
status_of(struct dm_check_result *const *r, size_t n)
{
	enum dm_check_status worst = DM_CHECK_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		if (r[i]->status > worst)
			worst = r[i]->status;
	}
	return worst == DM_CHECK_UNKNOWN ? DM_EXIT_FATAL
	       : worst == DM_CHECK_WRONG ? DM_EXIT_PARTIAL
	                                 : DM_EXIT_OK;
}

/* Checks every domain and writes the results. */
static int
run(struct dm_dns *d, struct dm_query *q, const struct cargs *a,
    char *const *domains, size_t n)
{
	struct dm_check_result **r = calloc(n ? n : 1, sizeof(*r));
	struct dm_error err;
	size_t i, done = 0;
	int rc = r == NULL ? DM_EXIT_FATAL : DM_EXIT_OK;

	for (i = 0; i < n && rc == DM_EXIT_OK; i++, done++)
		rc = check_one(d, q, a, domains[i], &r[i]);
	dm_error_clear(&err);
	if (rc == DM_EXIT_OK &&
	    dm_dns_check_write((const struct dm_check_result *const *)r, n,
	        a->json, stdout, &err) != DM_OK) {
		/* Standard output that cannot be written is main's to say,
		   with the one status every command gives it. */
		if (err.code != DM_EIO)
			dm_cli_warn("%s", err.msg);
		rc = err.code == DM_EIO ? DM_EXIT_PARTIAL : DM_EXIT_FATAL;
	}
	if (rc == DM_EXIT_OK)
		rc = status_of(r, n);
	for (i = 0; r != NULL && i < done; i++)
		dm_dns_check_free(r[i]);
	free(r);
	return rc;
}

int
dm_cmd_check(int argc, char **argv)
{
	struct cargs a;
	struct dm_dns *d = NULL;
	struct dm_query *q = NULL;
	struct dm_error err;
	char **found = NULL;
	size_t n_found = 0;
	int rc;

	memset(&a, 0, sizeof(a));
	a.dns.no_mmdb = 1;
	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	if ((rc = dm_cli_dns_open(&a.dns, &d)) != DM_EXIT_OK)
		return rc;
	if ((rc = open_reports(&a, &q)) >= 0) {
		dm_dns_close(d);
		return rc;
	}
	dm_error_clear(&err);
	if (optind < argc)
		rc = run(d, q, &a, argv + optind, (size_t)(argc - optind));
	else if (q == NULL) {
		dm_cli_warn("check: name a DOMAIN (there are no reports to "
		            "take domains from)");
		rc = DM_EXIT_USAGE;
	} else if (dm_dns_reported_domains(
	               q, a.t_from, a.t_to, &found, &n_found, &err) != DM_OK) {
		dm_cli_warn("%s", err.msg);
		rc = DM_EXIT_FATAL;
	} else if (n_found == 0) {
		dm_cli_warn("check: no reports in the period: name a DOMAIN");
		rc = DM_EXIT_USAGE;
	} else
		rc = run(d, q, &a, found, n_found);
	dm_dns_domains_free(found, n_found);
	dm_query_close(q);
	dm_dns_close(d);
	return rc;
}
