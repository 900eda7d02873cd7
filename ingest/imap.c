/*
 * imap.c - a folder on an IMAP server as an input: each message that arrived
 * since the last run is fetched whole and walked as a unit of its own, exactly
 * like a Maildir message (mailbox.c), then moved or left flagged \Seen.
 *
 * What a run must remember lives in the caller's store (struct
 * dm_folder_ops): the highest UID processed, under the folder's UIDVALIDITY,
 * so that a run over ten thousand old messages asks the server one question;
 * and the messages processed but not yet moved.  A message is moved only once
 * its unit is committed, so a crash in between leaves it in the folder, and
 * the next run moves it.  When the server changes UIDVALIDITY the folder is
 * read again from the start and content hashes decide what is new.
 *
 * Messages are fetched one at a time, each held in memory up to the mail-size
 * cap (a larger one is hashed, refused at the cap, and not kept).  The protocol
 * and TLS are libcurl's (imap_session.c); this file reads only the untagged
 * answers to its own STATUS, UID SEARCH and CAPABILITY commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "imap_int.h"
#include "ingest_int.h"
#include "mem.h"
#include "sha256.h"

/* UIDs asked for by one UID SEARCH: its answer (at most 11 bytes a UID) must
 * fit libcurl's response line (imap_session.c). */
#define SEARCH_SPAN 20000
/*
 * Messages processed between moves, and UIDs moved by one command: a move
 * costs a round trip, and a crash leaves at most this many messages processed
 * in the folder, for the next run to move.
 */
#define MOVE_BATCH 100

struct folder {
	struct dm_walk *w;
	struct dm_walk wk; /* w, keeping each message's bytes for the
	                      quarantine */
	struct dm_walk_options opt;
	struct dm_imap_session *s;
	const char *name; /* the folder's key and how messages name it */
	const struct dm_folder_ops *ops;
	void *ctx;
	uint64_t *limit; /* messages the run may still fetch, or NULL */

	uint64_t uidvalidity, uidnext;
	uint64_t fetched; /* messages fetched by this walk */
	/* The first move that failed: no more are tried, the fetching goes
	 * on, and the walk ends with it. */
	struct dm_error move_err;
	int move_failed;
	unsigned since_move; /* messages processed since the last moves */
	int caps_known, has_move, has_uidplus;

	/* The answer to one UID SEARCH. */
	uint64_t *uids;
	size_t n, cap;
	uint64_t lo, hi;

	/* The message being fetched. */
	struct dm_buf body;
	struct dm_sha256 sha;
	uint64_t size;
	int too_big;
};

/* A decimal number of a response; 0 when there is none (no UID is 0). */
static uint64_t
number(const char *p, const char **end)
{
	unsigned long long v;
	char *e;

	if (*p < '0' || *p > '9')
		return *end = p, 0;
	v = strtoull(p, &e, 10);
	*end = e;
	return (uint64_t)v;
}

/* "* STATUS INBOX (MESSAGES 5 UIDNEXT 6 UIDVALIDITY 1795890501)" */
static int
on_status(void *ctx, const char *line, size_t n, struct dm_error *err)
{
	struct folder *f = ctx;
	const char *p, *e;

	(void)n;
	(void)err;
	if (strncasecmp(line, "* STATUS ", 9) != 0 ||
	    (p = strrchr(line, '(')) == NULL)
		return DM_OK;
	for (p++; *p != '\0'; p = e) {
		while (*p == ' ')
			p++;
		e = p + strcspn(p, " )");
		if (*e == ' ' && strncasecmp(p, "UIDVALIDITY ", 12) == 0)
			f->uidvalidity = number(e + 1, &e);
		else if (*e == ' ' && strncasecmp(p, "UIDNEXT ", 8) == 0)
			f->uidnext = number(e + 1, &e);
		if (*e == ')' || e == p)
			break;
	}
	return DM_OK;
}

