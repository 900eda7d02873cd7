/*
 * fuzz_mail.c - libFuzzer target: the mail walker (MIME parts, encodings,
 * nested message/rfc822, mboxes) on arbitrary bytes, seeded with report mails,
 * so that mutations stay mail-shaped. Every payload found is read to its end.
 * Built only with clang and DM_FUZZ=ON; see .ci/fuzz.
 */
#include "fuzz_walk.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_walk("fuzz-input.eml", data, size);
	return 0;
}
