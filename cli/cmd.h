/*
 * cmd.h - the subcommands of the dmarcstat executable.  Each takes the
 * arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit status.  cli/ only parses options, opens things, calls one
 * module function and maps results to exit codes.
 */
#ifndef DM_CMD_H
#define DM_CMD_H

/* Exit statuses, documented in --help and the README. */
enum {
	DM_EXIT_OK = 0,      /* everything went well */
	DM_EXIT_PARTIAL = 1, /* some inputs failed (quarantined / not parsed);
	                        the rest was done */
	DM_EXIT_USAGE = 2,   /* bad command line */
	DM_EXIT_FATAL = 3    /* the database cannot be opened or written */
};

int dm_cmd_parse(int argc, char **argv);
int dm_cmd_ingest(int argc, char **argv);
int dm_cmd_quarantine(int argc, char **argv);
int dm_cmd_report(int argc, char **argv);
int dm_cmd_explain(int argc, char **argv);

/*
 * The database path when --db is not given: $DMARCSTAT_DB, else
 * $XDG_DATA_HOME/dmarcstat/dmarcstat.db, else
 * ~/.local/share/dmarcstat/dmarcstat.db.  The directory is created (mode 0700)
 * when create is 1.  Returns a static buffer, or NULL with a message on stderr
 * when no home can be found.
 */
const char *dm_cli_default_db(int create);

/* Prints "dmarcstat: <msg>" on stderr. */
void dm_cli_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif /* DM_CMD_H */
