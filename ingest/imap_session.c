/*
 * imap_session.c - one IMAP server and folder through libcurl: the URL, the
 * credentials, TLS, requests, and errors people can read.
 *
 * libcurl speaks IMAP and TLS; this file reads only the untagged responses of
 * the commands imap.c sends, and the server's last line when a command fails
 * (through the debug callback, since libcurl keeps it to itself).  TLS is
 * always verified; imap:// must upgrade with STARTTLS, except to a test server
 * on loopback with insecure_plaintext.  A password or token is read from a file
 * (or given by the caller), never taken from the URL, kept in this session
 * only (and in libcurl's copy), wiped when it closes, and cut out of every
 * message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "imap_int.h"
#include "mem.h"

/* Secrets are one line; an access token is at most a few KiB (Microsoft's
 * run to 2-3 KiB). */
#define SECRET_MAX 65536
/* A response line longer than this is not one of ours. */
#define LINE_MAX (4u << 20)
/* libcurl strips a response line longer than half its buffer: a UID SEARCH
 * answer must fit (imap.c asks for at most 20,000 UIDs at once). */
#define BUFFER_BYTES (512L * 1024)
/* A server that sends nothing for this long is given up on. */
#define CONNECT_S 30L
#define STALL_S 120L

struct dm_imap_session {
	CURL *curl;
	char *name;       /* scheme://user@host:port/folder, no password */
	char *folder;     /* decoded */
	char *folder_url; /* scheme://host:port/folder, for requests */
	char *base_url;   /* scheme://host:port/ */
	char *user, *options;
	char *secret; /* password or token; wiped on close */
	int netrc;    /* the password comes from ~/.netrc */
	char errbuf[CURL_ERROR_SIZE];
	char last[256]; /* the server's last response line */
	CURLcode rc;    /* of the last request */

	/* The request being performed. */
	dm_imap_line_fn line;
	dm_imap_data_fn data;
	void *ctx;
	struct dm_buf partial; /* a response line not complete yet */
	struct dm_error cb_err;
	int cb_failed;
};

/* Overwrites a secret before it is freed: memset alone may be optimised
 * away. */
static void
wipe(char *p)
{
	volatile char *v = p;

	while (p != NULL && *v != '\0')
		*v++ = '\0';
}

/* Replaces every copy of the secret in err's message by "***". */
static void
scrub(const struct dm_imap_session *s, struct dm_error *err)
{
	size_t n = s->secret != NULL ? strlen(s->secret) : 0, o = 0;
	char out[sizeof(err->msg)];
	const char *p = err->msg;

	if (n == 0 || strstr(p, s->secret) == NULL)
		return;
	while (*p != '\0' && o + 1 < sizeof(out)) {
		if (strncmp(p, s->secret, n) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "***");
			p += n;
		} else {
			out[o++] = *p++;
		}
	}
	out[o < sizeof(out) ? o : sizeof(out) - 1] = '\0';
	memcpy(err->msg, out, sizeof(out));
}

/*
 * Percent-encodes s for a URL, keeping letters, digits, "-._~" and the
 * characters of keep as they are.
 */
static char *
escape(const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	struct dm_buf b;
	char c[3];

	dm_buf_init(&b, DM_IMAP_TEXT_MAX);
	for (; *s != '\0'; s++) {
		unsigned char u = (unsigned char)*s;

		if (isalnum(u) || strchr("-._~", u) != NULL ||
		    (keep != NULL && strchr(keep, u) != NULL)) {
			if (dm_buf_add(&b, s, 1) != DM_OK)
				break;
			continue;
		}
		c[0] = '%', c[1] = hex[u >> 4], c[2] = hex[u & 15];
		if (dm_buf_add(&b, c, 3) != DM_OK)
			break;
	}
	if (*s != '\0') {
		dm_buf_free(&b);
		return NULL;
	}
	if (b.data == NULL)
		return dm_strdup("");
	return dm_buf_take(&b);
}

