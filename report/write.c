/*
 * write.c - the entry points that pick a renderer, and the parsing of period
 * bounds.
 */
#include "report_int.h"

#include "i18n.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
dm_report_write(const struct dm_report *r, enum dm_report_format fmt,
    const char *table, int color, FILE *f, struct dm_error *err)
{
	struct out o;
	int rc;

	dm_out_init(&o);
	switch (fmt) {
	case DM_REPORT_TEXT:
		rc = dm_write_text(r, color, &o);
		break;
	case DM_REPORT_CSV:
		rc = dm_write_csv(r, table, &o, err);
		if (rc == DM_EINVAL) {
			dm_out_free(&o);
			return rc;
		}
		break;
	case DM_REPORT_JSON:
		rc = dm_write_json(r, &o);
		break;
	case DM_REPORT_HTML:
		rc = dm_write_html(r, &o);
		break;
	default:
		dm_out_free(&o);
		return dm_error_set(
		    err, DM_EINVAL, _("unknown report format %d"), (int)fmt);
	}
	(void)rc;
	rc = dm_out_flush(&o, f, err);
	dm_out_free(&o);
	return rc;
}

/* The headline figures: the overview's values for this period. */
struct headline {
	int64_t messages, quarantined, rejected, pass_permille;
};

static void
headline(const struct dm_report *r, struct headline *h)
{
	const struct section *s = &r->sec[SEC_OVERVIEW];
	size_t key = dm_section_col(s, "metric"),
	       val = dm_section_col(s, "value");
	size_t i;

	memset(h, 0, sizeof(*h));
	h->pass_permille = -1;
	for (i = 0; i < s->n_rows; i++) {
		const char *m = dm_section_cell(s, i, key)->s;
		const struct cell *c = dm_section_cell(s, i, val);

		if (c->kind == CELL_NULL)
			continue;
		if (strcmp(m, "messages") == 0)
			h->messages = c->i;
		else if (strcmp(m, "dmarc_pass_percent") == 0)
			h->pass_permille = c->i;
		else if (strcmp(m, "quarantined") == 0)
			h->quarantined = c->i;
		else if (strcmp(m, "rejected") == 0)
			h->rejected = c->i;
	}
}

/* v with a comma every three digits into buf: 22,529. */
static const char *
thousands(int64_t v, char *buf, size_t size)
{
	char d[32];
	size_t n, i, j = 0;

	n = (size_t)snprintf(d, sizeof(d), "%lld", (long long)v);
	for (i = 0; i < n && j + 2 < size; i++) {
		if (i > 0 && d[i - 1] != '-' && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = d[i];
	}
	buf[j] = '\0';
	return buf;
}

/* "22,529 messages, 75.8 % pass, 0 quarantined, 3,480 rejected" into buf. */
static const char *
figures(const struct headline *h, char *buf, size_t size)
{
	char m[32], q[32], r[32];

	if (h->messages == 0)
		snprintf(buf, size, "%s", _("no messages"));
	else
		snprintf(buf, size,
		    _("%s messages, %lld.%lld %% pass, %s quarantined, %s "
		      "rejected"),
		    thousands(h->messages, m, sizeof(m)),
		    (long long)(h->pass_permille / 10),
		    (long long)(h->pass_permille % 10),
		    thousands(h->quarantined, q, sizeof(q)),
		    thousands(h->rejected, r, sizeof(r)));
	return buf;
}

int
dm_report_subject(const struct dm_report *r, struct dm_buf *out)
{
	struct headline h;
	struct out o;
	char a[16], b[16], when[64], nums[256], at[320] = "";
	int rc;

	headline(r, &h);
	dm_format_day(r->from, a, sizeof(a));
	dm_format_day(r->to - DM_DAY_SECONDS, b, sizeof(b));
	if (strcmp(a, b) == 0)
		snprintf(when, sizeof(when), "%s", a);
	else
		snprintf(when, sizeof(when), _("%s to %s"), a, b);
	dm_out_init(&o);
	/* Domain and reporter come from the command line: made safe as any
	   text (dm_out_textf). */
	if (r->reporter != NULL)
		snprintf(at, sizeof(at), _("at %s "), r->reporter);
	dm_out_textf(&o, _("DMARC %s%s%s%s: %s"),
	    r->domain != NULL ? r->domain : "", r->domain != NULL ? " " : "",
	    at, when, figures(&h, nums, sizeof(nums)));
	if ((rc = o.rc) == DM_OK)
		rc = dm_buf_add(out, o.b.data, o.b.len);
	dm_out_free(&o);
	return rc;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H.
 * Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
parse_date(const char *s, int64_t *out)
{
	static const int mdays[] = {
	    31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long y, m, d;
	char *end;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	y = strtol(s, &end, 10);
	if (end != s + 4)
		return -1;
	m = strtol(s + 5, &end, 10);
	if (end != s + 7)
		return -1;
	d = strtol(s + 8, &end, 10);
	if (end != s + 10 || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] ||
	    (m == 2 && d == 29 &&
	        !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	*out = days_from_civil(y, m, d) * DM_DAY_SECONDS;
	return 0;
}

int
dm_report_parse_time(const char *s, int64_t *out, struct dm_error *err)
{
	long long v;
	char *end;

	if (s[0] >= '0' && s[0] <= '9' && strchr(s, '-') == NULL) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 0 &&
		    v < 253402300800LL) {
			*out = v;
			return DM_OK;
		}
	} else if (parse_date(s, out) == 0)
		return DM_OK;
	return dm_error_set(err, DM_EINVAL,
	    _("not a date (YYYY-MM-DD) or a Unix time: \"%s\""), s);
}
