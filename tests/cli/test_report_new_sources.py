"""New sources (`report`'s new_sources): old addresses, addresses first seen in the period (one of
them also seen after it), an address seen only after the period, and a reporter filter (which
reads the period's rows instead of source_seen, sql/query.c).  Then three years of reports, with
addresses first seen all along, an undated report and reports over several days across month
and year ends: --all, the first, a middle and the last year, 29 February and a reporter, so
that each way of sql/query.c (source_seen alone when no row follows the period, source_seen
and the new addresses' records when some do, the period's rows for a reporter) is taken.  Every answer is checked against SQL over the same database.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_new_sources.py
"""
import datetime
import json
import os
import sqlite3
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import harness  # noqa: E402
from harness import Tally  # noqa: E402
from reportxml import DAY, NOV02, ingest, record, report  # noqa: E402
from test_report_golden import run  # noqa: E402

# The period: 2026-11-02 to 2026-11-08.
PERIOD = ["--from", "2026-11-02", "--to", "2026-11-09"]
FROM, TO = NOV02, NOV02 + 7 * DAY
OLD = [f"192.0.2.{i}" for i in range(1, 5)]
NEW = ["198.51.100.7", "2001:db8::7"]
LATER = "203.0.113.9"
ORGS = ["Google", "Yahoo", "Microsoft", "Comcast"]


def reports():
    """Old addresses before and in the period, new ones in it, one after it."""
    out = []
    for d in range(-6, 7):
        for k, org in enumerate(ORGS):
            recs = [record(ip, 3 + d % 4, "reject" if (i + d) % 3 == 0 else "none",
                           dkim="pass" if i % 2 else "fail")
                    for i, ip in enumerate(OLD)]
            if d >= 2:
                recs.append(record(NEW[0], 5 + d, "quarantine"))
            if d >= 4 and org == "Yahoo":
                recs.append(record(NEW[1], 2, "none", dkim="pass"))
            out.append(report(org, f"{org}-{d}", recs, begin=NOV02 + d * DAY))
    out.append(report("Google", "after", [record(LATER, 9), record(NEW[0], 4)],
                      begin=TO))
    return out


def expected(con, reporter=None, period=(FROM, TO)):
    """New sources by SQL: addresses in the period's rows that no report of the filter starting
    before the period has, with their first day, messages and DMARC passes in the period."""
    rep = " AND rr.org_name = :org" if reporter else ""
    rows = con.execute(f"""
        SELECT s.source_ip, min(s.day), sum(s.messages),
               sum(CASE WHEN s.dkim = 'pass' OR s.spf = 'pass' THEN s.messages ELSE 0 END)
        FROM rollup_source s
        WHERE s.day >= :from AND s.day < :to {rep.replace('rr.', 's.')}
          AND NOT EXISTS (SELECT 1 FROM record r JOIN rollup_report rr ON rr.report = r.report
                          WHERE r.source_ip = s.source_ip AND rr.day0 < :from {rep})
        GROUP BY s.source_ip ORDER BY 3 DESC, 1""",
                       {"from": period[0], "to": period[1], "org": reporter}).fetchall()
    return [(ip, day, m, p) for ip, day, m, p in rows]


def got(db, extra=(), period=None):
    rc, out, err = run(["report", "--format", "json", "--db", db]
                       + (PERIOD if period is None else period) + list(extra))
    assert rc == 0, f"report failed ({rc}): {err}"
    return json.loads(out)["new_sources"]