/* A part of a parsed URL, or NULL; owned by the caller (curl_free). */
static char *
url_part(CURLU *u, CURLUPart what, unsigned flags)
{
	char *v = NULL;

	if (curl_url_get(u, what, &v, flags) != CURLUE_OK)
		return NULL;
	return v;
}

static void
lower(char *p)
{
	for (; p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* Whether host is this machine: insecure_plaintext goes nowhere else.  An
 * address, not a name that merely starts like one ("127.example.com"). */
static int
is_loopback(const char *host)
{
	struct in_addr a;

	if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a) == 1 &&
	       (ntohl(a.s_addr) >> 24) == 127;
}

/* The folder a URL path names: INBOX when none; never UIDs or a search. */
static int
parse_folder(struct dm_imap_session *s, const char *path, const char *shown,
    struct dm_error *err)
{
	char *dec;
	int n, i;

	while (*path == '/')
		path++;
	if (strchr(path, ';') != NULL)
		return dm_error_set(err, DM_EINVAL,
		    "%s: the URL must name a folder only, without ;UID= or "
		    "other parameters",
		    shown);
	n = (int)strlen(path);
	if (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		path = "INBOX", n = 5;
	dec = curl_easy_unescape(s->curl, path, n, &i);
	if (dec == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	s->folder = dm_strdup(strcasecmp(dec, "INBOX") == 0 ? "INBOX" : dec);
	curl_free(dec);
	if (s->folder == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	for (i = 0; s->folder[i] != '\0'; i++) {
		if ((unsigned char)s->folder[i] < 0x20)
			return dm_error_set(err, DM_EINVAL,
			    "%s: a control character in the folder name",
			    shown);
	}
	return DM_OK;
}

/*
 * The session's name and request URLs, from the parts of the URL.  Requests
 * carry no user, which goes to libcurl apart, except with ~/.netrc.
 */
static int
make_names(struct dm_imap_session *s, const char *scheme, const char *host,
    const char *port, struct dm_error *err)
{
	/* Folder names keep the characters libcurl reads as part of one. */
	char *user = escape(s->user, "!$&'()*+,="),
	     *folder = escape(s->folder, ":@/&=!$'()*+,");
	struct dm_buf b;
	int rc = DM_ENOMEM;

	dm_buf_init(&b, DM_IMAP_TEXT_MAX);
	if (user != NULL && folder != NULL &&
	    dm_buf_addf(&b, "%s://%s@%s:%s/%s", scheme, user, host, port,
	        folder) == DM_OK &&
	    (s->name = dm_buf_take(&b)) != NULL &&
	    dm_buf_addf(&b, "%s://%s%s%s:%s/", scheme, s->netrc ? user : "",
	        s->netrc ? "@" : "", host, port) == DM_OK &&
	    (s->base_url = dm_buf_take(&b)) != NULL &&
	    dm_buf_addf(&b, "%s%s", s->base_url, folder) == DM_OK &&
	    (s->folder_url = dm_buf_take(&b)) != NULL)
		rc = DM_OK;
	dm_buf_free(&b);
	dm_free(user);
	dm_free(folder);
	if (rc != DM_OK)
		return dm_error_set(err, rc, "out of memory");
	return DM_OK;
}

/* What the URL may hold: no password (it would be in `ps` and shell
 * history), a user, a folder. */
static int
check_url(CURLU *u, const char *shown, const char *user, struct dm_error *err)
{
	char *v;

	if ((v = url_part(u, CURLUPART_PASSWORD, 0)) != NULL) {
		curl_free(v);
		return dm_error_set(err, DM_EINVAL,
		    "%s: a password in the URL is refused: use "
		    "--password-file, --netrc or DMARCSTAT_IMAP_PASSWORD",
		    shown);
	}
	if ((v = url_part(u, CURLUPART_QUERY, 0)) != NULL ||
	    (v = url_part(u, CURLUPART_FRAGMENT, 0)) != NULL) {
		curl_free(v);
		return dm_error_set(err, DM_EINVAL,
		    "%s: the URL must name a folder only", shown);
	}
	if (user == NULL || user[0] == '\0')
		return dm_error_set(err, DM_EINVAL,
		    "%s: no user: write it in the URL, as "
		    "imaps://USER@host/folder (%%40 for an @ in it)",
		    shown);
	return DM_OK;
}

/*
 * A URL as it may be shown: scheme, host, port and path only, since it may
 * hold a password that must not be printed.
 */
static void
shown_url(CURLU *u, char *buf, size_t n)
{
	char *scheme = url_part(u, CURLUPART_SCHEME, 0),
	     *host = url_part(u, CURLUPART_HOST, 0),
	     *port = url_part(u, CURLUPART_PORT, 0),
	     *path = url_part(u, CURLUPART_PATH, 0);

	snprintf(buf, n, "%s://%s%s%s%s", scheme ? scheme : "imap",
	    host ? host : "?", port ? ":" : "", port ? port : "",
	    path ? path : "/");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
}

static int
parse_parts(struct dm_imap_session *s, CURLU *u, const char *shown,
    int plaintext_ok, struct dm_error *err)
{
	char *scheme = url_part(u, CURLUPART_SCHEME, 0),
	     *host = url_part(u, CURLUPART_HOST, 0),
	     *port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT),
	     *path = url_part(u, CURLUPART_PATH, 0),
	     *user = url_part(u, CURLUPART_USER, CURLU_URLDECODE),
	     *options = url_part(u, CURLUPART_OPTIONS, CURLU_URLDECODE);
	int rc;

	rc = check_url(u, shown, user, err);
	/* One server, one key: host names are not case-sensitive. */
	lower(host);
	if (rc == DM_OK && (scheme == NULL || host == NULL || port == NULL))
		rc = dm_error_set(err, DM_EINVAL, "%s: not an IMAP URL", shown);
	if (rc == DM_OK && strcmp(scheme, "imap") == 0 && plaintext_ok &&
	    !is_loopback(host))
		rc = dm_error_set(err, DM_EINVAL,
		    "%s: --insecure-plaintext is only for a test server on "
		    "this machine (127.0.0.1, ::1, localhost)",
		    shown);
	if (rc == DM_OK &&
	    ((s->user = dm_strdup(user)) == NULL ||
	        (options != NULL && (s->options = dm_strdup(options)) == NULL)))
		rc = dm_error_set(err, DM_ENOMEM, "out of memory");
	if (rc == DM_OK)
		rc = parse_folder(s, path != NULL ? path : "", shown, err);
	if (rc == DM_OK)
		rc = make_names(s, scheme, host, port, err);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(options);
	return rc;
}

/* A URL that cannot be parsed, as it may be shown: what follows the last '@'
 * of its authority, since what precedes may be a password. */
static const char *
without_userinfo(const char *url, char *buf, size_t n)
{
	const char *start = strstr(url, "://"), *at, *end;

	if (start == NULL)
		return url;
	start += 3;
	end = start + strcspn(start, "/?#");
	for (at = end; at > start && at[-1] != '@'; at--)
		;
	snprintf(buf, n, "%.*s%s", (int)(start - url), url, at);
	return buf;
}

static int
parse_url(struct dm_imap_session *s, const char *url, int plaintext_ok,
    struct dm_error *err)
{
	char shown[512];
	CURLU *u = curl_url();
	int rc;

	if (u == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return dm_error_set(err, DM_EINVAL,
		    "not a valid IMAP URL (imaps://user@host/folder): %s",
		    without_userinfo(url, shown, sizeof(shown)));
	}
	shown_url(u, shown, sizeof(shown));
	rc = parse_parts(s, u, shown, plaintext_ok, err);
	curl_url_cleanup(u);
	return rc;
}

/*
 * The first line of a file that holds a secret.  Refused when others may read
 * or write it (ssh does the same with keys): a password or token in a
 * readable file is not a secret.
 */
static int
read_secret(
    const char *path, const char *what, char **out, struct dm_error *err)
{
	char *buf;
	struct stat st;
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dm_error_set(err, DM_EIO,
		    "cannot read the %s file %s: %s", what, path,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		close(fd);
		return dm_error_set(err, DM_EIO,
		    "the %s file %s must be a file only its owner can read "
		    "(chmod 600 %s)",
		    what, path, path);
	}
	if ((buf = dm_calloc(1, SECRET_MAX + 1)) == NULL) {
		close(fd);
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	}
	n = read(fd, buf, SECRET_MAX);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (n < 0 || buf[0] == '\0') {
		dm_free(buf);
		return dm_error_set(err, DM_EIO, "the %s file %s is %s", what,
		    path, n < 0 ? "unreadable" : "empty");
	}
	*out = buf;
	return DM_OK;
}

/* The password or token, from where the options say. */
static int
load_secret(struct dm_imap_session *s, const struct dm_imap_options *o,
    int *bearer, struct dm_error *err)
{
	*bearer = 0;
	if (o->oauth2_token_file != NULL) {
		*bearer = 1;
		return read_secret(
		    o->oauth2_token_file, "OAuth 2.0 token", &s->secret, err);
	}
	if (o->password_file != NULL)
		return read_secret(
		    o->password_file, "password", &s->secret, err);
	if (s->netrc)
		return DM_OK;
	if (o->password == NULL || o->password[0] == '\0')
		return dm_error_set(err, DM_EINVAL,
		    "%s: no password: use --password-file, --netrc, "
		    "DMARCSTAT_IMAP_PASSWORD or --oauth2-token-file",
		    s->name);
	if ((s->secret = dm_strdup(o->password)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	return DM_OK;
}

/* Whether a response line is a refusal: "<tag> NO ...", "<tag> BAD ...", or
 * "* BYE ..." (RFC 3501 7.1). */
static int
is_refusal(const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	size_t rest;

	if (sp == NULL)
		return 0;
	rest = n - (size_t)(sp + 1 - p);
	if (p[0] == '*')
		return rest >= 4 && strncasecmp(sp + 1, "BYE ", 4) == 0;
	return (rest >= 3 && strncasecmp(sp + 1, "NO ", 3) == 0) ||
	       (rest >= 4 && strncasecmp(sp + 1, "BAD ", 4) == 0);
}

/*
 * libcurl's debug output: of what the server sent, only its last refusal is
 * kept, since libcurl does not say what a server refused.  Lines sent (the
 * credentials among them) are never looked at.
 */
static int
on_debug(CURL *c, curl_infotype type, char *p, size_t n, void *ctx)
{
	struct dm_imap_session *s = ctx;

	(void)c;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	/* libcurl logs out after a failure: a BYE then must not hide the NO
	 * that caused it. */
	if (n == 0 || !is_refusal(p, n) || (p[0] == '*' && s->last[0] != '\0'))
		return 0;
	if (n >= sizeof(s->last))
		n = sizeof(s->last) - 1;
	memcpy(s->last, p, n);
	s->last[n] = '\0';
	return 0;
}

/* A callback failed: libcurl is stopped, and its error wins over libcurl's. */
static size_t
cb_fail(struct dm_imap_session *s, const struct dm_error *e)
{
	s->cb_failed = 1;
	s->cb_err = *e;
	return 0;
}

/* Hands each complete line of a command's response to s->line. */
static size_t
take_lines(struct dm_imap_session *s, const char *p, size_t n)
{
	struct dm_error e;
	const char *nl;
	size_t len, total = n;

	dm_error_clear(&e);
	while (n > 0) {
		nl = memchr(p, '\n', n);
		len = nl != NULL ? (size_t)(nl - p) : n;
		if (dm_buf_add(&s->partial, p, len) != DM_OK) {
			dm_error_set(&e, DM_EIO,
			    "%s: a response line longer than %u bytes", s->name,
			    LINE_MAX);
			return cb_fail(s, &e);
		}
		if (nl == NULL)
			break;
		while (s->partial.len > 0 &&
		       s->partial.data[s->partial.len - 1] == '\r')
			s->partial.data[--s->partial.len] = '\0';
		if (s->line != NULL &&
		    s->line(s->ctx, s->partial.data ? s->partial.data : "",
		        s->partial.len, &e) != DM_OK)
			return cb_fail(s, &e);
		dm_buf_reset(&s->partial);
		p += len + 1;
		n -= len + 1;
	}
	return total;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct dm_imap_session *s = ctx;
	size_t n = size * nmemb;
	struct dm_error e;

	if (s->data == NULL)
		return take_lines(s, p, n);
	dm_error_clear(&e);
	if (s->data(s->ctx, p, n, &e) != DM_OK)
		return cb_fail(s, &e);
	return n;
}

/* TLS always verified; imap:// upgraded with STARTTLS or refused. */
static int
set_tls(struct dm_imap_session *s, const struct dm_imap_options *o)
{
	CURL *c = s->curl;
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_USE_SSL,
	           (long)(o->insecure_plaintext ? CURLUSESSL_NONE
	                                        : CURLUSESSL_ALL)) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION,
	           (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	if (o->cacert != NULL)
		bad |=
		    curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert) != CURLE_OK;
	return bad;
}

static int
set_login(struct dm_imap_session *s, int bearer)
{
	CURL *c = s->curl;
	int bad = 0;

	/* libcurl reads ~/.netrc only for a user given in the URL. */
	if (!s->netrc)
		bad |=
		    curl_easy_setopt(c, CURLOPT_USERNAME, s->user) != CURLE_OK;
	if (s->options != NULL)
		bad |= curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, s->options) !=
		       CURLE_OK;
	if (bearer)
		bad |= curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, s->secret) !=
		       CURLE_OK;
	else if (s->secret != NULL)
		bad |= curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret) !=
		       CURLE_OK;
	else if (s->netrc)
		bad |= curl_easy_setopt(c, CURLOPT_NETRC,
		           (long)CURL_NETRC_REQUIRED) != CURLE_OK;
	return bad;
}

/*
 * The handle's settings.  The debug callback needs CURLOPT_VERBOSE; it prints
 * nothing itself and keeps only what the server sent.
 */
static int
configure(struct dm_imap_session *s, const struct dm_imap_options *o,
    int bearer, struct dm_error *err)
{
	CURL *c = s->curl;
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "imap,imaps") !=
	       CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |=
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_S) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_S) != CURLE_OK;
	bad |=
	    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, BUFFER_BYTES) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_DEBUGDATA, s) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_VERBOSE, 1L) != CURLE_OK;
	bad |= set_tls(s, o);
	bad |= set_login(s, bearer);
	if (bad)
		return dm_error_set(err, DM_EINVAL,
		    "%s: this libcurl lacks an IMAP or TLS feature dmarcstat "
		    "needs",
		    s->name);
	return DM_OK;
}

