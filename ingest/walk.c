/*
 * walk.c - the walker: paths, folders and standard input become units, and each
 * unit's bytes go to the container unwrapper (archive.c) or, when they are a
 * mail or an mbox, to mailbox.c.
 *
 * A unit is hashed (SHA-256) in one pass before anything else so that
 * ops->unit_begin can skip inputs already processed without unpacking them; the
 * file is then read a second time as a stream.  Folders are walked in name
 * order, so that output and database row order do not depend on the file
 * system; dot files are skipped (editors' and mail clients' state) and a
 * symbolic link back to a folder being walked is not followed again.  This file
 * never interprets a file by its name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest_int.h"
#include "mem.h"
#include "sha256.h"

#define CHUNK (64 * 1024)

int
dm_walk_problem(struct dm_walk *w, const struct dm_unit *u, const char *member,
    const struct dm_error *problem, struct dm_error *err)
{
	w->unit_ok = 0;
	if (w->ops->problem == NULL)
		return DM_OK;
	return w->ops->problem(w->ops->ctx, u, member, problem, err);
}

/* A file descriptor as a source. */
struct fd_source {
	int fd;
	const char *name;
};

static ssize_t
fd_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct fd_source *f = ctx;
	ssize_t n;

	do
		n = read(f->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		dm_error_setr(err, DM_EIO, "io", "cannot read %s: %s", f->name,
		    strerror(errno));
	return n;
}

/* Reads up to len bytes, retrying short reads.  Returns the count, or -1 with
 * err set. */
static ssize_t
read_full(
    struct fd_source *f, unsigned char *buf, size_t len, struct dm_error *err)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = fd_read(f, buf + got, len - got, err);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* What one pass over a unit's bytes yields. */
struct slurp {
	struct dm_buf kept; /* the first `keep` bytes */
	int over;        /* there were more than `max` bytes: reading stopped */
	uint64_t size;   /* bytes read */
	char sha256[65]; /* of the bytes read */
};

/*
 * Hashes what f gives, up to max bytes (one more is read to tell that there are
 * more: then s->over is set and reading stops), and keeps the first keep bytes
 * (keep may be 0).
 */
static int
slurp(struct fd_source *f, size_t keep, uint64_t max, struct slurp *s,
    struct dm_error *err)
{
	struct dm_sha256 h;
	unsigned char *buf;
	size_t room, take;
	ssize_t n = 0;
	int rc = DM_OK;

