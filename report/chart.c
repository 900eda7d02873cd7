/*
 * chart.c - the HTML report's SVG charts: the four categories of mail (DMARC
 * pass; DMARC fail, not blocked by policy; quarantined; rejected) stacked per
 * point of a series, or per ISP in a horizontal bar.
 *
 * Charts are drawn against "n points, a label each": a point may be a day, a
 * week or a month.  Their geometry is fixed by rules that hold at any n, so a
 * long period cannot break them: a bar is never narrower than CHART_MIN_BAR
 * pixels (the chart grows wider and scrolls instead), a category with mail is
 * never drawn less than a pixel high (it cannot vanish), and the axis labels
 * are thinned to every k-th point so that they never overlap.  Label widths
 * are estimated from the font size with some room to spare, since the
 * renderer (a browser, a mail client) picks the font; the HTML test measures
 * them in Chromium.  Every chart carries its own legend.
 *
 * The charts need no script and fetch nothing; every text from a report is
 * escaped (dm_html_text).  What this file does not do: choose the points or
 * their labels (html.c), or count the mail (build.c).
 */
#include "report_int.h"

#include "i18n.h"

#include <string.h>

/* The width a chart is drawn at, as wide as a mail client's reading pane
 * usually is; a series with more points than fit grows wider. */
#define CHART_W 720
/* Left of a series' plot: the y-axis labels ("800k" at most, right-aligned). */
#define AXIS_W 56
#define RIGHT_W 16
#define LEGEND_H 26
/* The height of the plot of the series chart, and of each small multiple. */
#define PLOT_H 150
#define SMALL_H 64
#define PANEL_TITLE_H 20
#define XLABEL_H 20
/* Pixels of font, and how much room a label keeps to its neighbour. */
#define LABEL_FONT 11
#define LABEL_GAP 10

/*
 * The categories, in the order they are stacked (pass at the bottom, rejected
 * on top) and listed in every legend.  Colours: Paul Tol's high-contrast
 * scheme (blue, red, yellow, white), made to stay apart for colour-blind
 * readers and in grey print, whose lightness differs by about 20 L* from one
 * to the next; the fourth, failed but not blocked, is white with red stripes,
 * so in grey it is a texture no solid colour can be mistaken for, and it is
 * never the pass colour.
 */
static const struct dm_chart_cat cats[DM_CAT_COUNT] = {
    {"pass", N_("DMARC pass"), "#004488", NULL},
    {"fail_not_blocked", N_("DMARC fail, not blocked by policy"), "#FFFFFF",
        "#BB5566"},
    {"quarantined", N_("Quarantined"), "#DDAA33", NULL},
    {"rejected", N_("Rejected"), "#BB5566", NULL},
};

const struct dm_chart_cat *
dm_chart_cat(size_t i)
{
	return i < DM_CAT_COUNT ? &cats[i] : NULL;
}

/*
 * The rollups count, per day and ISP, the messages that passed DMARC, those
 * quarantined or rejected, and those that passed and were blocked all the
 * same (local policy): so pass is dmarc_pass - blocked_pass, and failed, not
 * blocked is what is neither.  Each is clamped at 0, so that a hostile count
 * cannot draw a negative bar.
 */
void
dm_chart_split(int64_t messages, int64_t pass, int64_t quarantined,
    int64_t rejected, int64_t blocked_pass, int64_t v[DM_CAT_COUNT])
{
	int64_t open;

	v[DM_CAT_QUARANTINED] = quarantined > 0 ? quarantined : 0;
	v[DM_CAT_REJECTED] = rejected > 0 ? rejected : 0;
	if (blocked_pass < 0)
		blocked_pass = 0;
	v[DM_CAT_PASS] = pass > blocked_pass ? pass - blocked_pass : 0;
	open = messages - v[DM_CAT_QUARANTINED] - v[DM_CAT_REJECTED];
	if (v[DM_CAT_PASS] > open)
		v[DM_CAT_PASS] = open > 0 ? open : 0;
	v[DM_CAT_OPEN] = open - v[DM_CAT_PASS] > 0 ? open - v[DM_CAT_PASS] : 0;
}

/* Pixels a text is given at a font size: wider than most sans-serif fonts
 * set it (capitals and digits wider than small letters, East Asian
 * characters a full em). */