int
dm_imap_open(struct dm_imap_session **out, const char *url,
    const struct dm_imap_options *o, struct dm_error *err)
{
	static const struct dm_imap_options none;
	struct dm_imap_session *s;
	int rc, bearer;

	*out = NULL;
	if (o == NULL)
		o = &none;
	if ((s = dm_calloc(1, sizeof(*s))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	dm_buf_init(&s->partial, LINE_MAX);
	s->netrc = o->netrc && o->password_file == NULL &&
	           o->oauth2_token_file == NULL;
	if ((s->curl = curl_easy_init()) == NULL)
		rc = dm_error_set(err, DM_ENOMEM, "out of memory");
	else if ((rc = parse_url(s, url, o->insecure_plaintext, err)) ==
	         DM_OK) {
		if ((rc = load_secret(s, o, &bearer, err)) == DM_EIO)
			dm_error_prefix(err, "%s", s->name);
		if (rc == DM_OK)
			rc = configure(s, o, bearer, err);
	}
	if (rc != DM_OK) {
		scrub(s, err);
		dm_imap_close(s);
		return rc;
	}
	*out = s;
	return DM_OK;
}

const char *
dm_imap_name(const struct dm_imap_session *s)
{
	return s->name;
}

const char *
dm_imap_folder(const struct dm_imap_session *s)
{
	return s->folder;
}

/* The server's last refusal without its tag: "NO [AUTHENTICATIONFAILED] ...".
 */
static const char *
server_said(const struct dm_imap_session *s)
{
	const char *sp = strchr(s->last, ' ');

	return sp != NULL ? sp + 1 : s->last;
}

/*
 * Failures to reach the server, agree on TLS, or log in: nothing can be
 * fetched (reason "server").  tls marks those that a message calls TLS.
 */
static const struct {
	CURLcode rc;
	int tls;
} server_errors[] = {
    {CURLE_COULDNT_RESOLVE_HOST, 0},
    {CURLE_COULDNT_CONNECT, 0},
    {CURLE_OPERATION_TIMEDOUT, 0},
    {CURLE_LOGIN_DENIED, 0},
    {CURLE_USE_SSL_FAILED, 0},
    {CURLE_GOT_NOTHING, 0},
    {CURLE_WEIRD_SERVER_REPLY, 0},
    {CURLE_PEER_FAILED_VERIFICATION, 1},
    {CURLE_SSL_CONNECT_ERROR, 1},
    {CURLE_SSL_CERTPROBLEM, 1},
    {CURLE_SSL_CACERT_BADFILE, 1},
    {CURLE_SSL_CIPHER, 1},
    {CURLE_SSL_ISSUER_ERROR, 1},
    {CURLE_SSL_CRL_BADFILE, 1},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, 1},
    {CURLE_SSL_INVALIDCERTSTATUS, 1},
};

/* 0: not a server error; 1: one; 2: one of TLS. */
static int
server_error(CURLcode rc)
{
	size_t i;

	for (i = 0; i < sizeof(server_errors) / sizeof(server_errors[0]); i++) {
		if (server_errors[i].rc == rc)
			return 1 + server_errors[i].tls;
	}
	return 0;
}

/* What went wrong, in words: libcurl's, and the server's when it spoke. */
static void
cause(const struct dm_imap_session *s, CURLcode rc, char *buf, size_t n)
{
	const char *said = server_said(s),
	           *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);

	if (rc == CURLE_LOGIN_DENIED && strstr(s->errbuf, "Select") != NULL)
		snprintf(buf, n, "cannot open folder %s: %s", s->folder,
		    said[0] ? said : why);
	else if (rc == CURLE_LOGIN_DENIED)
		snprintf(buf, n, "login denied for %s: %s", s->user,
		    said[0] ? said : why);
	else if (rc == CURLE_USE_SSL_FAILED)
		snprintf(buf, n,
		    "the server offers no STARTTLS, which imap:// needs (use "
		    "imaps://)");
	else if (server_error(rc) == 2)
		snprintf(buf, n, "TLS: %s", why);
	else
		snprintf(buf, n, "%s", said[0] ? said : why);
}

