/*
 * write.c - check results as text for people or JSON for scripts.
 *
 * Text: per domain a headline, then per check its status, name and subject on
 * one line, what DNS says on the next, and the fix under a wrong one.  Every
 * string from DNS (records, names) is made safe for a terminal: control
 * characters become '?' and invalid UTF-8 U+FFFD, so a TXT record cannot
 * drive the terminal of whoever reads the output.  JSON escapes everything
 * through core/json.h.
 */
#include "dns_int.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

/* Appends s with control characters and invalid UTF-8 replaced. */
static int
add_safe(struct dm_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int rc = DM_OK;

	while (*p != '\0' && rc == DM_OK) {
		size_t n = dm_utf8_len(p);

		if (n == 0) {
			rc = dm_buf_adds(b, "\xef\xbf\xbd");
			p++;
		} else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
			rc = dm_buf_adds(b, "?");
			p++;
		} else {
			rc = dm_buf_add(b, p, n);
			p += n;
		}
	}
	return rc;
}

/* "2 to fix, 1 changed" or "ok" or "DNS did not answer". */
static int
headline(struct dm_buf *b, const struct dm_check_result *r)
{
	size_t n[4] = {0, 0, 0, 0}, i;
	int rc;

	for (i = 0; i < r->n_items; i++)
		n[r->items[i].status]++;
	rc = add_safe(b, r->domain);
	if (rc == DM_OK && n[DM_CHECK_UNKNOWN] > 0)
		rc = dm_buf_addf(b, ": DNS did not answer (%zu checks unknown)",
		    n[DM_CHECK_UNKNOWN]);
	else if (rc == DM_OK && n[DM_CHECK_WRONG] > 0)
		rc = dm_buf_addf(b, ": %zu to fix", n[DM_CHECK_WRONG]);
	else if (rc == DM_OK)
		rc = dm_buf_adds(b, ": ok");
	if (rc == DM_OK && n[DM_CHECK_CHANGED] > 0)
		rc = dm_buf_addf(
		    b, ", %zu changed since the reports", n[DM_CHECK_CHANGED]);
	return rc == DM_OK ? dm_buf_adds(b, "\n") : rc;
}

static int
text_item(struct dm_buf *b, const struct dm_check_item *it)
{
	int rc = dm_buf_addf(
	    b, "  %-8s %-18s ", dm_check_status_name(it->status), it->check);

	if (rc == DM_OK && it->subject != NULL)
		rc = add_safe(b, it->subject);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, "\n           ");
	if (rc == DM_OK)
		rc = add_safe(b, it->found);
	if (rc == DM_OK && it->fix != NULL) {
		rc = dm_buf_adds(b, "\n           fix: ");
		if (rc == DM_OK)
			rc = add_safe(b, it->fix);
	}
	return rc == DM_OK ? dm_buf_adds(b, "\n") : rc;
}

static int
text_result(struct dm_buf *b, const struct dm_check_result *r)
{
	size_t i;
	int rc = headline(b, r);

	for (i = 0; i < r->n_items && rc == DM_OK; i++)
		rc = text_item(b, &r->items[i]);
	return rc;
}

/* Appends ,"key":"value" (no comma when first); value NULL gives null. */
static int
json_field(struct dm_buf *b, const char *key, const char *value, int first)
{
	int rc = first ? DM_OK : dm_buf_adds(b, ",");

	if (rc == DM_OK)
		rc = dm_json_key(b, key);
	return rc == DM_OK ? dm_json_str(b, value) : rc;
}

static int
json_item(struct dm_buf *b, const struct dm_check_item *it)
{
	int rc = dm_buf_adds(b, "{");

	if (rc == DM_OK)
		rc = json_field(b, "check", it->check, 1);
	if (rc == DM_OK)
		rc = json_field(b, "subject", it->subject, 0);
	if (rc == DM_OK)
		rc = json_field(
		    b, "status", dm_check_status_name(it->status), 0);
	if (rc == DM_OK)
		rc = json_field(b, "found", it->found, 0);
	if (rc == DM_OK)
		rc = json_field(b, "fix", it->fix, 0);
	return rc == DM_OK ? dm_buf_adds(b, "}") : rc;
}

static int
json_result(struct dm_buf *b, const struct dm_check_result *r)
{
	size_t i;
	int rc = dm_buf_adds(b, "{");

	if (rc == DM_OK)
		rc = json_field(b, "domain", r->domain, 1);
	if (rc == DM_OK)
		rc =
		    json_field(b, "status", dm_check_status_name(r->status), 0);
	if (rc == DM_OK)
		rc = dm_buf_adds(b, ",\"checks\":[");
	for (i = 0; i < r->n_items && rc == DM_OK; i++) {
		if (i > 0)
			rc = dm_buf_adds(b, ",");
		if (rc == DM_OK)
			rc = json_item(b, &r->items[i]);
	}
	return rc == DM_OK ? dm_buf_adds(b, "]}") : rc;
}

int
dm_dns_check_write(const struct dm_check_result *const *results, size_t n,
    int json, FILE *out, struct dm_error *err)
{
	struct dm_buf b;
	size_t i;
	int rc;

	dm_buf_init(&b, (size_t)1 << 26);
	rc = json ? dm_buf_adds(&b, "{\"format\":\"dmarcstat-check\","
	                            "\"version\":1,\"domains\":[")
	          : DM_OK;
	for (i = 0; i < n && rc == DM_OK; i++) {
		if (json && i > 0)
			rc = dm_buf_adds(&b, ",");
		else if (!json && i > 0)
			rc = dm_buf_adds(&b, "\n");
		if (rc == DM_OK)
			rc = json ? json_result(&b, results[i])
			          : text_result(&b, results[i]);
	}
	if (rc == DM_OK && json)
		rc = dm_buf_adds(&b, "]}\n");
	if (rc != DM_OK) {
		dm_buf_free(&b);
		return dm_error_set(
		    err, rc, "writing the checks: %s", dm_strerror(rc));
	}
	if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
		rc = dm_error_set(err, DM_EIO, "writing the checks failed");
	dm_buf_free(&b);
	return rc;
}
