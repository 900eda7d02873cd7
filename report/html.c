/*
 * html.c - the report as one self-contained HTML file: inline CSS, inline SVG
 * charts, no script, no external resource (no fonts, images or links to fetch),
 * so it renders the same in a browser, offline, and as the body of a mail.
 * Tables carry every number, so a mail client that drops SVG loses only the
 * pictures.
 *
 * Every value from a report goes through html_text(): & < > " ' become
 * entities, control characters, bidirectional controls and invalid UTF-8
 * become U+FFFD (core/escape.h).  That is enough
 * in element content and in quoted attribute values, the only two places values
 * are written.
 */
#include "report_int.h"

#include <string.h>

#include "escape.h"

#define CHART_W 720
#define CHART_H 180

static void
html_text(struct out *o, const char *s)
{
	static const struct {
		char c;
		const char *entity;
	} entities[] = {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"},
	    {'"', "&quot;"}, {'\'', "&#39;"}};

	while (*s != '\0') {
		size_t n, i;
		enum dm_char_kind k = dm_char_kind(s, &n);
		const char *e = NULL;

		for (i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
			if (*s == entities[i].c)
				e = entities[i].entity;
		}
		if (e != NULL)
			dm_out_puts(o, e);
		else if (k != DM_CHAR_PLAIN)
			dm_out_puts(o, "\xef\xbf\xbd");
		else
			dm_out_add(o, s, n);
		s += n;
	}
}

static const char style[] =
    "body{font-family:-apple-system,'Segoe "
    "UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;"
    "background:#fff;margin:0 "
    "auto;padding:16px;max-width:1000px;font-size:14px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 "
    "8px;border-bottom:2px "
    "solid #e4e7eb;padding-bottom:4px}p.meta{color:#52606d;margin:0 0 12px}"
    "table{border-collapse:collapse;width:100%;margin:4px 0}th,td{padding:4px "
    "8px;text-align:"
    "left;vertical-align:top;border-bottom:1px solid "
    "#e4e7eb}th{background:#f5f7fa;font-weight:"
    "600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-"
    "space:nowrap}"
    "td.bad{color:#b42318;font-weight:600}tr.detail td{border-bottom:1px solid "
    "#cbd2d9;color:"
    "#323f4b;padding-top:0}tr.detail "
    "b{color:#52606d}p.empty{color:#52606d;font-style:italic}"
    "svg{max-width:100%;height:auto}.legend "
    "span{display:inline-block;margin-right:14px}"
    ".sw{display:inline-block;width:10px;height:10px;margin-right:4px}"
    "tr.group th{background:#fff;border-bottom:2px solid #cbd2d9;padding-top:"
    "14px}tr.more td{color:#52606d;font-style:italic}";

/* Colours of the chart series: DMARC pass, failed but not blocked by policy
 * (disposition none: the ISP may still have filed it as spam), quarantined,
 * rejected. */
static const char *const series_color[4] = {
    "#3f9142", "#9aa5b1", "#e8a33d", "#c8372d"};
static const char *const series_name[4] = {
    "DMARC pass", "DMARC fail, not blocked", "quarantined", "rejected"};

static void
legend(struct out *o)
{
	size_t i;

	dm_out_puts(o, "<p class=\"legend\">");
	for (i = 0; i < 4; i++)
		dm_out_printf(o,
		    "<span><i class=\"sw\" "
		    "style=\"background:%s\"></i>%s</span>",
		    series_color[i], series_name[i]);
	dm_out_puts(o, "</p>\n");
}

/* The four series of a daily row: pass, failed-not-blocked, quarantined,
 * rejected. */
static void
day_series(const struct section *s, size_t r, int64_t v[4])
{
	int64_t m = dm_section_cell(s, r, 1)->i,
	        pass = dm_section_cell(s, r, 2)->i;

	v[2] = dm_section_cell(s, r, 4)->i;
	v[3] = dm_section_cell(s, r, 5)->i;
	v[0] = pass;
	v[1] = m - pass - v[2] - v[3];
	if (v[1] < 0)
		v[1] = 0;
}

