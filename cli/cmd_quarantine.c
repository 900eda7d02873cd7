/*
 * cmd_quarantine.c - `dmarcstat quarantine [list|show ID|retry [ID...]]`: the
 * inputs that could not be stored, why, and a way to run them again through the
 * current parser.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "ingest.h"
#include "json.h"
#include "mem.h"
#include "store.h"

struct qargs {
	const char *db;
	int json, all, raw;
	int keep_new, keep_stored;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dmarcstat quarantine [--db FILE] [list] [--all] [--json]\n"
	    "       dmarcstat quarantine [--db FILE] show [--raw] ID\n"
	    "       dmarcstat quarantine [--db FILE] retry [ID...]\n"
	    "       dmarcstat quarantine [--db FILE] resolve ID --keep-new | "
	    "--keep-stored\n\n"
	    "Inputs that could not be stored are kept (compressed) with a "
	    "reason code.\n"
	    "  list      the unresolved entries (--all: resolved ones too; "
	    "--json: as JSON)\n"
	    "  show ID   one entry in full; --raw writes the kept bytes to "
	    "stdout instead\n"
	    "  retry     runs the entries (all unresolved, or the IDs given) "
	    "through the\n"
	    "            current parser and stores what now succeeds; those "
	    "are resolved\n"
	    "  resolve   settles a conflict (a report with the identity of a "
	    "stored one but\n"
	    "            other content): --keep-new stores this copy in place "
	    "of the stored\n"
	    "            one, --keep-stored keeps the stored one\n\n"
	    "Exit status: 0 success (retry: all resolved), 1 some entries "
	    "still fail,\n"
	    "2 usage error (or unknown ID), 3 database cannot be opened or "
	    "written.\n");
}

static const char *
utc(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		return "-";
	strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
	return buf;
}

static void
print_row_text(const struct dm_store_quarantine_row *r)
{
	char when[32];

	printf("%-5" PRId64 " %-16s %-16s %s%s%s\n      %s\n", r->id,
	    utc(r->first_seen, when, sizeof(when)), dm_cli_safe(r->reason),
	    dm_cli_safe(r->path), r->member ? ": " : "",
	    r->member ? dm_cli_safe(r->member) : "",
	    r->message ? dm_cli_safe(r->message) : "");
}

static int
row_json(struct dm_buf *b, const struct dm_store_quarantine_row *r)
{
	int rc = dm_buf_addf(b, "{\"id\":%" PRId64 ",\"path\":", r->id);

	if (rc == DM_OK)
		rc = dm_json_str(b, r->path);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"member\":");
	if (rc == DM_OK)
		rc = dm_json_str(b, r->member);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"reason\":");
	if (rc == DM_OK)
		rc = dm_json_str(b, r->reason);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"message\":");
	if (rc == DM_OK)
		rc = dm_json_str(b, r->message);
	if (rc == DM_OK)
		rc = dm_buf_addf(b,
		    ",\"size\":%" PRIu64
		    ",\"truncated\":%s,\"first_seen\":%" PRId64
		    ",\"last_tried\":%" PRId64
		    ",\"attempts\":%u,\"resolved\":%s,\"conflict_report\":",
		    r->size, r->truncated ? "true" : "false", r->first_seen,
		    r->last_tried, r->attempts, r->resolved ? "true" : "false");
	if (rc == DM_OK)
		rc = dm_json_int(b, r->conflict_report, 0);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, "}");
	return rc;
}

/* Calls fn for each entry (all or unresolved). */
static int
each_row(struct dm_store *s, int all,
    int (*fn)(void *ctx, const struct dm_store_quarantine_row *), void *ctx,
    struct dm_error *err)
{
	struct dm_store_quarantine_row row;
	struct dm_store_qcursor *c;
	int rc;

	if ((rc = dm_store_quarantine_open(s, all, &c, err)) != DM_OK)
		return rc;
	while ((rc = dm_store_quarantine_next(c, &row, err)) == DM_OK) {
		if ((rc = fn(ctx, &row)) != DM_OK)
			break;
	}
	dm_store_quarantine_close(c);
	return rc == DM_DONE ? DM_OK : rc;
}

struct list_ctx {
	struct dm_buf json;
	int json_mode;
	unsigned n;
};

