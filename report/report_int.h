/*
 * report_int.h - what report/'s own files share; nothing outside report/
 * includes it.
 *
 * A built report is a list of sections, each a table of typed cells.  build.c
 * fills them from the queries; every renderer walks the same tables, so the
 * formats cannot disagree on a number and a new section appears in all of them
 * at once.
 *
 * build.c    queries -> sections          text.c  terminal tables (100 columns)
 * out.c      output buffer, text sanitising csv.c   RFC 4180
 * explain.c  `dmarcstat explain`          json.c  one JSON document
 *                                          html.c  one self-contained HTML file
 */
#ifndef DM_REPORT_INT_H
#define DM_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

enum cell_kind {
	CELL_NULL = 0, /* no value (a rate over zero messages) */
	CELL_STR,      /* text from a report or ours: always escaped */
	CELL_INT,      /* a count */
	CELL_PERMILLE, /* a rate in tenths of a percent: 973 is 97.3 % */
	CELL_DELTA,    /* a signed change of a count */
	CELL_DELTA_PM, /* a signed change of a rate, in tenths of a percentage
	                  point */
	CELL_DAY       /* a UTC day start, shown as YYYY-MM-DD */
};

struct cell {
	enum cell_kind kind;
	int64_t i;
	char *s; /* owned, CELL_STR only */
};

/* How a column shows.  key is its stable name in JSON and the CSV header. */
struct column {
	const char *key, *title;
	int numeric; /* right-aligned */
	int detail;  /* text output: shown as a wrapped line under the row, not
	                as a column */
	int alarm;   /* text output: a non-zero value is coloured */
	int max_width; /* text output: longer values are cut with "..." (0: no
	                  cap) */
};

struct section {
	const char *name, *title,
	    *empty; /* empty: the sentence shown when there are no rows */
	const struct column *cols;
	size_t n_cols;
	struct cell *cells; /* n_rows * n_cols, row-major */
	size_t n_rows, cap_rows;
};

enum {
	SEC_OVERVIEW = 0,
	SEC_ISPS,
	SEC_SOURCES,
	SEC_NEW_SOURCES,
	SEC_SILENT_ISPS,
	SEC_DOMAINS,
	SEC_DAILY,
	SEC_COUNT
};

struct dm_report {
	int64_t from, to, prev_from;
	char *domain, *reporter; /* filters as given, or NULL */
	struct section sec[SEC_COUNT];
};

/* ---- build.c ---- */
/* Appends a row of n_cols CELL_NULL cells and returns it; NULL on allocation
 * failure. */
struct cell *section_add_row(struct section *s);
int cell_set_str(struct cell *c, const char *s);
const struct cell *section_cell(
    const struct section *s, size_t row, size_t col);

/* ---- out.c: an output buffer with a sticky error ---- */
struct out {
	struct dm_buf b;
	int rc;
};

void out_init(struct out *o);
void out_add(struct out *o, const char *s, size_t n);
void out_puts(struct out *o, const char *s);
void out_printf(struct out *o, const char *fmt, ...) DM_PRINTF(2, 3);
/* Writes the buffer to f; DM_EIO or the sticky error, with a message. */
int out_flush(struct out *o, FILE *f, struct dm_error *err);
void out_free(struct out *o);

/*
 * Appends s made safe for a terminal or a plain-text mail: control characters
 * become '?', invalid UTF-8 becomes U+FFFD.  Returns the number of characters
 * (code points) appended.
 */
size_t out_text(struct out *o, const char *s);
/* Number of characters out_text writes for s. */
size_t text_width(const char *s);
/* Bytes of the character at s (non-empty) as out_text counts them (invalid
 * bytes are one). */
size_t text_char_len(const char *s);
/* Formats a cell as plain text (numbers, rates with one decimal, days) into
 * buf. */
const char *cell_format(const struct cell *c, char *buf, size_t size);
/* YYYY-MM-DD of a Unix time (UTC). */
const char *format_day(int64_t t, char *buf, size_t size);

/*
 * Writes indent spaces, prefix (ours, e.g. "Why: ") and text wrapped at 100
 * columns, with continuation lines aligned under the text; text is sanitised by
 * out_text.
 */
void text_wrap(
    struct out *o, size_t indent, const char *prefix, const char *text);

/* ---- build.c: a string -> index map ---- */
struct strmap {
	char **keys;
	size_t *vals;
	size_t cap, n;
};

/* Finds key; when absent adds it (copied) with value *val and sets *added. *val
 * gets the value.  DM_ENOMEM. */
int strmap_get(struct strmap *m, const char *key, size_t *val, int *added);
void strmap_free(struct strmap *m);

/* ---- renderers ---- */
/* The classifier's view of a source row of the rollups (strings borrowed). */
struct dm_query_source;
struct dm_evidence dm_report_evidence(const struct dm_query_source *s);

int write_text(const struct dm_report *r, int color, struct out *o);
int write_csv(const struct dm_report *r, const char *table, struct out *o,
    struct dm_error *err);
int write_json(const struct dm_report *r, struct out *o);
int write_html(const struct dm_report *r, struct out *o);

#endif /* DM_REPORT_INT_H */
