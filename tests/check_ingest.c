/*
 * check_ingest.c - the walker and container unwrapping of ingest/: every
 * payload of every container, with its member path, kind and exact bytes; every
 * error path with its message and reason; the caps; the shared corpus.
 *
 * Container fixtures are written into a temporary folder by
 * tests/data/ingest/gen_fixtures.py (python3's gzip, zipfile, bz2 and lzma),
 * once per run.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "ingest.h"
#include "ingest_int.h"
#include "mem.h"

#define MAX_SEEN 64
#define KEEP_BYTES (1024 * 1024)

static char fixtures[] = "/tmp/check_ingest.XXXXXX";

/* What a walk delivered. */
struct seen_payload {
	char unit[512];
	char member[512]; /* "" when the unit itself is the payload */
	int has_member;
	enum dm_payload_kind kind;
	unsigned char *bytes; /* the first KEEP_BYTES bytes read */
	size_t n_bytes;
	unsigned long long total;
	int head_ok; /* head was the first bytes of the stream */
	int read_failed;
	struct dm_error read_err;
};

struct seen_problem {
	char unit[512];
	char member[512];
	int has_member;
	struct dm_error e;
	uint64_t size; /* the unit's */
	int fd_ok;     /* the unit held an open descriptor */
};

struct seen {
	struct seen_payload pay[MAX_SEEN];
	size_t npay;
	struct seen_problem prob[MAX_SEEN];
	size_t nprob;
	char begun[MAX_SEEN][512];
	char sha256[MAX_SEEN][65];
	unsigned long long size[MAX_SEEN];
	size_t n_bytes[MAX_SEEN];
	int bytes_match[MAX_SEEN]; /* unit bytes equal the start of the file */
	int fd_match[MAX_SEEN];    /* u->fd reads the start of the file */
	size_t nbegun;
	int ended_ok[MAX_SEEN];
	size_t nended;
	int skip; /* unit_begin says DM_DONE */
};

/* Copies s (NULL: ""); a test fails rather than compare a truncated copy. */
static void
copy_str(char *dst, size_t n, const char *s)
{
	int len = snprintf(dst, n, "%s", s == NULL ? "" : s);

	ck_assert_msg(len >= 0 && (size_t)len < n, "too long to copy: %s", s);
}

/* Whether fd, read from offset 0 with pread, starts with the n bytes want. */
static int
fd_starts_with(int fd, const unsigned char *want, size_t n)
{
	unsigned char got[4096];

	return n <= sizeof(got) && pread(fd, got, n, 0) == (ssize_t)n &&
	       memcmp(got, want, n) == 0;
}

static int
on_begin(void *ctx, const struct dm_unit *u, struct dm_error *err)
{
	struct seen *s = ctx;
	unsigned char buf[4096];
	FILE *f;
	size_t n;

	(void)err;
	ck_assert_uint_lt(s->nbegun, MAX_SEEN);
	copy_str(s->begun[s->nbegun], sizeof(s->begun[0]), u->path);
	copy_str(s->sha256[s->nbegun], sizeof(s->sha256[0]), u->sha256);
	s->size[s->nbegun] = u->size;
	s->n_bytes[s->nbegun] = u->n_bytes;
	s->bytes_match[s->nbegun] = 0;
	s->fd_match[s->nbegun] = 0;
	if (strcmp(u->path, "-") != 0 && (f = fopen(u->path, "rb")) != NULL) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (u->bytes != NULL)
			s->bytes_match[s->nbegun] =
			    memcmp(buf, u->bytes,
			        n < u->n_bytes ? n : u->n_bytes) == 0;
		if (u->fd >= 0)
			s->fd_match[s->nbegun] = fd_starts_with(u->fd, buf, n);
	}
	s->nbegun++;
	return s->skip ? DM_DONE : DM_OK;
}

static void
read_payload(struct seen_payload *sp, const struct dm_payload *p)
{
	unsigned char *buf = malloc(65536);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	sp->bytes = malloc(KEEP_BYTES);
	ck_assert_ptr_nonnull(sp->bytes);
	dm_error_clear(&sp->read_err);
	while ((n = p->src.read(p->src.ctx, buf, 65536, &sp->read_err)) > 0) {
		if (sp->total == 0)
			sp->head_ok = (size_t)n >= p->head_len &&
			              memcmp(buf, p->head, p->head_len) == 0;
		if (sp->n_bytes + (size_t)n <= KEEP_BYTES) {
			memcpy(sp->bytes + sp->n_bytes, buf, (size_t)n);
			sp->n_bytes += (size_t)n;
		}
		sp->total += (unsigned long long)n;
	}
	if (sp->total == 0)
		sp->head_ok = p->head_len == 0;
	sp->read_failed = n < 0;
	free(buf);
}

static int
on_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct seen *s = ctx;
	struct seen_payload *sp;

	(void)err;
	ck_assert_uint_lt(s->npay, MAX_SEEN);
	sp = &s->pay[s->npay++];
	memset(sp, 0, sizeof(*sp));
	copy_str(sp->unit, sizeof(sp->unit), p->unit->path);
	copy_str(sp->member, sizeof(sp->member), p->member);
	sp->has_member = p->member != NULL;
	sp->kind = p->kind;
	read_payload(sp, p);
	return DM_OK;
}

static int
on_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *pb, struct dm_error *err)
{
	struct seen *s = ctx;
	struct seen_problem *sp;

	(void)err;
	ck_assert_uint_lt(s->nprob, MAX_SEEN);
	sp = &s->prob[s->nprob++];
	copy_str(sp->unit, sizeof(sp->unit), u->path);
	copy_str(sp->member, sizeof(sp->member), member);
	sp->has_member = member != NULL;
	sp->e = *pb;
	sp->size = u->size;
	sp->fd_ok = u->fd >= 0 && fcntl(u->fd, F_GETFD) != -1;
	return DM_OK;
}

static int
on_end(void *ctx, const struct dm_unit *u, int ok, struct dm_error *err)
{
	struct seen *s = ctx;

	(void)u;
	(void)err;
	ck_assert_uint_lt(s->nended, MAX_SEEN);
	s->ended_ok[s->nended++] = ok;
	return DM_OK;
}

static void
seen_free(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->npay; i++)
		free(s->pay[i].bytes);
	free(s);
}

