/*
 * archive.c - containers: every payload in gzip, zip, bzip2, xz, zstd, lz4,
 * compress, a bare zlib stream and any nesting of them, streamed in 64 KiB
 * chunks and judged by content, never by name.
 *
 * dm_walk_stream() peeks at the first bytes of a stream, sniffs them, and
 * either unwraps a container (each member becomes a stream of its own, walked
 * recursively) or hands the stream to ops->payload.  Member paths are joined
 * with '>': "gunzip", "r.zip>x.xml", "outer.zip>inner.xml.gz>gunzip".
 *
 * gzip is inflated with zlib directly rather than through libarchive: we need
 * the exact count of compressed bytes consumed for the ratio cap, multi-member
 * streams (RFC 1952 section 2.2) as one payload, trailing garbage after the
 * last member ignored (a corpus report ends in "\r\n"), and a clear message for
 * a truncated stream, where libarchive 3.6 can fail without any message.  A
 * bare zlib stream (RFC 1950: a report deflated without gzip's header, seen
 * from AOL) goes the same way, as one stream.  Zip and the other compressors
 * go through libarchive, read from the parent stream through
 * archive_read_open() callbacks, so nothing is ever held whole in memory.
 *
 * Caps (struct dm_limits): nesting depth, members per archive, decompressed
 * bytes per payload and the compression ratio.  A cap hit while a payload is
 * read fails that read with DM_ELIMIT; the container is then abandoned, because
 * skipping past a bomb would cost as much as reading it. Nothing here writes
 * files, so member names such as "../x" or "/etc/x" are only names.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "ingest_int.h"
#include "mem.h"

#define CHUNK (64 * 1024)

/* Where in a unit a stream is: what every function below needs to report or
 * deliver. */
struct at {
	struct dm_walk *w;
	const struct dm_unit *u;
	const char *member; /* NULL at the top of the unit */
	unsigned depth;     /* containers around this stream */
};

/* How to unwrap each container, keyed by its magic number (sniff.c recognised
 * it). */
struct container {
	const char *magic;
	size_t magic_len;
	const char
	    *unwrap; /* member name of a single-stream compressor's output */
	const char *label;     /* for messages: "<label> data truncated" */
	const char *truncated; /* reasons */
	const char *corrupt;
};

static const struct container containers[] = {
    /* clang-format off */
	{"\x1f\x8b", 2, "gunzip", "gzip", "gzip_truncated", "gzip_corrupt"},
	{"PK", 2, NULL, "zip", "zip_truncated", "zip_corrupt"},
	{"BZh", 3, "bunzip2", "bzip2", "bzip2_truncated", "bzip2_corrupt"},
	{"\xfd\x37zXZ", 5, "unxz", "xz", "xz_truncated", "xz_corrupt"},
	{"\x28\xb5\x2f\xfd", 4, "unzstd", "zstd", "zstd_truncated", "zstd_corrupt"},
	{"\x04\x22\x4d\x18", 4, "unlz4", "lz4", "lz4_truncated", "lz4_corrupt"},
	{"\x1f\x9d", 2, "uncompress", "compress", "compress_truncated", "compress_corrupt"},
    /* clang-format on */
};

/* RFC 1950 has no magic number: sniff.c recognises its header. */
static const struct container zlib_container = {
    "", 0, "inflate", "zlib", "zlib_truncated", "zlib_corrupt"};

static const struct container *
container_of(const unsigned char *head, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(containers) / sizeof(containers[0]); i++) {
		if (n >= containers[i].magic_len &&
		    memcmp(head, containers[i].magic,
		        containers[i].magic_len) == 0)
			return &containers[i];
	}
	return NULL;
}

