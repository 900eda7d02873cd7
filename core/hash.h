/*
 * hash.h - FNV-1a over a NUL-terminated string: the hash of the project's small
 * open-addressing tables (report/build.c's string map, sql/rollup.c's sums per
 * header_from).  Not for anything an attacker could aim at a table larger than
 * the caps allow; those tables are bounded.
 */
#ifndef DM_HASH_H
#define DM_HASH_H

#include <stdint.h>

static inline uint64_t
dm_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

#endif /* DM_HASH_H */