static int
read_status(struct folder *f, struct dm_error *err)
{
	char cmd[1100], q[1024];
	int rc;

	if ((rc = dm_imap_quote(q, sizeof(q), dm_imap_folder(f->s), err)) !=
	    DM_OK)
		return rc;
	snprintf(cmd, sizeof(cmd), "STATUS %s (UIDVALIDITY UIDNEXT)", q);
	f->uidvalidity = f->uidnext = 0;
	rc = dm_imap_command(
	    f->s, 0, 0, cmd, "reading the folder", on_status, f, err);
	if (rc == DM_OK && (f->uidvalidity == 0 || f->uidnext == 0))
		rc = dm_error_set(err, DM_EIO,
		    "%s: the server did not say the folder's UIDVALIDITY and "
		    "UIDNEXT",
		    f->name);
	return rc;
}

/* "* SEARCH 4 5 7": the UIDs of [f->lo, f->hi]. */
static int
on_search(void *ctx, const char *line, size_t n, struct dm_error *err)
{
	struct folder *f = ctx;
	const char *p, *e;
	uint64_t *v, uid;

	(void)n;
	if (strncasecmp(line, "* SEARCH", 8) != 0)
		return DM_OK;
	for (p = line + 8; *p == ' '; p = e) {
		uid = number(p + 1, &e);
		if (e == p + 1)
			break;
		if (uid < f->lo || uid > f->hi)
			continue;
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 256;
			v = dm_realloc(f->uids, f->cap * sizeof(*v));
			if (v == NULL)
				return dm_error_set(
				    err, DM_ENOMEM, "out of memory");
			f->uids = v;
		}
		f->uids[f->n++] = uid;
	}
	return DM_OK;
}

