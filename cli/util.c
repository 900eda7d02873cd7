/* util.c - what every subcommand shares: the default database path and
 * warnings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"

void
dm_cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("dmarcstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
		dm_cli_warn(
		    "no database: set DMARCSTAT_DB or HOME, or pass --db FILE");
		return NULL;
	}
	if (n < 0 || (size_t)n >= sizeof(path)) {
		dm_cli_warn("database path too long");
		return NULL;
	}
	if (create && make_dirs(path) != 0) {
		dm_cli_warn("cannot create the folder of %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	return path;
}
