/*
 * run.c - the ingest command's engine: the walker wired to the parser and the
 * store.
 *
 * Each unit (file or message) is checked against the store first, so a cron run
 * over an old mailbox parses nothing it has seen.  The store runs beside the
 * parser (pipe.h) and keeps or drops each payload whole: a report that fails
 * half-way leaves no rows.  What fails is quarantined with
 * the unit's bytes so that `quarantine retry` can run it again after a fix;
 * what is recognised as another kind of report is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ingest_int.h"
#include "mem.h"
#include "parse.h"
#include "pipe.h"
#include "store.h"

struct run {
	struct dm_store *store;
	struct dm_pipe *pipe; /* runs the store's sink beside the parser */
	struct dm_parser *parser;
	const struct dm_limits *lim;
	const struct dm_ingest_options *opt;
	struct dm_ingest_stats *stats;
	struct dm_store_counts base; /* store counts when the run started */
	int force;      /* retry: process units even if seen before */
	int in_unit;    /* between on_unit_begin and on_unit_end */
	int bytes_kept; /* the unit's bytes are in the quarantine already */
	size_t kept_n;  /* ... and how many */
	int kept_whole; /* ... all of them */
	int unit_lost;  /* an only copy was quarantined without all its bytes */
	int64_t conflict_report; /* for the next quarantine entry (conflict) */
};

static void
notify(struct run *r, enum dm_ingest_event ev, const struct dm_unit *u,
    const char *member, const struct dm_error *e)
{
	if (r->opt->notify != NULL)
		r->opt->notify(r->opt->notify_ctx, ev, u, member, e);
}

/*
 * Reads up to cap bytes of the unit's open file from its start (pread: the
 * walker's reading position is its own); NULL when it cannot be read.
 */
static void *
read_capped(int fd, uint64_t cap, size_t *len)
{
	struct dm_buf b;
	char chunk[65536];
	size_t room;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return NULL;
	dm_buf_init(&b, (size_t)cap);
	while ((room = b.max - b.len) > 0) {
		n = pread(fd, chunk,
		    room < sizeof(chunk) ? room : sizeof(chunk), (off_t)b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || dm_buf_add(&b, chunk, (size_t)n) != DM_OK)
			break;
	}
	*len = b.len;
	return dm_buf_take(&b);
}

/* An input's size for people: "4.0 GiB", "21.3 MiB", "950.0 KiB", "12 bytes".
 */
static void
size_of(char *buf, size_t n, uint64_t v)
{
	if (v >= 1024 * 1024 * 1024)
		snprintf(buf, n, "%.1f GiB", (double)v / (1024 * 1024 * 1024));
	else if (v >= 1024 * 1024)
		snprintf(buf, n, "%.1f MiB", (double)v / (1024 * 1024));
	else if (v >= 1024)
		snprintf(buf, n, "%.1f KiB", (double)v / 1024);
	else
		snprintf(buf, n, "%llu bytes", (unsigned long long)v);
}

/*
 * Says in the entry's message when its bytes are not all kept: none could be
 * read, or a cap cut them ("say so": a retry cannot work on those).
 */
static void
say_what_is_kept(struct run *r, const struct dm_unit *u, size_t kept, int whole,
    struct dm_error *e)
{
	char a[32], b[32];
	size_t n = strlen(e->msg);

	if (whole)
		return;
	if (kept == 0) {
		snprintf(e->msg + n, sizeof(e->msg) - n, "; no bytes kept");
		return;
	}
	dm_size_text(a, sizeof(a), kept);
	size_of(b, sizeof(b), u->size);
	snprintf(e->msg + n, sizeof(e->msg) - n,
	    "; only the first %s of %s kept (%s)", a, b,
	    kept >= r->lim->quarantine_bytes ? "DM_MAX_QUARANTINE_BYTES"
	                                     : "the input was cut");
}