	buf = dm_malloc(CHUNK);
	if (buf == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	dm_sha256_init(&h);
	while (
	    rc == DM_OK && !s->over && (n = fd_read(f, buf, CHUNK, err)) > 0) {
		dm_sha256_update(&h, buf, (size_t)n);
		s->size += (uint64_t)n;
		s->over = s->size > max;
		room = keep - s->kept.len;
		take = (size_t)n < room ? (size_t)n : room;
		if (take > 0 && dm_buf_add(&s->kept, buf, take) != DM_OK)
			rc = dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	if (rc == DM_OK && n < 0)
		rc = DM_EIO;
	dm_sha256_final_hex(&h, s->sha256);
	dm_free(buf);
	return rc;
}

static void
slurp_init(struct slurp *s, size_t keep)
{
	memset(s, 0, sizeof(*s));
	dm_buf_init(&s->kept, keep);
}

/* A unit that holds only its path (bytes, size and hash unknown). */
static void
unit_of_path(struct dm_unit *u, const char *path)
{
	memset(u, 0, sizeof(*u));
	u->path = path;
	u->fd = -1;
}

static void
unit_init(struct dm_unit *u, const char *path, const struct slurp *s)
{
	unit_of_path(u, path);
	u->sha256 = s->sha256;
	u->size = s->size;
}

/*
 * One unit: unit_begin (which may skip it), every payload of src (or, when the
 * unit cannot be read at all, the problem pb), unit_end.
 */
static int
run_unit(struct dm_walk *w, const struct dm_unit *u,
    const struct dm_source *src, const struct dm_error *pb,
    struct dm_error *err)
{
	const struct dm_walk_ops *ops = w->ops;
	int rc;

	w->unit_ok = 1;
	if (ops->unit_begin != NULL) {
		rc = ops->unit_begin(ops->ctx, u, err);
		if (rc == DM_DONE || rc == DM_DONE_FAILED)
			return DM_OK;
		if (rc != DM_OK)
			return rc;
	}
	if (pb != NULL)
		rc = dm_walk_problem(w, u, NULL, pb, err);
	else
		rc = dm_walk_stream(w, u, NULL, src, 0, err);
	if (rc == DM_OK && ops->unit_end != NULL)
		rc = ops->unit_end(ops->ctx, u, w->unit_ok, err);
	return rc;
}

/*
 * A path that cannot be read: the walk's own path fails the walk; one found
 * under a folder is a problem (with a unit that has only its path, outside
 * unit_begin/unit_end) and the walk goes on.
 */
static int
io_failure(struct dm_walk *w, const char *path, int top, struct dm_error *e,
    struct dm_error *err)
{
	struct dm_unit u;

	if (top) {
		*err = *e;
		return e->code;
	}
	unit_of_path(&u, path);
	return dm_walk_problem(w, &u, NULL, e, err);
}

int
dm_open_regular(int dirfd, const char *name, const char *path, int follow,
    struct stat *st, struct dm_error *err)
{
	int fd, flags, saved;

	fd = openat(dirfd, name,
	    O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		saved = errno;
		dm_error_setr(err, DM_EIO, "io", "cannot open %s: %s", path,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, st) != 0) {
		saved = errno;
		close(fd);
		dm_error_setr(err, DM_EIO, "io", "cannot read %s: %s", path,
		    strerror(saved));
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		dm_error_setr(err, DM_ESKIP, "not_file",
		    "cannot read %s: not a regular file", path);
		return -1;
	}
	/* Regular files ignore O_NONBLOCK; it is cleared all the same. */
	if ((flags = fcntl(fd, F_GETFL)) >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

/*
 * A file over the input cap, found before it is hashed (or while reading, if it
 * grew): a problem of its own, outside any unit, with its descriptor, so that
 * the quarantine keeps its first bytes.
 */
static int
too_big(struct dm_walk *w, const char *path, int fd, uint64_t size,
    struct dm_error *err)
{
	struct dm_error e;
	struct dm_unit u;
	char cap[32];

	unit_of_path(&u, path);
	u.fd = fd;
	u.size = size;
	dm_size_text(cap, sizeof(cap), w->lim->input_bytes);
	dm_error_setr(&e, DM_ELIMIT, "limit",
	    "file larger than the %s limit (DM_MAX_INPUT_BYTES)", cap);
	return dm_walk_problem(w, &u, NULL, &e, err);
}

/*
 * A regular file: a mail or mbox for mailbox.c, otherwise one unit.  follow:
 * the path was a symbolic link (or named by the user), which may be followed.
 */
static int
walk_file(struct dm_walk *w, const char *path, int top, int follow,
    struct dm_error *err)
{
	unsigned char head[DM_SNIFF_BYTES];
	struct fd_source f = {-1, path};
	struct dm_source src = {&f, fd_read};
	struct dm_error e;
	struct dm_unit u;
	struct slurp s;
	struct stat st;
	enum dm_sniff kind;
	ssize_t n;
	int rc;

	dm_error_clear(&e);
	slurp_init(&s, 0);
	if ((f.fd = dm_open_regular(AT_FDCWD, path, path, follow, &st, &e)) <
	    0) {
		/* No longer a file (a FIFO or device swapped in): not walked,
		 * as if it had been one when the folder was listed. */
		if (e.code == DM_ESKIP && !top)
			return DM_OK;
		if (e.code == DM_ESKIP)
			dm_error_set(&e, DM_EINVAL,
			    "cannot read %s: not a regular file (use - for "
			    "standard input)",
			    path);
		return io_failure(w, path, top, &e, err);
	}
	n = read_full(&f, head, sizeof(head), &e);
	kind = n < 0 ? DM_SNIFF_OTHER : dm_sniff(head, (size_t)n);
	if (n >= 0 && (kind == DM_SNIFF_MAIL || kind == DM_SNIFF_MBOX)) {
		rc = dm_walk_mail_file(w, path, f.fd, err);
		goto out;
	}
	if ((uint64_t)st.st_size > w->lim->input_bytes) {
		rc = too_big(w, path, f.fd, (uint64_t)st.st_size, err);
		goto out;
	}
	if (n < 0 || lseek(f.fd, 0, SEEK_SET) < 0 ||
	    slurp(&f, 0, w->lim->input_bytes, &s, &e) != DM_OK ||
	    lseek(f.fd, 0, SEEK_SET) < 0) {
		if (e.code == DM_OK || e.msg[0] == '\0')
			dm_error_setr(&e, DM_EIO, "io", "cannot read %s: %s",
			    path, strerror(errno));
		rc = io_failure(w, path, top, &e, err);
		goto out;
	}
	if (s.over) {
		rc = too_big(w, path, f.fd, s.size, err);
		goto out;
	}
	unit_init(&u, path, &s);
	u.fd = f.fd;
	rc = run_unit(w, &u, &src, NULL, err);
out:
	close(f.fd);
	dm_buf_free(&s.kept);
	return rc;
}

/*
 * Bytes held in memory (standard input, a quarantine retry) as the unit `name`:
 * a mail or mbox goes to mailbox.c, anything else is one unit.  only_copy: the
 * bytes exist nowhere else.
 */
static int
walk_bytes(struct dm_walk *w, const char *name, const void *bytes, size_t len,
    const char *sha256, int only_copy, struct dm_error *err)
{
	struct dm_mem_source m;
	struct dm_source src;
	struct dm_unit u;
	enum dm_sniff kind;

	kind = dm_sniff(bytes, len < DM_SNIFF_BYTES ? len : DM_SNIFF_BYTES);
	if (kind == DM_SNIFF_MAIL || kind == DM_SNIFF_MBOX)
		return dm_walk_mail_memory(w, name, bytes, len, only_copy, err);
	unit_of_path(&u, name);
	u.sha256 = sha256;
	u.size = len;
	u.bytes = bytes;
	u.n_bytes = len;
	u.only_copy = only_copy;
	src = dm_mem_source(&m, bytes, len);
	return run_unit(w, &u, &src, NULL, err);
}

/*
 * Standard input is read whole (it cannot be read twice), up to the message
 * cap: a mail, or one unit.  Reading stops at the cap, so an endless stream
 * ends with the cap's error, and the first bytes go to the quarantine.
 */
static int
walk_stdin(struct dm_walk *w, struct dm_error *err)
{
	struct fd_source f = {STDIN_FILENO, "standard input"};
	uint64_t cap = w->lim->message_bytes;
	struct dm_error pb;
	struct dm_unit u;
	struct slurp s;
	char text[32];
	int rc;

	slurp_init(&s, (size_t)cap);
	rc = slurp(&f, (size_t)cap, cap, &s, err);
	if (rc != DM_OK)
		goto out;
	if (s.over) {
		unit_init(&u, "-", &s);
		u.bytes = s.kept.data;
		u.n_bytes = s.kept.len;
		u.only_copy = 1;
		dm_size_text(text, sizeof(text), cap);
		dm_error_setr(&pb, DM_ELIMIT, "limit",
		    "standard input exceeds %s limit (DM_MAX_MESSAGE_BYTES)",
		    text);
		rc = run_unit(w, &u, NULL, &pb, err);
		goto out;
	}
	rc = walk_bytes(w, "-", s.kept.data, s.kept.len, s.sha256, 1, err);
out:
	dm_buf_free(&s.kept);
	return rc;
}

/* The folders being walked, innermost first: a link back to one of them is a
 * loop. */
struct ancestor {
	dev_t dev;
	ino_t ino;
	const struct ancestor *up;
};

static int
is_ancestor(const struct ancestor *a, const struct stat *st)
{
	for (; a != NULL; a = a->up) {
		if (a->dev == st->st_dev && a->ino == st->st_ino)
			return 1;
	}
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
	while (n > 0)
		dm_free(names[--n]);
	dm_free(names);
}

/* Reads a folder's entry names, without dot files, sorted. */
static int
list_dir(const char *path, char ***names, size_t *n, struct dm_error *err)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;
	char **v;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return dm_error_setr(err, DM_EIO, "io", "cannot open %s: %s",
		    path, strerror(errno));
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((v = dm_realloc(*names, cap * sizeof(*v))) == NULL)
				break;
			*names = v;
		}
		if (((*names)[*n] = dm_strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	if (de != NULL || errno != 0) {
		dm_error_setr(err, de != NULL ? DM_ENOMEM : DM_EIO, "io",
		    "cannot read %s: %s", path,
		    de != NULL ? "out of memory" : strerror(errno));
		free_names(*names, *n);
		closedir(d);
		return err->code;
	}
	closedir(d);
	qsort(*names, *n, sizeof(**names), cmp_names);
	return DM_OK;
}

static char *
join_path(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *s = dm_malloc(a + b + 2);

	if (s == NULL)
		return NULL;
	memcpy(s, dir, a);
	if (a == 0 || dir[a - 1] != '/')
		s[a++] = '/';
	memcpy(s + a, name, b + 1);
	return s;
}

static int walk_folder(struct dm_walk *w, const char *path,
    const struct stat *st, const struct ancestor *up, int top,
    struct dm_error *err);

/*
 * Something found in a folder: files and folders are walked (through a
 * symbolic link too), fifos and devices are not.  A file is opened so that it
 * cannot be swapped for something else in between (dm_open_regular).
 */
static int
walk_entry(struct dm_walk *w, const char *path, const struct ancestor *up,
    struct dm_error *err)
{
	struct dm_error e;
	struct stat st;
	int link;

	if (lstat(path, &st) < 0 ||
	    ((link = S_ISLNK(st.st_mode)) && stat(path, &st) < 0)) {
		dm_error_setr(&e, DM_EIO, "io", "cannot open %s: %s", path,
		    strerror(errno));
		return io_failure(w, path, 0, &e, err);
	}
	if (S_ISDIR(st.st_mode))
		return is_ancestor(up, &st)
		           ? DM_OK
		           : walk_folder(w, path, &st, up, 0, err);
	if (S_ISREG(st.st_mode))
		return walk_file(w, path, 0, link, err);
	return DM_OK;
}

static int
walk_folder(struct dm_walk *w, const char *path, const struct stat *st,
    const struct ancestor *up, int top, struct dm_error *err)
{
	struct ancestor me = {st->st_dev, st->st_ino, up};
	struct dm_error e;
	char **names, *child;
	size_t i, n;
	int rc = DM_OK;

	if (dm_is_maildir(path))
		return dm_walk_maildir(w, path, err);
	if (list_dir(path, &names, &n, &e) != DM_OK)
		return e.code == DM_ENOMEM ? (*err = e, e.code)
		                           : io_failure(w, path, top, &e, err);
	for (i = 0; i < n && rc == DM_OK; i++) {
		if ((child = join_path(path, names[i])) == NULL) {
			rc = dm_error_set(err, DM_ENOMEM, "out of memory");
			break;
		}
		rc = walk_entry(w, child, &me, err);
		dm_free(child);
	}
	free_names(names, n);
	return rc;
}

/* Fills w, with defaults for what the caller left NULL. */
static void
walk_init(struct dm_walk *w, const struct dm_limits *lim,
    const struct dm_walk_options *opt, const struct dm_walk_ops *ops,
    struct dm_limits *default_lim, struct dm_walk_options *default_opt)
{
	if (lim == NULL) {
		*default_lim = dm_limits_default();
		lim = default_lim;
	}
	if (opt == NULL) {
		memset(default_opt, 0, sizeof(*default_opt));
		opt = default_opt;
	}
	w->lim = lim;
	w->opt = opt;
	w->ops = ops;
	w->unit_ok = 1;
}

int
dm_ingest_walk_memory(const char *name, const void *bytes, size_t len,
    const struct dm_limits *lim, const struct dm_walk_options *opt,
    const struct dm_walk_ops *ops, struct dm_error *err)
{
	struct dm_limits default_lim;
	struct dm_walk_options default_opt;
	struct dm_sha256 h;
	struct dm_walk w;
	char sha256[65];

	dm_error_clear(err);
	if (name == NULL || ops == NULL || (bytes == NULL && len > 0))
		return dm_error_set(err, DM_EINVAL,
		    "dm_ingest_walk_memory: no name, bytes or callbacks");
	walk_init(&w, lim, opt, ops, &default_lim, &default_opt);
	dm_sha256_init(&h);
	dm_sha256_update(&h, bytes, len);
	dm_sha256_final_hex(&h, sha256);
	return walk_bytes(&w, name, bytes, len, sha256, 0, err);
}

int
dm_ingest_walk(const char *path, const struct dm_limits *lim,
    const struct dm_walk_options *opt, const struct dm_walk_ops *ops,
    struct dm_error *err)
{
	struct dm_limits default_lim;
	struct dm_walk_options default_opt;
	struct dm_walk w;
	struct stat st;

	dm_error_clear(err);
	if (path == NULL || ops == NULL)
		return dm_error_set(
		    err, DM_EINVAL, "dm_ingest_walk: no path or no callbacks");
	walk_init(&w, lim, opt, ops, &default_lim, &default_opt);
	if (strcmp(path, "-") == 0)
		return walk_stdin(&w, err);
	if (dm_is_imap_url(path))
		return dm_walk_imap(&w, path, err);
	if (stat(path, &st) < 0)
		return dm_error_setr(err, DM_EIO, "io", "cannot open %s: %s",
		    path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return walk_folder(&w, path, &st, NULL, 1, err);
	if (S_ISREG(st.st_mode))
		return walk_file(&w, path, 1, 1, err);
	return dm_error_set(err, DM_EINVAL,
	    "cannot read %s: not a file or a folder (use - for standard input)",
	    path);
}
