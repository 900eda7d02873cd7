"""The HTML report rendered by headless Chromium: the DOM holds the expected numbers of the
samples and no script element; a screenshot is written (to look at when a test fails); a report
full of hostile strings renders them as text, never as markup.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_html.py
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_report_golden import PERIOD, SOURCE, run, sample_db  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\",'&\x01\x1b[31m\xff"


def chromium(args):
    p = subprocess.run([CHROMIUM] + FLAGS + args, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def render(db, tmp, name):
    path = os.path.join(tmp, name)
    rc, out, err = run(["report", "--db", db, "--format", "html", "-o", path] + PERIOD)
    assert rc == 0 and out == b"", f"report --format html failed ({rc}): {err}"
    return path


def hostile_db(tmp):
    db = os.path.join(tmp, "hostile.db")
    con = sqlite3.connect(db)
    for s in ("schema.sql", "views.sql"):
        con.executescript(open(os.path.join(SOURCE, "sql", s)).read())
    h = HOSTILE.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff")
    con.execute("INSERT INTO report (id, org_name, report_id, \"begin\", \"end\", schema, domain,"
                " p, stored_at) VALUES (1, ?, 'r1', 1793577600, 1793663999, 'rfc7489', ?, ?, 0)",
                (h, h, h))
    con.execute("INSERT INTO record (id, report, source_ip, count, disposition, dkim, spf,"
                " header_from, envelope_from) VALUES (1, 1, '198.51.100.9', 5, 'reject', 'fail',"
                " 'fail', ?, ?)", (h, h))
    # The results are JSON in the record's row (schema version 10): the same bytes, as text.
    con.execute("INSERT INTO dkim_result (record, n, domain, selector, result) VALUES (1, 0,"
                " CAST(? AS TEXT), CAST(? AS TEXT), 'pass')", (h, h))
    con.execute("UPDATE report SET record_count = 1, message_count = 5 WHERE id = 1")
    con.executescript(open(os.path.join(SOURCE, "sql", "rollup_rebuild.sql")).read())
    con.commit()
    con.close()
    return db


# What could make a browser or mail client run code or fetch anything: scripts, event handlers,
# and every way to name a URL (elements with src/href, CSS url() and @import, meta refresh).  A
# url() of a fragment of the page itself (the charts' stripes: "url(#daily-fail_not_blocked)")
# fetches nothing.
ACTIVE = re.compile(r"<script|<iframe|<object|<embed|<link|<img|<meta[^>]*refresh|\son[a-z]+\s*="
                    r"|\ssrc\s*=|\shref\s*=|url\((?!#[A-Za-z0-9_-]+\))|@import|javascript:", re.I)


def inert(path, problems):
    """The HTML file itself (not only the DOM) holds nothing active and names no URL: in its tags
    and its style sheets (escaped report text, such as "&lt;img src=x&gt;", is only text)."""
    with open(path, encoding="utf-8") as f:
        html = f.read()
    markup = re.findall(r"<[^>]*>", html) + re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    found = ACTIVE.findall("\n".join(markup))
    if found:
        problems.append(f"{os.path.basename(path)} holds {sorted(set(found))}")


def main():
    problems = []
    if CHROMIUM is None:
        print("FAIL chromium is not installed (apt-get install -y chromium)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        html = render(sample_db(tmp), tmp, "report.html")
        rc, dom = chromium(["--dump-dom", "file://" + html])
        if rc != 0 or "<h1>DMARC report 2026-11-01 to 2026-11-07</h1>" not in dom:
            problems.append(f"chromium could not render the report (rc {rc})")
        for want in ("<td class=\"n\">24734</td>", "<td class=\"n\">17153</td>",
                     "<td class=\"n bad\">3480</td>", "<td class=\"n bad\">2258</td>",
                     "Source IP 198.51.100.20</th>", "<td>esp_not_aligned</td>",
                     "<td>shop.example.com</td>", "<td>local_policy</td>",
                     "<td>Old Relay Inc.</td>", "<td class=\"n\">74.0</td>",
                     "aria-label=\"Messages per day, by category\"",
                     "aria-label=\"Messages per ISP, by category\"", "<b>Fix:</b> At the provider"):
            if want not in dom:
                problems.append(f"DOM lacks {want}")
        if re.search(r"<script", dom, re.I):
            problems.append("DOM has a script element")
        inert(html, problems)
        shot = os.path.join(tmp, "report.png")
        chromium(["--window-size=1100,2400", "--screenshot=" + shot, "file://" + html])
        if not os.path.exists(shot) or os.path.getsize(shot) < 20000:
            problems.append("no screenshot, or an empty one")
        elif os.environ.get("DM_KEEP_SCREENSHOT"):
            shutil.copy(shot, os.environ["DM_KEEP_SCREENSHOT"])

        html = render(hostile_db(tmp), tmp, "hostile.html")
        rc, dom = chromium(["--dump-dom", "file://" + html])
        if re.search(r"<script|<img|onerror=\"", dom, re.I):
            problems.append("hostile strings became markup in the DOM")
        if "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" not in dom:
            problems.append("hostile strings are not shown as text in the DOM")
        inert(html, problems)
    for p in problems:
        print("FAIL", p)
    print("html: %s" % ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