static struct seen *
walk_opts(const char *path, const struct dm_limits *lim,
    const struct dm_walk_options *opt, int expect)
{
	struct seen *s = calloc(1, sizeof(*s));
	struct dm_walk_ops ops = {.ctx = s,
	    .unit_begin = on_begin,
	    .payload = on_payload,
	    .problem = on_problem,
	    .unit_end = on_end};
	struct dm_error err;
	int rc;

	ck_assert_ptr_nonnull(s);
	rc = dm_ingest_walk(path, lim, opt, &ops, &err);
	ck_assert_msg(rc == expect, "walk %s: %d %s", path, rc, err.msg);
	return s;
}

static const char *
fx(const char *name)
{
	static char path[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", fixtures, name);
	return path[i];
}

static struct seen *
walk_fx(const char *name, const struct dm_limits *lim)
{
	return walk_opts(fx(name), lim, NULL, DM_OK);
}

/* The bytes of a fixture file. */
static unsigned char *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long len;

	ck_assert_msg(f != NULL, "open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(p);
	*n = fread(p, 1, (size_t)len, f);
	fclose(f);
	ck_assert_uint_eq(*n, (size_t)len);
	return p;
}

/* Asserts that payload i is member (NULL: the unit itself) of kind, with
 * exactly file's bytes. */
static void
assert_payload(const struct seen *s, size_t i, const char *member,
    enum dm_payload_kind kind, const char *file)
{
	const struct seen_payload *p = &s->pay[i];
	unsigned char *want;
	size_t n;

	ck_assert_uint_lt(i, s->npay);
	if (member == NULL)
		ck_assert_int_eq(p->has_member, 0);
	else
		ck_assert_str_eq(p->member, member);
	ck_assert_int_eq(p->kind, kind);
	ck_assert_msg(
	    !p->read_failed, "payload %zu read failed: %s", i, p->read_err.msg);
	ck_assert_int_eq(p->head_ok, 1);
	want = slurp(fx(file), &n);
	ck_assert_uint_eq(p->total, n);
	ck_assert_uint_eq(p->n_bytes, n);
	ck_assert_int_eq(memcmp(p->bytes, want, n), 0);
	free(want);
}

/* Asserts one clean unit with one payload. */
static void
assert_single(const char *name, const char *member, enum dm_payload_kind kind,
    const char *file)
{
	struct seen *s = walk_fx(name, NULL);

	ck_assert_uint_eq(s->nbegun, 1);
	ck_assert_str_eq(s->begun[0], fx(name));
	ck_assert_uint_eq(s->npay, 1);
	assert_payload(s, 0, member, kind, file);
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_uint_eq(s->nended, 1);
	ck_assert_int_eq(s->ended_ok[0], 1);
	seen_free(s);
}

static void
assert_problem(const struct seen *s, size_t i, const char *member,
    enum dm_status code, const char *reason, const char *msg)
{
	const struct seen_problem *p = &s->prob[i];

	ck_assert_uint_lt(i, s->nprob);
	if (member == NULL)
		ck_assert_int_eq(p->has_member, 0);
	else
		ck_assert_str_eq(p->member, member);
	ck_assert_int_eq(p->e.code, code);
	ck_assert_str_eq(p->e.reason, reason);
	ck_assert_str_eq(p->e.msg, msg);
}

static void
assert_read_error(const struct seen_payload *p, enum dm_status code,
    const char *reason, const char *msg)
{
	ck_assert_int_eq(p->read_failed, 1);
	ck_assert_int_eq(p->read_err.code, code);
	ck_assert_str_eq(p->read_err.reason, reason);
	ck_assert_str_eq(p->read_err.msg, msg);
}

/* Runs argv and waits for it; returns its exit status. */
static int
run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
make_fixtures(void)
{
	char py[] = "python3", script[1024];
	char *argv[] = {py, script, fixtures, NULL};

	snprintf(script, sizeof(script), "%s/ingest/gen_fixtures.py",
	    DM_TEST_DATA_DIR);
	if (mkdtemp(fixtures) == NULL || run(argv) != 0) {
		fprintf(stderr, "cannot generate fixtures in %s\n", fixtures);
		exit(EXIT_FAILURE);
	}
}

static void
remove_fixtures(void)
{
	char rm[] = "rm", rf[] = "-rf";
	char *argv[] = {rm, rf, fixtures, NULL};

	run(argv);
}

/* tc_sniff */

static enum dm_sniff
sniff_str(const char *s)
{
	return dm_sniff((const unsigned char *)s, strlen(s));
}

START_TEST(test_sniff_kinds)
{
	ck_assert_int_eq(dm_sniff(NULL, 0), DM_SNIFF_EMPTY);
	ck_assert_int_eq(
	    sniff_str("<?xml version=\"1.0\"?><feedback/>"), DM_SNIFF_XML);
	ck_assert_int_eq(
	    sniff_str("\xef\xbb\xbf \r\n\t<feedback>"), DM_SNIFF_XML);
	ck_assert_int_eq(
	    dm_sniff((const unsigned char *)"\xff\xfe<\0f\0", 6), DM_SNIFF_XML);
	ck_assert_int_eq(
	    sniff_str("  {\"organization-name\": 1}"), DM_SNIFF_JSON);
	ck_assert_int_eq(sniff_str("[1]"), DM_SNIFF_JSON);
	ck_assert_int_eq(sniff_str("\x1f\x8b\x08"), DM_SNIFF_GZIP);
	ck_assert_int_eq(sniff_str("PK\x03\x04rest"), DM_SNIFF_ZIP);
	ck_assert_int_eq(sniff_str("PK\x05\x06"), DM_SNIFF_ZIP);
	ck_assert_int_eq(sniff_str("BZh91AY&SY"), DM_SNIFF_OTHER_COMPRESSED);
	ck_assert_int_eq(dm_sniff((const unsigned char *)"\xfd"
	                                                 "7zXZ\0\0",
	                     7),
	    DM_SNIFF_OTHER_COMPRESSED);
	ck_assert_int_eq(
	    sniff_str("\x28\xb5\x2f\xfd"), DM_SNIFF_OTHER_COMPRESSED);
	ck_assert_int_eq(
	    sniff_str("\x04\x22\x4d\x18"), DM_SNIFF_OTHER_COMPRESSED);
	/* zlib (RFC 1950): a header that checks itself, and data that
	 * inflates; text that passes the header check alone is text. */
	ck_assert_int_eq(sniff_str("\x78\x9c\x03\x00"), DM_SNIFF_ZLIB);
	ck_assert_int_eq(sniff_str("x^ is text\n"), DM_SNIFF_OTHER);
	ck_assert_int_eq(sniff_str("HK of text\n"), DM_SNIFF_OTHER);
	ck_assert_int_eq(sniff_str("\x78\x9d\x03\x00"), DM_SNIFF_OTHER);
	ck_assert_int_eq(sniff_str("\x89PNG\r\n\x1a\n"), DM_SNIFF_OTHER);
	ck_assert_int_eq(sniff_str("just some text\n"), DM_SNIFF_OTHER);
	ck_assert_int_eq(sniff_str("Note: one line of text\nand more text\n"),
	    DM_SNIFF_OTHER);
}
END_TEST

START_TEST(test_sniff_mail)
{
	ck_assert_int_eq(
	    sniff_str("Return-Path: <a@b>\r\nReceived: from x\r\n\tby y\r\n"),
	    DM_SNIFF_MAIL);
	ck_assert_int_eq(sniff_str("Subject: hi\n\nbody\n"), DM_SNIFF_MAIL);
	/* The corpus has a mail with a blank line before its headers. */
	ck_assert_int_eq(
	    sniff_str("\n\nFrom: a@example.com\nTo: b@example.com\n"),
	    DM_SNIFF_MAIL);
	ck_assert_int_eq(
	    sniff_str(
	        "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nFrom: a@b\n"),
	    DM_SNIFF_MBOX);
	ck_assert_int_eq(
	    sniff_str("From here on, text\nwithout headers\n"), DM_SNIFF_OTHER);
	ck_assert_int_eq(sniff_str("Subject x\nFrom: y\n"), DM_SNIFF_OTHER);
	/* A line of spaces ends the header (a corpus forensic report has one).
	 */
	ck_assert_int_eq(
	    sniff_str(
	        "From: a@b\nContent-Type: multipart/report;\n  x=y\n \n--b\n"),
	    DM_SNIFF_MAIL);
	ck_assert_int_eq(sniff_str("Subject: x\n \nbody\n"), DM_SNIFF_MAIL);
	ck_assert_int_eq(
	    sniff_str("Subject: x\ntext, not a header\n"), DM_SNIFF_OTHER);
}
END_TEST

/* tc_units */

START_TEST(test_ingest_plain_xml)
{
	struct seen *s = walk_fx("report.xml", NULL);
	unsigned char *sha;
	size_t n;

	ck_assert_uint_eq(s->nbegun, 1);
	sha = slurp(fx("report.xml.sha256"), &n);
	ck_assert_uint_eq(n, 64);
	ck_assert_int_eq(memcmp(s->sha256[0], sha, 64), 0);
	ck_assert_uint_eq(s->size[0], 62181);
	ck_assert_uint_eq(s->n_bytes[0], 0);
	assert_payload(s, 0, NULL, DM_PAYLOAD_XML, "report.xml");
	ck_assert_uint_eq(s->npay, 1);
	ck_assert_uint_eq(s->nended, 1);
	ck_assert_int_eq(s->ended_ok[0], 1);
	free(sha);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_empty_file)
{
	struct seen *s = walk_fx("empty.xml", NULL);

	ck_assert_uint_eq(s->nbegun, 1);
	ck_assert_str_eq(s->sha256[0],
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_uint_eq(s->size[0], 0);
	assert_payload(s, 0, NULL, DM_PAYLOAD_EMPTY, "empty.xml");
	ck_assert_int_eq(s->ended_ok[0], 1);
	seen_free(s);
}
END_TEST

/* A file unit holds no copy of its bytes: the quarantine reads them again
 * through the unit's open descriptor, never by opening the path again. */
START_TEST(test_ingest_file_unit_reads_again_by_fd)
{
	struct seen *s;

	s = walk_opts(fx("report.xml.gz"), NULL, NULL, DM_OK);
	ck_assert_uint_eq(s->nbegun, 1);
	ck_assert_uint_eq(s->n_bytes[0], 0);
	ck_assert_int_eq(s->fd_match[0], 1);
	ck_assert_uint_eq(s->size[0], 6170);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_unit_begin_done_skips)
{
	struct seen *s = calloc(1, sizeof(*s));
	struct dm_walk_ops ops = {.ctx = s,
	    .unit_begin = on_begin,
	    .payload = on_payload,
	    .problem = on_problem,
	    .unit_end = on_end};
	struct dm_error err;

	s->skip = 1;
	ck_assert_int_eq(
	    dm_ingest_walk(fx("multi.zip"), NULL, NULL, &ops, &err), DM_OK);
	ck_assert_uint_eq(s->nbegun, 1);
	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_uint_eq(s->nended, 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_missing_path)
{
	struct dm_walk_ops ops = {0};
	struct dm_error err;
	char want[1200];

	ck_assert_int_eq(
	    dm_ingest_walk(fx("nope.xml"), NULL, NULL, &ops, &err), DM_EIO);
	snprintf(want, sizeof(want),
	    "cannot open %s: No such file or directory", fx("nope.xml"));
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(
	    dm_ingest_walk("/dev/null", NULL, NULL, &ops, &err), DM_EINVAL);
	ck_assert_str_eq(err.msg, "cannot read /dev/null: not a file or a "
	                          "folder (use - for standard input)");
}
END_TEST

/* A callback's error stops the walk and is returned as it is. */
static int
fail_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	int *calls = ctx;

	(void)p;
	(*calls)++;
	return dm_error_set(err, DM_EDB, "database is locked");
}

START_TEST(test_ingest_callback_error_stops)
{
	int calls = 0;
	struct dm_walk_ops ops = {.ctx = &calls, .payload = fail_payload};
	struct dm_error err;

	ck_assert_int_eq(
	    dm_ingest_walk(fx("multi.zip"), NULL, NULL, &ops, &err), DM_EDB);
	ck_assert_str_eq(err.msg, "database is locked");
	ck_assert_int_eq(calls, 1);
}
END_TEST

/* Builds dir/ with files in an order readdir would not sort, a dot file, a
 * loop, a dangling link. */
static void
make_tree(const char *dir)
{
	char p[16384];

	snprintf(p, sizeof(p),
	    "cp %s %s/b.xml && cp %s %s/a.xml.gz && cp %s %s/.hidden.xml && "
	    "mkdir -p %s/sub && cp %s %s/sub/c.xml && ln -s .. %s/sub/loop && "
	    "ln -s nowhere %s/dangling",
	    fx("second.xml"), dir, fx("report.xml.gz"), dir, fx("report.xml"),
	    dir, dir, fx("second.xml"), dir, dir, dir);
	ck_assert_int_eq(system(p), 0);
}

START_TEST(test_ingest_folder_sorted_skips_dotfiles_and_loops)
{
	char dir[1100], want[1300];
	struct seen *s;

	snprintf(dir, sizeof(dir), "%s/tree", fixtures);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	make_tree(dir);
	s = walk_opts(dir, NULL, NULL, DM_OK);
	ck_assert_uint_eq(s->nbegun, 3);
	snprintf(want, sizeof(want), "%s/a.xml.gz", dir);
	ck_assert_str_eq(s->begun[0], want);
	snprintf(want, sizeof(want), "%s/b.xml", dir);
	ck_assert_str_eq(s->begun[1], want);
	snprintf(want, sizeof(want), "%s/sub/c.xml", dir);
	ck_assert_str_eq(s->begun[2], want);
	ck_assert_uint_eq(s->npay, 3);
	assert_payload(s, 0, "gunzip", DM_PAYLOAD_XML, "report.xml");
	assert_payload(s, 1, NULL, DM_PAYLOAD_XML, "second.xml");
	assert_payload(s, 2, NULL, DM_PAYLOAD_XML, "second.xml");
	/* The dangling link is reported and the walk goes on. */
	ck_assert_uint_eq(s->nprob, 1);
	snprintf(want, sizeof(want), "%s/dangling", dir);
	ck_assert_str_eq(s->prob[0].unit, want);
	snprintf(want, sizeof(want),
	    "cannot open %s/dangling: No such file or directory", dir);
	assert_problem(s, 0, NULL, DM_EIO, "io", want);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_mail_file_goes_to_mailbox)
{
	struct seen *s;
	FILE *f;

	f = fopen(fx("report.eml"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("From: dmarc@example.net\nSubject: Report\nContent-Type: "
	      "text/plain\n\nhi\n",
	    f);
	fclose(f);
	s = walk_fx("report.eml", NULL);
	/* Never delivered as one raw OTHER payload: mailbox.c owns mails. */
	ck_assert(s->npay == 0 || s->pay[0].has_member);
	seen_free(s);
}
END_TEST

/* Runs a walk of "-" with fd 0 reading file. */
static struct seen *
walk_stdin(const char *file, const struct dm_limits *lim)
{
	int fd = open(file, O_RDONLY), saved = dup(0);
	struct seen *s;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 0), 0);
	close(fd);
	s = walk_opts("-", lim, NULL, DM_OK);
	dup2(saved, 0);
	close(saved);
	return s;
}

START_TEST(test_ingest_stdin)
{
	struct seen *s = walk_stdin(fx("report.xml.gz"), NULL);

	ck_assert_uint_eq(s->nbegun, 1);
	ck_assert_str_eq(s->begun[0], "-");
	ck_assert_uint_eq(s->size[0], 6170);
	assert_payload(s, 0, "gunzip", DM_PAYLOAD_XML, "report.xml");
	ck_assert_str_eq(s->pay[0].unit, "-");
	ck_assert_int_eq(s->ended_ok[0], 1);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_stdin_limit)
{
	struct dm_limits lim = dm_limits_default();
	struct seen *s;

	lim.message_bytes = 1000;
	s = walk_stdin(fx("report.xml"), &lim);
	ck_assert_uint_eq(s->nbegun, 1);
	ck_assert_uint_eq(s->size[0], 62181);
	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(s, 0, NULL, DM_ELIMIT, "limit",
	    "standard input exceeds 1000 bytes limit (DM_MAX_MESSAGE_BYTES)");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

/* tc_containers */

START_TEST(test_ingest_xml_gz)
{
	assert_single("report.xml.gz", "gunzip", DM_PAYLOAD_XML, "report.xml");
}
END_TEST

START_TEST(test_ingest_xml_zip)
{
	assert_single(
	    "report.xml.zip", "report.xml", DM_PAYLOAD_XML, "report.xml");
	assert_single("stored.zip", "report.xml", DM_PAYLOAD_XML, "report.xml");
}
END_TEST

START_TEST(test_ingest_zip_every_member)
{
	struct seen *s = walk_fx("multi.zip", NULL);
	const char *json = "{\"organization-name\":\"x\"}";

	ck_assert_uint_eq(s->npay, 6);
	assert_payload(s, 0, "a.xml", DM_PAYLOAD_XML, "report.xml");
	assert_payload(s, 1, "b.xml", DM_PAYLOAD_XML, "second.xml");
	ck_assert_str_eq(s->pay[2].member, "notes.txt");
	ck_assert_int_eq(s->pay[2].kind, DM_PAYLOAD_OTHER);
	ck_assert_uint_eq(s->pay[2].total, 13);
	assert_payload(s, 3, "empty.xml", DM_PAYLOAD_EMPTY, "empty.xml");
	ck_assert_str_eq(s->pay[4].member, "report.json");
	ck_assert_int_eq(s->pay[4].kind, DM_PAYLOAD_JSON);
	ck_assert_uint_eq(s->pay[4].total, strlen(json));
	ck_assert_int_eq(memcmp(s->pay[4].bytes, json, strlen(json)), 0);
	/* A mail inside an archive is not unpacked as a mail. */
	ck_assert_str_eq(s->pay[5].member, "mail.eml");
	ck_assert_int_eq(s->pay[5].kind, DM_PAYLOAD_OTHER);
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_int_eq(s->ended_ok[0], 1);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_nested)
{
	assert_single("gz_in_zip.zip", "inner.xml.gz>gunzip", DM_PAYLOAD_XML,
	    "report.xml");
	assert_single(
	    "gz_in_gz.gz", "gunzip>gunzip", DM_PAYLOAD_XML, "report.xml");
	assert_single(
	    "zip_in_gz.gz", "gunzip>report.xml", DM_PAYLOAD_XML, "report.xml");
	assert_single("nest4.gz", "gunzip>gunzip>gunzip>gunzip", DM_PAYLOAD_XML,
	    "report.xml");
}
END_TEST

START_TEST(test_ingest_gzip_quirks)
{
	assert_single(
	    "multi_member.gz", "gunzip", DM_PAYLOAD_XML, "report.xml");
	assert_single(
	    "trailing_crlf.gz", "gunzip", DM_PAYLOAD_XML, "report.xml");
	assert_single(
	    "trailing_garbage.gz", "gunzip", DM_PAYLOAD_XML, "report.xml");
	assert_single(
	    "zip_labelled.gz", "report.xml", DM_PAYLOAD_XML, "report.xml");
}
END_TEST

/* A report deflated with zlib's header and no gzip's (AOL): inflated, the
 * member named "inflate", also inside a zip. */
START_TEST(test_ingest_zlib)
{
	assert_single(
	    "report.xml.zlib", "inflate", DM_PAYLOAD_XML, "report.xml");
	assert_single("zlib_in_zip.zip", "report.zlib>inflate", DM_PAYLOAD_XML,
	    "report.xml");
}
END_TEST

/* Its own reasons for a cut or damaged stream; the ratio cap holds; text
 * that looks like a zlib header is a payload of its own. */
START_TEST(test_ingest_zlib_errors)
{
	struct seen *s = walk_fx("truncated.zlib", NULL);

	ck_assert_uint_eq(s->npay, 1);
	assert_read_error(
	    &s->pay[0], DM_EFORMAT, "zlib_truncated", "zlib data truncated");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
	s = walk_fx("corrupt.zlib", NULL);
	ck_assert_uint_eq(s->npay, 1);
	assert_read_error(&s->pay[0], DM_EFORMAT, "zlib_corrupt",
	    "zlib data corrupt: incorrect data check");
	seen_free(s);
	s = walk_fx("bomb.zlib", NULL);
	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "inflate");
	assert_read_error(&s->pay[0], DM_ELIMIT, "limit",
	    "compression ratio exceeds 1000:1 (DM_MAX_COMPRESSION_RATIO)");
	ck_assert_uint_le(s->pay[0].total, 1024 * 1024);
	seen_free(s);
	s = walk_fx("zlib_like.txt", NULL);
	ck_assert_uint_eq(s->npay, 1);
	ck_assert_int_eq(s->pay[0].has_member, 0);
	ck_assert_int_eq(s->pay[0].kind, DM_PAYLOAD_OTHER);
	ck_assert_uint_eq(s->nprob, 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_bzip2_xz)
{
	assert_single(
	    "report.xml.bz2", "bunzip2", DM_PAYLOAD_XML, "report.xml");
	assert_single("report.xml.xz", "unxz", DM_PAYLOAD_XML, "report.xml");
}
END_TEST

START_TEST(test_ingest_json_gz)
{
	struct seen *s = walk_fx("report.json.gz", NULL);

	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "gunzip");
	ck_assert_int_eq(s->pay[0].kind, DM_PAYLOAD_JSON);
	ck_assert_uint_eq(s->pay[0].total, 42);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_zip_skips_directories_and_macosx)
{
	assert_single(
	    "zip_dirs.zip", "dir/sub/r.xml", DM_PAYLOAD_XML, "report.xml");
	assert_single("macosx.zip", "r.xml", DM_PAYLOAD_XML, "report.xml");
}
END_TEST

START_TEST(test_ingest_member_names_are_only_names)
{
	struct seen *s = walk_fx("names.zip", NULL);

	ck_assert_uint_eq(s->npay, 2);
	assert_payload(s, 0, "../escape.xml", DM_PAYLOAD_XML, "second.xml");
	assert_payload(s, 1, "/abs/olute.xml", DM_PAYLOAD_XML, "second.xml");
	seen_free(s);
}
END_TEST

/* tc_errors */

START_TEST(test_ingest_truncated_gzip)
{
	struct seen *s = walk_fx("truncated.gz", NULL);
	unsigned char *x;
	size_t n;

	/* Cut after the first 512 bytes: the payload is delivered and its read
	 * fails. */
	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "gunzip");
	ck_assert_int_eq(s->pay[0].kind, DM_PAYLOAD_XML);
	assert_read_error(
	    &s->pay[0], DM_EFORMAT, "gzip_truncated", "gzip data truncated");
	x = slurp(fx("report.xml"), &n);
	ck_assert_uint_gt(s->pay[0].total, 512);
	ck_assert_uint_lt(s->pay[0].total, n);
	ck_assert_int_eq(memcmp(s->pay[0].bytes, x, s->pay[0].n_bytes), 0);
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_int_eq(s->ended_ok[0], 0);
	free(x);
	seen_free(s);

	/* Cut before: nothing to deliver, a problem for the member. */
	s = walk_fx("truncated_small.gz", NULL);
	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(s, 0, "gunzip", DM_EFORMAT, "gzip_truncated",
	    "gzip data truncated");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_corrupt_gzip)
{
	struct seen *s = walk_fx("corrupt_crc.gz", NULL);

	ck_assert_uint_eq(s->npay, 1);
	assert_read_error(&s->pay[0], DM_EFORMAT, "gzip_corrupt",
	    "gzip data corrupt: incorrect data check");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_truncated_bzip2)
{
	struct seen *s = walk_fx("truncated.bz2", NULL);

	/* bzip2 emits nothing before its first 900 kB block is complete: the
	 * container fails. */
	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(
	    s, 0, NULL, DM_EFORMAT, "bzip2_truncated", "bzip2 data truncated");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_truncated_zip)
{
	struct seen *s = walk_fx("truncated.zip", NULL);

	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "report.xml");
	ck_assert_int_eq(s->pay[0].kind, DM_PAYLOAD_XML);
	assert_read_error(
	    &s->pay[0], DM_EFORMAT, "zip_truncated", "zip data truncated");
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);

	s = walk_fx("truncated_header.zip", NULL);
	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(
	    s, 0, NULL, DM_EFORMAT, "zip_truncated", "zip data truncated");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_corrupt_zip)
{
	struct seen *s = walk_fx("corrupt.zip", NULL);

	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "report.xml");
	assert_read_error(&s->pay[0], DM_EFORMAT, "zip_corrupt",
	    "zip data corrupt: ZIP decompression failed (-3)");
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);

	/* "BZh" and then no bzip2 stream: not unpacked over and over as unknown
	 * compression. */
	s = walk_fx("fake.bz2", NULL);
	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(s, 0, NULL, DM_EFORMAT, "unsupported_compression",
	    "bzip2 data not recognised by libarchive");
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_encrypted_member)
{
	struct seen *s = walk_fx("encrypted.zip", NULL);

	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(s, 0, "secret.xml", DM_EFORMAT, "encrypted",
	    "zip member is encrypted");
	ck_assert_uint_eq(s->npay, 1);
	assert_payload(s, 0, "plain.xml", DM_PAYLOAD_XML, "second.xml");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

/* tc_limits */

START_TEST(test_ingest_caps_nesting)
{
	struct seen *s = walk_fx("nest5.gz", NULL);

	ck_assert_uint_eq(s->npay, 0);
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(s, 0, "gunzip>gunzip>gunzip>gunzip", DM_ELIMIT, "limit",
	    "containers nested deeper than 4 (DM_MAX_CONTAINER_DEPTH)");
	ck_assert_int_eq(s->ended_ok[0], 0);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_caps_members)
{
	struct dm_limits lim = dm_limits_default();
	struct seen *s;

	lim.archive_members = 3;
	s = walk_fx("many.zip", &lim);
	ck_assert_uint_eq(s->npay, 3);
	assert_payload(s, 2, "m2.xml", DM_PAYLOAD_XML, "second.xml");
	ck_assert_uint_eq(s->nprob, 1);
	assert_problem(s, 0, NULL, DM_ELIMIT, "limit",
	    "zip archive has more than 3 members (DM_MAX_ARCHIVE_MEMBERS)");
	seen_free(s);
}
END_TEST

static long
max_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_ingest_caps_payload_bytes)
{
	struct dm_limits lim = dm_limits_default();
	long rss = max_rss_kib();
	double t = now();
	struct seen *s;

	lim.payload_bytes = 1024 * 1024;
	s = walk_fx("bomb.zip", &lim);
	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "zeros.xml");
	ck_assert_int_eq(s->pay[0].kind, DM_PAYLOAD_XML);
	assert_read_error(&s->pay[0], DM_ELIMIT, "limit",
	    "decompressed size exceeds 1 MiB limit (DM_MAX_PAYLOAD_BYTES)");
	ck_assert_uint_le(s->pay[0].total, 1024 * 1024);
	/* The archive is abandoned: after.xml is not read. */
	ck_assert_uint_eq(s->nprob, 0);
	ck_assert_int_eq(s->ended_ok[0], 0);
	ck_assert_msg(now() - t < 5.0, "took %.1f s", now() - t);
	ck_assert_int_lt(max_rss_kib() - rss, 16 * 1024);
	seen_free(s);

	s = walk_fx("bomb.gz", &lim);
	assert_read_error(&s->pay[0], DM_ELIMIT, "limit",
	    "decompressed size exceeds 1 MiB limit (DM_MAX_PAYLOAD_BYTES)");
	seen_free(s);
}
END_TEST