static void
daily_chart(struct out *o, const struct section *s)
{
	int64_t max = 1, v[4];
	size_t r, i, n = s->n_rows;
	long bw, x;
	char buf[32];

	if (n == 0)
		return;
	for (r = 0; r < n; r++) {
		day_series(s, r, v);
		if (v[0] + v[1] + v[2] + v[3] > max)
			max = v[0] + v[1] + v[2] + v[3];
	}
	bw = (long)(CHART_W / n);
	dm_out_printf(o,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Messages per "
	    "day\">\n",
	    CHART_W, CHART_H + 20, CHART_W, CHART_H + 20);
	for (r = 0; r < n; r++) {
		long y = CHART_H;

		day_series(s, r, v);
		x = (long)r * bw;
		for (i = 0; i < 4; i++) {
			long h = (long)(v[i] * (CHART_H - 10) / max);

			if (h == 0)
				continue;
			y -= h;
			dm_out_printf(o,
			    "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" "
			    "height=\"%ld\" "
			    "fill=\"%s\"/>\n",
			    x + 2, y, bw - 4, h, series_color[i]);
		}
		dm_cell_format(dm_section_cell(s, r, 0), buf, sizeof(buf));
		dm_out_printf(o,
		    "<text x=\"%ld\" y=\"%d\" font-size=\"11\" "
		    "text-anchor=\"middle\" "
		    "fill=\"#52606d\">%s</text>\n",
		    x + bw / 2, CHART_H + 14, n > 14 ? buf + 8 : buf + 5);
	}
	dm_out_puts(o, "</svg>\n");
	legend(o);
}

static void
isp_chart(struct out *o, const struct section *s)
{
	int64_t max = 1;
	size_t r, n = s->n_rows > 12 ? 12 : s->n_rows;
	const long label = 170, bar = CHART_W - label - 70, row = 22;

	if (n == 0)
		return;
	for (r = 0; r < n; r++) {
		if (dm_section_cell(s, r, 1)->i > max)
			max = dm_section_cell(s, r, 1)->i;
	}
	dm_out_printf(o,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%ld\" "
	    "viewBox=\"0 0 %d %ld\" role=\"img\" aria-label=\"Messages per "
	    "ISP\">\n",
	    CHART_W, (long)n * row + 4, CHART_W, (long)n * row + 4);
	for (r = 0; r < n; r++) {
		int64_t m = dm_section_cell(s, r, 1)->i,
		        q = dm_section_cell(s, r, 3)->i;
		int64_t rj = dm_section_cell(s, r, 4)->i, x = label;
		int64_t part[3] = {m - q - rj, q, rj};
		const char *col[3] = {
		    series_color[0], series_color[2], series_color[3]};
		size_t i;

		dm_out_printf(o,
		    "<text x=\"%ld\" y=\"%ld\" font-size=\"12\" "
		    "text-anchor=\"end\" "
		    "fill=\"#1f2933\">",
		    label - 6, (long)r * row + 15);
		html_text(o, dm_section_cell(s, r, 0)->s);
		dm_out_puts(o, "</text>\n");
		for (i = 0; i < 3; i++) {
			int64_t w = part[i] > 0 ? part[i] * bar / max : 0;

			if (w == 0)
				continue;
			dm_out_printf(o,
			    "<rect x=\"%lld\" y=\"%ld\" width=\"%lld\" "
			    "height=\"16\" "
			    "fill=\"%s\"/>\n",
			    (long long)x, (long)r * row + 3, (long long)w,
			    col[i]);
			x += w;
		}
		dm_out_printf(o,
		    "<text x=\"%lld\" y=\"%ld\" font-size=\"11\" "
		    "fill=\"#52606d\">%lld"
		    "</text>\n",
		    (long long)x + 6, (long)r * row + 15, (long long)m);
	}
	dm_out_puts(o, "</svg>\n");
}

/* A column of the table (not a detail line, not the group heading). */
static int
in_table(const struct section *s, size_t i)
{
	return dm_shows_col(&s->cols[i], F_HTML) && !s->cols[i].detail &&
	       (int)i != s->group_col;
}

static size_t
table_columns(const struct section *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_cols; i++)
		n += in_table(s, i);
	return n;
}

static void
table_details(struct out *o, const struct section *s, size_t r)
{
	size_t i;
	int any = 0;

	for (i = 0; i < s->n_cols; i++) {
		const struct cell *c = dm_section_cell(s, r, i);

		if (!s->cols[i].detail || !dm_shows_col(&s->cols[i], F_HTML) ||
		    c->kind != CELL_STR || c->s[0] == '\0')
			continue;
		if (!any)
			dm_out_printf(o,
			    "<tr class=\"detail\"><td colspan=\"%zu\">",
			    table_columns(s));
		else
			dm_out_puts(o, "<br>");
		any = 1;
		dm_out_printf(o, "<b>%s:</b> ", s->cols[i].title);
		html_text(o, c->s);
	}
	if (any)
		dm_out_puts(o, "</td></tr>\n");
}

