/*
 * buckets.c - the calendar buckets of rollup_failing_month and
 * rollup_failing_week (schema.sql), and a period split into them.
 *
 * The store files a day's failing evidence under its calendar month and its
 * ISO week (rollup.c); a report reads a period as the whole months inside
 * it, then the whole weeks inside what is left, then the days at its ragged
 * ends (query.c), so that each day is read exactly once.  Days are UTC day
 * starts (Unix seconds); a bucket is named by its first day.
 */
#include "query.h"
#include "store_int.h"

#include "model.h"

/* Whole days since 1970-01-01 of day, rounded down for days before it. */
static int64_t
days_of(int64_t day)
{
	return day >= 0 ? day / DM_DAY_SECONDS
	                : -((-day + DM_DAY_SECONDS - 1) / DM_DAY_SECONDS);
}

/* The month from the days since 1970 (H. Hinnant's civil_from_days), which
 * cannot fail as gmtime_r can; as SQLite's 'start of month'. */
int64_t
dm_sql_month_start(int64_t day)
{
	int64_t z = days_of(day) + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return (days_of(day) - (doy - (153 * mp + 2) / 5)) * DM_DAY_SECONDS;
}

/* 1970-01-01 was a Thursday: three days after a Monday. */
int64_t
dm_sql_week_start(int64_t day)
{
	int64_t d = days_of(day), dow = ((d + 3) % 7 + 7) % 7;

	return (d - dow) * DM_DAY_SECONDS;
}

/* The first bucket start at or after day (start: the bucket's start of a
 * day; next: the start of the bucket after the one starting at s). */
static int64_t
first_month_from(int64_t day)
{
	int64_t s = dm_sql_month_start(day);

	/* A month has at most 31 days: 31 days on is in the next one. */
	return s == day ? s : dm_sql_month_start(s + 31 * DM_DAY_SECONDS);
}

static int64_t
first_week_from(int64_t day)
{
	int64_t s = dm_sql_week_start(day);

	return s == day ? s : s + 7 * DM_DAY_SECONDS;
}

static void
add(struct dm_query_segment *seg, size_t *n, enum dm_query_unit unit,
    int64_t from, int64_t to)
{
	if (from >= to)
		return;
	seg[*n].unit = unit;
	seg[*n].from = from;
	seg[*n].to = to;
	(*n)++;
}

/* [from, to) with no whole month: its whole weeks, days at either end. */
static void
split_weeks(struct dm_query_segment *seg, size_t *n, int64_t from, int64_t to)
{
	int64_t w0 = first_week_from(from), w1 = dm_sql_week_start(to);

	if (w0 >= w1) {
		add(seg, n, DM_QUERY_DAYS, from, to);
		return;
	}
	add(seg, n, DM_QUERY_DAYS, from, w0);
	add(seg, n, DM_QUERY_WEEKS, w0, w1);
	add(seg, n, DM_QUERY_DAYS, w1, to);
}

/* [from, to) with no whole month: its whole weeks and days, or days only. */
static void
split_rest(struct dm_query_segment *seg, size_t *n, int64_t from, int64_t to,
    int weeks)
{
	if (weeks)
		split_weeks(seg, n, from, to);
	else
		add(seg, n, DM_QUERY_DAYS, from, to);
}

static size_t
split(int64_t from, int64_t to, struct dm_query_segment *seg, int weeks)
{
	int64_t m0, m1;
	size_t n = 0;

	from = days_of(from) * DM_DAY_SECONDS;
	to = days_of(to) * DM_DAY_SECONDS;
	if (from >= to)
		return 0;
	m0 = first_month_from(from);
	m1 = dm_sql_month_start(to);
	if (m0 >= m1) {
		split_rest(seg, &n, from, to, weeks);
		return n;
	}
	split_rest(seg, &n, from, m0, weeks);
	add(seg, &n, DM_QUERY_MONTHS, m0, m1);
	split_rest(seg, &n, m1, to, weeks);
	return n;
}

size_t
dm_query_split(int64_t from, int64_t to,
    struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX])
{
	return split(from, to, seg, 1);
}

size_t
dm_query_split_months(int64_t from, int64_t to,
    struct dm_query_segment seg[DM_QUERY_SEGMENTS_MAX])
{
	return split(from, to, seg, 0);
}