static int
quarantine(struct run *r, const struct dm_unit *u, const char *member,
    const struct dm_error *e, struct dm_error *err)
{
	struct dm_store_quarantine q = {0};
	struct dm_error said = *e;
	char where[1024];
	void *owned = NULL;
	size_t kept;
	int rc, whole;

	q.path = u->path;
	q.member = member;
	if (u->message != NULL) {
		/* A message of an mbox: the member path starts with the
		 * message. */
		snprintf(where, sizeof(where), "%s%s%s", u->message,
		    member ? ">" : "", member ? member : "");
		q.member = where;
	}
	q.reason = e->reason != NULL ? e->reason : "error";
	q.conflict_report = r->conflict_report;
	r->conflict_report = 0;
	q.bytes = u->bytes;
	q.n_bytes = u->n_bytes;
	q.size = u->size;
	/* The store keeps an input's bytes once for all its entries. */
	if (r->bytes_kept)
		q.bytes = NULL, q.n_bytes = r->kept_n;
	else if (q.bytes == NULL)
		q.bytes = owned =
		    read_capped(u->fd, r->lim->quarantine_bytes, &q.n_bytes);
	kept = q.n_bytes < r->lim->quarantine_bytes
	           ? q.n_bytes
	           : (size_t)r->lim->quarantine_bytes;
	whole =
	    r->bytes_kept ? r->kept_whole : q.bytes != NULL && kept >= u->size;
	say_what_is_kept(
	    r, u, q.bytes != NULL || r->bytes_kept ? kept : 0, whole, &said);
	q.message = said.msg;
	rc = dm_store_quarantine(r->store, &q, err);
	dm_free(owned);
	if (rc != DM_OK)
		return rc;
	if (q.bytes != NULL) {
		r->bytes_kept = 1;
		r->kept_n = q.n_bytes;
		r->kept_whole = whole;
	}
	if (!whole && u->only_copy) {
		if (r->in_unit)
			r->unit_lost = 1;
		else
			r->stats->lost++;
	}
	r->stats->quarantined++;
	notify(r, DM_INGEST_QUARANTINED, u, member, &said);
	return DM_OK;
}

/* A payload or unit that could not be stored: skipped if it is not ours, else
 * quarantined. */
static int
failed(struct run *r, const struct dm_unit *u, const char *member,
    const struct dm_error *e, struct dm_error *err)
{
	if (e->code == DM_ESKIP) {
		r->stats->skipped++;
		notify(r, DM_INGEST_SKIPPED, u, member, e);
		return DM_OK;
	}
	return quarantine(r, u, member, e, err);
}

static int
on_unit_begin(void *ctx, const struct dm_unit *u, struct dm_error *err)
{
	struct run *r = ctx;
	struct dm_store_unit su = {0};
	int rc, failed = 0;

	r->stats->units++;
	r->bytes_kept = 0;
	r->unit_lost = 0;
	rc = r->force ? DM_OK
	              : dm_store_unit_lookup(
	                    r->store, u->sha256, u->identity, &failed, err);
	if (rc == DM_DONE) {
		r->stats->seen++;
		return failed ? DM_DONE_FAILED : DM_DONE;
	}
	if (rc != DM_OK)
		return rc;
	su.path = u->path;
	su.identity = u->identity;
	su.sha256 = u->sha256;
	su.size = u->size;
	if (u->mail != NULL) {
		su.message_id = u->mail->message_id;
		su.date = u->mail->date;
		su.from = u->mail->from;
		su.subject = u->mail->subject;
	}
	rc = dm_store_unit_begin(r->store, &su, err);
	r->in_unit = rc == DM_OK;
	return rc;
}

/*
 * A report with the identity of a stored one (reporter, report id, domain,
 * period) but other content.  Anyone can mail the rua address: the first copy
 * stored may be the forged one, so this copy is not dropped but quarantined,
 * naming the stored report, until someone decides (`quarantine resolve`).
 */
static int
conflict(struct run *r, const struct dm_payload *p, struct dm_error *err)
{
	struct dm_error e;

	dm_error_clear(&e);
	dm_error_setr(&e, DM_EFORMAT, "conflict",
	    "this report (same reporter, report id, domain and period) is "
	    "already stored with other content: the stored copy is kept and "
	    "this one quarantined ('dmarcstat quarantine resolve' keeps "
	    "either)");
	r->conflict_report = dm_store_last_conflict(r->store);
	return quarantine(r, p->unit, p->member, &e, err);
}