/*
 * A file over the input cap is refused by its size, before it is hashed (no
 * unit begins), as a problem that still holds the file open for the
 * quarantine's copy of its first bytes.
 */
START_TEST(test_ingest_caps_input_bytes)
{
	struct dm_limits lim = dm_limits_default();
	struct seen *s;

	lim.input_bytes = 1000;
	s = walk_fx("report.xml", &lim);
	ck_assert_uint_eq(s->nbegun, 0);
	ck_assert_uint_eq(s->nprob, 1);
	ck_assert_int_eq(s->prob[0].e.code, DM_ELIMIT);
	ck_assert_str_eq(s->prob[0].e.reason, "limit");
	ck_assert_str_eq(s->prob[0].e.msg,
	    "file larger than the 1000 bytes limit (DM_MAX_INPUT_BYTES)");
	ck_assert_uint_eq(s->prob[0].size, 62181);
	ck_assert_int_eq(s->prob[0].fd_ok, 1);
	seen_free(s);
}
END_TEST

/*
 * dm_open_regular: a FIFO is refused at once (O_NONBLOCK, then fstat), never
 * waited on; a symbolic link is refused unless it may be followed.
 */
START_TEST(test_ingest_open_regular_refuses_fifo_and_links)
{
	char dir[] = "/tmp/check_ingest.XXXXXX", fifo[64], link[64];
	struct dm_error e;
	struct stat st;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(symlink(fx("report.xml"), link), 0);
	ck_assert_int_eq(dm_open_regular(AT_FDCWD, fifo, fifo, 1, &st, &e), -1);
	ck_assert_int_eq(e.code, DM_ESKIP);
	ck_assert_ptr_nonnull(strstr(e.msg, "not a regular file"));
	ck_assert_int_eq(dm_open_regular(AT_FDCWD, link, link, 0, &st, &e), -1);
	ck_assert_int_eq(e.code, DM_EIO);
	ck_assert_ptr_nonnull(
	    strstr(e.msg, "Too many levels of symbolic links"));
	fd = dm_open_regular(AT_FDCWD, link, link, 1, &st, &e);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(st.st_size, 62181);
	close(fd);
	unlink(link);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

START_TEST(test_ingest_caps_ratio)
{
	long rss = max_rss_kib();
	struct seen *s = walk_fx("bomb.gz", NULL);

	ck_assert_uint_eq(s->npay, 1);
	ck_assert_str_eq(s->pay[0].member, "gunzip");
	assert_read_error(&s->pay[0], DM_ELIMIT, "limit",
	    "compression ratio exceeds 1000:1 (DM_MAX_COMPRESSION_RATIO)");
	/* Stopped by the read that passed the grace: nothing beyond was
	 * delivered. */
	ck_assert_uint_gt(s->pay[0].total, 1024 * 1024 - 65536);
	ck_assert_uint_le(s->pay[0].total, 1024 * 1024);
	ck_assert_int_lt(max_rss_kib() - rss, 16 * 1024);
	seen_free(s);
}
END_TEST

START_TEST(test_ingest_streams_large_member)
{
	struct dm_limits lim = dm_limits_default();
	long rss = max_rss_kib();
	struct seen *s;

	/* With the caps raised, 200 MiB pass through in chunks, never held
	 * whole. */
	lim.payload_bytes = 256ULL * 1024 * 1024;
	lim.compression_ratio = 100000;
	s = walk_fx("bomb.zip", &lim);
	ck_assert_uint_eq(s->npay, 2);
	ck_assert_uint_eq(s->pay[0].total, 200ULL * 1024 * 1024);
	ck_assert_int_eq(s->pay[0].read_failed, 0);
	assert_payload(s, 1, "after.xml", DM_PAYLOAD_XML, "second.xml");
	ck_assert_int_lt(max_rss_kib() - rss, 16 * 1024);
	ck_assert_int_eq(s->ended_ok[0], 1);
	seen_free(s);
}
END_TEST

/*
 * tc_nomem: the walker (files, containers, mails, mboxes, a Maildir) with the
 * Nth allocation failing, for every N until a walk needs no more.  The
 * callbacks allocate with malloc, so only the walker's own allocations count.
 */

struct nomem_log {
	char *text;
	size_t len, cap;
	int enomem; /* a problem or a payload read said DM_ENOMEM */
};

static void nomem_add(struct nomem_log *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
nomem_add(struct nomem_log *l, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof(line));
	if (l->len + (size_t)n + 1 > l->cap) {
		l->cap = (l->len + (size_t)n + 1) * 2;
		l->text = realloc(l->text, l->cap);
		ck_assert_ptr_nonnull(l->text);
	}
	memcpy(l->text + l->len, line, (size_t)n + 1);
	l->len += (size_t)n;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static int
nomem_begin(void *ctx, const struct dm_unit *u, struct dm_error *err)
{
	(void)err;
	nomem_add(ctx, "unit %s %s\n", base_name(u->path),
	    u->message != NULL ? u->message : "-");
	return DM_OK;
}

static int
nomem_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	struct nomem_log *l = ctx;
	unsigned char buf[65536];
	unsigned long long total = 0, sum = 0;
	struct dm_error e;
	ssize_t n;
	ssize_t i;

	(void)err;
	dm_error_clear(&e);
	while ((n = p->src.read(p->src.ctx, buf, sizeof(buf), &e)) > 0) {
		for (i = 0; i < n; i++)
			sum = sum * 31 + buf[i];
		total += (unsigned long long)n;
	}
	if (n < 0 && e.code == DM_ENOMEM)
		l->enomem = 1;
	nomem_add(l, "payload %s %llu bytes %llx read %d\n",
	    p->member != NULL ? p->member : "-", total, sum,
	    n < 0 ? e.code : 0);
	return DM_OK;
}

static int
nomem_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *pb, struct dm_error *err)
{
	struct nomem_log *l = ctx;

	(void)u;
	(void)err;
	if (pb->code == DM_ENOMEM) {
		ck_assert_msg(strstr(pb->msg, "out of memory") != NULL,
		    "DM_ENOMEM problem without saying so: %s", pb->msg);
		l->enomem = 1;
	}
	nomem_add(l, "problem %s %d %s\n", member != NULL ? member : "-",
	    pb->code, pb->reason != NULL ? pb->reason : "-");
	return DM_OK;
}