long
dm_chart_text_width(const char *s, long font)
{
	long w10 = 0; /* tenths of the font size */

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c & 0xc0) == 0x80)
			continue;
		if (c >= 0xe0)
			w10 += 10;
		else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		         c >= 0x80)
			w10 += 7;
		else
			w10 += 6;
	}
	return (w10 * font + 9) / 10;
}

/*
 * The top of a y axis: the smallest of 2, 4, 6, 8 or 10 times a power of ten
 * that is at least max, so that the axis' middle is a whole number too.
 */
int64_t
dm_chart_nice_max(int64_t max)
{
	int64_t p = 1;
	int m;

	if (max <= 2)
		return 2;
	while (p <= INT64_MAX / 100 && p * 10 < max)
		p *= 10;
	for (m = 2; m <= 10; m += 2) {
		if (p > INT64_MAX / m)
			break;
		if (p * m >= max)
			return p * m;
	}
	return INT64_MAX;
}

void
dm_chart_axis(size_t n, long plot_w, long label_w, struct dm_chart_axis *a)
{
	long need = label_w + LABEL_GAP;

	a->step = n > 0 ? plot_w / (long)n : plot_w;
	if (a->step < DM_CHART_MIN_STEP)
		a->step = DM_CHART_MIN_STEP;
	/* A gap of a fifth of the step between bars, at least a pixel. */
	a->bar = a->step - (a->step >= 10 ? a->step / 5 : 1);
	if (a->bar < DM_CHART_MIN_BAR)
		a->bar = DM_CHART_MIN_BAR;
	a->plot_w = a->step * (long)(n > 0 ? n : 1);
	if (a->plot_w < plot_w)
		a->plot_w = plot_w;
	a->every = (need + a->step - 1) / a->step;
	if (a->every < 1)
		a->every = 1;
}

/* "800", "12k", "4M": axis numbers; nice_max values and their halves divide
 * evenly. */
static const char *
axis_number(int64_t v, char *buf, size_t size)
{
	if (v >= 1000000 && v % 1000000 == 0)
		snprintf(buf, size, "%lldM", (long long)(v / 1000000));
	else if (v >= 10000 && v % 1000 == 0)
		snprintf(buf, size, "%lldk", (long long)(v / 1000));
	else
		snprintf(buf, size, "%lld", (long long)v);
	return buf;
}

static void
svg_open(struct out *o, long w, long h, const char *label, int wide)
{
	dm_out_printf(o,
	    "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "%swidth=\"%ld\" height=\"%ld\" viewBox=\"0 0 %ld %ld\" "
	    "role=\"img\" aria-label=\"",
	    wide ? "class=\"wide\" " : "", w, h, w, h);
	dm_html_text(o, label);
	dm_out_puts(o, "\">\n");
}

/* The stripes of the failed-but-not-blocked category, named after the chart
 * (ids are shared by every SVG of a page). */
static void
svg_defs(struct out *o, const char *id)
{
	const struct dm_chart_cat *c = &cats[DM_CAT_OPEN];

	dm_out_printf(o,
	    "<defs><pattern id=\"%s-%s\" width=\"4\" height=\"4\" "
	    "patternUnits=\"userSpaceOnUse\" "
	    "patternTransform=\"rotate(45)\">"
	    "<rect width=\"4\" height=\"4\" fill=\"%s\"/>"
	    "<rect width=\"1.5\" height=\"4\" fill=\"%s\"/></pattern></defs>\n",
	    id, c->key, c->color, c->stripe);
}

static void
cat_fill(struct out *o, const char *id, size_t i)
{
	if (cats[i].stripe != NULL)
		dm_out_printf(o, "url(#%s-%s)", id, cats[i].key);
	else
		dm_out_puts(o, cats[i].color);
}

/* A rectangle of category i; every one is at least a pixel each way. */
static void
cat_rect(
    struct out *o, const char *id, size_t i, long x, long y, long w, long h)
{
	dm_out_printf(o,
	    "<rect data-cat=\"%s\" x=\"%ld\" y=\"%ld\" width=\"%ld\" "
	    "height=\"%ld\" fill=\"",
	    cats[i].key, x, y, w, h);
	cat_fill(o, id, i);
	dm_out_puts(o, "\"/>\n");
}

