#!/usr/bin/env python3
"""hosts.py - fills (or empties) the host table of a gen.py database, as `dmarcstat enrich`
would after looking up every source IP, so run.py can time the reports with the enrichment
joined.

    python3 bench/report/hosts.py bench/out/r10m.db          # every source IP gets a row
    python3 bench/report/hosts.py --clear bench/out/r10m.db  # no host rows (never enriched)

Rows, by the IP's last octet: a fifth an ESP (Benchmark Email, confirmed PTR), a fifth a list
host, a fifth a forwarder, a fifth a PTR name of no known service, a fifth no PTR at all; every
row has an ASN and a country, as with an MMDB file.  Generated in SQL, one transaction.
"""
import sqlite3
import sys
import time

FILL = """
INSERT OR REPLACE INTO host (ip, ptr, confirmed, base_domain, service, kind, asn, as_org,
                             country, checked_at, error)
SELECT ip,
       CASE k WHEN 4 THEN NULL ELSE 'h' || replace(ip, '.', '-') ||
            CASE k WHEN 0 THEN '.bmsend.com' WHEN 1 THEN '.lists.example.org'
                   WHEN 2 THEN '.fwd.example.net' ELSE '.example.com' END END,
       CASE k WHEN 4 THEN NULL ELSE 1 END,
       CASE k WHEN 0 THEN 'bmsend.com' WHEN 1 THEN 'example.org' WHEN 2 THEN 'example.net'
              WHEN 3 THEN 'example.com' END,
       CASE k WHEN 0 THEN 'Benchmark Email' WHEN 1 THEN 'Example Lists'
              WHEN 2 THEN 'Example Forwarding' END,
       CASE k WHEN 0 THEN 'esp' WHEN 1 THEN 'list' WHEN 2 THEN 'forwarder' END,
       64500 + k, 'Bench Net ' || k, 'JP', strftime('%s', 'now'), NULL
FROM (SELECT source_ip AS ip,
             CAST(substr(source_ip, length(rtrim(source_ip, '0123456789')) + 1) AS INTEGER) % 5
             AS k
      FROM (SELECT DISTINCT source_ip FROM record WHERE source_ip IS NOT NULL))
"""


def main():
    clear = "--clear" in sys.argv[1:]
    db = [a for a in sys.argv[1:] if a != "--clear"][0]
    con = sqlite3.connect(db)
    t = time.perf_counter()
    with con:
        con.execute("DELETE FROM host")
        if not clear:
            con.execute(FILL)
    n = con.execute("SELECT count(*) FROM host").fetchone()[0]
    print(f"host rows: {n} ({time.perf_counter() - t:.1f} s)")
    con.close()


if __name__ == "__main__":
    main()
