/*
 * mail.c - one RFC 5322 message built with GMime, and sendmail run with it
 * on its standard input.
 *
 * Nothing here writes MIME by hand: GMime chooses each body's transfer
 * encoding (7bit, quoted-printable or base64 by its content), writes the
 * boundaries, folds the headers and encodes non-ASCII words (RFC 2047).  The
 * attachment is always base64: its bytes (a CSV's CRLF line ends) must come
 * out of the mail exactly as they went in.
 *
 * It does not deliver mail itself (no SMTP): the local MTA's sendmail does,
 * which knows the relays, queues and retries.
 */
#include "mail.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "i18n.h"

/* The longest address list we split (a command line's). */
#define MAX_ADDRESSES 100

extern char **environ;

/* GMime's global tables: g_mime_init() counts its calls and sets them up
 * once, and they are never torn down (GMime's own rule).  Mails are built
 * on one thread; ingest/ sets GMime up on its own for its threads. */
static void
init_gmime(void)
{
	g_mime_init();
}

/* ---- Addresses ---- */

/* A domain of dot-separated labels of letters, digits and hyphens (bytes
 * over 127 allowed: an internationalised name in UTF-8). */
static int
domain_ok(const char *d)
{
	size_t label = 0;

	if (*d == '\0' || *d == '.')
		return 0;
	for (; *d != '\0'; d++) {
		unsigned char c = (unsigned char)*d;

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (c >= 0x80 || c == '-' || (c >= '0' && c <= '9') ||
		           ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
			label++;
		else
			return 0;
		if (label > 63)
			return 0;
	}
	return label > 0;
}

/* local@domain: a local part with no space or control character. */
static int
addr_ok(const char *a)
{
	const char *at = strrchr(a, '@');
	const char *p;

	if (at == NULL || at == a)
		return 0;
	for (p = a; p < at; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == ',' || *p == '\x7f')
			return 0;
	return domain_ok(at + 1);
}

/* One address as GMime reads it: exactly one mailbox, of a valid address. */
static int
one_address_ok(const char *s)
{
	InternetAddressList *l = internet_address_list_parse(NULL, s);
	InternetAddress *ia;
	int ok = 0;

	if (l == NULL)
		return 0;
	if (internet_address_list_length(l) == 1) {
		ia = internet_address_list_get_address(l, 0);
		ok = INTERNET_ADDRESS_IS_MAILBOX(ia) &&
		     addr_ok(internet_address_mailbox_get_addr(
		         INTERNET_ADDRESS_MAILBOX(ia)));
	}
	g_object_unref(l);
	return ok;
}

/* The next address of a list: up to a comma outside double quotes.  Its
 * length; *next is past the comma. */
static size_t
next_address(const char *s, const char **next)
{
	size_t i;
	int quoted = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (s[i] == '\\' && quoted && s[i + 1] != '\0')
			i++;
		else if (s[i] == ',' && !quoted)
			break;
	}
	*next = s[i] == ',' ? s + i + 1 : s + i;
	return i;
}

static int
blank(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	return n == 0;
}

int
dm_mail_check_addresses(
    const char *list, const char *what, struct dm_error *err)
{
	const char *s = list, *next;
	size_t n, count = 0;
	char *one;
	int ok;

	init_gmime();
	do {
		n = next_address(s, &next);
		if (blank(s, n))
			return dm_error_set(err, DM_EINVAL,
			    _("%s wants mail addresses separated by commas: "
			      "\"%s\" has an empty one"),
			    what, list);
		if (++count > MAX_ADDRESSES)
			return dm_error_set(err, DM_EINVAL,
			    _("%s: more than %d addresses"), what,
			    MAX_ADDRESSES);
		if ((one = dm_strndup(s, n)) == NULL)
			return dm_error_set(err, DM_ENOMEM, _("out of memory"));
		if (!(ok = one_address_ok(one)))
			dm_error_set(err, DM_EINVAL,
			    _("%s: not a mail address: \"%s\" (want "
			      "local@domain "
			      "or \"Name <local@domain>\")"),
			    what, one);
		dm_free(one);
		if (!ok)
			return DM_EINVAL;
		s = next;
	} while (*s != '\0' || s[-1] == ',');
	return DM_OK;
}

/* ---- The message ---- */