static int
nomem_end(void *ctx, const struct dm_unit *u, int ok, struct dm_error *err)
{
	(void)u;
	(void)err;
	nomem_add(ctx, "end %d\n", ok);
	return DM_OK;
}

/* Walks every input into l; the first walk error, or DM_OK. */
static int
nomem_walk(const char *const *paths, size_t n, struct nomem_log *l,
    struct dm_error *err)
{
	struct dm_walk_ops ops = {.ctx = l,
	    .unit_begin = nomem_begin,
	    .payload = nomem_payload,
	    .problem = nomem_problem,
	    .unit_end = nomem_end};
	size_t i;
	int rc = DM_OK;

	for (i = 0; rc == DM_OK && i < n; i++)
		rc = dm_ingest_walk(paths[i], NULL, NULL, &ops, err);
	return rc;
}

START_TEST(test_ingest_walk_out_of_memory)
{
	const char *paths[] = {fx("multi.zip"), fx("gz_in_zip.zip"),
	    fx("zip_in_gz.gz"), fx("multi_member.gz"), fx("report.xml.bz2"),
	    fx("truncated.gz"), fx("report.xml.zlib"),
	    DM_TEST_DATA_DIR "/mail/three.mbox",
	    DM_TEST_DATA_DIR "/mail/zip_attachment.eml",
	    DM_TEST_DATA_DIR "/mail/forwarded_rfc822.eml",
	    DM_TEST_DATA_DIR "/../../samples/reports/Maildir"};
	size_t np = sizeof(paths) / sizeof(paths[0]);
	struct nomem_log want = {0}, got;
	struct dm_error err;
	long n, left;
	int rc;

	ck_assert_int_eq(nomem_walk(paths, np, &want, &err), DM_OK);
	ck_assert_int_eq(want.enomem, 0);
	ck_assert_ptr_nonnull(strstr(want.text, "unit three.mbox message 3"));
	for (n = 0;; n++) {
		memset(&got, 0, sizeof(got));
		dm_error_clear(&err);
		dm_mem_fail_after(n);
		rc = nomem_walk(paths, np, &got, &err);
		left = dm_mem_fail_after(-1);
		if (rc != DM_OK)
			ck_assert_msg(
			    rc == DM_ENOMEM &&
			        strstr(err.msg, "out of memory") != NULL,
			    "allocation %ld failing: walk rc %d: %s", n, rc,
			    err.msg);
		/* Without DM_ENOMEM said somewhere, nothing may differ. */
		else if (!got.enomem)
			ck_assert_msg(strcmp(got.text, want.text) == 0,
			    "allocation %ld failed silently:\n%s", n, got.text);
		free(got.text);
		if (left > 0)
			break;
	}
	ck_assert_int_eq(rc, DM_OK);
	ck_assert_int_gt(n, 20);
	free(want.text);
}
END_TEST

