/*
 * cmd_enrich.c - `dmarcstat enrich`: reverse DNS, sending service, ASN and
 * country of every source IP, cached in the host table; and the enrichment
 * step of `ingest --enrich`, run after the ingest, never during it.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "dns.h"
#include "model.h"
#include "store.h"

struct eargs {
	const char *db;
	int json, quiet, all;
	int64_t ttl_days, budget_s;
	struct dm_cli_dns dns;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dmarcstat enrich [--db FILE] [--resolver IP[:PORT]] "
	    "[--mmdb FILE]...\n"
	    "                        [--ttl 7d] [--all] [--budget SECONDS] "
	    "[--concurrency N]\n"
	    "                        [--timeout SECONDS] [--json] [--quiet]\n\n"
	    "Looks up every source IP of the stored reports that has no "
	    "fresh entry: reverse\n"
	    "DNS (PTR), forward confirmation, registrable domain, sending "
	    "service, ASN and\n"
	    "country; caches the answers in the database (table host).  "
	    "Failed lookups are\n"
	    "retried after a day (or the TTL, if shorter).\n\n"
	    "  --db FILE          database (default: $DMARCSTAT_DB, else\n"
	    "                     "
	    "$XDG_DATA_HOME/dmarcstat/dmarcstat.db)\n" DM_CLI_DNS_HELP
	    "  --ttl Nd           days an entry stays fresh (default 7d)\n"
	    "  --all              look every IP up again, fresh or not\n"
	    "  --budget SECONDS   stop after this long; the rest waits for the "
	    "next run\n"
	    "                     (default 300)\n"
	    "  --concurrency N    IPs looked up at once (default 64)\n"
	    "  --json             print the summary as JSON on stdout\n"
	    "  --quiet            print only problems\n\n"
	    "Services: the built-in list, and $XDG_CONFIG_HOME/dmarcstat/"
	    "services.\n"
	    "Exit status: 0 every due IP looked up, 1 some lookups failed or "
	    "the budget ran\n"
	    "out, 2 usage error, 3 database cannot be opened or written, or "
	    "DNS unreachable.\n");
}

/* A whole number from lo to hi; -1 when s is not one. */
static int
parse_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	long long n;

	n = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || n < lo || n > hi)
		return -1;
	*v = n;
	return 0;
}

/* An option of enrich's own; DM_EXIT_USAGE after a message when bad. */
static int
own_option(struct eargs *a, int c, const char *arg)
{
	int64_t v;

	switch (c) {
	case 'd':
		a->db = arg;
		return -1;
	case 't':
		if (dm_cli_parse_days(arg, &a->ttl_days) == 0)
			return -1;
		dm_cli_warn("--ttl wants a number of days from 1 to 3660, such "
		            "as 7d: \"%s\"",
		    arg);
		return DM_EXIT_USAGE;
	case 'b':
		if (parse_int(arg, 1, DM_DAY_SECONDS, &a->budget_s) == 0)
			return -1;
		dm_cli_warn(
		    "--budget wants seconds from 1 to 86400: \"%s\"", arg);
		return DM_EXIT_USAGE;
	case 'c':
		if (parse_int(arg, 1, 1000, &v) == 0) {
			a->dns.opt.concurrency = (unsigned)v;
			return -1;
		}
		dm_cli_warn("--concurrency wants a number from 1 to 1000: "
		            "\"%s\"",
		    arg);
		return DM_EXIT_USAGE;
	default:
		return -2;
	}
}

static int
parse_args(int argc, char **argv, struct eargs *a)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"ttl", required_argument, NULL, 't'},
	    {"budget", required_argument, NULL, 'b'},
	    {"concurrency", required_argument, NULL, 'c'},
	    {"all", no_argument, NULL, 'a'}, {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
	    DM_CLI_DNS_LONGOPTS, {0, 0, 0, 0}};
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((rc = dm_cli_dns_option(&a->dns, c, optarg)) != 0) {
			if (rc < 0)
				return DM_EXIT_USAGE;
			continue;
		}
		if ((rc = own_option(a, c, optarg)) != -2) {
			if (rc >= 0)
				return rc;
			continue;
		}
		if (c == 'a' || c == 'j' || c == 'q') {
			*(c == 'a'     ? &a->all
			    : c == 'j' ? &a->json
			               : &a->quiet) = 1;
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
	return -1;
}

