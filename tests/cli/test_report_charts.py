"""The HTML report's charts, rendered by headless Chromium at 7 days, 90 days and 3 years and
measured in the DOM: every drawn rectangle has a positive size and every bar of a series at least
the minimum width; no two texts of a chart overlap; every chart has a legend of the four
categories, in order; each category is drawn in its documented colour (README.md); the per-ISP
series show the day an ISP started rejecting, with the numbers of the fixture.  Orange rejects
some mail that passed DMARC (local policy) on the days it also delivers failing mail: the charts
must draw it as rejected and the failing mail as failing, never one as the other.

The fixture is a database of three years of daily reports from six ISPs (one Japanese), written with SQL and
rolled up by sql/rollup_rebuild.sql.  Without Chromium the test is reported as skipped.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_charts.py
"""
import datetime
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_report_golden import SOURCE, run  # noqa: E402

SKIPPED = 77
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1200,900"]
MIN_BAR = 2  # DM_CHART_MIN_BAR in report/report_int.h

# The categories as README.md documents them: name, fill, stripe colour (or None).
CATEGORIES = [("DMARC pass", "#004488", None),
              ("DMARC fail, not blocked by policy", "#FFFFFF", "#BB5566"),
              ("Quarantined", "#DDAA33", None),
              ("Rejected", "#BB5566", None)]

FIRST = datetime.date(2023, 12, 1)
LAST = datetime.date(2026, 11, 30)
YAHOO_REJECTS = datetime.date(2026, 10, 15)
ISPS = ["google.com", "Yahoo", "Outlook.com", "Orange", "Mail.ru", "ニフティ株式会社"]
SHOWN = {"google.com": "Google", "Outlook.com": "Microsoft", "ニフティ株式会社": "NIFTY"}


def records(i, k, day):
    """The records of ISP k's report of day i: (count, disposition, dkim and spf)."""
    base = 200 + 50 * k + (i * 37 + k * 11) % 100
    passed = base * 7 // 10
    quarantined = 20 + i % 7 if ISPS[k] == "Outlook.com" else 0
    rejected = 30 + i % 11 if ISPS[k] == "Yahoo" and day >= YAHOO_REJECTS else 0
    blocked_pass = 5 + i % 3 if ISPS[k] == "Orange" else 0
    return [(passed, "none", "pass"), (base - passed, "none", "fail"),
            (quarantined, "quarantine", "fail"), (rejected, "reject", "fail"),
            (blocked_pass, "reject", "pass")]


def counts(i, k, day):
    """Messages of ISP k on day i in the charts' categories: passed (and not blocked), failed
    and not blocked, quarantined, rejected."""
    c = [0, 0, 0, 0]
    for n, disp, dmarc in records(i, k, day):
        c[{"quarantine": 2, "reject": 3}.get(disp, 0 if dmarc == "pass" else 1)] += n
    return tuple(c)


def fixture(tmp):
    db = os.path.join(tmp, "charts.db")
    con = sqlite3.connect(db)
    for s in ("schema.sql", "views.sql"):
        with open(os.path.join(SOURCE, "sql", s)) as f:
            con.executescript(f.read())
    rid, rec = 0, 0
    for i in range((LAST - FIRST).days + 1):
        day = FIRST + datetime.timedelta(days=i)
        begin = int(datetime.datetime(day.year, day.month, day.day,
                                      tzinfo=datetime.timezone.utc).timestamp())
        for k, org in enumerate(ISPS):
            rid += 1
            con.execute("INSERT INTO report (id, org_name, report_id, \"begin\", \"end\", schema,"
                        " domain, p, stored_at) VALUES (?, ?, ?, ?, ?, 'rfc7489',"
                        " 'example.com', 'none', 0)",
                        (rid, org, f"r{rid}", begin, begin + 86399))
            c = counts(i, k, day)
            for n, disp, dmarc in records(i, k, day):
                if n == 0:
                    continue
                rec += 1
                con.execute("INSERT INTO record (id, report, source_ip, count, disposition,"
                            " dkim, spf, header_from) VALUES (?, ?, '192.0.2.7', ?, ?, ?, ?,"
                            " 'example.com')", (rec, rid, n, disp, dmarc, dmarc))
            con.execute("UPDATE report SET record_count = (SELECT count(*) FROM record WHERE"
                        " report = ?1), message_count = ? WHERE id = ?1", (rid, sum(c)))
    with open(os.path.join(SOURCE, "sql", "rollup_rebuild.sql")) as f:
        con.executescript(f.read())
    con.commit()
    con.close()
    return db


