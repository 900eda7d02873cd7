/*
 * mailbox.c - mails as input units: a single mail, an mbox, a Maildir, a mail
 * on stdin.
 *
 * Every message is a unit of its own (its own SHA-256, its own outcome), so one
 * broken mail in a mailbox of thousands fails alone, and a cron run over an old
 * mailbox skips what it has seen without parsing it.  An mbox is streamed: at
 * most one message is held in memory, capped at lim->message_bytes.  A Maildir
 * message is identified by the unique part of its file name, which survives a
 * mail client moving it from new/ to cur/ and changing its flags.
 *
 * What a message contains is not judged here: mail.c turns it into decoded
 * parts and walk.c sniffs and unwraps each part.  This file only decides which
 * parts are worth unwrapping and which mails are other kinds of reports
 * (forensic, TLS-RPT, bounces), skipped with a reason.
 */
#define _XOPEN_SOURCE 700 /* realpath */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest_int.h"
#include "mem.h"
#include "sha256.h"

/* Longest piece of a line handled at once; longer lines arrive in several
 * pieces. */
#define LINE_PIECE 65536

/* Bytes of a file or of memory, handed out a line (or a LINE_PIECE of one) at a
 * time. */
struct lines {
	int fd; /* -1: read from mem */
	const unsigned char *mem;
	size_t mem_len, mem_off;
	unsigned char buf[LINE_PIECE];
	size_t start, end;
	const unsigned char *last; /* the piece returned last, for unread() */
	size_t last_len;
	int eof, again;
	uint64_t file_size; /* of the file read (0: memory) */
	int only_copy;      /* the bytes exist nowhere else (standard input) */
};

/*
 * One message being read: its bytes (kept up to the message cap), hash and
 * size.  A message over the cap keeps only its first `prefix` bytes, for the
 * quarantine.
 */
struct msg {
	struct dm_buf body;
	struct dm_sha256 sha;
	uint64_t
	    size; /* bytes hashed: an mbox's "From " line and escapes too */
	uint64_t
	    content; /* bytes of the message itself (kept when not too big) */
	size_t prefix;
	int too_big;
	size_t prev_blank; /* length of the last line when it was empty (an mbox
	                      separator may follow), else 0 */
};

/* What the walk of one message unit has seen. */
struct unit_walk {
	struct dm_walk *w;
	const struct dm_unit *u;
	enum dm_mail_kind kind;
	unsigned streamed; /* parts handed to dm_walk_stream */
	int fatal;         /* a callback failed: stop everything */
	int hard; /* a problem other than "not an aggregate report" was reported
	           */
};

/* multipart/report kinds that are not aggregate reports (RFC 6522, RFC 8460,
 * RFC 3464). */
static const struct {
	enum dm_mail_kind kind;
	const char *reason, *msg;
} skip_kinds[] = {
    {DM_MAIL_FORENSIC, "forensic_report",
        "forensic (RUF) report, not an aggregate report"},
    {DM_MAIL_TLSRPT, "tls_report",
        "SMTP TLS report (TLS-RPT), not an aggregate report"},
    {DM_MAIL_BOUNCE, "bounce",
        "delivery status notification (bounce), not an aggregate report"},
};

/* Parts that are never reports: signatures of signed report mails. */
static const char *const ignored_types[] = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
};