static int
list_one(void *ctx, const struct dm_store_quarantine_row *r)
{
	struct list_ctx *l = ctx;
	int rc = DM_OK;

	if (l->json_mode) {
		if (l->n > 0)
			rc = dm_buf_adds(&l->json, ",");
		if (rc == DM_OK)
			rc = row_json(&l->json, r);
	} else {
		if (l->n == 0)
			printf("%-5s %-16s %-16s %s\n", "ID",
			    "FIRST SEEN (UTC)", "REASON", "INPUT");
		print_row_text(r);
	}
	l->n++;
	return rc;
}

static int
cmd_list(struct dm_store *s, const struct qargs *a, struct dm_error *err)
{
	struct list_ctx l = {.json_mode = a->json};
	int rc;

	dm_buf_init(&l.json, (size_t)1 << 30);
	dm_buf_adds(&l.json, "[");
	rc = each_row(s, a->all, list_one, &l, err);
	if (rc == DM_OK && a->json)
		printf("%s]\n", l.json.data);
	else if (rc == DM_OK && l.n == 0)
		fprintf(stderr, "the quarantine is empty\n");
	dm_buf_free(&l.json);
	return rc;
}

struct find_ctx {
	int64_t id;
	int found;
	struct dm_store_quarantine_row row;
	char *path, *member, *reason, *message;
};

static int
find_one(void *ctx, const struct dm_store_quarantine_row *r)
{
	struct find_ctx *f = ctx;

	if (r->id != f->id)
		return DM_OK;
	f->found = 1;
	f->row = *r;
	f->row.path = f->path = dm_strdup(r->path);
	f->row.member = f->member = dm_strdup(r->member);
	f->row.reason = f->reason = dm_strdup(r->reason);
	f->row.message = f->message = dm_strdup(r->message);
	return DM_DONE;
}

static void
find_free(struct find_ctx *f)
{
	dm_free(f->path);
	dm_free(f->member);
	dm_free(f->reason);
	dm_free(f->message);
}

/* An entry ID: a decimal number from 1 to INT64_MAX, nothing else (no sign,
 * no space, no overflow clamped to the maximum). */
static int
parse_id(const char *s, int64_t *id)
{
	char *end;
	long long v;

	*id = 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno == ERANGE || v <= 0)
		return -1;
	*id = v;
	return 0;
}

static int
bad_id(const char *sub, const char *arg, struct dm_error *err)
{
	return dm_error_set(err, DM_EINVAL,
	    "quarantine %s: '%s' is not an entry ID (a number from 1 to "
	    "9223372036854775807)",
	    sub, arg);
}

static int
show_text(struct dm_store *s, const struct find_ctx *f, struct dm_error *err)
{
	char a[32], b[32];
	void *bytes = NULL;
	size_t n = 0;
	int rc;

	printf("id:          %" PRId64
	       "\ninput:       %s\nmember:      %s\nreason:      %s\n"
	       "message:     %s\nsize:        %" PRIu64
	       " bytes%s\nfirst seen:  %s UTC\n"
	       "last tried:  %s UTC\nattempts:    %u\nresolved:    %s\n",
	    f->row.id, dm_cli_safe(f->row.path), dm_cli_safe(f->row.member),
	    dm_cli_safe(f->row.reason),
	    f->row.message ? dm_cli_safe(f->row.message) : "", f->row.size,
	    f->row.truncated ? " (only the first bytes kept)" : "",
	    utc(f->row.first_seen, a, sizeof(a)),
	    utc(f->row.last_tried, b, sizeof(b)), f->row.attempts,
	    f->row.resolved ? "yes" : "no");
	if ((rc = dm_store_quarantine_get(s, f->row.id, &bytes, &n, err)) !=
	    DM_OK)
		return rc;
	printf("kept bytes:  %zu ('dmarcstat quarantine show --raw %" PRId64
	       "' writes them out)\n",
	    n, f->row.id);
	if (f->row.conflict_report > 0)
		printf("conflicts with stored report %" PRId64
		       " ('dmarcstat quarantine resolve %" PRId64
		       " --keep-new' or '--keep-stored')\n",
		    f->row.conflict_report, f->row.id);
	dm_free(bytes);
	return DM_OK;
}

static int
cmd_show(struct dm_store *s, const struct qargs *a, int argc, char **argv,
    struct dm_error *err)
{
	struct find_ctx f = {0};
	void *bytes = NULL;
	size_t n = 0;
	int rc;

