/*
 * verdict.c - what a payload is, in words for the user, before it reaches the
 * parser.  Shared by `parse` and `ingest` so that both describe the same input
 * the same way.
 */
#include <ctype.h>
#include <string.h>

#include "ingest.h"

/* The JSON member names RFC 8460 requires at the top of an SMTP TLS report. */
static int
looks_like_tlsrpt(const unsigned char *head, size_t n)
{
	static const char *const keys[] = {"\"organization-name\"",
	    "\"policies\"", "\"report-id\"", "\"date-range\""};
	size_t i, k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t m = strlen(keys[k]);

		for (i = 0; i + m <= n; i++) {
			if (memcmp(head + i, keys[k], m) == 0)
				return 1;
		}
	}
	return 0;
}

/* Counts the bytes of head that are printable text, to tell text from binary.
 */
static int
mostly_text(const unsigned char *head, size_t n)
{
	size_t i, text = 0;

	for (i = 0; i < n; i++) {
		if (isprint(head[i]) || isspace(head[i]) || head[i] >= 0x80)
			text++;
	}
	return n > 0 && text * 10 >= n * 9;
}

int
dm_ingest_payload_verdict(const struct dm_payload *p, struct dm_error *err)
{
	switch (p->kind) {
	case DM_PAYLOAD_XML:
		return DM_OK;
	case DM_PAYLOAD_JSON:
		if (looks_like_tlsrpt(p->head, p->head_len))
			return dm_error_setr(err, DM_ESKIP, "tls_report",
			    "not a DMARC aggregate report: SMTP TLS report "
			    "(RFC 8460)");
		return dm_error_setr(err, DM_ESKIP, "not_report",
		    "not a DMARC aggregate report: JSON data");
	case DM_PAYLOAD_EMPTY:
		return dm_error_setr(
		    err, DM_EFORMAT, "empty", "empty file (no report)");
	case DM_PAYLOAD_OTHER:
		break;
	}
	/* Text and binaries beside the reports (README files, images, CSV
	 * exports) are not broken reports: skipped, not quarantined. */
	if (mostly_text(p->head, p->head_len))
		return dm_error_setr(err, DM_ESKIP, "not_report",
		    "not a DMARC aggregate report: plain text, not XML");
	return dm_error_setr(err, DM_ESKIP, "not_report",
	    "not a DMARC aggregate report: binary data of unknown type");
}