static int
on_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct run *r = ctx;
	struct dm_error e, pe;
	uint64_t conflicts;
	int rc;

	dm_error_clear(&e);
	if (dm_ingest_payload_verdict(p, &e) != DM_OK)
		return failed(r, p->unit, p->member, &e, err);
	if ((rc = dm_store_payload_begin(r->store, p->member, err)) != DM_OK)
		return rc;
	conflicts = dm_store_counts(r->store).conflicts;
	rc = dm_parse_run(r->parser, &p->src, &e);
	/* The store's own failure wins over what it made the parser see. */
	if (dm_pipe_finish(r->pipe, &pe) != DM_OK &&
	    (rc == DM_OK || pe.code == DM_EDB || pe.code == DM_ENOMEM)) {
		e = pe;
		rc = pe.code;
	}
	if ((rc = dm_store_payload_end(r->store, rc == DM_OK, err)) != DM_OK)
		return rc;
	if (dm_store_counts(r->store).conflicts > conflicts)
		return conflict(r, p, err);
	if (e.code == DM_EDB || e.code == DM_ENOMEM) {
		*err = e;
		return e.code;
	}
	return e.code == DM_OK ? DM_OK : failed(r, p->unit, p->member, &e, err);
}

static int
on_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *pb, struct dm_error *err)
{
	return failed(ctx, u, member, pb, err);
}

static int
on_unit_end(void *ctx, const struct dm_unit *u, int ok, struct dm_error *err)
{
	struct run *r = ctx;
	int rc;

	(void)ok;
	r->bytes_kept = 0; /* a problem after the unit is about another input */
	r->in_unit = 0;
	/* An only copy not kept whole must be tried again when it comes back
	 * (the MTA retries a pipe delivery that failed), not skipped as seen.
	 */
	if (r->unit_lost) {
		r->stats->lost++;
		dm_store_unit_again(r->store);
	}
	if ((rc = dm_store_unit_end(r->store, err)) != DM_OK)
		return rc;
	/* The walker moves a Maildir message once this returns: its reports
	 * must be committed first, or a crash would lose them. */
	if ((r->opt->walk.move_to != NULL || r->opt->walk.failed_to != NULL) &&
	    u->identity != NULL &&
	    (rc = dm_store_flush(r->store, err)) != DM_OK)
		return rc;
	notify(r, DM_INGEST_UNIT_DONE, u, NULL, NULL);
	return DM_OK;
}

/* IMAP folders' state, kept in the store (sql/folder.c). */
static int
on_folder_last(void *ctx, const char *folder, uint64_t uidvalidity,
    uint64_t *uid, struct dm_error *err)
{
	struct run *r = ctx;

	return dm_store_folder_last(r->store, folder, uidvalidity, uid, err);
}

static int
on_folder_done(void *ctx, const char *folder, uint64_t uidvalidity,
    uint64_t uid, int failed, struct dm_error *err)
{
	struct run *r = ctx;

	return dm_store_folder_done(
	    r->store, folder, uidvalidity, uid, failed, err);
}

static int
on_folder_pending(void *ctx, const char *folder, uint64_t uidvalidity,
    int failed, uint64_t *uids, size_t max, size_t *n, struct dm_error *err)
{
	struct run *r = ctx;

	return dm_store_folder_pending(
	    r->store, folder, uidvalidity, failed, uids, max, n, err);
}

static int
on_folder_moved(void *ctx, const char *folder, uint64_t uidvalidity,
    const uint64_t *uids, size_t n, struct dm_error *err)
{
	struct run *r = ctx;

	return dm_store_folder_moved(
	    r->store, folder, uidvalidity, uids, n, err);
}

static const struct dm_folder_ops folder_ops = {
    on_folder_last, on_folder_done, on_folder_pending, on_folder_moved};

/* A Maildir message moved: the records naming its old path follow it. */
static int
on_unit_moved(
    void *ctx, const struct dm_unit *u, const char *to, struct dm_error *err)
{
	struct run *r = ctx;

	return dm_store_unit_moved(r->store, u->path, to, err);
}

static void
fold_counts(struct run *r)
{
	struct dm_store_counts now = dm_store_counts(r->store);

	r->stats->reports = now.reports - r->base.reports;
	r->stats->records = now.records - r->base.records;
	r->stats->messages = now.messages - r->base.messages;
	r->stats->duplicates = now.duplicates - r->base.duplicates;
	r->stats->conflicts = now.conflicts - r->base.conflicts;
}

/* Walks one path; a path that cannot be read is an event, not a fatal error. */
static int
walk_one(struct run *r, const char *path, const struct dm_walk_ops *ops,
    struct dm_error *err)
{
	struct dm_unit u = {0};
	int rc;