/* tc_corpus: every gz and zip of the shared corpus. */

struct corpus_row {
	char file[1024];
	char container[16];
	char kind[32];
	char notes[4096];
};

static int
split_row(char *line, struct corpus_row *r)
{
	char *f[11];
	int i;

	for (i = 0; i < 11; i++) {
		if (line == NULL)
			return 0;
		f[i] = line;
		line = strchr(line, '\t');
		if (line != NULL)
			*line++ = '\0';
	}
	f[10][strcspn(f[10], "\r\n")] = '\0';
	copy_str(r->file, sizeof(r->file), f[0]);
	copy_str(r->container, sizeof(r->container), f[4]);
	copy_str(r->kind, sizeof(r->kind), f[5]);
	copy_str(r->notes, sizeof(r->notes), f[10]);
	return 1;
}

static int
has_member(const struct seen *s, const char *member, size_t len)
{
	size_t i;

	for (i = 0; i < s->npay; i++) {
		if (s->pay[i].kind == DM_PAYLOAD_XML &&
		    strlen(s->pay[i].member) == len &&
		    strncmp(s->pay[i].member, member, len) == 0)
			return 1;
	}
	return 0;
}

/* Each "[gunzip>gunzip]" or "[zip:NAME]" tag of the notes names a member that
 * must be there. */