static void
text_at(
    struct out *o, long x, long y, long font, const char *anchor, const char *s)
{
	dm_out_printf(o,
	    "<text x=\"%ld\" y=\"%ld\" font-size=\"%ld\" text-anchor=\"%s\" "
	    "fill=\"#1f2933\">",
	    x, y, font, anchor);
	dm_html_text(o, s);
	dm_out_puts(o, "</text>\n");
}

/* The legend, on one line at the top of every chart, in stacking order. */
static void
legend(struct out *o, const char *id)
{
	long x = 0;
	size_t i;

	dm_out_puts(o, "<g class=\"legend\">\n");
	for (i = 0; i < DM_CAT_COUNT; i++) {
		cat_rect(o, id, i, x, 6, 12, 12);
		dm_out_printf(o,
		    "<rect x=\"%ld\" y=\"6\" width=\"12\" height=\"12\" "
		    "fill=\"none\" stroke=\"#52606d\" stroke-width=\"0.5\"/>\n",
		    x);
		text_at(o, x + 17, 16, 12, "start", _(cats[i].name));
		x += 17 + dm_chart_text_width(_(cats[i].name), 12) + 18;
	}
	dm_out_puts(o, "</g>\n");
}

static void
point_title(struct out *o, const char *label, const int64_t v[DM_CAT_COUNT])
{
	size_t i;

	dm_out_puts(o, "<title>");
	dm_html_text(o, label);
	for (i = 0; i < DM_CAT_COUNT; i++)
		dm_out_printf(o, "%s%s: %lld", i == 0 ? " - " : ", ",
		    _(cats[i].name), (long long)v[i]);
	dm_out_puts(o, "</title>\n");
}

/* One point's bar: its categories stacked up from base, each non-empty one at
 * least a pixel high. */
static void
point_bar(struct out *o, const struct dm_chart *c, const char *label,
    const int64_t v[DM_CAT_COUNT], long x, long base, long h, int64_t max)
{
	size_t i;
	long y = base;

	dm_out_puts(o, "<g>");
	point_title(o, label, v);
	for (i = 0; i < DM_CAT_COUNT; i++) {
		long p;

		if (v[i] <= 0)
			continue;
		p = (long)((double)v[i] * (double)h / (double)max + 0.5);
		if (p < 1)
			p = 1;
		y -= p;
		cat_rect(o, c->id, i, x, y, c->axis.bar, p);
	}
	dm_out_puts(o, "</g>\n");
}

/* The y axis of a panel: 0, half and the top, with light grid lines. */
static void
y_axis(struct out *o, long top, long h, long plot_w, int64_t max)
{
	char buf[32];
	int k;

	for (k = 0; k <= 2; k++) {
		long y = top + h - h * k / 2;

		dm_out_printf(o,
		    "<line x1=\"%d\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" "
		    "stroke=\"%s\" stroke-width=\"1\"/>\n",
		    AXIS_W, y, AXIS_W + plot_w, y,
		    k == 0 ? "#9aa5b1" : "#e4e7eb");
		text_at(o, AXIS_W - 6, y + 4, LABEL_FONT, "end",
		    axis_number(max / 2 * k, buf, sizeof(buf)));
	}
}

/* Every k-th point's label, starting at its bar, with a tick; a label that
 * would run past the chart's right edge is left out. */
static void
x_labels(struct out *o, const struct dm_chart *c, long y, long chart_w)
{
	size_t i;

	for (i = 0; i < c->n; i += (size_t)c->axis.every) {
		long x = AXIS_W + (long)i * c->axis.step;

		if (x + dm_chart_text_width(c->labels[i], LABEL_FONT) > chart_w)
			break;
		dm_out_printf(o,
		    "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" "
		    "stroke=\"#9aa5b1\"/>\n",
		    x, y - XLABEL_H + 2, x, y - XLABEL_H + 6);
		text_at(o, x, y - 4, LABEL_FONT, "start", c->labels[i]);
	}
}

static int64_t
panel_max(const struct dm_chart *c, const struct dm_chart_panel *p)
{
	int64_t max = 0;
	size_t i, k;

	for (i = 0; i < c->n; i++) {
		int64_t sum = 0;

		for (k = 0; k < DM_CAT_COUNT; k++)
			sum = dm_sat_add(sum, p->v[i][k]);
		if (sum > max)
			max = sum;
	}
	return dm_chart_nice_max(max);
}

/* A panel at top: its title (small multiples), its plot, its labels;
 * returns the y below it. */
