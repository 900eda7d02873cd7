#!/usr/bin/env python3
"""gen.py - a large synthetic dmarcstat database for the report benchmark.

    python3 bench/report/gen.py [--records 10000000] [--per-report 100] [--days 365] OUT.db

Shape (one big sender): --days days of reports, ending with 2026-11-01, from 20 reporters for example.com,
--per-report records each, source IPs from a pool of 20,000 (198.18.0.0/15, the benchmarking
range of RFC 2544), one DKIM and one SPF result per record, a reason on 1 % of them.  About
85 % of the mail passes DMARC from the sender's own servers (1 % of it rejected all the same:
passed-but-blocked); the rest comes from an ESP's IPs for ten customer domains
(customer0.example ... customer9.example, several on each IP, so the failing sources are
(source IP, From domain) pairs): the ESP without alignment (quarantined or rejected), SPF
softfails, forwarders and customers' own DKIM signatures failing.

Everything is generated inside SQLite with recursive CTEs in one transaction per table (no row
goes through Python), with the secondary indexes dropped during the load and rebuilt after it,
as the environment notes recommend.  Then every report gets its totals as the store sets them,
and sql/rollup_rebuild.sql (the SQL spelling of what the store folds in C as it ingests) builds
the rollups.  Each phase's time is printed.
"""
import argparse
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SQL = os.path.join(HERE, "..", "..", "sql")
DAY = 86400
END = 1793577600  # 2026-11-02 00:00 UTC: the reports end with 2026-11-01
ORGS = ["google.com", "Outlook.com", "Yahoo", "Mail.Ru", "comcast.net", "Enterprise Outlook",
        "AOL", "GMX", "WEB.DE", "Fastmail", "Proton AG", "zoho.com", "Apple Inc.", "Mimecast",
        "Cisco Systems, Inc.", "Orange", "Yandex", "Seznam.cz", "t-online.de", "Example Mail Co"]

INDEXES = {  # dropped for the load, rebuilt after it (name -> definition)
    "record_source_ip": "CREATE INDEX record_source_ip ON record (source_ip, header_from, report, "
                        "disposition, dkim, spf)",
    "record_header_from": "CREATE INDEX record_header_from ON record (header_from)",
    "reason_record": "CREATE INDEX reason_record ON reason (record)",
}


def schema(con):
    for s in ("schema.sql", "views.sql"):  # as the store creates a database; sets user_version
        con.executescript(open(os.path.join(SQL, s)).read())


def phase(name, t0):
    print(f"{name:<34} {time.time() - t0:7.1f} s", flush=True)
    return time.time()


