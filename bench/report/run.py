#!/usr/bin/env python3
"""run.py - times `dmarcstat report` and `dmarcstat explain` over a database made by gen.py.

    DMARCSTAT=build/cli/dmarcstat python3 bench/report/run.py bench/out/r10m.db [RUNS]

Each command runs RUNS times (default 5) after one warm-up run; the table shows the median and
the worst wall time, the smallest CPU time (user + sys: the machine may be shared) and the
largest resident memory.  The goal (issue 5): every command under 1 second over 10,000,000 records.
The period is the last week of gen.py's year (2026-10-25 to 2026-10-31).
"""
import os
import resource
import statistics
import subprocess
import sys
import time

DMARCSTAT = os.environ.get("DMARCSTAT", "build/cli/dmarcstat")
PERIOD = ["--from", "2026-10-25", "--to", "2026-11-01"]
COMMANDS = [
    ("report text (7 days)", ["report"] + PERIOD),
    ("report json (7 days)", ["report", "--format", "json"] + PERIOD),
    ("report html (7 days)", ["report", "--format", "html"] + PERIOD),
    ("report csv sources (7 days)", ["report", "--format", "csv", "--table", "sources"] + PERIOD),
    ("report --reporter Yahoo", ["report", "--reporter", "Yahoo"] + PERIOD),
    ("report --by-domain (7 days)", ["report", "--by-domain"] + PERIOD),
    ("report --by service (7 days)", ["report", "--by", "service"] + PERIOD),
    ("report --last 30d", ["report", "--last", "30d", "--now", "2026-11-01"]),
    ("explain --ip (one address)", ["explain", "--ip", "198.18.3.7"] + PERIOD),
    ("explain --ip /24 --reporter", ["explain", "--ip", "198.18.5.0/24", "--reporter",
                                     "Microsoft"] + PERIOD),
    ("explain --ip /15 (every source)", ["explain", "--ip", "198.18.0.0/15"] + PERIOD),
    ("explain --ip /24 --letter", ["explain", "--ip", "198.18.5.0/24", "--letter"] + PERIOD),
    # Long periods (issue 11: under 2 s and 64 MiB): the year before 2026-11-02, and every
    # report stored (three years of gen.py --days 1096).
    ("report (1 year)", ["report", "--from", "2025-11-02", "--to", "2026-11-02"]),
    ("report --all", ["report", "--all"]),
]
LIMIT = 1.0
LONG_LIMIT = 2.0
LONG = {"report (1 year)", "report --all"}
LONG_RSS_MB = 64


def main():
    db = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    over = []
    print(f"{'command':<34} {'median':>8} {'worst':>8} {'CPU':>8} {'RSS':>8} {'output':>10} limit")
    for name, args in COMMANDS:
        times, cpus, rss = [], [], 0
        size = 0
        for i in range(runs + 1):
            t = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            p = subprocess.run([DMARCSTAT] + args + ["--db", db], capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            dt = time.perf_counter() - t
            if p.returncode != 0:
                print(f"{name}: exit {p.returncode}: {p.stderr.decode()}")
                return 1
            size = len(p.stdout)
            if i > 0:
                times.append(dt)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                # RUSAGE_CHILDREN keeps the largest child so far: the long periods come last.
                rss = max(rss, after.ru_maxrss)
        limit = LONG_LIMIT if name in LONG else LIMIT
        ok = max(times) < limit and (name not in LONG or rss // 1024 < LONG_RSS_MB)
        if not ok:
            over.append(name)
        print(f"{name:<34} {statistics.median(times):7.3f}s {max(times):7.3f}s "
              f"{min(cpus):7.3f}s {rss // 1024:>6}MB {size:>9,}B {limit:.0f} s "
              f"{'ok' if ok else 'OVER'}")
    print("over their limit: " + (", ".join(over) if over else "none"))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
