/*
 * sha256.h - SHA-256 (FIPS 180-4), used to recognise inputs already processed
 * and to tell two reports with the same identity but different content apart.
 * Small and dependency-free so that core/ needs only libc.
 */
#ifndef DM_SHA256_H
#define DM_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct dm_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t n;
};

void dm_sha256_init(struct dm_sha256 *c);
void dm_sha256_update(struct dm_sha256 *c, const void *p, size_t n);
/* Writes 64 lower-case hex digits and a NUL to hex. */
void dm_sha256_final_hex(struct dm_sha256 *c, char hex[65]);

#endif /* DM_SHA256_H */
