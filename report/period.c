/*
 * period.c - the buckets of a report's series: days, ISO weeks or calendar
 * months, all UTC.
 *
 * A series of a year in days is 365 bars no one can read; one of ten years
 * in weeks is 520.  The bucket follows the period's length (report_int.h):
 * days up to DM_BUCKET_DAY_MAX days, ISO weeks (Monday to Sunday) up to
 * DM_BUCKET_WEEK_MAX, calendar months beyond.  The first and last bucket are
 * cut to the period, so a bucket's sums are always those of its days in the
 * period.  Civil dates come from gmtime_r(); what is computed here is only
 * where weeks and months start, from the weekday and the day of the month.
 */
#include "report_int.h"

#include <stdio.h>
#include <time.h>

/* The UTC calendar day of t, or NULL (a time gmtime_r cannot represent). */
static struct tm *
utc_day(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;

	return gmtime_r(&tt, tm);
}

enum dm_bucket
dm_bucket_of_period(int64_t from, int64_t to)
{
	int64_t days = (to - from) / DM_DAY_SECONDS;

	return days <= DM_BUCKET_DAY_MAX    ? DM_BUCKET_DAY
	       : days <= DM_BUCKET_WEEK_MAX ? DM_BUCKET_WEEK
	                                    : DM_BUCKET_MONTH;
}

const char *
dm_bucket_name(enum dm_bucket b)
{
	return b == DM_BUCKET_DAY    ? "day"
	       : b == DM_BUCKET_WEEK ? "week"
	                             : "month";
}

int64_t
dm_bucket_start(enum dm_bucket b, int64_t day)
{
	int64_t n = day / DM_DAY_SECONDS;
	struct tm tm;

	if (b == DM_BUCKET_WEEK) {
		/* 1970-01-01 was a Thursday: day n is (n + 3) mod 7 days
		   after a Monday. */
		int64_t wd = ((n + 3) % 7 + 7) % 7;

		return (n - wd) * DM_DAY_SECONDS;
	}
	if (b == DM_BUCKET_MONTH && utc_day(day, &tm) != NULL)
		return (n - (tm.tm_mday - 1)) * DM_DAY_SECONDS;
	return n * DM_DAY_SECONDS;
}

int64_t
dm_bucket_next(enum dm_bucket b, int64_t start)
{
	start = dm_bucket_start(b, start);
	if (b == DM_BUCKET_WEEK)
		return start + 7 * DM_DAY_SECONDS;
	/* 31 days after the 1st of a month is in the next month, whatever
	   its length: that month's first day is the next bucket. */
	if (b == DM_BUCKET_MONTH)
		return dm_bucket_start(b, start + 31 * DM_DAY_SECONDS);
	return start + DM_DAY_SECONDS;
}

const char *
dm_bucket_label(enum dm_bucket b, int64_t day, char *buf, size_t size)
{
	int64_t start = dm_bucket_start(b, day);
	struct tm tm;

	if (b == DM_BUCKET_DAY)
		return dm_format_day(start, buf, size);
	/* ISO 8601: a week belongs to the year of its Thursday, and is
	   numbered from the week holding that year's first Thursday. */
	if (b == DM_BUCKET_WEEK &&
	    utc_day(start + 3 * DM_DAY_SECONDS, &tm) != NULL)
		snprintf(buf, size, "%04d-W%02d", tm.tm_year + 1900,
		    tm.tm_yday / 7 + 1);
	else if (b == DM_BUCKET_MONTH && utc_day(start, &tm) != NULL)
		snprintf(
		    buf, size, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	else
		snprintf(buf, size, "%lld", (long long)start);
	return buf;
}