/* A part holding body as type/subtype, the encoding GMime finds best (or
 * base64). */
static GMimePart *
new_part(const struct dm_mail_body *body, const char *type, const char *subtype,
    int base64)
{
	GMimeStream *st =
	    g_mime_stream_mem_new_with_buffer(body->data, body->len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(
	    st, GMIME_CONTENT_ENCODING_DEFAULT);
	GMimePart *p = g_mime_part_new_with_type(type, subtype);

	g_mime_part_set_content(p, w);
	g_object_unref(w);
	g_object_unref(st);
	g_mime_part_set_content_encoding(
	    p, base64 ? GMIME_CONTENT_ENCODING_BASE64
	              : g_mime_part_get_best_content_encoding(
	                    p, GMIME_ENCODING_CONSTRAINT_7BIT));
	return p;
}

static GMimeObject *
text_part(const struct dm_mail_body *body, const char *subtype)
{
	GMimePart *p = new_part(body, "text", subtype, 0);

	g_mime_object_set_content_type_parameter(
	    GMIME_OBJECT(p), "charset", "utf-8");
	return GMIME_OBJECT(p);
}

/* text alone, or multipart/alternative{text, html}, in a mixed with the
 * attachment when there is one. */
static GMimeObject *
new_body(const struct dm_mail *m)
{
	GMimeObject *top = text_part(&m->text, "plain"), *o;
	GMimeMultipart *mp;
	GMimePart *a;

	if (m->html.data != NULL) {
		mp = g_mime_multipart_new_with_subtype("alternative");
		g_mime_multipart_add(mp, top);
		g_object_unref(top);
		o = text_part(&m->html, "html");
		g_mime_multipart_add(mp, o);
		g_object_unref(o);
		top = GMIME_OBJECT(mp);
	}
	if (m->attach.data != NULL) {
		const char *slash = strchr(m->attach_type, '/');
		char *type =
		    g_strndup(m->attach_type, (gsize)(slash - m->attach_type));

		mp = g_mime_multipart_new_with_subtype("mixed");
		g_mime_multipart_add(mp, top);
		g_object_unref(top);
		a = new_part(&m->attach, type, slash + 1, 1);
		g_free(type);
		if (strncmp(m->attach_type, "text/", 5) == 0)
			g_mime_object_set_content_type_parameter(
			    GMIME_OBJECT(a), "charset", "utf-8");
		g_mime_part_set_filename(a, m->attach_name);
		g_mime_multipart_add(mp, GMIME_OBJECT(a));
		g_object_unref(a);
		top = GMIME_OBJECT(mp);
	}
	return top;
}

/* The host's name, for the default From and the Message-ID. */
static void
host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0 || buf[0] == '\0' ||
	    memchr(buf, '\0', size) == NULL)
		snprintf(buf, size, "localhost");
}

static void
set_headers(GMimeMessage *msg, const struct dm_mail *m, const char *from)
{
	InternetAddressList *l;
	GDateTime *d = g_date_time_new_from_unix_utc(m->date);
	char host[256];
	char *id, *subject, *p;

	l = internet_address_list_parse(NULL, from);
	internet_address_list_append(
	    g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_FROM), l);
	g_object_unref(l);
	l = internet_address_list_parse(NULL, m->to);
	internet_address_list_append(
	    g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO), l);
	g_object_unref(l);
	subject = g_strdup(m->subject != NULL ? m->subject : "");
	/* A line break would end the header: the subject is one line. */
	for (p = subject; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == '\x7f')
			*p = ' ';
	g_mime_message_set_subject(msg, subject, "utf-8");
	g_free(subject);
	g_mime_message_set_date(msg, d);
	g_date_time_unref(d);
	host_name(host, sizeof(host));
	id = g_mime_utils_generate_message_id(host);
	g_mime_message_set_message_id(msg, id);
	g_free(id);
	g_mime_object_set_header(
	    GMIME_OBJECT(msg), "MIME-Version", "1.0", NULL);
	/* RFC 3834: no vacation or other automatic reply to a report. */
	g_mime_object_set_header(
	    GMIME_OBJECT(msg), "Auto-Submitted", "auto-generated", NULL);
}

/* The default sender: dmarcstat@ the host's name. */
static int
default_from(struct dm_buf *b)
{
	char host[256];

	host_name(host, sizeof(host));
	return dm_buf_addf(b, "dmarcstat@%s", host);
}

