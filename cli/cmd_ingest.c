/*
 * cmd_ingest.c - `dmarcstat ingest [--db FILE] PATH|URL...`: store every report
 * of every input. Prints one summary line on stderr (or JSON on stdout with
 * --json), each problem on its own line, and a progress line only when stderr
 * is a terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "ingest.h"
#include "store.h"

struct ui {
	int quiet, progress;
	uint64_t files, messages;
	time_t last;
};

/* 84869 -> "84,869" */
static const char *
thousands(uint64_t v, char *buf, size_t size)
{
	char digits[32];
	size_t n, i, o = 0;

	snprintf(digits, sizeof(digits), "%" PRIu64, v);
	n = strlen(digits);
	for (i = 0; i < n && o + 2 < size; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static void
clear_progress(struct ui *ui)
{
	if (ui->progress && ui->files + ui->messages > 0)
		fputs("\r\033[K", stderr);
}

/* "ingesting: 12 files, 340 messages": messages of mailboxes and IMAP
 * folders count apart from files. */
static void
show_progress(struct ui *ui, const struct dm_unit *u)
{
	char a[32], b[32];

	if (u->mail != NULL)
		ui->messages++;
	else
		ui->files++;
	if (!ui->progress || time(NULL) == ui->last)
		return;
	ui->last = time(NULL);
	fprintf(stderr, "\r\033[Kingesting: ");
	if (ui->files > 0)
		fprintf(stderr, "%s files%s",
		    thousands(ui->files, a, sizeof(a)),
		    ui->messages > 0 ? ", " : "");
	if (ui->messages > 0)
		fprintf(stderr, "%s messages",
		    thousands(ui->messages, b, sizeof(b)));
}

static void
on_event(void *ctx, enum dm_ingest_event ev, const struct dm_unit *u,
    const char *member, const struct dm_error *e)
{
	struct ui *ui = ctx;
	const char *what = ev == DM_INGEST_SKIPPED  ? "skipped"
	                   : ev == DM_INGEST_FAILED ? "failed"
	                                            : "quarantined";
	char where[2048];

	if (ev == DM_INGEST_UNIT_DONE) {
		show_progress(ui, u);
		return;
	}
	if (ev == DM_INGEST_SKIPPED && ui->quiet)
		return;
	snprintf(where, sizeof(where), "%s%s%s%s%s", u->path,
	    u->message ? ": " : "", u->message ? u->message : "",
	    member ? ": " : "", member ? member : "");
	clear_progress(ui);
	if (ev == DM_INGEST_FAILED)
		dm_cli_warn("%s: %s", what, e->msg);
	else
		dm_cli_warn("%s: %s: %s (%s)", what, where, e->msg,
		    e->reason ? e->reason : "error");
}

/* What the inputs' units are called in the summary: the messages of IMAP
 * folders are not files.  (A Maildir message is a file; an mbox holds
 * messages, but its path does not say so before it is read.)  The URL test
 * is ingest's (a scheme, any case). */
static const char *
units_noun(const char *const *inputs, size_t n)
{
	size_t i, imap = 0;

	for (i = 0; i < n; i++)
		imap += strncasecmp(inputs[i], "imap://", 7) == 0 ||
		        strncasecmp(inputs[i], "imaps://", 8) == 0;
	return imap == 0   ? "files"
	       : imap == n ? "messages"
	                   : "files and messages";
}

static void
print_summary(const struct dm_ingest_stats *s, const char *noun, int json)
{
	char a[32], b[32], c[32];

	if (json) {
		printf("{\"files\":%" PRIu64 ",\"seen\":%" PRIu64
		       ",\"reports\":%" PRIu64 ",\"records\":%" PRIu64
		       ",\"messages\":%" PRIu64 ",\"duplicates\":%" PRIu64
		       ",\"conflicts\":%" PRIu64 ",\"quarantined\":%" PRIu64
		       ",\"skipped\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"lost\":%" PRIu64 "}\n",
		    s->units, s->seen, s->reports, s->records, s->messages,
		    s->duplicates, s->conflicts, s->quarantined, s->skipped,
		    s->failed, s->lost);
		return;
	}
	fprintf(stderr, "%s %s", thousands(s->units, a, sizeof(a)), noun);
	if (s->seen > 0)
		fprintf(stderr, " (%s already seen)",
		    thousands(s->seen, a, sizeof(a)));
	fprintf(stderr,
	    ": %s reports (%s records, %s messages) stored, %" PRIu64
	    " duplicates",
	    thousands(s->reports, a, sizeof(a)),
	    thousands(s->records, b, sizeof(b)),
	    thousands(s->messages, c, sizeof(c)), s->duplicates);
	if (s->conflicts > 0)
		fprintf(
		    stderr, " (%" PRIu64 " with other content)", s->conflicts);
	fprintf(stderr,
	    ", %" PRIu64 " quarantined, %" PRIu64
	    " skipped (not aggregate reports)",
	    s->quarantined, s->skipped);
	if (s->failed > 0)
		fprintf(stderr, ", %" PRIu64 " unreadable", s->failed);
	if (s->lost > 0)
		fprintf(stderr,
		    ", %" PRIu64 " from standard input not kept whole",
		    s->lost);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	/* clang-format off */
	fputs(
	    "usage: dmarcstat ingest [--db FILE] [--json] [--quiet] [--move-to DEST]\n"
	    "                        [--failed-to DEST] [--limit N] [IMAP options]\n"
	    "                        PATH|URL...\n"
	    "\n"
	    "Stores every DMARC aggregate report found in PATH: files (XML, gzip, zip, any\n"
	    "nesting), folders (recursive), mails, mboxes, Maildirs, or '-' for one file or\n"
	    "mail on standard input; and in the new messages of IMAP folders, given as\n"
	    "imaps://USER@HOST/FOLDER (or imap://, which must upgrade with STARTTLS).\n"
	    "Inputs already stored are skipped; reports already stored count as duplicates;\n"
	    "inputs that cannot be stored are kept in the quarantine (see 'dmarcstat\n"
	    "quarantine').\n"
	    "\n"
	    "  --db FILE          database (default: $DMARCSTAT_DB, else\n"
	    "                     $XDG_DATA_HOME/dmarcstat/dmarcstat.db)\n"
	    "  --json             print the summary as JSON on stdout\n"
	    "  --quiet            print only problems\n"
	    "  --move-to DEST     move each message to DEST once its reports are stored:\n"
	    "                     a Maildir, or for an IMAP input a folder on its server\n"
	    "  --failed-to DEST   move messages that failed to DEST (else they stay)\n"
	    "  --limit N          fetch at most N messages from IMAP servers in this run\n"
	    "  --enrich           then look up the new source IPs (see 'dmarcstat enrich'),\n"
	    "                     with these options:\n" DM_CLI_DNS_HELP
	    "\n"
	    "IMAP (the user goes in the URL, %40 for an @ in it; a password never does):\n"
	    "  --password-file F  the password: the first line of F, a file only its\n"
	    "                     owner may read (chmod 600 F)\n"
	    "  --netrc            the password from ~/.netrc\n"
	    "  --oauth2-token-file F\n"
	    "                     an OAuth 2.0 access token (XOAUTH2, OAUTHBEARER): the\n"
	    "                     first line of F, read again on every run\n"
	    "  --cacert FILE      CA certificates (PEM) to verify the server with\n"
	    "  --insecure-plaintext\n"
	    "                     imap:// without TLS, to a test server on this machine\n"
	    "Without these, the password is $DMARCSTAT_IMAP_PASSWORD.  The server's\n"
	    "certificate is always verified.  A message is moved only after its reports\n"
	    "are committed; without --move-to it stays, flagged \\Seen.\n"
	    "\n"
	    "Exit status: 0 all stored (or already there), 1 some inputs quarantined or\n"
	    "unreadable, an IMAP folder failed part-way, or (with --enrich) some lookups\n"
	    "failed, 2 usage error, 3 the database cannot be opened or written, or nothing\n"
	    "could be read: every input failed, an IMAP server among them, 4 standard\n"
	    "input failed and could not be kept whole (it is not safe in the database).\n",
	    f);
	/* clang-format on */
}

struct args {
	const char *db;
	int json, quiet, enrich;
	struct dm_ingest_options opt;
	struct dm_cli_dns dns;
	struct dm_imap_options imap;
	uint64_t limit;
};

/* --limit N: a count of messages, at least 1. */
static int
parse_limit(const char *arg, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v == 0) {
		dm_cli_warn(
		    "ingest: --limit needs a count of messages: %s", arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* The IMAP options: 0 taken, -1 a bad value, 1 not one of them. */
static int
imap_option(int c, struct args *a)
{
	switch (c) {
	case 'P':
		a->imap.password_file = optarg;
		return 0;
	case 'N':
		a->imap.netrc = 1;
		return 0;
	case 'O':
		a->imap.oauth2_token_file = optarg;
		return 0;
	case 'C':
		a->imap.cacert = optarg;
		return 0;
	case 'I':
		a->imap.insecure_plaintext = 1;
		return 0;
	case 'L':
		a->imap.limit = &a->limit;
		return parse_limit(optarg, &a->limit);
	default:
		return 1;
	}
}

/* One source of credentials; the environment's password is the fallback. */
static int
check_imap(struct args *a)
{
	if ((a->imap.password_file != NULL) + a->imap.netrc +
	        (a->imap.oauth2_token_file != NULL) >
	    1) {
		dm_cli_warn("ingest: --password-file, --netrc and "
		            "--oauth2-token-file exclude each other");
		return -1;
	}
	a->imap.password = getenv("DMARCSTAT_IMAP_PASSWORD");
	a->opt.walk.imap = &a->imap;
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'}, {"quiet", no_argument, NULL, 'q'},
	    {"move-to", required_argument, NULL, 'm'},
	    {"failed-to", required_argument, NULL, 'f'},
	    {"enrich", no_argument, NULL, 'e'},
	    {"password-file", required_argument, NULL, 'P'},
	    {"netrc", no_argument, NULL, 'N'},
	    {"oauth2-token-file", required_argument, NULL, 'O'},
	    {"cacert", required_argument, NULL, 'C'},
	    {"insecure-plaintext", no_argument, NULL, 'I'},
	    {"limit", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'}, DM_CLI_DNS_LONGOPTS,
	    {0, 0, 0, 0}};
	int c, rc;

	while ((c = getopt_long(argc, argv, "d:jqh", longopts, NULL)) != -1) {
		if ((rc = dm_cli_dns_option(&a->dns, c, optarg)) != 0 ||
		    (rc = imap_option(c, a)) <= 0) {
			if (rc < 0)
				return DM_EXIT_USAGE;
			continue;
		}
		switch (c) {
		case 'd':
			a->db = optarg;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'q':
			a->quiet = 1;
			break;
		case 'm':
			a->opt.walk.move_to = optarg;
			break;
		case 'f':
			a->opt.walk.failed_to = optarg;
			break;
		case 'e':
			a->enrich = 1;
			break;
		case 'h':
			usage(stdout);
			return DM_EXIT_OK;
		default:
			usage(stderr);
			return DM_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		dm_cli_warn("ingest: no PATH given");
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	return check_imap(a) == 0 ? -1 : DM_EXIT_USAGE;
}

/* 3 when nothing could be read and an IMAP server was among the failures:
 * cron should see that the run did nothing, as with a broken database. */
static int
exit_status(const struct dm_ingest_stats *s, size_t n_inputs)
{
	if (s->unreachable > 0 && s->failed == n_inputs)
		return DM_EXIT_FATAL;
	if (s->lost > 0)
		return DM_EXIT_LOST;
	return s->quarantined > 0 || s->failed > 0 ? DM_EXIT_PARTIAL
	                                           : DM_EXIT_OK;
}

/*
 * The enrichment of ingest --enrich, once every input is stored.  DNS failures
 * make the status 1 at most: the reports themselves are safe, and a pipe from
 * an MTA must not have the mail retried over a DNS timeout.
 */
static int
enrich_after(struct dm_store *store, struct dm_dns *d, int quiet, int rc)
{
	struct dm_dns_enrich_stats es;
	int erc = dm_cli_enrich_run(
	    store, d, 0, DM_CLI_ENRICH_TTL_DAYS, DM_CLI_ENRICH_BUDGET_S, &es);

	if (erc != DM_EXIT_OK)
		return erc;
	if (!quiet)
		fprintf(stderr,
		    "enrich: %" PRIu64 " IPs looked up, %" PRIu64
		    " failed, %" PRIu64 " left for the next run\n",
		    es.looked_up, es.failed, es.left);
	erc = dm_cli_enrich_status(&es);
	return erc != DM_EXIT_OK && rc == DM_EXIT_OK ? DM_EXIT_PARTIAL : rc;
}

int
dm_cmd_ingest(int argc, char **argv)
{
	struct dm_limits lim = dm_limits_default();
	struct args a = {0};
	struct ui ui = {0};
	struct dm_ingest_stats stats;
	struct dm_store *store = NULL;
	struct dm_dns *dns = NULL;
	struct dm_error err;
	int rc;

	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	if (a.db == NULL && (a.db = dm_cli_default_db(1)) == NULL)
		return DM_EXIT_FATAL;
	dm_cli_db_warnings(a.db);
	/* A bad --resolver or MMDB file is refused before anything is stored.
	 */
	if (a.enrich && (rc = dm_cli_dns_open(&a.dns, &dns)) != DM_EXIT_OK)
		return rc;
	dm_error_clear(&err);
	if (dm_store_open(&store, a.db, &err) != DM_OK) {
		dm_dns_close(dns);
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_FATAL;
	}
	ui.quiet = a.quiet;
	ui.progress = !a.quiet && isatty(STDERR_FILENO);
	a.opt.notify = on_event;
	a.opt.notify_ctx = &ui;
	rc = dm_ingest_run(store, (const char *const *)argv + optind,
	    (size_t)(argc - optind), &lim, &a.opt, &stats, &err);
	clear_progress(&ui);
	if (rc != DM_OK) {
		dm_store_close(store);
		dm_dns_close(dns);
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_FATAL;
	}
	if (!a.quiet || a.json)
		print_summary(&stats,
		    units_noun((const char *const *)argv + optind,
		        (size_t)(argc - optind)),
		    a.json);
	rc = exit_status(&stats, (size_t)(argc - optind));
	if (a.enrich)
		rc = enrich_after(store, dns, a.quiet, rc);
	dm_store_close(store);
	dm_dns_close(dns);
	return rc;
}