void
dm_size_text(char *buf, size_t n, uint64_t v)
{
	if (v >= 1024 * 1024 * 1024 && v % (1024 * 1024 * 1024) == 0)
		snprintf(buf, n, "%" PRIu64 " GiB", v / (1024 * 1024 * 1024));
	else if (v >= 1024 * 1024 && v % (1024 * 1024) == 0)
		snprintf(buf, n, "%" PRIu64 " MiB", v / (1024 * 1024));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(buf, n, "%" PRIu64 " KiB", v / 1024);
	else
		snprintf(buf, n, "%" PRIu64 " bytes", v);
}

/* Checks the caps on a payload that has produced out bytes from in compressed
 * bytes. */
static int
check_caps(const struct dm_limits *lim, uint64_t out, uint64_t in,
    struct dm_error *err)
{
	char cap[32];

	if (out > lim->payload_bytes) {
		dm_size_text(cap, sizeof(cap), lim->payload_bytes);
		return dm_error_setr(err, DM_ELIMIT, "limit",
		    "decompressed size exceeds %s limit (DM_MAX_PAYLOAD_BYTES)",
		    cap);
	}
	if (lim->compression_ratio > 0 && out > lim->ratio_grace_bytes &&
	    out > (uint64_t)lim->compression_ratio * in)
		return dm_error_setr(err, DM_ELIMIT, "limit",
		    "compression ratio exceeds %" PRIu32
		    ":1 (DM_MAX_COMPRESSION_RATIO)",
		    lim->compression_ratio);
	return DM_OK;
}

/* Joins a member path: NULL + "x" = "x", "a" + "x" = "a>x".  NULL on allocation
 * failure. */
static char *
join_member(const char *parent, const char *name)
{
	size_t a = parent == NULL ? 0 : strlen(parent), b = strlen(name);
	char *s = dm_malloc(a + b + 2);

	if (s == NULL)
		return NULL;
	if (parent != NULL) {
		memcpy(s, parent, a);
		s[a++] = '>';
	}
	memcpy(s + a, name, b + 1);
	return s;
}

static int
report(struct at *at, const char *member, const struct dm_error *problem,
    struct dm_error *err)
{
	return dm_walk_problem(at->w, at->u, member, problem, err);
}

/* Memory sources (mail parts, stdin). */

static ssize_t
mem_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct dm_mem_source *m = ctx;
	size_t n = m->len - m->off;

	(void)err;
	if (n > len)
		n = len;
	if (n == 0)
		return 0; /* an empty part may have no buffer at all */
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

struct dm_source
dm_mem_source(struct dm_mem_source *m, const void *p, size_t len)
{
	struct dm_source s = {m, mem_read};

	m->p = p;
	m->len = p == NULL ? 0 : len;
	m->off = 0;
	return s;
}

/* The peek: the first bytes of a stream, replayed before the rest of it. */

struct peek {
	const struct dm_source *src;
	unsigned char head[DM_SNIFF_BYTES];
	size_t len, off;
	int eof;
	int failed; /* a read of the payload failed: the reader has been told
	               why */
};

static int
peek_fill(struct peek *pk, struct dm_error *e)
{
	ssize_t n;

	while (pk->len < sizeof(pk->head)) {
		n = pk->src->read(pk->src->ctx, pk->head + pk->len,
		    sizeof(pk->head) - pk->len, e);
		if (n < 0)
			return -1;
		if (n == 0) {
			pk->eof = 1;
			break;
		}
		pk->len += (size_t)n;
	}
	return 0;
}

static ssize_t
peek_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct peek *pk = ctx;
	size_t n = pk->len - pk->off;
	ssize_t r;

	if (n > 0) {
		if (n > len)
			n = len;
		memcpy(buf, pk->head + pk->off, n);
		pk->off += n;
		return (ssize_t)n;
	}
	if (pk->eof)
		return 0;
	r = pk->src->read(pk->src->ctx, buf, len, err);
	if (r < 0)
		pk->failed = 1;
	else if (r == 0)
		pk->eof = 1;
	return r;
}

/* gzip and bare zlib streams through zlib. */