# Run in the page once it is laid out: every check is a measure of what Chromium drew.
PROBE = r"""
<pre id="probe-result"></pre>
<script>
(function () {
  var out = {charts: [], problems: []};
  function bad(s) { if (out.problems.length < 40) out.problems.push(s); }
  function drawn(el) { return !el.closest('defs'); }
  document.querySelectorAll('svg').forEach(function (svg, n) {
    var name = (svg.getAttribute('aria-label') || 'chart ' + n);
    var chart = {label: name, legend: [], fills: {}, stripes: {}, bars: 0, texts: 0};
    svg.querySelectorAll('rect').forEach(function (r) {
      if (!drawn(r)) return;
      var b = r.getBoundingClientRect();
      if (!(b.width > 0 && b.height > 0))
        bad(name + ': a rect of ' + b.width + ' x ' + b.height);
      var cat = r.getAttribute('data-cat');
      if (cat === null) return;
      var fill = getComputedStyle(r).fill, m = /url\("?#([^")]+)"?\)/.exec(fill);
      if (m) {
        var p = document.getElementById(m[1]);
        var pr = p ? p.querySelectorAll('rect') : [];
        fill = pr.length ? getComputedStyle(pr[0]).fill : 'missing pattern';
        chart.stripes[cat] = pr.length > 1 ? getComputedStyle(pr[1]).fill : 'none';
      }
      if (chart.fills[cat] === undefined) chart.fills[cat] = fill;
      else if (chart.fills[cat] !== fill) bad(name + ': ' + cat + ' in two colours');
      if (r.closest('.legend')) return;
      chart.bars++;
      var across = svg.getAttribute('aria-label').indexOf('per day') >= 0 ? b.width : b.height;
      if (across < %MIN_BAR% - 0.01) bad(name + ': a bar ' + across + ' px wide');
    });
    var texts = Array.prototype.slice.call(svg.querySelectorAll('text'));
    var boxes = texts.map(function (t) { return t.getBoundingClientRect(); });
    chart.texts = texts.length;
    for (var i = 0; i < boxes.length; i++)
      for (var j = i + 1; j < boxes.length; j++) {
        var a = boxes[i], b = boxes[j];
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
            a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
          bad(name + ': "' + texts[i].textContent + '" overlaps "' + texts[j].textContent + '"');
      }
    svg.querySelectorAll('.legend text').forEach(function (t) {
      chart.legend.push(t.textContent);
    });
    var sb = svg.getBoundingClientRect();
    chart.width = sb.width;
    chart.viewbox = svg.viewBox.baseVal.width;
    out.charts.push(chart);
  });
  document.getElementById('probe-result').textContent = JSON.stringify(out);
})();
</script>
""".replace("%MIN_BAR%", str(MIN_BAR))


