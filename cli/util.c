/* util.c - what every subcommand shares: the default database path, opening it
 * for reading, periods, output files written whole, and warnings. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "error.h"
#include "escape.h"
#include "i18n.h"
#include "mem.h"
#include "model.h"
#include "query.h"
#include "report.h"
#include "store.h"

/*
 * The line is escaped whole (core/escape.h): it quotes paths, member names and
 * messages that strangers chose, and must not act on the terminal.
 */
void
dm_cli_warn(const char *fmt, ...)
{
	struct dm_buf line, safe;
	va_list ap;
	int rc;

	dm_buf_init(&line, 1 << 20);
	dm_buf_init(&safe, 1 << 22);
	va_start(ap, fmt);
	rc = dm_buf_addv(&line, fmt, ap);
	va_end(ap);
	if (rc == DM_OK)
		rc = dm_escape_text(&safe, line.data);
	fprintf(stderr, "dmarcstat: %s\n",
	    rc == DM_OK ? safe.data : _("(message too long to show)"));
	dm_buf_free(&line);
	dm_buf_free(&safe);
}

const char *
dm_cli_safe(const char *s)
{
	static char bufs[4][16384];
	static int i;

	if (s == NULL)
		return "-";
	i = (i + 1) % 4;
	return dm_escape_line(bufs[i], sizeof(bufs[i]), s);
}

void
dm_cli_db_warnings(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return;
	if (st.st_mode & S_IWOTH)
		dm_cli_warn(_("warning: %s is writable by anyone (mode %04o): "
		              "anyone on this host can change what it says "
		              "(chmod 600 it)"),
		    path, (unsigned)(st.st_mode & 07777));
	if (st.st_uid != geteuid())
		dm_cli_warn(
		    _("warning: %s belongs to user %u, not to you (%u): "
		      "its -wal and -shm files will belong to you, and "
		      "may lock its owner out"),
		    path, (unsigned)st.st_uid, (unsigned)geteuid());
}

/* mkdir -p with mode 0700 for what it creates. */
static int
make_dirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

const char *
dm_cli_default_db(int create)
{
	static char path[4096];
	const char *env = getenv("DMARCSTAT_DB"),
	           *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env != NULL && env[0] != '\0')
		return env;
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(
		    path, sizeof(path), "%s/dmarcstat/dmarcstat.db", xdg);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(path, sizeof(path),
		    "%s/.local/share/dmarcstat/dmarcstat.db", home);
	else {
		dm_cli_warn(_("no database: set DMARCSTAT_DB or HOME, or pass "
		              "--db FILE"));
		return NULL;
	}
	if (n < 0 || (size_t)n >= sizeof(path)) {
		dm_cli_warn(_("database path too long"));
		return NULL;
	}
	if (create && make_dirs(path) != 0) {
		dm_cli_warn(_("cannot create the folder of %s: %s"), path,
		    strerror(errno));
		return NULL;
	}
	return path;
}

int
dm_cli_parse_days(const char *s, int64_t *days)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno != 0 || (*end != '\0' && strcmp(end, "d") != 0) ||
	    v < 1 || v > DM_CLI_MAX_DAYS)
		return -1;
	*days = v;
	return 0;
}

int
dm_cli_need_db(const char *path)
{
	if (access(path, F_OK) == 0)
		return DM_EXIT_OK;
	dm_cli_warn(_("%s: no database there (run 'dmarcstat ingest' first, or "
	              "pass --db)"),
	    path);
	return DM_EXIT_FATAL;
}

/*
 * Read-only: reading never writes the database, not even to create or upgrade
 * a schema (an empty file got one), so that a user who may only read it can
 * report too.  A database written by an older build is upgraded by ingest.
 */
int
dm_cli_open_query(const char *path, struct dm_query **q)
{
	struct dm_error err;

	dm_error_clear(&err);
	if (dm_cli_need_db(path) != DM_EXIT_OK)
		return DM_EXIT_FATAL;
	if (dm_query_open(q, path, &err) == DM_OK)
		return DM_EXIT_OK;
	dm_cli_warn("%s", err.msg);
	return DM_EXIT_FATAL;
}

const char *
dm_cli_day(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, n, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, n, "%" PRId64, t);
	return buf;
}

/*
 * An empty period, or one before dated reports, said with the days the user
 * gave or got by default: "--from must be before --to" is no help to someone
 * who gave no --to.  -1 when the period is fine.
 */