static int
cmp_uid(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The messages of UIDs lo to hi, ascending.  An explicit upper end, since
 * "lo:*" always matches the highest UID, even one below lo.
 */
static int
search(struct folder *f, uint64_t lo, uint64_t hi, struct dm_error *err)
{
	char cmd[64];
	int rc;

	f->n = 0;
	f->lo = lo;
	f->hi = hi;
	snprintf(cmd, sizeof(cmd), "UID SEARCH UID %llu:%llu",
	    (unsigned long long)lo, (unsigned long long)hi);
	rc = dm_imap_command(f->s, 1, f->uidvalidity, cmd, "listing messages",
	    on_search, f, err);
	if (rc == DM_OK && f->n > 1)
		qsort(f->uids, f->n, sizeof(*f->uids), cmp_uid);
	return rc;
}

static int
on_capability(void *ctx, const char *line, size_t n, struct dm_error *err)
{
	struct folder *f = ctx;
	const char *p, *e;

	(void)n;
	(void)err;
	if (strncasecmp(line, "* CAPABILITY ", 13) != 0)
		return DM_OK;
	for (p = line + 13; *p != '\0'; p = e + (*e == ' ')) {
		e = p + strcspn(p, " ");
		if (e - p == 4 && strncasecmp(p, "MOVE", 4) == 0)
			f->has_move = 1;
		if (e - p == 7 && strncasecmp(p, "UIDPLUS", 7) == 0)
			f->has_uidplus = 1;
	}
	return DM_OK;
}

/* Writes UIDs (ascending) as an IMAP sequence set: "1:5,7,9:12". */
static int
uid_set(struct dm_buf *b, const uint64_t *uids, size_t n)
{
	size_t i, j;
	int rc = DM_OK;

	for (i = 0; i < n && rc == DM_OK; i = j + 1) {
		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		rc = dm_buf_addf(
		    b, "%s%llu", i > 0 ? "," : "", (unsigned long long)uids[i]);
		if (rc == DM_OK && j > i)
			rc = dm_buf_addf(
			    b, ":%llu", (unsigned long long)uids[j]);
	}
	return rc;
}

/* Runs "verb set args" on the folder. */
static int
uid_command(struct folder *f, const char *verb, const uint64_t *uids, size_t n,
    const char *args, const char *what, struct dm_error *err)
{
	struct dm_buf b;
	int rc;

	dm_buf_init(&b, DM_IMAP_TEXT_MAX);
	if (dm_buf_addf(&b, "UID %s ", verb) != DM_OK ||
	    uid_set(&b, uids, n) != DM_OK ||
	    dm_buf_addf(&b, " %s", args) != DM_OK)
		rc = dm_error_set(err, DM_ENOMEM, "out of memory");
	else
		rc = dm_imap_command(
		    f->s, 1, f->uidvalidity, b.data, what, NULL, NULL, err);
	dm_buf_free(&b);
	return rc;
}

/* Copies or moves the messages to folder q (quoted), creating it when the
 * server says it is missing (RFC 3501's TRYCREATE). */
static int
transfer(struct folder *f, const char *verb, const uint64_t *uids, size_t n,
    const char *q, const char *what, struct dm_error *err)
{
	struct dm_error e;
	char cmd[1100];
	int rc;

	rc = uid_command(f, verb, uids, n, q, what, err);
	if (rc != DM_EIO || strstr(err->msg, "TRYCREATE") == NULL)
		return rc;
	snprintf(cmd, sizeof(cmd), "CREATE %s", q);
	dm_error_clear(&e);
	if (dm_imap_command(f->s, 0, 0, cmd, what, NULL, NULL, &e) != DM_OK) {
		*err = e;
		return e.code;
	}
	return uid_command(f, verb, uids, n, q, what, err);
}

/*
 * Moves the messages: UID MOVE (RFC 6851), else COPY, \Deleted and UID
 * EXPUNGE (RFC 4315), which expunges only these.  A server with neither would
 * have to expunge every message flagged \Deleted: that is refused.
 */
static int
move_uids(struct folder *f, const uint64_t *uids, size_t n, const char *to,
    struct dm_error *err)
{
	char q[1024], what[1100];
	int rc;

	if ((rc = dm_imap_quote(q, sizeof(q), to, err)) != DM_OK)
		return rc;
	snprintf(what, sizeof(what), "moving messages to %s", to);
	if (!f->caps_known && (rc = dm_imap_command(f->s, 0, 0, "CAPABILITY",
	                           what, on_capability, f, err)) != DM_OK)
		return rc;
	f->caps_known = 1;
	if (f->has_move)
		return transfer(f, "MOVE", uids, n, q, what, err);
	if (!f->has_uidplus)
		return dm_error_set(err, DM_EIO,
		    "%s: %s: the server has neither MOVE nor UIDPLUS; the "
		    "messages stay in the folder",
		    f->name, what);
	if ((rc = transfer(f, "COPY", uids, n, q, what, err)) != DM_OK ||
	    (rc = uid_command(f, "STORE", uids, n, "+FLAGS.SILENT (\\Deleted)",
	         what, err)) != DM_OK)
		return rc;
	return uid_command(f, "EXPUNGE", uids, n, "", what, err);
}

/* Moves every message processed, committed and waiting, failed or not. */
static int
move_pending(struct folder *f, int failed, struct dm_error *err)
{
	const char *to = failed ? f->opt.failed_to : f->opt.move_to;
	uint64_t uids[MOVE_BATCH];
	size_t n;
	int rc;

	if (to == NULL || f->ops == NULL || f->ops->pending == NULL ||
	    f->ops->moved == NULL)
		return DM_OK;
	for (;;) {
		rc = f->ops->pending(f->ctx, f->name, f->uidvalidity, failed,
		    uids, MOVE_BATCH, &n, err);
		if (rc != DM_OK || n == 0)
			return rc;
		if ((rc = move_uids(f, uids, n, to, err)) != DM_OK ||
		    (rc = f->ops->moved(f->ctx, f->name, f->uidvalidity, uids,
		         n, err)) != DM_OK)
			return rc;
	}
}

/*
 * A server that refuses a move (a folder it cannot create, say) still gives
 * its messages: the moves wait in the database for a later run, and only
 * database and memory errors stop the walk here.
 */
static int
move_all(struct folder *f, struct dm_error *err)
{
	int rc;

	f->since_move = 0;
	if (f->move_failed)
		return DM_OK;
	if ((rc = move_pending(f, 0, err)) == DM_OK)
		rc = move_pending(f, 1, err);
	if (rc != DM_EIO && rc != DM_EINVAL)
		return rc;
	f->move_failed = 1;
	f->move_err = *err;
	dm_error_clear(err);
	return DM_OK;
}

/* The message went over the cap: its first quarantine_bytes stay. */
static void
keep_prefix_only(struct folder *f)
{
	size_t max = (size_t)f->w->lim->quarantine_bytes;
	char *p;

	f->too_big = 1;
	if (f->body.len <= max)
		return;
	f->body.len = max;
	f->body.data[max] = '\0';
	if ((p = dm_realloc(f->body.data, max + 1)) != NULL) {
		f->body.data = p;
		f->body.cap = max + 1;
	}
}

/* Adds what fits of p to the first bytes kept of a message over the cap. */
static int
keep_prefix(struct folder *f, const void *p, size_t n)
{
	size_t max = (size_t)f->w->lim->quarantine_bytes;
	size_t room = max > f->body.len ? max - f->body.len : 0;

	if (room == 0)
		return DM_OK;
	return dm_buf_add(&f->body, p, n < room ? n : room) == DM_OK
	           ? DM_OK
	           : DM_ENOMEM;
}

static int
on_data(void *ctx, const void *p, size_t n, struct dm_error *err)
{
	struct folder *f = ctx;
	int rc;

	dm_sha256_update(&f->sha, p, n);
	f->size += n;
	if (!f->too_big && (rc = dm_buf_add(&f->body, p, n)) != DM_ELIMIT)
		return rc == DM_OK
		           ? DM_OK
		           : dm_error_set(err, DM_ENOMEM, "out of memory");
	/* Over the cap: hashed on, so that the next run knows it, and only its
	 * first bytes kept, for the quarantine (as for a Maildir message). */
	if (!f->too_big)
		keep_prefix_only(f);
	return keep_prefix(f, p, n);
}

static void
message_reset(struct folder *f)
{
	dm_buf_free(&f->body);
	dm_buf_init(&f->body, (size_t)f->w->lim->message_bytes);
	dm_sha256_init(&f->sha);
	f->size = 0;
	f->too_big = 0;
}

/*
 * A message the server no longer has: another client removed it (nothing to
 * do), or the folder got a new UIDVALIDITY under this run, which the next run
 * reads again.
 */
static int
vanished(struct folder *f, uint64_t uid, struct dm_error *err)
{
	uint64_t v = f->uidvalidity;
	int rc;

	if ((rc = read_status(f, err)) != DM_OK)
		return rc;
	if (f->uidvalidity == v)
		return DM_OK;
	return dm_error_set(err, DM_EIO,
	    "%s: fetching UID %llu: the folder's UIDVALIDITY changed (from "
	    "%llu to %llu); the next run reads it again",
	    f->name, (unsigned long long)uid, (unsigned long long)v,
	    (unsigned long long)f->uidvalidity);
}

/* The message as a unit: path the folder, "UID n", identity its IMAP URL
 * (RFC 5092). */
static int
walk_fetched(struct folder *f, uint64_t uid, int *failed, struct dm_error *err)
{
	char label[32], *identity;
	struct dm_unit u;
	size_t n = strlen(f->name) + 64;
	int rc;

	if ((identity = dm_malloc(n)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	snprintf(identity, n, "%s;UIDVALIDITY=%llu/;UID=%llu", f->name,
	    (unsigned long long)f->uidvalidity, (unsigned long long)uid);
	snprintf(label, sizeof(label), "UID %llu", (unsigned long long)uid);
	memset(&u, 0, sizeof(u));
	u.path = f->name;
	u.message = label;
	u.identity = identity;
	rc = dm_walk_message(
	    &f->wk, &u, &f->body, &f->sha, f->size, f->too_big, failed, err);
	dm_free(identity);
	/* Seen before, and it failed then: moved as a failed message. */
	if (rc == DM_DONE_FAILED)
		*failed = 1;
	return rc == DM_DONE || rc == DM_DONE_FAILED ? DM_OK : rc;
}

static int
take_message(struct folder *f, uint64_t uid, struct dm_error *err)
{
	int failed = 0, rc;

	message_reset(f);
	rc = dm_imap_fetch(f->s, f->uidvalidity, uid, on_data, f, err);
	if (rc == DM_DONE)
		return vanished(f, uid, err);
	if (rc != DM_OK)
		return rc;
	f->fetched++;
	if (f->limit != NULL)
		(*f->limit)--;
	if ((rc = walk_fetched(f, uid, &failed, err)) != DM_OK)
		return rc;
	if (f->ops != NULL && f->ops->done != NULL &&
	    (rc = f->ops->done(
	         f->ctx, f->name, f->uidvalidity, uid, failed, err)) != DM_OK)
		return rc;
	if (++f->since_move >= MOVE_BATCH)
		return move_all(f, err);
	return DM_OK;
}

static int
limit_left(const struct folder *f)
{
	return f->limit == NULL || *f->limit > 0;
}

/* Every message above the last UID processed, in UID order, a span at a
 * time. */
static int
take_new(struct folder *f, uint64_t last, struct dm_error *err)
{
	uint64_t lo, hi;
	size_t i;
	int rc = DM_OK;

	for (lo = last + 1; lo < f->uidnext && limit_left(f) && rc == DM_OK;
	     lo = hi + 1) {
		hi = f->uidnext - 1;
		if (hi - lo >= SEARCH_SPAN)
			hi = lo + SEARCH_SPAN - 1;
		if ((rc = search(f, lo, hi, err)) != DM_OK)
			break;
		for (i = 0; i < f->n && limit_left(f) && rc == DM_OK; i++)
			rc = take_message(f, f->uids[i], err);
	}
	return rc;
}

/* The moves asked for, checked before anything is fetched. */
static int
check_targets(struct folder *f, struct dm_error *err)
{
	const char *to[2] = {f->opt.move_to, f->opt.failed_to};
	const char *me = dm_imap_folder(f->s);
	int i;

	for (i = 0; i < 2; i++) {
		if (to[i] != NULL && (strcmp(to[i], me) == 0 ||
		                         (strcmp(me, "INBOX") == 0 &&
		                             strcasecmp(to[i], "INBOX") == 0)))
			return dm_error_set(err, DM_EINVAL,
			    "%s: --%s names the folder being read", f->name,
			    i == 0 ? "move-to" : "failed-to");
	}
	return DM_OK;
}

static int
walk_folder(struct folder *f, struct dm_error *err)
{
	uint64_t last = 0;
	int rc;

	if ((rc = check_targets(f, err)) != DM_OK ||
	    (rc = read_status(f, err)) != DM_OK)
		return rc;
	if (f->ops != NULL && f->ops->last_uid != NULL &&
	    (rc = f->ops->last_uid(
	         f->ctx, f->name, f->uidvalidity, &last, err)) != DM_OK)
		return rc;
	/* What a run before processed and did not move (a crash, or no
	 * --move-to then) goes first. */
	if ((rc = move_all(f, err)) != DM_OK ||
	    (rc = take_new(f, last, err)) != DM_OK ||
	    (rc = move_all(f, err)) != DM_OK)
		return rc;
	if (f->move_failed)
		*err = f->move_err;
	return f->move_failed ? err->code : DM_OK;
}

int
dm_is_imap_url(const char *path)
{
	return strncasecmp(path, "imap://", 7) == 0 ||
	       strncasecmp(path, "imaps://", 8) == 0;
}

/*
 * A folder that failed before anything came from it is "server" (nothing could
 * be fetched); after, or when only moves failed, the run was partial ("io").
 * Database and memory errors stay fatal.
 */
static int
folder_failed(struct folder *f, int rc, struct dm_error *err)
{
	if (rc != DM_EIO && rc != DM_EINVAL)
		return rc;
	err->reason = f->fetched == 0 && !f->move_failed ? "server" : "io";
	return DM_EIO;
}

int
dm_walk_imap(struct dm_walk *w, const char *url, struct dm_error *err)
{
	struct folder f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.w = w;
	f.opt = *w->opt;
	f.wk = *w;
	f.wk.opt = &f.opt;
	f.ops = w->ops->folder;
	f.ctx = w->ops->ctx;
	f.limit = w->opt->imap != NULL ? w->opt->imap->limit : NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return dm_error_setr(
		    err, DM_EIO, "server", "%s: libcurl cannot start", "IMAP");
	rc = dm_imap_open(&f.s, url, w->opt->imap, err);
	if (rc == DM_OK) {
		f.name = dm_imap_name(f.s);
		rc = walk_folder(&f, err);
	}
	rc = folder_failed(&f, rc, err);
	dm_imap_close(f.s);
	dm_buf_free(&f.body);
	dm_free(f.uids);
	curl_global_cleanup();
	return rc;
}
