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

#include "i18n.h"

#include <string.h>

#include "escape.h"

void
dm_html_text(struct out *o, const char *s)
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
    "svg{max-width:100%;height:auto}svg.wide{max-width:none}"
    ".chart{overflow-x:auto;margin:8px 0}p.note{color:#52606d;margin:4px 0}"
    "tr.group th{background:#fff;border-bottom:2px solid #cbd2d9;padding-top:"
    "14px}tr.more td{color:#52606d;font-style:italic}";

/* What the charts are called, for screen readers, and the headings of the
 * small multiples. */
static const char daily_label[] = N_("Messages per day, by category");
static const char isps_label[] = N_("Messages per ISP, by category");
static const char isp_daily_label[] =
    N_("Messages per day at each of the ISPs with most mail, by category");
static const char isp_daily_note[] =
    N_("Each ISP on its own scale: the top of its axis is its busiest day.");

/* A series' labels: each point's first-column value ("2026-11-03"), without
 * the year when every point shares it. */
static void
series_labels(const struct section *s, size_t col, size_t n, char (*lab)[32],
    const char **ptr, const char **tips)
{
	size_t i, cut = 5;

	for (i = 0; i < n; i++) {
		const char *t =
		    dm_cell_format(dm_section_cell(s, i, col), lab[i], 32);

		if (t != lab[i])
			snprintf(lab[i], 32, "%s", t);
		if (cut > 0 &&
		    (strlen(lab[i]) <= cut || lab[i][cut - 1] != '-' ||
		        strncmp(lab[i], lab[0], cut) != 0))
			cut = 0;
	}
	for (i = 0; i < n; i++) {
		ptr[i] = lab[i] + cut;
		tips[i] = lab[i];
	}
}

/* The categories of row r of a section with messages, dmarc_pass,
 * quarantined, rejected and blocked_pass columns. */
static void
row_split(const struct section *s, size_t r, int64_t v[DM_CAT_COUNT])
{
	dm_chart_split(dm_section_cell(s, r, dm_section_col(s, "messages"))->i,
	    dm_section_cell(s, r, dm_section_col(s, "dmarc_pass"))->i,
	    dm_section_cell(s, r, dm_section_col(s, "quarantined"))->i,
	    dm_section_cell(s, r, dm_section_col(s, "rejected"))->i,
	    dm_section_cell(s, r, dm_section_col(s, "blocked_pass"))->i, v);
}

/* Panels of a series section: one, or one per run of rows of the same ISP
 * (isp_daily), each n points long. */
static size_t
series_panels(const struct section *s, size_t *n)
{
	size_t isp = dm_section_col(s, "isp"), r;

	if (isp == s->n_cols) {
		*n = s->n_rows;
		return s->n_rows > 0;
	}
	for (r = 1; r < s->n_rows; r++)
		if (strcmp(dm_section_cell(s, r, isp)->s,
		        dm_section_cell(s, 0, isp)->s) != 0)
			break;
	*n = r;
	return s->n_rows > 0 ? s->n_rows / r : 0;
}

/* The column that names a point: its day, or else the first that is not the
 * ISP (a week or a month names a point as well). */
static size_t
label_col(const struct section *s, size_t isp)
{
	size_t day = dm_section_col(s, "day");

	if (day < s->n_cols)
		return day;
	return isp == 0 ? 1 : 0;
}

static void
series_chart(struct out *o, const struct section *s, const char *label)
{
	struct dm_chart c = {.id = s->name, .label = label};
	struct dm_chart_panel *p = NULL;
	int64_t(*v)[DM_CAT_COUNT] = NULL;
	char(*lab)[32] = NULL;
	const char **ptr = NULL, **tips = NULL;
	size_t i, isp = dm_section_col(s, "isp");

	c.n_panels = series_panels(s, &c.n);
	if (c.n_panels == 0)
		return;
	if ((p = dm_calloc(c.n_panels, sizeof(*p))) == NULL ||
	    (v = dm_calloc(s->n_rows, sizeof(*v))) == NULL ||
	    (lab = dm_calloc(c.n, sizeof(*lab))) == NULL ||
	    (ptr = dm_calloc(c.n, sizeof(*ptr))) == NULL ||
	    (tips = dm_calloc(c.n, sizeof(*tips))) == NULL) {
		o->rc = o->rc == DM_OK ? DM_ENOMEM : o->rc;
		goto done;
	}
	for (i = 0; i < s->n_rows; i++)
		row_split(s, i, v[i]);
	for (i = 0; i < c.n_panels; i++) {
		p[i].v = (const int64_t(*)[DM_CAT_COUNT])v + i * c.n;
		if (isp < s->n_cols)
			p[i].title = dm_section_cell(s, i * c.n, isp)->s;
	}
	series_labels(s, label_col(s, isp), c.n, lab, ptr, tips);
	c.labels = ptr;
	c.tips = tips;
	c.panels = p;
	dm_chart_series(o, &c);
done:
	dm_free(tips);
	dm_free(ptr);
	dm_free(lab);
	dm_free(v);
	dm_free(p);
}

