/*
 * json.h - JSON string escaping, shared by every writer of JSON (parse output,
 * reports), and the UTF-8 validation it rests on (which the parser uses too).
 *
 * Report contents come from strangers: everything is escaped so that any byte
 * sequence becomes a valid JSON string.  Control characters become \u00XX, '<'
 * '>' '&' and U+2028/U+2029 are escaped too (safe to embed in HTML or
 * JavaScript), and bytes that are not valid UTF-8 become U+FFFD, so that jq
 * never rejects our output.
 */
#ifndef DM_JSON_H
#define DM_JSON_H

#include <stdint.h>

#include "mem.h"

/*
 * Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not valid
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).  s must
 * be NUL-terminated, so a truncated sequence stops at the NUL.
 */
size_t dm_utf8_len(const unsigned char *s);

/*
 * The same over the avail bytes at s (avail >= 1), for a stream read in
 * chunks: -1 when those bytes begin a sequence that needs more of them.
 */
int dm_utf8_seq(const unsigned char *s, size_t avail);

/* Appends s as a quoted JSON string, or null when s is NULL.  DM_OK, DM_ENOMEM
 * or DM_ELIMIT. */
int dm_json_str(struct dm_buf *b, const char *s);

/* Appends "key": before a value (key is trusted: it is ours, not escaped). */
int dm_json_key(struct dm_buf *b, const char *key);

/* Appends an integer, or null when v == null_value. */
int dm_json_int(struct dm_buf *b, int64_t v, int64_t null_value);

#endif /* DM_JSON_H */
