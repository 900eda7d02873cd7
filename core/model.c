/* model.c - names of the fix-ups; they are stored in databases, so they never
 * change. */
#include "model.h"

static const char *const fixup_names[DM_FIXUP_COUNT] = {
    [DM_FIXUP_BOM] = "bom",
    [DM_FIXUP_LEADING_SPACE] = "leading_whitespace",
    [DM_FIXUP_TIMESTAMP_MS] = "timestamp_ms",
    [DM_FIXUP_DATE_INVALID] = "date_invalid",
    [DM_FIXUP_RESULT_CASE] = "result_case",
    [DM_FIXUP_SPF_HARDFAIL] = "spf_hardfail",
    [DM_FIXUP_EMPTY_SP] = "empty_sp",
    [DM_FIXUP_REASON_TEXT_ONLY] = "reason_text_only",
    [DM_FIXUP_LEGACY_NP] = "legacy_np",
    [DM_FIXUP_COUNT_DECIMAL] = "count_decimal",
    [DM_FIXUP_COUNT_INVALID] = "count_invalid",
    [DM_FIXUP_CONTROL_CHARS] = "control_chars",
    [DM_FIXUP_IDENTITIES] = "identities",
    [DM_FIXUP_IP_INVALID] = "ip_invalid",
    [DM_FIXUP_IP_MAPPED] = "ip_mapped",
    [DM_FIXUP_IP_CANONICAL] = "ip_canonical",
    [DM_FIXUP_ALIGNMENT_WORD] = "alignment_word",
    [DM_FIXUP_VALUE_INVALID] = "value_invalid",
    [DM_FIXUP_PCT_INVALID] = "pct_invalid",
    [DM_FIXUP_UNKNOWN_ELEMENT] = "unknown_element",
    [DM_FIXUP_FOREIGN_NAMESPACE] = "foreign_namespace",
    [DM_FIXUP_INVALID_UTF8] = "invalid_utf8",
};

const char *
dm_fixup_name(enum dm_fixup f)
{
	if ((unsigned)f >= DM_FIXUP_COUNT)
		return NULL;
	return fixup_names[f];
}
