/*
 * check_ingest_imap.c - what an IMAP input does before it talks to a server:
 * the URL (the folder's name and key, what is refused, a password never
 * echoed), the credentials files, folder-name quoting, and a server that
 * cannot be reached.  A real Dovecot runs in tests/cli/test_imap.py.  Linked
 * into check_ingest (see imap_tcase()).
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap_int.h"
#include "ingest.h"

/* Opens url with o; returns the session (or NULL, with e set). */
static struct dm_imap_session *
open_url(const char *url, const struct dm_imap_options *o, struct dm_error *e)
{
	struct dm_imap_session *s = NULL;

	dm_error_clear(e);
	if (dm_imap_open(&s, url, o, e) != DM_OK)
		return NULL;
	return s;
}

static const struct dm_imap_options with_password = {.password = "hunter2"};

START_TEST(test_imap_url_names_the_folder)
{
	struct dm_imap_session *s;
	struct dm_error e;

	s = open_url("imaps://reports%40example.com@IMAP.Example.COM/inbox",
	    &with_password, &e);
	ck_assert_msg(s != NULL, "%s", e.msg);
	ck_assert_str_eq(dm_imap_name(s),
	    "imaps://reports%40example.com@imap.example.com:993/INBOX");
	ck_assert_str_eq(dm_imap_folder(s), "INBOX");
	dm_imap_close(s);

	/* no folder: INBOX; imap:// on its own port; a hierarchy; a '%' */
	s = open_url("imap://u@h", &with_password, &e);
	ck_assert_msg(s != NULL, "%s", e.msg);
	ck_assert_str_eq(dm_imap_name(s), "imap://u@h:143/INBOX");
	dm_imap_close(s);
	s = open_url(
	    "imaps://u@h:10993/Reports/DMARC%20100%25/", &with_password, &e);
	ck_assert_msg(s != NULL, "%s", e.msg);
	ck_assert_str_eq(dm_imap_folder(s), "Reports/DMARC 100%");
	ck_assert_str_eq(
	    dm_imap_name(s), "imaps://u@h:10993/Reports/DMARC%20100%25");
	dm_imap_close(s);
}
END_TEST

START_TEST(test_imap_url_refusals)
{
	static const struct {
		const char *url, *msg;
	} cases[] = {
	    {"imaps://u:hunter2@h/INBOX",
	        "imaps://h/INBOX: a password in the URL is refused: use "
	        "--password-file, --netrc or DMARCSTAT_IMAP_PASSWORD"},
	    {"imaps://h/INBOX",
	        "imaps://h/INBOX: no user: write it in the URL, as "
	        "imaps://USER@host/folder (%40 for an @ in it)"},
	    {"imaps://u@h/INBOX;UID=5",
	        "imaps://h/INBOX;UID=5: the URL must name a folder only, "
	        "without ;UID= or other parameters"},
	    {"imaps://u@h/INBOX?SUBJECT%20x",
	        "imaps://h/INBOX: the URL must name a folder only"},
	    {"imaps://u@h/A%0AB",
	        "imaps://h/A%0AB: a control character in the folder name"},
	    {"imaps://u:hunter2@[bad/INBOX",
	        "not a valid IMAP URL (imaps://user@host/folder): "
	        "imaps://[bad/INBOX"},
	};
	struct dm_error e;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_ptr_null(open_url(cases[i].url, &with_password, &e));
		ck_assert_int_eq(e.code, DM_EINVAL);
		ck_assert_str_eq(e.msg, cases[i].msg);
	}
}
END_TEST

/* A password given in a malformed URL never shows: only what precedes it. */
START_TEST(test_imap_bad_url_hides_password)
{
	struct dm_error e;

	ck_assert_ptr_null(
	    open_url("imaps://u:hunter2@h:99999/INBOX", &with_password, &e));
	ck_assert_ptr_null(strstr(e.msg, "hunter2"));
}
END_TEST

START_TEST(test_imap_plaintext_only_to_loopback)
{
	struct dm_imap_options o = {.password = "p", .insecure_plaintext = 1};
	struct dm_imap_session *s;
	struct dm_error e;

	ck_assert_ptr_null(open_url("imap://u@192.0.2.1/INBOX", &o, &e));
	ck_assert_str_eq(e.msg,
	    "imap://192.0.2.1/INBOX: --insecure-plaintext is only for a test "
	    "server on this machine (127.0.0.1, ::1, localhost)");
	/* a name is not an address */
	ck_assert_ptr_null(open_url("imap://u@127.example.com/INBOX", &o, &e));
	ck_assert_int_eq(e.code, DM_EINVAL);
	s = open_url("imap://u@[::1]:10143/INBOX", &o, &e);
	ck_assert_msg(s != NULL, "%s", e.msg);
	dm_imap_close(s);
	s = open_url("imap://u@127.0.0.1:10143/INBOX", &o, &e);
	ck_assert_msg(s != NULL, "%s", e.msg);
	dm_imap_close(s);
}
END_TEST

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_imap_credentials)
{
	char dir[] = "/tmp/dmimapXXXXXX", pw[64], tok[64], expect[256];
	struct dm_imap_options o = {0};
	struct dm_imap_session *s;
	struct dm_error e;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	ck_assert_ptr_null(open_url("imaps://u@h/INBOX", &o, &e));
	ck_assert_str_eq(e.msg,
	    "imaps://u@h:993/INBOX: no password: use --password-file, "
	    "--netrc, DMARCSTAT_IMAP_PASSWORD or --oauth2-token-file");
	/* a password file others may read is no secret */
	write_file(pw, "hunter2\n", 0644);
	o.password_file = pw;
	ck_assert_ptr_null(open_url("imaps://u@h/INBOX", &o, &e));
	snprintf(expect, sizeof(expect),
	    "imaps://u@h:993/INBOX: the password file %s must be a file only "
	    "its owner can read (chmod 600 %s)",
	    pw, pw);
	ck_assert_str_eq(e.msg, expect);
	ck_assert_int_eq(chmod(pw, 0600), 0);
	s = open_url("imaps://u@h/INBOX", &o, &e);
	ck_assert_msg(s != NULL, "%s", e.msg);
	dm_imap_close(s);
	/* an empty token file; a missing one */
	write_file(tok, "\n", 0600);
	o.oauth2_token_file = tok;
	ck_assert_ptr_null(open_url("imaps://u@h/INBOX", &o, &e));
	snprintf(expect, sizeof(expect),
	    "imaps://u@h:993/INBOX: the OAuth 2.0 token file %s is empty", tok);
	ck_assert_str_eq(e.msg, expect);
	unlink(tok);
	ck_assert_ptr_null(open_url("imaps://u@h/INBOX", &o, &e));
	snprintf(expect, sizeof(expect),
	    "imaps://u@h:993/INBOX: cannot read the OAuth 2.0 token file %s: "
	    "No such file or directory",
	    tok);
	ck_assert_str_eq(e.msg, expect);
	unlink(pw);
	rmdir(dir);
}
END_TEST

