/* sha256.c - the SHA-256 of sha256.h, through nettle. */
#include "sha256.h"

#include <nettle/sha2.h>

_Static_assert(
    sizeof(struct sha256_ctx) <= sizeof(((struct dm_sha256 *)0)->state),
    "nettle's SHA-256 state must fit struct dm_sha256");
_Static_assert(_Alignof(struct sha256_ctx) <= _Alignof(uint64_t),
    "nettle's SHA-256 state must be aligned by struct dm_sha256");

static struct sha256_ctx *
ctx(struct dm_sha256 *c)
{
	return (struct sha256_ctx *)(void *)c->state.bytes;
}

void
dm_sha256_init(struct dm_sha256 *c)
{
	sha256_init(ctx(c));
}

void
dm_sha256_update(struct dm_sha256 *c, const void *p, size_t n)
{
	sha256_update(ctx(c), n, p);
}

void
dm_sha256_final_hex(struct dm_sha256 *c, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t d[SHA256_DIGEST_SIZE];
	int i;

	sha256_digest(ctx(c), sizeof(d), d);
	for (i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
}