	dm_error_clear(err);
	rc = dm_ingest_walk(path, r->lim, &r->opt->walk, ops, err);
	if (rc != DM_EIO && rc != DM_EINVAL)
		return rc;
	u.path = path;
	u.fd = -1;
	u.only_copy = strcmp(path, "-") == 0;
	r->stats->failed++;
	if (err->reason != NULL && strcmp(err->reason, "server") == 0)
		r->stats->unreachable++;
	r->stats->lost += (uint64_t)u.only_copy;
	notify(r, DM_INGEST_FAILED, &u, NULL, err);
	dm_error_clear(err);
	return DM_OK;
}

static void
run_init(struct run *r, struct dm_walk_ops *ops)
{
	memset(r->stats, 0, sizeof(*r->stats));
	r->base = dm_store_counts(r->store);
	ops->ctx = r;
	ops->unit_begin = on_unit_begin;
	ops->payload = on_payload;
	ops->problem = on_problem;
	ops->unit_end = on_unit_end;
	ops->folder = &folder_ops;
	ops->unit_moved = on_unit_moved;
}

/* The parser, feeding the store's sink through the pipe. */
static int
engine_start(struct run *r, struct dm_error *err)
{
	struct dm_sink inner = dm_store_sink(r->store), sink;
	int rc;

	/* The pipe keeps a copy of inner. */
	if ((rc = dm_pipe_new(&r->pipe, &inner, err)) != DM_OK)
		return rc;
	sink = dm_pipe_sink(r->pipe);
	if ((rc = dm_parser_new(&r->parser, r->lim, &sink, err)) != DM_OK) {
		dm_pipe_free(r->pipe);
		r->pipe = NULL;
	}
	return rc;
}

static void
engine_stop(struct run *r)
{
	dm_parser_free(r->parser);
	dm_pipe_free(r->pipe);
	r->parser = NULL;
	r->pipe = NULL;
}

int
dm_ingest_run(struct dm_store *store, const char *const *paths, size_t n_paths,
    const struct dm_limits *lim, const struct dm_ingest_options *opt,
    struct dm_ingest_stats *stats, struct dm_error *err)
{
	struct run r = {.store = store, .lim = lim, .opt = opt, .stats = stats};
	struct dm_walk_ops ops;
	size_t i;
	int rc;

	run_init(&r, &ops);
	dm_store_set_limits(store, lim);
	if ((rc = engine_start(&r, err)) != DM_OK)
		return rc;
	for (i = 0, rc = DM_OK; i < n_paths && rc == DM_OK; i++)
		rc = walk_one(&r, paths[i], &ops, err);
	if (rc == DM_OK)
		rc = dm_store_flush(store, err);
	fold_counts(&r);
	engine_stop(&r);
	return rc;
}

struct entry {
	int64_t id;
	int found, truncated, resolved, conflict;
	int64_t conflict_report;
	char *path;
};

static int
find_entry(struct dm_store *s, struct entry *e, struct dm_error *err)
{
	struct dm_store_quarantine_row row;
	struct dm_store_qcursor *c;
	int rc;

	if ((rc = dm_store_quarantine_open(s, 1, &c, err)) != DM_OK)
		return rc;
	while ((rc = dm_store_quarantine_next(c, &row, err)) == DM_OK) {
		if (row.id != e->id)
			continue;
		e->found = 1;
		e->truncated = row.truncated;
		e->resolved = row.resolved;
		e->conflict =
		    row.reason != NULL && strcmp(row.reason, "conflict") == 0;
		e->conflict_report = row.conflict_report;
		e->path = dm_strdup(row.path != NULL ? row.path : "quarantine");
		if (e->path == NULL)
			rc = dm_error_set(err, DM_ENOMEM, "out of memory");
		break;
	}
	dm_store_quarantine_close(c);
	if (rc == DM_DONE && !e->found)
		return dm_error_set(err, DM_EINVAL, "no quarantine entry %lld",
		    (long long)e->id);
	return rc == DM_DONE ? DM_OK : rc;
}