static int
serialise(GMimeMessage *msg, struct dm_buf *out, struct dm_error *err)
{
	GMimeStream *st = g_mime_stream_mem_new();
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GByteArray *bytes;
	int rc = DM_OK;

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
	if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, st) < 0)
		rc = dm_error_set(
		    err, DM_ENOMEM, _("could not write the message"));
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(st));
	if (rc == DM_OK &&
	    (rc = dm_buf_add(out, bytes->data, bytes->len)) != DM_OK)
		dm_error_set(err, rc, _("the message does not fit in memory"));
	g_mime_format_options_free(fo);
	g_object_unref(st);
	return rc;
}

int
dm_mail_build(const struct dm_mail *m, struct dm_buf *out, struct dm_error *err)
{
	struct dm_buf from;
	GMimeMessage *msg;
	GMimeObject *body;
	int rc;

	if (m->text.data == NULL)
		return dm_error_set(err, DM_EINVAL, "a mail needs a text body");
	if (m->attach.data != NULL &&
	    (m->attach_name == NULL || m->attach_type == NULL ||
	        strchr(m->attach_type, '/') == NULL))
		return dm_error_set(err, DM_EINVAL,
		    "an attachment needs a file name and a type/subtype");
	dm_buf_init(&from, 1024);
	if ((m->from != NULL ? dm_buf_adds(&from, m->from)
	                     : default_from(&from)) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	if ((rc = dm_mail_check_addresses(from.data, "From", err)) != DM_OK ||
	    (rc = dm_mail_check_addresses(m->to, "To", err)) != DM_OK) {
		dm_buf_free(&from);
		return rc;
	}
	msg = g_mime_message_new(TRUE);
	set_headers(msg, m, from.data);
	body = new_body(m);
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);
	rc = serialise(msg, out, err);
	g_object_unref(msg);
	dm_buf_free(&from);
	return rc;
}

/* ---- sendmail ---- */

/* Writes the message to fd; send() with MSG_NOSIGNAL, so that a sendmail that
 * exits early gives EPIPE, not a SIGPIPE that would kill the caller. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
wait_child(pid_t pid, int *wstatus)
{
	while (waitpid(pid, wstatus, 0) < 0) {
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

/* Starts path -t -i with its standard input on a socket; *fd is our end. */
static int
spawn(const char *path, pid_t *pid, int *fd)
{
	char *argv[] = {(char *)(uintptr_t)path, (char *)(uintptr_t) "-t",
	    (char *)(uintptr_t) "-i", NULL};
	posix_spawn_file_actions_t fa;
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return errno;
	/* Only the child's end becomes its standard input: dup2 clears
	   close-on-exec on the copy. */
	if ((e = posix_spawn_file_actions_init(&fa)) == 0) {
		if ((e = posix_spawn_file_actions_adddup2(&fa, sv[1], 0)) == 0)
			e = posix_spawn(pid, path, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	close(sv[1]);
	if (e != 0) {
		close(sv[0]);
		return e;
	}
	*fd = sv[0];
	return 0;
}

int
dm_mail_send(const char *path, const char *msg, size_t len, int *status,
    struct dm_error *err)
{
	pid_t pid;
	int fd = -1, e, we, ws;

	/* Asked first: where exec's failure reaches posix_spawn depends on
	   the C library (and on valgrind), and the child then exits 127. */
	if (access(path, X_OK) != 0)
		e = errno;
	else
		e = spawn(path, &pid, &fd);
	if (e != 0)
		return dm_error_set(
		    err, DM_EIO, _("%s: cannot run: %s"), path, strerror(e));
	we = write_all(fd, msg, len);
	close(fd);
	if ((e = wait_child(pid, &ws)) != 0)
		return dm_error_set(err, DM_EIO,
		    _("%s: cannot wait for it: %s"), path, strerror(e));
	if (WIFSIGNALED(ws))
		return dm_error_set(err, DM_EIO,
		    _("%s -t -i was killed by signal %d"), path, WTERMSIG(ws));
	*status = WEXITSTATUS(ws);
	if (*status == 0 && we != 0)
		return dm_error_set(err, DM_EIO,
		    _("%s -t -i exited before reading the whole message: %s"),
		    path, strerror(we));
	return DM_OK;
}
