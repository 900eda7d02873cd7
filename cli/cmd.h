/*
 * cmd.h - the subcommands of the dmarcstat executable.  Each takes the
 * arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit status.  cli/ only parses options, opens things, calls one
 * module function and maps results to exit codes.
 */
#ifndef DM_CMD_H
#define DM_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "dns.h"
#include "i18n.h"
#include "report.h"

/* Exit statuses, documented in --help and the README. */
enum {
	DM_EXIT_OK = 0,      /* everything went well */
	DM_EXIT_PARTIAL = 1, /* some inputs failed (quarantined / not parsed);
	                        the rest was done */
	DM_EXIT_USAGE = 2,   /* bad command line */
	DM_EXIT_FATAL = 3,   /* the database cannot be opened or written */
	DM_EXIT_LOST = 4     /* ingest: standard input failed and could not be
	                        kept whole (it exists nowhere else) */
};

int dm_cmd_parse(int argc, char **argv);
int dm_cmd_ingest(int argc, char **argv);
int dm_cmd_quarantine(int argc, char **argv);
int dm_cmd_report(int argc, char **argv);
int dm_cmd_explain(int argc, char **argv);
int dm_cmd_enrich(int argc, char **argv);
int dm_cmd_check(int argc, char **argv);
int dm_cmd_alerts(int argc, char **argv);

/*
 * The database path when --db is not given: $DMARCSTAT_DB, else
 * $XDG_DATA_HOME/dmarcstat/dmarcstat.db, else
 * ~/.local/share/dmarcstat/dmarcstat.db.  The directory is created (mode 0700)
 * when create is 1.  Returns a static buffer, or NULL with a message on stderr
 * when no home can be found.
 */
const char *dm_cli_default_db(int create);

/*
 * The DNS options that enrich, check and ingest --enrich share: --resolver,
 * --mmdb (repeatable) and --timeout, with $DMARCSTAT_RESOLVER and
 * $DMARCSTAT_MMDB (files separated by ':') as defaults.
 */
struct dm_cli_dns {
	struct dm_dns_options opt;
	const char *mmdb[16];
	size_t n_mmdb;
	/* report and explain: a services file that cannot be read (not
	 * broken) is a warning, and the built-in services are used. */
	int services_optional;
	/* check: no MMDB file, not even $DMARCSTAT_MMDB's (a broken one
	 * must not stop a command that has no use for it). */
	int no_mmdb;
};

#define DM_CLI_OPT_RESOLVER 0x100
#define DM_CLI_OPT_MMDB 0x101
#define DM_CLI_OPT_TIMEOUT 0x102
/* clang-format off */
/* check's: it shows no ASN or country, so it takes no --mmdb. */
#define DM_CLI_LOOKUP_LONGOPTS                                      \
	{"resolver", required_argument, NULL, DM_CLI_OPT_RESOLVER}, \
	{"timeout", required_argument, NULL, DM_CLI_OPT_TIMEOUT}
#define DM_CLI_DNS_LONGOPTS                                         \
	DM_CLI_LOOKUP_LONGOPTS,                                     \
	{"mmdb", required_argument, NULL, DM_CLI_OPT_MMDB}
/* clang-format on */

/* The --help lines of those options. */
#define DM_CLI_DNS_HELP                                                        \
	N_("  --resolver IP[:PORT]  DNS server for every lookup (default: "    \
	   "$DMARCSTAT_RESOLVER,\n"                                            \
	   "                     else the system's)\n"                         \
	   "  --mmdb FILE        MaxMind-format database for ASN and country " \
	   "(repeatable;\n"                                                    \
	   "                     default: $DMARCSTAT_MMDB, files separated "   \
	   "by "                                                               \
	   "':'); a missing\n"                                                 \
	   "                     file leaves those columns empty\n"            \
	   "  --timeout SECONDS  wait for each DNS answer (default 2; one "    \
	   "retry "                                                            \
	   "waits twice as long)\n")

/*
 * Takes getopt's option c and its argument when c is one of the DNS options:
 * 1; 0 when c is not one; -1 after a message when the value is bad.
 */