static void
print_stats(const struct dm_dns_enrich_stats *s, int json)
{
	if (json) {
		printf("{\"due\":%" PRIu64 ",\"looked_up\":%" PRIu64
		       ",\"ptr\":%" PRIu64 ",\"confirmed\":%" PRIu64
		       ",\"failed\":%" PRIu64 ",\"left\":%" PRIu64
		       ",\"services_updated\":%" PRIu64 "}\n",
		    s->due, s->looked_up, s->ptr, s->confirmed, s->failed,
		    s->left, s->services);
		return;
	}
	fprintf(stderr,
	    "enrich: %" PRIu64 " IPs looked up (%" PRIu64
	    " with reverse DNS, %" PRIu64 " forward-confirmed), %" PRIu64
	    " failed, %" PRIu64 " left for the next run; %" PRIu64
	    " services updated\n",
	    s->looked_up, s->ptr, s->confirmed, s->failed, s->left,
	    s->services);
}

int
dm_cli_enrich_status(const struct dm_dns_enrich_stats *s)
{
	if (s->left > 0 && s->looked_up == 0) {
		dm_cli_warn("enrich: no IP could be looked up (DNS "
		            "unreachable?); %" PRIu64 " left for the next run",
		    s->left);
		return DM_EXIT_FATAL;
	}
	if (s->left > 0)
		dm_cli_warn("enrich: %" PRIu64 " IPs left for the next run "
		            "(time budget spent, or DNS stopped answering)",
		    s->left);
	return s->left > 0 || s->failed > 0 ? DM_EXIT_PARTIAL : DM_EXIT_OK;
}

int
dm_cli_enrich_run(struct dm_store *store, struct dm_dns *d, int all,
    int64_t ttl_days, int64_t budget_s, struct dm_dns_enrich_stats *stats)
{
	struct dm_dns_enrich_options o;
	struct dm_error err;
	int rc;

	memset(&o, 0, sizeof(o));
	o.now = (int64_t)time(NULL);
	o.ttl = all ? -1 : ttl_days * DM_DAY_SECONDS;
	o.fail_ttl = o.ttl < DM_DAY_SECONDS ? o.ttl : DM_DAY_SECONDS;
	o.budget_ms = budget_s * 1000;
	dm_error_clear(&err);
	rc = dm_dns_enrich(d, store, &o, stats, &err);
	if (rc != DM_OK) {
		dm_cli_warn("enrich: %s", err.msg);
		return DM_EXIT_FATAL;
	}
	return DM_EXIT_OK;
}

int
dm_cmd_enrich(int argc, char **argv)
{
	struct eargs a;
	struct dm_dns_enrich_stats stats;
	struct dm_store *store = NULL;
	struct dm_dns *d = NULL;
	struct dm_error err;
	int rc;

	memset(&a, 0, sizeof(a));
	a.ttl_days = DM_CLI_ENRICH_TTL_DAYS;
	a.budget_s = DM_CLI_ENRICH_BUDGET_S;
	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	if (a.db == NULL && (a.db = dm_cli_default_db(0)) == NULL)
		return DM_EXIT_FATAL;
	if (access(a.db, F_OK) != 0) {
		dm_cli_warn("%s: no database there (run 'dmarcstat ingest' "
		            "first, or pass --db)",
		    a.db);
		return DM_EXIT_FATAL;
	}
	if ((rc = dm_cli_dns_open(&a.dns, &d)) != DM_EXIT_OK)
		return rc;
	dm_error_clear(&err);
	if (dm_store_open(&store, a.db, &err) != DM_OK) {
		dm_dns_close(d);
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_FATAL;
	}
	rc = dm_cli_enrich_run(store, d, a.all, a.ttl_days, a.budget_s, &stats);
	dm_store_close(store);
	dm_dns_close(d);
	if (rc != DM_EXIT_OK)
		return rc;
	if (!a.quiet || a.json)
		print_stats(&stats, a.json);
	return dm_cli_enrich_status(&stats);
}
