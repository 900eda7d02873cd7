/*
 * mail_opts.c - the mail options of report and alerts (--mail-to,
 * --mail-from, --subject, --sendmail) and what they do with a message that
 * mail/ builds: write it out, or hand it to sendmail and pass its exit
 * status on.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "mail.h"

int
dm_cli_mail_option(
    struct dm_cli_mail *m, int c, const char *arg, int argc, char **argv)
{
	switch (c) {
	case DM_CLI_OPT_MAIL_TO:
		m->to = arg;
		return 1;
	case DM_CLI_OPT_MAIL_FROM:
		m->from = arg;
		return 1;
	case DM_CLI_OPT_SUBJECT:
		m->subject = arg;
		return 1;
	case DM_CLI_OPT_SENDMAIL:
		/* The commands that mail take no operands, so a word after
		   --sendmail that is no option can only be its path. */
		if (arg == NULL && optind < argc && argv[optind][0] != '-')
			arg = argv[optind++];
		m->sendmail = arg != NULL ? arg : DM_MAIL_SENDMAIL;
		return 1;
	default:
		return 0;
	}
}

int
dm_cli_mail_check(const struct dm_cli_mail *m)
{
	struct dm_error err;
	const char *without = m->from != NULL       ? "--mail-from"
	                      : m->subject != NULL  ? "--subject"
	                      : m->sendmail != NULL ? "--sendmail"
	                                            : NULL;

	if (m->to == NULL && without == NULL)
		return -1;
	if (m->to == NULL) {
		dm_cli_warn(_("%s goes with --mail-to ADDR"), without);
		return DM_EXIT_USAGE;
	}
	dm_error_clear(&err);
	if (dm_mail_check_addresses(m->to, "--mail-to", &err) != DM_OK ||
	    (m->from != NULL && dm_mail_check_addresses(
	                            m->from, "--mail-from", &err) != DM_OK)) {
		dm_cli_warn("%s", err.msg);
		return DM_EXIT_USAGE;
	}
	if (m->sendmail != NULL && m->sendmail[0] == '\0') {
		dm_cli_warn(
		    _("--sendmail wants the path of a sendmail program"));
		return DM_EXIT_USAGE;
	}
	return DM_EXIT_OK;
}

/* sendmail's verdict, said when it is not success. */
static int
run_sendmail(const struct dm_cli_mail *m, const struct dm_buf *b)
{
	struct dm_error err;
	int status;

	dm_error_clear(&err);
	if (dm_mail_send(m->sendmail, b->data, b->len, &status, &err) !=
	    DM_OK) {
		dm_cli_warn(_("%s (the mail was not sent)"), err.msg);
		return DM_EXIT_PARTIAL;
	}
	if (status != 0)
		dm_cli_warn(_("%s -t -i exited with status %d: the mail may "
		              "not have been sent"),
		    m->sendmail, status);
	return status;
}

int
dm_cli_mail_deliver(const struct dm_cli_mail *m, struct dm_mail *msg, FILE *out)
{
	struct dm_error err;
	struct dm_buf b;
	int rc;

	msg->to = m->to;
	msg->from = m->from;
	if (m->subject != NULL)
		msg->subject = m->subject;
	dm_buf_init(&b, (size_t)1 << 30);
	dm_error_clear(&err);
	if (dm_mail_build(msg, &b, &err) != DM_OK) {
		dm_cli_warn(_("cannot build the mail: %s"), err.msg);
		dm_buf_free(&b);
		return DM_EXIT_PARTIAL;
	}
	if (m->sendmail != NULL)
		rc = run_sendmail(m, &b);
	else
		rc = fwrite(b.data, 1, b.len, out) == b.len ? DM_EXIT_OK
		                                            : DM_EXIT_PARTIAL;
	dm_buf_free(&b);
	return rc;
}
