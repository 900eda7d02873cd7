/*
 * main.c - dmarcstat's entry point: picks the subcommand and hands over.
 * Nothing else lives here (curl's tool_main.c); each subcommand is a cmd_*.c
 * file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "dns.h"
#include "i18n.h"
#include "ingest.h"
#include "parse.h"
#include "store.h"

#ifndef DM_VERSION
#define DM_VERSION "0.1.0"
#endif

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
    {"parse", dm_cmd_parse,
        N_("print the reports in files as JSON Lines (nothing stored)")},
    {"ingest", dm_cmd_ingest,
        N_("store the reports of files, folders, mails and mailboxes")},
    {"quarantine", dm_cmd_quarantine,
        N_("list, show or retry inputs that could not be stored")},
    {"report", dm_cmd_report,
        N_("deliverability report: ISPs, sources, causes and fixes")},
    {"explain", dm_cmd_explain,
        N_("what ISPs did with the mail of some IPs, and why")},
    {"alerts", dm_cmd_alerts,
        N_("what got worse since the period before: for cron, exit 1 on "
           "alerts")},
    {"enrich", dm_cmd_enrich,
        N_("reverse DNS, sending service, ASN and country of source IPs")},
    {"check", dm_cmd_check,
        N_("check a domain's DMARC, SPF and DKIM records in DNS now")},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(
	    f, _("usage: dmarcstat COMMAND [OPTIONS] [ARGS]\n\ncommands:\n"));
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name,
		    _(commands[i].summary));
	fprintf(
	    f, _("\n'dmarcstat COMMAND --help' describes a command.  Exit "
	         "status: 0 success,\n"
	         "1 some inputs failed (check: something to fix) or the "
	         "output could not\n"
	         "be written, 2 usage error,\n"
	         "3 database cannot be opened or written (check, enrich: or "
	         "DNS unreachable),\n"
	         "4 (ingest) standard input failed and could not be kept "
	         "whole.\n"));
}

/* The version, and those of the libraries it runs with (curl -V's second
 * line), so that a bug report says which libxml2 read the report. */
static int
version(void)
{
	char v[4][512];

	dm_parse_versions(v[0], sizeof(v[0]));
	dm_store_versions(v[1], sizeof(v[1]));
	dm_ingest_versions(v[2], sizeof(v[2]));
	dm_dns_versions(v[3], sizeof(v[3]));
	printf(
	    "dmarcstat %s\n%s %s %s %s\n", DM_VERSION, v[0], v[1], v[2], v[3]);
	return DM_EXIT_OK;
}

/*
 * One rule for every command: what a command wrote to standard output is
 * checked here, once, after it returns.  A failure (a full disk, a closed
 * pipe) is said and makes the status 1 at least, so that cron learns that
 * the output it keeps is incomplete.  Standard error that could not be
 * written (a warning, ingest's summary) makes the status 1 as well: nothing
 * can be said about it, but cron must not take the run for a clean one.
 */
static int
stdout_checked(int status)
{
	int flushed = fflush(stdout) == 0, e = errno;
	int bad_stderr = fflush(stderr) != 0 || ferror(stderr);

	if (flushed && !ferror(stdout))
		return bad_stderr && status == DM_EXIT_OK ? DM_EXIT_PARTIAL
		                                          : status;
	if (!flushed)
		fprintf(stderr,
		    _("dmarcstat: cannot write standard output: %s\n"),
		    strerror(e));
	else
		fprintf(stderr, _("dmarcstat: cannot write standard output\n"));
	return status == DM_EXIT_OK ? DM_EXIT_PARTIAL : status;
}

int
main(int argc, char **argv)
{
	size_t i;

	dm_cli_i18n_init();
	if (argc < 2) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return stdout_checked(DM_EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0)
		return stdout_checked(version());
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return stdout_checked(
			    commands[i].run(argc - 1, argv + 1));
	}
	fprintf(stderr, _("dmarcstat: unknown command '%s'\n"), argv[1]);
	usage(stderr);
	return DM_EXIT_USAGE;
}