static int
retry_bytes(struct run *r, const char *path, const void *bytes, size_t n,
    int *resolved, struct dm_error *err)
{
	struct dm_walk_ops ops;
	int rc;

	run_init(r, &ops);
	r->force = 1;
	if ((rc = engine_start(r, err)) != DM_OK)
		return rc;
	rc = dm_ingest_walk_memory(
	    path, bytes, n, r->lim, &r->opt->walk, &ops, err);
	if (rc == DM_OK)
		rc = dm_store_flush(r->store, err);
	fold_counts(r);
	engine_stop(r);
	*resolved = rc == DM_OK && r->stats->quarantined == 0;
	return rc;
}

/* Starts a retry or a resolve of e->id: nothing done yet, the entry found. */
static int
entry_start(struct dm_store *store, struct entry *e,
    struct dm_ingest_stats *stats, int *resolved, struct dm_error *err)
{
	*resolved = 0;
	memset(stats, 0, sizeof(*stats));
	return find_entry(store, e, err);
}

/* The entry's bytes, which must be all of its input's. */
static int
entry_bytes(struct dm_store *store, const struct entry *e, void **bytes,
    size_t *n, struct dm_error *err)
{
	int rc = dm_store_quarantine_get(store, e->id, bytes, n, err);

	if (rc == DM_OK && (*bytes == NULL || e->truncated))
		rc = dm_error_set(err, DM_EFORMAT, "cannot retry: %s",
		    e->truncated ? "only the first bytes of the input were kept"
		                 : "no bytes were kept");
	return rc;
}

int
dm_ingest_resolve(struct dm_store *store, int64_t id, enum dm_resolve how,
    const struct dm_limits *lim, const struct dm_ingest_options *opt,
    struct dm_ingest_stats *stats, int *resolved, struct dm_error *err)
{
	struct run r = {.store = store, .lim = lim, .opt = opt, .stats = stats};
	struct entry e = {.id = id};
	void *bytes = NULL;
	size_t n = 0;
	int rc;

	if ((rc = entry_start(store, &e, stats, resolved, err)) != DM_OK)
		return rc;
	if (!e.conflict || e.resolved || e.conflict_report <= 0)
		rc = dm_error_set(err, DM_EINVAL,
		    "quarantine entry %lld is not an unresolved conflict",
		    (long long)id);
	if (rc == DM_OK && how == DM_RESOLVE_KEEP_NEW &&
	    (rc = entry_bytes(store, &e, &bytes, &n, err)) == DM_OK) {
		/* Gone already (an earlier resolve stopped half-way): store
		 * this copy all the same. */
		rc = dm_store_report_delete(store, e.conflict_report, err);
		if (rc == DM_EINVAL)
			rc = DM_OK;
		if (rc == DM_OK)
			rc = retry_bytes(&r, e.path, bytes, n, resolved, err);
		/* Resolved when this copy is stored now, whatever else its
		 * input holds. */
		*resolved =
		    rc == DM_OK && stats->conflicts == 0 && stats->reports > 0;
	} else if (rc == DM_OK) {
		*resolved = 1;
	}
	if (rc == DM_OK && *resolved)
		rc = dm_store_quarantine_resolve(store, id, err);
	if (rc == DM_OK)
		rc = dm_store_flush(store, err);
	dm_free(bytes);
	dm_free(e.path);
	return rc;
}

int
dm_ingest_retry(struct dm_store *store, int64_t id, const struct dm_limits *lim,
    const struct dm_ingest_options *opt, struct dm_ingest_stats *stats,
    int *resolved, struct dm_error *err)
{
	struct run r = {.store = store, .lim = lim, .opt = opt, .stats = stats};
	struct entry e = {.id = id};
	void *bytes = NULL;
	size_t n = 0;
	int rc;

	if ((rc = entry_start(store, &e, stats, resolved, err)) != DM_OK)
		return rc;
	if (e.conflict && !e.resolved)
		rc = dm_error_set(err, DM_EINVAL,
		    "quarantine entry %lld is a conflict: retrying would find "
		    "the stored copy again; use 'quarantine resolve %lld "
		    "--keep-new' or '--keep-stored'",
		    (long long)id, (long long)id);
	if (rc == DM_OK)
		rc = entry_bytes(store, &e, &bytes, &n, err);
	if (rc == DM_OK)
		rc = retry_bytes(&r, e.path, bytes, n, resolved, err);
	if (rc == DM_OK && *resolved)
		rc = dm_store_quarantine_resolve(store, id, err);
	dm_free(bytes);
	dm_free(e.path);
	return rc;
}
