"""Reports of any length: a week in days, 90 days in ISO weeks, three years in months, and
--all, in every format, byte for byte against tests/data/report/golden/periods-*; and the
series checked against the period: its buckets follow each other without a gap, cut to the
period, and sum to the overview's messages.

The database is tests/data/report/periods ingested as users do: reports from 2023-11-06 to
2026-11-08, among them reports spanning a year's end, a month's end and a leap day, and one
without a valid date (counted apart).

    DMARCSTAT=build/cli/dmarcstat DM_TEST_DATA_DIR=tests/data DM_SOURCE_DIR=. \\
        python3 tests/cli/test_report_periods.py
    DM_UPDATE_GOLDEN=1 ...   rewrites the golden files (then review the diff).
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_report_golden import DATA, GOLDEN, run  # noqa: E402

FIXTURES = os.path.join(DATA, "report", "periods")
PERIODS = {
    "7d": (["--from", "2026-11-01", "--to", "2026-11-08"], "day", 7),
    "90d": (["--from", "2026-08-10", "--to", "2026-11-08"], "week", 13),
    "3y": (["--from", "2023-11-01", "--to", "2026-11-01"], "month", 36),
}
FORMATS = {"txt": [], "csv": ["--format", "csv"], "json": ["--format", "json"],
           "html": ["--format", "html"]}


def cases():
    for name, (args, _, _) in PERIODS.items():
        for ext, fmt in FORMATS.items():
            yield f"periods-{name}.{ext}", ["report"] + args + fmt
    yield "periods-all.txt", ["report", "--all"]
    yield "periods-all.json", ["report", "--all", "--format", "json"]
    # New sources when no report precedes the period: old only when an undated report of
    # the filter has the IP (192.0.2.10 for the whole database, not for Yahoo's reports).
    yield "periods-all-yahoo.txt", ["report", "--all", "--reporter", "Yahoo"]
    yield "periods-all-shop.txt", ["report", "--all", "--domain", "shop.example"]
    yield "periods-explain-all.txt", ["explain", "--all", "--ip", "198.51.100.20"]


def fixture_db(tmp):
    db = os.path.join(tmp, "periods.db")
    rc, out, err = run(["ingest", "--quiet", "--db", db, FIXTURES])
    assert rc == 0, f"ingest of {FIXTURES} failed ({rc}): {err}"
    return db


def golden(db, tmp, update):
    failures = []
    for name, args in cases():
        rc, out, err = run(args + ["--db", db])
        path = os.path.join(GOLDEN, name)
        if rc != 0:
            failures.append(f"{name}: exit {rc}: {err}")
            continue
        if update:
            with open(path, "wb") as f:
                f.write(out)
            continue
        with open(path, "rb") as f:
            want = f.read()
        if out != want:
            got = os.path.join(tmp, name)
            with open(got, "wb") as f:
                f.write(out)
            diff = subprocess.run(["diff", "-u", path, got], capture_output=True, text=True,
                                  errors="replace").stdout
            failures.append(f"{name}: differs from the golden file:\n{diff[:3000]}")
    return failures


def day(s):
    return datetime.date.fromisoformat(s)


def series(db, name, args, bucket, n):
    """The JSON series of a period: its bucket, n points that tile the period, labels that
    name the bucket each point is in, sums equal to the overview's."""
    rc, out, err = run(["report", "--format", "json", "--db", db] + args)
    doc = json.loads(out)
    pts, per = doc["daily"], doc["period"]
    problems = []
    if doc["bucket"] != bucket or len(pts) != n:
        problems.append(f"{name}: bucket {doc['bucket']} with {len(pts)} points")
    nxt = day(per["first_day"])
    for p in pts:
        first, last = day(p["first_day"]), day(p["last_day"])
        if first != nxt or last < first:
            problems.append(f"{name}: point {p['bucket']} is {first} to {last}, want from {nxt}")
        nxt = last + datetime.timedelta(days=1)
        iso = first.isocalendar()
        want = {"day": first.isoformat(), "week": f"{iso[0]}-W{iso[1]:02d}",
                "month": first.strftime("%Y-%m")}[bucket]
        if p["bucket"] != want:
            problems.append(f"{name}: point from {first} is called {p['bucket']}, want {want}")
        # A bucket never straddles a week's or a month's start.
        span = {"day": 0, "week": 6 - first.weekday(),
                "month": (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
                .toordinal() - 1 - first.toordinal()}[bucket]
        if last > first + datetime.timedelta(days=span):
            problems.append(f"{name}: point {p['bucket']} runs on to {last}")
    if nxt != day(per["last_day"]) + datetime.timedelta(days=1):
        problems.append(f"{name}: the points end on {nxt}, not after {per['last_day']}")
    total = next(r["value"] for r in doc["overview"] if r["metric"] == "messages")
    if sum(p["messages"] for p in pts) != total or total == 0:
        problems.append(f"{name}: the series sums to {sum(p['messages'] for p in pts)}, "
                        f"the overview says {total}")
    return problems


def all_period(db, tmp):
    """--all is the first to the last day of the dated reports, whatever --now says; without
    a dated report, the default period."""
    problems = []
    rc, out, err = run(["report", "--all", "--db", db, "--now", "2030-01-01"])
    head = out.split(b"\n", 1)[0]
    if rc != 0 or head != b"DMARC report 2023-11-06 to 2026-11-08 (1099 days, UTC; previous " \
                          b"period 2020-11-02 to 2023-11-05)":
        problems.append(f"--all: {rc} {head!r} {err}")
    undated = os.path.join(tmp, "undated.db")
    rc, out, err = run(["ingest", "--quiet", "--db", undated,
                        os.path.join(FIXTURES, "undated-test-generator.xml")])
    rc, out, err = run(["report", "--all", "--db", undated, "--now", "2026-11-28"])
    if rc != 0 or not out.startswith(b"DMARC report 2026-11-21 to 2026-11-27 (7 days") \
            or not re.search(rb"Reports without a valid date \(in no period\) +1 ", out):
        problems.append(f"--all without dated reports: {rc} {out[:200]!r} {err}")
    # One day is "1 day", in text and HTML.
    rc, out, err = run(["report", "--last", "1d", "--db", db, "--now", "2026-11-08"])
    if rc != 0 or not out.startswith(b"DMARC report 2026-11-07 to 2026-11-07 (1 day, UTC; "
                                     b"previous period 2026-11-06 to 2026-11-06)\n"):
        problems.append(f"--last 1d, text: {rc} {out[:120]!r} {err}")
    rc, out, err = run(["report", "--last", "1d", "--db", db, "--now", "2026-11-08",
                        "--format", "html"])
    if rc != 0 or b">1 day, UTC; compared with 2026-11-06 to 2026-11-06. Domain: " not in out:
        problems.append(f"--last 1d, HTML: {rc} {err}")
    return problems


def main():
    update = os.environ.get("DM_UPDATE_GOLDEN") == "1"
    with tempfile.TemporaryDirectory() as tmp:
        db = fixture_db(tmp)
        failures = golden(db, tmp, update)
        for name, (args, bucket, n) in PERIODS.items():
            failures += series(db, name, args, bucket, n)
        failures += all_period(db, tmp)
    for f in failures:
        print("FAIL", f)
    print(f"periods: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
