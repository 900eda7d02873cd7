"""ISP names as reporters write them, merged by rule into one row per ISP ("Google, Inc." and
google.com; AMAZON-SES and Amazon; "Orange." and orange.fr; ニフティ株式会社 and nifty.com),
and text tables aligned by display width when a name is Japanese (wide characters take two
columns): every row's columns start at the same display column as the header's.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_names.py
"""
import json
import os
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reportxml import NOV02, ingest, record, report  # noqa: E402
from test_report_golden import PERIOD, run  # noqa: E402

REPORTERS = [("Google, Inc.", 10), ("google.com", 20), ("AMAZON-SES", 3), ("Amazon", 4),
             ("Orange.", 5), ("orange.fr", 6), ("ニフティ株式会社", 7), ("nifty.com", 8),
             ("さくらインターネット株式会社", 9)]


def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


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
        header, rows = lines[0], lines[1:]
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
    for p in problems:
        print("FAIL", p)
    print("report names: %s" % ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
