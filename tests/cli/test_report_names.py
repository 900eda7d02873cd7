"""ISP names as reporters write them, merged by rule into one row per ISP ("Google, Inc." and
google.com; AMAZON-SES and Amazon; "Orange." and orange.fr; ニフティ株式会社 and nifty.com), also
for names no table knows ("Foo Mail, Inc.", "FOO MAIL INC", "foo mail inc.", "Foo-Mail LLC" are
one row, "Foo Mail"), each row listing the org_names it stands for in every format,
and text tables aligned by display width when a name is Japanese (wide characters take two
columns): every row's columns start at the same display column as the header's.  Widths are
computed here from Python's unicodedata, apart from the C library's wcwidth that dmarcstat uses,
and checked under LANG=C, LANG=C.UTF-8 and --lang ja: the layout must not follow the locale.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_names.py
"""
import csv
import io
import json
import os
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reportxml import DAY, NOV02, ingest, record, report  # noqa: E402
from test_report_golden import PERIOD, run  # noqa: E402

REPORTERS = [("Google, Inc.", 10), ("google.com", 20), ("AMAZON-SES", 3), ("Amazon", 4),
             ("Orange.", 5), ("orange.fr", 6), ("ニフティ株式会社", 7), ("nifty.com", 8),
             ("さくらインターネット株式会社", 9)]


# Names a text table must align: full-width and half-width katakana (ﾊﾞ is two characters of
# one column each), a combining accent (no column), an emoji (two), fullwidth Latin.
WIDE = ["ニフティ株式会社", "ＡＢＣメール株式会社", "ｿﾌﾄﾊﾞﾝｸﾃｽﾄ", "Ame\u0301lie Mail",
        "\U0001F4E7 Mail", "ＫＤＤＩ", "Plain ISP"]
# LANG=C as cron gives it, a UTF-8 LANG, and Japanese titles.
LOCALES = [("LANG=C", {"LC_ALL": "", "LANG": "C"}, []),
           ("LANG=C.UTF-8", {"LC_ALL": "", "LANG": "C.UTF-8"}, []),
           ("--lang ja", {"LC_ALL": "", "LANG": "C"}, ["--lang", "ja"])]


def char_width(c):
    if unicodedata.category(c) in ("Mn", "Me") or c == "\u200b":
        return 0
    return 2 if unicodedata.east_asian_width(c) in "WF" else 1


def width(s):
    return sum(char_width(c) for c in s)


def spans(line):
    """(start, end) display columns of each cell: cells are separated by two spaces or more."""
    out, col, start, spaces = [], 0, None, 0
    for c in line:
        if c == " ":
            spaces += 1
        else:
            if start is not None and spaces >= 2:
                out.append((start, end))
                start = None
            if start is None:
                start = col
            end = col + char_width(c)
            spaces = 0
        col += char_width(c)
    if start is not None:
        out.append((start, end))
    return out


def isp_table(text, names):
    """The header and rows of the ISP table: the rows are the lines that start with a name."""
    lines = text.splitlines()
    first = min(i for i, ln in enumerate(lines) if any(ln.startswith(n + " ") for n in names))
    rows = []
    for ln in lines[first:]:
        if not ln:
            break
        if not ln.startswith(" "):  # not a "Reported as" line under a row
            rows.append(ln)
    return lines[first - 1], rows


def aligned_everywhere(problems, tmp):
    """Every cell of the ISP table starts (left-aligned text) or ends (right-aligned numbers)
    at the display column of its title, whatever the locale."""
    db = os.path.join(tmp, "wide.db")
    reports = [report(org, f"w-{i}", [record("192.0.2.9", 50 - i, disp="none")], begin=NOV02)
               for i, org in enumerate(WIDE)]
    ingest(db, tmp, reports)
    shown = ["NIFTY", "KDDI (au)"] + [n for n in WIDE if n not in ("ニフティ株式会社", "ＫＤＤＩ")]
    for label, env, extra in LOCALES:
        rc, out, err = run(["report", "--db", db] + PERIOD + extra, env)
        if rc != 0:
            problems.append(f"{label}: exit {rc}: {err}")
            continue
        header, rows = isp_table(out.decode(), shown)
        want = spans(header)
        if len(rows) != len(WIDE) or sorted(r.split("  ")[0] for r in rows) != sorted(shown):
            problems.append(f"{label}: ISP rows {rows!r}")
        for row in rows:
            got = spans(row)
            ok = len(got) == len(want) and got[0][0] == want[0][0] and \
                got[-1][0] == want[-1][0] and \
                all(g[1] == w[1] for g, w in zip(got[1:-1], want[1:-1]))
            if not ok:
                problems.append(f"{label}: misaligned by display width:\n{header}\n{row}\n"
                                f"header cells {want}, row cells {got}")
        if label == "--lang ja" and header.isascii():
            problems.append(f"--lang ja: the header is not Japanese: {header!r}")


