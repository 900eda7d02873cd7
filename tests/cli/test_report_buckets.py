"""Long periods read from the month and ISO-week rollups are exact: every report below, in
every format, is byte for byte the same read through the buckets (whole months, then whole
ISO weeks, then the ragged days: sql/buckets.c), with the reports of the pairs shown counted
from their records (the test hook DMARCSTAT_TEST_BY_RECORDS, sql/query.c) or not, and read
day by day (the test hook DMARCSTAT_TEST_DAILY_ONLY).  The same holds for the ranking and the
evidence summed in C (sql/query.c, fold_run) against SQLite's GROUP BY (the test hook
DMARCSTAT_TEST_FOLD_MAX=0), and for a fold that gives up half way (DMARCSTAT_TEST_FOLD_MAX=3),
in reports and in `explain`.

The database is ingested as users do from reports generated here: three reporters from
2023-01-02 to 2027-01-05, a report every one to four days each, some covering several days
across a month's or a year's end, 29 February 2024 and ISO week 53 of 2026 (2026-12-28 to
2027-01-03), with failing and passing sources whose evidence varies (so that the largest
group of a cause, which explains it, and ties in the ranking are tested), counts spread
thinner than one a day, a policy that changes, a reporter that fell silent, and a report
without a valid date.  rollup_daily is read by months (rollup_daily_month) and days the same
way.

    DMARCSTAT=build/cli/dmarcstat DM_TEST_DATA_DIR=tests/data DM_SOURCE_DIR=. \\
        python3 tests/cli/test_report_buckets.py
"""
import datetime
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reportxml import DAY, ingest, record, report  # noqa: E402
from test_report_golden import run  # noqa: E402

FIRST = datetime.date(2023, 1, 2)
LAST = datetime.date(2027, 1, 5)
ORGS = ["google.com", "Yahoo", "Enterprise Outlook"]
SILENT = "Quiet Mail"
IPS = [f"198.51.100.{i}" for i in range(1, 9)] + [f"203.0.113.{i}" for i in range(1, 6)] + \
    ["2001:db8::25"]
FROMS = ["example.com", "shop.example", "news.example.com"]
# (disposition, dkim, spf, dkim_auth, spf_auth, reasons, envelope_from): what a source's
# records may say; most fail, some pass.
EVIDENCE = [
    ("reject", "fail", "fail", (), (("example.com", "fail"),), (), None),
    ("reject", "fail", "fail", (("esp.example.net", "s1", "pass"),),
     (("bounce.esp.example.net", "pass"),), (), "bounce.esp.example.net"),
    ("quarantine", "fail", "fail", (("example.com", "s2", "fail"),), (), (), None),
    ("none", "fail", "fail", (), (("mailer.example.org", "pass"),),
     (("forwarded", "list"),), "mailer.example.org"),
    ("none", "fail", "fail", (("lists.example.org", "k1", "pass"),), (),
     (("mailing_list", ""),), None),
    ("quarantine", "pass", "fail", (("example.com", "s1", "pass"),), (),
     (("local_policy", "held"),), None),
    ("none", "pass", "pass", (("example.com", "s1", "pass"),), (("example.com", "pass"),),
     (), None),
    ("none", "fail", "pass", (), (("example.com", "pass"),), (), None),
]
# Reports placed on purpose: (day, days) across month and year ends, the leap day and
# ISO week 53 of 2026.
EDGES = [("2023-01-30", 3), ("2023-12-30", 4), ("2024-02-28", 2), ("2024-02-29", 1),
         ("2024-03-31", 2), ("2024-12-29", 5), ("2025-02-27", 3), ("2025-06-30", 1),
         ("2025-12-31", 2), ("2026-02-28", 2), ("2026-12-27", 2), ("2026-12-28", 7),
         ("2026-12-31", 3), ("2027-01-03", 2)]

FORMATS = {"txt": [], "csv": ["--format", "csv"], "json": ["--format", "json"],
           "html": ["--format", "html"]}
