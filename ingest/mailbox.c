/*
 * mailbox.c - PLACEHOLDER until the mail helper lands: mail sources are reported as problems.
 * Replaced by the GMime implementation (issue 4).
 */
#include <string.h>

#include "ingest_int.h"

static int
unsupported(struct dm_walk *w, const char *path, struct dm_error *err)
{
	struct dm_error e;
	struct dm_unit u;

	memset(&u, 0, sizeof(u));
	u.path = path;
	dm_error_setr(&e, DM_EFORMAT, "mail_unsupported", "mail input not supported yet");
	return dm_walk_problem(w, &u, NULL, &e, err);
}

int
dm_walk_mail_file(struct dm_walk *w, const char *path, const unsigned char *head, size_t n,
    struct dm_error *err)
{
	(void)head;
	(void)n;
	return unsupported(w, path, err);
}

int
dm_walk_mail_memory(struct dm_walk *w, const char *path, const void *bytes, size_t len,
    struct dm_error *err)
{
	(void)bytes;
	(void)len;
	return unsupported(w, path, err);
}

int
dm_is_maildir(const char *dir)
{
	(void)dir;
	return 0;
}

int
dm_walk_maildir(struct dm_walk *w, const char *dir, struct dm_error *err)
{
	return unsupported(w, dir, err);
}