static void
check_tags(const struct corpus_row *r, const struct seen *s)
{
	const char *p = r->notes, *end;

	while ((p = strchr(p, '[')) != NULL) {
		end = strchr(++p, ']');
		if (end == NULL)
			break;
		if (strncmp(p, "zip:", 4) == 0)
			p += 4;
		if (strncmp(p, "__MACOSX/", 9) != 0 &&
		    (strncmp(p, "gunzip", 6) == 0 || p[-1] == ':'))
			ck_assert_msg(has_member(s, p, (size_t)(end - p)),
			    "%s: no member %.*s", r->file, (int)(end - p), p);
		p = end;
	}
}

static void
check_corpus_row(const struct corpus_row *r)
{
	char path[2048];
	struct seen *s;
	size_t i, xml = 0;

	snprintf(path, sizeof(path), "%s/%s", DM_CORPUS_DIR, r->file);
	s = walk_opts(path, NULL, NULL, DM_OK);
	for (i = 0; i < s->npay; i++) {
		ck_assert_msg(!s->pay[i].read_failed, "%s: %s", r->file,
		    s->pay[i].read_err.msg);
		xml += s->pay[i].kind == DM_PAYLOAD_XML;
	}
	if (strcmp(r->kind, "aggregate") == 0) {
		ck_assert_msg(xml >= 1, "%s: no XML payload", r->file);
		ck_assert_msg(
		    s->nprob == 0, "%s: %s", r->file, s->prob[0].e.msg);
		ck_assert_int_eq(s->ended_ok[0], 1);
		check_tags(r, s);
	} else {
		ck_assert_msg(xml == 0, "%s: XML payload", r->file);
		ck_assert_msg(
		    s->npay + s->nprob >= 1, "%s: nothing delivered", r->file);
		for (i = 0; i < s->npay; i++)
			ck_assert(s->pay[i].kind == DM_PAYLOAD_EMPTY ||
			          s->pay[i].kind == DM_PAYLOAD_OTHER);
	}
	seen_free(s);
}