static int
curl_failed(struct dm_imap_session *s, CURLcode rc, const char *what,
    struct dm_error *err)
{
	char why[512];

	cause(s, rc, why, sizeof(why));
	if (rc == CURLE_OUT_OF_MEMORY)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	dm_error_setr(err, DM_EIO, server_error(rc) ? "server" : "io",
	    "%s: %s: %s", s->name, what, why);
	scrub(s, err);
	return DM_EIO;
}

/*
 * libcurl URL-decodes a custom request (%XX): a '%' of ours, as in a folder
 * name, must reach the server as it is.
 */
static char *
escape_percent(const char *cmd)
{
	struct dm_buf b;
	const char *p;

	dm_buf_init(&b, DM_IMAP_TEXT_MAX);
	for (p = cmd; *p != '\0'; p++) {
		if (dm_buf_add(&b, *p == '%' ? "%25" : p, *p == '%' ? 3 : 1) !=
		    DM_OK) {
			dm_buf_free(&b);
			return NULL;
		}
	}
	return dm_buf_take(&b);
}

static int
perform(struct dm_imap_session *s, const char *url, const char *custom,
    const char *what, struct dm_error *err)
{
	CURLcode rc;

	s->errbuf[0] = s->last[0] = '\0';
	s->cb_failed = 0;
	dm_buf_reset(&s->partial);
	if (curl_easy_setopt(s->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, custom) !=
	        CURLE_OK)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	s->rc = rc = curl_easy_perform(s->curl);
	if (s->cb_failed) {
		*err = s->cb_err;
		return err->code;
	}
	if (rc != CURLE_OK)
		return curl_failed(s, rc, what, err);
	return DM_OK;
}