	(void)argc;
	(void)parse_id(argv[0], &f.id); /* checked by check_args */
	rc = each_row(s, 1, find_one, &f, err);
	if (rc == DM_OK && !f.found)
		rc = dm_error_set(
		    err, DM_EINVAL, "quarantine: no entry %" PRId64, f.id);
	if (rc == DM_OK && !a->raw)
		rc = show_text(s, &f, err);
	else if (rc == DM_OK) {
		rc = dm_store_quarantine_get(s, f.id, &bytes, &n, err);
		/* A write error is main's to report, as for every command. */
		if (rc == DM_OK)
			(void)fwrite(bytes, 1, n, stdout);
		dm_free(bytes);
	}
	find_free(&f);
	return rc;
}

struct ids {
	int64_t *v;
	size_t n, cap;
};

static int
collect_id(void *ctx, const struct dm_store_quarantine_row *r)
{
	struct ids *ids = ctx;

	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;
		int64_t *v = dm_realloc(ids->v, cap * sizeof(*v));

		if (v == NULL)
			return DM_ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n++] = r->id;
	return DM_OK;
}

static int
retry_ids(struct dm_store *s, const struct ids *ids, int *still_failing,
    struct dm_error *err)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_ingest_options opt = {0};
	struct dm_ingest_stats st;
	size_t i;
	int rc = DM_OK, resolved;

	for (i = 0; i < ids->n && rc == DM_OK; i++) {
		struct dm_error e;

		dm_error_clear(&e);
		rc = dm_ingest_retry(
		    s, ids->v[i], &lim, &opt, &st, &resolved, &e);
		if (rc == DM_EINVAL || rc == DM_EFORMAT) {
			dm_cli_warn(
			    "quarantine %" PRId64 ": %s", ids->v[i], e.msg);
			*still_failing = 1;
			rc = DM_OK;
		} else if (rc != DM_OK) {
			*err = e;
		} else if (resolved) {
			printf("%" PRId64 ": resolved: %" PRIu64
			       " reports (%" PRIu64 " records) stored, %" PRIu64
			       " duplicates\n",
			    ids->v[i], st.reports, st.records, st.duplicates);
		} else {
			printf("%" PRId64 ": still failing (see 'dmarcstat "
			       "quarantine show %" PRId64 "')\n",
			    ids->v[i], ids->v[i]);
			*still_failing = 1;
		}
	}
	return rc;
}

static int
cmd_retry(struct dm_store *s, int argc, char **argv, int *still_failing,
    struct dm_error *err)
{
	struct ids ids = {0};
	int64_t id;
	int i, rc = DM_OK;

	for (i = 0; i < argc && rc == DM_OK; i++) {
		struct dm_store_quarantine_row r = {0};

		(void)parse_id(argv[i], &id); /* checked by check_args */
		r.id = id;
		rc = collect_id(&ids, &r);
	}
	if (rc == DM_OK && argc == 0)
		rc = each_row(s, 0, collect_id, &ids, err);
	if (rc == DM_OK)
		rc = retry_ids(s, &ids, still_failing, err);
	if (rc == DM_OK && ids.n == 0)
		fprintf(stderr, "the quarantine is empty\n");
	dm_free(ids.v);
	return rc;
}

/* `resolve ID --keep-new | --keep-stored`. */
static int
cmd_resolve(struct dm_store *s, const struct qargs *a, int argc, char **argv,
    int *still_failing, struct dm_error *err)
{
	struct dm_limits lim = dm_limits_default();
	struct dm_ingest_options opt = {0};
	struct dm_ingest_stats st;
	int64_t id;
	int rc, resolved;

	(void)argc;
	(void)parse_id(argv[0], &id); /* checked by check_args */
	rc = dm_ingest_resolve(s, id,
	    a->keep_new ? DM_RESOLVE_KEEP_NEW : DM_RESOLVE_KEEP_STORED, &lim,
	    &opt, &st, &resolved, err);
	if (rc == DM_EFORMAT) {
		dm_cli_warn("quarantine %" PRId64 ": %s", id, err->msg);
		*still_failing = 1;
		return DM_OK;
	}
	if (rc != DM_OK)
		return rc;
	if (!resolved) {
		printf("%" PRId64
		       ": not resolved: this copy could not be stored "
		       "(see 'dmarcstat quarantine show %" PRId64 "')\n",
		    id, id);
		*still_failing = 1;
	} else if (a->keep_new) {
		printf("%" PRId64
		       ": resolved: this copy stored in place of the "
		       "stored one (%" PRIu64 " records)\n",
		    id, st.records);
	} else {
		printf(
		    "%" PRId64 ": resolved: the stored report is kept\n", id);
	}
	return DM_OK;
}

