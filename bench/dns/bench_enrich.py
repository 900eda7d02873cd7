#!/usr/bin/env python3
"""bench_enrich.py - `dmarcstat enrich` of 10,000 distinct source IPs against a local DNS server.

    DMARCSTAT=build/cli/dmarcstat python3 bench/dns/bench_enrich.py [N] [CONCURRENCY...]

Stores one report with N records (default 10,000), each from its own IP in 198.18.0.0/15
(RFC 2544's benchmark range), starts dnsmasq on loopback (tests/dns/dnstest.py) answering a PTR
name for every IP and an A record for that name (synth-domain: each IP is forward-confirmed, two
queries per IP), and times `enrich --all` at each concurrency given (default: the default, 64).
The goal (issue 12): 10,000 IPs within 10 seconds.  Exit status 1 when a run misses it or leaves
IPs out.

synth-domain, not 10,000 lines of addn-hosts: dnsmasq searches its hosts for a PTR by a linear
scan, which cost it 4-6 CPU seconds for the 10,000 PTR queries; synth-domain answers both
directions by arithmetic (0.3 CPU seconds), so the figure measures dmarcstat, not dnsmasq.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "dns"))
import dnstest  # noqa: E402

DMARCSTAT = os.environ.get("DMARCSTAT", "build/cli/dmarcstat")
GOAL_S = 10.0


def ip(i):
    return f"198.18.{i // 250}.{i % 250 + 1}"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    levels = sys.argv[2:] or [None]
    now = int(time.time())
    with tempfile.TemporaryDirectory() as t:
        records = [{"ip": ip(i), "count": 1, "header_from": "example.com",
                    "spf": [("example.com", "pass")], "spf_eval": "pass"} for i in range(n)]
        xml = os.path.join(t, "r.xml")
        with open(xml, "w") as f:
            f.write(dnstest.report("google.com", "bench", "example.com", now - 86400, now,
                                   records))
        db = os.path.join(t, "b.db")
        subprocess.run([DMARCSTAT, "ingest", "--quiet", "--db", db, xml], check=True)
        failed = 0
        with dnstest.DnsServer(["synth-domain=bench.test,198.18.0.0/15,h-"]) as dns:
            print(f"{'concurrency':>11} {'seconds':>8} {'IPs/s':>8} {'looked up':>10} "
                  f"{'confirmed':>10} {'left':>6}")
            for level in levels:
                args = [DMARCSTAT, "enrich", "--all", "--json", "--db", db, "--resolver",
                        dns.resolver]
                if level:
                    args += ["--concurrency", level]
                t0 = time.monotonic()
                res = subprocess.run(args, capture_output=True, text=True)
                took = time.monotonic() - t0
                s = json.loads(res.stdout)
                print(f"{level or 'default':>11} {took:8.2f} {n / took:8.0f} "
                      f"{s['looked_up']:>10} {s['confirmed']:>10} {s['left']:>6}")
                if took > GOAL_S or s["looked_up"] != n or s["confirmed"] != n:
                    failed += 1
        con = sqlite3.connect(db)
        rows = con.execute("SELECT count(*), count(ptr), sum(confirmed) FROM host").fetchone()
        con.close()
        print(f"host table: {rows[0]} rows, {rows[1]} with a PTR name, {rows[2]} confirmed")
    print(f"goal: {n} IPs within {GOAL_S:.0f} s: {'met' if not failed else 'MISSED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