START_TEST(test_ingest_corpus_containers)
{
	char path[1024], line[8192];
	struct corpus_row r;
	size_t rows = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", DM_CORPUS_DIR);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!split_row(line, &r) ||
		    (strcmp(r.container, "gz") != 0 &&
		        strcmp(r.container, "zip") != 0))
			continue;
		check_corpus_row(&r);
		rows++;
	}
	fclose(f);
	ck_assert_uint_ge(rows, 40);
}
END_TEST

TCase *pipe_tcase(void); /* check_ingest_pipe.c */
TCase *imap_tcase(void); /* check_ingest_imap.c */

static Suite *
ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc;

	tc = tcase_create("tc_sniff");
	tcase_add_test(tc, test_sniff_kinds);
	tcase_add_test(tc, test_sniff_mail);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_units");
	tcase_add_test(tc, test_ingest_plain_xml);
	tcase_add_test(tc, test_ingest_empty_file);
	tcase_add_test(tc, test_ingest_file_unit_reads_again_by_fd);
	tcase_add_test(tc, test_ingest_unit_begin_done_skips);
	tcase_add_test(tc, test_ingest_missing_path);
	tcase_add_test(tc, test_ingest_callback_error_stops);
	tcase_add_test(tc, test_ingest_folder_sorted_skips_dotfiles_and_loops);
	tcase_add_test(tc, test_ingest_mail_file_goes_to_mailbox);
	tcase_add_test(tc, test_ingest_stdin);
	tcase_add_test(tc, test_ingest_stdin_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_containers");
	tcase_add_test(tc, test_ingest_xml_gz);
	tcase_add_test(tc, test_ingest_xml_zip);
	tcase_add_test(tc, test_ingest_zip_every_member);
	tcase_add_test(tc, test_ingest_nested);
	tcase_add_test(tc, test_ingest_gzip_quirks);
	tcase_add_test(tc, test_ingest_bzip2_xz);
	tcase_add_test(tc, test_ingest_zlib);
	tcase_add_test(tc, test_ingest_zlib_errors);
	tcase_add_test(tc, test_ingest_json_gz);
	tcase_add_test(tc, test_ingest_zip_skips_directories_and_macosx);
	tcase_add_test(tc, test_ingest_member_names_are_only_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_errors");
	tcase_add_test(tc, test_ingest_truncated_gzip);
	tcase_add_test(tc, test_ingest_corrupt_gzip);
	tcase_add_test(tc, test_ingest_truncated_bzip2);
	tcase_add_test(tc, test_ingest_truncated_zip);
	tcase_add_test(tc, test_ingest_corrupt_zip);
	tcase_add_test(tc, test_ingest_encrypted_member);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_limits");
	tcase_add_test(tc, test_ingest_caps_nesting);
	tcase_add_test(tc, test_ingest_caps_members);
	tcase_add_test(tc, test_ingest_caps_payload_bytes);
	tcase_add_test(tc, test_ingest_caps_ratio);
	tcase_add_test(tc, test_ingest_caps_input_bytes);
	tcase_add_test(tc, test_ingest_open_regular_refuses_fifo_and_links);
	tcase_add_test(tc, test_ingest_streams_large_member);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	suite_add_tcase(s, pipe_tcase());
	suite_add_tcase(s, imap_tcase());

	tc = tcase_create("tc_nomem");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_ingest_walk_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("tc_corpus");
	dm_check_corpus_case(tc);
	tcase_add_test(tc, test_ingest_corpus_containers);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	int rc;

	if (dm_check_corpus_missing(argc, argv))
		return DM_CHECK_SKIPPED;
	make_fixtures();
	rc = dm_check_main(argc, argv, ingest_suite());
	remove_fixtures();
	return rc;
}