static ssize_t
fill(struct lines *l, unsigned char *dst, size_t n)
{
	ssize_t r;

	if (l->fd < 0) {
		r = (ssize_t)(n < l->mem_len - l->mem_off
		                  ? n
		                  : l->mem_len - l->mem_off);
		memcpy(dst, l->mem + l->mem_off, (size_t)r);
		l->mem_off += (size_t)r;
		return r;
	}
	do
		r = read(l->fd, dst, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/*
 * Returns the next piece (a whole line with its '\n', or LINE_PIECE bytes of a
 * longer one, or the unterminated tail), 0 at the end, -1 on a read error
 * (errno set).  *p stays valid until the next call.
 */
static ssize_t
next_piece(struct lines *l, const unsigned char **p)
{
	unsigned char *nl;
	ssize_t r;

	if (l->again) {
		l->again = 0;
		*p = l->last;
		return (ssize_t)l->last_len;
	}
	for (;;) {
		nl = memchr(l->buf + l->start, '\n', l->end - l->start);
		if (nl != NULL || l->eof ||
		    (l->start == 0 && l->end == sizeof(l->buf))) {
			*p = l->last = l->buf + l->start;
			l->last_len = nl != NULL ? (size_t)(nl + 1 - *p)
			                         : l->end - l->start;
			l->start += l->last_len;
			return (ssize_t)l->last_len;
		}
		memmove(l->buf, l->buf + l->start, l->end - l->start);
		l->end -= l->start;
		l->start = 0;
		if ((r = fill(l, l->buf + l->end, sizeof(l->buf) - l->end)) < 0)
			return -1;
		l->eof = r == 0;
		l->end += (size_t)r;
	}
}

/* The next next_piece() returns the same piece again. */
static void
unread(struct lines *l)
{
	l->again = 1;
}

static int
is_from_line(const unsigned char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

static int
is_blank_line(const unsigned char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
	       (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static int
is_space_only(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	}
	return 1;
}

static void
msg_init(struct msg *m, const struct dm_limits *lim)
{
	memset(m, 0, sizeof(*m));
	dm_buf_init(&m->body, (size_t)lim->message_bytes);
	m->prefix = lim->quarantine_bytes < lim->message_bytes
	                ? (size_t)lim->quarantine_bytes
	                : (size_t)lim->message_bytes;
	dm_sha256_init(&m->sha);
}

/* The message is over the cap: from now on only its first bytes are kept. */
static void
msg_overflow(struct msg *m)
{
	struct dm_buf *b = &m->body;
	char *p;

	m->too_big = 1;
	if (b->len <= m->prefix)
		return;
	b->len = m->prefix;
	b->data[b->len] = '\0';
	if ((p = dm_realloc(b->data, b->len + 1)) != NULL) {
		b->data = p;
		b->cap = b->len + 1;
	}
}

/* Hashes and counts every byte; keeps them until the message outgrows the cap,
 * then only the first m->prefix bytes. */
static int
msg_add(struct msg *m, const unsigned char *p, size_t n, int keep)
{
	size_t room;
	int rc;

	dm_sha256_update(&m->sha, p, n);
	m->size += n;
	if (!keep)
		return DM_OK;
	m->content += n;
	if (!m->too_big) {
		if ((rc = dm_buf_add(&m->body, p, n)) != DM_ELIMIT)
			return rc;
		msg_overflow(m);
	}
	room = m->prefix > m->body.len ? m->prefix - m->body.len : 0;
	return room == 0 ? DM_OK : dm_buf_add(&m->body, p, n < room ? n : room);
}

/*
 * mboxrd and mboxo escape a body line "From ..." as ">From ...", mboxrd also
 * ">From" as
 * ">>From".  Removing one '>' from every /^>+From / line undoes both (for
 * mboxo, a line that really began with ">From" is changed too: that format
 * cannot tell them apart).
 */
static int
is_escaped_from(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] == '>')
		i++;
	return i > 0 && is_from_line(p + i, n - i);
}

/* Appends one line piece of an mbox message (unescaped) to m. */
static int
mbox_add(struct msg *m, const unsigned char *p, size_t n, int bol)
{
	int rc;

	if (!bol)
		return msg_add(m, p, n, 1);
	m->prev_blank = is_blank_line(p, n) ? n : 0;
	if (!is_escaped_from(p, n))
		return msg_add(m, p, n, 1);
	if ((rc = msg_add(m, p, 1, 0)) != DM_OK)
		return rc;
	return msg_add(m, p + 1, n - 1, 1);
}

/*
 * Reads one message of an mbox: its "From " line (hashed, not kept), then lines
 * up to the next "From " line that follows an empty line.  Returns 2 when a
 * message was read and another follows, 1 when the last one was read, 0 when
 * there was none, or an error.
 */
static int
mbox_read(struct lines *l, struct msg *m, struct dm_error *err)
{
	const unsigned char *p;
	ssize_t n;
	int bol = 1, in_from = 1, rc;

	while ((n = next_piece(l, &p)) > 0) {
		if (bol && !in_from && m->prev_blank &&
		    is_from_line(p, (size_t)n)) {
			unread(l);
			return 2;
		}
		if (in_from)
			rc = msg_add(m, p, (size_t)n, 0);
		else
			rc = mbox_add(m, p, (size_t)n, bol);
		if (rc != DM_OK)
			return dm_error_set(
			    err, rc, "out of memory reading a message");
		bol = p[n - 1] == '\n';
		in_from = in_from && !bol;
	}
	if (n < 0)
		return dm_error_set(
		    err, DM_EIO, "read error: %s", strerror(errno));
	return m->size > 0;
}

/* The blank line before the next "From " belongs to the mbox format, not to the
 * message. */
static void
drop_separator_newline(struct msg *m)
{
	struct dm_buf *b = &m->body;
	size_t n = m->prev_blank;

	if (n == 0)
		return;
	m->content -= n;
	if (m->too_big) /* the body is only the message's first bytes */
		return;
	b->len -= n;
	b->data[b->len] = '\0';
}

/* A single mail: everything, kept as it is. */
static int
single_read(struct lines *l, struct msg *m, struct dm_error *err)
{
	const unsigned char *p;
	ssize_t n;

	while ((n = next_piece(l, &p)) > 0) {
		if (msg_add(m, p, (size_t)n, 1) != DM_OK)
			return dm_error_set(
			    err, DM_ENOMEM, "out of memory reading a message");
	}
	if (n < 0)
		return dm_error_set(
		    err, DM_EIO, "read error: %s", strerror(errno));
	return 1;
}

/* Skips white space before the first line; says whether the input is an mbox.
 */
static int
starts_mbox(struct lines *l, struct msg *m, struct dm_error *err)
{
	const unsigned char *p;
	ssize_t n;

	while ((n = next_piece(l, &p)) > 0 && is_space_only(p, (size_t)n)) {
		if (msg_add(m, p, (size_t)n, 1) != DM_OK)
			return dm_error_set(
			    err, DM_ENOMEM, "out of memory reading a message");
	}
	if (n < 0)
		return dm_error_set(
		    err, DM_EIO, "read error: %s", strerror(errno));
	if (n > 0)
		unread(l);
	return n > 0 && is_from_line(p, (size_t)n);
}

static int
report(struct unit_walk *uw, const char *member, int code, const char *reason,
    const char *msg, struct dm_error *err)
{
	struct dm_error e;

	dm_error_clear(&e);
	dm_error_setr(&e, code, reason, "%s", msg);
	return dm_walk_problem(uw->w, uw->u, member, &e, err);
}

static int
type_is(const char *type, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; type != NULL && i < n; i++) {
		if (strcmp(type, list[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * Whether the first bytes of an unnamed text part hold a <feedback> element: an
 * HTML body also starts with '<', and must not be taken for a broken report.
 */
static int
mentions_feedback(const void *data, size_t len)
{
	static const char tag[] = "feedback";
	const char *p = data;
	size_t i, n = len < 4096 ? len : 4096;

	for (i = 1; i + sizeof(tag) - 1 <= n; i++) {
		if ((p[i - 1] == '<' || p[i - 1] == ':') &&
		    memcmp(p + i, tag, sizeof(tag) - 1) == 0)
			return 1;
	}
	return 0;
}

/*
 * The text body of a report mail ("This is an aggregate report from ...") is
 * not a report. Some senders paste the XML (or a gzip mislabelled as text) into
 * it, so it is still unwrapped when its bytes say so: compressed data, or XML
 * that holds a <feedback> element (an HTML body is not a report).
 */
static int
worth_walking(const struct dm_mail_part *p)
{
	static const char *const bodies[] = {"text/plain", "text/html"};
	enum dm_sniff s;

	if (type_is(p->content_type, ignored_types,
	        sizeof(ignored_types) / sizeof(ignored_types[0])))
		return 0;
	if (p->filename != NULL || p->content_type == NULL ||
	    !type_is(
	        p->content_type, bodies, sizeof(bodies) / sizeof(bodies[0])))
		return 1;
	s = dm_sniff(
	    p->data, p->len < DM_SNIFF_BYTES ? p->len : DM_SNIFF_BYTES);
	if (s == DM_SNIFF_XML)
		return mentions_feedback(p->data, p->len);
	return dm_sniff_is_container(s);
}

static int
on_part(void *ctx, const struct dm_mail_info *info, enum dm_mail_kind kind,
    const struct dm_mail_part *p, struct dm_error *err)
{
	struct unit_walk *uw = ctx;
	struct dm_mem_source ms;
	struct dm_source src;
	char *member;
	size_t n;
	int rc;

	(void)info;
	uw->kind = kind;
	if (kind != DM_MAIL_PLAIN || !worth_walking(p))
		return DM_OK;
	n = strlen(p->path) + (p->filename ? strlen(p->filename) + 1 : 0) + 1;
	if ((member = dm_malloc(n)) == NULL) {
		uw->fatal = 1;
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	snprintf(member, n, "%s%s%s", p->path, p->filename ? ":" : "",
	    p->filename ? p->filename : "");
	uw->streamed++;
	src = dm_mem_source(&ms, p->data, p->len);
	rc = dm_walk_stream(uw->w, uw->u, member, &src, 1, err);
	dm_free(member);
	uw->fatal = rc != DM_OK;
	return rc;
}

/* After the parts: a mail that is another kind of report, or holds none, is
 * skipped. */
static int
judge_mail(struct unit_walk *uw, struct dm_error *err)
{
	size_t i;

	for (i = 0; i < sizeof(skip_kinds) / sizeof(skip_kinds[0]); i++) {
		if (skip_kinds[i].kind == uw->kind)
			return report(uw, NULL, DM_ESKIP, skip_kinds[i].reason,
			    skip_kinds[i].msg, err);
	}
	if (uw->streamed == 0)
		return report(uw, NULL, DM_ESKIP, "no_report",
		    "no DMARC report found in the mail", err);
	return DM_OK;
}

static int
walk_mail(struct unit_walk *uw, const struct msg *m, struct dm_error *err)
{
	struct dm_error e;
	char cap[32];
	int rc;

	if (m->too_big) {
		dm_size_text(cap, sizeof(cap), uw->w->lim->message_bytes);
		dm_error_clear(&e);
		dm_error_setr(&e, DM_ELIMIT, "limit",
		    "message larger than %s (DM_MAX_MESSAGE_BYTES)", cap);
		uw->hard = 1;
		return dm_walk_problem(uw->w, uw->u, NULL, &e, err);
	}
	dm_error_clear(&e);
	rc = dm_mail_walk(
	    m->body.data, m->body.len, uw->w->lim, on_part, uw, &e);
	if (uw->fatal) {
		*err = e;
		return rc;
	}
	uw->hard = rc != DM_OK || !uw->w->unit_ok;
	if (rc != DM_OK)
		return dm_walk_problem(uw->w, uw->u, NULL, &e, err);
	return judge_mail(uw, err);
}

/*
 * One message as a unit: unit_begin (which may say "seen"), the walk, unit_end.
 * Returns DM_OK, DM_DONE or DM_DONE_FAILED when unit_begin skipped it, or a
 * fatal error.  *failed says whether a problem other than "not an aggregate
 * report" was reported (for the Maildir moves).
 */
static int
walk_unit(struct dm_walk *w, struct dm_unit *u, struct msg *m, int *failed,
    struct dm_error *err)
{
	const struct dm_walk_ops *ops = w->ops;
	struct unit_walk uw = {w, u, DM_MAIL_PLAIN, 0, 0, 0};
	struct dm_mail_head head;
	char hex[65];
	int rc;

	dm_sha256_final_hex(&m->sha, hex);
	u->sha256 = hex;
	u->size = m->content;
	u->bytes = m->body.data;
	u->n_bytes = m->body.len;
	memset(&head, 0, sizeof(head));
	if (!m->too_big && (rc = dm_mail_head_read(m->body.data, m->body.len,
	                        &head, err)) != DM_OK)
		return rc;
	u->mail = &head.info;
	w->unit_ok = 1;
	rc =
	    ops->unit_begin != NULL ? ops->unit_begin(ops->ctx, u, err) : DM_OK;
	if (rc == DM_OK && (rc = walk_mail(&uw, m, err)) == DM_OK) {
		*failed = uw.hard;
		if (ops->unit_end != NULL)
			rc = ops->unit_end(ops->ctx, u, w->unit_ok, err);
	}
	dm_mail_head_free(&head);
	u->mail = NULL;
	u->sha256 = NULL;
	return rc;
}

int
dm_walk_message(struct dm_walk *w, struct dm_unit *u, struct dm_buf *body,
    const struct dm_sha256 *sha, uint64_t size, int too_big, int *failed,
    struct dm_error *err)
{
	struct msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.body = *body;
	m.sha = *sha;
	m.size = m.content = size;
	m.too_big = too_big;
	/* Held in memory: the unit carries its bytes, no file. */
	u->fd = -1;
	*failed = 0;
	rc = walk_unit(w, u, &m, failed, err);
	*body = m.body;
	return rc;
}

static void
label(char *buf, size_t n, unsigned long i)
{
	snprintf(buf, n, "message %lu", i);
}

/* A message unit of path: its bytes are set by walk_unit. */
static void
message_unit(struct dm_unit *u, const char *path, int only_copy)
{
	memset(u, 0, sizeof(*u));
	u->path = path;
	u->fd = -1;
	u->only_copy = only_copy;
}

/* unit_begin said the unit was processed before (and maybe failed). */
static int
seen(int rc)
{
	return rc == DM_DONE || rc == DM_DONE_FAILED;
}

/*
 * Walks the messages of an mbox one by one, holding one at a time.  A message
 * is only known to be the only one (and so gets no "message N" label) once the
 * end has been seen after it.
 */
static int
walk_mbox(struct dm_walk *w, struct lines *l, const char *path, struct msg *m,
    struct dm_error *err)
{
	struct dm_unit u;
	char name[48];
	unsigned long i;
	int more, failed, rc = DM_OK;

	for (i = 1; rc == DM_OK || seen(rc); i++) {
		if ((more = mbox_read(l, m, err)) <= 0) {
			rc = more;
			break;
		}
		drop_separator_newline(m);
		message_unit(&u, path, l->only_copy);
		if (i > 1 || more == 2) {
			label(name, sizeof(name), i);
			u.message = name;
		}
		rc = walk_unit(w, &u, m, &failed, err);
		dm_buf_free(&m->body);
		msg_init(m, w->lim);
		if (more == 1)
			break;
	}
	dm_buf_free(&m->body);
	return seen(rc) ? DM_OK : rc;
}

static int
walk_lines(
    struct dm_walk *w, struct lines *l, const char *path, struct dm_error *err)
{
	struct dm_unit u;
	struct msg m;
	int rc, failed;

	msg_init(&m, w->lim);
	rc = starts_mbox(l, &m, err);
	if (rc == 1)
		return walk_mbox(w, l, path, &m, err);
	/* One mail in a file over the cap is refused without holding more than
	 * its first bytes (still hashed, so the next run skips it). */
	if (rc == DM_OK && l->file_size > w->lim->message_bytes)
		msg_overflow(&m);
	if (rc == DM_OK)
		rc = single_read(l, &m, err);
	if (rc == 1) {
		message_unit(&u, path, l->only_copy);
		rc = walk_unit(w, &u, &m, &failed, err);
	}
	dm_buf_free(&m.body);
	return seen(rc) ? DM_OK : rc;
}

int
dm_walk_mail_file(
    struct dm_walk *w, const char *path, int fd, struct dm_error *err)
{
	struct lines *l;
	struct stat st;
	int rc;

	/* The file is read again from its start: whether it is an mbox is
	 * decided on the first line after any blank lines, which the head
	 * sniffed may not reach. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return dm_error_set(
		    err, DM_EIO, "%s: %s", path, strerror(errno));
	if ((l = dm_calloc(1, sizeof(*l))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	l->fd = fd;
	if (fstat(l->fd, &st) == 0)
		l->file_size = (uint64_t)st.st_size;
	rc = walk_lines(w, l, path, err);
	if (rc == DM_EIO)
		dm_error_prefix(err, "%s", path);
	dm_free(l);
	return rc;
}

int
dm_walk_mail_memory(struct dm_walk *w, const char *path, const void *bytes,
    size_t len, int only_copy, struct dm_error *err)
{
	struct lines *l;
	int rc;

	if ((l = dm_calloc(1, sizeof(*l))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	l->fd = -1;
	l->mem = bytes;
	l->mem_len = len;
	l->only_copy = only_copy;
	rc = walk_lines(w, l, path, err);
	dm_free(l);
	return rc;
}

/* dir/name, allocated: paths are not capped (a Maildir may sit deep); NULL
 * when out of memory. */
static char *
path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = dm_malloc(a + b + 2);

	if (p != NULL) {
		memcpy(p, dir, a);
		p[a] = '/';
		memcpy(p + a + 1, name, b + 1);
	}
	return p;
}

/* Whether dir/sub is a folder. */
static int
has_folder(const char *dir, const char *sub)
{
	char *p = path_join(dir, sub);
	struct stat st;
	int yes = p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);

	dm_free(p);
	return yes;
}

int
dm_is_maildir(const char *dir)
{
	return has_folder(dir, "cur") && has_folder(dir, "new");
}

/* The file names of a Maildir sub-folder, sorted; dot files (client state) are
 * not mail. */
struct names {
	char **v;
	size_t n, cap;
};

static void
names_free(struct names *ns)
{
	while (ns->n > 0)
		dm_free(ns->v[--ns->n]);
	dm_free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static int
names_add(struct names *ns, const char *name)
{
	char **v;

	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		if ((v = dm_realloc(ns->v, ns->cap * sizeof(*v))) == NULL)
			return DM_ENOMEM;
		ns->v = v;
	}
	if ((ns->v[ns->n] = dm_strdup(name)) == NULL)
		return DM_ENOMEM;
	ns->n++;
	return DM_OK;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the folder open as dfd (named dir in messages). */
static int
list_dir(int dfd, const char *dir, struct names *ns, struct dm_error *err)
{
	struct dirent *de;
	DIR *d = NULL;
	int fd, rc = DM_OK;

	memset(ns, 0, sizeof(*ns));
	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		rc = dm_error_set(err, DM_EIO, "%s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (rc == DM_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			rc = names_add(ns, de->d_name);
	}
	closedir(d);
	if (rc != DM_OK) {
		names_free(ns);
		return dm_error_set(err, rc, "out of memory listing %s", dir);
	}
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof(*ns->v), cmp_names);
	return DM_OK;
}

/* Reads a whole message from fd (hashing all of it, keeping it up to the cap).
 */
static int
read_message(int fd, const char *path, struct msg *m, struct dm_error *err)
{
	unsigned char buf[65536];
	ssize_t n;
	int rc = DM_OK;

	while (rc == DM_OK && ((n = read(fd, buf, sizeof(buf))) > 0 ||
	                          (n < 0 && errno == EINTR))) {
		if (n > 0)
			rc = msg_add(m, buf, (size_t)n, 1);
	}
	if (rc == DM_OK && n < 0)
		return dm_error_setr(err, DM_EIO, "io", "cannot read %s: %s",
		    path, strerror(errno));
	if (rc != DM_OK)
		return dm_error_set(err, rc, "out of memory reading %s", path);
	return DM_OK;
}

/*
 * A Maildir that messages are moved into: its cur/ and tmp/, open (made,
 * with new/, if missing) when the first message goes there.  Moves are made
 * with renameat between open folders, so that no path longer than the file
 * system takes is ever needed.
 */
struct box {
	const char *dir; /* NULL: not asked for */
	int cur, tmp;    /* -1 until open */
};

/* Opens dir/sub as a folder, making it first (mode 0700) if missing. */
static int
open_sub(const char *dir, const char *sub, struct dm_error *err)
{
	char *p = path_join(dir, sub);
	int fd = -1;

	if (p == NULL) {
		dm_error_set(err, DM_ENOMEM, "out of memory");
		return -1;
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		dm_error_set(
		    err, DM_EIO, "cannot create %s: %s", p, strerror(errno));
	else if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		dm_error_set(
		    err, DM_EIO, "cannot open %s: %s", p, strerror(errno));
	dm_free(p);
	return fd;
}

static int
box_open(struct box *b, struct dm_error *err)
{
	int fd;

	if (b->cur >= 0)
		return DM_OK;
	if (mkdir(b->dir, 0700) != 0 && errno != EEXIST)
		return dm_error_set(err, DM_EIO, "cannot create %s: %s", b->dir,
		    strerror(errno));
	if ((fd = open_sub(b->dir, "new", err)) < 0)
		return err->code;
	close(fd);
	if ((b->tmp = open_sub(b->dir, "tmp", err)) < 0 ||
	    (b->cur = open_sub(b->dir, "cur", err)) < 0) {
		if (b->tmp >= 0)
			close(b->tmp);
		b->tmp = -1;
		return err->code;
	}
	return DM_OK;
}

static void
box_close(struct box *b)
{
	if (b->cur >= 0)
		close(b->cur);
	if (b->tmp >= 0)
		close(b->tmp);
	b->cur = b->tmp = -1;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies all of src (read from its start) to dst. */
static int
copy_fd(int src, int dst)
{
	unsigned char buf[65536];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(src, buf, sizeof(buf), off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(dst, buf, (size_t)n) != 0)
			return -1;
		off += n;
	}
	return 0;
}

/* One message of the Maildir being walked: its folder (new/ or cur/) and
 * name, its path for people, its open file. */
struct message {
	int dir;
	const char *name, *path;
	int fd;
};

/*
 * Across file systems renameat() fails with EXDEV: copy into the target's
 * tmp/, fsync, and only then rename into cur/ and unlink the source, the
 * Maildir delivery protocol, so that a crash leaves at worst a duplicate
 * (which the content hash recognises), never a lost message.
 */
static int
copy_move(const struct message *msg, const struct box *to, const char *dst,
    struct dm_error *err)
{
	int fd, bad;

	fd = openat(
	    to->tmp, msg->name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return dm_error_set(err, DM_EIO, "cannot create %s/tmp/%s: %s",
		    to->dir, msg->name, strerror(errno));
	bad = copy_fd(msg->fd, fd) != 0 || fsync(fd) != 0;
	bad |= close(fd) != 0;
	if (bad || renameat(to->tmp, msg->name, to->cur, msg->name) != 0) {
		dm_error_set(
		    err, DM_EIO, "cannot write %s: %s", dst, strerror(errno));
		unlinkat(to->tmp, msg->name, 0);
		return DM_EIO;
	}
	if (unlinkat(msg->dir, msg->name, 0) != 0 && errno != ENOENT)
		return dm_error_set(err, DM_EIO, "cannot remove %s: %s",
		    msg->path, strerror(errno));
	return DM_OK;
}

/*
 * Moves a message into <to>/cur/, keeping its name, and says where to (*dst,
 * the caller frees), NULL when it was gone already: another run over the same
 * Maildir moved it, which is not an error (two cron runs may overlap).
 */
static int
move_message(
    const struct message *msg, struct box *to, char **dst, struct dm_error *err)
{
	char *cur;
	int rc;

	*dst = NULL;
	if ((rc = box_open(to, err)) != DM_OK)
		return rc;
	if ((cur = path_join(to->dir, "cur")) == NULL ||
	    (*dst = path_join(cur, msg->name)) == NULL) {
		dm_free(cur);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	dm_free(cur);
	if (renameat(msg->dir, msg->name, to->cur, msg->name) == 0)
		return DM_OK;
	if (errno == ENOENT)
		rc = DM_OK;
	else if (errno != EXDEV)
		rc = dm_error_set(err, DM_EIO, "cannot move %s to %s: %s",
		    msg->path, *dst, strerror(errno));
	else if ((rc = copy_move(msg, to, *dst, err)) == DM_OK)
		return DM_OK;
	dm_free(*dst);
	*dst = NULL;
	return rc;
}

/* The Maildir being walked. */
struct maildir {
	struct dm_walk *w;
	const char *dir;
	char *canon; /* its real path, for identities */
	struct box done, failed;
};

/*
 * The identity of a Maildir message: its Maildir's real path and the unique
 * part of its name, before the ":2," info that mail clients change when they
 * move it to cur/ or flag it.  Another Maildir may hold another message of
 * the same name.
 */
static char *
maildir_identity(const char *canon, const char *name)
{
	const char *colon = strstr(name, ":2,");
	size_t n = colon != NULL ? (size_t)(colon - name) : strlen(name);
	size_t len = sizeof("maildir:/") + strlen(canon) + n;
	char *id = dm_malloc(len);

	if (id != NULL)
		snprintf(id, len, "maildir:%s/%.*s", canon, (int)n, name);
	return id;
}

/*
 * A message that cannot be read is a problem of its own (with what could be
 * read of it: m); the other messages go on.
 */
static int
unreadable(struct dm_walk *w, struct dm_unit *u, const struct msg *m,
    uint64_t size, struct dm_error *err)
{
	struct dm_error e = *err;

	dm_error_reason(&e, "io");
	dm_error_clear(err);
	u->bytes = m->body.data;
	u->n_bytes = m->body.len;
	u->size = size > m->body.len ? size : m->body.len;
	return dm_walk_problem(w, u, NULL, &e, err);
}

/*
 * Moves a message where its outcome says: a message processed now or before
 * (skipped as seen) to done, one that failed (now or before) to failed, and
 * tells ops->unit_moved where it went.
 */
static int
file_message(struct maildir *md, const struct message *msg,
    const struct dm_unit *u, int failed, struct dm_error *err)
{
	const struct dm_walk_ops *ops = md->w->ops;
	struct box *to = failed ? &md->failed : &md->done;
	char *dst;
	int rc;

	if (to->dir == NULL)
		return DM_OK;
	if ((rc = move_message(msg, to, &dst, err)) != DM_OK || dst == NULL)
		return rc;
	if (ops->unit_moved != NULL)
		rc = ops->unit_moved(ops->ctx, u, dst, err);
	dm_free(dst);
	return rc;
}

/* Opens a message; 0 with msg->fd -1 when it is gone, or not a file any more.
 */
static int
open_message(struct message *msg, struct stat *st, struct dm_error *err)
{
	int link;

	msg->fd = -1;
	if (fstatat(msg->dir, msg->name, st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? DM_OK
		                       : dm_error_setr(err, DM_EIO, "io",
		                             "cannot open %s: %s", msg->path,
		                             strerror(errno));
	if ((link = S_ISLNK(st->st_mode)) &&
	    fstatat(msg->dir, msg->name, st, 0) != 0)
		return DM_OK; /* a link to nothing is not a message */
	if (!S_ISREG(st->st_mode))
		return DM_OK;
	msg->fd =
	    dm_open_regular(msg->dir, msg->name, msg->path, link, st, err);
	if (msg->fd >= 0 || err->code == DM_ESKIP || errno == ENOENT) {
		dm_error_clear(err);
		return DM_OK;
	}
	return err->code;
}

/* One message: read, walked as a unit (or skipped as seen), then moved. */
static int
walk_message(struct maildir *md, struct message *msg, struct dm_error *err)
{
	struct dm_walk *w = md->w;
	struct dm_unit u;
	struct stat st;
	struct msg m;
	char *id;
	int rc, failed = 0;

	memset(&u, 0, sizeof(u));
	u.path = msg->path;
	u.fd = -1;
	if ((u.identity = id = maildir_identity(md->canon, msg->name)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	msg_init(&m, w->lim);
	st.st_size = 0;
	if ((rc = open_message(msg, &st, err)) == DM_OK && msg->fd < 0)
		goto out; /* gone (moved by another run), or not a message */
	if (rc == DM_OK)
		rc = read_message(msg->fd, msg->path, &m, err);
	if (rc == DM_OK)
		rc = walk_unit(w, &u, &m, &failed, err);
	else if (rc == DM_EIO) {
		rc = unreadable(w, &u, &m, (uint64_t)st.st_size, err);
		failed = 1;
	}
	if (rc == DM_OK || seen(rc))
		rc = file_message(md, msg, &u,
		    rc == DM_OK ? failed : rc == DM_DONE_FAILED, err);
out:
	if (msg->fd >= 0)
		close(msg->fd);
	dm_buf_free(&m.body);
	dm_free(id);
	return rc;
}

/*
 * new/ and cur/ as listed; a message that vanished meanwhile (a mail client
 * or another run moved it) is not an error, and sub-folders are not messages.
 */
static int
walk_maildir_sub(struct maildir *md, const char *sub, struct dm_error *err)
{
	struct message msg;
	struct names ns;
	char *p, *path;
	size_t i;
	int rc = DM_OK;

	if ((p = path_join(md->dir, sub)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	if ((msg.dir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = dm_error_set(err, DM_EIO, "%s: %s", p, strerror(errno));
	else if ((rc = list_dir(msg.dir, p, &ns, err)) == DM_OK) {
		for (i = 0; i < ns.n && rc == DM_OK; i++) {
			if ((path = path_join(p, ns.v[i])) == NULL) {
				rc = dm_error_set(
				    err, DM_ENOMEM, "out of memory");
				break;
			}
			msg.name = ns.v[i];
			msg.path = path;
			rc = walk_message(md, &msg, err);
			dm_free(path);
		}
		names_free(&ns);
	}
	if (msg.dir >= 0)
		close(msg.dir);
	dm_free(p);
	return rc;
}

/* The real path of dir (dm_free), or dir itself when it has none. */
static char *
real_path(const char *dir)
{
	char *r = realpath(dir, NULL), *copy;

	copy = dm_strdup(r != NULL ? r : dir);
	free(r);
	return copy;
}

int
dm_walk_maildir(struct dm_walk *w, const char *dir, struct dm_error *err)
{
	struct maildir md = {w, dir, NULL, {NULL, -1, -1}, {NULL, -1, -1}};
	int rc;

	if (w->opt != NULL) {
		md.done.dir = w->opt->move_to;
		md.failed.dir = w->opt->failed_to;
	}
	if ((md.canon = real_path(dir)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	rc = walk_maildir_sub(&md, "new", err);
	if (rc == DM_OK)
		rc = walk_maildir_sub(&md, "cur", err);
	box_close(&md.done);
	box_close(&md.failed);
	dm_free(md.canon);
	return rc;
}
