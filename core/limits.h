/*
 * limits.h - every cap dmarcstat applies to untrusted input, in one place, each
 * with its reason.
 *
 * Every report we read was written by a stranger.  The caps keep memory and
 * time bounded whatever the input; hitting one is an error (DM_ELIMIT) whose
 * message names the cap and its value, never a silent truncation.  A run may
 * lower (or raise) them through struct dm_limits, the way sqlite3_limit()
 * works, which also lets tests use tiny values.
 */
#ifndef DM_LIMITS_H
#define DM_LIMITS_H

#include <stdint.h>

/*
 * Decompressed bytes of one payload (one XML file after gunzip/unzip).  Typical
 * reports are a few KiB to a few MiB, but a million-record report of the
 * largest senders is 300-700 MB of XML. Everything is streamed, so this cap
 * bounds time and disk, not memory; decompression bombs are stopped long before
 * it by the ratio cap below.
 */
#define DM_MAX_PAYLOAD_BYTES (1024ULL * 1024 * 1024)

/*
 * Bytes of one input file read as it is (not a mail or an mbox, which have
 * their own caps): a file that carries reports is no larger than the XML it
 * holds, itself capped above.  Checked before the file is hashed (a 4 GiB
 * sparse file was hashed for 32 s before being refused) and while it is read.
 */
#define DM_MAX_INPUT_BYTES DM_MAX_PAYLOAD_BYTES

/*
 * Decompressed-to-compressed ratio, checked once a payload passes
 * DM_RATIO_GRACE_BYTES.  DMARC XML compresses about 10-30x; repetitive
 * synthetic reports reach 200x.  1000x is a bomb.
 */
#define DM_MAX_COMPRESSION_RATIO 1000
#define DM_RATIO_GRACE_BYTES (1024 * 1024)

/* Members of one archive.  Real report zips hold one XML; a few hold a handful.
 */
#define DM_MAX_ARCHIVE_MEMBERS 1000

/* Containers inside containers (gzip in zip in gzip ...).  Real ones nest at
 * most twice. */
#define DM_MAX_CONTAINER_DEPTH 4

/* XML element depth.  A DMARC report is 5 levels deep; extensions may add a
 * few. */
#define DM_MAX_XML_DEPTH 64

/*
 * Bytes of one text value (an element's text, or one extension's raw XML).  The
 * longest real values are human_result comments and extensions, well under 1
 * KiB.
 */
#define DM_MAX_TEXT_BYTES (64 * 1024)

/* Records in one report: a million covers the largest senders' daily reports.
 */
#define DM_MAX_RECORDS 2000000

/*
 * Messages of one record (<count>).  The whole world sends a few hundred
 * billion mails a day; no reporter sees 2^40 (1.1 trillion) messages from one
 * IP in one report.  A larger count is forged or broken and is read like a
 * count that is not a number (fix-up count_invalid, stored as NULL), so that a
 * forged report cannot make the totals absurd.  It also keeps sums far from
 * overflowing: a report of DM_MAX_RECORDS such records sums to 2^61.
 */
#define DM_MAX_RECORD_COUNT (1ULL << 40)

/* Auth results (DKIM + SPF) and override reasons in one record: real ones hold
 * a few. */
#define DM_MAX_RESULTS_PER_RECORD 100

/* Bytes of one mail message (mbox entry, Maildir file, stdin mail).  Report
 * mails are < 10 MiB. */
#define DM_MAX_MESSAGE_BYTES (100ULL * 1024 * 1024)

/* MIME parts in one message and message/rfc822 nesting: report mails have 1-3
 * parts, depth 2. */
#define DM_MAX_MIME_PARTS 1000
#define DM_MAX_MIME_DEPTH 10

/*
 * Bytes of an input kept in the quarantine table (compressed).  Enough to
 * re-process any real report; a larger input is kept truncated, and its record
 * says so.
 */
#define DM_MAX_QUARANTINE_BYTES (16ULL * 1024 * 1024)

/* The caps in force for one run.  Fill with dm_limits_default(), then lower
 * what you need. */
struct dm_limits {
	uint64_t payload_bytes;
	uint64_t input_bytes;
	uint32_t compression_ratio;
	uint64_t ratio_grace_bytes;
	uint32_t archive_members;
	uint32_t container_depth;
	uint32_t xml_depth;
	uint32_t text_bytes;
	uint64_t records;
	uint64_t record_count;
	uint32_t results_per_record;
	uint64_t message_bytes;
	uint32_t mime_parts;
	uint32_t mime_depth;
	uint64_t quarantine_bytes;
};

/* Returns the defaults above. */
struct dm_limits dm_limits_default(void);

/*
 * Sums of message counts never wrap: a + b for counts (a, b >= 0), or INT64_MAX
 * when that does not fit.  The cap above makes that unreachable for real data;
 * the sum of many forged reports then stays at INT64_MAX, which no reader takes
 * for a real total, instead of turning negative.
 */
static inline int64_t
dm_count_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

#endif /* DM_LIMITS_H */