# One company no table knows, as four report generators write it, beside one written alone.
FOO = [("Foo Mail, Inc.", 1), ("FOO MAIL INC", 2), ("foo mail inc.", 3), ("Foo-Mail LLC", 4),
       ("Solo Reporter Corp.", 5), ("Google, Inc.", 6), ("google.com", 7)]
FOO_ORGS = ["FOO MAIL INC", "Foo Mail, Inc.", "Foo-Mail LLC", "foo mail inc."]


def merged_by_rule(problems, tmp):
    """Unknown org_names that differ only in case, punctuation, corporate words or a trailing
    dot are one ISP, named by the one written in mixed case without its corporate words; each
    row lists the org_names it stands for: JSON array, CSV column, text and HTML line."""
    db = os.path.join(tmp, "foo.db")
    ingest(db, tmp, [report(org, f"f-{i}", [record("192.0.2.8", n, disp="none")], begin=NOV02)
                     for i, (org, n) in enumerate(FOO)])
    rc, out, err = run(["report", "--db", db, "--format", "json"] + PERIOD)
    got = {i["isp"]: (i["messages"], i["org_names"]) for i in json.loads(out)["isps"]} \
        if rc == 0 else {}
    want = {"Foo Mail": (10, FOO_ORGS), "Solo Reporter Corp.": (5, ["Solo Reporter Corp."]),
            "Google": (13, ["Google, Inc.", "google.com"])}
    if got != want:
        problems.append(f"json: want {want}, got {rc} {got} {err}")
    rc, out, err = run(["report", "--db", db, "--format", "csv", "--table", "isps"] + PERIOD)
    rows = {r["isp"]: (r["messages"], r["org_names"])
            for r in csv.DictReader(io.StringIO(out.decode()))} if rc == 0 else {}
    want_csv = {k: (str(m), "; ".join(o)) for k, (m, o) in want.items()}
    if rows != want_csv:
        problems.append(f"csv: want {want_csv}, got {rc} {rows} {err}")
    rc, out, err = run(["report", "--db", db] + PERIOD)
    text = out.decode().split("By ISP\n======\n", 1)[-1].split("\n\n", 1)[0]
    if rc != 0 or ("\nFoo Mail                   10 " not in text or
                   "\n      Reported as: " + "; ".join(FOO_ORGS) + "\n" not in text or
                   "\nSolo Reporter Corp.         5 " not in text or text.count("Reported as") != 2):
        problems.append(f"text: {rc} {text!r} {err}")
    rc, out, err = run(["report", "--db", db, "--format", "html"] + PERIOD)
    html = out.decode()
    if rc != 0 or "<b>Reported as:</b> " + "; ".join(FOO_ORGS) + "</td>" not in html \
            or html.count("<b>Reported as:</b>") != 2:
        problems.append(f"html: the names under the Foo Mail row: {rc} {err}")
    # The merged name is a --reporter, and a near miss is told what it is close to.
    rc, out, err = run(["report", "--db", db, "--format", "json", "--reporter", "foo mail"]
                       + PERIOD)
    isps = [i["isp"] for i in json.loads(out)["isps"]] if rc == 0 else []
    if isps != ["Foo Mail"]:
        problems.append(f"--reporter 'foo mail': {rc} {isps} {err}")
    rc, out, err = run(["report", "--db", db, "--reporter", "Foo Mial"] + PERIOD)
    if rc != 2 or "did you mean Foo Mail?" not in err:
        problems.append(f"--reporter 'Foo Mial': {rc} {err!r}")
    rc, out, err = run(["explain", "--db", db, "--ip", "192.0.2.8"] + PERIOD)
    if rc != 0 or "\n  Foo Mail: 10 messages" not in out.decode():
        problems.append(f"explain: one Foo Mail: {rc} {out[:600]!r} {err}")


