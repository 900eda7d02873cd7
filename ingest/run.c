/*
 * run.c - the ingest command's engine: the walker wired to the parser and the
 * store.
 *
 * Each unit (file or message) is checked against the store first, so a cron run
 * over an old mailbox parses nothing it has seen.  The store keeps or drops
 * each payload whole: a report that fails half-way leaves no rows.  What fails
 * is quarantined with the unit's bytes so that `quarantine retry` can run it
 * again after a fix; what is recognised as another kind of report is skipped.
 *
 * Two threads (pipe.h): the caller's walks, reads and parses (the front:
 * front_* below), the store's writes every unit, payload, report and
 * quarantine entry in the same order and says what happened (the back:
 * back_* and everything they call, notify() and the stats included).  So the
 * next units are read while the last ones are stored, whatever their size.
 * The back gets its own copy of each unit: its strings, and its bytes or a
 * duplicate of its file descriptor, which a quarantine entry keeps after the
 * walker has moved on.  The front checks units against what is committed,
 * through a second, read-only handle; the back checks again, and drops a
 * unit committed meanwhile (another importer) or seen twice in one batch.
 * The front waits for the back only where the walk needs its answer: IMAP
 * folders' state, an input that cannot be read at all, a problem outside a
 * unit, and every unit's begin and end when units are moved once stored (they
 * must be committed first), for a retry, when the database cannot be read
 * beside the store (in memory), or when a unit in memory is too big to copy.
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

/* Bytes of a unit held in memory that the back gets a copy of; a unit with
 * more is waited for (the walker's copy stays until its end). */
#define UNIT_COPY_MAX ((size_t)1 << 20)

struct run {
	struct dm_store *store;  /* the back's */
	struct dm_store *reader; /* the front's, read-only; or NULL */
	struct dm_pipe *pipe;    /* front to back */
	struct dm_parser *parser;
	const struct dm_limits *lim;
	const struct dm_ingest_options *opt;
	struct dm_ingest_stats *stats; /* the back's until the pipe drained */
	struct dm_store_counts base;   /* store counts when the run started */
	int force;      /* retry: process units even if seen before */
	int one_by_one; /* the front waits for each unit's begin and end */

	/* The front's. */
	int f_in_unit; /* between unit_begin and unit_end */
	int f_wait;    /* the back uses the front's unit: wait at its end */
	struct dm_buf packed; /* a unit's strings, being sent */