static long
panel(struct out *o, const struct dm_chart *c, const struct dm_chart_panel *p,
    long top, long h, long chart_w)
{
	int64_t max = panel_max(c, p);
	size_t i;

	if (p->title != NULL) {
		text_at(o, 0, top + 14, 13, "start", p->title);
		top += PANEL_TITLE_H;
	}
	top += 8; /* room for the top axis label */
	y_axis(o, top, h, c->axis.plot_w, max);
	for (i = 0; i < c->n; i++)
		point_bar(o, c, c->tips[i], p->v[i],
		    AXIS_W + (long)i * c->axis.step, top + h, h, max);
	x_labels(o, c, top + h + XLABEL_H, chart_w);
	return top + h + XLABEL_H;
}

void
dm_chart_series(struct out *o, struct dm_chart *c)
{
	long label_w = 0, chart_w, h, y;
	long plot_h = c->n_panels > 1 ? SMALL_H : PLOT_H;
	size_t i;

	if (c->n == 0 || c->n_panels == 0)
		return;
	for (i = 0; i < c->n; i++) {
		long w = dm_chart_text_width(c->labels[i], LABEL_FONT);

		if (w > label_w)
			label_w = w;
	}
	dm_chart_axis(c->n, CHART_W - AXIS_W - RIGHT_W, label_w, &c->axis);
	chart_w = AXIS_W + c->axis.plot_w + RIGHT_W;
	h = LEGEND_H +
	    (long)c->n_panels *
	        (plot_h + 8 + XLABEL_H + (c->n_panels > 1 ? PANEL_TITLE_H : 0));
	svg_open(o, chart_w, h, c->label, chart_w > CHART_W);
	svg_defs(o, c->id);
	legend(o, c->id);
	y = LEGEND_H;
	for (i = 0; i < c->n_panels; i++)
		y = panel(o, c, &c->panels[i], y, plot_h, chart_w);
	dm_out_puts(o, "</svg></div>\n");
}

/* An ISP's name, cut to fit the label column. */
static void
bar_label(struct out *o, const char *s, long y, long label_w)
{
	char buf[DM_QUERY_TEXT_MAX + 4];
	size_t n = 0;

	while (s[n] != '\0' && n < sizeof(buf) - 4) {
		size_t k = n + 1;

		while (((unsigned char)s[k] & 0xc0) == 0x80)
			k++;
		if (k > sizeof(buf) - 4)
			break;
		memcpy(buf + n, s + n, k - n);
		buf[k] = '\0';
		if (dm_chart_text_width(buf, 12) > label_w - 24)
			break;
		n = k;
	}
	/* Cut: an ellipsis says so. */
	if (s[n] != '\0')
		memcpy(buf + n, "\xe2\x80\xa6", 4);
	else
		buf[n] = '\0';
	text_at(o, label_w - 6, y, 12, "end", buf);
}

void
dm_chart_bars(struct out *o, const char *id, const char *label,
    const struct dm_chart_bar *b, size_t n)
{
	const long label_w = 170, bar_w = CHART_W - label_w - 80, row = 22;
	int64_t max = 1;
	size_t r, i;

	if (n == 0)
		return;
	for (r = 0; r < n; r++)
		if (b[r].messages > max)
			max = b[r].messages;
	svg_open(o, CHART_W, LEGEND_H + (long)n * row + 4, label, 0);
	svg_defs(o, id);
	legend(o, id);
	for (r = 0; r < n; r++) {
		long y = LEGEND_H + (long)r * row, x = label_w;
		char buf[32];

		bar_label(o, b[r].label, y + 15, label_w);
		dm_out_puts(o, "<g>");
		point_title(o, b[r].label, b[r].v);
		for (i = 0; i < DM_CAT_COUNT; i++) {
			long w;

			if (b[r].v[i] <= 0)
				continue;
			w = (long)((double)b[r].v[i] * (double)bar_w /
			               (double)max +
			           0.5);
			if (w < 1)
				w = 1;
			cat_rect(o, id, i, x, y + 3, w, 16);
			x += w;
		}
		dm_out_puts(o, "</g>\n");
		snprintf(buf, sizeof(buf), "%lld", (long long)b[r].messages);
		text_at(o, x + 6, y + 15, LABEL_FONT, "start", buf);
	}
	dm_out_puts(o, "</svg></div>\n");
}
