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

#define DM_HASH_INIT 1469598103934665603ULL

/* h carried on over the bytes of s: several strings hashed as one. */
static inline uint64_t
dm_hash_add(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static inline uint64_t
dm_hash_str(const char *s)
{
	return dm_hash_add(DM_HASH_INIT, s);
}

#endif /* DM_HASH_H */