static void
table_row(struct out *o, const struct section *s, size_t r)
{
	char buf[64];
	size_t i;

	dm_out_puts(o, "<tr>");
	for (i = 0; i < s->n_cols; i++) {
		const struct cell *c = dm_section_cell(s, r, i);
		int bad = s->cols[i].alarm && c->kind == CELL_INT && c->i > 0;

		if (!in_table(s, i))
			continue;
		dm_out_printf(o, "<td%s>",
		    s->cols[i].numeric
		        ? (bad ? " class=\"n bad\"" : " class=\"n\"")
		        : "");
		html_text(o, dm_cell_format(c, buf, sizeof(buf)));
		dm_out_puts(o, "</td>");
	}
	dm_out_puts(o, "</tr>\n");
	table_details(o, s, r);
}

static void
more_row(struct out *o, const struct section *s, const struct more *m)
{
	if (m->rows == 0)
		return;
	dm_out_printf(
	    o, "<tr class=\"more\"><td colspan=\"%zu\">", table_columns(s));
	dm_more_text(o, s, m);
	dm_out_puts(o, "</td></tr>\n");
}

/* Group headings and their "more" rows, around the rows of a group. */
static void
table_rows(struct out *o, const struct section *s)
{
	const struct group *g = NULL;
	size_t r, i;

	for (r = 0; r < s->n_rows; r++) {
		for (i = 0; i < s->n_groups; i++) {
			if (s->groups[i].row0 != r)
				continue;
			if (g != NULL)
				more_row(o, s, &g->more);
			g = &s->groups[i];
			dm_out_printf(o,
			    "<tr class=\"group\"><th colspan=\"%zu\">",
			    table_columns(s));
			html_text(o, g->heading);
			dm_out_puts(o, "</th></tr>\n");
		}
		table_row(o, s, r);
	}
	if (g != NULL)
		more_row(o, s, &g->more);
	more_row(o, s, &s->more);
}

static void
section_html(struct out *o, const struct section *s)
{
	size_t i;

	dm_out_printf(o, "<h2 id=\"%s\">%s</h2>\n", s->name, s->title);
	if (strcmp(s->name, "daily") == 0)
		daily_chart(o, s);
	else if (strcmp(s->name, "isps") == 0)
		isp_chart(o, s);
	if (s->n_rows == 0) {
		dm_out_printf(o, "<p class=\"empty\">%s</p>\n", s->empty);
		if (s->more.rows > 0) {
			dm_out_puts(o, "<p class=\"empty\">");
			dm_more_text(o, s, &s->more);
			dm_out_puts(o, "</p>\n");
		}
		return;
	}
	dm_out_printf(o, "<table id=\"t-%s\">\n<thead><tr>", s->name);
	for (i = 0; i < s->n_cols; i++) {
		if (in_table(s, i))
			dm_out_printf(o, "<th%s>%s</th>",
			    s->cols[i].numeric ? " class=\"n\"" : "",
			    s->cols[i].title);
	}
	dm_out_puts(o, "</tr></thead>\n<tbody>\n");
	table_rows(o, s);
	dm_out_puts(o, "</tbody>\n</table>\n");
}

int
dm_write_html(const struct dm_report *r, struct out *o)
{
	char a[32], b[32], c[32], d[32];
	size_t i;

	dm_format_day(r->from, a, sizeof(a));
	dm_format_day(r->to - DM_DAY_SECONDS, b, sizeof(b));
	dm_out_printf(o,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
	    "charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<title>DMARC report %s to %s</title>\n<style>",
	    a, b);
	dm_out_puts(o, style);
	dm_out_printf(o,
	    "</style>\n</head>\n<body>\n<h1>DMARC report %s to %s</h1>\n<p "
	    "class=\"meta\">"
	    "%lld days, UTC; compared with %s to %s. Domain: ",
	    a, b, (long long)((r->to - r->from) / DM_DAY_SECONDS),
	    dm_format_day(r->prev_from, c, sizeof(c)),
	    dm_format_day(r->from - DM_DAY_SECONDS, d, sizeof(d)));
	html_text(o, r->domain != NULL ? r->domain : "all");
	dm_out_puts(o, ". Reporter: ");
	html_text(o, r->reporter != NULL ? r->reporter : "all");
	dm_out_puts(o, ".</p>\n");
	for (i = 0; i < SEC_COUNT; i++) {
		if (dm_shows_section(&r->sec[i], F_HTML))
			section_html(o, &r->sec[i]);
	}
	dm_out_puts(o, "</body>\n</html>\n");
	return o->rc;
}