/* The folder's URL, with its UIDVALIDITY for libcurl to check when v is not
 * 0, and a tail. */
static char *
folder_url(const struct dm_imap_session *s, uint64_t v, const char *tail)
{
	struct dm_buf b;

	dm_buf_init(&b, DM_IMAP_TEXT_MAX);
	if (dm_buf_adds(&b, s->folder_url) != DM_OK ||
	    (v != 0 && dm_buf_addf(&b, ";UIDVALIDITY=%llu",
	                   (unsigned long long)v) != DM_OK) ||
	    dm_buf_adds(&b, tail) != DM_OK) {
		dm_buf_free(&b);
		return NULL;
	}
	return dm_buf_take(&b);
}

int
dm_imap_command(struct dm_imap_session *s, int in_folder, uint64_t uidvalidity,
    const char *cmd, const char *what, dm_imap_line_fn line, void *ctx,
    struct dm_error *err)
{
	char *url = in_folder ? folder_url(s, uidvalidity, "") : NULL,
	     *custom = escape_percent(cmd);
	int rc;

	if ((in_folder && url == NULL) || custom == NULL)
		rc = dm_error_set(err, DM_ENOMEM, "out of memory");
	else {
		s->line = line;
		s->data = NULL;
		s->ctx = ctx;
		rc = perform(
		    s, in_folder ? url : s->base_url, custom, what, err);
	}
	dm_free(url);
	dm_free(custom);
	return rc;
}