# Periods: (name, arguments).  Each is cut into months, weeks and days differently.
PERIODS = [
    ("7 days", ["--from", "2024-02-26", "--to", "2024-03-04"]),
    ("30 days", ["--last", "30d", "--now", "2027-01-04"]),
    ("30 days, ragged", ["--from", "2024-02-14", "--to", "2024-03-15"]),
    ("90 days", ["--from", "2023-12-15", "--to", "2024-03-14"]),
    ("a year", ["--from", "2025-11-02", "--to", "2026-11-02"]),
    ("a year across ISO week 53", ["--from", "2026-01-05", "--to", "2027-01-06"]),
    ("3 years", ["--from", "2023-11-01", "--to", "2026-11-01"]),
    ("3 years, ragged", ["--from", "2024-02-29", "--to", "2027-01-02"]),
    ("all", ["--all"]),
    ("one day", ["--from", "2024-02-29", "--to", "2024-03-01"]),
    ("February 2024", ["--from", "2024-02-01", "--to", "2024-03-01"]),
    ("ISO week 53 of 2026", ["--from", "2026-12-28", "--to", "2027-01-04"]),
]
# Filters and views over the long periods: every one reads the failing pairs.
EXTRAS = [
    ["--top", "3"],
    ["--by-domain"],
    ["--by", "service"],
    ["--reporter", "Yahoo"],
    ["--domain", "shop.example"],
    ["--format", "csv", "--table", "sources"],
    ["--format", "csv", "--table", "source_isps"],
]


def day_ts(d):
    return int(datetime.datetime(d.year, d.month, d.day,
                                 tzinfo=datetime.timezone.utc).timestamp())


def records(rng):
    out = []
    for ip in rng.sample(IPS, rng.randint(3, 8)):
        hf = rng.choice(FROMS)
        for ev in rng.sample(EVIDENCE, rng.randint(1, 3)):
            disp, dkim, spf, dk, sp, rs, ef = ev
            # Small counts spread over several days leave days of no message.
            count = rng.choice([0, 1, 2, 3, 5, 8, 13, 21, 40, 100])
            out.append(record(ip, count, disp, dkim, spf, header_from=hf, dkim_auth=dk,
                              spf_auth=sp, reasons=rs, envelope_from=ef))
    return out


def fixture(rng):
    reports = []
    n = 0
    for org in ORGS:
        d = FIRST
        while d <= LAST:
            days = 1 if rng.random() < 0.8 else rng.randint(2, 6)
            n += 1
            # The policy changes now and then: a domain shows its last day's.
            reports.append(report(org, f"r{n}", records(rng), begin=day_ts(d),
                                  domain=rng.choice(["example.com", "shop.example"]),
                                  days=days, p="quarantine" if n % 7 == 0 else "reject"))
            d += datetime.timedelta(days=rng.randint(1, 4))
    for i, (when, days) in enumerate(EDGES):
        org = ORGS[i % len(ORGS)]
        n += 1
        reports.append(report(org, f"edge{n}", records(rng),
                              begin=day_ts(datetime.date.fromisoformat(when)), days=days))
    # Undated: counted apart, in no bucket.
    reports.append(report("Yahoo", "undated", records(rng), begin=0))
    # A reporter silent since 30 June 2025, whose last report (to 2 July) had mail on its
    # first day only: its "last seen" is the last day with mail, not the last with rows.
    d = datetime.date(2025, 1, 6)
    while d < datetime.date(2025, 6, 30):
        n += 1
        reports.append(report(SILENT, f"s{n}", records(rng), begin=day_ts(d)))
        d += datetime.timedelta(days=7)
    reports.append(report(SILENT, "s-last", [record(IPS[0], 1, header_from=FROMS[0])],
                          begin=day_ts(d), days=3))
    return reports


# The ways a report can read the failing pairs: by buckets where whole ones fit, the
# reports of the pairs shown from the period's rows or (for periods whose rows outnumber
# the pairs' records sixteen to one) from the pairs' records; forced to the records, counted
# in C (sql/query.c, count_refs) or in SQL; every day from rollup_source; grouped by SQLite
# rather than summed in C, or in C until the fourth group and then by SQLite.
WAYS = [("buckets", {}), ("buckets, reports by records", {"DMARCSTAT_TEST_BY_RECORDS": "1"}),
        ("buckets, reports by records in SQL",
         {"DMARCSTAT_TEST_BY_RECORDS": "1", "DMARCSTAT_TEST_REFS_SQL": "1"}),
        ("grouped by SQLite", {"DMARCSTAT_TEST_FOLD_MAX": "0"}),
        ("summed in C, given up", {"DMARCSTAT_TEST_FOLD_MAX": "3"}),
        ("days only", {"DMARCSTAT_TEST_DAILY_ONLY": "1"})]
