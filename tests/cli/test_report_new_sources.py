"""New sources (`report`'s new_sources) on a database with few addresses and many reports each,
the shape for which the query walks every address of record(source_ip) instead of taking the
period's distinct addresses (sql/query.c, walk_addresses): old addresses, addresses first seen
in the period (one of them also seen after it), an address seen only after the period, and a
reporter filter (which reads the period's rows instead).  Every answer is checked against SQL
over the same database.

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


def expected(con, reporter=None):
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
                       {"from": FROM, "to": TO, "org": reporter}).fetchall()
    return [(ip, day, m, p) for ip, day, m, p in rows]


def got(db, extra=()):
    rc, out, err = run(["report", "--format", "json", "--db", db] + PERIOD + list(extra))
    assert rc == 0, f"report failed ({rc}): {err}"
    return json.loads(out)["new_sources"]


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
        # The shape walk_addresses() asks for, so that this test goes that way: at most a
        # sixteenth as many addresses as the period has rows, and the rows after the period
        # at most a quarter of the period's.
        rows_in = con.execute("SELECT count(*) FROM rollup_source WHERE day >= ? AND day < ?",
                              (FROM, TO)).fetchone()[0]
        rows_after = con.execute("SELECT count(*) FROM rollup_source WHERE day >= ?",
                                 (TO,)).fetchone()[0]
        ips = con.execute("SELECT count(DISTINCT source_ip) FROM record").fetchone()[0]
        t.check("the fixture has few addresses and many rows each", [
            "" if ips * 16 <= rows_in else f"{ips} addresses for {rows_in} rows",
            "" if rows_after * 4 <= rows_in else f"{rows_after} rows after the period"])
        want = expected(con)
        t.check("SQL finds the two new addresses, not the one seen only later",
                "" if [w[0] for w in want] == sorted(NEW, key=lambda ip: ip != NEW[0])
                else f"SQL says {want}")
        same(t, "new sources, every reporter", got(db), want)
        for org in ORGS[:2]:
            same(t, f"new sources, --reporter {org}", got(db, ["--reporter", org]),
                 expected(con, org))
        con.close()
    t.finish()


if __name__ == "__main__":
    main()