struct gunzip {
	const struct dm_source *src;
	const struct dm_limits *lim;
	const struct container *info; /* gzip, or zlib_container */
	z_stream z;
	int eof, done;
	uint64_t in_bytes, out_bytes;
	struct dm_error
	    fail; /* sticky: once a read failed, every later read fails alike */
	unsigned char in[CHUNK];
};

/* Moves unread input to the front and appends what the source gives.  -1 with
 * g->fail set. */
static int
gunzip_fill(struct gunzip *g)
{
	ssize_t n;

	if (g->z.avail_in > 0)
		memmove(g->in, g->z.next_in, g->z.avail_in);
	g->z.next_in = g->in;
	n = g->src->read(g->src->ctx, g->in + g->z.avail_in,
	    CHUNK - g->z.avail_in, &g->fail);
	if (n < 0)
		return -1;
	if (n == 0)
		g->eof = 1;
	g->z.avail_in += (uInt)n;
	g->in_bytes += (uint64_t)n;
	return 0;
}

/*
 * After the end of a gzip member: another member follows if the next bytes are
 * the gzip magic (gzip(1) concatenates them); anything else is trailing
 * garbage, which gzip(1) ignores too.  A zlib stream has one member.  Returns 1
 * to go on, 0 at the end, -1 with g->fail set.
 */
static int
gunzip_next_member(struct gunzip *g)
{
	if (g->info == &zlib_container) {
		g->done = 1;
		return 0;
	}
	while (g->z.avail_in < 2 && !g->eof) {
		if (gunzip_fill(g) < 0)
			return -1;
	}
	if (g->z.avail_in >= 2 && g->z.next_in[0] == 0x1f &&
	    g->z.next_in[1] == 0x8b) {
		if (inflateReset(&g->z) != Z_OK)
			return dm_error_set(&g->fail, DM_ENOMEM,
			           "cannot reset zlib stream"),
			       -1;
		return 1;
	}
	g->done = 1;
	return 0;
}

/* One inflate step.  Returns 0 to go on, -1 with g->fail set. */
static int
gunzip_step(struct gunzip *g)
{
	int r;

	if (g->z.avail_in == 0 && !g->eof && gunzip_fill(g) < 0)
		return -1;
	r = inflate(&g->z, Z_NO_FLUSH);
	switch (r) {
	case Z_OK:
		return 0;
	case Z_STREAM_END:
		return gunzip_next_member(g) < 0 ? -1 : 0;
	case Z_BUF_ERROR:
		if (g->z.avail_in == 0 && g->eof)
			return dm_error_setr(&g->fail, DM_EFORMAT,
			           g->info->truncated, "%s data truncated",
			           g->info->label),
			       -1;
		return 0;
	case Z_MEM_ERROR:
		return dm_error_set(&g->fail, DM_ENOMEM,
		           "out of memory inflating %s data", g->info->label),
		       -1;
	default:
		return dm_error_setr(&g->fail, DM_EFORMAT, g->info->corrupt,
		           "%s data corrupt: %s", g->info->label,
		           g->z.msg != NULL ? g->z.msg : "unknown error"),
		       -1;
	}
}

static ssize_t
gunzip_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct gunzip *g = ctx;
	uInt want = len > CHUNK ? CHUNK : (uInt)len;

	if (g->fail.code != DM_OK)
		goto fail;
	if (want == 0)
		return 0;
	g->z.next_out = buf;
	g->z.avail_out = want;
	while (g->z.avail_out == want && !g->done) {
		if (gunzip_step(g) < 0)
			goto fail;
	}
	g->out_bytes += want - g->z.avail_out;
	if (check_caps(g->lim, g->out_bytes, g->in_bytes - g->z.avail_in,
	        &g->fail) != DM_OK)
		goto fail;
	return (ssize_t)(want - g->z.avail_out);
fail:
	*err = g->fail;
	return -1;
}