START_TEST(test_imap_quote)
{
	char buf[32];
	struct dm_error e;

	ck_assert_int_eq(dm_imap_quote(buf, sizeof(buf), "Done", &e), DM_OK);
	ck_assert_str_eq(buf, "\"Done\"");
	ck_assert_int_eq(
	    dm_imap_quote(buf, sizeof(buf), "a \"b\" \\c", &e), DM_OK);
	ck_assert_str_eq(buf, "\"a \\\"b\\\" \\\\c\"");
	ck_assert_int_eq(
	    dm_imap_quote(buf, sizeof(buf), "a\r\nb", &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "a line break in folder name a  b");
	ck_assert_int_eq(dm_imap_quote(buf, 8, "Processed", &e), DM_EINVAL);
	ck_assert_str_eq(e.msg, "folder name too long or empty: Processed");
	ck_assert_int_eq(dm_imap_quote(buf, sizeof(buf), "", &e), DM_EINVAL);
}
END_TEST

/* A port on loopback that nobody listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/*
 * Walks an IMAP folder on a closed port of loopback with o; fills expect with
 * how its message must start, failed written where libcurl says "Failed".
 */
static int
walk_nowhere(const struct dm_imap_options *o, const char *failed, char *expect,
    size_t n, struct dm_error *e)
{
	struct dm_walk_options opt = {.imap = o};
	struct dm_walk_ops ops = {0};
	char url[64];
	int port = closed_port();

	snprintf(url, sizeof(url), "imaps://u@127.0.0.1:%d/INBOX", port);
	snprintf(expect, n,
	    "%s: reading the folder: %s to connect to 127.0.0.1 port %d", url,
	    failed, port);
	return dm_ingest_walk(url, NULL, &opt, &ops, e);
}

START_TEST(test_imap_unreachable_server)
{
	char expect[256];
	struct dm_error e;

	ck_assert_int_eq(
	    walk_nowhere(&with_password, "Failed", expect, sizeof(expect), &e),
	    DM_EIO);
	ck_assert_str_eq(e.reason, "server");
	ck_assert_msg(strncmp(e.msg, expect, strlen(expect)) == 0, "%s", e.msg);
}
END_TEST

/* A password that appears in a message is cut out, even a short one. */
START_TEST(test_imap_messages_never_hold_the_password)
{
	struct dm_imap_options o = {.password = "Failed"};
	char expect[256];
	struct dm_error e;

	ck_assert_int_eq(
	    walk_nowhere(&o, "***", expect, sizeof(expect), &e), DM_EIO);
	ck_assert_msg(strncmp(e.msg, expect, strlen(expect)) == 0, "%s", e.msg);
	o.password = "*";
	ck_assert_int_eq(
	    walk_nowhere(&o, "Failed", expect, sizeof(expect), &e), DM_EIO);
	ck_assert_msg(strncmp(e.msg, expect, strlen(expect)) == 0, "%s", e.msg);
	o.password = "1";
	ck_assert_int_eq(
	    walk_nowhere(&o, "Failed", expect, sizeof(expect), &e), DM_EIO);
	ck_assert_ptr_null(strchr(e.msg, '1'));
	ck_assert_ptr_nonnull(strstr(e.msg, "***27.0.0.***:"));
}
END_TEST

TCase *imap_tcase(void);

TCase *
imap_tcase(void)
{
	TCase *tc = tcase_create("tc_imap");

	tcase_add_test(tc, test_imap_url_names_the_folder);
	tcase_add_test(tc, test_imap_url_refusals);
	tcase_add_test(tc, test_imap_bad_url_hides_password);
	tcase_add_test(tc, test_imap_plaintext_only_to_loopback);
	tcase_add_test(tc, test_imap_credentials);
	tcase_add_test(tc, test_imap_quote);
	tcase_add_test(tc, test_imap_unreachable_server);
	tcase_add_test(tc, test_imap_messages_never_hold_the_password);
	return tc;
}
