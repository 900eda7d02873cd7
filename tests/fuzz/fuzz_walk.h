/*
 * fuzz_walk.h - what fuzz_archive.c and fuzz_mail.c share: the input is walked
 * in memory by dm_ingest_walk_memory() (sniffed and unwrapped like a file) with
 * callbacks that read every payload to its end and drop it.  Included by
 * exactly one .c file per fuzz target.
 */
#ifndef DM_FUZZ_WALK_H
#define DM_FUZZ_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the payload to its end; a failing read (a truncated member, a cap) ends
 * it. */
static int
fuzz_payload(void *ctx, const struct dm_payload *p, struct dm_error *err)
{
	static char buf[65536];
	size_t *total = ctx;
	struct dm_error e;
	ssize_t n;

	(void)err;
	dm_error_clear(&e);
	*total += p->head_len + (p->member != NULL ? 1 : 0);
	while ((n = p->src.read(p->src.ctx, buf, sizeof(buf), &e)) > 0)
		*total += (size_t)n;
	return DM_OK;
}

static int
fuzz_problem(void *ctx, const struct dm_unit *u, const char *member,
    const struct dm_error *problem, struct dm_error *err)
{
	size_t *total = ctx;

	(void)u;
	(void)err;
	*total += (member != NULL ? 1 : 0) + (problem->reason != NULL ? 1 : 0);
	return DM_OK;
}

/* Walks data as the file name; caps lowered so that each run stays fast. */
static void
fuzz_walk(const char *name, const uint8_t *data, size_t size)
{
	static size_t total;
	struct dm_limits lim = dm_limits_default();
	struct dm_walk_options opt = {0};
	struct dm_walk_ops ops = {0};
	struct dm_error err;

	lim.payload_bytes = 8 * 1024 * 1024;
	lim.message_bytes = 8 * 1024 * 1024;
	ops.ctx = &total;
	ops.payload = fuzz_payload;
	ops.problem = fuzz_problem;
	dm_error_clear(&err);
	(void)dm_ingest_walk_memory(name, data, size, &lim, &opt, &ops, &err);
}

#endif /* DM_FUZZ_WALK_H */