/* Inflates a gzip stream (info: gzip's entry) or a bare zlib stream
 * (zlib_container) as one payload. */
static int
unwrap_gzip(struct at *at, const struct container *info,
    const struct dm_source *src, struct dm_error *err)
{
	struct gunzip *g;
	struct dm_source gs;
	struct at child = *at;
	char *member = NULL;
	int rc = DM_ENOMEM;

	/* Not calloc: zeroing the 64 KiB input buffers of every compressed
	 * file was 2% of the instructions of an ingest of small reports. */
	g = dm_malloc(sizeof(*g));
	if (g == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	memset(g, 0, offsetof(struct gunzip, in));
	g->src = src;
	g->lim = at->w->lim;
	g->info = info;
	/* 15: the largest window; + 16: a gzip header instead of zlib's. */
	if (inflateInit2(&g->z, info == &zlib_container ? 15 : 15 + 16) !=
	    Z_OK) {
		dm_free(g);
		return dm_error_set(err, DM_ENOMEM, "cannot start zlib");
	}
	member = join_member(at->member, info->unwrap);
	if (member == NULL) {
		dm_error_set(err, DM_ENOMEM, "out of memory");
		goto out;
	}
	gs.ctx = g;
	gs.read = gunzip_read;
	child.member = member;
	child.depth = at->depth + 1;
	rc = dm_walk_stream(
	    child.w, child.u, child.member, &gs, child.depth, err);
out:
	dm_free(member);
	inflateEnd(&g->z);
	dm_free(g);
	return rc;
}

/* zip and the other compressors through libarchive. */

struct arc {
	const struct dm_source *src;
	const struct dm_limits *lim;
	const struct container *info;
	struct archive *a;
	uint64_t in_bytes;
	int eof;
	struct dm_error src_err; /* set when the parent stream failed */
	unsigned char in[CHUNK];
};

struct member {
	struct arc *arc;
	uint64_t out_bytes;
	struct dm_error fail; /* sticky, as in struct gunzip */
};

static la_ssize_t
arc_read_cb(struct archive *a, void *ctx, const void **buf)
{
	struct arc *arc = ctx;
	ssize_t n;

	n = arc->src->read(arc->src->ctx, arc->in, CHUNK, &arc->src_err);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", arc->src_err.msg);
		return -1;
	}
	if (n == 0)
		arc->eof = 1;
	arc->in_bytes += (uint64_t)n;
	*buf = arc->in;
	return n;
}

/*
 * Whether a libarchive failure is a truncation: the input ended and the message
 * says that more was needed.  libarchive words it differently per format
 * ("Truncated input file", "truncated bzip2 input", zlib's Z_BUF_ERROR as "ZIP
 * decompression failed (-5)", liblzma's "No progress is possible"), or gives no
 * message at all.
 */
static int
is_truncation(const struct arc *arc, const char *msg)
{
	return arc->eof && (msg == NULL || strstr(msg, "runcated") != NULL ||
	                       strstr(msg, "(-5)") != NULL ||
	                       strstr(msg, "No progress") != NULL);
}

/*
 * Turns a libarchive failure into a clear error.  A failure of the parent
 * stream is passed on as it was; a truncation says so; anything else is corrupt
 * data, with libarchive's words.
 */
static void
arc_error(struct arc *arc, struct dm_error *e)
{
	const char *msg = archive_error_string(arc->a);

	if (arc->src_err.code != DM_OK)
		*e = arc->src_err;
	else if (is_truncation(arc, msg))
		dm_error_setr(e, DM_EFORMAT, arc->info->truncated,
		    "%s data truncated", arc->info->label);
	else
		dm_error_setr(e, DM_EFORMAT, arc->info->corrupt,
		    "%s data corrupt: %s", arc->info->label,
		    msg != NULL ? msg : "unknown error");
}