def span(db, period):
    """The period report gives for these options, as day starts [from, to)."""
    rc, out, err = run(["report", "--format", "json", "--db", db] + period)
    assert rc == 0, f"report failed ({rc}): {err}"
    p = json.loads(out)["period"]
    day = [int(datetime.datetime.strptime(p[k], "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc).timestamp()) for k in ("first_day", "last_day")]
    return day[0], day[1] + DAY


JAN2024 = 1704067200  # 2024-01-01 00:00 UTC
WEEKS = 148            # 2024-01-01 to 2026-10-31, a report date a week


def long_reports():
    """Three years: 192.0.2.1 all along, 10.0.0.j from week 6 j for 20 weeks (new addresses
    all the time), some reports over three days (across month and year ends), an address of an
    undated report seen again in the last year."""
    out = []
    for w in range(WEEKS):
        begin = JAN2024 + w * 7 * DAY - (2 * DAY if w % 5 == 0 else 0)
        for k, org in enumerate(ORGS[:2]):
            recs = [record("192.0.2.1", 10 + w % 7, "none", dkim="pass")]
            recs += [record(f"10.0.0.{j}", 1 + (w + j + k) % 9,
                            "reject" if (w + j) % 4 == 0 else "none",
                            dkim="pass" if (w + j) % 3 == 0 else "fail")
                     for j in range(max(0, (w - 19 + 5) // 6), w // 6 + 1)]
            if org == "Yahoo" and w % 9 == 4:
                recs.append(record(f"198.51.100.{w}", 3, "quarantine"))
            if w >= 120:
                recs.append(record("203.0.113.50", 2, "none", spf="pass"))
            out.append(report(org, f"{org}-long-{w}", recs, begin=begin,
                              days=3 if w % 5 == 0 else 1))
    out.append(report("Google", "undated", [record("203.0.113.50", 4)], begin=0))
    return out


LONG_PERIODS = [
    ("--all", ["--all"], {}),
    ("the first year", ["--from", "2024-01-01", "--to", "2025-01-01"], {}),
    ("a middle year", ["--from", "2025-03-01", "--to", "2026-03-01"], {}),
    ("the last year", ["--from", "2025-11-01", "--to", "2026-11-05"], {}),
    ("29 February 2024 on", ["--from", "2024-02-29", "--to", "2024-04-01"], {}),
    ("--all, --reporter Yahoo", ["--all", "--reporter", "Yahoo"], {"reporter": "Yahoo"}),
    ("a middle year, --reporter Google", ["--from", "2025-03-01", "--to", "2026-03-01",
                                          "--reporter", "Google"], {"reporter": "Google"}),
]


def long_periods(t, tmp):
    db = os.path.join(tmp, "long.db")
    ingest(db, tmp, long_reports())
    con = sqlite3.connect(db)
    counts = []
    for name, period, kw in LONG_PERIODS:
        want = expected(con, period=span(db, period), **kw)
        counts.append(len(want))
        same(t, f"new sources, {name}", got(db, period=period), want)
    t.check("every long period finds new addresses; without a reporter, never the undated one",
            ["" if min(counts) > 0 else f"{counts}"]
            + [f"{name}: 203.0.113.50 is new" for name, period, kw in LONG_PERIODS
               if not kw and "203.0.113.50" in
               [r["source_ip"] for r in got(db, period=period)]])
    con.close()


def same(t, name, rows, want):
    problems = []
    if [r["source_ip"] for r in rows] != [w[0] for w in want]:
        problems.append(f"addresses {[r['source_ip'] for r in rows]}, "
                        f"SQL {[w[0] for w in want]}")
    for r, (ip, day, m, p) in zip(rows, want):
        first = datetime.datetime.fromtimestamp(day, datetime.timezone.utc).strftime("%Y-%m-%d")
        if r["first_seen"] != first or r["messages"] != m:
            problems.append(f"{ip}: {r['first_seen']} {r['messages']}, SQL {first} {m}")
        pct = 100.0 * p / m
        if r["dmarc_pass_percent"] is None or abs(r["dmarc_pass_percent"] - pct) > 0.05:
            problems.append(f"{ip}: pass {r['dmarc_pass_percent']} %, SQL {pct:.1f} %")
    t.check(name, problems)


def main():
    harness.need_binary()
    t = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "new.db")
        ingest(db, tmp, reports())
        con = sqlite3.connect(db)
        # Rows after the period (the address seen only later, a new one seen again), so that
        # source_seen's sums over every day are not the period's (sql/query.c, new_seen_sql).
        rows_after = con.execute("SELECT count(*) FROM rollup_source WHERE day >= ?",
                                 (TO,)).fetchone()[0]
        t.check("the fixture has rows after the period",
                "" if rows_after > 0 else "no row after the period")
        want = expected(con)
        t.check("SQL finds the two new addresses, not the one seen only later",
                "" if [w[0] for w in want] == sorted(NEW, key=lambda ip: ip != NEW[0])
                else f"SQL says {want}")
        same(t, "new sources, every reporter", got(db), want)
        for org in ORGS[:2]:
            same(t, f"new sources, --reporter {org}", got(db, ["--reporter", org]),
                 expected(con, org))
        con.close()
        long_periods(t, tmp)
    t.finish()


if __name__ == "__main__":
    main()