int dm_cli_dns_option(struct dm_cli_dns *o, int c, const char *arg);

/*
 * Opens the DNS handle with the options (and their environment defaults), the
 * MMDB files and the user's services file
 * ($XDG_CONFIG_HOME/dmarcstat/services).  DM_EXIT_OK, or DM_EXIT_USAGE after a
 * message (a bad resolver, a broken MMDB or services file), or DM_EXIT_FATAL.
 */
int dm_cli_dns_open(struct dm_cli_dns *o, struct dm_dns **d);

/* report/'s service_of hook (struct dm_report_options) over the services of
 * a handle from dm_cli_dns_open, passed as dns. */
const char *dm_cli_service_of(
    void *dns, const char *domain, enum dm_service_kind *kind);

/* Enrichment defaults: days an entry stays fresh, seconds a run may take
 * (cron runs should not pile up). */
#define DM_CLI_ENRICH_TTL_DAYS 7
#define DM_CLI_ENRICH_BUDGET_S 300

struct dm_store;
/*
 * Enriches the host table of store with d (see dm_dns_enrich): all looks every
 * IP up again, else entries older than ttl_days are (failed ones after a day,
 * or the TTL if shorter).  DM_EXIT_OK with *stats filled, or DM_EXIT_FATAL
 * after a message (the database failed).
 */
int dm_cli_enrich_run(struct dm_store *store, struct dm_dns *d, int all,
    int64_t ttl_days, int64_t budget_s, struct dm_dns_enrich_stats *stats);

/* The exit status of an enrichment's stats, with a line on stderr for what
 * needs attention: 0, 1 (some failed or left), 3 (nothing looked up). */
int dm_cli_enrich_status(const struct dm_dns_enrich_stats *s);

/* The most days --last and --ttl take: 10 years.  A longer period is given
 * with --from (or report --all). */
#define DM_CLI_MAX_DAYS 3660

/* "7d" or "7": a number of days, 1 to 3660, into *days; -1 when invalid. */
int dm_cli_parse_days(const char *s, int64_t *days);

/* The period options of report, explain and check, as given (NULL: absent).
 */
struct dm_cli_period {
	const char *last, *from, *to, *now;
	/* How the command spells --last in its messages ("--since"), or
	 * NULL for "--last". */
	const char *last_option;
};

/*
 * Whole UTC days [*from, *to) from --last Nd (default_days without it),
 * --from DAY, --to DAY (exclusive; default today, so the period ends with
 * yesterday) and --now (a test's "today").  -1, or DM_EXIT_USAGE after a
 * message naming the days: an empty period, or one before 2000-01-01.
 */
int dm_cli_period(const struct dm_cli_period *p, int64_t default_days,
    int64_t *from, int64_t *to);

/* "YYYY-MM-DD" of the UTC day of t into buf; returns buf. */
const char *dm_cli_day(int64_t t, char *buf, size_t n);

/*
 * The mail options of report and alerts: --mail-to ADDR[,ADDR...],
 * --mail-from ADDR, --subject TEXT, --sendmail [PATH].
 */
struct dm_cli_mail {
	const char *to, *from, *subject;
	const char *sendmail; /* the program, when --sendmail was given */
};

#define DM_CLI_OPT_MAIL_TO 0x200
#define DM_CLI_OPT_MAIL_FROM 0x201
#define DM_CLI_OPT_SUBJECT 0x202
#define DM_CLI_OPT_SENDMAIL 0x203
/* clang-format off */
#define DM_CLI_MAIL_LONGOPTS                                            \
	{"mail-to", required_argument, NULL, DM_CLI_OPT_MAIL_TO},       \
	{"mail-from", required_argument, NULL, DM_CLI_OPT_MAIL_FROM},   \
	{"subject", required_argument, NULL, DM_CLI_OPT_SUBJECT},       \
	{"sendmail", optional_argument, NULL, DM_CLI_OPT_SENDMAIL}
/* clang-format on */