int
dm_imap_fetch(struct dm_imap_session *s, uint64_t uidvalidity, uint64_t uid,
    dm_imap_data_fn data, void *ctx, struct dm_error *err)
{
	char tail[48], what[48];
	char *url;
	int rc;

	snprintf(tail, sizeof(tail), "/;UID=%llu", (unsigned long long)uid);
	snprintf(
	    what, sizeof(what), "fetching UID %llu", (unsigned long long)uid);
	if ((url = folder_url(s, uidvalidity, tail)) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	s->line = NULL;
	s->data = data;
	s->ctx = ctx;
	rc = perform(s, url, NULL, what, err);
	dm_free(url);
	if (rc == DM_EIO && s->rc == CURLE_REMOTE_FILE_NOT_FOUND)
		return DM_DONE;
	return rc;
}

int
dm_imap_quote(char *buf, size_t n, const char *name, struct dm_error *err)
{
	size_t o = 0;
	const char *p;

	for (p = name; *p != '\0' && o + 4 < n; p++) {
		if (*p == '\r' || *p == '\n')
			return dm_error_set(err, DM_EINVAL,
			    "a line break in folder name %s", name);
		if (o == 0)
			buf[o++] = '"';
		if (*p == '"' || *p == '\\')
			buf[o++] = '\\';
		buf[o++] = *p;
	}
	if (*p != '\0' || name[0] == '\0')
		return dm_error_set(err, DM_EINVAL,
		    "folder name too long or empty: %.64s", name);
	buf[o++] = '"';
	buf[o] = '\0';
	return DM_OK;
}

void
dm_imap_close(struct dm_imap_session *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->curl);
	wipe(s->secret);
	dm_free(s->secret);
	dm_free(s->name);
	dm_free(s->folder);
	dm_free(s->folder_url);
	dm_free(s->base_url);
	dm_free(s->user);
	dm_free(s->options);
	dm_buf_free(&s->partial);
	dm_free(s);
}