static ssize_t
member_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct member *m = ctx;
	la_ssize_t n;

	if (m->fail.code != DM_OK)
		goto fail;
	n = archive_read_data(m->arc->a, buf, len > CHUNK ? CHUNK : len);
	if (n < 0) {
		arc_error(m->arc, &m->fail);
		goto fail;
	}
	m->out_bytes += (uint64_t)n;
	if (check_caps(m->arc->lim, m->out_bytes, m->arc->in_bytes, &m->fail) !=
	    DM_OK)
		goto fail;
	return n;
fail:
	*err = m->fail;
	return -1;
}

/* AppleDouble files (__MACOSX/, ._name) that macOS adds to zips: resource
 * forks, never reports. */
static int
is_junk(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base == NULL ? name : base + 1;
	return strncmp(name, "__MACOSX/", 9) == 0 ||
	       strncmp(base, "._", 2) == 0;
}

static int
arc_member(struct at *at, struct arc *arc, const char *name, int *stop,
    struct dm_error *err)
{
	struct member m;
	struct dm_source ms = {&m, member_read};
	char *member = join_member(at->member, name);
	int rc;

	if (member == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	memset(&m, 0, sizeof(m));
	m.arc = arc;
	rc = dm_walk_stream(at->w, at->u, member, &ms, at->depth + 1, err);
	dm_free(member);
	/* The failure reached the payload's reader or a problem report; the
	 * archive is abandoned. */
	if (m.fail.code != DM_OK)
		*stop = 1;
	return rc;
}

static int
arc_entry(struct at *at, struct arc *arc, struct archive_entry *e,
    unsigned index, int *stop, struct dm_error *err)
{
	const char *name = archive_entry_pathname(e);
	char fallback[32], *member;
	struct dm_error pb;
	int rc;

	if (archive_entry_filetype(e) != AE_IFREG)
		return DM_OK;
	if (arc->info->unwrap != NULL) {
		name = arc->info->unwrap;
	} else if (name == NULL || name[0] == '\0') {
		snprintf(fallback, sizeof(fallback), "member %u", index);
		name = fallback;
	}
	if (is_junk(name) || name[strlen(name) - 1] == '/')
		return DM_OK;
	if (!archive_entry_is_encrypted(e))
		return arc_member(at, arc, name, stop, err);
	member = join_member(at->member, name);
	if (member == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	dm_error_setr(&pb, DM_EFORMAT, "encrypted", "%s member is encrypted",
	    arc->info->label);
	rc = report(at, member, &pb, err);
	dm_free(member);
	return rc;
}

/* A compressor libarchive does not know leaves the data unfiltered: say so, do
 * not loop. */
static int
arc_unfiltered(struct arc *arc)
{
	return arc->info->unwrap != NULL &&
	       archive_filter_code(arc->a, 0) == ARCHIVE_FILTER_NONE;
}

static int
arc_entries(struct at *at, struct arc *arc, struct dm_error *err)
{
	struct archive_entry *e;
	struct dm_error pb;
	unsigned count = 0;
	int r, rc = DM_OK, stop = 0;

	while (rc == DM_OK && !stop) {
		r = archive_read_next_header(arc->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			arc_error(arc, &pb);
			return report(at, at->member, &pb, err);
		}
		if (arc_unfiltered(arc)) {
			dm_error_setr(&pb, DM_EFORMAT,
			    "unsupported_compression",
			    "%s data not recognised by libarchive",
			    arc->info->label);
			return report(at, at->member, &pb, err);
		}
		if (++count > arc->lim->archive_members) {
			dm_error_setr(&pb, DM_ELIMIT, "limit",
			    "%s archive has more than %" PRIu32
			    " members (DM_MAX_ARCHIVE_MEMBERS)",
			    arc->info->label, arc->lim->archive_members);
			return report(at, at->member, &pb, err);
		}
		rc = arc_entry(at, arc, e, count, &stop, err);
	}
	return rc;
}

static int
unwrap_archive(struct at *at, const struct container *info,
    const struct dm_source *src, struct dm_error *err)
{
	struct dm_error pb;
	struct arc *arc;
	int rc;

	arc = dm_malloc(sizeof(*arc)); /* the input buffer is not cleared */
	if (arc != NULL)
		memset(arc, 0, offsetof(struct arc, in));
	if (arc == NULL || (arc->a = archive_read_new()) == NULL) {
		dm_free(arc);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	arc->src = src;
	arc->lim = at->w->lim;
	arc->info = info;
	if (info->unwrap == NULL) {
		archive_read_support_format_zip(arc->a);
	} else {
		archive_read_support_filter_all(arc->a);
		archive_read_support_format_raw(arc->a);
	}
	if (archive_read_open(arc->a, arc, NULL, arc_read_cb, NULL) !=
	    ARCHIVE_OK) {
		arc_error(arc, &pb);
		rc = report(at, at->member, &pb, err);
	} else {
		rc = arc_entries(at, arc, err);
	}
	archive_read_free(arc->a);
	dm_free(arc);
	return rc;
}

/* Dispatch. */

static int
deliver(struct at *at, enum dm_sniff s, struct peek *pk, struct dm_error *err)
{
	const struct dm_walk_ops *ops = at->w->ops;
	struct dm_payload p;
	int rc;

	if (ops->payload == NULL)
		return DM_OK;
	memset(&p, 0, sizeof(p));
	p.unit = at->u;
	p.member = at->member;
	p.kind = s == DM_SNIFF_XML     ? DM_PAYLOAD_XML
	         : s == DM_SNIFF_JSON  ? DM_PAYLOAD_JSON
	         : s == DM_SNIFF_EMPTY ? DM_PAYLOAD_EMPTY
	                               : DM_PAYLOAD_OTHER;
	p.head = pk->head;
	p.head_len = pk->len;
	p.src.ctx = pk;
	p.src.read = peek_read;
	rc = ops->payload(ops->ctx, &p, err);
	if (pk->failed)
		at->w->unit_ok = 0;
	return rc;
}

static int
unwrap(struct at *at, enum dm_sniff s, struct peek *pk, struct dm_error *err)
{
	const struct container *info = s == DM_SNIFF_ZLIB
	                                   ? &zlib_container
	                                   : container_of(pk->head, pk->len);
	struct dm_source ps = {pk, peek_read};
	struct dm_error pb;

	if (at->depth >= at->w->lim->container_depth) {
		dm_error_setr(&pb, DM_ELIMIT, "limit",
		    "containers nested deeper than %" PRIu32
		    " (DM_MAX_CONTAINER_DEPTH)",
		    at->w->lim->container_depth);
		return report(at, at->member, &pb, err);
	}
	if (info == &zlib_container ||
	    (info->unwrap != NULL && strcmp(info->unwrap, "gunzip") == 0))
		return unwrap_gzip(at, info, &ps, err);
	return unwrap_archive(at, info, &ps, err);
}

int
dm_walk_stream(struct dm_walk *w, const struct dm_unit *u, const char *member,
    const struct dm_source *src, unsigned depth, struct dm_error *err)
{
	struct at at = {w, u, member, depth};
	struct dm_error pb;
	struct peek *pk;
	enum dm_sniff s;
	int rc;

	pk = dm_calloc(1, sizeof(*pk));
	if (pk == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	pk->src = src;
	dm_error_clear(&pb);
	if (peek_fill(pk, &pb) < 0) {
		/* The stream failed before its first bytes: nobody has seen
		 * that error yet. */
		rc = report(&at, member, &pb, err);
		goto out;
	}
	s = dm_sniff(pk->head, pk->len);
	if (dm_sniff_is_container(s))
		rc = unwrap(&at, s, pk, err);
	else
		rc = deliver(&at, s, pk,
		    err); /* MAIL/MBOX here are files inside files: OTHER */
out:
	dm_free(pk);
	return rc;
}