def names_of_the_period(problems, tmp):
    """An ISP row lists the org_names that reported in its period (and domain), not every
    org_name of the database, while its name stays the one of the whole database."""
    db = os.path.join(tmp, "period.db")
    oct03 = NOV02 - 30 * DAY
    ingest(db, tmp, [
        report("Foo Mail, Inc.", "p-1", [record("192.0.2.8", 5, disp="none")], begin=NOV02),
        report("Foo-Mail LLC", "p-2", [record("192.0.2.8", 6, disp="none",
                                              header_from="other.example")],
               begin=NOV02, domain="other.example"),
        report("FOO MAIL INC", "p-3", [record("192.0.2.8", 7, disp="none")], begin=oct03),
        report("foo mail inc.", "p-4", [record("192.0.2.8", 8, disp="none")], begin=oct03)])
    cases = [(PERIOD, {"Foo Mail": (11, ["Foo Mail, Inc.", "Foo-Mail LLC"])}),
             (PERIOD + ["--domain", "example.com"], {"Foo Mail": (5, ["Foo Mail, Inc."])}),
             (["--from", "2026-10-01", "--to", "2026-10-08"],
              {"Foo Mail": (15, ["FOO MAIL INC", "foo mail inc."])})]
    for args, want in cases:
        rc, out, err = run(["report", "--db", db, "--format", "json"] + args)
        got = {i["isp"]: (i["messages"], i["org_names"]) for i in json.loads(out)["isps"]} \
            if rc == 0 else {}
        if got != want:
            problems.append(f"org_names of the period {args}: want {want}, got {rc} {got} {err}")
    rc, out, err = run(["report", "--db", db, "--format", "csv", "--table", "isps",
                        "--domain", "example.com"] + PERIOD)
    rows = [(r["isp"], r["org_names"]) for r in csv.DictReader(io.StringIO(out.decode()))]
    if rc != 0 or rows != [("Foo Mail", "Foo Mail, Inc.")]:
        problems.append(f"csv org_names of the period: {rc} {rows} {err}")
    # One name in the period: no "Reported as" line under the row.
    rc, out, err = run(["report", "--db", db, "--domain", "example.com"] + PERIOD)
    if rc != 0 or "Reported as" in out.decode() or "\nFoo Mail " not in out.decode():
        problems.append(f"text: one org_name in the period: {rc} {out[:800]!r} {err}")


def main():
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "n.db")
        reports = [report(org, f"n-{i}", [record("192.0.2.7", n, disp="none")], begin=NOV02)
                   for i, (org, n) in enumerate(REPORTERS)]
        ingest(db, tmp, reports)
        rc, out, err = run(["report", "--db", db, "--format", "json"] + PERIOD)
        isps = {i["isp"]: i["messages"] for i in json.loads(out)["isps"]}
        want = {"Google": 30, "Amazon": 7, "Orange": 11, "NIFTY": 15,
                "さくらインターネット株式会社": 9}
        if rc != 0 or isps != want:
            problems.append(f"ISPs merged: want {want}, got {rc} {isps} {err}")
        rc, out, err = run(["report", "--db", db] + PERIOD)
        text = out.decode()
        lines = text.split("By ISP\n======\n", 1)[1].split("\n\n", 1)[0].splitlines()
        # Rows, not the "Reported as" lines under the rows that merge several names.
        header, rows = lines[0], [ln for ln in lines[1:] if not ln.startswith(" ")]
        notes = [ln.strip() for ln in lines[1:] if ln.startswith(" ")]
        if sorted(notes) != ["Reported as: AMAZON-SES; Amazon",
                             "Reported as: Google, Inc.; google.com",
                             "Reported as: Orange.; orange.fr",
                             "Reported as: nifty.com; ニフティ株式会社"]:
            problems.append(f"text: the names each merged row stands for: {notes}")
        # Numbers are right-aligned: each row's "Messages" figure ends where the title ends.
        end = width(header[:header.index("Messages") + len("Messages")])
        for row in rows:
            cells = row.split()
            num = [c for c in cells if c.isdigit()][0]
            i = row.index(" " + num + " ") + 1
            if width(row[:i + len(num)]) != end:
                problems.append(f"misaligned by display width: {row!r} (Messages ends at "
                                f"{width(row[:i + len(num)])}, header at {end})")
        if not any("さくらインターネット株式会社" in r for r in rows) or len(rows) != 5:
            problems.append(f"rows: {rows!r}")
        aligned_everywhere(problems, tmp)
        merged_by_rule(problems, tmp)
        names_of_the_period(problems, tmp)
    for p in problems:
        print("FAIL", p)
    print("report names: %s" % ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