def load(con, records, per_report, days):
    n_reports = records // per_report
    start = END - days * DAY  # the first day: every --days ends with the same day
    t = time.time()
    con.execute("BEGIN")
    for name in INDEXES:
        con.execute(f"DROP INDEX IF EXISTS {name}")
    con.execute("CREATE TEMP TABLE orgs (i INTEGER PRIMARY KEY, name TEXT)")
    con.executemany("INSERT INTO orgs VALUES (?, ?)", list(enumerate(ORGS)))
    # Report i: reporter i % 20, day (i / 20) % days.
    con.execute(f"""
        INSERT INTO report (id, org_name, email, report_id, "begin", "end", schema, domain,
            adkim, aspf, p, sp, pct, record_count, message_count, stored_at)
        WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n_reports - 1})
        SELECT i + 1, (SELECT name FROM orgs WHERE orgs.i = s.i % 20), 'dmarc@example.net',
            'bench-' || i, {start} + ((i / 20) % {days}) * {DAY},
            {start} + ((i / 20) % {days}) * {DAY} + {DAY - 1}, 'rfc7489', 'example.com',
            'r', 'r', 'reject', 'reject', 100, 0, 0, 0
        FROM s""")
    t = phase(f"reports ({n_reports:,})", t)
    # Record k of report i.  kind: 0-84 own servers (pass), 85-92 ESP, 93-95 softfail,
    # 96-97 forwarded, 98-99 DKIM failure.  IPs: own servers from the first 2,000 of the
    # pool, others from the rest.
    con.execute(f"""
        INSERT INTO record (id, report, source_ip, count, disposition, dkim, spf, header_from,
            envelope_from, envelope_to)
        WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {records - 1})
        SELECT n + 1, n / {per_report} + 1,
            '198.' || (18 + ip / 65536) || '.' || (ip / 256 % 256) || '.' || (ip % 256),
            1 + (n * 7919) % 40,
            CASE WHEN kind = 84 THEN 'reject'
                 WHEN kind < 85 OR kind >= 96 AND kind < 98 THEN 'none'
                 WHEN kind % 2 = 0 THEN 'reject' ELSE 'quarantine' END,
            CASE WHEN kind < 85 THEN 'pass' ELSE 'fail' END,
            CASE WHEN kind < 80 THEN 'pass' ELSE 'fail' END,
            CASE WHEN kind < 85 THEN 'example.com' ELSE 'customer' || (n % 10) || '.example' END,
            CASE WHEN kind >= 85 AND kind < 93 THEN 'bmsend.example.net'
                 WHEN kind < 85 THEN 'example.com'
                 ELSE 'customer' || (n % 10) || '.example' END,
            NULL
        FROM (SELECT n, (n * 2654435761) % 100 AS kind,
                     CASE WHEN (n * 2654435761) % 100 < 85 THEN (n * 40503) % 2000
                          ELSE 2000 + (n * 40503) % 18000 END AS ip FROM s)""")
    t = phase(f"records ({records:,})", t)
    # One DKIM and one SPF result per record, packed into its row as the store writes them
    # (schema.sql: dkim_results).
    con.execute("""
        UPDATE record SET
            dkim_results = json_array(json_array(
                CASE WHEN envelope_from = 'bmsend.example.net' THEN 'esp-mail.example.net'
                     ELSE header_from END,
                's1', CASE WHEN dkim = 'pass' OR envelope_from = 'bmsend.example.net' THEN 'pass'
                           ELSE 'fail' END, NULL)),
            spf_results = json_array(json_array(envelope_from, 'mfrom',
                CASE WHEN spf = 'pass' OR envelope_from = 'bmsend.example.net' OR dkim = 'pass'
                     THEN 'pass' ELSE 'softfail' END, NULL))""")
    t = phase("auth results", t)
    con.execute("""
        INSERT INTO reason (record, type, comment)
        SELECT id, 'forwarded', '' FROM record WHERE disposition = 'none' AND dkim = 'fail'""")
    t = phase("reasons", t)
    for name, ddl in INDEXES.items():
        con.execute(ddl)
    t = phase("indexes", t)
    con.execute("COMMIT")
    con.execute("BEGIN")
    # The totals the store sets at each report's end, then the rollups it folds as it goes
    # (rollup_rebuild.sql also sets each report's first_record and last_record).
    con.execute("""
        UPDATE report SET record_count = g.n, message_count = g.m
        FROM (SELECT report, count(*) AS n, sum(count) AS m FROM record GROUP BY report) g
        WHERE g.report = report.id""")
    con.execute("COMMIT")
    con.executescript("BEGIN;" + open(os.path.join(SQL, "rollup_rebuild.sql")).read() + "COMMIT;")
    t = phase("rollups (rollup_rebuild.sql)", t)
    con.execute("ANALYZE")
    phase("analyze", t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--per-report", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("out")
    a = ap.parse_args()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(a.out + suffix):
            os.remove(a.out + suffix)
    t0 = time.time()
    con = sqlite3.connect(a.out, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -262144")
    con.execute("PRAGMA temp_store = MEMORY")
    schema(con)
    load(con, a.records, a.per_report, a.days)
    con.close()
    print(f"{'total':<34} {time.time() - t0:7.1f} s, {os.path.getsize(a.out) / 1e6:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