#define DM_CLI_MAIL_HELP                                                       \
	"  --mail-to ADDR[,ADDR...]  write one mail (RFC 5322) for these "     \
	"addresses instead,\n"                                                 \
	"                     ready for 'sendmail -t'\n"                       \
	"  --mail-from ADDR   its sender (default: dmarcstat@ this host's "    \
	"name)\n"                                                              \
	"  --subject TEXT     its subject (default: the period, the filters "  \
	"and the\n"                                                            \
	"                     headline figures)\n"                             \
	"  --sendmail[=PATH]  pipe the mail to PATH -t -i (default "           \
	"/usr/sbin/sendmail)\n"                                                \
	"                     and exit with its status\n"

/*
 * Takes getopt's option c and its argument when c is a mail option: 1; 0
 * when it is not one.  "--sendmail PATH" (a separate word that is no option)
 * takes PATH as --sendmail=PATH does, advancing optind.
 */
int dm_cli_mail_option(
    struct dm_cli_mail *m, int c, const char *arg, int argc, char **argv);

/*
 * After the options: DM_EXIT_OK, or DM_EXIT_USAGE after a message when an
 * address is not one, or --mail-from, --subject or --sendmail came without
 * --mail-to.  -1 when no mail was asked for.
 */
int dm_cli_mail_check(const struct dm_cli_mail *m);

struct dm_mail;
/*
 * Builds the mail msg (its From, To and Subject set from m unless set) and
 * writes it to out, or pipes it to m->sendmail.  Returns the exit status: 0,
 * sendmail's own status when it failed, 1 after a message when sendmail could
 * not be run or the mail not built.
 */
int dm_cli_mail_deliver(
    const struct dm_cli_mail *m, struct dm_mail *msg, FILE *out);

/*
 * DM_EXIT_OK when a database file exists at path, else DM_EXIT_FATAL after
 * "PATH: no database there ...": the commands that only read or revisit a
 * database never create one, so that a mistyped --db is said, not shown as
 * an empty database.
 */
int dm_cli_need_db(const char *path);

struct dm_query;
/*
 * Opens the database at path read-only: it is never written, not even to
 * upgrade an older schema (ingest does that).  DM_EXIT_OK, or DM_EXIT_FATAL
 * after a message (no file there, not a database, an older schema).
 */
int dm_cli_open_query(const char *path, struct dm_query **q);

/*
 * s escaped for a terminal (core/escape.h: control characters, bidirectional
 * overrides and invalid UTF-8 made visible), "-" for NULL; in a static buffer
 * valid until the fourth call after.  Every string from a report or a mail
 * that is printed goes through it (dm_cli_warn escapes its whole line).
 */
const char *dm_cli_safe(const char *s);

/*
 * Before writing a database that exists: warns on stderr when anyone may
 * write it, or when it belongs to another user.
 */
void dm_cli_db_warnings(const char *path);

/*
 * An output file written whole or not at all: the text goes to a temporary
 * file beside path, which replaces path only when dm_cli_out_commit() succeeds;
 * dm_cli_out_abort() removes it, leaving path as it was.  A path that is not a
 * regular file (/dev/null, a FIFO, a terminal) is written directly.
 */
struct dm_cli_out {
	const char *path;
	char *tmp; /* the temporary file, or NULL when writing path directly */
	FILE *f;
};

/* Opens o for path; on failure prints "dmarcstat: PATH: reason" and returns
 * -1. */
int dm_cli_out_open(struct dm_cli_out *o, const char *path);
/* Closes and renames into place; on failure prints why, cleans up, returns
 * -1. */
int dm_cli_out_commit(struct dm_cli_out *o);
/* Closes and removes the temporary file (path is untouched).  NULL f is
 * fine. */
void dm_cli_out_abort(struct dm_cli_out *o);

/* Prints "dmarcstat: <msg>" on stderr, escaped like dm_cli_safe. */
void dm_cli_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/*
 * The language of messages: the user's locale, also where it is not generated
 * on this machine (cli/i18n.c), with the catalogue in $DMARCSTAT_LOCALEDIR or
 * the installed one.  Called once, first thing in main().
 */
void dm_cli_i18n_init(void);

/* --lang: "en" or "ja" instead of the locale's language; -1 for another. */
int dm_cli_i18n_lang(const char *lang);

#endif /* DM_CMD_H */