static int
period_check(const struct dm_cli_period *p, int64_t from, int64_t to)
{
	char f[32], t[32], last[32];

	dm_cli_day(from, f, sizeof(f));
	dm_cli_day(to, t, sizeof(t));
	dm_cli_day(to - DM_DAY_SECONDS, last, sizeof(last));
	if (from >= to && p->to != NULL)
		dm_cli_warn(
		    _("the period is empty: --from %s is not before --to "
		      "%s (--to is exclusive: the day after the last day)"),
		    f, t);
	else if (from >= to)
		dm_cli_warn(_("--from %s is after yesterday, %s: without --to "
		              "the period ends with yesterday (UTC)"),
		    f, last);
	else if (from < DM_FIRST_DATED)
		dm_cli_warn(_("--from %s is before 2000-01-01: reports dated "
		              "before it are counted apart, as undated"),
		    f);
	else
		return -1;
	return DM_EXIT_USAGE;
}

int
dm_cli_period(const struct dm_cli_period *p, int64_t default_days,
    int64_t *from, int64_t *to)
{
	struct dm_error err;
	int64_t now = (int64_t)time(NULL), days = default_days;
	const char *last = p->last_option != NULL ? p->last_option : "--last";

	dm_error_clear(&err);
	if ((p->now != NULL &&
	        dm_report_parse_time(p->now, &now, &err) != DM_OK) ||
	    (p->from != NULL &&
	        dm_report_parse_time(p->from, from, &err) != DM_OK) ||
	    (p->to != NULL && dm_report_parse_time(p->to, to, &err) != DM_OK)) {
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_USAGE;
	}
	if (p->last != NULL && (p->from != NULL || p->to != NULL)) {
		/* TRANSLATORS: %s is --last or --since. */
		dm_cli_warn(
		    _("%s cannot be combined with --from or --to"), last);
		return DM_EXIT_USAGE;
	}
	if (p->last != NULL && dm_cli_parse_days(p->last, &days) != 0) {
		dm_cli_warn(_("%s wants a number of days from 1 to 3660, such "
		              "as 7d: \"%s\""),
		    last, p->last);
		return DM_EXIT_USAGE;
	}
	if (p->to == NULL)
		*to = now / DM_DAY_SECONDS * DM_DAY_SECONDS;
	*to = (*to + DM_DAY_SECONDS - 1) / DM_DAY_SECONDS * DM_DAY_SECONDS;
	if (p->from == NULL)
		*from = *to - days * DM_DAY_SECONDS;
	*from = *from / DM_DAY_SECONDS * DM_DAY_SECONDS;
	return period_check(p, *from, *to);
}
/* "DIR/.NAME.XXXXXX" beside path; NULL when out of memory. */
static char *
temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	size_t n = strlen(path) + 10;
	char *t = malloc(n);

	if (t != NULL)
		snprintf(t, n, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
	return t;
}

/* The mode path would get from fopen: its own when it exists, else 0666 less
 * the umask. */
static mode_t
file_mode(const struct stat *st, int exists)
{
	mode_t um;

	if (exists)
		return st->st_mode & 07777;
	um = umask(0);
	umask(um);
	return 0666 & ~um;
}

int
dm_cli_out_open(struct dm_cli_out *o, const char *path)
{
	struct stat st;
	int exists = stat(path, &st) == 0, fd;

	memset(o, 0, sizeof(*o));
	o->path = path;
	if (exists && !S_ISREG(st.st_mode)) {
		if ((o->f = fopen(path, "w")) != NULL)
			return 0;
		dm_cli_warn("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((o->tmp = temp_name(path)) == NULL) {
		dm_cli_warn(_("%s: out of memory"), path);
		return -1;
	}
	if ((fd = mkstemp(o->tmp)) < 0 ||
	    fchmod(fd, file_mode(&st, exists)) != 0 ||
	    (o->f = fdopen(fd, "w")) == NULL) {
		dm_cli_warn("%s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	return 0;
}

int
dm_cli_out_commit(struct dm_cli_out *o)
{
	int failed = fflush(o->f) != 0 || ferror(o->f) ||
	             (o->tmp != NULL && fsync(fileno(o->f)) != 0);

	if (fclose(o->f) != 0)
		failed = 1;
	o->f = NULL;
	if (!failed && (o->tmp == NULL || rename(o->tmp, o->path) == 0)) {
		free(o->tmp);
		o->tmp = NULL;
		return 0;
	}
	dm_cli_warn("%s: %s", o->path, strerror(errno));
	dm_cli_out_abort(o);
	return -1;
}

void
dm_cli_out_abort(struct dm_cli_out *o)
{
	if (o->f != NULL)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp != NULL)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}