	/* The back's. */
	const struct dm_unit *cur; /* the unit: r->unit, or the front's */
	struct dm_unit unit;       /* a copy, pointing into unit_copy */
	struct dm_mail_info mail;
	struct dm_buf unit_copy;
	int unit_fd;  /* the back's duplicate of the unit's file, or -1 */
	int skipped;  /* the unit was seen: its calls are dropped */
	char *member; /* the payload's, owned */
	uint64_t conflicts0; /* the store's conflicts when it began */
	int in_unit;         /* between the unit's begin and end */
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

/* ---- The back: the store's thread ---- */

/*
 * A unit as the front sends it: its numbers, then its strings one after
 * another ("+" and the string with its NUL, or "-" for NULL), then n_bytes of
 * its bytes when it holds them.  fd is a duplicate of the unit's file (or -1),
 * which the back owns once it has the message.
 */
struct unit_msg {
	uint64_t size;
	size_t n_strings, n_bytes;
	int fd, flags, only_copy;
	char packed[];
};

/* struct unit_msg's flags: the unit holds its bytes, the unit is a mail. */
#define UNIT_BYTES 1
#define UNIT_MAIL 2

/*
 * A unit the front waits for (u), or a payload or unit that failed before the
 * store saw it: u is NULL inside a unit (the back's r->cur), else the
 * front's, which waits.
 */
struct problem {
	const struct dm_unit *u;
	struct dm_error e;
	int has_member;
	char member[];
};

static const char *
unpack(const char **p)
{
	const char *s = *p + 1;

	if (**p == '-') {
		*p += 1;
		return NULL;
	}
	*p = s + strlen(s) + 1;
	return s;
}

/* Closes the back's duplicate of the unit's file. */
static void
unit_fd_close(struct run *r)
{
	if (r->unit_fd >= 0)
		close(r->unit_fd);
	r->unit_fd = -1;
}

/* The back's copy of the unit in m. */
static int
keep_unit(struct run *r, const struct unit_msg *m, struct dm_error *err)
{
	const char *p;

	unit_fd_close(r);
	r->unit_fd = m->fd;
	dm_buf_reset(&r->unit_copy);
	if (dm_buf_add(&r->unit_copy, m->packed, m->n_strings + m->n_bytes) !=
	    DM_OK)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	p = r->unit_copy.data;
	memset(&r->unit, 0, sizeof(r->unit));
	memset(&r->mail, 0, sizeof(r->mail));
	r->unit.path = unpack(&p);
	r->unit.message = unpack(&p);
	r->unit.identity = unpack(&p);
	r->unit.sha256 = unpack(&p);
	r->mail.message_id = unpack(&p);
	r->mail.date = unpack(&p);
	r->mail.from = unpack(&p);
	r->mail.subject = unpack(&p);
	r->unit.mail = m->flags & UNIT_MAIL ? &r->mail : NULL;
	r->unit.bytes =
	    m->flags & UNIT_BYTES ? r->unit_copy.data + m->n_strings : NULL;
	r->unit.n_bytes = m->n_bytes;
	r->unit.size = m->size;
	r->unit.fd = r->unit_fd;
	r->unit.only_copy = m->only_copy;
	r->cur = &r->unit;
	return DM_OK;
}

/* Starts the unit r->cur; DM_DONE (or DM_DONE_FAILED) when it was seen. */
static int
unit_start(struct run *r, struct dm_error *err)
{
	const struct dm_unit *u = r->cur;
	struct dm_store_unit su = {0};
	int rc, failed = 0;

	r->stats->units++;
	r->bytes_kept = 0;
	r->unit_lost = 0;
	r->skipped = 0;
	rc = r->force ? DM_OK
	              : dm_store_unit_lookup(
	                    r->store, u->sha256, u->identity, &failed, err);
	if (rc == DM_DONE) {
		r->stats->seen++;
		r->skipped = 1;
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

/* A unit sent for later: seen meanwhile (committed by another run, or twice
 * in this batch), its other calls are dropped. */
static int
back_unit_begin(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	int rc;

	if ((rc = keep_unit(r, arg, err)) != DM_OK)
		return rc;
	rc = unit_start(r, err);
	return rc == DM_DONE || rc == DM_DONE_FAILED ? DM_OK : rc;
}

static void
drop_unit_msg(void *ctx, void *arg)
{
	struct unit_msg *m = arg;

	(void)ctx;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* A unit the front waits for: r->cur is the front's, alive until its end. */
static int
back_unit_begin_now(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	const struct problem *now = arg;

	unit_fd_close(r);
	r->cur = now->u;
	return unit_start(r, err);
}

/* A unit the front found committed already. */
static int
back_unit_seen(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;

	(void)arg;
	(void)err;
	r->stats->units++;
	r->stats->seen++;
	return DM_OK;
}

static int
back_payload_begin(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	const char *member = arg;

	if (r->skipped)
		return DM_OK;
	dm_free(r->member);
	r->member = NULL;
	if (*member != '\0' && (r->member = dm_strdup(member)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	r->conflicts0 = dm_store_counts(r->store).conflicts;
	return dm_store_payload_begin(r->store, r->member, err);
}

/*
 * A report with the identity of a stored one (reporter, report id, domain,
 * period) but other content.  Anyone can mail the rua address: the first copy
 * stored may be the forged one, so this copy is not dropped but quarantined,
 * naming the stored report, until someone decides (`quarantine resolve`).
 */
static int
conflict(struct run *r, struct dm_error *err)
{
	struct dm_error e;

	dm_error_clear(&e);
	dm_error_setr(&e, DM_EFORMAT, "conflict",
	    "this report (same reporter, report id, domain and period) is "
	    "already stored with other content: the stored copy is kept and "
	    "this one quarantined ('dmarcstat quarantine resolve' keeps "
	    "either)");
	r->conflict_report = dm_store_last_conflict(r->store);
	return quarantine(r, r->cur, r->member, &e, err);
}

/* How a payload's parse ended. */
struct payload_end {
	int rc;
	struct dm_error e;
};

static int
back_payload_end(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	const struct payload_end *pe = arg;
	struct dm_error e = pe->e, se;
	int rc = pe->rc;

	/* The store's own failure wins over what the parser saw. */
	if (dm_pipe_sink_status(r->pipe, &se) != DM_OK &&
	    (rc == DM_OK || se.code == DM_EDB || se.code == DM_ENOMEM)) {
		e = se;
		rc = se.code;
	}
	if (r->skipped)
		return DM_OK;
	if ((rc = dm_store_payload_end(r->store, rc == DM_OK, err)) != DM_OK)
		return rc;
	if (dm_store_counts(r->store).conflicts > r->conflicts0)
		return conflict(r, err);
	if (e.code == DM_EDB || e.code == DM_ENOMEM) {
		*err = e;
		return e.code;
	}
	return e.code == DM_OK ? DM_OK : failed(r, r->cur, r->member, &e, err);
}

static int
back_problem(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	struct problem *pb = arg;

	if (pb->u == NULL && r->skipped)
		return DM_OK;
	return failed(r, pb->u != NULL ? pb->u : r->cur,
	    pb->has_member ? pb->member : NULL, &pb->e, err);
}

static int
back_unit_end(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	const struct dm_unit *u = r->cur;
	int rc;

	(void)arg;
	r->bytes_kept = 0; /* a problem after the unit is about another input */
	r->in_unit = 0;
	if (r->skipped) {
		r->skipped = 0;
		unit_fd_close(r);
		return DM_OK;
	}
	/* An only copy not kept whole must be tried again when it comes back
	 * (the MTA retries a pipe delivery that failed), not skipped as seen.
	 */
	if (r->unit_lost) {
		r->stats->lost++;
		dm_store_unit_again(r->store);
	}
	rc = dm_store_unit_end(r->store, err);
	/* The walker moves a Maildir message once this returns: its reports
	 * must be committed first, or a crash would lose them. */
	if (rc == DM_OK &&
	    (r->opt->walk.move_to != NULL || r->opt->walk.failed_to != NULL) &&
	    u->identity != NULL)
		rc = dm_store_flush(r->store, err);
	if (rc == DM_OK)
		notify(r, DM_INGEST_UNIT_DONE, u, NULL, NULL);
	unit_fd_close(r);
	return rc;
}

/* An input that could not be read at all (walk_one); the front waits. */
static int
back_input_failed(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	const struct problem *pb = arg;

	(void)err;
	r->stats->failed++;
	if (pb->e.reason != NULL && strcmp(pb->e.reason, "server") == 0)
		r->stats->unreachable++;
	r->stats->lost += (uint64_t)pb->u->only_copy;
	notify(r, DM_INGEST_FAILED, pb->u, NULL, &pb->e);
	return DM_OK;
}

/* IMAP folders' state (sql/folder.c) and moved messages; the front waits. */
struct folder_call {
	const char *folder, *to;
	const struct dm_unit *u;
	uint64_t uidvalidity, uid, *uid_out, *uids;
	const uint64_t *moved;
	size_t max, n, *n_out;
	int failed;
};

static int
back_folder_last(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call *f = arg;

	return dm_store_folder_last(
	    r->store, f->folder, f->uidvalidity, f->uid_out, err);
}

static int
back_folder_done(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call *f = arg;

	return dm_store_folder_done(
	    r->store, f->folder, f->uidvalidity, f->uid, f->failed, err);
}

static int
back_folder_pending(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call *f = arg;

	return dm_store_folder_pending(r->store, f->folder, f->uidvalidity,
	    f->failed, f->uids, f->max, f->n_out, err);
}

static int
back_folder_moved(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call *f = arg;

	return dm_store_folder_moved(
	    r->store, f->folder, f->uidvalidity, f->moved, f->n, err);
}

static int
back_unit_moved(void *ctx, void *arg, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call *f = arg;

	return dm_store_unit_moved(r->store, f->u->path, f->to, err);
}

/* ---- The front: the walker's and the parser's thread ---- */

/* Appends s to b as unpack() reads it. */
static int
pack_str(struct dm_buf *b, const char *s)
{
	int rc = dm_buf_add(b, s != NULL ? "+" : "-", 1);

	return rc == DM_OK && s != NULL ? dm_buf_add(b, s, strlen(s) + 1) : rc;
}

/*
 * Sends u to the back for later, with its bytes when it holds them, or a
 * duplicate of its file: the back quarantines with them after the walker has
 * moved on.  DM_DONE when it cannot (the caller waits for this unit instead).
 */
static int
post_unit(struct run *r, const struct dm_unit *u, struct dm_error *err)
{
	const char *v[] = {u->path, u->message, u->identity, u->sha256,
	    u->mail ? u->mail->message_id : NULL,
	    u->mail ? u->mail->date : NULL, u->mail ? u->mail->from : NULL,
	    u->mail ? u->mail->subject : NULL};
	struct unit_msg *m;
	size_t i, n_bytes = u->bytes != NULL ? u->n_bytes : 0;
	int rc = DM_OK, fd = -1;

	if (n_bytes > UNIT_COPY_MAX ||
	    (u->bytes == NULL && u->fd >= 0 &&
	        (fd = fcntl(u->fd, F_DUPFD_CLOEXEC, 0)) < 0))
		return DM_DONE;
	dm_buf_reset(&r->packed);
	for (i = 0; rc == DM_OK && i < sizeof(v) / sizeof(v[0]); i++)
		rc = pack_str(&r->packed, v[i]);
	m = rc == DM_OK
	        ? dm_pipe_room(r->pipe, sizeof(*m) + r->packed.len + n_bytes)
	        : NULL;
	if (m == NULL) {
		if (fd >= 0)
			close(fd);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	m->size = u->size;
	m->n_strings = r->packed.len;
	m->n_bytes = n_bytes;
	m->fd = fd;
	m->flags = (u->bytes != NULL ? UNIT_BYTES : 0) |
	           (u->mail != NULL ? UNIT_MAIL : 0);
	m->only_copy = u->only_copy;
	memcpy(m->packed, r->packed.data, r->packed.len);
	if (n_bytes > 0)
		memcpy(m->packed + r->packed.len, u->bytes, n_bytes);
	return dm_pipe_post(r->pipe, back_unit_begin, drop_unit_msg, m, err);
}

static int
front_unit_begin(void *ctx, const struct dm_unit *u, struct dm_error *err)
{
	struct run *r = ctx;
	struct problem now = {.u = u};
	int rc, failed = 0;

	r->f_wait = 1;
	if (!r->one_by_one) {
		rc = r->force ? DM_OK
		              : dm_store_unit_lookup(r->reader, u->sha256,
		                    u->identity, &failed, err);
		if (rc == DM_DONE) {
			rc = dm_pipe_post(
			    r->pipe, back_unit_seen, NULL, NULL, err);
			return rc != DM_OK ? rc
			       : failed    ? DM_DONE_FAILED
			                   : DM_DONE;
		}
		if (rc != DM_OK)
			return rc;
		rc = post_unit(r, u, err);
		if (rc != DM_DONE) {
			r->f_wait = 0;
			r->f_in_unit = rc == DM_OK;
			return rc;
		}
	}
	rc = dm_pipe_call(r->pipe, back_unit_begin_now, &now, err);
	r->f_in_unit = rc == DM_OK;
	return rc;
}

/* Sends a problem of the current unit for later, or waits for one outside a
 * unit. */
static int
front_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *e, struct dm_error *err)
{
	struct run *r = ctx;
	size_t n = member != NULL ? strlen(member) + 1 : 1;
	struct problem *pb;
	int rc;

	if (!r->f_in_unit) {
		if ((pb = dm_malloc(sizeof(*pb) + n)) == NULL)
			return dm_error_set(err, DM_ENOMEM, "out of memory");
	} else if ((pb = dm_pipe_room(r->pipe, sizeof(*pb) + n)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	pb->u = r->f_in_unit ? NULL : u;
	pb->e = *e;
	pb->has_member = member != NULL;
	memcpy(pb->member, member != NULL ? member : "", n);
	if (r->f_in_unit)
		return dm_pipe_post(r->pipe, back_problem, NULL, pb, err);
	rc = dm_pipe_call(r->pipe, back_problem, pb, err);
	dm_free(pb);
	return rc;
}

static int
front_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct run *r = ctx;
	size_t n = p->member != NULL ? strlen(p->member) + 1 : 1;
	struct payload_end *pe;
	struct dm_error e;
	char *member;
	int rc;

	dm_error_clear(&e);
	if (dm_ingest_payload_verdict(p, &e) != DM_OK)
		return front_problem(r, p->unit, p->member, &e, err);
	if ((member = dm_pipe_room(r->pipe, n)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	memcpy(member, p->member != NULL ? p->member : "", n);
	if ((rc = dm_pipe_post(
	         r->pipe, back_payload_begin, NULL, member, err)) != DM_OK)
		return rc;
	rc = dm_parse_run(r->parser, &p->src, &e);
	if ((pe = dm_pipe_room(r->pipe, sizeof(*pe))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	pe->rc = rc;
	pe->e = e;
	return dm_pipe_post(r->pipe, back_payload_end, NULL, pe, err);
}

static int
front_unit_end(void *ctx, const struct dm_unit *u, int ok, struct dm_error *err)
{
	struct run *r = ctx;

	(void)ok;
	(void)u;
	r->f_in_unit = 0;
	/* A unit the back holds no copy of, or about to be moved (committed
	 * first), is waited for. */
	if (r->f_wait)
		return dm_pipe_call(r->pipe, back_unit_end, NULL, err);
	return dm_pipe_post(r->pipe, back_unit_end, NULL, NULL, err);
}

static int
front_folder_last(void *ctx, const char *folder, uint64_t uidvalidity,
    uint64_t *uid, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call f = {
	    .folder = folder, .uidvalidity = uidvalidity, .uid_out = uid};

	return dm_pipe_call(r->pipe, back_folder_last, &f, err);
}

static int
front_folder_done(void *ctx, const char *folder, uint64_t uidvalidity,
    uint64_t uid, int failed, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call f = {.folder = folder,
	    .uidvalidity = uidvalidity,
	    .uid = uid,
	    .failed = failed};

	return dm_pipe_call(r->pipe, back_folder_done, &f, err);
}

static int
front_folder_pending(void *ctx, const char *folder, uint64_t uidvalidity,
    int failed, uint64_t *uids, size_t max, size_t *n, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call f = {.folder = folder,
	    .uidvalidity = uidvalidity,
	    .failed = failed,
	    .uids = uids,
	    .max = max,
	    .n_out = n};

	return dm_pipe_call(r->pipe, back_folder_pending, &f, err);
}

static int
front_folder_moved(void *ctx, const char *folder, uint64_t uidvalidity,
    const uint64_t *uids, size_t n, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call f = {.folder = folder,
	    .uidvalidity = uidvalidity,
	    .moved = uids,
	    .n = n};

	return dm_pipe_call(r->pipe, back_folder_moved, &f, err);
}

static const struct dm_folder_ops folder_ops = {front_folder_last,
    front_folder_done, front_folder_pending, front_folder_moved};

/* A Maildir message moved: the records naming its old path follow it. */
static int
front_unit_moved(
    void *ctx, const struct dm_unit *u, const char *to, struct dm_error *err)
{
	struct run *r = ctx;
	struct folder_call f = {.u = u, .to = to};

	return dm_pipe_call(r->pipe, back_unit_moved, &f, err);
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
	struct problem pb = {0};
	int rc;

	dm_error_clear(err);
	rc = dm_ingest_walk(path, r->lim, &r->opt->walk, ops, err);
	if (rc != DM_EIO && rc != DM_EINVAL)
		return rc;
	u.path = path;
	u.fd = -1;
	u.only_copy = strcmp(path, "-") == 0;
	pb.u = &u;
	pb.e = *err;
	dm_error_clear(err);
	return dm_pipe_call(r->pipe, back_input_failed, &pb, err);
}

static void
run_init(struct run *r, struct dm_walk_ops *ops)
{
	memset(r->stats, 0, sizeof(*r->stats));
	r->base = dm_store_counts(r->store);
	ops->ctx = r;
	ops->unit_begin = front_unit_begin;
	ops->payload = front_payload;
	ops->problem = front_problem;
	ops->unit_end = front_unit_end;
	ops->folder = &folder_ops;
	ops->unit_moved = front_unit_moved;
}

/*
 * The back's thread, the parser feeding the store's sink through it, and the
 * front's read-only handle.  Without that handle (an in-memory database), for
 * a retry, or when units are moved once stored, the front waits for each
 * unit's begin and end.
 */
static int
engine_start(struct run *r, struct dm_error *err)
{
	struct dm_sink inner = dm_store_sink(r->store), sink;
	struct dm_error e;
	int rc;

	r->unit_fd = -1;
	dm_buf_init(&r->unit_copy, (size_t)1 << 24);
	dm_buf_init(&r->packed, (size_t)1 << 24);
	r->one_by_one = r->force || r->opt->walk.move_to != NULL ||
	                r->opt->walk.failed_to != NULL ||
	                dm_store_open_reader(r->store, &r->reader, &e) != DM_OK;
	/* The pipe keeps a copy of inner. */
	if ((rc = dm_pipe_new(&r->pipe, r, &inner, err)) != DM_OK)
		return rc;
	sink = dm_pipe_sink(r->pipe);
	return dm_parser_new(&r->parser, r->lim, &sink, err);
}

/* Waits for the back; then the store is the caller's again. */
static int
engine_drain(struct run *r, int rc, struct dm_error *err)
{
	struct dm_error e;

	if (r->pipe != NULL && dm_pipe_drain(r->pipe, &e) != DM_OK &&
	    rc == DM_OK) {
		*err = e;
		rc = e.code;
	}
	return rc;
}

static void
engine_stop(struct run *r)
{
	dm_parser_free(r->parser);
	dm_pipe_free(r->pipe);
	dm_store_close(r->reader);
	if (r->unit_fd >= 0)
		close(r->unit_fd);
	dm_buf_free(&r->unit_copy);
	dm_buf_free(&r->packed);
	dm_free(r->member);
	r->parser = NULL;
	r->pipe = NULL;
	r->reader = NULL;
	r->member = NULL;
	r->unit_fd = -1;
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
	rc = engine_start(&r, err);
	for (i = 0; i < n_paths && rc == DM_OK; i++)
		rc = walk_one(&r, paths[i], &ops, err);
	rc = engine_drain(&r, rc, err);
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
	rc = engine_start(r, err);
	if (rc == DM_OK)
		rc = dm_ingest_walk_memory(
		    path, bytes, n, r->lim, &r->opt->walk, &ops, err);
	rc = engine_drain(r, rc, err);
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
