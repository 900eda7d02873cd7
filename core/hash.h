/*
 * hash.h - FNV-1a over a NUL-terminated string: the hash of the project's small
 * tables (sql/rollup.c's sums per header_from, report/pairs.c's direct-mapped
 * cache of causes).  Unseeded, so not for any table an attacker could fill
 * with chosen keys beyond the caps: a chained or probed table of addresses
 * made the report quadratic once (60,000 chosen IPv6 addresses).
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
