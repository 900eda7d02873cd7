/* limits.c - the default caps of limits.h as a struct a run can adjust. */
#include "limits.h"

struct dm_limits
dm_limits_default(void)
{
	struct dm_limits l = {
	    .payload_bytes = DM_MAX_PAYLOAD_BYTES,
	    .input_bytes = DM_MAX_INPUT_BYTES,
	    .compression_ratio = DM_MAX_COMPRESSION_RATIO,
	    .ratio_grace_bytes = DM_RATIO_GRACE_BYTES,
	    .archive_members = DM_MAX_ARCHIVE_MEMBERS,
	    .container_depth = DM_MAX_CONTAINER_DEPTH,
	    .xml_depth = DM_MAX_XML_DEPTH,
	    .text_bytes = DM_MAX_TEXT_BYTES,
	    .records = DM_MAX_RECORDS,
	    .record_count = DM_MAX_RECORD_COUNT,
	    .results_per_record = DM_MAX_RESULTS_PER_RECORD,
	    .message_bytes = DM_MAX_MESSAGE_BYTES,
	    .mime_parts = DM_MAX_MIME_PARTS,
	    .mime_depth = DM_MAX_MIME_DEPTH,
	    .quarantine_bytes = DM_MAX_QUARANTINE_BYTES,
	};
	return l;
}