static int
parse_args(int argc, char **argv, struct qargs *a)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'},
	    {"raw", no_argument, NULL, 'r'},
	    {"keep-new", no_argument, NULL, 'N'},
	    {"keep-stored", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "d:jarh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a->db = optarg;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'a':
			a->all = 1;
			break;
		case 'r':
			a->raw = 1;
			break;
		case 'N':
			a->keep_new = 1;
			break;
		case 'S':
			a->keep_stored = 1;
			break;
		case 'h':
			usage(stdout);
			return DM_EXIT_OK;
		default:
			usage(stderr);
			return DM_EXIT_USAGE;
		}
	}
	return -1;
}

/*
 * The subcommand and its arguments, checked before the database is looked
 * for: a usage error is said as such, whether or not there is a database.
 */
static int
check_args(const struct qargs *a, int argc, char **argv, struct dm_error *err)
{
	const char *sub = argc > 0 ? argv[0] : "list";
	int64_t id;
	int i, one = strcmp(sub, "show") == 0 || strcmp(sub, "resolve") == 0;

	if (strcmp(sub, "list") == 0 && argc > 1)
		return dm_error_set(err, DM_EINVAL,
		    "quarantine list: unexpected argument '%s' (list takes no "
		    "arguments; see 'dmarcstat quarantine --help')",
		    argv[1]);
	if (!one && strcmp(sub, "list") != 0 && strcmp(sub, "retry") != 0)
		return dm_error_set(
		    err, DM_EINVAL, "quarantine: unknown subcommand '%s'", sub);
	if (one && argc != 2)
		return dm_error_set(err, DM_EINVAL,
		    "quarantine %s: expected one entry ID, got %d arguments",
		    sub, argc - 1);
	for (i = 1; i < argc; i++)
		if (parse_id(argv[i], &id) != 0)
			return bad_id(sub, argv[i], err);
	if (strcmp(sub, "resolve") == 0 && a->keep_new == a->keep_stored)
		return dm_error_set(err, DM_EINVAL,
		    "quarantine resolve: say which copy to keep: --keep-new or "
		    "--keep-stored");
	return DM_OK;
}

static int
dispatch(struct dm_store *s, const struct qargs *a, int argc, char **argv,
    int *failing, struct dm_error *err)
{
	const char *sub = argc > 0 ? argv[0] : "list";

	if (strcmp(sub, "list") == 0)
		return cmd_list(s, a, err);
	if (strcmp(sub, "show") == 0)
		return cmd_show(s, a, argc - 1, argv + 1, err);
	if (strcmp(sub, "retry") == 0)
		return cmd_retry(s, argc - 1, argv + 1, failing, err);
	return cmd_resolve(s, a, argc - 1, argv + 1, failing, err);
}

int
dm_cmd_quarantine(int argc, char **argv)
{
	struct qargs a = {0};
	struct dm_store *s = NULL;
	struct dm_error err;
	int rc, failing = 0;

	/* Options may follow the subcommand ("show --raw 3"): let getopt
	 * permute. */
	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	dm_error_clear(&err);
	if (check_args(&a, argc - optind, argv + optind, &err) != DM_OK) {
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_USAGE;
	}
	if (a.db == NULL && (a.db = dm_cli_default_db(0)) == NULL)
		return DM_EXIT_FATAL;
	/* Only ingest creates a database: an empty quarantine in a new file
	 * would hide a mistyped path. */
	if (dm_cli_need_db(a.db) != DM_EXIT_OK)
		return DM_EXIT_FATAL;
	dm_cli_db_warnings(a.db);
	dm_error_clear(&err);
	if (dm_store_open(&s, a.db, &err) != DM_OK) {
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_FATAL;
	}
	rc = dispatch(s, &a, argc - optind, argv + optind, &failing, &err);
	dm_store_close(s);
	if (rc == DM_EINVAL) {
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_USAGE;
	}
	if (rc != DM_OK) {
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_FATAL;
	}
	return failing ? DM_EXIT_PARTIAL : DM_EXIT_OK;
}
