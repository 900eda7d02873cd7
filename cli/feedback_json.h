/*
 * feedback_json.h - the JSON Lines contract of `dmarcstat parse`: one object
 * per report.
 *
 * Records are spooled to a temporary file while the parser streams them, so a
 * million-record report costs no memory, and the object is printed only once
 * the whole document parsed: a report that fails half-way prints nothing on
 * stdout.
 */
#ifndef DM_FEEDBACK_JSON_H
#define DM_FEEDBACK_JSON_H

#include <stdio.h>

#include "mem.h"
#include "model.h"

struct dm_fbjson {
	FILE *spool;        /* records of the current report, comma-separated */
	struct dm_buf rec;  /* one record */
	struct dm_buf head; /* everything before "records", built at end() */
	struct dm_buf tail; /* everything after */
	const char *file, *member; /* borrowed for the current payload */
	int ended;
	unsigned long records;
};

void dm_fbjson_init(struct dm_fbjson *j);
/* Starts a payload; file and member are borrowed until dm_fbjson_emit. */
int dm_fbjson_begin(struct dm_fbjson *j, const char *file, const char *member);
struct dm_sink dm_fbjson_sink(struct dm_fbjson *j);
/* Writes the finished report as one line to out; DM_EIO on write failure. */
int dm_fbjson_emit(struct dm_fbjson *j, FILE *out, struct dm_error *err);
void dm_fbjson_free(struct dm_fbjson *j);

#endif
