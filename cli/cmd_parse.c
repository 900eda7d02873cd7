/*
 * cmd_parse.c - `dmarcstat parse FILE...`: every report in every file, as JSON
 * Lines on stdout. Nothing is stored.  Problems go to stderr, one line each
 * naming the file and member, and make the exit status 1; the other files still
 * print.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "feedback_json.h"
#include "ingest.h"
#include "parse.h"

struct parse_run {
	struct dm_parser *parser;
	struct dm_fbjson json;
	int failed;
	int out_failed; /* standard output failed: the run stopped */
};

static void
report_problem(struct parse_run *r, const struct dm_unit *u, const char *member,
    const struct dm_error *e)
{
	const char *where = u->message;

	r->failed = 1;
	if (where != NULL && member != NULL)
		dm_cli_warn("%s: %s: %s: %s", u->path, where, member, e->msg);
	else if (where != NULL || member != NULL)
		dm_cli_warn("%s: %s: %s", u->path,
		    where != NULL ? where : member, e->msg);
	else
		dm_cli_warn("%s: %s", u->path, e->msg);
}

static int
on_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct parse_run *r = ctx;
	struct dm_error e;
	int rc;

	dm_error_clear(&e);
	rc = dm_ingest_payload_verdict(p, &e);
	if (rc == DM_OK &&
	    dm_fbjson_begin(&r->json, p->unit->path, p->member) != DM_OK)
		rc = dm_error_set(&e, DM_EIO, "cannot create a temporary file");
	if (rc == DM_OK)
		rc = dm_parse_run(r->parser, &p->src, &e);
	if (rc == DM_OK)
		rc = dm_fbjson_emit(&r->json, stdout, &e);
	/* Standard output failing is no fault of the input: stop, and let
	 * main say it once. */
	if (ferror(stdout)) {
		r->out_failed = 1;
		return dm_error_set(
		    err, DM_EIO, "cannot write standard output");
	}
	if (rc != DM_OK)
		report_problem(r, p->unit, p->member, &e);
	return DM_OK;
}

static int
on_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *pb, struct dm_error *err)
{
	(void)err;
	report_problem(ctx, u, member, pb);
	return DM_OK;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: dmarcstat parse FILE...\n\n"
	           "Prints every DMARC aggregate report found in the files "
	           "(plain XML, gzip, zip,\n"
	           "any nesting, mails, mboxes, Maildirs, folders; '-' reads "
	           "stdin) as JSON Lines,\n"
	           "one object per report.  Nothing is stored.  Exit status: 0 "
	           "all parsed, 1 some\n"
	           "input held no readable report (named on stderr) or "
	           "standard output could\n"
	           "not be written, 2 usage error.\n");
}

int
dm_cmd_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
	struct dm_limits lim = dm_limits_default();
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops = {0};
	struct parse_run r = {0};
	struct dm_sink sink;
	struct dm_error err;
	int c, i, status = DM_EXIT_OK;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return DM_EXIT_OK;
		}
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	dm_fbjson_init(&r.json);
	sink = dm_fbjson_sink(&r.json);
	if (dm_parser_new(&r.parser, &lim, &sink, &err) != DM_OK) {
		dm_cli_warn("%s", err.msg);
		dm_fbjson_free(&r.json);
		return DM_EXIT_FATAL;
	}
	ops.ctx = &r;
	ops.payload = on_payload;
	ops.problem = on_problem;
	for (i = optind; i < argc && !r.out_failed; i++) {
		dm_error_clear(&err);
		if (dm_ingest_walk(argv[i], &lim, &opt, &ops, &err) != DM_OK &&
		    !r.out_failed) {
			dm_cli_warn("%s", err.msg);
			r.failed = 1;
		}
	}
	if (r.failed)
		status = DM_EXIT_PARTIAL;
	dm_parser_free(r.parser);
	dm_fbjson_free(&r.json);
	return status;
}