# explain over a range, an address, a reporter, and the letter: its ranking and evidence are
# summed in C too.
EXPLAINS = [
    ["--ip", "198.51.100.0/24"],
    ["--ip", "198.51.100.0/24", "--letter"],
    ["--ip", "0.0.0.0/0", "--reporter", "Yahoo"],
    ["--ip", "203.0.113.2"],
    ["--ip", "2001:db8::/32", "--domain", "example.com"],
]


def both_ways(db, args, tmp, label):
    outs = []
    for way, env in WAYS:
        rc, out, err = run(args + ["--db", db], env=env)
        if rc != 0:
            return [f"{label} ({way}): exit {rc}: {err}"]
        outs.append(out)
    failures = []
    for (way, _), out in zip(WAYS[:-1], outs[:-1]):
        if out == outs[-1]:
            continue
        a, b = os.path.join(tmp, "buckets.out"), os.path.join(tmp, "days.out")
        with open(a, "wb") as f:
            f.write(out)
        with open(b, "wb") as f:
            f.write(outs[-1])
        diff = subprocess.run(["diff", "-u", b, a], capture_output=True, text=True,
                              errors="replace").stdout
        failures.append(f"{label}: read by {way}, differs from the days':\n{diff[:3000]}")
    return failures


def fixture_sound(db):
    """The fixture exercises what it should: buckets and failing sources in every period."""
    problems = []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    months = con.execute("SELECT count(*), count(DISTINCT start) FROM rollup_failing_month"
                         ).fetchone()
    weeks = con.execute("SELECT count(DISTINCT start) FROM rollup_failing_week").fetchone()[0]
    week53 = con.execute("SELECT sum(messages) FROM rollup_failing_week WHERE start = ?",
                         (day_ts(datetime.date(2026, 12, 28)),)).fetchone()[0]
    zero = con.execute("SELECT count(*) FROM rollup_source WHERE messages = 0 AND "
                       "dkim <> 'pass' AND spf <> 'pass'").fetchone()[0]
    daily_months = con.execute("SELECT count(DISTINCT start), sum(last_day <> mail_day), "
                               "count(DISTINCT p) FROM rollup_daily_month").fetchone()
    con.close()
    if daily_months[0] != 50 or not daily_months[1] or daily_months[2] != 2:
        problems.append(f"rollup_daily_month: {daily_months} (50 months with the undated "
                        "report's, some whose last day had no mail, two policies)")
    if months[1] != 49 or months[0] < 1000:
        problems.append(f"month buckets: {months} (49 months from 2023-01 to 2027-01)")
    if weeks < 200 or not week53:
        problems.append(f"week buckets: {weeks}, week 53 of 2026: {week53}")
    if zero == 0:
        problems.append("no failing row of no message (a count spread thin)")
    for name, args in PERIODS:
        rc, out, err = run(["report", "--format", "csv", "--table", "sources"] + args +
                           ["--db", db])
        if rc != 0 or out.count(b"\n") < 2:
            problems.append(f"{name}: no failing source listed ({rc}): {out[:200]!r} {err}")
    rc, out, err = run(["report", "--format", "csv", "--table", "silent_isps"] + PERIODS[4][1] +
                       ["--db", db])
    if rc != 0 or b"Quiet Mail" not in out or b"2025-06-30," not in out:
        problems.append(f"a year: the silent reporter's last day with mail: {out!r} {err}")
    return problems


def main():
    rng = random.Random(20261129)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "buckets.db")
        ingest(db, tmp, fixture(rng))
        failures += fixture_sound(db)
        for name, args in PERIODS:
            for ext, fmt in FORMATS.items():
                failures += both_ways(db, ["report"] + args + fmt, tmp, f"{name} ({ext})")
        for name, args in [PERIODS[4], PERIODS[7], PERIODS[8]]:
            for extra in EXTRAS:
                failures += both_ways(db, ["report"] + args + extra, tmp,
                                      f"{name} {' '.join(extra)}")
        for name, args in [PERIODS[0], PERIODS[1], PERIODS[4]]:
            for extra in EXPLAINS:
                failures += both_ways(db, ["explain"] + extra + args, tmp,
                                      f"explain {' '.join(extra)}, {name}")
    for f in failures:
        print("FAIL", f)
    print(f"buckets: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
