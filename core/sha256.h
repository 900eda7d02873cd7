/*
 * sha256.h - SHA-256 (FIPS 180-4), used to recognise inputs already processed
 * and to tell two reports with the same identity but different content apart.
 *
 * Every byte of every input is hashed before it is read, so the hash must be
 * fast: nettle (which libarchive already links) uses the CPU's SHA extensions
 * where there are some, seven times the speed of portable C on the machines
 * we measured (bench/README.md).  The state is kept opaque here so that only
 * sha256.c sees nettle's header.
 */
#ifndef DM_SHA256_H
#define DM_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct dm_sha256 {
	union {
		uint64_t align;
		unsigned char bytes[128];
	} state;
};

void dm_sha256_init(struct dm_sha256 *c);
void dm_sha256_update(struct dm_sha256 *c, const void *p, size_t n);
/* Writes 64 lower-case hex digits and a NUL to hex. */
void dm_sha256_final_hex(struct dm_sha256 *c, char hex[65]);

#endif /* DM_SHA256_H */
