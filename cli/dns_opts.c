/*
 * dns_opts.c - the DNS options shared by enrich, check and ingest --enrich,
 * and opening dns/ with them: the resolver, the MMDB files, the user's
 * services file; the services as report/ asks for them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* The files of $DMARCSTAT_MMDB, kept for the run (the handle opens them). */
static char mmdb_env[4096];

/* Seconds as a decimal, more than 0 and at most 60, into milliseconds. */
static int
parse_timeout(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(v > 0) || v > 60)
		return -1;
	*ms = (int)(v * 1000 + 0.5);
	if (*ms < 1)
		*ms = 1;
	return 0;
}

int
dm_cli_dns_option(struct dm_cli_dns *o, int c, const char *arg)
{
	switch (c) {
	case DM_CLI_OPT_RESOLVER:
		o->opt.resolver = arg;
		return 1;
	case DM_CLI_OPT_MMDB:
		if (o->n_mmdb == sizeof(o->mmdb) / sizeof(o->mmdb[0])) {
			dm_cli_warn("--mmdb: at most 16 files");
			return -1;
		}
		o->mmdb[o->n_mmdb++] = arg;
		return 1;
	case DM_CLI_OPT_TIMEOUT:
		if (parse_timeout(arg, &o->opt.timeout_ms) == 0)
			return 1;
		dm_cli_warn("--timeout wants seconds, more than 0 and at most "
		            "60: \"%s\"",
		    arg);
		return -1;
	default:
		return 0;
	}
}

/* $DMARCSTAT_MMDB's files when no --mmdb was given. */
static void
mmdb_from_env(struct dm_cli_dns *o)
{
	const char *env = getenv("DMARCSTAT_MMDB");
	char *p, *save = NULL;

	if (o->n_mmdb > 0 || o->no_mmdb || env == NULL || env[0] == '\0' ||
	    strlen(env) >= sizeof(mmdb_env))
		return;
	memcpy(mmdb_env, env, strlen(env) + 1);
	for (p = strtok_r(mmdb_env, ":", &save);
	     p != NULL && o->n_mmdb < sizeof(o->mmdb) / sizeof(o->mmdb[0]);
	     p = strtok_r(NULL, ":", &save))
		o->mmdb[o->n_mmdb++] = p;
}

/* $XDG_CONFIG_HOME/dmarcstat/services, else ~/.config/dmarcstat/services. */
static const char *
services_path(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, size, "%s/dmarcstat/services", xdg);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(buf, size, "%s/.config/dmarcstat/services", home);
	else
		return NULL;
	return n > 0 && (size_t)n < size ? buf : NULL;
}

/* Loads the MMDB files and the services file; the exit status on failure. */
static int
load_files(struct dm_cli_dns *o, struct dm_dns *d)
{
	char buf[4096];
	const char *svc = services_path(buf, sizeof(buf));
	struct dm_error err;
	size_t i;

	dm_error_clear(&err);
	for (i = 0; i < o->n_mmdb; i++) {
		if (dm_dns_add_mmdb(d, o->mmdb[i], &err) < 0) {
			dm_cli_warn("%s", err.msg);
			return err.code == DM_ENOMEM ? DM_EXIT_FATAL
			                             : DM_EXIT_USAGE;
		}
	}
	if (svc != NULL && dm_dns_add_services(d, svc, &err) < 0) {
		if (err.code == DM_EIO && o->services_optional) {
			dm_cli_warn(
			    "%s; using the built-in services only", err.msg);
			return DM_EXIT_OK;
		}
		dm_cli_warn("%s", err.msg);
		return err.code == DM_ENOMEM ? DM_EXIT_FATAL : DM_EXIT_USAGE;
	}
	return DM_EXIT_OK;
}

const char *
dm_cli_service_of(void *dns, const char *domain, enum dm_service_kind *kind)
{
	const struct dm_dns_service *s = dm_dns_service(dns, domain);

	if (s == NULL)
		return NULL;
	*kind = dm_service_kind_of(s->kind);
	return s->name;
}

int
dm_cli_dns_open(struct dm_cli_dns *o, struct dm_dns **d)
{
	const char *env = getenv("DMARCSTAT_RESOLVER");
	struct dm_error err;
	int rc;

	if (o->opt.resolver == NULL && env != NULL && env[0] != '\0')
		o->opt.resolver = env;
	mmdb_from_env(o);
	dm_error_clear(&err);
	if (dm_dns_open(d, &o->opt, &err) != DM_OK) {
		dm_cli_warn("%s", err.msg);
		return err.code == DM_EINVAL ? DM_EXIT_USAGE : DM_EXIT_FATAL;
	}
	if ((rc = load_files(o, *d)) != DM_EXIT_OK) {
		dm_dns_close(*d);
		*d = NULL;
	}
	return rc;
}
