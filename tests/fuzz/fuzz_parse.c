/*
 * fuzz_parse.c - libFuzzer target: the XML parser on arbitrary bytes.
 *
 * The input is one payload, served by a memory dm_source in small, uneven
 * chunks (as containers deliver them), to dm_parse_run() with a sink that reads
 * every field of every record and discards it.  Built only with clang and
 * DM_FUZZ=ON; see .ci/fuzz.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *data;
	size_t size, off;
};

/* Chunks of 1 to 4096 bytes, varying with the offset, to cross every buffer
 * boundary. */
static ssize_t
mem_read(void *ctx, void *buf, size_t len, struct dm_error *err)
{
	struct mem *m = ctx;
	size_t n = m->size - m->off, step = 1 + (m->off * 7919) % 4096;

	(void)err;
	if (n > len)
		n = len;
	if (n > step)
		n = step;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* Touches every string of a record so that a dangling pointer shows under ASan.
 */
static size_t
touch(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static int
on_begin(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	(void)ctx;
	(void)fb;
	(void)err;
	return DM_OK;
}

static int
on_record(void *ctx, const struct dm_feedback *fb, const struct dm_record *rec,
    struct dm_error *err)
{
	size_t *sum = ctx, i;

	(void)fb;
	(void)err;
	*sum += touch(rec->source_ip) + touch(rec->disposition) +
	        touch(rec->dkim) + touch(rec->spf) + touch(rec->header_from) +
	        touch(rec->envelope_from) + touch(rec->envelope_to) +
	        touch(rec->extensions);
	for (i = 0; i < rec->n_reasons; i++)
		*sum += touch(rec->reasons[i].type) +
		        touch(rec->reasons[i].comment);
	for (i = 0; i < rec->n_dkim; i++)
		*sum += touch(rec->dkim_results[i].domain) +
		        touch(rec->dkim_results[i].selector) +
		        touch(rec->dkim_results[i].result) +
		        touch(rec->dkim_results[i].human_result);
	for (i = 0; i < rec->n_spf; i++)
		*sum += touch(rec->spf_results[i].domain) +
		        touch(rec->spf_results[i].scope) +
		        touch(rec->spf_results[i].result) +
		        touch(rec->spf_results[i].human_result);
	return DM_OK;
}

static int
on_end(void *ctx, const struct dm_feedback *fb, struct dm_error *err)
{
	size_t *sum = ctx, i;

	(void)err;
	*sum += touch(fb->version) + touch(fb->org_name) + touch(fb->email) +
	        touch(fb->extra_contact_info) + touch(fb->report_id) +
	        touch(fb->generator) + touch(fb->policy.domain) +
	        touch(fb->policy.p) + touch(fb->policy.fo) +
	        touch(fb->extensions);
	for (i = 0; i < fb->n_errors; i++)
		*sum += touch(fb->errors[i]);
	return DM_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dm_parser *p;
	static size_t sum;
	struct dm_limits lim = dm_limits_default();
	struct dm_sink sink = {&sum, on_begin, on_record, on_end};
	struct mem m = {data, size, 0};
	struct dm_source src = {&m, mem_read};
	struct dm_error err;

	/* Lower caps keep each run fast; every cap is still exercised. */
	lim.records = 10000;
	lim.payload_bytes = 4 * 1024 * 1024;
	if (p == NULL && dm_parser_new(&p, &lim, &sink, &err) != DM_OK)
		return 0;
	dm_error_clear(&err);
	(void)dm_parse_run(p, &src, &err);
	return 0;
}