/* The ISPs of the table, at most 12, in its order. */
static void
isp_chart(struct out *o, const struct section *s)
{
	struct dm_chart_bar b[12];
	size_t r, n = s->n_rows > 12 ? 12 : s->n_rows;

	for (r = 0; r < n; r++) {
		b[r].label = dm_section_cell(s, r, 0)->s;
		b[r].messages =
		    dm_section_cell(s, r, dm_section_col(s, "messages"))->i;
		row_split(s, r, b[r].v);
	}
	dm_chart_bars(o, s->name, _(isps_label), b, n);
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
		dm_html_text(o, c->s);
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
		dm_html_text(o, dm_cell_format(c, buf, sizeof(buf)));
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
			dm_html_text(o, g->heading);
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
		series_chart(o, s, _(daily_label));
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

/* The ISPs' series, after the ISP table: charts only (the numbers of each
 * point are in its tooltip; the table above has the ISPs' sums). */
static void
isp_daily_html(struct out *o, const struct section *s)
{
	if (s->n_rows == 0 || !dm_shows_section(s, F_HTML))
		return;
	dm_out_printf(o, "<h2 id=\"%s\">%s</h2>\n<p class=\"note\">%s</p>\n",
	    s->name, s->title, _(isp_daily_note));
	series_chart(o, s, _(isp_daily_label));
}

int
dm_write_html(const struct dm_report *r, struct out *o)
{
	char a[32], b[32], c[32], d[32];
	long long days = (long long)((r->to - r->from) / DM_DAY_SECONDS);
	size_t i;

	dm_format_day(r->from, a, sizeof(a));
	dm_format_day(r->to - DM_DAY_SECONDS, b, sizeof(b));
	dm_out_printf(o,
	    "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta "
	    "charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>",
	    /* TRANSLATORS: the language code of the HTML report (lang=). */
	    C_("HTML lang", "en"));
	dm_out_printf(o, _("DMARC report %s to %s"), a, b);
	dm_out_puts(o, "</title>\n<style>");
	dm_out_puts(o, style);
	dm_out_puts(o, "</style>\n</head>\n<body>\n<h1>");
	dm_out_printf(o, _("DMARC report %s to %s"), a, b);
	dm_out_puts(o, "</h1>\n<p class=\"meta\">");
	dm_out_printf(o,
	    P_("%lld day, UTC; compared with %s to %s. Domain: ",
	        "%lld days, UTC; compared with %s to %s. Domain: ", days),
	    days, dm_format_day(r->prev_from, c, sizeof(c)),
	    dm_format_day(r->from - DM_DAY_SECONDS, d, sizeof(d)));
	dm_html_text(o, r->domain != NULL ? r->domain : _("all"));
	dm_out_puts(o, _(". Reporter: "));
	dm_html_text(o, r->reporter != NULL ? r->reporter : _("all"));
	dm_out_puts(o, C_("end of the HTML report's heading", "."));
	dm_out_puts(o, "</p>\n");
	for (i = 0; i < SEC_COUNT; i++) {
		if (i != SEC_ISP_DAILY && dm_shows_section(&r->sec[i], F_HTML))
			section_html(o, &r->sec[i]);
		if (i == SEC_ISPS)
			isp_daily_html(o, &r->sec[SEC_ISP_DAILY]);
	}
	dm_out_puts(o, "</body>\n</html>\n");
	return o->rc;
}
