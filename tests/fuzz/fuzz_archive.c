/*
 * fuzz_archive.c - libFuzzer target: the container unwrapper (gzip, zip, bzip2,
 * xz, zstd, lz4 and their nesting) on arbitrary bytes, seeded with reports in
 * containers.  Every payload found is read to its end.  Built only with clang
 * and DM_FUZZ=ON; see .ci/fuzz.
 */
#include "fuzz_walk.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_walk("fuzz-input", data, size);
	return 0;
}