def rgb(hexcolour):
    h = hexcolour.lstrip("#")
    return "rgb(%d, %d, %d)" % (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def probe(html, tmp):
    """The probe's findings on the report at path html (a copy with the probe added)."""
    with open(html, encoding="utf-8") as f:
        page = f.read()
    path = html + ".probe.html"
    with open(path, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", PROBE + "</body>"))
    p = subprocess.run([CHROMIUM] + FLAGS + ["--dump-dom", "file://" + path],
                       capture_output=True, timeout=300)
    m = re.search(r'<pre id="probe-result">(.*?)</pre>', p.stdout.decode(errors="replace"), re.S)
    if p.returncode != 0 or m is None or m.group(1) == "":
        return None
    return json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&quot;", '"').replace("&amp;", "&"))


def check_charts(name, found, problems):
    names = [c[0] for c in CATEGORIES]
    labels = [c["label"] for c in found["charts"]]
    want = ["Messages per ISP, by category",
            "Messages per day at each of the ISPs with most mail, by category",
            "Messages per day, by category"]
    if labels != want:
        problems.append(f"{name}: charts {labels}, expected {want}")
    for p in found["problems"]:
        problems.append(f"{name}: {p}")
    for c in found["charts"]:
        if c["legend"] != names:
            problems.append(f"{name}: {c['label']}: legend {c['legend']}")
        if c["bars"] == 0:
            problems.append(f"{name}: {c['label']}: no bars")
        for key, (cat, fill, stripe) in zip(["pass", "fail_not_blocked", "quarantined",
                                              "rejected"], CATEGORIES):
            if c["fills"].get(key) != rgb(fill):
                problems.append(f"{name}: {c['label']}: {cat} drawn {c['fills'].get(key)}, "
                                f"documented {fill}")
            if stripe is not None and c["stripes"].get(key) != rgb(stripe):
                problems.append(f"{name}: {c['label']}: {cat} striped "
                                f"{c['stripes'].get(key)}, documented {stripe}")
        if abs(c["width"] - c["viewbox"]) > 0.5:
            problems.append(f"{name}: {c['label']}: drawn {c['width']} px wide, scaled from "
                            f"{c['viewbox']}")


PANEL = re.compile(r'<text x="0" y="\d+" font-size="13" text-anchor="start" '
                   r'fill="#1f2933">([^<]*)</text>')
POINT = re.compile(r"<title>([0-9W-]+) - DMARC pass: (\d+), DMARC fail, not blocked by policy: "
                   r"(\d+), Quarantined: (\d+), Rejected: (\d+)</title>")


def isp_points(html, isp):
    """An ISP's series in the per-ISP chart: {day: its tooltip's counts}."""
    with open(html, encoding="utf-8") as f:
        page = f.read()
    at = page.find("<h2 id=\"isp_daily\">")
    if at < 0:
        return {}
    parts = PANEL.split(page[at:page.index("</svg>", at)])
    panels = dict(zip(parts[1::2], parts[2::2]))
    return {m[0]: tuple(int(x) for x in m[1:]) for m in POINT.findall(panels.get(isp, ""))}


def bucket_of(day, ndays):
    """The series' bucket of a day in a period of ndays (README "Series buckets")."""
    if ndays <= 62:
        return day.isoformat()
    if ndays <= 731:
        iso = day.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}"
    return day.strftime("%Y-%m")


def check_isp_series(name, html, first, ndays, problems, isp):
    """An ISP's panel: the fixture's numbers in every bucket (day, ISO week or month, summed
    from its days): Yahoo's rejections from the day they began, Orange's passing mail it
    rejected as rejected and its failing mail as failing."""
    pts = isp_points(html, isp)
    want = {}
    k = ISPS.index(isp)
    for d in range(ndays):
        day = first + datetime.timedelta(days=d)
        b = bucket_of(day, ndays)
        want[b] = tuple(a + c for a, c in zip(want.get(b, (0, 0, 0, 0)),
                                              counts((day - FIRST).days, k, day)))
    if len(pts) != len(want):
        problems.append(f"{name}: {isp}'s series has {len(pts)} points, expected {len(want)}")
        return
    for label, counted in want.items():
        if pts.get(label) != counted:
            problems.append(f"{name}: {isp} in {label}: {pts.get(label)}, expected {counted}")
            return


def check_isp_bars(name, html, first, ndays, problems):
    """The ISP chart's bars: each ISP's four categories summed over the period from the fixture
    (its failed mail not blocked is never counted as a pass)."""
    with open(html, encoding="utf-8") as f:
        page = f.read()
    at = page.index("<h2 id=\"isps\">")
    bars = {}
    for m in re.finditer(r"<title>([^<]*?) - DMARC pass: (\d+), DMARC fail, not blocked by "
                         r"policy: (\d+), Quarantined: (\d+), Rejected: (\d+)</title>",
                         page[at:page.index("</svg>", at)]):
        bars[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    for k, org in enumerate(ISPS):
        want = [0, 0, 0, 0]
        for d in range(ndays):
            day = first + datetime.timedelta(days=d)
            want = [a + b for a, b in zip(want, counts((day - FIRST).days, k, day))]
        isp = SHOWN.get(org, org)
        if bars.get(isp) != tuple(want):
            problems.append(f"{name}: the {isp} bar shows {bars.get(isp)}, expected {want}")


def main():
    if CHROMIUM is None:
        print("SKIPPED: chromium is not installed (scripts/install-deps --test)")
        return SKIPPED
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        db = fixture(tmp)
        periods = [("7 days", datetime.date(2026, 11, 24), 7),
                   ("90 days", datetime.date(2026, 9, 2), 90),
                   ("366 days", datetime.date(2025, 11, 30), 366),
                   ("3 years", FIRST, (LAST - FIRST).days + 1)]
        for name, first, ndays in periods:
            to = first + datetime.timedelta(days=ndays)
            html = os.path.join(tmp, name.replace(" ", "") + ".html")
            rc, out, err = run(["report", "--db", db, "--format", "html", "-o", html, "--from",
                                first.isoformat(), "--to", to.isoformat()])
            if rc != 0:
                problems.append(f"{name}: report failed ({rc}): {err}")
                continue
            found = probe(html, tmp)
            if found is None:
                problems.append(f"{name}: chromium could not render the report")
                continue
            check_charts(name, found, problems)
            check_isp_series(name, html, first, ndays, problems, "Yahoo")
            check_isp_series(name, html, first, ndays, problems, "Orange")
            check_isp_bars(name, html, first, ndays, problems)
            print(f"{name}: {len(found['charts'])} charts, "
                  f"{sum(c['bars'] for c in found['charts'])} bars, "
                  f"{sum(c['texts'] for c in found['charts'])} texts, widths "
                  f"{[round(c['width']) for c in found['charts']]}")
    with open(os.path.join(SOURCE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for cat, fill, stripe in CATEGORIES:
        row = f"| {cat} | `{fill}`" + (f" with `{stripe}` stripes" if stripe else "") + " |"
        if row not in readme:
            problems.append(f"README.md lacks the row {row}")
    for p in problems:
        print("FAIL", p)
    print("charts: %s" % ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
